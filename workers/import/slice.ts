/**
 * Processes one slice of an import: reads the R2 object from the job's byte offset, parses records,
 * validates each with the entity spec, upserts good rows in D1 batches and records rejected rows,
 * then advances the job with a compare-and-set on `bytes_done` and queues the next slice. A slice
 * that is delivered twice finds `bytes_done` moved on and does nothing; one that failed halfway is
 * redone from the same offset, and its upserts are idempotent.
 */
import { primaryStub } from "../realtime/shards";
import { z } from "zod";
import { ENTITIES, isEntity, type Write, type WriteContext } from "../commerce/entities";
import { applyWrites } from "../commerce/store";
import { fieldPath, utcDay } from "../lib/http";
import { toIssues } from "../lib/validation";
import { archiveImportJob, storeImported } from "../pipeline/archive";
import type { StoredEvent } from "../pipeline/message";
import { importEventRecord } from "./events";
import { parseRecords, readCsvHeader, type Format } from "./parse";

/** A slice stops after this much wall time or this many rows, so each invocation stays well inside limits. */
export const SLICE_MS = 10_000;
export const SLICE_ROWS = 25_000;
/** Of SLICE_MS, what the loop leaves for the last flush and the sink's finish (events: the ledger calls). */
const FINISH_RESERVE_MS = 3_000;
/** Records per D1 batch: commerce records (an order brings its lines), and backfilled events (fewer, larger archive objects). */
const FLUSH_ROWS = 1000;
const FLUSH_EVENTS = 5000;
/** Ledger RPCs in flight at once at the end of an events slice. */
const LEDGER_CONCURRENCY = 4;
/** Rows between two yields to the event loop while parsing and validating. */
const YIELD_ROWS = 500;
/** Rejected rows kept per job (all are counted). */
export const MAX_REJECTS_KEPT = 1000;

export const sliceMessageSchema = z.strictObject({ job: z.string(), offset: z.number().int().nonnegative() });
export type SliceMessage = z.infer<typeof sliceMessageSchema>;

const jobRow = z.object({
	id: z.string(),
	site: z.string(),
	entity: z.string(),
	format: z.enum(["csv", "ndjson"]),
	status: z.string(),
	object_key: z.string(),
	bytes_done: z.number(),
	next_line: z.number(),
	header: z.string().nullable(),
	rows_rejected: z.number(),
	bytes_total: z.number(),
	currency: z.string(),
	created_at: z.number(),
});

/**
 * Wall time (ms) a slice spent in each phase, logged as one JSON line per slice (`import_slice`) so a
 * benchmark or an operator can see where an import's time goes. Phases that a sink does not have stay 0.
 */
export interface SliceProfile {
	parse_ms: number;
	validate_ms: number;
	d1_store_ms: number;
	ledger_ms: number;
	archive_ms: number;
	archive_claim_ms: number;
	archive_build_ms: number;
	r2_put_ms: number;
	archive_stamp_ms: number;
	archive_objects: number;
}
export const emptyProfile = (): SliceProfile => ({ parse_ms: 0, validate_ms: 0, d1_store_ms: 0, ledger_ms: 0, archive_ms: 0, archive_claim_ms: 0, archive_build_ms: 0, r2_put_ms: 0, archive_stamp_ms: 0, archive_objects: 0 });

const roundProfile = (p: SliceProfile): SliceProfile => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Math.round(v)])) as unknown as SliceProfile;

/** Where validated rows go: `add` returns a rejection reason or null; `flush` writes and returns the records that changed. */
interface Sink {
	/** Flush when this many records are waiting. */
	flushAt: number;
	add(record: Record<string, unknown>): string | null;
	size(): number;
	flush(): Promise<number>;
	/** After the last flush of the slice, before the job advances (events: the archive). */
	finish?(): Promise<void>;
}

const reason = (error: z.ZodError) =>
	toIssues(error)
		.map((i) => `${fieldPath(i.path)}: ${i.message}`)
		.join("; ");

function entitySink(env: Env, entity: string, ctx: WriteContext): Sink {
	if (!isEntity(entity)) throw new Error(`unknown entity ${entity}`);
	const spec = ENTITIES[entity];
	let writes: Write[] = [];
	// The record (row of the file) each write belongs to: rows_changed counts records, not table rows.
	let recordOf: number[] = [];
	let rows = 0;
	return {
		flushAt: FLUSH_ROWS,
		add(record) {
			const r = spec.parse(record, ctx);
			if (!r.ok) return reason(r.error);
			writes.push(...r.writes);
			for (const _ of r.writes) recordOf.push(rows);
			rows++;
			return null;
		},
		size: () => rows,
		async flush() {
			const batch = writes;
			const owners = recordOf;
			writes = [];
			recordOf = [];
			rows = 0;
			return batch.length ? (await applyWrites(env.DB, batch, owners)).changed : 0;
		},
	};
}

/**
 * Backfilled events: stored in D1 per flush, each row claiming its job's object for its UTC day
 * (archive.ts `storeImported`), and counted in the day's ledger as imported once per slice. The R2
 * objects are written after the last slice (`archivePhase`): one per day the job covers. Archiving per
 * flush and per event-hour wrote one object per hour of every 5,000 rows — a backfill spread over 13,000
 * hours spent 96% of a slice in claims and puts and 2–4% in one ledger call per day (bench/import).
 */
function eventSink(env: Env, ctx: WriteContext, job: string, profile: SliceProfile): Sink {
	let events: StoredEvent[] = [];
	const perDay = new Map<string, number>();
	return {
		flushAt: FLUSH_EVENTS,
		add(record) {
			const r = importEventRecord(record, ctx);
			if (!r.ok) return reason(r.error);
			events.push(r.event);
			return null;
		},
		size: () => events.length,
		async flush() {
			const batch = events;
			events = [];
			if (!batch.length) return 0;
			const t = performance.now();
			const fresh = await storeImported(env.DB, batch, job);
			profile.d1_store_ms += performance.now() - t;
			batch.forEach((e, i) => {
				if (fresh[i]) perDay.set(utcDay(e.ts), (perDay.get(utcDay(e.ts)) ?? 0) + 1);
			});
			return fresh.filter(Boolean).length;
		},
		async finish() {
			const t = performance.now();
			// One RPC per day, a few in flight at a time: hundreds at once queue ahead of every other request
			// in the isolate (a progress poll waited seconds behind them; bench/import).
			const live = primaryStub(env, ctx.site);
			const days = [...perDay];
			let next = 0;
			const sender = async () => {
				for (let d = days[next++]; d; d = days[next++]) await live.count("imported", d[0], d[1]);
			};
			await Promise.all(Array.from({ length: Math.min(LEDGER_CONCURRENCY, days.length) }, sender));
			perDay.clear();
			profile.ledger_ms += performance.now() - t;
		},
	};
}

/**
 * The last phase of an events import, after every row is stored: write the job's day objects in bounded
 * steps (each step queues the next, like a slice), then mark the job done. A repeated step rewrites a key
 * with the same rows, so a redelivered message is harmless.
 */
async function archivePhase(env: Env, job: { id: string; site: string; created_at: number; bytes_total: number }, now: () => number): Promise<SliceResult> {
	const started = now();
	const profile = emptyProfile();
	const r = await archiveImportJob(env.DB, env.ARCHIVE, job.site, job.id, job.created_at, started + SLICE_MS - FINISH_RESERVE_MS, profile);
	profile.archive_ms = now() - started;
	console.log(JSON.stringify({ import_slice: { job: job.id, entity: "events", phase: "archive", offset: job.bytes_total, rows: 0, ms: Math.round(now() - started), ...roundProfile(profile) } }));
	if (r.remaining) {
		await env.DB.prepare("UPDATE import_jobs SET updated_at = ? WHERE id = ?").bind(now(), job.id).run();
		await env.IMPORTS_QUEUE.send({ job: job.id, offset: job.bytes_total } satisfies SliceMessage, { contentType: "json" });
		return { processed: true, done: false };
	}
	const res = await env.DB.prepare("UPDATE import_jobs SET status = 'done', updated_at = ?, finished_at = ? WHERE id = ? AND status = 'running'").bind(now(), now(), job.id).run();
	const finished = (res.meta.changes ?? 0) > 0;
	return { processed: finished, done: true, ...(finished ? { finishedSite: job.site } : {}) };
}

export interface SliceResult {
	processed: boolean;
	done: boolean;
	/** The job's site, when this slice finished the job. */
	finishedSite?: string;
}

export async function processSlice(env: Env, msg: SliceMessage, now = Date.now): Promise<SliceResult> {
	const raw = await env.DB.prepare(
		"SELECT j.id, j.site, j.entity, j.format, j.status, j.object_key, j.bytes_done, j.next_line, j.header, j.rows_rejected, j.bytes_total, j.created_at, s.currency FROM import_jobs j JOIN sites s ON s.id = j.site WHERE j.id = ?",
	)
		.bind(msg.job)
		.first();
	if (!raw) return { processed: false, done: true };
	const job = jobRow.parse(raw);
	if (job.status === "done" || job.status === "failed" || job.bytes_done !== msg.offset) return { processed: false, done: job.status === "done" };

	const started = now();
	const ctx = { site: job.site, currency: job.currency, now: started };
	const startedAt = job.bytes_done;
	// CSV: the first slice reads the header line; later slices get it from the job row.
	let header = job.header === null ? undefined : z.array(z.string()).parse(JSON.parse(job.header));
	if (job.format === "csv" && header === undefined) {
		const head = await env.ARCHIVE.get(job.object_key, { range: { offset: 0, length: 1_048_576 } });
		if (!head) throw new Error(`import object ${job.object_key} is missing`);
		const h = await readCsvHeader(head.body);
		header = h.header;
		job.bytes_done = h.end;
		job.next_line = h.nextLine;
	}
	// Events: every row is stored; what is left is writing the job's archive objects.
	if (job.entity === "events" && job.status === "running" && job.bytes_done >= job.bytes_total) return archivePhase(env, job, now);
	// Nothing left to read (a file of only a header, or a continuation queued at the end): R2 refuses an empty range.
	if (job.bytes_done >= job.bytes_total) {
		await env.DB.prepare("UPDATE import_jobs SET bytes_done = ?, next_line = ?, header = ?, status = 'done', updated_at = ?, finished_at = ? WHERE id = ? AND bytes_done = ?")
			.bind(job.bytes_total, job.next_line, header ? JSON.stringify(header) : null, now(), now(), job.id, startedAt)
			.run();
		return { processed: true, done: true, finishedSite: job.site };
	}
	const object = await env.ARCHIVE.get(job.object_key, { range: { offset: job.bytes_done } });
	if (!object) throw new Error(`import object ${job.object_key} is missing`);

	const profile = emptyProfile();
	const sink = job.entity === "events" ? eventSink(env, ctx, job.id, profile) : entitySink(env, job.entity, ctx);
	let ok = 0;
	let changed = 0;
	let rejected = 0;
	const rejects: { line: number; reason: string }[] = [];
	let offset = job.bytes_done;
	let nextLine = job.next_line;
	let rows = 0;
	let finished = true;

	const records = parseRecords(object.body, job.format as Format, { startOffset: offset, startLine: nextLine, header })[Symbol.asyncIterator]();
	for (;;) {
		let t = performance.now();
		const next = await records.next();
		profile.parse_ms += performance.now() - t;
		if (next.done) break;
		const row = next.value;
		t = performance.now();
		const why = row.error ?? (row.record ? sink.add(row.record) : "empty record");
		profile.validate_ms += performance.now() - t;
		if (why === null) ok++;
		else {
			rejected++;
			rejects.push({ line: row.line, reason: why });
		}
		offset = row.end;
		nextLine = row.nextLine;
		rows++;
		if (sink.size() >= sink.flushAt) changed += await sink.flush();
		// Hand the isolate to other requests now and then (locally workerd runs them on one thread: a
		// progress poll otherwise waited for the slice's CPU-bound stretches).
		else if (rows % YIELD_ROWS === 0) await new Promise((r) => setTimeout(r, 0));
		if (rows >= SLICE_ROWS || now() - started > SLICE_MS - FINISH_RESERVE_MS) {
			finished = false;
			await records.return?.(undefined);
			break;
		}
	}
	changed += await sink.flush();
	await sink.finish?.();
	// A budget that runs out on the very last row has still reached the end of the file.
	if (offset >= job.bytes_total) finished = true;
	if (finished) offset = job.bytes_total;

	// An events job is not done when its rows are stored: its archive objects come next (archivePhase).
	const archiving = job.entity === "events";
	const keep = rejects.slice(0, Math.max(0, MAX_REJECTS_KEPT - job.rows_rejected));
	const keepStmt = env.DB.prepare("INSERT INTO import_rejects (job, line, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
	const advance = env.DB.prepare(
		`UPDATE import_jobs SET bytes_done = ?, next_line = ?, header = ?, rows_ok = rows_ok + ?, rows_rejected = rows_rejected + ?, rows_changed = rows_changed + ?,
		 status = ?, updated_at = ?, finished_at = ? WHERE id = ? AND bytes_done = ?`,
	).bind(offset, nextLine, header ? JSON.stringify(header) : null, ok, rejected, changed, finished && !archiving ? "done" : "running", now(), finished && !archiving ? now() : null, job.id, startedAt);
	const results = await env.DB.batch([...keep.map((r) => keepStmt.bind(job.id, r.line, r.reason.slice(0, 1000))), advance]);
	const advanced = (results.at(-1)?.meta.changes ?? 0) > 0;
	console.log(JSON.stringify({ import_slice: { job: job.id, entity: job.entity, offset: startedAt, rows, ms: Math.round(now() - started), ...roundProfile(profile) } }));
	if (advanced && (!finished || archiving)) await env.IMPORTS_QUEUE.send({ job: job.id, offset } satisfies SliceMessage, { contentType: "json" });
	const done = finished && !archiving;
	return { processed: advanced, done, ...(advanced && done ? { finishedSite: job.site } : {}) };
}

/** Marks a job failed (after its slice ran out of retries). */
export async function failJob(db: D1Database, job: string, error: string, now = Date.now()): Promise<void> {
	await db.prepare("UPDATE import_jobs SET status = 'failed', error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status NOT IN ('done', 'failed')").bind(error.slice(0, 1000), now, now, job).run();
}

/** Jobs whose next slice message was lost (queued/running, untouched for 5 minutes) get it re-sent (cron). */
export async function resumeStalledImports(env: Env, now: number): Promise<number> {
	const stalled = await env.DB.prepare("SELECT id, bytes_done FROM import_jobs WHERE status IN ('queued', 'running') AND updated_at < ? LIMIT 100")
		.bind(now - 5 * 60_000)
		.all<{ id: string; bytes_done: number }>();
	for (const j of stalled.results) {
		await env.DB.prepare("UPDATE import_jobs SET updated_at = ? WHERE id = ?").bind(now, j.id).run();
		await env.IMPORTS_QUEUE.send({ job: j.id, offset: j.bytes_done } satisfies SliceMessage, { contentType: "json" });
	}
	return stalled.results.length;
}
