/**
 * Churn features as of a cutoff, read from D1 (the architecture document's eight), and the churn label:
 * no order within `horizonDays` after the cutoff. The population at a cutoff is every customer with a
 * non-cancelled order in the 365 days before it: customers gone for years are churned by definition and
 * would only flatter the model's AUC.
 */
import { sessionsOf } from "./sessions";

export const CHURN_FEATURES = [
	"days_since_last_order",
	"total_orders",
	"avg_order_value",
	"product_diversity",
	"support_tickets",
	"email_engagement",
	"session_frequency",
	"cart_abandonment_rate",
] as const;
export type ChurnFeature = (typeof CHURN_FEATURES)[number];

const DAY = 86_400_000;
/** Customers with an order this far back are the population at a cutoff. */
export const POPULATION_DAYS = 365;
/** Email engagement: messages sent in this window before the cutoff. */
const EMAIL_DAYS = 180;
/** Session frequency and cart abandonment: identified web sessions in this window before the cutoff. */
const WEB_DAYS = 90;
/** Marks "no data" for a ratio feature (no email sent, no cart): the trees split it off on its own. */
export const MISSING = -1;

export interface FeatureTable {
	cutoff: number;
	customers: string[];
	/** One row per customer, CHURN_FEATURES order. */
	rows: Float64Array[];
	/** Rows read from D1. */
	read: number;
}

/** The eight features of every customer in the population at `cutoff` (UTC ms), sorted by customer id. */
export async function churnFeatures(db: D1Database, site: string, cutoff: number, minorPerMajor: number): Promise<FeatureTable> {
	const from = cutoff - POPULATION_DAYS * DAY;
	const [base, diversity, tickets, mail, events] = await db.batch([
		db
			.prepare(
				`SELECT customer_id, MAX(placed_at) AS last, COUNT(*) AS n, SUM(total_minor - tax_minor) AS revenue FROM orders
				WHERE site = ?1 AND placed_at < ?2 AND status <> 'cancelled' GROUP BY customer_id HAVING MAX(placed_at) >= ?3 ORDER BY customer_id`,
			)
			.bind(site, cutoff, from),
		db
			.prepare(
				`SELECT o.customer_id, COUNT(DISTINCT i.sku) AS skus FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
				WHERE o.site = ?1 AND o.placed_at < ?2 AND o.status <> 'cancelled' GROUP BY o.customer_id`,
			)
			.bind(site, cutoff),
		db.prepare("SELECT customer_id, COUNT(*) AS n FROM tickets WHERE site = ?1 AND opened_at < ?2 AND customer_id IS NOT NULL GROUP BY customer_id").bind(site, cutoff),
		db
			.prepare(
				`SELECT customer_id, COUNT(*) AS sent, SUM(opened_at IS NOT NULL AND opened_at < ?2) AS opened FROM messages
				WHERE site = ?1 AND sent_at >= ?3 AND sent_at < ?2 AND customer_id IS NOT NULL GROUP BY customer_id`,
			)
			.bind(site, cutoff, cutoff - EMAIL_DAYS * DAY),
		db
			.prepare("SELECT customer_id, ts, name FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3 AND customer_id IS NOT NULL ORDER BY customer_id, ts")
			.bind(site, cutoff - WEB_DAYS * DAY, cutoff),
	]);
	type Base = { customer_id: string; last: number; n: number; revenue: number };
	const count = <T extends { customer_id: string }>(r: D1Result | undefined, pick: (row: T) => number) =>
		new Map(((r?.results ?? []) as T[]).map((row) => [row.customer_id, pick(row)]));
	const skus = count<{ customer_id: string; skus: number }>(diversity, (r) => r.skus);
	const ticketCount = count<{ customer_id: string; n: number }>(tickets, (r) => r.n);
	const engagement = count<{ customer_id: string; sent: number; opened: number }>(mail, (r) => (r.sent ? r.opened / r.sent : MISSING));
	const web = webFeatures((events?.results ?? []) as { customer_id: string; ts: number; name: string }[]);
	const customers: string[] = [];
	const rows: Float64Array[] = [];
	for (const b of (base?.results ?? []) as Base[]) {
		const w = web.get(b.customer_id);
		customers.push(b.customer_id);
		rows.push(
			Float64Array.from([
				(cutoff - b.last) / DAY,
				b.n,
				b.revenue / b.n / minorPerMajor,
				skus.get(b.customer_id) ?? 0,
				ticketCount.get(b.customer_id) ?? 0,
				engagement.get(b.customer_id) ?? MISSING,
				w ? (w.sessions * 30) / WEB_DAYS : 0,
				w && w.carts > 0 ? w.abandoned / w.carts : MISSING,
			]),
		);
	}
	const read = [base, diversity, tickets, mail, events].reduce((n, r) => n + (r?.results.length ?? 0), 0);
	return { cutoff, customers, rows, read };
}

/** Per customer: identified sessions (30 minutes idle ends one), sessions with an add_to_cart, and those of them without a purchase. */
function webFeatures(events: { customer_id: string; ts: number; name: string }[]): Map<string, { sessions: number; carts: number; abandoned: number }> {
	const out = new Map<string, { sessions: number; carts: number; abandoned: number }>();
	let i = 0;
	while (i < events.length) {
		const customer = (events[i] as { customer_id: string }).customer_id;
		let j = i;
		while (j < events.length && (events[j] as { customer_id: string }).customer_id === customer) j++;
		const sessions = sessionsOf(events.slice(i, j));
		let carts = 0;
		let abandoned = 0;
		for (const s of sessions) {
			if (s.names.has("add_to_cart")) {
				carts++;
				if (!s.names.has("purchase")) abandoned++;
			}
		}
		out.set(customer, { sessions: sessions.length, carts, abandoned });
		i = j;
	}
	return out;
}

/** 1 for each customer with no non-cancelled order in [from, to) (UTC ms), else 0. */
export async function churnLabels(db: D1Database, site: string, customers: readonly string[], from: number, to: number): Promise<Uint8Array> {
	const rows = await db.prepare("SELECT DISTINCT customer_id FROM orders WHERE site = ? AND placed_at >= ? AND placed_at < ? AND status <> 'cancelled'").bind(site, from, to).raw<[string]>();
	const bought = new Set(rows.map(([c]) => c));
	return Uint8Array.from(customers, (c) => (bought.has(c) ? 0 : 1));
}
