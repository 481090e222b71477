#!/usr/bin/env node
/**
 * `npm run deploy`: the whole product on a Cloudflare account, idempotently.
 *
 *   npm run deploy -- [--dry-run] [--admin-email EMAIL] [--prefix b2g] [--worker brain2gain-analytics]
 *                     [--pages brain2gain-dashboard] [--location weur] [--app-url https://analytics.example.com]
 *
 * Steps, each one "look, then create only what is missing":
 *   1. build the tracker and dashboard (dist/web)
 *   2. D1 database `<prefix>` (create or reuse; its id goes into the generated config)
 *   3. R2 bucket `<prefix>-archive`, queues `<prefix>-events`, `-events-dlq`, `-imports`, `-alert-deliveries`
 *   4. write `.wrangler/deploy/wrangler.toml`: the repository's wrangler.toml with the real database id,
 *      resource names and APP_URL (the checked-in file stays the local one: `b2g-local`)
 *   5. apply D1 migrations remotely (wrangler applies only those not yet applied)
 *   6. secrets: PII_KEY (and anything else in REQUIRED_SECRETS) generated and put only when absent
 *   7. deploy the Worker unless the deployed version already carries this bundle's hash in its message
 *      (Durable Object migrations are part of the config and run with the deploy)
 *   8. the Pages dashboard project (create or reuse) and its deployment, skipped when unchanged likewise
 *   9. the first admin: created with a one-time login link when the remote D1 has no admin yet
 *
 * A second run finds everything and changes nothing. `--dry-run` needs no account and no network: it
 * prints the plan (every wrangler command it would run), writes the generated config and checks it with
 * `wrangler deploy --dry-run`. The pure parts (parsers, config generation, the plan) are exported and
 * tested in test/node/deploy.test.mjs with a scripted wrangler.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { insertLoginTokenSql, insertUserSql, loginUrl, newLoginToken, newUserId, normalizeEmail } from "./lib/users.mjs";
import { ROOT, runWrangler } from "./lib/wrangler.mjs";

export const DEFAULTS = Object.freeze({ prefix: "b2g", worker: "brain2gain-analytics", pages: "brain2gain-dashboard", location: "weur" });
/** Worker secrets the product needs on Cloudflare, with how to make a fresh one. */
export const REQUIRED_SECRETS = Object.freeze({ PII_KEY: () => randomBytes(32).toString("base64") });
export const GENERATED_CONFIG = join(".wrangler", "deploy", "wrangler.toml");
/** Where the Pages project's own generated wrangler.toml lives (its output dir points at dist/pages). */
export const PAGES_DIR = join(".wrangler", "deploy", "pages");

/** Resource names derived from the prefix (the local wrangler.toml uses prefix `b2g`). */
export function resourceNames(prefix) {
	if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(prefix)) throw new Error(`--prefix must be lowercase letters, digits and dashes (got '${prefix}')`);
	return {
		database: prefix,
		bucket: `${prefix}-archive`,
		// Workflow names are per account, like queues.
		workflow: `${prefix}-nightly`,
		queues: { events: `${prefix}-events`, dlq: `${prefix}-events-dlq`, imports: `${prefix}-imports`, alerts: `${prefix}-alert-deliveries` },
	};
}

// ── parsers of wrangler's output (kept lenient: wrangler's text tables change between versions) ────

/** The JSON document in a wrangler output that may start with warnings ("▲ [WARNING] …"): the first line-start `[`/`{` that parses to the end. */
export function jsonIn(stdout, fallback) {
	for (const m of stdout.matchAll(/^[[{]/gm)) {
		try {
			return JSON.parse(stdout.slice(m.index));
		} catch {
			/* a warning line that happens to start with a bracket: try the next */
		}
	}
	if (fallback !== undefined) return fallback;
	throw new Error(`no JSON in wrangler's output: ${stdout.slice(0, 300)}`);
}

/** `wrangler d1 list --json` → [{ name, uuid }]. */
export function parseD1List(stdout) {
	return jsonIn(stdout).map((d) => ({ name: d.name, uuid: d.uuid }));
}

/** The database id in `wrangler d1 create`'s output (a TOML or JSON snippet with database_id). */
export function parseD1Create(stdout) {
	const m = stdout.match(/"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/);
	if (!m) throw new Error(`could not find the new database's id in: ${stdout.slice(0, 300)}`);
	return m[1];
}

/** `wrangler r2 bucket list` → bucket names (lines `name: <bucket>`). */
export function parseBucketList(stdout) {
	return [...stdout.matchAll(/^name:\s+(\S+)\s*$/gm)].map((m) => m[1]);
}

/** `wrangler queues list` → queue names (the `name` column of its table). */
export function parseQueueList(stdout) {
	const names = [];
	for (const line of stdout.split("\n")) {
		const cells = line.split("│").map((c) => c.trim());
		// Table rows look like "│ <id> │ <name> │ <created> │ …"; ids are 32 hex.
		if (cells.length > 3 && /^[0-9a-f]{32}$/.test(cells[1])) names.push(cells[2]);
	}
	return names;
}

/** `wrangler pages project list --json` → project names. */
export function parsePagesList(stdout) {
	return jsonIn(stdout, []).map((p) => p["Project Name"] ?? p.name);
}

/** `wrangler secret list` (JSON) → secret names. */
export function parseSecretList(stdout) {
	return jsonIn(stdout, []).map((s) => s.name);
}

/** The message of the newest deployment in `wrangler deployments list --json`, or null. */
export function parseLatestDeploymentMessage(stdout) {
	const list = jsonIn(stdout, []);
	if (!list.length) return null;
	const newest = list.reduce((a, b) => (Date.parse(a.created_on ?? 0) >= Date.parse(b.created_on ?? 0) ? a : b));
	return newest.annotations?.["workers/message"] ?? null;
}

/** The workers.dev URL wrangler deploy printed, if any. */
export function parseDeployUrl(stdout) {
	return stdout.match(/https:\/\/[a-z0-9.-]+\.workers\.dev/)?.[0] ?? null;
}

// ── the generated config ─────────────────────────────────────────────────────────────────────────

/**
 * The repository's wrangler.toml made deployable: the real D1 id, the prefixed resource names, APP_URL,
 * and paths made relative to the generated file's directory (wrangler resolves them from the config).
 */
export function deployConfig(source, { databaseId, names, appUrl, worker, configDir = GENERATED_CONFIG.replace(/\/[^/]+$/, "") }) {
	const up = relative(configDir, ".") || ".";
	const rel = (p) => `${up}/${p.replace(/^\.\//, "")}`;
	let out = source;
	const swap = (re, value, what) => {
		if (!re.test(out)) throw new Error(`wrangler.toml has no ${what} to set`);
		out = out.replace(re, value);
	};
	swap(/^name = ".*"$/m, `name = "${worker}"`, "name");
	swap(/^main = "(.*)"$/m, (_, p) => `main = "${rel(p)}"`, "main");
	swap(/^directory = "(.*)"$/m, (_, p) => `directory = "${rel(p)}"`, "assets directory");
	swap(/^database_name = ".*"$/m, `database_name = "${names.database}"`, "database_name");
	swap(/^database_id = ".*"$/m, `database_id = "${databaseId}"`, "database_id");
	swap(/^migrations_dir = "(.*)"$/m, (_, p) => `migrations_dir = "${rel(p)}"`, "migrations_dir");
	swap(/^bucket_name = ".*"$/m, `bucket_name = "${names.bucket}"`, "bucket_name");
	swap(/^name = "b2g-nightly"$/m, `name = "${names.workflow}"`, "workflow name");
	const local = resourceNames("b2g").queues;
	for (const [k, name] of Object.entries(local)) out = out.replace(new RegExp(`"${name}"`, "g"), `"${names.queues[k]}"`);
	if (appUrl) swap(/^APP_URL = ".*"$/m, `APP_URL = "${appUrl}"`, "APP_URL");
	// Secrets come from `wrangler secret put`, never from the config: the local file's development values
	// (public in the repository) must not ship, and a var would shadow the secret of the same name.
	for (const name of Object.keys(REQUIRED_SECRETS)) out = out.replace(new RegExp(`^${name} = .*\\n`, "m"), `# ${name}: a Worker secret on Cloudflare (npm run deploy puts one when absent)\n`);
	return `# GENERATED by scripts/deploy.mjs from wrangler.toml: do not edit (edit wrangler.toml and rerun npm run deploy)\n${out}`;
}

/** web/pages/wrangler.toml for this deployment: the project name, the Worker it binds, dist/pages as its output. */
export function pagesConfig(source, { pages, worker }) {
	let out = source.replace(/^name = ".*"$/m, `name = "${pages}"`).replace(/^service = ".*"$/m, `service = "${worker}"`);
	out = out.replace(/^pages_build_output_dir = ".*"$/m, `pages_build_output_dir = "../../../dist/pages"`);
	return `# GENERATED by scripts/deploy.mjs from web/pages/wrangler.toml: do not edit\n${out}`;
}

/** A stable hash of what a deploy uploads: the Worker sources, the migrations, the built assets and the config. */
export function contentHash(paths, extra = "") {
	const h = createHash("sha256");
	const walk = (p) => {
		const st = statSync(p);
		if (st.isDirectory()) for (const f of readdirSync(p).sort()) walk(join(p, f));
		else h.update(`${relative(ROOT, p)}\0`).update(readFileSync(p));
	};
	for (const p of paths) walk(p);
	h.update(extra);
	return h.digest("hex").slice(0, 16);
}

// ── the plan ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Runs the deployment through `w(argv, opts) → Promise<{ stdout }>` (wrangler). With `dryRun`, read-only
 * look-ups are skipped too (no account), and every mutating command is only recorded in the plan.
 * Returns `{ plan: [{ step, action: "create"|"reuse"|"skip"|"run"|"would", detail, argv? }], urls, login }`.
 */
export async function deploy(opts, w, io = {}) {
	const { prefix = DEFAULTS.prefix, worker = DEFAULTS.worker, pages = DEFAULTS.pages, location = DEFAULTS.location, appUrl = null, adminEmail = null, dryRun = false } = opts;
	const names = resourceNames(prefix);
	const source = io.readConfig ? io.readConfig() : readFileSync(join(ROOT, "wrangler.toml"), "utf8");
	const writeConfig = io.writeConfig ?? ((text) => {
		mkdirSync(join(ROOT, ".wrangler", "deploy"), { recursive: true });
		writeFileSync(join(ROOT, GENERATED_CONFIG), text);
	});
	const hashes = io.hashes ?? (() => ({ worker: contentHash([join(ROOT, "workers"), join(ROOT, "migrations"), join(ROOT, "dist/web")], source), pages: contentHash([join(ROOT, "dist/pages")]) }));
	const writePagesConfig = io.writePagesConfig ?? ((text) => {
		mkdirSync(join(ROOT, PAGES_DIR), { recursive: true });
		writeFileSync(join(ROOT, PAGES_DIR, "wrangler.toml"), text);
	});
	const log = io.log ?? (() => {});
	const plan = [];
	const note = (step, action, detail, argv) => {
		plan.push({ step, action, detail, ...(argv ? { argv } : {}) });
		log(`${action.padEnd(6)} ${step}: ${detail}${argv ? `\n         $ wrangler ${argv.join(" ")}` : ""}`);
	};
	/** Mutating command: run it, or record it in a dry run. */
	const mutate = async (step, detail, argv, runOpts) => {
		if (dryRun) {
			note(step, "would", detail, argv);
			return { stdout: "" };
		}
		note(step, "create", detail, argv);
		return w(argv, runOpts);
	};
	const cfg = ["--config", GENERATED_CONFIG];

	// 2. D1
	let databaseId = "00000000-0000-4000-8000-000000000000";
	if (dryRun) note("d1", "would", `create the D1 database '${names.database}' unless it exists (wrangler d1 list --json)`, ["d1", "create", names.database, "--location", location]);
	else {
		const found = parseD1List((await w(["d1", "list", "--json"])).stdout).find((d) => d.name === names.database);
		if (found) {
			databaseId = found.uuid;
			note("d1", "reuse", `D1 '${names.database}' (${databaseId})`);
		} else databaseId = parseD1Create((await mutate("d1", `D1 database '${names.database}' in ${location}`, ["d1", "create", names.database, "--location", location])).stdout);
	}

	// 3. R2 and queues
	const buckets = dryRun ? null : parseBucketList((await w(["r2", "bucket", "list"])).stdout);
	if (buckets?.includes(names.bucket)) note("r2", "reuse", `R2 bucket '${names.bucket}'`);
	else await mutate("r2", `R2 bucket '${names.bucket}'`, ["r2", "bucket", "create", names.bucket]);
	const queues = dryRun ? null : parseQueueList((await w(["queues", "list"])).stdout);
	for (const q of Object.values(names.queues)) {
		if (queues?.includes(q)) note("queues", "reuse", `queue '${q}'`);
		else await mutate("queues", `queue '${q}'`, ["queues", "create", q]);
	}

	// 4. config
	const config = deployConfig(source, { databaseId, names, appUrl, worker });
	writeConfig(config);
	note("config", "run", `wrote ${GENERATED_CONFIG} (database ${databaseId}${appUrl ? `, APP_URL ${appUrl}` : ""})`);

	// 5. migrations: wrangler itself skips applied ones, so this is idempotent by construction.
	const migrate = ["d1", "migrations", "apply", "DB", "--remote", ...cfg];
	if (dryRun) note("migrations", "would", "apply unapplied D1 migrations remotely", migrate);
	else {
		const out = (await w(migrate)).stdout;
		note("migrations", /No migrations to apply/i.test(out) ? "reuse" : "run", /No migrations to apply/i.test(out) ? "no migrations to apply" : "applied pending migrations");
	}

	// 6. secrets
	const secrets = dryRun ? [] : parseSecretList((await w(["secret", "list", "--format", "json", ...cfg]).catch(() => ({ stdout: "[]" }))).stdout);
	for (const [name, make] of Object.entries(REQUIRED_SECRETS)) {
		if (secrets.includes(name)) note("secrets", "reuse", `secret ${name} is set`);
		else await mutate("secrets", `secret ${name} (generated; keep a copy in your password manager)`, ["secret", "put", name, ...cfg], { input: make() });
	}

	// 7. Worker
	const h = hashes();
	const message = `b2g ${h.worker}`;
	const deployed = dryRun ? null : parseLatestDeploymentMessage((await w(["deployments", "list", "--json", ...cfg]).catch(() => ({ stdout: "[]" }))).stdout);
	let workerUrl = null;
	if (deployed === message) note("worker", "reuse", `Worker '${worker}' already runs bundle ${h.worker}`);
	else {
		const out = await mutate("worker", `deploy Worker '${worker}' (bundle ${h.worker}; Durable Object migrations run with it)`, ["deploy", "--message", message, ...cfg]);
		workerUrl = parseDeployUrl(out.stdout);
	}
	if (dryRun) {
		// Offline check that the generated config builds: the same bundle a real deploy uploads.
		await w(["deploy", "--dry-run", "--outdir", join(".wrangler", "deploy", "bundle"), ...cfg]);
		note("worker", "run", "checked the generated config with wrangler deploy --dry-run");
	}

	// 8. Pages
	const projects = dryRun ? null : parsePagesList((await w(["pages", "project", "list", "--json"])).stdout);
	if (projects?.includes(pages)) note("pages", "reuse", `Pages project '${pages}'`);
	else await mutate("pages", `Pages project '${pages}'`, ["pages", "project", "create", pages, "--production-branch", "main"]);
	// Pages reads a wrangler.toml from its working directory: give it its own (the API service binding to
	// this Worker), never the Worker's, as scripts/build-pages.mjs does for npm run deploy:web.
	writePagesConfig(pagesConfig(io.readPagesConfig ? io.readPagesConfig() : readFileSync(join(ROOT, "web/pages/wrangler.toml"), "utf8"), { pages, worker }));
	const pagesMessage = `b2g ${h.pages}`;
	const pagesDeployed = dryRun ? null : (await w(["pages", "deployment", "list", "--project-name", pages, "--json"]).catch(() => ({ stdout: "[]" }))).stdout;
	let pagesUrl = `https://${pages}.pages.dev`;
	if (pagesDeployed?.includes(pagesMessage)) note("pages", "reuse", `Pages '${pages}' already serves build ${h.pages}`);
	else {
		const out = await mutate("pages", `deploy the dashboard to Pages '${pages}' (build ${h.pages})`, ["pages", "deploy", "--cwd", PAGES_DIR, "--project-name", pages, "--branch", "main", "--commit-message", pagesMessage]);
		pagesUrl = out.stdout.match(/https:\/\/[a-z0-9.-]+\.pages\.dev/)?.[0] ?? pagesUrl;
	}

	// 9. first admin
	let login = null;
	const origin = appUrl ?? pagesUrl;
	const admins = dryRun ? null : Number(d1Rows((await w(["d1", "execute", "DB", "--remote", "--json", "--command", "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND deleted_at IS NULL", ...cfg])).stdout)[0]?.n ?? 0);
	if (admins) note("admin", "reuse", `${admins} admin user(s) exist; make a login link with: npm run deploy -- --link --admin-email EMAIL`);
	else if (!adminEmail && dryRun) note("admin", "would", "look for an admin user; with none, --admin-email EMAIL creates one and prints its login link");
	else if (!adminEmail) note("admin", "skip", "no admin yet: rerun with --admin-email you@example.com to create one and print its login link");
	else {
		const id = newUserId();
		const t = newLoginToken();
		const sql = `${insertUserSql({ id, email: normalizeEmail(adminEmail), role: "admin" })}; ${insertLoginTokenSql({ hash: t.hash, userId: id })}`;
		await mutate("admin", `admin ${adminEmail}`, ["d1", "execute", "DB", "--remote", "--command", sql, ...cfg]);
		login = dryRun ? null : loginUrl(origin, t.token);
	}
	return { plan, urls: { worker: workerUrl, pages: pagesUrl, app: origin }, login };
}

/** Rows of the last statement in `wrangler d1 execute --json` output. */
function d1Rows(stdout) {
	return jsonIn(stdout, []).at(-1)?.results ?? [];
}

/** One-time login link for an existing admin (`--link`). */
async function linkFor(email, origin, w) {
	const e = normalizeEmail(email);
	const rows = d1Rows((await w(["d1", "execute", "DB", "--remote", "--json", "--command", `SELECT id FROM users WHERE email = '${e.replace(/'/g, "''")}' AND role = 'admin' AND deleted_at IS NULL AND disabled_at IS NULL`, "--config", GENERATED_CONFIG])).stdout);
	if (!rows.length) throw new Error(`no enabled admin '${e}' in the remote database`);
	const t = newLoginToken();
	await w(["d1", "execute", "DB", "--remote", "--command", insertLoginTokenSql({ hash: t.hash, userId: rows[0].id }), "--config", GENERATED_CONFIG]);
	return loginUrl(origin, t.token);
}

async function main() {
	const { values } = parseArgs({
		options: {
			"dry-run": { type: "boolean" },
			"admin-email": { type: "string" },
			prefix: { type: "string" },
			worker: { type: "string" },
			pages: { type: "string" },
			location: { type: "string" },
			"app-url": { type: "string" },
			link: { type: "boolean" },
			help: { type: "boolean", short: "h" },
		},
	});
	if (values.help) {
		console.log(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]);
		return;
	}
	const w = async (argv, opts = {}) => {
		const r = await runWrangler(argv, { timeoutMs: 600_000, ...opts });
		return { stdout: `${r.stdout}\n${r.stderr ?? ""}` };
	};
	if (values.link) {
		if (!values["admin-email"]) throw new Error("--link needs --admin-email");
		console.log(await linkFor(values["admin-email"], values["app-url"] ?? `https://${values.pages ?? DEFAULTS.pages}.pages.dev`, w));
		return;
	}
	const dryRun = Boolean(values["dry-run"]);
	console.log(`Deploying Brain2Gain Analytics to Cloudflare${dryRun ? " (dry run: no account needed, nothing is changed)" : ""}`);
	await runNpmBuild(dryRun);
	const result = await deploy(
		{ dryRun, adminEmail: values["admin-email"], prefix: values.prefix, worker: values.worker, pages: values.pages, location: values.location, appUrl: values["app-url"] },
		w,
		{ log: (line) => console.log(line) },
	);
	const changed = result.plan.filter((p) => p.action === "create").length;
	console.log(`\n${dryRun ? `${result.plan.filter((p) => p.action === "would").length} change(s) planned` : changed ? `${changed} change(s) made` : "nothing to change: everything is deployed"}`);
	if (!dryRun) {
		if (result.urls.worker) console.log(`Worker:    ${result.urls.worker}`);
		console.log(`Dashboard: ${result.urls.pages}`);
		if (result.login) console.log(`First admin login (one-time, 15 minutes): ${result.login}`);
	}
}

/** dist/web and dist/pages, which the Worker's assets and the Pages deployment upload. */
async function runNpmBuild(dryRun) {
	const { spawnSync } = await import("node:child_process");
	for (const argv of [["run", "build"], ["exec", "--", "node", "scripts/build-pages.mjs"]]) {
		const r = spawnSync("npm", argv, { cwd: ROOT, stdio: dryRun ? "ignore" : "inherit" });
		if (r.status !== 0) throw new Error(`npm ${argv.join(" ")} failed`);
	}
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	main().catch((err) => {
		console.error(`deploy: ${err.message}`);
		process.exit(1);
	});
}
