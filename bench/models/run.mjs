#!/usr/bin/env node
/**
 * Models benchmark (issue 12): training and scoring time of every model of the nightly run, against the
 * Workers limits, plus the random forest against a naive implementation and the recommendation serving latency.
 *
 *   1. Loads a demo store through the real import API into a fresh state dir and runs the nightly Workflow
 *      (as bench/nightly does, with its helpers): per predictive step (churn, recommend, actions, inventory,
 *      forecast) wall time, rows, workerd CPU and memory growth from /proc.
 *   2. Serving: GET /api/v1/recommendations?customer=…&k=10 and ?product=…&k=10, --requests each, one at a
 *      time, interleaved request by request with the empty Worker (bench/empty) → p50/p95/p99 and the ratio.
 *   3. Stops the real Worker and starts bench/models/worker.ts on the same state dir: it imports the product's
 *      model code and times load (D1) / train / score of each model inside workerd.
 *   3b. Isolate memory (bench/models/heap.mjs): each predictive step's module run in Node's V8 on a copy of the
 *      same D1 file: V8 heap + ArrayBuffers before and at peak, and whether it completes with the heap capped at
 *      128 MB (workerd does not expose a Worker's heap; the /proc RSS above is the whole process, local D1 included).
 *   4. Random forest, 100 trees of depth 10 on 5,000 × 8 synthetic separable rows, inside workerd: the product's
 *      histogram forest and the naive exact-split forest (naive-forest.ts) on the same rows, alternating.
 *
 *   npm run bench:models                                   # demo size: 20,000 customers, ~150,000 orders
 *   npm run bench:models -- --customers 100000 --orders 1000000
 *   npm run bench:models -- --rf-only                      # only step 4 (no store), a minute
 *
 * Linux only (/proc). Prints tables and writes bench/out/models-<timestamp>.json. See bench/README.md.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, freePort, terminateGroups } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { benchArgs, benchProcess, sleep } from "../lib.mjs";
import { d1File, loadSqlite } from "../nightly/baseline.mjs";
import { CLK_TCK, findWorkerd, sampleProcess, window } from "../nightly/proc.mjs";
import { measureHeap } from "./heap.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const DAY = 86_400_000;
const LIMIT_MEMORY_MB = 128;
const LIMIT_CPU_DEFAULT_MS = 30_000;
const LIMIT_CPU_MAX_MS = 300_000;
/** The issue's reference figures for the forest (measured on this machine class, not by this script). */
const RF_REFERENCE = { targetS: 1, sklearnS: 0.6, histogramS: [0.15, 0.23] };
/** Requests per read key: the /api/v1 rate limit is 600 per minute per key (token bucket, bursts up to 600). */
const REQUESTS_PER_KEY = 550;
const PREDICTIVE = new Set(["churn", "recommend", "actions", "inventory", "forecast"]);

const USAGE = `usage: node bench/models/run.mjs [options]
  --customers N       demo-store customers (default 20000)
  --orders N          demo-store orders (default: the demo default, customers × 7.5)
  --months N          history in months (default 24)
  --event-days N      web events for the last N days (default 0: only two churn features read events and they
                      are the slowest rows to load; with 0 those features are constant)
  --requests N        measured recommendation requests per kind (customer, product) and side (default 500)
  --warmup N          unmeasured requests per kind and side first (default 50)
  --rf-reps N         histogram-forest runs (default 3; the fastest and the median are reported)
  --naive-reps N      naive-forest runs (default 2)
  --rf-only           only the forest comparison (no store, no nightly run, no serving)
  --skip-serving      no recommendation latency run
  --skip-heap         no isolate-memory run (bench/models/heap.mjs)
  --sample-ms N       /proc sampling interval (default 50)
  --poll-ms N         GET /api/v1/jobs/{id} interval (default 1000)
  --timeout S         global timeout in seconds (default 5400)
  --keep-state        keep bench/out/models-state-<timestamp>
  -h, --help`;
const { args, int } = benchArgs(
	{
		customers: { type: "string", default: "20000" },
		orders: { type: "string" },
		months: { type: "string", default: "24" },
		"event-days": { type: "string", default: "0" },
		requests: { type: "string", default: "500" },
		warmup: { type: "string", default: "50" },
		"rf-reps": { type: "string", default: "3" },
		"naive-reps": { type: "string", default: "2" },
		"rf-only": { type: "boolean", default: false },
		"skip-serving": { type: "boolean", default: false },
		"skip-heap": { type: "boolean", default: false },
		"sample-ms": { type: "string", default: "50" },
		"poll-ms": { type: "string", default: "1000" },
		timeout: { type: "string", default: "5400" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = int("customers", 10);
const ORDERS = args.orders === undefined ? undefined : int("orders", 10);
const MONTHS = int("months", 2);
const EVENT_DAYS = int("event-days", 0);
const REQUESTS = int("requests", 1);
const WARMUP = int("warmup", 0);
const RF_REPS = int("rf-reps", 1);
const NAIVE_REPS = int("naive-reps", 0);
const SAMPLE_MS = int("sample-ms", 10);
const POLL_MS = int("poll-ms", 100);
const RF_ONLY = args["rf-only"];
const SERVING = !RF_ONLY && !args["skip-serving"];
const HEAP = !RF_ONLY && !args["skip-heap"];
const { cleanup, die, wrangler, startDev } = benchProcess(int("timeout", 10) * 1000);

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `models-state-${STAMP}`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (n, d = 1) => (n == null || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const int0 = (n) => fmt(n, 0);
const mb = (kb) => (kb == null ? null : kb / 1024);
const median = (a) => {
	const s = [...a].sort((x, y) => x - y);
	return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
/** Nearest-rank percentile (p in 0–1) of an unsorted list. */
const percentile = (a, p) => {
	const s = [...a].sort((x, y) => x - y);
	return s.length ? s[Math.max(0, Math.ceil(p * s.length) - 1)] : null;
};

/** A plain-text table; columns in `left` (default: the first) are left-aligned, the others right-aligned. */
function table(header, rows, left = [0]) {
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (left.includes(i) ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

async function api(base, secret, pathname, init = {}) {
	const res = await fetch(base + pathname, { ...init, headers: { Authorization: `Bearer ${secret}`, ...init.headers } });
	const text = await res.text();
	if (!res.ok) throw new Error(`${init.method ?? "GET"} ${pathname} answered ${res.status}: ${text.slice(0, 500)}`);
	return JSON.parse(text);
}

/** Waits until workerd uses < 5 % of a core for 6 s in a row (the import consumer re-rolls the KPI rollups after the last import). */
async function waitIdle(cpuMsNow, maxMs = 180_000) {
	const t0 = Date.now();
	let quiet = 0;
	let last = cpuMsNow();
	while (Date.now() - t0 < maxMs) {
		await sleep(1000);
		const now = cpuMsNow();
		quiet = now - last < 50 ? quiet + 1 : 0;
		last = now;
		if (quiet >= 6) return Date.now() - t0;
	}
	return null;
}

/** One GET on a keep-alive agent: { status, body, ms } with ms from the call to the end of the body. */
function get(agent, url, headers = {}) {
	return new Promise((resolve, reject) => {
		const t0 = process.hrtime.bigint();
		const req = http.get(url, { agent, headers }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8"), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
			res.on("error", reject);
		});
		req.on("error", reject);
	});
}

/** A GET to the bench driver with the workerd window it used: { json, wallMs, cpuMs, peakAboveStartMb }. */
async function driverCall(driver, probe, pathname) {
	await sleep(300); // let RSS and the sampler settle between calls
	const from = Date.now();
	const res = await fetch(driver.base + pathname);
	const text = await res.text();
	const to = Date.now();
	await sleep(2 * SAMPLE_MS + 20);
	if (!res.ok) throw new Error(`driver ${pathname} answered ${res.status}: ${text.slice(0, 1000)}`);
	const w = window(probe.samples, from, to);
	return { json: JSON.parse(text), wallMs: to - from, cpuMs: w.cpuMs, peakAboveStartMb: mb(w.peakKb == null || w.startRssKb == null ? null : w.peakKb - w.startRssKb) };
}

/** Nightly run on the loaded store (as bench/nightly): per step its rows, wall, workerd CPU and memory growth. */
async function nightly(dev, key, workerd) {
	const probe = sampleProcess(workerd.pid, SAMPLE_MS);
	const settledMs = await waitIdle(probe.cpuMsNow);
	log(settledMs === null ? "warning: workerd did not go idle within 180 s; measuring anyway" : `workerd idle after ${fmt(settledMs / 1000)} s`);
	const asOf = new Date(Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - DAY).toISOString().slice(0, 10);
	const postedAt = Date.now();
	const started = await api(dev.base, key.secret, `/api/v1/jobs/nightly/run?site=${SITE}&as_of=${asOf}`, { method: "POST" });
	log(`nightly run ${started.id} started (as_of ${asOf})`);
	let run;
	const seen = new Map();
	for (;;) {
		await sleep(POLL_MS);
		if (!existsSync(`/proc/${workerd.pid}`)) throw new Error(`the workerd runtime (pid ${workerd.pid}) is gone: wrangler dev restarted it (a source or config file changed?)`);
		run = await api(dev.base, key.secret, `/api/v1/jobs/${started.id}?site=${SITE}`);
		for (const s of run.steps) {
			if (seen.get(s.step) === s.status) continue;
			seen.set(s.step, s.status);
			if (s.status !== "running") log(`  ${s.step}: ${s.status} in ${fmt((s.duration_ms ?? 0) / 1000, 2)} s${s.error ? ` — ${s.error}` : ""}`);
		}
		if (run.status === "complete" || run.status === "errored") break;
	}
	const doneAt = Date.now();
	await sleep(500);
	const samples = probe.stop();
	const steps = run.steps.map((s) => {
		const end = s.finished_at ?? doneAt;
		const w = window(samples, s.started_at, end);
		return {
			step: s.step,
			status: s.status,
			attempts: s.attempts,
			durationMs: s.duration_ms ?? end - s.started_at,
			rowsRead: s.rows_read,
			rowsWritten: s.rows_written,
			summary: s.summary ?? null,
			error: s.error,
			cpuMs: w.cpuMs,
			peakAboveStartMb: mb(w.peakKb == null || w.startRssKb == null ? null : w.peakKb - w.startRssKb),
		};
	});
	if (run.status !== "complete") throw new Error(`the nightly run ended ${run.status}: ${run.error ?? "(no error recorded)"}`);
	return { id: run.id, asOf, status: run.status, wallMs: (run.finished_at ?? doneAt) - (run.started_at ?? postedAt), steps, settledMs, hwmReset: probe.hwmReset };
}

/** Recommendation latency: each kind interleaved request by request with the empty Worker, one request in flight. */
async function serving(dev, empty, readKeys, asOf) {
	const DatabaseSync = await loadSqlite();
	const db = new DatabaseSync(d1File(STATE), { readOnly: true });
	let subjects;
	try {
		const q = (kind) => db.prepare("SELECT subject FROM recommendations WHERE site = ? AND as_of = ? AND kind = ? ORDER BY subject").all(SITE, asOf, kind).map((r) => r.subject);
		subjects = { customer: q("customer"), product: q("product") };
	} finally {
		db.close();
	}
	if (!subjects.customer.length || !subjects.product.length) throw new Error(`no recommendations stored for ${asOf} (customers ${subjects.customer.length}, products ${subjects.product.length})`);
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const emptyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	let used = 0;
	const keyFor = () => readKeys[Math.floor(used++ / REQUESTS_PER_KEY)].secret;
	const out = {};
	for (const kind of ["customer", "product"]) {
		const list = subjects[kind];
		// Evenly spaced subjects (cycling when there are fewer than requests: products).
		const pick = (i) => list[Math.floor((i * list.length) / Math.max(REQUESTS, list.length)) % list.length];
		const ours = [];
		const base = [];
		let items = 0;
		for (let i = -WARMUP; i < REQUESTS; i++) {
			const subject = pick(i < 0 ? i + WARMUP : i);
			const e = await get(emptyAgent, `${empty.base}/`);
			if (e.status !== 202) throw new Error(`empty Worker answered ${e.status}`);
			const r = await get(agent, `${dev.base}/api/v1/recommendations?site=${SITE}&${kind}=${encodeURIComponent(subject)}&k=10`, { Authorization: `Bearer ${keyFor()}` });
			if (r.status !== 200) throw new Error(`recommendations ${kind}=${subject} answered ${r.status}: ${r.body.slice(0, 300)}`);
			const body = JSON.parse(r.body);
			if (!Array.isArray(body.items) || body.items.length === 0 || body.items.length > 10 || body.subject !== subject) throw new Error(`recommendations ${kind}=${subject}: unexpected body ${r.body.slice(0, 300)}`);
			if (i < 0) continue;
			items += body.items.length;
			ours.push(r.ms);
			base.push(e.ms);
		}
		const stats = (a) => ({ n: a.length, mean: a.reduce((s, x) => s + x, 0) / a.length, p50: percentile(a, 0.5), p95: percentile(a, 0.95), p99: percentile(a, 0.99), max: Math.max(...a) });
		out[kind] = { subjects: list.length, meanItems: items / ours.length, ours: stats(ours), empty: stats(base), p95Ratio: percentile(ours, 0.95) / percentile(base, 0.95) };
		log(`  ${kind}: p95 ${fmt(out[kind].ours.p95, 2)} ms (empty Worker ${fmt(out[kind].empty.p95, 2)} ms)`);
	}
	agent.destroy();
	emptyAgent.destroy();
	return out;
}

/** The forest comparison on the driver: histogram and naive alternating, each call one training + one holdout prediction. */
async function forestComparison(driver, probe) {
	const runs = { histogram: [], naive: [] };
	for (let r = 0; r < Math.max(RF_REPS, NAIVE_REPS); r++) {
		for (const algo of ["histogram", "naive"]) {
			if (r >= (algo === "histogram" ? RF_REPS : NAIVE_REPS)) continue;
			const c = await driverCall(driver, probe, `/rf?algo=${algo}&train=5000&test=2500&features=8&informative=2&trees=100&depth=10&seed=12`);
			runs[algo].push({ trainMs: c.json.trainMs[0], predictMs: c.json.predictMs[0], accuracy: c.json.accuracy, nodes: c.json.nodes, requestCpuMs: c.cpuMs, requestWallMs: c.wallMs, peakAboveStartMb: c.peakAboveStartMb, data: { train: c.json.train, test: c.json.test, features: c.json.features, informative: c.json.informative, trees: c.json.trees, depth: c.json.depth, positives: c.json.positives, testPositives: c.json.testPositives } });
			log(`  ${algo} forest run ${r + 1}: train ${int0(c.json.trainMs[0])} ms, holdout accuracy ${fmt(100 * c.json.accuracy, 2)} % (request: workerd CPU ${int0(c.cpuMs)} ms)`);
		}
	}
	const sum = (list) =>
		list.length
			? { runs: list.length, bestTrainMs: Math.min(...list.map((x) => x.trainMs)), medianTrainMs: median(list.map((x) => x.trainMs)), medianPredictMs: median(list.map((x) => x.predictMs)), medianRequestCpuMs: median(list.map((x) => x.requestCpuMs)), accuracy: list[0].accuracy, nodes: list[0].nodes, peakAboveStartMb: Math.max(...list.map((x) => x.peakAboveStartMb ?? 0)) }
			: null;
	const histogram = sum(runs.histogram);
	const naive = sum(runs.naive);
	return { data: runs.histogram[0]?.data ?? null, runs, histogram, naive, ratioBest: naive && histogram ? naive.bestTrainMs / histogram.bestTrainMs : null, ratioMedian: naive && histogram ? naive.medianTrainMs / histogram.medianTrainMs : null, reference: RF_REFERENCE };
}

async function main() {
	mkdirSync(OUT, { recursive: true });
	if (process.platform !== "linux") throw new Error("this benchmark samples /proc: Linux only");
	log(`${os.cpus().length} CPUs; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; CLK_TCK ${CLK_TCK}${os.loadavg()[0] > 0.5 ? " — other work on the machine inflates wall times; compare ratios" : ""}`);
	const result = { stamp: STAMP, options: { customers: CUSTOMERS, orders: ORDERS ?? null, months: MONTHS, eventDays: EVENT_DAYS, requests: REQUESTS, warmup: WARMUP, rfReps: RF_REPS, naiveReps: NAIVE_REPS, rfOnly: RF_ONLY }, machine: { cpus: os.cpus().length, loadAverageStart: os.loadavg() }, limits: { memoryMb: LIMIT_MEMORY_MB, cpuDefaultMs: LIMIT_CPU_DEFAULT_MS, cpuMaxMs: LIMIT_CPU_MAX_MS } };
	let asOf = null;
	if (!RF_ONLY) {
		await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE]);
		const key = newKey();
		const readKeys = Array.from({ length: SERVING ? Math.ceil((2 * (REQUESTS + WARMUP)) / REQUESTS_PER_KEY) : 0 }, () => newKey());
		await wrangler([
			"d1", "execute", "DB", "--local", "--persist-to", STATE, "--command",
			[
				`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Demo', '[]', 'UTC', 'EUR', 0)`,
				insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: "bench models", scopes: ["ingest", "read", "admin"], now: 0 }),
				...readKeys.map((k, i) => insertKeySql({ id: k.id, hash: k.hash, site: SITE, name: `bench models read ${i + 1}`, scopes: ["read"], now: 0 })),
			].join("; "),
		]);
		const dev = await startDev("ours", { config: "wrangler.toml", port: await freePort(), persistTo: STATE, logFile: path.join(OUT, `models-${STAMP}-ours.log`) });
		const workerd = findWorkerd(dev.child.pid, dev.port);
		log(`loading the store (${CUSTOMERS} customers, ${ORDERS ?? "default"} orders, ${MONTHS} months, events for ${EVENT_DAYS} days)…`);
		const seed = await seedStore({ url: dev.base, key: key.secret, site: SITE, customers: CUSTOMERS, months: MONTHS, eventDays: EVENT_DAYS, ...(ORDERS ? { orders: ORDERS } : {}), log: () => {} });
		result.store = { customers: seed.store.customers.length, orders: seed.store.orders.length, orderLines: seed.store.orders.reduce((s, o) => s + (o.items?.length ?? 0), 0), products: seed.store.products?.length ?? null, events: seed.store.events.length, loadMs: seed.totalMs };
		seed.store = null;
		log(`loaded ${int0(result.store.customers)} customers, ${int0(result.store.orders)} orders (${int0(result.store.orderLines)} lines) in ${fmt(seed.totalMs / 1000)} s`);
		result.nightly = await nightly(dev, key, workerd);
		asOf = result.nightly.asOf;
		if (SERVING) {
			const empty = await startDev("empty", { config: "bench/empty/wrangler.toml", port: await freePort(), logFile: path.join(OUT, `models-${STAMP}-empty.log`) });
			log(`recommendation serving: ${REQUESTS} requests per kind after ${WARMUP} warm-up, interleaved with the empty Worker`);
			result.serving = await serving(dev, empty, readKeys, asOf);
			await terminateGroups(new Set([empty.child]));
		}
		await terminateGroups(new Set([dev.child]));
		if (HEAP) {
			log("isolate memory per predictive step (the step's module in Node's V8 on a copy of this D1 file; bench/models/heap.mjs)");
			result.heap = await measureHeap({ state: STATE, site: SITE, asOf, log });
		}
	}
	// The driver on the same state (D1 file) the real Worker left.
	const driver = await startDev("models driver", { config: "bench/models/wrangler.toml", port: await freePort(), persistTo: STATE, logFile: path.join(OUT, `models-${STAMP}-driver.log`) });
	const dw = findWorkerd(driver.child.pid, driver.port);
	const probe = sampleProcess(dw.pid, SAMPLE_MS);
	if (!RF_ONLY) {
		result.phases = [];
		for (const model of ["churn", "recommend", "forecast", "inventory"]) {
			const c = await driverCall(driver, probe, `/model/${model}?site=${SITE}&as_of=${asOf}`);
			for (const p of c.json.phases) result.phases.push({ step: model, ...p });
			result.phases.push({ step: model, model: `(request ${model})`, phase: "whole request", ms: c.wallMs, rows: null, cpuMs: c.cpuMs, peakAboveStartMb: c.peakAboveStartMb });
			log(`  ${model}: ${c.json.phases.map((p) => `${p.model} ${p.phase} ${int0(p.ms)} ms`).join(", ")}; request CPU ${int0(c.cpuMs)} ms, +${fmt(c.peakAboveStartMb)} MB`);
		}
	}
	log(`random forest: ${RF_REPS} histogram and ${NAIVE_REPS} naive runs, alternating`);
	result.forest = await forestComparison(driver, probe);
	probe.stop();
	result.machine.loadAverageEnd = os.loadavg();
	report(result);
	const file = path.join(OUT, `models-${STAMP}.json`);
	writeFileSync(file, JSON.stringify(result, null, 1));
	console.log(`\nresults: ${path.relative(ROOT, file)}`);
}

function report(r) {
	const limitCpu = (ms) => (ms == null || Number.isNaN(ms) ? "-" : `${fmt((100 * ms) / LIMIT_CPU_DEFAULT_MS, 1)} %`);
	const limitMem = (m) => (m == null ? "-" : `${fmt((100 * Math.max(0, m)) / LIMIT_MEMORY_MB, 0)} %`);
	if (r.store) {
		console.log(`\nModels benchmark — ${int0(r.store.customers)} customers, ${int0(r.store.orders)} orders (${int0(r.store.orderLines)} lines), ${MONTHS} months, events for ${EVENT_DAYS} days; store loaded in ${fmt(r.store.loadMs / 1000)} s`);
		console.log(`${r.machine.cpus} CPUs; load average start ${r.machine.loadAverageStart[0].toFixed(2)}, end ${r.machine.loadAverageEnd[0].toFixed(2)}`);
		console.log(`\nNightly Workflow ${r.nightly.id} (as_of ${r.nightly.asOf}): whole run ${fmt(r.nightly.wallMs / 1000, 1)} s. Predictive steps (read D1 + train + score + write D1/R2):\n`);
		console.log(
			table(
				["step", "wall s", "rows read", "rows written", "workerd CPU ms", "% of 30 s", "Δ start MB", "% of 128 MB"],
				r.nightly.steps.filter((s) => PREDICTIVE.has(s.step)).map((s) => [s.step, fmt(s.durationMs / 1000, 2), int0(s.rowsRead), int0(s.rowsWritten), int0(s.cpuMs), limitCpu(s.cpuMs), fmt(s.peakAboveStartMb), limitMem(s.peakAboveStartMb)]),
			),
		);
		if (r.heap) {
			console.log(`\nIsolate memory per step (what the ${LIMIT_MEMORY_MB} MB limit counts: V8 heap + ArrayBuffers), the step's module in Node's V8 on a copy of the same D1 (bench/models/heap.mjs), beside the workerd process RSS growth above:\n`);
			const rss = new Map(r.nightly.steps.map((s) => [s.step, s.peakAboveStartMb]));
			console.log(
				table(
					["step", "workerd RSS Δ MB", "isolate before MB", "isolate peak MB", "Δ MB", "peak % of 128 MB", "after-GC peak MB", `heap capped at ${LIMIT_MEMORY_MB} MB`],
					r.heap.map((h) => [h.step, fmt(rss.get(h.step)), fmt(h.baseMb), fmt(h.peakMb), fmt(h.deltaMb), limitMem(h.peakMb), fmt(h.peakAfterGcMb), h.completesUnderCap ? `completes (peak ${fmt(h.capped.peakMb)} MB)` : "FAILS"]),
				),
			);
			console.log("Peak = the largest V8 heap + ArrayBuffers seen (D1 round trips, 10 ms samples, just before each GC: includes garbage not yet collected); the capped run is the pass/fail figure.");
		}
		console.log(`\nPer model inside workerd (bench/models/worker.ts on the same D1; ms = wall time of the phase measured in the isolate):\n`);
		console.log(
			table(
				["model", "phase", "rows", "ms", "note"],
				r.phases.map((p) => (p.phase === "whole request" ? [`  request /model/${p.step}`, "all phases", "", int0(p.ms), `workerd CPU ${int0(p.cpuMs)} ms (${limitCpu(p.cpuMs)} of 30 s); RSS +${fmt(p.peakAboveStartMb)} MB (${limitMem(p.peakAboveStartMb)} of 128 MB)`] : [p.model, p.phase, int0(p.rows), p.ms == null || Number.isNaN(p.ms) ? "-" : fmt(p.ms, p.ms < 10 ? 2 : 0), p.note ?? ""])),
				[0, 1, 4],
			),
		);
		console.log(`\nUpper bounds: workerd CPU and RSS are the whole process (it also runs the local D1). Limits: ${LIMIT_CPU_DEFAULT_MS / 1000} s CPU per invocation by default (up to ${LIMIT_CPU_MAX_MS / 1000} s), ${LIMIT_MEMORY_MB} MB per isolate; each Workflow step is its own invocation.`);
	}
	if (r.serving) {
		console.log(`\nRecommendation serving (GET /api/v1/recommendations …&k=10, one request in flight, keep-alive, interleaved with the empty Worker; ms):\n`);
		const rows = [];
		for (const kind of ["customer", "product"]) {
			const s = r.serving[kind];
			rows.push([`?${kind}= (ours)`, int0(s.ours.n), fmt(s.ours.p50, 2), fmt(s.ours.p95, 2), fmt(s.ours.p99, 2), fmt(s.ours.mean, 2), `${fmt(s.p95Ratio, 2)}×`]);
			rows.push([`  empty Worker`, int0(s.empty.n), fmt(s.empty.p50, 2), fmt(s.empty.p95, 2), fmt(s.empty.p99, 2), fmt(s.empty.mean, 2), ""]);
		}
		console.log(table(["request", "n", "p50", "p95", "p99", "mean", "p95 ours/empty"], rows));
		console.log(`target: p95 < 20 ms locally → customer ${r.serving.customer.ours.p95 < 20 ? "met" : "NOT met"}, product ${r.serving.product.ours.p95 < 20 ? "met" : "NOT met"}`);
	}
	const f = r.forest;
	console.log(`\nRandom forest inside workerd: ${f.data.trees} trees, max depth ${f.data.depth}, ${int0(f.data.train)} × ${f.data.features} training rows (${f.data.informative} informative features, separable by an oblique hyperplane), holdout ${int0(f.data.test)} rows:\n`);
	const row = (name, s) => (s ? [name, int0(s.runs), int0(s.bestTrainMs), int0(s.medianTrainMs), int0(s.medianPredictMs), int0(s.medianRequestCpuMs), `${fmt(100 * s.accuracy, 2)} %`, int0(s.nodes)] : [name, "0", "-", "-", "-", "-", "-", "-"]);
	console.log(table(["forest", "runs", "train best ms", "train median ms", "predict ms", "request CPU ms", "holdout acc.", "nodes"], [row("histogram (workers/analytics/forest.ts)", f.histogram), row("naive exact-split (bench/models/naive-forest.ts)", f.naive)]));
	if (f.ratioBest) console.log(`naive / histogram training time: ${fmt(f.ratioBest, 1)}× (best), ${fmt(f.ratioMedian, 1)}× (median)`);
	console.log(`reference (issue 12, same class of machine): target ≈ ${RF_REFERENCE.targetS} s; scikit-learn ≈ ${RF_REFERENCE.sklearnS} s; a histogram forest 0.15–0.23 s`);
}

try {
	await main();
} catch (err) {
	await die(err?.stack ?? String(err));
}
await cleanup();
if (!args["keep-state"] && existsSync(STATE)) rmSync(STATE, { recursive: true, force: true });
process.exit(0);
