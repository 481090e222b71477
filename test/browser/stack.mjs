/**
 * The real local stack for the end-to-end browser test: `wrangler dev` (Worker + D1 + R2 + Queues +
 * Durable Objects) on a free port with its own temporary state dir, migrated and holding the `demo`
 * site. Process handling follows bench/ingest/run.mjs: every wrangler child runs detached in its own
 * process group and is killed as a group (wrangler's workerd grandchild can outlive wrangler itself).
 * Not a test file itself; imported by e2e.test.mjs.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const WRANGLER_JS = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const LOCAL_NODE = join(ROOT, "node_modules/.bin/node");
/** wrangler 4 needs Node >= 22: the repo-pinned node (node_modules/.bin/node) when present. */
const WRANGLER_NODE = existsSync(LOCAL_NODE) ? LOCAL_NODE : process.execPath;
const CHILD_ENV = {
	...process.env,
	CI: "true", // never prompt
	WRANGLER_SEND_METRICS: "false",
	NO_COLOR: "1",
	FORCE_COLOR: "0",
	// Offline-friendly: miniflare's placeholder Request.cf instead of fetching one (as scripts/start.mjs does).
	CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every child we started and have not reaped yet, and every state dir we created. */
const children = new Set();
const stateDirs = new Set();
/** Set by stopAll(): a startStack() still under way must not spawn anything afterwards. */
let closed = false;

/** spawn() in a new process group, refused once stopAll() ran. */
function spawnGroup(file, argv, options) {
	if (closed) throw new Error("stack.mjs: stopAll() already ran; not starting wrangler");
	const child = spawn(file, argv, { ...options, detached: true });
	children.add(child);
	return child;
}

function killGroup(child, signal) {
	try {
		process.kill(-child.pid, signal);
	} catch {
		/* already gone */
	}
}

// Last resort (synchronous): whatever way this process ends, no wrangler/workerd is left behind.
process.on("exit", () => {
	for (const c of children) killGroup(c, "SIGKILL");
	for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
	process.once(sig, () => {
		for (const c of children) killGroup(c, "SIGKILL");
		process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig] ?? 1));
	});
}

/**
 * Stops everything this module started (wrangler dev and any one-shot wrangler still running) and
 * removes the state dirs: for an `after` hook, so that a `before` hook that timed out halfway through
 * startStack() still leaves nothing behind. Never throws.
 */
export async function stopAll() {
	closed = true;
	const live = [...children];
	for (const c of live) killGroup(c, "SIGTERM");
	const deadline = Date.now() + 5000;
	while (Date.now() < deadline && live.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(100);
	// wrangler's workerd grandchild may outlive its parent: SIGKILL the group regardless.
	for (const c of live) killGroup(c, "SIGKILL");
	children.clear();
	for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
	stateDirs.clear();
}

export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/** Runs a one-shot wrangler command in its own process group; resolves with stdout, rejects with the output. */
export function wrangler(argv, { timeoutMs = 90_000 } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawnGroup(WRANGLER_NODE, [WRANGLER_JS, ...argv], { cwd: ROOT, env: CHILD_ENV, stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		child.stdout.on("data", (d) => (out += d));
		child.stderr.on("data", (d) => (err += d));
		const timer = setTimeout(() => {
			err += `\n(timed out after ${timeoutMs / 1000} s)`;
			killGroup(child, "SIGKILL");
		}, timeoutMs);
		child.on("error", (e) => {
			clearTimeout(timer);
			children.delete(child);
			reject(new Error(`wrangler ${argv.join(" ")}: ${e.message}`));
		});
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			children.delete(child);
			if (code === 0) resolve(out);
			else reject(new Error(`wrangler ${argv.join(" ")} exited with ${code ?? signal}:\n${`${out}\n${err}`.trim()}`));
		});
	});
}

/** Parses what `wrangler d1 execute --json` prints (tolerating anything before the JSON). */
export function d1Json(out) {
	const start = out.indexOf("[");
	if (start < 0) throw new Error(`unexpected output from wrangler d1 execute --json:\n${out}`);
	return JSON.parse(out.slice(start));
}

function probe(url) {
	return fetch(url, { signal: AbortSignal.timeout(2000) }).then(async (res) => {
		await res.arrayBuffer();
		return res.status;
	});
}

/**
 * Starts the stack: fresh state dir under os.tmpdir(), D1 migrations, the `demo` site (origins:
 * this port on 127.0.0.1 and localhost), then `wrangler dev --log-level error` on a free port,
 * waiting until it answers HTTP. Needs dist/web (run scripts/build-tracker.mjs first).
 * Returns { base, port, persistTo, d1(sql), log(), stop() }; stop() is idempotent and never throws.
 */
export async function startStack({ site = "demo", readyTimeoutMs = 100_000 } = {}) {
	if (closed) throw new Error("stack.mjs: stopAll() already ran");
	if (!existsSync(WRANGLER_JS)) throw new Error(`wrangler not found at ${WRANGLER_JS} (run npm install)`);
	if (!existsSync(join(ROOT, "dist/web/shop/index.html"))) throw new Error("dist/web is missing the shop: run `node scripts/build-tracker.mjs` first");
	const persistTo = mkdtempSync(join(tmpdir(), "b2g-e2e-"));
	stateDirs.add(persistTo);
	let dev = null;
	let output = "";
	let stopping = null;

	const stop = () =>
		(stopping ??= (async () => {
			if (dev) {
				killGroup(dev, "SIGTERM");
				const deadline = Date.now() + 5000;
				while (Date.now() < deadline && dev.exitCode === null && dev.signalCode === null) await sleep(100);
				// workerd may outlive wrangler: SIGKILL the group regardless.
				killGroup(dev, "SIGKILL");
				children.delete(dev);
			}
			rmSync(persistTo, { recursive: true, force: true, maxRetries: 3 });
			stateDirs.delete(persistTo);
		})());

	try {
		const port = await freePort();
		const base = `http://127.0.0.1:${port}`;
		const local = ["--local", "--persist-to", persistTo, "--config", "wrangler.toml"];
		await wrangler(["d1", "migrations", "apply", "DB", ...local]);
		const origins = JSON.stringify([base, `http://localhost:${port}`]);
		await wrangler([
			"d1", "execute", "DB", ...local, "--command",
			`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${site}','Brain2Gain demo store','${origins}','UTC','EUR',0)`,
		]);

		const inspectorPort = await freePort();
		dev = spawnGroup(
			WRANGLER_NODE,
			[
				WRANGLER_JS, "dev",
				"--config", "wrangler.toml",
				"--port", String(port),
				"--ip", "127.0.0.1",
				"--inspector-port", String(inspectorPort),
				"--log-level", "error",
				"--persist-to", persistTo,
				"--show-interactive-dev-session=false",
			],
			{ cwd: ROOT, env: CHILD_ENV, stdio: ["ignore", "pipe", "pipe"] },
		);
		const keep = (d) => (output = (output + d).slice(-20_000));
		dev.stdout.on("data", keep);
		dev.stderr.on("data", keep);
		const exited = new Promise((resolve) => dev.on("exit", (code, signal) => resolve(code ?? signal)));

		// Ready = answers HTTP at all. Fail fast if wrangler exits first.
		const deadline = Date.now() + readyTimeoutMs;
		for (;;) {
			const r = await Promise.race([probe(`${base}/t.js`).then((status) => ({ status }), (err) => ({ err })), exited.then((code) => ({ exited: code }))]);
			if (r.exited !== undefined) throw new Error(`wrangler dev exited with ${r.exited} before answering HTTP:\n${output}`);
			if (r.status) break;
			if (Date.now() > deadline) throw new Error(`wrangler dev did not answer on ${base} within ${readyTimeoutMs / 1000} s (${r.err?.message}):\n${output}`);
			await sleep(250);
		}

		return {
			base,
			port,
			persistTo,
			/** GET a JSON API path; throws on a non-2xx answer. */
			async json(pathname) {
				const res = await fetch(base + pathname, { signal: AbortSignal.timeout(10_000) });
				const text = await res.text();
				if (!res.ok) throw new Error(`GET ${pathname} → ${res.status}: ${text.slice(0, 500)}`);
				return JSON.parse(text);
			},
			/**
			 * Runs a read-only query against the local D1 and returns its rows. Fast path: opens miniflare's
			 * SQLite file under the state dir read-only with node:sqlite (Node >= 22.13); otherwise (older
			 * Node, or a miniflare whose file layout changed) `wrangler d1 execute --json`, a few seconds.
			 */
			async d1(sql) {
				const direct = await readD1File(persistTo, sql);
				if (direct) return direct;
				const out = await wrangler(["d1", "execute", "DB", ...local, "--json", "--command", sql]);
				return d1Json(out).at(-1)?.results ?? [];
			},
			/** The last 20 kB wrangler dev printed (it runs at --log-level error). */
			log: () => output,
			stop,
		};
	} catch (err) {
		await stop();
		throw err;
	}
}

/**
 * Reads the D1 database file of a `--persist-to` dir directly (miniflare keeps one SQLite file per
 * database, in WAL mode, under v3/d1/miniflare-D1DatabaseObject/ beside its metadata.sqlite). Returns
 * the rows as plain objects, or null when node:sqlite or the file is not there.
 */
async function readD1File(persistTo, sql) {
	const dir = join(persistTo, "v3/d1/miniflare-D1DatabaseObject");
	const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite") : [];
	if (files.length !== 1) return null;
	let DatabaseSync;
	// node:sqlite prints an ExperimentalWarning on first load; keep the test output clean.
	const emitWarning = process.emitWarning;
	process.emitWarning = (warning, ...rest) => (/SQLite/i.test(String(warning)) ? undefined : emitWarning.call(process, warning, ...rest));
	try {
		({ DatabaseSync } = await import("node:sqlite"));
	} catch {
		return null;
	} finally {
		process.emitWarning = emitWarning;
	}
	const db = new DatabaseSync(join(dir, files[0]), { readOnly: true });
	try {
		return db.prepare(sql).all().map((row) => ({ ...row }));
	} finally {
		db.close();
	}
}
