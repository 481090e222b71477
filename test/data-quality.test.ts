/**
 * Data quality (issue 14, item 14): the commerce rules record issues on every write path (upsert API,
 * signed webhook, bulk import) without changing the stored record, resolve them when a later write fixes
 * the order, and change nothing on re-delivery; GET /api/v1/health/data reconciles a day (events
 * accepted = stored = archived, orders = KPI rollup) and the data_health alert fires on a mismatch.
 * Every expected figure below is worked out by hand in the comment beside it.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateAlerts } from "../workers/alerts/evaluate";
import { signWebhook } from "../workers/commerce/webhooks";
import { runMaintenance } from "../workers/jobs/scheduled";
import { ADMIN_KEY, api, getJson, listKeys, pageView, postEvents, waitFor } from "./helpers";

const SITE = "dq";
const RSITE = "dqr";

async function put(entity: string, body: unknown, site = SITE) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	const json = (await res.json()) as Record<string, unknown>;
	expect(res.status, JSON.stringify(json)).toBe(200);
	return json;
}

interface IssueRow {
	kind: string;
	ref: string;
	detail: string;
	severity: string;
	detected_at: number;
	resolved_at: number | null;
}

async function issues(ref: string, site = SITE): Promise<IssueRow[]> {
	const r = await env.DB.prepare("SELECT kind, ref, detail, severity, detected_at, resolved_at FROM data_issues WHERE site = ? AND ref = ? ORDER BY kind").bind(site, ref).all<IssueRow>();
	return r.results;
}
const open = async (ref: string, site = SITE) => (await issues(ref, site)).filter((i) => i.resolved_at === null).map((i) => i.kind);

/**
 * A hand-made order: 2 × 12.50 = 25.00 of items, discount 5.00, shipping 4.90, tax 3.99, so the
 * consistent total is 25.00 − 5.00 + 4.90 + 3.99 = 28.89 (2,889 minor units).
 */
const order = (id: string, over: Record<string, unknown> = {}) => ({
	order_id: id, customer_id: "dq-c1", placed_at: "2026-11-20T10:00:00Z", total: "28.89", currency: "EUR", discount: "5.00", shipping: "4.90", tax: "3.99",
	items: [{ sku: "DQ-1", qty: 2, unit_price: "12.50" }], ...over,
});

beforeAll(async () => {
	await env.DB.batch(
		[SITE, RSITE, "dqi"].map((id) => env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', 'UTC', 'EUR', 0) ON CONFLICT DO NOTHING").bind(id, `Data quality ${id}`)),
	);
});

describe("order total = items − discount + shipping + tax, within one minor unit", () => {
	it("passes the exact total and a total one cent off either way", async () => {
		await put("orders", [order("t-exact"), order("t-plus1", { total: "28.90" }), order("t-minus1", { total: "28.88" })]);
		expect(await issues("orders/t-exact")).toEqual([]);
		expect(await issues("orders/t-plus1")).toEqual([]);
		expect(await issues("orders/t-minus1")).toEqual([]);
	});

	it("records a total two cents off, either way, and keeps the order as sent", async () => {
		await put("orders", [order("t-plus2", { total: "28.91" }), order("t-minus2", { total: "28.87" })]);
		expect(await issues("orders/t-plus2")).toMatchObject([
			{ kind: "order_total", severity: "error", resolved_at: null, detail: "total 2891 ≠ items 2500 − discount 500 + shipping 490 + tax 399 = 2889 (EUR minor units, off by 2)" },
		]);
		expect(await issues("orders/t-minus2")).toMatchObject([{ kind: "order_total", detail: "total 2887 ≠ items 2500 − discount 500 + shipping 490 + tax 399 = 2889 (EUR minor units, off by -2)" }]);
		// Recorded, not fixed: the stored total is the one sent.
		const row = await env.DB.prepare("SELECT total_minor FROM orders WHERE site = ? AND order_id = 't-plus2'").bind(SITE).first<{ total_minor: number }>();
		expect(row).toEqual({ total_minor: 2891 });
	});

	it("uses the subtotal when the order has no lines, and checks nothing when it has neither", async () => {
		// 20.00 + shipping 3.00 = 23.00 is consistent; 25.00 is 2.00 over.
		await put("orders", [
			{ order_id: "t-sub-ok", customer_id: "dq-c1", placed_at: "2026-11-20T10:00:00Z", total: "23.00", subtotal: "20.00", shipping: "3.00", currency: "EUR" },
			{ order_id: "t-sub-bad", customer_id: "dq-c1", placed_at: "2026-11-20T10:00:00Z", total: "25.00", subtotal: "20.00", shipping: "3.00", currency: "EUR" },
			{ order_id: "t-bare", customer_id: "dq-c1", placed_at: "2026-11-20T10:00:00Z", total: "99.00", currency: "EUR" },
		]);
		expect(await issues("orders/t-sub-ok")).toEqual([]);
		expect(await issues("orders/t-sub-bad")).toMatchObject([{ kind: "order_total", detail: "total 2500 ≠ subtotal 2000 − discount 0 + shipping 300 + tax 0 = 2300 (EUR minor units, off by 200)" }]);
		expect(await issues("orders/t-bare")).toEqual([]);
	});

	it("flags a subtotal that disagrees with the lines (and checks the total against the lines)", async () => {
		// Lines 25.00, subtotal sent 26.00: the total 28.89 agrees with the lines, the subtotal is 1.00 off.
		await put("orders", order("t-subtotal", { subtotal: "26.00" }));
		expect(await issues("orders/t-subtotal")).toMatchObject([{ kind: "order_subtotal", severity: "warning", detail: "subtotal 2600 ≠ items 2500 (EUR minor units, off by 100)" }]);
	});

	it("re-checks the order when its lines arrive separately (order_items), before or after it", async () => {
		// Lines first (no order yet: nothing to check), then the order without lines: 3 × 12.50 = 37.50 ≠ 25.00.
		await put("order_items", { order_id: "t-late", sku: "DQ-1", qty: 3, unit_price: "12.50", currency: "EUR" });
		expect(await issues("orders/t-late")).toEqual([]);
		const { items: _omit, ...noLines } = order("t-late");
		await put("orders", noLines);
		// 37.50 − 5.00 + 4.90 + 3.99 = 41.39 expected, 28.89 sent: off by −1,250.
		expect(await issues("orders/t-late")).toMatchObject([{ kind: "order_total", detail: "total 2889 ≠ items 3750 − discount 500 + shipping 490 + tax 399 = 4139 (EUR minor units, off by -1250)" }]);
		// The line is corrected to qty 2: resolved by the order_items write alone.
		await put("order_items", { order_id: "t-late", sku: "DQ-1", qty: 2, unit_price: "12.50", currency: "EUR" });
		expect(await open("orders/t-late")).toEqual([]);
	});
});

describe("refunds ≤ order total", () => {
	it("passes refunds that add up to the total exactly and records one cent more", async () => {
		await put("orders", order("r-1"));
		// 20.00 + 8.89 = 28.89 = the total: fine.
		await put("refunds", [
			{ refund_id: "r-1a", order_id: "r-1", created_at: "2026-11-21T10:00:00Z", amount: "20.00", currency: "EUR" },
			{ refund_id: "r-1b", order_id: "r-1", created_at: "2026-11-22T10:00:00Z", amount: "8.89", currency: "EUR" },
		]);
		expect(await issues("orders/r-1")).toEqual([]);
		// A third refund of 0.01: 28.90 > 28.89, over by 1. A refund in another currency is not added to EUR amounts.
		await put("refunds", [
			{ refund_id: "r-1c", order_id: "r-1", created_at: "2026-11-23T10:00:00Z", amount: "0.01", currency: "EUR" },
			{ refund_id: "r-1d", order_id: "r-1", created_at: "2026-11-23T10:00:00Z", amount: "50.00", currency: "USD" },
		]);
		expect(await issues("orders/r-1")).toMatchObject([{ kind: "refund_exceeds_order", severity: "error", detail: "4 refund(s) sum to 2890 > total 2889 (EUR minor units, over by 1)" }]);
		const refund = await env.DB.prepare("SELECT amount_minor FROM refunds WHERE site = ? AND refund_id = 'r-1c'").bind(SITE).first();
		expect(refund).toEqual({ amount_minor: 1 });
	});

	it("checks a refund that arrived before its order when the order comes", async () => {
		await put("refunds", { refund_id: "r-2a", order_id: "r-2", created_at: "2026-11-21T10:00:00Z", amount: "30.00", currency: "EUR" });
		expect(await issues("orders/r-2")).toEqual([]);
		await put("orders", order("r-2"));
		expect(await open("orders/r-2")).toEqual(["refund_exceeds_order"]);
	});
});

describe("dates in order: placed ≤ paid ≤ shipped ≤ delivered, no refund before payment", () => {
	it("passes equal and increasing dates", async () => {
		await put("orders", order("d-ok", { paid_at: "2026-11-20T10:00:00Z", shipped_at: "2026-11-20T10:00:00Z", delivered_at: "2026-11-22T09:00:00Z" }));
		await put("refunds", { refund_id: "d-ok-r", order_id: "d-ok", created_at: "2026-11-20T10:00:00Z", amount: "1.00", currency: "EUR" });
		expect(await issues("orders/d-ok")).toEqual([]);
	});

	it("names each pair out of order", async () => {
		await put("orders", order("d-paid", { paid_at: "2026-11-20T09:59:59Z" }));
		expect(await issues("orders/d-paid")).toMatchObject([{ kind: "dates_out_of_order", severity: "warning", detail: "paid 2026-11-20T09:59:59Z before placed 2026-11-20T10:00:00Z" }]);
		await put("orders", order("d-ship", { paid_at: "2026-11-20T11:00:00Z", shipped_at: "2026-11-20T10:30:00Z", delivered_at: "2026-11-20T10:45:00Z" }));
		expect((await issues("orders/d-ship"))[0]?.detail).toBe(
			"shipped 2026-11-20T10:30:00Z before paid 2026-11-20T11:00:00Z; delivered 2026-11-20T10:45:00Z before paid 2026-11-20T11:00:00Z",
		);
		await put("orders", order("d-deliv", { shipped_at: "2026-11-21T10:00:00Z", delivered_at: "2026-11-21T09:00:00Z" }));
		expect((await issues("orders/d-deliv"))[0]?.detail).toBe("delivered 2026-11-21T09:00:00Z before shipped 2026-11-21T10:00:00Z");
		await put("orders", order("d-refund", { paid_at: "2026-11-20T12:00:00Z" }));
		await put("refunds", { refund_id: "d-refund-r", order_id: "d-refund", created_at: "2026-11-20T11:00:00Z", amount: "1.00", currency: "EUR" });
		expect((await issues("orders/d-refund"))[0]?.detail).toBe("refunded 2026-11-20T11:00:00Z before paid 2026-11-20T12:00:00Z");
	});
});

describe("resolution and re-delivery", () => {
	it("resolves when a later write fixes the order, keeps the row, and reopens it if broken again", async () => {
		await put("orders", order("x-1", { total: "30.00" }));
		const [first] = await issues("orders/x-1");
		expect(first).toMatchObject({ kind: "order_total", resolved_at: null });
		await put("orders", order("x-1"));
		const [fixed] = await issues("orders/x-1");
		expect(fixed?.resolved_at).toBeGreaterThanOrEqual(first?.detected_at ?? Infinity);
		expect(fixed?.detail).toBe(first?.detail); // what was wrong stays readable
		await new Promise((r) => setTimeout(r, 5));
		await put("orders", order("x-1", { total: "31.00" }));
		const [again] = await issues("orders/x-1");
		expect(again).toMatchObject({ resolved_at: null, detail: "total 3100 ≠ items 2500 − discount 500 + shipping 490 + tax 399 = 2889 (EUR minor units, off by 211)" });
		expect(again?.detected_at).toBeGreaterThan(first?.detected_at ?? Infinity);
	});

	it("a re-delivered record changes nothing: same issue row, same detected_at, no rows changed", async () => {
		const body = order("x-2", { total: "40.00" });
		const first = await put("orders", body);
		expect(first.rows_changed).toBe(1); // one record: the order (with its one line)
		const before = await issues("orders/x-2");
		await new Promise((r) => setTimeout(r, 5));
		const second = await put("orders", body);
		expect(second.rows_changed).toBe(0);
		expect(await issues("orders/x-2")).toEqual(before);
		const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM data_issues WHERE site = ? AND ref = 'orders/x-2'").bind(SITE).first<{ n: number }>();
		expect(n?.n).toBe(1);
	});

	it("records through the signed webhook too, and a replay is refused without touching the issue", async () => {
		const res = await api("POST", `/api/v1/webhooks/secret?site=${SITE}`);
		const { secret } = (await res.json()) as { secret: string };
		const body = JSON.stringify(order("w-1", { total: "29.89" }));
		const ts = Math.floor(Date.now() / 1000);
		const sig = await signWebhook(secret, ts, body);
		const deliver = () =>
			exports.default.fetch("https://b2g.test/hooks/orders", {
				method: "POST",
				headers: { "Content-Type": "application/json", "X-B2G-Site": SITE, "X-B2G-Timestamp": String(ts), "X-B2G-Signature": sig },
				body,
			});
		const ok = await deliver();
		expect(ok.status, await ok.clone().text()).toBe(200);
		expect(await ok.json()).toMatchObject({ rows_changed: 1 });
		const before = await issues("orders/w-1");
		expect(before).toMatchObject([{ kind: "order_total", detail: "total 2989 ≠ items 2500 − discount 500 + shipping 490 + tax 399 = 2889 (EUR minor units, off by 100)" }]);
		expect((await deliver()).status).toBe(409);
		expect(await issues("orders/w-1")).toEqual(before);
	});

	it("records through the bulk import (CSV orders, then CSV lines that fix one and break another)", async () => {
		const csv = "order_id,customer_id,placed_at,total,currency,subtotal,shipping\n" + "i-1,c,2026-11-20T10:00:00Z,12.00,EUR,10.00,2.00\n" + "i-2,c,2026-11-20T10:00:00Z,15.00,EUR,10.00,2.00\n";
		const run = async (entity: string, text: string) => {
			const up = await exports.default.fetch(`https://b2g.test/api/v1/import/${entity}?site=dqi&format=csv`, {
				method: "POST",
				headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "text/csv" },
				body: text,
			});
			expect(up.status, await up.clone().text()).toBe(202);
			const { job } = (await up.json()) as { job: string };
			return waitFor(async () => {
				const { body } = await getJson<{ status: string; rows_ok: number }>(`/api/v1/import/${job}?site=dqi`);
				return body.status === "done" || body.status === "failed" ? body : undefined;
			}, 30_000, 100);
		};
		expect(await run("orders", csv)).toMatchObject({ status: "done", rows_ok: 2 });
		// i-1: 10.00 + 2.00 = 12.00 fine; i-2: 15.00 vs 12.00, off by 300.
		expect(await open("orders/i-1", "dqi")).toEqual([]);
		expect(await issues("orders/i-2", "dqi")).toMatchObject([{ kind: "order_total", detail: "total 1500 ≠ subtotal 1000 − discount 0 + shipping 200 + tax 0 = 1200 (EUR minor units, off by 300)" }]);
		// Lines: i-1 gets 11.00 of lines (subtotal 10.00 and total 12.00 both off by 100), i-2 gets 13.00 (total 15.00 = 13.00 + 2.00: fixed; subtotal off by 300).
		const lines = "order_id,sku,qty,unit_price\n" + "i-1,A,1,11.00\n" + "i-2,B,1,13.00\n";
		expect(await run("order_items", lines)).toMatchObject({ status: "done", rows_ok: 2 });
		expect(await open("orders/i-1", "dqi")).toEqual(["order_subtotal", "order_total"]);
		expect(await open("orders/i-2", "dqi")).toEqual(["order_subtotal"]);
		expect((await issues("orders/i-2", "dqi")).find((i) => i.kind === "order_total")?.resolved_at).toBeGreaterThan(0);
	});
});

describe("GET /api/v1/health/data", () => {
	// Two days before today (UTC): inside /e's 7-day acceptance window, and always over (final) whatever the time of the run.
	const today = new Date().toISOString().slice(0, 10);
	const day = new Date(Date.parse(`${today}T00:00:00Z`) - 2 * 86_400_000).toISOString().slice(0, 10);
	const at = (hhmm: string) => Date.parse(`${day}T${hhmm}:00Z`);
	type Report = {
		reconciled: boolean;
		days: { date: string; final: boolean; computed_at: number; reconciled: boolean; events: Record<string, number | boolean>; orders: Record<string, number | boolean | string>; quality: { detected: number } }[];
		quality: { open: number; rules: { rule: string; open: number; resolved: number }[]; latest: { rule: string; ref: string }[] };
	};

	beforeAll(async () => {
		// Events: two in hour 10 and one in hour 11 → two archive objects.
		const res = await postEvents({ site: RSITE, events: [pageView({ ts: at("10:00") }), pageView({ ts: at("10:30") }), pageView({ ts: at("11:15") })] });
		expect(res.status).toBe(202);
		await waitFor(async () => {
			const r = await env.DB.prepare("SELECT COUNT(*) AS n, SUM(archived_at IS NOT NULL) AS a FROM events WHERE site = ?").bind(RSITE).first<{ n: number; a: number }>();
			return r?.n === 3 && r.a === 3;
		});
		// Orders: 10.00 (tax 1.00) and 20.00 (tax 2.00) count; the cancelled 5.00 does not. Revenue = 9.00 + 18.00 = 2,700 minor units.
		await put(
			"orders",
			[
				{ order_id: "h-1", customer_id: "h", placed_at: `${day}T09:00:00Z`, total: "10.00", tax: "1.00", currency: "EUR" },
				{ order_id: "h-2", customer_id: "h", placed_at: `${day}T15:00:00Z`, total: "20.00", tax: "2.00", currency: "EUR" },
				{ order_id: "h-3", customer_id: "h", placed_at: `${day}T16:00:00Z`, total: "5.00", currency: "EUR", status: "cancelled" },
			],
			RSITE,
		);
	});

	it("the nightly cron reconciles the previous day once, and the alert stays quiet while it adds up", async () => {
		// The cron's clock: 02:00 UTC the day after `day` (the day is over and past its 1 h grace).
		const cronNow = at("00:00") + 86_400_000 + 2 * 3_600_000;
		const report = await runMaintenance(env, cronNow);
		expect(report.dataReconciliations.failed).toBe(0);
		expect(report.dataReconciliations.sites).toBeGreaterThanOrEqual(3); // dq, dqr, dqi (and the shared test sites)
		const row = await env.DB.prepare("SELECT computed_at, reconciled FROM data_reconciliations WHERE site = ? AND day = ?").bind(RSITE, day).first();
		expect(row).toEqual({ computed_at: cronNow, reconciled: 1 });
		// A second fire finds the day final and does not recompute it.
		expect((await runMaintenance(env, cronNow + 600_000)).dataReconciliations.sites).toBe(0);

		const { status, body } = await getJson<Report>(`/api/v1/health/data?site=${RSITE}&date=${day}`);
		expect(status).toBe(200);
		expect(body.reconciled).toBe(true);
		expect(body.days).toHaveLength(1);
		expect(body.days[0]).toMatchObject({
			date: day,
			final: true,
			computed_at: cronNow, // read from the table, not recomputed
			events: { accepted: 3, imported: 0, stored: 3, archived: 3, archive_objects: 2, pending_archive: 0, missing_in_d1: 0, missing_in_r2: 0, live_counted: 0, reconciled: true },
			orders: { local_day: day, orders: 2, revenue_minor: 2700, rollup_orders: 2, rollup_revenue_minor: 2700, reconciled: true },
		});
		const alert = await evaluateAlerts(env, RSITE, Date.now(), "manual");
		expect(alert.rules.find((r) => r.id === "data_health")).toMatchObject({ status: "ok", readings: [{ key: "reconciliation", value: 0, condition: false }, { key: "new_issues", value: 0, condition: false }] });
	});

	it("reports a lost archive object and a lost rollup row, and the data_health alert fires", async () => {
		const lost = await listKeys(env.ARCHIVE, `raw/site=${RSITE}/dt=${day}/hour=11/`);
		expect(lost).toHaveLength(1);
		await env.ARCHIVE.delete(lost[0] as string);
		await env.DB.prepare("DELETE FROM kpi_sales_daily WHERE site = ? AND day = ? AND channel = '' AND country = ''").bind(RSITE, day).run();

		const { body } = await getJson<Report>(`/api/v1/health/data?site=${RSITE}&date=${day}&refresh=true`);
		expect(body.reconciled).toBe(false);
		// 3 accepted and stored, 2 archived (the hour-11 object held 1 event); 2 orders / 2,700 in D1, none in the rollup.
		expect(body.days[0]).toMatchObject({
			reconciled: false,
			events: { accepted: 3, stored: 3, archived: 2, archive_objects: 1, missing_in_d1: 0, missing_in_r2: 1, reconciled: false },
			orders: { orders: 2, revenue_minor: 2700, rollup_orders: 0, rollup_revenue_minor: 0, reconciled: false },
		});
		const alert = await evaluateAlerts(env, RSITE, Date.now(), "manual");
		const rule = alert.rules.find((r) => r.id === "data_health");
		expect(rule?.readings.find((r) => r.key === "reconciliation")).toMatchObject({ value: 2, condition: true, period: day });
		const incident = await env.DB.prepare("SELECT rule_id, dedupe_key, state FROM alerts WHERE site = ? AND rule_id = 'data_health'").bind(RSITE).all();
		expect(incident.results).toEqual([{ rule_id: "data_health", dedupe_key: "reconciliation", state: "firing" }]);
	});

	it("shows the rule counts and latest examples, and alerts on new issues", async () => {
		const { body } = await getJson<Report>(`/api/v1/health/data?site=${SITE}&date=${day}`);
		const count = (rule: string) => body.quality.rules.find((r) => r.rule === rule);
		// Open issues left by the tests above on site dq (each counted by hand from its test).
		// order_total: t-plus2, t-minus2, t-sub-bad, x-1 (reopened), x-2, w-1 = 6; resolved: t-late.
		expect(count("order_total")).toMatchObject({ open: 6, resolved: 1 });
		expect(count("order_subtotal")).toMatchObject({ open: 1, resolved: 0 }); // t-subtotal
		expect(count("refund_exceeds_order")).toMatchObject({ open: 2, resolved: 0 }); // r-1, r-2
		expect(count("dates_out_of_order")).toMatchObject({ open: 4, resolved: 0 }); // d-paid, d-ship, d-deliv, d-refund
		expect(body.quality.open).toBe(13);
		expect(body.quality.latest).toHaveLength(13);
		expect(body.quality.latest.map((i) => i.ref)).toContain("orders/w-1");

		const alert = await evaluateAlerts(env, SITE, Date.now(), "manual");
		expect(alert.rules.find((r) => r.id === "data_health")?.readings.find((r) => r.key === "new_issues")).toMatchObject({ value: 13, condition: true });
	});

	it("names the offending field on bad input", async () => {
		const bad = async (q: string) => {
			const r = await getJson<{ error: string; fields: { field: string }[] }>(`/api/v1/health/data?site=${RSITE}&${q}`);
			expect(r.status, q).toBe(400);
			return r.body.fields[0]?.field;
		};
		expect(await bad("date=2026-02-30")).toBe("date");
		expect(await bad("from=2026-11-01")).toBe("to");
		expect(await bad("date=2026-11-01&from=2026-11-01&to=2026-11-02")).toBe("date");
		expect(await bad("from=2026-10-01&to=2026-11-02")).toBe("to");
		expect(await bad("from=2026-11-02&to=2026-11-01")).toBe("from");
		expect(await bad("date=2999-01-01")).toBe("date");
		expect(await bad("refresh=yes")).toBe("refresh");
	});
});
