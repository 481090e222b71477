/**
 * Integrator friction (issue 15 item 8): rows_changed counts records, no-data KPIs are null with a reason,
 * and an order whose status says refunded/returned without a refund record is a full refund on its placed day.
 * Expected values are computed by hand from the fixtures in each test.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, api, getJson, waitFor } from "./helpers";

type P = { value: number | null; reason?: string };
type R = { kpis: { id: string; total: P; series: (P & { period: string })[] }[] };

async function put(site: string, entity: string, body: unknown): Promise<{ received: number; rows_changed: number }> {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
	return (await res.json()) as { received: number; rows_changed: number };
}
async function kpis(site: string, query: string): Promise<R> {
	const res = await api("GET", `/api/v1/kpis?site=${site}&${query}`);
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return JSON.parse(text) as R;
}
const totals = async (site: string, ids: string, from: string, to: string) =>
	Object.fromEntries((await kpis(site, `ids=${ids}&from=${from}&to=${to}`)).kpis.map((k) => [k.id, k.total.value]));
async function addSite(id: string) {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', 'UTC', 'EUR', 0)").bind(id, id).run();
}

beforeAll(async () => {
	for (const s of ["ia", "ic", "ir"]) await addSite(s);
});

describe("rows_changed counts records, not table rows", () => {
	const customers = [1, 2, 3].map((i) => ({ customer_id: `cu-${i}`, email: `c${i}@example.com`, name: `Customer ${i}`, created_at: "2026-01-01", country: "ES" }));

	it("upserting 3 customers with PII reports 3 (each writes a customer row and a PII row), a repeat 0, one correction 1", async () => {
		expect(await put("ia", "customers", customers)).toEqual(expect.objectContaining({ received: 3, rows_changed: 3 }));
		expect((await put("ia", "customers", customers)).rows_changed).toBe(0);
		// Only the PII row of cu-2 changes: still one record.
		expect((await put("ia", "customers", customers.map((c) => (c.customer_id === "cu-2" ? { ...c, email: "new@example.com" } : c)))).rows_changed).toBe(1);
		const pii = await env.DB.prepare("SELECT COUNT(*) AS n FROM customer_pii WHERE site = 'ia'").first<{ n: number }>();
		expect(pii?.n).toBe(3);
	});

	it("importing 3 customers reports 3; orders with lines count one per order", async () => {
		const ndjson = customers.map((c) => JSON.stringify({ ...c, customer_id: `im-${c.customer_id}` })).join("\n");
		const job = await importFile("ic", "customers", ndjson);
		expect(job).toMatchObject({ status: "done", rows_ok: 3, rows_changed: 3 });
		const orders = [1, 2].map((i) => JSON.stringify({ order_id: `io-${i}`, customer_id: "im-cu-1", placed_at: "2026-02-01T10:00:00Z", total: 10, currency: "EUR", items: [{ sku: "A", qty: 1, unit_price: 5 }, { sku: "B", qty: 1, unit_price: 5 }] })).join("\n");
		expect(await importFile("ic", "orders", orders)).toMatchObject({ status: "done", rows_ok: 2, rows_changed: 2 }); // 2 orders, 6 table rows
		expect(await importFile("ic", "orders", orders)).toMatchObject({ status: "done", rows_changed: 0 });
	});
});

async function importFile(site: string, entity: string, body: string): Promise<Record<string, unknown>> {
	const res = await exports.default.fetch(`https://b2g.test/api/v1/import/${entity}?site=${site}&format=ndjson`, {
		method: "POST",
		headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/x-ndjson" },
		body,
	});
	expect(res.status, await res.clone().text()).toBe(202);
	const { job } = (await res.json()) as { job: string };
	return waitFor(
		async () => {
			const { body: j } = await getJson<Record<string, unknown>>(`/api/v1/import/${job}?site=${site}`);
			return j.status === "done" || j.status === "failed" ? j : undefined;
		},
		30_000,
		100,
	);
}

describe("no data is null with a reason, never 0", () => {
	it("cac and cac_payback_months without marketing spend", async () => {
		await put("ia", "orders", { order_id: "ia-1", customer_id: "cu-1", placed_at: "2026-02-01T10:00:00Z", total: 40, currency: "EUR", items: [{ sku: "A", qty: 1, unit_price: 40, unit_cost: 10 }] });
		const r = await kpis("ia", "ids=cac,cac_payback_months,new_customers&from=2026-02-01&to=2026-02-28");
		const byId = Object.fromEntries(r.kpis.map((k) => [k.id, k.total]));
		expect(byId.new_customers?.value).toBe(1);
		for (const id of ["cac", "cac_payback_months"]) {
			expect(byId[id]?.value, id).toBeNull();
			expect(byId[id]?.reason, id).toMatch(/no marketing spend recorded/);
		}
		// With spend: 20.00 ÷ 1 new customer = 20.00; payback 20 ÷ (30.00 profit ÷ 1 customer ÷ (28 ÷ 30.436875) months = 32.61) = 0.61.
		await put("ia", "spend", { day: "2026-02-03", channel: "paid_search", amount: 20, currency: "EUR" });
		expect(await totals("ia", "cac,cac_payback_months", "2026-02-01", "2026-02-28")).toEqual({ cac: 20, cac_payback_months: 0.61 });
	});
});

describe("refunded and returned status without refund records", () => {
	beforeAll(async () => {
		await put("ir", "products", [{ sku: "X", name: "X", price: 15 }]);
		await put("ir", "orders", [
			// a: refunded, no record → a refund of 50.00 on 04-01. b: returned, no record → 30.00 and a return of its 2 units on 04-01.
			{ order_id: "a", customer_id: "c1", placed_at: "2026-04-01T10:00:00Z", total: 50, currency: "EUR", status: "refunded", items: [{ sku: "Y", qty: 1, unit_price: 50 }] },
			{ order_id: "b", customer_id: "c2", placed_at: "2026-04-01T11:00:00Z", total: 30, currency: "EUR", status: "returned", items: [{ sku: "X", qty: 2, unit_price: 15 }] },
			// c: refunded with a partial refund record (8.00 on 04-02): the record alone counts.
			{ order_id: "c", customer_id: "c3", placed_at: "2026-04-01T12:00:00Z", total: 20, currency: "EUR", status: "refunded", items: [{ sku: "Y", qty: 1, unit_price: 20 }] },
			{ order_id: "d", customer_id: "c4", placed_at: "2026-04-01T13:00:00Z", total: 100, currency: "EUR", status: "delivered", items: [{ sku: "Y", qty: 1, unit_price: 100 }] },
		]);
		await put("ir", "refunds", { refund_id: "rc", order_id: "c", created_at: "2026-04-02T09:00:00Z", amount: 8, currency: "EUR" });
	});

	it("counts a full refund on the placed day unless refund records exist", async () => {
		// Revenue 50 + 30 + 20 + 100 = 200 (refunds do not reduce revenue); refunds 50 + 30 + 8 = 88; net 112.
		expect(await totals("ir", "revenue,refunds,net_revenue,return_rate,orders", "2026-04-01", "2026-04-03")).toEqual({ revenue: 200, refunds: 88, net_revenue: 112, return_rate: 25, orders: 4 });
		const r = await kpis("ir", "ids=net_revenue,refunds&from=2026-04-01&to=2026-04-03&grain=day");
		// 04-01: 200 − 80; 04-02: −8.
		expect(r.kpis[0]?.series.map((p) => p.value)).toEqual([120, -8, 0]);
		expect(r.kpis[1]?.series.map((p) => p.value)).toEqual([80, 8, 0]);
		// Product X: 2 units sold, 2 returned.
		const x = await kpis("ir", "ids=product_return_rate&from=2026-04-01&to=2026-04-03&by=product");
		expect(x.kpis[0]).toMatchObject({ groups: expect.arrayContaining([expect.objectContaining({ key: "X", total: expect.objectContaining({ value: 100 }) })]) });
	});

	it("a refund record arriving later replaces the implied refund (the placed day re-rolls)", async () => {
		await put("ir", "refunds", { refund_id: "ra", order_id: "a", created_at: "2026-04-03T09:00:00Z", amount: 45, currency: "EUR" });
		const r = await kpis("ir", "ids=refunds&from=2026-04-01&to=2026-04-03&grain=day");
		// 04-01: only b's implied 30.00; 04-02: 8.00; 04-03: a's record 45.00 (not 50 + 45).
		expect(r.kpis[0]?.series.map((p) => p.value)).toEqual([30, 8, 45]);
	});

	it("the catalogue says so", async () => {
		const { body } = await getJson<{ kpis: { id: string; description: string }[] }>("/api/v1/kpis/catalog");
		for (const id of ["refunds", "net_revenue"]) expect(body.kpis.find((k) => k.id === id)?.description, id).toMatch(/status refunded or returned and no refund record counts as a full refund/);
	});
});
