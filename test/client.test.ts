/**
 * The typed client (workers/client.ts) against the Worker in-process: `npm run typecheck` checks the
 * call shapes below against the route declarations, and these calls check that they work.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createClient } from "../workers/client";
import { ADMIN_KEY } from "./helpers";

const client = createClient("https://b2g.test", { key: ADMIN_KEY, fetch: (input, init) => exports.default.fetch(input, init) });

describe("typed client", () => {
	it("GET /api/v1/kpis: typed query in, typed KPI answer out", async () => {
		const res = await client.api.v1.kpis.$get({ query: { site: "demo", ids: "revenue,orders", from: "2026-11-01", to: "2026-11-30", grain: "week" } });
		expect(res.status).toBe(200);
		if (res.status !== 200) return;
		const body = await res.json();
		expect(body.grain).toBe("week");
		expect(body.kpis.map((k) => k.id)).toEqual(["revenue", "orders"]);
		expect(body.kpis[0]?.series[0]).toMatchObject({ period: "2026-W44", from: "2026-11-01", to: "2026-11-01" });
	});

	it("PUT /api/v1/customers: typed record in, upsert result out; a bad record is a 400 naming the field", async () => {
		const res = await client.api.v1.customers.$put({ query: { site: "demo" }, json: { customer_id: "client-1", created_at: "2026-11-20T10:00:00Z", country: "ES" } });
		expect(res.status).toBe(200);
		if (res.status !== 200) return;
		const body = await res.json();
		expect(body).toEqual({ entity: "customers", site: "demo", received: 1, rows_changed: 1 });
		const row = await env.DB.prepare("SELECT country, created_at FROM customers WHERE site = 'demo' AND customer_id = 'client-1'").first();
		expect(row).toEqual({ country: "ES", created_at: Date.UTC(2026, 10, 20, 10) });

		const bad = await client.api.v1.customers.$put({ query: { site: "demo" }, json: [{ customer_id: "client-2", created_at: "2026-11-20" }, { customer_id: "client-3", created_at: "not a date" }] });
		expect(bad.status).toBe(400);
		if (bad.status !== 400) return;
		const error = await bad.json();
		expect(error.error).toBe("invalid_records");
		expect(error.fields?.map((f) => f.field)).toEqual(["[1].created_at"]);
	});

	it("rejects wrong call shapes at compile time", () => {
		// Never sent: these only have to fail the typecheck.
		const calls = [
			// @ts-expect-error grain is day, week, month or quarter
			() => client.api.v1.kpis.$get({ query: { grain: "hour" } }),
			// @ts-expect-error an upsert needs a body
			() => client.api.v1.customers.$put({ query: { site: "demo" } }),
			// @ts-expect-error a role is one of admin, executive, analyst, operations
			() => client.api.v1.users.$post({ json: { email: "a@example.com", role: "boss" } }),
		];
		expect(calls).toHaveLength(3);
	});
});
