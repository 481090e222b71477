/**
 * The executive report (week, month or quarter): summary with growth and target progress, achievements
 * and action items (rules.ts), financial highlights, operational metrics, market insights (channel and
 * category movers, basket and seasonal findings) and revenue forecasts with 80/95 % intervals.
 */
import { forecastSeries, kpiHistory, type ForecastGrain } from "../analytics/forecast-kpi";
import { addDays } from "../metrics/calendar";
import type { KpiResult } from "../metrics/query";
import { apiGet, changeText, fmt, kpiMetric, kpiQuery, kpiTargets, metricsTable, noRunReason, runOnOrBefore, type BuildContext, type Built } from "./build";
import { previousPeriod } from "./period";
import { evaluateRules, THRESHOLDS, type RuleInput } from "./rules";
import type { ReportMetric, ReportSection, ReportTable } from "./types";

export const SUMMARY_KPIS = ["revenue", "orders", "aov", "new_customers", "active_customers"];
export const FINANCIAL_KPIS = ["net_revenue", "gross_profit", "gross_margin", "refunds", "marketing_spend", "roas", "cac"];
export const OPERATIONAL_KPIS = ["sessions", "conversion_rate", "cart_abandonment", "fulfilment_hours", "shipping_accuracy", "return_rate", "stockout_rate", "tickets_opened", "ticket_resolution_hours"];
/** Extra KPIs the rules read. */
const RULE_KPIS = ["conversion_rate", "refunds"];

type Movers = { name: string; title: string; rows: { key: string; value: number | null; compare: number | null; change: number | null; change_pct: number | null }[] };

/** Per group of a breakdown: the period's total against the previous period's, largest absolute change first. */
function movers(k: KpiResult | undefined): Movers["rows"] {
	return (k?.groups ?? [])
		.map((g) => {
			const value = g.total.value ?? null;
			const compare = g.total.compare ?? null;
			const change = value === null || compare === null ? null : Math.round((value - compare) * 100) / 100;
			return { key: g.key, value, compare, change, change_pct: g.total.delta_pct ?? null };
		})
		.sort((a, b) => Math.abs(b.change ?? 0) - Math.abs(a.change ?? 0) || a.key.localeCompare(b.key));
}

const moversTable = (name: string, title: string, keyLabel: string, rows: Movers["rows"]): ReportTable => ({
	name,
	title,
	columns: [
		{ key: "key", label: keyLabel, unit: "text" },
		{ key: "value", label: "Revenue", unit: "currency" },
		{ key: "compare", label: "Previous period", unit: "currency" },
		{ key: "change", label: "Change", unit: "currency" },
		{ key: "change_pct", label: "Change %", unit: "percent" },
	],
	rows,
});

export async function buildExecutive(ctx: BuildContext): Promise<Built> {
	const { period: p, site } = ctx;
	const prev = previousPeriod(p);
	const cur = site.currency;
	const ids = [...new Set([...SUMMARY_KPIS, ...FINANCIAL_KPIS, ...OPERATIONAL_KPIS, ...RULE_KPIS])];
	const grain = p.grain === "quarter" ? "week" : "day";
	const [main, targets, series, byChannel, byCategory] = await Promise.all([
		kpiQuery(ctx, ids, p.from, p.to, p.grain, { compare: "previous" }),
		kpiTargets(ctx, ids, p.label),
		kpiQuery(ctx, ["revenue"], p.from, p.to, grain),
		kpiQuery(ctx, ["revenue"], p.from, p.to, p.grain, { compare: "previous", by: "channel" }),
		kpiQuery(ctx, ["product_revenue"], p.from, p.to, p.grain, { compare: "previous", by: "category" }),
	]);
	const metric = (id: string) => kpiMetric(main.get(id), id, targets.get(id));
	const sections: ReportSection[] = [];
	const tables: ReportTable[] = [];
	const ended = ctx.now >= p.end;

	// ── summary ──
	const summary = SUMMARY_KPIS.map(metric);
	const revenue = summary[0] as ReportMetric;
	const orders = summary[1] as ReportMetric;
	const text = [
		`Revenue ${fmt(revenue.value, "currency", cur)}${changeText(revenue.delta_pct, prev.label)} from ${fmt(orders.value, "count", cur)} orders${changeText(orders.delta_pct, prev.label)}.`,
		`${fmt(main.get("new_customers")?.total.value, "count", cur)} new customers; ${fmt(main.get("active_customers")?.total.value, "count", cur)} customers were active (an order in the 90 days) when the period began.`,
		...[...targets.keys()].map((id) => {
			const m = metric(id);
			return `${m.label}: ${fmt(m.progress, "percent", cur)} of the ${fmt(m.target, m.unit, cur)} target.`;
		}),
	];
	if (!ended) text.push(`The period is not over: figures run to ${new Date(ctx.now).toISOString().slice(0, 16).replace("T", " ")} UTC.`);
	tables.push({
		name: "revenue_series",
		title: `Revenue by ${grain}`,
		columns: [
			{ key: "period", label: grain === "day" ? "Day" : "Week", unit: "text" },
			{ key: "revenue", label: "Revenue", unit: "currency" },
		],
		rows: (series.get("revenue")?.series ?? []).map((s) => ({ period: s.period, revenue: s.value })),
	});
	const targetMetrics = [...targets.keys()].filter((id) => !SUMMARY_KPIS.includes(id)).map(metric);
	sections.push({
		id: "summary",
		title: "Summary",
		text,
		metrics: [...summary, ...targetMetrics],
		chart: { title: `Revenue by ${grain} (${cur})`, unit: "currency", kind: "bars", points: (series.get("revenue")?.series ?? []).map((s) => ({ label: s.period, value: s.value })) },
		tables: ["summary", "revenue_series"],
	});
	tables.unshift(metricsTable("summary", "Summary", [...summary, ...targetMetrics], `Previous period (${prev.label})`));

	// ── achievements and action items ──
	const change = (id: string) => ({ value: main.get(id)?.total.value ?? null, compare: main.get(id)?.total.compare ?? null });
	const [runNow, runPrev] = await Promise.all([runOnOrBefore(ctx, p.to), runOnOrBefore(ctx, prev.to)]);
	const input: RuleInput = {
		site: site.id,
		currency: cur,
		previousLabel: prev.label,
		kpis: { revenue: change("revenue"), aov: change("aov"), new_customers: change("new_customers"), conversion_rate: change("conversion_rate"), refunds: change("refunds") },
		targets: [...targets].map(([id, target]) => {
			const m = metric(id);
			return { id, name: m.label, unit: m.unit, value: m.value, target, progress: m.progress ?? null };
		}),
		periodEnded: ended,
		atRisk: null,
		churn: null,
		lowStock: null,
	};
	const notes: string[] = [];
	if (runNow) {
		type Seg = { segments: { segment: string; customers: number }[] };
		const [segNow, segPrev, churnAll, churnHigh] = await Promise.all([
			apiGet<Seg>(ctx, "/segments", { as_of: runNow }),
			runPrev && runPrev < runNow ? apiGet<Seg>(ctx, "/segments", { as_of: runPrev }) : Promise.resolve(null),
			apiGet<{ total: number }>(ctx, "/churn", { as_of: runNow, limit: 1 }),
			apiGet<{ total: number }>(ctx, "/churn", { as_of: runNow, limit: 1, min_prob: THRESHOLDS.churnProbability }),
		]);
		const atRisk = (a: typeof segNow | null) => (a?.ok ? (a.body.segments.find((s) => s.segment === "At_Risk")?.customers ?? 0) : null);
		const nowCount = atRisk(segNow);
		const prevCount = atRisk(segPrev);
		if (nowCount !== null && prevCount !== null && runPrev) input.atRisk = { current: nowCount, previous: prevCount, asOf: runNow, previousAsOf: runPrev };
		else notes.push(`Segment growth needs a run at or before ${prev.to} to compare with: none.`);
		if (churnAll.ok && churnHigh.ok) input.churn = { scored: churnAll.body.total, atRisk: churnHigh.body.total, asOf: runNow };
		else notes.push(`Churn risk: ${churnAll.ok ? "" : churnAll.message}${churnHigh.ok ? "" : ` ${churnHigh.message}`}`.trim());
	} else notes.push(`Segment and churn rules: ${noRunReason(p.to)}.`);
	const catalogue = await apiGet<{ products: { sku: string; name: string; stock: number | null; reorder_point: number | null }[] }>(ctx, "/products/performance", { from: p.from, to: p.to, sort: "sku" });
	if (catalogue.ok) {
		input.lowStock = catalogue.body.products
			.filter((r) => r.stock !== null && r.reorder_point !== null && r.stock < r.reorder_point)
			.map((r) => ({ sku: r.sku, name: r.name, stock: r.stock as number, reorderPoint: r.reorder_point as number }));
	}
	const findings = evaluateRules(input);
	sections.push({
		id: "findings",
		title: "Achievements and action items",
		text: [...(findings.length ? [] : ["No rule fired for this period (rules and thresholds: docs/reports/README.md)."]), ...notes],
		metrics: [],
		findings,
		tables: ["findings"],
	});
	tables.push({
		name: "findings",
		title: "Achievements and action items",
		columns: [
			{ key: "kind", label: "Kind", unit: "text" },
			{ key: "rule", label: "Rule", unit: "text" },
			{ key: "text", label: "Finding", unit: "text" },
			{ key: "count", label: "Count", unit: "count" },
			{ key: "link", label: "Link", unit: "text" },
		],
		rows: findings.map((f) => ({ kind: f.kind, rule: f.rule, text: f.text, count: f.count ?? null, link: f.link ?? null })),
	});

	// ── financial highlights, operational metrics ──
	for (const [id, title, list] of [["financial", "Financial highlights", FINANCIAL_KPIS], ["operations", "Operational metrics", OPERATIONAL_KPIS]] as const) {
		const ms = list.map(metric);
		if (ms.every((m) => m.value === null)) {
			ctx.omitted.push({ section: title, reason: `every metric is undefined for ${p.label} (no costed sales, spend, sessions, shipments, stock or tickets)` });
			continue;
		}
		sections.push({
			id,
			title,
			text: ms.filter((m) => m.value !== null).slice(0, 3).map((m) => `${m.label}: ${fmt(m.value, m.unit, cur)}${changeText(m.delta_pct, prev.label)}.`),
			metrics: ms,
			tables: [id],
		});
		tables.push(metricsTable(id, title, ms, `Previous period (${prev.label})`));
	}

	// ── market insights ──
	const channels = movers(byChannel.get("revenue"));
	const categories = movers(byCategory.get("product_revenue"));
	const insight: string[] = [];
	const mover = (rows: Movers["rows"], what: string) => {
		const top = rows.find((r) => r.change !== null && r.change !== 0);
		if (top) insight.push(`Largest ${what} mover: ${top.key}, ${fmt(top.value, "currency", cur)}${changeText(top.change_pct, prev.label)}, ${top.change !== null && top.change > 0 ? "+" : ""}${fmt(top.change, "currency", cur)}.`);
	};
	mover(channels, "channel");
	mover(categories, "category");
	const marketTables: string[] = [];
	if (channels.length) {
		tables.push(moversTable("channels", "Revenue by channel", "Channel", channels));
		marketTables.push("channels");
	}
	if (categories.length) {
		tables.push(moversTable("categories", "Product revenue by category", "Category", categories));
		marketTables.push("categories");
	}
	if (runNow) {
		type Rule = { antecedent: string[]; consequent: string[]; support: number; confidence: number; lift: number };
		const [rules, bundles] = await Promise.all([
			apiGet<{ rules: Rule[] }>(ctx, "/basket/rules", { as_of: runNow, limit: 5 }),
			apiGet<{ bundles: { items: string[]; lift: number; support: number }[]; seasonality: { category: string; index: number[] | null }[] }>(ctx, "/basket/bundles", { as_of: runNow }),
		]);
		if (rules.ok && rules.body.rules.length) {
			const top = rules.body.rules[0] as Rule;
			insight.push(`Strongest basket rule (run of ${runNow}): ${top.antecedent.join(" + ")} ⇒ ${top.consequent.join(" + ")}, lift ${top.lift.toFixed(2)}, confidence ${(100 * top.confidence).toFixed(1)}%.`);
			tables.push({
				name: "basket_rules",
				title: "Top basket rules",
				columns: [
					{ key: "if_bought", label: "If bought", unit: "text" },
					{ key: "then", label: "Also bought", unit: "text" },
					{ key: "support", label: "Support", unit: "probability" },
					{ key: "confidence", label: "Confidence", unit: "probability" },
					{ key: "lift", label: "Lift", unit: "score" },
				],
				rows: rules.body.rules.map((r) => ({ if_bought: r.antecedent.join(" + "), then: r.consequent.join(" + "), support: r.support, confidence: r.confidence, lift: r.lift })),
			});
			marketTables.push("basket_rules");
		}
		if (bundles.ok) {
			// The seasonal finding: categories whose month-of-year index for the month after the period is ≥ 1.2 or ≤ 0.8.
			const next = Number(addDays(p.to, 1).slice(5, 7));
			const nextMonth = new Date(Date.UTC(2000, next - 1, 1)).toLocaleString("en-US", { month: "long", timeZone: "UTC" });
			const seasonal = bundles.body.seasonality.filter((s) => s.index && ((s.index[next - 1] ?? 1) >= 1.2 || (s.index[next - 1] ?? 1) <= 0.8));
			for (const s of seasonal.slice(0, 3)) insight.push(`${s.category}: ${nextMonth} runs at ${(s.index?.[next - 1] ?? 0).toFixed(2)}× a typical month (seasonal index, run of ${runNow}).`);
			const bundle = bundles.body.bundles[0];
			if (bundle) insight.push(`Top bundle: ${bundle.items.join(" + ")}, bought together ${bundle.lift.toFixed(2)}× more often than chance.`);
		}
	} else ctx.omitted.push({ section: "Market insights: basket and seasonal findings", reason: noRunReason(p.to) });
	if (insight.length || marketTables.length) sections.push({ id: "market", title: "Market insights", text: insight, metrics: [], tables: marketTables });
	else ctx.omitted.push({ section: "Market insights", reason: `no sales by channel or category in ${p.label} or ${prev.label}` });

	// ── forecasts ──
	const fGrain: ForecastGrain = p.grain === "week" ? "week" : "month";
	const horizon = p.grain === "week" ? 4 : 3;
	try {
		const asOf = Math.min(ctx.now, p.end);
		const { unit, history } = await kpiHistory(ctx.env.DB, site, "revenue", fGrain, asOf);
		const f = forecastSeries("revenue", fGrain, unit, history, horizon);
		const round = (x: number) => Math.round(x * 100) / 100;
		const rows = f.forecast.map((b) => ({ period: b.period, mean: round(b.mean), lower80: round(b.lower80), upper80: round(b.upper80), lower95: round(b.lower95), upper95: round(b.upper95) }));
		tables.push({
			name: "forecast",
			title: `Revenue forecast (${f.model.label})`,
			columns: [
				{ key: "period", label: "Period", unit: "text" },
				{ key: "mean", label: "Forecast", unit: "currency" },
				{ key: "lower80", label: "80% low", unit: "currency" },
				{ key: "upper80", label: "80% high", unit: "currency" },
				{ key: "lower95", label: "95% low", unit: "currency" },
				{ key: "upper95", label: "95% high", unit: "currency" },
			],
			rows,
		});
		const first = rows[0];
		sections.push({
			id: "forecast",
			title: "Forecast",
			text: [
				...(first ? [`Revenue ${first.period}: ${fmt(first.mean, "currency", cur)} (80%: ${fmt(first.lower80, "currency", cur)} – ${fmt(first.upper80, "currency", cur)}; 95%: ${fmt(first.lower95, "currency", cur)} – ${fmt(first.upper95, "currency", cur)}).`] : []),
				`Model ${f.model.label}, chosen by rolling-origin backtest${f.beats_baseline ? "; it beats" : "; it does not beat"} the seasonal-naive baseline (MASE ${f.baseline.mase.toFixed(2)}).`,
			],
			metrics: [],
			chart: {
				title: `Revenue by ${fGrain}: history and forecast (${cur})`,
				unit: "currency",
				kind: "band",
				points: [...f.history.slice(-8).map((h) => ({ label: h.period, value: h.value })), ...rows.map((r) => ({ label: r.period, value: r.mean, lower80: r.lower80, upper80: r.upper80, lower95: r.lower95, upper95: r.upper95 }))],
			},
			tables: ["forecast"],
		});
	} catch (err) {
		if (!(err instanceof RangeError)) throw err;
		ctx.omitted.push({ section: "Forecast", reason: err.message });
	}

	const title = `Executive report ${p.label} — ${site.name}`;
	return { title, sections, tables };
}

