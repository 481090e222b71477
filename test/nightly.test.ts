/**
 * The nightly analytics Workflow end to end on a hand-computed store in Europe/Madrid: one run per
 * (site, day) under double and late cron fires, a failing step retried, a rerun replacing results, an
 * as-of day in the past seeing only its data, and the results through the API. Expected values are
 * worked out in the comments.
 */
import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { nightlyId, scheduleNightly, startNightly } from "../workers/jobs/nightly";
import { snapshotKey } from "../workers/analytics/steps";
import { api, getJson } from "./helpers";

const SITE = "night";
const AS_OF = "2026-06-30";
/** 2026-07-01 00:00 in Madrid (UTC+2): the end of the as-of day. */
const CUTOFF = Date.UTC(2026, 5, 30, 22);

async function put(entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${SITE}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

const order = (id: string, customer: string, at: string, total: string, skus: string[], extra: Record<string, unknown> = {}) => ({
	order_id: id, customer_id: customer, placed_at: at, total, currency: "EUR", channel: customer === "A" ? "email" : "organic",
	items: skus.map((sku) => ({ sku, qty: 1, unit_price: (Number(total) / skus.length).toFixed(2) })), ...extra,
});

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Night', '[]', 'Europe/Madrid', 'EUR', 0)").bind(SITE).run();
	await put("products", [
		{ sku: "WHEY", name: "Whey", price: 30, unit_cost: "12.00", category: "protein" },
		{ sku: "SHAKER", name: "Shaker", price: 10, unit_cost: "2.00", category: "accessories" },
		{ sku: "BAR", name: "Bar", price: 20, unit_cost: "10.00", category: "snacks" },
	]);
	await put("orders", [
		// A: 3 orders, last 2026-06-29T10:00Z → recency floor(1.5 d) = 1; F 3; M 300.
		order("a1", "A", "2026-05-01T10:00:00Z", "100.00", ["WHEY", "SHAKER"]),
		order("a2", "A", "2026-06-01T10:00:00Z", "100.00", ["WHEY", "SHAKER"]),
		order("a3", "A", "2026-06-29T10:00:00Z", "100.00", ["WHEY", "SHAKER"]),
		// B: one order 2026-06-20T10:00Z → recency 10 (10.5 d); F 1; M 50.
		order("b1", "B", "2026-06-20T10:00:00Z", "50.00", ["WHEY"]),
		// C: two orders, last 2026-02-10T10:00Z → recency 140; F 2; M 1000.
		order("c1", "C", "2026-01-10T10:00:00Z", "500.00", ["WHEY", "SHAKER"]),
		order("c2", "C", "2026-02-10T10:00:00Z", "500.00", ["WHEY", "SHAKER"]),
		// D: one order 2025-08-01T10:00Z → recency 333; F 1; M 20.
		order("d1", "D", "2025-08-01T10:00:00Z", "20.00", ["BAR"]),
		// E: a cancelled order (ignored) and one of 80 with a 30 refund → recency 14 (06-16T10:00Z); F 1; M 50.
		order("e0", "E", "2026-06-15T10:00:00Z", "80.00", ["WHEY"], { status: "cancelled" }),
		order("e1", "E", "2026-06-16T10:00:00Z", "80.00", ["WHEY", "BAR"]),
		// F: outside the 365-day window (not scored); it is the 2025-05 cohort.
		order("f1", "F", "2025-05-01T10:00:00Z", "100.00", ["BAR"]),
		// H: 2026-01-31T23:30Z is 1 February 00:30 in Madrid: the 2026-02 cohort, not January.
		order("h1", "H", "2026-01-31T23:30:00Z", "40.00", ["WHEY"]),
		// G: after the as-of day (2026-07-01T10:00Z): never seen by the 2026-06-30 run.
		order("g1", "G", "2026-07-01T10:00:00Z", "999.00", ["WHEY"]),
	]);
	await put("refunds", [{ refund_id: "e1-r", order_id: "e1", created_at: "2026-06-20T10:00:00Z", amount: "30.00", currency: "EUR" }]);
	// WHEY's supplier deliveries took 5, 7 and 9 days.
	await put("suppliers", [{ supplier_id: "s1", name: "Whey Co" }]);
	await put("deliveries", [5, 7, 9].map((days, i) => ({ delivery_id: `d${i}`, supplier_id: "s1", sku: "WHEY", qty: 100, ordered_at: `2026-0${3 + i}-01T00:00:00Z`, promised_at: `2026-0${3 + i}-08T00:00:00Z`, delivered_at: new Date(Date.UTC(2026, 2 + i, 1 + days)).toISOString() })));
});

async function runAndWait(id: string, start: () => Promise<unknown>, modify?: Parameters<Awaited<ReturnType<typeof introspectWorkflowInstance>>["modify"]>[0]) {
	const instance = await introspectWorkflowInstance(env.NIGHTLY, id);
	try {
		if (modify) await instance.modify(modify);
		await start();
		await instance.waitForStatus("complete");
	} finally {
		await instance.dispose();
	}
}

type Score = { customer_id: string; recency_days: number; frequency: number; monetary_minor: number; r: number; f: number; m: number; segment: string };
const scores = async (asOf = AS_OF) =>
	(await env.DB.prepare("SELECT customer_id, recency_days, frequency, monetary_minor, r, f, m, segment FROM rfm_scores WHERE site = ? AND as_of = ? ORDER BY customer_id").bind(SITE, asOf).all<Score>()).results;

describe("nightly analytics workflow", () => {
	it("the cron starts one run per site and day after 03:00 local, however often it fires", async () => {
		const id = nightlyId(SITE, AS_OF);
		// 2026-07-01 02:50 Madrid (00:50Z): too early.
		expect(await scheduleNightly(env, Date.UTC(2026, 6, 1, 0, 50))).not.toContain(id);
		await runAndWait(id, async () => {
			// 03:10 Madrid: starts; a second fire and a late one (15:00) start nothing more.
			expect(await scheduleNightly(env, Date.UTC(2026, 6, 1, 1, 10))).toContain(id);
			expect(await scheduleNightly(env, Date.UTC(2026, 6, 1, 1, 10))).not.toContain(id);
			expect(await scheduleNightly(env, Date.UTC(2026, 6, 1, 13, 0))).not.toContain(id);
		});
		const runs = await env.DB.prepare("SELECT id, trigger, status FROM analytics_runs WHERE site = ? AND as_of = ?").bind(SITE, AS_OF).all();
		expect(runs.results).toEqual([{ id, trigger: "cron", status: "complete" }]);
		const steps = await env.DB.prepare("SELECT step, status, attempts, rows_read FROM analytics_run_steps WHERE run_id = ? ORDER BY position").bind(id).all<{ step: string; status: string; attempts: number; rows_read: number }>();
		expect(steps.results.map((s) => [s.step, s.status, s.attempts])).toEqual([
			["rfm", "complete", 1], ["segment_rollup", "complete", 1], ["cohorts", "complete", 1], ["basket", "complete", 1], ["clv", "complete", 1],
			["churn", "complete", 1], ["recommend", "complete", 1], ["actions", "complete", 1], ["inventory", "complete", 1], ["forecast", "complete", 1], ["snapshot", "complete", 1], ["prune", "complete", 1],
		]);
		// RFM read the 8 non-cancelled orders of the window (a1–a3, b1, c1, c2, d1, e1); f1 is older, g1 after the day, h1 is in it → 9.
		expect(steps.results[0]?.rows_read).toBe(9);
	});

	it("scores RFM by quintiles with ties, net of refunds and cancellations, and segments by precedence", async () => {
		// n = 6 scored (A B C D E H; H: 2026-01-31T23:30Z, recency floor(149.94) = 149, F 1, M 40). Score = 1 + floor(5 · worse / 6).
		// R (days; worse = larger): A 1 → 5 worse → 5; B 10 → 4 → 4; E 14 → 3 → 3; C 140 → 2 → 2; H 149 → 1 → 1; D 333 → 0 → 1.
		// F (worse = smaller): A 3 → 5 → 5; C 2 → 4 → 4; B D E H 1 → 0 → 1.
		// M: C 1000 → 5 → 5; A 300 → 4 → 4; B 50, E 50 → 2 (D 20, H 40) → 2; H 40 → 1 → 1; D 20 → 0 → 1.
		// Segments: A 5,5,4 Champions; B 4,1,2 Promising; C 2,4,5 Cannot_Lose; D 1,1,1 Hibernating; E 3,1,2 Promising; H 1,1,1 Hibernating.
		expect(await scores()).toEqual([
			{ customer_id: "A", recency_days: 1, frequency: 3, monetary_minor: 30000, r: 5, f: 5, m: 4, segment: "Champions" },
			{ customer_id: "B", recency_days: 10, frequency: 1, monetary_minor: 5000, r: 4, f: 1, m: 2, segment: "Promising" },
			{ customer_id: "C", recency_days: 140, frequency: 2, monetary_minor: 100000, r: 2, f: 4, m: 5, segment: "Cannot_Lose" },
			{ customer_id: "D", recency_days: 333, frequency: 1, monetary_minor: 2000, r: 1, f: 1, m: 1, segment: "Hibernating" },
			{ customer_id: "E", recency_days: 14, frequency: 1, monetary_minor: 5000, r: 3, f: 1, m: 2, segment: "Promising" },
			{ customer_id: "H", recency_days: 149, frequency: 1, monetary_minor: 4000, r: 1, f: 1, m: 1, segment: "Hibernating" },
		]);
		const seg = await getJson<{ as_of: string; customers: number; segments: { segment: string; customers: number; revenue: number; revenue_share: number | null; average_order_value: number | null; action: string }[] }>(`/api/v1/segments?site=${SITE}`);
		expect(seg.status).toBe(200);
		expect(seg.body.as_of).toBe(AS_OF);
		const promising = seg.body.segments.find((s) => s.segment === "Promising");
		// Promising: B 50 + E 50 = 100 of 1,460 total; AOV 100 / 2 orders = 50.
		expect(promising).toMatchObject({ customers: 2, revenue: 100, average_order_value: 50 });
		expect(promising?.revenue_share).toBeCloseTo(100 / 1460, 10);
		expect(seg.body.segments).toHaveLength(11);
		const list = await getJson<{ total: number; customers: { customer_id: string }[] }>(`/api/v1/segments/Hibernating/customers?site=${SITE}&sort=recency`);
		expect(list.body.total).toBe(2);
		expect(list.body.customers.map((c) => c.customer_id)).toEqual(["H", "D"]);
	});

	it("breaks KPIs down by segment (by=segment): revenue from each segment's customers in one query", async () => {
		// Revenue (total − tax) 2025-05-01…2026-06-30 by the customers' segments: Champions A 300; Promising B 50 + E 80
		// (e1's refund is net revenue's business, not revenue's) = 130; Cannot_Lose C 1,000; Hibernating D 20 + H 40 = 60;
		// Unscored F 100 (no order in the RFM window). The groups add up to the total, 1,590.
		const res = await getJson<{ kpis: { id: string; total: { value: number }; groups: { key: string; total: { value: number } }[] }[] }>(
			`/api/v1/kpis?site=${SITE}&ids=revenue,orders&from=2025-05-01&to=2026-06-30&by=segment`,
		);
		expect(res.status, JSON.stringify(res.body)).toBe(200);
		const revenue = res.body.kpis.find((k) => k.id === "revenue");
		expect(revenue?.total.value).toBe(1590);
		expect(Object.fromEntries(revenue?.groups.map((g) => [g.key, g.total.value]) ?? [])).toEqual({ Champions: 300, Promising: 130, Cannot_Lose: 1000, Hibernating: 60, Unscored: 100 });
		const orders = res.body.kpis.find((k) => k.id === "orders");
		expect(Object.fromEntries(orders?.groups.map((g) => [g.key, g.total.value]) ?? [])).toEqual({ Champions: 3, Promising: 2, Cannot_Lose: 2, Hibernating: 2, Unscored: 1 });
		// A KPI with a measure the segment table cannot split (marketing spend) refuses the breakdown, naming `by`.
		const cac = await getJson<{ fields: { field: string }[] }>(`/api/v1/kpis?site=${SITE}&ids=cac&by=segment`);
		expect(cac.status).toBe(400);
		expect(cac.body.fields[0]?.field).toBe("by");
	});

	it("builds cohorts in the site's time zone, with the month edge and empty periods", async () => {
		const res = await getJson<{ result: { cohorts: { cohort: string; size: number; periods: { k: number; customers: number; revenueMinor: number }[] }[] } }>(`/api/v1/cohorts/retention?site=${SITE}&grain=month`);
		expect(res.status).toBe(200);
		const byCohort = Object.fromEntries(res.body.result.cohorts.map((c) => [c.cohort, c]));
		// First orders (Madrid months): F 2025-05, D 2025-08, C 2026-01, H 2026-02 (not January), A 2026-05, B and E 2026-06.
		expect(Object.keys(byCohort)).toEqual(["2025-05", "2025-08", "2026-01", "2026-02", "2026-05", "2026-06"]);
		expect(byCohort["2026-06"]?.size).toBe(2);
		// C: January (k 0) and February (k 1), nobody in March (k 2, observed and empty), … to June (k 5).
		expect(byCohort["2026-01"]?.periods.map((p) => p.customers)).toEqual([1, 1, 0, 0, 0, 0]);
		// A: May 100, June 100 + 100.
		expect(byCohort["2026-05"]?.periods.map((p) => p.revenueMinor)).toEqual([10000, 20000]);
	});

	it("mines basket rules over the run's orders (hand-computed support, confidence, lift, conviction)", async () => {
		// 9 baskets in the 365 days: a1–a3 {SHAKER, WHEY}, b1 {WHEY}, c1 c2 {SHAKER, WHEY}, d1 {BAR}, e1 {BAR, WHEY}, h1 {WHEY}.
		// WHEY 8, SHAKER 5, BAR 2; {SHAKER, WHEY} 5; {BAR, WHEY} 1.
		// SHAKER ⇒ WHEY: support 5/9, confidence 1, lift 1 / (8/9) = 9/8, conviction ∞ (null).
		// WHEY ⇒ SHAKER: confidence 5/8, lift (5/8)/(5/9) = 9/8, conviction (1 − 5/9)/(1 − 5/8) = (4/9)/(3/8) = 32/27.
		const res = await getJson<{ baskets: number; total: number; rules: { antecedent: string[]; consequent: string[]; support: number; confidence: number; lift: number; conviction: number | null }[] }>(
			`/api/v1/basket/rules?site=${SITE}&level=product&min_lift=1`,
		);
		expect(res.status).toBe(200);
		expect(res.body.baskets).toBe(9);
		expect(res.body.rules.map((r) => [r.antecedent, r.consequent])).toEqual([[["SHAKER"], ["WHEY"]], [["WHEY"], ["SHAKER"]]]);
		const [shaker, whey] = res.body.rules;
		expect(shaker?.support).toBeCloseTo(5 / 9, 12);
		expect(shaker?.confidence).toBe(1);
		expect(shaker?.lift).toBeCloseTo(9 / 8, 12);
		expect(shaker?.conviction).toBeNull();
		expect(whey?.conviction).toBeCloseTo(32 / 27, 12);
		// BAR ⇒ WHEY has lift (1/2)/(8/9) = 0.5625 < 1: filtered out by min_lift, present without it.
		const all = await getJson<{ total: number }>(`/api/v1/basket/rules?site=${SITE}&level=product`);
		expect(all.body.total).toBe(4);
		const filtered = await getJson<{ rules: unknown[] }>(`/api/v1/basket/rules?site=${SITE}&product=BAR`);
		expect(filtered.body.rules).toHaveLength(1);
	});

	it("says CLV needs more data than 6 customers have, rather than fitting noise", async () => {
		const res = await getJson<{ model: { status: string } }>(`/api/v1/clv/model?site=${SITE}`);
		expect(res.status).toBe(200);
		expect(res.body.model.status).toBe("insufficient_data");
	});

	it("writes a JSON snapshot of the run to R2", async () => {
		const obj = await env.ARCHIVE.get(snapshotKey(SITE, AS_OF));
		expect(obj).not.toBeNull();
		const doc = (await obj?.json()) as { as_of: string; results: Record<string, unknown>; segment_sizes: Record<string, number> };
		expect(doc.as_of).toBe(AS_OF);
		expect(doc.segment_sizes).toEqual({ Cannot_Lose: 1, Champions: 1, Hibernating: 2, Promising: 2 });
		expect(Object.keys(doc.results)).toContain("cohorts:retention:month");
	});

	it("plans inventory: reorder point from demand and supplier lead times at 95 %, used by the products API where the store gave none", async () => {
		// WHEY units in the 90 days before the cutoff (non-cancelled): a1 05-01, a2 06-01, e1 06-16, b1 06-20, a3 06-29 → 5 days with 1 unit.
		// μ_d = 5/90 = 0.055556; Σ(x − μ)² = 5(1 − μ)² + 85μ² = 4.722222 → σ_d² = 4.722222/89 = 0.0530587, σ_d = 0.230345.
		// Lead time 5, 7, 9 days → μ_L 7, σ_L 2. Demand over the lead time: mean 7μ_d = 0.388889, variance 7σ_d² + μ_d²·4 = 0.3837564 → sd 0.6194808.
		// z(95 %) = 1.6448536 → safety stock 1.018955; reorder point 1.407844 (the products API rounds up to 2).
		const plan = await env.DB.prepare("SELECT demand_mean, demand_sd, lead_mean, lead_sd, safety_stock, reorder_point, lead_source FROM inventory_plan WHERE site = ? AND as_of = ? AND sku = 'WHEY'")
			.bind(SITE, AS_OF)
			.first<{ demand_mean: number; demand_sd: number; lead_mean: number; lead_sd: number; safety_stock: number; reorder_point: number; lead_source: string }>();
		expect(plan?.demand_mean).toBeCloseTo(0.055556, 5);
		expect(plan?.demand_sd).toBeCloseTo(0.230345, 5);
		expect([plan?.lead_mean, plan?.lead_sd]).toEqual([7, 2]);
		expect(plan?.safety_stock).toBeCloseTo(1.018955, 5);
		expect(plan?.reorder_point).toBeCloseTo(1.407844, 5);
		expect(plan?.lead_source).toBe("3 deliveries of this SKU");
		// BAR has no delivery history and no lead_time_days: no reorder point, and it says why.
		const bar = await env.DB.prepare("SELECT reorder_point, lead_source FROM inventory_plan WHERE site = ? AND as_of = ? AND sku = 'BAR'").bind(SITE, AS_OF).first();
		expect(bar).toEqual({ reorder_point: null, lead_source: "no delivery history and no lead_time_days" });
		const perf = await getJson<{ inventory: { reorder_point: number | null; reorder_point_source: string | null } }>(`/api/v1/products/WHEY/performance?site=${SITE}&from=2026-06-01&to=2026-06-30`);
		expect(perf.status).toBe(200);
		expect(perf.body.inventory).toMatchObject({ reorder_point: 2, reorder_point_source: "computed" });
		// The product page's plan: the same numbers, and a stationary 30-day forecast: 30μ_d = 1.6667, 95 % band 30μ ± 1.96 √30 σ_d → [0, 4.1394].
		const shown = (perf.body as unknown as { plan: { demand_per_day: number; reorder_point: number; lead_time_days: number; forecast_30d: { mean: number; lower95: number; upper95: number } } }).plan;
		expect(shown.demand_per_day).toBeCloseTo(0.055556, 5);
		expect(shown.reorder_point).toBeCloseTo(1.407844, 5);
		expect(shown.lead_time_days).toBe(7);
		expect(shown.forecast_30d.mean).toBeCloseTo(1.666667, 5);
		expect(shown.forecast_30d.lower95).toBe(0);
		expect(shown.forecast_30d.upper95).toBeCloseTo(1.666667 + 1.96 * Math.sqrt(30) * 0.230345, 4);
	});

	it("retries a step that fails once, and the run completes", async () => {
		const id = `manual-retry-${crypto.randomUUID().slice(0, 8)}`;
		await runAndWait(
			id,
			() => startNightly(env, { site: SITE, asOf: AS_OF }, id, "manual"),
			async (m) => {
				await m.disableRetryDelays();
				await m.mockStepError({ name: "basket" }, new Error("D1 went away"), 1);
			},
		);
		const run = await getJson<{ status: string; steps: { step: string; status: string }[] }>(`/api/v1/jobs/${id}?site=${SITE}`);
		expect(run.body.status).toBe("complete");
		expect(run.body.steps.find((s) => s.step === "basket")?.status).toBe("complete");
	});

	it("takes the RFM window as a run parameter: 120 days keeps only A, B and E", async () => {
		// The window starts 120 days before the cutoff, 2026-03-02T22:00Z: C (last order 02-10), H (01-31) and D fall out.
		const res = await api("POST", `/api/v1/jobs/nightly/run?site=${SITE}&as_of=${AS_OF}&window_days=120`);
		expect(res.status).toBe(202);
		const { id } = (await res.json()) as { id: string };
		const instance = await introspectWorkflowInstance(env.NIGHTLY, id);
		try {
			await instance.waitForStatus("complete");
		} finally {
			await instance.dispose();
		}
		expect((await scores()).map((s) => s.customer_id)).toEqual(["A", "B", "E"]);
		const seg = await getJson<{ window_days: number; customers: number }>(`/api/v1/segments?site=${SITE}`);
		expect(seg.body).toMatchObject({ window_days: 120, customers: 3 });
		expect((await api("POST", `/api/v1/jobs/nightly/run?site=${SITE}&window_days=7`)).status).toBe(400);
	});

	it("a rerun for the same day replaces its results; a past as-of day sees only its own data", async () => {
		await put("orders", [order("b2", "B", "2026-06-25T10:00:00Z", "70.00", ["WHEY"])]);
		const id = `manual-rerun-${crypto.randomUUID().slice(0, 8)}`;
		await runAndWait(id, () => startNightly(env, { site: SITE, asOf: AS_OF }, id, "manual"));
		const now = await scores();
		expect(now).toHaveLength(6); // replaced, not added to
		expect(now.find((s) => s.customer_id === "B")).toMatchObject({ frequency: 2, monetary_minor: 12000, recency_days: 5 });
		// As of 2026-02-28: only c1, c2, d1, f1 (2025-05-01 is within 365 days of 2026-02-28) and h1 exist.
		const past = `manual-past-${crypto.randomUUID().slice(0, 8)}`;
		await runAndWait(past, () => startNightly(env, { site: SITE, asOf: "2026-02-28" }, past, "manual"));
		expect((await scores("2026-02-28")).map((s) => s.customer_id)).toEqual(["C", "D", "F", "H"]);
	});

	it("answers 404 no_results before any run, and refuses an as_of that is not over", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('norun', 'No run', '[]', 'UTC', 'EUR', 0)").run();
		const res = await getJson<{ error: string }>("/api/v1/segments?site=norun");
		expect(res.status).toBe(404);
		expect(res.body.error).toBe("no_results");
		const future = await api("POST", `/api/v1/jobs/nightly/run?site=${SITE}&as_of=2999-01-01`);
		expect(future.status).toBe(400);
		expect(((await future.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe("as_of");
	});
});

describe("the customer profile shows the nightly analytics", () => {
	it("scores, segment history and (for strategic roles) CLV money; before a run, nulls", async () => {
		const prof = await getJson<{ analytics: { as_of: string; rfm: { segment: string; r: number; f: number; m: number; action: string } | null; segment_history: { as_of: string; segment: string }[]; clv: unknown } }>(
			`/api/v1/customers/A?site=${SITE}`,
		);
		expect(prof.status).toBe(200);
		expect(prof.body.analytics.rfm).toMatchObject({ segment: "Champions", r: 5, f: 5, m: 4 });
		expect(prof.body.analytics.rfm?.action).toMatch(/VIP/);
		// Kept days for A: the past run (2026-02-28: A had no order yet → absent) and 2026-06-30.
		expect(prof.body.analytics.segment_history.map((h) => h.as_of)).toEqual([AS_OF]);
		expect(prof.body.analytics.clv).toBeNull(); // the CLV model had too little data on this site
		const before = await getJson<{ analytics: unknown }>("/api/v1/customers/c-nobody?site=norun");
		expect(before.status).toBe(404);
	});
});
