/**
 * Alert rules, history and deliveries:
 * `GET/POST /api/v1/alerts/rules`, `GET/PUT/DELETE /api/v1/alerts/rules/{id}` (writes: admin),
 * `GET /api/v1/alerts` (incident history), `GET /api/v1/alerts/deliveries` (admin; dead letters),
 * `POST /api/v1/alerts/evaluate` (admin; evaluate now).
 *
 * Channel secrets are write-only: a webhook's secret and a Slack URL (which is itself a credential)
 * are answered as hints (`…abcd`). A PUT may keep a channel's secret by naming the channel's `id`
 * without the secret.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requireKey, type AuthVars } from "../auth/middleware";
import type { Principal } from "../auth/roles";
import { alertDeliveries, alertRules, alerts as alertsTable, ALERT_STATES, COMPARATORS, DELIVERY_STATUSES, RESOLUTIONS, SEVERITIES, THRESHOLD_KINDS, TRIGGERS, WINDOWS } from "../db/alerts";
import { readJson } from "../lib/body";
import { ApiError, type FieldIssue } from "../lib/http";
import { apiErrors, intParam, json, jsonBody, openApiApp, secured, siteParam, siteQuery } from "../lib/openapi";
import { addDays, dayStart, isDay } from "../metrics/calendar";
import { visibleTo } from "../metrics/catalog";
import { evaluateAlerts, resolveRuleIncidents } from "./evaluate";
import { METRICS } from "./metrics";
import { alertEventSchema } from "./notify";
import { BUILTIN_IDS, ensureBuiltinRules, getRule, listRules, storedChannelSchema, type AlertRule, type Channel } from "./rules";

const TAG = "Alerts";
const MAX_CHANNELS = 10;
const RULE_ID = /^[a-z0-9_]{1,40}$/;

// ─── input ───────────────────────────────────────────────────────────────────────────────────────

/** https anywhere; plain http only to this machine (a local receiver in development and tests). */
export function isAllowedUrl(s: string): boolean {
	let url: URL;
	try {
		url = new URL(s);
	} catch {
		return false;
	}
	if (url.username || url.password) return false;
	if (url.protocol === "https:") return true;
	return url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

const channelUrl = z.string().max(2000).refine(isAllowedUrl, "must be an https URL (http only for localhost or 127.0.0.1), without credentials");
const channelId = z.string().regex(/^ch_[0-9a-f]{8}$/, "must be the id of one of this rule's channels (ch_…)");
const channelInput = z.discriminatedUnion(
	"type",
	[
		z.strictObject({
			id: channelId.optional().describe("keep this existing channel; its secret may then be omitted"),
			type: z.literal("webhook"),
			url: channelUrl,
			secret: z.string().min(16, "at least 16 characters").max(256).optional().describe("HMAC key of the X-B2G-Signature header; write-only; required for a new channel"),
		}),
		z.strictObject({
			id: channelId.optional(),
			type: z.literal("slack"),
			url: channelUrl.optional().describe("the Slack incoming-webhook URL; write-only (it is a credential); required for a new channel"),
		}),
		z.strictObject({ id: channelId.optional(), type: z.literal("email"), to: z.string().trim().toLowerCase().max(254).pipe(z.email("must be an email address")) }),
	],
	{ error: "type must be webhook, slack or email" },
);
type ChannelInput = z.infer<typeof channelInput>;

const fields = {
	name: z.string().trim().min(1).max(100),
	metric: z
		.string()
		.refine((m) => METRICS.has(m), "unknown metric: a KPI id (not a growth KPI), inventory:stock or model:predicted_churn_rate (GET /api/v1/alerts/rules lists them)")
		.describe("what to watch: a KPI id from the catalogue (`revenue`, `conversion_rate`, `orders`…), `inventory:stock` (per SKU, baseline = reorder point) or `model:predicted_churn_rate`"),
	comparator: z.enum(COMPARATORS, { error: `must be one of ${COMPARATORS.join(" ")}` }),
	threshold_kind: z.enum(THRESHOLD_KINDS, { error: "must be absolute or relative" }).describe("absolute: compare with `threshold`; relative: with `threshold` × the baseline (0.8 = 80% of it). Default absolute"),
	threshold: z.number().finite(),
	window: z.enum(WINDOWS, { error: `must be one of ${WINDOWS.join(", ")}` }).describe("yesterday: the last complete local day; today: today so far against the same hours of the baseline days (revenue, orders, aov); now: the latest value. Default: the metric's first"),
	baseline_days: z.number().int().min(1).max(90).describe("days of history the baseline averages (default 7)"),
	severity: z.enum(SEVERITIES, { error: "must be info, warning or critical" }).describe("default warning"),
	channels: z.array(channelInput).max(MAX_CHANNELS).describe("where notifications go (default none: incidents are recorded only)"),
	cooldown_seconds: z.number().int().min(0).max(7 * 86_400).describe("no second firing notification for the same rule and key within this many seconds of the last (default 3600)"),
	enabled: z.boolean(),
};
const createSchema = z.strictObject({
	...fields,
	threshold_kind: fields.threshold_kind.optional(),
	window: fields.window.optional(),
	baseline_days: fields.baseline_days.optional(),
	severity: fields.severity.optional(),
	channels: fields.channels.optional(),
	cooldown_seconds: fields.cooldown_seconds.optional(),
	enabled: fields.enabled.optional(),
});
const updateSchema = z.strictObject(fields).partial();
/** What a built-in rule lets change; its condition is the architecture document's. */
const BUILTIN_MUTABLE = new Set(["enabled", "channels", "cooldown_seconds"]);

const invalid = (issues: FieldIssue[]) => new ApiError(400, "invalid_request", "the request body is invalid", issues);

/** Channels as stored: new ones get an id; an `id` keeps that channel's secret unless a new one is given. */
function resolveChannels(input: ChannelInput[], existing: Channel[]): Channel[] {
	const issues: FieldIssue[] = [];
	const out = input.map((c, i): Channel | null => {
		const at = (f: string) => `channels[${i}].${f}`;
		const before = c.id === undefined ? undefined : existing.find((e) => e.id === c.id);
		if (c.id !== undefined && before?.type !== c.type) {
			issues.push({ field: at("id"), message: before ? `channel ${c.id} is a ${before.type} channel` : `this rule has no channel ${c.id}` });
			return null;
		}
		const id = c.id ?? `ch_${crypto.randomUUID().replace(/-/g, "").slice(0, 8)}`;
		if (c.type === "webhook") {
			const secret = c.secret ?? (before?.type === "webhook" ? before.secret : undefined);
			if (secret === undefined) issues.push({ field: at("secret"), message: "required for a new webhook channel" });
			return secret === undefined ? null : { id, type: "webhook", url: c.url, secret };
		}
		if (c.type === "slack") {
			const url = c.url ?? (before?.type === "slack" ? before.url : undefined);
			if (url === undefined) issues.push({ field: at("url"), message: "required for a new Slack channel" });
			return url === undefined ? null : { id, type: "slack", url };
		}
		return { id, type: "email", to: c.to };
	});
	if (issues.length) throw invalid(issues);
	return out.filter((c): c is Channel => c !== null);
}

/** Checks that need more than one field: the window the metric supports, a positive relative threshold. */
function checkDefinition(rule: Pick<AlertRule, "metric" | "window" | "thresholdKind" | "threshold">): void {
	const reader = METRICS.get(rule.metric);
	const issues: FieldIssue[] = [];
	if (reader && !reader.windows.includes(rule.window)) issues.push({ field: "window", message: `${rule.metric} supports ${reader.windows.join(", ")}` });
	if (rule.thresholdKind === "relative" && !(rule.threshold > 0)) issues.push({ field: "threshold", message: "a relative threshold is a positive fraction of the baseline (0.8 = 80%)" });
	if (issues.length) throw invalid(issues);
}

// ─── output ──────────────────────────────────────────────────────────────────────────────────────

const hint = (s: string) => `…${s.slice(-4)}`;
const ChannelView = z.discriminatedUnion("type", [
	z.object({ id: z.string(), type: z.literal("webhook"), url: z.string(), secret_hint: z.string().describe("the secret's last 4 characters") }),
	z.object({ id: z.string(), type: z.literal("slack"), url_hint: z.string().describe("the URL's origin and last 4 characters") }),
	z.object({ id: z.string(), type: z.literal("email"), to: z.string() }),
]);

function channelView(c: Channel): z.infer<typeof ChannelView> {
	if (c.type === "webhook") return { id: c.id, type: "webhook", url: c.url, secret_hint: hint(c.secret) };
	if (c.type === "slack") return { id: c.id, type: "slack", url_hint: `${new URL(c.url).origin}/${hint(c.url)}` };
	return c;
}

const RuleView = z
	.object({
		id: z.string(),
		site: z.string(),
		name: z.string(),
		builtin: z.boolean().describe("one of the architecture document's four: its condition is fixed, it can be disabled but not deleted"),
		metric: z.string(),
		metric_name: z.string(),
		unit: z.string(),
		comparator: z.enum(COMPARATORS),
		threshold_kind: z.enum(THRESHOLD_KINDS),
		threshold: z.number(),
		window: z.enum(WINDOWS),
		baseline_days: z.number().int().nullable().describe("null when the metric's baseline is not a day average"),
		baseline: z.string().describe("how the baseline is formed"),
		severity: z.enum(SEVERITIES),
		channels: z.array(ChannelView),
		cooldown_seconds: z.number().int(),
		enabled: z.boolean(),
		status: z
			.enum(["ok", "no_data", "waiting_for_model", "error", "not_evaluated"])
			.describe("the last evaluation: ok, no_data (nothing to compare yet), error; waiting_for_model: the metric needs a model that does not exist yet (high churn risk)"),
		status_detail: z.string().nullable(),
		last_evaluated_at: z.number().int().nullable(),
		firing: z.number().int().describe("open incidents"),
		created_at: z.number().int(),
		updated_at: z.number().int(),
	})
	.openapi("AlertRule");

function ruleView(r: AlertRule, firing: number): z.infer<typeof RuleView> {
	const reader = METRICS.get(r.metric);
	return {
		id: r.id,
		site: r.site,
		name: r.name,
		builtin: r.builtin,
		metric: r.metric,
		metric_name: reader?.name ?? r.metric,
		unit: reader?.unit ?? "",
		comparator: r.comparator,
		threshold_kind: r.thresholdKind,
		threshold: r.threshold,
		window: r.window,
		baseline_days: reader?.usesBaselineDays ? r.baselineDays : null,
		baseline: reader?.baseline ?? "",
		severity: r.severity,
		channels: r.channels.map(channelView),
		cooldown_seconds: r.cooldownSeconds,
		enabled: r.enabled,
		status: reader?.unavailable?.status ?? r.lastStatus ?? "not_evaluated",
		status_detail: reader?.unavailable?.reason ?? r.lastDetail,
		last_evaluated_at: r.lastEvaluatedAt,
		firing,
		created_at: r.createdAt,
		updated_at: r.updatedAt,
	};
}

/** Rules and alerts on a KPI the caller's role may not see (strategic KPIs for operations) are left out. */
function visibleMetric(metric: string, principal: Principal): boolean {
	const kpi = METRICS.get(metric)?.kpi;
	return !kpi || visibleTo(kpi, principal);
}

async function firingCounts(db: D1Database, site: string): Promise<Map<string, number>> {
	const rows = await db.prepare("SELECT rule_id, COUNT(*) AS n FROM alerts WHERE site = ? AND state = 'firing' GROUP BY rule_id").bind(site).all<{ rule_id: string; n: number }>();
	return new Map(rows.results.map((r) => [r.rule_id, r.n]));
}

const MetricView = z.object({ id: z.string(), name: z.string(), unit: z.string(), windows: z.array(z.enum(WINDOWS)), baseline: z.string(), status: z.enum(["ok", "waiting_for_model"]) });

const AlertView = z
	.object({
		id: z.string(),
		site: z.string(),
		rule_id: z.string(),
		rule_name: z.string(),
		metric: z.string(),
		severity: z.enum(SEVERITIES),
		key: z.string().describe("'' for a site-wide metric; the SKU for inventory"),
		label: z.string().nullable(),
		state: z.enum(ALERT_STATES),
		resolution: z.enum(RESOLUTIONS).nullable().describe("cleared: the condition turned false; rule_disabled / rule_deleted"),
		opened_by: z.enum(TRIGGERS),
		opened_value: z.number().nullable(),
		value: z.number().nullable().describe("the latest value seen"),
		baseline: z.number().nullable(),
		limit: z.number().nullable().describe("what the value was compared with when it opened"),
		period: z.string(),
		started_at: z.number().int(),
		resolved_at: z.number().int().nullable(),
		last_evaluated_at: z.number().int(),
		notified_at: z.number().int().nullable().describe("when the firing notification was sent; null while the cooldown holds it back (or the rule has no channels)"),
	})
	.openapi("Alert");

const DeliveryView = z
	.object({
		id: z.string().describe("`<alert id>:<event>:<channel id>`; also the X-B2G-Delivery header"),
		alert_id: z.string(),
		event: z.enum(ALERT_STATES),
		channel: ChannelView,
		status: z.enum(DELIVERY_STATUSES).describe("dead: every attempt failed (the dead-letter record)"),
		attempts: z.number().int(),
		last_error: z.string().nullable(),
		last_status: z.number().int().nullable().describe("HTTP status of the last attempt (webhook, Slack)"),
		provider_id: z.string().nullable().describe("the email's Message-ID"),
		created_at: z.number().int(),
		updated_at: z.number().int(),
		delivered_at: z.number().int().nullable(),
		dead_at: z.number().int().nullable(),
	})
	.openapi("AlertDelivery");

const ReportView = z.object({
	site: z.string(),
	trigger: z.enum(TRIGGERS),
	evaluated_at: z.number().int(),
	rules: z.array(
		z.object({
			id: z.string(),
			name: z.string(),
			metric: z.string(),
			status: z.enum(["ok", "no_data", "waiting_for_model", "error"]),
			detail: z.string().nullable(),
			readings: z.array(
				z.object({ key: z.string(), label: z.string().nullable(), value: z.number().nullable(), baseline: z.number().nullable(), limit: z.number().nullable(), condition: z.boolean().nullable(), period: z.string() }),
			),
		}),
	),
	opened: z.array(z.string()),
	resolved: z.array(z.string()),
	notifications: z.number().int(),
});

// ─── routes ──────────────────────────────────────────────────────────────────────────────────────

const idParam = z.object({ id: z.string().regex(RULE_ID).describe("the rule id: a built-in one (revenue_drop, conversion_drop, inventory_low, churn_risk) or r_…") });

const listRulesRoute = createRoute({
	method: "get",
	path: "/alerts/rules",
	operationId: "listAlertRules",
	tags: [TAG],
	summary: "Alert rules",
	description:
		"The site's rules — the four built-in ones of the architecture document (revenue drop, conversion rate drop, inventory low, high churn risk) and user-defined ones — with their last evaluation, " +
		"and the metrics a rule can watch. High churn risk reports `waiting_for_model`: there is no churn model yet. Secrets are shown as hints.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: { 200: json(z.object({ site: z.string(), rules: z.array(RuleView), metrics: z.array(MetricView) }), "the rules"), ...apiErrors(404) },
});

const getRuleRoute = createRoute({
	method: "get",
	path: "/alerts/rules/{id}",
	operationId: "getAlertRule",
	tags: [TAG],
	summary: "One alert rule",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery, params: idParam },
	responses: { 200: json(RuleView, "the rule"), ...apiErrors(404) },
});

const createRuleRoute = createRoute({
	method: "post",
	path: "/alerts/rules",
	operationId: "createAlertRule",
	tags: [TAG],
	summary: "Create an alert rule",
	description:
		"Fires when `value comparator limit`, the limit being `threshold` (absolute) or `threshold × baseline` (relative). Channels: " +
		"`{type:\"webhook\", url, secret}`, `{type:\"slack\", url}` (incoming webhook), `{type:\"email\", to}`. URLs must be https (http only for localhost). 400 names each field. " +
		"A webhook gets a POST of the `AlertEvent` schema on firing and on resolution, with `X-B2G-Delivery` (the same on every retry: ignore repeats, delivery is at least once), `X-B2G-Event`, `X-B2G-Site`, " +
		"`X-B2G-Timestamp` (unix s) and `X-B2G-Signature: sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<raw body>\")>`. Any 2xx acknowledges; anything else (or no answer in 10 s) is retried with " +
		"exponential backoff up to ALERT_DELIVERY_MAX_ATTEMPTS attempts, then recorded as dead (GET /api/v1/alerts/deliveries?status=dead).",
	security: secured("admin"),
	middleware: [requireKey("admin"), readJson(100_000)],
	request: { query: siteQuery, body: jsonBody(createSchema, "the rule") },
	responses: { 201: json(RuleView, "created"), ...apiErrors(404, 413, 415) },
});

const updateRuleRoute = createRoute({
	method: "put",
	path: "/alerts/rules/{id}",
	operationId: "updateAlertRule",
	tags: [TAG],
	summary: "Change an alert rule",
	description:
		"Changes the fields given; the others keep their values. `channels`, when given, replaces the list: a channel with its `id` keeps its secret unless a new one is given. " +
		"A built-in rule only takes `enabled`, `channels` and `cooldown_seconds`. Disabling a rule resolves its open incidents (notified ones get a `resolved` notification).",
	security: secured("admin"),
	middleware: [requireKey("admin"), readJson(100_000)],
	request: { query: siteQuery, params: idParam, body: jsonBody(updateSchema, "the fields to change") },
	responses: { 200: json(RuleView, "the rule as changed"), ...apiErrors(404, 413, 415) },
});

const deleteRuleRoute = createRoute({
	method: "delete",
	path: "/alerts/rules/{id}",
	operationId: "deleteAlertRule",
	tags: [TAG],
	summary: "Delete an alert rule",
	description: "Resolves its open incidents (history is kept). Built-in rules cannot be deleted (409): disable them.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { query: siteQuery, params: idParam },
	responses: { 200: json(z.object({ id: z.string(), deleted: z.boolean(), resolved: z.number().int() }), "deleted"), ...apiErrors(404, 409) },
});

const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const historyRoute = createRoute({
	method: "get",
	path: "/alerts",
	operationId: "alertHistory",
	tags: [TAG],
	summary: "Alert history",
	description: "Incidents, newest first: each is one firing of a rule for one key (a SKU for inventory), with its state (`firing` or `resolved`).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.strictObject({
			site: siteParam,
			state: z.enum(ALERT_STATES, { error: "must be firing or resolved" }).optional(),
			rule: z.string().regex(RULE_ID, "must be a rule id").optional(),
			from: day.optional().describe("first local day an incident started on"),
			to: day.optional().describe("last local day, inclusive"),
			limit: intParam(1, 1000).optional().describe("at most this many (default 100)"),
		}),
	},
	responses: { 200: json(z.object({ site: z.string(), alerts: z.array(AlertView) }), "the incidents"), ...apiErrors(404) },
});

const deliveriesRoute = createRoute({
	method: "get",
	path: "/alerts/deliveries",
	operationId: "alertDeliveries",
	tags: [TAG],
	summary: "Alert notification deliveries",
	description: "Newest first. `status=dead` lists the dead letters: deliveries whose every attempt failed, with the last error. Secrets are never shown.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: {
		query: z.strictObject({
			site: siteParam,
			status: z.enum(DELIVERY_STATUSES, { error: "must be pending, delivered or dead" }).optional(),
			limit: intParam(1, 1000).optional().describe("at most this many (default 100)"),
		}),
	},
	responses: { 200: json(z.object({ site: z.string(), deliveries: z.array(DeliveryView) }), "the deliveries"), ...apiErrors(404) },
});

const evaluateRoute = createRoute({
	method: "post",
	path: "/alerts/evaluate",
	operationId: "evaluateAlerts",
	tags: [TAG],
	summary: "Evaluate the alert rules now",
	description: "What the cron does every 10 minutes, for one site: per rule, its readings, limit and condition; the incidents opened and resolved; the notifications queued.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { query: siteQuery },
	responses: { 200: json(ReportView, "the evaluation"), ...apiErrors(404) },
});

function notFound(id: string): ApiError {
	return new ApiError(404, "not_found", `no alert rule '${id}'`, [{ field: "id", message: "unknown rule" }]);
}

export const alertRuleRoutes = openApiApp<AuthVars>()
	.openapi(listRulesRoute, async (c) => {
		const site = c.var.site;
		await ensureBuiltinRules(c.env.DB, site.id, Date.now());
		const [rules, firing] = await Promise.all([listRules(c.env.DB, site.id), firingCounts(c.env.DB, site.id)]);
		const metrics = [...METRICS]
			.filter(([id]) => visibleMetric(id, c.var.principal))
			.map(([id, m]) => ({ id, name: m.name, unit: m.unit, windows: [...m.windows], baseline: m.baseline, status: m.unavailable ? m.unavailable.status : ("ok" as const) }));
		return c.json({ site: site.id, rules: rules.filter((r) => visibleMetric(r.metric, c.var.principal)).map((r) => ruleView(r, firing.get(r.id) ?? 0)), metrics }, 200);
	})
	.openapi(getRuleRoute, async (c) => {
		const { id } = c.req.valid("param");
		const site = c.var.site;
		if (BUILTIN_IDS.has(id)) await ensureBuiltinRules(c.env.DB, site.id, Date.now());
		const rule = await getRule(c.env.DB, site.id, id);
		if (!rule || !visibleMetric(rule.metric, c.var.principal)) throw notFound(id);
		return c.json(ruleView(rule, (await firingCounts(c.env.DB, site.id)).get(id) ?? 0), 200);
	})
	.openapi(createRuleRoute, async (c) => {
		const input = c.req.valid("json");
		const site = c.var.site;
		const reader = METRICS.get(input.metric);
		const now = Date.now();
		const rule: AlertRule = {
			site: site.id,
			id: `r_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
			name: input.name,
			builtin: false,
			metric: input.metric,
			comparator: input.comparator,
			thresholdKind: input.threshold_kind ?? "absolute",
			threshold: input.threshold,
			window: input.window ?? reader?.windows[0] ?? "yesterday",
			baselineDays: input.baseline_days ?? 7,
			severity: input.severity ?? "warning",
			channels: resolveChannels(input.channels ?? [], []),
			cooldownSeconds: input.cooldown_seconds ?? 3600,
			enabled: input.enabled ?? true,
			createdAt: now,
			updatedAt: now,
			lastStatus: null,
			lastDetail: null,
			lastEvaluatedAt: null,
		};
		checkDefinition(rule);
		await drizzle(c.env.DB)
			.insert(alertRules)
			.values({ ...rule, channels: JSON.stringify(rule.channels) });
		return c.json(ruleView(rule, 0), 201);
	})
	.openapi(updateRuleRoute, async (c) => {
		const { id } = c.req.valid("param");
		const input = c.req.valid("json");
		const site = c.var.site;
		if (BUILTIN_IDS.has(id)) await ensureBuiltinRules(c.env.DB, site.id, Date.now());
		const before = await getRule(c.env.DB, site.id, id);
		if (!before) throw notFound(id);
		if (before.builtin) {
			const fixed = Object.keys(input).filter((k) => !BUILTIN_MUTABLE.has(k));
			if (fixed.length) throw invalid(fixed.map((f) => ({ field: f, message: "a built-in rule's condition is fixed (only enabled, channels and cooldown_seconds change); create a rule of your own instead" })));
		}
		const now = Date.now();
		const rule: AlertRule = {
			...before,
			name: input.name ?? before.name,
			metric: input.metric ?? before.metric,
			comparator: input.comparator ?? before.comparator,
			thresholdKind: input.threshold_kind ?? before.thresholdKind,
			threshold: input.threshold ?? before.threshold,
			window: input.window ?? (input.metric && input.metric !== before.metric ? (METRICS.get(input.metric)?.windows[0] ?? before.window) : before.window),
			baselineDays: input.baseline_days ?? before.baselineDays,
			severity: input.severity ?? before.severity,
			channels: input.channels ? resolveChannels(input.channels, before.channels) : before.channels,
			cooldownSeconds: input.cooldown_seconds ?? before.cooldownSeconds,
			enabled: input.enabled ?? before.enabled,
			updatedAt: now,
		};
		checkDefinition(rule);
		await drizzle(c.env.DB)
			.update(alertRules)
			.set({
				name: rule.name,
				metric: rule.metric,
				comparator: rule.comparator,
				thresholdKind: rule.thresholdKind,
				threshold: rule.threshold,
				window: rule.window,
				baselineDays: rule.baselineDays,
				severity: rule.severity,
				channels: JSON.stringify(rule.channels),
				cooldownSeconds: rule.cooldownSeconds,
				enabled: rule.enabled,
				updatedAt: now,
			})
			.where(and(eq(alertRules.site, site.id), eq(alertRules.id, id)));
		if (before.enabled && !rule.enabled) await resolveRuleIncidents(c.env, site, rule, "rule_disabled", now);
		return c.json(ruleView(rule, (await firingCounts(c.env.DB, site.id)).get(id) ?? 0), 200);
	})
	.openapi(deleteRuleRoute, async (c) => {
		const { id } = c.req.valid("param");
		const site = c.var.site;
		if (BUILTIN_IDS.has(id)) throw new ApiError(409, "builtin_rule", `'${id}' is a built-in rule: disable it with PUT {"enabled": false} instead`, [{ field: "id", message: "built-in rules cannot be deleted" }]);
		const rule = await getRule(c.env.DB, site.id, id);
		if (!rule) throw notFound(id);
		const now = Date.now();
		await drizzle(c.env.DB)
			.delete(alertRules)
			.where(and(eq(alertRules.site, site.id), eq(alertRules.id, id)));
		const resolved = await resolveRuleIncidents(c.env, site, rule, "rule_deleted", now);
		return c.json({ id, deleted: true, resolved }, 200);
	})
	.openapi(historyRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		if (q.from && q.to && q.from > q.to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${q.to})` }]);
		const where: SQL[] = [eq(alertsTable.site, site.id)];
		if (q.state) where.push(eq(alertsTable.state, q.state));
		if (q.rule) where.push(eq(alertsTable.ruleId, q.rule));
		if (q.from) where.push(gte(alertsTable.startedAt, dayStart(q.from, site.timezone)));
		if (q.to) where.push(lt(alertsTable.startedAt, dayStart(addDays(q.to, 1), site.timezone)));
		const rows = await drizzle(c.env.DB)
			.select()
			.from(alertsTable)
			.where(and(...where))
			.orderBy(desc(alertsTable.startedAt), desc(alertsTable.id))
			.limit(q.limit ?? 100)
			.all();
		const alerts = rows
			.filter((r) => visibleMetric(r.metric, c.var.principal))
			.map((r) => ({
				id: r.id,
				site: r.site,
				rule_id: r.ruleId,
				rule_name: r.ruleName,
				metric: r.metric,
				severity: r.severity,
				key: r.dedupeKey,
				label: r.label,
				state: r.state,
				resolution: r.resolution,
				opened_by: r.openedBy,
				opened_value: r.openedValue,
				value: r.value,
				baseline: r.baseline,
				limit: r.limit,
				period: r.period,
				started_at: r.startedAt,
				resolved_at: r.resolvedAt,
				last_evaluated_at: r.lastEvaluatedAt,
				notified_at: r.notifiedAt,
			}));
		return c.json({ site: site.id, alerts }, 200);
	})
	.openapi(deliveriesRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		const rows = await drizzle(c.env.DB)
			.select()
			.from(alertDeliveries)
			.where(and(eq(alertDeliveries.site, site.id), q.status ? eq(alertDeliveries.status, q.status) : sql`1`))
			.orderBy(desc(alertDeliveries.createdAt), desc(alertDeliveries.id))
			.limit(q.limit ?? 100)
			.all();
		const deliveries = rows.map((r) => {
			const channel = storedChannelSchema.parse(JSON.parse(r.channel));
			return {
				id: r.id,
				alert_id: r.alertId,
				event: r.event,
				channel: channelView(channel),
				status: r.status,
				attempts: r.attempts,
				last_error: r.lastError,
				last_status: r.lastStatus,
				provider_id: r.providerId,
				created_at: r.createdAt,
				updated_at: r.updatedAt,
				delivered_at: r.deliveredAt,
				dead_at: r.deadAt,
			};
		});
		return c.json({ site: site.id, deliveries }, 200);
	})
	.openapi(evaluateRoute, async (c) => c.json(await evaluateAlerts(c.env, c.var.site.id, Date.now(), "manual"), 200));

// The body a webhook channel receives, as a named schema of the document (components.schemas.AlertEvent).
// Not an OpenAPI `webhooks` entry: a sub-app's webhook is re-keyed under its mount path ("/api/v1/alert").
alertRuleRoutes.openAPIRegistry.register("AlertEvent", alertEventSchema);
