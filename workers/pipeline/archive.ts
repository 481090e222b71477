/**
 * D1 store and R2 archive for events, both exactly-once by (site, id) under at-least-once delivery.
 *
 * D1: `INSERT … ON CONFLICT DO NOTHING` keyed by (site, id).
 * R2: every stored event is claimed by exactly one object key (`archive_key`, set once, never
 * changed); an object's content is always rebuilt from the rows that claim its key, and
 * `archived_at` is stamped after the put. A retry after any partial failure rewrites the same key
 * with the same rows, so no event can appear in two objects or be missed.
 */
import { STORED_COLUMNS, storedEventSchema, type StoredEvent } from "./message";

const INSERT_SQL = `INSERT INTO events (${STORED_COLUMNS.join(", ")}) VALUES (${STORED_COLUMNS.map(() => "?").join(", ")}) ON CONFLICT (site, id) DO NOTHING`;

/**
 * Inserts events into D1 in one batch (one transaction); already-stored ids are left untouched.
 * Returns, per event, whether it was new.
 */
export async function storeEvents(db: D1Database, events: StoredEvent[]): Promise<boolean[]> {
	if (!events.length) return [];
	const stmt = db.prepare(INSERT_SQL);
	const results = await db.batch(events.map((e) => stmt.bind(...STORED_COLUMNS.map((k) => (k === "props" ? JSON.stringify(e.props) : e[k])))));
	return results.map((r) => (r.meta.changes ?? 0) > 0);
}

/** `raw/site=<site>/dt=<YYYY-MM-DD>/hour=<HH>/` of an event time (UTC). */
export function archivePrefix(site: string, ts: number): string {
	const iso = new Date(ts).toISOString();
	return `raw/site=${site}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

export interface EventRef {
	site: string;
	id: string;
}

/**
 * Makes sure every referenced (stored) event is in exactly one R2 object. Returns the number of
 * objects written.
 */
export async function archiveEvents(db: D1Database, bucket: R2Bucket, refs: EventRef[], now: number = Date.now()): Promise<number> {
	const bySite = new Map<string, string[]>();
	for (const r of refs) bySite.set(r.site, [...(bySite.get(r.site) ?? []), r.id]);
	let written = 0;
	for (const [site, ids] of bySite) {
		const idList = JSON.stringify(ids);
		// 1. Claim: unclaimed rows get one fresh key per (day, hour).
		const unclaimed = await db
			.prepare("SELECT id, ts FROM events WHERE site = ? AND id IN (SELECT value FROM json_each(?)) AND archive_key IS NULL")
			.bind(site, idList)
			.all<{ id: string; ts: number }>();
		const groups = new Map<string, string[]>();
		for (const row of unclaimed.results) {
			const prefix = archivePrefix(site, row.ts);
			groups.set(prefix, [...(groups.get(prefix) ?? []), row.id]);
		}
		if (groups.size) {
			const claim = db.prepare("UPDATE events SET archive_key = ? WHERE site = ? AND id IN (SELECT value FROM json_each(?)) AND archive_key IS NULL");
			await db.batch([...groups].map(([prefix, groupIds]) => claim.bind(`${prefix}${crypto.randomUUID()}.ndjson.gz`, site, JSON.stringify(groupIds))));
		}
		// 2. Write every key these events claim that is not yet stamped (including keys of earlier, failed attempts).
		const keys = await db
			.prepare("SELECT DISTINCT archive_key AS k FROM events WHERE site = ? AND id IN (SELECT value FROM json_each(?)) AND archived_at IS NULL AND archive_key IS NOT NULL")
			.bind(site, idList)
			.all<{ k: string }>();
		for (const { k } of keys.results) {
			await writeArchiveObject(db, bucket, k, now);
			written++;
		}
	}
	return written;
}

/** (Re)writes one archive object from the rows that claim it, then stamps them archived. */
async function writeArchiveObject(db: D1Database, bucket: R2Bucket, key: string, now: number): Promise<void> {
	const rows = await db.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE archive_key = ? ORDER BY ts, id`).bind(key).all<Record<string, unknown>>();
	const lines = rows.results.map((row) => JSON.stringify(storedEventSchema.parse({ ...row, props: JSON.parse(String(row.props)) })));
	const body = await gzip(`${lines.join("\n")}\n`);
	const [, site, dt, hour] = /^raw\/site=([^/]+)\/dt=([^/]+)\/hour=(\d\d)\//.exec(key) ?? [];
	await bucket.put(key, body, {
		httpMetadata: { contentType: "application/gzip" },
		customMetadata: { count: String(lines.length), site: site ?? "", dt: dt ?? "", hour: hour ?? "" },
	});
	await db.prepare("UPDATE events SET archived_at = ? WHERE archive_key = ?").bind(now, key).run();
}

/** Gzips text with the runtime's CompressionStream. */
export async function gzip(text: string): Promise<ArrayBuffer> {
	const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
	return new Response(stream).arrayBuffer();
}

/** Stored events not yet archived that were received before `before` (for the cron sweeper). */
export async function unarchived(db: D1Database, before: number, limit: number): Promise<EventRef[]> {
	const rows = await db.prepare("SELECT site, id FROM events WHERE archived_at IS NULL AND received_at < ? LIMIT ?").bind(before, limit).all<{ site: string; id: string }>();
	return rows.results.map((r) => ({ site: r.site, id: r.id }));
}
