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
			// A finished import brings the site's KPI rollups up to date (what is left, cron finishes).
			if (result.finishedSite) await refreshRollups(env, result.finishedSite);
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
