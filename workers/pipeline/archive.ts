/**
 * D1 store and R2 archive for events, both exactly-once by (site, id) under at-least-once delivery.
 *
 * D1: `INSERT … ON CONFLICT DO NOTHING` keyed by (site, id).
 * R2: every stored event is claimed by exactly one object key (`archive_key`, set once by the claim;
 * only the compaction, workers/pipeline/compact.ts, moves it to a merged object); an object's content
 * is always rebuilt from the rows that claim its key, and `archived_at` is stamped after the put. A
 * retry after any partial failure rewrites the same key with the same rows, so no event can appear in
 * two objects or be missed.
 *
 * Layout (Hive-style, partitioned by the event's UTC day): queued events go to
 * `raw/site=<site>/dt=<day>/hour=<HH>/<uuid>.ndjson.gz` (one object per event-hour per queue batch);
 * imported events to `raw/site=<site>/dt=<day>/import-<job>.ndjson.gz` (one object per event-day per
 * import job, written once the job has stored all its rows, whatever the hours: per event-hour and
 * batch, an 18-month backfill wrote one object per hour of every 5,000 rows);
 * the compaction merges a day's objects into `raw/site=<site>/dt=<day>/compact-<uuid>.ndjson.gz`.
 */
import { jsonChunks } from "../lib/json-rows";
import { STORED_COLUMNS, type StoredEvent } from "./message";

/** Marks (site, UTC day) as holding new archive objects, for the compaction (workers/pipeline/compact.ts). */
export const MARK_DIRTY_SQL = "INSERT INTO archive_days (site, day, dirty_at) VALUES (?, ?, ?) ON CONFLICT (site, day) DO UPDATE SET dirty_at = excluded.dirty_at";

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
			const mark = db.prepare(MARK_DIRTY_SQL);
			const days = new Set([...groups.keys()].map((prefix) => /\/dt=([^/]+)\//.exec(prefix)?.[1] ?? ""));
			await db.batch([
				...[...groups].map(([prefix, groupIds]) => claim.bind(`${prefix}${crypto.randomUUID()}.ndjson.gz`, site, JSON.stringify(groupIds))),
				...[...days].map((day) => mark.bind(site, day, now)),
			]);
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
async function writeArchiveObject(db: D1Database, bucket: R2Bucket, key: string, now: number, profile?: ArchiveProfile): Promise<void> {
	const rows = await db.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE archive_key = ? ORDER BY ts, id`).bind(key).all<Record<string, unknown>>();
	await putArchiveObject(bucket, key, rows.results, {}, profile);
	await db.prepare("UPDATE events SET archived_at = ? WHERE archive_key = ?").bind(now, key).run();
}

/** One NDJSON line per stored row, in StoredEvent key order (the rows were validated on the way in: no re-validation). */
export function archiveLines(rows: Record<string, unknown>[]): string[] {
	return rows.map((row) => {
		const line: Record<string, unknown> = {};
		for (const k of STORED_COLUMNS) line[k] = k === "props" ? JSON.parse(String(row.props)) : row[k];
		return JSON.stringify(line);
	});
}

/**
 * Puts the gzipped NDJSON of `rows` (in the order given) at `key`, with `count` (events in it, what
 * the reconciliation sums), `site`, `dt` and, for hour objects, `hour` as custom metadata.
 */
export async function putArchiveObject(bucket: R2Bucket, key: string, rows: Record<string, unknown>[], extra: Record<string, string> = {}, profile?: ArchiveProfile): Promise<void> {
	const t = performance.now();
	const lines = archiveLines(rows);
	if (profile) profile.archive_build_ms += performance.now() - t;
	await putArchiveText(bucket, key, `${lines.join("\n")}\n`, lines.length, extra, profile);
}

/** Puts NDJSON text of `count` events (each line ending in a newline), gzipped, with putArchiveObject's metadata. */
async function putArchiveText(bucket: R2Bucket, key: string, text: string, count: number, extra: Record<string, string> = {}, profile?: ArchiveProfile): Promise<void> {
	const t = performance.now();
	const body = await gzip(text);
	const built = performance.now();
	if (profile) profile.archive_build_ms += built - t;
	const [, site, dt, hour] = /^raw\/site=([^/]+)\/dt=([^/]+)\/(?:hour=(\d\d)\/)?/.exec(key) ?? [];
	await bucket.put(key, body, {
		httpMetadata: { contentType: "application/gzip" },
		customMetadata: { count: String(count), site: site ?? "", dt: dt ?? "", hour: hour ?? "", ...extra },
	});
	if (profile) profile.r2_put_ms += performance.now() - built;
}

/** Time (ms) spent in each step of `archiveImportJob` (claim = finding the job's keys), added to the caller's totals. */
export interface ArchiveProfile {
	archive_claim_ms: number;
	archive_build_ms: number;
	r2_put_ms: number;
	archive_stamp_ms: number;
	archive_objects: number;
}

/** Parallel object writes per call: local and remote R2 overlap well; more would only queue. */
const PUT_CONCURRENCY = 4;
/**
 * Day objects read from D1 (and stamped) per statement while archiving an import, bounded by keys and by
 * rows: each statement holds the database for its rows only, so a request waiting behind it (a progress
 * poll) waits tens of milliseconds, not the whole group's seconds.
 */
const KEYS_PER_READ = 64;
const ROWS_PER_READ = 2500;

/** `raw/site=<site>/dt=<day>/import-<job>.ndjson.gz`: an import job's one object per UTC day of its events. */
export function importArchiveKey(site: string, day: string, job: string): string {
	return `raw/site=${site}/dt=${day}/import-${job}.ndjson.gz`;
}

const TS_INDEX = STORED_COLUMNS.indexOf("ts");
const SITE_INDEX = STORED_COLUMNS.indexOf("site");
/** INSERT_SQL plus the claim: each new row's archive_key is its job's object for the row's UTC day (importArchiveKey, in SQL). */
const importInsertSql = (returning: string) => `INSERT INTO events (${STORED_COLUMNS.join(", ")}, archive_key) SELECT ${STORED_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")},
	'raw/site=' || (value ->> ${SITE_INDEX}) || '/dt=' || strftime('%Y-%m-%d', (value ->> ${TS_INDEX}) / 1000, 'unixepoch') || '/import-' || ?2 || '.ndjson.gz'
	FROM json_each(?1) WHERE true ON CONFLICT (site, id) DO NOTHING RETURNING ${returning}`;
const INSERT_IMPORTED_SQL = importInsertSql("site, id");
/** The import slice's form: only the new rows' times come back (what the day ledger needs), no per-event matching. */
const INSERT_IMPORTED_TS_SQL = importInsertSql("ts");

/** Events as JSON chunks of STORED_COLUMNS rows (`importedStatement`'s parameter), at most `maxChars` each. */
export function importedRows(events: StoredEvent[], maxChars?: number): string[] {
	return jsonChunks(
		events.map((e) => STORED_COLUMNS.map((k) => (k === "props" ? JSON.stringify(e.props) : e[k]))),
		maxChars,
	);
}

/**
 * One statement storing one chunk of imported events (`importedRows`), each new row claiming its job's
 * object for its UTC day, and returning the new rows' `ts`. Rows already stored are left untouched and
 * not returned, so a redone slice counts nothing twice. The import slice sends these without waiting for
 * each (D1 runs them in order, while the slice parses the next rows).
 */
export function importedStatement(db: D1Database, json: string, job: string): D1PreparedStatement {
	return db.prepare(INSERT_IMPORTED_TS_SQL).bind(json, job);
}

/**
 * Stores imported events like `storeEvents`, each new row claiming its import job's object for its UTC
 * day in the same statement. The objects are written once the job has stored every row
 * (`archiveImportJob`), so a backfill writes one object per day it covers, not one per event-hour
 * per batch; until then the sweeper leaves these rows alone (`unarchived`).
 */
export async function storeImported(db: D1Database, events: StoredEvent[], job: string): Promise<boolean[]> {
	if (!events.length) return [];
	const stmt = db.prepare(INSERT_IMPORTED_SQL);
	const results = await db.batch<{ site: string; id: string }>(importedRows(events).map((json) => stmt.bind(json, job)));
	const inserted = new Set(results.flatMap((r) => r.results.map((row) => JSON.stringify([row.site, row.id]))));
	return events.map((e) => inserted.delete(JSON.stringify([e.site, e.id])));
}

/**
 * A stored row as its archive line, built by SQLite: the same keys in the same order as `archiveLines`
 * (STORED_COLUMNS), `props` as the JSON it was stored as. Building the lines in SQL rather than row
 * objects in JS (parse props, stringify the row) took most of the archive step's isolate time off it.
 */
const ARCHIVE_LINE_SQL = `json_object(${STORED_COLUMNS.map((c) => `'${c}', ${c === "props" ? "json(props)" : c}`).join(", ")})`;
/** One page of a group's lines in object order, after (key, ts, id) of the previous page's last row. */
const READ_LINES_SQL = `SELECT archive_key AS k, ts, id, ${ARCHIVE_LINE_SQL} AS line FROM events WHERE archive_key IN (SELECT value FROM json_each(?1)) AND (archive_key, ts, id) > (?2, ?3, ?4) ORDER BY archive_key, ts, id LIMIT ?5`;

/**
 * Writes an import job's unwritten day objects (rows stored since `since`, the job's creation), each
 * rebuilt from the rows claiming it and then stamped, up to `deadline` (epoch ms). Returns the objects
 * written and whether any remain. Rewriting a key is harmless: its rows are fixed once the job stored them.
 */
export async function archiveImportJob(db: D1Database, bucket: R2Bucket, site: string, job: string, since: number, deadline: number, profile?: ArchiveProfile): Promise<{ written: number; remaining: boolean }> {
	let t = performance.now();
	const keys = await db
		// instr, not LIKE: D1 refuses LIKE patterns over 50 bytes.
		.prepare("SELECT archive_key AS k, COUNT(*) AS n FROM events WHERE site = ? AND archived_at IS NULL AND received_at >= ? AND instr(archive_key, ?) > 0 GROUP BY archive_key")
		.bind(site, since, `/import-${job}.ndjson.gz`)
		.all<{ k: string; n: number }>();
	if (profile) profile.archive_claim_ms += performance.now() - t;
	// Keys in groups: a few reads and one stamp per group instead of two D1 round trips per object.
	const groups: string[][] = [];
	let rowsInGroup = 0;
	for (const { k, n } of keys.results) {
		const last = groups.at(-1);
		if (!last || last.length >= KEYS_PER_READ || rowsInGroup + n > ROWS_PER_READ) {
			groups.push([k]);
			rowsInGroup = n;
		} else {
			last.push(k);
			rowsInGroup += n;
		}
	}
	const done: string[] = [];
	for (const group of groups) {
		if (Date.now() >= deadline) break;
		// Pages of at most ROWS_PER_READ rows (a big day is read in several): each statement's hold on D1 and
		// its result stay small. Not read ahead while objects are put: locally R2 waits behind D1 statements.
		t = performance.now();
		const lines = new Map<string, string[]>();
		let after: [string, number, string] = ["", Number.MIN_SAFE_INTEGER, ""];
		for (;;) {
			const page = await db
				.prepare(READ_LINES_SQL)
				.bind(JSON.stringify(group), ...after, ROWS_PER_READ)
				.all<{ k: string; ts: number; id: string; line: string }>();
			for (const r of page.results) {
				const list = lines.get(r.k);
				if (list) list.push(r.line);
				else lines.set(r.k, [r.line]);
			}
			const last = page.results.at(-1);
			if (!last || page.results.length < ROWS_PER_READ) break;
			after = [last.k, last.ts, last.id];
		}
		if (profile) profile.archive_claim_ms += performance.now() - t;
		const objects = [...lines];
		let i = 0;
		const putter = async () => {
			for (let o = objects[i++]; o; o = objects[i++]) await putArchiveText(bucket, o[0], `${o[1].join("\n")}\n`, o[1].length, {}, profile);
		};
		await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, objects.length) }, putter));
		t = performance.now();
		await db.prepare("UPDATE events SET archived_at = ?1 WHERE archive_key IN (SELECT value FROM json_each(?2)) AND archived_at IS NULL").bind(Date.now(), JSON.stringify(group)).run();
		if (profile) profile.archive_stamp_ms += performance.now() - t;
		done.push(...group);
	}
	t = performance.now();
	const days = [...new Set(done.map((k) => /\/dt=([^/]+)\//.exec(k)?.[1] ?? ""))];
	const mark = db.prepare(MARK_DIRTY_SQL);
	const now = Date.now();
	for (let i = 0; i < days.length; i += 500) await db.batch(days.slice(i, i + 500).map((day) => mark.bind(site, day, now)));
	if (profile) {
		profile.archive_stamp_ms += performance.now() - t;
		profile.archive_objects += done.length;
	}
	return { written: done.length, remaining: done.length < keys.results.length };
}

/** Gzips text with the runtime's CompressionStream. */
export async function gzip(text: string): Promise<ArrayBuffer> {
	const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
	return new Response(stream).arrayBuffer();
}

/**
 * Stored events not yet archived that were received before `before` (for the cron sweeper); rows
 * claimed by an import job still in progress are its own to write (`archiveImportJob`), so that the
 * sweeper never writes a day object before the job has stored all of that object's rows.
 */
export async function unarchived(db: D1Database, before: number, limit: number): Promise<EventRef[]> {
	const rows = await db
		.prepare(
			`SELECT site, id FROM events WHERE archived_at IS NULL AND received_at < ?
			 AND (archive_key IS NULL OR archive_key NOT LIKE '%/import-%'
			      OR substr(archive_key, instr(archive_key, '/import-') + 8, 36) NOT IN (SELECT id FROM import_jobs WHERE status IN ('uploading', 'queued', 'running')))
			 LIMIT ?`,
		)
		.bind(before, limit)
		.all<{ site: string; id: string }>();
	return rows.results.map((r) => ({ site: r.site, id: r.id }));
}
