#!/usr/bin/env node
/**
 * Deterministic demo traffic for the local stack.
 *
 *   node scripts/seed-events.mjs [--url http://localhost:8787] [--site demo] [--seed 42] [--visitors 400] [--days 6] [--key KEY] [--no-wait]
 *
 * Generates a seeded (mulberry32) stream of shop visits for the last N days — sessions with
 * channel/UTM mixes, product views, carts, checkouts, purchases, searches, signups — and POSTs it to
 * /e in batches of at most 500 events, each batch with one browser User-Agent (a visitor keeps one
 * device) and every event carrying `visitor_id`, as a server-side sender must.
 *
 * --key (or env B2G_KEY): an API key for the site. With the `ingest` scope (or admin) it is sent on /e as
 * a server-side sender's ingest key: the events are trusted and have the ingest key's budget
 * (INGEST_KEY_LIMIT). Without one the POSTs still work, but count against the per-address limit
 * (INGEST_IP_LIMIT events a minute): the sender then waits out each 429's Retry-After, which is slow for
 * a big seed. Waiting for the pipeline to reconcile reads /api/v1/health/pipeline, which takes the
 * `read` scope; without a key that wait is skipped.
 *
 * Event ids come from the PRNG and do not depend on the current time, so re-running with the same
 * --seed/--visitors/--days resends the same ids and the server dedupes them (idempotent).
 *
 * `generateEvents(seed, visitors, days, now)` is pure and exported for tests.
 */
import { pathToFileURL } from "node:url";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The server accepts events at most 7 days old; keep a margin for the time the upload takes. */
const MAX_SPAN_MS = 7 * DAY - 30 * MINUTE;
/** Newest event is this far before `now`, so nothing is ever in the future. */
const END_MARGIN_MS = MINUTE;
export const MAX_BATCH = 500;
/** Sessions of one visitor are at least this far apart (the sessions view splits at 30 min). */
const SESSION_GAP_MS = 31 * MINUTE;

/** mulberry32: a tiny, fast, seedable 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const hex32 = (rng) => Math.floor(rng() * 4294967296).toString(16).padStart(8, "0");

/** A UUID-v4-shaped id drawn from `rng`. */
export function uuidFrom(rng) {
	const h = hex32(rng) + hex32(rng) + hex32(rng) + hex32(rng);
	const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The demo shop's catalogue (prices in EUR). `weight` is relative popularity. */
export const PRODUCTS = [
	{ sku: "WHEY-ISO-1KG", slug: "whey-isolate-1kg", name: "Whey Isolate 1 kg", category: "protein", price: 34.9, weight: 14 },
	{ sku: "WHEY-CHOC-2KG", slug: "whey-chocolate-2kg", name: "Whey Protein Chocolate 2 kg", category: "protein", price: 54.9, weight: 10 },
	{ sku: "VEGAN-PRO-1KG", slug: "vegan-protein-1kg", name: "Vegan Protein Blend 1 kg", category: "protein", price: 32.9, weight: 5 },
	{ sku: "CREA-MONO-500", slug: "creatine-monohydrate-500g", name: "Creatine Monohydrate 500 g", category: "performance", price: 24.9, weight: 12 },
	{ sku: "CREA-CAPS-120", slug: "creatine-capsules-120", name: "Creatine Capsules (120)", category: "performance", price: 19.9, weight: 4 },
	{ sku: "PRE-BERRY-300", slug: "pre-workout-berry-300g", name: "Pre-Workout Berry Blast 300 g", category: "performance", price: 29.9, weight: 8 },
	{ sku: "PRE-STIMFREE-300", slug: "stim-free-pre-workout-300g", name: "Stim-Free Pre-Workout 300 g", category: "performance", price: 27.9, weight: 4 },
	{ sku: "EAA-LEMON-400", slug: "eaa-lemon-400g", name: "EAA Lemon 400 g", category: "performance", price: 26.9, weight: 4 },
	{ sku: "VIT-D3K2-50ML", slug: "vitamin-d3-k2-drops", name: "Vitamin D3 + K2 Drops 50 ml", category: "health", price: 14.9, weight: 7 },
	{ sku: "MULTI-VIT-90", slug: "multivitamin-90", name: "Multivitamin (90 tablets)", category: "health", price: 17.9, weight: 6 },
	{ sku: "OMEGA3-120", slug: "omega-3-120", name: "Omega-3 Fish Oil (120 caps)", category: "health", price: 19.9, weight: 5 },
	{ sku: "BAR-PEANUT-12", slug: "protein-bar-peanut-12", name: "Protein Bar Peanut (12-pack)", category: "snacks", price: 23.9, weight: 8 },
	{ sku: "BAR-CHOCO-12", slug: "protein-bar-chocolate-12", name: "Protein Bar Chocolate (12-pack)", category: "snacks", price: 23.9, weight: 7 },
	{ sku: "SHAKER-700", slug: "shaker-700ml", name: "Shaker 700 ml", category: "accessories", price: 7.9, weight: 3 },
];
const CATEGORIES = ["protein", "performance", "health", "snacks"];

const SEARCHES = ["whey", "creatine", "pre workout", "vegan protein", "vitamin d", "protein bar", "omega 3", "eaa", "shaker", "creatin", "isolate", "magnesium"];

/**
 * Acquisition channels: landing-page query and external referrer. `cr` scales the add-to-cart rate
 * (returning / high-intent traffic converts better). Weighted mean of `cr` ≈ 1.
 */
const CHANNELS = [
	{ key: "organic", weight: 30, cr: 0.9, referrer: () => "https://www.google.com/", query: () => "" },
	{
		key: "paid_search",
		weight: 16,
		cr: 1.1,
		referrer: () => "https://www.google.com/",
		query: (rng) => `?utm_source=google&utm_medium=cpc&utm_campaign=${pick(rng, ["brand-protein", "creatine-generic", "spring-sale"])}&utm_term=${pick(rng, ["whey+protein", "creatine+kaufen", "pre+workout"])}&gclid=Cj0K${hex32(rng)}`,
	},
	{
		key: "instagram",
		weight: 14,
		cr: 0.7,
		referrer: () => "https://l.instagram.com/",
		query: (rng) => (rng() < 0.7 ? `?utm_source=instagram&utm_medium=social&utm_campaign=${pick(rng, ["reels-creatine", "athlete-story", "spring-drop"])}` : ""),
	},
	{
		key: "newsletter",
		weight: 10,
		cr: 1.4,
		referrer: () => "",
		query: (rng) => `?utm_source=newsletter&utm_medium=email&utm_campaign=${pick(rng, ["weekly-2026-w46", "weekly-2026-w47", "winback-30d"])}&utm_content=${pick(rng, ["hero", "product-grid", "footer"])}`,
	},
	{
		key: "affiliate",
		weight: 8,
		cr: 1.0,
		referrer: (rng) => pick(rng, ["https://www.fitblog.example/best-creatine-2026", "https://gains-review.example/whey-test"]),
		query: (rng) => `?utm_source=${pick(rng, ["fitblog", "gains-review"])}&utm_medium=affiliate&utm_campaign=partner-q4`,
	},
	{ key: "direct", weight: 22, cr: 1.2, referrer: () => "", query: () => "" },
];

/** Browser User-Agents of the simulated visitors (one per visitor), weighted. */
export const USER_AGENTS = [
	{ key: "chrome-windows", weight: 30, ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
	{ key: "safari-macos", weight: 10, ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15" },
	{ key: "firefox-linux", weight: 7, ua: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0" },
	{ key: "iphone-safari", weight: 30, ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1" },
	{ key: "android-chrome", weight: 20, ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36" },
	{ key: "ipad-safari", weight: 3, ua: "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1" },
];

export function pick(rng, list) {
	return list[Math.floor(rng() * list.length)];
}

/** One of `list`, with probability proportional to its `weight`. */
export function pickWeighted(rng, list) {
	const total = list.reduce((s, x) => s + x.weight, 0);
	let r = rng() * total;
	for (const x of list) {
		r -= x.weight;
		if (r < 0) return x;
	}
	return list[list.length - 1];
}

export const between = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
const round2 = (n) => Math.round(n * 100) / 100;

/** FNV-1a of a string, for choosing a visitor's device without touching the PRNG stream. */
function fnv1a(s) {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
	return h;
}

/** The User-Agent a visitor browses with: a pure function of the visitor id. */
export function userAgentFor(visitorId) {
	const total = USER_AGENTS.reduce((s, x) => s + x.weight, 0);
	let r = fnv1a(visitorId) % total;
	for (const x of USER_AGENTS) {
		r -= x.weight;
		if (r < 0) return x.ua;
	}
	return USER_AGENTS[0].ua;
}

/**
 * Pure and deterministic: the demo event stream for `visitors` visitors over the `days` days
 * before `now`, sorted by time. Ids, visitor ids and order ids depend only on (seed, visitors,
 * days), never on `now`. Every event carries `visitor_id`.
 *
 * @param {number} seed
 * @param {number} visitors
 * @param {number} days  0 < days ≤ 7 (capped just under the server's 7-day window)
 * @param {number} now   epoch ms; every ts is in [now − days, now − 1 min]
 * @param {{ origin?: string }} [options]  origin of the shop URLs (default http://localhost:8787)
 * @returns {Array<{id: string, name: string, ts: number, url: string, referrer: string, props: Record<string, unknown>, visitor_id: string, customer_id?: string}>}
 */
export function generateEvents(seed, visitors, days, now, options = {}) {
	if (!Number.isInteger(seed)) throw new TypeError("seed must be an integer");
	if (!Number.isInteger(visitors) || visitors < 0) throw new TypeError("visitors must be a non-negative integer");
	if (!(days > 0 && days <= 7)) throw new RangeError("days must be in (0, 7]");
	if (!Number.isFinite(now)) throw new TypeError("now must be epoch milliseconds");
	const origin = (options.origin ?? "http://localhost:8787").replace(/\/+$/, "");
	const shop = `${origin}/shop`;

	const rng = mulberry32(seed);
	const idRng = mulberry32((seed ^ 0x9e3779b9) >>> 0);
	const end = now - END_MARGIN_MS;
	const span = Math.min(days * DAY, MAX_SPAN_MS) - END_MARGIN_MS;
	const start = end - span;
	const orderPrefix = `B2G-${(seed >>> 0).toString(36).toUpperCase()}`;
	let orders = 0;
	const out = [];

	for (let v = 0; v < visitors; v++) {
		const visitorId = `sv_${hex32(idRng)}${hex32(idRng)}${hex32(idRng)}`;
		/** Events with times relative to the visitor's first event (placed on the timeline below). */
		const mine = [];
		let customerId = undefined;
		const sessions = rng() < 0.6 ? 1 : rng() < 0.7 ? 2 : 3;
		const maxGap = Math.min(36 * HOUR, span / 3);
		let t = 0;

		const emit = (name, path, referrer, props = {}) => {
			const e = { id: uuidFrom(idRng), name, ts: t, url: path.startsWith("http") ? path : `${shop}${path}`, referrer, props, visitor_id: visitorId };
			if (customerId) e.customer_id = customerId;
			mine.push(e);
			return e.url;
		};
		const wait = (lo, hi) => {
			t += between(rng, lo, hi) * 1000;
		};

		for (let s = 0; s < sessions; s++) {
			if (s > 0) t += SESSION_GAP_MS + Math.floor(rng() * maxGap);
			// Returning visits come back directly or through the newsletter more often.
			const channel = s > 0 && rng() < 0.5 ? (rng() < 0.7 ? CHANNELS[5] : CHANNELS[3]) : pickWeighted(rng, CHANNELS);
			const query = channel.query(rng);
			const external = channel.referrer(rng);

			// Landing page
			const landing = rng();
			let viewed = [];
			let prev;
			if (landing < 0.4) prev = emit("page_view", `/${query}`, external);
			else if (landing < 0.55) prev = emit("page_view", `/c/${pick(rng, CATEGORIES)}${query}`, external);
			else {
				const p = pickWeighted(rng, PRODUCTS);
				prev = emit("page_view", `/p/${p.slug}${query}`, external);
				wait(1, 3);
				emit("product_view", `/p/${p.slug}${query}`, external, { sku: p.sku, price: p.price, currency: "EUR", name: p.name, category: p.category });
				viewed.push(p);
			}

			if (rng() < 0.15) {
				wait(5, 40);
				const q = pick(rng, SEARCHES);
				prev = emit("page_view", `/search?q=${encodeURIComponent(q)}`, prev);
				emit("search", `/search?q=${encodeURIComponent(q)}`, prev, { query: q, results: between(rng, 0, 9) });
			}

			const browse = between(rng, viewed.length ? 0 : 1, 4);
			for (let i = 0; i < browse; i++) {
				wait(8, 90);
				const p = pickWeighted(rng, PRODUCTS);
				const url = emit("page_view", `/p/${p.slug}`, prev);
				wait(1, 3);
				emit("product_view", `/p/${p.slug}`, prev, { sku: p.sku, price: p.price, currency: "EUR", name: p.name, category: p.category });
				prev = url;
				viewed.push(p);
			}
			viewed = [...new Map(viewed.map((p) => [p.sku, p])).values()];

			if (rng() < 0.04) {
				wait(5, 30);
				emit("newsletter_subscribe", prev, prev, { placement: pick(rng, ["footer", "popup"]) });
			}

			// Cart
			const cart = [];
			if (viewed.length && rng() < 0.25 * channel.cr) {
				const adds = Math.min(viewed.length, rng() < 0.7 ? 1 : 2);
				for (let i = 0; i < adds; i++) {
					const p = viewed[viewed.length - 1 - i];
					const qty = p.category === "snacks" ? between(rng, 1, 3) : rng() < 0.85 ? 1 : 2;
					wait(3, 30);
					emit("add_to_cart", `/p/${p.slug}`, prev, { sku: p.sku, qty, price: p.price, currency: "EUR" });
					cart.push({ sku: p.sku, qty, price: p.price });
				}
				wait(3, 20);
				prev = emit("page_view", "/cart", prev);
				if (cart.length > 1 && rng() < 0.2) {
					wait(3, 20);
					const gone = cart.pop();
					emit("remove_from_cart", "/cart", prev, { sku: gone.sku, qty: gone.qty, price: gone.price, currency: "EUR" });
				}
			}

			// Checkout
			if (cart.length && rng() < 0.55) {
				const items = cart.map((i) => ({ ...i }));
				const subtotal = round2(items.reduce((s, i) => s + i.qty * i.price, 0));
				const shipping = subtotal >= 50 ? 0 : 4.9;
				wait(5, 30);
				const checkout = emit("page_view", "/checkout", prev);
				emit("begin_checkout", "/checkout", prev, { value: subtotal, currency: "EUR", items });
				wait(10, 60);
				emit("checkout_step", "/checkout", prev, { step: 1, value: subtotal, currency: "EUR" });
				if (!customerId && rng() < 0.35) {
					wait(20, 60);
					emit("signup", "/checkout", prev, { method: "checkout" });
					customerId = `cust_${hex32(idRng)}`;
				}
				const buys = rng() < 0.6;
				if (buys || rng() < 0.5) {
					wait(15, 90);
					emit("checkout_step", "/checkout", prev, { step: 2, value: subtotal, currency: "EUR" });
				}
				if (buys) {
					wait(10, 45);
					emit("checkout_step", "/checkout", prev, { step: 3, value: subtotal, currency: "EUR" });
					wait(3, 15);
					const orderId = `${orderPrefix}-${String(++orders).padStart(5, "0")}`;
					const thanks = emit("page_view", `/checkout/thank-you?order=${orderId}`, checkout);
					emit("purchase", `/checkout/thank-you?order=${orderId}`, checkout, { order_id: orderId, value: round2(subtotal + shipping), currency: "EUR", shipping, items });
					prev = thanks;
					// A few orders come back: a server-side refund a day or two later.
					if (rng() < 0.06) {
						const back = t;
						t += between(rng, 20, 48) * HOUR;
						emit("refund", "/account/orders", "", { order_id: orderId, value: round2(subtotal + shipping), currency: "EUR" });
						mine[mine.length - 1].refund = true;
						t = back;
					}
				}
			} else if (!customerId && rng() < 0.03) {
				wait(10, 40);
				prev = emit("page_view", "/account/register", prev);
				wait(20, 60);
				emit("signup", "/account/register", prev, { method: "email" });
				customerId = `cust_${hex32(idRng)}`;
			}
		}

		// Place the visitor on the timeline: uniformly where the whole history fits, newest ≤ end.
		const length = Math.max(...mine.filter((e) => !e.refund).map((e) => e.ts));
		const offset = rng();
		const base = length < span ? start + Math.floor(offset * (span - length)) : end - length;
		for (const e of mine) {
			const { refund, ...event } = e;
			event.ts = Math.min(base + e.ts, end);
			// A history longer than the window (tiny --days): drop what would fall before it.
			if (event.ts >= start) out.push(event);
		}
	}
	out.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	return out;
}

/**
 * Splits events (sorted by time) into requests: consecutive windows of ≤ `max` events, each split
 * by the visitors' User-Agent, so every request has one browser UA and covers a short time span.
 * @returns {Array<{ ua: string, events: object[] }>}
 */
export function toBatches(events, max = MAX_BATCH) {
	const batches = [];
	for (let i = 0; i < events.length; i += max) {
		const byUa = new Map();
		for (const e of events.slice(i, i + max)) {
			const ua = userAgentFor(e.visitor_id);
			if (!byUa.has(ua)) byUa.set(ua, []);
			byUa.get(ua).push(e);
		}
		for (const [ua, list] of byUa) batches.push({ ua, events: list });
	}
	return batches;
}

/** UTC days (YYYY-MM-DD) touched by the events, oldest first. */
export function eventDays(events) {
	return [...new Set(events.map((e) => new Date(e.ts).toISOString().slice(0, 10)))].sort();
}

/**
 * Sends the events to `${url}/e`. Throws on the first non-202 answer (with the API's message).
 * @returns {Promise<{ sent: number, accepted: number, duplicates: number, bots: number, requests: number, ms: number }>}
 */
export async function sendEvents({ url, site, events, key = "", log = () => {} }) {
	const base = url.replace(/\/+$/, "");
	const started = performance.now();
	const totals = { sent: 0, accepted: 0, duplicates: 0, bots: 0, requests: 0, ms: 0 };
	const auth = key ? { Authorization: `Bearer ${key}` } : {};
	for (const batch of toBatches(events)) {
		const body = JSON.stringify({ site, events: batch.events });
		let res;
		let text;
		for (;;) {
			try {
				res = await fetch(`${base}/e`, { method: "POST", headers: { "Content-Type": "application/json", "User-Agent": batch.ua, ...auth }, body });
			} catch (err) {
				const cause = err?.cause;
				throw new Error(`cannot reach ${base}/e (${cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? err?.message ?? err}) — is \`npm start\` running?`);
			}
			text = await res.text();
			if (res.status !== 429) break;
			// Over a limit (nothing was stored): resending the same ids after the wait is safe.
			const wait = Math.max(1, Number(res.headers.get("Retry-After")) || 1);
			log({ ...totals, waiting: wait });
			await new Promise((r) => setTimeout(r, wait * 1000));
		}
		if (res.status !== 202) {
			let detail = text.slice(0, 2000);
			try {
				const json = JSON.parse(text);
				detail = `${json.error}: ${json.message}${json.fields?.length ? `\n  ${json.fields.slice(0, 5).map((f) => `${f.field}: ${f.message}`).join("\n  ")}` : ""}`;
			} catch {}
			throw new Error(`POST ${base}/e answered ${res.status} (batch of ${batch.events.length}, request ${totals.requests + 1}): ${detail}`);
		}
		const json = JSON.parse(text);
		totals.requests++;
		totals.sent += batch.events.length;
		totals.accepted += json.accepted ?? 0;
		totals.duplicates += json.duplicates ?? 0;
		totals.bots += json.bots ?? 0;
		log(totals);
	}
	totals.ms = Math.round(performance.now() - started);
	return totals;
}

/**
 * Polls /api/v1/health/pipeline for each day until every day reconciles (accepted = stored =
 * archived) or the timeout passes. Returns the last report per day and whether all reconciled.
 * `key`: an API key with the `read` scope for the site (sent as `Authorization: Bearer`).
 */
export async function waitForPipeline({ url, site, days, key, timeoutMs = 120_000, intervalMs = 1000 }) {
	if (!key) throw new Error("waitForPipeline needs an API key with the read scope (key)");
	const base = url.replace(/\/+$/, "");
	const headers = { Authorization: `Bearer ${key}` };
	const deadline = Date.now() + timeoutMs;
	const started = performance.now();
	for (;;) {
		const reports = [];
		for (const date of days) {
			const res = await fetch(`${base}/api/v1/health/pipeline?site=${encodeURIComponent(site)}&date=${date}`, { headers });
			const json = await res.json().catch(() => ({}));
			if (!res.ok) throw new Error(`GET /api/v1/health/pipeline answered ${res.status}: ${json.message ?? ""}`);
			reports.push(json);
		}
		const done = reports.every((r) => r.reconciled);
		if (done || Date.now() > deadline) return { reconciled: done, reports, ms: Math.round(performance.now() - started) };
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

/** Whether `key` may send events (ingest or admin scope), from GET /api/v1/me; false when the API refuses it. */
async function hasIngestScope(url, key) {
	const res = await fetch(`${url.replace(/\/+$/, "")}/api/v1/me`, { headers: { Authorization: `Bearer ${key}` } }).catch(() => null);
	if (!res?.ok) return false;
	const me = await res.json().catch(() => ({}));
	return Array.isArray(me.scopes) && (me.scopes.includes("ingest") || me.scopes.includes("admin"));
}

/**
 * Seeds and reports; used by the CLI below and by scripts/start.mjs. `key`: sent on /e when it has the
 * ingest scope, and used to wait for the pipeline (read scope); without it that wait is skipped (`pipeline` is then null).
 */
export async function seed({ url = "http://localhost:8787", origin = url, site = "demo", seed: seedValue = 42, visitors = 400, days = 6, wait = true, key = "", log = console.log } = {}) {
	const now = Date.now();
	const events = generateEvents(seedValue, visitors, days, now, { origin });
	const counts = {};
	for (const e of events) counts[e.name] = (counts[e.name] ?? 0) + 1;
	log(`seed: ${events.length} events for ${visitors} visitors over ${days} day(s) (seed ${seedValue}) → ${url.replace(/\/+$/, "")}/e`);
	log(`seed: ${Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ")}`);
	const ingestKey = key && (await hasIngestScope(url, key)) ? key : "";
	if (!ingestKey) log("seed: sending without an ingest key: the events count against the per-address limit (INGEST_IP_LIMIT), waiting out each 429 (pass a key with the ingest scope: --key or env B2G_KEY)");
	const totals = await sendEvents({ url, site, events, key: ingestKey, log: (t) => t.waiting && log(`seed: over a limit after ${t.sent} events; waiting ${t.waiting} s`) });
	// The Worker's `accepted` counts ids new to the site; `duplicates` were accepted before (a re-run with the same seed).
	log(
		`seed: sent ${totals.sent} events in ${totals.requests} requests in ${(totals.ms / 1000).toFixed(1)} s (${Math.round(totals.sent / (totals.ms / 1000))} events/s) — ${totals.accepted} new, ${totals.duplicates} duplicates; bots ${totals.bots}` +
			(totals.sent && !totals.accepted && totals.duplicates === totals.sent ? " (already seeded with these ids: nothing new was counted)" : ""),
	);
	let pipeline = null;
	if (wait && !key) {
		log("seed: not waiting for the pipeline to reconcile: that reads /api/v1/health/pipeline, which needs a key with the read scope (--key or env B2G_KEY; make one with `npm run key -- create --site demo --scopes read`). The events were sent.");
	} else if (wait) {
		const days_ = eventDays(events);
		log(`seed: waiting for the queue consumer to store and archive (${days_.length} day(s))…`);
		pipeline = await waitForPipeline({ url, site, days: days_, key });
		const sum = (k) => pipeline.reports.reduce((s, r) => s + (r[k] ?? 0), 0);
		log(
			`seed: pipeline (whole-day totals) ${pipeline.reconciled ? "reconciled" : "NOT reconciled yet"} after ${(pipeline.ms / 1000).toFixed(1)} s — accepted ${sum("accepted")}, stored ${sum("stored")}, archived ${sum("archived")} in ${sum("archive_objects")} R2 objects, dead letters ${pipeline.reports[0]?.dead_letters ?? 0}`,
		);
		if (!pipeline.reconciled) {
			for (const r of pipeline.reports.filter((x) => !x.reconciled)) log(`seed:   ${r.date}: accepted ${r.accepted}, stored ${r.stored}, archived ${r.archived}, pending_archive ${r.pending_archive}`);
		}
	}
	return { events: events.length, counts, ...totals, pipeline };
}

function parseArgs(argv) {
	const opts = { url: "http://localhost:8787", site: "demo", seed: 42, visitors: 400, days: 6, key: process.env.B2G_KEY ?? "", wait: true };
	const ints = new Set(["seed", "visitors"]);
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "--help" || arg === "-h") {
			console.log("usage: node scripts/seed-events.mjs [--url http://localhost:8787] [--site demo] [--seed 42] [--visitors 400] [--days 6] [--key KEY] [--no-wait]");
			console.log("  --key: API key for the site (default: env B2G_KEY): with the ingest scope it is sent on /e (trusted events, the key's budget); with read, the pipeline wait uses it (without a key that wait is skipped)");
			process.exit(0);
		}
		if (arg === "--no-wait") {
			opts.wait = false;
			continue;
		}
		const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
		if (!m || !(m[1] in opts) || m[1] === "wait") throw new Error(`unknown argument ${arg} (try --help)`);
		const value = m[2] ?? argv[++i];
		if (value === undefined) throw new Error(`--${m[1]} needs a value`);
		if (m[1] === "url" || m[1] === "site" || m[1] === "key") opts[m[1]] = value;
		else {
			const n = Number(value);
			if (!Number.isFinite(n) || (ints.has(m[1]) && !Number.isInteger(n))) throw new Error(`--${m[1]} must be a${ints.has(m[1]) ? "n integer" : " number"}, got ${value}`);
			opts[m[1]] = n;
		}
	}
	if (!(opts.days > 0 && opts.days <= 7)) throw new Error("--days must be in (0, 7]: the server accepts events at most 7 days old");
	if (opts.visitors < 0) throw new Error("--visitors must be ≥ 0");
	return opts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	try {
		const opts = parseArgs(process.argv.slice(2));
		await seed(opts);
	} catch (err) {
		console.error(`seed failed: ${err instanceof Error ? err.message : err}`);
		process.exit(1);
	}
}
