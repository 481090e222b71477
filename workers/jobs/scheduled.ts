/**
 * Cron (every 10 minutes): the archive sweeper, salt rotation and webhook replay-record pruning. Nightly analytics jobs join here.
 */
import { archiveEvents, unarchived } from "../pipeline/archive";
import { pruneDeliveries } from "../commerce/webhooks";
import { pruneSalts } from "../ingest/visitor";

/** Events stored this long ago but still not in R2 are archived by the sweeper (the consumer normally does it within seconds). */
export const SWEEP_AFTER_MS = 10 * 60_000;
const SWEEP_LIMIT = 5_000;

export interface MaintenanceReport {
	swept: number;
	objects: number;
	saltsPruned: number;
	webhookDeliveriesPruned: number;
}

export async function runMaintenance(env: Env, now: number): Promise<MaintenanceReport> {
	const refs = await unarchived(env.DB, now - SWEEP_AFTER_MS, SWEEP_LIMIT);
	const objects = refs.length ? await archiveEvents(env.DB, env.ARCHIVE, refs, now) : 0;
	const saltsPruned = await pruneSalts(env.DB, now);
	const webhookDeliveriesPruned = await pruneDeliveries(env.DB, now);
	return { swept: refs.length, objects, saltsPruned, webhookDeliveriesPruned };
}
