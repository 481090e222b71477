/**
 * Customers API (workers/customers/): the pure segment and journey computations fed with arrays, then
 * the routes against a small hand-made store whose every count is worked out in the comments. Commerce
 * data goes in through the public upsert API, events through the queue consumer's storeEvents.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createKey } from "../workers/auth/keys";
import { journeyCounter, NO_PAGE_VIEW, OTHER, PAGE_VIEW, PURCHASE, type EventKind } from "../workers/customers/journeys";
import { customerOverview, frequencyBucket, primaryDevices, type RangeCustomer } from "../workers/customers/overview";
import { decodeCursor, encodeCursor, JOURNEY_SQL, readJourneys } from "../workers/customers/read";
import { storeEvents } from "../workers/pipeline/archive";
import { api, apiWithCookie, storedEvent, userSession } from "./helpers";

type Json = Record<string, unknown>;
type ErrorJson = { error: string; message: string; fields?: { field: string; message: string }[] };
type Segment = { key: string; customers: number; share_pct: number | null; orders: number; revenue: number };
type Overview = { from: string; to: string; range_from: number; range_before: number; totals: Json; by_country: Segment[]; by_channel: Segment[]; by_device: Segment[]; purchase_frequency: Segment[] };
type ListItem = { id: string; orders: number; revenue: number; email?: string | null; name?: string | null } & Json;
type List = { sort: string; customers: ListItem[]; next_cursor: string | null };
type Journeys = { sessions: number; sessions_with_page_view: number; converting_sessions: number; entry_pages: Json[]; conversion_paths: Json[] };

const T = (iso: string) => Date.parse(iso);

async function put(site: string, entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

async function call<B = Json>(path: string, key?: string | null): Promise<{ status: number; body: B }> {
	const res = key === undefined ? await api("GET", path) : await api("GET", path, undefined, key);
	return { status: res.status, body: (await res.json()) as B };
}

async function ok<B = Json>(path: string): Promise<B> {
	const { status, body } = await call<B>(path);
	expect(status, JSON.stringify(body)).toBe(200);
	return body;
}

async function addSite(id: string, timezone: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

// ─── pure ────────────────────────────────────────────────────────────────────────────────────────

describe("customer segments (pure)", () => {
	it("buckets purchase frequency as 1, 2, 3, 4–5, 6–10, 11+", () => {
		expect([1, 2, 3, 4, 5, 6, 10, 11, 250].map(frequencyBucket)).toEqual(["1", "2", "3", "4-5", "4-5", "6-10", "6-10", "11+", "11+"]);
	});

	it("gives each customer the device of most of their events; a tie goes to the latest event, then the name", () => {
		const devices = primaryDevices([
			{ customerId: "a", device: "desktop", events: 1, lastTs: 50 },
			{ customerId: "a", device: "mobile", events: 3, lastTs: 10 }, // most events wins over the latest
			{ customerId: "b", device: "desktop", events: 2, lastTs: 10 },
			{ customerId: "b", device: "tablet", events: 2, lastTs: 20 }, // tie: the latest event
			{ customerId: "c", device: "tablet", events: 1, lastTs: 5 },
			{ customerId: "c", device: "mobile", events: 1, lastTs: 5 }, // full tie: alphabetical
		]);
		expect(Object.fromEntries(devices)).toEqual({ a: "mobile", b: "tablet", c: "mobile" });
	});

	it("counts customers by country, channel (record, else first order), device, new/returning and frequency", () => {
		const start = 1000;
		const c = (customerId: string, orders: number, revenueMinor: number, country: string | null, channel: string | null, firstOrderAt: number, firstOrderChannel: string | null): RangeCustomer => ({
			customerId, orders, revenueMinor, country, channel, firstOrderAt, firstOrderChannel,
		});
		const o = customerOverview(
			[
				c("a", 2, 4000, "ES", "email", 500, "organic"), // returning; the record's channel wins
				c("b", 1, 5000, "FR", null, 1000, "organic"), // new (first order at the range's first instant)
				c("d", 11, 1100, null, null, 1500, null), // new; no record, no channel anywhere
			],
			new Map([["a", "mobile"]]),
			start,
		);
		expect(o).toMatchObject({ customers: 3, orders: 14, revenueMinor: 10_100, newCustomers: 2, returningCustomers: 1 });
		expect(o.byCountry).toEqual([
			{ key: "ES", customers: 1, orders: 2, revenueMinor: 4000 },
			{ key: "FR", customers: 1, orders: 1, revenueMinor: 5000 },
			{ key: "unknown", customers: 1, orders: 11, revenueMinor: 1100 },
		]);
		expect(o.byChannel.map((s) => [s.key, s.customers])).toEqual([["email", 1], ["organic", 1], ["unknown", 1]]);
		expect(o.byDevice.map((s) => [s.key, s.customers])).toEqual([["unknown", 2], ["mobile", 1]]);
		expect(o.frequency.map((s) => [s.key, s.customers])).toEqual([["1", 1], ["2", 1], ["3", 0], ["4-5", 0], ["6-10", 0], ["11+", 1]]);
	});

	it("answers zeros (and every frequency bucket) for no customers", () => {
		const o = customerOverview([], new Map(), 0);
		expect(o).toEqual({ customers: 0, orders: 0, revenueMinor: 0, newCustomers: 0, returningCustomers: 0, byCountry: [], byChannel: [], byDevice: [], frequency: expect.any(Array) });
		expect(o.frequency.every((s) => s.customers === 0)).toBe(true);
	});
});

// The journeys fixture: one UTC day, 2026-03-10, and what each visitor contributes.
const J = "2026-03-10T";
const JOURNEY_EVENTS: [visitor: string, iso: string, name: string, path: string][] = [
	// v3: a session that started the evening before (23:50, then 20 and 5 minutes gaps) does not start in the range.
	["v3", "2026-03-09T23:50:00Z", "page_view", "/"],
	["v3", `${J}00:10:00Z`, "page_view", "/p/whey"],
	["v3", `${J}00:15:00Z`, "purchase", "/checkout"],
	// v1, session 1: entry "/"; pages / → /p/whey → /p/whey (collapsed) → /cart, then the purchase; /thanks after it does not count.
	["v1", `${J}09:00:00Z`, "page_view", "/"],
	["v1", `${J}09:05:00Z`, "page_view", "/p/whey"],
	["v1", `${J}09:06:00Z`, "page_view", "/p/whey"],
	["v1", `${J}09:07:00Z`, "add_to_cart", "/p/whey"],
	["v1", `${J}09:10:00Z`, "page_view", "/cart"],
	["v1", `${J}09:12:00Z`, "purchase", "/checkout"],
	["v1", `${J}09:15:00Z`, "page_view", "/thanks"],
	// v2: five pages before buying; the last three distinct-consecutive ones are /p/bar → /p/whey → /cart.
	["v2", `${J}09:00:00Z`, "page_view", "/p/bar"],
	["v2", `${J}09:01:00Z`, "page_view", "/"],
	["v2", `${J}09:02:00Z`, "page_view", "/p/bar"],
	["v2", `${J}09:03:00Z`, "page_view", "/p/whey"],
	["v2", `${J}09:04:00Z`, "page_view", "/cart"],
	["v2", `${J}09:05:00Z`, "purchase", "/checkout"],
	// v4: the first event is not a page view; the entry page is the first page_view's path.
	["v4", `${J}10:00:00Z`, "product_view", "/p/whey"],
	["v4", `${J}10:01:00Z`, "page_view", "/p/whey"],
	["v4", `${J}10:02:00Z`, "purchase", "/checkout"],
	// v1, session 2 (idle 1 h 45 min): entry /blog, no purchase.
	["v1", `${J}11:00:00Z`, "page_view", "/blog"],
	// v5: a purchase with no page view in its session.
	["v5", `${J}12:00:00Z`, "purchase", "/api/order"],
	// v8: a bounce on /.
	["v8", `${J}13:00:00Z`, "page_view", "/"],
	// v6: starts at 23:50 in the range and buys after midnight: counts.
	["v6", `${J}23:50:00Z`, "page_view", "/"],
	["v6", "2026-03-11T00:05:00Z", "page_view", "/p/whey"],
	["v6", "2026-03-11T00:10:00Z", "purchase", "/checkout"],
	// v7: starts after the range.
	["v7", "2026-03-11T00:30:00Z", "page_view", "/"],
];
// Sessions starting on 03-10: v1 ×2, v2, v4, v5, v6, v8 = 7; with a page view: all but v5 = 6; converting: v1, v2, v4, v5, v6 = 5.
const JOURNEYS_EXPECTED = {
	sessions: 7,
	sessions_with_page_view: 6,
	converting_sessions: 5,
	entry_pages: [
		{ path: "/", sessions: 3, share_pct: 50 }, // v1, v6, v8 of 6
		{ path: "/blog", sessions: 1, share_pct: 16.6667 },
		{ path: "/p/bar", sessions: 1, share_pct: 16.6667 },
		{ path: "/p/whey", sessions: 1, share_pct: 16.6667 },
	],
	// One each of 5 (20 %); ties sorted by path: "(" sorts before "/", a prefix before its extensions.
	conversion_paths: [
		{ path: NO_PAGE_VIEW, pages: [], sessions: 1, share_pct: 20 },
		{ path: "/ → /p/whey", pages: ["/", "/p/whey"], sessions: 1, share_pct: 20 },
		{ path: "/ → /p/whey → /cart", pages: ["/", "/p/whey", "/cart"], sessions: 1, share_pct: 20 },
		{ path: "/p/bar → /p/whey → /cart", pages: ["/p/bar", "/p/whey", "/cart"], sessions: 1, share_pct: 20 },
		{ path: "/p/whey", pages: ["/p/whey"], sessions: 1, share_pct: 20 },
	],
};
const kindOf = (name: string): EventKind => (name === "page_view" ? PAGE_VIEW : name === "purchase" ? PURCHASE : OTHER);

describe("journeys (pure)", () => {
	it("counts entry pages and conversion paths of the sessions starting in the range", () => {
		const counter = journeyCounter(T(`${J}00:00:00Z`), T("2026-03-11T00:00:00Z"));
		const sorted = [...JOURNEY_EVENTS].sort((a, b) => T(a[1]) - T(b[1]));
		for (const [visitor, iso, name, path] of sorted) counter.add(visitor, T(iso), kindOf(name), name === "page_view" ? path : null);
		const r = counter.report(10);
		expect({
			sessions: r.sessions,
			sessions_with_page_view: r.sessionsWithPageView,
			converting_sessions: r.convertingSessions,
			entry_pages: r.entryPages.map((e) => ({ path: e.path, sessions: e.sessions, share_pct: e.sharePct })),
			conversion_paths: r.conversionPaths.map((p) => ({ path: p.path, pages: p.pages, sessions: p.sessions, share_pct: p.sharePct })),
		}).toEqual(JOURNEYS_EXPECTED);
	});

	it("cuts sessions at more than 30 minutes idle (exactly 30 minutes continues one)", () => {
		const counter = journeyCounter(0, 10 * 3_600_000);
		counter.add("v", 0, PAGE_VIEW, "/a");
		counter.add("v", 1_800_000, PAGE_VIEW, "/b"); // exactly 30 min: same session
		counter.add("v", 3_600_001, PAGE_VIEW, "/c"); // 30 min + 1 ms: a new one
		const r = counter.report(10);
		expect([r.sessions, r.entryPages.map((e) => e.path)]).toEqual([2, ["/a", "/c"]]);
	});

	it("answers zeros and null shares with no sessions", () => {
		expect(journeyCounter(0, 1).report(10)).toEqual({ sessions: 0, sessionsWithPageView: 0, convertingSessions: 0, entryPages: [], conversionPaths: [] });
	});
});

describe("list cursor", () => {
	it("round-trips and refuses anything else", () => {
		const c = { sort: "revenue" as const, key: 6000, id: "c/ñ 1" };
		expect(decodeCursor(encodeCursor(c))).toEqual(c);
		for (const bad of ["", "nope", btoa("[1,2,3]"), btoa('["bogus",1,"x"]'), btoa('["orders",1.5,"x"]')]) expect(decodeCursor(bad), bad).toBeNull();
	});
});

// ─── the store ───────────────────────────────────────────────────────────────────────────────────

// Site cu, Europe/Madrid (UTC+1 in March 2026, before the DST change on the 29th). The range
// 2026-03-01 … 03-07 local is [2026-02-28T23:00Z, 2026-03-07T23:00Z).
const RANGE = "from=2026-03-01&to=2026-03-07";
const ev = (customer: string | null, iso: string, device: string, extra: Record<string, unknown> = {}) =>
	storedEvent({ site: "cu", visitor: `vis-${customer ?? "anon"}`, customer_id: customer, ts: T(iso), received_at: T(iso), device, ...extra });

beforeAll(async () => {
	await addSite("cu", "Europe/Madrid");
	await put("cu", "customers", [
		{ customer_id: "c1", created_at: "2025-12-01", country: "ES", channel: "paid_search", email: "ana@example.com", name: "Ana" },
		{ customer_id: "c2", created_at: "2025-12-01", country: "FR", email: "bob@shop.test", name: "Bob" },
		{ customer_id: "c3", created_at: "2025-12-01", country: "ES", channel: "email", is_subscriber: true, subscription_status: "active" },
		{ customer_id: "c5", created_at: "2025-12-01", country: "DE" },
	]);
	await put("cu", "products", [
		{ sku: "A", name: "Whey", price: 10 },
		{ sku: "B", name: "Bar", price: 10 },
	]);
	await put("cu", "orders", [
		// c1: one order before the range (20.00), two in it (30.00 = 36.30 − 6.30 tax, and 10.00): returning, 2 orders, 40.00.
		{ order_id: "o1", customer_id: "c1", placed_at: "2026-02-10T10:00:00Z", total: 20, currency: "EUR", channel: "paid_search" },
		{ order_id: "o2", customer_id: "c1", placed_at: "2026-03-02T10:00:00Z", total: "36.30", tax: "6.30", currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 2, unit_price: 10 }, { sku: "B", qty: 1, unit_price: 10 }] },
		{ order_id: "o3", customer_id: "c1", placed_at: "2026-03-05T10:00:00Z", total: 10, currency: "EUR", channel: "email" },
		// c2: 00:30 local on 03-01 (23:30 UTC the day before): in the range, new; no channel on the record → the order's (organic).
		{ order_id: "o4", customer_id: "c2", placed_at: "2026-02-28T23:30:00Z", total: 50, currency: "EUR", channel: "organic" },
		// c3: a cancelled order before the range does not make them returning: new, 1 order, 25.00.
		{ order_id: "o5", customer_id: "c3", placed_at: "2026-02-20T10:00:00Z", total: 15, currency: "EUR", channel: "social", status: "cancelled" },
		{ order_id: "o6", customer_id: "c3", placed_at: "2026-03-06T09:00:00Z", total: 25, currency: "EUR", channel: "email" },
		// c4: no customer record; 4 orders in the range (bucket 4–5), new, channel of the first order (referral).
		{ order_id: "o7", customer_id: "c4", placed_at: "2026-03-01T10:00:00Z", total: 10, currency: "EUR", channel: "referral" },
		{ order_id: "o8", customer_id: "c4", placed_at: "2026-03-02T10:00:00Z", total: 10, currency: "EUR", channel: "direct" },
		{ order_id: "o9", customer_id: "c4", placed_at: "2026-03-04T10:00:00Z", total: 10, currency: "EUR" },
		{ order_id: "o10", customer_id: "c4", placed_at: "2026-03-06T12:00:00Z", total: 10, currency: "EUR" },
		// c6: just outside the range on both sides (local 03-08 00:30 and 02-28 23:30).
		{ order_id: "o11", customer_id: "c6", placed_at: "2026-03-07T23:30:00Z", total: 12, currency: "EUR" },
		{ order_id: "o12", customer_id: "c6", placed_at: "2026-02-28T22:30:00Z", total: 8, currency: "EUR" },
	]);
	await put("cu", "refunds", [
		{ refund_id: "r1", order_id: "o2", created_at: "2026-03-03T08:00:00Z", amount: 5, currency: "EUR", reason: "damaged", sku: "A", qty: 1 },
		{ refund_id: "r2", order_id: "o5", created_at: "2026-02-21T08:00:00Z", amount: 15, currency: "EUR", reason: "cancelled" },
	]);
	await put("cu", "tickets", [
		{ ticket_id: "t1", customer_id: "c1", opened_at: "2026-03-03T09:00:00Z", category: "delivery" },
		{ ticket_id: "t2", order_id: "o1", opened_at: "2026-02-11T09:00:00Z", resolved_at: "2026-02-11T12:00:00Z" }, // c1's through their order
		{ ticket_id: "t3", customer_id: "c2", opened_at: "2026-03-04T09:00:00Z" },
	]);
	await put("cu", "surveys", [
		{ response_id: "s1", customer_id: "c1", kind: "nps", score: 9, responded_at: "2026-03-06T10:00:00Z" },
		{ response_id: "s2", order_id: "o3", kind: "csat", score: 4, responded_at: "2026-03-06T11:00:00Z" }, // c1's through o3
		{ response_id: "s3", customer_id: "c2", kind: "nps", score: 3, responded_at: "2026-03-06T12:00:00Z" },
	]);
	await storeEvents(env.DB, [
		// c1: 3 mobile and 1 desktop event in the range → mobile; 3 desktop events in February do not count.
		...["2026-02-10T09:00:00Z", "2026-02-10T09:01:00Z", "2026-02-10T09:02:00Z"].map((iso) => ev("c1", iso, "desktop", { path: "/old" })),
		ev("c1", "2026-03-02T09:58:00Z", "mobile", { name: "page_view", path: "/p/whey" }),
		ev("c1", "2026-03-02T10:00:00Z", "mobile", { name: "purchase", path: "/checkout", channel: "paid_search" }),
		ev("c1", "2026-03-04T10:00:00Z", "desktop", { path: "/blog" }),
		ev("c1", "2026-03-05T10:00:00Z", "mobile", { path: "/p/bar" }),
		// c2: one desktop, one tablet (later) → tablet.
		ev("c2", "2026-03-01T10:00:00Z", "desktop"),
		ev("c2", "2026-03-02T10:00:00Z", "tablet"),
		// c3: only before the range → unknown. c4: no events → unknown. An anonymous event counts for no one.
		ev("c3", "2026-02-20T10:00:00Z", "mobile"),
		ev(null, "2026-03-03T10:00:00Z", "mobile"),
	]);
});

describe("GET /api/v1/customers/overview", () => {
	it("counts the range's customers by country, channel, device, new/returning and frequency (Madrid days)", async () => {
		const o = await ok<Overview>(`/api/v1/customers/overview?site=cu&${RANGE}`);
		expect([o.range_from, o.range_before]).toEqual([T("2026-02-28T23:00:00Z"), T("2026-03-07T23:00:00Z")]);
		// c1 (2 orders, 40.00), c2 (1, 50.00), c3 (1, 25.00), c4 (4, 40.00); c6 is outside, c5 never ordered.
		expect(o.totals).toEqual({ customers: 4, orders: 8, revenue: 155, new_customers: 3, returning_customers: 1, new_pct: 75 });
		expect(o.by_country).toEqual([
			{ key: "ES", customers: 2, share_pct: 50, orders: 3, revenue: 65 }, // c1 + c3
			{ key: "FR", customers: 1, share_pct: 25, orders: 1, revenue: 50 },
			{ key: "unknown", customers: 1, share_pct: 25, orders: 4, revenue: 40 }, // c4 has no record
		]);
		expect(o.by_channel).toEqual([
			{ key: "email", customers: 1, share_pct: 25, orders: 1, revenue: 25 }, // c3's record (its cancelled first order was social)
			{ key: "organic", customers: 1, share_pct: 25, orders: 1, revenue: 50 }, // c2: first order's
			{ key: "paid_search", customers: 1, share_pct: 25, orders: 2, revenue: 40 }, // c1's record
			{ key: "referral", customers: 1, share_pct: 25, orders: 4, revenue: 40 }, // c4: first order's
		]);
		expect(o.by_device).toEqual([
			{ key: "unknown", customers: 2, share_pct: 50, orders: 5, revenue: 65 }, // c3, c4
			{ key: "mobile", customers: 1, share_pct: 25, orders: 2, revenue: 40 }, // c1
			{ key: "tablet", customers: 1, share_pct: 25, orders: 1, revenue: 50 }, // c2
		]);
		expect(o.purchase_frequency).toEqual([
			{ key: "1", customers: 2, share_pct: 50, orders: 2, revenue: 75 }, // c2, c3
			{ key: "2", customers: 1, share_pct: 25, orders: 2, revenue: 40 }, // c1
			{ key: "3", customers: 0, share_pct: 0, orders: 0, revenue: 0 },
			{ key: "4-5", customers: 1, share_pct: 25, orders: 4, revenue: 40 }, // c4
			{ key: "6-10", customers: 0, share_pct: 0, orders: 0, revenue: 0 },
			{ key: "11+", customers: 0, share_pct: 0, orders: 0, revenue: 0 },
		]);
	});

	it("counts a customer whose first order is before a one-day range as returning", async () => {
		// 2026-03-05 local: only c1's o3.
		const o = await ok<Overview>("/api/v1/customers/overview?site=cu&from=2026-03-05&to=2026-03-05");
		expect(o.totals).toEqual({ customers: 1, orders: 1, revenue: 10, new_customers: 0, returning_customers: 1, new_pct: 0 });
		expect(o.by_device).toEqual([{ key: "mobile", customers: 1, share_pct: 100, orders: 1, revenue: 10 }]); // c1's only identified event on that day
	});

	it("answers zeros for a range without orders", async () => {
		const o = await ok<Overview>("/api/v1/customers/overview?site=cu&from=2025-01-01&to=2025-01-31");
		expect(o.totals).toEqual({ customers: 0, orders: 0, revenue: 0, new_customers: 0, returning_customers: 0, new_pct: null });
		expect([o.by_country, o.by_channel, o.by_device]).toEqual([[], [], []]);
		expect(o.purchase_frequency.map((s) => [s.key, s.customers, s.share_pct])).toEqual(["1", "2", "3", "4-5", "6-10", "11+"].map((k) => [k, 0, null]));
	});

	it("defaults to the last 30 local days", async () => {
		const o = await ok<Overview>("/api/v1/customers/overview?site=cu");
		expect((Date.parse(`${o.to}T00:00:00Z`) - Date.parse(`${o.from}T00:00:00Z`)) / 86_400_000).toBe(29);
	});
});

describe("GET /api/v1/customers", () => {
	const ids = (l: List) => l.customers.map((c) => c.id);

	it("lists every known customer with lifetime numbers, by revenue; the admin key sees PII", async () => {
		const l = await ok<List>("/api/v1/customers?site=cu");
		expect(l.next_cursor).toBeNull();
		expect(l.customers).toEqual([
			{ id: "c1", country: "ES", channel: "paid_search", created_at: T("2025-12-01"), first_order: T("2026-02-10T10:00:00Z"), last_order: T("2026-03-05T10:00:00Z"), orders: 3, revenue: 60, email: "ana@example.com", name: "Ana" },
			{ id: "c2", country: "FR", channel: "organic", created_at: T("2025-12-01"), first_order: T("2026-02-28T23:30:00Z"), last_order: T("2026-02-28T23:30:00Z"), orders: 1, revenue: 50, email: "bob@shop.test", name: "Bob" },
			{ id: "c4", country: null, channel: "referral", created_at: null, first_order: T("2026-03-01T10:00:00Z"), last_order: T("2026-03-06T12:00:00Z"), orders: 4, revenue: 40, email: null, name: null },
			// c3's cancelled o5 counts nowhere.
			{ id: "c3", country: "ES", channel: "email", created_at: T("2025-12-01"), first_order: T("2026-03-06T09:00:00Z"), last_order: T("2026-03-06T09:00:00Z"), orders: 1, revenue: 25, email: null, name: null },
			{ id: "c6", country: null, channel: null, created_at: null, first_order: T("2026-02-28T22:30:00Z"), last_order: T("2026-03-07T23:30:00Z"), orders: 2, revenue: 20, email: null, name: null },
			{ id: "c5", country: "DE", channel: null, created_at: T("2025-12-01"), first_order: null, last_order: null, orders: 0, revenue: 0, email: null, name: null },
		]);
	});

	it("sorts by orders and by last order (descending, ties by id; no orders last)", async () => {
		expect(ids(await ok<List>("/api/v1/customers?site=cu&sort=orders"))).toEqual(["c4", "c1", "c6", "c2", "c3", "c5"]);
		expect(ids(await ok<List>("/api/v1/customers?site=cu&sort=last_order"))).toEqual(["c6", "c4", "c3", "c1", "c2", "c5"]);
	});

	it("pages with a cursor: every row once, in order, also across a tie at a page boundary", async () => {
		for (const [sort, expected] of [
			["revenue", ["c1", "c2", "c4", "c3", "c6", "c5"]],
			["orders", ["c4", "c1", "c6", "c2", "c3", "c5"]], // c2 and c3 tie at 1 order: c2 ends page 2, c3 starts page 3
			["last_order", ["c6", "c4", "c3", "c1", "c2", "c5"]],
		] as const) {
			const seen: string[][] = [];
			let cursor: string | null = null;
			do {
				const page: List = await ok<List>(`/api/v1/customers?site=cu&sort=${sort}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
				seen.push(ids(page));
				cursor = page.next_cursor;
			} while (cursor && seen.length < 10);
			expect(seen, sort).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4, 6)]);
		}
	});

	it("keeps its place when a customer is added before the cursor", async () => {
		const first = await ok<List>("/api/v1/customers?site=cu&limit=2");
		await put("cu", "orders", { order_id: "o-big", customer_id: "c-big", placed_at: "2026-03-03T10:00:00Z", total: 1000, currency: "EUR" });
		try {
			expect(ids(await ok<List>(`/api/v1/customers?site=cu&limit=2&cursor=${first.next_cursor}`))).toEqual(["c4", "c3"]);
		} finally {
			await env.DB.prepare("DELETE FROM orders WHERE site = 'cu' AND order_id = 'o-big'").run();
		}
	});

	it("matches q against the id, and a whole email (any case) only for principals that may see PII", async () => {
		expect(ids(await ok<List>("/api/v1/customers?site=cu&q=C1"))).toEqual(["c1"]);
		// Emails are encrypted at rest and found by a keyed hash of the whole address (test/pii.test.ts): not by a part.
		expect(ids(await ok<List>("/api/v1/customers?site=cu&q=ANA%40example.com"))).toEqual(["c1"]);
		expect(ids(await ok<List>("/api/v1/customers?site=cu&q=example.com"))).toEqual([]);
		expect(ids(await ok<List>("/api/v1/customers?site=cu&q=%20%20"))).toHaveLength(6); // blank = no filter
		const analyst = await userSession("analyst");
		const res = await apiWithCookie("GET", "/api/v1/customers?site=cu&q=ana%40example.com", analyst.cookie);
		expect(((await res.json()) as List).customers).toEqual([]);
	});

	it("shows email and name to the admin role and admin keys only", async () => {
		for (const role of ["admin", "executive", "analyst", "operations"] as const) {
			const { cookie } = await userSession(role);
			const res = await apiWithCookie("GET", "/api/v1/customers?site=cu&q=c1", cookie);
			expect(res.status, role).toBe(200);
			const [c1] = ((await res.json()) as List).customers;
			if (role === "admin") expect(c1, role).toMatchObject({ email: "ana@example.com", name: "Ana" });
			else {
				expect(c1 && "email" in c1, role).toBe(false);
				expect(c1 && "name" in c1, role).toBe(false);
			}
		}
		// Keys: the admin scope sees PII (the test admin key above), a read key does not.
		const readKey = (await createKey(env.DB, { site: null, name: "customers read", scopes: ["read"] })).secret;
		const { body } = await call<List>("/api/v1/customers?site=cu&q=c1", readKey);
		expect(body.customers.map((c) => Object.keys(c).sort())).toEqual([["channel", "country", "created_at", "first_order", "id", "last_order", "orders", "revenue"]]);
	});
});

describe("GET /api/v1/customers/{id}", () => {
	type Profile = { customer: Json; lifetime: Json; orders: (Json & { items: Json[]; refunds: Json[] })[]; events: Json[]; tickets: Json[]; surveys: Json[] };

	it("answers the record, lifetime, orders with items and refunds, events, tickets and surveys", async () => {
		const p = await ok<Profile>("/api/v1/customers/c1?site=cu");
		expect(p.customer).toEqual({ id: "c1", created_at: T("2025-12-01"), country: "ES", channel: "paid_search", is_subscriber: false, subscription_status: null, email: "ana@example.com", name: "Ana" });
		// 20 + 30 + 10 = 60 over 3 orders; r1 refunds 5.00 of o2.
		expect(p.lifetime).toEqual({ orders: 3, cancelled_orders: 0, revenue: 60, refunded: 5, aov: 20, first_order: T("2026-02-10T10:00:00Z"), last_order: T("2026-03-05T10:00:00Z") });
		expect(p.orders.map((o) => o.order_id)).toEqual(["o3", "o2", "o1"]);
		expect(p.orders[1]).toMatchObject({ placed_at: T("2026-03-02T10:00:00Z"), status: "placed", channel: "paid_search", currency: "EUR", total: 36.3, tax: 6.3, discount: 0, shipping: 0, subtotal: null, is_subscription: false });
		expect(p.orders[1]?.items).toEqual([
			{ sku: "A", name: "Whey", qty: 2, unit_price: 10, line_total: 20 },
			{ sku: "B", name: "Bar", qty: 1, unit_price: 10, line_total: 10 },
		]);
		expect(p.orders[1]?.refunds).toEqual([{ refund_id: "r1", created_at: T("2026-03-03T08:00:00Z"), amount: 5, currency: "EUR", reason: "damaged", sku: "A", qty: 1, is_return: true }]);
		expect(p.orders[0]?.items).toEqual([]);
		// Their 7 identified events, newest first; the anonymous one is not theirs.
		expect(p.events.map((e) => [e.ts, e.name, e.path, e.device])).toEqual([
			[T("2026-03-05T10:00:00Z"), "page_view", "/p/bar", "mobile"],
			[T("2026-03-04T10:00:00Z"), "page_view", "/blog", "desktop"],
			[T("2026-03-02T10:00:00Z"), "purchase", "/checkout", "mobile"],
			[T("2026-03-02T09:58:00Z"), "page_view", "/p/whey", "mobile"],
			[T("2026-02-10T09:02:00Z"), "page_view", "/old", "desktop"],
			[T("2026-02-10T09:01:00Z"), "page_view", "/old", "desktop"],
			[T("2026-02-10T09:00:00Z"), "page_view", "/old", "desktop"],
		]);
		expect(p.events[2]).toMatchObject({ channel: "paid_search", id: expect.any(String) });
		// t1 by customer id, t2 through o1; s1 by id, s2 through o3.
		expect(p.tickets).toEqual([
			{ ticket_id: "t1", order_id: null, channel: null, category: "delivery", status: "open", opened_at: T("2026-03-03T09:00:00Z"), first_response_at: null, resolved_at: null },
			{ ticket_id: "t2", order_id: "o1", channel: null, category: null, status: "resolved", opened_at: T("2026-02-11T09:00:00Z"), first_response_at: null, resolved_at: T("2026-02-11T12:00:00Z") },
		]);
		expect(p.surveys).toEqual([
			{ response_id: "s2", kind: "csat", score: 4, responded_at: T("2026-03-06T11:00:00Z"), order_id: "o3" },
			{ response_id: "s1", kind: "nps", score: 9, responded_at: T("2026-03-06T10:00:00Z"), order_id: null },
		]);
	});

	it("profiles a customer known only by orders, one with a cancelled order, and one without orders", async () => {
		const c4 = await ok<Profile>("/api/v1/customers/c4?site=cu");
		expect(c4.customer).toEqual({ id: "c4", created_at: null, country: null, channel: "referral", is_subscriber: null, subscription_status: null, email: null, name: null });
		expect(c4.lifetime).toMatchObject({ orders: 4, revenue: 40, aov: 10 });
		const c3 = await ok<Profile>("/api/v1/customers/c3?site=cu");
		expect(c3.customer).toMatchObject({ channel: "email", is_subscriber: true, subscription_status: "active" });
		// The cancelled o5 is listed but counts nowhere, nor does its refund.
		expect(c3.lifetime).toEqual({ orders: 1, cancelled_orders: 1, revenue: 25, refunded: 0, aov: 25, first_order: T("2026-03-06T09:00:00Z"), last_order: T("2026-03-06T09:00:00Z") });
		expect(c3.orders.map((o) => [o.order_id, o.status, o.refunds.length])).toEqual([["o6", "placed", 0], ["o5", "cancelled", 1]]);
		const c5 = await ok<Profile>("/api/v1/customers/c5?site=cu");
		expect(c5.lifetime).toEqual({ orders: 0, cancelled_orders: 0, revenue: 0, refunded: 0, aov: null, first_order: null, last_order: null });
		expect([c5.orders, c5.events, c5.tickets, c5.surveys]).toEqual([[], [], [], []]);
	});

	it("shows PII to the admin role only; the other roles get no email or name field", async () => {
		for (const role of ["admin", "executive", "analyst", "operations"] as const) {
			const { cookie } = await userSession(role);
			const res = await apiWithCookie("GET", "/api/v1/customers/c1?site=cu", cookie);
			expect(res.status, role).toBe(200);
			const { customer } = (await res.json()) as Profile;
			if (role === "admin") expect(customer, role).toMatchObject({ email: "ana@example.com", name: "Ana" });
			else expect(Object.keys(customer).sort(), role).toEqual(["channel", "country", "created_at", "id", "is_subscriber", "subscription_status"]);
		}
	});

	it("is a 404 for an unknown id (and an id of another site)", async () => {
		for (const path of ["/api/v1/customers/nobody?site=cu", "/api/v1/customers/c1?site=demo"]) {
			const { status, body } = await call<ErrorJson>(path);
			expect(status, path).toBe(404);
			expect(body).toMatchObject({ error: "not_found", fields: [{ field: "id", message: "unknown customer" }] });
		}
	});

	it("takes an id with reserved characters, percent-encoded", async () => {
		await put("cu", "customers", { customer_id: "c/ñ 7", created_at: "2026-01-01", country: "PT" });
		expect((await ok<Profile>(`/api/v1/customers/${encodeURIComponent("c/ñ 7")}?site=cu`)).customer).toMatchObject({ id: "c/ñ 7", country: "PT" });
		await env.DB.prepare("DELETE FROM customers WHERE site = 'cu' AND customer_id = 'c/ñ 7'").run();
	});
});

describe("GET /api/v1/journeys", () => {
	beforeAll(async () => {
		await addSite("cj", "UTC");
		await storeEvents(
			env.DB,
			JOURNEY_EVENTS.map(([visitor, iso, name, path]) => storedEvent({ site: "cj", visitor, name, ts: T(iso), received_at: T(iso), path, url: `https://shop.example${path}` })),
		);
	});

	it("answers the top entry pages and conversion paths of the sessions starting in the range", async () => {
		const j = await ok<Journeys & Json>("/api/v1/journeys?site=cj&from=2026-03-10&to=2026-03-10");
		expect(j).toEqual({ site: "cj", timezone: "UTC", from: "2026-03-10", to: "2026-03-10", range_from: T("2026-03-10T00:00:00Z"), range_before: T("2026-03-11T00:00:00Z"), ...JOURNEYS_EXPECTED });
	});

	it("cuts each list at limit", async () => {
		const j = await ok<Journeys>("/api/v1/journeys?site=cj&from=2026-03-10&to=2026-03-10&limit=2");
		expect(j.entry_pages.map((e) => e.path)).toEqual(["/", "/blog"]);
		expect(j.conversion_paths.map((p) => p.path)).toEqual([NO_PAGE_VIEW, "/ → /p/whey"]);
		expect(j.sessions).toBe(7);
	});

	it("answers zeros for a range without sessions", async () => {
		const j = await ok<Journeys>("/api/v1/journeys?site=cj&from=2025-01-01&to=2025-01-31");
		expect(j).toMatchObject({ sessions: 0, sessions_with_page_view: 0, converting_sessions: 0, entry_pages: [], conversion_paths: [] });
	});

	it("gives the same answer whatever the D1 page size (pages continue in (ts, id) order)", async () => {
		const start = T("2026-03-10T00:00:00Z");
		const whole = await readJourneys(env.DB, "cj", start, start + 86_400_000, 10);
		expect(whole.pages).toBe(1);
		for (const pageRows of [1, 2, 3, 7]) {
			const { pages, ...r } = await readJourneys(env.DB, "cj", start, start + 86_400_000, 10, pageRows);
			const { pages: _, ...expected } = whole;
			expect(r, `page ${pageRows}`).toEqual(expected);
			expect(pages).toBeGreaterThan(1);
		}
	});

	it("reads the range through the (site, ts) index", async () => {
		const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${JOURNEY_SQL}`).bind("cj", 0, 1, null, "", 10).all<{ detail: string }>();
		expect(plan.results.map((r) => r.detail).join("; ")).toMatch(/SEARCH events USING INDEX events_site_ts \(site=\? AND ts>\? AND ts<\?\)/);
	});
});

describe("validation", () => {
	it("answers 400 naming the field", async () => {
		for (const [path, field] of [
			["/api/v1/customers/overview?site=cu&from=2026-02-30", "from"],
			["/api/v1/customers/overview?site=cu&from=2026-03-10&to=2026-03-01", "from"],
			["/api/v1/customers/overview?site=cu&from=2021-01-01&to=2026-01-05", "from"], // 1,831 days
			["/api/v1/customers/overview?site=cu&exact=yes", "exact"],
			["/api/v1/customers/overview?site=cu&to=tomorrow", "to"],
			["/api/v1/customers/overview?site=cu&colour=red", "colour"],
			["/api/v1/customers?site=cu&sort=name", "sort"],
			["/api/v1/customers?site=cu&limit=0", "limit"],
			["/api/v1/customers?site=cu&limit=201", "limit"],
			["/api/v1/customers?site=cu&cursor=garbage", "cursor"],
			[`/api/v1/customers?site=cu&sort=orders&cursor=${encodeCursor({ sort: "revenue", key: 1, id: "c1" })}`, "cursor"],
			[`/api/v1/customers?site=cu&q=${"x".repeat(129)}`, "q"],
			["/api/v1/customers/c1?site=cu&expand=all", "expand"],
			["/api/v1/journeys?site=cj&limit=101", "limit"],
			["/api/v1/journeys?site=cj&from=2020-01-01&to=2025-01-05", "from"], // 1,832 days
			["/api/v1/journeys?site=cj&exact=1", "exact"],
		] as const) {
			const { status, body } = await call<ErrorJson>(path);
			expect(status, path).toBe(400);
			expect(body.error, path).toBe("invalid_request");
			expect(body.fields?.map((f) => f.field), path).toContain(field);
		}
	});

	it("caps ranges at 5 × 366 days, as the KPI API and funnel reports, and says so", async () => {
		for (const path of ["/api/v1/customers/overview?site=cu&from=2021-01-01&to=2026-01-05", "/api/v1/journeys?site=cj&from=2020-01-01&to=2025-01-05"]) {
			const { body } = await call<ErrorJson>(path);
			expect(body.fields?.[0], path).toEqual({ field: "from", message: "at most 1830 days from from to to (5 years, the same limit as the KPI API and funnel reports)" });
		}
	});

	it("accepts exactly 5 × 366 days", async () => {
		expect((await call("/api/v1/customers/overview?site=cu&from=2021-03-10&to=2026-03-13")).status).toBe(200);
		expect((await call("/api/v1/journeys?site=cj&from=2021-03-10&to=2026-03-13")).status).toBe(200);
	});

	it("is a 404 for an unknown site", async () => {
		for (const path of ["/api/v1/customers/overview?site=nosuch", "/api/v1/customers?site=nosuch", "/api/v1/customers/c1?site=nosuch", "/api/v1/journeys?site=nosuch"]) {
			expect((await call<ErrorJson>(path)).status, path).toBe(404);
		}
	});
});

describe("timings with synthetic data", () => {
	// 366 days from 2025-03-10 to 2026-03-10 (UTC), 10 visitors a day: "/" then /p/<k mod 3>, and visitor
	// k ∈ {0, 5} buys (k = 0: /p/0, k = 5: /p/2) — 2 or 3 events per session: 8,052 events.
	const DAYS = 366;
	const first = T("2025-03-10T00:00:00Z");
	beforeAll(async () => {
		await addSite("cperf", "UTC");
		const events = [];
		for (let d = 0; d < DAYS; d++) {
			for (let k = 0; k < 10; k++) {
				const t0 = first + d * 86_400_000 + k * 3_600_000;
				const visitor = `p${d}-${k}`;
				events.push(storedEvent({ site: "cperf", visitor, ts: t0, received_at: t0, path: "/" }));
				events.push(storedEvent({ site: "cperf", visitor, ts: t0 + 60_000, received_at: t0, path: `/p/${k % 3}` }));
				if (k % 5 === 0) events.push(storedEvent({ site: "cperf", visitor, customer_id: `pc${k}`, name: "purchase", ts: t0 + 120_000, received_at: t0, path: "/checkout" }));
			}
		}
		expect(events).toHaveLength(8052);
		for (let i = 0; i < events.length; i += 2000) await storeEvents(env.DB, events.slice(i, i + 2000));
	});

	it("answers 30 and 366 days of journeys (timings in the log)", async () => {
		for (const [from, days] of [["2026-02-09", 30], ["2025-03-10", 366]] as const) {
			const started = performance.now();
			const j = await ok<Journeys>(`/api/v1/journeys?site=cperf&from=${from}&to=2026-03-10`);
			const ms = performance.now() - started;
			console.log(`journeys ${days} days (${days * 22} events): ${ms.toFixed(0)} ms`);
			expect(j).toMatchObject({
				sessions: days * 10,
				sessions_with_page_view: days * 10,
				converting_sessions: days * 2,
				entry_pages: [{ path: "/", sessions: days * 10, share_pct: 100 }],
				conversion_paths: [
					{ path: "/ → /p/0", sessions: days, share_pct: 50 },
					{ path: "/ → /p/2", sessions: days, share_pct: 50 },
				],
			});
		}
	});
});
