/**
 * PUT/POST /api/v1/{entity} — idempotent upserts of commerce records keyed by the store's ids.
 * Body: one record or an array of up to 500. All records are validated first; if any is bad the
 * answer is 400 naming each field (`[3].total`) and nothing is written.
 */
import { Hono } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";
import { jsonBody } from "../lib/body";
import { ApiError, fieldPath, type FieldIssue } from "../lib/http";
import { toIssues } from "../lib/validation";
import { ENTITIES, isEntity, type EntitySpec, type Write, type WriteContext } from "./entities";
import { applyWrites } from "./store";

export const MAX_RECORDS = 500;
/** D1 runs one batch as one transaction; keep it well under the per-invocation statement limit. */
export const MAX_WRITES = 1000;

export const commerce = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/**
 * Validates a body of one record or an array and returns all their writes, or throws 400 naming every
 * offending field (`[3].total`, or `total` for a single record) — nothing is written then.
 */
export function bodyToWrites(spec: EntitySpec, body: unknown, ctx: WriteContext): { records: number; writes: Write[] } {
	const single = !Array.isArray(body);
	const records: unknown[] = single ? [body] : body;
	if (records.length === 0) throw new ApiError(400, "invalid_request", "send a record or a non-empty array of records", [{ field: "body", message: "empty" }]);
	if (records.length > MAX_RECORDS) throw new ApiError(413, "too_many_records", `at most ${MAX_RECORDS} records per request; use the bulk import for more`, [{ field: "body", message: "too many records" }]);
	const writes: Write[] = [];
	const issues: FieldIssue[] = [];
	records.forEach((raw, i) => {
		const parsed = spec.parse(raw, ctx);
		if (!parsed.ok) for (const issue of toIssues(parsed.error)) issues.push({ field: fieldPath(single ? issue.path : [i, ...issue.path]), message: issue.message });
		else writes.push(...parsed.writes);
	});
	if (issues.length) throw new ApiError(400, "invalid_records", `${issues.length} problem(s); nothing was written`, issues.slice(0, 200));
	if (writes.length > MAX_WRITES) throw new ApiError(413, "too_many_rows", `these records expand to ${writes.length} rows (max ${MAX_WRITES}); send fewer per request`, [{ field: "body", message: "too many rows" }]);
	return { records: records.length, writes };
}

commerce.on(["PUT", "POST"], "/:entity{[a-z_]+}", requireKey("ingest"), async (c) => {
	const name = c.req.param("entity");
	if (!isEntity(name)) throw new ApiError(404, "not_found", `no entity '${name}'`, [{ field: "entity", message: `one of ${Object.keys(ENTITIES).join(", ")}` }]);
	const site = c.var.site;
	const { records, writes } = bodyToWrites(ENTITIES[name], await jsonBody(c.req.raw), { site: site.id, currency: site.currency, now: Date.now() });
	const { changed } = await applyWrites(c.env.DB, writes);
	return c.json({ entity: name, site: site.id, received: records, rows_changed: changed });
});
