/**
 * The ingest outbox (issue 14, finding 3): events acknowledged with 202 were lost when the process died
 * between the 202 and the queue consumer (30–102 of 20,000 in a local kill test), and a resend of them
 * answered `duplicates`. Now LiveSite keeps each accepted event until the consumer confirms it stored,
 * its alarm re-sends unconfirmed ones, and a resend of an accepted-but-unstored event is accepted.
 *
 * A lost queue message is simulated by recording events in the LiveSite object directly (what /e does
 * before its queue send) and never sending them; the Queue, D1 and the object are the real local ones.
 */
import { createExecutionContext, createMessageBatch, evictDurableObject, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../workers/index";
import { d1WriteFault } from "../workers/pipeline/faults";
import { eventMessageSchema, type EventMessage, type StoredEvent } from "../workers/pipeline/message";
import { OUTBOX_GRACE_MS, OUTBOX_MAX_ROWS, outboxGraceMs, resendDelayMs } from "../workers/pipeline/outbox";
import type { LiveSite } from "../workers/realtime/live-site";
import { shardStub, siteLedger } from "../workers/realtime/shards";
import { getJson, listKeys, pageView, postEvents, storedEvent, waitFor } from "./helpers";

const demo = { id: "demo", timezone: "UTC", currency: "EUR", shards: 1 };
const today = () => new Date().toISOString().slice(0, 10);

async function storedCount(ids: string[]): Promise<number> {
	const r = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site = 'demo' AND id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first<{ n: number }>();
	return r?.n ?? 0;
}

/** Outbox rows of the demo object among `ids`. */
async function outboxRows(ids: string[]): Promise<{ id: string; sends: number; next_at: number; accepted_at: number }[]> {
	return runInDurableObject(shardStub(env, "demo", 0), (_o: LiveSite, state) =>
		state.storage.sql
			.exec<{ id: string; sends: number; next_at: number; accepted_at: number }>("SELECT id, sends, next_at, accepted_at FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", JSON.stringify(ids))
			.toArray(),
	);
}

/** Events of today (a minute ago), as /e would have enriched them. */
function todays(n: number): StoredEvent[] {
	const ts = Date.now() - 60_000;
	return Array.from({ length: n }, () => storedEvent({ ts, received_at: ts + 500 }));
}

describe("outbox", () => {
	it("re-sends a 202'd event whose queue message was never consumed, and it is stored exactly once", async () => {
		const live = shardStub(env, "demo", 0);
		const events = todays(3);
		const ids = events.map((e) => e.id);
		// Accepted 2 minutes ago (past the 60 s grace), and the queue message lost: never sent.
		const acceptedAt = Date.now() - 2 * 60_000;
		expect(await live.accept(demo, events, acceptedAt, 0)).toEqual({ fresh: 3, requeued: 0, duplicates: [], full: false });
		expect((await outboxRows(ids)).map((r) => [r.sends, r.next_at])).toEqual(ids.map(() => [0, acceptedAt + OUTBOX_GRACE_MS]));
		expect(await storedCount(ids)).toBe(0);

		expect(await runDurableObjectAlarm(live)).toBe(true);
		expect((await live.outboxStatus()).resent).toBe(3); // the first re-sends of this file's storage
		// The real queue delivers the re-sent messages; the consumer stores them and confirms them to the outbox.
		await waitFor(async () => (await storedCount(ids)) === 3 && (await outboxRows(ids)).length === 0);
		const rows = await env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM events WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first();
		expect(rows).toEqual({ n: 3, d: 3 });
		// Archived once as well (the consumer archives what it stores).
		await waitFor(async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE archived_at IS NOT NULL AND id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first<{ n: number }>())?.n === 3);
	});

	it("answers a resend of an accepted-but-unstored event as accepted (and stores it), a resend of a stored one as a duplicate", async () => {
		const wire = [pageView(), pageView()];
		const ts = Number(wire[0]?.ts);
		const day = new Date(ts).toISOString().slice(0, 10);
		const before = await siteLedger(env, "demo", 1, day);
		// /e accepted these before (in the outbox) but the queue message never arrived.
		await shardStub(env, "demo", 0).accept(demo, wire.map((w) => storedEvent({ id: String(w.id), ts: Number(w.ts), received_at: Date.now() })), Date.now(), 0);

		const resend = await postEvents({ site: "demo", events: wire });
		expect(resend.status).toBe(202);
		expect(await resend.json()).toEqual({ accepted: 2, duplicates: 0, bots: 0 });
		const ids = wire.map((w) => String(w.id));
		await waitFor(async () => (await storedCount(ids)) === 2 && (await outboxRows(ids)).length === 0);

		// Stored and confirmed: now it is a duplicate. The ledger counted each id once (2, not 4).
		expect(await (await postEvents({ site: "demo", events: wire })).json()).toEqual({ accepted: 0, duplicates: 2, bots: 0 });
		expect((await siteLedger(env, "demo", 1, day)).accepted - before.accepted).toBe(2);
		// Two copies of one id in a batch: the second is a duplicate of the first, never a second acceptance.
		const twin = pageView();
		expect(await (await postEvents({ site: "demo", events: [twin, twin] })).json()).toEqual({ accepted: 1, duplicates: 1, bots: 0 });
	});

	it("clears confirmed rows, through confirm() and through the queue consumer's confirmation", async () => {
		const live = shardStub(env, "demo", 0);
		const events = todays(4);
		const [a, b, c, d] = events.map((e) => e.id) as [string, string, string, string];
		await live.accept(demo, events, Date.now(), 0);
		expect((await outboxRows([a, b, c, d])).length).toBe(4);
		// An unknown id confirms nothing.
		expect(await live.confirm([a, b, "not-in-the-outbox"])).toBe(2);
		expect((await outboxRows([a, b, c, d])).map((r) => r.id)).toEqual([c, d].sort());

		// The consumer confirms a batch after its D1 write, to the shard named in each message.
		const batch = createMessageBatch<EventMessage>(
			"b2g-events",
			events.slice(2).map((event, i) => ({ id: `ob-${i}`, timestamp: new Date(), attempts: 1, body: { v: 1, event, live: 0 } })),
		);
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(2);
		expect(await outboxRows([a, b, c, d])).toEqual([]);
		expect(await storedCount([c, d])).toBe(2);
	});

	it("survives a D1 outage that outlives the queue's retries: the alarm re-sends (with backoff) until stored, no replay needed", async () => {
		const live = shardStub(env, "demo", 0);
		const events = todays(2);
		const ids = events.map((e) => e.id);
		await live.accept(demo, events, Date.now() - 2 * 60_000, 0);
		await env.DB.exec("ALTER TABLE events RENAME TO events_offline");
		let restored = false;
		try {
			const t0 = Date.now();
			await runDurableObjectAlarm(live);
			const t1 = Date.now();
			// Re-sent once; next re-send grace · 2^1 = 120 s after this one (resendDelayMs).
			const rows = await outboxRows(ids);
			expect(rows.map((r) => r.sends)).toEqual([1, 1]);
			for (const r of rows) {
				expect(r.next_at).toBeGreaterThanOrEqual(t0 + 120_000);
				expect(r.next_at).toBeLessThanOrEqual(t1 + 120_000);
			}
			// With no backoff in tests the queue gives up and parks the messages (RETRY_BASE_SECONDS=0, 6 retries).
			await waitFor(async () => (await deadLettersOf(ids)) === 2);
			await env.DB.exec("ALTER TABLE events_offline RENAME TO events");
			restored = true;
		} finally {
			if (!restored) await env.DB.exec("ALTER TABLE events_offline RENAME TO events");
		}
		expect(await storedCount(ids)).toBe(0);
		expect((await outboxRows(ids)).length).toBe(2);
		// Time passes (the row falls due again): the alarm's next re-send stores them.
		await runInDurableObject(live, (_o: LiveSite, state) => state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids)));
		await runDurableObjectAlarm(live);
		await waitFor(async () => (await storedCount(ids)) === 2 && (await outboxRows(ids)).length === 0);
		// GET /api/v1/health/pipeline shows the outbox depth.
		const health = await getJson<{ outbox: number; outbox_oldest_accepted_at: number | null; outbox_resent: number }>(`/api/v1/health/pipeline?site=demo&date=${today()}`);
		expect(health.status).toBe(200);
		// 3 re-sends in the first test, 2 + 2 here; nothing of this test is left in the outbox.
		expect(health.body.outbox_resent).toBe(7);
		expect(typeof health.body.outbox).toBe("number");
	});

	it("holds re-sends back while the queue is merely backlogged (twice the consumer's lag beyond the grace)", async () => {
		const live = shardStub(env, "demo", 0);
		const now = Date.now();
		const [slow] = todays(1) as [StoredEvent];
		const waiting = todays(2);
		// A first-time delivery confirmed 100 s after acceptance: hold-back = 2 × 100 s − 60 s grace = 140 s.
		await live.accept(demo, [slow], now - 100_000, 0);
		expect(await live.confirm([slow.id])).toBe(1);
		// Accepted 120 s ago: due 60 s ago by the grace period alone, but not 140 s ago: no re-send yet.
		await live.accept(demo, waiting, now - 120_000, 0);
		const resentBefore = (await live.outboxStatus()).resent;
		await runDurableObjectAlarm(live);
		expect((await live.outboxStatus()).resent).toBe(resentBefore);
		expect((await outboxRows(waiting.map((e) => e.id))).map((r) => r.sends)).toEqual([0, 0]);
		// The consumer catches up (a confirmation after ~0 s): the hold-back goes and the alarm re-sends them.
		const [quick] = todays(1) as [StoredEvent];
		await live.accept(demo, [quick], Date.now(), 0);
		await live.confirm([quick.id]);
		await runDurableObjectAlarm(live);
		expect((await live.outboxStatus()).resent).toBe(resentBefore + 2);
		await waitFor(async () => (await outboxRows(waiting.map((e) => e.id))).length === 0);
	});

	it("queues what /e accepts itself, after the commit and off the response path: stored and confirmed without a caller's send", async () => {
		const live = shardStub(env, "demo", 0);
		const events = todays(3);
		const ids = events.map((e) => e.id);
		const resentBefore = (await live.outboxStatus()).resent;
		// Two calls while the first send may still be under way: the second's events ride on the next send.
		expect(await live.accept(demo, events.slice(0, 2), Date.now(), 0, { send: true })).toEqual({ fresh: 2, requeued: 0, duplicates: [], full: false });
		// events[1] again: re-queued while in the outbox (a duplicate if the consumer already confirmed it).
		const second = await live.accept(demo, events.slice(1), Date.now(), 0, { send: true });
		expect([second.fresh, second.requeued + second.duplicates.length, second.full]).toEqual([1, 1, false]);
		await waitFor(async () => (await storedCount(ids)) === 3 && (await outboxRows(ids)).length === 0);
		// Stored once each, and not through the alarm's re-send.
		const rows = await env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM events WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first();
		expect(rows).toEqual({ n: 3, d: 3 });
		expect((await live.outboxStatus()).resent).toBe(resentBefore);
	});

	it("keeps its outbox across a restart of the object", async () => {
		const live = shardStub(env, "demo", 0);
		const events = todays(2);
		const ids = events.map((e) => e.id);
		await live.accept(demo, events, Date.now(), 0);
		await evictDurableObject(live);
		expect((await outboxRows(ids)).length).toBe(2);
		// The fresh instance counted its depth from storage: confirming the two takes them off.
		const status = await shardStub(env, "demo", 0).outboxStatus();
		expect(status.depth).toBeGreaterThanOrEqual(2);
		expect(await shardStub(env, "demo", 0).confirm(ids)).toBe(2);
		expect((await shardStub(env, "demo", 0).outboxStatus()).depth).toBe(status.depth - 2);
	});

	it("is bounded: when full, /e answers 503 with Retry-After and records nothing", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('outbox-full', 'Full outbox', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").run();
		const live = shardStub(env, "outbox-full", 0);
		// Fill it to the bound (rows never due, so the alarm leaves them alone).
		await runInDurableObject(live, (_o: LiveSite, state) =>
			state.storage.sql.exec(
				"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO outbox (id, body, accepted_at, next_at) SELECT 'filler-' || i, '{}', 0, 9e15 FROM n",
				OUTBOX_MAX_ROWS,
			),
		);
		expect((await live.outboxStatus()).depth).toBe(OUTBOX_MAX_ROWS);
		const wire = [pageView()];
		const res = await postEvents({ site: "outbox-full", events: wire });
		expect(res.status).toBe(503);
		expect(res.headers.get("Retry-After")).toBe("60");
		expect(await res.json()).toMatchObject({ error: "outbox_full", fields: [{ field: "events" }] });
		expect((await siteLedger(env, "outbox-full", 1, new Date(Number(wire[0]?.ts)).toISOString().slice(0, 10))).accepted).toBe(0);
		// Once there is room again the same batch is accepted as new.
		await runInDurableObject(live, (_o: LiveSite, state) => state.storage.sql.exec("DELETE FROM outbox WHERE id LIKE 'filler-%'"));
		await live.outboxStatus();
		expect(await (await postEvents({ site: "outbox-full", events: wire })).json()).toEqual({ accepted: 1, duplicates: 0, bots: 0 });
	});
});

/** How many of `ids` are parked under dead-letter/site=demo/ (parked records name their event id in the body). */
async function deadLettersOf(ids: string[]): Promise<number> {
	let n = 0;
	for (const key of await listKeys(env.ARCHIVE, "dead-letter/site=demo/")) {
		const obj = await env.ARCHIVE.get(key);
		const record = obj ? ((await obj.json()) as { body?: { event?: { id?: string } } }) : null;
		if (record?.body?.event?.id && ids.includes(record.body.event.id)) n++;
	}
	return n;
}

describe("outbox pieces", () => {
	it("backs re-sends off: grace · 2^sends, at most an hour", () => {
		expect([0, 1, 2, 5, 6, 30].map((s) => resendDelayMs(s, 60_000))).toEqual([60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000]);
		expect(outboxGraceMs({ ...env, OUTBOX_GRACE_SECONDS: "5" })).toBe(5_000);
		expect(outboxGraceMs({ ...env, OUTBOX_GRACE_SECONDS: "zero" })).toBe(OUTBOX_GRACE_MS);
		expect(outboxGraceMs(env)).toBe(OUTBOX_GRACE_MS);
	});

	it("reads the outbox shard of a message, and still reads messages without one", () => {
		const event = storedEvent();
		expect(eventMessageSchema.parse({ v: 1, event, live: 3 }).live).toBe(3);
		expect(eventMessageSchema.parse({ v: 1, event }).live).toBeUndefined();
		expect(eventMessageSchema.safeParse({ v: 1, event, live: 16 }).success).toBe(false);
	});

	it("injects D1 write faults only when FAULT_D1_WRITE_RATE is set: half refused, half lost after commit", () => {
		expect(d1WriteFault(env, () => 0)).toBeNull(); // the default config never injects
		const tenPct = { ...env, FAULT_D1_WRITE_RATE: "0.1" };
		expect(d1WriteFault(tenPct, () => 0.04)).toBe("refuse");
		expect(d1WriteFault(tenPct, () => 0.07)).toBe("lose");
		expect(d1WriteFault(tenPct, () => 0.1)).toBeNull();
		expect(d1WriteFault({ ...env, FAULT_D1_WRITE_RATE: "nope" }, () => 0)).toBeNull();
	});

	it("keeps the fault route closed unless FAULT_INJECTION is set", async () => {
		const res = await worker.fetch(new Request("https://b2g.test/__dev/faults/live-restart?site=demo", { method: "POST" }), env, createExecutionContext());
		expect(res.status).toBe(404);
	});
});
