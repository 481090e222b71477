/** KPI charts and labels shared by the pages. */
import { useMemo } from "preact/hooks";
import type { KpiResponse, KpiResult } from "./api";
import { Chart, type ChartSeries } from "./chart";
import type { View } from "./state";

export function compareLabel(view: View): string {
	return view.compare === "yoy" ? "last year" : "previous period";
}

/** "2026-W48 (2026-11-23 – 2026-11-29)" for periods longer than a day. */
export function periodDetail(p: { period: string; from: string; to: string }): string {
	return p.from === p.to ? p.period : `${p.period} (${p.from} – ${p.to})`;
}

/** A forecast to draw past the KPI's series (GET /forecast's answer, same grain): periods after `after`, the last complete one. */
export interface TrendForecast {
	after: string;
	points: { period: string; mean: number; lower80: number; upper80: number; lower95: number; upper95: number }[];
}

/**
 * A KPI's trend: the period's values, the comparison (dashed) and targets (dotted) when there are any;
 * with `forecast`, the forecast line and its 95% and 80% bands (shaded) continuing from the last complete
 * period, past the range's end when the forecast reaches further.
 */
export function KpiTrend({ kpi, res, view, height, forecast }: { kpi: KpiResult; res: KpiResponse; view: View; height?: number; forecast?: TrendForecast | null }) {
	const { labels, series, bands, attrs } = useMemo(() => {
		const labels = kpi.series.map((p) => p.period);
		// Periods in progress are drawn "so far": the solid line stops at the last complete period and a dashed
		// segment of the same colour continues from it, so today's few hours never read as a fall to zero.
		const firstPartial = kpi.series.findIndex((p) => p.partial);
		const s: ChartSeries[] = [{ label: kpi.name, values: kpi.series.map((p, i) => (firstPartial >= 0 && i >= firstPartial ? null : p.value)), color: 0 }];
		if (firstPartial >= 0) s.push({ label: `${kpi.name}, so far`, values: kpi.series.map((p, i) => (i >= firstPartial - 1 ? p.value : null)), style: "dash", color: 0 });
		const partialAttrs: Record<`data-${string}`, string> =
			firstPartial >= 0
				? { "data-partial-index": String(firstPartial), "data-partial-period": kpi.series[firstPartial]?.period ?? "", "data-partial-elapsed": String(kpi.series[firstPartial]?.elapsed ?? "") }
				: {};
		if (res.compare) s.push({ label: `${kpi.name}, ${compareLabel(view)}`, values: kpi.series.map((p) => p.compare ?? null), style: "dash", color: 1 });
		if (kpi.series.some((p) => p.target !== undefined)) s.push({ label: "Target", values: kpi.series.map((p) => p.target ?? null), style: "dot", color: 2 });
		const anchor = forecast ? labels.indexOf(forecast.after) : -1;
		if (!forecast || anchor < 0) return { labels, series: s, bands: undefined, attrs: firstPartial >= 0 ? partialAttrs : undefined };
		// Periods the range does not reach are appended; the others (the period in progress) are overlaid.
		for (const p of forecast.points) if (!labels.includes(p.period)) labels.push(p.period);
		const pad = (v: (number | null)[]) => [...v, ...new Array<null>(labels.length - v.length).fill(null)];
		for (const x of s) x.values = pad(x.values);
		const at = labels.map((l) => forecast.points.find((p) => p.period === l));
		// The lines start at the last complete period's actual value so the forecast continues the trend.
		const start = kpi.series[anchor]?.value ?? null;
		const line = (key: "mean" | "lower80" | "upper80" | "lower95" | "upper95") => labels.map((_, i) => (i === anchor ? start : (at[i]?.[key] ?? null)));
		const first = s.length;
		s.push(
			{ label: "Forecast", values: line("mean"), color: 3 },
			{ label: "Forecast 95% low", values: line("lower95"), style: "band", color: 3 },
			{ label: "Forecast 95% high", values: line("upper95"), style: "band", color: 3 },
			{ label: "Forecast 80% low", values: line("lower80"), style: "band", color: 3 },
			{ label: "Forecast 80% high", values: line("upper80"), style: "band", color: 3 },
		);
		// What is plotted, for the caption's readers and the browser test: the forecast points' values as drawn.
		const idx = forecast.points.map((p) => labels.indexOf(p.period));
		const drawn = (k: number) => idx.map((i) => String(s[first + k]?.values[i] ?? "")).join(",");
		const attrs = {
			...partialAttrs,
			"data-forecast-periods": idx.map((i) => labels[i]).join(","),
			"data-forecast-mean": drawn(0),
			"data-forecast-lower95": drawn(1),
			"data-forecast-upper95": drawn(2),
			"data-forecast-lower80": drawn(3),
			"data-forecast-upper80": drawn(4),
		} as const;
		return { labels, series: s, bands: [{ upper: first + 2, lower: first + 1, opacity: 0.14 }, { upper: first + 4, lower: first + 3, opacity: 0.24 }], attrs };
	}, [kpi, res, forecast]);
	return (
		<Chart
			id={kpi.id}
			title={`${kpi.name} by ${res.grain}`}
			labels={labels}
			detail={(i) => (kpi.series[i] ? `${periodDetail(kpi.series[i])}${kpi.series[i].partial ? ` — so far (${Math.round((kpi.series[i].elapsed ?? 0) * 100)}%)` : ""}` : `${labels[i] ?? ""} (forecast)`)}
			series={series}
			unit={kpi.unit}
			currency={res.currency}
			filename={`${kpi.id}_${res.from}_${res.to}_${res.grain}.csv`}
			height={height}
			bands={bands}
			attrs={attrs}
		/>
	);
}
