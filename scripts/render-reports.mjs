#!/usr/bin/env node
/**
 * Renders one example of each report from a running stack into docs/reports/: the email HTML
 * (`<kind>.html`, exactly what GET /api/v1/reports/{kind}?format=html answers) and a PNG screenshot of
 * it taken with headless Chromium (`<kind>.png`), plus `index.json` naming the store, periods and time.
 *
 *   npx node scripts/render-reports.mjs --url http://127.0.0.1:8787 --key <read key> [--site demo] [--out docs/reports]
 *       [--month 2026-11] [--week 2026-W48] [--day 2026-12-02] [--sku SKU]
 *
 * Defaults: last month (executive, financial, product), yesterday (daily), the best-selling SKU of last
 * month (product). The key needs the `read` scope for the site; the executive and financial reports need
 * a key (any read key) or an admin/executive user. Chromium comes from test/browser/chromium.mjs
 * (CHROMIUM_PATH, a system Chromium, or the one npm installs).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launchChromium } from "../test/browser/chromium.mjs";
import { ROOT } from "./lib/wrangler.mjs";

const pad = (n) => String(n).padStart(2, "0");

function parseArgs(argv) {
	const now = new Date();
	const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
	const out = { url: "http://127.0.0.1:8787", site: "demo", key: process.env.B2G_KEY ?? "", out: join(ROOT, "docs/reports"), month: `${m.getUTCFullYear()}-${pad(m.getUTCMonth() + 1)}`, day: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10), sku: "" };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i];
		const v = argv[i + 1];
		if (!["--url", "--site", "--key", "--out", "--month", "--day", "--sku"].includes(k)) throw new Error(`unknown option ${k}`);
		if (v === undefined) throw new Error(`${k} needs a value`);
		out[k.slice(2)] = v;
	}
	if (!out.key) throw new Error("--key (or B2G_KEY) is required: a read key for the site");
	return out;
}

async function get(opts, path, accept = "application/json") {
	const res = await fetch(`${opts.url.replace(/\/+$/, "")}${path}`, { headers: { Authorization: `Bearer ${opts.key}`, Accept: accept }, signal: AbortSignal.timeout(300_000) });
	const text = await res.text();
	if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${text.slice(0, 500)}`);
	return text;
}

export async function renderExamples(opts, log = console.log) {
	mkdirSync(opts.out, { recursive: true });
	let sku = opts.sku;
	if (!sku) {
		const [y, mo] = opts.month.split("-").map(Number);
		const last = new Date(Date.UTC(y, mo, 0)).getUTCDate();
		const catalogue = JSON.parse(await get(opts, `/api/v1/products/performance?site=${opts.site}&from=${opts.month}-01&to=${opts.month}-${pad(last)}&sort=revenue`));
		sku = catalogue.products[0]?.sku;
		if (!sku) throw new Error("no product sold last month: pass --sku");
	}
	const reports = [
		{ kind: "executive", query: `period=${opts.month}` },
		{ kind: "daily", query: `period=${opts.day}` },
		{ kind: "financial", query: `period=${opts.month}` },
		{ kind: "product", query: `period=${opts.month}&sku=${encodeURIComponent(sku)}` },
	];
	const browser = await launchChromium();
	const written = [];
	try {
		const context = await browser.newContext({ viewport: { width: 760, height: 1000 }, locale: "en-US" });
		const page = await context.newPage();
		for (const r of reports) {
			const t = performance.now();
			const html = await get(opts, `/api/v1/reports/${r.kind}?site=${opts.site}&${r.query}&format=html`, "text/html");
			const file = join(opts.out, `${r.kind}.html`);
			writeFileSync(file, html);
			await page.setContent(html, { waitUntil: "load" });
			await page.screenshot({ path: join(opts.out, `${r.kind}.png`), fullPage: true });
			written.push({ kind: r.kind, query: r.query, html_bytes: Buffer.byteLength(html), ms: Math.round(performance.now() - t) });
			log(`${r.kind}: ${file} (${Buffer.byteLength(html)} bytes) and ${r.kind}.png in ${Math.round(performance.now() - t)} ms`);
		}
		await context.close();
	} finally {
		await browser.close();
	}
	writeFileSync(join(opts.out, "index.json"), `${JSON.stringify({ site: opts.site, rendered_at: new Date().toISOString(), reports: written }, null, 2)}\n`);
	return written;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	try {
		const opts = parseArgs(process.argv.slice(2));
		opts.out = resolve(opts.out);
		await renderExamples(opts);
	} catch (err) {
		console.error(`render-reports: ${err.message}`);
		process.exit(1);
	}
}
