/** GET /api/v1/realtime — the live counter of one site (read scope). */
import { Hono } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";

export const realtime = new Hono<{ Bindings: Env; Variables: AuthVars }>();

realtime.get("/realtime", requireKey("read"), async (c) => {
	const site = c.var.site;
	const snapshot = await c.env.LIVE.get(c.env.LIVE.idFromName(site.id)).snapshot(Date.now());
	return c.json({ site: site.id, ...snapshot }, 200, { "Cache-Control": "no-store" });
});
