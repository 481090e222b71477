/** Sites and API keys: /api/v1/sites and /api/v1/keys. */
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { apiKeys, sites } from "../db/schema";
import { jsonBody } from "../lib/body";
import { ApiError, SITE_ID } from "../lib/http";
import { findSite, forgetSite } from "../lib/sites";
import { revokeKey, createKey, SCOPES } from "./keys";
import { requireAccountKey } from "./middleware";
import { parseOr400 } from "../lib/validation";

export const admin = new Hono<{ Bindings: Env }>();

const timezone = z.string().refine((tz) => {
	try {
		new Intl.DateTimeFormat("en", { timeZone: tz });
		return true;
	} catch {
		return false;
	}
}, "must be an IANA time zone such as Europe/Madrid");

const siteSchema = z.strictObject({
	id: z.string().regex(SITE_ID, "lowercase letters, digits, _ and - (max 64)"),
	name: z.string().trim().min(1).max(128),
	origins: z
		.array(z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u.replace(/\/$/, ""), "must be an origin such as https://shop.example (no path)"))
		.max(50)
		.default([]),
	timezone: timezone.default("UTC"),
	currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR").default("EUR"),
});

/** Creates or updates a site (account-wide admin key). 201 when created, 200 when it existed. */
admin.post("/sites", requireAccountKey("admin"), async (c) => {
	if (c.var.key.site !== null) throw new ApiError(403, "forbidden", "only an account-wide key can create sites", [{ field: "Authorization", message: "site-bound key" }]);
	const input = parseOr400(siteSchema, await jsonBody(c.req.raw));
	const origins = input.origins.map((o) => new URL(o).origin);
	const existed = (await findSite(c.env.DB, input.id)) !== null;
	await drizzle(c.env.DB)
		.insert(sites)
		.values({ id: input.id, name: input.name, origins: JSON.stringify(origins), timezone: input.timezone, currency: input.currency, createdAt: Date.now() })
		.onConflictDoUpdate({ target: sites.id, set: { name: input.name, origins: JSON.stringify(origins), timezone: input.timezone, currency: input.currency } });
	forgetSite(input.id);
	return c.json({ ...input, origins }, existed ? 200 : 201);
});

admin.get("/sites", requireAccountKey("read"), async (c) => {
	const db = drizzle(c.env.DB);
	const rows = c.var.key.site === null ? await db.select().from(sites).all() : await db.select().from(sites).where(eq(sites.id, c.var.key.site)).all();
	return c.json({ sites: rows.map((r) => ({ id: r.id, name: r.name, origins: z.array(z.string()).parse(JSON.parse(r.origins)), timezone: r.timezone, currency: r.currency, created_at: r.createdAt })) });
});

const keySchema = z.strictObject({
	name: z.string().trim().min(1).max(128),
	scopes: z.array(z.enum(SCOPES)).min(1),
	site: z.string().regex(SITE_ID).nullable().optional(),
});

/** Creates a key; the secret is in this response only. A site-bound admin key can only mint keys for its site. */
admin.post("/keys", requireAccountKey("admin"), async (c) => {
	const input = parseOr400(keySchema, await jsonBody(c.req.raw));
	const site = c.var.key.site ?? input.site ?? null;
	if (c.var.key.site !== null && input.site !== undefined && input.site !== c.var.key.site) {
		throw new ApiError(403, "forbidden", `this key can only create keys for site '${c.var.key.site}'`, [{ field: "site", message: "not this key's site" }]);
	}
	if (site !== null && !(await findSite(c.env.DB, site))) throw new ApiError(404, "unknown_site", `site '${site}' does not exist`, [{ field: "site", message: "unknown site" }]);
	const { secret, key } = await createKey(c.env.DB, { site, name: input.name, scopes: input.scopes });
	return c.json({ ...key, secret, note: "store the secret now: it is not shown again" }, 201);
});

admin.get("/keys", requireAccountKey("admin"), async (c) => {
	const db = drizzle(c.env.DB);
	const q = db.select().from(apiKeys);
	const rows = c.var.key.site === null ? await q.orderBy(desc(apiKeys.createdAt)).all() : await q.where(eq(apiKeys.site, c.var.key.site)).orderBy(desc(apiKeys.createdAt)).all();
	return c.json({
		keys: rows.map((r) => ({ id: r.id, site: r.site, name: r.name, scopes: z.array(z.enum(SCOPES)).parse(JSON.parse(r.scopes)), created_at: r.createdAt, last_used_at: r.lastUsedAt, revoked_at: r.revokedAt })),
	});
});

admin.delete("/keys/:id", requireAccountKey("admin"), async (c) => {
	const id = c.req.param("id");
	if (!(await revokeKey(c.env.DB, id, c.var.key.site))) throw new ApiError(404, "not_found", `no live key '${id}' that this key may revoke`, [{ field: "id", message: "unknown or already revoked" }]);
	return c.json({ id, revoked: true });
});
