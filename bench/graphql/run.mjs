#!/usr/bin/env node
/**
 * GraphQL benchmark: latency of the same KPI query through GraphQL (POST /api/v1/graphql, the field
 * answered by the KPI route in-process) and through REST (GET /api/v1/kpis), in the same run, against
 * one local `wrangler dev` on a fresh state directory with the demo store loaded through the import API.
 *
 *   npm run bench:graphql -- [--customers 2000] [--requests 200] [--timeout 900]
 *
 * Before timing, both sides must return the same totals. Requests alternate between the two, so drift in
 * machine load hits both alike; `Cache-Control: no-cache` keeps the KPI edge cache out of it. Prints
 * p50/p95/max per side and the GraphQL ÷ REST ratio, and writes bench/out/graphql-<timestamp>.json.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, freePort } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { benchArgs, benchProcess, benchVars } from "../lib.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const KPIS = ["revenue", "net_revenue", "orders", "aov", "conversion_rate", "gross_margin", "new_customers", "cac", "return_customer_rate", "revenue_per_visitor"];

const USAGE = `usage: node bench/graphql/run.mjs [options]
  --customers N   demo-store customers (default 2000)
  --requests N    timed requests per side (default 200)
  --event-days N  days of tracked events in the store (default 7)
  --timeout S     global timeout in seconds (default 900)
  --keep-state    keep bench/out/graphql-state-<timestamp>
  -h, --help`;
const { args, int } = benchArgs(
	{
		customers: { type: "string", default: "2000" },
		requests: { type: "string", default: "200" },
		"event-days": { type: "string", default: "7" },
		timeout: { type: "string", default: "900" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = int("customers", 10);
const REQUESTS = int("requests", 1);
const EVENT_DAYS = int("event-days", 0);
const { cleanup, die, wrangler, startDev } = benchProcess(int("timeout", 10) * 1000);

const TODAY = new Date().toISOString().slice(0, 10);
const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `graphql-state-${STAMP}`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (n, d = 1) => (n == null ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function timed(url, init) {
	const t0 = performance.now();
	const res = await fetch(url, init);
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
		`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Demo', '[]', 'UTC', 'EUR', 0); ${insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: "bench graphql", scopes: ["ingest", "read"], now: 0 })}`,
	]);
	const port = await freePort();
	// The rate limits are lifted: the benchmark sends far more than one key may.
	await startDev("worker", { config: "wrangler.toml", port, persistTo: STATE, logFile: path.join(OUT, `graphql-${STAMP}.log`), extraArgs: benchVars() });
	const base = `http://127.0.0.1:${port}`;
	log(`loading the demo store (${CUSTOMERS} customers)…`);
	// Whole days up to today's midnight (UTC): the range queried below is complete, so no period is partial.
	const seed = await seedStore({ url: base, key: key.secret, site: SITE, customers: CUSTOMERS, eventDays: EVENT_DAYS, asOf: TODAY, log: () => {} });
	const from = new Date(seed.store.meta.start).toISOString().slice(0, 10);
	const to = new Date(Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
	log(`loaded ${seed.store.orders.length} orders in ${fmt(seed.totalMs / 1000)} s; range ${from} … ${to}`);

	const auth = { Authorization: `Bearer ${key.secret}`, "Cache-Control": "no-cache" };
	const restUrl = `${base}/api/v1/kpis?site=${SITE}&ids=${KPIS.join(",")}&from=${from}&to=${to}&grain=month&compare=previous`;
	// The same request as GraphQL, selecting what the dashboard's KPI cards read.
	const query = `{ kpis(site: "${SITE}", ids: "${KPIS.join(",")}", from: "${from}", to: "${to}", grain: month, compare: previous) { kpis { id total { value compare delta_pct } series { period value } } } }`;
	const gqlInit = { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ query }) };
	const rest = () => timed(restUrl, { headers: auth });
	const gql = () => timed(`${base}/api/v1/graphql`, gqlInit);

	// The first query finishes the re-roll; then both sides must agree before anything is timed.
	const first = await rest();
	log(`first query (re-rolls what was still dirty): ${fmt(first.ms)} ms`);
	const restTotals = Object.fromEntries(JSON.parse((await rest()).body).kpis.map((k) => [k.id, [k.total.value, k.total.compare, k.total.delta_pct]]));
	const gqlBody = JSON.parse((await gql()).body);
	if (gqlBody.errors) await die(`GraphQL errors: ${JSON.stringify(gqlBody.errors)}`);
	const gqlTotals = Object.fromEntries(gqlBody.data.kpis.kpis.map((k) => [k.id, [k.total.value, k.total.compare, k.total.delta_pct]]));
	if (JSON.stringify(gqlTotals) !== JSON.stringify(restTotals)) await die(`GraphQL and REST disagree:\n${JSON.stringify(gqlTotals)}\n${JSON.stringify(restTotals)}`);
	log("GraphQL and REST agree on all 10 KPIs (value, compare, delta_pct)");

	for (let i = 0; i < 5; i++) {
		await rest();
		await gql();
	}
	const restMs = [];
	const gqlMs = [];
	for (let i = 0; i < REQUESTS; i++) {
		// Alternate which goes first, so neither side always follows the other.
		if (i % 2 === 0) {
			restMs.push((await rest()).ms);
			gqlMs.push((await gql()).ms);
		} else {
			gqlMs.push((await gql()).ms);
			restMs.push((await rest()).ms);
		}
	}
	const stats = (xs) => {
		const s = [...xs].sort((a, b) => a - b);
		return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) };
	};
	const r = stats(restMs);
	const g = stats(gqlMs);
	const ratio = { p50: g.p50 / r.p50, p95: g.p95 / r.p95 };
	const rows = [
		["REST GET /api/v1/kpis", r.n, fmt(r.p50), fmt(r.p95), fmt(r.max), "1.00×"],
		["GraphQL kpis(…)", g.n, fmt(g.p50), fmt(g.p95), fmt(g.max), `${fmt(ratio.p50, 2)}× (p50), ${fmt(ratio.p95, 2)}× (p95)`],
	];
	const header = ["path", "requests", "p50 ms", "p95 ms", "max ms", "GraphQL ÷ REST"];
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
	const line = (row) => row.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	console.log(`\nGraphQL vs REST — 10 KPIs by month with compare=previous, ${from} … ${to}; ${seed.store.orders.length.toLocaleString("en-US")} orders`);
	console.log(`${os.cpus().length} CPUs, load average at end ${os.loadavg()[0].toFixed(2)}\n`);
	console.log([line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n"));
	const file = path.join(OUT, `graphql-${STAMP}.json`);
	writeFileSync(file, JSON.stringify({ stamp: STAMP, from, to, orders: seed.store.orders.length, rest: r, graphql: g, ratio, loadAverage: os.loadavg()[0] }, null, 2));
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
