#!/usr/bin/env node
/**
 * `npm run connect -- shopify|woocommerce --file export.csv [--site SITE] [--url http://localhost:8787] [--key KEY] [--dry-run] [--out DIR]`
 *
 * Backfills a store's history from the platform's standard CSV order export: maps it with the connectors'
 * own mapping (workers/connectors/csv.ts, bundled here with esbuild, so the CLI and the webhooks cannot drift
 * apart: same order ids, same customer identity rule), then sends customers, orders (with their lines) and
 * refunds as NDJSON through the bulk import API (POST /api/v1/import/{entity}) and follows each job.
 * Rows that cannot be mapped are listed and skipped; the import reports its own rejects. A re-run changes
 * nothing (the import upserts by natural ids).
 *
 * --dry-run maps and prints the counts (with --out DIR it also writes DIR/<entity>.ndjson), sending nothing.
 * The key comes from --key or B2G_KEY (scopes ingest + read: `npm run key -- create --site demo --scopes ingest,read`).
 * Exit code: 0 when every job finished, 1 on any failure.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const usage = "usage: npm run connect -- shopify|woocommerce --file export.csv [--site SITE] [--url http://localhost:8787] [--key KEY] [--dry-run] [--out DIR]";

/** workers/connectors/csv.ts as an ES module (pure: no bindings, WebCrypto only). */
async function loadMapping() {
	const result = await build({ entryPoints: [join(ROOT, "workers/connectors/csv.ts")], bundle: true, write: false, format: "esm", platform: "neutral", target: "es2022", logLevel: "silent" });
	const code = result.outputFiles[0].text;
	return import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}

/** Streams NDJSON to the import API and follows the job; resolves with the finished job. */
async function importEntity(base, key, site, entity, records) {
	const body = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
	const query = new URLSearchParams({ format: "ndjson", ...(site ? { site } : {}) });
	const res = await fetch(`${base}/api/v1/import/${entity}?${query}`, { method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson" }, body });
	const created = await res.json().catch(() => ({}));
	if (res.status !== 202) throw new Error(`${entity}: the import was refused: ${res.status} ${created.error ?? ""} ${created.message ?? ""}${created.fields ? ` ${JSON.stringify(created.fields)}` : ""}`);
	for (;;) {
		const r = await fetch(`${base}${created.status_url}?rejects=20`, { headers: { Authorization: `Bearer ${key}` } });
		const job = await r.json();
		if (!r.ok) throw new Error(`${entity}: could not read job ${created.job}: ${r.status} ${job.message ?? ""}`);
		if (job.status === "failed") throw new Error(`${entity}: job ${job.job} failed: ${job.error}`);
		if (job.status === "done") return job;
		await new Promise((done) => setTimeout(done, 300));
	}
}

async function main() {
	const { values, positionals } = parseArgs({
		allowPositionals: true,
		options: { file: { type: "string" }, site: { type: "string" }, url: { type: "string", default: "http://localhost:8787" }, key: { type: "string" }, "dry-run": { type: "boolean" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
	});
	if (values.help) return console.log(usage);
	const platform = positionals[0];
	if (platform !== "shopify" && platform !== "woocommerce") throw new Error(`the platform must be shopify or woocommerce\n${usage}`);
	if (!values.file) throw new Error(`--file is required\n${usage}`);
	const { mapShopifyCsv, mapWooCsv } = await loadMapping();
	const text = readFileSync(values.file, "utf8");
	const mapped = await (platform === "shopify" ? mapShopifyCsv(text) : mapWooCsv(text));
	const entities = [
		["customers", mapped.customers],
		["orders", mapped.orders],
		["refunds", mapped.refunds],
	];
	console.error(`${values.file}: ${mapped.orders.length} orders, ${mapped.customers.length} customers, ${mapped.refunds.length} refunds; ${mapped.rejects.length} rows not mapped`);
	for (const r of mapped.rejects.slice(0, 20)) console.error(`  line ${r.line}: ${r.reason}`);
	if (values["dry-run"]) {
		if (values.out) {
			mkdirSync(values.out, { recursive: true });
			for (const [entity, records] of entities) writeFileSync(join(values.out, `${entity}.ndjson`), records.map((r) => JSON.stringify(r)).join("\n") + (records.length ? "\n" : ""));
			console.error(`wrote ${entities.map(([e]) => join(values.out, `${e}.ndjson`)).join(", ")}`);
		}
		return;
	}
	const key = values.key ?? process.env.B2G_KEY;
	if (!key) throw new Error("an API key with the ingest and read scopes is required: --key KEY or B2G_KEY=… (npm run key -- create --site demo --scopes ingest,read)");
	const base = values.url.replace(/\/+$/, "");
	let failedRows = 0;
	for (const [entity, records] of entities) {
		if (!records.length) continue;
		const job = await importEntity(base, key, values.site, entity, records);
		failedRows += job.rows_rejected;
		console.log(`${entity}: ${job.rows_ok} imported (${job.rows_changed} changed), ${job.rows_rejected} rejected`);
		for (const r of job.rejects ?? []) console.log(`  record ${r.line}: ${r.reason}`);
	}
	if (failedRows || mapped.rejects.length) console.log(`done, with ${mapped.rejects.length} rows not mapped and ${failedRows} records rejected`);
}

main().catch((err) => {
	console.error(`connect: ${err.message}`);
	process.exit(1);
});
