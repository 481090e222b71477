/**
 * Imported web history (the `web_daily` entity, migration 0026, issue 15 item 4): daily session aggregates for
 * the days before a store's tracked events. Checked three ways:
 *  - the aggregator that counts the demo's history (workers/metrics/web-history.ts) gives, from a store's events,
 *    exactly the kpi_web_daily rows the rollup computes from the same events imported (every day, group, column);
 *  - KPIs read history days like tracked ones (hand-computed values), and raw events win a day that has both;
 *  - bad rows are refused naming the field, and a repeated upload changes nothing.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { generateStore } from "../scripts/demo-store.mjs";
import { refreshRollups } from "../workers/metrics/rollup";
import { webDailyAggregator, type HistoryEvent } from "../workers/metrics/web-history";
import { ADMIN_KEY, api, getJson, waitFor } from "./helpers";

const COLUMNS = "day, channel, device, country, visitors, sessions, events, page_views, bounces, duration_ms, view_sessions, view_purchase_sessions, cart_sessions, cart_purchase_sessions, checkout_sessions, checkout_purchase_sessions, purchase_sessions";

async function addSite(id: string, timezone: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}
async function webRows(site: string): Promise<Record<string, unknown>[]> {
	await refreshRollups(env, site);
	const r = await env.DB.prepare(`SELECT ${COLUMNS} FROM kpi_web_daily WHERE site = ? ORDER BY day, channel, device, country`).bind(site).all();
	return r.results;
}
async function put(site: string, body: unknown): Promise<Response> {
	return api("PUT", `/api/v1/web_daily?site=${site}`, body);
}
async function importEvents(site: string, events: unknown[]): Promise<void> {
	const res = await exports.default.fetch(`https://b2g.test/api/v1/import/events?site=${site}&format=ndjson`, {
		method: "POST",
		headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/x-ndjson" },
		body: `${events.map((e) => JSON.stringify(e)).join("\n")}\n`,
	});
	expect(res.status, await res.clone().text()).toBe(202);
	const { job } = (await res.json()) as { job: string };
	const done = await waitFor(
		async () => {
			const { body } = await getJson<{ status: string; rows_rejected: number }>(`/api/v1/import/${job}?site=${site}`);
			return body.status === "done" || body.status === "failed" ? body : undefined;
		},
		60_000,
		100,
	);
	expect(done).toMatchObject({ status: "done", rows_rejected: 0 });
}
type Kpis = { kpis: { id: string; total: { value: number | null; reason?: string }; series: { period: string; value: number | null }[] }[] };
async function kpis(site: string, query: string): Promise<Record<string, number | null>> {
	const { status, body } = await getJson<Kpis>(`/api/v1/kpis?site=${site}&${query}`);
	expect(status, JSON.stringify(body)).toBe(200);
	return Object.fromEntries(body.kpis.map((k) => [k.id, k.total.value]));
}

const day = (d: string, over: Record<string, unknown> = {}) => ({
	day: d, visitors: 80, sessions: 100, events: 400, page_views: 250, bounces: 30, duration_ms: 6_000_000,
	view_sessions: 60, view_purchase_sessions: 4, cart_sessions: 20, cart_purchase_sessions: 5, checkout_sessions: 10, checkout_purchase_sessions: 5, purchase_sessions: 5, ...over,
});

beforeAll(async () => {
	await addSite("wh-raw", "Europe/Madrid");
	await addSite("wh-agg", "Europe/Madrid");
	await addSite("wh-kpi", "UTC");
});

describe("the history aggregator counts as the web rollup does", () => {
	it("a store's events, aggregated, equal the rollup of the same events imported (every day, group and column)", async () => {
		// A small store whose 6 event days lie far from every other test's; Madrid, so local days are not UTC days.
		const store = generateStore({ seed: 9, customers: 60, orders: 400, months: 2, eventDays: 6, asOf: Date.UTC(2023, 4, 10) }) as unknown as { events: HistoryEvent[] };
		expect(store.events.length).toBeGreaterThan(500);
		await importEvents("wh-raw", store.events);
		const raw = await webRows("wh-raw");

		const aggregate = webDailyAggregator("Europe/Madrid");
		aggregate.add(store.events);
		const records = aggregate.flush();
		const res = await put("wh-agg", records);
		expect(res.status, await res.clone().text()).toBe(200);
		expect(((await res.json()) as { rows_changed: number }).rows_changed).toBe(records.length);
		const agg = await webRows("wh-agg");

		expect(raw.length).toBeGreaterThan(40);
		expect(new Set(raw.map((r) => r.day)).size).toBeGreaterThanOrEqual(6);
		expect(agg).toEqual(raw);
	}, 120_000);
});

describe("KPIs from imported history", () => {
	it("reads a history day like a tracked one: sessions, visitors, conversion, bounce rate, by channel (KPI values are rounded to 4 decimals)", async () => {
		const rows = [
			day("2025-03-03"),
			day("2025-03-04", { visitors: 40, sessions: 50, events: 150, page_views: 120, bounces: 20, view_sessions: 30, view_purchase_sessions: 1, cart_sessions: 5, cart_purchase_sessions: 1, checkout_sessions: 2, checkout_purchase_sessions: 1, purchase_sessions: 1 }),
			day("2025-03-03", { dimension: "channel", value: "email", visitors: 30, sessions: 40, events: 160, page_views: 100, bounces: 10, view_sessions: 20, purchase_sessions: 4, view_purchase_sessions: 4, cart_purchase_sessions: 4, checkout_purchase_sessions: 4 }),
			day("2025-03-03", { dimension: "channel", value: "direct", visitors: 50, sessions: 60, events: 240, page_views: 150, bounces: 20, view_sessions: 40, purchase_sessions: 1, view_purchase_sessions: 0, cart_sessions: 10, cart_purchase_sessions: 1, checkout_sessions: 5, checkout_purchase_sessions: 1 }),
		];
		const res = await put("wh-kpi", rows);
		expect(res.status, await res.clone().text()).toBe(200);
		expect(await res.json()).toMatchObject({ received: 4, rows_changed: 4 });
		// By hand: sessions 100 + 50; visitors 80 + 40 (daily visitors add up over days); purchases 5 + 1.
		const k = await kpis("wh-kpi", "ids=sessions,visitors,conversion_rate,cart_abandonment&from=2025-03-03&to=2025-03-04");
		expect(k.sessions).toBe(150);
		expect(k.visitors).toBe(120);
		expect(k.conversion_rate).toBeCloseTo((100 * 6) / 150, 3);
		// carts 20 + 5, of which bought 5 + 1
		expect(k.cart_abandonment).toBeCloseTo((100 * (25 - 6)) / 25, 3);
		const { body } = await getJson<{ kpis: { id: string; groups?: { key: string; total: { value: number | null } }[] }[] }>(
			"/api/v1/kpis?site=wh-kpi&ids=conversion_rate&from=2025-03-03&to=2025-03-03&by=channel",
		);
		const groups = Object.fromEntries((body.kpis[0]?.groups ?? []).map((g) => [g.key, g.total.value]));
		// email 4 / 40 = 10 %, direct 1 / 60 ≈ 1.667 %
		expect(groups.email).toBeCloseTo(10, 3);
		expect(groups.direct).toBeCloseTo(100 / 60, 3);
	});

	it("a repeated upload changes nothing; a day with tracked events uses them only", async () => {
		expect(((await (await put("wh-kpi", [day("2025-03-03")])).json()) as { rows_changed: number }).rows_changed).toBe(0);
		// Two tracked sessions on 2025-03-05, which also has (much larger) history: raw wins the day.
		await put("wh-kpi", [day("2025-03-05")]);
		const t = Date.UTC(2025, 2, 5, 10);
		await importEvents("wh-kpi", [
			{ id: "wh-e1", name: "page_view", ts: t, url: "https://shop.example/", visitor_id: "visitor-1" },
			{ id: "wh-e2", name: "page_view", ts: t + 60_000, url: "https://shop.example/p/a", visitor_id: "visitor-1" },
			{ id: "wh-e3", name: "page_view", ts: t + 5_000, url: "https://shop.example/", visitor_id: "visitor-2" },
		]);
		const k = await kpis("wh-kpi", "ids=sessions,visitors,engagement_score&from=2025-03-05&to=2025-03-05");
		expect(k).toMatchObject({ sessions: 2, visitors: 2 });
		// 1.5 pages/session ÷ 5 = 0.3; 30 s average ÷ 300 s = 0.1; one bounce of two → 0.5: 100 × 0.9 ÷ 3
		expect(k.engagement_score).toBeCloseTo(30, 3);
		// The day before keeps its history.
		expect((await kpis("wh-kpi", "ids=sessions&from=2025-03-04&to=2025-03-04")).sessions).toBe(50);
	}, 60_000);

	it("a day with neither is null with the reason naming the history import", async () => {
		const { body } = await getJson<Kpis>("/api/v1/kpis?site=wh-kpi&ids=conversion_rate&from=2025-02-01&to=2025-02-02");
		expect(body.kpis[0]?.total.value).toBeNull();
		expect(body.kpis[0]?.total.reason).toMatch(/web_daily/);
	});
});

describe("bad rows are refused naming the field", () => {
	const cases: [string, Record<string, unknown>, string][] = [
		["a value without a dimension", day("2025-04-01", { value: "email" }), "value"],
		["a dimension without a value", day("2025-04-01", { dimension: "device" }), "value"],
		["an unknown channel", day("2025-04-01", { dimension: "channel", value: "tv_ads" }), "value"],
		["a lower-case country", day("2025-04-01", { dimension: "country", value: "es" }), "value"],
		["more purchases than sessions", day("2025-04-01", { purchase_sessions: 101 }), "purchase_sessions"],
		["a step's purchases above its sessions", day("2025-04-01", { cart_sessions: 2, cart_purchase_sessions: 3 }), "cart_purchase_sessions"],
		["more visitors than sessions", day("2025-04-01", { visitors: 101 }), "visitors"],
		["fewer events than page views", day("2025-04-01", { events: 200 }), "events"],
		["a missing measure", { ...day("2025-04-01"), bounces: undefined }, "bounces"],
		["a negative count", day("2025-04-01", { sessions: -1 }), "sessions"],
		["not a day", day("2025-02-30"), "day"],
	];
	for (const [name, row, field] of cases)
		it(name, async () => {
			const res = await put("wh-kpi", [row]);
			expect(res.status).toBe(400);
			const body = (await res.json()) as { fields?: { field: string; message: string }[] };
			expect(body.fields?.map((f) => f.field).join(" ")).toContain(field);
			const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM web_daily WHERE site = 'wh-kpi' AND day = '2025-04-01'").first<{ n: number }>();
			expect(n?.n).toBe(0);
		});
});
