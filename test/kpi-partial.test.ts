/**
 * Partial periods (issue 15 item 2): a period not over at `now` is marked partial with its elapsed
 * fraction, and comparisons and growth are like-for-like — the comparison stops at the same elapsed
 * time of its matching day, as the alert rules' `today` window does. Every expected value is
 * computed by hand from the fixtures below, at a fixed `now` passed to the engine.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { KPIS } from "../workers/metrics/catalog";
import { runKpiQuery, type KpiResponse } from "../workers/metrics/query";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent } from "./helpers";

const T = (iso: string) => Date.parse(iso);
const UTC_SITE = { id: "pu", timezone: "UTC", currency: "EUR" };
const MADRID = { id: "pm", timezone: "Europe/Madrid", currency: "EUR" };

async function put(site: string, entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}
async function addSite(s: { id: string; timezone: string }) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(s.id, s.id, s.timezone).run();
}
const order = (id: string, iso: string, total: number) => ({ order_id: id, customer_id: `c-${id}`, placed_at: iso, total, currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 1, unit_price: total }] });
const kpi = (r: KpiResponse, id: string) => r.kpis.find((k) => k.id === id) as KpiResponse["kpis"][number];

beforeAll(async () => {
	await addSite(UTC_SITE);
	await addSite(MADRID);
	// Site pu (UTC). 03-08: 30.00 at 10:00. 03-09: 10.00 at 09:00, 20.00 at 13:00, 40.00 at 18:00. 03-10 (today): 15.00 at 08:00, 5.00 at 11:00.
	await put("pu", "orders", [
		order("a1", "2026-03-08T10:00:00Z", 30),
		order("b1", "2026-03-09T09:00:00Z", 10),
		order("b2", "2026-03-09T13:00:00Z", 20),
		order("b3", "2026-03-09T18:00:00Z", 40),
		order("t1", "2026-03-10T08:00:00Z", 15),
		order("t2", "2026-03-10T11:00:00Z", 5),
	]);
	await put("pu", "spend", [
		{ day: "2026-03-08", channel: "paid_search", amount: 10, currency: "EUR" },
		{ day: "2026-03-09", channel: "paid_search", amount: 20, currency: "EUR" },
		{ day: "2026-03-10", channel: "paid_search", amount: 5, currency: "EUR" },
	]);
	const ev = (visitor: string, iso: string) => storedEvent({ site: "pu", visitor, ts: T(iso), received_at: T(iso), channel: "direct", device: "desktop", country: "ES" });
	// Sessions: 03-08 at 10:00 (v1) and 14:00 (v2); today at 09:00 (v3).
	await storeEvents(env.DB, [ev("v1", "2026-03-08T10:00:00Z"), ev("v2", "2026-03-08T14:00:00Z"), ev("v3", "2026-03-10T09:00:00Z")]);
	// Site pm (Madrid). 03-28 (24 h, from 03-27 23:00Z): 10.00 at 10:00Z, 50.00 at 11:00Z. 03-29 (23 h, spring forward): 7.00 at 09:00Z.
	await put("pm", "orders", [order("m1", "2026-03-28T10:00:00Z", 10), order("m2", "2026-03-28T11:00:00Z", 50), order("m3", "2026-03-29T09:00:00Z", 7)]);
});

describe("partial periods in the KPI API", () => {
	// now = 03-10 12:00 UTC: half of today has passed.
	const now = T("2026-03-10T12:00:00Z");
	const q = (ids: string[], extra: Partial<Parameters<typeof runKpiQuery>[2]> = {}) =>
		runKpiQuery(env.DB, UTC_SITE, { ids, from: "2026-03-09", to: "2026-03-10", grain: "day", now, ...extra });

	it("marks the unfinished day partial with its elapsed fraction; complete days carry no flag", async () => {
		const r = await q(["revenue"]);
		const rev = kpi(r, "revenue");
		expect(rev.series[0]).toEqual({ period: "2026-03-09", from: "2026-03-09", to: "2026-03-09", value: 70 });
		expect(rev.series[1]).toEqual({ period: "2026-03-10", from: "2026-03-10", to: "2026-03-10", value: 20, partial: true, elapsed: 0.5 });
		// The range: 1.5 of its 2 days have passed.
		expect(rev.total).toEqual({ value: 90, partial: true, elapsed: 0.75 });
		expect(r).toMatchObject({ as_of: now, partial: true, elapsed: 0.75 });
	});

	it("compares like-for-like: the comparison range stops at 12:00 of the day matching today", async () => {
		const r = await q(["revenue", "orders", "sessions"], { compare: "previous" });
		// Previous range 03-07 … 03-08; 03-08 is cut at 12:00: only the 10:00 order (30.00), only v1's session.
		expect([r.compare_from, r.compare_to, r.compare_until]).toEqual(["2026-03-07", "2026-03-08", T("2026-03-08T12:00:00Z")]);
		const rev = kpi(r, "revenue");
		expect(rev.series[1]).toMatchObject({ value: 20, compare: 30, delta: -10, delta_pct: -33.3333, partial: true, elapsed: 0.5 });
		expect(rev.total).toMatchObject({ value: 90, compare: 30, delta: 60, delta_pct: 200 });
		expect(kpi(r, "orders").series[1]).toMatchObject({ value: 2, compare: 1, delta_pct: 100 });
		// Sessions through the rollup's own session SQL on the cut window: v1 at 10:00 in, v2 at 14:00 out.
		expect(kpi(r, "sessions").series[1]).toMatchObject({ value: 1, compare: 1, delta_pct: 0 });
		// The same day a day later (complete): every order of 03-08 counts.
		const later = await runKpiQuery(env.DB, UTC_SITE, { ids: ["revenue"], from: "2026-03-09", to: "2026-03-10", grain: "day", compare: "previous", now: T("2026-03-11T00:00:00Z") });
		expect(kpi(later, "revenue").total).toEqual({ value: 90, compare: 30, delta: 60, delta_pct: 200 });
		expect(later.compare_until).toBeNull();
	});

	it("grows a partial day against the same hours of the previous day, never against a whole day", async () => {
		const r = await q(["revenue_growth_mom"]);
		const g = kpi(r, "revenue_growth_mom");
		// 03-09 (complete) 70 vs 03-08 30: +133.33 %. Today 20 vs 03-09 until 12:00 (10.00): +100 %, not (20 − 70) ÷ 70 = −71.43 %.
		expect(g.series.map((p) => p.value)).toEqual([133.3333, 100]);
		expect(g.series[1]).toMatchObject({ partial: true, elapsed: 0.5 });
		// Range 90 vs 03-07 … 03-08 cut at 12:00 (30): +200 %.
		expect(g.total).toMatchObject({ value: 200, partial: true });
	});

	it("shows no −100 % growth for a day with nothing yet: null with a reason", async () => {
		// 03-11 07:00: no order today yet, and none on 03-10 before 07:00 either (its first is at 08:00).
		const early = T("2026-03-11T07:00:00Z");
		const r = await runKpiQuery(env.DB, UTC_SITE, { ids: ["revenue_growth_mom", "revenue"], from: "2026-03-10", to: "2026-03-11", grain: "day", compare: "previous", now: early });
		const g = kpi(r, "revenue_growth_mom").series[1];
		expect(g?.value).toBeNull();
		expect(g?.reason).toMatch(/no revenue in the base period/);
		// revenue today 0 vs 03-09 until 07:00 (0): no percentage, never −100 % (against the whole of 03-09, 70.00, it would be).
		expect(kpi(r, "revenue").series[1]).toMatchObject({ value: 0, compare: 0, delta: 0, delta_pct: null, elapsed: 0.2917 });
	});

	it("gives no spend-based comparison for a day in progress (spend is per whole day): null with a reason", async () => {
		const r = await q(["cac"], { compare: "previous" });
		const cac = kpi(r, "cac");
		// Complete day 03-09: 20.00 of spend ÷ 3 new customers = 6.67, against 03-07 (no spend: no data).
		expect(cac.series[0]).toMatchObject({ value: 6.67, compare: null });
		expect(cac.series[1]).toMatchObject({ value: 2.5, compare: null, delta_pct: null, partial: true });
		expect(cac.series[1]?.reason).toMatch(/marketing spend is reported per whole day/);
		expect(cac.total.reason).toMatch(/marketing spend is reported per whole day/);
	});

	it("a future day in the range is partial with nothing elapsed and no comparison", async () => {
		const r = await runKpiQuery(env.DB, UTC_SITE, { ids: ["revenue"], from: "2026-03-10", to: "2026-03-11", grain: "day", compare: "previous", now });
		const s = kpi(r, "revenue").series;
		expect(s[1]).toMatchObject({ value: 0, compare: null, partial: true, elapsed: 0 });
		expect(s[1]?.reason).toMatch(/not started/);
		// The range: half of its first day of two.
		// Against 03-08 … 03-09 cut at 03-08 12:00 (the day matching today): 30.00.
		expect(kpi(r, "revenue").total).toMatchObject({ value: 20, compare: 30, partial: true, elapsed: 0.25 });
	});

	it("a partial month compares with the same elapsed part of the previous month", async () => {
		const r = await runKpiQuery(env.DB, UTC_SITE, { ids: ["revenue"], from: "2026-03-01", to: "2026-03-31", grain: "month", compare: "previous", now });
		// March: 9.5 of 31 days, 120.00; February is cut at 02-10 12:00 (no orders): 120 vs 0.
		expect(r.compare_until).toBe(T("2026-02-10T12:00:00Z"));
		expect(kpi(r, "revenue").series[0]).toMatchObject({ period: "2026-03", value: 120, compare: 0, delta_pct: null, partial: true, elapsed: 0.3065 });
	});
});

describe("partial days across a DST change (Europe/Madrid)", () => {
	it("elapsed counts the real hours of a 23-hour day and cuts the comparison day at the same elapsed time", async () => {
		// 03-29 runs from 03-28 23:00Z to 03-29 22:00Z (23 h). At 10:30Z, 11.5 h have passed: 0.5.
		const now = T("2026-03-29T10:30:00Z");
		const r = await runKpiQuery(env.DB, MADRID, { ids: ["revenue"], from: "2026-03-29", to: "2026-03-29", grain: "day", compare: "previous", now });
		// 03-28 starts 03-27 23:00Z; + 11.5 h = 03-28 10:30Z: the 10:00Z order (10.00) is in, the 11:00Z one out.
		expect(r.compare_until).toBe(T("2026-03-28T10:30:00Z"));
		expect(kpi(r, "revenue").total).toEqual({ value: 7, compare: 10, delta: -3, delta_pct: -30, partial: true, elapsed: 0.5 });
	});

	it("elapsed counts the real hours of a 25-hour day", async () => {
		// 10-25 runs from 10-24 22:00Z to 10-25 23:00Z (25 h). At 10:30Z, 12.5 h have passed: 0.5; at 22:00Z, 24 h: 0.96.
		for (const [iso, e] of [["2026-10-25T10:30:00Z", 0.5], ["2026-10-25T22:00:00Z", 0.96]] as const) {
			const r = await runKpiQuery(env.DB, MADRID, { ids: ["orders"], from: "2026-10-25", to: "2026-10-25", grain: "day", now: T(iso) });
			expect(kpi(r, "orders").total).toEqual({ value: 0, partial: true, elapsed: e });
		}
	});
});

describe("the KPI API answers with the flags and lets a caller ask for every KPI", () => {
	it("ids=all returns the whole catalogue, and so does a list of every id", async () => {
		const all = await api("GET", "/api/v1/kpis?site=pu&ids=all&from=2026-03-08&to=2026-03-09");
		expect(all.status).toBe(200);
		const body = (await all.json()) as KpiResponse;
		expect(body.kpis.map((k) => k.id)).toEqual(KPIS.map((k) => k.id));
		expect(KPIS.length).toBeGreaterThan(50);
		const listed = await api("GET", `/api/v1/kpis?site=pu&ids=${KPIS.map((k) => k.id).join(",")}&from=2026-03-08&to=2026-03-09`);
		expect(listed.status).toBe(200);
		expect(((await listed.json()) as KpiResponse).kpis).toHaveLength(KPIS.length);
	});

	it("a range ending today is partial through the front door, with as_of and the flags in the OpenAPI document", async () => {
		const res = await api("GET", "/api/v1/kpis?site=pu&ids=revenue&grain=day");
		const body = (await res.json()) as KpiResponse;
		expect(body.partial).toBe(true);
		const last = kpi(body, "revenue").series.at(-1);
		expect(last?.partial).toBe(true);
		expect(last?.elapsed).toBeGreaterThan(0);
		expect(last?.elapsed).toBeLessThan(1);
		expect(body.as_of).toBeLessThanOrEqual(Date.now());
		const doc = (await (await api("GET", "/api/v1/openapi.json")).json()) as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
		expect(Object.keys(doc.components.schemas.KpiPoint?.properties ?? {})).toEqual(expect.arrayContaining(["partial", "elapsed", "reason"]));
		expect(Object.keys(doc.components.schemas.KpiResponse?.properties ?? {})).toEqual(expect.arrayContaining(["as_of", "partial", "compare_until"]));
	});
});

describe("no input is null with a reason, not 0 % or 100 %", () => {
	it("web ratios on a day with orders but no web sessions", async () => {
		// Site pu's 03-09 has three orders and no event at all; 03-08 has two sessions and no purchase event.
		const r = await runKpiQuery(env.DB, UTC_SITE, { ids: ["conversion_rate", "cart_abandonment", "revenue_per_visitor", "sessions"], from: "2026-03-08", to: "2026-03-09", grain: "day", now: T("2026-03-10T12:00:00Z") });
		const day = (id: string, d: string) => kpi(r, id).series.find((p) => p.period === d) as { value: number | null; reason?: string };
		expect(day("conversion_rate", "2026-03-09")).toMatchObject({ value: null, reason: expect.stringMatching(/no web sessions/) });
		expect(day("revenue_per_visitor", "2026-03-09")).toMatchObject({ value: null, reason: expect.stringMatching(/no web sessions/) });
		expect(day("cart_abandonment", "2026-03-09")).toMatchObject({ value: null, reason: expect.stringMatching(/no web sessions/) });
		// 03-08: two sessions, none with a cart: a different reason; conversion is a true 0 %.
		expect(day("cart_abandonment", "2026-03-08")).toMatchObject({ value: null, reason: "no sessions with an add to cart in the period" });
		expect(day("conversion_rate", "2026-03-08").value).toBe(0);
		expect(day("sessions", "2026-03-08").value).toBe(2);
	});
});

