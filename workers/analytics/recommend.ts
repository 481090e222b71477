/**
 * Product recommendations, pure (no bindings): item-item collaborative filtering (cosine between items'
 * customer vectors, from co-occurrence counts), content-based (TF-IDF over product text, cosine), a weighted
 * hybrid of the two, a popularity baseline, and an offline evaluation on a time split (hit-rate@k, NDCG@k).
 * Every list is ordered by score descending, then SKU (UTF-16 code unit order), so results are identical
 * on every run.
 *
 * Repurchase: sports supplements are re-bought (the same whey every month), but reminding a customer of what
 * they already buy is the next best action's "replenishment" rule, driven by their own reorder interval.
 * Recommendations are for discovery, so items the customer already bought are excluded by default;
 * `allowRepurchase: true` keeps them as candidates, scored like any other item.
 */

export interface Purchase {
	customer: string;
	sku: string;
	/** Purchase time, UTC epoch ms; needed by evaluateTimeSplit only. */
	at?: number;
}

export interface Product {
	sku: string;
	name: string;
	description?: string | null;
	category?: string | null;
	brand?: string | null;
}

export interface Scored {
	sku: string;
	score: number;
}

/** Each item's most similar items, best first. */
export type Neighbours = Map<string, Scored[]>;

const bySkuScore = (a: Scored, b: Scored) => b.score - a.score || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);

export interface ItemCosineOptions {
	/** Neighbours kept per item (default 20). */
	k?: number;
	/**
	 * "binary" (default): a customer's vector entry is 1 if they ever bought the item, so cosine = customers who
	 * bought both ÷ √(customers of i × customers of j). "count": the entry is how many times they bought it
	 * (purchase rows), which lets a heavy re-buyer of one product dominate that product's similarities; binary
	 * suits supplements, where repeat buying says more about habit than about affinity.
	 */
	weighting?: "binary" | "count";
}

/** Above this many items the co-occurrence matrix is kept sparse (a dense 2,000² Float64Array is 32 MB of the 128 MB isolate). */
const DENSE_ITEMS = 2000;

/**
 * Item-item cosine similarity between the items' customer vectors, from co-occurrence counts:
 * sim(i, j) = Σ_u r_ui·r_uj ÷ √(Σ_u r_ui² · Σ_u r_uj²), as sklearn's NearestNeighbors(metric="cosine") on the
 * customer × item matrix. Every purchased SKU gets an entry (its top-k items with similarity > 0). Cost:
 * Σ over customers of (distinct items)² plus items² for the ranking.
 */
export function itemCosine(purchases: Iterable<Purchase> | PurchaseMatrix, opts: ItemCosineOptions = {}): Neighbours {
	const k = opts.k ?? 20;
	const binary = (opts.weighting ?? "binary") === "binary";
	if (isMatrix(purchases)) {
		if (!binary) throw new RangeError("a purchase matrix supports binary weighting only");
		return matrixCosine(purchases, k, 0);
	}
	const index = new Map<string, number>();
	const skus: string[] = [];
	const baskets = new Map<string, Map<number, number>>();
	for (const p of purchases) {
		let i = index.get(p.sku);
		if (i === undefined) {
			i = skus.length;
			index.set(p.sku, i);
			skus.push(p.sku);
		}
		let b = baskets.get(p.customer);
		if (!b) baskets.set(p.customer, (b = new Map()));
		b.set(i, (b.get(i) ?? 0) + 1);
	}
	const m = skus.length;
	const norm2 = new Float64Array(m);
	const dense = m <= DENSE_ITEMS ? new Float64Array(m * m) : null;
	const sparse = dense ? null : Array.from({ length: m }, () => new Map<number, number>());
	const items: number[] = [];
	const weights: number[] = [];
	for (const b of baskets.values()) {
		items.length = 0;
		weights.length = 0;
		for (const [i, c] of b) {
			items.push(i);
			weights.push(binary ? 1 : c);
		}
		for (let p = 0; p < items.length; p++) {
			const i = items[p] as number;
			const wi = weights[p] as number;
			norm2[i] = (norm2[i] as number) + wi * wi;
			for (let q = p + 1; q < items.length; q++) {
				const j = items[q] as number;
				const w = wi * (weights[q] as number);
				// Stored once per unordered pair, at (min, max).
				const [a, c] = i < j ? [i, j] : [j, i];
				if (dense) dense[a * m + c] = (dense[a * m + c] as number) + w;
				else {
					const row = (sparse as Map<number, number>[])[a] as Map<number, number>;
					row.set(c, (row.get(c) ?? 0) + w);
				}
			}
		}
	}
	const lists: Scored[][] = Array.from({ length: m }, () => []);
	if (dense) {
		for (let a = 0; a < m; a++)
			for (let c = a + 1; c < m; c++) {
				const co = dense[a * m + c] as number;
				if (co <= 0) continue;
				const s = co / Math.sqrt((norm2[a] as number) * (norm2[c] as number));
				(lists[a] as Scored[]).push({ sku: skus[c] as string, score: s });
				(lists[c] as Scored[]).push({ sku: skus[a] as string, score: s });
			}
	} else {
		(sparse as Map<number, number>[]).forEach((row, a) => {
			for (const [c, co] of row) {
				const s = co / Math.sqrt((norm2[a] as number) * (norm2[c] as number));
				(lists[a] as Scored[]).push({ sku: skus[c] as string, score: s });
				(lists[c] as Scored[]).push({ sku: skus[a] as string, score: s });
			}
		});
	}
	const out: Neighbours = new Map();
	const order = skus.map((s, i) => [s, i] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
	for (const [sku, i] of order) out.set(sku, (lists[i] as Scored[]).sort(bySkuScore).slice(0, k));
	return out;
}

/**
 * The customer × item purchase matrix in typed arrays, for stores too large for one object per purchase
 * (issue 12: 1,000,000 orders are ~2.7 million order lines; as { customer, sku, at } objects they alone
 * exceed the 128 MB isolate). One entry per distinct (customer, item) pair; customer c's pairs are
 * `item[start[c] … start[c + 1])`. Time is kept only as it matters to the evaluation: for each of up to four
 * split times, whether the pair was bought before it and whether at or after it; and the purchase-row counts
 * the evaluation reports. Every function below that takes a Purchase list also takes this matrix and gives
 * the same result (binary weighting only: the matrix keeps no per-pair counts).
 */
export interface PurchaseMatrix {
	kind: "matrix";
	/** Customer ids, in the order they were added. */
	customers: string[];
	/** SKUs, in the order first seen (functions sort by SKU themselves). */
	skus: string[];
	/** Offsets into item/when: customers.length + 1 entries. */
	start: Int32Array;
	/** SKU index of each pair. */
	item: Int32Array;
	/** Bit 2s: bought before splits[s]; bit 2s + 1: bought at or after splits[s]. */
	when: Uint8Array;
	/** UTC ms. */
	splits: number[];
	/** Purchase rows (order lines) added, and how many of them were before each split. */
	rows: number;
	rowsBefore: number[];
}

/** Accumulates purchases grouped by customer (every row of a customer contiguous) into a PurchaseMatrix. */
export class PurchaseMatrixBuilder {
	private customers: string[] = [];
	private skus: string[] = [];
	private skuIndex = new Map<string, number>();
	private start: number[] = [0];
	private item = new Int32Array(1024);
	private when = new Uint8Array(1024);
	private pairs = 0;
	private rows = 0;
	private rowsBefore: number[];
	private current: string | null = null;
	/** The current customer's items: SKU index → `when` bits. */
	private basket = new Map<number, number>();
	private seen = new Set<string>();

	constructor(private readonly splits: readonly number[] = []) {
		if (splits.length > 4) throw new RangeError("a purchase matrix keeps at most 4 split times");
		this.rowsBefore = splits.map(() => 0);
	}

	/** One purchase row; `at` is UTC ms. */
	add(customer: string, sku: string, at: number): void {
		if (!Number.isFinite(at)) throw new RangeError(`purchase of ${sku} by ${customer} has no time`);
		if (customer !== this.current) {
			this.flush();
			if (this.seen.has(customer)) throw new RangeError(`purchases of customer ${customer} are not contiguous`);
			this.seen.add(customer);
			this.current = customer;
			this.customers.push(customer);
		}
		let i = this.skuIndex.get(sku);
		if (i === undefined) {
			i = this.skus.length;
			this.skuIndex.set(sku, i);
			this.skus.push(sku);
		}
		let bits = 0;
		this.splits.forEach((s, k) => {
			if (at < s) {
				bits |= 1 << (2 * k);
				this.rowsBefore[k] = (this.rowsBefore[k] as number) + 1;
			} else bits |= 1 << (2 * k + 1);
		});
		this.basket.set(i, (this.basket.get(i) ?? 0) | bits);
		this.rows++;
	}

	private flush(): void {
		if (this.current === null) return;
		const need = this.pairs + this.basket.size;
		if (need > this.item.length) {
			// Doubling keeps the copies' total linear in the pairs.
			const size = Math.max(need, this.item.length * 2);
			const item = new Int32Array(size);
			item.set(this.item.subarray(0, this.pairs));
			const when = new Uint8Array(size);
			when.set(this.when.subarray(0, this.pairs));
			this.item = item;
			this.when = when;
		}
		for (const [i, bits] of this.basket) {
			this.item[this.pairs] = i;
			this.when[this.pairs++] = bits;
		}
		this.start.push(this.pairs);
		this.basket.clear();
	}

	finish(): PurchaseMatrix {
		this.flush();
		this.current = null;
		this.seen.clear();
		return {
			kind: "matrix",
			customers: this.customers,
			skus: this.skus,
			start: Int32Array.from(this.start),
			item: this.item.slice(0, this.pairs),
			when: this.when.slice(0, this.pairs),
			splits: [...this.splits],
			rows: this.rows,
			rowsBefore: [...this.rowsBefore],
		};
	}
}

/** A PurchaseMatrix of a purchase list (every purchase needs `at` when splits are given), customers in id order. */
export function purchaseMatrix(purchases: readonly Purchase[], splits: readonly number[] = []): PurchaseMatrix {
	const b = new PurchaseMatrixBuilder(splits);
	const sorted = [...purchases].sort((x, y) => (x.customer < y.customer ? -1 : x.customer > y.customer ? 1 : 0));
	for (const p of sorted) b.add(p.customer, p.sku, splits.length ? (p.at as number) : (p.at ?? 0));
	return b.finish();
}

const isMatrix = (p: unknown): p is PurchaseMatrix => typeof p === "object" && p !== null && (p as { kind?: unknown }).kind === "matrix";

/** The `when` bit that selects pairs bought before (or at/after) `splitAt`, which must be one of the matrix's splits. */
function splitBit(m: PurchaseMatrix, splitAt: number, after: boolean): number {
	const s = m.splits.indexOf(splitAt);
	if (s < 0) throw new RangeError(`the purchase matrix was not built with split ${new Date(splitAt).toISOString()}`);
	return 1 << (2 * s + (after ? 1 : 0));
}

/** The SKUs customer c bought (restricted to pairs with `bit` set, if given). */
export function matrixBasket(m: PurchaseMatrix, c: number, bit = 0): string[] {
	const out: string[] = [];
	for (let e = m.start[c] as number; e < (m.start[c + 1] as number); e++) if (!bit || (m.when[e] as number) & bit) out.push(m.skus[m.item[e] as number] as string);
	return out;
}

/**
 * Binary item-item cosine over the matrix's pairs (those with `bit` set, if given): the same lists as
 * itemCosine on the purchases, with integer co-occurrence counts (exact, so summation order cannot matter).
 */
function matrixCosine(m: PurchaseMatrix, k: number, bit: number): Neighbours {
	const n = m.skus.length;
	const norm2 = new Float64Array(n);
	const dense = n <= DENSE_ITEMS ? new Uint32Array(n * n) : null;
	const sparse = dense ? null : Array.from({ length: n }, () => new Map<number, number>());
	const items: number[] = [];
	const present = new Uint8Array(n);
	for (let c = 0; c < m.customers.length; c++) {
		items.length = 0;
		for (let e = m.start[c] as number; e < (m.start[c + 1] as number); e++) if (!bit || (m.when[e] as number) & bit) items.push(m.item[e] as number);
		for (let p = 0; p < items.length; p++) {
			const i = items[p] as number;
			norm2[i] = (norm2[i] as number) + 1;
			present[i] = 1;
			for (let q = p + 1; q < items.length; q++) {
				const j = items[q] as number;
				const [a, b] = i < j ? [i, j] : [j, i];
				if (dense) dense[a * n + b] = (dense[a * n + b] as number) + 1;
				else {
					const row = (sparse as Map<number, number>[])[a] as Map<number, number>;
					row.set(b, (row.get(b) ?? 0) + 1);
				}
			}
		}
	}
	const lists: Scored[][] = Array.from({ length: n }, () => []);
	const pair = (a: number, b: number, co: number) => {
		const s = co / Math.sqrt((norm2[a] as number) * (norm2[b] as number));
		(lists[a] as Scored[]).push({ sku: m.skus[b] as string, score: s });
		(lists[b] as Scored[]).push({ sku: m.skus[a] as string, score: s });
	};
	if (dense) {
		for (let a = 0; a < n; a++)
			for (let b = a + 1; b < n; b++) {
				const co = dense[a * n + b] as number;
				if (co > 0) pair(a, b, co);
			}
	} else (sparse as Map<number, number>[]).forEach((row, a) => row.forEach((co, b) => pair(a, b, co)));
	const out: Neighbours = new Map();
	const order = m.skus.map((s, i) => [s, i] as const).filter(([, i]) => present[i]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
	for (const [sku, i] of order) out.set(sku, (lists[i] as Scored[]).sort(bySkuScore).slice(0, k));
	return out;
}

/** popularItems over the matrix's pairs (those with `bit` set, if given). */
function matrixPopular(m: PurchaseMatrix, bit: number): Scored[] {
	const count = new Float64Array(m.skus.length);
	for (let e = 0; e < m.item.length; e++) if (!bit || (m.when[e] as number) & bit) count[m.item[e] as number] = (count[m.item[e] as number] as number) + 1;
	const out: Scored[] = [];
	count.forEach((n, i) => {
		if (n > 0) out.push({ sku: m.skus[i] as string, score: n });
	});
	return out.sort(bySkuScore);
}

/** A small English stop list (articles, pronouns, prepositions, conjunctions); product words such as "free" or "plus" stay. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
	(
		"a an and are as at be been but by can for from has have he her his how if in into is it its me my no nor not of on or our " +
		"per she so such than that the their them then there these they this those to too up us was we were what when where which " +
		"while who whom why will with you your"
	).split(" "),
);

/**
 * Tokens of a text: lowercase, accents removed (NFD, combining marks dropped, so "proteína" = "proteina"),
 * split on anything that is not a Unicode letter or digit, 1-character tokens and STOP_WORDS dropped.
 * sklearn's default (\b\w\w+\b, no stop words, accents kept) differs only on "_", accents and stop words.
 */
export function tokenize(text: string): string[] {
	return text
		.toLowerCase()
		.normalize("NFD")
		.replace(/\p{M}+/gu, "")
		.split(/[^\p{L}\p{N}]+/u)
		.filter((t) => t.length > 1 && !STOP_WORDS.has(t));
}

/** A sparse vector: term indices ascending, with their weights. */
export interface SparseVector {
	indices: Int32Array;
	values: Float64Array;
}

export interface TfidfModel {
	/** Terms, sorted (UTF-16 code unit order); a term's position is its index. */
	vocabulary: string[];
	/** Inverse document frequency of each term. */
	idf: Float64Array;
	/** One l2-normalised vector per document (empty for a document without tokens). */
	vectors: SparseVector[];
}

/**
 * TF-IDF with sklearn's TfidfVectorizer defaults: tf = raw count in the document (sublinear_tf off),
 * idf = ln((1 + n) / (1 + df)) + 1 (smooth_idf), weight = tf · idf, each vector scaled to unit l2 norm.
 */
export function tfidfVectors(docs: readonly string[]): TfidfModel {
	const tokens = docs.map(tokenize);
	const df = new Map<string, number>();
	for (const t of tokens) for (const term of new Set(t)) df.set(term, (df.get(term) ?? 0) + 1);
	const vocabulary = [...df.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
	const index = new Map(vocabulary.map((t, i) => [t, i]));
	const n = docs.length;
	const idf = Float64Array.from(vocabulary, (t) => Math.log((1 + n) / (1 + (df.get(t) as number))) + 1);
	const vectors = tokens.map((t) => {
		const tf = new Map<number, number>();
		for (const term of t) {
			const i = index.get(term) as number;
			tf.set(i, (tf.get(i) ?? 0) + 1);
		}
		const indices = Int32Array.from([...tf.keys()].sort((a, b) => a - b));
		const values = Float64Array.from(indices, (i) => (tf.get(i) as number) * (idf[i] as number));
		const norm = Math.hypot(...values);
		if (norm > 0) for (let j = 0; j < values.length; j++) values[j] = (values[j] as number) / norm;
		return { indices, values };
	});
	return { vocabulary, idf, vectors };
}

/** Cosine similarity of two sparse vectors (0 when either is empty). */
export function cosine(a: SparseVector, b: SparseVector): number {
	let dot = 0;
	let na = 0;
	let nb = 0;
	for (const v of a.values) na += v * v;
	for (const v of b.values) nb += v * v;
	for (let i = 0, j = 0; i < a.indices.length && j < b.indices.length; ) {
		const x = a.indices[i] as number;
		const y = b.indices[j] as number;
		if (x === y) dot += (a.values[i++] as number) * (b.values[j++] as number);
		else if (x < y) i++;
		else j++;
	}
	return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** The text TF-IDF sees for a product: name, description, category and brand, space-joined. */
export function productText(p: Product): string {
	return [p.name, p.description, p.category, p.brand].filter((s): s is string => typeof s === "string" && s.length > 0).join(" ");
}

/**
 * Each product's k most similar products by TF-IDF cosine over productText (similarity > 0 only). Pairs come
 * from an inverted index, so cost is Σ over terms of (documents with the term)², not products².
 */
export function contentNeighbours(products: readonly Product[], k = 20): Neighbours {
	const { vectors, vocabulary } = tfidfVectors(products.map(productText));
	const postings: { doc: number; w: number }[][] = vocabulary.map(() => []);
	vectors.forEach((v, doc) => v.indices.forEach((t, j) => (postings[t] as { doc: number; w: number }[]).push({ doc, w: v.values[j] as number })));
	const acc = new Float64Array(products.length);
	const touched: number[] = [];
	const out: Neighbours = new Map();
	const order = products.map((p, i) => [p.sku, i] as const).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
	for (const [sku, i] of order) {
		const v = vectors[i] as SparseVector;
		touched.length = 0;
		v.indices.forEach((t, j) => {
			const w = v.values[j] as number;
			for (const p of postings[t] as { doc: number; w: number }[]) {
				if (p.doc === i) continue;
				if (acc[p.doc] === 0) touched.push(p.doc);
				acc[p.doc] = (acc[p.doc] as number) + w * p.w;
			}
		});
		const list: Scored[] = [];
		for (const d of touched) {
			const other = (products[d] as Product).sku;
			// Duplicate SKUs in the catalogue would otherwise recommend a product for itself.
			if ((acc[d] as number) > 0 && other !== sku) list.push({ sku: other, score: acc[d] as number });
			acc[d] = 0;
		}
		out.set(sku, list.sort(bySkuScore).slice(0, k));
	}
	return out;
}

/**
 * Weighted hybrid of two neighbour lists: score(i, j) = w · cf(i, j) + (1 − w) · content(i, j), an item missing
 * from one list counting 0 there (so keep each input's k larger than this k). Both inputs are cosines in [0, 1].
 */
export function hybrid(cf: Neighbours, content: Neighbours, w = 0.7, k = 20): Neighbours {
	if (!(w >= 0 && w <= 1)) throw new RangeError("hybrid weight must be in [0, 1]");
	const keys = [...new Set([...cf.keys(), ...content.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
	const out: Neighbours = new Map();
	for (const sku of keys) {
		const s = new Map<string, number>();
		for (const n of cf.get(sku) ?? []) s.set(n.sku, w * n.score);
		for (const n of content.get(sku) ?? []) s.set(n.sku, (s.get(n.sku) ?? 0) + (1 - w) * n.score);
		const list = [...s].map(([sku, score]) => ({ sku, score })).filter((x) => x.score > 0);
		out.set(sku, list.sort(bySkuScore).slice(0, k));
	}
	return out;
}

/** Items by distinct customers who bought them (score = that count), most popular first. */
export function popularItems(purchases: Iterable<Purchase> | PurchaseMatrix): Scored[] {
	if (isMatrix(purchases)) return matrixPopular(purchases, 0);
	const customers = new Map<string, Set<string>>();
	for (const p of purchases) {
		let s = customers.get(p.sku);
		if (!s) customers.set(p.sku, (s = new Set()));
		s.add(p.customer);
	}
	return [...customers].map(([sku, s]) => ({ sku, score: s.size })).sort(bySkuScore);
}

export interface Recommendation {
	sku: string;
	/** Sum of similarities to the customer's items (0 for popularity fill). */
	score: number;
	/** The customer's item most similar to this one, or null for popularity fill. */
	because: string | null;
}

export interface RecommendOptions {
	/** List length (default 10). */
	k?: number;
	/** Keep items the customer already bought as candidates (default false; see the module note). */
	allowRepurchase?: boolean;
	/** SKUs never to recommend (out of stock, discontinued). */
	exclude?: Iterable<string>;
	/** Pad a short list from these SKUs in order (typically popularItems), skipping bought and excluded ones. */
	fallback?: readonly (string | Scored)[];
}

/**
 * Neighbour lists in flat arrays for fast per-customer scoring (build once per model, then score every
 * customer): SKUs sorted, so index order is SKU order; item i's neighbours are target/score[start[i] … start[i+1]).
 */
export interface NeighbourIndex {
	skus: string[];
	index: Map<string, number>;
	start: Int32Array;
	target: Int32Array;
	score: Float64Array;
	/** Scratch buffers reused by recommendForCustomer (single-threaded, synchronous: never shared mid-call). */
	scratch: { acc: Float64Array; best: Float64Array; from: Int32Array; mark: Uint8Array };
}

/** Flattens neighbour lists into a NeighbourIndex. */
export function indexNeighbours(neighbours: Neighbours): NeighbourIndex {
	const all = new Set<string>(neighbours.keys());
	let edges = 0;
	for (const list of neighbours.values()) {
		edges += list.length;
		for (const n of list) all.add(n.sku);
	}
	const skus = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
	const index = new Map(skus.map((s, i) => [s, i]));
	const m = skus.length;
	const start = new Int32Array(m + 1);
	const target = new Int32Array(edges);
	const score = new Float64Array(edges);
	let e = 0;
	for (let i = 0; i < m; i++) {
		start[i] = e;
		for (const n of neighbours.get(skus[i] as string) ?? []) {
			target[e] = index.get(n.sku) as number;
			score[e++] = n.score;
		}
	}
	start[m] = e;
	return { skus, index, start, target, score, scratch: { acc: new Float64Array(m), best: new Float64Array(m), from: new Int32Array(m), mark: new Uint8Array(m) } };
}

const BANNED = 1;
const TOUCHED = 2;

/**
 * Top-k items for a customer from item neighbour lists (collaborative, content or hybrid): score(j) =
 * Σ over the customer's distinct items i of sim(i, j), from i's neighbour list; `because` is the item with the
 * largest term (ties: the first SKU). Pass a NeighbourIndex when scoring many customers with one model; a
 * Neighbours map is indexed on each call. Cost ≈ the customer's items × neighbours per item.
 */
export function recommendForCustomer(bought: Iterable<string>, neighbours: Neighbours | NeighbourIndex, opts: RecommendOptions = {}): Recommendation[] {
	const k = opts.k ?? 10;
	const ix = neighbours instanceof Map ? indexNeighbours(neighbours) : neighbours;
	const { acc, best, from, mark } = ix.scratch;
	const owned = new Set(bought);
	const bannedOutside = new Set<string>(); // excluded SKUs the index does not know (matter only for the fallback)
	const marked: number[] = [];
	const ban = (sku: string) => {
		const i = ix.index.get(sku);
		if (i === undefined) bannedOutside.add(sku);
		else if (!(mark[i]! & BANNED)) {
			mark[i] = mark[i]! | BANNED;
			marked.push(i);
		}
	};
	for (const s of opts.exclude ?? []) ban(s);
	if (!opts.allowRepurchase) for (const s of owned) ban(s);
	// Items in index (= SKU) order, so sums and ties do not depend on the order `bought` came in.
	const items = [...owned].map((s) => ix.index.get(s)).filter((i): i is number => i !== undefined).sort((a, b) => a - b);
	for (const i of items) {
		for (let e = ix.start[i]!; e < ix.start[i + 1]!; e++) {
			const j = ix.target[e]!;
			const sc = ix.score[e]!;
			if (mark[j]! & BANNED) continue;
			if (!(mark[j]! & TOUCHED)) {
				mark[j] = mark[j]! | TOUCHED;
				marked.push(j);
				acc[j] = 0;
				best[j] = -Infinity;
			}
			acc[j] = acc[j]! + sc;
			if (sc > best[j]!) {
				best[j] = sc;
				from[j] = i;
			}
		}
	}
	// Top k by (score desc, index asc) with a small sorted buffer: most candidates lose to the k-th at once.
	const top: number[] = [];
	const before = (a: number, b: number) => acc[a]! > acc[b]! || (acc[a] === acc[b] && a < b);
	for (const j of marked) {
		if (!(mark[j]! & TOUCHED) || mark[j]! & BANNED || !(acc[j]! > 0)) continue;
		if (top.length === k && !before(j, top[k - 1]!)) continue;
		let p = top.length < k ? top.length : k - 1;
		top[p] = j;
		while (p > 0 && before(j, top[p - 1]!)) {
			top[p] = top[p - 1]!;
			top[--p] = j;
		}
	}
	const out: Recommendation[] = top.map((j) => ({ sku: ix.skus[j]!, score: acc[j]!, because: ix.skus[from[j]!]! }));
	if (out.length < k && opts.fallback) {
		const have = new Set(out.map((r) => r.sku));
		for (const f of opts.fallback) {
			if (out.length >= k) break;
			const sku = typeof f === "string" ? f : f.sku;
			const i = ix.index.get(sku);
			if (have.has(sku) || bannedOutside.has(sku) || (i !== undefined && mark[i]! & BANNED)) continue;
			have.add(sku);
			out.push({ sku, score: 0, because: null });
		}
	}
	for (const i of marked) mark[i] = 0;
	return out;
}

/** 1 if any of the first k recommendations is relevant, else 0. */
export function hitRateAt(recommended: readonly string[], relevant: ReadonlySet<string>, k = 10): number {
	return recommended.slice(0, k).some((s) => relevant.has(s)) ? 1 : 0;
}

/** NDCG@k with binary relevance: Σ rel_r / log2(r + 1) over ranks r = 1..k, ÷ the same for an ideal list (min(|relevant|, k) hits first). */
export function ndcgAt(recommended: readonly string[], relevant: ReadonlySet<string>, k = 10): number {
	let dcg = 0;
	recommended.slice(0, k).forEach((s, r) => {
		if (relevant.has(s)) dcg += 1 / Math.log2(r + 2);
	});
	let ideal = 0;
	for (let r = 0; r < Math.min(relevant.size, k); r++) ideal += 1 / Math.log2(r + 2);
	return ideal > 0 ? dcg / ideal : 0;
}

export interface EvaluationOptions {
	/** List length scored (default 10). */
	k?: number;
	/** Neighbours kept per item for CF and content (default 50). */
	neighbours?: number;
	/** Hybrid weight on CF (default 0.7; pick it with chooseHybridWeight on an earlier split). */
	hybridWeight?: number;
	allowRepurchase?: boolean;
	weighting?: ItemCosineOptions["weighting"];
	/** Pad short CF/content/hybrid lists with popular items, as served (default true). */
	padWithPopular?: boolean;
}

export interface RankingScore {
	/** Share of evaluated customers with at least one relevant item in the top k (0–1). */
	hitRate: number;
	/** Mean NDCG@k (0–1). */
	ndcg: number;
}

export interface TimeSplitEvaluation {
	/** UTC ms: the models see purchases before it; relevance is what was bought from it on. */
	splitAt: number;
	k: number;
	/** Customers evaluated: bought before the split and bought something relevant after it. */
	customers: number;
	/** Customers with purchases after the split left out: no history before it (cold start), or only repurchases when those are excluded. */
	skipped: { noHistory: number; onlyRepurchases: number };
	trainPurchases: number;
	testPurchases: number;
	models: { popularity: RankingScore; cf: RankingScore; content: RankingScore; hybrid: RankingScore & { weight: number } };
}

interface Prepared {
	k: number;
	allowRepurchase: boolean;
	pad: boolean;
	cf: Neighbours;
	content: Neighbours;
	popular: Scored[];
	cases: { history: string[]; relevant: Set<string> }[];
	skipped: { noHistory: number; onlyRepurchases: number };
	train: number;
	test: number;
}

/** prepare() on a PurchaseMatrix built with splitAt among its splits: the same cases, models and counts. */
function prepareMatrix(m: PurchaseMatrix, products: readonly Product[], splitAt: number, opts: EvaluationOptions): Prepared {
	if ((opts.weighting ?? "binary") !== "binary") throw new RangeError("a purchase matrix supports binary weighting only");
	const k = opts.k ?? 10;
	const allowRepurchase = opts.allowRepurchase ?? false;
	const before = splitBit(m, splitAt, false);
	const after = splitBit(m, splitAt, true);
	const skipped = { noHistory: 0, onlyRepurchases: 0 };
	const cases: Prepared["cases"] = [];
	// Customers in id order (UTF-16 code units, as Array.prototype.sort), so the means sum in the same order.
	const order = Array.from(m.customers.keys()).sort((a, b) => {
		const x = m.customers[a] as string;
		const y = m.customers[b] as string;
		return x < y ? -1 : x > y ? 1 : 0;
	});
	for (const c of order) {
		let bought = false;
		let history = false;
		for (let e = m.start[c] as number; e < (m.start[c + 1] as number); e++) {
			const w = m.when[e] as number;
			if (w & after) bought = true;
			if (w & before) history = true;
		}
		if (!bought) continue;
		if (!history) {
			skipped.noHistory++;
			continue;
		}
		const h: string[] = [];
		const relevant = new Set<string>();
		for (let e = m.start[c] as number; e < (m.start[c + 1] as number); e++) {
			const w = m.when[e] as number;
			const sku = m.skus[m.item[e] as number] as string;
			if (w & before) h.push(sku);
			if (w & after && (allowRepurchase || !(w & before))) relevant.add(sku);
		}
		if (relevant.size === 0) {
			skipped.onlyRepurchases++;
			continue;
		}
		cases.push({ history: h, relevant });
	}
	const n = opts.neighbours ?? 50;
	const train = m.rowsBefore[m.splits.indexOf(splitAt)] as number;
	return {
		k,
		allowRepurchase,
		pad: opts.padWithPopular ?? true,
		cf: matrixCosine(m, n, before),
		content: contentNeighbours(products, n),
		popular: matrixPopular(m, before),
		cases,
		skipped,
		train,
		test: m.rows - train,
	};
}

function prepare(purchases: readonly Purchase[] | PurchaseMatrix, products: readonly Product[], splitAt: number, opts: EvaluationOptions): Prepared {
	if (isMatrix(purchases)) return prepareMatrix(purchases, products, splitAt, opts);
	const k = opts.k ?? 10;
	const allowRepurchase = opts.allowRepurchase ?? false;
	const before: Purchase[] = [];
	const after = new Map<string, Set<string>>();
	let test = 0;
	for (const p of purchases) {
		if (typeof p.at !== "number" || !Number.isFinite(p.at)) throw new RangeError(`purchase of ${p.sku} by ${p.customer} has no time`);
		if (p.at < splitAt) before.push(p);
		else {
			test++;
			let s = after.get(p.customer);
			if (!s) after.set(p.customer, (s = new Set()));
			s.add(p.sku);
		}
	}
	const history = new Map<string, Set<string>>();
	for (const p of before) {
		let s = history.get(p.customer);
		if (!s) history.set(p.customer, (s = new Set()));
		s.add(p.sku);
	}
	const skipped = { noHistory: 0, onlyRepurchases: 0 };
	const cases: Prepared["cases"] = [];
	for (const customer of [...after.keys()].sort()) {
		const h = history.get(customer);
		if (!h) {
			skipped.noHistory++;
			continue;
		}
		const relevant = new Set([...(after.get(customer) as Set<string>)].filter((s) => allowRepurchase || !h.has(s)));
		if (relevant.size === 0) {
			skipped.onlyRepurchases++;
			continue;
		}
		cases.push({ history: [...h], relevant });
	}
	const n = opts.neighbours ?? 50;
	return {
		k,
		allowRepurchase,
		pad: opts.padWithPopular ?? true,
		cf: itemCosine(before, { k: n, weighting: opts.weighting ?? "binary" }),
		content: contentNeighbours(products, n),
		popular: popularItems(before),
		cases,
		skipped,
		train: before.length,
		test,
	};
}

/** Mean hit-rate and NDCG of one model over the prepared customers; no neighbours = the popularity baseline. */
function scoreModel(p: Prepared, neighbours: Neighbours | null): RankingScore {
	let hits = 0;
	let ndcg = 0;
	const fallback = !neighbours || p.pad ? p.popular : undefined;
	const ix = indexNeighbours(neighbours ?? new Map());
	for (const c of p.cases) {
		const recs = recommendForCustomer(c.history, ix, { k: p.k, allowRepurchase: p.allowRepurchase, ...(fallback ? { fallback } : {}) }).map((r) => r.sku);
		hits += hitRateAt(recs, c.relevant, p.k);
		ndcg += ndcgAt(recs, c.relevant, p.k);
	}
	const n = p.cases.length;
	return { hitRate: n ? hits / n : Number.NaN, ndcg: n ? ndcg / n : Number.NaN };
}

/**
 * Offline evaluation on a time split: models are built from purchases before `splitAt` (UTC ms), and each
 * customer who bought before it and bought something relevant from it on gets k recommendations from each
 * model. Relevant = items bought after the split, minus those already bought before unless allowRepurchase
 * (a model cannot be credited for items it is not allowed to recommend). Binary relevance.
 */
export function evaluateTimeSplit(purchases: readonly Purchase[] | PurchaseMatrix, products: readonly Product[], splitAt: number, opts: EvaluationOptions = {}): TimeSplitEvaluation {
	const p = prepare(purchases, products, splitAt, opts);
	const w = opts.hybridWeight ?? 0.7;
	const n = opts.neighbours ?? 50;
	return {
		splitAt,
		k: p.k,
		customers: p.cases.length,
		skipped: p.skipped,
		trainPurchases: p.train,
		testPurchases: p.test,
		models: {
			popularity: scoreModel(p, null),
			cf: scoreModel(p, p.cf),
			content: scoreModel(p, p.content),
			hybrid: { ...scoreModel(p, hybrid(p.cf, p.content, w, n)), weight: w },
		},
	};
}

/**
 * The hybrid weight with the best NDCG@k (then hit-rate, then the larger weight) on a time split, over a grid
 * (default 0, 0.1, …, 1). Choose it on an earlier split than the one reported, or the report flatters the hybrid.
 */
export function chooseHybridWeight(
	purchases: readonly Purchase[] | PurchaseMatrix,
	products: readonly Product[],
	splitAt: number,
	grid: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10),
	opts: EvaluationOptions = {},
): { weight: number; byWeight: (RankingScore & { weight: number })[] } {
	const p = prepare(purchases, products, splitAt, opts);
	const n = opts.neighbours ?? 50;
	const byWeight = grid.map((w) => ({ ...scoreModel(p, hybrid(p.cf, p.content, w, n)), weight: w }));
	const best = [...byWeight].sort((a, b) => b.ndcg - a.ndcg || b.hitRate - a.hitRate || b.weight - a.weight)[0];
	return { weight: best?.weight ?? 0.7, byWeight };
}
