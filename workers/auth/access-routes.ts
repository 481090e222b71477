/**
 * Dashboard access: `GET /login?token=` (one-time link → session cookie), and under /api/v1:
 * `GET /me`, `POST /logout`, the admin-only users API (`/users`, `/users/{id}`, `/users/{id}/login-link`)
 * and the admin-only audit log (`GET /audit`).
 */
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { jsonBody } from "../lib/body";
import { ApiError, fieldPath } from "../lib/http";
import { parseOr400, toIssues } from "../lib/validation";
import { queryAudit, requestOrigin, writeAudit, type AuditRow } from "./audit";
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

export const login = new Hono<{ Bindings: Env }>();
export const access = new Hono<{ Bindings: Env; Variables: AuthVars }>();

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

function loginErrorPage(err: LoginError): string {
	const title = TITLES[err.reason] ?? "Login failed";
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Brain2Gain</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}h1{font-size:1.4rem}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(err.message)}</p>
<p>An admin makes a new link in the dashboard's user settings, or locally with <code>npm run user -- link --email you@example.com</code>.</p></body></html>`;
}

/** Consumes a one-time login link, sets the session cookie and sends the browser to the dashboard. */
login.get("/login", async (c) => {
	const token = c.req.query("token") ?? "";
	const now = Date.now();
	try {
		const { sessionId, user } = await consumeLoginToken(c.env.DB, token, now);
		setCookie(c, SESSION_COOKIE, sessionId, { ...SESSION_COOKIE_OPTIONS, maxAge: SESSION_TTL_MS / 1000 });
		const id = userIdentity(user);
		c.executionCtx.waitUntil(
			writeAudit(c.env.DB, { principal: id.principal, label: id.label, method: "GET", path: "/login", query: null, site: null, status: 303, at: now, durationMs: Date.now() - now, ...requestOrigin(c.req.raw) }),
		);
		return c.redirect("/", 303);
	} catch (err) {
		if (!(err instanceof LoginError)) throw err;
		for (const [k, v] of Object.entries(NO_STORE)) c.header(k, v);
		if (wantsJson(c.req.header("Accept"))) return c.json({ error: err.reason, message: err.message, fields: [{ field: "token", message: TITLES[err.reason] ?? err.reason }] }, err.status);
		return c.html(loginErrorPage(err), err.status);
	}
});

/** The current principal, for role-aware navigation. */
access.get("/me", requirePrincipal(), (c) => {
	const p = c.var.principal;
	const common = { scopes: principalScopes(p), can_see_pii: canSeePii(p) };
	if (p.kind === "user") return c.json({ kind: "user", id: p.id, email: p.email, role: p.role, ...common }, 200, { "Cache-Control": "no-store" });
	return c.json({ kind: "key", id: p.id, name: c.var.key.name, site: p.site, ...common }, 200, { "Cache-Control": "no-store" });
});

/** Ends the dashboard session of this request and clears the cookie. */
access.post("/logout", requirePrincipal(), async (c) => {
	if (c.var.principal.kind !== "user") {
		throw new ApiError(400, "no_session", "logout ends a dashboard session; an API key is revoked with DELETE /api/v1/keys/{id}", [{ field: "Authorization", message: "not a session" }]);
	}
	await revokeSession(c.env.DB, getCookie(c, SESSION_COOKIE) ?? "");
	c.header("Set-Cookie", clearSessionCookie());
	return c.json({ logged_out: true });
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

function origin(url: string): string {
	return new URL(url).origin;
}

const USER_ID = /^[0-9a-f]{12}$/;

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

access.get("/users", requireAccountAdmin(), async (c) => {
	return c.json({ users: (await listUsers(c.env.DB)).map(userView) });
});

/** Creates a user (201) with a one-time login link in the answer. */
access.post("/users", requireAccountAdmin(), async (c) => {
	const input = parseOr400(createSchema, await jsonBody(c.req.raw, 10_000));
	const user = await createUser(c.env.DB, input);
	const link = await createLoginToken(c.env.DB, user.id);
	return c.json({ ...userView(user), login_url: loginUrl(origin(c.req.url), link.token), login_url_expires_at: link.expiresAt }, 201);
});

access.patch("/users/:id", requireAccountAdmin(), async (c) => {
	const id = c.req.param("id");
	const change = parseOr400(patchSchema, await jsonBody(c.req.raw, 10_000));
	await userOr404(c.env.DB, id);
	if (change.disabled === true) refuseSelfLockout(c, id, "disable");
	if (change.role !== undefined && change.role !== "admin") refuseSelfLockout(c, id, "demote");
	const user = await updateUser(c.env.DB, id, change);
	if (!user) throw new ApiError(404, "not_found", `no user '${id}'`, [{ field: "id", message: "unknown user" }]);
	return c.json(userView(user));
});

access.delete("/users/:id", requireAccountAdmin(), async (c) => {
	const id = c.req.param("id");
	await userOr404(c.env.DB, id);
	refuseSelfLockout(c, id, "delete");
	if (!(await deleteUser(c.env.DB, id))) throw new ApiError(404, "not_found", `no user '${id}'`, [{ field: "id", message: "unknown user" }]);
	return c.json({ id, deleted: true });
});

/** A new one-time login link for a user (earlier unused links stay valid until they expire). */
access.post("/users/:id/login-link", requireAccountAdmin(), async (c) => {
	const user = await userOr404(c.env.DB, c.req.param("id"));
	if (user.disabledAt !== null) throw new ApiError(409, "conflict", "this user is disabled; enable it first (PATCH {\"disabled\": false})", [{ field: "id", message: "disabled user" }]);
	const link = await createLoginToken(c.env.DB, user.id);
	return c.json({ user: userView(user), login_url: loginUrl(origin(c.req.url), link.token), expires_at: link.expiresAt }, 201);
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
	from: instant.optional(),
	to: instant.optional(),
	actor: z.string().min(1).max(254).optional(),
	limit: z
		.string()
		.regex(/^\d+$/, "must be a whole number from 1 to 1000")
		.transform(Number)
		.pipe(z.number().int().min(1, "must be a whole number from 1 to 1000").max(1000, "must be a whole number from 1 to 1000"))
		.default(100),
	cursor: z
		.string()
		.regex(/^\d{1,15}\.\d{1,15}$/, "must be the next_cursor of a previous page")
		.transform((s) => {
			const [at, id] = s.split(".").map(Number);
			return { at: at ?? 0, id: id ?? 0 };
		})
		.optional(),
	site: z.string().optional(),
});

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

/**
 * Newest first, paginated by `cursor`. Admins only: the admin role or an admin-scope key; a
 * site-bound admin key sees only its site's rows.
 */
access.get("/audit", requireAccountKey("admin"), async (c) => {
	const parsed = auditQuerySchema.safeParse(c.req.query());
	if (!parsed.success) throw new ApiError(400, "invalid_request", "the query is invalid", toIssues(parsed.error).map((i) => ({ field: fieldPath(i.path), message: i.message })));
	const q = parsed.data;
	if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new ApiError(400, "invalid_request", "from must be before to", [{ field: "to", message: "must be after from" }]);
	const boundSite = c.var.key.site;
	if (boundSite !== null && q.site !== undefined && q.site !== boundSite) throw new ApiError(403, "forbidden", `this key belongs to site '${boundSite}'`, [{ field: "site", message: "not this key's site" }]);
	const site = boundSite ?? q.site;
	const { rows, next } = await queryAudit(c.env.DB, { from: q.from, to: q.to, actor: q.actor, site, limit: q.limit, cursor: q.cursor });
	return c.json({ entries: rows.map(auditView), next_cursor: next ? `${next.at}.${next.id}` : null }, 200, { "Cache-Control": "no-store" });
});
