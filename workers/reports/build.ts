/**
 * Builds a Report (types.ts) from the engines: KPIs through the KPI engine's own query function
 * (`runKpiQuery`, what `GET /api/v1/kpis` answers), nightly results and product views through their API
 * routes called in-process (so a report's number is the API's number, never a second implementation),
 * forecasts through forecast-kpi.ts, incidents from the alerts table. One module per kind
 * (executive.ts, product.ts, daily.ts, financial.ts); the rules of achievements and action items are in
 * rules.ts. Sections without data are left out with a one-line reason in `omitted`.
 */
import { Hono } from "hono";
import { analytics } from "../analytics/routes";
import { predictions } from "../analytics/predict-routes";
import type { AuthVars } from "../auth/middleware";
import type { ApiKey } from "../auth/keys";
import { ApiError } from "../lib/http";
import { findSite, type Site } from "../lib/sites";
import type { Grain } from "../metrics/calendar";
import { KPI_BY_ID, type Dim } from "../metrics/catalog";
import { runKpiQuery, type Compare, type KpiResult } from "../metrics/query";
import { products } from "../products/routes";
import { buildDaily } from "./daily";
import { buildExecutive } from "./executive";
import { buildFinancial } from "./financial";
import { parsePeriod, requireStarted } from "./period";
import { buildProduct } from "./product";
import type { Report, ReportMetric, ReportPeriod, ReportRequest, ReportSection, ReportTable } from "./types";

/** What a kind's builder gets: the site, the period, the clock, and where to note left-out sections. */
export interface BuildContext {
	env: Env;
	site: Site;
	period: ReportPeriod;
	now: number;
	sku?: string;
	omitted: { section: string; reason: string }[];
}

export interface Built {
	title: string;
	sections: ReportSection[];
	tables: ReportTable[];
}

/** Builds the report of `req` at `now` (UTC ms); 4xx ApiError naming `site`, `period` or `sku` on bad input. */
export async function buildReport(env: Env, req: ReportRequest, now: number): Promise<Report> {
	const site = await findSite(env.DB, req.site);
	if (!site) throw new ApiError(404, "unknown_site", `site '${req.site}' does not exist`, [{ field: "site", message: "unknown site" }]);
	const period = parsePeriod(req.kind, req.period, site.timezone);
	requireStarted(period, now);
	if (req.kind === "product" && !req.sku) throw new ApiError(400, "invalid_request", "a product report needs sku", [{ field: "sku", message: "required for kind product" }]);
	if (req.kind !== "product" && req.sku !== undefined) throw new ApiError(400, "invalid_request", `a ${req.kind} report takes no sku`, [{ field: "sku", message: "only for kind product" }]);
	const ctx: BuildContext = { env, site, period, now, omitted: [], ...(req.sku !== undefined ? { sku: req.sku } : {}) };
	const built = req.kind === "executive" ? await buildExecutive(ctx) : req.kind === "product" ? await buildProduct(ctx) : req.kind === "daily" ? await buildDaily(ctx) : await buildFinancial(ctx);
	return {
		kind: req.kind,
		site: site.id,
		subject: req.kind === "product" ? (req.sku ?? null) : null,
		period,
		title: built.title,
		generated_at: now,
		currency: site.currency,
		sections: built.sections,
		tables: built.tables,
		omitted: ctx.omitted,
	};
}

// ─── KPIs ────────────────────────────────────────────────────────────────────────────────────────

/** KPI results by id for a range: the KPI engine's answer, exactly what GET /api/v1/kpis gives for it. */
export async function kpiQuery(ctx: BuildContext, ids: string[], from: string, to: string, grain: Grain, opts: { compare?: Compare; by?: Dim } = {}): Promise<Map<string, KpiResult>> {
	const r = await runKpiQuery(ctx.env.DB, ctx.site, { ids, from, to, grain, ...opts });
	return new Map(r.kpis.map((k) => [k.id, k]));
}

/** Targets set for the KPIs and a period label, as GET /api/v1/kpis attaches them to a total of that period. */
export async function kpiTargets(ctx: BuildContext, ids: string[], label: string): Promise<Map<string, number>> {
	const rows = await ctx.env.DB.prepare("SELECT kpi, value FROM kpi_targets WHERE site = ? AND period = ? AND kpi IN (SELECT value FROM json_each(?))")
		.bind(ctx.site.id, label, JSON.stringify(ids))
		.all<{ kpi: string; value: number }>();
	return new Map(rows.results.map((r) => [r.kpi, r.value]));
}

/** The KPI API's progress: value ÷ target in percent, two decimals (metrics/routes.ts attachTargets). */
export function progressOf(value: number | null, target: number): number | null {
	return value === null || target === 0 ? null : Math.round((10_000 * value) / target) / 100;
}

/** A KPI total as a report metric, with its comparison and target when given. */
export function kpiMetric(k: KpiResult | undefined, id: string, target?: number): ReportMetric {
	const def = KPI_BY_ID.get(id);
	const total = k?.total;
	const value = total?.value ?? null;
	const m: ReportMetric = { id, label: def?.name ?? id, unit: def?.unit ?? "", value };
	if (total && "compare" in total) {
		m.compare = total.compare ?? null;
		m.delta_pct = total.delta_pct ?? null;
	}
	if (target !== undefined) {
		m.target = target;
		m.progress = progressOf(value, target);
	}
	if (value === null && def) m.note = `undefined for this period: ${def.formula} has no data or a zero denominator`;
	return m;
}

/** A table of metrics (one row per metric). */
export function metricsTable(name: string, title: string, metrics: ReportMetric[], compareLabel = "previous"): ReportTable {
	const hasTarget = metrics.some((m) => m.target !== undefined);
	const hasSecond = metrics.some((m) => m.compare2 !== undefined);
	return {
		name,
		title,
		columns: [
			{ key: "metric", label: "Metric", unit: "text" },
			{ key: "unit", label: "Unit", unit: "text" },
			{ key: "value", label: "Value", unit: "number" },
			{ key: "compare", label: compareLabel, unit: "number" },
			{ key: "delta_pct", label: "Change %", unit: "percent" },
			...(hasSecond ? [{ key: "compare2", label: "28-day average", unit: "number" }, { key: "delta2_pct", label: "Change vs average %", unit: "percent" }] : []),
			...(hasTarget ? [{ key: "target", label: "Target", unit: "number" }, { key: "progress", label: "Progress %", unit: "percent" }] : []),
		],
		rows: metrics.map((m) => ({
			metric: m.label,
			unit: m.unit,
			value: m.value,
			compare: m.compare ?? null,
			delta_pct: m.delta_pct ?? null,
			...(hasSecond ? { compare2: m.compare2 ?? null, delta2_pct: m.delta2_pct ?? null } : {}),
			...(hasTarget ? { target: m.target ?? null, progress: m.progress ?? null } : {}),
		})),
	};
}

/** 100 × (a − b) ÷ |b| rounded to 4 decimals (the KPI engine's delta_pct rounding), or null. */
export function deltaPct(a: number | null, b: number | null): number | null {
	if (a === null || b === null || b === 0) return null;
	return Math.round((10_000 * 100 * (a - b)) / Math.abs(b)) / 10_000;
}

// ─── the other engines, through their routes ─────────────────────────────────────────────────────

/**
 * The products, analytics and predictions routes, called in-process as an account-wide read key: the
 * report reads their answers, so a section shows exactly what the API (and the dashboard) shows. The
 * outside caller's own access is checked by the reports route before anything is built.
 */
let internal: Hono<{ Bindings: Env; Variables: AuthVars }> | undefined;
// Built on first use, not at import: the feature modules import each other (alerts → reports delivery →
// this file → analytics), so their route objects may not exist yet while this module is evaluated.
function internalApi(): Hono<{ Bindings: Env; Variables: AuthVars }> {
	if (internal) return internal;
	const app = new Hono<{ Bindings: Env; Variables: AuthVars }>();
	app.use("*", async (c, next) => {
		const key: ApiKey = { id: "reports", site: null, name: "report builder", scopes: ["read"] };
		c.set("key", key);
		c.set("principal", { kind: "key", id: key.id, scopes: key.scopes, site: null });
		await next();
	});
	app.route("/", products);
	app.route("/", analytics);
	app.route("/", predictions);
	app.onError((err, c) => {
		if (err instanceof ApiError) return c.json(err.body(), err.status);
		throw err;
	});
	internal = app;
	return app;
}

export type ApiAnswer<T> = { ok: true; body: T } | { ok: false; status: number; message: string };

/** GET one of those routes (path without /api/v1) for the report's site. */
export async function apiGet<T>(ctx: BuildContext, path: string, params: Record<string, string | number | undefined> = {}): Promise<ApiAnswer<T>> {
	const qs = new URLSearchParams({ site: ctx.site.id });
	for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, String(v));
	const res = await internalApi().request(`${path}?${qs}`, {}, ctx.env);
	const body = (await res.json()) as T & { message?: string };
	if (res.ok) return { ok: true, body };
	return { ok: false, status: res.status, message: body.message ?? `status ${res.status}` };
}

/** The as-of day of the latest complete nightly run on or before `day`, or null. */
export async function runOnOrBefore(ctx: BuildContext, day: string): Promise<string | null> {
	const row = await ctx.env.DB.prepare("SELECT MAX(as_of) AS as_of FROM analytics_runs WHERE site = ? AND status = 'complete' AND as_of <= ?").bind(ctx.site.id, day).first<{ as_of: string | null }>();
	return row?.as_of ?? null;
}

/** The reason a section that needs a nightly run is left out. */
export function noRunReason(day: string): string {
	return `no nightly analytics run has completed for a day up to ${day} (it runs after 03:00 local time, or POST /api/v1/jobs/nightly/run)`;
}

/** Number formatting for sentences (the tables keep the raw numbers). */
export function fmt(v: number | null | undefined, unit: string, currency: string): string {
	if (v === null || v === undefined) return "n/a";
	if (unit === "currency") return `${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
	if (unit === "percent") return `${v.toFixed(2)}%`;
	return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** "up 8.0% vs <label>" / "down …" / "" when no change is known. */
export function changeText(pct: number | null | undefined, label: string): string {
	if (pct === null || pct === undefined) return "";
	if (pct === 0) return ` (unchanged vs ${label})`;
	return ` (${pct > 0 ? "up" : "down"} ${Math.abs(pct).toFixed(1)}% vs ${label})`;
}
