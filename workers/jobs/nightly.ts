/**
 * The nightly analytics run, a Cloudflare Workflow: one instance per (site, as-of day). Each analysis is
 * its own retried step that reads D1, calls the pure code in workers/analytics/ and replaces that day's
 * results (DELETE + INSERT in one batch, keyed by site and as_of), so a retried step or a rerun of the
 * same day leaves exactly one set of results. The last steps write a JSON snapshot of the run to R2 and
 * prune old per-customer rows.
 *
 * Who starts it: the cron (every 10 minutes, it starts a site's run for yesterday once the site's local
 * clock has passed 03:00: the instance id `nightly-<as_of>-<site>` makes a second or late fire a no-op and
 * a missed 03:00 is caught up by the next fire), `POST /api/v1/jobs/nightly/run` (admin, any day), and
 * `npm start` after seeding.
 */
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { actionsStep, churnStep, forecastStep, inventoryStep, recommendStep } from "../analytics/predict-steps";
import { ANALYSES, RFM_WINDOW_DAYS, snapshotRun, pruneScores, type StepResult, type RunContext } from "../analytics/steps";
import { addDays, dayBounds, localDay } from "../metrics/calendar";
import { findSite } from "../lib/sites";

export interface NightlyParams {
	site: string;
	/** The last complete local day the run sees (YYYY-MM-DD). */
	asOf: string;
	/** RFM window in days (default 365). */
	rfmWindowDays?: number;
}

/** Local hour after which the cron starts the run for yesterday. */
export const NIGHTLY_LOCAL_HOUR = 3;

/** The cron's instance id for a site and day (Workflow ids: letters, digits, - and _; ≤ 100 characters). */
export function nightlyId(site: string, asOf: string): string {
	return `nightly-${asOf}-${site}`;
}

/** The steps in order: the descriptive analyses, then the models that read their results (actions read churn, CLV and recommendations). */
const STEPS: readonly { name: string; run: (env: Env, ctx: RunContext) => Promise<StepResult> }[] = [
	...ANALYSES,
	{ name: "churn", run: churnStep },
	{ name: "recommend", run: recommendStep },
	{ name: "actions", run: actionsStep },
	{ name: "inventory", run: inventoryStep },
	{ name: "forecast", run: forecastStep },
];

const STEP_CONFIG = { retries: { limit: 3, delay: "10 seconds", backoff: "exponential" }, timeout: "15 minutes" } as const;

export class NightlyAnalytics extends WorkflowEntrypoint<Env, NightlyParams> {
	override async run(event: WorkflowEvent<NightlyParams>, step: WorkflowStep): Promise<{ steps: Record<string, StepResult> }> {
		const runId = event.instanceId;
		const { site: siteId, asOf, rfmWindowDays } = event.payload;
		const steps: Record<string, StepResult> = {};
		try {
			const ctx = await step.do("start", STEP_CONFIG, async (): Promise<RunContext> => {
				const site = await findSite(this.env.DB, siteId);
				if (!site) throw new Error(`unknown site '${siteId}'`);
				const now = Date.now();
				await this.env.DB.prepare(
					`INSERT INTO analytics_runs (id, site, as_of, trigger, status, created_at, started_at) VALUES (?1, ?2, ?3, 'manual', 'running', ?4, ?4)
					ON CONFLICT (id) DO UPDATE SET status = 'running', started_at = COALESCE(started_at, ?4), error = NULL`,
				)
					.bind(runId, site.id, asOf, now)
					.run();
				return { runId, site: site.id, timezone: site.timezone, currency: site.currency, asOf, cutoff: dayBounds(asOf, site.timezone)[1], rfmWindowDays: rfmWindowDays ?? RFM_WINDOW_DAYS };
			});
			for (const [position, analysis] of STEPS.entries()) {
				steps[analysis.name] = await step.do(analysis.name, STEP_CONFIG, () => recorded(this.env.DB, runId, position + 1, analysis.name, () => analysis.run(this.env, ctx)));
			}
			steps.snapshot = await step.do("snapshot", STEP_CONFIG, () => recorded(this.env.DB, runId, STEPS.length + 1, "snapshot", () => snapshotRun(this.env, ctx)));
			steps.prune = await step.do("prune", STEP_CONFIG, () => recorded(this.env.DB, runId, STEPS.length + 2, "prune", () => pruneScores(this.env, ctx)));
			await step.do("finish", STEP_CONFIG, async () => {
				await this.env.DB.prepare("UPDATE analytics_runs SET status = 'complete', finished_at = ?2, error = NULL WHERE id = ?1").bind(runId, Date.now()).run();
			});
		} catch (err) {
			const message = err instanceof Error ? err.message : String(err);
			await step.do("fail", async () => {
				await this.env.DB.prepare("UPDATE analytics_runs SET status = 'errored', finished_at = ?2, error = ?3 WHERE id = ?1").bind(runId, Date.now(), message.slice(0, 1000)).run();
			});
			throw err;
		}
		return { steps };
	}
}

/** Runs one step attempt and records it in analytics_run_steps: status, attempts, duration, rows, error. */
async function recorded(db: D1Database, runId: string, position: number, name: string, work: () => Promise<StepResult>): Promise<StepResult> {
	const started = Date.now();
	await db
		.prepare(
			`INSERT INTO analytics_run_steps (run_id, step, position, status, attempts, started_at) VALUES (?1, ?2, ?3, 'running', 1, ?4)
			ON CONFLICT (run_id, step) DO UPDATE SET status = 'running', attempts = attempts + 1, started_at = ?4, finished_at = NULL, duration_ms = NULL, error = NULL`,
		)
		.bind(runId, name, position, started)
		.run();
	try {
		const result = await work();
		const finished = Date.now();
		await db
			.prepare("UPDATE analytics_run_steps SET status = 'complete', finished_at = ?3, duration_ms = ?4, rows_read = ?5, rows_written = ?6 WHERE run_id = ?1 AND step = ?2")
			.bind(runId, name, finished, finished - started, result.rowsRead, result.rowsWritten)
			.run();
		return { ...result, durationMs: finished - started };
	} catch (err) {
		const finished = Date.now();
		await db
			.prepare("UPDATE analytics_run_steps SET status = 'errored', finished_at = ?3, duration_ms = ?4, error = ?5 WHERE run_id = ?1 AND step = ?2")
			.bind(runId, name, finished, finished - started, (err instanceof Error ? err.message : String(err)).slice(0, 1000))
			.run();
		throw err;
	}
}

/**
 * Starts a run and records it as queued. Returns false when an instance with this id already exists
 * (the cron's second fire, or a run already started for that day): nothing is started twice.
 */
export async function startNightly(env: Env, params: NightlyParams, id: string, trigger: "cron" | "manual" | "start", now = Date.now()): Promise<boolean> {
	const claimed = await env.DB.prepare(
		"INSERT INTO analytics_runs (id, site, as_of, trigger, status, created_at) VALUES (?, ?, ?, ?, 'queued', ?) ON CONFLICT (id) DO NOTHING RETURNING id",
	)
		.bind(id, params.site, params.asOf, trigger, now)
		.first<{ id: string }>();
	if (!claimed) return false;
	try {
		await env.NIGHTLY.create({ id, params });
	} catch (err) {
		// The row is the claim; an instance that exists already (a claim lost after create) is the same run.
		if (!/already exists|instance.*exist/i.test(err instanceof Error ? err.message : String(err))) {
			await env.DB.prepare("DELETE FROM analytics_runs WHERE id = ? AND status = 'queued'").bind(id).run();
			throw err;
		}
	}
	return true;
}

/**
 * Cron: for each site whose local time has passed 03:00, starts yesterday's run unless it was started.
 * Returns the runs started.
 */
export async function scheduleNightly(env: Env, now: number): Promise<string[]> {
	const sites = await env.DB.prepare("SELECT id, timezone FROM sites ORDER BY id").all<{ id: string; timezone: string }>();
	const started: string[] = [];
	for (const site of sites.results) {
		const today = localDay(now, site.timezone);
		const threshold = dayBounds(today, site.timezone)[0] + NIGHTLY_LOCAL_HOUR * 3_600_000;
		if (now < threshold) continue;
		const asOf = addDays(today, -1);
		const id = nightlyId(site.id, asOf);
		try {
			if (await startNightly(env, { site: site.id, asOf }, id, "cron", now)) started.push(id);
		} catch (err) {
			console.error("nightly start failed", site.id, asOf, err instanceof Error ? err.message : err);
		}
	}
	return started;
}
