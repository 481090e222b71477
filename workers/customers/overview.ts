/**
 * The Customers page's segments, pure: customers who ordered in a range, counted by country,
 * acquisition channel and device, new against returning, and by purchase frequency. The D1 reader
 * (read.ts) hands in one row per customer and the device tallies of their identified events.
 */

/** Purchase frequency buckets: customers by their (non-cancelled) orders in the range. */
export const FREQUENCY_BUCKETS = ["1", "2", "3", "4-5", "6-10", "11+"] as const;
export type FrequencyBucket = (typeof FREQUENCY_BUCKETS)[number];

/** A key that has no value (no customer record, no country, no identified event). */
export const UNKNOWN = "unknown";

/** The bucket of a customer with `orders` orders in the range (1 or more). */
export function frequencyBucket(orders: number): FrequencyBucket {
	if (orders <= 3) return String(Math.max(1, orders)) as "1" | "2" | "3";
	if (orders <= 5) return "4-5";
	if (orders <= 10) return "6-10";
	return "11+";
}

/** One customer with non-cancelled orders in the range. */
export interface RangeCustomer {
	customerId: string;
	/** Non-cancelled orders placed in the range. */
	orders: number;
	/** Their revenue, total − tax, minor units of the site currency. */
	revenueMinor: number;
	/** From the customer record; null without one. */
	country: string | null;
	/** Acquisition channel from the customer record; null when the record has none. */
	channel: string | null;
	/** The customer's first-ever non-cancelled order (UTC epoch ms) and its channel. */
	firstOrderAt: number;
	firstOrderChannel: string | null;
}

/** Identified events (customer_id set) of one customer on one device. */
export interface DeviceTally {
	customerId: string;
	device: string;
	events: number;
	/** The latest of these events, UTC epoch ms. */
	lastTs: number;
}

/**
 * Each customer's device: the one with most identified events; a tie goes to the device of the most
 * recent event, then to the first name in alphabetical order.
 */
export function primaryDevices(tallies: readonly DeviceTally[]): Map<string, string> {
	const best = new Map<string, DeviceTally>();
	for (const t of tallies) {
		const b = best.get(t.customerId);
		if (!b || t.events > b.events || (t.events === b.events && (t.lastTs > b.lastTs || (t.lastTs === b.lastTs && t.device < b.device)))) best.set(t.customerId, t);
	}
	return new Map([...best].map(([id, t]) => [id, t.device]));
}

/** The acquisition channel: the customer record's, else the first order's, else "unknown". */
export function acquisitionChannel(c: Pick<RangeCustomer, "channel" | "firstOrderChannel">): string {
	return c.channel ?? c.firstOrderChannel ?? UNKNOWN;
}

export interface Segment {
	key: string;
	customers: number;
	orders: number;
	revenueMinor: number;
}

export interface Overview {
	customers: number;
	orders: number;
	revenueMinor: number;
	/** First-ever order inside the range. */
	newCustomers: number;
	/** First order before the range. */
	returningCustomers: number;
	byCountry: Segment[];
	byChannel: Segment[];
	byDevice: Segment[];
	/** Every bucket, in FREQUENCY_BUCKETS order (zeros included). */
	frequency: Segment[];
}

/** Segments sorted by customers (most first), then key. */
function segments(groups: Map<string, Segment>): Segment[] {
	return [...groups.values()].sort((a, b) => b.customers - a.customers || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function add(groups: Map<string, Segment>, key: string, c: RangeCustomer): void {
	let g = groups.get(key);
	if (!g) groups.set(key, (g = { key, customers: 0, orders: 0, revenueMinor: 0 }));
	g.customers++;
	g.orders += c.orders;
	g.revenueMinor += c.revenueMinor;
}

/**
 * Counts the customers who ordered in the range (`rangeStart`: its first instant, UTC epoch ms) by
 * country, acquisition channel, device (`devices`: customer → device; "unknown" when absent),
 * new/returning and purchase frequency.
 */
export function customerOverview(customers: readonly RangeCustomer[], devices: ReadonlyMap<string, string>, rangeStart: number): Overview {
	const byCountry = new Map<string, Segment>();
	const byChannel = new Map<string, Segment>();
	const byDevice = new Map<string, Segment>();
	const frequency = new Map<string, Segment>(FREQUENCY_BUCKETS.map((b) => [b, { key: b, customers: 0, orders: 0, revenueMinor: 0 }]));
	let orders = 0;
	let revenueMinor = 0;
	let newCustomers = 0;
	for (const c of customers) {
		orders += c.orders;
		revenueMinor += c.revenueMinor;
		if (c.firstOrderAt >= rangeStart) newCustomers++;
		add(byCountry, c.country ?? UNKNOWN, c);
		add(byChannel, acquisitionChannel(c), c);
		add(byDevice, devices.get(c.customerId) ?? UNKNOWN, c);
		add(frequency, frequencyBucket(c.orders), c);
	}
	return {
		customers: customers.length,
		orders,
		revenueMinor,
		newCustomers,
		returningCustomers: customers.length - newCustomers,
		byCountry: segments(byCountry),
		byChannel: segments(byChannel),
		byDevice: segments(byDevice),
		frequency: [...frequency.values()],
	};
}

/** `part` as a percentage of `whole`, 4 decimals; null over zero. */
export function pct(part: number, whole: number): number | null {
	return whole === 0 ? null : Math.round((1_000_000 * part) / whole) / 10_000;
}
