/**
 * The transports and retry policy shared by alert notifications (delivery.ts) and scheduled reports
 * (reports/deliver.ts): a signed or plain JSON POST, an email through the `ALERT_EMAIL` send_email binding,
 * the attempt limit and backoff base, and the report message's shape. Both consumers import it, so reports
 * need nothing from the alert consumer (which only dispatches report messages to them).
 */
import { EmailMessage } from "cloudflare:email";
import { z } from "zod";
import { signWebhook } from "../commerce/webhooks";
import { emailMime, type EmailParts } from "./notify";

/** Pending deliveries untouched this long lost their message: the cron queues them again. */
export const STALLED_AFTER_MS = 15 * 60_000;
const TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 10;

/** One scheduled report send: the `report_sends` row (subscription_id, period). */
export const reportMessageSchema = z.object({ type: z.literal("report"), subscription_id: z.string().min(1).max(100), period: z.string().min(1).max(20) });
export type ReportSendMessage = z.infer<typeof reportMessageSchema>;

export function maxAttempts(env: Env): number {
	const n = Number(env.ALERT_DELIVERY_MAX_ATTEMPTS);
	return Number.isInteger(n) && n >= 1 ? n : DEFAULT_MAX_ATTEMPTS;
}

export function retryBase(env: Env): number {
	const base = Number(env.RETRY_BASE_SECONDS);
	return Number.isFinite(base) ? base : 2;
}

/** The outcome of one send: ok, or an error to record (and the HTTP status, if any). */
export type SendResult = { ok: true; status: number | null; providerId: string | null } | { ok: false; status: number | null; error: string };

export async function postJson(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
	let res: Response;
	try {
		// Redirects are not followed: a receiver that moved must be reconfigured, not silently chased.
		res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "User-Agent": "Brain2Gain-Alerts/1", ...headers }, body, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
	} catch (err) {
		return { ok: false, status: null, error: `request failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) };
	}
	const text = (await res.text().catch(() => "")).slice(0, 200);
	if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, providerId: null };
	return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ""}` };
}

/** Headers of a signed webhook delivery (`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`); `event` is an alert event or a report's. */
export async function webhookHeaders(secret: string, deliveryId: string, event: { type: string; site: string }, body: string, nowMs: number): Promise<Record<string, string>> {
	const timestamp = Math.floor(nowMs / 1000);
	return {
		"X-B2G-Delivery": deliveryId,
		"X-B2G-Event": event.type,
		"X-B2G-Site": event.site,
		"X-B2G-Timestamp": String(timestamp),
		"X-B2G-Signature": await signWebhook(secret, timestamp, body),
	};
}

/** One email through the `ALERT_EMAIL` send_email binding, from ALERT_EMAIL_FROM. */
export async function sendEmail(env: Env, parts: Omit<EmailParts, "from">): Promise<SendResult> {
	const from = env.ALERT_EMAIL_FROM;
	try {
		const sent = await env.ALERT_EMAIL.send(new EmailMessage(from, parts.to, emailMime({ ...parts, from })));
		return { ok: true, status: null, providerId: sent.messageId };
	} catch (err) {
		return { ok: false, status: null, error: `send_email failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) };
	}
}
