/**
 * Findings of the hostile test of the running product (issue 14), one describe per finding. Each test
 * pins the bug it names: it fails on the code before the fix.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../workers/commerce/webhooks";
import { jsonDepth, MAX_PROPS_DEPTH } from "../workers/ingest/schema";
import { storeEvents } from "../workers/pipeline/archive";
import { ADMIN_KEY, api, postEvents, purchase, storedEvent, waitFor } from "./helpers";

/** `[[[…]]]` nested `depth` arrays deep around 1. */
const nestedArrays = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}1${"]".repeat(depth)}`);

describe("finding 1: one anonymous request could break a site's KPIs", () => {
	it("jsonDepth counts levels of arrays and objects", () => {
		expect(jsonDepth(1, 10)).toBe(0);
		expect(jsonDepth({}, 10)).toBe(1);
		expect(jsonDepth({ items: [{ sku: "A" }] }, 10)).toBe(3);
		expect(jsonDepth(nestedArrays(1001), 10)).toBeGreaterThan(10); // stops counting past the limit
	});

	it("refuses a purchase whose props nest 1,001 arrays deep (400 naming props), and stores nothing", async () => {
		// The original report: 2.2 KB, accepted with 202; SQLite's json_each then refused the stored row.
		const bad = purchase();
		(bad.props as Record<string, unknown>).x = nestedArrays(1001);
		const res = await postEvents({ site: "demo", events: [bad] });
		expect(res.status).toBe(400);
		const body = (await res.json()) as { fields: { field: string; message: string }[] };
		expect(body.fields[0]).toEqual({ field: "events[0].props", message: `nested more than ${MAX_PROPS_DEPTH} levels deep` });
		expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site = 'demo' AND id = ?").bind(bad.id).first("n")).toBe(0);
	});

	it("accepts props up to the depth limit", async () => {
		const ok = purchase();
		(ok.props as Record<string, unknown>).x = nestedArrays(MAX_PROPS_DEPTH - 1); // props object + 7 arrays = 8 levels
		expect((await postEvents({ site: "demo", events: [ok] })).status).toBe(202);
	});

	it("refuses the same in the events import, row by row", async () => {
		const bad = purchase({ ts: Date.UTC(2025, 0, 5, 12), visitor_id: "visitor-x1" });
		(bad.props as Record<string, unknown>).x = nestedArrays(20);
		const res = await exports.default.fetch("https://b2g.test/api/v1/import/events?site=demo&format=ndjson", {
			method: "POST",
			headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/x-ndjson" },
			body: `${JSON.stringify(bad)}\n`,
		});
		expect(res.status, await res.clone().text()).toBeLessThan(300);
		const job = ((await res.json()) as { job: string }).job;
		type Job = { status: string; rows_rejected: number; rows_ok: number };
		const done = await waitFor(async () => {
			const j = (await (await api("GET", `/api/v1/import/${job}?site=demo`)).json()) as Job;
			return j.status === "done" || j.status === "failed" ? j : undefined;
		});
		expect(done).toMatchObject({ status: "done", rows_ok: 0, rows_rejected: 1 });
	});

	it("a row SQLite refuses as JSON (stored before the bound) is skipped by the rollup and recorded, and KPIs still answer", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('deep', 'deep', '[]', 'UTC', 'EUR', 0)").run();
		const at = Date.UTC(2026, 9, 10, 12);
		const good = storedEvent({ site: "deep", visitor: "v-good", ts: at, name: "product_view", sku: "A" });
		const goodBuy = storedEvent({ site: "deep", visitor: "v-good", ts: at + 60_000, name: "purchase", props: { order_id: "o1", value: 10, currency: "EUR", items: [{ sku: "A", qty: 1, price: 10 }] } });
		const badBuy = storedEvent({ site: "deep", visitor: "v-bad", ts: at, name: "purchase", props: { order_id: "o2", value: 10, currency: "EUR", items: [{ sku: "A", qty: 1, price: 10 }], x: nestedArrays(1001) } });
		await storeEvents(env.DB, [good, goodBuy, badBuy]);
		const res = await api("GET", "/api/v1/kpis?site=deep&ids=sessions,product_page_conversion&from=2026-10-10&to=2026-10-10");
		const text = await res.text();
		expect(res.status, text).toBe(200);
		const kpis = (JSON.parse(text) as { kpis: { id: string; total: { value: number | null } }[] }).kpis;
		// Two sessions (v-good, v-bad); the good visitor viewed A and bought it: 1 of 1 view sessions → 100 %.
		expect(Object.fromEntries(kpis.map((k) => [k.id, k.total.value]))).toEqual({ sessions: 2, product_page_conversion: 100 });
		const issues = await env.DB.prepare("SELECT kind, ref FROM data_issues WHERE site = 'deep'").all();
		expect(issues.results).toEqual([{ kind: "malformed_props", ref: `events/${badBuy.id}` }]);
	});
});

describe("finding 2: webhook replay protection was bypassed by dropping the sha256= prefix", () => {
	let secret = "";
	beforeAll(async () => {
		secret = ((await (await api("POST", "/api/v1/webhooks/secret?site=demo")).json()) as { secret: string }).secret;
	});
	const deliver = (body: string, ts: number, signature: string) =>
		exports.default.fetch("https://b2g.test/hooks/orders", {
			method: "POST",
			headers: { "Content-Type": "application/json", "X-B2G-Site": "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": signature },
			body,
		});
	const order = (total: string) =>
		JSON.stringify({ order_id: "replay-1", customer_id: "c-r", placed_at: "2026-11-25T10:00:00Z", total, currency: "EUR", status: total === "0.00" ? "cancelled" : "paid" });

	it("refuses a captured delivery re-sent without the prefix, in upper case, or with spaces: the replay key is the verified MAC", async () => {
		const ts = Math.floor(Date.now() / 1000);
		const paid = order("30.00");
		const sig = await signWebhook(secret, ts, paid);
		expect((await deliver(paid, ts, sig)).status).toBe(200);
		expect((await deliver(order("0.00"), ts, await signWebhook(secret, ts, order("0.00")))).status).toBe(200); // cancelled later
		const bare = sig.replace(/^sha256=/, "");
		for (const variant of [bare, `sha256=${bare.toUpperCase()}`, bare.toUpperCase(), `SHA256=${bare}`]) {
			const res = await deliver(paid, ts, variant);
			expect([401, 409], `${variant}: ${res.status}`).toContain(res.status);
		}
		const row = await env.DB.prepare("SELECT status FROM orders WHERE site = 'demo' AND order_id = 'replay-1'").first("status");
		expect(row).toBe("cancelled");
	});
});

describe("finding 6: webhook bodies were read whole before their size was checked", () => {
	const big = (bytes: number) =>
		new ReadableStream<Uint8Array>({
			start(controller) {
				const chunk = new Uint8Array(64 * 1024).fill(0x20);
				for (let sent = 0; sent < bytes; sent += chunk.byteLength) controller.enqueue(chunk);
				controller.close();
			},
		});
	const post = (path: string, body: BodyInit, headers: Record<string, string>) =>
		exports.default.fetch(`https://b2g.test${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });
	const signed = { "X-B2G-Site": "demo", "X-B2G-Timestamp": String(Math.floor(Date.now() / 1000)), "X-B2G-Signature": `sha256=${"0".repeat(64)}` };

	it("refuses a declared Content-Length over 1 MB with 413 before reading", async () => {
		const res = await post("/hooks/orders", "{}", { ...signed, "Content-Length": "400000000" });
		expect(res.status).toBe(413);
		expect(((await res.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("body");
	});

	it("refuses a streamed body without Content-Length once it passes 1 MB (413), on the webhook, /e and the JSON API", async () => {
		expect((await post("/hooks/orders", big(3_000_000), signed)).status).toBe(413);
		expect((await post("/e", big(3_000_000), {})).status).toBe(413);
		expect((await post("/api/v1/orders?site=demo", big(6_000_000), { Authorization: `Bearer ${ADMIN_KEY}` })).status).toBe(413);
	});
});

describe("finding 9 (part): commerce writes rejected invalid UTF-8 only by replacing it", () => {
	it("refuses a JSON body with an invalid UTF-8 byte (400 invalid_encoding), storing nothing", async () => {
		const json = new TextEncoder().encode(JSON.stringify({ customer_id: "utf8-x", created_at: "2026-01-01", country: "ES" }));
		const bytes = new Uint8Array(json.byteLength + 1);
		bytes.set(json.slice(0, 15));
		bytes[15] = 0xff; // inside the customer id string
		bytes.set(json.slice(15), 16);
		const res = await exports.default.fetch("https://b2g.test/api/v1/customers?site=demo", {
			method: "PUT",
			headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_KEY}` },
			body: bytes,
		});
		expect(res.status).toBe(400);
		expect(((await res.json()) as { error: string }).error).toBe("invalid_encoding");
	});
});
