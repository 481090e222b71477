/** The /e wire contract: every field's validation, size limits, encodings, and "bad input writes nothing". */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BROWSER_UA, pageView, postEvents, purchase } from "./helpers";

interface ErrorJson {
	error: string;
	message: string;
	fields?: { field: string; message: string }[];
}

async function expectRejected(body: unknown, status: number, field: string, headers: Record<string, string> = {}): Promise<ErrorJson> {
	const res = await postEvents(body, headers);
	const json = (await res.json()) as ErrorJson;
	expect(res.status, JSON.stringify(json)).toBe(status);
	expect(json.fields?.map((f) => f.field), JSON.stringify(json)).toContain(field);
	return json;
}

async function storedCount(ids: unknown[]): Promise<number> {
	const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first<{ n: number }>();
	return row?.n ?? 0;
}

const now = Date.now();
const eventCases: [string, Record<string, unknown>, string][] = [
	["id missing", { id: undefined }, "events[0].id"],
	["id empty", { id: "" }, "events[0].id"],
	["id not a string", { id: 42 }, "events[0].id"],
	["id with spaces", { id: "a b" }, "events[0].id"],
	["id too long", { id: "x".repeat(65) }, "events[0].id"],
	["name missing", { name: undefined }, "events[0].name"],
	["name with spaces", { name: "page view" }, "events[0].name"],
	["name too long", { name: "e".repeat(65) }, "events[0].name"],
	["name not a string", { name: ["page_view"] }, "events[0].name"],
	["ts missing", { ts: undefined }, "events[0].ts"],
	["ts as string", { ts: "1764201600000" }, "events[0].ts"],
	["ts fractional", { ts: now + 0.5 }, "events[0].ts"],
	["ts in seconds (too old)", { ts: Math.floor(now / 1000) }, "events[0].ts"],
	["ts 8 days old", { ts: now - 8 * 86_400_000 }, "events[0].ts"],
	["ts 2 days ahead", { ts: now + 2 * 86_400_000 }, "events[0].ts"],
	["url missing", { url: undefined }, "events[0].url"],
	["url relative", { url: "/p/whey" }, "events[0].url"],
	["url javascript:", { url: "javascript:alert(1)" }, "events[0].url"],
	["url huge", { url: `https://shop.example/${"a".repeat(3000)}` }, "events[0].url"],
	["referrer not a string", { referrer: 7 }, "events[0].referrer"],
	["referrer huge", { referrer: `https://r.example/${"a".repeat(3000)}` }, "events[0].referrer"],
	["props not an object", { props: "x" }, "events[0].props"],
	["props nested object on custom event", { name: "newsletter_open", props: { deep: { x: 1 } } }, "events[0].props.deep"],
	["prop string huge", { props: { note: "n".repeat(2000) } }, "events[0].props.note"],
	["customer_id empty", { customer_id: "" }, "events[0].customer_id"],
	["customer_id number", { customer_id: 42 }, "events[0].customer_id"],
	["visitor_id empty", { visitor_id: "" }, "events[0].visitor_id"],
	["unknown field", { color: "red" }, "events[0].color"],
	["purchase without order_id", { name: "purchase", props: { value: 10, currency: "EUR", items: [{ sku: "A", qty: 1, price: 10 }] } }, "events[0].props.order_id"],
	["purchase value negative", { name: "purchase", props: { order_id: "o1", value: -1, currency: "EUR", items: [{ sku: "A", qty: 1, price: 10 }] } }, "events[0].props.value"],
	["purchase value as string", { name: "purchase", props: { order_id: "o1", value: "10", currency: "EUR", items: [{ sku: "A", qty: 1, price: 10 }] } }, "events[0].props.value"],
	["purchase lowercase currency", { name: "purchase", props: { order_id: "o1", value: 10, currency: "eur", items: [{ sku: "A", qty: 1, price: 10 }] } }, "events[0].props.currency"],
	["purchase without items", { name: "purchase", props: { order_id: "o1", value: 10, currency: "EUR", items: [] } }, "events[0].props.items"],
	["purchase item qty 0", { name: "purchase", props: { order_id: "o1", value: 10, currency: "EUR", items: [{ sku: "A", qty: 0, price: 10 }] } }, "events[0].props.items[0].qty"],
	["purchase item without sku", { name: "purchase", props: { order_id: "o1", value: 10, currency: "EUR", items: [{ qty: 1, price: 10 }] } }, "events[0].props.items[0].sku"],
	["add_to_cart without sku", { name: "add_to_cart", props: { qty: 1 } }, "events[0].props.sku"],
	["product_view with NaN-ish price", { name: "product_view", props: { sku: "A", price: "free" } }, "events[0].props.price"],
	["checkout_step without step", { name: "checkout_step", props: {} }, "events[0].props.step"],
	["search without query", { name: "search", props: { results: 3 } }, "events[0].props.query"],
	["refund without order_id", { name: "refund", props: { value: 5 } }, "events[0].props.order_id"],
];

describe("POST /e validation", () => {
	it.each(eventCases)("rejects %s with 400 naming the field and stores nothing", async (_label, override, field) => {
		const good = pageView();
		const bad = pageView(override);
		for (const [k, v] of Object.entries(override)) if (v === undefined) delete bad[k];
		const json = await expectRejected({ site: "demo", events: [bad, good] }, 400, field);
		expect(json.error).toBe("invalid_events");
		// All or nothing: the good neighbour was not stored either.
		expect(await storedCount([good.id, bad.id])).toBe(0);
	});

	it("names every offending field of every event", async () => {
		const json = await expectRejected({ site: "demo", events: [pageView({ ts: "x" }), pageView(), pageView({ url: "nope", name: "" })] }, 400, "events[0].ts");
		expect(json.fields?.map((f) => f.field)).toEqual(expect.arrayContaining(["events[0].ts", "events[2].url", "events[2].name"]));
		expect(json.fields?.map((f) => f.field)).not.toContain("events[1].id");
	});

	it.each([
		["site missing", { events: [pageView()] }, "site"],
		["site uppercase", { site: "Demo", events: [pageView()] }, "site"],
		["events missing", { site: "demo" }, "events"],
		["events not an array", { site: "demo", events: {} }, "events"],
		["empty batch", { site: "demo", events: [] }, "events"],
		["unknown top-level key", { site: "demo", events: [pageView()], extra: 1 }, "extra"],
		["body is an array", [pageView()], "body"],
	])("rejects a malformed batch: %s", async (_label, body, field) => {
		const json = await expectRejected(body, 400, field);
		expect(json.error).toBe("invalid_batch");
	});

	it("rejects invalid JSON and invalid UTF-8 with 400", async () => {
		await expectRejected('{"site":"demo","events":[', 400, "body");
		const badUtf8 = new Uint8Array([...new TextEncoder().encode('{"site":"demo","events":[{"id":"'), 0xc3, 0x28, ...new TextEncoder().encode('"}]}')]);
		const raw = await exports.default.fetch("https://b2g.test/e", { method: "POST", headers: { "Content-Type": "text/plain", "User-Agent": BROWSER_UA }, body: badUtf8 });
		expect(raw.status).toBe(400);
		expect(((await raw.json()) as ErrorJson).error).toBe("invalid_encoding");
	});

	it("rejects an unsupported content type with 415", async () => {
		const json = await expectRejected({ site: "demo", events: [pageView()] }, 415, "Content-Type", { "Content-Type": "application/x-www-form-urlencoded" });
		expect(json.error).toBe("unsupported_media_type");
	});

	it("accepts text/plain (sendBeacon) bodies", async () => {
		const res = await postEvents({ site: "demo", events: [pageView()] }, { "Content-Type": "text/plain;charset=UTF-8" });
		expect(res.status).toBe(202);
	});

	it("answers 413 over 1,000 events and over 1 MB, and 404 for an unknown site", async () => {
		const many = Array.from({ length: 1001 }, () => pageView());
		const json = await expectRejected({ site: "demo", events: many }, 413, "events");
		expect(json.error).toBe("too_many_events");
		await expectRejected({ site: "demo", events: [pageView({ props: { pad: "p".repeat(1024) } })], pad: "x".repeat(1_000_001) }, 413, "body");
		const unknown = await expectRejected({ site: "nope", events: [pageView()] }, 404, "site");
		expect(unknown.error).toBe("unknown_site");
	});

	it("accepts a full 1,000-event batch in one request", async () => {
		const events = Array.from({ length: 1000 }, () => pageView());
		const res = await postEvents({ site: "demo", events });
		expect(res.status).toBe(202);
		expect(await res.json()).toMatchObject({ accepted: 1000, duplicates: 0, bots: 0 });
	});

	it("accepts every commerce event with its props and a custom event", async () => {
		const events = [
			pageView({ name: "product_view", props: { sku: "WHEY-1KG", price: 29.95, currency: "EUR" } }),
			pageView({ name: "add_to_cart", props: { sku: "WHEY-1KG", qty: 2, price: 29.95, currency: "EUR" } }),
			pageView({ name: "remove_from_cart", props: { sku: "WHEY-1KG", qty: 1 } }),
			pageView({ name: "begin_checkout", props: { value: 59.9, currency: "EUR" } }),
			pageView({ name: "checkout_step", props: { step: 2 } }),
			purchase(),
			pageView({ name: "refund", props: { order_id: "o-1", value: 10, currency: "EUR" } }),
			pageView({ name: "search", props: { query: "creatine" } }),
			pageView({ name: "signup", customer_id: "c-1" }),
			pageView({ name: "newsletter_open", props: { campaign: "nov", opened: true, n: 3 } }),
		];
		const res = await postEvents({ site: "demo", events });
		expect(res.status, await res.clone().text()).toBe(202);
	});

	it("enforces a site's allowed origins and answers CORS for allowed ones", async () => {
		await expectRejected({ site: "locked", events: [pageView()] }, 403, "site", { Origin: "https://evil.example" });
		const ok = await postEvents({ site: "locked", events: [pageView()] }, { Origin: "https://shop.example" });
		expect(ok.status).toBe(202);
		expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://shop.example");
		const pre = await exports.default.fetch("https://b2g.test/e", { method: "OPTIONS", headers: { Origin: "https://shop.example", "Access-Control-Request-Method": "POST" } });
		expect(pre.status).toBe(204);
		expect(pre.headers.get("Access-Control-Allow-Methods")).toContain("POST");
	});

	it("counts rejected events in the day's ledger", async () => {
		await postEvents({ site: "locked", events: [pageView({ ts: "bad" }), pageView()] });
		const live = env.LIVE.get(env.LIVE.idFromName("locked"));
		expect((await live.ledger(new Date().toISOString().slice(0, 10))).rejected).toBeGreaterThanOrEqual(2);
	});
});
