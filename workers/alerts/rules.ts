/**
 * Alert rules: the four of the architecture document, built in for every site, and user-defined ones.
 * A rule compares a metric's value (metrics.ts) with a limit — an absolute number, or a fraction of
 * the metric's baseline — and notifies its channels when an incident opens and when it resolves.
 */
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { alertRules, type COMPARATORS, type SEVERITIES, type THRESHOLD_KINDS } from "../db/alerts";
import type { AlertWindow } from "./metrics";
// Registers the metric of the built-in data_health rule.
import "../quality/alert-metric";

export type Comparator = (typeof COMPARATORS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type ThresholdKind = (typeof THRESHOLD_KINDS)[number];

/** A notification channel as stored: secrets included (never returned by the API). */
export const storedChannelSchema = z.discriminatedUnion("type", [
	z.object({ id: z.string(), type: z.literal("webhook"), url: z.string(), secret: z.string() }),
	z.object({ id: z.string(), type: z.literal("slack"), url: z.string() }),
	z.object({ id: z.string(), type: z.literal("email"), to: z.string() }),
]);
export type Channel = z.infer<typeof storedChannelSchema>;
const storedChannelsSchema = z.array(storedChannelSchema);

export interface AlertRule {
	site: string;
	id: string;
	name: string;
	builtin: boolean;
	metric: string;
	comparator: Comparator;
	thresholdKind: ThresholdKind;
	threshold: number;
	window: AlertWindow;
	baselineDays: number;
	severity: Severity;
	channels: Channel[];
	cooldownSeconds: number;
	enabled: boolean;
	createdAt: number;
	updatedAt: number;
	lastStatus: "ok" | "no_data" | "waiting_for_model" | "error" | null;
	lastDetail: string | null;
	lastEvaluatedAt: number | null;
}

/** What defines a rule's condition: fixed for built-in rules. */
type Definition = Pick<AlertRule, "id" | "name" | "metric" | "comparator" | "thresholdKind" | "threshold" | "window" | "baselineDays" | "severity" | "cooldownSeconds">;

/** The architecture document's rules (its `Alert System`), one set per site. Channels start empty: incidents are recorded, nothing is sent until channels are set. */
export const BUILTIN_RULES: readonly Definition[] = [
	// daily_revenue < avg_daily_revenue × 0.8: the last complete day against the mean of the 7 days before.
	{ id: "revenue_drop", name: "Revenue drop", metric: "revenue", comparator: "<", thresholdKind: "relative", threshold: 0.8, window: "yesterday", baselineDays: 7, severity: "critical", cooldownSeconds: 3600 },
	// conversion_rate < historical_avg × 0.9: the last complete day against the mean daily rate of the 28 days before.
	{ id: "conversion_drop", name: "Conversion rate drop", metric: "conversion_rate", comparator: "<", thresholdKind: "relative", threshold: 0.9, window: "yesterday", baselineDays: 28, severity: "warning", cooldownSeconds: 3600 },
	// stock_level < reorder_point, per SKU (one incident per SKU).
	{ id: "inventory_low", name: "Inventory low", metric: "inventory:stock", comparator: "<", thresholdKind: "relative", threshold: 1, window: "now", baselineDays: 0, severity: "info", cooldownSeconds: 3600 },
	// predicted_churn_rate > 0.8: waits for a churn model.
	{ id: "churn_risk", name: "High churn risk", metric: "model:predicted_churn_rate", comparator: ">", thresholdKind: "absolute", threshold: 0.8, window: "now", baselineDays: 0, severity: "warning", cooldownSeconds: 3600 },
	// Data health (issue 14): a failed daily reconciliation (events accepted/stored/archived, orders vs rollups) or new
	// data-quality issues on commerce records; one incident per check (workers/quality/alert-metric.ts).
	{ id: "data_health", name: "Data health", metric: "quality:data_health", comparator: ">", thresholdKind: "absolute", threshold: 0, window: "now", baselineDays: 0, severity: "warning", cooldownSeconds: 3600 },
];
export const BUILTIN_IDS: ReadonlySet<string> = new Set(BUILTIN_RULES.map((r) => r.id));

/** Whether `value comparator limit` holds. */
export function compare(value: number, comparator: Comparator, limit: number): boolean {
	if (comparator === "<") return value < limit;
	if (comparator === "<=") return value <= limit;
	if (comparator === ">") return value > limit;
	return value >= limit;
}

/** The number a value is compared with: the threshold itself, or threshold × baseline (null without a baseline). */
export function limitOf(rule: Pick<AlertRule, "thresholdKind" | "threshold">, baseline: number | null): number | null {
	if (rule.thresholdKind === "absolute") return rule.threshold;
	return baseline === null ? null : rule.threshold * baseline;
}

type Row = typeof alertRules.$inferSelect;

function fromRow(r: Row): AlertRule {
	return { ...r, channels: storedChannelsSchema.parse(JSON.parse(r.channels)) };
}

/**
 * Creates the site's built-in rules if missing, and brings their definitions up to date with the code
 * (the settings a user may change — enabled, channels, cooldown — are kept).
 */
export async function ensureBuiltinRules(db: D1Database, site: string, now: number): Promise<void> {
	const cols = ["name", "metric", "comparator", "threshold_kind", "threshold", "eval_window", "baseline_days", "severity"];
	const stmt = db.prepare(
		`INSERT INTO alert_rules (site, id, builtin, channels, enabled, cooldown_seconds, created_at, updated_at, ${cols.join(", ")})
		VALUES (?1, ?2, 1, '[]', 1, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
		ON CONFLICT (site, id) DO UPDATE SET ${cols.map((c) => `${c} = excluded.${c}`).join(", ")}
		WHERE ${cols.map((c) => `alert_rules.${c} IS NOT excluded.${c}`).join(" OR ")}`,
	);
	await db.batch(BUILTIN_RULES.map((b) => stmt.bind(site, b.id, b.cooldownSeconds, now, b.name, b.metric, b.comparator, b.thresholdKind, b.threshold, b.window, b.baselineDays, b.severity)));
}

/** Every rule of a site: the built-in ones in the document's order, then by creation. */
export async function listRules(db: D1Database, site: string): Promise<AlertRule[]> {
	const rows = await drizzle(db).select().from(alertRules).where(eq(alertRules.site, site)).orderBy(alertRules.createdAt, alertRules.id).all();
	const order = (r: Row) => (r.builtin ? BUILTIN_RULES.findIndex((b) => b.id === r.id) : BUILTIN_RULES.length);
	return rows.sort((a, b) => order(a) - order(b)).map(fromRow);
}

export async function getRule(db: D1Database, site: string, id: string): Promise<AlertRule | null> {
	const row = await drizzle(db).select().from(alertRules).where(and(eq(alertRules.site, site), eq(alertRules.id, id))).get();
	return row ? fromRow(row) : null;
}
