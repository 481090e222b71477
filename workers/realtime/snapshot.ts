/**
 * What the real-time engine shows, and the pure pieces around it: turning a stored event into what a
 * LiveSite counts, merging the partial views of several shard objects, and the delta between two
 * snapshots that the WebSocket pushes. No bindings here, so tests feed plain values.
 */
import type { StoredEvent } from "../pipeline/message";

/** What LiveSite needs of one accepted event (built by `liveEvent`). */
export interface LiveEvent {
	id: string;
	visitor: string;
	/** Event time, UTC epoch ms (decides the ledger day; windows use receive time). */
	ts: number;
	name: string;
	path: string;
	sku: string | null;
	/** Purchase value, minor units of `currency`. */
	valueMinor: number | null;
	currency: string | null;
	/** Units per SKU (purchase and checkout `items`). */
	items: { sku: string; qty: number }[];
	/** Funnel identity: the customer id when known, else the visitor. */
	person: string;
}

/** The site settings a LiveSite object works with (passed on every call; the Worker reads them from D1). */
export interface LiveSiteConfig {
	id: string;
	timezone: string;
	currency: string;
	/** Shard objects of the site (1 = a single object). */
	shards: number;
}

export interface WindowStats {
	/** Distinct visitors (HyperLogLog estimate). */
	visitors: number;
	pageViews: number;
	events: number;
	/** Purchase events. */
	orders: number;
	/** Purchase value in the site currency, minor units. */
	revenue: number;
	/** Purchases in another currency: counted in `orders`, not in `revenue`. */
	otherCurrencyOrders: number;
	byType: Record<string, number>;
}

export type WindowName = "m1" | "m5" | "m60" | "today";
export const WINDOW_MINUTES: Record<Exclude<WindowName, "today">, number> = { m1: 1, m5: 5, m60: 60 };

export interface MinutePoint {
	/** Start of the minute, UTC epoch ms. */
	minute: number;
	events: number;
	pageViews: number;
	visitors: number;
	orders: number;
	revenue: number;
}

export interface TopPage {
	path: string;
	views: number;
}

export interface TopProduct {
	sku: string;
	views: number;
	carts: number;
	/** Units purchased. */
	units: number;
}

export interface LiveFunnel {
	id: string;
	name: string;
	/** People who reached each step today (ordered, within the funnel's window). */
	steps: { event: string; label: string; users: number; conversionPct: number | null }[];
}

/** One shard's view: everything except what is read from D1 (fulfilment, stock). */
export interface LivePartial {
	now: number;
	/** The site's local day that `today` covers. */
	day: string;
	windows: Record<WindowName, WindowStats>;
	/** 60 points, oldest first; the last one is the current (partial) minute. */
	minutes: MinutePoint[];
	topPages: { m5: TopPage[]; m60: TopPage[] };
	topProducts: { m5: TopProduct[]; m60: TopProduct[] };
	funnels: LiveFunnel[];
}

export interface LiveSnapshot extends LivePartial {
	site: string;
	timezone: string;
	currency: string;
	shards: number;
	/**
	 * Orders placed today (local day) as the store reported them through the commerce APIs (D1 `orders`,
	 * non-cancelled, site currency; revenue = total − tax, as the revenue KPI): every sales channel,
	 * not only purchases tracked in the browser.
	 */
	salesToday: { orders: number; revenue: number; refreshedAt: number };
	/** Orders placed or paid and not yet shipped (commerce data in D1). */
	fulfilment: { pending: number; oldestPlacedAt: number | null; refreshedAt: number };
	/** SKUs whose latest stock is below their reorder point (commerce data in D1). */
	lowStock: { count: number; items: { sku: string; stock: number; reorderPoint: number }[]; refreshedAt: number };
	/** Compatibility with the first live counter: visitors in the last 5 minutes and the last hour, events in the last hour. */
	visitorsNow: number;
	visitors60m: number;
	events60m: number;
}

/** Top lists keep this many entries per shard, so a merge of shards ranks from more than it shows. */
export const TOP_KEEP = 50;
export const TOP_SHOW = 10;

/** What LiveSite counts of a stored event. */
export function liveEvent(e: StoredEvent): LiveEvent {
	const items: { sku: string; qty: number }[] = [];
	const raw = e.props.items;
	if (Array.isArray(raw)) {
		for (const it of raw) {
			if (it && typeof it === "object" && "sku" in it && typeof it.sku === "string") {
				const qty = "qty" in it && typeof it.qty === "number" && Number.isFinite(it.qty) ? it.qty : 1;
				items.push({ sku: it.sku, qty });
			}
		}
	}
	return { id: e.id, visitor: e.visitor, ts: e.ts, name: e.name, path: e.path, sku: e.sku, valueMinor: e.value_minor, currency: e.currency, items, person: e.customer_id ?? e.visitor };
}

export function emptyWindow(): WindowStats {
	return { visitors: 0, pageViews: 0, events: 0, orders: 0, revenue: 0, otherCurrencyOrders: 0, byType: {} };
}

function addWindow(a: WindowStats, b: WindowStats): WindowStats {
	const byType = { ...a.byType };
	for (const [k, n] of Object.entries(b.byType)) byType[k] = (byType[k] ?? 0) + n;
	return {
		// Shards partition visitors, so per-shard distinct counts add up.
		visitors: a.visitors + b.visitors,
		pageViews: a.pageViews + b.pageViews,
		events: a.events + b.events,
		orders: a.orders + b.orders,
		revenue: a.revenue + b.revenue,
		otherCurrencyOrders: a.otherCurrencyOrders + b.otherCurrencyOrders,
		byType,
	};
}

function mergeTop<T extends { views: number }>(lists: T[][], key: (t: T) => string, add: (a: T, b: T) => T, rank: (a: T, b: T) => number): T[] {
	const out = new Map<string, T>();
	for (const list of lists) for (const t of list) out.set(key(t), out.has(key(t)) ? add(out.get(key(t)) as T, t) : { ...t });
	return [...out.values()].sort(rank).slice(0, TOP_SHOW);
}

const pageRank = (a: TopPage, b: TopPage) => b.views - a.views || a.path.localeCompare(b.path);
const productRank = (a: TopProduct, b: TopProduct) => b.units - a.units || b.carts - a.carts || b.views - a.views || a.sku.localeCompare(b.sku);

/** Ranks one shard's lists for display (a single shard needs no merge). */
export function rankTop(p: { pages: TopPage[]; products: TopProduct[] }): { pages: TopPage[]; products: TopProduct[] } {
	return { pages: [...p.pages].sort(pageRank).slice(0, TOP_SHOW), products: [...p.products].sort(productRank).slice(0, TOP_SHOW) };
}

/**
 * Merges the partial views of a site's shards (same `now`): sums per window, per minute and per funnel
 * step, and re-ranks top lists from each shard's top TOP_KEEP (exact unless an entry misses a shard's
 * top 50 while counting elsewhere).
 */
export function mergePartials(parts: LivePartial[]): LivePartial {
	const [first, ...rest] = parts;
	if (!first) throw new Error("mergePartials needs at least one partial");
	const windows = { ...first.windows };
	for (const p of rest) for (const w of Object.keys(windows) as WindowName[]) windows[w] = addWindow(windows[w], p.windows[w]);
	const minutes = first.minutes.map((m, i) => {
		const out = { ...m };
		for (const p of rest) {
			const o = p.minutes[i];
			if (!o || o.minute !== m.minute) continue;
			out.events += o.events;
			out.pageViews += o.pageViews;
			out.visitors += o.visitors;
			out.orders += o.orders;
			out.revenue += o.revenue;
		}
		return out;
	});
	const addPage = (a: TopPage, b: TopPage): TopPage => ({ path: a.path, views: a.views + b.views });
	const addProduct = (a: TopProduct, b: TopProduct): TopProduct => ({ sku: a.sku, views: a.views + b.views, carts: a.carts + b.carts, units: a.units + b.units });
	const funnels = first.funnels.map((f) => {
		const steps = f.steps.map((s, i) => ({ ...s, users: s.users + rest.reduce((n, p) => n + (p.funnels.find((g) => g.id === f.id)?.steps[i]?.users ?? 0), 0) }));
		return { ...f, steps: withConversion(steps) };
	});
	return {
		now: first.now,
		day: first.day,
		windows,
		minutes,
		topPages: {
			m5: mergeTop(parts.map((p) => p.topPages.m5), (t) => t.path, addPage, pageRank),
			m60: mergeTop(parts.map((p) => p.topPages.m60), (t) => t.path, addPage, pageRank),
		},
		topProducts: {
			m5: mergeTop(parts.map((p) => p.topProducts.m5), (t) => t.sku, addProduct, productRank),
			m60: mergeTop(parts.map((p) => p.topProducts.m60), (t) => t.sku, addProduct, productRank),
		},
		funnels,
	};
}

/** Step conversion from the previous step, in % with one decimal (null for the first step or an empty previous step). */
export function withConversion<T extends { users: number }>(steps: T[]): (T & { conversionPct: number | null })[] {
	return steps.map((s, i) => {
		const prev = i === 0 ? undefined : steps[i - 1];
		return { ...s, conversionPct: prev && prev.users > 0 ? Math.round((s.users / prev.users) * 1000) / 10 : null };
	});
}

/**
 * The top-level keys whose value changed between two snapshots, with their new values: what a live
 * subscriber receives (at most once a second). `now` always changes and is always sent.
 */
export function snapshotDelta(before: LiveSnapshot, after: LiveSnapshot): Partial<LiveSnapshot> {
	const out: Record<string, unknown> = {};
	for (const key of Object.keys(after) as (keyof LiveSnapshot)[]) {
		if (key === "now") continue;
		if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = after[key];
	}
	return Object.keys(out).length ? { now: after.now, ...out } : {};
}
