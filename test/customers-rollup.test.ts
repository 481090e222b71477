/**
 * Journey rollups and the one-statement customers overview (workers/customers/journey-rollup.ts,
 * overview-query.ts) against the exact paths, on hand-built data whose every count is worked out in the
 * comments: sessions across local midnight, a session cut 6 h after its start day, late events, an erased
 * customer, and orders that cross a day boundary in the site's time zone.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { journeysReport, readJourneysExact, rollJourneys } from "../workers/customers/journey-rollup";
import { OVERVIEW_LONG_SQL, OVERVIEW_SQL, queryOverview } from "../workers/customers/overview-query";
import { readOverview } from "../workers/customers/read";
import { reroll } from "../workers/metrics/rollup";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent } from "./helpers";

const T = (iso: string) => Date.parse(iso);
type Journeys = { sessions: number; sessions_with_page_view: number; converting_sessions: number; entry_pages: unknown[]; conversion_paths: unknown[] };

async function addSite(id: string, timezone: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

async function get(path: string): Promise<{ body: Journeys & Record<string, unknown>; source: string | null }> {
	const res = await api("GET", path);
	expect(res.status, path).toBe(200);
	return { body: (await res.json()) as Journeys & Record<string, unknown>, source: res.headers.get("x-computed-from") };
}

// ─── journeys ────────────────────────────────────────────────────────────────────────────────────

// Site jr, Europe/Madrid (UTC+1 in January): local day 2026-01-11 is [2026-01-10T23:00Z, 2026-01-11T23:00Z).
const JR = { id: "jr", timezone: "Europe/Madrid" };
const pv = (visitor: string, iso: string, path: string, extra: Record<string, unknown> = {}) =>
	storedEvent({ site: "jr", visitor, name: "page_view", ts: T(iso), received_at: T(iso), path, url: `https://shop.example${path}`, ...extra });
const buy = (visitor: string, iso: string, extra: Record<string, unknown> = {}) =>
	storedEvent({ site: "jr", visitor, name: "purchase", ts: T(iso), received_at: T(iso), path: "/checkout", ...extra });

// v3's marathon: a page view every 25 minutes from 21:00Z on the 11th (22:00 local) to 04:55Z on the 12th, then a
// purchase at 05:10Z. Its cutoff is 6 h after the end of its start day (23:00Z + 6 h = 05:00Z on the 12th): the
// purchase is past it, so the session does not convert, on both paths.
const marathon = () => {
	const out = [pv("v3", "2026-01-11T21:00:00Z", "/a"), pv("v3", "2026-01-11T21:25:00Z", "/b")];
	for (let t = T("2026-01-11T21:50:00Z"); t <= T("2026-01-12T04:55:00Z"); t += 25 * 60_000) out.push(pv("v3", new Date(t).toISOString(), "/c"));
	out.push(buy("v3", "2026-01-12T05:10:00Z"));
	return out;
};

const JOURNEY_EVENTS = () => [
	// Day 10: v6 "/" alone; v1 starts at 23:50 local and buys after midnight (00:20 local on the 11th): day 10, /a → /b.
	pv("v6", "2026-01-10T07:00:00Z", "/"),
	pv("v1", "2026-01-10T22:50:00Z", "/a"),
	pv("v1", "2026-01-10T23:10:00Z", "/b"),
	buy("v1", "2026-01-10T23:20:00Z"),
	// Day 11: v2 (customer jr-c1) "/" → /p/x (repeat collapsed) → purchase; v3 the marathon (entry /a, no conversion).
	pv("v2", "2026-01-11T09:00:00Z", "/", { customer_id: "jr-c1" }),
	pv("v2", "2026-01-11T09:05:00Z", "/p/x", { customer_id: "jr-c1" }),
	pv("v2", "2026-01-11T09:06:00Z", "/p/x", { customer_id: "jr-c1" }),
	buy("v2", "2026-01-11T09:10:00Z", { customer_id: "jr-c1" }),
	...marathon(),
	// Day 12: v4 an add_to_cart, then its first page view /p/y; v5 a purchase with no page view.
	storedEvent({ site: "jr", visitor: "v4", name: "add_to_cart", ts: T("2026-01-12T10:00:00Z"), received_at: T("2026-01-12T10:00:00Z"), path: "/p/y" }),
	pv("v4", "2026-01-12T10:01:00Z", "/p/y"),
	buy("v5", "2026-01-12T12:00:00Z"),
];

// Hand-computed for 2026-01-10 … 01-12: sessions v6, v1 | v2, v3 | v4, v5 = 6; with a page view 5 (not v5);
// converting v1, v2, v5 = 3. Entry pages "/" (v6, v2) 2 of 5 = 40 %, "/a" (v1, v3) 40 %, "/p/y" 20 %.
const EXPECTED_3_DAYS = {
	sessions: 6,
	sessions_with_page_view: 5,
	converting_sessions: 3,
	entry_pages: [
		{ path: "/", sessions: 2, share_pct: 40 },
		{ path: "/a", sessions: 2, share_pct: 40 },
		{ path: "/p/y", sessions: 1, share_pct: 20 },
	],
	conversion_paths: [
		{ path: "(no page view)", pages: [], sessions: 1, share_pct: 33.3333 },
		{ path: "/ → /p/x", pages: ["/", "/p/x"], sessions: 1, share_pct: 33.3333 },
		{ path: "/a → /b", pages: ["/a", "/b"], sessions: 1, share_pct: 33.3333 },
	],
};

const JRANGE = "site=jr&from=2026-01-10&to=2026-01-12";
const pick = (j: Journeys) => ({ sessions: j.sessions, sessions_with_page_view: j.sessions_with_page_view, converting_sessions: j.converting_sessions, entry_pages: j.entry_pages, conversion_paths: j.conversion_paths });
const NOW = T("2026-01-20T12:00:00Z");

describe("journey rollups", () => {
	beforeAll(async () => {
		await addSite("jr", JR.timezone);
		await storeEvents(env.DB, JOURNEY_EVENTS());
	});

	it("answers the hand-computed journeys from the events before anything is rolled, and rolls them after", async () => {
		const exact = await get(`/api/v1/journeys?${JRANGE}&exact=true`);
		expect(exact.source).toBe("events");
		expect(pick(exact.body)).toEqual(EXPECTED_3_DAYS);
		const first = await get(`/api/v1/journeys?${JRANGE}`);
		expect(first.source).toBe("events"); // nothing rolled yet
		expect(pick(first.body)).toEqual(EXPECTED_3_DAYS);
	});

	it("gives the same numbers from the rollup, for every sub-range and limit", async () => {
		// The KPI re-roller hands the web hours over (journey_dirty); the journey roll covers the days from the first
		// event's (minus 6 h) to today and clears them.
		await reroll(env.DB, JR);
		const rolled = await rollJourneys(env.DB, JR, { now: NOW });
		expect(rolled).toEqual({ days: 11, remaining: false }); // 2026-01-10 … 01-20
		expect(await env.DB.prepare("SELECT COUNT(*) FROM journey_dirty WHERE site = 'jr'").raw()).toEqual([[0]]);
		const days = await env.DB.prepare("SELECT day, timezone, sessions, with_page, converting FROM journey_days WHERE site = 'jr' AND day <= '2026-01-13' ORDER BY day").raw();
		// Per local day: 2 sessions each; v3's marathon counts on the 11th, unconverted; v1 on the 10th.
		expect(days).toEqual([
			["2026-01-10", JR.timezone, 2, 2, 1],
			["2026-01-11", JR.timezone, 2, 2, 1],
			["2026-01-12", JR.timezone, 2, 1, 1],
			["2026-01-13", JR.timezone, 0, 0, 0],
		]);
		const r = await get(`/api/v1/journeys?${JRANGE}`);
		expect(r.source).toBe("rollup");
		expect(pick(r.body)).toEqual(EXPECTED_3_DAYS);
		for (const [from, to] of [["2026-01-10", "2026-01-10"], ["2026-01-11", "2026-01-11"], ["2026-01-11", "2026-01-12"], ["2026-01-10", "2026-01-13"]] as const) {
			for (const limit of [1, 2, 10]) {
				const rolled = await journeysReport(env.DB, JR, from, to, limit);
				expect(rolled.source, `${from} ${to}`).toBe("rollup");
				expect(rolled.report, `${from}…${to} limit ${limit}`).toEqual(await readJourneysExact(env.DB, JR, from, to, limit));
			}
		}
		// Day 11 alone: v2 and the marathon v3; only v2 converts (v3's purchase is past its cutoff).
		const d11 = await journeysReport(env.DB, JR, "2026-01-11", "2026-01-11", 10);
		expect([d11.report.sessions, d11.report.convertingSessions, d11.report.conversionPaths.map((p) => p.path)]).toEqual([2, 1, ["/ → /p/x"]]);
		// limit 1: ties at the cut are read, the final order is the exact path's ("/" before "/a").
		expect((await journeysReport(env.DB, JR, "2026-01-10", "2026-01-12", 1)).report.entryPages).toEqual([{ path: "/", sessions: 2, sharePct: 40 }]);
	});

	it("reads the page-view sequence with the same page size as a whole read", async () => {
		for (const pageRows of [1, 3, 7]) expect(await readJourneysExact(env.DB, JR, "2026-01-10", "2026-01-12", 10, pageRows)).toEqual(await readJourneysExact(env.DB, JR, "2026-01-10", "2026-01-12", 10));
	});

	it("takes late events: stale days come from the events (same numbers) until the rollup catches up", async () => {
		// v7 at 15:00Z on the 11th, "/late": reaches the local days overlapping [09:00Z, 22:00Z] on the 11th: the 11th only.
		await storeEvents(env.DB, [pv("v7", "2026-01-11T15:00:00Z", "/late")]);
		const mid = await get(`/api/v1/journeys?${JRANGE}`);
		expect(mid.source).toBe("events"); // a stale day in the middle of the range
		expect(mid.body.sessions).toBe(7);
		expect(pick(mid.body)).toEqual(pick((await get(`/api/v1/journeys?${JRANGE}&exact=true`)).body));
		const tail = await get("/api/v1/journeys?site=jr&from=2026-01-10&to=2026-01-11");
		expect(tail.source).toBe("rollup+events"); // the stale day is the last one: merged
		expect([tail.body.sessions, tail.body.sessions_with_page_view, tail.body.converting_sessions]).toEqual([5, 5, 2]);
		expect(pick(tail.body)).toEqual(pick((await get("/api/v1/journeys?site=jr&from=2026-01-10&to=2026-01-11&exact=true")).body));

		// The KPI re-roller hands the hour to journey_dirty; the journey roll re-rolls the 11th and clears it.
		await reroll(env.DB, JR);
		expect(await env.DB.prepare("SELECT hour FROM journey_dirty WHERE site = 'jr'").raw()).toEqual([[T("2026-01-11T15:00:00Z") / 3_600_000]]);
		const rolled = await rollJourneys(env.DB, JR, { now: NOW });
		expect(rolled.remaining).toBe(false);
		expect(await env.DB.prepare("SELECT COUNT(*) FROM journey_dirty WHERE site = 'jr'").raw()).toEqual([[0]]);
		const after = await get(`/api/v1/journeys?${JRANGE}`);
		expect(after.source).toBe("rollup");
		expect(pick(after.body)).toEqual(pick((await get(`/api/v1/journeys?${JRANGE}&exact=true`)).body));
		expect(after.body.entry_pages).toEqual([
			{ path: "/", sessions: 2, share_pct: 33.3333 },
			{ path: "/a", sessions: 2, share_pct: 33.3333 },
			{ path: "/late", sessions: 1, share_pct: 16.6667 },
			{ path: "/p/y", sessions: 1, share_pct: 16.6667 },
		]);
	});

	it("drops an erased customer's sessions: the erasure marks their hours, the rollup re-rolls them", async () => {
		const res = await api("DELETE", "/api/v1/customers/jr-c1?site=jr");
		expect(res.status, await res.clone().text()).toBe(200);
		expect(await env.DB.prepare("SELECT hour FROM journey_dirty WHERE site = 'jr'").raw()).toEqual([[T("2026-01-11T09:00:00Z") / 3_600_000]]);
		// v2 (jr-c1) is gone: 6 sessions, 2 converting; the rollup is stale and the answer comes from the events.
		const stale = await get(`/api/v1/journeys?${JRANGE}`);
		expect(stale.source).toBe("events");
		expect([stale.body.sessions, stale.body.converting_sessions]).toEqual([6, 2]);
		await rollJourneys(env.DB, JR, { now: NOW });
		const after = await get(`/api/v1/journeys?${JRANGE}`);
		expect(after.source).toBe("rollup");
		expect(pick(after.body)).toEqual(pick(stale.body));
		expect(after.body.conversion_paths).toEqual([
			{ path: "(no page view)", pages: [], sessions: 1, share_pct: 50 },
			{ path: "/a → /b", pages: ["/a", "/b"], sessions: 1, share_pct: 50 },
		]);
	});

	it("does not use days rolled in another time zone", async () => {
		await env.DB.prepare("UPDATE sites SET timezone = 'UTC' WHERE id = 'jr'").run();
		try {
			const utc = { id: "jr", timezone: "UTC" };
			const r = await journeysReport(env.DB, utc, "2026-01-10", "2026-01-12", 10);
			expect(r.source).toBe("events");
			expect(r.report).toEqual(await readJourneysExact(env.DB, utc, "2026-01-10", "2026-01-12", 10));
		} finally {
			await env.DB.prepare("UPDATE sites SET timezone = ? WHERE id = 'jr'").bind(JR.timezone).run();
		}
	});
});

// ─── customers overview ──────────────────────────────────────────────────────────────────────────

// Site ov, America/New_York (UTC−5 in January): local day 2026-01-10 is [2026-01-10T05:00Z, 2026-01-11T05:00Z).
describe("customers overview in one statement", () => {
	beforeAll(async () => {
		await addSite("ov", "America/New_York");
		const put = async (entity: string, body: unknown) => {
			const res = await api("PUT", `/api/v1/${entity}?site=ov`, body);
			expect(res.status, await res.clone().text()).toBe(200);
		};
		await put("customers", [
			{ customer_id: "a", created_at: "2025-12-01", country: "US", channel: "email" },
			{ customer_id: "b", created_at: "2025-12-01", country: "CA" },
			{ customer_id: "e", created_at: "2025-12-01", country: "US", channel: "social" },
		]);
		await put("orders", [
			// a: 23:30 local on the 10th is 04:30Z on the 11th — in a range ending the 10th; an order before the range → returning.
			{ order_id: "a0", customer_id: "a", placed_at: "2026-01-02T15:00:00Z", total: 5, currency: "EUR", channel: "organic" },
			{ order_id: "a1", customer_id: "a", placed_at: "2026-01-11T04:30:00Z", total: 30, tax: 5, currency: "EUR", channel: "organic" },
			// b: 00:30 local on the 11th (05:30Z): outside a range ending the 10th. No channel on the record → the first order's (referral).
			{ order_id: "b1", customer_id: "b", placed_at: "2026-01-11T05:30:00Z", total: 40, currency: "EUR", channel: "referral" },
			{ order_id: "b2", customer_id: "b", placed_at: "2026-01-10T12:00:00Z", total: 10, currency: "EUR", channel: "paid_search" },
			{ order_id: "b3", customer_id: "b", placed_at: "2026-01-10T13:00:00Z", total: 10, currency: "EUR", status: "cancelled" },
			// e (to be erased): two orders in the range, new.
			{ order_id: "e1", customer_id: "e", placed_at: "2026-01-09T12:00:00Z", total: 20, currency: "EUR" },
			{ order_id: "e2", customer_id: "e", placed_at: "2026-01-10T12:00:00Z", total: 20, currency: "EUR" },
		]);
		const ev = (customer: string, iso: string, device: string) => storedEvent({ site: "ov", visitor: `vis-${customer}`, customer_id: customer, ts: T(iso), received_at: T(iso), device });
		await storeEvents(env.DB, [
			// a: mobile 1, desktop 1 → tie → the latest (desktop, 04:00Z on the 11th = 23:00 local on the 10th).
			ev("a", "2026-01-10T15:00:00Z", "mobile"),
			ev("a", "2026-01-11T04:00:00Z", "desktop"),
			// b: tablet twice in the range; a desktop event after it (local 11th) does not count.
			ev("b", "2026-01-10T11:00:00Z", "tablet"),
			ev("b", "2026-01-10T11:30:00Z", "tablet"),
			ev("b", "2026-01-11T06:00:00Z", "desktop"),
			ev("e", "2026-01-09T11:00:00Z", "mobile"),
		]);
	});

	const range = (from: string, to: string) => [T(`${from}T05:00:00Z`), T(`${to}T05:00:00Z`) + 86_400_000] as const;

	it("answers the hand-computed segments, equal to the per-customer reader, for ranges across the local day boundary", async () => {
		// 2026-01-09 … 01-10 local: a (a1: 30 − 5 tax = 25.00, returning, desktop, email); b (b2: 10.00; b3 is cancelled; its
		// first-ever order is b2, so new and paid_search); e (2 orders, 40.00, new, mobile, social).
		const [start, end] = range("2026-01-09", "2026-01-10");
		const o = await queryOverview(env.DB, "ov", start, end);
		expect(o).toEqual(await readOverview(env.DB, "ov", start, end));
		expect([o.customers, o.orders, o.revenueMinor, o.newCustomers, o.returningCustomers]).toEqual([3, 4, 2500 + 1000 + 4000, 2, 1]);
		expect(o.byCountry).toEqual([
			{ key: "US", customers: 2, orders: 3, revenueMinor: 6500 },
			{ key: "CA", customers: 1, orders: 1, revenueMinor: 1000 },
		]);
		expect(o.byChannel.map((s) => [s.key, s.customers])).toEqual([["email", 1], ["paid_search", 1], ["social", 1]]);
		expect(o.byDevice.map((s) => [s.key, s.customers])).toEqual([["desktop", 1], ["mobile", 1], ["tablet", 1]]);
		expect(o.frequency.map((s) => [s.key, s.customers, s.orders])).toEqual([["1", 2, 2], ["2", 1, 2], ["3", 0, 0], ["4-5", 0, 0], ["6-10", 0, 0], ["11+", 0, 0]]);
		// The local 11th alone: b1 (00:30 local) only — b is returning (b2 the day before); a1 (23:30 local on the 10th) is not in it.
		const [s11, e11] = range("2026-01-11", "2026-01-11");
		const d11 = await queryOverview(env.DB, "ov", s11, e11);
		expect(d11).toEqual(await readOverview(env.DB, "ov", s11, e11));
		expect([d11.customers, d11.orders, d11.revenueMinor, d11.newCustomers, d11.byDevice]).toEqual([1, 1, 4000, 0, [{ key: "desktop", customers: 1, orders: 1, revenueMinor: 4000 }]]);
		// Both statements (the range's orders; every order in customer order, for long ranges) on every range.
		for (const [from, to] of [["2026-01-09", "2026-01-10"], ["2026-01-11", "2026-01-11"], ["2026-01-01", "2026-01-31"], ["2026-01-10", "2026-01-10"], ["2025-01-01", "2025-12-31"], ["2025-06-01", "2026-05-31"]] as const) {
			const [s, e] = range(from, to);
			const exact = await readOverview(env.DB, "ov", s, e);
			expect(await queryOverview(env.DB, "ov", s, e, false), `${from}…${to}`).toEqual(exact);
			expect(await queryOverview(env.DB, "ov", s, e, true), `${from}…${to} long`).toEqual(exact);
		}
	});

	const OV = { id: "ov", timezone: "America/New_York" };
	const overview = async (q: string) => {
		const res = await api("GET", `/api/v1/customers/overview?site=ov&${q}`);
		expect(res.status).toBe(200);
		return { source: res.headers.get("x-computed-from"), body: (await res.json()) as Record<string, unknown> };
	};

	it("takes each customer's device from the daily device tallies once rolled, with the same numbers", async () => {
		const q = "from=2026-01-01&to=2026-01-31";
		const exact = await overview(`${q}&exact=true`);
		expect(exact.source).toBe("exact");
		const before = await overview(q);
		// Nothing rolled yet: the days before the site's first event (by 6 h) count as rolled (empty), the rest from events.
		expect(before.source).toBe("rollup+events");
		expect(before.body).toEqual(exact.body);
		await reroll(env.DB, OV);
		await rollJourneys(env.DB, OV, { now: T("2026-02-05T12:00:00Z") });
		// Per (local day, customer, device): a's two events are on the local 10th (04:00Z on the 11th is 23:00 on the 10th).
		expect(await env.DB.prepare("SELECT day, customer_id, device, events FROM customer_device_days WHERE site = 'ov' ORDER BY day, customer_id, device").raw()).toEqual([
			["2026-01-09", "e", "mobile", 1],
			["2026-01-10", "a", "desktop", 1],
			["2026-01-10", "a", "mobile", 1],
			["2026-01-10", "b", "tablet", 2],
			["2026-01-11", "b", "desktop", 1],
		]);
		const after = await overview(q);
		expect(after.source).toBe("rollup");
		expect(after.body).toEqual(exact.body);
		// Every split of the tallies between rolled days and events gives the same answer, on both statements.
		for (const [from, to] of [["2026-01-09", "2026-01-10"], ["2026-01-10", "2026-01-11"], ["2026-01-01", "2026-01-31"]] as const) {
			const [s, e] = range(from, to);
			const want = await readOverview(env.DB, "ov", s, e);
			for (let d: string = from; d <= to; d = new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)) {
				const rolled = { from, to: d, end: range(d, d)[1] };
				for (const long of [false, true]) expect(await queryOverview(env.DB, "ov", s, e, long, rolled), `${from}…${to} rolled to ${d} ${long}`).toEqual(want);
			}
		}
	});

	it("counts an erased customer under their pseudonym, the same on both paths", async () => {
		const res = await api("DELETE", "/api/v1/customers/e?site=ov");
		expect(res.status, await res.clone().text()).toBe(200);
		// The erasure marked the hours of e's events: the rolled tallies of the 9th are stale until re-rolled.
		const stale = await overview("from=2026-01-09&to=2026-01-10");
		expect(stale.source).toBe("events");
		expect(stale.body).toEqual((await overview("from=2026-01-09&to=2026-01-10&exact=true")).body);
		// e's events were the site's first: the re-roll reaches the 9th from the changed hour, not from the first event left.
		expect(await rollJourneys(env.DB, OV, { now: T("2026-02-05T12:00:00Z") })).toEqual({ days: 1, remaining: false }); // the 9th: 11:00Z ± 6 h is inside it
		const rolled = await overview("from=2026-01-09&to=2026-01-10");
		expect(rolled.source).toBe("rollup");
		expect(rolled.body).toEqual(stale.body);
		expect(await env.DB.prepare("SELECT COUNT(*) FROM customer_device_days WHERE site = 'ov' AND customer_id = 'e'").raw()).toEqual([[0]]);
		const [start, end] = range("2026-01-09", "2026-01-10");
		const o = await queryOverview(env.DB, "ov", start, end);
		expect(o).toEqual(await readOverview(env.DB, "ov", start, end));
		// e's orders stay (re-keyed to erased-…): still 3 customers and 4 orders; the record went (country and channel
		// unknown → the first order's channel, none → unknown), and so did the events (device unknown).
		expect([o.customers, o.orders, o.revenueMinor]).toEqual([3, 4, 7500]);
		expect(o.byCountry).toEqual([
			{ key: "CA", customers: 1, orders: 1, revenueMinor: 1000 },
			{ key: "US", customers: 1, orders: 1, revenueMinor: 2500 },
			{ key: "unknown", customers: 1, orders: 2, revenueMinor: 4000 },
		]);
		expect(o.byDevice.map((s) => [s.key, s.customers])).toEqual([["desktop", 1], ["tablet", 1], ["unknown", 1]]);
	});

	it("reads orders and identified events from the covering indexes alone", async () => {
		const plan = async (sql: string) => (await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind("ov", 0, 1, "a", "b", 0).all<{ detail: string }>()).results.map((r) => r.detail).join("; ");
		const short = await plan(OVERVIEW_SQL);
		expect(short).toMatch(/SEARCH orders USING COVERING INDEX orders_live_placed \(site=\? AND placed_at>\? AND placed_at<\?\)/);
		expect(short).toMatch(/SEARCH f USING COVERING INDEX orders_live_first \(site=\? AND customer_id=\?\)/);
		expect(short).toMatch(/SEARCH e USING COVERING INDEX events_site_customer_ts \(site=\? AND customer_id=\? AND ts>\? AND ts<\?\)/);
		expect(short).toMatch(/SEARCH d USING COVERING INDEX customer_device_days_customer \(site=\? AND customer_id=\? AND day>\? AND day<\?\)/);
		const long = await plan(OVERVIEW_LONG_SQL);
		// `r` grouped in index order: nothing (no temp B-tree) between its one pass over the orders and its first use.
		expect(long).toMatch(/MATERIALIZE r; SEARCH orders USING COVERING INDEX orders_live_first \(site=\?\); SCAN r/);
		// The device: seeks on the customer's own device days and events.
		expect(long).toMatch(/SEARCH d USING COVERING INDEX customer_device_days_customer \(site=\? AND customer_id=\? AND day>\? AND day<\?\)/);
		expect(long).toMatch(/SEARCH e USING COVERING INDEX events_site_customer_ts \(site=\? AND customer_id=\? AND ts>\? AND ts<\?\)/);
	});
});
