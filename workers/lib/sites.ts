/** Site lookup with a short per-isolate cache: the ingest hot path must not hit D1 on every request. */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { sites } from "../db/schema";
import { ApiError } from "./http";

export interface Site {
	id: string;
	name: string;
	/** Allowed browser origins; empty means any origin may send. */
	origins: string[];
	timezone: string;
	currency: string;
	/** LiveSite shard objects the site's events spread over (workers/realtime/shards.ts). */
	liveShards: number;
}

const CACHE_MS = 60_000;
/** Misses are cached briefly, so a newly created site is usable within seconds. */
const MISS_CACHE_MS = 5_000;
const cache = new Map<string, { site: Site | null; until: number }>();
const originsSchema = z.array(z.string());

/** Returns the site or null; cached per isolate for a minute (misses for 5 s). */
export async function findSite(db: D1Database, id: string, now = Date.now()): Promise<Site | null> {
	const hit = cache.get(id);
	if (hit && hit.until > now) return hit.site;
	const row = await drizzle(db).select().from(sites).where(eq(sites.id, id)).get();
	const site: Site | null = row
		? { id: row.id, name: row.name, origins: originsSchema.parse(JSON.parse(row.origins)), timezone: row.timezone, currency: row.currency, liveShards: row.liveShards }
		: null;
	cache.set(id, { site, until: now + (site ? CACHE_MS : MISS_CACHE_MS) });
	return site;
}

/** Like findSite, but an unknown site is a 404 naming the field. */
export async function requireSite(db: D1Database, id: string): Promise<Site> {
	const site = await findSite(db, id);
	if (!site) throw new ApiError(404, "unknown_site", `site '${id}' does not exist`, [{ field: "site", message: "unknown site" }]);
	return site;
}


/** Drops this isolate's cached entry after a site is created or changed here (other isolates catch up within a minute). */
export function forgetSite(id: string): void {
	cache.delete(id);
}
