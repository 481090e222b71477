/**
 * Schedule maths of report subscriptions (workers/reports/schedule.ts), pure. Every expected instant is
 * worked out by hand from the zone's offsets and its 2026 DST rules (IANA tzdata):
 * - America/Los_Angeles: PST −08:00, PDT −07:00; DST from Sun 2026-03-08 02:00 PST (10:00Z) to Sun
 *   2026-11-01 02:00 PDT (09:00Z);
 * - Europe/Berlin: CET +01:00, CEST +02:00; from Sun 2026-03-29 02:00 CET (01:00Z) to Sun 2026-10-25
 *   03:00 CEST (01:00Z);
 * - Asia/Kolkata: IST +05:30, no DST;
 * - Pacific/Auckland: NZST +12:00, NZDT +13:00; NZDT ends Sun 2026-04-05 03:00 NZDT (14:00Z on 04-04)
 *   and starts Sun 2026-09-27 02:00 NZST (14:00Z on 09-26).
 * ISO weeks: 2026-01-01 is a Thursday, so 2026-W01 starts Mon 2025-12-29 and 2026 has 53 weeks
 * (2026-W53 = 2026-12-28 … 2027-01-03).
 */
import { describe, expect, it } from "vitest";
import { isoWeekLabel, latestDue, latestSendAt, nextSendAt, periodOf, zonedInstant, type Schedule } from "../workers/reports/schedule";

const T = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const daily = (timezone: string, sendTime = "08:00"): Schedule => ({ cadence: "daily", sendTime, timezone, weekday: 1, dayOfMonth: 1 });
const weekly = (timezone: string, weekday: number, sendTime = "08:00"): Schedule => ({ cadence: "weekly", sendTime, timezone, weekday, dayOfMonth: 1 });
const monthly = (timezone: string, dayOfMonth: number, sendTime = "08:00"): Schedule => ({ cadence: "monthly", sendTime, timezone, weekday: 1, dayOfMonth });

describe("zonedInstant: local wall-clock time → UTC", () => {
	it("ordinary times: Berlin in winter and summer, Kolkata's half-hour offset, Auckland in summer", () => {
		expect(iso(zonedInstant("2026-12-03", "08:00", "Europe/Berlin"))).toBe("2026-12-03T07:00:00.000Z"); // CET +1
		expect(iso(zonedInstant("2026-07-03", "08:00", "Europe/Berlin"))).toBe("2026-07-03T06:00:00.000Z"); // CEST +2
		expect(iso(zonedInstant("2026-12-01", "08:00", "Asia/Kolkata"))).toBe("2026-12-01T02:30:00.000Z"); // +5:30
		expect(iso(zonedInstant("2026-12-03", "08:00", "Pacific/Auckland"))).toBe("2026-12-02T19:00:00.000Z"); // NZDT +13
	});

	it("spring forward: a time that does not exist sends at the first valid instant after it, the jump itself", () => {
		// Los Angeles 2026-03-08: 02:00 PST becomes 03:00 PDT at 10:00Z; 02:30 does not exist.
		expect(iso(zonedInstant("2026-03-08", "02:30", "America/Los_Angeles"))).toBe("2026-03-08T10:00:00.000Z");
		// Berlin 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z.
		expect(iso(zonedInstant("2026-03-29", "02:30", "Europe/Berlin"))).toBe("2026-03-29T01:00:00.000Z");
		// Auckland 2026-09-27: 02:00 NZST becomes 03:00 NZDT at 14:00Z the day before.
		expect(iso(zonedInstant("2026-09-27", "02:30", "Pacific/Auckland"))).toBe("2026-09-26T14:00:00.000Z");
		// The hour after the gap is ordinary: 03:30 PDT = 10:30Z.
		expect(iso(zonedInstant("2026-03-08", "03:30", "America/Los_Angeles"))).toBe("2026-03-08T10:30:00.000Z");
	});

	it("fall back: a time that exists twice sends at its first occurrence", () => {
		// Los Angeles 2026-11-01: 01:30 PDT (08:30Z) and 01:30 PST (09:30Z).
		expect(iso(zonedInstant("2026-11-01", "01:30", "America/Los_Angeles"))).toBe("2026-11-01T08:30:00.000Z");
		// Berlin 2026-10-25: 02:30 CEST (00:30Z) and 02:30 CET (01:30Z).
		expect(iso(zonedInstant("2026-10-25", "02:30", "Europe/Berlin"))).toBe("2026-10-25T00:30:00.000Z");
		// Auckland 2026-04-05: 02:30 NZDT (13:30Z on 04-04) and 02:30 NZST (14:30Z).
		expect(iso(zonedInstant("2026-04-05", "02:30", "Pacific/Auckland"))).toBe("2026-04-04T13:30:00.000Z");
	});
});

describe("latest due send and its period", () => {
	it("daily, Berlin 08:00: before 08:00 the due send is yesterday's; at 08:00 today's, covering yesterday", () => {
		const s = daily("Europe/Berlin");
		expect(latestDue(s, T("2026-12-03T06:59:59Z"))).toEqual({ sendAt: T("2026-12-02T07:00:00Z"), period: "2026-12-01" });
		expect(latestDue(s, T("2026-12-03T07:00:00Z"))).toEqual({ sendAt: T("2026-12-03T07:00:00Z"), period: "2026-12-02" });
		expect(latestDue(s, T("2026-12-03T22:30:00Z"))).toEqual({ sendAt: T("2026-12-03T07:00:00Z"), period: "2026-12-02" });
		expect(nextSendAt(s, T("2026-12-03T07:00:00Z"))).toBe(T("2026-12-04T07:00:00Z"));
	});

	it("daily across Los Angeles' spring forward: 02:30 sends at 03:00 PDT on 03-08, and each day once", () => {
		const s = daily("America/Los_Angeles", "02:30");
		expect(latestDue(s, T("2026-03-08T09:59:59Z"))).toEqual({ sendAt: T("2026-03-07T10:30:00Z"), period: "2026-03-06" }); // 02:30 PST
		expect(latestDue(s, T("2026-03-08T10:00:00Z"))).toEqual({ sendAt: T("2026-03-08T10:00:00Z"), period: "2026-03-07" });
		expect(nextSendAt(s, T("2026-03-08T10:00:00Z"))).toBe(T("2026-03-09T09:30:00Z")); // 02:30 PDT
	});

	it("daily across Los Angeles' fall back: 01:30 sends at the first 01:30 only; the second one is not another send", () => {
		const s = daily("America/Los_Angeles", "01:30");
		expect(latestDue(s, T("2026-11-01T08:30:00Z"))).toEqual({ sendAt: T("2026-11-01T08:30:00Z"), period: "2026-10-31" });
		// At the second 01:30 (PST) the latest send is still the first one: the same period.
		expect(latestDue(s, T("2026-11-01T09:45:00Z"))).toEqual({ sendAt: T("2026-11-01T08:30:00Z"), period: "2026-10-31" });
		expect(nextSendAt(s, T("2026-11-01T08:30:00Z"))).toBe(T("2026-11-02T09:30:00Z")); // 01:30 PST
	});

	it("weekly on Sunday 02:30 across Berlin's DST changes: covers the ISO week before", () => {
		const s = weekly("Europe/Berlin", 7, "02:30");
		// 2026-03-29 is the Sunday of 2026-W13 (03-23 … 03-29); 02:30 does not exist, the send is at 03:00 CEST.
		expect(latestDue(s, T("2026-03-29T01:00:00Z"))).toEqual({ sendAt: T("2026-03-29T01:00:00Z"), period: "2026-W12" });
		expect(latestDue(s, T("2026-03-29T00:59:59Z"))).toEqual({ sendAt: T("2026-03-22T01:30:00Z"), period: "2026-W11" }); // 02:30 CET
		// 2026-10-25, Sunday of W43: the first 02:30 (CEST, 00:30Z).
		expect(latestDue(s, T("2026-10-25T01:45:00Z"))).toEqual({ sendAt: T("2026-10-25T00:30:00Z"), period: "2026-W42" });
	});

	it("weekly on Monday 08:00 in Auckland covers the Auckland ISO week before, sent on Sunday in UTC", () => {
		const s = weekly("Pacific/Auckland", 1);
		// Mon 2026-11-30 08:00 NZDT = Sun 2026-11-29 19:00Z; the week before is 11-23 … 11-29 = 2026-W48.
		expect(latestDue(s, T("2026-11-29T19:00:00Z"))).toEqual({ sendAt: T("2026-11-29T19:00:00Z"), period: "2026-W48" });
		expect(latestDue(s, T("2026-11-29T18:59:00Z"))).toEqual({ sendAt: T("2026-11-22T19:00:00Z"), period: "2026-W47" });
		// For a site in UTC the same instant is Sunday 11-29, inside W48: the latest complete UTC week is W47.
		expect(latestDue(s, T("2026-11-29T19:00:00Z"), "UTC")).toEqual({ sendAt: T("2026-11-29T19:00:00Z"), period: "2026-W47" });
	});

	it("monthly on the 1st at 08:00 in Kolkata covers the month before", () => {
		const s = monthly("Asia/Kolkata", 1);
		expect(latestDue(s, T("2026-12-01T02:30:00Z"))).toEqual({ sendAt: T("2026-12-01T02:30:00Z"), period: "2026-11" });
		expect(latestDue(s, T("2026-12-01T02:29:59Z"))).toEqual({ sendAt: T("2026-11-01T02:30:00Z"), period: "2026-10" });
		expect(nextSendAt(s, T("2026-12-01T02:30:00Z"))).toBe(T("2027-01-01T02:30:00Z"));
	});

	it("monthly on the 31st sends on a shorter month's last day", () => {
		const s = monthly("Europe/Berlin", 31);
		// February 2026 has 28 days: Sat 02-28 08:00 CET = 07:00Z, covering January.
		expect(latestDue(s, T("2026-03-15T00:00:00Z"))).toEqual({ sendAt: T("2026-02-28T07:00:00Z"), period: "2026-01" });
		// April has 30: 04-30 08:00 CEST = 06:00Z.
		expect(nextSendAt(s, T("2026-04-01T00:00:00Z"))).toBe(T("2026-04-30T06:00:00Z"));
	});

	it("year boundaries: the 53rd ISO week of 2026 and December", () => {
		expect(isoWeekLabel("2026-12-28")).toBe("2026-W53");
		expect(isoWeekLabel("2027-01-03")).toBe("2026-W53");
		expect(isoWeekLabel("2027-01-04")).toBe("2027-W01");
		expect(isoWeekLabel("2025-12-29")).toBe("2026-W01");
		// Mon 2027-01-04 08:00 UTC covers 2026-W53; Fri 2027-01-01 08:00 covers 2026-12.
		expect(latestDue(weekly("UTC", 1), T("2027-01-04T08:00:00Z")).period).toBe("2026-W53");
		expect(latestDue(monthly("UTC", 1), T("2027-01-01T08:00:00Z")).period).toBe("2026-12");
		expect(periodOf("daily", T("2027-01-01T00:00:00Z"), "UTC")).toBe("2026-12-31");
	});

	it("after downtime the latest due send is the newest one only (catch-up sends one period, not each missed one)", () => {
		const s = daily("Europe/Berlin");
		// Last fire on 12-03 at 07:00Z (period 12-02); the next fire is three days later at 12:00Z.
		expect(latestSendAt(s, T("2026-12-06T12:00:00Z"))).toBe(T("2026-12-06T07:00:00Z"));
		expect(latestDue(s, T("2026-12-06T12:00:00Z")).period).toBe("2026-12-05");
	});
});
