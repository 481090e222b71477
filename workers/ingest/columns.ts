/** The columns of a stored event that follow from the event itself (shared by /e and the events import). */
import { toMinor } from "../lib/money";
import type { StoredEvent } from "../pipeline/message";
import { classifySource } from "./classify";
import type { WireEvent } from "./schema";

/** Everything but who and where from (visitor, geo, device), which depend on how the event arrived. */
export type EventColumns = Omit<StoredEvent, "visitor" | "country" | "region" | "city" | "device" | "browser" | "os">;

export function eventColumns(e: WireEvent, site: string, siteCurrency: string, receivedAt: number): EventColumns {
	const url = new URL(e.url);
	const props = e.props ?? {};
	const currency = typeof props.currency === "string" ? props.currency : null;
	// Line value: explicit `value`, else unit price × qty (an add_to_cart of 3 is worth 3 units).
	const qty = typeof props.qty === "number" ? props.qty : 1;
	const value = typeof props.value === "number" ? props.value : typeof props.price === "number" ? props.price * qty : null;
	return {
		site,
		id: e.id,
		name: e.name,
		ts: e.ts,
		received_at: receivedAt,
		customer_id: e.customer_id ?? null,
		url: e.url,
		host: url.hostname,
		path: url.pathname,
		referrer: e.referrer || null,
		...classifySource(url, e.referrer),
		order_id: typeof props.order_id === "string" ? props.order_id : null,
		sku: typeof props.sku === "string" ? props.sku : null,
		value_minor: value === null ? null : toMinor(value, currency ?? siteCurrency),
		currency: value === null ? null : (currency ?? siteCurrency),
		props,
	};
}
