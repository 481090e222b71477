/** GET /api/v1/realtime?site= — the live counter of one site. */
import { Hono } from "hono";
import { requireParam, SITE_ID } from "../lib/http";
import { requireSite } from "../lib/sites";

export const realtime = new Hono<{ Bindings: Env }>();

realtime.get("/realtime", async (c) => {
	const site = await requireSite(c.env.DB, requireParam(c.req.query("site"), "site", SITE_ID));
	const snapshot = await c.env.LIVE.get(c.env.LIVE.idFromName(site.id)).snapshot(Date.now());
	return c.json({ site: site.id, ...snapshot }, 200, { "Cache-Control": "no-store" });
});
