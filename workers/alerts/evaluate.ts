/**
 * Rule evaluation: reads each enabled rule's metric (metrics.ts), compares it with the rule's limit,
 * opens an incident when the condition becomes true and resolves it when it is false again, and
 * queues notifications (delivery.ts).
 *
 * - De-duplication: at most one open (`firing`) incident per (site, rule, dedupe key) — a partial unique
 *   index, so the cron and the live evaluation racing each other still open one. Evaluating again while
 *   the condition holds updates the incident's latest value and notifies nobody.
 * - Cooldown: an incident's firing notification is sent only if no incident of the same (rule, key)
 *   was notified within the rule's `cooldown_seconds`; otherwise it is held back and sent by the first
 *   evaluation after the cooldown ends if the incident is still firing. An incident resolved before its
 *   firing was notified is resolved silently; a notified one always gets its `resolved` notification.
 *   So a condition flapping within the cooldown gives one firing (and one resolved) notification, and
 *   a lasting one is never missed.
 * - A reading without a value (a rate over zero sessions) or without a baseline (a relative threshold
 *   with no history), and a metric that cannot be read (`no_data`, `waiting_for_model`, an error),
 *   leave the rule's incidents as they are: missing data neither opens nor resolves anything.
 * - The claim of a notification (notified_at / resolved_at) and the insert of its delivery rows run in
 *   one D1 transaction; delivery ids are deterministic, so a repeat inserts nothing.
 */
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alerts as alertsTable, type RESOLUTIONS, type TRIGGERS } from "../db/alerts";
import { findSite, type Site } from "../lib/sites";
import { enqueueDeliveries } from "./delivery";
import { METRICS, type MetricReading, type MetricResult } from "./metrics";
import { alertMessage, type AlertEvent, type AlertState } from "./notify";
import { compare, ensureBuiltinRules, limitOf, listRules, type AlertRule } from "./rules";

export type Trigger = (typeof TRIGGERS)[number];
export type Resolution = (typeof RESOLUTIONS)[number];
export type Incident = typeof alertsTable.$inferSelect;
export type RuleStatus = "ok" | "no_data" | "waiting_for_model" | "error";

export interface ReadingOutcome {
	key: string;
	label: string | null;
	value: number | null;
	baseline: number | null;
	limit: number | null;
	/** null: not evaluable (no value or no baseline). */
	condition: boolean | null;
	period: string;
}

export interface RuleOutcome {
	id: string;
	name: string;
	metric: string;
	status: RuleStatus;
	detail: string | null;
	readings: ReadingOutcome[];
}

export interface EvaluationReport {
	site: string;
	trigger: Trigger;
	evaluated_at: number;
	rules: RuleOutcome[];
	/** Incidents opened and resolved by this evaluation. */
	opened: string[];
	resolved: string[];
	/** Delivery rows queued (one per incident event × channel). */
	notifications: number;
}

export interface EvaluateOptions {
	/** Only rules whose metric passes (e.g. the live evaluation: `(m) => m.startsWith("live:")`). */
	metrics?: (metric: string) => boolean;
}

/** Readings at the moment of a notification (a resolution by rule change has none: the incident's last ones are used). */
interface Observed {
	value: number | null;
	baseline: number | null;
	limit: number | null;
	period: string;
}

function alertEvent(site: Site, rule: AlertRule, inc: Incident, state: AlertState, observed: Observed, resolution: Resolution | null, resolvedAt: number | null): AlertEvent {
	const reader = METRICS.get(rule.metric);
	const event: Omit<AlertEvent, "message"> = {
		id: `${inc.id}:${state}`,
		type: `alert.${state}`,
		site: site.id,
		alert: {
			id: inc.id,
			rule_id: rule.id,
			rule_name: rule.name,
			severity: rule.severity,
			metric: rule.metric,
			metric_name: reader?.name ?? rule.metric,
			unit: reader?.unit ?? "",
			currency: reader?.unit === "currency" ? site.currency : null,
			key: inc.dedupeKey,
			label: inc.label,
			state,
			resolution,
			comparator: rule.comparator,
			threshold_kind: rule.thresholdKind,
			threshold: rule.threshold,
			window: rule.window,
			baseline_days: reader?.usesBaselineDays ? rule.baselineDays : null,
			value: observed.value,
			baseline: observed.baseline,
			limit: observed.limit,
			period: observed.period,
			opened_by: inc.openedBy,
			started_at: inc.startedAt,
			resolved_at: resolvedAt,
		},
	};
	return { ...event, message: alertMessage(event) };
}

/** Inserts one pending delivery per channel when `guard` (SQL over ?1 site, ?2 now, ?3 alert id) holds; returns the ids inserted. */
function deliveryInsert(db: D1Database, site: string, alertId: string, state: AlertState, rule: AlertRule, payload: AlertEvent, now: number, guard: string): D1PreparedStatement {
	return db
		.prepare(
			`INSERT INTO alert_deliveries (id, site, alert_id, event, channel_type, channel, payload, status, attempts, created_at, updated_at)
			SELECT ?3 || ':' || ?4 || ':' || json_extract(c.value, '$.id'), ?1, ?3, ?4, json_extract(c.value, '$.type'), c.value, ?5, 'pending', 0, ?2, ?2
			FROM json_each(?6) c WHERE ${guard}
			ON CONFLICT (id) DO NOTHING RETURNING id`,
		)
		.bind(site, now, alertId, state, JSON.stringify(payload), JSON.stringify(rule.channels));
}

/** A statement and what to do with its result. */
interface Step {
	stmt: D1PreparedStatement;
	then?: (r: D1Result<Record<string, unknown>>) => void;
}

const idsOf = (r: D1Result<Record<string, unknown>>) => r.results.map((row) => String(row.id));

/** Resolves an open incident and (if its firing was notified) queues its `resolved` notification, in one transaction. */
function resolveSteps(db: D1Database, site: Site, rule: AlertRule, inc: Incident, resolution: Resolution, now: number, observed: Observed | null, out: { resolved: string[]; deliveries: string[] }): Step[] {
	const seen = observed ?? { value: inc.value, baseline: inc.baseline, limit: inc.limit, period: inc.period };
	const payload = alertEvent(site, rule, inc, "resolved", seen, resolution, now);
	return [
		{
			stmt: db
				.prepare("UPDATE alerts SET state = 'resolved', resolution = ?2, resolved_at = ?3, last_evaluated_at = ?3, value = ?4, period = ?5 WHERE id = ?1 AND state = 'firing'")
				.bind(inc.id, resolution, now, seen.value, seen.period),
			then: (r) => {
				if (r.meta.changes) out.resolved.push(inc.id);
			},
		},
		{
			stmt: deliveryInsert(db, site.id, inc.id, "resolved", rule, payload, now, "EXISTS (SELECT 1 FROM alerts a WHERE a.id = ?3 AND a.state = 'resolved' AND a.resolved_at = ?2 AND a.notified_at IS NOT NULL)"),
			then: (r) => out.deliveries.push(...idsOf(r)),
		},
	];
}

/** Statements that must commit together (a claim and its deliveries). */
type Unit = Step[];
/** Statements per D1 batch (each batch is one transaction); units are never split. */
const BATCH_STATEMENTS = 100;

async function runUnits(db: D1Database, units: Unit[]): Promise<void> {
	let i = 0;
	while (i < units.length) {
		const steps: Step[] = [];
		while (i < units.length && (steps.length === 0 || steps.length + (units[i]?.length ?? 0) <= BATCH_STATEMENTS)) steps.push(...(units[i++] ?? []));
		const results = await db.batch<Record<string, unknown>>(steps.map((s) => s.stmt));
		results.forEach((r, k) => steps[k]?.then?.(r));
	}
}

async function openIncidents(db: D1Database, site: string): Promise<Incident[]> {
	return drizzle(db).select().from(alertsTable).where(and(eq(alertsTable.site, site), eq(alertsTable.state, "firing"))).all();
}

async function readMetric(env: Env, site: Site, rule: AlertRule, now: number): Promise<MetricResult | { status: "error"; reason: string }> {
	const reader = METRICS.get(rule.metric);
	if (!reader) return { status: "error", reason: `unknown metric '${rule.metric}'` };
	if (reader.unavailable) return reader.unavailable;
	if (!reader.windows.includes(rule.window)) return { status: "error", reason: `metric '${rule.metric}' has no window '${rule.window}'` };
	try {
		return await reader.read(env, site, rule, now);
	} catch (err) {
		console.error("alert metric read failed", site.id, rule.id, err instanceof Error ? err.message : err);
		return { status: "error", reason: "the metric could not be read; see the logs" };
	}
}

/** Opens an incident (nothing when one is already open for the rule and key: the partial unique index). */
function openStep(db: D1Database, site: Site, rule: AlertRule, r: MetricReading, limit: number | null, now: number, trigger: Trigger, out: { opened: string[] }): Step {
	const id = crypto.randomUUID();
	return {
		stmt: db
			.prepare(
				`INSERT INTO alerts (id, site, rule_id, dedupe_key, label, rule_name, metric, severity, state, opened_by, opened_value, value, baseline, limit_value, period, started_at, last_evaluated_at)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'firing', ?9, ?10, ?10, ?11, ?12, ?13, ?14, ?14) ON CONFLICT DO NOTHING`,
			)
			.bind(id, site.id, rule.id, r.key, r.label, rule.name, rule.metric, rule.severity, trigger, r.value, r.baseline, limit, r.period, now),
		then: (res) => {
			if (res.meta.changes) out.opened.push(id);
		},
	};
}

async function evaluateRule(env: Env, site: Site, rule: AlertRule, open: Incident[], now: number, trigger: Trigger, out: { opened: string[]; resolved: string[]; deliveries: string[] }): Promise<RuleOutcome> {
	const db = env.DB;
	const result = await readMetric(env, site, rule, now);
	const units: Unit[] = [];
	const readings: ReadingOutcome[] = [];
	if (result.status === "ok") {
		const byKey = new Map(open.map((i) => [i.dedupeKey, i]));
		const seen = new Set<string>();
		for (const r of result.readings) {
			seen.add(r.key);
			const limit = limitOf(rule, r.baseline);
			const condition = r.value === null || limit === null ? null : compare(r.value, rule.comparator, limit);
			readings.push({ key: r.key, label: r.label, value: r.value, baseline: r.baseline, limit, condition, period: r.period });
			const current = byKey.get(r.key);
			if (condition === true && !current) {
				units.push([openStep(db, site, rule, r, limit, now, trigger, out)]);
			} else if (condition === true && current) {
				units.push([{ stmt: db.prepare("UPDATE alerts SET value = ?2, period = ?3, last_evaluated_at = ?4 WHERE id = ?1 AND state = 'firing'").bind(current.id, r.value, r.period, now) }]);
			} else if (condition === false && current) {
				units.push(resolveSteps(db, site, rule, current, "cleared", now, { value: r.value, baseline: r.baseline, limit, period: r.period }, out));
			}
		}
		// A key the metric no longer reports (a SKU whose reorder point was removed) has nothing left to alert on.
		for (const inc of open) if (!seen.has(inc.dedupeKey)) units.push(resolveSteps(db, site, rule, inc, "cleared", now, null, out));
	}
	const unevaluable = result.status === "ok" && readings.length > 0 && readings.every((r) => r.condition === null);
	const status: RuleStatus = unevaluable ? "no_data" : result.status;
	const detail = result.status !== "ok" ? result.reason : unevaluable ? `no ${readings.some((r) => r.value === null) ? "value" : "baseline"} for ${readings[0]?.period ?? "the window"}` : null;
	units.push([{ stmt: db.prepare("UPDATE alert_rules SET last_status = ?3, last_detail = ?4, last_evaluated_at = ?5 WHERE site = ?1 AND id = ?2").bind(site.id, rule.id, status, detail, now) }]);
	await runUnits(db, units);
	return { id: rule.id, name: rule.name, metric: rule.metric, status, detail, readings };
}

/**
 * Sends the firing notification of every open incident not yet notified, unless the cooldown holds it
 * back (see the file comment). A rule without channels notifies nobody and claims nothing, so adding
 * channels to a rule with an open incident notifies it at the next evaluation.
 */
async function notifyOpen(db: D1Database, site: Site, rules: Map<string, AlertRule>, now: number, out: { deliveries: string[] }): Promise<void> {
	const pending = await drizzle(db)
		.select()
		.from(alertsTable)
		.where(and(eq(alertsTable.site, site.id), eq(alertsTable.state, "firing"), isNull(alertsTable.notifiedAt)))
		.all();
	const units: Unit[] = [];
	for (const inc of pending) {
		const rule = rules.get(inc.ruleId);
		if (!rule?.enabled || !rule.channels.length) continue;
		const payload = alertEvent(site, rule, inc, "firing", { value: inc.value, baseline: inc.baseline, limit: inc.limit, period: inc.period }, null, null);
		units.push([
			{
				stmt: db
					.prepare(
						`UPDATE alerts SET notified_at = ?2 WHERE id = ?3 AND state = 'firing' AND notified_at IS NULL
						AND NOT EXISTS (SELECT 1 FROM alerts p WHERE p.site = ?1 AND p.rule_id = ?4 AND p.dedupe_key = ?5 AND p.notified_at > ?6)`,
					)
					.bind(site.id, now, inc.id, inc.ruleId, inc.dedupeKey, now - rule.cooldownSeconds * 1000),
			},
			{ stmt: deliveryInsert(db, site.id, inc.id, "firing", rule, payload, now, "(SELECT a.notified_at FROM alerts a WHERE a.id = ?3) = ?2"), then: (r) => out.deliveries.push(...idsOf(r)) },
		]);
	}
	await runUnits(db, units);
}

/**
 * Evaluates every enabled rule of a site at `now` (UTC ms): opens, updates and resolves incidents and
 * queues their notifications. Called by the cron (`schedule`), the real-time object (`live`) and
 * `POST /api/v1/alerts/evaluate` (`manual`).
 */
export async function evaluateAlerts(env: Env, siteId: string, now: number, trigger: Trigger, options: EvaluateOptions = {}): Promise<EvaluationReport> {
	const site = await findSite(env.DB, siteId);
	if (!site) throw new Error(`evaluateAlerts: unknown site '${siteId}'`);
	await ensureBuiltinRules(env.DB, site.id, now);
	const all = await listRules(env.DB, site.id);
	const rules = all.filter((r) => r.enabled && (options.metrics?.(r.metric) ?? true));
	const open = await openIncidents(env.DB, site.id);
	const out = { opened: [] as string[], resolved: [] as string[], deliveries: [] as string[] };
	const outcomes: RuleOutcome[] = [];
	for (const rule of rules) {
		outcomes.push(
			await evaluateRule(
				env,
				site,
				rule,
				open.filter((i) => i.ruleId === rule.id),
				now,
				trigger,
				out,
			),
		);
	}
	await notifyOpen(env.DB, site, new Map(all.map((r) => [r.id, r])), now, out);
	await enqueueDeliveries(env, out.deliveries);
	return { site: site.id, trigger, evaluated_at: now, rules: outcomes, opened: out.opened, resolved: out.resolved, notifications: out.deliveries.length };
}

/** Resolves a rule's open incidents because the rule was disabled or deleted (notified ones get their `resolved` notification). */
export async function resolveRuleIncidents(env: Env, site: Site, rule: AlertRule, resolution: "rule_disabled" | "rule_deleted", now: number): Promise<number> {
	const open = (await openIncidents(env.DB, site.id)).filter((i) => i.ruleId === rule.id);
	const out = { resolved: [] as string[], deliveries: [] as string[] };
	await runUnits(
		env.DB,
		open.map((inc) => resolveSteps(env.DB, site, rule, inc, resolution, now, null, out)),
	);
	await enqueueDeliveries(env, out.deliveries);
	return out.resolved.length;
}

/** The cron's pass: every site, one at a time; a failing site is logged and the others still run. */
export async function evaluateAllSites(env: Env, now: number): Promise<{ sites: number; opened: number; resolved: number; notifications: number; failed: number }> {
	const sites = await env.DB.prepare("SELECT id FROM sites ORDER BY id").all<{ id: string }>();
	const total = { sites: 0, opened: 0, resolved: 0, notifications: 0, failed: 0 };
	for (const { id } of sites.results) {
		try {
			const r = await evaluateAlerts(env, id, now, "schedule");
			total.sites++;
			total.opened += r.opened.length;
			total.resolved += r.resolved.length;
			total.notifications += r.notifications;
		} catch (err) {
			total.failed++;
			console.error("alert evaluation failed", id, err instanceof Error ? err.message : err);
		}
	}
	return total;
}
