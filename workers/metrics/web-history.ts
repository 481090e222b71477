/**
 * Web history as daily aggregates (the `web_daily` entity, migration 0026) from events that are not kept:
 * the demo store's 24 months of browsing before its raw event window (scripts/demo-store.mjs, bundled by
 * scripts/seed.mjs), or any sender that has old events it does not want stored one by one.
 *
 * The figures are the web rollup's own (workers/metrics/rollup.ts, `sessionCtes` and the kpi_web_daily insert):
 * a session is a visitor's run of events with no gap over 30 minutes, ordered by (ts, id); it counts on the
 * site-local day it started, with the channel, device and country of its first event, derived as the events
 * import derives them (workers/import/events.ts: `classifySource` of the URL and referrer, the device of the
 * line's `user_agent` or "other", its `country` or "unknown"). test/web-history.test.ts checks that the
 * records this makes from a store's events equal the rollup of the same events imported.
 *
 * Pure: no bindings. Sessions are closed per `add` call, so a caller feeding chunks (a month at a time) must
 * not split one visitor's session across two calls; the demo generator's chunks are whole months.
 */
import { classifySource, parseUserAgent } from "../ingest/classify";

const SESSION_GAP_MS = 1_800_000;

/** An event in the /e import wire form, as far as sessions need it. */
export interface HistoryEvent {
	id: string;
	name: string;
	ts: number;
	url: string;
	referrer?: string | null;
	visitor_id?: string | null;
	customer_id?: string | null;
	user_agent?: string | null;
	country?: string | null;
}

/** One `web_daily` record (the entity's JSON form): the whole site when `dimension` is absent. */
export interface WebDailyRecord {
	day: string;
	dimension?: "channel" | "device" | "country";
	value?: string;
	visitors: number;
	sessions: number;
	events: number;
	page_views: number;
	bounces: number;
	duration_ms: number;
	view_sessions: number;
	view_purchase_sessions: number;
	cart_sessions: number;
	cart_purchase_sessions: number;
	checkout_sessions: number;
	checkout_purchase_sessions: number;
	purchase_sessions: number;
}

type Measures = Omit<WebDailyRecord, "day" | "dimension" | "value" | "visitors">;
interface Group extends Measures {
	visitors: Set<string>;
}

interface Session {
	visitor: string;
	started: number;
	ended: number;
	events: number;
	pageViews: number;
	viewed: boolean;
	carted: boolean;
	checked: boolean;
	bought: boolean;
	first: HistoryEvent;
}

const DIMENSIONS = ["channel", "device", "country"] as const;

export interface WebDailyAggregator {
	/** Adds whole sessions' events (any order). */
	add(events: readonly HistoryEvent[]): void;
	/** The records of every day before `beforeDay` (all days when absent), removed from the aggregator. */
	flush(beforeDay?: string): WebDailyRecord[];
}

export function webDailyAggregator(timeZone = "UTC"): WebDailyAggregator {
	const format = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
	const dayCache = new Map<number, string>();
	// Local days change on whole quarter hours in every zone: cache per quarter hour.
	const dayOf = (ms: number) => {
		const q = Math.floor(ms / 900_000);
		let d = dayCache.get(q);
		if (d === undefined) {
			d = format.format(new Date(ms));
			if (dayCache.size > 100_000) dayCache.clear();
			dayCache.set(q, d);
		}
		return d;
	};
	const devices = new Map<string, string>();
	const deviceOf = (ua: string | null | undefined) => {
		if (!ua) return "other";
		let d = devices.get(ua);
		if (d === undefined) devices.set(ua, (d = parseUserAgent(ua).device));
		return d;
	};
	const days = new Map<string, Map<string, Group>>();
	const group = (day: string, key: string): Group => {
		let byKey = days.get(day);
		if (!byKey) days.set(day, (byKey = new Map()));
		let g = byKey.get(key);
		if (!g) {
			g = { visitors: new Set(), sessions: 0, events: 0, page_views: 0, bounces: 0, duration_ms: 0, view_sessions: 0, view_purchase_sessions: 0, cart_sessions: 0, cart_purchase_sessions: 0, checkout_sessions: 0, checkout_purchase_sessions: 0, purchase_sessions: 0 };
			byKey.set(key, g);
		}
		return g;
	};
	const close = (s: Session) => {
		const day = dayOf(s.started);
		const dims = { channel: classifySource(new URL(s.first.url), s.first.referrer).channel, device: deviceOf(s.first.user_agent), country: s.first.country || "unknown" };
		for (const key of ["", ...DIMENSIONS.map((d) => `${d}\u0000${dims[d]}`)]) {
			const g = group(day, key);
			g.visitors.add(s.visitor);
			g.sessions += 1;
			g.events += s.events;
			g.page_views += s.pageViews;
			g.bounces += s.events === 1 ? 1 : 0;
			g.duration_ms += s.ended - s.started;
			g.view_sessions += +s.viewed;
			g.view_purchase_sessions += +(s.viewed && s.bought);
			g.cart_sessions += +s.carted;
			g.cart_purchase_sessions += +(s.carted && s.bought);
			g.checkout_sessions += +s.checked;
			g.checkout_purchase_sessions += +(s.checked && s.bought);
			g.purchase_sessions += +s.bought;
		}
	};
	return {
		add(events) {
			// Per visitor, in (ts, id) order: the rollup's window order.
			const byVisitor = new Map<string, HistoryEvent[]>();
			for (const e of events) {
				const visitor = e.visitor_id || `c:${e.customer_id}`;
				const list = byVisitor.get(visitor);
				if (list) list.push(e);
				else byVisitor.set(visitor, [e]);
			}
			for (const [visitor, list] of byVisitor) {
				if (list.length > 1) list.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
				let s: Session | null = null;
				for (const e of list) {
					if (!s || e.ts - s.ended > SESSION_GAP_MS) {
						if (s) close(s);
						s = { visitor, started: e.ts, ended: e.ts, events: 0, pageViews: 0, viewed: false, carted: false, checked: false, bought: false, first: e };
					}
					s.ended = e.ts;
					s.events += 1;
					if (e.name === "page_view") s.pageViews += 1;
					else if (e.name === "product_view") s.viewed = true;
					else if (e.name === "add_to_cart") s.carted = true;
					else if (e.name === "begin_checkout") s.checked = true;
					else if (e.name === "purchase") s.bought = true;
				}
				if (s) close(s);
			}
		},
		flush(beforeDay) {
			const out: WebDailyRecord[] = [];
			for (const day of [...days.keys()].sort()) {
				if (beforeDay !== undefined && day >= beforeDay) continue;
				for (const [key, g] of days.get(day) ?? []) {
					const { visitors, ...m } = g;
					const [dimension, value] = key.split("\u0000") as [WebDailyRecord["dimension"], string];
					out.push({ day, ...(key ? { dimension, value } : {}), visitors: visitors.size, ...m });
				}
				days.delete(day);
			}
			return out;
		},
	};
}
