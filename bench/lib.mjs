/**
 * Process hygiene shared by the benchmarks: every wrangler child is tracked and killed as a process
 * group on exit, on signals, on uncaught errors and when the global timeout fires.
 */
import { createWriteStream, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { freePort, killGroup, runWrangler, startWranglerDev, terminateGroups, waitForHttp } from "../scripts/lib/wrangler.mjs";

/** @param {number} globalTimeoutMs */
export function benchProcess(globalTimeoutMs) {
	/** Children we started, each in its own process group (detached), killed as a group. */
	const children = new Set();
	let cleaningUp = null;
	/** onSpawn for every wrangler child. */
	const track = (child) => {
		children.add(child);
		child.on("close", () => children.delete(child));
	};
	/** SIGTERM, then SIGKILL, to every group we started (idempotent). */
	const cleanup = () => {
		cleaningUp ??= terminateGroups(children).then(() => children.clear());
		return cleaningUp;
	};
	const die = async (msg, code = 1) => {
		console.error(`\n[bench] FAILED: ${msg}`);
		await cleanup();
		process.exit(code);
	};
	process.on("SIGINT", () => die("interrupted (SIGINT)", 130));
	process.on("SIGTERM", () => die("terminated (SIGTERM)", 143));
	process.on("uncaughtException", (err) => die(err?.stack ?? String(err)));
	process.on("unhandledRejection", (err) => die(err?.stack ?? String(err)));
	process.on("exit", () => {
		for (const c of children) killGroup(c, "SIGKILL"); // last resort, synchronous
	});
	setTimeout(() => die(`global timeout of ${globalTimeoutMs / 1000}s exceeded`, 124), globalTimeoutMs).unref();
	/** Runs a one-shot wrangler command; resolves with its stdout, rejects (with the output) on failure. */
	const wrangler = (argv) => runWrangler(argv, { onSpawn: track }).then((r) => r.stdout);
	/**
	 * Starts a tracked `wrangler dev` (its own process group) logging to `logFile`, and waits until it
	 * answers HTTP (any status); on failure the error carries the log's tail. `extraArgs` go to wrangler dev
	 * (e.g. `["--var", "INGEST_SITE_LIMIT:1000000"]` to lift a limit; see benchVars()).
	 */
	const startDev = async (name, { config, port, persistTo, logFile, extraArgs = [] }) => {
		port ??= await freePort();
		const logStream = createWriteStream(logFile);
		await new Promise((r) => logStream.on("open", r));
		const child = await startWranglerDev({ config, port, persistTo, stdio: ["ignore", logStream, logStream], onSpawn: track, extraArgs });
		try {
			await waitForHttp(`http://127.0.0.1:${port}/__bench_probe`, { child, timeoutMs: 120_000 });
		} catch (err) {
			throw new Error(`${name} Worker: ${err.message}. Log ${logFile}:\n${tail(logFile)}`);
		}
		return { name, child, port, logFile, base: `http://127.0.0.1:${port}` };
	};
	return { children, track, cleanup, die, wrangler, startDev };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `wrangler dev` arguments that lift the Worker's abuse limits (wrangler.toml [vars]) for a benchmark, which
 * sends far more than one site, address or key may in production: `--var NAME:VALUE` for each.
 */
export function benchVars(value = "1000000000") {
	const names = ["INGEST_IP_LIMIT", "INGEST_SITE_LIMIT", "INGEST_KEY_LIMIT", "RATE_LIMIT_REQUESTS", "RATE_LIMIT_SITE_REQUESTS", "AUTH_FAILURE_LIMIT"];
	return names.flatMap((n) => ["--var", `${n}:${value}`]);
}

/** The last lines of a log file, for error messages. */
export function tail(file, lines = 40) {
	try {
		return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
	} catch {
		return "(no log)";
	}
}

/**
 * Command-line options of a benchmark: parses `options` (node:util parseArgs, strict, plus -h/--help),
 * prints `usage` and exits 2 on a bad flag, 0 on --help. `int(name, min)` reads an integer option the
 * same way (exit 2 with the usage when it is not one).
 */
export function benchArgs(options, usage) {
	let values;
	try {
		values = parseArgs({ options: { ...options, help: { type: "boolean", short: "h", default: false } }, strict: true }).values;
	} catch (err) {
		console.error(`${err.message}\n${usage}`);
		process.exit(2);
	}
	if (values.help) {
		console.log(usage);
		process.exit(0);
	}
	const int = (name, min) => {
		const v = Number(values[name]);
		if (Number.isInteger(v) && v >= min) return v;
		console.error(`--${name} must be an integer >= ${min} (got ${values[name]})\n${usage}`);
		process.exit(2);
	};
	return { args: values, int };
}
