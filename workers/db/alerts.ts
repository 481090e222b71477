/**
 * D1 schema (drizzle) of alerting: rules per site (the four built-in ones of the architecture document
 * and user-defined ones), incidents (`alerts`: one row per firing of a rule for one dedupe key, later
 * resolved) and notification deliveries (one row per incident event × channel; failed ones end `dead`).
 * Time is UTC epoch ms.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const SEVERITIES = ["info", "warning", "critical"] as const;
export const COMPARATORS = ["<", "<=", ">", ">="] as const;
export const THRESHOLD_KINDS = ["absolute", "relative"] as const;
/** `yesterday`: the last complete local day; `today`: today so far against the same elapsed time of earlier days; `now`: the latest value (stock levels, live metrics). */
export const WINDOWS = ["yesterday", "today", "now"] as const;
export const RULE_STATUSES = ["ok", "no_data", "waiting_for_model", "error"] as const;
export const ALERT_STATES = ["firing", "resolved"] as const;
/** Why an incident ended: its condition turned false, or its rule was disabled or deleted. */
export const RESOLUTIONS = ["cleared", "rule_disabled", "rule_deleted"] as const;
export const TRIGGERS = ["schedule", "live", "manual"] as const;
export const DELIVERY_STATUSES = ["pending", "delivered", "dead"] as const;
export const CHANNEL_TYPES = ["webhook", "slack", "email"] as const;

/**
 * Alert rules. A built-in rule's condition is fixed (only `enabled`, `channels` and `cooldown_seconds`
 * change); `channels` is a JSON array that holds webhook secrets and Slack URLs, never returned by the API.
 */
export const alertRules = sqliteTable(
	"alert_rules",
	{
		site: text("site").notNull(),
		id: text("id").notNull(),
		name: text("name").notNull(),
		builtin: integer("builtin", { mode: "boolean" }).notNull().default(false),
		metric: text("metric").notNull(),
		comparator: text("comparator", { enum: COMPARATORS }).notNull(),
		thresholdKind: text("threshold_kind", { enum: THRESHOLD_KINDS }).notNull(),
		threshold: real("threshold").notNull(),
		window: text("eval_window", { enum: WINDOWS }).notNull(),
		/** Days of history the baseline averages (KPI metrics). */
		baselineDays: integer("baseline_days").notNull(),
		severity: text("severity", { enum: SEVERITIES }).notNull(),
		channels: text("channels").notNull().default("[]"),
		cooldownSeconds: integer("cooldown_seconds").notNull(),
		enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		/** Outcome of the last evaluation: whether the metric could be read. */
		lastStatus: text("last_status", { enum: RULE_STATUSES }),
		lastDetail: text("last_detail"),
		lastEvaluatedAt: integer("last_evaluated_at"),
	},
	(t) => [primaryKey({ columns: [t.site, t.id] })],
);

/**
 * Incidents. At most one `firing` row per (site, rule, dedupe key) — a partial unique index, so
 * concurrent evaluations (cron and the live object) cannot open the same incident twice.
 */
export const alerts = sqliteTable(
	"alerts",
	{
		id: text("id").primaryKey(),
		site: text("site").notNull(),
		ruleId: text("rule_id").notNull(),
		/** '' for a site-wide metric; the SKU for per-item ones (inventory). */
		dedupeKey: text("dedupe_key").notNull(),
		/** For people: the product name of a SKU; null for a site-wide metric. */
		label: text("label"),
		ruleName: text("rule_name").notNull(),
		metric: text("metric").notNull(),
		severity: text("severity", { enum: SEVERITIES }).notNull(),
		state: text("state", { enum: ALERT_STATES }).notNull(),
		resolution: text("resolution", { enum: RESOLUTIONS }),
		openedBy: text("opened_by", { enum: TRIGGERS }).notNull(),
		/** The value, baseline and limit (the threshold, or threshold × baseline) when it opened, and the latest value. */
		openedValue: real("opened_value"),
		value: real("value"),
		baseline: real("baseline"),
		limit: real("limit_value"),
		/** What the value covers, e.g. `2026-11-25` or `2026-11-26 until 14:30`. */
		period: text("period").notNull(),
		startedAt: integer("started_at").notNull(),
		resolvedAt: integer("resolved_at"),
		lastEvaluatedAt: integer("last_evaluated_at").notNull(),
		/** When the firing notification was sent (claimed); null while held back by the cooldown. */
		notifiedAt: integer("notified_at"),
	},
	(t) => [
		uniqueIndex("alerts_open").on(t.site, t.ruleId, t.dedupeKey).where(sql`state = 'firing'`),
		index("alerts_rule_key").on(t.site, t.ruleId, t.dedupeKey, t.notifiedAt),
		index("alerts_site_started").on(t.site, t.startedAt),
	],
);

/**
 * Notification deliveries: id `<alert id>:<event>:<channel id>` (deterministic, so enqueueing twice
 * stores one row and a redelivered message never sends again once delivered). `channel` is the
 * channel as it was when the event happened (secret included); `payload` the JSON event body.
 */
export const alertDeliveries = sqliteTable(
	"alert_deliveries",
	{
		id: text("id").primaryKey(),
		site: text("site").notNull(),
		alertId: text("alert_id").notNull(),
		event: text("event", { enum: ALERT_STATES }).notNull(),
		channelType: text("channel_type", { enum: CHANNEL_TYPES }).notNull(),
		channel: text("channel").notNull(),
		payload: text("payload").notNull(),
		status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
		attempts: integer("attempts").notNull().default(0),
		/** A consumer holds the delivery until then (a crashed attempt is retried after it). */
		leaseUntil: integer("lease_until"),
		lastError: text("last_error"),
		/** HTTP status of the last webhook/Slack attempt. */
		lastStatus: integer("last_status"),
		/** The email Message-ID the binding returned. */
		providerId: text("provider_id"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		deliveredAt: integer("delivered_at"),
		deadAt: integer("dead_at"),
	},
	(t) => [index("alert_deliveries_site_status").on(t.site, t.status, t.createdAt), index("alert_deliveries_status_updated").on(t.status, t.updatedAt), index("alert_deliveries_alert").on(t.alertId)],
);
