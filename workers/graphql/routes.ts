/**
 * GraphQL over the read API: `POST /api/v1/graphql` (and `GET` with `?query=`), `GET /api/v1/graphql/schema`
 * (SDL). The schema is generated from the REST routes' OpenAPI document (schema.ts) and every top-level
 * field is answered by its REST route in-process with the caller's key or session (rest.ts), so answers,
 * role refusals and argument errors are REST's own.
 *
 * Access: these routes sit behind `apiAccess` like every /api/v1 route (401 without credentials, the
 * per-principal rate limit, the audit row). A query of N top-level fields makes N REST calls, so it
 * takes N rate-limit tokens: the middleware takes the first, this route the other N − 1 before running.
 *
 * HTTP status: 400 when the query cannot run (syntax, validation, bad variables, depth or complexity:
 * `errors` with `extensions.code`); otherwise 200 with `data` and any field `errors` — except when every
 * top-level field failed with the same status (all 403, say), which is then the answer's status, as
 * REST's would be. A 4xx body also carries the API's error shape (`error`, `message`, `fields`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, ExecutionContext as HonoExecutionContext } from "hono";
import {
	GraphQLError,
	Kind,
	parse,
	printSchema,
	specifiedRules,
	validate,
	visit,
	type DocumentNode,
	type ExecutionResult,
	type FragmentDefinitionNode,
	type GraphQLFormattedError,
	type OperationDefinitionNode,
	execute,
} from "graphql";
import { requirePrincipal, type AuthVars } from "../auth/middleware";
import { rateLimitConfig } from "../auth/rate-limit";
import { readJson } from "../lib/body";
import { ApiError } from "../lib/http";
import { apiErrors, json, jsonBody, openApiApp, secured } from "../lib/openapi";
import { checkLimits, depthOf, depthRefusal, MAX_DEPTH, measure } from "./limits";
import { restApp, restGet } from "./rest";
import { buildSchema, type BuiltSchema, type RestOperation } from "./schema";

const MAX_QUERY_CHARS = 100_000;

/** What each resolver needs: who asks, with which credentials, and the bindings. */
interface GraphQLContext {
	env: Env;
	ctx: HonoExecutionContext;
	caller: Pick<AuthVars, "key" | "principal">;
	credentials: Headers;
	origin: string;
}

const CODES: Record<number, string> = { 400: "BAD_USER_INPUT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 429: "RATE_LIMITED" };

/** The REST GET behind one field: its URL from the arguments, its body, or its error as a GraphQL error. */
async function callRest(op: RestOperation, args: Record<string, unknown>, context: unknown): Promise<unknown> {
	const c = context as GraphQLContext;
	let path = op.path;
	for (const name of op.pathParams) path = path.replace(`{${name}}`, encodeURIComponent(String(args[name])));
	const qs = new URLSearchParams();
	for (const name of op.queryParams) {
		const v = args[name];
		if (v !== undefined && v !== null) qs.set(name, String(v));
	}
	const search = qs.size ? `?${qs}` : "";
	const answer = await restGet(c.env, c.ctx, c.caller, `${c.origin}${path}${search}`, c.credentials);
	if (answer.status === 200) return answer.body;
	const body = (answer.body ?? {}) as { error?: string; message?: string; fields?: { field: string; message: string }[] };
	const fields = body.fields ?? [];
	const detail = fields.length ? ` (${fields.map((f) => `${f.field}: ${f.message}`).join("; ")})` : "";
	throw new GraphQLError(`${body.message ?? `status ${answer.status}`}${detail}`, {
		extensions: {
			code: CODES[answer.status] ?? (answer.status >= 500 ? "INTERNAL_SERVER_ERROR" : `HTTP_${answer.status}`),
			status: answer.status,
			error: body.error ?? "error",
			...(fields.length ? { fields, arguments: fields.map((f) => f.field).filter((f) => (op.queryParams as string[]).concat(op.pathParams).includes(f)) } : {}),
		},
	});
}

let built: BuiltSchema | undefined;
/** The schema, built once per isolate from the REST routes' document. */
export function graphqlSchema(): BuiltSchema {
	if (!built) built = buildSchema(restApp().getOpenAPI31Document({ openapi: "3.1.0", info: { title: "graphql source", version: "1" } }), callRest);
	return built;
}

let sdl: string | undefined;
/** The schema as SDL (printSchema of the introspected types). */
export function graphqlSdl(): string {
	sdl ??= printSchema(graphqlSchema().schema);
	return sdl;
}

function requestError(message: string, code: string, extra: Record<string, unknown> = {}): GraphQLError {
	return new GraphQLError(message, { extensions: { code, ...extra } });
}

/** The argument an error's location falls in (`grain` for `grain: hour`), to name it in the message. */
function argumentAt(document: DocumentNode, err: GraphQLError): string | null {
	const at = err.nodes?.[0]?.loc?.start;
	if (at === undefined) return null;
	let found: string | null = null;
	visit(document, {
		Argument(node) {
			if (node.loc && node.loc.start <= at && at < node.loc.end) found = node.name.value;
		},
	});
	return found;
}

type Outcome = { status: number; body: ExecutionResult | { errors: GraphQLFormattedError[] } };

function refused(errors: GraphQLError[]): Outcome {
	return { status: 400, body: { errors: errors.map((e) => e.toJSON()) } };
}

/** The outer request: its bindings, its principal (set by apiAccess) and its headers and URL. */
interface Caller {
	env: Env;
	executionCtx: HonoExecutionContext;
	vars: AuthVars;
	request: Request;
}

/** Parses, limits, validates and runs one GraphQL request. */
async function run(c: Caller, source: string, variables: Record<string, unknown>, operationName: string | undefined, method: string): Promise<Outcome> {
	const { schema } = graphqlSchema();
	let document: DocumentNode;
	try {
		document = parse(source);
	} catch (err) {
		if (err instanceof GraphQLError) return refused([new GraphQLError(err.message, { source: err.source, positions: err.positions, extensions: { code: "GRAPHQL_PARSE_FAILED" } })]);
		throw err;
	}
	const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
	const operation = operationName === undefined ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === operationName);
	if (!operation) {
		const message = operationName === undefined ? "the document has several operations (or none): name one with operationName" : `no operation named '${operationName}'`;
		return refused([requestError(message, "BAD_REQUEST", { argument: "operationName" })]);
	}
	const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
	// Depth first, before validation: a deeply nested document is refused without further work.
	const depth = depthOf(operation, fragments);
	const deep = depthRefusal(depth);
	if (deep) return refused([requestError(deep, "DEPTH_LIMIT", { depth, limit: MAX_DEPTH })]);
	const invalid = validate(schema, document, specifiedRules);
	if (invalid.length) {
		return refused(
			invalid.map((e) => {
				const arg = argumentAt(document, e);
				return new GraphQLError(arg ? `argument "${arg}": ${e.message}` : e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code: "GRAPHQL_VALIDATION_FAILED", ...(arg ? { argument: arg } : {}) } });
			}),
		);
	}
	if (method === "GET" && operation.operation !== "query") return refused([requestError("GET runs queries only; send other operations with POST", "BAD_REQUEST")]);
	const verdict = checkLimits(measure(schema, operation, fragments, variables));
	if (!verdict.ok) return refused([requestError(verdict.message, verdict.code, { depth: verdict.measure.depth, complexity: verdict.measure.complexity, rootFields: verdict.measure.rootFields })]);

	await takeExtraTokens(c.env, c.vars.principal, verdict.measure.rootFields - 1);

	const context: GraphQLContext = { env: c.env, ctx: c.executionCtx, caller: { key: c.vars.key, principal: c.vars.principal }, credentials: c.request.headers, origin: new URL(c.request.url).origin };
	const result = await execute({ schema, document, variableValues: variables, operationName: operation.name?.value, contextValue: context });
	const errors = result.errors ?? [];
	// No data at all: the request failed before execution (variables that do not fit their types).
	if (result.data === undefined) return refused(errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code: "BAD_USER_INPUT", ...e.extensions } })));
	const data = result.data as Record<string, unknown> | null;
	const nothing = !data || Object.values(data).every((v) => v === null);
	const statuses = new Set(errors.map((e) => (typeof e.extensions?.status === "number" ? e.extensions.status : 500)));
	const status = errors.length && nothing && statuses.size === 1 ? [...statuses][0]! : 200;
	return { status, body: result };
}

/** Tokens for the REST calls after the first (the middleware took one for the request). */
async function takeExtraTokens(env: Env, principal: AuthVars["principal"], n: number): Promise<void> {
	if (n <= 0) return;
	const { limit, periodMs } = rateLimitConfig(env);
	// The name apiAccess (auth/middleware.ts) uses: the same bucket as the principal's REST calls.
	const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`${principal.kind}:${principal.id}`));
	for (let i = 0; i < n; i++) {
		let decision: { allowed: boolean; retryAfterMs: number };
		try {
			decision = await stub.take(limit, periodMs);
		} catch {
			// As in apiAccess: a limiter failure lets the request through.
			return;
		}
		if (!decision.allowed) {
			const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
			throw new ApiError(429, "rate_limited", `too many requests: this query makes ${n + 1} REST calls and the budget is ${limit} per ${periodMs / 1000} s; retry in ${seconds} s`, undefined, { "Retry-After": String(seconds) });
		}
	}
}

// ─── routes ──────────────────────────────────────────────────────────────────────────────────────

const ResultSchema = z
	.object({
		data: z.record(z.string(), z.unknown()).nullable().optional().describe("one key per top-level field (or alias); null for a field that failed"),
		errors: z
			.array(
				z.object({
					message: z.string(),
					locations: z.array(z.object({ line: z.number().int(), column: z.number().int() })).optional(),
					path: z.array(z.union([z.string(), z.number().int()])).optional(),
					extensions: z
						.object({ code: z.string().describe("GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, DEPTH_LIMIT, COMPLEXITY_LIMIT, BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, …") })
						.catchall(z.unknown())
						.optional()
						.describe("`code`; for a field the REST route refused, also its `status`, `error` and `fields`"),
				}),
			)
			.optional(),
	})
	.openapi("GraphQLResult");

const requestSchema = z.strictObject({
	query: z.string("must be a GraphQL document as a string").min(1, "must not be empty").max(MAX_QUERY_CHARS, `at most ${MAX_QUERY_CHARS} characters`),
	variables: z.record(z.string(), z.unknown(), "must be an object of variable values").nullable().optional(),
	operationName: z.string("must be a string").nullable().optional(),
	extensions: z.record(z.string(), z.unknown()).nullable().optional(),
});

const getQuery = z.strictObject({
	query: z.string().min(1, "must not be empty").max(MAX_QUERY_CHARS, `at most ${MAX_QUERY_CHARS} characters`).describe("the GraphQL document (queries only)"),
	variables: z
		.string()
		.optional()
		.describe("JSON object of variable values")
		.transform((s, ctx) => {
			if (s === undefined || s === "") return undefined;
			try {
				const v: unknown = JSON.parse(s);
				if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
			} catch {
				// reported below
			}
			ctx.addIssue({ code: "custom", message: "must be a JSON object" });
			return z.NEVER;
		}),
	operationName: z.string().optional(),
});

const DESCRIPTION =
	"The read API as one GraphQL schema (GET /api/v1/graphql/schema prints it): one Query field per REST GET operation of KPIs, customers, segments, cohorts, funnels, products, alerts, " +
	"the nightly analytics and the predictions, named by its operationId, with the operation's parameters as arguments and its JSON answer as type. " +
	"Each field is answered by its REST route with the caller's own key or session: the same numbers, the same role refusals (`extensions.code` FORBIDDEN, `status` 403), the same argument errors. " +
	"Limits: depth ≤ 8 (DEPTH_LIMIT), ≤ 20 top-level fields and complexity ≤ 20,000 (COMPLEXITY_LIMIT), both 400. A query of N top-level fields takes N tokens of the rate limit.";

const postRoute = createRoute({
	method: "post",
	path: "/graphql",
	operationId: "graphql",
	tags: ["GraphQL"],
	summary: "GraphQL query",
	description: DESCRIPTION,
	security: secured(),
	middleware: [requirePrincipal(), readJson(MAX_QUERY_CHARS * 2)],
	request: { body: jsonBody(requestSchema, "`{query, variables?, operationName?}` (GraphQL over HTTP)") },
	// A 4xx body is the API's Error (`error`, `message`, `fields` naming the argument) plus the GraphQL `errors` and `data`.
	responses: { 200: json(ResultSchema, "the result: `data`, and `errors` for fields that failed"), ...apiErrors(404, 413, 415) },
});

const getRoute = createRoute({
	method: "get",
	path: "/graphql",
	operationId: "graphqlGet",
	tags: ["GraphQL"],
	summary: "GraphQL query (GET)",
	description: `${DESCRIPTION} GET runs queries only; the query and variables are in the URL.`,
	security: secured(),
	middleware: [requirePrincipal()],
	request: { query: getQuery },
	responses: { 200: json(ResultSchema, "the result"), ...apiErrors(404) },
});

const schemaRoute = createRoute({
	method: "get",
	path: "/graphql/schema",
	operationId: "graphqlSchema",
	tags: ["GraphQL"],
	summary: "GraphQL schema (SDL)",
	description: "The GraphQL schema in SDL, printed from the schema the endpoint executes (the same as introspection gives).",
	security: secured(),
	middleware: [requirePrincipal()],
	responses: { 200: { description: "the SDL", content: { "text/plain": { schema: z.string() } } }, ...errors401And429() },
});

function errors401And429() {
	const { 401: unauthorized, 429: limited } = apiErrors();
	return { 401: unauthorized, 429: limited };
}

const ERROR_CODES: Record<string, string> = { GRAPHQL_PARSE_FAILED: "invalid_query", GRAPHQL_VALIDATION_FAILED: "invalid_query", BAD_REQUEST: "invalid_request", DEPTH_LIMIT: "depth_limit", COMPLEXITY_LIMIT: "complexity_limit" };

/**
 * The HTTP answer. A 4xx also carries the API's error shape beside `errors` (and `data`): `error` (REST's
 * code, or invalid_query, depth_limit, complexity_limit), the first error's `message`, and `fields` naming
 * each argument at fault (`query` when none is), so a client of the REST errors reads it the same way.
 */
function answer(out: Outcome): { status: number; body: z.infer<typeof ResultSchema> } {
	if (out.status < 400) return { status: out.status, body: out.body as z.infer<typeof ResultSchema> };
	const errors = out.body.errors ?? [];
	const first = errors[0];
	const ext = (first?.extensions ?? {}) as { code?: string; error?: string; fields?: { field: string; message: string }[]; argument?: string };
	const fields = errors.flatMap((e) => {
		const x = (e.extensions ?? {}) as { fields?: { field: string; message: string }[]; argument?: string };
		if (x.fields) return x.fields;
		return [{ field: x.argument ?? "query", message: e.message }];
	});
	const body = { error: ext.error ?? ERROR_CODES[ext.code ?? ""] ?? "invalid_request", message: first?.message ?? "the query failed", fields, ...out.body };
	return { status: out.status, body: body as z.infer<typeof ResultSchema> };
}

function callerOf(c: Context<{ Bindings: Env; Variables: AuthVars }>): Caller {
	return { env: c.env, executionCtx: c.executionCtx, vars: { key: c.var.key, principal: c.var.principal, site: c.var.site }, request: c.req.raw };
}

export const graphql = openApiApp<AuthVars>()
	.openapi(postRoute, async (c) => {
		const body = c.req.valid("json");
		const out = answer(await run(callerOf(c), body.query, body.variables ?? {}, body.operationName ?? undefined, "POST"));
		return c.json(out.body, out.status as 200);
	})
	.openapi(getRoute, async (c) => {
		const q = c.req.valid("query");
		const out = answer(await run(callerOf(c), q.query, q.variables ?? {}, q.operationName, "GET"));
		return c.json(out.body, out.status as 200);
	})
	.openapi(schemaRoute, (c) => c.text(graphqlSdl(), 200, { "Cache-Control": "private, max-age=300" }));
