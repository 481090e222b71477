/**
 * The real-time engine: LiveSite window maths (hand-computed), HyperLogLog, restart survival, the
 * per-minute flush to D1, sharding (4 shards = 1 object), the API and the WebSocket push.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hllAdd, hllCount, hllMerge, hllNew } from "../workers/realtime/hll";
import type { LiveSite } from "../workers/realtime/live-site";
import { partitionByShard, shardOf, shardStub } from "../workers/realtime/shards";
import { mergePartials, snapshotDelta, type LiveEvent, type LiveSiteConfig, type LiveSnapshot } from "../workers/realtime/snapshot";
import { ADMIN_KEY, getJson, pageView, postEvents, purchase, waitFor } from "./helpers";

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0); // a minute boundary; 13:00 in Madrid
const FIXTURE_T0 = T0;

function stubFor(name: string) {
	return env.LIVE.get(env.LIVE.idFromName(name));
}

let seq = 0;
function ev(name: string, visitor: string, at: number, extra: Partial<LiveEvent> = {}): LiveEvent {
	return { id: `ev-${++seq}`, visitor, ts: at - 1000, name, path: "/", sku: null, valueMinor: null, currency: null, items: [], person: visitor, ...extra };
}

/**
 * The fixture of the window tests (site in Europe/Madrid, EUR; windows read at T0 + 7 min 30 s):
 *   T0 − 2 h      z page_view /old                                   (today only)
 *   T0 + 5 s      a page_view /home, b page_view /home, a product_view WHEY
 *   T0 + 1:59.999 c add_to_cart WHEY, a add_to_cart WHEY
 *   T0 + 7 min    a purchase 59.90 EUR (WHEY ×2), d page_view /cart, d purchase 10.00 USD (BAR ×1), + a resend of the first page view
 */
function fixture(site: string, T0 = FIXTURE_T0) {
	const e1 = ev("page_view", "a", T0 + 5_000, { path: "/home" });
	return [
		{ now: T0 - 120 * MIN, events: [ev("page_view", "z", T0 - 120 * MIN, { path: "/old" })] },
		{ now: T0 + 5_000, events: [e1, ev("page_view", "b", T0 + 5_000, { path: "/home" }), ev("product_view", "a", T0 + 5_000, { sku: "WHEY" })] },
		{ now: T0 + MIN + 59_999, events: [ev("add_to_cart", "c", T0 + MIN + 59_999, { sku: "WHEY" }), ev("add_to_cart", "a", T0 + MIN + 59_999, { sku: "WHEY" })] },
		{
			now: T0 + 7 * MIN,
			events: [
				{ ...e1 },
				ev("purchase", "a", T0 + 7 * MIN, { valueMinor: 5990, currency: "EUR", items: [{ sku: "WHEY", qty: 2 }] }),
				ev("page_view", "d", T0 + 7 * MIN, { path: "/cart" }),
				ev("purchase", "d", T0 + 7 * MIN, { valueMinor: 1000, currency: "USD", items: [{ sku: "BAR", qty: 1 }] }),
			],
		},
	].map((b) => ({ ...b, site }));
}

const madrid = (id: string, shards = 1): LiveSiteConfig => ({ id, timezone: "Europe/Madrid", currency: "EUR", shards });
const READ_AT = T0 + 7 * MIN + 30_000;

describe("HyperLogLog", () => {
	it("counts small sets exactly (linear counting) and large ones within 3 %", () => {
		const small = hllNew();
		for (let i = 0; i < 50; i++) hllAdd(small, `visitor-${i}`);
		for (let i = 0; i < 50; i++) hllAdd(small, `visitor-${i}`); // repeats add nothing
		expect(hllCount(small)).toBe(50);
		for (const n of [10_000, 100_000]) {
			const s = hllNew();
			for (let i = 0; i < n; i++) hllAdd(s, `${i.toString(16)}-${n}`);
			expect(Math.abs(hllCount(s) - n) / n).toBeLessThan(0.03); // standard error 1.04/√4096 = 1.6 %
		}
		expect(hllCount(hllNew())).toBe(0);
	});

	it("merges to the union: two overlapping halves give the sketch of the whole", () => {
		const a = hllNew();
		const b = hllNew();
		const whole = hllNew();
		for (let i = 0; i < 3000; i++) {
			if (i < 2000) hllAdd(a, `v${i}`);
			if (i >= 1000) hllAdd(b, `v${i}`);
			hllAdd(whole, `v${i}`);
		}
		expect(hllMerge(a, b)).toEqual(whole);
	});
});

describe("LiveSite windows", () => {
	it("computes the 1 / 5 / 60-minute and today windows, top lists and funnels (hand-computed)", async () => {
		const cfg = madrid("window-maths");
		const live = stubFor("window-maths");
		const results = [];
		for (const b of fixture(cfg.id)) results.push(await live.record(cfg, b.events, b.now));
		expect(results.at(-1)).toEqual({ fresh: 3, duplicates: 1 });

		const s = await live.snapshot(cfg, READ_AT);
		// m1 = m5 = minute T0+7: a purchase (59.90 EUR), d page view, d purchase (USD: an order, not revenue).
		const m1 = { visitors: 2, pageViews: 1, events: 3, orders: 2, revenue: 5990, otherCurrencyOrders: 1, byType: { page_view: 1, purchase: 2 } };
		expect(s.windows.m1).toEqual(m1);
		expect(s.windows.m5).toEqual(m1);
		// m60 adds minutes T0 and T0+1: 8 events, visitors a b c d.
		expect(s.windows.m60).toEqual({ visitors: 4, pageViews: 3, events: 8, orders: 2, revenue: 5990, otherCurrencyOrders: 1, byType: { add_to_cart: 2, page_view: 3, product_view: 1, purchase: 2 } });
		// today (Madrid day 2026-11-26 from 2026-11-25T23:00Z) adds z at 11:00 local.
		expect(s.day).toBe("2026-11-26");
		expect(s.windows.today).toMatchObject({ visitors: 5, pageViews: 4, events: 9, orders: 2, revenue: 5990 });

		expect(s.minutes).toHaveLength(60);
		expect(s.minutes.at(-1)).toEqual({ minute: T0 + 7 * MIN, events: 3, pageViews: 1, visitors: 2, orders: 2, revenue: 5990 });
		const at = new Map(s.minutes.map((p) => [p.minute, p]));
		expect(at.get(T0)).toEqual({ minute: T0, events: 3, pageViews: 2, visitors: 2, orders: 0, revenue: 0 });
		expect(at.get(T0 + MIN)).toEqual({ minute: T0 + MIN, events: 2, pageViews: 0, visitors: 2, orders: 0, revenue: 0 });
		expect(s.minutes.reduce((n, p) => n + p.events, 0)).toBe(8);

		expect(s.topPages.m60).toEqual([{ path: "/home", views: 2 }, { path: "/cart", views: 1 }]);
		expect(s.topPages.m5).toEqual([{ path: "/cart", views: 1 }]);
		expect(s.topProducts.m60).toEqual([{ sku: "WHEY", views: 1, carts: 2, units: 2 }, { sku: "BAR", views: 0, carts: 0, units: 1 }]);
		// Checkout funnel today: a viewed then added WHEY, then bought without begin_checkout → 2 steps; c and d never viewed a product.
		expect(s.funnels).toEqual([
			{
				id: "checkout",
				name: "Checkout",
				steps: [
					{ event: "product_view", label: "Product view", users: 1, conversionPct: null },
					{ event: "add_to_cart", label: "Add to cart", users: 1, conversionPct: 100 },
					{ event: "begin_checkout", label: "Begin checkout", users: 0, conversionPct: 0 },
					{ event: "purchase", label: "Purchase", users: 0, conversionPct: null },
				],
			},
		]);
		expect(s).toMatchObject({ site: "window-maths", shards: 1, visitorsNow: 2, visitors60m: 4, events60m: 8 });
		expect(await live.ledger("2026-11-26")).toEqual({ accepted: 9, rejected: 0, bot: 0, imported: 0 });

		// An hour later the minute windows are empty; today still counts.
		const later = await live.snapshot(cfg, T0 + 68 * MIN);
		expect(later.windows.m60.events).toBe(0);
		expect(later.windows.today.events).toBe(9);
		// The next local day starts empty.
		expect((await live.snapshot(cfg, Date.UTC(2026, 10, 26, 23, 0, 1))).windows.today.events).toBe(0);
	});

	it("survives eviction: windows, sketches, funnels and dedupe memory come back from SQLite", async () => {
		const cfg = madrid("restart");
		const live = stubFor("restart");
		const batches = fixture(cfg.id);
		for (const b of batches) await live.record(cfg, b.events, b.now);
		await live.count("bot", "2026-11-26", 3);
		const before = await live.snapshot(cfg, READ_AT);
		await evictDurableObject(live);
		const again = stubFor("restart");
		const after = await again.snapshot(cfg, READ_AT);
		expect({ ...after, fulfilment: null, lowStock: null }).toEqual({ ...before, fulfilment: null, lowStock: null });
		const resend = batches[1];
		expect(await again.record(cfg, resend?.events ?? [], T0 + 8 * MIN)).toEqual({ fresh: 0, duplicates: 3 });
		expect(await again.ledger("2026-11-26")).toEqual({ accepted: 9, rejected: 0, bot: 3, imported: 0 });
	});

	it("the alarm flushes completed minutes to D1 live_minutes once, and prunes what aged out", async () => {
		// The alarm prunes by the real clock: this fixture is yesterday's (12:00 UTC), so its hour-old pages are gone
		// and its dedupe memory (8 days) is not, whatever day the suite runs (a fixed date here failed 8 days after it).
		const T0 = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - 1, 12, 0, 0);
		const cfg = madrid("flush-site");
		const live = stubFor("flush-site");
		const batches = fixture(cfg.id, T0);
		for (const b of batches) await live.record(cfg, b.events, b.now);
		expect(await runDurableObjectAlarm(live)).toBe(true);
		const rows = await env.DB.prepare("SELECT minute, events, page_views, visitors, orders, revenue_minor FROM live_minutes WHERE site = 'flush-site' AND shard = 0 ORDER BY minute").all();
		expect(rows.results).toEqual([
			{ minute: T0 - 120 * MIN, events: 1, page_views: 1, visitors: 1, orders: 0, revenue_minor: 0 },
			{ minute: T0, events: 3, page_views: 2, visitors: 2, orders: 0, revenue_minor: 0 },
			{ minute: T0 + MIN, events: 2, page_views: 0, visitors: 2, orders: 0, revenue_minor: 0 },
			{ minute: T0 + 7 * MIN, events: 3, page_views: 1, visitors: 2, orders: 2, revenue_minor: 5990 },
		]);
		// Nothing left to flush: a second flush writes nothing.
		expect(await live.flush()).toBe(0);
		// Pages and products older than an hour are gone; dedupe memory is kept for 8 days.
		const pages = await runInDurableObject(live, (_o: LiveSite, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM minute_pages").one().n);
		expect(pages).toBe(0);
		expect(await live.record(cfg, batches[1]?.events ?? [], Date.now())).toMatchObject({ fresh: 0 });
	});
});

describe("sharding", () => {
	it("spreads visitors stably over shards", () => {
		expect(shardOf("visitor-1", 1)).toBe(0);
		const counts = [0, 0, 0, 0];
		for (let i = 0; i < 4000; i++) counts[shardOf(`v-${i}`, 4)]!++;
		for (const c of counts) expect(c).toBeGreaterThan(800); // 1000 expected each
		expect(shardOf("same", 4)).toBe(shardOf("same", 4));
	});

	it("4 shards merged read the same as one object", async () => {
		const one = madrid("shard-ref");
		const four = madrid("shard-four", 4);
		const batches = fixture("x");
		for (const b of batches) {
			await stubFor("shard-ref").record(one, b.events, b.now);
			for (const [k, events] of partitionByShard(b.events, (e) => e.visitor, 4)) await shardStub(env, four.id, k).record(four, events, b.now, k);
		}
		const a = await stubFor("shard-ref").snapshot(one, READ_AT);
		const b = await shardStub(env, four.id, 0).snapshot(four, READ_AT);
		const strip = (s: LiveSnapshot) => ({ windows: s.windows, minutes: s.minutes, topPages: s.topPages, topProducts: s.topProducts, funnels: s.funnels });
		expect(strip(b)).toEqual(strip(a));
		expect(b.shards).toBe(4);
		// The visitors really are spread: more than one shard recorded something.
		const used = new Set(batches.flatMap((x) => x.events.map((e) => shardOf(e.visitor, 4))));
		expect(used.size).toBeGreaterThan(1);
	});

	it("mergePartials sums windows and re-ranks top lists", () => {
		const w = (n: number) => ({ visitors: n, pageViews: n, events: n, orders: 0, revenue: 0, otherCurrencyOrders: 0, byType: { page_view: n } });
		const part = (path: string, n: number) => ({
			now: 0, day: "2026-11-26", windows: { m1: w(n), m5: w(n), m60: w(n), today: w(n) }, minutes: [{ minute: 0, events: n, pageViews: n, visitors: n, orders: 0, revenue: 0 }],
			topPages: { m5: [{ path, views: n }, { path: "/", views: 1 }], m60: [] }, topProducts: { m5: [], m60: [] }, funnels: [],
		});
		const m = mergePartials([part("/a", 2), part("/b", 5)]);
		expect(m.windows.m5).toEqual({ visitors: 7, pageViews: 7, events: 7, orders: 0, revenue: 0, otherCurrencyOrders: 0, byType: { page_view: 7 } });
		expect(m.minutes).toEqual([{ minute: 0, events: 7, pageViews: 7, visitors: 7, orders: 0, revenue: 0 }]);
		expect(m.topPages.m5).toEqual([{ path: "/b", views: 5 }, { path: "/", views: 2 }, { path: "/a", views: 2 }]);
	});

	it("ingest routes each visitor's events to its shard, and reconciliation sums the shards", async () => {
		const admin = { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" };
		const created = await exports.default.fetch("https://b2g.test/api/v1/sites", { method: "POST", headers: admin, body: JSON.stringify({ id: "sharded", name: "Sharded", live_shards: 4 }) });
		expect(created.status).toBe(201);
		expect(await created.json()).toMatchObject({ live_shards: 4 });
		const events = Array.from({ length: 40 }, (_, i) => pageView({ visitor_id: `sharded-visitor-${i}` }));
		const res = await postEvents({ site: "sharded", events });
		expect(await res.json()).toMatchObject({ accepted: 40 });
		// Each shard's outbox empties once the consumer confirms its events stored (one RPC per shard per batch);
		// until then a resend would count as accepted again (issue 14, finding 3), after it as duplicates.
		await waitFor(async () => (await getJson<{ outbox: number }>(`/api/v1/health/pipeline?site=sharded`)).body.outbox === 0);
		const again = await postEvents({ site: "sharded", events });
		expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 40 });
		const snap = await getJson<LiveSnapshot>("/api/v1/realtime?site=sharded");
		expect(snap.body).toMatchObject({ shards: 4, events60m: 40, visitors60m: 40 });
		const today = new Date().toISOString().slice(0, 10);
		const health = await getJson<{ accepted: number }>(`/api/v1/health/pipeline?site=sharded&date=${today}`);
		expect(health.body.accepted).toBe(40);
	});
});

describe("snapshotDelta", () => {
	it("sends only the fields that changed, whole", async () => {
		const cfg = madrid("delta");
		const live = stubFor("delta");
		const before = await live.snapshot(cfg, READ_AT);
		await live.record(cfg, [ev("page_view", "q", READ_AT, { path: "/x" })], READ_AT);
		const after = await live.snapshot(cfg, READ_AT);
		const d = snapshotDelta(before, after);
		expect(Object.keys(d).sort()).toEqual(["events60m", "minutes", "now", "topPages", "visitors60m", "visitorsNow", "windows"]);
		expect(d.windows?.m1.pageViews).toBe(1);
		expect(snapshotDelta(after, after)).toEqual({});
	});
});

describe("GET /api/v1/realtime", () => {
	it("shows events and visitors the moment they are accepted", async () => {
		const before = await getJson<LiveSnapshot>("/api/v1/realtime?site=demo");
		expect(before.status).toBe(200);
		await postEvents({ site: "demo", events: [pageView(), pageView()] });
		await postEvents({ site: "demo", events: [pageView({ visitor_id: "server-visitor-1" })] });
		const after = await getJson<LiveSnapshot>("/api/v1/realtime?site=demo");
		expect(after.body.events60m - before.body.events60m).toBe(3);
		expect(after.body.windows.m60.pageViews - before.body.windows.m60.pageViews).toBe(3);
		expect(after.body.visitorsNow - before.body.visitorsNow).toBe(2); // one hashed browser + one server-side visitor
		expect(after.body.minutes).toHaveLength(60);
	});

	it("shows orders pending fulfilment and SKUs below their reorder point from commerce data", async () => {
		const admin = { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" };
		await exports.default.fetch("https://b2g.test/api/v1/sites", { method: "POST", headers: admin, body: JSON.stringify({ id: "ops-live", name: "Ops" }) });
		const put = (entity: string, records: unknown[]) => exports.default.fetch(`https://b2g.test/api/v1/${entity}?site=ops-live`, { method: "PUT", headers: admin, body: JSON.stringify(records) });
		expect(
			(
				await put("orders", [
					{ order_id: "p1", customer_id: "c1", placed_at: "2026-11-20T10:00:00Z", total: "10.00", currency: "EUR" },
					{ order_id: "p2", customer_id: "c1", placed_at: "2026-11-21T10:00:00Z", paid_at: "2026-11-21T10:05:00Z", total: "10.00", currency: "EUR" },
					{ order_id: "p3", customer_id: "c2", placed_at: "2026-11-19T10:00:00Z", shipped_at: "2026-11-20T10:00:00Z", total: "10.00", currency: "EUR" },
					{ order_id: "p4", customer_id: "c2", placed_at: "2026-11-18T10:00:00Z", total: "10.00", currency: "EUR", status: "cancelled" },
					// Placed today through the API (never seen by /e): in salesToday, not pending (shipped).
					{ order_id: "p5", customer_id: "c3", placed_at: new Date().toISOString(), shipped_at: new Date().toISOString(), total: "12.10", tax: "2.10", currency: "EUR" },
				])
			).status,
		).toBe(200);
		expect(
			(
				await put("inventory", [
					{ sku: "LOW", taken_at: "2026-11-20", stock: 2, reorder_point: 10 },
					{ sku: "OK", taken_at: "2026-11-20", stock: 50, reorder_point: 10 },
					{ sku: "RESTOCKED", taken_at: "2026-11-19", stock: 1, reorder_point: 10 },
					{ sku: "RESTOCKED", taken_at: "2026-11-21", stock: 40, reorder_point: 10 },
				])
			).status,
		).toBe(200);
		const snap = await getJson<LiveSnapshot>("/api/v1/realtime?site=ops-live");
		// p1 placed and p2 paid are waiting; p3 shipped and p4 cancelled are not. Oldest: p1.
		expect(snap.body.fulfilment).toMatchObject({ pending: 2, oldestPlacedAt: Date.UTC(2026, 10, 20, 10) });
		expect(snap.body.lowStock).toMatchObject({ count: 1, items: [{ sku: "LOW", stock: 2, reorderPoint: 10 }] });
		// Revenue = total − tax, like the revenue KPI: 12.10 − 2.10.
		expect(snap.body.salesToday).toMatchObject({ orders: 1, revenue: 1000 });
	});

	it("answers 400 without a site and 404 for an unknown one", async () => {
		const missing = await getJson<{ fields: { field: string }[] }>("/api/v1/realtime");
		expect(missing.status).toBe(400);
		expect(missing.body.fields[0]?.field).toBe("site");
		expect((await getJson("/api/v1/realtime?site=nope")).status).toBe(404);
	});
});

interface Message {
	type: string;
	data: Partial<LiveSnapshot>;
	at: number;
}

async function connect(site: string, headers: Record<string, string> = { Authorization: `Bearer ${ADMIN_KEY}` }) {
	const res = await exports.default.fetch(`https://b2g.test/api/v1/live?site=${site}`, { headers: { Upgrade: "websocket", ...headers } });
	const ws = res.webSocket;
	if (!ws) return { res, ws: null, messages: [] as Message[] };
	const messages: Message[] = [];
	ws.accept();
	ws.addEventListener("message", (m) => {
		const parsed = JSON.parse(String(m.data)) as { type: string; data: Partial<LiveSnapshot> };
		messages.push({ ...parsed, at: Date.now() });
	});
	return { res, ws, messages };
}

describe("GET /api/v1/live (WebSocket)", () => {
	it("sends a snapshot, then the delta of a purchase within 1 s", async () => {
		const { res, ws, messages } = await connect("demo");
		expect(res.status).toBe(101);
		const first = await waitFor(async () => messages[0]);
		expect(first.type).toBe("snapshot");
		const revenueBefore = first.data.windows?.today.revenue ?? 0;
		// Let the 1-second spacing after any earlier push pass, so the measurement is the push path itself.
		await new Promise((r) => setTimeout(r, 1100));
		const sent = Date.now();
		await postEvents({ site: "demo", events: [purchase()] }); // 59.90 EUR
		const delta = await waitFor(async () => messages.find((m) => m.type === "delta" && (m.data.windows?.today.revenue ?? 0) > revenueBefore), 5000, 10).catch((e) => {
			console.log(JSON.stringify(messages.map((m) => ({ type: m.type, at: m.at - sent, keys: Object.keys(m.data), today: m.data.windows?.today }))));
			throw e;
		});
		expect(delta.at - sent).toBeLessThan(1000);
		expect((delta.data.windows?.today.revenue ?? 0) - revenueBefore).toBe(5990);
		expect(delta.data.windows?.m1.orders).toBeGreaterThanOrEqual(1);
		ws?.close(1000, "done");
	});

	it("pushes at most once a second under a burst", async () => {
		const { ws, messages } = await connect("demo");
		await waitFor(async () => messages[0]);
		const start = Date.now();
		for (let i = 0; i < 12; i++) {
			await postEvents({ site: "demo", events: [pageView()] });
			await new Promise((r) => setTimeout(r, 200));
		}
		await new Promise((r) => setTimeout(r, 1200));
		const deltas = messages.filter((m) => m.type === "delta" && m.at >= start);
		expect(deltas.length).toBeGreaterThanOrEqual(2);
		expect(deltas.length).toBeLessThanOrEqual(5); // 2.4 s of events + 1.2 s: at most one push per second
		for (let i = 1; i < deltas.length; i++) expect((deltas[i]?.at ?? 0) - (deltas[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(900);
		ws?.send(JSON.stringify({ type: "snapshot" }));
		await waitFor(async () => messages.filter((m) => m.type === "snapshot").length >= 2);
		ws?.close(1000, "done");
	});

	it("needs credentials and an Upgrade header", async () => {
		const anonymous = await connect("demo", {});
		expect(anonymous.res.status).toBe(401);
		const plain = await getJson<{ error: string; fields: { field: string }[] }>("/api/v1/live?site=demo");
		expect(plain.status).toBe(426);
		expect(plain.body.fields[0]?.field).toBe("Upgrade");
		expect((await connect("nope")).res.status).toBe(404);
	});
});

describe("GET /api/v1/health/pipeline", () => {
	it.each([
		["", "site"],
		["?site=demo&date=2026-02-30", "date"],
		["?site=demo&date=26-11-2026", "date"],
		["?site=Demo!", "site"],
	])("answers 400 naming the field for %s", async (query, field) => {
		const res = await getJson<{ fields: { field: string }[] }>(`/api/v1/health/pipeline${query}`);
		expect(res.status).toBe(400);
		expect(res.body.fields.map((f) => f.field)).toContain(field);
	});

	it("answers 404 for an unknown site and zeros for a quiet day", async () => {
		expect((await getJson("/api/v1/health/pipeline?site=nope")).status).toBe(404);
		const quiet = await getJson("/api/v1/health/pipeline?site=demo&date=2020-01-01");
		expect(quiet.body).toMatchObject({ accepted: 0, stored: 0, archived: 0, rejected: 0, bots: 0, reconciled: true });
	});
});

describe("live alert rules (live:* metrics, evaluated by the LiveSite alarm)", () => {
	it("a traffic drop against the last hour fires from the alarm, and the reading is hand-computed", async () => {
		const site = "live-alerts";
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Live alerts', '[]', 'UTC', 'EUR', 0)").bind(site).run();
		const admin = { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" };
		const rule = await exports.default.fetch(`https://b2g.test/api/v1/alerts/rules?site=${site}`, {
			method: "POST",
			headers: admin,
			body: JSON.stringify({ name: "Traffic drop", metric: "live:events", comparator: "<", threshold_kind: "relative", threshold: 0.5, window: "now", severity: "warning" }),
		});
		expect(rule.status, await rule.clone().text()).toBe(201);
		const ruleId = ((await rule.json()) as { id: string }).id;
		// History in shard 1's rows: 10 events a minute for the hour before the last 5 minutes, 1 a minute since.
		const now = Date.now();
		const current = now - (now % MIN);
		const rows = [];
		for (let m = current - 65 * MIN; m < current - 5 * MIN; m += MIN) rows.push([m, 10]);
		for (let m = current - 5 * MIN; m < current; m += MIN) rows.push([m, 1]);
		await env.DB.prepare(
			"INSERT INTO live_minutes (site, shard, minute, events, page_views, visitors, orders, revenue_minor) SELECT ?1, 1, value->>0, value->>1, 0, 0, 0, 0 FROM json_each(?2)",
		)
			.bind(site, JSON.stringify(rows))
			.run();
		// Shard 0 records one event in the last complete minute; its alarm flushes it, then evaluates.
		const live = stubFor(site);
		await live.record({ id: site, timezone: "UTC", currency: "EUR", shards: 2 }, [ev("page_view", "a", current - 30_000)], current - 30_000);
		expect(await runDurableObjectAlarm(live)).toBe(true);
		// Recent: (5 × 1 + 1) / 5 = 1.2 a minute; baseline 600 / 60 = 10; 1.2 < 0.5 × 10 → firing.
		const firing = await getJson<{ alerts: { rule_id: string; state: string; value: number; baseline: number }[] }>(`/api/v1/alerts?site=${site}&state=firing`);
		expect(firing.status).toBe(200);
		const incident = firing.body.alerts.find((a) => a.rule_id === ruleId);
		expect(incident).toMatchObject({ state: "firing" });
		expect(incident?.value).toBeCloseTo(1.2, 9);
		expect(incident?.baseline).toBeCloseTo(10, 9);
	});
});
