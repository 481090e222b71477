/**
 * Cron (every 10 minutes): the archive sweeper, salt rotation, webhook replay-record pruning, and a
 * watchdog that re-queues import slices whose message was lost. Nightly analytics jobs join here.
 */
import { archiveEvents, unarchived } from "../pipeline/archive";
import { pruneDeliveries } from "../commerce/webhooks";
import { resumeStalledImports } from "../import/slice";
import { pruneSalts } from "../ingest/visitor";

/** Events stored this long ago but still not in R2 are archived by the sweeper (the consumer normally does it within seconds). */
export const SWEEP_AFTER_MS = 10 * 60_000;
const SWEEP_LIMIT = 5_000;

export interface MaintenanceReport {
	swept: number;
	objects: number;
	saltsPruned: number;
	webhookDeliveriesPruned: number;
	importsResumed: number;
}

export async function runMaintenance(env: Env, now: number): Promise<MaintenanceReport> {
	const refs = await unarchived(env.DB, now - SWEEP_AFTER_MS, SWEEP_LIMIT);
	const objects = refs.length ? await archiveEvents(env.DB, env.ARCHIVE, refs, now) : 0;
	const saltsPruned = await pruneSalts(env.DB, now);
	const webhookDeliveriesPruned = await pruneDeliveries(env.DB, now);
	const importsResumed = await resumeStalledImports(env, now);
	return { swept: refs.length, objects, saltsPruned, webhookDeliveriesPruned, importsResumed };
}
