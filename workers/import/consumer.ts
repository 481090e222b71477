/**
 * Queue handler for `b2g-imports`. Two kinds of message:
 * - a slice `{job, offset}`: one slice of an import. A malformed file (bad CSV header) fails the job at
 *   once; other errors retry with backoff, and the last failed attempt marks the job failed.
 * - a rollup refresh `{rollup: site}`: when the last of a site's imports finishes, its KPI rollups are
 *   brought up to date a few seconds later, in bounded steps (each step queues the next), so a
 *   multi-file load re-rolls once at the end and no step holds the database for long.
 */
import { z } from "zod";
import { refreshRollups } from "../metrics/rollup";
import { releaseImportFile } from "../privacy/import-files";
import { ImportFormatError } from "./parse";
import { failJob, processSlice, sliceMessageSchema } from "./slice";

export const IMPORTS_QUEUE = "b2g-imports";
/** Matches max_retries in wrangler.toml: attempts counts from 1. */
const MAX_ATTEMPTS = 6;
/** Wait after the last import before re-rolling (a loader often starts its next file within this). */
const ROLLUP_DELAY_SECONDS = 5;
/** Dirty hours per refresh step. */
const ROLLUP_STEP_HOURS = 4000;

export const rollupMessageSchema = z.strictObject({ rollup: z.string() });

export async function consumeImports(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	for (const msg of batch.messages) {
		const rollup = rollupMessageSchema.safeParse(msg.body);
		if (rollup.success) {
			await refreshStep(env, rollup.data.rollup);
			msg.ack();
			continue;
		}
		const parsed = sliceMessageSchema.safeParse(msg.body);
		if (!parsed.success) {
			console.error("dropping malformed import message", JSON.stringify(msg.body));
			msg.ack();
			continue;
		}
		try {
			const result = await processSlice(env, parsed.data);
			// The raw file (plaintext PII included) is not needed once the job is over.
			if (result.done) await releaseImportFile(env, parsed.data.job);
			msg.ack();
			if (result.finishedSite && !(await importsPending(env.DB, result.finishedSite))) {
				await env.IMPORTS_QUEUE.send({ rollup: result.finishedSite } satisfies z.infer<typeof rollupMessageSchema>, { contentType: "json", delaySeconds: ROLLUP_DELAY_SECONDS });
			}
		} catch (err) {
			const message = err instanceof Error ? err.message : String(err);
			console.error(`import ${parsed.data.job} slice at ${parsed.data.offset} failed (attempt ${msg.attempts})`, message);
			// A broken file will not get better by retrying.
			if (err instanceof ImportFormatError || msg.attempts >= MAX_ATTEMPTS) {
				await failJob(env.DB, parsed.data.job, message);
				await releaseImportFile(env, parsed.data.job);
				msg.ack();
			} else msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
		}
	}
}

/**
 * One bounded rollup refresh. Skipped while another import of the site is pending (its own finish
 * queues the next refresh); queues a follow-up step while dirty hours remain. Failures are left to
 * the cron sweep and the next KPI query, which re-roll the same hours.
 */
async function refreshStep(env: Env, site: string): Promise<void> {
	if (await importsPending(env.DB, site)) return;
	const result = await refreshRollups(env, site, ROLLUP_STEP_HOURS);
	if (result?.remaining) await env.IMPORTS_QUEUE.send({ rollup: site } satisfies z.infer<typeof rollupMessageSchema>, { contentType: "json" });
}

/** Whether a site still has an import uploading, queued or running. */
async function importsPending(db: D1Database, site: string): Promise<boolean> {
	return (await db.prepare("SELECT 1 AS x FROM import_jobs WHERE site = ? AND status IN ('uploading', 'queued', 'running') LIMIT 1").bind(site).first()) !== null;
}
