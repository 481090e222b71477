/**
 * RFM segmentation, pure (no bindings): recency, frequency and monetary value per customer over a
 * trailing window, quintile scores 1–5, the ten segments of docs/architecture.md ("Segmentación de
 * Clientes") plus `Other`, a per-segment summary and the segment movement between two runs. The nightly
 * job reads orders from D1 and feeds them in.
 *
 * Orders come in already cleaned by the caller: cancelled orders left out, and each order's revenue net
 * of tax and of its refunds (the KPI catalogue's net revenue), in integer minor units. A fully refunded
 * order therefore still counts as an order (frequency) with revenue 0, and a customer whose refunds
 * exceed what they paid has a monetary value ≤ 0; both are scored like any other value.
 */

const DAY_MS = 86_400_000;

export interface RfmOrder {
	customer: string;
	/** UTC epoch ms. */
	placedAt: number;
	/** Net revenue of the order (total − tax − refunds), integer minor units; may be ≤ 0. */
	revenueMinor: number;
}

export interface RfmOptions {
	/** Exclusive end of the window, UTC epoch ms (usually the job's run time or a midnight). */
	asOf: number;
	/** Window length in days (default 365): orders with asOf − windowDays·24 h ≤ placedAt < asOf count. */
	windowDays?: number;
}

/** An inclusive score range `[lo, hi]`, 1–5. */
export type ScoreRange = readonly [lo: number, hi: number];

export interface SegmentDef {
	name: string;
	r: ScoreRange;
	f: ScoreRange;
	m: ScoreRange;
	/** What a marketer does with these customers, one sentence. */
	action: string;
}

/**
 * The ten segments with exactly the ranges of docs/architecture.md, in PRECEDENCE order: the boxes
 * overlap (and leave gaps), and a customer gets the first one that contains their (r, f, m).
 *
 * The rule: the smaller (more specific) box wins where two overlap, so a segment carved out of a
 * broader one keeps its own action: New_Customers (2 cells) and Promising (4) before
 * Potential_Loyalists (27), Champions (8) before Loyal_Customers (36), the 8-cell boxes before
 * At_Risk (18). Among the 8-cell boxes:
 * - Champions and Cannot_Lose first: they overlap only larger boxes (Cannot_Lose takes R1–2 F4 M4 from
 *   At_Risk and R2 F4–5 M4–5 from Loyal_Customers: the biggest spenders slipping away need the
 *   personal save, not the generic win-back or loyalty treatment).
 * - About_to_Sleep before Hibernating and Need_Attention: the cells they share have F2 M2 (below the
 *   middle score), which is what About_to_Sleep and Hibernating describe; About_to_Sleep takes R2 from
 *   Hibernating because a customer in the second-oldest fifth is still cheap to reactivate, leaving
 *   Hibernating the oldest fifth (R1) with low F and M.
 * - Need_Attention before At_Risk and Loyal_Customers: it takes the middle cells R2–3 F2–3 M2–3 that
 *   are not F2 M2, so At_Risk keeps the lapsed customers with a 4 in F or M and Loyal_Customers the
 *   customers with a 4 or 5 in F or M.
 * Disjoint boxes may sit in any order; the list reads from the best customers down. Cells in no box
 * (42 of the 125, e.g. F1 M4–5: one large order; F4–5 M1–2: many small ones) get `Other`.
 */
export const SEGMENTS = [
	{ name: "Champions", r: [4, 5], f: [4, 5], m: [4, 5], action: "Reward them with a VIP tier, early access to launches and referral asks; they need no discounts." },
	{
		name: "Cannot_Lose",
		r: [1, 2],
		f: [4, 5],
		m: [4, 5],
		action: "Win them back personally now (a tailored offer on their usual products, a call or a note) before a competitor does: they were among the biggest spenders.",
	},
	{ name: "New_Customers", r: [4, 5], f: [1, 1], m: [1, 1], action: "Onboard them with a welcome series, usage guides for what they bought and a nudge toward a second order." },
	{ name: "Promising", r: [3, 4], f: [1, 1], m: [2, 3], action: "Build the relationship with recommendations based on their first basket and a time-limited offer on the second order." },
	{ name: "About_to_Sleep", r: [2, 3], f: [1, 2], m: [1, 2], action: "Reactivate them before they lapse with replenishment reminders, best sellers and a modest discount." },
	{ name: "Hibernating", r: [1, 2], f: [1, 2], m: [1, 2], action: "Spend little: include them in broad seasonal campaigns and drop them from paid audiences if they do not respond." },
	{ name: "Need_Attention", r: [2, 3], f: [2, 3], m: [2, 3], action: "Re-engage them with limited-time offers and personalised recommendations from their past purchases." },
	{ name: "At_Risk", r: [1, 2], f: [2, 4], m: [2, 4], action: "Run a win-back campaign: personalised emails with news in their categories and a renewal offer." },
	{ name: "Potential_Loyalists", r: [3, 5], f: [1, 3], m: [1, 3], action: "Turn them into regulars with the loyalty programme, subscriptions or replenishment reminders, and cross-sell." },
	{ name: "Loyal_Customers", r: [2, 5], f: [3, 5], m: [3, 5], action: "Upsell higher-value products, ask for reviews and keep them engaged through the loyalty programme." },
] as const satisfies readonly SegmentDef[];

/** The segment for (r, f, m) cells that no box of the architecture document covers. */
export const OTHER_SEGMENT = {
	name: "Other",
	action: "Read the scores themselves: one large order (F1 M4–5) calls for a second-purchase offer, many small baskets (F4–5 M1–2) for bundles that raise the basket.",
} as const;

export type SegmentName = (typeof SEGMENTS)[number]["name"] | typeof OTHER_SEGMENT.name;

/** All eleven segment names: the ten in precedence order, then Other. */
export const SEGMENT_NAMES: readonly SegmentName[] = [...SEGMENTS.map((s) => s.name), OTHER_SEGMENT.name];

const within = (v: number, [lo, hi]: ScoreRange) => v >= lo && v <= hi;

/** The segment of scores r, f, m (each 1–5): the first box in SEGMENTS that contains them, else Other. */
export function segmentOf(r: number, f: number, m: number): SegmentName {
	for (const s of SEGMENTS) if (within(r, s.r) && within(f, s.f) && within(m, s.m)) return s.name;
	return OTHER_SEGMENT.name;
}

export interface RfmScore {
	customer: string;
	/** Whole days from the last order in the window to asOf: floor((asOf − last) / 24 h). */
	recencyDays: number;
	/** Orders in the window. */
	frequency: number;
	/** Sum of the window's net revenue, integer minor units; may be ≤ 0 after refunds. */
	monetaryMinor: number;
	/** Scores 1–5, 5 best (most recent, most orders, most revenue). */
	r: number;
	f: number;
	m: number;
	segment: SegmentName;
}

/** Index of the first element of ascending `a` that is ≥ v (= how many are < v). */
function lowerBound(a: Float64Array, v: number): number {
	let lo = 0;
	let hi = a.length;
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if ((a[mid] as number) < v) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** Index of the first element of ascending `a` that is > v (= how many are ≤ v). */
function upperBound(a: Float64Array, v: number): number {
	let lo = 0;
	let hi = a.length;
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if ((a[mid] as number) <= v) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/**
 * Quintile scores: score = 1 + floor(5 × worse / n), where `worse` counts the customers with a strictly
 * worse value. Cutting the sorted list at every fifth would split a block of equal values (typically
 * the many one-order customers) by whatever order the rows came in, giving identical customers
 * different scores; counting strictly worse values gives every member of a block the score of the
 * block's lowest position instead, so equal values always score equal and the result does not depend
 * on input order. The block at the bottom scores 1 whatever its size (60 % one-order customers all get
 * F1); a block never spreads over several scores, so the fifths are only as even as the ties allow.
 *
 * Edge cases, by the same formula with no special case:
 * - n = 1, or every value equal: nobody is worse, so every score is 1 (the lone customer is
 *   Hibernating). We keep this rather than a neutral 3: a young shop where every buyer has one order
 *   would otherwise score F3 (one-order buyers as Loyal_Customers) and jump to F1 the day one customer
 *   orders twice; with the formula one-order buyers are F1 in both cases. Scores are relative: with a
 *   single customer there is nothing to compare, and the job should not act on segments of tiny sites.
 * - n = 2–4 distinct values: the top score is 1 + floor(5(n − 1)/n), i.e. 3, 4, 4 (n = 2: scores 1, 3).
 * Cost: one sort of n values and a binary search per customer, O(n log n).
 */
function quintileScores(values: Float64Array, higherIsBetter: boolean): Uint8Array {
	const n = values.length;
	const sorted = Float64Array.from(values).sort();
	const out = new Uint8Array(n);
	for (let i = 0; i < n; i++) {
		const v = values[i] as number;
		const worse = higherIsBetter ? lowerBound(sorted, v) : n - upperBound(sorted, v);
		out[i] = 1 + Math.floor((5 * worse) / n);
	}
	return out;
}

/**
 * RFM per customer with ≥ 1 order in [asOf − windowDays (default 365) days, asOf) (UTC ms), scored by
 * quintiles and segmented; sorted by customer id (UTF-16 code units). O(orders + customers · log customers).
 */
export function scoreRfm(orders: readonly RfmOrder[], opts: RfmOptions): RfmScore[] {
	const { asOf } = opts;
	const windowDays = opts.windowDays ?? 365;
	if (!Number.isFinite(asOf)) throw new RangeError(`asOf must be a finite epoch ms, got ${asOf}`);
	if (!Number.isFinite(windowDays) || windowDays <= 0) throw new RangeError(`windowDays must be positive, got ${windowDays}`);
	const from = asOf - windowDays * DAY_MS;

	const index = new Map<string, number>();
	const ids: string[] = [];
	const lastAt: number[] = [];
	const frequency: number[] = [];
	const monetary: number[] = [];
	for (const o of orders) {
		if (!Number.isFinite(o.placedAt)) throw new RangeError(`order of ${o.customer}: placedAt must be a finite epoch ms, got ${o.placedAt}`);
		if (!Number.isSafeInteger(o.revenueMinor)) throw new RangeError(`order of ${o.customer}: revenueMinor must be an integer, got ${o.revenueMinor}`);
		if (o.placedAt < from || o.placedAt >= asOf) continue;
		let i = index.get(o.customer);
		if (i === undefined) {
			i = ids.length;
			index.set(o.customer, i);
			ids.push(o.customer);
			lastAt.push(o.placedAt);
			frequency.push(0);
			monetary.push(0);
		} else if (o.placedAt > (lastAt[i] as number)) lastAt[i] = o.placedAt;
		frequency[i] = (frequency[i] as number) + 1;
		monetary[i] = (monetary[i] as number) + o.revenueMinor;
	}

	const n = ids.length;
	const recency = new Float64Array(n);
	for (let i = 0; i < n; i++) recency[i] = Math.floor((asOf - (lastAt[i] as number)) / DAY_MS);
	// Ranked on whole days, so two customers whose last orders are the same number of days back tie.
	const r = quintileScores(recency, false);
	const f = quintileScores(Float64Array.from(frequency), true);
	const m = quintileScores(Float64Array.from(monetary), true);

	const order = Array.from({ length: n }, (_, i) => i);
	order.sort((a, b) => {
		const x = ids[a] as string;
		const y = ids[b] as string;
		return x < y ? -1 : x > y ? 1 : 0;
	});
	return order.map((i): RfmScore => {
		const ri = r[i] as number;
		const fi = f[i] as number;
		const mi = m[i] as number;
		return {
			customer: ids[i] as string,
			recencyDays: recency[i] as number,
			frequency: frequency[i] as number,
			monetaryMinor: monetary[i] as number,
			r: ri,
			f: fi,
			m: mi,
			segment: segmentOf(ri, fi, mi),
		};
	});
}

export interface SegmentSummary {
	segment: SegmentName;
	customers: number;
	/** customers ÷ all scored customers, a fraction 0–1; null when nobody was scored. */
	customerShare: number | null;
	/** Sum of the segment's monetary values, integer minor units (may be ≤ 0). */
	revenueMinor: number;
	/**
	 * revenueMinor ÷ the total of all customers' monetary values, a fraction; null when that total is
	 * ≤ 0 (a share of nothing, or of a net refund, has no meaning and would flip signs). With a positive
	 * total the shares sum to 1, and a segment whose refunds exceed its sales has a negative share.
	 */
	revenueShare: number | null;
	/** Σ monetary ÷ Σ frequency over the segment, rounded to the minor unit; null when empty. */
	averageOrderValueMinor: number | null;
	/** Mean recency of the segment's customers, days; null when empty. */
	meanRecencyDays: number | null;
}

/** Customers, revenue (minor units), shares (fractions), AOV and mean recency per segment; all eleven, in SEGMENT_NAMES order. */
export function summarizeSegments(scores: readonly RfmScore[]): SegmentSummary[] {
	const at = new Map<SegmentName, number>(SEGMENT_NAMES.map((s, i) => [s, i]));
	const k = SEGMENT_NAMES.length;
	const customers = new Array<number>(k).fill(0);
	const revenue = new Array<number>(k).fill(0);
	const orders = new Array<number>(k).fill(0);
	const recency = new Array<number>(k).fill(0);
	let total = 0;
	for (const s of scores) {
		const i = at.get(s.segment);
		if (i === undefined) throw new RangeError(`unknown segment ${s.segment}`);
		customers[i] = (customers[i] as number) + 1;
		revenue[i] = (revenue[i] as number) + s.monetaryMinor;
		orders[i] = (orders[i] as number) + s.frequency;
		recency[i] = (recency[i] as number) + s.recencyDays;
		total += s.monetaryMinor;
	}
	const n = scores.length;
	return SEGMENT_NAMES.map((segment, i): SegmentSummary => {
		const c = customers[i] as number;
		const rev = revenue[i] as number;
		const ord = orders[i] as number;
		return {
			segment,
			customers: c,
			customerShare: n === 0 ? null : c / n,
			revenueMinor: rev,
			revenueShare: total > 0 ? rev / total : null,
			averageOrderValueMinor: ord === 0 ? null : Math.round(rev / ord),
			meanRecencyDays: c === 0 ? null : (recency[i] as number) / c,
		};
	});
}

/** The movement label of a customer absent from one side (new in the window, or dropped out of it). */
export const NO_SEGMENT = "(none)";
export type MovementLabel = SegmentName | typeof NO_SEGMENT;

export interface SegmentMovement {
	/** Row and column order: SEGMENT_NAMES, then `(none)`. */
	labels: MovementLabel[];
	/** counts[from][to]: customers in segment labels[from] before and labels[to] now; [none][none] is always 0. */
	counts: number[][];
}

export interface CustomerSegment {
	customer: string;
	/** A SegmentName; typed as text because the previous run comes back from D1 (unknown names throw RangeError). */
	segment: string;
}

/** From → to counts of customers between two runs (e.g. last month's and today's scores), `(none)` for one-sided customers. */
export function segmentMovement(previous: readonly CustomerSegment[], current: readonly CustomerSegment[]): SegmentMovement {
	const labels: MovementLabel[] = [...SEGMENT_NAMES, NO_SEGMENT];
	const at = new Map<string, number>(labels.map((s, i) => [s, i]));
	const none = labels.length - 1;
	const indexOf = (c: CustomerSegment): number => {
		const i = at.get(c.segment);
		if (i === undefined || i === none) throw new RangeError(`unknown segment ${c.segment} for ${c.customer}`);
		return i;
	};
	const before = new Map<string, number>();
	for (const c of previous) {
		if (before.has(c.customer)) throw new RangeError(`customer ${c.customer} appears twice in previous`);
		before.set(c.customer, indexOf(c));
	}
	const counts = labels.map(() => new Array<number>(labels.length).fill(0));
	const seen = new Set<string>();
	for (const c of current) {
		if (seen.has(c.customer)) throw new RangeError(`customer ${c.customer} appears twice in current`);
		seen.add(c.customer);
		const row = counts[before.get(c.customer) ?? none] as number[];
		const to = indexOf(c);
		row[to] = (row[to] as number) + 1;
	}
	for (const [customer, from] of before) {
		if (seen.has(customer)) continue;
		const row = counts[from] as number[];
		row[none] = (row[none] as number) + 1;
	}
	return { labels, counts };
}
