#!/usr/bin/env node
/**
 * Live demo traffic: a simulator that keeps the local demo store busy, so the Operations "Right now"
 * panel, the live counters and the per-minute chart show a shop in use.
 *
 *   node scripts/traffic.mjs --url http://127.0.0.1:8787 --site demo --key <read key> --secret <webhook secret> [--rate 1] [--seed N]
 *
 * `npm start` runs it for the demo site (off with `npm start -- --no-traffic`).
 *
 * What it sends is what a real shop sends:
 * - **Browser sessions** in the tracker's wire format to `POST /e` (no key, no `visitor_id`: the Worker
 *   derives the visitor from the daily salt, the client address and the User-Agent), one request per
 *   event at the moment it happens, with a browser User-Agent from a realistic mix (desktop and mobile
 *   Chrome, Safari, Firefox, Edge; iPhone and Android), an address from the documentation ranges
 *   (RFC 5737) in `CF-Connecting-IP`, and a landing page with the referrer and UTM tags of its channel.
 *   A visit: landing page → product views → add to cart → checkout → purchase, each step with a
 *   falling probability, a few seconds apart (compressed: a real visitor takes minutes).
 * - **A few bots**: a crawler User-Agent, or the tracker's automation flag (`b: 1`); the Worker counts
 *   them and stores nothing.
 * - **Orders**: each purchase is also pushed as an order through the signed order webhook
 *   (`POST /hooks/orders`, HMAC-SHA256 with the site's webhook secret), as a shop backend does, with
 *   the same order id and amounts as the tracker's purchase event; returning customers come from the
 *   store's customer list, new ones get a new id.
 *
 * Rate: sessions start as a Poisson process whose mean follows the demo store's hour-of-day curve (site
 * time), about `--rate` × 12 sessions a minute at an average hour: a few requests a second, modest for 2 cores.
 *
 * `planSession(rng, catalogue, customers, options)` is pure and exported for tests.
 */
import { createHmac } from "node:crypto";
import { pathToFileURL } from "node:url";
import { HOURS } from "./demo-store.mjs";
import { between, mulberry32, pick, pickWeighted, USER_AGENTS, uuidFrom as uuid } from "./seed-events.mjs";

const SECOND = 1000;
/** Per request: generous, since locally a nightly run or an import shares the one workerd process with /e. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Mean sessions a minute at an average hour with --rate 1. */
export const SESSIONS_PER_MINUTE = 12;
const MEAN_HOUR = HOURS.reduce((s, x) => s + x, 0) / HOURS.length;

/** Desktop browsers beside seed-events' mix (which has Chrome on Windows, Safari on macOS, Firefox on Linux, mobile). */
const BROWSERS = [
	...USER_AGENTS,
	{ key: "edge-windows", weight: 6, ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70" },
	{ key: "chrome-macos", weight: 8, ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
	{ key: "samsung-android", weight: 4, ua: "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36" },
];
const CRAWLERS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "python-requests/2.32.3"];

/** Acquisition channels: share of sessions, referrer and landing query; `cr` scales the add-to-cart rate. */
const CHANNELS = [
	{ channel: "organic_search", weight: 30, cr: 0.9, referrer: () => "https://www.google.com/", query: () => "" },
	{ channel: "paid_search", weight: 14, cr: 1.2, referrer: () => "https://www.google.com/", query: (r) => `?utm_source=google&utm_medium=cpc&utm_campaign=${pick(r, ["brand-protein", "creatine-generic", "winter-sale"])}` },
	{ channel: "social", weight: 16, cr: 0.6, referrer: () => "https://l.instagram.com/", query: (r) => `?utm_source=instagram&utm_medium=social&utm_campaign=${pick(r, ["reels-creatine", "athlete-story"])}` },
	{ channel: "email", weight: 10, cr: 1.5, referrer: () => "", query: (r) => `?utm_source=newsletter&utm_medium=email&utm_campaign=${pick(r, ["weekly", "winback-30d"])}` },
	{ channel: "direct", weight: 22, cr: 1.1, referrer: () => "", query: () => "" },
	{ channel: "affiliate", weight: 8, cr: 0.8, referrer: (r) => pick(r, ["https://www.fitblog.example/best-creatine", "https://gains-review.example/whey-test"]), query: () => "?utm_source=fitblog&utm_medium=affiliate&utm_campaign=partner" },
];

const hex = (rng, n) => Array.from({ length: n }, () => Math.floor(rng() * 16).toString(16)).join("");
/** Euros as the API's decimal string ("29.90"), from minor units. */
const decimal = (minor) => `${Math.trunc(minor / 100)}.${String(minor % 100).padStart(2, "0")}`;

/**
 * @typedef {{ id: string, name: string, ts: number, url: string, referrer: string | null, props: Record<string, unknown> }} TrackerEvent
 * @typedef {{ after: number, event: TrackerEvent, customer_id?: string }} SessionStep
 * @typedef {{ order_id: string, customer_id: string, total: string, subtotal: string, shipping: string, currency: string, channel: string, status: string, items: { sku: string, qty: number, unit_price: string }[] }} OrderRecord
 * @typedef {{ ua: string, ip: string, bot: "crawler" | "webdriver" | null, steps: SessionStep[], order: OrderRecord | null, customer: { customer_id: string, channel: string } | null }} SessionPlan
 */

/**
 * One visit, planned ahead: the requests it makes, each `after` ms after the previous one.
 *
 * @param {() => number} rng
 * @param {{ sku: string, name: string, category: string | null, price: number }[]} catalogue  prices in major units
 * @param {string[]} customers  existing customer ids (a buyer is one of them with probability `returning`)
 * @param {{ origin: string, site: string, currency?: string, returning?: number, botShare?: number, now: number }} o
 * @returns {SessionPlan}
 */
export function planSession(rng, catalogue, customers, o) {
	if (!catalogue.length) throw new RangeError("planSession: the catalogue is empty");
	const shop = `${o.origin.replace(/\/+$/, "")}/shop/`;
	const currency = o.currency ?? "EUR";
	const botDraw = rng();
	const botShare = o.botShare ?? 0.04;
	const bot = botDraw < botShare / 2 ? "crawler" : botDraw < botShare ? "webdriver" : null;
	const ua = bot === "crawler" ? pick(rng, CRAWLERS) : pickWeighted(rng, BROWSERS).ua;
	// RFC 5737 documentation ranges: never a real client.
	const ip = `${pick(rng, ["192.0.2", "198.51.100", "203.0.113"])}.${between(rng, 1, 254)}`;
	const channel = pickWeighted(rng, CHANNELS);
	/** @type {SessionStep[]} */
	const steps = [];
	let prev = channel.referrer(rng);
	const add = (after, name, url, props) => {
		steps.push({ after, event: { id: uuid(rng), name, ts: 0, url, referrer: prev || null, props } });
		prev = url;
	};
	// Popularity falls with the catalogue's order (best sellers first).
	const weighted = catalogue.map((p, i) => ({ p, weight: 1 / (1 + i * 0.15) }));
	const product = () => pickWeighted(rng, weighted).p;
	const productUrl = (p, q = "") => `${shop}?view=${encodeURIComponent(p.sku)}${q ? `&${q.slice(1)}` : ""}`;

	const query = channel.query(rng);
	const viewed = [];
	if (rng() < 0.45) add(0, "page_view", `${shop}${query}`, {});
	else {
		const p = product();
		add(0, "page_view", productUrl(p, query), {});
		add(between(rng, 1, 2) * SECOND, "product_view", productUrl(p, query), { sku: p.sku, price: p.price, currency, name: p.name, ...(p.category ? { category: p.category } : {}) });
		viewed.push(p);
	}
	const browse = between(rng, viewed.length ? 0 : 1, 3);
	for (let i = 0; i < browse; i++) {
		const p = product();
		add(between(rng, 3, 12) * SECOND, "page_view", productUrl(p), {});
		add(between(rng, 1, 2) * SECOND, "product_view", productUrl(p), { sku: p.sku, price: p.price, currency, name: p.name, ...(p.category ? { category: p.category } : {}) });
		viewed.push(p);
	}
	/** @type {OrderRecord | null} */
	let order = null;
	/** @type {{ customer_id: string, channel: string } | null} */
	let customer = null;
	if (rng() < 0.3 * channel.cr) {
		const p = viewed[viewed.length - 1];
		const qty = rng() < 0.85 ? 1 : 2;
		add(between(rng, 2, 8) * SECOND, "add_to_cart", productUrl(p), { sku: p.sku, qty, price: p.price, currency });
		const items = [{ sku: p.sku, qty, price: p.price, name: p.name }];
		const valueMinor = items.reduce((s, i) => s + Math.round(i.price * 100) * i.qty, 0);
		const cartUrl = `${shop}?view=cart`;
		add(between(rng, 2, 6) * SECOND, "page_view", cartUrl, {});
		if (rng() < 0.6) {
			const checkoutUrl = `${shop}?view=checkout`;
			add(between(rng, 2, 6) * SECOND, "begin_checkout", checkoutUrl, { value: valueMinor / 100, currency, items: items.map(({ sku, qty: q, price }) => ({ sku, qty: q, price })) });
			if (rng() < 0.65) {
				const returning = customers.length && rng() < (o.returning ?? 0.55);
				const customerId = returning ? pick(rng, customers) : `sim-${hex(rng, 12)}`;
				const orderId = `sim-${hex(rng, 16)}`;
				const shippingMinor = valueMinor >= 4900 ? 0 : 495;
				add(between(rng, 4, 10) * SECOND, "purchase", `${shop}?view=thanks`, {
					order_id: orderId,
					value: (valueMinor + shippingMinor) / 100,
					currency,
					shipping: shippingMinor / 100,
					items: items.map(({ sku, qty: q, price }) => ({ sku, qty: q, price })),
				});
				steps[steps.length - 1].customer_id = customerId;
				order = {
					order_id: orderId,
					customer_id: customerId,
					total: decimal(valueMinor + shippingMinor),
					subtotal: decimal(valueMinor),
					shipping: decimal(shippingMinor),
					currency,
					channel: channel.channel,
					status: "paid",
					items: items.map((i) => ({ sku: i.sku, qty: i.qty, unit_price: i.price.toFixed(2) })),
				};
				if (!returning) customer = { customer_id: customerId, channel: channel.channel };
			}
		}
	}
	return { ua, ip, bot, steps, order, customer };
}

/** Mean sessions a minute at `ms` (site-local hour from `utcOffsetMin`), for --rate 1. */
export function sessionsPerMinute(ms, utcOffsetMin = 0, rate = 1) {
	const hour = new Date(ms + utcOffsetMin * 60_000).getUTCHours();
	return (rate * SESSIONS_PER_MINUTE * HOURS[hour]) / MEAN_HOUR;
}

/** The `sha256=` signature the order webhook checks (workers/commerce/webhooks.ts). */
export function signOrderDelivery(secret, timestampS, body) {
	return `sha256=${createHmac("sha256", secret).update(`${timestampS}.${body}`).digest("hex")}`;
}

/** The site's UTC offset now, in minutes (for the hour-of-day curve). */
function utcOffsetMinutes(timeZone, ms) {
	try {
		const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(ms).map((p) => [p.type, p.value]));
		const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
		return Math.round((local - Math.floor(ms / 60_000) * 60_000) / 60_000);
	} catch {
		return 0;
	}
}

const sleep = (ms, signal) =>
	new Promise((resolve) => {
		if (signal?.aborted) return resolve();
		const t = setTimeout(resolve, ms);
		signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
	});

/**
 * Starts the simulator; returns `{ stop(), stats }`. `stats` counts sessions, events sent and accepted,
 * bots, orders pushed and failures (the last error kept). Reads the catalogue and recent customers once
 * with `key` (read scope), and the site's time zone and currency from GET /api/v1/sites.
 */
export async function startTraffic({ url, site = "demo", key, secret, origin = url, rate = 1, seed = Date.now() & 0x7fffffff, log = () => {} }) {
	if (!key) throw new Error("startTraffic: a read key for the site is required (catalogue and customers)");
	if (!secret) throw new Error("startTraffic: the site's webhook secret is required (orders go through POST /hooks/orders)");
	const base = url.replace(/\/+$/, "");
	const auth = { Authorization: `Bearer ${key}` };
	const getJson = async (path) => {
		const res = await fetch(`${base}${path}`, { headers: auth, signal: AbortSignal.timeout(30_000) });
		const body = await res.json().catch(() => null);
		if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(body)}`);
		return body;
	};
	const { sites } = await getJson("/api/v1/sites");
	const info = sites.find((s) => s.id === site);
	if (!info) throw new Error(`site '${site}' is not visible to this key`);
	const today = new Date().toISOString().slice(0, 10);
	const from = new Date(Date.now() - 90 * 86_400_000).toISOString().slice(0, 10);
	const { products } = await getJson(`/api/v1/products/performance?site=${site}&from=${from}&to=${today}`);
	const catalogue = products.filter((p) => typeof p.price === "number" && p.price > 0).map((p) => ({ sku: p.sku, name: p.name, category: p.category, price: p.price }));
	if (!catalogue.length) throw new Error(`site '${site}' has no products with a price: load a catalogue first (npm run seed)`);
	const { customers: list } = await getJson(`/api/v1/customers?site=${site}&sort=last_order&limit=200`);
	const customers = list.map((c) => c.id).filter((id) => typeof id === "string");

	const rng = mulberry32(seed);
	const stats = { sessions: 0, events: 0, accepted: 0, bots: 0, orders: 0, failures: 0, lastError: null };
	const controller = new AbortController();
	const running = new Set();
	const fail = (what, err) => {
		stats.failures++;
		stats.lastError = `${what}: ${err instanceof Error ? err.message : String(err)}`;
		if (stats.failures <= 3 || stats.failures % 100 === 0) log(`traffic: ${stats.lastError} (${stats.failures} failed request(s) so far; the visit is dropped)`);
	};

	async function postEvent(session, step) {
		const event = { ...step.event, ts: Date.now(), ...(step.customer_id ? { customer_id: step.customer_id } : {}) };
		const body = JSON.stringify({ site, events: [event], ...(session.bot === "webdriver" ? { b: 1 } : {}) });
		const res = await fetch(`${base}/e`, {
			method: "POST",
			headers: { "Content-Type": "text/plain;charset=UTF-8", "User-Agent": session.ua, "CF-Connecting-IP": session.ip, Origin: new URL(origin).origin },
			body,
			// Locally one workerd runs everything: a nightly run or an import can hold /e for a while.
			signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
		});
		const answer = await res.json().catch(() => ({}));
		if (res.status !== 202) throw new Error(`/e answered ${res.status}: ${JSON.stringify(answer)}`);
		stats.events++;
		stats.accepted += answer.accepted ?? 0;
		stats.bots += answer.bots ?? 0;
	}

	async function pushOrder(order, customer) {
		if (customer) {
			const res = await fetch(`${base}/api/v1/customers?site=${site}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ ...customer, created_at: Date.now() }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
			if (!res.ok) throw new Error(`POST /api/v1/customers answered ${res.status}: ${await res.text()}`);
		}
		const now = Date.now();
		const body = JSON.stringify({ ...order, placed_at: now, paid_at: now });
		const ts = Math.floor(now / 1000);
		const res = await fetch(`${base}/hooks/orders`, {
			method: "POST",
			headers: { "Content-Type": "application/json", "X-B2G-Site": site, "X-B2G-Timestamp": String(ts), "X-B2G-Signature": signOrderDelivery(secret, ts, body) },
			body,
			signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
		});
		if (!res.ok) throw new Error(`/hooks/orders answered ${res.status}: ${await res.text()}`);
		stats.orders++;
	}

	async function runSession(plan) {
		stats.sessions++;
		for (const step of plan.steps) {
			await sleep(step.after, controller.signal);
			if (controller.signal.aborted) return;
			try {
				await postEvent(plan, step);
			} catch (err) {
				fail("event", err);
				return;
			}
		}
		if (plan.order && !plan.bot) await pushOrder(plan.order, plan.customer).catch((err) => fail("order", err));
	}

	const loop = (async () => {
		const TICK = SECOND;
		while (!controller.signal.aborted) {
			const now = Date.now();
			const mean = sessionsPerMinute(now, utcOffsetMinutes(info.timezone ?? "UTC", now), rate) / 60;
			// Poisson arrivals in this tick (mean < 1 almost always: a Bernoulli draw per unit of mean).
			let n = 0;
			for (let u = rng(), p = Math.exp(-mean), cum = p; u > cum && n < 20; n++) cum += p *= mean / (n + 1);
			for (let i = 0; i < n; i++) {
				const plan = planSession(rng, catalogue, customers, { origin, site, currency: info.currency ?? "EUR", now });
				const task = runSession(plan).catch((err) => fail("session", err));
				running.add(task);
				task.finally(() => running.delete(task));
			}
			await sleep(TICK, controller.signal);
		}
	})();

	log(`traffic: simulating ~${Math.round(sessionsPerMinute(Date.now(), utcOffsetMinutes(info.timezone ?? "UTC", Date.now()), rate))} sessions/min on '${site}' (${catalogue.length} products, ${customers.length} returning customers)`);
	return {
		stats,
		async stop() {
			controller.abort();
			await loop;
			await Promise.allSettled([...running]);
		},
	};
}

function parseArgs(argv) {
	const out = { url: "http://127.0.0.1:8787", site: "demo", key: process.env.B2G_KEY ?? "", secret: process.env.B2G_WEBHOOK_SECRET ?? "", rate: 1, seed: undefined };
	for (let i = 0; i < argv.length; i++) {
		const [k, v] = [argv[i], argv[i + 1]];
		if (k === "--help" || k === "-h") out.help = true;
		else if (["--url", "--site", "--key", "--secret", "--rate", "--seed", "--origin"].includes(k)) {
			if (v === undefined) throw new Error(`${k} needs a value`);
			out[k.slice(2)] = ["--rate", "--seed"].includes(k) ? Number(v) : v;
			i++;
		} else throw new Error(`unknown option ${k}`);
	}
	if (!(out.rate > 0 && out.rate <= 50)) throw new Error("--rate must be in (0, 50]");
	return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	let opts;
	try {
		opts = parseArgs(process.argv.slice(2));
	} catch (err) {
		console.error(`traffic: ${err.message}`);
		process.exit(2);
	}
	if (opts.help) {
		console.log("usage: node scripts/traffic.mjs --url http://127.0.0.1:8787 --site demo --key <read key> --secret <webhook secret> [--rate 1] [--seed N] [--origin URL]");
		process.exit(0);
	}
	const sim = await startTraffic({ ...opts, origin: opts.origin ?? opts.url, log: console.log });
	const report = setInterval(() => console.log(`traffic: ${JSON.stringify({ ...sim.stats, lastError: undefined })}`), 60_000);
	const stop = async () => {
		clearInterval(report);
		await sim.stop();
		console.log(`traffic: stopped ${JSON.stringify(sim.stats)}`);
		process.exit(0);
	};
	process.on("SIGINT", stop);
	process.on("SIGTERM", stop);
}
