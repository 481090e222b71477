/**
 * Data reconciliation of one site and day (issue 14, item 14), stored so GET /api/v1/health/data is a
 * read, and recomputed by the cron once the day is over:
 *  - tracker events of the UTC day (as GET /api/v1/health/pipeline): accepted by /e + imported, both
 *    from the LiveSite ledger (summed over shards), = stored in D1 = archived in R2 (each object's
 *    `count` metadata). The live counters' flushed minutes (`live_minutes`, by receive minute) are
 *    shown beside them but not compared: a late event is counted live on the day it arrives.
 *  - orders of the site's local day: a direct COUNT and SUM(total − tax) over non-cancelled orders
 *    against the KPI rollup's whole-site row (kpi_sales_daily, channel = country = ''), after
 *    re-rolling the day's dirty hours — so a difference is a lost or damaged rollup row, not a pending one.
 *  - the data-quality issues detected that UTC day, by rule.
 */
import { z } from "zod";
import { countArchived } from "../pipeline/routes";
import { findSite, type Site } from "../lib/sites";
import { addDays, dayBounds } from "../metrics/calendar";
import { reroll } from "../metrics/rollup";
import { siteLedger } from "../realtime/shards";
import { recheckSite } from "./rules";
import { erasedEvents } from "../privacy/erase";

const DAY_MS = 86_400_000;
/** A day is reconciled for good this long after it ended (UTC and local): late queue retries and the 10-minute archive sweeper have run. */
export const GRACE_MS = 60 * 60_000;
/** Sites the cron reconciles per fire (every 10 minutes); the rest wait for the next fire. */
const SITES_PER_FIRE = 25;

export const eventFiguresSchema = z.object({
	accepted: z.number().int().describe("distinct event ids accepted by /e (LiveSite ledger)"),
	imported: z.number().int().describe("events stored by the bulk import (LiveSite ledger)"),
	stored: z.number().int().describe("events in D1"),
	archived: z.number().int().describe("events in the R2 raw archive (sum of the objects' count metadata)"),
	archive_objects: z.number().int(),
	pending_archive: z.number().int().describe("stored in D1, not yet stamped as archived"),
	erased: z.number().int().default(0).describe("events removed by GDPR erasures (counted by the ledger, gone from D1 and R2)"),
	missing_in_d1: z.number().int().describe("accepted + imported − stored − erased (negative: more stored than accepted)"),
	missing_in_r2: z.number().int().describe("stored − archived"),
	live_counted: z.number().int().describe("events counted by the live counters in the day's receive minutes (flushed minutes; informational, not compared)"),
	reconciled: z.boolean().describe("accepted + imported = stored = archived"),
});

export const orderFiguresSchema = z.object({
	local_day: z.string().describe("the site's local day the rollup row belongs to"),
	orders: z.number().int().describe("non-cancelled orders placed on the local day, counted in D1"),
	revenue_minor: z.number().int().describe("their Σ(total − tax), minor units (the rollup's revenue definition)"),
	rollup_orders: z.number().int().describe("kpi_sales_daily's whole-site row"),
	rollup_revenue_minor: z.number().int(),
	reconciled: z.boolean().describe("orders = rollup_orders and revenue = rollup_revenue"),
});

export const dayReportSchema = z.object({
	date: z.string().describe("YYYY-MM-DD: the UTC day of the events, the local day of the orders"),
	computed_at: z.number().int().describe("UTC ms"),
	final: z.boolean().describe("computed after the day ended (+1 h grace); false: provisional, the cron recomputes it"),
	reconciled: z.boolean(),
	events: eventFiguresSchema,
	orders: orderFiguresSchema,
	quality: z.object({
		detected: z.number().int().describe("data-quality issues first detected (or reopened) on this UTC day and still open"),
		by_rule: z.record(z.string(), z.number().int()),
	}),
});
export type DayReport = z.infer<typeof dayReportSchema>;

/** When a day's reconciliation becomes final: its UTC day and its local day are both over, plus the grace. */
export function finalAt(day: string, timeZone: string): number {
	return Math.max(Date.parse(`${day}T00:00:00Z`) + DAY_MS, dayBounds(day, timeZone)[1]) + GRACE_MS;
}

/** Computes one day's reconciliation (no write). */
export async function reconcileDay(env: Env, site: Site, day: string, now: number): Promise<DayReport> {
	const start = Date.parse(`${day}T00:00:00Z`);
	const [localStart, localEnd] = dayBounds(day, site.timezone);
	// Pending dirty hours would make a fresh order look like a rollup fault: roll the day first (as /kpis does).
	await reroll(env.DB, site, { from: day, to: day });
	const [ledger, archived, d1, erased] = await Promise.all([
		siteLedger(env, site.id, site.liveShards, day),
		countArchived(env.ARCHIVE, `raw/site=${site.id}/dt=${day}/`),
		env.DB.batch([
			env.DB.prepare("SELECT COUNT(*) AS stored, COALESCE(SUM(archived_at IS NULL), 0) AS unarchived FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3").bind(site.id, start, start + DAY_MS),
			env.DB.prepare("SELECT COALESCE(SUM(events), 0) AS live FROM live_minutes WHERE site = ?1 AND minute >= ?2 AND minute < ?3").bind(site.id, start, start + DAY_MS),
			env.DB.prepare("SELECT COUNT(*) AS orders, COALESCE(SUM(total_minor - tax_minor), 0) AS revenue FROM orders WHERE site = ?1 AND placed_at >= ?2 AND placed_at < ?3 AND status <> 'cancelled'").bind(
				site.id,
				localStart,
				localEnd,
			),
			env.DB.prepare("SELECT COALESCE(SUM(orders), 0) AS orders, COALESCE(SUM(revenue), 0) AS revenue FROM kpi_sales_daily WHERE site = ?1 AND day = ?2 AND channel = '' AND country = ''").bind(site.id, day),
			env.DB.prepare("SELECT kind, COUNT(*) AS n FROM data_issues WHERE site = ?1 AND resolved_at IS NULL AND detected_at >= ?2 AND detected_at < ?3 GROUP BY kind ORDER BY kind").bind(site.id, start, start + DAY_MS),
		]),
		erasedEvents(env.DB, site.id, day),
	]);
	const num = (r: D1Result | undefined, col: string) => Number((r?.results[0] as Record<string, unknown> | undefined)?.[col] ?? 0);
	const [ev, live, orders, rollup, issues] = d1;
	const stored = num(ev, "stored");
	const events = {
		accepted: ledger.accepted,
		imported: ledger.imported,
		stored,
		archived: archived.events,
		archive_objects: archived.objects,
		pending_archive: num(ev, "unarchived"),
		erased,
		missing_in_d1: ledger.accepted + ledger.imported - stored - erased,
		missing_in_r2: stored - archived.events,
		live_counted: num(live, "live"),
		reconciled: ledger.accepted + ledger.imported === stored + erased && stored === archived.events,
	};
	const o = {
		local_day: day,
		orders: num(orders, "orders"),
		revenue_minor: num(orders, "revenue"),
		rollup_orders: num(rollup, "orders"),
		rollup_revenue_minor: num(rollup, "revenue"),
		reconciled: false,
	};
	o.reconciled = o.orders === o.rollup_orders && o.revenue_minor === o.rollup_revenue_minor;
	const byRule = z.array(z.object({ kind: z.string(), n: z.number() })).parse(issues?.results ?? []);
	const byRuleMap = Object.fromEntries(byRule.map((r) => [r.kind, r.n]));
	return {
		date: day,
		computed_at: now,
		final: now >= finalAt(day, site.timezone),
		reconciled: events.reconciled && o.reconciled,
		events,
		orders: o,
		quality: { detected: byRule.reduce((a, r) => a + r.n, 0), by_rule: byRuleMap },
	};
}

/** Stores (replaces) a day's report. */
export async function storeReport(db: D1Database, site: string, r: DayReport): Promise<void> {
	await db
		.prepare(
			`INSERT INTO data_reconciliations (site, day, computed_at, reconciled, report) VALUES (?1, ?2, ?3, ?4, ?5)
			ON CONFLICT (site, day) DO UPDATE SET computed_at = excluded.computed_at, reconciled = excluded.reconciled, report = excluded.report`,
		)
		.bind(site, r.date, r.computed_at, r.reconciled ? 1 : 0, JSON.stringify(r))
		.run();
}

/** Stored reports of a site for days in [from, to], by day. */
export async function storedReports(db: D1Database, site: string, from: string, to: string): Promise<Map<string, DayReport>> {
	const rows = await db.prepare("SELECT day, report FROM data_reconciliations WHERE site = ?1 AND day >= ?2 AND day <= ?3").bind(site, from, to).all<{ day: string; report: string }>();
	const out = new Map<string, DayReport>();
	for (const r of rows.results) {
		const parsed = dayReportSchema.safeParse(JSON.parse(r.report));
		// A row in an older shape is recomputed, not shown half-read.
		if (parsed.success) out.set(r.day, parsed.data);
	}
	return out;
}

/**
 * The reports of [from, to]: stored ones when final, the others (missing, provisional, or all with
 * `refresh`) computed now and stored. Before computing, every order of the site is re-checked against
 * the data-quality rules once.
 */
export async function reportsFor(env: Env, site: Site, from: string, to: string, now: number, refresh = false): Promise<DayReport[]> {
	const stored = await storedReports(env.DB, site.id, from, to);
	const days: string[] = [];
	for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
	const stale = days.filter((d) => {
		const r = stored.get(d);
		return refresh || !r || !r.final;
	});
	if (stale.length) await recheckSite(env.DB, site.id, now);
	for (const d of stale) {
		const r = await reconcileDay(env, site, d, now);
		await storeReport(env.DB, site.id, r);
		stored.set(d, r);
	}
	return days.map((d) => stored.get(d) as DayReport);
}

/**
 * Cron: each site whose previous UTC day has no final reconciliation yet, and is due (finalAt), gets
 * its data-quality re-check and that day's reconciliation; at most SITES_PER_FIRE sites per fire.
 */
export async function reconcileDue(env: Env, now: number): Promise<{ sites: number; failed: number }> {
	const day = addDays(new Date(now).toISOString().slice(0, 10), -1);
	const rows = await env.DB.prepare("SELECT s.id, s.timezone, r.computed_at FROM sites s LEFT JOIN data_reconciliations r ON r.site = s.id AND r.day = ?1 ORDER BY s.id")
		.bind(day)
		.all<{ id: string; timezone: string; computed_at: number | null }>();
	// Due: the day is over for the site (finalAt), and no report was computed since it was.
	const due = rows.results.filter((s) => now >= finalAt(day, s.timezone) && (s.computed_at === null || s.computed_at < finalAt(day, s.timezone)));
	let sites = 0;
	let failed = 0;
	for (const { id } of due) {
		if (sites + failed >= SITES_PER_FIRE) break;
		try {
			const site = await findSite(env.DB, id, now);
			if (!site) continue;
			await reportsFor(env, site, day, day, now, true);
			sites++;
		} catch (err) {
			failed++;
			console.error(`data reconciliation of ${id} for ${day} failed; the next fire retries`, err instanceof Error ? err.message : err);
		}
	}
	return { sites, failed };
}

/** Latest final report of a site computed by `now` (what the alert rule reads). */
export async function latestFinalReport(db: D1Database, site: string, now: number): Promise<DayReport | null> {
	const rows = await db.prepare("SELECT report FROM data_reconciliations WHERE site = ?1 AND computed_at <= ?2 ORDER BY day DESC LIMIT 7").bind(site, now).all<{ report: string }>();
	for (const r of rows.results) {
		const parsed = dayReportSchema.safeParse(JSON.parse(r.report));
		if (parsed.success && parsed.data.final) return parsed.data;
	}
	return null;
}
