/**
 * KPI API: `GET /api/v1/kpis` (values, comparison, breakdown; JSON or CSV), `GET /api/v1/kpis/catalog`,
 * `GET/PUT /api/v1/targets`. Responses carry an ETag (304 on If-None-Match) and may be served from
 * the edge cache for KPI_CACHE_SECONDS, keyed by the URL and a hash of the caller's credentials.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { requireAccountKey, requireKey, type AuthVars } from "../auth/middleware";
import { ROLES } from "../auth/roles";
import { readJson } from "../lib/body";
import { csvCell } from "../lib/csv";
import { ApiError, sha256Hex } from "../lib/http";
import { apiErrors, json, jsonBody, oneOrMany, openApiApp, secured, siteParam } from "../lib/openapi";
import { addDays, bucketLabel, bucketStart, daysBetween, GRAINS, isDay, localDay } from "./calendar";
import { DIMS, KPI_BY_ID, KPIS, kpiDims, visibleTo, type Kpi } from "./catalog";
import { bucketsOf, runKpiQuery, type KpiResponse, type Point } from "./query";

/** What a dashboard's first screen asks for when no ids are given. */
export const DEFAULT_KPIS = ["revenue", "net_revenue", "orders", "aov", "conversion_rate", "gross_margin", "new_customers", "cac", "return_customer_rate", "revenue_per_visitor"];
const MAX_DAYS = 5 * 366;
const MAX_BUCKETS = 2000;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");

const querySchema = z.strictObject({
	site: siteParam,
	ids: z
		.string()
		.optional()
		.describe(`comma-separated KPI ids (GET /api/v1/kpis/catalog lists them; at most the catalogue's ${KPIS.length}), or \`all\`: every KPI the caller's role may see; default: the 10 KPIs of the dashboard's first screen`)
		.transform((s) => (s === undefined || s.trim() === "" ? DEFAULT_KPIS : s.trim() === "all" ? KPIS.map((k) => k.id) : [...new Set(s.split(",").map((x) => x.trim()).filter(Boolean))]))
		.superRefine((ids, ctx) => {
			const unknown = ids.filter((id) => !KPI_BY_ID.has(id));
			if (unknown.length) ctx.addIssue({ code: "custom", message: `unknown KPI ${unknown.join(", ")} (GET /api/v1/kpis/catalog lists them; \`all\` asks for every one)` });
			// Distinct known ids can never exceed the catalogue: the bound is its size, so every KPI fits in one query.
			if (ids.length > KPIS.length) ctx.addIssue({ code: "custom", message: `at most ${KPIS.length} KPIs per query` });
		}),
	from: day.optional().describe("first local day (the site's time zone), YYYY-MM-DD; default: 29 days before `to`"),
	to: day.optional().describe("last local day, inclusive; default: today"),
	grain: z.enum(GRAINS, { error: `must be one of ${GRAINS.join(", ")}` }).default("day").describe("series period"),
	compare: z.enum(["previous", "yoy"], { error: "must be previous or yoy" }).optional().describe("add compare, delta and delta_pct: the previous range of equal length, or a year earlier"),
	by: z.enum(DIMS, { error: `must be one of ${DIMS.join(", ")}` }).optional().describe("break down into groups; `segment`: the customer's RFM segment in the latest nightly run (`Unscored` without one), for days up to that run's as-of day"),
	format: z.enum(["json", "csv"], { error: "must be json or csv" }).optional().describe("csv: one row per KPI × group × period (also `Accept: text/csv`)"),
});

const nullableNumber = z.number().nullable();
const PointSchema = z
	.object({
		value: nullableNumber.describe("null when undefined for the period (e.g. a ratio over zero)"),
		compare: nullableNumber.optional(),
		delta: nullableNumber.optional(),
		delta_pct: nullableNumber.optional(),
		target: z.number().optional(),
		progress: nullableNumber.optional().describe("% of target"),
		partial: z.literal(true).optional().describe("present when the period is not over at `as_of` (e.g. today): the value is so far; complete periods omit it"),
		elapsed: z.number().min(0).max(1).optional().describe("with `partial`: fraction of the period elapsed at `as_of` (local time; a 23-h or 25-h DST day counts its real hours); 0 for a period not started"),
		reason: z.string().optional().describe("why `value`, `compare` or `delta_pct` is null when known: no data for an input (e.g. no marketing spend for `cac`), no like-for-like comparison for a partial period, a period not started"),
	})
	.openapi("KpiPoint");
const SeriesPointSchema = PointSchema.extend({ period: z.string(), from: z.string(), to: z.string() }).openapi("KpiSeriesPoint");
const KpiResponseSchema = z
	.object({
		site: z.string(),
		currency: z.string(),
		timezone: z.string(),
		from: z.string(),
		to: z.string(),
		grain: z.enum(GRAINS),
		as_of: z.number().int().describe("the instant (UTC ms) that decided which periods are over"),
		partial: z.literal(true).optional().describe("present when the range's last day is not over at `as_of`; `total` then carries partial and elapsed too"),
		elapsed: z.number().min(0).max(1).optional().describe("with `partial`: fraction of the range elapsed"),
		compare: z.enum(["previous", "yoy"]).nullable(),
		compare_from: z.string().nullable(),
		compare_to: z.string().nullable(),
		compare_until: z.number().int().nullable().describe("when the range is not over: the instant (UTC ms, exclusive) where the comparison range stops — the day matching today, cut at the same elapsed time"),
		by: z.enum(DIMS).nullable(),
		kpis: z.array(
			z.object({
				id: z.string(),
				name: z.string(),
				unit: z.string(),
				good: z.enum(["up", "down"]),
				total: PointSchema,
				series: z.array(SeriesPointSchema),
				groups: z.array(z.object({ key: z.string(), total: PointSchema, series: z.array(SeriesPointSchema) })).optional(),
			}),
		),
	})
	.openapi("KpiResponse");

// The CSV form is in the document, but typed as nothing: the typed client's `res.json()` is then the
// JSON answer rather than a union with an untyped CSV response.
const csvContent: object = { "text/csv": { schema: z.string().describe("kpi,name,unit,group,period,from,to,value,compare,delta,delta_pct,target,progress") } };

const kpisRoute = createRoute({
	method: "get",
	path: "/kpis",
	operationId: "kpis",
	tags: ["KPIs"],
	summary: "KPI values",
	description:
		"Per KPI: `total` and `series` (one point per period, clipped to the range); with `by`, `groups`. Days are the site's local days. " +
		"Partial periods: a period not over at `as_of` (today, this week…) carries `partial: true` and `elapsed`; when the range ends in one, `compare`, `delta_pct` and the growth KPIs are like-for-like — " +
		"the comparison range (previous range, a year back, or the previous bucket for growth) stops at the day matching today, cut at the same elapsed time (the alert rules' `today` window) — " +
		"or null with a `reason` when no such cut exists (marketing spend is per whole day; segments). " +
		"A KPI the caller's role may not see is 403; an unknown id, a bad day or an unsupported breakdown is 400 naming `ids`, `from`, `by`…. " +
		"Answers carry an ETag (If-None-Match → 304) and may come from the edge cache for KPI_CACHE_SECONDS.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: querySchema },
	responses: {
		200: { description: "the values", content: { "application/json": { schema: KpiResponseSchema }, ...csvContent } },
		304: { description: "not modified (If-None-Match matched the ETag)" },
		...apiErrors(404),
	},
});

const CATALOG_FIELDS = (k: Kpi) => ({
	id: k.id,
	name: k.name,
	area: k.area,
	description: k.description,
	formula: k.formula,
	unit: k.unit,
	good: k.good,
	breakdowns: kpiDims(k),
	...(k.growth ? { growth: k.growth } : {}),
	roles: k.roles ?? ["admin", "executive", "analyst", "operations"],
});

const catalogRoute = createRoute({
	method: "get",
	path: "/kpis/catalog",
	operationId: "kpiCatalog",
	tags: ["KPIs"],
	summary: "KPI catalogue",
	description: "Every KPI the caller's role may see: id, name, area, description, formula, unit, which direction is good, supported breakdowns.",
	security: secured("read"),
	// The catalogue depends on the caller's role, not on a site: `site` is optional (when given, the key must reach it).
	middleware: [createMiddleware<{ Bindings: Env; Variables: AuthVars }>((c, next) => (c.req.query("site") === undefined ? requireAccountKey("read") : requireKey("read"))(c, next))],
	request: { query: z.object({ site: siteParam.optional() }) },
	responses: {
		200: json(
			z.object({
				kpis: z.array(
					z.object({
						id: z.string(),
						name: z.string(),
						area: z.string(),
						description: z.string(),
						formula: z.string(),
						unit: z.string(),
						good: z.enum(["up", "down"]),
						breakdowns: z.array(z.enum(DIMS)),
						growth: z.object({ of: z.string(), lag: z.enum(["period", "year"]) }).optional(),
						roles: z.array(z.enum(ROLES)).readonly(),
					}),
				),
			}),
			"the catalogue",
		),
		...apiErrors(404),
	},
});

/** A copy of some headers with one set (Headers keys are case-insensitive; object spreads are not). */
function withHeader(h: Headers, name: string, value: string): Headers {
	const out = new Headers(h);
	out.set(name, value);
	return out;
}

/** One CSV row per KPI × group × period, plus a `total` row for each KPI × group. */
export function kpiCsv(r: KpiResponse): string {
	const header = ["kpi", "name", "unit", "group", "period", "from", "to", "value", "compare", "delta", "delta_pct", "target", "progress"];
	const lines = [header.join(",")];
	const row = (k: { id: string; name: string; unit: string }, group: string, period: string, from: string, to: string, p: Point) =>
		lines.push([k.id, k.name, k.unit, group, period, from, to, p.value, p.compare, p.delta, p.delta_pct, p.target, p.progress].map(csvCell).join(","));
	for (const k of r.kpis) {
		for (const g of [{ key: "", total: k.total, series: k.series }, ...(k.groups ?? [])]) {
			row(k, g.key, "total", r.from, r.to, g.total);
			for (const s of g.series) row(k, g.key, s.period, s.from, s.to, s);
		}
	}
	return `${lines.join("\r\n")}\r\n`;
}

/** Period label of a whole range when it is exactly one bucket of the grain, or one calendar year. */
function rangeLabel(from: string, to: string, grain: (typeof GRAINS)[number]): string | null {
	if (from.endsWith("-01-01") && to === `${from.slice(0, 4)}-12-31`) return from.slice(0, 4);
	const b = bucketsOf(from, to, grain);
	return b.length === 1 && b[0]?.from === b[0]?.start && b[0] && bucketStart(addDays(b[0].to, 1), grain) === addDays(b[0].to, 1) ? bucketLabel(b[0].start, grain) : null;
}

async function attachTargets(db: D1Database, site: string, r: KpiResponse): Promise<void> {
	const ids = r.kpis.map((k) => k.id);
	const rows = await db.prepare("SELECT kpi, period, value FROM kpi_targets WHERE site = ? AND kpi IN (SELECT value FROM json_each(?))").bind(site, JSON.stringify(ids)).all<{ kpi: string; period: string; value: number }>();
	if (!rows.results.length) return;
	const targets = new Map(rows.results.map((t) => [`${t.kpi}|${t.period}`, t.value]));
	const totalLabel = rangeLabel(r.from, r.to, r.grain);
	const apply = (kpi: string, period: string | null, p: Point) => {
		const t = period === null ? undefined : targets.get(`${kpi}|${period}`);
		if (t === undefined) return;
		p.target = t;
		p.progress = p.value === null || t === 0 ? null : Math.round((10_000 * p.value) / t) / 100;
	};
	for (const k of r.kpis) {
		apply(k.id, totalLabel, k.total);
		for (const s of k.series) apply(k.id, s.period, s);
	}
}

const PERIOD_RE = /^(\d{4}|\d{4}-(0[1-9]|1[0-2])|\d{4}-Q[1-4]|\d{4}-W(0[1-9]|[1-4]\d|5[0-3])|\d{4}-\d{2}-\d{2})$/;
const targetSchema = z.strictObject({
	kpi: z.string().refine((id) => KPI_BY_ID.has(id), "unknown KPI (GET /api/v1/kpis/catalog lists them)"),
	period: z.string().refine((p) => PERIOD_RE.test(p) && (!DAY_RE.test(p) || isDay(p)), "must be a period: 2026, 2026-Q4, 2026-11, 2026-W48 or 2026-11-27"),
	value: z.number().finite(),
});
const targetsBody = oneOrMany(targetSchema, 500);

const putTargetsRoute = createRoute({
	method: "put",
	path: "/targets",
	operationId: "putTargets",
	tags: ["KPIs"],
	summary: "Set targets",
	description:
		"Targets per KPI and period (`2026`, `2026-Q4`, `2026-11`, `2026-W48`, `2026-11-27`): a period that matches a series point (or the whole range) adds `target` and `progress` to it. " +
		"Idempotent: the same target again changes nothing.",
	security: secured("admin"),
	middleware: [requireKey("admin"), readJson()],
	request: { query: z.object({ site: siteParam }), body: jsonBody(targetsBody, "one target or an array of up to 500") },
	responses: {
		200: json(z.object({ site: z.string(), received: z.number().int(), rows_changed: z.number().int() }), "stored"),
		...apiErrors(404, 413, 415),
	},
});

const getTargetsRoute = createRoute({
	method: "get",
	path: "/targets",
	operationId: "getTargets",
	tags: ["KPIs"],
	summary: "Targets",
	description: "The site's KPI targets; a dashboard user sees those of the KPIs their role may see (403 for `kpi=` naming another).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, kpi: z.string().refine((id) => KPI_BY_ID.has(id), "unknown KPI").optional().describe("only this KPI's targets") }) },
	responses: {
		200: json(z.object({ site: z.string(), targets: z.array(z.object({ kpi: z.string(), period: z.string(), value: z.number(), updated_at: z.number().int() })) }), "the targets"),
		...apiErrors(404),
	},
});

export const metrics = openApiApp<AuthVars>()
	.openapi(catalogRoute, (c) =>
		c.json({ kpis: KPIS.filter((k) => visibleTo(k, c.var.principal)).map(CATALOG_FIELDS) }, 200, { "Cache-Control": "private, max-age=300", Vary: "Authorization, Cookie" }),
	)
	.openapi(kpisRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		// Each role sees its KPIs: the default set shrinks to them, an explicit request for another is refused.
		const hidden = q.ids.filter((id) => !visibleTo(KPI_BY_ID.get(id) as Kpi, c.var.principal));
		// `all` means all the caller may see, like the default set.
		if (hidden.length && c.req.query("ids") && c.req.query("ids")?.trim() !== "all") {
			const role = c.var.principal.kind === "user" ? c.var.principal.role : "this key";
			throw new ApiError(403, "forbidden", `the ${role} role may not see ${hidden.join(", ")}`, [{ field: "ids", message: `not visible to ${role}: ${hidden.join(", ")}` }]);
		}
		q.ids = q.ids.filter((id) => !hidden.includes(id));
		const to = q.to ?? localDay(Date.now(), site.timezone);
		const from = q.from ?? addDays(to, -29);
		if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${to})` }]);
		if (daysBetween(from, to) + 1 > MAX_DAYS) throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: `at most ${MAX_DAYS} days from from to to` }]);
		if (bucketsOf(from, to, q.grain).length > MAX_BUCKETS) throw new ApiError(400, "invalid_request", "too many periods", [{ field: "grain", message: `at most ${MAX_BUCKETS} periods; use a coarser grain` }]);
		if (q.by) {
			const unsupported = q.ids.filter((id) => !kpiDims(KPI_BY_ID.get(id) as Kpi).includes(q.by as (typeof DIMS)[number]));
			if (unsupported.length) throw new ApiError(400, "invalid_request", `cannot break ${unsupported.join(", ")} down by ${q.by}`, [{ field: "by", message: `not supported by ${unsupported.join(", ")} (see breakdowns in /api/v1/kpis/catalog)` }]);
		}
		const wantsCsv = q.format === "csv" || (q.format === undefined && /\btext\/csv\b/.test(c.req.header("Accept") ?? ""));

		// Edge cache: the same URL and credentials within KPI_CACHE_SECONDS get the stored answer.
		const ttl = Number(c.env.KPI_CACHE_SECONDS ?? 0);
		const cacheKey = ttl > 0 ? new Request(`https://kpi-cache.invalid${new URL(c.req.url).pathname}?${new URLSearchParams({ ...c.req.query(), from, to, csv: String(wantsCsv) })}&who=${await sha256Hex(`${c.req.header("Authorization") ?? ""}|${c.req.header("Cookie") ?? ""}`)}`) : null;
		// `Cache-Control: no-cache` from the caller skips the stored answer (and refreshes it).
		const fresh = /\bno-cache\b/.test(c.req.header("Cache-Control") ?? "");
		let res = cacheKey && !fresh ? await caches.default.match(cacheKey) : undefined;
		if (!res) {
			const result = await runKpiQuery(c.env.DB, site, { ids: q.ids, from, to, grain: q.grain, compare: q.compare, by: q.by });
			await attachTargets(c.env.DB, site.id, result);
			const body = wantsCsv ? kpiCsv(result) : JSON.stringify(result);
			// The ETag leaves out `as_of` (the clock): a complete range answers 304 whenever its numbers are the same.
			const etag = `"${(await sha256Hex(wantsCsv ? body : JSON.stringify({ ...result, as_of: undefined }))).slice(0, 32)}"`;
			res = new Response(body, {
				headers: {
					"Content-Type": wantsCsv ? "text/csv; charset=utf-8" : "application/json",
					ETag: etag,
					"Cache-Control": `private, max-age=${Math.max(0, ttl)}`,
					Vary: "Authorization, Cookie, Accept",
					...(wantsCsv ? { "Content-Disposition": `attachment; filename="kpis-${site.id}-${from}-${to}.csv"` } : {}),
				},
			});
			if (cacheKey) c.executionCtx.waitUntil(caches.default.put(cacheKey, new Response(body, { headers: withHeader(res.headers, "Cache-Control", `max-age=${ttl}`) })));
		}
		const etag = res.headers.get("ETag") ?? "";
		const match = c.req.header("If-None-Match");
		if (match && match.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) return new Response(null, { status: 304, headers: { ETag: etag, "Cache-Control": `private, max-age=${Math.max(0, ttl)}` } });
		return new Response(res.body, { status: 200, headers: withHeader(res.headers, "Cache-Control", `private, max-age=${Math.max(0, ttl)}`) });
	})
	.openapi(putTargetsRoute, async (c) => {
		const body = c.req.valid("json");
		const targets = Array.isArray(body) ? body : [body];
		const now = Date.now();
		const stmt = c.env.DB.prepare(
			"INSERT INTO kpi_targets (site, kpi, period, value, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, kpi, period) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at WHERE kpi_targets.value IS NOT excluded.value",
		);
		const results = await c.env.DB.batch(targets.map((t) => stmt.bind(c.var.site.id, t.kpi, t.period, t.value, now)));
		return c.json({ site: c.var.site.id, received: targets.length, rows_changed: results.reduce((n, r) => n + (r.meta.changes ?? 0), 0) }, 200);
	})
	.openapi(getTargetsRoute, async (c) => {
		const kpi = c.req.valid("query").kpi;
		// A target says where a KPI is headed: hidden from the roles that may not see the KPI, as /kpis does.
		const visible = (id: string) => {
			const k = KPI_BY_ID.get(id);
			return k !== undefined && visibleTo(k, c.var.principal);
		};
		if (kpi !== undefined && !visible(kpi)) {
			const role = c.var.principal.kind === "user" ? c.var.principal.role : "this key";
			throw new ApiError(403, "forbidden", `the ${role} role may not see ${kpi}`, [{ field: "kpi", message: `not visible to ${role}` }]);
		}
		const rows = await c.env.DB.prepare("SELECT kpi, period, value, updated_at FROM kpi_targets WHERE site = ? AND (?2 IS NULL OR kpi = ?2) ORDER BY kpi, period")
			.bind(c.var.site.id, kpi ?? null)
			.all<{ kpi: string; period: string; value: number; updated_at: number }>();
		return c.json({ site: c.var.site.id, targets: rows.results.filter((t) => visible(t.kpi)) }, 200);
	});
