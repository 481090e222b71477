/**
 * D1 schema (drizzle) of scheduled reports (issue 13, migration 0015): subscriptions per site, and one
 * `report_sends` row per (subscription, period) — the primary key is the exactly-once claim: the cron
 * inserts it with ON CONFLICT DO NOTHING, so two fires (or a late one) send a period once. Time is UTC
 * epoch ms.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const SUBSCRIPTION_CHANNELS = ["email", "slack", "webhook"] as const;
export const SUBSCRIPTION_CADENCES = ["daily", "weekly", "monthly"] as const;
/**
 * pending: claimed, not sent yet (or being sent); failed: the last attempt failed, a retry is queued;
 * sent; dead: every attempt failed (the dead-letter record); cancelled: the subscription was disabled
 * before it could be sent.
 */
export const SEND_STATUSES = ["pending", "failed", "sent", "dead", "cancelled"] as const;

/**
 * A report subscription. `target` is the Slack incoming-webhook URL or the webhook URL; `secret` the
 * webhook's HMAC key. Both the Slack URL and the secret are credentials: never returned by the API.
 */
export const reportSubscriptions = sqliteTable(
	"report_subscriptions",
	{
		id: text("id").primaryKey(),
		site: text("site").notNull(),
		/** executive | product | daily | financial */
		kind: text("kind").notNull(),
		/** The SKU of a product report; null for the others. */
		sku: text("sku"),
		/** JSON array of email addresses (email channel; empty for the others). */
		recipients: text("recipients").notNull().default("[]"),
		channel: text("channel", { enum: SUBSCRIPTION_CHANNELS }).notNull(),
		target: text("target"),
		secret: text("secret"),
		cadence: text("cadence", { enum: SUBSCRIPTION_CADENCES }).notNull(),
		/** Local wall-clock time `HH:MM` in `timezone`. */
		sendTime: text("send_time").notNull(),
		timezone: text("timezone").notNull(),
		/** ISO weekday of a weekly send: 1 = Monday … 7 = Sunday. */
		weekday: integer("weekday").notNull().default(1),
		/** Day of a monthly send, 1–31 (past the month's end: its last day). */
		dayOfMonth: integer("day_of_month").notNull().default(1),
		enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
		/** Send instants before this (creation, or the last time it was enabled) are not due: no backlog on subscribing. */
		activeSince: integer("active_since").notNull(),
		/** `user:<id>` or `key:<id>`. */
		createdBy: text("created_by").notNull(),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [index("report_subscriptions_site").on(t.site, t.createdAt)],
);

/** One send of a subscription's period: claimed once, then attempted through the delivery queue until sent or dead. */
export const reportSends = sqliteTable(
	"report_sends",
	{
		subscriptionId: text("subscription_id").notNull(),
		/** The period label: 2026-12-02, 2026-W48, 2026-11. */
		period: text("period").notNull(),
		site: text("site").notNull(),
		/** The scheduled send instant this period was claimed for. */
		dueAt: integer("due_at").notNull(),
		status: text("status", { enum: SEND_STATUSES }).notNull(),
		attempts: integer("attempts").notNull().default(0),
		/** A consumer holds the send until then (a crashed attempt is retried after it). */
		leaseUntil: integer("lease_until"),
		lastError: text("last_error"),
		/** HTTP status of the last Slack/webhook attempt. */
		lastStatus: integer("last_status"),
		/** JSON array of the recipients an email already reached (a retry sends only to the others). */
		deliveredTo: text("delivered_to").notNull().default("[]"),
		/** R2 key of the archived report JSON (the HTML is beside it). */
		reportKey: text("report_key"),
		claimedAt: integer("claimed_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		sentAt: integer("sent_at"),
	},
	(t) => [primaryKey({ columns: [t.subscriptionId, t.period] }), index("report_sends_status_updated").on(t.status, t.updatedAt), index("report_sends_site_claimed").on(t.site, t.claimedAt)],
);
