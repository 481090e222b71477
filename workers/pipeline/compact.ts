/**
 * R2 archive compaction (cron): merges a UTC day's raw objects — one per event-hour per queue batch,
 * one per day per import slice — into one `raw/site=<site>/dt=<day>/compact-<uuid>.ndjson.gz`, so a
 * backfill or a day of traffic does not leave thousands of tiny objects.
 *
 * Exactly-once (every stored event in exactly one object its row points to) holds at every step:
 *  1. put the merged object M, built from the day's rows as D1 stores them (rows still point to the
 *     old objects; M is pointed to by none);
 *  2. re-point the rows to M in one UPDATE, only if the old objects' rows are still exactly the rows
 *     M was built from (same count, all stamped archived) — an erasure or a purge in between makes it a
 *     no-op, and M is deleted as unreferenced;
 *  3. delete the old objects (no row points to them any more).
 * A crash after 1 leaves M unreferenced, after 2 leaves the old objects unreferenced: the next run
 * deletes objects of the day that no row points to (under a per-day lease, so never the fresh M of a
 * concurrent run). The reconciliation sums the `count` metadata of the day's objects: between 1 and 3
 * (a few D1/R2 round trips, or until the next run after a crash there) it counts the day's events
 * twice; it never counts an event zero times.
 *
 * Days qualify once they ended more than a day ago (late queue retries and the sweeper have run) and
 * every row of the day is archived; new objects for a compacted day (late events) make it dirty again.
 */
import { STORED_COLUMNS } from "./message";
import { putArchiveObject } from "./archive";

const DAY_MS = 86_400_000;
/** A compaction's hold on a day: long enough for one day's merge, short enough to recover from a crash within a cron cycle. */
const LEASE_MS = 5 * 60_000;
/** Days merged per cron fire at most, and the wall time after which no new day is started. */
export const COMPACT_DAYS_PER_RUN = 2000;
export const COMPACT_BUDGET_MS = 20_000;
/**
 * Events a merged object may hold (built in memory). A bigger day is merged hour by hour instead: the
 * hour objects of each hour into one `…/hour=<HH>/compact-<uuid>.ndjson.gz`; its day-level objects stay.
 */
export const MAX_MERGE_ROWS = 50_000;

export interface CompactionReport {
	/** Days looked at, days merged into fewer objects, objects removed (merged or unreferenced), objects written. */
	days: number;
	merged: number;
	objectsDeleted: number;
	objectsWritten: number;
	/** Days left for a later run: rows not yet archived, a lease held elsewhere, or a merge that lost a race. */
	skipped: number;
	ms: number;
}

/** Compacts dirty days that ended more than a day before `now`, within the run's budget. */
export async function compactArchive(env: Env, now: number, opts: { maxDays?: number; budgetMs?: number } = {}): Promise<CompactionReport> {
	const started = Date.now();
	const report: CompactionReport = { days: 0, merged: 0, objectsDeleted: 0, objectsWritten: 0, skipped: 0, ms: 0 };
	// Day D qualifies when D + 2 days ≤ now, i.e. it ended at least a day ago.
	const lastDay = new Date(now - 2 * DAY_MS).toISOString().slice(0, 10);
	const due = await env.DB.prepare("SELECT site, day, dirty_at FROM archive_days WHERE dirty_at IS NOT NULL AND day <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY day LIMIT ?")
		.bind(lastDay, now, opts.maxDays ?? COMPACT_DAYS_PER_RUN)
		.all<{ site: string; day: string; dirty_at: number }>();
	// Erasures in progress rewrite objects by key: keep their sites' objects where they are until they finish.
	const erasing = new Set((await env.DB.prepare("SELECT DISTINCT site FROM erasures WHERE status = 'running'").all<{ site: string }>()).results.map((r) => r.site));
	for (const d of due.results) {
		if (Date.now() - started > (opts.budgetMs ?? COMPACT_BUDGET_MS)) break;
		report.days++;
		if (erasing.has(d.site)) {
			report.skipped++;
			continue;
		}
		const r = await compactDay(env, d.site, d.day, d.dirty_at, now);
		if (r === null) report.skipped++;
		else {
			if (r.written) report.merged++;
			report.objectsDeleted += r.deleted;
			report.objectsWritten += r.written;
		}
	}
	report.ms = Date.now() - started;
	if (report.days) console.log(JSON.stringify({ archive_compaction: report }));
	return report;
}

/**
 * Compacts one (site, UTC day) under a lease. Returns the objects written and deleted, or null when
 * the day was left for later (lease held, rows not archived yet, or the rows changed during the merge).
 */
export async function compactDay(env: Env, site: string, day: string, seenDirtyAt: number | null, now: number): Promise<{ written: number; deleted: number } | null> {
	const db = env.DB;
	const bucket = env.ARCHIVE;
	const lease = await db
		.prepare("UPDATE archive_days SET lease_until = ?3 WHERE site = ?1 AND day = ?2 AND (lease_until IS NULL OR lease_until < ?4) RETURNING dirty_at")
		.bind(site, day, now + LEASE_MS, now)
		.first<{ dirty_at: number | null }>();
	if (!lease) return null;
	const release = (clean: boolean, merged = 0) =>
		db
			.prepare(
				`UPDATE archive_days SET lease_until = NULL, dirty_at = CASE WHEN ?3 AND dirty_at IS ?4 THEN NULL ELSE dirty_at END,
				 compacted_at = CASE WHEN ?3 THEN ?5 ELSE compacted_at END, objects_merged = objects_merged + ?6 WHERE site = ?1 AND day = ?2`,
			)
			.bind(site, day, clean ? 1 : 0, seenDirtyAt ?? lease.dirty_at, now, merged)
			.run();

	const prefix = `raw/site=${site}/dt=${day}/`;
	const start = Date.parse(`${day}T00:00:00Z`);
	// List first, read D1 second: an object in the listing was claimed in D1 before its put, so a row
	// pointing to it is visible to the read below; an object no row points to is garbage.
	const listed = await listKeys(bucket, prefix);
	const groups = await db
		.prepare("SELECT archive_key AS k, COUNT(*) AS n, COALESCE(SUM(archived_at IS NULL), 0) AS pending FROM events WHERE site = ? AND ts >= ? AND ts < ? GROUP BY archive_key")
		.bind(site, start, start + DAY_MS)
		.all<{ k: string | null; n: number; pending: number }>();
	if (groups.results.some((g) => g.k === null || g.pending > 0)) {
		await release(false);
		return null;
	}
	const referenced = new Map(groups.results.map((g) => [g.k as string, g.n]));
	const total = groups.results.reduce((s, g) => s + g.n, 0);
	// With no row of the day left in D1 (retention, erasure) the objects are theirs to remove, not ours.
	const orphans = total > 0 ? listed.filter((k) => !referenced.has(k)) : [];

	let written = 0;
	const superseded: string[] = [];
	// Units to merge: the whole day, or (a big day) each hour's hour objects.
	const units: { prefix: string; keys: string[] }[] = [];
	if (total <= MAX_MERGE_ROWS) units.push({ prefix, keys: [...referenced.keys()] });
	else {
		for (let h = 0; h < 24; h++) {
			const hourPrefix = `${prefix}hour=${String(h).padStart(2, "0")}/`;
			units.push({ prefix: hourPrefix, keys: [...referenced.keys()].filter((k) => k.startsWith(hourPrefix)) });
		}
	}
	let lostRace = false;
	for (const unit of units) {
		if (unit.keys.length < 2) continue;
		const n = unit.keys.reduce((s, k) => s + (referenced.get(k) ?? 0), 0);
		const keysJson = JSON.stringify(unit.keys);
		const rows = await db
			.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE archive_key IN (SELECT value FROM json_each(?)) ORDER BY ts, id`)
			.bind(keysJson)
			.all<Record<string, unknown>>();
		if (rows.results.length !== n) {
			lostRace = true;
			continue;
		}
		const merged = `${unit.prefix}compact-${crypto.randomUUID()}.ndjson.gz`;
		await putArchiveObject(bucket, merged, rows.results, { merged_from: String(unit.keys.length) });
		// Conditional on the rows M holds being exactly the old objects' rows, all stamped.
		const moved = await db
			.prepare(
				`UPDATE events SET archive_key = ?1 WHERE archive_key IN (SELECT value FROM json_each(?2))
				 AND (SELECT COUNT(*) FROM events WHERE archive_key IN (SELECT value FROM json_each(?2)) AND archived_at IS NOT NULL) = ?3`,
			)
			.bind(merged, keysJson, n)
			.run();
		if (moved.meta.changes !== n) {
			// Someone changed the rows in between (an erasure, a purge): M is garbage, the old objects stay.
			await bucket.delete(merged);
			lostRace = true;
			continue;
		}
		written++;
		superseded.push(...unit.keys);
	}
	const toDelete = [...superseded, ...orphans];
	for (let i = 0; i < toDelete.length; i += 1000) await bucket.delete(toDelete.slice(i, i + 1000));
	await release(!lostRace, superseded.length);
	return lostRace && !written ? null : { written, deleted: toDelete.length };
}

/** Every object key under a prefix. */
async function listKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
	const keys: string[] = [];
	let cursor: string | undefined;
	do {
		const page = await bucket.list({ prefix, cursor });
		keys.push(...page.objects.map((o) => o.key));
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return keys;
}
