#!/usr/bin/env node
/**
 * `npm run seed`: loads the deterministic demo store (scripts/demo-store.mjs) into a running stack
 * through the real bulk import API, one job per entity, and prints what it loaded.
 *
 *   node scripts/seed.mjs [--url http://localhost:8787] [--key KEY] [--site demo] [--seed 42] [--months 24]
 *                         [--customers 20000] [--orders N] [--event-days 28] [--as-of YYYY-MM-DD]
 *                         [--concurrency 2] [--only orders,events] [--dry-run]
 *
 * Each entity is streamed as NDJSON to POST /api/v1/import/{entity}?site=…&format=ndjson (never built
 * whole in memory as one body), then its job is polled until done. Any rejected row is a bug in the
 * generator: the rejects are printed and the run fails (exit 1). Two imports run at a time by default.
 * The key needs the `ingest` and `read` scopes for the site (--key or env B2G_KEY; `npm start` passes
 * its own; make one with `npm run key -- create --site demo --scopes ingest,read`).
 *
 * Idempotent: every record has a natural id derived from the seed and sizes. Without --as-of the store runs
 * up to the moment of seeding (today is partial, as a live shop's is); re-running later the same UTC day
 * adds what happened since and the lifecycle steps that became due (shipped, delivered, …), and changes
 * nothing else (the upserts skip unchanged rows; events already stored are ignored). With --as-of it ends
 * at that day's 00:00 UTC, and the same command always gives the same records. Loading a
 * different seed or size over an existing store mixes the two: start from an empty database for that.
 *
 * Raw web events are generated for the most recent --event-days days only (default 28, max 31): they are
 * the slowest rows to load (stored in D1 and archived to R2 each). The months before get the same kind of
 * sessions, generated a month at a time and loaded only as daily aggregates (the web_daily entity, counted by
 * workers/metrics/web-history.ts), so sessions, visitors and conversion cover the whole history; funnels
 * and journeys, which need events, cover the raw window. See scripts/demo-store.mjs for the whole model.
 *
 * `importRecords`, `loadStore` and `seedStore` take a `fetch` (default the global one), so the test
 * suite drives the same code through the Worker in-process.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { DEFAULTS, ENTITY_ORDER, generateStore, startOfUtcDay } from "./demo-store.mjs";

const DAY = 86_400_000;
/** A job whose progress has not moved for this long is considered lost and uploaded again (idempotent). */
const STALL_MS = 120_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const fmt = (n) => n.toLocaleString("en-US");

/**
 * The records as an NDJSON byte stream, encoded lazily in chunks of ~`chunkBytes` (pull-based, so a
 * slow server holds back the encoding). Counts the bytes it produced in `stats.bytes`.
 */
export function ndjsonBody(records, stats = { bytes: 0 }, chunkBytes = 256 * 1024) {
	const enc = new TextEncoder();
	let i = 0;
	return new ReadableStream({
		pull(controller) {
			if (i >= records.length) {
				controller.close();
				return;
			}
			let text = "";
			while (i < records.length && text.length < chunkBytes) text += `${JSON.stringify(records[i++])}\n`;
			const bytes = enc.encode(text);
			stats.bytes += bytes.byteLength;
			controller.enqueue(bytes);
		},
	});
}

async function errorText(res) {
	const text = await res.text().catch(() => "");
	try {
		const json = JSON.parse(text);
		return `${json.error ?? res.status}: ${json.message ?? text}${json.fields?.length ? ` (${json.fields.map((f) => `${f.field}: ${f.message}`).join("; ")})` : ""}`;
	} catch {
		return text.slice(0, 500) || String(res.status);
	}
}

const cause = (err) => err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(err);

/**
 * Streams one entity's records into a new import job and waits for it. Resolves with the job's
 * counts; rejects if the upload is refused, the job fails, or any row is rejected (with the first
 * rejects in the message and in `err.rejects`).
 * @param {{ fetch?: Fetch, url: string, key: string, site: string, entity: string, records: any[], pollMs?: number, stallMs?: number, log?: (line: string) => void }} options
 * @returns {Promise<ImportResult>}
 */
export async function importRecords({ fetch = globalThis.fetch, url, key, site, entity, records, pollMs = 500, stallMs = STALL_MS, log = () => {} }) {
	const base = url.replace(/\/+$/, "");
	const auth = { Authorization: `Bearer ${key}` };
	const started = performance.now();
	let attempt = 0;
	for (;;) {
		attempt++;
		const stats = { bytes: 0 };
		let res;
		try {
			res = await fetch(`${base}/api/v1/import/${entity}?site=${encodeURIComponent(site)}&format=ndjson`, {
				method: "POST",
				headers: { ...auth, "Content-Type": "application/x-ndjson" },
				body: ndjsonBody(records, stats),
				duplex: "half",
			});
		} catch (err) {
			// A dropped connection after (or during) the upload: the rows are idempotent, so send them again.
			if (attempt < 3) {
				log(`${entity}: upload failed (${cause(err)}); sending it again`);
				await sleep(1000);
				continue;
			}
			throw new Error(`cannot upload ${entity} to ${base} (${cause(err)}) — is the stack running (npm start)?`);
		}
		if (res.status === 503 && attempt < 3) {
			// wrangler dev restarted the Worker mid-request (a reload): nothing was committed that a resend would duplicate.
			log(`${entity}: upload answered 503 (${(await errorText(res)).slice(0, 120)}); sending it again`);
			await sleep(2000);
			continue;
		}
		if (res.status !== 202) {
			const hint = res.status === 401 ? " — the key is not valid" : res.status === 403 ? " — the key needs the ingest and read scopes for this site" : "";
			throw new Error(`POST /api/v1/import/${entity} answered ${res.status} ${await errorText(res)}${hint}`);
		}
		const created = await res.json();
		const uploadMs = performance.now() - started;
		let job;
		let lastProgress = -1;
		let lastChange = performance.now();
		for (;;) {
			const r = await fetch(`${base}/api/v1/import/${created.job}?site=${encodeURIComponent(site)}&rejects=20`, { headers: auth });
			if (!r.ok) throw new Error(`GET /api/v1/import/${created.job} answered ${r.status} ${await errorText(r)}`);
			job = await r.json();
			if (job.status === "done" || job.status === "failed") break;
			const progress = job.bytes_done + job.rows_ok;
			if (progress !== lastProgress) {
				lastProgress = progress;
				lastChange = performance.now();
			} else if (performance.now() - lastChange > stallMs) break;
			await sleep(pollMs);
		}
		if (job.status !== "done" && job.status !== "failed") {
			if (attempt < 3) {
				log(`${entity}: job ${created.job} made no progress for ${secs(stallMs)} (${job.status}, ${fmt(job.rows_ok)} rows); importing again`);
				continue;
			}
			throw new Error(`${entity}: job ${created.job} stalled (${job.status})`);
		}
		if (job.status === "failed") throw new Error(`${entity}: import job ${job.job} failed: ${job.error}`);
		if (job.rows_rejected > 0) {
			const err = new Error(
				`${entity}: ${job.rows_rejected} of ${records.length} rows rejected (a bug in the demo-store generator):\n` +
					job.rejects.map((x) => `  line ${x.line}: ${x.reason}\n    ${JSON.stringify(records[x.line - 1]).slice(0, 300)}`).join("\n"),
			);
			err.rejects = job.rejects;
			throw err;
		}
		if (job.rows_ok !== records.length) throw new Error(`${entity}: sent ${records.length} rows but the job counted ${job.rows_ok}`);
		return { entity, job: job.job, rows: job.rows_ok, changed: job.rows_changed, bytes: stats.bytes, uploadMs, ms: performance.now() - started, attempts: attempt };
	}
}

/** Rough load cost per entity (events are stored and archived; orders carry their lines). */
function cost(entity, records) {
	if (entity === "events") return records.length * 3;
	if (entity === "orders") return records.reduce((s, o) => s + 2 + (o.items?.length ?? 0), 0);
	if (entity === "customers") return records.length * 2;
	return records.length;
}

/**
 * @typedef {(input: string, init?: any) => Promise<Response>} Fetch
 * @typedef {{ entity: string, job: string, rows: number, changed: number, bytes: number, uploadMs: number, ms: number, attempts: number }} ImportResult
 */

/**
 * Imports the store's entities, `concurrency` jobs at a time, most expensive first.
 * @param {Record<string, any>} store
 * @param {{ fetch?: Fetch, url: string, key: string, site: string, concurrency?: number, entities?: string[], pollMs?: number, stallMs?: number, log?: (line: string) => void }} options
 * @returns {Promise<{ results: ImportResult[], ms: number }>}
 */
export async function loadStore(store, { fetch = globalThis.fetch, url, key, site, concurrency = 2, entities = ENTITY_ORDER, pollMs, stallMs, log = () => {} }) {
	const started = performance.now();
	const queue = entities.filter((e) => store[e]?.length).sort((a, b) => cost(b, store[b]) - cost(a, store[a]));
	const results = [];
	const lane = async () => {
		for (let entity = queue.shift(); entity; entity = queue.shift()) {
			log(`importing ${fmt(store[entity].length)} ${entity}…`);
			const r = await importRecords({ fetch, url, key, site, entity, records: store[entity], pollMs, stallMs, log });
			results.push(r);
			log(`${entity}: ${fmt(r.rows)} rows (${fmt(r.changed)} changed, ${(r.bytes / 1e6).toFixed(1)} MB) in ${secs(r.ms)} — ${fmt(Math.round(r.rows / (r.ms / 1000)))} rows/s`);
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
	results.sort((a, b) => entities.indexOf(a.entity) - entities.indexOf(b.entity));
	return { results, ms: performance.now() - started };
}

/** Reads the pipeline reconciliation of UTC days (retrying briefly until they reconcile). */
export async function checkPipeline({ fetch = globalThis.fetch, url, key, site, days, timeoutMs = 15_000 }) {
	const base = url.replace(/\/+$/, "");
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const reports = [];
		for (const date of days) {
			const r = await fetch(`${base}/api/v1/health/pipeline?site=${encodeURIComponent(site)}&date=${date}`, { headers: { Authorization: `Bearer ${key}` } });
			if (!r.ok) throw new Error(`GET /api/v1/health/pipeline answered ${r.status} ${await errorText(r)}`);
			reports.push(await r.json());
		}
		if (reports.every((x) => x.reconciled) || Date.now() > deadline) return reports;
		await sleep(1000);
	}
}

/** Today's UTC midnight, or the midnight starting `asOf` (YYYY-MM-DD or epoch ms). */
export function asOfMidnight(asOf) {
	if (asOf === undefined || asOf === null || asOf === "") return startOfUtcDay(Date.now());
	const ms = typeof asOf === "number" ? asOf : Date.parse(`${asOf}T00:00:00Z`);
	if (!Number.isFinite(ms)) throw new Error(`--as-of must be a day as YYYY-MM-DD, got ${asOf}`);
	return startOfUtcDay(ms);
}

/**
 * workers/metrics/web-history.ts as an ES module, bundled with esbuild (as scripts/connect.mjs loads its CSV
 * mapping), so the demo's aggregated web history is counted by the same code the tests check against the rollup.
 */
export async function loadWebHistory() {
	const { build } = await import("esbuild");
	const entry = fileURLToPath(new URL("../workers/metrics/web-history.ts", import.meta.url));
	const result = await build({ entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "neutral", mainFields: ["module", "main"], target: "es2022", logLevel: "silent" });
	return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString("base64")}`);
}

/**
 * Generates the store and loads it; prints progress and a summary through `log`. Used by the CLI below
 * and by scripts/start.mjs. Throws on any refused upload, failed job or rejected row.
 */
export async function seedStore({
	fetch = globalThis.fetch,
	url = "http://localhost:8787",
	origin = url,
	key,
	site = "demo",
	seed = DEFAULTS.seed,
	months = DEFAULTS.months,
	customers = DEFAULTS.customers,
	orders,
	eventDays = DEFAULTS.eventDays,
	webHistory = true,
	asOf,
	concurrency = 2,
	only,
	dryRun = false,
	log = console.log,
} = {}) {
	if (!dryRun && !key) throw new Error("an API key with the ingest and read scopes is needed: --key KEY or B2G_KEY=… (npm run key -- create --site demo --scopes ingest,read)");
	const t0 = performance.now();
	// Without --as-of the store runs up to this moment (today is partial, as a live shop's is); with it, up to
	// that day's midnight (reproducible whole days, for tests and benchmarks that pin a date).
	const toNow = asOf === undefined || asOf === null || asOf === "";
	const now = Date.now();
	const midnight = toNow ? startOfUtcDay(now) + DAY : asOfMidnight(asOf);
	// The months before the raw event window come as daily web aggregates (the web_daily entity): sessions,
	// visitors and conversion over the whole history without millions of stored events.
	const history = webHistory ? await loadWebHistory() : null;
	const store = generateStore({ seed, months, customers, orders, eventDays, asOf: midnight, until: toNow ? now : midnight, origin, webHistory: history ? () => history.webDailyAggregator("UTC") : undefined });
	const genMs = performance.now() - t0;
	const m = store.meta;
	const day = (ms) => new Date(ms).toISOString().slice(0, 10);
	log(`demo store (seed ${seed}): ${months} months ${day(m.start)} … ${toNow ? `now (${new Date(m.until).toISOString().slice(0, 16).replace("T", " ")} UTC)` : `${day(midnight - DAY)} (ends before ${day(midnight)} 00:00 UTC)`}, generated in ${secs(genMs)}`);
	log(`  ${ENTITY_ORDER.filter((e) => store[e].length).map((e) => `${e} ${fmt(store[e].length)}`).join(", ")}`);
	log(`  injected revenue drop: ${m.drop.dates.join(", ")} — ${m.drop.note}`);
	log(`  web events: the last ${eventDays} days (${m.eventsFrom ? `${day(m.eventsFrom)} … ${toNow ? "now" : day(midnight - DAY)}` : "none"}): a converting session per order, ~2 abandoned carts and ~6 browse-only visits per purchase`);
	if (store.web_daily.length) log(`  web history before them as daily aggregates (web_daily): ${day(m.start)} … ${day((m.eventsFrom ?? midnight) - DAY)}, the same kind of sessions counted, not stored`);
	log(`  subscriptions: ${fmt(m.subscriptions.active)} active, ${fmt(m.subscriptions.cancelled)} cancelled, ${fmt(m.subscriptions.paused)} paused; MRR €${m.subscriptions.mrr}; ${m.stockoutsNow} SKU(s) out of stock at the end`);
	if (dryRun) return { store, genMs, load: null, pipeline: null, totalMs: performance.now() - t0 };

	const entities = only ? ENTITY_ORDER.filter((e) => only.includes(e)) : ENTITY_ORDER;
	log(`loading into ${url.replace(/\/+$/, "")} (site ${site}), ${concurrency} import(s) at a time…`);
	const load = await loadStore(store, { fetch, url, key, site, concurrency, entities, log: (s) => log(`  ${s}`) });
	let pipeline = null;
	if (entities.includes("events") && store.events.length) {
		const days = [...new Set([day(store.events[0].ts), day(store.events[Math.floor(store.events.length / 2)].ts), day(store.events.at(-1).ts)])];
		pipeline = await checkPipeline({ fetch, url, key, site, days });
		for (const r of pipeline) log(`  pipeline ${r.date}: accepted ${fmt(r.accepted)} + imported ${fmt(r.imported)} = stored ${fmt(r.stored)} = archived ${fmt(r.archived)} → ${r.reconciled ? "reconciled" : "NOT reconciled"}`);
	}
	const totalMs = performance.now() - t0;
	const rows = load.results.reduce((s, r) => s + r.rows, 0);
	const changed = load.results.reduce((s, r) => s + r.changed, 0);
	log(`summary: ${fmt(rows)} rows (${fmt(changed)} new or changed) in ${secs(totalMs)} — generate ${secs(genMs)}, load ${secs(load.ms)}`);
	for (const r of load.results) log(`  ${r.entity.padEnd(11)} ${fmt(r.rows).padStart(9)} rows ${fmt(r.changed).padStart(9)} changed ${secs(r.ms).padStart(8)}`);
	log(`  revenue drop injected on ${m.drop.dates.join(", ")} (orders × ${m.drop.factor})`);
	return { store, genMs, load, pipeline, totalMs };
}

const HELP = `usage: npm run seed -- [options]
Loads a deterministic demo store into a running stack (npm start) through the bulk import API.

  --url URL           the stack (default http://localhost:8787)
  --key KEY           API key with the ingest and read scopes (default: env B2G_KEY)
  --site SITE         default demo
  --seed N            integer (default ${DEFAULTS.seed})
  --months N          history length, 2–60 (default ${DEFAULTS.months})
  --customers N       default ${fmt(DEFAULTS.customers)}
  --orders N          target order count (default customers × ${DEFAULTS.ordersPerCustomer})
  --event-days N      raw web events for the most recent N days, 0–31 (default ${DEFAULTS.eventDays}): events are
                      the slowest rows to load (D1 + R2 each); the days before get the same kind of sessions
                      as daily aggregates (web_daily), so sessions and conversion cover the whole history
  --no-web-history    leave out those aggregates (older days then have no web data)
  --as-of YYYY-MM-DD  the store ends at that day's 00:00 UTC (same command = same records); default: it runs
                      up to now
  --origin URL        shop origin in event URLs (default: --url)
  --concurrency N     imports at a time (default 2)
  --only a,b          load only these entities (${ENTITY_ORDER.join(", ")})
  --dry-run           generate and summarise, load nothing

Re-running with the same options adds only what happened since. A 3-day revenue drop (~45 % fewer
orders) is injected 35–33 days before --as-of (34–32 days before today without it); the run prints its dates.`;

function parseArgs(argv) {
	const opts = { key: process.env.B2G_KEY ?? "" };
	const names = { url: "url", key: "key", site: "site", origin: "origin", seed: "seed", months: "months", customers: "customers", orders: "orders", "event-days": "eventDays", "as-of": "asOf", concurrency: "concurrency", only: "only" };
	const ints = new Set(["seed", "months", "customers", "orders", "eventDays", "concurrency"]);
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "--help" || arg === "-h") {
			console.log(HELP);
			process.exit(0);
		}
		if (arg === "--dry-run") {
			opts.dryRun = true;
			continue;
		}
		if (arg === "--no-web-history") {
			opts.webHistory = false;
			continue;
		}
		const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
		const name = m && names[m[1]];
		if (!name) throw new Error(`unknown argument ${arg} (try --help)`);
		const value = m[2] ?? argv[++i];
		if (value === undefined) throw new Error(`--${m[1]} needs a value`);
		if (ints.has(name)) {
			const n = Number(value);
			if (!Number.isInteger(n)) throw new Error(`--${m[1]} must be an integer, got ${value}`);
			opts[name] = n;
		} else if (name === "only") {
			opts.only = value.split(",").map((s) => s.trim()).filter(Boolean);
			const bad = opts.only.filter((e) => !ENTITY_ORDER.includes(e));
			if (bad.length) throw new Error(`--only: unknown entities ${bad.join(", ")} (one of ${ENTITY_ORDER.join(", ")})`);
		} else opts[name] = value;
	}
	if (opts.url && !opts.origin) opts.origin = opts.url;
	return opts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	try {
		const opts = parseArgs(process.argv.slice(2));
		await seedStore(opts);
	} catch (err) {
		console.error(`seed failed: ${err instanceof Error ? err.message : err}`);
		process.exit(1);
	}
}
