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

/** A KPI's trend: the period's values, the comparison (dashed) and targets (dotted) when there are any. */
export function KpiTrend({ kpi, res, view, height }: { kpi: KpiResult; res: KpiResponse; view: View; height?: number }) {
	const { labels, series } = useMemo(() => {
		const s: ChartSeries[] = [{ label: kpi.name, values: kpi.series.map((p) => p.value) }];
		if (res.compare) s.push({ label: `${kpi.name}, ${compareLabel(view)}`, values: kpi.series.map((p) => p.compare ?? null), style: "dash", color: 1 });
		if (kpi.series.some((p) => p.target !== undefined)) s.push({ label: "Target", values: kpi.series.map((p) => p.target ?? null), style: "dot", color: 2 });
		return { labels: kpi.series.map((p) => p.period), series: s };
	}, [kpi, res]);
	return (
		<Chart
			id={kpi.id}
			title={`${kpi.name} by ${res.grain}`}
			labels={labels}
			detail={(i) => (kpi.series[i] ? periodDetail(kpi.series[i]) : "")}
			series={series}
			unit={kpi.unit}
			currency={res.currency}
			filename={`${kpi.id}_${res.from}_${res.to}_${res.grain}.csv`}
			height={height}
		/>
	);
}
