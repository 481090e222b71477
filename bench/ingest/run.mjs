#!/usr/bin/env node
/**
 * Ingest benchmark: POST /e on our Worker vs. an empty baseline Worker, both under `wrangler dev`
 * (local workerd, logging off), driven by the same keep-alive HTTP client.
 *
 *   npm run bench:ingest -- --events 5000 --concurrency 32 [--batch 1] [--warmup 200]
 *   npm run bench:ingest -- --cold 5          # cold start instead: N fresh starts per side, first /e timed
 *
 * Steps: fresh state dir → D1 migrations + demo site + a read key for it (the drain polling reads
 * /api/v1) → start both Workers → warm up → measure the empty Worker → measure ours → wait for the
 * queue consumer to drain (accepted = stored = archived) → print a table and write
 * bench/out/ingest-<timestamp>.json. See bench/README.md.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { benchProcess, benchVars, sleep, tail } from "../lib.mjs";
import { ROOT, WRANGLER_JS, freePort, terminateGroups } from "../../scripts/lib/wrangler.mjs";

const OUT = path.join(ROOT, "bench/out");

// A desktop Chrome UA (without one /e classifies the traffic as bot and queues nothing) and a client IP per
// simulated visitor (it feeds the cookieless visitor hash).
const USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SITE = "demo";
const SITE_SQL = "INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('demo','Demo store','[]','UTC','EUR',0) ON CONFLICT DO NOTHING";
/** The read key the drain polling sends to /api/v1/health/pipeline (inserted with the site; the state dir is fresh). */
const READ_KEY = newKey();
const KEY_SQL = insertKeySql({ id: READ_KEY.id, hash: READ_KEY.hash, site: SITE, name: "bench (read)", scopes: ["read"], now: 0 });

// ───────────────────────────── CLI ─────────────────────────────
const USAGE = `usage: node bench/ingest/run.mjs [options]
  --events N          events to send per side, measured (default 5000)
  --concurrency C     requests in flight (default 32)
  --batch B           events per request (default 1; the last request carries the remainder)
  --warmup W          warm-up requests per side, not measured (default 200)
  --rounds R          split the measured events into R rounds, alternating empty/ours (default 1)
  --client K          http (node:http keep-alive agent, default) | fetch (undici)
  --drain-timeout S   seconds to wait for the queue consumer to drain (default 60)
  --timeout S         global timeout in seconds (default 600)
  --port-ours P       port for our Worker (default: a free port)
  --port-empty P      port for the empty Worker (default: a free port)
  --only SIDE         measure only "ours" or "empty"
  --keep-state        keep bench/out/state-<timestamp> after the run
  --cold N            measure cold starts instead: N times per side, start wrangler dev and time the first POST /e
  -h, --help`;

let args;
try {
	args = parseArgs({
		options: {
			events: { type: "string", default: "5000" },
			concurrency: { type: "string", default: "32" },
			batch: { type: "string", default: "1" },
			warmup: { type: "string", default: "200" },
			rounds: { type: "string", default: "1" },
			client: { type: "string", default: "http" },
			"drain-timeout": { type: "string", default: "60" },
			timeout: { type: "string", default: "600" },
			"port-ours": { type: "string" },
			"port-empty": { type: "string" },
			only: { type: "string" },
			"keep-state": { type: "boolean", default: false },
			cold: { type: "string", default: "0" },
			help: { type: "boolean", short: "h", default: false },
		},
		strict: true,
	}).values;
} catch (err) {
	console.error(`${err.message}\n${USAGE}`);
	process.exit(2);
}
if (args.help) {
	console.log(USAGE);
	process.exit(0);
}
function intArg(name, min) {
	const v = Number(args[name]);
	if (!Number.isInteger(v) || v < min) {
		console.error(`--${name} must be an integer >= ${min} (got ${args[name]})\n${USAGE}`);
		process.exit(2);
	}
	return v;
}
const EVENTS = intArg("events", 1);
const CONCURRENCY = intArg("concurrency", 1);
const BATCH = intArg("batch", 1);
const WARMUP = intArg("warmup", 0);
const ROUNDS = intArg("rounds", 1);
const COLD = intArg("cold", 0);
const DRAIN_TIMEOUT_MS = intArg("drain-timeout", 1) * 1000;
const GLOBAL_TIMEOUT_MS = intArg("timeout", 10) * 1000;
if (BATCH > 1000) {
	console.error("--batch must be <= 1000 (the /e limit)");
	process.exit(2);
}
if (!["http", "fetch"].includes(args.client)) {
	console.error(`--client must be http or fetch\n${USAGE}`);
	process.exit(2);
}
if (args.only && !["ours", "empty"].includes(args.only)) {
	console.error(`--only must be ours or empty\n${USAGE}`);
	process.exit(2);
}
const SIDES = args.only ? [args.only] : ["empty", "ours"];

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `state-${STAMP}`);
const RESULT_FILE = path.join(OUT, `ingest-${STAMP}.json`);
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

// Process hygiene and small helpers: bench/lib.mjs.
const { cleanup, die, wrangler, startDev } = benchProcess(GLOBAL_TIMEOUT_MS);



/** GET a JSON API path on our Worker with the read key. */
async function getJson(port, pathname) {
	const res = await fetch(`http://127.0.0.1:${port}${pathname}`, { headers: { "User-Agent": USER_AGENT, Authorization: `Bearer ${READ_KEY.secret}` }, signal: AbortSignal.timeout(10_000) });
	const text = await res.text();
	if (!res.ok) throw new Error(`GET ${pathname} → ${res.status}: ${text.slice(0, 500)}`);
	return JSON.parse(text);
}

// ───────────────────────────── the client ─────────────────────────────
/**
 * One POST; the same code drives both sides. Resolves { status, ms, body } — status 0 on a
 * transport error (with `error`). Latency covers request start to the last byte of the response.
 */
function makeClient(kind, port) {
	if (kind === "fetch") {
		const url = `http://127.0.0.1:${port}/e`;
		return {
			async post(body, headers) {
				const t0 = performance.now();
				try {
					const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(30_000) });
					const buf = await res.arrayBuffer();
					return { status: res.status, ms: performance.now() - t0, body: Buffer.from(buf) };
				} catch (err) {
					return { status: 0, ms: performance.now() - t0, error: err?.cause?.message ?? err?.message ?? String(err) };
				}
			},
			close() {},
		};
	}
	const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY, scheduling: "fifo" });
	return {
		post(body, headers) {
			return new Promise((resolve) => {
				const t0 = performance.now();
				const fail = (err) => resolve({ status: 0, ms: performance.now() - t0, error: err?.message ?? String(err) });
				const req = http.request(
					{ agent, host: "127.0.0.1", port, method: "POST", path: "/e", headers: { ...headers, "Content-Length": Buffer.byteLength(body) } },
					(res) => {
						const chunks = [];
						res.on("data", (c) => chunks.push(c));
						res.on("end", () => resolve({ status: res.statusCode, ms: performance.now() - t0, body: Buffer.concat(chunks) }));
						res.on("error", fail);
					},
				);
				req.setTimeout(30_000, () => req.destroy(new Error("request timeout (30s)")));
				req.on("error", fail);
				req.end(body);
			});
		},
		close() {
			agent.destroy();
		},
	};
}

let ipCounter = 0;
/** A fresh batch of `n` page views stamped now, plus browser-like headers. */
function makeRequest(n) {
	const now = Date.now();
	const events = [];
	for (let i = 0; i < n; i++) events.push({ id: randomUUID(), name: "page_view", ts: now, url: `https://shop.example/p/${(ipCounter + i) % 50}`, referrer: "", props: {} });
	const ip = ipCounter++ % 250;
	return {
		body: JSON.stringify({ site: SITE, events }),
		headers: { "Content-Type": "application/json", "User-Agent": USER_AGENT, "CF-Connecting-IP": `203.0.113.${ip + 1}`, Accept: "*/*" },
	};
}

/**
 * Sends `events` events in requests of `batch`, `concurrency` at a time. For our Worker every 202
 * body is checked: accepted + duplicates must cover the batch and bots must be 0.
 */
async function drive(side, client, { events, batch, concurrency }) {
	const sizes = [];
	for (let left = events; left > 0; left -= batch) sizes.push(Math.min(batch, left));
	const latencies = new Float64Array(sizes.length);
	const statuses = {};
	const errorSamples = [];
	let next = 0;
	let errors = 0;
	let transportErrors = 0;
	let accepted = 0;
	let duplicates = 0;
	let bots = 0;
	let notAccepted = 0;
	const badBodies = [];

	const t0 = performance.now();
	async function worker() {
		while (next < sizes.length) {
			const i = next++;
			const { body, headers } = makeRequest(sizes[i]);
			const r = await client.post(body, headers);
			latencies[i] = r.ms;
			statuses[r.status] = (statuses[r.status] ?? 0) + 1;
			if (r.status < 200 || r.status > 299) {
				errors++;
				if (r.status === 0) transportErrors++;
				if (errorSamples.length < 5) errorSamples.push(r.status === 0 ? `transport: ${r.error}` : `${r.status}: ${r.body.toString("utf8").slice(0, 300)}`);
				continue;
			}
			if (side === "ours") {
				let j;
				try {
					j = JSON.parse(r.body.toString("utf8"));
				} catch {
					j = null;
				}
				const a = j?.accepted ?? 0;
				const d = j?.duplicates ?? 0;
				const b = j?.bots ?? 0;
				accepted += a;
				duplicates += d;
				bots += b;
				if (a !== sizes[i] || b !== 0) {
					notAccepted++;
					if (badBodies.length < 5) badBodies.push(r.body.toString("utf8").slice(0, 300));
				}
			}
		}
	}
	await Promise.all(Array.from({ length: Math.min(concurrency, sizes.length) }, worker));
	const seconds = (performance.now() - t0) / 1000;

	return { side, requests: sizes.length, events, seconds, latencies, errors, transportErrors, statuses, errorSamples, accepted, duplicates, bots, notAccepted, badBodies };
}

/** Merges the raw parts of one side (one per round) into its summary row. */
function summarize(side, parts) {
	const sum = (k) => parts.reduce((s, p) => s + p[k], 0);
	const requests = sum("requests");
	const events = sum("events");
	const seconds = sum("seconds");
	const sorted = Float64Array.from(parts.flatMap((p) => Array.from(p.latencies))).sort();
	const pct = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
	const statuses = {};
	for (const p of parts) for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
	return {
		side,
		requests,
		events,
		seconds,
		requests_per_s: requests / seconds,
		events_per_s: events / seconds,
		latency_ms: { p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1], mean: sorted.reduce((s, x) => s + x, 0) / sorted.length },
		errors: sum("errors"),
		transport_errors: sum("transportErrors"),
		statuses,
		error_samples: parts.flatMap((p) => p.errorSamples).slice(0, 5),
		...(side === "ours"
			? { accepted: sum("accepted"), duplicates: sum("duplicates"), bots: sum("bots"), requests_not_fully_accepted: sum("notAccepted"), not_accepted_samples: parts.flatMap((p) => p.badBodies).slice(0, 5) }
			: {}),
		...(parts.length > 1 ? { rounds: parts.map((p) => ({ requests: p.requests, events: p.events, seconds: p.seconds, events_per_s: p.events / p.seconds })) } : {}),
	};
}

// ───────────────────────────── drain ─────────────────────────────
/** Polls the pipeline health until stored = accepted (and archived = stored), or the timeout. */
async function waitForDrain(port, date, expectedAccepted, timeoutMs) {
	const t0 = performance.now();
	let last = null;
	let storedAtMs = null;
	let archivedAtMs = null;
	let lastError = null;
	while (performance.now() - t0 < timeoutMs) {
		try {
			last = await getJson(port, `/api/v1/health/pipeline?site=${SITE}&date=${date}`);
			lastError = null;
			const elapsed = performance.now() - t0;
			const allIn = last.accepted >= expectedAccepted;
			if (storedAtMs === null && allIn && last.stored === last.accepted) storedAtMs = elapsed;
			if (archivedAtMs === null && allIn && last.archived === last.accepted && last.stored === last.accepted) archivedAtMs = elapsed;
			if (storedAtMs !== null && archivedAtMs !== null) break;
		} catch (err) {
			lastError = err.message;
		}
		await sleep(200);
	}
	return {
		date,
		expected_accepted: expectedAccepted,
		stored_after_ms: storedAtMs,
		archived_after_ms: archivedAtMs,
		timed_out: storedAtMs === null,
		health: last,
		last_error: lastError,
		accepted_eq_stored_eq_archived: !!last && last.accepted === last.stored && last.stored === last.archived && last.accepted >= expectedAccepted,
	};
}

// ───────────────────────────── report ─────────────────────────────
function fmt(n, digits = 0) {
	return n === null || n === undefined || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function table(rows, header) {
	const cells = [header, ...rows];
	const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
	return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

// ───────────────────────────── cold start ─────────────────────────────
/**
 * --cold N: per side, N times: start `wrangler dev` on the prepared state, wait until it answers HTTP
 * ("ready": wrangler's bundling and workerd's start, which loads and evaluates the Worker script), then
 * time one POST /e ("first /e": the first request's own work — first D1 reads, the LiveSite object's
 * start and SQLite migrations on its first call). The empty Worker gives the same phases for a script
 * of 6 lines, so ours minus empty is what our code adds. Sides alternate, so background load hits both.
 */
async function coldStarts() {
	const rows = { empty: [], ours: [] };
	for (let i = 0; i < COLD; i++) {
		for (const side of SIDES) {
			const port = await freePort();
			const t0 = performance.now();
			const server =
				side === "ours"
					? await startDev("ours", { config: "wrangler.toml", port, persistTo: STATE, logFile: path.join(OUT, `ingest-${STAMP}-cold-ours.log`), extraArgs: benchVars() })
					: await startDev("empty", { config: "bench/empty/wrangler.toml", port, persistTo: path.join(STATE, "empty"), logFile: path.join(OUT, `ingest-${STAMP}-cold-empty.log`) });
			const t1 = performance.now();
			const client = makeClient("http", port);
			const { body, headers } = makeRequest(1);
			const r = await client.post(body, headers);
			const t2 = performance.now();
			client.close();
			if (r.status !== 202) await die(`cold start ${i + 1} of ${side}: first /e answered ${r.status} ${r.body?.toString("utf8") ?? r.error}`);
			rows[side].push({ ready_ms: t1 - t0, first_e_ms: t2 - t1, total_ms: t2 - t0 });
			log(`cold ${side} #${i + 1}: ready ${fmt(t1 - t0)} ms, first /e ${fmt(t2 - t1, 1)} ms`);
			await terminateGroups([server.child]);
		}
	}
	const median = (xs) => {
		const s = [...xs].sort((a, b) => a - b);
		return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
	};
	const summary = Object.fromEntries(
		SIDES.map((side) => [side, Object.fromEntries(["ready_ms", "first_e_ms", "total_ms"].map((k) => [k, { median: median(rows[side].map((r) => r[k])), min: Math.min(...rows[side].map((r) => r[k])), max: Math.max(...rows[side].map((r) => r[k])) }]))]),
	);
	console.log(`\nCold start — ${COLD} start(s) per side (wrangler dev, local workerd)\n`);
	console.log(
		table(
			SIDES.map((side) => {
				const m = summary[side];
				return [side, `${fmt(m.ready_ms.median)} (${fmt(m.ready_ms.min)}–${fmt(m.ready_ms.max)})`, `${fmt(m.first_e_ms.median, 1)} (${fmt(m.first_e_ms.min, 1)}–${fmt(m.first_e_ms.max, 1)})`, fmt(m.total_ms.median)];
			}),
			["side", "ready ms median (min–max)", "first /e ms median (min–max)", "total ms median"],
		),
	);
	return { rows, summary };
}

// ───────────────────────────── main ─────────────────────────────
async function main() {
	if (!existsSync(WRANGLER_JS)) await die(`wrangler not found at ${WRANGLER_JS} (run npm install)`);
	const nodeMajor = Number(process.versions.node.split(".")[0]);
	if (nodeMajor < 22) log(`warning: running under Node ${process.version}; the repo pins Node 22 (use npm run bench:ingest or npx node ...)`);
	mkdirSync(STATE, { recursive: true });

	// Static assets dir from wrangler.toml must exist for wrangler dev.
	const assets = path.join(ROOT, "dist/web");
	if (!existsSync(assets)) {
		const build = path.join(ROOT, "scripts/build-tracker.mjs");
		if (existsSync(build)) {
			log("building tracker (dist/web)…");
			await new Promise((resolve, reject) => {
				const c = spawn(process.execPath, [build], { cwd: ROOT, stdio: "inherit" });
				c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`build-tracker.mjs exited with ${code}`))));
			}).catch((e) => die(e.message));
		}
		if (!existsSync(assets)) mkdirSync(assets, { recursive: true });
	}

	const loadBefore = os.loadavg()[0];
	if (loadBefore > 0.5) log(`warning: 1-min load average is ${loadBefore.toFixed(2)} before starting — other processes compete for the CPU and skew results`);
	const wranglerVersion = (await wrangler(["--version"]).catch((e) => die(`wrangler --version failed: ${e.message}`))).trim().split("\n").pop();
	log(`state dir ${path.relative(ROOT, STATE)}; wrangler ${wranglerVersion}; node ${process.version}; ${os.cpus().length} CPUs`);

	const wantOurs = SIDES.includes("ours");
	const wantEmpty = SIDES.includes("empty");
	if (wantOurs) {
		log("applying D1 migrations…");
		await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE, "--config", "wrangler.toml"]).catch((e) => die(`D1 migrations failed: ${e.message}`));
		await wrangler(["d1", "execute", "DB", "--local", "--persist-to", STATE, "--config", "wrangler.toml", "--command", `${SITE_SQL}; ${KEY_SQL}`]).catch((e) => die(`inserting the demo site and its read key failed: ${e.message}`));
	}

	if (COLD) {
		const cold = await coldStarts();
		const file = path.join(OUT, `ingest-cold-${STAMP}.json`);
		writeFileSync(file, JSON.stringify({ timestamp: new Date().toISOString(), config: { cold: COLD, sides: SIDES }, environment: { node: process.version, wrangler: wranglerVersion, cpus: os.cpus().length, loadavg_1m_before: loadBefore, loadavg_1m_at_end: os.loadavg()[0] }, ...cold }, null, 2) + "\n");
		console.log(`\nresults: ${path.relative(ROOT, file)}`);
		await cleanup();
		if (!args["keep-state"]) rmSync(STATE, { recursive: true, force: true });
		return;
	}

	const servers = {};
	try {
		const [portOurs, portEmpty] = [args["port-ours"] ? Number(args["port-ours"]) : await freePort(), args["port-empty"] ? Number(args["port-empty"]) : await freePort()];
		log(`starting Workers (${[wantEmpty && `empty :${portEmpty}`, wantOurs && `ours :${portOurs}`].filter(Boolean).join(", ")})…`);
		const starts = [];
		if (wantEmpty) starts.push(startDev("empty", { config: "bench/empty/wrangler.toml", port: portEmpty, persistTo: path.join(STATE, "empty"), logFile: path.join(OUT, `ingest-${STAMP}-empty.log`) }).then((s) => (servers.empty = s)));
		// The abuse limits (INGEST_SITE_LIMIT …) are lifted: the bench sends one site far more than its default budget.
		if (wantOurs) starts.push(startDev("ours", { config: "wrangler.toml", port: portOurs, persistTo: STATE, logFile: path.join(OUT, `ingest-${STAMP}-ours.log`), extraArgs: benchVars() }).then((s) => (servers.ours = s)));
		await Promise.all(starts);
	} catch (err) {
		await die(`could not start the Workers:\n${err.message}`);
	}
	log("both Workers answer HTTP");

	const clients = Object.fromEntries(SIDES.map((s) => [s, makeClient(args.client, servers[s].port)]));
	const acceptedTotal = { value: 0 };
	const date = new Date().toISOString().slice(0, 10);

	// Sanity check first: our Worker must accept a browser-like event (not bot, not 4xx).
	if (wantOurs) {
		const { body, headers } = makeRequest(BATCH);
		const r = await clients.ours.post(body, headers);
		const text = r.body?.toString("utf8") ?? r.error;
		let j = null;
		try {
			j = JSON.parse(text);
		} catch {}
		if (r.status !== 202 || j?.accepted !== BATCH)
			await die(`our Worker did not accept a test batch of ${BATCH} event(s): HTTP ${r.status} ${text}\n--- ours log tail ---\n${tail(servers.ours.logFile)}`);
		acceptedTotal.value += j.accepted;
	}

	// Warm-up (not measured): JIT, connection pool, D1/DO first touches.
	for (const side of SIDES) {
		if (!WARMUP) break;
		log(`warm-up ${side}: ${WARMUP} requests…`);
		const w = summarize(side, [await drive(side, clients[side], { events: WARMUP * BATCH, batch: BATCH, concurrency: CONCURRENCY })]);
		if (w.errors) await die(`warm-up on ${side} had ${w.errors} errors, e.g. ${w.error_samples.join(" | ")}\n--- log tail ---\n${tail(servers[side].logFile)}`);
		if (side === "ours") {
			if (w.requests_not_fully_accepted) await die(`warm-up on ours: ${w.requests_not_fully_accepted} responses did not accept every event, e.g. ${w.not_accepted_samples.join(" | ")}`);
			acceptedTotal.value += w.accepted;
		}
	}
	// Let the consumer finish the warm-up backlog so it does not run during the baseline measurement.
	if (wantOurs) {
		const d = await waitForDrain(servers.ours.port, date, acceptedTotal.value, DRAIN_TIMEOUT_MS);
		log(d.timed_out ? `warning: warm-up backlog not drained within ${DRAIN_TIMEOUT_MS / 1000}s (${JSON.stringify(d.health ?? d.last_error)})` : `warm-up backlog drained (${fmt(d.stored_after_ms)} ms)`);
	}

	// Measured run: each side gets EVENTS events; with --rounds R they are split into R chunks and the
	// sides alternate (empty, ours, empty, ours…) so background load hits both alike.
	const parts = Object.fromEntries(SIDES.map((s) => [s, []]));
	const chunk = (r) => Math.floor(EVENTS / ROUNDS) + (r < EVENTS % ROUNDS ? 1 : 0);
	for (let r = 0; r < ROUNDS; r++) {
		if (!chunk(r)) continue;
		for (const side of SIDES) {
			log(`measuring ${side}${ROUNDS > 1 ? ` (round ${r + 1}/${ROUNDS})` : ""}: ${chunk(r)} events, batch ${BATCH}, concurrency ${CONCURRENCY}…`);
			parts[side].push(await drive(side, clients[side], { events: chunk(r), batch: BATCH, concurrency: CONCURRENCY }));
		}
	}
	const results = Object.fromEntries(SIDES.map((s) => [s, summarize(s, parts[s])]));
	if (results.ours) acceptedTotal.value += results.ours.accepted;
	for (const c of Object.values(clients)) c.close();

	let drain = null;
	if (wantOurs) {
		log(`waiting for the queue consumer to drain (≤ ${DRAIN_TIMEOUT_MS / 1000}s)…`);
		drain = await waitForDrain(servers.ours.port, date, acceptedTotal.value, DRAIN_TIMEOUT_MS);
		const today = new Date().toISOString().slice(0, 10);
		if (today !== date) drain.warning = `the UTC day changed during the run (${date} → ${today}); counts for ${date} are partial`;
	}
	const loadAfter = os.loadavg()[0];
	await cleanup();

	// ── print ──
	const header = ["side", "requests", "events", "seconds", "req/s", "events/s", "p50 ms", "p99 ms", "errors"];
	const rows = SIDES.map((s) => {
		const r = results[s];
		return [s, fmt(r.requests), fmt(r.events), fmt(r.seconds, 2), fmt(r.requests_per_s), fmt(r.events_per_s), fmt(r.latency_ms.p50, 1), fmt(r.latency_ms.p99, 1), fmt(r.errors)];
	});
	const ratios = results.ours && results.empty
		? {
				events_per_s: results.ours.events_per_s / results.empty.events_per_s,
				p50: results.ours.latency_ms.p50 / results.empty.latency_ms.p50,
				p99: results.ours.latency_ms.p99 / results.empty.latency_ms.p99,
			}
		: null;
	console.log(`\nIngest benchmark — ${EVENTS} events/side, batch ${BATCH}, concurrency ${CONCURRENCY}, warm-up ${WARMUP} req, ${ROUNDS} round(s), client ${args.client}`);
	console.log(`wrangler ${wranglerVersion}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model?.trim() ?? "?"}), load avg before ${loadBefore.toFixed(2)} / at end ${loadAfter.toFixed(2)}\n`);
	console.log(table(rows, header));
	if (ratios) console.log(`\nours/empty: events/s ×${ratios.events_per_s.toFixed(3)} (${(ratios.events_per_s * 100).toFixed(1)}%), p50 ×${ratios.p50.toFixed(2)}, p99 ×${ratios.p99.toFixed(2)}`);
	for (const s of SIDES)
		if (results[s].errors) console.log(`${s}: ${results[s].errors} errors (statuses ${JSON.stringify(results[s].statuses)}), e.g. ${results[s].error_samples.join(" | ")}\n--- ${s} log tail (${path.relative(ROOT, servers[s].logFile)}) ---\n${tail(servers[s].logFile)}`);
	let failed = false;
	if (results.ours) {
		const o = results.ours;
		console.log(`ours 202 bodies: accepted ${fmt(o.accepted)}, duplicates ${fmt(o.duplicates)}, bots ${fmt(o.bots)}${o.requests_not_fully_accepted ? `, ${o.requests_not_fully_accepted} requests NOT fully accepted, e.g. ${o.not_accepted_samples.join(" | ")}` : ""}`);
		if (o.requests_not_fully_accepted || o.accepted !== EVENTS) failed = true;
	}
	if (drain) {
		const h = drain.health;
		console.log(
			`pipeline drain: ${drain.timed_out ? `NOT drained within ${DRAIN_TIMEOUT_MS / 1000}s` : `stored = accepted after ${fmt(drain.stored_after_ms)} ms`}` +
				`${drain.archived_after_ms !== null ? `, archived = stored after ${fmt(drain.archived_after_ms)} ms` : ", archived did not catch up"}` +
				` (measured from the end of the run; includes warm-up + check events)`,
		);
		console.log(
			`  health ${drain.date}: accepted ${h?.accepted ?? "?"}, stored ${h?.stored ?? "?"}, archived ${h?.archived ?? "?"}, rejected ${h?.rejected ?? "?"}, bots ${h?.bots ?? "?"}, dead_letters ${h?.dead_letters ?? "?"}` +
				` (expected accepted ${drain.expected_accepted}) → accepted = stored = archived: ${drain.accepted_eq_stored_eq_archived ? "YES" : "NO"}`,
		);
		if (drain.last_error) console.log(`  last health error: ${drain.last_error}`);
		if (drain.warning) console.log(`  warning: ${drain.warning}`);
		if (!drain.accepted_eq_stored_eq_archived) failed = true;
	}

	const report = {
		timestamp: new Date().toISOString(),
		config: { events: EVENTS, concurrency: CONCURRENCY, batch: BATCH, warmup_requests: WARMUP, rounds: ROUNDS, client: args.client, sides: SIDES },
		environment: { node: process.version, wrangler: wranglerVersion, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model?.trim() ?? null, platform: `${os.platform()} ${os.release()}`, loadavg_1m_before: loadBefore, loadavg_1m_at_end: loadAfter },
		results,
		ratios_ours_over_empty: ratios,
		drain,
		state_dir: args["keep-state"] ? path.relative(ROOT, STATE) : null,
		logs: Object.fromEntries(SIDES.map((s) => [s, statSync(servers[s].logFile).size ? path.relative(ROOT, servers[s].logFile) : null])),
		ok: !failed,
	};
	writeFileSync(RESULT_FILE, JSON.stringify(report, null, 2) + "\n");
	console.log(`\nresults: ${path.relative(ROOT, RESULT_FILE)}`);
	if (!args["keep-state"]) rmSync(STATE, { recursive: true, force: true });
	for (const s of SIDES) if (statSync(servers[s].logFile).size === 0) rmSync(servers[s].logFile, { force: true }); // nothing logged at level error
	if (failed) {
		console.error("[bench] FAILED: events were not all accepted or the pipeline did not reconcile (see above)");
		process.exit(1);
	}
}

main().catch((err) => die(err?.stack ?? String(err)));
