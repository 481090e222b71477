#!/usr/bin/env node
/**
 * Nightly analytics benchmark: loads a demo store through the real import API into a fresh state dir,
 * starts the nightly Workflow (POST /api/v1/jobs/nightly/run, as_of = yesterday UTC) and follows it to
 * the end, reporting per step its wall time and rows (from GET /api/v1/jobs/{id}) and the peak memory and
 * CPU of the workerd runtime process while the step ran (/proc sampling, bench/nightly/proc.mjs), against
 * the Workers limits. Then times a naive one-query-per-customer RFM in Node on the same SQLite file
 * (bench/nightly/baseline.mjs) and cross-checks it with the run's rfm_scores.
 *
 *   npm run bench:nightly -- [--customers 20000] [--orders N] [--months 24] [--event-days 0] [--keep-state] [--timeout 3600]
 *   npm run bench:nightly -- --customers 100000 --orders 1000000        # the large store
 *
 * Linux only (/proc). Prints a table and writes bench/out/nightly-<timestamp>.json. See bench/README.md.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, freePort } from "../../scripts/lib/wrangler.mjs";
import { seedStore } from "../../scripts/seed.mjs";
import { benchArgs, benchProcess, sleep } from "../lib.mjs";
import { crossCheck, d1File, loadSqlite, naiveRfm } from "./baseline.mjs";
import { CLK_TCK, findWorkerd, sampleProcess, window } from "./proc.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const DAY = 86_400_000;
/** Workers limits the steps are compared with. */
const LIMIT_MEMORY_MB = 128;
const LIMIT_CPU_DEFAULT_MS = 30_000;
const LIMIT_CPU_MAX_MS = 300_000;

const USAGE = `usage: node bench/nightly/run.mjs [options]
  --customers N       demo-store customers (default 20000)
  --orders N          demo-store orders (default: the demo default, customers × 7.5 ≈ 150,000)
  --months N          history in months (default 24)
  --event-days N      web events for the last N days (default 0: no nightly step reads events, and
                      they are the slowest rows to load; the demo default is 28)
  --sample-ms N       /proc sampling interval of workerd (default 50)
  --poll-ms N         GET /api/v1/jobs/{id} interval (default 1000; the key's rate limit is 600/min)
  --baseline-runs N   timed runs of the naive RFM, the fastest is reported (default 2)
  --timeout S         global timeout in seconds (default 3600)
  --keep-state        keep bench/out/nightly-state-<timestamp>
  -h, --help`;
const { args, int } = benchArgs(
	{
		customers: { type: "string", default: "20000" },
		orders: { type: "string" },
		months: { type: "string", default: "24" },
		"event-days": { type: "string", default: "0" },
		"sample-ms": { type: "string", default: "50" },
		"poll-ms": { type: "string", default: "1000" },
		"baseline-runs": { type: "string", default: "2" },
		timeout: { type: "string", default: "3600" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = int("customers", 10);
const ORDERS = args.orders === undefined ? undefined : int("orders", 10);
const MONTHS = int("months", 2);
const EVENT_DAYS = int("event-days", 0);
const SAMPLE_MS = int("sample-ms", 10);
const POLL_MS = int("poll-ms", 100);
const BASELINE_RUNS = int("baseline-runs", 1);
const { cleanup, die, wrangler, startDev } = benchProcess(int("timeout", 10) * 1000);

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `nightly-state-${STAMP}`);
const LOG_FILE = path.join(OUT, `nightly-${STAMP}-ours.log`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (n, d = 1) => (n == null || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const int0 = (n) => fmt(n, 0);
const mb = (kb) => (kb == null ? null : kb / 1024);

function table(header, rows) {
	const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

async function api(base, secret, pathname, init = {}) {
	const res = await fetch(base + pathname, { ...init, headers: { Authorization: `Bearer ${secret}`, ...init.headers } });
	const text = await res.text();
	if (!res.ok) throw new Error(`${init.method ?? "GET"} ${pathname} answered ${res.status}: ${text.slice(0, 500)}`);
	return JSON.parse(text);
}

/**
 * Waits until workerd uses < 5 % of a core for 6 s in a row, at most `maxMs`: the import consumer re-rolls
 * the KPI rollups 5 s after the last import, in steps.
 */
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

async function main() {
	mkdirSync(OUT, { recursive: true });
	if (process.platform !== "linux") throw new Error("this benchmark samples /proc: Linux only");
	log(`state dir ${path.relative(ROOT, STATE)}; ${os.cpus().length} CPUs; load average ${os.loadavg()[0].toFixed(2)}; CLK_TCK ${CLK_TCK}`);
	if (os.loadavg()[0] > 0.5) log(`warning: load average ${os.loadavg()[0].toFixed(2)} > 0.5 — other work on the machine skews wall and CPU times`);
	const DatabaseSync = await loadSqlite(); // fail early, before the long load
	await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE]);
	const key = newKey();
	await wrangler([
		"d1", "execute", "DB", "--local", "--persist-to", STATE, "--command",
		`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Demo', '[]', 'UTC', 'EUR', 0); ${insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: "bench nightly", scopes: ["ingest", "read", "admin"], now: 0 })}`,
	]);
	const port = await freePort();
	const dev = await startDev("ours", { config: "wrangler.toml", port, persistTo: STATE, logFile: LOG_FILE });
	const workerd = findWorkerd(dev.child.pid, port);
	log(`workerd runtime pid ${workerd.pid} (${workerd.workerds} workerd processes under wrangler; proxy pid ${workerd.proxyPid ?? "-"})`);

	log(`loading the demo store (${CUSTOMERS} customers, ${ORDERS ?? "default"} orders, ${MONTHS} months, events for ${EVENT_DAYS} days)…`);
	const seed = await seedStore({ url: dev.base, key: key.secret, site: SITE, customers: CUSTOMERS, months: MONTHS, eventDays: EVENT_DAYS, ...(ORDERS ? { orders: ORDERS } : {}), log: () => {} });
	const store = { customers: seed.store.customers.length, orders: seed.store.orders.length, orderLines: seed.store.orders.reduce((s, o) => s + (o.items?.length ?? 0), 0), refunds: seed.store.refunds.length, events: seed.store.events.length };
	log(`loaded ${int0(store.customers)} customers, ${int0(store.orders)} orders (${int0(store.orderLines)} lines), ${int0(store.refunds)} refunds, ${int0(store.events)} events in ${fmt(seed.totalMs / 1000)} s`);
	for (const r of seed.load.results) log(`  ${r.entity.padEnd(11)} ${int0(r.rows).padStart(9)} rows ${fmt(r.ms / 1000).padStart(8)} s`);
	seed.store = null; // the generated store is not needed any more (the large one is ~1 GB in this process)

	if (!existsSync(`/proc/${workerd.pid}`)) throw new Error(`the workerd runtime (pid ${workerd.pid}) is gone: wrangler dev restarted it while loading (a source or config file changed?)`);
	// Idle baseline of the runtime workerd, once the import consumer has settled.
	const probe = sampleProcess(workerd.pid, SAMPLE_MS);
	const settledMs = await waitIdle(probe.cpuMsNow);
	log(settledMs === null ? "warning: workerd did not go idle within 180 s; measuring anyway" : `workerd idle after ${fmt(settledMs / 1000)} s`);
	const idleFrom = Date.now();
	await sleep(2000);
	const idleSamples = probe.samples.filter((s) => s.t >= idleFrom);
	const idleRssKb = idleSamples.reduce((s, x) => s + x.rssKb, 0) / Math.max(1, idleSamples.length);
	const idleCpuMs = ((idleSamples.at(-1).cpuTicks - idleSamples[0].cpuTicks) * 1000) / CLK_TCK;
	log(`idle baseline: RSS ${fmt(mb(idleRssKb))} MB, CPU ${fmt(idleCpuMs, 0)} ms over ${fmt((idleSamples.at(-1).t - idleSamples[0].t) / 1000)} s; VmHWM reset per sample: ${probe.hwmReset ? "yes" : "no (peaks are instantaneous RSS)"}`);

	// The run: as_of = yesterday (UTC; the site is UTC), so it sees the whole store (it ends at today's 00:00 UTC).
	const asOf = new Date(Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - DAY).toISOString().slice(0, 10);
	const cutoff = Date.parse(`${asOf}T00:00:00Z`) + DAY;
	const postedAt = Date.now();
	const started = await api(dev.base, key.secret, `/api/v1/jobs/nightly/run?site=${SITE}&as_of=${asOf}`, { method: "POST" });
	log(`run ${started.id} started (as_of ${asOf})`);
	let run;
	const seen = new Map();
	for (;;) {
		await sleep(POLL_MS);
		if (!existsSync(`/proc/${workerd.pid}`)) throw new Error(`the workerd runtime (pid ${workerd.pid}) is gone: wrangler dev restarted it (a source or config file changed?); no figures from this run`);
		run = await api(dev.base, key.secret, `/api/v1/jobs/${started.id}?site=${SITE}`);
		for (const s of run.steps) {
			const was = seen.get(s.step);
			if (was === s.status) continue;
			seen.set(s.step, s.status);
			if (s.status === "running") log(`  ${s.step}: running (attempt ${s.attempts}); workerd RSS ${fmt(mb(probe.samples.at(-1)?.rssKb))} MB`);
			else log(`  ${s.step}: ${s.status} in ${fmt((s.duration_ms ?? 0) / 1000, 2)} s, ${int0(s.rows_read)} rows read, ${int0(s.rows_written)} written${s.error ? ` — ${s.error}` : ""}`);
		}
		if (run.status === "complete" || run.status === "errored") break;
	}
	const doneAt = Date.now();
	await sleep(500);
	const samples = probe.stop();
	log(`run ${run.status} ${fmt((doneAt - postedAt) / 1000)} s after the POST; ${samples.length} samples`);

	// Per step: the step's own [started_at, finished_at] (Date.now() in workerd, the same clock) over the samples.
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
			error: s.error,
			startedAt: s.started_at,
			finishedAt: s.finished_at,
			cpuMs: w.cpuMs,
			peakRssMb: mb(w.peakKb),
			peakAboveIdleMb: mb(w.peakKb == null ? null : w.peakKb - idleRssKb),
			peakAboveStartMb: mb(w.peakKb == null || w.startRssKb == null ? null : w.peakKb - w.startRssKb),
			samples: w.samples,
		};
	});
	const runFrom = run.started_at ?? postedAt;
	const runTo = run.finished_at ?? doneAt;
	const whole = window(samples, runFrom, runTo);
	const stepsCpu = steps.reduce((s, x) => s + (x.cpuMs ?? 0), 0);
	const stepsWall = steps.reduce((s, x) => s + x.durationMs, 0);

	// The naive RFM on the same SQLite file (read-only), then the cross-check against rfm_scores.
	const dbFile = d1File(STATE);
	const db = new DatabaseSync(dbFile, { readOnly: true });
	let baseline = null;
	let check = null;
	try {
		const runs = [];
		for (let i = 0; i < BASELINE_RUNS; i++) {
			const r = naiveRfm(db, { site: SITE, cutoff });
			runs.push(r);
			log(`naive RFM run ${i + 1}: ${fmt(r.ms.total, 0)} ms (${int0(r.queries)} queries ${fmt(r.ms.queries, 0)} ms, scoring ${fmt(r.ms.score, 0)} ms), ${int0(r.scores.length)} customers scored`);
		}
		const best = runs.reduce((a, b) => (b.ms.total < a.ms.total ? b : a));
		baseline = { runs: runs.map((r) => r.ms), best: best.ms, queries: best.queries, scored: best.scores.length };
		if (run.steps.some((s) => s.step === "rfm" && s.status === "complete")) {
			check = crossCheck(db, { site: SITE, asOf, scores: best.scores });
		}
	} finally {
		db.close();
	}

	// ── report ──
	const rfm = steps.find((s) => s.step === "rfm");
	const rows = steps.map((s) => [
		s.step,
		s.status + (s.attempts > 1 ? ` ×${s.attempts}` : ""),
		fmt(s.durationMs / 1000, 2),
		int0(s.rowsRead),
		int0(s.rowsWritten),
		fmt(s.peakRssMb),
		fmt(s.peakAboveIdleMb),
		fmt(s.peakAboveStartMb),
		int0(s.cpuMs),
		s.durationMs > 0 && s.cpuMs != null ? `${fmt((100 * s.cpuMs) / s.durationMs, 0)} %` : "-",
	]);
	rows.push(["all steps", "", fmt(stepsWall / 1000, 2), "", "", "", "", "", int0(stepsCpu), ""]);
	rows.push([`whole run (${run.status})`, "", fmt((runTo - runFrom) / 1000, 2), "", "", fmt(mb(whole.peakKb)), fmt(mb(whole.peakKb - idleRssKb)), "", int0(whole.cpuMs), ""]);
	const header = ["step", "status", "wall s", "rows read", "rows written", "peak RSS MB", "Δ idle MB", "Δ start MB", "CPU ms", "CPU/wall"];
	const maxMem = steps.reduce((a, b) => ((b.peakAboveIdleMb ?? -Infinity) > (a?.peakAboveIdleMb ?? -Infinity) ? b : a), null);
	const maxGrowth = steps.reduce((a, b) => ((b.peakAboveStartMb ?? -Infinity) > (a?.peakAboveStartMb ?? -Infinity) ? b : a), null);
	const maxCpu = steps.reduce((a, b) => ((b.cpuMs ?? -Infinity) > (a?.cpuMs ?? -Infinity) ? b : a), null);
	const speedup = baseline && rfm?.status === "complete" ? baseline.best.total / rfm.durationMs : null;

	console.log(`\nNightly analytics benchmark — site ${SITE} (UTC), as_of ${asOf}; ${int0(store.customers)} customers, ${int0(store.orders)} orders (${int0(store.orderLines)} lines), ${int0(store.refunds)} refunds, ${MONTHS} months`);
	console.log(`${os.cpus().length} CPUs, load average at end ${os.loadavg()[0].toFixed(2)}; store loaded in ${fmt(seed.totalMs / 1000)} s; run ${run.id}`);
	console.log(`workerd runtime (pid ${workerd.pid}) idle before the run: RSS ${fmt(mb(idleRssKb))} MB; sampled every ${SAMPLE_MS} ms (VmRSS, VmHWM reset per sample: ${probe.hwmReset ? "yes" : "no"}; utime+stime at ${CLK_TCK} ticks/s)\n`);
	console.log(table(header, rows));
	console.log(`\nΔ idle = peak RSS − RSS idle before the run; Δ start = peak RSS − RSS when the step started. "whole run" also covers the Workflow's own start/finish steps and bookkeeping.`);
	console.log(`\nAgainst the Workers limits (per invocation; each Workflow step is its own invocation):`);
	if (maxGrowth) console.log(`  memory: largest step ${maxGrowth.step}: RSS grew ${fmt(maxGrowth.peakAboveStartMb)} MB while it ran (${fmt(maxGrowth.peakAboveIdleMb)} MB above idle) vs ${LIMIT_MEMORY_MB} MB per isolate → ${fmt((100 * maxGrowth.peakAboveStartMb) / LIMIT_MEMORY_MB, 0)} % of the limit`);
	if (maxMem && maxMem !== maxGrowth) console.log(`          highest above idle: ${maxMem.step}, ${fmt(maxMem.peakAboveIdleMb)} MB (${fmt((100 * maxMem.peakAboveIdleMb) / LIMIT_MEMORY_MB, 0)} %; RSS need not fall back to idle between steps, so this includes what earlier steps left)`);
	if (maxCpu) console.log(`  CPU: largest step ${maxCpu.step}, ${int0(maxCpu.cpuMs)} ms of workerd CPU (wall ${fmt(maxCpu.durationMs / 1000, 2)} s) vs ${LIMIT_CPU_DEFAULT_MS / 1000} s default → ${fmt((100 * maxCpu.cpuMs) / LIMIT_CPU_DEFAULT_MS, 0)} %; configurable up to ${LIMIT_CPU_MAX_MS / 60_000} min (paid) → ${fmt((100 * maxCpu.cpuMs) / LIMIT_CPU_MAX_MS, 0)} %`);
	console.log(`  Upper bounds: RSS and CPU are those of the whole workerd process, which also runs the local D1 (SQLite, in-process`);
	console.log(`  here, a separate service in production whose query time is not the Worker's CPU), R2 and the Workflow engine; RSS`);
	console.log(`  includes SQLite's page cache and freed-but-unreturned V8 heap. The isolate's own heap is lower.`);
	if (baseline) {
		console.log(`\nRFM vs a naive baseline (one query per customer, in Node's node:sqlite on the same SQLite file, read-only):`);
		console.log(
			table(
				["RFM", "customers", "queries", "ms"],
				[
					[`naive baseline (best of ${BASELINE_RUNS})`, int0(baseline.scored), int0(baseline.queries), int0(baseline.best.total)],
					["ours: rfm step (duration_ms)", int0(check?.stored ?? null), "", int0(rfm?.durationMs)],
				],
			),
		);
		console.log(`  speed-up = baseline ms / ours ms = ${speedup ? `${fmt(speedup, 2)}×` : "-"}${speedup && speedup < 1 ? " (the baseline was faster)" : ""}`);
		console.log(`  (baseline split: list customers ${int0(baseline.best.list)} ms, ${int0(baseline.queries)} queries ${int0(baseline.best.queries)} ms, scoring ${int0(baseline.best.score)} ms)`);
		if (rfm?.status === "complete" && baseline.queries > 0) {
			const breakEvenUs = ((rfm.durationMs - baseline.best.total) * 1000) / baseline.queries;
			console.log(
				breakEvenUs > 0
					? `  break-even: the baseline is slower than ours as soon as each of its ${int0(baseline.queries)} queries costs ${fmt(breakEvenUs, 1)} µs more than here (a D1 round trip from a Worker is far more)`
					: `  ours is faster even with the baseline's free round trips (by ${fmt(-breakEvenUs, 1)} µs per baseline query)`,
			);
		}
		console.log(`  The baseline runs in Node on the SQLite file itself: no D1 round trips, no serialisation, nothing written;`);
		console.log(`  ours is the whole step inside the Workflow (read through D1, score, segment, write ${int0(rfm?.rowsWritten)} rows). The ratio understates the gain:`);
		console.log(`  in production each of the baseline's ${int0(baseline.queries)} queries would be a D1 round trip.`);
	}
	if (check) {
		if (check.ok) console.log(`\ncross-check ok: ${check.checked} sampled customers have the same recency/frequency/monetary and r/f/m in rfm_scores; ${int0(check.scored)} scored by the baseline = ${int0(check.stored)} rows stored`);
		else console.log(`\ncross-check FAILED: ${check.mismatches.length} of ${check.checked} sampled customers differ; baseline scored ${int0(check.scored)}, rfm_scores has ${int0(check.stored)}\n${JSON.stringify(check.mismatches.slice(0, 5), null, 2)}`);
	}
	const file = path.join(OUT, `nightly-${STAMP}.json`);
	writeFileSync(
		file,
		JSON.stringify(
			{
				stamp: STAMP,
				options: { customers: CUSTOMERS, orders: ORDERS ?? null, months: MONTHS, eventDays: EVENT_DAYS, sampleMs: SAMPLE_MS, pollMs: POLL_MS },
				machine: { cpus: os.cpus().length, loadAverageEnd: os.loadavg(), clkTck: CLK_TCK },
				store,
				seedMs: seed.totalMs,
				load: seed.load.results,
				workerd: { pid: workerd.pid, proxyPid: workerd.proxyPid, hwmReset: probe.hwmReset, idleRssMb: mb(idleRssKb), idleCpuMs, settledMs },
				run: { id: run.id, asOf, status: run.status, error: run.error, postedAt, startedAt: run.started_at, finishedAt: run.finished_at, wallMs: runTo - runFrom, cpuMs: whole.cpuMs, peakRssMb: mb(whole.peakKb) },
				steps,
				limits: { memoryMb: LIMIT_MEMORY_MB, cpuDefaultMs: LIMIT_CPU_DEFAULT_MS, cpuMaxMs: LIMIT_CPU_MAX_MS, largestMemoryStep: maxMem?.step ?? null, largestCpuStep: maxCpu?.step ?? null },
				rfmBaseline: baseline && { ...baseline, oursMs: rfm?.durationMs ?? null, speedup },
				crossCheck: check,
				// [epoch ms, RSS kB, peak kB since the previous sample, cumulative CPU ticks]
				samples: samples.map((s) => [s.t, s.rssKb, s.peakKb, s.cpuTicks]),
			},
			null,
			1,
		),
	);
	console.log(`\nresults: ${path.relative(ROOT, file)}`);
	if (run.status !== "complete") throw new Error(`the run ended ${run.status}: ${run.error ?? "(no error recorded)"}; log ${path.relative(ROOT, LOG_FILE)}, state ${path.relative(ROOT, STATE)}`);
	if (check && !check.ok) throw new Error("the naive RFM and rfm_scores disagree (see above)");
}

try {
	await main();
} catch (err) {
	await die(err?.stack ?? String(err));
}
await cleanup();
if (!args["keep-state"] && existsSync(STATE)) rmSync(STATE, { recursive: true, force: true });
process.exit(0);
