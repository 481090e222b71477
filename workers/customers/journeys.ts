/**
 * Journeys, pure: top entry pages and top conversion paths of the sessions that start in a range.
 * Events are fed in time order across all visitors (the order D1 reads them through the (site, ts)
 * index), so sessions are cut on the fly and only each visitor's open session is kept in memory.
 *
 * A session is a visitor's run of events with no gap over 30 minutes, as in the `sessions` view and
 * the KPI rollups. Its entry page is the path of its first page_view. Its conversion path is the
 * sequence of page_view paths before its first purchase, consecutive repeats collapsed (A A B → A B),
 * the last 3 at most, joined with " → ". The routes and the daily rollup (journey-rollup.ts) read a
 * session's events up to 6 h after the end of the local day it starts on (`cutoff`), so that per-day
 * counts sum exactly over any range.
 */
import { pct } from "./overview";

/** Sessions end after this much idle time (ms), as in the `sessions` view. */
export const SESSION_GAP_MS = 1_800_000;
/** Pages kept at the end of a conversion path. */
export const PATH_PAGES = 3;
export const PATH_SEPARATOR = " → ";
/** The conversion path of a purchase with no page view before it in its session. */
export const NO_PAGE_VIEW = "(no page view)";

/** Event kinds as the reader selects them: anything else, a page view, a purchase. */
export const OTHER = 0;
export const PAGE_VIEW = 1;
export const PURCHASE = 2;
export type EventKind = typeof OTHER | typeof PAGE_VIEW | typeof PURCHASE;

interface OpenSession {
	start: number;
	last: number;
	/** Where the session counts (it starts in the range, or on a day being rolled up); null: not counted. */
	bucket: JourneyCounts | null;
	/** Events at or after this instant no longer change a counted session (see `sessionCounter`'s cutoff). */
	until: number;
	hasPage: boolean;
	purchased: boolean;
	/** Page paths so far, consecutive repeats collapsed, the last PATH_PAGES only. */
	pages: string[];
}

export interface JourneyReport {
	/** Sessions that start in the range. */
	sessions: number;
	/** Of them, those with a page view (the base of entry-page shares). */
	sessionsWithPageView: number;
	/** Of them, those with a purchase (the base of conversion-path shares). */
	convertingSessions: number;
	entryPages: { path: string; sessions: number; sharePct: number | null }[];
	conversionPaths: { path: string; pages: string[]; sessions: number; sharePct: number | null }[];
}

/** The counts of one bucket of sessions (a range, or one local day of the rollup). */
export interface JourneyCounts {
	sessions: number;
	withPage: number;
	converting: number;
	/** Sessions per entry page path. */
	entries: Map<string, number>;
	/** Converting sessions per conversion path, keyed by the JSON list of its pages. */
	paths: Map<string, number>;
}

const newCounts = (): JourneyCounts => ({ sessions: 0, withPage: 0, converting: 0, entries: new Map(), paths: new Map() });

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The top `limit` keys by count (most first, then key), as [key, count]. */
function top(counts: Iterable<[string, number]>, limit: number): [string, number][] {
	return [...counts].sort((a, b) => b[1] - a[1] || byText(a[0], b[0])).slice(0, limit);
}

/**
 * The report of (summed) counts: totals, the top `limit` entry pages and conversion paths (most sessions
 * first; ties by path, then by the pages' JSON). `entries` and `paths` may hold only the candidates for the
 * top — every key whose count reaches the `limit`-th largest — as the rollup reads them; the order of the
 * final cut is this function's in both paths, so ties break the same way.
 */
export function journeyReport(
	c: { sessions: number; withPage: number; converting: number; entries: Iterable<[string, number]>; paths: Iterable<[string, number]> },
	limit: number,
): JourneyReport {
	return {
		sessions: c.sessions,
		sessionsWithPageView: c.withPage,
		convertingSessions: c.converting,
		entryPages: top(c.entries, limit).map(([path, n]) => ({ path, sessions: n, sharePct: pct(n, c.withPage) })),
		conversionPaths: [...c.paths]
			.map(([key, n]) => {
				const pages = JSON.parse(key) as string[];
				return { path: pages.length ? pages.join(PATH_SEPARATOR) : NO_PAGE_VIEW, pages, sessions: n, sharePct: pct(n, c.converting) };
			})
			.sort((a, b) => b.sessions - a.sessions || byText(a.path, b.path) || byText(JSON.stringify(a.pages), JSON.stringify(b.pages)))
			.slice(0, limit),
	};
}

/**
 * A session counter. `add` takes every event of the read window in time order (equal times in a stable
 * order), including events before the first counted instant so that a session already running then is
 * recognised as not starting in it. `countsOf(start)` says where a session starting at `start` counts
 * (null: nowhere); `cutoff(start)`, when given, is the instant from which the session's events are no
 * longer read (the journey rollup and its exact path: 6 h after the end of the local day it starts on,
 * so that a day's counts never depend on later days).
 */
export function sessionCounter(countsOf: (start: number) => JourneyCounts | null, cutoff?: (start: number) => number) {
	const open = new Map<string, OpenSession>();
	let seen = 0;

	/** Drops sessions that can no longer continue (idle past the gap at `now`): memory stays bounded by the active visitors. */
	const prune = (now: number) => {
		for (const [visitor, s] of open) if (now - s.last > SESSION_GAP_MS) open.delete(visitor);
	};

	return (visitor: string, ts: number, kind: EventKind, path: string | null): void => {
		if (++seen % 10_000 === 0) prune(ts);
		let s = open.get(visitor);
		if (!s || ts - s.last > SESSION_GAP_MS) {
			const bucket = countsOf(ts);
			s = { start: ts, last: ts, bucket, until: bucket && cutoff ? cutoff(ts) : Infinity, hasPage: false, purchased: false, pages: [] };
			open.set(visitor, s);
			if (bucket) bucket.sessions++;
		}
		s.last = ts;
		const b = s.bucket;
		if (!b || s.purchased || ts >= s.until) return;
		if (kind === PAGE_VIEW && path !== null) {
			if (!s.hasPage) {
				s.hasPage = true;
				b.withPage++;
				b.entries.set(path, (b.entries.get(path) ?? 0) + 1);
			}
			if (s.pages.at(-1) !== path) {
				s.pages.push(path);
				if (s.pages.length > PATH_PAGES) s.pages.shift();
			}
		} else if (kind === PURCHASE) {
			s.purchased = true;
			b.converting++;
			// Keyed by the JSON list, so a path that contains the separator cannot merge with another.
			const key = JSON.stringify(s.pages);
			b.paths.set(key, (b.paths.get(key) ?? 0) + 1);
		}
	};
}

/**
 * A counter for the sessions starting in [from, to) (UTC epoch ms); see `sessionCounter`. Without
 * `cutoff`, a session's events are read to the end of the read window.
 */
export function journeyCounter(from: number, to: number, cutoff?: (start: number) => number) {
	const counts = newCounts();
	const add = sessionCounter((ts) => (ts >= from && ts < to ? counts : null), cutoff);
	return {
		add,
		/** The totals and the top `limit` entry pages and conversion paths. */
		report: (limit: number): JourneyReport => journeyReport(counts, limit),
	};
}

/**
 * Per-day counts for consecutive local days (`bounds`: each day's [start, end) in UTC epoch ms, ascending
 * and contiguous): a session counts on the day it starts on.
 */
export function journeyDayCounter(bounds: readonly (readonly [number, number])[], cutoff?: (start: number) => number) {
	const days = bounds.map(() => newCounts());
	const first = bounds[0]?.[0] ?? 0;
	const last = bounds.at(-1)?.[1] ?? 0;
	const dayIndex = (ts: number) => {
		let lo = 0;
		let hi = bounds.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if ((bounds[mid] as readonly [number, number])[0] <= ts) lo = mid;
			else hi = mid - 1;
		}
		return lo;
	};
	const add = sessionCounter((ts) => (ts >= first && ts < last ? (days[dayIndex(ts)] as JourneyCounts) : null), cutoff);
	return { add, days };
}
