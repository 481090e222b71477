/**
 * Cohorts (workers/analytics/cohorts.ts): retention and revenue cohorts by local month and ISO week in
 * Europe/Madrid (month and week edges that fall on another UTC day), empty versus unobserved periods, the
 * partial last period, from/to, channel cohorts weighted by cohort size, and category adoption, against
 * hand-worked fixtures (expected values in the comments), plus a timing on 1,000,000 orders.
 *
 * Cancelled orders are the caller's job: every order given counts, with revenue already net of refunds.
 */
import { describe, expect, it } from "vitest";
import { channelCohorts, productAdoption, retentionCohorts, type CohortOrder, type CohortPeriod } from "../workers/analytics/cohorts";

const MADRID = "Europe/Madrid";
const at = (iso: string) => Date.parse(iso);
const ord = (customer: string, iso: string, revenueMinor: number, channel?: string, categories?: string[]): CohortOrder => ({
	customer,
	placedAt: at(iso),
	revenueMinor,
	...(channel === undefined ? {} : { channel }),
	...(categories === undefined ? {} : { categories }),
});
/** [k, customers, pct, revenueMinor, cumulativeRevenuePerCustomerMinor, partial] */
const rows = (periods: CohortPeriod[]) => periods.map((p) => [p.k, p.customers, p.pct, p.revenueMinor, p.cumulativeRevenuePerCustomerMinor, p.partial]);

/**
 * Madrid is UTC+1 until 2026-03-29, UTC+2 after. asOf 2026-04-15T10:00Z: periods Jan…Apr, April partial.
 *   A (ads): Jan 10 3,000; Feb 5 2,000 (tagged email: only the first order's channel counts); Apr 2 1,000;
 *            Apr 16 9,999 (after asOf: ignored)                                     → cohort Jan
 *   B (ads): 2026-01-31T22:30Z = Jan 31 23:30 local, 5,000                          → cohort Jan
 *            2026-03-31T22:30Z = Apr 1 00:30 local (CEST), 1,500                     → in April
 *   C (ads): 2026-01-31T23:30Z = Feb 1 00:30 local, 4,000 (January in UTC!); Feb 20 1,000 → cohort Feb
 *   D (no channel): Feb 14 2,500; Mar 3 800                                         → cohort Feb
 *   E (empty channel): Mar 15 1,200                                                  → cohort Mar
 *   F: only Apr 20 (after asOf)                                                      → nowhere
 */
const MONTHS: CohortOrder[] = [
	ord("A", "2026-01-10T12:00:00Z", 3000, "ads"),
	ord("A", "2026-02-05T12:00:00Z", 2000, "email"),
	ord("A", "2026-04-02T12:00:00Z", 1000, "email"),
	ord("A", "2026-04-16T00:00:00Z", 9999, "email"),
	ord("B", "2026-01-31T22:30:00Z", 5000, "ads"),
	ord("B", "2026-03-31T22:30:00Z", 1500, "ads"),
	ord("C", "2026-01-31T23:30:00Z", 4000, "ads"),
	ord("C", "2026-02-20T12:00:00Z", 1000, "ads"),
	ord("D", "2026-02-14T12:00:00Z", 2500),
	ord("D", "2026-03-03T12:00:00Z", 800),
	ord("E", "2026-03-15T12:00:00Z", 1200, ""),
	ord("F", "2026-04-20T12:00:00Z", 500, "ads"),
];
const AS_OF = at("2026-04-15T10:00:00Z");

describe("retentionCohorts by month", () => {
	it("builds the triangle in the site's time zone, with empty periods at 0 and the last period partial", () => {
		const r = retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF });
		expect(r.grain).toBe("month");
		expect(r.cohorts.map((c) => [c.cohort, c.start, c.size])).toEqual([
			["2026-01", "2026-01-01", 2],
			["2026-02", "2026-02-01", 2],
			["2026-03", "2026-03-01", 1],
		]);
		const [jan, feb, mar] = r.cohorts;
		// Jan (A, B), size 2. k0 Jan: A 3,000 + B 5,000 = 8,000, cum 8,000/2 = 4,000. k1 Feb: A 2,000, cum 10,000/2 = 5,000.
		// k2 Mar: nobody — observed and empty, so present with 0. k3 Apr (partial): A 1,000 + B 1,500 (Apr 1 local) = 2,500, cum 12,500/2 = 6,250.
		expect(rows(jan?.periods ?? [])).toEqual([
			[0, 2, 1, 8000, 4000, false],
			[1, 1, 0.5, 2000, 5000, false],
			[2, 0, 0, 0, 5000, false],
			[3, 2, 1, 2500, 6250, true],
		]);
		// Feb (C, D), size 2. k0 Feb: C 4,000 + 1,000 (one buyer), D 2,500 → 7,500, cum 3,750. k1 Mar: D 800, cum 8,300/2 = 4,150. k2 Apr: nobody, partial.
		expect(rows(feb?.periods ?? [])).toEqual([
			[0, 2, 1, 7500, 3750, false],
			[1, 1, 0.5, 800, 4150, false],
			[2, 0, 0, 0, 4150, true],
		]);
		// Mar (E), size 1: k0 1,200; k1 Apr partial, nobody.
		expect(rows(mar?.periods ?? [])).toEqual([
			[0, 1, 1, 1200, 1200, false],
			[1, 0, 0, 0, 1200, true],
		]);
	});

	it("puts the same orders in other months in UTC (the month edge is the site's)", () => {
		// In UTC, C's 2026-01-31T23:30Z is January and B's 2026-03-31T22:30Z is March: Jan (A, B, C) size 3,
		// Feb (D) size 1. Jan k2 Mar: B → 1 of 3.
		const r = retentionCohorts(MONTHS, { grain: "month", timeZone: "UTC", asOf: AS_OF });
		expect(r.cohorts.map((c) => [c.cohort, c.size])).toEqual([
			["2026-01", 3],
			["2026-02", 1],
			["2026-03", 1],
		]);
		expect(r.cohorts[0]?.periods.map((p) => p.customers)).toEqual([3, 2, 1, 1]);
	});

	it("marks no period partial when asOf is exactly the start of a period", () => {
		// asOf = local midnight starting April (2026-03-31T22:00Z, CEST): March is the last period and is complete;
		// B's 22:30Z order (April 1 local) and A's April order are at or after asOf and ignored.
		const asOf = at("2026-03-31T22:00:00Z");
		const r = retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf });
		expect(r.cohorts.map((c) => [c.cohort, rows(c.periods)])).toEqual([
			[
				"2026-01",
				[
					[0, 2, 1, 8000, 4000, false],
					[1, 1, 0.5, 2000, 5000, false],
					[2, 0, 0, 0, 5000, false],
				],
			],
			[
				"2026-02",
				[
					[0, 2, 1, 7500, 3750, false],
					[1, 1, 0.5, 800, 4150, false],
				],
			],
			["2026-03", [[0, 1, 1, 1200, 1200, false]]],
		]);
	});

	it("bounds cohorts by from/to (whole periods) but takes each customer's cohort from their first order ever", () => {
		// from Feb 10 / to Mar 1 keep the February and March cohorts; A (first order in January) is not in February's.
		const r = retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF, from: "2026-02-10", to: "2026-03-01" });
		expect(r.cohorts.map((c) => [c.cohort, c.size])).toEqual([
			["2026-02", 2],
			["2026-03", 1],
		]);
		expect(retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF, to: "2025-12-31" }).cohorts).toEqual([]);
		expect(retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF, from: "2026-05-01" }).cohorts).toEqual([]);
	});

	it("returns no cohorts for no orders and rejects bad options", () => {
		expect(retentionCohorts([], { grain: "month", timeZone: MADRID, asOf: AS_OF })).toEqual({ grain: "month", cohorts: [] });
		expect(() => retentionCohorts(MONTHS, { grain: "month", timeZone: "Mars/Olympus", asOf: AS_OF })).toThrow(RangeError);
		expect(() => retentionCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF, from: "2026-02-30" })).toThrow(RangeError);
	});
});

describe("retentionCohorts by ISO week", () => {
	it("starts weeks on the local Monday: Sunday 23:30 and Monday 00:30 in Madrid are different weeks", () => {
		// 2026-03-01 is a Sunday. G: 2026-03-01T22:30Z = Sun 23:30 local → W09 (Mon Feb 23); buys again Mon Mar 9 (W11), 700.
		// H: 2026-03-01T23:30Z = Mon Mar 2 00:30 local → W10 (Mon Mar 2). asOf Tue Mar 10 → W11 is the last, partial.
		const orders = [ord("G", "2026-03-01T22:30:00Z", 1000), ord("G", "2026-03-09T10:00:00Z", 700), ord("H", "2026-03-01T23:30:00Z", 2000)];
		const asOf = at("2026-03-10T12:00:00Z");
		const r = retentionCohorts(orders, { grain: "week", timeZone: MADRID, asOf });
		expect(r.cohorts.map((c) => [c.cohort, c.start, c.size, rows(c.periods)])).toEqual([
			[
				"2026-W09",
				"2026-02-23",
				1,
				[
					[0, 1, 1, 1000, 1000, false],
					[1, 0, 0, 0, 1000, false], // W10: observed, empty
					[2, 1, 1, 700, 1700, true],
				],
			],
			[
				"2026-W10",
				"2026-03-02",
				1,
				[
					[0, 1, 1, 2000, 2000, false],
					[1, 0, 0, 0, 2000, true],
				],
			],
		]);
		// In UTC both first orders are on Sunday March 1: one W09 cohort of 2.
		expect(retentionCohorts(orders, { grain: "week", timeZone: "UTC", asOf }).cohorts.map((c) => [c.cohort, c.size])).toEqual([["2026-W09", 2]]);
	});
});

describe("channelCohorts", () => {
	it("groups customers by their first order's channel and weights retention by cohort size over complete periods", () => {
		const r = channelCohorts(MONTHS, { grain: "month", timeZone: MADRID, asOf: AS_OF });
		expect(r.channels.map((c) => [c.channel, c.customers, c.cohorts.map((x) => [x.cohort, x.size])])).toEqual([
			[
				"ads",
				3,
				[
					["2026-01", 2],
					["2026-02", 1],
				],
			],
			[
				"unknown",
				2,
				[
					["2026-02", 1],
					["2026-03", 1],
				],
			],
		]);
		const [ads, unknown] = r.channels;
		// ads: Jan (A, B) as in retentionCohorts; Feb (C alone): k0 5,000; k1 Mar nobody; k2 Apr partial.
		// k0: Jan + Feb complete → 3 customers, 3 retained, cum (8,000 + 5,000)/3 = 4,333.3 → 4,333.
		// k1: Jan's Feb (A) + Feb's Mar (nobody) → 1 of 3; cum (10,000 + 5,000)/3 = 5,000.
		// k2: Jan's Mar (nobody) complete; Feb's Apr partial, left out → 0 of 2; cum 10,000/2 = 5,000.
		// k3: only Jan's Apr, partial → absent.
		expect(ads?.periods).toEqual([
			{ k: 0, cohorts: 2, customers: 3, retained: 3, pct: 1, cumulativeRevenuePerCustomerMinor: 4333 },
			{ k: 1, cohorts: 2, customers: 3, retained: 1, pct: 1 / 3, cumulativeRevenuePerCustomerMinor: 5000 },
			{ k: 2, cohorts: 1, customers: 2, retained: 0, pct: 0, cumulativeRevenuePerCustomerMinor: 5000 },
		]);
		expect(rows(ads?.cohorts[1]?.periods ?? [])).toEqual([
			[0, 1, 1, 5000, 5000, false],
			[1, 0, 0, 0, 5000, false],
			[2, 0, 0, 0, 5000, true],
		]);
		// unknown: D (Feb; no channel) and E (Mar; empty channel).
		// k0: D's Feb + E's Mar → 2 of 2, cum (2,500 + 1,200)/2 = 1,850. k1: D's Mar (800) → 1 of 1, cum 3,300; E's Apr partial, left out.
		expect(unknown?.periods).toEqual([
			{ k: 0, cohorts: 2, customers: 2, retained: 2, pct: 1, cumulativeRevenuePerCustomerMinor: 1850 },
			{ k: 1, cohorts: 1, customers: 1, retained: 1, pct: 1, cumulativeRevenuePerCustomerMinor: 3300 },
		]);
	});
});

describe("productAdoption", () => {
	it("counts later purchases of other categories per first-purchase category", () => {
		// P1 first {protein, creatine}; later {vitamins}, {protein}.
		// P2 first {protein}; later {creatine, vitamins}.
		// P3 first {vitamins}; nothing later.
		// P4 two orders at the same first instant {creatine} + {protein} = one first purchase; later {vitamins}.
		// P5 first order without categories (in no row); later {protein}.
		// creatine row: P1, P4 → 2. protein: P1 (it was also in P1's first purchase: still counts) → 1 (0.5); vitamins: P1, P4 → 2 (1).
		// protein row: P1, P2, P4 → 3. creatine: P2 → 1 (1/3); vitamins: P1, P2, P4 → 3 (1).
		// vitamins row: P3 → 1. creatine 0, protein 0.
		const orders = [
			ord("P1", "2026-01-01T10:00:00Z", 1, undefined, ["protein", "creatine"]),
			ord("P1", "2026-02-01T10:00:00Z", 1, undefined, ["vitamins"]),
			ord("P1", "2026-03-01T10:00:00Z", 1, undefined, ["protein"]),
			ord("P2", "2026-01-05T10:00:00Z", 1, undefined, ["protein"]),
			ord("P2", "2026-01-20T10:00:00Z", 1, undefined, ["creatine", "vitamins", "vitamins"]),
			ord("P3", "2026-01-07T10:00:00Z", 1, undefined, ["vitamins"]),
			ord("P4", "2026-02-10T10:00:00Z", 1, undefined, ["vitamins"]),
			ord("P4", "2026-01-09T10:00:00Z", 1, undefined, ["creatine"]),
			ord("P4", "2026-01-09T10:00:00Z", 1, undefined, ["protein"]),
			ord("P5", "2026-01-02T10:00:00Z", 1),
			ord("P5", "2026-01-03T10:00:00Z", 1, undefined, ["protein"]),
		];
		expect(productAdoption(orders)).toEqual({
			categories: ["creatine", "protein", "vitamins"],
			rows: [
				{
					category: "creatine",
					customers: 2,
					adopted: [
						{ category: "protein", customers: 1, share: 0.5 },
						{ category: "vitamins", customers: 2, share: 1 },
					],
				},
				{
					category: "protein",
					customers: 3,
					adopted: [
						{ category: "creatine", customers: 1, share: 1 / 3 },
						{ category: "vitamins", customers: 3, share: 1 },
					],
				},
				{
					category: "vitamins",
					customers: 1,
					adopted: [
						{ category: "creatine", customers: 0, share: 0 },
						{ category: "protein", customers: 0, share: 0 },
					],
				},
			],
		});
		expect(productAdoption([])).toEqual({ categories: [], rows: [] });
	});
});

describe("cohorts at nightly-job scale", () => {
	it("builds month and week cohorts, by channel too, from 1,000,000 orders", () => {
		// Deterministic: a 32-bit LCG; 100,000 customers, 2 years of orders before asOf, 4 channels.
		let seed = 987654321;
		const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
		const channels = ["ads", "email", "organic", "social"];
		const asOf = at("2026-03-01T00:00:00Z");
		const orders: CohortOrder[] = new Array(1_000_000);
		for (let i = 0; i < orders.length; i++) {
			const c = Math.floor(100_000 * rand() ** 2);
			orders[i] = { customer: `c${c}`, placedAt: asOf - Math.floor(rand() * 730 * 86_400_000), revenueMinor: Math.floor(rand() * 20_000), channel: channels[c % 4] as string };
		}
		const t0 = performance.now();
		const month = retentionCohorts(orders, { grain: "month", timeZone: MADRID, asOf });
		const t1 = performance.now();
		const week = channelCohorts(orders, { grain: "week", timeZone: MADRID, asOf });
		const t2 = performance.now();
		console.log(`cohorts: ${orders.length} orders → retention by month ${(t1 - t0).toFixed(0)} ms, by channel and week ${(t2 - t1).toFixed(0)} ms`);
		// Every customer is in exactly one cohort; period 0 is always 100 %.
		expect(month.cohorts.reduce((s, c) => s + c.size, 0)).toBe(new Set(orders.map((o) => o.customer)).size);
		expect(month.cohorts.every((c) => c.periods[0]?.pct === 1)).toBe(true);
		expect(week.channels.map((c) => c.channel).sort()).toEqual(channels);
		expect(t2 - t0).toBeLessThan(30_000);
	});
});
