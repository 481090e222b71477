/**
 * When a report subscription is due, and which period it then sends. Pure: a schedule and `now`
 * (UTC ms) in, instants (UTC ms) and period strings out.
 *
 * A subscription sends at a local wall-clock time (`send_time`, `HH:MM`) in its own IANA time zone:
 * every day (daily), on one ISO weekday (weekly, 1 = Monday), or on one day of the month (monthly; a
 * day past the month's end means its last day). Wall times are made instants DST-correctly:
 * - a time that does not exist (02:30 on a spring-forward day, when clocks jump 02:00 → 03:00) sends at
 *   the first valid instant after it: the moment of the jump (03:00 new time);
 * - a time that exists twice (01:30 on a fall-back day) sends at its first occurrence.
 *
 * The period a send covers is the latest complete period at the send instant, in the report's time
 * zone (the site's, which is what `buildReport` reads periods in): daily → the local day before,
 * weekly → the ISO week before, monthly → the month before. When the subscription and the site share a
 * zone that is exactly "the day/week/month before the send". With two zones, a send is never asked for
 * a period the site has not finished yet.
 */

export const CADENCES = ["daily", "weekly", "monthly"] as const;
export type Cadence = (typeof CADENCES)[number];

export interface Schedule {
	cadence: Cadence;
	/** Local send time, `HH:MM` (24 h). */
	sendTime: string;
	/** IANA zone of `sendTime`. */
	timezone: string;
	/** ISO weekday of a weekly send: 1 = Monday … 7 = Sunday. */
	weekday: number;
	/** Day of the month of a monthly send, 1–31; past the month's end it is the month's last day. */
	dayOfMonth: number;
}

export interface DueSend {
	/** The send instant (UTC ms): the most recent one at or before `now`. */
	sendAt: number;
	/** The period it covers: `2026-12-02`, `2026-W48` or `2026-11`. */
	period: string;
}

const DAY = 86_400_000;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
	let f = formatters.get(timeZone);
	if (!f) {
		f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
		formatters.set(timeZone, f);
	}
	return f;
}

/** The zone's canonical IANA name (`US/Pacific` → `America/Los_Angeles`), or null when the runtime does not know it. */
export function canonicalTimeZone(timeZone: string): string | null {
	try {
		return new Intl.DateTimeFormat("en", { timeZone }).resolvedOptions().timeZone;
	} catch {
		return null;
	}
}

/** True for a 24-hour `HH:MM`. */
export function isSendTime(s: string): boolean {
	return TIME.test(s);
}

/** Wall clock of an instant in a zone, as if it were UTC (ms, whole seconds). */
function wallMs(ms: number, timeZone: string): number {
	const p: Record<string, number> = {};
	for (const part of formatter(timeZone).formatToParts(new Date(ms))) if (part.type !== "literal") p[part.type] = Number(part.value);
	return Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
}

/** Offset from UTC at an instant, ms (Berlin in winter: +3,600,000). */
function offsetAt(ms: number, timeZone: string): number {
	return wallMs(ms, timeZone) - Math.floor(ms / 1000) * 1000;
}

/** The local date of an instant, `YYYY-MM-DD`. */
export function localDate(ms: number, timeZone: string): string {
	return new Date(wallMs(ms, timeZone)).toISOString().slice(0, 10);
}

function addDays(date: string, n: number): string {
	return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
}

/** ISO weekday of a date: 1 = Monday … 7 = Sunday. */
function isoWeekday(date: string): number {
	return ((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7) + 1;
}

/** `2026-W48`: the ISO week of a date (the week belongs to the year of its Thursday). */
export function isoWeekLabel(date: string): string {
	const thursday = addDays(date, 4 - isoWeekday(date));
	const year = thursday.slice(0, 4);
	const week = Math.floor((Date.parse(`${thursday}T00:00:00Z`) - Date.parse(`${year}-01-01T00:00:00Z`)) / DAY / 7) + 1;
	return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The date of day `day` of month `monthOffset` months from `date`'s month, clamped to that month's last day. */
function monthDay(date: string, monthOffset: number, day: number): string {
	const y = Number(date.slice(0, 4));
	const m = Number(date.slice(5, 7)) - 1 + monthOffset;
	const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
	return new Date(Date.UTC(y, m, Math.min(day, last))).toISOString().slice(0, 10);
}

/**
 * UTC ms of a local wall-clock time. A time skipped by a DST jump resolves to the jump itself (the first
 * valid instant after it); a time that occurs twice resolves to the first occurrence.
 */
export function zonedInstant(date: string, time: string, timeZone: string): number {
	const [hh, mm] = time.split(":").map(Number) as [number, number];
	const wall = Date.parse(`${date}T00:00:00Z`) + hh * 3_600_000 + mm * 60_000;
	// The offsets in force a day either side: at most one change lies between them.
	const before = offsetAt(wall - DAY, timeZone);
	const after = offsetAt(wall + DAY, timeZone);
	const valid = [...new Set([before, after])].map((o) => wall - o).filter((t) => wallMs(t, timeZone) === wall);
	if (valid.length) return Math.min(...valid);
	// A gap (clocks jumped forward over `wall`): the change happened between these two instants; find it to the second.
	let lo = Math.floor((wall - after) / 1000);
	let hi = Math.ceil((wall - before) / 1000);
	while (hi - lo > 1) {
		const mid = Math.floor((lo + hi) / 2);
		if (offsetAt(mid * 1000, timeZone) === after) hi = mid;
		else lo = mid;
	}
	return hi * 1000;
}

/** Local dates the schedule sends on, around `date`: from `back` occurrences before it to `ahead` after, ascending. */
function sendDates(s: Schedule, date: string, back: number, ahead: number): string[] {
	const out: string[] = [];
	for (let i = -back; i <= ahead; i++) {
		if (s.cadence === "daily") out.push(addDays(date, i));
		else if (s.cadence === "weekly") out.push(addDays(date, ((s.weekday - isoWeekday(date) + 7) % 7) + 7 * i));
		else out.push(monthDay(date, i, s.dayOfMonth));
	}
	return out;
}

/** The most recent send instant at or before `now` (UTC ms). */
export function latestSendAt(s: Schedule, now: number): number {
	const today = localDate(now, s.timezone);
	// Two occurrences back is always enough: the one before the latest is at most a period + a DST hour earlier.
	const instants = sendDates(s, today, 2, 1).map((d) => zonedInstant(d, s.sendTime, s.timezone));
	const past = instants.filter((t) => t <= now);
	return Math.max(...past);
}

/** The first send instant after `now` (UTC ms). */
export function nextSendAt(s: Schedule, now: number): number {
	const today = localDate(now, s.timezone);
	const instants = sendDates(s, today, 1, 2).map((d) => zonedInstant(d, s.sendTime, s.timezone));
	return Math.min(...instants.filter((t) => t > now));
}

/** The period a send at `sendAt` covers: the latest complete day, ISO week or month in `periodTz`. */
export function periodOf(cadence: Cadence, sendAt: number, periodTz: string): string {
	const date = localDate(sendAt, periodTz);
	if (cadence === "daily") return addDays(date, -1);
	if (cadence === "weekly") return isoWeekLabel(addDays(date, -7));
	return monthDay(date, -1, 1).slice(0, 7);
}

/** The latest due send of a schedule at `now`: its instant and period (`periodTz`: the report's zone, default the schedule's). */
export function latestDue(s: Schedule, now: number, periodTz: string = s.timezone): DueSend {
	const sendAt = latestSendAt(s, now);
	return { sendAt, period: periodOf(s.cadence, sendAt, periodTz) };
}
