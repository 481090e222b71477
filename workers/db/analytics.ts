/**
 * Results of the nightly analytics workflow (workers/jobs/nightly.ts): one run per (site, as-of day),
 * its steps, and what each step wrote, keyed by (site, as_of) so a rerun replaces exactly that day's
 * results. `as_of` is the last complete local day the run saw: data strictly before the end of that day.
 */
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One workflow instance. The id is the Workflow instance id (`nightly-<as_of>-<site>` for the cron's run). */
export const analyticsRuns = sqliteTable(
	"analytics_runs",
	{
		id: text("id").primaryKey(),
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		trigger: text("trigger", { enum: ["cron", "manual", "start"] }).notNull(),
		status: text("status", { enum: ["queued", "running", "complete", "errored"] }).notNull(),
		createdAt: integer("created_at").notNull(),
		startedAt: integer("started_at"),
		finishedAt: integer("finished_at"),
		error: text("error"),
	},
	(t) => [index("analytics_runs_site_created").on(t.site, t.createdAt), index("analytics_runs_site_as_of").on(t.site, t.asOf)],
);

/** One step of a run: the latest attempt's status, timing and row counts (attempts counts every try). */
export const analyticsRunSteps = sqliteTable(
	"analytics_run_steps",
	{
		runId: text("run_id").notNull(),
		step: text("step").notNull(),
		position: integer("position").notNull(),
		status: text("status", { enum: ["running", "complete", "errored"] }).notNull(),
		attempts: integer("attempts").notNull().default(0),
		startedAt: integer("started_at").notNull(),
		finishedAt: integer("finished_at"),
		durationMs: integer("duration_ms"),
		rowsRead: integer("rows_read"),
		rowsWritten: integer("rows_written"),
		error: text("error"),
	},
	(t) => [primaryKey({ columns: [t.runId, t.step] })],
);

/** RFM scores per customer and as-of day (kept: the latest 8 days and every month's last day). */
export const rfmScores = sqliteTable(
	"rfm_scores",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		customerId: text("customer_id").notNull(),
		recencyDays: integer("recency_days").notNull(),
		frequency: integer("frequency").notNull(),
		monetaryMinor: integer("monetary_minor").notNull(),
		r: integer("r").notNull(),
		f: integer("f").notNull(),
		m: integer("m").notNull(),
		segment: text("segment").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.customerId] }), index("rfm_scores_segment").on(t.site, t.asOf, t.segment), index("rfm_scores_customer").on(t.site, t.customerId, t.asOf)],
);

/** Probabilistic CLV per customer (BG/NBD + Gamma-Gamma), same retention as rfm_scores. Times in days. */
export const clvScores = sqliteTable(
	"clv_scores",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		customerId: text("customer_id").notNull(),
		/** Repeat purchase days, days from first to last purchase, days from first purchase to the as-of end. */
		x: integer("x").notNull(),
		tx: real("tx").notNull(),
		age: real("age").notNull(),
		pAlive: real("p_alive").notNull(),
		expected30: real("expected_30").notNull(),
		expected90: real("expected_90").notNull(),
		expected365: real("expected_365").notNull(),
		/** Expected spend per order (minor units; Gamma-Gamma), and CLV over the model's horizon (minor units, margin and discount applied). */
		expectedSpendMinor: real("expected_spend_minor").notNull(),
		clvMinor: real("clv_minor").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.customerId] }), index("clv_scores_value").on(t.site, t.asOf, t.clvMinor)],
);

/** Association rules of one run, at product or category level (items as sorted JSON arrays). */
export const basketRules = sqliteTable(
	"basket_rules",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		level: text("level", { enum: ["product", "category"] }).notNull(),
		antecedent: text("antecedent").notNull(),
		consequent: text("consequent").notNull(),
		/** Orders holding every item of both sides. */
		count: integer("count").notNull(),
		support: real("support").notNull(),
		confidence: real("confidence").notNull(),
		lift: real("lift").notNull(),
		/** null when confidence is 1 (conviction is infinite). */
		conviction: real("conviction"),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.level, t.antecedent, t.consequent] }), index("basket_rules_lift").on(t.site, t.asOf, t.level, t.lift)],
);

/** Small results of a run as JSON documents: segment summaries, cohort matrices, bundles, seasonality, the CLV model. */
export const analyticsResults = sqliteTable(
	"analytics_results",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		kind: text("kind").notNull(),
		json: text("json").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.kind] })],
);

// ───────────── Predictive models (issue 12) ─────────────

/**
 * Every trained model version: what it was trained on, its holdout metrics and its baseline's, and
 * whether it was promoted (served). A model scoring worse than its baseline is stored, not promoted;
 * the artefact (trees, parameters) is JSON in R2 at `artefact_key`.
 */
export const models = sqliteTable(
	"models",
	{
		site: text("site").notNull(),
		name: text("name").notNull(),
		version: integer("version").notNull(),
		asOf: text("as_of").notNull(),
		trainedAt: integer("trained_at").notNull(),
		params: text("params").notNull(),
		trainingWindow: text("training_window").notNull(),
		metrics: text("metrics").notNull(),
		baseline: text("baseline").notNull(),
		promoted: integer("promoted", { mode: "boolean" }).notNull(),
		/** Why it was (not) promoted, in words. */
		decision: text("decision").notNull(),
		artefactKey: text("artefact_key"),
	},
	(t) => [primaryKey({ columns: [t.site, t.name, t.version] }), index("models_site_name_as_of").on(t.site, t.name, t.asOf)],
);

/** Churn probability per customer and as-of day, with the model version and the top reasons (JSON). */
export const churnScores = sqliteTable(
	"churn_scores",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		customerId: text("customer_id").notNull(),
		probability: real("probability").notNull(),
		reasons: text("reasons").notNull(),
		modelVersion: integer("model_version").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.customerId] }), index("churn_scores_probability").on(t.site, t.asOf, t.probability)],
);

/** Precomputed top-k recommendations for a customer or a product (items JSON: [{sku, score, why}]). */
export const recommendations = sqliteTable(
	"recommendations",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		kind: text("kind", { enum: ["customer", "product"] }).notNull(),
		subject: text("subject").notNull(),
		items: text("items").notNull(),
		modelVersion: integer("model_version").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.kind, t.subject] })],
);

/** The next best action per customer with its reason. */
export const nextActions = sqliteTable(
	"next_actions",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		customerId: text("customer_id").notNull(),
		action: text("action").notNull(),
		reason: text("reason").notNull(),
		/** Higher first within an action list (e.g. value at stake). */
		priority: real("priority").notNull(),
		details: text("details").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.customerId] }), index("next_actions_action").on(t.site, t.asOf, t.action, t.priority)],
);

/** Demand, lead time and the computed reorder point per SKU. Units per day; days. */
export const inventoryPlan = sqliteTable(
	"inventory_plan",
	{
		site: text("site").notNull(),
		asOf: text("as_of").notNull(),
		sku: text("sku").notNull(),
		demandMean: real("demand_mean").notNull(),
		demandSd: real("demand_sd").notNull(),
		leadMean: real("lead_mean"),
		leadSd: real("lead_sd"),
		leadSource: text("lead_source").notNull(),
		serviceLevel: real("service_level").notNull(),
		safetyStock: real("safety_stock"),
		reorderPoint: real("reorder_point"),
		stock: integer("stock"),
		daysOfCover: real("days_of_cover"),
		stockoutRisk: real("stockout_risk"),
		forecast: text("forecast").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.asOf, t.sku] })],
);
