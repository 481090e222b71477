/**
 * `GET /api/v1/anomalies`: the z-score detector (anomaly.ts) over daily KPI series from the KPI engine,
 * so "is today's revenue unusual?" uses the same numbers as the dashboard. Weekday seasonality by
 * default: each day is compared with the same weekday of the previous `window` weeks.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ApiError } from "../lib/http";
import { apiErrors, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { addDays, daysBetween, isDay, localDay } from "../metrics/calendar";
import { KPI_BY_ID, visibleTo, type Kpi } from "../metrics/catalog";
import { runKpiQuery } from "../metrics/query";
import { zScores } from "./anomaly";

const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const MAX_DAYS = 366;

const querySchema = z.strictObject({
	site: siteParam,
	ids: z
		.string()
		.default("revenue,orders,conversion_rate")
		.describe("comma-separated KPI ids; default revenue, orders, conversion_rate")
		.transform((s) => [...new Set(s.split(",").map((x) => x.trim()).filter(Boolean))])
		.superRefine((ids, ctx) => {
			const unknown = ids.filter((id) => !KPI_BY_ID.has(id) || KPI_BY_ID.get(id)?.growth);
			if (unknown.length) ctx.addIssue({ code: "custom", message: `unknown or growth KPI ${unknown.join(", ")}` });
			if (!ids.length || ids.length > 20) ctx.addIssue({ code: "custom", message: "1–20 KPIs" });
		}),
	from: day.optional().describe("first local day scored; default: 29 days before `to`"),
	to: day.optional().describe("last local day scored; default: today"),
	season: z.enum(["weekday", "none"]).default("weekday").describe("compare with the same weekday of earlier weeks (default) or with the days just before"),
	window: z.coerce.number().int().min(3).max(28).default(7).describe("baseline points (default 7)"),
	threshold: z.coerce.number().positive().max(10).default(2.5).describe("|z| above this is an anomaly (default 2.5)"),
});

const PointSchema = z.object({
	day: z.string(),
	value: z.number().nullable(),
	mean: z.number().nullable(),
	std: z.number().nullable(),
	z: z.number().nullable(),
	anomaly: z.boolean(),
	direction: z.enum(["up", "down"]).nullable(),
});

const anomaliesRoute = createRoute({
	method: "get",
	path: "/anomalies",
	operationId: "anomalies",
	tags: ["KPIs"],
	summary: "Anomalies in daily KPI series",
	description:
		"Rolling z-score per day: (value − baseline mean) ÷ baseline standard deviation, the baseline being the same weekday of the previous `window` weeks (or the `window` days before). " +
		"|z| > threshold is an anomaly. Values come from GET /api/v1/kpis (grain day), in the site's local days.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: querySchema },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				from: z.string(),
				to: z.string(),
				season: z.enum(["weekday", "none"]),
				window: z.number(),
				threshold: z.number(),
				kpis: z.array(z.object({ id: z.string(), name: z.string(), unit: z.string(), anomalies: z.number(), points: z.array(PointSchema) })),
			}),
			"scores per KPI and day",
		),
		...apiErrors(404),
	},
});

const MINUTE = 60_000;
const MINUTE_METRICS = { events: "events", page_views: "page_views", visitors: "visitors", orders: "orders", revenue: "revenue_minor" } as const;
type MinuteMetric = keyof typeof MINUTE_METRICS;
const instant = z
	.string()
	.refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), "must be an ISO 8601 instant such as 2026-11-27T10:00:00Z")
	.transform((s) => Date.parse(s));

const minuteQuerySchema = z.strictObject({
	site: siteParam,
	metric: z.enum(Object.keys(MINUTE_METRICS) as [MinuteMetric, ...MinuteMetric[]]).default("events").describe("per-minute series (revenue in minor units of the site currency)"),
	from: instant.optional().describe("first minute scored; default 59 minutes before `to`"),
	to: instant.optional().describe("last minute scored; default the last complete minute"),
	season: z.enum(["none", "day"]).default("none").describe("baseline: the `window` minutes before (default) or the same minute of the previous `window` days"),
	window: z.coerce.number().int().min(3).max(60).default(7).describe("baseline points (default 7)"),
	threshold: z.coerce.number().positive().max(10).default(2.5).describe("|z| above this is an anomaly (default 2.5)"),
});

const minuteAnomaliesRoute = createRoute({
	method: "get",
	path: "/anomalies/minutes",
	operationId: "minuteAnomalies",
	tags: ["Real time"],
	summary: "Anomalies in per-minute live series",
	description:
		"Rolling z-score per minute over the real-time history that LiveSite objects flush to D1 every minute (events, page views, visitors, purchases, revenue by receive time). " +
		"A minute without events after the site's first live minute counts as 0. At most 1,440 minutes per request.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: minuteQuerySchema },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				metric: z.string(),
				from: z.number().int().describe("epoch ms"),
				to: z.number().int(),
				season: z.enum(["none", "day"]),
				window: z.number(),
				threshold: z.number(),
				anomalies: z.number().int(),
				points: z.array(PointSchema.omit({ day: true }).extend({ minute: z.number().int().describe("start of the minute, epoch ms") })),
			}),
			"scores per minute",
		),
		...apiErrors(404),
	},
});

export const alerts = openApiApp<AuthVars>().openapi(minuteAnomaliesRoute, async (c) => {
	const q = c.req.valid("query");
	const site = c.var.site;
	const now = Date.now();
	const to = floorMinute(q.to ?? now - MINUTE);
	const from = floorMinute(q.from ?? to - 59 * MINUTE);
	if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: "must not be after to" }]);
	if ((to - from) / MINUTE + 1 > 1440) throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: "at most 1,440 minutes scored" }]);
	const step = q.season === "day" ? 1440 : 1;
	const historyFrom = from - q.window * step * MINUTE;
	const column = MINUTE_METRICS[q.metric];
	// Sum over the site's shards; the baseline for season=day reads the same minutes of earlier days only.
	const sameMinutes = q.season === "day" ? "AND (minute - ?2) % 86400000 <= ?4" : "AND ?4 IS NOT NULL";
	const rows = await c.env.DB.prepare(`SELECT minute, SUM(${column}) AS v FROM live_minutes WHERE site = ?1 AND minute >= ?2 AND minute <= ?3 ${sameMinutes} GROUP BY minute`)
		.bind(site.id, historyFrom, to, to - from)
		.all<{ minute: number; v: number }>();
	const first = await c.env.DB.prepare("SELECT MIN(minute) AS m FROM live_minutes WHERE site = ?").bind(site.id).first<{ m: number | null }>();
	const byMinute = new Map(rows.results.map((r) => [r.minute, r.v]));
	const minutes: number[] = [];
	for (let m = historyFrom; m <= to; m += MINUTE) minutes.push(m);
	const since = first?.m ?? Number.POSITIVE_INFINITY;
	const values = minutes.map((m) => byMinute.get(m) ?? (m >= since ? 0 : null));
	const scores = zScores(values, { window: q.window, threshold: q.threshold, season: step });
	const skip = (from - historyFrom) / MINUTE;
	const points = scores.slice(skip).map((s, i) => ({ minute: minutes[skip + i] ?? 0, ...s }));
	return c.json(
		{ site: site.id, metric: q.metric, from, to, season: q.season, window: q.window, threshold: q.threshold, anomalies: points.filter((p) => p.anomaly).length, points },
		200,
		{ "Cache-Control": "no-store" },
	);
}).openapi(anomaliesRoute, async (c) => {
	const q = c.req.valid("query");
	const site = c.var.site;
	const hidden = q.ids.filter((id) => !visibleTo(KPI_BY_ID.get(id) as Kpi, c.var.principal));
	if (hidden.length) throw new ApiError(403, "forbidden", `may not see ${hidden.join(", ")}`, [{ field: "ids", message: `not visible: ${hidden.join(", ")}` }]);
	const to = q.to ?? localDay(Date.now(), site.timezone);
	const from = q.from ?? addDays(to, -29);
	if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${to})` }]);
	if (daysBetween(from, to) + 1 > MAX_DAYS) throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: `at most ${MAX_DAYS} days scored` }]);
	const season = q.season === "weekday" ? 7 : 1;
	const historyFrom = addDays(from, -q.window * season);
	const result = await runKpiQuery(c.env.DB, site, { ids: q.ids, from: historyFrom, to, grain: "day" });
	const skip = daysBetween(historyFrom, from);
	return c.json(
		{
			site: site.id,
			from,
			to,
			season: q.season,
			window: q.window,
			threshold: q.threshold,
			kpis: result.kpis.map((k) => {
				const scores = zScores(
					k.series.map((p) => p.value),
					{ window: q.window, threshold: q.threshold, season },
				);
				const points = scores.slice(skip).map((s, i) => ({ day: k.series[skip + i]?.period ?? "", ...s }));
				return { id: k.id, name: k.name, unit: k.unit, anomalies: points.filter((p) => p.anomaly).length, points };
			}),
		},
		200,
		{ "Cache-Control": "private, max-age=60" },
	);
});

function floorMinute(ms: number): number {
	return ms - (((ms % MINUTE) + MINUTE) % MINUTE);
}
