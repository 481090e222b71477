/**
 * Bulk import. POST /api/v1/import/{entity}?site=&format=csv|ndjson streams the body into R2 and
 * queues the first slice; GET /api/v1/import/{job} shows progress and the rejected-row report.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ENTITY_NAMES } from "../commerce/entities";
import { importJobs } from "../db/schema";
import { ApiError } from "../lib/http";
import { apiErrors, intParam, json, openApiApp, secured, siteParam, siteQuery } from "../lib/openapi";
import type { SliceMessage } from "./slice";
import { streamToR2 } from "./upload";

const IMPORTABLE = [...ENTITY_NAMES, "events"] as const;
const FORMATS = ["csv", "ndjson"] as const;
const STATUSES = ["uploading", "queued", "running", "done", "failed"] as const;

function formatOf(query: string | undefined, contentType: string): "csv" | "ndjson" {
	const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
	const f = query ?? (type === "text/csv" ? "csv" : type === "application/x-ndjson" || type === "application/jsonl" || type === "application/ndjson" ? "ndjson" : undefined);
	if (f === "csv" || f === "ndjson") return f;
	throw new ApiError(400, "invalid_request", "say the file format with ?format=csv|ndjson or Content-Type text/csv / application/x-ndjson", [{ field: "format", message: "csv or ndjson" }]);
}

const JobView = z
	.object({
		job: z.uuid(),
		site: z.string(),
		entity: z.string(),
		format: z.enum(FORMATS),
		status: z.enum(STATUSES),
		bytes_total: z.number().int(),
		bytes_done: z.number().int(),
		progress: z.number().min(0).max(1).describe("bytes_done / bytes_total"),
		rows_ok: z.number().int(),
		rows_rejected: z.number().int(),
		rows_changed: z.number().int().describe("records inserted or changed (a record counts once, whatever tables it writes)"),
		error: z.string().nullable(),
		created_at: z.number().int().describe("epoch ms"),
		updated_at: z.number().int().describe("epoch ms"),
		finished_at: z.number().int().nullable().describe("epoch ms"),
	})
	.openapi("ImportJob");

// The file is streamed to R2 as it arrives, never buffered, so it is documented here and checked by the slice processor row by row.
const file = { type: "string" as const, description: "the file, streamed (any size)" };

const upload = createRoute({
	method: "post",
	path: "/import/{entity}",
	operationId: "startImport",
	tags: ["Bulk import"],
	summary: "Import a file",
	description:
		"Streams a CSV or NDJSON file of any size into R2 and imports it in the background (202 at once; follow `status_url`). " +
		"CSV header names = NDJSON keys = the entity's record fields (`events`: the `/e` event format, each with `visitor_id` or `customer_id`). " +
		"Good rows land even when others are rejected; re-importing a file changes nothing.",
	security: secured("ingest"),
	middleware: [requireKey("ingest")],
	request: {
		params: z.object({ entity: z.enum(IMPORTABLE, { error: `one of ${IMPORTABLE.join(", ")}` }).describe("what the file holds") }),
		query: z.object({ site: siteParam, format: z.enum(FORMATS, { error: "csv or ndjson" }).optional().describe("the file format; otherwise taken from Content-Type") }),
		body: { required: true, description: "the file", content: { "text/csv": { schema: file }, "application/x-ndjson": { schema: file } } },
	},
	responses: {
		202: json(
			z.object({ job: z.uuid(), site: z.string(), entity: z.string(), format: z.enum(FORMATS), status: z.literal("queued"), bytes: z.number().int(), status_url: z.string() }),
			"uploaded and queued",
		),
		...apiErrors(404),
	},
});

const status = createRoute({
	method: "get",
	path: "/import/{job}",
	operationId: "getImport",
	tags: ["Bulk import"],
	summary: "Import progress and rejected rows",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ job: z.uuid("a job id from POST /api/v1/import/{entity}") }),
		query: z.object({ site: siteParam, rejects: intParam(0, 1000).optional().describe("how many rejected rows to list (default 100)") }),
	},
	responses: {
		200: json(
			JobView.extend({
				rejects: z.array(z.object({ line: z.number().int(), reason: z.string() })).describe("rejected rows: file line number and the reason"),
				rejects_note: z.string(),
			}),
			"the job",
		),
		...apiErrors(404),
	},
});

const list = createRoute({
	method: "get",
	path: "/import",
	operationId: "listImports",
	tags: ["Bulk import"],
	summary: "Recent imports",
	description: "The site's 50 most recent import jobs, newest first.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: { 200: json(z.object({ jobs: z.array(JobView) }), "the jobs"), ...apiErrors(404) },
});

function view(j: typeof importJobs.$inferSelect) {
	return {
		job: j.id, site: j.site, entity: j.entity, format: j.format, status: j.status, bytes_total: j.bytesTotal, bytes_done: j.bytesDone,
		progress: j.bytesTotal ? Math.min(1, j.bytesDone / j.bytesTotal) : 0, rows_ok: j.rowsOk, rows_rejected: j.rowsRejected, rows_changed: j.rowsChanged,
		error: j.error, created_at: j.createdAt, updated_at: j.updatedAt, finished_at: j.finishedAt,
	};
}

export const imports = openApiApp<AuthVars>()
	.openapi(upload, async (c) => {
		const { entity } = c.req.valid("param");
		const format = formatOf(c.req.valid("query").format, c.req.header("Content-Type") ?? "");
		if (!c.req.raw.body || c.req.header("Content-Length") === "0") throw new ApiError(400, "empty_file", "send the file as the request body", [{ field: "body", message: "empty" }]);
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
			// A refused upload (empty, too large) was never a job: the caller has the reason in the answer. A
			// failure of ours (R2) stays listed as a failed job.
			if (err instanceof ApiError) await db.delete(importJobs).where(eq(importJobs.id, id));
			else await db.update(importJobs).set({ status: "failed", error: err instanceof Error ? err.message : "upload failed", updatedAt: Date.now(), finishedAt: Date.now() }).where(eq(importJobs.id, id));
			throw err;
		}
		await db.update(importJobs).set({ status: "queued", bytesTotal: bytes, updatedAt: Date.now() }).where(eq(importJobs.id, id));
		await c.env.IMPORTS_QUEUE.send({ job: id, offset: 0 } satisfies SliceMessage, { contentType: "json" });
		return c.json({ job: id, site: site.id, entity, format, status: "queued" as const, bytes, status_url: `/api/v1/import/${id}` }, 202);
	})
	.openapi(status, async (c) => {
		const job = await drizzle(c.env.DB).select().from(importJobs).where(eq(importJobs.id, c.req.valid("param").job)).get();
		if (!job || job.site !== c.var.site.id) throw new ApiError(404, "not_found", "no such import job for this site", [{ field: "job", message: "unknown" }]);
		const limit = c.req.valid("query").rejects ?? 100;
		// A progress poll of a clean import is one indexed read (the job row): it queues behind the import's
		// own statements in D1, so every further read is felt.
		const rejects = job.rowsRejected > 0 && limit > 0 ? (await c.env.DB.prepare("SELECT line, reason FROM import_rejects WHERE job = ? ORDER BY line LIMIT ?").bind(job.id, limit).all<{ line: number; reason: string }>()).results : [];
		return c.json({ ...view(job), rejects, rejects_note: "the first 1,000 rejected rows of a job are kept; rows_rejected counts all" }, 200);
	})
	.openapi(list, async (c) => {
		const jobs = await drizzle(c.env.DB).select().from(importJobs).where(eq(importJobs.site, c.var.site.id)).orderBy(desc(importJobs.createdAt)).limit(50).all();
		return c.json({ jobs: jobs.map(view) }, 200);
	});
