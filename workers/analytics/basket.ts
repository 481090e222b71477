/**
 * Market-basket analysis, pure (no bindings): frequent itemsets by a bitset Eclat, association rules
 * (apriori/arules semantics), cross-sell lists, bundle suggestions and a month-of-year seasonality
 * index. The nightly job feeds order lines and category revenue in and stores the results.
 *
 * Order of items: items inside an itemset or rule side are in canonical order (numbers ascending,
 * strings by UTF-16 code unit, not locale), so results are identical on every run and machine.
 */

export type Item = string | number;

export interface Itemset<T extends Item = Item> {
	/** Distinct items, canonical order. */
	items: T[];
	/** Baskets that contain all the items. */
	count: number;
	/** count ÷ baskets. */
	support: number;
}

function compareItems(a: Item, b: Item): number {
	if (typeof a === "number" && typeof b === "number") return a - b;
	const x = String(a);
	const y = String(b);
	return x < y ? -1 : x > y ? 1 : 0;
}

function compareItemLists(a: readonly Item[], b: readonly Item[]): number {
	for (let i = 0; i < Math.min(a.length, b.length); i++) {
		const c = compareItems(a[i] as Item, b[i] as Item);
		if (c !== 0) return c;
	}
	return a.length - b.length;
}

/** A map key for a canonical item list; \u0000 cannot be confused with text inside real item names. */
function keyOf(items: readonly Item[]): string {
	return items.join("\u0000");
}

function popcount(v: number): number {
	v -= (v >>> 1) & 0x55555555;
	v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
	return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * The smallest basket count with count ÷ baskets ≥ minSupport, as arules compares support (for
 * Groceries, 0.001 × 9,835 = 9.835 → 10). The 1e-9 slack keeps 0.3 × 10 (= 3.0000000000000004 in
 * floating point) at 3.
 */
export function minimumCount(minSupport: number, baskets: number): number {
	return Math.max(1, Math.ceil(minSupport * baskets - 1e-9));
}

/**
 * All itemsets contained in at least minSupport (a fraction 0–1) of the baskets, up to maxLength items,
 * with their basket counts; sorted by length, then count descending, then items. Duplicate items in a
 * basket count once. Eclat: each item's baskets as a Uint32Array bitset, extended depth-first by AND
 * and popcount. Cost grows with the number of frequent itemsets × baskets/32.
 */
export function mineItemsets<T extends Item>(baskets: readonly (readonly T[])[], minSupport: number, maxLength = Infinity): Itemset<T>[] {
	if (!(minSupport > 0 && minSupport <= 1)) throw new RangeError(`minSupport must be in (0, 1], got ${minSupport}`);
	const n = baskets.length;
	if (n === 0) return [];
	const minCount = minimumCount(minSupport, n);
	const words = Math.ceil(n / 32);
	const bitsOf = new Map<T, Uint32Array>();
	baskets.forEach((basket, row) => {
		for (const item of basket) {
			let bits = bitsOf.get(item);
			if (!bits) bitsOf.set(item, (bits = new Uint32Array(words)));
			bits[row >>> 5] = (bits[row >>> 5] as number) | (1 << (row & 31));
		}
	});
	const count = (bits: Uint32Array) => {
		let c = 0;
		for (let w = 0; w < words; w++) c += popcount(bits[w] as number);
		return c;
	};
	type Node = { item: T; bits: Uint32Array; count: number };
	// Rarest first keeps the intersections small early; the order does not change the result.
	const singles: Node[] = [...bitsOf]
		.map(([item, bits]) => ({ item, bits, count: count(bits) }))
		.filter((s) => s.count >= minCount)
		.sort((p, q) => p.count - q.count || compareItems(p.item, q.item));

	const found: Itemset<T>[] = [];
	const scratch = new Uint32Array(words);
	const grow = (prefix: T[], siblings: readonly Node[]) => {
		for (let i = 0; i < siblings.length; i++) {
			const s = siblings[i] as Node;
			const items = [...prefix, s.item];
			found.push({ items: [...items].sort(compareItems), count: s.count, support: s.count / n });
			if (items.length >= maxLength) continue;
			const children: Node[] = [];
			for (let j = i + 1; j < siblings.length; j++) {
				const t = siblings[j] as Node;
				let c = 0;
				for (let w = 0; w < words; w++) {
					const v = (s.bits[w] as number) & (t.bits[w] as number);
					scratch[w] = v;
					c += popcount(v);
				}
				if (c >= minCount) children.push({ item: t.item, bits: scratch.slice(), count: c });
			}
			if (children.length) grow(items, children);
		}
	};
	grow([], singles);
	return found.sort((p, q) => p.items.length - q.items.length || q.count - p.count || compareItemLists(p.items, q.items));
}

export interface AssociationRule<T extends Item = Item> {
	antecedent: T[];
	consequent: T[];
	/** Baskets containing antecedent ∪ consequent. */
	count: number;
	/** count ÷ baskets. */
	support: number;
	/** P(consequent | antecedent) = count ÷ count(antecedent). */
	confidence: number;
	/** confidence ÷ support(consequent); 1 = independent. */
	lift: number;
	/**
	 * (1 − support(consequent)) ÷ (1 − confidence): how much more often the rule would be wrong if the
	 * sides were independent. null when confidence = 1 (infinite: the rule is never wrong), so it
	 * survives JSON, which has no Infinity.
	 */
	conviction: number | null;
	/** support − support(antecedent) × support(consequent). */
	leverage: number;
}

export interface RuleOptions {
	/**
	 * Most items on the right-hand side (default 1, as arules' apriori, whose published rule counts this
	 * reproduces; Infinity for every split of every itemset).
	 */
	maxConsequent?: number;
}

/** Index subsets of {0…n−1} of sizes 1…maxSize, each ascending (the same few lists serve every itemset of length n). */
function subsets(n: number, maxSize: number): number[][] {
	const out: number[][] = [];
	const pick: number[] = [];
	const from = (start: number) => {
		for (let i = start; i < n; i++) {
			pick.push(i);
			out.push([...pick]);
			if (pick.length < maxSize) from(i + 1);
			pick.pop();
		}
	};
	from(0);
	return out;
}

/** Rule order: lift descending, then support descending, then antecedent and consequent by items. */
export function compareRules(p: AssociationRule, q: AssociationRule): number {
	return q.lift - p.lift || q.support - p.support || compareItemLists(p.antecedent, q.antecedent) || compareItemLists(p.consequent, q.consequent);
}

/**
 * Every rule X ⇒ Y with X and Y non-empty and disjoint, X ∪ Y a frequent itemset, |Y| ≤ maxConsequent
 * and confidence ≥ minConfidence, from the output of mineItemsets over nBaskets baskets (every subset of
 * a frequent itemset is in it). Sorted by compareRules. Ratios are formed from integer counts with one
 * division, so equal values compare equal.
 */
export function associationRules<T extends Item>(itemsets: readonly Itemset<T>[], nBaskets: number, minConfidence: number, opts: RuleOptions = {}): AssociationRule<T>[] {
	const maxConsequent = opts.maxConsequent ?? 1;
	const countOf = new Map<string, number>();
	for (const s of itemsets) countOf.set(keyOf(s.items), s.count);
	const lookup = (items: readonly T[]) => {
		const c = countOf.get(keyOf(items));
		if (c === undefined) throw new RangeError(`itemset {${items.join(", ")}} is missing: pass every itemset mineItemsets returned`);
		return c;
	};
	const n = nBaskets;
	const rules: AssociationRule<T>[] = [];
	const splits = new Map<number, number[][]>();
	for (const s of itemsets) {
		const k = s.items.length;
		if (k < 2) continue;
		let picks = splits.get(k);
		if (!picks) splits.set(k, (picks = subsets(k, Math.min(maxConsequent, k - 1))));
		for (const picked of picks) {
			const consequent = picked.map((i) => s.items[i] as T);
			const antecedent = s.items.filter((_, i) => !picked.includes(i));
			const cX = lookup(antecedent);
			const confidence = s.count / cX;
			if (confidence < minConfidence) continue;
			const cY = lookup(consequent);
			rules.push({
				antecedent,
				consequent,
				count: s.count,
				support: s.count / n,
				confidence,
				lift: (s.count * n) / (cX * cY),
				conviction: cX === s.count ? null : ((n - cY) * cX) / (n * (cX - s.count)),
				leverage: (s.count * n - cX * cY) / (n * n),
			});
		}
	}
	return rules.sort(compareRules);
}

/**
 * Cross-sell list for one product: the rules whose antecedent is exactly {product} (match "exact",
 * the default: "bought X, also buy Y") or contains it ("contains"), in compareRules order (lift first).
 */
export function crossSell<T extends Item>(rules: readonly AssociationRule<T>[], product: T, match: "exact" | "contains" = "exact"): AssociationRule<T>[] {
	return rules
		.filter((r) => (match === "exact" ? r.antecedent.length === 1 && r.antecedent[0] === product : r.antecedent.includes(product)))
		.sort(compareRules);
}

export interface BundleOptions<T extends Item> {
	/** Least support (fraction of baskets) of the whole bundle. */
	minSupport: number;
	/** Least bundle lift (see Bundle.lift); bundles also need lift > 1 whatever this is. */
	minLift: number;
	/** Unit margin of one item, minor units; null when unknown (the bundle's margin is then null). */
	marginOf: (item: T) => number | null;
	/** Bundle sizes to consider (default 2 and 3). */
	sizes?: readonly number[];
}

export interface Bundle<T extends Item = Item> {
	items: T[];
	count: number;
	support: number;
	/**
	 * support(bundle) ÷ Π support(item): how much more often the items are bought together than if each
	 * were bought independently. For two items it is the rule lift; for three it is the full-independence
	 * ratio, which a rule's lift (pair vs item) understates or overstates, so the best rule is given too.
	 */
	lift: number;
	/** Of the given rules over exactly these items, the one with the highest lift (then confidence); null when none passed. */
	bestRule: AssociationRule<T> | null;
	/** Sum of the items' unit margins, minor units; null when any is unknown. */
	marginMinor: number | null;
}

/**
 * Bundle candidates: itemsets of 2–3 items (opts.sizes) with support ≥ minSupport, lift > 1 and
 * lift ≥ minLift, with their combined unit margin and best rule; sorted by lift descending, then
 * support descending, then items.
 */
export function bundleSuggestions<T extends Item>(itemsets: readonly Itemset<T>[], rules: readonly AssociationRule<T>[], opts: BundleOptions<T>): Bundle<T>[] {
	const sizes = opts.sizes ?? [2, 3];
	const single = new Map<T, number>();
	for (const s of itemsets) if (s.items.length === 1) single.set(s.items[0] as T, s.support);
	const bestRule = new Map<string, AssociationRule<T>>();
	for (const r of rules) {
		const key = keyOf([...r.antecedent, ...r.consequent].sort(compareItems));
		const held = bestRule.get(key);
		if (!held || r.lift > held.lift || (r.lift === held.lift && r.confidence > held.confidence)) bestRule.set(key, r);
	}
	const bundles: Bundle<T>[] = [];
	for (const s of itemsets) {
		if (!sizes.includes(s.items.length) || s.support < opts.minSupport) continue;
		let independent = 1;
		for (const item of s.items) {
			const p = single.get(item);
			if (p === undefined) throw new RangeError(`item ${String(item)} has no single-item support: pass every itemset mineItemsets returned`);
			independent *= p;
		}
		const lift = s.support / independent;
		if (!(lift > 1) || lift < opts.minLift) continue;
		let marginMinor: number | null = 0;
		for (const item of s.items) {
			const m = opts.marginOf(item);
			marginMinor = m === null || marginMinor === null ? null : marginMinor + m;
		}
		bundles.push({ items: s.items, count: s.count, support: s.support, lift, bestRule: bestRule.get(keyOf(s.items)) ?? null, marginMinor });
	}
	return bundles.sort((p, q) => q.lift - p.lift || q.support - p.support || compareItemLists(p.items, q.items));
}

export interface MonthlyRevenue {
	category: string;
	/** Calendar month, YYYY-MM. */
	month: string;
	/** Revenue of that month, integer minor units. */
	revenueMinor: number;
}

export interface SeasonalityIndex {
	category: string;
	/**
	 * Jan…Dec: mean revenue of that calendar month ÷ mean revenue of all months in the window (1.0 =
	 * typical); null with less than 12 months of history or no revenue in the window.
	 */
	index: number[] | null;
	/** The window used: the last whole 12-month cycles up to the category's last month; null with under 12 months. */
	from: string | null;
	to: string | null;
	months: number;
}

function monthNumber(month: string): number {
	const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
	if (!m) throw new RangeError(`month must be YYYY-MM, got ${JSON.stringify(month)}`);
	return Number(m[1]) * 12 + Number(m[2]) - 1;
}

function monthText(n: number): string {
	return `${String(Math.floor(n / 12)).padStart(4, "0")}-${String((n % 12) + 1).padStart(2, "0")}`;
}

/**
 * Month-of-year seasonality index per category (sorted by category). Rows for the same category and
 * month are summed, and months without a row inside a category's span count as zero revenue. Partial
 * years: only the last whole multiple of 12 months ending at the category's last month is used (a
 * 30-month history uses its last 24), so every calendar month is averaged over the same number of
 * years; pass complete months only. Fewer than 12 months → index null.
 */
export function seasonalityIndex(monthly: readonly MonthlyRevenue[]): SeasonalityIndex[] {
	const byCategory = new Map<string, Map<number, number>>();
	for (const row of monthly) {
		const m = monthNumber(row.month);
		let months = byCategory.get(row.category);
		if (!months) byCategory.set(row.category, (months = new Map()));
		months.set(m, (months.get(m) ?? 0) + row.revenueMinor);
	}
	const out: SeasonalityIndex[] = [];
	for (const [category, months] of byCategory) {
		const keys = [...months.keys()];
		const last = Math.max(...keys);
		const span = last - Math.min(...keys) + 1;
		const used = span - (span % 12);
		if (used === 0) {
			out.push({ category, index: null, from: null, to: null, months: 0 });
			continue;
		}
		const from = last - used + 1;
		const byCalendarMonth = new Array<number>(12).fill(0);
		let total = 0;
		for (let m = from; m <= last; m++) {
			const v = months.get(m) ?? 0;
			byCalendarMonth[m % 12] = (byCalendarMonth[m % 12] as number) + v;
			total += v;
		}
		// Each calendar month appears used/12 times, so mean(month) ÷ mean(all) = 12 · sum(month) ÷ total.
		const index = total === 0 ? null : byCalendarMonth.map((v) => (12 * v) / total);
		out.push({ category, index, from: monthText(from), to: monthText(last), months: used });
	}
	return out.sort((p, q) => (p.category < q.category ? -1 : p.category > q.category ? 1 : 0));
}
