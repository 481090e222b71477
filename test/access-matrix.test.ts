/**
 * Role × route matrix: every /api/v1 route mounted in workers/app.ts, called by each dashboard role
 * (a session cookie), by account-wide keys with each scope, and with no credentials. A further test
 * fails when a route is mounted without a row here, so each new route gets its access decided.
 *
 * Path placeholders, replaced per call: `:freshUser` (a new user's id), `:freshKey` (a new key's id).
 * `body` may be a function, for bodies that must be unique per call.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../workers/app";
import { createKey } from "../workers/auth/keys";
import type { Role } from "../workers/auth/roles";
import { consumeLoginToken, createLoginToken, createUser } from "../workers/auth/users";
import type { EntityName } from "../workers/commerce/entities";

type Who = "admin" | "executive" | "analyst" | "operations" | "ingestKey" | "readKey" | "adminKey" | "anonymous";

export interface MatrixRow {
	method: string;
	path: string;
	body?: unknown;
	expect: Record<Who, number>;
}

/** Statuses for: read-only roles and the read key pass, the ingest key does not. */
const READ = (ok: number): Record<Who, number> => ({ admin: ok, executive: ok, analyst: ok, operations: ok, ingestKey: 403, readKey: ok, adminKey: ok, anonymous: 401 });
/** Only the admin role and the admin key pass. */
const ADMIN = (ok: number): Record<Who, number> => ({ admin: ok, executive: 403, analyst: 403, operations: 403, ingestKey: 403, readKey: 403, adminKey: ok, anonymous: 401 });
/** Report subscriptions: the admin and executive roles, and keys with the admin scope. */
const REPORT_MANAGERS = (ok: number): Record<Who, number> => ({ admin: ok, executive: ok, analyst: 403, operations: 403, ingestKey: 403, readKey: 403, adminKey: ok, anonymous: 401 });
/** The ingest scope: the admin role (admin ⊇ ingest), the ingest and admin keys. */
const INGEST = (ok: number): Record<Who, number> => ({ admin: ok, executive: 403, analyst: 403, operations: 403, ingestKey: ok, readKey: 403, adminKey: ok, anonymous: 401 });

const unique = () => crypto.randomUUID().slice(0, 8);
const product = { sku: "MX-1", name: "Matrix bar", price: 2 };
/** A valid record of every commerce entity (a new entity fails the typecheck until it has one). */
const UPSERT_SAMPLES: Record<EntityName, Record<string, unknown>> = {
	customers: { customer_id: "mx-c1", created_at: "2026-11-01" },
	products: product,
	orders: { order_id: "mx-o1", customer_id: "mx-c1", placed_at: "2026-11-20T10:00:00Z", total: "10.00", currency: "EUR" },
	order_items: { order_id: "mx-o1", sku: "MX-1", qty: 1, unit_price: "2.00" },
	refunds: { refund_id: "mx-r1", order_id: "mx-o1", created_at: "2026-11-21", amount: "2.00", currency: "EUR" },
	inventory: { sku: "MX-1", taken_at: "2026-11-20", stock: 10 },
	suppliers: { supplier_id: "mx-s1", name: "Matrix supplies" },
	deliveries: { delivery_id: "mx-d1", supplier_id: "mx-s1", ordered_at: "2026-11-01", promised_at: "2026-11-08" },
	tickets: { ticket_id: "mx-t1", opened_at: "2026-11-20" },
	surveys: { response_id: "mx-n1", kind: "nps", score: 9, responded_at: "2026-11-20" },
	spend: { day: "2026-11-20", channel: "paid_search", amount: "5.00", currency: "EUR" },
	messages: { message_id: "mx-m1", kind: "email", sent_at: "2026-11-20" },
	web_daily: {
		day: "2026-11-20", visitors: 1, sessions: 1, events: 1, page_views: 1, bounces: 1, duration_ms: 0, view_sessions: 0, view_purchase_sessions: 0,
		cart_sessions: 0, cart_purchase_sessions: 0, checkout_sessions: 0, checkout_purchase_sessions: 0, purchase_sessions: 0,
	},
};

export const ROUTE_MATRIX: MatrixRow[] = [
	// Access (workers/auth/access-routes.ts)
	{ method: "GET", path: "/api/v1/me", expect: { admin: 200, executive: 200, analyst: 200, operations: 200, ingestKey: 200, readKey: 200, adminKey: 200, anonymous: 401 } },
	{ method: "POST", path: "/api/v1/logout", expect: { admin: 200, executive: 200, analyst: 200, operations: 200, ingestKey: 400, readKey: 400, adminKey: 400, anonymous: 401 } },
	{ method: "GET", path: "/api/v1/users", expect: ADMIN(200) },
	{ method: "POST", path: "/api/v1/users", body: () => ({ email: `matrix-${unique()}@example.com`, role: "analyst" }), expect: ADMIN(201) },
	{ method: "PATCH", path: "/api/v1/users/:freshUser", body: { role: "executive" }, expect: ADMIN(200) },
	{ method: "DELETE", path: "/api/v1/users/:freshUser", expect: ADMIN(200) },
	{ method: "POST", path: "/api/v1/users/:freshUser/login-link", expect: ADMIN(201) },
	{ method: "GET", path: "/api/v1/audit", expect: ADMIN(200) },
	// Sites and keys (workers/auth/routes.ts); the same values as test/setup.ts, so an update changes nothing.
	{ method: "POST", path: "/api/v1/sites", body: { id: "demo", name: "Demo store" }, expect: ADMIN(200) },
	{ method: "GET", path: "/api/v1/sites", expect: READ(200) },
	{ method: "POST", path: "/api/v1/keys", body: { name: "matrix", scopes: ["read"] }, expect: ADMIN(201) },
	{ method: "GET", path: "/api/v1/keys", expect: ADMIN(200) },
	{ method: "DELETE", path: "/api/v1/keys/:freshKey", expect: ADMIN(200) },
	// Webhook secret (workers/commerce/webhooks.ts)
	{ method: "POST", path: "/api/v1/webhooks/secret?site=demo", expect: ADMIN(201) },
	// Connectors (workers/connectors/routes.ts): WooCommerce's secret is made by us, so `{}` is a valid body.
	{ method: "GET", path: "/api/v1/sites/demo/connectors", expect: ADMIN(200) },
	{ method: "PUT", path: "/api/v1/sites/demo/connectors/woocommerce", body: {}, expect: ADMIN(200) },
	{ method: "DELETE", path: "/api/v1/sites/demo/connectors/stripe", expect: ADMIN(200) },
	// Real time and pipeline (workers/realtime, workers/pipeline)
	{ method: "GET", path: "/api/v1/realtime?site=demo", expect: READ(200) },
	// Without Upgrade: websocket the route answers 426 once access is granted (the WebSocket itself: test/realtime.test.ts).
	{ method: "GET", path: "/api/v1/live?site=demo", expect: READ(426) },
	{ method: "GET", path: "/api/v1/anomalies/minutes?site=demo", expect: READ(200) },
	// Products (workers/products/routes.ts)
	{ method: "GET", path: "/api/v1/products/performance?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/products/NO-SUCH-SKU/performance?site=demo", expect: READ(404) },
	{ method: "GET", path: "/api/v1/health/pipeline?site=demo", expect: READ(200) },
	// Data quality (workers/quality/routes.ts)
	{ method: "GET", path: "/api/v1/health/data?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/pipeline/dead-letters?site=demo", expect: READ(200) },
	{ method: "POST", path: "/api/v1/pipeline/dead-letters/replay?site=demo", expect: ADMIN(200) },
	// Bulk import (workers/import/routes.ts); an unknown job id is a 404 only after the scope check.
	{ method: "POST", path: "/api/v1/import/products?site=demo&format=ndjson", body: `${JSON.stringify(product)}\n`, expect: INGEST(202) },
	{ method: "GET", path: "/api/v1/import/00000000-0000-4000-8000-000000000000?site=demo", expect: READ(404) },
	{ method: "GET", path: "/api/v1/import?site=demo", expect: READ(200) },
	// KPIs and targets (workers/metrics/routes.ts)
	{ method: "GET", path: "/api/v1/kpis/catalog?site=demo", expect: READ(200) },
	// Without a site: the catalogue is per role, not per site (the dashboard loads it with /me).
	{ method: "GET", path: "/api/v1/kpis/catalog", expect: READ(200) },
	{ method: "GET", path: "/api/v1/kpis?site=demo", expect: READ(200) },
	// Strategic KPIs (MRR, CAC, CLV, spend …) are not for the operations role.
	{ method: "GET", path: "/api/v1/kpis?site=demo&ids=mrr", expect: { ...READ(200), operations: 403 } },
	{ method: "GET", path: "/api/v1/kpis?site=demo&ids=revenue,fulfilment_hours", expect: READ(200) },
	{ method: "GET", path: "/api/v1/anomalies?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/anomalies?site=demo&ids=mrr", expect: { ...READ(200), operations: 403 } },
	{ method: "GET", path: "/api/v1/targets?site=demo", expect: READ(200) },
	{ method: "PUT", path: "/api/v1/targets?site=demo", body: { kpi: "revenue", period: "2026-11", value: 1000 }, expect: ADMIN(200) },
	// Nightly analytics (workers/analytics/routes.ts): `locked` never gets a run here, so results answer 404 after access passes; CLV is strategic.
	{ method: "POST", path: "/api/v1/jobs/nightly/run?site=demo", expect: ADMIN(202) },
	{ method: "GET", path: "/api/v1/jobs?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/jobs/no-such-run?site=demo", expect: READ(404) },
	{ method: "GET", path: "/api/v1/segments?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/segments/movement?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/segments/At_Risk/customers?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/cohorts/retention?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/basket/rules?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/basket/bundles?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/clv/model?site=locked", expect: { ...READ(404), operations: 403 } },
	{ method: "GET", path: "/api/v1/clv/customers?site=locked", expect: { ...READ(404), operations: 403 } },
	// Predictions (workers/analytics/predict-routes.ts): `locked` has no model; money at stake is hidden from operations, not refused.
	{ method: "GET", path: "/api/v1/models?site=locked", expect: READ(200) },
	{ method: "GET", path: "/api/v1/models/churn?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/churn?site=locked", expect: READ(404) },
	{ method: "GET", path: "/api/v1/recommendations?site=locked&customer=c1", expect: READ(404) },
	{ method: "GET", path: "/api/v1/actions?site=locked", expect: READ(404) },
	// `locked` has no orders: every caller that may see revenue gets the clear 400 insufficient_history.
	{ method: "GET", path: "/api/v1/forecast?site=locked&metric=revenue", expect: READ(400) },
	{ method: "GET", path: "/api/v1/forecast/projection?site=locked&metric=revenue", expect: READ(400) },
	// Reports on demand and the archive (workers/reports/routes.ts): executive and financial are strategic (admin and executive roles); `locked` has no data, so sections are omitted, not refused.
	{ method: "GET", path: "/api/v1/reports/executive?site=locked&period=2026-W47", expect: { ...READ(200), analyst: 403, operations: 403 } },
	{ method: "GET", path: "/api/v1/reports/financial?site=locked&period=2026-10", expect: { ...READ(200), analyst: 403, operations: 403 } },
	{ method: "GET", path: "/api/v1/reports/daily?site=locked&period=2026-11-20", expect: READ(200) },
	{ method: "GET", path: "/api/v1/reports/product?site=locked&period=2026-11&sku=NO-SUCH-SKU", expect: READ(404) },
	{ method: "GET", path: "/api/v1/reports?site=locked", expect: READ(200) },
	{ method: "GET", path: "/api/v1/reports/archive?site=locked&key=reports/none.json", expect: READ(404) },
	// Report subscriptions (workers/reports/subscription-routes.ts): the admin and executive roles and admin keys; an unknown id is a 404 only after access passes.
	{ method: "GET", path: "/api/v1/reports/subscriptions?site=demo", expect: REPORT_MANAGERS(200) },
	{ method: "POST", path: "/api/v1/reports/subscriptions?site=demo", body: { kind: "daily", channel: "email", recipients: ["matrix@example.com"], enabled: false }, expect: REPORT_MANAGERS(201) },
	{ method: "GET", path: "/api/v1/reports/subscriptions/rs_000000000000?site=demo", expect: REPORT_MANAGERS(404) },
	{ method: "PUT", path: "/api/v1/reports/subscriptions/rs_000000000000?site=demo", body: { enabled: false }, expect: REPORT_MANAGERS(404) },
	{ method: "DELETE", path: "/api/v1/reports/subscriptions/rs_000000000000?site=demo", expect: REPORT_MANAGERS(404) },
	{ method: "GET", path: "/api/v1/reports/subscriptions/rs_000000000000/sends?site=demo", expect: REPORT_MANAGERS(404) },
	// Funnels (workers/funnels/routes.ts)
	{ method: "GET", path: "/api/v1/funnels?site=demo", expect: READ(200) },
	{ method: "PUT", path: "/api/v1/funnels?site=demo", body: { funnels: [{ id: "checkout", name: "Checkout", steps: [{ event: "product_view" }, { event: "add_to_cart" }, { event: "begin_checkout" }, { event: "purchase" }], window_seconds: 86400 }] }, expect: ADMIN(200) },
	{ method: "GET", path: "/api/v1/funnels/checkout/report?site=demo", expect: READ(200) },
	// Customers (workers/customers/routes.ts); an unknown customer id is a 404 only after the scope check.
	{ method: "GET", path: "/api/v1/customers/overview?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/customers?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/customers/mx-nobody?site=demo", expect: READ(404) },
	// Privacy (workers/privacy/routes.ts): erasure and export of an unknown customer are 404 only after the admin check.
	{ method: "DELETE", path: "/api/v1/customers/mx-nobody?site=demo", expect: ADMIN(404) },
	{ method: "GET", path: "/api/v1/customers/mx-nobody/export?site=demo", expect: ADMIN(404) },
	{ method: "POST", path: "/api/v1/privacy/pii/rotate", expect: ADMIN(200) },
	{ method: "GET", path: "/api/v1/journeys?site=demo", expect: READ(200) },
	// Alert rules, history, deliveries (workers/alerts/rule-routes.ts); an unknown rule id is a 404 only after the scope check.
	{ method: "GET", path: "/api/v1/alerts/rules?site=demo", expect: READ(200) },
	{ method: "POST", path: "/api/v1/alerts/rules?site=demo", body: () => ({ name: `matrix ${unique()}`, metric: "orders", comparator: "<", threshold: 1 }), expect: ADMIN(201) },
	{ method: "GET", path: "/api/v1/alerts/rules/revenue_drop?site=demo", expect: READ(200) },
	{ method: "PUT", path: "/api/v1/alerts/rules/revenue_drop?site=demo", body: { cooldown_seconds: 3600 }, expect: ADMIN(200) },
	{ method: "DELETE", path: "/api/v1/alerts/rules/r_000000000000?site=demo", expect: ADMIN(404) },
	{ method: "GET", path: "/api/v1/alerts?site=demo", expect: READ(200) },
	{ method: "GET", path: "/api/v1/alerts/deliveries?site=demo", expect: ADMIN(200) },
	{ method: "POST", path: "/api/v1/alerts/evaluate?site=demo", expect: ADMIN(200) },
	// Commerce upserts (workers/commerce/routes.ts): one declared route per entity and method.
	...(Object.entries(UPSERT_SAMPLES) as [EntityName, Record<string, unknown>][]).flatMap(([entity, body]) =>
		(["PUT", "POST"] as const).map((method) => ({ method, path: `/api/v1/${entity}?site=demo`, body, expect: INGEST(200) })),
	),
	// GraphQL (workers/graphql/routes.ts): any principal may ask; each field is its REST route's answer, so a query of one
	// read field gets READ's statuses (the ingest key: 403, every field FORBIDDEN). The SDL needs only credentials.
	{ method: "POST", path: "/api/v1/graphql", body: { query: '{ listJobs(site: "demo") { site } }' }, expect: READ(200) },
	{ method: "GET", path: `/api/v1/graphql?query=${encodeURIComponent('{ listJobs(site: "demo") { site } }')}`, expect: READ(200) },
	{ method: "GET", path: "/api/v1/graphql/schema", expect: { admin: 200, executive: 200, analyst: 200, operations: 200, ingestKey: 200, readKey: 200, adminKey: 200, anonymous: 401 } },
	// The API reference (workers/docs/routes.ts) is public.
	{ method: "GET", path: "/api/v1/openapi.json", expect: { admin: 200, executive: 200, analyst: 200, operations: 200, ingestKey: 200, readKey: 200, adminKey: 200, anonymous: 200 } },
];

const ROLES_UNDER_TEST: Role[] = ["admin", "executive", "analyst", "operations"];
const WHO: Who[] = [...ROLES_UNDER_TEST, "ingestKey", "readKey", "adminKey", "anonymous"];
const users: Partial<Record<Role, string>> = {};
const secrets: Partial<Record<Who, string>> = {};

beforeAll(async () => {
	for (const role of ROLES_UNDER_TEST) users[role] = (await createUser(env.DB, { email: `matrix-${role}@example.com`, role })).id;
	secrets.ingestKey = (await createKey(env.DB, { site: null, name: "matrix ingest", scopes: ["ingest"] })).secret;
	secrets.readKey = (await createKey(env.DB, { site: null, name: "matrix read", scopes: ["read"] })).secret;
	secrets.adminKey = (await createKey(env.DB, { site: null, name: "matrix admin", scopes: ["admin"] })).secret;
});

/** Credentials for one call; every session call gets a new session (logout ends the one it uses). */
async function credentials(who: Who): Promise<Record<string, string>> {
	if (who === "anonymous") return {};
	const userId = users[who as Role];
	if (userId) {
		const { sessionId } = await consumeLoginToken(env.DB, (await createLoginToken(env.DB, userId)).token);
		return { Cookie: `b2g_session=${sessionId}` };
	}
	return { Authorization: `Bearer ${secrets[who]}` };
}

async function concretePath(path: string): Promise<string> {
	let out = path;
	if (out.includes(":freshUser")) out = out.replace(":freshUser", (await createUser(env.DB, { email: `target-${unique()}@example.com`, role: "analyst" })).id);
	if (out.includes(":freshKey")) out = out.replace(":freshKey", (await createKey(env.DB, { site: null, name: "matrix target", scopes: ["read"] })).key.id);
	return out;
}

async function call(row: MatrixRow, who: Who): Promise<number> {
	const body = typeof row.body === "function" ? (row.body as () => unknown)() : row.body;
	const res = await exports.default.fetch(`https://b2g.test${await concretePath(row.path)}`, {
		method: row.method,
		headers: { "Content-Type": "application/json", ...(await credentials(who)) },
		body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
	});
	await res.arrayBuffer();
	return res.status;
}

describe("role × route matrix", () => {
	for (const row of ROUTE_MATRIX) {
		it(`${row.method} ${row.path}`, async () => {
			const got: Partial<Record<Who, number>> = {};
			for (const who of WHO) got[who] = await call(row, who);
			expect(got).toEqual(row.expect);
		});
	}
});

/** `/api/v1/users/:id` or `/api/v1/:entity{[a-z_]+}` as a regular expression over concrete paths. */
function routePattern(path: string): RegExp {
	const source = path
		.split("/")
		.map((seg) => {
			const m = /^:\w+(?:\{(.+)\})?$/.exec(seg);
			if (m) return `(?:${m[1] ?? "[^/]+"})`;
			return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
		})
		.join("/");
	return new RegExp(`^${source}$`);
}

describe("matrix coverage", () => {
	it("has a row for every /api/v1 route mounted in workers/app.ts", () => {
		const mounted: { method: string; path: string }[] = [];
		for (const r of app.routes) if (r.method !== "ALL" && r.path.startsWith("/api/v1/") && !mounted.some((m) => m.method === r.method && m.path === r.path)) mounted.push({ method: r.method, path: r.path });
		expect(mounted.length).toBeGreaterThanOrEqual(27);
		// A row covers the first mounted route that would serve it, so POST /api/v1/users does not count for the /:entity catch-all.
		const covered = new Set<string>();
		for (const row of ROUTE_MATRIX) {
			const first = mounted.find((route) => route.method === row.method && routePattern(route.path).test(row.path.split("?")[0] as string));
			if (first) covered.add(`${first.method} ${first.path}`);
		}
		const uncovered = mounted.map((r) => `${r.method} ${r.path}`).filter((k) => !covered.has(k));
		expect(uncovered).toEqual([]);
	});
});
