/**
 * The nightly workflow's steps (workers/jobs/nightly.ts): each reads what it needs from D1 up to the
 * run's cutoff, calls the pure analysis modules of this folder and replaces the (site, as_of) results in
 * one D1 batch, so a retry or a rerun of the same day leaves one set of results.
 *
 * Definitions shared by every step, as the KPI catalogue has them: an order counts unless it is
 * cancelled; its revenue is total − tax, less the refunds of that order created before the cutoff
 * (net revenue). Only data before the cutoff (the end of the as-of local day) is read, so a run for a
 * past day sees what that day saw of orders and refunds.
 */
import { jsonChunks } from "../lib/json-rows";
import { addDays, dayBounds, localDay } from "../metrics/calendar";
import { ORDER_MEASURES_SQL, orderLinesSql, SHIPPING_ERROR_SQL } from "../metrics/rollup";
import { associationRules, bundleSuggestions, mineItemsets, seasonalityIndex, type AssociationRule, type MonthlyRevenue } from "./basket";
import { customerLifetimeValue, bgNbdExpectedPurchases, bgNbdPAlive, fitBgNbd, fitGammaGamma, holdoutCheck, rfmSummary, type Transaction } from "./clv";
import { channelCohorts, productAdoption, retentionCohorts, type CohortOrder } from "./cohorts";
import { PurchaseMatrixBuilder, type PurchaseMatrix } from "./recommend";
import { scoreRfm, segmentMovement, summarizeSegments } from "./rfm";

export interface RunContext {
	runId: string;
	site: string;
	timezone: string;
	currency: string;
	/** Last complete local day of the run. */
	asOf: string;
	/** End of the as-of day, UTC ms (exclusive): nothing at or after it is read. */
	cutoff: number;
	/** RFM window in days before the cutoff (default RFM_WINDOW_DAYS). */
	rfmWindowDays: number;
}

export interface StepResult {
	rowsRead: number;
	rowsWritten: number;
	durationMs?: number;
	/** A few headline numbers of the step, shown with the job. */
	summary?: Record<string, number | string | null>;
}

const DAY_MS = 86_400_000;
const PAGE = 50_000;
/** RFM window (days before the cutoff) and the basket window. */
export const RFM_WINDOW_DAYS = 365;
export const BASKET_WINDOW_DAYS = 365;
/** Lowest thresholds the basket step keeps: the API filters can only be stricter. */
export const BASKET_MIN_SUPPORT = 0.001;
export const BASKET_MIN_CONFIDENCE = 0.05;
/** Itemsets mined up to this size (bundles are 2–3 items). */
const BASKET_MAX_ITEMS = 3;
/** Rules kept per level (by lift), so one run cannot write an unbounded table. */
const BASKET_MAX_RULES = 5_000;
/** CLV: horizon, monthly discount rate and the calibration holdout. */
export const CLV_MONTHS = 12;
export const CLV_MONTHLY_DISCOUNT = 0.01;
export const CLV_HOLDOUT_DAYS = 90;
/** Per-customer scores are kept for the latest days and for every month's last day (segment history). */
const KEEP_RECENT_RUNS = 8;

interface OrderRow {
	orderId: string;
	customer: string;
	placedAt: number;
	revenueMinor: number;
	channel: string | null;
}

/**
 * Non-cancelled orders placed in [from, cutoff), revenue net of refunds before the cutoff, in (placed_at, order_id) order.
 * `+r.created_at` keeps SQLite from choosing refunds_site_created for the per-order refund sum: with it, every
 * order scanned the site's refunds (3.5 minutes for 50,000 demo orders instead of 0.2 s).
 */
export async function readOrders(db: D1Database, site: string, cutoff: number, from = 0): Promise<OrderRow[]> {
	const out: OrderRow[] = [];
	let after: [number, string] = [from - 1, ""];
	for (;;) {
		const page = await db
			.prepare(
				`SELECT o.order_id, o.customer_id, o.placed_at,
					o.total_minor - o.tax_minor - COALESCE((SELECT SUM(r.amount_minor) FROM refunds r WHERE r.site = o.site AND r.order_id = o.order_id AND +r.created_at < ?3), 0),
					o.channel
				FROM orders o
				WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled' AND (o.placed_at, o.order_id) > (?4, ?5)
				ORDER BY o.placed_at, o.order_id LIMIT ?6`,
			)
			.bind(site, from, cutoff, after[0], after[1], PAGE)
			.raw<[string, string, number, number, string | null]>();
		for (const [orderId, customer, placedAt, revenueMinor, channel] of page) out.push({ orderId, customer, placedAt, revenueMinor, channel });
		const last = page.at(-1);
		if (!last || page.length < PAGE) return out;
		after = [last[2], last[0]];
	}
}

/**
 * Every (customer, sku, placed_at) of non-cancelled orders placed before `cutoff`, as a PurchaseMatrix
 * (distinct customer × SKU pairs in typed arrays, with whether each pair was bought before / from each of
 * `splits`). Paged in (customer_id, placed_at, order_id, sku) order, which orders_site_customer serves, so
 * each customer's rows are contiguous and only one customer's basket is open at a time: at 1,000,000
 * orders the ~2.7 million lines as objects alone were over the 128 MB isolate (issue 12).
 */
export async function readPurchaseMatrix(db: D1Database, site: string, cutoff: number, splits: readonly number[] = [], pageSize = PAGE): Promise<{ matrix: PurchaseMatrix; read: number }> {
	const builder = new PurchaseMatrixBuilder(splits);
	let after: [string, number, string, string] = ["", -1, "", ""];
	let read = 0;
	for (;;) {
		const page = await db
			.prepare(
				`SELECT o.customer_id, o.placed_at, o.order_id, oi.sku
				FROM orders o CROSS JOIN order_items oi ON oi.site = o.site AND oi.order_id = o.order_id
				WHERE o.site = ?1 AND o.placed_at < ?2 AND o.status <> 'cancelled' AND (o.customer_id, o.placed_at, o.order_id, oi.sku) > (?3, ?4, ?5, ?6)
				ORDER BY o.customer_id, o.placed_at, o.order_id, oi.sku LIMIT ?7`,
			)
			.bind(site, cutoff, after[0], after[1], after[2], after[3], pageSize)
			.raw<[string, number, string, string]>();
		read += page.length;
		for (const [customer, at, , sku] of page) builder.add(customer, sku, at);
		const last = page.at(-1);
		if (!last || page.length < pageSize) return { matrix: builder.finish(), read };
		after = last;
	}
}

/**
 * Each customer's non-cancelled order times before `cutoff` (ascending; from 0 on, as readOrders), one customer
 * at a time: `each(customer, times)` is called once per customer, in customer_id order. For steps that need
 * only per-customer timing: at 1,000,000 orders readOrders' row objects alone were over the 128 MB isolate.
 * Returns the order rows read.
 */
export async function eachCustomerOrderTimes(db: D1Database, site: string, cutoff: number, each: (customer: string, times: number[]) => void, pageSize = PAGE): Promise<number> {
	return eachCustomerOrderTimesIn(db, site, cutoff, null, null, each, pageSize);
}

/**
 * eachCustomerOrderTimes restricted to the customer ids in (`from`, `to`] (`from` null: from the first id;
 * `to` null: to the last), so a step paging its customers by id reads only its page's orders. The upper
 * bound is a separate SQL text, not `?6 IS NULL OR …`, so that it stays a range on the index and a page
 * does not scan to the end of the table. Returns the order rows read.
 */
export async function eachCustomerOrderTimesIn(
	db: D1Database,
	site: string,
	cutoff: number,
	from: string | null,
	to: string | null,
	each: (customer: string, times: number[]) => void,
	pageSize = PAGE,
): Promise<number> {
	// (from, cutoff, '') is after every order of `from` itself, all of which are before the cutoff.
	let after: [string, number, string] = from === null ? ["", -1, ""] : [from, cutoff, ""];
	let read = 0;
	let current: string | null = null;
	let times: number[] = [];
	const sql = `SELECT o.customer_id, o.placed_at, o.order_id FROM orders o
		WHERE o.site = ?1 AND o.placed_at >= 0 AND o.placed_at < ?2 AND o.status <> 'cancelled' AND (o.customer_id, o.placed_at, o.order_id) > (?3, ?4, ?5)${to === null ? "" : " AND o.customer_id <= ?7"}
		ORDER BY o.customer_id, o.placed_at, o.order_id LIMIT ?6`;
	for (;;) {
		const args: unknown[] = [site, cutoff, after[0], after[1], after[2], pageSize];
		if (to !== null) args.push(to);
		const page = await db
			.prepare(sql)
			.bind(...args)
			.raw<[string, number, string]>();
		read += page.length;
		for (const [customer, at] of page) {
			if (customer !== current) {
				if (current !== null) each(current, times);
				current = customer;
				times = [];
			}
			times.push(at);
		}
		const last = page.at(-1);
		if (!last || page.length < pageSize) {
			if (current !== null) each(current, times);
			return read;
		}
		after = last;
	}
}

/** Order lines (sku, category, line revenue) of the given orders, by order id. */
export async function readLines(db: D1Database, site: string, orders: ReadonlySet<string>): Promise<{ lines: Map<string, { sku: string; category: string; revenueMinor: number }[]>; read: number }> {
	const lines = new Map<string, { sku: string; category: string; revenueMinor: number }[]>();
	let after: [string, string] = ["", ""];
	let read = 0;
	for (;;) {
		const page = await db
			.prepare(
				`SELECT oi.order_id, oi.sku, COALESCE(p.category, 'uncategorized'), oi.qty * oi.unit_price_minor
				FROM order_items oi LEFT JOIN products p ON p.site = oi.site AND p.sku = oi.sku
				WHERE oi.site = ?1 AND (oi.order_id, oi.sku) > (?2, ?3) ORDER BY oi.order_id, oi.sku LIMIT ?4`,
			)
			.bind(site, after[0], after[1], PAGE)
			.raw<[string, string, string, number]>();
		read += page.length;
		for (const [orderId, sku, category, revenueMinor] of page) {
			if (!orders.has(orderId)) continue;
			let list = lines.get(orderId);
			if (!list) lines.set(orderId, (list = []));
			list.push({ sku, category, revenueMinor });
		}
		const last = page.at(-1);
		if (!last || page.length < PAGE) return { lines, read };
		after = [last[0], last[1]];
	}
}

/** Each customer's acquisition channel: the customer record's, else their first order's, else `unknown`. */
async function acquisitionChannels(db: D1Database, site: string, orders: readonly OrderRow[]): Promise<Map<string, string>> {
	const rows = await db.prepare("SELECT customer_id, channel FROM customers WHERE site = ? AND channel IS NOT NULL").bind(site).raw<[string, string]>();
	const channels = new Map<string, string>(rows);
	for (const o of orders) if (!channels.has(o.customer)) channels.set(o.customer, o.channel ?? "unknown");
	return channels;
}

/** Local day of a UTC ms, memoised per UTC hour (offsets change on the hour), for passes over many orders. */
function localDays(timeZone: string): (ms: number) => string {
	const memo = new Map<number, string>();
	return (ms) => {
		const hour = Math.floor(ms / 3_600_000);
		let day = memo.get(hour);
		if (day === undefined) memo.set(hour, (day = localDay(hour * 3_600_000, timeZone)));
		return day;
	};
}

/** Deletes the (site, as_of) rows of a table and inserts `rows` (arrays in `columns` order after site, as_of) as statements of one batch. */
export function replaceStatements(db: D1Database, table: string, columns: readonly string[], site: string, asOf: string, rows: unknown[][], where = ""): D1PreparedStatement[] {
	const statements = [db.prepare(`DELETE FROM ${table} WHERE site = ?1 AND as_of = ?2 ${where}`).bind(site, asOf)];
	const select = columns.map((_, i) => `value ->> ${i}`).join(", ");
	for (const chunk of jsonChunks(rows)) {
		statements.push(db.prepare(`INSERT INTO ${table} (site, as_of, ${columns.join(", ")}) SELECT ?1, ?2, ${select} FROM json_each(?3)`).bind(site, asOf, chunk));
	}
	return statements;
}

export function resultStatement(db: D1Database, ctx: RunContext, kind: string, value: unknown): D1PreparedStatement {
	return db
		.prepare("INSERT INTO analytics_results (site, as_of, kind, json, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (site, as_of, kind) DO UPDATE SET json = excluded.json, created_at = excluded.created_at")
		.bind(ctx.site, ctx.asOf, kind, JSON.stringify(value), Date.now());
}

// ───────────── RFM ─────────────

async function rfmStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const from = ctx.cutoff - ctx.rfmWindowDays * DAY_MS;
	const orders = await readOrders(env.DB, ctx.site, ctx.cutoff, from);
	const scores = scoreRfm(orders, { asOf: ctx.cutoff, windowDays: ctx.rfmWindowDays });
	const summary = summarizeSegments(scores);
	// Movement against the last kept run a month or more before (the month-end history rfm_scores keeps).
	const previous = await env.DB.prepare("SELECT MAX(as_of) AS d FROM rfm_scores WHERE site = ? AND as_of <= ?").bind(ctx.site, addDays(ctx.asOf, -28)).first<{ d: string | null }>();
	let movement: { from: string; to: string; matrix: ReturnType<typeof segmentMovement> } | null = null;
	if (previous?.d) {
		const prev = await env.DB.prepare("SELECT customer_id, segment FROM rfm_scores WHERE site = ? AND as_of = ?").bind(ctx.site, previous.d).raw<[string, string]>();
		movement = { from: previous.d, to: ctx.asOf, matrix: segmentMovement(prev.map(([customer, segment]) => ({ customer, segment })), scores) };
	}
	const rows = scores.map((s) => [s.customer, s.recencyDays, s.frequency, s.monetaryMinor, s.r, s.f, s.m, s.segment]);
	await env.DB.batch([
		...replaceStatements(env.DB, "rfm_scores", ["customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "segment"], ctx.site, ctx.asOf, rows),
		resultStatement(env.DB, ctx, "segments", { window_days: ctx.rfmWindowDays, customers: scores.length, segments: summary }),
		resultStatement(env.DB, ctx, "segments:movement", movement),
	]);
	return { rowsRead: orders.length, rowsWritten: rows.length + 2, summary: { customers: scores.length } };
}

// ───────────── KPI breakdown by segment ─────────────

/** Days per statement of the segment rollup (each reads those days' orders through orders_site_placed). */
const SEGMENT_ROLLUP_DAYS = 62;
/** The label of orders whose customer has no score in the run (no order in the RFM window). */
export const UNSCORED = "Unscored";

/**
 * kpi_segment_daily: the sales measures of kpi_sales_daily (same definitions) per local day and the
 * customer's segment in this run, for every day up to the as-of day; `by=segment` in the KPI API reads it.
 * Rewritten whole each run, because a customer's segment today relabels their past orders too.
 */
async function segmentRollupStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const first = await env.DB.prepare("SELECT MIN(placed_at) AS t FROM orders WHERE site = ? AND placed_at < ?").bind(ctx.site, ctx.cutoff).first<{ t: number | null }>();
	const statements: D1PreparedStatement[] = [env.DB.prepare("DELETE FROM kpi_segment_daily WHERE site = ?").bind(ctx.site)];
	const days: [string, number, number][] = [];
	if (first?.t !== null && first?.t !== undefined) {
		for (let d = localDay(first.t, ctx.timezone); d <= ctx.asOf; d = addDays(d, 1)) days.push([d, ...dayBounds(d, ctx.timezone)]);
	}
	const segmentOf = `COALESCE((SELECT s.segment FROM rfm_scores s WHERE s.site = ?1 AND s.as_of = ?2 AND s.customer_id = o.customer_id), '${UNSCORED}')`;
	for (let i = 0; i < days.length; i += SEGMENT_ROLLUP_DAYS) {
		const chunk = JSON.stringify(days.slice(i, i + SEGMENT_ROLLUP_DAYS));
		statements.push(
			env.DB.prepare(
				`INSERT INTO kpi_segment_daily (site, day, segment, orders, revenue, gross_total, discount, shipping, tax, line_revenue, costed_revenue, cogs, units,
					multi_sku_orders, first_orders, subscription_orders, subscription_revenue, shipped_orders, fulfil_ms)
				SELECT ?1, day, segment, COUNT(*), SUM(revenue), SUM(total), SUM(discount), SUM(shipping), SUM(tax),
					SUM(line_revenue), SUM(costed_revenue), SUM(cogs), SUM(units), SUM(multi), SUM(is_first), SUM(sub), SUM(sub_revenue), SUM(shipped), SUM(fulfil)
				FROM (
					SELECT d.value ->> 0 AS day, ${segmentOf} AS segment, ${ORDER_MEASURES_SQL}
					FROM json_each(?3) d
					CROSS JOIN orders o ON o.site = ?1 AND o.placed_at >= d.value ->> 1 AND o.placed_at < d.value ->> 2 AND o.status <> 'cancelled'
					${orderLinesSql("?4", "?5")}
				)
				GROUP BY day, segment`,
			).bind(ctx.site, ctx.asOf, chunk, days[i]?.[1] ?? 0, days[Math.min(i + SEGMENT_ROLLUP_DAYS, days.length) - 1]?.[2] ?? 0),
			env.DB.prepare(
				`INSERT INTO kpi_segment_daily (site, day, segment, refunds, refund_amount, returns, shipping_errors)
				SELECT ?1, day, segment, COUNT(*), SUM(amount), SUM(is_return), SUM(shipping_error)
				FROM (
					SELECT d.value ->> 0 AS day, ${segmentOf} AS segment, r.amount_minor AS amount, r.is_return, COALESCE(${SHIPPING_ERROR_SQL}, 0) AS shipping_error
					FROM json_each(?3) d
					CROSS JOIN refunds r ON r.site = ?1 AND r.created_at >= d.value ->> 1 AND r.created_at < d.value ->> 2
					LEFT JOIN orders o ON o.site = r.site AND o.order_id = r.order_id
					WHERE (o.status IS NULL OR o.status <> 'cancelled')
				)
				GROUP BY day, segment
				ON CONFLICT (site, day, segment) DO UPDATE SET refunds = excluded.refunds, refund_amount = excluded.refund_amount, returns = excluded.returns, shipping_errors = excluded.shipping_errors`,
			).bind(ctx.site, ctx.asOf, chunk),
		);
	}
	statements.push(resultStatement(env.DB, ctx, "segments:rollup", { through: ctx.asOf, days: days.length }));
	await env.DB.batch(statements);
	const written = await env.DB.prepare("SELECT COUNT(*) AS n FROM kpi_segment_daily WHERE site = ?").bind(ctx.site).first<{ n: number }>();
	return { rowsRead: days.length, rowsWritten: written?.n ?? 0 };
}

// ───────────── Cohorts ─────────────

async function cohortsStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const orders = await readOrders(env.DB, ctx.site, ctx.cutoff);
	const { lines, read } = await readLines(env.DB, ctx.site, new Set(orders.map((o) => o.orderId)));
	const channels = await acquisitionChannels(env.DB, ctx.site, orders);
	const input: CohortOrder[] = orders.map((o) => ({
		customer: o.customer,
		placedAt: o.placedAt,
		revenueMinor: o.revenueMinor,
		channel: channels.get(o.customer) ?? "unknown",
		categories: [...new Set((lines.get(o.orderId) ?? []).map((l) => l.category))],
	}));
	const statements: D1PreparedStatement[] = [];
	for (const grain of ["month", "week"] as const) {
		const opts = { grain, timeZone: ctx.timezone, asOf: ctx.cutoff };
		statements.push(resultStatement(env.DB, ctx, `cohorts:retention:${grain}`, retentionCohorts(input, opts)));
		statements.push(resultStatement(env.DB, ctx, `cohorts:channel:${grain}`, channelCohorts(input, opts)));
	}
	statements.push(resultStatement(env.DB, ctx, "cohorts:product", productAdoption(input)));
	await env.DB.batch(statements);
	return { rowsRead: orders.length + read, rowsWritten: statements.length, summary: { customers: channels.size } };
}

// ───────────── Market basket ─────────────

async function basketStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const all = await readOrders(env.DB, ctx.site, ctx.cutoff);
	const { lines, read } = await readLines(env.DB, ctx.site, new Set(all.map((o) => o.orderId)));
	const from = ctx.cutoff - BASKET_WINDOW_DAYS * DAY_MS;
	const recent = all.filter((o) => o.placedAt >= from);
	const products = await env.DB.prepare("SELECT sku, price_minor, unit_cost_minor FROM products WHERE site = ?").bind(ctx.site).raw<[string, number, number | null]>();
	const margin = new Map(products.map(([sku, price, cost]) => [sku, cost === null ? null : price - cost]));

	const statements: D1PreparedStatement[] = [];
	let rulesWritten = 0;
	const levels = { product: (l: { sku: string; category: string }) => l.sku, category: (l: { sku: string; category: string }) => l.category } as const;
	const ruleRows = (rules: AssociationRule<string>[]) =>
		rules.slice(0, BASKET_MAX_RULES).map((r) => [JSON.stringify(r.antecedent), JSON.stringify(r.consequent), r.count, r.support, r.confidence, r.lift, r.conviction]);
	let productBundles: unknown = [];
	for (const [level, itemOf] of Object.entries(levels)) {
		const baskets = recent.map((o) => [...new Set((lines.get(o.orderId) ?? []).map(itemOf))]).filter((b) => b.length > 0);
		const itemsets = mineItemsets(baskets, BASKET_MIN_SUPPORT, BASKET_MAX_ITEMS);
		const rules = associationRules(itemsets, baskets.length, BASKET_MIN_CONFIDENCE);
		const rows = ruleRows(rules);
		rulesWritten += rows.length;
		statements.push(
			...replaceStatements(env.DB, "basket_rules", ["level", "antecedent", "consequent", "count", "support", "confidence", "lift", "conviction"], ctx.site, ctx.asOf, rows.map((r) => [level, ...r]), `AND level = '${level}'`),
		);
		if (level === "product") {
			productBundles = {
				baskets: baskets.length,
				min_support: BASKET_MIN_SUPPORT,
				bundles: bundleSuggestions(itemsets, rules, { minSupport: BASKET_MIN_SUPPORT, minLift: 1, marginOf: (sku) => margin.get(sku) ?? null }).slice(0, 200),
			};
		}
		statements.push(resultStatement(env.DB, ctx, `basket:${level}`, { baskets: baskets.length, itemsets: itemsets.length, rules: rules.length, kept: rows.length, min_support: BASKET_MIN_SUPPORT, min_confidence: BASKET_MIN_CONFIDENCE, window_days: BASKET_WINDOW_DAYS }));
	}
	statements.push(resultStatement(env.DB, ctx, "basket:bundles", productBundles));

	// Seasonality: line revenue per category and local month, whole months up to the as-of day's month (exclusive).
	const dayOf = localDays(ctx.timezone);
	const asOfMonth = ctx.asOf.slice(0, 7);
	const asOfMonthOver = addDays(ctx.asOf, 1).slice(0, 7) !== asOfMonth;
	const monthly = new Map<string, MonthlyRevenue>();
	for (const o of all) {
		const month = dayOf(o.placedAt).slice(0, 7);
		if (month === asOfMonth && !asOfMonthOver) continue; // a month that is not over would read as a slump
		for (const l of lines.get(o.orderId) ?? []) {
			const k = `${l.category}|${month}`;
			const m = monthly.get(k);
			if (m) m.revenueMinor += l.revenueMinor;
			else monthly.set(k, { category: l.category, month, revenueMinor: l.revenueMinor });
		}
	}
	statements.push(resultStatement(env.DB, ctx, "basket:seasonality", seasonalityIndex([...monthly.values()])));
	await env.DB.batch(statements);
	return { rowsRead: all.length + read, rowsWritten: rulesWritten + 4, summary: { baskets: recent.length, rules: rulesWritten } };
}

// ───────────── Customer lifetime value ─────────────

async function clvStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const orders = await readOrders(env.DB, ctx.site, ctx.cutoff);
	const transactions: Transaction[] = orders.map((o) => ({ customer: o.customer, at: o.placedAt, valueMinor: o.revenueMinor }));
	const summary = rfmSummary(transactions, { calibrationEnd: ctx.cutoff, unitMs: DAY_MS });
	// Gross margin of the year to the as-of day, from raw order lines (the rollups may still be catching up after an import).
	const marginRow = await env.DB.prepare(
		`SELECT COALESCE(SUM(oi.qty * oi.unit_price_minor), 0) AS revenue, COALESCE(SUM(oi.qty * COALESCE(oi.unit_cost_minor, p.unit_cost_minor)), 0) AS cogs
		FROM orders o CROSS JOIN order_items oi ON oi.site = o.site AND oi.order_id = o.order_id LEFT JOIN products p ON p.site = oi.site AND p.sku = oi.sku
		WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled' AND COALESCE(oi.unit_cost_minor, p.unit_cost_minor) IS NOT NULL`,
	)
		.bind(ctx.site, ctx.cutoff - 365 * DAY_MS, ctx.cutoff)
		.first<{ revenue: number; cogs: number }>();
	const margin = marginRow && marginRow.revenue > 0 ? (marginRow.revenue - marginRow.cogs) / marginRow.revenue : null;
	const statements: D1PreparedStatement[] = [];
	if (summary.length < 10 || !summary.some((c) => c.x > 0)) {
		statements.push(...replaceStatements(env.DB, "clv_scores", [], ctx.site, ctx.asOf, []));
		statements.push(resultStatement(env.DB, ctx, "clv:model", { status: "insufficient_data", reason: `needs at least 10 customers and one repeat purchase; found ${summary.length} customers` }));
		await env.DB.batch(statements);
		return { rowsRead: orders.length, rowsWritten: 1 };
	}
	const bgnbd = fitBgNbd(summary);
	const repeat = summary.filter((c) => c.x > 0 && c.mValue > 0);
	const gg = repeat.length >= 10 ? fitGammaGamma(repeat.map((c) => ({ x: c.x, mValue: c.mValue }))) : null;
	const holdoutEnd = ctx.cutoff;
	const calibrationEnd = ctx.cutoff - CLV_HOLDOUT_DAYS * DAY_MS;
	const holdout = orders.some((o) => o.placedAt < calibrationEnd) ? holdoutCheck(transactions, { calibrationEnd, holdoutEnd, unitMs: DAY_MS }) : null;
	const rows = summary.map((c) => {
		const value = gg ? customerLifetimeValue(bgnbd, gg, c, { months: CLV_MONTHS, monthlyDiscountRate: CLV_MONTHLY_DISCOUNT, unitsPerMonth: 30, margin: margin ?? 1 }) : null;
		return [
			c.customer, c.x, c.tx, c.T, bgNbdPAlive(bgnbd, c.x, c.tx, c.T), bgNbdExpectedPurchases(bgnbd, 30, c.x, c.tx, c.T), bgNbdExpectedPurchases(bgnbd, 90, c.x, c.tx, c.T),
			bgNbdExpectedPurchases(bgnbd, 365, c.x, c.tx, c.T), value?.expectedSpendMinor ?? 0, value?.valueMinor ?? 0,
		];
	});
	statements.push(
		...replaceStatements(env.DB, "clv_scores", ["customer_id", "x", "tx", "age", "p_alive", "expected_30", "expected_90", "expected_365", "expected_spend_minor", "clv_minor"], ctx.site, ctx.asOf, rows),
	);
	statements.push(
		resultStatement(env.DB, ctx, "clv:model", {
			status: "ok",
			unit: "day",
			customers: summary.length,
			repeat_customers: repeat.length,
			bg_nbd: bgnbd,
			gamma_gamma: gg,
			margin,
			margin_source: margin === null ? "no unit costs known: CLV is revenue, not margin" : "gross margin of the 365 days to the as-of day (lines with a known cost)",
			horizon_months: CLV_MONTHS,
			monthly_discount_rate: CLV_MONTHLY_DISCOUNT,
			holdout: holdout && { calibration_end: localDay(calibrationEnd - 1, ctx.timezone), holdout_days: CLV_HOLDOUT_DAYS, ...holdout },
		}),
	);
	await env.DB.batch(statements);
	return { rowsRead: orders.length, rowsWritten: rows.length + 1, summary: { customers: summary.length, log_likelihood: bgnbd.logLikelihood } };
}

/** The descriptive analyses in order; each is one retried Workflow step (jobs/nightly.ts adds the predictive ones). */
export const ANALYSES: readonly { name: string; run: (env: Env, ctx: RunContext) => Promise<StepResult> }[] = [
	{ name: "rfm", run: rfmStep },
	{ name: "segment_rollup", run: segmentRollupStep },
	{ name: "cohorts", run: cohortsStep },
	{ name: "basket", run: basketStep },
	{ name: "clv", run: clvStep },
];

/** Writes the run's results as one JSON object to R2 at analytics/site=<site>/as_of=<day>/results.json. */
export async function snapshotRun(env: Env, ctx: RunContext): Promise<StepResult> {
	const results = await env.DB.prepare("SELECT kind, json FROM analytics_results WHERE site = ? AND as_of = ? ORDER BY kind").bind(ctx.site, ctx.asOf).raw<[string, string]>();
	const segments = await env.DB.prepare("SELECT segment, COUNT(*) AS n FROM rfm_scores WHERE site = ? AND as_of = ? GROUP BY segment ORDER BY segment").bind(ctx.site, ctx.asOf).raw<[string, number]>();
	const body = JSON.stringify({
		site: ctx.site,
		as_of: ctx.asOf,
		run: ctx.runId,
		written_at: new Date().toISOString(),
		results: Object.fromEntries(results.map(([kind, json]) => [kind, JSON.parse(json) as unknown])),
		segment_sizes: Object.fromEntries(segments),
	});
	await env.ARCHIVE.put(snapshotKey(ctx.site, ctx.asOf), body, { httpMetadata: { contentType: "application/json" } });
	return { rowsRead: results.length + segments.length, rowsWritten: 1 };
}

export function snapshotKey(site: string, asOf: string): string {
	return `analytics/site=${site}/as_of=${asOf}/results.json`;
}

/** Drops per-customer rows of days that are neither among the latest runs nor a month's last day. */
export async function pruneScores(env: Env, ctx: RunContext): Promise<StepResult> {
	let deleted = 0;
	for (const table of ["rfm_scores", "clv_scores", "churn_scores", "recommendations", "next_actions"]) {
		// Staged rows (next_actions' `<as_of>#<run id>`, see actionsStep) are no day: a running attempt owns them and the day's next attempt drops them.
		const days = await env.DB.prepare(`SELECT DISTINCT as_of FROM ${table} WHERE site = ? AND instr(as_of, '#') = 0 ORDER BY as_of DESC`).bind(ctx.site).raw<[string]>();
		const drop = days
			.map(([d]) => d)
			.filter((d, i) => i >= KEEP_RECENT_RUNS && addDays(d, 1).slice(0, 7) === d.slice(0, 7));
		if (!drop.length) continue;
		const res = await env.DB.prepare(`DELETE FROM ${table} WHERE site = ? AND as_of IN (SELECT value FROM json_each(?))`).bind(ctx.site, JSON.stringify(drop)).run();
		deleted += res.meta.changes ?? 0;
	}
	return { rowsRead: 0, rowsWritten: deleted };
}
