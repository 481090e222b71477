/**
 * Recommendations (workers/analytics/recommend.ts): TF-IDF, cosines, customer lists, the hybrid and the ranking
 * metrics against hand-worked numbers (worked out in the comments), a hand-sized time-split evaluation, and a
 * seeded synthetic store with planted co-purchase structure (150 products × 20,000 customers × 150,000
 * purchases) where collaborative filtering must beat popularity; its timings are printed.
 */
import { describe, expect, it } from "vitest";
import {
	chooseHybridWeight,
	contentNeighbours,
	cosine,
	evaluateTimeSplit,
	hitRateAt,
	hybrid,
	indexNeighbours,
	itemCosine,
	ndcgAt,
	popularItems,
	recommendForCustomer,
	tfidfVectors,
	tokenize,
	type Neighbours,
	type Product,
	type Purchase,
} from "../workers/analytics/recommend";

describe("TF-IDF and cosine", () => {
	// Three documents, n = 3. Tokens after lowercasing, splitting on non-letters/digits, dropping 1-char tokens and stop words:
	//   d1 "Whey Protein"                           → whey, protein
	//   d2 "whey-isolate protein, PROTEIN & the X"  → whey, isolate, protein, protein   ("the" is a stop word, "x" one character)
	//   d3 "Creatine powder"                        → creatine, powder
	// df: whey 2, protein 2, isolate 1, creatine 1, powder 1.
	// idf = ln((1 + n) / (1 + df)) + 1: df 2 → ln(4/3) + 1 = 1.2876820724517808; df 1 → ln(2) + 1 = 1.6931471805599454.
	// d1 = (protein 1.28768, whey 1.28768) → l2-normalised 1/√2 = 0.7071067811865476 each.
	// d2 = (isolate 1.69315, protein 2 × 1.28768 = 2.57536, whey 1.28768); norm √(2.86675 + 6.63250 + 1.65812) = 3.340265404665722
	//      → isolate 0.5068900148458076, protein 0.7710058432202013, whey 0.3855029216101006.
	// cos(d1, d2) = (0.7710058 + 0.3855029) / √2 = 0.8177751901131846; d3 shares no term with either → 0.
	const docs = ["Whey Protein", "whey-isolate protein, PROTEIN & the X", "Creatine powder"];

	it("tokenizer: lowercase, non-alphanumeric splits, no 1-char tokens or stop words, accents folded", () => {
		expect(tokenize(docs[1]!)).toEqual(["whey", "isolate", "protein", "protein"]);
		expect(tokenize("Proteína 100% ISO-100, sabor Fresa")).toEqual(["proteina", "100", "iso", "100", "sabor", "fresa"]);
	});

	it("weights with sklearn's formula (smooth idf, raw tf, l2 norm)", () => {
		const { vocabulary, idf, vectors } = tfidfVectors(docs);
		expect(vocabulary).toEqual(["creatine", "isolate", "powder", "protein", "whey"]);
		expect(idf[3]).toBeCloseTo(1.2876820724517808, 14);
		expect(idf[0]).toBeCloseTo(1.6931471805599454, 14);
		expect(Array.from(vectors[0]!.indices)).toEqual([3, 4]);
		expect(vectors[0]!.values[0]).toBeCloseTo(Math.SQRT1_2, 14);
		expect(Array.from(vectors[1]!.indices)).toEqual([1, 3, 4]);
		const d2 = Array.from(vectors[1]!.values);
		expect(d2[0]).toBeCloseTo(0.5068900148458076, 14);
		expect(d2[1]).toBeCloseTo(0.7710058432202013, 14);
		expect(d2[2]).toBeCloseTo(0.3855029216101006, 14);
		expect(cosine(vectors[0]!, vectors[1]!)).toBeCloseTo(0.8177751901131846, 14);
		expect(cosine(vectors[0]!, vectors[2]!)).toBe(0);
		expect(tfidfVectors(["", "the a"]).vectors[0]!.indices.length).toBe(0);
	});

	it("content neighbours: the same cosine over name, description, category and brand", () => {
		const products: Product[] = [
			{ sku: "A", name: "Whey", description: "Protein" },
			{ sku: "B", name: "whey-isolate", description: "protein, PROTEIN & the X" },
			{ sku: "C", name: "Creatine", category: "powder", brand: null },
		];
		const n = contentNeighbours(products, 5);
		expect(n.get("A")).toEqual([{ sku: "B", score: expect.closeTo(0.8177751901131846, 14) as number }]);
		expect(n.get("B")).toEqual([{ sku: "A", score: expect.closeTo(0.8177751901131846, 14) as number }]);
		expect(n.get("C")).toEqual([]);
	});
});

describe("item-item collaborative filtering", () => {
	// Customers × items: c1 {A ×2, B}, c2 {A, B, C}, c3 {B, C}, c4 {A}.
	// Binary: customers of A = 3, B = 3, C = 2; both A&B = 2 (c1, c2), A&C = 1 (c2), B&C = 2 (c2, c3).
	//   cos(A, B) = 2/√(3·3) = 0.6667, cos(A, C) = 1/√(3·2) = 0.4082, cos(B, C) = 2/√(3·2) = 0.8165.
	// Count (c1 bought A twice): |A|² = 4 + 1 + 1 = 6, |B|² = 3, |C|² = 2; A·B = 2·1 + 1·1 = 3, A·C = 1, B·C = 2.
	//   cos(A, B) = 3/√18 = 0.7071, cos(A, C) = 1/√12 = 0.2887, cos(B, C) = 0.8165.
	const purchases: Purchase[] = [
		{ customer: "c1", sku: "A" },
		{ customer: "c1", sku: "A" },
		{ customer: "c1", sku: "B" },
		{ customer: "c2", sku: "A" },
		{ customer: "c2", sku: "B" },
		{ customer: "c2", sku: "C" },
		{ customer: "c3", sku: "B" },
		{ customer: "c3", sku: "C" },
		{ customer: "c4", sku: "A" },
	];

	it("binary cosine from co-occurrence counts, by hand", () => {
		const n = itemCosine(purchases);
		expect(n.get("A")).toEqual([
			{ sku: "B", score: expect.closeTo(2 / 3, 15) as number },
			{ sku: "C", score: expect.closeTo(1 / Math.sqrt(6), 15) as number },
		]);
		expect(n.get("B")).toEqual([
			{ sku: "C", score: expect.closeTo(2 / Math.sqrt(6), 15) as number },
			{ sku: "A", score: expect.closeTo(2 / 3, 15) as number },
		]);
		expect(itemCosine(purchases, { k: 1 }).get("C")).toEqual([{ sku: "B", score: expect.closeTo(2 / Math.sqrt(6), 15) as number }]);
	});

	it("count weighting, by hand", () => {
		const n = itemCosine(purchases, { weighting: "count" });
		expect(n.get("A")![0]!.score).toBeCloseTo(3 / Math.sqrt(18), 15);
		expect(n.get("A")![1]!.score).toBeCloseTo(1 / Math.sqrt(12), 15);
		expect(n.get("C")![0]!.score).toBeCloseTo(2 / Math.sqrt(6), 15);
	});

	it("customer lists: sum of similarities to what they bought, bought items excluded unless repurchase is allowed", () => {
		const n = itemCosine(purchases);
		// Bought A: B 0.6667, C 0.4082.
		expect(recommendForCustomer(["A"], n).map((r) => r.sku)).toEqual(["B", "C"]);
		// Bought A and C: B = cos(A, B) + cos(C, B) = 0.6667 + 0.8165 = 1.4832, because C (the larger term).
		expect(recommendForCustomer(["A", "C"], n)).toEqual([{ sku: "B", score: expect.closeTo(1.4831632475943928, 14) as number, because: "C" }]);
		// Repurchase allowed: A and C also score each other (0.4082 each; tie → SKU order).
		expect(recommendForCustomer(["A", "C"], n, { allowRepurchase: true }).map((r) => r.sku)).toEqual(["B", "A", "C"]);
		expect(recommendForCustomer(["A", "C"], n, { exclude: ["B"] })).toEqual([]);
		// Padding from a popularity list skips bought and already listed items.
		expect(recommendForCustomer(["A"], n, { k: 3, fallback: ["A", "C", "D", "E"] })).toEqual([
			{ sku: "B", score: expect.closeTo(2 / 3, 15) as number, because: "A" },
			{ sku: "C", score: expect.closeTo(1 / Math.sqrt(6), 15) as number, because: "A" },
			{ sku: "D", score: 0, because: null },
		]);
	});

	it("popularity = distinct customers; hybrid = w·cf + (1 − w)·content", () => {
		expect(popularItems(purchases)).toEqual([
			{ sku: "A", score: 3 },
			{ sku: "B", score: 3 },
			{ sku: "C", score: 2 },
		]);
		const content: Neighbours = new Map([["A", [{ sku: "C", score: 0.5 }]]]);
		// B: 0.7 × 0.6667 = 0.4667; C: 0.7 × 0.4082 + 0.3 × 0.5 = 0.4358.
		const h = hybrid(itemCosine(purchases), content, 0.7);
		expect(h.get("A")![0]).toEqual({ sku: "B", score: expect.closeTo(0.4666666666666666, 14) as number });
		expect(h.get("A")![1]).toEqual({ sku: "C", score: expect.closeTo(0.43577380332470417, 14) as number });
		expect(hybrid(itemCosine(purchases), content, 0).get("A")).toEqual([{ sku: "C", score: 0.5 }]);
	});
});

describe("ranking metrics and the time-split evaluation", () => {
	it("hit-rate@k and NDCG@k with binary relevance, by hand", () => {
		// Recommended a, b, c, d; relevant b, d, x. Hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161.
		// Ideal: 3 hits at ranks 1–3: 1 + 0.63093 + 0.5 = 2.13093. NDCG = 0.49819.
		const relevant = new Set(["b", "d", "x"]);
		expect(hitRateAt(["a", "b", "c", "d"], relevant, 4)).toBe(1);
		expect(hitRateAt(["a", "b", "c", "d"], relevant, 1)).toBe(0);
		expect(ndcgAt(["a", "b", "c", "d"], relevant, 4)).toBeCloseTo(0.49818925746641285, 14);
		// k = 2: DCG 0.63093, ideal 1 + 0.63093 → 0.38685.
		expect(ndcgAt(["a", "b", "c", "d"], relevant, 2)).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 14);
		expect(ndcgAt(["b"], relevant, 10)).toBeCloseTo(1 / (1 + 1 / Math.log2(3) + 0.5), 14);
	});

	it("a hand-sized split: CF and content find B for c6, popularity does not", () => {
		const D = 86_400_000;
		// Before day 10: c1 {A, B}, c2 {A, B}, c3 {C}, c4 {C}, c5 {C}, c6 {A}. From day 10: c6 buys B (new), c1 re-buys A, c7 (no history) buys B.
		// Popularity before: A 3 customers, C 3, B 2 → A, C, B; c6 owns A, so top-1 is C: a miss.
		// CF: A's only neighbour is B (2/√(3·2)) → hit. Content: A and B share "whey" → hit.
		const p = (customer: string, sku: string, day: number): Purchase => ({ customer, sku, at: day * D });
		const purchases = [p("c1", "A", 1), p("c1", "B", 2), p("c2", "A", 3), p("c2", "B", 3), p("c3", "C", 4), p("c4", "C", 5), p("c5", "C", 6), p("c6", "A", 7), p("c6", "B", 12), p("c1", "A", 15), p("c7", "B", 11)];
		const products: Product[] = [
			{ sku: "A", name: "Whey protein" },
			{ sku: "B", name: "Whey isolate" },
			{ sku: "C", name: "Creatine" },
		];
		const e = evaluateTimeSplit(purchases, products, 10 * D, { k: 1 });
		expect(e).toMatchObject({ customers: 1, skipped: { noHistory: 1, onlyRepurchases: 1 }, trainPurchases: 8, testPurchases: 3 });
		expect(e.models.popularity).toEqual({ hitRate: 0, ndcg: 0 });
		expect(e.models.cf).toEqual({ hitRate: 1, ndcg: 1 });
		expect(e.models.content).toEqual({ hitRate: 1, ndcg: 1 });
		expect(e.models.hybrid).toEqual({ hitRate: 1, ndcg: 1, weight: 0.7 });
		expect(() => evaluateTimeSplit([{ customer: "c", sku: "A" }], products, 0)).toThrow(RangeError);
	});

	it("synthetic store with planted co-purchase routines: CF beats popularity (timings printed)", () => {
		const { products, purchases, splitAt } = syntheticStore(7);
		expect(products).toHaveLength(150);
		expect(purchases).toHaveLength(150_000);
		let t = performance.now();
		const cf = itemCosine(purchases, { k: 50 });
		const tCf = performance.now() - t;
		t = performance.now();
		const content = contentNeighbours(products, 50);
		const tContent = performance.now() - t;
		t = performance.now();
		const h = hybrid(cf, content, 0.7, 50);
		const tHybrid = performance.now() - t;
		const bought = new Map<string, Set<string>>();
		for (const p of purchases) {
			let s = bought.get(p.customer);
			if (!s) bought.set(p.customer, (s = new Set()));
			s.add(p.sku);
		}
		const popular = popularItems(purchases);
		t = performance.now();
		const ix = indexNeighbours(h);
		let listed = 0;
		for (const items of bought.values()) listed += recommendForCustomer(items, ix, { k: 10, fallback: popular }).length;
		const tRecs = performance.now() - t;
		expect(listed).toBe(bought.size * 10);
		t = performance.now();
		const e = evaluateTimeSplit(purchases, products, splitAt);
		const tEval = performance.now() - t;
		const chosen = chooseHybridWeight(
			purchases.filter((p) => p.at! < splitAt),
			products,
			splitAt - 60 * 86_400_000,
			[0, 0.3, 0.5, 0.7, 0.9, 1],
		);
		const f = (m: { hitRate: number; ndcg: number }) => `hit@10 ${m.hitRate.toFixed(3)} NDCG@10 ${m.ndcg.toFixed(3)}`;
		console.log(
			`recommend, 150 products × ${bought.size} customers × ${purchases.length} purchases (workerd): item cosine ${tCf.toFixed(0)} ms, content TF-IDF ${tContent.toFixed(0)} ms, ` +
				`hybrid ${tHybrid.toFixed(0)} ms, top-10 for every customer ${tRecs.toFixed(0)} ms, time-split evaluation ${tEval.toFixed(0)} ms\n` +
				`  time split (${e.customers} customers, ${e.skipped.noHistory} cold, ${e.skipped.onlyRepurchases} only repurchases): popularity ${f(e.models.popularity)}; CF ${f(e.models.cf)}; ` +
				`content ${f(e.models.content)}; hybrid(0.7) ${f(e.models.hybrid)}; weight chosen on an earlier split ${chosen.weight}`,
		);
		expect(e.customers).toBeGreaterThan(10_000);
		expect(e.models.cf.hitRate).toBeGreaterThan(e.models.popularity.hitRate + 0.15);
		expect(e.models.cf.ndcg).toBeGreaterThan(e.models.popularity.ndcg + 0.1);
		expect(e.models.hybrid.ndcg).toBeGreaterThan(e.models.popularity.ndcg);
		expect(tCf + tContent + tHybrid + tRecs).toBeLessThan(5000);
	});
});

/** mulberry32, the test's seeded PRNG. */
function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * 150 products (10 categories, 6 brands), 15 hidden "routines" of 10 products each that cut across
 * categories, 20,000 customers each following one routine: 3–12 purchases over a year (150,000 in all),
 * 60% from their routine, 40% from a Zipf popularity over the whole catalogue. Half the descriptions name
 * the product's routine goal, so content carries some of the structure and CF more. Split at day 300.
 */
function syntheticStore(seed: number): { products: Product[]; purchases: Purchase[]; splitAt: number } {
	const r = rng(seed);
	const D = 86_400_000;
	const categories = ["protein", "creatine", "pre-workout", "vitamins", "bcaa", "mass gainer", "fat burner", "snack bar", "electrolytes", "omega"];
	const brands = ["Optimum", "MyProtein", "Scitec", "BioTech", "Weider", "Olimp"];
	const flavours = ["vanilla", "chocolate", "strawberry", "unflavoured", "cookies", "lemon"];
	const goals = ["endurance", "strength", "recovery", "cutting", "bulking", "focus", "immunity", "hydration", "mobility", "sleep", "energy", "vegan", "keto", "running", "cycling"];
	const perm = Array.from({ length: 150 }, (_, i) => i);
	for (let i = 149; i > 0; i--) {
		const j = Math.floor(r() * (i + 1));
		[perm[i], perm[j]] = [perm[j]!, perm[i]!];
	}
	const routineOf = new Int32Array(150);
	perm.forEach((p, i) => (routineOf[p] = Math.floor(i / 10)));
	const sku = (i: number) => `P${String(i + 1).padStart(3, "0")}`;
	const products: Product[] = Array.from({ length: 150 }, (_, i) => ({
		sku: sku(i),
		name: `${brands[i % 6]} ${categories[i % 10]} ${flavours[Math.floor(i / 10) % 6]}`,
		description: `Ideal for ${r() < 0.5 ? goals[routineOf[i]!] : goals[Math.floor(r() * 15)]} training.`,
		category: categories[i % 10]!,
		brand: brands[i % 6]!,
	}));
	const routines = Array.from({ length: 15 }, (_, g) => perm.slice(g * 10, g * 10 + 10));
	const rank = [...perm].reverse();
	const cumulative: number[] = [];
	let total = 0;
	for (let i = 0; i < 150; i++) cumulative.push((total += 1 / (i + 1)));
	const popular = () => {
		const u = r() * total;
		let lo = 0;
		while (cumulative[lo]! < u) lo++;
		return rank[lo]!;
	};
	const purchases: Purchase[] = [];
	for (let c = 0; c < 20_000; c++) {
		const routine = routines[Math.floor(r() * 15)]!;
		const n = 3 + (c % 10); // 3–12, mean 7.5 → exactly 150,000
		for (let j = 0; j < n; j++) {
			const item = r() < 0.6 ? routine[Math.floor(r() * 10)]! : popular();
			purchases.push({ customer: `c${c}`, sku: sku(item), at: Math.floor(r() * 365 * D) });
		}
	}
	return { products, purchases, splitAt: 300 * D };
}
