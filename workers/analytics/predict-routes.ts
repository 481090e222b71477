/**
 * Predictive analytics API (issue 12): the model registry (`/models`), churn risk per customer
 * (`/churn`), precomputed recommendations (`/recommendations`) and next best actions (`/actions`). Every
 * answer comes from the latest complete nightly run (or `as_of=`) and names the model version that made
 * it. Money at stake is strategic: hidden from the operations role.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { csvCell } from "../lib/csv";
import { ApiError } from "../lib/http";
import { currencyDigits } from "../lib/money";
import { apiErrors, intParam, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { isDay } from "../metrics/calendar";
import { KPI_BY_ID, visibleTo, type Kpi } from "../metrics/catalog";
import { kpiHistory, servedForecast, PROJECTABLE, projectPeriod, shortestHistory, type ForecastGrain } from "./forecast-kpi";
import { listModels } from "./registry";
import { SEGMENT_NAMES, type SegmentName } from "./rfm";

const TAG = "Predictions";
const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const asOfParam = day.optional().describe("the nightly run's as-of day; default: the latest complete run");
const major = (minor: number, currency: string) => Math.round(minor) / 10 ** currencyDigits(currency);
const strategic = (p: AuthVars["principal"]) => !(p.kind === "user" && p.role === "operations");

/** The latest complete run's day that has rows in `table` (or the given day when it has). */
async function predictionDay(db: D1Database, site: string, table: string, asOf: string | undefined): Promise<string> {
	const row = await db
		.prepare(
			`SELECT MAX(r.as_of) AS d FROM analytics_runs r WHERE r.site = ?1 AND r.status = 'complete' AND (?2 IS NULL OR r.as_of = ?2)
			AND EXISTS (SELECT 1 FROM ${table} t WHERE t.site = r.site AND t.as_of = r.as_of)`,
		)
		.bind(site, asOf ?? null)
		.first<{ d: string | null }>();
	if (row?.d) return row.d;
	throw new ApiError(404, "no_results", asOf ? `no complete nightly run with predictions for ${asOf}` : "no predictions yet: the nightly analytics has not completed a run with this model (POST /api/v1/jobs/nightly/run)", [
		{ field: asOf ? "as_of" : "site", message: "no predictions" },
	]);
}

const toCsv = (header: string[], rows: unknown[][]) => `${[header.join(","), ...rows.map((r) => r.map(csvCell).join(","))].join("\n")}\n`;

const ModelSchema = z
	.object({
		name: z.string(),
		version: z.number().int(),
		as_of: z.string(),
		trained_at: z.number().int(),
		params: z.unknown(),
		training_window: z.unknown(),
		metrics: z.unknown().describe("holdout metrics of this version"),
		baseline: z.unknown().describe("the same metrics of its baseline, on the same holdout"),
		promoted: z.boolean().describe("served: it beat its baseline"),
		decision: z.string(),
	})
	.openapi("ModelVersion");

const listModelsRoute = createRoute({
	method: "get",
	path: "/models",
	operationId: "listModels",
	tags: [TAG],
	summary: "Model registry",
	description: "Every trained model version of the site (churn, forecasts, recommendations), newest first per model, with its holdout metrics beside its baseline's and whether it was promoted.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam }) },
	responses: { 200: json(z.object({ site: z.string(), models: z.array(ModelSchema) }), "versions"), ...apiErrors(404) },
});

const getModelRoute = createRoute({
	method: "get",
	path: "/models/{name}",
	operationId: "getModel",
	tags: [TAG],
	summary: "One model's versions",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam }), params: z.object({ name: z.string().regex(/^[a-z0-9_:.-]{1,64}$/, "a model name such as churn") }) },
	responses: { 200: json(z.object({ site: z.string(), name: z.string(), versions: z.array(ModelSchema) }), "versions"), ...apiErrors(404) },
});

const ChurnRow = z.object({
	customer_id: z.string(),
	probability: z.number(),
	reasons: z.array(z.object({ feature: z.string(), value: z.number().nullable(), contribution: z.number() })).describe("the features that pushed this customer's probability up most"),
	segment: z.string().nullable(),
	value_at_stake: z.number().nullable().describe("the customer's 12-month CLV (site currency); null for the operations role or without a CLV model"),
	model_version: z.number().int(),
});

const churnRoute = createRoute({
	method: "get",
	path: "/churn",
	operationId: "churn",
	tags: [TAG],
	summary: "Churn risk per customer",
	description:
		"The probability that each customer with an order in the last 365 days places none in the next 90 days, from the promoted churn model (a random forest over the architecture document's eight features), " +
		"with the top reasons. Highest first; `min_prob` and `segment` filter; paged (`cursor`), or every row as CSV (`format=csv`).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			as_of: asOfParam,
			min_prob: z.string().regex(/^(0(\.\d+)?|1(\.0+)?)$/, "a probability 0–1").transform(Number).optional(),
			segment: z.enum(SEGMENT_NAMES as [SegmentName, ...SegmentName[]]).optional(),
			customer: z.string().min(1).max(128).optional().describe("one customer's score (an empty list when they were not scored)"),
			limit: intParam(1, 500).optional().describe("default 50"),
			cursor: z.string().regex(/^\d{1,9}$/, "a next_cursor value").optional(),
			format: z.enum(["json", "csv"]).optional(),
		}),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				as_of: z.string(),
				currency: z.string(),
				total: z.number().int(),
				distribution: z.array(z.object({ from: z.number(), to: z.number(), customers: z.number().int() })).describe("customers by probability, tenths"),
				summary: z
					.object({ customers: z.number().int(), mean_probability: z.number().nullable(), model_version: z.number().int().nullable() })
					.describe(
						"every customer scored in the run, whatever the filters: the predicted churn rate is their mean probability — the expected share of customers with an order in the last 365 days who place none in the next 90 (the same reading as the churn alert's)",
					),
				customers: z.array(ChurnRow),
				next_cursor: z.string().nullable(),
			}),
			"customers at risk",
		),
		...apiErrors(404),
	},
});

const RecItem = z.object({ sku: z.string(), score: z.number(), why: z.string() });
const recommendationsRoute = createRoute({
	method: "get",
	path: "/recommendations",
	operationId: "recommendations",
	tags: [TAG],
	summary: "Recommendations",
	description: "Precomputed top-k from the nightly run: for a customer (`customer=`), products they are likely to buy next; for a product (`product=`), products to show with it. Exactly one of the two.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({ site: siteParam, as_of: asOfParam, customer: z.string().min(1).max(128).optional(), product: z.string().min(1).max(128).optional(), k: intParam(1, 50).optional().describe("default 10") }),
	},
	responses: { 200: json(z.object({ site: z.string(), as_of: z.string(), kind: z.enum(["customer", "product"]), subject: z.string(), model_version: z.number().int(), items: z.array(RecItem) }), "the list"), ...apiErrors(404) },
});

const ACTIONS = ["win_back", "vip_care", "replenishment", "cross_sell", "nurture", "none"] as const;
const actionsRoute = createRoute({
	method: "get",
	path: "/actions",
	operationId: "nextBestActions",
	tags: [TAG],
	summary: "Next best actions",
	description:
		"One action per customer with its reason, from their segment, churn risk, typical reorder interval and recommendations: `win_back`, `vip_care`, `replenishment`, `cross_sell`, `nurture`. " +
		"Without `type`: the count per action; with it, the customers (highest priority first; `format=csv` for a campaign list).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, as_of: asOfParam, type: z.enum(ACTIONS).optional(), limit: intParam(1, 500).optional(), format: z.enum(["json", "csv"]).optional() }) },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				as_of: z.string(),
				counts: z.array(z.object({ action: z.string(), customers: z.number().int() })),
				customers: z.array(z.object({ customer_id: z.string(), action: z.string(), reason: z.string(), priority: z.number().nullable().describe("value-based order; null for the operations role"), details: z.unknown() })),
			}),
			"actions",
		),
		...apiErrors(404),
	},
});

const MAX_HORIZON: Record<ForecastGrain, number> = { day: 90, week: 52, month: 24 };
const DEFAULT_HORIZON: Record<ForecastGrain, number> = { day: 30, week: 8, month: 6 };
const Total = z.object({ mean: z.number(), se: z.number(), lower80: z.number(), upper80: z.number(), lower95: z.number(), upper95: z.number() });
const Band = z.object({ period: z.string(), from: z.string(), mean: z.number(), lower80: z.number(), upper80: z.number(), lower95: z.number(), upper95: z.number() });
const forecastRoute = createRoute({
	method: "get",
	path: "/forecast",
	operationId: "forecast",
	tags: [TAG],
	summary: "Forecast any KPI",
	description:
		"The KPI's series of whole periods (up to the last complete one; days are the site's) is fitted with each candidate model of the grain — month: SARIMA(1,1,1)(1,1,1,12) by exact maximum likelihood " +
		"(Kalman filter), Holt-Winters ETS (damped additive trend, additive season) and damped Holt; week: ARIMA(1,1,1) and damped Holt; day: SARIMA(1,0,1)(1,1,1,7) and ETS with a weekly season — " +
		"the model with the lowest rolling-origin backtest MASE is chosen and forecasts `horizon` periods with 80 % and 95 % intervals. The answer gives every candidate's error and the seasonal-naive baseline's. " +
		`A history shorter than the shortest model accepts (month ${shortestHistory("month")}, week ${shortestHistory("week")}, day ${shortestHistory("day")} periods) is refused: 400 insufficient_history.`,
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			metric: z.string().min(1).max(64).describe("a KPI id of the catalogue (not a growth KPI), e.g. revenue, orders, sessions"),
			grain: z.enum(["day", "week", "month"]).optional().describe("default month"),
			horizon: intParam(1, 90).optional().describe("periods ahead; default month 6, week 8, day 30; at most month 24, week 52, day 90"),
		}),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				currency: z.string(),
				metric: z.string(),
				grain: z.string(),
				unit: z.string(),
				history: z.array(z.object({ period: z.string(), from: z.string(), value: z.number() })),
				model: z.object({ label: z.string(), parameters: z.record(z.string(), z.unknown()) }),
				backtest: z.unknown().describe("the chosen model's rolling-origin errors: mape, smape, mase, interval coverage"),
				candidates: z.array(z.object({ label: z.string(), mase: z.number().nullable(), smape: z.number().nullable(), refused: z.string().nullable() })),
				baseline: z.object({ label: z.string(), mase: z.number(), smape: z.number() }),
				beats_baseline: z.boolean(),
				forecast: z.array(Band),
				total: z.object({ periods: z.number().int() }).merge(Total).describe("the sum of the horizon's periods, with the interval of the sum (the periods' errors are correlated)"),
			}),
			"the forecast",
		),
		...apiErrors(404),
	},
});

const projectionRoute = createRoute({
	method: "get",
	path: "/forecast/projection",
	operationId: "forecastProjection",
	tags: [TAG],
	summary: "Month-end (or quarter-end) projection",
	description:
		"The period's value by its last day: the KPI over the complete days so far (`actual_to_date`, the KPI API's total for the period's start to yesterday) plus the daily forecast " +
		"(the model GET /forecast?grain=day chooses) summed over the days left, today included. The interval of that sum comes from the joint covariance of the daily forecast errors — " +
		"the errors are correlated, so it is not the sum of the daily intervals. The actual part is known: it shifts the interval without widening it. " +
		`A daily history shorter than ${shortestHistory("day")} days is refused: 400 insufficient_history.`,
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			metric: z.enum(PROJECTABLE).optional().describe("a KPI that adds up over days; default revenue"),
			period: z.enum(["month", "quarter"]).optional().describe("default month"),
		}),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				currency: z.string(),
				metric: z.string(),
				unit: z.string(),
				period: z.string(),
				from: z.string(),
				to: z.string(),
				today: z.string().describe("the site's today, the first forecast day"),
				days_done: z.number().int(),
				days_left: z.number().int(),
				actual_to_date: z.number(),
				forecast_rest: Total.describe("the daily forecast summed over the days left"),
				projection: Total.describe("actual_to_date + forecast_rest"),
				model: z.object({ label: z.string(), parameters: z.record(z.string(), z.unknown()) }),
				backtest: z.unknown().describe("the chosen daily model's rolling-origin errors"),
				baseline: z.object({ label: z.string(), mase: z.number(), smape: z.number() }),
				beats_baseline: z.boolean(),
			}),
			"the projection",
		),
		...apiErrors(404),
	},
});

type ModelRow = Awaited<ReturnType<typeof listModels>>[number];
const modelJson = (m: ModelRow) => ({
	name: m.name,
	version: m.version,
	as_of: m.asOf,
	trained_at: m.trainedAt,
	params: m.params,
	training_window: m.trainingWindow,
	metrics: m.metrics,
	baseline: m.baseline,
	promoted: m.promoted,
	decision: m.decision,
});

export const predictions = openApiApp<AuthVars>()
	.openapi(listModelsRoute, async (c) => c.json({ site: c.var.site.id, models: (await listModels(c.env.DB, c.var.site.id)).map(modelJson) }, 200))
	.openapi(getModelRoute, async (c) => {
		const name = c.req.valid("param").name;
		const versions = await listModels(c.env.DB, c.var.site.id, name);
		if (!versions.length) throw new ApiError(404, "not_found", `no model '${name}' has been trained for this site`, [{ field: "name", message: "unknown model" }]);
		return c.json({ site: c.var.site.id, name, versions: versions.map(modelJson) }, 200);
	})
	.openapi(churnRoute, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const asOf = await predictionDay(c.env.DB, site.id, "churn_scores", q.as_of);
		const csv = q.format === "csv";
		const where = "c.site = ?1 AND c.as_of = ?2 AND c.probability >= ?3 AND (?4 IS NULL OR s.segment = ?4) AND (?5 IS NULL OR c.customer_id = ?5)";
		const binds = [site.id, asOf, q.min_prob ?? 0, q.segment ?? null, q.customer ?? null];
		const from = "FROM churn_scores c LEFT JOIN rfm_scores s ON s.site = c.site AND s.as_of = c.as_of AND s.customer_id = c.customer_id LEFT JOIN clv_scores v ON v.site = c.site AND v.as_of = c.as_of AND v.customer_id = c.customer_id";
		const total = (await c.env.DB.prepare(`SELECT COUNT(*) AS n ${from} WHERE ${where}`).bind(...binds).first<{ n: number }>())?.n ?? 0;
		const limit = csv ? 1_000_000 : (q.limit ?? 50);
		const offset = csv ? 0 : Number(q.cursor ?? 0);
		const rows = await c.env.DB.prepare(`SELECT c.customer_id, c.probability, c.reasons, c.model_version, s.segment, v.clv_minor ${from} WHERE ${where} ORDER BY c.probability DESC, c.customer_id LIMIT ?6 OFFSET ?7`)
			.bind(...binds, limit, offset)
			.all<{ customer_id: string; probability: number; reasons: string; model_version: number; segment: string | null; clv_minor: number | null }>();
		const showMoney = strategic(c.var.principal);
		const customers = rows.results.map((r) => ({
			customer_id: r.customer_id,
			probability: r.probability,
			reasons: z.array(z.object({ feature: z.string(), value: z.number().nullable(), contribution: z.number() })).parse(JSON.parse(r.reasons)),
			segment: r.segment,
			value_at_stake: showMoney && r.clv_minor !== null ? major(r.clv_minor, site.currency) : null,
			model_version: r.model_version,
		}));
		if (csv) {
			const body = toCsv(
				["customer_id", "probability", "segment", "value_at_stake", "reason_1", "reason_2", "reason_3", "model_version"],
				customers.map((r) => [r.customer_id, r.probability, r.segment, r.value_at_stake, ...[0, 1, 2].map((i) => r.reasons[i]?.feature ?? ""), r.model_version]),
			);
			return c.body(body, 200, { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="churn-${site.id}-${asOf}.csv"` }) as never;
		}
		const dist = await c.env.DB.prepare("SELECT MIN(CAST(probability * 10 AS INTEGER), 9) AS b, COUNT(*) AS n FROM churn_scores WHERE site = ? AND as_of = ? GROUP BY b ORDER BY b")
			.bind(site.id, asOf)
			.all<{ b: number; n: number }>();
		const counts = new Map(dist.results.map((d) => [d.b, d.n]));
		const distribution = Array.from({ length: 10 }, (_, b) => ({ from: b / 10, to: (b + 1) / 10, customers: counts.get(b) ?? 0 }));
		const all = await c.env.DB.prepare("SELECT COUNT(*) AS n, AVG(probability) AS mean, MAX(model_version) AS v FROM churn_scores WHERE site = ? AND as_of = ?")
			.bind(site.id, asOf)
			.first<{ n: number; mean: number | null; v: number | null }>();
		const summary = { customers: all?.n ?? 0, mean_probability: all?.mean ?? null, model_version: all?.v ?? null };
		return c.json({ site: site.id, as_of: asOf, currency: site.currency, total, distribution, summary, customers, next_cursor: offset + customers.length < total ? String(offset + customers.length) : null }, 200);
	})
	.openapi(recommendationsRoute, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		if ((q.customer === undefined) === (q.product === undefined)) {
			throw new ApiError(400, "invalid_request", "give exactly one of customer and product", [{ field: q.customer === undefined ? "customer" : "product", message: "exactly one of customer, product" }]);
		}
		const kind: "customer" | "product" = q.customer !== undefined ? "customer" : "product";
		const subject = (q.customer ?? q.product) as string;
		// One round trip on the hot path: the run's day and the subject's row together (predictionDay's
		// query, joined to the row); only a miss pays a second query to say which of the two is missing.
		const row = await c.env.DB.prepare(
			`WITH run AS (SELECT MAX(r.as_of) AS d FROM analytics_runs r WHERE r.site = ?1 AND r.status = 'complete' AND (?2 IS NULL OR r.as_of = ?2)
				AND EXISTS (SELECT 1 FROM recommendations t WHERE t.site = r.site AND t.as_of = r.as_of))
			SELECT run.d AS as_of, t.items, t.model_version FROM run JOIN recommendations t ON t.site = ?1 AND t.as_of = run.d AND t.kind = ?3 AND t.subject = ?4`,
		)
			.bind(site.id, q.as_of ?? null, kind, subject)
			.first<{ as_of: string; items: string; model_version: number }>();
		const asOf = row?.as_of ?? (await predictionDay(c.env.DB, site.id, "recommendations", q.as_of));
		if (!row) throw new ApiError(404, "not_found", `no recommendations for ${kind} '${subject}' in the run of ${asOf}`, [{ field: kind, message: `unknown ${kind}, or nothing to recommend` }]);
		const items = z.array(RecItem).parse(JSON.parse(row.items)).slice(0, q.k ?? 10);
		return c.json({ site: site.id, as_of: asOf, kind, subject, model_version: row.model_version, items }, 200, { "Cache-Control": "private, max-age=300" });
	})
	.openapi(forecastRoute, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const kpi = KPI_BY_ID.get(q.metric);
		if (!kpi || kpi.growth) throw new ApiError(400, "invalid_request", `'${q.metric}' is not a KPI that can be forecast`, [{ field: "metric", message: "a KPI id of the catalogue (GET /api/v1/kpis/catalog), not a growth KPI" }]);
		if (!visibleTo(kpi as Kpi, c.var.principal)) throw new ApiError(403, "forbidden", `the KPI '${q.metric}' is not available to this role`, [{ field: "metric", message: "not visible to the caller" }]);
		const grain = q.grain ?? "month";
		const horizon = q.horizon ?? DEFAULT_HORIZON[grain];
		if (horizon > MAX_HORIZON[grain]) throw new ApiError(400, "invalid_request", `a ${grain} forecast reaches at most ${MAX_HORIZON[grain]} periods`, [{ field: "horizon", message: `1–${MAX_HORIZON[grain]} for grain ${grain}` }]);
		const { unit, history } = await kpiHistory(c.env.DB, site, q.metric, grain, Date.now());
		try {
			return c.json({ site: site.id, currency: site.currency, ...(await servedForecast(q.metric, grain, unit, history, horizon)) }, 200, { "Cache-Control": "private, max-age=300" });
		} catch (err) {
			if (err instanceof RangeError && /needs at least/.test(err.message)) throw new ApiError(400, "insufficient_history", err.message, [{ field: "grain", message: err.message }]);
			throw err;
		}
	})
	.openapi(projectionRoute, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const metric = q.metric ?? "revenue";
		const kpi = KPI_BY_ID.get(metric) as Kpi;
		if (!visibleTo(kpi, c.var.principal)) throw new ApiError(403, "forbidden", `the KPI '${metric}' is not available to this role`, [{ field: "metric", message: "not visible to the caller" }]);
		try {
			const p = await projectPeriod(c.env.DB, site, metric, q.period ?? "month", Date.now());
			return c.json({ site: site.id, currency: site.currency, ...p }, 200, { "Cache-Control": "private, max-age=300" });
		} catch (err) {
			if (err instanceof RangeError && /needs at least/.test(err.message)) throw new ApiError(400, "insufficient_history", err.message, [{ field: "metric", message: err.message }]);
			throw err;
		}
	})
	.openapi(actionsRoute, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const asOf = await predictionDay(c.env.DB, site.id, "next_actions", q.as_of);
		const counts = await c.env.DB.prepare("SELECT action, COUNT(*) AS customers FROM next_actions WHERE site = ? AND as_of = ? GROUP BY action ORDER BY customers DESC, action").bind(site.id, asOf).all<{ action: string; customers: number }>();
		const csv = q.format === "csv";
		const rows = q.type
			? await c.env.DB.prepare("SELECT customer_id, action, reason, priority, details FROM next_actions WHERE site = ? AND as_of = ? AND action = ? ORDER BY priority DESC, customer_id LIMIT ?")
					.bind(site.id, asOf, q.type, csv ? 1_000_000 : (q.limit ?? 100))
					.all<{ customer_id: string; action: string; reason: string; priority: number; details: string }>()
			: { results: [] };
		// Priority and CLV are money (value at stake): hidden from the operations role, as everywhere.
		const money = strategic(c.var.principal);
		const customers = rows.results.map((r) => {
			const details = JSON.parse(r.details) as Record<string, unknown>;
			return { ...r, priority: money ? r.priority : null, details: money ? details : { ...details, clv: null } };
		});
		if (csv) {
			if (!q.type) throw new ApiError(400, "invalid_request", "a CSV export is one action's list: give type", [{ field: "type", message: "required with format=csv" }]);
			const body = toCsv(["customer_id", "action", "reason", "priority"], customers.map((r) => [r.customer_id, r.action, r.reason, r.priority]));
			return c.body(body, 200, { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="actions-${q.type}-${site.id}-${asOf}.csv"` }) as never;
		}
		return c.json({ site: site.id, as_of: asOf, counts: counts.results, customers }, 200);
	});
