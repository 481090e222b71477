/**
 * The OpenAPI 3.1 document (`GET /api/v1/openapi.json`) and its HTML rendering (`GET /api/docs`): the
 * document is complete (every mounted route is in it, derived from the app's own route table, so a new
 * undocumented route fails here), well formed, and says what validation really does.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../workers/app";
import { GRAINS } from "../workers/metrics/calendar";
import { ADMIN_KEY, api } from "./helpers";

type Json = Record<string, unknown>;
interface Doc {
	openapi: string;
	info: { title: string; version: string };
	servers: { url: string }[];
	tags: { name: string }[];
	paths: Record<string, Record<string, Json>>;
	components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}
type ErrorJson = { error: string; message: string; fields?: { field: string; message: string }[] };

const METHODS = ["get", "put", "post", "patch", "delete"];
/** Operations that need no credentials: the reference itself, the tracker endpoint, the HMAC-signed webhook. */
const PUBLIC = ["get /api/v1/openapi.json", "get /api/docs", "post /e", "get /login"];
/** The connectors' webhooks: each verified by its platform's own signature header (workers/connectors/routes.ts). */
const CONNECTOR_SCHEMES: Record<string, string> = { "post /hooks/shopify": "shopifyHmac", "post /hooks/woocommerce": "wooSignature", "post /hooks/stripe": "stripeSignature" };

let doc: Doc;

beforeAll(async () => {
	const res = await exports.default.fetch("https://b2g.test/api/v1/openapi.json");
	expect(res.status).toBe(200);
	expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
	doc = (await res.json()) as Doc;
});

/** Hono's `/users/:id` or `/import/:job{[0-9a-f-]{36}}` as OpenAPI's `/users/{id}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:(\w+)(\{[^/]*\})?/g, "{$1}");

function operations(): { key: string; path: string; method: string; op: Json }[] {
	return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ key: `${method} ${path}`, path, method, op: item[method] as Json })));
}

/** Resolves a `#/components/schemas/X` reference. */
function resolve(schema: unknown): Json {
	const s = schema as Json;
	if (typeof s.$ref !== "string") return s;
	const target = doc.components.schemas[s.$ref.replace("#/components/schemas/", "")];
	expect(target, s.$ref).toBeDefined();
	return target as Json;
}

function errorBody(body: unknown): ErrorJson {
	const e = body as ErrorJson;
	expect(typeof e.error).toBe("string");
	expect(typeof e.message).toBe("string");
	for (const f of e.fields ?? []) expect(Object.keys(f).sort()).toEqual(["field", "message"]);
	return e;
}

describe("GET /api/v1/openapi.json", () => {
	it("is an OpenAPI 3.1 document with info, this server, tags and both credential schemes, readable without credentials", () => {
		expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
		expect(doc.info.title).toBe("Brain2Gain Analytics API");
		expect(doc.info.version).toBeTruthy();
		expect(doc.servers).toEqual([{ url: "https://b2g.test", description: "this Worker" }]);
		expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
		expect(doc.components.securitySchemes.session).toMatchObject({ type: "apiKey", in: "cookie", name: "b2g_session" });
		expect(doc.components.securitySchemes.webhookSignature).toMatchObject({ type: "apiKey", in: "header", name: "X-B2G-Signature" });
		expect(doc.components.schemas.Error).toMatchObject({ type: "object", required: ["error", "message"] });
	});

	it("documents every route the app mounts, and nothing it does not", () => {
		const mounted = new Set<string>();
		for (const r of app.routes) if (r.method !== "ALL" && r.method !== "OPTIONS") mounted.add(`${r.method.toLowerCase()} ${openApiPath(r.path)}`);
		const documented = new Set(operations().map((o) => o.key));
		expect([...mounted].filter((k) => k.includes(" /api/v1/")).length).toBeGreaterThanOrEqual(50);
		// /__dev/* is the soak benchmark's fault hook, not API: it answers 404 unless FAULT_INJECTION=1 (test/outbox.test.ts).
		expect([...mounted].filter((k) => !documented.has(k) && !k.includes(" /__dev/"))).toEqual([]);
		expect([...documented].filter((k) => !mounted.has(k))).toEqual([]);
		for (const k of ["post /e", "post /hooks/orders", "get /login", "get /api/docs", "put /api/v1/customers", "get /api/v1/kpis"]) expect(documented, k).toContain(k);
	});

	it("gives every operation a unique id, a known tag, a success response, the error body, and its credentials", () => {
		const tags = new Set(doc.tags.map((t) => t.name));
		const ids = new Set<string>();
		for (const { key, path, op } of operations()) {
			expect(typeof op.operationId, key).toBe("string");
			expect(ids.has(op.operationId as string), `${key}: duplicate operationId`).toBe(false);
			ids.add(op.operationId as string);
			expect(op.tags, key).toHaveLength(1);
			expect(tags.has((op.tags as string[])[0] as string), key).toBe(true);
			const responses = op.responses as Record<string, Json>;
			// A success: 2xx, the login link's redirect, or the live WebSocket's switch.
			expect(Object.keys(responses).some((s) => /^2\d\d$/.test(s) || (key === "get /login" && s === "303") || (key === "get /api/v1/live" && s === "101")), key).toBe(true);
			for (const [status, r] of Object.entries(responses)) {
				expect(typeof r.description, `${key} ${status}`).toBe("string");
				if (/^[45]/.test(status)) expect(r.content, `${key} ${status}`).toEqual({ "application/json": { schema: { $ref: "#/components/schemas/Error" } } });
			}
			const security = op.security as Record<string, string[]>[];
			if (PUBLIC.includes(key)) expect(security, key).toEqual([]);
			else if (key === "post /hooks/orders") expect(security).toEqual([{ webhookSignature: [] }]);
			else if (key in CONNECTOR_SCHEMES) expect(security, key).toEqual([{ [CONNECTOR_SCHEMES[key] as string]: [] }]);
			else if (key === "post /api/v1/logout") expect(security).toEqual([{ session: [] }]);
			else {
				expect(path.startsWith("/api/v1/"), key).toBe(true);
				// A bearer key or the session cookie, each with the route's scope (none: any principal).
				expect(security.map((s) => Object.keys(s)[0]), key).toEqual(["apiKey", "session"]);
				for (const s of security) for (const scopes of Object.values(s)) for (const scope of scopes) expect(["ingest", "read", "admin"], key).toContain(scope);
				expect(responses["401"], key).toBeDefined();
			}
		}
	});

	it("names the scope each route checks", () => {
		const scope = (key: string) => {
			const [method, path] = key.split(" ") as [string, string];
			return (doc.paths[path]?.[method]?.security as Record<string, string[]>[])[0]?.apiKey;
		};
		expect(scope("get /api/v1/kpis")).toEqual(["read"]);
		expect(scope("put /api/v1/customers")).toEqual(["ingest"]);
		expect(scope("post /api/v1/users")).toEqual(["admin"]);
		expect(scope("get /api/v1/me")).toEqual([]);
	});

	it("resolves every $ref", () => {
		const refs = new Set<string>();
		const walk = (v: unknown) => {
			if (Array.isArray(v)) v.forEach(walk);
			else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) k === "$ref" && typeof x === "string" ? refs.add(x) : walk(x);
		};
		walk(doc);
		expect(refs.size).toBeGreaterThan(10);
		for (const ref of refs) {
			expect(ref, ref).toMatch(/^#\/components\/schemas\/\w+$/);
			expect(doc.components.schemas[ref.split("/").at(-1) as string], ref).toBeDefined();
		}
	});

	it("is served fresh from the same app each time (cached per isolate)", async () => {
		const again = (await (await exports.default.fetch("https://other.test/api/v1/openapi.json")).json()) as Doc;
		expect(again.servers).toEqual([{ url: "https://other.test", description: "this Worker" }]);
		expect(Object.keys(again.paths)).toEqual(Object.keys(doc.paths));
	});
});

describe("the document says what validation does", () => {
	const query = (path: string, method: string) => new Map((doc.paths[path]?.[method]?.parameters as Json[]).map((p) => [p.name as string, p]));

	it("GET /api/v1/kpis: the documented query parameters are the accepted ones; an unknown KPI is a 400 naming ids", async () => {
		const params = query("/api/v1/kpis", "get");
		expect([...params.keys()].sort()).toEqual(["by", "compare", "format", "from", "grain", "ids", "site", "to"]);
		for (const p of params.values()) expect(p.in).toBe("query");
		expect((params.get("grain")?.schema as Json).enum).toEqual([...GRAINS]);
		for (const grain of GRAINS) expect((await api("GET", `/api/v1/kpis?site=demo&ids=orders&grain=${grain}&from=2026-01-01&to=2026-03-31`)).status, grain).toBe(200);
		const bad = await api("GET", "/api/v1/kpis?site=demo&ids=revenue,bogus");
		expect(bad.status).toBe(400);
		const e = errorBody(await bad.json());
		expect(e.error).toBe("invalid_request");
		expect(e.fields).toEqual([{ field: "ids", message: expect.stringContaining("unknown KPI bogus") }]);
		// The query is strict: an undocumented parameter is refused by name.
		expect(errorBody(await (await api("GET", "/api/v1/kpis?site=demo&colour=red")).json()).fields?.map((f) => f.field)).toEqual(["colour"]);
	});

	it("PUT /api/v1/customers: the body is one record or an array, and each documented required field is enforced by name", async () => {
		const body = (doc.paths["/api/v1/customers"]?.put?.requestBody as Json) ?? {};
		expect(body.required).toBe(true);
		const schema = ((body.content as Json)["application/json"] as Json).schema as Json;
		const [one, many] = schema.anyOf as Json[];
		expect(one).toEqual({ $ref: "#/components/schemas/CustomersRecord" });
		expect(many).toMatchObject({ type: "array", items: { $ref: "#/components/schemas/CustomersRecord" }, minItems: 1, maxItems: 500 });
		const record = resolve(one);
		expect(record.required).toEqual(["customer_id", "created_at"]);
		expect(Object.keys(record.properties as Json)).toEqual(["customer_id", "created_at", "email", "name", "country", "channel", "is_subscriber", "subscription_status"]);

		const valid: Json = { customer_id: "doc-1", created_at: "2026-11-20", email: "doc@example.com", country: "ES" };
		expect((await api("PUT", "/api/v1/customers?site=demo", valid)).status).toBe(200);
		for (const field of record.required as string[]) {
			const { [field]: _, ...missing } = valid;
			const res = await api("PUT", "/api/v1/customers?site=demo", missing);
			expect(res.status, field).toBe(400);
			const e = errorBody(await res.json());
			expect(e.error, field).toBe("invalid_records");
			expect(e.fields?.map((f) => f.field), field).toEqual([field]);
			// In an array the record's index leads the path.
			const inArray = errorBody(await (await api("PUT", "/api/v1/customers?site=demo", [valid, missing])).json());
			expect(inArray.fields?.map((f) => f.field), field).toEqual([`[1].${field}`]);
		}
		const badEmail = errorBody(await (await api("PUT", "/api/v1/customers?site=demo", { ...valid, email: "nope" })).json());
		expect(badEmail.fields?.map((f) => f.field)).toEqual(["email"]);
	});

	it("a JSON route refuses other content types (415), non-JSON (400 invalid_json) and oversized bodies (413) in the error shape", async () => {
		const empty = await api("PUT", "/api/v1/customers?site=demo", undefined);
		expect(empty.status).toBe(400);
		expect(errorBody(await empty.json()).error).toBe("invalid_json");
		const text = await exports.default.fetch("https://b2g.test/api/v1/customers?site=demo", {
			method: "PUT",
			headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "text/plain" },
			body: JSON.stringify({ customer_id: "doc-2", created_at: "2026-11-20" }),
		});
		expect(text.status).toBe(415);
		expect(errorBody(await text.json())).toMatchObject({ error: "unsupported_media_type", fields: [{ field: "Content-Type", message: "got text/plain" }] });
		const broken = await api("PUT", "/api/v1/customers?site=demo", "{nope");
		expect(broken.status).toBe(400);
		expect(errorBody(await broken.json())).toMatchObject({ error: "invalid_json", fields: [{ field: "body" }] });
		const huge = await api("POST", "/api/v1/users", { email: `${"x".repeat(20_000)}@example.com`, role: "analyst" });
		expect(huge.status).toBe(413);
		expect(errorBody(await huge.json()).error).toBe("body_too_large");
	});

	it("POST /api/v1/users: the documented closed object refuses unknown fields by name", async () => {
		const body = doc.paths["/api/v1/users"]?.post?.requestBody as Json;
		const schema = resolve(((body.content as Json)["application/json"] as Json).schema);
		expect(schema.additionalProperties).toBe(false);
		expect(schema.required).toEqual(["email", "role"]);
		expect((schema.properties as Record<string, Json>).role?.enum).toEqual(["admin", "executive", "analyst", "operations"]);
		const res = await api("POST", "/api/v1/users", { email: "doc-extra@example.com", role: "analyst", nickname: "x" });
		expect(res.status).toBe(400);
		expect(errorBody(await res.json()).fields).toEqual([{ field: "nickname", message: "unknown field" }]);
	});

	it("an unknown value of an enumerated path parameter is a 404 naming it", async () => {
		const entity = (doc.paths["/api/v1/import/{entity}"]?.post?.parameters as Json[]).find((p) => p.name === "entity");
		expect(entity).toMatchObject({ in: "path", required: true });
		expect((entity?.schema as Json).enum).toContain("events");
		const res = await exports.default.fetch("https://b2g.test/api/v1/import/widgets?site=demo&format=csv", {
			method: "POST",
			headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "text/csv" },
			body: "a\n1\n",
		});
		expect(res.status).toBe(404);
		expect(errorBody(await res.json())).toMatchObject({ error: "not_found", fields: [{ field: "entity" }] });
	});
});

describe("GET /api/docs", () => {
	it("is one self-contained HTML page listing every operation with its method, path and credentials", async () => {
		const res = await exports.default.fetch("https://b2g.test/api/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await res.text();
		// Offline: no scripts, no external styles, fonts or images.
		expect(html).not.toMatch(/<script/i);
		expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
		for (const { method, path, op } of operations()) {
			expect(html, `${method} ${path}`).toContain(`id="${op.operationId as string}"`);
			expect(html, `${method} ${path}`).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
		}
		for (const tag of doc.tags) expect(html).toContain(`>${tag.name}</h2>`);
		expect(html).toContain("API key (Bearer) with scope <code>ingest</code>");
		expect(html).toContain("dashboard session (cookie <code>b2g_session</code>)");
		expect(html).toContain("Public: no credentials.");
		// Field tables: a record's fields, required ones marked.
		expect(html).toMatch(/id="schema-CustomersRecord"[\s\S]*?<code>customer_id<\/code> <span class="req">required<\/span>/);
	});
});
