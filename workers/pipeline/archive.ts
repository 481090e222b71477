/**
 * D1 store and R2 archive for events, both exactly-once by (site, id) under at-least-once delivery.
 *
 * D1: `INSERT … ON CONFLICT DO NOTHING` keyed by (site, id).
 * R2: every stored event is claimed by exactly one object key (`archive_key`, set once, never
 * changed); an object's content is always rebuilt from the rows that claim its key, and
 * `archived_at` is stamped after the put. A retry after any partial failure rewrites the same key
 * with the same rows, so no event can appear in two objects or be missed.
 */
import { jsonChunks } from "../lib/json-rows";
import { STORED_COLUMNS, type StoredEvent } from "./message";

/** Rows arrive as one JSON array of arrays (column order STORED_COLUMNS); RETURNING names the new ones. */
const INSERT_SQL = `INSERT INTO events (${STORED_COLUMNS.join(", ")}) SELECT ${STORED_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?) WHERE true ON CONFLICT (site, id) DO NOTHING RETURNING site, id`;

/**
 * Inserts events into D1 in one batch (one transaction) of set-based statements, each reading up to
 * MAX_JSON_CHARS (lib/json-rows) of rows from one JSON parameter; already-stored ids are left untouched. Returns, per
 * event, whether it was new (of two copies of one event in `events`, the first is the new one).
 */
export async function storeEvents(db: D1Database, events: StoredEvent[]): Promise<boolean[]> {
	if (!events.length) return [];
	const rows = events.map((e) => STORED_COLUMNS.map((k) => (k === "props" ? JSON.stringify(e.props) : e[k])));
	const stmt = db.prepare(INSERT_SQL);
	const results = await db.batch<{ site: string; id: string }>(jsonChunks(rows).map((json) => stmt.bind(json)));
	const inserted = new Set(results.flatMap((r) => r.results.map((row) => JSON.stringify([row.site, row.id]))));
	return events.map((e) => inserted.delete(JSON.stringify([e.site, e.id])));
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
	// The rows were validated on the way in: rebuild each line in StoredEvent key order without re-validating.
	const lines = rows.results.map((row) => {
		const line: Record<string, unknown> = {};
		for (const k of STORED_COLUMNS) line[k] = k === "props" ? JSON.parse(String(row.props)) : row[k];
		return JSON.stringify(line);
	});
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
