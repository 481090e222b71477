/**
 * PUT/POST /api/v1/{entity} — idempotent upserts of commerce records keyed by the store's ids, one
 * declared route per entity (its record schema validates the body and documents it).
 * Body: one record or an array of up to 500. All records are validated first; if any is bad the
 * answer is 400 naming each field (`[3].total`) and nothing is written.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, Env as HonoEnv } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";
import { readJson } from "../lib/body";
import { ApiError, fieldPath, type FieldIssue } from "../lib/http";
import { MAX_AMOUNT_MINOR } from "../lib/money";
import { apiErrors, json, jsonBody, oneOrMany, openApiApp, secured, siteQuery, validationHook, type ValidationResult } from "../lib/openapi";
import { toIssues, type Issue } from "../lib/validation";
import { ENTITIES, type EntityName, type EntitySpec, type Write, type WriteContext } from "./entities";
import { applyWrites } from "./store";

export const MAX_RECORDS = 500;
/** D1 runs one batch as one transaction; keep it well under the per-invocation statement limit. */
export const MAX_WRITES = 1000;

function checkWrites(writes: Write[]): Write[] {
	if (writes.length > MAX_WRITES) throw new ApiError(413, "too_many_rows", `these records expand to ${writes.length} rows (max ${MAX_WRITES}); send fewer per request`, [{ field: "body", message: "too many rows" }]);
	return writes;
}

/** The answer to a body of records with problems: 413 over the record limit, else 400 naming every field. */
function recordsError(issues: Issue[]): ApiError {
	const root = issues.filter((i) => i.path.length === 0);
	if (root.some((i) => i.code === "too_big")) return new ApiError(413, "too_many_records", `at most ${MAX_RECORDS} records per request; use the bulk import for more`, [{ field: "body", message: "too many records" }]);
	if (root.some((i) => i.code === "too_small")) return new ApiError(400, "invalid_request", "send a record or a non-empty array of records", [{ field: "body", message: "empty" }]);
	const fields: FieldIssue[] = issues.map((i) => ({ field: fieldPath(i.path), message: i.message }));
	return new ApiError(400, "invalid_records", `${fields.length} problem(s); nothing was written`, fields.slice(0, 200));
}

/**
 * Validates a body of one record or an array and returns all their writes, or throws 400 naming every
 * offending field (`[3].total`, or `total` for a single record) — nothing is written then. For bodies
 * that are not validated by a route declaration (the signed webhook checks its signature first).
 */
export function bodyToWrites(spec: EntitySpec, body: unknown, ctx: WriteContext): { records: number; writes: Write[]; recordOf: number[] } {
	const single = !Array.isArray(body);
	const records: unknown[] = single ? [body] : body;
	if (records.length === 0) throw recordsError([{ path: [], message: "empty", code: "too_small" }]);
	if (records.length > MAX_RECORDS) throw recordsError([{ path: [], message: "too many", code: "too_big" }]);
	const writes: Write[] = [];
	/** The record of each write (rows_changed counts records). */
	const recordOf: number[] = [];
	const issues: Issue[] = [];
	records.forEach((raw, i) => {
		const parsed = spec.parse(raw, ctx);
		if (!parsed.ok) for (const issue of toIssues(parsed.error)) issues.push({ ...issue, path: single ? issue.path : [i, ...issue.path] });
		else {
			writes.push(...parsed.writes);
			recordOf.push(...parsed.writes.map(() => i));
		}
	});
	if (issues.length) throw recordsError(issues);
	return { records: records.length, writes: checkWrites(writes), recordOf };
}

/** Body validation failures keep this API's own codes: `invalid_records`, `too_many_records`. */
function recordsHook<E extends HonoEnv>(result: ValidationResult, c: Context<E>): undefined {
	if (!result.success && result.target === "json") throw recordsError(toIssues(result.error));
	return validationHook(result, c);
}

export const UpsertResult = z
	.object({
		entity: z.string(),
		site: z.string(),
		received: z.number().int().describe("records in the request"),
		rows_changed: z.number().int().describe("records inserted or changed (a record counts once, whatever tables it writes; 0 when the same payload is sent again)"),
	})
	.openapi("UpsertResult");

const pascal = (name: string) =>
	name
		.split("_")
		.map((w) => w.charAt(0).toUpperCase() + w.slice(1))
		.join("");

/** The document's component name of an entity's record schema: `orders` → `OrdersRecord`. */
export const recordSchemaName = (entity: EntityName) => `${pascal(entity)}Record`;

const DESCRIPTION =
	"Idempotent upsert keyed by the store's natural ids: the same payload twice changes nothing, a correction updates in place. " +
	"Money is a decimal in the currency (`\"59.90\"` or `59.9`): not negative (a refund subtracts), at most the currency's decimals (2 for EUR, 0 for JPY) " +
	`and at most ${MAX_AMOUNT_MINOR.toLocaleString("en")} minor units (10,000,000,000.00 EUR); timestamps are ISO 8601 or epoch ms. ` +
	`Send one record or an array of up to ${MAX_RECORDS}; if any record is invalid the answer is 400 naming \`[i].field\` and nothing is written. PUT and POST do the same.`;

/**
 * PUT and POST /{name} for one entity, validated and documented by the entity's record schema (passed
 * as well as named, so that its own type, not every entity's, reaches the typed client).
 */
function upsertRoutes<const N extends EntityName, S extends z.ZodType>(name: N, schema: S) {
	const spec: EntitySpec = ENTITIES[name];
	if (schema !== spec.schema) throw new Error(`upsertRoutes("${name}") was given another entity's schema`);
	const record = schema.openapi(recordSchemaName(name));
	const route = <const M extends "put" | "post">(method: M) =>
		createRoute({
			method,
			path: `/${name}` as `/${N}`,
			operationId: `${method}${pascal(name)}`,
			tags: ["Commerce data"],
			summary: `Upsert ${name.replace("_", " ")}${method === "post" ? " (POST)" : ""}`,
			description: DESCRIPTION,
			security: secured("ingest"),
			middleware: [requireKey("ingest"), readJson()],
			request: { query: siteQuery, body: jsonBody(oneOrMany(record, MAX_RECORDS), `one ${recordSchemaName(name)} or an array of 1–${MAX_RECORDS}`) },
			responses: { 200: json(UpsertResult, "stored"), ...apiErrors(404, 413, 415) },
		});
	const upsert = async (c: Context<{ Bindings: Env; Variables: AuthVars }>, body: unknown) => {
		const site = c.var.site;
		const records: unknown[] = Array.isArray(body) ? body : [body];
		const ctx = { site: site.id, currency: site.currency, now: Date.now() };
		// The schema validated the body's shape; amounts need the currency too (the site's, for products).
		const issues = records.flatMap((r, i) => spec.check(r, ctx).map((issue) => (Array.isArray(body) ? { ...issue, path: [i, ...issue.path] } : issue)));
		if (issues.length) throw recordsError(issues);
		const perRecord = records.map((r) => spec.writes(r, ctx));
		// rows_changed counts records (a customer and its PII row are one), not table rows.
		const { changed } = await applyWrites(c.env.DB, checkWrites(perRecord.flat()), perRecord.flatMap((ws, i) => ws.map(() => i)));
		return { entity: name as string, site: site.id, received: records.length, rows_changed: changed };
	};
	// Inside this generic factory the validated body's type is deferred (it resolves per entity for the
	// typed client); the handler needs it only as `unknown`, since `spec.writes` takes what the schema produced.
	const valid = (c: { req: { valid(target: never): unknown } }): unknown => c.req.valid("json" as never);
	return openApiApp<AuthVars>()
		.openapi(route("put"), async (c) => c.json(await upsert(c, valid(c)), 200), recordsHook)
		.openapi(route("post"), async (c) => c.json(await upsert(c, valid(c)), 200), recordsHook);
}

export const commerce = openApiApp<AuthVars>()
	.route("/", upsertRoutes("customers", ENTITIES.customers.schema))
	.route("/", upsertRoutes("products", ENTITIES.products.schema))
	.route("/", upsertRoutes("orders", ENTITIES.orders.schema))
	.route("/", upsertRoutes("order_items", ENTITIES.order_items.schema))
	.route("/", upsertRoutes("refunds", ENTITIES.refunds.schema))
	.route("/", upsertRoutes("inventory", ENTITIES.inventory.schema))
	.route("/", upsertRoutes("suppliers", ENTITIES.suppliers.schema))
	.route("/", upsertRoutes("deliveries", ENTITIES.deliveries.schema))
	.route("/", upsertRoutes("tickets", ENTITIES.tickets.schema))
	.route("/", upsertRoutes("surveys", ENTITIES.surveys.schema))
	.route("/", upsertRoutes("spend", ENTITIES.spend.schema))
	.route("/", upsertRoutes("messages", ENTITIES.messages.schema))
	.route("/", upsertRoutes("web_daily", ENTITIES.web_daily.schema));
