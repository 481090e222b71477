/**
 * End to end, in real Chromium against a real `wrangler dev`: tracker (t.js on the demo shop) →
 * POST /e → Queue → D1 + R2, and the live counter (LiveSite Durable Object).
 * Run after the build:  node scripts/build-tracker.mjs && npx node --test test/browser/
 *
 * The stack (test/browser/stack.mjs) runs on a free port with its own temporary state dir, so it never
 * touches `npm start`'s .wrangler/state; it holds a read key for the site, which stack.json() sends to
 * /api/v1 as `Authorization: Bearer` (POST /e, the tracker's endpoint, takes no key). What the tracker
 * sends is observed by a spy init script that copies every body handed to sendBeacon / fetch to the
 * harness capture server: Playwright does not report the beacon a closing page sends on pagehide, and
 * that flush is part of what is tested.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { USER_AGENT, launchBrowser, sleep, startServer, waitFor } from "./harness.mjs";
import { startStack, stopAll } from "./stack.mjs";

const SITE = "demo";
/** Playwright sets navigator.webdriver = true (the tracker then sends b:1); this makes the page look like a normal browser. */
const NOT_WEBDRIVER = "Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false, configurable: true });";
const COMMERCE_FLOW = ["page_view", "product_view", "add_to_cart", "begin_checkout", "purchase"];

/** Copies every tracker request body to `copyUrl` (after the real call; a refused sendBeacon is not copied, its fetch fallback is). */
const spy = (copyUrl) => `(() => {
	const beacon = Navigator.prototype.sendBeacon;
	const copy = (body) => { try { beacon.call(navigator, ${JSON.stringify(copyUrl)}, String(body)); } catch (e) {} };
	const toIngest = (url) => /\\/e$/.test(String(url));
	Navigator.prototype.sendBeacon = function (url, data) { const ok = beacon.call(this, url, data); if (ok && toIngest(url)) copy(data); return ok; };
	const f = window.fetch;
	window.fetch = function (url, init) { const p = f.apply(this, arguments); if (toIngest(url) && init && init.body) copy(init.body); return p; };
})();`;

let stack;
let browser;
/** The launch itself, so that after() can close a browser whose launch outlived a timed-out before(). */
let launching;
let capture;

// Last resort against a wedged browser or wrangler keeping this process alive; unref'd, so it never
// delays a normal exit. stack.mjs kills wrangler's process group on exit.
setTimeout(() => {
	console.error("e2e.test.mjs: still running after 240 s, giving up");
	process.exit(1);
}, 240_000).unref();

const withTimeout = (promise, ms) => Promise.race([promise, sleep(ms)]);

before(
	async () => {
		capture = await startServer();
		launching = launchBrowser();
		// Assigned as each resolves (not via Promise.all), so after() can clean up whichever is up.
		await Promise.all([launching.then((b) => (browser = b)), startStack({ site: SITE }).then((s) => (stack = s))]);
	},
	{ timeout: 120_000 },
);

after(
	async () => {
		await withTimeout(launching?.then((b) => b.close()).catch(() => {}), 10_000);
		await capture?.close();
		await stopAll(); // wrangler dev + state dir, also when before() failed or timed out halfway
	},
	{ timeout: 30_000 },
);

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Pipeline health summed over UTC days (a run across midnight spreads over two). */
async function pipeline(days) {
	const all = await Promise.all([...new Set(days)].map((d) => stack.json(`/api/v1/health/pipeline?site=${SITE}&date=${d}`)));
	const sum = (k) => all.reduce((s, h) => s + h[k], 0);
	return { accepted: sum("accepted"), stored: sum("stored"), archived: sum("archived"), bots: sum("bots"), rejected: sum("rejected"), dead_letters: all[0].dead_letters, reconciled: all.every((h) => h.reconciled), days: all };
}

/** Events captured from the tracker via the spy for one context (its copy path). */
const sentBatches = (path) => capture.posts.filter((p) => p.path === path && p.body?.site === SITE);
const sentEvents = (path) => sentBatches(path).flatMap((p) => p.body.events);

/** A fresh context (desktop Chrome UA, spy copying to `copyPath`), optionally looking like a normal (non-automated) browser. */
async function newShopper(copyPath, { automated }) {
	// bypassCSP: the spy copies to the capture server, another origin, which the shop's CSP (connect-src
	// 'self') rightly refuses; the CSP itself is tested in security.test.mjs. The tracker's own requests go
	// to the page's origin either way.
	const context = await browser.newContext({ userAgent: USER_AGENT, bypassCSP: true });
	context.setDefaultTimeout(15_000);
	context.setDefaultNavigationTimeout(30_000);
	if (!automated) await context.addInitScript({ content: NOT_WEBDRIVER });
	await context.addInitScript({ content: spy(capture.base + copyPath) });
	return context;
}

/** Waits until the spy's copies include `lastName` and then stop growing for 500 ms; returns the events. */
async function settledEvents(path, lastName) {
	await waitFor(() => sentEvents(path).some((e) => e.name === lastName), { timeout: 10_000, interval: 50, what: `the tracker to send ${lastName}` });
	let n = -1;
	await waitFor(
		async () => {
			const now = sentEvents(path).length;
			if (now === n) return true;
			n = now;
			await sleep(500);
			return false;
		},
		{ timeout: 10_000, interval: 0, what: "the tracker's requests to settle" },
	);
	return sentEvents(path);
}

describe("tracker → Worker → Queue → D1/R2 + live counter (wrangler dev)", () => {
	/** Filled by the shopping test, checked by the later ones. */
	let sent = [];
	let closedAt = 0;

	test("a shopper views a product, adds it to the cart, checks out and buys via the shop's own links and buttons", { timeout: 60_000 }, async () => {
		const context = await newShopper("/copy/human", { automated: false });
		try {
			const page = await context.newPage();
			const failed = [];
			page.on("pageerror", (e) => failed.push(e.message));
			await page.goto(`${stack.base}/shop/`);
			assert.equal(await page.evaluate(() => typeof window.b2g.identify), "function", "t.js loaded and replaced the stub");
			assert.equal(await page.evaluate(() => navigator.webdriver), false);
			// The landing page view goes out on the tracker's 1 s timer; the rest of the visit below is quicker.
			await waitFor(() => sentEvents("/copy/human").length, { timeout: 5000, interval: 50, what: "the landing page view" });

			await page.click('#view .card h2 a[href="?view=whey"]');
			await page.waitForFunction(() => location.search === "?view=whey" && document.querySelector("#view h1")?.textContent === "Whey Protein 1 kg");
			await page.click('#view button[data-add="WHEY-1KG"]');
			await page.waitForFunction(() => document.getElementById("cart-count").textContent === "1");
			await page.click('#view a.button[href="?view=cart"]');
			await page.waitForFunction(() => location.search === "?view=cart");
			await page.click('#view button[data-action="checkout"]');
			await page.waitForFunction(() => location.search === "?view=checkout");
			await page.click('#view button[data-action="buy"]');
			await page.waitForSelector("#view .notice");
			assert.match(await page.textContent("#view .notice"), /Thank you! Order demo-.+ \(€29\.90\) was placed/);
			assert.deepEqual(failed, [], "no page errors");

			// Leave at once: the purchase is still in the tracker's queue (1 s timer) and goes out on pagehide.
			await page.close();
			closedAt = Date.now();
			// The context stays open until the copies have arrived: closing it tears down the network
			// session and can cancel the closing page's keepalive beacons before they leave (seen in CI).
			sent = await settledEvents("/copy/human", "purchase");
		} finally {
			await context.close();
		}

		const names = sent.map((e) => e.name);
		for (const n of COMMERCE_FLOW) assert.ok(names.includes(n), `the tracker sent ${n} (sent: ${names.join(", ")})`);
		assert.equal(new Set(sent.map((e) => e.id)).size, sent.length, "event ids are unique");
		assert.ok(sentBatches("/copy/human").length >= 2, "the events went out in more than one batch (timer, then pagehide)");
		assert.ok(sentBatches("/copy/human").every((b) => b.body.b === undefined), "no automation flag");
	});

	test("the live counter shows the visit within 5 s", { timeout: 15_000 }, async () => {
		assert.ok(sent.length, "the shopping test sent events");
		let last;
		try {
			await waitFor(
				async () => {
					last = await stack.json(`/api/v1/realtime?site=${SITE}`);
					return last.events60m >= sent.length && last.visitorsNow >= 1;
				},
				{ timeout: Math.max(0, closedAt + 5000 - Date.now()), interval: 100, what: "the live counter" },
			);
		} catch (err) {
			assert.fail(`${err.message}: expected events60m ≥ ${sent.length} and visitorsNow ≥ 1, got ${JSON.stringify({ ...last, minutes: undefined })}`);
		}
		assert.ok(last.visitors60m >= 1);
		assert.equal(last.minutes.length, 60);
	});

	test("the pipeline reconciles: accepted = stored (D1) = archived (R2), no bots", { timeout: 45_000 }, async () => {
		assert.ok(sent.length, "the shopping test sent events");
		const days = sent.map((e) => utcDay(e.ts));
		let h;
		try {
			await waitFor(
				async () => {
					h = await pipeline(days);
					return h.reconciled && h.accepted >= sent.length;
				},
				{ timeout: 30_000, interval: 200, what: "accepted = stored = archived" },
			);
		} catch (err) {
			assert.fail(`${err.message}; last health: ${JSON.stringify(h)}\n--- wrangler dev ---\n${stack.log()}`);
		}
		assert.equal(h.stored, h.accepted);
		assert.equal(h.archived, h.accepted);
		assert.ok(h.accepted >= sent.length, `accepted ${h.accepted} ≥ sent ${sent.length}`);
		assert.equal(h.bots, 0);
		assert.equal(h.rejected, 0);
		assert.equal(h.dead_letters, 0);
		// The same call without the key is refused.
		const anonymous = await fetch(`${stack.base}/api/v1/health/pipeline?site=${SITE}&date=${days[0]}`, { signal: AbortSignal.timeout(10_000) });
		await anonymous.arrayBuffer();
		assert.equal(anonymous.status, 401, "/api/v1 without Authorization answers 401");
	});

	test("D1 holds exactly what the tracker sent, enriched; the purchase carries its value in EUR minor units", { timeout: 30_000 }, async () => {
		assert.ok(sent.length, "the shopping test sent events");
		const rows = await stack.d1(`SELECT id, name, channel, device, browser, value_minor, currency, order_id, archived_at FROM events WHERE site = '${SITE}' ORDER BY ts`);
		assert.deepEqual(rows.map((r) => r.id).sort(), sent.map((e) => e.id).sort(), "stored ids = sent ids");
		const names = rows.map((r) => r.name);
		for (const n of COMMERCE_FLOW) assert.ok(names.includes(n), `${n} is stored (stored: ${names.join(", ")})`);
		assert.ok(rows.every((r) => r.device === "desktop" && r.browser === "Chrome"), "device and browser from the User-Agent");
		assert.ok(rows.every((r) => r.archived_at !== null), "every row is stamped archived");
		const purchase = rows.filter((r) => r.name === "purchase");
		assert.equal(purchase.length, 1);
		assert.ok(purchase[0].value_minor > 0, `purchase value_minor ${purchase[0].value_minor} > 0`);
		assert.equal(purchase[0].value_minor, 2990, "€29.90 → 2990");
		assert.equal(purchase[0].currency, "EUR");
		assert.match(purchase[0].order_id, /^demo-/);
		assert.equal(rows[0].name, "page_view");
		assert.equal(rows[0].channel, "direct", "the landing page view has no referrer");
	});

	test("an automated browser (navigator.webdriver, b:1) is counted as bot and stores nothing", { timeout: 60_000 }, async () => {
		assert.ok(sent.length, "the shopping test sent events");
		const days = [...sent.map((e) => utcDay(e.ts)), utcDay(Date.now())];
		const before = await pipeline(days);
		const liveBefore = await stack.json(`/api/v1/realtime?site=${SITE}`);

		const context = await newShopper("/copy/bot", { automated: true });
		let bot = [];
		try {
			const page = await context.newPage();
			await page.goto(`${stack.base}/shop/`);
			assert.equal(await page.evaluate(() => navigator.webdriver), true);
			await page.click('#view .card h2 a[href="?view=creatine"]');
			await page.waitForFunction(() => location.search === "?view=creatine");
			await page.click('#view button[data-add="CREA-300"]');
			await page.waitForFunction(() => document.getElementById("cart-count").textContent === "1");
			await page.close();
			bot = await settledEvents("/copy/bot", "add_to_cart"); // before context.close(), as above
		} finally {
			await context.close();
		}
		assert.ok(sentBatches("/copy/bot").every((b) => b.body.b === 1), "every batch carries b:1");
		days.push(utcDay(Date.now()));

		let h;
		try {
			await waitFor(
				async () => {
					h = await pipeline(days);
					return h.bots >= before.bots + bot.length;
				},
				{ timeout: 10_000, interval: 100, what: "the bot count" },
			);
		} catch (err) {
			assert.fail(`${err.message}: expected bots = ${before.bots + bot.length}, got ${JSON.stringify(h)}`);
		}
		await sleep(1500); // room for anything (wrongly) queued to reach D1
		h = await pipeline(days);
		assert.equal(h.bots, before.bots + bot.length, "each bot event counted once");
		assert.equal(h.accepted, before.accepted, "nothing accepted");
		assert.equal(h.stored, before.stored, "nothing stored");
		assert.equal(h.archived, before.archived, "nothing archived");
		const liveAfter = await stack.json(`/api/v1/realtime?site=${SITE}`);
		assert.equal(liveAfter.events60m, liveBefore.events60m, "the live counter ignores bots");
		const ids = new Set(bot.map((e) => e.id));
		const rows = await stack.d1(`SELECT id FROM events WHERE site = '${SITE}'`);
		assert.equal(rows.filter((r) => ids.has(r.id)).length, 0, "no bot event in D1");
		assert.equal(rows.length, sent.length);
	});
});
