/**
 * Real-browser tests of the tracker snippet (dist/web/t.js) in Chromium via playwright-core.
 * Run after the build:  node scripts/build-tracker.mjs && npx node --test test/browser/
 *
 * Every test uses its own data-site so that late beacons (e.g. the pagehide flush when a context
 * closes) can never leak into another test's assertions, and a fresh browser context.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { DIST, EVENT_KEYS, STUB, USER_AGENT, UUID_V4, fixture, launchBrowser, sleep, startServer, waitFor } from "./harness.mjs";

const T = { timeout: 20_000 };

/** Playwright sets navigator.webdriver = true; this makes the page look like a normal browser. */
const NOT_WEBDRIVER = "Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false, configurable: true });";
const GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });";
/** Records every sendBeacon / fetch call the page makes in window.__sent (the real call still happens). */
const SPY = `(() => {
	const sent = (window.__sent = []);
	const beacon = Navigator.prototype.sendBeacon;
	Navigator.prototype.sendBeacon = function (url, data) { sent.push({ via: "beacon", url: String(url), body: String(data) }); return beacon.call(this, url, data); };
	const f = window.fetch;
	window.fetch = function (url, init) { sent.push({ via: "fetch", url: String(url), body: init && String(init.body) }); return f.apply(this, arguments); };
})();`;

let browser;
let srv;

before(
	async () => {
		srv = await startServer();
		browser = await launchBrowser();
	},
	{ timeout: 40_000 },
);

after(
	async () => {
		await browser?.close();
		await srv?.close();
	},
	{ timeout: 15_000 },
);

// Last resort against a wedged browser keeping this process alive; unref'd, so it never delays a normal exit.
setTimeout(() => {
	console.error("tracker.test.mjs: still running after 120 s, giving up");
	process.exit(1);
}, 120_000).unref();

/** Runs `fn(page, context)` in a fresh context (desktop Chrome UA, optional init scripts), always closed after. */
async function withPage(fn, { init = [] } = {}) {
	const context = await browser.newContext({ userAgent: USER_AGENT });
	context.setDefaultTimeout(10_000);
	context.setDefaultNavigationTimeout(10_000);
	for (const script of init) await context.addInitScript({ content: script });
	try {
		const page = await context.newPage();
		return await fn(page, context);
	} finally {
		await context.close();
	}
}

const waitEvents = (site, n, what = `${n} event(s) for site ${site}`) => waitFor(() => srv.events(site).length >= n && srv.events(site), { what });

function assertEventShape(e) {
	for (const k of Object.keys(e)) assert.ok(EVENT_KEYS.has(k), `unexpected key ${k}`);
	assert.match(e.id, UUID_V4);
	assert.equal(typeof e.name, "string");
	assert.ok(Number.isInteger(e.ts), "ts is an integer");
	assert.ok(Math.abs(Date.now() - e.ts) < 30_000, "ts is close to now");
	assert.match(e.url, /^http:\/\/127\.0\.0\.1:\d+\//);
	assert.equal(typeof e.referrer, "string");
}

// Tests are independent (own site, own context), so they run a few at a time: most of their time is
// spent waiting for the 1 s batch timer.
describe("tracker in Chromium", { concurrency: 4, timeout: 90_000 }, () => {
	test("1. page_view on load: exact shape, site, text/plain beacon, b:1 under webdriver", T, async () => {
		const url = srv.page("/t1/landing", fixture({ site: "t1" })) + "?utm_source=news";
		await withPage(async (page) => {
			await page.goto(url);
			const [pv] = await waitEvents("t1", 1);
			assert.deepEqual(Object.keys(pv).sort(), ["id", "name", "referrer", "ts", "url"]);
			assertEventShape(pv);
			assert.equal(pv.name, "page_view");
			assert.equal(pv.url, url);
			assert.equal(pv.referrer, await page.evaluate(() => document.referrer));
			assert.equal(pv.referrer, "");
		});
		const [batch] = srv.batches("t1");
		assert.equal(batch.path, "/e");
		assert.match(batch.contentType, /^text\/plain/);
		assert.deepEqual(Object.keys(batch.body).sort(), ["b", "events", "site"]);
		assert.equal(batch.body.site, "t1");
		assert.equal(batch.body.b, 1, "navigator.webdriver is true under Playwright");
		assert.equal(srv.events("t1").filter((e) => e.name === "page_view").length, 1);
	});

	test("1b. first page_view referrer is document.referrer (link click)", T, async () => {
		const a = srv.page("/t1b/a", fixture({ site: "t1b", body: '<a id="go" href="/t1b/b?x=1">next</a>' }));
		const b = srv.page("/t1b/b", fixture({ site: "t1b" }));
		await withPage(async (page) => {
			await page.goto(a);
			await page.click("#go");
			await page.waitForURL(b + "?x=1");
			const events = await waitFor(() => srv.events("t1b").find((e) => e.url === b + "?x=1") && srv.events("t1b"), { what: "page B view" });
			const pvB = events.find((e) => e.url === b + "?x=1");
			assert.equal(pvB.referrer, a);
			assert.equal(pvB.referrer, await page.evaluate(() => document.referrer));
		});
	});

	test("1c. without webdriver the batch has no b flag", T, async () => {
		const url = srv.page("/t1c", fixture({ site: "t1c" }));
		await withPage(
			async (page) => {
				await page.goto(url);
				assert.equal(await page.evaluate(() => navigator.webdriver), false);
				await waitEvents("t1c", 1);
			},
			{ init: [NOT_WEBDRIVER] },
		);
		const [batch] = srv.batches("t1c");
		assert.deepEqual(Object.keys(batch.body).sort(), ["events", "site"]);
	});

	test("2a. batching: page_view + 5 quick calls arrive in ONE request, sent by the 1 s timer", T, async () => {
		// Called on DOMContentLoaded, i.e. right after the deferred tracker ran: all 6 land in one timer window.
		const body = "<script>document.addEventListener('DOMContentLoaded', () => { for (let i = 0; i < 5; i++) b2g('click', { i }); });</script>";
		const url = srv.page("/t2a", fixture({ site: "t2a", body }));
		await withPage(async (page) => {
			await page.goto(url);
			await waitEvents("t2a", 6);
			await sleep(300); // nothing else may follow
			const batches = srv.batches("t2a");
			assert.equal(batches.length, 1, "one request");
			const events = batches[0].body.events;
			assert.deepEqual(
				events.map((e) => e.name),
				["page_view", "click", "click", "click", "click", "click"],
			);
			assert.deepEqual(
				events.slice(1).map((e) => e.props.i),
				[0, 1, 2, 3, 4],
			);
			events.forEach(assertEventShape);
			assert.ok(batches[0].at - events[0].ts >= 900, "flushed by the 1 s timer, not earlier");
		});
	});

	test("2b. batching: 25 calls flush in requests of at most 10 events, none lost, ids unique", T, async () => {
		const url = srv.page("/t2b", fixture({ site: "t2b" }));
		await withPage(async (page) => {
			await page.goto(url);
			await page.evaluate(() => {
				for (let i = 0; i < 25; i++) b2g("bulk", { i });
			});
			const events = await waitEvents("t2b", 26);
			await sleep(300);
			const batches = srv.batches("t2b");
			assert.ok(batches.length >= 3, `${batches.length} requests`);
			for (const b of batches) assert.ok(b.body.events.length <= 10, `batch of ${b.body.events.length}`);
			assert.equal(srv.events("t2b").length, 26);
			assert.deepEqual(
				events.filter((e) => e.name === "bulk").map((e) => e.props.i),
				Array.from({ length: 25 }, (_, i) => i),
			);
			assert.equal(new Set(events.map((e) => e.id)).size, 26, "ids unique");
			events.forEach(assertEventShape);
		});
	});

	test("3. SPA: pushState/replaceState to new paths and popstate emit page_views (before app events); same path emits nothing", T, async () => {
		// An app popstate listener registered before the tracker: its events must still follow the page_view.
	const start = srv.page("/spa/a", fixture({ site: "t3", body: "<script>addEventListener('popstate', () => b2g('app_popstate'));</script>" }));
		const { base } = srv;
		await withPage(async (page) => {
			await page.goto(start);
			await waitEvents("t3", 1);
			await page.evaluate(async () => {
				history.pushState({}, "", "/spa/a#x"); // same path: nothing
				history.pushState({}, "", "/spa/b?x=1"); // page_view, referrer /spa/a
				history.pushState({ again: 1 }, "", "/spa/b?x=1"); // same path: nothing
				await new Promise((ok) => {
					addEventListener("popstate", ok, { once: true });
					history.back(); // back to /spa/b?x=1 (same path): nothing
				});
				await new Promise((ok) => {
					addEventListener("popstate", ok, { once: true });
					history.back(); // back to /spa/a#x: page_view, referrer /spa/b?x=1
				});
				history.replaceState({}, "", "/spa/c"); // page_view, referrer /spa/a#x
				history.replaceState({ s: 1 }, "", "/spa/c"); // same path: nothing
				b2g("end");
			});
			const events = await waitFor(() => srv.events("t3").some((e) => e.name === "end") && srv.events("t3"), { what: "end marker" });
			const views = events.filter((e) => e.name === "page_view").map((e) => [e.url, e.referrer]);
			assert.deepEqual(views, [
				[`${base}/spa/a`, ""],
				[`${base}/spa/b?x=1`, `${base}/spa/a`],
				[`${base}/spa/a#x`, `${base}/spa/b?x=1`],
				[`${base}/spa/c`, `${base}/spa/a#x`],
			]);
			assert.deepEqual(
			events.filter((e) => e.name !== "end").map((e) => (e.name === "page_view" ? "pv " : "app ") + e.url.replace(base, "")),
			["pv /spa/a", "pv /spa/b?x=1", "app /spa/b?x=1", "pv /spa/a#x", "app /spa/a#x", "pv /spa/c"],
		);
		const app = events.filter((e) => e.name === "app_popstate");
		assert.equal(app[1].referrer, `${base}/spa/b?x=1`, "the app event sees the new page view's referrer");
		const end = events.find((e) => e.name === "end");
			assert.equal(end.url, `${base}/spa/c`);
			assert.equal(end.referrer, `${base}/spa/a#x`, "custom events carry the current page view's referrer");
		});
	});

	test("4. pagehide flush: an event queued right before navigating away still arrives", T, async () => {
		const url = srv.page("/t4", fixture({ site: "t4" }));
		// The tracker's 1 s batch timer never fires here, so only the pagehide flush can deliver the events.
		const noBatchTimer = "{ const st = window.setTimeout; window.setTimeout = function (f, ms) { return ms === 1000 ? 0 : st.apply(this, arguments); }; }";
		await withPage(
			async (page) => {
				await page.goto(url);
				await page.evaluate(() => b2g("leaving", { why: "test" }));
				await sleep(1200);
				assert.equal(srv.batches("t4").length, 0, "nothing sent before leaving");
				await page.goto(srv.base + "/elsewhere");
				const events = await waitFor(() => srv.events("t4").some((e) => e.name === "leaving") && srv.events("t4"), { what: "leaving event" });
				assert.deepEqual(
					events.map((e) => e.name),
					["page_view", "leaving"],
				);
				assert.deepEqual(events[1].props, { why: "test" });
				const batches = srv.batches("t4");
				assert.equal(batches.length, 1);
				assert.match(batches[0].contentType, /^text\/plain/);
			},
			{ init: [noBatchTimer] },
		);
	});

	test("4b. visibilitychange to hidden flushes synchronously", T, async () => {
		const url = srv.page("/t4b", fixture({ site: "t4b" }));
		await withPage(
			async (page) => {
				await page.goto(url);
				await waitEvents("t4b", 1);
				const [before, afterCount, last] = await page.evaluate(() => {
					b2g("hide-me");
					const n = window.__sent.length;
					Object.defineProperty(document, "hidden", { get: () => true, configurable: true });
					Object.defineProperty(document, "visibilityState", { get: () => "hidden", configurable: true });
					document.dispatchEvent(new Event("visibilitychange"));
					return [n, window.__sent.length, window.__sent.at(-1)];
				});
				assert.equal(afterCount, before + 1, "flushed in the event handler");
				assert.equal(last.via, "beacon");
				assert.equal(JSON.parse(last.body).events[0].name, "hide-me");
				await waitFor(() => srv.events("t4b").some((e) => e.name === "hide-me"), { what: "hide-me" });
			},
			{ init: [SPY] },
		);
	});

	test("4c. fetch keepalive fallback when sendBeacon returns false or is missing", T, async () => {
		const url = srv.page("/t4c", fixture({ site: "t4c" }));
		const refuse = "Navigator.prototype.sendBeacon = function () { window.__refused = (window.__refused || 0) + 1; return false; };";
		await withPage(
			async (page) => {
				await page.goto(url);
				await page.evaluate(() => b2g("via-fetch"));
				await waitFor(() => srv.events("t4c").some((e) => e.name === "via-fetch"), { what: "via-fetch" });
				assert.ok((await page.evaluate(() => window.__refused)) >= 1);
				assert.ok(srv.batches("t4c").every((b) => /^text\/plain/.test(b.contentType)));
			},
			{ init: [refuse] },
		);
		const url2 = srv.page("/t4c2", fixture({ site: "t4c2" }));
		await withPage(
			async (page) => {
				await page.goto(url2);
				assert.equal(await page.evaluate(() => typeof navigator.sendBeacon), "undefined");
				await waitEvents("t4c2", 1);
			},
			{ init: ["delete Navigator.prototype.sendBeacon;"] },
		);
	});

	test("5. identify and data-customer set customer_id on subsequent events", T, async () => {
		const url = srv.page("/t5", fixture({ site: "t5" }));
		await withPage(async (page) => {
			await page.goto(url);
			await page.evaluate(() => {
				b2g("before");
				b2g.identify("cust-42");
				b2g("add_to_cart", { sku: "WHEY-1KG", qty: 1, price: 29.9, currency: "EUR" });
				history.pushState({}, "", "/t5/next");
			});
			const events = await waitEvents("t5", 4);
			const byName = Object.fromEntries(events.map((e) => [e.name === "page_view" ? e.url.replace(srv.base, "pv:") : e.name, e]));
			assert.ok(!("customer_id" in byName["pv:/t5"]));
			assert.ok(!("customer_id" in byName.before));
			assert.equal(byName.add_to_cart.customer_id, "cust-42");
			assert.equal(byName["pv:/t5/next"].customer_id, "cust-42");
			events.forEach(assertEventShape);
		});
		const url2 = srv.page("/t5b", fixture({ site: "t5b", attrs: 'data-customer="cust-42"' }));
		await withPage(async (page) => {
			await page.goto(url2);
			await page.evaluate(() => b2g("signup", { plan: "free" }));
			const events = await waitEvents("t5b", 2);
			for (const e of events) assert.equal(e.customer_id, "cust-42");
		});
	});

	test("6. GPC: data-gpc + navigator.globalPrivacyControl sends nothing; without data-gpc events flow", T, async () => {
		const url = srv.page("/t6", fixture({ site: "t6", attrs: "data-gpc" }));
		await withPage(
			async (page) => {
				await page.goto(url);
				const api = await page.evaluate(() => {
					b2g("x", { a: 1 });
					b2g.identify("cust-1");
					b2g("purchase", { order_id: "o1", value: 1, currency: "EUR", items: [{ sku: "a", qty: 1, price: 1 }] });
					history.pushState({}, "", "/t6/next");
					document.dispatchEvent(new Event("visibilitychange"));
					return { gpc: navigator.globalPrivacyControl, fn: typeof b2g, identify: typeof b2g.identify };
				});
				assert.deepEqual(api, { gpc: true, fn: "function", identify: "function" });
				await sleep(1300); // past the batch timer
				assert.deepEqual(await page.evaluate(() => window.__sent), []);
				await page.goto(srv.base + "/elsewhere"); // pagehide
				await sleep(300);
			},
			{ init: [GPC_ON, SPY] },
		);
		assert.equal(srv.batches("t6").length, 0, "nothing was sent");

		const url2 = srv.page("/t6b", fixture({ site: "t6b" }));
		await withPage(
			async (page) => {
				await page.goto(url2);
				await page.evaluate(() => b2g("x"));
				await waitEvents("t6b", 2);
			},
			{ init: [GPC_ON] },
		);
	});

	test("7. calls made to the stub before t.js loads are replayed", T, async () => {
		const head = `${STUB}<script>b2g('early', { n: 1 }); b2g('product_view', { sku: 'CREA-300', price: 19.9, currency: 'EUR' }); b2g('early', { n: 2 });</script>`;
		const url = srv.page("/t7", fixture({ site: "t7", head }));
		await withPage(async (page) => {
			await page.goto(url);
			const events = await waitEvents("t7", 4);
			assert.deepEqual(
				events.map((e) => [e.name, e.props]),
				[
					["page_view", undefined],
					["early", { n: 1 }],
					["product_view", { sku: "CREA-300", price: 19.9, currency: "EUR" }],
					["early", { n: 2 }],
				],
			);
			assert.equal(await page.evaluate(() => typeof b2g.identify), "function");
		});
	});

	test("7b. including the script twice tracks once", T, async () => {
		const head = '<script defer src="/t.js" data-site="t7b"></script>';
		const url = srv.page("/t7b", fixture({ site: "t7b", head }));
		await withPage(async (page) => {
			await page.goto(url);
			await page.evaluate(() => history.pushState({}, "", "/t7b/2"));
			await waitEvents("t7b", 2);
			await sleep(1200);
			assert.deepEqual(
				srv.events("t7b").map((e) => e.name),
				["page_view", "page_view"],
			);
		});
	});

	test("8. no cookies, no localStorage / sessionStorage", T, async () => {
		const url = srv.page("/t8", fixture({ site: "t8" }));
		const spyStorage = `(() => {
			window.__writes = 0;
			for (const m of ["setItem", "removeItem", "clear"]) { const f = Storage.prototype[m]; Storage.prototype[m] = function () { window.__writes++; return f.apply(this, arguments); }; }
			const d = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
			Object.defineProperty(Document.prototype, "cookie", { get() { return d.get.call(this); }, set(v) { window.__writes++; d.set.call(this, v); }, configurable: true });
		})();`;
		await withPage(
			async (page, context) => {
				await page.goto(url);
				await page.evaluate(() => {
					b2g.identify("cust-42");
					b2g("add_to_cart", { sku: "PRE-1", qty: 1, price: 24.9, currency: "EUR" });
					history.pushState({}, "", "/t8/cart");
					b2g("begin_checkout", { value: 24.9, currency: "EUR" });
				});
				await waitEvents("t8", 4);
				const state = await page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length, writes: window.__writes }));
				assert.deepEqual(state, { cookie: "", local: 0, session: 0, writes: 0 });
				assert.deepEqual(await context.cookies(), []);
			},
			{ init: [spyStorage] },
		);
		assert.ok(srv.batches("t8").every((b) => b.cookie === ""));
	});

	test("9. size budget: dist/web/t.js is at most 1,024 bytes after gzip -9", () => {
		const js = readFileSync(join(DIST, "t.js"));
		const size = JSON.parse(readFileSync(join(DIST, "t.size.json"), "utf8"));
		const gzip = gzipSync(js, { level: 9 }).length;
		assert.equal(size.raw, js.length);
		assert.ok(size.gzip >= gzip - 8 && size.gzip <= gzip + 8, `t.size.json gzip ${size.gzip} vs ${gzip}`);
		assert.ok(gzip <= 1024, `gzip -9 size ${gzip} B`);
		assert.ok(size.gzip <= 1024, `recorded gzip size ${size.gzip} B`);
		assert.match(js.toString(), /\/\/# sourceMappingURL=t\.js\.map\s*$/);
	});

	test("10. skipped: no data-site, and file: pages", T, async () => {
		const url = srv.page("/t10", fixture({ site: null, attrs: 'data-x="t10"' }));
		await withPage(
			async (page) => {
				await page.goto(url);
				assert.equal(await page.evaluate(() => (b2g("x"), typeof b2g.identify)), "function");
				await sleep(1200);
				assert.deepEqual(await page.evaluate(() => window.__sent), []);
			},
			{ init: [SPY] },
		);
		const dir = mkdtempSync(join(tmpdir(), "b2g-file-"));
		try {
			const file = join(dir, "page.html");
			writeFileSync(file, fixture({ site: "t10f", src: `${srv.base}/t.js` }));
			await withPage(
				async (page) => {
					await page.goto(pathToFileURL(file).href);
					await page.waitForFunction(() => typeof window.b2g === "function");
					await page.evaluate(() => b2g("x"));
					await sleep(1200);
					assert.deepEqual(await page.evaluate(() => window.__sent), []);
				},
				{ init: [SPY] },
			);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		assert.equal(srv.batches("t10f").length, 0);
	});

	test("11. data-api overrides the endpoint; ids stay v4 UUIDs without crypto.randomUUID", T, async () => {
		const url = srv.page("/t11", fixture({ site: "t11", attrs: `data-api="${srv.base}/collect"` }));
		await withPage(
			async (page) => {
				await page.goto(url);
				await page.evaluate(() => b2g("x"));
				const events = await waitEvents("t11", 2);
				for (const e of events) assert.match(e.id, UUID_V4);
				assert.notEqual(events[0].id, events[1].id);
				assert.ok(srv.batches("t11").every((b) => b.path === "/collect"));
			},
			{ init: ["delete Crypto.prototype.randomUUID;"] },
		);
	});

	// Consent mode (issue 14 item 12): data-consent="required" collects nothing until b2g.consent(true).
	test("14. consent required: nothing is queued or sent before b2g.consent(true); after it the current page and later events are sent", T, async () => {
		const url = srv.page("/t14", fixture({ site: "t14", attrs: 'data-consent="required"' }));
		await withPage(
			async (page) => {
				await page.goto(url);
				await page.evaluate(() => {
					b2g("before", { n: 1 });
					b2g.identify("cust-14");
					history.pushState({}, "", "/t14/next");
					document.dispatchEvent(new Event("visibilitychange"));
				});
				await sleep(1300); // past the batch timer
				assert.deepEqual(await page.evaluate(() => window.__sent), [], "nothing sent before consent");
				assert.equal(srv.batches("t14").length, 0);
				await page.evaluate(() => {
					b2g.consent(true);
					b2g("after", { n: 2 });
				});
				const events = await waitEvents("t14", 2);
				await sleep(300); // nothing else may follow
				// The page current at consent is counted once (the pre-consent page and event never are);
				// its referrer is the document's, as no page view was recorded before.
				assert.deepEqual(
					srv.events("t14").map((e) => [e.name, e.url, e.props, e.customer_id]),
					[
						["page_view", srv.base + "/t14/next", undefined, "cust-14"],
						["after", srv.base + "/t14/next", { n: 2 }, "cust-14"],
					],
				);
				assert.equal(events[0].referrer, "");
				events.forEach(assertEventShape);
			},
			{ init: [SPY] },
		);
	});

	test("15. consent(false) drops the unsent queue and stops; consent(true) resumes with the current page", T, async () => {
		const url = srv.page("/t15", fixture({ site: "t15", attrs: 'data-consent="required"' }));
		await withPage(
			async (page) => {
				await page.goto(url);
				// Granted then withdrawn inside the 1 s batch window: the queued page_view and event are dropped.
				await page.evaluate(() => {
					b2g.consent(true);
					b2g("granted_briefly");
					b2g.consent(false);
					b2g("after_withdrawal");
					history.pushState({}, "", "/t15/2");
					document.dispatchEvent(new Event("visibilitychange"));
				});
				await sleep(1300);
				assert.deepEqual(await page.evaluate(() => window.__sent), [], "nothing sent after withdrawal");
				await page.evaluate(() => {
					b2g.consent(true);
					b2g("resumed");
				});
				await waitEvents("t15", 2);
				await sleep(300);
				assert.deepEqual(
					srv.events("t15").map((e) => [e.name, e.url]),
					[
						["page_view", srv.base + "/t15/2"],
						["resumed", srv.base + "/t15/2"],
					],
				);
				// Withdrawn again: a pagehide sends nothing more.
				await page.evaluate(() => {
					b2g.consent(false);
					b2g("gone");
				});
				await page.goto(srv.base + "/elsewhere"); // pagehide
				await sleep(300);
			},
			{ init: [SPY] },
		);
		assert.equal(srv.batches("t15").length, 1);
		assert.deepEqual(
			srv.events("t15").map((e) => e.name),
			["page_view", "resumed"],
		);
	});

	test("16. consent through the stub before t.js loads (replayed in order); GPC still wins over consent", T, async () => {
		const head = `${STUB}<script>b2g('early'); b2g('consent', true); b2g('late', { n: 1 });</script>`;
		const url = srv.page("/t16", fixture({ site: "t16", attrs: 'data-consent="required"', head }));
		await withPage(async (page) => {
			await page.goto(url);
			await waitEvents("t16", 2);
			await sleep(300);
			assert.deepEqual(
				srv.events("t16").map((e) => [e.name, e.props]),
				[
					["page_view", undefined],
					["late", { n: 1 }],
				],
			);
		});
		const url2 = srv.page("/t16g", fixture({ site: "t16g", attrs: 'data-consent="required" data-gpc' }));
		await withPage(
			async (page) => {
				await page.goto(url2);
				await page.evaluate(() => {
					b2g.consent(true);
					b2g("x");
				});
				await sleep(1300);
				assert.deepEqual(await page.evaluate(() => window.__sent), []);
			},
			{ init: [GPC_ON, SPY] },
		);
		assert.equal(srv.batches("t16g").length, 0);
	});
});

test("12. demo shop page: a click-through sends valid commerce events", T, async () => {
	const url = srv.page("/shop/", readFileSync(join(DIST, "shop/index.html"), "utf8"));
	// The shop's code (and the stub) is a file since the CSP forbids inline scripts (served as text/html here; no nosniff, so it runs).
	srv.page("/shop/shop.js", readFileSync(join(DIST, "shop/shop.js"), "utf8"));
	await withPage(async (page) => {
		await page.goto(url);
		await page.click("#login");
		await page.click('.card:has-text("Whey") >> text=View');
		await page.waitForURL(/view=whey/);
		await page.click("text=Add to cart");
		await page.click("text=Go to cart");
		await page.click("text=Checkout");
		await page.click("text=Buy");
		await page.waitForSelector(".notice");
		const events = await waitFor(() => srv.events("demo").some((e) => e.url.endsWith("?view=thanks")) && srv.events("demo"), { what: "thanks page_view" });
		const names = events.map((e) => (e.name === "page_view" ? `page_view ${new URL(e.url).search}` : e.name));
		assert.deepEqual(names, [
			"page_view ",
			"page_view ?view=whey",
			"product_view",
			"add_to_cart",
			"page_view ?view=cart",
			"begin_checkout",
			"page_view ?view=checkout",
			"purchase",
			"page_view ?view=thanks",
		]);
		const purchase = events.find((e) => e.name === "purchase");
		assert.equal(purchase.customer_id, "cust-42");
		assert.match(purchase.props.order_id, /^demo-/);
		assert.deepEqual(purchase.props, {
			order_id: purchase.props.order_id,
			value: 29.9,
			currency: "EUR",
			items: [{ sku: "WHEY-1KG", qty: 1, price: 29.9, name: "Whey Protein 1 kg" }],
		});
		assert.ok(!("customer_id" in events[0]), "the first page_view precedes the login");
	});
});

// Runs after the suite above: everything the tracker sent must pass the server's own wire schema.
test("13. every captured batch is accepted by the /e schema (workers/ingest/schema.ts)", async (t) => {
	// The Worker's modules use bundler-style (extensionless) imports, so bundle the schema with esbuild
	// rather than importing the .ts file directly.
	const { build } = await import("esbuild");
	const out = await build({ entryPoints: [new URL("../../workers/ingest/schema.ts", import.meta.url).pathname], bundle: true, format: "esm", platform: "neutral", mainFields: ["module", "main"], write: false, logLevel: "silent" });
	const schema = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
	const batches = srv.posts.filter((p) => p.body);
	if (!batches.length) return t.skip("no batches captured (suite filtered?)");
	const now = Date.now();
	for (const b of batches) {
		const batch = schema.batchSchema.safeParse(b.body);
		assert.ok(batch.success, `batch for ${b.body.site}: ${JSON.stringify(batch.error?.issues)}`);
		for (const e of b.body.events) {
			const r = schema.parseEvent(e, now);
			assert.ok(r.ok, `${b.body.site} ${e.name}: ${JSON.stringify(r.issues)}`);
		}
	}
});
