/**
 * Report periods: one parser for every report kind. Labels are the KPI engine's bucket labels
 * (metrics/calendar.ts bucketLabel): a day `2026-12-02`, an ISO week `2026-W48` (Monday to Sunday, the
 * week belongs to the year of its Thursday, so 2026-W53 runs 2026-12-28 … 2027-01-03), a month `2026-11`,
 * a quarter `2026-Q4`. A period is in the site's time zone.
 */
import { ApiError } from "../lib/http";
import { addDays, addMonths, bucketLabel, bucketStart, dayStart, isDay } from "../metrics/calendar";
import type { PeriodGrain, ReportKind, ReportPeriod } from "./types";

/** The period grains each kind accepts. */
export const KIND_GRAINS: Record<ReportKind, readonly PeriodGrain[]> = {
	executive: ["week", "month", "quarter"],
	product: ["day", "week", "month", "quarter"],
	daily: ["day"],
	financial: ["month"],
};

const EXAMPLES: Record<PeriodGrain, string> = { day: "2026-12-02", week: "2026-W48", month: "2026-11", quarter: "2026-Q4" };

function invalid(message: string): ApiError {
	return new ApiError(400, "invalid_request", `period: ${message}`, [{ field: "period", message }]);
}

/** Grain and first local day of a label, or null when it is not a period label (or not a real one: 2026-W53, 2026-02-30). */
export function periodStart(label: string): { grain: PeriodGrain; from: string } | null {
	let m: RegExpExecArray | null;
	if (isDay(label)) return { grain: "day", from: label };
	if ((m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(label))) return { grain: "month", from: `${m[1]}-${m[2]}-01` };
	if ((m = /^(\d{4})-Q([1-4])$/.exec(label))) return { grain: "quarter", from: `${m[1]}-${String((Number(m[2]) - 1) * 3 + 1).padStart(2, "0")}-01` };
	if ((m = /^(\d{4})-W(\d{2})$/.exec(label))) {
		// ISO 8601: week 1 is the week with 4 January; its Monday starts the ISO year.
		const jan4 = `${m[1]}-01-04`;
		const monday = addDays(bucketStart(jan4, "week"), (Number(m[2]) - 1) * 7);
		// W00, or W53 of a 52-week year, lands in another ISO year: its label differs.
		return Number(m[2]) >= 1 && bucketLabel(monday, "week") === label ? { grain: "week", from: monday } : null;
	}
	return null;
}

/** Last local day of the period starting `from`. */
function periodEnd(from: string, grain: PeriodGrain): string {
	if (grain === "day") return from;
	if (grain === "week") return addDays(from, 6);
	return addDays(addMonths(from, grain === "month" ? 1 : 3), -1);
}

/**
 * Parses a period label for a report kind in the site's time zone; 400 naming `period` when it is
 * malformed, not a real period, or a grain the kind does not take.
 */
export function parsePeriod(kind: ReportKind, s: string, tz: string): ReportPeriod {
	const parsed = periodStart(s);
	const grains = KIND_GRAINS[kind];
	if (!parsed) throw invalid(`'${s}' is not a period; use ${grains.map((g) => EXAMPLES[g]).join(", ")}`);
	if (!grains.includes(parsed.grain)) throw invalid(`a ${kind} report covers a ${grains.join(", ")}: e.g. ${grains.map((g) => EXAMPLES[g]).join(", ")}`);
	const to = periodEnd(parsed.from, parsed.grain);
	return { label: s, grain: parsed.grain, from: parsed.from, to, tz, start: dayStart(parsed.from, tz), end: dayStart(addDays(to, 1), tz) };
}

/** 422 naming `period` when the period has not started at `now` (a report of the future has no data). */
export function requireStarted(p: ReportPeriod, now: number): void {
	if (now < p.start) throw new ApiError(422, "period_not_started", `the period ${p.label} has not started yet (${p.tz})`, [{ field: "period", message: `starts ${p.from} in ${p.tz}` }]);
}

/** The period of the same grain just before `p`. */
export function previousPeriod(p: ReportPeriod): ReportPeriod {
	const from = p.grain === "day" ? addDays(p.from, -1) : p.grain === "week" ? addDays(p.from, -7) : addMonths(p.from, p.grain === "month" ? -1 : -3);
	const label = bucketLabel(from, p.grain);
	const to = periodEnd(from, p.grain);
	return { label, grain: p.grain, from, to, tz: p.tz, start: dayStart(from, p.tz), end: p.start };
}

/** The label of the last complete period of a grain at `now` (the default a schedule or a caller without `period=` gets). */
export function lastCompletePeriod(grain: PeriodGrain, today: string): string {
	const current = bucketStart(today, grain);
	return bucketLabel(bucketStart(addDays(current, -1), grain), grain);
}
