/**
 * The monthly financial report: revenue, net revenue, COGS, gross profit and margin, refunds, marketing
 * spend, CAC, ROAS, MRR and ARR — each a KPI of the catalogue, against the previous month and any target.
 * Cash flow is not a KPI (payments, payouts and supplier bills are not recorded): left out, with the reason.
 */
import { KPI_BY_ID } from "../metrics/catalog";
import { changeText, fmt, kpiMetric, kpiQuery, kpiTargets, metricsTable, type BuildContext, type Built } from "./build";
import { previousPeriod } from "./period";
import type { ReportSection, ReportTable } from "./types";

export const FINANCIAL_REPORT_KPIS = ["revenue", "net_revenue", "cogs", "gross_profit", "gross_margin", "refunds", "marketing_spend", "new_customers", "cac", "roas", "mrr", "arr"];

export async function buildFinancial(ctx: BuildContext): Promise<Built> {
	const { period: p, site } = ctx;
	const cur = site.currency;
	const prev = previousPeriod(p);
	const [main, targets, daily] = await Promise.all([
		kpiQuery(ctx, FINANCIAL_REPORT_KPIS, p.from, p.to, "month", { compare: "previous" }),
		kpiTargets(ctx, FINANCIAL_REPORT_KPIS, p.label),
		kpiQuery(ctx, ["revenue", "net_revenue", "refunds"], p.from, p.to, "day"),
	]);
	const metrics = FINANCIAL_REPORT_KPIS.map((id) => {
		const m = kpiMetric(main.get(id), id, targets.get(id));
		if (m.value === null) m.note = `null for ${p.label}: ${KPI_BY_ID.get(id)?.formula ?? id} is undefined (${id === "cac" ? "no new customers" : id === "roas" ? "no marketing spend recorded" : id === "gross_margin" ? "no sales with a known unit cost" : "no data"})`;
		return m;
	});
	const sections: ReportSection[] = [];
	const tables: ReportTable[] = [];
	const text = metrics
		.filter((m) => ["revenue", "net_revenue", "gross_profit", "marketing_spend"].includes(m.id))
		.map((m) => `${m.label}: ${fmt(m.value, m.unit, cur)}${changeText(m.delta_pct, prev.label)}.`);
	for (const m of metrics) if (m.value === null && m.note) text.push(`${m.label}: ${m.note}.`);
	sections.push({
		id: "financial",
		title: `Financial statement ${p.label}`,
		text,
		metrics,
		chart: { title: `Revenue by day (${cur})`, unit: "currency", kind: "bars", points: (daily.get("revenue")?.series ?? []).map((s) => ({ label: s.period.slice(8), value: s.value })) },
		tables: ["financial", "daily"],
	});
	tables.push(metricsTable("financial", "Financial KPIs", metrics, `Previous month (${prev.label})`));
	const nr = daily.get("net_revenue")?.series ?? [];
	const rf = daily.get("refunds")?.series ?? [];
	tables.push({
		name: "daily",
		title: "By day",
		columns: [
			{ key: "day", label: "Day", unit: "text" },
			{ key: "revenue", label: "Revenue", unit: "currency" },
			{ key: "net_revenue", label: "Net revenue", unit: "currency" },
			{ key: "refunds", label: "Refunds", unit: "currency" },
		],
		rows: (daily.get("revenue")?.series ?? []).map((s, i) => ({ day: s.period, revenue: s.value, net_revenue: nr[i]?.value ?? null, refunds: rf[i]?.value ?? null })),
	});
	ctx.omitted.push({ section: "Cash flow", reason: "no cash-flow KPI in the catalogue: payments received, payouts and supplier bills are not recorded" });
	return { title: `Financial report ${p.label} — ${site.name}`, sections, tables };
}
