/**
 * What the analytics and predictions browser tests share (test/browser/analytics.test.mjs, predict.test.mjs):
 * one dashboard stack with a small demo store and one Chromium for the file, signed-in contexts, page
 * navigation that waits for the page to settle, every displayed number checked against the API it names
 * (data-src + data-path), CSV downloads, screenshots, and starting a nightly run through the admin key.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before } from "node:test";
import { startDashboardStack } from "./dashboard-stack.mjs";
import { launchBrowser, ROOT, sleep, waitFor } from "./harness.mjs";
import { stopAll } from "./stack.mjs";

export const SITE = "demo";
export const DESKTOP = { width: 1280, height: 900 };
const GIVE_UP_MS = 480_000;

/**
 * Registers the file's before/after hooks (stack + browser; a give-up timer) and returns helpers bound to
 * them. `name` labels the timer; screenshots go to dist/test-artifacts/<artefacts>/, and to docs/screenshots
 * when UPDATE_SCREENSHOTS is set and a screenshot names its docs file. `stackOptions` go to
 * startDashboardStack (e.g. `{ extraArgs: ["--test-scheduled"] }` for cron fires through /__scheduled).
 */
export function analyticsSession({ name, artefacts, stackOptions = {} }) {
	const ART = join(ROOT, "dist/test-artifacts", artefacts);
	const DOCS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs/screenshots") : null;
	const session = { stack: null };
	let browser;
	let launching;
	setTimeout(() => {
		console.error(`${name}: still running after ${GIVE_UP_MS / 1000} s, giving up`);
		process.exit(1);
	}, GIVE_UP_MS).unref();
	const withTimeout = (promise, ms) => Promise.race([promise, sleep(ms)]);

	before(
		async () => {
			if (!existsSync(join(ROOT, "dist/web/index.html")) || !existsSync(join(ROOT, "dist/web/app/manifest.json"))) throw new Error("dist/web has no dashboard: run `npm run build` first");
			mkdirSync(ART, { recursive: true });
			if (DOCS) mkdirSync(DOCS, { recursive: true });
			launching = launchBrowser();
			await Promise.all([launching.then((b) => (browser = b)), startDashboardStack({ site: SITE, ...stackOptions }).then((s) => (session.stack = s))]);
		},
		{ timeout: 180_000 },
	);

	after(
		async () => {
			await withTimeout(launching?.then((b) => b.close()).catch(() => {}), 10_000);
			await stopAll();
		},
		{ timeout: 30_000 },
	);

	// ─── helpers (as in dashboard.test.mjs) ──────────────────────────────────────────────────────────

	async function newContext(options = {}) {
		const context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC", acceptDownloads: true, ...options });
		context.setDefaultTimeout(20_000);
		context.setDefaultNavigationTimeout(30_000);
		context.errors = [];
		context.on("page", (p) => p.on("pageerror", (e) => context.errors.push(e.message)));
		return context;
	}

	async function signIn(context, email, role) {
		const page = await context.newPage();
		const res = await page.goto(await session.stack.loginLink(email, role));
		assert.equal(res.status(), 200, "the login link redirects to the dashboard");
		await settled(page);
		return page;
	}

	async function settled(page, timeout = 30_000) {
		await page.waitForFunction(() => document.querySelector("[data-page]") && !document.querySelector('[data-state="loading"], .page-skeleton'), null, { timeout, polling: 50 });
	}

	async function open(page, path) {
		await page.goto(`${session.stack.base}${path}${path.includes("?") ? "&" : "?"}site=${SITE}`);
		await settled(page);
	}

	const pageApi = (page, path) =>
		page.evaluate(async (p) => {
			const res = await fetch(p, { headers: { Accept: "application/json" } });
			return { status: res.status, body: await res.json().catch(() => null) };
		}, path);

	const api = (page, path) =>
		pageApi(page, path).then(({ status, body }) => {
			assert.equal(status, 200, `GET ${path}`);
			return body;
		});

	async function screenshot(page, name, { docs, clip } = {}) {
		const file = join(ART, `${name}.png`);
		await page.screenshot({ path: file, fullPage: true, clip });
		if (DOCS && docs) copyFileSync(file, join(DOCS, `${docs}.png`));
	}

	/** The page from its top to the bottom of `selector` (or from `from` to the end), for screenshots of one part of a long page. */
	async function clipOf(page, { from, to } = {}) {
		return page.evaluate(
			([f, t]) => {
				const top = f ? document.querySelector(f).getBoundingClientRect().top + scrollY - 12 : 0;
				const bottom = t ? document.querySelector(t).getBoundingClientRect().bottom + scrollY + 12 : document.documentElement.scrollHeight;
				return { x: 0, y: Math.max(0, top), width: document.documentElement.clientWidth, height: Math.min(6000, bottom - Math.max(0, top)) };
			},
			[from, to],
		);
	}

	const noHorizontalOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth);

	const at = (obj, path) => path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);

	/** Every displayed number naming its source (data-src + data-path, raw in data-value) against that URL fetched now. */
	async function assertSourcesMatchApi(page, filter = "") {
		const shown = await page.$$eval(`[data-src${filter}][data-path]`, (els) => els.map((e) => ({ src: e.dataset.src, path: e.dataset.path, value: e.dataset.value })));
		assert.ok(shown.length > 0, "the page shows API values");
		const answers = new Map();
		for (const src of new Set(shown.map((s) => s.src))) answers.set(src, await api(page, src));
		for (const s of shown) {
			const value = at(answers.get(s.src), s.path);
			assert.notEqual(value, undefined, `${s.path} exists in ${s.src}`);
			if (typeof value === "number") assert.equal(Number(s.value), value, `${s.path} shown = ${s.src}`);
			else assert.equal(s.value, value === null ? "" : String(value), `${s.path} shown = ${s.src}`);
		}
		return { count: shown.length, answers };
	}

	function parseCsv(text) {
		const rows = [];
		let row = [];
		let field = "";
		let quoted = false;
		for (let i = 0; i < text.length; i++) {
			const c = text[i];
			if (quoted) {
				if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
				else if (c === '"') quoted = false;
				else field += c;
			} else if (c === '"') quoted = true;
			else if (c === ",") row.push(field), (field = "");
			else if (c === "\n") row.push(field), rows.push(row), (row = []), (field = "");
			else if (c !== "\r") field += c;
		}
		if (field || row.length) row.push(field), rows.push(row);
		return rows;
	}

	async function downloadCsv(page, selector) {
		const [download] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
		const [header, ...lines] = parseCsv(readFileSync(await download.path(), "utf8"));
		return { name: download.suggestedFilename(), header, rows: lines.map((l) => Object.fromEntries(header.map((h, i) => [h, l[i]]))) };
	}

	const csvIs = (cell, value) => (value === null || value === undefined ? cell === "" : typeof value === "number" ? Number(cell) === value : cell === String(value));

	async function assertEveryTableHasCsv(page) {
		const buttons = await page.$$eval(".table-block button[data-csv]", (b) => b.length);
		const tables = await page.$$eval("main table:not(.u-legend)", (t) => t.length);
		assert.ok(tables > 0);
		assert.equal(buttons, tables, "every table has a CSV download");
	}

	const rowCount = (page, id) => page.$$eval(`table[data-table="${id}"] tbody tr`, (r) => r.length);
	const pct = (f) => new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(f);
	const eur = (v) => new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(v);

	/** Starts a nightly run through the API (the admin key) and waits until it completes; returns the run. */
	async function runNightly(asOf) {
		const started = await session.stack.api("POST", `/api/v1/jobs/nightly/run?site=${SITE}${asOf ? `&as_of=${asOf}` : ""}`);
		assert.equal(started.status, "queued");
		return waitFor(
			async () => {
				const run = await session.stack.api("GET", `/api/v1/jobs/${started.id}?site=${SITE}`);
				if (run.status === "errored") throw new Error(`nightly run ${run.id} failed: ${run.error}`);
				return run.status === "complete" && run;
			},
			{ timeout: 120_000, interval: 500, what: `nightly run ${started.id}` },
		);
	}

	const noErrorPanels = async (page, what) => assert.deepEqual(await page.$$eval('[data-state="error"]', (els) => els.map((e) => e.dataset.panel)), [], `${what}: no panel in its error state`);

	return Object.assign(session, {
		newContext, signIn, settled, open, pageApi, api, screenshot, clipOf, noHorizontalOverflow, assertSourcesMatchApi,
		parseCsv, downloadCsv, csvIs, assertEveryTableHasCsv, rowCount, pct, eur, runNightly, noErrorPanels,
	});
}
