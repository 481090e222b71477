/**
 * The Brain2Gain demo store: a pure, deterministic generator of two years of a sports-supplements
 * e-shop, in the exact record shapes of the bulk import API (workers/commerce/entities.ts: JSON keys =
 * CSV headers; events in the /e wire format). No I/O, no clock, no Node APIs: the same
 * (seed, sizes, asOf) always gives the same records, in Node (scripts/seed.mjs) and in workerd (tests).
 *
 *   generateStore({ seed, months, customers, orders, eventDays, asOf, origin }) → { meta, suppliers,
 *     products, customers, orders, refunds, inventory, deliveries, tickets, surveys, spend, messages, events }
 *
 * The model, in the order it is built:
 *   - ~150 SKUs in 9 categories, 7 brands, 8 suppliers with lead times and lateness; margins 35–65 %.
 *   - One factor per day: season (January peak, May–June peak, August and December dips; piecewise linear
 *     between mid-months) × weekday × ±7 % noise × the injected drop (below).
 *   - Customers: created over the window with a growth trend (sign-ups per day ×1.25 from the first day
 *     to the last) times the daily factor; country, acquisition channel, a loyalty class (one-off,
 *     occasional, loyal) and a subscription fate (~12 % active at the end, some cancelled or paused).
 *   - Orders: a first order at sign-up (85 %; 7 % buy within a month, 8 % never), subscriptions (started
 *     by the first order or a later one, renewed every 30/45/60 days, fewer in the holidays), and repeat
 *     orders from each customer's own Poisson process (rate by loyalty class, decaying with customer age,
 *     times the daily factor), scaled so that the expected total is the requested order count. The store
 *     launched with the window, so its first months ramp up; compare seasons against a centred year.
 *     Baskets with co-purchases (whey + creatine + shaker, vitamins + omega-3, …) and seasonal category
 *     mixes; coupons, shipping, VAT on top (total = items − discount + shipping + tax, in cents);
 *     paid/shipped/delivered times (fulfilment 0–4 days, transit by country); ~5 % refunds/returns.
 *   - Support tickets (~4 % of orders) with first-response and resolution times, NPS (10 % of delivered
 *     orders) and CSAT (45 % of resolved tickets) surveys, marketing spend per paid channel per day,
 *     email/SMS campaign messages (a sample of each audience, ~2 per customer, with opens, clicks and
 *     bounces), inventory snapshots (weekly, daily for the last 28 days) and supplier deliveries simulated
 *     from the orders' demand (a few stockouts, ~20 % late deliveries).
 *   - Web events for the last `eventDays` days only (default 28; events are the slowest rows to load):
 *     per order a converting session (page_view → product_view → add_to_cart → begin_checkout → purchase
 *     with the order's id, value and items, customer_id set; subscription renewals get one server-side
 *     purchase event instead), plus ~2 abandoned-cart sessions and ~6 browse-only sessions per purchase,
 *     with channel/UTM mixes; visitor_id on every event; ids `s<seed>.<session>.<n>`.
 *
 * THE INJECTED DROP: the 3 UTC days starting 35 days before `asOf` (asOf − 35 d, − 34 d, − 33 d) have
 * 45 % fewer orders (first and repeat orders, sign-ups, and 45 % of the subscription renewals due then
 * fail): a checkout outage for alert rules to find. `meta.drop` names the dates.
 *
 * Time: everything happens in [start, asOf), where asOf is a UTC midnight (default: today's, chosen by the
 * caller) and start is `months` calendar months earlier. Lifecycle steps that would fall on or after asOf
 * (a delivery, a refund, a survey answer) have not happened yet and are left out, so re-running on the
 * same UTC day produces the same records and re-loading changes nothing.
 */
import { mulberry32, USER_AGENTS } from "./seed-events.mjs";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Default size: ~150,000 orders (7.5 per customer) over 24 months and ~255,000 web events for the last
 * 28 days. Generating and loading it through the local Worker takes ~95 s on the 2-core dev machine
 * (README has the measurement); smaller stores for tests come from --customers/--orders/--months.
 */
export const DEFAULTS = Object.freeze({ seed: 42, months: 24, customers: 20_000, ordersPerCustomer: 7.5, eventDays: 28, origin: "http://localhost:8787" });
/** The injected revenue drop: `length` days starting `daysBeforeAsOf` days before asOf, orders × `factor`. */
export const DROP = Object.freeze({ daysBeforeAsOf: 35, length: 3, factor: 0.55 });

// ── randomness ────────────────────────────────────────────────────────────────────────────────────

function fnv1a(s) {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
	return h;
}

/** murmur3's finaliser: spreads nearby seeds apart. */
function mix32(h) {
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	return h >>> 0;
}

/** An independent PRNG stream per (seed, purpose): changing one part of the model never shifts another. */
const streamFor = (seed, label) => mulberry32(mix32((seed >>> 0) ^ fnv1a(label)));

const between = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
const chance = (rng, p) => rng() < p;
const pick = (rng, list) => list[Math.floor(rng() * list.length)];

function normal(rng) {
	const u = 1 - rng();
	return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
const lognormal = (rng, median, sigma) => median * Math.exp(sigma * normal(rng));

function poisson(rng, mean) {
	if (mean <= 0) return 0;
	if (mean > 60) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rng)));
	const limit = Math.exp(-mean);
	let k = 0;
	let p = rng();
	while (p > limit) {
		k++;
		p *= rng();
	}
	return k;
}

/** Weighted sampler over indexes: cumulative weights + binary search. */
function sampler(weights) {
	const cum = new Float64Array(weights.length);
	let total = 0;
	weights.forEach((w, i) => {
		total += Math.max(0, w);
		cum[i] = total;
	});
	return (rng) => {
		const r = rng() * total;
		let lo = 0;
		let hi = cum.length - 1;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (cum[mid] > r) hi = mid;
			else lo = mid + 1;
		}
		return lo;
	};
}

const samplers = new WeakMap();
/** Picks from [[value, weight], …] (the sampler is built once per table). */
function weightedPick(rng, entries) {
	let s = samplers.get(entries);
	if (!s) samplers.set(entries, (s = sampler(entries.map((e) => e[1]))));
	return entries[s(rng)][0];
}

// ── money and time formatting ─────────────────────────────────────────────────────────────────────

/** Cents → "12.34" (exact; amounts travel as decimal strings). */
export const money = (cents) => `${cents < 0 ? "-" : ""}${Math.trunc(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, "0")}`;
/** Timestamps travel as integer epoch ms (the import accepts them beside ISO 8601, and they are cheaper both ends). */
const iso = (ms) => Math.round(ms);
export const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Start of the UTC day of `ms`. */
export const startOfUtcDay = (ms) => Math.floor(ms / DAY) * DAY;

// ── the catalogue ─────────────────────────────────────────────────────────────────────────────────

export const SUPPLIERS = [
	{ supplier_id: "SUP-01", name: "Iberia Nutrition Labs S.L.", country: "ES", lead: 6, late: 0.1 },
	{ supplier_id: "SUP-02", name: "Rheinland Protein GmbH", country: "DE", lead: 9, late: 0.14 },
	{ supplier_id: "SUP-03", name: "NordicOmega AS", country: "NO", lead: 14, late: 0.22 },
	{ supplier_id: "SUP-04", name: "Alpenvital GmbH", country: "AT", lead: 11, late: 0.12 },
	{ supplier_id: "SUP-05", name: "Dutch Whey Company B.V.", country: "NL", lead: 8, late: 0.18 },
	{ supplier_id: "SUP-06", name: "Milano Sport Foods S.r.l.", country: "IT", lead: 12, late: 0.28 },
	{ supplier_id: "SUP-07", name: "Porto Fitness Gear Lda.", country: "PT", lead: 16, late: 0.2 },
	{ supplier_id: "SUP-08", name: "Shenzhen Drinkware Co. Ltd", country: "CN", lead: 35, late: 0.35 },
];

/** Consumables can be subscribed to; accessories cannot. */
const CONSUMABLE = new Set(["protein", "gainers", "creatine", "pre-workout", "amino-acids", "vitamins-minerals", "omega-3", "protein-bars"]);

/**
 * Product lines: [code, name, category, brand, supplier, popularity, sizes [[code, label, price €, weight]], flavours].
 * Every size × flavour is a SKU.
 */
const LINES = [
	["WHEY", "Whey Protein", "protein", "Brain2Gain", "SUP-05", 30, [["1KG", "1 kg", 24.9, 1], ["2K5", "2.5 kg", 54.9, 0.7], ["5KG", "5 kg", 99.9, 0.12]], ["Chocolate", "Vanilla", "Strawberry", "Cookies & Cream", "Salted Caramel", "Unflavoured"]],
	["WHEY-SAMPLE", "Whey Protein Sample", "protein", "Brain2Gain", "SUP-05", 2, [["30G", "30 g", 1.9, 1]], ["Chocolate", "Vanilla", "Strawberry"]],
	["ISO", "Whey Isolate", "protein", "IronPeak", "SUP-02", 16, [["1KG", "1 kg", 36.9, 1], ["2KG", "2 kg", 64.9, 0.5]], ["Chocolate", "Vanilla", "Banana", "Unflavoured"]],
	["CLEAR", "Clear Whey", "protein", "Titan Labs", "SUP-02", 5, [["500G", "500 g", 27.9, 1]], ["Lemon Iced Tea", "Peach", "Mixed Berry", "Mojito"]],
	["CASEIN", "Micellar Casein", "protein", "NordFuel", "SUP-04", 4, [["1KG", "1 kg", 29.9, 1]], ["Chocolate", "Vanilla"]],
	["VEGAN", "Vegan Protein", "protein", "PureForm", "SUP-01", 6, [["1KG", "1 kg", 27.9, 1]], ["Chocolate", "Vanilla", "Neutral"]],
	["MASS", "Mass Gainer", "gainers", "Titan Labs", "SUP-02", 5, [["3KG", "3 kg", 39.9, 1], ["5KG", "5 kg", 59.9, 0.5]], ["Chocolate", "Vanilla", "Banana"]],
	["LEAN-GAIN", "Lean Gainer", "gainers", "Brain2Gain", "SUP-05", 2, [["2KG", "2 kg", 34.9, 1]], ["Chocolate", "Vanilla"]],
	["CREA", "Creatine Monohydrate", "creatine", "Brain2Gain", "SUP-01", 22, [["300G", "300 g", 14.9, 0.7], ["500G", "500 g", 21.9, 1], ["1KG", "1 kg", 36.9, 0.45], ["2K5", "2.5 kg", 74.9, 0.05]], ["Unflavoured"]],
	["CREA-FLAV", "Creatine Monohydrate", "creatine", "Brain2Gain", "SUP-01", 4, [["500G", "500 g", 24.9, 1]], ["Lemon", "Orange", "Tropical"]],
	["CREAPURE", "Creapure® Creatine", "creatine", "IronPeak", "SUP-02", 5, [["500G", "500 g", 29.9, 1]], ["Unflavoured"]],
	["CREA-CAPS", "Creatine Capsules", "creatine", "Brain2Gain", "SUP-01", 5, [["120", "120 caps", 17.9, 1], ["240", "240 caps", 29.9, 0.5]], [""]],
	["CREA-GUMMY", "Creatine Gummies", "creatine", "Titan Labs", "SUP-06", 4, [["90", "90 gummies", 24.9, 1]], ["Orange", "Berry", "Sour Apple"]],
	["CREA-HCL", "Creatine HCl", "creatine", "NordFuel", "SUP-04", 1.5, [["120", "120 caps", 22.9, 1]], [""]],
	["RAMPAGE", "Rampage Pre-Workout", "pre-workout", "Titan Labs", "SUP-02", 8, [["300G", "300 g", 32.9, 1]], ["Blue Raspberry", "Fruit Punch", "Watermelon", "Sour Apple"]],
	["PUMP", "Pump Stim-Free Pre-Workout", "pre-workout", "Brain2Gain", "SUP-01", 4, [["300G", "300 g", 27.9, 1]], ["Berry", "Lemon", "Mango"]],
	["IGNITE", "Ignite High-Stim Pre-Workout", "pre-workout", "IronPeak", "SUP-02", 4, [["250G", "250 g", 34.9, 1]], ["Cola", "Tropical", "Grape"]],
	["CAFF", "Caffeine 200 mg", "pre-workout", "Brain2Gain", "SUP-01", 2, [["100", "100 tabs", 9.9, 1]], [""]],
	["BETA-ALA", "Beta-Alanine", "pre-workout", "Brain2Gain", "SUP-01", 1.5, [["300G", "300 g", 18.9, 1]], [""]],
	["CITRU", "Citrulline Malate", "pre-workout", "Brain2Gain", "SUP-01", 1.5, [["300G", "300 g", 21.9, 1]], [""]],
	["BCAA", "BCAA 2:1:1", "amino-acids", "Brain2Gain", "SUP-05", 6, [["400G", "400 g", 22.9, 1]], ["Lemon", "Watermelon", "Peach Iced Tea", "Unflavoured"]],
	["EAA", "EAA Complex", "amino-acids", "IronPeak", "SUP-02", 5, [["400G", "400 g", 26.9, 1]], ["Lemon", "Mango", "Cola", "Raspberry"]],
	["BCAA-CAPS", "BCAA Capsules", "amino-acids", "Brain2Gain", "SUP-05", 1.5, [["240", "240 caps", 19.9, 1]], [""]],
	["GLUTA", "L-Glutamine", "amino-acids", "Brain2Gain", "SUP-05", 1.5, [["500G", "500 g", 19.9, 1]], [""]],
	["VEGAN-EAA", "Vegan EAA", "amino-acids", "PureForm", "SUP-01", 1.2, [["300G", "300 g", 27.9, 1]], ["Lemon", "Berry"]],
	["D3", "Vitamin D3 2000 IU", "vitamins-minerals", "Vitalis", "SUP-04", 7, [["120", "120 caps", 9.9, 1]], [""]],
	["D3K2", "Vitamin D3 + K2 Drops", "vitamins-minerals", "Vitalis", "SUP-04", 5, [["50ML", "50 ml", 14.9, 1]], [""]],
	["MULTI", "Multivitamin Daily", "vitamins-minerals", "Vitalis", "SUP-04", 5, [["90", "90 tabs", 16.9, 1]], [""]],
	["MULTI-W", "Multivitamin Women", "vitamins-minerals", "Vitalis", "SUP-04", 3, [["90", "90 tabs", 17.9, 1]], [""]],
	["MULTI-M", "Multivitamin Men", "vitamins-minerals", "Vitalis", "SUP-04", 3, [["90", "90 tabs", 17.9, 1]], [""]],
	["MAG-BIS", "Magnesium Bisglycinate", "vitamins-minerals", "Brain2Gain", "SUP-04", 5, [["120", "120 caps", 17.9, 1]], [""]],
	["MAG-CIT", "Magnesium Citrate Powder", "vitamins-minerals", "Vitalis", "SUP-04", 2, [["300G", "300 g", 14.9, 1]], [""]],
	["ZINC", "Zinc Picolinate", "vitamins-minerals", "Vitalis", "SUP-04", 2, [["120", "120 caps", 9.9, 1]], [""]],
	["VITC", "Vitamin C 1000 mg", "vitamins-minerals", "Vitalis", "SUP-04", 2.5, [["120", "120 tabs", 11.9, 1]], [""]],
	["B12", "Vitamin B12 1000 µg", "vitamins-minerals", "Vitalis", "SUP-04", 1.5, [["90", "90 tabs", 9.9, 1]], [""]],
	["IRON", "Iron Bisglycinate", "vitamins-minerals", "Vitalis", "SUP-04", 1, [["90", "90 caps", 10.9, 1]], [""]],
	["ASHWA", "Ashwagandha KSM-66", "vitamins-minerals", "Brain2Gain", "SUP-01", 3, [["90", "90 caps", 19.9, 1]], [""]],
	["ZMA", "ZMA", "vitamins-minerals", "Brain2Gain", "SUP-01", 1.5, [["120", "120 caps", 16.9, 1]], [""]],
	["ELECTRO", "Electrolytes", "vitamins-minerals", "Brain2Gain", "SUP-01", 4, [["300G", "300 g", 16.9, 1]], ["Lemon", "Orange", "Berry", "Watermelon"]],
	["COLLAGEN", "Collagen Peptides", "vitamins-minerals", "PureForm", "SUP-01", 2.5, [["500G", "500 g", 29.9, 1]], ["Neutral", "Berry"]],
	["SLEEP", "Sleep Complex", "vitamins-minerals", "Vitalis", "SUP-04", 1.2, [["60", "60 caps", 18.9, 1]], [""]],
	["PROBIO", "Probiotic 20 bn", "vitamins-minerals", "Vitalis", "SUP-04", 1.2, [["60", "60 caps", 21.9, 1]], [""]],
	["CALC", "Calcium + D3", "vitamins-minerals", "Vitalis", "SUP-04", 0.8, [["120", "120 tabs", 10.9, 1]], [""]],
	["OMEGA", "Omega-3 1000 mg", "omega-3", "OceanPure", "SUP-03", 8, [["120", "120 caps", 14.9, 1], ["240", "240 caps", 24.9, 0.5]], [""]],
	["OMEGA-EPA", "Omega-3 High EPA", "omega-3", "OceanPure", "SUP-03", 2.5, [["90", "90 caps", 22.9, 1]], [""]],
	["ALGAE", "Algae Omega-3", "omega-3", "PureForm", "SUP-03", 2, [["60", "60 caps", 24.9, 1]], [""]],
	["KRILL", "Krill Oil", "omega-3", "OceanPure", "SUP-03", 1.5, [["60", "60 caps", 27.9, 1]], [""]],
	["COD", "Cod Liver Oil", "omega-3", "OceanPure", "SUP-03", 0.8, [["250ML", "250 ml", 17.9, 1]], [""]],
	["OMEGA-LIQ", "Omega-3 Liquid", "omega-3", "OceanPure", "SUP-03", 0.8, [["200ML", "200 ml", 19.9, 1]], ["Lemon"]],
	["BAR", "Protein Bar 12 × 60 g", "protein-bars", "Brain2Gain", "SUP-06", 14, [["12", "12-pack", 23.9, 1]], ["Chocolate Brownie", "Peanut Butter", "Cookies & Cream", "White Choc Raspberry", "Salted Caramel", "Coconut"]],
	["CRISP", "Crisp Bar 12 × 55 g", "protein-bars", "IronPeak", "SUP-06", 6, [["12", "12-pack", 25.9, 1]], ["Chocolate", "Vanilla Crunch", "Hazelnut", "Lemon Cheesecake"]],
	["VBAR", "Vegan Protein Bar 12 × 50 g", "protein-bars", "PureForm", "SUP-06", 3, [["12", "12-pack", 26.9, 1]], ["Cacao", "Peanut", "Almond"]],
	["COOKIE", "Protein Cookie 12 × 75 g", "protein-bars", "Brain2Gain", "SUP-06", 3, [["12", "12-pack", 21.9, 1]], ["Double Chocolate", "Oatmeal Raisin"]],
	["WAFER", "Protein Wafer 12 × 40 g", "protein-bars", "Titan Labs", "SUP-06", 2, [["12", "12-pack", 22.9, 1]], ["Vanilla", "Hazelnut"]],
	["SHAKER", "Shaker", "accessories", "Brain2Gain", "SUP-08", 9, [["500", "500 ml", 6.9, 0.6], ["700", "700 ml", 7.9, 1]], ["Black", "White", "Pink"]],
	["STEEL-SHAKER", "Steel Shaker 750 ml", "accessories", "Brain2Gain", "SUP-08", 1.5, [["750", "", 19.9, 1]], [""]],
	["MIXER", "Electric Mixer Bottle", "accessories", "Brain2Gain", "SUP-08", 1, [["600", "600 ml", 24.9, 1]], [""]],
	["PILLBOX", "Pill Organiser", "accessories", "Brain2Gain", "SUP-08", 0.8, [["7D", "7 days", 5.9, 1]], [""]],
	["TOWEL", "Gym Towel", "accessories", "Brain2Gain", "SUP-07", 1, [["STD", "", 12.9, 1]], [""]],
	["STRAPS", "Lifting Straps", "accessories", "IronPeak", "SUP-07", 1.2, [["STD", "", 12.9, 1]], [""]],
	["WRAPS", "Wrist Wraps", "accessories", "IronPeak", "SUP-07", 1, [["STD", "", 14.9, 1]], [""]],
	["BELT", "Lifting Belt", "accessories", "IronPeak", "SUP-07", 1, [["S", "S", 39.9, 0.6], ["M", "M", 39.9, 1], ["L", "L", 39.9, 0.8]], [""]],
	["BANDS", "Resistance Bands Set", "accessories", "Brain2Gain", "SUP-07", 1, [["SET", "", 24.9, 1]], [""]],
	["GYMBAG", "Gym Bag", "accessories", "Brain2Gain", "SUP-07", 0.7, [["STD", "", 34.9, 1]], [""]],
	["BOTTLE", "Water Bottle 2 l", "accessories", "Brain2Gain", "SUP-08", 1, [["2L", "", 14.9, 1]], [""]],
	["FUNNEL", "Powder Funnel", "accessories", "Brain2Gain", "SUP-08", 0.6, [["STD", "", 3.9, 1]], [""]],
];

const slugify = (s) =>
	s
		.normalize("NFKD")
		.replace(/[^\w\s-]/g, "")
		.trim()
		.toLowerCase()
		.replace(/[\s_]+/g, "-")
		.replace(/-+/g, "-");

const flavourCode = (f) =>
	f
		.normalize("NFKD")
		.replace(/[^A-Za-z ]/g, "")
		.split(/\s+/)
		.filter(Boolean)
		.map((w, i, a) => (a.length === 1 ? w.slice(0, 4) : w.slice(0, 2)))
		.join("")
		.toUpperCase();

/** The catalogue (deterministic for a seed: margins and the few under-stocked SKUs vary). */
export function buildCatalogue(seed) {
	const rng = streamFor(seed, "catalogue");
	const products = [];
	for (const [code, name, category, brand, supplierId, popularity, sizes, flavours] of LINES) {
		sizes.forEach(([sizeCode, sizeLabel, price, sizeWeight]) => {
			flavours.forEach((flavour, fi) => {
				const sku = ["B2G", code, sizeCode, flavour ? flavourCode(flavour) : ""].filter(Boolean).join("-");
				const full = [name, sizeLabel, flavour].filter(Boolean).join(" · ");
				const house = brand === "Brain2Gain";
				const margin = category === "accessories" ? 0.55 + rng() * 0.1 : house ? 0.48 + rng() * 0.17 : 0.35 + rng() * 0.13;
				const priceCents = Math.round(price * 100);
				products.push({
					sku,
					name: full,
					slug: slugify(`${brand} ${full}`),
					category,
					brand,
					supplier_id: supplierId,
					price: priceCents,
					cost: Math.round(priceCents * (1 - margin)),
					weight: (popularity * sizeWeight) / (1 + 0.45 * fi) / flavours.length ** 0.3,
					consumable: CONSUMABLE.has(category),
					lead: SUPPLIERS.find((s) => s.supplier_id === supplierId).lead,
				});
			});
		});
	}
	return products;
}

// ── calendar ──────────────────────────────────────────────────────────────────────────────────────

/** Relative demand by month (Jan…Dec), taken at mid-month and interpolated linearly between. */
const SEASON = [1.6, 1.15, 1.0, 1.02, 1.22, 1.26, 1.0, 0.8, 0.98, 0.94, 1.04, 0.86];
/** Relative demand by weekday (Sun…Sat). */
const WEEKDAY = [1.12, 1.1, 1.04, 1.0, 0.97, 0.9, 0.84];
/** Relative activity by UTC hour (European shoppers: lunch and evening peaks); also the live traffic simulator's curve. */
export const HOURS = [0.55, 0.3, 0.18, 0.12, 0.12, 0.2, 0.45, 0.85, 1.15, 1.35, 1.45, 1.55, 1.75, 1.7, 1.5, 1.4, 1.45, 1.65, 1.95, 2.25, 2.35, 2.05, 1.55, 0.95];
const hourOf = sampler(HOURS);

/** A time of day (ms since midnight) with the shoppers' hourly profile. */
const timeOfDay = (rng) => hourOf(rng) * HOUR + Math.floor(rng() * HOUR);

function seasonAt(ms) {
	const d = new Date(ms);
	const y = d.getUTCFullYear();
	const m = d.getUTCMonth();
	const mid = (yy, mm) => Date.UTC(yy, mm, 15);
	const here = mid(y, m);
	const [a, b, ma, mb] = ms < here ? [mid(y, m - 1), here, (m + 11) % 12, m] : [here, mid(y, m + 1), m, (m + 1) % 12];
	const f = (ms - a) / (b - a);
	return SEASON[ma] * (1 - f) + SEASON[mb] * f;
}

/**
 * The days of the window with their demand factor `s` (season × weekday × noise × drop) and the
 * cumulative factor `cum` (cum[i] = sum of s over days before i; cum[days] = total).
 */
function calendar(seed, start, asOf) {
	const rng = streamFor(seed, "calendar");
	const n = Math.round((asOf - start) / DAY);
	const dropStart = asOf - DROP.daysBeforeAsOf * DAY;
	const days = [];
	const cum = new Float64Array(n + 1);
	for (let i = 0; i < n; i++) {
		const t = start + i * DAY;
		const drop = t >= dropStart && t < dropStart + DROP.length * DAY;
		const s = seasonAt(t + 12 * HOUR) * WEEKDAY[new Date(t).getUTCDay()] * Math.exp(0.07 * normal(rng)) * (drop ? DROP.factor : 1);
		days.push({ t, s, drop, month: new Date(t).getUTCMonth() });
		cum[i + 1] = cum[i] + s;
	}
	return { days, cum, n };
}

/** Day index of a time in the window (clamped). */
const dayIndex = (cal, start, ms) => Math.min(cal.n - 1, Math.max(0, Math.floor((ms - start) / DAY)));

/** Inverse of the cumulative factor: the day index where `u` (0 ≤ u < cum[n]) falls. */
function dayAtCum(cum, u) {
	let lo = 0;
	let hi = cum.length - 2;
	while (lo < hi) {
		const mid = (lo + hi + 1) >>> 1;
		if (cum[mid] <= u) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

// ── customers ─────────────────────────────────────────────────────────────────────────────────────

const COUNTRIES = [["ES", 26], ["DE", 20], ["FR", 14], ["IT", 12], ["NL", 8], ["PT", 7], ["GB", 5], ["BE", 4], ["AT", 3], ["IE", 1]];
/** VAT on food supplements and sports goods, simplified to one standard rate per country (basis points). */
const VAT_BP = { ES: 2100, DE: 1900, FR: 2000, IT: 2200, NL: 2100, PT: 2300, GB: 2000, BE: 2100, AT: 2000, IE: 2300 };
/** Standard shipping (cents) below the free-shipping threshold, and transit days [min, max]. */
const SHIPPING = { ES: [395, 1, 2], PT: [395, 2, 3], DE: [495, 2, 3], FR: [495, 2, 4], IT: [495, 3, 5], NL: [495, 2, 3], BE: [495, 2, 3], AT: [495, 3, 4], GB: [795, 3, 6], IE: [795, 3, 6] };
const FREE_SHIPPING_FROM = 4900;

export const CHANNELS = ["organic_search", "paid_search", "social", "email", "affiliate", "direct"];
const ACQUISITION = [["organic_search", 28], ["paid_search", 22], ["social", 17], ["email", 7], ["affiliate", 9], ["direct", 17]];
const REPEAT_CHANNEL = [["email", 34], ["direct", 30], ["organic_search", 14], ["paid_search", 10], ["social", 6], ["affiliate", 6]];

const NAMES = {
	ES: [["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Carmen", "Pablo", "Elena", "Álvaro"], ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno"]],
	PT: [["Maria", "João", "Beatriz", "Tiago", "Inês", "Rodrigo"], ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa"]],
	DE: [["Mia", "Ben", "Emma", "Paul", "Hannah", "Jonas", "Lea", "Lukas", "Anna", "Felix"], ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"]],
	AT: [["Lena", "Tobias", "Sarah", "David"], ["Gruber", "Huber", "Bauer", "Wagner"]],
	FR: [["Louise", "Gabriel", "Jade", "Raphaël", "Chloé", "Louis", "Inès", "Arthur"], ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]],
	BE: [["Emma", "Noah", "Olivia", "Arthur"], ["Peeters", "Janssens", "Maes", "Jacobs"]],
	IT: [["Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Alessandro", "Ginevra", "Lorenzo"], ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"]],
	NL: [["Julia", "Daan", "Emma", "Sem", "Tess", "Lucas"], ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"]],
	GB: [["Olivia", "Oliver", "Amelia", "George", "Isla", "Harry"], ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson"]],
	IE: [["Grace", "Jack", "Emily", "Conor"], ["Murphy", "Kelly", "O'Sullivan", "Walsh"]],
};
const ascii = (s) =>
	s
		.normalize("NFKD")
		.replace(/[^A-Za-z]/g, "")
		.toLowerCase();

/**
 * Loyalty classes: share of customers, monthly repeat rate (before scaling), decay (months) of that rate
 * with the customer's age, email engagement.
 */
const CLASSES = [
	{ share: 0.62, rate: 0.05, tau: 3, engagement: 0.6, fates: [["active", 0.03], ["cancelled", 0.05], ["paused", 0.01], ["none", 0.91]] },
	{ share: 0.24, rate: 0.35, tau: 5, engagement: 1, fates: [["active", 0.17], ["cancelled", 0.12], ["paused", 0.02], ["none", 0.69]] },
	{ share: 0.14, rate: 1.6, tau: 8, engagement: 1.35, fates: [["active", 0.55], ["cancelled", 0.15], ["paused", 0.02], ["none", 0.28]] },
];
/** Subscription intervals (days) and their shares. */
const SUB_INTERVALS = [[30, 45], [45, 30], [60, 25]];
/** Share of renewals skipped by month (holidays): none in January, a quarter in August. */
const SUB_SKIP = [0, 0, 0, 0, 0, 0, 0.1, 0.25, 0, 0, 0, 0.2];
/** Sign-ups per day grow by this factor from the first day of the window to the last. */
const ACQUISITION_GROWTH = 1.25;

// ── the store ─────────────────────────────────────────────────────────────────────────────────────

/**
 * @param {object} [options]
 * @param {number} [options.seed] integer (default 42)
 * @param {number} [options.months] window length in calendar months, 2–60 (default 24)
 * @param {number} [options.customers] default 20,000
 * @param {number} [options.orders] target order count (± a few %), default customers × 7.5
 * @param {number} [options.eventDays] web events for this many most recent days, 0–31 (default 28)
 * @param {number} options.asOf epoch ms; floored to its UTC midnight; nothing happens at or after it
 * @param {number} [options.until] epoch ms in the window's last day (asOf − 1 day, asOf]: the moment the store
 *   is generated "now" — nothing happens at or after it (default: asOf). The records before it do not depend
 *   on it, so a later `until` on the same day only adds records and lifecycle steps.
 * @param {string} [options.origin] origin of the shop URLs in events (default http://localhost:8787)
 * @param {number} [options.messages] target number of campaign messages (default 2 per customer)
 * @param {() => { add(events: any[]): void; flush(beforeDay?: string): object[] }} [options.webHistory] an
 *   aggregator factory (workers/metrics/web-history.ts `webDailyAggregator`): when given, the days before the raw
 *   event window get the same kind of sessions, generated a month at a time and returned only as `web_daily` records
 */
export function generateStore(options) {
	const seed = options.seed ?? DEFAULTS.seed;
	const months = options.months ?? DEFAULTS.months;
	const customerCount = options.customers ?? DEFAULTS.customers;
	const orderTarget = options.orders ?? Math.round(customerCount * DEFAULTS.ordersPerCustomer);
	const eventDays = options.eventDays ?? DEFAULTS.eventDays;
	const origin = (options.origin ?? DEFAULTS.origin).replace(/\/+$/, "");
	const messageTarget = options.messages ?? customerCount * 2;
	if (!Number.isInteger(seed)) throw new TypeError("seed must be an integer");
	if (!Number.isInteger(months) || months < 2 || months > 60) throw new RangeError("months must be an integer in 2–60");
	if (!Number.isInteger(customerCount) || customerCount < 10 || customerCount > 1_000_000) throw new RangeError("customers must be an integer in 10–1,000,000");
	if (!Number.isInteger(orderTarget) || orderTarget < customerCount || orderTarget > 20_000_000) throw new RangeError("orders must be an integer ≥ customers");
	if (!Number.isInteger(eventDays) || eventDays < 0 || eventDays > 31) throw new RangeError("eventDays must be an integer in 0–31");
	if (!Number.isFinite(options.asOf)) throw new TypeError("asOf must be epoch milliseconds");

	const asOf = startOfUtcDay(options.asOf);
	const until = options.until ?? asOf;
	if (!Number.isFinite(until) || until <= asOf - DAY || until > asOf) throw new RangeError("until must be epoch ms in the last day before asOf");
	const a = new Date(asOf);
	const start = Date.UTC(a.getUTCFullYear(), a.getUTCMonth() - months, a.getUTCDate());
	const cal = calendar(seed, start, asOf);
	const tag = `s${(seed >>> 0).toString(36)}`;

	const products = buildCatalogue(seed);
	const bySku = new Map(products.map((p) => [p.sku, p]));
	const catalogue = catalogueSamplers(products);

	// Customers ───────────────────────────────────────────────────────────────────────────────────
	const crng = streamFor(seed, "customers");
	const growth = Math.log(ACQUISITION_GROWTH);
	const acquisitionWeights = cal.days.map((d, i) => d.s * Math.exp((growth * i) / cal.n));
	const acqCum = new Float64Array(cal.n + 1);
	acquisitionWeights.forEach((w, i) => (acqCum[i + 1] = acqCum[i] + w));
	const countryOf = sampler(COUNTRIES.map((c) => c[1]));
	const channelOf = sampler(ACQUISITION.map((c) => c[1]));
	const classOf = sampler(CLASSES.map((c) => c.share));
	/** Internal customer state; `record` is what gets imported. */
	const people = [];
	for (let i = 0; i < customerCount; i++) {
		// Stratified draw on the acquisition curve: smooth, and sorted by day.
		const u = ((i + crng()) / customerCount) * acqCum[cal.n];
		const di = dayAtCum(acqCum, u);
		const created = cal.days[di].t + timeOfDay(crng);
		const country = COUNTRIES[countryOf(crng)][0];
		const cls = CLASSES[classOf(crng)];
		const buyer = crng();
		people.push({
			created,
			country,
			channel: ACQUISITION[channelOf(crng)][0],
			cls,
			rate: cls.rate * Math.exp(0.4 * normal(crng)),
			// 85 % buy when they sign up, 7 % within a month, 8 % never.
			firstAt: buyer < 0.85 ? created + between(crng, 2, 25) * MINUTE + between(crng, 0, 59_999) : buyer < 0.92 ? created + between(crng, 1, 30) * DAY + between(crng, -6, 6) * HOUR : null,
			// The subscription fate (the first order starts it), more likely for loyal customers.
			fate: weightedPick(crng, cls.fates),
			emailOptIn: chance(crng, 0.7),
			smsOptIn: chance(crng, 0.16),
			nameRng: crng(),
		});
	}
	people.sort((x, y) => x.created - y.created);
	people.forEach((p, i) => {
		p.id = `C${String(i + 1).padStart(6, "0")}`;
		p.visitor = `cv-${tag}-${p.id}`;
		if (p.firstAt !== null && p.firstAt >= asOf) p.firstAt = null;
		if (p.firstAt === null) p.fate = "none";
	});

	// Order drafts: first orders, subscription renewals, repeat orders ─────────────────────────────────
	const orng = streamFor(seed, "orders");
	const drafts = [];
	let subscriptionDrafts = 0;
	const dropDays = cal.days.filter((d) => d.drop).map((d) => d.t);
	const inDrop = (ms) => dropDays.some((t) => ms >= t && ms < t + DAY);
	for (const [ci, p] of people.entries()) {
		if (p.firstAt === null) continue;
		drafts.push({ ci, t: p.firstAt, kind: "first" });
		if (p.fate === "none") continue;
		// The subscription starts with the first order (30 %) or with a later "subscribe" order; renewals
		// every 30, 45 or 60 days (± a few hours); cancelled and paused ones stop after a few.
		p.interval = weightedPick(orng, SUB_INTERVALS) * DAY;
		p.subAtFirst = chance(orng, 0.3);
		const subStart = p.subAtFirst ? p.firstAt : p.firstAt + orng() * 0.8 * (asOf - p.firstAt);
		if (!p.subAtFirst) drafts.push({ ci, t: subStart, kind: "subscribe" });
		const due = Math.floor((asOf - 1 - subStart) / p.interval);
		const renewals = p.fate === "active" ? due : Math.min(due, Math.floor(-Math.log(1 - orng()) * 4));
		for (let k = 1; k <= renewals; k++) {
			const t = subStart + k * p.interval + between(orng, -240, 240) * MINUTE;
			if (t >= asOf) break;
			// During the outage 45 % of the renewals due fail (and are not retried).
			if (inDrop(t) && chance(orng, 1 - DROP.factor)) continue;
			if (chance(orng, SUB_SKIP[new Date(t).getUTCMonth()])) continue;
			drafts.push({ ci, t, kind: "subscription" });
			subscriptionDrafts++;
		}
	}
	// Repeat orders: each buyer's own Poisson process with intensity k · rate · s(t) · e^(−age/τ) per 30 days.
	const intensity = (p, i) => (p.rate / 30) * cal.days[i].s * Math.exp(-(cal.days[i].t - p.firstAt) / (p.cls.tau * 30 * DAY));
	let expected = 0;
	for (const p of people) {
		if (p.firstAt === null) continue;
		const from = dayIndex(cal, start, p.firstAt) + 1;
		for (let i = from; i < cal.n; i++) expected += intensity(p, i);
	}
	const repeatTarget = Math.max(0, orderTarget - drafts.length);
	const k = expected > 0 ? repeatTarget / expected : 0;
	const cumBuf = new Float64Array(cal.n + 1);
	for (const [ci, p] of people.entries()) {
		if (p.firstAt === null) continue;
		const from = dayIndex(cal, start, p.firstAt) + 1;
		if (from >= cal.n) continue;
		cumBuf[from] = 0;
		for (let i = from; i < cal.n; i++) cumBuf[i + 1] = cumBuf[i] + k * intensity(p, i);
		const total = cumBuf[cal.n];
		const count = poisson(orng, total);
		for (let j = 0; j < count; j++) {
			const u = orng() * total;
			let lo = from;
			let hi = cal.n - 1;
			while (lo < hi) {
				const mid = (lo + hi + 1) >>> 1;
				if (cumBuf[mid] <= u) lo = mid;
				else hi = mid - 1;
			}
			drafts.push({ ci, t: cal.days[lo].t + timeOfDay(orng), kind: "repeat" });
		}
	}
	drafts.sort((x, y) => x.t - y.t || x.ci - y.ci || (x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0));
	// `until`: everything is drawn as for the whole day, and what lies at or after `until` is cut off at the
	// end (orders later today are not placed yet, people who sign up later do not exist yet, lifecycle steps
	// ahead have not happened). Every array is in time order, so a cut is a tail: what came before keeps its
	// ids and its random draws, whatever `until` is.

	// Orders ──────────────────────────────────────────────────────────────────────────────────────
	const brng = streamFor(seed, "baskets");
	const lrng = streamFor(seed, "lifecycle");
	const orders = [];
	const refunds = [];
	/** Per order: internal facts for tickets, surveys, events and inventory. */
	const facts = [];
	drafts.forEach((d, oi) => {
		const p = people[d.ci];
		const orderId = `B2G-${100001 + oi}`;
		const month = new Date(d.t).getUTCMonth();
		let items;
		let coupon;
		let discount = 0;
		let channel;
		if (d.kind === "subscription") {
			items = p.subscription.map((sku) => ({ sku, qty: 1 }));
			channel = "subscription";
		} else if (d.kind === "subscribe") {
			// Subscribing later: the favourite (when it is a consumable) and often creatine with it.
			const fav = p.favourite && bySku.get(p.favourite).consumable ? p.favourite : catalogue.bySeason[month](brng);
			const more = chance(brng, 0.35) && catalogue.category.get(fav) !== "creatine" ? [catalogue.topOf.creatine] : [];
			p.subscribedAt = d.t;
			p.subscription = [fav, ...more].filter((sku) => bySku.get(sku).consumable);
			if (!p.subscription.length) p.subscription = [catalogue.topOf.protein];
			items = p.subscription.map((sku) => ({ sku, qty: 1 }));
			channel = weightedPick(brng, REPEAT_CHANNEL);
		} else {
			const primary = d.kind === "repeat" && p.favourite && chance(brng, 0.45) ? p.favourite : catalogue.bySeason[month](brng);
			items = basket(brng, catalogue, primary, d.kind === "first", month);
			if (d.kind === "first") {
				p.favourite = primary;
				channel = p.channel;
			} else channel = weightedPick(brng, REPEAT_CHANNEL);
		}
		if (d.kind === "first" && p.subAtFirst) {
			// The subscription: up to two consumables of the first basket (whey + creatine, typically).
			const consumables = items.map((i) => i.sku).filter((sku) => bySku.get(sku).consumable);
			p.subscribedAt = d.t;
			p.subscription = consumables.length ? consumables.slice(0, 2) : [catalogue.topOf.protein];
			items = mergeLines([...items, ...p.subscription.filter((s) => !items.some((i) => i.sku === s)).map((sku) => ({ sku, qty: 1 }))]);
		}
		const lines = items.map((i) => ({ sku: i.sku, qty: i.qty, unit_price: bySku.get(i.sku).price, unit_cost: bySku.get(i.sku).cost }));
		const subtotal = lines.reduce((s, l) => s + l.qty * l.unit_price, 0);
		const subscription = d.kind === "subscription" || d.kind === "subscribe" || (d.kind === "first" && Boolean(p.subAtFirst));
		const date = new Date(d.t);
		const dom = date.getUTCDate();
		if (subscription) [coupon, discount] = ["SUBSCRIBE10", Math.round(subtotal * 0.1)];
		else if (d.kind === "first" && chance(brng, 0.3)) [coupon, discount] = ["WELCOME10", Math.round(subtotal * 0.1)];
		else if (month === 0 && dom <= 15 && chance(brng, 0.25)) [coupon, discount] = ["NEWYEAR15", Math.round(subtotal * 0.15)];
		else if (((month === 4 && dom >= 15) || (month === 5 && dom <= 15)) && chance(brng, 0.18)) [coupon, discount] = ["SUMMER20", Math.round(subtotal * 0.2)];
		else if (channel === "affiliate" && chance(brng, 0.6)) [coupon, discount] = ["PARTNER10", Math.round(subtotal * 0.1)];
		else if (channel === "email" && subtotal >= 4000 && chance(brng, 0.3)) [coupon, discount] = ["NEWS5", 500];
		const [fee, transitMin, transitMax] = SHIPPING[p.country];
		const shipping = subscription || subtotal - discount >= FREE_SHIPPING_FROM ? 0 : fee;
		const tax = Math.round(((subtotal - discount + shipping) * VAT_BP[p.country]) / 10_000);
		const total = subtotal - discount + shipping + tax;

		// Lifecycle: paid, shipped (0–4 days, not on Sundays), delivered (transit by country).
		const fate = lrng();
		const paidAt = d.t + (chance(lrng, 0.97) ? between(lrng, 15, 300) * 1000 : between(lrng, 20, 50) * HOUR);
		const cancelled = fate < 0.006;
		let shippedAt = null;
		let deliveredAt = null;
		let transit = 0;
		if (!cancelled) {
			const fulfil = weightedPick(lrng, [[0, 30], [1, 40], [2, 18], [3, 8], [4, 4]]);
			let ship = startOfUtcDay(paidAt) + fulfil * DAY + between(lrng, 13 * 60, 18 * 60) * MINUTE;
			if (ship < paidAt) ship = paidAt + between(lrng, 60, 240) * MINUTE;
			if (new Date(ship).getUTCDay() === 0) ship += DAY;
			shippedAt = ship;
			transit = between(lrng, transitMin, transitMax) + (chance(lrng, 0.06) ? between(lrng, 2, 6) : 0);
			deliveredAt = startOfUtcDay(ship) + transit * DAY + between(lrng, 9 * 60, 19 * 60) * MINUTE;
		}
		const known = (t) => (t !== null && t < until ? t : null);
		const order = {
			order_id: orderId,
			customer_id: p.id,
			placed_at: iso(d.t),
			total: money(total),
			currency: "EUR",
			subtotal: money(subtotal),
			discount: money(discount),
			shipping: money(shipping),
			tax: money(tax),
			channel,
			status: "placed",
			is_subscription: subscription,
			items: lines.map((l) => ({ sku: l.sku, qty: l.qty, unit_price: money(l.unit_price), unit_cost: money(l.unit_cost) })),
		};
		if (coupon) order.coupon = coupon;
		const paid = known(paidAt);
		const shipped = known(shippedAt);
		const delivered = known(deliveredAt);
		if (paid !== null) order.paid_at = iso(paid);
		if (shipped !== null) order.shipped_at = iso(shipped);
		if (delivered !== null) order.delivered_at = iso(delivered);
		order.status = delivered !== null ? "delivered" : shipped !== null ? "shipped" : paid !== null ? "paid" : "placed";

		// Refunds and returns (~5 %): cancellations, returns of one line, goodwill partial refunds, lost parcels.
		let refund = null;
		const late = transit >= transitMax + 2;
		if (cancelled) {
			refund = { at: paidAt + between(lrng, 30, 600) * MINUTE, amount: total, reason: "cancelled by customer", status: "cancelled" };
		} else if (deliveredAt !== null) {
			const r = lrng();
			if (r < 0.026) {
				const line = lines[Math.floor(lrng() * lines.length)];
				const cat = bySku.get(line.sku).category;
				const reason = cat === "accessories" ? pick(lrng, ["defective", "wrong size or colour", "changed mind"]) : pick(lrng, ["taste", "damaged packaging", "changed mind", "wrong item sent", "allergic reaction", "short best-before date"]);
				const amount = Math.min(total, Math.round((line.unit_price * (1 - discount / subtotal) * (10_000 + VAT_BP[p.country])) / 10_000));
				refund = { at: deliveredAt + between(lrng, 2, 21) * DAY + between(lrng, 0, 600) * MINUTE, amount, reason, sku: line.sku, qty: 1, isReturn: true, status: "returned" };
			} else if (r < 0.038 + (late ? 0.08 : 0)) {
				refund = { at: deliveredAt + between(lrng, 1, 6) * DAY, amount: Math.round(total * (0.1 + 0.1 * lrng())), reason: late ? "late delivery (goodwill)" : pick(lrng, ["missing item", "damaged item (goodwill)"]), isReturn: false };
			} else if (r < 0.046 + (late ? 0.02 : 0)) {
				refund = { at: shippedAt + between(lrng, 8, 15) * DAY, amount: total, reason: pick(lrng, ["parcel lost in transit", "parcel damaged in transit"]), isReturn: false, status: "refunded" };
			}
		}
		if (refund && refund.at < until) {
			const rec = { refund_id: `RF-${orderId}`, order_id: orderId, created_at: iso(refund.at), amount: money(refund.amount), currency: "EUR", reason: refund.reason, is_return: Boolean(refund.isReturn) };
			if (refund.sku) Object.assign(rec, { sku: refund.sku, qty: refund.qty });
			refunds.push(rec);
			if (refund.status) order.status = refund.status;
		} else refund = null;
		if (cancelled) {
			// A cancelled order keeps its payment time; nothing ships.
			order.status = refund ? "cancelled" : order.status;
		}
		orders.push(order);
		facts.push({ t: d.t, ci: d.ci, kind: d.kind, lines, subtotal, discount, shipping, tax, total, coupon, channel, shippedAt, deliveredAt, late, refund });
	});

	for (const p of people) {
		// Neither a first order nor a subscription that starts at or after `until` has happened yet.
		if (p.firstAt !== null && p.firstAt >= until) p.firstAt = null;
		if (p.firstAt === null || !(p.subscribedAt < until)) p.fate = "none";
	}
	const active = people.filter((p) => p.fate === "active");
	// MRR: each active subscription's basket (10 % off, VAT excluded) per 30 days.
	const mrrCents = active.reduce((s, p) => s + Math.round((p.subscription.reduce((t, sku) => t + bySku.get(sku).price, 0) * 0.9 * 30 * DAY) / p.interval), 0);

	// Customers as imported ────────────────────────────────────────────────────────────────────────
	const customers = people.map((p) => {
		const [firsts, lasts] = NAMES[p.country];
		const first = firsts[Math.floor(p.nameRng * firsts.length)];
		const last = lasts[Math.floor(((p.nameRng * 7919) % 1) * lasts.length)];
		const num = Number(p.id.slice(1));
		return {
			customer_id: p.id,
			created_at: iso(p.created),
			email: `${ascii(first)}.${ascii(last)}.${num}@example.${["com", "org", "net"][num % 3]}`,
			name: `${first} ${last}`,
			country: p.country,
			channel: p.channel,
			is_subscriber: p.fate === "active",
			subscription_status: p.fate,
		};
	});

	const tickets = [];
	const surveys = [];
	supportAndSurveys({ seed, asOf: until, people, orders, facts, tickets, surveys });
	const spend = marketingSpend({ seed, cal, customerCount, acquisitionWeights });
	// These take `until` as their "now": what happens at or after it is left out.
	const messages = campaignMessages({ seed, cal, asOf: until, start, people, target: messageTarget });
	const { inventory, deliveries, stockouts } = stockAndDeliveries({ seed, cal, asOf: until, start, products, facts });
	const events = eventDays > 0 ? webEvents({ seed, tag, asOf, until, eventDays, origin, people, orders, facts, products: bySku, catalogue }) : [];
	// Before the raw window: the same kind of sessions, a month at a time, kept only as daily aggregates.
	const webDaily = [];
	if (options.webHistory) {
		const historyEnd = asOf - eventDays * DAY;
		const aggregate = options.webHistory();
		for (let lo = start; lo < historyEnd; ) {
			const m = new Date(lo);
			const hi = Math.min(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1), historyEnd);
			aggregate.add(webEvents({ seed, tag, asOf, until: historyEnd, eventDays, origin, people, orders, facts, products: bySku, catalogue, from: lo, to: hi, stream: `web-history-${utcDay(lo)}` }));
			// A purchase session starts up to an hour before its order: the month's last day is complete only after the next month.
			webDaily.push(...aggregate.flush(utcDay(lo)));
			lo = hi;
		}
		webDaily.push(...aggregate.flush());
	}

	const placed = facts.findIndex((f) => f.t >= until);
	if (placed >= 0) {
		orders.length = placed;
		facts.length = placed;
	}
	const signedUp = customers.findIndex((c) => c.created_at >= until);
	if (signedUp >= 0) customers.length = signedUp;

	const dropDates = dropDays.map(utcDay);
	return {
		meta: {
			seed,
			months,
			asOf: iso(asOf),
			start: iso(start),
			customers: customers.length,
			until: iso(until),
			ordersTarget: orderTarget,
			eventDays,
			eventsFrom: eventDays > 0 ? iso(asOf - eventDays * DAY) : null,
			drop: { dates: dropDates, factor: DROP.factor, note: `${dropDates.length} days with ~${Math.round((1 - DROP.factor) * 100)} % fewer orders (injected checkout outage)` },
			subscriptions: { active: active.length, cancelled: people.filter((p) => p.fate === "cancelled").length, paused: people.filter((p) => p.fate === "paused").length, renewals: subscriptionDrafts, mrr: money(mrrCents) },
			stockoutsNow: stockouts,
			repeatScale: k,
		},
		suppliers: SUPPLIERS.map((s) => ({ supplier_id: s.supplier_id, name: s.name, country: s.country })),
		products: products.map((p) => ({
			sku: p.sku,
			name: p.name,
			price: money(p.price),
			category: p.category,
			brand: p.brand,
			description: `${p.brand} ${p.name}. ${p.consumable ? "Batch-tested, made in the EU." : "Built for daily training."}`,
			unit_cost: money(p.cost),
			supplier_id: p.supplier_id,
		})),
		customers,
		orders,
		refunds,
		inventory,
		deliveries,
		tickets,
		surveys,
		spend,
		messages,
		web_daily: webDaily,
		events,
	};
}

/** The import order of the entities (all independent: the store has no foreign keys). */
export const ENTITY_ORDER = ["suppliers", "products", "customers", "orders", "refunds", "inventory", "deliveries", "tickets", "surveys", "spend", "messages", "web_daily", "events"];

// ── baskets ───────────────────────────────────────────────────────────────────────────────────────

/** Category mix by month (× popularity): resolutions in January, summer cut in May–July, gifts in Nov–Dec. */
const CATEGORY_SEASON = {
	protein: [1.25, 1.1, 1, 1, 1.1, 1.1, 1, 0.95, 1, 1, 1, 0.95],
	creatine: [1.3, 1.1, 1, 1, 1.05, 1.05, 1, 0.95, 1, 1, 1, 0.95],
	"pre-workout": [1.1, 1, 1, 1.1, 1.3, 1.35, 1.2, 1, 1, 0.95, 0.9, 0.85],
	"amino-acids": [1, 1, 1, 1.05, 1.2, 1.35, 1.35, 1.2, 1, 0.9, 0.9, 0.9],
	"vitamins-minerals": [1.3, 1.25, 1.05, 0.95, 0.9, 0.9, 0.95, 0.95, 1, 1.15, 1.25, 1.3],
	"omega-3": [1.15, 1.1, 1, 1, 0.95, 0.95, 0.95, 0.95, 1, 1.05, 1.1, 1.15],
	"protein-bars": [1.1, 1, 1, 1, 1.1, 1.15, 1.1, 1, 1, 1, 1, 1.05],
	gainers: [0.9, 0.9, 0.95, 1, 1, 0.95, 0.9, 0.95, 1.1, 1.2, 1.2, 1.1],
	accessories: [1.2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.4, 1.8],
};

/** Co-purchases: for a primary category, [category, probability] of adding one SKU of it. */
const CO_PURCHASE = {
	protein: [["creatine", 0.34], ["accessories", 0.1], ["protein-bars", 0.18], ["vitamins-minerals", 0.1], ["protein", 0.12]],
	gainers: [["creatine", 0.35], ["accessories", 0.15], ["protein-bars", 0.1]],
	creatine: [["protein", 0.3], ["pre-workout", 0.14], ["amino-acids", 0.06]],
	"pre-workout": [["creatine", 0.32], ["amino-acids", 0.2], ["accessories", 0.08]],
	"amino-acids": [["pre-workout", 0.2], ["protein", 0.16], ["vitamins-minerals", 0.1]],
	"vitamins-minerals": [["omega-3", 0.35], ["vitamins-minerals", 0.22], ["protein", 0.08]],
	"omega-3": [["vitamins-minerals", 0.42], ["protein", 0.08]],
	"protein-bars": [["protein-bars", 0.32], ["protein", 0.2], ["creatine", 0.08]],
	accessories: [["protein", 0.4], ["creatine", 0.15], ["accessories", 0.1]],
};

function catalogueSamplers(products) {
	const byCategory = {};
	for (const p of products) (byCategory[p.category] ??= []).push(p);
	const inCategory = {};
	const topOf = {};
	for (const [cat, list] of Object.entries(byCategory)) {
		const s = sampler(list.map((p) => p.weight));
		inCategory[cat] = (rng) => list[s(rng)].sku;
		topOf[cat] = list.reduce((a, b) => (b.weight > a.weight ? b : a)).sku;
	}
	const bySeason = Array.from({ length: 12 }, (_, m) => {
		const s = sampler(products.map((p) => p.weight * CATEGORY_SEASON[p.category][m]));
		return (rng) => products[s(rng)].sku;
	});
	const category = new Map(products.map((p) => [p.sku, p.category]));
	return { bySeason, inCategory, topOf, category };
}

function mergeLines(items) {
	const out = new Map();
	for (const i of items) out.set(i.sku, { sku: i.sku, qty: (out.get(i.sku)?.qty ?? 0) + i.qty });
	return [...out.values()];
}

function quantity(rng, cat, sku) {
	if (cat === "protein-bars" || sku.includes("SAMPLE")) return weightedPick(rng, [[1, 60], [2, 28], [3, 12]]);
	return chance(rng, 0.9) ? 1 : 2;
}

function basket(rng, catalogue, primary, first, month) {
	const cat = catalogue.category.get(primary);
	const items = [{ sku: primary, qty: quantity(rng, cat, primary) }];
	for (const [other, p] of CO_PURCHASE[cat]) {
		if (!chance(rng, p)) continue;
		const sku = catalogue.inCategory[other](rng);
		items.push({ sku, qty: quantity(rng, other, sku) });
	}
	// A first protein order often comes with a shaker.
	if (first && (cat === "protein" || cat === "gainers") && chance(rng, 0.25)) items.push({ sku: pickShaker(rng, catalogue), qty: 1 });
	if (chance(rng, 0.07)) items.push({ sku: catalogue.bySeason[month](rng), qty: 1 });
	return mergeLines(items);
}

function pickShaker(rng, catalogue) {
	for (let i = 0; i < 8; i++) {
		const sku = catalogue.inCategory.accessories(rng);
		if (sku.includes("SHAKER")) return sku;
	}
	return catalogue.topOf.accessories;
}

// ── support tickets and surveys ───────────────────────────────────────────────────────────────────

const NPS_GOOD = [[10, 30], [9, 26], [8, 17], [7, 10], [6, 6], [5, 4], [4, 2.5], [3, 1.5], [2, 1], [1, 1], [0, 1]];
const NPS_BAD = [[10, 8], [9, 9], [8, 12], [7, 13], [6, 12], [5, 11], [4, 9], [3, 8], [2, 7], [1, 5], [0, 6]];
const CSAT_FAST = [[5, 55], [4, 27], [3, 9], [2, 5], [1, 4]];
const CSAT_SLOW = [[5, 22], [4, 28], [3, 20], [2, 15], [1, 15]];

function supportAndSurveys({ seed, asOf, people, orders, facts, tickets, surveys }) {
	const rng = streamFor(seed, "support");
	const drafts = [];
	facts.forEach((f, oi) => {
		const o = orders[oi];
		const p = people[f.ci];
		let ticket = null;
		if (f.refund && chance(rng, 0.3)) {
			const category = f.refund.isReturn ? "return request" : /lost|damaged in transit/.test(f.refund.reason) ? "delivery problem" : f.refund.status === "cancelled" ? "order change" : "complaint";
			ticket = { at: Math.max(f.t + HOUR, f.refund.at - between(rng, 2, 72) * HOUR), category };
		} else if (f.late && chance(rng, 0.25)) ticket = { at: f.shippedAt + between(rng, 3, 6) * DAY, category: "where is my order" };
		else if (chance(rng, 0.01)) ticket = { at: f.t + between(rng, 1, 240) * HOUR, category: pick(rng, ["where is my order", "product question", "invoice request", "payment", f.kind === "first" ? "account" : "subscription change"]) };
		if (ticket) drafts.push({ ...ticket, oi, ci: f.ci, customer: p.id, order: o.order_id });
		// NPS a few days after delivery, from 10 % of delivered orders; experience moves the score.
		if (f.deliveredAt !== null && chance(rng, 0.1)) {
			const at = f.deliveredAt + between(rng, 2, 9) * DAY + between(rng, 0, 720) * MINUTE;
			if (at < asOf) surveys.push({ response_id: `NPS-${o.order_id}`, kind: "nps", score: weightedPick(rng, f.refund || f.late || ticket ? NPS_BAD : NPS_GOOD), responded_at: iso(at), customer_id: p.id, order_id: o.order_id });
		}
	});
	// Pre-sales questions without an order (0.4 % of orders).
	const extra = Math.round(facts.length * 0.004);
	for (let i = 0; i < extra; i++) {
		const ci = Math.floor(rng() * people.length);
		drafts.push({ at: people[ci].created + between(rng, 0, 30) * DAY, category: "product question", ci, customer: people[ci].id, order: null });
	}
	const live = drafts.filter((d) => d.at < asOf).sort((x, y) => x.at - y.at || x.ci - y.ci);
	live.forEach((d, i) => {
		const ticketId = `T-${String(i + 1).padStart(6, "0")}`;
		const channel = weightedPick(rng, [["email", 55], ["chat", 30], ["phone", 15]]);
		const speed = channel === "phone" ? 0.05 : channel === "chat" ? 0.25 : 1;
		const first = d.at + Math.max(1, Math.round(lognormal(rng, 3 * 60 * speed, 1.1))) * MINUTE;
		const resolved = first + Math.max(5, Math.round(lognormal(rng, 18 * 60 * (channel === "email" ? 1 : 0.5), 1.2))) * MINUTE;
		const t = { ticket_id: ticketId, opened_at: iso(d.at), customer_id: d.customer, channel, category: d.category };
		if (d.order) t.order_id = d.order;
		if (first < asOf) t.first_response_at = iso(first);
		if (resolved < asOf) t.resolved_at = iso(resolved);
		t.status = resolved < asOf ? (resolved < asOf - 7 * DAY ? "closed" : "resolved") : first < asOf ? "pending" : "open";
		tickets.push(t);
		if (resolved < asOf && chance(rng, 0.45)) {
			const at = resolved + between(rng, 30, 48 * 60) * MINUTE;
			if (at < asOf) surveys.push({ response_id: `CSAT-${ticketId}`, kind: "csat", score: weightedPick(rng, resolved - d.at > 48 * HOUR ? CSAT_SLOW : CSAT_FAST), responded_at: iso(at), customer_id: d.customer, ...(d.order ? { order_id: d.order } : {}) });
		}
	});
	surveys.sort((x, y) => (x.responded_at < y.responded_at ? -1 : x.responded_at > y.responded_at ? 1 : x.response_id < y.response_id ? -1 : 1));
}

// ── marketing spend ───────────────────────────────────────────────────────────────────────────────

/** Paid channels: cost per acquired customer (€), CPM (€), CTR. Email: the mailing platform, a flat daily fee. */
const PAID = [
	{ channel: "paid_search", cac: 24, cpm: 9, ctr: 0.045 },
	{ channel: "social", cac: 31, cpm: 6.5, ctr: 0.011 },
	{ channel: "affiliate", cac: 13, cpm: null, ctr: null },
];

function marketingSpend({ seed, cal, customerCount, acquisitionWeights }) {
	const rng = streamFor(seed, "spend");
	const total = acquisitionWeights.reduce((s, w) => s + w, 0);
	const share = Object.fromEntries(ACQUISITION.map(([c, w]) => [c, w / ACQUISITION.reduce((s, x) => s + x[1], 0)]));
	const out = [];
	cal.days.forEach((d, i) => {
		// Budgets follow planned demand, not the outage: the drop days keep their spend (ROAS dips).
		const planned = (customerCount * acquisitionWeights[i]) / total / (d.drop ? DROP.factor : 1);
		for (const c of PAID) {
			const cents = Math.round(planned * share[c.channel] * c.cac * 100 * (0.85 + 0.3 * rng()));
			const row = { day: utcDay(d.t), channel: c.channel, amount: money(cents), currency: "EUR" };
			if (c.cpm) {
				const impressions = Math.round((cents / 100 / c.cpm) * 1000);
				Object.assign(row, { impressions, clicks: Math.round(impressions * c.ctr * (0.9 + 0.2 * rng())) });
			} else row.clicks = Math.round((cents / 100 / 0.35) * (0.9 + 0.2 * rng()));
			out.push(row);
		}
		out.push({ day: utcDay(d.t), channel: "email", amount: money(1290 + Math.round(customerCount * 0.02)), currency: "EUR" });
	});
	return out;
}

// ── campaign messages ─────────────────────────────────────────────────────────────────────────────

function campaignMessages({ seed, cal, asOf, start, people, target }) {
	const rng = streamFor(seed, "messages");
	const campaigns = [];
	for (const d of cal.days) {
		const date = new Date(d.t);
		const dow = date.getUTCDay();
		const dom = date.getUTCDate();
		const ym = utcDay(d.t).slice(0, 7);
		if (dow === 2) campaigns.push({ name: `newsletter-${isoWeek(d.t)}`, kind: "email", at: d.t + 9 * HOUR + 30 * MINUTE });
		if (dom === 3) {
			const theme = { 0: "new-year-goals", 4: "summer-shred", 5: "summer-shred-last-call", 10: "black-week", 11: "gift-guide" }[date.getUTCMonth()] ?? "monthly-offers";
			campaigns.push({ name: `${theme}-${ym}`, kind: "email", at: d.t + 16 * HOUR });
		}
		if (dow === 4 && dom >= 8 && dom <= 14 && date.getUTCMonth() % 2 === 0) campaigns.push({ name: `sms-flash-${ym}`, kind: "sms", at: d.t + 17 * HOUR });
	}
	const created = people.map((p) => p.created);
	const audience = (c) => {
		let lo = 0;
		let hi = created.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (created[mid] < c.at) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};
	// Each campaign's messages are a sample of its audience, the same rate for all, so the total ≈ target.
	const reach = campaigns.reduce((s, c) => s + audience(c) * (c.kind === "sms" ? 0.16 : 0.7), 0);
	const rate = Math.min(1, reach > 0 ? target / reach : 0);
	const out = [];
	for (const c of campaigns) {
		const n = audience(c);
		for (let i = 0; i < n; i++) {
			const p = people[i];
			if (!(c.kind === "sms" ? p.smsOptIn : p.emailOptIn) || rng() >= rate) continue;
			const sent = c.at + Math.floor(rng() * 20 * MINUTE);
			if (sent >= asOf || sent < start) continue;
			const m = { message_id: `M-${c.name}-${p.id}`, kind: c.kind, sent_at: iso(sent), customer_id: p.id, campaign: c.name };
			if (chance(rng, c.kind === "sms" ? 0.025 : 0.012)) {
				m.bounced_at = iso(sent + between(rng, 5, 120) * 1000);
			} else if (c.kind === "email") {
				const age = (sent - p.created) / (365 * DAY);
				if (chance(rng, Math.min(0.8, 0.4 * p.cls.engagement * Math.exp(-0.35 * age)))) {
					const opened = sent + Math.round(lognormal(rng, 90, 1.3) * MINUTE);
					if (opened < asOf) {
						m.opened_at = iso(opened);
						if (chance(rng, 0.14 * p.cls.engagement)) {
							const clicked = opened + between(rng, 5, 600) * 1000;
							if (clicked < asOf) m.clicked_at = iso(clicked);
						}
					}
				}
			} else if (chance(rng, 0.07 * p.cls.engagement)) {
				const clicked = sent + Math.round(lognormal(rng, 20, 1.1) * MINUTE);
				if (clicked < asOf) m.clicked_at = iso(clicked);
			}
			out.push(m);
		}
	}
	return out;
}

/** ISO 8601 week of a UTC day: "2026-w48". */
function isoWeek(ms) {
	const d = new Date(startOfUtcDay(ms));
	d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7));
	const week = Math.ceil(((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY + 1) / 7);
	return `${d.getUTCFullYear()}-w${String(week).padStart(2, "0")}`;
}

// ── inventory and supplier deliveries ─────────────────────────────────────────────────────────────

/**
 * Simulates stock per SKU from the orders' daily demand: reorder when stock + on order ≤ reorder point
 * (lead-time demand × safety), up to 40 days of cover, in cases of 12; deliveries arrive on the promised
 * day or early, or late per the supplier's lateness. A few SKUs are under-provisioned (safety < 1), so
 * stockouts (stock 0, below the reorder point) happen. Snapshots: weekly (Sundays) for the history,
 * daily for the last 28 days; each at 23:55 UTC.
 */
function stockAndDeliveries({ seed, cal, asOf, start, products, facts }) {
	const rng = streamFor(seed, "stock");
	const index = new Map(products.map((p, i) => [p.sku, i]));
	const demand = products.map(() => new Float64Array(cal.n));
	for (const f of facts) {
		if (f.refund?.status === "cancelled") continue;
		const di = dayIndex(cal, start, f.t);
		for (const l of f.lines) demand[index.get(l.sku)][di] += l.qty;
	}
	const supplier = new Map(SUPPLIERS.map((s) => [s.supplier_id, s]));
	const inventory = [];
	const deliveryDrafts = [];
	let stockouts = 0;
	products.forEach((p, pi) => {
		const d = demand[pi];
		const sup = supplier.get(p.supplier_id);
		const lead = sup.lead;
		const safety = chance(rng, 0.1) ? 0.55 + 0.2 * rng() : 1.3 + 0.4 * rng();
		const avg = (i) => {
			let s = 0;
			const from = Math.max(0, i - 28);
			for (let j = from; j < i; j++) s += d[j];
			return i > from ? s / (i - from) : d.slice(0, 28).reduce((a, b) => a + b, 0) / 28;
		};
		let rate = avg(0);
		let stock = Math.ceil(rate * 50) + 24;
		const arrivals = new Map();
		let onOrder = 0;
		let reorderPoint = 0;
		for (let i = 0; i < cal.n; i++) {
			const t = cal.days[i].t;
			if (i % 7 === 0) {
				rate = avg(i);
				reorderPoint = Math.ceil(rate * (lead + 3) * safety);
			}
			const arriving = arrivals.get(i);
			if (arriving) {
				stock += arriving;
				onOrder -= arriving;
			}
			stock = Math.max(0, stock - d[i]);
			if (stock + onOrder <= reorderPoint && rate > 0) {
				const qty = Math.max(12, Math.ceil((reorderPoint + rate * 40 - stock - onOrder) / 12) * 12);
				const ordered = t + between(rng, 8, 11) * HOUR;
				const promised = startOfUtcDay(ordered) + lead * DAY + 18 * HOUR;
				const delay = chance(rng, sup.late) ? between(rng, 2, 9) : -between(rng, 0, 1);
				const arrivesDay = i + lead + delay;
				const delivered = startOfUtcDay(ordered) + (lead + delay) * DAY + between(rng, 8 * 60, 17 * 60) * MINUTE;
				deliveryDrafts.push({ ordered, promised, delivered, supplier: p.supplier_id, sku: p.sku, qty });
				onOrder += qty;
				arrivals.set(arrivesDay, (arrivals.get(arrivesDay) ?? 0) + qty);
			}
			const daily = i >= cal.n - 28;
			if ((daily || new Date(t).getUTCDay() === 0) && t + 23 * HOUR + 55 * MINUTE < asOf) {
				inventory.push({ sku: p.sku, taken_at: iso(t + 23 * HOUR + 55 * MINUTE), stock, reorder_point: reorderPoint, lead_time_days: lead });
			}
			if (i === cal.n - 1 && stock === 0) stockouts++;
		}
	});
	deliveryDrafts.sort((x, y) => x.ordered - y.ordered || (x.sku < y.sku ? -1 : 1));
	const deliveries = deliveryDrafts.filter((d) => d.ordered < asOf).map((d, i) => {
		const rec = { delivery_id: `PO-${String(i + 1).padStart(5, "0")}`, supplier_id: d.supplier, sku: d.sku, qty: d.qty, ordered_at: iso(d.ordered), promised_at: iso(d.promised) };
		if (d.delivered < asOf) rec.delivered_at = iso(d.delivered);
		return rec;
	});
	return { inventory, deliveries, stockouts };
}

// ── web events (last `eventDays` days) ───────────────────────────────────────────────────────────

/** How each acquisition channel arrives: landing-page query and referrer. */
function arrival(rng, channel, campaigns) {
	switch (channel) {
		case "organic_search":
			return { query: "", referrer: pick(rng, ["https://www.google.com/", "https://www.google.com/", "https://www.google.es/", "https://www.bing.com/", "https://duckduckgo.com/"]) };
		case "paid_search":
			return { query: `?utm_source=google&utm_medium=cpc&utm_campaign=${pick(rng, ["brand-protein", "creatine-generic", "pre-workout-generic", "shopping-all"])}&gclid=Cj0K${Math.floor(rng() * 1e9).toString(36)}`, referrer: "https://www.google.com/" };
		case "social": {
			const src = pick(rng, ["instagram", "instagram", "tiktok", "facebook", "youtube"]);
			return { query: `?utm_source=${src}&utm_medium=social&utm_campaign=${pick(rng, ["athlete-stories", "reels-creatine", "summer-shred", "ugc-reviews"])}`, referrer: { instagram: "https://l.instagram.com/", tiktok: "https://www.tiktok.com/", facebook: "https://l.facebook.com/", youtube: "https://www.youtube.com/" }[src] };
		}
		case "email":
			return { query: `?utm_source=newsletter&utm_medium=email&utm_campaign=${pick(rng, campaigns)}&utm_content=${pick(rng, ["hero", "product-grid", "footer"])}`, referrer: "" };
		case "affiliate":
			return { query: `?utm_source=${pick(rng, ["fitblog", "gains-review", "musclemag"])}&utm_medium=affiliate&utm_campaign=partners`, referrer: pick(rng, ["https://www.fitblog.example/best-creatine", "https://gains-review.example/whey-test", "https://musclemag.example/top-10-pre-workouts"]) };
		default:
			return { query: "", referrer: "" };
	}
}

const SEARCHES = ["whey", "creatine", "pre workout", "vegan protein", "vitamin d", "protein bar", "omega 3", "eaa", "shaker", "creatin", "isolate", "magnesium", "electrolytes", "mass gainer"];
const SESSION_CHANNEL = [["organic_search", 30], ["paid_search", 18], ["social", 17], ["email", 9], ["affiliate", 6], ["direct", 20]];

/**
 * The sessions of the orders placed in [from, to) (from = asOf − eventDays days, to = ∞ unless given) and the
 * non-buying sessions around them, as /e import events. `stream` names the random stream: the raw window uses
 * "events"; each month of the aggregated history its own, so neither changes the other.
 */
function webEvents({ seed, tag, asOf, until, eventDays, origin, people, orders, facts, products, catalogue, from: fromGiven, to = Infinity, stream = "events" }) {
	const rng = streamFor(seed, stream);
	const from = fromGiven ?? asOf - eventDays * DAY;
	const shop = `${origin}/shop`;
	const campaigns = ["newsletter-weekly", "winback-30d", "new-arrivals"];
	const out = [];
	const view = (sku) => {
		const p = products.get(sku);
		return { sku, price: p.price / 100, currency: "EUR", name: p.name, category: p.category };
	};
	// Where a visitor browses from: a fixed device (User-Agent) per visitor and a country (the customer's own,
	// else drawn by the shop's country mix), both hashed from the visitor id so that they use no draws of
	// the event stream (the sessions themselves stay exactly as they were without them).
	const countryOfCustomer = new Map(people.map((p) => [p.id, p.country]));
	const uaWeights = USER_AGENTS.map((u) => u.weight);
	const countryWeights = COUNTRIES.map((c) => c[1]);
	const byHash = (weights, h) => {
		let u = (h / 4294967296) * weights.reduce((a, b) => a + b, 0);
		for (let i = 0; i < weights.length; i++) if ((u -= weights[i]) < 0) return i;
		return weights.length - 1;
	};
	const whereFrom = (visitor, customer) => ({
		user_agent: USER_AGENTS[byHash(uaWeights, fnv1a(`ua:${visitor}`))].ua,
		country: (customer && countryOfCustomer.get(customer)) || COUNTRIES[byHash(countryWeights, fnv1a(`cc:${visitor}`))][0],
	});
	/** Emits a session's events (times relative to t0, ms), with ids `${tag}.${key}.${n}`. */
	const session = (key, visitor, customer, t0, build, { server = false } = {}) => {
		let n = 0;
		let t = t0;
		let prev = null;
		// A backend's event (a renewal charge) has no browser and no visitor location.
		const where = server ? {} : whereFrom(visitor, customer);
		const emit = (name, path, props, { referrer, at } = {}) => {
			if (at !== undefined) t = at;
			const e = { id: `${tag}.${key}.${n++}`, name, ts: Math.round(t), url: path.startsWith("http") ? path : `${shop}${path}`, referrer: referrer ?? prev ?? "", props, visitor_id: visitor, ...where };
			if (customer) e.customer_id = customer;
			if (name === "page_view") prev = e.url;
			out.push(e);
			return e;
		};
		const wait = (lo, hi) => {
			t += between(rng, lo, hi) * 1000;
		};
		build(emit, wait);
	};
	const landingPath = (sku, query) => (sku ? `/p/${products.get(sku).slug}${query}` : `/${query}`);

	// 1. A converting session for every order placed in the window.
	const purchases = [];
	facts.forEach((f, oi) => {
		if (f.t < from || f.t >= to) return;
		purchases.push(f.t);
		const o = orders[oi];
		const c = people[f.ci];
		const items = f.lines.map((l) => ({ sku: l.sku, qty: l.qty, price: l.unit_price / 100 }));
		const purchase = { order_id: o.order_id, value: f.total / 100, currency: "EUR", items, shipping: f.shipping / 100, tax: f.tax / 100 };
		if (f.coupon) purchase.coupon = f.coupon;
		if (f.kind === "subscription") {
			// Renewals are charged by the shop's backend: one server-side purchase event, no browsing.
			session(`o${o.order_id.slice(4)}`, c.visitor, c.id, f.t, (emit) => emit("purchase", "/account/subscription", { ...purchase, subscription: true }, { referrer: "" }), { server: true });
			return;
		}
		const { query, referrer } = arrival(rng, f.channel, campaigns);
		const duration = (3 + 2.5 * f.lines.length + rng() * 10) * MINUTE;
		session(`o${o.order_id.slice(4)}`, c.visitor, c.id, f.t - duration, (emit, wait) => {
			const [firstLine] = f.lines;
			const landing = rng();
			if (landing < 0.45) emit("page_view", landingPath(firstLine.sku, query), {}, { referrer });
			else if (landing < 0.7) emit("page_view", landingPath(null, query), {}, { referrer });
			else if (landing < 0.85) emit("page_view", `/c/${products.get(firstLine.sku).category}${query}`, {}, { referrer });
			else {
				const q = pick(rng, SEARCHES);
				emit("page_view", `/search?q=${encodeURIComponent(q)}${query.replace("?", "&")}`, {}, { referrer });
				emit("search", `/search?q=${encodeURIComponent(q)}`, { query: q, results: between(rng, 3, 24) });
			}
			f.lines.forEach((l, i) => {
				wait(20, 90);
				if (!(i === 0 && landing < 0.45)) emit("page_view", `/p/${products.get(l.sku).slug}`, {});
				wait(1, 3);
				emit("product_view", `/p/${products.get(l.sku).slug}`, view(l.sku));
				wait(10, 40);
				emit("add_to_cart", `/p/${products.get(l.sku).slug}`, { sku: l.sku, qty: l.qty, price: l.unit_price / 100, currency: "EUR" });
			});
			wait(20, 60);
			emit("page_view", "/checkout", {});
			emit("begin_checkout", "/checkout", { value: f.subtotal / 100, currency: "EUR", items });
			emit("purchase", `/checkout/thank-you?order=${o.order_id}`, purchase, { at: f.t });
		});
	});

	// 2. Abandoned carts (2 per purchase) and browse-only visits (6 per purchase), on the purchases' days.
	const created = people.map((p) => p.created);
	const existingBefore = (t) => {
		let lo = 0;
		let hi = created.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (created[mid] < t) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};
	const anonymousPool = Math.max(1, Math.round(purchases.length * 8 * 0.6));
	const anonymous = (i) => `av-${tag}-${(mix32(i + 1) ^ fnv1a(tag)).toString(36)}${i.toString(36)}`;
	const whenAndWho = (loggedInShare) => {
		const day = startOfUtcDay(purchases[Math.floor(rng() * purchases.length)]);
		const t0 = Math.min(asOf - 2 * HOUR, day + timeOfDay(rng));
		const known = existingBefore(t0);
		if (known > 0 && chance(rng, loggedInShare)) {
			const c = people[Math.floor(rng() * known)];
			return { t0, visitor: c.visitor, customer: c.id };
		}
		return { t0, visitor: anonymous(Math.floor(rng() * anonymousPool)), customer: null };
	};
	if (purchases.length) {
		for (let n = 0; n < purchases.length * 2; n++) {
			const { t0, visitor, customer } = whenAndWho(0.3);
			const channel = weightedPick(rng, SESSION_CHANNEL);
			const { query, referrer } = arrival(rng, channel, campaigns);
			session(`a${n}`, visitor, customer, t0, (emit, wait) => {
				const sku = catalogue.bySeason[new Date(t0).getUTCMonth()](rng);
				emit("page_view", landingPath(sku, query), {}, { referrer });
				wait(1, 3);
				emit("product_view", `/p/${products.get(sku).slug}`, view(sku));
				const cart = [{ sku, qty: 1, price: products.get(sku).price / 100 }];
				if (chance(rng, 0.3)) {
					const other = catalogue.inCategory[pick(rng, CO_PURCHASE[products.get(sku).category])[0]](rng);
					wait(15, 80);
					emit("page_view", `/p/${products.get(other).slug}`, {});
					wait(1, 3);
					emit("product_view", `/p/${products.get(other).slug}`, view(other));
				}
				wait(10, 60);
				emit("add_to_cart", `/p/${products.get(sku).slug}`, { sku, qty: 1, price: cart[0].price, currency: "EUR" });
				if (chance(rng, 0.4)) {
					wait(20, 90);
					emit("page_view", "/checkout", {});
					emit("begin_checkout", "/checkout", { value: cart[0].price, currency: "EUR", items: cart });
				}
			});
		}
		for (let n = 0; n < purchases.length * 6; n++) {
			const { t0, visitor, customer } = whenAndWho(0.2);
			const channel = weightedPick(rng, SESSION_CHANNEL);
			const { query, referrer } = arrival(rng, channel, campaigns);
			session(`b${n}`, visitor, customer, t0, (emit, wait) => {
				const r = rng();
				if (r < 0.55) {
					const sku = catalogue.bySeason[new Date(t0).getUTCMonth()](rng);
					emit("page_view", landingPath(sku, query), {}, { referrer });
					wait(1, 3);
					emit("product_view", `/p/${products.get(sku).slug}`, view(sku));
				} else if (r < 0.9) emit("page_view", landingPath(null, query), {}, { referrer });
				else {
					const q = pick(rng, SEARCHES);
					emit("page_view", `/search?q=${encodeURIComponent(q)}${query.replace("?", "&")}`, {}, { referrer });
					emit("search", `/search?q=${encodeURIComponent(q)}`, { query: q, results: between(rng, 0, 24) });
				}
				if (chance(rng, 0.35)) {
					const sku = catalogue.bySeason[new Date(t0).getUTCMonth()](rng);
					wait(15, 120);
					emit("page_view", `/p/${products.get(sku).slug}`, {});
					wait(1, 3);
					emit("product_view", `/p/${products.get(sku).slug}`, view(sku));
				}
			});
		}
	}
	// Sessions under way at `until` keep only what already happened; a session that began before `from` (a
	// purchase just after it) keeps only its part in the window, so the day before stays the history's alone.
	const kept = out.filter((e) => e.ts < until && e.ts >= from);
	// The aggregated history orders events itself (per visitor); the raw window is returned in time order.
	if (to !== Infinity) return kept;
	return kept.sort((x, y) => x.ts - y.ts || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}
