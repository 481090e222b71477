/**
 * GDPR erasure and export (issue 14, item 10): erase a customer with orders, events in D1 and archive
 * objects, then search every D1 table (listed from sqlite_master) and every R2 object (listed, gz
 * decompressed) for their identifiers: none remain. Revenue KPIs do not move, the reconciliation still
 * holds (with the erased events counted), a bystander keeps everything, and a repeat changes nothing.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createKey } from "../workers/auth/keys";
import { refreshRollups } from "../workers/metrics/rollup";
import { pruneImportFiles, releaseImportFile } from "../workers/privacy/import-files";
import { mentions, scrubHtml, scrubJson } from "../workers/privacy/scrub";
import { api, BROWSER_UA, getJson, listKeys, postEvents, readArchive, waitFor } from "./helpers";

const SITE = "gdpr";
const ID = "gdpr-zelda-7f3a";
const EMAIL = "Zelda.Quixote@Example.org";
const NAME = "Zelda Quixote";
const BYSTANDER = "gdpr-bob-91c2";
const BOB_EMAIL = "bob.keeps@example.net";
const TODAY = new Date().toISOString().slice(0, 10);
const ZELDA_IP = "198.51.100.23";
const BOB_IP = "198.51.100.99";

const ok = async (method: string, path: string, body?: unknown) => {
	const res = await api(method, path, body);
	expect(res.status, await res.clone().text()).toBeLessThan(300);
	return res.json() as Promise<Record<string, unknown>>;
};

let n = 0;
const ev = (name: string, extra: Record<string, unknown> = {}) => ({ id: crypto.randomUUID(), name, ts: Date.now() - 60_000 + n++, url: `https://shop.example/p/${n}`, referrer: "", props: {}, ...extra });
const send = async (ip: string, events: unknown[]) => {
	const res = await postEvents({ site: SITE, events }, { "CF-Connecting-IP": ip, "User-Agent": BROWSER_UA });
	expect(res.status, await res.clone().text()).toBe(202);
};

/** Every text value of every D1 table (from sqlite_master), as `table.column = value` lines. */
async function allD1Text(): Promise<string[]> {
	const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>();
	const out: string[] = [];
	for (const { name } of tables.results) {
		const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all<Record<string, unknown>>();
		for (const row of rows.results) for (const [col, v] of Object.entries(row)) if (typeof v === "string") out.push(`${name}.${col} = ${v}`);
	}
	expect(tables.results.length).toBeGreaterThan(40); // really every table
	return out;
}

/** Every R2 object's text (gzip objects decompressed), as `key: text`. */
async function allR2Text(): Promise<string[]> {
	const out: string[] = [];
	for (const key of await listKeys(env.ARCHIVE, "")) {
		const obj = await env.ARCHIVE.get(key);
		if (!obj) continue;
		const text = key.endsWith(".gz") ? await new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text() : await obj.text();
		out.push(`${key}: ${text}`);
	}
	return out;
}

const mentionsZelda = (line: string) => line.includes(ID) || line.toLowerCase().includes(EMAIL.toLowerCase()) || line.includes(NAME);

const salesTotals = async () => {
	await refreshRollups(env, SITE);
	return env.DB.prepare("SELECT COALESCE(SUM(orders), 0) AS orders, COALESCE(SUM(revenue), 0) AS revenue FROM kpi_sales_daily WHERE site = ? AND channel = '' AND country = ''").bind(SITE).first<{ orders: number; revenue: number }>();
};

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(SITE, SITE).run();

	// Zelda arrives through the bulk import (a raw file in R2 with her email), Bob through the upsert API.
	const csv = `customer_id,created_at,email,name,country\n${ID},2026-01-05,${EMAIL},${NAME},ES\n`;
	const res = await api("POST", `/api/v1/import/customers?site=${SITE}&format=csv`, csv);
	expect(res.status, await res.clone().text()).toBe(202);
	const job = ((await res.json()) as { job: string }).job;
	await waitFor(async () => (await getJson<{ status: string }>(`/api/v1/import/${job}?site=${SITE}`)).body.status === "done");
	await ok("PUT", `/api/v1/customers?site=${SITE}`, { customer_id: BYSTANDER, created_at: "2026-01-06", email: BOB_EMAIL, name: "Bob Keeps", country: "FR" });

	// Orders placed today (so they are in today's rollups): Zelda 2 (one with a refund and a ticket), Bob 1.
	const at = new Date(Date.now() - 3_600_000).toISOString();
	await ok("PUT", `/api/v1/orders?site=${SITE}`, [
		{ order_id: "g-o1", customer_id: ID, placed_at: at, total: 50, tax: 10, currency: "EUR", items: [{ sku: "WHEY", qty: 2, unit_price: 25 }] },
		{ order_id: "g-o2", customer_id: ID, placed_at: at, total: 30, currency: "EUR", items: [{ sku: "BAR", qty: 3, unit_price: 10 }] },
		{ order_id: "g-o3", customer_id: BYSTANDER, placed_at: at, total: 20, currency: "EUR", items: [{ sku: "BAR", qty: 2, unit_price: 10 }] },
	]);
	await ok("PUT", `/api/v1/refunds?site=${SITE}`, { refund_id: "g-r1", order_id: "g-o2", created_at: at, amount: 10, currency: "EUR", reason: "damaged" });
	await ok("PUT", `/api/v1/tickets?site=${SITE}`, { ticket_id: "g-t1", customer_id: ID, opened_at: at, category: "delivery" });

	// Events through /e: Zelda browses anonymously, then identified (same IP and UA: the same cookieless
	// visitor), then one event whose URL carries her email; Bob browses identified from elsewhere.
	await send(ZELDA_IP, [ev("page_view"), ev("product_view", { props: { sku: "WHEY" } })]);
	await send(ZELDA_IP, [ev("page_view", { customer_id: ID }), ev("add_to_cart", { customer_id: ID, props: { sku: "WHEY" } })]);
	await send(ZELDA_IP, [ev("page_view", { customer_id: ID, url: `https://shop.example/account?email=${encodeURIComponent(EMAIL)}` })]);
	await send(BOB_IP, [ev("page_view", { customer_id: BYSTANDER }), ev("page_view", { customer_id: BYSTANDER })]);
	// Stored and archived: 7 events in D1, all stamped.
	await waitFor(async () => {
		const r = await env.DB.prepare("SELECT COUNT(*) AS n, SUM(archived_at IS NULL) AS pending FROM events WHERE site = ?").bind(SITE).first<{ n: number; pending: number }>();
		return r?.n === 7 && r.pending === 0;
	}, 30_000);

	// What other writers leave in R2 and D1 about her (written here as those modules write them):
	// a parked dead letter, a nightly snapshot and model artefact, an archived report, nightly rows, an old audit row.
	const put = (key: string, body: string, type = "application/json") => env.ARCHIVE.put(key, body, { httpMetadata: { contentType: type } });
	await put(`dead-letter/site=${SITE}/m-zelda.json`, JSON.stringify({ message_id: "m-zelda", body: { v: 1, event: { site: SITE, customer_id: ID, name: "page_view" } } }));
	await put(`dead-letter/site=${SITE}/m-bob.json`, JSON.stringify({ message_id: "m-bob", body: { v: 1, event: { site: SITE, customer_id: BYSTANDER, name: "page_view" } } }));
	await put(
		`analytics/site=${SITE}/as_of=${TODAY}/results.json`,
		JSON.stringify({ site: SITE, results: { top_customers: [{ customer_id: ID, clv: 120 }, { customer_id: BYSTANDER, clv: 40 }], by_customer: { [ID]: { segment: "Champions" }, [BYSTANDER]: { segment: "Loyal" } } } }),
	);
	await put(`models/site=${SITE}/name=churn/v=1.json`, JSON.stringify({ trained_on: [ID, BYSTANDER], weights: [0.5, 0.25] }));
	await put(`reports/site=${SITE}/kind=daily/subject=site/period=${TODAY}.html`, `<p>Top customer: ${NAME} &lt;${EMAIL.toLowerCase()}&gt; (${ID})</p><p>Then ${BYSTANDER}</p>`, "text/html");
	await env.DB.batch([
		env.DB.prepare("INSERT INTO rfm_scores (site, as_of, customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) VALUES (?1, ?2, ?3, 1, 2, 7000, 5, 4, 4, 'Champions'), (?1, ?2, ?4, 1, 1, 2000, 5, 1, 2, 'New')").bind(SITE, TODAY, ID, BYSTANDER),
		env.DB.prepare("INSERT INTO analytics_results (site, as_of, kind, json, created_at) VALUES (?1, ?2, 'clv:top', ?3, 0)").bind(SITE, TODAY, JSON.stringify([{ customer_id: ID, clv_minor: 12000 }, { customer_id: BYSTANDER, clv_minor: 4000 }])),
		env.DB.prepare("INSERT INTO audit_log (at, actor_kind, actor_id, actor_label, role, scopes, method, path, query, site, status, duration_ms, ip) VALUES (1, 'key', 'k', 'old row', NULL, '[]', 'GET', ?1, ?2, ?3, 200, 1, 'unknown')").bind(
			`/api/v1/customers/${ID}`,
			`site=${SITE}&q=${encodeURIComponent(EMAIL)}`,
			SITE,
		),
	]);
}, 120_000);

describe("GDPR export", () => {
	it("returns everything held on a customer as JSON, PII decrypted", async () => {
		const x = await ok("GET", `/api/v1/customers/${ID}/export?site=${SITE}`);
		expect(x.pii).toEqual({ email: EMAIL, name: NAME });
		expect(x.record).toMatchObject({ customer_id: ID, country: "ES" });
		expect((x.orders as { order_id: string }[]).map((o) => o.order_id)).toEqual(["g-o1", "g-o2"]);
		expect((x.order_items as { order_id: string; sku: string; qty: number }[]).map((i) => [i.order_id, i.sku, i.qty])).toEqual([["g-o1", "WHEY", 2], ["g-o2", "BAR", 3]]);
		expect((x.refunds as { refund_id: string; amount_minor: number }[]).map((r) => [r.refund_id, r.amount_minor])).toEqual([["g-r1", 1000]]);
		expect((x.tickets as { ticket_id: string }[]).map((t) => t.ticket_id)).toEqual(["g-t1"]);
		// 2 anonymous events of her visitor + 3 identified ones; Bob's 2 are not hers.
		expect((x.events as unknown[]).length).toBe(5);
		expect(x.events_truncated).toBe(false);
		expect((x.analytics as { rfm_scores: { segment: string }[] }).rfm_scores.map((r) => r.segment)).toEqual(["Champions"]);
	});

	it("is for admins only, and 404 for an unknown customer", async () => {
		const reader = await createKey(env.DB, { name: "reader", scopes: ["read"], site: null });
		expect((await api("GET", `/api/v1/customers/${ID}/export?site=${SITE}`, undefined, reader.secret)).status).toBe(403);
		expect((await api("DELETE", `/api/v1/customers/${ID}?site=${SITE}`, undefined, reader.secret)).status).toBe(403);
		const res = await api("GET", `/api/v1/customers/nobody-here/export?site=${SITE}`);
		expect(res.status).toBe(404);
		expect(((await res.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("id");
	});
});

describe("GDPR erasure", () => {
	it("removes the customer from every D1 table and every R2 object; business totals and reconciliation hold", async () => {
		// The raw import file went when its job finished (item 11): R2 has none left for the erasure.
		expect(await listKeys(env.ARCHIVE, `imports/site=${SITE}/`)).toEqual([]);
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM import_jobs WHERE site = ? AND file_deleted_at IS NOT NULL").bind(SITE).first<{ n: number }>())?.n).toBe(1);

		// Before: her identifiers are in D1 (events, orders, …) and R2 (archive objects, documents).
		expect((await allD1Text()).filter(mentionsZelda).length).toBeGreaterThan(5);
		const rawKeys = await listKeys(env.ARCHIVE, `raw/site=${SITE}/`);
		expect((await allR2Text()).filter(mentionsZelda).length).toBeGreaterThan(3);
		const totalsBefore = await salesTotals();
		// Hand-computed: revenue = Σ(total − tax) = (50 − 10) + 30 + 20 = 90 EUR = 9000 minor, 3 orders.
		expect(totalsBefore).toEqual({ orders: 3, revenue: 9000 });

		const res = await api("DELETE", `/api/v1/customers/${ID}?site=${SITE}`);
		expect(res.status, await res.clone().text()).toBe(200);
		const summary = (await res.json()) as Record<string, unknown>;
		expect(summary).toMatchObject({ site: SITE, already_erased: false, events_erased: 5, documents_deleted: 1, import_files_deleted: 0 });
		expect(summary.pseudonym).toMatch(/^erased-[0-9a-f]{24}$/);
		expect((summary.archive_objects_rewritten as number) + (summary.archive_objects_deleted as number)).toBeGreaterThanOrEqual(1);
		expect(summary.documents_rewritten).toBe(3); // the snapshot, the model artefact, the report
		expect(summary.d1_rows).toMatchObject({ orders: 2, tickets: 1, customers: 1, customer_pii: 1, rfm_scores: 1, analytics_results: 1, audit_log: 1 });

		// Wait for the erasure's own audit row (written after the response), so it is searched too.
		await waitFor(async () => (await env.DB.prepare("SELECT 1 AS x FROM audit_log WHERE method = 'DELETE' AND site = ?").bind(SITE).first()) ?? undefined);

		// After: nothing in any D1 table, nothing in any R2 object.
		const d1 = await allD1Text();
		expect(d1.filter(mentionsZelda)).toEqual([]);
		const r2 = await allR2Text();
		expect(r2.filter(mentionsZelda)).toEqual([]);
		expect(d1.some((l) => l.includes(BYSTANDER))).toBe(true);
		expect(r2.filter((l) => l.includes(BYSTANDER)).length).toBeGreaterThanOrEqual(4); // his events, dead letter, snapshot, model, report

		// Her events are gone from D1 and the archive; each raw object's count metadata is its line count.
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site = ?").bind(SITE).first<{ n: number }>())?.n).toBe(2);
		let archived = 0;
		for (const key of await listKeys(env.ARCHIVE, `raw/site=${SITE}/`)) {
			const head = await env.ARCHIVE.head(key);
			const lines = await readArchive(env.ARCHIVE, key);
			expect(Number(head?.customMetadata?.count), key).toBe(lines.length);
			archived += lines.length;
		}
		expect(archived).toBe(2);
		expect(rawKeys.length).toBeGreaterThanOrEqual(1);

		// Orders stay, under the pseudonym: revenue and order counts do not move.
		expect(await salesTotals()).toEqual(totalsBefore);
		expect((await env.DB.prepare("SELECT customer_id FROM orders WHERE order_id IN ('g-o1', 'g-o2')").all()).results).toEqual([{ customer_id: summary.pseudonym }, { customer_id: summary.pseudonym }]);

		// Reconciliation: accepted 7 = stored 2 + erased 5; archived 2 = stored 2.
		const { body: health } = await getJson<Record<string, unknown>>(`/api/v1/health/pipeline?site=${SITE}&date=${TODAY}`);
		expect(health).toMatchObject({ accepted: 7, stored: 2, archived: 2, erased: 5, reconciled: true });

		// Bob keeps everything: profile with decrypted PII, his order and events.
		const bob = await ok("GET", `/api/v1/customers/${BYSTANDER}/export?site=${SITE}`);
		expect(bob.pii).toEqual({ email: BOB_EMAIL, name: "Bob Keeps" });
		expect((bob.orders as unknown[]).length).toBe(1);
		expect((bob.events as unknown[]).length).toBe(2);
		expect(await listKeys(env.ARCHIVE, `dead-letter/site=${SITE}/`)).toEqual([`dead-letter/site=${SITE}/m-bob.json`]);
		const snapshot = JSON.parse((await (await env.ARCHIVE.get(`analytics/site=${SITE}/as_of=${TODAY}/results.json`))?.text()) ?? "null") as unknown;
		expect(snapshot).toEqual({ site: SITE, results: { top_customers: [{ customer_id: BYSTANDER, clv: 40 }], by_customer: { [BYSTANDER]: { segment: "Loyal" } } } });
	});

	it("is idempotent: a repeat erases nothing more and answers 200; her profile and export are gone", async () => {
		const res = await api("DELETE", `/api/v1/customers/${ID}?site=${SITE}`);
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ already_erased: true, events_erased: 0, archive_objects_rewritten: 0, archive_objects_deleted: 0, documents_rewritten: 0, documents_deleted: 0, d1_rows: {} });
		expect((await api("GET", `/api/v1/customers/${ID}?site=${SITE}`)).status).toBe(404);
		expect((await api("GET", `/api/v1/customers/${ID}/export?site=${SITE}`)).status).toBe(404);
		expect((await api("DELETE", `/api/v1/customers/never-existed?site=${SITE}`)).status).toBe(404);
		const { body: health } = await getJson<Record<string, unknown>>(`/api/v1/health/pipeline?site=${SITE}&date=${TODAY}`);
		expect(health).toMatchObject({ erased: 5, reconciled: true });
	});

	it("waits for a running import (409), whose file may hold the customer's rows", async () => {
		await env.DB.prepare("INSERT INTO import_jobs (id, site, entity, format, status, object_key, created_at, updated_at) VALUES ('j-running', ?, 'customers', 'csv', 'running', 'imports/x', 0, 0)").bind(SITE).run();
		const res = await api("DELETE", `/api/v1/customers/${BYSTANDER}?site=${SITE}`);
		expect(res.status).toBe(409);
		expect(await res.json()).toMatchObject({ error: "import_running", fields: [{ field: "id" }] });
		await env.DB.prepare("DELETE FROM import_jobs WHERE id = 'j-running'").run();
	});
});

describe("removing a person from documents (scrub.ts)", () => {
	const c1 = { id: "c1", email: "Ana@Example.com", name: "Ana" };
	it("drops records naming them and map entries keyed by them, never other ids that merely contain theirs", () => {
		const doc = { top: [{ customer_id: "c1", v: 1 }, { customer_id: "c10", v: 2 }, { customer_id: "sc1-blue", v: 3 }], by: { c1: { s: "A" }, c10: { s: "B" } }, note: { who: { email: "ana@example.COM" } }, n: 4 };
		expect(JSON.parse(scrubJson(JSON.stringify(doc), c1) ?? "null")).toEqual({ top: [{ customer_id: "c10", v: 2 }, { customer_id: "sc1-blue", v: 3 }], by: { c10: { s: "B" } }, note: {}, n: 4 });
		expect(scrubJson(JSON.stringify({ customer_id: "c1" }), c1)).toBeNull(); // the document is about them
		expect(scrubJson("not json", c1)).toBeNull();
		expect(mentions("Banana", c1)).toBe(false); // a name matches whole values only
		expect(mentions("x ana@example.com y", c1)).toBe(true); // an email matches anywhere, any case
	});
	it("replaces whole tokens in HTML, raw and escaped", () => {
		expect(scrubHtml("<td>c1</td><td>c10</td><td>Ana &lt;ANA@example.com&gt;</td><td>Banana</td>", c1)).toBe("<td>[erased]</td><td>c10</td><td>[erased] &lt;[erased]&gt;</td><td>Banana</td>");
	});
});

describe("raw import files", () => {
	it("are deleted when their job ends, or IMPORT_FILE_RETENTION_DAYS later by the cron", async () => {
		const now = Date.UTC(2026, 11, 1);
		const job = (id: string, status: string, finished: number | null) =>
			env.DB.prepare("INSERT INTO import_jobs (id, site, entity, format, status, object_key, created_at, updated_at, finished_at) VALUES (?1, ?2, 'customers', 'csv', ?3, ?4, 0, 0, ?5)")
				.bind(id, SITE, status, `imports/site=${SITE}/${id}.csv`, finished)
				.run();
		for (const id of ["f-old", "f-new", "f-run"]) await env.ARCHIVE.put(`imports/site=${SITE}/${id}.csv`, "customer_id,email\nx,x@example.com\n");
		await job("f-old", "done", now - 4 * 86_400_000);
		await job("f-new", "failed", now - 2 * 86_400_000);
		await job("f-run", "running", null);
		const kept = { DB: env.DB, ARCHIVE: env.ARCHIVE, IMPORT_FILE_RETENTION_DAYS: "3" };
		// With a retention, the job's end deletes nothing; the cron deletes what is older than 3 days.
		expect(await releaseImportFile(kept, "f-new", now)).toBe(false);
		expect(await pruneImportFiles(kept, now)).toBe(1);
		expect((await listKeys(env.ARCHIVE, `imports/site=${SITE}/`)).sort()).toEqual([`imports/site=${SITE}/f-new.csv`, `imports/site=${SITE}/f-run.csv`]);
		// Without (the default), the end of a job deletes its file at once; a running job's file stays.
		expect(await releaseImportFile(env, "f-new", now)).toBe(true);
		expect(await releaseImportFile(env, "f-new", now)).toBe(false); // idempotent
		expect(await releaseImportFile(env, "f-run", now)).toBe(false);
		expect(await listKeys(env.ARCHIVE, `imports/site=${SITE}/`)).toEqual([`imports/site=${SITE}/f-run.csv`]);
		expect((await env.DB.prepare("SELECT id FROM import_jobs WHERE id LIKE 'f-%' AND file_deleted_at IS NOT NULL ORDER BY id").all()).results).toEqual([{ id: "f-new" }, { id: "f-old" }]);
		await env.DB.prepare("DELETE FROM import_jobs WHERE id LIKE 'f-%'").run();
		await env.ARCHIVE.delete(`imports/site=${SITE}/f-run.csv`);
	});
});
