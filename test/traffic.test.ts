/**
 * The live demo traffic simulator (scripts/traffic.mjs, started by `npm start`): its planned visits are
 * valid tracker batches and signed order deliveries that the real Worker accepts, purchases and orders
 * agree, bots are flagged, and the hour-of-day rate curve is the demo store's.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../scripts/seed-events.mjs";
import { planSession, SESSIONS_PER_MINUTE, sessionsPerMinute, signOrderDelivery } from "../scripts/traffic.mjs";
import { signWebhook } from "../workers/commerce/webhooks";
import { parseEvent } from "../workers/ingest/schema";
import { isBotUserAgent } from "../workers/ingest/classify";
import { api, postEvents } from "./helpers";

const NOW = Date.UTC(2026, 11, 3, 12);
const CATALOGUE = [
	{ sku: "WHEY-1KG", name: "Whey Protein 1 kg", category: "protein", price: 29.9 },
	{ sku: "CREA-300", name: "Creatine 300 g", category: "creatine", price: 19.5 },
	{ sku: "BAR-12", name: "Protein bars × 12", category: null, price: 24 },
];
const OPTIONS = { origin: "https://b2g.test", site: "demo", currency: "EUR", now: NOW };

type Plan = ReturnType<typeof planSession>;
const plans = (n: number, seed = 7, customers: string[] = ["c-1", "c-2"]): Plan[] => {
	const rng = mulberry32(seed);
	return Array.from({ length: n }, () => planSession(rng, CATALOGUE, customers, OPTIONS));
};

describe("planned visits", () => {
	it("are tracker events the /e validator accepts, with unique ids, starting with a page view", () => {
		const all = plans(400);
		const events = all.flatMap((p) => p.steps.map((s) => ({ ...s.event, ts: NOW, ...(s.customer_id ? { customer_id: s.customer_id } : {}) })));
		expect(events.map((e) => parseEvent(e, NOW)).filter((r) => !r.ok)).toEqual([]);
		expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
		for (const p of all) expect(p.steps[0]!.event.name).toBe("page_view");
		// The funnel narrows: every purchase had a checkout, every checkout a cart.
		const count = (name: string) => all.filter((p) => p.steps.some((s) => s.event.name === name)).length;
		expect(count("purchase")).toBeGreaterThan(0);
		expect(count("purchase")).toBeLessThanOrEqual(count("begin_checkout"));
		expect(count("begin_checkout")).toBeLessThanOrEqual(count("add_to_cart"));
		expect(count("add_to_cart")).toBeLessThan(count("product_view"));
	});

	it("pair each purchase with an order of the same id, customer and amount (shipping free from 49.00)", () => {
		for (const p of plans(400)) {
			const buy = p.steps.find((s) => s.event.name === "purchase");
			if (!buy) {
				expect(p.order).toBeNull();
				continue;
			}
			const props = buy.event.props as { order_id: string; value: number; shipping: number; items: { sku: string; qty: number; price: number }[] };
			expect(p.order).toMatchObject({ order_id: props.order_id, customer_id: buy.customer_id, currency: "EUR", status: "paid" });
			const itemsMinor = props.items.reduce((s, i) => s + Math.round(i.price * 100) * i.qty, 0);
			expect(p.order!.subtotal).toBe((itemsMinor / 100).toFixed(2));
			expect(p.order!.shipping).toBe(itemsMinor >= 4900 ? "0.00" : "4.95");
			expect(Number(p.order!.total)).toBeCloseTo(props.value, 9);
			// A new customer is created with the order; a returning one is one of the store's.
			if (p.customer) expect(p.customer.customer_id).toBe(p.order!.customer_id);
			else expect(["c-1", "c-2"]).toContain(p.order!.customer_id);
		}
	});

	it("mark about 4 % of visits as bots: half with a crawler User-Agent, half with the tracker's automation flag", () => {
		const all = plans(5000, 11);
		const crawlers = all.filter((p) => p.bot === "crawler");
		const flagged = all.filter((p) => p.bot === "webdriver");
		// Binomial(5000, 0.02): mean 100, sd ≈ 9.9; ±4 sd.
		for (const group of [crawlers, flagged]) expect(Math.abs(group.length - 100)).toBeLessThan(40);
		for (const p of crawlers) expect(isBotUserAgent(p.ua)).toBe(true);
		for (const p of all.filter((x) => !x.bot)) expect(isBotUserAgent(p.ua)).toBe(false);
	});

	it("are deterministic for a seed", () => {
		expect(plans(20, 3)).toEqual(plans(20, 3));
		expect(plans(20, 4)).not.toEqual(plans(20, 3));
	});
});

describe("rate", () => {
	it("follows the demo store's hour-of-day curve: 12 sessions a minute on average over a day, busiest at 20:00", () => {
		const day = Date.UTC(2026, 11, 3);
		const hourly = Array.from({ length: 24 }, (_, h) => sessionsPerMinute(day + h * 3_600_000));
		expect(hourly.reduce((s, x) => s + x, 0) / 24).toBeCloseTo(SESSIONS_PER_MINUTE, 9);
		expect(hourly.indexOf(Math.max(...hourly))).toBe(20);
		expect(hourly.indexOf(Math.min(...hourly))).toBe(3);
		// Site time: at 20:00 UTC a site at UTC+2 is at 22:00 (weight 1.55 vs 2.35 at 20:00).
		expect(sessionsPerMinute(day + 20 * 3_600_000, 120) / sessionsPerMinute(day + 20 * 3_600_000, 0)).toBeCloseTo(1.55 / 2.35, 9);
		expect(sessionsPerMinute(day, 0, 2.5)).toBeCloseTo(2.5 * sessionsPerMinute(day), 9);
	});
});

describe("against the Worker", () => {
	let secret = "";
	beforeAll(async () => {
		const res = await api("POST", "/api/v1/webhooks/secret?site=demo");
		expect(res.status).toBe(201);
		secret = ((await res.json()) as { secret: string }).secret;
	});

	it("signs order deliveries exactly as the webhook expects", async () => {
		const body = JSON.stringify({ order_id: "x", total: "1.00" });
		expect(signOrderDelivery(secret, 1_780_000_000, body)).toBe(await signWebhook(secret, 1_780_000_000, body));
	});

	it("sends visits that /e accepts (bots counted, not accepted) and orders the signed webhook stores", async () => {
		const all = plans(60, 21, []);
		let accepted = 0;
		let bots = 0;
		const now = Date.now();
		for (const p of all) {
			const events = p.steps.map((s) => ({ ...s.event, ts: now - 1000, ...(s.customer_id ? { customer_id: s.customer_id } : {}) }));
			const res = await postEvents({ site: "demo", events, ...(p.bot === "webdriver" ? { b: 1 } : {}) }, { "User-Agent": p.ua, "CF-Connecting-IP": p.ip });
			expect(res.status, await res.clone().text()).toBe(202);
			const answer = (await res.json()) as { accepted: number; bots: number };
			accepted += answer.accepted;
			bots += answer.bots;
		}
		const human = all.filter((p) => !p.bot);
		expect(accepted).toBe(human.reduce((s, p) => s + p.steps.length, 0));
		expect(bots).toBe(all.filter((p) => p.bot).reduce((s, p) => s + p.steps.length, 0));

		const orders = human.filter((p) => p.order);
		expect(orders.length).toBeGreaterThan(0);
		for (const p of orders) {
			if (p.customer) expect((await api("POST", "/api/v1/customers?site=demo", { ...p.customer, created_at: now })).status).toBe(200);
			const body = JSON.stringify({ ...p.order, placed_at: now, paid_at: now });
			const ts = Math.floor(Date.now() / 1000);
			const res = await exports.default.fetch("https://b2g.test/hooks/orders", {
				method: "POST",
				headers: { "Content-Type": "application/json", "X-B2G-Site": "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": signOrderDelivery(secret, ts, body) },
				body,
			});
			expect(res.status, await res.clone().text()).toBe(200);
		}
		const ids = orders.map((p) => p.order!.order_id);
		const stored = await env.DB.prepare(`SELECT SUM(total_minor) AS total, COUNT(*) AS n FROM orders WHERE site = 'demo' AND order_id IN (${ids.map(() => "?").join(",")})`)
			.bind(...ids)
			.first<{ total: number; n: number }>();
		expect(stored).toEqual({ n: ids.length, total: orders.reduce((s, p) => s + Math.round(Number(p.order!.total) * 100), 0) });
	});
});
