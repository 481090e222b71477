/** Signed order webhooks: valid, wrong secret, stale timestamp, replay, malformed headers, secret rotation. */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../workers/commerce/webhooks";
import { api } from "./helpers";

let secret = "";

beforeAll(async () => {
	const res = await api("POST", "/api/v1/webhooks/secret?site=demo");
	expect(res.status).toBe(201);
	secret = ((await res.json()) as { secret: string }).secret;
});

async function deliver(body: string, opts: { secret?: string; ts?: number; site?: string; signature?: string } = {}) {
	const ts = opts.ts ?? Math.floor(Date.now() / 1000);
	const signature = opts.signature ?? (await signWebhook(opts.secret ?? secret, ts, body));
	return exports.default.fetch("https://b2g.test/hooks/orders", {
		method: "POST",
		headers: { "Content-Type": "application/json", "X-B2G-Site": opts.site ?? "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": signature },
		body,
	});
}

const orderBody = (id: string, total = "30.00") =>
	JSON.stringify({ order_id: id, customer_id: "c-hook", placed_at: "2026-11-25T10:00:00Z", total, currency: "EUR", items: [{ sku: "WHEY-1KG", qty: 1, unit_price: total }] });

async function order(id: string) {
	return env.DB.prepare("SELECT total_minor FROM orders WHERE site = 'demo' AND order_id = ?").bind(id).first<{ total_minor: number }>();
}

describe("POST /hooks/orders", () => {
	it("accepts a correctly signed delivery and upserts the order", async () => {
		const res = await deliver(orderBody("h-1"));
		expect(res.status, await res.clone().text()).toBe(200);
		expect(await res.json()).toMatchObject({ received: 1, rows_changed: 1 }); // one record: the order and its line
		expect(await order("h-1")).toEqual({ total_minor: 3000 });
	});

	it("refuses a wrong secret, a tampered body and a malformed signature with 401, writing nothing", async () => {
		expect((await deliver(orderBody("h-2"), { secret: "0".repeat(64) })).status).toBe(401);
		const ts = Math.floor(Date.now() / 1000);
		const sig = await signWebhook(secret, ts, orderBody("h-2"));
		expect((await deliver(orderBody("h-2", "1.00"), { ts, signature: sig })).status).toBe(401);
		const bad = await deliver(orderBody("h-2"), { signature: "sha256=xyz" });
		expect(bad.status).toBe(401);
		expect(((await bad.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("X-B2G-Signature");
		expect(await order("h-2")).toBeNull();
	});

	it("refuses timestamps more than 5 minutes away, even when correctly signed", async () => {
		const stale = await deliver(orderBody("h-3"), { ts: Math.floor(Date.now() / 1000) - 301 });
		expect(stale.status).toBe(401);
		expect(((await stale.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("X-B2G-Timestamp");
		expect((await deliver(orderBody("h-3"), { ts: Math.floor(Date.now() / 1000) + 301 })).status).toBe(401);
		expect((await deliver(orderBody("h-3"), { ts: Math.floor(Date.now() / 1000) - 290 })).status).toBe(200);
	});

	it("refuses a replay of an accepted delivery (so an old payload cannot roll back a correction)", async () => {
		const ts = Math.floor(Date.now() / 1000);
		const first = orderBody("h-4", "40.00");
		const sig = await signWebhook(secret, ts, first);
		expect((await deliver(first, { ts, signature: sig })).status).toBe(200);
		expect((await deliver(orderBody("h-4", "45.00"))).status).toBe(200); // a later correction
		const replay = await deliver(first, { ts, signature: sig });
		expect(replay.status).toBe(409);
		expect(await order("h-4")).toEqual({ total_minor: 4500 });
	});

	it("validates the order like the API (400 naming the field) and does not burn the delivery", async () => {
		const ts = Math.floor(Date.now() / 1000);
		const bad = JSON.stringify({ order_id: "h-5", customer_id: "c", placed_at: "yesterday", total: "1", currency: "EUR" });
		const res = await deliver(bad, { ts });
		expect(res.status).toBe(400);
		expect(((await res.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toContain("placed_at");
		const seen = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE signature = ?").bind((await signWebhook(secret, ts, bad)).replace(/^sha256=/, "")).first<{ n: number }>();
		expect(seen?.n).toBe(0);
	});

	it("knows no secret for an unknown site or one without webhooks, and rotating the secret invalidates the old one", async () => {
		expect((await deliver(orderBody("h-6"), { site: "nope" })).status).toBe(401);
		expect((await deliver(orderBody("h-6"), { site: "locked" })).status).toBe(401);
		const old = secret;
		const rotated = (await (await api("POST", "/api/v1/webhooks/secret?site=demo")).json()) as { secret: string };
		secret = rotated.secret;
		expect((await deliver(orderBody("h-6"), { secret: old })).status).toBe(401);
		expect((await deliver(orderBody("h-6"))).status).toBe(200);
	});
});
