/**
 * Dashboard access: one-time login links, session cookies, the principal behind a request, logout,
 * the admin-only users API, the audit log and its pruning, and the per-principal rate limit.
 * (The role × route matrix is in access-matrix.test.ts.)
 */
import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../workers/index";
import { app } from "../workers/app";
import { AUDIT_RETENTION_MS } from "../workers/auth/audit";
import { createKey, hashKey, type Scope } from "../workers/auth/keys";
import { DEFAULT_RATE_LIMIT, rateLimitConfig, takeToken, type Bucket } from "../workers/auth/rate-limit";
import { canSeePii, roleScopes, ROLES } from "../workers/auth/roles";
import { consumeLoginToken, createLoginToken, createUser, LOGIN_TOKEN_TTL_MS, SESSION_TTL_MS } from "../workers/auth/users";
import { runMaintenance } from "../workers/jobs/scheduled";
import { ADMIN_KEY, api, apiWithCookie, userSession, waitFor } from "./helpers";

const ADMIN_KEY_ID = "0000000000aa";

interface ErrorJson {
	error: string;
	message: string;
	fields?: { field: string; message: string }[];
}

async function keyFor(scopes: Scope[], site: string | null = null): Promise<{ id: string; secret: string }> {
	const { secret, key } = await createKey(env.DB, { site, name: `access test ${scopes.join("+")}`, scopes });
	return { id: key.id, secret };
}

/** GET a login link as a browser would (no redirect following). */
async function openLink(url: string, accept = "text/html,application/xhtml+xml"): Promise<Response> {
	const u = new URL(url);
	return exports.default.fetch(`https://b2g.test${u.pathname}${u.search}`, { redirect: "manual", headers: { Accept: accept } });
}

function cookieAttributes(setCookie: string): { name: string; value: string; attrs: Map<string, string> } {
	const [pair = "", ...rest] = setCookie.split(";").map((s) => s.trim());
	const eq = pair.indexOf("=");
	const attrs = new Map<string, string>();
	for (const a of rest) {
		const i = a.indexOf("=");
		attrs.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? "" : a.slice(i + 1));
	}
	return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

async function fields(res: Response): Promise<string[]> {
	return ((await res.json()) as ErrorJson).fields?.map((f) => f.field) ?? [];
}

async function createViaApi(email: string, role: string): Promise<{ id: string; login_url: string }> {
	const res = await api("POST", "/api/v1/users", { email, role });
	expect(res.status).toBe(201);
	return (await res.json()) as { id: string; login_url: string };
}

describe("roles", () => {
	it("maps roles to scopes and only admins see PII", () => {
		expect(ROLES).toEqual(["admin", "executive", "analyst", "operations"]);
		expect(roleScopes("admin")).toEqual(["admin", "read", "ingest"]);
		for (const r of ["executive", "analyst", "operations"] as const) expect(roleScopes(r)).toEqual(["read"]);
		expect(canSeePii({ kind: "user", id: "u", email: "a@b.c", role: "admin" })).toBe(true);
		expect(canSeePii({ kind: "user", id: "u", email: "a@b.c", role: "executive" })).toBe(false);
		expect(canSeePii({ kind: "key", id: "k", scopes: ["admin"], site: "demo" })).toBe(true);
		expect(canSeePii({ kind: "key", id: "k", scopes: ["read", "ingest"], site: null })).toBe(false);
	});
});

describe("login links", () => {
	it("a link logs in once: 303 to /, a Secure HttpOnly SameSite=Lax cookie, and only hashes stored", async () => {
		const created = await createViaApi("Ana.Lyst@Example.com", "analyst");
		const token = new URL(created.login_url).searchParams.get("token") ?? "";
		expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits, base64url
		const before = Date.now();
		const res = await openLink(created.login_url);
		expect(res.status).toBe(303);
		expect(res.headers.get("Location")).toBe("/");
		const cookie = cookieAttributes(res.headers.get("Set-Cookie") ?? "");
		expect(cookie.name).toBe("b2g_session");
		expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect([...cookie.attrs.keys()].sort()).toEqual(["httponly", "max-age", "path", "samesite", "secure"]);
		expect(cookie.attrs.get("path")).toBe("/");
		expect(cookie.attrs.get("samesite")).toBe("Lax");
		expect(cookie.attrs.get("max-age")).toBe(String(7 * 86_400));

		// Only SHA-256 of the token and of the session id are stored.
		const tokenRow = await env.DB.prepare("SELECT token_hash, used_at, expires_at - created_at AS ttl FROM login_tokens WHERE user_id = ?").bind(created.id).first<{ token_hash: string; used_at: number; ttl: number }>();
		expect(tokenRow).toMatchObject({ token_hash: await hashKey(token), ttl: LOGIN_TOKEN_TTL_MS });
		expect(tokenRow?.used_at).toBeGreaterThanOrEqual(before);
		const session = await env.DB.prepare("SELECT id_hash, expires_at - created_at AS ttl FROM user_sessions WHERE user_id = ?").bind(created.id).first<{ id_hash: string; ttl: number }>();
		expect(session).toEqual({ id_hash: await hashKey(cookie.value), ttl: SESSION_TTL_MS });
		const dump = JSON.stringify(await env.DB.prepare("SELECT * FROM login_tokens, user_sessions").all());
		expect(dump).not.toContain(token);
		expect(dump).not.toContain(cookie.value);

		const me = await apiWithCookie("GET", "/api/v1/me", `b2g_session=${cookie.value}`);
		expect(me.status).toBe(200);
		expect(await me.json()).toEqual({ kind: "user", id: created.id, email: "ana.lyst@example.com", role: "analyst", scopes: ["read"], can_see_pii: false });
		const user = await env.DB.prepare("SELECT last_login_at FROM users WHERE id = ?").bind(created.id).first<{ last_login_at: number }>();
		expect(user?.last_login_at).toBeGreaterThanOrEqual(before);
	});

	it("a used link answers 410 (HTML for browsers, JSON for API clients) and starts no session", async () => {
		const created = await createViaApi("reuse@example.com", "executive");
		expect((await openLink(created.login_url)).status).toBe(303);
		const again = await openLink(created.login_url);
		expect(again.status).toBe(410);
		expect(again.headers.get("Content-Type")).toMatch(/^text\/html/);
		expect(again.headers.get("Set-Cookie")).toBeNull();
		expect(again.headers.get("Cache-Control")).toBe("no-store");
		expect(await again.text()).toContain("already used");
		const json = await openLink(created.login_url, "application/json");
		expect(json.status).toBe(410);
		expect(await json.json()).toMatchObject({ error: "token_used", fields: [{ field: "token" }] });
		const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM user_sessions WHERE user_id = ?").bind(created.id).first<{ n: number }>();
		expect(sessions?.n).toBe(1);
	});

	it("two racing clicks on one link open exactly one session", async () => {
		const user = await createUser(env.DB, { email: "race@example.com", role: "operations" });
		const { token } = await createLoginToken(env.DB, user.id);
		const results = await Promise.allSettled([consumeLoginToken(env.DB, token), consumeLoginToken(env.DB, token), consumeLoginToken(env.DB, token)]);
		expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
		expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.reason)).toEqual(["token_used", "token_used"]);
	});

	it("an expired link answers 410 (valid 15 minutes)", async () => {
		const user = await createUser(env.DB, { email: "late@example.com", role: "analyst" });
		const stale = await createLoginToken(env.DB, user.id, Date.now() - LOGIN_TOKEN_TTL_MS - 1000);
		const res = await openLink(`https://b2g.test/login?token=${stale.token}`, "application/json");
		expect(res.status).toBe(410);
		expect(((await res.json()) as ErrorJson).error).toBe("token_expired");
		const html = await openLink(`https://b2g.test/login?token=${stale.token}`);
		expect(html.status).toBe(410);
		expect(await html.text()).toContain("expired");
		// Just inside the window it still works.
		const fresh = await createLoginToken(env.DB, user.id, Date.now() - LOGIN_TOKEN_TTL_MS + 5000);
		expect((await openLink(`https://b2g.test/login?token=${fresh.token}`)).status).toBe(303);
	});

	it("an unknown, malformed or missing token answers 400", async () => {
		const unknown = "A".repeat(43);
		for (const q of [`?token=${unknown}`, "?token=short", "?token=", ""]) {
			const res = await openLink(`https://b2g.test/login${q}`, "application/json");
			expect(res.status, q).toBe(400);
			expect(((await res.json()) as ErrorJson).error, q).toBe("invalid_token");
		}
		const html = await openLink(`https://b2g.test/login?token=${unknown}`);
		expect(html.headers.get("Content-Type")).toMatch(/^text\/html/);
		expect(await html.text()).toContain("not valid");
	});

	it("a disabled user's link answers 403, and enabling the user does not revive it", async () => {
		const created = await createViaApi("gone@example.com", "analyst");
		expect((await api("PATCH", `/api/v1/users/${created.id}`, { disabled: true })).status).toBe(200);
		const res = await openLink(created.login_url, "application/json");
		expect(res.status).toBe(403);
		expect(((await res.json()) as ErrorJson).error).toBe("user_disabled");
		const html = await openLink((await createLoginToken(env.DB, created.id).then((t) => `https://b2g.test/login?token=${t.token}`)));
		expect(html.status).toBe(403);
		expect(await html.text()).toContain("disabled");
		const pending = await createLoginToken(env.DB, created.id);
		expect((await api("PATCH", `/api/v1/users/${created.id}`, { disabled: false })).status).toBe(200);
		expect((await openLink(`https://b2g.test/login?token=${pending.token}`)).status).toBe(400);
		const link = (await (await api("POST", `/api/v1/users/${created.id}/login-link`)).json()) as { login_url: string };
		expect((await openLink(link.login_url)).status).toBe(303);
	});

	it("a login is audited as the user, without the token", async () => {
		const created = await createViaApi("audited-login@example.com", "operations");
		const token = new URL(created.login_url).searchParams.get("token") ?? "";
		expect((await openLink(created.login_url)).status).toBe(303);
		const row = await waitFor(() => env.DB.prepare("SELECT * FROM audit_log WHERE actor_id = ? AND path = '/login'").bind(created.id).first());
		expect(row).toMatchObject({ actor_kind: "user", role: "operations", actor_label: "audited-login@example.com", method: "GET", query: null, status: 303 });
		expect(JSON.stringify(row)).not.toContain(token);
	});
});

describe("sessions and the principal", () => {
	it("GET /me describes a key or a user; a bearer key wins over a cookie", async () => {
		const read = await keyFor(["read"], "demo");
		expect(await (await api("GET", "/api/v1/me", undefined, read.secret)).json()).toEqual({
			kind: "key", id: read.id, name: "access test read", site: "demo", scopes: ["read"], can_see_pii: false,
		});
		const { user, cookie } = await userSession("admin");
		const me = await apiWithCookie("GET", "/api/v1/me", cookie);
		expect(await me.json()).toEqual({ kind: "user", id: user.id, email: user.email, role: "admin", scopes: ["admin", "read", "ingest"], can_see_pii: true });
		expect(me.headers.get("Cache-Control")).toBe("no-store");
		const both = await apiWithCookie("GET", "/api/v1/me", cookie, undefined, { Authorization: `Bearer ${read.secret}` });
		expect(((await both.json()) as { kind: string }).kind).toBe("key");
	});

	it("a session acts on any site named by ?site= with its role's scopes", async () => {
		const { cookie } = await userSession("analyst");
		expect((await apiWithCookie("GET", "/api/v1/realtime?site=demo", cookie)).status).toBe(200);
		expect((await apiWithCookie("GET", "/api/v1/realtime?site=locked", cookie)).status).toBe(200);
		const unnamed = await apiWithCookie("GET", "/api/v1/realtime", cookie);
		expect(unnamed.status).toBe(400);
		expect(await fields(unnamed)).toEqual(["site"]);
		const denied = await apiWithCookie("POST", "/api/v1/pipeline/dead-letters/replay?site=demo", cookie);
		expect(denied.status).toBe(403);
		expect(await denied.json()).toMatchObject({ error: "forbidden", fields: [{ field: "role" }] });
	});

	it("an expired, unknown or malformed session cookie is a 401 that clears the cookie", async () => {
		const user = await createUser(env.DB, { email: "expired-session@example.com", role: "analyst" });
		const { token } = await createLoginToken(env.DB, user.id, Date.now() - SESSION_TTL_MS - 60_000);
		const { sessionId } = await consumeLoginToken(env.DB, token, Date.now() - SESSION_TTL_MS - 30_000);
		for (const value of [sessionId, "B".repeat(43), "garbage"]) {
			const res = await apiWithCookie("GET", "/api/v1/me", `b2g_session=${value}`);
			expect(res.status, value).toBe(401);
			expect(((await res.json()) as ErrorJson).error).toBe("session_expired");
			const cleared = cookieAttributes(res.headers.get("Set-Cookie") ?? "");
			expect(cleared).toMatchObject({ name: "b2g_session", value: "" });
			expect(cleared.attrs.get("max-age")).toBe("0");
		}
	});

	it("logout revokes the session and clears the cookie; a key cannot log out", async () => {
		const { user, cookie } = await userSession("executive");
		const res = await apiWithCookie("POST", "/api/v1/logout", cookie);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ logged_out: true });
		const cleared = cookieAttributes(res.headers.get("Set-Cookie") ?? "");
		expect(cleared).toMatchObject({ name: "b2g_session", value: "" });
		expect(cleared.attrs.get("max-age")).toBe("0");
		expect(cleared.attrs.has("httponly") && cleared.attrs.has("secure") && cleared.attrs.get("path") === "/").toBe(true);
		const row = await env.DB.prepare("SELECT revoked_at FROM user_sessions WHERE user_id = ?").bind(user.id).first<{ revoked_at: number | null }>();
		expect(row?.revoked_at).toEqual(expect.any(Number));
		expect((await apiWithCookie("GET", "/api/v1/me", cookie)).status).toBe(401);
		expect((await apiWithCookie("POST", "/api/v1/logout", cookie)).status).toBe(401);
		const keyLogout = await api("POST", "/api/v1/logout");
		expect(keyLogout.status).toBe(400);
		expect(((await keyLogout.json()) as ErrorJson).error).toBe("no_session");
	});

	it("disabling or deleting a user ends their sessions at once; a role change applies to a live session", async () => {
		const a = await userSession("analyst");
		expect((await apiWithCookie("GET", "/api/v1/users", a.cookie)).status).toBe(403);
		expect((await api("PATCH", `/api/v1/users/${a.user.id}`, { role: "admin" })).status).toBe(200);
		expect((await apiWithCookie("GET", "/api/v1/users", a.cookie)).status).toBe(200);
		expect((await api("PATCH", `/api/v1/users/${a.user.id}`, { disabled: true })).status).toBe(200);
		expect((await apiWithCookie("GET", "/api/v1/me", a.cookie)).status).toBe(401);
		const b = await userSession("operations");
		expect((await api("DELETE", `/api/v1/users/${b.user.id}`)).status).toBe(200);
		expect((await apiWithCookie("GET", "/api/v1/me", b.cookie)).status).toBe(401);
	});

	it("a session cannot make changes from another origin", async () => {
		const { cookie } = await userSession("admin");
		const body = { email: `xo-${crypto.randomUUID()}@example.com`, role: "analyst" };
		const evil = await apiWithCookie("POST", "/api/v1/users", cookie, body, { Origin: "https://evil.example" });
		expect(evil.status).toBe(403);
		expect(((await evil.json()) as ErrorJson).error).toBe("cross_origin");
		expect((await apiWithCookie("POST", "/api/v1/users", cookie, body, { "Sec-Fetch-Site": "same-site" })).status).toBe(403);
		expect((await apiWithCookie("GET", "/api/v1/users", cookie, undefined, { Origin: "https://evil.example" })).status).toBe(200);
		expect((await apiWithCookie("POST", "/api/v1/users", cookie, body, { Origin: "https://b2g.test", "Sec-Fetch-Site": "same-origin" })).status).toBe(201);
		// A key is not a browser credential: no Origin rule.
		const keyFromElsewhere = { method: "POST", headers: { Authorization: `Bearer ${ADMIN_KEY}`, Origin: "https://evil.example", "Content-Type": "application/json" }, body: JSON.stringify({ name: "x", scopes: ["read"] }) };
		expect((await exports.default.fetch("https://b2g.test/api/v1/keys", keyFromElsewhere)).status).toBe(201);
	});
});

describe("users API (admin)", () => {
	it("creates, lists, changes, disables and deletes users", async () => {
		const res = await api("POST", "/api/v1/users", { email: "  Exec@Example.COM ", role: "executive" });
		expect(res.status).toBe(201);
		const created = (await res.json()) as { id: string; email: string; role: string; disabled: boolean; login_url: string; login_url_expires_at: number };
		expect(created).toMatchObject({ email: "exec@example.com", role: "executive", disabled: false });
		expect(created.id).toMatch(/^[0-9a-f]{12}$/);
		expect(created.login_url).toMatch(/^https:\/\/b2g\.test\/login\?token=[A-Za-z0-9_-]{43}$/);

		const list = (await (await api("GET", "/api/v1/users")).json()) as { users: { id: string; email: string; role: string }[] };
		expect(list.users.find((u) => u.id === created.id)).toMatchObject({ email: "exec@example.com", role: "executive" });
		expect(JSON.stringify(list)).not.toContain("token");

		const patched = await api("PATCH", `/api/v1/users/${created.id}`, { role: "operations", disabled: true });
		expect(patched.status).toBe(200);
		expect(await patched.json()).toMatchObject({ id: created.id, role: "operations", disabled: true, disabled_at: expect.any(Number) });

		const link = await api("POST", `/api/v1/users/${created.id}/login-link`);
		expect(link.status).toBe(409);
		expect((await api("PATCH", `/api/v1/users/${created.id}`, { disabled: false })).status).toBe(200);
		const link2 = await api("POST", `/api/v1/users/${created.id}/login-link`);
		expect(link2.status).toBe(201);
		expect(await link2.json()).toMatchObject({ user: { id: created.id }, login_url: expect.stringMatching(/token=/), expires_at: expect.any(Number) });

		expect(await (await api("DELETE", `/api/v1/users/${created.id}`)).json()).toEqual({ id: created.id, deleted: true });
		expect((await api("DELETE", `/api/v1/users/${created.id}`)).status).toBe(404);
		expect((await api("PATCH", `/api/v1/users/${created.id}`, { role: "admin" })).status).toBe(404);
		expect((await api("POST", `/api/v1/users/${created.id}/login-link`)).status).toBe(404);
		const after = (await (await api("GET", "/api/v1/users")).json()) as { users: { id: string }[] };
		expect(after.users.some((u) => u.id === created.id)).toBe(false);
		// The address is free again, as a new user.
		const again = await api("POST", "/api/v1/users", { email: "exec@example.com", role: "analyst" });
		expect(again.status).toBe(201);
		expect(((await again.json()) as { id: string }).id).not.toBe(created.id);
	});

	it("answers 400 naming each bad field, 409 for a taken email, 404 for an unknown id", async () => {
		const bad = await api("POST", "/api/v1/users", { email: "not-an-email", role: "boss", extra: 1 });
		expect(bad.status).toBe(400);
		expect((await fields(bad)).sort()).toEqual(["email", "extra", "role"]);
		const missing = await api("POST", "/api/v1/users", {});
		expect((await fields(missing)).sort()).toEqual(["email", "role"]);
		expect((await api("POST", "/api/v1/users", "{nope")).status).toBe(400);
		expect((await api("POST", "/api/v1/users", { email: `${"x".repeat(250)}@example.com`, role: "admin" })).status).toBe(400);

		const taken = await createViaApi("taken@example.com", "analyst");
		const dup = await api("POST", "/api/v1/users", { email: "TAKEN@example.com", role: "admin" });
		expect(dup.status).toBe(409);
		expect(await fields(dup)).toEqual(["email"]);

		const empty = await api("PATCH", `/api/v1/users/${taken.id}`, {});
		expect(empty.status).toBe(400);
		expect(await fields(empty)).toEqual(["body"]);
		const badPatch = await api("PATCH", `/api/v1/users/${taken.id}`, { role: "root", disabled: "yes", email: "x@y.z" });
		expect((await fields(badPatch)).sort()).toEqual(["disabled", "email", "role"]);
		expect((await api("PATCH", "/api/v1/users/ffffffffffff", { role: "admin" })).status).toBe(404);
		expect((await api("PATCH", "/api/v1/users/not-an-id", { role: "admin" })).status).toBe(404);
		expect((await api("DELETE", "/api/v1/users/ffffffffffff")).status).toBe(404);
	});

	it("an admin cannot disable, demote or delete their own account", async () => {
		const { user, cookie } = await userSession("admin");
		for (const [method, body] of [["PATCH", { disabled: true }], ["PATCH", { role: "analyst" }], ["DELETE", undefined]] as const) {
			const res = await apiWithCookie(method, `/api/v1/users/${user.id}`, cookie, body);
			expect(res.status).toBe(409);
		}
		expect((await apiWithCookie("PATCH", `/api/v1/users/${user.id}`, cookie, { role: "admin" })).status).toBe(200);
		expect((await apiWithCookie("GET", "/api/v1/me", cookie)).status).toBe(200);
	});

	it("is for account-wide admins only: a site-bound admin key is refused", async () => {
		const siteAdmin = await keyFor(["admin"], "demo");
		const res = await api("GET", "/api/v1/users", undefined, siteAdmin.secret);
		expect(res.status).toBe(403);
		expect((await api("POST", "/api/v1/users", { email: "esc@example.com", role: "admin" }, siteAdmin.secret)).status).toBe(403);
	});
});

/** Polls the audit log for the row of one request. */
function auditRow(where: string, ...binds: unknown[]) {
	return waitFor(() => env.DB.prepare(`SELECT * FROM audit_log WHERE ${where} ORDER BY id DESC`).bind(...binds).first<Record<string, unknown>>().then((r) => r ?? undefined));
}

describe("audit log", () => {
	it("records a key's request: who, what, result, when, from where", async () => {
		const read = await keyFor(["read"], "demo");
		const before = Date.now();
		const res = await exports.default.fetch("https://b2g.test/api/v1/realtime?site=demo&probe=1", {
			headers: { Authorization: `Bearer ${read.secret}`, "CF-Connecting-IP": "198.51.100.23", "User-Agent": `curl/8 ${"x".repeat(400)}` },
		});
		expect(res.status).toBe(200);
		const row = await auditRow("actor_id = ?", read.id);
		expect(row).toMatchObject({
			actor_kind: "key", actor_label: "access test read", role: null, scopes: '["read"]',
			method: "GET", path: "/api/v1/realtime", query: "site=demo&probe=1", site: "demo", status: 200, ip: "198.51.100.23",
		});
		expect(String(row.user_agent)).toHaveLength(256);
		expect(String(row.user_agent).startsWith("curl/8 x")).toBe(true);
		expect(row.at).toBeGreaterThanOrEqual(before);
		expect(row.at).toBeLessThanOrEqual(Date.now());
		expect(row.duration_ms).toEqual(expect.any(Number));
	});

	it("records a session's refused request with its role, and requests without credentials not at all", async () => {
		const { user, cookie } = await userSession("operations");
		const res = await apiWithCookie("POST", "/api/v1/pipeline/dead-letters/replay?site=demo", cookie);
		expect(res.status).toBe(403);
		const row = await auditRow("actor_id = ? AND path = ?", user.id, "/api/v1/pipeline/dead-letters/replay");
		expect(row).toMatchObject({ actor_kind: "user", actor_label: user.email, role: "operations", scopes: '["read"]', method: "POST", site: "demo", status: 403, ip: "unknown", user_agent: null });
		// An unknown route and an unknown site after authentication are recorded too.
		expect((await apiWithCookie("GET", "/api/v1/no-such-route", cookie)).status).toBe(404);
		expect(await auditRow("actor_id = ? AND path = ?", user.id, "/api/v1/no-such-route")).toMatchObject({ status: 404, site: null });
		expect((await apiWithCookie("GET", "/api/v1/realtime?site=nope", cookie)).status).toBe(404);
		expect(await auditRow("actor_id = ? AND query = ?", user.id, "site=nope")).toMatchObject({ status: 404, site: "nope" });

		const count = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log").first<{ n: number }>())?.n ?? 0;
		const ctx = createExecutionContext();
		const n = await count();
		expect((await app.fetch(new Request("https://b2g.test/api/v1/realtime?site=demo"), env, ctx)).status).toBe(401);
		expect((await app.fetch(new Request("https://b2g.test/api/v1/realtime?site=demo", { headers: { Authorization: "Bearer b2g_ffffffffffff_nope" } }), env, ctx)).status).toBe(401);
		await waitOnExecutionContext(ctx);
		expect(await count()).toBe(n);
	});

	it("records the country from request.cf", async () => {
		const read = await keyFor(["read"]);
		const ctx = createExecutionContext();
		// What Cloudflare's edge attaches to an incoming request (tests cannot set it through fetch()).
		const req = Object.defineProperty(new Request("https://b2g.test/api/v1/sites", { headers: { Authorization: `Bearer ${read.secret}` } }), "cf", { value: { country: "ES" } });
		expect((await app.fetch(req, env, ctx)).status).toBe(200);
		await waitOnExecutionContext(ctx);
		expect(await auditRow("actor_id = ?", read.id)).toMatchObject({ country: "ES", path: "/api/v1/sites", site: null });
	});

	it("GET /api/v1/audit: admins only, newest first, filtered, paginated without gaps or repeats", async () => {
		const admin = await userSession("admin");
		const analyst = await userSession("analyst");
		const readKey = await keyFor(["read"]);
		const probe = await keyFor(["read"], "demo");
		for (let i = 0; i < 5; i++) expect((await api("GET", `/api/v1/realtime?n=${i}`, undefined, probe.secret)).status).toBe(200);
		await waitFor(async () => ((await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE actor_id = ?").bind(probe.id).first<{ n: number }>())?.n ?? 0) >= 5);

		expect((await apiWithCookie("GET", "/api/v1/audit", analyst.cookie)).status).toBe(403);
		expect((await api("GET", "/api/v1/audit", undefined, readKey.secret)).status).toBe(403);
		expect((await api("GET", "/api/v1/audit", undefined, null)).status).toBe(401);

		const all = (await (await apiWithCookie("GET", `/api/v1/audit?actor=${probe.id}`, admin.cookie)).json()) as { entries: { id: number; at: number; query: string; actor: { kind: string; id: string; scopes: string[] } }[]; next_cursor: string | null };
		expect(all.entries.map((e) => e.query)).toEqual(["n=4", "n=3", "n=2", "n=1", "n=0"]);
		expect(all.entries[0]?.actor).toEqual({ kind: "key", id: probe.id, label: "access test read", role: null, scopes: ["read"] });
		expect(all.next_cursor).toBeNull();

		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const page = (await (await api("GET", `/api/v1/audit?actor=${probe.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`)).json()) as { entries: { query: string }[]; next_cursor: string | null };
			seen.push(...page.entries.map((e) => e.query));
			cursor = page.next_cursor;
			pages++;
		} while (cursor && pages < 10);
		expect(pages).toBe(3);
		expect(seen).toEqual(["n=4", "n=3", "n=2", "n=1", "n=0"]);

		const third = all.entries[2] as { at: number };
		const ranged = (await (await api("GET", `/api/v1/audit?actor=${probe.id}&from=${third.at}&to=${new Date(Date.now() + 60_000).toISOString()}`)).json()) as { entries: { at: number }[] };
		expect(ranged.entries.every((e) => e.at >= third.at)).toBe(true);
		expect(ranged.entries.length).toBeGreaterThanOrEqual(3);
		const none = (await (await api("GET", `/api/v1/audit?actor=${probe.id}&to=${all.entries.at(-1)?.at}`)).json()) as { entries: unknown[] };
		expect(none.entries).toEqual([]);
		const byEmail = (await (await api("GET", `/api/v1/audit?actor=${encodeURIComponent(analyst.user.email)}`)).json()) as { entries: { actor: { id: string } }[] };
		expect(byEmail.entries.length).toBeGreaterThan(0);
		expect(byEmail.entries.every((e) => e.actor.id === analyst.user.id)).toBe(true);
	});

	it("GET /api/v1/audit names bad parameters, and a site-bound admin key sees only its site", async () => {
		for (const [q, field] of [["limit=0", "limit"], ["limit=abc", "limit"], ["limit=1001", "limit"], ["from=yesterday", "from"], ["cursor=zzz", "cursor"], ["bogus=1", "bogus"], ["from=2026-11-21&to=2026-11-20", "to"]] as const) {
			const res = await api("GET", `/api/v1/audit?${q}`);
			expect(res.status, q).toBe(400);
			expect(await fields(res), q).toEqual([field]);
		}
		const lockedRead = await keyFor(["read"], "locked");
		expect((await api("GET", "/api/v1/realtime", undefined, lockedRead.secret)).status).toBe(200);
		await auditRow("actor_id = ?", lockedRead.id);
		const demoAdmin = await keyFor(["admin"], "demo");
		const own = (await (await api("GET", "/api/v1/audit?limit=1000", undefined, demoAdmin.secret)).json()) as { entries: { site: string | null }[] };
		expect(own.entries.length).toBeGreaterThan(0);
		expect(own.entries.every((e) => e.site === "demo")).toBe(true);
		expect((await api("GET", "/api/v1/audit?site=locked", undefined, demoAdmin.secret)).status).toBe(403);
		const account = (await (await api("GET", `/api/v1/audit?actor=${lockedRead.id}`)).json()) as { entries: { site: string }[] };
		expect(account.entries.map((e) => e.site)).toEqual(["locked"]);
	});

	it("an audit write that fails does not fail the request", async () => {
		await env.DB.exec("ALTER TABLE audit_log RENAME TO audit_log_away");
		try {
			const ctx = createExecutionContext();
			const res = await app.fetch(new Request("https://b2g.test/api/v1/sites", { headers: { Authorization: `Bearer ${ADMIN_KEY}` } }), env, ctx);
			expect(res.status).toBe(200);
			await waitOnExecutionContext(ctx);
		} finally {
			await env.DB.exec("ALTER TABLE audit_log_away RENAME TO audit_log");
		}
	});

	it("cron prunes audit rows older than 400 days, and ended login tokens and sessions", async () => {
		const now = Date.UTC(2026, 10, 26, 12);
		const insert = (at: number, path: string) =>
			env.DB.prepare("INSERT INTO audit_log (at, actor_kind, actor_id, scopes, method, path, status, duration_ms, ip) VALUES (?, 'key', 'prune-test', '[]', 'GET', ?, 200, 0, 'unknown')").bind(at, path);
		await env.DB.batch([insert(now - AUDIT_RETENTION_MS - 1, "/old"), insert(now - AUDIT_RETENTION_MS + 60_000, "/kept")]);
		const user = await createUser(env.DB, { email: "prune@example.com", role: "analyst" });
		await createLoginToken(env.DB, user.id, now - 2 * 86_400_000);
		const fresh = await createLoginToken(env.DB, user.id, now);
		const report = await runMaintenance(env, now);
		expect(report.auditPruned).toBe(1);
		expect(report.loginsPruned).toBeGreaterThanOrEqual(1);
		const left = await env.DB.prepare("SELECT path FROM audit_log WHERE actor_id = 'prune-test'").all<{ path: string }>();
		expect(left.results).toEqual([{ path: "/kept" }]);
		const tokens = await env.DB.prepare("SELECT token_hash FROM login_tokens WHERE user_id = ?").bind(user.id).all<{ token_hash: string }>();
		expect(tokens.results).toEqual([{ token_hash: await hashKey(fresh.token) }]);
	});

	it("the scheduled handler prunes through the same job", async () => {
		const old = Date.now() - AUDIT_RETENTION_MS - 86_400_000;
		await env.DB.prepare("INSERT INTO audit_log (at, actor_kind, actor_id, scopes, method, path, status, duration_ms, ip) VALUES (?, 'key', 'cron-test', '[]', 'GET', '/x', 200, 0, 'unknown')").bind(old).run();
		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/10 * * * *" }), env);
		expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE actor_id = 'cron-test'").first<{ n: number }>()).toEqual({ n: 0 });
	});
});

describe("rate limit", () => {
	it("token bucket: bursts up to the limit, refills evenly, says when to retry (hand-computed)", () => {
		// 3 per 3,000 ms = one token per 1,000 ms.
		let bucket: Bucket | null = null;
		const step = (now: number) => {
			const r = takeToken(bucket, 3, 3000, now);
			bucket = r.bucket;
			return r.decision;
		};
		expect([step(0), step(0), step(0)].map((d) => [d.allowed, d.remaining])).toEqual([[true, 2], [true, 1], [true, 0]]);
		expect(step(0)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 });
		expect(step(400)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 600 });
		expect(step(1000)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
		// A long pause refills to the limit, no further.
		expect(step(60_000)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
	});

	it("reads its configuration from vars, falling back to 600 per minute", () => {
		expect(rateLimitConfig({ RATE_LIMIT_REQUESTS: "120", RATE_LIMIT_PERIOD_SECONDS: "10" })).toEqual({ limit: 120, periodMs: 10_000 });
		expect(rateLimitConfig({})).toEqual(DEFAULT_RATE_LIMIT);
		expect(rateLimitConfig({ RATE_LIMIT_REQUESTS: "-5", RATE_LIMIT_PERIOD_SECONDS: "soon" })).toEqual({ limit: 600, periodMs: 60_000 });
	});

	// The suite's config sets a very high limit; these requests go through the app with a small one.
	const limited = { ...env, RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_PERIOD_SECONDS: "3" };
	async function call(headers: Record<string, string>, path = "/api/v1/sites"): Promise<Response> {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`https://b2g.test${path}`, { headers }), limited, ctx);
		await waitOnExecutionContext(ctx);
		return res;
	}

	it("answers 429 with Retry-After once a key has used its budget, per key, and recovers", async () => {
		const a = await keyFor(["read"]);
		const b = await keyFor(["read"]);
		const auth = { Authorization: `Bearer ${a.secret}` };
		for (let i = 0; i < 3; i++) expect((await call(auth)).status).toBe(200);
		const refused = await call(auth);
		expect(refused.status).toBe(429);
		expect(refused.headers.get("Retry-After")).toBe("1");
		expect(await refused.json()).toMatchObject({ error: "rate_limited", message: expect.stringContaining("3 per 3 s") });
		// One token comes back per second: after 1.1 s one request passes and the next is refused again.
		await new Promise((r) => setTimeout(r, 1100));
		expect((await call(auth)).status).toBe(200);
		expect((await call(auth)).status).toBe(429);
		// The budget is per principal, not per route; other keys have their own.
		expect((await call(auth, "/api/v1/keys")).status).toBe(429);
		expect((await call({ Authorization: `Bearer ${b.secret}` })).status).toBe(200);
		expect(await auditRow("actor_id = ? AND status = 429", a.id)).toMatchObject({ path: "/api/v1/keys" });
	});

	it("limits a user across all their sessions, and keeps the bucket in the Durable Object's SQLite", async () => {
		const first = await userSession("analyst");
		const { sessionId } = await consumeLoginToken(env.DB, (await createLoginToken(env.DB, first.user.id)).token);
		for (let i = 0; i < 3; i++) expect((await call({ Cookie: first.cookie })).status).toBe(200);
		const other = await call({ Cookie: `b2g_session=${sessionId}` });
		expect(other.status).toBe(429);
		expect(Number(other.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`user:${first.user.id}`));
		const stored = await runInDurableObject(stub, (_obj, state) => state.storage.sql.exec<{ tokens: number }>("SELECT tokens FROM bucket").toArray());
		expect(stored).toHaveLength(1);
		expect(stored[0]?.tokens).toBeLessThan(1);
	});
});

describe("users made by the CLI (scripts/lib/users.mjs)", () => {
	it("log in through the Worker: same token format and hash", async () => {
		const { newUserId, newLoginToken, insertUserSql, insertLoginTokenSql } = await import("../scripts/lib/users.mjs");
		const id = newUserId();
		const token = newLoginToken();
		await env.DB.exec(insertUserSql({ id, email: "CLI@Example.com", role: "analyst" }));
		await env.DB.exec(insertLoginTokenSql({ hash: token.hash, userId: id }));
		const res = await openLink(`https://b2g.test/login?token=${token.token}`);
		expect(res.status).toBe(303);
		const cookie = cookieAttributes(res.headers.get("Set-Cookie") ?? "");
		expect(await (await apiWithCookie("GET", "/api/v1/me", `b2g_session=${cookie.value}`)).json()).toMatchObject({ id, email: "cli@example.com", role: "analyst" });
		expect(() => insertUserSql({ id, email: "x@y.z", role: "root" })).toThrow(/role/);
		expect(() => insertUserSql({ id, email: "no-at-sign", role: "admin" })).toThrow(/email/);
	});
});
