/**
 * Report subscriptions API (issue 13, item 4): `GET/POST /api/v1/reports/subscriptions`,
 * `GET/PUT/DELETE /api/v1/reports/subscriptions/{id}`, and `GET …/{id}/sends` (the send history: status,
 * attempts, last error — how the Reports page shows a failed delivery).
 *
 * For the admin and executive roles only (they receive the strategic reports); API keys need the admin
 * scope. Rules and defaults: workers/reports/subscriptions.ts; when a send is due: schedule.ts; the
 * cron and delivery: deliver.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { requireKey, type AuthVars } from "../auth/middleware";
import { SEND_STATUSES } from "../db/report-subscriptions";
import { readJson } from "../lib/body";
import { ApiError } from "../lib/http";
import { apiErrors, intParam, json, jsonBody, openApiApp, secured, siteParam, siteQuery } from "../lib/openapi";
import {
	createSubscriptionSchema,
	deleteSubscription,
	getSubscription,
	insertSubscription,
	listSends,
	listSubscriptions,
	resolveSubscription,
	sendView,
	SendView,
	subscriptionView,
	SubscriptionView,
	updateSubscription,
	updateSubscriptionSchema,
	type Subscription,
} from "./subscriptions";

const TAG = "Reports";
const ID = /^rs_[0-9a-f]{12}$/;

/** The admin and executive roles, or a key with the admin scope (a read key cannot tell which role it stands for). */
function requireReportManager() {
	return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
		const p = c.var.principal;
		if (p.kind === "user" && p.role !== "admin" && p.role !== "executive")
			throw new ApiError(403, "forbidden", `report subscriptions are managed by the admin and executive roles, not ${p.role}`, [{ field: "role", message: "needs admin or executive" }]);
		if (p.kind === "key" && !p.scopes.includes("admin")) throw new ApiError(403, "forbidden", "report subscriptions need a key with the admin scope", [{ field: "Authorization", message: "needs scope admin" }]);
		await next();
	});
}

const ACCESS = "Admin and executive roles; API keys need the admin scope.";
const guard = () => [requireKey("read"), requireReportManager()];
const idParam = z.object({ id: z.string().regex(ID).describe("the subscription id, rs_…") });

const notFound = (id: string) => new ApiError(404, "not_found", `no report subscription '${id}'`, [{ field: "id", message: "unknown subscription" }]);

/** 400 naming `sku` when a product report names a SKU the site's catalogue does not have. */
async function requireProduct(db: D1Database, site: string, sku: string | null): Promise<void> {
	if (sku === null) return;
	const found = await db.prepare("SELECT 1 AS x FROM products WHERE site = ?1 AND sku = ?2").bind(site, sku).first();
	if (!found) throw new ApiError(400, "invalid_request", "the request body is invalid", [{ field: "sku", message: `no product '${sku}' in this site's catalogue` }]);
}

/** The latest send of each of a site's subscriptions (for the list). */
async function lastSends(db: D1Database, ids: string[]): Promise<Map<string, Awaited<ReturnType<typeof listSends>>[number]>> {
	const out = new Map<string, Awaited<ReturnType<typeof listSends>>[number]>();
	for (const id of ids) {
		const [last] = await listSends(db, id, { limit: 1 });
		if (last) out.set(id, last);
	}
	return out;
}

function principalId(c: { var: AuthVars }): string {
	const p = c.var.principal;
	return p.kind === "user" ? `user:${p.id}` : `key:${p.id}`;
}

const listRoute = createRoute({
	method: "get",
	path: "/reports/subscriptions",
	operationId: "listReportSubscriptions",
	tags: [TAG],
	summary: "Report subscriptions",
	description: `The site's scheduled reports, each with its next send and the latest period claimed. Secrets are shown as hints. ${ACCESS}`,
	security: secured("read"),
	middleware: guard(),
	request: { query: siteQuery },
	responses: { 200: json(z.object({ site: z.string(), subscriptions: z.array(SubscriptionView) }), "the subscriptions"), ...apiErrors(404) },
});

const getRoute = createRoute({
	method: "get",
	path: "/reports/subscriptions/{id}",
	operationId: "getReportSubscription",
	tags: [TAG],
	summary: "One report subscription",
	description: ACCESS,
	security: secured("read"),
	middleware: guard(),
	request: { query: siteQuery, params: idParam },
	responses: { 200: json(SubscriptionView, "the subscription"), ...apiErrors(404) },
});

const createRouteDef = createRoute({
	method: "post",
	path: "/reports/subscriptions",
	operationId: "createReportSubscription",
	tags: [TAG],
	summary: "Subscribe to a report",
	description:
		"Sends a report at a local time: `daily` every day, `weekly` on `weekday` (1 = Monday), `monthly` on `day_of_month`, at `send_time` in `timezone` (default the site's). " +
		"Each send covers the latest complete period in the site's time zone: the day, ISO week or month before. Kinds and cadences: daily → daily; executive → weekly or monthly; " +
		"financial → monthly; product (with `sku`) → any. Channels: `email` (`recipients`: an HTML email with a CSV attachment per table), `slack` (`url`: an incoming webhook; a summary " +
		"and a link to the archived report), `webhook` (`url`, `secret`: a POST of `{id, type: \"report.ready\", site, subscription_id, kind, subject, period, report_key, link, report}` " +
		"signed as alert webhooks: `X-B2G-Signature: sha256=<hex HMAC-SHA256(secret, \"<X-B2G-Timestamp>.<raw body>\")>`, `X-B2G-Delivery: <subscription id>:<period>`). " +
		"Each period is sent once; a failed send is retried with backoff and ends `dead` after ALERT_DELIVERY_MAX_ATTEMPTS (GET …/{id}/sends). " +
		`A send time that passed before the subscription existed is not sent. 400 names each invalid field. ${ACCESS}`,
	security: secured("read"),
	middleware: [...guard(), readJson(100_000)],
	request: { query: siteQuery, body: jsonBody(createSubscriptionSchema, "the subscription") },
	responses: { 201: json(SubscriptionView, "created"), ...apiErrors(404, 413, 415) },
});

const updateRoute = createRoute({
	method: "put",
	path: "/reports/subscriptions/{id}",
	operationId: "updateReportSubscription",
	tags: [TAG],
	summary: "Change a report subscription",
	description:
		"Changes the fields given; the others keep their values (the webhook secret and Slack URL too, while the channel stays the same). " +
		`Enabling a disabled subscription starts it afresh: periods due while it was off are not sent. ${ACCESS}`,
	security: secured("read"),
	middleware: [...guard(), readJson(100_000)],
	request: { query: siteQuery, params: idParam, body: jsonBody(updateSubscriptionSchema, "the fields to change") },
	responses: { 200: json(SubscriptionView, "the subscription as changed"), ...apiErrors(404, 413, 415) },
});

const deleteRoute = createRoute({
	method: "delete",
	path: "/reports/subscriptions/{id}",
	operationId: "deleteReportSubscription",
	tags: [TAG],
	summary: "Delete a report subscription",
	description: `Deletes it and its send history; archived reports stay. ${ACCESS}`,
	security: secured("read"),
	middleware: guard(),
	request: { query: siteQuery, params: idParam },
	responses: { 200: json(z.object({ id: z.string(), deleted: z.boolean() }), "deleted"), ...apiErrors(404) },
});

const sendsRoute = createRoute({
	method: "get",
	path: "/reports/subscriptions/{id}/sends",
	operationId: "reportSubscriptionSends",
	tags: [TAG],
	summary: "A subscription's sends",
	description: `One row per period claimed, newest first: status (pending, failed — retrying, sent, dead — every attempt failed, cancelled), attempts, the last error. ${ACCESS}`,
	security: secured("read"),
	middleware: guard(),
	request: {
		query: z.strictObject({
			site: siteParam,
			status: z.enum(SEND_STATUSES, { error: `must be one of ${SEND_STATUSES.join(", ")}` }).optional(),
			limit: intParam(1, 500).optional().describe("at most this many (default 100)"),
		}),
		params: idParam,
	},
	responses: { 200: json(z.object({ site: z.string(), subscription_id: z.string(), sends: z.array(SendView) }), "the sends"), ...apiErrors(404) },
});

function newId(): string {
	return `rs_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

async function view(db: D1Database, s: Subscription, siteTimezone: string, now: number) {
	const [last] = await listSends(db, s.id, { limit: 1 });
	return subscriptionView(s, siteTimezone, last ?? null, now);
}

export const reportSubscriptionRoutes = openApiApp<AuthVars>()
	.openapi(listRoute, async (c) => {
		const site = c.var.site;
		const now = Date.now();
		const subs = await listSubscriptions(c.env.DB, site.id);
		const last = await lastSends(
			c.env.DB,
			subs.map((s) => s.id),
		);
		return c.json({ site: site.id, subscriptions: subs.map((s) => subscriptionView(s, site.timezone, last.get(s.id) ?? null, now)) }, 200);
	})
	.openapi(getRoute, async (c) => {
		const { id } = c.req.valid("param");
		const site = c.var.site;
		const sub = await getSubscription(c.env.DB, site.id, id);
		if (!sub) throw notFound(id);
		return c.json(await view(c.env.DB, sub, site.timezone, Date.now()), 200);
	})
	.openapi(createRouteDef, async (c) => {
		const input = c.req.valid("json");
		const site = c.var.site;
		const now = Date.now();
		const sub = resolveSubscription(input, null, { id: newId(), site: site.id, siteTimezone: site.timezone, by: principalId(c), now });
		await requireProduct(c.env.DB, site.id, sub.sku);
		await insertSubscription(c.env.DB, sub);
		return c.json(subscriptionView(sub, site.timezone, null, now), 201);
	})
	.openapi(updateRoute, async (c) => {
		const { id } = c.req.valid("param");
		const input = c.req.valid("json");
		const site = c.var.site;
		const before = await getSubscription(c.env.DB, site.id, id);
		if (!before) throw notFound(id);
		const now = Date.now();
		const sub = resolveSubscription(input, before, { id, site: site.id, siteTimezone: site.timezone, by: principalId(c), now });
		if (sub.sku !== before.sku) await requireProduct(c.env.DB, site.id, sub.sku);
		await updateSubscription(c.env.DB, sub);
		return c.json(await view(c.env.DB, sub, site.timezone, now), 200);
	})
	.openapi(deleteRoute, async (c) => {
		const { id } = c.req.valid("param");
		if (!(await deleteSubscription(c.env.DB, c.var.site.id, id))) throw notFound(id);
		return c.json({ id, deleted: true }, 200);
	})
	.openapi(sendsRoute, async (c) => {
		const { id } = c.req.valid("param");
		const q = c.req.valid("query");
		const site = c.var.site;
		if (!(await getSubscription(c.env.DB, site.id, id))) throw notFound(id);
		const rows = await listSends(c.env.DB, id, { limit: q.limit ?? 100, ...(q.status ? { status: q.status } : {}) });
		return c.json({ site: site.id, subscription_id: id, sends: rows.map(sendView) }, 200);
	});
