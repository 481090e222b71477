/**
 * Daily journey rollups: `GET /api/v1/journeys` from per-day rows instead of every event of the range, with
 * the exact path's numbers (migrations/0024_journey_rollups.sql explains the tables).
 *
 * Why per-day sums are exact: a journeys report counts sessions by the local day they start on, and an entry
 * page or a conversion path is a property of one session. A session's start is decided by the 30 minutes
 * before it, and its content is read up to 6 h after the end of its start day (the cutoff; the KPI web rollup
 * cuts sessions the same way), so a day's counts depend only on the events of [day start − 6 h, day end + 6 h)
 * and the range's counts are the sums of its days'. The exact path (`readJourneysExact`) applies the same
 * cutoff, so both paths answer the same numbers; the top lists are cut from the summed rows (every key tied with
 * the `limit`-th is read, and `journeyReport` makes the final cut and its tie order in both paths).
 *
 * Freshness: a day is usable when it is in `journey_days` (rolled in the site's current time zone) and no changed
 * event hour reaches it (an event at t matters to the days overlapping [t − 6 h, t + 6 h]). Changed hours come from
 * the KPI re-roller (it copies each web hour it clears into `journey_dirty`), the web hours it has not cleared yet
 * (`rollup_dirty`) and the GDPR erasure. Stale days at the end of the range (today) are computed from events and
 * merged in the same SQL; other stale ranges use the exact path while `rollJourneys` catches up (cron, and after
 * such a request).
 */
import { jsonChunks } from "../lib/json-rows";
import { hoursWithin } from "../funnels/rollup";
import { addDays, dayBounds, daysBetween, localDay } from "../metrics/calendar";
import { journeyCounter, journeyDayCounter, journeyReport, type EventKind, type JourneyCounts, type JourneyReport } from "./journeys";
import { JOURNEY_MARGIN_MS, JOURNEY_PAGE_ROWS, JOURNEY_SQL } from "./read";

const HOUR = 3_600_000;
/** Rollups cover at most this many local days back from today (the longest range, as KPIs and funnels). */
export const JOURNEY_ROLLUP_MAX_DAYS = 5 * 366;
/** Consecutive days rolled per D1 batch (one transaction). */
const RUN_DAYS = 14;
/** Stale days at the end of a range computed from events and merged with the rollup (more: exact path). */
export const JOURNEY_LIVE_TAIL_DAYS = 3;
/** Changed hours read per freshness check or roll; more than this and every day counts as stale. */
const DIRTY_LIMIT = 20_000;

export interface SiteTz {
	id: string;
	timezone: string;
}

/** Every local day from `from` to `to`, inclusive. */
function daysFrom(from: string, to: string): string[] {
	const out: string[] = [];
	for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
	return out;
}

/** The cutoff of a session starting at `start` inside the consecutive days `bounds`: 6 h after the end of its day. */
function cutoffIn(bounds: readonly (readonly [number, number])[]): (start: number) => number {
	return (start) => {
		let lo = 0;
		let hi = bounds.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if ((bounds[mid] as readonly [number, number])[0] <= start) lo = mid;
			else hi = mid - 1;
		}
		return (bounds[lo] as readonly [number, number])[1] + JOURNEY_MARGIN_MS;
	};
}

/** Feeds every event of [from, to) in (ts, id) order to `add`, in keyset pages (as read.ts readJourneys). */
async function scanEvents(db: D1Database, site: string, from: number, to: number, add: (visitor: string, ts: number, kind: EventKind, path: string | null) => void, pageRows = JOURNEY_PAGE_ROWS): Promise<void> {
	const stmt = db.prepare(JOURNEY_SQL);
	let after: [number, string] | null = null;
	for (;;) {
		const rows: [number, string, string, EventKind, string | null][] = await stmt
			.bind(site, after ? after[0] : from, to, after?.[0] ?? null, after?.[1] ?? "", pageRows)
			.raw<[number, string, string, EventKind, string | null]>();
		for (const [ts, , visitor, kind, path] of rows) add(visitor, ts, kind, path);
		const last = rows.at(-1);
		if (rows.length < pageRows || !last) break;
		after = [last[0], last[1]];
	}
}

/**
 * The exact path: the journeys of the sessions starting on the local days [from, to], from every event of
 * [from's start − 6 h, to's end + 6 h), each session cut 6 h after the end of its start day.
 */
export async function readJourneysExact(db: D1Database, site: SiteTz, from: string, to: string, limit: number, pageRows?: number): Promise<JourneyReport> {
	const bounds = daysFrom(from, to).map((d) => dayBounds(d, site.timezone));
	const start = (bounds[0] as [number, number])[0];
	const end = (bounds.at(-1) as [number, number])[1];
	const counter = journeyCounter(start, end, cutoffIn(bounds));
	await scanEvents(db, site.id, start - JOURNEY_MARGIN_MS, end + JOURNEY_MARGIN_MS, counter.add, pageRows);
	return counter.report(limit);
}

/** Each local day's counts of `days` (consecutive, ascending), from the events around them. */
export async function journeyDays(db: D1Database, site: SiteTz, days: readonly string[], pageRows?: number): Promise<JourneyCounts[]> {
	if (!days.length) return [];
	const bounds = days.map((d) => dayBounds(d, site.timezone));
	const counter = journeyDayCounter(bounds, cutoffIn(bounds));
	await scanEvents(db, site.id, (bounds[0] as [number, number])[0] - JOURNEY_MARGIN_MS, (bounds.at(-1) as [number, number])[1] + JOURNEY_MARGIN_MS, counter.add, pageRows);
	return counter.days;
}

const DEVICE_DAY_SQL = `INSERT INTO customer_device_days (site, day, customer_id, device, events, last_ts)
	SELECT ?1, ?2, customer_id, device, COUNT(*), MAX(ts) FROM events WHERE site = ?1 AND ts >= ?3 AND ts < ?4 AND customer_id IS NOT NULL GROUP BY customer_id, device`;

/**
 * Recomputes the rollup of `days` (any order): per run of consecutive days, one D1 batch deletes the days'
 * rows and inserts the recomputed ones with their `journey_days` row. A repeat writes the same rows.
 */
export async function rollJourneyDays(db: D1Database, site: SiteTz, days: readonly string[], now = Date.now(), pageRows?: number): Promise<number> {
	const sorted = [...new Set(days)].sort();
	const runs: string[][] = [];
	for (const d of sorted) {
		const run = runs.at(-1);
		if (run && run.length < RUN_DAYS && addDays(run.at(-1) as string, 1) === d) run.push(d);
		else runs.push([d]);
	}
	for (const run of runs) {
		const counts = await journeyDays(db, site, run, pageRows);
		const first = run[0] as string;
		const last = run.at(-1) as string;
		const dayRows = run.map((d, i) => {
			const c = counts[i] as JourneyCounts;
			return [d, c.sessions, c.withPage, c.converting];
		});
		const entryRows = run.flatMap((d, i) => [...(counts[i] as JourneyCounts).entries].map(([path, n]) => [d, path, n]));
		const pathRows = run.flatMap((d, i) => [...(counts[i] as JourneyCounts).paths].map(([pages, n]) => [d, pages, n]));
		const range = (table: string) => db.prepare(`DELETE FROM ${table} WHERE site = ?1 AND day >= ?2 AND day <= ?3`).bind(site.id, first, last);
		await db.batch([
			range("journey_entries"),
			range("journey_paths"),
			range("journey_days"),
			range("customer_device_days"),
			// The customers overview's device tallies of the same days (an event counts on its own local day only).
			...run.map((d) => {
				const [start, end] = dayBounds(d, site.timezone);
				return db.prepare(DEVICE_DAY_SQL).bind(site.id, d, start, end);
			}),
			...jsonChunks(dayRows).map((json) =>
				db
					.prepare("INSERT INTO journey_days (site, day, timezone, sessions, with_page, converting, rolled_at) SELECT ?1, value ->> 0, ?2, value ->> 1, value ->> 2, value ->> 3, ?3 FROM json_each(?4)")
					.bind(site.id, site.timezone, now, json),
			),
			...jsonChunks(entryRows).map((json) => db.prepare("INSERT INTO journey_entries (site, day, path, sessions) SELECT ?1, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2)").bind(site.id, json)),
			...jsonChunks(pathRows).map((json) => db.prepare("INSERT INTO journey_paths (site, day, pages, sessions) SELECT ?1, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2)").bind(site.id, json)),
		]);
	}
	return sorted.length;
}

/** The days among `days` (ascending) a changed hour reaches: hour h reaches the days overlapping [h·1h − 6 h, (h+1)·1h + 6 h). */
export function journeyDaysReached(days: readonly string[], timeZone: string, hours: readonly number[] | null): Set<string> {
	if (hours === null) return new Set(days);
	const out = new Set<string>();
	if (!hours.length) return out;
	const spans: [number, number][] = [];
	for (const h of [...hours].sort((a, b) => a - b)) {
		const s = h * HOUR - JOURNEY_MARGIN_MS;
		const e = (h + 1) * HOUR + JOURNEY_MARGIN_MS;
		const last = spans.at(-1);
		if (last && s <= last[1]) last[1] = Math.max(last[1], e);
		else spans.push([s, e]);
	}
	let i = 0;
	for (const d of days) {
		const [s, e] = dayBounds(d, timeZone);
		while (i < spans.length && (spans[i] as [number, number])[1] <= s) i++;
		if (i < spans.length && (spans[i] as [number, number])[0] < e) out.add(d);
	}
	return out;
}

// ─── the report ─────────────────────────────────────────────────────────────────────────────────

// ?1 site, ?2 first day, ?3 last rolled day, ?4 the site's time zone: totals of the days rolled in that zone.
const TOTALS_SQL = `SELECT COALESCE(SUM(sessions), 0) AS sessions, COALESCE(SUM(with_page), 0) AS with_page, COALESCE(SUM(converting), 0) AS converting
	FROM journey_days WHERE site = ?1 AND day >= ?2 AND day <= ?3 AND timezone = ?4`;
// Changed hours of ?2…?3 (journey_dirty, and web hours the KPI re-roller has not cleared yet).
const DIRTY_SQL = `SELECT hour FROM journey_dirty WHERE site = ?1 AND hour BETWEEN ?2 AND ?3
	UNION SELECT hour FROM rollup_dirty WHERE site = ?1 AND source = 'web' AND hour BETWEEN ?2 AND ?3 ORDER BY 1 LIMIT ?4`;
// The summed counts per key of the rolled days [?2, ?3] plus the live tail's (?4, JSON [[key, n]…]), keeping every key whose
// sum reaches the ?5-th largest (ties at the cut included; journeyReport makes the final cut).
const topSql = (table: string, key: string) => `WITH g AS MATERIALIZED (
		SELECT k, SUM(n) AS n FROM (
			SELECT ${key} AS k, sessions AS n FROM ${table} WHERE site = ?1 AND day >= ?2 AND day <= ?3
			UNION ALL SELECT value ->> 0, value ->> 1 FROM json_each(?4)
		) GROUP BY k
	)
	SELECT k, n FROM g WHERE n >= COALESCE((SELECT n FROM g ORDER BY n DESC LIMIT 1 OFFSET ?5 - 1), 0)`;
export const JOURNEY_ENTRIES_SQL = topSql("journey_entries", "path");
export const JOURNEY_PATHS_SQL = topSql("journey_paths", "pages");

export type JourneySource = "rollup" | "rollup+events" | "events";

// The days rolled in the site's zone (?4), and a row '<first' holding the site's first event (ts), so that days wholly
// before it count as rolled: no event can reach them, their rows would all be zero.
const ROLLED_DAYS_SQL = "SELECT '<first' AS day, (SELECT MIN(ts) FROM events WHERE site = ?1) AS ts UNION ALL SELECT day, NULL FROM journey_days WHERE site = ?1 AND timezone = ?4";

/** The rolled days of a ROLLED_DAYS_SQL result, plus every day that ends 6 h or more before the site's first event (or any day without events). */
function rolledDays(site: SiteTz, res: D1Result | undefined): { has(day: string): boolean } {
	const rows = (res?.results ?? []) as { day: string; ts: number | null }[];
	const first = rows.find((r) => r.day === "<first");
	const have = new Set(rows.filter((r) => r.day !== "<first").map((r) => r.day));
	const firstTs = first ? first.ts : null;
	return { has: (day) => have.has(day) || firstTs === null || dayBounds(day, site.timezone)[1] + JOURNEY_MARGIN_MS <= firstTs };
}

/**
 * The freshness check of the rolled days for [from, to] as two statements for a D1 batch (days rolled in the site's
 * zone, changed hours that can reach the range) and `rolledTo(results)`: the last day of the longest fresh prefix of
 * the range (every day up to it rolled and unreached), or null. The customers overview reads device tallies of those days.
 */
export function rolledPrefixCheck(db: D1Database, site: SiteTz, from: string, to: string) {
	const days = daysFrom(from, to);
	const start = dayBounds(from, site.timezone)[0];
	const end = dayBounds(to, site.timezone)[1];
	return {
		statements: [
			db.prepare(`${ROLLED_DAYS_SQL} AND day >= ?2 AND day <= ?3`).bind(site.id, from, to, site.timezone),
			db.prepare(DIRTY_SQL).bind(site.id, Math.floor((start - JOURNEY_MARGIN_MS) / HOUR) - 1, Math.ceil((end + JOURNEY_MARGIN_MS) / HOUR) + 1, DIRTY_LIMIT + 1),
		],
		rolledTo(rolled: D1Result | undefined, dirty: D1Result | undefined): string | null {
			const have = rolledDays(site, rolled);
			const hourRows = (dirty?.results ?? []) as { hour: number }[];
			const reached = journeyDaysReached(days, site.timezone, hourRows.length > DIRTY_LIMIT ? null : hourRows.map((r) => r.hour));
			let last: string | null = null;
			for (const d of days) {
				if (!have.has(d) || reached.has(d)) break;
				last = d;
			}
			return last;
		},
	};
}

/** The summed counts of the tail days, as the report SQL's JSON parameters. */
function tailJson(tail: readonly JourneyCounts[]) {
	const entries = new Map<string, number>();
	const paths = new Map<string, number>();
	let sessions = 0;
	let withPage = 0;
	let converting = 0;
	for (const c of tail) {
		sessions += c.sessions;
		withPage += c.withPage;
		converting += c.converting;
		for (const [k, n] of c.entries) entries.set(k, (entries.get(k) ?? 0) + n);
		for (const [k, n] of c.paths) paths.set(k, (paths.get(k) ?? 0) + n);
	}
	return { sessions, withPage, converting, entries: JSON.stringify([...entries]), paths: JSON.stringify([...paths]) };
}

/**
 * The journeys of [from, to]: from the rollup when every day is current (one D1 batch), from the rollup plus the
 * events of the last ≤ JOURNEY_LIVE_TAIL_DAYS stale days, else from the events (the exact path). `stale`: the
 * days the caller may have rolled.
 */
export async function journeysReport(db: D1Database, site: SiteTz, from: string, to: string, limit: number): Promise<{ report: JourneyReport; source: JourneySource; stale: string[] }> {
	const days = daysFrom(from, to);
	const start = dayBounds(from, site.timezone)[0];
	const end = dayBounds(to, site.timezone)[1];
	const lo = Math.floor((start - JOURNEY_MARGIN_MS) / HOUR) - 1;
	const hi = Math.ceil((end + JOURNEY_MARGIN_MS) / HOUR) + 1;
	const report = (rolledTo: string, tail: ReturnType<typeof tailJson> | null) => [
		db.prepare(TOTALS_SQL).bind(site.id, from, rolledTo, site.timezone),
		db.prepare(JOURNEY_ENTRIES_SQL).bind(site.id, from, rolledTo, tail?.entries ?? "[]", limit),
		db.prepare(JOURNEY_PATHS_SQL).bind(site.id, from, rolledTo, tail?.paths ?? "[]", limit),
	];
	// Optimistic: the freshness check and the whole range's report in one round trip (the usual case is all current).
	const [dirtyRes, rolledRes, totalsRes, entriesRes, pathsRes] = await db.batch([
		db.prepare(DIRTY_SQL).bind(site.id, lo, hi, DIRTY_LIMIT + 1),
		db.prepare(`${ROLLED_DAYS_SQL} AND day >= ?2 AND day <= ?3`).bind(site.id, from, to, site.timezone),
		...report(to, null),
	]);
	const hourRows = (dirtyRes?.results ?? []) as { hour: number }[];
	const hours = hourRows.length > DIRTY_LIMIT ? null : hourRows.map((r) => r.hour);
	const answer = (t: D1Result | undefined, e: D1Result | undefined, p: D1Result | undefined, extra: ReturnType<typeof tailJson> | null): JourneyReport => {
		const row = (t?.results[0] ?? {}) as Partial<Record<"sessions" | "with_page" | "converting", number>>;
		const pairs = (r: D1Result | undefined) => ((r?.results ?? []) as { k: string; n: number }[]).map((x): [string, number] => [x.k, x.n]);
		return journeyReport(
			{
				sessions: (row.sessions ?? 0) + (extra?.sessions ?? 0),
				withPage: (row.with_page ?? 0) + (extra?.withPage ?? 0),
				converting: (row.converting ?? 0) + (extra?.converting ?? 0),
				entries: pairs(e),
				paths: pairs(p),
			},
			limit,
		);
	};
	const have = rolledDays(site, rolledRes);
	const stale = journeyDaysReached(days, site.timezone, hours);
	for (const d of days) if (!have.has(d)) stale.add(d);
	if (!stale.size) return { report: answer(totalsRes, entriesRes, pathsRes, null), source: "rollup", stale: [] };
	let tailStart = days.length;
	while (tailStart > 0 && stale.has(days[tailStart - 1] as string)) tailStart--;
	const staleList = [...stale].sort();
	if (tailStart > 0 && stale.size === days.length - tailStart && stale.size <= JOURNEY_LIVE_TAIL_DAYS) {
		const tail = tailJson(await journeyDays(db, site, days.slice(tailStart)));
		const [t, e, p] = await db.batch(report(days[tailStart - 1] as string, tail));
		return { report: answer(t, e, p, tail), source: "rollup+events", stale: staleList };
	}
	return { report: await readJourneysExact(db, site, from, to, limit), source: "events", stale: staleList };
}

/** Rolls the newest `maxDays` of `days` (after a request that had to read the events), so the next one is fast. */
export async function rollStaleJourneyDays(db: D1Database, site: SiteTz, days: readonly string[], maxDays = 62, now = Date.now()): Promise<number> {
	const today = localDay(now, site.timezone);
	const todo = [...days].filter((d) => d <= today).sort().reverse().slice(0, maxDays);
	return todo.length ? rollJourneyDays(db, site, todo, now) : 0;
}

/**
 * Brings a site's journey rollup up to date, newest days first, at most `maxDays` day rolls: days a changed
 * hour reaches, then days never rolled (from the site's first event, at most JOURNEY_ROLLUP_MAX_DAYS back) or
 * rolled in another time zone. The changed hours handled are the oldest ones whose reached days fit `maxDays`
 * (at least one); once their days are rolled they are cleared (unless re-marked meanwhile).
 */
export async function rollJourneys(db: D1Database, site: SiteTz, opts: { maxDays?: number; now?: number } = {}): Promise<{ days: number; remaining: boolean }> {
	const now = opts.now ?? Date.now();
	const maxDays = opts.maxDays ?? 120;
	const [dirty, firstRow, rolledRows] = await db.batch([
		db.prepare("SELECT hour, v FROM journey_dirty WHERE site = ?1 ORDER BY hour LIMIT ?2").bind(site.id, DIRTY_LIMIT),
		db.prepare("SELECT MIN(ts) AS t FROM events WHERE site = ?1").bind(site.id),
		db.prepare("SELECT day FROM journey_days WHERE site = ?1 AND timezone = ?2").bind(site.id, site.timezone),
	]);
	const marks = ((dirty?.results ?? []) as { hour: number; v: number }[]).map((r): [number, number] => [r.hour, r.v]);
	const first = ((firstRow?.results[0] ?? {}) as { t?: number | null }).t ?? null;
	let rolled = 0;
	let exhausted = false;
	let more = false;
	/** How many of the oldest changed hours read this call handled (their reached days all re-rolled). */
	let handled = 0;
	// From the first event, or from the first changed hour when earlier (an erasure may have deleted the first events).
	const earliest = Math.min(first ?? Infinity, marks.length ? (marks[0] as [number, number])[0] * HOUR : Infinity);
	if (earliest !== Infinity) {
		const today = localDay(now, site.timezone);
		let from = localDay(earliest - JOURNEY_MARGIN_MS, site.timezone);
		if (daysBetween(from, today) + 1 > JOURNEY_ROLLUP_MAX_DAYS) from = addDays(today, -(JOURNEY_ROLLUP_MAX_DAYS - 1));
		const days = from <= today ? daysFrom(from, today) : [];
		const have = new Set(((rolledRows?.results ?? []) as { day: string }[]).map((r) => r.day));
		// The oldest changed hours whose reached days fit the budget (at least one) are handled and cleared below; the
		// next call goes on with the later ones (taking the newest reached days of all of them on every call, and
		// clearing none, never finished once they reached more days than the budget).
		const allHours = marks.map((m) => m[0]);
		handled = hoursWithin(allHours, maxDays, (hs) => journeyDaysReached(days, site.timezone, hs).size);
		exhausted = handled < marks.length;
		const take = [...journeyDaysReached(days, site.timezone, allHours.slice(0, handled))].sort().reverse();
		const reachedSet = new Set(take);
		const unrolled = days.filter((d) => !have.has(d) && !reachedSet.has(d)).reverse();
		const rest = unrolled.slice(0, Math.max(0, maxDays - take.length));
		more = rest.length < unrolled.length;
		if (take.length + rest.length) rolled = await rollJourneyDays(db, site, [...take, ...rest], now);
	}
	if (handled)
		await db
			.prepare("DELETE FROM journey_dirty WHERE site = ?1 AND EXISTS (SELECT 1 FROM json_each(?2) j WHERE j.value ->> 0 = journey_dirty.hour AND j.value ->> 1 = journey_dirty.v)")
			.bind(site.id, JSON.stringify(marks.slice(0, handled)))
			.run();
	return { days: rolled, remaining: exhausted || more || marks.length === DIRTY_LIMIT };
}

/** Cron: every site gets a bounded journey roll; never throws. Returns the days rolled. */
export async function sweepJourneys(env: Env, now = Date.now(), maxDays = 120): Promise<number> {
	const sites = await env.DB.prepare("SELECT id, timezone FROM sites ORDER BY id LIMIT 500").all<SiteTz>();
	let days = 0;
	for (const site of sites.results) {
		try {
			days += (await rollJourneys(env.DB, site, { maxDays, now })).days;
		} catch (err) {
			console.error(`journey rollup of ${site.id} failed; cron retries`, err instanceof Error ? err.message : err);
		}
	}
	return days;
}
