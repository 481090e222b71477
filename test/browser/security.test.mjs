/**
 * Security headers in real Chromium (issue 14 item 13) against a real local stack (wrangler dev + a small
 * demo store, test/browser/dashboard-stack.mjs): the headers are on the dashboard's HTML and the other
 * pages as the browser receives them; every dashboard page, the status page, the shop and the API
 * reference run without a single CSP violation (`securitypolicyviolation` events and console CSP errors),
 * the live WebSocket included; an inline script injected into the page and an inline event handler are
 * blocked; the dashboard refuses to be framed; the tracker still works embedded in a shop on another origin.
 *
 * Run after the build:  npm run build && npx node --test test/browser/security.test.mjs
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startDashboardStack } from "./dashboard-stack.mjs";
import { fixture, launchBrowser, ROOT, sleep, startServer, USER_AGENT, waitFor } from "./harness.mjs";
import { stopAll } from "./stack.mjs";

const SITE = "demo";
const GIVE_UP_MS = 420_000;
setTimeout(() => {
	console.error(`security.test.mjs: still running after ${GIVE_UP_MS / 1000} s, giving up`);
	process.exit(1);
}, GIVE_UP_MS).unref();

/** What every HTML page must carry (workers/lib/security-headers.ts, written out here on purpose). */
const EXPECTED = {
	"strict-transport-security": "max-age=31536000; includeSubDomains",
	"x-content-type-options": "nosniff",
	"x-frame-options": "DENY",
};

let stack;
let browser;
let launching;

before(
	async () => {
		if (!existsSync(join(ROOT, "dist/web/_headers")) || !existsSync(join(ROOT, "dist/web/app/manifest.json"))) throw new Error("dist/web has no dashboard or _headers: run `npm run build` first");
		launching = launchBrowser();
		await Promise.all([launching.then((b) => (browser = b)), startDashboardStack({ site: SITE }).then((s) => (stack = s))]);
	},
	{ timeout: 300_000 },
);

after(
	async () => {
		await Promise.race([launching?.then((b) => b.close()).catch(() => {}), sleep(10_000)]);
		await stopAll();
	},
	{ timeout: 30_000 },
);

/**
 * A context that records every CSP violation: the page's `securitypolicyviolation` events (reported
 * through an exposed function, so they survive navigations) and console errors that mention the
 * Content Security Policy. Also page errors.
 */
async function cspContext(options = {}) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC", ...options });
	context.setDefaultTimeout(20_000);
	context.setDefaultNavigationTimeout(30_000);
	const violations = [];
	const consoleErrors = [];
	const pageErrors = [];
	await context.exposeFunction("__cspViolation", (v) => violations.push(v));
	await context.addInitScript(() => {
		document.addEventListener("securitypolicyviolation", (e) =>
			window.__cspViolation({ page: location.pathname, directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample, line: e.lineNumber }),
		);
	});
	context.on("page", (p) => {
		p.on("console", (m) => m.type() === "error" && /Content.Security.Policy|Refused to/i.test(m.text()) && consoleErrors.push(`${p.url()}: ${m.text()}`));
		p.on("pageerror", (e) => pageErrors.push(`${p.url()}: ${e.message}`));
	});
	return { context, violations, consoleErrors, pageErrors };
}

/** Waits until a dashboard page shows and nothing on it is loading (as dashboard.test.mjs does). */
async function settled(page, timeout = 30_000) {
	await page.waitForFunction(() => document.querySelector("[data-page]") && !document.querySelector('[data-state="loading"], .page-skeleton'), null, { timeout, polling: 50 });
}

function assertHeaders(headers, what, referrer = "strict-origin-when-cross-origin") {
	for (const [name, value] of Object.entries(EXPECTED)) assert.equal(headers[name], value, `${what}: ${name}`);
	assert.equal(headers["referrer-policy"], referrer, `${what}: referrer-policy`);
	const csp = headers["content-security-policy"] ?? "";
	assert.match(csp, /(^|; )script-src 'self'(;|$)/, `${what}: script-src 'self' only`);
	assert.match(csp, /frame-ancestors 'none'/, `${what}: frame-ancestors`);
	assert.doesNotMatch(csp, /script-src[^;]*'unsafe-(inline|eval)'/, what);
}

test("the response headers reach the browser on the dashboard HTML, its SPA fallback, the other pages and the API", { timeout: 60_000 }, async () => {
	const { context } = await cspContext();
	try {
		const page = await context.newPage();
		for (const path of ["/", `/operations?site=${SITE}`, "/status.html", "/shop/", "/api/docs"]) {
			const res = await page.goto(stack.base + path);
			assert.equal(res.status(), 200, path);
			assert.match(res.headers()["content-type"], /text\/html/, path);
			assertHeaders(await res.allHeaders(), path);
		}
		// Subresources and the Worker's own answers: the tracker, the theme bootstrap, an API error, /login.
		for (const [path, referrer] of [["/t.js"], ["/theme.js"], ["/api/v1/me"], [`/login?token=${"x".repeat(43)}`, "no-referrer"]]) {
			const res = await fetch(stack.base + path, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
			await res.arrayBuffer();
			assertHeaders(Object.fromEntries(res.headers), path, referrer);
		}
	} finally {
		await context.close();
	}
});

test("every dashboard page, the status page, the shop and the API reference run without a CSP violation; the live socket connects", { timeout: 180_000 }, async () => {
	const { context, violations, consoleErrors, pageErrors } = await cspContext();
	try {
		const page = await context.newPage();
		const sockets = [];
		page.on("websocket", (ws) => {
			const s = { url: ws.url(), frames: 0 };
			ws.on("framereceived", () => s.frames++);
			sockets.push(s);
		});
		// Sign in with a one-time link (the Worker answers /login, then 303 to the dashboard).
		const login = await page.goto(await stack.loginLink("security@example.com", "admin"));
		assert.equal(login.status(), 200);
		assertHeaders(await login.allHeaders(), "dashboard after sign-in");
		await settled(page);

		const customers = await stack.api("GET", `/api/v1/customers?site=${SITE}&limit=1`);
		const products = await stack.api("GET", `/api/v1/products/performance?site=${SITE}`);
		const customerId = customers.customers[0]?.id;
		const sku = products.products[0]?.sku;
		assert.ok(customerId && sku, "the demo store has a customer and a product");
		const pages = ["/", "/operations", "/customers", `/customers/${encodeURIComponent(customerId)}`, "/products", `/products/${encodeURIComponent(sku)}`, "/cohorts", "/basket", "/models"];
		const visited = [];
		for (const path of pages) {
			await page.goto(`${stack.base}${path}?site=${SITE}`);
			await settled(page);
			visited.push(await page.getAttribute("[data-page]", "data-page"));
			if (path === "/operations") await waitFor(() => sockets.some((s) => s.frames > 0), { timeout: 15_000, what: "a live snapshot over the WebSocket" });
		}
		assert.equal(visited.length, pages.length);
		assert.ok(sockets.some((s) => /^ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/live\?/.test(s.url)), `the live socket is same-origin ws: (${sockets.map((s) => s.url)})`);

		// The dark theme (the bootstrap script reads localStorage before first paint).
		await page.evaluate(() => localStorage.setItem("b2g-theme", "dark"));
		await page.goto(`${stack.base}/?site=${SITE}`);
		await settled(page);
		assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark", "theme.js ran under the CSP");

		// The static pages whose scripts moved out of the HTML still work.
		await page.goto(`${stack.base}/status.html`);
		assert.match(await page.title(), /local stack/);
		await page.waitForFunction(() => document.getElementById("snippet")?.textContent?.includes("/t.js"));
		await page.goto(`${stack.base}/shop/`);
		await page.click('.card:has-text("Whey") >> text=View');
		await page.waitForURL(/view=whey/);
		await page.click("text=Add to cart");
		await page.waitForFunction(() => document.querySelectorAll("#log li").length >= 2, null, { timeout: 10_000 });
		await page.goto(`${stack.base}/api/docs`);
		assert.match(await page.title(), /reference/);

		await sleep(300); // late reports
		assert.deepEqual(violations, [], "no securitypolicyviolation event");
		assert.deepEqual(consoleErrors, [], "no CSP error in the console");
		assert.deepEqual(pageErrors, []);
	} finally {
		await context.close();
	}
});

test("an injected inline script and an inline event handler are blocked by the CSP; the dashboard cannot be framed", { timeout: 60_000 }, async () => {
	const { context, violations } = await cspContext();
	try {
		const page = await context.newPage();
		await page.goto(await stack.loginLink("security@example.com", "admin"));
		await settled(page);
		// Inline <script> with content: the browser refuses to run it (Playwright may report the refusal as an error).
		await page.addScriptTag({ content: "window.__injected = 'ran';" }).catch(() => {});
		// An inline handler, the usual shape of a stored XSS payload.
		await page.evaluate(() => {
			const div = document.createElement("div");
			div.innerHTML = '<img src="/no-such-image.png" onerror="window.__handler = \'ran\'">';
			document.body.append(div);
		});
		await waitFor(() => violations.filter((v) => v.directive.startsWith("script-src")).length >= 2, { timeout: 10_000, what: "two script-src violations" });
		assert.equal(await page.evaluate(() => window.__injected), undefined, "the injected inline script did not run");
		assert.equal(await page.evaluate(() => window.__handler), undefined, "the inline event handler did not run");
		const kinds = violations.map((v) => `${v.directive} ${v.blocked}`).sort();
		assert.deepEqual(kinds, ["script-src-attr inline", "script-src-elem inline"]);
		// A same-origin script file is still allowed (script-src 'self').
		await page.addScriptTag({ url: "/theme.js" });

		// frame-ancestors 'none' (and X-Frame-Options: DENY): a page embedding the dashboard gets nothing.
		const other = await context.newPage();
		await other.goto(`http://localhost:${stack.port}/shop/`);
		await other.evaluate((src) => {
			const f = document.createElement("iframe");
			f.src = src;
			f.id = "embed";
			document.body.append(f);
		}, `${stack.base}/?site=${SITE}`);
		await sleep(1500);
		const frame = other.frames().find((f) => f !== other.mainFrame());
		const framed = frame ? await frame.evaluate(() => !!document.querySelector("#app")).catch(() => false) : false;
		assert.equal(framed, false, "the dashboard did not render inside a frame");
	} finally {
		await context.close();
	}
});

test("the tracker still works from a shop on another origin: t.js loads cross-origin and /e stores its events", { timeout: 60_000 }, async () => {
	// A shop on its own origin (the harness's fixture server, no CSP of ours) embedding t.js from the stack.
	await stack.api("POST", "/api/v1/sites", { id: "xorigin", name: "Cross-origin shop" }); // origins [] = any
	const shop = await startServer();
	// A desktop Chrome user agent: headless Chromium's own is classified as a bot by /e.
	const { context, violations } = await cspContext({ userAgent: USER_AGENT });
	try {
		const url = shop.page("/x", fixture({ site: "xorigin", src: `${stack.base}/t.js` }));
		assert.notEqual(new URL(url).origin, stack.base);
		// Playwright sets navigator.webdriver (the tracker then flags the batch as a bot's): look like a normal browser.
		await context.addInitScript("Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false, configurable: true });");
		const page = await context.newPage();
		const ingest = [];
		page.on("response", (r) => r.url() === `${stack.base}/e` && ingest.push(r.status()));
		const script = page.waitForResponse((r) => r.url() === `${stack.base}/t.js`);
		await page.goto(url);
		const tjs = await script;
		assert.equal(tjs.status(), 200);
		assert.equal((await tjs.allHeaders())["x-content-type-options"], "nosniff", "t.js carries the headers (they bind t.js, not the page)");
		await page.evaluate(() => b2g("cross_origin_check", { n: 1 }));
		const rows = await waitFor(
			async () => {
				const r = await stack.d1("SELECT name FROM events WHERE site = 'xorigin' ORDER BY ts");
				return r.length >= 2 && r;
			},
			{ timeout: 30_000, interval: 250, what: "the cross-origin events in D1" },
		).catch((err) => {
			throw new Error(`${err.message}; /e answered ${JSON.stringify(ingest)}`);
		});
		assert.deepEqual(
			rows.map((r) => r.name),
			["page_view", "cross_origin_check"],
		);
		assert.deepEqual(violations, [], "the shop page has no CSP of ours to violate");
	} finally {
		await context.close();
		await shop.close();
	}
});
