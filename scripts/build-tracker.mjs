#!/usr/bin/env node
/**
 * Builds the static assets the Worker serves from dist/web:
 *   dist/web/t.js         minified tracker (IIFE, ES2019) with a linked source map
 *   dist/web/t.js.map     its source map
 *   dist/web/t.debug.js   unminified, readable build
 *   dist/web/t.size.json  {raw, gzip} byte sizes of t.js
 *   dist/web/**           everything under web/public/, copied as is
 *
 * Budget: exits non-zero when t.js (sourceMappingURL comment included) is over 1,024 bytes after gzip -9.
 * Works on Node 20 and 22.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const BUDGET = 1024;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "web/tracker/t.js");
const publicDir = join(root, "web/public");
const out = join(root, "dist/web");
const generated = ["t.js", "t.js.map", "t.debug.js", "t.size.json"];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// Static files first, so a file in web/public can never silently replace a generated one.
if (existsSync(publicDir)) {
	cpSync(publicDir, out, { recursive: true });
	const clash = generated.filter((f) => existsSync(join(out, f)));
	if (clash.length) fail(`web/public must not contain ${clash.join(", ")}: these are generated`);
}

// tsconfigRaw: {} keeps the repo tsconfig (strict => "use strict" prologue) out of this browser build.
const common = { entryPoints: [entry], tsconfigRaw: {}, bundle: false, format: "iife", target: "es2019", platform: "browser", charset: "utf8", logLevel: "warning" };
await build({ ...common, outfile: join(out, "t.js"), minify: true, sourcemap: "linked", sourcesContent: true, legalComments: "none" });
await build({ ...common, outfile: join(out, "t.debug.js"), minify: false });

const js = readFileSync(join(out, "t.js"));
const raw = js.length;
const gzip = gzipSync(js, { level: 9 }).length;
let gzipCli = null;
try {
	gzipCli = execFileSync("gzip", ["-9", "-c", join(out, "t.js")], { maxBuffer: 1 << 20 }).length;
} catch {
	// No gzip binary: the zlib number stands alone.
}
// Judge by the larger of the two so the check never flatters the snippet.
const measured = Math.max(gzip, gzipCli ?? 0);
writeFileSync(join(out, "t.size.json"), JSON.stringify({ raw, gzip: measured, gzipZlib: gzip, gzipCli, budget: BUDGET }, null, 2) + "\n");

console.log(`dist/web/t.js: ${raw} B raw, ${gzip} B gzip -9 (zlib)${gzipCli === null ? "" : `, ${gzipCli} B gzip -9 -c (cli)`}; budget ${BUDGET} B`);
if (measured > BUDGET) fail(`t.js is ${measured} B after gzip -9, over the ${BUDGET} B budget`);

function fail(message) {
	console.error(`build-tracker: ${message}`);
	process.exit(1);
}
