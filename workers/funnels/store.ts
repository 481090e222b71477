/** Reading a site's funnel set from D1: its saved set in order, else the default funnel. */
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { funnels as funnelsTable } from "../db/funnels";
import { DEFAULT_FUNNEL, type FunnelDef } from "./match";

const storedSteps = z.array(z.object({ event: z.string(), label: z.string().optional() }));

/** The site's saved set in PUT order with its last change (epoch ms), or null when it has none. */
export async function savedFunnels(db: D1Database, site: string): Promise<{ funnels: FunnelDef[]; updatedAt: number } | null> {
	const rows = await drizzle(db).select().from(funnelsTable).where(eq(funnelsTable.site, site)).orderBy(asc(funnelsTable.position), asc(funnelsTable.id)).all();
	if (!rows.length) return null;
	return {
		funnels: rows.map((r) => ({ id: r.id, name: r.name, steps: storedSteps.parse(JSON.parse(r.steps)), windowSeconds: r.windowSeconds })),
		updatedAt: Math.max(...rows.map((r) => r.updatedAt)),
	};
}

/** The site's funnels as definitions (the saved set, else `[DEFAULT_FUNNEL]`). */
export async function siteFunnels(db: D1Database, site: string): Promise<FunnelDef[]> {
	return (await savedFunnels(db, site))?.funnels ?? [DEFAULT_FUNNEL];
}

/** The site's saved set as raw SQL (same order as savedFunnels), for a D1 batch that reads it with other statements. */
export const SAVED_FUNNELS_SQL = "SELECT id, name, steps, window_seconds AS windowSeconds, updated_at AS updatedAt FROM funnels WHERE site = ?1 ORDER BY position, id";

/** savedFunnels from the rows of SAVED_FUNNELS_SQL. */
export function savedFromRows(rows: readonly { id: string; name: string; steps: string; windowSeconds: number; updatedAt: number }[]): { funnels: FunnelDef[]; updatedAt: number } | null {
	if (!rows.length) return null;
	return {
		funnels: rows.map((r) => ({ id: r.id, name: r.name, steps: storedSteps.parse(JSON.parse(r.steps)), windowSeconds: r.windowSeconds })),
		updatedAt: Math.max(...rows.map((r) => r.updatedAt)),
	};
}
