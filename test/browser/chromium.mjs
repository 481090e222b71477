/**
 * The Chromium every browser test runs, and how it is launched (playwright-core). Lookup order:
 *   1. CHROMIUM_PATH (env): that executable, as given;
 *   2. a system Chromium or Chrome (SYSTEM_BROWSERS), when one is installed;
 *   3. the Chromium that `npm install` brought: the devDependency @sparticuz/chromium (a compressed
 *      headless Chromium for linux-x64), decompressed on first use into <tmpdir>/b2g-chromium-<version>-<uid>/
 *      and reused afterwards. The decompression runs in a child process with TMPDIR pointing at a
 *      private staging dir (the package writes to os.tmpdir()), which is then renamed into place: test
 *      files running in parallel (or other checkouts) never see a half-written binary, and a package
 *      upgrade never picks up another version's files.
 * Not a test file itself; imported by harness.mjs.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

export const SYSTEM_BROWSERS = [
	"/usr/bin/chromium",
	"/usr/bin/chromium-browser",
	"/usr/bin/google-chrome",
	"/usr/bin/google-chrome-stable",
	"/usr/local/bin/chromium",
	"/Applications/Chromium.app/Contents/MacOS/Chromium",
	"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];

/**
 * Flags of every launch. The networking ones matter: without them Chromium keeps calling home (updates,
 * sync, QUIC probes) and floods a closed network. The profile is fresh for every launch: playwright's
 * launch() creates its own temporary --user-data-dir (mkdtemp) and removes it on close (it refuses one
 * in `args`).
 */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const isExecutable = (path) => {
	try {
		accessSync(path, constants.X_OK);
		return statSync(path).isFile();
	} catch {
		return false;
	}
};

/** @type {Promise<{path: string, source: string, env: Record<string, string>}> | undefined} */
let found;

/**
 * The browser to launch: {path, source ("CHROMIUM_PATH" | "system" | "@sparticuz/chromium <version>"), env
 * (extra environment for the browser process)}. Decided once per process.
 */
export function findChromium() {
	found ??= (async () => {
		const explicit = process.env.CHROMIUM_PATH;
		if (explicit) {
			if (!isExecutable(explicit)) throw new Error(`CHROMIUM_PATH=${explicit} is not an executable file`);
			return { path: explicit, source: "CHROMIUM_PATH", env: {} };
		}
		const system = SYSTEM_BROWSERS.find(isExecutable);
		if (system) return { path: system, source: "system", env: {} };
		return packagedChromium();
	})();
	return found;
}

/** @sparticuz/chromium's binary, decompressed once per version (see the top of this file). */
async function packagedChromium() {
	if (process.platform !== "linux" || process.arch !== "x64") {
		throw new Error(`no Chromium found: install Chromium or Chrome, or set CHROMIUM_PATH (the packaged @sparticuz/chromium is linux-x64 only; this is ${process.platform}-${process.arch})`);
	}
	let entry;
	try {
		entry = import.meta.resolve("@sparticuz/chromium");
	} catch {
		throw new Error("no Chromium found: run `npm install` (devDependency @sparticuz/chromium), install Chromium, or set CHROMIUM_PATH");
	}
	const pkgDir = join(dirname(fileURLToPath(entry)), "..");
	const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
	const dir = join(tmpdir(), `b2g-chromium-${version}-${process.getuid?.() ?? 0}`);
	const path = join(dir, "chromium");
	const source = `@sparticuz/chromium ${version}`;
	// The package's own fonts.conf names /tmp/fonts; ours names this dir and keeps the system's fonts.
	const env = { FONTCONFIG_FILE: join(dir, "fonts.conf") };
	if (isExecutable(path)) return { path, source, env };

	const staging = mkdtempSync(join(tmpdir(), `b2g-chromium-${version}.partial-`));
	try {
		const code = `import c from ${JSON.stringify(entry)}; process.stdout.write(await c.executablePath());`;
		const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", code], { env: { ...process.env, TMPDIR: staging }, timeout: 120_000 });
		if (stdout !== join(staging, "chromium") || !isExecutable(stdout)) throw new Error(`@sparticuz/chromium decompressed to ${JSON.stringify(stdout)}, expected ${join(staging, "chromium")}`);
		writeFileSync(
			join(staging, "fonts.conf"),
			`<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n  <dir>${join(dir, "fonts")}</dir>\n  <cachedir>${join(dir, "fonts-cache")}</cachedir>\n</fontconfig>\n`,
		);
		try {
			renameSync(staging, dir);
		} catch (err) {
			// Another process finished first: use its copy.
			if (!isExecutable(path)) throw err;
		}
	} finally {
		if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
	}
	return { path, source, env };
}

/**
 * Launches Chromium (findChromium()) headless with CHROMIUM_ARGS. `env`: extra environment variables for
 * the browser process (e.g. LANG); `args`: extra flags.
 */
export async function launchChromium({ env = {}, args = [], timeout = 30_000 } = {}) {
	const browser = await findChromium();
	return chromium.launch({
		executablePath: browser.path,
		timeout,
		args: [...CHROMIUM_ARGS, ...args],
		env: { ...process.env, ...browser.env, ...env },
	});
}
