/**
 * Product views for the dashboard's Products page (the architecture document's product deep dive):
 * `GET /api/v1/products/performance` — the catalogue with each SKU's sales, margin, conversion from a
 * product view, return rate, stock and days of cover over a range; `GET /api/v1/products/{sku}/performance`
 * — one product over time with price, margin, stock snapshots and stockouts. Sales numbers come from the
 * KPI engine (by=product), so they are the dashboard's KPI numbers; stock from inventory snapshots.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import type { Principal } from "../auth/roles";
import { ApiError } from "../lib/http";
import { currencyDigits } from "../lib/money";
import { apiErrors, json, openApiApp, secured, siteParam } from "../lib/openapi";
import type { Site } from "../lib/sites";
import { addDays, dayBounds, daysBetween, GRAINS, isDay, localDay, type Grain } from "../metrics/calendar";
import { KPI_BY_ID, visibleTo, type Kpi } from "../metrics/catalog";
import { runKpiQuery, type KpiResult } from "../metrics/query";
import { daysOfCover, stockouts, type Snapshot } from "./stock";

/** Days of sales that days of cover averages over (ending with the range's last day). */
export const COVER_DAYS = 30;
const MAX_DAYS = 731;
/** The product KPIs of the views, by the field they fill. */
const METRICS = { revenue: "product_revenue", units: "units_sold", gross_margin_pct: "product_gross_margin", product_page_conversion_pct: "product_page_conversion", return_rate_pct: "product_return_rate" } as const;
type Metric = keyof typeof METRICS;

const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const rangeQuery = {
	site: siteParam,
	from: day.optional().describe("first local day; default 29 days before `to`"),
	to: day.optional().describe("last local day; default today"),
};
const SORTS = ["revenue", "units", "gross_margin_pct", "product_page_conversion_pct", "return_rate_pct", "stock", "days_of_cover", "sku"] as const;

const MetricsSchema = z.object({
	revenue: z.number().nullable().describe("line revenue, site currency (null when the caller's role may not see it)"),
	units: z.number().nullable(),
	gross_margin_pct: z.number().nullable().describe("null without costed sales"),
	product_page_conversion_pct: z.number().nullable().describe("sessions viewing the product that bought it"),
	return_rate_pct: z.number().nullable(),
});
const StockSchema = z.object({
	stock: z.number().int().nullable().describe("latest snapshot at the end of the range"),
	reorder_point: z.number().int().nullable().describe("the store's (latest snapshot), else the nightly run's computed one (95 % service level); null without either"),
	reorder_point_source: z.enum(["store", "computed"]).nullable(),
	stock_taken_at: z.number().int().nullable().describe("epoch ms"),
	days_of_cover: z.number().nullable().describe(`stock ÷ average daily units over the last ${COVER_DAYS} days of the range; null without recent sales`),
	stockout_days: z.number().describe("days in the range with stock at 0 (snapshots hold until the next one)"),
});
const ProductRow = z
	.object({ sku: z.string(), name: z.string(), category: z.string().nullable(), price: z.number().nullable(), unit_cost: z.number().nullable() })
	.extend(MetricsSchema.shape)
	.extend(StockSchema.shape)
	.openapi("ProductPerformance");

const catalogueRoute = createRoute({
	method: "get",
	path: "/products/performance",
	operationId: "productCatalogue",
	tags: ["Products"],
	summary: "Catalogue performance",
	description: "Every product of the catalogue (and any SKU sold without a catalogue row) with sales, margin, conversion from a product view, return rate, stock, days of cover and stockout days over the range (site-local days).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.strictObject({
			...rangeQuery,
			sort: z.enum(SORTS).default("revenue").describe("descending, except sku (ascending); nulls last"),
			category: z.string().max(128).optional().describe("only this category"),
		}),
	},
	responses: {
		200: json(z.object({ site: z.string(), currency: z.string(), from: z.string(), to: z.string(), cover_days: z.number().int(), products: z.array(ProductRow) }), "one row per SKU"),
		...apiErrors(404),
	},
});

const productRoute = createRoute({
	method: "get",
	path: "/products/{sku}/performance",
	operationId: "productPerformance",
	tags: ["Products"],
	summary: "One product over time",
	description: "The product deep dive: catalogue data, price and unit margin, the product KPIs in total and per period, stock snapshots, days of cover and stockout intervals over the range.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ sku: z.string().min(1).max(64) }),
		query: z.strictObject({ ...rangeQuery, grain: z.enum(GRAINS).default("day") }),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				currency: z.string(),
				from: z.string(),
				to: z.string(),
				grain: z.enum(GRAINS),
				product: z.object({
					sku: z.string(),
					name: z.string(),
					category: z.string().nullable(),
					brand: z.string().nullable(),
					price: z.number().nullable(),
					unit_cost: z.number().nullable(),
					unit_margin: z.number().nullable().describe("price − unit cost"),
					unit_margin_pct: z.number().nullable(),
				}),
				totals: MetricsSchema,
				series: z.array(MetricsSchema.extend({ period: z.string(), from: z.string(), to: z.string() })),
				inventory: StockSchema.extend({
					snapshots: z.array(z.object({ taken_at: z.number().int(), stock: z.number().int(), reorder_point: z.number().int().nullable() })).describe("in the range, oldest first, at most 2,000"),
					stockouts: z.array(z.object({ from: z.number().int(), to: z.number().int() })).describe("out-of-stock intervals in the range, epoch ms"),
				}),
				plan: z
					.object({
						as_of: z.string(),
						demand_per_day: z.number(),
						demand_sd: z.number(),
						lead_time_days: z.number().nullable(),
						lead_time_sd: z.number().nullable(),
						lead_source: z.string(),
						service_level: z.number(),
						safety_stock: z.number().nullable(),
						reorder_point: z.number().nullable(),
						days_of_cover: z.number().nullable(),
						stockout_risk: z.number().nullable().describe("probability that demand over a lead time exceeds the stock on hand"),
						forecast_30d: z.object({ mean: z.number(), lower95: z.number(), upper95: z.number(), method: z.string() }),
					})
					.nullable()
					.describe("the latest nightly run's demand forecast and suggested reorder point (95 % service level); null before a run"),
			}),
			"the product",
		),
		...apiErrors(404),
	},
});

function range(q: { from?: string; to?: string }, site: Site): { from: string; to: string } {
	const to = q.to ?? localDay(Date.now(), site.timezone);
	const from = q.from ?? addDays(to, -29);
	if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${to})` }]);
	if (daysBetween(from, to) + 1 > MAX_DAYS) throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: `at most ${MAX_DAYS} days` }]);
	return { from, to };
}

/** The product KPIs the principal may see, by product. */
async function productKpis(db: D1Database, site: Site, principal: Principal, from: string, to: string, grain: Grain): Promise<Map<Metric, KpiResult>> {
	const visible = (Object.entries(METRICS) as [Metric, string][]).filter(([, id]) => visibleTo(KPI_BY_ID.get(id) as Kpi, principal));
	const result = await runKpiQuery(db, site, { ids: visible.map(([, id]) => id), from, to, grain, by: "product" });
	return new Map(visible.map(([m, id]) => [m, result.kpis.find((k) => k.id === id) as KpiResult]));
}

interface CatalogueRow {
	sku: string;
	name: string;
	category: string | null;
	brand: string | null;
	price_minor: number | null;
	unit_cost_minor: number | null;
}

interface StockRow {
	sku: string;
	taken_at: number;
	stock: number;
	reorder_point: number | null;
}

/**
 * Stock of each SKU (or one) over [start, end): the snapshots inside, plus the last one before start,
 * which sets the state at the start. Ordered by SKU, then time.
 */
async function stockHistory(db: D1Database, site: string, start: number, end: number, sku: string | null): Promise<Map<string, StockRow[]>> {
	const rows = await db
		.prepare(
			`SELECT sku, taken_at, stock, reorder_point FROM inventory_snapshots s
			 WHERE site = ?1 AND (?4 IS NULL OR sku = ?4)
			   AND (taken_at >= ?2 AND taken_at < ?3
			        OR taken_at = (SELECT MAX(t.taken_at) FROM inventory_snapshots t WHERE t.site = ?1 AND t.sku = s.sku AND t.taken_at < ?2))
			 ORDER BY sku, taken_at`,
		)
		.bind(site, start, end, sku)
		.all<StockRow>();
	const out = new Map<string, StockRow[]>();
	for (const r of rows.results) out.set(r.sku, [...(out.get(r.sku) ?? []), r]);
	return out;
}

/** Units sold per SKU over the COVER_DAYS local days ending with `to` (from the product rollup). */
async function recentUnits(db: D1Database, site: string, to: string): Promise<Map<string, number>> {
	const rows = await db
		.prepare("SELECT sku, SUM(units) AS units FROM kpi_products_daily WHERE site = ? AND day >= ? AND day <= ? GROUP BY sku")
		.bind(site, addDays(to, -(COVER_DAYS - 1)), to)
		.all<{ sku: string; units: number }>();
	return new Map(rows.results.map((r) => [r.sku, r.units]));
}

/** Reorder points computed by the latest nightly run (analytics/predict-steps.ts inventoryStep), rounded up to whole units. */
async function computedReorderPoints(db: D1Database, site: string, sku: string | null): Promise<Map<string, number>> {
	const rows = await db
		.prepare(
			`SELECT sku, reorder_point FROM inventory_plan WHERE site = ?1 AND (?2 IS NULL OR sku = ?2) AND reorder_point IS NOT NULL
			AND as_of = (SELECT MAX(as_of) FROM analytics_runs WHERE site = ?1 AND status = 'complete')`,
		)
		.bind(site, sku)
		.all<{ sku: string; reorder_point: number }>();
	return new Map(rows.results.map((r) => [r.sku, Math.ceil(r.reorder_point)]));
}

function stockFields(history: StockRow[] | undefined, start: number, end: number, units: number, computed: number | undefined) {
	const snaps: Snapshot[] = (history ?? []).map((r) => ({ takenAt: r.taken_at, stock: r.stock }));
	const last = history?.at(-1);
	const out = stockouts(snaps, start, end);
	const given = last?.reorder_point ?? null;
	return {
		stock: last?.stock ?? null,
		reorder_point: given ?? computed ?? null,
		reorder_point_source: given !== null ? ("store" as const) : computed !== undefined ? ("computed" as const) : null,
		stock_taken_at: last?.taken_at ?? null,
		days_of_cover: daysOfCover(last?.stock ?? null, units, COVER_DAYS),
		stockout_days: out.days,
		intervals: out.intervals,
	};
}

function metricValues(kpis: Map<Metric, KpiResult>, pick: (k: KpiResult, m: Metric) => number | null | undefined): z.infer<typeof MetricsSchema> {
	const v = (m: Metric) => {
		const k = kpis.get(m);
		return k ? (pick(k, m) ?? null) : null;
	};
	// A SKU with no sales in the range has no group: 0 revenue and units, undefined rates.
	const zeroIfVisible = (m: Metric) => v(m) ?? (kpis.has(m) ? 0 : null);
	return { revenue: zeroIfVisible("revenue"), units: zeroIfVisible("units"), gross_margin_pct: v("gross_margin_pct"), product_page_conversion_pct: v("product_page_conversion_pct"), return_rate_pct: v("return_rate_pct") };
}

export const products = openApiApp<AuthVars>()
	.openapi(catalogueRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		const { from, to } = range(q, site);
		const [start] = dayBounds(from, site.timezone);
		const [, end] = dayBounds(to, site.timezone);
		const kpis = await productKpis(c.env.DB, site, c.var.principal, from, to, "month");
		const [catalogue, history, units, computed] = await Promise.all([
			c.env.DB.prepare("SELECT sku, name, category, brand, price_minor, unit_cost_minor FROM products WHERE site = ?").bind(site.id).all<CatalogueRow>(),
			stockHistory(c.env.DB, site.id, start, end, null),
			recentUnits(c.env.DB, site.id, to),
			computedReorderPoints(c.env.DB, site.id, null),
		]);
		const bySku = new Map(catalogue.results.map((r) => [r.sku, r]));
		const groupTotals = new Map<Metric, Map<string, number | null>>();
		for (const [m, k] of kpis) groupTotals.set(m, new Map((k.groups ?? []).map((g) => [g.key, g.total.value])));
		const skus = new Set([...bySku.keys(), ...(groupTotals.get("revenue")?.keys() ?? []), ...(groupTotals.get("units")?.keys() ?? [])]);
		const scale = 10 ** currencyDigits(site.currency);
		let rows = [...skus].map((sku) => {
			const p = bySku.get(sku);
			const { intervals: _intervals, ...stock } = stockFields(history.get(sku), start, end, units.get(sku) ?? 0, computed.get(sku));
			return {
				sku,
				name: p?.name ?? sku,
				category: p?.category ?? null,
				price: p?.price_minor == null ? null : p.price_minor / scale,
				unit_cost: p?.unit_cost_minor == null ? null : p.unit_cost_minor / scale,
				...metricValues(kpis, (_k, m) => groupTotals.get(m)?.get(sku)),
				...stock,
			};
		});
		if (q.category !== undefined) rows = rows.filter((r) => r.category === q.category);
		const key = q.sort;
		rows.sort((a, b) => {
			if (key === "sku") return a.sku.localeCompare(b.sku);
			const x = a[key];
			const y = b[key];
			if (x === null || y === null) return x === y ? a.sku.localeCompare(b.sku) : x === null ? 1 : -1;
			return y - x || a.sku.localeCompare(b.sku);
		});
		return c.json({ site: site.id, currency: site.currency, from, to, cover_days: COVER_DAYS, products: rows }, 200, { "Cache-Control": "private, max-age=60" });
	})
	.openapi(productRoute, async (c) => {
		const { sku } = c.req.valid("param");
		const q = c.req.valid("query");
		const site = c.var.site;
		const { from, to } = range(q, site);
		const [start] = dayBounds(from, site.timezone);
		const [, end] = dayBounds(to, site.timezone);
		const [product, kpis, history, units, computed] = await Promise.all([
			c.env.DB.prepare("SELECT sku, name, category, brand, price_minor, unit_cost_minor FROM products WHERE site = ? AND sku = ?").bind(site.id, sku).first<CatalogueRow>(),
			productKpis(c.env.DB, site, c.var.principal, from, to, q.grain),
			stockHistory(c.env.DB, site.id, start, end, sku),
			recentUnits(c.env.DB, site.id, to),
			computedReorderPoints(c.env.DB, site.id, sku),
		]);
		const group = (k: KpiResult) => k.groups?.find((g) => g.key === sku);
		const sold = [...kpis.values()].some((k) => group(k) !== undefined);
		if (!product && !sold && !history.has(sku)) throw new ApiError(404, "not_found", `no product '${sku}' on site '${site.id}'`, [{ field: "sku", message: "unknown product" }]);
		const scale = 10 ** currencyDigits(site.currency);
		const price = product?.price_minor == null ? null : product.price_minor / scale;
		const cost = product?.unit_cost_minor == null ? null : product.unit_cost_minor / scale;
		const periods = [...kpis.values()][0]?.series ?? [];
		const series = periods.map((p, i) => ({ period: p.period, from: p.from, to: p.to, ...metricValues(kpis, (k) => group(k)?.series[i]?.value) }));
		const rows = history.get(sku) ?? [];
		const { intervals, ...stock } = stockFields(rows, start, end, units.get(sku) ?? 0, computed.get(sku));
		const planRow = await c.env.DB.prepare(
			`SELECT as_of, demand_mean, demand_sd, lead_mean, lead_sd, lead_source, service_level, safety_stock, reorder_point, days_of_cover, stockout_risk, forecast FROM inventory_plan
			WHERE site = ?1 AND sku = ?2 AND as_of = (SELECT MAX(as_of) FROM analytics_runs WHERE site = ?1 AND status = 'complete')`,
		)
			.bind(site.id, sku)
			.first<{ as_of: string; demand_mean: number; demand_sd: number; lead_mean: number | null; lead_sd: number | null; lead_source: string; service_level: number; safety_stock: number | null; reorder_point: number | null; days_of_cover: number | null; stockout_risk: number | null; forecast: string }>();
		const forecast = planRow ? z.object({ mean: z.number(), lower95: z.number(), upper95: z.number(), method: z.string() }).parse(JSON.parse(planRow.forecast)) : null;
		const plan =
			planRow && forecast
				? {
						as_of: planRow.as_of,
						demand_per_day: planRow.demand_mean,
						demand_sd: planRow.demand_sd,
						lead_time_days: planRow.lead_mean,
						lead_time_sd: planRow.lead_sd,
						lead_source: planRow.lead_source,
						service_level: planRow.service_level,
						safety_stock: planRow.safety_stock,
						reorder_point: planRow.reorder_point,
						days_of_cover: planRow.days_of_cover,
						stockout_risk: planRow.stockout_risk,
						forecast_30d: forecast,
					}
				: null;
		return c.json(
			{
				site: site.id,
				currency: site.currency,
				from,
				to,
				grain: q.grain,
				product: {
					sku,
					name: product?.name ?? sku,
					category: product?.category ?? null,
					brand: product?.brand ?? null,
					price,
					unit_cost: cost,
					unit_margin: price !== null && cost !== null ? Math.round((price - cost) * scale) / scale : null,
					unit_margin_pct: price !== null && cost !== null && price > 0 ? Math.round(((price - cost) / price) * 10_000) / 100 : null,
				},
				totals: metricValues(kpis, (k) => group(k)?.total.value),
				series,
				inventory: {
					...stock,
					snapshots: rows.filter((r) => r.taken_at >= start).slice(0, 2000).map((r) => ({ taken_at: r.taken_at, stock: r.stock, reorder_point: r.reorder_point })),
					stockouts: intervals,
				},
				plan,
			},
			200,
			{ "Cache-Control": "private, max-age=60" },
		);
	});
