/**
 * `GET /api/v1/realtime` (the live snapshot) and `GET /api/v1/live` (the same, pushed over a WebSocket
 * held by the site's LiveSite object), both read scope: a dashboard session cookie or a read key.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ApiError } from "../lib/http";
import { apiErrors, json, openApiApp, secured, siteQuery } from "../lib/openapi";
import { liveConfig, primaryStub } from "./shards";

const int = () => z.number().int();
const WindowSchema = z.object({
	visitors: int().describe("distinct visitors (HyperLogLog estimate, ±1.6 %)"),
	pageViews: int(),
	events: int(),
	orders: int().describe("purchase events"),
	revenue: int().describe("purchase value in the site currency, minor units"),
	otherCurrencyOrders: int().describe("purchases in another currency (in orders, not in revenue)"),
	byType: z.record(z.string(), int()).describe("events by name"),
});
const TopPage = z.object({ path: z.string(), views: int() });
const TopProduct = z.object({ sku: z.string(), views: int(), carts: int(), units: int().describe("units purchased") });

export const LiveSnapshotSchema = z
	.object({
		site: z.string(),
		timezone: z.string(),
		currency: z.string(),
		shards: int().describe("LiveSite objects merged into this view"),
		now: int().describe("epoch ms"),
		day: z.string().describe("the site's local day that `today` covers"),
		windows: z
			.object({ m1: WindowSchema, m5: WindowSchema, m60: WindowSchema, today: WindowSchema })
			.describe("m1 = the current minute, m5 / m60 = the current minute and the 4 / 59 before it (by receive time), today = since local midnight"),
		minutes: z
			.array(z.object({ minute: int().describe("start of the minute, epoch ms"), events: int(), pageViews: int(), visitors: int(), orders: int(), revenue: int() }))
			.describe("60 points, oldest first; the last is the current minute"),
		topPages: z.object({ m5: z.array(TopPage), m60: z.array(TopPage) }).describe("page views by path, top 10"),
		topProducts: z.object({ m5: z.array(TopProduct), m60: z.array(TopProduct) }).describe("products by units bought, then carts, then views, top 10"),
		funnels: z
			.array(z.object({ id: z.string(), name: z.string(), steps: z.array(z.object({ event: z.string(), label: z.string(), users: int(), conversionPct: z.number().nullable() })) }))
			.describe("people per step today (GET /api/v1/funnels/{id}/report for history, medians and breakdowns)"),
		salesToday: z
			.object({ orders: int(), revenue: int().describe("total − tax, site currency, minor units"), refreshedAt: int() })
			.describe("orders placed today (local day) as reported through the commerce APIs: every channel, non-cancelled, at most 30 s old"),
		fulfilment: z.object({ pending: int().describe("orders placed or paid, not shipped"), oldestPlacedAt: int().nullable(), refreshedAt: int() }).describe("from commerce data, at most 30 s old"),
		lowStock: z
			.object({ count: int(), items: z.array(z.object({ sku: z.string(), stock: int(), reorderPoint: int() })).describe("up to 20, lowest stock/reorder ratio first"), refreshedAt: int() })
			.describe("SKUs whose latest stock is below the reorder point, at most 30 s old"),
		visitorsNow: int().describe("distinct visitors in the last 5 minutes (= windows.m5.visitors)"),
		visitors60m: int(),
		events60m: int(),
	})
	.openapi("LiveSnapshot");

const realtimeRoute = createRoute({
	method: "get",
	path: "/realtime",
	operationId: "realtime",
	tags: ["Real time"],
	summary: "Live snapshot",
	description:
		"Active visitors, page views, events by type, orders and revenue for the current minute, the last 5 and 60 minutes and today; " +
		"60 per-minute points; top pages and products; live funnels; orders pending fulfilment and SKUs below their reorder point.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: { 200: json(LiveSnapshotSchema, "the live snapshot (Cache-Control: no-store)"), ...apiErrors(404) },
});

const liveRoute = createRoute({
	method: "get",
	path: "/live",
	operationId: "live",
	tags: ["Real time"],
	summary: "Live push (WebSocket)",
	description:
		"Upgrade to a WebSocket (send `Upgrade: websocket`). The server sends `{type: \"snapshot\", data: LiveSnapshot}` at once, then " +
		"`{type: \"delta\", data}` at most once a second, where `data` holds `now` and every top-level snapshot field that changed, whole " +
		"(apply by replacing those fields). Send `{\"type\":\"snapshot\"}` to get a full snapshot again; the text `ping` is answered `pong`. " +
		"Authenticated like every /api/v1 route: the dashboard session cookie or `Authorization: Bearer` with a read key. " +
		"With the cookie, the upgrade must come from the dashboard's own origin (`Origin`); another is refused with 403 `cross_origin`.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: {
		101: { description: "switching protocols: the WebSocket" },
		...apiErrors(404, 426),
	},
});

export const realtime = openApiApp<AuthVars>()
	.openapi(realtimeRoute, async (c) => {
		const site = c.var.site;
		const snapshot = await primaryStub(c.env, site.id).snapshot(liveConfig(site), Date.now());
		return c.json(snapshot, 200, { "Cache-Control": "no-store" });
	})
	.openapi(liveRoute, async (c) => {
		if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
			throw new ApiError(426, "upgrade_required", "GET /api/v1/live is a WebSocket: send Upgrade: websocket (GET /api/v1/realtime answers the same snapshot once)", [
				{ field: "Upgrade", message: "must be websocket" },
			]);
		}
		const site = c.var.site;
		const headers = new Headers({ Upgrade: "websocket", "X-B2G-Live-Config": JSON.stringify({ ...liveConfig(site), shard: 0 }) });
		// The object holds the socket (Hibernation API); this Worker only authenticated the request.
		return primaryStub(c.env, site.id).fetch("https://live/socket", { headers });
	});
