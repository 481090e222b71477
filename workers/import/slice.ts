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
import { archiveImportJob, importedRows, importedStatement } from "../pipeline/archive";
import type { StoredEvent } from "../pipeline/message";
import { importEventRecord } from "./events";
import { parseRecords, readCsvHeader, type Format } from "./parse";

/** A slice stops after this much wall time or this many rows, so each invocation stays well inside limits. */
export const SLICE_MS = 10_000;
export const SLICE_ROWS = 25_000;
/** Of SLICE_MS, what the loop leaves for the last flush and the sink's finish (events: the ledger calls). */
const FINISH_RESERVE_MS = 3_000;
/** Records per D1 batch: commerce records (an order brings its lines). */
const FLUSH_ROWS = 1000;
/**
 * Backfilled events per D1 statement, and statements in flight at once. The slice does not wait for each
 * insert: D1 can store one chunk while the isolate parses and validates the next (under vitest's workerd
 * an insert overlapped validation fully; under a loaded `wrangler dev` the gain was within the noise).
 * Small statements keep each one's hold on the database short (~10–30 ms on an idle machine), so a
 * progress poll's read waits behind at most a couple of them; 2,500-row statements were no faster.
 */
const FLUSH_EVENTS = 500;
const EVENT_INSERTS_IN_FLIGHT = 2;
/** Rows between two yields to the event loop while parsing and validating (a few ms of work). */
const YIELD_ROWS = 200;
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
	/** Events: building the insert statements' JSON; d1_store_ms is then the time the slice waited for D1 (most of the inserts overlap parsing). */
	encode_ms: number;
	d1_store_ms: number;
	ledger_ms: number;
	/**
	 * Handing the isolate to other requests between rows (a progress poll runs in these). Events: the inserts in
	 * flight run meanwhile, so on local D1 (same process) most of the insert time shows here rather than in
	 * d1_store_ms — issue 15's profile of an 18-month backfill: ~45–60 % of a slice was insert time, of which the
	 * five `events` indexes were ~60 % in node:sqlite on the same rows; R2 puts (one object per UTC day of the job) ~30–45 %.
	 */
	yield_ms: number;
	/** The job row's compare-and-set advance (with the kept rejects) and the next slice's message. */
	job_update_ms: number;
	archive_ms: number;
	archive_claim_ms: number;
	archive_build_ms: number;
	r2_put_ms: number;
	archive_stamp_ms: number;
	archive_objects: number;
}
export const emptyProfile = (): SliceProfile => ({ parse_ms: 0, validate_ms: 0, encode_ms: 0, d1_store_ms: 0, ledger_ms: 0, yield_ms: 0, job_update_ms: 0, archive_ms: 0, archive_claim_ms: 0, archive_build_ms: 0, r2_put_ms: 0, archive_stamp_ms: 0, archive_objects: 0 });

const roundProfile = (p: SliceProfile): SliceProfile => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Math.round(v)])) as unknown as SliceProfile;

/** Where validated rows go: `add` returns a rejection reason or null; `flush` writes and returns the records that changed. */
interface Sink {
	/** Flush when this many records are waiting. */
	flushAt: number;
	add(record: Record<string, unknown>): string | null;
	size(): number;
	flush(): Promise<number>;
	/** After the last flush of the slice, before the job advances (events: the inserts still in flight and the ledger); returns records changed not yet reported. */
	finish?(): Promise<number>;
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
 * Backfilled events: stored in D1 in small statements sent without waiting for each (at most
 * EVENT_INSERTS_IN_FLIGHT at once), each row claiming its job's object for its UTC day (archive.ts
 * `importedStatement`), and counted in the day ledger as imported with one RPC per slice. The R2
 * objects are written after the last slice (`archivePhase`): one per day the job covers.
 *
 * Profile of the events case (88,238 events over 13,120 event-hours, bench/import, loaded machine):
 * archiving per event-hour wrote one object per hour of every 5,000 rows (96% of a slice); then one
 * ledger RPC per (slice, day) took 19% of the import and awaited inserts 24%: hence one ledger call per
 * slice and inserts overlapping the parsing.
 */
function eventSink(env: Env, ctx: WriteContext, job: string, profile: SliceProfile): Sink {
	let events: StoredEvent[] = [];
	const perDay = new Map<string, number>();
	const inFlight: Promise<void>[] = [];
	let failure: unknown = null;
	let fresh = 0;
	let reported = 0;
	const settle = async (p: Promise<void> | undefined) => {
		const t = performance.now();
		await p;
		profile.d1_store_ms += performance.now() - t;
		if (failure) throw failure;
	};
	const report = () => {
		const n = fresh - reported;
		reported = fresh;
		return n;
	};
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
			if (batch.length) {
				const t = performance.now();
				const chunks = importedRows(batch);
				profile.encode_ms += performance.now() - t;
				for (const json of chunks) {
					// A failed insert fails the slice (it is redone from its offset; the inserts are idempotent), at the next settle.
					const p = importedStatement(env.DB, json, job)
						.all<{ ts: number }>()
						.then(
							(r) => {
								for (const row of r.results) perDay.set(utcDay(row.ts), (perDay.get(utcDay(row.ts)) ?? 0) + 1);
								fresh += r.results.length;
							},
							(err) => {
								failure ??= err;
							},
						);
					inFlight.push(p);
					while (inFlight.length > EVENT_INSERTS_IN_FLIGHT) await settle(inFlight.shift());
				}
			}
			return report();
		},
		async finish() {
			while (inFlight.length) await settle(inFlight.shift());
			const t = performance.now();
			// One RPC for every day of the slice (one per day made a backfill over 500 days spend a fifth of its time here).
			if (perDay.size) await primaryStub(env, ctx.site).countImported([...perDay]);
			perDay.clear();
			profile.ledger_ms += performance.now() - t;
			return report();
		},
	};
}

/**
 * The last phase of an events import, after every row is stored: write the job's day objects in bounded
 * steps (each step queues the next, like a slice), then mark the job done. A repeated step rewrites a key
 * with the same rows, so a redelivered message is harmless.
 */
async function archivePhase(env: Env, job: { id: string; site: string; created_at: number; bytes_total: number }, now: () => number, inline?: { started: number; profile: SliceProfile }): Promise<SliceResult> {
	const started = now();
	const profile = inline?.profile ?? emptyProfile();
	// Inline (right after the job's last rows, in the same invocation): within what is left of that slice's bound.
	// archiveImportJob's deadline is on the wall clock (Date.now), `now` may be another (tests): pass the time left.
	const deadline = Date.now() + ((inline?.started ?? started) + SLICE_MS - FINISH_RESERVE_MS - started);
	const r = await archiveImportJob(env.DB, env.ARCHIVE, job.site, job.id, job.created_at, deadline, profile);
	profile.archive_ms += now() - started;
	if (!inline) console.log(JSON.stringify({ import_slice: { job: job.id, entity: "events", phase: "archive", offset: job.bytes_total, rows: 0, ms: Math.round(now() - started), ...roundProfile(profile) } }));
	const t = performance.now();
	try {
		if (r.remaining) {
			await env.DB.prepare("UPDATE import_jobs SET updated_at = ? WHERE id = ?").bind(now(), job.id).run();
			await env.IMPORTS_QUEUE.send({ job: job.id, offset: job.bytes_total } satisfies SliceMessage, { contentType: "json" });
			return { processed: true, done: false };
		}
		const res = await env.DB.prepare("UPDATE import_jobs SET status = 'done', updated_at = ?, finished_at = ? WHERE id = ? AND status = 'running'").bind(now(), now(), job.id).run();
		const finished = (res.meta.changes ?? 0) > 0;
		return { processed: finished, done: true, ...(finished ? { finishedSite: job.site } : {}) };
	} finally {
		profile.job_update_ms += performance.now() - t;
	}
}

/** Bytes of an events NDJSON file an events slice reads at once (about 25,000 typical lines). */
const EVENT_READ_BYTES = 4 * 1024 * 1024;

/**
 * An events slice's input, read before its first insert: up to EVENT_READ_BYTES from `offset`, cut after
 * the last newline unless the range reaches the end of the file (the next slice starts there). Streaming
 * the object instead while the slice's inserts run made every 4 KiB read wait behind a D1 statement
 * locally (miniflare serves R2 and D1 in turn): parsing took 45 s instead of 2.6 s (bench/import).
 * null when the range holds no newline at all (a line over 4 MiB): the caller streams instead.
 */
async function readWholeLines(bucket: R2Bucket, key: string, offset: number, total: number): Promise<{ body: ReadableStream<Uint8Array>; end: number; toEnd: boolean; newlines: () => number } | null> {
	const length = Math.min(EVENT_READ_BYTES, total - offset);
	const object = await bucket.get(key, { range: { offset, length } });
	if (!object) throw new Error(`import object ${key} is missing`);
	let bytes = new Uint8Array(await object.arrayBuffer());
	const toEnd = offset + bytes.length >= total;
	if (!toEnd) {
		const end = bytes.lastIndexOf(0x0a);
		if (end < 0) return null;
		bytes = bytes.subarray(0, end + 1);
	}
	const kept = bytes;
	// One chunk: the parser frames it without a further await per read (a Blob's stream hands out small pieces).
	const body = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(kept), c.close()) });
	return { body, end: offset + kept.length, toEnd, newlines: () => kept.reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0) };
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
	const profile = emptyProfile();
	const t0 = performance.now();
	const input = job.entity === "events" && job.format === "ndjson" ? await readWholeLines(env.ARCHIVE, job.object_key, job.bytes_done, job.bytes_total) : null;
	const object = input ? null : await env.ARCHIVE.get(job.object_key, { range: { offset: job.bytes_done } });
	if (!input && !object) throw new Error(`import object ${job.object_key} is missing`);
	profile.parse_ms += performance.now() - t0;
	const sink = job.entity === "events" ? eventSink(env, ctx, job.id, profile) : entitySink(env, job.entity, ctx);
	let ok = 0;
	let changed = 0;
	let rejected = 0;
	const rejects: { line: number; reason: string }[] = [];
	let offset = job.bytes_done;
	let nextLine = job.next_line;
	let rows = 0;
	let finished = true;

	const records = parseRecords((input?.body ?? object?.body) as ReadableStream<Uint8Array>, job.format as Format, { startOffset: offset, startLine: nextLine, header })[Symbol.asyncIterator]();
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
		else if (rows % YIELD_ROWS === 0) {
			t = performance.now();
			await new Promise((r) => setTimeout(r, 0));
			profile.yield_ms += performance.now() - t;
		}
		if (rows >= SLICE_ROWS || now() - started > SLICE_MS - FINISH_RESERVE_MS) {
			finished = false;
			await records.return?.(undefined);
			break;
		}
	}
	changed += await sink.flush();
	changed += (await sink.finish?.()) ?? 0;
	// A read-ahead input that stops before the end of the file: the next slice goes on where its rows ended
	// (past it, if it held only blank lines: one line per newline).
	if (input && !input.toEnd) {
		finished = false;
		if (offset === job.bytes_done) {
			offset = input.end;
			nextLine += input.newlines();
		}
	}
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
	let t = performance.now();
	const results = await env.DB.batch([...keep.map((r) => keepStmt.bind(job.id, r.line, r.reason.slice(0, 1000))), advance]);
	const advanced = (results.at(-1)?.meta.changes ?? 0) > 0;
	profile.job_update_ms += performance.now() - t;
	const log = () => console.log(JSON.stringify({ import_slice: { job: job.id, entity: job.entity, offset: startedAt, rows, ms: Math.round(now() - started), ...roundProfile(profile) } }));
	// Events: the last rows are stored; the archive step follows in this invocation while the slice's bound
	// leaves time for a useful part of it (else, and for what it leaves, in its own message).
	if (advanced && finished && archiving && now() - started < (SLICE_MS - FINISH_RESERVE_MS) / 2) {
		const r = await archivePhase(env, job, now, { started, profile });
		log();
		return r;
	}
	t = performance.now();
	if (advanced && (!finished || archiving)) await env.IMPORTS_QUEUE.send({ job: job.id, offset } satisfies SliceMessage, { contentType: "json" });
	profile.job_update_ms += performance.now() - t;
	log();
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
