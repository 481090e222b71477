/**
 * Per-principal rate limiting for /api/v1: a token bucket (capacity = the limit, refilled evenly over
 * the period) in one small SQLite Durable Object per API key or per user, so the limit holds across
 * isolates and locations. Configured by the `RATE_LIMIT_REQUESTS` / `RATE_LIMIT_PERIOD_SECONDS` vars.
 * The bucket is persisted on each allowed request (a refused one changes nothing worth storing), so an
 * evicted or restarted object resumes where it was.
 */
import { DurableObject } from "cloudflare:workers";
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

/**
 * One token-bucket step: refills `limit` tokens per `periodMs` (pro rata, capped at `limit`), then takes
 * one token if there is a whole one. A missing bucket starts full.
 */
export function takeToken(bucket: Bucket | null, limit: number, periodMs: number, now: number): { decision: Decision; bucket: Bucket } {
	const ratePerMs = limit / periodMs;
	const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : 0;
	const tokens = bucket ? Math.min(limit, bucket.tokens + elapsed * ratePerMs) : limit;
	if (tokens >= 1) return { decision: { allowed: true, remaining: Math.floor(tokens - 1), retryAfterMs: 0 }, bucket: { tokens: tokens - 1, updatedAt: now } };
	return { decision: { allowed: false, remaining: 0, retryAfterMs: Math.ceil((1 - tokens) / ratePerMs) }, bucket: { tokens, updatedAt: now } };
}

export interface RateLimitConfig {
	limit: number;
	periodMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { limit: 600, periodMs: 60_000 };

/** The configured limit; a missing or malformed var falls back to the default (600 per 60 s). */
export function rateLimitConfig(env: { RATE_LIMIT_REQUESTS?: string; RATE_LIMIT_PERIOD_SECONDS?: string }): RateLimitConfig {
	const limit = Number(env.RATE_LIMIT_REQUESTS);
	const period = Number(env.RATE_LIMIT_PERIOD_SECONDS);
	return {
		limit: Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_RATE_LIMIT.limit,
		periodMs: Number.isFinite(period) && period > 0 ? period * 1000 : DEFAULT_RATE_LIMIT.periodMs,
	};
}

const MIGRATIONS = ["CREATE TABLE bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, updated_at INTEGER NOT NULL);"];

/** One per principal (`key:<id>` or `user:<id>`), holding one bucket row. */
export class RateLimiter extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private bucket: Bucket | null = null;

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
