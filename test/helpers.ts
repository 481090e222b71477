import { env, exports } from "cloudflare:workers";
import type { Role } from "../workers/auth/roles";
import { consumeLoginToken, createLoginToken, createUser, type User } from "../workers/auth/users";
import type { StoredEvent } from "../workers/pipeline/message";

export const BROWSER_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
export const MOBILE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

let seq = 0;
/** A valid page_view unless overridden. */
export function pageView(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	seq++;
	return { id: crypto.randomUUID(), name: "page_view", ts: Date.now() - 1000, url: `https://shop.example/p/${seq}`, referrer: "", props: {}, ...overrides };
}

export function purchase(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return pageView({
		name: "purchase",
		props: { order_id: `o-${crypto.randomUUID()}`, value: 59.9, currency: "EUR", items: [{ sku: "WHEY-1KG", qty: 2, price: 29.95 }] },
		...overrides,
	});
}

export async function postEvents(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	const text = typeof body === "string" ? body : JSON.stringify(body);
	return exports.default.fetch("https://b2g.test/e", {
		method: "POST",
		headers: { "Content-Type": "application/json", "User-Agent": BROWSER_UA, "CF-Connecting-IP": "203.0.113.7", ...headers },
		body: text,
	});
}

/** Account-wide admin key inserted by test/setup.ts (a fixed test secret; real keys are random). */
export const ADMIN_KEY = "b2g_0000000000aa_TESTTESTTESTTESTTESTTESTTESTTESTTESTTESTTES";

export async function getJson<T = Record<string, unknown>>(path: string, key: string | null = ADMIN_KEY): Promise<{ status: number; body: T }> {
	const res = await exports.default.fetch(`https://b2g.test${path}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
	return { status: res.status, body: (await res.json()) as T };
}

/** Polls `check` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const v = await check();
		if (v) return v;
		if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

/** Reads and gunzips an R2 archive object into its NDJSON records. */
export async function readArchive(bucket: R2Bucket, key: string): Promise<Record<string, unknown>[]> {
	const obj = await bucket.get(key);
	if (!obj) throw new Error(`no object ${key}`);
	const text = await new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text();
	return text
		.split("\n")
		.filter(Boolean)
		.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every object key under a prefix. */
export async function listKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
	const keys: string[] = [];
	let cursor: string | undefined;
	do {
		const page = await bucket.list({ prefix, cursor });
		keys.push(...page.objects.map((o) => o.key));
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return keys;
}

/** An enriched event as the consumer receives it (site demo, a page view at 2026-11-20 13:45 UTC unless overridden). */
export function storedEvent(overrides: Partial<StoredEvent> = {}): StoredEvent {
	const ts = overrides.ts ?? Date.UTC(2026, 10, 20, 13, 45);
	return {
		site: "demo", id: crypto.randomUUID(), name: "page_view", ts, received_at: ts + 500, visitor: "v1", customer_id: null,
		url: "https://shop.example/p/whey", host: "shop.example", path: "/p/whey", referrer: null, ref_source: null, channel: "direct",
		utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null, country: "ES", region: null, city: null,
		device: "desktop", browser: "Chrome", os: "macOS", order_id: null, sku: null, value_minor: null, currency: null, props: {}, ...overrides,
	};
}

/** A JSON request to the API with a bearer key (the test admin key by default). */
export async function api(method: string, path: string, body?: unknown, key: string | null = ADMIN_KEY): Promise<Response> {
	const headers: Record<string, string> = { "Content-Type": "application/json" };
	if (key) headers.Authorization = `Bearer ${key}`;
	return exports.default.fetch(`https://b2g.test${path}`, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
}

let userSeq = 0;
/** A dashboard user with a live session: `cookie` is the Cookie header value that carries it. */
export async function userSession(role: Role, email?: string): Promise<{ user: User; cookie: string }> {
	const user = await createUser(env.DB, { email: email ?? `${role}-${++userSeq}-${crypto.randomUUID().slice(0, 8)}@example.com`, role });
	const { token } = await createLoginToken(env.DB, user.id);
	const { sessionId } = await consumeLoginToken(env.DB, token);
	return { user, cookie: `b2g_session=${sessionId}` };
}

/** A JSON request to the API carrying a session cookie (and no Authorization header). */
export async function apiWithCookie(method: string, path: string, cookie: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return exports.default.fetch(`https://b2g.test${path}`, {
		method,
		headers: { "Content-Type": "application/json", Cookie: cookie, ...headers },
		body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
	});
}
