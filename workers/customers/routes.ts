/**
 * Customers API, behind the dashboard's Customers page: `GET /api/v1/customers/overview` (segments of
 * the customers who ordered in a range), `GET /api/v1/customers` (the paged list), `GET
 * /api/v1/customers/{id}` (a profile) and `GET /api/v1/journeys` (top entry pages and conversion
 * paths). NPS/CSAT and new/returning trends are KPIs (`/kpis`), drop-offs are funnel reports.
 * Emails and names appear only for principals that may see PII (auth/roles.ts canSeePii).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { canSeePii } from "../auth/roles";
import { piiKeyring } from "../privacy/pii";
import { ApiError } from "../lib/http";
import { currencyDigits } from "../lib/money";
import { apiErrors, intParam, json, openApiApp, secured, siteParam } from "../lib/openapi";
import type { Site } from "../lib/sites";
import { addDays, dayBounds, daysBetween, isDay, localDay } from "../metrics/calendar";
import { customerAnalytics, CustomerAnalyticsSchema } from "../analytics/profile";
import { NO_PAGE_VIEW, PATH_PAGES } from "./journeys";
import { FREQUENCY_BUCKETS, pct, type Overview, type Segment } from "./overview";
import { journeysReport, readJourneysExact, rolledPrefixCheck, rollStaleJourneyDays, JOURNEY_ROLLUP_MAX_DAYS } from "./journey-rollup";
import { LONG_RANGE_DAYS, overviewFromRows, overviewStatement, queryOverview } from "./overview-query";
import { decodeCursor, encodeCursor, listCustomers, PROFILE_LIMITS, readOverview, readProfile, SORTS } from "./read";

/** As the KPI API and funnel reports (5 × 366 days): journeys read daily rollups, the overview one indexed statement. */
const MAX_DAYS = JOURNEY_ROLLUP_MAX_DAYS;
const DEFAULT_DAYS = 30;
const TAG = "Customers";

const day = z.string().refine(isDay, "must be a day YYYY-MM-DD");
const rangeQuery = {
	site: siteParam,
	from: day.optional().describe(`first local day (the site's time zone), YYYY-MM-DD; default: ${DEFAULT_DAYS - 1} days before \`to\``),
	to: day.optional().describe("last local day, inclusive; default: today"),
	exact: z
		.enum(["true", "false"], { error: "must be true or false" })
		.optional()
		.describe("true: compute with the reference reader from every raw row of the range (slower; for verification), bypassing the rollup or the one-statement query"),
};

/** The range's local days and their UTC bounds; 400 naming `from` when reversed or longer than MAX_DAYS. */
function localRange(q: { from?: string | undefined; to?: string | undefined }, site: Site) {
	const to = q.to ?? localDay(Date.now(), site.timezone);
	const from = q.from ?? addDays(to, -(DEFAULT_DAYS - 1));
	if (from > to) throw new ApiError(400, "invalid_request", "from is after to", [{ field: "from", message: `must not be after to (${to})` }]);
	if (daysBetween(from, to) + 1 > MAX_DAYS)
		throw new ApiError(400, "invalid_request", "the range is too long", [{ field: "from", message: `at most ${MAX_DAYS} days from from to to (5 years, the same limit as the KPI API and funnel reports)` }]);
	return { from, to, start: dayBounds(from, site.timezone)[0], end: dayBounds(to, site.timezone)[1] };
}

/** Minor units → major units of `currency` (1999 EUR cents → 19.99). */
const major = (minor: number, currency: string) => minor / 10 ** currencyDigits(currency);
/** A mean in major units, rounded to the currency's digits; null over zero. */
const meanMajor = (minor: number, n: number, currency: string) => (n === 0 ? null : Math.round(minor / n) / 10 ** currencyDigits(currency));

const rangeFields = {
	site: z.string(),
	timezone: z.string(),
	from: z.string(),
	to: z.string(),
	range_from: z.number().int().describe("first instant of `from` (UTC epoch ms, inclusive)…"),
	range_before: z.number().int().describe("…to local midnight after `to` (exclusive)"),
};

// ─── overview ────────────────────────────────────────────────────────────────────────────────────

const SegmentSchema = z.object({
	key: z.string(),
	customers: z.number().int(),
	share_pct: z.number().nullable().describe("% of the range's customers"),
	orders: z.number().int().describe("their non-cancelled orders in the range"),
	revenue: z.number().describe("their revenue in the range (total − tax)"),
});

const OverviewSchema = z
	.object({
		...rangeFields,
		currency: z.string().describe("the site currency: revenue is in its major units"),
		totals: z.object({
			customers: z.number().int().describe("customers with a non-cancelled order placed in the range"),
			orders: z.number().int(),
			revenue: z.number().describe("total − tax of those orders, as the revenue KPI"),
			new_customers: z.number().int().describe("whose first-ever non-cancelled order is in the range"),
			returning_customers: z.number().int().describe("who had ordered before the range"),
			new_pct: z.number().nullable(),
		}),
		by_country: z.array(SegmentSchema).describe("the customer record's country; `unknown` without one"),
		by_channel: z.array(SegmentSchema).describe("acquisition channel: the customer record's, else the first-ever order's; `unknown` without either"),
		by_device: z.array(SegmentSchema).describe("the device of most of the customer's identified events in the range (tie: the latest event's); `unknown` without any"),
		purchase_frequency: z.array(SegmentSchema).describe(`customers by their orders in the range, buckets ${FREQUENCY_BUCKETS.join(", ")} (all listed)`),
	})
	.openapi("CustomersOverview");

const overviewRoute = createRoute({
	method: "get",
	path: "/customers/overview",
	operationId: "customersOverview",
	tags: [TAG],
	summary: "Customer segments",
	description:
		"The customers who placed a non-cancelled order on the range's local days (default the last 30, at most 5 × 366), counted by country, acquisition channel and device, " +
		"new against returning, and by purchase frequency; each group with its orders and revenue. Segments are sorted by customers, most first. " +
		"Computed in one statement over covering indexes, each customer's device from daily device tallies where they are current (`X-Computed-From`: `rollup`, `rollup+events`, `events`); " +
		"`exact=true` recomputes it per customer from the raw rows (the reference, same numbers; `exact`).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.strictObject(rangeQuery) },
	responses: { 200: json(OverviewSchema, "the segments"), ...apiErrors(404) },
});

// ─── list ────────────────────────────────────────────────────────────────────────────────────────

const PiiFields = {
	email: z.string().nullable().optional().describe("only for principals that may see PII (the admin role, admin keys); otherwise absent"),
	name: z.string().nullable().optional().describe("as `email`"),
};

const ListItemSchema = z.object({
	id: z.string(),
	country: z.string().nullable(),
	channel: z.string().nullable().describe("acquisition channel: the customer record's, else the first order's"),
	created_at: z.number().int().nullable().describe("the customer record's creation (UTC epoch ms); null without a record"),
	first_order: z.number().int().nullable().describe("first non-cancelled order, UTC epoch ms"),
	last_order: z.number().int().nullable(),
	orders: z.number().int().describe("non-cancelled orders"),
	revenue: z.number().describe("lifetime revenue (total − tax), site currency"),
	...PiiFields,
});

const ListSchema = z
	.object({
		site: z.string(),
		currency: z.string(),
		sort: z.enum(SORTS),
		customers: z.array(ListItemSchema),
		next_cursor: z.string().nullable().describe("pass as `cursor` for the next page; null after the last"),
	})
	.openapi("CustomerList");

const listRoute = createRoute({
	method: "get",
	path: "/customers",
	operationId: "listCustomers",
	tags: [TAG],
	summary: "Customer list",
	description:
		"Every customer the site knows (a customer record or an order), sorted by lifetime revenue, orders or last order (descending; ties by id), in pages. " +
		"`q` matches part of the id, and a whole email for principals that may see PII (emails are encrypted at rest and found by a keyed hash). Keyset pagination: pages do not shift when rows are added before the cursor.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		query: z.strictObject({
			site: siteParam,
			q: z
				.string()
				.max(128, "at most 128 characters")
				.optional()
				.transform((s) => (s === undefined || s.trim() === "" ? null : s.trim()))
				.describe("part of the customer id, case-insensitive; or, for principals that may see PII, a whole email (any case: emails are stored encrypted and found by a keyed hash)"),
			sort: z.enum(SORTS, { error: `must be one of ${SORTS.join(", ")}` }).default("revenue").describe("descending order of lifetime revenue (default), orders or last order"),
			limit: intParam(1, 200).optional().describe("rows per page, 1–200 (default 50)"),
			cursor: z
				.string()
				.max(400)
				.transform((s, ctx) => {
					const c = decodeCursor(s);
					if (c) return c;
					ctx.addIssue({ code: "custom", message: "must be the next_cursor of a previous page" });
					return z.NEVER;
				})
				.optional()
				.describe("the previous page's next_cursor (with the same sort and q)"),
		}),
	},
	responses: { 200: json(ListSchema, "a page"), ...apiErrors(404) },
});

// ─── profile ─────────────────────────────────────────────────────────────────────────────────────

const ProfileSchema = z
	.object({
		site: z.string(),
		currency: z.string().describe("the site currency (lifetime money); each order, item and refund is in its own currency"),
		customer: z.object({
			id: z.string(),
			created_at: z.number().int().nullable().describe("null when the site sent orders but no customer record"),
			country: z.string().nullable(),
			channel: z.string().nullable().describe("acquisition channel: the record's, else the first order's"),
			is_subscriber: z.boolean().nullable(),
			subscription_status: z.string().nullable(),
			...PiiFields,
		}),
		lifetime: z.object({
			orders: z.number().int().describe("non-cancelled orders"),
			cancelled_orders: z.number().int(),
			revenue: z.number().describe("total − tax of non-cancelled orders"),
			refunded: z.number().describe("refunds of non-cancelled orders"),
			aov: z.number().nullable().describe("revenue ÷ orders"),
			first_order: z.number().int().nullable(),
			last_order: z.number().int().nullable(),
		}),
		orders: z
			.array(
				z.object({
					order_id: z.string(),
					placed_at: z.number().int(),
					paid_at: z.number().int().nullable(),
					shipped_at: z.number().int().nullable(),
					delivered_at: z.number().int().nullable(),
					status: z.string(),
					channel: z.string().nullable(),
					coupon: z.string().nullable(),
					currency: z.string(),
					subtotal: z.number().nullable(),
					discount: z.number(),
					shipping: z.number(),
					tax: z.number(),
					total: z.number(),
					is_subscription: z.boolean(),
					items: z.array(z.object({ sku: z.string(), name: z.string().nullable(), qty: z.number().int(), unit_price: z.number(), line_total: z.number() })),
					refunds: z.array(
						z.object({
							refund_id: z.string(),
							created_at: z.number().int(),
							amount: z.number(),
							currency: z.string(),
							reason: z.string().nullable(),
							sku: z.string().nullable(),
							qty: z.number().int().nullable(),
							is_return: z.boolean(),
						}),
					),
				}),
			)
			.describe(`every status, newest first (the newest ${PROFILE_LIMITS.orders})`),
		events: z
			.array(z.object({ id: z.string(), name: z.string(), ts: z.number().int(), path: z.string(), channel: z.string(), device: z.string() }))
			.describe(`their identified events (customer_id set), newest first (the newest ${PROFILE_LIMITS.events})`),
		tickets: z
			.array(
				z.object({
					ticket_id: z.string(),
					order_id: z.string().nullable(),
					channel: z.string().nullable(),
					category: z.string().nullable(),
					status: z.string(),
					opened_at: z.number().int(),
					first_response_at: z.number().int().nullable(),
					resolved_at: z.number().int().nullable(),
				}),
			)
			.describe(`support tickets with their id or one of their orders, newest first (the newest ${PROFILE_LIMITS.tickets})`),
		surveys: z
			.array(z.object({ response_id: z.string(), kind: z.string(), score: z.number().int(), responded_at: z.number().int(), order_id: z.string().nullable() }))
			.describe(`NPS (0–10) and CSAT (1–5) responses, newest first (the newest ${PROFILE_LIMITS.surveys})`),
		analytics: CustomerAnalyticsSchema.describe("RFM scores, segment history and the CLV model's view, from the nightly runs"),
	})
	.openapi("CustomerProfile");

const profileRoute = createRoute({
	method: "get",
	path: "/customers/{id}",
	operationId: "customerProfile",
	tags: [TAG],
	summary: "Customer profile",
	description: "The customer record, lifetime totals, orders with items and refunds, the events timeline, support tickets and survey responses. 404 when the site has neither a record nor an order of this id.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: {
		params: z.object({ id: z.string().min(1).max(128).describe("the store's customer id") }),
		query: z.strictObject({ site: siteParam }),
	},
	responses: { 200: json(ProfileSchema, "the profile"), ...apiErrors(404) },
});

// ─── journeys ────────────────────────────────────────────────────────────────────────────────────

const JourneysSchema = z
	.object({
		...rangeFields,
		sessions: z.number().int().describe("sessions (30 minutes idle ends one) starting in the range"),
		sessions_with_page_view: z.number().int(),
		converting_sessions: z.number().int().describe("sessions with a purchase"),
		entry_pages: z
			.array(z.object({ path: z.string(), sessions: z.number().int(), share_pct: z.number().nullable().describe("% of sessions with a page view") }))
			.describe("the path of each session's first page_view, most sessions first"),
		conversion_paths: z
			.array(
				z.object({
					path: z.string().describe(`the pages joined with " → "; \`${NO_PAGE_VIEW}\` when none came before the purchase`),
					pages: z.array(z.string()),
					sessions: z.number().int(),
					share_pct: z.number().nullable().describe("% of converting sessions"),
				}),
			)
			.describe(`page_view paths before each converting session's first purchase, consecutive repeats collapsed, the last ${PATH_PAGES} at most`),
	})
	.openapi("Journeys");

const journeysRoute = createRoute({
	method: "get",
	path: "/journeys",
	operationId: "journeys",
	tags: [TAG],
	summary: "Entry pages and conversion paths",
	description:
		"Top entry pages and top conversion paths of the sessions that start on the range's local days (default the last 30, at most 5 × 366). " +
		"Sessions are cut per visitor at 30 minutes idle, as in the `sessions` view and the KPIs; a session's events are read up to 6 h after the end of the local day it starts on (as the KPI rollups). " +
		"Answered from daily rollups when they are current, else from the events, with the same numbers; `X-Computed-From` says which (`rollup`, `rollup+events`: the last stale days from events, `events`).",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.strictObject({ ...rangeQuery, limit: intParam(1, 100).optional().describe("entries per list, 1–100 (default 10)") }) },
	responses: { 200: json(JourneysSchema, "the journeys"), ...apiErrors(404) },
});

const segmentJson = (s: Segment, customers: number, currency: string) => ({ key: s.key, customers: s.customers, share_pct: pct(s.customers, customers), orders: s.orders, revenue: major(s.revenueMinor, currency) });

export const customers = openApiApp<AuthVars>()
	// Before /customers/{id}, which would otherwise take "overview" for an id.
	.openapi(overviewRoute, async (c) => {
		const site = c.var.site;
		const range = localRange(c.req.valid("query"), site);
		const exact = c.req.valid("query").exact === "true";
		const db = c.env.DB;
		let o: Overview;
		let source = "exact";
		if (exact) o = await readOverview(db, site.id, range.start, range.end);
		else {
			// One round trip when every day's device tallies are rolled: the check and the statement that assumes so go in one
			// batch; otherwise the statement again with the fresh prefix of the range rolled and the rest from the events.
			const long = range.end - range.start > LONG_RANGE_DAYS * 86_400_000;
			const check = rolledPrefixCheck(db, site, range.from, range.to);
			const [rolledRes, dirtyRes, ovRes] = await db.batch([...check.statements, overviewStatement(db, site.id, range.start, range.end, long, { from: range.from, to: range.to, end: range.end })]);
			const rolledTo = check.rolledTo(rolledRes, dirtyRes);
			if (rolledTo === range.to) {
				o = overviewFromRows(((ovRes?.results ?? []) as Record<string, unknown>[]).map((r) => Object.values(r) as [number, string, number, number, number, number]));
				source = "rollup";
			} else {
				o = await queryOverview(db, site.id, range.start, range.end, long, rolledTo ? { from: range.from, to: rolledTo, end: dayBounds(rolledTo, site.timezone)[1] } : null);
				source = rolledTo ? "rollup+events" : "events";
			}
		}
		const seg = (list: Segment[]) => list.map((s) => segmentJson(s, o.customers, site.currency));
		return c.json(
			{
				site: site.id,
				currency: site.currency,
				timezone: site.timezone,
				from: range.from,
				to: range.to,
				range_from: range.start,
				range_before: range.end,
				totals: {
					customers: o.customers,
					orders: o.orders,
					revenue: major(o.revenueMinor, site.currency),
					new_customers: o.newCustomers,
					returning_customers: o.returningCustomers,
					new_pct: pct(o.newCustomers, o.customers),
				},
				by_country: seg(o.byCountry),
				by_channel: seg(o.byChannel),
				by_device: seg(o.byDevice),
				purchase_frequency: seg(o.frequency),
			},
			200,
			{ "Cache-Control": "private, max-age=60", "X-Computed-From": source },
		);
	})
	.openapi(listRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		if (q.cursor && q.cursor.sort !== q.sort) throw new ApiError(400, "invalid_request", "the cursor belongs to another sort", [{ field: "cursor", message: `was made for sort=${q.cursor.sort}` }]);
		const pii = canSeePii(c.var.principal) ? await piiKeyring(c.env) : null;
		const page = await listCustomers(c.env.DB, site.id, { sort: q.sort, q: q.q, pii, limit: q.limit ?? 50, after: q.cursor ?? null });
		return c.json(
			{
				site: site.id,
				currency: site.currency,
				sort: q.sort,
				customers: page.rows.map((r) => ({
					id: r.id,
					country: r.country,
					channel: r.channel,
					created_at: r.createdAt,
					first_order: r.firstOrder,
					last_order: r.lastOrder,
					orders: r.orders,
					revenue: major(r.revenueMinor, site.currency),
					...(pii ? { email: r.email, name: r.name } : {}),
				})),
				next_cursor: page.next ? encodeCursor(page.next) : null,
			},
			200,
			{ "Cache-Control": "private, no-store" },
		);
	})
	.openapi(profileRoute, async (c) => {
		const { id } = c.req.valid("param");
		const site = c.var.site;
		const pii = canSeePii(c.var.principal) ? await piiKeyring(c.env) : null;
		const [p, analytics] = await Promise.all([readProfile(c.env.DB, site.id, id, pii), customerAnalytics(c.env.DB, site, id, !(c.var.principal.kind === "user" && c.var.principal.role === "operations"))]);
		if (!p) throw new ApiError(404, "not_found", `no customer '${id}' (neither a customer record nor an order)`, [{ field: "id", message: "unknown customer" }]);
		const cur = site.currency;
		return c.json(
			{
				site: site.id,
				currency: cur,
				customer: {
					id,
					created_at: p.record?.createdAt ?? null,
					country: p.record?.country ?? null,
					channel: p.record?.channel ?? p.lifetime.firstOrderChannel,
					is_subscriber: p.record ? p.record.isSubscriber : null,
					subscription_status: p.record?.subscriptionStatus ?? null,
					...(p.pii ? { email: p.pii.email, name: p.pii.name } : {}),
				},
				lifetime: {
					orders: p.lifetime.orders,
					cancelled_orders: p.lifetime.cancelledOrders,
					revenue: major(p.lifetime.revenueMinor, cur),
					refunded: major(p.lifetime.refundedMinor, cur),
					aov: meanMajor(p.lifetime.revenueMinor, p.lifetime.orders, cur),
					first_order: p.lifetime.firstOrder,
					last_order: p.lifetime.lastOrder,
				},
				orders: p.orders.map((o) => ({
					order_id: o.orderId,
					placed_at: o.placedAt,
					paid_at: o.paidAt,
					shipped_at: o.shippedAt,
					delivered_at: o.deliveredAt,
					status: o.status,
					channel: o.channel,
					coupon: o.coupon,
					currency: o.currency,
					subtotal: o.subtotalMinor === null ? null : major(o.subtotalMinor, o.currency),
					discount: major(o.discountMinor, o.currency),
					shipping: major(o.shippingMinor, o.currency),
					tax: major(o.taxMinor, o.currency),
					total: major(o.totalMinor, o.currency),
					is_subscription: o.isSubscription,
					items: o.items.map((i) => ({ sku: i.sku, name: i.name, qty: i.qty, unit_price: major(i.unitPriceMinor, o.currency), line_total: major(i.qty * i.unitPriceMinor, o.currency) })),
					refunds: o.refunds.map((r) => ({
						refund_id: r.refundId,
						created_at: r.createdAt,
						amount: major(r.amountMinor, r.currency),
						currency: r.currency,
						reason: r.reason,
						sku: r.sku,
						qty: r.qty,
						is_return: r.isReturn,
					})),
				})),
				events: p.events,
				tickets: p.tickets.map((t) => ({
					ticket_id: t.ticketId,
					order_id: t.orderId,
					channel: t.channel,
					category: t.category,
					status: t.status,
					opened_at: t.openedAt,
					first_response_at: t.firstResponseAt,
					resolved_at: t.resolvedAt,
				})),
				surveys: p.surveys.map((s) => ({ response_id: s.responseId, kind: s.kind, score: s.score, responded_at: s.respondedAt, order_id: s.orderId })),
				analytics,
			},
			200,
			{ "Cache-Control": "private, no-store" },
		);
	})
	.openapi(journeysRoute, async (c) => {
		const q = c.req.valid("query");
		const site = c.var.site;
		const range = localRange(q, site);
		const limit = q.limit ?? 10;
		const fast = q.exact === "true" ? null : await journeysReport(c.env.DB, site, range.from, range.to, limit);
		const j = fast?.report ?? (await readJourneysExact(c.env.DB, site, range.from, range.to, limit));
		// Rollup behind for this range (an import, a new site): roll its newest stale days after answering, bounded, so
		// the next request is fast; cron does the rest and clears the changed hours.
		if (fast?.source === "events" && fast.stale.length) {
			const roll = rollStaleJourneyDays(c.env.DB, site, fast.stale).catch((err) => console.error(`journey roll of ${site.id} failed; cron retries`, err instanceof Error ? err.message : err));
			try {
				c.executionCtx.waitUntil(roll);
			} catch {
				// Called in-process without an execution context (GraphQL over the routes): the promise runs on its own.
			}
		}
		return c.json(
			{
				site: site.id,
				timezone: site.timezone,
				from: range.from,
				to: range.to,
				range_from: range.start,
				range_before: range.end,
				sessions: j.sessions,
				sessions_with_page_view: j.sessionsWithPageView,
				converting_sessions: j.convertingSessions,
				entry_pages: j.entryPages.map((e) => ({ path: e.path, sessions: e.sessions, share_pct: e.sharePct })),
				conversion_paths: j.conversionPaths.map((p) => ({ path: p.path, pages: p.pages, sessions: p.sessions, share_pct: p.sharePct })),
			},
			200,
			{ "Cache-Control": "private, max-age=60", "X-Computed-From": fast?.source ?? "events" },
		);
	});
