/**
 * Every KPI against a small hand-made store whose expected values are worked out by hand in the
 * comments. Data goes in through the public upsert API (so the rollup triggers fire as in production)
 * and events through the queue consumer's storeEvents; answers come from GET /api/v1/kpis.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runMaintenance } from "../workers/jobs/scheduled";
import { reroll } from "../workers/metrics/rollup";
import { storeEvents } from "../workers/pipeline/archive";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { app } from "../workers/app";
import { ADMIN_KEY, api, apiWithCookie, storedEvent, userSession, waitFor } from "./helpers";

const exports_fetch = (path: string, headers: Record<string, string>) => exports.default.fetch(`https://b2g.test${path}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}`, ...headers } });

type P = { value: number | null; compare?: number | null; delta?: number | null; delta_pct?: number | null; target?: number; progress?: number | null };
type K = { id: string; unit: string; total: P; series: (P & { period: string; from: string; to: string })[]; groups?: { key: string; total: P; series: P[] }[] };
type R = { kpis: K[]; compare_from: string | null; compare_to: string | null };

async function put(site: string, entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

async function kpis(site: string, query: string): Promise<R> {
	const res = await api("GET", `/api/v1/kpis?site=${site}&${query}`);
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return JSON.parse(text) as R;
}

async function totals(site: string, ids: string[], from: string, to: string): Promise<Record<string, number | null>> {
	const r = await kpis(site, `ids=${ids.join(",")}&from=${from}&to=${to}`);
	return Object.fromEntries(r.kpis.map((k) => [k.id, k.total.value]));
}

async function addSite(id: string, timezone: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

const T = (iso: string) => Date.parse(iso);
const ev = (site: string, visitor: string, iso: string, name: string, extra: Record<string, unknown> = {}) =>
	storedEvent({ site, visitor, ts: T(iso), received_at: T(iso), name, channel: "paid_search", device: "desktop", country: "ES", ...extra });

beforeAll(async () => {
	await addSite("k1", "UTC");
	await put("k1", "customers", [
		{ customer_id: "c1", created_at: "2026-02-01", country: "ES" },
		{ customer_id: "c2", created_at: "2026-02-01", country: "FR" },
		{ customer_id: "c3", created_at: "2026-02-01", country: "ES" },
	]);
	// A has a cost, B none (its lines are left out of margin), C costs 1.00.
	await put("k1", "products", [
		{ sku: "A", name: "Whey", price: 10, unit_cost: "4.00", category: "whey" },
		{ sku: "B", name: "Bar", price: 5, category: "bars" },
		{ sku: "C", name: "Vitamin C", price: 10, unit_cost: "1.00", category: "vitamins" },
	]);
	await put("k1", "orders", [
		// revenue = total − tax: o1 20.00, o2 10.00, o3 30.00; o4 is cancelled and counts nowhere.
		{ order_id: "o1", customer_id: "c1", placed_at: "2026-03-01T10:00:00Z", shipped_at: "2026-03-02T10:00:00Z", total: "24.20", tax: "4.20", currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 2, unit_price: "10.00" }] },
		{ order_id: "o2", customer_id: "c2", placed_at: "2026-03-01T12:00:00Z", total: "12.10", tax: "2.10", currency: "EUR", channel: "organic", items: [{ sku: "B", qty: 1, unit_price: 5 }, { sku: "C", qty: 1, unit_price: 5 }] },
		{ order_id: "o3", customer_id: "c1", placed_at: "2026-03-02T09:00:00Z", shipped_at: "2026-03-04T09:00:00Z", total: 30, currency: "EUR", channel: "paid_search", is_subscription: true, items: [{ sku: "C", qty: 3, unit_price: 10 }] },
		{ order_id: "o4", customer_id: "c3", placed_at: "2026-03-02T10:00:00Z", total: 50, currency: "EUR", channel: "email", status: "cancelled", items: [{ sku: "A", qty: 1, unit_price: 50 }] },
	]);
	await put("k1", "refunds", [
		{ refund_id: "r1", order_id: "o1", created_at: "2026-03-03T08:00:00Z", amount: 10, currency: "EUR", is_return: true, sku: "A", qty: 1, reason: "changed mind" },
		{ refund_id: "r2", order_id: "o3", created_at: "2026-03-02T20:00:00Z", amount: 5, currency: "EUR", reason: "damaged item (goodwill)" },
		{ refund_id: "r3", order_id: "o4", created_at: "2026-03-02T11:00:00Z", amount: 50, currency: "EUR", reason: "cancelled by customer" },
	]);
	await put("k1", "spend", [
		{ day: "2026-03-01", channel: "paid_search", amount: 30, currency: "EUR" },
		{ day: "2026-03-02", channel: "paid_search", amount: 10, currency: "EUR" },
		{ day: "2026-03-02", channel: "email", amount: 5, currency: "EUR" },
	]);
	await put("k1", "tickets", [
		{ ticket_id: "t1", opened_at: "2026-03-01T09:00:00Z", first_response_at: "2026-03-01T10:00:00Z", resolved_at: "2026-03-01T13:00:00Z" }, // 4 h
		{ ticket_id: "t2", opened_at: "2026-03-02T09:00:00Z", resolved_at: "2026-03-02T11:00:00Z" }, // 2 h
		{ ticket_id: "t3", opened_at: "2026-03-02T10:00:00Z" }, // open
		{ ticket_id: "t4", opened_at: "2026-03-03T00:00:00Z", resolved_at: "2026-03-03T09:00:00Z" }, // 9 h
	]);
	await put("k1", "surveys", [
		...[10, 9, 7, 3, 0, 10].map((score, i) => ({ response_id: `n${i}`, kind: "nps", score, responded_at: "2026-03-02T12:00:00Z" })),
		...[5, 4, 2].map((score, i) => ({ response_id: `s${i}`, kind: "csat", score, responded_at: "2026-03-03T12:00:00Z" })),
	]);
	await put("k1", "inventory", [
		{ sku: "A", taken_at: "2026-03-01T08:00:00Z", stock: 10, reorder_point: 5 },
		{ sku: "A", taken_at: "2026-03-01T20:00:00Z", stock: 8, reorder_point: 5 }, // the day's last snapshot counts
		{ sku: "B", taken_at: "2026-03-01T20:00:00Z", stock: 0, reorder_point: 3 },
		{ sku: "A", taken_at: "2026-03-02T20:00:00Z", stock: 0, reorder_point: 5 },
		{ sku: "B", taken_at: "2026-03-02T20:00:00Z", stock: 5, reorder_point: 3 },
	]);
	await put("k1", "suppliers", { supplier_id: "s1", name: "Supplier" });
	await put("k1", "deliveries", [
		{ delivery_id: "d1", supplier_id: "s1", ordered_at: "2026-02-21T10:00:00Z", promised_at: "2026-03-01T12:00:00Z", delivered_at: "2026-03-01T10:00:00Z" }, // 8 days, on time
		{ delivery_id: "d2", supplier_id: "s1", ordered_at: "2026-02-22T10:00:00Z", promised_at: "2026-03-02T10:00:00Z", delivered_at: "2026-03-04T10:00:00Z" }, // 10 days, late
		{ delivery_id: "d3", supplier_id: "s1", ordered_at: "2026-02-25T10:00:00Z", promised_at: "2026-03-03T10:00:00Z" }, // not delivered
	]);
	await storeEvents(env.DB, [
		// v1: a converting session (5 events, 4 minutes), then a bounce 5 hours later.
		ev("k1", "v1", "2026-03-01T10:00:00Z", "page_view"),
		ev("k1", "v1", "2026-03-01T10:01:00Z", "product_view", { sku: "A" }),
		ev("k1", "v1", "2026-03-01T10:02:00Z", "add_to_cart", { sku: "A" }),
		ev("k1", "v1", "2026-03-01T10:03:00Z", "begin_checkout"),
		ev("k1", "v1", "2026-03-01T10:04:00Z", "purchase", { order_id: "o1", props: { items: [{ sku: "A", qty: 2 }] } }),
		ev("k1", "v1", "2026-03-01T15:00:00Z", "page_view"),
		// v2: views B, adds to cart, leaves (6 minutes). v3: one page view.
		ev("k1", "v2", "2026-03-01T11:00:00Z", "page_view"),
		ev("k1", "v2", "2026-03-01T11:05:00Z", "product_view", { sku: "B" }),
		ev("k1", "v2", "2026-03-01T11:06:00Z", "add_to_cart", { sku: "B" }),
		ev("k1", "v3", "2026-03-01T12:00:00Z", "page_view"),
	]);
});

describe("KPI values against a hand-computed store (site k1, 2026-03-01 … 03-03)", () => {
	const range = ["2026-03-01", "2026-03-03"] as const;

	it("the dashboard's counts and money: sessions, visitors, COGS, refunds, tickets", async () => {
		expect(await totals("k1", ["sessions", "visitors", "cogs", "refunds", "tickets_opened", "tickets_unresolved"], ...range)).toEqual({
			sessions: 4, // v1 twice (the bounce 5 h later is a new session), v2, v3
			visitors: 3, // v1, v2, v3 on 03-01
			cogs: 12, // costed lines: A 2 × 4.00, C 1 × 1.00, C 3 × 1.00 (B has no cost; o4 is cancelled)
			refunds: 15, // r1 10 + r2 5; r3 refunds the cancelled o4
			tickets_opened: 4,
			tickets_unresolved: 1, // t3
		});
	});

	it("financial KPIs", async () => {
		expect(await totals("k1", ["revenue", "net_revenue", "orders", "aov", "gross_margin", "gross_profit", "units_sold", "product_revenue", "new_customers", "marketing_spend", "cac", "roas", "mrr", "arr", "revenue_per_visitor"], ...range)).toEqual({
			revenue: 60, // 20 + 10 + 30
			net_revenue: 45, // 60 − 10 − 5 (r3 refunds the cancelled o4: excluded)
			orders: 3,
			aov: 20,
			gross_margin: 78.1818, // costed lines: A 20.00 (cost 8), C 5.00 (1), C 30.00 (3): (55 − 12) ÷ 55
			gross_profit: 43,
			units_sold: 7, // 2 + 1 + 1 + 3
			product_revenue: 60, // line revenue: o1 2 × 10, o2 5 + 5, o3 3 × 10
			new_customers: 2, // c1 (o1) and c2 (o2); o3 is c1's second; c3's only order is cancelled
			marketing_spend: 45,
			cac: 22.5, // 45 ÷ 2
			roas: 1.3333, // 60 ÷ 45
			mrr: 304.37, // 30.00 of subscription revenue over 3 days × (30.436875 ÷ 3)
			arr: 3652.43, // 304.36875 × 12 = 3652.425
			revenue_per_visitor: 20, // 60 ÷ 3 visitors
		});
		// CAC payback: CAC 22.50 ÷ monthly gross profit per customer (43.00 ÷ (0 active + 2 new) ÷ (3 ÷ 30.436875) months = 218.13) = 0.1031 → 0.10
		expect(await totals("k1", ["cac_payback_months"], ...range)).toEqual({ cac_payback_months: 0.1 });
	});

	it("conversion KPIs (4 sessions: v1 converts, v2 abandons its cart, v3 and v1's second visit bounce)", async () => {
		expect(await totals("k1", ["conversion_rate", "cart_abandonment", "checkout_completion", "product_page_conversion", "funnel_view_to_cart", "funnel_cart_to_checkout", "funnel_checkout_to_purchase", "cross_sell_rate", "return_customer_rate"], ...range)).toEqual({
			conversion_rate: 25, // 1 purchasing session of 4
			cart_abandonment: 50, // 2 cart sessions, 1 purchased
			checkout_completion: 100,
			product_page_conversion: 50, // A viewed and bought in 1 session, B viewed in 1 and not bought
			funnel_view_to_cart: 100, // 2 view sessions, both added to cart
			funnel_cart_to_checkout: 50,
			funnel_checkout_to_purchase: 100,
			cross_sell_rate: 33.3333, // o2 has two SKUs, of 3 orders
			return_customer_rate: 33.3333, // o3 is c1's second order
		});
	});

	it("customer KPIs", async () => {
		expect(await totals("k1", ["nps", "csat", "engagement_score", "ticket_resolution_rate", "ticket_resolution_hours"], ...range)).toEqual({
			nps: 16.6667, // promoters 10, 9, 10; detractors 3, 0; of 6 → (3 − 2) ÷ 6
			csat: 66.6667, // 5 and 4 of 5, 4, 2
			engagement_score: 40, // pages/session 1 → 0.2; avg duration (4 + 6 + 0 + 0 min) ÷ 4 = 150 s → 0.5; bounces 2 of 4 → 0.5; (0.2 + 0.5 + 0.5) ÷ 3
			ticket_resolution_rate: 75, // t1, t2, t4 of 4
			ticket_resolution_hours: 4, // median of 4 h, 2 h, 9 h
		});
	});

	it("churn and retention: c2 (last order 03-01) is last active on 05-30, c1 (03-02) on 05-31", async () => {
		expect(await totals("k1", ["active_customers", "churn_rate", "retention_rate"], "2026-04-15", "2026-05-30")).toEqual({ active_customers: 2, churn_rate: 50, retention_rate: 50 });
		expect(await totals("k1", ["active_customers", "churn_rate"], "2026-05-31", "2026-06-30")).toEqual({ active_customers: 1, churn_rate: 100 });
		expect(await totals("k1", ["active_customers", "churn_rate"], "2026-06-01", "2026-06-30")).toEqual({ active_customers: 0, churn_rate: null });
		// Active on 03-02: c1 and c2 (ordered 03-01); o3 on 03-02 extends c1 but the base is taken at the start.
		expect(await totals("k1", ["active_customers"], "2026-03-02", "2026-03-02")).toEqual({ active_customers: 2 });
		// CLV needs a churn: over March nobody lapses, so lifetime is unbounded and CLV has no value.
		expect(await totals("k1", ["clv"], ...range)).toEqual({ clv: null });
		// 03-02 … 05-31 (91 days = m months): 2 active at the start, no new customers, both lapse → monthly churn 1 ÷ m;
		// revenue 30.00 (o3), margin 90 % (C: 30.00 at cost 3.00): (30 ÷ 2 ÷ m) × m × 0.9 = 13.50.
		expect(await totals("k1", ["clv"], "2026-03-02", "2026-05-31")).toEqual({ clv: 13.5 });
	});

	it("operational KPIs", async () => {
		expect(await totals("k1", ["inventory_turnover", "stockout_rate", "fulfilment_hours", "shipping_accuracy", "return_rate", "product_return_rate", "supplier_on_time", "supplier_lead_time_variance"], ...range)).toEqual({
			inventory_turnover: 0.75, // COGS 12.00 ÷ average inventory value (8 × 4.00 on 03-01, 0 on 03-02 → 16.00)
			stockout_rate: 50, // B on 03-01, A on 03-02, of 4 SKU-days
			fulfilment_hours: 36, // o1 24 h, o3 48 h
			shipping_accuracy: 50, // r2 "damaged item" of 2 shipped orders
			return_rate: 33.3333, // r1 of 3 orders
			product_return_rate: 14.2857, // 1 returned unit of 7 sold
			supplier_on_time: 50, // d1 on time, d2 late, d3 not delivered
			supplier_lead_time_variance: 2, // lead times 8 and 10 days: ((64 + 100) − 18² ÷ 2) ÷ 1
		});
	});

	it("daily series: a day whose refunds exceed its sales goes negative, and a day without orders has no AOV", async () => {
		const r = await kpis("k1", "ids=revenue,net_revenue,aov,orders&from=2026-03-01&to=2026-03-03&grain=day");
		const series = (id: string) => r.kpis.find((k) => k.id === id)?.series.map((p) => [p.period, p.value]);
		expect(series("revenue")).toEqual([["2026-03-01", 30], ["2026-03-02", 30], ["2026-03-03", 0]]);
		expect(series("net_revenue")).toEqual([["2026-03-01", 30], ["2026-03-02", 25], ["2026-03-03", -10]]);
		expect(series("aov")).toEqual([["2026-03-01", 15], ["2026-03-02", 30], ["2026-03-03", null]]);
	});

	it("breaks down by channel, country, product and category", async () => {
		const group = async (ids: string, by: string) => {
			const r = await kpis("k1", `ids=${ids}&from=2026-03-01&to=2026-03-03&by=${by}`);
			return Object.fromEntries(r.kpis.map((k) => [k.id, Object.fromEntries((k.groups ?? []).map((g) => [g.key, g.total.value]))]));
		};
		expect(await group("revenue,cac,orders", "channel")).toEqual({
			revenue: { organic: 10, paid_search: 50, email: 0 },
			cac: { organic: null, paid_search: 40, email: null }, // paid_search: 40 of spend, 1 first order (o1); email: 5 of spend, none; organic: no spend recorded is no data, not 0 (issue 15)
			orders: { organic: 1, paid_search: 2, email: 0 },
		});
		expect(await group("revenue", "country")).toEqual({ revenue: { ES: 50, FR: 10 } });
		expect(await group("product_gross_margin,units_sold,product_return_rate", "product")).toEqual({
			product_gross_margin: { A: 60, B: null, C: 88.5714 }, // A (20 − 8) ÷ 20; B has no cost; C: revenue 5 + 30, cost 1 + 3 → 31 ÷ 35
			units_sold: { A: 2, B: 1, C: 4 },
			product_return_rate: { A: 50, B: 0, C: 0 },
		});
		expect(await group("product_revenue", "category")).toEqual({ product_revenue: { whey: 20, bars: 5, vitamins: 35 } });
		expect(await group("conversion_rate", "device")).toEqual({ conversion_rate: { desktop: 25 } });
	});
});

describe("comparisons, growth and targets", () => {
	beforeAll(async () => {
		await addSite("kg", "UTC");
		await put("kg", "orders", [
			{ order_id: "g0", customer_id: "x", placed_at: "2025-03-05T10:00:00Z", total: 15, currency: "EUR" },
			{ order_id: "g1", customer_id: "x", placed_at: "2026-01-15T10:00:00Z", total: 10, currency: "EUR" },
			{ order_id: "g2", customer_id: "x", placed_at: "2026-02-10T10:00:00Z", total: 20, currency: "EUR" },
			{ order_id: "g3", customer_id: "x", placed_at: "2026-03-05T10:00:00Z", total: 30, currency: "EUR" },
		]);
	});

	it("compares with the previous period of equal length and with last year", async () => {
		const prev = await kpis("kg", "ids=revenue,orders&from=2026-02-01&to=2026-03-31&grain=month&compare=previous");
		expect([prev.compare_from, prev.compare_to]).toEqual(["2025-12-01", "2026-01-31"]); // whole months shift by whole months
		const rev = prev.kpis[0] as K;
		expect(rev.total).toEqual({ value: 50, compare: 10, delta: 40, delta_pct: 400 });
		expect(rev.series.map((p) => [p.period, p.value, p.compare])).toEqual([["2026-02", 20, 0], ["2026-03", 30, 10]]);
		const yoy = await kpis("kg", "ids=revenue&from=2026-03-01&to=2026-03-31&compare=yoy&grain=month");
		expect(yoy.kpis[0]?.total).toEqual({ value: 30, compare: 15, delta: 15, delta_pct: 100 });
		const days = await kpis("kg", "ids=orders&from=2026-03-04&to=2026-03-06&compare=previous");
		expect([days.compare_from, days.compare_to]).toEqual(["2026-03-01", "2026-03-03"]);
	});

	it("computes month-over-month and year-over-year growth", async () => {
		const r = await kpis("kg", "ids=revenue_growth_mom,revenue_growth_yoy&from=2026-02-01&to=2026-03-31&grain=month");
		const [mom, yoy] = r.kpis as [K, K];
		expect(mom.series.map((p) => p.value)).toEqual([100, 50]); // Feb 20 vs Jan 10; Mar 30 vs Feb 20
		expect(mom.total.value).toBe(400); // Feb + Mar 50 vs Dec + Jan 10
		expect(yoy.series.map((p) => p.value)).toEqual([null, 100]); // Feb 2025 had nothing; Mar 30 vs 15
		expect(yoy.total.value).toBe(233.3333); // 50 vs 15
	});

	it("stores targets and reports progress for matching periods", async () => {
		const res = await api("PUT", "/api/v1/targets?site=kg", [{ kpi: "revenue", period: "2026-03", value: 40 }, { kpi: "revenue", period: "2026-02", value: 20 }]);
		expect(await res.json()).toMatchObject({ received: 2, rows_changed: 2 });
		const again = await api("PUT", "/api/v1/targets?site=kg", { kpi: "revenue", period: "2026-03", value: 40 });
		expect(await again.json()).toMatchObject({ rows_changed: 0 });
		const r = await kpis("kg", "ids=revenue&from=2026-02-01&to=2026-03-31&grain=month");
		expect(r.kpis[0]?.series.map((p) => [p.period, p.target, p.progress])).toEqual([["2026-02", 20, 100], ["2026-03", 40, 75]]);
		const march = await kpis("kg", "ids=revenue&from=2026-03-01&to=2026-03-31&grain=month");
		expect(march.kpis[0]?.total).toMatchObject({ value: 30, target: 40, progress: 75 });
		const list = await api("GET", "/api/v1/targets?site=kg&kpi=revenue");
		expect(((await list.json()) as { targets: unknown[] }).targets).toHaveLength(2);
		const bad = await api("PUT", "/api/v1/targets?site=kg", [{ kpi: "revenue", period: "2026-13", value: 1 }, { kpi: "nope", period: "2026", value: "x" }]);
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toEqual(["[0].period", "[1].kpi", "[1].value"]);
	});
});

describe("days are the site's local days", () => {
	it("puts an order at 23:30 UTC on the next Madrid day, and handles the 23-hour DST day", async () => {
		await addSite("kmad", "Europe/Madrid");
		await put("kmad", "orders", [
			{ order_id: "m1", customer_id: "x", placed_at: "2026-03-01T22:59:00Z", total: 1, currency: "EUR" }, // 23:59 on 03-01 in Madrid
			{ order_id: "m2", customer_id: "x", placed_at: "2026-03-01T23:30:00Z", total: 2, currency: "EUR" }, // 00:30 on 03-02
			{ order_id: "m3", customer_id: "y", placed_at: "2026-03-28T23:30:00Z", total: 4, currency: "EUR" }, // 00:30 on 03-29 (DST starts 02:00)
			{ order_id: "m4", customer_id: "y", placed_at: "2026-03-29T21:59:00Z", total: 8, currency: "EUR" }, // 23:59 CEST on 03-29
			{ order_id: "m5", customer_id: "y", placed_at: "2026-03-29T22:00:00Z", total: 16, currency: "EUR" }, // 00:00 CEST on 03-30
		]);
		const r = await kpis("kmad", "ids=revenue&from=2026-03-01&to=2026-03-30&grain=day");
		const byDay = Object.fromEntries((r.kpis[0] as K).series.filter((p) => p.value).map((p) => [p.period, p.value]));
		expect(byDay).toEqual({ "2026-03-01": 1, "2026-03-02": 2, "2026-03-29": 12, "2026-03-30": 16 });
	});
});

describe("late and corrected data re-roll the days they touch", () => {
	it("a correction, a late earlier order and a late refund all show in the next answer", async () => {
		await addSite("klate", "UTC");
		await put("klate", "orders", { order_id: "l2", customer_id: "c", placed_at: "2026-04-10T10:00:00Z", total: 20, currency: "EUR" });
		expect(await totals("klate", ["revenue", "new_customers"], "2026-04-01", "2026-04-30")).toEqual({ revenue: 20, new_customers: 1 });
		await put("klate", "orders", { order_id: "l2", customer_id: "c", placed_at: "2026-04-10T10:00:00Z", total: 25, currency: "EUR" });
		// A late order placed earlier makes l2 a returning customer's order.
		await put("klate", "orders", { order_id: "l1", customer_id: "c", placed_at: "2026-03-20T10:00:00Z", total: 5, currency: "EUR" });
		await put("klate", "refunds", { refund_id: "lr", order_id: "l2", created_at: "2026-04-12T00:00:00Z", amount: 30, currency: "EUR" });
		expect(await totals("klate", ["revenue", "net_revenue", "new_customers", "return_customer_rate"], "2026-04-01", "2026-04-30")).toEqual({
			revenue: 25, net_revenue: -5, new_customers: 0, return_customer_rate: 100,
		});
		// Cancelling the order removes it and its refund.
		await put("klate", "orders", { order_id: "l2", customer_id: "c", placed_at: "2026-04-10T10:00:00Z", total: 25, currency: "EUR", status: "cancelled" });
		expect(await totals("klate", ["revenue", "net_revenue", "orders"], "2026-04-01", "2026-04-30")).toEqual({ revenue: 0, net_revenue: 0, orders: 0 });
		// The query re-rolled the days it read; only l1's March hour (outside the range) waits for the cron sweep.
		const dirty = await env.DB.prepare("SELECT source, hour FROM rollup_dirty WHERE site = 'klate'").all();
		expect(dirty.results).toEqual([{ source: "sales", hour: T("2026-03-20T10:00:00Z") / 3_600_000 }]);
	});

	it("a finished bulk import brings the rollups up to date without any query", async () => {
		await addSite("kimp", "UTC");
		const body = [
			{ order_id: "i1", customer_id: "a", placed_at: "2026-02-01T10:00:00Z", total: 10, currency: "EUR" },
			{ order_id: "i2", customer_id: "b", placed_at: "2026-02-02T10:00:00Z", total: 15, currency: "EUR" },
		].map((o) => JSON.stringify(o)).join("\n");
		const res = await exports.default.fetch("https://b2g.test/api/v1/import/orders?site=kimp&format=ndjson", { method: "POST", headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body });
		expect(res.status).toBe(202);
		const rows = await waitFor(async () => {
			const r = await env.DB.prepare("SELECT day, orders, revenue FROM kpi_sales_daily WHERE site = 'kimp' AND channel = '' AND country = '' ORDER BY day").all();
			const dirty = await env.DB.prepare("SELECT COUNT(*) AS n FROM rollup_dirty WHERE site = 'kimp'").first<{ n: number }>();
			return r.results.length === 2 && dirty?.n === 0 ? r.results : undefined;
		});
		expect(rows).toEqual([{ day: "2026-02-01", orders: 1, revenue: 1000 }, { day: "2026-02-02", orders: 1, revenue: 1500 }]);
	});

	it("re-rolls in bounded steps, never splitting an hour, oldest first", async () => {
		await addSite("kstep", "UTC");
		await put("kstep", "orders", ["2026-06-01T10:00:00Z", "2026-06-01T10:30:00Z", "2026-06-02T09:00:00Z", "2026-06-03T09:00:00Z"].map((placed_at, i) => ({ order_id: `s${i}`, customer_id: `c${i}`, placed_at, total: 1, currency: "EUR" })));
		const site = { id: "kstep", timezone: "UTC" };
		expect(await reroll(env.DB, site, { maxHours: 1 })).toEqual({ days: 1, customers: true, remaining: true });
		const left = async () => (await env.DB.prepare("SELECT hour FROM rollup_dirty WHERE site = 'kstep' ORDER BY hour").all<{ hour: number }>()).results.map((r) => r.hour);
		expect(await left()).toEqual([T("2026-06-02T09:00:00Z") / 3_600_000, T("2026-06-03T09:00:00Z") / 3_600_000]);
		expect(await reroll(env.DB, site, { maxHours: 5 })).toEqual({ days: 2, customers: true, remaining: false });
		expect(await left()).toEqual([]);
		expect(await totals("kstep", ["orders"], "2026-06-01", "2026-06-03")).toEqual({ orders: 4 });
	});

	it("the cron sweep re-rolls what no query asked for", async () => {
		await runMaintenance(env, Date.now());
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM rollup_dirty WHERE site = 'klate'").first<{ n: number }>())?.n).toBe(0);
		expect(await env.DB.prepare("SELECT day, orders, revenue FROM kpi_sales_daily WHERE site = 'klate' AND channel = '' AND country = ''").all().then((r) => r.results)).toEqual([{ day: "2026-03-20", orders: 1, revenue: 500 }]);
	});

	it("a total is the same with or without a breakdown: a visitor seen through two channels is one visitor", async () => {
		await addSite("kbreak", "UTC");
		await put("kbreak", "orders", { order_id: "b1", customer_id: "x", placed_at: "2026-07-01T12:00:00Z", total: 30, currency: "EUR", channel: "email" });
		await storeEvents(env.DB, [
			ev("kbreak", "v", "2026-07-01T09:00:00Z", "page_view", { channel: "organic" }),
			ev("kbreak", "v", "2026-07-01T15:00:00Z", "page_view", { channel: "email" }),
		]);
		const plain = await kpis("kbreak", "ids=revenue_per_visitor&from=2026-07-01&to=2026-07-01");
		const split = await kpis("kbreak", "ids=revenue_per_visitor&from=2026-07-01&to=2026-07-01&by=channel");
		expect(plain.kpis[0]?.total.value).toBe(30); // 30.00 ÷ 1 visitor
		expect(split.kpis[0]?.total.value).toBe(30);
		expect(Object.fromEntries((split.kpis[0]?.groups ?? []).map((g) => [g.key, g.total.value]))).toEqual({ email: 30, organic: 0 });
	});

	it("an empty site answers zeros and nulls, never errors", async () => {
		await addSite("kempty", "UTC");
		expect(await totals("kempty", ["revenue", "aov", "conversion_rate", "revenue_per_visitor", "nps", "churn_rate", "inventory_turnover"], "2026-01-01", "2026-01-31")).toEqual({
			revenue: 0, aov: null, conversion_rate: null, revenue_per_visitor: null, nps: null, churn_rate: null, inventory_turnover: null,
		});
	});
});

describe("the API around the numbers", () => {
	it("validates the query and names the field", async () => {
		const cases: [string, string][] = [
			["ids=revenue,bogus", "ids"],
			["from=2026-02-30", "from"],
			["grain=hour", "grain"],
			["compare=lastweek", "compare"],
			["by=planet", "by"],
			["ids=nps&by=channel", "by"],
			["from=2026-03-10&to=2026-03-01", "from"],
			["from=2010-01-01&to=2026-01-01", "from"],
			["colour=red", "colour"],
		];
		for (const [query, field] of cases) {
			const res = await api("GET", `/api/v1/kpis?site=k1&${query}`);
			expect(res.status, query).toBe(400);
			expect(((await res.json()) as { fields: { field: string }[] }).fields.map((f) => f.field), query).toContain(field);
		}
	});

	it("lists the catalogue with formulas, units and breakdowns", async () => {
		const res = await api("GET", "/api/v1/kpis/catalog?site=k1");
		const { kpis: list } = (await res.json()) as { kpis: { id: string; formula: string; unit: string; area: string; breakdowns: string[] }[] };
		expect(list.length).toBeGreaterThanOrEqual(40);
		for (const k of list) expect(k.formula.length, k.id).toBeGreaterThan(2);
		expect(list.find((k) => k.id === "revenue")?.breakdowns).toEqual(["channel", "country", "segment"]);
		expect(new Set(list.map((k) => k.area))).toEqual(new Set(["financial", "conversion", "customer", "operational"]));
	});

	it("shows each role its KPIs: operations gets no strategic ones in the catalogue or the default set", async () => {
		const { cookie } = await userSession("operations");
		const catalog = (await (await apiWithCookie("GET", "/api/v1/kpis/catalog?site=k1", cookie)).json()) as { kpis: { id: string }[] };
		const ids = catalog.kpis.map((k) => k.id);
		expect(ids).toContain("fulfilment_hours");
		for (const hidden of ["mrr", "arr", "cac", "clv", "marketing_spend", "roas", "cac_payback_months"]) expect(ids).not.toContain(hidden);
		const dash = (await (await apiWithCookie("GET", "/api/v1/kpis?site=k1&from=2026-03-01&to=2026-03-03", cookie)).json()) as R;
		expect(dash.kpis.map((k) => k.id)).toEqual(["revenue", "net_revenue", "orders", "aov", "conversion_rate", "gross_margin", "new_customers", "return_customer_rate", "revenue_per_visitor"]);
		const { cookie: exec } = await userSession("executive");
		const all = (await (await apiWithCookie("GET", "/api/v1/kpis?site=k1&from=2026-03-01&to=2026-03-03", exec)).json()) as R;
		expect(all.kpis.map((k) => k.id)).toContain("cac");
	});

	it("serves a repeated query from the edge cache for KPI_CACHE_SECONDS; Cache-Control: no-cache recomputes", async () => {
		await addSite("kcache", "UTC");
		await put("kcache", "orders", { order_id: "q1", customer_id: "x", placed_at: "2026-05-01T10:00:00Z", total: 10, currency: "EUR" });
		const cachedEnv = { ...env, KPI_CACHE_SECONDS: "60" };
		const ask = async (headers: Record<string, string> = {}) => {
			const ctx = createExecutionContext();
			const res = await app.fetch(new Request("https://b2g.test/api/v1/kpis?site=kcache&ids=revenue&from=2026-05-01&to=2026-05-31", { headers: { Authorization: `Bearer ${ADMIN_KEY}`, ...headers } }), cachedEnv, ctx);
			await waitOnExecutionContext(ctx);
			expect(res.headers.get("Cache-Control")).toBe("private, max-age=60");
			return ((await res.json()) as R).kpis[0]?.total.value;
		};
		expect(await ask()).toBe(10);
		await put("kcache", "orders", { order_id: "q2", customer_id: "x", placed_at: "2026-05-02T10:00:00Z", total: 5, currency: "EUR" });
		expect(await ask()).toBe(10); // the stored answer
		expect(await ask({ "Cache-Control": "no-cache" })).toBe(15);
		expect(await ask()).toBe(15); // refreshed by the no-cache request
	});

	it("exports CSV and answers 304 to a matching If-None-Match", async () => {
		const csv = await api("GET", "/api/v1/kpis?site=k1&ids=revenue,orders&from=2026-03-01&to=2026-03-02&format=csv");
		expect(csv.headers.get("Content-Type")).toContain("text/csv");
		expect((await csv.text()).split("\r\n").slice(0, 4)).toEqual([
			"kpi,name,unit,group,period,from,to,value,compare,delta,delta_pct,target,progress",
			"revenue,Revenue,currency,,total,2026-03-01,2026-03-02,60,,,,,",
			"revenue,Revenue,currency,,2026-03-01,2026-03-01,2026-03-01,30,,,,,",
			"revenue,Revenue,currency,,2026-03-02,2026-03-02,2026-03-02,30,,,,,",
		]);
		const first = await api("GET", "/api/v1/kpis?site=k1&ids=revenue&from=2026-03-01&to=2026-03-02");
		const etag = first.headers.get("ETag");
		expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
		const second = await exports_fetch("/api/v1/kpis?site=k1&ids=revenue&from=2026-03-01&to=2026-03-02", { "If-None-Match": etag ?? "" });
		expect(second.status).toBe(304);
	});
});

