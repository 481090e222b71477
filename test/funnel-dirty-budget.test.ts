/**
 * Bounded funnel and journey rolls finish when the changed hours reach more days than one call may roll
 * (workers/funnels/rollup.ts rollFunnels, workers/customers/journey-rollup.ts rollJourneys). Each call handles
 * the oldest changed hours whose days fit its budget and clears them; the next call goes on with the later ones.
 * Before: every call re-rolled the newest reached days and cleared nothing, so an import spread over more days
 * than the budget (the demo store: two years of hours, 120 days per cron) never became current.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { rollJourneys } from "../workers/customers/journey-rollup";
import { hoursWithin, rollFunnels } from "../workers/funnels/rollup";
import { reroll } from "../workers/metrics/rollup";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent } from "./helpers";

const SITE = { id: "fdb", timezone: "UTC" };
const T = (iso: string) => Date.parse(iso);
/** "now" for the rollers: the store's last day is over. */
const NOW = T("2026-02-20T12:00:00Z");
const DAYS = Array.from({ length: 12 }, (_, i) => `2026-02-${String(i + 1).padStart(2, "0")}`);
// One checkout attempt per day, one visitor each: view, cart +60 s, checkout +120 s (a page view each, for journeys).
const STORE = DAYS.flatMap((d, i) => {
	const ev = (name: string, s: number) =>
		storedEvent({ site: SITE.id, visitor: `v${i}`, name, ts: T(`${d}T10:00:00Z`) + s * 1000, received_at: T(`${d}T10:00:00Z`) + s * 1000, path: "/p/whey" });
	return [ev("page_view", 0), ev("product_view", 1), ev("add_to_cart", 60), ev("begin_checkout", 180)];
});

async function count(table: string): Promise<number> {
	return ((await env.DB.prepare(`SELECT COUNT(*) FROM ${table} WHERE site = ?`).bind(SITE.id).raw<[number]>())[0] as [number])[0];
}
async function both(path: string): Promise<{ fast: unknown; exact: unknown; source: string | null }> {
	const f = await api("GET", path);
	const x = await api("GET", `${path}&exact=true`);
	expect(f.status).toBe(200);
	expect(x.status).toBe(200);
	return { fast: await f.json(), exact: await x.json(), source: f.headers.get("x-computed-from") };
}

/**
 * Runs `roll` (3 days a call) until it reports nothing remaining, at most 20 times: the 12 changed hours of `table`
 * reach more days than one call rolls, yet every call handles at least one hour, the changed hours only go down,
 * and the calls end with none left.
 */
async function rollsConverge(table: string, roll: () => Promise<{ remaining: boolean }>): Promise<void> {
	expect(await count(table)).toBe(12);
	const calls: { remaining: boolean; dirty: number }[] = [];
	for (let i = 0; i < 20; i++) {
		const r = await roll();
		calls.push({ remaining: r.remaining, dirty: await count(table) });
		if (!r.remaining) break;
	}
	expect(calls.at(-1)).toEqual({ remaining: false, dirty: 0 });
	for (let i = 1; i < calls.length; i++) expect((calls[i] as { dirty: number }).dirty).toBeLessThanOrEqual((calls[i - 1] as { dirty: number }).dirty);
	expect(calls.length).toBeGreaterThan(1);
	expect(calls.length).toBeLessThan(20);
}

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(SITE.id, SITE.id, SITE.timezone).run();
	await storeEvents(env.DB, STORE);
	// The KPI re-roller hands the 12 changed web hours to the funnel and journey rollups.
	await reroll(env.DB, SITE);
});

describe("bounded rolls over more changed days than the budget", () => {
	it("hoursWithin: the longest prefix that fits, at least one hour", () => {
		const reach = (hs: readonly number[]) => hs.length * 2;
		expect(hoursWithin([], 3, reach)).toBe(0);
		expect(hoursWithin([1, 2, 3], 6, reach)).toBe(3);
		expect(hoursWithin([1, 2, 3], 5, reach)).toBe(2);
		expect(hoursWithin([1, 2, 3], 1, reach)).toBe(1);
	});

	it("funnels: each call clears the hours it handled, and the calls finish", async () => {
		// A 24 h window: the hour on day D reaches D−1 and D, so the 12 hours reach 13 days, more than one call's 3.
		await rollsConverge("funnel_dirty", () => rollFunnels(env.DB, SITE, { maxDays: 3, now: NOW }));
		const { fast, exact, source } = await both(`/api/v1/funnels/checkout/report?site=${SITE.id}&from=2026-02-01&to=2026-02-12`);
		expect(source).toBe("rollup");
		expect(fast).toEqual(exact);
		expect((fast as { users: number }).users).toBe(12);
	});

	it("journeys: each call clears the hours it handled, and the calls finish", async () => {
		await rollsConverge("journey_dirty", () => rollJourneys(env.DB, SITE, { maxDays: 3, now: NOW }));
		const { fast, exact, source } = await both(`/api/v1/journeys?site=${SITE.id}&from=2026-02-01&to=2026-02-12`);
		expect(source).toBe("rollup");
		expect(fast).toEqual(exact);
		expect((fast as { sessions: number }).sessions).toBe(12);
	});
});
