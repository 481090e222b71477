/** Commerce upserts: validation tables, idempotency, corrections, out-of-order arrival, money, PII split. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api } from "./helpers";
import { openPii, piiKeyring, type StoredPii } from "../workers/privacy/pii";

type ErrorJson = { error: string; fields: { field: string; message: string }[] };

async function put(entity: string, body: unknown, site = "demo") {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	return { status: res.status, body: (await res.json()) as Record<string, unknown> & Partial<ErrorJson> };
}

async function rows(sql: string, ...params: unknown[]) {
	return (await env.DB.prepare(sql).bind(...params).all<Record<string, unknown>>()).results;
}

const order = (over: Record<string, unknown> = {}) => ({
	order_id: "o-1001", customer_id: "c-1", placed_at: "2026-11-20T14:03:00Z", total: "64.85", currency: "EUR",
	subtotal: "59.90", shipping: "4.95", items: [{ sku: "WHEY-1KG", qty: 2, unit_price: "29.95", unit_cost: "12.40" }], ...over,
});

const validation: [string, string, Record<string, unknown>, string][] = [
	["orders", "missing order_id", { order_id: undefined }, "order_id"],
	["orders", "missing customer_id", { customer_id: undefined }, "customer_id"],
	["orders", "missing placed_at", { placed_at: undefined }, "placed_at"],
	["orders", "missing total", { total: undefined }, "total"],
	["orders", "missing currency", { currency: undefined }, "currency"],
	["orders", "placed_at not ISO", { placed_at: "20/11/2026" }, "placed_at"],
	["orders", "placed_at impossible day", { placed_at: "2026-02-30T10:00:00Z" }, "placed_at"],
	["orders", "total with a comma", { total: "64,85" }, "total"],
	["orders", "total as boolean", { total: true }, "total"],
	["orders", "lowercase currency", { currency: "eur" }, "currency"],
	["orders", "unknown status", { status: "lost" }, "status"],
	["orders", "item qty 0", { items: [{ sku: "A", qty: 0, unit_price: 1 }] }, "items[0].qty"],
	["orders", "item without sku", { items: [{ qty: 1, unit_price: 1 }] }, "items[0].sku"],
	["orders", "order_id too long", { order_id: "x".repeat(129) }, "order_id"],
	["orders", "is_subscription not a boolean", { is_subscription: "maybe" }, "is_subscription"],
];

describe("PUT /api/v1/{entity} validation", () => {
	it.each(validation)("%s: rejects %s naming the field, writes nothing", async (entity, _label, override, field) => {
		const bad = order(override);
		for (const [k, v] of Object.entries(override)) if (v === undefined) delete bad[k as keyof typeof bad];
		const good = order({ order_id: `o-good-${crypto.randomUUID()}` });
		const res = await put(entity, [good, bad]);
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		expect(res.body.fields?.map((f) => f.field)).toContain(`[1].${field}`);
		expect(await rows("SELECT order_id FROM orders WHERE order_id = ?", good.order_id)).toEqual([]);
	});

	it.each([
		["customers", { created_at: "2026-01-01" }, "customer_id"],
		["customers", { customer_id: "c", created_at: "2026-01-01", email: "not-an-email" }, "email"],
		["customers", { customer_id: "c", created_at: "2026-01-01", country: "Spain" }, "country"],
		["products", { sku: "A", name: "Whey" }, "price"],
		["products", { sku: "A", price: "10" }, "name"],
		["refunds", { refund_id: "r", order_id: "o", created_at: "2026-11-20", currency: "EUR" }, "amount"],
		["inventory", { sku: "A", taken_at: "2026-11-20", stock: "ten" }, "stock"],
		["suppliers", { supplier_id: "s" }, "name"],
		["deliveries", { delivery_id: "d", supplier_id: "s", ordered_at: "2026-11-01" }, "promised_at"],
		["tickets", { ticket_id: "t" }, "opened_at"],
		["surveys", { response_id: "s", kind: "nps", score: 11, responded_at: "2026-11-20" }, "score"],
		["surveys", { response_id: "s", kind: "csat", score: 0, responded_at: "2026-11-20" }, "score"],
		["surveys", { response_id: "s", kind: "ces", score: 3, responded_at: "2026-11-20" }, "kind"],
		["spend", { day: "2026-13-01", channel: "paid_search", amount: "10", currency: "EUR" }, "day"],
		["messages", { message_id: "m", kind: "fax", sent_at: "2026-11-20" }, "kind"],
	])("%s: a record missing or breaking %j is rejected naming %s", async (entity, record, field) => {
		const res = await put(entity, record);
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		expect(res.body.fields?.map((f) => f.field)).toContain(field);
	});

	it("says what a field should look like", async () => {
		const res = await put("orders", order({ placed_at: "yesterday", total: false, items: [{ sku: "A", qty: "two", unit_price: 1 }] }));
		const messages = Object.fromEntries((res.body.fields ?? []).map((f) => [f.field, f.message]));
		expect(messages.placed_at).toMatch(/ISO 8601/);
		expect(messages.total).toMatch(/decimal number/);
		expect(messages["items[0].qty"]).toMatch(/whole number/);
	});

	it("answers 404 for an unknown entity, 400 for an empty array or non-JSON, 413 over 500 records", async () => {
		expect((await put("widgets", {})).status).toBe(404);
		expect((await put("orders", [])).status).toBe(400);
		expect((await api("PUT", "/api/v1/orders?site=demo", "{nope")).status).toBe(400);
		expect((await put("orders", Array.from({ length: 501 }, (_, i) => order({ order_id: `bulk-${i}` })))).status).toBe(413);
	});
});

describe("upsert semantics", () => {
	it("stores amounts as minor units and is idempotent: the same payload twice is one row and changes nothing", async () => {
		const o = order({ order_id: "o-idem" });
		const first = await put("orders", o);
		expect(first).toMatchObject({ status: 200, body: { received: 1, rows_changed: 1 } }); // one record (the order and its one line: records, not table rows — issue 15)
		const second = await put("orders", o);
		expect(second.body.rows_changed).toBe(0);
		expect(await rows("SELECT total_minor, subtotal_minor, shipping_minor, discount_minor, currency, status, placed_at FROM orders WHERE site = 'demo' AND order_id = 'o-idem'")).toEqual([
			{ total_minor: 6485, subtotal_minor: 5990, shipping_minor: 495, discount_minor: 0, currency: "EUR", status: "placed", placed_at: Date.UTC(2026, 10, 20, 14, 3) },
		]);
		expect(await rows("SELECT sku, qty, unit_price_minor, unit_cost_minor FROM order_items WHERE order_id = 'o-idem'")).toEqual([{ sku: "WHEY-1KG", qty: 2, unit_price_minor: 2995, unit_cost_minor: 1240 }]);
	});

	it("applies a correction in place and replaces the order's items", async () => {
		await put("orders", order({ order_id: "o-fix", items: [{ sku: "A", qty: 1, unit_price: 10 }, { sku: "B", qty: 1, unit_price: 5 }] }));
		const fix = await put("orders", order({ order_id: "o-fix", total: 10, shipped_at: "2026-11-21T09:00:00+01:00", items: [{ sku: "A", qty: 1, unit_price: 10 }] }));
		expect(fix.body.rows_changed).toBe(1); // the one order record (its row changed, line A is unchanged, line B deleted)
		expect(await rows("SELECT total_minor, status, shipped_at FROM orders WHERE order_id = 'o-fix'")).toEqual([{ total_minor: 1000, status: "shipped", shipped_at: Date.UTC(2026, 10, 21, 8) }]);
		expect(await rows("SELECT sku FROM order_items WHERE order_id = 'o-fix'")).toEqual([{ sku: "A" }]);
	});

	it("applies a repeated id within one request in order: the last copy wins", async () => {
		const res = await put("orders", [
			order({ order_id: "o-twice", total: 10, items: [{ sku: "A", qty: 1, unit_price: 5 }, { sku: "B", qty: 1, unit_price: 5 }] }),
			order({ order_id: "o-twice", total: 7, items: [{ sku: "C", qty: 1, unit_price: 7 }] }),
		]);
		expect(res.status).toBe(200);
		expect(await rows("SELECT total_minor FROM orders WHERE order_id = 'o-twice'")).toEqual([{ total_minor: 700 }]);
		expect(await rows("SELECT sku FROM order_items WHERE order_id = 'o-twice'")).toEqual([{ sku: "C" }]);
	});

	it("writes a full request (250 orders, 1,000 writes) set-based: every row, every line, and a repeat changes nothing", async () => {
		const many = Array.from({ length: 250 }, (_, i) =>
			order({ order_id: `o-bulk-${i}`, customer_id: `c-${i % 37}`, total: `${i}.5`, is_subscription: i % 2 === 0, items: [{ sku: "A", qty: 1 + (i % 3), unit_price: "1.25" }, { sku: `S-${i % 11}`, qty: 1, unit_price: 2 }] }),
		);
		const first = await put("orders", many);
		expect(first.status, JSON.stringify(first.body).slice(0, 500)).toBe(200);
		expect(first.body.rows_changed).toBe(250); // 250 order records (250 order rows + 500 lines: records are counted, issue 15)
		expect((await put("orders", many)).body.rows_changed).toBe(0);
		expect(await rows("SELECT count(*) AS n, sum(total_minor) AS total, sum(is_subscription) AS subs FROM orders WHERE order_id LIKE 'o-bulk-%'")).toEqual([{ n: 250, total: 3_125_000, subs: 125 }]);
		expect(await rows("SELECT count(*) AS n, sum(qty) AS qty FROM order_items WHERE order_id LIKE 'o-bulk-%'")).toEqual([{ n: 500, qty: 749 }]);
		// A correction to some of them: changed orders update in place, dropped lines go.
		const fixed = many.map((o, i) => (i % 50 === 0 ? { ...o, total: "1", items: o.items.slice(0, 1) } : o));
		expect((await put("orders", fixed)).body.rows_changed).toBe(5); // orders 0, 50, 100, 150, 200
		expect(await rows("SELECT count(*) AS n FROM order_items WHERE order_id LIKE 'o-bulk-%'")).toEqual([{ n: 495 }]);
	});

	it("accepts an order before its customer and products and links them when they arrive", async () => {
		await put("orders", order({ order_id: "o-early", customer_id: "c-late", items: [{ sku: "SKU-LATE", qty: 3, unit_price: "4.50" }] }));
		const joinSql = `SELECT o.order_id, c.channel, p.name, i.qty FROM orders o JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
			LEFT JOIN customers c ON c.site = o.site AND c.customer_id = o.customer_id LEFT JOIN products p ON p.site = i.site AND p.sku = i.sku WHERE o.order_id = 'o-early'`;
		expect(await rows(joinSql)).toEqual([{ order_id: "o-early", channel: null, name: null, qty: 3 }]);
		await put("customers", { customer_id: "c-late", created_at: "2026-11-19", channel: "email" });
		await put("products", { sku: "SKU-LATE", name: "Creatine 300 g", price: 19.9, unit_cost: "7.10", category: "creatine" });
		expect(await rows(joinSql)).toEqual([{ order_id: "o-early", channel: "email", name: "Creatine 300 g", qty: 3 }]);
		expect(await rows("SELECT price_minor, unit_cost_minor FROM products WHERE sku = 'SKU-LATE'")).toEqual([{ price_minor: 1990, unit_cost_minor: 710 }]);
	});

	it("keeps email and name out of the analytics table, and an update without them keeps them", async () => {
		await put("customers", { customer_id: "c-pii", created_at: "2026-10-01T08:00:00Z", email: "ana@example.com", name: "Ana", country: "es", is_subscriber: "yes" });
		await put("customers", { customer_id: "c-pii", created_at: "2026-10-01T08:00:00Z", country: "ES", subscription_status: "active" });
		const [customer] = await rows("SELECT * FROM customers WHERE customer_id = 'c-pii'");
		expect(JSON.stringify(customer)).not.toContain("ana@example.com");
		expect(customer).toMatchObject({ country: "ES", subscription_status: "active", is_subscriber: 1, created_at: Date.UTC(2026, 9, 1, 8) });
		// Encrypted at rest (workers/privacy/pii.ts): the plaintext only through the key.
		const stored = await env.DB.prepare("SELECT email, name, kid FROM customer_pii WHERE customer_id = 'c-pii'").first<StoredPii>();
		expect(JSON.stringify(stored)).not.toContain("ana@example.com");
		expect(stored && (await openPii(await piiKeyring(env), "demo", "c-pii", stored))).toEqual({ email: "ana@example.com", name: "Ana" });
	});

	it("stores every other entity with its natural key", async () => {
		const cases: [string, unknown, string][] = [
			["refunds", { refund_id: "r1", order_id: "o-1001", created_at: "2026-11-22", amount: "29.95", currency: "EUR", reason: "damaged", sku: "WHEY-1KG", qty: 1 }, "SELECT amount_minor AS v FROM refunds WHERE refund_id = 'r1'"],
			["inventory", { sku: "WHEY-1KG", taken_at: "2026-11-22T06:00:00Z", stock: "12", reorder_point: 20, lead_time_days: 7 }, "SELECT stock AS v FROM inventory_snapshots WHERE sku = 'WHEY-1KG'"],
			["suppliers", { supplier_id: "s1", name: "NutriSource", country: "DE" }, "SELECT name AS v FROM suppliers WHERE supplier_id = 's1'"],
			["deliveries", { delivery_id: "d1", supplier_id: "s1", ordered_at: "2026-11-01", promised_at: "2026-11-08", delivered_at: "2026-11-10" }, "SELECT delivered_at - promised_at AS v FROM supplier_deliveries WHERE delivery_id = 'd1'"],
			["tickets", { ticket_id: "t1", opened_at: "2026-11-20T10:00:00Z", first_response_at: "2026-11-20T10:30:00Z", resolved_at: "2026-11-21T10:00:00Z" }, "SELECT status AS v FROM tickets WHERE ticket_id = 't1'"],
			["surveys", { response_id: "n1", kind: "nps", score: "9", responded_at: "2026-11-20" }, "SELECT score AS v FROM surveys WHERE response_id = 'n1'"],
			["spend", { day: "2026-11-20", channel: "paid_search", amount: "120.50", currency: "EUR", clicks: 300 }, "SELECT amount_minor AS v FROM marketing_spend WHERE day = '2026-11-20'"],
			["messages", { message_id: "m1", kind: "email", sent_at: "2026-11-20T07:00:00Z", opened_at: "2026-11-20T08:00:00Z", campaign: "bf" }, "SELECT campaign AS v FROM messages WHERE message_id = 'm1'"],
			["order_items", { order_id: "o-items", sku: "BAR", qty: 12, unit_price: "2.20" }, "SELECT unit_price_minor AS v FROM order_items WHERE order_id = 'o-items'"],
		];
		const expected = [2995, 12, "NutriSource", 2 * 86_400_000, "resolved", 9, 12050, "bf", 220];
		for (const [i, [entity, record, sql]] of cases.entries()) {
			const first = await put(entity, record);
			expect(first.status, `${entity}: ${JSON.stringify(first.body)}`).toBe(200);
			expect((await put(entity, record)).body.rows_changed, entity).toBe(0);
			expect(await rows(sql), entity).toEqual([{ v: expected[i] }]);
		}
	});
});
