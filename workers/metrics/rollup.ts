/**
 * Daily KPI rollups, kept current from the dirty hours that the raw tables' triggers record
 * (migrations/0005_rollups.sql). Re-rolling a day deletes its rollup rows and recomputes them from raw
 * rows in one transaction together with clearing the dirty hours it covered, so the result is the same
 * however often, late or out of order the raw data arrived. Days are the site's local days.
 *
 * Who calls it: the KPI query (for the days it is about to read, bounded), the import consumer after
 * each slice, and the cron sweep (everything left).
 */
import { z } from "zod";
import { jsonChunks } from "../lib/json-rows";
import { findSite } from "../lib/sites";
import { dayBounds, daysOfHour, localDay } from "./calendar";

export const SOURCES = ["sales", "web", "support", "inventory", "supply"] as const;
export type Source = (typeof SOURCES)[number];

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A customer with no order for this many days has lapsed (churned). */
export const LAPSE_DAYS = 90;
/** Sessions are rebuilt from events this far either side of the day (a session that spans midnight starts on its first event's day). */
const SESSION_MARGIN_MS = 6 * HOUR;
/**
 * Days per D1 batch (one transaction each). A web day rebuilds sessions from ~30 hours of events
 * (~0.3–0.5 s locally for the demo store), so web days go one per batch and other requests interleave
 * instead of waiting for a multi-second transaction.
 */
const DAYS_PER_BATCH: Record<Source, number> = { sales: 20, web: 1, support: 40, inventory: 40, supply: 40 };

/** Refund reasons that count as a shipping error (wrong, missing, damaged or lost goods). */
export const SHIPPING_ERROR_SQL = "(COALESCE(r.reason, '') LIKE '%wrong item%' OR r.reason LIKE '%missing item%' OR r.reason LIKE '%damaged%' OR r.reason LIKE '%lost in transit%')";

/**
 * Rollup rows come in grouping sets: one row per day with every dimension '' (the whole site), and one
 * row per value of each single dimension with the others '' — the only shapes a query reads (`by` takes
 * one dimension), so a 24-month query reads ~730 rows per table, not every combination.
 */
const SET2 = "CASE WHEN g.value = 1 THEN channel ELSE '' END, CASE WHEN g.value = 2 THEN country ELSE '' END";

/**
 * The sales measures of one order `o` (revenue = total − tax; `li` its lines, from orderLinesSql): the columns
 * kpi_sales_daily sums per day × channel × country, and the nightly run's kpi_segment_daily per day × segment.
 */
export const ORDER_MEASURES_SQL = `o.total_minor - o.tax_minor AS revenue, o.total_minor AS total,
				o.discount_minor AS discount, o.shipping_minor AS shipping, o.tax_minor AS tax,
				COALESCE(li.line_revenue, 0) AS line_revenue, COALESCE(li.costed_revenue, 0) AS costed_revenue, COALESCE(li.cogs, 0) AS cogs, COALESCE(li.units, 0) AS units,
				COALESCE(li.skus >= 2, 0) AS multi,
				NOT EXISTS (SELECT 1 FROM orders p WHERE p.site = o.site AND p.customer_id = o.customer_id AND p.status <> 'cancelled'
					AND (p.placed_at < o.placed_at OR (p.placed_at = o.placed_at AND p.order_id < o.order_id))) AS is_first,
				o.is_subscription AS sub, CASE WHEN o.is_subscription THEN o.total_minor - o.tax_minor ELSE 0 END AS sub_revenue,
				o.shipped_at IS NOT NULL AS shipped, CASE WHEN o.shipped_at IS NOT NULL THEN o.shipped_at - o.placed_at ELSE 0 END AS fulfil`;

/** `LEFT JOIN (…) li`: line revenue, units, SKUs, costed revenue and COGS per order of site ?1 placed in [start, end) (SQL expressions). */
export function orderLinesSql(start: string, end: string): string {
	return `LEFT JOIN (
				SELECT i.order_id, SUM(i.qty * i.unit_price_minor) AS line_revenue, SUM(i.qty) AS units, COUNT(*) AS skus,
					SUM(CASE WHEN COALESCE(i.unit_cost_minor, p.unit_cost_minor) IS NULL THEN 0 ELSE i.qty * i.unit_price_minor END) AS costed_revenue,
					SUM(i.qty * COALESCE(i.unit_cost_minor, p.unit_cost_minor, 0)) AS cogs
				FROM orders oo CROSS JOIN order_items i ON i.site = oo.site AND i.order_id = oo.order_id
				LEFT JOIN products p ON p.site = i.site AND p.sku = i.sku
				WHERE oo.site = ?1 AND oo.placed_at >= ${start} AND oo.placed_at < ${end}
				GROUP BY i.order_id
			) li ON li.order_id = o.order_id`;
}

/**
 * An order with status `refunded` or `returned` and no refund record is a full refund of its total (with tax, as a
 * refund record of the whole order would be), dated on the day the order was placed: orders carry no status date
 * (`updated_at` is when the record was written, which for an import is the import's day), and the placed day is the
 * one the order triggers re-roll. `returned` also counts as a return of every line. As soon as a refund record
 * exists for the order, the records alone count (reroll re-rolls the placed day when one arrives).
 */
export const IMPLIED_REFUND_STATUSES = "('refunded', 'returned')";
const NO_REFUND_RECORD = "NOT EXISTS (SELECT 1 FROM refunds rr WHERE rr.site = o.site AND rr.order_id = o.order_id)";

// Each statement binds ?1 site, ?2 day label, ?3 day start (UTC ms), ?4 day end (exclusive). CROSS JOIN fixes
// the join order (SQLite's documented hint): the day's orders drive the lookups of their lines, never the reverse.
// `eventsEnd`: events after it are not read (the day's end plus the session margin; a cut window's end for a partial day).
const daySql = (eventsEnd: string): Record<Source, string[]> => ({
	sales: [
		"DELETE FROM kpi_sales_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		"DELETE FROM kpi_products_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		`INSERT INTO kpi_sales_daily (site, day, channel, country, orders, revenue, gross_total, discount, shipping, tax, line_revenue, costed_revenue, cogs, units,
			multi_sku_orders, first_orders, subscription_orders, subscription_revenue, shipped_orders, fulfil_ms)
		SELECT ?1, ?2, ${SET2}, COUNT(*), SUM(revenue), SUM(total), SUM(discount), SUM(shipping), SUM(tax),
			SUM(line_revenue), SUM(costed_revenue), SUM(cogs), SUM(units), SUM(multi), SUM(is_first), SUM(sub), SUM(sub_revenue), SUM(shipped), SUM(fulfil)
		FROM (
			SELECT COALESCE(o.channel, 'unknown') AS channel, COALESCE(c.country, 'unknown') AS country, ${ORDER_MEASURES_SQL}
			FROM orders o
			LEFT JOIN customers c ON c.site = o.site AND c.customer_id = o.customer_id
			${orderLinesSql("?3", "?4")}
			WHERE o.site = ?1 AND o.placed_at >= ?3 AND o.placed_at < ?4 AND o.status <> 'cancelled'
		) CROSS JOIN json_each('[0, 1, 2]') g
		GROUP BY 3, 4`,
		`INSERT INTO kpi_sales_daily (site, day, channel, country, refunds, refund_amount, returns, shipping_errors)
		SELECT ?1, ?2, ${SET2}, COUNT(*), SUM(amount), SUM(is_return), SUM(shipping_error)
		FROM (
			SELECT COALESCE(o.channel, 'unknown') AS channel, COALESCE(c.country, 'unknown') AS country, r.amount_minor AS amount, r.is_return, COALESCE(${SHIPPING_ERROR_SQL}, 0) AS shipping_error
			FROM refunds r
			LEFT JOIN orders o ON o.site = r.site AND o.order_id = r.order_id
			LEFT JOIN customers c ON c.site = o.site AND c.customer_id = o.customer_id
			WHERE r.site = ?1 AND r.created_at >= ?3 AND r.created_at < ?4 AND (o.status IS NULL OR o.status <> 'cancelled')
			UNION ALL
			SELECT COALESCE(o.channel, 'unknown'), COALESCE(c.country, 'unknown'), o.total_minor, o.status = 'returned', 0
			FROM orders o
			LEFT JOIN customers c ON c.site = o.site AND c.customer_id = o.customer_id
			WHERE o.site = ?1 AND o.placed_at >= ?3 AND o.placed_at < ?4 AND o.status IN ${IMPLIED_REFUND_STATUSES} AND ${NO_REFUND_RECORD}
		) CROSS JOIN json_each('[0, 1, 2]') g
		GROUP BY 3, 4
		ON CONFLICT (site, day, channel, country) DO UPDATE SET refunds = excluded.refunds, refund_amount = excluded.refund_amount, returns = excluded.returns, shipping_errors = excluded.shipping_errors`,
		`INSERT INTO kpi_products_daily (site, day, sku, orders, units, line_revenue, costed_revenue, cogs)
		SELECT ?1, ?2, CASE WHEN g.value = 1 THEN sku ELSE '' END, COUNT(*), SUM(qty), SUM(line_revenue), SUM(costed_revenue), SUM(cogs)
		FROM (
			SELECT i.sku, i.qty, i.qty * i.unit_price_minor AS line_revenue,
				CASE WHEN COALESCE(i.unit_cost_minor, p.unit_cost_minor) IS NULL THEN 0 ELSE i.qty * i.unit_price_minor END AS costed_revenue,
				i.qty * COALESCE(i.unit_cost_minor, p.unit_cost_minor, 0) AS cogs
			FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
			LEFT JOIN products p ON p.site = i.site AND p.sku = i.sku
			WHERE o.site = ?1 AND o.placed_at >= ?3 AND o.placed_at < ?4 AND o.status <> 'cancelled'
		) CROSS JOIN json_each('[0, 1]') g
		GROUP BY 3`,
		`INSERT INTO kpi_products_daily (site, day, sku, returned_units)
		SELECT ?1, ?2, CASE WHEN g.value = 1 THEN sku ELSE '' END, SUM(qty)
		FROM (
			SELECT r.sku, COALESCE(r.qty, 1) AS qty
			FROM refunds r LEFT JOIN orders o ON o.site = r.site AND o.order_id = r.order_id
			WHERE r.site = ?1 AND r.created_at >= ?3 AND r.created_at < ?4 AND r.is_return AND r.sku IS NOT NULL AND (o.status IS NULL OR o.status <> 'cancelled')
			UNION ALL
			SELECT i.sku, i.qty
			FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
			WHERE o.site = ?1 AND o.placed_at >= ?3 AND o.placed_at < ?4 AND o.status = 'returned' AND ${NO_REFUND_RECORD}
		) CROSS JOIN json_each('[0, 1]') g
		GROUP BY 3
		ON CONFLICT (site, day, sku) DO UPDATE SET returned_units = excluded.returned_units`,
	],
	web: [
		"DELETE FROM kpi_web_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		"DELETE FROM kpi_product_views_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		// A purchase whose props SQLite refuses as JSON (e.g. nested past its depth limit, stored before /e bounded
		// it) is skipped by the product-views rollup below, not allowed to fail the day: it is recorded here instead.
		`INSERT INTO data_issues (site, kind, ref, detail, detected_at)
		SELECT ?1, 'malformed_props', 'events/' || id, 'props are not JSON that SQLite accepts; the purchase''s items were left out of the product rollup of ' || ?2, CAST(unixepoch('subsec') * 1000 AS INTEGER)
		FROM events WHERE site = ?1 AND ts >= ?3 - ${SESSION_MARGIN_MS} AND ts < ${eventsEnd} AND name = 'purchase' AND NOT json_valid(props)
		ON CONFLICT (site, kind, ref) DO NOTHING`,
		`INSERT INTO kpi_web_daily (site, day, channel, device, country, visitors, sessions, events, page_views, bounces, duration_ms,
			view_sessions, view_purchase_sessions, cart_sessions, cart_purchase_sessions, checkout_sessions, checkout_purchase_sessions, purchase_sessions)
		WITH ${sessionCtes(eventsEnd)}
		SELECT ?1, ?2, CASE WHEN g.value = 1 THEN channel ELSE '' END, CASE WHEN g.value = 2 THEN device ELSE '' END, CASE WHEN g.value = 3 THEN country ELSE '' END,
			COUNT(DISTINCT visitor), COUNT(*), SUM(events), SUM(page_views), SUM(events = 1), SUM(ended - started),
			SUM(viewed), SUM(viewed AND bought), SUM(carted), SUM(carted AND bought), SUM(checked), SUM(checked AND bought), SUM(bought)
		FROM sess CROSS JOIN json_each('[0, 1, 2, 3]') g
		WHERE started >= ?3 AND started < ?4
		GROUP BY 3, 4, 5`,
		`INSERT INTO kpi_product_views_daily (site, day, sku, view_sessions, purchase_sessions)
		WITH ${sessionCtes(eventsEnd)},
		pairs AS (
			SELECT visitor, sno, sku, 1 AS viewed, 0 AS bought FROM numbered WHERE name = 'product_view' AND sku IS NOT NULL AND started >= ?3 AND started < ?4
			UNION ALL
			SELECT n.visitor, n.sno, j.value ->> 'sku', 0, 1 FROM numbered n, json_each(CASE WHEN json_valid(n.props) THEN n.props END, '$.items') j
			WHERE n.name = 'purchase' AND n.started >= ?3 AND n.started < ?4
		)
		SELECT ?1, ?2, CASE WHEN g.value = 1 THEN sku ELSE '' END, COUNT(*), SUM(bought)
		FROM (SELECT sku, MAX(viewed) AS viewed, MAX(bought) AS bought FROM pairs GROUP BY visitor, sno, sku) CROSS JOIN json_each('[0, 1]') g
		WHERE viewed = 1 AND sku IS NOT NULL
		GROUP BY 3`,
	],
	support: [
		"DELETE FROM kpi_support_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		`INSERT INTO kpi_support_daily (site, day, tickets_opened, tickets_resolved, first_responses, first_response_ms, resolution_ms,
			nps_responses, promoters, detractors, csat_responses, csat_satisfied, csat_sum)
		SELECT ?1, ?2, t.opened, t.resolved, t.responded, t.response_ms, t.resolution_ms, s.nps, s.promoters, s.detractors, s.csat, s.satisfied, s.csat_sum
		FROM (
			SELECT COUNT(*) AS opened, COALESCE(SUM(resolved_at IS NOT NULL), 0) AS resolved, COALESCE(SUM(first_response_at IS NOT NULL), 0) AS responded,
				COALESCE(SUM(first_response_at - opened_at), 0) AS response_ms,
				(SELECT json_group_array(ms) FROM (SELECT resolved_at - opened_at AS ms FROM tickets WHERE site = ?1 AND opened_at >= ?3 AND opened_at < ?4 AND resolved_at IS NOT NULL ORDER BY ms)) AS resolution_ms
			FROM tickets WHERE site = ?1 AND opened_at >= ?3 AND opened_at < ?4
		) t, (
			SELECT COALESCE(SUM(kind = 'nps'), 0) AS nps, COALESCE(SUM(kind = 'nps' AND score >= 9), 0) AS promoters, COALESCE(SUM(kind = 'nps' AND score <= 6), 0) AS detractors,
				COALESCE(SUM(kind = 'csat'), 0) AS csat, COALESCE(SUM(kind = 'csat' AND score >= 4), 0) AS satisfied, COALESCE(SUM(CASE WHEN kind = 'csat' THEN score ELSE 0 END), 0) AS csat_sum
			FROM surveys WHERE site = ?1 AND kind IN ('nps', 'csat') AND responded_at >= ?3 AND responded_at < ?4
		) s
		WHERE t.opened + s.nps + s.csat > 0`,
	],
	inventory: [
		"DELETE FROM kpi_inventory_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		`INSERT INTO kpi_inventory_daily (site, day, skus, stockouts, below_reorder, inventory_value)
		SELECT ?1, ?2, COUNT(*), SUM(s.stock <= 0), SUM(s.reorder_point IS NOT NULL AND s.stock < s.reorder_point), COALESCE(SUM(MAX(s.stock, 0) * COALESCE(p.unit_cost_minor, 0)), 0)
		FROM (
			SELECT sku, stock, reorder_point, ROW_NUMBER() OVER (PARTITION BY sku ORDER BY taken_at DESC) AS rn
			FROM inventory_snapshots WHERE site = ?1 AND taken_at >= ?3 AND taken_at < ?4
		) s LEFT JOIN products p ON p.site = ?1 AND p.sku = s.sku
		WHERE s.rn = 1
		HAVING COUNT(*) > 0`,
	],
	supply: [
		"DELETE FROM kpi_supply_daily WHERE site = ?1 AND day = ?2 AND ?3 IS NOT NULL AND ?4 IS NOT NULL",
		`INSERT INTO kpi_supply_daily (site, day, due, delivered, on_time, lead_days_sum, lead_days_sq)
		SELECT ?1, ?2, COUNT(*), SUM(delivered_at IS NOT NULL), SUM(delivered_at IS NOT NULL AND delivered_at <= promised_at),
			COALESCE(SUM((delivered_at - ordered_at) / 86400000.0), 0), COALESCE(SUM(((delivered_at - ordered_at) / 86400000.0) * ((delivered_at - ordered_at) / 86400000.0)), 0)
		FROM supplier_deliveries WHERE site = ?1 AND promised_at >= ?3 AND promised_at < ?4
		HAVING COUNT(*) > 0`,
	],
});
const DAY_SQL = daySql(`?4 + ${SESSION_MARGIN_MS}`);

/** A rollup statement read back as a query: its table, the columns its SELECT returns in order, and the SELECT. */
export interface RollupSelect {
	table: string;
	columns: string[];
	sql: string;
}

/**
 * The rollup SELECTs of a source as plain queries (INSERT and ON CONFLICT stripped), for a window that is not a
 * whole day: the KPI query cuts a comparison day at the elapsed time of today with the rollup's own definitions.
 * Events after the window's end are not read, so a session is seen as it was at the cut.
 */
export const CUT_SELECTS: Record<Source, RollupSelect[]> = Object.fromEntries(
	Object.entries(daySql("?4")).map(([source, list]) => [
		source,
		list.flatMap((sql) => {
			const m = /^\s*INSERT INTO (kpi_\w+) \(([^)]*)\)\s*([\s\S]*?)\s*(ON CONFLICT \(site, day[\s\S]*)?$/.exec(sql);
			return m ? [{ table: m[1] as string, columns: (m[2] as string).split(",").map((c) => c.trim()), sql: m[3] as string }] : [];
		}),
	]),
) as Record<Source, RollupSelect[]>;

/** Sessions of the events around the day: a new session after 30 minutes idle; dimensions of its first event. */
function sessionCtes(eventsEnd: string): string {
	return `ev AS (
			SELECT visitor, id, ts, name, channel, device, COALESCE(country, 'unknown') AS country, sku, props FROM events
			WHERE site = ?1 AND ts >= ?3 - ${SESSION_MARGIN_MS} AND ts < ${eventsEnd}
		),
		marked AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY visitor ORDER BY ts, id) <= 1800000 THEN 0 ELSE 1 END AS is_start FROM ev),
		numbered AS (
			SELECT *, SUM(is_start) OVER w AS sno, MAX(CASE WHEN is_start THEN ts END) OVER w AS started
			FROM marked WINDOW w AS (PARTITION BY visitor ORDER BY ts, id ROWS UNBOUNDED PRECEDING)
		),
		sess AS (
			SELECT visitor, sno, MIN(ts) AS started, MAX(ts) AS ended, COUNT(*) AS events, SUM(name = 'page_view') AS page_views,
				MAX(name = 'product_view') AS viewed, MAX(name = 'add_to_cart') AS carted, MAX(name = 'begin_checkout') AS checked, MAX(name = 'purchase') AS bought,
				MAX(CASE WHEN is_start THEN channel END) AS channel, MAX(CASE WHEN is_start THEN device END) AS device, MAX(CASE WHEN is_start THEN country END) AS country
			FROM numbered GROUP BY visitor, sno
		)`;
}

const dirtyRow = z.object({ source: z.enum(SOURCES), hour: z.number().int() });

export interface RerollResult {
	/** (source, day) pairs recomputed. */
	days: number;
	/** Whether the customer-base table was recomputed. */
	customers: boolean;
	/** Dirty hours still waiting (the limit was reached). */
	remaining: boolean;
}

/**
 * Recomputes the days of up to `maxHours` dirty hours of a site (all sources), oldest first, or only
 * those within [from, to] local days when given. The customer base is recomputed when any sales day was.
 */
export async function reroll(db: D1Database, site: { id: string; timezone: string }, opts: { maxHours?: number; from?: string; to?: string } = {}): Promise<RerollResult> {
	const maxHours = opts.maxHours ?? 5000;
	const tz = site.timezone;
	// Hours overlapping the local range (one extra hour either side covers any offset).
	const lo = opts.from ? Math.floor(dayBounds(opts.from, tz)[0] / HOUR) - 1 : -1e12;
	const hi = opts.to ? Math.floor(dayBounds(opts.to, tz)[1] / HOUR) + 1 : 1e12;
	const raw = await db.prepare("SELECT source, hour FROM rollup_dirty WHERE site = ? AND hour BETWEEN ? AND ? ORDER BY hour LIMIT ?").bind(site.id, lo, hi, maxHours + 1).all();
	const rows = raw.results.map((r) => dirtyRow.parse(r));
	const remaining = rows.length > maxHours;
	if (remaining) {
		// Never split an hour's days across calls: drop the last hour's rows so it is handled whole next time.
		const lastHour = rows[maxHours]?.hour;
		while (rows.length && rows.at(-1)?.hour === lastHour) rows.pop();
	}
	if (!rows.length) return { days: 0, customers: false, remaining };

	// (source, day) → the dirty hours it clears; an hour spanning two local days is cleared with the later one.
	const work = new Map<string, { source: Source; day: string; hours: number[] }>();
	for (const { source, hour } of rows) {
		const days = daysOfHour(hour, tz);
		days.forEach((day, i) => {
			const k = `${day}|${source}`;
			let w = work.get(k);
			if (!w) work.set(k, (w = { source, day, hours: [] }));
			if (i === days.length - 1) w.hours.push(hour);
		});
	}
	// A refund record written (or moved) for a refunded/returned order replaces the implied refund on the order's
	// placed day, which the refund's own trigger does not mark: that day is re-rolled too (clearing no hour).
	const salesHours = [...new Set(rows.filter((r) => r.source === "sales").map((r) => r.hour))];
	if (salesHours.length) {
		const placed = await db
			.prepare(
				`SELECT DISTINCT o.placed_at AS t FROM json_each(?2) h
				CROSS JOIN refunds r ON r.site = ?1 AND r.created_at >= h.value * ${HOUR} AND r.created_at < (h.value + 1) * ${HOUR}
				JOIN orders o ON o.site = r.site AND o.order_id = r.order_id
				WHERE o.status IN ${IMPLIED_REFUND_STATUSES}`,
			)
			.bind(site.id, JSON.stringify(salesHours))
			.all<{ t: number }>();
		for (const { t } of placed.results) {
			const day = localDay(t, tz);
			if (!work.has(`${day}|sales`)) work.set(`${day}|sales`, { source: "sales", day, hours: [] });
		}
	}
	// By source, then day: batches hold days of one source (the sources' rollups are independent).
	const items = [...work.values()].sort((a, b) => (a.source + a.day < b.source + b.day ? -1 : a.source + a.day > b.source + b.day ? 1 : 0));
	const clear = db.prepare("DELETE FROM rollup_dirty WHERE site = ? AND source = ? AND hour IN (SELECT value FROM json_each(?))");
	// Funnel rollups (workers/funnels/rollup.ts) re-roll the days an event hour reaches: every web hour cleared
	// here is handed to them in the same transaction, re-marked (v + 1) if still pending, so none is lost.
	const markFunnels = db.prepare("INSERT INTO funnel_dirty (site, hour) SELECT ?, value FROM json_each(?) WHERE true ON CONFLICT (site, hour) DO UPDATE SET v = v + 1");
	// The journey rollups (workers/customers/journey-rollup.ts) get the same hand-over, in their own table.
	const markJourneys = db.prepare("INSERT INTO journey_dirty (site, hour) SELECT ?, value FROM json_each(?) WHERE true ON CONFLICT (site, hour) DO UPDATE SET v = v + 1");
	// Imported web history (the web_daily entity, migration 0026) fills a web day only when the raw events above gave
	// it no session: tracked days always come from events. Kept out of DAY_SQL so the KPI query's partial-day cut
	// (CUT_SELECTS), which needs event times, never reads whole-day history.
	const webHistory = db.prepare(
		`INSERT INTO kpi_web_daily (site, day, channel, device, country, visitors, sessions, events, page_views, bounces, duration_ms,
			view_sessions, view_purchase_sessions, cart_sessions, cart_purchase_sessions, checkout_sessions, checkout_purchase_sessions, purchase_sessions)
		SELECT site, day, channel, device, country, visitors, sessions, events, page_views, bounces, duration_ms,
			view_sessions, view_purchase_sessions, cart_sessions, cart_purchase_sessions, checkout_sessions, checkout_purchase_sessions, purchase_sessions
		FROM web_daily WHERE site = ?1 AND day = ?2 AND NOT EXISTS (SELECT 1 FROM kpi_web_daily WHERE site = ?1 AND day = ?2)`,
	);
	const chunks: (typeof items)[] = [];
	for (const w of items) {
		const last = chunks.at(-1);
		if (last && last[0]?.source === w.source && last.length < DAYS_PER_BATCH[w.source]) last.push(w);
		else chunks.push([w]);
	}
	for (const chunk of chunks) {
		const statements: D1PreparedStatement[] = [];
		for (const w of chunk) {
			const [start, end] = dayBounds(w.day, tz);
			for (const sql of DAY_SQL[w.source]) statements.push(db.prepare(sql).bind(site.id, w.day, start, end));
			if (w.source === "web") statements.push(webHistory.bind(site.id, w.day));
			if (w.hours.length && w.source === "web") statements.push(markFunnels.bind(site.id, JSON.stringify(w.hours)));
			if (w.hours.length && w.source === "web") statements.push(markJourneys.bind(site.id, JSON.stringify(w.hours)));
			if (w.hours.length) statements.push(clear.bind(site.id, w.source, JSON.stringify(w.hours)));
		}
		await db.batch(statements);
	}
	const customers = items.some((w) => w.source === "sales");
	if (customers) await rollCustomers(db, site);
	return { days: items.length, customers, remaining };
}

/** Re-rolls one site's dirty hours, oldest first, up to `maxHours`; never throws (the next call retries). */
export async function refreshRollups(env: Env, siteId: string, maxHours = 50_000): Promise<RerollResult | null> {
	try {
		const site = await findSite(env.DB, siteId);
		return site ? await reroll(env.DB, site, { maxHours }) : null;
	} catch (err) {
		console.error(`rollup refresh of ${siteId} failed; cron retries`, err instanceof Error ? err.message : err);
		return null;
	}
}

/** Cron: every site with dirty hours gets a bounded re-roll. Returns the (source, day) pairs recomputed. */
export async function sweepRollups(env: Env, maxHours = 20_000): Promise<number> {
	const sites = await env.DB.prepare("SELECT DISTINCT site FROM rollup_dirty LIMIT 100").all<{ site: string }>();
	let days = 0;
	for (const { site } of sites.results) days += (await refreshRollups(env, site, maxHours))?.days ?? 0;
	return days;
}

/**
 * Daily customer base, in whole local days. A customer is active on day D when they ordered on one of
 * the 90 days before D; they lapse (churn) at the end of their last active day, 90 days after an order
 * with none since. Input: orders sorted by customer, then time. Output: every day from the first order
 * to the last lapse, with `active` (customers active that day) and `lapsed` (customers whose last
 * active day it is), so lapses in a period are all of customers who were active in it.
 */
export function customerBase(orders: { customer: string; at: number }[], timeZone: string): Map<string, { active: number; lapsed: number }> {
	const dayCache = new Map<number, number>();
	const dayNumber = (ms: number) => {
		const h = Math.floor(ms / HOUR);
		let d = dayCache.get(h);
		if (d === undefined) dayCache.set(h, (d = Date.parse(`${localDay(ms, timeZone)}T00:00:00Z`) / DAY));
		return d;
	};
	const delta = new Map<number, number>();
	const lapses = new Map<number, number>();
	const add = (m: Map<number, number>, k: number, v: number) => m.set(k, (m.get(k) ?? 0) + v);
	const days = orders.map((o) => dayNumber(o.at));
	for (let i = 0; i < orders.length; i++) {
		const o = orders[i] as { customer: string; at: number };
		const day = days[i] as number;
		const nextDay = orders[i + 1]?.customer === o.customer ? (days[i + 1] as number) : undefined;
		// This order covers days day+1 … min(day+90, next order day); the next order covers from its own day+1.
		const last = nextDay === undefined ? day + LAPSE_DAYS : Math.min(day + LAPSE_DAYS, nextDay);
		if (last >= day + 1) {
			add(delta, day + 1, 1);
			add(delta, last + 1, -1);
		}
		if (nextDay === undefined || nextDay > day + LAPSE_DAYS) add(lapses, day + LAPSE_DAYS, 1);
	}
	const out = new Map<string, { active: number; lapsed: number }>();
	if (!orders.length) return out;
	// From the first order's day (nobody active yet), so a range starting there reads 0 active, not the next day's count.
	const first = days.reduce((a, b) => (b < a ? b : a), Infinity);
	const lastDay = Math.max(...delta.keys(), ...lapses.keys());
	let active = 0;
	for (let d = first; d <= lastDay; d++) {
		active += delta.get(d) ?? 0;
		out.set(new Date(d * DAY).toISOString().slice(0, 10), { active, lapsed: lapses.get(d) ?? 0 });
	}
	return out;
}

async function rollCustomers(db: D1Database, site: { id: string; timezone: string }): Promise<void> {
	const r = await db
		.prepare("SELECT customer_id AS c, placed_at AS t FROM orders WHERE site = ? AND status <> 'cancelled' ORDER BY customer_id, placed_at, order_id")
		.bind(site.id)
		.raw<[string, number]>();
	const base = customerBase(
		r.map(([customer, at]) => ({ customer, at })),
		site.timezone,
	);
	const rows = [...base].map(([day, v]) => [site.id, day, v.active, v.lapsed]);
	await db.batch([
		db.prepare("DELETE FROM kpi_customers_daily WHERE site = ?").bind(site.id),
		...jsonChunks(rows).map((json) =>
			db.prepare("INSERT INTO kpi_customers_daily (site, day, active, lapsed) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)").bind(json),
		),
	]);
}
