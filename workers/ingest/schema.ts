/**
 * The public `/e` wire format. These schemas are the contract: every field is checked, unknown
 * fields are rejected by name, and commerce events get their own props shape.
 */
import { z } from "zod";
import { toIssues, type Issue } from "../lib/validation";

export const MAX_EVENTS = 1000;
export const MAX_BODY_BYTES = 1_000_000;
/** Events may be up to 7 days old (late beacons, offline senders)… */
export const MAX_AGE_MS = 7 * 86_400_000;
/** …and at most 1 day ahead (clock skew). */
export const MAX_SKEW_MS = 86_400_000;
const MAX_PROPS_BYTES = 8_192;
/**
 * Deepest nesting of arrays/objects allowed in props (the props object itself is level 1; a purchase's
 * items are level 3). SQLite refuses JSON nested more than 1,000 deep as malformed, and one such stored
 * row broke every rollup that reads props with json_each: nothing that deep may be stored.
 */
export const MAX_PROPS_DEPTH = 8;

/** Nesting depth of a parsed JSON value (scalars 0, `{}` 1, `{"a": []}` 2); stops counting past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
	let deepest = 0;
	const stack: [unknown, number][] = [[value, 1]];
	while (stack.length) {
		const [v, depth] = stack.pop() as [unknown, number];
		if (typeof v !== "object" || v === null) continue;
		if (depth > deepest) deepest = depth;
		if (deepest > limit) return deepest;
		for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
	}
	return deepest;
}

const shortText = (max: number) => z.string().min(1).max(max);
const money = z.number().finite().nonnegative().max(1e9);
const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
const scalar = z.union([z.string().max(1024), z.number().finite(), z.boolean(), z.null()]);
const item = z.strictObject({
	sku: shortText(64),
	qty: z.number().int().min(1).max(100_000),
	price: money,
	name: z.string().max(256).optional(),
	category: z.string().max(128).optional(),
});

/** Free-form props of page views and custom events: a flat map of up to 50 scalars. */
const genericProps = z.record(z.string().min(1).max(64), scalar).refine((o) => Object.keys(o).length <= 50, "at most 50 props");

/** Props for commerce events; extra scalar props are allowed beside the known ones. */
const commerceProps = {
	purchase: z.looseObject({
		order_id: shortText(128),
		value: money,
		currency,
		items: z.array(item).min(1).max(200),
		coupon: z.string().max(64).optional(),
		shipping: money.optional(),
		tax: money.optional(),
	}),
	refund: z.looseObject({ order_id: shortText(128), value: money.optional(), currency: currency.optional(), items: z.array(item).max(200).optional() }),
	product_view: z.looseObject({ sku: shortText(64), price: money.optional(), currency: currency.optional() }),
	add_to_cart: z.looseObject({ sku: shortText(64), qty: z.number().int().min(1).max(100_000).optional(), price: money.optional(), value: money.optional(), currency: currency.optional() }),
	remove_from_cart: z.looseObject({ sku: shortText(64), qty: z.number().int().min(1).max(100_000).optional(), price: money.optional(), value: money.optional(), currency: currency.optional() }),
	begin_checkout: z.looseObject({ value: money.optional(), currency: currency.optional(), items: z.array(item).max(200).optional() }),
	checkout_step: z.looseObject({ step: z.union([z.number().int().min(1).max(50), shortText(64)]), value: money.optional(), currency: currency.optional() }),
	search: z.looseObject({ query: shortText(256), results: z.number().int().nonnegative().optional() }),
} as const;

export type CommerceName = keyof typeof commerceProps;
export const COMMERCE_EVENTS = Object.keys(commerceProps) as CommerceName[];

/** One event of a batch (props are checked by event name in `parseEvent`). */
export const eventBase = z.strictObject({
	id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, "letters, digits and . _ : - only"),
	name: z.string().min(1).max(64).regex(/^[A-Za-z][A-Za-z0-9_.:-]*$/, "must start with a letter; letters, digits and _ . : - only"),
	ts: z.number().int("must be epoch milliseconds (integer)"),
	url: z.url({ protocol: /^https?$/, error: "must be an absolute http(s) URL" }).max(2048),
	referrer: z.string().max(2048).nullable().optional(),
	props: z.record(z.string(), z.unknown()).optional(),
	customer_id: shortText(128).optional(),
	/** A server-side sender's own visitor id: any non-empty id (it never collides with a hashed browser visitor, which is 32 hex digits chosen by us). */
	visitor_id: z.string().min(1, "must not be empty").max(128).optional(),
});

export type WireEvent = z.infer<typeof eventBase>;

export const batchSchema = z.strictObject({
	site: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lowercase letters, digits, _ and - (max 64)"),
	events: z.array(z.unknown()).min(1, "must hold at least one event").max(MAX_EVENTS),
	/** 1 when the tracker saw navigator.webdriver (automation); such traffic is counted as bot. */
	b: z.literal(1).optional(),
});

/**
 * Validates one event: base fields, the time window against `now`, and props by event name.
 * Returns the typed event or the issues, with paths relative to the event.
 */
export function parseEvent(raw: unknown, now: number): { ok: true; event: WireEvent } | { ok: false; issues: Issue[] } {
	const base = eventBase.safeParse(raw);
	if (!base.success) return { ok: false, issues: toIssues(base.error) };
	const event = base.data;
	const issues: Issue[] = [];
	if (event.ts < now - MAX_AGE_MS) issues.push({ path: ["ts"], message: "older than 7 days; load history through the bulk import" });
	if (event.ts > now + MAX_SKEW_MS) issues.push({ path: ["ts"], message: "more than 1 day in the future" });
	if (event.props && jsonDepth(event.props, MAX_PROPS_DEPTH) > MAX_PROPS_DEPTH) {
		return { ok: false, issues: [...issues, { path: ["props"], message: `nested more than ${MAX_PROPS_DEPTH} levels deep` }] };
	}
	const propsSchema = event.name in commerceProps ? commerceProps[event.name as CommerceName] : genericProps;
	const props = propsSchema.safeParse(event.props ?? {});
	if (!props.success) for (const i of toIssues(props.error)) issues.push({ path: ["props", ...i.path], message: i.message });
	else if (JSON.stringify(props.data).length > MAX_PROPS_BYTES) issues.push({ path: ["props"], message: `larger than ${MAX_PROPS_BYTES} bytes` });
	return issues.length ? { ok: false, issues } : { ok: true, event: { ...event, props: props.success ? props.data : {} } };
}
