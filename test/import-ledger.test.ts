/**
 * The import's day ledger and archive step (issue 15 item 5): one LiveSite call per slice for all of its
 * days, nothing counted twice when a slice is redelivered or redone, and day objects built by SQLite that
 * hold exactly what the JS archive lines hold.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { processSlice } from "../workers/import/slice";
import { archiveImportJob, archiveLines, storeImported } from "../workers/pipeline/archive";
import { STORED_COLUMNS } from "../workers/pipeline/message";
import { primaryStub } from "../workers/realtime/shards";
import { ADMIN_KEY, getJson, readArchive, storedEvent, waitFor } from "./helpers";

const NOW = Date.UTC(2026, 10, 20, 12);

describe("import ledger", () => {
	it("countImported adds many days in one call; zero counts leave no row", async () => {
		const live = primaryStub(env, "demo");
		await live.countImported([
			["2024-02-01", 3],
			["2024-02-02", 0],
			["2024-02-03", 7],
		]);
		await live.countImported([["2024-02-01", 2]]);
		expect(await live.ledger("2024-02-01")).toEqual({ accepted: 0, rejected: 0, bot: 0, imported: 5 });
		expect(await live.ledger("2024-02-02")).toEqual({ accepted: 0, rejected: 0, bot: 0, imported: 0 });
		expect(await live.ledger("2024-02-03")).toEqual({ accepted: 0, rejected: 0, bot: 0, imported: 7 });
	});

	it("a redelivered slice and a slice redone from its offset count each imported event once per UTC day", async () => {
		const job = "00000000-0000-4000-8000-00000000ce01";
		const days = ["2024-03-01", "2024-03-02", "2024-03-03"];
		// 5, 3 and 1 events on the three days, in interleaved order.
		const perDay = [5, 3, 1];
		const lines = days.flatMap((day, d) => Array.from({ length: perDay[d] as number }, (_, i) => ({ id: `led-${d}-${i}`, name: "page_view", ts: Date.parse(`${day}T10:00:00Z`) + i * 60_000, url: "https://shop.example/", visitor_id: `lv-${i}` })));
		const text = `${lines
			.map((l, i) => ({ l, k: (i * 5) % lines.length }))
			.sort((a, b) => a.k - b.k)
			.map((x) => JSON.stringify(x.l))
			.join("\n")}\n`;
		const key = `imports/site=demo/${job}.ndjson`;
		await env.ARCHIVE.put(key, text);
		const bytes = new TextEncoder().encode(text).length;
		await env.DB.prepare("INSERT INTO import_jobs (id, site, entity, format, status, object_key, bytes_total, created_at, updated_at) VALUES (?, 'demo', 'events', 'ndjson', 'queued', ?, ?, ?, ?)")
			.bind(job, key, bytes, NOW, NOW)
			.run();
		const live = primaryStub(env, "demo");
		const imported = async () => Promise.all(days.map(async (d) => (await live.ledger(d)).imported));

		const first = await processSlice(env, { job, offset: 0 }, () => NOW);
		// The rows and the archive step fit one invocation: the job is done.
		expect(first).toMatchObject({ processed: true, done: true, finishedSite: "demo" });
		expect(await imported()).toEqual([5, 3, 1]);
		// Redelivered: bytes_done moved on, nothing happens.
		expect(await processSlice(env, { job, offset: 0 }, () => NOW)).toMatchObject({ processed: false });
		// Redone from offset 0 (as after a crash before the job row advanced): every row is already stored, none is new.
		await env.DB.prepare("UPDATE import_jobs SET status = 'running', bytes_done = 0, next_line = 1, rows_ok = 0, rows_changed = 0 WHERE id = ?").bind(job).run();
		await processSlice(env, { job, offset: 0 }, () => NOW + 1000);
		expect(await imported()).toEqual([5, 3, 1]);
		const row = await env.DB.prepare("SELECT status, rows_ok, rows_changed FROM import_jobs WHERE id = ?").bind(job).first();
		expect(row).toEqual({ status: "done", rows_ok: 9, rows_changed: 0 });
		// One object per day, holding that day's events once.
		for (const [d, day] of days.entries()) {
			const events = await readArchive(env.ARCHIVE, `raw/site=demo/dt=${day}/import-${job}.ndjson.gz`);
			expect(events.map((e) => e.id)).toEqual(Array.from({ length: perDay[d] as number }, (_, i) => `led-${d}-${i}`));
		}
	});

	it("the day objects' lines, built in SQL, are the stored rows exactly as the JS archive lines have them", async () => {
		const job = "00000000-0000-4000-8000-00000000ce02";
		const ts = Date.parse("2024-04-01T08:00:00Z");
		const events = [
			// Floats whose shortest form JS and a 15-digit printf disagree on, nested props, escapes and non-ASCII text.
			storedEvent({ id: "sql-1", ts, received_at: NOW, props: { value: 0.1 + 0.2, price: 49.9, big: 1e21, items: [{ sku: "A", qty: 2, price: 1 / 3 }] }, value_minor: 4990, currency: "EUR" }),
			storedEvent({ id: "sql-2", ts: ts + 1, received_at: NOW, url: 'https://shop.example/p/"caf\u00e9"?q=\u65e5\u672c', referrer: "tab\there\nnew line \\ back", city: "M\u00fcnchen \u{1F600}", props: {} }),
			storedEvent({ id: "sql-3", ts: ts + 2, received_at: NOW, customer_id: "c-9", order_id: "o-1", sku: "WHEY", props: { note: "\u0001control" } }),
		];
		await storeImported(env.DB, events, job);
		expect(await archiveImportJob(env.DB, env.ARCHIVE, "demo", job, NOW - 1, Date.now() + 10_000)).toEqual({ written: 1, remaining: false });
		const key = `raw/site=demo/dt=2024-04-01/import-${job}.ndjson.gz`;
		const rows = await env.DB.prepare(`SELECT ${STORED_COLUMNS.join(", ")} FROM events WHERE archive_key = ? ORDER BY ts, id`).bind(key).all<Record<string, unknown>>();
		const fromJs = archiveLines(rows.results).map((l) => JSON.parse(l) as Record<string, unknown>);
		const fromSql = await readArchive(env.ARCHIVE, key);
		expect(fromSql).toEqual(fromJs);
		// Same keys in the same order, and the values as sent.
		expect(fromSql.map((e) => Object.keys(e))).toEqual(fromJs.map((e) => Object.keys(e)));
		expect(fromSql[0]?.props).toEqual({ value: 0.30000000000000004, price: 49.9, big: 1e21, items: [{ sku: "A", qty: 2, price: 1 / 3 }] });
		expect(fromSql[1]).toMatchObject({ referrer: "tab\there\nnew line \\ back", city: "M\u00fcnchen \u{1F600}" });
		expect((await env.ARCHIVE.head(key))?.customMetadata).toMatchObject({ count: "3", dt: "2024-04-01" });
	});

	it("an events file longer than one slice's read goes on at the right byte and line; each event counted once", async () => {
		// ~4.9 MB: more than the 4 MiB an events slice reads at once. 2 days; line 30,001 is broken, line 30,002 blank.
		const day0 = Date.parse("2024-05-01T00:00:00Z");
		const pad = "p".repeat(100);
		const n = 32_000;
		const lines: string[] = [];
		for (let i = 0; i < n; i++) lines.push(JSON.stringify({ id: `big-${i}`, name: "page_view", ts: day0 + (i % 2) * 86_400_000 + i, url: `https://shop.example/${pad}`, visitor_id: `bv-${i % 97}` }));
		lines.splice(30_000, 0, "{broken", "");
		const text = `${lines.join("\n")}\n`;
		expect(text.length).toBeGreaterThan(4 * 1024 * 1024);
		const res = await exports.default.fetch("https://b2g.test/api/v1/import/events?site=demo&format=ndjson", { method: "POST", headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/x-ndjson" }, body: text });
		expect(res.status).toBe(202);
		const { job } = (await res.json()) as { job: string };
		const done = await waitFor(
			async () => {
				const { body } = await getJson<{ status: string; rows_ok: number; rows_rejected: number; rows_changed: number; rejects: { line: number }[] }>(`/api/v1/import/${job}?site=demo`);
				return body.status === "done" || body.status === "failed" ? body : undefined;
			},
			120_000,
			200,
		);
		expect(done).toMatchObject({ status: "done", rows_ok: n, rows_rejected: 1, rows_changed: n });
		expect(done.rejects.map((r) => r.line)).toEqual([30_001]);
		const stored = await env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM events WHERE site = 'demo' AND id LIKE 'big-%'").first();
		expect(stored).toEqual({ n, ids: n });
		const live = primaryStub(env, "demo");
		expect((await live.ledger("2024-05-01")).imported).toBe(n / 2);
		expect((await live.ledger("2024-05-02")).imported).toBe(n / 2);
		for (const day of ["2024-05-01", "2024-05-02"]) expect((await env.ARCHIVE.head(`raw/site=demo/dt=${day}/import-${job}.ndjson.gz`))?.customMetadata?.count).toBe(String(n / 2));
	}, 150_000);
});
