/**
 * Rate limiting: token buckets (capacity = the limit, refilled evenly over the period) in small SQLite
 * Durable Objects, so a limit holds across isolates and locations.
 * - /api/v1 per principal: one object per API key or user (`key:<id>`, `user:<id>`, the `bucket` table),
 *   `RATE_LIMIT_REQUESTS` per `RATE_LIMIT_PERIOD_SECONDS`;
 * - /api/v1 per site, all its keys and users together: `api-site:<site>`, `RATE_LIMIT_SITE_REQUESTS`;
 * - failed authentication per client address: `auth-fail:<ip hash>`, `AUTH_FAILURE_LIMIT` per
 *   `AUTH_FAILURE_PERIOD_SECONDS` (see `countAuthFailure`);
 * - POST /e per site, per client address and per ingest key: not here but in the site's LiveSite objects, so
 *   that /e costs one Durable Object call (workers/ingest/limits.ts), with the same `buckets` table, read
 *   through `BucketCache` below (the same decisions as `takeFromTable`, written once per commit group).
 * The named-bucket objects (`takeMany`) hold any number of buckets and take from several at once.
 * A bucket is persisted on each allowed request (a refused one changes nothing worth storing), so an
 * evicted or restarted object resumes where it was.
 */
import { DurableObject } from "cloudflare:workers";
import { dailySalt } from "../ingest/visitor";
import { ApiError, sha256Hex, utcDay } from "../lib/http";
import { migrateDurableObject } from "../lib/do-migrations";

export interface Bucket {
	tokens: number;
	/** When `tokens` was computed, epoch ms. */
	updatedAt: number;
}

export interface Decision {
	allowed: boolean;
	/** Whole tokens left after this request. */
	remaining: number;
	/** When refused: ms until one token is back (0 when allowed). */
	retryAfterMs: number;
}

/** The tokens of a bucket at `now`: refilled `limit` per `periodMs` pro rata, capped at `limit`. A missing bucket is full. */
export function refill(bucket: Bucket | null, limit: number, periodMs: number, now: number): number {
	if (!bucket) return limit;
	return Math.min(limit, bucket.tokens + Math.max(0, now - bucket.updatedAt) * (limit / periodMs));
}

/**
 * One token-bucket step: refills `limit` tokens per `periodMs` (pro rata, capped at `limit`), then takes
 * `cost` tokens (default 1) if there is a whole one. A cost above the tokens left overdraws the bucket
 * (a batch of events is let in whole while the bucket is not empty): the overdraft is paid back before
 * the next request passes, so over any span at most `limit` per period plus one request's cost gets in.
 * A missing bucket starts full.
 */
export function takeToken(bucket: Bucket | null, limit: number, periodMs: number, now: number, cost = 1): { decision: Decision; bucket: Bucket } {
	const ratePerMs = limit / periodMs;
	const tokens = refill(bucket, limit, periodMs, now);
	if (tokens >= 1) return { decision: { allowed: true, remaining: Math.max(0, Math.floor(tokens - cost)), retryAfterMs: 0 }, bucket: { tokens: tokens - cost, updatedAt: now } };
	return { decision: { allowed: false, remaining: 0, retryAfterMs: Math.ceil((1 - tokens) / ratePerMs) }, bucket: { tokens, updatedAt: now } };
}

/** One named bucket of a `takeMany` call. */
export interface BucketSpec {
	/** Unique within the object, e.g. `site` or `ip:<hash>`. */
	name: string;
	limit: number;
	periodMs: number;
}

/** Buckets to take `cost` from, all or nothing (what /e hands to LiveSite with its events). */
export interface BucketTake {
	specs: BucketSpec[];
	cost: number;
}

export interface ManyDecision extends Decision {
	/** When refused: the bucket that refused (the one that frees up last), else null. */
	refused: string | null;
}

/**
 * Several buckets at once, all or nothing: allowed when every bucket has a token, and then `cost` is taken
 * from each; refused otherwise, with nothing taken (a request refused by one limit must not use up another).
 * `remaining` is the least left over the buckets.
 */
export function takeFromAll(buckets: readonly (Bucket | null)[], specs: readonly BucketSpec[], now: number, cost = 1): { decision: ManyDecision; buckets: Bucket[] } {
	const steps = specs.map((spec, i) => takeToken(buckets[i] ?? null, spec.limit, spec.periodMs, now, cost));
	let refused: string | null = null;
	let retryAfterMs = 0;
	for (const [i, step] of steps.entries()) {
		if (!step.decision.allowed && (refused === null || step.decision.retryAfterMs > retryAfterMs)) {
			retryAfterMs = step.decision.retryAfterMs;
			refused = specs[i]?.name ?? "";
		}
	}
	if (refused !== null) return { decision: { allowed: false, remaining: 0, retryAfterMs, refused }, buckets: [] };
	const remaining = steps.reduce((m, step) => Math.min(m, step.decision.remaining), Number.POSITIVE_INFINITY);
	return { decision: { allowed: true, remaining: Number.isFinite(remaining) ? remaining : 0, retryAfterMs: 0, refused: null }, buckets: steps.map((step) => step.bucket) };
}

export interface RateLimitConfig {
	limit: number;
	periodMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { limit: 600, periodMs: 60_000 };

/** A limit from two vars (count, seconds); a missing or malformed var falls back to `fallback`. */
export function limitFromVars(count: string | undefined, seconds: string | undefined, fallback: RateLimitConfig): RateLimitConfig {
	const limit = Number(count);
	const period = Number(seconds);
	return {
		limit: Number.isInteger(limit) && limit > 0 ? limit : fallback.limit,
		periodMs: Number.isFinite(period) && period > 0 ? period * 1000 : fallback.periodMs,
	};
}

/** The configured limit; a missing or malformed var falls back to the default (600 per 60 s). */
export function rateLimitConfig(env: { RATE_LIMIT_REQUESTS?: string; RATE_LIMIT_PERIOD_SECONDS?: string }): RateLimitConfig {
	return limitFromVars(env.RATE_LIMIT_REQUESTS, env.RATE_LIMIT_PERIOD_SECONDS, DEFAULT_RATE_LIMIT);
}

/** All keys and users of one site together (per site, the same period as the per-principal limit). */
export const DEFAULT_SITE_RATE_LIMIT: RateLimitConfig = { limit: 3000, periodMs: 60_000 };

export function siteRateLimitConfig(env: { RATE_LIMIT_SITE_REQUESTS?: string; RATE_LIMIT_PERIOD_SECONDS?: string }): RateLimitConfig {
	return limitFromVars(env.RATE_LIMIT_SITE_REQUESTS, env.RATE_LIMIT_PERIOD_SECONDS, DEFAULT_SITE_RATE_LIMIT);
}

/** Failed authentications per client address (a missing or bad credential, an unknown key, a used login link). */
export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimitConfig = { limit: 20, periodMs: 60_000 };

export function authFailureConfig(env: { AUTH_FAILURE_LIMIT?: string; AUTH_FAILURE_PERIOD_SECONDS?: string }): RateLimitConfig {
	return limitFromVars(env.AUTH_FAILURE_LIMIT, env.AUTH_FAILURE_PERIOD_SECONDS, DEFAULT_AUTH_FAILURE_LIMIT);
}

/**
 * Named buckets (takeMany, and LiveSite's ingest limits). `full_at`: when the bucket is full again; from then
 * on the row says no more than a missing one, so it is pruned (per-address buckets would otherwise pile up).
 */
export const BUCKETS_TABLE_SQL = `CREATE TABLE buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL, full_at INTEGER NOT NULL);
	 CREATE INDEX buckets_full_at ON buckets (full_at);`;

const MIGRATIONS = [
	"CREATE TABLE bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, updated_at INTEGER NOT NULL);",
	"CREATE TABLE buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL, full_at INTEGER NOT NULL);",
	"CREATE INDEX buckets_full_at ON buckets (full_at);",
];

/**
 * Takes `cost` from each named bucket of a `buckets` table (BUCKETS_TABLE_SQL) if all have a token (all or
 * nothing: a refusal writes nothing). Limits come with each call, so a changed var applies at once.
 */
export function takeFromTable(sql: SqlStorage, specs: readonly BucketSpec[], cost: number, now: number): ManyDecision {
	// A one-call BucketCache: the same read, decision and one-statement upsert (on /e every statement counts: issue 15).
	const once = new BucketCache(sql);
	const { decision } = once.take(specs, cost, now);
	once.write();
	return decision;
}

/** Cached buckets a BucketCache keeps at most between writes; beyond it the cache starts over from the table. */
const BUCKET_CACHE_MAX = 10_000;

/**
 * A `buckets` table (BUCKETS_TABLE_SQL) read through an in-memory cache, for an object that is the table's
 * only writer (LiveSite, for /e's limits): a take reads a bucket from SQLite once, then from memory, and its
 * writes wait in `dirty` until `write()` — once per commit group on /e instead of a SELECT and an upsert per
 * request (issue 15). Same decisions as takeFromTable. `take` returns an undo for the call's share: a call
 * that fails after taking restores the buckets as they were before it, so it rolls back alone. The caller
 * calls `write()` inside the same SQLite transaction as the takes, and `reset()` when that transaction
 * rolled back or rows were deleted behind the cache (pruning).
 */
export class BucketCache {
	private readonly cache = new Map<string, Bucket | null>();
	private readonly dirty = new Map<string, { bucket: Bucket; spec: BucketSpec }>();

	constructor(private readonly sql: SqlStorage) {}

	/** Takes `cost` from every bucket of `specs` or from none, by `now`; `undo` puts back what this take changed. */
	take(specs: readonly BucketSpec[], cost: number, now: number): { decision: ManyDecision; undo: () => void } {
		if (!specs.length) return { decision: { allowed: true, remaining: 0, retryAfterMs: 0, refused: null }, undo: () => {} };
		const missing = specs.filter((s) => !this.cache.has(s.name)).map((s) => s.name);
		if (missing.length) {
			const rows = this.sql.exec<{ name: string; tokens: number; updated_at: number }>(`SELECT name, tokens, updated_at FROM buckets WHERE name IN (${missing.map(() => "?").join(",")})`, ...missing).toArray();
			for (const name of missing) this.cache.set(name, null);
			for (const r of rows) this.cache.set(r.name, { tokens: r.tokens, updatedAt: r.updated_at });
		}
		const before = specs.map((s) => ({ name: s.name, bucket: this.cache.get(s.name) ?? null, dirty: this.dirty.get(s.name) }));
		const { decision, buckets } = takeFromAll(
			before.map((b) => b.bucket),
			specs,
			now,
			cost,
		);
		if (!decision.allowed) return { decision, undo: () => {} };
		specs.forEach((spec, i) => {
			const bucket = buckets[i] as Bucket;
			this.cache.set(spec.name, bucket);
			this.dirty.set(spec.name, { bucket, spec });
		});
		const undo = () => {
			for (const b of before) {
				this.cache.set(b.name, b.bucket);
				if (b.dirty) this.dirty.set(b.name, b.dirty);
				else this.dirty.delete(b.name);
			}
		};
		return { decision, undo };
	}

	/** Writes the buckets taken since the last write: one statement. */
	write(): void {
		if (!this.dirty.size) return;
		const rows = [...this.dirty.values()].map(({ bucket: b, spec }) => [spec.name, b.tokens, b.updatedAt, b.updatedAt + Math.ceil(((spec.limit - b.tokens) * spec.periodMs) / spec.limit)]);
		this.sql.exec(
			`INSERT INTO buckets (name, tokens, updated_at, full_at) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
			 ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, full_at = excluded.full_at`,
			JSON.stringify(rows),
		);
		this.dirty.clear();
		if (this.cache.size > BUCKET_CACHE_MAX) this.cache.clear();
	}

	/** Forgets everything cached and not yet written (after a rollback, or a delete behind the cache). */
	reset(): void {
		this.cache.clear();
		this.dirty.clear();
	}
}

/** Prune full buckets after this many takeMany calls (cheap: an index range delete). */
const PRUNE_EVERY = 256;

/**
 * One per principal (`key:<id>` or `user:<id>`, one row in `bucket`), or one per limited thing with named
 * buckets (`api-site:<site>`, `auth-fail:<ip hash>`, rows in `buckets`; objects named `ingest:<site>:<shard>` held
 * /e's buckets before they moved into LiveSite and are no longer called).
 */
export class RateLimiter extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private bucket: Bucket | null = null;
	private calls = 0;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => {
			this.migrate();
			const row = this.sql.exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM bucket WHERE id = 1").toArray()[0];
			this.bucket = row ? { tokens: row.tokens, updatedAt: row.updated_at } : null;
		});
	}

	private migrate(): void {
		migrateDurableObject(this.ctx, MIGRATIONS);
	}

	/**
	 * Takes `cost` from each named bucket if all have a token (all or nothing), by this object's clock.
	 * Limits come with each call, so a changed var applies at once to the existing buckets.
	 */
	takeMany(specs: BucketSpec[], cost = 1): ManyDecision {
		const now = Date.now();
		const decision = takeFromTable(this.sql, specs, cost, now);
		if (++this.calls % PRUNE_EVERY === 0) this.sql.exec("DELETE FROM buckets WHERE full_at <= ?", now);
		return decision;
	}

	/** Takes one request's token, by this object's clock. */
	take(limit: number, periodMs: number): Decision {
		const { decision, bucket } = takeToken(this.bucket, limit, periodMs, Date.now());
		if (decision.allowed) {
			this.bucket = bucket;
			this.sql.exec(
				"INSERT INTO bucket (id, tokens, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
				bucket.tokens,
				bucket.updatedAt,
			);
		}
		return decision;
	}
}

// ─── client addresses and failed authentication ─────────────────────────────────────────────────

/** Seconds for a Retry-After header: whole, at least 1. */
export function retryAfterSeconds(ms: number): number {
	return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The client address as a limiter may name it: a hash under the day's visitor salt (workers/ingest/visitor.ts),
 * never the address itself (Durable Object names and their buckets are stored). The salt is deleted after
 * the next day, so a stored hash cannot be turned back into an address by trying all 2^32 IPv4 ones.
 * A request without `CF-Connecting-IP` (only outside Cloudflare) counts as one unknown address.
 */
export async function addressHash(db: D1Database, req: Request, now = Date.now()): Promise<string> {
	const ip = req.headers.get("CF-Connecting-IP") ?? "";
	return (await sha256Hex(`${await dailySalt(db, utcDay(now))}\nlimit\n${ip}`)).slice(0, 32);
}

/** Addresses this isolate saw go over the failure limit, until when (epoch ms). Lets it refuse them before checking credentials. */
const blocked = new Map<string, number>();

function tooManyFailures(retryAfterMs: number, limit: number, periodMs: number, field: string): ApiError {
	const seconds = retryAfterSeconds(retryAfterMs);
	return new ApiError(429, "rate_limited", `too many failed authentications from this address: at most ${limit} per ${periodMs / 1000} s; retry in ${seconds} s`, [{ field, message: "failed authentication limit per client address" }], {
		"Retry-After": String(seconds),
	});
}

/**
 * Throws 429 when this address went over the failed-authentication limit and is still waiting, before any
 * credential is looked at (so a guess from a blocked address learns nothing, valid or not). Known per isolate:
 * another isolate learns it at the address's next failure there (see countAuthFailure), which costs no
 * Durable Object call on a request with good credentials.
 */
export async function refuseBlockedAddress(env: Env, req: Request, field: string, now = Date.now()): Promise<void> {
	if (!blocked.size) return;
	let hash: string;
	try {
		hash = await addressHash(env.DB, req, now);
	} catch {
		return; // no salt (D1 down): the credential check decides
	}
	const until = blocked.get(hash);
	if (until === undefined) return;
	if (until <= now) {
		blocked.delete(hash);
		return;
	}
	const { limit, periodMs } = authFailureConfig(env);
	throw tooManyFailures(until - now, limit, periodMs, field);
}

/**
 * Counts one failed authentication (missing or invalid credentials, an unknown key, a bad login link) for the
 * request's address and returns what to answer: `failure` itself while under the limit, else a 429 naming
 * `field` (and the address is refused in this isolate until a token is back). A limiter failure answers
 * `failure` (and is logged): the limit never turns a 401 into a 5xx.
 */
export async function countAuthFailure(env: Env, req: Request, failure: ApiError, field: string, now = Date.now()): Promise<ApiError> {
	const { limit, periodMs } = authFailureConfig(env);
	try {
		const hash = await addressHash(env.DB, req, now);
		const decision = await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`auth-fail:${hash}`)).takeMany([{ name: "failures", limit, periodMs }]);
		if (decision.allowed) return failure;
		if (blocked.size > 10_000) blocked.clear();
		blocked.set(hash, now + decision.retryAfterMs);
		return tooManyFailures(decision.retryAfterMs, limit, periodMs, field);
	} catch (err) {
		console.error("failed-authentication limiter unavailable; not limiting", err instanceof Error ? err.message : err);
		return failure;
	}
}
