/**
 * Backfill from the platforms' CSV order exports (pure; `scripts/connect.mjs` bundles this file with
 * esbuild and sends the records through the bulk import API). Same ids and identity rule as the webhooks
 * (`shopify:<order id>`, `em_<hash>` customers), so a backfill and the live webhooks meet in the same rows.
 *
 * Shopify: Admin → Orders → Export (one row per line item; the order's fields on its first row). Columns read:
 *   Id, Name, Email, Financial Status, Paid at, Fulfillment Status, Fulfilled at, Currency, Subtotal, Shipping,
 *   Taxes, Total, Discount Code, Discount Amount, Created at, Lineitem quantity, Lineitem price, Lineitem sku,
 *   Lineitem name, Billing Name, Billing Country, Cancelled at, Refunded Amount.
 * WooCommerce: the "Customer / Order / Coupon Export" extension's default CSV, one row per line item. Columns read:
 *   order_id, order_date, status, order_currency, customer_id, billing_email, billing_first_name, billing_last_name,
 *   billing_country, shipping_total, tax_total, discount_total, order_total, refunded_total, item_sku, item_name,
 *   item_product_id, item_quantity, item_subtotal.
 */
import { countryCode, customerId, decimal, isoMs, optionalIsoMs, PayloadError, str, sumDecimals, type RecordValue } from "./common";
import { shopifyStatus } from "./shopify";
import { unitPrice, wooSku, wooStatus } from "./woocommerce";

type Rec = Record<string, RecordValue>;

/** RFC 4180 CSV → rows of cells (quoted cells may hold commas, quotes and line breaks; a BOM is dropped). */
export function parseCsv(text: string): string[][] {
	const rows: string[][] = [];
	let row: string[] = [];
	let cell = "";
	let quoted = false;
	let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
	for (; i < text.length; i++) {
		const ch = text[i];
		if (quoted) {
			if (ch === '"') {
				if (text[i + 1] === '"') {
					cell += '"';
					i++;
				} else quoted = false;
			} else cell += ch;
		} else if (ch === '"' && cell === "") quoted = true;
		else if (ch === ",") {
			row.push(cell);
			cell = "";
		} else if (ch === "\n" || ch === "\r") {
			if (ch === "\r" && text[i + 1] === "\n") i++;
			row.push(cell);
			if (row.length > 1 || row[0] !== "") rows.push(row);
			row = [];
			cell = "";
		} else cell += ch;
	}
	if (cell !== "" || row.length) {
		row.push(cell);
		rows.push(row);
	}
	return rows;
}

/** Rows as objects keyed by the header row. */
export function csvObjects(text: string): Record<string, string>[] {
	const [header, ...rows] = parseCsv(text);
	if (!header) return [];
	return rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), r[i] ?? ""])));
}

/** What a CSV export becomes: records per import entity, and the rows that could not be mapped (`line`: the order's first row, counting the header as 1 and a quoted line break as no new row). */
export interface Backfill {
	orders: Rec[];
	customers: Rec[];
	refunds: Rec[];
	rejects: { line: number; reason: string }[];
}

/** Groups consecutive rows by an order key, keeping each row's file line. */
function groups(rows: Record<string, string>[], key: string): { first: Record<string, string>; rows: Record<string, string>[]; line: number }[] {
	const out = new Map<string, { first: Record<string, string>; rows: Record<string, string>[]; line: number }>();
	rows.forEach((r, i) => {
		const k = r[key] ?? "";
		const g = out.get(k);
		if (g) g.rows.push(r);
		else out.set(k, { first: r, rows: [r], line: i + 2 });
	});
	return [...out.values()];
}

/** Keeps the earliest order per customer as the customer's created_at, and the first name/country seen. */
function addCustomer(customers: Map<string, Rec>, id: string, at: number, email: string | undefined, name: string | undefined, country: string | undefined) {
	const c = customers.get(id);
	if (!c) customers.set(id, { customer_id: id, created_at: at, email, name, country });
	else if (typeof c.created_at === "number" && at < c.created_at) c.created_at = at;
}

const positive = (s: string | undefined) => s !== undefined && /^\d+(\.\d+)?$/.test(s) && Number(s) > 0;

/** Shopify's orders export → records (see the module comment for the columns). */
export async function mapShopifyCsv(text: string): Promise<Backfill> {
	const out: Backfill = { orders: [], customers: [], refunds: [], rejects: [] };
	const customers = new Map<string, Rec>();
	for (const g of groups(csvObjects(text), "Name")) {
		try {
			const o = g.first;
			// The export's Id is the order id the webhooks use; without it the Name (#1001) stands in (and will not meet webhook rows).
			const orderId = str(o.Id) ? `shopify:${o.Id}` : `shopify:name:${str(o.Name) ?? ""}`;
			const currency = str(o.Currency)?.toUpperCase() ?? "";
			const placed = isoMs(o["Created at"], "Created at");
			const email = str(o.Email);
			const buyer = await customerId("shopify", email, undefined, orderId.slice("shopify:".length));
			const financial = str(o["Financial Status"]);
			const status = shopifyStatus(financial, str(o["Fulfillment Status"]), str(o["Cancelled at"]) !== undefined);
			const items = g.rows
				.filter((r) => str(r["Lineitem quantity"]))
				.map((r) => ({ sku: str(r["Lineitem sku"]) ?? `shopify-name:${(str(r["Lineitem name"]) ?? "unnamed").slice(0, 100)}`, qty: Number(r["Lineitem quantity"]), unit_price: decimal(r["Lineitem price"], "Lineitem price") }));
			const paid = optionalIsoMs(o["Paid at"], "Paid at");
			out.orders.push({
				order_id: orderId,
				customer_id: buyer,
				placed_at: placed,
				total: decimal(o.Total, "Total"),
				currency,
				discount: str(o["Discount Amount"]) ? decimal(o["Discount Amount"], "Discount Amount") : undefined,
				shipping: str(o.Shipping) ? decimal(o.Shipping, "Shipping") : undefined,
				tax: str(o.Taxes) ? decimal(o.Taxes, "Taxes") : undefined,
				coupon: str(o["Discount Code"])?.slice(0, 64),
				status,
				paid_at: status === "placed" || status === "cancelled" ? undefined : Math.max(placed, paid ?? placed),
				shipped_at: status === "shipped" ? optionalIsoMs(o["Fulfilled at"], "Fulfilled at") : undefined,
				items,
			});
			// The export has no refund dates: the refunded amount is dated at the order (README, Connectors).
			if (positive(str(o["Refunded Amount"]))) {
				out.refunds.push({ refund_id: `${orderId}:csv-refund`, order_id: orderId, created_at: placed, amount: sumDecimals([decimal(o["Refunded Amount"], "Refunded Amount")], currency), currency });
			}
			addCustomer(customers, buyer, placed, email, str(o["Billing Name"]), countryCode(o["Billing Country"]));
		} catch (err) {
			out.rejects.push({ line: g.line, reason: err instanceof PayloadError ? `${err.field}: ${err.message}` : String(err) });
		}
	}
	out.customers = [...customers.values()];
	return out;
}

/** WooCommerce's order export → records (see the module comment for the columns). */
export async function mapWooCsv(text: string): Promise<Backfill> {
	const out: Backfill = { orders: [], customers: [], refunds: [], rejects: [] };
	const customers = new Map<string, Rec>();
	for (const g of groups(csvObjects(text), "order_id")) {
		try {
			const o = g.first;
			const id = str(o.order_id);
			if (!id) throw new PayloadError("order_id", "missing");
			const status = wooStatus(str(o.status));
			if (status === null) continue;
			const orderId = `woo:${id}`;
			const currency = str(o.order_currency)?.toUpperCase() ?? "";
			const placed = isoMs(o.order_date, "order_date");
			const email = str(o.billing_email);
			const buyer = await customerId("woo", email, str(o.customer_id), id);
			const items = g.rows
				.filter((r) => str(r.item_quantity))
				.map((r) => {
					const qty = Number(r.item_quantity);
					if (!Number.isInteger(qty) || qty < 1) throw new PayloadError("item_quantity", "must be a whole number ≥ 1");
					return { sku: wooSku(r.item_sku, r.item_product_id), qty, unit_price: unitPrice(decimal(r.item_subtotal, "item_subtotal"), qty, currency) };
				});
			out.orders.push({
				order_id: orderId,
				customer_id: buyer,
				placed_at: placed,
				total: decimal(o.order_total, "order_total"),
				currency,
				discount: str(o.discount_total) ? decimal(o.discount_total, "discount_total") : undefined,
				shipping: str(o.shipping_total) ? decimal(o.shipping_total, "shipping_total") : undefined,
				tax: str(o.tax_total) ? decimal(o.tax_total, "tax_total") : undefined,
				status,
				items,
			});
			if (positive(str(o.refunded_total))) out.refunds.push({ refund_id: `${orderId}:csv-refund`, order_id: orderId, created_at: placed, amount: decimal(o.refunded_total, "refunded_total"), currency });
			const name = [str(o.billing_first_name), str(o.billing_last_name)].filter(Boolean).join(" ");
			addCustomer(customers, buyer, placed, email, name || undefined, countryCode(o.billing_country));
		} catch (err) {
			out.rejects.push({ line: g.line, reason: err instanceof PayloadError ? `${err.field}: ${err.message}` : String(err) });
		}
	}
	out.customers = [...customers.values()];
	return out;
}
