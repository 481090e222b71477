/**
 * The Reports page (issue 13), in Chromium against `wrangler dev --test-scheduled` with a small demo store:
 * an admin renders and previews each kind of report (the email HTML in a sandboxed frame), finds them in
 * the archive, subscribes to a scheduled report from the page, and — after the cron fires — sees the
 * delivery (a signed webhook that reached a local receiver) and a failed one (a receiver answering 500)
 * with its error and history. Run after `npm run build`.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { describe, test } from "node:test";
import { analyticsSession, SITE } from "./analytics-session.mjs";
import { waitFor } from "./harness.mjs";

const session = analyticsSession({ name: "reports.test.mjs", artefacts: "reports", stackOptions: { extraArgs: ["--test-scheduled"] } });
const { newContext, signIn, settled, open, api, screenshot } = session;

/** A webhook receiver: /ok answers 200, /fail answers 500; every POST is kept with its headers and raw body. */
async function receiver() {
	const posts = [];
	const server = createServer((req, res) => {
		const chunks = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", () => {
			posts.push({ path: req.url, headers: req.headers, raw: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
			res.writeHead(req.url === "/fail" ? 500 : 200, { "content-type": "application/json" }).end(req.url === "/fail" ? '{"error":"receiver down"}' : '{"ok":true}');
		});
	});
	await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
	return { base: `http://127.0.0.1:${server.address().port}`, posts, close: () => new Promise((ok) => (server.closeAllConnections(), server.close(() => ok()))) };
}

const pad = (n) => String(n).padStart(2, "0");
const lastMonth = () => {
	const d = new Date();
	const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
	return `${m.getUTCFullYear()}-${pad(m.getUTCMonth() + 1)}`;
};
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

const LABELS = { executive: "Executive", daily: "Daily metrics", financial: "Monthly financial", product: "Product deep dive" };

/** Renders a report from the form and waits for its preview (the frame is titled after the kind, SKU and period). */
async function renderFromForm(page, { kind, period, sku }) {
	await page.selectOption('[data-form="render"] select[name="kind"]', kind);
	await page.fill('[data-form="render"] input[name="period"]', period);
	if (sku) await page.fill('[data-form="render"] input[name="sku"]', sku);
	await page.click('[data-form="render"] button[type="submit"]');
	const title = `${LABELS[kind]} ${sku ? `${sku} ` : ""}${period}`;
	await page.waitForFunction((t) => document.querySelector("iframe[data-report-preview]")?.getAttribute("data-report-preview") === t, title, { timeout: 60_000 });
	return page.$eval("iframe[data-report-preview]", (f) => f.getAttribute("srcdoc") ?? "");
}

describe("Reports page", () => {
	test("an admin renders and previews the executive, daily, financial and product reports; each is archived", { timeout: 240_000 }, async () => {
		const context = await newContext();
		try {
			const page = await signIn(context, "reports-admin@example.com", "admin");
			await open(page, "/reports");
			assert.ok(await page.$('[data-panel="report-preview"][data-state="empty"]'), "the preview says what to do before anything is rendered");

			const month = lastMonth();
			const executive = await renderFromForm(page, { kind: "executive", period: month });
			const json = await api(page, `/api/v1/reports/executive?site=${SITE}&period=${month}`);
			assert.match(executive, new RegExp(json.title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), "the preview is the report's HTML");
			assert.doesNotMatch(executive, /<script/i, "no script in the email HTML");
			assert.match(executive, /<svg/i, "charts are inline SVG");
			// The preview frame is sandboxed: nothing in a report can run.
			assert.equal(await page.getAttribute("iframe[data-report-preview]", "sandbox"), "");
			await screenshot(page, "reports-executive", { docs: "reports" });

			await renderFromForm(page, { kind: "daily", period: yesterday() });
			await renderFromForm(page, { kind: "financial", period: month });
			const sku = (await api(page, `/api/v1/products/performance?site=${SITE}&from=${month}-01&to=${yesterday()}`)).products[0].sku;
			const product = await renderFromForm(page, { kind: "product", period: month, sku });
			assert.match(product, new RegExp(sku));
			assert.match(product, /competitive/i, "the product report says why it has no competitive position");

			// A bad period is refused by the API with the field named, and the page shows it.
			await page.selectOption('[data-form="render"] select[name="kind"]', "financial");
			await page.fill('[data-form="render"] input[name="period"]', "2026-W99");
			await page.click('[data-form="render"] button[type="submit"]');
			await page.waitForSelector("[data-render-error]");
			assert.match(await page.textContent("[data-render-error]"), /period/);

			// The archive lists the four, newest first; previewing one from it shows it.
			const archive = await api(page, `/api/v1/reports?site=${SITE}`);
			for (const kind of ["executive", "daily", "financial", "product"]) assert.ok(archive.reports.some((r) => r.kind === kind), `${kind} archived`);
			await page.waitForFunction((n) => document.querySelectorAll("[data-preview-key]").length >= n, 4, { timeout: 20_000 });
			const key = archive.reports.find((r) => r.kind === "daily").key;
			await page.click(`[data-preview-key="${key}"]`);
			await page.waitForFunction(() => /Daily/i.test(document.querySelector("iframe[data-report-preview]")?.getAttribute("data-report-preview") ?? ""), null, { timeout: 20_000 });
			assert.deepEqual(context.errors, []);
		} finally {
			await context.close();
		}
	});

	test("subscribe from the page; after the cron fires, the delivery reached the receiver and a failed one shows its error", { timeout: 240_000 }, async () => {
		const hook = await receiver();
		const context = await newContext();
		try {
			const page = await signIn(context, "reports-admin2@example.com", "admin");
			await open(page, "/reports");
			// Send at the next whole minute (UTC), so the cron has a due send soon after.
			const at = new Date(Math.ceil((Date.now() + 5_000) / 60_000) * 60_000);
			const time = `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`;
			const secret = "reports-browser-test-secret-0123";
			for (const [i, path] of ["/ok", "/fail"].entries()) {
				await page.selectOption('[data-form="subscribe"] select[name="kind"]', "daily");
				await page.fill('[data-form="subscribe"] input[name="send_time"]', time);
				await page.fill('[data-form="subscribe"] input[name="timezone"]', "UTC");
				await page.selectOption('[data-form="subscribe"] select[name="channel"]', "webhook");
				await page.fill('[data-form="subscribe"] input[name="url"]', `${hook.base}${path}`);
				await page.fill('[data-form="subscribe"] input[name="secret"]', secret);
				await page.click('[data-form="subscribe"] button[type="submit"]');
				await page.waitForSelector('[data-subscribe-result="ok"]', { timeout: 20_000 });
				await waitFor(async () => (await api(page, `/api/v1/reports/subscriptions?site=${SITE}`)).subscriptions.length === i + 1, { timeout: 20_000, interval: 200, what: `subscription ${i + 1} listed` });
				await page.waitForFunction((n) => document.querySelectorAll("[data-delete]").length === n, i + 1, { timeout: 20_000 });
			}
			const subs = (await api(page, `/api/v1/reports/subscriptions?site=${SITE}`)).subscriptions;
			assert.equal(subs.length, 2);
			const ok = subs.find((s) => s.url === `${hook.base}/ok`);
			const failing = subs.find((s) => s.url === `${hook.base}/fail`);
			assert.equal(ok.next_period, yesterday(), "a daily send covers the day before");

			// An invalid subscription is refused by the API with the field named (the form's own checks pass).
			await page.fill('[data-form="subscribe"] input[name="timezone"]', "Mars/Olympus_Mons");
			await page.click('[data-form="subscribe"] button[type="submit"]');
			await page.waitForSelector('[data-subscribe-result="error"]');
			assert.match(await page.textContent('[data-subscribe-result="error"]'), /timezone/);
			assert.equal((await api(page, `/api/v1/reports/subscriptions?site=${SITE}`)).subscriptions.length, 2, "nothing written");

			// Wait for the send time, then fire the cron (twice: the period is still sent once).
			await new Promise((r) => setTimeout(r, Math.max(0, at.getTime() - Date.now() + 1_000)));
			for (let i = 0; i < 2; i++) {
				const res = await fetch(`${session.stack.base}/__scheduled?cron=${encodeURIComponent("*/10 * * * *")}`, { signal: AbortSignal.timeout(120_000) });
				await res.arrayBuffer();
				assert.equal(res.status, 200, "cron ran");
			}
			await waitFor(() => hook.posts.some((p) => p.path === "/ok"), { timeout: 90_000, interval: 250, what: "the report webhook" });
			const delivery = hook.posts.find((p) => p.path === "/ok");
			const body = JSON.parse(delivery.raw);
			assert.equal(body.type, "report.ready");
			assert.equal(body.kind, "daily");
			assert.equal(body.period, yesterday());
			const signature = `sha256=${createHmac("sha256", secret).update(`${delivery.headers["x-b2g-timestamp"]}.${delivery.raw}`).digest("hex")}`;
			assert.equal(delivery.headers["x-b2g-signature"], signature, "signed as alert webhooks are");
			await waitFor(() => hook.posts.some((p) => p.path === "/fail"), { timeout: 60_000, interval: 250, what: "the failing receiver's first attempt" });

			// The page shows the delivery and the failure, with its error and history.
			await waitFor(
				async () => {
					await page.reload();
					await settled(page);
					const okStatus = await page.getAttribute(`[data-subscription="${ok.id}"]`, "data-send-status").catch(() => null);
					const failStatus = await page.getAttribute(`[data-subscription="${failing.id}"]`, "data-send-status").catch(() => null);
					return okStatus === "sent" && (failStatus === "failed" || failStatus === "dead");
				},
				{ timeout: 60_000, interval: 1000, what: "the send statuses on the page" },
			);
			assert.match(await page.textContent(`[data-subscription="${failing.id}"]`), /500/);
			await page.click(`[data-sends="${failing.id}"]`);
			await page.waitForSelector(`[data-send-history="${failing.id}"]`);
			assert.match(await page.textContent(`[data-send-history="${failing.id}"]`), new RegExp(yesterday()));
			assert.equal(hook.posts.filter((p) => p.path === "/ok").length, 1, "sent once, although the cron fired twice");
			await screenshot(page, "reports-subscriptions", { docs: "reports-subscriptions" });
			assert.deepEqual(context.errors, []);
		} finally {
			await context.close();
			await hook.close();
		}
	});
});
