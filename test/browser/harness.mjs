/**
 * Test harness for the browser tests: a local HTTP server that serves the built tracker and fixture
 * pages and captures every POST (the tracker's beacons), plus the Chromium launcher (chromium.mjs: which
 * browser, which flags). Not a test file itself; imported by the browser test files.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./chromium.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const DIST = join(ROOT, "dist/web");

export const USER_AGENT =
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const EVENT_KEYS = new Set(["id", "name", "ts", "url", "referrer", "props", "customer_id"]);

/**
 * Starts the fixture server on 127.0.0.1 with an ephemeral port.
 * - GET /t.js, /t.js.map: the built tracker from dist/web (read once: run the build first).
 * - GET <path registered with page()>: that HTML; any other GET: a blank page without the tracker.
 * - POST anything: recorded in `posts` ({path, contentType, cookie, body, raw, at}) and answered 202.
 */
export async function startServer() {
	if (!existsSync(join(DIST, "t.js"))) throw new Error("dist/web/t.js is missing: run `node scripts/build-tracker.mjs` first");
	const tracker = readFileSync(join(DIST, "t.js"));
	const map = readFileSync(join(DIST, "t.js.map"));
	const pages = new Map();
	const posts = [];
	const gets = [];

	const server = createServer((req, res) => {
		const url = new URL(req.url, "http://x");
		if (req.method === "POST") {
			const chunks = [];
			req.on("data", (c) => chunks.push(c));
			req.on("end", () => {
				const raw = Buffer.concat(chunks).toString("utf8");
				let body = null;
				try {
					body = JSON.parse(raw);
				} catch {
					// kept as raw; tests fail on body === null
				}
				posts.push({ path: url.pathname, contentType: req.headers["content-type"] ?? "", cookie: req.headers.cookie ?? "", body, raw, at: Date.now() });
				res.writeHead(202, { "content-type": "application/json" }).end('{"accepted":true}');
			});
			return;
		}
		gets.push({ path: url.pathname, cookie: req.headers.cookie ?? "" });
		if (url.pathname === "/t.js") return void res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" }).end(tracker);
		if (url.pathname === "/t.js.map") return void res.writeHead(200, { "content-type": "application/json" }).end(map);
		if (url.pathname === "/favicon.ico") return void res.writeHead(204).end();
		const html = pages.get(url.pathname) ?? "<!doctype html><meta charset=utf-8><title>blank</title><p>blank</p>";
		res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(html);
	});
	await new Promise((ok, fail) => {
		server.once("error", fail);
		server.listen(0, "127.0.0.1", ok);
	});
	const base = `http://127.0.0.1:${server.address().port}`;

	return {
		base,
		posts,
		gets,
		/** Registers the HTML served at `path`; returns the absolute URL. */
		page(path, html) {
			pages.set(path, html);
			return base + path;
		},
		/** Captured POSTs whose body names `site`. */
		batches(site) {
			return posts.filter((p) => p.body && p.body.site === site);
		},
		/** All events sent for `site`, in arrival order. */
		events(site) {
			return this.batches(site).flatMap((p) => p.body.events);
		},
		close() {
			server.closeAllConnections();
			return new Promise((ok) => server.close(() => ok()));
		},
	};
}

/**
 * A fixture page embedding the tracker.
 * @param {{site?: string|null, attrs?: string, head?: string, body?: string, src?: string}} o
 *   site: data-site (null leaves the attribute out); attrs: extra attributes on the tag;
 *   head: HTML before the tag (e.g. the stub); body: HTML in <body> (e.g. inline scripts).
 */
export function fixture({ site = "test", attrs = "", head = "", body = "", src = "/t.js" } = {}) {
	const siteAttr = site === null ? "" : ` data-site="${site}"`;
	return `<!doctype html><html><head><meta charset="utf-8"><title>fixture ${site}</title>${head}<script defer src="${src}"${siteAttr} ${attrs}></script></head><body><h1>fixture</h1>${body}</body></html>`;
}

/** The snippet sites paste before the tag so that calls made before t.js loads are queued. */
export const STUB = "<script>window.b2g=window.b2g||function(){(b2g.q=b2g.q||[]).push(arguments)}</script>";

/**
 * Headless Chromium for a test file: CHROMIUM_PATH, else a system Chromium/Chrome, else the one from
 * npm install (@sparticuz/chromium); see chromium.mjs. `options`: {env, args} for the browser process.
 */
export function launchBrowser(options) {
	return launchChromium(options);
}

/** Polls `fn` until it returns a truthy value (which is returned) or throws after `timeout` ms. */
export async function waitFor(fn, { timeout = 8000, interval = 20, what = "condition" } = {}) {
	const end = Date.now() + timeout;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		await sleep(interval);
	}
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
