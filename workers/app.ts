/** The Hono app: one sub-app per feature, one error mapper. */
import { Hono } from "hono";
import { access, login } from "./auth/access-routes";
import { apiAccess } from "./auth/middleware";
import { admin } from "./auth/routes";
import { commerce } from "./commerce/routes";
import { hooks, webhookAdmin } from "./commerce/webhooks";
import { imports } from "./import/routes";
import { ingest } from "./ingest/routes";
import { ApiError } from "./lib/http";
import { metrics } from "./metrics/routes";
import { pipeline } from "./pipeline/routes";
import { realtime } from "./realtime/routes";

export const app = new Hono<{ Bindings: Env }>();

app.route("/", ingest);
app.route("/", login);
app.route("/hooks", hooks);
// Every /api/v1 request: principal (key or session), rate limit, audit row. Before any route.
app.use("/api/v1/*", apiAccess());
// Before `commerce`, whose /:entity pattern would also match POST /users and /logout.
app.route("/api/v1", access);
app.route("/api/v1", admin);
app.route("/api/v1", webhookAdmin);
app.route("/api/v1", realtime);
app.route("/api/v1", pipeline);
app.route("/api/v1", imports);
// Before commerce: its /:entity routes would otherwise claim /targets.
app.route("/api/v1", metrics);
app.route("/api/v1", commerce);

app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

app.onError((err, c) => {
	if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
	console.error("unhandled error", err);
	return c.json({ error: "internal_error", message: "something went wrong; the request can be retried" }, 500);
});
