/**
 * D1 readers of the Customers API: the rows of the overview, a page of the customer list, a profile,
 * and the events of a journeys range. Computation is in overview.ts and journeys.ts; money stays in
 * minor units here. Revenue is the KPI engine's: total − tax of non-cancelled orders.
 */
import { emailHashes, openPii, type PiiKeyring, type StoredPii } from "../privacy/pii";
import { journeyCounter, type EventKind, type JourneyReport } from "./journeys";
import { customerOverview, primaryDevices, type DeviceTally, type Overview, type RangeCustomer } from "./overview";

// ─── overview ────────────────────────────────────────────────────────────────────────────────────

// The range's orders through orders_site_placed, grouped per customer; each customer's first-ever
// non-cancelled order by one seek in orders_site_customer (site, customer_id, placed_at) and a rowid lookup.
const OVERVIEW_CUSTOMERS_SQL = `WITH r AS (
		SELECT customer_id, COUNT(*) AS orders, SUM(total_minor - tax_minor) AS revenue FROM orders
		WHERE site = ?1 AND placed_at >= ?2 AND placed_at < ?3 AND status <> 'cancelled' GROUP BY customer_id
	)
	SELECT r.customer_id AS customerId, r.orders, r.revenue AS revenueMinor, c.country, c.channel, f.placed_at AS firstOrderAt, f.channel AS firstOrderChannel
	FROM r
	LEFT JOIN customers c ON c.site = ?1 AND c.customer_id = r.customer_id
	LEFT JOIN orders f ON f.rowid = (SELECT p.rowid FROM orders p WHERE p.site = ?1 AND p.customer_id = r.customer_id AND p.status <> 'cancelled' ORDER BY p.placed_at, p.order_id LIMIT 1)`;

// Identified events of the range (events_site_ts), per customer and device. Customers who did not
// order in the range are dropped in JS: an IN (orders of the range) filter here doubled the time.
const OVERVIEW_DEVICES_SQL = `SELECT customer_id AS customerId, device, COUNT(*) AS events, MAX(ts) AS lastTs FROM events
	WHERE site = ?1 AND ts >= ?2 AND ts < ?3 AND customer_id IS NOT NULL
	GROUP BY customer_id, device`;

/** Segments of the customers with non-cancelled orders placed in [start, end) (UTC epoch ms). */
export async function readOverview(db: D1Database, site: string, start: number, end: number): Promise<Overview> {
	const [customers, devices] = await Promise.all([
		db.prepare(OVERVIEW_CUSTOMERS_SQL).bind(site, start, end).all<RangeCustomer>(),
		db.prepare(OVERVIEW_DEVICES_SQL).bind(site, start, end).all<DeviceTally>(),
	]);
	return customerOverview(customers.results, primaryDevices(devices.results), start);
}

// ─── list ────────────────────────────────────────────────────────────────────────────────────────

export const SORTS = ["revenue", "orders", "last_order"] as const;
export type Sort = (typeof SORTS)[number];

/** Position after the last row of a page: the sort key's value and the customer id. */
export interface ListCursor {
	sort: Sort;
	key: number;
	id: string;
}

/** An opaque cursor: base64url of `[sort, key, id]`. */
export function encodeCursor(c: ListCursor): string {
	const bytes = new TextEncoder().encode(JSON.stringify([c.sort, c.key, c.id]));
	return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The cursor a page handed out, or null when `text` is not one. */
export function decodeCursor(text: string): ListCursor | null {
	try {
		const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
		const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0))));
		if (!Array.isArray(value) || value.length !== 3) return null;
		const [sort, key, id] = value as unknown[];
		if (typeof sort !== "string" || !(SORTS as readonly string[]).includes(sort) || typeof key !== "number" || !Number.isSafeInteger(key) || typeof id !== "string" || id.length > 128) return null;
		return { sort: sort as Sort, key, id };
	} catch {
		return null;
	}
}

// The sort key of each customer (never built from input): descending, ties by customer id ascending.
// A customer without orders has revenue and orders 0 and last_order −1, after every real one.
const SORT_KEY: Record<Sort, string> = { revenue: "COALESCE(a.revenue, 0)", orders: "COALESCE(a.orders, 0)", last_order: "COALESCE(a.last_order, -1)" };

/**
 * Everyone the site knows as a customer — a customer record or an order — with their non-cancelled
 * orders' count, revenue and first/last order. One pass over the site's orders (orders_site_customer)
 * per request; the page is cut before the per-row lookups (record, PII, first order's channel).
 */
function listSql(sort: Sort): string {
	return `WITH agg AS (
		SELECT customer_id, SUM(status <> 'cancelled') AS orders,
			COALESCE(SUM(CASE WHEN status <> 'cancelled' THEN total_minor - tax_minor END), 0) AS revenue,
			MIN(CASE WHEN status <> 'cancelled' THEN placed_at END) AS first_order,
			MAX(CASE WHEN status <> 'cancelled' THEN placed_at END) AS last_order
		FROM orders WHERE site = ?1 GROUP BY customer_id
	),
	people AS (SELECT customer_id FROM customers WHERE site = ?1 UNION SELECT customer_id FROM agg),
	ranked AS (
		SELECT p.customer_id AS id, COALESCE(a.orders, 0) AS orders, COALESCE(a.revenue, 0) AS revenue, a.first_order, a.last_order, ${SORT_KEY[sort]} AS k
		FROM people p LEFT JOIN agg a ON a.customer_id = p.customer_id
		WHERE ?2 IS NULL OR instr(lower(p.customer_id), lower(?2)) > 0
			OR (?3 AND p.customer_id IN (
				SELECT x.customer_id FROM customer_pii x WHERE x.site = ?1 AND x.email_hash IN (SELECT value FROM json_each(?7))
				UNION ALL SELECT x.customer_id FROM customer_pii x WHERE x.site = ?1 AND x.kid IS NULL AND lower(trim(x.email)) = lower(?2)))
	),
	page AS (SELECT * FROM ranked WHERE ?4 IS NULL OR k < ?4 OR (k = ?4 AND id > ?5) ORDER BY k DESC, id LIMIT ?6)
	SELECT page.id, page.orders, page.revenue, page.first_order, page.last_order, page.k, c.country, c.channel, c.created_at,
		(SELECT o.channel FROM orders o WHERE o.site = ?1 AND o.customer_id = page.id AND o.status <> 'cancelled' ORDER BY o.placed_at, o.order_id LIMIT 1),
		CASE WHEN ?3 THEN x.email END, CASE WHEN ?3 THEN x.name END, CASE WHEN ?3 THEN x.kid END
	FROM page
	LEFT JOIN customers c ON c.site = ?1 AND c.customer_id = page.id
	LEFT JOIN customer_pii x ON x.site = ?1 AND x.customer_id = page.id
	ORDER BY page.k DESC, page.id`;
}

export interface ListRow {
	id: string;
	orders: number;
	revenueMinor: number;
	firstOrder: number | null;
	lastOrder: number | null;
	country: string | null;
	/** The record's acquisition channel, else the first order's; null when neither has one. */
	channel: string | null;
	createdAt: number | null;
	email: string | null;
	name: string | null;
}

export interface ListQuery {
	sort: Sort;
	/**
	 * Substring of the id, matched case-insensitively (SQLite lower(): ASCII letters only); with `pii`, also
	 * a whole email (trimmed, any case) through its keyed look-up hash — emails are encrypted, so not parts of one.
	 */
	q: string | null;
	/** The PII keys for principals that may see PII (emails and names are returned decrypted), else null. */
	pii: PiiKeyring | null;
	limit: number;
	after: ListCursor | null;
}

/** A page of the customer list and the cursor of the next one (null after the last). */
export async function listCustomers(db: D1Database, site: string, query: ListQuery): Promise<{ rows: ListRow[]; next: ListCursor | null }> {
	const ring = query.pii;
	const hashes = ring && query.q?.includes("@") ? await emailHashes(ring, query.q) : [];
	const raw = await db
		.prepare(listSql(query.sort))
		.bind(site, query.q, ring ? 1 : 0, query.after?.key ?? null, query.after?.id ?? "", query.limit + 1, JSON.stringify(hashes))
		.raw<[string, number, number, number | null, number | null, number, string | null, string | null, number | null, string | null, string | null, string | null, string | null]>();
	const more = raw.length > query.limit;
	const rows = raw.slice(0, query.limit);
	const last = rows.at(-1);
	return {
		rows: await Promise.all(
			rows.map(async ([id, orders, revenueMinor, firstOrder, lastOrder, , country, channel, createdAt, firstChannel, email, name, kid]) => ({
				id, orders, revenueMinor, firstOrder, lastOrder, country, channel: channel ?? firstChannel, createdAt,
				...(ring ? await openPii(ring, site, id, { email, name, kid }) : { email: null, name: null }),
			})),
		),
		next: more && last ? { sort: query.sort, key: last[5], id: last[0] } : null,
	};
}

// ─── profile ─────────────────────────────────────────────────────────────────────────────────────

/** The newest orders, events, tickets and survey responses a profile shows. */
export const PROFILE_LIMITS = { orders: 500, events: 200, tickets: 200, surveys: 200 } as const;

export interface ProfileOrder {
	orderId: string;
	placedAt: number;
	paidAt: number | null;
	shippedAt: number | null;
	deliveredAt: number | null;
	status: string;
	channel: string | null;
	coupon: string | null;
	currency: string;
	subtotalMinor: number | null;
	discountMinor: number;
	shippingMinor: number;
	taxMinor: number;
	totalMinor: number;
	isSubscription: boolean;
	items: { sku: string; name: string | null; qty: number; unitPriceMinor: number }[];
	refunds: { refundId: string; createdAt: number; amountMinor: number; currency: string; reason: string | null; sku: string | null; qty: number | null; isReturn: boolean }[];
}

export interface Profile {
	record: { createdAt: number; country: string | null; channel: string | null; isSubscriber: boolean; subscriptionStatus: string | null } | null;
	pii: { email: string | null; name: string | null } | null;
	lifetime: { orders: number; cancelledOrders: number; revenueMinor: number; refundedMinor: number; firstOrder: number | null; lastOrder: number | null; firstOrderChannel: string | null };
	/** Orders of every status, newest first (PROFILE_LIMITS.orders at most). */
	orders: ProfileOrder[];
	events: { id: string; name: string; ts: number; path: string; channel: string; device: string }[];
	tickets: { ticketId: string; orderId: string | null; channel: string | null; category: string | null; status: string; openedAt: number; firstResponseAt: number | null; resolvedAt: number | null }[];
	surveys: { responseId: string; kind: string; score: number; respondedAt: number; orderId: string | null }[];
}

// Tickets and survey responses belong to the customer by customer_id, or through one of their orders.
const OWN_ORDERS = "SELECT order_id FROM orders WHERE site = ?1 AND customer_id = ?2";

const PROFILE_SQL = {
	record: "SELECT created_at AS createdAt, country, channel, is_subscriber AS isSubscriber, subscription_status AS subscriptionStatus FROM customers WHERE site = ?1 AND customer_id = ?2",
	lifetime: `SELECT COALESCE(SUM(status <> 'cancelled'), 0) AS orders, COALESCE(SUM(status = 'cancelled'), 0) AS cancelledOrders,
			COALESCE(SUM(CASE WHEN status <> 'cancelled' THEN total_minor - tax_minor END), 0) AS revenueMinor,
			MIN(CASE WHEN status <> 'cancelled' THEN placed_at END) AS firstOrder, MAX(CASE WHEN status <> 'cancelled' THEN placed_at END) AS lastOrder,
			(SELECT channel FROM orders WHERE site = ?1 AND customer_id = ?2 AND status <> 'cancelled' ORDER BY placed_at, order_id LIMIT 1) AS firstOrderChannel,
			(SELECT COALESCE(SUM(r.amount_minor), 0) FROM orders o CROSS JOIN refunds r ON r.site = o.site AND r.order_id = o.order_id
				WHERE o.site = ?1 AND o.customer_id = ?2 AND o.status <> 'cancelled') AS refundedMinor
		FROM orders WHERE site = ?1 AND customer_id = ?2`,
	orders: `SELECT order_id AS orderId, placed_at AS placedAt, paid_at AS paidAt, shipped_at AS shippedAt, delivered_at AS deliveredAt, status, channel, coupon, currency,
			subtotal_minor AS subtotalMinor, discount_minor AS discountMinor, shipping_minor AS shippingMinor, tax_minor AS taxMinor, total_minor AS totalMinor, is_subscription AS isSubscription
		FROM orders WHERE site = ?1 AND customer_id = ?2 ORDER BY placed_at DESC, order_id DESC LIMIT ${PROFILE_LIMITS.orders}`,
	items: `SELECT i.order_id AS orderId, i.sku, p.name, i.qty, i.unit_price_minor AS unitPriceMinor
		FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id LEFT JOIN products p ON p.site = i.site AND p.sku = i.sku
		WHERE o.site = ?1 AND o.customer_id = ?2 ORDER BY i.order_id, i.sku`,
	refunds: `SELECT r.order_id AS orderId, r.refund_id AS refundId, r.created_at AS createdAt, r.amount_minor AS amountMinor, r.currency, r.reason, r.sku, r.qty, r.is_return AS isReturn
		FROM orders o CROSS JOIN refunds r ON r.site = o.site AND r.order_id = o.order_id
		WHERE o.site = ?1 AND o.customer_id = ?2 ORDER BY r.created_at, r.refund_id`,
	// No index leads with customer_id: SQLite walks events_site_ts backwards from the newest event until
	// it has the customer's newest 200 (the cost grows with how long ago they were last seen).
	events: `SELECT id, name, ts, path, channel, device FROM events WHERE site = ?1 AND customer_id = ?2 ORDER BY ts DESC, id DESC LIMIT ${PROFILE_LIMITS.events}`,
	tickets: `SELECT ticket_id AS ticketId, order_id AS orderId, channel, category, status, opened_at AS openedAt, first_response_at AS firstResponseAt, resolved_at AS resolvedAt
		FROM tickets WHERE site = ?1 AND (customer_id = ?2 OR order_id IN (${OWN_ORDERS})) ORDER BY opened_at DESC, ticket_id DESC LIMIT ${PROFILE_LIMITS.tickets}`,
	surveys: `SELECT response_id AS responseId, kind, score, responded_at AS respondedAt, order_id AS orderId
		FROM surveys WHERE site = ?1 AND (customer_id = ?2 OR order_id IN (${OWN_ORDERS})) ORDER BY responded_at DESC, response_id DESC LIMIT ${PROFILE_LIMITS.surveys}`,
	pii: "SELECT email, name, kid FROM customer_pii WHERE site = ?1 AND customer_id = ?2",
} as const;

type Row<T> = { [K in keyof T]: T[K] extends boolean ? number : T[K] };
type OrderRow = Row<Omit<ProfileOrder, "items" | "refunds">>;
type ItemRow = ProfileOrder["items"][number] & { orderId: string };
type RefundRow = Row<ProfileOrder["refunds"][number]> & { orderId: string };

/** The profile of a customer, or null when the site has neither a record nor an order of theirs. PII (decrypted) only with the keys in `pii`. */
export async function readProfile(db: D1Database, site: string, customerId: string, pii: PiiKeyring | null): Promise<Profile | null> {
	const stmt = (sql: string) => db.prepare(sql).bind(site, customerId);
	const q = PROFILE_SQL;
	// One batch: one round trip, and every part read from the same state. PII is not even read without the right.
	const results = await db.batch([q.record, q.lifetime, q.orders, q.items, q.refunds, q.events, q.tickets, q.surveys, ...(pii ? [q.pii] : [])].map(stmt));
	const rows = <T>(i: number) => (results[i]?.results ?? []) as T[];
	const record = rows<Row<NonNullable<Profile["record"]>>>(0)[0];
	const orderRows = rows<OrderRow>(2);
	if (!record && orderRows.length === 0) return null;

	const byOrder = new Map<string, ProfileOrder>();
	const orders = orderRows.map((o): ProfileOrder => {
		const order = { ...o, isSubscription: o.isSubscription === 1, items: [], refunds: [] };
		byOrder.set(order.orderId, order);
		return order;
	});
	for (const { orderId, ...item } of rows<ItemRow>(3)) byOrder.get(orderId)?.items.push(item);
	for (const { orderId, ...refund } of rows<RefundRow>(4)) byOrder.get(orderId)?.refunds.push({ ...refund, isReturn: refund.isReturn === 1 });
	const lifetime = rows<Profile["lifetime"]>(1)[0] ?? { orders: 0, cancelledOrders: 0, revenueMinor: 0, refundedMinor: 0, firstOrder: null, lastOrder: null, firstOrderChannel: null };
	return {
		record: record ? { ...record, isSubscriber: record.isSubscriber === 1 } : null,
		pii: pii ? await openPii(pii, site, customerId, rows<StoredPii>(8)[0] ?? { email: null, name: null, kid: null }) : null,
		lifetime,
		orders,
		events: rows<Profile["events"][number]>(5),
		tickets: rows<Profile["tickets"][number]>(6),
		surveys: rows<Profile["surveys"][number]>(7),
	};
}

// ─── journeys ────────────────────────────────────────────────────────────────────────────────────

/** Sessions are read from this far before and after the range (as the KPI rollups do), so one running at its start is not taken as starting in it. */
export const JOURNEY_MARGIN_MS = 6 * 3_600_000;
/** Rows per D1 read: memory stays bounded by the page and the visitors active at once, whatever the range. */
export const JOURNEY_PAGE_ROWS = 50_000;

/**
 * Events of the read window in (ts, id) order — the order the `sessions` view numbers them in — through
 * events_site_ts, in keyset pages: each page continues the index range where the last one stopped.
 */
export const JOURNEY_SQL = `SELECT ts, id, visitor, CASE name WHEN 'page_view' THEN 1 WHEN 'purchase' THEN 2 ELSE 0 END, CASE WHEN name = 'page_view' THEN path END
	FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3 AND (?4 IS NULL OR ts > ?4 OR id > ?5)
	ORDER BY ts, id LIMIT ?6`;

/** Top entry pages and conversion paths of the sessions starting in [start, end) (UTC epoch ms). */
export async function readJourneys(db: D1Database, site: string, start: number, end: number, limit: number, pageRows = JOURNEY_PAGE_ROWS): Promise<JourneyReport & { pages: number }> {
	const counter = journeyCounter(start, end);
	const stmt = db.prepare(JOURNEY_SQL);
	let after: [number, string] | null = null;
	let pages = 0;
	for (;;) {
		// After a page, the range restarts at its last instant; rows at that instant sort on by id.
		const rows: [number, string, string, EventKind, string | null][] = await stmt
			.bind(site, after ? after[0] : start - JOURNEY_MARGIN_MS, end + JOURNEY_MARGIN_MS, after?.[0] ?? null, after?.[1] ?? "", pageRows)
			.raw<[number, string, string, EventKind, string | null]>();
		pages++;
		for (const [ts, , visitor, kind, path] of rows) counter.add(visitor, ts, kind, path);
		const last = rows.at(-1);
		if (rows.length < pageRows || !last) break;
		after = [last[0], last[1]];
	}
	return { ...counter.report(limit), pages };
}
