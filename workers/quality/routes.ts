/**
 * GET /api/v1/health/data: the daily reconciliations (reconcile.ts) of a day or a range, and the
 * site's data-quality issues now: counts per rule and the latest open examples.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ApiError } from "../lib/http";
import { apiErrors, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { addDays, daysBetween, isDay } from "../metrics/calendar";
import { dayReportSchema, reportsFor } from "./reconcile";
import { QUALITY_RULES } from "./rules";

/** Longest range one call reconciles. */
export const MAX_DAYS = 31;
const EXAMPLES = 20;

const dayParam = z.string().refine(isDay, "must be a real day as YYYY-MM-DD");

const issueSchema = z.object({
	rule: z.string(),
	severity: z.string(),
	ref: z.string().describe("the record, e.g. orders/<order_id> or events/<id>"),
	detail: z.string().describe("what does not add up, with the stored values (minor units)"),
	detected_at: z.number().int().describe("UTC ms: first detected, or reopened"),
});

const healthDataRoute = createRoute({
	method: "get",
	path: "/health/data",
	operationId: "dataHealth",
	tags: ["Data quality"],
	summary: "Data reconciliation and quality",
	description:
		"Per day: tracker events accepted (+ imported) = stored in D1 = archived in R2 (UTC day of the event; the live counters shown beside them), and orders in D1 against the KPI rollup (count and revenue of the site's local day). " +
		"A day is computed by the cron once it is over and stored; a missing or provisional day is computed on this request (`refresh=true` recomputes every day). " +
		"Then the data-quality rules: open issues per rule and the latest open examples. Issues are recorded, never fixed: the stored records stay as sent.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.object({
			site: siteParam,
			date: dayParam.optional().describe("one day, YYYY-MM-DD (default: yesterday, UTC)"),
			from: dayParam.optional().describe(`first day of a range (with \`to\`, at most ${MAX_DAYS} days)`),
			to: dayParam.optional().describe("last day of the range, inclusive"),
			refresh: z.enum(["true", "false"]).optional().describe("recompute stored days too"),
		}),
	},
	responses: {
		200: json(
			z.object({
				site: z.string(),
				timezone: z.string(),
				from: z.string(),
				to: z.string(),
				reconciled: z.boolean().describe("every day reconciled"),
				days: z.array(dayReportSchema),
				quality: z.object({
					open: z.number().int(),
					rules: z.array(z.object({ rule: z.string(), severity: z.string(), description: z.string(), open: z.number().int(), resolved: z.number().int() })),
					latest: z.array(issueSchema).describe(`the ${EXAMPLES} most recently detected open issues`),
				}),
			}),
			"the reconciliation of each day and the open data-quality issues",
		),
		...apiErrors(404),
	},
});

/** The range a query names, or a 400 naming the field. */
function range(q: { date?: string; from?: string; to?: string }, today: string): { from: string; to: string } {
	const bad = (field: string, message: string) => new ApiError(400, "invalid_request", `${field} ${message}`, [{ field, message }]);
	if (q.date !== undefined && (q.from !== undefined || q.to !== undefined)) throw bad("date", "cannot be combined with from/to");
	if ((q.from === undefined) !== (q.to === undefined)) throw bad(q.from === undefined ? "from" : "to", "is required with the other end of the range");
	const from = q.date ?? q.from ?? addDays(today, -1);
	const to = q.date ?? q.to ?? from;
	if (to > today) throw bad(q.date !== undefined ? "date" : "to", "is in the future");
	if (from > to) throw bad("from", "is after to");
	if (daysBetween(from, to) + 1 > MAX_DAYS) throw bad("to", `is more than ${MAX_DAYS} days after from`);
	return { from, to };
}

export const quality = openApiApp<AuthVars>().openapi(healthDataRoute, async (c) => {
	const site = c.var.site;
	const q = c.req.valid("query");
	const now = Date.now();
	const { from, to } = range(q, new Date(now).toISOString().slice(0, 10));
	const days = await reportsFor(c.env, site, from, to, now, q.refresh === "true");
	const [counts, latest] = await c.env.DB.batch([
		c.env.DB.prepare("SELECT kind, MAX(severity) AS severity, SUM(resolved_at IS NULL) AS open, SUM(resolved_at IS NOT NULL) AS resolved FROM data_issues WHERE site = ?1 GROUP BY kind ORDER BY kind").bind(site.id),
		c.env.DB.prepare(`SELECT kind, ref, severity, detail, detected_at FROM data_issues WHERE site = ?1 AND resolved_at IS NULL ORDER BY detected_at DESC, kind, ref LIMIT ${EXAMPLES}`).bind(site.id),
	]);
	const countRows = z.array(z.object({ kind: z.string(), severity: z.string(), open: z.number(), resolved: z.number() })).parse(counts?.results ?? []);
	const byKind = new Map(countRows.map((r) => [r.kind, r]));
	// Every commerce rule is listed (0 when clean), then any other kind recorded (e.g. the rollup's malformed_props).
	const rules = [
		...QUALITY_RULES.map((r) => ({ rule: r.id, severity: r.severity as string, description: r.description as string, open: byKind.get(r.id)?.open ?? 0, resolved: byKind.get(r.id)?.resolved ?? 0 })),
		...countRows
			.filter((r) => !QUALITY_RULES.some((q) => q.id === r.kind))
			.map((r) => ({ rule: r.kind, severity: r.severity, description: "recorded by a reader that skipped the row (see detail)", open: r.open, resolved: r.resolved })),
	];
	const examples = z
		.array(z.object({ kind: z.string(), ref: z.string(), severity: z.string(), detail: z.string(), detected_at: z.number() }))
		.parse(latest?.results ?? [])
		.map((r) => ({ rule: r.kind, severity: r.severity, ref: r.ref, detail: r.detail, detected_at: r.detected_at }));
	return c.json(
		{
			site: site.id,
			timezone: site.timezone,
			from,
			to,
			reconciled: days.every((d) => d.reconciled),
			days,
			quality: { open: rules.reduce((a, r) => a + r.open, 0), rules, latest: examples },
		},
		200,
	);
});
