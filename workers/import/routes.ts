/**
 * Bulk import. POST /api/v1/import/{entity}?site=&format=csv|ndjson streams the body into R2 and
 * queues the first slice; GET /api/v1/import/{job} shows progress and the rejected-row report.
 */
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ENTITY_NAMES, isEntity } from "../commerce/entities";
import { importJobs } from "../db/schema";
import { ApiError } from "../lib/http";
import type { SliceMessage } from "./slice";
import { streamToR2 } from "./upload";

export const imports = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const IMPORTABLE = [...ENTITY_NAMES, "events"];

function formatOf(query: string | undefined, contentType: string): "csv" | "ndjson" {
	const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
	const f = query ?? (type === "text/csv" ? "csv" : type === "application/x-ndjson" || type === "application/jsonl" || type === "application/ndjson" ? "ndjson" : undefined);
	if (f === "csv" || f === "ndjson") return f;
	throw new ApiError(400, "invalid_request", "say the file format with ?format=csv|ndjson or Content-Type text/csv / application/x-ndjson", [{ field: "format", message: "csv or ndjson" }]);
}

imports.post("/import/:entity", requireKey("ingest"), async (c) => {
	const entity = c.req.param("entity");
	if (!isEntity(entity) && entity !== "events") throw new ApiError(404, "not_found", `cannot import '${entity}'`, [{ field: "entity", message: `one of ${IMPORTABLE.join(", ")}` }]);
	const format = formatOf(c.req.query("format"), c.req.header("Content-Type") ?? "");
	if (!c.req.raw.body) throw new ApiError(400, "empty_file", "send the file as the request body", [{ field: "body", message: "empty" }]);
	const site = c.var.site;
	const id = crypto.randomUUID();
	const objectKey = `imports/site=${site.id}/${id}.${format}`;
	const now = Date.now();
	const db = drizzle(c.env.DB);
	await db.insert(importJobs).values({ id, site: site.id, entity, format, status: "uploading", objectKey, createdAt: now, updatedAt: now });
	let bytes: number;
	try {
		bytes = await streamToR2(c.env.ARCHIVE, objectKey, c.req.raw.body, format === "csv" ? "text/csv" : "application/x-ndjson");
	} catch (err) {
		await db.update(importJobs).set({ status: "failed", error: err instanceof Error ? err.message : "upload failed", updatedAt: Date.now(), finishedAt: Date.now() }).where(eq(importJobs.id, id));
		throw err;
	}
	await db.update(importJobs).set({ status: "queued", bytesTotal: bytes, updatedAt: Date.now() }).where(eq(importJobs.id, id));
	await c.env.IMPORTS_QUEUE.send({ job: id, offset: 0 } satisfies SliceMessage, { contentType: "json" });
	return c.json({ job: id, site: site.id, entity, format, status: "queued", bytes, status_url: `/api/v1/import/${id}` }, 202);
});

function view(j: typeof importJobs.$inferSelect) {
	return {
		job: j.id, site: j.site, entity: j.entity, format: j.format, status: j.status, bytes_total: j.bytesTotal, bytes_done: j.bytesDone,
		progress: j.bytesTotal ? Math.min(1, j.bytesDone / j.bytesTotal) : 0, rows_ok: j.rowsOk, rows_rejected: j.rowsRejected, rows_changed: j.rowsChanged,
		error: j.error, created_at: j.createdAt, updated_at: j.updatedAt, finished_at: j.finishedAt,
	};
}

imports.get("/import/:job{[0-9a-f-]{36}}", requireKey("read"), async (c) => {
	const job = await drizzle(c.env.DB).select().from(importJobs).where(eq(importJobs.id, c.req.param("job"))).get();
	if (!job || job.site !== c.var.site.id) throw new ApiError(404, "not_found", "no such import job for this site", [{ field: "job", message: "unknown" }]);
	const limit = Math.min(Math.max(Number(c.req.query("rejects") ?? 100) || 100, 0), 1000);
	const rejects = await c.env.DB.prepare("SELECT line, reason FROM import_rejects WHERE job = ? ORDER BY line LIMIT ?").bind(job.id, limit).all<{ line: number; reason: string }>();
	return c.json({ ...view(job), rejects: rejects.results, rejects_note: "the first 1,000 rejected rows of a job are kept; rows_rejected counts all" });
});

imports.get("/import", requireKey("read"), async (c) => {
	const jobs = await drizzle(c.env.DB).select().from(importJobs).where(eq(importJobs.site, c.var.site.id)).orderBy(desc(importJobs.createdAt)).limit(50).all();
	return c.json({ jobs: jobs.map(view) });
});
