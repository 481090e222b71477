/**
 * GraphQL (workers/graphql/): every query answers what its REST route answers for the same request
 * (deep-equal over every field of the type), the role × query matrix equals REST's statuses for every
 * principal, depth and complexity limits, argument errors naming the argument, the rate limit, the SDL.
 *
 * The store is generated (scripts/demo-store.mjs), loaded through the import API and analysed by the
 * nightly workflow, so the predictions and nightly analytics have data to compare.
 */
import { createExecutionContext, introspectWorkflowInstance, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { getNamedType, GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType, type GraphQLField, type GraphQLOutputType } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { generateStore } from "../scripts/demo-store.mjs";
import { loadStore } from "../scripts/seed.mjs";
import { app } from "../workers/app";
import { createKey } from "../workers/auth/keys";
import type { Role } from "../workers/auth/roles";
import { consumeLoginToken, createLoginToken, createUser } from "../workers/auth/users";
import { MAX_COMPLEXITY, MAX_DEPTH, MAX_ROOT_FIELDS } from "../workers/graphql/limits";
import { graphqlSchema } from "../workers/graphql/routes";
import { startNightly } from "../workers/jobs/nightly";
import { ADMIN_KEY } from "./helpers";

const SITE = "gql";
const AS_OF_MS = Date.UTC(2026, 5, 1);
const AS_OF = "2026-05-31";
const FROM = "2026-03-01";
const TO = "2026-05-31";

type Args = Record<string, string | number>;
interface GqlError {
	message: string;
	path?: (string | number)[];
	extensions?: { code?: string; status?: number; argument?: string; arguments?: string[]; fields?: { field: string }[] } & Record<string, unknown>;
}
interface GqlBody {
	data?: Record<string, unknown> | null;
	errors?: GqlError[];
	/** On a 4xx, the API's error shape beside `errors`. */
	error?: string;
	message?: string;
	fields?: { field: string; message: string }[];
}

let customerId = "";
let sku = "";
let runId = "";
let segmentName = "";

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'GraphQL', '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(SITE).run();
	const store = generateStore({ seed: 5, customers: 600, orders: 4800, months: 14, eventDays: 0, asOf: AS_OF_MS });
	const fetch = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
	await loadStore(store, { fetch, url: "https://b2g.test", key: ADMIN_KEY, site: SITE, concurrency: 2, pollMs: 50 });
	runId = "manual-graphql-test";
	const instance = await introspectWorkflowInstance(env.NIGHTLY, runId);
	try {
		await startNightly(env, { site: SITE, asOf: AS_OF }, runId, "manual");
		await instance.waitForStatus("complete");
	} finally {
		await instance.dispose();
	}
	// Subjects read from D1, not through the routes under test.
	customerId = (await env.DB.prepare("SELECT customer_id FROM orders WHERE site = ? GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1").bind(SITE).first<{ customer_id: string }>())!.customer_id;
	sku = (await env.DB.prepare("SELECT sku FROM order_items WHERE site = ? GROUP BY sku ORDER BY COUNT(*) DESC, sku LIMIT 1").bind(SITE).first<{ sku: string }>())!.sku;
	const segments = (await rest(`/api/v1/segments?site=${SITE}`)).body as { segments: { segment: string; customers: number }[] };
	segmentName = segments.segments.find((s) => s.customers > 0 && /^\w+$/.test(s.segment.replace(/ /g, "_")))!.segment;
}, 300_000);

// ─── helpers ─────────────────────────────────────────────────────────────────────────────────────

async function rest(path: string, headers: Record<string, string> = { Authorization: `Bearer ${ADMIN_KEY}` }): Promise<{ status: number; body: unknown }> {
	const res = await exports.default.fetch(`https://b2g.test${path}`, { headers });
	const text = await res.text();
	return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function gql(query: string, headers: Record<string, string> = { Authorization: `Bearer ${ADMIN_KEY}` }, variables?: Record<string, unknown>): Promise<{ status: number; body: GqlBody; headers: Headers }> {
	const res = await exports.default.fetch("https://b2g.test/api/v1/graphql", { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify({ query, variables }) });
	return { status: res.status, body: (await res.json()) as GqlBody, headers: res.headers };
}

function unwrap(t: GraphQLOutputType): GraphQLOutputType {
	return t instanceof GraphQLNonNull ? t.ofType : t;
}

/** Every field of a type, recursively: the selection that asks for all of a REST answer. */
function fullSelection(t: GraphQLOutputType): string {
	const named = getNamedType(t);
	if (!(named instanceof GraphQLObjectType)) return "";
	return `{ ${Object.values(named.getFields())
		.map((f) => `${f.name} ${fullSelection(f.type)}`.trim())
		.join(" ")} }`;
}

/** The REST body seen through a selection of all fields: absent optional keys read as null, as GraphQL answers them. */
function project(value: unknown, t: GraphQLOutputType): unknown {
	const inner = unwrap(t);
	if (value === undefined || value === null) return null;
	if (inner instanceof GraphQLList) return (value as unknown[]).map((v) => project(v, inner.ofType));
	if (inner instanceof GraphQLObjectType) {
		const out: Record<string, unknown> = {};
		for (const f of Object.values(inner.getFields())) out[f.name] = project((value as Record<string, unknown>)[f.name], f.type);
		return out;
	}
	return value;
}

function field(name: string): GraphQLField<unknown, unknown> {
	const f = graphqlSchema().schema.getQueryType()!.getFields()[name];
	if (!f) throw new Error(`no Query field ${name}`);
	return f;
}

/** `name: value` literals: enum values bare, strings quoted, numbers as is. */
function argsLiteral(name: string, args: Args): string {
	const f = field(name);
	const parts = Object.entries(args).map(([k, v]) => {
		const arg = f.args.find((a) => a.name === k);
		if (!arg) throw new Error(`${name} has no argument ${k}`);
		return `${k}: ${getNamedType(arg.type) instanceof GraphQLEnumType ? String(v) : JSON.stringify(v)}`;
	});
	return parts.length ? `(${parts.join(", ")})` : "";
}

function queryFor(name: string, args: Args): string {
	return `{ ${name}${argsLiteral(name, args)} ${fullSelection(field(name).type)} }`;
}

/** The REST URL of the same request. */
function restUrl(path: string, args: Args, pathArgs: string[] = []): string {
	let p = path;
	const qs = new URLSearchParams();
	for (const [k, v] of Object.entries(args)) {
		if (pathArgs.includes(k)) p = p.replace(`{${k}}`, encodeURIComponent(String(v)));
		else qs.set(k, String(v));
	}
	return `${p}?${qs}`;
}

/** Clock readings (`as_of` in ms on KPI answers) differ between two calls; compared within a minute, then dropped. */
function withoutClock(v: unknown): unknown {
	if (Array.isArray(v)) return v.map(withoutClock);
	if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === "as_of" && typeof x === "number")).map(([k, x]) => [k, withoutClock(x)]));
	return v;
}

interface Pair {
	field: string;
	args: () => Args;
	path: string;
	pathArgs?: string[];
	/** Call REST once before comparing: the first call changes what the next answers (funnel rollups are built on first read). */
	warm?: boolean;
}

/** GraphQL field ↔ REST route, with the same arguments. Every Query field appears at least once. */
const PAIRS: Pair[] = [
	{ field: "kpis", args: () => ({ site: SITE, ids: "revenue,net_revenue,orders,aov,new_customers", from: FROM, to: TO, grain: "month", compare: "previous" }), path: "/api/v1/kpis" },
	{ field: "kpis", args: () => ({ site: SITE, ids: "revenue,orders", from: FROM, to: TO, grain: "week", by: "channel" }), path: "/api/v1/kpis" },
	{ field: "kpis", args: () => ({ site: SITE, ids: "revenue", from: "2026-05-01", to: TO, grain: "day", compare: "yoy" }), path: "/api/v1/kpis" },
	{ field: "kpiCatalog", args: () => ({ site: SITE }), path: "/api/v1/kpis/catalog" },
	{ field: "getTargets", args: () => ({ site: SITE }), path: "/api/v1/targets" },
	{ field: "anomalies", args: () => ({ site: SITE, from: "2026-05-01", to: TO }), path: "/api/v1/anomalies" },
	{ field: "minuteAnomalies", args: () => ({ site: SITE }), path: "/api/v1/anomalies/minutes" },
	{ field: "listAlertRules", args: () => ({ site: SITE }), path: "/api/v1/alerts/rules" },
	{ field: "getAlertRule", args: () => ({ site: SITE, id: "revenue_drop" }), path: "/api/v1/alerts/rules/{id}", pathArgs: ["id"] },
	{ field: "alertHistory", args: () => ({ site: SITE, limit: 20 }), path: "/api/v1/alerts" },
	{ field: "alertDeliveries", args: () => ({ site: SITE, limit: 20 }), path: "/api/v1/alerts/deliveries" },
	{ field: "getFunnels", args: () => ({ site: SITE }), path: "/api/v1/funnels" },
	{ field: "funnelReport", args: () => ({ site: SITE, id: "checkout", from: "2026-05-25", to: TO, by: "device" }), path: "/api/v1/funnels/{id}/report", pathArgs: ["id"], warm: true },
	{ field: "customersOverview", args: () => ({ site: SITE, from: FROM, to: TO }), path: "/api/v1/customers/overview" },
	{ field: "listCustomers", args: () => ({ site: SITE, limit: 5, sort: "orders" }), path: "/api/v1/customers" },
	{ field: "customerProfile", args: () => ({ site: SITE, id: customerId }), path: "/api/v1/customers/{id}", pathArgs: ["id"] },
	{ field: "journeys", args: () => ({ site: SITE, from: "2026-05-25", to: TO, limit: 5 }), path: "/api/v1/journeys" },
	{ field: "productCatalogue", args: () => ({ site: SITE, from: FROM, to: TO }), path: "/api/v1/products/performance" },
	{ field: "productPerformance", args: () => ({ site: SITE, sku, from: FROM, to: TO, grain: "month" }), path: "/api/v1/products/{sku}/performance", pathArgs: ["sku"] },
	{ field: "listJobs", args: () => ({ site: SITE }), path: "/api/v1/jobs" },
	{ field: "getJob", args: () => ({ site: SITE, id: runId }), path: "/api/v1/jobs/{id}", pathArgs: ["id"] },
	{ field: "segments", args: () => ({ site: SITE }), path: "/api/v1/segments" },
	{ field: "segmentMovement", args: () => ({ site: SITE }), path: "/api/v1/segments/movement" },
	{ field: "segmentCustomers", args: () => ({ site: SITE, name: segmentName.replace(/ /g, "_"), limit: 5 }), path: "/api/v1/segments/{name}/customers", pathArgs: ["name"] },
	{ field: "cohorts", args: () => ({ site: SITE, kind: "retention" }), path: "/api/v1/cohorts/{kind}", pathArgs: ["kind"] },
	{ field: "cohorts", args: () => ({ site: SITE, kind: "revenue", grain: "month" }), path: "/api/v1/cohorts/{kind}", pathArgs: ["kind"] },
	{ field: "basketRules", args: () => ({ site: SITE, limit: 10 }), path: "/api/v1/basket/rules" },
	{ field: "basketBundles", args: () => ({ site: SITE }), path: "/api/v1/basket/bundles" },
	{ field: "clvModel", args: () => ({ site: SITE }), path: "/api/v1/clv/model" },
	{ field: "clvCustomers", args: () => ({ site: SITE, limit: 5 }), path: "/api/v1/clv/customers" },
	{ field: "listModels", args: () => ({ site: SITE }), path: "/api/v1/models" },
	{ field: "getModel", args: () => ({ site: SITE, name: "churn" }), path: "/api/v1/models/{name}", pathArgs: ["name"] },
	{ field: "churn", args: () => ({ site: SITE, limit: 5 }), path: "/api/v1/churn" },
	{ field: "recommendations", args: () => ({ site: SITE, customer: customerId, k: 5 }), path: "/api/v1/recommendations" },
	{ field: "nextBestActions", args: () => ({ site: SITE }), path: "/api/v1/actions" },
	{ field: "nextBestActions", args: () => ({ site: SITE, type: "win_back", limit: 5 }), path: "/api/v1/actions" },
	{ field: "forecast", args: () => ({ site: SITE, metric: "orders", grain: "week", horizon: 4 }), path: "/api/v1/forecast" },
	{ field: "forecastProjection", args: () => ({ site: SITE, metric: "orders" }), path: "/api/v1/forecast/projection" },
];

/** GraphQL answer of one field against REST's for the same request: data deep-equal, or the same refusal. */
async function compare(pair: Pair, headers: Record<string, string>): Promise<{ rest: number; graphql: number; code: string | null }> {
	const args = pair.args();
	if (pair.warm) await rest(restUrl(pair.path, args, pair.pathArgs), headers);
	const r = await rest(restUrl(pair.path, args, pair.pathArgs), headers);
	const g = await gql(queryFor(pair.field, args), headers);
	if (r.status === 401) {
		// No credentials: the /api/v1 middleware refuses both before any field runs.
		expect(g.status).toBe(401);
		return { rest: 401, graphql: 401, code: null };
	}
	if (r.status === 200) {
		expect(g.body.errors, JSON.stringify(g.body.errors)).toBeUndefined();
		const got = g.body.data?.[pair.field];
		const want = project(r.body, field(pair.field).type);
		const clockOf = (v: unknown) => (v && typeof v === "object" && typeof (v as { as_of?: unknown }).as_of === "number" ? (v as { as_of: number }).as_of : null);
		if (clockOf(want) !== null) expect(Math.abs(clockOf(got)! - clockOf(want)!)).toBeLessThan(60_000);
		expect(withoutClock(got)).toEqual(withoutClock(want));
		return { rest: 200, graphql: g.status, code: null };
	}
	const restError = r.body as { error: string; message: string };
	expect(g.body.data?.[pair.field], JSON.stringify(g.body)).toBeNull();
	const err = g.body.errors?.[0];
	expect(err?.path).toEqual([pair.field]);
	expect(err?.extensions?.status, JSON.stringify([r.body, g.body])).toBe(r.status);
	expect(err?.extensions?.error).toBe(restError.error);
	expect(err?.message.startsWith(restError.message)).toBe(true);
	// One field refused: the answer is REST's status with REST's error code in the API's error shape.
	if (g.status >= 400) expect(g.body).toMatchObject({ error: restError.error, message: err?.message });
	return { rest: r.status, graphql: g.status, code: err?.extensions?.code ?? null };
}

// ─── tests ───────────────────────────────────────────────────────────────────────────────────────

describe("GraphQL answers what REST answers", () => {
	it("has a pair for every Query field", () => {
		const fields = Object.keys(graphqlSchema().schema.getQueryType()!.getFields()).sort();
		expect(fields.length).toBeGreaterThanOrEqual(34);
		expect([...new Set(PAIRS.map((p) => p.field))].sort()).toEqual(fields);
	});

	for (const pair of PAIRS) {
		it(`${pair.field} = GET ${pair.path}`, async () => {
			const out = await compare(pair, { Authorization: `Bearer ${ADMIN_KEY}` });
			// Every pair of the table is a request REST answers with data.
			expect(out).toEqual({ rest: 200, graphql: 200, code: null });
		});
	}

	it("answers the issue's example shape: kpis { id total { value compare delta_pct } series { … } }", async () => {
		const q = `{ kpis(site: "${SITE}", ids: "revenue", from: "2026-04-01", to: "2026-05-31", grain: month, compare: previous) { kpis { id total { value compare delta_pct } series { period value } } } }`;
		const g = await gql(q);
		const r = (await rest(`/api/v1/kpis?site=${SITE}&ids=revenue&from=2026-04-01&to=2026-05-31&grain=month&compare=previous`)).body as { kpis: { total: { value: number; compare: number; delta_pct: number }; series: { period: string; value: number }[] }[] };
		const k = (g.body.data?.kpis as { kpis: { id: string; total: { value: number; compare: number; delta_pct: number }; series: { period: string; value: number }[] }[] }).kpis[0]!;
		expect(k.id).toBe("revenue");
		expect(k.series.map((s) => s.period)).toEqual(["2026-04", "2026-05"]);
		expect(k.total).toEqual({ value: r.kpis[0]!.total.value, compare: r.kpis[0]!.total.compare, delta_pct: r.kpis[0]!.total.delta_pct });
		// The total of two whole months is the sum of the months (revenue adds up), to the cent.
		expect(Math.round(k.total.value * 100)).toBe(Math.round((k.series[0]!.value + k.series[1]!.value) * 100));
		expect(k.total.value).toBeGreaterThan(0);
	});

	it("answers GET /api/v1/graphql?query= with the same data as POST", async () => {
		const q = `{ segments(site: "${SITE}") { customers segments { segment customers } } }`;
		const res = await exports.default.fetch(`https://b2g.test/api/v1/graphql?query=${encodeURIComponent(q)}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual((await gql(q)).body);
	});

	it("runs several fields, with aliases and variables, in one request", async () => {
		const q = `query Two($site: String, $grain: KpisGrain) { a: kpis(site: $site, ids: "orders", from: "${FROM}", to: "${TO}", grain: $grain) { kpis { total { value } } } b: kpis(site: $site, ids: "orders", from: "${FROM}", to: "${TO}", grain: day) { kpis { total { value } } } }`;
		const g = await gql(q, undefined, { site: SITE, grain: "month" });
		expect(g.status).toBe(200);
		const a = g.body.data?.a as { kpis: { total: { value: number } }[] };
		const b = g.body.data?.b as { kpis: { total: { value: number } }[] };
		// The grain changes the series, never the range's total.
		expect(a.kpis[0]!.total.value).toBe(b.kpis[0]!.total.value);
		expect(a.kpis[0]!.total.value).toBeGreaterThan(0);
	});
});

type Who = "admin" | "executive" | "analyst" | "operations" | "ingestKey" | "readKey" | "adminKey" | "siteKey" | "otherSiteKey" | "anonymous";
const ROLES: Role[] = ["admin", "executive", "analyst", "operations"];

describe("role × query matrix: every principal × every Query field, as REST", () => {
	const headers: Partial<Record<Who, Record<string, string>>> = { anonymous: {} };
	beforeAll(async () => {
		for (const role of ROLES) {
			const user = await createUser(env.DB, { email: `gql-${role}-${crypto.randomUUID().slice(0, 6)}@example.com`, role });
			const { sessionId } = await consumeLoginToken(env.DB, (await createLoginToken(env.DB, user.id)).token);
			headers[role] = { Cookie: `b2g_session=${sessionId}`, Origin: "https://b2g.test" };
		}
		const key = async (site: string | null, scopes: ("read" | "ingest" | "admin")[]) => ({ Authorization: `Bearer ${(await createKey(env.DB, { site, name: "gql matrix", scopes })).secret}` });
		headers.ingestKey = await key(null, ["ingest"]);
		headers.readKey = await key(null, ["read"]);
		headers.adminKey = await key(null, ["admin"]);
		headers.siteKey = await key(SITE, ["read"]);
		headers.otherSiteKey = await key("demo", ["read"]);
	});

	// One pair per field (the first of the table), plus the strategic KPI request the operations role may not make.
	const matrixPairs: Pair[] = [...new Map(PAIRS.map((p) => [p.field, p])).values()];
	matrixPairs.push({ field: "kpis", args: () => ({ site: SITE, ids: "mrr,cac", from: FROM, to: TO }), path: "/api/v1/kpis" });
	const seen: Record<string, Record<string, number>> = {};
	for (const pair of matrixPairs) {
		it(`${pair.field} (${pair.path})`, async () => {
			const row: Record<string, number> = {};
			for (const who of Object.keys(headers) as Who[]) {
				const out = await compare(pair, headers[who]!);
				// A refused field: FORBIDDEN exactly where REST says 403, and the answer's status is REST's (one field).
				if (out.rest === 403) expect(out.code).toBe("FORBIDDEN");
				if (out.rest !== 200) expect(out.graphql).toBe(out.rest);
				row[who] = out.rest;
			}
			seen[`${pair.field} ${JSON.stringify(pair.args())}`] = row;
		}, 120_000);
	}

	it("covers allowed and refused cells (the matrix is not all one answer)", () => {
		const cells = Object.values(seen).flatMap((r) => Object.values(r));
		expect(cells).toContain(200);
		expect(cells).toContain(403);
		expect(cells).toContain(401);
		// The ingest-only key and the key of another site are refused everything, as by REST.
		for (const row of Object.values(seen)) {
			expect(row.ingestKey).toBe(403);
			expect(row.otherSiteKey).toBe(403);
		}
		// Strategic KPIs: refused to the operations role only.
		const strategic = Object.entries(seen).find(([k]) => k.includes("mrr"))![1];
		expect(strategic).toMatchObject({ admin: 200, executive: 200, analyst: 200, operations: 403, readKey: 200, siteKey: 200 });
	});
});

describe("limits and errors", () => {
	it(`refuses a query deeper than ${MAX_DEPTH} with DEPTH_LIMIT and 400, before validation`, async () => {
		const deep = `{ kpis { kpis { total { a { b { c { d { e { f } } } } } } } } }`;
		const g = await gql(deep);
		expect(g.status).toBe(400);
		expect(g.body.errors).toHaveLength(1);
		expect(g.body.errors?.[0]?.extensions).toMatchObject({ code: "DEPTH_LIMIT", depth: 9, limit: MAX_DEPTH });
		expect(g.body.errors?.[0]?.message).toBe(`the query is 9 levels deep; at most ${MAX_DEPTH} are allowed`);
		// A 4xx body is also the API's error shape.
		expect(g.body).toMatchObject({ error: "depth_limit", message: g.body.errors?.[0]?.message, fields: [{ field: "query" }] });
		// Depth through a fragment counts the same.
		const viaFragment = `query { kpis { ...K } } fragment K on KpiResponse { kpis { total { a { b { c { d { e { f } } } } } } } }`;
		expect((await gql(viaFragment)).body.errors?.[0]?.extensions?.code).toBe("DEPTH_LIMIT");
		// The deepest real selection (kpis → kpis → groups → series → value: 5) is allowed.
		expect((await gql(`{ kpis(site: "${SITE}", ids: "orders", by: channel, from: "${TO}", to: "${TO}") { kpis { groups { series { value } } } } }`)).status).toBe(200);
	});

	it("refuses too many top-level fields and too much complexity with COMPLEXITY_LIMIT and 400", async () => {
		const many = `{ ${Array.from({ length: MAX_ROOT_FIELDS + 1 }, (_, i) => `f${i}: kpiCatalog(site: "${SITE}") { kpis { id } }`).join(" ")} }`;
		const g = await gql(many);
		expect(g.status).toBe(400);
		expect(g.body.errors?.[0]?.extensions).toMatchObject({ code: "COMPLEXITY_LIMIT", rootFields: MAX_ROOT_FIELDS + 1 });
		// Complexity: 100 per root field; below it 1 × the list sizes. kpis → kpis (10) → groups (×10) → series (×10) → 12 fields
		// = 12,000 per root field for the series alone, so two such fields exceed the budget.
		const series = "series { value compare delta delta_pct target progress partial elapsed reason period from to }";
		const heavy = (alias: string) => `${alias}: kpis(site: "${SITE}") { kpis { groups { ${series} } } }`;
		const one = await gql(`{ ${heavy("a")} }`);
		expect(one.body.errors?.[0]?.extensions?.code).not.toBe("COMPLEXITY_LIMIT");
		const two = await gql(`{ ${heavy("a")} ${heavy("b")} }`);
		expect(two.status).toBe(400);
		// 2 × (100 + kpis 1 + groups 10 + series 100 + 12 × 1,000) = 24,422 > 20,000.
		expect(two.body.errors?.[0]?.extensions).toMatchObject({ code: "COMPLEXITY_LIMIT", complexity: 24_422 });
		expect(two.body.error).toBe("complexity_limit");
		expect(MAX_COMPLEXITY).toBe(20_000);
		// A root field's `limit` is the size of its lists: limit 200 makes one customer list cost 200 per field.
		const big = await gql(`{ listCustomers(site: "${SITE}", limit: 200) ${fullSelection(field("listCustomers").type)} }`);
		expect(big.status, JSON.stringify(big.body.errors)).toBe(200);
	});

	it("names the argument of a bad value: GraphQL type errors and REST's own validation", async () => {
		const badEnum = await gql(`{ kpis(site: "${SITE}", grain: hour) { site } }`);
		expect(badEnum.status).toBe(400);
		expect(badEnum.body.errors?.[0]?.extensions).toMatchObject({ code: "GRAPHQL_VALIDATION_FAILED", argument: "grain" });
		expect(badEnum.body.errors?.[0]?.message).toMatch(/^argument "grain": /);
		expect(badEnum.body).toMatchObject({ error: "invalid_query", fields: [{ field: "grain" }] });
		// A value GraphQL accepts but REST refuses: REST's 400 naming the field, as the field's error and the answer's status.
		const badDay = await gql(`{ kpis(site: "${SITE}", from: "2026-02-30") { site } }`);
		expect(badDay.status).toBe(400);
		expect(badDay.body.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", status: 400, arguments: ["from"] });
		expect(badDay.body.errors?.[0]?.message).toContain("from: must be a day YYYY-MM-DD");
		expect(badDay.body).toMatchObject({ error: "invalid_request", fields: [{ field: "from", message: "must be a day YYYY-MM-DD" }] });
		const unknownKpi = await gql(`{ kpis(site: "${SITE}", ids: "revenue,nope") { site } }`);
		expect(unknownKpi.body.errors?.[0]?.extensions?.arguments).toEqual(["ids"]);
		// A variable of the wrong value: 400 before anything runs.
		const badVar = await gql(`query ($g: KpisGrain) { kpis(site: "${SITE}", grain: $g) { site } }`, undefined, { g: "hour" });
		expect(badVar.status).toBe(400);
		expect(badVar.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
		expect(badVar.body.errors?.[0]?.message).toContain('Variable "$g"');
		// A missing required argument and an unknown field are validation errors.
		const missing = await gql(`{ forecast(site: "${SITE}") { metric } }`);
		expect(missing.status).toBe(400);
		expect(missing.body.errors?.[0]?.message).toContain("Query.forecast(metric:)");
		// Syntax errors and malformed bodies.
		const syntax = await gql(`{ kpis(site: "${SITE}" { site } }`);
		expect(syntax.status).toBe(400);
		expect(syntax.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
		const noQuery = await exports.default.fetch("https://b2g.test/api/v1/graphql", { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify({ variables: {} }) });
		expect(noQuery.status).toBe(400);
		expect(await noQuery.json()).toMatchObject({ error: "invalid_request", fields: [{ field: "query" }] });
		const badVars = await exports.default.fetch(`https://b2g.test/api/v1/graphql?query=${encodeURIComponent("{ listJobs { site } }")}&variables=nope`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		expect(badVars.status).toBe(400);
		expect(await badVars.json()).toMatchObject({ fields: [{ field: "variables" }] });
	});

	it("keeps partial results: a refused field is null with its error, the others answer (200)", async () => {
		const ops = await (async () => {
			const user = await createUser(env.DB, { email: `gql-partial-${crypto.randomUUID().slice(0, 6)}@example.com`, role: "operations" });
			const { sessionId } = await consumeLoginToken(env.DB, (await createLoginToken(env.DB, user.id)).token);
			return { Cookie: `b2g_session=${sessionId}`, Origin: "https://b2g.test" };
		})();
		const g = await gql(`{ orders: kpis(site: "${SITE}", ids: "orders", from: "${FROM}", to: "${TO}") { kpis { total { value } } } clv: clvModel(site: "${SITE}") { as_of } }`, ops);
		expect(g.status).toBe(200);
		expect(g.body.data?.clv).toBeNull();
		expect((g.body.data?.orders as { kpis: unknown[] }).kpis).toHaveLength(1);
		expect(g.body.errors).toEqual([expect.objectContaining({ path: ["clv"], extensions: expect.objectContaining({ code: "FORBIDDEN", status: 403 }) })]);
	});

	it("applies the REST rate limit: one token per top-level field, 429 with Retry-After", async () => {
		const { secret } = await createKey(env.DB, { site: null, name: "gql limited", scopes: ["read"] });
		const limited = { ...env, RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_PERIOD_SECONDS: "30" };
		const call = async (query: string) => {
			const ctx = createExecutionContext();
			const res = await app.fetch(new Request("https://b2g.test/api/v1/graphql", { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${secret}` }, body: JSON.stringify({ query }) }), limited, ctx);
			await waitOnExecutionContext(ctx);
			return res;
		};
		// Two fields take two of the three tokens; then a two-field query finds one token left for its second call.
		expect((await call(`{ a: listJobs(site: "${SITE}") { site } b: listJobs(site: "${SITE}") { site } }`)).status).toBe(200);
		const refused = await call(`{ a: listJobs(site: "${SITE}") { site } b: listJobs(site: "${SITE}") { site } }`);
		expect(refused.status).toBe(429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		expect(await refused.json()).toMatchObject({ error: "rate_limited" });
		// The bucket is the principal's REST bucket: a REST call is refused too.
		const ctx = createExecutionContext();
		const restCall = await app.fetch(new Request(`https://b2g.test/api/v1/jobs?site=${SITE}`, { headers: { Authorization: `Bearer ${secret}` } }), limited, ctx);
		await waitOnExecutionContext(ctx);
		expect(restCall.status).toBe(429);
	});

	it("needs credentials (401) like every /api/v1 route", async () => {
		const g = await gql("{ listJobs { site } }", {});
		expect(g.status).toBe(401);
		expect(g.body).toMatchObject({ error: "unauthorized" });
	});
});

describe("schema document and explorer", () => {
	it("prints the SDL of the executed schema at GET /api/v1/graphql/schema", async () => {
		const res = await exports.default.fetch("https://b2g.test/api/v1/graphql/schema", { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/plain/);
		const sdl = await res.text();
		expect(sdl).toContain("type Query {");
		expect(sdl).toMatch(/kpis\(\s[\s\S]*grain: KpisGrain[\s\S]*\): KpiResponse/);
		expect(sdl).toContain("type KpiPoint {");
		expect(sdl).toContain("scalar SafeInt");
		// Introspection gives the same types.
		const g = await gql(`{ __type(name: "KpiPoint") { fields { name type { kind name ofType { name } } } } }`);
		const fields = (g.body.data?.__type as { fields: { name: string }[] }).fields.map((f) => f.name);
		expect(fields).toEqual(["value", "compare", "delta", "delta_pct", "target", "progress", "partial", "elapsed", "reason"]);
		expect((await exports.default.fetch("https://b2g.test/api/v1/graphql/schema")).status).toBe(401);
	});

	it("documents the routes in the OpenAPI document under the GraphQL tag", async () => {
		const doc = (await rest("/api/v1/openapi.json")).body as { paths: Record<string, Record<string, { tags: string[] }>>; tags: { name: string }[] };
		expect(doc.tags.map((t) => t.name)).toContain("GraphQL");
		expect(doc.paths["/api/v1/graphql"]?.post?.tags).toEqual(["GraphQL"]);
		expect(doc.paths["/api/v1/graphql"]?.get?.tags).toEqual(["GraphQL"]);
		expect(doc.paths["/api/v1/graphql/schema"]?.get?.tags).toEqual(["GraphQL"]);
	});
});
