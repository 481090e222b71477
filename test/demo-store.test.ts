/**
 * The demo store (scripts/demo-store.mjs) and its loader (scripts/seed.mjs): deterministic, every record
 * valid for the real entity specs and the events import, consistent, seasonal with the injected drop,
 * and loadable end to end through the import API (twice: the second load changes nothing).
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DROP, ENTITY_ORDER, generateStore } from "../scripts/demo-store.mjs";
import { importRecords, loadStore } from "../scripts/seed.mjs";
import { ENTITIES, isEntity, type WriteContext } from "../workers/commerce/entities";
import { importEventRecord } from "../workers/import/events";
import { webDailyAggregator } from "../workers/metrics/web-history";
import { ADMIN_KEY, getJson } from "./helpers";

const DAY = 86_400_000;
const AS_OF = Date.UTC(2026, 10, 27);

type Rec = Record<string, unknown>;
interface Item {
	sku: string;
	qty: number;
	unit_price: string;
	unit_cost: string;
}
interface Order extends Rec {
	order_id: string;
	customer_id: string;
	placed_at: number;
	total: string;
	subtotal: string;
	discount: string;
	shipping: string;
	tax: string;
	status: string;
	items: Item[];
}
interface WireEvent extends Rec {
	id: string;
	name: string;
	ts: number;
	visitor_id: string;
	customer_id?: string;
	props: Rec;
}
interface Store {
	meta: { asOf: number; start: number; eventsFrom: number | null; drop: { dates: string[] }; subscriptions: { active: number } };
	suppliers: Rec[];
	products: (Rec & { sku: string })[];
	customers: (Rec & { customer_id: string; created_at: number; subscription_status: string })[];
	orders: Order[];
	refunds: (Rec & { refund_id: string; order_id: string; amount: string; created_at: number; sku?: string })[];
	inventory: (Rec & { stock: number; reorder_point: number })[];
	deliveries: (Rec & { promised_at: number; delivered_at?: number })[];
	tickets: (Rec & { ticket_id: string; order_id?: string; customer_id?: string })[];
	surveys: (Rec & { response_id: string; order_id?: string })[];
	spend: Rec[];
	messages: Rec[];
	events: WireEvent[];
	[entity: string]: unknown;
}

/** With the aggregated web history before the raw event window, as scripts/seed.mjs generates it. */
const webHistory = () => webDailyAggregator("UTC");
const gen = (options: Record<string, unknown>) => generateStore({ asOf: AS_OF, webHistory, ...options }) as unknown as Store;
/** Small enough to stay fast, big enough to have every kind of record. */
const SMALL = { seed: 42, customers: 300, orders: 2000, months: 3, eventDays: 7 };
const cents = (amount: string) => Math.round(Number(amount) * 100);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY_MS = 86_400_000;
const records = (store: Store, entity: string) => store[entity] as Rec[];

describe("demo store generator", () => {
	const store = gen(SMALL);

	it("is deterministic for a seed and different for another", () => {
		expect(gen(SMALL)).toEqual(store);
		const other = gen({ ...SMALL, seed: 7 });
		expect(other.orders.map((o) => o.total)).not.toEqual(store.orders.map((o) => o.total));
		expect(other.events.map((e) => e.id)).not.toEqual(store.events.map((e) => e.id));
	});

	it("has every kind of record, with unique natural ids", () => {
		const keys: Record<string, (r: Rec) => string> = {
			suppliers: (r) => String(r.supplier_id), products: (r) => String(r.sku), customers: (r) => String(r.customer_id), orders: (r) => String(r.order_id),
			refunds: (r) => String(r.refund_id), inventory: (r) => `${r.sku}@${r.taken_at}`, deliveries: (r) => String(r.delivery_id), tickets: (r) => String(r.ticket_id),
			surveys: (r) => String(r.response_id), spend: (r) => `${r.day}/${r.channel}`, messages: (r) => String(r.message_id), events: (r) => String(r.id),
			web_daily: (r) => `${r.day}/${r.dimension ?? ""}/${r.value ?? ""}`,
		};
		for (const entity of ENTITY_ORDER) {
			const list = records(store, entity);
			expect(list.length, entity).toBeGreaterThan(0);
			expect(new Set(list.map(keys[entity]!)).size, `${entity} ids`).toBe(list.length);
		}
		expect(store.products.length).toBeGreaterThanOrEqual(140);
	});

	it("produces only records the real entity specs and the events import accept", () => {
		const ctx: WriteContext = { site: "demo", currency: "EUR", now: AS_OF };
		const problems: string[] = [];
		for (const entity of ENTITY_ORDER) {
			for (const [i, raw] of records(store, entity).entries()) {
				const r = JSON.parse(JSON.stringify(raw)) as unknown; // exactly what travels as NDJSON
				if (entity === "events") {
					const res = importEventRecord(r, ctx);
					if (!res.ok) problems.push(`events[${i}]: ${JSON.stringify(res.error.issues)}`);
				} else if (isEntity(entity)) {
					const res = ENTITIES[entity].parse(r, ctx);
					if (!res.ok) problems.push(`${entity}[${i}]: ${JSON.stringify(res.error.issues)}`);
				} else problems.push(`${entity}: not an entity`);
			}
		}
		expect(problems.slice(0, 10)).toEqual([]);
	});

	it("covers every day before the raw events with aggregated web history of the same kind of sessions", () => {
		const totals = records(store, "web_daily").filter((r) => r.dimension === undefined);
		const firstRaw = day(store.events[0]!.ts);
		const days = totals.map((r) => String(r.day));
		// Every day from the store's start to the day before the raw window, once each, and none after.
		const expected: string[] = [];
		for (let t = Number(store.meta.start); day(t) < firstRaw; t += DAY_MS) expected.push(day(t));
		expect(days).toEqual(expected);
		// The same model: sessions per purchase (about 9: one converting, ~2 abandoned carts, ~6 browse-only) agree
		// with the raw window's, and every breakdown's sessions add up to the day's.
		const sum = (list: Rec[], k: string) => list.reduce((a, r) => a + Number(r[k]), 0);
		const historyRatio = sum(totals, "sessions") / sum(totals, "purchase_sessions");
		const aggregate = webDailyAggregator("UTC");
		aggregate.add(store.events as never);
		const rawTotals = aggregate.flush().filter((r) => r.dimension === undefined);
		const rawRatio = sum(rawTotals as never, "sessions") / sum(rawTotals as never, "purchase_sessions");
		expect(historyRatio).toBeGreaterThan(7);
		expect(Math.abs(historyRatio / rawRatio - 1)).toBeLessThan(0.15);
		for (const dimension of ["channel", "device", "country"]) {
			const rows = records(store, "web_daily").filter((r) => r.dimension === dimension);
			expect(sum(rows, "sessions"), dimension).toBe(sum(totals, "sessions"));
		}
	});

	it("gives visitors a realistic device, browser and country mix, one device per visitor", () => {
		const ctx: WriteContext = { site: "demo", currency: "EUR", now: AS_OF };
		const devices = new Map<string, number>();
		const countries = new Map<string, number>();
		const deviceOf = new Map<string, string>();
		let browserless = 0;
		for (const e of store.events) {
			const res = importEventRecord(JSON.parse(JSON.stringify(e)), ctx);
			if (!res.ok) throw new Error(JSON.stringify(res.error.issues));
			const { device, browser, country, visitor } = res.event;
			if (e.props.subscription === true) {
				// A renewal is the shop backend's server-side event: no browser, no location.
				expect([device, browser, country]).toEqual(["other", null, null]);
				continue;
			}
			devices.set(device, (devices.get(device) ?? 0) + 1);
			countries.set(String(country), (countries.get(String(country)) ?? 0) + 1);
			if (browser === null) browserless++;
			expect(deviceOf.get(visitor) ?? device, visitor).toBe(device);
			deviceOf.set(visitor, device);
		}
		const n = [...devices.values()].reduce((a, b) => a + b, 0);
		const share = (m: Map<string, number>, k: string) => (m.get(k) ?? 0) / n;
		// USER_AGENTS weights: desktop 47 %, mobile 50 %, tablet 3 % of visitors.
		expect(share(devices, "mobile")).toBeGreaterThan(0.35);
		expect(share(devices, "desktop")).toBeGreaterThan(0.3);
		expect(share(devices, "other")).toBe(0);
		expect(browserless).toBe(0);
		// The shop's country mix: Spain first (26 %), then Germany (20 %).
		expect(share(countries, "ES")).toBeGreaterThan(0.15);
		expect(share(countries, "DE")).toBeGreaterThan(0.1);
		expect(countries.has("null")).toBe(false);
	});

	it("keeps totals and references consistent", () => {
		const customers = new Map(store.customers.map((c) => [c.customer_id, c]));
		const skus = new Set(store.products.map((p) => p.sku));
		const orders = new Map(store.orders.map((o) => [o.order_id, o]));
		for (const o of store.orders) {
			const items = o.items.reduce((s, i) => s + i.qty * cents(i.unit_price), 0);
			expect(cents(o.subtotal), o.order_id).toBe(items);
			expect(cents(o.total), o.order_id).toBe(items - cents(o.discount) + cents(o.shipping) + cents(o.tax));
			expect(cents(o.discount)).toBeLessThanOrEqual(items);
			const customer = customers.get(o.customer_id);
			expect(customer, o.customer_id).toBeDefined();
			expect(o.placed_at).toBeGreaterThanOrEqual(customer!.created_at);
			for (const i of o.items) expect(skus.has(i.sku), i.sku).toBe(true);
			expect(o.placed_at).toBeLessThan(AS_OF);
			for (const k of ["paid_at", "shipped_at", "delivered_at"] as const) if (o[k] !== undefined) expect(o[k] as number).toBeLessThan(AS_OF);
		}
		for (const r of store.refunds) {
			const o = orders.get(r.order_id);
			expect(o, r.order_id).toBeDefined();
			expect(cents(r.amount)).toBeLessThanOrEqual(cents(o!.total));
			expect(r.created_at).toBeGreaterThan(o!.placed_at);
			expect(r.created_at).toBeLessThan(AS_OF);
			if (r.sku) expect(o!.items.some((i) => i.sku === r.sku)).toBe(true);
		}
		for (const t of store.tickets) {
			if (t.order_id) expect(orders.has(t.order_id)).toBe(true);
			if (t.customer_id) expect(customers.has(t.customer_id)).toBe(true);
		}
		for (const s of store.surveys) if (s.order_id) expect(orders.has(s.order_id)).toBe(true);
		const refundShare = store.refunds.length / store.orders.length;
		expect(refundShare).toBeGreaterThan(0.02);
		expect(refundShare).toBeLessThan(0.09);
	});

	it("gives every order of the events window one purchase event with its value, and every event a visitor", () => {
		const from = store.meta.eventsFrom!;
		expect(from).toBe(AS_OF - SMALL.eventDays * DAY);
		const purchases = new Map(store.events.filter((e) => e.name === "purchase").map((e) => [e.props.order_id, e]));
		const recent = store.orders.filter((o) => o.placed_at >= from);
		expect(recent.length).toBeGreaterThan(20);
		for (const o of recent) {
			const e = purchases.get(o.order_id);
			expect(e, o.order_id).toBeDefined();
			expect(e!.props.value).toBe(Number(o.total));
			expect(e!.customer_id).toBe(o.customer_id);
			expect(e!.ts).toBe(o.placed_at);
		}
		expect(purchases.size).toBe(recent.length);
		for (const e of store.events) {
			expect(e.visitor_id.length).toBeGreaterThanOrEqual(8);
			expect(e.ts).toBeLessThan(AS_OF);
		}
		const names = new Set(store.events.map((e) => e.name));
		for (const n of ["page_view", "product_view", "add_to_cart", "begin_checkout", "purchase"]) expect(names).toContain(n);
		// ~2 abandoned carts and ~6 browse-only visits per purchase: far more sessions than purchases.
		const sessions = new Set(store.events.map((e) => e.id.split(".").slice(0, 2).join(".")));
		expect(sessions.size).toBeGreaterThan(7 * purchases.size);
	});

	it("has a January and an early-summer peak, the injected drop, repeat buyers, subscribers and stockouts", () => {
		const big = gen({ seed: 11, customers: 5000, orders: 20_000, months: 24, eventDays: 0 });
		expect(big.meta.start).toBe(Date.UTC(2024, 10, 27));
		const perDay = new Map<string, number>();
		for (const o of big.orders) perDay.set(day(o.placed_at), (perDay.get(day(o.placed_at)) ?? 0) + 1);
		const count = (d: string) => perDay.get(d) ?? 0;
		const avg = (days: string[]) => days.reduce((s, d) => s + count(d), 0) / days.length;
		// Seasonal index: orders per day in the months named ÷ the average per day of the year centred on
		// each of their days (the store grows, so a calendar year's plain average would mostly measure growth).
		const days = Array.from({ length: Math.round((AS_OF - big.meta.start) / DAY) }, (_, i) => day(big.meta.start + i * DAY));
		const seasonal = (months: string[]) => {
			let orders = 0;
			let yearly = 0;
			days.forEach((d, i) => {
				if (!months.includes(d.slice(5, 7)) || i < 182 || i + 182 >= days.length) return;
				orders += count(d);
				yearly += avg(days.slice(i - 182, i + 183));
			});
			return orders / yearly;
		};
		expect(seasonal(["01"])).toBeGreaterThan(1.1);
		expect(seasonal(["05", "06"])).toBeGreaterThan(1.05);
		expect(seasonal(["08"])).toBeLessThan(0.95);

		// The drop: 3 days starting 35 days before asOf, far below the 2 weeks either side.
		const dropDays = Array.from({ length: DROP.length }, (_, i) => day(AS_OF - (DROP.daysBeforeAsOf - i) * DAY));
		expect(big.meta.drop.dates).toEqual(dropDays);
		const around = [...Array.from({ length: 14 }, (_, i) => day(AS_OF - (DROP.daysBeforeAsOf + 14 - i) * DAY)), ...Array.from({ length: 14 }, (_, i) => day(AS_OF - (DROP.daysBeforeAsOf - DROP.length - i) * DAY))];
		expect(avg(dropDays)).toBeLessThan(avg(around) * 0.7);

		// Most customers place 1–3 orders; a loyal tail places many.
		const perCustomer = new Map<string, number>();
		for (const o of big.orders) perCustomer.set(o.customer_id, (perCustomer.get(o.customer_id) ?? 0) + 1);
		const counts = big.customers.map((c) => perCustomer.get(c.customer_id) ?? 0);
		expect(counts.filter((n) => n >= 1 && n <= 3).length).toBeGreaterThan(counts.length / 2);
		expect(counts.filter((n) => n >= 10).length).toBeGreaterThan(counts.length * 0.05);
		// ~12 % active subscribers, with monthly renewals.
		const active = big.customers.filter((c) => c.subscription_status === "active").length / big.customers.length;
		expect(active).toBeGreaterThan(0.09);
		expect(active).toBeLessThan(0.15);
		expect(big.orders.filter((o) => o.is_subscription).length).toBeGreaterThan(big.orders.length * 0.1);
		// A few stockouts (stock 0 below the reorder point) and some late supplier deliveries.
		expect(big.inventory.some((s) => s.stock === 0 && s.reorder_point > 0)).toBe(true);
		const delivered = big.deliveries.filter((d) => d.delivered_at !== undefined);
		const late = delivered.filter((d) => d.delivered_at! > d.promised_at).length;
		expect(late).toBeGreaterThan(0);
		expect(late).toBeLessThan(delivered.length * 0.4);
	});
});

describe("demo store up to a moment (npm start seeds to now)", () => {
	/** 14:17 UTC on the window's last day: that day is partial, as a live shop's today is. */
	const until = AS_OF - DAY + 14 * 3_600_000 + 17 * 60_000;
	const partial = gen({ ...SMALL, until });
	const later = gen({ ...SMALL, until: AS_OF - 60_000 });
	const times = (store: Store) => {
		const out: [string, number][] = [];
		for (const entity of ENTITY_ORDER)
			for (const r of records(store, entity))
				for (const [k, v] of Object.entries(r)) if ((k.endsWith("_at") || k === "ts") && k !== "promised_at" && v !== undefined && v !== null) out.push([`${entity}.${k}`, typeof v === "number" ? v : Date.parse(String(v))]);
		return out;
	};

	it("holds nothing at or after `until`, and the last day up to it", () => {
		const all = times(partial);
		expect(all.length).toBeGreaterThan(10_000);
		expect(all.filter(([, t]) => !(t < until))).toEqual([]);
		const lastDay = (t: number) => t >= AS_OF - DAY;
		expect(partial.orders.filter((o) => lastDay(Number(o.placed_at))).length).toBeGreaterThan(0);
		expect(partial.events.filter((e) => lastDay(e.ts)).length).toBeGreaterThan(0);
		// The later moment has more of that day, never less.
		expect(later.orders.length).toBeGreaterThan(partial.orders.length);
		expect(later.events.length).toBeGreaterThan(partial.events.length);
	});

	it("what happened before `until` does not depend on it (a re-seed later the same day only adds)", () => {
		const byId = new Map(later.orders.map((o) => [o.order_id, o]));
		for (const o of partial.orders) {
			const same = byId.get(o.order_id);
			expect(same, o.order_id).toBeDefined();
			expect([same!.customer_id, same!.placed_at, same!.total, same!.items]).toEqual([o.customer_id, o.placed_at, o.total, o.items]);
		}
		const laterEvents = new Map(later.events.map((e) => [e.id, e]));
		for (const e of partial.events) expect(laterEvents.get(e.id)).toEqual(e);
		expect(later.customers.slice(0, partial.customers.length)).toEqual(partial.customers.map((c) => later.customers.find((x) => x.customer_id === c.customer_id)));
	});

	it("refers only to customers and orders that exist by `until`", () => {
		const customers = new Set(partial.customers.map((c) => c.customer_id));
		const orders = new Set(partial.orders.map((o) => o.order_id));
		for (const entity of ["orders", "tickets", "surveys", "messages", "events"]) {
			for (const r of records(partial, entity)) if (r.customer_id !== undefined) expect(customers.has(String(r.customer_id)), `${entity} → ${r.customer_id}`).toBe(true);
		}
		for (const entity of ["refunds", "tickets", "surveys"]) {
			for (const r of records(partial, entity)) if (r.order_id !== undefined) expect(orders.has(String(r.order_id)), `${entity} → ${r.order_id}`).toBe(true);
		}
		for (const c of partial.customers) if (c.subscription_status !== "none") expect(partial.orders.some((o) => o.customer_id === c.customer_id && o.is_subscription), c.customer_id).toBe(true);
	});

	it("until = asOf is the whole-day store, and until is checked", () => {
		expect(gen({ ...SMALL, until: AS_OF })).toEqual(gen(SMALL));
		expect(() => gen({ ...SMALL, until: AS_OF + 1 })).toThrow(/until/);
		expect(() => gen({ ...SMALL, until: AS_OF - DAY })).toThrow(/until/);
	});
});

describe("demo store loader", () => {
	it("loads a tiny store through the import API, and a second load changes nothing", async () => {
		// Far in the past, so that its event days are shared with no other test.
		const asOf = Date.UTC(2024, 2, 1);
		const store = generateStore({ seed: 3, customers: 40, orders: 200, months: 2, eventDays: 2, asOf, webHistory }) as unknown as Store;
		const fetch = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
		const options = { fetch, url: "https://b2g.test", key: ADMIN_KEY, site: "demo", concurrency: 2, pollMs: 50 };
		const first = await loadStore(store, options);
		expect(first.results.map((r) => r.entity).sort()).toEqual([...ENTITY_ORDER].sort());
		for (const r of first.results) expect(r.rows, r.entity).toBe(records(store, r.entity).length);

		const inList = async (table: string, column: string, ids: string[]) =>
			(await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE site = 'demo' AND ${column} IN (SELECT value FROM json_each(?))`).bind(JSON.stringify(ids)).first<{ n: number }>())?.n;
		expect(await inList("orders", "order_id", store.orders.map((o) => o.order_id))).toBe(store.orders.length);
		expect(await inList("order_items", "order_id", store.orders.map((o) => o.order_id))).toBe(store.orders.reduce((s, o) => s + o.items.length, 0));
		expect(await inList("customers", "customer_id", store.customers.map((c) => c.customer_id))).toBe(store.customers.length);
		expect(await inList("refunds", "refund_id", store.refunds.map((r) => r.refund_id))).toBe(store.refunds.length);
		expect(await inList("events", "id", store.events.map((e) => e.id))).toBe(store.events.length);
		const total = await env.DB.prepare("SELECT SUM(total_minor) AS cents FROM orders WHERE site = 'demo' AND order_id IN (SELECT value FROM json_each(?))")
			.bind(JSON.stringify(store.orders.map((o) => o.order_id)))
			.first<{ cents: number }>();
		expect(total?.cents).toBe(store.orders.reduce((s, o) => s + cents(o.total), 0));

		const lastDay = day(store.events.at(-1)!.ts);
		const { body: health } = await getJson<Record<string, unknown>>(`/api/v1/health/pipeline?site=demo&date=${lastDay}`);
		expect(health).toMatchObject({ imported: store.events.filter((e) => day(e.ts) === lastDay).length, reconciled: true });

		const again = await loadStore(store, options);
		expect(again.results.map((r) => [r.entity, r.changed])).toEqual(first.results.map((r) => [r.entity, 0]));

		// A rejected row is a generator bug: the loader fails and shows it.
		const bad = importRecords({ ...options, entity: "orders", records: [{ ...store.orders[0], total: "1,00" }] });
		await expect(bad).rejects.toThrow(/orders: 1 of 1 rows rejected[\s\S]*line 1: total/);
	}, 60_000);
});
