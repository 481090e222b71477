/**
 * One predictive step of the nightly run, in Node, with its isolate memory measured (bench/models/heap.mjs
 * bundles this file with esbuild and runs it once per step in a fresh `node --expose-gc`). workerd does not
 * tell a Worker its heap, so the step's own module (workers/analytics/predict-steps.ts, unchanged) runs in V8
 * here, on the same rows: D1 is the bench store's SQLite file (a copy, since steps write) through a thin
 * adapter with D1's call shapes (prepare/bind/all/raw/first/run, batch = one transaction), and R2 a Map.
 * SQLite's own memory is native (outside the V8 heap and ArrayBuffers), as local D1's is outside the Worker's
 * isolate on Cloudflare; what is measured is what the 128 MB isolate limit counts: the V8 heap plus
 * ArrayBuffer backing stores.
 *
 *   node --expose-gc heap-entry.bundle.mjs <d1 copy> <site> <as_of> <step> <timezone> <currency>
 *
 * Prints one JSON line: baseline and peaks in bytes, every GC's before/after, wall ms, the step's result.
 */
import { DatabaseSync } from "node:sqlite";
import v8 from "node:v8";
import { actionsStep, churnStep, forecastStep, inventoryStep, recommendStep } from "../../workers/analytics/predict-steps.ts";
import { ANALYSES } from "../../workers/analytics/steps.ts";

const [file, site, asOf, stepName, timezone = "UTC", currency = "EUR"] = process.argv.slice(2);
// The descriptive analyses (rfm, clv, …) too: a store written straight to SQLite (direct-store.mjs) needs their results first.
const STEPS = { ...Object.fromEntries(ANALYSES.map((a) => [a.name, a.run])), churn: churnStep, recommend: recommendStep, actions: actionsStep, inventory: inventoryStep, forecast: forecastStep };
const step = STEPS[stepName];
if (!file || !site || !asOf || !step) {
	console.error(`usage: heap-entry <d1 file> <site> <as_of> <${Object.keys(STEPS).join("|")}> [timezone] [currency]`);
	process.exit(2);
}
if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");

/** V8 heap used + ArrayBuffer backing stores, bytes (what the isolate limit counts). */
const isolateBytes = () => {
	const m = process.memoryUsage();
	return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss };
};
let peak = { total: 0, heap: 0, arrayBuffers: 0 };
const sample = () => {
	const m = isolateBytes();
	if (m.heap + m.arrayBuffers > peak.total) peak = { total: m.heap + m.arrayBuffers, heap: m.heap, arrayBuffers: m.arrayBuffers };
};

const sqlite = new DatabaseSync(file);
// D1 binds booleans as 1/0 and undefined as null; node:sqlite refuses both.
const norm = (args) => args.map((a) => (a === undefined ? null : typeof a === "boolean" ? (a ? 1 : 0) : a));
const meta = (changes = 0) => ({ changes, duration: 0, rows_read: 0, rows_written: changes, last_row_id: 0, changed_db: changes > 0, size_after: 0 });

class Statement {
	constructor(sql, args = []) {
		this.sql = sql;
		this.args = args;
	}
	bind(...args) {
		return new Statement(this.sql, norm(args));
	}
	/** Reads run between awaits, as D1's do: the sampler sees the heap at every round trip. */
	async exec(arrays) {
		sample();
		await new Promise((r) => setImmediate(r));
		const st = sqlite.prepare(this.sql);
		if (arrays) st.setReturnArrays(true);
		const rows = st.all(...this.args);
		sample();
		return rows;
	}
	async all() {
		const results = await this.exec(false);
		return { results, success: true, meta: meta() };
	}
	async raw() {
		return this.exec(true);
	}
	async first(column) {
		const rows = await this.exec(false);
		const row = rows[0] ?? null;
		return column === undefined ? row : row === null ? null : (row[column] ?? null);
	}
	async run() {
		sample();
		await new Promise((r) => setImmediate(r));
		const r = sqlite.prepare(this.sql).run(...this.args);
		return { results: [], success: true, meta: meta(Number(r.changes)) };
	}
	/** In a batch: rows for reading statements, changes for writing ones. */
	runSync() {
		const st = sqlite.prepare(this.sql);
		if (st.columns().length > 0) return { results: st.all(...this.args), success: true, meta: meta() };
		const r = st.run(...this.args);
		return { results: [], success: true, meta: meta(Number(r.changes)) };
	}
}

const DB = {
	prepare: (sql) => new Statement(sql),
	async batch(statements) {
		sample();
		await new Promise((r) => setImmediate(r));
		sqlite.exec("BEGIN");
		try {
			const out = statements.map((s) => s.runSync());
			sqlite.exec("COMMIT");
			sample();
			return out;
		} catch (err) {
			sqlite.exec("ROLLBACK");
			throw err;
		}
	},
};
const objects = new Map();
const ARCHIVE = {
	async put(key, body) {
		objects.set(key, typeof body === "string" ? body : Buffer.from(await new Response(body).arrayBuffer()).toString("utf8"));
		return { key };
	},
	async get(key) {
		const text = objects.get(key);
		return text === undefined ? null : { text: async () => text, json: async () => JSON.parse(text), arrayBuffer: async () => new TextEncoder().encode(text).buffer };
	},
};
const env = { DB, ARCHIVE };
const cutoff = Date.parse(`${asOf}T00:00:00Z`) + 86_400_000;
if (timezone !== "UTC") throw new Error("the bench store's site is UTC; another timezone needs its cutoff computed as the nightly run does");
const ctx = { runId: `heap-${stepName}`, site, timezone, currency, asOf, cutoff, rfmWindowDays: 365 };

globalThis.gc();
globalThis.gc();
const base = isolateBytes();
peak = { total: base.heap + base.arrayBuffers, heap: base.heap, arrayBuffers: base.arrayBuffers };
const profiler = new v8.GCProfiler();
profiler.start();
const timer = setInterval(sample, 10);
const t0 = performance.now();
const result = await step(env, ctx);
const wallMs = performance.now() - t0;
clearInterval(timer);
sample();
const gcs = profiler.stop().statistics.map((s) => ({
	type: s.gcType,
	before: s.beforeGC.heapStatistics.usedHeapSize + s.beforeGC.heapStatistics.externalMemory,
	after: s.afterGC.heapStatistics.usedHeapSize + s.afterGC.heapStatistics.externalMemory,
}));
// GCs happen inside synchronous work too, where the interval sampler cannot run: their "before" is a peak seen.
const gcPeak = Math.max(0, ...gcs.map((g) => g.before));
// After a full (mark-compact) GC the heap is what was live then: the largest is a lower bound of the live peak.
const afterGcPeak = Math.max(0, ...gcs.filter((g) => /Mark/.test(g.type)).map((g) => g.after));
sqlite.close();
console.log(
	JSON.stringify({
		step: stepName,
		wallMs,
		base: base.heap + base.arrayBuffers,
		peak: Math.max(peak.total, gcPeak),
		peakSampled: peak,
		peakAtGc: gcPeak,
		peakAfterGc: afterGcPeak,
		gcs: gcs.length,
		rssEnd: process.memoryUsage().rss,
		heapSizeLimit: v8.getHeapStatistics().heap_size_limit,
		result,
	}),
);
