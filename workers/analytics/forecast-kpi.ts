/**
 * Forecasts of any KPI series (issue 12 item 3): the KPI engine gives the series of whole periods up to the
 * last complete one, forecast.ts fits the candidates of the grain, a rolling-origin backtest chooses the
 * model (MASE), and the chosen model forecasts `horizon` periods with 80 % and 95 % intervals. Used by
 * `GET /api/v1/forecast` (on demand) and by the nightly run (revenue by month and by day, registered).
 */
import { addDays, addMonths, bucketLabel, bucketStart, localDay, type Grain } from "../metrics/calendar";
import { runKpiQuery, type QuerySite } from "../metrics/query";
import { chooseModel, fitAndForecast, minimumHistory, modelLabel, type BacktestResult, type ForecastModel } from "./forecast";

export type ForecastGrain = "day" | "week" | "month";

/** Candidates per grain: the architecture document's SARIMA(1,1,1)(1,1,1,12) for months, weekly seasonality for days. */
export const CANDIDATES: Record<ForecastGrain, ForecastModel[]> = {
	month: [
		{ kind: "sarima", order: { p: 1, d: 1, q: 1, P: 1, D: 1, Q: 1, s: 12 } },
		{ kind: "ets", spec: { season: 12, trend: "add", damped: true, seasonal: "add" } },
		{ kind: "ets", spec: { trend: "add", damped: true, seasonal: "none" } },
	],
	week: [
		{ kind: "sarima", order: { p: 1, d: 1, q: 1, P: 0, D: 0, Q: 0, s: 1 } },
		{ kind: "ets", spec: { trend: "add", damped: true, seasonal: "none" } },
	],
	day: [
		{ kind: "sarima", order: { p: 1, d: 0, q: 1, P: 1, D: 1, Q: 1, s: 7 } },
		{ kind: "ets", spec: { season: 7, trend: "add", damped: true, seasonal: "add" } },
	],
};
/** Periods of history read, at most, per grain (older data says little about next month's business). */
const HISTORY: Record<ForecastGrain, number> = { day: 365, week: 156, month: 60 };
/** Backtest origins per grain. */
const ORIGINS: Record<ForecastGrain, number> = { day: 4, week: 4, month: 3 };

export interface KpiForecast {
	metric: string;
	grain: ForecastGrain;
	unit: string;
	history: { period: string; from: string; value: number }[];
	model: { label: string; parameters: Record<string, unknown> };
	backtest: BacktestResult | null;
	candidates: { label: string; mase: number | null; smape: number | null; refused: string | null }[];
	baseline: { label: string; mase: number; smape: number };
	beats_baseline: boolean;
	forecast: { period: string; from: string; mean: number; lower80: number; upper80: number; lower95: number; upper95: number }[];
}

/** The smallest history any candidate of the grain accepts (periods). */
export function shortestHistory(grain: ForecastGrain): number {
	return Math.min(...CANDIDATES[grain].map((m) => minimumHistory(m)));
}

function nextStart(start: string, grain: ForecastGrain): string {
	return grain === "day" ? addDays(start, 1) : grain === "week" ? addDays(start, 7) : addMonths(start, 1);
}

/**
 * The KPI's series of whole periods ending with the last complete one before `now`, trimmed of leading
 * periods before the site's data starts (null values), at most HISTORY periods.
 */
export async function kpiHistory(db: D1Database, site: QuerySite, metric: string, grain: ForecastGrain, now: number): Promise<{ unit: string; history: KpiForecast["history"] }> {
	const today = localDay(now, site.timezone);
	const current = bucketStart(today, grain as Grain);
	const to = addDays(current, -1);
	let from = current;
	for (let i = 0; i < HISTORY[grain]; i++) from = grain === "day" ? addDays(from, -1) : grain === "week" ? addDays(from, -7) : addMonths(from, -1);
	const res = await runKpiQuery(db, site, { ids: [metric], from, to, grain: grain as Grain });
	const kpi = res.kpis[0];
	const series = (kpi?.series ?? []).map((p) => ({ period: p.period, from: p.from, value: p.value }));
	const first = series.findIndex((p) => p.value !== null && p.value !== 0);
	const history = (first < 0 ? [] : series.slice(first)).map((p) => ({ period: p.period, from: p.from, value: p.value ?? 0 }));
	return { unit: kpi?.unit ?? "", history };
}

/** Chooses a model by backtest and forecasts `horizon` periods; RangeError when the history is too short for every candidate. */
export function forecastSeries(metric: string, grain: ForecastGrain, unit: string, history: KpiForecast["history"], horizon: number): KpiForecast {
	const y = history.map((h) => h.value);
	const need = shortestHistory(grain);
	if (y.length < need) throw new RangeError(`needs at least ${need} complete ${grain}s of ${metric} (the shortest any model of this grain accepts); the site has ${y.length}`);
	// Every candidate goes in: one the history is too short for is listed as refused, with the reason.
	const choice = chooseModel(y, CANDIDATES[grain], { origins: ORIGINS[grain] });
	const fitted = fitAndForecast(y, choice.best, horizon);
	let start = history.at(-1)?.from as string;
	const forecast = fitted.mean.map((mean, i) => {
		start = nextStart(start, grain);
		return { period: bucketLabel(start, grain as Grain), from: start, mean, lower80: fitted.lower80[i] as number, upper80: fitted.upper80[i] as number, lower95: fitted.lower95[i] as number, upper95: fitted.upper95[i] as number };
	});
	const chosen = choice.candidates.find((c) => c.label === choice.bestLabel)?.result ?? null;
	return {
		metric,
		grain,
		unit,
		history,
		model: { label: modelLabel(choice.best), parameters: fitted.parameters },
		backtest: chosen,
		candidates: choice.candidates.map((c) => ({ label: c.label, mase: c.result?.mase ?? null, smape: c.result?.smape ?? null, refused: c.refused })),
		baseline: { label: choice.baseline.label, mase: choice.baseline.mase, smape: choice.baseline.smape },
		beats_baseline: choice.beatsBaseline,
		forecast,
	};
}
