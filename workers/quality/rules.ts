/**
 * Data-quality rules on commerce data (issue 14, item 14). The store keeps every record as it was sent;
 * these rules only record what does not add up, in `data_issues` (one row per rule × order), and mark
 * the row resolved when a later write makes the order consistent. Nothing is ever corrected here.
 *
 * The check is SQL over the stored rows, appended to the same D1 batch (one transaction) as the writes
 * that touched the order, its lines or its refunds (commerce/store.ts toStatements): the upsert API,
 * the signed webhook and the bulk import all go through it, and so do items or refunds that arrive
 * before or after their order (records link by natural ids, without foreign keys). A re-delivered
 * record finds the issue already open with the same detail and changes nothing.
 *
 * Rules (amounts in the order's minor units; "within a cent" = a difference of at most 1 minor unit,
 * which absorbs a store rounding tax per line instead of per order):
 *  - `order_total`: total = items − discount + shipping + tax, where items is the sum of the order's
 *    lines (qty × unit price) when it has lines, else its subtotal; an order with neither is not checked.
 *  - `order_subtotal`: a subtotal that was sent equals the sum of the lines (when there are lines).
 *  - `refund_exceeds_order`: the refunds of the order in its currency sum to at most its total.
 *  - `dates_out_of_order`: placed ≤ paid ≤ shipped ≤ delivered (for the dates present), and no refund
 *    before the order was placed or paid. A refund may precede shipping (a paid order cancelled before
 *    dispatch is refunded unshipped), so refunds are not compared with shipped/delivered.
 */
import type { Write } from "../commerce/entities";

export const QUALITY_RULES = [
	{ id: "order_total", severity: "error", description: "order total = items − discount + shipping + tax, within one minor unit" },
	{ id: "order_subtotal", severity: "warning", description: "the subtotal sent = the sum of the order's lines, within one minor unit" },
	{ id: "refund_exceeds_order", severity: "error", description: "refunds of an order (in its currency) sum to at most its total" },
	{ id: "dates_out_of_order", severity: "warning", description: "placed ≤ paid ≤ shipped ≤ delivered, and no refund before the order was placed or paid" },
] as const;
export type QualityRuleId = (typeof QUALITY_RULES)[number]["id"];
export const QUALITY_RULE_IDS: readonly string[] = QUALITY_RULES.map((r) => r.id);
/** Allowed difference, in minor units, for the amount rules. */
export const TOLERANCE_MINOR = 1;
const IDS_PER_STATEMENT = 5_000;

const KINDS_SQL = QUALITY_RULES.map((r) => `'${r.id}'`).join(", ");
const iso = (col: string) => `strftime('%Y-%m-%dT%H:%M:%SZ', ${col} / 1000, 'unixepoch')`;

/**
 * The orders a check covers. Two statements rather than `?2 IS NULL OR …`, which SQLite cannot plan as a
 * primary-key lookup: the per-write check must cost a few lookups, never a scan of the site's orders.
 */
const SCOPE = {
	/** ?2: a JSON array of order ids. */
	orders: "SELECT o.* FROM json_each(?2) j CROSS JOIN orders o ON o.site = ?1 AND o.order_id = j.value",
	/** Every order of the site (?2 is NULL). */
	site: "SELECT * FROM orders WHERE site = ?1 AND ?2 IS NULL",
};
type Scope = keyof typeof SCOPE;

/**
 * `v(kind, severity, ref, detail)`: the violations among the orders in scope. Binds ?1 site, ?2 a JSON
 * array of order ids (scope `orders`) or NULL (scope `site`).
 */
const violationsCte = (scope: Scope) => `scope AS (${SCOPE[scope]}),
	lines AS (
		SELECT i.order_id, SUM(i.qty * i.unit_price_minor) AS items FROM scope s CROSS JOIN order_items i ON i.site = s.site AND i.order_id = s.order_id GROUP BY i.order_id
	),
	refunded AS (
		SELECT r.order_id, SUM(CASE WHEN r.currency = s.currency THEN r.amount_minor ELSE 0 END) AS amount, COUNT(*) AS n, MIN(r.created_at) AS first_at
		FROM scope s CROSS JOIN refunds r ON r.site = s.site AND r.order_id = s.order_id GROUP BY r.order_id
	),
	checked AS (
		SELECT s.*, l.items, COALESCE(l.items, s.subtotal_minor) AS basis, f.amount AS refunded, f.n AS refunds, f.first_at AS first_refund_at,
			ltrim(
				CASE WHEN s.paid_at < s.placed_at THEN '; paid ' || ${iso("s.paid_at")} || ' before placed ' || ${iso("s.placed_at")} ELSE '' END ||
				CASE WHEN s.shipped_at < s.placed_at THEN '; shipped ' || ${iso("s.shipped_at")} || ' before placed ' || ${iso("s.placed_at")} ELSE '' END ||
				CASE WHEN s.delivered_at < s.placed_at THEN '; delivered ' || ${iso("s.delivered_at")} || ' before placed ' || ${iso("s.placed_at")} ELSE '' END ||
				CASE WHEN s.shipped_at < s.paid_at THEN '; shipped ' || ${iso("s.shipped_at")} || ' before paid ' || ${iso("s.paid_at")} ELSE '' END ||
				CASE WHEN s.delivered_at < s.paid_at THEN '; delivered ' || ${iso("s.delivered_at")} || ' before paid ' || ${iso("s.paid_at")} ELSE '' END ||
				CASE WHEN s.delivered_at < s.shipped_at THEN '; delivered ' || ${iso("s.delivered_at")} || ' before shipped ' || ${iso("s.shipped_at")} ELSE '' END ||
				CASE WHEN f.first_at < s.placed_at THEN '; refunded ' || ${iso("f.first_at")} || ' before placed ' || ${iso("s.placed_at")} ELSE '' END ||
				CASE WHEN f.first_at < s.paid_at THEN '; refunded ' || ${iso("f.first_at")} || ' before paid ' || ${iso("s.paid_at")} ELSE '' END,
			'; ') AS dates
		FROM scope s LEFT JOIN lines l ON l.order_id = s.order_id LEFT JOIN refunded f ON f.order_id = s.order_id
	),
	v AS (
		SELECT 'order_total' AS kind, 'error' AS severity, 'orders/' || order_id AS ref,
			printf('total %d ≠ %s %d − discount %d + shipping %d + tax %d = %d (%s minor units, off by %d)', total_minor, CASE WHEN items IS NOT NULL THEN 'items' ELSE 'subtotal' END,
				basis, discount_minor, shipping_minor, tax_minor, basis - discount_minor + shipping_minor + tax_minor, currency, total_minor - (basis - discount_minor + shipping_minor + tax_minor)) AS detail
		FROM checked WHERE basis IS NOT NULL AND abs(total_minor - (basis - discount_minor + shipping_minor + tax_minor)) > ${TOLERANCE_MINOR}
		UNION ALL
		SELECT 'order_subtotal', 'warning', 'orders/' || order_id, printf('subtotal %d ≠ items %d (%s minor units, off by %d)', subtotal_minor, items, currency, subtotal_minor - items)
		FROM checked WHERE subtotal_minor IS NOT NULL AND items IS NOT NULL AND abs(subtotal_minor - items) > ${TOLERANCE_MINOR}
		UNION ALL
		SELECT 'refund_exceeds_order', 'error', 'orders/' || order_id, printf('%d refund(s) sum to %d > total %d (%s minor units, over by %d)', refunds, refunded, total_minor, currency, refunded - total_minor)
		FROM checked WHERE refunded > total_minor
		UNION ALL
		SELECT 'dates_out_of_order', 'warning', 'orders/' || order_id, dates FROM checked WHERE dates <> ''
	)`;

/**
 * The two statements that bring a scope's issues up to date: open (or reopen, or update the detail of)
 * each violation, then resolve the scope's open issues that no longer hold. Bind ?1 site, ?2 order ids
 * JSON (or NULL for the whole site), ?3 now (UTC ms).
 */
const recordSql = (scope: Scope) => `WITH ${violationsCte(scope)}
	INSERT INTO data_issues (site, kind, ref, detail, detected_at, severity, resolved_at)
	SELECT ?1, kind, ref, detail, ?3, severity, NULL FROM v WHERE true
	ON CONFLICT (site, kind, ref) DO UPDATE SET detail = excluded.detail, severity = excluded.severity,
		detected_at = CASE WHEN data_issues.resolved_at IS NULL THEN data_issues.detected_at ELSE excluded.detected_at END, resolved_at = NULL
	WHERE data_issues.detail IS NOT excluded.detail OR data_issues.severity IS NOT excluded.severity OR data_issues.resolved_at IS NOT NULL`;

const resolveSql = (scope: Scope) => `WITH ${violationsCte(scope)}
	UPDATE data_issues SET resolved_at = ?3
	WHERE site = ?1 AND kind IN (${KINDS_SQL}) AND resolved_at IS NULL
		${scope === "orders" ? "AND ref IN (SELECT 'orders/' || value FROM json_each(?2))" : "AND ?2 IS NULL"}
		AND (kind, ref) NOT IN (SELECT kind, ref FROM v)`;

const SQL = {
	record: { orders: recordSql("orders"), site: recordSql("site") },
	resolve: { orders: resolveSql("orders"), site: resolveSql("site") },
};

/** Orders (per site) whose rules a set of writes may change: written orders, and the orders of written lines and refunds. */
export function touchedOrders(writes: readonly Write[]): Map<string, Set<string>> {
	const out = new Map<string, Set<string>>();
	for (const w of writes) {
		const row = w.kind === "upsert" ? w.values : w.where;
		if (w.table !== "orders" && w.table !== "order_items" && w.table !== "refunds") continue;
		const site = row.site;
		const order = row.order_id;
		if (typeof site !== "string" || typeof order !== "string") continue;
		let set = out.get(site);
		if (!set) out.set(site, (set = new Set()));
		set.add(order);
	}
	return out;
}

/**
 * Statements to append to the batch that applies `writes` (they must run after them, in the same
 * transaction): record and resolve the issues of every order the writes touched. None when the writes
 * touch no order, line or refund.
 */
export function qualityStatements(db: D1Database, writes: readonly Write[], now: number): D1PreparedStatement[] {
	const out: D1PreparedStatement[] = [];
	for (const [site, orders] of touchedOrders(writes)) {
		const ids = [...orders];
		// Ids are ≤ 128 characters: 5,000 of them stay under D1's limit for one bound value.
		for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
			const json = JSON.stringify(ids.slice(i, i + IDS_PER_STATEMENT));
			out.push(db.prepare(SQL.record.orders).bind(site, json, now), db.prepare(SQL.resolve.orders).bind(site, json, now));
		}
	}
	return out;
}

/**
 * Re-checks every order of a site (the nightly reconciliation): catches what a per-write check cannot
 * see, such as a refund re-sent against another order (the first order's issue resolves here) or an
 * order erased since. Returns [opened or changed, resolved].
 */
export async function recheckSite(db: D1Database, site: string, now: number): Promise<{ recorded: number; resolved: number }> {
	const [rec, res] = await db.batch([db.prepare(SQL.record.site).bind(site, null, now), db.prepare(SQL.resolve.site).bind(site, null, now)]);
	return { recorded: rec?.meta.changes ?? 0, resolved: res?.meta.changes ?? 0 };
}
