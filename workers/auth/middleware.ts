/**
 * Authentication for /api/v1: one principal for API keys and dashboard sessions.
 *
 * `apiAccess()` runs once for every /api/v1 request (mounted in app.ts): it resolves the principal (a
 * bearer key wins; otherwise the `b2g_session` cookie), answers 401 without one (each 401 counts as a
 * failed authentication of the client address: 429 over AUTH_FAILURE_LIMIT), applies the per-principal
 * rate limit and then the per-site ceiling (429 + Retry-After), refuses cross-origin writes and WebSocket
 * upgrades made with the cookie, and writes one audit row after the response, whatever its status.
 *
 * `requireKey(scope)` (per route) checks the scope and resolves the site the call acts on: a
 * site-bound key's own site, or `?site=` for account-wide keys and users. A user session is
 * presented to routes as an account-wide ApiKey (`user:<id>`, the role's scopes), so routes written
 * for keys work unchanged; `c.var.principal` says who it really is.
 */
import type { Context } from "hono";
import { generateCookie, getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { ApiError, SITE_ID } from "../lib/http";
import { findSite, requireSite, type Site } from "../lib/sites";
import { requestOrigin, writeAudit } from "./audit";
import { findKey, hasScope, touchKey, type ApiKey, type Scope } from "./keys";
import { countAuthFailure, rateLimitConfig, refuseBlockedAddress, retryAfterSeconds, siteRateLimitConfig } from "./rate-limit";
import { roleScopes, type Principal, type Role } from "./roles";
import { findSessionUser, SESSION_COOKIE } from "./users";

export interface AuthVars {
	key: ApiKey;
	site: Site;
	principal: Principal;
}

type AuthContext = Context<{ Bindings: Env; Variables: AuthVars }>;

export interface Identity {
	principal: Principal;
	/** The principal as an ApiKey (a user: `user:<id>`, account-wide, its role's scopes). */
	key: ApiKey;
	/** The user's email or the key's name. */
	label: string;
	/** Authenticated by the session cookie (not a header). */
	viaCookie: boolean;
}

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="brain2gain"' };

/** Attributes of the session cookie; `clearSessionCookie` must repeat them to replace it. */
export const SESSION_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" } as const;

/** A Set-Cookie value that deletes the session cookie. */
export function clearSessionCookie(): string {
	return generateCookie(SESSION_COOKIE, "", { ...SESSION_COOKIE_OPTIONS, maxAge: 0, expires: new Date(0) });
}

export function keyIdentity(key: ApiKey): Identity {
	return { principal: { kind: "key", id: key.id, scopes: key.scopes, site: key.site }, key, label: key.name, viaCookie: false };
}

export function userIdentity(user: { id: string; email: string; role: Role }): Identity {
	return {
		principal: { kind: "user", id: user.id, email: user.email, role: user.role },
		key: { id: `user:${user.id}`, site: null, name: user.email, scopes: roleScopes(user.role) },
		label: user.email,
		viaCookie: true,
	};
}

/**
 * The credentials a request carries: the bearer key if there is an Authorization header, otherwise
 * the session cookie; null when it carries neither. Credentials that are present but not valid are
 * a 401 (a stale session cookie is cleared in the same answer).
 */
export async function identify<E extends { Bindings: Env }>(c: Context<E>, now = Date.now()): Promise<Identity | null> {
	const header = c.req.header("Authorization");
	if (header !== undefined && header.trim() !== "") {
		const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
		if (!match?.[1]) throw new ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer <key>'", [{ field: "Authorization", message: "not a Bearer key" }], CHALLENGE);
		const key = await findKey(c.env.DB, match[1], now);
		if (!key) throw new ApiError(401, "unauthorized", "the API key is unknown or revoked", [{ field: "Authorization", message: "invalid key" }], CHALLENGE);
		return keyIdentity(key);
	}
	const sessionId = getCookie(c, SESSION_COOKIE);
	if (sessionId === undefined) return null;
	const user = await findSessionUser(c.env.DB, sessionId, now);
	if (!user) {
		throw new ApiError(401, "session_expired", "the dashboard session has ended (expired, logged out or the account was disabled): log in again", [{ field: SESSION_COOKIE, message: "invalid session" }], {
			...CHALLENGE,
			"Set-Cookie": clearSessionCookie(),
		});
	}
	return userIdentity(user);
}

function missingCredentials(): ApiError {
	return new ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer <key>', or log in to the dashboard", [{ field: "Authorization", message: "missing" }], CHALLENGE);
}

function setIdentity(c: AuthContext, id: Identity): void {
	c.set("principal", id.principal);
	c.set("key", id.key);
	if (id.principal.kind === "key") c.executionCtx.waitUntil(touchKey(c.env.DB, id.principal.id));
}

/** 429 when the principal has used up its budget (per key, per user). A limiter failure lets the request through. */
async function enforceRateLimit(env: Env, principal: Principal): Promise<void> {
	const { limit, periodMs } = rateLimitConfig(env);
	const name = `${principal.kind}:${principal.id}`;
	let decision: { allowed: boolean; retryAfterMs: number };
	try {
		decision = await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name)).take(limit, periodMs);
	} catch (err) {
		console.error("rate limiter unavailable; not limiting", name, err instanceof Error ? err.message : err);
		return;
	}
	if (decision.allowed) return;
	const seconds = retryAfterSeconds(decision.retryAfterMs);
	const who = principal.kind === "key" ? "API key" : "user";
	throw new ApiError(429, "rate_limited", `too many requests: at most ${limit} per ${periodMs / 1000} s for each ${who}; retry in ${seconds} s`, [{ field: "Authorization", message: `per-${principal.kind} limit` }], { "Retry-After": String(seconds) });
}

/**
 * The site a request will act on, for the per-site ceiling: a site-bound key's own, else an existing site
 * named by `?site=` (cached lookup; an unknown or malformed one is left to the route's 400/404 and is not
 * counted, so no caller can make limiter objects for made-up sites). Null for account-level calls.
 */
async function ceilingSite(c: AuthContext, principal: Principal): Promise<string | null> {
	if (principal.kind === "key" && principal.site !== null) return principal.site;
	const requested = c.req.query("site");
	if (requested === undefined || !SITE_ID.test(requested)) return null;
	return (await findSite(c.env.DB, requested))?.id ?? null;
}

/**
 * 429 when the site has used its budget: all keys and users of the site together, checked after the
 * principal's own limit passed (a principal already refused does not use the site's budget up further).
 * A limiter failure lets the request through.
 */
async function enforceSiteCeiling(c: AuthContext, principal: Principal): Promise<void> {
	const { limit, periodMs } = siteRateLimitConfig(c.env);
	let site: string | null = null;
	let decision: { allowed: boolean; retryAfterMs: number };
	try {
		site = await ceilingSite(c, principal);
		if (site === null) return;
		decision = await c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(`api-site:${site}`)).takeMany([{ name: "site", limit, periodMs }]);
	} catch (err) {
		console.error("site rate limiter unavailable; not limiting", site, err instanceof Error ? err.message : err);
		return;
	}
	if (decision.allowed) return;
	const seconds = retryAfterSeconds(decision.retryAfterMs);
	throw new ApiError(429, "rate_limited", `too many requests for site '${site}': at most ${limit} per ${periodMs / 1000} s for all its keys and users together; retry in ${seconds} s`, [{ field: "site", message: "per-site limit" }], {
		"Retry-After": String(seconds),
	});
}

/**
 * The principal, or the 401 counted as a failed authentication of the client address (429 once the
 * address is over its limit; refused before any credential check while it waits).
 */
async function authenticate(c: AuthContext, now: number): Promise<Identity> {
	await refuseBlockedAddress(c.env, c.req.raw, "Authorization", now);
	try {
		const id = await identify(c, now);
		if (!id) throw missingCredentials();
		return id;
	} catch (err) {
		if (err instanceof ApiError && err.status === 401) throw await countAuthFailure(c.env, c.req.raw, err, "Authorization", now);
		throw err;
	}
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Writes made with the session cookie must come from this origin. SameSite=Lax already keeps the
 * cookie off cross-site POSTs; this also refuses other origins of the same site (a sibling subdomain).
 * A WebSocket upgrade is a GET, but the same-origin policy does not cover WebSockets: any page the cookie
 * goes with could read what the socket sends, so a cookie-authenticated upgrade must come from this origin too.
 * Browsers always send Origin with both; clients without it (scripts with a bearer key or a copied cookie) pass.
 */
function enforceSameOrigin(c: AuthContext, id: Identity): void {
	if (!id.viaCookie) return;
	const socket = c.req.header("Upgrade")?.toLowerCase() === "websocket";
	if (SAFE_METHODS.has(c.req.method) && !socket) return;
	const origin = c.req.header("Origin");
	const fetchSite = c.req.header("Sec-Fetch-Site");
	if ((origin !== undefined && origin !== new URL(c.req.url).origin) || fetchSite === "cross-site" || fetchSite === "same-site") {
		const what = socket ? "open a live socket" : "make changes";
		throw new ApiError(403, "cross_origin", `a dashboard session can only ${what} from the dashboard's own origin`, [{ field: "Origin", message: "not this origin" }]);
	}
}

/** The site named in the audit row: the one the route resolved, else the key's own, else a well-formed `?site=`. */
function auditSite(c: AuthContext, principal: Principal): string | null {
	const resolved: Site | undefined = c.var.site;
	if (resolved) return resolved.id;
	if (principal.kind === "key" && principal.site !== null) return principal.site;
	const requested = c.req.query("site");
	return requested !== undefined && SITE_ID.test(requested) ? requested : null;
}

/** Once per /api/v1 request: principal (failed-authentication limit), rate limits, same-origin writes and sockets, audit row. */
export function apiAccess() {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		const started = Date.now();
		const id = await authenticate(c, started);
		setIdentity(c, id);
		let status = 500;
		try {
			await enforceRateLimit(c.env, id.principal);
			await enforceSiteCeiling(c, id.principal);
			enforceSameOrigin(c, id);
			await next();
			status = c.res.status;
		} catch (err) {
			status = err instanceof ApiError ? err.status : 500;
			throw err;
		} finally {
			const url = new URL(c.req.url);
			c.executionCtx.waitUntil(
				writeAudit(c.env.DB, {
					principal: id.principal,
					label: id.label,
					method: c.req.method,
					path: url.pathname,
					query: url.search ? url.search.slice(1) : null,
					site: auditSite(c, id.principal),
					status,
					at: started,
					durationMs: Date.now() - started,
					...requestOrigin(c.req.raw),
				}),
			);
		}
	});
}

/** The request's principal as an ApiKey: set by apiAccess, or resolved here when a route is used without it. */
async function currentKey(c: AuthContext): Promise<ApiKey> {
	const existing: ApiKey | undefined = c.var.key;
	if (existing) return existing;
	const id = await identify(c);
	if (!id) throw missingCredentials();
	setIdentity(c, id);
	return id.key;
}

function requireScope(c: AuthContext, key: ApiKey, scope: Scope): void {
	if (hasScope(key, scope)) return;
	const principal: Principal | undefined = c.var.principal;
	if (principal?.kind === "user") throw new ApiError(403, "forbidden", `the '${principal.role}' role cannot do this (it needs the '${scope}' scope)`, [{ field: "role", message: `needs scope ${scope}` }]);
	throw new ApiError(403, "forbidden", `this key lacks the '${scope}' scope`, [{ field: "Authorization", message: `needs scope ${scope}` }]);
}

/** The site a key acts on: its own, or (account-wide keys and users) the one named by `?site=`. */
export async function siteFor(key: ApiKey, requested: string | undefined, db: D1Database): Promise<Site> {
	if (requested !== undefined && !SITE_ID.test(requested)) throw new ApiError(400, "invalid_request", "site is malformed", [{ field: "site", message: `must match ${SITE_ID}` }]);
	if (key.site !== null) {
		if (requested !== undefined && requested !== key.site) throw new ApiError(403, "forbidden", `this key belongs to site '${key.site}'`, [{ field: "site", message: "not this key's site" }]);
		return requireSite(db, key.site);
	}
	if (requested === undefined) throw new ApiError(400, "invalid_request", "an account-wide key or a dashboard user must name the site with ?site=", [{ field: "site", message: "required" }]);
	return requireSite(db, requested);
}

/** Hono middleware: a principal with `scope` and the resolved site in `c.var`. */
export function requireKey(scope: Scope) {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		const key = await currentKey(c);
		requireScope(c, key, scope);
		c.set("site", await siteFor(key, c.req.query("site"), c.env.DB));
		await next();
	});
}

/** Like requireKey, for routes that act on the account (no site resolved). */
export function requireAccountKey(scope: Scope) {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		requireScope(c, await currentKey(c), scope);
		await next();
	});
}

/** Any authenticated principal, whatever its scopes (GET /me, logout). */
export function requirePrincipal() {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		await currentKey(c);
		await next();
	});
}

/**
 * Account-wide admins only: the admin role, or an admin key not bound to a site (a site-bound key
 * must not manage account-wide users).
 */
export function requireAccountAdmin() {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		const key = await currentKey(c);
		requireScope(c, key, "admin");
		if (key.site !== null) throw new ApiError(403, "forbidden", "only an account-wide admin key or an admin user can do this", [{ field: "Authorization", message: "site-bound key" }]);
		await next();
	});
}
