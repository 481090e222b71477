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
	// One query at a time, each turned into a compact map before the next: as one batch the five result sets
	// (row objects) were alive together, ~85 MB of V8 heap for one window at 100,000 customers (issue 12).
	const base = await db
		.prepare(
			`SELECT customer_id, MAX(placed_at) AS last, COUNT(*) AS n, SUM(total_minor - tax_minor) AS revenue FROM orders
			WHERE site = ?1 AND placed_at < ?2 AND status <> 'cancelled' GROUP BY customer_id HAVING MAX(placed_at) >= ?3 ORDER BY customer_id`,
		)
		.bind(site, cutoff, from)
		.raw<[string, number, number, number]>();
	let read = base.length;
	const counts = async (stmt: D1PreparedStatement): Promise<Map<string, number>> => {
		const rows = await stmt.raw<[string, number, number?]>();
		read += rows.length;
		return new Map(rows.map((r) => [r[0], r.length > 2 ? ((r[1] as number) ? (r[2] as number) / (r[1] as number) : MISSING) : r[1]]));
	};
	const skus = await counts(
		db
			.prepare(
				`SELECT o.customer_id, COUNT(DISTINCT i.sku) AS skus FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
				WHERE o.site = ?1 AND o.placed_at < ?2 AND o.status <> 'cancelled' GROUP BY o.customer_id`,
			)
			.bind(site, cutoff),
	);
	const ticketCount = await counts(db.prepare("SELECT customer_id, COUNT(*) AS n FROM tickets WHERE site = ?1 AND opened_at < ?2 AND customer_id IS NOT NULL GROUP BY customer_id").bind(site, cutoff));
	// sent, opened → opened / sent (MISSING when nothing was sent).
	const engagement = await counts(
		db
			.prepare(
				`SELECT customer_id, COUNT(*) AS sent, SUM(opened_at IS NOT NULL AND opened_at < ?2) AS opened FROM messages
				WHERE site = ?1 AND sent_at >= ?3 AND sent_at < ?2 AND customer_id IS NOT NULL GROUP BY customer_id`,
			)
			.bind(site, cutoff, cutoff - EMAIL_DAYS * DAY),
	);
	const events = (
		await db
			.prepare("SELECT customer_id, ts, name FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3 AND customer_id IS NOT NULL ORDER BY customer_id, ts")
			.bind(site, cutoff - WEB_DAYS * DAY, cutoff)
			.all<{ customer_id: string; ts: number; name: string }>()
	).results;
	read += events.length;
	const web = webFeatures(events);
	const customers: string[] = [];
	// One buffer for the whole table, each row a view of it: a Float64Array per row costs its own backing store.
	const width = CHURN_FEATURES.length;
	const table = new Float64Array(base.length * width);
	const rows: Float64Array[] = [];
	base.forEach(([customer, last, n, revenue], i) => {
		const w = web.get(customer);
		customers.push(customer);
		const row = table.subarray(i * width, (i + 1) * width);
		row.set([
			(cutoff - last) / DAY,
			n,
			revenue / n / minorPerMajor,
			skus.get(customer) ?? 0,
			ticketCount.get(customer) ?? 0,
			engagement.get(customer) ?? MISSING,
			w ? (w.sessions * 30) / WEB_DAYS : 0,
			w && w.carts > 0 ? w.abandoned / w.carts : MISSING,
		]);
		rows.push(row);
	});
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
