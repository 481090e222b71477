#!/usr/bin/env node
/**
 * Bulk-import benchmark: rows/s through our real import API (POST /api/v1/import/{entity} → R2 →
 * b2g-imports queue → parse/validate → D1 upserts) vs. a baseline Worker doing plain INSERTs into the
 * same D1 schema (bench/import/baseline/: one awaited INSERT per row, and D1 batches of 100), all
 * under local `wrangler dev` in the same run.
 *
 *   npm run bench:import -- [--customers 50000] [--orders 20000] [--only ours|baseline]
 *
 * Prints a table and writes bench/out/import-<timestamp>.json. See bench/README.md.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { benchArgs, benchProcess, sleep, tail } from "../lib.mjs";
import { ROOT, WRANGLER_JS, d1Json, terminateGroups } from "../../scripts/lib/wrangler.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const SITE_SQL = "INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('demo','Demo','[]','UTC','EUR',0)";
const KEY = newKey();
const KEY_SQL = insertKeySql({ id: KEY.id, hash: KEY.hash, site: SITE, name: "bench import (ingest+read)", scopes: ["ingest", "read"], now: 0 });
const BASELINE_CONFIG = "bench/import/baseline/wrangler.toml";
const REQUEST_ROWS = 1000; // baseline: customers per request
const WARMUP_ROWS = 200;
const POLL_MS = 100;

// ───────────────────────────── CLI ─────────────────────────────
const USAGE = `usage: node bench/import/run.mjs [options]
  --customers N   customers per customer dataset (default 50000)
  --orders N      orders (1–3 embedded items each) in the orders dataset (default 20000; 0 skips it)
  --only SIDE     run only "ours" or "baseline"
  --timeout S     global timeout in seconds (default 1200)
  --keep-state    keep bench/out/import-state-<timestamp>
  -h, --help`;
const { args, int: intArg } = benchArgs(
	{
		customers: { type: "string", default: "50000" },
		orders: { type: "string", default: "20000" },
		only: { type: "string" },
		timeout: { type: "string", default: "1200" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = intArg("customers", 1);
const ORDERS = intArg("orders", 0);
const GLOBAL_TIMEOUT_MS = intArg("timeout", 10) * 1000;
if (args.only && !["ours", "baseline"].includes(args.only)) {
	console.error(`--only must be ours or baseline\n${USAGE}`);
	process.exit(2);
}
const WANT = { ours: args.only !== "baseline", baseline: args.only !== "ours" };

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `import-state-${STAMP}`);
const RESULT_FILE = path.join(OUT, `import-${STAMP}.json`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

// Process hygiene and small helpers: bench/lib.mjs.
const { cleanup, die, wrangler, startDev } = benchProcess(GLOBAL_TIMEOUT_MS);
const DEADLINE = Date.now() + GLOBAL_TIMEOUT_MS;

const fmt = (n, d = 0) => (n == null || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
function table(rows, header) {
	const cells = [header, ...rows];
	const w = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
	return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

// ───────────────────────────── data (deterministic, generated before timing) ─────────────────────────────
function prng(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
const COUNTRIES = ["DE", "FR", "NL", "AT", "BE", "ES", "IT", "PL", "GB", "US"];
const CHANNELS = ["organic", "paid_search", "social", "email", "referral", "direct"];
const isoSec = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const T0 = Date.UTC(2024, 0, 1);
const SPAN = Date.UTC(2026, 10, 1) - T0;

function makeCustomers(n, prefix, seed = 1) {
	const rnd = prng(seed);
	const pick = (a) => a[Math.floor(rnd() * a.length)];
	return Array.from({ length: n }, (_, i) => ({
		customer_id: `${prefix}${String(i + 1).padStart(7, "0")}`,
		created_at: isoSec(T0 + Math.floor(rnd() * SPAN)),
		country: pick(COUNTRIES),
		channel: pick(CHANNELS),
		is_subscriber: rnd() < 0.2,
	}));
}
function makeOrders(n, customerIds, seed = 2) {
	const rnd = prng(seed);
	const orders = [];
	let items = 0;
	for (let i = 0; i < n; i++) {
		const k = 1 + Math.floor(rnd() * 3);
		const first = Math.floor(rnd() * 500);
		const lines = Array.from({ length: k }, (_, j) => ({ sku: `SKU-${String(((first + j * 97) % 500) + 1).padStart(4, "0")}`, qty: 1 + Math.floor(rnd() * 4), unit_price: (990 + Math.floor(rnd() * 8000)) / 100 }));
		items += k;
		const total = Math.round(lines.reduce((s, l) => s + l.qty * l.unit_price * 100, 0)) / 100;
		orders.push({ order_id: `ord-${String(i + 1).padStart(7, "0")}`, customer_id: customerIds[Math.floor(rnd() * customerIds.length)], placed_at: isoSec(T0 + Math.floor(rnd() * SPAN)), total, currency: "EUR", items: lines });
	}
	return { orders, items };
}
/** Records → Buffers of ~1000 lines each (the stream's chunks). */
function chunked(lines, header) {
	const out = header ? [Buffer.from(`${header}\n`)] : [];
	for (let i = 0; i < lines.length; i += 1000) out.push(Buffer.from(lines.slice(i, i + 1000).join("\n") + "\n"));
	return { chunks: out, bytes: out.reduce((s, b) => s + b.length, 0) };
}
const ndjson = (records) => chunked(records.map((r) => JSON.stringify(r)));
const CSV_COLUMNS = ["customer_id", "created_at", "country", "channel", "is_subscriber"];
const csv = (records) => chunked(records.map((r) => CSV_COLUMNS.map((c) => String(r[c])).join(",")), CSV_COLUMNS.join(","));

// ───────────────────────────── servers ─────────────────────────────
const d1 = (config, dir, sql, json = false) =>
	wrangler(["d1", "execute", "DB", "--local", "--persist-to", dir, "--config", config, ...(json ? ["--json"] : []), "--command", sql]).then((out) => (json ? d1Json(out)[0].results : out));

// ───────────────────────────── ours: one import job ─────────────────────────────
/** Streams `data` to the import API and polls the job until done/failed. seconds = first byte sent → job seen done. */
async function importJob(server, entity, format, data, expect) {
	const auth = { Authorization: `Bearer ${KEY.secret}` };
	const epoch0 = Date.now();
	const t0 = performance.now();
	// While the POST is open, watch the job list for our job leaving "uploading": its updated_at (server
	// clock, same machine) then marks the end of the R2 upload, which can come well before the 202 does.
	let posting = true;
	let inR2S = null;
	const watcher = (async () => {
		while (posting && inR2S === null) {
			await sleep(POLL_MS);
			const r = await fetch(`${server.base}/api/v1/import?site=${SITE}`, { headers: auth, signal: AbortSignal.timeout(10_000) }).catch(() => null);
			const j = r?.ok ? await r.json().catch(() => null) : null;
			const mine = j?.jobs?.[0]?.created_at >= epoch0 - 50 ? j.jobs[0] : null; // newest first
			if (mine?.status === "queued") inR2S = (mine.updated_at - epoch0) / 1000;
		}
	})();
	let res;
	let text;
	try {
		res = await fetch(`${server.base}/api/v1/import/${entity}?site=${SITE}&format=${format}`, {
			method: "POST",
			headers: { ...auth, "Content-Type": format === "csv" ? "text/csv" : "application/x-ndjson", "Content-Length": String(data.bytes) },
			body: Readable.from(data.chunks),
			duplex: "half",
			signal: AbortSignal.timeout(Math.max(1000, DEADLINE - Date.now())),
		});
		text = await res.text();
	} finally {
		posting = false;
	}
	const uploadS = (performance.now() - t0) / 1000;
	await watcher;
	if (res.status !== 202) return { ok: false, error: `POST → HTTP ${res.status}: ${text.slice(0, 500)}`, upload_s: uploadS };
	const { job: id } = JSON.parse(text);
	let job = null;
	let polls = 0;
	let pollError = null;
	let allRowsS = null; // first poll that saw every record counted (a job can still fail after that)
	while (Date.now() < DEADLINE) {
		await sleep(POLL_MS);
		try {
			const r = await fetch(`${server.base}/api/v1/import/${id}?site=${SITE}&rejects=5`, { headers: auth, signal: AbortSignal.timeout(10_000) });
			polls++;
			if (!r.ok) throw new Error(`GET job → HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
			job = await r.json();
			pollError = null;
			if (allRowsS === null && job.rows_ok + job.rows_rejected >= expect) allRowsS = (performance.now() - t0) / 1000;
		} catch (err) {
			pollError = err.message;
			continue;
		}
		if (job.status === "done" || job.status === "failed") break;
	}
	const seconds = (performance.now() - t0) / 1000;
	const result = {
		job: id, status: job?.status ?? null, in_r2_s: inR2S, upload_s: uploadS, seconds, all_rows_counted_s: allRowsS, polls,
		server_s: job?.finished_at ? (job.finished_at - epoch0) / 1000 : null,
		rows_ok: job?.rows_ok ?? null, rows_rejected: job?.rows_rejected ?? null, rows_changed: job?.rows_changed ?? null, bytes_total: job?.bytes_total ?? null,
		rejects_sample: job?.rejects ?? [], job_error: job?.error ?? null, poll_error: pollError,
	};
	result.ok = result.status === "done" && result.rows_ok === expect && result.rows_rejected === 0;
	if (!result.ok) result.error = `job ${id}: status ${result.status}, rows_ok ${result.rows_ok}/${expect}, rejected ${result.rows_rejected}${result.job_error ? `, error: ${result.job_error}` : ""}${result.rejects_sample.length ? `, rejects e.g. ${JSON.stringify(result.rejects_sample.slice(0, 3))}` : ""}${pollError ? `, last poll error: ${pollError}` : ""}`;
	return result;
}

// ───────────────────────────── baseline: plain INSERTs ─────────────────────────────
async function postJson(server, pathname, body) {
	const r = await fetch(`${server.base}${pathname}`, { method: "POST", headers: { "Content-Type": "application/json" }, body, signal: AbortSignal.timeout(Math.max(1000, DEADLINE - Date.now())) });
	const text = await r.text();
	if (!r.ok) throw new Error(`POST ${pathname} → HTTP ${r.status}: ${text.slice(0, 500)}`);
	return JSON.parse(text);
}
/** Sends the pre-serialized bodies one after the other; seconds = first request sent → last response. */
async function baselineRun(server, pathname, bodies, expect) {
	const t0 = performance.now();
	let rows = 0;
	let changes = 0;
	let workerMs = 0;
	for (const body of bodies) {
		const j = await postJson(server, `${pathname}?site=${SITE}`, body);
		rows += j.rows;
		changes += j.changes;
		workerMs += j.ms;
	}
	const seconds = (performance.now() - t0) / 1000;
	const ok = rows === expect && changes === expect;
	return { ok, seconds, requests: bodies.length, rows_sent: rows, rows_inserted: changes, in_worker_s: workerMs / 1000, ...(ok ? {} : { error: `${pathname}: ${changes}/${expect} rows inserted` }) };
}

// ───────────────────────────── main ─────────────────────────────
async function main() {
	if (!existsSync(WRANGLER_JS)) await die(`wrangler not found at ${WRANGLER_JS} (run npm install)`);
	if (Number(process.versions.node.split(".")[0]) < 22) log(`warning: running under Node ${process.version}; the repo pins Node 22 (use npm run bench:import or npx node …)`);
	const assets = path.join(ROOT, "dist/web"); // wrangler.toml's [assets] dir must exist; the bench only uses /api
	if (WANT.ours && !existsSync(assets)) mkdirSync(assets, { recursive: true });
	mkdirSync(STATE, { recursive: true });
	const loadBefore = os.loadavg()[0];
	if (loadBefore > 0.5) log(`warning: 1-min load average is ${loadBefore.toFixed(2)} before starting — other processes skew results`);
	const wranglerVersion = (await wrangler(["--version"])).trim().split("\n").pop();
	log(`state dir ${path.relative(ROOT, STATE)}; wrangler ${wranglerVersion}; node ${process.version}; ${os.cpus().length} CPUs`);

	// Data: the same customers for ours (NDJSON) and the baseline; the CSV variant has its own ids
	// (same values otherwise) because re-importing existing ids would only exercise the no-op path.
	const customers = makeCustomers(CUSTOMERS, "cust-");
	const data = {};
	if (WANT.ours) {
		data.warmup = ndjson(makeCustomers(WARMUP_ROWS, "warm-", 9));
		data.customers_ndjson = ndjson(customers);
		data.customers_csv = csv(makeCustomers(CUSTOMERS, "cust-csv-"));
		if (ORDERS) {
			const o = makeOrders(ORDERS, customers.map((c) => c.customer_id));
			data.orders_ndjson = { ...ndjson(o.orders), orders: ORDERS, items: o.items };
		}
	}
	const bodies = [];
	for (let i = 0; i < customers.length; i += REQUEST_ROWS) bodies.push(JSON.stringify(customers.slice(i, i + REQUEST_ROWS)));

	// State: our Worker's D1 (+ R2/queues) in STATE/ours, the baseline's D1 in STATE/baseline.
	const dirs = { ours: path.join(STATE, "ours"), baseline: path.join(STATE, "baseline") };
	try {
		if (WANT.ours) {
			log("ours: applying D1 migrations, inserting site demo and an ingest+read key…");
			await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dirs.ours, "--config", "wrangler.toml"]);
			await d1("wrangler.toml", dirs.ours, `${SITE_SQL}; ${KEY_SQL}`);
		}
		if (WANT.baseline) {
			log("baseline: applying D1 migrations…");
			await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dirs.baseline, "--config", BASELINE_CONFIG]);
		}
	} catch (err) {
		await die(`setup failed: ${err.message}`);
	}

	const servers = {};
	try {
		log("starting Workers…");
		await Promise.all([
			WANT.ours && startDev("ours", { config: "wrangler.toml", persistTo: dirs.ours, logFile: path.join(OUT, `import-${STAMP}-ours.log`) }).then((s) => (servers.ours = s)),
			WANT.baseline && startDev("baseline", { config: BASELINE_CONFIG, persistTo: dirs.baseline, logFile: path.join(OUT, `import-${STAMP}-baseline.log`) }).then((s) => (servers.baseline = s)),
		]);
	} catch (err) {
		await die(`could not start the Workers:\n${err.message}`);
	}
	log(`Workers answer HTTP (${Object.values(servers).map((s) => `${s.name} :${s.port}`).join(", ")})`);

	const results = {};
	const failures = [];
	// Warm-up (not measured): first requests compile the Worker and touch D1 / R2 / the queue; also a sanity check.
	if (servers.baseline) {
		const warm = JSON.stringify(customers.slice(0, WARMUP_ROWS));
		for (const p of ["/insert-loop", "/reset", "/insert-batch", "/reset"]) await postJson(servers.baseline, `${p}?site=${SITE}`, warm).catch((e) => die(`baseline warm-up: ${e.message}\n${tail(servers.baseline.logFile)}`));
	}
	if (servers.ours) {
		log(`ours: warm-up import of ${WARMUP_ROWS} customers…`);
		const w = await importJob(servers.ours, "customers", "ndjson", data.warmup, WARMUP_ROWS);
		if (!w.ok) await die(`warm-up import failed: ${w.error}\n--- ours log tail ---\n${tail(servers.ours.logFile)}`);
		log(`ours: warm-up done in ${w.seconds.toFixed(2)} s`);
	}

	const record = (name, r) => {
		results[name] = r;
		if (!r.ok) failures.push(`${name}: ${r.error}`);
		log(`${name}: ${r.ok ? `${fmt(r.rows)} rows in ${r.seconds.toFixed(2)} s = ${fmt(r.rows / r.seconds)} rows/s` : `FAILED — ${r.error}`}`);
	};
	if (servers.baseline) {
		for (const [name, p] of [["plain-loop", "/insert-loop"], ["batch-100", "/insert-batch"]]) {
			await postJson(servers.baseline, `/reset?site=${SITE}`, "");
			log(`baseline ${name}: ${fmt(CUSTOMERS)} customers in ${bodies.length} requests of ≤ ${REQUEST_ROWS}…`);
			const r = await baselineRun(servers.baseline, p, bodies, CUSTOMERS).catch((e) => ({ ok: false, error: e.message, seconds: NaN }));
			record(name, { side: "baseline", dataset: `customers JSON → ${name}`, rows: CUSTOMERS, ...r });
		}
	}
	if (servers.ours) {
		const runs = [
			["customers-ndjson", "customers", "ndjson", data.customers_ndjson, CUSTOMERS, CUSTOMERS],
			["customers-csv", "customers", "csv", data.customers_csv, CUSTOMERS, CUSTOMERS],
			...(ORDERS ? [["orders-ndjson", "orders", "ndjson", data.orders_ndjson, ORDERS, ORDERS + data.orders_ndjson.items]] : []),
		];
		for (const [name, entity, format, d, records, rows] of runs) {
			log(`ours ${name}: ${fmt(records)} records, ${(d.bytes / 1e6).toFixed(1)} MB…`);
			const r = await importJob(servers.ours, entity, format, d, records).catch((e) => ({ ok: false, error: e.message, seconds: NaN }));
			record(name, { side: "ours", dataset: `${entity} ${format.toUpperCase()} → import API`, records, rows, ...(entity === "orders" ? { orders: ORDERS, items: d.items } : {}), bytes: d.bytes, ...r });
		}
	}
	const loadAfter = os.loadavg()[0];

	// Stop the servers, then count what actually landed in each D1.
	await terminateGroups(Object.values(servers).map((s) => s.child));
	const counts = {};
	try {
		if (WANT.ours)
			counts.ours = (await d1("wrangler.toml", dirs.ours, "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_items) AS order_items", true))[0];
		if (WANT.baseline) counts.baseline = (await d1(BASELINE_CONFIG, dirs.baseline, "SELECT count(*) AS customers FROM customers", true))[0];
	} catch (err) {
		failures.push(`row count check: ${err.message}`);
	}
	if (counts.ours) {
		const want = { customers: WARMUP_ROWS + 2 * CUSTOMERS, orders: ORDERS, order_items: data.orders_ndjson?.items ?? 0 };
		for (const k of Object.keys(want)) if (counts.ours[k] !== want[k]) failures.push(`ours D1 has ${counts.ours[k]} ${k}, expected ${want[k]}`);
	}
	if (counts.baseline && counts.baseline.customers !== CUSTOMERS) failures.push(`baseline D1 has ${counts.baseline.customers} customers, expected ${CUSTOMERS}`);
	await cleanup();

	// ── report ──
	const rate = (r) => (r?.ok ? r.rows / r.seconds : null);
	const loop = rate(results["plain-loop"]);
	const batch = rate(results["batch-100"]);
	const rows = Object.entries(results).map(([name, r]) => {
		const rs = rate(r);
		const ours = r.side === "ours";
		return [name, fmt(r.rows), ours ? (r.bytes / 1e6).toFixed(1) : "-", ours ? fmt(r.in_r2_s, 2) : "-", ours ? fmt(r.upload_s, 2) : "-", ours ? "-" : fmt(r.in_worker_s, 2), fmt(r.seconds, 2), r.ok ? fmt(rs) : "FAILED", ours && rs && loop ? `${(rs / loop).toFixed(2)}×` : "-", ours && rs && batch ? `${(rs / batch).toFixed(2)}×` : "-"];
	});
	for (const r of Object.values(results)) if (r.side === "ours" && rate(r)) Object.assign(r, { rows_per_s: rate(r), ratio_over_plain_loop: loop ? rate(r) / loop : null, ratio_over_batch_100: batch ? rate(r) / batch : null });
	for (const r of Object.values(results)) if (r.side === "baseline" && rate(r)) r.rows_per_s = rate(r);

	console.log(`\nImport benchmark — ${fmt(CUSTOMERS)} customers${ORDERS && WANT.ours ? `, ${fmt(ORDERS)} orders (${fmt(data.orders_ndjson.items)} items)` : ""}${WANT.baseline ? `; baseline requests of ${REQUEST_ROWS} rows, sequential` : ""}`);
	console.log(`wrangler ${wranglerVersion}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim() ?? "?"}), load avg before ${loadBefore.toFixed(2)} / at end ${loadAfter.toFixed(2)}\n`);
	console.log(table(rows, ["dataset", "rows", "MB", "in R2 s", "202 s", "D1 s", "seconds", "rows/s", "ours/loop", "ours/batch"]));
	console.log("\nrows: orders-ndjson counts orders + item rows. Ours: in R2 s = first byte → file stored and slice queued (job's updated_at),");
	console.log("202 s = first byte → 202 received. Baseline: D1 s = time inside the Worker's insert loop/batches, summed.");
	console.log("seconds: first byte sent → job seen done (ours) / first request → last response (baseline); rows/s = rows / seconds.");
	if (counts.ours) console.log(`ours D1 after the run: ${JSON.stringify(counts.ours)} (incl. ${WARMUP_ROWS} warm-up customers)`);
	if (counts.baseline) console.log(`baseline D1 after the run: ${JSON.stringify(counts.baseline)}`);
	for (const f of failures) console.log(`FAILED ${f}`);
	for (const [name, r] of Object.entries(results))
		if (!r.ok && r.all_rows_counted_s != null) console.log(`  ${name}: every record was counted in rows_ok ${r.all_rows_counted_s.toFixed(2)} s after the first byte (≈ ${fmt(r.rows / r.all_rows_counted_s)} rows/s to that point), then the job ended ${r.status} at ${r.seconds.toFixed(2)} s`);
	if (failures.length) for (const s of Object.values(servers)) console.log(`--- ${s.name} log tail (${path.relative(ROOT, s.logFile)}) ---\n${tail(s.logFile)}`);

	writeFileSync(
		RESULT_FILE,
		JSON.stringify(
			{
				timestamp: new Date().toISOString(),
				config: { customers: CUSTOMERS, orders: ORDERS, only: args.only ?? null, baseline_request_rows: REQUEST_ROWS, baseline_batch_statements: 100, warmup_rows: WARMUP_ROWS, poll_ms: POLL_MS },
				environment: { node: process.version, wrangler: wranglerVersion, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model?.trim() ?? null, platform: `${os.platform()} ${os.release()}`, loadavg_1m_before: loadBefore, loadavg_1m_at_end: loadAfter },
				results,
				d1_counts: counts,
				failures,
				state_dir: args["keep-state"] || failures.length ? path.relative(ROOT, STATE) : null,
				ok: failures.length === 0,
			},
			null,
			2,
		) + "\n",
	);
	console.log(`\nresults: ${path.relative(ROOT, RESULT_FILE)}`);
	for (const s of Object.values(servers)) if (statSync(s.logFile).size === 0) rmSync(s.logFile, { force: true });
	if (failures.length) {
		console.error(`[bench] FAILED (state kept in ${path.relative(ROOT, STATE)})`);
		process.exit(1);
	}
	if (!args["keep-state"]) rmSync(STATE, { recursive: true, force: true });
}

main().catch((err) => die(err?.stack ?? String(err)));
