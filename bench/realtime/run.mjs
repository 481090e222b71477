#!/usr/bin/env node
/**
 * Real-time engine benchmark: events per second that LiveSite sustains locally on ONE object, and
 * spread over 4 shard objects (workers/realtime/shards.ts), measured in the same run.
 *
 *   npm run bench:realtime -- [--events 20000] [--batch 5] [--concurrency 8] [--rounds 3] [--mixed]
 *
 * A driver Worker (bench/realtime/worker.ts, the product's LiveSite class as is) runs under
 * `wrangler dev` on a fresh state dir with the D1 migrations applied; each round drives a new site
 * with 1 shard, then another with 4 (fresh objects both), alternating so machine drift hits both.
 * Every call is an awaited record() RPC with real SQLite writes (dedupe ledger, minute counters,
 * HyperLogLog sketches, funnel events). Prints a table and writes bench/out/realtime-<stamp>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, freePort } from "../../scripts/lib/wrangler.mjs";
import { benchArgs, benchProcess } from "../lib.mjs";

const USAGE = `usage: npm run bench:realtime -- [options]
  --events N        events per measurement (default 20000)
  --batch B         events per POST /e batch (default 5; the tracker sends up to 10)
  --concurrency C   calls in flight (default 8)
  --rounds R        rounds of (1 shard, 4 shards) (default 3)
  --visitors V      distinct visitors in the synthetic traffic (default 2000)
  --mixed           each batch mixes visitors (a server-side sender); default: a batch is one visitor's (a browser)
  --timeout S       global timeout in seconds (default 900)`;
const { args, int } = benchArgs(
	{ events: { type: "string", default: "20000" }, batch: { type: "string", default: "5" }, concurrency: { type: "string", default: "8" }, rounds: { type: "string", default: "3" }, visitors: { type: "string", default: "2000" }, mixed: { type: "boolean", default: false }, timeout: { type: "string", default: "900" } },
	USAGE,
);
const EVENTS = int("events", 100);
const BATCH = int("batch", 1);
const CONCURRENCY = int("concurrency", 1);
const ROUNDS = int("rounds", 1);
const VISITORS = int("visitors", 1);
const MIXED = args.mixed === true;
const { die, cleanup, wrangler, startDev } = benchProcess(int("timeout", 10) * 1000);

const OUT = path.join(ROOT, "bench/out");
const STAMP = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
const STATE = path.join(OUT, `realtime-state-${STAMP}`);
const CONFIG = "bench/realtime/wrangler.toml";
const log = (m) => console.log(`[bench] ${m}`);
const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

async function drive(base, site, shards, events) {
	const url = `${base}/drive?site=${site}&shards=${shards}&events=${events}&batch=${BATCH}&concurrency=${CONCURRENCY}&visitors=${VISITORS}&mixed=${MIXED ? 1 : 0}&run=${site}`;
	const t0 = performance.now();
	const res = await fetch(url, { method: "POST" });
	const body = await res.text();
	if (!res.ok) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
	const r = JSON.parse(body);
	if (r.fresh !== events) throw new Error(`${site}: ${r.fresh} of ${events} events recorded as new`);
	return { ...r, clientMs: performance.now() - t0 };
}

async function main() {
	mkdirSync(OUT, { recursive: true });
	log(`${os.cpus().length} CPUs; load average ${os.loadavg()[0].toFixed(2)}; state ${path.relative(ROOT, STATE)}`);
	await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE, "-c", CONFIG]);
	const port = await freePort();
	const dev = await startDev("realtime driver", { config: CONFIG, port, persistTo: STATE, logFile: path.join(OUT, `realtime-${STAMP}.log`) });
	log("warm-up (not measured)");
	await drive(dev.base, "warm-1", 1, 2000);
	await drive(dev.base, "warm-4", 4, 2000);
	const results = { 1: [], 4: [] };
	for (let round = 1; round <= ROUNDS; round++) {
		for (const shards of [1, 4]) {
			const r = await drive(dev.base, `r${round}-s${shards}`, shards, EVENTS);
			results[shards].push(r);
			log(`round ${round}: ${shards} shard(s): ${fmt(r.eventsPerSecond)} events/s (${fmt(r.ms)} ms in the driver, ${fmt(r.clientMs)} ms end to end, ${r.calls} calls)`);
		}
	}
	const median = (xs) => {
		const s = [...xs].sort((a, b) => a - b);
		return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
	};
	const one = median(results[1].map((r) => r.eventsPerSecond));
	const four = median(results[4].map((r) => r.eventsPerSecond));
	console.log(`\nReal-time engine — ${fmt(EVENTS)} events per measurement, ${BATCH} per POST batch (${MIXED ? "visitors mixed in a batch" : "one visitor per batch"}), ${CONCURRENCY} calls in flight, ${ROUNDS} round(s); median of rounds`);
	console.log(`${os.cpus().length} CPUs, load average at end ${os.loadavg()[0].toFixed(2)}\n`);
	const rows = [
		["1 LiveSite object (baseline)", fmt(one), "1.00×"],
		["4 shard objects", fmt(four), `${fmt(four / one, 2)}×`],
	];
	const header = ["layout", "events/s", "vs 1 object"];
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
	console.log([line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n"));
	const file = path.join(OUT, `realtime-${STAMP}.json`);
	writeFileSync(file, JSON.stringify({ stamp: STAMP, events: EVENTS, batch: BATCH, mixed: MIXED, concurrency: CONCURRENCY, rounds: ROUNDS, visitors: VISITORS, cpus: os.cpus().length, results, median: { one, four } }, null, 2));
	console.log(`\nresults: ${path.relative(ROOT, file)}`);
	await cleanup();
	process.exit(0);
}

try {
	await main();
} catch (err) {
	await die(err?.stack ?? String(err));
}
