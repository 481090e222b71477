/** GET /api/v1/realtime — the live counter of one site (read scope). */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { apiErrors, json, openApiApp, secured, siteQuery } from "../lib/openapi";

const realtimeRoute = createRoute({
	method: "get",
	path: "/realtime",
	operationId: "realtime",
	tags: ["Real time"],
	summary: "Live counter",
	description: "Events and distinct visitors per minute for the last 60 minutes, visitors in the last 5 minutes and the last hour.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: siteQuery },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				now: z.number().int().describe("epoch ms"),
				visitorsNow: z.number().int().describe("distinct visitors in the last 5 minutes"),
				visitors60m: z.number().int(),
				events60m: z.number().int(),
				minutes: z.array(z.object({ minute: z.number().int().describe("start of the minute, epoch ms"), events: z.number().int(), visitors: z.number().int() })).describe("60 points, oldest first; the last is the current minute"),
			}),
			"the live counter (Cache-Control: no-store)",
		),
		...apiErrors(404),
	},
});

export const realtime = openApiApp<AuthVars>().openapi(realtimeRoute, async (c) => {
	const site = c.var.site;
	const snapshot = await c.env.LIVE.get(c.env.LIVE.idFromName(site.id)).snapshot(Date.now());
	return c.json({ site: site.id, ...snapshot }, 200, { "Cache-Control": "no-store" });
});
