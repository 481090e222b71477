/**
 * Calendar in a site's time zone: local days (`YYYY-MM-DD`) and their UTC bounds, and the buckets of
 * the query grains. KPIs are reported by the site's local day, so an order at 23:30 in Madrid is on
 * the Madrid day, whatever its UTC date.
 */

export const GRAINS = ["day", "week", "month", "quarter"] as const;
export type Grain = (typeof GRAINS)[number];

const HOUR = 3_600_000;
const DAY = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
	let f = formatters.get(timeZone);
	if (!f) {
		f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
		formatters.set(timeZone, f);
	}
	return f;
}

/** True when `timeZone` is an IANA zone the runtime knows. */
export function isTimeZone(timeZone: string): boolean {
	try {
		formatter(timeZone);
		return true;
	} catch {
		return false;
	}
}

/** Wall-clock fields of an instant in a zone. */
function wall(ms: number, timeZone: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
	const parts: Record<string, number> = {};
	for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== "literal") parts[p.type] = Number(p.value);
	return { y: parts.year ?? 1970, m: parts.month ?? 1, d: parts.day ?? 1, h: parts.hour ?? 0, mi: parts.minute ?? 0, s: parts.second ?? 0 };
}

/** Offset of the zone from UTC at an instant, in ms (Madrid in winter: +3,600,000). */
function offsetAt(ms: number, timeZone: string): number {
	const w = wall(ms, timeZone);
	return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

/** The local day of an instant: `YYYY-MM-DD`. */
export function localDay(ms: number, timeZone: string): string {
	const w = wall(ms, timeZone);
	return `${w.y}-${String(w.m).padStart(2, "0")}-${String(w.d).padStart(2, "0")}`;
}

/** UTC ms of local midnight starting `day` (the first instant whose local day is `day`). */
export function dayStart(day: string, timeZone: string): number {
	const [y, m, d] = day.split("-").map(Number) as [number, number, number];
	const naive = Date.UTC(y, m - 1, d);
	// Two rounds settle a DST change between the guess and the answer.
	let guess = naive - offsetAt(naive, timeZone);
	guess = naive - offsetAt(guess, timeZone);
	// A zone that skips midnight (DST at 00:00) starts the day at the first instant that is on it.
	while (localDay(guess, timeZone) < day) guess += HOUR / 4;
	while (localDay(guess - 1, timeZone) === day) guess -= HOUR / 4;
	return guess;
}

/** [start, end) in UTC ms of a local day. */
export function dayBounds(day: string, timeZone: string): [number, number] {
	return [dayStart(day, timeZone), dayStart(addDays(day, 1), timeZone)];
}

/** True for a real calendar day written `YYYY-MM-DD` (no 2026-02-30). */
export function isDay(s: string): boolean {
	if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
	// An impossible month or day (2026-13-01) is an invalid Date, whose toISOString would throw.
	const d = new Date(`${s}T00:00:00Z`);
	return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Calendar arithmetic on `YYYY-MM-DD` labels (no time zone involved). */
export function addDays(day: string, n: number): string {
	const [y, m, d] = day.split("-").map(Number) as [number, number, number];
	return new Date(Date.UTC(y, m - 1, d) + n * DAY).toISOString().slice(0, 10);
}

export function addMonths(day: string, n: number): string {
	const [y, m, d] = day.split("-").map(Number) as [number, number, number];
	const first = new Date(Date.UTC(y, m - 1 + n, 1));
	const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
	return new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(d, last))).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (b − a). */
export function daysBetween(a: string, b: string): number {
	return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY);
}

/** First day of the bucket that contains `day`: weeks start on Monday (ISO 8601). */
export function bucketStart(day: string, grain: Grain): string {
	if (grain === "day") return day;
	if (grain === "week") {
		const dow = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
		return addDays(day, -((dow + 6) % 7));
	}
	if (grain === "month") return `${day.slice(0, 7)}-01`;
	const month = Number(day.slice(5, 7));
	return `${day.slice(0, 4)}-${String(month - ((month - 1) % 3)).padStart(2, "0")}-01`;
}

/** Human label of a bucket: 2026-11-23, 2026-W48, 2026-11, 2026-Q4. */
export function bucketLabel(start: string, grain: Grain): string {
	if (grain === "day") return start;
	if (grain === "month") return start.slice(0, 7);
	if (grain === "quarter") return `${start.slice(0, 4)}-Q${Math.floor((Number(start.slice(5, 7)) - 1) / 3) + 1}`;
	// ISO week: the week belongs to the year of its Thursday.
	const thursday = addDays(start, 3);
	const yearStart = `${thursday.slice(0, 4)}-01-01`;
	return `${thursday.slice(0, 4)}-W${String(Math.floor(daysBetween(yearStart, thursday) / 7) + 1).padStart(2, "0")}`;
}

/** SQL expression of the bucket start for a `day` column (SQLite date functions on YYYY-MM-DD labels). */
export function bucketSql(grain: Grain, column = "day"): string {
	if (grain === "day") return column;
	if (grain === "week") return `date(${column}, '-' || ((CAST(strftime('%w', ${column}) AS INTEGER) + 6) % 7) || ' days')`;
	if (grain === "month") return `substr(${column}, 1, 8) || '01'`;
	return `substr(${column}, 1, 5) || printf('%02d', ((CAST(substr(${column}, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1) || '-01'`;
}

/** The local days an hour (UTC hours since the epoch) overlaps: one, or two across a local midnight. */
export function daysOfHour(hour: number, timeZone: string): string[] {
	const first = localDay(hour * HOUR, timeZone);
	const last = localDay(hour * HOUR + HOUR - 1, timeZone);
	return first === last ? [first] : [first, last];
}
