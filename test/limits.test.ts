/**
 * Abuse limits beyond the per-key one (issue 14, finding 7): POST /e per client address and per site, the
 * ingest key that makes server-side events trusted, the per-site /api/v1 ceiling and the failed-authentication
 * limit per address. Before the fix /e had no limit at all (3,000 fake purchases in 17 s were accepted),
 * `visitor_id` alone skipped the bot check, and unknown-key or unauthenticated requests were never limited:
 * every 429 expected below was a 202, 200 or 401.
 *
 * The suite's config lifts every limit (vitest.config.mts); these requests go through the app with small ones.
 * Expected Retry-After values are hand-computed from the token bucket: `limit` tokens per `period`, so one
 * token comes back every period/limit seconds; a request is let in while a whole token is left and may
 * overdraw the bucket by its events. A few ms pass between requests, so a wait of exactly N s shows as N or
 * N−1 only if over a second passed; the assertions allow that one second.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../workers/app";
import { createKey, type Scope } from "../workers/auth/keys";
import { authFailureConfig, DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_SITE_RATE_LIMIT, siteRateLimitConfig, takeFromAll, takeToken } from "../workers/auth/rate-limit";
import { createLoginToken, createUser } from "../workers/auth/users";
import { ingestLimits } from "../workers/ingest/limits";
import type { LiveSite } from "../workers/realtime/live-site";
import { shardStub, siteLedger } from "../workers/realtime/shards";
import { ADMIN_KEY, BROWSER_UA, pageView, purchase } from "./helpers";

const SITES = ["lim-ip", "lim-flood", "lim-calm", "lim-key", "lim-other", "lim-api", "lim-api2", "lim-auth", "lim-shard", "lim-one", "lim-bad", "lim-shard-key"];

beforeAll(async () => {
	await env.DB.batch(
		SITES.map((id) =>
			env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, live_shards, created_at) VALUES (?, ?, '[]', 'UTC', 'EUR', ?, 0) ON CONFLICT DO NOTHING").bind(id, id, id === "lim-shard" || id === "lim-shard-key" ? 2 : 1),
		),
	);
});

type Vars = Record<string, string>;

/** One request through the app with `vars` over the suite's env; waits for its waitUntil work (audit rows). */
async function call(vars: Vars, path: string, init: RequestInit = {}): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await app.fetch(new Request(`https://b2g.test${path}`, init), { ...env, ...vars }, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

function postE(vars: Vars, site: string, events: Record<string, unknown>[], headers: Record<string, string>): Promise<Response> {
	return call(vars, "/e", { method: "POST", headers: { "Content-Type": "application/json", "User-Agent": BROWSER_UA, ...headers }, body: JSON.stringify({ site, events }) });
}

async function keyFor(scopes: Scope[], site: string | null): Promise<string> {
	return (await createKey(env.DB, { site, name: `limits test ${scopes.join("+")}`, scopes })).secret;
}

interface ErrorJson {
	error: string;
	message: string;
	fields?: { field: string; message: string }[];
}

async function refusal(res: Response): Promise<{ status: number; retryAfter: number; body: ErrorJson }> {
	return { status: res.status, retryAfter: Number(res.headers.get("Retry-After")), body: (await res.json()) as ErrorJson };
}

describe("token buckets with a cost (pure)", () => {
	it("lets a batch in while a token is left, overdrawing the bucket, and refuses until the overdraft is paid back", () => {
		// 5 events per 60 s: one token per 12,000 ms.
		const a = takeToken(null, 5, 60_000, 0, 4);
		expect(a.decision).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
		const b = takeToken(a.bucket, 5, 60_000, 0, 3); // 1 left ≥ 1: in, 1 − 3 = −2
		expect(b.decision).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
		expect(b.bucket.tokens).toBe(-2);
		// Back to 1 token takes 3 tokens × 12,000 ms = 36,000 ms.
		expect(takeToken(b.bucket, 5, 60_000, 0, 1).decision).toEqual({ allowed: false, remaining: 0, retryAfterMs: 36_000 });
		expect(takeToken(b.bucket, 5, 60_000, 35_999, 1).decision.allowed).toBe(false);
		expect(takeToken(b.bucket, 5, 60_000, 36_000, 1).decision.allowed).toBe(true);
	});

	it("takes from every bucket or from none, naming the one that frees up last", () => {
		const specs = [
			{ name: "ip:x", limit: 2, periodMs: 60_000 },
			{ name: "site", limit: 10, periodMs: 60_000 },
		];
		const first = takeFromAll([null, null], specs, 0, 2);
		expect(first.decision).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, refused: null });
		expect(first.buckets.map((b) => b.tokens)).toEqual([0, 8]);
		// ip:x is empty (a token in 30,000 ms); site has 8: refused, and site keeps its 8.
		const second = takeFromAll(first.buckets, specs, 0, 1);
		expect(second.decision).toEqual({ allowed: false, remaining: 0, retryAfterMs: 30_000, refused: "ip:x" });
		expect(second.buckets).toEqual([]);
	});

	it("reads the new limits from vars, with defaults", () => {
		expect(ingestLimits({})).toEqual({ ip: { limit: 1000, periodMs: 60_000 }, site: { limit: 60_000, periodMs: 60_000 }, key: { limit: 120_000, periodMs: 60_000 } });
		expect(ingestLimits({ INGEST_IP_LIMIT: "7", INGEST_SITE_LIMIT: "70", INGEST_KEY_LIMIT: "700", INGEST_PERIOD_SECONDS: "10" })).toEqual({
			ip: { limit: 7, periodMs: 10_000 },
			site: { limit: 70, periodMs: 10_000 },
			key: { limit: 700, periodMs: 10_000 },
		});
		expect(siteRateLimitConfig({ RATE_LIMIT_SITE_REQUESTS: "x" })).toEqual(DEFAULT_SITE_RATE_LIMIT);
		expect(authFailureConfig({})).toEqual(DEFAULT_AUTH_FAILURE_LIMIT);
		expect(DEFAULT_AUTH_FAILURE_LIMIT).toEqual({ limit: 20, periodMs: 60_000 });
	});
});

describe("POST /e limits", () => {
	const vars = { INGEST_IP_LIMIT: "5", INGEST_SITE_LIMIT: "1000", INGEST_PERIOD_SECONDS: "60" };

	it("refuses an address over its limit with 429, Retry-After and the limit named; other addresses go on", async () => {
		const ip = { "CF-Connecting-IP": "198.51.100.1" };
		for (let i = 0; i < 5; i++) expect((await postE(vars, "lim-ip", [pageView()], ip)).status).toBe(202);
		// The 3,000-fake-purchases attack of the finding, from one address: the 6th event is refused.
		const refused = await refusal(await postE(vars, "lim-ip", [purchase()], ip));
		expect(refused.status).toBe(429);
		// 5 per 60 s: one token every 12 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(11);
		expect(refused.retryAfter).toBeLessThanOrEqual(12);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "ip" }] });
		expect(refused.body.message).toContain("5 events per 60 s");
		expect((await postE(vars, "lim-ip", [pageView()], { "CF-Connecting-IP": "198.51.100.2" })).status).toBe(202);
	});

	it("counts events, not requests: a batch overdraws the bucket and the wait covers the overdraft", async () => {
		const ip = { "CF-Connecting-IP": "198.51.100.3" };
		expect(await (await postE(vars, "lim-ip", [pageView(), pageView(), pageView(), pageView()], ip)).json()).toMatchObject({ accepted: 4 }); // 5 → 1
		expect(await (await postE(vars, "lim-ip", [pageView(), pageView(), pageView()], ip)).json()).toMatchObject({ accepted: 3 }); // 1 → −2
		const refused = await refusal(await postE(vars, "lim-ip", [pageView()], ip));
		expect(refused.status).toBe(429);
		// From −2 back to 1 token: 3 × 12 s = 36 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(35);
		expect(refused.retryAfter).toBeLessThanOrEqual(36);
	});

	it("keeps no address in a limiter: buckets are named by a salted hash", async () => {
		// The buckets live in the site's LiveSite object (one Durable Object call per /e request, issue 15).
		const stub = shardStub(env, "lim-ip", 0);
		const names = await runInDurableObject(stub, (_obj: LiveSite, state) => state.storage.sql.exec<{ name: string }>("SELECT name FROM buckets ORDER BY name").toArray().map((r) => r.name));
		expect(names.length).toBe(4); // three addresses and the site
		expect(names).toContain("site");
		for (const n of names.filter((x) => x !== "site")) {
			expect(n).toMatch(/^ip:[0-9a-f]{32}$/);
			expect(n).not.toContain("198.51.100");
		}
	});

	it("limits the site as a whole across addresses, and one site's flood does not limit another site", async () => {
		const site = { INGEST_IP_LIMIT: "1000", INGEST_SITE_LIMIT: "10", INGEST_PERIOD_SECONDS: "60" };
		const flood = Array.from({ length: 10 }, () => pageView());
		expect((await postE(site, "lim-flood", flood, { "CF-Connecting-IP": "203.0.113.50" })).status).toBe(202);
		const refused = await refusal(await postE(site, "lim-flood", [pageView()], { "CF-Connecting-IP": "203.0.113.51" }));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "site" }] });
		// 10 per 60 s: one token every 6 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(5);
		expect(refused.retryAfter).toBeLessThanOrEqual(6);
		expect((await postE(site, "lim-calm", [pageView()], { "CF-Connecting-IP": "203.0.113.51" })).status).toBe(202);
	});

	it("splits a sharded site's budget over its shard objects (2 shards: 5 events each of the 10)", async () => {
		const site = { INGEST_IP_LIMIT: "1000", INGEST_SITE_LIMIT: "10", INGEST_PERIOD_SECONDS: "60" };
		const res = await postE(site, "lim-shard", Array.from({ length: 5 }, () => pageView()), { "CF-Connecting-IP": "203.0.113.60" });
		expect(res.status).toBe(202);
		const again = await refusal(await postE(site, "lim-shard", [pageView()], { "CF-Connecting-IP": "203.0.113.60" }));
		expect(again.status).toBe(429);
		expect(again.body.fields?.[0]?.field).toBe("site");
		// 5 per 60 s on the shard: 12 s a token.
		expect(again.retryAfter).toBeGreaterThanOrEqual(11);
		expect(again.retryAfter).toBeLessThanOrEqual(12);
	});
});

describe("POST /e limits taken in the recording call (issue 15: one Durable Object call per request)", () => {
	const day = () => new Date().toISOString().slice(0, 10);

	it("records nothing of a refused batch: no ledger count, no dedupe or outbox row", async () => {
		const vars = { INGEST_IP_LIMIT: "2", INGEST_SITE_LIMIT: "1000", INGEST_PERIOD_SECONDS: "60" };
		const ip = { "CF-Connecting-IP": "198.51.100.20" };
		const [a, b, c] = [pageView(), pageView(), pageView()];
		expect(await (await postE(vars, "lim-one", [a, b], ip)).json()).toMatchObject({ accepted: 2 }); // 2 → 0 tokens
		const refused = await refusal(await postE(vars, "lim-one", [c], ip));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "ip" }] });
		// 2 per 60 s: 30 s a token.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(29);
		expect(refused.retryAfter).toBeLessThanOrEqual(30);
		expect((await siteLedger(env, "lim-one", 1, day())).accepted).toBe(2);
		const seenIds = await runInDurableObject(shardStub(env, "lim-one", 0), (_o: LiveSite, state) =>
			state.storage.sql.exec<{ id: string }>("SELECT id FROM seen WHERE id IN (?, ?, ?)", a.id as string, b.id as string, c.id as string).toArray().map((r) => r.id),
		);
		expect(seenIds.sort()).toEqual([a.id, b.id].sort());
	});

	it("charges an invalid batch to its sender's budget, and counts a refused one nowhere", async () => {
		const vars = { INGEST_IP_LIMIT: "3", INGEST_SITE_LIMIT: "1000", INGEST_PERIOD_SECONDS: "60" };
		const ip = { "CF-Connecting-IP": "198.51.100.21" };
		const bad = () => pageView({ ts: "yesterday" });
		// 3 tokens, 3 invalid events: 400, and the bucket is empty.
		const invalid = await postE(vars, "lim-bad", [bad(), bad(), bad()], ip);
		expect(invalid.status).toBe(400);
		expect((await siteLedger(env, "lim-bad", 1, day())).rejected).toBe(3);
		// Valid or not, the next batch is over the limit: 429, a token in 20 s (3 per 60 s), nothing counted.
		const valid = await refusal(await postE(vars, "lim-bad", [pageView()], ip));
		expect(valid.status).toBe(429);
		expect(valid.retryAfter).toBeGreaterThanOrEqual(19);
		expect(valid.retryAfter).toBeLessThanOrEqual(20);
		expect((await postE(vars, "lim-bad", [bad()], ip)).status).toBe(429);
		const ledger = await siteLedger(env, "lim-bad", 1, day());
		expect([ledger.accepted, ledger.rejected]).toEqual([0, 3]);
	});

	it("takes a sharded site's key budget once, before recording on several shards", async () => {
		const vars = { INGEST_KEY_LIMIT: "4", INGEST_PERIOD_SECONDS: "60" };
		const key = await keyFor(["ingest"], "lim-shard-key");
		const auth = { "User-Agent": "backend/1.0 (+server)", "CF-Connecting-IP": "192.0.2.50", Authorization: `Bearer ${key}` };
		// Eight visitors over 2 shards: the batch lands on both objects (probability 1 − 2/2^8 that it does).
		const batch = Array.from({ length: 8 }, (_, i) => pageView({ visitor_id: `shard-visitor-${i}` }));
		// 4 tokens, cost 8: let in (a whole token was left), overdrawn to −4.
		expect(await (await postE(vars, "lim-shard-key", batch, auth)).json()).toMatchObject({ accepted: 8, bots: 0 });
		const refused = await refusal(await postE(vars, "lim-shard-key", [pageView({ visitor_id: "shard-visitor-9" })], auth));
		expect(refused.status).toBe(429);
		expect(refused.body.fields?.[0]?.field).toBe("Authorization");
		// From −4 back to 1 token: 5 × 15 s = 75 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(74);
		expect(refused.retryAfter).toBeLessThanOrEqual(75);
		const perShard = await Promise.all([0, 1].map((k) => shardStub(env, "lim-shard-key", k).ledger(day())));
		expect(perShard.every((l) => l.accepted > 0)).toBe(true);
		expect(perShard[0]!.accepted + perShard[1]!.accepted).toBe(8);
	});
});

describe("the ingest key: trusted server-side events", () => {
	const vars = { INGEST_IP_LIMIT: "2", INGEST_SITE_LIMIT: "1000", INGEST_KEY_LIMIT: "4", INGEST_PERIOD_SECONDS: "60" };
	const BACKEND_UA = "node-fetch/3.0 (+backend)";
	let ingestKey = "";

	beforeAll(async () => {
		ingestKey = await keyFor(["ingest"], "lim-key");
	});

	it("skips the bot check for visitor_id events sent with a valid ingest key", async () => {
		const res = await postE(vars, "lim-key", [pageView({ visitor_id: "backend-visitor-1" })], { "User-Agent": BACKEND_UA, "CF-Connecting-IP": "192.0.2.10", Authorization: `Bearer ${ingestKey}` });
		expect(res.status).toBe(202);
		expect(await res.json()).toMatchObject({ accepted: 1, bots: 0 });
	});

	it("treats visitor_id without a key as a browser event: the bot check applies (before: accepted)", async () => {
		const bot = await postE(vars, "lim-key", [pageView({ visitor_id: "backend-visitor-2" })], { "User-Agent": BACKEND_UA, "CF-Connecting-IP": "192.0.2.11" });
		expect(bot.status).toBe(202);
		expect(await bot.json()).toEqual({ accepted: 0, bots: 1 });
		// A browser UA with a visitor_id is still accepted as a browser event.
		const human = await postE(vars, "lim-key", [pageView({ visitor_id: "browser-visitor-3" })], { "CF-Connecting-IP": "192.0.2.11" });
		expect(await human.json()).toMatchObject({ accepted: 1, bots: 0 });
	});

	it("gives trusted senders their own budget: past the address limit, up to the key limit (named Authorization)", async () => {
		const ip = "192.0.2.12";
		const auth = { "CF-Connecting-IP": ip, "User-Agent": BACKEND_UA, Authorization: `Bearer ${ingestKey}` };
		// Without the key this address has 2 events.
		expect((await postE(vars, "lim-key", [pageView()], { "CF-Connecting-IP": ip })).status).toBe(202);
		expect((await postE(vars, "lim-key", [pageView()], { "CF-Connecting-IP": ip })).status).toBe(202);
		expect((await postE(vars, "lim-key", [pageView()], { "CF-Connecting-IP": ip })).status).toBe(429);
		// The key had 4 per 60 s; 1 was used by the first test of this block: 3 more pass, the next is refused.
		for (let i = 0; i < 3; i++) expect((await postE(vars, "lim-key", [pageView({ visitor_id: `srv-${i}` })], auth)).status).toBe(202);
		const refused = await refusal(await postE(vars, "lim-key", [pageView({ visitor_id: "srv-x" })], auth));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "Authorization" }] });
		// 4 per 60 s: one token every 15 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(14);
		expect(refused.retryAfter).toBeLessThanOrEqual(15);
	});

	it("refuses a bad key (401), a key without the ingest scope or for another site (403), naming Authorization", async () => {
		const headers = (key: string) => ({ "User-Agent": BACKEND_UA, "CF-Connecting-IP": "192.0.2.13", Authorization: `Bearer ${key}` });
		const unknown = await postE(vars, "lim-key", [pageView()], headers("b2g_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
		expect(unknown.status).toBe(401);
		expect(await unknown.json()).toMatchObject({ error: "unauthorized", fields: [{ field: "Authorization" }] });
		const readOnly = await postE(vars, "lim-key", [pageView()], headers(await keyFor(["read"], "lim-key")));
		expect(readOnly.status).toBe(403);
		expect(await readOnly.json()).toMatchObject({ error: "forbidden", fields: [{ field: "Authorization" }] });
		const otherSite = await postE(vars, "lim-key", [pageView()], headers(await keyFor(["ingest"], "lim-other")));
		expect(otherSite.status).toBe(403);
		expect(await otherSite.json()).toMatchObject({ error: "forbidden", fields: [{ field: "Authorization" }] });
		// An account-wide admin key implies ingest for every site.
		expect(await (await postE(vars, "lim-key", [pageView({ visitor_id: "admin-sent" })], headers(ADMIN_KEY))).json()).toMatchObject({ accepted: 1, bots: 0 });
	});
});

describe("the per-site /api/v1 ceiling", () => {
	it("limits all keys and users of a site together, and no other site", async () => {
		const vars = { RATE_LIMIT_REQUESTS: "100", RATE_LIMIT_SITE_REQUESTS: "4", RATE_LIMIT_PERIOD_SECONDS: "60" };
		const [k1, k2, other] = [await keyFor(["read"], "lim-api"), await keyFor(["read"], "lim-api"), await keyFor(["read"], "lim-api2")];
		const get = (key: string, path = "/api/v1/sites") => call(vars, path, { headers: { Authorization: `Bearer ${key}`, "CF-Connecting-IP": "192.0.2.30" } });
		for (const key of [k1, k1, k2, k2]) expect((await get(key)).status).toBe(200);
		const refused = await refusal(await get(k2));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "site" }] });
		expect(refused.body.message).toContain("lim-api");
		// 4 per 60 s: one token every 15 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(14);
		expect(refused.retryAfter).toBeLessThanOrEqual(15);
		// Each key is far below its own 100, yet the site is out; an account-wide key acting on the site too.
		expect((await get(k1)).status).toBe(429);
		expect((await get(ADMIN_KEY, "/api/v1/sites?site=lim-api")).status).toBe(429);
		// Another site, and account-level calls, are not limited by it.
		expect((await get(other)).status).toBe(200);
		expect((await get(ADMIN_KEY, "/api/v1/sites")).status).toBe(200);
	});
});

describe("failed authentication per client address", () => {
	const vars = { AUTH_FAILURE_LIMIT: "3", AUTH_FAILURE_PERIOD_SECONDS: "60" };
	const BAD_KEY = "b2g_0000000000bb_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

	it("answers 429 after 3 unknown keys, then refuses even a valid key from that address before checking it", async () => {
		const from = (ip: string, key: string) => call(vars, "/api/v1/sites", { headers: { Authorization: `Bearer ${key}`, "CF-Connecting-IP": ip } });
		for (let i = 0; i < 3; i++) expect((await from("192.0.2.40", BAD_KEY)).status).toBe(401);
		const refused = await refusal(await from("192.0.2.40", BAD_KEY));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "Authorization" }] });
		// 3 per 60 s: one failure allowed again after 20 s.
		expect(refused.retryAfter).toBeGreaterThanOrEqual(19);
		expect(refused.retryAfter).toBeLessThanOrEqual(20);
		expect((await from("192.0.2.40", ADMIN_KEY)).status).toBe(429);
		expect((await from("192.0.2.41", ADMIN_KEY)).status).toBe(200);
	});

	it("counts unauthenticated requests the same way", async () => {
		const anon = () => call(vars, "/api/v1/me", { headers: { "CF-Connecting-IP": "192.0.2.42" } });
		for (let i = 0; i < 3; i++) expect((await anon()).status).toBe(401);
		const refused = await refusal(await anon());
		expect(refused.status).toBe(429);
		expect(refused.retryAfter).toBeGreaterThan(0);
	});

	it("counts bad login links: the 4th answers 429 and a valid link from that address is not used up", async () => {
		const open = (token: string) => call(vars, `/login?token=${token}`, { headers: { Accept: "application/json", "CF-Connecting-IP": "192.0.2.43" } });
		for (let i = 0; i < 3; i++) expect((await open(`not-a-token-${i}`)).status).toBe(400);
		const refused = await refusal(await open("not-a-token-3"));
		expect(refused.status).toBe(429);
		expect(refused.body).toMatchObject({ error: "rate_limited", fields: [{ field: "token" }] });
		expect(refused.retryAfter).toBeGreaterThanOrEqual(19);
		const user = await createUser(env.DB, { email: `limits-${crypto.randomUUID()}@example.com`, role: "analyst" });
		const link = await createLoginToken(env.DB, user.id);
		expect((await open(link.token)).status).toBe(429);
		const stillUnused = await env.DB.prepare("SELECT used_at FROM login_tokens WHERE user_id = ?").bind(user.id).first<{ used_at: number | null }>();
		expect(stillUnused?.used_at).toBeNull();
	});

	it("counts unknown ingest keys on /e", async () => {
		const post = () => postE(vars, "lim-key", [pageView()], { "CF-Connecting-IP": "192.0.2.44", Authorization: `Bearer ${BAD_KEY}` });
		for (let i = 0; i < 3; i++) expect((await post()).status).toBe(401);
		const refused = await refusal(await post());
		expect(refused.status).toBe(429);
		expect(refused.body.fields?.[0]?.field).toBe("Authorization");
	});
});
