/**
 * LiveSite: the real-time engine of one site (or of one shard of a busy site, see shards.ts). A
 * Durable Object with SQLite storage and native RPC. It is
 *  - the ingest ledger: accepted event ids for 8 days (a resent event counts once, live and in the
 *    accepted total that reconciliation compares with D1 and R2), accepted/rejected/bot/imported per UTC day;
 *  - the live counters: per received minute, events, page views, purchases, revenue (site currency),
 *    events by type, pages, products and a HyperLogLog sketch of visitors; a sketch per local day. The
 *    1 / 5 / 60-minute and today windows are sums (and sketch unions) over those minutes;
 *  - the live funnels of today (funnel events per person, matched by workers/funnels/match.ts);
 *  - the WebSocket hub (Hibernation API): a snapshot on connect, then deltas at most once a second;
 *  - the ingest outbox (workers/pipeline/outbox.ts): every accepted event is kept until the queue
 *    consumer confirms it stored in D1; the alarm re-sends unconfirmed ones.
 * A minute alarm flushes completed minutes to D1 `live_minutes` (history and per-minute anomalies),
 * prunes what has aged out, refreshes fulfilment and stock from D1 and pushes to subscribers.
 * All state is in SQLite, so an evicted or restarted object comes back with its counts.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { migrateDurableObject } from "../lib/do-migrations";
import { dayBounds, dayStart, localDay } from "../metrics/calendar";
import { evaluateAlerts } from "../alerts/evaluate";
import "./alert-metrics";
import { hllAdd, hllCount, hllFrom, hllMerge, hllNew } from "./hll";
import { liveFunnels, loadFunnelDefs, type FunnelDefs } from "./funnels";
import { shardStub } from "./shards";
import { chunkForSend, SEND_BATCH_BYTES, SEND_BATCH_COUNT, storedEventSchema, type EventMessage, type StoredEvent } from "../pipeline/message";
import { deadLetterKey } from "../pipeline/consumer";
import { BucketCache, BUCKETS_TABLE_SQL, type BucketTake } from "../auth/rate-limit";
import { OUTBOX_MAX_AGE_MS, OUTBOX_MAX_BACKOFF_MS, OUTBOX_MAX_ROWS, OUTBOX_RESEND_LIMIT, outboxGraceMs, outboxMessage, resendDelayMs, type AcceptResult, type OutboxStatus } from "../pipeline/outbox";
import {
	emptyWindow,
	liveEvent,
	mergePartials,
	snapshotDelta,
	TOP_KEEP,
	WINDOW_MINUTES,
	type LiveEvent,
	type LivePartial,
	type LiveSiteConfig,
	type LiveSnapshot,
	type MinutePoint,
	type TopPage,
	type TopProduct,
	type WindowName,
	type WindowStats,
} from "./snapshot";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Longer than the 7-day acceptance window plus 1 day of clock skew. */
const SEEN_RETENTION_MS = 8 * 86_400_000 + HOUR;
/** Minute rows are kept long enough to cover the longest local day (25 h) plus the 60-minute window. */
const MINUTE_RETENTION_MS = 26 * HOUR;
/** Fulfilment and stock come from D1; a snapshot re-reads them when older than this. */
export const COMMERCE_REFRESH_MS = 30_000;
/** Subscribers get at most one push per this many ms. */
export const PUSH_INTERVAL_MS = 1_000;
/** The first queue send of accepted events waits this long for more to ride on it (sendAccepted). */
const SEND_COALESCE_MS = 50;
/** Funnel definitions are re-read from D1 this often. */
const FUNNEL_REFRESH_MS = 60_000;

export type LedgerKind = "accepted" | "rejected" | "bot" | "imported";

export interface Ledger {
	accepted: number;
	rejected: number;
	bot: number;
	/** New events stored by the bulk import (history backfill), which bypasses /e. */
	imported: number;
}

const MIGRATIONS = [
	`CREATE TABLE seen (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL) WITHOUT ROWID;
	 CREATE INDEX seen_received ON seen (received_at);
	 CREATE TABLE day_counts (day TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, kind)) WITHOUT ROWID;
	 CREATE TABLE minute_events (minute INTEGER PRIMARY KEY, events INTEGER NOT NULL);
	 CREATE TABLE minute_visitors (minute INTEGER NOT NULL, visitor TEXT NOT NULL, PRIMARY KEY (minute, visitor)) WITHOUT ROWID;`,
	// v2 (real-time engine): bounded-memory visitors (HyperLogLog), windows by type/page/product, funnels.
	`DROP TABLE minute_events;
	 DROP TABLE minute_visitors;
	 CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
	 CREATE TABLE minutes (minute INTEGER PRIMARY KEY, events INTEGER NOT NULL, page_views INTEGER NOT NULL, orders INTEGER NOT NULL,
	   revenue INTEGER NOT NULL, other_orders INTEGER NOT NULL, sketch BLOB NOT NULL, flushed INTEGER NOT NULL DEFAULT 0);
	 CREATE TABLE minute_types (minute INTEGER NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, name)) WITHOUT ROWID;
	 CREATE TABLE minute_pages (minute INTEGER NOT NULL, path TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, path)) WITHOUT ROWID;
	 CREATE TABLE minute_products (minute INTEGER NOT NULL, sku TEXT NOT NULL, views INTEGER NOT NULL, carts INTEGER NOT NULL, units INTEGER NOT NULL, PRIMARY KEY (minute, sku)) WITHOUT ROWID;
	 CREATE TABLE day_sketch (day TEXT PRIMARY KEY, sketch BLOB NOT NULL) WITHOUT ROWID;
	 CREATE TABLE funnel_events (day TEXT NOT NULL, person TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (day, person, id)) WITHOUT ROWID;`,
	// v3 (issue 14, finding 3): the outbox of accepted events not yet confirmed stored (a rowid table:
	// the JSON bodies are too large for WITHOUT ROWID's in-index rows).
	`CREATE TABLE outbox (id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, accepted_at INTEGER NOT NULL, next_at INTEGER NOT NULL, sends INTEGER NOT NULL DEFAULT 0);
	 CREATE INDEX outbox_next ON outbox (next_at);`,
	// v4 (issue 15): /e's abuse limits live here, so a request costs one Durable Object call (workers/ingest/limits.ts).
	BUCKETS_TABLE_SQL,
];

const configSchema = z.object({ id: z.string().min(1), timezone: z.string().min(1), currency: z.string().length(3), shards: z.number().int().min(1).max(16), shard: z.number().int().min(0).max(15) });
type StoredConfig = z.infer<typeof configSchema>;

/**
 * What one call adds to the live counters (recordSync): the ledger's accepted events per UTC day and, by
 * receive minute and local day, the counters and the visitors for the sketches. writeCounts writes them —
 * at once for a lone call, once per commit group for /e's calls (inCommitGroup).
 */
interface CounterDelta {
	minute: number;
	/** Local day of the receive time (the day sketch). */
	day: string;
	events: number;
	pageViews: number;
	orders: number;
	revenue: number;
	otherOrders: number;
	accepted: Map<string, number>;
	types: Map<string, number>;
	pages: Map<string, number>;
	products: Map<string, { views: number; carts: number; units: number }>;
	visitors: string[];
}

interface Commerce {
	salesToday: LiveSnapshot["salesToday"];
	fulfilment: LiveSnapshot["fulfilment"];
	lowStock: LiveSnapshot["lowStock"];
}

export class LiveSite extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private config: StoredConfig | null = null;
	private minuteSketch: { minute: number; sketch: Uint8Array } | null = null;
	private daySketch: { day: string; sketch: Uint8Array } | null = null;
	private commerce: Commerce | null = null;
	private funnels: { defs: FunnelDefs; at: number } | null = null;
	private lastBroadcast: LiveSnapshot | null = null;
	private lastPushAt = 0;
	private pushTimer: ReturnType<typeof setTimeout> | null = null;
	/** True once this instance knows an alarm is scheduled (saves a storage read per record()). */
	private alarmScheduled = false;
	/** Rows in `outbox`, counted once at start and kept in step by accept() and confirm() (single-threaded). */
	private outboxDepth = 0;
	/**
	 * How long the consumer took, at its latest confirmation, to store an event sent once (ms). Re-sends
	 * wait for twice that beyond the grace period: while the queue is merely backlogged, re-sending what
	 * is still in it would only lengthen the backlog (a soak run re-sent each event 3× before this).
	 */
	private queueLagMs = 0;
	/** Queue messages of accepted events not yet handed to the queue, with their JSON sizes (see sendAccepted), and the send under way. */
	private sendBuffer: { message: MessageSendRequest<EventMessage>; bytes: number }[] = [];
	private sending: Promise<void> | null = null;
	/** /e calls waiting to commit together (inCommitGroup). */
	private commitGroup: { job: () => () => void; reject: (err: unknown) => void }[] | null = null;
	/** While a commit group runs: the counter deltas of its calls that succeeded, written once at its end. */
	private groupCounts: CounterDelta[] | null = null;
	/** /e's limit buckets (the `buckets` table), cached: this object is their only writer. */
	private readonly buckets: BucketCache;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.buckets = new BucketCache(this.sql);
		ctx.blockConcurrencyWhile(async () => {
			migrateDurableObject(this.ctx, MIGRATIONS);
			const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'config'").toArray()[0];
			const parsed = row ? configSchema.safeParse(JSON.parse(row.v)) : null;
			this.config = parsed?.success ? parsed.data : null;
			this.outboxDepth = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
		});
	}

	/**
	 * Records accepted events received at `now` (epoch ms). Ids seen in the last 8 days are ignored, so
	 * at-least-once senders do not inflate counts. Returns how many were new.
	 */
	async record(site: LiveSiteConfig, events: LiveEvent[], now: number = Date.now(), shard = 0): Promise<{ fresh: number; duplicates: number }> {
		const cfg = this.configure(site, shard);
		const minute = now - (now % MINUTE);
		const day = localDay(now, cfg.timezone);
		const funnelNames = (await this.funnelDefs(now)).names;
		let fresh: number;
		try {
			fresh = this.ctx.storage.transactionSync(() => {
				const recorded = this.recordSync(cfg, events, now, minute, day, funnelNames, null);
				this.writeCounts([recorded.counts]);
				return recorded.fresh;
			});
		} catch (err) {
			// The transaction rolled back: drop the cached sketches, which may hold registers it never wrote.
			this.minuteSketch = null;
			this.daySketch = null;
			throw err;
		}
		// The alarm runs on the clock, not on the caller's `now` (which tests and replays may set in the past).
		await this.ensureAlarm(Date.now());
		if (fresh) this.schedulePush();
		return { fresh, duplicates: events.length - fresh };
	}

	/**
	 * The ingest hot path's one call per shard: records accepted events (dedupe, ledger, live counters,
	 * as record() does) and keeps each new one in the outbox until the queue consumer confirms it
	 * stored — all in one SQLite transaction, before `/e` answers 202. An id accepted before and still
	 * in the outbox is `requeued` (queued again), one confirmed stored is a duplicate.
	 * `/e` passes `limit` (its abuse limits: taken first, all or nothing; when refused nothing is recorded)
	 * and `send`: this object then queues the new and re-queued events itself, after the commit and off the
	 * caller's response path (sendAccepted). Without `send` the caller queues them (or, in tests, does not:
	 * a lost message).
	 */
	async accept(site: LiveSiteConfig, events: StoredEvent[], now: number = Date.now(), shard = 0, opts: { limit?: BucketTake; send?: boolean } = {}): Promise<AcceptResult> {
		const cfg = this.configure(site, shard);
		const funnelNames = (await this.funnelDefs(now)).names;
		const minute = now - (now % MINUTE);
		const day = localDay(now, cfg.timezone);
		let result: { fresh: number; requeued: number; duplicates: number[] };
		const outbox = { events, dueAt: now + outboxGraceMs(this.env), bodies: [] as string[] };
		const refused = (limited: AcceptResult["limited"]): AcceptResult => ({ fresh: 0, requeued: 0, duplicates: [], full: false, limited });
		// The limits, the ledger and the outbox in one transaction: a refusal or a failure writes nothing. In a
		// commit group the call's counters and buckets are written once for the group, at its end (inCommitGroup),
		// and only if the call succeeded; its dedupe and outbox rows are its own statements.
		const work = (): { done: AcceptResult } | { recorded: typeof result } => {
			let undoTake = () => {};
			try {
				const r = this.ctx.storage.transactionSync((): { done: AcceptResult } | { recorded: ReturnType<LiveSite["recordSync"]> } => {
					if (opts.limit) {
						const taken = this.buckets.take(opts.limit.specs, opts.limit.cost, Date.now());
						if (!taken.decision.allowed) return { done: refused({ refused: taken.decision.refused ?? "site", retryAfterMs: taken.decision.retryAfterMs }) };
						undoTake = taken.undo;
					}
					if (this.outboxDepth + events.length > OUTBOX_MAX_ROWS) {
						if (!this.groupCounts) this.buckets.write();
						return { done: { fresh: 0, requeued: 0, duplicates: [], full: true } };
					}
					const recorded = this.recordSync(cfg, events.map(liveEvent), now, minute, day, funnelNames, outbox);
					if (!this.groupCounts) {
						this.writeCounts([recorded.counts]);
						this.buckets.write();
					}
					return { recorded };
				});
				if ("done" in r) return r;
				this.groupCounts?.push(r.recorded.counts);
				this.outboxDepth += r.recorded.fresh;
				const { fresh, requeued, duplicates } = r.recorded;
				return { recorded: { fresh, requeued, duplicates } };
			} catch (err) {
				undoTake();
				throw err;
			}
		};
		try {
			const r = opts.send ? await this.inCommitGroup(work) : work();
			if ("done" in r) return r.done;
			result = r.recorded;
		} catch (err) {
			this.minuteSketch = null;
			this.daySketch = null;
			throw err;
		}
		if (opts.send) {
			const skip = new Set(result.duplicates);
			// New events' JSON was made for their outbox rows: it sizes the send chunks without a second stringify.
			events.forEach((e, i) => {
				if (!skip.has(i)) this.sendBuffer.push({ message: outboxMessage(e, shard), bytes: (outbox.bodies[i] ?? JSON.stringify(e)).length + 64 });
			});
			this.sendAccepted();
		}
		await this.ensureAlarm(Date.now());
		if (result.fresh) this.schedulePush();
		return { ...result, full: false };
	}

	/**
	 * Runs `work` (one call's synchronous transaction) with the other /e calls that reach this object
	 * before the next timer turn, inside one outer transaction: one commit for the group. Each call's own
	 * transaction is a savepoint in it, so a call that throws rolls back alone. Results are handed out once
	 * the group's transaction has returned (and the output gate holds every answer until it is durable).
	 * Why: a commit per call was the largest single cost of /e under load (~15% of the Worker isolate's
	 * time in the issue 15 profile), and concurrent requests to one site queue here anyway.
	 * The group also writes the live counters, the ledger's accepted counts and the limit buckets of its
	 * successful calls once, at its end (writeCounts, BucketCache.write): per call only the dedupe and outbox
	 * statements remain (SQLite statements were most of the object's time: 8 per single-event call before).
	 */
	private inCommitGroup<T>(work: () => T): Promise<T> {
		const { promise, resolve, reject } = Promise.withResolvers<T>();
		const job = () => {
			try {
				const value = work();
				return () => resolve(value);
			} catch (err) {
				return () => reject(err);
			}
		};
		if (this.commitGroup) {
			this.commitGroup.push({ job, reject });
			return promise;
		}
		this.commitGroup = [{ job, reject }];
		setTimeout(() => {
			const group = this.commitGroup ?? [];
			this.commitGroup = null;
			let settle: (() => void)[];
			try {
				settle = this.ctx.storage.transactionSync(() => {
					// The live counters and limit buckets of the group's successful calls: one write each for the group.
					const counts: CounterDelta[] = [];
					this.groupCounts = counts;
					try {
						const settled = group.map((g) => g.job());
						this.writeCounts(counts);
						this.buckets.write();
						return settled;
					} finally {
						this.groupCounts = null;
					}
				});
			} catch (err) {
				// Nothing of the group was written: forget what memory holds of it.
				this.buckets.reset();
				this.minuteSketch = null;
				this.daySketch = null;
				try {
					this.outboxDepth = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
				} catch {
					// Storage is failing; the next confirm() or outboxStatus() corrects the depth.
				}
				for (const g of group) g.reject(err);
				return;
			}
			for (const s of settle) s();
		}, 0);
		return promise;
	}

	/**
	 * /e's limits alone (a sharded site whose batch is recorded by other shards than the one holding the
	 * sender's buckets): takes `limit` all or nothing, by this object's clock.
	 */
	async takeLimits(limit: BucketTake): Promise<AcceptResult["limited"] | null> {
		return this.takeNow(limit, () => {});
	}

	/** /e's refused batches (invalid or bot traffic): takes `limit` as accept() does and, if allowed, counts `n` in the day's ledger. */
	async countLimited(kind: "rejected" | "bot", day: string, n: number, limit: BucketTake | null): Promise<AcceptResult["limited"] | null> {
		return this.takeNow(limit ?? { specs: [], cost: 0 }, () => {
			if (n > 0) this.bump(day, kind, n);
		});
	}

	/** Takes `limit` all or nothing, by this object's clock, and if allowed writes it and runs `then`, in one transaction. */
	private takeNow(limit: BucketTake, then: () => void): AcceptResult["limited"] | null {
		let undoTake = () => {};
		try {
			return this.ctx.storage.transactionSync(() => {
				const taken = this.buckets.take(limit.specs, limit.cost, Date.now());
				if (!taken.decision.allowed) return { refused: taken.decision.refused ?? "site", retryAfterMs: taken.decision.retryAfterMs };
				undoTake = taken.undo;
				this.buckets.write();
				then();
				return null;
			});
		} catch (err) {
			undoTake();
			throw err;
		}
	}

	/**
	 * Hands accepted events (sendBuffer) to the queue after their outbox rows committed (the output gate
	 * holds a send until then), off the response path of /e. Sends coalesce: the first waits
	 * SEND_COALESCE_MS and every event accepted meanwhile, or while a send is under way, rides on it, so
	 * under load one sendBatch carries many requests' events (one send per request was ~10% of the
	 * isolate's CPU in the issue 15 profile). A failed send is logged: the outbox has the events and the
	 * alarm re-sends them after the grace period; so does an eviction before the send.
	 */
	private sendAccepted(): void {
		if (this.sending || !this.sendBuffer.length) return;
		this.sending = (async () => {
			try {
				await scheduler.wait(SEND_COALESCE_MS);
				while (this.sendBuffer.length) {
					const batch = this.sendBuffer;
					this.sendBuffer = [];
					let sent = 0;
					try {
						while (sent < batch.length) {
							let bytes = 0;
							let end = sent;
							while (end < batch.length && end - sent < SEND_BATCH_COUNT && (end === sent || bytes + (batch[end]?.bytes ?? 0) <= SEND_BATCH_BYTES)) bytes += batch[end++]?.bytes ?? 0;
							await this.env.EVENTS_QUEUE.sendBatch(batch.slice(sent, end).map((b) => b.message));
							sent = end;
						}
					} catch (err) {
						console.error(`queue send of ${batch.length - sent} accepted event(s) failed; the outbox re-sends them`, this.config?.id, err instanceof Error ? err.message : err);
					}
				}
			} finally {
				this.sending = null;
			}
		})();
		this.ctx.waitUntil(this.sending);
	}

	/** Removes stored events from the outbox (the queue consumer calls this after its D1 batch commits); returns how many were there. */
	async confirm(ids: string[]): Promise<number> {
		if (!ids.length) return 0;
		const json = JSON.stringify(ids);
		const lag = this.sql.exec<{ lag: number | null }>("SELECT MAX(? - accepted_at) AS lag FROM outbox WHERE sends = 0 AND id IN (SELECT value FROM json_each(?))", Date.now(), json).one().lag;
		if (lag !== null) this.queueLagMs = Math.max(0, lag);
		const removed = this.sql.exec("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", json).rowsWritten;
		this.outboxDepth = Math.max(0, this.outboxDepth - removed);
		return removed;
	}

	/** This object's outbox: rows not yet confirmed stored, and re-sends so far. Makes sure the alarm that re-sends them is set. */
	async outboxStatus(): Promise<OutboxStatus> {
		const row = this.sql.exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(accepted_at) AS oldest FROM outbox").one();
		const resent = Number(this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'outbox_resent'").toArray()[0]?.v ?? 0);
		this.outboxDepth = row.n;
		if (row.n > 0) await this.ensureAlarm(Date.now());
		return { depth: row.n, oldestAcceptedAt: row.oldest, resent };
	}

	/** Fault injection only (workers/pipeline/faults.ts): aborts this instance; the next call starts a fresh one from storage. */
	async restart(): Promise<void> {
		this.ctx.abort("restart requested (fault injection)");
	}

	/**
	 * record()'s and accept()'s per-call writes, inside the caller's transaction: the dedupe rows, and with
	 * `outbox` the new events' outbox rows (due for a re-send at `dueAt`), telling known ids apart: still in
	 * the outbox (requeued) or confirmed stored (duplicates). The live counters and the ledger's accepted
	 * count come back as `counts` for writeCounts (once per commit group on /e).
	 */
	private recordSync(
		cfg: StoredConfig,
		events: LiveEvent[],
		now: number,
		minute: number,
		day: string,
		funnelNames: Set<string>,
		outbox: { events: StoredEvent[]; dueAt: number; bodies: string[] } | null,
	): { fresh: number; requeued: number; duplicates: number[]; counts: CounterDelta } {
		let fresh = 0;
		let requeued = 0;
		const duplicates: number[] = [];
		// A second copy within one call is a duplicate of the first (whether that one was new or re-queued).
		const handled = new Set<string>();
		const counts: CounterDelta = { minute, day, events: 0, pageViews: 0, orders: 0, revenue: 0, otherOrders: 0, accepted: new Map(), types: new Map(), pages: new Map(), products: new Map(), visitors: [] };
		const product = (sku: string) => counts.products.get(sku) ?? counts.products.set(sku, { views: 0, carts: 0, units: 0 }).get(sku)!;
		// The call's new ids, its known ids still in the outbox, and its outbox rows: one statement each, not
		// one per event (statements were most of the call's cost at 10 events a request: issue 15).
		const newIds = new Set(
			this.sql
				.exec<{ id: string }>("INSERT INTO seen (id, received_at) SELECT value, ? FROM json_each(?) WHERE true ON CONFLICT (id) DO NOTHING RETURNING id", now, JSON.stringify(events.map((e) => e.id)))
				.toArray()
				.map((r) => r.id),
		);
		const known = newIds.size < events.length && outbox ? events.filter((e) => !newIds.has(e.id)).map((e) => e.id) : [];
		const inOutbox = new Set(known.length ? this.sql.exec<{ id: string }>("SELECT id FROM outbox WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(known)).toArray().map((r) => r.id) : []);
		const outboxRows: [id: string, body: string][] = [];
		const funnelRows: [day: string, person: string, id: string, name: string, ts: number][] = [];
		const counted = new Set<string>();
		for (const [i, e] of events.entries()) {
			if (outbox) {
				if (handled.has(e.id)) {
					duplicates.push(i);
					continue;
				}
				handled.add(e.id);
			}
			if (!newIds.has(e.id) || counted.has(e.id)) {
				if (!outbox) continue;
				if (inOutbox.has(e.id)) requeued++;
				else duplicates.push(i);
				continue;
			}
			counted.add(e.id);
			fresh++;
			if (outbox) {
				const body = JSON.stringify(outbox.events[i]);
				outbox.bodies[i] = body;
				outboxRows.push([e.id, body]);
			}
			const utcDay = new Date(e.ts).toISOString().slice(0, 10);
			counts.accepted.set(utcDay, (counts.accepted.get(utcDay) ?? 0) + 1);
			counts.types.set(e.name, (counts.types.get(e.name) ?? 0) + 1);
			counts.visitors.push(e.visitor);
			if (e.name === "page_view") {
				counts.pageViews++;
				counts.pages.set(e.path, (counts.pages.get(e.path) ?? 0) + 1);
			} else if (e.name === "product_view" && e.sku) product(e.sku).views++;
			else if (e.name === "add_to_cart" && e.sku) product(e.sku).carts++;
			else if (e.name === "purchase") {
				counts.orders++;
				if (e.valueMinor !== null && (e.currency === null || e.currency === cfg.currency)) counts.revenue += e.valueMinor;
				else if (e.valueMinor !== null) counts.otherOrders++;
				for (const it of e.items) product(it.sku).units += it.qty;
			}
			if (funnelNames.has(e.name)) funnelRows.push([localDay(e.ts, cfg.timezone), e.person, e.id, e.name, e.ts]);
		}
		counts.events = fresh;
		if (outbox && outboxRows.length) {
			this.sql.exec("INSERT INTO outbox (id, body, accepted_at, next_at) SELECT value ->> 0, value ->> 1, ?, ? FROM json_each(?)", now, outbox.dueAt, JSON.stringify(outboxRows));
		}
		if (funnelRows.length) {
			this.sql.exec(
				"INSERT INTO funnel_events (day, person, id, name, ts) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
				JSON.stringify(funnelRows),
			);
		}
		return { fresh, requeued, duplicates, counts };
	}

	/**
	 * Adds calls' counter deltas to the live counters and the ledger's accepted counts, inside the caller's
	 * transaction: one statement per table (per minute for `minutes`), however many calls and names — the
	 * sums are the same as writing each call's deltas on its own.
	 */
	private writeCounts(deltas: readonly CounterDelta[]): void {
		const minutes = new Map<number, { events: number; pageViews: number; orders: number; revenue: number; otherOrders: number; visitors: Set<string> }>();
		const days = new Map<string, Set<string>>();
		const accepted = new Map<string, number>();
		const types = new Map<string, [minute: number, name: string, n: number]>();
		const pages = new Map<string, [minute: number, path: string, n: number]>();
		const products = new Map<string, [minute: number, sku: string, views: number, carts: number, units: number]>();
		for (const d of deltas) {
			if (!d.events) continue;
			let m = minutes.get(d.minute);
			if (!m) minutes.set(d.minute, (m = { events: 0, pageViews: 0, orders: 0, revenue: 0, otherOrders: 0, visitors: new Set() }));
			m.events += d.events;
			m.pageViews += d.pageViews;
			m.orders += d.orders;
			m.revenue += d.revenue;
			m.otherOrders += d.otherOrders;
			let dayVisitors = days.get(d.day);
			if (!dayVisitors) days.set(d.day, (dayVisitors = new Set()));
			for (const v of d.visitors) {
				m.visitors.add(v);
				dayVisitors.add(v);
			}
			for (const [day, n] of d.accepted) accepted.set(day, (accepted.get(day) ?? 0) + n);
			for (const [name, n] of d.types) {
				const row = types.get(`${d.minute}\u0000${name}`);
				if (row) row[2] += n;
				else types.set(`${d.minute}\u0000${name}`, [d.minute, name, n]);
			}
			for (const [path, n] of d.pages) {
				const row = pages.get(`${d.minute}\u0000${path}`);
				if (row) row[2] += n;
				else pages.set(`${d.minute}\u0000${path}`, [d.minute, path, n]);
			}
			for (const [sku, p] of d.products) {
				const row = products.get(`${d.minute}\u0000${sku}`);
				if (row) {
					row[2] += p.views;
					row[3] += p.carts;
					row[4] += p.units;
				} else products.set(`${d.minute}\u0000${sku}`, [d.minute, sku, p.views, p.carts, p.units]);
			}
		}
		for (const [day, n] of accepted) this.bump(day, "accepted", n);
		for (const [minute, m] of minutes) {
			const sketch = this.sketchOfMinute(minute);
			// A returning visitor changes no register: then the 4 KiB sketch is not rewritten.
			let changed = false;
			for (const v of m.visitors) if (hllAdd(sketch, v)) changed = true;
			this.sql.exec(
				`INSERT INTO minutes (minute, events, page_views, orders, revenue, other_orders, sketch, flushed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
				 ON CONFLICT (minute) DO UPDATE SET events = events + excluded.events, page_views = page_views + excluded.page_views,
				   orders = orders + excluded.orders, revenue = revenue + excluded.revenue, other_orders = other_orders + excluded.other_orders,
				   sketch = CASE WHEN ?8 THEN excluded.sketch ELSE sketch END, flushed = 0`,
				minute, m.events, m.pageViews, m.orders, m.revenue, m.otherOrders, sketch, changed ? 1 : 0,
			);
		}
		for (const [day, visitors] of days) {
			const sketch = this.sketchOfDay(day);
			let changed = false;
			for (const v of visitors) if (hllAdd(sketch, v)) changed = true;
			if (changed) this.sql.exec("INSERT INTO day_sketch (day, sketch) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET sketch = excluded.sketch", day, sketch);
		}
		if (types.size) {
			this.sql.exec("INSERT INTO minute_types (minute, name, n) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET n = n + excluded.n", JSON.stringify([...types.values()]));
		}
		if (pages.size) {
			this.sql.exec("INSERT INTO minute_pages (minute, path, n) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET n = n + excluded.n", JSON.stringify([...pages.values()]));
		}
		if (products.size) {
			this.sql.exec(
				`INSERT INTO minute_products (minute, sku, views, carts, units) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true
				 ON CONFLICT DO UPDATE SET views = views + excluded.views, carts = carts + excluded.carts, units = units + excluded.units`,
				JSON.stringify([...products.values()]),
			);
		}
	}

	/** Adds rejected or bot events (never stored as visits), or imported events, to a day's ledger. */
	async count(kind: Exclude<LedgerKind, "accepted">, day: string, n: number): Promise<void> {
		if (n > 0) this.bump(day, kind, n);
	}

	/**
	 * Imported events of many UTC days at once: an import slice's one ledger call (a backfill spread over
	 * 500 days made 500 `count` RPCs per slice, the slice's largest phase; bench/import). One transaction:
	 * all of the slice's days count, or none.
	 */
	async countImported(days: [day: string, n: number][]): Promise<void> {
		this.ctx.storage.transactionSync(() => {
			for (const [day, n] of days) if (n > 0) this.bump(day, "imported", n);
		});
	}

	/** Accepted, rejected, bot and imported counts for a UTC day (this object only; shards.ts sums a site's shards). */
	async ledger(day: string): Promise<Ledger> {
		const out: Ledger = { accepted: 0, rejected: 0, bot: 0, imported: 0 };
		for (const row of this.sql.exec<{ kind: string; n: number }>("SELECT kind, n FROM day_counts WHERE day = ?", day)) {
			if (row.kind === "accepted" || row.kind === "rejected" || row.kind === "bot" || row.kind === "imported") out[row.kind] = row.n;
		}
		return out;
	}

	/** This object's own windows at `now` (a shard's share of the site). */
	async partial(now: number = Date.now()): Promise<LivePartial> {
		const cfg = this.config;
		const timezone = cfg?.timezone ?? "UTC";
		const current = now - (now % MINUTE);
		const day = localDay(now, timezone);
		const from: Record<WindowName, number> = {
			m1: current - (WINDOW_MINUTES.m1 - 1) * MINUTE,
			m5: current - (WINDOW_MINUTES.m5 - 1) * MINUTE,
			m60: current - (WINDOW_MINUTES.m60 - 1) * MINUTE,
			today: dayStart(day, timezone),
		};
		const rows = this.sql
			.exec<{ minute: number; events: number; page_views: number; orders: number; revenue: number; other_orders: number; sketch: ArrayBuffer }>(
				"SELECT minute, events, page_views, orders, revenue, other_orders, sketch FROM minutes WHERE minute >= ? AND minute <= ? ORDER BY minute",
				Math.min(from.today, from.m60),
				current,
			)
			.toArray();
		// Each minute's sketch is read once; windows union the ones they cover, today has its own day sketch.
		const sketches = new Map(rows.filter((r) => r.minute >= from.m60).map((r) => [r.minute, hllFrom(r.sketch)]));
		const todaySketch = this.sql.exec<{ sketch: ArrayBuffer }>("SELECT sketch FROM day_sketch WHERE day = ?", day).toArray()[0];
		const windows = {} as Record<WindowName, WindowStats>;
		for (const w of Object.keys(from) as WindowName[]) {
			const stats = emptyWindow();
			const union = hllNew();
			for (const r of rows) {
				if (r.minute < from[w]) continue;
				stats.events += r.events;
				stats.pageViews += r.page_views;
				stats.orders += r.orders;
				stats.revenue += r.revenue;
				stats.otherCurrencyOrders += r.other_orders;
				const sketch = w === "today" ? undefined : sketches.get(r.minute);
				if (sketch) hllMerge(union, sketch);
			}
			stats.visitors = hllCount(w === "today" ? hllFrom(todaySketch?.sketch) : union);
			for (const t of this.sql.exec<{ name: string; n: number }>("SELECT name, SUM(n) AS n FROM minute_types WHERE minute >= ? AND minute <= ? GROUP BY name ORDER BY name", from[w], current)) stats.byType[t.name] = t.n;
			windows[w] = stats;
		}
		const byMinute = new Map(rows.map((r) => [r.minute, r]));
		const minutes: MinutePoint[] = [];
		for (let m = from.m60; m <= current; m += MINUTE) {
			const r = byMinute.get(m);
			const sketch = sketches.get(m);
			minutes.push({ minute: m, events: r?.events ?? 0, pageViews: r?.page_views ?? 0, visitors: sketch ? hllCount(sketch) : 0, orders: r?.orders ?? 0, revenue: r?.revenue ?? 0 });
		}
		const pages = (since: number): TopPage[] =>
			this.sql.exec<{ path: string; views: number }>("SELECT path, SUM(n) AS views FROM minute_pages WHERE minute >= ? AND minute <= ? GROUP BY path ORDER BY views DESC, path LIMIT ?", since, current, TOP_KEEP).toArray();
		const products = (since: number): TopProduct[] =>
			this.sql
				.exec<{ sku: string; views: number; carts: number; units: number }>(
					"SELECT sku, SUM(views) AS views, SUM(carts) AS carts, SUM(units) AS units FROM minute_products WHERE minute >= ? AND minute <= ? GROUP BY sku ORDER BY units DESC, carts DESC, views DESC, sku LIMIT ?",
					since, current, TOP_KEEP,
				)
				.toArray();
		const defs = await this.funnelDefs(now);
		const funnelRows = this.sql.exec<{ person: string; name: string; ts: number }>("SELECT person, name, ts FROM funnel_events WHERE day = ? ORDER BY person, ts, id", day).toArray();
		return {
			now,
			day,
			windows,
			minutes,
			topPages: { m5: pages(from.m5), m60: pages(from.m60) },
			topProducts: { m5: products(from.m5), m60: products(from.m60) },
			funnels: liveFunnels(defs.list, funnelRows),
		};
	}

	/**
	 * The site's live view at `now`: this object's windows merged with the other shards' (when the site
	 * has several), plus fulfilment and stock from D1 (re-read when older than 30 s).
	 */
	async snapshot(site: LiveSiteConfig, now: number = Date.now()): Promise<LiveSnapshot> {
		const cfg = this.configure(site, 0);
		const parts = [await this.partial(now)];
		for (let k = 1; k < cfg.shards; k++) parts.push(await shardStub(this.env, cfg.id, k).partial(now));
		const merged = mergePartials(parts);
		const commerce = await this.commerceState(cfg, now);
		const m5 = merged.windows.m5;
		const m60 = merged.windows.m60;
		return { site: cfg.id, timezone: cfg.timezone, currency: cfg.currency, shards: cfg.shards, ...merged, ...commerce, visitorsNow: m5.visitors, visitors60m: m60.visitors, events60m: m60.events };
	}

	/** WebSocket upgrade (from GET /api/v1/live, already authenticated): snapshot now, deltas after. */
	override async fetch(request: Request): Promise<Response> {
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return Response.json({ error: "upgrade_required", message: "connect with a WebSocket" }, { status: 426 });
		const header = request.headers.get("X-B2G-Live-Config");
		const parsed = header ? configSchema.safeParse(JSON.parse(header)) : null;
		if (!parsed?.success) return Response.json({ error: "invalid_request", message: "missing site configuration" }, { status: 400 });
		const cfg = this.configure(parsed.data, parsed.data.shard);
		const pair = new WebSocketPair();
		const [client, server] = [pair[0], pair[1]];
		this.ctx.acceptWebSocket(server);
		const now = Date.now();
		const snap = await this.snapshot(cfg, now);
		server.send(JSON.stringify({ type: "snapshot", data: snap }));
		// The only subscriber: later deltas can start from what it has. With others listening, deltas
		// stay relative to the last broadcast (they carry whole fields, so the newcomer converges too).
		if (this.ctx.getWebSockets().length === 1) this.lastBroadcast = snap;
		await this.ensureAlarm(now);
		// A sharded site's other objects do not call this one: poll them while anybody listens.
		if (cfg.shards > 1) this.schedulePush();
		return new Response(null, { status: 101, webSocket: client });
	}

	/** A subscriber may ask for a full snapshot again (`{"type":"snapshot"}`). */
	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		if (typeof message !== "string") return;
		let type: unknown;
		try {
			type = (JSON.parse(message) as { type?: unknown }).type;
		} catch {
			type = undefined;
		}
		if (type === "snapshot" && this.config) ws.send(JSON.stringify({ type: "snapshot", data: await this.snapshot(this.config, Date.now()) }));
		else ws.send(JSON.stringify({ type: "error", message: 'send {"type":"snapshot"} for a full snapshot; deltas arrive by themselves' }));
	}

	override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		try {
			ws.close(code, reason);
		} catch {
			// Already closed by the runtime's automatic close reply.
		}
	}

	/**
	 * Every minute: re-send unconfirmed outbox rows that are due, flush completed minutes to D1, prune,
	 * evaluate live alert rules, refresh and push to subscribers.
	 */
	override async alarm(): Promise<void> {
		const now = Date.now();
		// The outbox first, and a failing D1 flush does not throw: during a D1 outage the re-sends must go on.
		const moreDue = await this.resendOutbox(now);
		let flushed = 0;
		try {
			flushed = await this.flush(now);
		} catch (err) {
			console.error("live minute flush failed; the next alarm retries it", this.config?.id, err instanceof Error ? err.message : err);
		}
		this.prune(now);
		// Shard 0 evaluates the site's live:* rules once its minute is in D1 (the other shards' flushes
		// land within the same minute; a late one is caught by the next evaluation or the cron).
		if (flushed && this.config?.shard === 0) {
			try {
				await evaluateAlerts(this.env, this.config.id, now, "live", { metrics: (m) => m.startsWith("live:") });
			} catch (err) {
				// The cron evaluates every rule again within 10 minutes; the alarm must keep flushing.
				console.error("live alert evaluation failed", this.config.id, err instanceof Error ? err.message : err);
			}
		}
		if (this.ctx.getWebSockets().length) {
			this.commerce = null; // re-read fulfilment and stock for the minute push
			await this.push();
		}
		const pending = this.sql.exec<{ n: number }>("SELECT (SELECT COUNT(*) FROM minutes) + (SELECT COUNT(*) FROM seen) + (SELECT COUNT(*) FROM outbox) AS n").one().n;
		this.alarmScheduled = false;
		if (pending > 0 || this.ctx.getWebSockets().length) {
			// Back within a minute, sooner when an outbox row falls due (at most once a second).
			const due = this.sql.exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM outbox").one().at;
			const at = moreDue ? now + 1000 : due === null ? now + MINUTE : Math.min(now + MINUTE, Math.max(now + 1000, due + this.resendHoldbackMs()));
			await this.ctx.storage.setAlarm(at);
			this.alarmScheduled = true;
		}
	}

	/** Extra wait before re-sending while the queue is backlogged: twice the consumer's latest lag, beyond the grace period. */
	private resendHoldbackMs(): number {
		return Math.max(0, 2 * this.queueLagMs - outboxGraceMs(this.env));
	}

	/**
	 * Re-sends outbox rows due at `now` to the queue (at most OUTBOX_RESEND_LIMIT; true when more are
	 * due) and backs each one off; parks rows older than OUTBOX_MAX_AGE_MS in R2 dead-letter/ instead.
	 */
	private async resendOutbox(now: number): Promise<boolean> {
		const cfg = this.config;
		if (!cfg || this.outboxDepth === 0) return false;
		const due = this.sql
			.exec<{ id: string; body: string; accepted_at: number; sends: number }>(
				"SELECT id, body, accepted_at, sends FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?",
				now - this.resendHoldbackMs(),
				OUTBOX_RESEND_LIMIT + 1,
			)
			.toArray();
		if (!due.length) return false;
		const rows = due.slice(0, OUTBOX_RESEND_LIMIT);
		const resend: { id: string; message: MessageSendRequest<EventMessage> }[] = [];
		for (const r of rows) {
			const event = storedEventSchema.safeParse(JSON.parse(r.body));
			if (r.accepted_at >= now - OUTBOX_MAX_AGE_MS && event.success) {
				resend.push({ id: r.id, message: outboxMessage(event.data, cfg.shard) });
				continue;
			}
			// Re-sent for days without a confirmation (or unreadable): park it where the dead-letter API lists and replays it.
			const messageId = `outbox-${r.id}`;
			await this.env.ARCHIVE.put(
				deadLetterKey(cfg.id, messageId),
				JSON.stringify({ message_id: messageId, attempts: r.sends, enqueued_at: r.accepted_at, parked_at: now, reason: "outbox: not confirmed stored", body: { v: 1, event: JSON.parse(r.body), live: cfg.shard } }),
				{ httpMetadata: { contentType: "application/json" } },
			);
			this.outboxDepth = Math.max(0, this.outboxDepth - this.sql.exec("DELETE FROM outbox WHERE id = ?", r.id).rowsWritten);
		}
		let sent = 0;
		try {
			for (const chunk of chunkForSend(resend.map((r) => r.message))) {
				await this.env.EVENTS_QUEUE.sendBatch(chunk);
				sent += chunk.length;
			}
		} catch (err) {
			console.error(`outbox re-send failed after ${sent} of ${resend.length}; the next alarm retries`, cfg.id, err instanceof Error ? err.message : err);
		}
		if (sent) this.sql.exec("INSERT INTO meta (k, v) VALUES ('outbox_resent', ?) ON CONFLICT (k) DO UPDATE SET v = CAST(v AS INTEGER) + CAST(excluded.v AS INTEGER)", String(sent));
		// Next re-send of each: grace · 2^sends after this one, at most an hour (resendDelayMs).
		this.sql.exec(
			"UPDATE outbox SET sends = sends + 1, next_at = ?1 + MIN(?2, ?3 * (1 << MIN(sends + 1, 20))) WHERE id IN (SELECT value FROM json_each(?4))",
			now,
			OUTBOX_MAX_BACKOFF_MS,
			outboxGraceMs(this.env),
			JSON.stringify(resend.slice(0, sent).map((r) => r.id)),
		);
		return due.length > OUTBOX_RESEND_LIMIT;
	}

	/**
	 * Writes every completed, not yet flushed minute to D1 `live_minutes` (an upsert of whole values, so
	 * a repeated flush is harmless). Returns the minutes written.
	 */
	async flush(now: number = Date.now()): Promise<number> {
		const cfg = this.config;
		if (!cfg) return 0;
		const current = now - (now % MINUTE);
		const rows = this.sql
			.exec<{ minute: number; events: number; page_views: number; orders: number; revenue: number; sketch: ArrayBuffer }>(
				"SELECT minute, events, page_views, orders, revenue, sketch FROM minutes WHERE flushed = 0 AND minute < ? ORDER BY minute LIMIT 2000",
				current,
			)
			.toArray();
		if (!rows.length) return 0;
		const payload = rows.map((r) => [r.minute, r.events, r.page_views, hllCount(hllFrom(r.sketch)), r.orders, r.revenue]);
		await this.env.DB.prepare(
			`INSERT INTO live_minutes (site, shard, minute, events, page_views, visitors, orders, revenue_minor)
			 SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?3) WHERE true
			 ON CONFLICT (site, minute, shard) DO UPDATE SET events = excluded.events, page_views = excluded.page_views,
			   visitors = excluded.visitors, orders = excluded.orders, revenue_minor = excluded.revenue_minor`,
		)
			.bind(cfg.id, cfg.shard, JSON.stringify(payload))
			.run();
		// Only the completed minutes just written; the current minute is never flushed, so no record raced us.
		this.sql.exec("UPDATE minutes SET flushed = 1 WHERE flushed = 0 AND minute IN (SELECT value FROM json_each(?))", JSON.stringify(rows.map((r) => r.minute)));
		return rows.length;
	}

	private prune(now: number): void {
		const current = now - (now % MINUTE);
		this.sql.exec("DELETE FROM minutes WHERE minute < ? AND flushed = 1", now - MINUTE_RETENTION_MS);
		this.sql.exec("DELETE FROM minute_types WHERE minute < ?", now - MINUTE_RETENTION_MS);
		this.sql.exec("DELETE FROM minute_pages WHERE minute < ?", current - HOUR);
		this.sql.exec("DELETE FROM minute_products WHERE minute < ?", current - HOUR);
		const yesterday = localDay(now - 86_400_000, this.config?.timezone ?? "UTC");
		this.sql.exec("DELETE FROM day_sketch WHERE day < ?", yesterday);
		this.sql.exec("DELETE FROM funnel_events WHERE day < ?", yesterday);
		this.sql.exec("DELETE FROM seen WHERE received_at < ?", now - SEEN_RETENTION_MS);
		this.sql.exec("DELETE FROM buckets WHERE full_at <= ?", now);
		this.buckets.reset(); // rows went behind the cache's back
	}

	/** Pushes now, or once the 1-second spacing allows; one pending push at a time. */
	private schedulePush(): void {
		if (this.pushTimer !== null || !this.ctx.getWebSockets().length) return;
		const wait = Math.max(0, this.lastPushAt + PUSH_INTERVAL_MS - Date.now());
		this.pushTimer = setTimeout(() => {
			this.pushTimer = null;
			this.ctx.waitUntil(this.push());
		}, wait);
	}

	private async push(): Promise<void> {
		const sockets = this.ctx.getWebSockets();
		const cfg = this.config;
		if (!sockets.length || !cfg) return;
		this.lastPushAt = Date.now();
		const snap = await this.snapshot(cfg, this.lastPushAt);
		// After hibernation the last broadcast is gone: send a whole snapshot, which is always correct.
		const message = this.lastBroadcast ? { type: "delta", data: snapshotDelta(this.lastBroadcast, snap) } : { type: "snapshot", data: snap };
		this.lastBroadcast = snap;
		if (message.type === "delta" && Object.keys(message.data).length === 0) return this.pollShards(cfg);
		const text = JSON.stringify(message);
		for (const ws of sockets) {
			try {
				ws.send(text);
			} catch {
				// A socket closing under us; the runtime drops it.
			}
		}
		this.pollShards(cfg);
	}

	private pollShards(cfg: StoredConfig): void {
		if (cfg.shards > 1) this.schedulePush();
	}

	private configure(site: LiveSiteConfig, shard: number): StoredConfig {
		const next: StoredConfig = { id: site.id, timezone: site.timezone, currency: site.currency, shards: site.shards, shard };
		const c = this.config;
		if (!c || c.id !== next.id || c.timezone !== next.timezone || c.currency !== next.currency || c.shards !== next.shards || c.shard !== next.shard) {
			this.sql.exec("INSERT INTO meta (k, v) VALUES ('config', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", JSON.stringify(next));
			this.config = next;
		}
		return next;
	}

	private sketchOfMinute(minute: number): Uint8Array {
		if (this.minuteSketch?.minute !== minute) {
			const row = this.sql.exec<{ sketch: ArrayBuffer }>("SELECT sketch FROM minutes WHERE minute = ?", minute).toArray()[0];
			this.minuteSketch = { minute, sketch: hllFrom(row?.sketch) };
		}
		return this.minuteSketch.sketch;
	}

	private sketchOfDay(day: string): Uint8Array {
		if (this.daySketch?.day !== day) {
			const row = this.sql.exec<{ sketch: ArrayBuffer }>("SELECT sketch FROM day_sketch WHERE day = ?", day).toArray()[0];
			this.daySketch = { day, sketch: hllFrom(row?.sketch) };
		}
		return this.daySketch.sketch;
	}

	private async funnelDefs(now: number): Promise<FunnelDefs> {
		if (!this.funnels || now - this.funnels.at > FUNNEL_REFRESH_MS || now < this.funnels.at) {
			this.funnels = { defs: await loadFunnelDefs(this.env.DB, this.config?.id ?? ""), at: now };
		}
		return this.funnels.defs;
	}

	private async commerceState(cfg: StoredConfig, now: number): Promise<Commerce> {
		const site = cfg.id;
		const [dayFrom, dayTo] = dayBounds(localDay(now, cfg.timezone), cfg.timezone);
		// A cached state of another local day (midnight passed, or a caller's `now` far away) is stale too.
		if (this.commerce && now - this.commerce.fulfilment.refreshedAt < COMMERCE_REFRESH_MS && now >= this.commerce.fulfilment.refreshedAt && this.commerce.fulfilment.refreshedAt >= dayFrom) return this.commerce;
		const [sales, pending, low] = await Promise.all([
			this.env.DB.prepare(
				"SELECT COUNT(*) AS n, COALESCE(SUM(total_minor - tax_minor), 0) AS revenue FROM orders WHERE site = ? AND placed_at >= ? AND placed_at < ? AND status <> 'cancelled' AND currency = ?",
			)
				.bind(site, dayFrom, dayTo, cfg.currency)
				.first<{ n: number; revenue: number }>(),
			this.env.DB.prepare("SELECT COUNT(*) AS n, MIN(placed_at) AS oldest FROM orders WHERE site = ? AND shipped_at IS NULL AND status IN ('placed', 'paid')").bind(site).first<{ n: number; oldest: number | null }>(),
			this.env.DB.prepare(
				`SELECT i.sku AS sku, i.stock AS stock, i.reorder_point AS reorder_point FROM inventory_snapshots i
				 WHERE i.site = ?1 AND i.reorder_point IS NOT NULL AND i.stock < i.reorder_point
				   AND i.taken_at = (SELECT MAX(j.taken_at) FROM inventory_snapshots j WHERE j.site = ?1 AND j.sku = i.sku)
				 ORDER BY CAST(i.stock AS REAL) / i.reorder_point, i.sku`,
			)
				.bind(site)
				.all<{ sku: string; stock: number; reorder_point: number }>(),
		]);
		const p = pending ?? { n: 0, oldest: null };
		const lowRows = low.results;
		this.commerce = {
			salesToday: { orders: sales?.n ?? 0, revenue: sales?.revenue ?? 0, refreshedAt: now },
			fulfilment: { pending: p.n, oldestPlacedAt: p.oldest, refreshedAt: now },
			lowStock: { count: lowRows.length, items: lowRows.slice(0, 20).map((r) => ({ sku: r.sku, stock: r.stock, reorderPoint: r.reorder_point })), refreshedAt: now },
		};
		return this.commerce;
	}

	private bump(day: string, kind: LedgerKind, n: number): void {
		this.sql.exec("INSERT INTO day_counts (day, kind, n) VALUES (?, ?, ?) ON CONFLICT (day, kind) DO UPDATE SET n = n + excluded.n", day, kind, n);
	}

	private async ensureAlarm(now: number): Promise<void> {
		if (this.alarmScheduled) return;
		if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + MINUTE);
		this.alarmScheduled = true;
	}
}
