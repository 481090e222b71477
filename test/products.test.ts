/**
 * GET /api/v1/products/performance and /products/{sku}/performance against a hand-computed store
 * (site pr, UTC, EUR, range 2026-11-01 … 2026-11-10); pure stock arithmetic with hand-made series.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { storeEvents } from "../workers/pipeline/archive";
import { daysOfCover, stockouts } from "../workers/products/stock";
import { api, storedEvent, userSession, apiWithCookie } from "./helpers";

const T = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

async function put(site: string, entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

async function get<R>(path: string): Promise<R> {
	const res = await api("GET", path);
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return JSON.parse(text) as R;
}

const ev = (visitor: string, iso: string, name: string, extra: Record<string, unknown> = {}) =>
	storedEvent({ site: "pr", visitor, ts: T(iso), received_at: T(iso), name, channel: "direct", device: "desktop", country: "ES", ...extra });

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('pr', 'Products', '[]', 'UTC', 'EUR', 0)").run();
	await put("pr", "products", [
		{ sku: "A", name: "Whey", price: 30, unit_cost: 18, category: "protein" },
		{ sku: "B", name: "Bar", price: "2.50", unit_cost: 1, category: "snacks" },
		{ sku: "C", name: "Creatine", price: 20, category: "protein" },
	]);
	await put("pr", "orders", [
		{ order_id: "o1", customer_id: "c1", placed_at: "2026-11-02T10:00:00Z", total: 70, currency: "EUR", items: [{ sku: "A", qty: 2, unit_price: 30 }, { sku: "B", qty: 4, unit_price: "2.50" }] },
		{ order_id: "o2", customer_id: "c2", placed_at: "2026-11-05T10:00:00Z", total: 30, currency: "EUR", items: [{ sku: "A", qty: 1, unit_price: 30 }] },
		{ order_id: "o3", customer_id: "c3", placed_at: "2026-11-06T10:00:00Z", total: 150, currency: "EUR", status: "cancelled", items: [{ sku: "A", qty: 5, unit_price: 30 }] },
	]);
	await put("pr", "refunds", [{ refund_id: "r1", order_id: "o1", created_at: "2026-11-07T09:00:00Z", amount: "2.50", currency: "EUR", is_return: true, sku: "B", qty: 1 }]);
	await put("pr", "inventory", [
		{ sku: "A", taken_at: "2026-10-30T00:00:00Z", stock: 50, reorder_point: 10 },
		{ sku: "A", taken_at: "2026-11-04T00:00:00Z", stock: 0, reorder_point: 10 },
		{ sku: "A", taken_at: "2026-11-06T12:00:00Z", stock: 40, reorder_point: 10 },
		{ sku: "B", taken_at: "2026-11-01T00:00:00Z", stock: 100 },
	]);
	await storeEvents(env.DB, [
		// v1 views A and buys it in one session; v2 views A and leaves.
		ev("v1", "2026-11-02T09:55:00Z", "product_view", { sku: "A" }),
		ev("v1", "2026-11-02T10:00:00Z", "purchase", { order_id: "o1", props: { items: [{ sku: "A", qty: 2 }, { sku: "B", qty: 4 }] } }),
		ev("v2", "2026-11-03T10:00:00Z", "product_view", { sku: "A" }),
	]);
});

interface Row {
	sku: string;
	name: string;
	category: string | null;
	price: number | null;
	unit_cost: number | null;
	revenue: number | null;
	units: number | null;
	gross_margin_pct: number | null;
	product_page_conversion_pct: number | null;
	return_rate_pct: number | null;
	stock: number | null;
	reorder_point: number | null;
	days_of_cover: number | null;
	stockout_days: number;
}

describe("stock arithmetic", () => {
	it("days of cover = stock ÷ average daily units", () => {
		expect(daysOfCover(40, 3, 30)).toBe(400); // 40 ÷ (3/30)
		expect(daysOfCover(7, 6, 30)).toBe(35);
		expect(daysOfCover(10, 0, 30)).toBeNull(); // no sales: no finite cover
		expect(daysOfCover(null, 5, 30)).toBeNull();
	});

	it("stockout intervals: the state before the range counts, snapshots hold until the next", () => {
		const d = (n: number) => n * DAY;
		// Out since day −1, restocked on day 2, out again at day 5 until the end (day 7).
		const s = stockouts([{ takenAt: d(-1), stock: 0 }, { takenAt: d(2), stock: 5 }, { takenAt: d(5), stock: 0 }, { takenAt: d(9), stock: 3 }], 0, d(7));
		expect(s.intervals).toEqual([{ from: 0, to: d(2) }, { from: d(5), to: d(7) }]);
		expect(s.days).toBe(4);
		expect(stockouts([], 0, d(3))).toEqual({ intervals: [], days: 0 });
		// Two zero snapshots in a row are one interval.
		expect(stockouts([{ takenAt: d(1), stock: 0 }, { takenAt: d(1.5), stock: 0 }, { takenAt: d(2.25), stock: 1 }], 0, d(3)).days).toBe(1.25);
	});
});

describe("GET /api/v1/products/performance", () => {
	it("lists every product with hand-computed sales, margin, conversion, returns and stock", async () => {
		const r = await get<{ products: Row[]; cover_days: number; currency: string }>("/api/v1/products/performance?site=pr&from=2026-11-01&to=2026-11-10");
		expect(r.cover_days).toBe(30);
		expect(r.products.map((p) => p.sku)).toEqual(["A", "B", "C"]); // by revenue: 90, 10, 0
		const [a, b, c] = r.products;
		expect(a).toEqual({
			sku: "A", name: "Whey", category: "protein", price: 30, unit_cost: 18,
			revenue: 90, // 2 × 30 + 1 × 30; the cancelled o3 counts nowhere
			units: 3,
			gross_margin_pct: 40, // (90 − 3 × 18) ÷ 90
			product_page_conversion_pct: 50, // 2 sessions viewed A, 1 bought it
			return_rate_pct: 0,
			stock: 40, reorder_point: 10, reorder_point_source: "store", stock_taken_at: T("2026-11-06T12:00:00Z"),
			days_of_cover: 400, // 40 ÷ (3 units / 30 days)
			stockout_days: 2.5, // out from 11-04 00:00 to 11-06 12:00
		});
		expect(b).toMatchObject({
			revenue: 10, units: 4,
			gross_margin_pct: 60, // (10 − 4 × 1) ÷ 10
			product_page_conversion_pct: null, // never viewed
			return_rate_pct: 25, // 1 returned of 4
			stock: 100, reorder_point: null, days_of_cover: 750, stockout_days: 0,
		});
		expect(c).toMatchObject({ revenue: 0, units: 0, gross_margin_pct: null, stock: null, days_of_cover: null, stockout_days: 0, price: 20, unit_cost: null });
	});

	it("sorts and filters by category", async () => {
		const r = await get<{ products: Row[] }>("/api/v1/products/performance?site=pr&from=2026-11-01&to=2026-11-10&sort=days_of_cover&category=protein");
		expect(r.products.map((p) => p.sku)).toEqual(["A", "C"]); // C has no cover: last
		// Regression: month 13 made isDay() throw a RangeError (a 500) instead of failing validation.
		const bad = await api("GET", "/api/v1/products/performance?site=pr&sort=price&from=2026-13-01");
		expect(bad.status).toBe(400);
		const fields = ((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field).sort();
		expect(fields).toEqual(["from", "sort"]);
	});
});

describe("GET /api/v1/products/{sku}/performance", () => {
	it("one product over time: price and margin, series, stock snapshots and stockouts", async () => {
		const r = await get<{
			product: Record<string, unknown>;
			totals: Record<string, number | null>;
			series: ({ period: string } & Record<string, number | null | string>)[];
			inventory: { stock: number; days_of_cover: number; stockout_days: number; snapshots: { taken_at: number; stock: number }[]; stockouts: { from: number; to: number }[] };
		}>("/api/v1/products/A/performance?site=pr&from=2026-11-01&to=2026-11-10&grain=day");
		expect(r.product).toEqual({ sku: "A", name: "Whey", category: "protein", brand: null, price: 30, unit_cost: 18, unit_margin: 12, unit_margin_pct: 40 });
		expect(r.totals).toEqual({ revenue: 90, units: 3, gross_margin_pct: 40, product_page_conversion_pct: 50, return_rate_pct: 0 });
		expect(r.series).toHaveLength(10);
		const byDay = new Map(r.series.map((p) => [p.period, p]));
		expect(byDay.get("2026-11-02")).toMatchObject({ revenue: 60, units: 2, product_page_conversion_pct: 100 });
		expect(byDay.get("2026-11-03")).toMatchObject({ revenue: 0, units: 0, product_page_conversion_pct: 0 });
		expect(byDay.get("2026-11-05")).toMatchObject({ revenue: 30, units: 1 });
		expect(r.inventory.snapshots.map((s) => s.stock)).toEqual([0, 40]); // in the range; the 10-30 one only sets the start
		expect(r.inventory.stockouts).toEqual([{ from: T("2026-11-04T00:00:00Z"), to: T("2026-11-06T12:00:00Z") }]);
		expect(r.inventory).toMatchObject({ stock: 40, days_of_cover: 400, stockout_days: 2.5 });
	});

	it("answers 404 for an unknown SKU and hides nothing from operations (product KPIs are not strategic)", async () => {
		expect((await api("GET", "/api/v1/products/NOPE/performance?site=pr")).status).toBe(404);
		const { cookie } = await userSession("operations");
		const res = await apiWithCookie("GET", "/api/v1/products/performance?site=pr&from=2026-11-01&to=2026-11-10", cookie);
		expect(res.status).toBe(200);
		expect(((await res.json()) as { products: Row[] }).products[0]).toMatchObject({ sku: "A", revenue: 90, gross_margin_pct: 40 });
	});
});
