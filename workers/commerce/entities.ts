/**
 * The commerce entities: one spec each — its public record schema (JSON keys = CSV headers) and the
 * D1 writes for one record. Both the upsert API and the bulk import use these, so a record means the
 * same thing whichever way it arrives. Writes are idempotent upserts keyed by the store's natural ids.
 */
import { z } from "zod";
import { amountProblem, toMinor } from "../lib/money";
import type { Issue } from "../lib/validation";
import { amount, bool, currency, day, id, int, optionalAmount, optionalBool, optionalCurrency, optionalId, optionalInt, optionalTimestamp, text, timestamp } from "./fields";

export interface WriteContext {
	site: string;
	/** The site's currency: products and untagged amounts are in it. */
	currency: string;
	now: number;
}

type Values = Record<string, string | number | boolean | null>;

/**
 * One row to upsert, or the rows of a child set to drop: those matching `where` whose `keep.column`
 * is not among `keep.values` (so replacing an order's items leaves unchanged lines untouched).
 */
export type Write =
	| { kind: "upsert"; table: string; key: string[]; values: Values }
	| { kind: "delete"; table: string; where: Values; keep: { column: string; values: string[] } };

const up = (table: string, key: string[], values: Values): Write => ({ kind: "upsert", table, key, values });
const minorOrNull = (v: number | string | undefined, code: string) => (v === undefined ? null : toMinor(v, code));
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

const orderItem = z.object({ sku: id, qty: int(1, 1_000_000), unit_price: amount, unit_cost: optionalAmount });

const orderSchema = z.object({
	order_id: id,
	customer_id: id,
	placed_at: timestamp,
	total: amount,
	currency,
	subtotal: optionalAmount,
	discount: optionalAmount,
	shipping: optionalAmount,
	tax: optionalAmount,
	channel: text(64),
	coupon: text(64),
	status: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["placed", "paid", "shipped", "delivered", "cancelled", "refunded", "returned"]).optional()),
	is_subscription: optionalBool,
	paid_at: optionalTimestamp,
	shipped_at: optionalTimestamp,
	delivered_at: optionalTimestamp,
	/** JSON API only: the order's full item list, replacing any stored items. */
	items: z.array(orderItem).max(500).optional(),
});

function orderWrites(o: z.output<typeof orderSchema>, ctx: WriteContext): Write[] {
	const c = o.currency;
	const writes: Write[] = [
		up("orders", ["order_id"], {
			site: ctx.site, order_id: o.order_id, customer_id: o.customer_id, placed_at: o.placed_at, paid_at: orNull(o.paid_at), shipped_at: orNull(o.shipped_at),
			delivered_at: orNull(o.delivered_at), channel: orNull(o.channel), coupon: orNull(o.coupon), subtotal_minor: minorOrNull(o.subtotal, c),
			discount_minor: minorOrNull(o.discount, c) ?? 0, shipping_minor: minorOrNull(o.shipping, c) ?? 0, tax_minor: minorOrNull(o.tax, c) ?? 0,
			total_minor: toMinor(o.total, c), currency: c, status: o.status ?? inferStatus(o), is_subscription: o.is_subscription ?? false, updated_at: ctx.now,
		}),
	];
	if (o.items) {
		const items = mergeItems(o.items);
		writes.push({ kind: "delete", table: "order_items", where: { site: ctx.site, order_id: o.order_id }, keep: { column: "sku", values: items.map((i) => i.sku) } });
		for (const item of items) writes.push(itemWrite({ order_id: o.order_id, ...item }, c, ctx));
	}
	return writes;
}

/** The latest lifecycle timestamp present decides the status when none is given. */
function inferStatus(o: { paid_at?: number; shipped_at?: number; delivered_at?: number }): string {
	return o.delivered_at !== undefined ? "delivered" : o.shipped_at !== undefined ? "shipped" : o.paid_at !== undefined ? "paid" : "placed";
}

/** Two lines of one SKU in one order become one line (the key is order + sku). */
function mergeItems<T extends { sku: string; qty: number }>(items: T[]): T[] {
	const bySku = new Map<string, T>();
	for (const i of items) {
		const prev = bySku.get(i.sku);
		bySku.set(i.sku, prev ? { ...prev, qty: prev.qty + i.qty } : i);
	}
	return [...bySku.values()];
}

const orderItemRecord = orderItem.extend({ order_id: id, currency: optionalCurrency });

function itemWrite(i: z.output<typeof orderItemRecord>, orderCurrency: string, ctx: WriteContext): Write {
	return up("order_items", ["order_id", "sku"], {
		site: ctx.site, order_id: i.order_id, sku: i.sku, qty: i.qty, unit_price_minor: toMinor(i.unit_price, orderCurrency), unit_cost_minor: minorOrNull(i.unit_cost, orderCurrency),
	});
}

const customerSchema = z.object({
	customer_id: id,
	created_at: timestamp,
	email: z.preprocess((v) => (v === "" ? undefined : v), z.email().max(254).optional()),
	name: text(256),
	country: z.preprocess((v) => (v === "" ? undefined : typeof v === "string" ? v.trim().toUpperCase() : v), z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166 alpha-2 code").optional()),
	channel: text(64),
	is_subscriber: optionalBool,
	subscription_status: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["active", "paused", "cancelled", "none"]).optional()),
});

function customerWrites(c: z.output<typeof customerSchema>, ctx: WriteContext): Write[] {
	const writes: Write[] = [
		up("customers", ["customer_id"], {
			site: ctx.site, customer_id: c.customer_id, created_at: c.created_at, channel: orNull(c.channel), country: orNull(c.country),
			is_subscriber: c.is_subscriber ?? c.subscription_status === "active", subscription_status: orNull(c.subscription_status), updated_at: ctx.now,
		}),
	];
	// Personal data goes to its own table, and only when sent: an analytics-only update never erases it.
	// These values are plaintext; commerce/store.ts applyWrites encrypts them (privacy/pii.ts) before any SQL.
	if (c.email !== undefined || c.name !== undefined) {
		writes.push(up("customer_pii", ["customer_id"], { site: ctx.site, customer_id: c.customer_id, email: orNull(c.email), name: orNull(c.name), updated_at: ctx.now }));
	}
	return writes;
}

const productSchema = z.object({
	sku: id,
	name: z.string().trim().min(1).max(256),
	price: amount,
	category: text(128),
	brand: text(128),
	description: text(4000),
	unit_cost: optionalAmount,
	supplier_id: optionalId,
});

const refundSchema = z.object({
	refund_id: id,
	order_id: id,
	created_at: timestamp,
	amount,
	currency,
	reason: text(256),
	sku: optionalId,
	qty: optionalInt(1, 1_000_000),
	is_return: optionalBool,
});

const inventorySchema = z.object({
	sku: id,
	taken_at: timestamp,
	stock: int(-1_000_000, 1_000_000_000),
	reorder_point: optionalInt(0, 1_000_000_000),
	lead_time_days: optionalInt(0, 3650),
});

const supplierSchema = z.object({ supplier_id: id, name: z.string().trim().min(1).max(256), country: text(2) });

const deliverySchema = z.object({
	delivery_id: id,
	supplier_id: id,
	sku: optionalId,
	qty: optionalInt(1, 1_000_000_000),
	ordered_at: timestamp,
	promised_at: timestamp,
	delivered_at: optionalTimestamp,
});

const ticketSchema = z.object({
	ticket_id: id,
	opened_at: timestamp,
	customer_id: optionalId,
	order_id: optionalId,
	channel: text(64),
	category: text(128),
	first_response_at: optionalTimestamp,
	resolved_at: optionalTimestamp,
	status: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["open", "pending", "resolved", "closed"]).optional()),
});

const surveySchema = z
	.object({
		response_id: id,
		kind: z.enum(["nps", "csat"]),
		score: int(0, 10),
		responded_at: timestamp,
		customer_id: optionalId,
		order_id: optionalId,
	})
	.superRefine((s, ctx) => {
		if (s.kind === "csat" && (s.score < 1 || s.score > 5)) ctx.addIssue({ code: "custom", path: ["score"], message: "CSAT scores are 1–5" });
	});

const spendSchema = z.object({
	day,
	channel: z.string().trim().min(1).max(64),
	amount,
	currency,
	impressions: optionalInt(0, Number.MAX_SAFE_INTEGER),
	clicks: optionalInt(0, Number.MAX_SAFE_INTEGER),
});

/** The channels /e classifies traffic into (workers/ingest/classify.ts), the devices it tells apart. */
const WEB_CHANNELS = ["direct", "organic_search", "paid_search", "social", "paid_social", "email", "affiliate", "referral", "internal"] as const;
const WEB_DEVICES = ["desktop", "mobile", "tablet", "tv", "other"] as const;
const count = int(0, Number.MAX_SAFE_INTEGER);

/**
 * One day of web history from before the tracker ran (a Plausible or GA4 export, say): the whole site's figures
 * (no `dimension`), or one breakdown row (`dimension` channel, device or country, and its `value`), with the
 * measures the web rollup keeps. The web KPIs read it for days with no tracked session (raw events win a day).
 * Every measure counts sessions by the site-local day they started; `*_purchase_sessions` are the sessions that
 * did both things, so each is at most both of its parts.
 */
const webDailySchema = z
	.object({
		day,
		dimension: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["channel", "device", "country"], { error: "channel, device or country (leave it out for the whole site)" }).optional()),
		value: text(64),
		visitors: count,
		sessions: count,
		page_views: count,
		events: count,
		bounces: count,
		duration_ms: count,
		view_sessions: count,
		view_purchase_sessions: count,
		cart_sessions: count,
		cart_purchase_sessions: count,
		checkout_sessions: count,
		checkout_purchase_sessions: count,
		purchase_sessions: count,
	})
	.superRefine((r, ctx) => {
		const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
		if (r.dimension === undefined) {
			if (r.value !== undefined) issue("value", "give a value only with a dimension (channel, device or country)");
		} else if (r.value === undefined) issue("value", `the ${r.dimension} this row is for`);
		else if (r.dimension === "channel" && !(WEB_CHANNELS as readonly string[]).includes(r.value)) issue("value", `a channel: one of ${WEB_CHANNELS.join(", ")}`);
		else if (r.dimension === "device" && !(WEB_DEVICES as readonly string[]).includes(r.value)) issue("value", `a device: one of ${WEB_DEVICES.join(", ")}`);
		else if (r.dimension === "country" && r.value !== "unknown" && !/^[A-Z]{2}$/.test(r.value)) issue("value", "an ISO 3166 alpha-2 code in capitals, or unknown");
		for (const k of ["visitors", "bounces", "view_sessions", "cart_sessions", "checkout_sessions", "purchase_sessions"] as const)
			if (r[k] > r.sessions) issue(k, `cannot exceed sessions (${r.sessions})`);
		for (const step of ["view", "cart", "checkout"] as const) {
			const both = r[`${step}_purchase_sessions`];
			if (both > r[`${step}_sessions`] || both > r.purchase_sessions) issue(`${step}_purchase_sessions`, `cannot exceed ${step}_sessions or purchase_sessions`);
		}
		if (r.sessions > 0 && r.visitors === 0) issue("visitors", "sessions need at least one visitor");
		if (r.events < Math.max(r.sessions, r.page_views)) issue("events", "every session and page view is an event: at least max(sessions, page_views)");
	});

const messageSchema = z.object({
	message_id: id,
	kind: z.enum(["email", "sms"]),
	sent_at: timestamp,
	customer_id: optionalId,
	campaign: text(128),
	opened_at: optionalTimestamp,
	clicked_at: optionalTimestamp,
	bounced_at: optionalTimestamp,
});

/** One amount of a record and the currency it is in: path, value (undefined when absent), ISO code. */
type Amount = [path: PropertyKey[], value: number | string | undefined, currency: string];
/** A record's amounts. */
type Amounts<R> = (record: R, ctx: WriteContext) => Amount[];

export interface EntitySpec<S extends z.ZodType = z.ZodType> {
	/** URL segment and import entity name. */
	name: string;
	/** The public record: validates the upsert API's bodies and import rows, and documents them (OpenAPI). */
	schema: S;
	/** Validates one raw record (JSON object or CSV row) and returns its D1 writes, or the zod error. */
	parse(raw: unknown, ctx: WriteContext): { ok: true; writes: Write[] } | { ok: false; error: z.ZodError };
	/**
	 * What `schema` cannot check alone, on a record it has validated: each amount against its currency (which
	 * for products and untagged order lines is the site's, in `ctx`): see amountProblem. Empty when all is well.
	 */
	check(record: z.output<S>, ctx: WriteContext): Issue[];
	/** The D1 writes of a record `schema` and `check` have already validated. */
	writes(record: z.output<S>, ctx: WriteContext): Write[];
}

function spec<S extends z.ZodType>(name: string, schema: S, writes: (r: z.output<S>, ctx: WriteContext) => Write[], amounts: Amounts<z.output<S>> = () => []): EntitySpec<S> {
	const check = (record: z.output<S>, ctx: WriteContext): Issue[] =>
		amounts(record, ctx).flatMap(([path, value, currency]) => {
			const problem = value === undefined ? null : amountProblem(value, currency);
			return problem === null ? [] : [{ path, message: problem, code: "custom" }];
		});
	return {
		name,
		schema,
		check,
		writes,
		parse(raw, ctx) {
			const r = schema.safeParse(raw);
			if (!r.success) return { ok: false, error: r.error };
			const issues = check(r.data, ctx);
			if (issues.length) return { ok: false, error: new z.ZodError(issues.map((i) => ({ code: "custom" as const, path: i.path, message: i.message, input: undefined }))) };
			return { ok: true, writes: writes(r.data, ctx) };
		},
	};
}

const ORDER_AMOUNTS = ["total", "subtotal", "discount", "shipping", "tax"] as const;
const lineAmounts = (path: PropertyKey[], i: { unit_price: number | string; unit_cost?: number | string | undefined }, currency: string): Amount[] => [
	[[...path, "unit_price"], i.unit_price, currency],
	[[...path, "unit_cost"], i.unit_cost, currency],
];

export const ENTITIES = {
	customers: spec("customers", customerSchema, customerWrites),
	products: spec(
		"products",
		productSchema,
		(p, ctx) => [
			up("products", ["sku"], {
				site: ctx.site, sku: p.sku, name: p.name, category: orNull(p.category), brand: orNull(p.brand), description: orNull(p.description),
				price_minor: toMinor(p.price, ctx.currency), unit_cost_minor: minorOrNull(p.unit_cost, ctx.currency), supplier_id: orNull(p.supplier_id), updated_at: ctx.now,
			}),
		],
		(p, ctx) => [
			[["price"], p.price, ctx.currency],
			[["unit_cost"], p.unit_cost, ctx.currency],
		],
	),
	orders: spec("orders", orderSchema, orderWrites, (o) => [
		...ORDER_AMOUNTS.map((k): Amount => [[k], o[k], o.currency]),
		...(o.items ?? []).flatMap((item, i) => lineAmounts(["items", i], item, o.currency)),
	]),
	order_items: spec("order_items", orderItemRecord, (i, ctx) => [itemWrite(i, i.currency ?? ctx.currency, ctx)], (i, ctx) => lineAmounts([], i, i.currency ?? ctx.currency)),
	refunds: spec(
		"refunds",
		refundSchema,
		(r, ctx) => [
			up("refunds", ["refund_id"], {
				site: ctx.site, refund_id: r.refund_id, order_id: r.order_id, created_at: r.created_at, amount_minor: toMinor(r.amount, r.currency), currency: r.currency,
				reason: orNull(r.reason), sku: orNull(r.sku), qty: orNull(r.qty), is_return: r.is_return ?? r.sku !== undefined, updated_at: ctx.now,
			}),
		],
		(r) => [[["amount"], r.amount, r.currency]],
	),
	inventory: spec("inventory", inventorySchema, (s, ctx) => [
		up("inventory_snapshots", ["sku", "taken_at"], {
			site: ctx.site, sku: s.sku, taken_at: s.taken_at, stock: s.stock, reorder_point: orNull(s.reorder_point), lead_time_days: orNull(s.lead_time_days), updated_at: ctx.now,
		}),
	]),
	suppliers: spec("suppliers", supplierSchema, (s, ctx) => [up("suppliers", ["supplier_id"], { site: ctx.site, supplier_id: s.supplier_id, name: s.name, country: orNull(s.country), updated_at: ctx.now })]),
	deliveries: spec("deliveries", deliverySchema, (d, ctx) => [
		up("supplier_deliveries", ["delivery_id"], {
			site: ctx.site, delivery_id: d.delivery_id, supplier_id: d.supplier_id, sku: orNull(d.sku), qty: orNull(d.qty), ordered_at: d.ordered_at,
			promised_at: d.promised_at, delivered_at: orNull(d.delivered_at), updated_at: ctx.now,
		}),
	]),
	tickets: spec("tickets", ticketSchema, (t, ctx) => [
		up("tickets", ["ticket_id"], {
			site: ctx.site, ticket_id: t.ticket_id, customer_id: orNull(t.customer_id), order_id: orNull(t.order_id), channel: orNull(t.channel), category: orNull(t.category),
			opened_at: t.opened_at, first_response_at: orNull(t.first_response_at), resolved_at: orNull(t.resolved_at),
			status: t.status ?? (t.resolved_at !== undefined ? "resolved" : "open"), updated_at: ctx.now,
		}),
	]),
	surveys: spec("surveys", surveySchema, (s, ctx) => [
		up("surveys", ["response_id"], { site: ctx.site, response_id: s.response_id, kind: s.kind, score: s.score, responded_at: s.responded_at, customer_id: orNull(s.customer_id), order_id: orNull(s.order_id), updated_at: ctx.now }),
	]),
	spend: spec(
		"spend",
		spendSchema,
		(s, ctx) => [
			up("marketing_spend", ["day", "channel"], {
				site: ctx.site, day: s.day, channel: s.channel, amount_minor: toMinor(s.amount, s.currency), currency: s.currency, impressions: orNull(s.impressions), clicks: orNull(s.clicks), updated_at: ctx.now,
			}),
		],
		(s) => [[["amount"], s.amount, s.currency]],
	),
	web_daily: spec("web_daily", webDailySchema, (r, ctx) => [
		up("web_daily", ["day", "channel", "device", "country"], {
			site: ctx.site, day: r.day, channel: r.dimension === "channel" ? (r.value ?? "") : "", device: r.dimension === "device" ? (r.value ?? "") : "",
			country: r.dimension === "country" ? (r.value ?? "") : "", visitors: r.visitors, sessions: r.sessions, events: r.events,
			page_views: r.page_views, bounces: r.bounces, duration_ms: r.duration_ms, view_sessions: r.view_sessions, view_purchase_sessions: r.view_purchase_sessions,
			cart_sessions: r.cart_sessions, cart_purchase_sessions: r.cart_purchase_sessions, checkout_sessions: r.checkout_sessions,
			checkout_purchase_sessions: r.checkout_purchase_sessions, purchase_sessions: r.purchase_sessions, updated_at: ctx.now,
		}),
	]),
	messages: spec("messages", messageSchema, (m, ctx) => [
		up("messages", ["message_id"], {
			site: ctx.site, message_id: m.message_id, kind: m.kind, sent_at: m.sent_at, customer_id: orNull(m.customer_id), campaign: orNull(m.campaign),
			opened_at: orNull(m.opened_at), clicked_at: orNull(m.clicked_at), bounced_at: orNull(m.bounced_at), updated_at: ctx.now,
		}),
	]),
} as const;

export type EntityName = keyof typeof ENTITIES;
export const ENTITY_NAMES = Object.keys(ENTITIES) as EntityName[];

export function isEntity(name: string): name is EntityName {
	return Object.hasOwn(ENTITIES, name);
}
