/**
 * The customers overview in one SQL statement: the same numbers as the exact reader (read.ts readOverview →
 * overview.ts customerOverview, kept as the `exact=true` path and the cross-check), computed in D1 and answered
 * as ~50 group rows instead of one row per customer.
 *
 * Why no daily rollup: every group counts a customer once with their orders of the whole range (purchase
 * frequency, device by most events), so per-day sums would not be exact and per-(day, customer) rows would be
 * as many as the orders. Instead the range's orders are read from a covering partial index (orders_live_placed,
 * migration 0024) — for a long range, every order once in customer order (orders_live_first) —, each customer's
 * first-ever order by one index-only seek, and their device by a seek per customer (only customers who ordered) in
 * the daily device tallies (customer_device_days, rolled with the journey days) and, for days not rolled yet, in
 * events_site_customer_ts, which holds the device since 0024.
 */
import { FREQUENCY_BUCKETS, UNKNOWN, type Overview, type Segment } from "./overview";

// ?1 site, ?2 range start, ?3 range end (UTC epoch ms); device tallies from the rolled days ?4 … ?5 (customer_device_days,
// rolled with the journey days) and from the identified events of [?6, ?3) (the days after ?5, or the whole range when
// none is rolled: ?4 > ?5, ?6 = ?2). Kinds: 0 totals, 1 country, 2 channel, 3 device, 4 frequency.
// The device of a customer: most identified events in the range, then the latest event, then the first name (as
// overview.ts primaryDevices); the channel: the record's, else the first-ever order's (acquisitionChannel).
// `r`: per customer with non-cancelled orders in the range, their orders and revenue in it and their first-ever order.
const R_SHORT = `SELECT r.customer_id, r.orders, r.revenue,
			(SELECT f.placed_at FROM orders f INDEXED BY orders_live_first WHERE f.site = ?1 AND f.customer_id = r.customer_id AND f.status <> 'cancelled' ORDER BY f.placed_at LIMIT 1) AS first_at
		FROM (
			SELECT customer_id, COUNT(*) AS orders, SUM(total_minor - tax_minor) AS revenue FROM orders INDEXED BY orders_live_placed
			WHERE site = ?1 AND placed_at >= ?2 AND placed_at < ?3 AND status <> 'cancelled' GROUP BY customer_id
		) r`;
// A long range holds most of the site's orders: one pass over all of them in customer order (no sort by customer).
const R_LONG = `SELECT customer_id, COUNT(*) FILTER (WHERE placed_at >= ?2 AND placed_at < ?3) AS orders,
			SUM(total_minor - tax_minor) FILTER (WHERE placed_at >= ?2 AND placed_at < ?3) AS revenue, MIN(placed_at) AS first_at
		FROM orders INDEXED BY orders_live_first WHERE site = ?1 AND status <> 'cancelled'
		GROUP BY customer_id HAVING orders > 0`;

// The device of one customer of `r` (in `c`): their rolled device days ?4 … ?5 and identified events of [?6, ?3), read by
// seeks on their own rows (customer_device_days_customer, events_site_customer_ts), summed per device and the first by
// the rule above. The events part is skipped outright when no day is read from events (?6 = ?3: a constant test SQLite
// evaluates once). Why per customer: a tally of every customer's devices, a ROW_NUMBER window over it and a join back
// to `r` cost about twice as much (the demo store in node:sqlite: 365 days 92 → 69 ms, 30 days 43 → 32 ms).
const DEVICE = `(SELECT device FROM (
				SELECT device, SUM(n) AS n, MAX(last) AS last FROM (
					SELECT d.device, d.events AS n, d.last_ts AS last FROM customer_device_days d INDEXED BY customer_device_days_customer
					WHERE d.site = ?1 AND d.customer_id = r.customer_id AND d.day >= ?4 AND d.day <= ?5
					UNION ALL
					SELECT e.device, 1, e.ts FROM events e INDEXED BY events_site_customer_ts
					WHERE ?6 < ?3 AND e.site = ?1 AND e.customer_id = r.customer_id AND e.customer_id IS NOT NULL AND e.ts >= ?6 AND e.ts < ?3
				) GROUP BY device
			) ORDER BY n DESC, last DESC, device LIMIT 1)`;

// The segments: customers grouped once by (country, channel, device, frequency) — a few hundred rows —, then those
// rows summed per kind (×5 by json_each), rather than every customer ×5 through one big GROUP BY.
const overviewSql = (r: string) => `WITH r AS MATERIALIZED (
		${r}
	),
	c AS (
		SELECT r.orders, r.revenue,
			COALESCE(cu.country, '${UNKNOWN}') AS country,
			COALESCE(cu.channel,
				(SELECT f.channel FROM orders f INDEXED BY orders_live_first WHERE f.site = ?1 AND f.customer_id = r.customer_id AND f.status <> 'cancelled' ORDER BY f.placed_at, f.order_id LIMIT 1),
				'${UNKNOWN}') AS channel,
			r.first_at >= ?2 AS is_new,
			COALESCE(${DEVICE}, '${UNKNOWN}') AS device,
			CASE WHEN r.orders <= 3 THEN CAST(MAX(r.orders, 1) AS TEXT) WHEN r.orders <= 5 THEN '4-5' WHEN r.orders <= 10 THEN '6-10' ELSE '11+' END AS freq
		FROM r
		LEFT JOIN customers cu ON cu.site = ?1 AND cu.customer_id = r.customer_id
	),
	s AS MATERIALIZED (
		SELECT country, channel, device, freq, COUNT(*) AS customers, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(is_new) AS new
		FROM c GROUP BY 1, 2, 3, 4
	)
	SELECT g.value AS kind, CASE g.value WHEN 1 THEN country WHEN 2 THEN channel WHEN 3 THEN device WHEN 4 THEN freq ELSE '' END AS key,
		SUM(customers) AS customers, SUM(orders) AS orders, SUM(revenue) AS revenue, SUM(new) AS new
	FROM s CROSS JOIN json_each('[0, 1, 2, 3, 4]') g
	GROUP BY 1, 2`;

/** The statement for ranges up to LONG_RANGE_DAYS (the range's orders, sorted by customer) and for longer ones (every order in customer order). */
export const OVERVIEW_SQL = overviewSql(R_SHORT);
export const OVERVIEW_LONG_SQL = overviewSql(R_LONG);
/** From this many days on, a range is read with OVERVIEW_LONG_SQL (the demo store: 24 months of orders; 90 days is about an eighth). */
export const LONG_RANGE_DAYS = 90;

/** Segments sorted by customers (most first), then key (as overview.ts). */
const sorted = (list: Segment[]) => list.sort((a, b) => b.customers - a.customers || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/**
 * Segments of the customers with non-cancelled orders placed in [start, end) (UTC epoch ms): one D1 statement. `rolled`:
 * the local days whose device tallies come from the rollup ([from, rolledTo], ending at `rolledEnd`, the instant after
 * rolledTo); null: every tally from the events.
 */
export async function queryOverview(
	db: D1Database,
	site: string,
	start: number,
	end: number,
	long = end - start > LONG_RANGE_DAYS * 86_400_000,
	rolled: { from: string; to: string; end: number } | null = null,
): Promise<Overview> {
	const stmt = overviewStatement(db, site, start, end, long, rolled);
	return overviewFromRows(await stmt.raw<[number, string, number, number, number, number]>());
}

/** The overview statement, bound (for a D1 batch); see queryOverview. */
export function overviewStatement(db: D1Database, site: string, start: number, end: number, long: boolean, rolled: { from: string; to: string; end: number } | null): D1PreparedStatement {
	return db.prepare(long ? OVERVIEW_LONG_SQL : OVERVIEW_SQL).bind(site, start, end, rolled?.from ?? "9999-12-31", rolled?.to ?? "0000-01-01", rolled ? rolled.end : start);
}

/** The Overview from the overview statement's rows. */
export function overviewFromRows(rows: readonly (readonly [number, string, number, number, number, number])[]): Overview {
	const by: Segment[][] = [[], [], [], [], []];
	let total: [number, number, number, number] = [0, 0, 0, 0];
	for (const [kind, key, customers, orders, revenue, isNew] of rows) {
		if (kind === 0) total = [customers, orders, revenue, isNew];
		else by[kind]?.push({ key, customers, orders, revenueMinor: revenue });
	}
	const freq = new Map((by[4] as Segment[]).map((s) => [s.key, s]));
	const [customers, orders, revenueMinor, newCustomers] = total;
	return {
		customers,
		orders,
		revenueMinor,
		newCustomers,
		returningCustomers: customers - newCustomers,
		byCountry: sorted(by[1] as Segment[]),
		byChannel: sorted(by[2] as Segment[]),
		byDevice: sorted(by[3] as Segment[]),
		frequency: FREQUENCY_BUCKETS.map((b) => freq.get(b) ?? { key: b, customers: 0, orders: 0, revenueMinor: 0 }),
	};
}
