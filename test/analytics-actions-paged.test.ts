/**
 * The actions step's paged path (issue 12, memory: the in-memory step needed ~235 MB live at 100,000
 * customers) must write exactly the rows the in-memory step wrote: customers read per page with their scores
 * and first recommendation joined in SQL, order times read per page's id range, the median CLV taken in SQL,
 * rows staged under `<as_of>#<run id>` and swapped in at the end. The reference below is that earlier step,
 * kept here as the test's reference implementation only.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { nextBestActions, medianIntervalDays, type ActionInput } from "../workers/analytics/actions";
import { actionsStep } from "../workers/analytics/predict-steps";
import { eachCustomerOrderTimes, eachCustomerOrderTimesIn, pruneScores, type RunContext } from "../workers/analytics/steps";
import { mulberry32 } from "../scripts/seed-events.mjs";

const DAY = 86_400_000;
const SITE = "actpaged";
const AS_OF = "2026-05-31";
const CUTOFF = Date.UTC(2026, 5, 1);
const ctx = (runId: string): RunContext => ({ runId, site: SITE, timezone: "UTC", currency: "EUR", asOf: AS_OF, cutoff: CUTOFF, rfmWindowDays: 365 });

/** The in-memory actions step before paging (one batch of four whole result sets), returning its rows instead of writing them. */
async function referenceRows(db: D1Database, c: RunContext): Promise<{ rows: unknown[][]; read: number }> {
	const minor = 100;
	const [rfm, churn, clv, recs] = await db.batch([
		db.prepare("SELECT customer_id, segment, recency_days, frequency, monetary_minor FROM rfm_scores WHERE site = ? AND as_of = ?").bind(c.site, c.asOf),
		db.prepare("SELECT customer_id, probability FROM churn_scores WHERE site = ? AND as_of = ?").bind(c.site, c.asOf),
		db.prepare("SELECT customer_id, clv_minor, expected_spend_minor FROM clv_scores WHERE site = ? AND as_of = ?").bind(c.site, c.asOf),
		db.prepare("SELECT subject, items FROM recommendations WHERE site = ? AND as_of = ? AND kind = 'customer'").bind(c.site, c.asOf),
	]);
	type R = { customer_id: string; segment: string; recency_days: number; frequency: number; monetary_minor: number };
	const churnOf = new Map(((churn?.results ?? []) as { customer_id: string; probability: number }[]).map((r) => [r.customer_id, r.probability]));
	const clvOf = new Map(((clv?.results ?? []) as { customer_id: string; clv_minor: number; expected_spend_minor: number }[]).map((r) => [r.customer_id, r]));
	const recOf = new Map(
		((recs?.results ?? []) as { subject: string; items: string }[]).map((r) => {
			const first = (JSON.parse(r.items) as { sku: string; score: number; why: string }[])[0];
			return [r.subject, first ? { sku: first.sku, score: first.score, because: first.why.startsWith("bought with ") ? first.why.slice(12) : null } : null];
		}),
	);
	const timing = new Map<string, { orders: number; interval: number | null }>();
	const ordersRead = await eachCustomerOrderTimes(db, c.site, c.cutoff, (customer, t) => timing.set(customer, { orders: t.length, interval: medianIntervalDays(t) }));
	const population = (rfm?.results ?? []) as R[];
	const inputs: ActionInput[] = population.map((r) => {
		const v = clvOf.get(r.customer_id);
		const t = timing.get(r.customer_id);
		return {
			customer: r.customer_id,
			segment: r.segment,
			churn: churnOf.get(r.customer_id) ?? null,
			clv: v ? v.clv_minor / minor : null,
			expectedSpend: v ? v.expected_spend_minor / minor : null,
			orders: t?.orders ?? 0,
			daysSinceLastOrder: r.recency_days,
			reorderIntervalDays: t?.interval ?? null,
			monetary: r.monetary_minor / minor,
			recommendation: recOf.get(r.customer_id) ?? null,
		};
	});
	const clvs = inputs.map((i) => i.clv).filter((v): v is number => v !== null).sort((a, b) => a - b);
	const median = clvs.length ? (clvs[clvs.length >> 1] as number) : null;
	const rows = nextBestActions(inputs, median).map((a) => [a.customer, a.action, a.reason, Math.round(a.priority * 100) / 100, JSON.stringify(a.details)]);
	return { rows, read: population.length + ordersRead };
}

const SEGMENTS = ["Champions", "Loyal_Customers", "Cannot_Lose", "At_Risk", "Need_Attention", "Potential_Loyalists", "New_Customers", "Promising", "Hibernating", "Lost"];

/** A store exercising every rule and every join gap: customers without churn, CLV or recommendation rows, empty lists, buyers outside the population (before its first id and after its last), cancelled orders. */
function store(seed: number) {
	const r = mulberry32(seed);
	const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
	const population: string[] = [];
	for (let i = 0; i < 260; i++) population.push(`c${String(i).padStart(4, "0")}`);
	population.push("", "Zed", "c0100-b", "ü-umlaut");
	const outsiders = ["a-before-all", "c0050x", "zz-after-all", "zzz-last"];
	const rfm = population.map((c) => [c, Math.floor(r() * 200), 1 + Math.floor(r() * 9), Math.floor(r() * 90_000), pick(SEGMENTS)]);
	const churn = population.filter(() => r() < 0.85).map((c) => [c, Math.round(r() * 1e6) / 1e6]);
	// CLV rows for most of the population and for outsiders (which must not move the median); half-cent values too.
	const clv = [...population.filter(() => r() < 0.8), ...outsiders].map((c) => [c, Math.round(r() * 400_000) / 2, Math.round(r() * 20_000) / 2]);
	// Scores with 6 decimals (as the recommend step rounds them), some ending in 5 at the 3rd decimal: x.xx5 rounding of the cross_sell priority.
	const recs = population
		.filter(() => r() < 0.9)
		.map((c, i) => {
			if (i % 17 === 0) return [c, "[]"];
			const items = Array.from({ length: 1 + Math.floor(r() * 10) }, (_, k) => ({
				sku: `SKU-${Math.floor(r() * 50)}"${k}`,
				score: i % 5 === 0 ? Math.floor(r() * 1000) / 1000 + 0.0005 : Math.round(r() * 1e6) / 1e6,
				why: r() < 0.6 ? `bought with SKU-${Math.floor(r() * 50)}` : "popular",
			}));
			return [c, JSON.stringify(items)];
		});
	const orders: [string, string, number, string][] = [];
	let n = 0;
	for (const c of [...population, ...outsiders]) {
		const count = Math.floor(r() * 7);
		let at = CUTOFF - Math.floor(r() * 400) * DAY;
		for (let k = 0; k < count; k++) {
			orders.push([`o${n++}`, c, at - Math.floor(r() * 60) * DAY, r() < 0.1 ? "cancelled" : "placed"]);
			// Same-instant orders (gap 0) and orders after the cutoff (not read) too.
			if (r() < 0.1) orders.push([`o${n++}`, c, at, "placed"]);
			if (r() < 0.05) orders.push([`o${n++}`, c, CUTOFF + DAY, "placed"]);
			at -= Math.floor(r() * 45) * DAY;
		}
	}
	return { population, rfm, churn, clv, recs, orders };
}

describe("the actions step on D1: paged and staged, same rows as the in-memory reference", () => {
	const s = store(12);
	const stored = async () => (await env.DB.prepare("SELECT customer_id, action, reason, priority, details FROM next_actions WHERE site = ? AND as_of = ? ORDER BY customer_id").bind(SITE, AS_OF).raw()).map((r) => [...r]);
	const staged = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM next_actions WHERE site = ? AND instr(as_of, '#') > 0").bind(SITE).first<{ n: number }>())?.n;
	const byCustomer = (rows: unknown[][]) => [...rows].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : (a[0] as string) > (b[0] as string) ? 1 : 0));

	beforeAll(async () => {
		const db = env.DB;
		const json = (rows: unknown[][]) => JSON.stringify(rows);
		const batch: D1PreparedStatement[] = [
			db.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Paged', '[]', 'UTC', 'EUR', 0)").bind(SITE),
			db.prepare("INSERT INTO rfm_scores (site, as_of, customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, 1, 1, 1, value ->> 4 FROM json_each(?3)").bind(SITE, AS_OF, json(s.rfm)),
			db.prepare("INSERT INTO churn_scores (site, as_of, customer_id, probability, reasons, model_version) SELECT ?1, ?2, value ->> 0, value ->> 1, '[]', 1 FROM json_each(?3)").bind(SITE, AS_OF, json(s.churn)),
			db.prepare("INSERT INTO clv_scores (site, as_of, customer_id, x, tx, age, p_alive, expected_30, expected_90, expected_365, expected_spend_minor, clv_minor) SELECT ?1, ?2, value ->> 0, 1, 1, 1, 1, 1, 1, 1, value ->> 2, value ->> 1 FROM json_each(?3)").bind(SITE, AS_OF, json(s.clv)),
			db.prepare("INSERT INTO recommendations (site, as_of, kind, subject, items, model_version) SELECT ?1, ?2, 'customer', value ->> 0, value ->> 1, 1 FROM json_each(?3)").bind(SITE, AS_OF, json(s.recs)),
			// Another day's rows must be left alone.
			db.prepare("INSERT INTO next_actions (site, as_of, customer_id, action, reason, priority, details) VALUES (?1, '2026-04-30', 'c0001', 'none', 'kept', 0, '{}')").bind(SITE),
		];
		for (let i = 0; i < s.orders.length; i += 2000) {
			batch.push(db.prepare("INSERT INTO orders (site, order_id, customer_id, placed_at, total_minor, currency, status, updated_at) SELECT ?1, value ->> 0, value ->> 1, value ->> 2, 1000, 'EUR', value ->> 3, 0 FROM json_each(?2)").bind(SITE, json(s.orders.slice(i, i + 2000))));
		}
		await db.batch(batch);
	});

	it("order times of an id range: the ranges (∅, a], (a, b], (b, ∅) together are exactly the whole read", async () => {
		const whole = new Map<string, number[]>();
		const wholeRead = await eachCustomerOrderTimes(env.DB, SITE, CUTOFF, (c, t) => whole.set(c, t), 5);
		const parts = new Map<string, number[]>();
		let read = 0;
		for (const [from, to] of [[null, "c0050"], ["c0050", "c0100-b"], ["c0100-b", null]] as const) read += await eachCustomerOrderTimesIn(env.DB, SITE, CUTOFF, from, to, (c, t) => parts.set(c, t), 3);
		expect(read).toBe(wholeRead);
		expect(parts).toEqual(whole);
		expect(whole.has("a-before-all") && whole.has("zzz-last") && whole.has("")).toBe(true);
	});

	it("writes exactly the reference's rows for page sizes 1, 7, a divisor of the population and the default, and a retry after a failed attempt leaves no staged rows", async () => {
		const ref = await referenceRows(env.DB, ctx("ref"));
		const expected = byCustomer(ref.rows);
		expect(expected).toHaveLength(s.population.length);
		// Every rule fires somewhere in this store, so each branch's inputs are compared.
		expect(new Set(expected.map((r) => r[1]))).toEqual(new Set(["win_back", "replenishment", "vip_care", "cross_sell", "nurture", "none"]));

		// A failed attempt: a malformed recommendation list of a customer past the first page stops the step after pages were staged.
		await env.DB.batch([
			env.DB.prepare("INSERT INTO next_actions (site, as_of, customer_id, action, reason, priority, details) VALUES (?1, ?2, 'stale-customer', 'none', 'stale', 0, '{}')").bind(SITE, AS_OF),
			env.DB.prepare("INSERT OR REPLACE INTO recommendations (site, as_of, kind, subject, items, model_version) VALUES (?1, ?2, 'customer', 'c0200', '[{\"sku\":', 1)").bind(SITE, AS_OF),
		]);
		await expect(actionsStep(env, ctx("run-failed"), { page: 50 })).rejects.toThrow(/JSON/i);
		expect(await staged()).toBeGreaterThan(0);
		// The live rows are untouched by the failed attempt.
		expect(await stored()).toEqual([["stale-customer", "none", "stale", 0, "{}"]]);
		const fixed = s.recs.find((r) => r[0] === "c0200");
		await env.DB.prepare(fixed ? "UPDATE recommendations SET items = ?4 WHERE site = ?1 AND as_of = ?2 AND subject = ?3" : "DELETE FROM recommendations WHERE site = ?1 AND as_of = ?2 AND subject = ?3").bind(SITE, AS_OF, "c0200", ...(fixed ? [fixed[1]] : [])).run();

		const divisor = s.population.length / 4;
		expect(Number.isInteger(divisor)).toBe(true);
		for (const [i, page] of [1, 7, divisor, undefined].entries()) {
			const result = await actionsStep(env, ctx(`run-${i}`), page === undefined ? {} : { page });
			expect(byCustomer(await stored())).toEqual(expected);
			expect(result).toEqual({ rowsRead: ref.read, rowsWritten: s.population.length });
			expect(await staged()).toBe(0);
		}
		const other = await env.DB.prepare("SELECT reason FROM next_actions WHERE site = ? AND as_of = '2026-04-30'").bind(SITE).raw();
		expect(other).toEqual([["kept"]]);
	});

	it("the median CLV is the population's element len >> 1 of its sorted CLVs, outsiders excluded (hand-checked on 5 customers)", async () => {
		// CLVs 30, 10, 50, 20 (major units) in the population and 1,000 outside: sorted 10, 20, 30, 50 → element 2 = 30.
		// Champions are always "worth keeping"; Hibernating customers only above the median: 40 > 30 is, 30 is not.
		const site = "actmedian";
		const db = env.DB;
		const rows = [
			["h-a", 3000, "Hibernating"],
			["h-b", 1000, "Hibernating"],
			["h-c", 5000, "Hibernating"],
			["h-d", 2000, "Hibernating"],
		] as const;
		await db.batch([
			db.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Median', '[]', 'UTC', 'EUR', 0)").bind(site),
			db.prepare("INSERT INTO rfm_scores (site, as_of, customer_id, recency_days, frequency, monetary_minor, r, f, m, segment) SELECT ?1, ?2, value ->> 0, 100, 1, 100, 1, 1, 1, value ->> 2 FROM json_each(?3)").bind(site, AS_OF, JSON.stringify([...rows, ["h-e", 0, "Hibernating"]])),
			db.prepare("INSERT INTO clv_scores (site, as_of, customer_id, x, tx, age, p_alive, expected_30, expected_90, expected_365, expected_spend_minor, clv_minor) SELECT ?1, ?2, value ->> 0, 1, 1, 1, 1, 1, 1, 1, 0, value ->> 1 FROM json_each(?3)").bind(site, AS_OF, JSON.stringify([...rows, ["outsider", 100_000]])),
			db.prepare("INSERT INTO churn_scores (site, as_of, customer_id, probability, reasons, model_version) SELECT ?1, ?2, value, 0.7, '[]', 1 FROM json_each(?3)").bind(site, AS_OF, JSON.stringify(["h-a", "h-b", "h-c", "h-d", "h-e"])),
		]);
		await actionsStep(env, { ...ctx("median"), site }, { page: 2 });
		const got = await db.prepare("SELECT customer_id, action, priority FROM next_actions WHERE site = ? AND as_of = ? ORDER BY customer_id").bind(site, AS_OF).raw();
		// Only h-c (CLV 50 > 30) is worth keeping: win_back with priority 0.7 × 50 = 35; h-e has no CLV row; the rest "none".
		expect(got.map((r) => [...r])).toEqual([
			["h-a", "none", 0],
			["h-b", "none", 0],
			["h-c", "win_back", 35],
			["h-d", "none", 0],
			["h-e", "none", 0],
		]);
	});

	it("pruning ignores staged keys: an old failed attempt's rows neither count as a day nor break the date arithmetic", async () => {
		// Regression: '2026-03-10#run-x' reached addDays, whose Date of 'NaN' threw a RangeError and failed the whole nightly run.
		const site = "actprune";
		const db = env.DB;
		// Ten daily runs 2026-03-20 … 2026-03-29 plus the month end 2026-02-28 and a staged key of 2026-03-10.
		const days = ["2026-02-28", ...Array.from({ length: 10 }, (_, i) => `2026-03-${20 + i}`), "2026-03-10#run-x"];
		await db.batch([
			db.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Prune', '[]', 'UTC', 'EUR', 0)").bind(site),
			db.prepare("INSERT INTO next_actions (site, as_of, customer_id, action, reason, priority, details) SELECT ?1, value, 'c1', 'none', 'r', 0, '{}' FROM json_each(?2)").bind(site, JSON.stringify(days)),
		]);
		const result = await pruneScores(env, { ...ctx("prune"), site, asOf: "2026-03-29" });
		// The 8 latest days (03-22 … 03-29) and the month end stay; 03-20 and 03-21 go; the staged rows are left to their day's next attempt.
		expect(result.rowsWritten).toBe(2);
		const left = (await db.prepare("SELECT as_of FROM next_actions WHERE site = ? ORDER BY as_of").bind(site).raw<[string]>()).map(([d]) => d);
		expect(left).toEqual(["2026-02-28", "2026-03-10#run-x", ...Array.from({ length: 8 }, (_, i) => `2026-03-${22 + i}`)]);
	});
});
