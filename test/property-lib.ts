/**
 * Shared pieces of the property-based tests (test/property-*.test.ts, fast-check): the fixed seed, the
 * error-contract check every 4xx must pass, hostile values, and an independent model of the commerce
 * records (which fields each entity has, what a field accepts and how it is stored) written from the
 * API's documentation, not from its code — it is the oracle the properties compare the API with.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { expect } from "vitest";

/** One seed for every property file, logged so a failure can be replayed (`fc.assert` prints it too). */
export const SEED = 20_261_203;

/**
 * Configures fast-check for one file: the fixed seed and a wall-time cap per property, so the whole
 * property suite stays around a minute in CI however slow the machine (a capped run is not a failure).
 */
export function configureProperties(file: string, numRuns: number, capMs = 15_000): void {
	fc.configureGlobal({ seed: SEED, numRuns, interruptAfterTimeLimit: capMs, markInterruptAsFailure: false });
	console.log(`${file}: fast-check seed ${SEED}, numRuns ${numRuns}, ≤ ${capMs} ms per property`);
}

export interface Answer {
	status: number;
	body: Record<string, unknown>;
	text: string;
}

/** Field paths named by an error body. */
export function namedFields(body: Record<string, unknown>): string[] {
	const fields = body.fields;
	return Array.isArray(fields) ? fields.map((f) => String((f as { field?: unknown }).field)) : [];
}

/**
 * The contract every answer keeps: never a 5xx; a 4xx is JSON `{ error, message, fields? }`, and one
 * caused by the input (400, 404, 409, 413, 415) names the offending field(s) in `fields`.
 */
export async function answer(res: Response, what: string): Promise<Answer> {
	const text = await res.text();
	if (res.status >= 500) throw new Error(`${what}: ${res.status} ${text.slice(0, 300)}`);
	let body: Record<string, unknown> = {};
	if (res.status >= 400 || (res.headers.get("Content-Type") ?? "").includes("json")) {
		if (!(res.headers.get("Content-Type") ?? "").includes("application/json")) throw new Error(`${what}: ${res.status} answered ${res.headers.get("Content-Type")}, not JSON: ${text.slice(0, 200)}`);
		body = JSON.parse(text) as Record<string, unknown>;
	}
	if (res.status >= 400) {
		if (typeof body.error !== "string" || !body.error || typeof body.message !== "string") throw new Error(`${what}: ${res.status} without error/message: ${text.slice(0, 300)}`);
		if ([400, 404, 409, 413, 415].includes(res.status)) {
			const fields = body.fields;
			if (!Array.isArray(fields) || !fields.length || !fields.every((f) => typeof f?.field === "string" && f.field && typeof f?.message === "string")) {
				throw new Error(`${what}: ${res.status} does not name a field: ${text.slice(0, 300)}`);
			}
		}
	}
	return { status: res.status, body, text };
}

/** Asserts that the error names `field` (exactly, or a path inside it such as `total` inside `[2]`). */
export function expectNamed(a: Answer, field: string, what: string): void {
	const fields = namedFields(a.body);
	const ok = fields.some((f) => f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`));
	if (!ok) throw new Error(`${what}: expected the error to name ${field}, it named ${JSON.stringify(fields)} (${a.status} ${a.text.slice(0, 200)})`);
}

// ─── JSON with raw fragments ─────────────────────────────────────────────────────────────────────

/** A value written into the JSON text as is: nesting too deep to build as objects, or a huge number literal. */
export class Raw {
	constructor(readonly json: string) {}
	toString(): string {
		return `Raw(${this.json.length > 40 ? `${this.json.slice(0, 20)}…${this.json.length} chars` : this.json})`;
	}
}

/** JSON.stringify that splices Raw fragments in. */
export function toJson(value: unknown): string {
	const raws: string[] = [];
	const text = JSON.stringify(value, (_k, v: unknown) => {
		if (v instanceof Raw) {
			raws.push(v.json);
			return `\u0000raw${raws.length - 1}\u0000`;
		}
		return v;
	});
	return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)] ?? "null");
}

const nested = (depth: number) => new Raw(`${"[".repeat(depth)}${"]".repeat(depth)}`);

/** Values any typed field should refuse or survive: wrong types, sizes, nesting, numbers, text attacks. */
export const HOSTILE: unknown[] = [
	null, true, false, {}, [], { a: { b: 1 } }, [1, 2],
	0, -1, -0.01, 0.001, 1e-7, 1e300, -1e300, 1.7976931348623157e308, 2 ** 53 + 2, 4_102_444_800_001, -62_135_596_800_000,
	new Raw("1e400"), new Raw(`1${"0".repeat(400)}`), new Raw("-0"),
	"", " ", "  padded  ", "9".repeat(400), `-${"9".repeat(400)}`, "1e300", "-5", "0x10", "1,000.00", "NaN", "Infinity", "59.999",
	"x".repeat(257), "x".repeat(5000), "é".repeat(300),
	"\u0000\u0001\u0007\u001b[31m", "a\u202eb", "\ud800", "x\udfffy", "😀".repeat(3),
	'=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR",
	"<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
	"2026-02-30", "2026-13-01", "1899-12-31", "1899-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2101-01-01", "9999-12-31T23:59:59Z", "10000-01-01",
	"2026-11-20T25:00:00Z", "2026-11-20T14:03:00+25:00", "yesterday",
	nested(3), nested(1001), nested(5000),
];

export const hostile = fc.constantFrom(...HOSTILE);

/** A hostile value or an arbitrary one fast-check makes up. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
	{ weight: 4, arbitrary: hostile },
	{ weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
	{ weight: 1, arbitrary: fc.double() },
	{ weight: 1, arbitrary: fc.integer() },
	{ weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

// ─── the commerce record model ───────────────────────────────────────────────────────────────────

export type Kind =
	| { t: "id" }
	| { t: "text"; max: number }
	| { t: "name"; max: number }
	| { t: "amount"; currency: (r: Record<string, unknown>) => unknown }
	| { t: "currency" }
	| { t: "timestamp" }
	| { t: "int"; min: number; max: number }
	| { t: "bool" }
	| { t: "enum"; values: string[] }
	| { t: "day" }
	| { t: "email" }
	| { t: "country" };

export interface FieldModel {
	name: string;
	kind: Kind;
	required: boolean;
	/** The D1 column it is stored in (`total` → `total_minor`); absent when not compared (PII, kept elsewhere). */
	column?: string;
}

export interface EntityModel {
	entity: string;
	table: string;
	key: string[];
	fields: FieldModel[];
	/** Rules across fields (CSAT scores 1–5). */
	cross?: (r: Record<string, unknown>, stored: Record<string, unknown>) => string[];
}

const SITE_CURRENCY = "EUR";
const own = (field: string) => (r: Record<string, unknown>) => r[field];
const siteCurrency = () => SITE_CURRENCY;
/** A field; `column` null: not compared (stored elsewhere, e.g. PII, or not at all). */
const f = (name: string, kind: Kind, required = false, column: string | null = name): FieldModel => ({ name, kind, required, column: column ?? undefined });
const amt = (name: string, currency: (r: Record<string, unknown>) => unknown, required = false): FieldModel => f(name, { t: "amount", currency }, required, `${name}_minor`);
const ID: Kind = { t: "id" };
const TS: Kind = { t: "timestamp" };

/** The twelve entities as the API documents them (docs/architecture.md, the OpenAPI record schemas). */
export const MODELS: EntityModel[] = [
	{
		entity: "customers", table: "customers", key: ["customer_id"],
		fields: [f("customer_id", ID, true), f("created_at", TS, true), f("email", { t: "email" }, false, null), f("name", { t: "text", max: 256 }, false, null),
			f("country", { t: "country" }), f("channel", { t: "text", max: 64 }), f("is_subscriber", { t: "bool" }), f("subscription_status", { t: "enum", values: ["active", "paused", "cancelled", "none"] })],
	},
	{
		entity: "products", table: "products", key: ["sku"],
		fields: [f("sku", ID, true), f("name", { t: "name", max: 256 }, true), amt("price", siteCurrency, true), f("category", { t: "text", max: 128 }), f("brand", { t: "text", max: 128 }),
			f("description", { t: "text", max: 4000 }), amt("unit_cost", siteCurrency), f("supplier_id", ID)],
	},
	{
		entity: "orders", table: "orders", key: ["order_id"],
		fields: [f("order_id", ID, true), f("customer_id", ID, true), f("placed_at", TS, true), amt("total", own("currency"), true), f("currency", { t: "currency" }, true),
			amt("subtotal", own("currency")), amt("discount", own("currency")), amt("shipping", own("currency")), amt("tax", own("currency")), f("channel", { t: "text", max: 64 }),
			f("coupon", { t: "text", max: 64 }), f("status", { t: "enum", values: ["placed", "paid", "shipped", "delivered", "cancelled", "refunded", "returned"] }), f("is_subscription", { t: "bool" }),
			f("paid_at", TS), f("shipped_at", TS), f("delivered_at", TS)],
	},
	{
		entity: "order_items", table: "order_items", key: ["order_id", "sku"],
		fields: [f("order_id", ID, true), f("sku", ID, true), f("qty", { t: "int", min: 1, max: 1_000_000 }, true), amt("unit_price", (r) => r.currency ?? SITE_CURRENCY, true),
			amt("unit_cost", (r) => r.currency ?? SITE_CURRENCY), f("currency", { t: "currency" }, false, null)],
	},
	{
		entity: "refunds", table: "refunds", key: ["refund_id"],
		fields: [f("refund_id", ID, true), f("order_id", ID, true), f("created_at", TS, true), amt("amount", own("currency"), true), f("currency", { t: "currency" }, true),
			f("reason", { t: "text", max: 256 }), f("sku", ID), f("qty", { t: "int", min: 1, max: 1_000_000 }), f("is_return", { t: "bool" })],
	},
	{
		entity: "inventory", table: "inventory_snapshots", key: ["sku", "taken_at"],
		fields: [f("sku", ID, true), f("taken_at", TS, true), f("stock", { t: "int", min: -1_000_000, max: 1_000_000_000 }, true), f("reorder_point", { t: "int", min: 0, max: 1_000_000_000 }),
			f("lead_time_days", { t: "int", min: 0, max: 3650 })],
	},
	{ entity: "suppliers", table: "suppliers", key: ["supplier_id"], fields: [f("supplier_id", ID, true), f("name", { t: "name", max: 256 }, true), f("country", { t: "text", max: 2 })] },
	{
		entity: "deliveries", table: "supplier_deliveries", key: ["delivery_id"],
		fields: [f("delivery_id", ID, true), f("supplier_id", ID, true), f("sku", ID), f("qty", { t: "int", min: 1, max: 1_000_000_000 }), f("ordered_at", TS, true), f("promised_at", TS, true), f("delivered_at", TS)],
	},
	{
		entity: "tickets", table: "tickets", key: ["ticket_id"],
		fields: [f("ticket_id", ID, true), f("opened_at", TS, true), f("customer_id", ID), f("order_id", ID), f("channel", { t: "text", max: 64 }), f("category", { t: "text", max: 128 }),
			f("first_response_at", TS), f("resolved_at", TS), f("status", { t: "enum", values: ["open", "pending", "resolved", "closed"] })],
	},
	{
		entity: "surveys", table: "surveys", key: ["response_id"],
		fields: [f("response_id", ID, true), f("kind", { t: "enum", values: ["nps", "csat"] }, true), f("score", { t: "int", min: 0, max: 10 }, true), f("responded_at", TS, true), f("customer_id", ID), f("order_id", ID)],
		cross: (_r, s) => (s.kind === "csat" && typeof s.score === "number" && (s.score < 1 || s.score > 5) ? ["score"] : []),
	},
	{
		entity: "spend", table: "marketing_spend", key: ["day", "channel"],
		fields: [f("day", { t: "day" }, true), f("channel", { t: "name", max: 64 }, true), amt("amount", own("currency"), true), f("currency", { t: "currency" }, true),
			f("impressions", { t: "int", min: 0, max: Number.MAX_SAFE_INTEGER }), f("clicks", { t: "int", min: 0, max: Number.MAX_SAFE_INTEGER })],
	},
	{
		entity: "messages", table: "messages", key: ["message_id"],
		fields: [f("message_id", ID, true), f("kind", { t: "enum", values: ["email", "sms"] }, true), f("sent_at", TS, true), f("customer_id", ID), f("campaign", { t: "text", max: 128 }),
			f("opened_at", TS), f("clicked_at", TS), f("bounced_at", TS)],
	},
];

export const MODEL: Record<string, EntityModel> = Object.fromEntries(MODELS.map((m) => [m.entity, m]));

/** The verdict on one field's value: stored as `value` (undefined: absent), refused, or not decided by the model. */
export type Verdict = { ok: true; value: unknown } | { ok: false } | { ok: "unknown" };
const ok = (value: unknown): Verdict => ({ ok: true, value });
const NO: Verdict = { ok: false };
const UNKNOWN: Verdict = { ok: "unknown" };

/** Minor units per unit of a currency, from the platform's ISO 4217 data (EUR 2, JPY 0, BHD 3). */
function digitsOf(code: string): number {
	try {
		return new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
	} catch {
		return 2;
	}
}

const MAX_MINOR = 10n ** 12n;
const LATEST_MS = 4_102_444_800_000; // 2100-01-01T00:00:00Z, the documented last instant

/** A decimal amount → exact minor units (BigInt), or null when the documented rules refuse it. */
export function minorOf(value: unknown, code: string): number | null {
	let text: string;
	if (typeof value === "number") {
		if (!Number.isFinite(value) || value < 0 || Object.is(value, -0)) return value === 0 ? 0 : null;
		text = String(value);
	} else if (typeof value === "string") text = value.trim();
	else return null;
	const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
	if (!m) return null;
	const digits = digitsOf(code);
	const frac = (m[2] ?? "").replace(/0+$/, "");
	if (frac.length > digits) return null;
	const minor = BigInt(m[1] ?? "0") * 10n ** BigInt(digits) + BigInt((frac + "0".repeat(digits)).slice(0, digits) || "0");
	return minor > MAX_MINOR ? null : Number(minor);
}

const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

function realDay(y: number, m: number, d: number): boolean {
	const date = new Date(Date.UTC(y, m - 1, d));
	return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Timestamps: epoch ms in [0, 2100-01-01], or ISO 8601 (date; date-time; offset; no offset = UTC) inside the same range. */
function judgeTimestamp(v: unknown): Verdict {
	if (typeof v === "number") return Number.isInteger(v) && v >= 0 && v <= LATEST_MS ? ok(v === 0 ? 0 : v) : NO;
	if (typeof v !== "string") return NO;
	const s = v.trim();
	const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2}))?)?$/.exec(s);
	if (!m) return /^\d{4}-\d{2}-\d{2}[T ]/.test(s) ? UNKNOWN : NO;
	const [y, mo, d, h = "0", mi = "0", sec = "0", ms = "0"] = [m[1], m[2], m[3], m[4], m[5], m[6], m[7]].map((x) => x ?? undefined) as string[];
	if (!realDay(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return NO;
	if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return UNKNOWN;
	let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(ms.padEnd(3, "0")));
	if (m[9]) t -= (m[9] === "+" ? 1 : -1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000;
	return t >= 0 && t <= LATEST_MS ? ok(t) : NO;
}

const TRUE = ["true", "1", "yes", "y", "t"];
const FALSE = ["false", "0", "no", "n", "f"];

/** The documented rule for one field value (undefined = the field is absent). */
export function judge(field: FieldModel, v: unknown, record: Record<string, unknown>): Verdict {
	// CSV cells and JSON may say "absent" with an empty value: every optional field treats "" (and null) as absent.
	if (v === undefined || (v === "" && !field.required)) return field.required ? NO : ok(undefined);
	// JSON null as "absent" is documented for CSV-style empty values only; where the record schema takes it is not decided here.
	if (v === null && !field.required) return ["enum", "email", "country"].includes(field.kind.t) ? UNKNOWN : ok(undefined);
	if (typeof v === "string" && !wellFormed(v)) return NO; // not Unicode text: refused, never silently replaced
	const k = field.kind;
	switch (k.t) {
		case "id": {
			const s = typeof v === "number" && Number.isInteger(v) ? String(v) : v;
			if (typeof s !== "string") return NO;
			const t = s.trim();
			return t.length >= 1 && t.length <= 128 ? ok(t) : NO;
		}
		case "text":
		case "name": {
			if (typeof v !== "string") return NO;
			const t = v.trim();
			return t.length <= k.max && (k.t === "text" || t.length >= 1) ? ok(t) : NO;
		}
		case "amount": {
			const code = k.currency(record);
			if (typeof code !== "string" || !/^[A-Z]{3}$/.test(code)) return UNKNOWN; // judged once the currency is
			const minor = minorOf(v, code);
			return minor === null ? NO : ok(minor);
		}
		case "currency":
			return typeof v === "string" && /^[A-Z]{3}$/.test(v) ? ok(v) : NO;
		case "timestamp":
			return judgeTimestamp(v);
		case "int": {
			const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
			return Number.isInteger(n) && n >= k.min && n <= k.max ? ok(n === 0 ? 0 : n) : NO;
		}
		case "bool": {
			if (typeof v === "boolean") return ok(Number(v));
			if (v === 1 || v === 0) return ok(v);
			if (typeof v === "string" && TRUE.includes(v.trim().toLowerCase())) return ok(1);
			if (typeof v === "string" && FALSE.includes(v.trim().toLowerCase())) return ok(0);
			return NO;
		}
		case "enum":
			return typeof v === "string" && k.values.includes(v) ? ok(v) : NO;
		case "day": {
			if (typeof v !== "string") return NO;
			const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
			return m && realDay(Number(m[1]), Number(m[2]), Number(m[3])) && Number(m[1]) >= 1970 && Number(m[1]) < 2100 ? ok(v.trim()) : NO;
		}
		case "email":
			if (typeof v !== "string" || v.length > 254) return NO;
			return /^[a-z0-9]+(\.[a-z0-9]+)*@example\.(com|org)$/.test(v) ? ok(v) : UNKNOWN;
		case "country": {
			if (typeof v !== "string") return NO;
			const t = v.trim().toUpperCase();
			return t === "" ? ok(undefined) : /^[A-Z]{2}$/.test(t) ? ok(t) : NO;
		}
	}
}

export interface RecordVerdict {
	/** Fields the documented rules refuse: the error must name each. */
	refused: string[];
	/** Fields whose verdict the model leaves open. */
	unknown: string[];
	/** column → stored value, for the fields accepted. */
	stored: Record<string, unknown>;
	/** The record is no object at all. */
	notObject: boolean;
}

/** Judges a whole record against its entity model. */
export function judgeRecord(model: EntityModel, record: unknown): RecordVerdict {
	if (typeof record !== "object" || record === null || Array.isArray(record) || record instanceof Raw) return { refused: [], unknown: [], stored: {}, notObject: true };
	// A raw literal is judged as the value JSON.parse makes of it (1e400 → Infinity, -0 → -0).
	const r = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v instanceof Raw ? JSON.parse(v.json) : v])) as Record<string, unknown>;
	const refused: string[] = [];
	const unknown: string[] = [];
	const stored: Record<string, unknown> = {};
	const byName: Record<string, unknown> = {};
	for (const field of model.fields) {
		const v = judge(field, Object.hasOwn(r, field.name) ? r[field.name] : undefined, r);
		if (v.ok === false) refused.push(field.name);
		else if (v.ok === "unknown") unknown.push(field.name);
		else {
			byName[field.name] = v.value;
			if (field.column && v.value !== undefined) stored[field.column] = v.value;
		}
	}
	if (model.cross) refused.push(...model.cross(r, byName).filter((n) => !refused.includes(n)));
	return { refused, unknown, stored, notObject: false };
}

// ─── valid records ───────────────────────────────────────────────────────────────────────────────

let uniq = 0;
/** A fresh natural id (so records of different runs never collide). */
export const freshId = (prefix: string) => fc.stringMatching(/^[A-Za-z0-9_.:-]{0,12}$/).map((s) => `${prefix}${++uniq}${s}`);

const CURRENCIES = ["EUR", "USD", "GBP", "JPY", "BHD"];

/** A valid decimal for a currency, as a number or a string, up to the documented maximum. */
function amountArb(code: string): fc.Arbitrary<number | string> {
	const digits = digitsOf(code);
	const minor = fc.oneof(fc.bigInt({ min: 0n, max: 100_000n }), fc.bigInt({ min: 0n, max: MAX_MINOR }), fc.constantFrom(0n, MAX_MINOR));
	return fc.tuple(minor, fc.boolean(), fc.nat(2)).map(([m, asNumber, pad]) => {
		const s = m.toString().padStart(digits + 1, "0");
		const text = digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}${"0".repeat(pad)}` : s;
		return asNumber && m < 2n ** 50n ? Number(text) : text;
	});
}

const isoOf = (ms: number, style: number) => {
	const iso = new Date(ms).toISOString();
	if (style === 0) return iso;
	if (style === 1) return iso.slice(0, 19) + "Z";
	if (style === 2) return `${iso.slice(0, 10)}`;
	return `${iso.slice(0, 19)}+00:00`;
};
const timestampArb = fc.tuple(fc.integer({ min: 0, max: LATEST_MS }), fc.nat(4)).map(([ms, style]) => (style === 4 ? ms : isoOf(style === 2 ? ms - (ms % 86_400_000) : ms, style)));

/** Printable text, formulas and control characters included (stored as sent, trimmed). */
export const textArb = (max: number, min = 0) =>
	fc
		.oneof(
			fc.string({ unit: "grapheme", minLength: min, maxLength: Math.min(max, 40) }),
			fc.constantFrom('=HYPERLINK("http://evil.example","x")', "+1+1", "@SUM(A1)", "-2+3", "\u0000ctl\u0007", "a\u202eb", "日本語", "😀"),
		)
		.filter((s) => {
			const t = s.trim();
			return t.length >= min && t.length <= max && wellFormed(s);
		});

function valueArb(field: FieldModel, currency: string): fc.Arbitrary<unknown> {
	const k = field.kind;
	switch (k.t) {
		case "id":
			return freshId("v");
		case "text":
			return textArb(k.max);
		case "name":
			return textArb(k.max, 1);
		case "amount":
			return amountArb(currency);
		case "currency":
			return fc.constant(currency);
		case "timestamp":
			return timestampArb;
		case "int":
			return fc.oneof(fc.integer({ min: k.min, max: Math.min(k.max, 2 ** 31) }), fc.constantFrom(k.min, k.max)).chain((n) => fc.constantFrom<unknown>(n, String(n)));
		case "bool":
			return fc.constantFrom<unknown>(true, false, "yes", "no", 1, 0, "TRUE");
		case "enum":
			return fc.constantFrom(...k.values);
		case "day":
			return fc.integer({ min: 0, max: LATEST_MS - 86_400_000 }).map((ms) => new Date(ms).toISOString().slice(0, 10));
		case "email":
			return fc.tuple(fc.stringMatching(/^[a-z0-9]{1,12}(\.[a-z0-9]{1,8})?$/), fc.constantFrom("com", "org")).map(([local, tld]) => `${local}@example.${tld}`);
		case "country":
			return fc.constantFrom("ES", "de", " fr ", "US");
	}
}

/** A valid record of an entity: every required field, each optional one present or not. */
export function validRecord(model: EntityModel, site = "demo"): fc.Arbitrary<Record<string, unknown>> {
	void site;
	return fc.constantFrom(...CURRENCIES).chain((currency) => {
		const parts: Record<string, fc.Arbitrary<unknown>> = {};
		for (const field of model.fields) {
			// Products and untagged order lines are in the site's currency; keys are always fresh.
			const code = field.kind.t === "amount" ? String(field.kind.currency({ currency }) ?? SITE_CURRENCY) : currency;
			const arb = model.key.includes(field.name) && field.kind.t === "id" ? freshId(`${model.entity.slice(0, 2)}-`) : valueArb(field, code);
			parts[field.name] = field.required ? arb : fc.option(arb, { nil: undefined });
		}
		return fc.record(parts).map((r) => {
			const out = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
			// CSAT scores are 1–5: keep the valid generator valid.
			if (out.kind === "csat" && typeof out.score !== "undefined") out.score = 3;
			// An order line's amounts are in its own currency when it names one: keep the one they were made for.
			if (model.entity === "order_items") out.currency = currency;
			return out;
		});
	});
}

export type Mutation = { kind: "none" } | { kind: "set"; field: string; value: unknown } | { kind: "drop"; field: string } | { kind: "unknown_field"; name: string } | { kind: "not_object"; value: unknown };

/** One mutation of a record of `model` (or none). */
export function mutationArb(model: EntityModel): fc.Arbitrary<Mutation> {
	const names = model.fields.map((x) => x.name);
	return fc.oneof(
		{ weight: 2, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
		{ weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), field: fc.constantFrom(...names), value: anyValue }) },
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), field: fc.constantFrom(...names) }) },
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant("unknown_field" as const), name: fc.constantFrom("totl", "__proto__", "constructor", "x".repeat(300), "site") }) },
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant("not_object" as const), value: fc.constantFrom<unknown>(null, 5, "x", [], true) }) },
	);
}

export function applyMutation(record: Record<string, unknown>, m: Mutation): unknown {
	switch (m.kind) {
		case "none":
			return record;
		case "set":
			return { ...record, [m.field]: m.value };
		case "drop": {
			const { [m.field]: _dropped, ...rest } = record;
			return rest;
		}
		case "unknown_field":
			return Object.defineProperty({ ...record }, m.name, { value: "surprise", enumerable: true, configurable: true, writable: true });
		case "not_object":
			return m.value;
	}
}

// ─── D1 reads ────────────────────────────────────────────────────────────────────────────────────

/** Rows of every commerce table for a site (and the webhook delivery records): the "nothing written" check. */
export async function commerceCounts(site = "demo"): Promise<Record<string, number>> {
	const tables = [...new Set(MODELS.map((m) => m.table)), "customer_pii"];
	const rows = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE site = ?`).bind(site)));
	const counts: Record<string, number> = Object.fromEntries(tables.map((t, i) => [t, (rows[i]?.results[0] as { n: number }).n]));
	counts.webhook_deliveries = ((await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE site = ?").bind(site).first()) as { n: number }).n;
	return counts;
}

/** The stored row of a record, by its key columns. */
export async function storedRow(model: EntityModel, stored: Record<string, unknown>, site = "demo"): Promise<Record<string, unknown> | null> {
	const where = model.key.map((k) => `${k} = ?`).join(" AND ");
	return env.DB.prepare(`SELECT * FROM ${model.table} WHERE site = ? AND ${where}`)
		.bind(site, ...model.key.map((k) => stored[k] ?? null))
		.first();
}

/** Asserts the row reads back with every accepted field's stored value. */
export async function expectStored(model: EntityModel, stored: Record<string, unknown>, what: string, site = "demo"): Promise<void> {
	const row = await storedRow(model, stored, site);
	if (!row) throw new Error(`${what}: no ${model.table} row for ${JSON.stringify(model.key.map((k) => stored[k]))}`);
	const got = Object.fromEntries(Object.keys(stored).map((c) => [c, row[c]]));
	if (JSON.stringify(got) !== JSON.stringify(stored)) expect(got, `${what}: stored ${JSON.stringify(got)}, the rules say ${JSON.stringify(stored)}`).toEqual(stored);
}
