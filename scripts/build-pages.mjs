#!/usr/bin/env node
/**
 * The dashboard on Cloudflare Pages. Lays out dist/pages from the built dist/web (run `npm run build`
 * first): everything in dist/web, plus web/pages/_worker.js and a _routes.json that runs it only for the
 * analytics Worker's paths (/api/*, /login, /e, /hooks/*), so every other file is served as a static
 * asset and unknown page paths fall back to index.html (Pages' single-page-app behaviour).
 *
 *   node scripts/build-pages.mjs             lay out dist/pages
 *   node scripts/build-pages.mjs --deploy    … then `wrangler pages deploy` (npm run deploy:web)
 *   node scripts/build-pages.mjs --preview   … then `wrangler pages dev` on :8788 against the Worker of a
 *                                            running `npm start` (npm run preview:web)
 *
 * wrangler runs from a temporary directory holding web/pages/wrangler.toml: inside this repository it
 * would also pick up the Worker's own wrangler.toml (its D1, queues, Durable Objects) for the Pages
 * project, which must have only the `API` service binding.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WRANGLER_ENV, WRANGLER_JS, WRANGLER_NODE } from "./lib/wrangler.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "dist/web");
const out = join(root, "dist/pages");
const mode = process.argv.includes("--deploy") ? "deploy" : process.argv.includes("--preview") ? "preview" : null;

if (!existsSync(join(web, "index.html"))) {
	console.error("build-pages: dist/web/index.html is missing: run `npm run build` first");
	process.exit(1);
}
rmSync(out, { recursive: true, force: true });
cpSync(web, out, { recursive: true });
cpSync(join(root, "web/pages/_worker.js"), join(out, "_worker.js"));
writeFileSync(join(out, "_routes.json"), `${JSON.stringify({ version: 1, include: ["/api/*", "/hooks/*", "/login", "/e"], exclude: [] }, null, 2)}\n`);
console.log("dist/pages: dist/web + _worker.js + _routes.json");

if (mode) {
	const dir = mkdtempSync(join(tmpdir(), "b2g-pages-"));
	const config = readFileSync(join(root, "web/pages/wrangler.toml"), "utf8").replace(/^pages_build_output_dir = .*$/m, `pages_build_output_dir = ${JSON.stringify(out)}`);
	writeFileSync(join(dir, "wrangler.toml"), config);
	const argv = mode === "deploy" ? ["pages", "deploy"] : ["pages", "dev", "--port", process.env.PORT ?? "8788"];
	const child = spawn(WRANGLER_NODE, [WRANGLER_JS, ...argv, ...process.argv.slice(2).filter((a) => a !== "--deploy" && a !== "--preview")], { cwd: dir, env: WRANGLER_ENV, stdio: "inherit" });
	for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
	child.on("exit", (code, signal) => {
		rmSync(dir, { recursive: true, force: true });
		process.exit(code ?? (signal ? 1 : 0));
	});
}
