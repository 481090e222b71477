/**
 * The product report (one SKU, a day, week, month or quarter): performance against the previous period,
 * the RFM segments of the customers who bought it, price and margin, bought-together rules and
 * recommended products, inventory and reorder. Sales and stock are the products API's answer
 * (`/products/{sku}/performance`, itself the KPI engine by product); "competitive position" needs
 * external price data and is left out.
 */
import { ApiError } from "../lib/http";
import { apiGet, changeText, deltaPct, fmt, noRunReason, runOnOrBefore, type BuildContext, type Built } from "./build";
import { previousPeriod } from "./period";
import type { ReportMetric, ReportSection, ReportTable } from "./types";

type Metrics = { revenue: number | null; units: number | null; gross_margin_pct: number | null; product_page_conversion_pct: number | null; return_rate_pct: number | null };
interface Performance {
	product: { sku: string; name: string; category: string | null; brand: string | null; price: number | null; unit_cost: number | null; unit_margin: number | null; unit_margin_pct: number | null };
	totals: Metrics;
	series: (Metrics & { period: string })[];
	inventory: { stock: number | null; reorder_point: number | null; reorder_point_source: string | null; days_of_cover: number | null; stockout_days: number };
	plan: {
		as_of: string;
		demand_per_day: number;
		lead_time_days: number | null;
		safety_stock: number | null;
		reorder_point: number | null;
		stockout_risk: number | null;
		forecast_30d: { mean: number; lower95: number; upper95: number; method: string };
	} | null;
}

const METRICS: [keyof Metrics, string, string][] = [
	["revenue", "Revenue", "currency"],
	["units", "Units sold", "count"],
	["gross_margin_pct", "Gross margin", "percent"],
	["product_page_conversion_pct", "Product page conversion", "percent"],
	["return_rate_pct", "Return rate", "percent"],
];

export async function buildProduct(ctx: BuildContext): Promise<Built> {
	const { period: p, site } = ctx;
	const sku = ctx.sku as string;
	const cur = site.currency;
	const prev = previousPeriod(p);
	const grain = p.grain === "quarter" ? "week" : "day";
	const [now, before] = await Promise.all([
		apiGet<Performance>(ctx, `/products/${encodeURIComponent(sku)}/performance`, { from: p.from, to: p.to, grain }),
		apiGet<Performance>(ctx, `/products/${encodeURIComponent(sku)}/performance`, { from: prev.from, to: prev.to, grain }),
	]);
	if (!now.ok) {
		if (now.status === 404) throw new ApiError(404, "not_found", `no product '${sku}' on site '${site.id}'`, [{ field: "sku", message: "unknown product" }]);
		throw new ApiError(now.status === 400 ? 400 : 500, "invalid_request", now.message);
	}
	const perf = now.body;
	const prevTotals = before.ok ? before.body.totals : null;
	const sections: ReportSection[] = [];
	const tables: ReportTable[] = [];
	const name = perf.product.name;

	// ── performance ──
	const metrics: ReportMetric[] = METRICS.map(([key, label, unit]) => {
		const value = perf.totals[key];
		const compare = prevTotals ? prevTotals[key] : null;
		return { id: `product.${key}`, label, unit, value, compare, delta_pct: deltaPct(value, compare), ...(value === null ? { note: "undefined for this period (no sales, views or costed lines)" } : {}) };
	});
	sections.push({
		id: "performance",
		title: "Performance",
		text: [
			`${name} (${sku}): revenue ${fmt(perf.totals.revenue, "currency", cur)}${changeText(metrics[0]?.delta_pct, prev.label)}, ${fmt(perf.totals.units, "count", cur)} units${changeText(metrics[1]?.delta_pct, prev.label)}.`,
		],
		metrics,
		chart: { title: `Revenue by ${grain} (${cur})`, unit: "currency", kind: "bars", points: perf.series.map((s) => ({ label: s.period, value: s.revenue })) },
		tables: ["performance", "series"],
	});
	tables.push({
		name: "performance",
		title: "Performance",
		columns: [
			{ key: "metric", label: "Metric", unit: "text" },
			{ key: "unit", label: "Unit", unit: "text" },
			{ key: "value", label: "Value", unit: "number" },
			{ key: "compare", label: `Previous period (${prev.label})`, unit: "number" },
			{ key: "delta_pct", label: "Change %", unit: "percent" },
		],
		rows: metrics.map((m) => ({ metric: m.label, unit: m.unit, value: m.value, compare: m.compare ?? null, delta_pct: m.delta_pct ?? null })),
	});
	tables.push({
		name: "series",
		title: `By ${grain}`,
		columns: [{ key: "period", label: "Period", unit: "text" }, ...METRICS.map(([key, label, unit]) => ({ key, label, unit }))],
		rows: perf.series.map((s) => ({ period: s.period, revenue: s.revenue, units: s.units, gross_margin_pct: s.gross_margin_pct, product_page_conversion_pct: s.product_page_conversion_pct, return_rate_pct: s.return_rate_pct })),
	});

	// ── segments that buy it ──
	const run = await runOnOrBefore(ctx, p.to);
	// Customers with a non-cancelled order holding the SKU in the period, by their segment in the run.
	const seg = await ctx.env.DB.prepare(
		`SELECT COALESCE(s.segment, 'Unscored') AS segment, COUNT(DISTINCT o.customer_id) AS customers, COUNT(DISTINCT o.order_id) AS orders, SUM(i.qty) AS units
		 FROM order_items i CROSS JOIN orders o ON o.site = i.site AND o.order_id = i.order_id
		 LEFT JOIN rfm_scores s ON s.site = o.site AND s.as_of = ?4 AND s.customer_id = o.customer_id
		 WHERE i.site = ?1 AND i.sku = ?5 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled'
		 GROUP BY 1 ORDER BY customers DESC, segment`,
	)
		.bind(site.id, p.start, p.end, run ?? "", sku)
		.all<{ segment: string; customers: number; orders: number; units: number }>();
	if (!run) ctx.omitted.push({ section: "Segments that buy it", reason: noRunReason(p.to) });
	else if (!seg.results.length) ctx.omitted.push({ section: "Segments that buy it", reason: `no orders of ${sku} in ${p.label}` });
	else {
		const total = seg.results.reduce((n, r) => n + r.customers, 0);
		const top = seg.results[0] as { segment: string; customers: number };
		sections.push({
			id: "segments",
			title: "Segments that buy it",
			text: [`${total} customers bought it; most are ${top.segment} (${top.customers}), by the RFM segments of the run of ${run}.`],
			metrics: [],
			tables: ["segments"],
		});
		tables.push({
			name: "segments",
			title: "Buyers by segment",
			columns: [
				{ key: "segment", label: "Segment", unit: "text" },
				{ key: "customers", label: "Customers", unit: "count" },
				{ key: "orders", label: "Orders", unit: "count" },
				{ key: "units", label: "Units", unit: "count" },
			],
			rows: seg.results.map((r) => ({ ...r })),
		});
	}

	// ── price and margin ──
	const pr = perf.product;
	const asp = perf.totals.revenue !== null && perf.totals.units ? Math.round((perf.totals.revenue / perf.totals.units) * 100) / 100 : null;
	const priceMetrics: ReportMetric[] = [
		{ id: "product.price", label: "List price", unit: "currency", value: pr.price },
		{ id: "product.average_price", label: "Average selling price (revenue ÷ units)", unit: "currency", value: asp },
		{ id: "product.unit_cost", label: "Unit cost", unit: "currency", value: pr.unit_cost },
		{ id: "product.unit_margin", label: "Unit margin (price − cost)", unit: "currency", value: pr.unit_margin },
		{ id: "product.unit_margin_pct", label: "Unit margin", unit: "percent", value: pr.unit_margin_pct },
		{ id: "product.gross_margin_pct", label: "Realised gross margin", unit: "percent", value: perf.totals.gross_margin_pct },
	];
	if (priceMetrics.every((m) => m.value === null)) ctx.omitted.push({ section: "Price and margin", reason: "the catalogue has no price or cost for this SKU and it had no sales" });
	else {
		sections.push({
			id: "price",
			title: "Price and margin",
			text: [
				`List price ${fmt(pr.price, "currency", cur)}, unit cost ${fmt(pr.unit_cost, "currency", cur)}${pr.unit_margin_pct !== null ? `: ${pr.unit_margin_pct.toFixed(2)}% unit margin` : ""}; sold at ${fmt(asp, "currency", cur)} on average.`,
			],
			metrics: priceMetrics,
			tables: ["price"],
		});
		tables.push({
			name: "price",
			title: "Price and margin",
			columns: [
				{ key: "metric", label: "Metric", unit: "text" },
				{ key: "unit", label: "Unit", unit: "text" },
				{ key: "value", label: "Value", unit: "number" },
			],
			rows: priceMetrics.map((m) => ({ metric: m.label, unit: m.unit, value: m.value })),
		});
	}

	// ── bought together and recommended ──
	if (run) {
		type Rule = { antecedent: string[]; consequent: string[]; confidence: number; lift: number };
		const [rules, recs] = await Promise.all([
			apiGet<{ rules: Rule[] }>(ctx, "/basket/rules", { as_of: run, product: sku, limit: 5 }),
			apiGet<{ as_of: string; items: { sku: string; score: number; why: string }[] }>(ctx, "/recommendations", { product: sku, k: 5 }),
		]);
		const text: string[] = [];
		const names: string[] = [];
		if (rules.ok && rules.body.rules.length) {
			text.push(`Bought together (run of ${run}): ${rules.body.rules.map((r) => `${r.consequent.join(" + ")} (lift ${r.lift.toFixed(2)})`).join(", ")}.`);
			tables.push({
				name: "bought_together",
				title: "Bought together",
				columns: [
					{ key: "if_bought", label: "If bought", unit: "text" },
					{ key: "then", label: "Also bought", unit: "text" },
					{ key: "confidence", label: "Confidence", unit: "probability" },
					{ key: "lift", label: "Lift", unit: "score" },
				],
				rows: rules.body.rules.map((r) => ({ if_bought: r.antecedent.join(" + "), then: r.consequent.join(" + "), confidence: r.confidence, lift: r.lift })),
			});
			names.push("bought_together");
		}
		if (recs.ok && recs.body.items.length) {
			text.push(`Recommended with it (run of ${recs.body.as_of}): ${recs.body.items.map((r) => r.sku).join(", ")}.`);
			tables.push({
				name: "recommended",
				title: "Recommended with it",
				columns: [
					{ key: "sku", label: "SKU", unit: "text" },
					{ key: "score", label: "Score", unit: "score" },
					{ key: "why", label: "Why", unit: "text" },
				],
				rows: recs.body.items.map((r) => ({ ...r })),
			});
			names.push("recommended");
		}
		if (names.length) sections.push({ id: "related", title: "Bought together and recommended", text, metrics: [], tables: names });
		else ctx.omitted.push({ section: "Bought together and recommended", reason: `the run of ${run} has no basket rule with ${sku} and no recommendation for it${recs.ok ? "" : ` (${recs.message})`}` });
	} else ctx.omitted.push({ section: "Bought together and recommended", reason: noRunReason(p.to) });

	// ── inventory and reorder ──
	const inv = perf.inventory;
	const plan = perf.plan;
	if (inv.stock === null && !plan) ctx.omitted.push({ section: "Inventory and reorder", reason: `no inventory snapshot of ${sku} and no nightly inventory plan` });
	else {
		const invMetrics: ReportMetric[] = [
			{ id: "inventory.stock", label: "Stock at the end of the period", unit: "count", value: inv.stock },
			{ id: "inventory.reorder_point", label: `Reorder point${inv.reorder_point_source ? ` (${inv.reorder_point_source})` : ""}`, unit: "count", value: inv.reorder_point },
			{ id: "inventory.days_of_cover", label: "Days of cover", unit: "days", value: inv.days_of_cover },
			{ id: "inventory.stockout_days", label: "Days out of stock", unit: "days", value: inv.stockout_days },
			...(plan
				? [
						{ id: "plan.demand_per_day", label: `Demand per day (run of ${plan.as_of})`, unit: "count", value: plan.demand_per_day },
						{ id: "plan.safety_stock", label: "Safety stock (95% service)", unit: "count", value: plan.safety_stock },
						{ id: "plan.stockout_risk", label: "Stock-out risk over a lead time", unit: "probability", value: plan.stockout_risk },
						{ id: "plan.forecast_30d", label: `30-day demand forecast (${plan.forecast_30d.method})`, unit: "count", value: plan.forecast_30d.mean },
					]
				: []),
		];
		const text = [`Stock ${fmt(inv.stock, "count", cur)} against a reorder point of ${fmt(inv.reorder_point, "count", cur)}; ${inv.days_of_cover === null ? "no recent sales to compute days of cover" : `${inv.days_of_cover.toFixed(1)} days of cover`}.`];
		if (inv.stock !== null && inv.reorder_point !== null && inv.stock < inv.reorder_point) text.push(`Below the reorder point: reorder ${sku}.`);
		if (plan) text.push(`30-day demand forecast ${plan.forecast_30d.mean.toFixed(1)} units (95%: ${plan.forecast_30d.lower95.toFixed(1)} – ${plan.forecast_30d.upper95.toFixed(1)}).`);
		if (!plan) ctx.omitted.push({ section: "Inventory and reorder: demand forecast", reason: noRunReason(p.to) });
		sections.push({ id: "inventory", title: "Inventory and reorder", text, metrics: invMetrics, tables: ["inventory"] });
		tables.push({
			name: "inventory",
			title: "Inventory and reorder",
			columns: [
				{ key: "metric", label: "Metric", unit: "text" },
				{ key: "unit", label: "Unit", unit: "text" },
				{ key: "value", label: "Value", unit: "number" },
			],
			rows: invMetrics.map((m) => ({ metric: m.label, unit: m.unit, value: m.value })),
		});
	}

	ctx.omitted.push({ section: "Competitive position", reason: "needs competitors' prices, external data this store does not collect" });
	return { title: `Product report ${name} (${sku}) ${p.label} — ${site.name}`, sections, tables };
}
