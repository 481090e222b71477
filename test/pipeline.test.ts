/** Queue consumer: D1 + R2 exactly once, R2 layout, retry with backoff, dead letters and replay. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../workers/index";
import { archiveEvents, storeEvents } from "../workers/pipeline/archive";
import type { EventMessage, StoredEvent } from "../workers/pipeline/message";
import { api, getJson, listKeys, pageView, postEvents, purchase, readArchive, storedEvent, waitFor } from "./helpers";

const stored = storedEvent;

function batchOf(events: StoredEvent[], attempts = 1) {
	return createMessageBatch<EventMessage>(
		"b2g-events",
		events.map((event, i) => ({ id: `m-${event.id}-${i}`, timestamp: new Date(), attempts, body: { v: 1, event } })),
	);
}

async function runConsumer(events: StoredEvent[], attempts = 1) {
	const batch = batchOf(events, attempts);
	const ctx = createExecutionContext();
	await worker.queue(batch, env);
	return getQueueResult(batch, ctx);
}

async function countIds(ids: string[]): Promise<number> {
	const r = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first<{ n: number }>();
	return r?.n ?? 0;
}

/** Makes the next D1 event insert fail for real (no such table) until restored. */
async function breakEventsTable() {
	await env.DB.exec("ALTER TABLE events RENAME TO events_offline");
}
async function restoreEventsTable() {
	await env.DB.exec("ALTER TABLE events_offline RENAME TO events");
}

describe("queue consumer", () => {
	it("stores and archives a batch, and a redelivered batch changes nothing", async () => {
		const events = [stored(), stored({ name: "purchase", order_id: "o-9", value_minor: 5990, currency: "EUR" }), stored()];
		const first = await runConsumer(events);
		expect(first.explicitAcks).toHaveLength(3);
		expect(await countIds(events.map((e) => e.id))).toBe(3);
		const keysAfterFirst = await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-20/");
		const second = await runConsumer(events, 2);
		expect(second.explicitAcks).toHaveLength(3);
		expect(await countIds(events.map((e) => e.id))).toBe(3);
		expect(await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-20/")).toEqual(keysAfterFirst);
	});

	it("writes gzipped NDJSON under raw/site=<site>/dt=<day>/hour=<HH>/<batch>.ndjson.gz, split by event hour", async () => {
		const a = stored({ site: "demo", ts: Date.UTC(2026, 10, 21, 23, 59, 59) });
		const b = stored({ site: "demo", ts: Date.UTC(2026, 10, 22, 0, 0, 1), props: { sku: "CREA-300", note: "ünïcode ✓" } });
		await runConsumer([a, b]);
		const day1 = await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-21/");
		const day2 = await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-22/");
		expect(day1).toHaveLength(1);
		expect(day2).toHaveLength(1);
		expect(day1[0]).toMatch(/^raw\/site=demo\/dt=2026-11-21\/hour=23\/[0-9a-f-]{36}\.ndjson\.gz$/);
		expect(day2[0]).toMatch(/^raw\/site=demo\/dt=2026-11-22\/hour=00\//);
		const records = await readArchive(env.ARCHIVE, day2[0] as string);
		expect(records).toEqual([b]);
		const head = await env.ARCHIVE.head(day2[0] as string);
		expect(head?.customMetadata).toMatchObject({ count: "1", site: "demo", dt: "2026-11-22", hour: "00" });
	});

	it("stores every column as given and reports which events were new (of two copies in one batch, the first)", async () => {
		const a = stored({ customer_id: "c-7", value_minor: 4250, currency: "EUR", props: { items: [{ sku: "A", qty: 2 }], note: "ü ✓ \"q\"" }, utm_campaign: "jan'26" });
		const b = stored();
		expect(await storeEvents(env.DB, [a, { ...a, name: "changed" }, b])).toEqual([true, false, true]);
		expect(await storeEvents(env.DB, [b, a])).toEqual([false, false]);
		const row = await env.DB.prepare("SELECT * FROM events WHERE site = ? AND id = ?").bind(a.site, a.id).first<Record<string, unknown>>();
		expect({ ...row, props: JSON.parse(String(row?.props)) }).toEqual({ ...a, archive_key: null, archived_at: null });
		expect(typeof row?.ts).toBe("number");
	});

	it("rewrites the same object when a crash hit between the R2 put and the D1 stamp", async () => {
		const events = [stored({ ts: Date.UTC(2026, 10, 19, 8) }), stored({ ts: Date.UTC(2026, 10, 19, 8, 30) })];
		await storeEvents(env.DB, events);
		await archiveEvents(env.DB, env.ARCHIVE, events);
		const keys = await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-19/");
		expect(keys).toHaveLength(1);
		// Simulate the crash: the object exists but the rows were never stamped.
		await env.DB.prepare("UPDATE events SET archived_at = NULL WHERE archive_key = ?").bind(keys[0] as string).run();
		await archiveEvents(env.DB, env.ARCHIVE, events);
		expect(await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-19/")).toEqual(keys);
		expect((await readArchive(env.ARCHIVE, keys[0] as string)).map((r) => r.id).sort()).toEqual(events.map((e) => e.id).sort());
	});

	it("retries every message with backoff while D1 fails, then stores them once it recovers", async () => {
		const events = [stored(), stored()];
		await breakEventsTable();
		try {
			const failed = await runConsumer(events, 1);
			expect(failed.explicitAcks).toEqual([]);
			expect(failed.retryMessages.map((m) => m.msgId).sort()).toEqual(events.map((e, i) => `m-${e.id}-${i}`).sort());
			expect(failed.retryMessages.map((m) => m.delaySeconds ?? 0)).toEqual([0, 0]); // RETRY_BASE_SECONDS=0 in tests
		} finally {
			await restoreEventsTable();
		}
		const retried = await runConsumer(events, 2);
		expect(retried.explicitAcks).toHaveLength(2);
		expect(await countIds(events.map((e) => e.id))).toBe(2);
	});

	it("parks a malformed message in the dead-letter queue at once instead of retrying it", async () => {
		const batch = createMessageBatch<unknown>("b2g-events", [{ id: "bad-1", timestamp: new Date(), attempts: 1, body: { v: 1, event: { id: 5 } } }]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual(["bad-1"]);
		const keys = await waitFor(async () => {
			const k = await listKeys(env.ARCHIVE, "dead-letter/site=_invalid/");
			return k.length ? k : undefined;
		});
		expect(keys).toHaveLength(1);
	});
});

describe("end to end through the real queue", () => {
	it("keeps accepted events through a D1 outage: retries, dead letters, replay — none lost, none doubled", async () => {
		const events = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? purchase() : pageView()));
		const ids = events.map((e) => String(e.id));
		const day = new Date().toISOString().slice(0, 10);
		await breakEventsTable();
		let restored = false;
		try {
			expect((await postEvents({ site: "demo", events })).status).toBe(202);
			// With no backoff in tests the retries run out quickly and the messages are parked in R2.
			await waitFor(async () => (await listKeys(env.ARCHIVE, "dead-letter/site=demo/")).length === 40 || undefined);
			await restoreEventsTable();
			restored = true;
		} finally {
			if (!restored) await restoreEventsTable();
		}
		expect(await countIds(ids)).toBe(0);
		const parked = await getJson<{ count: number; items: { record: { attempts: number } }[] }>("/api/v1/pipeline/dead-letters?site=demo");
		expect(parked.body.count).toBe(40);
		const health = await getJson<{ dead_letters: number; accepted: number; stored: number }>(`/api/v1/health/pipeline?site=demo&date=${day}`);
		expect(health.body.dead_letters).toBe(40);

		const replay = await api("POST", "/api/v1/pipeline/dead-letters/replay?site=demo");
		expect(await replay.json()).toMatchObject({ replayed: 40, skipped: [] });
		await waitFor(async () => (await countIds(ids)) === 40 || undefined);
		// Replaying again (nothing parked) and resending the originals change nothing.
		expect((await postEvents({ site: "demo", events })).status).toBe(202);
		await waitFor(async () => {
			const h = await getJson<{ accepted: number; stored: number; archived: number; dead_letters: number }>(`/api/v1/health/pipeline?site=demo&date=${day}`);
			return h.body.stored === h.body.archived && h.body.dead_letters === 0 || undefined;
		});
		expect(await countIds(ids)).toBe(40);
		const keys = await listKeys(env.ARCHIVE, `raw/site=demo/dt=${day}/`);
		const archivedIds = (await Promise.all(keys.map((k) => readArchive(env.ARCHIVE, k)))).flat().map((r) => String(r.id)).filter((id) => ids.includes(id));
		expect(archivedIds.sort()).toEqual([...ids].sort());
	});
});
