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

export const alerts = openApiApp<AuthVars>().openapi(anomaliesRoute, async (c) => {
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
