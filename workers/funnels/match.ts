/**
 * Funnel matching, pure (no bindings): which steps of an ordered funnel one person reached, and the
 * per-step summary of many people. Used by the historical report (report.ts, over D1 rows) and by the
 * live counters; both feed arrays in and read numbers out.
 *
 * Rules (docs/architecture.md, "Funnels"):
 * - A person's events are taken in time order; events at the same millisecond are taken in funnel
 *   order (a step may happen at the same instant as the step before it), then in input order.
 * - An attempt starts at a step-1 event and reaches step k+1 with the first step-(k+1) event after
 *   (or at the same instant as) the event that reached step k, as long as it is at most
 *   `windowSeconds` after the start (inclusive). An event reaches at most one step of an attempt, so a
 *   repeated step counts once; events of other names are ignored.
 * - Of all starts, the attempt reaching the deepest step wins; a tie goes to the earliest start.
 */

export interface FunnelStep {
	/** Event name, e.g. `add_to_cart`. */
	event: string;
	/** Display name; the event name when absent. */
	label?: string;
}

export interface FunnelDef {
	/** Slug, unique per site. */
	id: string;
	name: string;
	/** 2–10 steps, in order. */
	steps: FunnelStep[];
	/** How long after the step-1 event the later steps may happen, in seconds. */
	windowSeconds: number;
}

/** The funnel every site has until it saves its own set: view → cart → checkout → purchase within 24 h. */
export const DEFAULT_FUNNEL: FunnelDef = {
	id: "checkout",
	name: "Checkout",
	steps: [
		{ event: "product_view", label: "Product view" },
		{ event: "add_to_cart", label: "Add to cart" },
		{ event: "begin_checkout", label: "Begin checkout" },
		{ event: "purchase", label: "Purchase" },
	],
	windowSeconds: 86_400,
};

export interface FunnelEvent {
	name: string;
	/** UTC epoch ms. */
	ts: number;
}

export interface Attempt {
	/** Steps reached, 0 (never started) … steps.length (converted). */
	depth: number;
	/** UTC epoch ms at which each reached step was reached; `times.length === depth`. */
	times: number[];
	/** Index in the caller's `events` of the step-1 event that started the attempt; −1 when depth is 0. */
	start: number;
}

/** Which step-1 events may start an attempt: `from <= ts < to` (UTC epoch ms). */
export interface StartRange {
	from: number;
	to: number;
}

/**
 * One person's best attempt at `def` from their events (any order, any names): the deepest step
 * reached by any start within `starts` (default: any), the earliest such start on a tie.
 * Cost: O(events · log events + events · steps).
 */
export function bestAttempt(def: FunnelDef, events: readonly FunnelEvent[], starts?: StartRange): Attempt {
	const n = def.steps.length;
	const windowMs = def.windowSeconds * 1000;
	// The first step each event name appears at orders same-instant events in funnel order.
	const stepRank = new Map<string, number>();
	def.steps.forEach((s, i) => {
		if (!stepRank.has(s.event)) stepRank.set(s.event, i);
	});
	const at = (i: number) => events[i] as FunnelEvent;
	const rank = (i: number) => stepRank.get(at(i).name) as number;
	// Positions in time order of the events that are steps (other names play no part).
	const order: number[] = [];
	for (let i = 0; i < events.length; i++) if (stepRank.has(at(i).name)) order.push(i);
	order.sort((a, b) => at(a).ts - at(b).ts || rank(a) - rank(b) || a - b);
	const ev = (p: number) => at(order[p] as number);
	const m = order.length;

	// next.get(name)[p]: the first position ≥ p (in time order) of an event called `name`; m when none.
	const next = new Map<string, Int32Array>();
	for (const name of stepRank.keys()) {
		const arr = new Int32Array(m + 1).fill(m);
		for (let p = m - 1; p >= 0; p--) arr[p] = ev(p).name === name ? p : (arr[p + 1] as number);
		next.set(name, arr);
	}

	let best: Attempt = { depth: 0, times: [], start: -1 };
	const first = next.get((def.steps[0] as FunnelStep).event) as Int32Array;
	for (let p = first[0] as number; p < m; p = first[p + 1] as number) {
		const t0 = ev(p).ts;
		if (starts && t0 >= starts.to) break;
		if (starts && t0 < starts.from) continue;
		const times = [t0];
		let pos = p;
		for (let k = 1; k < n; k++) {
			const q = (next.get((def.steps[k] as FunnelStep).event) as Int32Array)[pos + 1] as number;
			if (q >= m || ev(q).ts - t0 > windowMs) break;
			times.push(ev(q).ts);
			pos = q;
		}
		if (times.length > best.depth) best = { depth: times.length, times, start: order[p] as number };
		if (best.depth === n) break;
	}
	return best;
}

/** An attempt with the breakdown key it belongs to (e.g. the channel of its step-1 event). */
export interface GroupedAttempt {
	depth: number;
	times: readonly number[];
	group?: string;
}

export interface StepSummary {
	event: string;
	label: string;
	/** People who reached this step. */
	users: number;
	/** % of the previous step's people who reached this one; null for step 1 or when nobody reached the previous step. */
	conversion_pct: number | null;
	/** % of step 1's people who reached this one; null when nobody started. */
	conversion_from_start_pct: number | null;
	/** People who reached the previous step but not this one (0 for step 1). */
	drop_off: number;
	/** drop_off as % of the previous step's people; null for step 1 or when nobody reached the previous step. */
	drop_off_pct: number | null;
	/** Median seconds from the previous step to this one over the people who reached it; null for step 1 or nobody. */
	median_seconds_from_previous: number | null;
}

export interface FunnelSummary {
	/** People who started (reached step 1). */
	users: number;
	/** % of starters who reached the last step; null when nobody started. */
	conversion_pct: number | null;
	steps: StepSummary[];
}

/** Exact median; the mean of the two middle values for an even count; null for none. */
export function median(values: readonly number[]): number | null {
	if (!values.length) return null;
	const s = [...values].sort((a, b) => a - b);
	const mid = s.length >> 1;
	return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** part ÷ whole as a percentage with 4 decimals (as KPI percentages); null when whole is 0. */
export function percent(part: number, whole: number): number | null {
	return whole === 0 ? null : Math.round((1_000_000 * part) / whole) / 10_000;
}

function summarizeOne(def: FunnelDef, attempts: readonly GroupedAttempt[]): FunnelSummary {
	const n = def.steps.length;
	const users = new Array<number>(n).fill(0);
	const gaps: number[][] = Array.from({ length: n }, () => []);
	for (const a of attempts) {
		for (let k = 0; k < Math.min(a.depth, n); k++) {
			users[k] = (users[k] as number) + 1;
			if (k > 0) (gaps[k] as number[]).push(((a.times[k] as number) - (a.times[k - 1] as number)) / 1000);
		}
	}
	return summaryFromCounts(
		def,
		users,
		gaps.map((g, k) => (k === 0 ? null : median(g))),
	);
}

/**
 * The summary from people per step (`users[k]`: reached step k+1) and the median seconds from the
 * previous step per step (null for step 1): shared by the exact path and the rollups, so both format
 * the same numbers the same way.
 */
export function summaryFromCounts(def: FunnelDef, users: readonly number[], medians: readonly (number | null)[]): FunnelSummary {
	const n = def.steps.length;
	const start = users[0] ?? 0;
	const steps = def.steps.map((s, k): StepSummary => {
		const here = users[k] ?? 0;
		const prev = k === 0 ? here : (users[k - 1] ?? 0);
		return {
			event: s.event,
			label: s.label ?? s.event,
			users: here,
			conversion_pct: k === 0 ? null : percent(here, prev),
			conversion_from_start_pct: percent(here, start),
			drop_off: prev - here,
			drop_off_pct: k === 0 ? null : percent(prev - here, prev),
			median_seconds_from_previous: k === 0 ? null : (medians[k] ?? null),
		};
	});
	return { users: start, conversion_pct: percent(users[n - 1] ?? 0, start), steps };
}

/** Breakdown groups sorted as the report lists them: most people first, ties by key. */
export function sortGroups<T extends { key: string; users: number }>(groups: T[]): T[] {
	return groups.sort((a, b) => b.users - a.users || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Per-step people, conversion, drop-off and median time between steps over many people's attempts
 * (one per person; depth-0 attempts count nowhere). `groups` holds the same per `group` key, largest
 * first (ties by key); it is empty when no attempt has a group.
 */
export function summarize(def: FunnelDef, attempts: readonly GroupedAttempt[]): FunnelSummary & { groups: (FunnelSummary & { key: string })[] } {
	const byGroup = new Map<string, GroupedAttempt[]>();
	for (const a of attempts) {
		if (a.group === undefined || a.depth === 0) continue;
		let list = byGroup.get(a.group);
		if (!list) byGroup.set(a.group, (list = []));
		list.push(a);
	}
	const groups = sortGroups([...byGroup].map(([key, list]) => ({ key, ...summarizeOne(def, list) })));
	return { ...summarizeOne(def, attempts), groups };
}
