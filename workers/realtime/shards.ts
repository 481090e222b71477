/**
 * Sharding of a site's real-time engine. One LiveSite object per site serves most stores; a site whose
 * traffic exceeds what one object sustains sets `live_shards` N > 1 and its events spread over N
 * objects by a hash of the visitor:
 *  - shard 0 keeps the name `<site>` (so a single-object site is shard 0 of 1), shard k is `<site>#k`;
 *  - a visitor always lands on the same shard, so shards partition visitors: distinct-visitor counts
 *    add up, and a resent event meets its own id in the same shard's dedupe memory;
 *  - shard 0 is the read side: snapshots and WebSocket subscribers go to it, and it merges the other
 *    shards' partial views (snapshot.ts mergePartials) on each read or push.
 * Changing N moves visitors between shards: an event resent across the change may count twice live
 * (never in D1, whose primary key dedupes).
 */
import type { Ledger, LiveSite } from "./live-site";
import { murmur3 } from "./hll";
import type { LiveSiteConfig } from "./snapshot";

const utf8 = new TextEncoder();

/** Object name of shard `k` of a site. */
export function shardName(site: string, k: number): string {
	return k === 0 ? site : `${site}#${k}`;
}

/** The shard (0..n-1) a visitor belongs to. */
export function shardOf(visitor: string, n: number): number {
	return n <= 1 ? 0 : murmur3(utf8.encode(visitor), 0x5eed) % n;
}

export function shardStub(env: Env, site: string, k: number): DurableObjectStub<LiveSite> {
	return env.LIVE.get(env.LIVE.idFromName(shardName(site, k)));
}

/** Shard 0: the site's ledger for rejected/bot/imported counts, snapshots and WebSocket subscribers. */
export function primaryStub(env: Env, site: string): DurableObjectStub<LiveSite> {
	return shardStub(env, site, 0);
}

/** What LiveSite needs to know of a site row. */
export function liveConfig(site: { id: string; timezone: string; currency: string; liveShards: number }): LiveSiteConfig {
	return { id: site.id, timezone: site.timezone, currency: site.currency, shards: Math.max(1, site.liveShards) };
}

/** Splits items by the shard of their visitor. */
export function partitionByShard<T>(items: T[], visitor: (t: T) => string, n: number): Map<number, T[]> {
	const out = new Map<number, T[]>();
	for (const item of items) {
		const k = shardOf(visitor(item), n);
		const list = out.get(k);
		if (list) list.push(item);
		else out.set(k, [item]);
	}
	return out;
}

/** A UTC day's ledger summed over a site's shards. */
export async function siteLedger(env: Env, site: string, shards: number, day: string): Promise<Ledger> {
	const parts = await Promise.all(Array.from({ length: Math.max(1, shards) }, (_, k) => shardStub(env, site, k).ledger(day)));
	return parts.reduce((a, b) => ({ accepted: a.accepted + b.accepted, rejected: a.rejected + b.rejected, bot: a.bot + b.bot, imported: a.imported + b.imported }));
}
