/**
 * The ingest outbox: no event acknowledged with 202 is lost, whatever fails after the 202.
 *
 * `/e` answers 202 only after the event is in the `outbox` table of the LiveSite object that records
 * its id (SQLite storage: durable before the answer, in the same transaction as the dedupe row and
 * the live counters). The Queue send that follows (by that LiveSite object, after the commit and off the
 * response path, coalesced across requests) is the fast path, no longer the only copy:
 *  - the queue consumer confirms each event once its D1 batch has committed (one RPC per shard per
 *    consumer batch); a confirmed event leaves the outbox. D1-stored is the point of confirmation
 *    because R2 follows from D1 on its own (the consumer archives, and the cron sweeper archives any
 *    row still unarchived 10 minutes after receipt);
 *  - LiveSite's alarm re-sends every event not confirmed within the grace period (then backs off:
 *    grace · 2^sends, ≤ 1 h) — a lost queue message (a killed local process, a failed send), a D1
 *    outage that outlived the queue's retries, a confirmation that never arrived;
 *  - a resend of an accepted event still in the outbox counts as accepted (and is queued again), not
 *    as a duplicate: the sender is not told "already have it" about something not yet stored.
 * Re-sending is safe: D1's primary key (site, id) and the archive's claim-once keys make every copy
 * after the first change nothing.
 *
 * Bounds: at most OUTBOX_MAX_ROWS rows per object (beyond it `/e` answers 503 with Retry-After rather
 * than acknowledge what it could not keep); a row older than OUTBOX_MAX_AGE_MS is parked in R2
 * `dead-letter/` (the dead-letter API lists and replays it) instead of being re-sent forever.
 */
import { shardStub } from "../realtime/shards";
import type { EventMessage, StoredEvent } from "./message";

/** An unconfirmed event is re-sent this long after acceptance (the consumer normally confirms within seconds). */
export const OUTBOX_GRACE_MS = 60_000;
/** Re-sends back off to at most this interval. */
export const OUTBOX_MAX_BACKOFF_MS = 3_600_000;
/** Rows per LiveSite object (≈ 0.7 KB each); beyond it new events are refused with 503. */
export const OUTBOX_MAX_ROWS = 200_000;
/** Rows older than this are parked in R2 dead-letter/ rather than re-sent again (3 days: well inside the 8-day dedupe memory). */
export const OUTBOX_MAX_AGE_MS = 3 * 86_400_000;
/** Rows one alarm re-sends at most (the alarm comes back after a second when more are due). */
export const OUTBOX_RESEND_LIMIT = 2_000;

declare global {
	interface Env {
		/** Optional override of OUTBOX_GRACE_MS in seconds (the soak benchmark shortens it); unset in wrangler.toml. */
		OUTBOX_GRACE_SECONDS?: string;
	}
}

/** The grace period in ms: OUTBOX_GRACE_SECONDS when set to a positive number, else OUTBOX_GRACE_MS. */
export function outboxGraceMs(env: Env): number {
	const s = Number(env.OUTBOX_GRACE_SECONDS);
	return env.OUTBOX_GRACE_SECONDS !== undefined && Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : OUTBOX_GRACE_MS;
}

/** Delay before the next re-send of a row already sent `sends` times after acceptance: grace · 2^sends, ≤ 1 h. */
export function resendDelayMs(sends: number, graceMs: number): number {
	return Math.min(OUTBOX_MAX_BACKOFF_MS, graceMs * 2 ** Math.min(Math.max(0, sends), 20));
}

/** The queue message of an outboxed event: it names its shard, so the consumer confirms to the right object. */
export function outboxMessage(event: StoredEvent, shard: number): MessageSendRequest<EventMessage> {
	return { body: { v: 1, event, live: shard }, contentType: "json" };
}

/** What LiveSite.accept() answers for one shard's share of a batch. */
export interface AcceptResult {
	/** Ids new to the site: counted in the ledger, live counters and the outbox. */
	fresh: number;
	/** Ids accepted before and still in the outbox (not yet confirmed stored): accepted again and re-queued. */
	requeued: number;
	/** Positions (in the call's events) of ids accepted before and confirmed stored, or repeated within the call: not queued again. */
	duplicates: number[];
	/** The outbox is at OUTBOX_MAX_ROWS: nothing of this share was recorded. */
	full: boolean;
	/** Refused by the ingest limits taken in the same call: nothing was recorded (absent when allowed or not limited). */
	limited?: { refused: string; retryAfterMs: number };
}

/** Outbox depth of a site (all shards): rows not yet confirmed stored, and the oldest one's acceptance time. */
export interface OutboxStatus {
	depth: number;
	oldestAcceptedAt: number | null;
	/** Events re-sent by the alarm so far (each re-send of a row counts). */
	resent: number;
}

/**
 * Confirms stored events to the outboxes that hold them: one RPC per (site, shard). A failed
 * confirmation is logged, not thrown: the events are in D1 already, and the unconfirmed rows are
 * re-sent after the grace period, stored as no-ops and confirmed then.
 */
export async function confirmStored(env: Env, stored: { site: string; id: string; live: number | undefined }[]): Promise<void> {
	const groups = new Map<string, { site: string; shard: number; ids: string[] }>();
	for (const e of stored) {
		if (e.live === undefined) continue;
		const key = `${e.live}\u0000${e.site}`;
		const g = groups.get(key);
		if (g) g.ids.push(e.id);
		else groups.set(key, { site: e.site, shard: e.live, ids: [e.id] });
	}
	await Promise.all(
		[...groups.values()].map(async (g) => {
			try {
				await shardStub(env, g.site, g.shard).confirm(g.ids);
			} catch (err) {
				console.error(`outbox confirmation of ${g.ids.length} event(s) for ${g.site}#${g.shard} failed; the alarm re-sends them`, err instanceof Error ? err.message : err);
			}
		}),
	);
}

/** A site's outbox summed over its shards (for GET /api/v1/health/pipeline). */
export async function siteOutbox(env: Env, site: string, shards: number): Promise<OutboxStatus> {
	const parts = await Promise.all(Array.from({ length: Math.max(1, shards) }, (_, k) => shardStub(env, site, k).outboxStatus()));
	return parts.reduce((a, b) => ({
		depth: a.depth + b.depth,
		oldestAcceptedAt: a.oldestAcceptedAt === null ? b.oldestAcceptedAt : b.oldestAcceptedAt === null ? a.oldestAcceptedAt : Math.min(a.oldestAcceptedAt, b.oldestAcceptedAt),
		resent: a.resent + b.resent,
	}));
}
