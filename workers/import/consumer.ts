/**
 * Queue handler for `b2g-imports`: one message = one slice. A malformed file (bad CSV header) fails
 * the job at once; other errors retry with backoff, and the last failed attempt marks the job failed.
 */
import { ImportFormatError } from "./parse";
import { refreshRollups } from "../metrics/rollup";
import { failJob, processSlice, sliceMessageSchema } from "./slice";

export const IMPORTS_QUEUE = "b2g-imports";
/** Matches max_retries in wrangler.toml: attempts counts from 1. */
const MAX_ATTEMPTS = 6;

export async function consumeImports(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	for (const msg of batch.messages) {
		const parsed = sliceMessageSchema.safeParse(msg.body);
		if (!parsed.success) {
			console.error("dropping malformed import message", JSON.stringify(msg.body));
			msg.ack();
			continue;
		}
		try {
			const result = await processSlice(env, parsed.data);
			msg.ack();
			// The last of a site's running imports to finish brings its KPI rollups up to date (once, not
			// after every job of a multi-file load; anything left, the cron sweep and the next query finish).
			if (result.finishedSite && !(await importsPending(env.DB, result.finishedSite))) await refreshRollups(env, result.finishedSite);
		} catch (err) {
			const message = err instanceof Error ? err.message : String(err);
			console.error(`import ${parsed.data.job} slice at ${parsed.data.offset} failed (attempt ${msg.attempts})`, message);
			// A broken file will not get better by retrying.
			if (err instanceof ImportFormatError || msg.attempts >= MAX_ATTEMPTS) {
				await failJob(env.DB, parsed.data.job, message);
				msg.ack();
			} else msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
		}
	}
}

/** Whether a site still has an import queued or running. */
async function importsPending(db: D1Database, site: string): Promise<boolean> {
	return (await db.prepare("SELECT 1 AS x FROM import_jobs WHERE site = ? AND status IN ('uploading', 'queued', 'running') LIMIT 1").bind(site).first()) !== null;
}
