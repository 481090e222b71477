/** Sites and API keys: /api/v1/sites and /api/v1/keys. */
import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { createMiddleware } from "hono/factory";
import { apiKeys, sites } from "../db/schema";
import { readJson } from "../lib/body";
import { ApiError, SITE_ID } from "../lib/http";
import { apiErrors, json, jsonBody, openApiApp, secured } from "../lib/openapi";
import { findSite, forgetSite } from "../lib/sites";
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from "../jobs/retention";
import { revokeKey, createKey, SCOPES } from "./keys";
import { requireAccountKey, type AuthVars } from "./middleware";

const timezone = z.string().refine((tz) => {
	try {
		new Intl.DateTimeFormat("en", { timeZone: tz });
		return true;
	} catch {
		return false;
	}
}, "must be an IANA time zone such as Europe/Madrid");

/**
 * `https://shop.example` or `http://localhost:5173` (a trailing slash allowed). One check that never throws: the
 * refinement after z.url() used to run on text z.url() had refused, and `new URL("not a url")` threw (a 500).
 */
function isOrigin(text: string): boolean {
	if (!URL.canParse(text)) return false;
	const url = new URL(text);
	return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text.replace(/\/$/, "");
}

const siteSchema = z.strictObject({
	id: z.string().regex(SITE_ID, "lowercase letters, digits, _ and - (max 64)"),
	name: z.string().trim().min(1).max(128),
	origins: z
		.array(z.string().refine(isOrigin, "must be an origin such as https://shop.example (http or https, no path)"))
		.max(50)
		.default([]),
	timezone: timezone.default("UTC"),
	currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR").default("EUR"),
	live_shards: z.number().int().min(1).max(16).default(1).describe("real-time shard objects the site's events spread over (1 unless one object cannot keep up; see README)"),
	retention_days: z
		.number()
		.int()
		.min(MIN_RETENTION_DAYS, `must be at least ${MIN_RETENTION_DAYS} (events up to 7 days old are still accepted)`)
		.max(MAX_RETENTION_DAYS)
		.nullable()
		.default(null)
		.describe("raw events and R2 archive objects older than this many whole UTC days are purged by the cron; KPI rollups are kept. Null or omitted: kept forever"),
});

const SiteView = z
	.object({ id: z.string(), name: z.string(), origins: z.array(z.string()), timezone: z.string(), currency: z.string(), retention_days: z.number().int().nullable() })
	.openapi("Site");

/** Only an account-wide key (or a dashboard admin) may create sites; checked before the body. */
const accountWideOnly = createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
	if (c.var.key.site !== null) throw new ApiError(403, "forbidden", "only an account-wide key can create sites", [{ field: "Authorization", message: "site-bound key" }]);
	await next();
});

const upsertSiteRoute = createRoute({
	method: "post",
	path: "/sites",
	operationId: "upsertSite",
	tags: ["Sites and keys"],
	summary: "Create or update a site",
	description: "Account-wide admin keys and admin users only. 201 when created, 200 when it existed (then updated).",
	security: secured("admin"),
	middleware: [requireAccountKey("admin"), accountWideOnly, readJson()],
	request: { body: jsonBody(siteSchema, "the site") },
	responses: { 200: json(SiteView, "updated"), 201: json(SiteView, "created"), ...apiErrors(413, 415) },
});

const listSitesRoute = createRoute({
	method: "get",
	path: "/sites",
	operationId: "listSitesRoute",
	tags: ["Sites and keys"],
	summary: "Sites",
	description: "The sites this key sees: all of them for an account-wide key or a user, its own for a site-bound key.",
	security: secured("read"),
	middleware: [requireAccountKey("read")],
	responses: { 200: json(z.object({ sites: z.array(SiteView.extend({ created_at: z.number().int().describe("epoch ms") })) }), "the sites"), ...apiErrors() },
});

const keySchema = z.strictObject({
	name: z.string().trim().min(1).max(128),
	scopes: z.array(z.enum(SCOPES)).min(1).describe("admin implies read and ingest"),
	site: z.string().regex(SITE_ID).nullable().optional().describe("bind the key to this site; omitted or null: account-wide (a site-bound admin key always mints keys for its own site)"),
});

const KeyView = z.object({ id: z.string(), site: z.string().nullable(), name: z.string(), scopes: z.array(z.enum(SCOPES)) });

const createKeyRoute = createRoute({
	method: "post",
	path: "/keys",
	operationId: "createKey",
	tags: ["Sites and keys"],
	summary: "Create an API key",
	description: "The secret is in this answer only (stored as SHA-256). A site-bound admin key can only mint keys for its site.",
	security: secured("admin"),
	middleware: [requireAccountKey("admin"), readJson()],
	request: { body: jsonBody(keySchema, "the key") },
	responses: {
		201: json(KeyView.extend({ secret: z.string().describe("`b2g_<id>_<secret>`: send as `Authorization: Bearer <secret>`"), note: z.string() }), "created"),
		...apiErrors(404, 413, 415),
	},
});

const listKeysRoute = createRoute({
	method: "get",
	path: "/keys",
	operationId: "listKeysRoute",
	tags: ["Sites and keys"],
	summary: "API keys",
	description: "Every key (a site-bound admin key: its site's), newest first; never the secrets.",
	security: secured("admin"),
	middleware: [requireAccountKey("admin")],
	responses: {
		200: json(
			z.object({
				keys: z.array(
					KeyView.extend({ created_at: z.number().int(), last_used_at: z.number().int().nullable().describe("epoch ms, recorded at most once a minute"), revoked_at: z.number().int().nullable() }),
				),
			}),
			"the keys",
		),
		...apiErrors(),
	},
});

const revokeKeyRoute = createRoute({
	method: "delete",
	path: "/keys/{id}",
	operationId: "revokeKey",
	tags: ["Sites and keys"],
	summary: "Revoke an API key",
	description: "Effective everywhere within 30 s (keys are cached per isolate).",
	security: secured("admin"),
	middleware: [requireAccountKey("admin")],
	request: { params: z.object({ id: z.string().describe("the key id (the part after `b2g_`)") }) },
	responses: { 200: json(z.object({ id: z.string(), revoked: z.boolean() }), "revoked"), ...apiErrors(404) },
});

export const admin = openApiApp<AuthVars>()
	/** Creates or updates a site (account-wide admin key). 201 when created, 200 when it existed. */
	.openapi(upsertSiteRoute, async (c) => {
		const input = c.req.valid("json");
		const origins = input.origins.map((o) => new URL(o).origin);
		const existed = (await findSite(c.env.DB, input.id)) !== null;
		await drizzle(c.env.DB)
			.insert(sites)
			.values({ id: input.id, name: input.name, origins: JSON.stringify(origins), timezone: input.timezone, currency: input.currency, liveShards: input.live_shards, retentionDays: input.retention_days, createdAt: Date.now() })
			.onConflictDoUpdate({ target: sites.id, set: { name: input.name, origins: JSON.stringify(origins), timezone: input.timezone, currency: input.currency, liveShards: input.live_shards, retentionDays: input.retention_days } });
		forgetSite(input.id);
		const site = { ...input, origins };
		return existed ? c.json(site, 200) : c.json(site, 201);
	})
	.openapi(listSitesRoute, async (c) => {
		const db = drizzle(c.env.DB);
		const rows = c.var.key.site === null ? await db.select().from(sites).all() : await db.select().from(sites).where(eq(sites.id, c.var.key.site)).all();
		return c.json({ sites: rows.map((r) => ({ id: r.id, name: r.name, origins: z.array(z.string()).parse(JSON.parse(r.origins)), timezone: r.timezone, currency: r.currency, live_shards: r.liveShards, retention_days: r.retentionDays, created_at: r.createdAt })) }, 200);
	})
	/** Creates a key; the secret is in this response only. A site-bound admin key can only mint keys for its site. */
	.openapi(createKeyRoute, async (c) => {
		const input = c.req.valid("json");
		const site = c.var.key.site ?? input.site ?? null;
		if (c.var.key.site !== null && input.site !== undefined && input.site !== c.var.key.site) {
			throw new ApiError(403, "forbidden", `this key can only create keys for site '${c.var.key.site}'`, [{ field: "site", message: "not this key's site" }]);
		}
		if (site !== null && !(await findSite(c.env.DB, site))) throw new ApiError(404, "unknown_site", `site '${site}' does not exist`, [{ field: "site", message: "unknown site" }]);
		const { secret, key } = await createKey(c.env.DB, { site, name: input.name, scopes: input.scopes });
		return c.json({ ...key, secret, note: "store the secret now: it is not shown again" }, 201);
	})
	.openapi(listKeysRoute, async (c) => {
		const db = drizzle(c.env.DB);
		const q = db.select().from(apiKeys);
		const rows = c.var.key.site === null ? await q.orderBy(desc(apiKeys.createdAt)).all() : await q.where(eq(apiKeys.site, c.var.key.site)).orderBy(desc(apiKeys.createdAt)).all();
		return c.json(
			{
				keys: rows.map((r) => ({ id: r.id, site: r.site, name: r.name, scopes: z.array(z.enum(SCOPES)).parse(JSON.parse(r.scopes)), created_at: r.createdAt, last_used_at: r.lastUsedAt, revoked_at: r.revokedAt })),
			},
			200,
		);
	})
	.openapi(revokeKeyRoute, async (c) => {
		const { id } = c.req.valid("param");
		if (!(await revokeKey(c.env.DB, id, c.var.key.site))) throw new ApiError(404, "not_found", `no live key '${id}' that this key may revoke`, [{ field: "id", message: "unknown or already revoked" }]);
		return c.json({ id, revoked: true }, 200);
	});
