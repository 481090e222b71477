#!/usr/bin/env node
/**
 * Soak benchmark (issue 14): sustained load with faults, then proof that nothing acknowledged was lost
 * or doubled.
 *
 *   npm run bench:soak                                  # 2,000 events/s for 60 s + a 5× burst, all faults
 *   npm run bench:soak -- --rate 1000 --seconds 30      # a lighter run
 *
 * Steps: fresh state dir → D1 migrations + site `soak` + a read key → `wrangler dev` with the faults on
 * (`--var FAULT_D1_WRITE_RATE:0.1` — 10 % of the consumer's D1 writes fail, half before and half after
 * committing; `--var FAULT_INJECTION:1` — the dev-only LiveSite restart route; a short outbox grace) →
 * open-loop load: `--rate` events/s in batches of `--batch`, a `--burst-factor`× burst, a SIGKILL of
 * the whole wrangler process group in the middle of the burst and a restart on the same state dir and
 * port, one LiveSite restart (POST /__dev/faults/live-restart) → wait until drained (outbox empty,
 * accepted = stored = archived) → stop wrangler → read every stored id from D1 and compare with the
 * ids that got 202. Prints the figures and writes bench/out/soak-<timestamp>.json.
 *
 * A request that fails (transport error while wrangler is down, 5xx) is retried with the same event
 * ids, as a tracker or server-side sender would; only a 202 counts as acknowledged. Not part of CI
 * (`npm test` never runs it).
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { d1Json, freePort, killGroup, ROOT, WRANGLER_JS } from "../../scripts/lib/wrangler.mjs";
import { benchArgs, benchProcess, benchVars, sleep, tail } from "../lib.mjs";

const OUT = path.join(ROOT, "bench/out");
const USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SITE = "soak";
const SITE_SQL = `INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}','Soak store','[]','UTC','EUR',0) ON CONFLICT DO NOTHING`;
const READ_KEY = newKey();
const KEY_SQL = insertKeySql({ id: READ_KEY.id, hash: READ_KEY.hash, site: SITE, name: "soak (read)", scopes: ["read"], now: 0 });

const USAGE = `usage: node bench/soak/run.mjs [options]
  --rate N            events per second, sustained (default 2000)
  --seconds S         length of the load (default 60)
  --batch B           events per POST /e (default 20)
  --concurrency C     requests in flight at most (default 64)
  --burst-factor F    the burst sends F × rate (default 5)
  --burst-seconds S   length of the burst (default 5), starting at a third of the run
  --d1-fault-rate R   share of D1 event writes that fail (default 0.1; 0 turns it off)
  --no-kill           skip the process kill
  --no-do-restart     skip the LiveSite restart
  --grace S           outbox grace period in seconds (OUTBOX_GRACE_SECONDS; default 10)
  --drain-timeout S   seconds to wait for the pipeline to drain after the load (default 600)
  --timeout S         global timeout in seconds (default 1800)
  --keep-state        keep the state dir
  -h, --help`;

const { args, int } = benchArgs(
	{
		rate: { type: "string", default: "2000" },
		seconds: { type: "string", default: "60" },
		batch: { type: "string", default: "20" },
		concurrency: { type: "string", default: "64" },
		"burst-factor": { type: "string", default: "5" },
		"burst-seconds": { type: "string", default: "5" },
		"d1-fault-rate": { type: "string", default: "0.1" },
		"no-kill": { type: "boolean", default: false },
		"no-do-restart": { type: "boolean", default: false },
		grace: { type: "string", default: "10" },
		"drain-timeout": { type: "string", default: "600" },
		timeout: { type: "string", default: "1800" },
		"keep-state": { type: "boolean", default: false },
	},
	USAGE,
);
const RATE = int("rate", 1);
const SECONDS = int("seconds", 5);
const BATCH = int("batch", 1);
const CONCURRENCY = int("concurrency", 1);
const BURST_FACTOR = int("burst-factor", 1);
const BURST_SECONDS = int("burst-seconds", 0);
const GRACE = int("grace", 1);
const DRAIN_TIMEOUT_MS = int("drain-timeout", 10) * 1000;
const FAULT_RATE = Number(args["d1-fault-rate"]);
if (!(FAULT_RATE >= 0 && FAULT_RATE < 1)) {
	console.error(`--d1-fault-rate must be in [0, 1)\n${USAGE}`);
	process.exit(2);
}
if (BATCH > 1000) {
	console.error("--batch must be <= 1000 (the /e limit)");
	process.exit(2);
}
const BURST_AT = Math.floor(SECONDS / 3);
const KILL_AT = args["no-kill"] ? null : BURST_AT + BURST_SECONDS / 2;
const DO_RESTART_AT = args["no-do-restart"] ? null : Math.floor((SECONDS * 3) / 4);

const STAMP = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const STATE = path.join(OUT, `soak-state-${STAMP}`);
const RESULT_FILE = path.join(OUT, `soak-${STAMP}.json`);
const log = (msg) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const { cleanup, die, wrangler, startDev } = benchProcess(int("timeout", 60) * 1000);

// ───────────────────────────── the stack ─────────────────────────────
let server = null;
let port = 0;
const devArgs = () => [
	...benchVars(),
	...(FAULT_RATE > 0 ? ["--var", `FAULT_D1_WRITE_RATE:${FAULT_RATE}`] : []),
	"--var", "FAULT_INJECTION:1",
	"--var", `OUTBOX_GRACE_SECONDS:${GRACE}`,
];
let starts = 0;
async function start() {
	starts++;
	server = await startDev("soak", { config: "wrangler.toml", port, persistTo: STATE, logFile: path.join(OUT, `soak-${STAMP}-wrangler-${starts}.log`), extraArgs: devArgs() });
}

/** SIGKILL to wrangler's whole process group (wrangler and workerd): nothing gets to flush or drain. */
async function kill() {
	const child = server.child;
	killGroup(child, "SIGKILL");
	await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("close", r)));
}

async function getJson(pathname) {
	const res = await fetch(`http://127.0.0.1:${port}${pathname}`, { headers: { Authorization: `Bearer ${READ_KEY.secret}` }, signal: AbortSignal.timeout(15_000) });
	const text = await res.text();
	if (!res.ok) throw new Error(`GET ${pathname} → ${res.status}: ${text.slice(0, 300)}`);
	return JSON.parse(text);
}

// ───────────────────────────── load ─────────────────────────────
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function post(pathname, body) {
	return new Promise((resolve) => {
		const headers = { "Content-Type": "application/json", "User-Agent": USER_AGENT, "Content-Length": Buffer.byteLength(body.text), "CF-Connecting-IP": body.ip };
		const req = http.request({ agent, host: "127.0.0.1", port, method: "POST", path: pathname, headers }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
			res.on("error", (err) => resolve({ status: 0, text: err.message }));
		});
		req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
		req.on("error", (err) => resolve({ status: 0, text: err.message }));
		req.end(body.text);
	});
}

let seq = 0;
function makeBatch(n) {
	const now = Date.now();
	const events = [];
	for (let i = 0; i < n; i++) {
		const k = seq++;
		events.push(
			k % 10 === 9
				? { id: randomUUID(), name: "purchase", ts: now, url: "https://shop.example/checkout/done", referrer: "", props: { order_id: `soak-${k}`, value: 59.9, currency: "EUR", items: [{ sku: `SKU-${k % 40}`, qty: 2, price: 29.95 }] } }
				: { id: randomUUID(), name: "page_view", ts: now, url: `https://shop.example/p/${k % 50}`, referrer: "", props: {} },
		);
	}
	return { ids: events.map((e) => e.id), text: JSON.stringify({ site: SITE, events }), ip: `203.0.113.${(seq % 250) + 1}`, created: performance.now() };
}

const stats = { requests: 0, attempts: 0, retries: 0, statuses: {}, accepted: 0, duplicates: 0, bots: 0, gaveUp: 0, rejected: 0, rejectSamples: [], latencies: [] };
const ackedIds = new Set();
const sentIds = new Set();
const unackedIds = new Set();
const pending = [];
let producing = true;
let down = false;
let t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const ackTimeline = []; // [second, events acked in it]

async function sendWithRetry(batch) {
	stats.requests++;
	const deadline = performance.now() + 180_000;
	for (let attempt = 0; ; attempt++) {
		while (down) await sleep(50);
		stats.attempts++;
		if (attempt) stats.retries++;
		const r = await post("/e", batch);
		stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1;
		if (r.status === 202) {
			let j = {};
			try {
				j = JSON.parse(r.text);
			} catch {}
			stats.accepted += j.accepted ?? 0;
			stats.duplicates += j.duplicates ?? 0;
			stats.bots += j.bots ?? 0;
			for (const id of batch.ids) {
				ackedIds.add(id);
				unackedIds.delete(id);
			}
			const s = Math.floor(elapsed());
			ackTimeline[s] = (ackTimeline[s] ?? 0) + batch.ids.length;
			stats.latencies.push(performance.now() - batch.created);
			return;
		}
		if (r.status !== 0 && r.status < 500 && r.status !== 429) {
			stats.rejected++;
			if (stats.rejectSamples.length < 5) stats.rejectSamples.push(`${r.status}: ${r.text.slice(0, 200)}`);
			return;
		}
		if (performance.now() > deadline) {
			stats.gaveUp++;
			return;
		}
		await sleep(Math.min(5000, 100 * 2 ** attempt));
	}
}

async function worker() {
	while (producing || pending.length) {
		const b = pending.shift();
		if (!b) {
			await sleep(5);
			continue;
		}
		await sendWithRetry(b);
	}
}

/** Open loop: every 100 ms, the events due by then (rate × factor) go into the pending queue. */
async function produce() {
	let due = 0;
	let made = 0;
	const tick = 100;
	for (let t = 0; t < SECONDS * 1000; t += tick) {
		const s = t / 1000;
		const factor = s >= BURST_AT && s < BURST_AT + BURST_SECONDS ? BURST_FACTOR : 1;
		due += (RATE * factor * tick) / 1000;
		while (made + BATCH <= due) {
			const b = makeBatch(BATCH);
			for (const id of b.ids) {
				sentIds.add(id);
				unackedIds.add(id);
			}
			pending.push(b);
			made += BATCH;
		}
		const wait = t0 + t + tick - performance.now();
		if (wait > 0) await sleep(wait);
	}
	producing = false;
	return made;
}

const faults = { kill: null, doRestart: null };
async function faultSchedule() {
	const events = [];
	if (KILL_AT !== null) events.push([KILL_AT, "kill"]);
	if (DO_RESTART_AT !== null) events.push([DO_RESTART_AT, "do"]);
	events.sort((a, b) => a[0] - b[0]);
	for (const [at, kind] of events) {
		const wait = t0 + at * 1000 - performance.now();
		if (wait > 0) await sleep(wait);
		if (kind === "kill") {
			const unackedBefore = sentIds.size - ackedIds.size;
			log(`fault: SIGKILL wrangler's process group at ${elapsed().toFixed(1)} s (in the burst; ${ackedIds.size} events acked so far)`);
			const k0 = performance.now();
			const killedAt = Number(elapsed().toFixed(1));
			await kill();
			down = true;
			agent.destroy();
			try {
				await start();
			} finally {
				down = false;
			}
			faults.kill = { at_s: killedAt, acked_before: ackedIds.size, in_flight_or_queued_before: unackedBefore, restart_ms: Math.round(performance.now() - k0) };
			log(`wrangler restarted on the same state dir in ${faults.kill.restart_ms} ms`);
		} else {
			const r = await post(`/__dev/faults/live-restart?site=${SITE}`, { text: "", ip: "127.0.0.1" });
			faults.doRestart = { at_s: Number(elapsed().toFixed(1)), status: r.status, body: r.text.slice(0, 200) };
			log(`fault: LiveSite restart at ${faults.doRestart.at_s} s → ${r.status} ${r.text.slice(0, 100)}`);
			if (r.status !== 200) await die(`the LiveSite restart route answered ${r.status}: ${r.text.slice(0, 300)}`);
		}
	}
}

// ───────────────────────────── drain and check ─────────────────────────────
async function waitForDrain(days) {
	const d0 = performance.now();
	let last = null;
	let lastError = null;
	let maxOutbox = 0;
	while (performance.now() - d0 < DRAIN_TIMEOUT_MS) {
		try {
			const healths = await Promise.all(days.map((d) => getJson(`/api/v1/health/pipeline?site=${SITE}&date=${d}`)));
			last = healths;
			maxOutbox = Math.max(maxOutbox, ...healths.map((h) => h.outbox ?? 0));
			const done = healths.every((h) => h.outbox === 0 && h.pending_archive === 0 && h.stored === h.accepted + h.imported && h.archived === h.stored);
			if (done) return { drained: true, ms: Math.round(performance.now() - d0), healths, maxOutbox };
		} catch (err) {
			lastError = err.message;
		}
		await sleep(2000);
	}
	return { drained: false, ms: Math.round(performance.now() - d0), healths: last, lastError, maxOutbox };
}

async function d1(sql) {
	return d1Json(await wrangler(["d1", "execute", "DB", "--local", "--persist-to", STATE, "--config", "wrangler.toml", "--json", "--command", sql]))[0].results;
}

const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? "-" : Number(n).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));

async function main() {
	if (!existsSync(WRANGLER_JS)) await die(`wrangler not found at ${WRANGLER_JS} (run npm install)`);
	mkdirSync(STATE, { recursive: true });
	if (!existsSync(path.join(ROOT, "dist/web"))) mkdirSync(path.join(ROOT, "dist/web"), { recursive: true });
	const loadBefore = os.loadavg()[0];
	log(`state dir ${path.relative(ROOT, STATE)}; ${os.cpus().length} CPUs; load avg ${loadBefore.toFixed(2)}`);
	await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE, "--config", "wrangler.toml"]).catch((e) => die(`D1 migrations failed: ${e.message}`));
	await wrangler(["d1", "execute", "DB", "--local", "--persist-to", STATE, "--config", "wrangler.toml", "--command", `${SITE_SQL}; ${KEY_SQL}`]).catch((e) => die(`inserting the site failed: ${e.message}`));
	port = await freePort();
	await start().catch((e) => die(e.message));
	log(`wrangler dev on :${port} (D1 write faults ${FAULT_RATE * 100} %, outbox grace ${GRACE} s)`);

	const check = await post("/e", makeBatch(1));
	if (check.status !== 202) await die(`a check event was not accepted: ${check.status} ${check.text}\n${tail(server.logFile)}`);
	const firstDay = new Date().toISOString().slice(0, 10);

	log(`load: ${RATE} events/s for ${SECONDS} s, ${BURST_FACTOR}× burst at ${BURST_AT}–${BURST_AT + BURST_SECONDS} s, batches of ${BATCH}, ≤ ${CONCURRENCY} in flight; kill at ${KILL_AT ?? "-"} s, LiveSite restart at ${DO_RESTART_AT ?? "-"} s`);
	t0 = performance.now();
	const workers = Array.from({ length: CONCURRENCY }, worker);
	const [made] = await Promise.all([produce(), faultSchedule(), ...workers]);
	const loadSeconds = elapsed();
	const targetEvents = made;
	log(`load done in ${loadSeconds.toFixed(1)} s: ${ackedIds.size} of ${sentIds.size} events acked`);

	const lastDay = new Date().toISOString().slice(0, 10);
	const days = [...new Set([firstDay, lastDay])];
	log(`waiting for the pipeline to drain (≤ ${DRAIN_TIMEOUT_MS / 1000} s)…`);
	const drain = await waitForDrain(days);
	log(drain.drained ? `drained in ${drain.ms} ms` : `NOT drained within ${DRAIN_TIMEOUT_MS / 1000} s (${drain.lastError ?? JSON.stringify(drain.healths)})`);
	agent.destroy();
	await cleanup();

	// Every stored id, read from D1 once wrangler has stopped (the check event included).
	const rows = await d1(`SELECT id, archived_at IS NOT NULL AS archived FROM events WHERE site = '${SITE}'`);
	const stored = new Map();
	for (const r of rows) stored.set(r.id, (stored.get(r.id) ?? 0) + 1);
	const counts = (await d1(`SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, SUM(archived_at IS NULL) AS unarchived, COUNT(DISTINCT archive_key) AS objects FROM events WHERE site = '${SITE}'`))[0];
	const lost = [...ackedIds].filter((id) => !stored.has(id));
	const doubled = [...stored.values()].filter((n) => n > 1).length;
	const unknown = [...stored.keys()].filter((id) => !sentIds.has(id)).length; // the check event
	const unackedStored = [...unackedIds].filter((id) => stored.has(id)).length;
	const health = drain.healths ?? [];
	const archivedMinusStored = health.reduce((s, h) => s + (h.archived - h.stored), 0);

	const seconds = ackTimeline.length;
	const steady = ackTimeline.filter((_, s) => s < BURST_AT || s >= BURST_AT + BURST_SECONDS + 10);
	const result = {
		timestamp: new Date().toISOString(),
		config: { rate: RATE, seconds: SECONDS, batch: BATCH, concurrency: CONCURRENCY, burst_factor: BURST_FACTOR, burst_at_s: BURST_AT, burst_seconds: BURST_SECONDS, d1_fault_rate: FAULT_RATE, outbox_grace_s: GRACE, kill_at_s: KILL_AT, do_restart_at_s: DO_RESTART_AT },
		environment: { node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model?.trim() ?? null, loadavg_1m_before: loadBefore, loadavg_1m_after: os.loadavg()[0] },
		load: {
			events_offered: targetEvents,
			events_acked: ackedIds.size,
			seconds: Number(loadSeconds.toFixed(1)),
			acked_per_s_overall: Math.round(ackedIds.size / loadSeconds),
			acked_per_s_median_second: median(steady),
			acked_per_s_peak_second: Math.max(0, ...ackTimeline.filter(Boolean)),
			requests: stats.requests,
			attempts: stats.attempts,
			retries: stats.retries,
			statuses: stats.statuses,
			gave_up_requests: stats.gaveUp,
			rejected_requests: stats.rejected,
			reject_samples: stats.rejectSamples,
			answer_accepted: stats.accepted,
			answer_duplicates: stats.duplicates,
			answer_bots: stats.bots,
			ack_latency_ms_p50: pct(stats.latencies, 50),
			ack_latency_ms_p99: pct(stats.latencies, 99),
			timeline_acked_per_s: Array.from({ length: seconds }, (_, s) => ackTimeline[s] ?? 0),
		},
		faults,
		drain: { drained: drain.drained, ms: drain.ms, max_outbox_seen: drain.maxOutbox, health },
		check: {
			acked: ackedIds.size,
			stored_rows: counts.n,
			stored_distinct: counts.d,
			lost_acked: lost.length,
			lost_sample: lost.slice(0, 5),
			duplicated_in_d1: doubled,
			archived_minus_stored: archivedMinusStored,
			unarchived: counts.unarchived,
			archive_objects: counts.objects,
			stored_not_from_this_run: unknown,
			never_acked_but_stored: unackedStored,
			never_acked: unackedIds.size,
		},
	};
	result.ok = drain.drained && lost.length === 0 && doubled === 0 && archivedMinusStored === 0 && counts.n === counts.d;
	writeFileSync(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);

	const L = result.load;
	console.log(`\nSoak — target ${fmt(RATE)} events/s for ${SECONDS} s + ${BURST_FACTOR}× burst for ${BURST_SECONDS} s; batches of ${BATCH}; ${os.cpus().length} CPUs, load avg ${loadBefore.toFixed(2)} before`);
	console.log(`load: ${fmt(L.events_acked)} of ${fmt(L.events_offered)} events acked (202) in ${L.seconds} s = ${fmt(L.acked_per_s_overall)}/s overall; median second ${fmt(L.acked_per_s_median_second)}/s, peak second ${fmt(L.acked_per_s_peak_second)}/s`);
	console.log(`      ${fmt(L.requests)} requests, ${fmt(L.retries)} retries, statuses ${JSON.stringify(L.statuses)}; 202 answers: accepted ${fmt(L.answer_accepted)}, duplicates ${fmt(L.answer_duplicates)}, bots ${fmt(L.answer_bots)}; ack latency p50 ${fmt(L.ack_latency_ms_p50)} ms, p99 ${fmt(L.ack_latency_ms_p99)} ms`);
	console.log(`faults: D1 writes failing ${FAULT_RATE * 100} %; kill ${faults.kill ? `at ${faults.kill.at_s} s (restart ${fmt(faults.kill.restart_ms)} ms, ${fmt(faults.kill.in_flight_or_queued_before)} events unacked at the kill)` : "off"}; LiveSite restart ${faults.doRestart ? `at ${faults.doRestart.at_s} s → ${faults.doRestart.status}` : "off"}`);
	console.log(`drain: ${drain.drained ? `done ${fmt(drain.ms)} ms after the load` : "NOT drained"}; largest outbox seen while draining ${fmt(drain.maxOutbox)}`);
	for (const h of health) console.log(`  health ${h.date}: accepted ${fmt(h.accepted)}, stored ${fmt(h.stored)}, archived ${fmt(h.archived)} in ${fmt(h.archive_objects)} objects, pending_archive ${h.pending_archive}, outbox ${h.outbox} (re-sent so far ${fmt(h.outbox_resent)}), dead_letters ${h.dead_letters}, reconciled ${h.reconciled}`);
	const C = result.check;
	console.log(`check (D1 read after stopping): ${fmt(C.acked)} ids acked; D1 ${fmt(C.stored_rows)} rows, ${fmt(C.stored_distinct)} distinct → lost ${C.lost_acked}, duplicated ${C.duplicated_in_d1} (D1) / ${C.archived_minus_stored} (R2 − D1); ${fmt(C.never_acked)} never acked (${fmt(C.never_acked_but_stored)} of them stored anyway)`);
	console.log(`\nresults: ${path.relative(ROOT, RESULT_FILE)}`);
	if (!args["keep-state"]) rmSync(STATE, { recursive: true, force: true });
	if (!result.ok) {
		console.error("[soak] FAILED: see the figures above");
		process.exit(1);
	}
}

function median(xs) {
	const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
	return s.length ? s[Math.floor(s.length / 2)] : 0;
}
function pct(xs, p) {
	const s = [...xs].sort((a, b) => a - b);
	return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]) : null;
}

main().catch((err) => die(err?.stack ?? String(err)));
