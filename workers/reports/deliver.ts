/**
 * Scheduled report delivery (issue 13, items 4 and 6): the cron's exactly-once claim of each due period,
 * and one attempt at sending it, through the alert delivery path (workers/alerts/delivery.ts: the
 * `b2g-alert-deliveries` queue, its transports, backoff and dead letters).
 *
 * cron (jobs/scheduled.ts) ─► scheduleReports(env, now)
 *   per enabled subscription: latestDue (schedule.ts) → the latest send instant ≤ now and its period
 *   → INSERT INTO report_sends … ON CONFLICT (subscription_id, period) DO NOTHING RETURNING
 *     (the primary key is the claim: two fires at once, a late fire or a repeat claim a period once)
 *   → queue {type: "report", subscription_id, period} for each row this fire claimed
 * consumer ─► attemptReportSend: lease the row (attempts + 1) → buildReport → archiveReport (R2, stable
 *   key) → email (HTML body + a CSV per table) | Slack (summary + link) | webhook (signed JSON)
 *   → `sent`; or `failed` with the error and a retry after RETRY_BASE_SECONDS·2^(attempt−1) ≤ 300 s;
 *   after ALERT_DELIVERY_MAX_ATTEMPTS, `dead`. A row left pending/failed 15 minutes without a message
 *   (a lost enqueue) is queued again by the cron.
 *
 * Catch-up: after downtime only the latest missed period of a subscription is sent, not every one —
 * a daily report of last Tuesday is noise on Friday; older periods stay available on demand
 * (GET /api/v1/reports/{kind}?period=). Send instants before the subscription was created (or last
 * enabled) are never due, so subscribing does not send a backlog.
 */
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { maxAttempts, postJson, retryBase, sendEmail, STALLED_AFTER_MS, webhookHeaders, type ReportSendMessage, type SendResult } from "../alerts/transport";
import { formatValue } from "../alerts/notify";
import { reportSends, reportSubscriptions } from "../db/report-subscriptions";
import { sites } from "../db/schema";
import { backoffSeconds } from "../pipeline/consumer";
import { buildReport } from "./build";
import { archiveReport, renderCsv, renderHtml } from "./render";
import { latestDue } from "./schedule";
import { findSubscription, scheduleOf, subscriptionFromRow, type Subscription } from "./subscriptions";
import type { Report } from "./types";

/** Building a report reads many KPIs: a consumer holds a send this long before another attempt may take it. */
const LEASE_MS = 5 * 60_000;
const CLAIM_CHUNK = 50;

export interface ScheduleReport {
	/** Enabled subscriptions looked at. */
	subscriptions: number;
	/** `<subscription id>:<period>` claimed (and queued) by this fire. */
	claimed: string[];
	/** Sends whose queue message was lost, queued again. */
	resumed: number;
}

/** Puts report sends on the delivery queue (100 per send). A failure is logged: the rows stay pending and the cron re-queues them. */
async function enqueueReportSends(env: Env, sends: { subscription_id: string; period: string }[]): Promise<void> {
	for (let i = 0; i < sends.length; i += 100) {
		try {
			await env.ALERT_DELIVERIES.sendBatch(sends.slice(i, i + 100).map((s) => ({ body: { type: "report", ...s } satisfies ReportSendMessage, contentType: "json" as const })));
		} catch (err) {
			console.error("report sends not queued; the cron will retry them", err instanceof Error ? err.message : err);
		}
	}
}

/** Cron: claims the latest due period of every enabled subscription, exactly once, and queues the new claims. */
export async function scheduleReports(env: Env, now: number): Promise<ScheduleReport> {
	const rows = await drizzle(env.DB)
		.select({ sub: reportSubscriptions, siteTimezone: sites.timezone })
		.from(reportSubscriptions)
		.innerJoin(sites, eq(sites.id, reportSubscriptions.site))
		.where(eq(reportSubscriptions.enabled, true))
		.all();
	const claims: { sub: Subscription; period: string; sendAt: number }[] = [];
	for (const row of rows) {
		try {
			const sub = subscriptionFromRow(row.sub);
			const due = latestDue(scheduleOf(sub), now, row.siteTimezone);
			if (due.sendAt >= sub.activeSince) claims.push({ sub, ...due });
		} catch (err) {
			// One broken row must not hold back the others.
			console.error("report subscription not scheduled", row.sub.id, err instanceof Error ? err.message : err);
		}
	}
	const claimed: { subscription_id: string; period: string }[] = [];
	const stmt = env.DB.prepare(
		`INSERT INTO report_sends (subscription_id, period, site, due_at, status, attempts, delivered_to, claimed_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, 'pending', 0, '[]', ?5, ?5)
		ON CONFLICT (subscription_id, period) DO NOTHING
		RETURNING subscription_id, period`,
	);
	for (let i = 0; i < claims.length; i += CLAIM_CHUNK) {
		const chunk = claims.slice(i, i + CLAIM_CHUNK);
		const results = await env.DB.batch<{ subscription_id: string; period: string }>(chunk.map((c) => stmt.bind(c.sub.id, c.period, c.sub.site, c.sendAt, now)));
		for (const r of results) claimed.push(...r.results);
	}
	await enqueueReportSends(env, claimed);
	const resumed = await resumeStalledReportSends(env, now);
	return { subscriptions: rows.length, claimed: claimed.map((c) => `${c.subscription_id}:${c.period}`), resumed };
}

/** Cron: re-queues sends left pending or failed for STALLED_AFTER_MS with no lease (their message was lost). */
export async function resumeStalledReportSends(env: Env, now: number): Promise<number> {
	const stalled = await env.DB.prepare(
		`UPDATE report_sends SET updated_at = ?1
		WHERE rowid IN (SELECT rowid FROM report_sends WHERE status IN ('pending', 'failed') AND updated_at < ?2 AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 500)
		RETURNING subscription_id, period`,
	)
		.bind(now, now - STALLED_AFTER_MS)
		.all<{ subscription_id: string; period: string }>();
	await enqueueReportSends(env, stalled.results);
	return stalled.results.length;
}

// ─── one attempt ─────────────────────────────────────────────────────────────────────────────────

const claimedSchema = z.object({ attempts: z.number().int(), delivered_to: z.string() });
const listSchema = z.array(z.string());

/** A link to the archived report as HTML (GET /api/v1/reports/archive; a dashboard session or a read key opens it). */
export function reportLink(env: Env, site: string, key: string): string {
	return `${env.APP_URL.replace(/\/+$/, "")}/api/v1/reports/archive?${new URLSearchParams({ site, key, format: "html" })}`;
}

/** The lines a Slack message and an email's text part show: the first section's numbers. */
export function reportSummary(report: Report): string[] {
	const first = report.sections[0];
	const lines = (first?.metrics ?? []).slice(0, 8).map((m) => {
		const change = m.delta_pct === undefined || m.delta_pct === null ? "" : ` (${m.delta_pct >= 0 ? "+" : ""}${Number(m.delta_pct.toFixed(1))}%)`;
		return `${m.label}: ${formatValue(m.value, m.unit, report.currency)}${change}`;
	});
	return [`${report.title} · ${report.period.label} (${report.period.from} – ${report.period.to}, ${report.period.tz})`, ...lines];
}

/** Slack's mrkdwn needs &, < and > escaped (https://api.slack.com/reference/surfaces/formatting#escaping). */
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An incoming-webhook message: the title, the summary numbers and a link to the full report. */
export function slackReportMessage(report: Report, link: string): { text: string; blocks: object[] } {
	const [title = report.title, ...lines] = reportSummary(report);
	return {
		text: slackEscape(title),
		blocks: [
			{ type: "header", text: { type: "plain_text", text: title.slice(0, 150), emoji: true } },
			...(lines.length ? [{ type: "section", text: { type: "mrkdwn", text: lines.map((l) => `• ${slackEscape(l)}`).join("\n") } }] : []),
			{ type: "section", text: { type: "mrkdwn", text: `<${link}|Open the full report>` } },
			{ type: "context", elements: [{ type: "mrkdwn", text: slackEscape(`site ${report.site} · ${report.kind}${report.subject ? ` · ${report.subject}` : ""} · ${report.period.label}`) }] },
		],
	};
}

/** The JSON body of a report webhook (signed like alert webhooks). */
export function reportEvent(deliveryId: string, sub: Subscription, report: Report, key: string, link: string) {
	return { id: deliveryId, type: "report.ready", site: sub.site, subscription_id: sub.id, kind: report.kind, subject: report.subject, period: report.period.label, report_key: key, link, report };
}

/** Sends an archived report through the subscription's channel. Email: to each recipient not yet reached (`delivered`, updated in place). */
async function send(env: Env, sub: Subscription, report: Report, key: string, deliveryId: string, delivered: string[], now: number): Promise<SendResult> {
	const link = reportLink(env, sub.site, key);
	if (sub.channel === "webhook") {
		if (!sub.target || !sub.secret) return { ok: false, status: null, error: "the webhook has no url or secret" };
		const body = JSON.stringify(reportEvent(deliveryId, sub, report, key, link));
		return postJson(sub.target, body, await webhookHeaders(sub.secret, deliveryId, { type: "report.ready", site: sub.site }, body, now));
	}
	if (sub.channel === "slack") {
		if (!sub.target) return { ok: false, status: null, error: "the Slack channel has no url" };
		return postJson(sub.target, JSON.stringify(slackReportMessage(report, link)), {});
	}
	const summary = reportSummary(report);
	const html = renderHtml(report);
	const attachments = report.tables.map((t) => ({ filename: `${report.kind}-${report.period.label}-${t.name}.csv`, contentType: "text/csv; charset=utf-8", content: renderCsv(report, t.name) }));
	const errors: string[] = [];
	let last: SendResult = { ok: true, status: null, providerId: null };
	for (const [i, to] of sub.recipients.entries()) {
		if (delivered.includes(to)) continue;
		last = await sendEmail(env, {
			to,
			subject: summary[0] ?? report.title,
			text: `${summary.join("\n")}\n\nThe full report: ${link}\n`,
			html,
			attachments,
			fromName: "Brain2Gain Reports",
			id: `${deliveryId}:r${i}`,
			date: new Date(now),
		});
		if (last.ok) delivered.push(to);
		else errors.push(`${to}: ${last.error}`);
	}
	return errors.length ? { ok: false, status: null, error: errors.join("; ").slice(0, 500) } : last;
}

/**
 * One attempt at a claimed send. Returns the seconds after which the queue should retry it, or null
 * when the message is done with (sent, dead, cancelled, or held or finished by another attempt).
 */
export async function attemptReportSend(env: Env, subscriptionId: string, period: string, now: number): Promise<number | null> {
	const row = await env.DB.prepare(
		`UPDATE report_sends SET attempts = attempts + 1, lease_until = ?3, updated_at = ?4
		WHERE subscription_id = ?1 AND period = ?2 AND status IN ('pending', 'failed') AND (lease_until IS NULL OR lease_until <= ?4)
		RETURNING attempts, delivered_to`,
	)
		.bind(subscriptionId, period, now + LEASE_MS, now)
		.first();
	if (!row) return null;
	const claimed = claimedSchema.parse(row);
	const where = and(eq(reportSends.subscriptionId, subscriptionId), eq(reportSends.period, period));
	const sub = await findSubscription(env.DB, subscriptionId);
	if (!sub?.enabled) {
		// Deleting a subscription deletes its sends too, so this is a disabled one: its claimed period is not sent.
		await drizzle(env.DB).update(reportSends).set({ status: "cancelled", leaseUntil: null, updatedAt: Date.now(), lastError: "the subscription was disabled before this period was sent" }).where(where);
		return null;
	}
	const delivered = listSchema.parse(JSON.parse(claimed.delivered_to));
	let key: string | null = null;
	let result: SendResult;
	try {
		const report = await buildReport(env, { site: sub.site, kind: sub.kind, period, ...(sub.sku ? { sku: sub.sku } : {}) }, now);
		key = (await archiveReport(env, report)).key;
		result = await send(env, sub, report, key, `${subscriptionId}:${period}`, delivered, now);
	} catch (err) {
		result = { ok: false, status: null, error: `the report could not be built or archived: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) };
	}
	const done = Date.now();
	const common = { leaseUntil: null, updatedAt: done, lastStatus: result.status, deliveredTo: JSON.stringify(delivered), ...(key ? { reportKey: key } : {}) };
	if (result.ok) {
		await drizzle(env.DB)
			.update(reportSends)
			.set({ ...common, status: "sent", sentAt: done, lastError: null })
			.where(where);
		return null;
	}
	const dead = claimed.attempts >= maxAttempts(env);
	await drizzle(env.DB)
		.update(reportSends)
		.set({ ...common, status: dead ? "dead" : "failed", lastError: result.error })
		.where(where);
	if (dead) {
		console.error("report send dead after", claimed.attempts, "attempts", subscriptionId, period, result.error);
		return null;
	}
	return backoffSeconds(claimed.attempts, retryBase(env));
}
