/**
 * R2 archive compaction (workers/pipeline/compact.ts, issue 15): a day's many objects become one, every
 * event stays in exactly one object its row points to, the reconciliation's count (sum of `count`
 * metadata) stays the number of events, and a crash between the steps is finished by the next run.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveEvents, archiveImportJob, putArchiveObject, storeEvents, storeImported } from "../workers/pipeline/archive";
import { compactArchive, compactDay } from "../workers/pipeline/compact";
import { STORED_COLUMNS } from "../workers/pipeline/message";
import { countArchived } from "../workers/pipeline/routes";
import { primaryStub } from "../workers/realtime/shards";
import { getJson, listKeys, readArchive, storedEvent } from "./helpers";

const HOUR = 3_600_000;
/** "Now" for the cron: 2026-11-25 12:00 UTC, so 2026-11-23 and earlier have ended more than a day ago. */
const NOW = Date.UTC(2026, 10, 25, 12);

/** Every event of a prefix as read back from R2, with the object it came from. */
async function archived(prefix: string): Promise<{ key: string; id: string }[]> {
	const keys = await listKeys(env.ARCHIVE, prefix);
	return (await Promise.all(keys.map(async (key) => (await readArchive(env.ARCHIVE, key)).map((e) => ({ key, id: String(e.id) }))))).flat();
}

/** Stores events of one day through the queue consumer's path: one archiveEvents call per batch → one object per (hour, batch). */
async function liveDay(site: string, day: string, batches: number, perBatch: number): Promise<string[]> {
	const start = Date.parse(`${day}T00:00:00Z`);
	const ids: string[] = [];
	for (let b = 0; b < batches; b++) {
		// Each batch spans three hours: three objects per batch.
		const events = Array.from({ length: perBatch }, (_, i) => storedEvent({ site, id: `${day}-b${b}-${i}`, ts: start + ((b * 3 + (i % 3)) % 24) * HOUR + i * 1000 }));
		await storeEvents(env.DB, events);
		await archiveEvents(env.DB, env.ARCHIVE, events, start + DAY_MS);
		ids.push(...events.map((e) => e.id));
	}
	return ids;
}
const DAY_MS = 86_400_000;

describe("archive compaction", () => {
	it("merges a day's hour objects into one object holding every event once; rows point to it and the count metadata sums to the events", async () => {
		const day = "2026-11-20";
		const ids = await liveDay("demo", day, 4, 30); // 4 batches × 3 hours = 12 objects, 120 events
		const prefix = `raw/site=demo/dt=${day}/`;
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 120, objects: 12 });

		const report = await compactArchive(env, NOW);
		expect(report).toMatchObject({ merged: 1, objectsWritten: 1, objectsDeleted: 12, skipped: 0 });
		const keys = await listKeys(env.ARCHIVE, prefix);
		expect(keys).toHaveLength(1);
		expect(keys[0]).toMatch(/^raw\/site=demo\/dt=2026-11-20\/compact-[0-9a-f-]{36}\.ndjson\.gz$/);
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 120, objects: 1 });
		const lines = await archived(prefix);
		expect(lines.map((l) => l.id).sort()).toEqual([...ids].sort());
		// The merged object is in time order, like any object rebuilt from its rows.
		const full = await readArchive(env.ARCHIVE, keys[0] as string);
		expect(full.map((e) => e.ts)).toEqual([...full.map((e) => Number(e.ts))].sort((a, b) => a - b));
		expect(Object.keys(full[0] ?? {})).toEqual([...STORED_COLUMNS]);
		const pointers = await env.DB.prepare("SELECT archive_key AS k, COUNT(*) AS n, SUM(archived_at IS NULL) AS pending FROM events WHERE site = 'demo' AND ts >= ? AND ts < ? GROUP BY archive_key")
			.bind(Date.parse(`${day}T00:00:00Z`), Date.parse(`${day}T00:00:00Z`) + DAY_MS)
			.all();
		expect(pointers.results).toEqual([{ k: keys[0], n: 120, pending: 0 }]);

		// A second run finds nothing to do; the reconciliation still holds (120 imported in the ledger for the health check).
		expect(await compactArchive(env, NOW)).toMatchObject({ days: 0, merged: 0 });
		await primaryStub(env, "demo").count("imported", day, 120);
		const { body: health } = await getJson<Record<string, unknown>>(`/api/v1/health/pipeline?site=demo&date=${day}`);
		expect(health).toMatchObject({ stored: 120, archived: 120, archive_objects: 1, reconciled: true });
	});

	it("leaves days that ended less than a day ago, and days with events not yet archived", async () => {
		const recent = "2026-11-24"; // ends 2026-11-25 00:00, 12 h before NOW
		await liveDay("demo", recent, 2, 6);
		const pendingDay = "2026-11-19";
		await liveDay("demo", pendingDay, 2, 6);
		// One more event of that day stored but not archived yet (the consumer or sweeper has not run).
		await storeEvents(env.DB, [storedEvent({ id: "late-unarchived", ts: Date.parse(`${pendingDay}T05:00:00Z`) })]);
		await env.DB.prepare("UPDATE archive_days SET dirty_at = 1 WHERE site = 'demo' AND day = ?").bind(pendingDay).run();
		const report = await compactArchive(env, NOW);
		expect(report).toMatchObject({ merged: 0, skipped: 1 });
		expect(await listKeys(env.ARCHIVE, `raw/site=demo/dt=${recent}/`)).toHaveLength(6);
		expect(await listKeys(env.ARCHIVE, `raw/site=demo/dt=${pendingDay}/`)).toHaveLength(6);
		// Once archived, the day compacts (the late event's own object included).
		await archiveEvents(env.DB, env.ARCHIVE, [{ site: "demo", id: "late-unarchived" }], NOW);
		expect(await compactAllDays()).toMatchObject({ merged: 1 });
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${pendingDay}/`)).toEqual({ events: 13, objects: 1 });
		// A day later the recent day qualifies too.
		expect(await compactArchive(env, NOW + DAY_MS)).toMatchObject({ merged: 1 });
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${recent}/`)).toEqual({ events: 12, objects: 1 });
	});

	it("a late event for a compacted day makes it dirty again; the next run merges it into one object again", async () => {
		const day = "2026-11-18";
		await liveDay("demo", day, 2, 9);
		await compactArchive(env, NOW);
		const late = storedEvent({ id: "late-1118", ts: Date.parse(`${day}T23:59:00Z`) });
		await storeEvents(env.DB, [late]);
		await archiveEvents(env.DB, env.ARCHIVE, [late], NOW);
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${day}/`)).toEqual({ events: 19, objects: 2 });
		expect(await compactArchive(env, NOW)).toMatchObject({ merged: 1, objectsDeleted: 2 });
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${day}/`)).toEqual({ events: 19, objects: 1 });
		expect((await archived(`raw/site=demo/dt=${day}/`)).filter((l) => l.id === "late-1118")).toHaveLength(1);
	});

	it("merges import objects (one per day per job) with hour objects of the same day", async () => {
		const day = "2026-11-15";
		const start = Date.parse(`${day}T00:00:00Z`);
		const imported = Array.from({ length: 40 }, (_, i) => storedEvent({ id: `imp-${i}`, ts: start + (i % 24) * HOUR }));
		// Two import jobs (ids are uuids), one object per day each.
		const jobs = ["00000000-0000-4000-8000-0000000000b1", "00000000-0000-4000-8000-0000000000b2"];
		await storeImported(env.DB, imported.slice(0, 20), jobs[0] as string);
		await storeImported(env.DB, imported.slice(20), jobs[1] as string);
		for (const job of jobs) await archiveImportJob(env.DB, env.ARCHIVE, "demo", job, 0, Date.now() + 10_000);
		await liveDay("demo", day, 1, 6);
		const before = await listKeys(env.ARCHIVE, `raw/site=demo/dt=${day}/`);
		expect(before.filter((k) => /\/import-[0-9a-f-]{36}\.ndjson\.gz$/.test(k))).toHaveLength(2);
		expect(before).toHaveLength(5);
		await compactAllDays();
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${day}/`)).toEqual({ events: 46, objects: 1 });
	});

	it("crash after the merged object was written, before the rows moved: the next run deletes the stray object and merges again", async () => {
		const day = "2026-11-12";
		const prefix = `raw/site=demo/dt=${day}/`;
		await liveDay("demo", day, 2, 6);
		const start = Date.parse(`${day}T00:00:00Z`);
		const rows = await env.DB.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE site = 'demo' AND ts >= ? AND ts < ? ORDER BY ts, id`).bind(start, start + DAY_MS).all<Record<string, unknown>>();
		// Step 1 of a run that then died: M exists, no row points to it. The count is doubled until the next run.
		await putArchiveObject(env.ARCHIVE, `${prefix}compact-00000000-0000-4000-8000-000000000001.ndjson.gz`, rows.results);
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 24, objects: 7 });
		await compactAllDays();
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 12, objects: 1 });
		expect(await listKeys(env.ARCHIVE, prefix)).not.toContain(`${prefix}compact-00000000-0000-4000-8000-000000000001.ndjson.gz`);
		expect(new Set((await archived(prefix)).map((l) => l.id)).size).toBe(12);
	});

	it("crash after the rows moved, before the old objects were deleted: the next run deletes the objects no row points to", async () => {
		const day = "2026-11-11";
		const prefix = `raw/site=demo/dt=${day}/`;
		await liveDay("demo", day, 2, 6);
		const start = Date.parse(`${day}T00:00:00Z`);
		const rows = await env.DB.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE site = 'demo' AND ts >= ? AND ts < ? ORDER BY ts, id`).bind(start, start + DAY_MS).all<Record<string, unknown>>();
		const merged = `${prefix}compact-00000000-0000-4000-8000-000000000002.ndjson.gz`;
		await putArchiveObject(env.ARCHIVE, merged, rows.results);
		await env.DB.prepare("UPDATE events SET archive_key = ? WHERE site = 'demo' AND ts >= ? AND ts < ?").bind(merged, start, start + DAY_MS).run();
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 24, objects: 7 });
		const r = await compactDay(env, "demo", day, null, NOW);
		expect(r).toEqual({ written: 0, deleted: 6 });
		expect(await listKeys(env.ARCHIVE, prefix)).toEqual([merged]);
		expect(await countArchived(env.ARCHIVE, prefix)).toEqual({ events: 12, objects: 1 });
	});

	it("never runs two compactions of a day at once (lease), and leaves sites with an erasure in progress alone", async () => {
		const day = "2026-11-10";
		await liveDay("demo", day, 2, 3);
		await env.DB.prepare("UPDATE archive_days SET lease_until = ? WHERE site = 'demo' AND day = ?").bind(NOW + 60_000, day).run();
		expect(await compactDay(env, "demo", day, null, NOW)).toBeNull();
		expect(await listKeys(env.ARCHIVE, `raw/site=demo/dt=${day}/`)).toHaveLength(6);
		// The lease expires (a crashed run): the next run takes the day.
		expect(await compactDay(env, "demo", day, null, NOW + 120_000)).toEqual({ written: 1, deleted: 6 });

		const erasingDay = "2026-11-09";
		await liveDay("demo", erasingDay, 2, 3);
		await env.DB.prepare("INSERT INTO erasures (site, subject, pseudonym, status, archive_keys, requested_at) VALUES ('demo', 'h-test', 'p-test', 'running', '[]', 0)").run();
		const report = await compactArchive(env, NOW);
		expect(report.skipped).toBeGreaterThanOrEqual(1);
		expect(await listKeys(env.ARCHIVE, `raw/site=demo/dt=${erasingDay}/`)).toHaveLength(6);
		await env.DB.prepare("DELETE FROM erasures WHERE subject = 'h-test'").run();
		await compactAllDays();
		expect(await countArchived(env.ARCHIVE, `raw/site=demo/dt=${erasingDay}/`)).toEqual({ events: 6, objects: 1 });
	});
});

/** Runs the compaction until no day is left for it. */
async function compactAllDays() {
	let total = { merged: 0, objectsDeleted: 0 };
	for (let i = 0; i < 5; i++) {
		const r = await compactArchive(env, NOW);
		total = { merged: total.merged + r.merged, objectsDeleted: total.objectsDeleted + r.objectsDeleted };
		if (r.days === 0) break;
	}
	return total;
}
