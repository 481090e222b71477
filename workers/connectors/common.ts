/**
 * What the three connectors share: the plan a platform payload maps to (pure, no bindings), customer
 * identity, amounts and timestamps, JSON that keeps 64-bit ids exact, and HMAC verification.
 *
 * A mapper turns one verified delivery into a `Plan`: records in our public record formats (the same
 * `/api/v1/{entity}` records the upsert API, the import and the CSV backfill use, so they go through the
 * same `ENTITIES[…].parse`), version guards, and the few writes the record formats cannot express.
 */
import { currencyDigits } from "../lib/money";

export const PLATFORMS = ["shopify", "woocommerce", "stripe"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Entities a connector writes, by the record format of `/api/v1/{entity}`. */
export type ConnectorEntity = "orders" | "customers" | "products" | "refunds" | "inventory";
export type RecordValue = string | number | boolean | null | undefined | RecordValue[] | { [k: string]: RecordValue };
export interface MappedRecord {
	entity: ConnectorEntity;
	record: Record<string, RecordValue>;
}

/**
 * Writes outside the record formats (amounts already in minor units):
 *  - `customer_if_absent`: an order's buyer as an analytics row (created_at, country) only when the customer is new — an
 *    order must not move a known customer's created_at; personal data comes only from the customer topics.
 *  - `refund_first_seen`: a refund known without its own date (WooCommerce's order.refunds, Stripe's cumulative
 *    amount_refunded) keeps the date it was first seen; later deliveries update its amount only.
 *  - `subscription`: a Stripe customer's subscription status; created_at only ever moves earlier.
 *  - `inventory_item`: Shopify inventory item → SKU (from products/*).
 *  - `inventory_level`: stock at one location; the SKU's snapshot becomes the sum over its locations.
 */
export type CustomOp =
	| { kind: "customer_if_absent"; customer_id: string; created_at: number; country: string | null }
	| { kind: "refund_first_seen"; refund_id: string; order_id: string; created_at: number; amount_minor: number; currency: string; reason: string | null }
	| { kind: "subscription"; customer_id: string; created_at: number; status: "active" | "paused" | "cancelled" | "none" }
	| { kind: "inventory_item"; platform: Platform; item_id: string; sku: string }
	| { kind: "inventory_level"; platform: Platform; item_id: string; location_id: string; available: number; updated_at: number };

export interface Plan {
	/** What the delivery was, for the answer (`order shopify:450789469`). */
	subject: string;
	records: MappedRecord[];
	/** Platform versions (ms) of the objects written: an older one than stored ignores the whole delivery. */
	versions: { object: string; version: number }[];
	ops: CustomOp[];
}

export type Mapped = { plan: Plan } | { ignored: string };

export const ignored = (reason: string): Mapped => ({ ignored: reason });

/** A field of the payload that is missing or malformed: the route answers 400 naming `field`. */
export class PayloadError extends Error {
	constructor(
		readonly field: string,
		message: string,
	) {
		super(message);
	}
}

// ─── JSON ──────────────────────────────────────────────────────────────────────────────────────

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/**
 * JSON.parse that keeps integers beyond 2^53 exact as their digits (Shopify's documented ids such as
 * 820982911946154508 are 64-bit): with the reviver's `source` (V8, Node 21+), otherwise numbers as they parse.
 */
export function parseJson(text: string): unknown {
	const reviver: Reviver = (_key, value, context) => (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source) ? context.source : value);
	return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
}

/** An object field of a payload (`{}` when absent), for reading nested fields without casts. */
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined);

/** A platform id (number or string) as text, or a PayloadError naming `field`. */
export function idOf(v: unknown, field: string): string {
	const s = str(v);
	if (s === undefined || s.length > 100) throw new PayloadError(field, "missing or malformed id");
	return s;
}

// ─── time ──────────────────────────────────────────────────────────────────────────────────────

/**
 * An ISO 8601 date-time → epoch ms. Without an offset it is UTC (WooCommerce's `*_gmt` fields); Shopify's
 * CSV form `2024-01-15 10:23:45 -0500` is accepted too.
 */
export function isoMs(v: unknown, field: string): number {
	const s = str(v);
	if (s === undefined) throw new PayloadError(field, "missing date-time");
	const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
	const text = m ? `${m[1]}T${m[2]}${m[3] ? (m[3].toUpperCase() === "Z" ? "Z" : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`) : "Z"}` : /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : "";
	const ms = Date.parse(text);
	if (!Number.isFinite(ms) || ms < 0) throw new PayloadError(field, `not an ISO 8601 date-time: ${s.slice(0, 40)}`);
	return ms;
}
export const optionalIsoMs = (v: unknown, field: string): number | undefined => (str(v) === undefined ? undefined : isoMs(v, field));

/** Unix seconds (Stripe) → epoch ms. */
export function unixMs(v: unknown, field: string): number {
	if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new PayloadError(field, "must be unix seconds");
	return v * 1000;
}

// ─── money ─────────────────────────────────────────────────────────────────────────────────────

/** A decimal amount as the platform sent it ("409.94"), or a PayloadError. Validation against the currency happens in the entity. */
export function decimal(v: unknown, field: string): string {
	const s = typeof v === "number" ? String(v) : str(v);
	if (s === undefined || !/^-?\d+(\.\d+)?$/.test(s)) throw new PayloadError(field, "must be a decimal amount such as 19.99");
	return s;
}
export const optionalDecimal = (v: unknown, field: string): string | undefined => (str(v) === undefined ? undefined : decimal(v, field));

/** Integer minor units → a decimal string with the currency's digits (1999, EUR → "19.99"; 500, JPY → "500"). */
export function minorToDecimal(minor: number, digits: number): string {
	const sign = minor < 0 ? "-" : "";
	const abs = Math.abs(minor);
	if (digits === 0) return `${sign}${abs}`;
	const s = String(abs).padStart(digits + 1, "0");
	return `${sign}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** Exact decimal sum of amounts ("10.10" + "0.20" = "10.30"), in the currency's digits. */
export function sumDecimals(values: string[], currency: string): string {
	const digits = currencyDigits(currency);
	let total = 0n;
	for (const v of values) {
		const neg = v.startsWith("-");
		const [w = "0", f = ""] = v.replace(/^-/, "").split(".");
		const minor = BigInt(w) * 10n ** BigInt(digits) + BigInt((f + "0".repeat(digits)).slice(0, digits) || "0");
		total += neg ? -minor : minor;
	}
	return minorToDecimal(Number(total), digits);
}

/** An ISO 4217 code, upper-cased (Stripe sends `usd`). */
export function currencyCode(v: unknown, field: string): string {
	const s = str(v)?.toUpperCase();
	if (!s || !/^[A-Z]{3}$/.test(s)) throw new PayloadError(field, "must be an ISO 4217 currency code");
	return s;
}

// ─── identity ──────────────────────────────────────────────────────────────────────────────────

/** Lower-cased, trimmed e-mail: how it is compared and hashed. */
export const normalEmail = (email: string) => email.trim().toLowerCase();

/** `em_` + the first 24 hex digits (96 bits) of SHA-256 of the normalised e-mail. */
export async function emailCustomerId(email: string): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(normalEmail(email))));
	return `em_${[...digest.slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Our customer id for a store customer (README "Connectors", customer identity): the e-mail decides when
 * there is one (`em_<hash>`), so the CSV backfill (whose Shopify export has e-mails, no customer ids), the
 * webhooks and a guest's repeat checkouts name one person alike; else the platform's customer id
 * (`shopify:123`); else one guest per order (`shopify:guest:<order id>`).
 */
export async function customerId(prefix: string, email: string | undefined, platformId: string | undefined, orderId?: string): Promise<string> {
	if (email && email.includes("@")) return emailCustomerId(email);
	if (platformId && platformId !== "0") return `${prefix}:${platformId}`;
	if (orderId) return `${prefix}:guest:${orderId}`;
	throw new PayloadError("customer", "neither an e-mail nor a customer id");
}

/** An ISO 3166 alpha-2 code or undefined. */
export const countryCode = (v: unknown): string | undefined => {
	const s = str(v)?.toUpperCase();
	return s && /^[A-Z]{2}$/.test(s) ? s : undefined;
};

// ─── signatures ────────────────────────────────────────────────────────────────────────────────

async function hmacKey(secret: string): Promise<CryptoKey> {
	return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** HMAC-SHA256 of `data` under `secret`. */
export async function hmac(secret: string, data: Uint8Array | string): Promise<Uint8Array> {
	return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), typeof data === "string" ? new TextEncoder().encode(data) : data));
}

/** Constant-time check of a MAC (crypto.subtle.verify) over `data`. */
export async function verifyHmac(secret: string, data: Uint8Array | string, mac: Uint8Array): Promise<boolean> {
	return crypto.subtle.verify("HMAC", await hmacKey(secret), mac, typeof data === "string" ? new TextEncoder().encode(data) : data);
}

/** Strict base64 of exactly 32 bytes (a SHA-256 MAC) → bytes, else null. */
export function base64Mac(text: string): Uint8Array | null {
	if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return null;
	const bin = atob(text);
	return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** 64 hex digits → 32 bytes, else null. */
export function hexMac(text: string): Uint8Array | null {
	if (!/^[0-9a-f]{64}$/i.test(text)) return null;
	return new Uint8Array(text.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []);
}

export const toHex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
export const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
