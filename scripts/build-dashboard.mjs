#!/usr/bin/env node
/**
 * Builds the dashboard (web/app: Preact + uPlot, Vite with web/vite.config.mts) into dist/web, after
 * scripts/build-tracker.mjs has put the tracker and web/public there:
 *   dist/web/index.html            the app shell (served at / and, as the SPA fallback, at /operations…)
 *   dist/web/app/*.js, *.css       hashed chunks: the entry and one lazy chunk per page (+ shared ones)
 *   dist/web/app/manifest.json     Vite's manifest
 *   dist/web/app/size.json         gzip -9 bytes: initial JS (the entry and its static imports) and each chunk
 *   dist/web/_headers              security headers (CSP, HSTS, …) for every static file, from
 *                                  workers/lib/security-headers.ts (the Worker sets the same on its own answers)
 *
 * Budget: exits non-zero when the initial JS — what the browser must load before the first page can
 * render — is over 60 KiB after gzip -9. Pages are loaded on first visit and are reported, not budgeted.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { transform } from "esbuild";
import { build } from "vite";

export const INITIAL_JS_BUDGET = 60 * 1024;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/web");

await build({ configFile: join(root, "web/vite.config.mts"), logLevel: "warn" });

/** @type {Record<string, {file: string, name?: string, src?: string, isEntry?: boolean, isDynamicEntry?: boolean, imports?: string[], dynamicImports?: string[], css?: string[]}>} */
const manifest = JSON.parse(readFileSync(join(out, "app/manifest.json"), "utf8"));
const gz = (file) => gzipSync(readFileSync(join(out, file)), { level: 9 }).length;
const raw = (file) => readFileSync(join(out, file)).length;

const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
if (!entryKey) fail("no entry chunk in the Vite manifest");

/** A chunk and everything it imports statically (what loads with it), as manifest keys. */
function closure(key, seen = new Set()) {
	if (seen.has(key)) return seen;
	seen.add(key);
	for (const k of manifest[key].imports ?? []) closure(k, seen);
	return seen;
}

const initial = [...closure(entryKey)];
const initialJs = initial.reduce((n, k) => n + gz(manifest[k].file), 0);
const initialCss = [...new Set(initial.flatMap((k) => manifest[k].css ?? []))].reduce((n, f) => n + gz(f), 0);

// Each page: its own chunk and what it pulls in beyond the initial load.
const pages = Object.entries(manifest)
	.filter(([, c]) => c.isDynamicEntry)
	.map(([key, c]) => {
		const extra = [...closure(key)].filter((k) => !initial.includes(k));
		return {
			page: c.src ?? key,
			chunk: c.file,
			gzip: gz(c.file),
			withSharedChunks: extra.reduce((n, k) => n + gz(manifest[k].file), 0),
			css: [...new Set(extra.flatMap((k) => manifest[k].css ?? []))].reduce((n, f) => n + gz(f), 0),
		};
	});
const chunks = Object.values(manifest)
	.filter((c) => c.file.endsWith(".js"))
	.map((c) => ({ file: c.file, src: c.src ?? c.name ?? null, raw: raw(c.file), gzip: gz(c.file) }));

// Static assets are answered before the Worker runs, so their headers come from this file (Workers Static
// Assets and Pages both read it). The module is dependency-free TypeScript: strip the types and import it.
const headersModule = await transform(readFileSync(join(root, "workers/lib/security-headers.ts"), "utf8"), { loader: "ts", format: "esm" });
const { STATIC_HEADERS_FILE } = await import(`data:text/javascript;base64,${Buffer.from(headersModule.code).toString("base64")}`);
writeFileSync(join(out, "_headers"), STATIC_HEADERS_FILE);

const report = { budget: INITIAL_JS_BUDGET, initial: { js: initialJs, css: initialCss, files: initial.map((k) => manifest[k].file) }, pages, chunks };
writeFileSync(join(out, "app/size.json"), `${JSON.stringify(report, null, 2)}\n`);

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`dist/web dashboard: initial JS ${initialJs} B (${kb(initialJs)}) gzip -9 + ${kb(initialCss)} CSS; budget ${kb(INITIAL_JS_BUDGET)}`);
for (const p of pages) console.log(`  page ${p.page}: ${kb(p.gzip)} (${kb(p.withSharedChunks)} with its shared chunks, + ${kb(p.css)} CSS)`);
if (initialJs > INITIAL_JS_BUDGET) fail(`the dashboard's initial JS is ${initialJs} B after gzip -9, over the ${INITIAL_JS_BUDGET} B budget`);

function fail(message) {
	console.error(`build-dashboard: ${message}`);
	process.exit(1);
}
