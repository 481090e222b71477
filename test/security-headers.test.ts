/**
 * Security headers (issue 14 item 13) on every route family the Worker answers — the API (success,
 * 401, 404, validation errors), /e and its CORS preflight, /login (no-referrer: its URL holds a token),
 * /hooks, the API reference — and on the static files (dashboard shell and its SPA fallback, the
 * status page, the shop, t.js), which get them from dist/web/_headers (run `npm run build` first).
 * The browser test (test/browser/security.test.mjs) checks that Chromium enforces the policy.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY, SECURITY_HEADERS, withSecurityHeaders } from "../workers/lib/security-headers";
import { ADMIN_KEY, BROWSER_UA, pageView } from "./helpers";

const BASE = "https://b2g.test";

/** The headers the task requires, written out here (not read from the module) so a change there is caught. */
const REQUIRED = {
	"strict-transport-security": "max-age=31536000; includeSubDomains",
	"x-content-type-options": "nosniff",
	"x-frame-options": "DENY",
};

function expectSecure(res: Response, referrer = "strict-origin-when-cross-origin"): void {
	for (const [name, value] of Object.entries(REQUIRED)) expect(res.headers.get(name), name).toBe(value);
	expect(res.headers.get("referrer-policy")).toBe(referrer);
	const csp = res.headers.get("content-security-policy") ?? "";
	const directives = new Map(
		csp.split(";").map((d) => {
			const [name = "", ...values] = d.trim().split(/\s+/);
			return [name, values] as const;
		}),
	);
	expect(directives.get("script-src")).toEqual(["'self'"]);
	expect(directives.get("default-src")).toEqual(["'self'"]);
	expect(directives.get("connect-src")).toEqual(["'self'"]);
	expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
	expect(directives.get("base-uri")).toEqual(["'self'"]);
	expect(directives.get("form-action")).toEqual(["'self'"]);
	expect(directives.get("object-src")).toEqual(["'none'"]);
	expect(csp).not.toMatch(/script-src[^;]*unsafe/);
}

async function fetchPath(path: string, init: RequestInit = {}): Promise<Response> {
	const res = await exports.default.fetch(BASE + path, { redirect: "manual", ...init });
	await res.arrayBuffer(); // drain: nothing is left pending in the test runtime
	return res;
}

describe("security headers on the Worker's answers", () => {
	it("the API: an authorised read, 401 without credentials, 404 for an unknown route, 400 on bad input", async () => {
		const auth = { headers: { Authorization: `Bearer ${ADMIN_KEY}` } };
		const ok = await fetchPath("/api/v1/sites", auth);
		expect(ok.status).toBe(200);
		expectSecure(ok);
		const unauthorised = await fetchPath("/api/v1/sites");
		expect(unauthorised.status).toBe(401);
		expectSecure(unauthorised);
		const missing = await fetchPath("/api/v1/no-such-route", auth);
		expect(missing.status).toBe(404);
		expectSecure(missing);
		const invalid = await fetchPath("/api/v1/kpis?site=demo&from=not-a-day", auth);
		expect(invalid.status).toBe(400);
		expectSecure(invalid);
	});

	it("the live socket route refuses a non-upgrade request with the headers too", async () => {
		const res = await fetchPath("/api/v1/live?site=demo", { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		expect(res.status).toBeGreaterThanOrEqual(400);
		expectSecure(res);
	});

	it("POST /e (202) and its CORS preflight keep CORS for other origins and carry the headers", async () => {
		const res = await fetchPath("/e", {
			method: "POST",
			headers: { "Content-Type": "text/plain", "User-Agent": BROWSER_UA, "CF-Connecting-IP": "203.0.113.9", Origin: "https://other-shop.example" },
			body: JSON.stringify({ site: "demo", events: [pageView()] }),
		});
		expect(res.status).toBe(202);
		expect(res.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/other-shop\.example)$/);
		expectSecure(res);
		const preflight = await fetchPath("/e", { method: "OPTIONS", headers: { Origin: "https://other-shop.example", "Access-Control-Request-Method": "POST" } });
		expect(preflight.status).toBeLessThan(300);
		expect(preflight.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/other-shop\.example)$/);
		expectSecure(preflight);
		const bad = await fetchPath("/e", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" });
		expect(bad.status).toBe(400);
		expectSecure(bad);
	});

	it("/login answers with Referrer-Policy: no-referrer (the token is in its URL)", async () => {
		const res = await fetchPath("/login?token=0000000000000000000000000000000000000000000000000000000000000000");
		expect(res.status).toBeGreaterThanOrEqual(300);
		expectSecure(res, "no-referrer");
	});

	it("/hooks/orders refuses an unsigned delivery with the headers", async () => {
		const res = await fetchPath("/hooks/orders?site=demo", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
		expect(res.status).toBeGreaterThanOrEqual(400);
		expect(res.status).toBeLessThan(500);
		expectSecure(res);
	});

	it("the API reference (an HTML page) and the OpenAPI document", async () => {
		const page = await fetchPath("/api/docs");
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/text\/html/);
		expectSecure(page);
		const doc = await fetchPath("/api/v1/openapi.json");
		expect(doc.status).toBe(200);
		expectSecure(doc);
	});

	it("a HEAD request carries them", async () => {
		const res = await fetchPath("/api/v1/openapi.json", { method: "HEAD" });
		expect(res.status).toBe(200);
		expectSecure(res);
	});

	it("withSecurityHeaders copies a response whose headers are immutable, and passes a 101 upgrade through", () => {
		// Response.redirect() has immutable headers, like a Response from fetch() or the Cache API.
		const frozen = Response.redirect("https://b2g.test/next", 302);
		expect(() => frozen.headers.set("x-probe", "1")).toThrow();
		const res = withSecurityHeaders(new Request("https://b2g.test/login?token=x"), frozen);
		expect(res.status).toBe(302);
		expect(res.headers.get("location")).toBe("https://b2g.test/next");
		expectSecure(res, "no-referrer");
		const pair = new WebSocketPair();
		const upgrade = new Response(null, { status: 101, webSocket: pair[0] });
		expect(withSecurityHeaders(new Request("https://b2g.test/api/v1/live"), upgrade)).toBe(upgrade);
		expect(upgrade.headers.get("content-security-policy")).toBeNull();
	});
});

describe("security headers on the static files (dist/web/_headers)", () => {
	// Served by the assets layer before the Worker runs (exports.default.fetch is the Worker alone, so
	// these go to the ASSETS binding, the same asset server): same values as the Worker's, from one module.
	const asset = async (path: string, init: RequestInit = {}) => {
		const res = await env.ASSETS.fetch(BASE + path, init);
		return { res, text: await res.text() };
	};
	it.each([
		["/", /text\/html/],
		["/operations?site=demo", /text\/html/], // the single-page-app fallback to index.html
		["/status.html", /text\/html/],
		["/shop/", /text\/html/],
		["/t.js", /javascript/],
		["/theme.js", /javascript/],
	])("%s", async (path, type) => {
		const { res } = await asset(path, { headers: { Accept: "text/html", "Sec-Fetch-Mode": "navigate" } });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(type);
		expectSecure(res);
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
		expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
	});

	it("no page the Worker serves has an inline script or an inline event handler", async () => {
		for (const path of ["/", "/status.html", "/shop/"]) {
			const { res, text: html } = await asset(path);
			expect(res.status, path).toBe(200);
			expect(html, path).toMatch(/<script\b/);
			// Every <script> has a src and no body; no on*= attribute; no javascript: URL.
			for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
				expect(m[1], `${path}: ${m[0].slice(0, 80)}`).toMatch(/\ssrc=/);
				expect(m[2]?.trim(), path).toBe("");
			}
			expect(html, path).not.toMatch(/<[^>]+\son[a-z]+\s*=/i);
			expect(html, path).not.toMatch(/javascript:/i);
		}
	});
});
