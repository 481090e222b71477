/**
 * scripts/deploy.mjs against a scripted wrangler that keeps an account's state in memory: the first run
 * creates every resource, the second finds them all and changes nothing; the generated config carries the
 * real ids and names; the parsers read wrangler's actual output formats. (No Cloudflare account here: the
 * real commands are exercised by `npm run deploy -- --dry-run` in .ci/run.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { deploy, deployConfig, pagesConfig, parseBucketList, parseD1Create, parseD1List, parseLatestDeploymentMessage, parseQueueList, parseSecretList, resourceNames } from "../../scripts/deploy.mjs";

const source = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
const pagesSource = readFileSync(new URL("../../web/pages/wrangler.toml", import.meta.url), "utf8");
const DB_ID = "0f3c2a9e-1111-4d2b-9a55-5c7b0e6d9a10";

/** An in-memory Cloudflare account driven by wrangler argv, printing what wrangler 4 prints. */
function fakeAccount() {
	const state = { d1: [], buckets: [], queues: [], secrets: [], deployments: [], pages: [], pagesDeployments: [], admins: 0, applied: 0, calls: [] };
	const w = async (argv, opts = {}) => {
		state.calls.push(argv.join(" "));
		const [a, b, c] = argv;
		const has = (flag) => argv.includes(flag);
		const after = (flag) => argv[argv.indexOf(flag) + 1];
		if (a === "d1" && b === "list") return { stdout: JSON.stringify(state.d1.map((name) => ({ uuid: DB_ID, name, created_at: "2026-12-01T00:00:00Z" }))) };
		if (a === "d1" && b === "create") {
			state.d1.push(c);
			return { stdout: `✅ Successfully created DB '${c}' in region WEUR\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "${c}"\ndatabase_id = "${DB_ID}"\n` };
		}
		if (a === "r2" && c === "list") return { stdout: state.buckets.map((n) => `name:           ${n}\ncreation_date:  2026-12-01T00:00:00.000Z\n`).join("\n") };
		if (a === "r2" && c === "create") return state.buckets.push(argv[3]), { stdout: `Created bucket '${argv[3]}'` };
		if (a === "queues" && b === "list") {
			const rows = state.queues.map((n, i) => `│ ${String(i).repeat(32).slice(0, 32).replace(/\d/g, "a")} │ ${n} │ 2026-12-01 │ 2026-12-01 │ 0 │ 0 │`);
			return { stdout: `┌──────┬──────┐\n│ id │ name │ created_on │ modified_on │ producers │ consumers │\n├─────┤\n${rows.join("\n")}\n└──────┘` };
		}
		if (a === "queues" && b === "create") return state.queues.push(c), { stdout: `Created queue ${c}.` };
		if (a === "d1" && b === "migrations") {
			const out = state.applied ? "✅ No migrations to apply!" : "Migrations to be applied: 0000_init.sql …";
			state.applied = 1;
			return { stdout: out };
		}
		if (a === "secret" && b === "list") return { stdout: JSON.stringify(state.secrets.map((name) => ({ name, type: "secret_text" }))) };
		if (a === "secret" && b === "put") {
			assert.ok(opts.input && Buffer.from(opts.input, "base64").length === 32, "a 32-byte key on stdin, not on the command line");
			return state.secrets.push(c), { stdout: "✨ Success! Uploaded secret" };
		}
		if (a === "deployments") return { stdout: JSON.stringify(state.deployments.map((m, i) => ({ id: `d${i}`, created_on: new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString(), annotations: { "workers/message": m } }))) };
		if (a === "deploy" && has("--dry-run")) return { stdout: "--dry-run: exiting now." };
		if (a === "deploy") return state.deployments.push(after("--message")), { stdout: "Deployed brain2gain-analytics triggers\n  https://brain2gain-analytics.acme.workers.dev\n" };
		if (a === "pages" && b === "project" && c === "list") return { stdout: JSON.stringify(state.pages.map((n) => ({ "Project Name": n, "Project Domains": `${n}.pages.dev` }))) };
		if (a === "pages" && b === "project" && c === "create") return state.pages.push(argv[3]), { stdout: "Successfully created the project" };
		if (a === "pages" && b === "deployment") return { stdout: JSON.stringify(state.pagesDeployments.map((m) => ({ Source: m }))) };
		if (a === "pages" && b === "deploy") return state.pagesDeployments.push(after("--commit-message")), { stdout: "✨ Deployment complete! Take a peek over at https://0a1b2c3d.brain2gain-dashboard.pages.dev" };
		if (a === "d1" && b === "execute" && /COUNT\(\*\)/.test(after("--command"))) return { stdout: JSON.stringify([{ results: [{ n: state.admins }], success: true }]) };
		if (a === "d1" && b === "execute") {
			assert.match(after("--command"), /^INSERT INTO users .*'admin'.*; INSERT INTO login_tokens/);
			state.admins += 1;
			return { stdout: "executed" };
		}
		throw new Error(`unexpected wrangler ${argv.join(" ")}`);
	};
	return { state, w };
}

const io = (written) => ({
	readConfig: () => source,
	readPagesConfig: () => pagesSource,
	writeConfig: (t) => (written.config = t),
	writePagesConfig: (t) => (written.pages = t),
	hashes: () => ({ worker: "aaaa1111bbbb2222", pages: "cccc3333dddd4444" }),
});

test("first run creates everything, second run changes nothing", async () => {
	const { state, w } = fakeAccount();
	const written = {};
	const first = await deploy({ adminEmail: "Owner@Example.com" }, w, io(written));
	const created = first.plan.filter((p) => p.action === "create").map((p) => p.step);
	assert.deepEqual(created, ["d1", "r2", "queues", "queues", "queues", "queues", "secrets", "worker", "pages", "pages", "admin"]);
	assert.deepEqual(state.queues, ["b2g-events", "b2g-events-dlq", "b2g-imports", "b2g-alert-deliveries"]);
	assert.equal(first.urls.worker, "https://brain2gain-analytics.acme.workers.dev");
	assert.equal(first.urls.pages, "https://0a1b2c3d.brain2gain-dashboard.pages.dev");
	assert.match(first.login, /^https:\/\/0a1b2c3d\.brain2gain-dashboard\.pages\.dev\/login\?token=[A-Za-z0-9_-]{43}$/);
	assert.match(written.config, new RegExp(`database_id = "${DB_ID}"`));

	const callsBefore = state.calls.length;
	const second = await deploy({ adminEmail: "owner@example.com" }, w, io({}));
	assert.deepEqual(second.plan.filter((p) => p.action === "create"), [], "nothing created or deployed again");
	assert.equal(second.login, null);
	const secondCalls = state.calls.slice(callsBefore);
	assert.ok(secondCalls.every((c) => !/ create |^deploy |secret put|pages deploy |INSERT/.test(c)), secondCalls.join("\n"));
	assert.equal(state.deployments.length, 1);
	assert.equal(state.admins, 1);

	// A changed bundle deploys again, and only the Worker.
	const third = await deploy({}, w, { ...io({}), hashes: () => ({ worker: "eeee5555ffff6666", pages: "cccc3333dddd4444" }) });
	assert.deepEqual(third.plan.filter((p) => p.action === "create").map((p) => p.step), ["worker"]);
});

test("a dry run needs no account: look-ups skipped, every change listed, the config checked", async () => {
	const calls = [];
	const w = async (argv) => {
		calls.push(argv.join(" "));
		if (argv[0] === "deploy" && argv.includes("--dry-run")) return { stdout: "" };
		throw new Error(`a dry run must not call wrangler ${argv.join(" ")}`);
	};
	const written = {};
	const r = await deploy({ dryRun: true, adminEmail: "a@b.co", prefix: "acme" }, w, io(written));
	assert.deepEqual(calls, ["deploy --dry-run --outdir .wrangler/deploy/bundle --config .wrangler/deploy/wrangler.toml"]);
	const would = r.plan.filter((p) => p.action === "would").map((p) => p.argv.slice(0, 3).join(" "));
	assert.ok(would.includes("d1 create acme") && would.includes("r2 bucket create") && would.includes("queues create acme-events-dlq"), would.join("\n"));
	assert.match(written.config, /bucket_name = "acme-archive"/);
	assert.match(written.config, /queue = "acme-imports"/);
	assert.doesNotMatch(written.config, /"b2g-/);
});

test("generated configs: real ids and names, paths relative to .wrangler/deploy", () => {
	const cfg = deployConfig(source, { databaseId: DB_ID, names: resourceNames("shop1"), appUrl: "https://analytics.shop1.com", worker: "shop1-analytics" });
	assert.match(cfg, /^name = "shop1-analytics"$/m);
	assert.match(cfg, /^main = "\.\.\/\.\.\/workers\/index\.ts"$/m);
	assert.match(cfg, /^directory = "\.\.\/\.\.\/dist\/web"$/m);
	assert.match(cfg, /^migrations_dir = "\.\.\/\.\.\/migrations"$/m);
	assert.match(cfg, /^database_name = "shop1"$/m);
	assert.match(cfg, /^APP_URL = "https:\/\/analytics\.shop1\.com"$/m);
	for (const q of ["shop1-events", "shop1-events-dlq", "shop1-imports", "shop1-alert-deliveries"]) assert.match(cfg, new RegExp(`queue = "${q}"`));
	assert.match(cfg, /dead_letter_queue = "shop1-events-dlq"/);
	// The repository's development PII key never ships: the secret is put separately.
	assert.match(source, /^PII_KEY = /m);
	assert.doesNotMatch(cfg, /^PII_KEY\s*=/m);
	const pages = pagesConfig(pagesSource, { pages: "shop1-dash", worker: "shop1-analytics" });
	assert.match(pages, /^name = "shop1-dash"$/m);
	assert.match(pages, /^service = "shop1-analytics"$/m);
	assert.throws(() => resourceNames("Bad_Name"), /--prefix/);
});

test("parsers read wrangler's output formats", () => {
	assert.deepEqual(parseD1List('▲ [WARNING] x\n[{"uuid":"u1","name":"b2g","version":"production"}]'), [{ name: "b2g", uuid: "u1" }]);
	assert.equal(parseD1Create(`[[d1_databases]]\nbinding = "DB"\ndatabase_name = "b2g"\ndatabase_id = "${DB_ID}"`), DB_ID);
	assert.equal(parseD1Create(`{ "d1_databases": [{ "binding": "DB", "database_name": "b2g", "database_id": "${DB_ID}" }] }`), DB_ID);
	assert.throws(() => parseD1Create("error"), /could not find/);
	assert.deepEqual(parseBucketList("Listing buckets...\nname:           b2g-archive\ncreation_date:  2026-01-01\n\nname:           other\ncreation_date:  x\n"), ["b2g-archive", "other"]);
	assert.deepEqual(parseQueueList(`│ id │ name │\n│ ${"0123456789abcdef".repeat(2)} │ b2g-events │ 2026 │`), ["b2g-events"]);
	assert.deepEqual(parseSecretList('[{"name":"PII_KEY","type":"secret_text"}]'), ["PII_KEY"]);
	assert.equal(parseLatestDeploymentMessage(JSON.stringify([{ created_on: "2026-12-02T00:00:00Z", annotations: { "workers/message": "new" } }, { created_on: "2026-12-01T00:00:00Z", annotations: { "workers/message": "old" } }])), "new");
	assert.equal(parseLatestDeploymentMessage("[]"), null);
});
