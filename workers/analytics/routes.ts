/**
 * Nightly analytics API: the jobs (`/jobs…`), and what the runs computed — RFM segments and their
 * movement, cohorts, market basket rules, bundles and seasonality, and customer lifetime value. Every
 * answer comes from the latest complete run of the site unless `as_of` names another run's day; a site
 * without one gets 404 `no_results` saying how to start a run. CLV money is strategic: the operations
 * role gets 403, as for the strategic KPIs.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { csvCell } from "../lib/csv";
import { ApiError } from "../lib/http";
import { currencyDigits } from "../lib/money";
import { apiErrors, intParam, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { addDays, isDay, localDay } from "../metrics/calendar";
import { nightlyId, startNightly } from "../jobs/nightly";
import { OTHER_SEGMENT, SEGMENT_NAMES, SEGMENTS, segmentMovement, type SegmentName } from "./rfm";
import { discountedValue, type BgNbdParams } from "./clv";
import { BASKET_MIN_CONFIDENCE, BASKET_MIN_SUPPORT } from "./steps";

const TAG = "Analytics";
const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const asOfParam = day.optional().describe("the run's as-of day (its last complete local day); default: the latest complete run");
const major = (minor: number, currency: string) => Math.round(minor) / 10 ** currencyDigits(currency);

/** The as-of day to answer from: the given one if a complete run has it, else the latest complete run's. */
async function runDay(db: D1Database, site: string, asOf: string | undefined): Promise<string> {
	const row = asOf
		? await db.prepare("SELECT as_of FROM analytics_runs WHERE site = ? AND as_of = ? AND status = 'complete' LIMIT 1").bind(site, asOf).first<{ as_of: string }>()
		: await db.prepare("SELECT MAX(as_of) AS as_of FROM analytics_runs WHERE site = ? AND status = 'complete'").bind(site).first<{ as_of: string | null }>();
	if (row?.as_of) return row.as_of;
	if (asOf) throw new ApiError(404, "no_results", `no complete nightly run for ${asOf}`, [{ field: "as_of", message: "no complete run for this day" }]);
	throw new ApiError(404, "no_results", "no nightly analytics run has completed for this site yet: it runs after 03:00 local time, or start one with POST /api/v1/jobs/nightly/run", [
		{ field: "site", message: "no complete run" },
	]);
}

async function result<T>(db: D1Database, site: string, asOf: string, kind: string): Promise<T> {
	const row = await db.prepare("SELECT json FROM analytics_results WHERE site = ? AND as_of = ? AND kind = ?").bind(site, asOf, kind).first<{ json: string }>();
	if (!row) throw new ApiError(404, "no_results", `the run of ${asOf} has no ${kind} results`, [{ field: "as_of", message: "not computed by that run" }]);
	return JSON.parse(row.json) as T;
}

/** 403 for the operations role: CLV is money the strategic KPIs hide from it too. */
function requireStrategic(principal: AuthVars["principal"]): void {
	if (principal.kind === "user" && principal.role === "operations") {
		throw new ApiError(403, "forbidden", "customer lifetime value is not available to the operations role", [{ field: "site", message: "strategic data" }]);
	}
}

const toCsv = (header: string[], rows: unknown[][]) => [header.join(","), ...rows.map((r) => r.map(csvCell).join(","))].join("\n") + "\n";

// ─── jobs ────────────────────────────────────────────────────────────────────────────────────────

const StepSchema = z.object({
	step: z.string(),
	status: z.enum(["running", "complete", "errored"]),
	attempts: z.number().int(),
	started_at: z.number().int(),
	finished_at: z.number().int().nullable(),
	duration_ms: z.number().int().nullable(),
	rows_read: z.number().int().nullable(),
	rows_written: z.number().int().nullable(),
	error: z.string().nullable(),
});
const RunSchema = z
	.object({
		id: z.string(),
		site: z.string(),
		as_of: z.string(),
		trigger: z.enum(["cron", "manual", "start"]),
		status: z.enum(["queued", "running", "complete", "errored"]),
		created_at: z.number().int(),
		started_at: z.number().int().nullable(),
		finished_at: z.number().int().nullable(),
		error: z.string().nullable(),
		steps: z.array(StepSchema),
	})
	.openapi("AnalyticsRun");
type Run = z.infer<typeof RunSchema>;

async function readRuns(db: D1Database, where: string, binds: unknown[], limit: number): Promise<Run[]> {
	const runs = await db
		.prepare(`SELECT id, site, as_of, trigger, status, created_at, started_at, finished_at, error FROM analytics_runs WHERE ${where} ORDER BY created_at DESC, id LIMIT ${limit}`)
		.bind(...binds)
		.all<Omit<Run, "steps">>();
	if (!runs.results.length) return [];
	const steps = await db
		.prepare(
			"SELECT run_id, step, status, attempts, started_at, finished_at, duration_ms, rows_read, rows_written, error FROM analytics_run_steps WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY position",
		)
		.bind(JSON.stringify(runs.results.map((r) => r.id)))
		.all<z.infer<typeof StepSchema> & { run_id: string }>();
	return runs.results.map((r) => ({ ...r, steps: steps.results.filter((s) => s.run_id === r.id).map(({ run_id: _, ...s }) => s) }));
}

const runNightly = createRoute({
	method: "post",
	path: "/jobs/nightly/run",
	operationId: "runNightly",
	tags: [TAG],
	summary: "Run the nightly analytics now",
	description:
		"Starts a run of the nightly analytics (RFM, cohorts, basket, CLV) for the site and an as-of day (default: yesterday, local). " +
		"It reads only data before the end of that day and replaces that day's results. Poll `status_url`.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: {
		query: z.object({
			site: siteParam,
			as_of: day.optional().describe("the last complete local day to include; default: yesterday"),
			window_days: intParam(30, 1095).optional().describe("the RFM window: days before the end of as_of whose orders are scored (default 365; the nightly cron uses 365)"),
		}),
	},
	responses: {
		202: json(z.object({ id: z.string(), site: z.string(), as_of: z.string(), status: z.literal("queued"), status_url: z.string() }), "started"),
		...apiErrors(404),
	},
});

const listJobs = createRoute({
	method: "get",
	path: "/jobs",
	operationId: "listJobs",
	tags: [TAG],
	summary: "Nightly analytics runs",
	description: "The site's runs, newest first, each with its steps: status, attempts, duration, rows read and written, error.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, limit: intParam(1, 100).optional().describe("runs to return (default 20)") }) },
	responses: { 200: json(z.object({ site: z.string(), runs: z.array(RunSchema) }), "the runs"), ...apiErrors(404) },
});

const getJob = createRoute({
	method: "get",
	path: "/jobs/{id}",
	operationId: "getJob",
	tags: [TAG],
	summary: "One nightly analytics run",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam }), params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/) }) },
	responses: { 200: json(RunSchema, "the run"), ...apiErrors(404) },
});

// ─── segments ────────────────────────────────────────────────────────────────────────────────────

const SegmentSchema = z.object({
	segment: z.string(),
	customers: z.number().int(),
	customer_share: z.number().nullable().describe("fraction of the scored customers"),
	revenue: z.number().describe("their net revenue in the window, site currency"),
	revenue_share: z.number().nullable().describe("fraction of the window's net revenue; null when that total is ≤ 0"),
	average_order_value: z.number().nullable(),
	mean_recency_days: z.number().nullable(),
	ranges: z.object({ r: z.array(z.number()), f: z.array(z.number()), m: z.array(z.number()) }).nullable().describe("the score ranges (null for Other)"),
	action: z.string().describe("what to do with these customers"),
});

const segments = createRoute({
	method: "get",
	path: "/segments",
	operationId: "segments",
	tags: [TAG],
	summary: "RFM segments",
	description:
		"Recency, frequency and monetary value over the window (365 days to the as-of day), each scored 1–5 by quintiles (equal values get equal scores), " +
		"and the ten segments of the architecture document in precedence order, plus Other for scores no segment covers.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, as_of: asOfParam }) },
	responses: {
		200: json(z.object({ site: z.string(), as_of: z.string(), currency: z.string(), window_days: z.number().int(), customers: z.number().int(), segments: z.array(SegmentSchema) }), "segments"),
		...apiErrors(404),
	},
});

const MovementSchema = z.object({
	site: z.string(),
	from: z.string().nullable(),
	to: z.string(),
	labels: z.array(z.string()),
	counts: z.array(z.array(z.number().int())).describe("counts[i][j]: customers in labels[i] at `from` and labels[j] at `to`; `(none)`: not scored on that day"),
	available: z.array(z.string()).describe("as-of days whose per-customer scores are kept (the latest 8 runs and each month's last day)"),
});

const movement = createRoute({
	method: "get",
	path: "/segments/movement",
	operationId: "segmentMovement",
	tags: [TAG],
	summary: "Segment movement matrix",
	description: "From-segment → to-segment counts between two runs' days (default: the latest run against the last kept day at least 28 days before it).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, from: day.optional(), to: day.optional() }) },
	responses: { 200: json(MovementSchema, "the matrix"), ...apiErrors(404) },
});

const SEGMENT_SORTS = { monetary: "monetary_minor DESC", recency: "recency_days ASC", frequency: "frequency DESC", customer: "customer_id ASC" } as const;
const segmentCustomers = createRoute({
	method: "get",
	path: "/segments/{name}/customers",
	operationId: "segmentCustomers",
	tags: [TAG],
	summary: "Customers of a segment",
	description: "The segment's customers with their scores, paged (`cursor` from `next_cursor`), sorted, as JSON or CSV (`format=csv`: every customer of the segment).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ name: z.enum(SEGMENT_NAMES as [SegmentName, ...SegmentName[]]) }),
		query: z.object({
			site: siteParam,
			as_of: asOfParam,
			sort: z.enum(Object.keys(SEGMENT_SORTS) as [keyof typeof SEGMENT_SORTS]).optional().describe("default monetary"),
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
				segment: z.string(),
				total: z.number().int(),
				customers: z.array(z.object({ customer_id: z.string(), recency_days: z.number().int(), frequency: z.number().int(), monetary: z.number(), r: z.number().int(), f: z.number().int(), m: z.number().int() })),
				next_cursor: z.string().nullable(),
			}),
			"a page of customers",
		),
		...apiErrors(404),
	},
});

// ─── cohorts ─────────────────────────────────────────────────────────────────────────────────────

const COHORT_KINDS = ["retention", "revenue", "channel", "product"] as const;
const cohorts = createRoute({
	method: "get",
	path: "/cohorts/{kind}",
	operationId: "cohorts",
	tags: [TAG],
	summary: "Cohort matrices",
	description:
		"`retention`: by first-purchase period, the share of the cohort buying in each later period; `revenue`: cumulative net revenue per customer by periods since the first purchase " +
		"(both from the same matrix); `channel`: the same by acquisition channel; `product`: first category bought → later adoption of the other categories. " +
		"`from`/`to` (local days) keep the cohorts whose first period starts in that range.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ kind: z.enum(COHORT_KINDS) }),
		query: z.object({ site: siteParam, as_of: asOfParam, grain: z.enum(["month", "week"]).optional().describe("default month"), from: day.optional(), to: day.optional() }),
	},
	responses: { 200: json(z.object({ site: z.string(), as_of: z.string(), kind: z.string(), grain: z.string().nullable(), currency: z.string(), result: z.unknown() }), "the matrix"), ...apiErrors(404) },
});

// ─── basket ──────────────────────────────────────────────────────────────────────────────────────

const RuleSchema = z.object({
	antecedent: z.array(z.string()),
	consequent: z.array(z.string()),
	count: z.number().int(),
	support: z.number(),
	confidence: z.number(),
	lift: z.number(),
	conviction: z.number().nullable().describe("null when confidence is 1 (infinite)"),
});
const fraction = (name: string, floor: number) =>
	z
		.string()
		.regex(/^(0(\.\d+)?|1(\.0+)?)$/, `${name} must be a fraction 0–1`)
		.transform(Number)
		.optional()
		.describe(`${name}, 0–1; the run keeps rules from ${floor} up, so lower values act as ${floor}`);
const basketRules = createRoute({
	method: "get",
	path: "/basket/rules",
	operationId: "basketRules",
	tags: [TAG],
	summary: "Association rules",
	description: "Rules X ⇒ Y over the orders of the 365 days to the as-of day, sorted by lift, at product (SKU) or category level; `product` keeps rules with that SKU (or category) on the left.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			as_of: asOfParam,
			level: z.enum(["product", "category"]).optional().describe("default product"),
			min_support: fraction("min_support", BASKET_MIN_SUPPORT),
			min_confidence: fraction("min_confidence", BASKET_MIN_CONFIDENCE),
			min_lift: z.string().regex(/^\d+(\.\d+)?$/, "a number ≥ 0").transform(Number).optional(),
			product: z.string().min(1).max(128).optional(),
			limit: intParam(1, 1000).optional().describe("default 100"),
		}),
	},
	responses: {
		200: json(z.object({ site: z.string(), as_of: z.string(), level: z.string(), baskets: z.number().int(), total: z.number().int(), rules: z.array(RuleSchema) }), "the rules"),
		...apiErrors(404),
	},
});

const basketBundles = createRoute({
	method: "get",
	path: "/basket/bundles",
	operationId: "basketBundles",
	tags: [TAG],
	summary: "Bundle suggestions and seasonality",
	description: "2–3 SKU sets bought together more than chance (lift > 1) with enough support, with their combined unit margin; and the month-of-year index per category.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, as_of: asOfParam }) },
	responses: { 200: json(z.object({ site: z.string(), as_of: z.string(), currency: z.string(), baskets: z.number().int(), bundles: z.array(z.unknown()), seasonality: z.array(z.unknown()) }), "bundles"), ...apiErrors(404) },
});

// ─── CLV ─────────────────────────────────────────────────────────────────────────────────────────

const clvModel = createRoute({
	method: "get",
	path: "/clv/model",
	operationId: "clvModel",
	tags: [TAG],
	summary: "The CLV model",
	description: "BG/NBD (purchases) and Gamma-Gamma (spend) parameters fitted by maximum likelihood on the site's orders in days, their log-likelihood, the margin used, and a calibration/holdout check: predicted vs actual purchases in the last 90 days by frequency bucket of a model fitted without them.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, as_of: asOfParam }) },
	responses: { 200: json(z.object({ site: z.string(), as_of: z.string(), currency: z.string(), model: z.unknown() }), "the model"), ...apiErrors(404) },
});

const CLV_SORTS = { clv: "clv_minor DESC", p_alive: "p_alive DESC", expected_90: "expected_90 DESC" } as const;
const clvCustomers = createRoute({
	method: "get",
	path: "/clv/customers",
	operationId: "clvCustomers",
	tags: [TAG],
	summary: "Customers by expected value",
	description:
		"Per customer: P(alive), expected purchases in 30/90/365 days, expected spend per order and CLV (12 months, 1 % a month discount, gross margin); " +
		"plus the CLV distribution (deciles) and mean P(alive) by days since the last order. Not available to the operations role.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			as_of: asOfParam,
			sort: z.enum(Object.keys(CLV_SORTS) as [keyof typeof CLV_SORTS]).optional(),
			limit: intParam(1, 500).optional(),
			horizon_months: intParam(1, 60).optional().describe("CLV horizon in months (default 12, as stored by the run)"),
			monthly_discount: z
				.string()
				.regex(/^0(\.\d{1,6})?$/, "a monthly rate below 1, e.g. 0.01")
				.transform(Number)
				.optional()
				.describe("monthly discount rate (default 0.01)"),
		}),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				as_of: z.string(),
				currency: z.string(),
				customers: z.array(
					z.object({ customer_id: z.string(), p_alive: z.number(), expected_30: z.number(), expected_90: z.number(), expected_365: z.number(), expected_spend: z.number(), clv: z.number(), recency_days: z.number().nullable(), segment: z.string().nullable() }),
				),
				distribution: z.array(z.object({ from: z.number(), to: z.number().nullable(), customers: z.number().int() })),
				p_alive_by_recency: z.array(z.object({ from_days: z.number().int(), to_days: z.number().int().nullable(), customers: z.number().int(), mean_p_alive: z.number().nullable() })),
				total_clv: z.number(),
			}),
			"customers",
		),
		...apiErrors(404),
	},
});

const RECENCY_BUCKETS = [0, 30, 60, 90, 180, 270, 365, 540, 730];

export const analytics = openApiApp<AuthVars>()
	.openapi(runNightly, async (c) => {
		const site = c.var.site;
		const yesterday = addDays(localDay(Date.now(), site.timezone), -1);
		const q = c.req.valid("query");
		const asOf = q.as_of ?? yesterday;
		if (asOf > yesterday) throw new ApiError(400, "invalid_request", "as_of must be a day that is over", [{ field: "as_of", message: `at most ${yesterday} (yesterday, ${site.timezone})` }]);
		const id = `${nightlyId(site.id, asOf).replace(/^nightly-/, "manual-")}-${crypto.randomUUID().slice(0, 8)}`;
		await startNightly(c.env, { site: site.id, asOf, ...(q.window_days ? { rfmWindowDays: q.window_days } : {}) }, id, "manual");
		return c.json({ id, site: site.id, as_of: asOf, status: "queued" as const, status_url: `/api/v1/jobs/${id}?site=${site.id}` }, 202);
	})
	.openapi(listJobs, async (c) => {
		const runs = await readRuns(c.env.DB, "site = ?", [c.var.site.id], c.req.valid("query").limit ?? 20);
		return c.json({ site: c.var.site.id, runs }, 200);
	})
	.openapi(getJob, async (c) => {
		const [run] = await readRuns(c.env.DB, "site = ? AND id = ?", [c.var.site.id, c.req.valid("param").id], 1);
		if (!run) throw new ApiError(404, "not_found", "no such run for this site", [{ field: "id", message: "unknown run" }]);
		return c.json(run, 200);
	})
	.openapi(segments, async (c) => {
		const site = c.var.site;
		const asOf = await runDay(c.env.DB, site.id, c.req.valid("query").as_of);
		type Doc = { window_days: number; customers: number; segments: { segment: string; customers: number; customerShare: number | null; revenueMinor: number; revenueShare: number | null; averageOrderValueMinor: number | null; meanRecencyDays: number | null }[] };
		const doc = await result<Doc>(c.env.DB, site.id, asOf, "segments");
		const defs = new Map<string, { r: readonly number[]; f: readonly number[]; m: readonly number[]; action: string }>(SEGMENTS.map((s) => [s.name, s]));
		return c.json(
			{
				site: site.id,
				as_of: asOf,
				currency: site.currency,
				window_days: doc.window_days,
				customers: doc.customers,
				segments: doc.segments.map((s) => {
					const def = defs.get(s.segment);
					return {
						segment: s.segment,
						customers: s.customers,
						customer_share: s.customerShare,
						revenue: major(s.revenueMinor, site.currency),
						revenue_share: s.revenueShare,
						average_order_value: s.averageOrderValueMinor === null ? null : major(s.averageOrderValueMinor, site.currency),
						mean_recency_days: s.meanRecencyDays === null ? null : Math.round(s.meanRecencyDays * 10) / 10,
						ranges: def ? { r: [...def.r], f: [...def.f], m: [...def.m] } : null,
						action: def?.action ?? OTHER_SEGMENT.action,
					};
				}),
			},
			200,
		);
	})
	.openapi(movement, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const kept = await c.env.DB.prepare("SELECT DISTINCT as_of FROM rfm_scores WHERE site = ? ORDER BY as_of").bind(site.id).raw<[string]>();
		const available = kept.map(([d]) => d);
		const to = q.to ?? (await runDay(c.env.DB, site.id, undefined));
		const from = q.from ?? available.filter((d) => d <= addDays(to, -28)).at(-1) ?? null;
		for (const [field, d] of [["to", to], ["from", from]] as const) {
			if (d && !available.includes(d)) throw new ApiError(404, "no_results", `no kept segment scores for ${d}`, [{ field, message: `one of the kept days: ${available.slice(-12).join(", ") || "none yet"}` }]);
		}
		const read = async (d: string | null) =>
			d === null ? [] : (await c.env.DB.prepare("SELECT customer_id, segment FROM rfm_scores WHERE site = ? AND as_of = ?").bind(site.id, d).raw<[string, SegmentName]>()).map(([customer, segment]) => ({ customer, segment }));
		const matrix = segmentMovement(await read(from), await read(to));
		return c.json({ site: site.id, from, to, labels: matrix.labels, counts: matrix.counts, available }, 200);
	})
	.openapi(segmentCustomers, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const name = c.req.valid("param").name;
		const asOf = await runDay(c.env.DB, site.id, q.as_of);
		const order = SEGMENT_SORTS[q.sort ?? "monetary"];
		const csv = q.format === "csv";
		const limit = csv ? 1_000_000 : (q.limit ?? 50);
		const offset = csv ? 0 : Number(q.cursor ?? 0);
		const total = (await c.env.DB.prepare("SELECT COUNT(*) AS n FROM rfm_scores WHERE site = ? AND as_of = ? AND segment = ?").bind(site.id, asOf, name).first<{ n: number }>())?.n ?? 0;
		const rows = await c.env.DB.prepare(
			`SELECT customer_id, recency_days, frequency, monetary_minor, r, f, m FROM rfm_scores WHERE site = ? AND as_of = ? AND segment = ? ORDER BY ${order}, customer_id LIMIT ? OFFSET ?`,
		)
			.bind(site.id, asOf, name, limit, offset)
			.all<{ customer_id: string; recency_days: number; frequency: number; monetary_minor: number; r: number; f: number; m: number }>();
		const customers = rows.results.map(({ monetary_minor, ...r }) => ({ ...r, monetary: major(monetary_minor, site.currency) }));
		if (csv) {
			const body = toCsv(["customer_id", "recency_days", "frequency", "monetary", "r", "f", "m"], customers.map((r) => [r.customer_id, r.recency_days, r.frequency, r.monetary, r.r, r.f, r.m]));
			return c.body(body, 200, { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="segment-${name}-${site.id}-${asOf}.csv"` }) as never;
		}
		const next = offset + customers.length < total ? String(offset + customers.length) : null;
		return c.json({ site: site.id, as_of: asOf, segment: name, total, customers, next_cursor: next }, 200);
	})
	.openapi(cohorts, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const kind = c.req.valid("param").kind;
		const asOf = await runDay(c.env.DB, site.id, q.as_of);
		const grain = kind === "product" ? null : (q.grain ?? "month");
		const doc = await result<unknown>(c.env.DB, site.id, asOf, kind === "product" ? "cohorts:product" : `cohorts:${kind === "channel" ? "channel" : "retention"}:${grain}`);
		return c.json({ site: site.id, as_of: asOf, kind, grain, currency: site.currency, result: filterCohorts(doc, q.from, q.to) }, 200);
	})
	.openapi(basketRules, async (c) => {
		const site = c.var.site;
		const q = c.req.valid("query");
		const asOf = await runDay(c.env.DB, site.id, q.as_of);
		const level = q.level ?? "product";
		const meta = await result<{ baskets: number }>(c.env.DB, site.id, asOf, `basket:${level}`);
		const where = `site = ?1 AND as_of = ?2 AND level = ?3 AND support >= ?4 AND confidence >= ?5 AND lift >= ?6 AND (?7 IS NULL OR EXISTS (SELECT 1 FROM json_each(antecedent) WHERE value = ?7))`;
		const binds = [site.id, asOf, level, q.min_support ?? 0, q.min_confidence ?? 0, q.min_lift ?? 0, q.product ?? null];
		const total = (await c.env.DB.prepare(`SELECT COUNT(*) AS n FROM basket_rules WHERE ${where}`).bind(...binds).first<{ n: number }>())?.n ?? 0;
		const rows = await c.env.DB.prepare(
			`SELECT antecedent, consequent, count, support, confidence, lift, conviction FROM basket_rules WHERE ${where} ORDER BY lift DESC, support DESC, antecedent, consequent LIMIT ?8`,
		)
			.bind(...binds, q.limit ?? 100)
			.all<{ antecedent: string; consequent: string; count: number; support: number; confidence: number; lift: number; conviction: number | null }>();
		const items = z.array(z.string());
		const rules = rows.results.map((r) => ({ ...r, antecedent: items.parse(JSON.parse(r.antecedent)), consequent: items.parse(JSON.parse(r.consequent)) }));
		return c.json({ site: site.id, as_of: asOf, level, baskets: meta.baskets, total, rules }, 200);
	})
	.openapi(basketBundles, async (c) => {
		const site = c.var.site;
		const asOf = await runDay(c.env.DB, site.id, c.req.valid("query").as_of);
		const doc = await result<{ baskets: number; bundles: { marginMinor: number | null }[] }>(c.env.DB, site.id, asOf, "basket:bundles");
		const seasonality = await result<unknown[]>(c.env.DB, site.id, asOf, "basket:seasonality");
		const bundles = doc.bundles.map(({ marginMinor, ...b }) => ({ ...b, margin: marginMinor === null ? null : major(marginMinor, site.currency) }));
		return c.json({ site: site.id, as_of: asOf, currency: site.currency, baskets: doc.baskets, bundles, seasonality }, 200);
	})
	.openapi(clvModel, async (c) => {
		requireStrategic(c.var.principal);
		const site = c.var.site;
		const asOf = await runDay(c.env.DB, site.id, c.req.valid("query").as_of);
		return c.json({ site: site.id, as_of: asOf, currency: site.currency, model: await result<unknown>(c.env.DB, site.id, asOf, "clv:model") }, 200);
	})
	.openapi(clvCustomers, async (c) => {
		requireStrategic(c.var.principal);
		const site = c.var.site;
		const q = c.req.valid("query");
		const asOf = await runDay(c.env.DB, site.id, q.as_of);
		type Row = { customer_id: string; x: number; tx: number; age: number; p_alive: number; expected_30: number; expected_90: number; expected_365: number; expected_spend_minor: number; clv_minor: number; recency_days: number | null; segment: string | null };
		const select = `SELECT v.customer_id, v.x, v.tx, v.age, v.p_alive, v.expected_30, v.expected_90, v.expected_365, v.expected_spend_minor, v.clv_minor, s.recency_days, s.segment
			FROM clv_scores v LEFT JOIN rfm_scores s ON s.site = v.site AND s.as_of = v.as_of AND s.customer_id = v.customer_id WHERE v.site = ? AND v.as_of = ?`;
		let rows: Row[];
		let values: number[];
		if (q.horizon_months === undefined && q.monthly_discount === undefined) {
			rows = (await c.env.DB.prepare(`${select} ORDER BY ${CLV_SORTS[q.sort ?? "clv"]}, v.customer_id LIMIT ?`).bind(site.id, asOf, q.limit ?? 50).all<Row>()).results;
			values = (await c.env.DB.prepare("SELECT clv_minor FROM clv_scores WHERE site = ? AND as_of = ? ORDER BY clv_minor").bind(site.id, asOf).raw<[number]>()).map(([v]) => v);
		} else {
			// Re-price every customer for the chosen horizon and rate from the stored model (BG/NBD parameters,
			// margin) and each customer's stored history and expected spend.
			const model = await result<{ status: string; bg_nbd?: BgNbdParams; margin?: number | null }>(c.env.DB, site.id, asOf, "clv:model");
			if (model.status !== "ok" || !model.bg_nbd) throw new ApiError(404, "no_results", "the CLV model of this run had too little data", [{ field: "as_of", message: "no CLV model" }]);
			const params = model.bg_nbd;
			const opts = { months: q.horizon_months ?? 12, monthlyDiscountRate: q.monthly_discount ?? 0.01, unitsPerMonth: 30, margin: model.margin ?? 1 };
			const all = (await c.env.DB.prepare(select).bind(site.id, asOf).all<Row>()).results.map((r) => ({ ...r, clv_minor: discountedValue(params, r.expected_spend_minor, { x: r.x, tx: r.tx, T: r.age }, opts).valueMinor }));
			const key = q.sort ?? "clv";
			const by = (r: Row) => (key === "clv" ? r.clv_minor : key === "p_alive" ? r.p_alive : r.expected_90);
			rows = [...all].sort((a, b) => by(b) - by(a) || (a.customer_id < b.customer_id ? -1 : 1)).slice(0, q.limit ?? 50);
			values = all.map((r) => r.clv_minor).sort((a, b) => a - b);
		}
		// Days since the last purchase = age − tx (the model's T and t_x, in days).
		const byRecency = await c.env.DB.prepare("SELECT age - tx, p_alive FROM clv_scores WHERE site = ? AND as_of = ?").bind(site.id, asOf).raw<[number, number]>();
		return c.json(
			{
				site: site.id,
				as_of: asOf,
				currency: site.currency,
				customers: rows.map((r) => ({
					customer_id: r.customer_id,
					p_alive: r.p_alive,
					expected_30: r.expected_30,
					expected_90: r.expected_90,
					expected_365: r.expected_365,
					expected_spend: major(r.expected_spend_minor, site.currency),
					clv: major(r.clv_minor, site.currency),
					recency_days: r.recency_days,
					segment: r.segment,
				})),
				distribution: clvDistribution(values, site.currency),
				p_alive_by_recency: RECENCY_BUCKETS.map((lo, i) => {
					const hi = RECENCY_BUCKETS[i + 1] ?? null;
					const inBucket = byRecency.filter(([d]) => d >= lo && (hi === null || d < hi));
					return { from_days: lo, to_days: hi, customers: inBucket.length, mean_p_alive: inBucket.length ? inBucket.reduce((s, [, p]) => s + p, 0) / inBucket.length : null };
				}),
				total_clv: major(values.reduce((s, v) => s + v, 0), site.currency),
			},
			200,
		);
	});

/** Ten equal-count (decile) bins of CLV in major units, merged where their edges coincide. */
function clvDistribution(sortedMinor: number[], currency: string): { from: number; to: number | null; customers: number }[] {
	const n = sortedMinor.length;
	if (!n) return [];
	const bins: { from: number; to: number | null; customers: number }[] = [];
	for (let d = 0; d < 10; d++) {
		const lo = Math.floor((d * n) / 10);
		const hi = Math.floor(((d + 1) * n) / 10);
		if (hi <= lo) continue;
		const from = major(sortedMinor[lo] as number, currency);
		const to = d === 9 ? null : major(sortedMinor[hi] as number, currency);
		const last = bins.at(-1);
		if (last && last.from === from) {
			last.customers += hi - lo;
			last.to = to;
		} else bins.push({ from, to, customers: hi - lo });
	}
	return bins;
}

/** Keeps the cohorts whose period starts within [from, to] (local days), for documents with a `cohorts` list. */
function filterCohorts(doc: unknown, from: string | undefined, to: string | undefined): unknown {
	if ((!from && !to) || typeof doc !== "object" || doc === null) return doc;
	const filter = (list: unknown) =>
		Array.isArray(list)
			? list.filter((c: unknown) => {
					const start = typeof c === "object" && c !== null && "start" in c && typeof c.start === "string" ? c.start : null;
					return start === null || ((!from || start >= from) && (!to || start <= to));
				})
			: list;
	const out: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
	if ("cohorts" in out) out.cohorts = filter(out.cohorts);
	if (Array.isArray(out.channels)) out.channels = out.channels.map((ch: unknown) => (typeof ch === "object" && ch !== null && "cohorts" in ch ? { ...ch, cohorts: filter(ch.cohorts) } : ch));
	return out;
}
