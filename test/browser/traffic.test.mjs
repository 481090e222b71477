/**
 * The live demo (issue 15 item 4): the traffic simulator `npm start` runs (scripts/traffic.mjs) against a
 * real `wrangler dev` with a small demo store, and the Operations "Right now" panel of a signed-in admin
 * shows its visitors, page views, products and orders — without a reload, within a minute.
 * Run after the build:  node scripts/build-tracker.mjs && node scripts/build-dashboard.mjs && npx node --test test/browser/traffic.test.mjs
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTraffic } from "../../scripts/traffic.mjs";
import { startDashboardStack } from "./dashboard-stack.mjs";
import { launchBrowser, sleep, waitFor } from "./harness.mjs";
import { stopAll } from "./stack.mjs";

const SITE = "demo";
let stack;
let browser;
let launching;
let sim;

setTimeout(() => {
	console.error("traffic.test.mjs: still running after 300 s, giving up");
	process.exit(1);
}, 300_000).unref();

before(
	async () => {
		launching = launchBrowser();
		await Promise.all([launching.then((b) => (browser = b)), startDashboardStack({ site: SITE }).then((s) => (stack = s))]);
	},
	{ timeout: 180_000 },
);

after(
	async () => {
		await sim?.stop();
		await Promise.race([launching?.then((b) => b.close()).catch(() => {}), sleep(10_000)]);
		await stopAll();
	},
	{ timeout: 40_000 },
);

const liveValue = async (page, id) => Number(await page.getAttribute(`[data-live="${id}"]`, "data-value"));

describe("live demo traffic", () => {
	test("the Operations live panel shows simulated visitors, page views, products and orders within a minute", { timeout: 120_000 }, async () => {
		const { secret } = await stack.api("POST", `/api/v1/webhooks/secret?site=${SITE}`);
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" });
		try {
			const page = await context.newPage();
			await page.goto(await stack.loginLink("ops-live@example.com", "admin"));
			await page.goto(`${stack.base}/operations?site=${SITE}`);
			await page.waitForSelector('[data-live-status="live"]', { timeout: 30_000 });
			const before = { visitors: await liveValue(page, "active_users"), sales: await liveValue(page, "sales_today") };
			await page.evaluate(() => (window.__notReloaded = true));

			// A busier rate than npm start's default (12 sessions a minute at an average hour), to keep the test short.
			sim = await startTraffic({ url: stack.base, origin: stack.base, site: SITE, key: stack.adminKey, secret, rate: 15, seed: 5 });
			const startedAt = Date.now();
			await page.waitForFunction((v0) => Number(document.querySelector('[data-live="active_users"]')?.dataset.value) > v0, before.visitors, { timeout: 60_000, polling: 200 });
			const visitorsAfterMs = Date.now() - startedAt;
			// Orders come through the signed webhook at the end of a visit (tens of seconds in).
			await waitFor(() => sim.stats.orders > 0, { timeout: 90_000, interval: 250, what: "a simulated order" });
			// The panel's sales come from D1 orders, re-read by the live object at most every 30 s (COMMERCE_REFRESH_MS).
			await page.waitForFunction((s0) => Number(document.querySelector('[data-live="sales_today"]')?.dataset.value) > s0, before.sales, { timeout: 45_000, polling: 250 });
			assert.equal(await page.evaluate(() => window.__notReloaded), true, "no reload");
			assert.equal(sim.stats.failures, 0, `the simulator's requests all succeeded (${sim.stats.lastError})`);
			assert.ok(sim.stats.accepted > 0 && sim.stats.bots >= 0, JSON.stringify(sim.stats));

			// The panel agrees with the live API.
			const live = await stack.api("GET", `/api/v1/realtime?site=${SITE}`);
			assert.ok(live.visitorsNow >= 1, `visitorsNow ${live.visitorsNow}`);
			assert.ok(live.events60m > 0);
			assert.ok(live.topProducts.m60.length > 0, "top products of the last 60 minutes");
			console.log(`# simulated visitors on the panel ${visitorsAfterMs} ms after the simulator started; stats ${JSON.stringify({ ...sim.stats, lastError: undefined })}`);
			assert.ok(visitorsAfterMs < 60_000);
		} finally {
			await context.close();
		}
	});
});
