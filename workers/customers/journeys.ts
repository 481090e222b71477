/**
 * Journeys, pure: top entry pages and top conversion paths of the sessions that start in a range.
 * Events are fed in time order across all visitors (the order D1 reads them through the (site, ts)
 * index), so sessions are cut on the fly and only each visitor's open session is kept in memory.
 *
 * A session is a visitor's run of events with no gap over 30 minutes, as in the `sessions` view and
 * the KPI rollups. Its entry page is the path of its first page_view. Its conversion path is the
 * sequence of page_view paths before its first purchase, consecutive repeats collapsed (A A B → A B),
 * the last 3 at most, joined with " → ".
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
	/** Whether the session counts (it starts in the range). */
	counted: boolean;
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

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The top `limit` keys by count (most first, then key), as [key, count]. */
function top(counts: Map<string, number>, limit: number): [string, number][] {
	return [...counts].sort((a, b) => b[1] - a[1] || byText(a[0], b[0])).slice(0, limit);
}

/**
 * A counter for the sessions starting in [from, to) (UTC epoch ms). `add` takes every event of the
 * read window in time order (equal times in a stable order), including events before `from` so that a
 * session already running at `from` is recognised as not starting in the range.
 */
export function journeyCounter(from: number, to: number) {
	const open = new Map<string, OpenSession>();
	const entries = new Map<string, number>();
	const paths = new Map<string, { pages: string[]; sessions: number }>();
	let sessions = 0;
	let withPage = 0;
	let converting = 0;
	let seen = 0;

	/** Drops sessions that can no longer continue (idle past the gap at `now`): memory stays bounded by the active visitors. */
	const prune = (now: number) => {
		for (const [visitor, s] of open) if (now - s.last > SESSION_GAP_MS) open.delete(visitor);
	};

	return {
		add(visitor: string, ts: number, kind: EventKind, path: string | null): void {
			if (++seen % 10_000 === 0) prune(ts);
			let s = open.get(visitor);
			if (!s || ts - s.last > SESSION_GAP_MS) {
				s = { start: ts, last: ts, counted: ts >= from && ts < to, hasPage: false, purchased: false, pages: [] };
				open.set(visitor, s);
				if (s.counted) sessions++;
			}
			s.last = ts;
			if (!s.counted || s.purchased) return;
			if (kind === PAGE_VIEW && path !== null) {
				if (!s.hasPage) {
					s.hasPage = true;
					withPage++;
					entries.set(path, (entries.get(path) ?? 0) + 1);
				}
				if (s.pages.at(-1) !== path) {
					s.pages.push(path);
					if (s.pages.length > PATH_PAGES) s.pages.shift();
				}
			} else if (kind === PURCHASE) {
				s.purchased = true;
				converting++;
				// Keyed by the JSON list, so a path that contains the separator cannot merge with another.
				const key = JSON.stringify(s.pages);
				const p = paths.get(key);
				if (p) p.sessions++;
				else paths.set(key, { pages: s.pages, sessions: 1 });
			}
		},

		/** The totals and the top `limit` entry pages and conversion paths. */
		report(limit: number): JourneyReport {
			return {
				sessions,
				sessionsWithPageView: withPage,
				convertingSessions: converting,
				entryPages: top(entries, limit).map(([path, n]) => ({ path, sessions: n, sharePct: pct(n, withPage) })),
				conversionPaths: [...paths.values()]
					.map(({ pages, sessions: n }) => ({ path: pages.length ? pages.join(PATH_SEPARATOR) : NO_PAGE_VIEW, pages, sessions: n, sharePct: pct(n, converting) }))
					.sort((a, b) => b.sessions - a.sessions || byText(a.path, b.path) || byText(JSON.stringify(a.pages), JSON.stringify(b.pages)))
					.slice(0, limit),
			};
		},
	};
}
