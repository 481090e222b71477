/**
 * LiveSite: one Durable Object per site (SQLite storage, native RPC). It is the ingest ledger and the
 * live counter:
 *  - remembers accepted event ids for 8 days, so a resent event is neither counted twice live nor in
 *    the accepted total that reconciliation compares with D1 and R2;
 *  - counts accepted / rejected / bot events per UTC day (by event time);
 *  - keeps events and distinct visitors per minute (by receive time) for the last hour.
 * An alarm every minute prunes what has aged out. The real-time engine issue grows this object
 * (windows, funnels, WebSocket push, shards) on the same design.
 */
import { DurableObject } from "cloudflare:workers";
import { migrateDurableObject } from "../lib/do-migrations";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Longer than the 7-day acceptance window plus 1 day of clock skew. */
const SEEN_RETENTION_MS = 8 * 86_400_000 + HOUR;

export interface LiveEvent {
	id: string;
	visitor: string;
	/** UTC day of the event's own timestamp, YYYY-MM-DD. */
	day: string;
}

export type LedgerKind = "accepted" | "rejected" | "bot" | "imported";

export interface Ledger {
	accepted: number;
	rejected: number;
	bot: number;
	/** New events stored by the bulk import (history backfill), which bypasses /e. */
	imported: number;
}

export interface MinutePoint {
	/** Start of the minute, epoch ms UTC. */
	minute: number;
	events: number;
	visitors: number;
}

export interface RealtimeSnapshot {
	now: number;
	/** Distinct visitors with an event in the last 5 minutes. */
	visitorsNow: number;
	visitors60m: number;
	events60m: number;
	/** 60 points, oldest first, the last one being the current (partial) minute. */
	minutes: MinutePoint[];
}

const MIGRATIONS = [
	`CREATE TABLE seen (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL) WITHOUT ROWID;
	 CREATE INDEX seen_received ON seen (received_at);
	 CREATE TABLE day_counts (day TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, kind)) WITHOUT ROWID;
	 CREATE TABLE minute_events (minute INTEGER PRIMARY KEY, events INTEGER NOT NULL);
	 CREATE TABLE minute_visitors (minute INTEGER NOT NULL, visitor TEXT NOT NULL, PRIMARY KEY (minute, visitor)) WITHOUT ROWID;`,
];

export class LiveSite extends DurableObject<Env> {
	private readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => this.migrate());
	}

	private migrate(): void {
		migrateDurableObject(this.ctx, MIGRATIONS);
	}

	/**
	 * Records accepted events. Ids seen in the last 8 days are ignored, so at-least-once senders do
	 * not inflate counts. Returns how many were new.
	 */
	async record(events: LiveEvent[], now: number = Date.now()): Promise<{ fresh: number; duplicates: number }> {
		const minute = now - (now % MINUTE);
		let fresh = 0;
		this.ctx.storage.transactionSync(() => {
			const perDay = new Map<string, number>();
			for (const e of events) {
				const inserted = this.sql.exec("INSERT INTO seen (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", e.id, now).rowsWritten;
				if (!inserted) continue;
				fresh++;
				perDay.set(e.day, (perDay.get(e.day) ?? 0) + 1);
				this.sql.exec("INSERT INTO minute_visitors (minute, visitor) VALUES (?, ?) ON CONFLICT DO NOTHING", minute, e.visitor);
			}
			for (const [day, n] of perDay) this.bump(day, "accepted", n);
			if (fresh) this.sql.exec("INSERT INTO minute_events (minute, events) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET events = events + excluded.events", minute, fresh);
		});
		await this.ensureAlarm(now);
		return { fresh, duplicates: events.length - fresh };
	}

	/** Adds rejected or bot events (never stored as visits), or imported events, to a day's ledger. */
	async count(kind: Exclude<LedgerKind, "accepted">, day: string, n: number): Promise<void> {
		if (n > 0) this.bump(day, kind, n);
	}

	/** Accepted, rejected and bot counts for a UTC day. */
	async ledger(day: string): Promise<Ledger> {
		const out: Ledger = { accepted: 0, rejected: 0, bot: 0, imported: 0 };
		for (const row of this.sql.exec<{ kind: string; n: number }>("SELECT kind, n FROM day_counts WHERE day = ?", day)) {
			if (row.kind === "accepted" || row.kind === "rejected" || row.kind === "bot" || row.kind === "imported") out[row.kind] = row.n;
		}
		return out;
	}

	/** Per-minute events and visitors for the last hour, plus visitors in the last 5 minutes. */
	async snapshot(now: number = Date.now()): Promise<RealtimeSnapshot> {
		const current = now - (now % MINUTE);
		const first = current - 59 * MINUTE;
		const events = new Map<number, number>();
		for (const r of this.sql.exec<{ minute: number; events: number }>("SELECT minute, events FROM minute_events WHERE minute >= ?", first)) events.set(r.minute, r.events);
		const visitors = new Map<number, number>();
		for (const r of this.sql.exec<{ minute: number; n: number }>("SELECT minute, COUNT(*) AS n FROM minute_visitors WHERE minute >= ? GROUP BY minute", first)) visitors.set(r.minute, r.n);
		const distinct = (from: number) => this.sql.exec<{ n: number }>("SELECT COUNT(DISTINCT visitor) AS n FROM minute_visitors WHERE minute >= ?", from).one().n;
		const minutes: MinutePoint[] = [];
		for (let m = first; m <= current; m += MINUTE) minutes.push({ minute: m, events: events.get(m) ?? 0, visitors: visitors.get(m) ?? 0 });
		return {
			now,
			visitorsNow: distinct(current - 4 * MINUTE),
			visitors60m: distinct(first),
			events60m: minutes.reduce((s, p) => s + p.events, 0),
			minutes,
		};
	}

	/** Prunes minute data older than an hour and ids older than the dedupe window. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		const cutoff = now - (now % MINUTE) - HOUR;
		this.sql.exec("DELETE FROM minute_events WHERE minute < ?", cutoff);
		this.sql.exec("DELETE FROM minute_visitors WHERE minute < ?", cutoff);
		this.sql.exec("DELETE FROM seen WHERE received_at < ?", now - SEEN_RETENTION_MS);
		// Keep ticking while there is anything left to age out.
		const pending = this.sql.exec<{ n: number }>("SELECT (SELECT COUNT(*) FROM minute_events) + (SELECT COUNT(*) FROM seen) AS n").one().n;
		if (pending > 0) await this.ctx.storage.setAlarm(now + MINUTE);
	}

	private bump(day: string, kind: LedgerKind, n: number): void {
		this.sql.exec("INSERT INTO day_counts (day, kind, n) VALUES (?, ?, ?) ON CONFLICT (day, kind) DO UPDATE SET n = n + excluded.n", day, kind, n);
	}

	private async ensureAlarm(now: number): Promise<void> {
		if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + MINUTE);
	}
}
