/**
 * The dashboard's predictive analytics in real Chromium against a real local stack (wrangler dev + the
 * small demo store of test/browser/dashboard-stack.mjs), after a nightly run started through the API:
 * the customers page's churn distribution, customers at risk and next best actions, the profile's churn
 * risk and recommendations, the product page's "recommended with" and the Models page show numbers equal
 * to their APIs (every element with data-src + data-path, plus explicit checks of a churn probability
 * and the churn model's ROC AUC beside its baseline's); the registry's promotion decision is stated; the
 * operations role sees no value at stake and no Models page; every new view fits 375 px. The executive
 * revenue trend's forecast band, the revenue.forecast and customers.churn cards, and the operations
 * month-end projection equal GET /forecast, /churn's summary and /forecast/projection; a refused forecast
 * shows the API's reason (no band; the run rate on operations).
 *
 * Run after the build:  npm run build && npx node --test test/browser/predict.test.mjs
 * Screenshots go to dist/test-artifacts/predict/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sleep } from "./harness.mjs";
import { describe, test } from "node:test";
import { analyticsSession, DESKTOP, SITE } from "./analytics-session.mjs";

const session = analyticsSession({ name: "predict.test.mjs", artefacts: "predict" });
const { newContext, signIn, settled, open, pageApi, api, screenshot, clipOf, noHorizontalOverflow, assertSourcesMatchApi, parseCsv, assertEveryTableHasCsv, rowCount, pct, runNightly, noErrorPanels } = session;

describe("predictive analytics in the dashboard", () => {
	let admin;
	let page;
	let atRisk;
	let models;

	test("before a run the predictive views say they come from the nightly run", { timeout: 90_000 }, async () => {
		admin = await newContext();
		page = await signIn(admin, "admin@example.com", "admin");
		const none = await pageApi(page, `/api/v1/churn?site=${SITE}`);
		if (none.status !== 404) return; // a run exists already (a reused stack)
		assert.equal(none.body.error, "no_results");
		await open(page, "/customers");
		await page.waitForSelector('[data-panel="churn"][data-state="empty"]');
		assert.match(await page.textContent('[data-panel="churn"]'), /nightly/i);
		assert.ok(await page.$('[data-panel="churn"] button[data-run-nightly]'), "the admin can run it now");
		await open(page, "/models");
		await page.waitForSelector('[data-panel="models"][data-state="empty"]');
		await noErrorPanels(page, "/models before a run");
		const customer = (await api(page, `/api/v1/customers?site=${SITE}&limit=1`)).customers[0].id;
		await open(page, `/customers/${customer}`);
		await page.waitForSelector('[data-panel="customer-churn"][data-state="empty"]');
		await page.waitForSelector('[data-panel="customer-recommendations"][data-state="empty"]');
		await noErrorPanels(page, "profile before a run");
	});

	test("customers page: churn distribution, customers at risk and next best actions equal their APIs", { timeout: 400_000 }, async () => {
		const latest = (await runNightly()).as_of;
		// The small store ends today, so whether this run's churn model beats its recency baseline depends on the day
		// (2026-12-04: holdout ROC AUC 0.859 against 0.870). A run whose model is not promoted scores customers with the
		// last promoted version: when there is none yet, earlier runs (a week apart) train one first, and today's run
		// is made again to use it — the registry's fallback, which the views below then show with their warning.
		if ((await pageApi(page, `/api/v1/churn?site=${SITE}&limit=1`)).status === 404) {
			const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
			let promoted = false;
			for (let k = 1; k <= 6 && !promoted; k++) {
				await runNightly(addDays(latest, -7 * k));
				promoted = (await api(page, `/api/v1/models?site=${SITE}`)).models.some((m) => m.name === "churn" && m.promoted);
			}
			assert.ok(promoted, "a churn model was promoted by one of the six earlier runs");
			await runNightly(latest);
		}
		models = await api(page, `/api/v1/models?site=${SITE}`);
		await open(page, "/customers");
		await page.waitForSelector('[data-panel="churn-distribution"][data-state="ready"]');
		await page.waitForSelector('[data-panel="next-actions"]:not([data-state="loading"])');
		await page.waitForSelector('[data-panel="churn-customers"]:not([data-state="loading"])');
		await noErrorPanels(page, "/customers");
		const { count } = await assertSourcesMatchApi(page, '*="/churn"');
		assert.ok(count >= 10, "the ten bins are shown");
		assert.equal(await rowCount(page, "churn-distribution"), 10);

		atRisk = await api(page, `/api/v1/churn?site=${SITE}&min_prob=0.5&limit=25`);
		if (atRisk.total === 0) {
			assert.equal(await page.getAttribute('[data-panel="churn-customers"]', "data-state"), "empty");
		} else {
			const first = atRisk.customers[0];
			assert.ok(first.probability >= 0.5);
			const shown = await page.$eval('table[data-table="churn-customers"] tbody tr [data-path="customers.0.probability"]', (e) => Number(e.dataset.value));
			assert.equal(shown, first.probability, "the first customer's churn probability equals the API's");
			assert.equal(await page.textContent('table[data-table="churn-customers"] tbody tr [data-path="customers.0.probability"]'), pct(first.probability));
			assert.equal(await page.$eval('table[data-table="churn-customers"] tbody tr a[data-customer]', (a) => a.dataset.customer), first.customer_id);
			const headers = await page.$$eval('table[data-table="churn-customers"] thead th', (t) => t.map((x) => x.textContent));
			assert.ok(headers.includes("Value at stake"), "the admin sees the value at stake");
			if (first.reasons[0]?.feature === "days_since_last_order") assert.match(await page.textContent('table[data-table="churn-customers"] tbody tr'), /days since the last order/);
			assert.equal(await rowCount(page, "churn-customers"), atRisk.customers.length);
			if (atRisk.next_cursor) {
				await page.click('[data-panel="churn-customers"] button[data-load-more]');
				await page.waitForFunction((n) => document.querySelectorAll('table[data-table="churn-customers"] tbody tr').length > n, atRisk.customers.length);
			}
			const href = await page.getAttribute("a[data-churn-csv]", "href");
			const csv = await page.evaluate(async (h) => (await fetch(h)).text(), href);
			const [header, ...lines] = parseCsv(csv);
			assert.equal(header[0], "customer_id");
			assert.equal(lines.filter((l) => l.length > 1).length, atRisk.total, "the CSV holds every customer at risk");
		}

		const actions = await api(page, `/api/v1/actions?site=${SITE}`);
		await assertSourcesMatchApi(page, '*="/actions"');
		for (const c of actions.counts) {
			const href = await page.getAttribute(`a[data-action-csv="${c.action}"]`, "href");
			assert.ok(href.includes(`type=${c.action}`) && href.includes("format=csv"), `${c.action} has its CSV`);
		}
		if (actions.counts.length) {
			const c = actions.counts[0];
			const csv = await page.evaluate(async (h) => (await fetch(h)).text(), await page.getAttribute(`a[data-action-csv="${c.action}"]`, "href"));
			assert.equal(parseCsv(csv).filter((l) => l.length > 1).length - 1, c.customers, `${c.action}: the CSV has its ${c.customers} customers`);
		}

		const churn = models.models.find((m) => m.name === "churn");
		if (churn && !churn.promoted) assert.match(await page.textContent("[data-churn-not-promoted]"), /does not beat its .*baseline/);
		else assert.equal(await page.$("[data-churn-not-promoted]"), null, "no warning while the churn model is promoted");
		await assertEveryTableHasCsv(page);
		await screenshot(page, "customers-predictive", { clip: await clipOf(page, { from: "#predictive-section" }) });
		assert.deepEqual(admin.errors, []);
	});

	test("profile: churn risk with reasons and recommendations; product page: recommended with", { timeout: 90_000 }, async () => {
		const list = atRisk?.customers.length ? atRisk : await api(page, `/api/v1/churn?site=${SITE}&limit=1`);
		const c = list.customers[0];
		await open(page, `/customers/${encodeURIComponent(c.customer_id)}`);
		await page.waitForSelector('[data-panel="customer-churn"][data-state="ready"]');
		await page.waitForSelector('[data-panel="customer-recommendations"]:not([data-state="loading"])');
		await noErrorPanels(page, "profile");
		const shown = await page.$eval('[data-panel="customer-churn"] [data-path$=".probability"]', (e) => Number(e.dataset.value));
		assert.equal(shown, c.probability, "the profile's churn probability equals the API's");
		await assertSourcesMatchApi(page, '*="/churn"');
		const recs = await pageApi(page, `/api/v1/recommendations?site=${SITE}&customer=${encodeURIComponent(c.customer_id)}&k=10`);
		if (recs.status === 200 && recs.body.items.length) {
			assert.equal(await rowCount(page, "customer-recommendations"), recs.body.items.length);
			await assertSourcesMatchApi(page, '*="/recommendations"');
		} else assert.equal(await page.getAttribute('[data-panel="customer-recommendations"]', "data-state"), "empty");
		await screenshot(page, "customer-profile-predictive", { docs: "customer-profile-predictive", clip: await clipOf(page, { from: '[data-panel="customer-churn"]' }) });

		const profile = await api(page, `/api/v1/customers/${encodeURIComponent(c.customer_id)}?site=${SITE}`);
		const skus = [...new Set([...(recs.body?.items ?? []).map((i) => i.sku), ...profile.orders.flatMap((o) => o.items.map((i) => i.sku))])].slice(0, 30);
		let sku = null;
		for (const candidate of skus) {
			const r = await pageApi(page, `/api/v1/recommendations?site=${SITE}&product=${encodeURIComponent(candidate)}`);
			if (r.status === 200 && r.body.items.length) {
				sku = candidate;
				break;
			}
		}
		assert.ok(sku, "some product has recommendations");
		await open(page, `/products/${encodeURIComponent(sku)}`);
		await page.waitForSelector('[data-panel="recommended-with"][data-state="ready"]');
		await noErrorPanels(page, "product");
		await assertSourcesMatchApi(page, '*="/recommendations"');
		await screenshot(page, "product-predictive", { docs: "product-predictive" });
		assert.deepEqual(admin.errors, []);
	});

	test("Models page: metrics beside the baseline, the decision, calibration and importances", { timeout: 90_000 }, async () => {
		models ??= await api(page, `/api/v1/models?site=${SITE}`);
		await open(page, "/");
		// Other pages (reports…) may join the navigation; the Models page must be in it.
		assert.ok((await page.$$eval("nav a", (as) => as.map((a) => a.dataset.nav))).includes("/models"), "the admin's navigation has the Models page");
		await page.click('nav a[data-nav="/models"]');
		await page.waitForFunction(() => location.pathname === "/models");
		// The previous page's [data-page] can still be in the DOM while the lazy Models chunk loads: wait for this one.
		await page.waitForSelector('[data-page="models"]');
		await settled(page);
		await noErrorPanels(page, "/models");
		const i = models.models.findIndex((m) => m.name === "churn");
		assert.ok(i >= 0, "a churn model was trained");
		const churn = models.models[i];
		const aucShown = await page.$eval(`[data-path="models.${i}.metrics.roc_auc"]`, (e) => Number(e.dataset.value));
		assert.equal(aucShown, churn.metrics.roc_auc, "the churn model's ROC AUC equals the registry's");
		const baseShown = await page.$eval(`[data-path="models.${i}.baseline.roc_auc"]`, (e) => Number(e.dataset.value));
		assert.equal(baseShown, churn.baseline.roc_auc, "its baseline's ROC AUC equals the registry's");
		await assertSourcesMatchApi(page);
		const decision = await page.textContent('[data-model-decision="churn"]');
		if (churn.promoted) assert.match(decision, /Promoted/);
		else assert.match(decision, /does not beat its baseline/);
		if (churn.metrics.calibration?.length) {
			assert.ok(await page.$('[data-panel="calibration"] svg.calibration path.diag'), "the calibration chart has its diagonal");
			assert.equal(await page.$$eval('[data-panel="calibration"] svg circle', (c) => c.length), churn.metrics.calibration.filter((b) => b.count > 0 && b.meanPredicted !== null && b.observedRate !== null).length);
		}
		const imp = Object.keys(churn.params?.importances ?? {});
		if (imp.length) assert.equal(await rowCount(page, "importances"), imp.length);
		const rec = models.models.find((m) => m.name === "recommendations");
		if (rec) {
			await page.waitForSelector('[data-model="recommendations"]');
			if (rec.metrics.models) assert.equal(await rowCount(page, "recommenders"), Object.keys(rec.metrics.models).length);
			if (!rec.promoted) assert.match(await page.textContent('[data-model-decision="recommendations"]'), /does not beat its baseline/);
		}
		await assertEveryTableHasCsv(page);
		// Keyboard: the tables' scroll regions are focusable.
		await page.focus('[data-panel="model-churn"] .table-scroll');
		assert.equal(await page.evaluate(() => document.activeElement.getAttribute("role")), "region");
		await screenshot(page, "models");
		assert.deepEqual(admin.errors, []);
	});

	test("executive: the revenue trend's forecast band, revenue.forecast and customers.churn equal their APIs", { timeout: 120_000 }, async () => {
		await open(page, "/");
		await page.waitForSelector('[data-kpi-card="revenue_forecast"] [data-path="forecast.0.mean"], [data-kpi-card="revenue_forecast"] [data-forecast-refused]', { timeout: 60_000 });
		await page.waitForSelector('[data-kpi-card="customers_churn"] [data-path="summary.mean_probability"]');
		await noErrorPanels(page, "/ with forecasts");
		const refusedCard = await page.$('[data-kpi-card="revenue_forecast"] [data-forecast-refused]');
		if (refusedCard) {
			// Too short a history for the view's grain: the API's one-line reason, and no band.
			const refused = await pageApi(page, await page.getAttribute('[data-kpi-card="revenue_forecast"]', "data-forecast-src"));
			assert.equal(refused.status, 400);
			assert.ok((await refusedCard.textContent()).includes(refused.body.message), "the API's reason is shown");
			assert.equal(await page.getAttribute('[data-chart="revenue"]', "data-forecast-mean"), null);
		} else {
			const src = await page.getAttribute('[data-kpi-card="revenue_forecast"] [data-path="forecast.0.mean"]', "data-src");
			const f = await api(page, src);
			assert.ok(f.forecast.length > 0);
			// The band as plotted (data-* of the chart's figure, taken from the arrays given to uPlot) equals the API's forecast.
			await page.waitForSelector('[data-chart="revenue"][data-forecast-mean]');
			const drawn = await page.$eval('[data-chart="revenue"]', (fig) => ({ ...fig.dataset }));
			assert.deepEqual(drawn.forecastPeriods.split(","), f.forecast.map((p) => p.period), "the forecast's periods continue the chart");
			for (const key of ["mean", "lower80", "upper80", "lower95", "upper95"]) {
				const shown = drawn[`forecast${key[0].toUpperCase()}${key.slice(1)}`].split(",").map(Number);
				assert.deepEqual(shown, f.forecast.map((p) => p[key]), `the band's ${key} equals GET /forecast`);
			}
			assert.ok(f.forecast.every((p) => p.lower95 <= p.lower80 && p.lower80 <= p.mean && p.mean <= p.upper80 && p.upper80 <= p.upper95));
			// It starts after the last complete period, which the chart shows.
			const labels = await page.$$eval('[data-chart="revenue"] .chart-data tbody tr td:first-child', (td) => td.map((t) => t.textContent));
			assert.ok(labels.some((l) => l.startsWith(f.history.at(-1).period)), "the last complete period is on the chart");
			const legend = await page.$$eval('[data-chart="revenue"] .u-legend .u-series', (rows) => rows.filter((r) => r.style.display !== "none").map((r) => r.textContent));
			assert.ok(legend.some((t) => t.startsWith("Forecast")), `legend: ${legend.join(" | ")}`);
			assert.ok(!legend.some((t) => /95% (low|high)/.test(t)), "the band edges are not legend entries");
			const caption = await page.textContent("[data-forecast-caption]");
			assert.ok(caption.includes(f.model.label), "the caption names the model");
			await assertSourcesMatchApi(page, '*="/forecast"');
			assert.equal(await page.textContent('[data-kpi-card="revenue_forecast"] .kpi-name'), `Revenue forecast, ${f.forecast[0].period}`);
		}
		// customers.churn: the mean probability over every scored customer, from GET /churn's summary — checked
		// here against the mean of the full CSV export.
		const { answers } = await assertSourcesMatchApi(page, '*="/churn"');
		const churnAnswer = [...answers.values()][0];
		const csv = parseCsv(await page.evaluate(async (s) => (await fetch(`/api/v1/churn?site=${s}&format=csv`)).text(), SITE)).slice(1).filter((r) => r.length > 1);
		assert.equal(csv.length, churnAnswer.summary.customers);
		const mean = csv.reduce((a, r) => a + Number(r[1]), 0) / csv.length;
		assert.ok(Math.abs(mean - churnAnswer.summary.mean_probability) < 1e-9, `mean of the CSV ${mean} = summary ${churnAnswer.summary.mean_probability}`);
		assert.equal(await page.textContent('[data-kpi-card="customers_churn"] [data-path="summary.mean_probability"]'), pct(churnAnswer.summary.mean_probability));
		await screenshot(page, "executive-forecast", { docs: "executive-forecast", clip: await clipOf(page, { to: '[data-panel="revenue"]' }) });
		await screenshot(page, "executive-churn-card", { clip: await clipOf(page, { from: '[data-panel="customers"]', to: '[data-panel="customers"]' }) });
		assert.deepEqual(admin.errors, []);
	});

	test("operations: the month-end projection equals GET /forecast/projection; the run rate only when the forecast refuses", { timeout: 120_000 }, async () => {
		await open(page, "/operations");
		await page.waitForSelector('[data-kpi-card="month_end_projection"]', { timeout: 60_000 });
		const kind = await page.getAttribute('[data-kpi-card="month_end_projection"]', "data-projection");
		const src = `/api/v1/forecast/projection?site=${SITE}&metric=revenue&period=month`;
		const res = await pageApi(page, src);
		if (kind === "forecast") {
			assert.equal(res.status, 200);
			const p = res.body;
			const { count } = await assertSourcesMatchApi(page, '*="/forecast/projection"');
			assert.ok(count >= 9, "mean, four bounds, actual, days done and left, forecast of the rest");
			assert.equal(Number(await page.getAttribute('[data-path="projection.mean"]', "data-value")), p.projection.mean);
			assert.ok(Math.abs(p.projection.mean - (p.actual_to_date + p.forecast_rest.mean)) < 1e-6);
			if (p.days_done > 0) {
				const yesterday = new Date(Date.parse(`${p.today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
				const kpi = await api(page, `/api/v1/kpis?site=${SITE}&ids=revenue&from=${p.from}&to=${yesterday}&grain=month`);
				assert.equal(p.actual_to_date, kpi.kpis[0].total.value, "actual to date = the KPI API's revenue of the complete days");
			}
			assert.ok((await page.textContent('[data-kpi-card="month_end_projection"]')).includes(p.model.label), "the card names the model");
		} else {
			assert.equal(kind, "run-rate");
			assert.equal(res.status, 400);
			assert.match(await page.textContent('[data-kpi-card="month_end_projection"] [data-forecast-refused]'), /A run rate, not a forecast/);
		}
		await screenshot(page, "operations-projection", { docs: "operations-projection", clip: await clipOf(page, { from: '[data-panel="financials"]', to: '[data-panel="financials"] .kpis' }) });
		assert.deepEqual(admin.errors, []);
	});

	test("a refused forecast shows the API's reason: no band on the executive chart, the run rate on operations", { timeout: 90_000 }, async () => {
		// The demo store's history is long enough, so the refusal a young store gets is played by the network layer:
		// the body is the API's own 400 for a short history (workers/analytics/predict-routes.ts).
		const reason = "needs at least 16 complete days of revenue (the shortest any model of this grain accepts); the site has 9";
		const refuse = (route) => route.fulfill({ status: 400, contentType: "application/json", body: JSON.stringify({ error: "insufficient_history", message: reason, fields: [{ field: "grain", message: reason }] }) });
		const context = await newContext();
		try {
			const p = await signIn(context, "admin@example.com", "admin");
			await p.route((url) => url.pathname === "/api/v1/forecast" || url.pathname === "/api/v1/forecast/projection", refuse);
			await open(p, "/");
			await p.waitForSelector('[data-kpi-card="revenue_forecast"] [data-forecast-refused]');
			assert.match(await p.textContent('[data-kpi-card="revenue_forecast"]'), /Not available: needs at least 16 complete days/);
			assert.equal(await p.textContent("[data-panel=\"revenue\"] p[data-forecast-refused]"), `No forecast: ${reason}`);
			assert.equal(await p.getAttribute('[data-chart="revenue"]', "data-forecast-mean"), null, "no band is drawn");
			await open(p, "/operations");
			await p.waitForSelector('[data-kpi-card="month_end_projection"][data-projection="run-rate"]');
			assert.ok((await p.textContent('[data-kpi-card="month_end_projection"] [data-forecast-refused]')).includes(`the forecast refused — ${reason}`));
			assert.equal(await p.$('[data-path="projection.mean"]'), null);
			assert.deepEqual(context.errors, []);
		} finally {
			await context.close();
		}
	});

	test("operations: no value at stake and no Models page", { timeout: 90_000 }, async () => {
		const context = await newContext();
		try {
			const ops = await signIn(context, "ops@example.com", "operations");
			const nav = await ops.$$eval("nav a", (as) => as.map((a) => a.dataset.nav));
			assert.ok(!nav.includes("/models"), `operations navigation: ${nav.join(" ")}`);
			await ops.goto(`${session.stack.base}/models?site=${SITE}`);
			await ops.waitForFunction(() => location.pathname === "/operations");
			const churn = await api(ops, `/api/v1/churn?site=${SITE}&limit=5`);
			assert.ok(churn.customers.every((c) => c.value_at_stake === null), "the API leaves the value at stake out");
			await open(ops, "/customers");
			await ops.waitForSelector('[data-panel="churn-customers"]:not([data-state="loading"])');
			await noErrorPanels(ops, "operations /customers");
			const headers = await ops.$$eval('table[data-table="churn-customers"] thead th', (t) => t.map((x) => x.textContent));
			assert.ok(!headers.includes("Value at stake"), "no value at stake column");
			assert.doesNotMatch(await ops.textContent('[data-panel="churn-customers"]'), /Value at stake/);
			await open(ops, `/customers/${encodeURIComponent(churn.customers[0].customer_id)}`);
			await ops.waitForSelector('[data-panel="customer-churn"][data-state="ready"]');
			assert.equal(await ops.$('[data-path$=".value_at_stake"]'), null);
			assert.deepEqual(context.errors, []);
		} finally {
			await context.close();
		}
	});

	test("375 px in the dark theme: the predictive views fit", { timeout: 90_000 }, async () => {
		await page.setViewportSize({ width: 375, height: 812 });
		await open(page, "/models");
		await page.click('button[aria-label^="Switch to dark"]');
		const churn = await api(page, `/api/v1/churn?site=${SITE}&limit=1`);
		for (const path of ["/models", "/customers", `/customers/${encodeURIComponent(churn.customers[0].customer_id)}`]) {
			await open(page, path);
			await sleep(300);
			assert.ok(await noHorizontalOverflow(page), `${path}: no horizontal overflow at 375 px`);
			await noErrorPanels(page, `${path} at 375 px`);
			if (path === "/models") await screenshot(page, "models-375px-dark");
			if (path === "/customers") await screenshot(page, "customers-predictive-375px-dark", { clip: await clipOf(page, { from: "#predictive-section" }) });
		}
		await page.click('button[aria-label^="Switch to light"]');
		await page.setViewportSize(DESKTOP);
		assert.deepEqual(admin.errors, []);
	});
});
