/** The Hono app: one sub-app per feature, one error mapper, the OpenAPI document of them all. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { access, login } from "./auth/access-routes";
import { apiAccess } from "./auth/middleware";
import { admin } from "./auth/routes";
import { commerce } from "./commerce/routes";
import { hooks, webhookAdmin } from "./commerce/webhooks";
import { connectorAdmin, connectorHooks } from "./connectors/routes";
import { reference } from "./docs/routes";
import { imports } from "./import/routes";
import { ingest } from "./ingest/routes";
import { ApiError } from "./lib/http";
import { validationHook } from "./lib/openapi";
import { metrics } from "./metrics/routes";
import { alerts } from "./alerts/routes";
import { alertRuleRoutes } from "./alerts/rule-routes";
import { predictions } from "./analytics/predict-routes";
import { analytics } from "./analytics/routes";
import { customers } from "./customers/routes";
import { privacy } from "./privacy/routes";
import { funnels } from "./funnels/routes";
import { products } from "./products/routes";
import { pipeline } from "./pipeline/routes";
import { quality } from "./quality/routes";
import { realtime } from "./realtime/routes";
import { graphql } from "./graphql/routes";
import { reports } from "./reports/routes";
import { reportSubscriptionRoutes } from "./reports/subscription-routes";

const root = new OpenAPIHono<{ Bindings: Env }>({ defaultHook: validationHook });

// The API reference is public: registered before the /api/v1 middleware, which it then never reaches.
root.route("/", reference(() => app));
// Every other /api/v1 request: principal (key or session), rate limit, audit row. Before any route.
root.use("/api/v1/*", apiAccess());

/** Every route; `AppType` (its type) drives the typed client in workers/client.ts. */
export const app = root
	.route("/", ingest)
	.route("/", login)
	.route("/hooks", hooks)
	.route("/hooks", connectorHooks)
	.route("/api/v1", access)
	.route("/api/v1", admin)
	.route("/api/v1", webhookAdmin)
	.route("/api/v1", connectorAdmin)
	.route("/api/v1", realtime)
	.route("/api/v1", pipeline)
	.route("/api/v1", quality)
	.route("/api/v1", imports)
	.route("/api/v1", metrics)
	.route("/api/v1", alerts)
	.route("/api/v1", alertRuleRoutes)
	.route("/api/v1", funnels)
	.route("/api/v1", customers)
	.route("/api/v1", privacy)
	.route("/api/v1", products)
	.route("/api/v1", analytics)
	.route("/api/v1", predictions)
	.route("/api/v1", reportSubscriptionRoutes)
	.route("/api/v1", reports)
	// Before commerce: its POST /:entity{[a-z_]+} would otherwise take POST /graphql.
	.route("/api/v1", graphql)
	.route("/api/v1", commerce);

export type AppType = typeof app;

app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

const HTTP_CODES: Partial<Record<number, string>> = { 400: "invalid_request", 413: "body_too_large", 415: "unsupported_media_type" };

app.onError((err, c) => {
	if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
	// Hono's own refusals (a validator's media-type gate, a malformed body it parsed) in the API's error shape.
	if (err instanceof HTTPException && err.status < 500) return c.json({ error: HTTP_CODES[err.status] ?? "invalid_request", message: err.message || "the request was refused" }, err.status);
	console.error("unhandled error", err);
	return c.json({ error: "internal_error", message: "something went wrong; the request can be retried" }, 500);
});
