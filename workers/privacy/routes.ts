/**
 * Privacy API: GDPR erasure and export of one customer (`DELETE /api/v1/customers/{id}`,
 * `GET /api/v1/customers/{id}/export`, admin scope) and the PII key rotation
 * (`POST /api/v1/privacy/pii/rotate`, account-wide admins: it spans every site).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccountAdmin, requireKey, type AuthVars } from "../auth/middleware";
import { apiErrors, intParam, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { eraseCustomer } from "./erase";
import { EXPORT_MAX_EVENTS, exportCustomer } from "./export";
import { rotatePii } from "./rotate";

const TAG = "Privacy";
const idParam = z.object({ id: z.string().min(1).max(128).describe("the store's customer id") });
const rows = z.array(z.record(z.string(), z.unknown()));

const ErasureSchema = z
	.object({
		site: z.string(),
		pseudonym: z.string().describe("what now stands for the customer on their orders, tickets, survey answers and messages (a keyed hash; not reversible without PII_KEY)"),
		already_erased: z.boolean().describe("nothing was left: an earlier call had erased everything"),
		events_erased: z.number().int(),
		archive_objects_rewritten: z.number().int().describe("R2 raw objects rebuilt without their events"),
		archive_objects_deleted: z.number().int().describe("R2 raw objects that held only their events"),
		documents_rewritten: z.number().int().describe("analytics snapshots, model artefacts and reports rewritten without them"),
		documents_deleted: z.number().int().describe("their dead letters, and documents entirely about them"),
		import_files_deleted: z.number().int(),
		d1_rows: z.record(z.string(), z.number().int()).describe("rows deleted, re-keyed to the pseudonym or rewritten, per table"),
		rollup_days: z.number().int().describe("(source, local day) KPI rollups recomputed"),
	})
	.openapi("Erasure");

const eraseRoute = createRoute({
	method: "delete",
	path: "/customers/{id}",
	operationId: "eraseCustomer",
	tags: [TAG],
	summary: "Erase a customer (GDPR)",
	description:
		"Removes the customer's personal data and events everywhere: PII and the customer record, their events (and their visitor ids' anonymous events) in D1, " +
		"the R2 raw archive objects that held them (rebuilt without them), analytics snapshots, model artefacts, reports and dead letters, the site's raw import files. " +
		"Orders, refunds, tickets, survey answers and messages stay as business records under a pseudonym, so revenue and support KPIs do not change; " +
		"rollups are recomputed. Idempotent: a repeat (or a retry after a failure) finishes the work and answers with what it still did. " +
		"409 while an import of the site is running. The audit row names the customer by a keyed hash only.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { params: idParam, query: z.strictObject({ site: siteParam }) },
	responses: { 200: json(ErasureSchema, "erased"), ...apiErrors(404, 409) },
});

const ExportSchema = z
	.object({
		site: z.string(),
		customer_id: z.string(),
		exported_at: z.number().int(),
		record: z.record(z.string(), z.unknown()).nullable(),
		pii: z.object({ email: z.string().nullable(), name: z.string().nullable() }).nullable(),
		orders: rows,
		order_items: rows,
		refunds: rows,
		events: rows.describe(`their events, newest first (at most ${EXPORT_MAX_EVENTS})`),
		events_truncated: z.boolean(),
		tickets: rows,
		surveys: rows,
		messages: rows,
		analytics: z.object({ rfm_scores: rows, clv_scores: rows, churn_scores: rows, next_actions: rows, recommendations: rows }),
	})
	.openapi("CustomerExport");

const exportRoute = createRoute({
	method: "get",
	path: "/customers/{id}/export",
	operationId: "exportCustomer",
	tags: [TAG],
	summary: "Export a customer's data (GDPR)",
	description:
		"Everything the site holds on the customer as JSON: the record, PII (decrypted), orders with lines and refunds, events (the same set an erasure deletes), " +
		"support tickets, survey answers, messages and the nightly analytics rows about them. Stored columns as in D1: money in minor units, times in UTC epoch ms.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { params: idParam, query: z.strictObject({ site: siteParam }) },
	responses: { 200: json(ExportSchema, "the export"), ...apiErrors(404) },
});

const rotateRoute = createRoute({
	method: "post",
	path: "/privacy/pii/rotate",
	operationId: "rotatePiiKey",
	tags: [TAG],
	summary: "Re-encrypt PII under the current key",
	description:
		"Re-encrypts up to `limit` customer_pii rows (all sites) that are not under the current PII_KEY: rows under PII_KEY_PREVIOUS and plaintext rows from before encryption. " +
		"Call until `remaining` is 0, then remove PII_KEY_PREVIOUS. Account-wide admins only.",
	security: secured("admin"),
	middleware: [requireAccountAdmin()],
	request: { query: z.strictObject({ limit: intParam(1, 2000).optional().describe("rows per call, 1–2000 (default 500)") }) },
	responses: { 200: json(z.object({ kid: z.string().describe("the current key's id"), rotated: z.number().int(), remaining: z.number().int() }).openapi("PiiRotation"), "rotated"), ...apiErrors() },
});

export const privacy = openApiApp<AuthVars>()
	.openapi(eraseRoute, async (c) => {
		const summary = await eraseCustomer(c.env, c.var.site, c.req.valid("param").id);
		return c.json({ site: c.var.site.id, ...summary }, 200, { "Cache-Control": "no-store" });
	})
	.openapi(exportRoute, async (c) => {
		const data = await exportCustomer(c.env, c.var.site, c.req.valid("param").id);
		return c.json(data, 200, { "Cache-Control": "private, no-store", "Content-Disposition": `attachment; filename="customer-export.json"` });
	})
	.openapi(rotateRoute, async (c) => {
		return c.json(await rotatePii(c.env, c.req.valid("query").limit ?? 500), 200);
	});
