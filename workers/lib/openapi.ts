/**
 * OpenAPI plumbing shared by every feature's routes. A route is declared once with `createRoute`: its
 * zod schemas validate the request (query, path, JSON body) and also produce the OpenAPI 3.1 document
 * (`GET /api/v1/openapi.json`, workers/docs/). Validation failures become the API's one error shape
 * `{ error, message, fields: [{ field, message }] }`, naming each offending field.
 */
import { OpenAPIHono, z, type Hook } from "@hono/zod-openapi";
import type { Context, Env as HonoEnv } from "hono";
import type { Scope } from "../auth/keys";
import { ApiError, SITE_ID } from "./http";
import { toFields } from "./validation";

/** The error body of every 4xx/5xx answer. */
export const ErrorSchema = z
	.object({
		error: z.string().describe("machine-readable code, e.g. `invalid_request`, `forbidden`, `rate_limited`"),
		message: z.string().describe("what went wrong, for people"),
		fields: z
			.array(
				z.object({
					field: z.string().describe("the offending field: a body path such as `events[3].ts` or `[1].order_id` (the second record of an array), a query or path parameter, or a header"),
					message: z.string(),
				}),
			)
			.optional(),
	})
	.openapi("Error");

const MESSAGES: Record<string, string> = {
	json: "the request body is invalid",
	query: "the query is invalid",
	header: "a request header is invalid",
	cookie: "a cookie is invalid",
	form: "the form is invalid",
};

/** What a route's validator hands its hook: the target (`json`, `query`, `param`, …) and zod's verdict. */
export type ValidationResult = Parameters<Hook<unknown, HonoEnv, string, undefined>>[0];

/**
 * The default hook of every OpenAPIHono app: a zod failure becomes 400 `invalid_request` naming each
 * field; a path parameter that fails its schema (an unknown entity, a malformed id) is a 404.
 */
export function validationHook<E extends HonoEnv>(result: ValidationResult, c: Context<E>): undefined {
	if (result.success) return undefined;
	const fields = toFields(result.error);
	if (result.target === "param") {
		const name = fields[0]?.field ?? "path";
		throw new ApiError(404, "not_found", `no ${name} '${c.req.param(name) ?? ""}'`, fields);
	}
	throw new ApiError(400, "invalid_request", MESSAGES[result.target] ?? "the request is invalid", fields);
}

/** A feature's sub-app: Hono with OpenAPI route declarations and the shared validation hook. */
export function openApiApp<V extends object = object>() {
	return new OpenAPIHono<{ Bindings: Env; Variables: V }>({ defaultHook: validationHook });
}

// ─── requests ────────────────────────────────────────────────────────────────────────────────────

/** A required JSON request body validated by `schema` (the route's middleware ends with `readJson()`, lib/body.ts). */
export function jsonBody<S extends z.ZodType>(schema: S, description: string) {
	return { required: true, description, content: { "application/json": { schema } } } as const;
}

/** `?site=`: which site the call acts on. */
export const siteParam = z
	.string()
	.regex(SITE_ID)
	.optional()
	.describe("the site to act on: required for account-wide keys and dashboard users; a site-bound key may omit it (or must name its own)");

/** The query of a route whose only parameter is the site. */
export const siteQuery = z.object({ site: siteParam });

/** A whole number in a query string, from `min` to `max`. */
export function intParam(min: number, max: number) {
	const message = `must be a whole number from ${min} to ${max}`;
	return z
		.string()
		.regex(/^\d{1,15}$/, message)
		.transform(Number)
		.pipe(z.number().int().min(min, message).max(max, message));
}

/**
 * One record or a non-empty array of up to `max` (validated per record; an error in the second
 * record is named `[1].field`).
 */
export function oneOrMany<S extends z.ZodType>(record: S, max: number) {
	return z.union([record, z.array(record).min(1).max(max)]);
}

// ─── responses ───────────────────────────────────────────────────────────────────────────────────

/** A JSON response. */
export function json<S extends z.ZodType>(schema: S, description: string) {
	return { description, content: { "application/json": { schema } } } as const;
}

const ERROR_TEXT = {
	400: "invalid input: `fields` names each offending field",
	401: "no credentials, or invalid ones (`WWW-Authenticate: Bearer`)",
	403: "the key or role lacks the scope, or the key belongs to another site",
	404: "unknown site or resource",
	409: "conflicts with the current state",
	410: "expired or already used",
	413: "the body or the batch is too large",
	415: "unsupported Content-Type",
	426: "this route is a WebSocket: send `Upgrade: websocket`",
	429: "over the rate limit: retry after `Retry-After` seconds",
} as const;

export type ErrorStatus = keyof typeof ERROR_TEXT;

/** One error response with its own description. */
export function error(description: string) {
	return { description, content: { "application/json": { schema: ErrorSchema } } } as const;
}

/** Error responses, all with the Error body. */
export function errors<const S extends readonly ErrorStatus[]>(...statuses: S): { [K in S[number]]: { description: string; content: { "application/json": { schema: typeof ErrorSchema } } } } {
	return Object.fromEntries(statuses.map((s) => [s, { description: ERROR_TEXT[s], content: { "application/json": { schema: ErrorSchema } } }])) as {
		[K in S[number]]: { description: string; content: { "application/json": { schema: typeof ErrorSchema } } };
	};
}

/** The errors every authenticated /api/v1 route can answer, plus `extra`. */
export function apiErrors<const S extends readonly ErrorStatus[]>(...extra: S) {
	return errors(400, 401, 403, 429, ...extra);
}

// ─── security ────────────────────────────────────────────────────────────────────────────────────

/** Security scheme names in the document (workers/docs/document.ts declares them). */
export const BEARER = "apiKey";
export const SESSION = "session";
export const WEBHOOK_SIGNATURE = "webhookSignature";

/**
 * A route that needs credentials: a bearer API key or the dashboard session cookie. OpenAPI 3.1 lets a
 * non-OAuth requirement list roles; here they are the key scope the route checks (none: any principal).
 */
export function secured(scope?: Scope): Record<string, string[]>[] {
	const roles = scope ? [scope] : [];
	return [{ [BEARER]: roles }, { [SESSION]: roles }];
}
