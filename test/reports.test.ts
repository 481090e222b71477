/**
 * Reports (issue 13): the period parser, the action-item rules on hand-made inputs, and every report of a
 * small fixture store whose numbers must equal the KPI, products and segments APIs' answers for the same
 * range; rendering (no script, escaped stored text, inline SVG, print rules), CSV formula neutralisation,
 * the archive key and idempotent re-rendering, and 4xx answers naming the field.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ApiError } from "../workers/lib/http";
import { parsePeriod, previousPeriod, requireStarted } from "../workers/reports/period";
import { renderCsv, reportKey } from "../workers/reports/render";
import { evaluateRules, type RuleInput } from "../workers/reports/rules";
import type { Report, ReportMetric } from "../workers/reports/types";
import { api } from "./helpers";

const SITE = "rp";
const EVIL = `<img src=x onerror="alert(1)">`;

async function put(entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${SITE}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

async function getJson<T>(path: string, status = 200): Promise<T> {
	const res = await api("GET", path);
	const text = await res.text();
	expect(res.status, text).toBe(status);
	return JSON.parse(text) as T;
}

type P = { value: number | null; compare?: number | null; delta_pct?: number | null; target?: number; progress?: number | null };
type K = { id: string; total: P; series: (P & { period: string })[] };
async function kpis(query: string): Promise<Map<string, K>> {
	const r = await getJson<{ kpis: K[] }>(`/api/v1/kpis?site=${SITE}&${query}`);
	return new Map(r.kpis.map((k) => [k.id, k]));
}

function throwsField(fn: () => unknown, status: number, field: string) {
	try {
		fn();
	} catch (err) {
		const e = err as ApiError;
		expect(e.status).toBe(status);
		expect(e.fields?.[0]?.field).toBe(field);
		return;
	}
	throw new Error("did not throw");
}

describe("parsePeriod", () => {
	it("reads ISO weeks across year ends: 2026-W53 is Mon 2026-12-28 … Sun 2027-01-03, 2025-W01 starts 2024-12-30", () => {
		// 1 Jan 2026 is a Thursday, so 2026 has 53 ISO weeks; 4 Jan 2025 is a Saturday, so W01 starts Mon 30 Dec 2024.
		expect(parsePeriod("executive", "2026-W53", "UTC")).toMatchObject({ grain: "week", from: "2026-12-28", to: "2027-01-03" });
		expect(parsePeriod("executive", "2025-W01", "UTC")).toMatchObject({ from: "2024-12-30", to: "2025-01-05" });
		expect(parsePeriod("executive", "2026-W48", "UTC")).toMatchObject({ from: "2026-11-23", to: "2026-11-29" });
		// 2027 starts on a Friday: 52 weeks, no W53; W00 never exists.
		throwsField(() => parsePeriod("executive", "2027-W53", "UTC"), 400, "period");
		throwsField(() => parsePeriod("executive", "2026-W00", "UTC"), 400, "period");
	});

	it("reads months and quarters (leap February, Q4 to 31 December) in the site's time zone", () => {
		expect(parsePeriod("financial", "2024-02", "UTC")).toMatchObject({ from: "2024-02-01", to: "2024-02-29" });
		expect(parsePeriod("executive", "2026-Q4", "UTC")).toMatchObject({ grain: "quarter", from: "2026-10-01", to: "2026-12-31" });
		expect(parsePeriod("executive", "2026-Q1", "UTC")).toMatchObject({ from: "2026-01-01", to: "2026-03-31" });
		// November 2026 in Madrid starts at 2026-10-31T23:00Z (CET, +1) and ends at 2026-11-30T23:00Z.
		const nov = parsePeriod("financial", "2026-11", "Europe/Madrid");
		expect([nov.start, nov.end]).toEqual([Date.parse("2026-10-31T23:00:00Z"), Date.parse("2026-11-30T23:00:00Z")]);
		// October 2026 in Madrid has 31 days and one 25-hour day (DST ends 25 October).
		const oct = parsePeriod("financial", "2026-10", "Europe/Madrid");
		expect(oct.end - oct.start).toBe((31 * 24 + 1) * 3_600_000);
	});

	it("refuses malformed periods and grains the kind does not take (400 naming period); a future period is 422", () => {
		throwsField(() => parsePeriod("financial", "2026-13", "UTC"), 400, "period");
		throwsField(() => parsePeriod("daily", "2026-02-30", "UTC"), 400, "period");
		throwsField(() => parsePeriod("executive", "2026-11-02", "UTC"), 400, "period");
		throwsField(() => parsePeriod("financial", "2026-Q4", "UTC"), 400, "period");
		throwsField(() => parsePeriod("daily", "2026-11", "UTC"), 400, "period");
		throwsField(() => requireStarted(parsePeriod("financial", "2026-12", "UTC"), Date.parse("2026-11-30T23:59:59Z")), 422, "period");
		requireStarted(parsePeriod("financial", "2026-12", "UTC"), Date.parse("2026-12-01T00:00:00Z"));
	});

	it("gives the previous period of the same grain", () => {
		expect(previousPeriod(parsePeriod("executive", "2026-W01", "UTC")).label).toBe("2025-W52");
		expect(previousPeriod(parsePeriod("executive", "2026-Q1", "UTC")).label).toBe("2025-Q4");
		expect(previousPeriod(parsePeriod("financial", "2026-03", "UTC"))).toMatchObject({ label: "2026-02", from: "2026-02-01", to: "2026-02-28" });
	});
});

describe("rules", () => {
	const base: RuleInput = { site: "s", currency: "EUR", previousLabel: "2026-10", kpis: {} };
	const rules = (i: Partial<RuleInput>) => evaluateRules({ ...base, ...i }).map((f) => f.rule);

	it("revenue, AOV and new customers: fire at the threshold, quiet just under it and without a previous value", () => {
		expect(rules({ kpis: { revenue: { value: 110, compare: 100 } } })).toEqual(["revenue_up"]);
		expect(rules({ kpis: { revenue: { value: 109.9, compare: 100 } } })).toEqual([]);
		expect(rules({ kpis: { revenue: { value: 90, compare: 100 } } })).toEqual(["revenue_down"]);
		expect(rules({ kpis: { revenue: { value: 90.1, compare: 100 } } })).toEqual([]);
		expect(rules({ kpis: { revenue: { value: 500, compare: null } } })).toEqual([]);
		expect(rules({ kpis: { revenue: { value: 500, compare: 0 } } })).toEqual([]);
		// "AOV up 8% vs last month" (the example): 54 vs 50.
		const aov = evaluateRules({ ...base, kpis: { aov: { value: 54, compare: 50 } } });
		expect(aov).toEqual([{ kind: "achievement", rule: "aov_up", text: "AOV up 8.0% vs 2026-10 (54.00 EUR)." }]);
		expect(rules({ kpis: { aov: { value: 52.4, compare: 50 } } })).toEqual([]);
		expect(rules({ kpis: { aov: { value: 47.5, compare: 50 } } })).toEqual(["aov_down"]);
		expect(rules({ kpis: { new_customers: { value: 11, compare: 10 } } })).toEqual(["new_customers_up"]);
		// +50 %, but 3 new customers are too few to call it an achievement.
		expect(rules({ kpis: { new_customers: { value: 3, compare: 2 } } })).toEqual([]);
	});

	it("conversion down and refund rate up", () => {
		expect(rules({ kpis: { conversion_rate: { value: 1.8, compare: 2 } } })).toEqual(["conversion_down"]);
		expect(rules({ kpis: { conversion_rate: { value: 1.81, compare: 2 } } })).toEqual([]);
		// 12/100 = 12 % against 10/100 = 10 %: +2 points fires; 11.9 % does not.
		expect(rules({ kpis: { revenue: { value: 100, compare: 100 }, refunds: { value: 12, compare: 10 } } })).toEqual(["refund_rate_up"]);
		expect(rules({ kpis: { revenue: { value: 100, compare: 100 }, refunds: { value: 11.9, compare: 10 } } })).toEqual([]);
	});

	it("targets: met at 100 %, behind under 90 % only once the period has ended", () => {
		const g = (progress: number) => [{ id: "revenue", name: "Revenue", unit: "currency", value: progress, target: 100, progress }];
		expect(rules({ targets: g(100) })).toEqual(["target_met"]);
		expect(rules({ targets: g(89.9), periodEnded: true })).toEqual(["target_behind"]);
		expect(rules({ targets: g(89.9), periodEnded: false })).toEqual([]);
		expect(rules({ targets: g(90), periodEnded: true })).toEqual([]);
	});

	it("At_Risk growth ≥ 10 % fires with the count and the CSV export link; churn share and low stock", () => {
		const at = evaluateRules({ ...base, site: "demo", atRisk: { current: 412, previous: 368, asOf: "2026-11-30", previousAsOf: "2026-10-31" } });
		expect(at).toEqual([
			{
				kind: "action",
				rule: "at_risk_grew",
				text: "At_Risk segment grew 12.0% (368 → 412 customers, runs of 2026-10-31 and 2026-11-30): start the win-back campaign.",
				link: "/api/v1/segments/At_Risk/customers?site=demo&as_of=2026-11-30&format=csv",
				count: 412,
			},
		]);
		expect(rules({ atRisk: { current: 109, previous: 100, asOf: "b", previousAsOf: "a" } })).toEqual([]);
		expect(rules({ atRisk: { current: 4, previous: 2, asOf: "b", previousAsOf: "a" } })).toEqual([]);
		expect(rules({ churn: { scored: 100, atRisk: 10, asOf: "d" } })).toEqual(["churn_risk"]);
		expect(rules({ churn: { scored: 100, atRisk: 9, asOf: "d" } })).toEqual([]);
		expect(rules({ lowStock: [{ sku: "A", name: "Whey", stock: 2, reorderPoint: 5 }] })).toEqual(["low_stock"]);
		expect(rules({ lowStock: [] })).toEqual([]);
	});

	it("lists achievements before action items", () => {
		expect(rules({ kpis: { revenue: { value: 80, compare: 100 }, aov: { value: 60, compare: 50 } } })).toEqual(["aov_up", "revenue_down"]);
	});
});

// ─── the fixture store ──────────────────────────────────────────────────────────────────────────
// October: o1 20.00 + o2 5.00 = 25.00. November: o3 30.00 + o4 20.00 + o5 5.00 + o6 10.00 = 65.00, refund 10.00 on o3.

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Report store', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(SITE).run();
	await put("customers", ["c1", "c2", "c3", "c4"].map((id) => ({ customer_id: id, created_at: "2026-09-01", country: "ES" })));
	await put("products", [
		{ sku: "A", name: "Whey", price: 10, unit_cost: "4.00", category: "whey" },
		{ sku: "B", name: EVIL, price: 5, unit_cost: "1.00", category: "=cmd|' /C calc'!A0" },
	]);
	await put("orders", [
		{ order_id: "o1", customer_id: "c1", placed_at: "2026-10-05T10:00:00Z", total: 20, currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 2, unit_price: 10 }] },
		{ order_id: "o2", customer_id: "c2", placed_at: "2026-10-20T10:00:00Z", total: 5, currency: "EUR", channel: "organic", items: [{ sku: "B", qty: 1, unit_price: 5 }] },
		{ order_id: "o3", customer_id: "c1", placed_at: "2026-11-03T10:00:00Z", total: 30, currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 3, unit_price: 10 }] },
		{ order_id: "o4", customer_id: "c3", placed_at: "2026-11-20T10:00:00Z", total: 20, currency: "EUR", channel: "email", items: [{ sku: "A", qty: 1, unit_price: 10 }, { sku: "B", qty: 2, unit_price: 5 }] },
		{ order_id: "o5", customer_id: "c2", placed_at: "2026-11-13T10:00:00Z", total: 5, currency: "EUR", channel: "organic", items: [{ sku: "B", qty: 1, unit_price: 5 }] },
		{ order_id: "o6", customer_id: "c4", placed_at: "2026-11-20T15:00:00Z", total: 10, currency: "EUR", channel: "paid_search", items: [{ sku: "A", qty: 1, unit_price: 10 }] },
	]);
	await put("refunds", { refund_id: "r1", order_id: "o3", created_at: "2026-11-05T10:00:00Z", amount: 10, currency: "EUR" });
	await put("spend", { day: "2026-11-01", channel: "paid_search", amount: 20, currency: "EUR" });
	await put("inventory", { sku: "A", taken_at: "2026-11-25T08:00:00Z", stock: 2, reorder_point: 5 });
	const t = await api("PUT", `/api/v1/targets?site=${SITE}`, { kpi: "revenue", period: "2026-11", value: 100 });
	expect(t.status).toBe(200);
	// Two hand-made nightly runs (results as the Workflow stores them): At_Risk 10 → 12 customers (+20 %);
	// c1 is a Champion and c3 At_Risk in the November run.
	const segDoc = (atRisk: number) =>
		JSON.stringify({ window_days: 365, customers: atRisk + 5, segments: [{ segment: "Champions", customers: 5, customerShare: null, revenueMinor: 0, revenueShare: null, averageOrderValueMinor: null, meanRecencyDays: null }, { segment: "At_Risk", customers: atRisk, customerShare: null, revenueMinor: 0, revenueShare: null, averageOrderValueMinor: null, meanRecencyDays: null }] });
	const rfm = env.DB.prepare("INSERT INTO rfm_scores (site, as_of, customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) VALUES (?, '2026-11-30', ?, 1, 1, 100, 5, 5, 5, ?)");
	await env.DB.batch([
		env.DB.prepare("INSERT INTO analytics_runs (id, site, as_of, trigger, status, created_at) VALUES ('r-oct', ?1, '2026-10-31', 'manual', 'complete', 0), ('r-nov', ?1, '2026-11-30', 'manual', 'complete', 0)").bind(SITE),
		env.DB.prepare("INSERT INTO analytics_results (site, as_of, kind, json, created_at) VALUES (?1, '2026-10-31', 'segments', ?2, 0), (?1, '2026-11-30', 'segments', ?3, 0)").bind(SITE, segDoc(10), segDoc(12)),
		rfm.bind(SITE, "c1", "Champions"),
		rfm.bind(SITE, "c3", "At_Risk"),
		env.DB.prepare(
			"INSERT INTO alerts (id, site, rule_id, dedupe_key, label, rule_name, metric, severity, state, opened_by, opened_value, baseline, limit_value, period, started_at, last_evaluated_at) VALUES ('al1', ?, 'revenue_drop', '', NULL, 'Revenue drop', 'revenue', 'critical', 'resolved', 'schedule', 0, 10, 8, '2026-11-19', ?, ?)",
		).bind(SITE, Date.parse("2026-11-20T06:00:00Z"), Date.parse("2026-11-20T06:00:00Z")),
	]);
});

const report = (path: string) => getJson<Report>(`/api/v1/reports/${path}`);
const metricsOf = (r: Report, section: string): ReportMetric[] => r.sections.find((s) => s.id === section)?.metrics ?? [];

describe("report numbers equal the APIs' answers", () => {
	it("executive 2026-11: summary, financial and operational metrics equal GET /api/v1/kpis (month, compare=previous, targets)", async () => {
		const r = await report(`executive?site=${SITE}&period=2026-11`);
		expect(r.period).toMatchObject({ label: "2026-11", from: "2026-11-01", to: "2026-11-30", tz: "UTC" });
		const ms = ["summary", "financial", "operations"].flatMap((s) => metricsOf(r, s));
		expect(ms.length).toBe(5 + 7 + 9);
		const api = await kpis(`ids=${ms.map((m) => m.id).join(",")}&from=2026-11-01&to=2026-11-30&grain=month&compare=previous`);
		for (const m of ms) {
			const k = api.get(m.id) as K;
			expect([m.id, m.value, m.compare, m.delta_pct]).toEqual([m.id, k.total.value, k.total.compare, k.total.delta_pct]);
			if (k.total.target !== undefined) expect([m.target, m.progress]).toEqual([k.total.target, k.total.progress]);
		}
		// By hand: 65.00 against 25.00 (+160 %), 65 % of the 100.00 target.
		const revenue = metricsOf(r, "summary")[0] as ReportMetric;
		expect([revenue.value, revenue.compare, revenue.delta_pct, revenue.progress]).toEqual([65, 25, 160, 65]);
		// The daily revenue chart is the KPI series.
		const series = await kpis("ids=revenue&from=2026-11-01&to=2026-11-30&grain=day");
		expect(r.sections[0]?.chart?.points.map((p) => p.value)).toEqual(series.get("revenue")?.series.map((s) => s.value));
	});

	it("executive: channel and category movers equal the KPI API by=channel / by=category", async () => {
		const r = await report(`executive?site=${SITE}&period=2026-11`);
		for (const [table, id, by] of [["channels", "revenue", "channel"], ["categories", "product_revenue", "category"]] as const) {
			const res = await getJson<{ kpis: { groups: { key: string; total: P }[] }[] }>(`/api/v1/kpis?site=${SITE}&ids=${id}&from=2026-11-01&to=2026-11-30&grain=month&compare=previous&by=${by}`);
			const want = new Map(res.kpis[0]?.groups.map((g) => [g.key, [g.total.value, g.total.compare, g.total.delta_pct]]));
			const rows = r.tables.find((t) => t.name === table)?.rows ?? [];
			expect(rows.length).toBe(want.size);
			for (const row of rows) expect([row.value, row.compare, row.change_pct]).toEqual(want.get(String(row.key)));
		}
	});

	it("executive: the rules fire on the store's data — revenue up, At_Risk grew (with the export link), low stock — and nothing is invented", async () => {
		const r = await report(`executive?site=${SITE}&period=2026-11`);
		const findings = r.sections.find((s) => s.id === "findings")?.findings ?? [];
		// AOV 65/4 = 16.25 vs 25/2 = 12.50 (+30 %); revenue 65 % of its 100.00 target in a month that is over;
		// refunds 10/65 = 15.4 % of revenue vs 0 % in October.
		expect(findings.map((f) => f.rule)).toEqual(["revenue_up", "aov_up", "target_behind", "refund_rate_up", "at_risk_grew", "low_stock"]);
		expect(findings.find((f) => f.rule === "at_risk_grew")).toMatchObject({ count: 12, link: `/api/v1/segments/At_Risk/customers?site=${SITE}&as_of=2026-11-30&format=csv` });
		// The segment counts are the segments API's for the two runs.
		const now = await getJson<{ segments: { segment: string; customers: number }[] }>(`/api/v1/segments?site=${SITE}&as_of=2026-11-30`);
		expect(now.segments.find((s) => s.segment === "At_Risk")?.customers).toBe(12);
		// 2 < 5 from the products API.
		const perf = await getJson<{ products: { sku: string; stock: number; reorder_point: number }[] }>(`/api/v1/products/performance?site=${SITE}&from=2026-11-01&to=2026-11-30`);
		expect(perf.products.find((p) => p.sku === "A")).toMatchObject({ stock: 2, reorder_point: 5 });
		// Two months of history are too few for any forecast model: the section is left out with the engine's reason.
		expect(r.omitted.find((o) => o.section === "Forecast")?.reason).toMatch(/needs at least \d+ complete months of revenue/);
		expect(r.sections.map((s) => s.id)).not.toContain("forecast");
	});

	it("financial 2026-11: every KPI equals GET /api/v1/kpis; cash flow is left out with the reason", async () => {
		const r = await report(`financial?site=${SITE}&period=2026-11`);
		const ms = metricsOf(r, "financial");
		expect(ms.map((m) => m.id)).toEqual(["revenue", "net_revenue", "cogs", "gross_profit", "gross_margin", "refunds", "marketing_spend", "new_customers", "cac", "roas", "mrr", "arr"]);
		const api = await kpis(`ids=${ms.map((m) => m.id).join(",")}&from=2026-11-01&to=2026-11-30&grain=month&compare=previous`);
		for (const m of ms) expect([m.id, m.value, m.compare, m.delta_pct]).toEqual([m.id, api.get(m.id)?.total.value, api.get(m.id)?.total.compare, api.get(m.id)?.total.delta_pct]);
		// By hand: net revenue 65 − 10 = 55; COGS 5 × 4.00 (A) + 3 × 1.00 (B) = 23; spend 20 over 2 new customers (c3, c4) = 10 CAC; ROAS 65 / 20 = 3.25.
		const v = Object.fromEntries(ms.map((m) => [m.id, m.value]));
		expect([v.net_revenue, v.cogs, v.cac, v.roas]).toEqual([55, 23, 10, 3.25]);
		expect(r.omitted.map((o) => o.section)).toContain("Cash flow");
	});

	it("daily 2026-11-20: today, the same weekday last week and the 28-day mean equal the KPI API; the alert that fired is listed", async () => {
		const r = await report(`daily?site=${SITE}&period=2026-11-20`);
		const ms = metricsOf(r, "metrics");
		const ids = ms.map((m) => m.id).join(",");
		const [day, week, avg] = await Promise.all([kpis(`ids=${ids}&from=2026-11-20&to=2026-11-20`), kpis(`ids=${ids}&from=2026-11-13&to=2026-11-13`), kpis(`ids=${ids}&from=2026-10-23&to=2026-11-19`)]);
		for (const m of ms) {
			const values = (avg.get(m.id)?.series ?? []).map((s) => s.value).filter((x): x is number => x !== null);
			const mean = values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10_000) / 10_000 : null;
			expect([m.id, m.value, m.compare, m.compare2]).toEqual([m.id, day.get(m.id)?.total.value, week.get(m.id)?.total.value, mean]);
		}
		// By hand: 30.00 on the 20th (o4 + o6), 5.00 on the 13th (o5); the 28 days 10-23 … 11-19 hold 30 + 5 = 35.00 → 1.25 a day.
		const revenue = ms[0] as ReportMetric;
		expect([revenue.value, revenue.compare, revenue.delta_pct, revenue.compare2, revenue.delta2_pct]).toEqual([30, 5, 500, 1.25, 2300]);
		expect(r.tables.find((t) => t.name === "alerts")?.rows).toEqual([{ started_at: "2026-11-20T06:00:00.000Z", rule: "Revenue drop", severity: "critical", subject: "revenue", value: 0, limit: 8, state: "resolved" }]);
	});

	it("product A 2026-11: performance equals GET /api/v1/products/A/performance; buyers by segment; competitive position left out", async () => {
		const r = await report(`product?site=${SITE}&period=2026-11&sku=A`);
		expect(r.subject).toBe("A");
		const [now, before] = await Promise.all([
			getJson<{ totals: Record<string, number | null> }>(`/api/v1/products/A/performance?site=${SITE}&from=2026-11-01&to=2026-11-30`),
			getJson<{ totals: Record<string, number | null> }>(`/api/v1/products/A/performance?site=${SITE}&from=2026-10-01&to=2026-10-31`),
		]);
		for (const m of metricsOf(r, "performance")) {
			const key = m.id.replace("product.", "");
			expect([key, m.value, m.compare]).toEqual([key, now.totals[key], before.totals[key]]);
		}
		// A in November: o3 (3), o4 (1), o6 (1) = 5 units, 50.00; c1 Champions, c3 At_Risk, c4 not scored.
		expect(metricsOf(r, "performance").slice(0, 2).map((m) => m.value)).toEqual([50, 5]);
		expect(r.tables.find((t) => t.name === "segments")?.rows).toEqual([
			{ segment: "At_Risk", customers: 1, orders: 1, units: 1 },
			{ segment: "Champions", customers: 1, orders: 1, units: 3 },
			{ segment: "Unscored", customers: 1, orders: 1, units: 1 },
		]);
		expect(metricsOf(r, "inventory").slice(0, 2).map((m) => m.value)).toEqual([2, 5]);
		expect(r.omitted.map((o) => o.section)).toEqual(expect.arrayContaining(["Competitive position", "Bought together and recommended"]));
	});
});

describe("rendering", () => {
	it("HTML: no script, stored names escaped, inline SVG chart, print stylesheet", async () => {
		const res = await api("GET", `/api/v1/reports/product?site=${SITE}&period=2026-11&sku=B&format=html`);
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await res.text();
		expect(html).not.toMatch(/<script/i);
		expect(html).not.toContain("<img");
		expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
		expect(html).toMatch(/<svg [^>]*viewBox/);
		expect(html).toContain('<style media="print">');
		// Inline styles only: the one <style> element is the print sheet.
		expect(html.match(/<style/g)?.length).toBe(1);
		expect(html).not.toMatch(/<link|src="http/);
	});

	it("CSV: one table, with a stored =cmd category neutralised", async () => {
		const res = await api("GET", `/api/v1/reports/executive?site=${SITE}&period=2026-11&format=csv&table=categories`);
		const csv = await res.text();
		expect(res.status, csv).toBe(200);
		expect(csv.split("\r\n")[0]).toBe("key,value,compare,change,change_pct");
		expect(csv).toContain(`\r\n'=cmd|' /C calc'!A0,15,5,10,200\r\n`);
		expect(csv).not.toMatch(/^=|,=/m);
		const r = await report(`executive?site=${SITE}&period=2026-11`);
		expect(renderCsv(r)).toContain("# summary");
	});
});

describe("archive", () => {
	it("a stable key per (site, kind, subject, period); rendering again replaces the archived copy", async () => {
		const first = await report(`financial?site=${SITE}&period=2026-10`);
		const key = "reports/site=rp/kind=financial/subject=all/period=2026-10.json";
		expect(reportKey(first)).toBe(key);
		expect(reportKey({ site: SITE, kind: "product", subject: "A/1", period: first.period })).toBe("reports/site=rp/kind=product/subject=A%2F1/period=2026-10.json");
		await new Promise((r) => setTimeout(r, 5));
		const second = await report(`financial?site=${SITE}&period=2026-10`);
		expect(second.generated_at).toBeGreaterThan(first.generated_at);
		const list = await getJson<{ reports: { kind: string; period: string; key: string; html_key: string; generated_at: number }[] }>(`/api/v1/reports?site=${SITE}&kind=financial`);
		const rows = list.reports.filter((x) => x.period === "2026-10");
		expect(rows).toEqual([expect.objectContaining({ key, html_key: key.replace(/json$/, "html"), generated_at: second.generated_at })]);
		const stored = JSON.parse((await (await env.ARCHIVE.get(key))?.text()) ?? "null") as Report;
		expect(stored).toEqual(second);
		const archived = await getJson<Report>(`/api/v1/reports/archive?site=${SITE}&key=${encodeURIComponent(key)}`);
		expect(archived).toEqual(second);
		const html = await api("GET", `/api/v1/reports/archive?site=${SITE}&key=${encodeURIComponent(key)}&format=html`);
		expect(html.status).toBe(200);
		expect(await html.text()).toContain("Financial report 2026-10");
		// Another site's key is not found from this site.
		expect((await api("GET", `/api/v1/reports/archive?site=demo&key=${encodeURIComponent(key)}`)).status).toBe(404);
	});
});

describe("bad input answers 4xx naming the field", () => {
	const cases: [string, number, string][] = [
		[`executive?site=${SITE}&period=2026-13`, 400, "period"],
		[`executive?site=${SITE}&period=2026-11-02`, 400, "period"],
		[`financial?site=${SITE}&period=2099-01`, 422, "period"],
		[`executive?site=${SITE}`, 400, "period"],
		[`product?site=${SITE}&period=2026-11`, 400, "sku"],
		[`product?site=${SITE}&period=2026-11&sku=NOPE`, 404, "sku"],
		[`daily?site=${SITE}&period=2026-11-20&sku=A`, 400, "sku"],
		[`daily?site=${SITE}&period=2026-11-20&format=pdf`, 400, "format"],
		[`daily?site=${SITE}&period=2026-11-20&format=csv&table=nope`, 400, "table"],
		[`executive?site=nosuch&period=2026-11`, 404, "site"],
	];
	for (const [path, status, field] of cases) {
		it(`${path} → ${status} ${field}`, async () => {
			const body = await getJson<{ fields: { field: string }[] }>(`/api/v1/reports/${path}`, status);
			expect(body.fields[0]?.field).toBe(field);
		});
	}
	it("an unknown kind is no route", async () => {
		expect((await api("GET", `/api/v1/reports/weekly?site=${SITE}&period=2026-11`)).status).toBe(404);
	});
});
