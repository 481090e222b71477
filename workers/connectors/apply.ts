/**
 * A connector delivery's plan → one D1 batch (one transaction):
 *
 *   1. the delivery records in `webhook_deliveries` (the replay store of POST /hooks/orders), keyed on a
 *      canonical form: `<platform>:<verified MAC bytes>` or `stripe:<event id>` (and Shopify's webhook id); a
 *      repeat fails the batch;
 *   2. the version guards (`connector_versions`): an older platform version than stored fails the batch;
 *   3. the custom writes (first-seen refunds, subscription status, inventory levels, new customers);
 *   4. the records' writes, through the same entity specs, PII sealing, upsert SQL and quality checks as the
 *      upsert API (`ENTITIES[…].parse` → sealPiiWrites → toStatements).
 *
 * So a repeat and a stale update change nothing and answer 2xx (the platform stops retrying), and a failed
 * write leaves no delivery record, so the platform's retry is applied.
 */
import { ENTITIES, type Write } from "../commerce/entities";
import { changedRecords, toStatements } from "../commerce/store";
import { ApiError, type FieldIssue } from "../lib/http";
import { MAX_AMOUNT_MINOR } from "../lib/money";
import type { Site } from "../lib/sites";
import { toFields } from "../lib/validation";
import { sealPiiWrites } from "../privacy/pii";
import type { CustomOp, Plan, Platform } from "./common";

export type Outcome =
	| { status: "stored"; subject: string; received: number; rows_changed: number; notes: string[] }
	| { status: "duplicate"; reason: string }
	| { status: "ignored"; reason: string };

function opStatements(db: D1Database, site: string, now: number, op: CustomOp): D1PreparedStatement[] {
	switch (op.kind) {
		case "customer_if_absent":
			// A new buyer's analytics row; a known one only gets an earlier created_at or a first country.
			return [
				db
					.prepare(
						`INSERT INTO customers (site, customer_id, created_at, country, is_subscriber, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5)
						ON CONFLICT (site, customer_id) DO UPDATE SET created_at = MIN(customers.created_at, excluded.created_at), country = COALESCE(customers.country, excluded.country), updated_at = excluded.updated_at
						WHERE excluded.created_at < customers.created_at OR (customers.country IS NULL AND excluded.country IS NOT NULL)
						RETURNING customer_id`,
					)
					.bind(site, op.customer_id, op.created_at, op.country, now),
			];
		case "refund_first_seen":
			return [
				db
					.prepare(
						`INSERT INTO refunds (site, refund_id, order_id, created_at, amount_minor, currency, reason, is_return, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)
						ON CONFLICT (site, refund_id) DO UPDATE SET amount_minor = excluded.amount_minor, currency = excluded.currency, reason = excluded.reason, updated_at = excluded.updated_at
						WHERE (refunds.amount_minor, refunds.currency, refunds.reason) IS NOT (excluded.amount_minor, excluded.currency, excluded.reason)
						RETURNING refund_id`,
					)
					.bind(site, op.refund_id, op.order_id, op.created_at, op.amount_minor, op.currency, op.reason, now),
			];
		case "subscription":
			return [
				db
					.prepare(
						`INSERT INTO customers (site, customer_id, created_at, is_subscriber, subscription_status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
						ON CONFLICT (site, customer_id) DO UPDATE SET is_subscriber = excluded.is_subscriber, subscription_status = excluded.subscription_status,
							created_at = MIN(customers.created_at, excluded.created_at), updated_at = excluded.updated_at
						WHERE (customers.is_subscriber, customers.subscription_status, customers.created_at) IS NOT (excluded.is_subscriber, excluded.subscription_status, MIN(customers.created_at, excluded.created_at))
						RETURNING customer_id`,
					)
					.bind(site, op.customer_id, op.created_at, op.status === "active" ? 1 : 0, op.status, now),
			];
		case "inventory_item":
			return [
				db
					.prepare(
						`INSERT INTO connector_inventory_items (site, platform, item_id, sku) VALUES (?1, ?2, ?3, ?4)
						ON CONFLICT (site, platform, item_id) DO UPDATE SET sku = excluded.sku WHERE connector_inventory_items.sku IS NOT excluded.sku`,
					)
					.bind(site, op.platform, op.item_id, op.sku),
			];
		case "inventory_level":
			return [
				db
					.prepare(
						`INSERT INTO connector_inventory_levels (site, platform, item_id, location_id, available, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
						ON CONFLICT (site, platform, item_id, location_id) DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at
						WHERE (connector_inventory_levels.available, connector_inventory_levels.updated_at) IS NOT (excluded.available, excluded.updated_at)`,
					)
					.bind(site, op.platform, op.item_id, op.location_id, op.available, op.updated_at),
				// The SKU's stock at this moment: the sum over its locations' latest levels (none when the item's SKU is not known yet).
				db
					.prepare(
						`INSERT INTO inventory_snapshots (site, sku, taken_at, stock, updated_at)
						SELECT ?1, m.sku, ?4, SUM(l.available), ?5
						FROM connector_inventory_items m JOIN connector_inventory_levels l ON l.site = m.site AND l.platform = m.platform AND l.item_id = m.item_id
						WHERE m.site = ?1 AND m.platform = ?2 AND m.item_id = ?3
						GROUP BY m.sku
						ON CONFLICT (site, sku, taken_at) DO UPDATE SET stock = excluded.stock, updated_at = excluded.updated_at WHERE inventory_snapshots.stock IS NOT excluded.stock
						RETURNING sku`,
					)
					.bind(site, op.platform, op.item_id, op.updated_at, now),
			];
	}
}

/** Custom writes that count as records changed when they return a row (the bookkeeping ones do not). */
const COUNTED: Record<CustomOp["kind"], boolean> = { customer_if_absent: false, refund_first_seen: true, subscription: true, inventory_item: false, inventory_level: true };

/** Amounts the record formats do not check (the custom writes carry minor units). */
function checkOps(ops: CustomOp[]): FieldIssue[] {
	return ops.flatMap((op) => (op.kind === "refund_first_seen" && !(op.amount_minor >= 0 && op.amount_minor <= MAX_AMOUNT_MINOR) ? [{ field: `refund ${op.refund_id}.amount`, message: `must be from 0 to ${MAX_AMOUNT_MINOR} minor units` }] : []));
}

/** Runs a plan for `site` as one transaction; see the module comment for the order and what each failure means. */
export async function applyPlan(db: D1Database, site: Site, platform: Platform, replayKeys: string[], plan: Plan, now = Date.now()): Promise<Outcome> {
	const ctx = { site: site.id, currency: site.currency, now };
	const plain: Write[] = [];
	const recordOf: number[] = [];
	const issues: FieldIssue[] = [];
	plan.records.forEach((m, i) => {
		const r = ENTITIES[m.entity].parse(m.record, ctx);
		if (!r.ok) {
			for (const f of toFields(r.error)) issues.push({ field: `${m.entity}${f.field.startsWith("[") ? "" : "."}${f.field}`, message: f.message });
			return;
		}
		for (const w of r.writes) {
			plain.push(w);
			recordOf.push(i);
		}
	});
	issues.push(...checkOps(plan.ops));
	if (issues.length) throw new ApiError(400, "invalid_payload", `the ${platform} payload maps to records that are not valid`, issues);

	const writes = await sealPiiWrites(plain);
	const planned = toStatements(db, writes);
	const deliveries = replayKeys.map((key) => db.prepare("INSERT INTO webhook_deliveries (site, signature, received_at) VALUES (?, ?, ?)").bind(site.id, key, now));
	const guards = plan.versions.map((v) =>
		db
			.prepare(
				`INSERT INTO connector_versions (site, object, version) VALUES (?1, ?2, ?3)
				ON CONFLICT (site, object) DO UPDATE SET stale = excluded.version < connector_versions.version, version = excluded.version`,
			)
			.bind(site.id, v.object, v.version),
	);
	const opStmts = plan.ops.map((op) => ({ op, stmts: opStatements(db, site.id, now, op) }));
	const ops = opStmts.flatMap((o) => o.stmts);
	let results: D1Result[];
	try {
		results = await db.batch([...deliveries, ...guards, ...ops, ...planned.statements]);
	} catch (err) {
		const message = err instanceof Error ? err.message : String(err);
		if (/UNIQUE constraint failed: webhook_deliveries/.test(message)) return { status: "duplicate", reason: "this delivery was already applied" };
		if (/CHECK constraint failed/.test(message)) return { status: "ignored", reason: await staleReason(db, site.id, plan) };
		throw err;
	}
	let at = deliveries.length + guards.length;
	let opsChanged = 0;
	const notes: string[] = [];
	for (const { op, stmts } of opStmts) {
		const returned = stmts.map((_, k) => results[at + k]?.results.length ?? 0);
		at += stmts.length;
		if (COUNTED[op.kind]) opsChanged += returned.at(-1) ?? 0;
		if (op.kind === "inventory_level" && (returned.at(-1) ?? 0) === 0) {
			const known = await db.prepare("SELECT sku FROM connector_inventory_items WHERE site = ? AND platform = ? AND item_id = ?").bind(site.id, op.platform, op.item_id).first<{ sku: string }>();
			if (!known) notes.push(`inventory item ${op.item_id} has no known SKU yet: the level is kept and counts once products/create or products/update names it`);
		}
	}
	const changed = changedRecords(writes, planned, results.slice(at), recordOf) + opsChanged;
	return { status: "stored", subject: plan.subject, received: plan.records.length, rows_changed: changed, notes };
}

async function staleReason(db: D1Database, site: string, plan: Plan): Promise<string> {
	for (const v of plan.versions) {
		const row = await db.prepare("SELECT version FROM connector_versions WHERE site = ? AND object = ?").bind(site, v.object).first<{ version: number }>();
		if (row && row.version > v.version) return `stale: ${v.object} was updated at ${new Date(row.version).toISOString()}, this delivery is of ${new Date(v.version).toISOString()}`;
	}
	return "stale: a newer version of this object is stored";
}
