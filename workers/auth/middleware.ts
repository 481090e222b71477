/**
 * Bearer-key authentication for /api/v1. `requireKey(scope)` checks the key and its scope and
 * resolves the site the call acts on: the key's own site, or `?site=` for an account-wide key.
 */
import { createMiddleware } from "hono/factory";
import { ApiError, SITE_ID } from "../lib/http";
import { requireSite, type Site } from "../lib/sites";
import { findKey, hasScope, touchKey, type ApiKey, type Scope } from "./keys";

export interface AuthVars {
	key: ApiKey;
	site: Site;
}

/** Reads and checks the bearer key (401 when missing or unknown, 403 without the scope). */
export async function authenticate(req: Request, db: D1Database, scope: Scope): Promise<ApiKey> {
	const header = req.headers.get("Authorization") ?? "";
	const match = /^Bearer\s+(\S+)$/i.exec(header);
	const challenge = { "WWW-Authenticate": 'Bearer realm="brain2gain"' };
	if (!match?.[1]) throw new ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer <key>'", [{ field: "Authorization", message: "missing" }], challenge);
	const key = await findKey(db, match[1]);
	if (!key) throw new ApiError(401, "unauthorized", "the API key is unknown or revoked", [{ field: "Authorization", message: "invalid key" }], challenge);
	if (!hasScope(key, scope)) throw new ApiError(403, "forbidden", `this key lacks the '${scope}' scope`, [{ field: "Authorization", message: `needs scope ${scope}` }]);
	return key;
}

/** The site a key acts on: its own, or (account-wide keys only) the one named by `?site=`. */
export async function siteFor(key: ApiKey, requested: string | undefined, db: D1Database): Promise<Site> {
	if (requested !== undefined && !SITE_ID.test(requested)) throw new ApiError(400, "invalid_request", "site is malformed", [{ field: "site", message: `must match ${SITE_ID}` }]);
	if (key.site !== null) {
		if (requested !== undefined && requested !== key.site) throw new ApiError(403, "forbidden", `this key belongs to site '${key.site}'`, [{ field: "site", message: "not this key's site" }]);
		return requireSite(db, key.site);
	}
	if (requested === undefined) throw new ApiError(400, "invalid_request", "an account-wide key must name the site with ?site=", [{ field: "site", message: "required" }]);
	return requireSite(db, requested);
}

/** Hono middleware: authenticated key with `scope` and the resolved site in `c.var`. */
export function requireKey(scope: Scope) {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		const key = await authenticate(c.req.raw, c.env.DB, scope);
		c.set("key", key);
		c.set("site", await siteFor(key, c.req.query("site"), c.env.DB));
		c.executionCtx.waitUntil(touchKey(c.env.DB, key.id));
		await next();
	});
}

/** Like requireKey, for routes that act on the account (no site resolved). */
export function requireAccountKey(scope: Scope) {
	return createMiddleware<{ Bindings: Env; Variables: { key: ApiKey } }>(async (c, next) => {
		const key = await authenticate(c.req.raw, c.env.DB, scope);
		c.set("key", key);
		c.executionCtx.waitUntil(touchKey(c.env.DB, key.id));
		await next();
	});
}
