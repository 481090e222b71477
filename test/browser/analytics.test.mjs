/**
 * The dashboard's nightly customer analytics in real Chromium against a real local stack (wrangler dev +
 * the small demo store of test/browser/dashboard-stack.mjs): before any run every view says the analytics
 * run nightly and the admin's "Run" button starts one (POST /jobs/nightly/run, polling GET /jobs/{id});
 * a second run through the API gives the segment movement two days to compare. Then every new page and
 * section — customer segments and lifetime value, cohorts, market basket, the customer profile's scores,
 * the product page's "bought together", the executive page's CLV card and cohort view — shows numbers
 * equal to its API's answer (every element with data-src + data-path, plus explicit checks of segment
 * counts, retention cells, rule lifts and the top customer's CLV), CSVs hold the API's rows, filters and
 * toggles live in the URL, the operations role sees no CLV money (which the API refuses it), and every
 * page fits 375 px in the dark theme.
 *
 * Run after the build:  npm run build && npx node --test test/browser/analytics.test.mjs
 * Screenshots go to dist/test-artifacts/analytics/; with UPDATE_SCREENSHOTS=1 four of them are also
 * copied to docs/screenshots/ (cohorts.png, basket.png, customers-segments.png, customer-profile-analytics.png).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sleep, waitFor } from "./harness.mjs";
import { describe, test } from "node:test";
import { analyticsSession, DESKTOP, SITE } from "./analytics-session.mjs";

const session = analyticsSession({ name: "analytics.test.mjs", artefacts: "analytics" });
const { newContext, signIn, settled, open, pageApi, api, screenshot, clipOf, noHorizontalOverflow, assertSourcesMatchApi, downloadCsv, csvIs, assertEveryTableHasCsv, rowCount, pct, eur, runNightly } = session;

const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** The runs the checks need: the latest day (yesterday) and one 35 days earlier (for the movement matrix); started through the API when a test before did not. */
const runs = { latest: null, earlier: null };
async function ensureRuns() {
	if (!runs.latest) {
		const { runs: list } = await session.stack.api("GET", `/api/v1/jobs?site=${SITE}`);
		runs.latest = list.find((r) => r.status === "complete")?.as_of ?? (await runNightly()).as_of;
	}
	if (!runs.earlier) runs.earlier = (await runNightly(addDays(runs.latest, -35))).as_of;
	return runs;
}

// ─── the tests ───────────────────────────────────────────────────────────────────────────────────

describe("nightly customer analytics in the dashboard", () => {
	let admin;
	let page;

	test("before any run every view says the analytics run nightly; the admin's button runs them and the page fills in", { timeout: 150_000 }, async () => {
		admin = await newContext();
		page = await signIn(admin, "admin@example.com", "admin");
		const none = await pageApi(page, `/api/v1/segments?site=${SITE}`);
		assert.equal(none.status, 404);
		assert.equal(none.body.error, "no_results");

		const customer = (await api(page, `/api/v1/customers?site=${SITE}&limit=1`)).customers[0].id;
		const empties = [
			["/cohorts", "cohorts"],
			["/basket", "basket"],
			["/customers", "segments"],
			[`/customers/${customer}`, "customer-analytics"],
			["/", "clv"],
			["/", "retention-mini"],
		];
		for (const [path, panel] of empties) {
			await open(page, path);
			await page.waitForSelector(`[data-panel="${panel}"][data-state="empty"]`);
			assert.match(await page.textContent(`[data-panel="${panel}"]`), /nightly/i, `${path}: ${panel} explains the nightly run`);
			assert.deepEqual(await page.$$eval('[data-state="error"]', (els) => els.map((e) => e.dataset.panel)), [], `${path}: no panel in its error state`);
		}
		await open(page, "/cohorts");
		assert.match(await page.textContent('[data-panel="cohorts"]'), /after 03:00/);
		await screenshot(page, "no-run-yet");

		// Not an admin: the explanation without the button.
		const analystContext = await newContext();
		try {
			const analyst = await signIn(analystContext, "analyst@example.com", "analyst");
			await open(analyst, "/cohorts");
			await analyst.waitForSelector('[data-panel="cohorts"][data-state="empty"]');
			assert.equal(await analyst.$("button[data-run-nightly]"), null, "only admins can start a run");
		} finally {
			await analystContext.close();
		}

		// The admin runs it from the page: POST, then polling, then the panels load without a reload.
		await page.evaluate(() => (window.__notReloaded = true));
		await page.click("button[data-run-nightly]");
		await page.waitForSelector('[data-run-state="running"]');
		await page.waitForSelector('[data-panel="retention"][data-state="ready"] table[data-table="retention"]', { timeout: 120_000 });
		assert.equal(await page.evaluate(() => window.__notReloaded), true, "no reload");
		const { runs: list } = await api(page, `/api/v1/jobs?site=${SITE}`);
		const run = list.find((r) => r.status === "complete");
		assert.ok(run && run.trigger === "manual" && run.id.startsWith("manual-"), `a manual run completed: ${JSON.stringify(list.map((r) => [r.id, r.status]))}`);
		assert.deepEqual(
			run.steps.map((s) => s.status),
			run.steps.map(() => "complete"),
		);
		runs.latest = run.as_of;
		assert.deepEqual(admin.errors, []);
	});

	test("customers page: segment sizes, movement, a segment's customers and lifetime value equal the APIs'", { timeout: 150_000 }, async () => {
		const { latest, earlier } = await ensureRuns();
		page ??= await signIn((admin ??= await newContext()), "admin@example.com", "admin");
		await open(page, "/customers");
		await page.waitForSelector('[data-panel="segments"][data-state="ready"] table[data-table="segments"]');
		const { count } = await assertSourcesMatchApi(page);
		assert.ok(count >= 150, `overview, segment, movement and CLV numbers checked (${count})`);

		// Segment sizes: eleven segments, their counts and the action text, also in the CSV.
		const seg = await api(page, `/api/v1/segments?site=${SITE}`);
		assert.equal(seg.as_of, latest);
		assert.equal(seg.segments.length, 11);
		const shownCounts = await page.$$eval('table[data-table="segments"] tbody tr', (rows) => rows.map((r) => [r.cells[0].textContent, Number(r.cells[1].querySelector("[data-value]").dataset.value)]));
		assert.deepEqual(
			shownCounts.map(([, n]) => n),
			seg.segments.map((s) => s.customers),
			"segment counts",
		);
		assert.equal(shownCounts.reduce((a, [, n]) => a + n, 0), seg.customers);
		const segCsv = await downloadCsv(page, '[data-panel="segments"] button[data-csv]');
		assert.equal(segCsv.rows.length, 11);
		seg.segments.forEach((s, i) => {
			const r = segCsv.rows[i];
			assert.ok(csvIs(r.Segment, s.segment) && csvIs(r.Customers, s.customers) && csvIs(r["Share of revenue"], s.revenue_share) && csvIs(r.Revenue, s.revenue) && csvIs(r["What to do"], s.action), `segment CSV row ${i}: ${JSON.stringify(r)}`);
		});

		// Movement: the earlier run against the latest, every cell = the API's counts.
		const mv = await api(page, `/api/v1/segments/movement?site=${SITE}`);
		assert.equal(mv.to, latest);
		assert.equal(mv.from, earlier, "compared with the kept day at least 28 days before");
		assert.equal(await page.$$eval('[data-panel="segment-movement"] td [data-path^="counts."]', (els) => els.length), mv.labels.length ** 2, "the whole matrix");
		const moved = mv.counts.flat().reduce((a, b) => a + b, 0);
		assert.ok(moved > 0);
		assert.equal(await page.inputValue('select[name="movement_from"]'), earlier);

		// A segment's customers: the largest by default order, Load more, links to profiles, CSV; another segment from the table.
		const first = seg.segments.find((s) => s.customers > 0);
		assert.match(await page.textContent('[data-panel="segment-customers"] h2'), new RegExp(first.segment.replace(/_/g, " ")));
		assert.equal((await page.textContent(`[data-segment-action="${first.segment}"]`)).replace(/^What to do/, ""), first.action);
		const ids = () => page.$$eval('table[data-table="segment-customers"] a[data-customer]', (as) => as.map((a) => a.dataset.customer));
		const page1 = await api(page, `/api/v1/segments/${first.segment}/customers?site=${SITE}&sort=monetary&limit=50`);
		assert.deepEqual(await ids(), page1.customers.slice(0, 25).map((c) => c.customer_id));
		if (page1.total > 25) {
			await page.click('[data-panel="segment-customers"] button[data-load-more]');
			await page.waitForFunction((n) => document.querySelectorAll('table[data-table="segment-customers"] tbody tr').length === n, Math.min(50, page1.total));
			assert.deepEqual(await ids(), page1.customers.map((c) => c.customer_id), "load more appends the next page");
		}
		const scsv = await downloadCsv(page, '[data-panel="segment-customers"] button[data-csv]');
		assert.deepEqual(
			scsv.rows.map((r) => [r.Customer, Number(r.Revenue), Number(r.R)]),
			page1.customers.slice(0, scsv.rows.length).map((c) => [c.customer_id, c.monetary, c.r]),
		);
		const all = await page.getAttribute("a[data-segment-csv]", "href");
		const full = await page.evaluate(async (u) => (await fetch(u)).text(), all);
		assert.equal(full.trim().split("\n").length, page1.total + 1, "the API's CSV of the whole segment");
		const other = seg.segments.filter((s) => s.customers > 0).at(-2);
		await page.click(`table[data-table="segments"] button[data-segment="${other.segment}"]`);
		await page.waitForFunction((s) => new URL(location.href).searchParams.get("segment") === s && document.querySelector(`[data-segment-action="${s}"]`), other.segment);
		await settled(page);
		const otherList = await api(page, `/api/v1/segments/${other.segment}/customers?site=${SITE}&sort=monetary&limit=25`);
		await waitFor(async () => JSON.stringify(await ids()) === JSON.stringify(otherList.customers.map((c) => c.customer_id)), { what: `${other.segment}'s customers` });

		// Lifetime value: the total, the top customer's CLV (linking to the profile), the distribution and P(alive).
		const clv = await api(page, `/api/v1/clv/customers?site=${SITE}&sort=clv&limit=100`);
		assert.ok(clv.customers.length > 0 && clv.total_clv > 0, "the demo store has enough history for the model");
		assert.equal(Number(await page.getAttribute('[data-panel="clv-summary"] [data-path="total_clv"]', "data-value")), clv.total_clv);
		assert.equal((await page.textContent('[data-panel="clv-summary"] [data-path="total_clv"]')).trim(), eur(clv.total_clv));
		const top = await page.$eval('table[data-table="clv-top"] tbody tr', (r) => [r.querySelector("a[data-customer]").dataset.customer, Number(r.querySelector('[data-path$=".clv"]').dataset.value), r.querySelector('[data-path$=".clv"]').textContent]);
		assert.deepEqual(top, [clv.customers[0].customer_id, clv.customers[0].clv, eur(clv.customers[0].clv)], "top customer by CLV");
		assert.equal(await rowCount(page, "clv-distribution"), clv.distribution.length);
		assert.equal(await rowCount(page, "p-alive"), clv.p_alive_by_recency.length);
		for (const id of ["clv-distribution", "p-alive", "clv-holdout"]) assert.ok(await page.$(`[data-chart="${id}"] canvas`), `chart ${id}`);
		const scored = clv.distribution.reduce((a, b) => a + b.customers, 0);
		assert.ok(Math.abs(Number(await page.getAttribute('[data-derived="clv_mean"]', "data-value")) - clv.total_clv / scored) < 1e-9);
		await page.selectOption('[data-panel="clv-top"] select[name="sort"]', "p_alive");
		await page.waitForFunction(() => new URL(location.href).searchParams.get("clv_sort") === "p_alive");
		await settled(page);
		const byAlive = await api(page, `/api/v1/clv/customers?site=${SITE}&sort=p_alive&limit=100`);
		await waitFor(async () => (await page.$eval('table[data-table="clv-top"] tbody tr a[data-customer]', (a) => a.dataset.customer)) === byAlive.customers[0].customer_id, { what: "the list by P(alive)" });

		await assertEveryTableHasCsv(page);
		// The section as a reader first sees it (default segment and sort).
		await open(page, "/customers");
		await page.waitForSelector('[data-panel="segment-movement"][data-state="ready"]');
		await sleep(300);
		await screenshot(page, "customers-segments", { docs: "customers-segments", clip: await clipOf(page, { from: "#segments-section", to: '[data-panel="segment-movement"]' }) });
		await screenshot(page, "customers-lifetime-value", { clip: await clipOf(page, { from: "#clv-section" }) });
		assert.deepEqual(admin.errors, []);
	});

	test("cohorts page: retention triangle, revenue curves, channels and product adoption equal the APIs'; grain and scope in the URL", { timeout: 120_000 }, async () => {
		await ensureRuns();
		await page.click('nav a[data-nav="/cohorts"]');
		await page.waitForSelector('[data-page="cohorts"]');
		await settled(page);
		const { count } = await assertSourcesMatchApi(page);
		assert.ok(count > 100, `cohort cells checked (${count})`);
		const ret = await api(page, `/api/v1/cohorts/retention?site=${SITE}&grain=month`);
		const cohorts = ret.result.cohorts;
		assert.ok(cohorts.length >= 12, "14 months of store: a year of monthly cohorts");
		// A retention cell: the oldest cohort's month 1, as text and raw.
		const cell = await page.$eval('[data-cohort="' + cohorts[0].cohort + '"][data-k="1"]', (e) => [e.textContent, Number(e.dataset.value)]);
		assert.deepEqual(cell, [pct(cohorts[0].periods[1].pct), cohorts[0].periods[1].pct]);
		assert.equal(await rowCount(page, "retention"), cohorts.length + 1, "one row per cohort and the weighted row");
		const partial = cohorts.reduce((n, c) => n + c.periods.filter((p) => p.partial).length, 0);
		assert.ok(partial > 0, "the month in progress is partial");
		assert.equal(await page.$$eval('table[data-table="retention"] td.partial', (e) => e.length), partial, "partial periods are marked");
		assert.match(await page.getAttribute('table[data-table="retention"] td.partial', "title"), /in progress/);
		// Revenue per customer: the curves and the table.
		assert.ok(await page.$('[data-chart="cohort-revenue"] canvas'));
		const rev = await api(page, `/api/v1/cohorts/revenue?site=${SITE}&grain=month`);
		const last = rev.result.cohorts[0].periods.at(-1);
		assert.equal(
			await page.$eval(`[data-path="result.cohorts.0.periods.${last.k}.cumulativeRevenuePerCustomerMinor"]`, (e) => e.textContent),
			eur(last.cumulativeRevenuePerCustomerMinor / 100),
		);
		const csv = await downloadCsv(page, '[data-panel="retention"] button[data-csv]');
		assert.equal(csv.rows.length, cohorts.length + 1);
		assert.ok(csvIs(csv.rows[0].M1, cohorts[0].periods[1].pct) && csvIs(csv.rows[0].Customers, cohorts[0].size), JSON.stringify(csv.rows[0]));
		const channels = await api(page, `/api/v1/cohorts/channel?site=${SITE}&grain=month`);
		assert.equal(await rowCount(page, "cohort-channels"), channels.result.channels.length);
		const adoption = await api(page, `/api/v1/cohorts/product?site=${SITE}`);
		assert.equal(await rowCount(page, "adoption"), adoption.result.categories.length);
		await assertEveryTableHasCsv(page);
		await screenshot(page, "cohorts", { docs: "cohorts" });

		// Weekly cohorts, then only those starting in the view's range: held in the URL, the data follows.
		await page.click('[data-toggle="cohort_grain"] button[data-value="week"]');
		await page.waitForFunction(() => new URL(location.href).searchParams.get("cohort_grain") === "week" && document.querySelector('[data-src*="grain=week"]'));
		await settled(page);
		await assertSourcesMatchApi(page);
		assert.match(await page.textContent('table[data-table="retention"] thead'), /W1/);
		await page.click('[data-toggle="cohorts"] button[data-value="range"]');
		await page.waitForFunction(() => new URL(location.href).searchParams.get("cohorts") === "range" && document.querySelector('[data-src*="from="]'));
		await settled(page);
		const view = Object.fromEntries(new URL(page.url()).searchParams);
		const ranged = await api(page, `/api/v1/cohorts/retention?site=${SITE}&grain=week&from=${view.from}&to=${view.to}`);
		assert.ok(ranged.result.cohorts.every((c) => c.start >= addDays(view.from, -6) && c.start <= view.to));
		assert.equal(await rowCount(page, "retention"), ranged.result.cohorts.length + 1);
		await assertSourcesMatchApi(page);
		assert.deepEqual(admin.errors, []);
	});

	test("basket page: rules with filters from the URL, cross-sell, bundles and seasonality equal the APIs'", { timeout: 120_000 }, async () => {
		await ensureRuns();
		await open(page, "/basket");
		await page.waitForSelector('[data-panel="rules"][data-state="ready"]');
		const { count } = await assertSourcesMatchApi(page);
		assert.ok(count > 20, `rule, bundle and seasonality numbers checked (${count})`);
		const rules = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&limit=200`);
		assert.ok(rules.rules.length > 0, "the demo store has product rules");
		const firstLift = await page.$eval('table[data-table="rules"] tbody tr [data-path$=".lift"]', (e) => [e.dataset.path, Number(e.dataset.value), e.textContent]);
		assert.deepEqual(firstLift, ["rules.0.lift", rules.rules[0].lift, rules.rules[0].lift.toFixed(2)], "the top rule's lift");
		const csv = await downloadCsv(page, '[data-panel="rules"] button[data-csv]');
		assert.equal(csv.rows.length, rules.rules.length);
		assert.ok(rules.rules.every((r, i) => csvIs(csv.rows[i].Bought, r.antecedent.join(" + ")) && csvIs(csv.rows[i].Lift, r.lift) && csvIs(csv.rows[i].Confidence, r.confidence)), "rules CSV = the API's rules");

		// Filters: percent inputs, fractions in the URL and the API query; every shown rule passes them.
		await page.fill('input[name="min_confidence"]', "20");
		await page.fill('input[name="min_lift"]', "5");
		await page.click('[data-panel="rules"] button[type="submit"]');
		await page.waitForFunction(() => {
			const q = new URL(location.href).searchParams;
			return q.get("min_confidence") === "0.2" && q.get("min_lift") === "5";
		});
		await settled(page);
		const filtered = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&min_confidence=0.2&min_lift=5&limit=200`);
		await waitFor(async () => (await rowCount(page, "rules")) === Math.min(25, filtered.rules.length), { what: "the filtered rules" });
		assert.equal(Number(await page.getAttribute('[data-panel="rules"] [data-path="total"]', "data-value")), filtered.total);
		const shown = await page.$$eval('table[data-table="rules"] tbody tr', (rows) => rows.map((r) => [Number(r.querySelector('[data-path$=".confidence"]').dataset.value), Number(r.querySelector('[data-path$=".lift"]').dataset.value)]));
		assert.ok(shown.every(([c, l]) => c >= 0.2 && l >= 5), "every rule passes the filters");
		await assertSourcesMatchApi(page);
		// The filters survive a reload (they are the URL), then category level.
		await page.reload();
		await settled(page);
		assert.equal(await page.inputValue('input[name="min_confidence"]'), "20");
		await page.selectOption('select[name="level"]', "category");
		await page.waitForFunction(() => new URL(location.href).searchParams.get("level") === "category");
		await settled(page);
		const cats = await api(page, `/api/v1/basket/rules?site=${SITE}&level=category&min_confidence=0.2&min_lift=5&limit=200`);
		assert.equal(await rowCount(page, "rules"), Math.min(25, cats.rules.length));
		if (cats.rules.length) assert.equal(await page.$('table[data-table="rules"] a[data-product]'), null, "categories are not product links");

		// Cross-sell: the top bundle's first SKU by default, another typed in.
		await open(page, "/basket");
		const bundles = await api(page, `/api/v1/basket/bundles?site=${SITE}`);
		assert.ok(bundles.bundles.length > 0);
		const sku = bundles.bundles[0].items[0];
		const cross = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&product=${encodeURIComponent(sku)}&limit=50`);
		assert.equal(await rowCount(page, "cross-sell"), Math.min(15, cross.rules.length));
		assert.ok(cross.rules.every((r) => r.antecedent.includes(sku)));
		const other = rules.rules.find((r) => r.antecedent[0] !== sku).antecedent[0];
		await page.fill('[data-panel="cross-sell"] input[name="sku"]', other);
		await page.press('[data-panel="cross-sell"] input[name="sku"]', "Enter");
		await page.waitForFunction((s) => new URL(location.href).searchParams.get("sku") === s, other);
		await settled(page);
		const cross2 = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&product=${encodeURIComponent(other)}&limit=50`);
		await waitFor(async () => (await rowCount(page, "cross-sell")) === Math.min(15, cross2.rules.length), { what: "the other product's rules" });
		assert.deepEqual(
			await page.$$eval('table[data-table="cross-sell"] tbody tr', (rows) => rows.map((r) => r.cells[1].textContent)),
			cross2.rules.slice(0, 15).map((r) => r.consequent.join(" + ")),
		);
		// Bundles and seasonality.
		assert.equal(await rowCount(page, "bundles"), Math.min(15, bundles.bundles.length));
		const b0 = await page.$eval('table[data-table="bundles"] tbody tr', (r) => [r.cells[0].textContent, Number(r.querySelector('[data-path$=".lift"]').dataset.value), r.cells[5].textContent]);
		assert.deepEqual(b0, [bundles.bundles[0].items.join(" + "), bundles.bundles[0].lift, bundles.bundles[0].margin === null ? "–" : eur(bundles.bundles[0].margin)]);
		assert.equal(await rowCount(page, "seasonality"), bundles.seasonality.length);
		if (bundles.seasonality.some((s) => s.index)) assert.ok(await page.$('[data-chart="seasonality"] canvas'));
		await assertSourcesMatchApi(page);
		await assertEveryTableHasCsv(page);
		await page.goto(`${session.stack.base}/basket?site=${SITE}`);
		await settled(page);
		await screenshot(page, "basket", { docs: "basket" });
		assert.deepEqual(admin.errors, []);
	});

	test("customer profile: scores, segment and action, history, P(alive), expected orders and CLV; product page: bought together", { timeout: 90_000 }, async () => {
		await ensureRuns();
		const clv = await api(page, `/api/v1/clv/customers?site=${SITE}&limit=1`);
		const id = clv.customers[0].customer_id;
		await open(page, "/customers");
		await page.waitForSelector('table[data-table="clv-top"] a[data-customer]');
		await page.click(`table[data-table="clv-top"] a[data-customer="${id}"]`);
		await page.waitForSelector(`[data-page="customer"][data-customer-id="${id}"]`);
		await settled(page);
		await page.waitForSelector('[data-panel="customer-analytics"][data-state="ready"]');
		await assertSourcesMatchApi(page);
		const profile = await api(page, `/api/v1/customers/${id}?site=${SITE}`);
		const a = profile.analytics;
		assert.ok(a && a.rfm && a.clv, "the profile has the nightly analytics");
		for (const k of ["r", "f", "m", "segment"]) assert.ok(await page.$(`[data-panel="customer-analytics"] [data-path="analytics.rfm.${k}"]`), `shows ${k}`);
		for (const k of ["p_alive", "expected_30", "expected_90", "expected_365", "expected_spend", "clv"]) assert.ok(await page.$(`[data-panel="customer-analytics"] [data-path="analytics.clv.${k}"]`), `shows ${k}`);
		assert.equal((await page.textContent('[data-path="analytics.clv.clv"]')).trim(), eur(a.clv.clv));
		assert.equal(a.clv.clv, clv.customers[0].clv, "the profile's CLV = the list's");
		assert.equal(await page.textContent('[data-panel="customer-analytics"] .action'), `Segment: ${a.rfm.segment.replace(/_/g, " ")}${a.rfm.action}`);
		assert.equal(await rowCount(page, "segment-history"), a.segment_history.length);
		assert.ok(a.segment_history.length >= 2, "both runs kept the customer's scores");
		await screenshot(page, "customer-profile-analytics", { docs: "customer-profile-analytics", clip: await clipOf(page, { to: '[data-panel="customer-analytics"]' }) });

		// Product page: the product-level rules with this SKU on the left.
		const { rules } = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&limit=1`);
		const sku = rules[0].antecedent[0];
		await open(page, `/products/${encodeURIComponent(sku)}`);
		await page.waitForSelector('[data-panel="bought-together"][data-state="ready"]');
		const together = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&product=${encodeURIComponent(sku)}&limit=20`);
		assert.equal(await rowCount(page, "bought-together"), Math.min(10, together.rules.length));
		assert.deepEqual(
			await page.$$eval('table[data-table="bought-together"] tbody tr', (rows) => rows.map((r) => [r.cells[1].textContent, Number(r.querySelector('[data-path$=".lift"]').dataset.value), Number(r.querySelector('[data-path$=".confidence"]').dataset.value)])),
			together.rules.slice(0, 10).map((r) => [r.consequent.join(" + "), r.lift, r.confidence]),
		);
		await assertSourcesMatchApi(page, '*="/basket/"');
		await screenshot(page, "product-bought-together", { clip: await clipOf(page, { from: '[data-panel="bought-together"]', to: '[data-panel="bought-together"]' }) });
		assert.deepEqual(admin.errors, []);
	});

	test("executive page: the lifetime value card and the last six monthly cohorts equal the APIs'", { timeout: 60_000 }, async () => {
		await ensureRuns();
		await page.click('nav a[data-nav="/"]');
		await page.waitForSelector('[data-page="executive"]');
		await settled(page);
		await page.waitForSelector('[data-panel="clv"][data-state="ready"]');
		await assertSourcesMatchApi(page);
		const clv = await api(page, `/api/v1/clv/customers?site=${SITE}&limit=1`);
		assert.equal((await page.textContent('[data-panel="clv"] [data-path="total_clv"]')).trim(), eur(clv.total_clv));
		const ret = await api(page, `/api/v1/cohorts/retention?site=${SITE}&grain=month`);
		assert.equal(await rowCount(page, "retention-mini"), Math.min(6, ret.result.cohorts.length));
		assert.deepEqual(
			await page.$$eval('table[data-table="retention-mini"] tbody th', (th) => th.map((t) => t.textContent)),
			ret.result.cohorts.slice(-6).map((c) => c.cohort),
		);
		assert.equal(await page.$$eval('table[data-table="retention-mini"] thead th', (th) => th.length), 2 + 6, "cohort, size and six periods");
		await screenshot(page, "executive-analytics", { clip: await clipOf(page, { from: '[data-panel="clv"]', to: '[data-panel="retention-mini"]' }) });
		assert.deepEqual(admin.errors, []);
	});

	test("roles: operations sees segments and the basket but no cohorts page and no CLV money (refused by the API); executives see both pages", { timeout: 90_000 }, async () => {
		await ensureRuns();
		const context = await newContext();
		try {
			const ops = await signIn(context, "ops@example.com", "operations");
			const nav = await ops.$$eval("nav a", (as) => as.map((a) => a.dataset.nav));
			assert.ok(nav.includes("/basket") && !nav.includes("/cohorts") && !nav.includes("/"), `operations navigation: ${nav.join(" ")}`);
			assert.equal((await pageApi(ops, `/api/v1/clv/customers?site=${SITE}`)).status, 403);
			assert.equal((await pageApi(ops, `/api/v1/clv/model?site=${SITE}`)).status, 403);
			await ops.goto(`${session.stack.base}/cohorts?site=${SITE}`);
			await ops.waitForFunction(() => location.pathname === "/operations");
			await open(ops, "/customers");
			await ops.waitForSelector('[data-panel="segments"][data-state="ready"]');
			assert.equal(await ops.$('[data-panel^="clv"], #clv-section, [data-panel="p-alive"]'), null, "no lifetime value section");
			assert.deepEqual(await ops.$$eval('[data-state="error"]', (els) => els.map((e) => e.dataset.panel)), []);
			await assertSourcesMatchApi(ops, '*="/segments"');
			const id = await ops.$eval('table[data-table="segment-customers"] a[data-customer]', (a) => a.dataset.customer);
			await open(ops, `/customers/${id}`);
			await ops.waitForSelector('[data-panel="customer-analytics"][data-state="ready"]');
			const profile = await api(ops, `/api/v1/customers/${id}?site=${SITE}`);
			assert.equal(profile.analytics.clv?.clv ?? null, null, "the API leaves CLV money out for operations");
			assert.ok(await ops.$('[data-path="analytics.clv.p_alive"]'), "P(alive) and expected orders are shown");
			assert.equal(await ops.$('[data-path="analytics.clv.clv"], [data-path="analytics.clv.expected_spend"]'), null, "no CLV money");
			assert.doesNotMatch(await ops.textContent('[data-panel="customer-analytics"]'), /Lifetime value|Expected spend/);
			await open(ops, "/basket");
			await ops.waitForSelector('[data-panel="rules"][data-state="ready"]');
			await assertSourcesMatchApi(ops);
			assert.deepEqual(context.errors, []);
		} finally {
			await context.close();
		}
		const execContext = await newContext();
		try {
			const exec = await signIn(execContext, "exec@example.com", "executive");
			const nav = await exec.$$eval("nav a", (as) => as.map((a) => a.dataset.nav));
			assert.ok(nav.includes("/cohorts") && nav.includes("/basket"), `executive navigation: ${nav.join(" ")}`);
			await exec.waitForSelector('[data-panel="clv"][data-state="ready"]');
			assert.equal(await exec.$("button[data-run-nightly]"), null);
			assert.deepEqual(execContext.errors, []);
		} finally {
			await execContext.close();
		}
	});

	test("keyboard: the cohort toggles, the rule filters and a segment are reachable and work with the keyboard", { timeout: 60_000 }, async () => {
		await open(page, "/cohorts");
		const tabTo = async (selector, max = 80) => {
			for (let i = 0; i < max; i++) {
				await page.keyboard.press("Tab");
				if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
			}
			throw new Error(`Tab never reached ${selector}`);
		};
		await page.focus("body");
		await tabTo('[data-toggle="cohort_grain"] button[data-value="week"]');
		await page.keyboard.press("Enter");
		await page.waitForFunction(() => new URL(location.href).searchParams.get("cohort_grain") === "week");
		assert.equal(await page.getAttribute('[data-toggle="cohort_grain"] button[data-value="week"]', "aria-pressed"), "true");
		await settled(page);
		await open(page, "/basket");
		await tabTo('input[name="min_lift"]');
		await page.keyboard.type("3");
		await page.keyboard.press("Enter");
		await page.waitForFunction(() => new URL(location.href).searchParams.get("min_lift") === "3");
		await open(page, "/customers");
		await page.waitForSelector('table[data-table="segments"] button[data-segment]');
		await page.focus('table[data-table="segments"] button[data-segment]');
		const name = await page.evaluate(() => document.activeElement.dataset.segment);
		await page.keyboard.press("Enter");
		await page.waitForFunction((s) => new URL(location.href).searchParams.get("segment") === s, name);
	});

	test("dark theme and 375 px: every analytics page fits the width and still shows its data", { timeout: 90_000 }, async () => {
		await ensureRuns();
		await page.setViewportSize({ width: 375, height: 812 });
		await page.goto(`${session.stack.base}/cohorts?site=${SITE}`);
		await settled(page);
		await page.click('button[aria-label^="Switch to dark"]');
		assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
		const clv = await api(page, `/api/v1/clv/customers?site=${SITE}&limit=1`);
		const { rules } = await api(page, `/api/v1/basket/rules?site=${SITE}&level=product&limit=1`);
		const paths = ["/cohorts", "/basket", "/customers", `/customers/${clv.customers[0].customer_id}`, `/products/${encodeURIComponent(rules[0].antecedent[0])}`, "/"];
		for (const path of paths) {
			await open(page, path);
			await sleep(300); // charts resize on the next frame
			assert.ok(await noHorizontalOverflow(page), `${path}: no horizontal overflow at 375 px`);
			assert.ok((await page.$$("[data-src]")).length > 0, `${path} shows its numbers at 375 px`);
			assert.deepEqual(await page.$$eval('[data-state="error"]', (els) => els.map((e) => e.dataset.panel)), [], `${path}: no panel in its error state`);
			if (path === "/cohorts") await screenshot(page, "cohorts-375px-dark");
			if (path === "/basket") await screenshot(page, "basket-375px-dark");
			if (path === "/customers") await screenshot(page, "customers-segments-375px-dark", { clip: await clipOf(page, { from: "#segments-section" }) });
		}
		await page.click('button[aria-label^="Switch to light"]');
		await page.setViewportSize(DESKTOP);
		assert.deepEqual(admin.errors, []);
	});
});
