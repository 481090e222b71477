/**
 * WooCommerce webhooks → our records (pure). Payloads are the WooCommerce REST API v3 resources (order,
 * customer, product) Woo sends per topic; amounts are decimal strings in the order's `currency`, times are
 * read from the `*_gmt` fields (UTC without an offset).
 *
 * Signature: `X-WC-Webhook-Signature` = base64 HMAC-SHA256(secret, raw body). When a webhook is saved, Woo
 * pings the URL with the form body `webhook_id=<id>` (unsigned): answered 200, nothing written.
 */
import { currencyDigits, toMinor } from "../lib/money";
import {
	arr,
	countryCode,
	currencyCode,
	customerId,
	decimal,
	idOf,
	ignored,
	minorToDecimal,
	obj,
	optionalDecimal,
	optionalIsoMs,
	PayloadError,
	str,
	type CustomOp,
	type Mapped,
	type MappedRecord,
	type Obj,
} from "./common";

export const WOO_TOPICS = ["order.created", "order.updated", "customer.created", "customer.updated", "product.created", "product.updated", "product.restored"] as const;

export const wooId = (id: string) => `woo:${id}`;

/** A line's or product's SKU, or `woo-product:<id>` (Woo allows empty SKUs); a variation is its own product. */
export function wooSku(sku: unknown, productId: unknown, variationId?: unknown): string {
	const s = str(sku);
	if (s) return s;
	const v = str(variationId);
	if (v && v !== "0") return `woo-product:${v}`;
	const p = str(productId);
	if (p && p !== "0") return `woo-product:${p}`;
	throw new PayloadError("line_items[].sku", "a line without SKU or product id");
}

/**
 * Our order status from Woo's: completed → shipped (Woo completes an order when it is fulfilled),
 * processing → paid, pending/on-hold → placed, cancelled/failed/trash → cancelled, refunded → refunded.
 * `checkout-draft` is a cart, not an order (null: ignored).
 */
export function wooStatus(status: string | undefined): string | null {
	switch ((status ?? "").replace(/^wc-/, "")) {
		case "completed":
			return "shipped";
		case "processing":
			return "paid";
		case "pending":
		case "on-hold":
			return "placed";
		case "cancelled":
		case "failed":
		case "trash":
			return "cancelled";
		case "refunded":
			return "refunded";
		case "checkout-draft":
			return null;
		default:
			throw new PayloadError("status", `unknown order status '${status ?? ""}'`);
	}
}

/** Time of a Woo resource: the `_gmt` field (UTC), else the site-local one read as UTC. */
const wooTime = (o: Obj, field: string) => optionalIsoMs(o[`${field}_gmt`], `${field}_gmt`) ?? optionalIsoMs(o[field], field);

/**
 * Woo line items carry `subtotal` (before coupons) and `total` (after), both for the whole line; our line is
 * qty × unit price, so the unit price is subtotal ÷ qty, rounded half up to the currency's minor unit when it
 * does not divide (the order's total then stays Woo's own).
 */
export function unitPrice(subtotal: string, qty: number, currency: string, digits = currencyDigits(currency)): string {
	return minorToDecimal(Math.round(toMinor(subtotal, currency) / qty), digits);
}

async function mapOrder(o: Obj): Promise<Mapped> {
	const id = idOf(o.id, "id");
	const status = wooStatus(str(o.status));
	if (status === null) return ignored("a checkout draft is a cart, not an order");
	const currency = currencyCode(o.currency, "currency");
	const digits = currencyDigits(currency);
	const placed = wooTime(o, "date_created");
	if (placed === undefined) throw new PayloadError("date_created_gmt", "missing");
	const billing = obj(o.billing);
	const buyer = await customerId("woo", str(billing.email), str(o.customer_id), id);
	const items = arr(o.line_items).map((raw, i) => {
		const l = obj(raw);
		const qty = l.quantity;
		if (typeof qty !== "number" || !Number.isInteger(qty) || qty < 1) throw new PayloadError(`line_items[${i}].quantity`, "must be a whole number ≥ 1");
		return { sku: wooSku(l.sku, l.product_id, l.variation_id), qty, unit_price: unitPrice(decimal(l.subtotal, `line_items[${i}].subtotal`), qty, currency, digits) };
	});
	const paid = wooTime(o, "date_paid");
	const completed = wooTime(o, "date_completed");
	const records: MappedRecord[] = [
		{
			entity: "orders",
			record: {
				order_id: wooId(id),
				customer_id: buyer,
				placed_at: placed,
				total: decimal(o.total, "total"),
				currency,
				discount: optionalDecimal(o.discount_total, "discount_total"),
				shipping: optionalDecimal(o.shipping_total, "shipping_total"),
				tax: optionalDecimal(o.total_tax, "total_tax"),
				coupon: str(obj(arr(o.coupon_lines)[0]).code)?.slice(0, 64),
				status,
				paid_at: status === "placed" || status === "cancelled" ? undefined : paid,
				shipped_at: status === "shipped" ? completed : undefined,
				items,
			},
		},
	];
	const modified = wooTime(o, "date_modified") ?? placed;
	// Woo has no refund topic: a refund fires order.updated with the refund in `refunds` (id, reason, total as a
	// negative amount) but no date, so the refund is dated when it is first seen and keeps that date.
	const ops: CustomOp[] = arr(o.refunds).map((raw, i) => {
		const r = obj(raw);
		const amount = decimal(r.total, `refunds[${i}].total`).replace(/^-/, "");
		return { kind: "refund_first_seen", refund_id: wooId(`refund:${idOf(r.id, `refunds[${i}].id`)}`), order_id: wooId(id), created_at: modified, amount_minor: toMinor(amount, currency), currency, reason: str(r.reason)?.slice(0, 256) ?? null };
	});
	ops.push({ kind: "customer_if_absent", customer_id: buyer, created_at: placed, country: countryCode(billing.country) ?? countryCode(obj(o.shipping).country) ?? null });
	return { plan: { subject: `order ${wooId(id)}`, records, versions: [{ object: `woo:order:${id}`, version: modified }], ops } };
}

async function mapCustomer(c: Obj): Promise<Mapped> {
	const id = idOf(c.id, "id");
	const email = str(c.email);
	const name = [str(c.first_name), str(c.last_name)].filter(Boolean).join(" ");
	const created = wooTime(c, "date_created");
	if (created === undefined) throw new PayloadError("date_created_gmt", "missing");
	const record = { customer_id: await customerId("woo", email, id), created_at: created, email, name: name || undefined, country: countryCode(obj(c.billing).country) };
	const modified = wooTime(c, "date_modified") ?? created;
	return { plan: { subject: `customer ${record.customer_id}`, records: [{ entity: "customers", record }], versions: [{ object: `woo:customer:${id}`, version: modified }], ops: [] } };
}

function mapProduct(p: Obj): Mapped {
	const id = idOf(p.id, "id");
	if (p.type === "variable") return ignored("a variable product has no price of its own (its variations are products with their own webhooks in WooCommerce ≥ 3.x REST: not mapped)");
	const price = optionalDecimal(p.price, "price") ?? optionalDecimal(p.regular_price, "regular_price");
	if (price === undefined) return ignored("a product without a price");
	const name = str(p.name);
	if (!name) throw new PayloadError("name", "missing");
	const sku = wooSku(p.sku, p.id);
	const modified = wooTime(p, "date_modified") ?? wooTime(p, "date_created");
	if (modified === undefined) throw new PayloadError("date_modified_gmt", "missing");
	const records: MappedRecord[] = [
		{ entity: "products", record: { sku, name: name.slice(0, 256), price, category: str(obj(arr(p.categories)[0]).name)?.slice(0, 128), brand: str(obj(arr(p.brands)[0]).name)?.slice(0, 128) } },
	];
	// A product that manages its stock reports it: one inventory snapshot at the modification time.
	if (p.manage_stock === true && typeof p.stock_quantity === "number" && Number.isInteger(p.stock_quantity)) {
		records.push({ entity: "inventory", record: { sku, taken_at: modified, stock: p.stock_quantity, reorder_point: typeof p.low_stock_amount === "number" ? p.low_stock_amount : undefined } });
	}
	return { plan: { subject: `product ${wooId(id)}`, records, versions: [{ object: `woo:product:${id}`, version: modified }], ops: [] } };
}

/** One verified WooCommerce delivery → a plan, or why it is ignored. Throws PayloadError for a malformed field. */
export async function mapWoo(topic: string, payload: unknown): Promise<Mapped> {
	const body = obj(payload);
	switch (topic) {
		case "order.created":
		case "order.updated":
			return mapOrder(body);
		case "customer.created":
		case "customer.updated":
			return mapCustomer(body);
		case "product.created":
		case "product.updated":
		case "product.restored":
			return mapProduct(body);
		case "order.deleted":
		case "customer.deleted":
		case "product.deleted":
			return ignored(`'${topic}' is not applied: records are kept for the history (erase a customer with DELETE /api/v1/customers/{id})`);
		default:
			return ignored(`topic '${topic}' is not mapped (supported: ${WOO_TOPICS.join(", ")})`);
	}
}
