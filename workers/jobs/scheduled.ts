/**
 * Cron (every 10 minutes): the archive sweeper, salt rotation, webhook replay-record pruning, a
 * watchdog that re-queues import slices whose message was lost, and pruning of the audit log (400 days)
 * and of ended login tokens and sessions, and the KPI rollup sweep and the funnel rollup sweep, then the retention purge (workers/jobs/retention.ts); each site's daily data reconciliation once
 * its previous day is over (workers/quality/reconcile.ts); then alert rules of every site and
 * re-queueing of alert deliveries whose message was lost; last, each site's nightly analytics run once its
 * local clock has passed 03:00 (workers/jobs/nightly.ts; started once per site and day), and the scheduled
 * reports due by now (workers/reports/deliver.ts; each subscription's period claimed once); last, the R2 archive
 * compaction of days that ended more than a day ago (workers/pipeline/compact.ts, bounded per fire).
 */
import { resumeStalledDeliveries } from "../alerts/delivery";
import { evaluateAllSites } from "../alerts/evaluate";
import { pruneAudit } from "../auth/audit";
import { pruneLogins } from "../auth/users";
import { archiveEvents, unarchived } from "../pipeline/archive";
import { compactArchive, type CompactionReport } from "../pipeline/compact";
import { pruneDeliveries } from "../commerce/webhooks";
import { resumeStalledImports } from "../import/slice";
import { pruneImportFiles } from "../privacy/import-files";
import { sweepRollups } from "../metrics/rollup";
import { sweepFunnels } from "../funnels/rollup";
import { sweepJourneys } from "../customers/journey-rollup";
import { pruneSalts } from "../ingest/visitor";
import { scheduleReports, type ScheduleReport } from "../reports/deliver";
import { reconcileDue } from "../quality/reconcile";
import { scheduleNightly } from "./nightly";
import { purgeExpired, type RetentionReport } from "./retention";

/** Events stored this long ago but still not in R2 are archived by the sweeper (the consumer normally does it within seconds). */
export const SWEEP_AFTER_MS = 10 * 60_000;
const SWEEP_LIMIT = 5_000;

export interface MaintenanceReport {
	swept: number;
	objects: number;
	saltsPruned: number;
	webhookDeliveriesPruned: number;
	importsResumed: number;
	/** Raw import files deleted from R2 IMPORT_FILE_RETENTION_DAYS after their job ended (workers/privacy/import-files.ts). */
	importFilesPruned: number;
	/** Audit rows older than 400 days. */
	auditPruned: number;
	/** Login tokens and dashboard sessions that ended more than a day ago. */
	loginsPruned: number;
	/** KPI rollup (source, day) pairs recomputed from dirty hours. */
	rollupDays: number;
	/** Funnel rollup (definition, day) pairs recomputed (workers/funnels/rollup.ts), after the KPI sweep handed them its changed web hours. */
	funnelRollupDays: number;
	/** Journey rollup days recomputed (workers/customers/journey-rollup.ts), after the KPI sweep handed them its changed web hours. */
	journeyRollupDays: number;
	/** Sites whose previous day's data reconciliation and data-quality re-check ran (workers/quality/reconcile.ts), and failures. */
	dataReconciliations: { sites: number; failed: number };
	/** Alert rules evaluated for every site (after the rollup sweep): sites done and failed, incidents opened and resolved, notifications queued. */
	alerts: { sites: number; failed: number; opened: number; resolved: number; notifications: number };
	/** Alert deliveries whose queue message was lost, queued again. */
	alertDeliveriesResumed: number;
	/** Nightly analytics runs started by this fire (instance ids). */
	nightlyStarted: string[];
	/** Retention: raw events (D1) and archive objects (R2) older than each site's retention_days, purged in bounded amounts (workers/jobs/retention.ts). */
	retention: RetentionReport;
	/** Scheduled reports: enabled subscriptions, periods claimed and queued by this fire, lost sends queued again. */
	reports: ScheduleReport;
	/** R2 archive compaction: days merged into one object, objects removed and written (workers/pipeline/compact.ts). */
	compaction: CompactionReport;
}

export async function runMaintenance(env: Env, now: number): Promise<MaintenanceReport> {
	const refs = await unarchived(env.DB, now - SWEEP_AFTER_MS, SWEEP_LIMIT);
	const objects = refs.length ? await archiveEvents(env.DB, env.ARCHIVE, refs, now) : 0;
	const saltsPruned = await pruneSalts(env.DB, now);
	const webhookDeliveriesPruned = await pruneDeliveries(env.DB, now);
	const importsResumed = await resumeStalledImports(env, now);
	const importFilesPruned = await pruneImportFiles(env, now);
	const auditPruned = await pruneAudit(env.DB, now);
	const loginsPruned = await pruneLogins(env.DB, now);
	const rollupDays = await sweepRollups(env);
	const funnelRollupDays = await sweepFunnels(env, now);
	const journeyRollupDays = await sweepJourneys(env, now);
	// After the rollup sweep: raw rows still owed to a rollup are rolled up before any purge.
	const retention = await purgeExpired(env, now);
	// Before the alert rules, so the data_health rule reads the day just reconciled.
	const dataReconciliations = await reconcileDue(env, now);
	const alerts = await evaluateAllSites(env, now);
	const alertDeliveriesResumed = await resumeStalledDeliveries(env, now);
	const nightlyStarted = await scheduleNightly(env, now);
	const reports = await scheduleReports(env, now);
	const compaction = await compactArchive(env, now);
	return { swept: refs.length, objects, saltsPruned, webhookDeliveriesPruned, importsResumed, importFilesPruned, auditPruned, loginsPruned, rollupDays, funnelRollupDays, journeyRollupDays, dataReconciliations, alerts, alertDeliveriesResumed, nightlyStarted, reports, retention, compaction };
}
