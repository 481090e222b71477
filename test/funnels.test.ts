/**
 * Funnels: the pure matcher (ordering, conversion window, repeated steps, deepest attempt, same-instant
 * steps, medians) against hand-worked fixtures, and the API (GET/PUT /api/v1/funnels, the report from
 * D1 for a site in Europe/Madrid) against a hand-computed store. Expected values are worked out in the
 * comments.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { bestAttempt, DEFAULT_FUNNEL, median, summarize, type FunnelDef, type GroupedAttempt } from "../workers/funnels/match";
import { funnelReport, reportSql } from "../workers/funnels/report";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent } from "./helpers";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = Date.UTC(2026, 2, 10, 10, 0);
const e = (name: string, at: number) => ({ name, ts: T0 + at });
/** The default funnel with a one-hour window. */
const HOUR_FUNNEL: FunnelDef = { ...DEFAULT_FUNNEL, windowSeconds: 3600 };

describe("bestAttempt: one person's deepest attempt", () => {
	it("sorts events that arrive out of order", () => {
		// Arrival order purchase, view, checkout, cart; by time view 0, cart 10 m, checkout 20 m, purchase 30 m: all four steps.
		const a = bestAttempt(DEFAULT_FUNNEL, [e("purchase", 30 * M), e("product_view", 0), e("begin_checkout", 20 * M), e("add_to_cart", 10 * M)]);
		expect(a).toEqual({ depth: 4, times: [T0, T0 + 10 * M, T0 + 20 * M, T0 + 30 * M], start: 1 });
	});

	it("requires the steps in order: a cart before the view does not count", () => {
		// cart 0, view 5 m, purchase 10 m: the only start is the view at 5 m; no cart after it → depth 1.
		expect(bestAttempt(DEFAULT_FUNNEL, [e("add_to_cart", 0), e("product_view", 5 * M), e("purchase", 10 * M)])).toEqual({ depth: 1, times: [T0 + 5 * M], start: 1 });
	});

	it("counts repeated steps once and keeps the earliest start on a tie", () => {
		// views 0 and 2 m, carts 5 m and 6 m, checkout 8 m, no purchase. Start 0: cart 5 m, checkout 8 m → depth 3;
		// start 2 m: cart 5 m, checkout 8 m → depth 3 too; the tie goes to the earlier start (index 0).
		const a = bestAttempt(DEFAULT_FUNNEL, [e("product_view", 0), e("product_view", 2 * M), e("add_to_cart", 5 * M), e("add_to_cart", 6 * M), e("begin_checkout", 8 * M)]);
		expect(a).toEqual({ depth: 3, times: [T0, T0 + 5 * M, T0 + 8 * M], start: 0 });
		// The same step twice in a funnel needs two events: view → view → cart with one view reaches step 1 only.
		const twice: FunnelDef = { id: "t", name: "t", steps: [{ event: "product_view" }, { event: "product_view" }, { event: "add_to_cart" }], windowSeconds: 3600 };
		expect(bestAttempt(twice, [e("product_view", 0), e("add_to_cart", M)]).depth).toBe(1);
		expect(bestAttempt(twice, [e("product_view", 0), e("product_view", M), e("add_to_cart", 2 * M)]).depth).toBe(3);
	});

	it("stops at the conversion window, which includes its last instant", () => {
		// Window 3,600 s from the view at 0: cart at 30 m is in; checkout at 61 m is out → depth 2.
		expect(bestAttempt(HOUR_FUNNEL, [e("product_view", 0), e("add_to_cart", 30 * M), e("begin_checkout", 61 * M)]).depth).toBe(2);
		// Checkout at exactly 60 m (3,600 s after the start) is in; purchase 1 ms later is out → depth 3.
		expect(bestAttempt(HOUR_FUNNEL, [e("product_view", 0), e("add_to_cart", 30 * M), e("begin_checkout", 60 * M), e("purchase", 60 * M + 1)]).depth).toBe(3);
	});

	it("chooses the start that reaches the deepest step, not the first or the last", () => {
		// Window 1 h. Start 0: cart 10 m, then nothing within the hour → depth 2. Start 2 h: cart 2h10, checkout 2h20, purchase 2h30 → depth 4.
		const later = [e("product_view", 0), e("add_to_cart", 10 * M), e("product_view", 2 * H), e("add_to_cart", 2 * H + 10 * M), e("begin_checkout", 2 * H + 20 * M), e("purchase", 2 * H + 30 * M)];
		expect(bestAttempt(HOUR_FUNNEL, later)).toEqual({ depth: 4, times: [T0 + 2 * H, T0 + 2 * H + 10 * M, T0 + 2 * H + 20 * M, T0 + 2 * H + 30 * M], start: 2 });
		// Start 0: cart 50 m, checkout 70 m is past the hour → depth 2. Start 55 m: no cart after it → depth 1. Best: the first start.
		const earlier = [e("product_view", 0), e("add_to_cart", 50 * M), e("product_view", 55 * M), e("begin_checkout", 70 * M), e("purchase", 80 * M)];
		expect(bestAttempt(HOUR_FUNNEL, earlier)).toEqual({ depth: 2, times: [T0, T0 + 50 * M], start: 0 });
	});

	it("takes events at the same instant in funnel order", () => {
		// All four at T0, given backwards: same-instant events are ordered by step, so all four steps are reached 0 s apart.
		const a = bestAttempt(DEFAULT_FUNNEL, [e("purchase", 0), e("begin_checkout", 0), e("add_to_cart", 0), e("product_view", 0)]);
		expect(a).toEqual({ depth: 4, times: [T0, T0, T0, T0], start: 3 });
		// A cart 1 ms before the view is still before it.
		expect(bestAttempt(DEFAULT_FUNNEL, [e("add_to_cart", -1), e("product_view", 0)]).depth).toBe(1);
	});

	it("starts only within the given range; events of other names and no start give depth 0", () => {
		// The view at 0 (before the range) would convert; the one at 2 h (in range) reaches the cart only.
		const evs = [e("product_view", 0), e("add_to_cart", M), e("begin_checkout", 2 * M), e("purchase", 3 * M), e("product_view", 2 * H), e("add_to_cart", 2 * H + M)];
		expect(bestAttempt(DEFAULT_FUNNEL, evs, { from: T0 + H, to: T0 + 3 * H })).toEqual({ depth: 2, times: [T0 + 2 * H, T0 + 2 * H + M], start: 4 });
		expect(bestAttempt(DEFAULT_FUNNEL, evs, { from: T0 + 3 * H, to: T0 + 4 * H })).toEqual({ depth: 0, times: [], start: -1 });
		expect(bestAttempt(DEFAULT_FUNNEL, [e("page_view", 0), e("add_to_cart", M)])).toEqual({ depth: 0, times: [], start: -1 });
	});
});

describe("summarize and median", () => {
	it("computes the exact median (even count: mean of the two middle values)", () => {
		expect(median([])).toBeNull();
		expect(median([5])).toBe(5);
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
	});

	it("sums attempts into steps and groups", () => {
		const at = (...seconds: number[]) => seconds.map((s) => T0 + s * S);
		const attempts: GroupedAttempt[] = [
			{ depth: 4, times: at(0, 60, 180, 300), group: "email" }, // A: gaps 60, 120, 120
			{ depth: 2, times: at(0, 30), group: "email" }, // B: gap 30
			{ depth: 3, times: at(0, 90, 100), group: "direct" }, // C: gaps 90, 10
			{ depth: 1, times: at(0), group: "direct" }, // D
			{ depth: 0, times: [], group: "x" }, // E never started: counts nowhere, not even as a group
		];
		const r = summarize(DEFAULT_FUNNEL, attempts);
		// users 4, 3, 2, 1: conversion 3/4, 2/3, 1/2; from start 100, 75, 50, 25; drop-off 1 each step.
		// Medians: step 2 of 60, 30, 90 = 60; step 3 of 120, 10 = 65; step 4 of 120 = 120.
		expect(r.users).toBe(4);
		expect(r.conversion_pct).toBe(25);
		expect(r.steps).toEqual([
			{ event: "product_view", label: "Product view", users: 4, conversion_pct: null, conversion_from_start_pct: 100, drop_off: 0, drop_off_pct: null, median_seconds_from_previous: null },
			{ event: "add_to_cart", label: "Add to cart", users: 3, conversion_pct: 75, conversion_from_start_pct: 75, drop_off: 1, drop_off_pct: 25, median_seconds_from_previous: 60 },
			{ event: "begin_checkout", label: "Begin checkout", users: 2, conversion_pct: 66.6667, conversion_from_start_pct: 50, drop_off: 1, drop_off_pct: 33.3333, median_seconds_from_previous: 65 },
			{ event: "purchase", label: "Purchase", users: 1, conversion_pct: 50, conversion_from_start_pct: 25, drop_off: 1, drop_off_pct: 50, median_seconds_from_previous: 120 },
		]);
		// Two groups of 2 starters each: the tie is ordered by key. direct: C, D → 2, 1, 1, 0; email: A, B → 2, 2, 1, 1.
		expect(r.groups.map((g) => [g.key, g.users, g.conversion_pct, g.steps.map((s) => s.users), g.steps.map((s) => s.conversion_pct), g.steps.map((s) => s.median_seconds_from_previous)])).toEqual([
			["direct", 2, 0, [2, 1, 1, 0], [null, 50, 100, 0], [null, 90, 10, null]],
			["email", 2, 50, [2, 2, 1, 1], [null, 100, 50, 100], [null, 45, 120, 120]],
		]);
		expect(summarize(DEFAULT_FUNNEL, []).steps.map((s) => [s.users, s.conversion_pct, s.conversion_from_start_pct])).toEqual([
			[0, null, null],
			[0, null, null],
			[0, null, null],
			[0, null, null],
		]);
	});
});

// ─── API ─────────────────────────────────────────────────────────────────────────────────────────

type Step = { event: string; label: string; users: number; conversion_pct: number | null; conversion_from_start_pct: number | null; drop_off: number; drop_off_pct: number | null; median_seconds_from_previous: number | null };
type Summary = { users: number; conversion_pct: number | null; steps: Step[] };
type Report = Summary & { from: string; to: string; timezone: string; starts_from: number; starts_before: number; steps_before: number; by: string | null; funnel: { id: string }; groups?: (Summary & { key: string })[] };
type FunnelJson = { id: string; name: string; steps: { event: string; label?: string }[]; window_seconds: number };
type FunnelSet = { site: string; default: boolean; updated_at: number | null; funnels: FunnelJson[]; rows_changed?: number };
type ErrorJson = { error: string; fields?: { field: string; message: string }[] };

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
	const res = await api(method, path, body);
	return { status: res.status, body: (await res.json()) as T };
}

async function addSite(id: string, timezone: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

const at = (iso: string) => Date.parse(iso);
const ev = (visitor: string, iso: string, name: string, extra: Parameters<typeof storedEvent>[0] = {}) => storedEvent({ site: "fmad", visitor, ts: at(iso), received_at: at(iso), name, ...extra });

/**
 * Site fmad (Europe/Madrid, UTC+1 in March 2026): local day 2026-03-10 is [03-09T23:00Z, 03-10T23:00Z).
 * Default funnel, window 24 h. Starters on the 10th: p1, p2, p3, p4, p7 (p5 starts on the 11th, p6 never views).
 */
const STORE = [
	// p1 (email, desktop): view 00:30 local, a repeated view, cart +120 s, checkout +180 s, purchase +300 s.
	ev("v1", "2026-03-09T23:30:00Z", "product_view", { channel: "email", device: "desktop" }),
	ev("v1", "2026-03-09T23:31:00Z", "product_view", { channel: "email", device: "desktop" }),
	ev("v1", "2026-03-09T23:32:00Z", "add_to_cart", { channel: "email", device: "desktop" }),
	ev("v1", "2026-03-09T23:35:00Z", "begin_checkout", { channel: "email", device: "desktop" }),
	ev("v1", "2026-03-09T23:40:00Z", "purchase", { channel: "email", device: "desktop" }),
	ev("v1", "2026-03-09T23:41:00Z", "page_view", { channel: "email", device: "desktop" }),
	// p2 = customer c2 on two visitor hashes (one person): view, cart +300 s, nothing more.
	ev("v2a", "2026-03-10T10:00:00Z", "product_view", { customer_id: "c2", channel: "paid_search", device: "mobile" }),
	ev("v2b", "2026-03-10T10:05:00Z", "add_to_cart", { customer_id: "c2", channel: "paid_search", device: "mobile" }),
	// p3: a social visit at 23:30 local on the 9th (outside the range), then an organic one on the 10th:
	// view 12:00Z, cart +60 s, checkout +120 s; the purchase 25 h after the view is past the window → depth 3, group organic_search.
	ev("v3", "2026-03-09T22:30:00Z", "product_view", { channel: "social", device: "mobile" }),
	ev("v3", "2026-03-09T22:40:00Z", "add_to_cart", { channel: "social", device: "mobile" }),
	ev("v3", "2026-03-10T12:00:00Z", "product_view", { channel: "organic_search", device: "mobile" }),
	ev("v3", "2026-03-10T12:01:00Z", "add_to_cart", { channel: "organic_search", device: "mobile" }),
	ev("v3", "2026-03-10T12:03:00Z", "begin_checkout", { channel: "organic_search", device: "mobile" }),
	ev("v3", "2026-03-11T13:00:00Z", "purchase", { channel: "organic_search", device: "mobile" }),
	// p4 (email, mobile): view 23:50 local on the 10th; the later steps fall after the range but within
	// 24 h: cart +1,800 s, checkout +6,000 s after the cart, purchase +68,400 s after the checkout (76,200 s ≤ 86,400 from the view).
	ev("v4", "2026-03-10T22:50:00Z", "product_view", { channel: "email", device: "mobile" }),
	ev("v4", "2026-03-10T23:20:00Z", "add_to_cart", { channel: "email", device: "mobile" }),
	ev("v4", "2026-03-11T01:00:00Z", "begin_checkout", { channel: "email", device: "mobile" }),
	ev("v4", "2026-03-11T20:00:00Z", "purchase", { channel: "email", device: "mobile" }),
	// p5: views at 00:10 local on the 11th: outside the range.
	ev("v5", "2026-03-10T23:10:00Z", "product_view", { channel: "direct", device: "desktop" }),
	ev("v5", "2026-03-10T23:11:00Z", "add_to_cart", { channel: "direct", device: "desktop" }),
	// p6: a cart and page views, no product view: never starts.
	ev("v6", "2026-03-10T10:00:00Z", "page_view"),
	ev("v6", "2026-03-10T10:01:00Z", "add_to_cart"),
	// p7 (direct, desktop): view, then a purchase without cart or checkout → depth 1 (600 s between them).
	ev("v7", "2026-03-10T15:00:00Z", "product_view", { channel: "direct", device: "desktop" }),
	ev("v7", "2026-03-10T15:10:00Z", "purchase", { channel: "direct", device: "desktop" }),
];

beforeAll(async () => {
	await addSite("fmad", "Europe/Madrid");
	await addSite("fput", "UTC");
	await storeEvents(env.DB, STORE);
});

const steps = (s: Summary) => s.steps.map((x) => [x.users, x.conversion_pct, x.median_seconds_from_previous]);

describe("GET /api/v1/funnels/{id}/report", () => {
	it("reports the default funnel for a Madrid day: people, conversion, drop-off, medians", async () => {
		const { status, body } = await call<Report>("GET", "/api/v1/funnels/checkout/report?site=fmad&from=2026-03-10&to=2026-03-10");
		expect(status, JSON.stringify(body)).toBe(200);
		expect(body).toMatchObject({ from: "2026-03-10", to: "2026-03-10", timezone: "Europe/Madrid", by: null, funnel: { id: "checkout" } });
		expect(body.starts_from).toBe(at("2026-03-09T23:00:00Z"));
		expect(body.starts_before).toBe(at("2026-03-10T23:00:00Z"));
		expect(body.steps_before).toBe(at("2026-03-11T23:00:00Z"));
		expect(body.groups).toBeUndefined();
		// Step 1: p1 p2 p3 p4 p7 = 5. Step 2: p1 p2 p3 p4 = 4 (80 %), gaps 120, 300, 60, 1,800 → median (120 + 300) ÷ 2 = 210.
		// Step 3: p1 p3 p4 = 3 (75 %), gaps 180, 120, 6,000 → 180. Step 4: p1 p4 = 2 (66.6667 %), gaps 300, 68,400 → 34,350.
		// Overall 2 ÷ 5 = 40 %; from start 100, 80, 60, 40; drop-off 0, 1 (20 %), 1 (25 %), 1 (33.3333 %).
		expect(body.users).toBe(5);
		expect(body.conversion_pct).toBe(40);
		expect(body.steps).toEqual([
			{ event: "product_view", label: "Product view", users: 5, conversion_pct: null, conversion_from_start_pct: 100, drop_off: 0, drop_off_pct: null, median_seconds_from_previous: null },
			{ event: "add_to_cart", label: "Add to cart", users: 4, conversion_pct: 80, conversion_from_start_pct: 80, drop_off: 1, drop_off_pct: 20, median_seconds_from_previous: 210 },
			{ event: "begin_checkout", label: "Begin checkout", users: 3, conversion_pct: 75, conversion_from_start_pct: 60, drop_off: 1, drop_off_pct: 25, median_seconds_from_previous: 180 },
			{ event: "purchase", label: "Purchase", users: 2, conversion_pct: 66.6667, conversion_from_start_pct: 40, drop_off: 1, drop_off_pct: 33.3333, median_seconds_from_previous: 34_350 },
		]);
	});

	it("breaks down by the channel of the step-1 event", async () => {
		const { status, body } = await call<Report>("GET", "/api/v1/funnels/checkout/report?site=fmad&from=2026-03-10&to=2026-03-10&by=channel");
		expect(status).toBe(200);
		expect(body.by).toBe("channel");
		expect(body.users).toBe(5); // the totals do not change with a breakdown
		// email: p1, p4, both convert: medians (120, 1,800) → 960, (180, 6,000) → 3,090, (300, 68,400) → 34,350.
		// Then one starter each, by key: direct p7 (depth 1), organic_search p3 (depth 3: its in-range view, not the social one), paid_search p2 (depth 2).
		expect(body.groups?.map((g) => [g.key, g.users, g.conversion_pct, steps(g)])).toEqual([
			["email", 2, 100, [[2, null, null], [2, 100, 960], [2, 100, 3090], [2, 100, 34_350]]],
			["direct", 1, 0, [[1, null, null], [0, 0, null], [0, null, null], [0, null, null]]],
			["organic_search", 1, 0, [[1, null, null], [1, 100, 60], [1, 100, 120], [0, 0, null]]],
			["paid_search", 1, 0, [[1, null, null], [1, 100, 300], [0, 0, null], [0, null, null]]],
		]);
	});

	it("breaks down by the device of the step-1 event", async () => {
		const { status, body } = await call<Report>("GET", "/api/v1/funnels/checkout/report?site=fmad&from=2026-03-10&to=2026-03-10&by=device");
		expect(status).toBe(200);
		// mobile: p2, p3, p4 → 3, 3, 2, 1; cart gaps 300, 60, 1,800 → 300; checkout 120, 6,000 → 3,060; purchase 68,400; 1 ÷ 3 = 33.3333 %.
		// desktop: p1, p7 → 2, 1, 1, 1; medians 120, 180, 300; 1 ÷ 2 = 50 %.
		expect(body.groups?.map((g) => [g.key, g.users, g.conversion_pct, steps(g)])).toEqual([
			["mobile", 3, 33.3333, [[3, null, null], [3, 100, 300], [2, 66.6667, 3060], [1, 50, 68_400]]],
			["desktop", 2, 50, [[2, null, null], [1, 50, 120], [1, 100, 180], [1, 100, 300]]],
		]);
	});

	it("takes a range of several days (a tie between two starts goes to the earlier) and answers zeros for a range without events", async () => {
		// 9th–11th local adds p5 (view 00:10 local on the 11th, cart +60 s → depth 2) and p3's social view at 23:30 local
		// on the 9th: it now starts an attempt too (cart +600 s, the checkout 13 h 33 m later is within 24 h → depth 3), as
		// deep as the organic one, so the earlier, social start wins. Starters 6; carts p1 p2 p3 p4 p5; checkouts p1 p3 p4; purchases p1 p4.
		const wide = await call<Report>("GET", "/api/v1/funnels/checkout/report?site=fmad&from=2026-03-09&to=2026-03-11&by=channel");
		expect(steps(wide.body).map((s) => s[0])).toEqual([6, 5, 3, 2]);
		// direct p5 p7 and email p1 p4 (2 each, by key), then paid_search p2 and social p3.
		expect(wide.body.groups?.map((g) => [g.key, g.steps.map((s) => s.users)])).toEqual([
			["direct", [2, 1, 0, 0]],
			["email", [2, 2, 2, 2]],
			["paid_search", [1, 1, 0, 0]],
			["social", [1, 1, 1, 0]],
		]);
		const empty = await call<Report>("GET", "/api/v1/funnels/checkout/report?site=fmad&from=2026-01-01&to=2026-01-31");
		expect(empty.status).toBe(200);
		expect([empty.body.users, empty.body.conversion_pct, steps(empty.body)[3]]).toEqual([0, null, [0, null, null]]);
	});

	it("gives the same answer whatever the D1 page size (pages end on whole people)", async () => {
		const def = DEFAULT_FUNNEL;
		const range = { startFrom: at("2026-03-09T23:00:00Z"), startTo: at("2026-03-10T23:00:00Z") };
		const whole = await funnelReport(env.DB, "fmad", def, range, "channel");
		// p1 has the most step events in the read range (5), so any page of 5 or more rows holds a whole person.
		for (const pageRows of [5, 6, 7, 9]) expect(await funnelReport(env.DB, "fmad", def, range, "channel", pageRows), `page ${pageRows}`).toEqual(whole);
	});

	it("reads the range through the (site, ts) index", async () => {
		for (const by of [null, "channel", "device"] as const) {
			const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${reportSql(by)}`).bind("fmad", 0, 1, "[]", null, 10).all<{ detail: string }>();
			expect(plan.results.map((r) => r.detail).join("; ")).toMatch(/SEARCH events USING INDEX events_site_ts \(site=\? AND ts>\? AND ts<\?\)/);
		}
	});

	it("validates the query and answers 404 for an unknown funnel", async () => {
		for (const [query, field] of [
			["from=2026-02-30", "from"],
			["from=2026-03-10&to=2026-03-01", "from"],
			["from=2020-01-01&to=2026-03-01", "from"], // over 5 × 366 days (the KPI API's limit; test/funnel-rollup.test.ts has the edge)
			["by=country", "by"],
			["colour=red", "colour"],
		] as const) {
			const { status, body } = await call<ErrorJson>("GET", `/api/v1/funnels/checkout/report?site=fmad&${query}`);
			expect(status, query).toBe(400);
			expect(body.fields?.map((f) => f.field), query).toContain(field);
		}
		for (const id of ["nope", "Not_A_Slug!"]) {
			const { status, body } = await call<ErrorJson>("GET", `/api/v1/funnels/${encodeURIComponent(id)}/report?site=fmad`);
			expect(status, id).toBe(404);
			expect(body.error).toBe("not_found");
			expect(body.fields?.[0]?.field).toBe("id");
		}
	});

	it("reports a saved funnel with its own window (inclusive at the last second); the default is gone once a set is saved", async () => {
		const quick = { id: "quick", name: "View to purchase in 10 minutes", steps: [{ event: "product_view" }, { event: "purchase", label: "Bought" }], window_seconds: 600 };
		expect((await call("PUT", "/api/v1/funnels?site=fmad", { funnels: [quick] })).status).toBe(200);
		const { body } = await call<Report>("GET", "/api/v1/funnels/quick/report?site=fmad&from=2026-03-10&to=2026-03-10");
		// p1: view 23:30, purchase 23:40 = 600 s (in); p7: view 15:00, purchase 15:10 = 600 s (in); p3, p4 buy hours later; p2 never.
		expect([body.users, body.conversion_pct]).toEqual([5, 40]);
		expect(body.steps[1]).toMatchObject({ event: "purchase", label: "Bought", users: 2, median_seconds_from_previous: 600 });
		expect(body.steps_before).toBe(at("2026-03-10T23:10:00Z"));
		expect((await call("GET", "/api/v1/funnels/checkout/report?site=fmad")).status).toBe(404);
	});
});

describe("GET and PUT /api/v1/funnels", () => {
	const a = { id: "a", name: "Browse", steps: [{ event: "page_view" }, { event: "product_view", label: "Viewed" }], window_seconds: 1800 };
	const b = { id: "b-2", name: "Cart", steps: [{ event: "add_to_cart" }, { event: "begin_checkout" }, { event: "purchase" }], window_seconds: 7 * 86_400 };

	it("has the default checkout funnel until the site saves a set", async () => {
		const { status, body } = await call<FunnelSet>("GET", "/api/v1/funnels?site=fput");
		expect(status).toBe(200);
		expect(body).toEqual({
			site: "fput",
			default: true,
			updated_at: null,
			funnels: [
				{
					id: "checkout",
					name: "Checkout",
					steps: [
						{ event: "product_view", label: "Product view" },
						{ event: "add_to_cart", label: "Add to cart" },
						{ event: "begin_checkout", label: "Begin checkout" },
						{ event: "purchase", label: "Purchase" },
					],
					window_seconds: 86_400,
				},
			],
		});
	});

	it("rejects an invalid set naming each field, and stores nothing", async () => {
		const steps2 = [{ event: "product_view" }, { event: "purchase" }];
		const ok = { id: "ok", name: "OK", steps: steps2, window_seconds: 600 };
		const cases: [unknown, string][] = [
			[{ funnels: [{ ...ok, id: "Bad Id" }] }, "funnels[0].id"],
			[{ funnels: [{ ...ok, steps: [{ event: "product_view" }] }] }, "funnels[0].steps"],
			[{ funnels: [{ ...ok, steps: Array.from({ length: 11 }, () => ({ event: "page_view" })) }] }, "funnels[0].steps"],
			[{ funnels: [{ ...ok, steps: [{ event: "product_view" }, { event: "1purchase" }] }] }, "funnels[0].steps[1].event"],
			[{ funnels: [{ ...ok, window_seconds: 59 }] }, "funnels[0].window_seconds"],
			[{ funnels: [{ ...ok, window_seconds: 90 * 86_400 + 1 }] }, "funnels[0].window_seconds"],
			[{ funnels: [{ ...ok, window_seconds: 600.5 }] }, "funnels[0].window_seconds"],
			[{ funnels: [ok, { ...ok, name: "again" }] }, "funnels[1].id"],
			[{ funnels: [] }, "funnels"],
			[{ funnels: [{ ...ok, colour: "red" }] }, "funnels[0].colour"],
			[{ funnels: [{ ...ok, name: "" }] }, "funnels[0].name"],
		];
		for (const [body, field] of cases) {
			const res = await call<ErrorJson>("PUT", "/api/v1/funnels?site=fput", body);
			expect(res.status, field).toBe(400);
			expect(res.body.error).toBe("invalid_request");
			expect(res.body.fields?.map((f) => f.field), JSON.stringify(body)).toContain(field);
		}
		expect((await call<FunnelSet>("GET", "/api/v1/funnels?site=fput")).body.default).toBe(true);
	});

	it("replaces the set; the same set again changes nothing", async () => {
		const first = await call<FunnelSet>("PUT", "/api/v1/funnels?site=fput", { funnels: [b, a] });
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({ site: "fput", default: false, rows_changed: 2, funnels: [b, a] });
		const stamp = first.body.updated_at;
		expect(stamp).toBeGreaterThan(0);

		const again = await call<FunnelSet>("PUT", "/api/v1/funnels?site=fput", { funnels: [b, a] });
		expect(again.body).toMatchObject({ rows_changed: 0, updated_at: stamp, funnels: [b, a] });

		// a is dropped (1 delete), b changes its window (1 update), c is new (1 insert); the order is the body's.
		const c = { id: "c", name: "Search", steps: [{ event: "search" }, { event: "product_view" }], window_seconds: 60 };
		const b2 = { ...b, window_seconds: 3600 };
		const third = await call<FunnelSet>("PUT", "/api/v1/funnels?site=fput", { funnels: [c, b2] });
		expect(third.body).toMatchObject({ rows_changed: 3, funnels: [c, b2] });
		const got = await call<FunnelSet>("GET", "/api/v1/funnels?site=fput");
		expect(got.body).toEqual({ site: "fput", default: false, updated_at: third.body.updated_at, funnels: [c, b2] });
		expect((await call("GET", "/api/v1/funnels/a/report?site=fput")).status).toBe(404);
		expect((await call("GET", "/api/v1/funnels/b-2/report?site=fput")).status).toBe(200);
	});
});
