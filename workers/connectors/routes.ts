/**
 * Connector routes: `POST /hooks/shopify|woocommerce|stripe?site=` (each platform's own signature, on the
 * raw bytes, before anything is parsed) and the admin routes that connect a platform to a site
 * (`/api/v1/sites/{id}/connectors…`). Answers a platform can act on: 2xx for stored, repeated, stale and
 * unsupported deliveries (so it stops retrying), 401 for a bad signature, 400 for a payload we cannot map,
 * 413 for a body over the cap (refused from Content-Length before reading, and while streaming).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireAccountKey, siteFor, type AuthVars } from "../auth/middleware";
import { readBytes, readJson } from "../lib/body";
import { ApiError, SITE_ID } from "../lib/http";
import { apiErrors, error, errors, json, jsonBody, openApiApp, secured } from "../lib/openapi";
import { findSite, type Site } from "../lib/sites";
import { applyPlan, type Outcome } from "./apply";
import { base64Mac, hexMac, hmac, parseJson, PayloadError, PLATFORMS, toHex, verifyHmac, type Mapped, type Platform } from "./common";
import { connectorSecret, deleteConnectorSecret, listConnectors, newSecret, putConnectorSecret, secretHint } from "./secrets";
import { mapShopify, SHOPIFY_TOPICS } from "./shopify";
import { mapStripe, STRIPE_EVENTS, stripeEventId } from "./stripe";
import { mapWoo, WOO_TOPICS } from "./woocommerce";

/** Largest body accepted: a Shopify order with hundreds of lines is ~300 KB. */
export const MAX_HOOK_BODY = 1_000_000;
/** Stripe's default tolerance for `t=`, either way. */
export const STRIPE_TOLERANCE_S = 300;

export const SIGNATURE_SCHEMES = { shopify: "shopifyHmac", woocommerce: "wooSignature", stripe: "stripeSignature" } as const satisfies Record<Platform, string>;
const LABEL: Record<Platform, string> = { shopify: "Shopify", woocommerce: "WooCommerce", stripe: "Stripe" };

const unauthorized = (message: string, field: string) => new ApiError(401, "invalid_signature", message, [{ field, message }]);

function decodeJson(bytes: Uint8Array): unknown {
	let text: string;
	try {
		text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
	} catch {
		throw new ApiError(400, "invalid_encoding", "the body is not valid UTF-8", [{ field: "body", message: "invalid UTF-8" }]);
	}
	try {
		return parseJson(text);
	} catch (err) {
		throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ field: "body", message: err instanceof Error ? err.message : "invalid JSON" }]);
	}
}

/** The site named by `?site=` and its secret for `platform`; 401 when either is missing (nothing is revealed about which). */
async function siteAndSecret(db: D1Database, id: string, platform: Platform): Promise<{ site: Site; secret: string }> {
	const site = SITE_ID.test(id) ? await findSite(db, id) : null;
	const secret = site ? await connectorSecret(db, site.id, platform) : null;
	if (!site || !secret) throw unauthorized(`unknown site, or ${LABEL[platform]} is not connected to it (PUT /api/v1/sites/{id}/connectors/${platform})`, "site");
	return { site, secret };
}

async function mapOrFail(map: () => Promise<Mapped>): Promise<Mapped> {
	try {
		return await map();
	} catch (err) {
		if (err instanceof PayloadError) throw new ApiError(400, "invalid_payload", `the payload cannot be mapped: ${err.field} ${err.message}`, [{ field: err.field, message: err.message }]);
		throw err;
	}
}

/** The answer body of a verified delivery. */
function answer(platform: Platform, site: string, topic: string, outcome: Outcome) {
	if (outcome.status === "stored") {
		const { status: _status, notes, ...rest } = outcome;
		return { platform, site, topic, status: "stored" as const, ...rest, ...(notes.length ? { notes } : {}) };
	}
	return { platform, site, topic, status: outcome.status, ignored: outcome.status === "ignored", duplicate: outcome.status === "duplicate", reason: outcome.reason };
}

async function run(db: D1Database, platform: Platform, site: Site, topic: string, replayKeys: string[], map: () => Promise<Mapped>) {
	const mapped = await mapOrFail(map);
	if ("ignored" in mapped) return answer(platform, site.id, topic, { status: "ignored", reason: mapped.ignored });
	return answer(platform, site.id, topic, await applyPlan(db, site, platform, replayKeys, mapped.plan));
}

// ─── documentation ─────────────────────────────────────────────────────────────────────────────

const HookAnswer = z
	.object({
		platform: z.enum(PLATFORMS),
		site: z.string(),
		topic: z.string().describe("the platform's topic or event type"),
		status: z.enum(["stored", "duplicate", "ignored"]).describe("`duplicate`: this delivery was already applied; `ignored`: unsupported topic, a test order, or an update older than the stored one (`reason` says)"),
		subject: z.string().optional().describe("what was written, e.g. `order shopify:450789469`"),
		received: z.number().int().optional().describe("records mapped from the payload"),
		rows_changed: z.number().int().optional().describe("records inserted or changed (0 when the same content arrives again)"),
		notes: z.array(z.string()).optional(),
		ignored: z.boolean().optional(),
		duplicate: z.boolean().optional(),
		reason: z.string().optional(),
	})
	.openapi("ConnectorDelivery");

const hookQuery = z.object({ site: z.string().regex(SITE_ID).describe("the site the platform is connected to") });
const header = (name: string, description: string, required = true) => ({ name, in: "header" as const, required, description, schema: { type: "string" as const } });

function hookRoute(platform: Platform, operationId: string, description: string, parameters: ReturnType<typeof header>[]) {
	return createRoute({
		method: "post",
		path: `/${platform}`,
		operationId,
		tags: ["Connectors"],
		summary: `${LABEL[platform]} webhook`,
		description,
		security: [{ [SIGNATURE_SCHEMES[platform]]: [] }],
		parameters,
		request: {
			query: hookQuery,
			body: { required: true, description: `the ${LABEL[platform]} payload, as sent (the signature covers the raw bytes)`, content: { "application/json": { schema: { type: "object" as const } } } },
		},
		responses: {
			200: json(HookAnswer, "stored, repeated, stale or unsupported: nothing to retry"),
			...errors(400, 413),
			401: error("`invalid_signature`: unknown site or platform not connected, a signature that does not match, or (Stripe) a timestamp more than 5 minutes off"),
		},
	});
}

const shopifyRoute = hookRoute(
	"shopify",
	"shopifyWebhook",
	`Shopify topics ${SHOPIFY_TOPICS.join(", ")}. Verified with \`X-Shopify-Hmac-Sha256\` (base64 HMAC-SHA256 of the raw body under the secret set with PUT /api/v1/sites/{id}/connectors/shopify). ` +
		"A repeat (same body, or same `X-Shopify-Webhook-Id`) and an update older than the stored one (`updated_at`) change nothing. Field mapping: README, Connectors.",
	[header("X-Shopify-Hmac-Sha256", "base64 HMAC-SHA256(secret, raw body)"), header("X-Shopify-Topic", "e.g. `orders/create`"), header("X-Shopify-Webhook-Id", "the delivery's id (a retry repeats it)", false)],
);
const wooRoute = hookRoute(
	"woocommerce",
	"woocommerceWebhook",
	`WooCommerce topics ${WOO_TOPICS.join(", ")}. Verified with \`X-WC-Webhook-Signature\` (base64 HMAC-SHA256 of the raw body). ` +
		"The unsigned ping Woo sends when a webhook is saved (`webhook_id=<id>`, form-encoded) is answered 200. An update older than the stored one (`date_modified_gmt`) changes nothing.",
	[header("X-WC-Webhook-Signature", "base64 HMAC-SHA256(secret, raw body)"), header("X-WC-Webhook-Topic", "e.g. `order.updated`")],
);
const stripeRoute = hookRoute(
	"stripe",
	"stripeWebhook",
	`Stripe events ${STRIPE_EVENTS.join(", ")}. Verified with \`Stripe-Signature\` (\`t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>\`, any of several v1; t within ${STRIPE_TOLERANCE_S / 60} minutes). ` +
		"A repeat of an event id changes nothing. invoice.paid and one-off charge.succeeded are orders (subscription invoices feed MRR), charge.refunded refunds, customer.subscription.* the customer's subscription status.",
	[header("Stripe-Signature", "`t=…,v1=…`")],
);

// ─── hooks ─────────────────────────────────────────────────────────────────────────────────────

export const connectorHooks = openApiApp()
	.openapi(shopifyRoute, async (c) => {
		const { site, secret } = await siteAndSecret(c.env.DB, c.req.valid("query").site, "shopify");
		const mac = base64Mac((c.req.header("X-Shopify-Hmac-Sha256") ?? "").trim());
		if (!mac) throw unauthorized("X-Shopify-Hmac-Sha256 must be the base64 of a 32-byte HMAC-SHA256", "X-Shopify-Hmac-Sha256");
		const bytes = await readBytes(c.req.raw, MAX_HOOK_BODY);
		if (!(await verifyHmac(secret, bytes, mac))) throw unauthorized("signature does not match", "X-Shopify-Hmac-Sha256");
		const topic = c.req.header("X-Shopify-Topic") ?? "";
		if (!/^[a-z_]+\/[a-z_]+$/.test(topic)) throw new ApiError(400, "invalid_request", "X-Shopify-Topic is missing or malformed", [{ field: "X-Shopify-Topic", message: "e.g. orders/create" }]);
		const body = decodeJson(bytes);
		const webhookId = c.req.header("X-Shopify-Webhook-Id");
		// The verified MAC is the canonical form (base64 spellings that decode alike are one delivery); the webhook id
		// catches Shopify's retries as such even though the header is not signed (a forged one can only drop a copy of an authentic body).
		const keys = [`shopify:${toHex(mac)}`, ...(webhookId && /^[\w-]{1,100}$/.test(webhookId) ? [`shopify-webhook:${webhookId}`] : [])];
		return c.json(await run(c.env.DB, "shopify", site, topic, keys, () => mapShopify(topic, body)), 200);
	})
	.openapi(wooRoute, async (c) => {
		const signature = c.req.header("X-WC-Webhook-Signature");
		if (signature === undefined) {
			// Woo's ping when a webhook is saved: unsigned, form-encoded, nothing to store.
			const bytes = await readBytes(c.req.raw, 1_000);
			const ping = /^webhook_id=(\d{1,20})$/.exec(new TextDecoder().decode(bytes).trim());
			const site = await findSite(c.env.DB, c.req.valid("query").site);
			if (ping && site) return c.json({ platform: "woocommerce" as const, site: site.id, topic: "ping", status: "ignored" as const, ignored: true, reason: `ping of webhook ${ping[1]}: nothing to store` }, 200);
			throw unauthorized("X-WC-Webhook-Signature is missing", "X-WC-Webhook-Signature");
		}
		const { site, secret } = await siteAndSecret(c.env.DB, c.req.valid("query").site, "woocommerce");
		const mac = base64Mac(signature.trim());
		if (!mac) throw unauthorized("X-WC-Webhook-Signature must be the base64 of a 32-byte HMAC-SHA256", "X-WC-Webhook-Signature");
		const bytes = await readBytes(c.req.raw, MAX_HOOK_BODY);
		if (!(await verifyHmac(secret, bytes, mac))) throw unauthorized("signature does not match", "X-WC-Webhook-Signature");
		const topic = c.req.header("X-WC-Webhook-Topic") ?? "";
		if (!/^[a-z_]+\.[a-z_]+$/.test(topic)) throw new ApiError(400, "invalid_request", "X-WC-Webhook-Topic is missing or malformed", [{ field: "X-WC-Webhook-Topic", message: "e.g. order.created" }]);
		const body = decodeJson(bytes);
		return c.json(await run(c.env.DB, "woocommerce", site, topic, [`woocommerce:${toHex(mac)}`], () => mapWoo(topic, body)), 200);
	})
	.openapi(stripeRoute, async (c) => {
		const { site, secret } = await siteAndSecret(c.env.DB, c.req.valid("query").site, "stripe");
		const parts = (c.req.header("Stripe-Signature") ?? "").split(",").map((p) => p.trim().split("="));
		const t = parts.find(([k]) => k === "t")?.[1] ?? "";
		const v1 = parts.filter(([k, v]) => k === "v1" && v !== undefined).map(([, v]) => hexMac(v ?? ""));
		if (!/^\d{1,12}$/.test(t) || !v1.length || v1.some((m) => m === null)) throw unauthorized("Stripe-Signature must be t=<unix seconds>,v1=<64 hex digits>[,v1=…]", "Stripe-Signature");
		const bytes = await readBytes(c.req.raw, MAX_HOOK_BODY);
		const signed = new Uint8Array([...new TextEncoder().encode(`${t}.`), ...bytes]);
		let valid = false;
		// Stripe lists one v1 per active secret while a secret is rolled: any one matching is enough.
		for (const m of v1) if (m && (await verifyHmac(secret, signed, m))) valid = true;
		if (!valid) throw unauthorized("no v1 signature matches", "Stripe-Signature");
		const age = Math.round(Date.now() / 1000 - Number(t));
		if (Math.abs(age) > STRIPE_TOLERANCE_S) throw unauthorized(`timestamp t=${t} (${new Date(Number(t) * 1000).toISOString()}) is ${Math.abs(age)} s ${age > 0 ? "old" : "in the future"}; the tolerance is ${STRIPE_TOLERANCE_S} s`, "Stripe-Signature.t");
		const body = decodeJson(bytes);
		let eventId: string;
		try {
			eventId = stripeEventId(body);
		} catch (err) {
			if (err instanceof PayloadError) throw new ApiError(400, "invalid_payload", `${err.field} ${err.message}`, [{ field: err.field, message: err.message }]);
			throw err;
		}
		const type = typeof (body as { type?: unknown }).type === "string" ? (body as { type: string }).type : "";
		return c.json(await run(c.env.DB, "stripe", site, type, [`stripe:${eventId}`], () => mapStripe(body)), 200);
	});

/** `t=…,v1=…` for a body: what Stripe puts in Stripe-Signature (tests, and anyone replaying a fixture). */
export async function signStripe(secret: string, t: number, body: string): Promise<string> {
	return `t=${t},v1=${toHex(await hmac(secret, `${t}.${body}`))}`;
}

// ─── admin ─────────────────────────────────────────────────────────────────────────────────────

const pathParams = z.object({ id: z.string().regex(SITE_ID).describe("the site id"), platform: z.enum(PLATFORMS) });
const sitePath = z.object({ id: z.string().regex(SITE_ID).describe("the site id") });

const Connector = z
	.object({
		platform: z.enum(PLATFORMS),
		webhook_url: z.string().describe("where the platform sends its webhooks"),
		secret_hint: z.string().describe("the secret's last 4 characters"),
		created_at: z.number().int().describe("when the secret was set (epoch ms)"),
	})
	.openapi("Connector");

const SIGNATURE_HOWTO: Record<Platform, string> = {
	shopify: "X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(secret, raw body)); subscribe the topics in Shopify admin or with the Admin API webhookSubscriptionCreate",
	woocommerce: "X-WC-Webhook-Signature: base64(HMAC-SHA256(secret, raw body)); WooCommerce → Settings → Advanced → Webhooks, paste this secret",
	stripe: "Stripe-Signature: t=<unix s>,v1=hex(HMAC-SHA256(secret, `${t}.${raw body}`)); Stripe Dashboard → Developers → Webhooks, paste the endpoint's signing secret here",
};

const hookUrl = (c: Context, platform: Platform, site: string) => `${new URL(c.req.url).origin}/hooks/${platform}?site=${encodeURIComponent(site)}`;

const listRoute = createRoute({
	method: "get",
	path: "/sites/{id}/connectors",
	operationId: "listConnectors",
	tags: ["Connectors"],
	summary: "Connected platforms",
	description: "The platforms connected to a site, with their webhook URLs; the secrets are never shown again (only their last 4 characters).",
	security: secured("admin"),
	middleware: [requireAccountKey("admin")],
	request: { params: sitePath },
	responses: { 200: json(z.object({ site: z.string(), connectors: z.array(Connector), platforms: z.array(z.enum(PLATFORMS)).describe("every platform that can be connected") }), "the site's connectors"), ...apiErrors(404) },
});

const putRoute = createRoute({
	method: "put",
	path: "/sites/{id}/connectors/{platform}",
	operationId: "putConnector",
	tags: ["Connectors"],
	summary: "Connect a platform (set or rotate its secret)",
	description:
		"Sets the platform's webhook secret for the site; the previous one stops verifying at once. Shopify and Stripe issue the secret (send it as `secret`); " +
		"for WooCommerce leave `secret` out to get a new random one, shown once in the answer.",
	security: secured("admin"),
	middleware: [requireAccountKey("admin"), readJson(10_000)],
	request: { params: pathParams, body: jsonBody(z.object({ secret: z.string().trim().min(16).max(256).optional().describe("the platform's signing secret (Shopify, Stripe: required)") }).strict(), "the secret, or `{}` (WooCommerce) to make one") },
	responses: {
		200: json(Connector.extend({ site: z.string(), secret: z.string().optional().describe("the new secret, only when it was made here: shown once"), signature: z.string().describe("how deliveries are signed and where to set them up") }), "connected"),
		...apiErrors(404, 413, 415),
	},
});

const deleteRoute = createRoute({
	method: "delete",
	path: "/sites/{id}/connectors/{platform}",
	operationId: "deleteConnector",
	tags: ["Connectors"],
	summary: "Disconnect a platform",
	description: "Deletes the platform's secret: its deliveries are refused (401) from now on. Data already stored stays.",
	security: secured("admin"),
	middleware: [requireAccountKey("admin")],
	request: { params: pathParams },
	responses: { 200: json(z.object({ site: z.string(), platform: z.enum(PLATFORMS), deleted: z.boolean().describe("false when it was not connected") }), "disconnected"), ...apiErrors(404) },
});

export const connectorAdmin = openApiApp<AuthVars>()
	.openapi(listRoute, async (c) => {
		const site = await siteFor(c.var.key, c.req.valid("param").id, c.env.DB);
		const rows = await listConnectors(c.env.DB, site.id);
		return c.json({ site: site.id, connectors: rows.map((r) => ({ platform: r.platform, webhook_url: hookUrl(c, r.platform, site.id), secret_hint: secretHint(r.secret), created_at: r.created_at })), platforms: [...PLATFORMS] }, 200);
	})
	.openapi(putRoute, async (c) => {
		const { id, platform } = c.req.valid("param");
		const site = await siteFor(c.var.key, id, c.env.DB);
		const given = c.req.valid("json").secret;
		if (given === undefined && platform !== "woocommerce") {
			throw new ApiError(400, "invalid_request", `${LABEL[platform]} issues the signing secret: send it as \`secret\``, [{ field: "secret", message: "required" }]);
		}
		const secret = given ?? newSecret();
		const now = Date.now();
		await putConnectorSecret(c.env.DB, site.id, platform, secret, now);
		return c.json(
			{ site: site.id, platform, webhook_url: hookUrl(c, platform, site.id), secret_hint: secretHint(secret), created_at: now, ...(given === undefined ? { secret } : {}), signature: SIGNATURE_HOWTO[platform] },
			200,
		);
	})
	.openapi(deleteRoute, async (c) => {
		const { id, platform } = c.req.valid("param");
		const site = await siteFor(c.var.key, id, c.env.DB);
		return c.json({ site: site.id, platform, deleted: await deleteConnectorSecret(c.env.DB, site.id, platform) }, 200);
	});
