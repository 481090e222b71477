/**
 * Historical funnel report from D1 `events`: reads the funnel's step events of a time range, one
 * person at a time, matches each person with `bestAttempt` and sums up with `summarize` (match.ts).
 * A person is `COALESCE(customer_id, visitor)`. This is the exact path; the daily rollups (rollup.ts)
 * answer the same numbers from per-day rows and fall back to it.
 */
import { bestAttempt, summarize, type FunnelDef, type GroupedAttempt } from "./match";

export const BREAKDOWNS = ["channel", "device"] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];

/** Rows per D1 read: memory stays bounded whatever the range (a page ends on a whole person unless one person fills it). */
export const PAGE_ROWS = 50_000;

// One fixed statement per breakdown (column names are never built from input). The range is read
// through the (site, ts) index; the sort by person is SQLite's, bounded by LIMIT. Paging is keyset on
// the person, so each page re-reads the range: few pages for any realistic range (a synthetic 130,000
// events over 366 days, 104,000 of them steps, about the demo store's year: 3 pages, 1.1 s in local
// workerd against 0.9 s in one read). Events of one person at one instant sort by id, so which of two
// same-instant step-1 events starts an attempt (and so its channel) is the same in every read.
const SELECT = {
	none: "SELECT COALESCE(customer_id, visitor) AS person, name, ts, '' AS grp, '' AS grp2",
	channel: "SELECT COALESCE(customer_id, visitor) AS person, name, ts, channel AS grp, '' AS grp2",
	device: "SELECT COALESCE(customer_id, visitor) AS person, name, ts, device AS grp, '' AS grp2",
	both: "SELECT COALESCE(customer_id, visitor) AS person, name, ts, channel AS grp, device AS grp2",
} as const;
const FROM =
	" FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3 AND name IN (SELECT value FROM json_each(?4)) AND (?5 IS NULL OR COALESCE(customer_id, visitor) > ?5) ORDER BY person, ts, id LIMIT ?6";

/** The statement that reads a page of step events (exported so tests can check its query plan); `both` reads channel and device. */
export function reportSql(by: Breakdown | "both" | null): string {
	return SELECT[by ?? "none"] + FROM;
}

export interface ReportRange {
	/** First instant a step-1 event may have (UTC epoch ms, inclusive). */
	startFrom: number;
	/** End of the step-1 range (UTC epoch ms, exclusive); later steps may follow up to the window after it. */
	startTo: number;
}

/** A step event as read: name, time, and the breakdown columns (channel/device per the statement). */
export interface StepEvent {
	name: string;
	ts: number;
	grp: string;
	grp2: string;
}

/**
 * Calls `onPerson` with each person's step events of [startFrom, startTo + window), in (ts, id) order,
 * one person at a time, in keyset pages of `pageRows`.
 */
export async function scanPersons(
	db: D1Database,
	site: string,
	def: FunnelDef,
	range: ReportRange,
	columns: Breakdown | "both" | null,
	onPerson: (person: string, events: StepEvent[]) => void,
	pageRows = PAGE_ROWS,
): Promise<void> {
	const names = JSON.stringify([...new Set(def.steps.map((s) => s.event))]);
	const stepsBefore = range.startTo + def.windowSeconds * 1000;
	const stmt = db.prepare(reportSql(columns));
	let events: StepEvent[] = [];
	let after: string | null = null;
	for (;;) {
		const rows: [string, string, number, string | null, string | null][] = await stmt
			.bind(site, range.startFrom, stepsBefore, names, after, pageRows)
			.raw<[string, string, number, string | null, string | null]>();
		const full = rows.length === pageRows;
		// A full page may cut the last person short: leave them to the next page, unless they fill the
		// page alone (then their first pageRows step events in the range are what counts).
		const lastPerson = rows.at(-1)?.[0];
		const keep = full && lastPerson !== undefined && rows[0]?.[0] !== lastPerson ? rows.findIndex((r) => r[0] === lastPerson) : rows.length;
		let person: string | null = null;
		for (let i = 0; i < keep; i++) {
			const [p, name, ts, grp, grp2] = rows[i] as [string, string, number, string | null, string | null];
			if (p !== person) {
				if (person !== null) onPerson(person, events);
				person = p;
				events = [];
			}
			events.push({ name, ts, grp: grp ?? "", grp2: grp2 ?? "" });
		}
		if (person !== null) onPerson(person, events);
		events = [];
		if (!full) break;
		after = keep === rows.length ? (lastPerson as string) : (rows[keep - 1]?.[0] as string);
	}
}

/**
 * Per-step summary of the attempts that started in the range; with `by`, `groups` per channel or
 * device of each attempt's step-1 event.
 */
export async function funnelReport(db: D1Database, site: string, def: FunnelDef, range: ReportRange, by: Breakdown | null, pageRows = PAGE_ROWS) {
	const starts = { from: range.startFrom, to: range.startTo };
	const attempts: GroupedAttempt[] = [];
	await scanPersons(
		db,
		site,
		def,
		range,
		by,
		(_person, events) => {
			const a = bestAttempt(def, events, starts);
			if (a.depth > 0) attempts.push({ depth: a.depth, times: a.times, ...(by ? { group: events[a.start]?.grp ?? "" } : {}) });
		},
		pageRows,
	);
	return summarize(def, attempts);
}
