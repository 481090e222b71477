#!/usr/bin/env node
/**
 * `npm start`: the whole stack locally, in one command, on a fresh clone after `npm install`.
 *
 *   1. builds dist/web (scripts/build-tracker.mjs + scripts/build-dashboard.mjs, or a plain copy of web/public)
 *   2. applies the D1 migrations to the local database (non-interactively)
 *   3. makes sure the `demo` site exists, and mints a fresh read-only API key for the status page and an
 *      ingest+read key for the seeder (revoking the ones of the previous run); on a database without
 *      dashboard users, creates admin@localhost (role admin) with a one-time login link
 *   4. checks whether the local database already holds events or orders
 *   5. runs `wrangler dev` (Worker + D1 + R2 + Queues + Durable Objects, cron via /__scheduled)
 *   6. once it answers: loads the demo store (scripts/seed.mjs: 24 months of orders, customers, …, and
 *      the last 28 days of web events, through the bulk import API) if the database was empty, and
 *      prints where everything is: the dashboard (with a login link on a fresh database) and the status
 *      page (its link carries the key in its #fragment, which never reaches the server)
 *
 *   7. starts the live traffic simulator for the demo site (scripts/traffic.mjs: browser sessions to /e
 *      and their orders through the signed order webhook, at a modest hour-of-day rate), so the
 *      Operations "Right now" panel shows a shop in use; it uses the demo site's webhook secret, made
 *      here when the site has none
 *
 * Options: --no-seed (never seed), --reseed (seed even if data exists; same ids on the same UTC day, so
 * idempotent), --no-traffic (no simulator).
 * Env: PORT (default 8787).
 * Ctrl-C (SIGINT) / SIGTERM stop wrangler; this script exits with wrangler's code.
 * No dependencies beyond the project's own devDependencies (wrangler, the pinned Node).
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import { insertKeySql, newKey, revokeByNameSql } from "./lib/keys.mjs";
import { LOGIN_TOKEN_TTL_MS, insertLoginTokenSql, loginUrl, newLoginToken, newUserId } from "./lib/users.mjs";
import { DEV_ORIGIN_FILE, ROOT as root, WRANGLER_ENV, WRANGLER_JS, WRANGLER_NODE, d1Json, killGroup, runCaptured } from "./lib/wrangler.mjs";

const args = new Set(process.argv.slice(2));
const PORT = Number(process.env.PORT ?? 8787);
const SITE = "demo";
const HOST = "127.0.0.1";
const ORIGIN = `http://localhost:${PORT}`;
const READY_TIMEOUT_MS = 180_000;
/** The status page's key: read-only, for `demo`, replaced on every run (the previous one is revoked). */
const STATUS_KEY_NAME = "status page (npm start)";
/** The seeder's key: ingest + read for `demo` (the import API) and admin (it starts the first nightly analytics run), replaced on every run likewise. */
const SEED_KEY_NAME = "seed (npm start)";
/** The dashboard admin made on a database without users (later runs print how to get a new link). */
const ADMIN_EMAIL = "admin@localhost";

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint("1");
const dim = paint("2");
const green = paint("32");
const red = paint("31");
const cyan = paint("36");

class StepError extends Error {
	constructor(message, detail = "") {
		super(message);
		this.detail = detail;
	}
}

/**
 * The child currently running, for signal forwarding: a one-shot step (in its own process group, so
 * signalled as a group, workerd included) or wrangler dev (in ours, so that it keeps the terminal).
 */
let current = null;
let currentIsGroup = false;
let stopping = false;
const signalCurrent = (sig) => (currentIsGroup ? killGroup(current, sig) : current?.kill(sig));

const step = (msg) => console.log(`${cyan("▸")} ${msg}`);
const ok = (msg) => console.log(`  ${green("✓")} ${msg}`);

let failing = false;
function fail(err) {
	failing = true;
	console.error(`\n${red("✗ npm start failed:")} ${err.message}`);
	const detail = (err.detail ?? "").replace(/\x1b\[[0-9;]*m/g, "").trim();
	if (detail) console.error(dim(detail.split("\n").slice(-40).map((l) => `  │ ${l}`).join("\n")));
	if (err.hint) console.error(`  ${err.hint}`);
	if (current && current.exitCode === null && current.signalCode === null) {
		// Let wrangler shut workerd down before we go.
		current.once("exit", () => process.exit(1));
		signalCurrent("SIGTERM");
		setTimeout(() => {
			signalCurrent("SIGKILL");
			process.exit(1);
		}, 10_000).unref();
		return;
	}
	process.exit(1);
}

// ── the toolchain: the repo pins Node 22 (node devDependency) and wrangler; see scripts/lib/wrangler.mjs ──

/**
 * Runs a one-shot step to completion (output captured, its own process group, no timeout) as `current`.
 * Default env: CI mode and no TTY, so wrangler never prompts. Rejects with a StepError on a non-zero exit.
 */
async function run(label, file, argv, { env } = {}) {
	const onSpawn = (child) => {
		current = child;
		currentIsGroup = true;
		child.on("close", () => {
			current = null;
			if (stopping) process.exit(130);
		});
	};
	try {
		return await runCaptured(file, argv, { env, timeoutMs: 0, onSpawn, label });
	} catch (e) {
		if (e.output === undefined) throw new StepError(e.message);
		throw new StepError(`${label} exited with ${e.signal ?? `code ${e.exitCode}`}`, e.output);
	}
}

const wrangler = (label, argv) => run(label, WRANGLER_NODE, [WRANGLER_JS, ...argv]);

function portFree(port) {
	return new Promise((res) => {
		const srv = createServer();
		srv.once("error", () => res(false));
		srv.listen(port, HOST, () => srv.close(() => res(true)));
	});
}

async function ensurePortFree() {
	if (await portFree(PORT)) return;
	const e = new StepError(`port ${PORT} on ${HOST} is already in use`);
	e.hint = `Stop whatever listens there (another \`npm start\`?) or pick another port: PORT=${PORT + 1} npm start`;
	throw e;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
	process.on(sig, () => {
		if (!current || current.exitCode !== null) process.exit(128 + (constants.signals[sig] ?? 2));
		if (stopping) {
			// Second signal: stop waiting for a graceful shutdown.
			signalCurrent("SIGKILL");
			return;
		}
		stopping = true;
		signalCurrent(sig);
		setTimeout(() => current?.exitCode === null && signalCurrent("SIGKILL"), 10_000).unref();
	});
}

async function main() {
	if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) throw new StepError(`PORT must be a TCP port number, got ${process.env.PORT}`);
	if (!existsSync(WRANGLER_JS)) {
		const e = new StepError("wrangler is not installed (node_modules/wrangler is missing)");
		e.hint = "Run `npm install` first.";
		throw e;
	}
	const wantSeed = !args.has("--no-seed");
	const t0 = performance.now();
	// Fail fast, before the slow steps (and again right before wrangler dev binds it).
	await ensurePortFree();

	// 1. static assets ─────────────────────────────────────────────────────────────────────────
	const builder = join(root, "scripts", "build-tracker.mjs");
	const dashboard = join(root, "scripts", "build-dashboard.mjs");
	if (existsSync(builder)) {
		step("building dist/web (scripts/build-tracker.mjs, scripts/build-dashboard.mjs)");
		for (const script of [builder, dashboard].filter((f) => existsSync(f))) {
			const { stdout } = await run("build", WRANGLER_NODE, [script], { env: WRANGLER_ENV });
			ok(stdout.trim().split("\n").filter(Boolean).find((l) => l.startsWith("dist/web")) ?? "built");
		}
	} else {
		step("copying web/public → dist/web (no scripts/build-tracker.mjs)");
		const out = join(root, "dist", "web");
		rmSync(out, { recursive: true, force: true });
		mkdirSync(out, { recursive: true });
		if (existsSync(join(root, "web", "public"))) cpSync(join(root, "web", "public"), out, { recursive: true });
		ok("copied");
	}

	// 2. D1 migrations ─────────────────────────────────────────────────────────────────────────
	step("applying D1 migrations to the local database (.wrangler/state)");
	const mig = await wrangler("wrangler d1 migrations apply", ["d1", "migrations", "apply", "DB", "--local"]);
	const migText = mig.stdout + mig.stderr;
	if (/No migrations to apply/i.test(migText)) ok("already up to date");
	else {
		const applied = [...new Set(migText.match(/\b\d{4}_[\w-]+\.sql\b/g) ?? [])];
		ok(applied.length ? `applied ${applied.join(", ")}` : "applied");
	}

	// 3 + 4. demo site, the status page's and the seeder's keys, and does the database hold data? (one wrangler run)
	step(`ensuring site '${SITE}' exists, minting the status page's and the seeder's keys, checking for dashboard users, counting stored events and orders`);
	const origins = JSON.stringify([...new Set(["http://localhost:8787", "http://127.0.0.1:8787", ORIGIN, `http://${HOST}:${PORT}`])]);
	const now = Date.now();
	const key = newKey();
	const seedKey = newKey();
	// admin@localhost only if there is no user at all; its login token only if that insert happened (a fresh random id).
	const adminId = newUserId();
	const adminToken = newLoginToken();
	// The demo site's webhook secret, for the simulator's signed orders: made once, then kept (a rotation
	// through the API, POST /api/v1/webhooks/secret, is the owner's; we only read it back).
	const webhookSecret = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
	const sql =
		`INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('${SITE}', 'Brain2Gain demo store', '${origins}', 'UTC', 'EUR', ${now}) ON CONFLICT DO NOTHING; ` +
		`${revokeByNameSql(STATUS_KEY_NAME, now)}; ` +
		`${insertKeySql({ id: key.id, hash: key.hash, site: SITE, name: STATUS_KEY_NAME, scopes: ["read"], now })}; ` +
		`${revokeByNameSql(SEED_KEY_NAME, now)}; ` +
		`${insertKeySql({ id: seedKey.id, hash: seedKey.hash, site: SITE, name: SEED_KEY_NAME, scopes: ["ingest", "read", "admin"], now })}; ` +
		`INSERT INTO users (id, email, role, created_at) SELECT '${adminId}', '${ADMIN_EMAIL}', 'admin', ${now} WHERE NOT EXISTS (SELECT 1 FROM users); ` +
		`${insertLoginTokenSql({ hash: adminToken.hash, userId: adminId, now })}; ` +
		`UPDATE sites SET webhook_secret = '${webhookSecret}' WHERE id = '${SITE}' AND webhook_secret IS NULL; ` +
		`SELECT (SELECT COUNT(*) FROM events) AS n, (SELECT COUNT(*) FROM orders) AS o, (SELECT COUNT(*) FROM login_tokens WHERE token_hash = '${adminToken.hash}') AS admin_link, ` +
		`(SELECT webhook_secret FROM sites WHERE id = '${SITE}') AS webhook_secret`;
	const q = await wrangler("wrangler d1 execute", ["d1", "execute", "DB", "--local", "--json", "--command", sql]);
	let n = NaN;
	let o = NaN;
	let adminLink = null;
	let siteSecret = null;
	try {
		const row = d1Json(q.stdout).at(-1)?.results?.[0];
		siteSecret = typeof row?.webhook_secret === "string" ? row.webhook_secret : null;
		n = Number(row?.n);
		o = Number(row?.o);
		if (Number(row?.admin_link) === 1) adminLink = { url: loginUrl(ORIGIN, adminToken.token), expiresAt: now + LOGIN_TOKEN_TTL_MS };
	} catch {
		/* reported below, with the output */
	}
	if (!Number.isFinite(n) || !Number.isFinite(o)) throw new StepError("could not read the event and order counts from the local database", q.stdout);
	const seedNow = wantSeed && ((n === 0 && o === 0) || args.has("--reseed"));
	ok(`site '${SITE}' ready; read key ${key.id} for the status page; ${n} event(s) and ${o} order(s) stored${seedNow ? " → will load the demo store" : n || o ? " → not seeding" : ""}`);
	if (adminLink) ok(`no dashboard users yet: created ${ADMIN_EMAIL} (role admin); its login link is in the banner`);

	// 5. wrangler dev ──────────────────────────────────────────────────────────────────────────
	await ensurePortFree();
	step(`starting wrangler dev on ${ORIGIN} ${dim(`(prep took ${((performance.now() - t0) / 1000).toFixed(1)} s)`)}`);
	// Not startWranglerDev(): this one stays in our process group with the terminal (inherited stdio, its hotkeys).
	const dev = spawn(WRANGLER_NODE, [WRANGLER_JS, "dev", "--port", String(PORT), "--ip", HOST, "--test-scheduled"], { cwd: root, env: WRANGLER_ENV, stdio: "inherit" });
	current = dev;
	currentIsGroup = false;
	let devExited = false;
	let ready = false;
	dev.on("error", (e) => fail(new StepError(`could not start wrangler dev: ${e.message}`)));
	dev.on("exit", (code, signal) => {
		devExited = true;
		if (failing) return;
		if (!stopping && !ready) console.error(`\n${red("✗ wrangler dev exited before it was ready")} (${signal ?? `code ${code}`}); see its output above.`);
		process.exit(code ?? 128 + (constants.signals[signal] ?? 1));
	});

	// 6. wait until it answers ────────────────────────────────────────────────────────────────
	const deadline = Date.now() + READY_TIMEOUT_MS;
	while (!ready) {
		if (devExited || stopping) return;
		if (Date.now() > deadline) throw new StepError(`wrangler dev did not answer on http://${HOST}:${PORT}/ within ${READY_TIMEOUT_MS / 1000} s`);
		try {
			const res = await fetch(`http://${HOST}:${PORT}/`, { signal: AbortSignal.timeout(5000) });
			await res.arrayBuffer();
			ready = true;
			// For `npm run user -- link` in another terminal: links for the port this stack serves.
			writeFileSync(DEV_ORIGIN_FILE, `${ORIGIN}\n`);
		} catch {
			await sleep(500);
		}
	}

	let seedReport = null;
	if (seedNow) {
		const { seedStore } = await import("./seed.mjs");
		console.log("");
		step("loading the demo store through the bulk import API (scripts/seed.mjs)");
		try {
			const r = await seedStore({ url: `http://${HOST}:${PORT}`, origin: ORIGIN, site: SITE, key: seedKey.secret, log: (m) => console.log(`  ${m}`) });
			// Keep the figures for the banner, not the generated store (~100 MB) for the rest of the session.
			seedReport = { orders: r.store.orders.length, events: r.store.events.length, webDays: new Set(r.store.web_daily.map((w) => w.day)).size, months: r.store.meta.months, eventDays: r.store.meta.eventDays, drop: r.store.meta.drop.dates, totalMs: r.totalMs };
		} catch (err) {
			const e = new StepError(`loading the demo store failed: ${err.message}`);
			e.hint = "The Worker rejected demo data or an import failed; fix it and run `npm start -- --reseed` (or `npm start -- --no-seed`).";
			throw e;
		}
	}
	if (stopping) return;
	// The simulator starts before the nightly run, so a restarted stack shows live visitors within seconds.
	const traffic = args.has("--no-traffic") ? null : await startSimulator(seedKey.secret, siteSecret);
	await firstNightlyRun(`http://${HOST}:${PORT}`, seedKey.secret);
	if (stopping) return;
	banner(seedReport, key.secret, adminLink, traffic);
}

/** Starts scripts/traffic.mjs for the demo site; a failure to start is reported and the stack runs on without it. */
async function startSimulator(seedSecret, webhookSecret) {
	console.log("");
	step("starting the live traffic simulator (scripts/traffic.mjs; npm start -- --no-traffic turns it off)");
	try {
		if (!webhookSecret) throw new Error("the demo site has no webhook secret");
		const { startTraffic } = await import("./traffic.mjs");
		const sim = await startTraffic({ url: `http://${HOST}:${PORT}`, origin: ORIGIN, site: SITE, key: seedSecret, secret: webhookSecret, log: (m) => console.log(`  ${dim(m)}`) });
		const stopSim = () => sim.stop();
		for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(sig, stopSim);
		ok("running: browser sessions to /e and their orders through POST /hooks/orders");
		return sim;
	} catch (err) {
		console.log(`  ${red("✗")} the simulator did not start: ${err.message}`);
		return null;
	}
}

/**
 * Runs the nightly analytics (RFM, cohorts, basket, CLV) for the demo site when no run has completed yet, so
 * every analytics page has data on a fresh machine: first as of 30 days ago, then as of yesterday, so the
 * segment movement matrix has a month to compare. Later runs come from the cron after 03:00.
 */
async function firstNightlyRun(base, secret) {
	const headers = { Authorization: `Bearer ${secret}` };
	const jobs = await (await fetch(`${base}/api/v1/jobs?site=${SITE}&limit=100`, { headers })).json();
	if (jobs.runs?.some((r) => r.status === "complete")) return;
	const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10); // the demo site is in UTC
	const monthBefore = new Date(Date.parse(yesterday) - 30 * 86_400_000).toISOString().slice(0, 10);
	for (const asOf of [monthBefore, yesterday]) {
		console.log("");
		step(`running the nightly analytics for the demo store as of ${asOf} (RFM segments, cohorts, basket, CLV)`);
		const t = performance.now();
		const started = await fetch(`${base}/api/v1/jobs/nightly/run?site=${SITE}&as_of=${asOf}`, { method: "POST", headers });
		const run = await started.json();
		if (started.status !== 202) throw new StepError(`could not start the nightly analytics: ${JSON.stringify(run)}`);
		for (;;) {
			if (stopping) return;
			await sleep(1000);
			const r = await (await fetch(`${base}/api/v1/jobs/${run.id}?site=${SITE}`, { headers })).json();
			if (r.status === "complete" || r.status === "errored") {
				for (const s of r.steps) ok(`${s.step}: ${s.status}, ${(s.duration_ms / 1000).toFixed(1)} s, ${s.rows_read ?? 0} rows read, ${s.rows_written ?? 0} written${s.error ? ` (${s.error})` : ""}`);
				if (r.status === "errored") {
					console.log(`  ${red("✗")} the run failed: ${r.error}; see GET /api/v1/jobs/${run.id}?site=${SITE}`);
					return;
				}
				ok(`nightly analytics as of ${r.as_of} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
				break;
			}
			if (performance.now() - t > 15 * 60_000) {
				console.log(`  ${red("✗")} still running after 15 minutes; follow it at GET /api/v1/jobs/${run.id}?site=${SITE}`);
				return;
			}
		}
	}
}

function banner(seedReport, secret, adminLink, traffic) {
	const u = ORIGIN;
	const today = new Date().toISOString().slice(0, 10);
	const auth = `-H "Authorization: Bearer ${secret}"`;
	const lines = [
		bold("Brain2Gain Analytics — local stack is up"),
		"",
		`  Dashboard       ${cyan(`${u}/`)}  (sign in with the login link below)`,
		`  Status page     ${cyan(`${u}/status.html#key=${secret}`)}`,
		`                  (carries a read-only key for site ${SITE}, made for this run; the next npm start revokes it)`,
		`  Demo shop       ${cyan(`${u}/shop/`)}`,
		`  Tracker         ${cyan(`${u}/t.js`)}  — paste into a page:`,
		`                  <script defer src="${u}/t.js" data-site="${SITE}"></script>`,
		`  Ingest          POST ${u}/e   {"site":"${SITE}","events":[…]}  (no key)`,
		`  APIs            /api/v1/… need 'Authorization: Bearer <key>': curl examples with this run's key below`,
		`  API reference   ${ORIGIN}/api/docs  (OpenAPI 3.1: ${ORIGIN}/api/v1/openapi.json)`,
		`  Run the cron    curl "${u}/__scheduled?cron=*/10+*+*+*+*"`,
		`  More keys       npm run key -- create --site ${SITE} --scopes ingest,read,admin`,
		...(adminLink
			? [`  Dashboard login ${cyan(adminLink.url)}`, `                  (${ADMIN_EMAIL}, role admin: one-time link, valid until ${new Date(adminLink.expiresAt).toTimeString().slice(0, 5)}; users: npm run user -- list)`]
			: [`  Dashboard login npm run user -- link --email ${ADMIN_EMAIL}${PORT === 8787 ? "" : ` --url ${ORIGIN}`}   (a new one-time link; users: npm run user -- list)`]),
		"",
		seedReport
			? `  Demo store: ${seedReport.orders.toLocaleString("en-US")} orders over ${seedReport.months} months, ${seedReport.events.toLocaleString("en-US")} web events (last ${seedReport.eventDays} days) + ${seedReport.webDays} days of daily web history before them, loaded in ${(seedReport.totalMs / 1000).toFixed(1)} s; revenue drop on ${seedReport.drop.join(", ")}`
			: `  Demo store: not loaded (database not empty). Reload: npm start -- --reseed, or npm run seed -- --key <ingest+read key>`,
		traffic
			? `  Live traffic    simulated visits and orders for '${SITE}' (scripts/traffic.mjs); npm start -- --no-traffic turns it off`
			: `  Live traffic    off; more demo traffic for the last days: node scripts/seed-events.mjs --seed 7 --key <ingest+read key>`,
		`  Local state lives in .wrangler/state (delete it for a clean slate). Ctrl-C stops everything.`,
	];
	const width = Math.max(...lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").length)) + 2;
	const bar = "─".repeat(width);
	console.log(`\n┌${bar}┐`);
	for (const l of lines) console.log(`│ ${l}${" ".repeat(width - 1 - l.replace(/\x1b\[[0-9;]*m/g, "").length)}│`);
	console.log(`└${bar}┘`);
	// Outside the box, so that they copy cleanly.
	console.log(`\n  ${dim("# live counter")}`);
	console.log(`  curl ${auth} "${u}/api/v1/realtime?site=${SITE}"`);
	console.log(`  ${dim(`# pipeline health (accepted = stored = archived) for ${today}`)}`);
	console.log(`  curl ${auth} "${u}/api/v1/health/pipeline?site=${SITE}&date=${today}"`);
	console.log(`  ${dim("# the dashboard's first KPIs by month over the last year, and anomalies in daily revenue")}`);
	console.log(`  curl ${auth} "${u}/api/v1/kpis?site=${SITE}&grain=month&from=${new Date(Date.parse(today) - 365 * 86_400_000).toISOString().slice(0, 10)}&to=${today}"`);
	console.log(`  curl ${auth} "${u}/api/v1/anomalies?site=${SITE}&ids=revenue,orders"`);
	console.log(`  ${dim("# the checkout funnel over the last 30 days, alerts firing now, the product catalogue")}`);
	console.log(`  curl ${auth} "${u}/api/v1/funnels/checkout/report?site=${SITE}&by=device"`);
	console.log(`  curl ${auth} "${u}/api/v1/alerts?site=${SITE}&state=firing"`);
	console.log(`  curl ${auth} "${u}/api/v1/products/performance?site=${SITE}"\n`);
}

main().catch((err) => {
	if (stopping) process.exit(130);
	fail(err instanceof StepError ? err : Object.assign(new StepError(err?.message ?? String(err)), { detail: err?.stack ?? "" }));
});
