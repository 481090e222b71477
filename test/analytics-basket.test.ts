/**
 * Market-basket analysis (workers/analytics/basket.ts): itemsets, rules, cross-sell, bundles and the
 * seasonality index against hand-worked fixtures (numbers worked out in the comments), and the rule
 * counts and top rules against the published arules answers for Groceries (shared/data/README.md).
 * The reference file comes from ../shared/data through test/shared-data.mjs; without it the known-answer
 * tests fail, not skip.
 */
import { describe, expect, inject, it } from "vitest";
import { associationRules, bundleSuggestions, crossSell, mineItemsets, minimumCount, seasonalityIndex, type AssociationRule } from "../workers/analytics/basket";

declare module "vitest" {
	interface ProvidedContext {
		sharedData: { dir: string; error: string | null; files: Record<string, string> };
	}
}

const SHARED = inject("sharedData");
/** A reference file's text; throws (failing the test) when ../shared/data could not be read. */
function referenceFile(name: string): string {
	const text = SHARED.files[name];
	if (SHARED.error || text === undefined) throw new Error(SHARED.error ?? `Reference file ${name} missing from ${SHARED.dir}`);
	return text;
}

/**
 * Ten baskets. Counts: bread 6 (1–5, 10), butter 5 (1–4, 10), milk 5 (3–7), tea 3 (7–9), jam 1.
 * Pairs: bread+butter 5, bread+milk 3 (3–5), butter+milk 2 (3, 4), milk+tea 1, tea+jam 1; bread+butter+milk 2.
 * Basket 10 lists bread twice: it counts once.
 */
const BASKETS = [
	["bread", "butter"],
	["bread", "butter"],
	["bread", "butter", "milk"],
	["milk", "bread", "butter"],
	["bread", "milk"],
	["milk"],
	["milk", "tea"],
	["tea"],
	["tea", "jam"],
	["bread", "bread", "butter"],
];
const rule = (r: AssociationRule) => `${r.antecedent.join("+")} => ${r.consequent.join("+")}`;

describe("mineItemsets", () => {
	it("finds the frequent itemsets with counts, sorted by length, count, items", () => {
		// minSupport 0.2 → at least 2 of 10 baskets: tea+milk, tea+jam and jam drop out.
		expect(mineItemsets(BASKETS, 0.2)).toEqual([
			{ items: ["bread"], count: 6, support: 0.6 },
			{ items: ["butter"], count: 5, support: 0.5 },
			{ items: ["milk"], count: 5, support: 0.5 },
			{ items: ["tea"], count: 3, support: 0.3 },
			{ items: ["bread", "butter"], count: 5, support: 0.5 },
			{ items: ["bread", "milk"], count: 3, support: 0.3 },
			{ items: ["butter", "milk"], count: 2, support: 0.2 },
			{ items: ["bread", "butter", "milk"], count: 2, support: 0.2 },
		]);
		// maxLength 1: the single items only.
		expect(mineItemsets(BASKETS, 0.2, 1).map((s) => s.items)).toEqual([["bread"], ["butter"], ["milk"], ["tea"]]);
	});

	it("orders numeric items as numbers, and treats the support threshold as arules does", () => {
		// 9 and 10 are in 2 of 3 baskets: numeric order puts 9 first (text order would put "10" first).
		expect(mineItemsets([[10, 9], [9, 10], [2]], 0.5)).toEqual([
			{ items: [9], count: 2, support: 2 / 3 },
			{ items: [10], count: 2, support: 2 / 3 },
			{ items: [9, 10], count: 2, support: 2 / 3 },
		]);
		// support ≥ minSupport: 0.001 × 9,835 = 9.835 → 10 baskets; 0.3 × 10 is 3.0000000000000004 in floating point, still 3.
		expect(minimumCount(0.001, 9835)).toBe(10);
		expect(minimumCount(0.3, 10)).toBe(3);
		expect(mineItemsets([], 0.5)).toEqual([]);
		expect(() => mineItemsets(BASKETS, 0)).toThrow(RangeError);
	});
});

describe("associationRules", () => {
	const itemsets = mineItemsets(BASKETS, 0.2);

	it("gives support, confidence, lift, conviction and leverage, sorted by lift, support, items", () => {
		// Candidates at confidence ≥ 0.5 (one consequent):
		//   bread ⇒ butter: 5/6 = .8333, lift 5·10/(6·5) = 1.6667, conviction (1 − .5)/(1 − 5/6) = 3, leverage .5 − .6·.5 = .2
		//   butter ⇒ bread: 5/5 = 1, lift 1.6667, conviction ∞ → null, leverage .2
		//   butter+milk ⇒ bread: 2/2 = 1, lift 2·10/(2·6) = 1.6667, conviction null, leverage .2 − .2·.6 = .08
		//   bread+milk ⇒ butter: 2/3, lift 2·10/(3·5) = 1.3333, conviction (1 − .5)/(1/3) = 1.5, leverage .2 − .3·.5 = .05
		//   bread ⇒ milk: 3/6 = .5 (the threshold is inclusive), lift 3·10/(6·5) = 1, conviction .5/.5 = 1, leverage 0
		//   milk ⇒ bread: 3/5 = .6, lift 1, conviction .4/.4 = 1, leverage 0
		// Out: butter ⇒ milk and milk ⇒ butter (2/5), bread+butter ⇒ milk (2/5).
		// Order: the three at lift 5/3 by support (.5, .5, .2), the two .5 ones by antecedent (bread < butter); then 4/3; then 1 by items.
		const rules = associationRules(itemsets, 10, 0.5);
		expect(rules.map(rule)).toEqual(["bread => butter", "butter => bread", "butter+milk => bread", "bread+milk => butter", "bread => milk", "milk => bread"]);
		const [breadButter, butterBread, , breadMilkButter, breadMilk] = rules as [AssociationRule, AssociationRule, AssociationRule, AssociationRule, AssociationRule];
		expect(breadButter).toEqual({ antecedent: ["bread"], consequent: ["butter"], count: 5, support: 0.5, confidence: 5 / 6, lift: 5 / 3, conviction: 3, leverage: 0.2 });
		expect(butterBread.conviction).toBeNull();
		expect(butterBread.confidence).toBe(1);
		expect(breadMilkButter.lift).toBeCloseTo(4 / 3, 15);
		expect(breadMilkButter.conviction).toBeCloseTo(1.5, 15);
		expect(breadMilkButter.leverage).toBeCloseTo(0.05, 15);
		expect(breadMilk).toMatchObject({ confidence: 0.5, lift: 1, conviction: 1, leverage: 0 });
		// JSON has no Infinity: the null survives a round trip.
		expect(JSON.parse(JSON.stringify(butterBread)).conviction).toBeNull();
	});

	it("allows longer consequents on request", () => {
		// At confidence ≥ 0.3 one consequent adds butter ⇒ milk, milk ⇒ butter, bread+butter ⇒ milk (all .4) to the six: 9.
		// Two consequents add bread ⇒ butter+milk (2/6), butter ⇒ bread+milk (2/5), milk ⇒ bread+butter (2/5): 12.
		expect(associationRules(itemsets, 10, 0.3)).toHaveLength(9);
		const two = associationRules(itemsets, 10, 0.3, { maxConsequent: 2 });
		expect(two).toHaveLength(12);
		// bread ⇒ butter+milk: lift 2·10/(6·2) = 5/3.
		expect(two.find((r) => rule(r) === "bread => butter+milk")).toMatchObject({ confidence: 1 / 3, lift: 5 / 3 });
		expect(() => associationRules(itemsets.slice(4), 10, 0.3)).toThrow(/missing/);
	});
});

describe("crossSell", () => {
	it("lists the rules from exactly one product, or from any antecedent containing it, by lift", () => {
		const rules = associationRules(mineItemsets(BASKETS, 0.2), 10, 0.5);
		// Exactly {bread}: bread ⇒ butter (lift 5/3), bread ⇒ milk (1).
		expect(crossSell(rules, "bread").map(rule)).toEqual(["bread => butter", "bread => milk"]);
		// Containing bread: bread+milk ⇒ butter (4/3) comes between them.
		expect(crossSell(rules, "bread", "contains").map(rule)).toEqual(["bread => butter", "bread+milk => butter", "bread => milk"]);
		expect(crossSell(rules, "tea")).toEqual([]);
	});
});

describe("bundleSuggestions", () => {
	it("keeps 2–3 item sets with lift above 1 and enough support, with their combined unit margin", () => {
		const itemsets = mineItemsets(BASKETS, 0.2);
		const rules = associationRules(itemsets, 10, 0.5);
		const margins: Record<string, number | null> = { bread: 50, butter: 120, milk: 30, tea: null };
		const bundles = bundleSuggestions(itemsets, rules, { minSupport: 0.2, minLift: 1.1, marginOf: (item) => margins[item] ?? null });
		// bread+butter: .5/(.6·.5) = 5/3; bread+milk: .3/(.6·.5) = 1 (not above 1); butter+milk: .2/(.5·.5) = .8;
		// bread+butter+milk: .2/(.6·.5·.5) = 4/3. Margins 50 + 120 = 170 and 50 + 120 + 30 = 200 (minor units).
		// Best rules: for bread+butter both rules have lift 5/3, butter ⇒ bread has the higher confidence (1);
		// for the triple butter+milk ⇒ bread (5/3) beats bread+milk ⇒ butter (4/3).
		expect(bundles.map((b) => ({ items: b.items, count: b.count, margin: b.marginMinor, best: b.bestRule && rule(b.bestRule) }))).toEqual([
			{ items: ["bread", "butter"], count: 5, margin: 170, best: "butter => bread" },
			{ items: ["bread", "butter", "milk"], count: 2, margin: 200, best: "butter+milk => bread" },
		]);
		expect(bundles[0]?.lift).toBeCloseTo(5 / 3, 14);
		expect(bundles[1]?.lift).toBeCloseTo(4 / 3, 14);
		// Support 0.3 leaves the pair only; an unknown margin makes the bundle's margin null; minLift 1.5 drops the triple.
		expect(bundleSuggestions(itemsets, rules, { minSupport: 0.3, minLift: 1, marginOf: () => 1 }).map((b) => b.items)).toEqual([["bread", "butter"]]);
		expect(bundleSuggestions(itemsets, rules, { minSupport: 0.2, minLift: 1, marginOf: (i) => (i === "milk" ? null : 1) }).map((b) => b.marginMinor)).toEqual([2, null]);
		expect(bundleSuggestions(itemsets, rules, { minSupport: 0.2, minLift: 1.5, marginOf: () => 1 })).toHaveLength(1);
		// Without rules (e.g. none passed the confidence) the bundles stand, with no best rule.
		expect(bundleSuggestions(itemsets, [], { minSupport: 0.2, minLift: 1, marginOf: () => 1 }).map((b) => b.bestRule)).toEqual([null, null]);
	});
});

describe("seasonalityIndex", () => {
	const months = (from: [number, number], count: number, revenue: (year: number, month: number) => number, category: string) =>
		Array.from({ length: count }, (_, i) => {
			const year = from[0] + Math.floor((from[1] - 1 + i) / 12);
			const month = ((from[1] - 1 + i) % 12) + 1;
			return { category, month: `${year}-${String(month).padStart(2, "0")}`, revenueMinor: revenue(year, month) };
		});

	it("divides each calendar month's mean by the mean month, over whole years only", () => {
		// A: 2024-01…2025-12, 100 a month but 400 in December (2024-12 as two rows, 300 + 100, which are summed).
		// Each year 11·100 + 400 = 1,500, mean month 125: Jan–Nov 100/125 = 0.8, Dec 400/125 = 3.2.
		const a = months([2024, 1], 24, (_, m) => (m === 12 ? 400 : 100), "A").filter((r) => r.month !== "2024-12");
		a.push({ category: "A", month: "2024-12", revenueMinor: 300 }, { category: "A", month: "2024-12", revenueMinor: 100 });
		// B: 30 months 2023-07…2025-12: only the last 24 (2024-01…2025-12) count, so the 10,000s of 2023 are ignored.
		// Month m earns 100·m: mean month 650, index m·100/650 (Jan 0.1538, Dec 1.8462).
		const b = months([2023, 7], 30, (y, m) => (y === 2023 ? 10_000 : 100 * m), "B");
		// C: 11 months → null. D: only 2024-01 and 2024-12 at 600 each; the 10 months between are zero:
		// total 1,200, mean 100 → Jan 6, Dec 6, the rest 0.
		const c = months([2024, 1], 11, () => 100, "C");
		const d = [
			{ category: "D", month: "2024-12", revenueMinor: 600 },
			{ category: "D", month: "2024-01", revenueMinor: 600 },
		];
		const [ia, ib, ic, id] = seasonalityIndex([...d, ...c, ...b, ...a]);
		expect(ia).toEqual({ category: "A", index: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 3.2], from: "2024-01", to: "2025-12", months: 24 });
		expect(ib?.from).toBe("2024-01");
		expect(ib?.months).toBe(24);
		(ib?.index ?? []).forEach((v, i) => expect(v).toBeCloseTo(((i + 1) * 100) / 650, 12));
		expect(ib?.index).toHaveLength(12);
		expect(ic).toEqual({ category: "C", index: null, from: null, to: null, months: 0 });
		expect(id?.index).toEqual([6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]);
		// The indices average 1 (they are ratios to the mean month).
		expect((ia?.index ?? []).reduce((s, v) => s + v, 0) / 12).toBeCloseTo(1, 14);
	});

	it("rejects months that are not YYYY-MM", () => {
		expect(() => seasonalityIndex([{ category: "A", month: "2024-13", revenueMinor: 1 }])).toThrow(RangeError);
		expect(() => seasonalityIndex([{ category: "A", month: "2024-1", revenueMinor: 1 }])).toThrow(RangeError);
	});
});

describe("Groceries (arules' published answers)", () => {
	const groceries = () =>
		referenceFile("groceries.csv")
			.split("\n")
			.map((line) => line.replace(/\r$/, ""))
			.filter((line) => line.length > 0)
			.map((line) => line.split(","));
	const lengths = (rules: AssociationRule[]) => {
		const by: Record<number, number> = {};
		for (const r of rules) by[r.antecedent.length + r.consequent.length] = (by[r.antecedent.length + r.consequent.length] ?? 0) + 1;
		return by;
	};

	it("finds the 410 rules at support 0.001 / confidence 0.8 and the 5,668 at confidence 0.5, with the same top rules", () => {
		const baskets = groceries();
		expect(baskets).toHaveLength(9835);
		let started = performance.now();
		const itemsets = mineItemsets(baskets, 0.001);
		const mining = performance.now() - started;
		// The most frequent items (README): whole milk 2,513, other vegetables 1,903, rolls/buns 1,809, soda 1,715, yogurt 1,372.
		expect(itemsets.slice(0, 5).map((s) => [s.items[0], s.count])).toEqual([
			["whole milk", 2513],
			["other vegetables", 1903],
			["rolls/buns", 1809],
			["soda", 1715],
			["yogurt", 1372],
		]);
		expect(itemsets.filter((s) => s.items.length === 1)).toHaveLength(157);

		started = performance.now();
		const strict = associationRules(itemsets, baskets.length, 0.8);
		const strictMs = performance.now() - started;
		expect(strict).toHaveLength(410);
		expect(lengths(strict)).toEqual({ 3: 29, 4: 229, 5: 140, 6: 12 });
		// Top lift: {liquor, red/blush wine} ⇒ {bottled beer}, support 0.001932 (19 baskets), confidence 0.9048, lift 11.235.
		const top = strict[0] as AssociationRule;
		expect(rule(top)).toBe("liquor+red/blush wine => bottled beer");
		expect(top.count).toBe(19);
		expect(top.support).toBeCloseTo(0.001932, 6);
		expect(top.confidence).toBeCloseTo(0.9048, 4);
		expect(top.lift).toBeCloseTo(11.235, 3);

		started = performance.now();
		const loose = associationRules(itemsets, baskets.length, 0.5);
		const looseMs = performance.now() - started;
		expect(loose).toHaveLength(5668);
		expect(lengths(loose)).toEqual({ 2: 11, 3: 1461, 4: 3211, 5: 939, 6: 46 });
		expect(rule(loose[0] as AssociationRule)).toBe("Instant food products+soda => hamburger meat");
		expect(loose[0]?.lift).toBeCloseTo(18.996, 3);
		console.log(
			`Groceries (9,835 baskets): Eclat ${mining.toFixed(0)} ms → ${itemsets.length} itemsets at support ≥ 0.001; ` +
				`rules ${strictMs.toFixed(0)} ms (410 at confidence ≥ 0.8), ${looseMs.toFixed(0)} ms (5,668 at ≥ 0.5)`,
		);
	});
});
