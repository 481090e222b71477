/**
 * The recommend step's lean path (issue 12, memory): purchases read per customer into a PurchaseMatrix
 * (typed arrays of distinct customer × SKU pairs) and lists written page by page under a staging kind must
 * give exactly what the in-memory path gave: one { customer, sku, at } object per order line, itemCosine /
 * popularItems / evaluateTimeSplit / chooseHybridWeight on that list, and one D1 batch of every list. The
 * reference below is that earlier step, kept here as the test's reference implementation only.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { RECOMMEND_K, recommendStep } from "../workers/analytics/predict-steps";
import {
	chooseHybridWeight,
	contentNeighbours,
	evaluateTimeSplit,
	hybrid,
	indexNeighbours,
	itemCosine,
	matrixBasket,
	popularItems,
	PurchaseMatrixBuilder,
	purchaseMatrix,
	recommendForCustomer,
	type Neighbours,
	type Product,
	type Purchase,
} from "../workers/analytics/recommend";
import { medianIntervalDays } from "../workers/analytics/actions";
import { eachCustomerOrderTimes, readOrders, readPurchaseMatrix, type RunContext } from "../workers/analytics/steps";
import { mulberry32 } from "../scripts/seed-events.mjs";

const DAY = 86_400_000;

interface Order {
	id: string;
	customer: string;
	at: number;
	cancelled: boolean;
	skus: string[];
}

/**
 * A random store with planted structure: products in groups (a customer's routine is drawn from one or two
 * groups, so CF has signal), repeat purchases, cancelled orders, and customer ids whose UTF-16 order differs
 * from SQLite's byte order ("\uFFFD" sorts after "😀" in UTF-16 code units, before it in UTF-8 bytes).
 */
function randomStore(seed: number, customers: number, productCount: number, ordersPerCustomer: number, end: number) {
	const random = mulberry32(seed);
	const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)] as T;
	const words = ["whey", "protein", "creatine", "vegan", "bar", "shaker", "omega", "vitamin", "recovery", "energy", "gel", "isolate", "casein", "preworkout", "bcaa"];
	const brands = ["Acme", "Peak", "Nordic", "Zeal"];
	const products: Product[] = Array.from({ length: productCount }, (_, i) => ({
		sku: `SKU-${String(i).padStart(4, "0")}`,
		name: `${pick(words)} ${pick(words)} ${i % 7}`,
		description: random() < 0.7 ? `${pick(words)} ${pick(words)} ${pick(words)}` : null,
		category: `cat-${i % 6}`,
		brand: random() < 0.9 ? pick(brands) : null,
	}));
	const groups = Array.from({ length: 8 }, (_, g) => products.filter((_, i) => i % 8 === g).map((p) => p.sku));
	const prefixes = ["c", "C", "ü", "\uFFFD", "😀", "z"];
	const orders: Order[] = [];
	let n = 0;
	for (let c = 0; c < customers; c++) {
		const customer = `${pick(prefixes)}-${c}`;
		const routine = [...pick(groups), ...(random() < 0.4 ? pick(groups) : [])];
		const count = 1 + Math.floor(random() * 2 * ordersPerCustomer);
		for (let o = 0; o < count; o++) {
			const skus = new Set<string>();
			const lines = 1 + Math.floor(random() * 3);
			for (let l = 0; l < lines; l++) skus.add(random() < 0.8 ? pick(routine) : pick(products).sku);
			// Whole hours plus a few ms, some orders exactly on the split times the step uses.
			const at = random() < 0.03 ? end - 90 * DAY * (1 + Math.floor(random() * 2)) : end - 1 - Math.floor(random() * 400) * DAY - Math.floor(random() * 24) * 3_600_000;
			orders.push({ id: `o${String(n++).padStart(6, "0")}`, customer, at, cancelled: random() < 0.05, skus: [...skus] });
		}
	}
	return { products, orders, customers: [...new Set(orders.map((o) => o.customer))] };
}

const purchasesOf = (orders: readonly Order[], cutoff: number): Purchase[] =>
	orders
		.filter((o) => !o.cancelled && o.at < cutoff)
		.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
		.flatMap((o) => [...o.skus].sort().map((sku) => ({ customer: o.customer, sku, at: o.at })));

describe("PurchaseMatrix gives the same models as the purchase list", () => {
	const end = Date.UTC(2026, 5, 1);
	const splits = [end - 180 * DAY, end - 90 * DAY];

	it("item cosine, popularity, both time-split evaluations and every customer's top 10, dense and sparse", () => {
		for (const [seed, productCount, customers] of [
			[1, 60, 400],
			[2, 2_050, 250], // above DENSE_ITEMS (2,000): the sparse co-occurrence path
		] as const) {
			const store = randomStore(seed, customers, productCount, 6, end);
			const purchases = purchasesOf(store.orders, end);
			const m = purchaseMatrix(purchases, splits);
			expect(m.rows).toBe(purchases.length);
			expect(m.rowsBefore).toEqual(splits.map((s) => purchases.filter((p) => (p.at as number) < s).length));
			const cf = itemCosine(purchases, { k: 50 });
			expect(itemCosine(m, { k: 50 })).toEqual(cf);
			expect(popularItems(m)).toEqual(popularItems(purchases));
			// The weight grid (11 hybrids) only on the small catalogue: on 2,050 products it is most of the test's time.
			for (const allowRepurchase of [false, true]) {
				const grid = productCount < 2_000 ? undefined : [0.5];
				const ref = chooseHybridWeight(purchases, store.products, splits[0] as number, grid, { k: 10, allowRepurchase });
				expect(chooseHybridWeight(m, store.products, splits[0] as number, grid, { k: 10, allowRepurchase })).toEqual(ref);
				const e = evaluateTimeSplit(purchases, store.products, splits[1] as number, { k: 10, hybridWeight: ref.weight, allowRepurchase });
				expect(e.customers).toBeGreaterThan(50);
				expect(evaluateTimeSplit(m, store.products, splits[1] as number, { k: 10, hybridWeight: ref.weight, allowRepurchase })).toEqual(e);
			}
			const index = indexNeighbours(hybrid(cf, contentNeighbours(store.products, 50), 0.6, 50));
			const popular = popularItems(purchases);
			const bought = new Map<string, Set<string>>();
			for (const p of purchases) bought.set(p.customer, (bought.get(p.customer) ?? new Set()).add(p.sku));
			m.customers.forEach((customer, c) => {
				const ref = recommendForCustomer(bought.get(customer) as Set<string>, index, { k: 10, fallback: popular });
				expect(recommendForCustomer(matrixBasket(m, c), index, { k: 10, fallback: popular })).toEqual(ref);
			});
		}
	});

	it("refuses what it cannot answer: a split it was not built with, count weighting, non-contiguous customers", () => {
		const m = purchaseMatrix([{ customer: "a", sku: "X", at: 1 }, { customer: "a", sku: "Y", at: 5 }], [3]);
		expect(m.when).toEqual(Uint8Array.from([0b01, 0b10]));
		expect(() => evaluateTimeSplit(m, [], 4)).toThrow(RangeError);
		expect(() => itemCosine(m, { weighting: "count" })).toThrow(RangeError);
		const b = new PurchaseMatrixBuilder([]);
		b.add("a", "X", 1);
		b.add("b", "X", 1);
		expect(() => b.add("a", "Y", 2)).toThrow(/not contiguous/);
	});
});

/**
 * The recommend step as it was before the matrix (workers/analytics/predict-steps.ts at commit 673a936):
 * every list from the purchase list, in memory.
 */
function referenceStep(purchases: readonly Purchase[], products: readonly Product[], population: readonly string[], cutoff: number, version: number) {
	const testFrom = cutoff - 90 * DAY;
	const { weight } = chooseHybridWeight(purchases, products, testFrom - 90 * DAY, undefined, { k: RECOMMEND_K });
	const evaluation = evaluateTimeSplit(purchases, products, testFrom, { k: RECOMMEND_K, hybridWeight: weight });
	const candidates = (["cf", "content", "hybrid"] as const).map((name) => ({ name, ...evaluation.models[name] }));
	const best = [...candidates].sort((a, b) => b.ndcg - a.ndcg || b.hitRate - a.hitRate)[0] as (typeof candidates)[number];
	const promoted = best.ndcg > evaluation.models.popularity.ndcg;
	const popular = popularItems(purchases);
	const cf = itemCosine(purchases, { k: 50 });
	const content = contentNeighbours(products, 50);
	const served: Neighbours | null = !promoted ? null : best.name === "cf" ? cf : best.name === "content" ? content : hybrid(cf, content, weight, 50);
	const index = served ? indexNeighbours(served) : null;
	const bought = new Map<string, Set<string>>();
	for (const p of purchases) bought.set(p.customer, (bought.get(p.customer) ?? new Set()).add(p.sku));
	const why = (because: string | null) => (because ? `bought with ${because}` : "popular");
	const rows: [string, string, string, number][] = [];
	for (const customer of population) {
		const mine = bought.get(customer) ?? new Set<string>();
		const recs = index
			? recommendForCustomer(mine, index, { k: RECOMMEND_K, fallback: popular })
			: popular.filter((p) => !mine.has(p.sku)).slice(0, RECOMMEND_K).map((p) => ({ sku: p.sku, score: p.score, because: null }));
		rows.push(["customer", customer, JSON.stringify(recs.map((r) => ({ sku: r.sku, score: Math.round(r.score * 1e6) / 1e6, why: why(r.because) }))), version]);
	}
	for (const p of products) {
		const list = (served?.get(p.sku) ?? popular.filter((q) => q.sku !== p.sku)).slice(0, RECOMMEND_K);
		rows.push(["product", p.sku, JSON.stringify(list.map((r) => ({ sku: r.sku, score: Math.round(r.score * 1e6) / 1e6, why: served ? `similar to ${p.sku}` : "popular" }))), version]);
	}
	return { rows, evaluation, promoted, chosen: promoted ? best.name : "popularity" };
}

describe("the recommend step on D1: paged read and paged write, same lists as the in-memory reference", () => {
	const SITE = "recmatrix";
	const AS_OF = "2026-05-31";
	const CUTOFF = Date.UTC(2026, 5, 1);
	const store = randomStore(7, 700, 90, 5, CUTOFF);
	// The RFM population: most buyers, plus ids with no purchase (popularity lists), minus a few buyers.
	const population = [...store.customers.filter((_, i) => i % 11 !== 0), "nobody-1", "nobody-2"];
	const ctx = (runId: string): RunContext => ({ runId, site: SITE, timezone: "UTC", currency: "EUR", asOf: AS_OF, cutoff: CUTOFF, rfmWindowDays: 365 });

	beforeAll(async () => {
		const db = env.DB;
		await db.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Matrix', '[]', 'UTC', 'EUR', 0)").bind(SITE).run();
		const json = (rows: unknown[][]) => JSON.stringify(rows);
		const batch: D1PreparedStatement[] = [
			db.prepare("INSERT INTO products (site, sku, name, description, category, brand, price_minor, updated_at) SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 1000, 0 FROM json_each(?2)").bind(SITE, json(store.products.map((p) => [p.sku, p.name, p.description, p.category, p.brand]))),
			db.prepare("INSERT INTO rfm_scores (site, as_of, customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) SELECT ?1, ?2, value, 1, 1, 1, 1, 1, 1, 'X' FROM json_each(?3)").bind(SITE, AS_OF, JSON.stringify(population)),
		];
		for (let i = 0; i < store.orders.length; i += 2000) {
			const page = store.orders.slice(i, i + 2000);
			batch.push(
				db.prepare("INSERT INTO orders (site, order_id, customer_id, placed_at, total_minor, currency, status, updated_at) SELECT ?1, value ->> 0, value ->> 1, value ->> 2, 1000, 'EUR', value ->> 3, 0 FROM json_each(?2)").bind(SITE, json(page.map((o) => [o.id, o.customer, o.at, o.cancelled ? "cancelled" : "placed"]))),
				db.prepare("INSERT INTO order_items (site, order_id, sku, qty, unit_price_minor) SELECT ?1, value ->> 0, value ->> 1, 1, 1000 FROM json_each(?2)").bind(SITE, json(page.flatMap((o) => o.skus.map((s) => [o.id, s])))),
			);
		}
		await db.batch(batch);
	});

	const stored = async () =>
		(await env.DB.prepare("SELECT kind, subject, items, model_version FROM recommendations WHERE site = ? AND as_of = ? ORDER BY kind, subject").bind(SITE, AS_OF).raw<[string, string, string, number]>()).map(
			(r) => [...r] as [string, string, string, number],
		);

	it("reads the same matrix as the purchase list, in pages smaller than a customer's rows", async () => {
		const splits = [CUTOFF - 180 * DAY, CUTOFF - 90 * DAY];
		const purchases = purchasesOf(store.orders, CUTOFF);
		const { matrix, read } = await readPurchaseMatrix(env.DB, SITE, CUTOFF, splits, 7);
		expect(read).toBe(purchases.length);
		const ref = purchaseMatrix(purchases, splits);
		// Same pairs per customer (customer and item order may differ: compare as sets of "customer sku bits").
		const pairs = (m: typeof matrix) => m.customers.flatMap((c, i) => Array.from({ length: (m.start[i + 1] as number) - (m.start[i] as number) }, (_, e) => `${c} ${m.skus[m.item[(m.start[i] as number) + e] as number]} ${m.when[(m.start[i] as number) + e]}`)).sort();
		expect(pairs(matrix)).toEqual(pairs(ref));
		expect([matrix.rows, matrix.rowsBefore]).toEqual([ref.rows, ref.rowsBefore]);
	});

	it("the actions step's per-customer order times: the same counts and median intervals as grouping readOrders", async () => {
		const ref = new Map<string, number[]>();
		for (const o of await readOrders(env.DB, SITE, CUTOFF)) ref.set(o.customer, [...(ref.get(o.customer) ?? []), o.placedAt]);
		const seen = new Map<string, { orders: number; interval: number | null }>();
		const read = await eachCustomerOrderTimes(env.DB, SITE, CUTOFF, (customer, times) => seen.set(customer, { orders: times.length, interval: medianIntervalDays(times) }), 7);
		expect(read).toBe([...ref.values()].reduce((n, t) => n + t.length, 0));
		expect(new Map([...seen].sort())).toEqual(new Map([...ref].map(([c, t]) => [c, { orders: t.length, interval: medianIntervalDays(t) }] as const).sort()));
		expect([...seen.values()].some((v) => v.interval !== null && v.orders > 2)).toBe(true);
	});

	it("writes exactly the reference's lists and evaluation, page by page, and a retry leaves one set", async () => {
		const purchases = purchasesOf(store.orders, CUTOFF);
		// A previous complete run's rows and a failed attempt's staged rows must both be gone afterwards.
		await env.DB.batch([
			env.DB.prepare("INSERT INTO recommendations (site, as_of, kind, subject, items, model_version) VALUES (?1, ?2, 'customer', 'stale-customer', '[]', 0), (?1, ?2, 'customer#failed-run', 'nobody-1', '[]', 0), (?1, ?2, 'product#failed-run', 'SKU-0001', '[]', 0)").bind(SITE, AS_OF),
		]);
		const first = await recommendStep(env, ctx("run-1"), { writePage: 97 });
		const version = (await env.DB.prepare("SELECT version FROM models WHERE site = ? AND name = 'recommendations' AND as_of = ?").bind(SITE, AS_OF).first<{ version: number }>())?.version as number;
		const ref = referenceStep(purchases, store.products, population, CUTOFF, version);
		expect(ref.promoted).toBe(true);
		const expected = [...ref.rows].sort((a, b) => (a[0] + "\u0000" + a[1] < b[0] + "\u0000" + b[1] ? -1 : 1));
		const sortRows = (rows: [string, string, string, number][]) => [...rows].sort((a, b) => (a[0] + "\u0000" + a[1] < b[0] + "\u0000" + b[1] ? -1 : 1));
		expect(sortRows(await stored())).toEqual(expected);
		expect(first.rowsWritten).toBe(population.length + store.products.length + 1);
		const result = await env.DB.prepare("SELECT json FROM analytics_results WHERE site = ? AND as_of = ? AND kind = 'recommend:model'").bind(SITE, AS_OF).first<{ json: string }>();
		expect(JSON.parse(result?.json ?? "null")).toEqual({ status: "ok", version, promoted: ref.promoted, chosen: ref.chosen, evaluation: JSON.parse(JSON.stringify(ref.evaluation)) });
		// A retry (new attempt, another run of the same day) replaces rather than adds, with the same version.
		await recommendStep(env, ctx("run-2"), { writePage: 1_000 });
		expect(sortRows(await stored())).toEqual(expected);
	});
});
