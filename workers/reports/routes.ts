/**
 * Reports API (issue 13): `GET /api/v1/reports/{executive|product|daily|financial}?period=` builds a
 * report on demand as JSON, HTML or CSV and archives it (R2 + D1 `reports`, replacing that period's
 * earlier rendering); `GET /api/v1/reports` lists the archive; `GET /api/v1/reports/archive?key=`
 * returns an archived report. The executive and financial reports carry strategic numbers (targets,
 * spend, CAC, ROAS, MRR): dashboard users need the admin or executive role for them, as the strategic
 * KPIs are hidden from the other roles; the product and daily reports are for every role.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";
import type { Principal } from "../auth/roles";
import { ApiError } from "../lib/http";
import { apiErrors, error, intParam, json, openApiApp, secured, siteParam } from "../lib/openapi";
import { buildReport } from "./build";
import { archiveReport, htmlKey, renderCsv, renderHtml } from "./render";
import { REPORT_KINDS, type ReportKind } from "./types";

const TAG = "Reports";
/** Kinds a dashboard role may read; keys read every kind their `read` scope allows. */
const STRATEGIC_KINDS: readonly ReportKind[] = ["executive", "financial"];

export function mayRead(principal: Principal, kind: ReportKind): boolean {
	if (principal.kind === "key" || !STRATEGIC_KINDS.includes(kind)) return true;
	return principal.role === "admin" || principal.role === "executive";
}

function requireKind(principal: Principal, kind: ReportKind): void {
	if (!mayRead(principal, kind)) {
		const role = principal.kind === "user" ? principal.role : "key";
		throw new ApiError(403, "forbidden", `the ${kind} report is for the admin and executive roles, not ${role}`, [{ field: "kind", message: "strategic report" }]);
	}
}

const ColumnSchema = z.object({ key: z.string(), label: z.string(), unit: z.string() });
const MetricSchema = z.object({
	id: z.string(),
	label: z.string(),
	unit: z.string(),
	value: z.number().nullable(),
	compare: z.number().nullable().optional(),
	delta_pct: z.number().nullable().optional(),
	compare2: z.number().nullable().optional(),
	delta2_pct: z.number().nullable().optional(),
	target: z.number().nullable().optional(),
	progress: z.number().nullable().optional(),
	note: z.string().optional(),
});
const ReportSchema = z
	.object({
		kind: z.enum(REPORT_KINDS),
		site: z.string(),
		subject: z.string().nullable().describe("the SKU of a product report"),
		period: z.object({ label: z.string(), grain: z.enum(["day", "week", "month", "quarter"]), from: z.string(), to: z.string(), tz: z.string(), start: z.number().int(), end: z.number().int() }),
		title: z.string(),
		generated_at: z.number().int(),
		currency: z.string(),
		sections: z.array(
			z.object({
				id: z.string(),
				title: z.string(),
				text: z.array(z.string()),
				metrics: z.array(MetricSchema),
				findings: z.array(z.object({ kind: z.enum(["achievement", "action"]), rule: z.string(), text: z.string(), link: z.string().optional(), count: z.number().optional() })).optional(),
				chart: z.unknown().optional(),
				tables: z.array(z.string()),
			}),
		),
		tables: z.array(z.object({ name: z.string(), title: z.string(), columns: z.array(ColumnSchema), rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))) })),
		omitted: z.array(z.object({ section: z.string(), reason: z.string() })).describe("sections left out, each with the reason"),
	})
	.openapi("Report");

const FORMATS = ["json", "html", "csv"] as const;
const baseQuery = {
	site: siteParam,
	format: z.enum(FORMATS, { error: "must be json, html or csv" }).optional().describe("json (default): the Report; html: the email; csv: one table (`table=`) or all of them"),
	table: z.string().min(1).max(64).optional().describe("with format=csv: the table to export (a name from `tables`)"),
};
const PERIOD_TEXT: Record<ReportKind, string> = {
	executive: "a week `2026-W48`, month `2026-11` or quarter `2026-Q4`",
	product: "a day `2026-12-02`, week `2026-W48`, month `2026-11` or quarter `2026-Q4`",
	daily: "a day `2026-12-02`",
	financial: "a month `2026-11`",
};
const DESCRIPTIONS: Record<ReportKind, string> = {
	executive: "Summary (revenue, growth, orders, customers, target progress), achievements and action items by documented rules, financial highlights, operational metrics, market insights and a revenue forecast with 80/95 % intervals. Admin and executive roles.",
	product: "One SKU: performance vs the previous period, the segments of its buyers, price and margin, bought-together and recommended products, inventory and reorder.",
	daily: "Yesterday (or any day) against the same weekday a week before and the 28-day average, and the alerts that fired that day.",
	financial: "Revenue, net revenue, COGS, gross profit, refunds, marketing spend, CAC, ROAS, MRR and ARR against the previous month. Admin and executive roles.",
};
const htmlContent: object = { "text/html": { schema: z.string() }, "text/csv": { schema: z.string() } };

function reportRoute<K extends ReportKind>(kind: K) {
	return createRoute({
		method: "get",
		path: `/reports/${kind}` as `/reports/${K}`,
		operationId: `${kind}Report`,
		tags: [TAG],
		summary: `${kind[0]?.toUpperCase()}${kind.slice(1)} report`,
		description: `${DESCRIPTIONS[kind]} Built on demand from the KPI engine and the nightly analytics, and archived (the same period again replaces the archived copy). Sections without data are listed in \`omitted\` with the reason.`,
		security: secured("read"),
		middleware: [requireKey("read")],
		request: {
			query: z.object({
				...baseQuery,
				period: z.string().max(16).describe(`the period, in the site's time zone: ${PERIOD_TEXT[kind]}`),
				...(kind === "product" ? { sku: z.string().min(1).max(64).describe("the product") } : { sku: z.string().optional().describe("only for the product report") }),
			}),
		},
		responses: {
			200: { description: "the report", content: { "application/json": { schema: ReportSchema }, ...htmlContent } },
			...apiErrors(404),
			422: error("the period has not started yet"),
		},
	});
}

const listRoute = createRoute({
	method: "get",
	path: "/reports",
	operationId: "listReports",
	tags: [TAG],
	summary: "Archived reports",
	description: "The site's archived reports, newest first (those of the kinds the caller's role may read).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, kind: z.enum(REPORT_KINDS, { error: `must be one of ${REPORT_KINDS.join(", ")}` }).optional(), limit: intParam(1, 500).optional().describe("default 100") }) },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				reports: z.array(z.object({ kind: z.enum(REPORT_KINDS), subject: z.string().nullable(), period: z.string(), title: z.string(), key: z.string(), html_key: z.string(), generated_at: z.number().int(), bytes: z.number().int(), html_bytes: z.number().int() })),
			}),
			"the archive",
		),
		...apiErrors(404),
	},
});

const archiveRoute = createRoute({
	method: "get",
	path: "/reports/archive",
	operationId: "archivedReport",
	tags: [TAG],
	summary: "One archived report",
	description: "An archived report by its key (from `GET /api/v1/reports`), as JSON or HTML.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, key: z.string().min(1).max(512).describe("the report's key"), format: z.enum(["json", "html"], { error: "must be json or html" }).optional() }) },
	responses: { 200: { description: "the report", content: { "application/json": { schema: ReportSchema }, "text/html": { schema: z.string() } } }, ...apiErrors(404) },
});

/** HTML answers may be previewed in the dashboard: nothing in them may run or load. */
const HTML_HEADERS = { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox", "X-Content-Type-Options": "nosniff" };

type ReportQuery = { format?: (typeof FORMATS)[number]; table?: string; period: string; sku?: string };

/** Builds, renders and archives one report (the archived copy is the one just answered). */
async function serve(c: Context<{ Bindings: Env; Variables: AuthVars }>, kind: ReportKind, q: ReportQuery): Promise<Response> {
	requireKind(c.var.principal, kind);
	if (q.table !== undefined && q.format !== "csv") throw new ApiError(400, "invalid_request", "table goes with format=csv", [{ field: "table", message: "only with format=csv" }]);
	const report = await buildReport(c.env, { site: c.var.site.id, kind, period: q.period, ...(q.sku !== undefined ? { sku: q.sku } : {}) }, Date.now());
	let res: Response;
	if (q.format === "html") res = c.body(renderHtml(report), 200, HTML_HEADERS);
	else if (q.format === "csv") {
		const name = `${report.kind}-${report.site}-${report.subject ? `${report.subject}-` : ""}${report.period.label}${q.table ? `-${q.table}` : ""}.csv`.replace(/[^\w.-]/g, "_");
		res = c.body(renderCsv(report, q.table), 200, { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="${name}"` });
	} else res = c.body(JSON.stringify(report), 200, { "Content-Type": "application/json" });
	await archiveReport(c.env, report);
	return res;
}

export const reports = openApiApp<AuthVars>()
	.openapi(listRoute, async (c) => {
		const q = c.req.valid("query");
		const rows = await c.env.DB.prepare("SELECT kind, subject, period, title, key, generated_at, bytes, html_bytes FROM reports WHERE site = ? AND (?2 IS NULL OR kind = ?2) ORDER BY generated_at DESC, key LIMIT ?3")
			.bind(c.var.site.id, q.kind ?? null, q.limit ?? 100)
			.all<{ kind: ReportKind; subject: string; period: string; title: string; key: string; generated_at: number; bytes: number; html_bytes: number }>();
		const visible = rows.results.filter((r) => mayRead(c.var.principal, r.kind));
		return c.json({ site: c.var.site.id, reports: visible.map((r) => ({ ...r, subject: r.subject === "" ? null : r.subject, html_key: htmlKey(r.key) })) }, 200);
	})
	.openapi(archiveRoute, async (c) => {
		const q = c.req.valid("query");
		const row = await c.env.DB.prepare("SELECT kind, key FROM reports WHERE site = ? AND key = ?").bind(c.var.site.id, q.key).first<{ kind: ReportKind; key: string }>();
		if (!row) throw new ApiError(404, "not_found", "no archived report with this key for this site", [{ field: "key", message: "unknown report (GET /api/v1/reports lists them)" }]);
		requireKind(c.var.principal, row.kind);
		const obj = await c.env.ARCHIVE.get(q.format === "html" ? htmlKey(row.key) : row.key);
		if (!obj) throw new ApiError(404, "not_found", "the archived object is missing", [{ field: "key", message: "object not found" }]);
		const text = await obj.text();
		if (q.format === "html") return c.body(text, 200, HTML_HEADERS) as never;
		return c.body(text, 200, { "Content-Type": "application/json" }) as never;
	})
	.openapi(reportRoute("executive"), async (c) => (await serve(c, "executive", c.req.valid("query"))) as never)
	.openapi(reportRoute("product"), async (c) => (await serve(c, "product", c.req.valid("query"))) as never)
	.openapi(reportRoute("daily"), async (c) => (await serve(c, "daily", c.req.valid("query"))) as never)
	.openapi(reportRoute("financial"), async (c) => (await serve(c, "financial", c.req.valid("query"))) as never);
