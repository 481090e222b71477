#!/usr/bin/env node
/**
 * `npm run import -- --entity orders --file orders.csv [--url http://localhost:8787] [--key KEY] [--site SITE] [--format csv|ndjson]`
 *
 * Streams a CSV or NDJSON file to POST /api/v1/import/{entity} (never reading it whole), then follows
 * the job with a progress bar until it is done, and prints the rejected-row report. The key comes from
 * --key or the B2G_KEY environment variable (make one with `npm run key -- create --site demo --scopes ingest,read`).
 * Exit code: 0 when the job finished (rejected rows are reported, not fatal), 1 on any failure.
 */
import { createReadStream, statSync } from "node:fs";
import { extname } from "node:path";
import { Readable, Transform } from "node:stream";
import { parseArgs } from "node:util";

const usage = "usage: npm run import -- --entity ENTITY --file PATH [--url http://localhost:8787] [--key KEY] [--site SITE] [--format csv|ndjson]";

function bar(fraction, width = 30) {
	const f = Math.max(0, Math.min(1, fraction));
	const full = Math.round(f * width);
	return `[${"#".repeat(full)}${".".repeat(width - full)}] ${(f * 100).toFixed(1).padStart(5)}%`;
}

async function main() {
	const { values } = parseArgs({
		options: { entity: { type: "string" }, file: { type: "string" }, url: { type: "string", default: "http://localhost:8787" }, key: { type: "string" }, site: { type: "string" }, format: { type: "string" }, help: { type: "boolean", short: "h" } },
	});
	if (values.help) return console.log(usage);
	if (!values.entity || !values.file) throw new Error(`--entity and --file are required\n${usage}`);
	const key = values.key ?? process.env.B2G_KEY;
	if (!key) throw new Error("an API key with the ingest and read scopes is required: --key KEY or B2G_KEY=… (npm run key -- create --site demo --scopes ingest,read)");
	const format = values.format ?? ({ ".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson" }[extname(values.file).toLowerCase()] ?? "");
	if (format !== "csv" && format !== "ndjson") throw new Error("cannot tell the format from the file name: pass --format csv|ndjson");
	const size = statSync(values.file).size;
	const base = values.url.replace(/\/+$/, "");
	const query = new URLSearchParams({ format, ...(values.site ? { site: values.site } : {}) });
	const tty = process.stderr.isTTY;
	const show = (line, final = false) => (tty ? process.stderr.write(`\r${line}${final ? "\n" : ""}`) : final && process.stderr.write(`${line}\n`));

	let sent = 0;
	const counter = new Transform({
		transform(chunk, _enc, cb) {
			sent += chunk.length;
			show(`uploading  ${bar(sent / size)} ${(sent / 1e6).toFixed(1)} / ${(size / 1e6).toFixed(1)} MB`);
			cb(null, chunk);
		},
	});
	const headers = { Authorization: `Bearer ${key}`, "Content-Type": format === "csv" ? "text/csv" : "application/x-ndjson", "Content-Length": String(size) };
	const started = Date.now();
	const res = await fetch(`${base}/api/v1/import/${encodeURIComponent(values.entity)}?${query}`, {
		method: "POST",
		headers,
		body: Readable.toWeb(createReadStream(values.file).pipe(counter)),
		duplex: "half",
	});
	const created = await res.json().catch(() => ({}));
	show(`uploading  ${bar(1)} ${(size / 1e6).toFixed(1)} MB`, true);
	if (res.status !== 202) throw new Error(`the import was refused: ${res.status} ${created.error ?? ""} ${created.message ?? ""}${created.fields ? ` ${JSON.stringify(created.fields)}` : ""}`);
	console.error(`job ${created.job} (${created.entity}, ${created.format}, ${created.bytes} bytes)`);

	let job;
	for (;;) {
		const r = await fetch(`${base}${created.status_url}?rejects=20`, { headers: { Authorization: `Bearer ${key}` } });
		job = await r.json();
		if (!r.ok) throw new Error(`could not read the job: ${r.status} ${job.message ?? ""}`);
		show(`processing ${bar(job.progress)} ${job.rows_ok} ok, ${job.rows_rejected} rejected`);
		if (job.status === "done" || job.status === "failed") break;
		await new Promise((r) => setTimeout(r, 500));
	}
	show(`processing ${bar(job.status === "done" ? 1 : job.progress)} ${job.rows_ok} ok, ${job.rows_rejected} rejected`, true);
	const secs = (Date.now() - started) / 1000;
	if (job.status === "failed") throw new Error(`job ${job.job} failed: ${job.error}`);
	console.log(`done in ${secs.toFixed(1)} s: ${job.rows_ok} rows imported (${job.rows_changed} rows changed), ${job.rows_rejected} rejected — ${Math.round((job.rows_ok + job.rows_rejected) / secs)} rows/s`);
	if (job.rejects.length) {
		console.log(`rejected rows (first ${job.rejects.length}; GET ${created.status_url}?rejects=1000 for more):`);
		for (const r of job.rejects) console.log(`  line ${r.line}: ${r.reason}`);
	}
}

main().catch((err) => {
	if (process.stderr.isTTY) process.stderr.write("\n");
	console.error(`import: ${err.message}`);
	process.exit(1);
});
