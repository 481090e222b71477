/**
 * Shopify, WooCommerce and Stripe connectors (issue 16): per platform, signature valid / invalid / stale;
 * every mapped field against the fixture (test/fixtures/connectors, shaped like each platform's documented
 * payloads); repeats and out-of-order updates change nothing; a refund moves net revenue in GET /api/v1/kpis
 * by its amount (hand-computed below). Amounts: fixture decimal strings × 100 (EUR), Stripe's integers as sent.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { emailCustomerId, hmac, parseJson, toBase64 } from "../workers/connectors/common";
import { csvObjects, mapShopifyCsv, mapWooCsv, parseCsv } from "../workers/connectors/csv";
import { signStripe } from "../workers/connectors/routes";
import { stripeAmount } from "../workers/connectors/stripe";
import stripeChargeRefunded from "./fixtures/connectors/stripe-charge-refunded.json";
import stripeChargeSucceeded from "./fixtures/connectors/stripe-charge-succeeded.json";
import stripeInvoicePaid from "./fixtures/connectors/stripe-invoice-paid.json";
import stripeSubscription from "./fixtures/connectors/stripe-subscription-updated.json";
import shopifyCustomer from "./fixtures/connectors/shopify-customer-create.json";
import shopifyLevel from "./fixtures/connectors/shopify-inventory-level-update.json";
import shopifyOrder from "./fixtures/connectors/shopify-order-create.json";
import shopifyOrderUpdated from "./fixtures/connectors/shopify-order-updated.json";
import shopifyProduct from "./fixtures/connectors/shopify-product-create.json";
import shopifyRefund from "./fixtures/connectors/shopify-refund-create.json";
import wooCustomer from "./fixtures/connectors/woo-customer-created.json";
import wooOrder from "./fixtures/connectors/woo-order-created.json";
import wooOrderRefund from "./fixtures/connectors/woo-order-updated-refund.json";
import wooProduct from "./fixtures/connectors/woo-product-updated.json";
import { ADMIN_KEY, api, getJson, waitFor } from "./helpers";

const SITE = "conn";
const secrets: Record<string, string> = {};
const SHOPIFY_SECRET = "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";
const STRIPE_SECRET = "whsec_Tq9v2JrM8xLpW4nZ6bYc1dFg3hKs5uEa";

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Connector store', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(SITE).run();
	for (const [platform, secret] of [["shopify", SHOPIFY_SECRET], ["stripe", STRIPE_SECRET], ["woocommerce", undefined]] as const) {
		const res = await api("PUT", `/api/v1/sites/${SITE}/connectors/${platform}`, secret ? { secret } : {});
		const body = (await res.json()) as { secret?: string };
		expect(res.status, JSON.stringify(body)).toBe(200);
		secrets[platform] = secret ?? body.secret ?? "";
	}
	expect(secrets.woocommerce).toMatch(/^[0-9a-f]{64}$/);
});

const b64mac = async (secret: string, body: string) => toBase64(await hmac(secret, body));

async function shopify(topic: string, payload: unknown, opts: { secret?: string; mac?: string; webhookId?: string; site?: string } = {}) {
	const body = typeof payload === "string" ? payload : JSON.stringify(payload);
	return exports.default.fetch(`https://b2g.test/hooks/shopify?site=${opts.site ?? SITE}`, {
		method: "POST",
		headers: {
			"Content-Type": "application/json",
			"X-Shopify-Topic": topic,
			"X-Shopify-Hmac-Sha256": opts.mac ?? (await b64mac(opts.secret ?? SHOPIFY_SECRET, body)),
			"X-Shopify-Webhook-Id": opts.webhookId ?? crypto.randomUUID(),
			"X-Shopify-Shop-Domain": "brain2gain-demo.myshopify.com",
		},
		body,
	});
}

async function woo(topic: string, payload: unknown, opts: { secret?: string; mac?: string } = {}) {
	const body = JSON.stringify(payload);
	return exports.default.fetch(`https://b2g.test/hooks/woocommerce?site=${SITE}`, {
		method: "POST",
		headers: { "Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": opts.mac ?? (await b64mac(opts.secret ?? secrets.woocommerce ?? "", body)), "X-WC-Webhook-Source": "https://shop.example/" },
		body,
	});
}

async function stripe(event: unknown, opts: { secret?: string; t?: number; header?: string } = {}) {
	const body = JSON.stringify(event);
	const t = opts.t ?? Math.floor(Date.now() / 1000);
	return exports.default.fetch(`https://b2g.test/hooks/stripe?site=${SITE}`, {
		method: "POST",
		headers: { "Content-Type": "application/json", "Stripe-Signature": opts.header ?? (await signStripe(opts.secret ?? STRIPE_SECRET, t, body)) },
		body,
	});
}

async function ok(res: Response): Promise<Record<string, unknown>> {
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return JSON.parse(text) as Record<string, unknown>;
}

async function fieldOf(res: Response): Promise<string | undefined> {
	return ((await res.json()) as { fields?: { field: string }[] }).fields?.[0]?.field;
}

const row = <T>(sql: string, ...args: unknown[]) => env.DB.prepare(sql).bind(...args).first<T>();
const rows = async <T>(sql: string, ...args: unknown[]) => (await env.DB.prepare(sql).bind(...args).all<T>()).results;

async function netRevenue(from: string, to: string): Promise<Record<string, number | null>> {
	const res = await api("GET", `/api/v1/kpis?site=${SITE}&ids=revenue,net_revenue&from=${from}&to=${to}`);
	const body = (await res.json()) as { kpis: { id: string; total: { value: number | null } }[] };
	expect(res.status, JSON.stringify(body)).toBe(200);
	return Object.fromEntries(body.kpis.map((k) => [k.id, k.total.value]));
}

describe("connecting a platform", () => {
	it("lists connected platforms without their secrets; Shopify and Stripe need the platform's secret; an unknown platform is a 404", async () => {
		const res = await api("GET", `/api/v1/sites/${SITE}/connectors`);
		const body = (await res.json()) as { connectors: { platform: string; secret_hint: string; webhook_url: string }[] };
		expect(res.status).toBe(200);
		expect(body.connectors.map((c) => c.platform)).toEqual(["shopify", "stripe", "woocommerce"]);
		expect(body.connectors[0]).toMatchObject({ secret_hint: "…3d4e", webhook_url: `https://b2g.test/hooks/shopify?site=${SITE}` });
		expect(JSON.stringify(body)).not.toContain(SHOPIFY_SECRET);
		const missing = await api("PUT", `/api/v1/sites/${SITE}/connectors/stripe`, {});
		expect(missing.status).toBe(400);
		expect(await fieldOf(missing)).toBe("secret");
		expect((await api("PUT", `/api/v1/sites/${SITE}/connectors/magento`, {})).status).toBe(404);
		expect((await api("PUT", `/api/v1/sites/nosuch/connectors/woocommerce`, {})).status).toBe(404);
	});

	it("a deleted connector refuses deliveries (401), and connecting again works", async () => {
		await api("PUT", "/api/v1/sites/demo/connectors/shopify", { secret: SHOPIFY_SECRET });
		expect((await shopify("customers/create", shopifyCustomer, { site: "demo" })).status).toBe(200);
		expect(await ok(await api("DELETE", "/api/v1/sites/demo/connectors/shopify"))).toMatchObject({ deleted: true });
		const refused = await shopify("customers/update", { ...shopifyCustomer, updated_at: "2026-10-03T09:00:00+02:00" }, { site: "demo" });
		expect(refused.status).toBe(401);
		expect(await fieldOf(refused)).toBe("site");
	});
});

describe("Shopify", () => {
	it("maps orders/create field by field (EUR decimal strings → cents; e-mail → customer id; processed before created → paid at creation)", async () => {
		const answer = await ok(await shopify("orders/create", shopifyOrder));
		expect(answer).toMatchObject({ status: "stored", subject: "order shopify:5745236803865", received: 1, rows_changed: 1 });
		const buyer = await emailCustomerId("jon.snow@example.com");
		expect(buyer).toBe(await emailCustomerId(" Jon.Snow@EXAMPLE.com"));
		expect(await row("SELECT * FROM orders WHERE site = ? AND order_id = ?", SITE, "shopify:5745236803865")).toMatchObject({
			customer_id: buyer,
			placed_at: Date.parse("2026-11-20T10:00:00Z"),
			paid_at: Date.parse("2026-11-20T10:00:00Z"),
			shipped_at: null,
			subtotal_minor: 9480,
			discount_minor: 948,
			shipping_minor: 490,
			tax_minor: 1714,
			total_minor: 10736,
			currency: "EUR",
			coupon: "WELCOME10",
			status: "paid",
			is_subscription: 0,
		});
		expect(await rows("SELECT sku, qty, unit_price_minor FROM order_items WHERE site = ? AND order_id = ? ORDER BY sku", SITE, "shopify:5745236803865")).toEqual([
			{ sku: "CREA-500", qty: 1, unit_price_minor: 3500 },
			{ sku: "WHEY-1KG", qty: 2, unit_price_minor: 2990 },
		]);
		// The buyer's analytics row (customer.created_at, default address country), no personal data from an order.
		expect(await row("SELECT created_at, country FROM customers WHERE site = ? AND customer_id = ?", SITE, buyer)).toEqual({ created_at: Date.parse("2026-10-02T07:00:00Z"), country: "DE" });
		// items − discount + shipping + tax = 9480 − 948 + 490 + 1714 = 10736: no data-quality issue.
		expect(await row("SELECT COUNT(*) AS n FROM data_issues WHERE site = ? AND resolved_at IS NULL", SITE)).toEqual({ n: 0 });
	});

	it("refuses a wrong secret, a tampered body and a malformed header with 401 naming the header, writing nothing", async () => {
		const other = { ...shopifyOrder, id: 5745236800001 };
		const wrong = await shopify("orders/create", other, { secret: "not-the-secret-0000000000000000" });
		expect(wrong.status).toBe(401);
		expect(await fieldOf(wrong)).toBe("X-Shopify-Hmac-Sha256");
		const mac = await b64mac(SHOPIFY_SECRET, JSON.stringify(other));
		expect((await shopify("orders/create", { ...other, total_price: "1.00" }, { mac })).status).toBe(401);
		expect((await shopify("orders/create", other, { mac: "abc" })).status).toBe(401);
		expect(await row("SELECT order_id FROM orders WHERE site = ? AND order_id = 'shopify:5745236800001'", SITE)).toBeNull();
	});

	it("a repeated delivery (same webhook id, or same body under another id) is a 200 duplicate and changes nothing", async () => {
		const first = await ok(await shopify("customers/create", shopifyCustomer, { webhookId: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" }));
		expect(first).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await ok(await shopify("customers/create", shopifyCustomer, { webhookId: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" }))).toMatchObject({ status: "duplicate", duplicate: true });
		expect(await ok(await shopify("customers/create", shopifyCustomer))).toMatchObject({ status: "duplicate" });
		const buyer = await emailCustomerId("jon.snow@example.com");
		// created_at from the customer (07:00Z = 09:00+02:00), PII sealed in customer_pii (never plaintext).
		expect(await row("SELECT created_at, country FROM customers WHERE site = ? AND customer_id = ?", SITE, buyer)).toEqual({ created_at: Date.parse("2026-10-02T07:00:00Z"), country: "DE" });
		const pii = await row<Record<string, unknown>>("SELECT * FROM customer_pii WHERE site = ? AND customer_id = ?", SITE, buyer);
		expect(pii).not.toBeNull();
		expect(JSON.stringify(pii)).not.toContain("jon.snow@example.com");
	});

	it("out of order: orders/updated (fulfilled) first, then the older orders/create: the older one is ignored as stale", async () => {
		const id = 5745236800002;
		const newer = { ...shopifyOrderUpdated, id, admin_graphql_api_id: `gid://shopify/Order/${id}` };
		const older = { ...shopifyOrder, id, admin_graphql_api_id: `gid://shopify/Order/${id}` };
		expect(await ok(await shopify("orders/updated", newer))).toMatchObject({ status: "stored", rows_changed: 1 });
		const stale = await ok(await shopify("orders/create", older));
		expect(stale).toMatchObject({ status: "ignored", ignored: true });
		expect(String(stale.reason)).toMatch(/^stale: shopify:order:5745236800002 was updated at 2026-11-21T14:00:00.000Z/);
		expect(await row("SELECT status, shipped_at FROM orders WHERE site = ? AND order_id = ?", SITE, `shopify:${id}`)).toEqual({ status: "shipped", shipped_at: Date.parse("2026-11-21T13:59:00Z") });
		// In order, the same two apply: paid, then shipped.
		expect(await ok(await shopify("orders/updated", shopifyOrderUpdated))).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await row("SELECT status FROM orders WHERE site = ? AND order_id = 'shopify:5745236803865'", SITE)).toEqual({ status: "shipped" });
	});

	it("refunds/create: net revenue over 20–24 Nov drops by exactly the refund (180.44 → 142.95)", async () => {
		// Revenue = total − tax of the non-cancelled orders placed in the range: 107.36 − 17.14 = 90.22 per fixture order;
		// the range holds shopify:5745236803865 and shopify:5745236800002 (both 20 Nov) → 180.44.
		expect(await netRevenue("2026-11-20", "2026-11-24")).toEqual({ revenue: 180.44, net_revenue: 180.44 });
		const answer = await ok(await shopify("refunds/create", shopifyRefund));
		expect(answer).toMatchObject({ status: "stored", subject: "refund shopify:918123456789", rows_changed: 1 });
		expect(await row("SELECT * FROM refunds WHERE site = ? AND refund_id = 'shopify:918123456789'", SITE)).toMatchObject({
			order_id: "shopify:5745236803865",
			created_at: Date.parse("2026-11-24T15:30:00Z"),
			amount_minor: 3749,
			currency: "EUR",
			reason: "Damaged on arrival",
			sku: "CREA-500",
			qty: 1,
			is_return: 1,
		});
		// 180.44 − 37.49 = 142.95; a repeat changes nothing.
		expect(await netRevenue("2026-11-20", "2026-11-24")).toEqual({ revenue: 180.44, net_revenue: 142.95 });
		expect(await ok(await shopify("refunds/create", shopifyRefund))).toMatchObject({ status: "duplicate" });
		expect(await netRevenue("2026-11-20", "2026-11-24")).toEqual({ revenue: 180.44, net_revenue: 142.95 });
	});

	it("products/create → one product per variant and the inventory items; inventory_levels/update → snapshots summed over locations", async () => {
		expect(await ok(await shopify("products/create", shopifyProduct))).toMatchObject({ status: "stored", received: 2, rows_changed: 2 });
		expect(await rows("SELECT sku, name, price_minor, category, brand FROM products WHERE site = ? ORDER BY sku", SITE)).toEqual([
			{ sku: "WHEY-1KG", name: "Whey Protein — 1 kg", price_minor: 2990, category: "Protein", brand: "Brain2Gain" },
			{ sku: "WHEY-2500", name: "Whey Protein — 2.5 kg", price_minor: 6490, category: "Protein", brand: "Brain2Gain" },
		]);
		expect(await ok(await shopify("inventory_levels/update", shopifyLevel))).toMatchObject({ status: "stored", rows_changed: 1 });
		const second = { ...shopifyLevel, location_id: 70001234999, available: 8, updated_at: "2026-11-20T13:00:00+01:00" };
		expect(await ok(await shopify("inventory_levels/update", second))).toMatchObject({ status: "stored" });
		expect(await rows("SELECT taken_at, stock FROM inventory_snapshots WHERE site = ? AND sku = 'WHEY-1KG' ORDER BY taken_at", SITE)).toEqual([
			{ taken_at: Date.parse("2026-11-20T11:00:00Z"), stock: 42 },
			{ taken_at: Date.parse("2026-11-20T12:00:00Z"), stock: 50 },
		]);
		// An older level of the first location arriving late does not replace the newer one.
		expect(await ok(await shopify("inventory_levels/update", { ...shopifyLevel, available: 1, updated_at: "2026-11-20T09:00:00+01:00" }))).toMatchObject({ status: "ignored" });
		const unknown = await ok(await shopify("inventory_levels/update", { ...shopifyLevel, inventory_item_id: 1234 }));
		expect(unknown.notes).toEqual([expect.stringContaining("inventory item 1234 has no known SKU yet")]);
	});

	it("unsupported topics and test orders are a 200 `ignored` with the reason; a malformed payload is a 400 naming the field", async () => {
		const other = await ok(await shopify("carts/create", { id: 1 }));
		expect(other).toMatchObject({ status: "ignored", ignored: true });
		expect(String(other.reason)).toContain("topic 'carts/create' is not mapped");
		expect(await ok(await shopify("orders/create", { ...shopifyOrder, id: 5745236800003, test: true }))).toMatchObject({ status: "ignored" });
		const bad = await shopify("orders/create", { ...shopifyOrder, id: 5745236800004, total_price: "12,50" });
		expect(bad.status).toBe(400);
		expect(await fieldOf(bad)).toBe("total_price");
		const negative = await shopify("orders/create", { ...shopifyOrder, id: 5745236800005, total_price: "-5.00" });
		expect(negative.status).toBe(400);
		expect(await fieldOf(negative)).toBe("orders.total");
	});

	it("zero-decimal currencies: a JPY order of ¥3,500 is 3500 minor units", async () => {
		const jpy = { ...shopifyOrder, id: 5745236800006, currency: "JPY", total_price: "3500", total_line_items_price: "3000", total_discounts: "0", total_tax: "0", total_shipping_price_set: { shop_money: { amount: "500", currency_code: "JPY" } }, discount_codes: [], line_items: [{ ...shopifyOrder.line_items[0], quantity: 2, price: "1500" }] };
		await ok(await shopify("orders/create", jpy));
		expect(await row("SELECT total_minor, shipping_minor, currency FROM orders WHERE site = ? AND order_id = 'shopify:5745236800006'", SITE)).toEqual({ total_minor: 3500, shipping_minor: 500, currency: "JPY" });
		const cents = await shopify("orders/create", { ...jpy, id: 5745236800007, total_price: "3500.50" });
		expect(cents.status).toBe(400);
	});

	it("keeps 64-bit ids exact (Shopify's documented example ids pass 2^53)", () => {
		expect(parseJson('{"id": 820982911946154508, "n": 12}')).toEqual({ id: "820982911946154508", n: 12 });
	});
});

describe("WooCommerce", () => {
	it("answers the unsigned ping Woo sends when a webhook is saved, storing nothing", async () => {
		const res = await exports.default.fetch(`https://b2g.test/hooks/woocommerce?site=${SITE}`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "webhook_id=17" });
		expect(await ok(res)).toMatchObject({ topic: "ping", status: "ignored" });
	});

	it("maps order.created field by field (subtotals before coupons, discount, shipping and tax excluding each other)", async () => {
		expect(await ok(await woo("order.created", wooOrder))).toMatchObject({ status: "stored", subject: "order woo:727", rows_changed: 1 });
		const buyer = await emailCustomerId("arya@example.com");
		expect(await row("SELECT * FROM orders WHERE site = ? AND order_id = 'woo:727'", SITE)).toMatchObject({
			customer_id: buyer,
			placed_at: Date.parse("2026-11-20T10:15:30Z"),
			paid_at: Date.parse("2026-11-20T10:15:45Z"),
			discount_minor: 500,
			shipping_minor: 490,
			tax_minor: 948,
			total_minor: 5938,
			currency: "EUR",
			coupon: "autumn5",
			status: "paid",
		});
		expect(await rows("SELECT sku, qty, unit_price_minor FROM order_items WHERE site = ? AND order_id = 'woo:727' ORDER BY sku", SITE)).toEqual([
			{ sku: "BAR-12", qty: 2, unit_price_minor: 1250 },
			{ sku: "OMEGA-3", qty: 1, unit_price_minor: 2500 },
		]);
		expect(await row("SELECT COUNT(*) AS n FROM data_issues WHERE site = ? AND resolved_at IS NULL", SITE)).toEqual({ n: 0 });
	});

	it("refuses a wrong secret and a tampered body (401 naming the header)", async () => {
		const wrong = await woo("order.created", { ...wooOrder, id: 728 }, { secret: "0".repeat(64) });
		expect(wrong.status).toBe(401);
		expect(await fieldOf(wrong)).toBe("X-WC-Webhook-Signature");
		const mac = await b64mac(secrets.woocommerce ?? "", JSON.stringify({ ...wooOrder, id: 728 }));
		expect((await woo("order.created", { ...wooOrder, id: 728, total: "0.01" }, { mac })).status).toBe(401);
		expect(await row("SELECT order_id FROM orders WHERE site = ? AND order_id = 'woo:728'", SITE)).toBeNull();
	});

	it("a refund arrives as order.updated: dated when first seen, net revenue of 20–24 Nov drops by 25.00, and later updates keep its date", async () => {
		const before = await netRevenue("2026-11-20", "2026-11-24");
		expect(await ok(await woo("order.updated", wooOrderRefund))).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await row("SELECT order_id, created_at, amount_minor, reason FROM refunds WHERE site = ? AND refund_id = 'woo:refund:730'", SITE)).toEqual({
			order_id: "woo:727",
			created_at: Date.parse("2026-11-24T09:00:00Z"),
			amount_minor: 2500,
			reason: "Broken seal",
		});
		const after = await netRevenue("2026-11-20", "2026-11-24");
		expect(after.revenue).toBe(before.revenue);
		expect(Math.round(((before.net_revenue ?? 0) - (after.net_revenue ?? 0)) * 100)).toBe(2500);
		const completed = { ...wooOrderRefund, status: "completed", date_modified_gmt: "2026-11-26T08:00:00", date_completed_gmt: "2026-11-26T08:00:00" };
		expect(await ok(await woo("order.updated", completed))).toMatchObject({ status: "stored" });
		expect(await row("SELECT created_at FROM refunds WHERE site = ? AND refund_id = 'woo:refund:730'", SITE)).toEqual({ created_at: Date.parse("2026-11-24T09:00:00Z") });
		expect(await row("SELECT status, shipped_at FROM orders WHERE site = ? AND order_id = 'woo:727'", SITE)).toEqual({ status: "shipped", shipped_at: Date.parse("2026-11-26T08:00:00Z") });
		// The older refund delivery arriving again (replayed or late) is a duplicate; an older modification is stale.
		expect(await ok(await woo("order.updated", wooOrderRefund))).toMatchObject({ status: "duplicate" });
		expect(await ok(await woo("order.updated", { ...wooOrderRefund, customer_note: "late copy" }))).toMatchObject({ status: "ignored" });
		expect(await row("SELECT status FROM orders WHERE site = ? AND order_id = 'woo:727'", SITE)).toEqual({ status: "shipped" });
	});

	it("customer.created and product.updated (stock managed → an inventory snapshot)", async () => {
		expect(await ok(await woo("customer.created", wooCustomer))).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await row("SELECT created_at, country FROM customers WHERE site = ? AND customer_id = ?", SITE, await emailCustomerId("arya@example.com"))).toEqual({ created_at: Date.parse("2026-09-01T08:00:00Z"), country: "DE" });
		expect(await ok(await woo("product.updated", wooProduct))).toMatchObject({ status: "stored", received: 2 });
		expect(await row("SELECT name, price_minor, category FROM products WHERE site = ? AND sku = 'BAR-12'", SITE)).toEqual({ name: "Protein Bar 12-pack", price_minor: 1250, category: "Snacks" });
		expect(await row("SELECT taken_at, stock, reorder_point FROM inventory_snapshots WHERE site = ? AND sku = 'BAR-12'", SITE)).toEqual({ taken_at: Date.parse("2026-11-01T10:00:00Z"), stock: 140, reorder_point: 20 });
		expect(await ok(await woo("coupon.created", { id: 3 }))).toMatchObject({ status: "ignored" });
	});
});

describe("Stripe", () => {
	it("accepts a valid signature among several v1 values; refuses a wrong one (401) and a stale t= (401 naming the timestamp)", async () => {
		const t = Math.floor(Date.now() / 1000);
		const body = JSON.stringify(stripeSubscription);
		const good = (await signStripe(STRIPE_SECRET, t, body)).split(",v1=")[1];
		const res = await stripe(stripeSubscription, { header: `t=${t},v1=${"0".repeat(64)},v1=${good},v0=${"1".repeat(64)}` });
		expect(await ok(res)).toMatchObject({ status: "stored", subject: "subscription stripe:sub_1QaSub0001 of stripe:cus_RbC123Sansa: active" });
		const wrong = await stripe({ ...stripeSubscription, id: "evt_wrong1" }, { secret: "whsec_other" });
		expect(wrong.status).toBe(401);
		expect(await fieldOf(wrong)).toBe("Stripe-Signature");
		const staleT = t - 301;
		const stale = await stripe({ ...stripeSubscription, id: "evt_stale1" }, { t: staleT });
		expect(stale.status).toBe(401);
		const err = (await stale.json()) as { message: string; fields: { field: string }[] };
		expect(err.fields[0]?.field).toBe("Stripe-Signature.t");
		expect(err.message).toContain(`t=${staleT}`);
		expect((await stripe({ ...stripeSubscription, id: "evt_edge1" }, { t: t - 290 })).status).toBe(200);
	});

	it("customer.subscription.*: status active → cancelled; an older event after a newer one is ignored", async () => {
		expect(await row("SELECT is_subscriber, subscription_status, created_at FROM customers WHERE site = ? AND customer_id = 'stripe:cus_RbC123Sansa'", SITE)).toEqual({
			is_subscriber: 1,
			subscription_status: "active",
			created_at: 1792490400 * 1000,
		});
		const deleted = { ...stripeSubscription, id: "evt_1QaSubDel0001", type: "customer.subscription.deleted", created: stripeSubscription.created + 100, data: { object: { ...stripeSubscription.data.object, status: "canceled" } } };
		expect(await ok(await stripe(deleted))).toMatchObject({ status: "stored", rows_changed: 1 });
		const late = { ...stripeSubscription, id: "evt_1QaSubOld0001", created: stripeSubscription.created + 50 };
		expect(await ok(await stripe(late))).toMatchObject({ status: "ignored" });
		expect(await row("SELECT is_subscriber, subscription_status FROM customers WHERE site = ? AND customer_id = 'stripe:cus_RbC123Sansa'", SITE)).toEqual({ is_subscriber: 0, subscription_status: "cancelled" });
	});

	it("invoice.paid → a paid subscription order (MRR); its charge.succeeded is not counted twice; event ids are idempotent", async () => {
		expect(await ok(await stripe(stripeInvoicePaid))).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await row("SELECT * FROM orders WHERE site = ? AND order_id = 'stripe:in_1QaInv0001'", SITE)).toMatchObject({
			customer_id: "stripe:cus_RbC123Sansa",
			placed_at: 1795168800 * 1000,
			paid_at: 1795168805 * 1000,
			total_minor: 3451,
			tax_minor: 551,
			discount_minor: 0,
			currency: "EUR",
			status: "paid",
			is_subscription: 1,
		});
		expect(await rows("SELECT sku, qty, unit_price_minor FROM order_items WHERE site = ? AND order_id = 'stripe:in_1QaInv0001'", SITE)).toEqual([{ sku: "stripe:prod_MonthlyBox", qty: 1, unit_price_minor: 2900 }]);
		expect(await ok(await stripe(stripeInvoicePaid))).toMatchObject({ status: "duplicate" });
		const invoiceCharge = { ...stripeChargeSucceeded, id: "evt_3QaInvCharge01", data: { object: { ...stripeChargeSucceeded.data.object, id: "ch_3QaInvCharge01", invoice: "in_1QaInv0001" } } };
		expect(await ok(await stripe(invoiceCharge))).toMatchObject({ status: "ignored" });
		// MRR of November (30 days): subscription revenue 29.00 (total − tax) ÷ (30 / (365.2425 / 12)) months = 29.4223 → 29.42.
		const res = await api("GET", `/api/v1/kpis?site=${SITE}&ids=mrr&from=2026-11-01&to=2026-11-30`);
		const mrr = ((await res.json()) as { kpis: { total: { value: number } }[] }).kpis[0]?.total.value;
		expect(mrr).toBe(29.42);
	});

	it("charge.succeeded (one-off) and charge.refunded: net revenue of 22–24 Nov drops by the refund (−12.50 → −27.50)", async () => {
		expect(await ok(await stripe(stripeChargeSucceeded))).toMatchObject({ status: "stored", subject: "charge stripe:ch_3QaOne0001" });
		const guest = await emailCustomerId("bran@example.com");
		expect(await row("SELECT customer_id, total_minor, tax_minor, status, placed_at FROM orders WHERE site = ? AND order_id = 'stripe:ch_3QaOne0001'", SITE)).toEqual({
			customer_id: guest,
			total_minor: 4999,
			tax_minor: 0,
			status: "paid",
			placed_at: 1795348800 * 1000,
		});
		expect(await row("SELECT country FROM customers WHERE site = ? AND customer_id = ?", SITE, guest)).toEqual({ country: "IE" });
		// Refunds already in the range (24 Nov, of orders placed 20 Nov): Shopify 37.49 and WooCommerce 25.00.
		expect(await netRevenue("2026-11-22", "2026-11-24")).toEqual({ revenue: 49.99, net_revenue: -12.5 });
		expect(await ok(await stripe(stripeChargeRefunded))).toMatchObject({ status: "stored", rows_changed: 1 });
		expect(await row("SELECT order_id, created_at, amount_minor, reason FROM refunds WHERE site = ? AND refund_id = 'stripe:re_3QaRefund0001'", SITE)).toEqual({
			order_id: "stripe:ch_3QaOne0001",
			created_at: 1795534200 * 1000,
			amount_minor: 1500,
			reason: "requested_by_customer",
		});
		// −12.50 − 15.00 = −27.50.
		expect(await netRevenue("2026-11-22", "2026-11-24")).toEqual({ revenue: 49.99, net_revenue: -27.5 });
	});

	it("charge.refunded without the refunds list (API ≥ 2022-11-15): one cumulative record per charge that keeps its first date", async () => {
		const ch = { ...stripeChargeRefunded.data.object, id: "ch_3QaTwo0001", amount_refunded: 1000 };
		delete (ch as { refunds?: unknown }).refunds;
		const first = { ...stripeChargeRefunded, id: "evt_cum1", created: 1795534200, data: { object: ch } };
		const second = { ...stripeChargeRefunded, id: "evt_cum2", created: 1795534200 + 3600, data: { object: { ...ch, amount_refunded: 2500 } } };
		await ok(await stripe(first));
		await ok(await stripe(second));
		expect(await ok(await stripe({ ...first, id: "evt_cum1late" }))).toMatchObject({ status: "ignored" });
		expect(await row("SELECT created_at, amount_minor FROM refunds WHERE site = ? AND refund_id = 'stripe:ch_3QaTwo0001:refunds'", SITE)).toEqual({ created_at: 1795534200 * 1000, amount_minor: 2500 });
	});

	it("amounts in Stripe's own decimals (JPY zero-decimal, ISK two-decimal at Stripe)", () => {
		expect(stripeAmount(3500, "JPY", "amount")).toBe("3500");
		expect(stripeAmount(50000, "ISK", "amount")).toBe("500.00");
		expect(stripeAmount(1234, "KWD", "amount")).toBe("1.234");
		expect(stripeAmount(5, "EUR", "amount")).toBe("0.05");
	});

	it("unsupported event types are a 200 `ignored`", async () => {
		expect(await ok(await stripe({ id: "evt_other1", object: "event", created: 1795534200, type: "payout.paid", data: { object: { id: "po_1" } } }))).toMatchObject({ status: "ignored", reason: expect.stringContaining("payout.paid") });
	});
});

describe("documentation", () => {
	it("the hooks and admin routes are in the OpenAPI document under Connectors, each hook with its platform's signature scheme", async () => {
		const doc = (await (await exports.default.fetch("https://b2g.test/api/v1/openapi.json")).json()) as {
			paths: Record<string, Record<string, { tags: string[]; security: Record<string, string[]>[]; responses: Record<string, unknown> }>>;
			components: { securitySchemes: Record<string, { name: string }> };
		};
		for (const [platform, scheme, header] of [["shopify", "shopifyHmac", "X-Shopify-Hmac-Sha256"], ["woocommerce", "wooSignature", "X-WC-Webhook-Signature"], ["stripe", "stripeSignature", "Stripe-Signature"]] as const) {
			const op = doc.paths[`/hooks/${platform}`]?.post;
			expect(op?.tags).toEqual(["Connectors"]);
			expect(op?.security).toEqual([{ [scheme]: [] }]);
			expect(Object.keys(op?.responses ?? {}).sort()).toEqual(["200", "400", "401", "413"]);
			expect(doc.components.securitySchemes[scheme]?.name).toBe(header);
		}
		for (const [path, method] of [["/api/v1/sites/{id}/connectors", "get"], ["/api/v1/sites/{id}/connectors/{platform}", "put"], ["/api/v1/sites/{id}/connectors/{platform}", "delete"]] as const) {
			expect(doc.paths[path]?.[method]?.security).toEqual([{ apiKey: ["admin"] }, { session: ["admin"] }]);
		}
	});
});

describe("bodies", () => {
	it("refuses a body over 1 MB with 413 from Content-Length, before verifying or reading it", async () => {
		const res = await exports.default.fetch(`https://b2g.test/hooks/shopify?site=${SITE}`, {
			method: "POST",
			headers: { "Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": await b64mac(SHOPIFY_SECRET, "x"), "Content-Length": "2000000" },
			body: "x".repeat(2_000_000),
		});
		expect(res.status).toBe(413);
	});
});

describe("CSV backfill mapping", () => {
	const SHOPIFY_CSV = [
		"Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Billing Name,Billing Country,Cancelled at,Refunded Amount,Id",
		'#1042,jon.snow@example.com,partially_refunded,2026-11-20 11:00:02 +0100,fulfilled,2026-11-21 14:59:00 +0100,no,EUR,85.32,4.90,17.14,107.36,WELCOME10,9.48,DHL Paket,2026-11-20 11:00:00 +0100,2,"Whey Protein - 1 kg",29.90,,WHEY-1KG,Jon Snow,DE,,37.49,5745236803865',
		"#1042,jon.snow@example.com,,,,,,,,,,,,,,2026-11-20 11:00:00 +0100,1,Creatine Monohydrate 500 g,35.00,,CREA-500,,,,,5745236803865",
		'#1043,"guest@example.com",paid,2026-11-22 09:30:00 -0500,,,yes,EUR,20.00,0.00,3.80,23.80,,0.00,,2026-11-22 09:29:00 -0500,1,"Shaker ""Pro"", 700 ml",20.00,,SHAKER-700,"Guest, Buyer",US,,0.00,5745236803866',
	].join("\r\n");

	it("parses RFC 4180 (quotes, doubled quotes, commas, CRLF)", () => {
		const cells = parseCsv(SHOPIFY_CSV);
		expect(cells).toHaveLength(4);
		expect(cells[3]?.[17]).toBe('Shaker "Pro", 700 ml');
		expect(csvObjects(SHOPIFY_CSV)[2]?.["Billing Name"]).toBe("Guest, Buyer");
	});

	it("Shopify export → the same order, customer and refund rows the webhooks write", async () => {
		const out = await mapShopifyCsv(SHOPIFY_CSV);
		expect(out.rejects).toEqual([]);
		expect(out.orders[0]).toEqual({
			order_id: "shopify:5745236803865",
			customer_id: await emailCustomerId("jon.snow@example.com"),
			placed_at: Date.parse("2026-11-20T10:00:00Z"),
			total: "107.36",
			currency: "EUR",
			discount: "9.48",
			shipping: "4.90",
			tax: "17.14",
			coupon: "WELCOME10",
			status: "shipped",
			paid_at: Date.parse("2026-11-20T10:00:02Z"),
			shipped_at: Date.parse("2026-11-21T13:59:00Z"),
			items: [
				{ sku: "WHEY-1KG", qty: 2, unit_price: "29.90" },
				{ sku: "CREA-500", qty: 1, unit_price: "35.00" },
			],
		});
		expect(out.refunds).toEqual([{ refund_id: "shopify:5745236803865:csv-refund", order_id: "shopify:5745236803865", created_at: Date.parse("2026-11-20T10:00:00Z"), amount: "37.49", currency: "EUR" }]);
		expect(out.customers).toEqual([
			{ customer_id: await emailCustomerId("jon.snow@example.com"), created_at: Date.parse("2026-11-20T10:00:00Z"), email: "jon.snow@example.com", name: "Jon Snow", country: "DE" },
			{ customer_id: await emailCustomerId("guest@example.com"), created_at: Date.parse("2026-11-22T14:29:00Z"), email: "guest@example.com", name: "Guest, Buyer", country: "US" },
		]);
		expect(out.orders[1]).toMatchObject({ order_id: "shopify:5745236803866", status: "paid", total: "23.80", items: [{ sku: "SHAKER-700", qty: 1, unit_price: "20.00" }] });
	});

	it("a Shopify backfill through the bulk import API (what `npm run connect` sends): rows as mapped, KPIs hand-computed, a re-run changes nothing", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('connb', 'Backfill store', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").run();
		const out = await mapShopifyCsv(SHOPIFY_CSV);
		const importAll = async () => {
			const changed: Record<string, number> = {};
			for (const [entity, records] of [["customers", out.customers], ["orders", out.orders], ["refunds", out.refunds]] as const) {
				const res = await exports.default.fetch(`https://b2g.test/api/v1/import/${entity}?site=connb&format=ndjson`, {
					method: "POST",
					headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/x-ndjson" },
					body: records.map((r) => JSON.stringify(r)).join("\n") + "\n",
				});
				expect(res.status, await res.clone().text()).toBe(202);
				const { job } = (await res.json()) as { job: string };
				const done = await waitFor(async () => {
					const { body } = await getJson<{ status: string; rows_ok: number; rows_rejected: number; rows_changed: number }>(`/api/v1/import/${job}?site=connb`);
					return body.status === "done" || body.status === "failed" ? body : undefined;
				});
				expect(done).toMatchObject({ status: "done", rows_ok: records.length, rows_rejected: 0 });
				changed[entity] = done.rows_changed;
			}
			return changed;
		};
		expect(await importAll()).toEqual({ customers: 2, orders: 2, refunds: 1 });
		expect(await row("SELECT customer_id, total_minor, tax_minor, discount_minor, shipping_minor, status, paid_at, shipped_at FROM orders WHERE site = 'connb' AND order_id = 'shopify:5745236803865'")).toEqual({
			customer_id: await emailCustomerId("jon.snow@example.com"),
			total_minor: 10736,
			tax_minor: 1714,
			discount_minor: 948,
			shipping_minor: 490,
			status: "shipped",
			paid_at: Date.parse("2026-11-20T10:00:02Z"),
			shipped_at: Date.parse("2026-11-21T13:59:00Z"),
		});
		expect(await rows("SELECT order_id, sku, qty, unit_price_minor FROM order_items WHERE site = 'connb' ORDER BY order_id, sku")).toEqual([
			{ order_id: "shopify:5745236803865", sku: "CREA-500", qty: 1, unit_price_minor: 3500 },
			{ order_id: "shopify:5745236803865", sku: "WHEY-1KG", qty: 2, unit_price_minor: 2990 },
			{ order_id: "shopify:5745236803866", sku: "SHAKER-700", qty: 1, unit_price_minor: 2000 },
		]);
		// Revenue 20–22 Nov: (107.36 − 17.14) + (23.80 − 3.80) = 110.22; net: 110.22 − 37.49 (refund dated at its order) = 72.73.
		const res = await api("GET", "/api/v1/kpis?site=connb&ids=revenue,net_revenue,orders&from=2026-11-20&to=2026-11-22");
		const kpis = ((await res.json()) as { kpis: { id: string; total: { value: number } }[] }).kpis;
		expect(Object.fromEntries(kpis.map((k) => [k.id, k.total.value]))).toEqual({ revenue: 110.22, net_revenue: 72.73, orders: 2 });
		expect(await importAll()).toEqual({ customers: 0, orders: 0, refunds: 0 });
	});

	it("WooCommerce export → orders with unit prices from line subtotals, refunds, customers; a bad row is a reject, not a failure", async () => {
		const csv = [
			"order_id,order_number,order_date,status,shipping_total,shipping_tax_total,tax_total,discount_total,order_total,refunded_total,order_currency,payment_method,customer_id,billing_first_name,billing_last_name,billing_email,billing_country,item_id,item_product_id,item_name,item_sku,item_quantity,item_subtotal,item_total",
			"727,727,2026-11-20 10:15:30,wc-completed,4.90,0.93,9.48,5.00,59.38,25.00,EUR,stripe,12,Arya,Stark,arya@example.com,DE,315,93,Protein Bar 12-pack,BAR-12,2,25.00,22.50",
			"727,727,2026-11-20 10:15:30,wc-completed,4.90,0.93,9.48,5.00,59.38,25.00,EUR,stripe,12,Arya,Stark,arya@example.com,DE,316,22,Omega-3 Capsules,OMEGA-3,1,25.00,22.50",
			"728,728,2026-11-21 08:00:00,processing,0.00,0.00,0.00,0.00,10.00,0.00,EUR,cod,0,,,,DE,320,41,Sample,,3,10.00,10.00",
			"729,729,not a date,processing,0,0,0,0,1.00,0,EUR,cod,0,,,x@example.com,DE,321,41,Sample,,1,1.00,1.00",
		].join("\n");
		const out = await mapWooCsv(csv);
		expect(out.orders[0]).toEqual({
			order_id: "woo:727",
			customer_id: await emailCustomerId("arya@example.com"),
			placed_at: Date.parse("2026-11-20T10:15:30Z"),
			total: "59.38",
			currency: "EUR",
			discount: "5.00",
			shipping: "4.90",
			tax: "9.48",
			status: "shipped",
			items: [
				{ sku: "BAR-12", qty: 2, unit_price: "12.50" },
				{ sku: "OMEGA-3", qty: 1, unit_price: "25.00" },
			],
		});
		// 10.00 over 3 units: 3.33 each (333.3 cents rounded); the guest without e-mail is one customer per order.
		expect(out.orders[1]).toMatchObject({ order_id: "woo:728", customer_id: "woo:guest:728", items: [{ sku: "woo-product:41", qty: 3, unit_price: "3.33" }] });
		expect(out.refunds).toEqual([{ refund_id: "woo:727:csv-refund", order_id: "woo:727", created_at: Date.parse("2026-11-20T10:15:30Z"), amount: "25.00", currency: "EUR" }]);
		expect(out.rejects).toEqual([{ line: 5, reason: "order_date: not an ISO 8601 date-time: not a date" }]);
	});
});
