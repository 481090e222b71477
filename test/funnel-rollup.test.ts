/**
 * Daily funnel rollups (workers/funnels/rollup.ts): the report from the rollups equals the exact path
 * (report.ts over every step event) and hand-computed values on a store built for the hard cases — one
 * person starting on several days (counted once, deepest attempt, earliest on a tie), a session crossing
 * local midnight, an attempt whose window spans two days, one customer on two visitor hashes — and stays
 * equal after a late event, a changed definition and with stale days at the end of the range. A seeded
 * random store checks rollup == exact on many ranges, windows and breakdowns.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FUNNEL, type FunnelDef } from "../workers/funnels/match";
import { funnelReport } from "../workers/funnels/report";
import { daysFrom, daysReached, funnelKey, planReport, reportFromRollupSql, rollDays, rollFunnels, rollupReport, type PersonDay, personDays } from "../workers/funnels/rollup";
import { dayBounds } from "../workers/metrics/calendar";
import { reroll } from "../workers/metrics/rollup";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent } from "./helpers";

const SITE = { id: "frl", timezone: "Europe/Madrid" };
const at = (iso: string) => Date.parse(iso);
const ev = (visitor: string, iso: string, name: string, extra: Parameters<typeof storedEvent>[0] = {}) =>
	storedEvent({ site: SITE.id, visitor, ts: at(iso), received_at: at(iso), name, ...extra });

type Step = { users: number; conversion_pct: number | null; median_seconds_from_previous: number | null };
type Summary = { users: number; conversion_pct: number | null; steps: Step[] };
type Report = Summary & { computed_from: string; groups?: (Summary & { key: string })[] };

/** The report with `computed_from` taken from the X-Computed-From header (the JSON is the same whichever path answers). */
async function report(query: string): Promise<Report> {
	const res = await api("GET", `/api/v1/funnels/checkout/report?site=${SITE.id}&${query}`);
	const body = (await res.json()) as Report;
	expect(res.status, JSON.stringify(body)).toBe(200);
	return { ...body, computed_from: res.headers.get("X-Computed-From") ?? "" };
}
/** The same report from the rollups and from the events (exact=true): equal JSON. */
async function both(query: string) {
	const fast = await report(query);
	const exact = await report(`${query}&exact=true`);
	expect(exact.computed_from).toBe("events");
	const { computed_from: source, ...f } = fast;
	const { computed_from: _, ...x } = exact;
	expect(f, query).toEqual(x);
	return { fast, exact, source };
}
const shape = (s: Summary) => [s.users, s.conversion_pct, s.steps.map((x) => [x.users, x.median_seconds_from_previous])];

/**
 * Europe/Madrid is UTC+1 in early March 2026 (DST starts on the 29th): local day D is [D−1 23:00Z, D 23:00Z).
 * Default checkout funnel, window 24 h.
 */
const STORE = [
	// A starts on four days. 03-01: view, cart +300 s → depth 2. 03-02 (social, mobile): view, cart +60, checkout +120 → 3.
	// 03-03 (direct): view, cart +120, checkout +120 → 3. 03-04: a view only → 1.
	ev("a", "2026-03-01T10:00:00Z", "product_view", { channel: "email" }),
	ev("a", "2026-03-01T10:05:00Z", "add_to_cart", { channel: "email" }),
	ev("a", "2026-03-02T10:00:00Z", "product_view", { channel: "social", device: "mobile" }),
	ev("a", "2026-03-02T10:01:00Z", "add_to_cart", { channel: "social", device: "mobile" }),
	ev("a", "2026-03-02T10:03:00Z", "begin_checkout", { channel: "social", device: "mobile" }),
	ev("a", "2026-03-03T10:00:00Z", "product_view", { channel: "direct" }),
	ev("a", "2026-03-03T10:02:00Z", "add_to_cart", { channel: "direct" }),
	ev("a", "2026-03-03T10:04:00Z", "begin_checkout", { channel: "direct" }),
	ev("a", "2026-03-04T10:00:00Z", "product_view", { channel: "direct" }),
	// B (paid_search): a session across local midnight: view 23:50 local on 03-01, cart 00:05 (+900 s), checkout +300 s,
	// purchase 02:00 local (+6,600 s) on 03-02 → depth 4 on 03-01. On 03-02 a new view at 13:00 local, cart +60 → depth 2.
	ev("b", "2026-03-01T22:50:00Z", "product_view", { channel: "paid_search" }),
	ev("b", "2026-03-01T23:05:00Z", "add_to_cart", { channel: "paid_search" }),
	ev("b", "2026-03-01T23:10:00Z", "begin_checkout", { channel: "paid_search" }),
	ev("b", "2026-03-02T01:00:00Z", "purchase", { channel: "paid_search" }),
	ev("b", "2026-03-02T12:00:00Z", "product_view", { channel: "paid_search" }),
	ev("b", "2026-03-02T12:01:00Z", "add_to_cart", { channel: "paid_search" }),
	// C (email): the window spans two days: view 21:00 local on 03-03; cart +43,200 s, checkout +39,600 s, purchase at exactly
	// 24 h (+3,600 s, inclusive) → depth 4 on 03-03. C also views at 08:00 local on 03-04 (organic): depth 4 on 03-04 too.
	ev("c", "2026-03-03T20:00:00Z", "product_view", { channel: "email" }),
	ev("c", "2026-03-04T07:00:00Z", "product_view", { channel: "organic_search" }),
	ev("c", "2026-03-04T08:00:00Z", "add_to_cart", { channel: "organic_search" }),
	ev("c", "2026-03-04T19:00:00Z", "begin_checkout", { channel: "organic_search" }),
	ev("c", "2026-03-04T20:00:00Z", "purchase", { channel: "organic_search" }),
	// D = customer cD on two visitor hashes, on 03-05: view, cart +600 s → depth 2.
	ev("d1", "2026-03-05T09:00:00Z", "product_view", { customer_id: "cD" }),
	ev("d2", "2026-03-05T09:10:00Z", "add_to_cart", { customer_id: "cD" }),
];
const DAYS = daysFrom("2026-03-01", "2026-03-06");
/** "now" for the rollers: the store's last day is over. */
const NOW = at("2026-03-06T12:00:00Z");

beforeAll(async () => {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(SITE.id, SITE.id, SITE.timezone).run();
	await storeEvents(env.DB, STORE);
});

describe("funnel rollups: exact against the event path", () => {
	it("counts a person who starts on several days once, with the deepest attempt (earliest on a tie)", async () => {
		// Before any roll the rollups cannot answer: every day is unrolled and the web hours are still dirty.
		expect((await report("from=2026-03-01&to=2026-03-04")).computed_from).toBe("events");
		// The KPI re-roller hands the web hours it clears to the funnel rollups; then the funnel roll clears them.
		await reroll(env.DB, SITE);
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM funnel_dirty WHERE site = ?").bind(SITE.id).first<{ n: number }>())?.n).toBeGreaterThan(0);
		const rolled = await rollFunnels(env.DB, SITE, { now: NOW });
		// 02-28 … 03-06: from the first changed hour minus the 24 h window (a changed hour reaches attempts starting up to a
		// window earlier: 02-28 is rolled, empty) to "now".
		expect(rolled).toEqual({ days: 7, remaining: false });
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM funnel_dirty WHERE site = ?").bind(SITE.id).first<{ n: number }>())?.n).toBe(0);

		const { fast } = await both("from=2026-03-01&to=2026-03-04&by=channel");
		expect(fast.computed_from).toBe("rollup");
		// Starters A (best: 03-02, depth 3, social, gaps 60, 120), B (03-01, depth 4, gaps 900, 300, 6,600), C (03-03, depth 4,
		// email, gaps 43,200, 39,600, 3,600). Per step 3, 3, 3, 2; medians: (60, 900, 43,200) → 900; (120, 300, 39,600) → 300;
		// (6,600, 3,600) → 5,100; 2 ÷ 3 = 66.6667 %. Per-day sums would have counted 8 starters.
		expect(shape(fast)).toEqual([3, 66.6667, [[3, null], [3, 900], [3, 300], [2, 5100]]]);
		expect(fast.groups?.map((g) => [g.key, ...shape(g)])).toEqual([
			["email", 1, 100, [[1, null], [1, 43_200], [1, 39_600], [1, 3600]]],
			["paid_search", 1, 100, [[1, null], [1, 900], [1, 300], [1, 6600]]],
			["social", 1, 0, [[1, null], [1, 60], [1, 120], [0, null]]],
		]);
		// The tie between A's 03-02 and 03-03 attempts (both depth 3) goes to the earlier one; from 03-03 on, A's best is 03-03 (direct).
		const later = (await both("from=2026-03-03&to=2026-03-04&by=channel")).fast;
		// A 03-03 (direct, 120, 120), C 03-03 (email). Step 4: C only.
		expect(later.groups?.map((g) => [g.key, g.steps.map((s) => s.users)])).toEqual([
			["direct", [1, 1, 1, 0]],
			["email", [1, 1, 1, 1]],
		]);
		// One day: A depth 1, C's 03-04 attempt (organic: gaps 3,600, 39,600, 3,600).
		expect(shape((await both("from=2026-03-04&to=2026-03-04")).fast)).toEqual([2, 50, [[2, null], [1, 3600], [1, 39_600], [1, 3600]]]);
		// B's session across midnight belongs to 03-01 (its view); on 03-02 alone B's own attempt is the 13:00 view (depth 2).
		expect(shape((await both("from=2026-03-02&to=2026-03-02")).fast)).toEqual([2, 0, [[2, null], [2, 60], [1, 120], [0, null]]]);
		// One customer on two visitor hashes is one person.
		expect(shape((await both("from=2026-03-05&to=2026-03-06&by=device")).fast)).toEqual([1, 0, [[1, null], [1, 600], [0, null], [0, null]]]);
		// Every range of the six days, with every breakdown: rollup == exact.
		for (const from of DAYS) for (const to of DAYS.filter((d) => d >= from)) for (const by of ["", "&by=channel", "&by=device"]) expect((await both(`from=${from}&to=${to}${by}`)).fast.computed_from).toBe("rollup");
	});

	it("re-rolls the days a late event reaches and answers from events meanwhile", async () => {
		// A buys at 11:30 local on 03-03: its 03-03 attempt reaches the purchase (+1,560 s after the checkout); its 03-02
		// attempt's window closed at 11:00 local on 03-03. The event's hour reaches 03-02 and 03-03 (starts in [t − 24 h, t]).
		await storeEvents(env.DB, [ev("a", "2026-03-03T10:30:00Z", "purchase", { channel: "direct" })]);
		expect([...daysReached(DAYS, SITE.timezone, 86_400_000, [Math.floor(at("2026-03-03T10:30:00Z") / 3_600_000)])]).toEqual(["2026-03-02", "2026-03-03"]);
		// Still dirty in the KPI table: the rollups are stale for ranges that include 03-02 or 03-03.
		const stale = await both("from=2026-03-01&to=2026-03-04");
		expect(stale.source).toBe("events");
		// A's best is now 03-03 (depth 4): 3, 3, 3, 3; medians (120, 900, 43,200) → 900; (120, 300, 39,600) → 300; (1,560, 6,600, 3,600) → 3,600.
		expect(shape(stale.fast)).toEqual([3, 100, [[3, null], [3, 900], [3, 300], [3, 3600]]]);
		// 03-04 … 03-06 are not reached: still answered from the rollups.
		expect((await both("from=2026-03-04&to=2026-03-06")).source).toBe("rollup");
		await reroll(env.DB, SITE);
		const r = await rollFunnels(env.DB, SITE, { now: NOW });
		expect(r).toEqual({ days: 2, remaining: false });
		const fresh = await both("from=2026-03-01&to=2026-03-04");
		expect(fresh.source).toBe("rollup");
		expect(shape(fresh.fast)).toEqual(shape(stale.fast));
		for (const from of DAYS) for (const to of DAYS.filter((d) => d >= from)) expect((await both(`from=${from}&to=${to}&by=channel`)).source).toBe("rollup");
	});

	it("merges stale days at the end of the range from events (rollup+events)", async () => {
		// 03-05 and 03-06 forgotten (as today and yesterday are while traffic flows): the last ≤ 3 stale days come from events.
		const fkey = await funnelKey(DEFAULT_FUNNEL, SITE.timezone);
		await env.DB.prepare("DELETE FROM funnel_rolled WHERE site = ? AND fkey = ? AND day >= '2026-03-05'").bind(SITE.id, fkey).run();
		for (const from of DAYS.slice(0, 5)) expect((await both(`from=${from}&to=2026-03-06&by=device`)).source).toBe(from >= "2026-03-05" ? "events" : "rollup+events");
		// A stale day in the middle of the range: the exact path.
		await env.DB.prepare("DELETE FROM funnel_rolled WHERE site = ? AND fkey = ? AND day = '2026-03-02'").bind(SITE.id, fkey).run();
		expect((await both("from=2026-03-01&to=2026-03-04")).source).toBe("events");
		// A person whose best is in the tail replaces their rolled row; one whose rolled row is as deep keeps it (earlier).
		const tail: PersonDay[] = [
			{ person: "a", day: "2026-03-05", depth: 4, gaps: [1000, 2000, 3000], channel: "x", device: "y" },
			{ person: "c", day: "2026-03-05", depth: 4, gaps: [1, 1, 1], channel: "x", device: "y" },
			{ person: "n", day: "2026-03-05", depth: 2, gaps: [5000], channel: "x", device: "y" },
		];
		const merged = await rollupReport(env.DB, SITE.id, DEFAULT_FUNNEL, fkey, "2026-03-03", "2026-03-04", "channel", tail);
		// Rolled 03-03…03-04: A (03-03, depth 4 after the late purchase: 120, 120, 1,560 s) and C (03-03, depth 4). A's tail row
		// ties (depth 4, later day) → A keeps 03-03; C likewise; n is new (depth 2, gap 5,000 ms = 5 s). Steps 3, 3, 2, 2;
		// cart medians of 5, 120, 43,200 → 120; checkout (120, 39,600) → 19,860; purchase (1,560, 3,600) → 2,580.
		expect([merged.users, merged.steps.map((s) => [s.users, s.median_seconds_from_previous])]).toEqual([
			3,
			[
				[3, null],
				[3, 120],
				[2, (120 + 39_600) / 2],
				[2, (1560 + 3600) / 2],
			],
		]);
		expect(merged.groups.map((g) => [g.key, g.users])).toEqual([
			["direct", 1],
			["email", 1],
			["x", 1],
		]);
		await rollFunnels(env.DB, SITE, { now: NOW });
		expect((await both("from=2026-03-01&to=2026-03-06")).source).toBe("rollup");
	});

	it("keys rollups by the definition: a changed window answers from events until rolled, old rows are dropped", async () => {
		const oldKey = await funnelKey(DEFAULT_FUNNEL, SITE.timezone);
		// Labels and names do not change the key; the window, the steps and the time zone do.
		expect(await funnelKey({ ...DEFAULT_FUNNEL, name: "Other", steps: DEFAULT_FUNNEL.steps.map((s) => ({ event: s.event })) }, SITE.timezone)).toBe(oldKey);
		expect(await funnelKey({ ...DEFAULT_FUNNEL, windowSeconds: 3600 }, SITE.timezone)).not.toBe(oldKey);
		expect(await funnelKey(DEFAULT_FUNNEL, "UTC")).not.toBe(oldKey);
		const oneHour = { id: "checkout", name: "Checkout (1 h)", steps: DEFAULT_FUNNEL.steps.map((s) => ({ event: s.event })), window_seconds: 3600 };
		expect((await api("PUT", `/api/v1/funnels?site=${SITE.id}`, { funnels: [oneHour] })).status).toBe(200);
		const before = await both("from=2026-03-01&to=2026-03-04");
		expect(before.source).toBe("events");
		// Window 1 h. A: 03-03 → 4 (the purchase 30 min after the view). B: 03-01 → 3 (the purchase 2 h 10 min after the view is
		// out). C: 03-03 stops at the view (cart 12 h later); 03-04 → 2 (cart exactly 1 h after the view, inclusive; checkout
		// 12 h later, out). Steps 3, 3, 2, 1.
		expect(before.fast.steps.map((s) => s.users)).toEqual([3, 3, 2, 1]);
		await rollFunnels(env.DB, SITE, { now: NOW });
		const after = await both("from=2026-03-01&to=2026-03-04");
		expect(after.source).toBe("rollup");
		expect(after.fast.steps.map((s) => s.users)).toEqual([3, 3, 2, 1]);
		const keys = await env.DB.prepare("SELECT DISTINCT fkey FROM funnel_people WHERE site = ?").bind(SITE.id).raw<[string]>();
		expect(keys.map((k) => k[0])).toEqual([await funnelKey({ ...DEFAULT_FUNNEL, windowSeconds: 3600 }, SITE.timezone)]);
		// Back to the default set for the next tests.
		expect((await api("PUT", `/api/v1/funnels?site=${SITE.id}`, { funnels: [{ ...oneHour, window_seconds: 86_400, name: "Checkout" }] })).status).toBe(200);
		await rollFunnels(env.DB, SITE, { now: NOW });
		expect((await both("from=2026-03-01&to=2026-03-06")).source).toBe("rollup");
	});

	it("reads the rollup by its primary key range (no scan of the site's events)", async () => {
		for (const by of [null, "channel"] as const) {
			const plain = await env.DB.prepare(`EXPLAIN QUERY PLAN ${reportFromRollupSql(4, by, false)}`).bind(SITE.id, "k", "2026-03-01", "2026-03-04").all<{ detail: string }>();
			const withTail = await env.DB.prepare(`EXPLAIN QUERY PLAN ${reportFromRollupSql(4, by, true)}`).bind(SITE.id, "k", "2026-03-01", "2026-03-04", "[]").all<{ detail: string }>();
			for (const plan of [plain, withTail]) {
				const text = plan.results.map((r) => r.detail).join("; ");
				expect(text).toMatch(/SEARCH funnel_people USING PRIMARY KEY \(site=\? AND fkey=\? AND day>\? AND day<\?\)/);
				expect(text).not.toMatch(/events/);
			}
		}
	});
});

describe("funnel rollups: seeded random store", () => {
	it("equals the exact path on random ranges, windows and breakdowns", async () => {
		const site = { id: "frand", timezone: "America/New_York" };
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(site.id, site.id, site.timezone).run();
		// mulberry32: deterministic.
		let seed = 12345;
		const rnd = () => {
			seed = (seed + 0x6d2b79f5) | 0;
			let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
			t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
			return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
		};
		const names = ["product_view", "add_to_cart", "begin_checkout", "purchase", "page_view"];
		const channels = ["email", "direct", "social"];
		const start = at("2026-11-01T00:00:00Z"); // across the DST change of 2026-11-01 in New York
		const events = [];
		for (let i = 0; i < 600; i++) {
			const person = `p${Math.floor(rnd() * 25)}`;
			// Events cluster in short bursts so that many attempts reach deep steps; some land on the same millisecond.
			const ts = start + Math.floor(rnd() * 10) * 86_400_000 + Math.floor(rnd() * 30) * 3_600_000 + Math.floor(rnd() * 4) * 60_000;
			events.push(
				storedEvent({
					site: site.id,
					visitor: person,
					customer_id: rnd() < 0.1 ? `c${person}` : null,
					ts,
					received_at: ts,
					name: names[Math.floor(rnd() * names.length)] as string,
					channel: channels[Math.floor(rnd() * channels.length)] as string,
					device: rnd() < 0.5 ? "mobile" : "desktop",
				}),
			);
		}
		await storeEvents(env.DB, events);
		const perPerson = new Map<string, number>();
		for (const x of events) if (x.name !== "page_view") perPerson.set(x.customer_id ?? x.visitor, (perPerson.get(x.customer_id ?? x.visitor) ?? 0) + 1);
		expect(Math.max(...perPerson.values())).toBeLessThan(60);
		const days = daysFrom("2026-10-31", "2026-11-12");
		for (const windowSeconds of [3600, 86_400, 3 * 86_400]) {
			const def: FunnelDef = { ...DEFAULT_FUNNEL, windowSeconds };
			const fkey = await funnelKey(def, site.timezone);
			// Rolled in two uneven pieces, the second first: pointers must come out the same as in one piece. Pages of 60 rows
			// (every person has fewer than 60 step events here, checked below, so a page always ends on a whole person) exercise the paging.
			await rollDays(env.DB, site, def, fkey, days.slice(6), NOW, 60);
			await rollDays(env.DB, site, def, fkey, days.slice(0, 6), NOW, 60);
			for (let k = 0; k < 25; k++) {
				const a = Math.floor(rnd() * days.length);
				const b = a + Math.floor(rnd() * (days.length - a));
				const from = days[a] as string;
				const to = days[b] as string;
				const by = ([null, "channel", "device"] as const)[k % 3] ?? null;
				const exact = await funnelReport(env.DB, site.id, def, { startFrom: dayBounds(from, site.timezone)[0], startTo: dayBounds(to, site.timezone)[1] }, by);
				const fast = await rollupReport(env.DB, site.id, def, fkey, from, to, by);
				expect(fast, `${windowSeconds} ${from}…${to} ${by}`).toEqual(exact);
				// And with the last days as a live tail from events.
				if (b > a) {
					const cut = a + Math.floor(rnd() * (b - a));
					const tail = await personDays(env.DB, site, def, days.slice(cut + 1, b + 1));
					expect(await rollupReport(env.DB, site.id, def, fkey, from, days[cut] as string, by, tail), `tail ${windowSeconds} ${from}…${to} cut ${days[cut]}`).toEqual(exact);
				}
			}
		}
		// A 6-step definition (steps repeat events, a 10-day window): its 5 gap columns go through the report statement's
		// unpivot in two chunks.
		const long: FunnelDef = {
			id: "long",
			name: "Long",
			windowSeconds: 10 * 86_400,
			steps: ["product_view", "page_view", "add_to_cart", "page_view", "product_view", "purchase"].map((event) => ({ event })),
		};
		const longKey = await funnelKey(long, site.timezone);
		await rollDays(env.DB, site, long, longKey, days, NOW);
		for (const by of [null, "channel", "device"] as const) {
			for (const [from, to] of [["2026-10-31", "2026-11-12"], ["2026-11-02", "2026-11-06"]] as const) {
				const exact = await funnelReport(env.DB, site.id, long, { startFrom: dayBounds(from, site.timezone)[0], startTo: dayBounds(to, site.timezone)[1] }, by);
				expect(exact.steps.at(-1)?.users, "some people reach the last step").toBeGreaterThan(0);
				expect(await rollupReport(env.DB, site.id, long, longKey, from, to, by), `6 steps ${from}…${to} ${by}`).toEqual(exact);
			}
		}
		// The route's plan: nothing rolled for this site's default definition keys yet apart from the windows above (24 h is the default).
		const plan = await planReport(env.DB, site, DEFAULT_FUNNEL, "2026-11-02", "2026-11-05");
		expect(plan.stale.size).toBe(4); // its web hours are still dirty in the KPI table
	});
});

describe("range caps", () => {
	it("accepts 5 × 366 days, as the KPI API, and names `from` beyond", async () => {
		const ok = await api("GET", `/api/v1/funnels/checkout/report?site=${SITE.id}&from=2021-03-06&to=2026-03-09`);
		expect(ok.status).toBe(200); // 1,830 days
		const res = await api("GET", `/api/v1/funnels/checkout/report?site=${SITE.id}&from=2021-03-05&to=2026-03-09`);
		expect(res.status).toBe(400);
		const body = (await res.json()) as { fields: { field: string; message: string }[] };
		expect(body.fields[0]).toEqual({ field: "from", message: "at most 1830 days from from to to (5 years, the same limit as the KPI API)" });
	});
});
