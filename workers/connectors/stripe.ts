/**
 * Stripe events → our records (pure). Stripe amounts are integers in the currency's smallest unit as
 * Stripe defines it (cents; yen for zero-decimal currencies), currencies lower-case, times unix seconds.
 *
 * What feeds what: invoice.paid → a paid order (a subscription order when the invoice belongs to a
 * subscription: MRR and ARR are the KPI engine's sums of subscription order revenue); charge.succeeded → a
 * paid order for a one-off charge (an invoice's charge is its invoice's order); charge.refunded → refunds
 * (net revenue); customer.subscription.* → the customer's subscription status.
 *
 * Signature: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=…]`, within
 * 5 minutes; a repeat is recognised by the event id.
 */
import { toMinor } from "../lib/money";
import { arr, currencyCode, customerId, idOf, ignored, minorToDecimal, obj, PayloadError, str, unixMs, type CustomOp, type Mapped, type MappedRecord, type Obj } from "./common";

export const STRIPE_EVENTS = ["charge.succeeded", "charge.refunded", "invoice.paid", "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"] as const;

/** Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal). */
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
/** Stripe's three-decimal currencies. */
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/**
 * A Stripe amount → a decimal string in currency units. Stripe's decimals can differ from ISO 4217 (ISK is
 * zero-decimal in ISO, two-decimal at Stripe), so Stripe's own table divides and the entity then checks the
 * result against the ISO digits (ISK 50000 → "500.00" → 500 ISK).
 */
export function stripeAmount(v: unknown, currency: string, field: string): string {
	if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new PayloadError(field, "must be an integer amount in the smallest currency unit");
	const digits = ZERO_DECIMAL.has(currency) ? 0 : THREE_DECIMAL.has(currency) ? 3 : 2;
	return minorToDecimal(v, digits);
}

/** `stripe:<id>`: our id of a Stripe object (cus_…, in_…, ch_…, re_…). */
export const stripeId = (id: string) => `stripe:${id}`;

/**
 * Our subscription status from Stripe's: active, trialing and past_due (still subscribed, a payment being
 * retried) → active; paused → paused; canceled, unpaid (Stripe stopped retrying) and incomplete_expired →
 * cancelled; incomplete (first payment not made) → none.
 */
export function subscriptionStatus(status: string | undefined): "active" | "paused" | "cancelled" | "none" {
	switch (status) {
		case "active":
		case "trialing":
		case "past_due":
			return "active";
		case "paused":
			return "paused";
		case "canceled":
		case "unpaid":
		case "incomplete_expired":
			return "cancelled";
		case "incomplete":
			return "none";
		default:
			throw new PayloadError("data.object.status", `unknown subscription status '${status ?? ""}'`);
	}
}

async function buyer(customer: unknown, email: string | undefined, orderId: string): Promise<string> {
	const cus = typeof customer === "string" ? customer : str(obj(customer).id);
	// Stripe's customer object is the identity (subscription events carry nothing else); e-mail only for guests.
	if (cus) return stripeId(cus);
	return customerId("stripe", email, undefined, orderId);
}

async function mapInvoice(inv: Obj): Promise<Mapped> {
	const id = idOf(inv.id, "data.object.id");
	const currency = currencyCode(inv.currency, "data.object.currency");
	const amount = (v: unknown, field: string) => stripeAmount(v, currency, `data.object.${field}`);
	const lines = arr(obj(inv.lines).data).map(obj);
	// Proration credits are negative lines: they count as discount, so the lines stay non-negative and
	// items − discount + tax = total still holds.
	let credits = 0;
	const items: MappedRecord["record"][] = [];
	lines.forEach((l, i) => {
		const lineAmount = l.amount;
		if (typeof lineAmount !== "number" || !Number.isSafeInteger(lineAmount)) throw new PayloadError(`data.object.lines.data[${i}].amount`, "must be an integer amount");
		if (lineAmount < 0) {
			credits -= lineAmount;
			return;
		}
		const price = obj(l.price ?? l.plan);
		const qty = typeof l.quantity === "number" && l.quantity > 0 ? l.quantity : 1;
		const sku = str(price.product) ?? str(price.id) ?? str(l.id);
		if (!sku) throw new PayloadError(`data.object.lines.data[${i}].price`, "a line without price or product");
		const unit = typeof price.unit_amount === "number" && price.unit_amount * qty === lineAmount ? price.unit_amount : Math.round(lineAmount / qty);
		items.push({ sku: stripeId(sku), qty, unit_price: amount(unit, `lines.data[${i}].price.unit_amount`) });
	});
	const discounts = arr(inv.total_discount_amounts).reduce<number>((s, d) => s + (typeof obj(d).amount === "number" ? (obj(d).amount as number) : 0), 0);
	const taxes = typeof inv.tax === "number" ? inv.tax : arr(inv.total_taxes ?? inv.total_tax_amounts).reduce<number>((s, t) => s + (typeof obj(t).amount === "number" ? (obj(t).amount as number) : 0), 0);
	const placed = unixMs(inv.created, "data.object.created");
	const paidAt = typeof obj(inv.status_transitions).paid_at === "number" ? unixMs(obj(inv.status_transitions).paid_at, "data.object.status_transitions.paid_at") : placed;
	const subscription = str(inv.subscription) ?? str(obj(obj(inv.parent).subscription_details).subscription);
	const order = {
		order_id: stripeId(id),
		customer_id: await buyer(inv.customer, str(inv.customer_email), id),
		placed_at: placed,
		total: amount(inv.total, "total"),
		currency,
		subtotal: items.length ? undefined : amount(inv.subtotal, "subtotal"),
		discount: amount(discounts + credits, "total_discount_amounts"),
		tax: amount(taxes, "tax"),
		status: "paid",
		paid_at: Math.max(placed, paidAt),
		is_subscription: subscription !== undefined,
		items: items.length ? items : undefined,
	};
	const ops: CustomOp[] = [{ kind: "customer_if_absent", customer_id: order.customer_id, created_at: placed, country: null }];
	return { plan: { subject: `invoice ${stripeId(id)}${subscription ? ` (subscription ${subscription})` : ""}`, records: [{ entity: "orders", record: order }], versions: [], ops } };
}

/** The order a charge belongs to: its invoice's, or its own. */
const chargeOrder = (ch: Obj, id: string) => stripeId(str(ch.invoice) ?? id);

async function mapChargeSucceeded(ch: Obj): Promise<Mapped> {
	const id = idOf(ch.id, "data.object.id");
	if (str(ch.invoice)) return ignored(`the charge pays invoice ${String(ch.invoice)}: counted by invoice.paid`);
	if (str(obj(ch.metadata).order_id)) return ignored("the charge carries metadata.order_id: a store platform's order (counted by its own connector)");
	const currency = currencyCode(ch.currency, "data.object.currency");
	const billing = obj(ch.billing_details);
	const placed = unixMs(ch.created, "data.object.created");
	const order = {
		order_id: stripeId(id),
		customer_id: await buyer(ch.customer, str(billing.email) ?? str(ch.receipt_email), id),
		placed_at: placed,
		total: stripeAmount(ch.amount, currency, "data.object.amount"),
		currency,
		status: ch.captured === false ? "placed" : "paid",
		paid_at: ch.captured === false ? undefined : placed,
	};
	const country = str(obj(billing.address).country)?.toUpperCase() ?? null;
	const ops: CustomOp[] = [{ kind: "customer_if_absent", customer_id: order.customer_id, created_at: placed, country: country && /^[A-Z]{2}$/.test(country) ? country : null }];
	return { plan: { subject: `charge ${stripeId(id)}`, records: [{ entity: "orders", record: order }], versions: [], ops } };
}

function mapChargeRefunded(ch: Obj, eventCreated: number): Mapped {
	const id = idOf(ch.id, "data.object.id");
	const currency = currencyCode(ch.currency, "data.object.currency");
	const orderId = chargeOrder(ch, id);
	const refunds = obj(ch.refunds);
	// API versions before 2022-11-15 list the charge's refunds: one record each, with its own id and date.
	if (Array.isArray(refunds.data)) {
		const records: MappedRecord[] = refunds.data.map(obj).filter((r) => r.status === undefined || r.status === "succeeded" || r.status === "pending").map((r, i) => ({
			entity: "refunds",
			record: {
				refund_id: stripeId(idOf(r.id, `data.object.refunds.data[${i}].id`)),
				order_id: orderId,
				created_at: unixMs(r.created, `data.object.refunds.data[${i}].created`),
				amount: stripeAmount(r.amount, currencyCode(r.currency ?? ch.currency, `data.object.refunds.data[${i}].currency`), `data.object.refunds.data[${i}].amount`),
				currency: currencyCode(r.currency ?? ch.currency, `data.object.refunds.data[${i}].currency`),
				reason: str(r.reason)?.slice(0, 256),
			},
		}));
		if (!records.length) return ignored("no succeeded refund in data.object.refunds");
		return { plan: { subject: `refunds of charge ${stripeId(id)}`, records, versions: [], ops: [] } };
	}
	// Later versions send only the cumulative `amount_refunded`: one record per charge that follows it, dated when
	// first seen; the event time is the version, so an older event cannot lower the amount.
	const minor = toMinor(stripeAmount(ch.amount_refunded, currency, "data.object.amount_refunded"), currency);
	return {
		plan: {
			subject: `refunds of charge ${stripeId(id)}`,
			records: [],
			versions: [{ object: `stripe:charge-refunds:${id}`, version: eventCreated }],
			ops: [{ kind: "refund_first_seen", refund_id: stripeId(`${id}:refunds`), order_id: orderId, created_at: eventCreated, amount_minor: minor, currency, reason: null }],
		},
	};
}

function mapSubscription(sub: Obj, deleted: boolean, eventCreated: number): Mapped {
	const id = idOf(sub.id, "data.object.id");
	const cus = typeof sub.customer === "string" ? sub.customer : str(obj(sub.customer).id);
	if (!cus) throw new PayloadError("data.object.customer", "missing");
	const status = deleted ? "cancelled" : subscriptionStatus(str(sub.status));
	return {
		plan: {
			subject: `subscription ${stripeId(id)} of ${stripeId(cus)}: ${status}`,
			records: [],
			versions: [{ object: `stripe:subscription:${id}`, version: eventCreated }],
			ops: [{ kind: "subscription", customer_id: stripeId(cus), created_at: unixMs(sub.start_date ?? sub.created, "data.object.start_date"), status }],
		},
	};
}

/** The event's id, for the replay record. */
export function stripeEventId(event: unknown): string {
	const id = str(obj(event).id);
	if (!id || !/^evt_[A-Za-z0-9]{1,100}$/.test(id)) throw new PayloadError("id", "must be a Stripe event id (evt_…)");
	return id;
}

/** One verified Stripe event → a plan, or why it is ignored. Throws PayloadError for a malformed field. */
export async function mapStripe(event: unknown): Promise<Mapped> {
	const e = obj(event);
	const type = str(e.type) ?? "";
	const object = obj(obj(e.data).object);
	const created = unixMs(e.created, "created");
	switch (type) {
		case "invoice.paid":
			return mapInvoice(object);
		case "charge.succeeded":
			return mapChargeSucceeded(object);
		case "charge.refunded":
			return mapChargeRefunded(object, created);
		case "customer.subscription.created":
		case "customer.subscription.updated":
			return mapSubscription(object, false, created);
		case "customer.subscription.deleted":
			return mapSubscription(object, true, created);
		default:
			return ignored(`event type '${type}' is not mapped (supported: ${STRIPE_EVENTS.join(", ")})`);
	}
}
