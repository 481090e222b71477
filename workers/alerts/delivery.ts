/**
 * Notification delivery. Evaluation (evaluate.ts) writes one `alert_deliveries` row per incident
 * event × channel and puts `{delivery: <id>}` on the `b2g-alert-deliveries` queue; this consumer sends it:
 *
 * - webhook: POST of the event JSON with `X-B2G-Delivery` (the delivery id, for the receiver's
 *   idempotency), `X-B2G-Event`, `X-B2G-Site`, `X-B2G-Timestamp` (unix s) and `X-B2G-Signature:
 *   sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` — the same scheme as the inbound order webhook;
 * - Slack: POST of an incoming-webhook message (notify.ts);
 * - email: a MIME message through the `ALERT_EMAIL` send_email binding, from ALERT_EMAIL_FROM.
 *
 * The row is the source of truth: an attempt claims it (attempts + 1, a short lease), so a redelivered
 * message finds it `delivered` (or leased) and sends nothing. A failure is retried through the queue
 * with exponential backoff (pipeline/consumer.ts `backoffSeconds`, RETRY_BASE_SECONDS); after
 * ALERT_DELIVERY_MAX_ATTEMPTS the row becomes `dead` with its last error (the dead-letter record, listed
 * by GET /api/v1/alerts/deliveries?status=dead). A message lost on the way (a failed enqueue, a crash
 * holding the lease) is re-queued by the cron (`resumeStalledDeliveries`). Delivery is at least once: a
 * crash between the receiver's 2xx and the row update sends again, with the same delivery id.
 *
 * Scheduled reports use the same queue, transports and retry policy: a `{type: "report", subscription_id,
 * period}` message is one `report_sends` row, attempted by workers/reports/deliver.ts. The transports and
 * retry policy both use are in transport.ts, so reports/deliver.ts does not import this module.
 */
import { z } from "zod";
import { backoffSeconds } from "../pipeline/consumer";
import { attemptReportSend } from "../reports/deliver";
import { alertEventSchema, emailContent, slackMessage } from "./notify";
import { storedChannelSchema, type Channel } from "./rules";
import { maxAttempts, postJson, reportMessageSchema, retryBase, sendEmail, STALLED_AFTER_MS, webhookHeaders, type SendResult } from "./transport";

export const ALERT_DELIVERY_QUEUE = "b2g-alert-deliveries";
/** A consumer holds a delivery this long; a crashed attempt can be retried after it. */
export const LEASE_MS = 60_000;

const alertMessageSchema = z.object({ delivery: z.string().min(1).max(300) });
const deliveryMessageSchema = z.union([alertMessageSchema, reportMessageSchema]);
export type DeliveryMessage = z.infer<typeof alertMessageSchema>;

/** Puts delivery ids on the queue (100 per send). A failure is logged: the rows stay pending and the cron re-queues them. */
export async function enqueueDeliveries(env: Env, ids: string[]): Promise<void> {
	for (let i = 0; i < ids.length; i += 100) {
		try {
			await env.ALERT_DELIVERIES.sendBatch(ids.slice(i, i + 100).map((delivery) => ({ body: { delivery } satisfies DeliveryMessage, contentType: "json" as const })));
		} catch (err) {
			console.error("alert deliveries not queued; the cron will retry them", err instanceof Error ? err.message : err);
		}
	}
}

async function send(env: Env, deliveryId: string, channel: Channel, payload: string, now: number): Promise<SendResult> {
	const event = alertEventSchema.parse(JSON.parse(payload));
	if (channel.type === "webhook") return postJson(channel.url, payload, await webhookHeaders(channel.secret, deliveryId, event, payload, now));
	if (channel.type === "slack") return postJson(channel.url, JSON.stringify(slackMessage(event)), {});
	return sendEmail(env, { to: channel.to, ...emailContent(event), id: deliveryId, date: new Date(now) });
}

const claimedRowSchema = z.object({ id: z.string(), channel: z.string(), payload: z.string(), attempts: z.number().int() });

/**
 * One attempt at a delivery. Returns the seconds after which the queue should retry it, or null
 * when the message is done with (delivered, dead, or held or finished by another attempt).
 */
export async function attemptDelivery(env: Env, id: string, now: number): Promise<number | null> {
	const claimed = await env.DB.prepare(
		`UPDATE alert_deliveries SET attempts = attempts + 1, lease_until = ?2, updated_at = ?3
		WHERE id = ?1 AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?3)
		RETURNING id, channel, payload, attempts`,
	)
		.bind(id, now + LEASE_MS, now)
		.first();
	if (!claimed) return null;
	const row = claimedRowSchema.parse(claimed);
	const channel = storedChannelSchema.safeParse(JSON.parse(row.channel));
	const result: SendResult = channel.success ? await send(env, row.id, channel.data, row.payload, now) : { ok: false, status: null, error: "the stored channel is malformed" };
	const done = Date.now();
	if (result.ok) {
		await env.DB.prepare(
			"UPDATE alert_deliveries SET status = 'delivered', delivered_at = ?2, updated_at = ?2, lease_until = NULL, last_status = ?3, provider_id = ?4, last_error = NULL WHERE id = ?1",
		)
			.bind(row.id, done, result.status, result.providerId)
			.run();
		return null;
	}
	const dead = !channel.success || row.attempts >= maxAttempts(env);
	await env.DB.prepare(
		`UPDATE alert_deliveries SET status = CASE WHEN ?5 THEN 'dead' ELSE 'pending' END, dead_at = CASE WHEN ?5 THEN ?2 END,
			updated_at = ?2, lease_until = NULL, last_status = ?3, last_error = ?4 WHERE id = ?1`,
	)
		.bind(row.id, done, result.status, result.error, dead ? 1 : 0)
		.run();
	if (dead) {
		console.error("alert delivery dead after", row.attempts, "attempts", row.id, result.error);
		return null;
	}
	return backoffSeconds(row.attempts, retryBase(env));
}

export async function consumeAlertDeliveries(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	for (const msg of batch.messages) {
		const parsed = deliveryMessageSchema.safeParse(msg.body);
		if (!parsed.success) {
			// Not ours to record anywhere: nothing in D1 refers to it.
			console.error("malformed alert delivery message dropped", JSON.stringify(msg.body)?.slice(0, 200));
			msg.ack();
			continue;
		}
		const label = "delivery" in parsed.data ? parsed.data.delivery : `report ${parsed.data.subscription_id}:${parsed.data.period}`;
		try {
			const retryIn = "delivery" in parsed.data ? await attemptDelivery(env, parsed.data.delivery, Date.now()) : await attemptReportSend(env, parsed.data.subscription_id, parsed.data.period, Date.now());
			if (retryIn === null) msg.ack();
			else msg.retry({ delaySeconds: retryIn });
		} catch (err) {
			// D1 itself failed: the row is untouched (or leased until LEASE_MS), so the queue retries the message.
			console.error("alert delivery attempt failed", label, err instanceof Error ? err.message : err);
			msg.retry({ delaySeconds: backoffSeconds(msg.attempts, retryBase(env)) });
		}
	}
}

/** Cron: re-queues pending deliveries nobody has touched for STALLED_AFTER_MS (their message was lost). */
export async function resumeStalledDeliveries(env: Env, now: number): Promise<number> {
	const stalled = await env.DB.prepare(
		`UPDATE alert_deliveries SET updated_at = ?1
		WHERE id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' AND updated_at < ?2 AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 500)
		RETURNING id`,
	)
		.bind(now, now - STALLED_AFTER_MS)
		.all<{ id: string }>();
	await enqueueDeliveries(
		env,
		stalled.results.map((r) => r.id),
	);
	return stalled.results.length;
}
