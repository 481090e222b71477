/**
 * Running wrangler as a child process: shared by scripts/start.mjs (npm start), bench/ingest/run.mjs and
 * test/browser/stack.mjs (the e2e test's stack). Only the mechanics live here; each caller keeps its own
 * lifecycle policy (which children it tracks, timeouts, logs, signal forwarding, exit hooks) and wires it in
 * through `onSpawn`. No dependencies; runs on Node 20 and 22 (wrangler itself runs under the pinned Node).
 *
 * Children are spawned detached, each in its own process group, so that they can be killed as a group:
 * wrangler's workerd grandchild can outlive wrangler itself.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** `npm start` writes the origin it serves here, so other CLIs (npm run user -- link) print links for the right port. */
export const DEV_ORIGIN_FILE = join(ROOT, ".wrangler", "b2g-origin");
export const WRANGLER_JS = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const BIN_DIR = join(ROOT, "node_modules/.bin");
const PINNED_NODE = join(BIN_DIR, "node");
/** wrangler 4 needs Node >= 22: the repo-pinned node (the `node` devDependency) when present. */
export const WRANGLER_NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;

/** Env for wrangler attached to a terminal (npm start's wrangler dev): prompts and colours as usual. */
export const WRANGLER_ENV = {
	...process.env,
	PATH: `${BIN_DIR}${delimiter}${process.env.PATH ?? ""}`,
	WRANGLER_SEND_METRICS: "false",
	// Offline-friendly: miniflare's placeholder Request.cf instead of fetching one (3 s timeout + a stack trace without network).
	CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
};
/** Env for wrangler whose output is captured: CI mode so it never prompts (confirmations take their default: yes), no colours. */
export const CHILD_ENV = { ...WRANGLER_ENV, CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const running = (child) => child.exitCode === null && child.signalCode === null;

/** A TCP port that is free on 127.0.0.1 right now (not reserved: bind it soon). */
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

/** Signals the process group of a child spawned here (it leads its group); a no-op once the group is gone. */
export function killGroup(child, signal) {
	try {
		process.kill(-child.pid, signal);
	} catch {
		/* already gone */
	}
}

/** SIGTERM to each child's group, up to `graceMs` for them to exit, then SIGKILL to the groups regardless (workerd may outlive wrangler). */
export async function terminateGroups(children, graceMs = 5000) {
	const live = [...children];
	for (const c of live) killGroup(c, "SIGTERM");
	const deadline = Date.now() + graceMs;
	while (Date.now() < deadline && live.some(running)) await sleep(100);
	for (const c of live) killGroup(c, "SIGKILL");
}

/**
 * spawn() in a new process group, cwd ROOT. `onSpawn(child)` runs right away, for the caller's bookkeeping;
 * if it throws (say, the caller is shutting down), the child's group is killed and the error propagates.
 */
function spawnGroup(file, argv, options, onSpawn) {
	const child = spawn(file, argv, { cwd: ROOT, ...options, detached: true });
	try {
		onSpawn?.(child);
	} catch (err) {
		killGroup(child, "SIGKILL");
		throw err;
	}
	return child;
}

/**
 * Runs a command to completion in its own process group, output captured. Resolves { stdout, stderr } on
 * exit code 0. Otherwise rejects with an Error whose message ends with the output, which is also in
 * `.output`, beside `.exitCode` / `.signal` (none of the three when the command could not be started).
 * `timeoutMs` (0: none) SIGKILLs the whole group; `onSpawn` as for spawnGroup(); `input`, if given, is written to stdin.
 */
export function runCaptured(file, argv, { env = CHILD_ENV, timeoutMs = 120_000, onSpawn, input, label = [basename(file), ...argv].join(" ") } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawnGroup(file, argv, { env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] }, onSpawn);
		// `input` goes to stdin (e.g. a secret for `wrangler secret put`, never on the command line).
		if (input !== undefined) child.stdin.end(input);
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (d) => (stdout += d));
		child.stderr.on("data", (d) => (stderr += d));
		const timer =
			timeoutMs > 0 &&
			setTimeout(() => {
				stderr += `\n(timed out after ${timeoutMs / 1000} s)`;
				killGroup(child, "SIGKILL");
			}, timeoutMs);
		child.on("error", (err) => {
			clearTimeout(timer);
			reject(new Error(`could not start ${label}: ${err.message}`));
		});
		child.on("close", (exitCode, signal) => {
			clearTimeout(timer);
			if (exitCode === 0) return resolve({ stdout, stderr });
			const output = `${stdout}\n${stderr}`.trim();
			reject(Object.assign(new Error(`${label} exited with ${exitCode ?? signal}:\n${output}`), { output, exitCode, signal }));
		});
	});
}

/** Runs a one-shot wrangler command (see runCaptured) under the pinned node with CHILD_ENV. */
export function runWrangler(argv, { timeoutMs = 120_000, onSpawn, input } = {}) {
	return runCaptured(WRANGLER_NODE, [WRANGLER_JS, ...argv], { timeoutMs, onSpawn, input, label: `wrangler ${argv.join(" ")}` });
}

/** Parses what `wrangler d1 execute --json` prints (tolerating anything before the JSON). */
export function d1Json(output) {
	const start = output.indexOf("[");
	if (start < 0) throw new Error(`unexpected output from wrangler d1 execute --json:\n${output}`);
	return JSON.parse(output.slice(start));
}

/**
 * Starts `wrangler dev` in its own process group with CHILD_ENV, on 127.0.0.1:port, a free inspector port
 * (so that several can run side by side) and no interactive session. Resolves with the child as soon as it
 * is spawned: wait for it with waitForHttp(). `stdio` as for spawn(); `onSpawn` as for spawnGroup().
 */
export async function startWranglerDev({ config = "wrangler.toml", port, persistTo, logLevel = "error", stdio = ["ignore", "pipe", "pipe"], extraArgs = [], onSpawn }) {
	const inspectorPort = await freePort();
	const argv = [
		WRANGLER_JS, "dev",
		"--config", config,
		"--port", String(port),
		"--ip", "127.0.0.1",
		"--inspector-port", String(inspectorPort),
		"--log-level", logLevel,
		...(persistTo ? ["--persist-to", persistTo] : []),
		"--show-interactive-dev-session=false",
		...extraArgs,
	];
	return spawnGroup(WRANGLER_NODE, argv, { env: CHILD_ENV, stdio }, onSpawn);
}

/** Status of one GET, on a fresh connection (no keep-alive socket left in any pool). */
function probe(url) {
	return new Promise((resolve, reject) => {
		const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
			res.resume();
			res.on("end", () => resolve(res.statusCode));
		});
		req.on("timeout", () => req.destroy(new Error("probe timeout")));
		req.on("error", reject);
	});
}

/**
 * Ready = `url` answers HTTP at all (any status). Rejects as soon as `child` (wrangler dev) exits, or
 * after `timeoutMs`; the caller adds its log to the message.
 */
export async function waitForHttp(url, { child, timeoutMs = 120_000, intervalMs = 250 }) {
	const exited = new Promise((resolve) => {
		if (!running(child)) resolve(child.exitCode ?? child.signalCode);
		else child.once("exit", (code, signal) => resolve(code ?? signal));
	});
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const r = await Promise.race([probe(url).then((status) => ({ status }), (err) => ({ err })), exited.then((code) => ({ exited: code }))]);
		if (r.exited !== undefined) throw new Error(`wrangler dev exited with ${r.exited} before answering HTTP`);
		if (r.status) return r.status;
		if (Date.now() > deadline) throw new Error(`wrangler dev did not answer on ${url} within ${timeoutMs / 1000} s (${r.err?.message})`);
		await sleep(intervalMs);
	}
}
