/**
 * Report subscriptions (issue 13, item 4): who gets which report, through which channel, when. The
 * store (D1 `report_subscriptions`, migration 0015), the input rules, and the public view.
 *
 * Rules a subscription must satisfy (400 naming the field):
 * - kind ↔ cadence: a daily report is sent daily; an executive report weekly or monthly; a financial
 *   report monthly; a product report at any cadence, and it needs a `sku` of the site's catalogue;
 * - channel: `email` needs `recipients` (1–20 addresses); `slack` an incoming-webhook `url`; `webhook` a
 *   `url` and a `secret` (≥ 16 characters, the HMAC key of `X-B2G-Signature`, as alert webhooks). URLs
 *   are https (http only to this machine, for a local receiver), as alert channels;
 * - `send_time` `HH:MM`, `timezone` an IANA zone the runtime knows (default: the site's), `weekday`
 *   1–7 (ISO, 1 = Monday, default Monday), `day_of_month` 1–31 (default 1; past a month's end: its last day).
 *
 * The webhook secret and the Slack URL (itself a credential) are write-only: answered as hints. A PUT
 * keeps them when it does not name them and the channel stays the same.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { isAllowedUrl } from "../alerts/rule-routes";
import { reportSends, reportSubscriptions, SEND_STATUSES, SUBSCRIPTION_CHANNELS } from "../db/report-subscriptions";
import { ApiError, type FieldIssue } from "../lib/http";
import { CADENCES, canonicalTimeZone, isSendTime, nextSendAt, periodOf, type Cadence, type Schedule } from "./schedule";
import { REPORT_KINDS, type ReportKind } from "./types";

export type Channel = (typeof SUBSCRIPTION_CHANNELS)[number];
export type SendStatus = (typeof SEND_STATUSES)[number];

export interface Subscription {
	id: string;
	site: string;
	kind: ReportKind;
	sku: string | null;
	recipients: string[];
	channel: Channel;
	/** Slack or webhook URL. */
	target: string | null;
	secret: string | null;
	cadence: Cadence;
	sendTime: string;
	timezone: string;
	weekday: number;
	dayOfMonth: number;
	enabled: boolean;
	activeSince: number;
	createdBy: string;
	createdAt: number;
	updatedAt: number;
}

/** Which cadences each report kind may be sent at (its period grains: day, ISO week, month). */
export const KIND_CADENCES: Record<ReportKind, readonly Cadence[]> = {
	daily: ["daily"],
	executive: ["weekly", "monthly"],
	financial: ["monthly"],
	product: ["daily", "weekly", "monthly"],
};
/** The cadence a subscription gets when none is given: the architecture document's schedule. */
const DEFAULT_CADENCE: Record<ReportKind, Cadence> = { daily: "daily", executive: "weekly", financial: "monthly", product: "weekly" };
/** The architecture document sends the daily metrics report at 08:00. */
const DEFAULT_SEND_TIME = "08:00";
export const MAX_RECIPIENTS = 20;

export function scheduleOf(s: Pick<Subscription, "cadence" | "sendTime" | "timezone" | "weekday" | "dayOfMonth">): Schedule {
	return { cadence: s.cadence, sendTime: s.sendTime, timezone: s.timezone, weekday: s.weekday, dayOfMonth: s.dayOfMonth };
}

// ─── input ───────────────────────────────────────────────────────────────────────────────────────

const email = z.string().trim().toLowerCase().max(254, "at most 254 characters").pipe(z.email("must be an email address such as ana@example.com"));
const url = z.string().max(2000).refine((s) => isAllowedUrl(s), "must be an https URL (http only for localhost or 127.0.0.1), without credentials");

const fields = {
	kind: z.enum(REPORT_KINDS, { error: `must be one of ${REPORT_KINDS.join(", ")}` }).describe("executive (weekly or monthly), product (needs `sku`; any cadence), daily (daily), financial (monthly)"),
	sku: z.string().trim().min(1).max(200).nullable().describe("the product of a product report"),
	channel: z.enum(SUBSCRIPTION_CHANNELS, { error: "must be email, slack or webhook" }),
	recipients: z.array(email).max(MAX_RECIPIENTS).describe("email addresses (email channel: 1–20; none for slack and webhook)"),
	url: url.nullable().describe("the Slack incoming-webhook URL (write-only: a credential) or the webhook URL; https (http only for localhost)"),
	secret: z.string().min(16, "at least 16 characters").max(256).nullable().describe("webhook only: HMAC key of `X-B2G-Signature`; write-only; required for a new webhook"),
	cadence: z.enum(CADENCES, { error: "must be daily, weekly or monthly" }).describe("default: daily for the daily report, weekly for executive and product, monthly for financial"),
	send_time: z.string().refine(isSendTime, "must be a 24-hour time HH:MM, e.g. 08:00").describe("local time in `timezone` (default 08:00)"),
	timezone: z
		.string()
		.max(64)
		.refine((tz) => canonicalTimeZone(tz) !== null, "must be an IANA time zone such as Europe/Berlin")
		.describe("IANA zone of `send_time` (default: the site's)"),
	weekday: z.number().int("must be a whole number from 1 (Monday) to 7 (Sunday)").min(1, "must be from 1 (Monday) to 7 (Sunday)").max(7, "must be from 1 (Monday) to 7 (Sunday)").describe("weekly: ISO weekday, 1 = Monday (default) … 7 = Sunday"),
	day_of_month: z.number().int("must be a whole number from 1 to 31").min(1, "must be from 1 to 31").max(31, "must be from 1 to 31").describe("monthly: day of the month (default 1); past the month's end, its last day"),
	enabled: z.boolean(),
};

export const createSubscriptionSchema = z.strictObject({
	...fields,
	sku: fields.sku.optional(),
	recipients: fields.recipients.optional(),
	url: fields.url.optional(),
	secret: fields.secret.optional(),
	cadence: fields.cadence.optional(),
	send_time: fields.send_time.optional(),
	timezone: fields.timezone.optional(),
	weekday: fields.weekday.optional(),
	day_of_month: fields.day_of_month.optional(),
	enabled: fields.enabled.optional(),
});
export const updateSubscriptionSchema = z.strictObject(fields).partial();
export type SubscriptionInput = z.infer<typeof updateSubscriptionSchema>;

const invalid = (issues: FieldIssue[]) => new ApiError(400, "invalid_request", "the request body is invalid", issues);

/**
 * The subscription a create (no `before`) or an update makes: defaults filled, credentials kept when the
 * channel stays the same, and the rules that need more than one field checked (400 naming each field).
 */
export function resolveSubscription(input: SubscriptionInput, before: Subscription | null, ctx: { id: string; site: string; siteTimezone: string; by: string; now: number }): Subscription {
	const kind = input.kind ?? before?.kind;
	const channel = input.channel ?? before?.channel;
	if (!kind || !channel) throw invalid([...(kind ? [] : [{ field: "kind", message: "required" }]), ...(channel ? [] : [{ field: "channel", message: "required" }])]);
	const issues: FieldIssue[] = [];
	const kindChanged = before !== null && kind !== before.kind;
	const sameChannel = before !== null && channel === before.channel;

	const cadence = input.cadence ?? (before && !kindChanged ? before.cadence : DEFAULT_CADENCE[kind]);
	if (!KIND_CADENCES[kind].includes(cadence)) issues.push({ field: "cadence", message: `a ${kind} report is sent ${KIND_CADENCES[kind].join(" or ")}` });

	const sku = input.sku !== undefined ? input.sku : kind === "product" ? (before?.sku ?? null) : null;
	if (kind === "product" && !sku) issues.push({ field: "sku", message: "required for a product report" });
	if (kind !== "product" && input.sku) issues.push({ field: "sku", message: "only a product report has a sku" });

	const recipients = input.recipients ?? (sameChannel ? (before?.recipients ?? []) : []);
	let target = input.url !== undefined ? input.url : sameChannel ? (before?.target ?? null) : null;
	let secret = input.secret !== undefined ? input.secret : sameChannel ? (before?.secret ?? null) : null;
	if (channel === "email") {
		if (recipients.length === 0) issues.push({ field: "recipients", message: "an email subscription needs 1 to 20 addresses" });
		if (input.url) issues.push({ field: "url", message: "an email subscription has no url" });
		if (input.secret) issues.push({ field: "secret", message: "only a webhook has a secret" });
		target = null;
		secret = null;
	} else {
		if (input.recipients?.length) issues.push({ field: "recipients", message: `a ${channel} subscription has no email recipients` });
		if (!target) issues.push({ field: "url", message: channel === "slack" ? "required: the Slack incoming-webhook URL" : "required: the URL to POST the report to" });
		if (channel === "slack") {
			if (input.secret) issues.push({ field: "secret", message: "only a webhook has a secret" });
			secret = null;
		} else if (!secret) issues.push({ field: "secret", message: "required for a new webhook (at least 16 characters)" });
	}
	if (issues.length) throw invalid(issues);

	const enabled = input.enabled ?? before?.enabled ?? true;
	return {
		id: ctx.id,
		site: ctx.site,
		kind,
		sku: kind === "product" ? sku : null,
		recipients: channel === "email" ? [...new Set(recipients)] : [],
		channel,
		target,
		secret,
		cadence,
		sendTime: input.send_time ?? before?.sendTime ?? DEFAULT_SEND_TIME,
		timezone: canonicalTimeZone(input.timezone ?? before?.timezone ?? ctx.siteTimezone) ?? "UTC",
		weekday: input.weekday ?? before?.weekday ?? 1,
		dayOfMonth: input.day_of_month ?? before?.dayOfMonth ?? 1,
		enabled,
		// Turning a subscription on starts it afresh: periods whose send time passed while it was off are not sent.
		activeSince: before && before.enabled && enabled ? before.activeSince : ctx.now,
		createdBy: before?.createdBy ?? ctx.by,
		createdAt: before?.createdAt ?? ctx.now,
		updatedAt: ctx.now,
	};
}

// ─── store ───────────────────────────────────────────────────────────────────────────────────────

const recipientsSchema = z.array(z.string());
type Row = typeof reportSubscriptions.$inferSelect;

export function subscriptionFromRow(r: Row): Subscription {
	const kind = REPORT_KINDS.find((k) => k === r.kind);
	const cadence = CADENCES.find((c) => c === r.cadence);
	if (!kind || !cadence) throw new Error(`report subscription ${r.id} has an unknown kind or cadence`);
	return { ...r, kind, cadence, recipients: recipientsSchema.parse(JSON.parse(r.recipients)) };
}

function toRow(s: Subscription): Row {
	return { ...s, recipients: JSON.stringify(s.recipients) };
}

export async function listSubscriptions(db: D1Database, site: string): Promise<Subscription[]> {
	const rows = await drizzle(db).select().from(reportSubscriptions).where(eq(reportSubscriptions.site, site)).orderBy(reportSubscriptions.createdAt, reportSubscriptions.id).all();
	return rows.map(subscriptionFromRow);
}

export async function getSubscription(db: D1Database, site: string, id: string): Promise<Subscription | null> {
	const row = await drizzle(db)
		.select()
		.from(reportSubscriptions)
		.where(and(eq(reportSubscriptions.site, site), eq(reportSubscriptions.id, id)))
		.get();
	return row ? subscriptionFromRow(row) : null;
}

/** By id alone (the delivery consumer has no site in its message). */
export async function findSubscription(db: D1Database, id: string): Promise<Subscription | null> {
	const row = await drizzle(db).select().from(reportSubscriptions).where(eq(reportSubscriptions.id, id)).get();
	return row ? subscriptionFromRow(row) : null;
}

export async function insertSubscription(db: D1Database, s: Subscription): Promise<void> {
	await drizzle(db).insert(reportSubscriptions).values(toRow(s));
}

export async function updateSubscription(db: D1Database, s: Subscription): Promise<void> {
	const { id, site, createdAt, createdBy, ...rest } = toRow(s);
	await drizzle(db)
		.update(reportSubscriptions)
		.set(rest)
		.where(and(eq(reportSubscriptions.site, site), eq(reportSubscriptions.id, id)));
}

/** Deletes a subscription and its send history; a queued send of it then finds nothing to do. */
export async function deleteSubscription(db: D1Database, site: string, id: string): Promise<boolean> {
	const [deleted] = await db.batch([
		db.prepare("DELETE FROM report_subscriptions WHERE site = ?1 AND id = ?2 RETURNING id").bind(site, id),
		db.prepare("DELETE FROM report_sends WHERE site = ?1 AND subscription_id = ?2").bind(site, id),
	]);
	return (deleted?.results.length ?? 0) > 0;
}

/** A subscription's sends, newest period first. */
export async function listSends(db: D1Database, subscriptionId: string, opts: { status?: SendStatus; limit: number }): Promise<(typeof reportSends.$inferSelect)[]> {
	return drizzle(db)
		.select()
		.from(reportSends)
		.where(opts.status ? and(eq(reportSends.subscriptionId, subscriptionId), eq(reportSends.status, opts.status)) : eq(reportSends.subscriptionId, subscriptionId))
		.orderBy(desc(reportSends.dueAt), desc(reportSends.period))
		.limit(opts.limit)
		.all();
}

// ─── output ──────────────────────────────────────────────────────────────────────────────────────

const hint = (s: string) => `…${s.slice(-4)}`;

export const SendView = z
	.object({
		subscription_id: z.string(),
		period: z.string().describe("2026-12-02, 2026-W48 or 2026-11 (the site's time zone)"),
		status: z.enum(SEND_STATUSES).describe("pending: claimed, being sent; failed: the last attempt failed, a retry is queued; sent; dead: every attempt failed; cancelled: disabled before it was sent"),
		attempts: z.number().int(),
		last_error: z.string().nullable(),
		last_status: z.number().int().nullable().describe("HTTP status of the last Slack or webhook attempt"),
		delivered_to: z.array(z.string()).describe("email: the recipients already reached"),
		report_key: z.string().nullable().describe("R2 key of the archived report JSON (the HTML is beside it)"),
		due_at: z.number().int().describe("the scheduled send instant, UTC ms"),
		claimed_at: z.number().int(),
		updated_at: z.number().int(),
		sent_at: z.number().int().nullable(),
	})
	.openapi("ReportSend");

export function sendView(r: typeof reportSends.$inferSelect): z.infer<typeof SendView> {
	return {
		subscription_id: r.subscriptionId,
		period: r.period,
		status: r.status,
		attempts: r.attempts,
		last_error: r.lastError,
		last_status: r.lastStatus,
		delivered_to: recipientsSchema.parse(JSON.parse(r.deliveredTo)),
		report_key: r.reportKey,
		due_at: r.dueAt,
		claimed_at: r.claimedAt,
		updated_at: r.updatedAt,
		sent_at: r.sentAt,
	};
}

export const SubscriptionView = z
	.object({
		id: z.string(),
		site: z.string(),
		kind: z.enum(REPORT_KINDS),
		sku: z.string().nullable(),
		channel: z.enum(SUBSCRIPTION_CHANNELS),
		recipients: z.array(z.string()),
		url: z.string().nullable().describe("the webhook URL; null for email and Slack (a Slack URL is a credential: see url_hint)"),
		url_hint: z.string().nullable().describe("Slack: the URL's origin and last 4 characters"),
		secret_hint: z.string().nullable().describe("webhook: the secret's last 4 characters"),
		cadence: z.enum(CADENCES),
		send_time: z.string(),
		timezone: z.string(),
		weekday: z.number().int(),
		day_of_month: z.number().int(),
		enabled: z.boolean(),
		next_send_at: z.number().int().nullable().describe("the next send instant (UTC ms); null when disabled"),
		next_period: z.string().nullable().describe("the period that send will cover"),
		last_send: SendView.nullable().describe("the most recent period claimed"),
		created_by: z.string(),
		created_at: z.number().int(),
		updated_at: z.number().int(),
	})
	.openapi("ReportSubscription");

export function subscriptionView(s: Subscription, siteTimezone: string, lastSend: typeof reportSends.$inferSelect | null, now: number): z.infer<typeof SubscriptionView> {
	const next = s.enabled ? nextSendAt(scheduleOf(s), now) : null;
	return {
		id: s.id,
		site: s.site,
		kind: s.kind,
		sku: s.sku,
		channel: s.channel,
		recipients: s.recipients,
		url: s.channel === "webhook" ? s.target : null,
		url_hint: s.channel === "slack" && s.target ? `${new URL(s.target).origin}/${hint(s.target)}` : null,
		secret_hint: s.channel === "webhook" && s.secret ? hint(s.secret) : null,
		cadence: s.cadence,
		send_time: s.sendTime,
		timezone: s.timezone,
		weekday: s.weekday,
		day_of_month: s.dayOfMonth,
		enabled: s.enabled,
		next_send_at: next,
		next_period: next === null ? null : periodOf(s.cadence, next, siteTimezone),
		last_send: lastSend ? sendView(lastSend) : null,
		created_by: s.createdBy,
		created_at: s.createdAt,
		updated_at: s.updatedAt,
	};
}
