/**
 * Retention (issue 14 item 12): for every site with `retention_days` = N, the cron deletes the raw
 * events older than N whole UTC days from D1 and the R2 archive objects of those days
 * (`raw/site=<site>/dt=<day>/…`, workers/pipeline/archive.ts), a bounded amount per fire; a backlog
 * is worked off over the following fires. The KPI rollups are kept: the numbers of purged days stay.
 *
 * - The cutoff is UTC midnight N days before today's, so D1 and R2 agree: an archive object holds the
 *   events of one UTC hour, and every hour before the cutoff is wholly expired.
 * - Rollups are never rebuilt from what is left: `events` has no delete trigger (0005_rollups.sql: events
 *   are insert-only), so a purge marks nothing dirty. The other way round, a rollup still owed to old
 *   raw rows (a dirty `web` hour near or before the cutoff, e.g. right after a backfill import) must be
 *   computed before they go: such a site's event purge waits for the rollup sweep (which runs first in
 *   the same cron) and is reported as deferred. The margin is 48 h because re-rolling a local day reads
 *   from 6 h before its start (sessions) and a local day starts at most ~31 h before one of its hours.
 * - N is at least 8: /e accepts events up to 7 days old (+1 day clock skew), so live traffic can never
 *   land in a purged day, and the accepted-ids ledger (8 days) has forgotten them already.
 * - Idempotent: a repeat finds nothing older than the cutoff. Partial failure leaves a later fire to finish.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;

export const MIN_RETENTION_DAYS = 8;
export const MAX_RETENTION_DAYS = 36_500;

/** Per cron fire, over all sites: D1 rows deleted, in statements of at most EVENTS_PER_STATEMENT rows. */
export const PURGE_EVENTS_PER_FIRE = 20_000;
export const EVENTS_PER_STATEMENT = 5_000;
/** Per cron fire, over all sites: R2 objects deleted (R2 deletes up to 1,000 keys per call). */
export const PURGE_OBJECTS_PER_FIRE = 1_000;
/** Dirty `web` hours this close after the cutoff (or before it) make the event purge wait. */
const DIRTY_MARGIN_HOURS = 48;

export interface RetentionReport {
	/** Sites with a retention policy. */
	sites: number;
	/** Raw event rows deleted from D1. */
	events: number;
	/** Archive objects deleted from R2. */
	objects: number;
	/** Sites whose event purge waited for dirty rollup hours (their objects were still purged). */
	deferred: string[];
	/** True when a limit stopped this fire: more is left for the next one. */
	more: boolean;
}

export interface RetentionLimits {
	events?: number;
	objects?: number;
	eventsPerStatement?: number;
}

/** UTC epoch ms before which a site's raw data is expired: today's UTC midnight minus `days` days. */
export function retentionCutoff(now: number, days: number): number {
	return Math.floor(now / DAY) * DAY - days * DAY;
}

/** Runs one bounded purge over every site with a retention policy. */
export async function purgeExpired(env: Env, now: number, limits: RetentionLimits = {}): Promise<RetentionReport> {
	const perStatement = limits.eventsPerStatement ?? EVENTS_PER_STATEMENT;
	let eventsLeft = limits.events ?? PURGE_EVENTS_PER_FIRE;
	let objectsLeft = limits.objects ?? PURGE_OBJECTS_PER_FIRE;
	const sites = await env.DB.prepare("SELECT id, retention_days AS days FROM sites WHERE retention_days IS NOT NULL ORDER BY id").all<{ id: string; days: number }>();
	const report: RetentionReport = { sites: sites.results.length, events: 0, objects: 0, deferred: [], more: false };

	for (const { id: site, days } of sites.results) {
		const cutoff = retentionCutoff(now, days);

		// R2: keys sort by dt (YYYY-MM-DD), so the expired ones come first; stop at the first kept day.
		const cutoffDay = new Date(cutoff).toISOString().slice(0, 10);
		const prefix = `raw/site=${site}/dt=`;
		let startAfter: string | undefined;
		while (objectsLeft > 0) {
			const page = await env.ARCHIVE.list({ prefix, startAfter, limit: Math.min(1000, objectsLeft) });
			const expired = page.objects.map((o) => o.key).filter((k) => k.slice(prefix.length, prefix.length + 10) < cutoffDay);
			if (expired.length) await env.ARCHIVE.delete(expired);
			report.objects += expired.length;
			objectsLeft -= expired.length;
			if (expired.length < page.objects.length || !page.truncated) break;
			startAfter = expired.at(-1);
		}
		if (objectsLeft <= 0) report.more = true;

		// D1: only once no rollup still needs the rows (see the module comment).
		const dirty = await env.DB.prepare("SELECT 1 AS d FROM rollup_dirty WHERE site = ? AND source = 'web' AND hour < ? LIMIT 1")
			.bind(site, Math.floor(cutoff / HOUR) + DIRTY_MARGIN_HOURS)
			.first();
		if (dirty) {
			report.deferred.push(site);
			continue;
		}
		const remove = env.DB.prepare("DELETE FROM events WHERE site = ? AND id IN (SELECT id FROM events WHERE site = ? AND ts < ? LIMIT ?) RETURNING id");
		while (eventsLeft > 0) {
			const n = Math.min(perStatement, eventsLeft);
			// RETURNING counts the rows themselves (meta.changes would also count any trigger's writes).
			const deleted = (await remove.bind(site, site, cutoff, n).all()).results.length;
			report.events += deleted;
			eventsLeft -= deleted;
			if (deleted < n) break;
		}
		if (eventsLeft <= 0) report.more = true;
	}
	return report;
}
