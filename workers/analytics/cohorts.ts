/**
 * Cohort analysis, pure (no bindings): retention and revenue by first-purchase cohort, the same per
 * acquisition channel, and category adoption after the first purchase (docs/architecture.md, "Análisis
 * de Cohortes"). The nightly job reads orders from D1 and feeds them in.
 *
 * Orders come in already cleaned by the caller: cancelled orders left out and revenue net of tax and
 * refunds, integer minor units (a fully refunded order is still a purchase, with revenue 0).
 *
 * Periods are local months or ISO weeks (Monday) in the site's IANA time zone, computed with
 * metrics/calendar.ts: an order at 2026-01-31T23:30Z is in February for Europe/Madrid. A cohort is
 * named by calendar.ts's bucketLabel (`2026-02`, `2026-W10`) and also carries its first local day.
 */
import { addDays, addMonths, bucketLabel, bucketStart, dayStart, isDay, isTimeZone, localDay } from "../metrics/calendar";

export type CohortGrain = "month" | "week";

export interface CohortOrder {
	customer: string;
	/** UTC epoch ms. */
	placedAt: number;
	/** Net revenue of the order (total − tax − refunds), integer minor units; may be ≤ 0. */
	revenueMinor: number;
	/** The customer's acquisition channel; only the first order's is read (see channelCohorts). */
	channel?: string;
	/** Categories of the order's lines (duplicates are ignored). */
	categories?: readonly string[];
}

export interface CohortOptions {
	grain: CohortGrain;
	/** The site's IANA time zone, e.g. `Europe/Madrid`. */
	timeZone: string;
	/**
	 * Local days `YYYY-MM-DD`, inclusive, bounding the cohorts by first-purchase period: a cohort is
	 * kept when its period is (or is between) the periods containing `from` and `to`. Whole periods
	 * only, so every kept cohort is complete. Absent: unbounded.
	 */
	from?: string;
	to?: string;
	/**
	 * Exclusive end of the observation, UTC epoch ms: orders at or after it are ignored (as if not yet
	 * placed), and periods after the one holding its last instant are not reported.
	 */
	asOf: number;
}

export interface CohortPeriod {
	/** Whole periods since the cohort's period (0 = the first-purchase period). */
	k: number;
	/** Distinct cohort customers who bought in period k. */
	customers: number;
	/** customers ÷ cohort size, a fraction 0–1 (1 at k = 0 by definition). */
	pct: number;
	/** Net revenue of the cohort's orders in period k, integer minor units. */
	revenueMinor: number;
	/** Cohort revenue in periods 0…k ÷ cohort size, rounded to the minor unit. */
	cumulativeRevenuePerCustomerMinor: number;
	/** True for the period holding asOf when asOf falls before its end: observed only in part. */
	partial: boolean;
}

export interface Cohort {
	/** bucketLabel of the first-purchase period: `YYYY-MM` (month) or `YYYY-Www` (ISO week). */
	cohort: string;
	/** First local day of that period, `YYYY-MM-DD` (a Monday for weeks). */
	start: string;
	/** Customers whose first order ever (in the input, before asOf) is in this period. */
	size: number;
	/** k = 0 … the period holding asOf, every one present (0 buyers when nobody bought: observed, empty). */
	periods: CohortPeriod[];
}

export interface RetentionCohorts {
	grain: CohortGrain;
	/** Non-empty cohorts, oldest first. */
	cohorts: Cohort[];
}

export interface ChannelPeriod {
	k: number;
	/** Cohorts that observed period k in full (a partial period would understate retention). */
	cohorts: number;
	/** Σ size of those cohorts. */
	customers: number;
	/** Σ buyers in period k over those cohorts. */
	retained: number;
	/** retained ÷ customers: the cohort-size-weighted mean retention, a fraction 0–1. */
	pct: number;
	/** Σ cumulative revenue 0…k ÷ customers over those cohorts, rounded to the minor unit. */
	cumulativeRevenuePerCustomerMinor: number;
}

export interface ChannelCohort {
	/** The acquisition channel; `unknown` when the first order has none (missing or empty). */
	channel: string;
	/** Customers of this channel in the kept cohorts. */
	customers: number;
	/** Weighted retention and revenue by k, over complete periods only; k is absent when no cohort has observed it in full. */
	periods: ChannelPeriod[];
	/** The channel's own cohorts, as retentionCohorts would give for its customers alone. */
	cohorts: Cohort[];
}

export interface ChannelCohorts {
	grain: CohortGrain;
	/** Largest channel first; ties by name. */
	channels: ChannelCohort[];
}

/** The channel of customers whose first order carries none. */
export const UNKNOWN_CHANNEL = "unknown";

/** Consecutive periods from the first order's to asOf's, with their UTC bounds. */
interface Timeline {
	starts: string[];
	/** bounds[i] = UTC ms of the start of period i; bounds[P] = end of the last period. */
	bounds: Float64Array;
	/** The last period ends after asOf. */
	lastPartial: boolean;
}

function nextStart(start: string, grain: CohortGrain): string {
	return grain === "month" ? addMonths(start, 1) : addDays(start, 7);
}

function timeline(firstMs: number, asOf: number, grain: CohortGrain, timeZone: string): Timeline {
	const last = bucketStart(localDay(asOf - 1, timeZone), grain);
	const starts: string[] = [];
	for (let s = bucketStart(localDay(firstMs, timeZone), grain); s <= last; s = nextStart(s, grain)) starts.push(s);
	const bounds = new Float64Array(starts.length + 1);
	starts.forEach((s, i) => (bounds[i] = dayStart(s, timeZone)));
	bounds[starts.length] = dayStart(nextStart(last, grain), timeZone);
	return { starts, bounds, lastPartial: (bounds[starts.length] as number) > asOf };
}

/** Index of the period holding t: the last i with bounds[i] ≤ t (t is within the timeline). */
function periodOf(bounds: Float64Array, t: number): number {
	let lo = 0;
	let hi = bounds.length - 2;
	while (lo < hi) {
		const mid = (lo + hi + 1) >>> 1;
		if ((bounds[mid] as number) <= t) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

/** Orders before asOf mapped to customer and period indices; one entry per customer for the cohort and channel. */
interface Prepared {
	grain: CohortGrain;
	line: Timeline;
	/** Per customer: period index of the first order, and the channel of that order. */
	firstPeriod: Int32Array;
	channel: string[];
	orderCustomer: Int32Array;
	orderPeriod: Int32Array;
	orderRevenue: Float64Array;
	/** Kept cohort periods: firstPeriod in [keepFrom, keepTo]. */
	keepFrom: number;
	keepTo: number;
}

function prepare(orders: readonly CohortOrder[], opts: CohortOptions): Prepared | null {
	const { grain, timeZone, asOf } = opts;
	if (grain !== "month" && grain !== "week") throw new RangeError(`grain must be month or week, got ${String(grain)}`);
	if (!isTimeZone(timeZone)) throw new RangeError(`unknown time zone ${timeZone}`);
	if (!Number.isFinite(asOf)) throw new RangeError(`asOf must be a finite epoch ms, got ${asOf}`);
	for (const d of [opts.from, opts.to]) if (d !== undefined && !isDay(d)) throw new RangeError(`from/to must be YYYY-MM-DD days, got ${d}`);

	const index = new Map<string, number>();
	const firstAt: number[] = [];
	const channel: (string | undefined)[] = [];
	// Orders before asOf, compacted: the customer lookup is the costly step, so it is done once per order.
	const orderCustomer = new Int32Array(orders.length);
	const orderAt = new Float64Array(orders.length);
	const orderRevenue = new Float64Array(orders.length);
	let n = 0;
	let minMs = Infinity;
	for (const o of orders) {
		if (!Number.isFinite(o.placedAt)) throw new RangeError(`order of ${o.customer}: placedAt must be a finite epoch ms, got ${o.placedAt}`);
		if (!Number.isSafeInteger(o.revenueMinor)) throw new RangeError(`order of ${o.customer}: revenueMinor must be an integer, got ${o.revenueMinor}`);
		if (o.placedAt >= asOf) continue;
		const ch = o.channel ? o.channel : undefined;
		let i = index.get(o.customer);
		if (i === undefined) {
			i = firstAt.length;
			index.set(o.customer, i);
			firstAt.push(o.placedAt);
			channel.push(ch);
		} else if (o.placedAt < (firstAt[i] as number)) {
			firstAt[i] = o.placedAt;
			channel[i] = ch;
		} else if (o.placedAt === firstAt[i] && channel[i] === undefined) {
			// Several orders at the first instant: the first of them (input order) that names a channel.
			channel[i] = ch;
		}
		orderCustomer[n] = i;
		orderAt[n] = o.placedAt;
		orderRevenue[n] = o.revenueMinor;
		n++;
		if (o.placedAt < minMs) minMs = o.placedAt;
	}
	if (n === 0) return null;

	const line = timeline(minMs, asOf, grain, timeZone);
	const firstPeriod = Int32Array.from(firstAt, (t) => periodOf(line.bounds, t));
	const orderPeriod = new Int32Array(n);
	for (let x = 0; x < n; x++) orderPeriod[x] = periodOf(line.bounds, orderAt[x] as number);
	// A bound outside the timeline keeps nothing on that side (or everything on the other).
	const P = line.starts.length;
	const bound = (day: string | undefined, upper: boolean) => {
		if (day === undefined) return upper ? P - 1 : 0;
		const start = bucketStart(day, grain);
		const i = line.starts.indexOf(start);
		if (i >= 0) return i;
		if (start < (line.starts[0] as string)) return upper ? -1 : 0;
		return upper ? P - 1 : P;
	};
	return {
		grain,
		line,
		firstPeriod,
		channel: channel.map((c) => c ?? UNKNOWN_CHANNEL),
		orderCustomer: orderCustomer.subarray(0, n),
		orderPeriod,
		orderRevenue: orderRevenue.subarray(0, n),
		keepFrom: bound(opts.from, false),
		keepTo: bound(opts.to, true),
	};
}

interface CohortCounts {
	group: number;
	period: number;
	size: number;
	buyers: Float64Array;
	revenue: Float64Array;
}

/** Cohorts per group (group[customer] in 0…groups−1), oldest first within each group. */
function buildCohorts(p: Prepared, group: Int32Array, groups: number): Cohort[][] {
	const P = p.line.starts.length;
	const cells = new Map<number, CohortCounts>();
	// The cohort cell of each customer; undefined outside from/to.
	const cellOf: (CohortCounts | undefined)[] = Array.from(p.firstPeriod, (period, c) => {
		if (period < p.keepFrom || period > p.keepTo) return undefined;
		const g = group[c] as number;
		const key = g * P + period;
		let cell = cells.get(key);
		if (!cell) {
			const len = P - period;
			cell = { group: g, period, size: 0, buyers: new Float64Array(len), revenue: new Float64Array(len) };
			cells.set(key, cell);
		}
		cell.size++;
		return cell;
	});
	// Distinct (customer, period) pairs by sorting their keys: several orders in one period are one buyer.
	const n = p.orderCustomer.length;
	const keys = new Float64Array(n);
	for (let x = 0; x < n; x++) {
		const c = p.orderCustomer[x] as number;
		const cell = cellOf[c];
		keys[x] = c * P + (p.orderPeriod[x] as number);
		if (cell) {
			const k = (p.orderPeriod[x] as number) - cell.period;
			cell.revenue[k] = (cell.revenue[k] as number) + (p.orderRevenue[x] as number);
		}
	}
	keys.sort();
	for (let x = 0; x < n; x++) {
		const key = keys[x] as number;
		if (x > 0 && keys[x - 1] === key) continue;
		const c = Math.floor(key / P);
		const cell = cellOf[c];
		if (!cell) continue;
		const k = key - c * P - cell.period;
		cell.buyers[k] = (cell.buyers[k] as number) + 1;
	}

	const out: Cohort[][] = Array.from({ length: groups }, () => []);
	const sorted = [...cells.values()].sort((a, b) => a.group - b.group || a.period - b.period);
	for (const cell of sorted) {
		let cumulative = 0;
		const periods = Array.from(cell.revenue, (rev, k): CohortPeriod => {
			cumulative += rev;
			const buyers = cell.buyers[k] as number;
			return {
				k,
				customers: buyers,
				pct: buyers / cell.size,
				revenueMinor: rev,
				cumulativeRevenuePerCustomerMinor: Math.round(cumulative / cell.size),
				partial: p.line.lastPartial && cell.period + k === P - 1,
			};
		});
		const start = p.line.starts[cell.period] as string;
		(out[cell.group] as Cohort[]).push({ cohort: bucketLabel(start, p.grain), start, size: cell.size, periods });
	}
	return out;
}

/**
 * Retention and revenue cohorts in one: per first-purchase period (site-local month or ISO week),
 * distinct buyers, retention (fraction of the cohort) and net revenue (minor units) in each later period
 * k, with the cumulative revenue per cohort customer. The revenue cohorts of the architecture document
 * are the revenueMinor / cumulativeRevenuePerCustomerMinor columns of this result.
 */
export function retentionCohorts(orders: readonly CohortOrder[], opts: CohortOptions): RetentionCohorts {
	const p = prepare(orders, opts);
	if (!p) return { grain: opts.grain, cohorts: [] };
	return { grain: opts.grain, cohorts: buildCohorts(p, new Int32Array(p.firstPeriod.length), 1)[0] as Cohort[] };
}

/**
 * The cohorts per acquisition channel (the channel of the customer's first order; `unknown` when it
 * has none), with the cohort-size-weighted retention and cumulative revenue per customer (minor units)
 * by period k. The weighted figures use only periods a cohort has observed in full, since the partial
 * period holding asOf would pull retention down.
 */
export function channelCohorts(orders: readonly CohortOrder[], opts: CohortOptions): ChannelCohorts {
	const p = prepare(orders, opts);
	if (!p) return { grain: opts.grain, channels: [] };
	const names = [...new Set(p.channel)];
	const groupOf = new Map(names.map((c, i) => [c, i]));
	const group = Int32Array.from(p.channel, (c) => groupOf.get(c) as number);
	const perGroup = buildCohorts(p, group, names.length);

	const channels: ChannelCohort[] = [];
	names.forEach((channel, g) => {
		const cohorts = perGroup[g] as Cohort[];
		if (cohorts.length === 0) return;
		const byK: { cohorts: number; customers: number; retained: number; revenue: number }[] = [];
		for (const c of cohorts) {
			let cumulative = 0;
			for (const period of c.periods) {
				cumulative += period.revenueMinor;
				if (period.partial) continue;
				const acc = (byK[period.k] ??= { cohorts: 0, customers: 0, retained: 0, revenue: 0 });
				acc.cohorts++;
				acc.customers += c.size;
				acc.retained += period.customers;
				acc.revenue += cumulative;
			}
		}
		const periods: ChannelPeriod[] = [];
		byK.forEach((acc, k) => {
			periods.push({
				k,
				cohorts: acc.cohorts,
				customers: acc.customers,
				retained: acc.retained,
				pct: acc.retained / acc.customers,
				cumulativeRevenuePerCustomerMinor: Math.round(acc.revenue / acc.customers),
			});
		});
		channels.push({ channel, customers: cohorts.reduce((s, c) => s + c.size, 0), periods, cohorts });
	});
	channels.sort((a, b) => b.customers - a.customers || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
	return { grain: opts.grain, channels };
}

export interface Adoption {
	category: string;
	/** Customers of the row who bought this category in a later order. */
	customers: number;
	/** customers ÷ the row's customers, a fraction 0–1; null when the row has no customers. */
	share: number | null;
}

export interface AdoptionRow {
	/** A category of the first purchase. */
	category: string;
	/** Customers whose first purchase included it. */
	customers: number;
	/** Every other category, in `categories` order. */
	adopted: Adoption[];
}

export interface ProductAdoption {
	/** All categories seen in any order, sorted (UTF-16 code units). */
	categories: string[];
	/** One row per category, in `categories` order. */
	rows: AdoptionRow[];
}

/**
 * Category adoption: for each category A bought in a customer's first purchase, how many of those
 * customers bought each other category B in a later order, and the share.
 * - The first purchase is every order at the customer's earliest placedAt (two orders at the same
 *   instant are one checkout split in two), so the result does not depend on input order; every other
 *   order is a later one.
 * - A first purchase with several categories counts the customer in each of their rows, so rows can
 *   overlap and their customers sum to more than the number of customers.
 * - B counts when it appears in any later order, even if B was also in the first purchase; A → A is
 *   not reported (that is repurchase, not adoption).
 * - A first purchase without categories puts the customer in no row.
 */
export function productAdoption(orders: readonly CohortOrder[]): ProductAdoption {
	const firstAt = new Map<string, number>();
	for (const o of orders) {
		if (!Number.isFinite(o.placedAt)) throw new RangeError(`order of ${o.customer}: placedAt must be a finite epoch ms, got ${o.placedAt}`);
		const t = firstAt.get(o.customer);
		if (t === undefined || o.placedAt < t) firstAt.set(o.customer, o.placedAt);
	}
	const first = new Map<string, Set<string>>();
	const later = new Map<string, Set<string>>();
	const all = new Set<string>();
	for (const o of orders) {
		if (!o.categories?.length) continue;
		const side = o.placedAt === firstAt.get(o.customer) ? first : later;
		let set = side.get(o.customer);
		if (!set) side.set(o.customer, (set = new Set()));
		for (const c of o.categories) {
			set.add(c);
			all.add(c);
		}
	}
	const categories = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
	const at = new Map(categories.map((c, i) => [c, i]));
	const rowCustomers = new Array<number>(categories.length).fill(0);
	const counts = categories.map(() => new Array<number>(categories.length).fill(0));
	for (const [customer, firstCats] of first) {
		const laterCats = [...(later.get(customer) ?? [])].map((c) => at.get(c) as number);
		for (const a of firstCats) {
			const i = at.get(a) as number;
			rowCustomers[i] = (rowCustomers[i] as number) + 1;
			const row = counts[i] as number[];
			for (const j of laterCats) if (j !== i) row[j] = (row[j] as number) + 1;
		}
	}
	return {
		categories,
		rows: categories.map((category, i) => {
			const n = rowCustomers[i] as number;
			const row = counts[i] as number[];
			return {
				category,
				customers: n,
				adopted: categories.flatMap((b, j) => (j === i ? [] : [{ category: b, customers: row[j] as number, share: n === 0 ? null : (row[j] as number) / n }])),
			};
		}),
	};
}
