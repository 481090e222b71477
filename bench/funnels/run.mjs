#!/usr/bin/env node
/**
 * Funnel and Customers-page benchmark: latency of GET /api/v1/funnels/checkout/report (all, and by
 * channel), GET /api/v1/journeys and GET /api/v1/customers/overview for the last 30 and 365 days of the
 * demo store, each cross-checked against the exact path in the same run.
 *
 *   npm run bench:funnels -- [--customers 20000] [--requests 40] [--exact-requests 5] [--state DIR]
 *
 * Loads the demo store through the import API into a fresh state directory (whole UTC days up to
 * yesterday; or reuses a state kept by --keep-state with --state), runs the cron (`/__scheduled`: KPI
 * rollups, then funnel and journey rollups) until the funnel and journey reports come from the rollups,
 * then for every case answers the fast path and the exact path (`exact=true`) and requires the whole JSON
 * to be equal before timing both:
 *   - funnel report: daily funnel rollups vs every step event of the range (X-Computed-From rollup / events);
 *   - journeys: daily journey rollups vs every event of the range (rollup / events);
 *   - customers overview: one statement over covering indexes with the daily device tallies vs the per-customer
 *     reader of raw orders and events (rollup / exact).
 * Prints a table (p50/p95 of both paths, the ratio) and writes bench/out/funnels-<timestamp>.json.
 * Per case, the fast path is timed in one block, then the exact path: an exact request reads every order or
 * event of the range and evicts what D1 had cached, so with the two interleaved (`--interleave`, the former
 * default) the fast requests after an exact one started cold (the customers overview for 30 days: p50 96 ms
 * interleaved, 66 ms in a block, same state) — and a dashboard never asks for the exact path. On a loaded
 * machine the figures are indicative only.
 */
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, freePort, startWranglerDev, waitForHttp } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { benchArgs, benchProcess, sleep, tail } from "../lib.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const USAGE = `usage: node bench/funnels/run.mjs [options]
  --customers N        demo-store customers (default 20000: ~150,000 orders, ~255,000 events over 28 days)
  --requests N         timed requests per case on the fast path (default 40)
  --exact-requests N   timed requests per case on the exact path (default 5)
  --timeout S          global timeout in seconds (default 1800)
  --interleave         alternate fast and exact requests (default: all fast requests, then all exact ones)
  --keep-state         keep bench/out/funnels-state-<timestamp>
  --state DIR          reuse a state directory kept by --keep-state (the store is not loaded again;
                       pending migrations are applied)
  -h, --help`;
const { args, int } = benchArgs(
	{
		customers: { type: "string", default: "20000" },
		requests: { type: "string", default: "40" },
		"exact-requests": { type: "string", default: "5" },
		timeout: { type: "string", default: "1800" },
		"keep-state": { type: "boolean", default: false },
		interleave: { type: "boolean", default: false },
		state: { type: "string" },
	},
	USAGE,
);
const CUSTOMERS = int("customers", 10);
const REQUESTS = int("requests", 1);
const EXACT_REQUESTS = int("exact-requests", 1);
const { cleanup, die, wrangler, track } = benchProcess(int("timeout", 10) * 1000);

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const REUSED = args.state ? path.resolve(args.state) : null;
const STATE = REUSED ?? path.join(OUT, `funnels-state-${STAMP}`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (n, d = 1) => (n == null ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const stats = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) };
};
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** One request: time to the whole body, the JSON, and the path the funnel report took (X-Computed-From). */
async function timed(url, headers) {
	const t0 = performance.now();
	const res = await fetch(url, { headers });
	const body = await res.text();
	const ms = performance.now() - t0;
	if (!res.ok) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
	return { ms, json: JSON.parse(body), source: res.headers.get("x-computed-from") };
}

const comparable = (j) => JSON.stringify(j);

async function main() {
	mkdirSync(OUT, { recursive: true });
	log(`state dir ${path.relative(ROOT, STATE)}; ${os.cpus().length} CPUs; load average ${os.loadavg()[0].toFixed(2)}`);
	await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE]);
	const key = newKey();
	await wrangler([
		"d1", "execute", "DB", "--local", "--persist-to", STATE, "--command",
		`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Demo', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING; ${insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: "bench funnels", scopes: ["ingest", "read"], now: 0 })}`,
	]);
	const port = await freePort();
	const logFile = path.join(OUT, `funnels-${STAMP}-ours.log`);
	const logStream = createWriteStream(logFile);
	await new Promise((r) => logStream.on("open", r));
	const child = await startWranglerDev({ config: "wrangler.toml", port, persistTo: STATE, stdio: ["ignore", logStream, logStream], extraArgs: ["--test-scheduled"], onSpawn: track });
	try {
		await waitForHttp(`http://127.0.0.1:${port}/__bench_probe`, { child, timeoutMs: 120_000 });
	} catch (err) {
		throw new Error(`Worker: ${err.message}. Log ${logFile}:\n${tail(logFile)}`);
	}
	const base = `http://127.0.0.1:${port}`;
	let today = new Date().toISOString().slice(0, 10);
	let seed;
	if (REUSED) {
		// A kept state: its store ends at the last event's day, whatever today is.
		const out = await wrangler(["d1", "execute", "DB", "--local", "--persist-to", STATE, "--json", "--command", `SELECT (SELECT COUNT(*) FROM orders WHERE site = '${SITE}') AS orders, (SELECT COUNT(*) FROM events WHERE site = '${SITE}') AS events, date(MAX(ts) / 1000, 'unixepoch') AS last FROM events WHERE site = '${SITE}'`]);
		const row = JSON.parse(out)[0].results[0];
		today = addDays(row.last, 1);
		seed = { store: { orders: { length: row.orders }, events: { length: row.events } }, totalMs: 0 };
		log(`reusing ${path.relative(ROOT, STATE)}: ${row.orders} orders, ${row.events} events up to ${row.last}`);
	} else {
		log(`loading the demo store (${CUSTOMERS} customers, whole days up to ${addDays(today, -1)})…`);
		seed = await seedStore({ url: base, key: key.secret, site: SITE, customers: CUSTOMERS, asOf: today, log: () => {} });
		log(`loaded ${seed.store.orders.length} orders, ${seed.store.events.length} events in ${fmt(seed.totalMs / 1000)} s`);
	}
	const auth = { Authorization: `Bearer ${key.secret}`, "Cache-Control": "no-cache" };
	const to = addDays(today, -1);
	const ranges = [30, 365].map((days) => ({ days, from: addDays(to, -(days - 1)), to }));
	const funnelUrl = (r, by = "") => `${base}/api/v1/funnels/checkout/report?site=${SITE}&from=${r.from}&to=${r.to}${by}`;

	const journeysUrl = (r) => `${base}/api/v1/journeys?site=${SITE}&from=${r.from}&to=${r.to}`;
	// Cron until every funnel and journeys case is answered from the rollups (KPI sweep first: it hands the web hours over).
	const t0 = performance.now();
	for (let i = 0; ; i++) {
		const sources = [];
		for (const r of ranges) sources.push((await timed(funnelUrl(r), auth)).source, (await timed(journeysUrl(r), auth)).source);
		if (sources.every((s) => s === "rollup")) break;
		if (i >= 30) throw new Error(`funnel and journey rollups still not current after ${i} cron runs: ${sources.join(", ")}`);
		const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent("*/10 * * * *")}`, { signal: AbortSignal.timeout(300_000) });
		if (!res.ok) throw new Error(`/__scheduled answered ${res.status}`);
		await sleep(500);
	}
	const rollMs = performance.now() - t0;
	log(`rollups current after ${fmt(rollMs / 1000)} s of cron`);

	const cases = [];
	for (const r of ranges) {
		cases.push({ name: `funnel ${r.days} d`, kind: "funnel", fast: funnelUrl(r), exact: `${funnelUrl(r)}&exact=true` });
		cases.push({ name: `funnel ${r.days} d by channel`, kind: "funnel", fast: funnelUrl(r, "&by=channel"), exact: `${funnelUrl(r, "&by=channel")}&exact=true` });
	}
	for (const r of ranges) {
		cases.push({ name: `journeys ${r.days} d`, kind: "journeys", fast: journeysUrl(r), exact: `${journeysUrl(r)}&exact=true` });
		const o = `${base}/api/v1/customers/overview?site=${SITE}&from=${r.from}&to=${r.to}`;
		cases.push({ name: `customers overview ${r.days} d`, kind: "overview", fast: o, exact: `${o}&exact=true` });
	}
	/** The X-Computed-From each path must answer with. */
	const SOURCES = { funnel: ["rollup", "events"], journeys: ["rollup", "events"], overview: ["rollup", "exact"] };
	const PATHS = { funnel: "daily rollup", journeys: "daily rollup", overview: "one statement + daily device tallies" };

	const results = [];
	for (const c of cases) {
		// Cross-check first: the same numbers on both paths.
		const fast = await timed(c.fast, auth);
		const exact = await timed(c.exact, auth);
		const equal = comparable(fast.json) === comparable(exact.json);
		const headline =
			c.kind === "funnel"
				? (j, src) => `${src}: users ${j.steps.map((s) => s.users).join(" → ")}, conversion ${j.conversion_pct} %, medians ${j.steps.map((s) => s.median_seconds_from_previous ?? "-").join("/")} s${j.groups ? `, ${j.groups.length} groups` : ""}`
				: c.kind === "journeys"
					? (j) => `sessions ${j.sessions}, with page view ${j.sessions_with_page_view}, converting ${j.converting_sessions}, top entry ${j.entry_pages[0]?.path} (${j.entry_pages[0]?.sessions})`
					: (j) => `customers ${j.totals.customers}, orders ${j.totals.orders}, revenue ${j.totals.revenue}, new ${j.totals.new_customers}`;
		log(`${c.name}`);
		log(`   fast  ${headline(fast.json, fast.source)}`);
		log(`   exact ${headline(exact.json, exact.source)}`);
		log(`   equal: ${equal}`);
		if (!equal) await die(`${c.name}: the fast and the exact path disagree`);
		const [want, wantExact] = SOURCES[c.kind];
		if (fast.source !== want || exact.source !== wantExact) await die(`${c.name}: answered from ${fast.source} / ${exact.source}, not ${want} / ${wantExact}`);
		for (let i = 0; i < 2; i++) await timed(c.fast, auth);
		const fastMs = [];
		const exactMs = [];
		const fastOnce = async () => {
			const t = await timed(c.fast, auth);
			if (t.source !== want) await die(`${c.name}: a timed request answered from ${t.source}`);
			fastMs.push(t.ms);
		};
		if (args.interleave) {
			const n = Math.max(REQUESTS, EXACT_REQUESTS);
			for (let i = 0; i < n; i++) {
				if (i < REQUESTS) await fastOnce();
				if (i < EXACT_REQUESTS) exactMs.push((await timed(c.exact, auth)).ms);
			}
		} else {
			for (let i = 0; i < REQUESTS; i++) await fastOnce();
			for (let i = 0; i < EXACT_REQUESTS; i++) exactMs.push((await timed(c.exact, auth)).ms);
		}
		const f = stats(fastMs);
		const e = stats(exactMs);
		results.push({ case: c.name, kind: c.kind, path: PATHS[c.kind], equal, fast: f, exact: e, ratio: e.p50 / f.p50, summary: headline(fast.json, fast.source) });
	}

	const header = ["case", "path", "requests", "p50 ms", "p95 ms", "max ms", "exact n", "exact p50 ms", "exact p95 ms", "exact / fast (p50)", "same numbers"];
	const rows = results.map((r) => [r.case, r.path, r.fast.n, fmt(r.fast.p50), fmt(r.fast.p95), fmt(r.fast.max), r.exact.n, fmt(r.exact.p50), fmt(r.exact.p95), `${fmt(r.ratio, 1)}×`, r.equal ? "yes" : "NO"]);
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	console.log(`\nFunnel / Customers benchmark — demo store ${seed.store.orders.length.toLocaleString("en-US")} orders, ${seed.store.events.length.toLocaleString("en-US")} events; ranges ending ${to}`);
	console.log(`${os.cpus().length} CPUs, load average at end ${os.loadavg()[0].toFixed(2)}; target p95 < 100 ms; ${args.interleave ? "fast and exact requests interleaved" : "fast requests in one block, then exact ones"}\n`);
	console.log([line(header), w.map((x) => "-".repeat(x)).join("  "), ...rows.map(line)].join("\n"));
	console.log(`\nrollups made current by the cron in ${fmt(rollMs / 1000)} s after loading; ${REUSED ? "reused state" : `demo store loaded in ${fmt(seed.totalMs / 1000)} s`}`);
	const file = path.join(OUT, `funnels-${STAMP}.json`);
	writeFileSync(file, JSON.stringify({ stamp: STAMP, to, orders: seed.store.orders.length, events: seed.store.events.length, loadAverage: os.loadavg(), rollMs, interleave: args.interleave, results }, null, 2));
	console.log(`results: ${path.relative(ROOT, file)}`);
}

try {
	await main();
} catch (err) {
	await die(err?.stack ?? String(err));
}
await cleanup();
if (!args["keep-state"] && !REUSED && existsSync(STATE)) rmSync(STATE, { recursive: true, force: true });
process.exit(0);
