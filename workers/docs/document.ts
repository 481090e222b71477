/**
 * The OpenAPI 3.1 document of the whole Worker, generated from the route declarations (the zod
 * schemas that also validate the requests), plus what only the document needs: info, tags and the
 * security schemes.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { BEARER, SESSION, WEBHOOK_SIGNATURE } from "../lib/openapi";

/** What documenting an app needs from it (any OpenAPIHono app has these, whatever its routes). */
export type DocumentSource = Pick<OpenAPIHono, "openAPIRegistry" | "getOpenAPI31Document">;
export type OpenApiDocument = ReturnType<DocumentSource["getOpenAPI31Document"]>;

/** Tags in reading order; every operation carries one. */
export const TAGS = [
	{ name: "Events", description: "`POST /e`: the tracker's endpoint and the server-side event API (no credentials)." },
	{ name: "Real time", description: "Live windows, top pages and products, live funnels, fulfilment and stock; the WebSocket push; per-minute anomalies." },
	{ name: "Pipeline", description: "Reconciliation (accepted = stored = archived) and the dead-letter park." },
	{ name: "Data quality", description: "Daily reconciliation (events accepted = stored = archived, orders = KPI rollups) and the data-quality rules on commerce records: issues recorded, never fixed." },
	{ name: "Commerce data", description: "Idempotent upserts of the store's own records, and the signed order webhook." },
	{ name: "Connectors", description: "Shopify, WooCommerce and Stripe webhooks (each platform's own signature, per site), and connecting a platform to a site." },
	{ name: "Bulk import", description: "Files of any size, streamed to R2 and imported in the background." },
	{ name: "KPIs", description: "The metric catalogue, KPI values with comparison and breakdowns, targets." },
	{ name: "Alerts", description: "Alert rules (the architecture document's four and your own), incidents firing/resolved, notification deliveries." },
	{ name: "Funnels", description: "Ordered funnels with a conversion window: definitions and historical reports." },
	{ name: "Customers", description: "The Customers page: segments of the customers who ordered in a range, the customer list, profiles (PII by role), entry pages and conversion paths." },
	{ name: "Privacy", description: "GDPR erasure and export of a customer (down to the R2 archive), and the rotation of the key that encrypts personal data at rest." },
	{ name: "Analytics", description: "The nightly analytics runs (jobs) and their results: RFM segments and movement, cohorts, market basket rules, bundles and seasonality, customer lifetime value." },
	{ name: "Predictions", description: "Models trained nightly and what they serve: the model registry, churn risk per customer, recommendations, next best actions; forecasts of any KPI and the month-end projection." },
	{ name: "GraphQL", description: "The read API as one GraphQL schema: one Query field per GET operation of the tags above, answered by that REST route with the caller's key or session (same numbers, same role refusals); the SDL; the explorer page at /graphql." },
	{ name: "Reports", description: "Executive, product, daily and financial reports: on demand, archived, and scheduled to email, Slack or a signed webhook (subscriptions and their sends)." },
	{ name: "Products", description: "Catalogue performance (sales, margin, conversion, returns, stock, days of cover) and the product deep dive." },
	{ name: "Sites and keys", description: "Sites and API keys." },
	{ name: "Users and audit", description: "Dashboard users (passwordless login links), the current principal, the audit log." },
	{ name: "Reference", description: "This document and its HTML rendering." },
];

const SECURITY_SCHEMES = {
	[BEARER]: {
		type: "http",
		scheme: "bearer",
		description:
			"An API key, `Authorization: Bearer b2g_<id>_<secret>` (`npm run key -- create` or `POST /api/v1/keys`). Scopes: `ingest`, `read`, `admin` (admin implies the others); " +
			"an operation lists the scope it needs. A site-bound key acts on its own site; an account-wide key names it with `?site=`.",
	},
	[SESSION]: {
		type: "apiKey",
		in: "cookie",
		name: "b2g_session",
		description:
			"A dashboard session, started by a one-time login link (`GET /login?token=`). Roles map to scopes: admin → admin, read, ingest; executive, analyst, operations → read. " +
			"Users are account-wide (they name the site with `?site=`); writes must come from the Worker's own origin.",
	},
	[WEBHOOK_SIGNATURE]: {
		type: "apiKey",
		in: "header",
		name: "X-B2G-Signature",
		description: "`sha256=<hex HMAC-SHA256(webhook secret, \"<X-B2G-Timestamp>.<raw body>\")>`, with `X-B2G-Site` and `X-B2G-Timestamp` (unix seconds, ±5 minutes).",
	},
	// The connectors' platform signatures (workers/connectors/routes.ts), each under the site's secret for that platform.
	shopifyHmac: { type: "apiKey", in: "header", name: "X-Shopify-Hmac-Sha256", description: "base64 HMAC-SHA256(the site's Shopify secret, raw body)." },
	wooSignature: { type: "apiKey", in: "header", name: "X-WC-Webhook-Signature", description: "base64 HMAC-SHA256(the site's WooCommerce secret, raw body)." },
	stripeSignature: { type: "apiKey", in: "header", name: "Stripe-Signature", description: "`t=<unix s>,v1=<hex HMAC-SHA256(the site's Stripe secret, \"<t>.<raw body>\")>`, t within 5 minutes." },
} as const;

const prepared = new WeakSet<DocumentSource>();
const documents = new WeakMap<DocumentSource, OpenApiDocument>();

/** The document of `app` (generated once per isolate), with `origin` as its server. */
export function apiDocument(app: DocumentSource, origin: string): OpenApiDocument {
	let doc = documents.get(app);
	if (!doc) {
		if (!prepared.has(app)) {
			for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
			prepared.add(app);
		}
		doc = app.getOpenAPI31Document({
			openapi: "3.1.0",
			info: {
				title: "Brain2Gain Analytics API",
				version: "1",
				description:
					"Edge-first e-commerce analytics on Cloudflare Workers. Every JSON error is `{\"error\": \"code\", \"message\": \"…\", \"fields\": [{\"field\": \"events[3].ts\", \"message\": \"…\"}]}`; " +
					"`fields` names each offending field (`[1].order_id` is the second record of an array body). Every `/api/v1` request is rate limited per key or user (429 with `Retry-After`) and audited.",
			},
			tags: TAGS,
		});
		documents.set(app, doc);
	}
	return { ...doc, servers: [{ url: origin, description: "this Worker" }] };
}
