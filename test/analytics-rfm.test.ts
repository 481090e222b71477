/**
 * RFM (workers/analytics/rfm.ts): quintile scores with ties, the window boundary, refunds, the segment
 * precedence over all 125 score cells, the per-segment summary and the movement matrix, against
 * hand-worked fixtures (expected values worked out in the comments), plus a timing on 1,000,000 orders.
 *
 * Cancelled orders are the caller's job: scoreRfm counts every order it is given, so the fixtures hold
 * only orders that were placed and not cancelled, with revenue already net of tax and refunds.
 */
import { describe, expect, it } from "vitest";
import { OTHER_SEGMENT, SEGMENT_NAMES, SEGMENTS, scoreRfm, segmentMovement, segmentOf, summarizeSegments, type RfmOrder, type SegmentName } from "../workers/analytics/rfm";

const DAY = 86_400_000;
const H = 3_600_000;
const AS_OF = Date.UTC(2026, 2, 1); // 2026-03-01T00:00Z, exclusive
const o = (customer: string, daysAgo: number, revenueMinor: number, extraMs = 0): RfmOrder => ({ customer, placedAt: AS_OF - daysAgo * DAY - extraMs, revenueMinor });
const rfm = (s: { r: number; f: number; m: number }) => [s.r, s.f, s.m];

/**
 * Five customers (n = 5, so score = 1 + floor(5·worse/5) = 1 + worse):
 *   a: 1 d ago 5,000; 40 d ago 3,000                       → recency 1,   F 2, M 8,000
 *   b: 10 d ago 2,000                                      → recency 10,  F 1, M 2,000
 *   c: 10 d 5 h ago 2,000 (floor(10.2 d) = 10)             → recency 10,  F 1, M 2,000 (ties b on R and M)
 *   d: 100 d ago 4,000; 150 d ago 0 (fully refunded); 300 d ago 1,000 → recency 100, F 3, M 5,000
 *   e: exactly 365 d ago −500 (refunds beyond the net: shipping refunded) → recency 365, F 1, M −500
 *      e also has an order exactly at asOf and one 1 ms before the window: neither counts.
 *   f: only an order 400 d ago → not scored.
 * R (worse = strictly larger recency): a 4 → 5; b, c 2 (d, e) → 3; d 1 → 2; e 0 → 1.
 * F (worse = strictly fewer orders): a 3 (b, c, e) → 4; b, c, e 0 → 1; d 4 → 5.
 * M (worse = strictly less revenue): a 4 → 5; b, c 1 (e) → 2; d 3 → 4; e 0 → 1.
 * Segments: a (5,4,5) Champions; b, c (3,1,2) Promising; d (2,5,4) Cannot_Lose; e (1,1,1) Hibernating.
 */
const FIVE: RfmOrder[] = [
	o("a", 1, 5000),
	o("a", 40, 3000),
	o("b", 10, 2000),
	o("c", 10, 2000, 5 * H),
	o("d", 100, 4000),
	o("d", 150, 0),
	o("d", 300, 1000),
	o("e", 365, -500),
	o("e", 0, 9999), // exactly at asOf: outside
	o("e", 365, 9999, 1), // 1 ms before asOf − 365 d: outside
	o("f", 400, 7000),
];

describe("scoreRfm", () => {
	it("scores the hand-worked five customers, ties equal, refunds included, sorted by customer", () => {
		const scores = scoreRfm(FIVE, { asOf: AS_OF });
		expect(scores).toEqual([
			{ customer: "a", recencyDays: 1, frequency: 2, monetaryMinor: 8000, r: 5, f: 4, m: 5, segment: "Champions" },
			{ customer: "b", recencyDays: 10, frequency: 1, monetaryMinor: 2000, r: 3, f: 1, m: 2, segment: "Promising" },
			{ customer: "c", recencyDays: 10, frequency: 1, monetaryMinor: 2000, r: 3, f: 1, m: 2, segment: "Promising" },
			{ customer: "d", recencyDays: 100, frequency: 3, monetaryMinor: 5000, r: 2, f: 5, m: 4, segment: "Cannot_Lose" },
			{ customer: "e", recencyDays: 365, frequency: 1, monetaryMinor: -500, r: 1, f: 1, m: 1, segment: "Hibernating" },
		]);
		// Input order does not matter.
		expect(scoreRfm([...FIVE].reverse(), { asOf: AS_OF })).toEqual(scores);
	});

	it("keeps a block of equal values together: the six one-order customers all score F1", () => {
		// n = 10, frequencies 1×6, 2×2, 3, 5. score = 1 + floor(5·worse/10) = 1 + floor(worse/2):
		// F=1: worse 0 → 1 (a cut at every fifth would have given two of them 1, two 2, two 3);
		// F=2: worse 6 → 4; F=3: worse 8 → 5; F=5: worse 9 → 1 + 4 = 5.
		const freq = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5];
		const orders = freq.flatMap((n, i) => Array.from({ length: n }, (_, j) => o(`c${i}`, 5 + j, 1000)));
		expect(scoreRfm(orders, { asOf: AS_OF }).map((s) => s.f)).toEqual([1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
	});

	it("counts an order exactly at asOf − window and not one exactly at asOf", () => {
		// Window 30 d: x's only order is 30 d before asOf (in, recency 30); y's is at asOf (out); z's 30 d + 1 ms (out).
		const scores = scoreRfm([o("x", 30, 100), o("y", 0, 100), o("z", 30, 100, 1)], { asOf: AS_OF, windowDays: 30 });
		expect(scores.map((s) => [s.customer, s.recencyDays, s.frequency])).toEqual([["x", 30, 1]]);
		// A 31-day window takes z (recency floor(30 d + 1 ms) = 30) but still not y.
		expect(scoreRfm([o("x", 30, 100), o("y", 0, 100), o("z", 30, 100, 1)], { asOf: AS_OF, windowDays: 31 }).map((s) => [s.customer, s.recencyDays])).toEqual([
			["x", 30],
			["z", 30],
		]);
	});

	it("scores a single customer, or customers equal on every value, 1 on every dimension (documented edge case)", () => {
		// n = 1: nobody is strictly worse → 1 + floor(0) = 1 each → (1,1,1) Hibernating.
		expect(scoreRfm([o("solo", 1, 5000)], { asOf: AS_OF }).map((s) => [...rfm(s), s.segment])).toEqual([[1, 1, 1, "Hibernating"]]);
		// Three customers, same day, one order of 2,000 each: all (1,1,1).
		const same = scoreRfm([o("p", 3, 2000), o("q", 3, 2000, H), o("s", 3, 2000)], { asOf: AS_OF });
		expect(same.map(rfm)).toEqual([
			[1, 1, 1],
			[1, 1, 1],
			[1, 1, 1],
		]);
		// n = 2 distinct: the better one scores 1 + floor(5·1/2) = 3.
		expect(scoreRfm([o("p", 3, 2000), o("q", 9, 1000)], { asOf: AS_OF }).map(rfm)).toEqual([
			[3, 1, 3],
			[1, 1, 1],
		]);
	});

	it("puts a customer in no documented range in Other", () => {
		// n = 5. big: one order 1 d ago of 90,000 → R: 4 worse → 5; F: 0 worse → 1; M: 4 worse → 5 → (5,1,5): no box has F1 with M4–5.
		// The others (2 orders each, older, smaller) are there to rank against: u 20 d 2×1,000; v 30 d 2×800; w 40 d 2×600; y 50 d 2×400.
		const orders = [o("big", 1, 90_000), ...["u", "v", "w", "y"].flatMap((c, i) => [o(c, 20 + 10 * i, 1000 - 200 * i), o(c, 60 + 10 * i, 1000 - 200 * i)])];
		const big = scoreRfm(orders, { asOf: AS_OF }).find((s) => s.customer === "big");
		expect(big && [...rfm(big), big.segment]).toEqual([5, 1, 5, "Other"]);
	});

	it("returns nothing for no orders and rejects a bad window or revenue", () => {
		expect(scoreRfm([], { asOf: AS_OF })).toEqual([]);
		expect(() => scoreRfm(FIVE, { asOf: AS_OF, windowDays: 0 })).toThrow(RangeError);
		expect(() => scoreRfm([{ customer: "a", placedAt: AS_OF - DAY, revenueMinor: 10.5 }], { asOf: AS_OF })).toThrow(RangeError);
	});
});

describe("segments", () => {
	it("are the architecture document's ten, with its ranges, in the documented precedence", () => {
		expect(SEGMENTS.map((s) => [s.name, s.r, s.f, s.m])).toEqual([
			["Champions", [4, 5], [4, 5], [4, 5]],
			["Cannot_Lose", [1, 2], [4, 5], [4, 5]],
			["New_Customers", [4, 5], [1, 1], [1, 1]],
			["Promising", [3, 4], [1, 1], [2, 3]],
			["About_to_Sleep", [2, 3], [1, 2], [1, 2]],
			["Hibernating", [1, 2], [1, 2], [1, 2]],
			["Need_Attention", [2, 3], [2, 3], [2, 3]],
			["At_Risk", [1, 2], [2, 4], [2, 4]],
			["Potential_Loyalists", [3, 5], [1, 3], [1, 3]],
			["Loyal_Customers", [2, 5], [3, 5], [3, 5]],
		]);
		expect(SEGMENT_NAMES).toEqual([...SEGMENTS.map((s) => s.name), "Other"]);
		for (const s of [...SEGMENTS, OTHER_SEGMENT]) expect(s.action.length).toBeGreaterThan(20);
	});

	it("puts each of the 125 (r, f, m) cells in exactly the documented segment", () => {
		// Worked out by hand from the boxes and the precedence (rows F1…F5, columns M1…M5):
		const CODE: Record<string, SegmentName> = {
			CH: "Champions",
			CL: "Cannot_Lose",
			NC: "New_Customers",
			PR: "Promising",
			AS: "About_to_Sleep",
			HB: "Hibernating",
			NA: "Need_Attention",
			AR: "At_Risk",
			PL: "Potential_Loyalists",
			LC: "Loyal_Customers",
			__: "Other",
		};
		const GRID: Record<number, string[]> = {
			// R1: Hibernating F1–2 M1–2; At_Risk F2–4 M2–4 except F2 M2 (Hibernating) and F4 M4 (Cannot_Lose).
			1: ["HB HB __ __ __", "HB HB AR AR __", "__ AR AR AR __", "__ AR AR CL CL", "__ __ __ CL CL"],
			// R2: About_to_Sleep takes F1–2 M1–2 (before Hibernating, Need_Attention, At_Risk); Need_Attention the rest of F2–3 M2–3;
			// At_Risk F2–4 M2–4 left over; Loyal_Customers F3 M5 and F5 M3; Cannot_Lose F4–5 M4–5.
			2: ["AS AS __ __ __", "AS AS NA AR __", "__ NA NA AR LC", "__ AR AR CL CL", "__ __ LC CL CL"],
			// R3: Promising F1 M2–3 (before About_to_Sleep); About_to_Sleep F1 M1, F2 M1–2; Need_Attention; Potential_Loyalists only F3 M1.
			3: ["AS PR PR __ __", "AS AS NA __ __", "PL NA NA LC LC", "__ __ LC LC LC", "__ __ LC LC LC"],
			// R4: New_Customers F1 M1, Promising F1 M2–3, Potential_Loyalists F2–3 M1–3, Champions F4–5 M4–5, Loyal the rest of F3–5 M3–5.
			4: ["NC PR PR __ __", "PL PL PL __ __", "PL PL PL LC LC", "__ __ LC CH CH", "__ __ LC CH CH"],
			// R5: as R4 but Promising stops at R4, so F1 M2–3 is Potential_Loyalists.
			5: ["NC PL PL __ __", "PL PL PL __ __", "PL PL PL LC LC", "__ __ LC CH CH", "__ __ LC CH CH"],
		};
		let other = 0;
		const counts = new Map<SegmentName, number>();
		for (let r = 1; r <= 5; r++) {
			for (let f = 1; f <= 5; f++) {
				const row = (GRID[r] as string[])[f - 1] as string;
				const codes = row.split(" ");
				for (let m = 1; m <= 5; m++) {
					const expected = CODE[codes[m - 1] as string] as SegmentName;
					const got = segmentOf(r, f, m);
					expect(got, `R${r} F${f} M${m}`).toBe(expected);
					counts.set(got, (counts.get(got) ?? 0) + 1);
					// The segment's box contains the cell (Other: no box does).
					const box = SEGMENTS.find((s) => s.name === got);
					if (box) expect(box.r[0] <= r && r <= box.r[1] && box.f[0] <= f && f <= box.f[1] && box.m[0] <= m && m <= box.m[1]).toBe(true);
					else {
						other++;
						expect(SEGMENTS.some((s) => s.r[0] <= r && r <= s.r[1] && s.f[0] <= f && f <= s.f[1] && s.m[0] <= m && m <= s.m[1])).toBe(false);
					}
				}
			}
		}
		console.log(`segmentOf: ${other} of 125 cells in Other; cells per segment:`, Object.fromEntries(counts));
		expect(other).toBe(42);
		expect(Object.fromEntries(counts)).toEqual({
			Champions: 8,
			Cannot_Lose: 8,
			New_Customers: 2,
			Promising: 4,
			About_to_Sleep: 7,
			Hibernating: 4,
			Need_Attention: 6,
			At_Risk: 11,
			Potential_Loyalists: 15,
			Loyal_Customers: 18,
			Other: 42,
		});
	});
});

describe("summarizeSegments", () => {
	it("sums the five customers into all eleven segments", () => {
		// Total monetary 8,000 + 2,000 + 2,000 + 5,000 − 500 = 16,500; n = 5.
		// Champions a: 1 customer (0.2), 8,000 (8,000/16,500), AOV 8,000/2 = 4,000, recency 1.
		// Promising b, c: 2 (0.4), 4,000, AOV 4,000/2 = 2,000, mean recency 10.
		// Cannot_Lose d: 1 (0.2), 5,000, AOV 5,000/3 = 1,666.67 → 1,667, recency 100.
		// Hibernating e: 1 (0.2), −500 (a negative share), AOV −500, recency 365.
		const rows = summarizeSegments(scoreRfm(FIVE, { asOf: AS_OF }));
		expect(rows.map((r) => r.segment)).toEqual(SEGMENT_NAMES);
		const by = Object.fromEntries(rows.map((r) => [r.segment, r]));
		expect(by.Champions).toEqual({ segment: "Champions", customers: 1, customerShare: 0.2, revenueMinor: 8000, revenueShare: 8000 / 16500, averageOrderValueMinor: 4000, meanRecencyDays: 1 });
		expect(by.Promising).toEqual({ segment: "Promising", customers: 2, customerShare: 0.4, revenueMinor: 4000, revenueShare: 4000 / 16500, averageOrderValueMinor: 2000, meanRecencyDays: 10 });
		expect(by.Cannot_Lose).toEqual({ segment: "Cannot_Lose", customers: 1, customerShare: 0.2, revenueMinor: 5000, revenueShare: 5000 / 16500, averageOrderValueMinor: 1667, meanRecencyDays: 100 });
		expect(by.Hibernating).toEqual({ segment: "Hibernating", customers: 1, customerShare: 0.2, revenueMinor: -500, revenueShare: -500 / 16500, averageOrderValueMinor: -500, meanRecencyDays: 365 });
		expect(by.Other).toEqual({ segment: "Other", customers: 0, customerShare: 0, revenueMinor: 0, revenueShare: 0, averageOrderValueMinor: null, meanRecencyDays: null });
		expect(rows.reduce((s, r) => s + (r.revenueShare ?? 0), 0)).toBeCloseTo(1, 12);
	});

	it("gives no revenue share when the total is ≤ 0, and no shares at all for nobody", () => {
		// e alone: total −500 ≤ 0 → revenueShare null everywhere.
		const rows = summarizeSegments(scoreRfm([o("e", 10, -500), o("g", 20, 0)], { asOf: AS_OF }));
		expect(rows.every((r) => r.revenueShare === null)).toBe(true);
		expect(rows.reduce((s, r) => s + r.customers, 0)).toBe(2);
		expect(summarizeSegments([]).every((r) => r.customers === 0 && r.customerShare === null && r.revenueShare === null)).toBe(true);
	});
});

describe("segmentMovement", () => {
	it("counts from → to, with (none) for customers on one side only", () => {
		// a Champions → Loyal_Customers; b Promising → Promising; c Promising → Loyal_Customers;
		// g At_Risk → (none) (dropped out of the window); h (none) → New_Customers (new in the window).
		const m = segmentMovement(
			[
				{ customer: "a", segment: "Champions" },
				{ customer: "b", segment: "Promising" },
				{ customer: "c", segment: "Promising" },
				{ customer: "g", segment: "At_Risk" },
			],
			[
				{ customer: "h", segment: "New_Customers" },
				{ customer: "c", segment: "Loyal_Customers" },
				{ customer: "b", segment: "Promising" },
				{ customer: "a", segment: "Loyal_Customers" },
			],
		);
		expect(m.labels).toEqual([...SEGMENT_NAMES, "(none)"]);
		const cells: [string, string, number][] = [];
		m.counts.forEach((row, i) => row.forEach((n, j) => n && cells.push([m.labels[i] as string, m.labels[j] as string, n])));
		expect(cells).toEqual([
			["Champions", "Loyal_Customers", 1],
			["Promising", "Promising", 1],
			["Promising", "Loyal_Customers", 1],
			["At_Risk", "(none)", 1],
			["(none)", "New_Customers", 1],
		]);
		expect(m.counts.length).toBe(12);
		expect(m.counts.every((row) => row.length === 12)).toBe(true);
	});

	it("rejects unknown segment names and a customer twice on one side", () => {
		expect(() => segmentMovement([{ customer: "a", segment: "Whales" }], [])).toThrow(RangeError);
		expect(() => segmentMovement([], [{ customer: "a", segment: "(none)" }])).toThrow(RangeError);
		expect(() => segmentMovement([], [{ customer: "a", segment: "Champions" }, { customer: "a", segment: "Other" }])).toThrow(RangeError);
	});
});

describe("scoreRfm at nightly-job scale", () => {
	it("scores 100,000 customers from 1,000,000 orders in well under the job's budget", () => {
		// Deterministic input: a 32-bit LCG (Numerical Recipes constants); customers drawn with a skew so
		// frequencies run from 1 to dozens, revenue 0–20,000 minor units, times over 2 years before asOf.
		let seed = 12345;
		const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
		const orders: RfmOrder[] = new Array(1_000_000);
		for (let i = 0; i < orders.length; i++) {
			const c = Math.floor(100_000 * rand() ** 2);
			orders[i] = { customer: `c${String(c).padStart(6, "0")}`, placedAt: AS_OF - Math.floor(rand() * 730 * DAY), revenueMinor: Math.floor(rand() * 20_000) };
		}
		const t0 = performance.now();
		const scores = scoreRfm(orders, { asOf: AS_OF });
		const ms = performance.now() - t0;
		console.log(`scoreRfm: ${orders.length} orders, ${scores.length} customers in ${ms.toFixed(0)} ms`);
		expect(scores.length).toBeGreaterThan(90_000);
		// Equal values score equal, and a better value never scores lower: check along each sorted dimension.
		for (const [value, score] of [
			[(s: (typeof scores)[number]) => -s.recencyDays, (s: (typeof scores)[number]) => s.r],
			[(s: (typeof scores)[number]) => s.frequency, (s: (typeof scores)[number]) => s.f],
			[(s: (typeof scores)[number]) => s.monetaryMinor, (s: (typeof scores)[number]) => s.m],
		] as const) {
			const sorted = [...scores].sort((a, b) => value(a) - value(b));
			for (let i = 1; i < sorted.length; i++) {
				const p = sorted[i - 1] as (typeof scores)[number];
				const q = sorted[i] as (typeof scores)[number];
				if (value(p) === value(q)) expect(score(q)).toBe(score(p));
				else if (score(q) < score(p)) expect.fail(`score fell from ${score(p)} to ${score(q)}`);
			}
		}
		// Generous bound (shared 2-core machine): an O(n²) step would take minutes.
		expect(ms).toBeLessThan(20_000);
	});
});
