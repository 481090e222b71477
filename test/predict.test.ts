/**
 * The predictive steps of the nightly workflow on a generated store (scripts/demo-store.mjs, loaded through
 * the import API): churn trained on a time split and compared with the recency baseline, recommendations
 * evaluated against popularity, next best actions, the registry, the APIs and the churn alert rule. The
 * models' maths is tested against hand computations in test/analytics-forest, -recommend and -actions; here
 * the plumbing: what was trained on what, what was promoted and why, and that every served number names
 * the version that made it and agrees with the registry and the other tables.
 */
import { introspectWorkflowInstance } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { generateStore } from "../scripts/demo-store.mjs";
import { loadStore } from "../scripts/seed.mjs";
import { evaluateAlerts } from "../workers/alerts/evaluate";
import { startNightly } from "../workers/jobs/nightly";
import { ADMIN_KEY, apiWithCookie, getJson, userSession } from "./helpers";

const SITE = "pred";
const AS_OF_MS = Date.UTC(2026, 5, 1);
const AS_OF = "2026-05-31";

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Predict', '[]', 'UTC', 'EUR', 0)").bind(SITE).run();
	const store = generateStore({ seed: 11, customers: 1500, orders: 12000, months: 14, eventDays: 0, asOf: AS_OF_MS });
	const fetch = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
	await loadStore(store, { fetch, url: "https://b2g.test", key: ADMIN_KEY, site: SITE, concurrency: 2, pollMs: 50 });
	const id = "manual-predict-test";
	const instance = await introspectWorkflowInstance(env.NIGHTLY, id);
	try {
		await startNightly(env, { site: SITE, asOf: AS_OF }, id, "manual");
		await instance.waitForStatus("complete");
	} finally {
		await instance.dispose();
	}
}, 240_000);

type Version = { name: string; version: number; as_of: string; promoted: boolean; decision: string; metrics: Record<string, unknown>; baseline: Record<string, unknown>; params: Record<string, unknown> };

describe("predictive models in the nightly run", () => {
	it("registers churn and recommendation versions with holdout metrics beside their baselines", async () => {
		const { status, body } = await getJson<{ models: Version[] }>(`/api/v1/models?site=${SITE}`);
		expect(status).toBe(200);
		const churn = body.models.find((m) => m.name === "churn");
		const recs = body.models.find((m) => m.name === "recommendations");
		expect(churn).toMatchObject({ version: 1, as_of: AS_OF });
		expect(recs).toMatchObject({ version: 1, as_of: AS_OF });
		// The decision is the comparison with the baseline, in words and in the flag.
		const auc = churn?.metrics.roc_auc as number;
		const baseAuc = churn?.baseline.roc_auc as number;
		expect(churn?.promoted).toBe(auc > baseAuc);
		expect(churn?.decision).toContain(auc.toFixed(3));
		expect(Object.keys(churn?.params.importances as object)).toHaveLength(8);
		const ndcg = (recs?.metrics as { ndcg_at_10: number }).ndcg_at_10;
		expect(recs?.promoted).toBe(ndcg > (recs?.baseline as { ndcg_at_10: number }).ndcg_at_10);
		// The artefact is in R2.
		expect(await env.ARCHIVE.head(`models/site=${SITE}/name=churn/v=1.json`)).not.toBeNull();
	});

	it("serves churn risk with reasons, highest first, naming the version; no money for operations", async () => {
		const { status, body } = await getJson<{ total: number; customers: { customer_id: string; probability: number; reasons: { feature: string }[]; model_version: number; value_at_stake: number | null }[]; distribution: { customers: number }[] }>(
			`/api/v1/churn?site=${SITE}&limit=20`,
		);
		expect(status).toBe(200);
		const rfmPopulation = await env.DB.prepare("SELECT COUNT(*) AS n FROM rfm_scores WHERE site = ? AND as_of = ?").bind(SITE, AS_OF).first<{ n: number }>();
		// Churn's population is the customers with an order in the 365 days: the RFM window's.
		expect(body.total).toBe(rfmPopulation?.n);
		expect(body.distribution.reduce((n, d) => n + d.customers, 0)).toBe(body.total);
		const probs = body.customers.map((c) => c.probability);
		expect(probs).toEqual([...probs].sort((a, b) => b - a));
		expect(body.customers.every((c) => c.model_version === 1 && c.reasons.length > 0 && c.reasons.length <= 3)).toBe(true);
		// One customer's score, as the profile reads it; someone not scored gives an empty list.
		const top = body.customers[0] as { customer_id: string; probability: number };
		const one = await getJson<{ total: number; customers: { customer_id: string; probability: number }[] }>(`/api/v1/churn?site=${SITE}&customer=${top.customer_id}`);
		expect(one.body.customers).toEqual([expect.objectContaining({ customer_id: top.customer_id, probability: top.probability })]);
		expect((await getJson<{ customers: unknown[] }>(`/api/v1/churn?site=${SITE}&customer=nobody-at-all`)).body.customers).toEqual([]);
		const ops = await userSession("operations");
		const asOps = (await (await apiWithCookie("GET", `/api/v1/churn?site=${SITE}&limit=5`, ops.cookie)).json()) as { customers: { value_at_stake: number | null }[] };
		expect(asOps.customers.every((c) => c.value_at_stake === null)).toBe(true);
		const csv = await exports.default.fetch(`https://b2g.test/api/v1/churn?site=${SITE}&format=csv&min_prob=0.5`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		const lines = (await csv.text()).trim().split("\n");
		expect(lines[0]).toBe("customer_id,probability,segment,value_at_stake,reason_1,reason_2,reason_3,model_version");
		expect(lines.slice(1).every((l) => Number(l.split(",")[1]) >= 0.5)).toBe(true);
	});

	it("recommends products a customer has not bought, and products to show with a product", async () => {
		const row = await env.DB.prepare("SELECT customer_id FROM rfm_scores WHERE site = ? AND as_of = ? ORDER BY frequency DESC, customer_id LIMIT 1").bind(SITE, AS_OF).first<{ customer_id: string }>();
		const customer = row?.customer_id as string;
		const { status, body } = await getJson<{ items: { sku: string; why: string }[]; model_version: number }>(`/api/v1/recommendations?site=${SITE}&customer=${customer}&k=5`);
		expect(status).toBe(200);
		expect(body.items).toHaveLength(5);
		const bought = await env.DB.prepare("SELECT DISTINCT i.sku FROM orders o JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id WHERE o.site = ? AND o.customer_id = ? AND o.status <> 'cancelled'")
			.bind(SITE, customer)
			.raw<[string]>();
		const mine = new Set(bought.map(([s]) => s));
		expect(body.items.some((i) => mine.has(i.sku))).toBe(false);
		const sku = bought[0]?.[0] as string;
		const forProduct = await getJson<{ items: { sku: string }[] }>(`/api/v1/recommendations?site=${SITE}&product=${encodeURIComponent(sku)}`);
		expect(forProduct.status).toBe(200);
		expect(forProduct.body.items.map((i) => i.sku)).not.toContain(sku);
		expect((await getJson(`/api/v1/recommendations?site=${SITE}&customer=${customer}&product=${sku}`)).status).toBe(400);
	});

	it("gives every scored customer exactly one next best action, with a reason, exportable per action", async () => {
		const { body } = await getJson<{ counts: { action: string; customers: number }[] }>(`/api/v1/actions?site=${SITE}`);
		const population = await env.DB.prepare("SELECT COUNT(*) AS n FROM rfm_scores WHERE site = ? AND as_of = ?").bind(SITE, AS_OF).first<{ n: number }>();
		expect(body.counts.reduce((n, c) => n + c.customers, 0)).toBe(population?.n);
		const top = body.counts.find((c) => c.action !== "none") as { action: string; customers: number };
		// The profile names the same action and reason; the reason carries no money (it is shown to every role).
		const list = await getJson<{ customers: { customer_id: string; reason: string; priority: number | null }[] }>(`/api/v1/actions?site=${SITE}&type=${top.action}&limit=1`);
		const first = list.body.customers[0] as { customer_id: string; reason: string };
		const profile = await getJson<{ analytics: { next_action: { action: string; reason: string } | null } }>(`/api/v1/customers/${first.customer_id}?site=${SITE}`);
		expect(profile.body.analytics.next_action).toEqual({ action: top.action, reason: first.reason });
		expect(first.reason).not.toMatch(/€|\d+\.\d\d at stake/);
		const ops = await userSession("operations");
		const asOps = (await (await apiWithCookie("GET", `/api/v1/actions?site=${SITE}&type=${top.action}&limit=3`, ops.cookie)).json()) as { customers: { priority: number | null }[] };
		expect(asOps.customers.every((c) => c.priority === null)).toBe(true);
		const csv = await exports.default.fetch(`https://b2g.test/api/v1/actions?site=${SITE}&type=${top.action}&format=csv`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		expect(csv.status).toBe(200);
		expect((await csv.text()).trim().split("\n")).toHaveLength(top.customers + 1);
	});

	it("re-prices CLV for a chosen horizon and discount rate from the stored model, equal to the run's at the defaults", async () => {
		type C = { customers: { customer_id: string; clv: number }[]; total_clv: number };
		const stored = await getJson<C>(`/api/v1/clv/customers?site=${SITE}&limit=20`);
		const same = await getJson<C>(`/api/v1/clv/customers?site=${SITE}&limit=20&horizon_months=12&monthly_discount=0.01`);
		expect(same.body.customers.map((c) => c.customer_id)).toEqual(stored.body.customers.map((c) => c.customer_id));
		same.body.customers.forEach((c, i) => expect(c.clv).toBeCloseTo(stored.body.customers[i]?.clv as number, 1));
		const longer = await getJson<C>(`/api/v1/clv/customers?site=${SITE}&limit=5&horizon_months=24&monthly_discount=0.01`);
		const dearer = await getJson<C>(`/api/v1/clv/customers?site=${SITE}&limit=5&horizon_months=12&monthly_discount=0.05`);
		expect(longer.body.total_clv).toBeGreaterThan(stored.body.total_clv);
		expect(dearer.body.total_clv).toBeLessThan(stored.body.total_clv);
		expect((await getJson<{ fields: { field: string }[] }>(`/api/v1/clv/customers?site=${SITE}&monthly_discount=2`)).body.fields[0]?.field).toBe("monthly_discount");
	});

	it("lets the built-in high churn risk rule evaluate from the model: mean probability per valuable segment", async () => {
		const report = await evaluateAlerts(env, SITE, Date.UTC(2026, 5, 1, 9), "manual");
		const rule = report.rules.find((r) => r.id === "churn_risk") as { status: string; readings: { key: string; value: number | null }[] };
		expect(rule.status).toBe("ok");
		const expected = await env.DB.prepare(
			"SELECT s.segment AS key, AVG(c.probability) AS p FROM churn_scores c JOIN rfm_scores s ON s.site = c.site AND s.as_of = c.as_of AND s.customer_id = c.customer_id WHERE c.site = ? AND c.as_of = ? AND s.segment = 'At_Risk'",
		)
			.bind(SITE, AS_OF)
			.first<{ key: string; p: number }>();
		if (expected?.key) expect(rule.readings.find((r) => r.key === "At_Risk")?.value).toBeCloseTo(expected.p, 12);
		expect(rule.readings.every((r) => ["Champions", "Loyal_Customers", "Cannot_Lose", "At_Risk"].includes(r.key))).toBe(true);
	});
});

describe("GET /api/v1/forecast", () => {
	const FC = "fcast";
	beforeAll(async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Forecast', '[]', 'UTC', 'EUR', 0)").bind(FC).run();
		const now = new Date();
		const store = generateStore({ seed: 5, customers: 300, orders: 3000, months: 30, eventDays: 0, asOf: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) });
		const fetch = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
		await loadStore(store, { fetch, url: "https://b2g.test", key: ADMIN_KEY, site: FC, concurrency: 2, pollMs: 50 });
	}, 240_000);

	type F = { history: { period: string; value: number }[]; model: { label: string }; candidates: { label: string; mase: number | null; refused: string | null }[]; baseline: { mase: number }; beats_baseline: boolean; forecast: { period: string; mean: number; lower80: number; upper80: number; lower95: number; upper95: number }[] };

	it("forecasts monthly revenue from the KPI series with 80/95 % bands, the chosen model and every candidate's backtest error", async () => {
		const { status, body } = await getJson<F>(`/api/v1/forecast?site=${FC}&metric=revenue&grain=month&horizon=6`);
		expect(status, JSON.stringify(body)).toBe(200);
		expect(body.forecast).toHaveLength(6);
		for (const f of body.forecast) expect(f.lower95 <= f.lower80 && f.lower80 <= f.mean && f.mean <= f.upper80 && f.upper80 <= f.upper95).toBe(true);
		// About 29 complete months: SARIMA(1,1,1)(1,1,1,12) needs 36 and says so; the ETS models are scored.
		const sarima = body.candidates.find((c) => c.label.startsWith("SARIMA"));
		expect(sarima?.refused).toMatch(/needs at least 36/);
		expect(body.candidates.some((c) => c.mase !== null)).toBe(true);
		expect(body.beats_baseline).toBe(body.candidates.find((c) => c.label === body.model.label)!.mase! < body.baseline.mase);
		// The history is the KPI API's series for the same months.
		const first = body.history[0]?.period as string;
		const last = body.history.at(-1)?.period as string;
		const lastDay = new Date(Date.UTC(Number(last.slice(0, 4)), Number(last.slice(5, 7)), 0)).toISOString().slice(0, 10); // day 0 of the next month
		const kpis = await getJson<{ kpis: { series: { period: string; value: number }[] }[] }>(`/api/v1/kpis?site=${FC}&ids=revenue&grain=month&from=${first}-01&to=${lastDay}`);
		const byPeriod = new Map(kpis.body.kpis[0]?.series.map((p) => [p.period, p.value]));
		for (const h of body.history) expect(h.value).toBe(byPeriod.get(h.period) ?? 0);
	});

	it("forecasts daily series with weekly seasonality", async () => {
		const { status, body } = await getJson<F>(`/api/v1/forecast?site=${FC}&metric=orders&grain=day&horizon=14`);
		expect(status).toBe(200);
		expect(body.forecast).toHaveLength(14);
		expect(body.history.length).toBeGreaterThanOrEqual(300);
	});

	it("refuses a short history, an unknown metric, a growth KPI, a horizon too far, and a strategic KPI for operations — each naming its field", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('fcshort', 'Short', '[]', 'UTC', 'EUR', 0)").run();
		const short = await getJson<{ error: string; fields: { field: string; message: string }[] }>("/api/v1/forecast?site=fcshort&metric=revenue&grain=month");
		expect(short.status).toBe(400);
		expect(short.body.error).toBe("insufficient_history");
		expect(short.body.fields[0]?.message).toMatch(/needs at least \d+ complete months of revenue/);
		expect((await getJson<{ fields: { field: string }[] }>(`/api/v1/forecast?site=${FC}&metric=nope`)).body.fields[0]?.field).toBe("metric");
		expect((await getJson<{ fields: { field: string }[] }>(`/api/v1/forecast?site=${FC}&metric=revenue_growth_mom`)).status).toBe(400);
		expect((await getJson<{ fields: { field: string }[] }>(`/api/v1/forecast?site=${FC}&metric=revenue&grain=month&horizon=30`)).body.fields[0]?.field).toBe("horizon");
		const ops = await userSession("operations");
		expect((await apiWithCookie("GET", `/api/v1/forecast?site=${FC}&metric=cac`, ops.cookie)).status).toBe(403);
	});
});
