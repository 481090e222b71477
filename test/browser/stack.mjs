/**
 * The real local stack for the end-to-end browser test: `wrangler dev` (Worker + D1 + R2 + Queues +
 * Durable Objects) on a free port with its own temporary state dir, migrated and holding the `demo`
 * site. Spawning is scripts/lib/wrangler.mjs (as for bench/ingest/run.mjs): every wrangler child runs
 * detached in its own process group and is killed as a group (wrangler's workerd grandchild can outlive
 * wrangler itself); this module keeps track of them and of its state dirs.
 * Not a test file itself; imported by e2e.test.mjs.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { insertKeySql, newKey } from "../../scripts/lib/keys.mjs";
import { ROOT, WRANGLER_JS, d1Json, freePort, killGroup, runWrangler, startWranglerDev, terminateGroups, waitForHttp } from "../../scripts/lib/wrangler.mjs";

/** Every child we started and have not reaped yet, and every state dir we created. */
const children = new Set();
const stateDirs = new Set();
/** Set by stopAll(): a startStack() still under way must not spawn anything afterwards. */
let closed = false;

/** onSpawn for every wrangler child: tracked, and refused (killed at once) once stopAll() ran. */
function track(child) {
	if (closed) throw new Error("stack.mjs: stopAll() already ran; not starting wrangler");
	children.add(child);
}

/** Runs a one-shot wrangler command in its own process group; resolves with stdout, rejects with the output. */
function wrangler(argv) {
	return runWrangler(argv, {
		timeoutMs: 90_000,
		onSpawn(child) {
			track(child);
			child.on("close", () => children.delete(child));
		},
	}).then((r) => r.stdout);
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
	await terminateGroups(children);
	children.clear();
	for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
	stateDirs.clear();
}

/**
 * Starts the stack: fresh state dir under os.tmpdir(), D1 migrations, the `demo` site (origins:
 * this port on 127.0.0.1 and localhost) and an API key for it with the `read` scope, then
 * `wrangler dev --log-level error` on a free port (plus `extraArgs`, e.g. `--test-scheduled` for
 * `/__scheduled`), waiting until it answers HTTP. Needs dist/web
 * (run scripts/build-tracker.mjs first).
 * Returns { base, port, persistTo, key, json(path), d1(sql), log(), stop() }; `key` is the read key's
 * secret, which json() sends as `Authorization: Bearer`; stop() is idempotent and never throws.
 */
export async function startStack({ site = "demo", readyTimeoutMs = 100_000, extraArgs = [] } = {}) {
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
				await terminateGroups([dev]);
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
		const key = newKey();
		await wrangler([
			"d1", "execute", "DB", ...local, "--command",
			`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${site}','Brain2Gain demo store','${origins}','UTC','EUR',0); ` +
				insertKeySql({ id: key.id, hash: key.hash, site, name: "e2e test (read)", scopes: ["read"], now: 0 }),
		]);

		dev = await startWranglerDev({
			port,
			persistTo,
			extraArgs,
			onSpawn(child) {
				track(child);
				const keep = (d) => (output = (output + d).slice(-20_000));
				child.stdout.on("data", keep);
				child.stderr.on("data", keep);
			},
		});
		try {
			await waitForHttp(`${base}/t.js`, { child: dev, timeoutMs: readyTimeoutMs });
		} catch (err) {
			throw new Error(`${err.message}:\n${output}`);
		}

		return {
			base,
			port,
			persistTo,
			/** The secret of the site's read key (for `Authorization: Bearer`). */
			key: key.secret,
			/** GET a JSON API path with the read key; throws on a non-2xx answer. */
			async json(pathname) {
				const res = await fetch(base + pathname, { headers: { Authorization: `Bearer ${key.secret}` }, signal: AbortSignal.timeout(10_000) });
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
