/**
 * Funnels: `GET/PUT /api/v1/funnels` (the site's set of funnel definitions; the default checkout funnel
 * until the site saves its own) and `GET /api/v1/funnels/{id}/report` (the historical report from D1
 * for a range of local days, optionally by channel or device).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { eventBase } from "../ingest/schema";
import { readJson } from "../lib/body";
import { ApiError } from "../lib/http";
import { apiErrors, json, jsonBody, openApiApp, secured, siteParam, siteQuery } from "../lib/openapi";
import { addDays, dayBounds, daysBetween, isDay, localDay } from "../metrics/calendar";
import { DEFAULT_FUNNEL, type FunnelDef } from "./match";
import { BREAKDOWNS, funnelReport } from "./report";
import { freshnessCheck, funnelKey, reportFromRollups, rollStaleDays, rollupReportStatement, ROLLUP_MAX_DAYS, summaryFromReportRows, type ReportRow } from "./rollup";
import { SAVED_FUNNELS_SQL, savedFromRows, savedFunnels } from "./store";

const MAX_FUNNELS = 20;
/** As the KPI API (5 × 366 days): the daily rollups make a long range as cheap as a short one. */
const MAX_DAYS = ROLLUP_MAX_DAYS;
const MIN_WINDOW_S = 60;
const MAX_WINDOW_S = 90 * 86_400;
const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SLUG_MESSAGE = "must be a slug: lowercase letters, digits, _ and -, starting with a letter or digit, at most 64";

const StepSchema = z.strictObject({
	event: eventBase.shape.name.describe("event name, as sent to POST /e (e.g. `add_to_cart`)"),
	label: z.string().trim().min(1).max(100).optional().describe("display name; default: the event name"),
});

const FunnelSchema = z
	.strictObject({
		id: z.string().regex(SLUG, SLUG_MESSAGE).describe("slug, unique in the set"),
		name: z.string().trim().min(1).max(100),
		steps: z.array(StepSchema).min(2, "2–10 steps").max(10, "2–10 steps").describe("ordered steps"),
		window_seconds: z
			.number()
			.int("must be whole seconds")
			.min(MIN_WINDOW_S, `from ${MIN_WINDOW_S} s to ${MAX_WINDOW_S} s (90 days)`)
			.max(MAX_WINDOW_S, `from ${MIN_WINDOW_S} s to ${MAX_WINDOW_S} s (90 days)`)
			.describe("conversion window: every later step within this many seconds of the step-1 event"),
	})
	.openapi("Funnel");
type FunnelJson = z.infer<typeof FunnelSchema>;

const PutBody = z.strictObject({
	funnels: z
		.array(FunnelSchema)
		.min(1, `1–${MAX_FUNNELS} funnels`)
		.max(MAX_FUNNELS, `1–${MAX_FUNNELS} funnels`)
		.superRefine((list, ctx) => {
			const seen = new Set<string>();
			list.forEach((f, i) => {
				if (seen.has(f.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate id '${f.id}'` });
				seen.add(f.id);
			});
		}),
});

const FunnelSetSchema = z
	.object({
		site: z.string(),
		default: z.boolean().describe("true while the site has not saved its own set (the default checkout funnel)"),
		updated_at: z.number().int().nullable().describe("last change to the saved set, UTC epoch ms; null for the default"),
		funnels: z.array(FunnelSchema),
	})
	.openapi("FunnelSet");

const StepReportSchema = z.object({
	event: z.string(),
	label: z.string(),
	users: z.number().int().describe("people who reached this step"),
	conversion_pct: z.number().nullable().describe("% of the previous step's people; null for step 1"),
	conversion_from_start_pct: z.number().nullable().describe("% of step 1's people"),
	drop_off: z.number().int().describe("people who reached the previous step but not this one"),
	drop_off_pct: z.number().nullable().describe("% of the previous step's people lost before this one; null for step 1"),
	median_seconds_from_previous: z.number().nullable().describe("exact median of the seconds from the previous step; null for step 1"),
});
const SummarySchema = z.object({
	users: z.number().int().describe("people who started (step 1)"),
	conversion_pct: z.number().nullable().describe("% of starters who reached the last step"),
	steps: z.array(StepReportSchema),
});
const ReportSchema = z
	.object({
		site: z.string(),
		funnel: FunnelSchema,
		from: z.string(),
		to: z.string(),
		timezone: z.string(),
		starts_from: z.number().int().describe("step-1 events from this instant (UTC epoch ms, inclusive)…"),
		starts_before: z.number().int().describe("…to this one (exclusive): local midnight after `to`"),
		steps_before: z.number().int().describe("later steps are read up to here: starts_before + the window"),
		by: z.enum(BREAKDOWNS).nullable(),
		...SummarySchema.shape,
		groups: z.array(SummarySchema.extend({ key: z.string().describe("channel or device of the step-1 event") })).optional(),
	})
	.openapi("FunnelReport");

const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");

const getRoute = createRoute({
	method: "get",
	path: "/funnels",
	operationId: "getFunnels",
	tags: ["Funnels"],
	summary: "Funnel definitions",
	description: "The site's funnels, in the order last saved; the default checkout funnel (product_view → add_to_cart → begin_checkout → purchase within 24 h) until the site saves its own set.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: { 200: json(FunnelSetSchema, "the set"), ...apiErrors(404) },
});

const putRoute = createRoute({
	method: "put",
	path: "/funnels",
	operationId: "putFunnels",
	tags: ["Funnels"],
	summary: "Replace the funnel set",
	description:
		"Replaces the site's whole set (funnels left out are deleted): ids are unique slugs, 2–10 steps named like events sent to POST /e, a window from 60 s to 90 days. " +
		"Idempotent: the same set again changes nothing (`rows_changed` 0, `updated_at` kept). Answers the stored set.",
	security: secured("admin"),
	middleware: [requireKey("admin"), readJson()],
	request: { query: siteQuery, body: jsonBody(PutBody, `the new set: 1–${MAX_FUNNELS} funnels`) },
	responses: { 200: json(FunnelSetSchema.extend({ rows_changed: z.number().int().describe("funnels added, changed or deleted") }), "stored"), ...apiErrors(404, 413, 415) },
});

const reportRoute = createRoute({
	method: "get",
	path: "/funnels/{id}/report",
	operationId: "funnelReport",
	tags: ["Funnels"],
	summary: "Funnel report",
	description:
		"People per step, step conversion, drop-off and median time between steps, from the stored events. A person is the customer id, else the visitor. " +
		"An attempt belongs to the range when its step-1 event is on one of the range's local days; its later steps may come up to the window after the range's end. " +
		"Each person counts once, with their deepest attempt. With `by`, `groups` per channel or device of the step-1 event. " +
			`Answered from daily rollups when they are current, else from the events, with the same numbers; the \`X-Computed-From\` header says which (\`rollup\`, \`rollup+events\`: the last stale days from events, \`events\`). Ranges up to ${MAX_DAYS} days (5 years, as the KPI API).`,
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ id: z.string().regex(SLUG, SLUG_MESSAGE).describe("the funnel id (GET /api/v1/funnels lists them)") }),
		query: z.strictObject({
			site: siteParam,
			from: day.optional().describe("first local day (the site's time zone) of step-1 events; default: 29 days before `to`"),
			to: day.optional().describe("last local day, inclusive; default: today"),
			by: z.enum(BREAKDOWNS, { error: `must be one of ${BREAKDOWNS.join(", ")}` }).optional().describe("break down by the step-1 event's channel or device"),
			exact: z
				.enum(["true", "false"], { error: "must be true or false" })
				.optional()
				.describe("true: compute from every step event of the range, bypassing the daily rollups (slower; for verification)"),
		}),
	},
	responses: { 200: json(ReportSchema, "the report"), ...apiErrors(404) },
});

/** Per isolate: the definition (canonical JSON) and rollup key each funnel had when last reported, the guess of the one-trip path. */
const lastDefs = new Map<string, { json: string; fkey: string }>();
function remember(key: string, value: { json: string; fkey: string }): void {
	if (lastDefs.size >= 1000 && !lastDefs.has(key)) lastDefs.delete(lastDefs.keys().next().value as string);
	lastDefs.set(key, value);
}

interface StoredSet {
	funnels: FunnelJson[];
	updatedAt: number | null;
}

/** The site's saved set, or null when it has none. */
async function savedSet(db: D1Database, site: string): Promise<StoredSet | null> {
	const saved = await savedFunnels(db, site);
	return saved && { funnels: saved.funnels.map(toJson), updatedAt: saved.updatedAt };
}

const toJson = (f: FunnelDef): FunnelJson => ({ id: f.id, name: f.name, steps: f.steps.map((s) => ({ ...s })), window_seconds: f.windowSeconds });
const toDef = (f: FunnelJson): FunnelDef => ({ id: f.id, name: f.name, steps: f.steps, windowSeconds: f.window_seconds });

async function currentSet(db: D1Database, site: string) {
	const saved = await savedSet(db, site);
	return saved ? { site, default: false, updated_at: saved.updatedAt, funnels: saved.funnels } : { site, default: true, updated_at: null, funnels: [toJson(DEFAULT_FUNNEL)] };
}

export const funnels = openApiApp<AuthVars>()
	.openapi(getRoute, async (c) => c.json(await currentSet(c.env.DB, c.var.site.id), 200))
	.openapi(putRoute, async (c) => {
		const list = c.req.valid("json").funnels;
		const site = c.var.site.id;
		const now = Date.now();
		const db = c.env.DB;
		// Canonical step JSON (labels only when given), so an identical set compares equal to what is stored.
		const stepsJson = (f: FunnelJson) => JSON.stringify(f.steps.map((s) => (s.label === undefined ? { event: s.event } : { event: s.event, label: s.label })));
		const upsert = db.prepare(
			"INSERT INTO funnels (site, id, position, name, steps, window_seconds, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) " +
				"ON CONFLICT (site, id) DO UPDATE SET position = excluded.position, name = excluded.name, steps = excluded.steps, window_seconds = excluded.window_seconds, updated_at = excluded.updated_at " +
				"WHERE funnels.position IS NOT excluded.position OR funnels.name IS NOT excluded.name OR funnels.steps IS NOT excluded.steps OR funnels.window_seconds IS NOT excluded.window_seconds",
		);
		// One batch is one transaction: readers see the old set or the new one, never a mix.
		const results = await db.batch([
			db.prepare("DELETE FROM funnels WHERE site = ? AND id NOT IN (SELECT value FROM json_each(?))").bind(site, JSON.stringify(list.map((f) => f.id))),
			...list.map((f, i) => upsert.bind(site, f.id, i, f.name, stepsJson(f), f.window_seconds, now)),
		]);
		const rowsChanged = results.reduce((n, r) => n + (r.meta.changes ?? 0), 0);
		return c.json({ ...(await currentSet(db, site)), rows_changed: rowsChanged }, 200);
	})
	.openapi(reportRoute, async (c) => {
		const { id } = c.req.valid("param");
		const q = c.req.valid("query");
		const site = c.var.site;
		const db = c.env.DB;
		const to = q.to ?? localDay(Date.now(), site.timezone);
		const from = q.from ?? addDays(to, -29);
		if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${to})` }]);
		if (daysBetween(from, to) + 1 > MAX_DAYS)
			throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: `at most ${MAX_DAYS} days from from to to (5 years, the same limit as the KPI API)` }]);
		const by = q.by ?? null;
		// One round trip when the rollup is current: the definition, the freshness check and the report of the definition
		// this isolate last saw for the funnel (its key is a hash of it) go in one batch; the report is used only if the
		// definition read in the same batch is that one and every day is fresh. Otherwise the plan below (more trips).
		const cacheKey = `${site.id}\u0000${site.timezone}\u0000${id}`;
		const hint = q.exact === "true" ? null : (lastDefs.get(cacheKey) ?? (id === DEFAULT_FUNNEL.id ? { json: JSON.stringify(toJson(DEFAULT_FUNNEL)), fkey: await funnelKey(DEFAULT_FUNNEL, site.timezone) } : null));
		const hintDef = hint ? toDef(JSON.parse(hint.json) as FunnelJson) : null;
		const check = hint && hintDef ? freshnessCheck(db, site, hintDef, hint.fkey, from, to) : null;
		const results = await db.batch([
			db.prepare(SAVED_FUNNELS_SQL).bind(site.id),
			...(check && hint && hintDef ? [...check.statements, rollupReportStatement(db, site.id, hintDef, hint.fkey, from, to, by)] : []),
		]);
		const saved = savedFromRows((results[0]?.results ?? []) as Parameters<typeof savedFromRows>[0]);
		const found = saved ? saved.funnels.map(toJson).find((f) => f.id === id) : id === DEFAULT_FUNNEL.id ? toJson(DEFAULT_FUNNEL) : undefined;
		if (!found) throw new ApiError(404, "not_found", `no funnel '${id}' (GET /api/v1/funnels lists them)`, [{ field: "id", message: "unknown funnel" }]);
		const def = toDef(found);
		const json = JSON.stringify(found);
		const startsFrom = dayBounds(from, site.timezone)[0];
		const startsBefore = dayBounds(to, site.timezone)[1];
		let fromRollups: Awaited<ReturnType<typeof reportFromRollups>> | null = null;
		if (check && hint?.json === json && check.fresh(results[1], results[2])) {
			const rows = ((results[3] as D1Result | undefined)?.results ?? []).map((r) => Object.values(r as Record<string, unknown>) as ReportRow);
			fromRollups = { summary: summaryFromReportRows(def, by, rows), source: "rollup", stale: [], fkey: hint.fkey };
		} else if (q.exact !== "true") {
			fromRollups = await reportFromRollups(db, site, def, from, to, by);
			remember(cacheKey, { json, fkey: fromRollups.fkey });
		}
		const summary = fromRollups?.summary ?? (await funnelReport(db, site.id, def, { startFrom: startsFrom, startTo: startsBefore }, by));
		// Rollups behind for this range (a new or changed definition, an import): roll its newest stale days after
		// answering, bounded, so the next request is fast; cron does the rest and clears the changed hours.
		if (fromRollups && !fromRollups.summary && fromRollups.stale.length) {
			const roll = rollStaleDays(c.env.DB, site, def, fromRollups.fkey, fromRollups.stale).catch((err) => console.error(`funnel roll of ${site.id} failed; cron retries`, err instanceof Error ? err.message : err));
			try {
				c.executionCtx.waitUntil(roll);
			} catch {
				// Called in-process without an execution context (GraphQL over the routes): the promise runs on its own.
			}
		}
		return c.json(
			{
				site: site.id,
				funnel: found,
				from,
				to,
				timezone: site.timezone,
				starts_from: startsFrom,
				starts_before: startsBefore,
				steps_before: startsBefore + def.windowSeconds * 1000,
				by,
				users: summary.users,
				conversion_pct: summary.conversion_pct,
				steps: summary.steps,
				...(q.by ? { groups: summary.groups } : {}),
			},
			200,
			{ "Cache-Control": "private, max-age=60", "X-Computed-From": fromRollups?.summary ? fromRollups.source : "events" },
		);
	});
