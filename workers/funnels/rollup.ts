/**
 * Daily funnel rollups: the funnel report from per-day rows instead of every step event of the range,
 * with the exact path's numbers (migrations/0022_funnel_rollups.sql explains the table).
 *
 * Why per person and not per-day sums: a person counts once per report, with their deepest attempt
 * over the range (earliest on a tie), and the demo store has 14,674 people who start the checkout
 * funnel on more than one day of a month. So the rollup keeps each person's best attempt per local
 * day of the step-1 event (computed with the full window from the events after that day), and two
 * pointers per row (`prev_ge_day`, `next_gt_day`) that tell whether the row is the person's winner in
 * a range without looking at their other rows. The report is then one range scan + GROUP BY, and the
 * medians are the middle rows of a sort of the winners' gaps: exact, in SQL.
 *
 * Freshness: a day is usable when it is in `funnel_rolled` for the definition's key and no changed
 * event hour can reach it (an event at t matters to attempts starting in [t − window, t]). Changed
 * hours come from the KPI re-roller (it copies each web hour it clears into `funnel_dirty`) and from
 * the web hours it has not cleared yet (`rollup_dirty`). Stale days at the end of the range (today,
 * yesterday) are computed from events and merged in the same SQL; other stale ranges fall back to the
 * exact path (report.ts) while `rollFunnels` catches up (cron, and after such a report).
 */
import { addDays, dayBounds, daysBetween, localDay } from "../metrics/calendar";
import { jsonChunks } from "../lib/json-rows";
import { bestAttempt, sortGroups, summaryFromCounts, type FunnelDef, type FunnelSummary } from "./match";
import { scanPersons, type Breakdown } from "./report";
import { siteFunnels } from "./store";

const HOUR = 3_600_000;
/** Gap columns g1…g9: a funnel has at most 10 steps. */
export const MAX_GAPS = 9;
/** Rollups cover at most this many local days back from today (the longest report range). */
export const ROLLUP_MAX_DAYS = 5 * 366;
/** Consecutive days rolled per D1 batch (one transaction): a demo-store fortnight is ~30,000 rows. */
const RUN_DAYS = 14;
/** Stale days at the end of a range computed from events and merged with the rollup (more: exact path). */
export const LIVE_TAIL_DAYS = 3;
/** Changed hours read per freshness check or roll; more than this and every day counts as stale. */
const DIRTY_LIMIT = 20_000;

interface SiteTz {
	id: string;
	timezone: string;
}

/**
 * The rollup key of a definition: what the numbers depend on (step events in order, window, the
 * site's time zone that cuts days), not labels or names. A changed definition gets a new key, so its
 * days start unrolled and the report uses the exact path until they are rolled.
 */
export async function funnelKey(def: FunnelDef, timeZone: string): Promise<string> {
	const text = JSON.stringify([def.steps.map((s) => s.event), def.windowSeconds, timeZone]);
	const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
	return [...hash.slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every local day from `from` to `to`, inclusive. */
export function daysFrom(from: string, to: string): string[] {
	const out: string[] = [];
	for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
	return out;
}

/** One person's best attempt among those starting on one local day. */
export interface PersonDay {
	person: string;
	day: string;
	depth: number;
	/** ms from each reached step to the next (depth − 1 values). */
	gaps: number[];
	channel: string;
	device: string;
}

/**
 * Each person's best attempt per local day of `days` (consecutive, ascending), from the step events of
 * [first day's start, last day's end + window): the same matching as the exact path, day by day.
 */
export async function personDays(db: D1Database, site: SiteTz, def: FunnelDef, days: readonly string[], pageRows?: number): Promise<PersonDay[]> {
	if (!days.length) return [];
	const bounds = days.map((d) => dayBounds(d, site.timezone));
	const range = { startFrom: (bounds[0] as [number, number])[0], startTo: (bounds.at(-1) as [number, number])[1] };
	const firstEvent = (def.steps[0] as { event: string }).event;
	// Index of the day holding ts (bounds are contiguous and ascending).
	const dayOf = (ts: number) => {
		let lo = 0;
		let hi = bounds.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if ((bounds[mid] as [number, number])[0] <= ts) lo = mid;
			else hi = mid - 1;
		}
		return lo;
	};
	const out: PersonDay[] = [];
	await scanPersons(
		db,
		site.id,
		def,
		range,
		"both",
		(person, events) => {
			let last = -1;
			for (const e of events) {
				if (e.name !== firstEvent || e.ts < range.startFrom || e.ts >= range.startTo) continue;
				const i = dayOf(e.ts);
				if (i === last) continue; // events come in time order: one match per day
				last = i;
				const [from, to] = bounds[i] as [number, number];
				const a = bestAttempt(def, events, { from, to });
				if (a.depth === 0) continue;
				const start = events[a.start] as { grp: string; grp2: string };
				out.push({ person, day: days[i] as string, depth: a.depth, gaps: a.times.slice(1).map((t, k) => t - (a.times[k] as number)), channel: start.grp, device: start.grp2 });
			}
		},
		pageRows,
	);
	return out;
}

const GAP_COLS = Array.from({ length: MAX_GAPS }, (_, i) => `g${i + 1}`);
const INSERT_ROWS = `INSERT INTO funnel_people (site, fkey, day, person, depth, ${GAP_COLS.join(", ")}, channel, device)
	SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, ${GAP_COLS.map((_, i) => `value ->> ${3 + i}`).join(", ")}, value ->> ${3 + MAX_GAPS}, value ->> ${4 + MAX_GAPS} FROM json_each(?3)`;
// The people whose rows a roll changes (before the delete: people who lost a row; after the insert:
// people who gained one) are the only ones whose pointers can change.
const TOUCH = "INSERT INTO funnel_touched (site, fkey, person) SELECT site, fkey, person FROM funnel_people WHERE site = ?1 AND fkey = ?2 AND day >= ?3 AND day <= ?4 ON CONFLICT DO NOTHING";
const POINTERS = `UPDATE funnel_people SET
		prev_ge_day = (SELECT MAX(p.day) FROM funnel_people p WHERE p.site = funnel_people.site AND p.fkey = funnel_people.fkey AND p.person = funnel_people.person AND p.day < funnel_people.day AND p.depth >= funnel_people.depth),
		next_gt_day = (SELECT MIN(p.day) FROM funnel_people p WHERE p.site = funnel_people.site AND p.fkey = funnel_people.fkey AND p.person = funnel_people.person AND p.day > funnel_people.day AND p.depth > funnel_people.depth)
	WHERE site = ?1 AND fkey = ?2 AND person IN (SELECT person FROM funnel_touched WHERE site = ?1 AND fkey = ?2)`;

/**
 * Recomputes the rollup of `days` (any order) for one definition: per run of consecutive days, one
 * D1 batch deletes the days' rows, inserts the recomputed ones, refreshes the pointers of every
 * person touched and marks the days rolled. A repeat writes the same rows.
 */
export async function rollDays(db: D1Database, site: SiteTz, def: FunnelDef, fkey: string, days: readonly string[], now = Date.now(), pageRows?: number): Promise<number> {
	const sorted = [...new Set(days)].sort();
	const runs: string[][] = [];
	for (const d of sorted) {
		const run = runs.at(-1);
		if (run && run.length < RUN_DAYS && addDays(run.at(-1) as string, 1) === d) run.push(d);
		else runs.push([d]);
	}
	for (const run of runs) {
		const rows = await personDays(db, site, def, run, pageRows);
		const first = run[0] as string;
		const last = run.at(-1) as string;
		const json = rows.map((r) => [r.day, r.person, r.depth, ...GAP_COLS.map((_, i) => r.gaps[i] ?? null), r.channel, r.device]);
		await db.batch([
			db.prepare(TOUCH).bind(site.id, fkey, first, last),
			db.prepare("DELETE FROM funnel_people WHERE site = ?1 AND fkey = ?2 AND day >= ?3 AND day <= ?4").bind(site.id, fkey, first, last),
			...jsonChunks(json).map((chunk) => db.prepare(INSERT_ROWS).bind(site.id, fkey, chunk)),
			db.prepare(TOUCH).bind(site.id, fkey, first, last),
			db.prepare(POINTERS).bind(site.id, fkey),
			db.prepare("DELETE FROM funnel_touched WHERE site = ?1 AND fkey = ?2").bind(site.id, fkey),
			db
				.prepare("INSERT INTO funnel_rolled (site, fkey, day, rolled_at) SELECT ?1, ?2, value, ?3 FROM json_each(?4) WHERE true ON CONFLICT (site, fkey, day) DO UPDATE SET rolled_at = excluded.rolled_at")
				.bind(site.id, fkey, now, JSON.stringify(run)),
		]);
	}
	return sorted.length;
}

/** Changed event hours (funnel_dirty, and web hours the KPI re-roller has not cleared yet) in [lo, hi]; null when over the limit. */
async function dirtyHours(db: D1Database, site: string, lo: number, hi: number): Promise<number[] | null> {
	const r = await db
		.prepare(
			"SELECT hour FROM funnel_dirty WHERE site = ?1 AND hour BETWEEN ?2 AND ?3 UNION SELECT hour FROM rollup_dirty WHERE site = ?1 AND source = 'web' AND hour BETWEEN ?2 AND ?3 ORDER BY 1 LIMIT ?4",
		)
		.bind(site, lo, hi, DIRTY_LIMIT + 1)
		.raw<[number]>();
	return r.length > DIRTY_LIMIT ? null : r.map((x) => x[0]);
}

/**
 * The days among `days` (ascending) whose attempts a changed hour can reach: an event at t matters to
 * attempts that start in [t − window, t], so hour h reaches days overlapping [h·1h − window, (h+1)·1h).
 */
export function daysReached(days: readonly string[], timeZone: string, windowMs: number, hours: readonly number[] | null): Set<string> {
	if (hours === null) return new Set(days);
	const out = new Set<string>();
	if (!hours.length) return out;
	// Merged reach intervals, ascending (all have the same length, so ends ascend with starts).
	const spans: [number, number][] = [];
	for (const h of [...hours].sort((a, b) => a - b)) {
		const s = h * HOUR - windowMs;
		const e = (h + 1) * HOUR;
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

/**
 * How many of the oldest `hours` (ascending) a bounded roll handles: the longest prefix whose reached days
 * (`reach`, which grows with the prefix) fit in `budget`, and at least one hour when there are any.
 */
export function hoursWithin(hours: readonly number[], budget: number, reach: (hours: readonly number[]) => number): number {
	if (!hours.length) return 0;
	if (reach(hours) <= budget) return hours.length;
	let lo = 1;
	let hi = hours.length - 1;
	while (lo < hi) {
		const mid = Math.ceil((lo + hi) / 2);
		if (reach(hours.slice(0, mid)) <= budget) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

/** The days of `days` (ascending) the rollup of `fkey` cannot answer yet: never rolled, or reached by a changed hour. */
export async function staleDays(db: D1Database, site: SiteTz, def: FunnelDef, fkey: string, days: readonly string[]): Promise<Set<string>> {
	if (!days.length) return new Set();
	const first = days[0] as string;
	const last = days.at(-1) as string;
	const windowMs = def.windowSeconds * 1000;
	const start = dayBounds(first, site.timezone)[0];
	const end = dayBounds(last, site.timezone)[1];
	const [rolled, hours] = await Promise.all([
		db.prepare("SELECT day FROM funnel_rolled WHERE site = ?1 AND fkey = ?2 AND day >= ?3 AND day <= ?4").bind(site.id, fkey, first, last).raw<[string]>(),
		dirtyHours(db, site.id, Math.floor(start / HOUR) - 1, Math.ceil((end + windowMs) / HOUR) + 1),
	]);
	const have = new Set(rolled.map((r) => r[0]));
	const stale = daysReached(days, site.timezone, windowMs, hours);
	for (const d of days) if (!have.has(d)) stale.add(d);
	return stale;
}

// The report statement of a definition with `n` steps, by the step-1 event's `kind` (0 none, 1 channel, 2 device),
// with or without a live tail. ?1 site, ?2 key, ?3 first day, ?4 last rolled day, ?5 the tail's best attempt per
// person (JSON, days after ?4). `w`: one row per person — the winners of the rolled days (one per person, by the
// pointers), merged with the tail (a tie goes to the rolled day, the earlier one) — materialized once. Rows: grp 0, the
// whole range (people per depth d1…dn, then per step the JSON list of its middle gap values); with a breakdown, grp 1
// per group (people per depth) and grp 2 per (group, step) (the smallest and largest middle gap). Column names and
// constants come from this module, never from input. Why this shape: the former single window over (person, step)
// rows made by json_each joins, for the whole range too, was ~3× slower on the demo store (36,715 winners over 30
// days), and D1 allows only a few compound-SELECT terms per statement.
function buildReportSql(n: number, kind: 0 | 1 | 2, tail: boolean): string {
	const gaps = GAP_COLS.slice(0, n - 1);
	const key = (channel: string, device: string) => (kind === 1 ? channel : kind === 2 ? device : "''");
	const cols = (prefix: string) => [`${prefix}depth`, ...gaps.map((g) => `${prefix}${g}`), `${prefix}k`].join(", ");
	// The person only where the tail is merged by it (a narrower materialized row otherwise).
	const rolled = `SELECT ${tail ? "person, " : ""}depth, ${gaps.map((g) => `${g}, `).join("")}${key("channel", "device")} AS k FROM funnel_people
		WHERE site = ?1 AND fkey = ?2 AND day >= ?3 AND day <= ?4
			AND (prev_ge_day IS NULL OR prev_ge_day < ?3) AND (next_gt_day IS NULL OR next_gt_day > ?4)`;
	const ctes = tail
		? `r AS MATERIALIZED (${rolled}),
		lv AS MATERIALIZED (
			SELECT value ->> 0 AS person, value ->> 1 AS depth, ${gaps.map((g, i) => `value ->> ${2 + i} AS ${g}, `).join("")}${key(`value ->> ${2 + MAX_GAPS}`, `value ->> ${3 + MAX_GAPS}`)} AS k
			FROM json_each(?5)
		),
		w AS MATERIALIZED (
			SELECT ${cols("r.")} FROM r LEFT JOIN lv ON lv.person = r.person WHERE lv.person IS NULL OR lv.depth <= r.depth
			UNION ALL
			SELECT ${cols("lv.")} FROM lv
			WHERE NOT EXISTS (SELECT 1 FROM funnel_people p WHERE p.site = ?1 AND p.fkey = ?2 AND p.person = lv.person AND p.day >= ?3 AND p.day <= ?4 AND p.depth >= lv.depth)
		)`
		: `w AS MATERIALIZED (${rolled})`;
	// The whole range: people per depth and, per step s, the middle one or two gaps of the people past s (sorted by
	// LIMIT 2 OFFSET (c − 1) / 2; an odd c reads the next value too, which the caller ignores), as a JSON list.
	// Named columns: a D1 batch answers rows as objects, whose keys must be distinct and in this order.
	const depths = Array.from({ length: n }, (_, d) => `COALESCE(SUM(depth = ${d + 1}), 0) AS d${d + 1}`);
	const middle = gaps.map(
		(g, i) => `(SELECT json_group_array(${g}) FROM (SELECT ${g} FROM w WHERE depth > ${i + 1} ORDER BY ${g} LIMIT 2 OFFSET ((SELECT COUNT(*) FROM w WHERE depth > ${i + 1}) - 1) / 2)) AS m${i + 1}`,
	);
	const whole = `SELECT 0 AS grp, '' AS key, 0 AS step, ${[...depths, ...middle].join(", ")} FROM w`;
	if (!kind) return `WITH ${ctes}\n\t${whole}`;
	// Per group: people per depth (one row per group), and the middle gap(s) per (group, step): the gaps of the people
	// past each step (an unpivot in chunks of ≤ 4 terms: D1 caps compound SELECTs) aggregated per (group, step) into one
	// sorted JSONB array, read at its middle index(es) — ROW_NUMBER and COUNT windows over the same rows cost ~2.5× as
	// much (the demo store's 30 days by channel: 69–115 ms against 40 ms for this part in node:sqlite). Aggregate
	// ORDER BY needs SQLite ≥ 3.44 (workerd's D1 has it).
	const pad = (cols: string[]) => [...cols, ...Array.from({ length: n + gaps.length - cols.length }, () => "NULL")].join(", ");
	const unpivot = gaps.map((g, i) => `SELECT k, ${i + 1} AS s, ${g} AS v FROM w WHERE depth > ${i + 1}`);
	const chunks: string[] = [];
	for (let i = 0; i < unpivot.length; i += 4) chunks.push(`gp${chunks.length} AS (${unpivot.slice(i, i + 4).join(" UNION ALL ")})`);
	const gapsCte = `${chunks.join(",\n\t\t")},\n\t\tgp AS (${chunks.map((_, i) => `SELECT * FROM gp${i}`).join(" UNION ALL ")})`;
	return `WITH ${ctes},
		${gapsCte}
	${whole}
	UNION ALL SELECT 1, k, 0, ${pad(depths.map((d) => d.replace(/ AS d\d+$/, "")))} FROM w GROUP BY k
	UNION ALL SELECT 2, k, s, ${pad(["a ->> ((c + 1) / 2 - 1)", "a ->> (c / 2)"])} FROM (
		SELECT k, s, COUNT(*) AS c, jsonb_group_array(v ORDER BY v) AS a FROM gp GROUP BY k, s
	)`;
}

const reportSqlCache = new Map<string, string>();
/** The report statement for `n` steps, a breakdown and a tail (built once per shape; exported so tests can check its query plan). */
export function reportFromRollupSql(n: number, by: Breakdown | null, tail: boolean): string {
	const kind = by === "channel" ? 1 : by === "device" ? 2 : 0;
	const id = `${n}|${kind}|${tail}`;
	let sql = reportSqlCache.get(id);
	if (!sql) reportSqlCache.set(id, (sql = buildReportSql(n, kind, tail)));
	return sql;
}

export type ReportSummary = FunnelSummary & { groups: (FunnelSummary & { key: string })[] };

/** The tail's best attempt per person (deepest, then earliest day), as the report statement's JSON parameter; null without a tail. */
function tailParam(tail: readonly PersonDay[]): string | null {
	if (!tail.length) return null;
	const best = new Map<string, PersonDay>();
	for (const r of [...tail].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0))) {
		const b = best.get(r.person);
		if (!b || r.depth > b.depth) best.set(r.person, r);
	}
	return JSON.stringify([...best.values()].map((r) => [r.person, r.depth, ...GAP_COLS.map((_, i) => r.gaps[i] ?? null), r.channel, r.device]));
}

/** The report statement of [from, rolledTo] (+ tail) for `def`, bound. */
export function rollupReportStatement(db: D1Database, site: string, def: FunnelDef, fkey: string, from: string, rolledTo: string, by: Breakdown | null, tail: readonly PersonDay[] = []): D1PreparedStatement {
	const live = tailParam(tail);
	const stmt = db.prepare(reportFromRollupSql(def.steps.length, by, live !== null));
	return live === null ? stmt.bind(site, fkey, from, rolledTo) : stmt.bind(site, fkey, from, rolledTo, live);
}

/** A row of the report statement: grp, key, step, then n + (n − 1) values (see buildReportSql). */
export type ReportRow = (number | string | null)[];

/** The summary from the report statement's rows (see buildReportSql), as funnelReport would answer it. */
export function summaryFromReportRows(def: FunnelDef, by: Breakdown | null, rows: readonly ReportRow[]): ReportSummary {
	const n = def.steps.length;
	/** Middle gap values of step s (1 … n − 1), ascending, per group key ('' for the whole range). */
	const mids = new Map<string, number[][]>();
	const midsOf = (key: string) => {
		let m = mids.get(key);
		if (!m) mids.set(key, (m = Array.from({ length: n }, () => [])));
		return m;
	};
	const whole = rows.find((r) => r[0] === 0);
	if (whole) for (let s = 1; s < n; s++) (midsOf("")[s] as number[]).push(...(JSON.parse(String(whole[2 + n + s] ?? "[]")) as number[]));
	for (const r of rows) if (r[0] === 2) (midsOf(String(r[1] ?? ""))[Number(r[2])] as number[]).push(Number(r[3]), Number(r[4]));
	const summary = (row: ReportRow | undefined, key: string): FunnelSummary => {
		const users = new Array<number>(n).fill(0);
		let atLeast = 0;
		for (let d = n; d >= 1; d--) {
			atLeast += Number(row?.[2 + d] ?? 0);
			users[d - 1] = atLeast;
		}
		// The exact path's median: seconds, then the mean of the two middle values (same float operations). Step s's gaps
		// belong to the users of step s + 1; an odd count has one middle value (the first one read).
		const medians = Array.from({ length: n }, (_, s) => {
			const c = users[s] ?? 0;
			const m = mids.get(key)?.[s];
			if (s === 0 || c === 0 || !m?.length) return null;
			return c % 2 === 1 ? (m[0] as number) / 1000 : ((m[0] as number) / 1000 + (m[1] as number) / 1000) / 2;
		});
		return summaryFromCounts(def, users, medians);
	};
	const all = summary(whole, "");
	const groups = by === null ? [] : sortGroups(rows.filter((r) => r[0] === 1).map((r) => ({ key: String(r[1] ?? ""), ...summary(r, String(r[1] ?? "")) })));
	return { ...all, groups };
}

/**
 * The report of the rolled days [from, rolledTo] (all fresh) merged with `tail` (the person days of
 * the stale days after rolledTo, from `personDays`), as funnelReport would answer for the whole range.
 */
export async function rollupReport(db: D1Database, site: string, def: FunnelDef, fkey: string, from: string, rolledTo: string, by: Breakdown | null, tail: readonly PersonDay[] = []): Promise<ReportSummary> {
	const rows = await rollupReportStatement(db, site, def, fkey, from, rolledTo, by, tail).raw<ReportRow>();
	return summaryFromReportRows(def, by, rows);
}

/**
 * The freshness check of [from, to] for `fkey` as two statements (rolled days in the range, changed hours that can
 * reach it) for a D1 batch, and `fresh(results)`: whether every day is rolled and unreached. With the report
 * statement in the same batch, a current range is answered in one round trip.
 */
export function freshnessCheck(db: D1Database, site: SiteTz, def: FunnelDef, fkey: string, from: string, to: string) {
	const windowMs = def.windowSeconds * 1000;
	const start = dayBounds(from, site.timezone)[0];
	const end = dayBounds(to, site.timezone)[1];
	const days = daysFrom(from, to);
	return {
		statements: [
			db.prepare("SELECT COUNT(*) AS n FROM funnel_rolled WHERE site = ?1 AND fkey = ?2 AND day >= ?3 AND day <= ?4").bind(site.id, fkey, from, to),
			db
				.prepare(
					"SELECT hour FROM funnel_dirty WHERE site = ?1 AND hour BETWEEN ?2 AND ?3 UNION SELECT hour FROM rollup_dirty WHERE site = ?1 AND source = 'web' AND hour BETWEEN ?2 AND ?3 ORDER BY 1 LIMIT ?4",
				)
				.bind(site.id, Math.floor(start / HOUR) - 1, Math.ceil((end + windowMs) / HOUR) + 1, DIRTY_LIMIT + 1),
		],
		fresh(rolled: D1Result | undefined, dirty: D1Result | undefined): boolean {
			if (Number((rolled?.results[0] as { n?: number } | undefined)?.n ?? 0) !== days.length) return false;
			const hours = (dirty?.results ?? []) as { hour: number }[];
			return hours.length <= DIRTY_LIMIT && daysReached(days, site.timezone, windowMs, hours.map((h) => h.hour)).size === 0;
		},
	};
}

export type ReportSource = "rollup" | "rollup+events" | "events";

/**
 * How to answer [from, to] for `def`: from the rollup when every day is fresh; from the rollup plus
 * events when only the last ≤ LIVE_TAIL_DAYS days are stale; else null (the exact path). `stale` is
 * returned so the caller can have them rolled.
 */
export async function planReport(db: D1Database, site: SiteTz, def: FunnelDef, from: string, to: string) {
	const fkey = await funnelKey(def, site.timezone);
	const days = daysFrom(from, to);
	const stale = await staleDays(db, site, def, fkey, days);
	let tailStart = days.length;
	while (tailStart > 0 && stale.has(days[tailStart - 1] as string)) tailStart--;
	const tailOnly = stale.size === days.length - tailStart;
	const usable = tailOnly && tailStart > 0 && stale.size <= LIVE_TAIL_DAYS;
	return { fkey, stale, usable, rolledTo: tailStart > 0 ? (days[tailStart - 1] as string) : null, tail: days.slice(tailStart) };
}

/**
 * The report from the rollups (and the live tail) when they can answer the range (`summary` null
 * otherwise), with the stale days of the range and the definition's key (the caller may roll them).
 */
export async function reportFromRollups(
	db: D1Database,
	site: SiteTz,
	def: FunnelDef,
	from: string,
	to: string,
	by: Breakdown | null,
): Promise<{ summary: ReportSummary | null; source: ReportSource; stale: string[]; fkey: string }> {
	const plan = await planReport(db, site, def, from, to);
	const stale = [...plan.stale].sort();
	if (!plan.usable || plan.rolledTo === null) return { summary: null, source: "events", stale, fkey: plan.fkey };
	const tail = await personDays(db, site, def, plan.tail);
	const summary = await rollupReport(db, site.id, def, plan.fkey, from, plan.rolledTo, by, tail);
	return { summary, source: plan.tail.length ? "rollup+events" : "rollup", stale, fkey: plan.fkey };
}

/**
 * Rolls the newest `maxDays` of `days` for one definition (after a report that had to read the events):
 * the range the dashboard asked for is usable on the next request. Changed hours stay marked; cron's
 * `rollFunnels` clears them.
 */
export async function rollStaleDays(db: D1Database, site: SiteTz, def: FunnelDef, fkey: string, days: readonly string[], maxDays = 62, now = Date.now()): Promise<number> {
	const today = localDay(now, site.timezone);
	const todo = [...days].filter((d) => d <= today).sort().reverse().slice(0, maxDays);
	return todo.length ? rollDays(db, site, def, fkey, todo, now) : 0;
}

export interface FunnelRollResult {
	/** (definition, day) pairs rolled. */
	days: number;
	/** Work left (a later call continues). */
	remaining: boolean;
}

/**
 * Brings every funnel of the site up to date, newest days first, at most `maxDays` (definition, day)
 * rolls: days a changed hour reaches (of the oldest changed hours whose days fit the budget, at least
 * one hour), then days never rolled (from the site's first event, at most ROLLUP_MAX_DAYS back). Clears
 * the changed hours whose days every definition re-rolled (unless re-marked meanwhile) and drops the
 * rows of definitions the site no longer has.
 */
export async function rollFunnels(db: D1Database, site: SiteTz, opts: { maxDays?: number; now?: number } = {}): Promise<FunnelRollResult> {
	const now = opts.now ?? Date.now();
	let budget = opts.maxDays ?? 120;
	// The oldest DIRTY_LIMIT changed hours; any beyond are read by the next call.
	const [dirty, firstRow] = await Promise.all([
		db.prepare("SELECT hour, v FROM funnel_dirty WHERE site = ?1 ORDER BY hour LIMIT ?2").bind(site.id, DIRTY_LIMIT).raw<[number, number]>(),
		db.prepare("SELECT MIN(ts) FROM events WHERE site = ?1").bind(site.id).raw<[number | null]>(),
	]);
	const defs = await siteFunnels(db, site.id);
	const keys = await Promise.all(defs.map((d) => funnelKey(d, site.timezone)));
	const first = firstRow[0]?.[0] ?? null;
	let rolled = 0;
	/** Changed hours not all handled (they stay marked); never-rolled days left over. */
	let exhausted = false;
	let more = false;
	/** How many of the oldest changed hours read this call handled (their reached days all re-rolled). */
	let handled = 0;
	// From the first event, or from the first changed hour minus the window when earlier (an erasure may have deleted
	// the first events: the days they reached are re-rolled all the same).
	const maxWindowMs = Math.max(0, ...defs.map((d) => d.windowSeconds * 1000));
	const earliest = Math.min(first ?? Infinity, dirty.length ? (dirty[0] as [number, number])[0] * HOUR - maxWindowMs : Infinity);
	if (earliest !== Infinity) {
		const today = localDay(now, site.timezone);
		let from = localDay(earliest, site.timezone);
		if (daysBetween(from, today) + 1 > ROLLUP_MAX_DAYS) from = addDays(today, -(ROLLUP_MAX_DAYS - 1));
		const days = from <= today ? daysFrom(from, today) : [];
		// Days a changed hour reaches first, then never-rolled days; newest first. The changed hours handled are the
		// oldest ones whose reached days fit the budget (at least one): all their days are re-rolled here, so they are
		// cleared below and the next call goes on with the later ones (re-rolling the newest reached days of every
		// changed hour on each call, and clearing none, would never finish once they reach more days than the budget).
		const allHours = dirty.map((r) => r[0]);
		const reach = (hs: readonly number[]) => defs.reduce((n, def) => n + daysReached(days, site.timezone, def.windowSeconds * 1000, hs).size, 0);
		handled = hoursWithin(allHours, budget, reach);
		if (handled < dirty.length) exhausted = true;
		const hours = allHours.slice(0, handled);
		const plans = await Promise.all(
			defs.map(async (def, i) => {
				const fkey = keys[i] as string;
				const have = new Set((await db.prepare("SELECT day FROM funnel_rolled WHERE site = ?1 AND fkey = ?2").bind(site.id, fkey).raw<[string]>()).map((r) => r[0]));
				const reached = [...daysReached(days, site.timezone, def.windowSeconds * 1000, hours)].sort().reverse();
				const reachedSet = new Set(reached);
				const unrolled = days.filter((d) => !have.has(d) && !reachedSet.has(d)).reverse();
				return { def, fkey, reached, unrolled };
			}),
		);
		const todo = new Map<string, string[]>(plans.map((p) => [p.fkey, []]));
		for (const p of plans) {
			(todo.get(p.fkey) as string[]).push(...p.reached);
			budget -= p.reached.length;
		}
		for (const p of plans) {
			const take = p.unrolled.slice(0, Math.max(0, budget));
			if (take.length < p.unrolled.length) more = true;
			(todo.get(p.fkey) as string[]).push(...take);
			budget -= take.length;
		}
		for (const p of plans) {
			const list = todo.get(p.fkey) as string[];
			if (list.length) rolled += await rollDays(db, site, p.def, p.fkey, list, now);
		}
	}
	// Rows of definitions the site no longer has (changed or deleted funnels): by key, through the primary key.
	const oldKeys = (await db.prepare("SELECT DISTINCT fkey FROM funnel_rolled WHERE site = ?1").bind(site.id).raw<[string]>()).map((r) => r[0]).filter((k) => !keys.includes(k));
	const statements = oldKeys.flatMap((k) => [
		db.prepare("DELETE FROM funnel_people WHERE site = ?1 AND fkey = ?2").bind(site.id, k),
		db.prepare("DELETE FROM funnel_rolled WHERE site = ?1 AND fkey = ?2").bind(site.id, k),
	]);
	// Every definition re-rolled what the handled hours reach: clear them, unless re-marked meanwhile (v moved).
	if (handled)
		statements.push(
			db
				.prepare("DELETE FROM funnel_dirty WHERE site = ?1 AND EXISTS (SELECT 1 FROM json_each(?2) j WHERE j.value ->> 0 = funnel_dirty.hour AND j.value ->> 1 = funnel_dirty.v)")
				.bind(site.id, JSON.stringify(dirty.slice(0, handled).map(([h, v]) => [h, v]))),
		);
	if (statements.length) await db.batch(statements);
	return { days: rolled, remaining: exhausted || more || dirty.length === DIRTY_LIMIT };
}

/** Cron: every site gets a bounded funnel roll; never throws. Returns the (definition, day) pairs rolled. */
export async function sweepFunnels(env: Env, now = Date.now(), maxDays = 120): Promise<number> {
	// Every site: a new day, a changed definition or a changed hour each leave days to roll (a site with
	// nothing to do costs three small reads).
	const sites = await env.DB.prepare("SELECT id, timezone FROM sites ORDER BY id LIMIT 500").all<SiteTz>();
	let days = 0;
	for (const site of sites.results) {
		try {
			days += (await rollFunnels(env.DB, site, { maxDays, now })).days;
		} catch (err) {
			console.error(`funnel rollup of ${site.id} failed; cron retries`, err instanceof Error ? err.message : err);
		}
	}
	return days;
}
