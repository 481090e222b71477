/**
 * GDPR export (`GET /api/v1/customers/{id}/export`): everything the site holds on one customer, as the
 * stored rows (column names as in D1, money in minor units, times in UTC epoch ms), PII decrypted.
 * "Their events" are what an erasure would delete (erase.ts EVENT_MATCH): by customer id, the anonymous
 * events of their visitor ids, and events whose props or URL carry their id or email.
 */
import { ApiError } from "../lib/http";
import type { Site } from "../lib/sites";
import { EVENT_MATCH } from "./erase";
import { openPii, piiKeyring, type StoredPii } from "./pii";

/** At most this many events are returned (newest first); `events_truncated` says when there were more. */
export const EXPORT_MAX_EVENTS = 50_000;

type Row = Record<string, unknown>;

export interface CustomerExport {
	site: string;
	customer_id: string;
	exported_at: number;
	record: Row | null;
	pii: { email: string | null; name: string | null } | null;
	orders: Row[];
	order_items: Row[];
	refunds: Row[];
	events: Row[];
	events_truncated: boolean;
	tickets: Row[];
	surveys: Row[];
	messages: Row[];
	analytics: { rfm_scores: Row[]; clv_scores: Row[]; churn_scores: Row[]; next_actions: Row[]; recommendations: Row[] };
}

const OWN_ORDERS = "SELECT order_id FROM orders WHERE site = ?1 AND customer_id = ?2";

/** The export of one customer; 404 when the site holds nothing of theirs. */
export async function exportCustomer(env: Env, site: Site, id: string): Promise<CustomerExport> {
	const db = env.DB;
	const ring = await piiKeyring(env);
	const piiRow = await db.prepare("SELECT email, name, kid FROM customer_pii WHERE site = ? AND customer_id = ?").bind(site.id, id).first<StoredPii>();
	const pii = piiRow ? await openPii(ring, site.id, id, piiRow) : null;
	const visitors = await db.prepare("SELECT DISTINCT visitor FROM events WHERE site = ? AND customer_id = ?").bind(site.id, id).all<{ visitor: string }>();
	const q = (sql: string) => db.prepare(sql).bind(site.id, id);
	const results = await db.batch<Row>([
		q("SELECT * FROM customers WHERE site = ?1 AND customer_id = ?2"),
		q("SELECT * FROM orders WHERE site = ?1 AND customer_id = ?2 ORDER BY placed_at, order_id"),
		q(`SELECT i.* FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id WHERE o.site = ?1 AND o.customer_id = ?2 ORDER BY i.order_id, i.sku`),
		q(`SELECT r.* FROM orders o CROSS JOIN refunds r ON r.site = o.site AND r.order_id = o.order_id WHERE o.site = ?1 AND o.customer_id = ?2 ORDER BY r.created_at, r.refund_id`),
		db
			.prepare(`SELECT * FROM events WHERE ${EVENT_MATCH} ORDER BY ts DESC, id DESC LIMIT ${EXPORT_MAX_EVENTS + 1}`)
			.bind(site.id, id, JSON.stringify(visitors.results.map((v) => v.visitor)), pii?.email?.toLowerCase() ?? null),
		q(`SELECT * FROM tickets WHERE site = ?1 AND (customer_id = ?2 OR order_id IN (${OWN_ORDERS})) ORDER BY opened_at, ticket_id`),
		q(`SELECT * FROM surveys WHERE site = ?1 AND (customer_id = ?2 OR order_id IN (${OWN_ORDERS})) ORDER BY responded_at, response_id`),
		q("SELECT * FROM messages WHERE site = ?1 AND customer_id = ?2 ORDER BY sent_at, message_id"),
		q("SELECT * FROM rfm_scores WHERE site = ?1 AND customer_id = ?2 ORDER BY as_of"),
		q("SELECT * FROM clv_scores WHERE site = ?1 AND customer_id = ?2 ORDER BY as_of"),
		q("SELECT * FROM churn_scores WHERE site = ?1 AND customer_id = ?2 ORDER BY as_of"),
		// A nightly run stages its next actions under `<as_of>#<run>` until it swaps them in: not part of what we hold.
		q("SELECT * FROM next_actions WHERE site = ?1 AND customer_id = ?2 AND instr(as_of, '#') = 0 ORDER BY as_of"),
		q("SELECT * FROM recommendations WHERE site = ?1 AND kind = 'customer' AND subject = ?2 ORDER BY as_of"),
	]);
	const rows = (i: number) => results[i]?.results ?? [];
	const [record] = rows(0);
	const events = rows(4);
	const found = record || pii || rows(1).length || events.length || rows(5).length || rows(6).length || rows(7).length;
	if (!found) throw new ApiError(404, "not_found", `no customer '${id}' on this site`, [{ field: "id", message: "unknown customer" }]);
	// JSON columns (event props, reasons, details, recommended items) are returned as JSON, not as strings of JSON.
	const parsed = (list: Row[], cols: string[]) => list.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, cols.includes(k) && typeof v === "string" ? safeJson(v) : v])));
	return {
		site: site.id,
		customer_id: id,
		exported_at: Date.now(),
		record: record ?? null,
		pii,
		orders: rows(1),
		order_items: rows(2),
		refunds: rows(3),
		events: parsed(events.slice(0, EXPORT_MAX_EVENTS), ["props"]),
		events_truncated: events.length > EXPORT_MAX_EVENTS,
		tickets: rows(5),
		surveys: rows(6),
		messages: rows(7),
		analytics: {
			rfm_scores: rows(8),
			clv_scores: rows(9),
			churn_scores: parsed(rows(10), ["reasons"]),
			next_actions: parsed(rows(11), ["details"]),
			recommendations: parsed(rows(12), ["items"]),
		},
	};
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}
