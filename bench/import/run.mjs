#!/usr/bin/env node
/**
 * Bulk-import benchmark: rows/s through our real import API (POST /api/v1/import/{entity} → R2 →
 * b2g-imports queue → parse/validate → D1 upserts) vs. a baseline Worker doing plain INSERTs into the
 * same D1 schema (bench/import/baseline/: one awaited INSERT per row, and D1 batches of 100), all
 * under local `wrangler dev` in the same run.
 *
 *   npm run bench:import -- [--customers 50000] [--orders 20000] [--events 88238] [--event-hours 13140] [--only ours|baseline]
 *
 * The events case (issue 15) backfills --events events whose timestamps are spread uniformly at random
 * over --event-hours hours (the file is in random time order: the worst case for archive objects per
 * slice), measures GET /api/v1/import/{job} latency while the import runs (p50/p95/max), sums the
 * slices' phase profile from the Worker's log (`import_slice` lines), checks the reconciliation of every
 * day through /api/v1/health/pipeline (accepted + imported = stored = archived), then runs the cron
 * (`/__scheduled`) until the archive compaction has merged each day's objects into one, and reports the
 * R2 object counts before and after.
 *
 * Prints a table and writes bench/out/import-<timestamp>.json. See bench/README.md.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { benchArgs, benchProcess, sleep, tail } from "../lib.mjs";
import { ROOT, WRANGLER_JS, d1Json, freePort, startWranglerDev, terminateGroups, waitForHttp } from "../../scripts/lib/wrangler.mjs";

const OUT = path.join(ROOT, "bench/out");
const SITE = "demo";
const SITE_SQL = "INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('demo','Demo','[]','UTC','EUR',0)";
const KEY = newKey();
const KEY_SQL = insertKeySql({ id: KEY.id, hash: KEY.hash, site: SITE, name: "bench import (ingest+read)", scopes: ["ingest", "read", "admin"], now: 0 });
const BASELINE_CONFIG = "bench/import/baseline/wrangler.toml";
const REQUEST_ROWS = 1000; // baseline: customers per request
const WARMUP_ROWS = 200;
const POLL_MS = 100;

// ───────────────────────────── CLI ─────────────────────────────
const USAGE = `usage: node bench/import/run.mjs [options]
  --customers N   customers per customer dataset (default 50000)
  --orders N      orders (1–3 embedded items each) in the orders dataset (default 20000; 0 skips it)
  --events N      backfilled events (default 88238; 0 skips the events case and the compaction)
  --event-hours H hours the events' timestamps spread over, ending 2026-11-01 (default 13140 ≈ 18 months)
  --max-fires N   cron fires at most to compact the archive (default 40; 0 skips the compaction)
  --event-files F the events as F files (line i in file i mod F), imported one after another (default 2): each
                  job writes one archive object per day it covers, so F jobs leave F objects per day to compact
  --only SIDE     run only "ours" or "baseline"
  --timeout S     global timeout in seconds (default 1200)
  --keep-state    keep bench/out/import-state-<timestamp>
  -h, --help`;
const { args, int: intArg } = benchArgs(
	{
		customers: { type: "string", default: "50000" },
		orders: { type: "string", default: "20000" },
		events: { type: "string", default: "88238" },
		"event-hours": { type: "string", default: "13140" },
		"max-fires": { type: "string", default: "40" },
		"event-files": { type: "string", default: "2" },
		only: { type: "string" },
		timeout: { type: "string", default: "1200" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const CUSTOMERS = intArg("customers", 0);
const EVENTS = intArg("events", 0);
const EVENT_HOURS = intArg("event-hours", 1);
const MAX_FIRES = intArg("max-fires", 0);
const EVENT_FILES = intArg("event-files", 1);
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
const { cleanup, die, wrangler, startDev, track } = benchProcess(GLOBAL_TIMEOUT_MS);
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
const EVENT_END = Date.UTC(2026, 10, 1);
const PAGES = ["/", "/c/protein", "/c/vitamins", "/p/whey-1kg", "/p/creatine-500g", "/p/omega-3", "/cart", "/checkout"];
/**
 * Backfill events in the /e wire format: `n` events, timestamps uniform over `hours` hours ending
 * EVENT_END, lines in random time order; a visitor's events are not contiguous (worst case for any
 * per-slice grouping). Returns the lines and the distinct UTC hours and days they cover.
 */
function makeEvents(n, hours, seed = 3) {
	const rnd = prng(seed);
	const start = EVENT_END - hours * 3_600_000;
	const hourSet = new Set();
	const daySet = new Set();
	const events = [];
	for (let i = 0; i < n; i++) {
		const ts = start + Math.floor(rnd() * hours * 3_600_000);
		hourSet.add(Math.floor(ts / 3_600_000));
		daySet.add(new Date(ts).toISOString().slice(0, 10));
		const r = rnd();
		const name = r < 0.6 ? "page_view" : r < 0.85 ? "product_view" : r < 0.95 ? "add_to_cart" : r < 0.98 ? "begin_checkout" : "purchase";
		const visitor = `bv-${String(Math.floor(rnd() * 20_000)).padStart(5, "0")}`;
		const props = name === "purchase" ? { order_id: `bo-${i}`, value: 49.9, currency: "EUR", items: [{ sku: "WHEY-1KG", qty: 1, price: 49.9 }] } : name === "product_view" || name === "add_to_cart" ? { sku: "WHEY-1KG" } : {};
		events.push({ id: `bev-${String(i).padStart(7, "0")}`, name, ts, url: `https://shop.example${PAGES[Math.floor(rnd() * PAGES.length)]}`, visitor_id: visitor, props });
	}
	return { lines: events, hours: hourSet.size, days: [...daySet].sort() };
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
	const pollMs = []; // each progress poll's latency while the job runs: the import must not starve other requests
	const pollSeries = []; // [ms since first byte, latency ms]: when slow polls happened
	while (Date.now() < DEADLINE) {
		await sleep(POLL_MS);
		try {
			const p0 = performance.now();
			const r = await fetch(`${server.base}/api/v1/import/${id}?site=${SITE}&rejects=5`, { headers: auth, signal: AbortSignal.timeout(30_000) });
			const body = await r.text();
			pollMs.push(performance.now() - p0);
			pollSeries.push([Math.round(p0 - t0), Math.round(performance.now() - p0)]);
			polls++;
			if (!r.ok) throw new Error(`GET job → HTTP ${r.status}: ${body.slice(0, 300)}`);
			job = JSON.parse(body);
			pollError = null;
			if (allRowsS === null && job.rows_ok + job.rows_rejected >= expect) allRowsS = (performance.now() - t0) / 1000;
		} catch (err) {
			pollError = err.message;
			continue;
		}
		if (job.status === "done" || job.status === "failed") break;
	}
	const seconds = (performance.now() - t0) / 1000;
	const sorted = [...pollMs].sort((a, b) => a - b);
	const q = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : null);
	const result = {
		poll_ms: { n: sorted.length, p50: q(0.5), p95: q(0.95), max: sorted.at(-1) ?? null },
		poll_series: pollSeries,
		job: id, status: job?.status ?? null, in_r2_s: inR2S, upload_s: uploadS, seconds, all_rows_counted_s: allRowsS, polls,
		server_s: job?.finished_at ? (job.finished_at - epoch0) / 1000 : null,
		rows_ok: job?.rows_ok ?? null, rows_rejected: job?.rows_rejected ?? null, rows_changed: job?.rows_changed ?? null, bytes_total: job?.bytes_total ?? null,
		rejects_sample: job?.rejects ?? [], job_error: job?.error ?? null, poll_error: pollError,
	};
	result.ok = result.status === "done" && result.rows_ok === expect && result.rows_rejected === 0;
	if (!result.ok) result.error = `job ${id}: status ${result.status}, rows_ok ${result.rows_ok}/${expect}, rejected ${result.rows_rejected}${result.job_error ? `, error: ${result.job_error}` : ""}${result.rejects_sample.length ? `, rejects e.g. ${JSON.stringify(result.rejects_sample.slice(0, 3))}` : ""}${pollError ? `, last poll error: ${pollError}` : ""}`;
	return result;
}

/** Our Worker under `wrangler dev` with the cron reachable at /__scheduled and console.log in its log (the slices' profile lines). */
async function startOurs(logFile, persistTo) {
	const port = await freePort();
	const logStream = createWriteStream(logFile);
	await new Promise((r) => logStream.on("open", r));
	const child = await startWranglerDev({ config: "wrangler.toml", port, persistTo, logLevel: "log", stdio: ["ignore", logStream, logStream], extraArgs: ["--test-scheduled"], onSpawn: track });
	try {
		await waitForHttp(`http://127.0.0.1:${port}/__bench_probe`, { child, timeoutMs: 120_000 });
	} catch (err) {
		throw new Error(`ours Worker: ${err.message}. Log ${logFile}:\n${tail(logFile)}`);
	}
	return { name: "ours", child, port, logFile, base: `http://127.0.0.1:${port}` };
}

/** The `import_slice` profile lines (workers/import/slice.ts) of one job from the Worker's log: per slice and summed. */
function sliceProfile(logFile, job) {
	const slices = [];
	for (const line of readFileSync(logFile, "utf8").split("\n")) {
		const at = line.indexOf('{"import_slice"');
		if (at < 0) continue;
		try {
			const p = JSON.parse(line.slice(at)).import_slice;
			if (p.job === job) slices.push(p);
		} catch {
			// a line cut by the log's buffering: skipped
		}
	}
	const total = {};
	for (const p of slices) for (const [k, v] of Object.entries(p)) if (typeof v === "number" && k !== "offset") total[k] = (total[k] ?? 0) + v;
	return { count: slices.length, max_ms: Math.max(0, ...slices.map((p) => p.ms)), total, each: slices };
}

/** /api/v1/health/pipeline for every day (8 at a time): R2 objects and events, and the days that do not reconcile. */
async function archiveCounts(server, days) {
	const auth = { Authorization: `Bearer ${KEY.secret}` };
	const out = { objects: 0, archived: 0, stored: 0, imported: 0, bad: [] };
	let next = 0;
	const worker = async () => {
		while (next < days.length) {
			const day = days[next++];
			let r = await fetch(`${server.base}/api/v1/health/pipeline?site=${SITE}&date=${day}`, { headers: auth, signal: AbortSignal.timeout(60_000) });
			// The API's per-key rate limit (600 per minute by default): wait as told and ask again.
			while (r.status === 429) {
				await r.text();
				await sleep(1000 * Number(r.headers.get("retry-after") ?? 1));
				r = await fetch(`${server.base}/api/v1/health/pipeline?site=${SITE}&date=${day}`, { headers: auth, signal: AbortSignal.timeout(60_000) });
			}
			const h = await r.json();
			if (!r.ok) throw new Error(`health ${day} → HTTP ${r.status}: ${JSON.stringify(h).slice(0, 300)}`);
			out.objects += h.archive_objects;
			out.archived += h.archived;
			out.stored += h.stored;
			out.imported += h.imported;
			if (!h.reconciled) out.bad.push({ day, stored: h.stored, archived: h.archived, imported: h.imported, objects: h.archive_objects });
		}
	};
	await Promise.all(Array.from({ length: 8 }, worker));
	return out;
}

/** Fires the cron until the archive has one object per day (or --max-fires); the compaction's own log lines say what each fire did. */
async function compactAll(server, days, failures, before) {
	const t0 = performance.now();
	let fires = 0;
	if (MAX_FIRES === 0) return { after: before, fires: 0, seconds: 0, log: [] };
	let after = await archiveCounts(server, days);
	while (after.objects > days.length && fires < MAX_FIRES && Date.now() < DEADLINE) {
		const r = await fetch(`${server.base}/__scheduled?cron=${encodeURIComponent("*/10 * * * *")}`, { signal: AbortSignal.timeout(Math.max(1000, DEADLINE - Date.now())) });
		await r.text();
		if (!r.ok) failures.push(`cron fire → HTTP ${r.status}`);
		fires++;
		after = await archiveCounts(server, days);
		log(`  cron fire ${fires}: ${fmt(after.objects)} objects, ${fmt(after.archived)} events counted, ${after.bad.length} days not reconciled`);
	}
	const lines = readFileSync(server.logFile, "utf8").split("\n").filter((l) => l.includes('{"archive_compaction"'));
	return { after, fires, seconds: (performance.now() - t0) / 1000, log: lines.map((l) => { try { return JSON.parse(l.slice(l.indexOf('{"archive_compaction"'))).archive_compaction; } catch { return l; } }) };
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
		if (CUSTOMERS) {
			data.customers_ndjson = ndjson(customers);
			data.customers_csv = csv(makeCustomers(CUSTOMERS, "cust-csv-"));
		}
		if (ORDERS) {
			const o = makeOrders(ORDERS, (CUSTOMERS ? customers : makeCustomers(1000, "cust-")).map((c) => c.customer_id));
			data.orders_ndjson = { ...ndjson(o.orders), orders: ORDERS, items: o.items };
		}
		if (EVENTS) {
			const ev = makeEvents(EVENTS, EVENT_HOURS);
			data.events_files = Array.from({ length: EVENT_FILES }, (_, f) => {
				const lines = ev.lines.filter((_, i) => i % EVENT_FILES === f);
				return { ...ndjson(lines), records: lines.length, hours: new Set(lines.map((l) => Math.floor(l.ts / 3_600_000))).size, days: [...new Set(lines.map((l) => new Date(l.ts).toISOString().slice(0, 10)))] };
			});
			data.events_ndjson = { hours: ev.hours, days: ev.days };
			log(`events: ${fmt(EVENTS)} over ${fmt(ev.hours)} distinct event-hours, ${ev.days.length} days`);
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
			WANT.ours && startOurs(path.join(OUT, `import-${STAMP}-ours.log`), dirs.ours).then((s) => (servers.ours = s)),
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
			...(CUSTOMERS ? [["customers-ndjson", "customers", "ndjson", data.customers_ndjson, CUSTOMERS, CUSTOMERS], ["customers-csv", "customers", "csv", data.customers_csv, CUSTOMERS, CUSTOMERS]] : []),
			...(ORDERS ? [["orders-ndjson", "orders", "ndjson", data.orders_ndjson, ORDERS, ORDERS + data.orders_ndjson.items]] : []),
			...(EVENTS ? data.events_files.map((d, f) => [`events-ndjson-${f + 1}of${EVENT_FILES}`, "events", "ndjson", d, d.records, d.records]) : []),
		];
		for (const [name, entity, format, d, records, rows] of runs) {
			log(`ours ${name}: ${fmt(records)} records, ${(d.bytes / 1e6).toFixed(1)} MB…`);
			const r = await importJob(servers.ours, entity, format, d, records).catch((e) => ({ ok: false, error: e.message, seconds: NaN }));
			if (r.job) r.slices = sliceProfile(servers.ours.logFile, r.job);
			record(name, { side: "ours", dataset: `${entity} ${format.toUpperCase()} → import API`, records, rows, ...(entity === "orders" ? { orders: ORDERS, items: d.items } : {}), ...(entity === "events" ? { event_hours: d.hours, event_days: d.days.length } : {}), bytes: d.bytes, ...r });
			if (r.poll_ms) log(`${name}: progress polls p50 ${fmt(r.poll_ms.p50, 1)} ms, p95 ${fmt(r.poll_ms.p95, 1)} ms, max ${fmt(r.poll_ms.max, 1)} ms (${r.poll_ms.n} polls); slices: ${JSON.stringify(r.slices?.total ?? null)}`);
		}
		const eventRuns = Object.entries(results).filter(([n]) => n.startsWith("events-ndjson-")).map(([, r]) => r);
		if (EVENTS && eventRuns.length === EVENT_FILES && eventRuns.every((r) => r.ok)) {
			const seconds = eventRuns.reduce((sum, r) => sum + r.seconds, 0);
			const polls = eventRuns.flatMap((r) => r.poll_series ?? []).map((p) => p[1]).sort((a, b) => a - b);
			const q = (p) => (polls.length ? polls[Math.min(polls.length - 1, Math.ceil(p * polls.length) - 1)] : null);
			results["events-all"] = { side: "ours", dataset: `events NDJSON, ${EVENT_FILES} files → import API`, ok: true, rows: EVENTS, records: EVENTS, bytes: eventRuns.reduce((sum, r) => sum + r.bytes, 0), seconds, event_hours: data.events_ndjson.hours, event_days: data.events_ndjson.days.length, poll_ms: { n: polls.length, p50: q(0.5), p95: q(0.95), max: polls.at(-1) ?? null }, slices: { count: eventRuns.reduce((n, r) => n + (r.slices?.count ?? 0), 0), max_ms: Math.max(...eventRuns.map((r) => r.slices?.max_ms ?? 0)) } };
			log(`events (all files): ${fmt(EVENTS)} rows in ${seconds.toFixed(2)} s = ${fmt(EVENTS / seconds)} rows/s`);
			const days = data.events_ndjson.days;
			log(`events: reconciling ${days.length} days through /api/v1/health/pipeline…`);
			const before = await archiveCounts(servers.ours, days);
			if (before.bad.length) failures.push(`events: ${before.bad.length} days not reconciled after the import, e.g. ${JSON.stringify(before.bad.slice(0, 3))}`);
			if (before.stored !== EVENTS || before.archived !== EVENTS || before.imported !== EVENTS) failures.push(`events after import: stored ${before.stored}, archived ${before.archived}, imported ${before.imported}, expected ${EVENTS} each`);
			log(`events: R2 holds ${fmt(before.objects)} objects for ${fmt(before.archived)} events over ${days.length} days; compacting (cron fires)…`);
			const compaction = await compactAll(servers.ours, days, failures, before);
			results.compaction = { ok: compaction.after.bad.length === 0, objects_before: before.objects, objects_after: compaction.after.objects, days: days.length, archived_after: compaction.after.archived, fires: compaction.fires, seconds: compaction.seconds, log: compaction.log };
			if (compaction.after.bad.length) failures.push(`after compaction: ${compaction.after.bad.length} days not reconciled, e.g. ${JSON.stringify(compaction.after.bad.slice(0, 3))}`);
			if (compaction.after.archived !== EVENTS) failures.push(`after compaction R2 counts ${compaction.after.archived} events, expected ${EVENTS}`);
			log(`compaction: ${fmt(before.objects)} → ${fmt(compaction.after.objects)} objects in ${compaction.fires} cron fires (${compaction.seconds.toFixed(1)} s)`);
		}
	}
	const loadAfter = os.loadavg()[0];

	// Stop the servers, then count what actually landed in each D1.
	await terminateGroups(Object.values(servers).map((s) => s.child));
	const counts = {};
	try {
		if (WANT.ours)
			counts.ours = (await d1("wrangler.toml", dirs.ours, "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_items) AS order_items, (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM events WHERE archived_at IS NULL) AS events_unarchived", true))[0];
		if (WANT.baseline) counts.baseline = (await d1(BASELINE_CONFIG, dirs.baseline, "SELECT count(*) AS customers FROM customers", true))[0];
	} catch (err) {
		failures.push(`row count check: ${err.message}`);
	}
	if (counts.ours) {
		const want = { customers: WARMUP_ROWS + 2 * CUSTOMERS, orders: ORDERS, order_items: data.orders_ndjson?.items ?? 0, events: EVENTS, events_unarchived: 0 };
		for (const k of Object.keys(want)) if (counts.ours[k] !== want[k]) failures.push(`ours D1 has ${counts.ours[k]} ${k}, expected ${want[k]}`);
	}
	if (counts.baseline && counts.baseline.customers !== CUSTOMERS) failures.push(`baseline D1 has ${counts.baseline.customers} customers, expected ${CUSTOMERS}`);
	await cleanup();

	// ── report ──
	const rate = (r) => (r?.ok ? r.rows / r.seconds : null);
	const loop = rate(results["plain-loop"]);
	const batch = rate(results["batch-100"]);
	const rows = Object.entries(results).filter(([name]) => name !== "compaction").map(([name, r]) => {
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
	for (const [name, r] of Object.entries(results)) {
		if (r.poll_ms?.n) console.log(`${name}: progress polls during the import p50 ${fmt(r.poll_ms.p50, 1)} ms, p95 ${fmt(r.poll_ms.p95, 1)} ms, max ${fmt(r.poll_ms.max, 1)} ms (${r.poll_ms.n} polls); ${r.slices?.count ?? 0} slices, longest ${fmt(r.slices?.max_ms)} ms`);
		if (r.slices?.total) console.log(`  slice phases summed (ms): ${JSON.stringify(r.slices.total)}`);
		if (r.event_hours) console.log(`  events spread over ${fmt(r.event_hours)} distinct event-hours (${fmt(r.event_days)} days)`);
	}
	// On a loaded machine the absolute rates move with the load; events against orders in the same run do less.
	if (rate(results["events-all"]) && rate(results["orders-ndjson"])) console.log(`events-all / orders-ndjson rows/s in this run: ${(rate(results["events-all"]) / rate(results["orders-ndjson"])).toFixed(2)}`);
	if (results.compaction) console.log(`archive compaction: R2 objects ${fmt(results.compaction.objects_before)} before → ${fmt(results.compaction.objects_after)} after (${results.compaction.days} days), ${results.compaction.fires} cron fires, ${results.compaction.seconds.toFixed(1)} s; events counted after: ${fmt(results.compaction.archived_after)}`);
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
				config: { customers: CUSTOMERS, orders: ORDERS, events: EVENTS, event_hours: EVENT_HOURS, only: args.only ?? null, baseline_request_rows: REQUEST_ROWS, baseline_batch_statements: 100, warmup_rows: WARMUP_ROWS, poll_ms: POLL_MS },
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
