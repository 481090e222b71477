/**
 * Dashboard access: `GET /login?token=` (one-time link → session cookie), and under /api/v1:
 * `GET /me`, `POST /logout`, the admin-only users API (`/users`, `/users/{id}`, `/users/{id}/login-link`)
 * and the admin-only audit log (`GET /audit`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { getCookie, setCookie } from "hono/cookie";
import { readJson } from "../lib/body";
import { ApiError } from "../lib/http";
import { apiErrors, error, errors, intParam, json, jsonBody, openApiApp, secured, SESSION as SESSION_SCHEME } from "../lib/openapi";
import { queryAudit, requestOrigin, writeAudit, type AuditRow } from "./audit";
import { countAuthFailure, refuseBlockedAddress } from "./rate-limit";
import { SCOPES } from "./keys";
import { clearSessionCookie, requireAccountAdmin, requireAccountKey, requirePrincipal, SESSION_COOKIE_OPTIONS, userIdentity, type AuthVars } from "./middleware";
import { canSeePii, principalScopes, ROLES } from "./roles";
import {
	consumeLoginToken,
	createLoginToken,
	createUser,
	deleteUser,
	findUser,
	listUsers,
	LoginError,
	loginUrl,
	revokeSession,
	SESSION_COOKIE,
	SESSION_TTL_MS,
	updateUser,
	type User,
} from "./users";

export const login = openApiApp();

const NO_STORE = { "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" };

function escapeHtml(s: string): string {
	return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Browsers get a small HTML page; API clients (Accept: application/json, not text/html) get the JSON error. */
function wantsJson(accept: string | undefined): boolean {
	return !!accept && accept.includes("application/json") && !accept.includes("text/html");
}

const TITLES: Record<string, string> = {
	invalid_token: "This login link is not valid",
	token_expired: "This login link has expired",
	token_used: "This login link was already used",
	user_disabled: "This account is disabled",
};

function loginErrorPage(err: LoginError, heading?: string): string {
	const title = heading ?? TITLES[err.reason] ?? "Login failed";
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Brain2Gain</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}h1{font-size:1.4rem}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(err.message)}</p>
<p>An admin makes a new link in the dashboard's user settings, or locally with <code>npm run user -- link --email you@example.com</code>.</p></body></html>`;
}

const loginRoute = createRoute({
	method: "get",
	path: "/login",
	operationId: "login",
	tags: ["Users and audit"],
	summary: "Open a login link",
	description:
		"Consumes a one-time login link (valid 15 minutes, usable once), sets the `b2g_session` cookie (HttpOnly, Secure, SameSite=Lax, 7 days) and redirects to the dashboard. " +
		"Failures are an HTML page, or the JSON error with `Accept: application/json`. A HEAD request answers 200 and leaves the link unused.",
	security: [],
	request: { query: z.object({ token: z.string().optional().describe("the token of the link") }) },
	responses: {
		303: { description: "logged in: `Set-Cookie: b2g_session=…`, `Location: /`" },
		400: error("`invalid_token`: unknown or malformed link"),
		403: error("`user_disabled`"),
		410: error("`token_expired` or `token_used`"),
		429: error("`rate_limited`: too many failed logins from this address (AUTH_FAILURE_LIMIT per AUTH_FAILURE_PERIOD_SECONDS); see Retry-After"),
	},
});

/** Consumes a one-time login link, sets the session cookie and sends the browser to the dashboard. */
login.openapi(loginRoute, async (c) => {
	// Hono answers HEAD with this GET handler. Mail scanners and link previews send HEAD; only opening the link may use it up.
	if (c.req.method === "HEAD") {
		for (const [k, v] of Object.entries(NO_STORE)) c.header(k, v);
		return c.html("", 200);
	}
	const token = c.req.valid("query").token ?? "";
	const now = Date.now();
	try {
		// A bad link counts as a failed authentication of the address; over the limit, 429 before the token is looked at.
		await refuseBlockedAddress(c.env, c.req.raw, "token", now);
		const { sessionId, user } = await consumeLoginToken(c.env.DB, token, now);
		setCookie(c, SESSION_COOKIE, sessionId, { ...SESSION_COOKIE_OPTIONS, maxAge: SESSION_TTL_MS / 1000 });
		const id = userIdentity(user);
		c.executionCtx.waitUntil(
			writeAudit(c.env.DB, { principal: id.principal, label: id.label, method: "GET", path: "/login", query: null, site: null, status: 303, at: now, durationMs: Date.now() - now, ...requestOrigin(c.req.raw) }),
		);
		return c.redirect("/", 303);
	} catch (caught) {
		let err = caught;
		if (err instanceof LoginError) {
			const limited = await countAuthFailure(c.env, c.req.raw, new ApiError(err.status, err.reason, err.message), "token", now);
			if (limited.status === 429) err = limited;
		}
		if (err instanceof ApiError && err.status === 429) {
			for (const [k, v] of Object.entries({ ...NO_STORE, ...err.headers })) c.header(k, v);
			if (wantsJson(c.req.header("Accept"))) return c.json(err.body(), 429);
			return c.html(loginErrorPage(new LoginError("invalid_token", 400, err.message), "Too many failed login attempts"), 429);
		}
		if (!(err instanceof LoginError)) throw err;
		for (const [k, v] of Object.entries(NO_STORE)) c.header(k, v);
		if (wantsJson(c.req.header("Accept"))) return c.json({ error: err.reason, message: err.message, fields: [{ field: "token", message: TITLES[err.reason] ?? err.reason }] }, err.status);
		return c.html(loginErrorPage(err), err.status);
	}
});

const meRoute = createRoute({
	method: "get",
	path: "/me",
	operationId: "me",
	tags: ["Users and audit"],
	summary: "Who am I",
	description: "The principal of this request (a dashboard user or an API key), for role-aware navigation.",
	security: secured(),
	middleware: [requirePrincipal()],
	responses: {
		200: json(
			z.discriminatedUnion("kind", [
				z.object({ kind: z.literal("user"), id: z.string(), email: z.string(), role: z.enum(ROLES), scopes: z.array(z.enum(SCOPES)), can_see_pii: z.boolean() }),
				z.object({ kind: z.literal("key"), id: z.string(), name: z.string(), site: z.string().nullable(), scopes: z.array(z.enum(SCOPES)), can_see_pii: z.boolean() }),
			]),
			"the principal",
		),
		...errors(401, 429),
	},
});

const logoutRoute = createRoute({
	method: "post",
	path: "/logout",
	operationId: "logout",
	tags: ["Users and audit"],
	summary: "Log out",
	description: "Ends the dashboard session of this request at once and clears the cookie. An API key is revoked with DELETE /api/v1/keys/{id} instead (400).",
	security: [{ [SESSION_SCHEME]: [] }],
	middleware: [requirePrincipal()],
	responses: { 200: json(z.object({ logged_out: z.boolean() }), "logged out"), ...errors(400, 401, 403, 429) },
});

// ─── users (admin) ───────────────────────────────────────────────────────────────────────────────

const email = z.string().trim().toLowerCase().max(254, "at most 254 characters").pipe(z.email("must be an email address such as ana@example.com"));
const role = z.enum(ROLES, `must be one of ${ROLES.join(", ")}`);
const createSchema = z.strictObject({ email, role });
const patchSchema = z
	.strictObject({ role: role.optional(), disabled: z.boolean("must be true or false").optional() })
	.refine((v) => v.role !== undefined || v.disabled !== undefined, { message: "send role and/or disabled", path: [] });

function userView(u: User) {
	return { id: u.id, email: u.email, role: u.role, created_at: u.createdAt, last_login_at: u.lastLoginAt, disabled: u.disabledAt !== null, disabled_at: u.disabledAt };
}

const UserView = z
	.object({
		id: z.string(),
		email: z.string(),
		role: z.enum(ROLES),
		created_at: z.number().int().describe("epoch ms"),
		last_login_at: z.number().int().nullable(),
		disabled: z.boolean(),
		disabled_at: z.number().int().nullable(),
	})
	.openapi("User");

function origin(url: string): string {
	return new URL(url).origin;
}

const USER_ID = /^[0-9a-f]{12}$/;
const userParams = z.object({ id: z.string().regex(USER_ID, "unknown user").describe("the user id (12 hex characters)") });

async function userOr404(db: D1Database, id: string): Promise<User> {
	const user = USER_ID.test(id) ? await findUser(db, id) : null;
	if (!user) throw new ApiError(404, "not_found", `no user '${id}'`, [{ field: "id", message: "unknown user" }]);
	return user;
}

/** An admin user may not lock themself out (disable, delete or demote their own account). */
function refuseSelfLockout(c: { var: AuthVars }, id: string, what: string): void {
	const p = c.var.principal;
	if (p.kind === "user" && p.id === id) throw new ApiError(409, "conflict", `you cannot ${what} your own account; ask another admin`, [{ field: "id", message: "your own account" }]);
}

const ADMINS_ONLY = "The admin role or an account-wide admin key.";

const listUsersRoute = createRoute({
	method: "get",
	path: "/users",
	operationId: "listUsers",
	tags: ["Users and audit"],
	summary: "Dashboard users",
	description: ADMINS_ONLY,
	security: secured("admin"),
	middleware: [requireAccountAdmin()],
	responses: { 200: json(z.object({ users: z.array(UserView) }), "the users"), ...apiErrors() },
});

const createUserRoute = createRoute({
	method: "post",
	path: "/users",
	operationId: "createUser",
	tags: ["Users and audit"],
	summary: "Create a user",
	description: `${ADMINS_ONLY} The answer carries a one-time login link (valid 15 minutes); 409 when the email is taken.`,
	security: secured("admin"),
	middleware: [requireAccountAdmin(), readJson(10_000)],
	request: { body: jsonBody(createSchema, "the new user") },
	responses: {
		201: json(UserView.extend({ login_url: z.string().describe("one-time login link"), login_url_expires_at: z.number().int().describe("epoch ms") }), "created"),
		...apiErrors(409, 413, 415),
	},
});

const patchUserRoute = createRoute({
	method: "patch",
	path: "/users/{id}",
	operationId: "updateUser",
	tags: ["Users and audit"],
	summary: "Change a user's role, disable or enable",
	description: `${ADMINS_ONLY} Disabling ends the user's sessions at once; an admin cannot disable or demote themself (409).`,
	security: secured("admin"),
	middleware: [requireAccountAdmin(), readJson(10_000)],
	request: { params: userParams, body: jsonBody(patchSchema, "role and/or disabled") },
	responses: { 200: json(UserView, "the changed user"), ...apiErrors(404, 409, 413, 415) },
});

const deleteUserRoute = createRoute({
	method: "delete",
	path: "/users/{id}",
	operationId: "deleteUser",
	tags: ["Users and audit"],
	summary: "Delete a user",
	description: `${ADMINS_ONLY} An admin cannot delete themself (409).`,
	security: secured("admin"),
	middleware: [requireAccountAdmin()],
	request: { params: userParams },
	responses: { 200: json(z.object({ id: z.string(), deleted: z.boolean() }), "deleted"), ...apiErrors(404, 409) },
});

const loginLinkRoute = createRoute({
	method: "post",
	path: "/users/{id}/login-link",
	operationId: "createLoginLink",
	tags: ["Users and audit"],
	summary: "A new login link",
	description: `${ADMINS_ONLY} A new one-time login link (earlier unused links stay valid until they expire); 409 for a disabled user.`,
	security: secured("admin"),
	middleware: [requireAccountAdmin()],
	request: { params: userParams },
	responses: {
		201: json(z.object({ user: UserView, login_url: z.string(), expires_at: z.number().int().describe("epoch ms") }), "the link"),
		...apiErrors(404, 409),
	},
});

// ─── audit log (admin) ───────────────────────────────────────────────────────────────────────────

/** Epoch ms or an ISO 8601 instant / day (UTC). */
const instant = z.string().transform((s, ctx) => {
	const ms = /^\d{1,15}$/.test(s) ? Number(s) : Date.parse(s);
	if (!Number.isFinite(ms)) {
		ctx.addIssue({ code: "custom", message: "must be epoch ms or an ISO 8601 time such as 2026-11-20T14:03:00Z" });
		return z.NEVER;
	}
	return ms;
});

const auditQuerySchema = z.strictObject({
	from: instant.optional().describe("epoch ms or ISO 8601 (inclusive)"),
	to: instant.optional().describe("epoch ms or ISO 8601 (exclusive)"),
	actor: z.string().min(1).max(254).optional().describe("a user id, email or key id"),
	limit: intParam(1, 1000).optional().describe("rows per page (default 100)"),
	cursor: z
		.string()
		.regex(/^\d{1,15}\.\d{1,15}$/, "must be the next_cursor of a previous page")
		.transform((s) => {
			const [at, id] = s.split(".").map(Number);
			return { at: at ?? 0, id: id ?? 0 };
		})
		.optional()
		.describe("the previous page's next_cursor"),
	site: z.string().optional().describe("only rows of this site (a site-bound key: its own)"),
});

const AuditEntry = z
	.object({
		id: z.number().int(),
		at: z.number().int().describe("epoch ms"),
		actor: z.object({ kind: z.enum(["key", "user"]), id: z.string(), label: z.string().nullable(), role: z.enum(ROLES).nullable(), scopes: z.array(z.enum(SCOPES)) }),
		method: z.string(),
		path: z.string(),
		query: z.string().nullable(),
		site: z.string().nullable(),
		status: z.number().int(),
		duration_ms: z.number().int(),
		ip: z.string(),
		country: z.string().nullable(),
		user_agent: z.string().nullable(),
	})
	.openapi("AuditEntry");

function auditView(r: AuditRow) {
	return {
		id: r.id,
		at: r.at,
		actor: { kind: r.actorKind, id: r.actorId, label: r.actorLabel, role: r.role, scopes: z.array(z.enum(SCOPES)).catch([]).parse(JSON.parse(r.scopes)) },
		method: r.method,
		path: r.path,
		query: r.query,
		site: r.site,
		status: r.status,
		duration_ms: r.durationMs,
		ip: r.ip,
		country: r.country,
		user_agent: r.userAgent,
	};
}

const auditRoute = createRoute({
	method: "get",
	path: "/audit",
	operationId: "auditLog",
	tags: ["Users and audit"],
	summary: "Audit log",
	description: "Every /api/v1 request past authentication and every login, newest first, paginated by `cursor`. Admins only: the admin role or an admin-scope key; a site-bound admin key sees only its site's rows.",
	security: secured("admin"),
	middleware: [requireAccountKey("admin")],
	request: { query: auditQuerySchema },
	responses: { 200: json(z.object({ entries: z.array(AuditEntry), next_cursor: z.string().nullable() }), "a page of the log"), ...apiErrors() },
});

export const access = openApiApp<AuthVars>()
	/** The current principal, for role-aware navigation. */
	.openapi(meRoute, (c) => {
		const p = c.var.principal;
		const common = { scopes: principalScopes(p), can_see_pii: canSeePii(p) };
		if (p.kind === "user") return c.json({ kind: "user" as const, id: p.id, email: p.email, role: p.role, ...common }, 200, { "Cache-Control": "no-store" });
		return c.json({ kind: "key" as const, id: p.id, name: c.var.key.name, site: p.site, ...common }, 200, { "Cache-Control": "no-store" });
	})
	/** Ends the dashboard session of this request and clears the cookie. */
	.openapi(logoutRoute, async (c) => {
		if (c.var.principal.kind !== "user") {
			throw new ApiError(400, "no_session", "logout ends a dashboard session; an API key is revoked with DELETE /api/v1/keys/{id}", [{ field: "Authorization", message: "not a session" }]);
		}
		await revokeSession(c.env.DB, getCookie(c, SESSION_COOKIE) ?? "");
		c.header("Set-Cookie", clearSessionCookie());
		return c.json({ logged_out: true }, 200);
	})
	.openapi(listUsersRoute, async (c) => c.json({ users: (await listUsers(c.env.DB)).map(userView) }, 200))
	/** Creates a user (201) with a one-time login link in the answer. */
	.openapi(createUserRoute, async (c) => {
		const user = await createUser(c.env.DB, c.req.valid("json"));
		const link = await createLoginToken(c.env.DB, user.id);
		return c.json({ ...userView(user), login_url: loginUrl(origin(c.req.url), link.token), login_url_expires_at: link.expiresAt }, 201);
	})
	.openapi(patchUserRoute, async (c) => {
		const { id } = c.req.valid("param");
		const change = c.req.valid("json");
		await userOr404(c.env.DB, id);
		if (change.disabled === true) refuseSelfLockout(c, id, "disable");
		if (change.role !== undefined && change.role !== "admin") refuseSelfLockout(c, id, "demote");
		const user = await updateUser(c.env.DB, id, change);
		if (!user) throw new ApiError(404, "not_found", `no user '${id}'`, [{ field: "id", message: "unknown user" }]);
		return c.json(userView(user), 200);
	})
	.openapi(deleteUserRoute, async (c) => {
		const { id } = c.req.valid("param");
		await userOr404(c.env.DB, id);
		refuseSelfLockout(c, id, "delete");
		if (!(await deleteUser(c.env.DB, id))) throw new ApiError(404, "not_found", `no user '${id}'`, [{ field: "id", message: "unknown user" }]);
		return c.json({ id, deleted: true }, 200);
	})
	/** A new one-time login link for a user (earlier unused links stay valid until they expire). */
	.openapi(loginLinkRoute, async (c) => {
		const user = await userOr404(c.env.DB, c.req.valid("param").id);
		if (user.disabledAt !== null) throw new ApiError(409, "conflict", "this user is disabled; enable it first (PATCH {\"disabled\": false})", [{ field: "id", message: "disabled user" }]);
		const link = await createLoginToken(c.env.DB, user.id);
		return c.json({ user: userView(user), login_url: loginUrl(origin(c.req.url), link.token), expires_at: link.expiresAt }, 201);
	})
	.openapi(auditRoute, async (c) => {
		const q = c.req.valid("query");
		if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, "invalid_request", "from must be before to", [{ field: "to", message: "must be after from" }]);
		const boundSite = c.var.key.site;
		if (boundSite !== null && q.site !== undefined && q.site !== boundSite) throw new ApiError(403, "forbidden", `this key belongs to site '${boundSite}'`, [{ field: "site", message: "not this key's site" }]);
		const site = boundSite ?? q.site;
		const { rows, next } = await queryAudit(c.env.DB, { from: q.from, to: q.to, actor: q.actor, site, limit: q.limit ?? 100, cursor: q.cursor });
		return c.json({ entries: rows.map(auditView), next_cursor: next ? `${next.at}.${next.id}` : null }, 200, { "Cache-Control": "no-store" });
	});
