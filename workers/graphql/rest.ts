/**
 * The REST routes GraphQL answers from, called in-process. Each top-level GraphQL field is one GET of
 * one of these routes with the caller's own principal carried over, so an answer, a role refusal and a
 * validation error are the REST route's by construction — there is no second implementation to drift.
 *
 * The caller was authenticated (and rate limited, and audited) once by `apiAccess` on the outer
 * /api/v1/graphql request; the inner calls skip that middleware and start from its principal.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ExecutionContext as HonoExecutionContext } from "hono";
import { alerts } from "../alerts/routes";
import { alertRuleRoutes } from "../alerts/rule-routes";
import { predictions } from "../analytics/predict-routes";
import { analytics } from "../analytics/routes";
import type { AuthVars } from "../auth/middleware";
import { customers } from "../customers/routes";
import { funnels } from "../funnels/routes";
import { ApiError } from "../lib/http";
import { validationHook } from "../lib/openapi";
import { metrics } from "../metrics/routes";
import { products } from "../products/routes";

export type RestApp = OpenAPIHono<{ Bindings: Env; Variables: AuthVars }>;

/** Who an in-process request acts for, by its Request object (Hono's `app.fetch` keeps it as `c.req.raw`). */
const callers = new WeakMap<Request, Pick<AuthVars, "key" | "principal">>();

/** The feature sub-apps GraphQL exposes (their GET operations), mounted as in workers/app.ts. */
let built: RestApp | undefined;
// Built on first use, not at import: feature modules import each other (alerts → reports → analytics),
// so a route object may not exist yet while this module is evaluated.
export function restApp(): RestApp {
	if (built) return built;
	const app: RestApp = new OpenAPIHono({ defaultHook: validationHook });
	app.use("*", async (c, next) => {
		const outer = callers.get(c.req.raw);
		// Only requests made by `restGet` reach this app; anything else has no principal to act for.
		if (!outer) throw new ApiError(401, "unauthorized", "no caller for an in-process request");
		c.set("key", outer.key);
		c.set("principal", outer.principal);
		await next();
	});
	app
		.route("/api/v1", metrics)
		.route("/api/v1", alerts)
		.route("/api/v1", alertRuleRoutes)
		.route("/api/v1", funnels)
		.route("/api/v1", customers)
		.route("/api/v1", products)
		.route("/api/v1", analytics)
		.route("/api/v1", predictions);
	// The same mapping as workers/app.ts onError, so a refusal reads exactly as REST's.
	app.onError((err, c) => {
		if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
		console.error("unhandled error (graphql → REST)", err);
		return c.json({ error: "internal_error", message: "something went wrong; the request can be retried" }, 500);
	});
	built = app;
	return app;
}

/** A REST answer: the status and the parsed JSON body (the API's error shape on a 4xx). */
export interface RestAnswer {
	status: number;
	body: unknown;
	headers: Headers;
}

/**
 * GET `path` (with its query) in-process as `caller`. `origin`, the credential headers and Cache-Control
 * are the outer request's, so the KPI edge cache (keyed by URL and credentials) treats it as REST would.
 */
export async function restGet(env: Env, ctx: HonoExecutionContext, caller: Pick<AuthVars, "key" | "principal">, url: string, credentials: Headers): Promise<RestAnswer> {
	const headers = new Headers({ Accept: "application/json" });
	// Cache-Control too: `no-cache` skips the KPI edge cache for GraphQL as it does for REST.
	for (const name of ["Authorization", "Cookie", "Cache-Control"]) {
		const v = credentials.get(name);
		if (v !== null) headers.set(name, v);
	}
	const req = new Request(url, { headers });
	callers.set(req, caller);
	const res = await restApp().fetch(req, env, ctx);
	const text = await res.text();
	let body: unknown = null;
	try {
		body = text === "" ? null : JSON.parse(text);
	} catch {
		body = { error: "internal_error", message: "the route answered something other than JSON" };
	}
	return { status: res.status, body, headers: res.headers };
}
