/**
 * The daily metrics report (one local day): each KPI against the same weekday a week before and against
 * the mean of the 28 days before, and the alerts that fired that day.
 */
import { addDays } from "../metrics/calendar";
import type { KpiResult } from "../metrics/query";
import { changeText, deltaPct, fmt, kpiMetric, kpiQuery, metricsTable, type BuildContext, type Built } from "./build";
import type { ReportMetric, ReportSection, ReportTable } from "./types";

export const DAILY_KPIS = ["revenue", "orders", "aov", "new_customers", "sessions", "visitors", "conversion_rate", "cart_abandonment", "refunds"];
export const AVERAGE_DAYS = 28;

/**
 * Mean of the daily values over the days the KPI is defined (a rate over zero sessions is skipped, a day
 * without sales is 0 revenue: the alert baseline's rule), rounded to 4 decimals; null without any.
 */
export function dailyMean(k: KpiResult | undefined): number | null {
	const values = (k?.series ?? []).map((s) => s.value).filter((v): v is number => v !== null);
	if (!values.length) return null;
	return Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10_000) / 10_000;
}

export async function buildDaily(ctx: BuildContext): Promise<Built> {
	const { period: p, site } = ctx;
	const cur = site.currency;
	const day = p.from;
	const lastWeek = addDays(day, -7);
	const [today, week, avg, trend] = await Promise.all([
		kpiQuery(ctx, DAILY_KPIS, day, day, "day"),
		kpiQuery(ctx, DAILY_KPIS, lastWeek, lastWeek, "day"),
		kpiQuery(ctx, DAILY_KPIS, addDays(day, -AVERAGE_DAYS), addDays(day, -1), "day"),
		kpiQuery(ctx, ["revenue"], addDays(day, -AVERAGE_DAYS), day, "day"),
	]);
	const metrics: ReportMetric[] = DAILY_KPIS.map((id) => {
		const m = kpiMetric(today.get(id), id);
		const compare = week.get(id)?.total.value ?? null;
		const mean = dailyMean(avg.get(id));
		return { ...m, compare, delta_pct: deltaPct(m.value, compare), compare2: mean, delta2_pct: deltaPct(m.value, mean) };
	});
	const sections: ReportSection[] = [];
	const tables: ReportTable[] = [];
	const weekday = new Date(`${day}T12:00:00Z`).toLocaleString("en-US", { weekday: "long", timeZone: "UTC" });
	const text = metrics
		.filter((m) => ["revenue", "orders", "conversion_rate"].includes(m.id))
		.map((m) => `${m.label}: ${fmt(m.value, m.unit, cur)}${changeText(m.delta_pct, `${weekday} ${lastWeek}`)}${m.delta2_pct === null || m.delta2_pct === undefined ? "" : `, ${m.delta2_pct >= 0 ? "+" : "−"}${Math.abs(m.delta2_pct).toFixed(1)}% vs the ${AVERAGE_DAYS}-day average`}.`);
	sections.push({
		id: "metrics",
		title: `${weekday} ${day}`,
		text,
		metrics,
		chart: { title: `Revenue, the ${AVERAGE_DAYS} days before and ${day} (${cur})`, unit: "currency", kind: "bars", points: (trend.get("revenue")?.series ?? []).map((s) => ({ label: s.period, value: s.value })) },
		tables: ["metrics"],
	});
	tables.push(metricsTable("metrics", "Metrics", metrics, `Same weekday last week (${lastWeek})`));

	// Alerts that fired (opened) during the local day, whatever their state now.
	const fired = await ctx.env.DB.prepare(
		"SELECT rule_name, metric, severity, label, opened_value, baseline, limit_value, period, state, started_at, resolved_at FROM alerts WHERE site = ? AND started_at >= ? AND started_at < ? ORDER BY started_at, id",
	)
		.bind(site.id, p.start, p.end)
		.all<{ rule_name: string; metric: string; severity: string; label: string | null; opened_value: number | null; baseline: number | null; limit_value: number | null; period: string; state: string; started_at: number; resolved_at: number | null }>();
	sections.push({
		id: "alerts",
		title: "Alerts fired",
		text: [fired.results.length ? `${fired.results.length} alert${fired.results.length === 1 ? "" : "s"} fired on ${day}.` : `No alert fired on ${day}.`],
		metrics: [{ id: "alerts_fired", label: "Alerts fired", unit: "count", value: fired.results.length }],
		tables: ["alerts"],
	});
	tables.push({
		name: "alerts",
		title: "Alerts fired",
		columns: [
			{ key: "started_at", label: "Opened (UTC)", unit: "text" },
			{ key: "rule", label: "Rule", unit: "text" },
			{ key: "severity", label: "Severity", unit: "text" },
			{ key: "subject", label: "Subject", unit: "text" },
			{ key: "value", label: "Value", unit: "number" },
			{ key: "limit", label: "Limit", unit: "number" },
			{ key: "state", label: "State now", unit: "text" },
		],
		rows: fired.results.map((a) => ({ started_at: new Date(a.started_at).toISOString(), rule: a.rule_name, severity: a.severity, subject: a.label ?? a.metric, value: a.opened_value, limit: a.limit_value, state: a.state })),
	});
	return { title: `Daily metrics ${day} — ${site.name}`, sections, tables };
}
