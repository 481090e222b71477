/**
 * Shopify webhooks → our records (pure). Payloads are the REST Admin API resources Shopify sends per
 * topic (orders/*, refunds/create, customers/*, products/*, inventory_levels/update); amounts are decimal
 * strings in the shop currency (`currency`), which the entities convert to minor units exactly.
 *
 * Signature: `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256(secret, raw body); there is no timestamp, so a
 * repeat is recognised by its MAC (and `X-Shopify-Webhook-Id`), an older update by the payload's `updated_at`.
 */
import {
	arr,
	countryCode,
	currencyCode,
	customerId,
	decimal,
	idOf,
	ignored,
	isoMs,
	obj,
	optionalDecimal,
	optionalIsoMs,
	PayloadError,
	str,
	sumDecimals,
	type CustomOp,
	type Mapped,
	type MappedRecord,
	type Obj,
} from "./common";

export const SHOPIFY_TOPICS = [
	"orders/create",
	"orders/updated",
	"orders/cancelled",
	"refunds/create",
	"customers/create",
	"customers/update",
	"products/create",
	"products/update",
	"inventory_levels/update",
] as const;

/** `shopify:<id>`: our id of a Shopify order, refund or anything keyed by Shopify's numeric id. */
export const shopifyId = (id: string) => `shopify:${id}`;

/** A variant's SKU, or `shopify-variant:<id>` for a variant without one (Shopify allows empty SKUs). */
export function variantSku(sku: unknown, variantId: unknown, productId?: unknown): string {
	const s = str(sku);
	if (s) return s;
	const v = str(variantId);
	if (v) return `shopify-variant:${v}`;
	const p = str(productId);
	if (p) return `shopify-product:${p}`;
	throw new PayloadError("line_items[].sku", "a line without SKU, variant or product id");
}

/**
 * Our order status from Shopify's: cancelled (cancelled_at set, or voided) > refunded (fully) > shipped
 * (fulfilled and paid) > paid (paid, partially paid or partially refunded: the refund records carry the money)
 * > placed (pending, authorized).
 */
export function shopifyStatus(financial: string | undefined, fulfillment: string | undefined, cancelled: boolean): string {
	if (cancelled || financial === "voided") return "cancelled";
	if (financial === "refunded") return "refunded";
	const paid = financial === "paid" || financial === "partially_paid" || financial === "partially_refunded";
	if (paid && fulfillment === "fulfilled") return "shipped";
	return paid ? "paid" : "placed";
}

/** A Shopify refund (refunds/create, or an element of an order's `refunds`) → our refund record, or null when no money moved. */
export function shopifyRefund(r: Obj, field: string, orderCurrency?: string): MappedRecord | null {
	const id = idOf(r.id, `${field}.id`);
	const orderId = idOf(r.order_id, `${field}.order_id`);
	const moved = arr(r.transactions)
		.map(obj)
		.filter((t) => t.kind === "refund" && t.status === "success");
	if (!moved.length) return null;
	const currency = currencyCode(moved[0]?.currency ?? orderCurrency, `${field}.transactions[0].currency`);
	const lines = arr(r.refund_line_items).map(obj);
	const one = lines.length === 1 ? lines[0] : undefined;
	return {
		entity: "refunds",
		record: {
			refund_id: shopifyId(id),
			order_id: shopifyId(orderId),
			created_at: isoMs(r.processed_at ?? r.created_at, `${field}.created_at`),
			amount: sumDecimals(
				moved.map((t, i) => decimal(t.amount, `${field}.transactions[${i}].amount`)),
				currency,
			),
			currency,
			reason: str(r.note)?.slice(0, 256),
			sku: one ? variantSku(obj(one.line_item).sku, obj(one.line_item).variant_id, obj(one.line_item).product_id) : undefined,
			qty: one && typeof one.quantity === "number" && one.quantity > 0 ? one.quantity : undefined,
			is_return: lines.some((l) => l.restock_type === "return"),
		},
	};
}

async function mapOrder(o: Obj): Promise<Mapped> {
	if (o.test === true) return ignored("a test order (Shopify's `test: true`): not revenue");
	const id = idOf(o.id, "id");
	const currency = currencyCode(o.currency, "currency");
	const placed = isoMs(o.created_at, "created_at");
	const customer = obj(o.customer);
	const email = str(o.email) ?? str(o.contact_email) ?? str(customer.email);
	const buyer = await customerId("shopify", email, str(customer.id), id);
	const financial = str(o.financial_status);
	const fulfillment = str(o.fulfillment_status);
	const status = shopifyStatus(financial, fulfillment, str(o.cancelled_at) !== undefined);
	const processed = optionalIsoMs(o.processed_at, "processed_at");
	const paidAt = status === "placed" ? undefined : Math.max(placed, processed ?? placed);
	const fulfilments = arr(o.fulfillments).map(obj);
	const shippedAt = status === "shipped" && fulfilments.length ? Math.min(...fulfilments.map((f, i) => isoMs(f.created_at, `fulfillments[${i}].created_at`))) : undefined;
	const shippingSet = obj(obj(o.total_shipping_price_set).shop_money).amount;
	const shipping =
		optionalDecimal(shippingSet, "total_shipping_price_set.shop_money.amount") ??
		sumDecimals(
			arr(o.shipping_lines).map((l, i) => decimal(obj(l).price, `shipping_lines[${i}].price`)),
			currency,
		);
	const items = arr(o.line_items).map((raw, i) => {
		const l = obj(raw);
		return { sku: variantSku(l.sku, l.variant_id, l.product_id), qty: typeof l.quantity === "number" ? l.quantity : str(l.quantity), unit_price: decimal(l.price, `line_items[${i}].price`) };
	});
	const records: MappedRecord[] = [
		{
			entity: "orders",
			record: {
				order_id: shopifyId(id),
				customer_id: buyer,
				placed_at: placed,
				total: decimal(o.total_price, "total_price"),
				currency,
				subtotal: optionalDecimal(o.total_line_items_price, "total_line_items_price"),
				discount: optionalDecimal(o.total_discounts, "total_discounts"),
				shipping,
				tax: optionalDecimal(o.total_tax, "total_tax"),
				coupon: str(obj(arr(o.discount_codes)[0]).code)?.slice(0, 64),
				status,
				paid_at: paidAt,
				shipped_at: shippedAt,
				items,
			},
		},
	];
	arr(o.refunds).forEach((r, i) => {
		const refund = shopifyRefund(obj(r), `refunds[${i}]`, currency);
		if (refund) records.push(refund);
	});
	const addr = obj(customer.default_address);
	const ops: CustomOp[] = [
		{
			kind: "customer_if_absent",
			customer_id: buyer,
			created_at: Math.min(placed, optionalIsoMs(customer.created_at, "customer.created_at") ?? placed),
			country: countryCode(addr.country_code) ?? countryCode(obj(o.billing_address).country_code) ?? countryCode(obj(o.shipping_address).country_code) ?? null,
		},
	];
	const updated = optionalIsoMs(o.updated_at, "updated_at");
	return { plan: { subject: `order ${shopifyId(id)}`, records, versions: updated === undefined ? [] : [{ object: `shopify:order:${id}`, version: updated }], ops } };
}

async function mapCustomer(c: Obj): Promise<Mapped> {
	const id = idOf(c.id, "id");
	const email = str(c.email);
	const name = [str(c.first_name), str(c.last_name)].filter(Boolean).join(" ");
	const record = {
		customer_id: await customerId("shopify", email, id),
		created_at: isoMs(c.created_at, "created_at"),
		email,
		name: name || undefined,
		country: countryCode(obj(c.default_address).country_code),
	};
	const updated = optionalIsoMs(c.updated_at, "updated_at");
	return { plan: { subject: `customer ${record.customer_id}`, records: [{ entity: "customers", record }], versions: updated === undefined ? [] : [{ object: `shopify:customer:${id}`, version: updated }], ops: [] } };
}

function mapProduct(p: Obj): Mapped {
	const id = idOf(p.id, "id");
	const title = str(p.title);
	if (!title) throw new PayloadError("title", "missing");
	const variants = arr(p.variants).map(obj);
	if (!variants.length) return ignored("a product without variants has no price or SKU");
	const records: MappedRecord[] = [];
	const ops: CustomOp[] = [];
	variants.forEach((v, i) => {
		const sku = variantSku(v.sku, v.id, id);
		const variantTitle = str(v.title);
		records.push({
			entity: "products",
			record: {
				sku,
				name: (variants.length > 1 && variantTitle && variantTitle !== "Default Title" ? `${title} — ${variantTitle}` : title).slice(0, 256),
				price: decimal(v.price, `variants[${i}].price`),
				category: str(p.product_type)?.slice(0, 128),
				brand: str(p.vendor)?.slice(0, 128),
			},
		});
		const item = str(v.inventory_item_id);
		if (item) ops.push({ kind: "inventory_item", platform: "shopify", item_id: item, sku });
	});
	const updated = optionalIsoMs(p.updated_at, "updated_at");
	return { plan: { subject: `product ${shopifyId(id)} (${records.length} variant${records.length === 1 ? "" : "s"})`, records, versions: updated === undefined ? [] : [{ object: `shopify:product:${id}`, version: updated }], ops } };
}

function mapInventoryLevel(l: Obj): Mapped {
	const item = idOf(l.inventory_item_id, "inventory_item_id");
	const location = idOf(l.location_id, "location_id");
	if (l.available === null) return ignored("the item is not tracked at this location (`available: null`)");
	if (typeof l.available !== "number" || !Number.isInteger(l.available) || Math.abs(l.available) > 1_000_000_000) throw new PayloadError("available", "must be a whole number");
	const updated = isoMs(l.updated_at, "updated_at");
	return {
		plan: {
			subject: `inventory item ${item} at location ${location}`,
			records: [],
			versions: [{ object: `shopify:inventory:${item}:${location}`, version: updated }],
			ops: [{ kind: "inventory_level", platform: "shopify", item_id: item, location_id: location, available: l.available, updated_at: updated }],
		},
	};
}

/** One verified Shopify delivery → a plan, or why it is ignored. Throws PayloadError for a malformed field. */
export async function mapShopify(topic: string, payload: unknown): Promise<Mapped> {
	const body = obj(payload);
	switch (topic) {
		case "orders/create":
		case "orders/updated":
		case "orders/cancelled":
			return mapOrder(body);
		case "refunds/create": {
			const refund = shopifyRefund(body, "refund");
			if (!refund) return ignored("a refund without a successful refund transaction moves no money (restock only)");
			return { plan: { subject: `refund ${String(refund.record.refund_id)}`, records: [refund], versions: [], ops: [] } };
		}
		case "customers/create":
		case "customers/update":
			return mapCustomer(body);
		case "products/create":
		case "products/update":
			return mapProduct(body);
		case "inventory_levels/update":
			return mapInventoryLevel(body);
		default:
			return ignored(`topic '${topic}' is not mapped (supported: ${SHOPIFY_TOPICS.join(", ")})`);
	}
}
