#!/usr/bin/env node
/**
 * KPI benchmark: latency of the dashboard's first query — the 10 default KPIs by month over the
 * 24-month demo store — answered from the daily rollups (GET /api/v1/kpis) vs computed from raw rows
 * at query time (bench/kpi/baseline/, same definitions, same local D1 file), in the same run.
 *
 *   npm run bench:kpi -- [--customers 20000] [--orders N] [--requests 100] [--baseline-requests 20]
 *
 * Loads the demo store through the real import API into a fresh state directory first (~2 minutes at
 * full size), then checks that both sides return the same totals before timing anything. Prints a
 * table and writes bench/out/kpi-<timestamp>.json. See bench/README.md.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, freePort } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { benchArgs, benchProcess } from "../lib.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const KPIS = ["revenue", "net_revenue", "orders", "aov", "conversion_rate", "gross_margin", "new_customers", "cac", "return_customer_rate", "revenue_per_visitor"];

const USAGE = `usage: node bench/kpi/run.mjs [options]
  --customers N           demo-store customers (default 20000)
  --orders N              demo-store orders (default: the demo default, ~150,000)
  --requests N            timed requests to our API (default 100)
  --baseline-requests N   timed requests to the raw-rows baseline (default 20)
  --timeout S             global timeout in seconds (default 1500)
  --keep-state            keep bench/out/kpi-state-<timestamp>
  -h, --help`;
const { args, int } = benchArgs(
	{
		customers: { type: "string", default: "20000" },
		orders: { type: "string" },
		requests: { type: "string", default: "100" },
		"baseline-requests": { type: "string", default: "20" },
		timeout: { type: "string", default: "1500" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = int("customers", 10);
const ORDERS = args.orders === undefined ? undefined : int("orders", 10);
const REQUESTS = int("requests", 1);
const BASELINE_REQUESTS = int("baseline-requests", 1);
const { cleanup, die, wrangler, startDev } = benchProcess(int("timeout", 10) * 1000);

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `kpi-state-${STAMP}`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (n, d = 1) => (n == null ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];


async function timed(url, headers) {
	const t0 = performance.now();
	const res = await fetch(url, { headers });
	const body = await res.text();
	const ms = performance.now() - t0;
	if (!res.ok) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
	return { ms, body };
}

async function main() {
	mkdirSync(OUT, { recursive: true });
	log(`state dir ${path.relative(ROOT, STATE)}; ${os.cpus().length} CPUs; load average ${os.loadavg()[0].toFixed(2)}`);
	await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE]);
	const key = newKey();
	await wrangler([
		"d1", "execute", "DB", "--local", "--persist-to", STATE, "--command",
		`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Demo', '[]', 'UTC', 'EUR', 0); ${insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: "bench kpi", scopes: ["ingest", "read"], now: 0 })}`,
	]);
	const oursPort = await freePort();
	await startDev("ours", { config: "wrangler.toml", port: oursPort, persistTo: STATE, logFile: path.join(OUT, `kpi-${STAMP}-ours.log`) });
	const ours = `http://127.0.0.1:${oursPort}`;
	log(`loading the demo store (${CUSTOMERS} customers, ${ORDERS ?? "default"} orders)…`);
	const seed = await seedStore({ url: ours, key: key.secret, site: SITE, customers: CUSTOMERS, ...(ORDERS ? { orders: ORDERS } : {}), log: () => {} });
	const from = new Date(seed.store.meta.start).toISOString().slice(0, 10);
	const to = new Date(Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
	log(`loaded ${seed.store.orders.length} orders, ${seed.store.events.length} events in ${fmt(seed.totalMs / 1000)} s; range ${from} … ${to}`);
	// no-cache: every timed request is computed from the rollups, never served from the edge cache.
	const auth = { Authorization: `Bearer ${key.secret}`, "Cache-Control": "no-cache" };
	const oursUrl = `${ours}/api/v1/kpis?site=${SITE}&ids=${KPIS.join(",")}&from=${from}&to=${to}&grain=month`;
	// The import consumer re-rolls after each job; the first query finishes whatever is still dirty.
	const first = await timed(oursUrl, auth);
	log(`first query (re-rolls what was still dirty): ${fmt(first.ms)} ms`);

	const basePort = await freePort();
	await startDev("baseline", { config: "bench/kpi/baseline/wrangler.toml", port: basePort, persistTo: STATE, logFile: path.join(OUT, `kpi-${STAMP}-baseline.log`) });
	const baseUrl = `http://127.0.0.1:${basePort}/kpis?site=${SITE}&from=${from}&to=${to}`;

	// Same numbers on both sides before timing anything.
	const oursTotals = Object.fromEntries(JSON.parse(first.body).kpis.map((k) => [k.id, k.total.value]));
	const baseTotals = JSON.parse((await timed(baseUrl, {})).body).totals;
	const mismatches = KPIS.filter((id) => {
		const a = oursTotals[id];
		const b = baseTotals[id];
		return a === null || b === null ? a !== b : Math.abs(a - b) > Math.max(0.011, Math.abs(b) * 1e-6);
	});
	for (const id of KPIS) log(`  ${id.padEnd(22)} ours ${String(oursTotals[id]).padStart(14)}   raw ${String(baseTotals[id]).padStart(22)}`);
	if (mismatches.length) await die(`rollups and raw rows disagree on ${mismatches.join(", ")}`);
	log("both sides agree on all 10 KPIs");

	for (let i = 0; i < 3; i++) await timed(oursUrl, auth);
	await timed(baseUrl, {});
	const oursMs = [];
	const baseMs = [];
	// Interleaved, so drift in machine load hits both sides alike.
	for (let i = 0; i < Math.max(REQUESTS, BASELINE_REQUESTS); i++) {
		if (i < REQUESTS) oursMs.push((await timed(oursUrl, auth)).ms);
		if (i < BASELINE_REQUESTS) baseMs.push((await timed(baseUrl, {})).ms);
	}
	const stats = (xs) => {
		const s = [...xs].sort((a, b) => a - b);
		return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) };
	};
	const o = stats(oursMs);
	const b = stats(baseMs);
	const rows = [
		["raw rows (baseline)", b.n, fmt(b.p50), fmt(b.p95), fmt(b.max), "1×"],
		["rollups (ours)", o.n, fmt(o.p50), fmt(o.p95), fmt(o.max), `${fmt(b.p50 / o.p50, 0)}× faster (p50)`],
	];
	const header = ["path", "requests", "p50 ms", "p95 ms", "max ms", "vs baseline"];
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	console.log(`\nKPI benchmark — 10 KPIs by month, ${from} … ${to}; ${seed.store.orders.length.toLocaleString("en-US")} orders, ${seed.store.events.length.toLocaleString("en-US")} events`);
	console.log(`${os.cpus().length} CPUs, load average at end ${os.loadavg()[0].toFixed(2)}; target p95 < 100 ms (rollups)\n`);
	console.log([line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n"));
	console.log(`\nfirst query after loading (finishes the re-roll): ${fmt(first.ms)} ms; demo store loaded in ${fmt(seed.totalMs / 1000)} s`);
	const file = path.join(OUT, `kpi-${STAMP}.json`);
	writeFileSync(file, JSON.stringify({ stamp: STAMP, from, to, orders: seed.store.orders.length, events: seed.store.events.length, seedMs: seed.totalMs, firstQueryMs: first.ms, ours: o, baseline: b, totals: oursTotals }, null, 2));
	console.log(`results: ${path.relative(ROOT, file)}`);
}

try {
	await main();
} catch (err) {
	await die(err?.stack ?? String(err));
}
await cleanup();
if (!args["keep-state"] && existsSync(STATE)) rmSync(STATE, { recursive: true, force: true });
process.exit(0);
