/** API keys, scopes and sites: a scope × route matrix, site binding, revocation, site creation. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createKey, type Scope } from "../workers/auth/keys";
import { api, pageView, postEvents } from "./helpers";

const keys: Record<string, string> = {};

beforeAll(async () => {
	const make = async (name: string, site: string | null, scopes: Scope[]) => {
		keys[name] = (await createKey(env.DB, { site, name, scopes })).secret;
	};
	await make("ingest", "demo", ["ingest"]);
	await make("read", "demo", ["read"]);
	await make("admin", "demo", ["admin"]);
	await make("otherRead", "locked", ["read"]);
	await make("accountRead", null, ["read"]);
});

const routes: [string, string, unknown][] = [
	["GET", "/api/v1/realtime", undefined],
	["GET", "/api/v1/health/pipeline", undefined],
	["GET", "/api/v1/pipeline/dead-letters", undefined],
	["POST", "/api/v1/pipeline/dead-letters/replay", undefined],
	["PUT", "/api/v1/products", { sku: "M-1", name: "Matrix bar", price: 2 }],
	["GET", "/api/v1/keys", undefined],
];
// Expected status per key (site-bound keys act on their own site; the account-wide key names ?site=demo).
const matrix: Record<string, number[]> = {
	none: [401, 401, 401, 401, 401, 401],
	bogus: [401, 401, 401, 401, 401, 401],
	ingest: [403, 403, 403, 403, 200, 403],
	read: [200, 200, 200, 403, 403, 403],
	admin: [200, 200, 200, 200, 200, 200],
	otherRead: [200, 200, 200, 403, 403, 403],
	accountRead: [200, 200, 200, 403, 403, 403],
};

describe("scope × route matrix", () => {
	for (const [who, statuses] of Object.entries(matrix)) {
		it(`${who} key`, async () => {
			const key = who === "none" ? null : who === "bogus" ? "b2g_ffffffffffff_notARealKeynotARealKeynotARealKeynotARealKey1" : (keys[who] as string);
			const got: number[] = [];
			for (const [method, path, body] of routes) {
				const query = who === "accountRead" ? "?site=demo" : "";
				got.push((await api(method, `${path}${query}`, body, key)).status);
			}
			expect(got).toEqual(statuses);
		});
	}
});

describe("site binding", () => {
	it("a site-bound key cannot name another site; an account-wide key must name one", async () => {
		const cross = await api("GET", "/api/v1/realtime?site=locked", undefined, keys.read as string);
		expect(cross.status).toBe(403);
		expect(((await cross.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("site");
		const unnamed = await api("GET", "/api/v1/realtime", undefined, keys.accountRead as string);
		expect(unnamed.status).toBe(400);
		expect((await api("GET", "/api/v1/realtime?site=nope", undefined, keys.accountRead as string)).status).toBe(404);
	});

	it("answers 401 with a Bearer challenge", async () => {
		const res = await api("GET", "/api/v1/realtime?site=demo", undefined, null);
		expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
	});
});

describe("keys API", () => {
	it("creates a key shown once, lists it without the secret, records use, and revokes it", async () => {
		const created = await api("POST", "/api/v1/keys", { name: "reporting", scopes: ["read"], site: "demo" });
		expect(created.status).toBe(201);
		const { id, secret } = (await created.json()) as { id: string; secret: string };
		expect(secret).toMatch(/^b2g_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
		expect((await api("GET", "/api/v1/realtime", undefined, secret)).status).toBe(200);
		const list = (await (await api("GET", "/api/v1/keys")).json()) as { keys: { id: string; last_used_at: number | null; scopes: string[] }[] };
		expect(JSON.stringify(list)).not.toContain(secret);
		expect(list.keys.find((k) => k.id === id)).toMatchObject({ scopes: ["read"] });
		const stored = await env.DB.prepare("SELECT secret_hash FROM api_keys WHERE id = ?").bind(id).first<{ secret_hash: string }>();
		expect(stored?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
		expect((await api("DELETE", `/api/v1/keys/${id}`)).status).toBe(200);
		expect((await api("GET", "/api/v1/realtime", undefined, secret)).status).toBe(401);
		expect((await api("DELETE", `/api/v1/keys/${id}`)).status).toBe(404);
	});

	it("rejects bad key requests by field and keeps site admins inside their site", async () => {
		const bad = await api("POST", "/api/v1/keys", { name: "", scopes: ["root"] });
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toEqual(expect.arrayContaining(["name", "scopes[0]"]));
		expect((await api("POST", "/api/v1/keys", { name: "x", scopes: ["read"], site: "locked" }, keys.admin as string)).status).toBe(403);
	});
});

describe("POST /api/v1/sites", () => {
	it("creates a site (201), updates it (200), and the new site ingests at once", async () => {
		const site = { id: "brand-new", name: "Brand new store", origins: ["https://new.example"], timezone: "Europe/Madrid", currency: "EUR" };
		expect((await postEvents({ site: "brand-new", events: [pageView()] })).status).toBe(404);
		const created = await api("POST", "/api/v1/sites", site);
		expect(created.status).toBe(201);
		expect((await api("POST", "/api/v1/sites", { ...site, name: "Renamed" })).status).toBe(200);
		expect((await postEvents({ site: "brand-new", events: [pageView()] }, { Origin: "https://new.example" })).status).toBe(202);
		expect((await postEvents({ site: "brand-new", events: [pageView()] }, { Origin: "https://evil.example" })).status).toBe(403);
		const row = await env.DB.prepare("SELECT name, timezone, origins FROM sites WHERE id = 'brand-new'").first();
		expect(row).toEqual({ name: "Renamed", timezone: "Europe/Madrid", origins: '["https://new.example"]' });
	});

	it("validates every field and refuses site-bound keys", async () => {
		const bad = await api("POST", "/api/v1/sites", { id: "Bad Id", name: "", origins: ["https://x.example/path"], timezone: "Mars/Olympus", currency: "euro" });
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toEqual(expect.arrayContaining(["id", "name", "origins[0]", "timezone", "currency"]));
		expect((await api("POST", "/api/v1/sites", { id: "x", name: "X" }, keys.admin as string)).status).toBe(403);
	});
});

describe("keys made by the CLI (scripts/lib/keys.mjs)", () => {
	it("are accepted by the Worker: same format and hash", async () => {
		const { newKey, insertKeySql } = await import("../scripts/lib/keys.mjs");
		const key = newKey();
		await env.DB.exec(insertKeySql({ id: key.id, hash: key.hash, site: "demo", name: "cli test", scopes: ["read"] }));
		expect((await api("GET", "/api/v1/realtime", undefined, key.secret)).status).toBe(200);
		expect(() => insertKeySql({ id: key.id, hash: key.hash, site: "demo", name: "x", scopes: ["root"] })).toThrow(/scopes/);
	});
});
