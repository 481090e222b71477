/** The Hono app: one sub-app per feature, one error mapper. */
import { Hono } from "hono";
import { admin } from "./auth/routes";
import { commerce } from "./commerce/routes";
import { hooks, webhookAdmin } from "./commerce/webhooks";
import { imports } from "./import/routes";
import { ingest } from "./ingest/routes";
import { ApiError } from "./lib/http";
import { pipeline } from "./pipeline/routes";
import { realtime } from "./realtime/routes";

export const app = new Hono<{ Bindings: Env }>();

app.route("/", ingest);
app.route("/hooks", hooks);
app.route("/api/v1", admin);
app.route("/api/v1", webhookAdmin);
app.route("/api/v1", realtime);
app.route("/api/v1", pipeline);
app.route("/api/v1", imports);
app.route("/api/v1", commerce);

app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

app.onError((err, c) => {
	if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
	console.error("unhandled error", err);
	return c.json({ error: "internal_error", message: "something went wrong; the request can be retried" }, 500);
});
