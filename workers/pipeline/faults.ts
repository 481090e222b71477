/**
 * Fault injection for the soak benchmark (bench/soak), off unless its vars are set — they are never in
 * wrangler.toml; the benchmark passes them to `wrangler dev --var`:
 *  - FAULT_D1_WRITE_RATE (0–1): the share of the queue consumer's D1 event writes that fail. Half of
 *    the failures refuse the write (nothing commits), half commit it and then fail (the answer is
 *    lost), so retries meet both an empty and an already-written D1;
 *  - FAULT_INJECTION = "1": enables `POST /__dev/faults/live-restart?site=<id>`, which makes every
 *    LiveSite object of the site abort (its next call starts a fresh instance from storage).
 */
import type { Context } from "hono";
import { findSite } from "../lib/sites";
import { liveConfig, shardStub } from "../realtime/shards";

declare global {
	interface Env {
		FAULT_D1_WRITE_RATE?: string;
		FAULT_INJECTION?: string;
	}
}

export class InjectedFault extends Error {}

/** Whether this D1 write should fail, and how: "refuse" before it, "lose" after it committed; null without faults. */
export function d1WriteFault(env: Env, random: () => number = Math.random): "refuse" | "lose" | null {
	const rate = Number(env.FAULT_D1_WRITE_RATE);
	if (env.FAULT_D1_WRITE_RATE === undefined || !Number.isFinite(rate) || rate <= 0) return null;
	const r = random();
	if (r >= Math.min(1, rate)) return null;
	return r < rate / 2 ? "refuse" : "lose";
}

/** `POST /__dev/faults/live-restart?site=`: aborts each LiveSite object of the site (404 unless FAULT_INJECTION=1). */
export async function liveRestart(c: Context<{ Bindings: Env }>): Promise<Response> {
	if (c.env.FAULT_INJECTION !== "1") return c.json({ error: "not_found", message: "fault injection is off" }, 404);
	const siteId = c.req.query("site") ?? "";
	const site = await findSite(c.env.DB, siteId);
	if (!site) return c.json({ error: "unknown_site", message: `site '${siteId}' does not exist`, issues: [{ field: "site", message: "unknown site" }] }, 404);
	const shards = liveConfig(site).shards;
	const restarted = await Promise.all(
		Array.from({ length: shards }, async (_, k) => {
			try {
				await shardStub(c.env, site.id, k).restart();
			} catch {
				// The abort surfaces to the caller as an error: that is the restart happening.
			}
			return k;
		}),
	);
	return c.json({ site: site.id, restarted: restarted.length }, 200);
}
