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
import { archiveEvents, storeEvents } from "../pipeline/archive";
import type { StoredEvent } from "../pipeline/message";
import { importEventRecord } from "./events";
import { parseRecords, readCsvHeader, type Format } from "./parse";

/** A slice stops after this much wall time or this many rows, so each invocation stays well inside limits. */
export const SLICE_MS = 10_000;
export const SLICE_ROWS = 25_000;
/** Records per D1 batch: commerce records (an order brings its lines), and backfilled events (fewer, larger archive objects). */
const FLUSH_ROWS = 1000;
const FLUSH_EVENTS = 5000;
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
});

/** Where validated rows go: `add` returns a rejection reason or null; `flush` writes and returns the records that changed. */
interface Sink {
	/** Flush when this many records are waiting. */
	flushAt: number;
	add(record: Record<string, unknown>): string | null;
	size(): number;
	flush(): Promise<number>;
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

/** Backfilled events: stored and archived like queued ones, and counted in the day's ledger as imported. */
function eventSink(env: Env, ctx: WriteContext): Sink {
	let events: StoredEvent[] = [];
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
			const fresh = await storeEvents(env.DB, batch);
			const perDay = new Map<string, number>();
			batch.forEach((e, i) => {
				if (fresh[i]) perDay.set(utcDay(e.ts), (perDay.get(utcDay(e.ts)) ?? 0) + 1);
			});
			const live = primaryStub(env, ctx.site);
			for (const [day, n] of perDay) await live.count("imported", day, n);
			await archiveEvents(env.DB, env.ARCHIVE, batch);
			return fresh.filter(Boolean).length;
		},
	};
}

export interface SliceResult {
	processed: boolean;
	done: boolean;
	/** The job's site, when this slice finished the job. */
	finishedSite?: string;
}

export async function processSlice(env: Env, msg: SliceMessage, now = Date.now): Promise<SliceResult> {
	const raw = await env.DB.prepare(
		"SELECT j.id, j.site, j.entity, j.format, j.status, j.object_key, j.bytes_done, j.next_line, j.header, j.rows_rejected, j.bytes_total, s.currency FROM import_jobs j JOIN sites s ON s.id = j.site WHERE j.id = ?",
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
	// Nothing left to read (a file of only a header, or a continuation queued at the end): R2 refuses an empty range.
	if (job.bytes_done >= job.bytes_total) {
		await env.DB.prepare("UPDATE import_jobs SET bytes_done = ?, next_line = ?, header = ?, status = 'done', updated_at = ?, finished_at = ? WHERE id = ? AND bytes_done = ?")
			.bind(job.bytes_total, job.next_line, header ? JSON.stringify(header) : null, now(), now(), job.id, startedAt)
			.run();
		return { processed: true, done: true, finishedSite: job.site };
	}
	const object = await env.ARCHIVE.get(job.object_key, { range: { offset: job.bytes_done } });
	if (!object) throw new Error(`import object ${job.object_key} is missing`);

	const sink = job.entity === "events" ? eventSink(env, ctx) : entitySink(env, job.entity, ctx);
	let ok = 0;
	let changed = 0;
	let rejected = 0;
	const rejects: { line: number; reason: string }[] = [];
	let offset = job.bytes_done;
	let nextLine = job.next_line;
	let rows = 0;
	let finished = true;

	for await (const row of parseRecords(object.body, job.format as Format, { startOffset: offset, startLine: nextLine, header })) {
		const why = row.error ?? (row.record ? sink.add(row.record) : "empty record");
		if (why === null) ok++;
		else {
			rejected++;
			rejects.push({ line: row.line, reason: why });
		}
		offset = row.end;
		nextLine = row.nextLine;
		rows++;
		if (sink.size() >= sink.flushAt) changed += await sink.flush();
		if (rows >= SLICE_ROWS || now() - started > SLICE_MS) {
			finished = false;
			break;
		}
	}
	changed += await sink.flush();
	// A budget that runs out on the very last row has still reached the end of the file.
	if (offset >= job.bytes_total) finished = true;
	if (finished) offset = job.bytes_total;

	const keep = rejects.slice(0, Math.max(0, MAX_REJECTS_KEPT - job.rows_rejected));
	const keepStmt = env.DB.prepare("INSERT INTO import_rejects (job, line, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
	const advance = env.DB.prepare(
		`UPDATE import_jobs SET bytes_done = ?, next_line = ?, header = ?, rows_ok = rows_ok + ?, rows_rejected = rows_rejected + ?, rows_changed = rows_changed + ?,
		 status = ?, updated_at = ?, finished_at = ? WHERE id = ? AND bytes_done = ?`,
	).bind(offset, nextLine, header ? JSON.stringify(header) : null, ok, rejected, changed, finished ? "done" : "running", now(), finished ? now() : null, job.id, startedAt);
	const results = await env.DB.batch([...keep.map((r) => keepStmt.bind(job.id, r.line, r.reason.slice(0, 1000))), advance]);
	const advanced = (results.at(-1)?.meta.changes ?? 0) > 0;
	if (advanced && !finished) await env.IMPORTS_QUEUE.send({ job: job.id, offset } satisfies SliceMessage, { contentType: "json" });
	return { processed: advanced, done: finished, ...(advanced && finished ? { finishedSite: job.site } : {}) };
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
