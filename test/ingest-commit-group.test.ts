/**
 * /e's calls to a LiveSite object commit in groups (inCommitGroup), and since issue 15 item 7 a group
 * writes the live counters, the ledger's accepted counts and the limit buckets of its calls once, at its
 * end (statements were most of the object's time under bench/ingest). These tests pin what must not
 * change: the sums equal the same calls made one by one, a failed call rolls back alone (dedupe, outbox,
 * counters and its bucket take), and a refused call writes nothing while the rest of its group commits.
 *
 * A group forms from the calls that reach the object before its next timer turn; the tests check that it
 * did by counting the outermost transactions the object opened.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BucketSpec, BucketTake } from "../workers/auth/rate-limit";
import type { StoredEvent } from "../workers/pipeline/message";
import type { LiveSite } from "../workers/realtime/live-site";
import { shardStub } from "../workers/realtime/shards";
import { storedEvent } from "./helpers";

// Shards of the demo site (which exists in D1), so the queue consumer stores and confirms what the calls queue.
const site = { id: "demo", timezone: "UTC", currency: "EUR", shards: 16 };
const MIN = 60_000;
// A period of ~11.6 days: the refill during a test is far below the tolerance of the bucket checks.
const PERIOD_MS = 1e9;
const spec = (name: string, limit: number): BucketSpec => ({ name, limit, periodMs: PERIOD_MS });

interface Call {
	events: StoredEvent[];
	limit?: BucketTake;
}

/** Events received now (so the ledger day and the minute are today's), of a few types, pages and visitors. */
function batch(tag: string, n: number): StoredEvent[] {
	const ts = Date.now() - 30_000;
	const kinds = [
		{ name: "page_view", path: "/home" },
		{ name: "page_view", path: `/p/${tag}` },
		{ name: "product_view", path: "/p/whey", sku: "WHEY" },
		{ name: "add_to_cart", path: "/p/whey", sku: "WHEY" },
		{ name: "purchase", path: "/checkout", order_id: `o-${tag}`, value_minor: 1250, currency: "EUR", props: { items: [{ sku: "WHEY", qty: 2 }] } },
	];
	return Array.from({ length: n }, (_, i) => storedEvent({ ts, received_at: ts, visitor: `${tag}-v${i % 3}`, ...kinds[i % kinds.length] }));
}

/** What a call leaves behind, read in the object: counters, ledger, buckets, dedupe and outbox rows. */
async function state(shard: number, ids: string[]) {
	return runInDurableObject(shardStub(env, "demo", shard), (_o: LiveSite, s) => {
		const q = <T extends Record<string, SqlStorageValue>>(sql: string, ...binds: SqlStorageValue[]) => s.storage.sql.exec<T>(sql, ...binds).toArray();
		return {
			minutes: q("SELECT minute, events, page_views, orders, revenue, other_orders, hex(sketch) AS sketch FROM minutes ORDER BY minute"),
			types: q("SELECT minute, name, n FROM minute_types ORDER BY minute, name"),
			pages: q("SELECT minute, path, n FROM minute_pages ORDER BY minute, path"),
			products: q("SELECT minute, sku, views, carts, units FROM minute_products ORDER BY minute, sku"),
			daySketch: q("SELECT day, hex(sketch) AS sketch FROM day_sketch ORDER BY day"),
			ledger: q("SELECT day, kind, n FROM day_counts ORDER BY day, kind"),
			buckets: q<{ name: string; tokens: number }>("SELECT name, tokens FROM buckets ORDER BY name"),
			seen: q<{ id: string }>("SELECT id FROM seen WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", JSON.stringify(ids)).map((r) => r.id),
			outbox: q<{ id: string }>("SELECT id FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id", JSON.stringify(ids)).map((r) => r.id),
		};
	});
}

/**
 * Makes `calls` on one object as /e does (send: true), all before its next timer turn; returns each call's
 * outcome and how many outermost transactions the object opened meanwhile (1 = one commit group).
 */
async function inOneGroup(shard: number, calls: Call[], now: number) {
	return runInDurableObject(shardStub(env, "demo", shard), async (obj: LiveSite, s) => {
		const storage = s.storage;
		const original = storage.transactionSync.bind(storage);
		let depth = 0;
		let outermost = 0;
		storage.transactionSync = <T,>(fn: () => T): T => {
			if (depth++ === 0) outermost++;
			try {
				return original(fn);
			} finally {
				depth--;
			}
		};
		try {
			const outcomes = await Promise.allSettled(calls.map((c) => obj.accept(site, c.events, now, shard, { send: true, ...(c.limit ? { limit: c.limit } : {}) })));
			return { outcomes, outermost };
		} finally {
			storage.transactionSync = original;
		}
	});
}

/** The same calls one at a time, each committing alone (no `send`: not grouped). */
async function oneByOne(shard: number, calls: Call[], now: number) {
	const live = shardStub(env, "demo", shard);
	for (const c of calls) await live.accept(site, c.events, now, shard, c.limit ? { limit: c.limit } : {});
}

/** Warms the object (config row, funnel definitions) so that the measured calls reach the group in one turn. */
async function warm(shard: number, now: number, events = batch(`warm${shard}`, 1)) {
	await shardStub(env, "demo", shard).accept(site, events, now, shard);
}

describe("commit groups of /e calls (issue 15 item 7)", () => {
	it("write the same counters, ledger and buckets as the calls one by one", async () => {
		const now = Date.now();
		const minute = now - (now % MIN);
		const warmEvents = batch("warm", 1);
		await warm(1, now, warmEvents);
		await warm(2, now, warmEvents);
		// The same events for both objects (ids too: each object has its own dedupe memory), with a resend
		// inside the group (call 3 repeats an event of call 1) and a repeat within one call.
		const a = batch("a", 5);
		const b = batch("b", 7);
		const c = [{ ...(a[1] as StoredEvent) }, ...batch("c", 3), ...batch("c2", 1)];
		const c2 = c[c.length - 1] as StoredEvent;
		c.push({ ...c2 });
		const calls: Call[] = [
			{ events: a, limit: { specs: [spec("site", 1000), spec("ip:one", 100)], cost: a.length } },
			{ events: b, limit: { specs: [spec("site", 1000), spec("ip:two", 100)], cost: b.length } },
			{ events: c, limit: { specs: [spec("site", 1000), spec("ip:one", 100)], cost: c.length } },
		];
		const grouped = await inOneGroup(1, calls, now);
		expect(grouped.outermost).toBe(1);
		expect(grouped.outcomes.map((o) => (o.status === "fulfilled" ? o.value : o.reason))).toEqual([
			{ fresh: 5, requeued: 0, duplicates: [], full: false },
			{ fresh: 7, requeued: 0, duplicates: [], full: false },
			// a[1] is in the outbox already (accepted by call 1, not yet stored): re-queued; the repeat of c2 is a duplicate.
			{ fresh: 4, requeued: 1, duplicates: [5], full: false },
		]);
		await oneByOne(2, calls, now);

		const ids = [...a, ...b, ...c].map((e) => e.id);
		const [g, single] = [await state(1, ids), await state(2, ids)];
		expect(g.seen).toEqual([...new Set(ids)].sort());
		// The outbox is left out: the grouped calls' events are queued, and the consumer may confirm them meanwhile.
		const { buckets: gb, outbox: _go, ...gRest } = g;
		const { buckets: sb, outbox: so, ...sRest } = single;
		expect(gRest).toEqual(sRest);
		expect(so).toEqual([...new Set(ids)].sort());
		// By hand: 5 + 7 + 4 new events this minute (+ 1 of the warm-up); the ledger counts 16 + 1.
		expect(g.minutes.filter((m) => m.minute === minute).map((m) => m.events)).toEqual([17]);
		expect(g.ledger.find((r) => r.kind === "accepted")?.n).toBe(17);
		// Buckets (a batch costs its size, resends included): site 1000 − 5 − 7 − 6, ip:one 100 − 5 − 6, ip:two
		// 100 − 7 (the refill over the test is below 0.001).
		expect(gb.map((r) => r.name)).toEqual(["ip:one", "ip:two", "site"]);
		expect(gb.map((r) => r.name)).toEqual(sb.map((r) => r.name));
		const tokens = Object.fromEntries(gb.map((r) => [r.name, r.tokens]));
		expect(tokens["ip:one"]).toBeCloseTo(89, 2);
		expect(tokens["ip:two"]).toBeCloseTo(93, 2);
		expect(tokens.site).toBeCloseTo(982, 2);
	});

	it("roll a failed call back alone: its dedupe and outbox rows, counters and bucket take are gone, the others commit", async () => {
		const now = Date.now();
		await warm(3, now);
		const before = await state(3, []);
		const good1 = batch("g1", 4);
		const good2 = batch("g2", 3);
		// Fails after its dedupe rows were inserted: its outbox body cannot be serialised (a BigInt prop).
		const bad = batch("bad", 3);
		bad[2] = { ...(bad[2] as StoredEvent), props: { n: 1n } };
		const grouped = await inOneGroup(
			3,
			[
				{ events: good1, limit: { specs: [spec("site", 1000), spec("ip:a", 100)], cost: 4 } },
				{ events: bad, limit: { specs: [spec("site", 1000), spec("ip:bad", 100)], cost: 3 } },
				{ events: good2, limit: { specs: [spec("site", 1000), spec("ip:a", 100)], cost: 3 } },
			],
			now,
		);
		expect(grouped.outermost).toBe(1);
		expect(grouped.outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
		expect(String((grouped.outcomes[1] as PromiseRejectedResult).reason)).toMatch(/BigInt/);

		const ids = [...good1, ...bad, ...good2].map((e) => e.id);
		const after = await state(3, ids);
		const good = [...good1, ...good2].map((e) => e.id).sort();
		expect(after.seen).toEqual(good);
		// (The good calls' rows may already be confirmed by the queue consumer: only the failed call's are checked.)
		expect(after.outbox.filter((id) => bad.some((e) => e.id === id))).toEqual([]);
		const accepted = (s: typeof before) => Number(s.ledger.find((r) => r.kind === "accepted")?.n ?? 0);
		expect(accepted(after) - accepted(before)).toBe(7);
		const events = (s: typeof before) => s.minutes.reduce((n, m) => n + Number(m.events), 0);
		expect(events(after) - events(before)).toBe(7);
		// Page views of the good calls only: g1 has 2 (indexes 0, 1), g2 has 2.
		const pageViews = (s: typeof before) => s.minutes.reduce((n, m) => n + Number(m.page_views), 0);
		expect(pageViews(after) - pageViews(before)).toBe(4);
		expect(after.pages.some((p) => p.path === "/p/bad")).toBe(false);
		// The failed call's take is undone: no ip:bad bucket, and the site bucket paid 4 + 3 only.
		expect(after.buckets.map((r) => r.name)).toEqual(["ip:a", "site"]);
		expect(after.buckets.find((r) => r.name === "site")?.tokens).toBeCloseTo(993, 2);
		expect(after.buckets.find((r) => r.name === "ip:a")?.tokens).toBeCloseTo(93, 2);

		// Fixed and sent again, the failed call's events are new.
		bad[2] = { ...(bad[2] as StoredEvent), props: {} };
		expect(await shardStub(env, "demo", 3).accept(site, bad, now, 3, { send: true })).toEqual({ fresh: 3, requeued: 0, duplicates: [], full: false });
	});

	it("let a refused call write nothing while the rest of its group commits", async () => {
		const now = Date.now();
		await warm(4, now);
		const first = batch("r1", 2);
		const refusedEvents = batch("r2", 2);
		const third = batch("r3", 1);
		// ip:r holds 2 tokens: the first call empties it, the second is refused, the third (another address) passes.
		const grouped = await inOneGroup(
			4,
			[
				{ events: first, limit: { specs: [spec("site", 1000), spec("ip:r", 2)], cost: 2 } },
				{ events: refusedEvents, limit: { specs: [spec("site", 1000), spec("ip:r", 2)], cost: 2 } },
				{ events: third, limit: { specs: [spec("site", 1000), spec("ip:s", 2)], cost: 1 } },
			],
			now,
		);
		expect(grouped.outermost).toBe(1);
		const values = grouped.outcomes.map((o) => (o.status === "fulfilled" ? o.value : null));
		expect(values[0]).toEqual({ fresh: 2, requeued: 0, duplicates: [], full: false });
		expect(values[1]).toMatchObject({ fresh: 0, limited: { refused: "ip:r" } });
		expect(values[2]).toEqual({ fresh: 1, requeued: 0, duplicates: [], full: false });
		const after = await state(4, [...first, ...refusedEvents, ...third].map((e) => e.id));
		expect(after.seen).toEqual([...first, ...third].map((e) => e.id).sort());
		expect(after.buckets.find((r) => r.name === "site")?.tokens).toBeCloseTo(997, 2);
		expect(after.buckets.find((r) => r.name === "ip:r")?.tokens).toBeCloseTo(0, 2);
	});
});
