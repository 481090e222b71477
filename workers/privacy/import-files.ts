/**
 * Raw bulk-import files (`imports/site=…/<job>.<csv|ndjson>`) hold whatever the integrator sent — emails
 * and names included — in plaintext. They are only needed while their job runs: once it is done or
 * failed, the file is deleted, at once (IMPORT_FILE_RETENTION_DAYS = 0, the default) or that many days
 * later by the cron. `import_jobs.file_deleted_at` records it; the job row and its counts stay.
 */

const DAY_MS = 86_400_000;

type FilesEnv = Pick<Env, "DB" | "ARCHIVE"> & { IMPORT_FILE_RETENTION_DAYS?: string };
/** Files deleted per cron run (each is one R2 delete). */
const PRUNE_BATCH = 100;

/** Days a finished job's file is kept: IMPORT_FILE_RETENTION_DAYS, a whole number ≥ 0 (anything else counts as 0). */
export function importFileRetentionDays(env: { IMPORT_FILE_RETENTION_DAYS?: string }): number {
	const days = Number(env.IMPORT_FILE_RETENTION_DAYS ?? "0");
	return Number.isSafeInteger(days) && days > 0 ? days : 0;
}

async function deleteFiles(env: FilesEnv, jobs: { id: string; object_key: string }[], now: number): Promise<number> {
	if (!jobs.length) return 0;
	await env.ARCHIVE.delete(jobs.map((j) => j.object_key));
	const stamp = env.DB.prepare("UPDATE import_jobs SET file_deleted_at = ? WHERE id = ? AND file_deleted_at IS NULL");
	await env.DB.batch(jobs.map((j) => stamp.bind(now, j.id)));
	return jobs.length;
}

/** After a job finished or failed (import consumer): deletes its file now unless files are kept for some days. Idempotent. */
export async function releaseImportFile(env: FilesEnv, jobId: string, now = Date.now()): Promise<boolean> {
	if (importFileRetentionDays(env) > 0) return false;
	const job = await env.DB.prepare("SELECT id, object_key FROM import_jobs WHERE id = ? AND status IN ('done', 'failed') AND file_deleted_at IS NULL").bind(jobId).first<{ id: string; object_key: string }>();
	return (await deleteFiles(env, job ? [job] : [], now)) > 0;
}

/** Cron: deletes the files of jobs finished more than the retention ago (at most PRUNE_BATCH per run). Returns how many. */
export async function pruneImportFiles(env: FilesEnv, now = Date.now()): Promise<number> {
	const cutoff = now - importFileRetentionDays(env) * DAY_MS;
	const jobs = await env.DB.prepare("SELECT id, object_key FROM import_jobs WHERE status IN ('done', 'failed') AND file_deleted_at IS NULL AND finished_at <= ? LIMIT ?")
		.bind(cutoff, PRUNE_BATCH)
		.all<{ id: string; object_key: string }>();
	return deleteFiles(env, jobs.results, now);
}
