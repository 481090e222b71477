/**
 * Signed order webhooks: POST /hooks/orders with
 *   X-B2G-Site: <site id>
 *   X-B2G-Timestamp: <unix seconds>
 *   X-B2G-Signature: sha256=<hex HMAC-SHA256(site webhook secret, "<timestamp>.<raw body>")>
 * and a body of one order record or an array (the /api/v1/orders format). Timestamps more than
 * 5 minutes off are refused; a delivery whose signature was already accepted is refused as a replay
 * (409), so a captured request cannot roll an order back. The comparison is crypto.subtle.verify,
 * which is constant-time.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { parseJson, readText } from "../lib/body";
import { ApiError, SITE_ID } from "../lib/http";
import { apiErrors, error, errors, json, openApiApp, secured, siteQuery, WEBHOOK_SIGNATURE } from "../lib/openapi";
import { findSite } from "../lib/sites";
import { ENTITIES } from "./entities";
import { bodyToWrites, MAX_RECORDS, recordSchemaName } from "./routes";
import { changedRecords, toStatements } from "./store";

export const REPLAY_WINDOW_S = 300;
const MAX_BODY = 1_000_000;

function unauthorized(message: string, field: string): ApiError {
	return new ApiError(401, "invalid_signature", message, [{ field, message }]);
}

function hexToBytes(hex: string): Uint8Array | null {
	if (!/^[0-9a-f]{64}$/i.test(hex)) return null;
	return new Uint8Array(hex.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []);
}

function bytesToHex(bytes: Uint8Array): string {
	return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function hmacKey(secret: string): Promise<CryptoKey> {
	return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** `sha256=<hex>` for a timestamp and body: what a sender puts in X-B2G-Signature. */
export async function signWebhook(secret: string, timestamp: number, body: string): Promise<string> {
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(`${timestamp}.${body}`)));
	return `sha256=${bytesToHex(mac)}`;
}

const header = (name: string, description: string) => ({ name, in: "header" as const, required: true, description, schema: { type: "string" as const } });

// Documented, not validated by the route: the signature covers the raw bytes, so it is verified first
// and the body parsed after it, by the same `orders` schema the upsert route declares.
const ordersRef = { $ref: `#/components/schemas/${recordSchemaName("orders")}` };

const ordersWebhook = createRoute({
	method: "post",
	path: "/orders",
	operationId: "orderWebhook",
	tags: ["Commerce data"],
	summary: "Signed order webhook",
	description:
		"The store pushes orders as they change, signed with the site's webhook secret (`POST /api/v1/webhooks/secret`). " +
		"The signature is checked first, on the raw bytes; then the body is validated against the `orders` record schema " +
		`(one record or an array of up to ${MAX_RECORDS}; 400 names each field). Timestamps more than ${REPLAY_WINDOW_S / 60} minutes off are refused (401); ` +
		"a delivery whose signature was already accepted is refused (409), so a captured request cannot roll an order back.",
	security: [{ [WEBHOOK_SIGNATURE]: [] }],
	parameters: [
		header("X-B2G-Site", "the site id"),
		header("X-B2G-Timestamp", "unix seconds when the delivery was signed"),
		header("X-B2G-Signature", "`sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<raw body>\")>`"),
	],
	request: {
		body: {
			required: true,
			description: `one ${recordSchemaName("orders")} or an array of them (the raw bytes are what the signature covers)`,
			content: { "application/json": { schema: { anyOf: [ordersRef, { type: "array", items: ordersRef, minItems: 1, maxItems: MAX_RECORDS }] } } },
		},
	},
	responses: {
		200: json(z.object({ site: z.string(), received: z.number().int(), rows_changed: z.number().int().describe("records inserted or changed (an order and its lines are one record; 0 when the same order is sent again)") }), "stored"),
		...errors(400, 413),
		401: error(`\`invalid_signature\`: unknown site or no secret, a timestamp more than ${REPLAY_WINDOW_S} s off, or a signature that does not match`),
		409: error("`replayed`: this delivery was already accepted"),
	},
});

export const hooks = openApiApp().openapi(ordersWebhook, async (c) => {
	const siteId = c.req.header("X-B2G-Site") ?? "";
	if (!SITE_ID.test(siteId)) throw new ApiError(400, "invalid_request", "X-B2G-Site header is missing or malformed", [{ field: "X-B2G-Site", message: "required" }]);
	const site = await findSite(c.env.DB, siteId);
	const row = site ? await c.env.DB.prepare("SELECT webhook_secret AS s FROM sites WHERE id = ?").bind(site.id).first<{ s: string | null }>() : null;
	if (!site || !row?.s) throw unauthorized("unknown site, or no webhook secret configured for it", "X-B2G-Site");

	const tsHeader = c.req.header("X-B2G-Timestamp") ?? "";
	const ts = /^\d{1,12}$/.test(tsHeader) ? Number(tsHeader) : Number.NaN;
	if (!Number.isFinite(ts)) throw unauthorized("X-B2G-Timestamp must be unix seconds", "X-B2G-Timestamp");
	if (Math.abs(Date.now() / 1000 - ts) > REPLAY_WINDOW_S) throw unauthorized(`timestamp is more than ${REPLAY_WINDOW_S} s from now`, "X-B2G-Timestamp");

	const sigHeader = c.req.header("X-B2G-Signature") ?? "";
	const sig = hexToBytes(sigHeader.replace(/^sha256=/, ""));
	if (!sig) throw unauthorized("X-B2G-Signature must be sha256=<64 hex chars>", "X-B2G-Signature");
	const raw = await readText(c.req.raw, MAX_BODY);
	const valid = await crypto.subtle.verify("HMAC", await hmacKey(row.s), sig, new TextEncoder().encode(`${ts}.${raw}`));
	if (!valid) throw unauthorized("signature does not match", "X-B2G-Signature");
	// The replay record is keyed on the verified MAC bytes, not on the header text: the header accepts
	// spellings (with or without `sha256=`, any hex case) that all verify, and each must count as the same delivery.
	const replayKey = bytesToHex(sig);

	const body = parseJson(raw);
	const now = Date.now();
	const { records, writes, recordOf } = bodyToWrites(ENTITIES.orders, body, { site: site.id, currency: site.currency, now });
	// The delivery record and the writes commit together: a replay fails the whole batch, and a failed
	// write leaves no delivery record, so the sender's retry is accepted.
	const recordDelivery = c.env.DB.prepare("INSERT INTO webhook_deliveries (site, signature, received_at) VALUES (?, ?, ?)").bind(site.id, replayKey, now);
	try {
		const planned = toStatements(c.env.DB, writes);
		const results = await c.env.DB.batch([recordDelivery, ...planned.statements]);
		return c.json({ site: site.id, received: records, rows_changed: changedRecords(writes, planned, results.slice(1), recordOf) }, 200);
	} catch (err) {
		if (err instanceof Error && /UNIQUE constraint failed: webhook_deliveries/.test(err.message)) {
			throw new ApiError(409, "replayed", "this delivery was already accepted", [{ field: "X-B2G-Signature", message: "already used" }]);
		}
		throw err;
	}
});

const rotateSecret = createRoute({
	method: "post",
	path: "/webhooks/secret",
	operationId: "rotateWebhookSecret",
	tags: ["Commerce data"],
	summary: "Rotate the webhook secret",
	description: "Makes a new webhook secret for the site and returns it (shown once); the old one stops working at once.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { query: siteQuery },
	responses: {
		201: json(z.object({ site: z.string(), secret: z.string().describe("64 hex characters"), signature: z.string().describe("how to sign a delivery") }), "the new secret"),
		...apiErrors(404),
	},
});

/** Rotates the site's webhook secret and returns it (shown once). */
export const webhookAdmin = openApiApp<AuthVars>().openapi(rotateSecret, async (c) => {
	const secret = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
	await c.env.DB.prepare("UPDATE sites SET webhook_secret = ? WHERE id = ?").bind(secret, c.var.site.id).run();
	return c.json({ site: c.var.site.id, secret, signature: "X-B2G-Signature: sha256=hex(HMAC-SHA256(secret, `${X-B2G-Timestamp}.${raw body}`))" }, 201);
});

/** Deletes delivery records older than twice the replay window (cron). */
export async function pruneDeliveries(db: D1Database, now: number): Promise<number> {
	const res = await db.prepare("DELETE FROM webhook_deliveries WHERE received_at < ?").bind(now - 2 * REPLAY_WINDOW_S * 1000).run();
	return res.meta.changes ?? 0;
}
