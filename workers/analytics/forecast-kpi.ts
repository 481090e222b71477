/**
 * Forecasts of any KPI series (issue 12 item 3): the KPI engine gives the series of whole periods up to the
 * last complete one, forecast.ts fits the candidates of the grain, a rolling-origin backtest chooses the
 * model (MASE), and the chosen model forecasts `horizon` periods with 80 % and 95 % intervals. Used by
 * `GET /api/v1/forecast` (on demand) and by the nightly run (revenue by month and by day, registered).
 */
import { addDays, addMonths, bucketLabel, bucketStart, daysBetween, localDay, type Grain } from "../metrics/calendar";
import { sha256Hex } from "../lib/http";
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
	/** The sum of the `horizon` forecast periods, its interval from the joint error covariance (not the sum of the periods' intervals). */
	total: ForecastTotal;
}

export interface ForecastTotal {
	periods: number;
	mean: number;
	se: number;
	lower80: number;
	upper80: number;
	lower95: number;
	upper95: number;
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

/** How long a served forecast is kept in the edge cache: its key is the history itself, so it is never stale. */
const FORECAST_CACHE_SECONDS = 86_400;

/**
 * forecastSeries for the APIs, through the edge cache: the same history and horizon give the same fit
 * (the fits are deterministic), so the second to ask for it today gets it without the backtest and fit
 * (a second or two of CPU on a daily series). Refusals (RangeError) are not cached.
 */
export async function servedForecast(metric: string, grain: ForecastGrain, unit: string, history: KpiForecast["history"], horizon: number): Promise<KpiForecast> {
	const key = new Request(`https://forecast-cache.invalid/${await sha256Hex(JSON.stringify({ metric, grain, unit, history, horizon }))}`);
	const hit = await caches.default.match(key);
	if (hit) return (await hit.json()) as KpiForecast;
	const f = forecastSeries(metric, grain, unit, history, horizon);
	await caches.default.put(key, new Response(JSON.stringify(f), { headers: { "Content-Type": "application/json", "Cache-Control": `max-age=${FORECAST_CACHE_SECONDS}` } }));
	return f;
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
	const cum = fitted.cumulative;
	const last = horizon - 1;
	const total: ForecastTotal = {
		periods: horizon,
		mean: cum.mean[last] as number,
		se: cum.se[last] as number,
		lower80: cum.lower80[last] as number,
		upper80: cum.upper80[last] as number,
		lower95: cum.lower95[last] as number,
		upper95: cum.upper95[last] as number,
	};
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
		total,
	};
}

/** Periods a projection covers; both fit in one daily forecast (at most 92 days). */
export type ProjectionPeriod = "month" | "quarter";
/** KPIs whose value over a range is the sum of their daily values, so "actual so far + forecast of the rest" is the period's value. */
export const PROJECTABLE = ["revenue", "net_revenue", "orders", "units_sold"] as const;

export interface PeriodProjection {
	metric: string;
	unit: string;
	period: string;
	from: string;
	to: string;
	/** The site's today: the first forecast day (its own figure is still incomplete). */
	today: string;
	days_done: number;
	days_left: number;
	/** The KPI over the complete days from the period's start to yesterday (0 on the first day). */
	actual_to_date: number;
	/** The daily forecast summed over today … the period's last day. */
	forecast_rest: Omit<ForecastTotal, "periods">;
	/** actual_to_date + forecast_rest: the actual part is known, so it shifts the interval without widening it. */
	projection: Omit<ForecastTotal, "periods">;
	model: KpiForecast["model"];
	backtest: BacktestResult | null;
	baseline: KpiForecast["baseline"];
	beats_baseline: boolean;
}

/**
 * The period's value by its end: the KPI's complete days so far, plus the daily forecast of the days left
 * (today included) with the interval of their sum. RangeError (`needs at least …`) when the daily history is
 * too short for every daily model.
 */
export async function projectPeriod(db: D1Database, site: QuerySite, metric: (typeof PROJECTABLE)[number], period: ProjectionPeriod, now: number): Promise<PeriodProjection> {
	const today = localDay(now, site.timezone);
	const from = bucketStart(today, period);
	const to = addDays(addMonths(from, period === "month" ? 1 : 3), -1);
	const daysDone = daysBetween(from, today);
	const daysLeft = daysBetween(today, to) + 1;
	let actual = 0;
	let unit = "";
	if (daysDone > 0) {
		const res = await runKpiQuery(db, site, { ids: [metric], from, to: addDays(today, -1), grain: period });
		actual = res.kpis[0]?.total.value ?? 0;
		unit = res.kpis[0]?.unit ?? "";
	}
	const h = await kpiHistory(db, site, metric, "day", now);
	const f = await servedForecast(metric, "day", h.unit, h.history, daysLeft);
	const t = f.total;
	const rest = { mean: t.mean, se: t.se, lower80: t.lower80, upper80: t.upper80, lower95: t.lower95, upper95: t.upper95 };
	return {
		metric,
		unit: unit || h.unit,
		period: bucketLabel(from, period),
		from,
		to,
		today,
		days_done: daysDone,
		days_left: daysLeft,
		actual_to_date: actual,
		forecast_rest: rest,
		projection: {
			mean: actual + rest.mean,
			se: rest.se,
			lower80: actual + rest.lower80,
			upper80: actual + rest.upper80,
			lower95: actual + rest.lower95,
			upper95: actual + rest.upper95,
		},
		model: f.model,
		backtest: f.backtest,
		baseline: f.baseline,
		beats_baseline: f.beats_baseline,
	};
}
