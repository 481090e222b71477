/**
 * Abuse limits and trust on POST /e.
 *
 * - **Browsers and anonymous senders** (no Authorization header): per site and per client address, in
 *   events (a batch costs its size): `INGEST_IP_LIMIT` events per address and site, `INGEST_SITE_LIMIT`
 *   events per site, both per `INGEST_PERIOD_SECONDS`. The UA bot check applies to all their events,
 *   `visitor_id` or not.
 * - **Server-side senders** present an API key with the `ingest` scope (admin implies it), bound to the
 *   site or account-wide: `Authorization: Bearer b2g_…`. Their events are trusted (the UA bot check is
 *   skipped; the tracker's own automation flag `b: 1` still marks a batch as bots) and they have their own
 *   budget, `INGEST_KEY_LIMIT` events per key and site, not shared with the site's browser traffic.
 *   A key that is unknown or revoked is a 401 (and a failed authentication of the address), one without
 *   the scope or bound to another site a 403.
 *
 * The buckets live in the site's LiveSite objects (a `buckets` table read through workers/auth/rate-limit.ts
 * BucketCache, written once per commit group), in the shard chosen by the address hash or key id among the site's `live_shards`, and
 * are taken in the same call that records the batch (LiveSite.accept, or countLimited for an invalid or
 * bot batch): a request costs one Durable Object call, not a limiter call and then a recording call
 * (issue 15: the separate RateLimiter round trip was about a tenth of the isolate's CPU time under load). A sharded site
 * whose batch lands on other shards takes the limits first (LiveSite.takeLimits). With several shards
 * each holds 1/shards of the site budget (the split is by address, so it is approximate). Addresses are
 * only ever named by their salted hash. Without an address hash (no salt: D1 down) the events are let
 * through and the failure logged: ingest stays up.
 */
import { countAuthFailure, addressHash, limitFromVars, refuseBlockedAddress, retryAfterSeconds, type BucketSpec, type BucketTake, type RateLimitConfig } from "../auth/rate-limit";
import { findKey, hasScope } from "../auth/keys";
import { ApiError } from "../lib/http";
import type { Site } from "../lib/sites";

/** Events per client address and site. One full batch (1,000 events) always fits a full bucket. */
export const DEFAULT_INGEST_IP_LIMIT = 1000;
/** Events per site from browsers and other senders without a key (1,000 events/s sustained). */
export const DEFAULT_INGEST_SITE_LIMIT = 60_000;
/** Events per ingest key and site. */
export const DEFAULT_INGEST_KEY_LIMIT = 120_000;
const DEFAULT_PERIOD_MS = 60_000;

export interface IngestLimits {
	ip: RateLimitConfig;
	site: RateLimitConfig;
	key: RateLimitConfig;
}

type IngestVars = { INGEST_IP_LIMIT?: string; INGEST_SITE_LIMIT?: string; INGEST_KEY_LIMIT?: string; INGEST_PERIOD_SECONDS?: string };

/** The configured limits; a missing or malformed var falls back to its default. */
export function ingestLimits(env: IngestVars): IngestLimits {
	const period = env.INGEST_PERIOD_SECONDS;
	return {
		ip: limitFromVars(env.INGEST_IP_LIMIT, period, { limit: DEFAULT_INGEST_IP_LIMIT, periodMs: DEFAULT_PERIOD_MS }),
		site: limitFromVars(env.INGEST_SITE_LIMIT, period, { limit: DEFAULT_INGEST_SITE_LIMIT, periodMs: DEFAULT_PERIOD_MS }),
		key: limitFromVars(env.INGEST_KEY_LIMIT, period, { limit: DEFAULT_INGEST_KEY_LIMIT, periodMs: DEFAULT_PERIOD_MS }),
	};
}

export interface IngestAccess {
	/** Sent with a valid ingest key for the site: the UA bot check is skipped. */
	trusted: boolean;
	/** The key's id when trusted. */
	keyId: string | null;
	/** The buckets this batch takes from, and the shard object (0 … shards−1) holding them; null: not limited. */
	limit: { shard: number; take: BucketTake } | null;
}

/** Which shard object (0 … shards−1) holds a hex-named bucket. */
function shardOf(hex: string, shards: number): number {
	return shards > 1 ? Number.parseInt(hex.slice(0, 8), 16) % shards : 0;
}

/** The 429 for a refusal by `refused` (`site`, `ip:…` or `key:…`), naming the limit and when to retry. */
export function limitedError(refused: string, retryAfterMs: number, limits: IngestLimits, shards: number): ApiError {
	const seconds = retryAfterSeconds(retryAfterMs);
	const per = (l: RateLimitConfig) => `${l.limit} events per ${l.periodMs / 1000} s`;
	const [field, what] =
		refused === "site"
			? ["site", `at most ${per(limits.site)} for the site${shards > 1 ? ` (${shards} shards)` : ""} from senders without an ingest key`]
			: refused.startsWith("key:")
				? ["Authorization", `at most ${per(limits.key)} for this ingest key and site`]
				: ["ip", `at most ${per(limits.ip)} from one client address for this site`];
	return new ApiError(429, "rate_limited", `too many events: ${what}; retry in ${seconds} s (nothing was stored)`, [{ field, message: `${field === "Authorization" ? "ingest key" : field} limit` }], {
		"Retry-After": String(seconds),
	});
}

/**
 * The batch's sender: the ingest key if one is presented (401/403, thrown), and the buckets its `events`
 * events take — the caller takes them in the same LiveSite call that records the batch, and answers 429
 * (limitedError) when they refuse; nothing is taken from any bucket then.
 */
export async function ingestAccess(env: Env, req: Request, site: Site, events: number, now = Date.now()): Promise<IngestAccess> {
	const limits = ingestLimits(env);
	const shards = Math.max(1, site.liveShards);
	const header = req.headers.get("Authorization");
	const cost = Math.max(1, events);
	if (header !== null && header.trim() !== "") {
		const { keyId } = await ingestKey(env, req, header, site, now);
		return { trusted: true, keyId, limit: { shard: shardOf(keyId, shards), take: { specs: [{ name: `key:${keyId}`, ...limits.key }], cost } } };
	}
	let hash: string;
	try {
		hash = await addressHash(env.DB, req, now);
	} catch (err) {
		console.error("ingest limits: no address hash; not limiting", site.id, err instanceof Error ? err.message : err);
		return { trusted: false, keyId: null, limit: null };
	}
	// Each shard object holds its share of the site budget.
	const specs: BucketSpec[] = [
		{ name: `ip:${hash}`, ...limits.ip },
		{ name: "site", limit: Math.max(1, Math.ceil(limits.site.limit / shards)), periodMs: limits.site.periodMs },
	];
	return { trusted: false, keyId: null, limit: { shard: shardOf(hash, shards), take: { specs, cost } } };
}

/** A presented key must be a live ingest key for this site: 401 (counted as a failed authentication) or 403 otherwise. */
async function ingestKey(env: Env, req: Request, header: string, site: Site, now: number): Promise<{ keyId: string }> {
	await refuseBlockedAddress(env, req, "Authorization", now);
	const challenge = { "WWW-Authenticate": 'Bearer realm="brain2gain"' };
	const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
	const key = match?.[1] ? await findKey(env.DB, match[1], now) : null;
	if (!key) {
		const message = match?.[1] ? "the ingest key is unknown or revoked" : "send an ingest key as 'Authorization: Bearer <key>' (or no Authorization header at all)";
		throw await countAuthFailure(env, req, new ApiError(401, "unauthorized", message, [{ field: "Authorization", message: match?.[1] ? "invalid key" : "not a Bearer key" }], challenge), "Authorization", now);
	}
	if (!hasScope(key, "ingest")) throw new ApiError(403, "forbidden", "this key lacks the 'ingest' scope", [{ field: "Authorization", message: "needs scope ingest" }]);
	if (key.site !== null && key.site !== site.id) throw new ApiError(403, "forbidden", `this key belongs to site '${key.site}'`, [{ field: "Authorization", message: "not this site's key" }]);
	return { keyId: key.id };
}
