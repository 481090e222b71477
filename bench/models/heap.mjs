#!/usr/bin/env node
/**
 * Isolate memory of each predictive step (issue 12): the step's module, unchanged, in Node's V8 on a copy of
 * a bench store's D1 file (see heap-entry.mjs for why and how). Two runs per step, each in a fresh process:
 *
 *   1. unbounded heap: the V8 heap + ArrayBuffers before the step (modules loaded, after a full GC) and at
 *      its peak (the largest of: samples at every D1 round trip and every 10 ms between synchronous work,
 *      and the heap V8 held just before each GC — the latter includes garbage not yet collected, so with
 *      Node's 4 GB default limit it mostly says how lazily V8 collects); the largest heap right after a full
 *      (mark-compact) GC is a lower bound of the live peak;
 *   2. the V8 heap capped at the Workers limit (`--max-heap-size=128`): the step must complete, and its peak
 *      used heap (garbage included) is then an upper bound of what was ever live — the pass/fail figure.
 *      ArrayBuffers live outside that cap and are included in the figures.
 *
 *   node bench/models/heap.mjs --state bench/out/models-state-<stamp> --as-of 2026-12-02 [--site demo]
 *        [--steps churn,recommend,actions,inventory,forecast] [--cap-mb 128] [--json out.json]
 *        [--prepare rfm,clv]   # run these analyses first, unmeasured (a store from direct-store.mjs has no run yet)
 *        [--keep-db file.sqlite]   # keep the prepared copy (e.g. for heap-actions-parts.mjs)
 *
 * bench/models/run.mjs calls measureHeap() on its store after the nightly run. Node >= 22.13 (node:sqlite,
 * StatementSync.setReturnArrays): `npx node bench/models/heap.mjs …` from the repo root.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { d1File } from "../nightly/baseline.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const HEAP_STEPS = ["churn", "recommend", "actions", "inventory", "forecast"];

/** Runs `node <flags> bundle <args>` and returns { code, json, stderr }. */
function run(flags, bundle, args) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [...flags, bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		child.stdout.on("data", (d) => (out += d));
		child.stderr.on("data", (d) => (err += d));
		child.on("error", reject);
		child.on("close", (code, signal) => {
			const line = out.trim().split("\n").at(-1) ?? "";
			let json = null;
			try {
				json = code === 0 ? JSON.parse(line) : null;
			} catch {
				json = null;
			}
			resolve({ code: code ?? signal, json, stderr: err.split("\n").filter((l) => l && !/ExperimentalWarning|--trace-warnings/.test(l)).slice(-8).join("\n") });
		});
	});
}

/**
 * Measures every step of `steps` on a copy of the D1 file under `state` (a --persist-to dir whose wrangler
 * has stopped). Returns per step: baseline, peak and Δ in MB, GC count, and whether it completed under the cap.
 */
export async function measureHeap({ state, site = "demo", asOf, steps = HEAP_STEPS, capMb = 128, prepare = [], keepDb = null, log = () => {} }) {
	const { build } = await import("esbuild");
	const tmp = mkdtempSync(path.join(os.tmpdir(), "b2g-heap-"));
	try {
		const bundle = path.join(tmp, "heap-entry.bundle.mjs");
		await build({ entryPoints: [path.join(HERE, "heap-entry.mjs")], bundle: true, outfile: bundle, format: "esm", platform: "node", target: "node22", logLevel: "error" });
		const src = d1File(state);
		const db = path.join(tmp, "d1.sqlite");
		copyFileSync(src, db);
		// A stopped local D1 may keep recent pages in its WAL; SQLite replays it on open.
		for (const ext of ["-wal", "-shm"]) if (existsSync(src + ext)) copyFileSync(src + ext, db + ext);
		const mb = (b) => (b == null ? null : b / 1048576);
		for (const step of prepare) {
			const r = await run(["--expose-gc"], bundle, [db, site, asOf, step]);
			if (!r.json) throw new Error(`heap: preparing with the ${step} step failed (exit ${r.code}):\n${r.stderr}`);
			log(`  prepared: ${step} (${r.json.result?.rowsWritten ?? "?"} rows written)`);
		}
		const out = [];
		for (const step of steps) {
			const free = await run(["--expose-gc"], bundle, [db, site, asOf, step]);
			if (!free.json) throw new Error(`heap: the ${step} step failed (exit ${free.code}):\n${free.stderr}`);
			const capped = await run(["--expose-gc", `--max-heap-size=${capMb}`], bundle, [db, site, asOf, step]);
			const r = free.json;
			const row = {
				step,
				wallMs: r.wallMs,
				baseMb: mb(r.base),
				peakMb: mb(r.peak),
				deltaMb: mb(r.peak - r.base),
				peakHeapMb: mb(r.peakSampled.heap),
				peakArrayBuffersMb: mb(r.peakSampled.arrayBuffers),
				peakAfterGcMb: mb(r.peakAfterGc),
				gcs: r.gcs,
				capMb,
				completesUnderCap: capped.code === 0,
				capped: capped.json ? { peakMb: mb(capped.json.peak), peakAfterGcMb: mb(capped.json.peakAfterGc), gcs: capped.json.gcs, wallMs: capped.json.wallMs } : { exit: capped.code, error: capped.stderr.slice(-600) },
				rowsRead: r.result?.rowsRead ?? null,
				rowsWritten: r.result?.rowsWritten ?? null,
			};
			out.push(row);
			log(`  ${step}: V8 heap + ArrayBuffers ${row.baseMb.toFixed(1)} → peak ${row.peakMb.toFixed(1)} MB (Δ ${row.deltaMb.toFixed(1)}; after-GC peak ${row.peakAfterGcMb.toFixed(1)}); with the heap capped at ${capMb} MB: ${row.completesUnderCap ? `completes (peak ${row.capped.peakMb.toFixed(1)} MB)` : "FAILS"}`);
		}
		// The prepared copy, kept for heap-actions-parts.mjs (a 100k store's prepare takes minutes).
		if (keepDb) copyFileSync(db, keepDb);
		return out;
	} finally {
		rmSync(tmp, { recursive: true, force: true });
	}
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
	const { values } = parseArgs({
		options: { state: { type: "string" }, "as-of": { type: "string" }, site: { type: "string", default: "demo" }, steps: { type: "string", default: HEAP_STEPS.join(",") }, "cap-mb": { type: "string", default: "128" }, prepare: { type: "string", default: "" }, json: { type: "string" }, "keep-db": { type: "string" } },
	});
	if (!values.state || !/^\d{4}-\d{2}-\d{2}$/.test(values["as-of"] ?? "")) {
		console.error("usage: node bench/models/heap.mjs --state <persist-to dir> --as-of YYYY-MM-DD [--site demo] [--steps churn,recommend,…] [--cap-mb 128] [--json file]");
		process.exit(2);
	}
	const rows = await measureHeap({ state: values.state, site: values.site, asOf: values["as-of"], steps: values.steps.split(","), capMb: Number(values["cap-mb"]), prepare: values.prepare ? values.prepare.split(",") : [], keepDb: values["keep-db"] ?? null, log: (m) => console.error(m) });
	if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 1));
	console.log(JSON.stringify(rows, null, 1));
}
