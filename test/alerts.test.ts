/**
 * Alert rules and delivery (issue 4, items 6 and 7): the architecture document's four rules firing
 * and resolving, user rules (absolute, relative, `today` like for like), de-duplication, cooldown,
 * validation, write-only secrets, and notifications delivered to a real local HTTP receiver
 * (test/alert-receiver.mjs) through the queue, with retries and dead letters. Expected values are
 * worked out by hand in the comments. Each test uses its own site; `now` is passed explicitly.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { attemptDelivery, resumeStalledDeliveries } from "../workers/alerts/delivery";
import { evaluateAlerts, type EvaluationReport } from "../workers/alerts/evaluate";
import { alertMessage, emailMime, slackMessage, type AlertEvent } from "../workers/alerts/notify";
import { runMaintenance } from "../workers/jobs/scheduled";
import { storeEvents } from "../workers/pipeline/archive";
import { api, storedEvent, waitFor } from "./helpers";

declare module "vitest" {
	interface ProvidedContext {
		alertReceiver: string;
	}
}

const RECEIVER = inject("alertReceiver");
const T = (iso: string) => Date.parse(iso);
const MIN = 60_000;

type Reading = { key: string; value: number | null; baseline: number | null; limit: number | null; condition: boolean | null; period: string };
type Received = { method: string; path: string; headers: Record<string, string>; body: string; status: number };
type AlertRow = { id: string; rule_id: string; dedupe_key: string; state: string; resolution: string | null; notified_at: number | null; opened_by: string; label: string | null };
type DeliveryRow = { id: string; alert_id: string; event: string; channel_type: string; status: string; attempts: number; last_error: string | null; last_status: number | null; provider_id: string | null };

async function addSite(id: string, timezone = "UTC") {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

async function put(site: string, entity: string, body: unknown) {
	const res = await api("PUT", `/api/v1/${entity}?site=${site}`, body);
	expect(res.status, await res.clone().text()).toBe(200);
}

const order = (id: string, placedAt: string, total: string) => ({ order_id: id, customer_id: "c1", placed_at: placedAt, total, currency: "EUR" });

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
	const res = await api(method, path, body);
	const text = await res.text();
	expect(res.status, text).toBe(status);
	return JSON.parse(text) as T;
}

async function createRule(site: string, rule: Record<string, unknown>): Promise<{ id: string }> {
	return call("POST", `/api/v1/alerts/rules?site=${site}`, rule, 201);
}

function reading(report: EvaluationReport, rule: string, key = ""): Reading | undefined {
	return report.rules.find((r) => r.id === rule)?.readings.find((r) => r.key === key);
}

async function incidents(site: string, rule?: string): Promise<AlertRow[]> {
	const rows = await env.DB.prepare("SELECT * FROM alerts WHERE site = ?1 AND (?2 IS NULL OR rule_id = ?2) ORDER BY started_at, id").bind(site, rule ?? null).all<AlertRow>();
	return rows.results;
}

async function deliveries(site: string): Promise<DeliveryRow[]> {
	return (await env.DB.prepare("SELECT * FROM alert_deliveries WHERE site = ? ORDER BY created_at, id").bind(site).all<DeliveryRow>()).results;
}

/** Waits until the site has `n` deliveries and none is pending. */
async function settled(site: string, n: number): Promise<DeliveryRow[]> {
	return waitFor(async () => {
		const d = await deliveries(site);
		return d.length === n && d.every((x) => x.status !== "pending") ? d : undefined;
	});
}

/** Requests the receiver recorded on `path`, oldest first. */
async function received(path: string): Promise<Received[]> {
	return (await (await fetch(`${RECEIVER}/_control/requests?path=${encodeURIComponent(path)}`)).json()) as Received[];
}

async function failNext(path: string, count: number, status: number) {
	const res = await fetch(`${RECEIVER}/_control/fail`, { method: "POST", body: JSON.stringify({ path, count, status }) });
	expect(res.status).toBe(200);
	await res.arrayBuffer();
}

const hookPath = (name: string) => `/${name}/${crypto.randomUUID()}`;
const SECRET = "whsec_0123456789abcdef";

async function hmacHex(secret: string, text: string): Promise<string> {
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
	return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("the architecture document's rules", () => {
	it("revenue drop: fires when the last complete day is under 80% of the 7-day average, once, and resolves when revenue recovers", async () => {
		await addSite("al_rev");
		// 2026-06-01 … 06-07: 100.00 a day; 06-08: 70.00.
		await put("al_rev", "orders", [...[1, 2, 3, 4, 5, 6, 7].map((d) => order(`r${d}`, `2026-06-0${d}T12:00:00Z`, "100.00")), order("r8", "2026-06-08T12:00:00Z", "70.00")]);
		const path = hookPath("rev");
		await call("PUT", "/api/v1/alerts/rules/revenue_drop?site=al_rev", { channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });

		// At 06:00 on 06-09 the last complete day is 06-08: 70 < 0.8 × mean(100 × 7) = 80. Today's 0.00 so far is not looked at.
		const first = await evaluateAlerts(env, "al_rev", T("2026-06-09T06:00:00Z"), "schedule");
		expect(reading(first, "revenue_drop")).toEqual({ key: "", label: null, value: 70, baseline: 100, limit: 80, condition: true, period: "2026-06-08" });
		expect(first.opened).toHaveLength(1);
		// Ten minutes later, still below: the same incident, nothing new to send (de-duplication).
		const again = await evaluateAlerts(env, "al_rev", T("2026-06-09T06:10:00Z"), "schedule");
		expect(again.opened).toEqual([]);
		expect(again.notifications).toBe(0);
		const open = await incidents("al_rev", "revenue_drop");
		expect(open).toMatchObject([{ id: first.opened[0], state: "firing", dedupe_key: "", opened_by: "schedule" }]);

		// 06-09 recovers to 100.00. Baseline 06-02 … 06-08 = (6 × 100 + 70) ÷ 7 = 95.714…, limit 76.571…: 100 is not below.
		await put("al_rev", "orders", order("r9", "2026-06-09T12:00:00Z", "100.00"));
		const recovered = await evaluateAlerts(env, "al_rev", T("2026-06-10T06:00:00Z"), "schedule");
		const r = reading(recovered, "revenue_drop");
		expect(r?.value).toBe(100);
		expect(r?.baseline).toBeCloseTo(670 / 7, 9);
		expect(r?.limit).toBeCloseTo(0.8 * (670 / 7), 9);
		expect(r?.condition).toBe(false);
		expect(recovered.resolved).toEqual(first.opened);

		const history = await call<{ alerts: { id: string; state: string; resolution: string; severity: string; opened_value: number; limit: number }[] }>("GET", "/api/v1/alerts?site=al_rev&rule=revenue_drop");
		expect(history.alerts).toMatchObject([{ id: first.opened[0], state: "resolved", resolution: "cleared", severity: "critical", opened_value: 70, limit: 80 }]);

		// One firing and one resolved notification, signed.
		await settled("al_rev", 2);
		const got = await received(path);
		expect(got.map((g) => JSON.parse(g.body).type)).toEqual(["alert.firing", "alert.resolved"]);
		const firing = JSON.parse(got[0]?.body ?? "{}") as AlertEvent;
		expect(firing.alert).toMatchObject({ rule_id: "revenue_drop", severity: "critical", metric: "revenue", value: 70, baseline: 100, limit: 80, period: "2026-06-08", currency: "EUR", state: "firing" });
		expect(firing.message).toContain("70.00 EUR");
	});

	it("conversion rate drop: fires under 90% of the historical daily average and resolves", async () => {
		await addSite("al_conv");
		// One session per visitor; `buyers` of them purchase.
		const day = (date: string, sessions: number, buyers: number) =>
			Array.from({ length: sessions }, (_, i) => {
				const ts = T(`${date}T10:00:00Z`) + i * MIN;
				const visitor = `v${date}-${i}`;
				const view = storedEvent({ site: "al_conv", visitor, ts, received_at: ts });
				return i < buyers ? [view, storedEvent({ site: "al_conv", visitor, ts: ts + 30_000, received_at: ts + 30_000, name: "purchase", order_id: `o${date}-${i}` })] : [view];
			}).flat();
		// 06-05 … 06-07: 1 of 5 sessions buys (20%); 06-08: 1 of 10 (10%).
		await storeEvents(env.DB, [...day("2026-06-05", 5, 1), ...day("2026-06-06", 5, 1), ...day("2026-06-07", 5, 1), ...day("2026-06-08", 10, 1)]);
		// Days without sessions have no rate and are left out: baseline mean(20, 20, 20) = 20, limit 18; 10 < 18.
		const first = await evaluateAlerts(env, "al_conv", T("2026-06-09T06:00:00Z"), "schedule");
		expect(reading(first, "conversion_drop")).toMatchObject({ value: 10, baseline: 20, limit: 18, condition: true, period: "2026-06-08" });
		expect((await incidents("al_conv", "conversion_drop")).map((i) => i.state)).toEqual(["firing"]);
		// 06-09: 1 of 5 (20%). Baseline mean(20, 20, 20, 10) = 17.5, limit 15.75: resolved.
		await storeEvents(env.DB, day("2026-06-09", 5, 1));
		const next = await evaluateAlerts(env, "al_conv", T("2026-06-10T06:00:00Z"), "schedule");
		expect(reading(next, "conversion_drop")).toMatchObject({ value: 20, baseline: 17.5, limit: 15.75, condition: false });
		expect((await incidents("al_conv", "conversion_drop")).map((i) => [i.state, i.resolution])).toEqual([["resolved", "cleared"]]);
		// No revenue at all: 0 < 0.8 × 0 is false, so no revenue drop is invented.
		expect(reading(next, "revenue_drop")).toMatchObject({ value: 0, baseline: 0, condition: false });
	});

	it("inventory low: one incident per SKU under its reorder point, resolved when restocked", async () => {
		await addSite("al_inv");
		await put("al_inv", "products", [
			{ sku: "WHEY", name: "Whey 1 kg", price: 30 },
			{ sku: "BAR", name: "Protein bar", price: 2 },
		]);
		await put("al_inv", "inventory", [
			{ sku: "WHEY", taken_at: "2026-06-09T08:00:00Z", stock: 2, reorder_point: 5 }, // 2 < 5: low
			{ sku: "BAR", taken_at: "2026-06-09T08:00:00Z", stock: 0, reorder_point: 1 }, // 0 < 1: low
			{ sku: "CAPS", taken_at: "2026-06-09T08:00:00Z", stock: 10, reorder_point: 3 }, // fine
			{ sku: "GEL", taken_at: "2026-06-09T08:00:00Z", stock: 0 }, // no reorder point: not watched
		]);
		const first = await evaluateAlerts(env, "al_inv", T("2026-06-09T09:00:00Z"), "schedule");
		expect(first.rules.find((r) => r.id === "inventory_low")?.readings.map((r) => [r.key, r.value, r.limit, r.condition])).toEqual([
			["BAR", 0, 1, true],
			["CAPS", 10, 3, false],
			["WHEY", 2, 5, true],
		]);
		const open = await incidents("al_inv", "inventory_low");
		expect(open.map((i) => [i.dedupe_key, i.label, i.state])).toEqual(expect.arrayContaining([["WHEY", "Whey 1 kg", "firing"], ["BAR", "Protein bar", "firing"]]));
		expect(open).toHaveLength(2);

		// WHEY restocked to 40: its incident resolves, BAR's stays the same incident.
		await put("al_inv", "inventory", { sku: "WHEY", taken_at: "2026-06-09T12:00:00Z", stock: 40, reorder_point: 5 });
		const next = await evaluateAlerts(env, "al_inv", T("2026-06-09T12:10:00Z"), "schedule");
		const whey = open.find((i) => i.dedupe_key === "WHEY");
		const bar = open.find((i) => i.dedupe_key === "BAR");
		expect(next.resolved).toEqual([whey?.id]);
		expect(next.opened).toEqual([]);
		const firing = await call<{ alerts: { id: string; key: string }[] }>("GET", "/api/v1/alerts?site=al_inv&state=firing");
		expect(firing.alerts.map((a) => [a.id, a.key])).toEqual([[bar?.id, "BAR"]]);
	});

	it("high churn risk is listed and, until a churn model has scored the site, reported waiting_for_model: no value is invented", async () => {
		await addSite("al_churn");
		type Listed = { rules: { id: string; builtin: boolean; status: string; status_detail: string; severity: string; threshold: number; comparator: string }[] };
		const listed = await call<Listed>("GET", "/api/v1/alerts/rules?site=al_churn");
		expect(listed.rules.map((r) => r.id)).toEqual(["revenue_drop", "conversion_drop", "inventory_low", "churn_risk", "data_health"]);
		expect(listed.rules.every((r) => r.builtin)).toBe(true);
		expect(listed.rules.find((r) => r.id === "churn_risk")).toMatchObject({ severity: "warning", comparator: ">", threshold: 0.8 });
		const report = await evaluateAlerts(env, "al_churn", T("2026-06-09T06:00:00Z"), "manual");
		expect(report.rules.find((r) => r.id === "churn_risk")).toMatchObject({ status: "waiting_for_model", readings: [] });
		const after = await call<Listed>("GET", "/api/v1/alerts/rules?site=al_churn");
		expect(after.rules.find((r) => r.id === "churn_risk")?.status).toBe("waiting_for_model");
		expect(await incidents("al_churn", "churn_risk")).toEqual([]);
	});
});

describe("user-defined rules", () => {
	it("an absolute threshold on yesterday, and a relative one on today that compares the same hours of earlier days", async () => {
		await addSite("al_user", "Europe/Madrid"); // UTC+2 in June
		// 06-06 … 06-08 (local): 50.00 at 10:00 and 100.00 at 18:00; today 06-09: 30.00 at 09:00.
		await put("al_user", "orders", [
			...["06", "07", "08"].flatMap((d) => [order(`m${d}`, `2026-06-${d}T08:00:00Z`, "50.00"), order(`e${d}`, `2026-06-${d}T16:00:00Z`, "100.00")]),
			order("t09", "2026-06-09T07:00:00Z", "30.00"),
		]);
		const fewOrders = await createRule("al_user", { name: "Fewer than 3 orders", metric: "orders", comparator: "<", threshold: 3 });
		const slowDay = await createRule("al_user", { name: "Slow day", metric: "revenue", comparator: "<", threshold_kind: "relative", threshold: 0.5, window: "today", baseline_days: 3, severity: "critical" });

		// 12:00 local: today 30.00 against 50.00 by noon on each of the 3 days before (limit 25): no alert —
		// whereas against whole days (150.00, limit 75) a half-finished day would look like a drop.
		const noon = await evaluateAlerts(env, "al_user", T("2026-06-09T10:00:00Z"), "manual");
		expect(reading(noon, slowDay.id)).toEqual({ key: "", label: null, value: 30, baseline: 50, limit: 25, condition: false, period: "2026-06-09 until 12:00" });
		// Yesterday (local 06-08) had 2 orders: 2 < 3.
		expect(reading(noon, fewOrders.id)).toMatchObject({ value: 2, limit: 3, condition: true, period: "2026-06-08" });
		// 19:00 local: the baseline now includes the 18:00 orders (150.00, limit 75); today is still 30.00.
		const evening = await evaluateAlerts(env, "al_user", T("2026-06-09T17:00:00Z"), "manual");
		expect(reading(evening, slowDay.id)).toMatchObject({ value: 30, baseline: 150, limit: 75, condition: true, period: "2026-06-09 until 19:00" });
		expect((await incidents("al_user")).map((i) => i.rule_id).sort()).toEqual([fewOrders.id, slowDay.id].sort());
		// 00:30 local: under an hour of the day has passed, nothing to compare (the incident stays as it is).
		const early = await evaluateAlerts(env, "al_user", T("2026-06-09T22:30:00Z"), "manual");
		expect(early.rules.find((r) => r.id === slowDay.id)).toMatchObject({ status: "no_data", readings: [] });
		expect(early.resolved).toEqual([]);
	});

	it("de-duplication: concurrent and repeated evaluations open one incident and send one notification", async () => {
		await addSite("al_dedupe");
		const path = hookPath("dedupe");
		const rule = await createRule("al_dedupe", { name: "No orders", metric: "orders", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });
		const now = T("2026-06-09T06:00:00Z");
		const [a, b] = await Promise.all([evaluateAlerts(env, "al_dedupe", now, "schedule"), evaluateAlerts(env, "al_dedupe", now, "live")]);
		await evaluateAlerts(env, "al_dedupe", now + MIN, "schedule");
		expect([...a.opened, ...b.opened]).toHaveLength(1);
		expect(await incidents("al_dedupe", rule.id)).toHaveLength(1);
		const d = await settled("al_dedupe", 1);
		expect(d[0]).toMatchObject({ event: "firing", status: "delivered", attempts: 1 });
		expect(await received(path)).toHaveLength(1);
	});

	it("cooldown: a condition flapping within cooldown_seconds notifies once; one still firing after it is notified then", async () => {
		await addSite("al_cool");
		const path = hookPath("cool");
		const rule = await createRule("al_cool", {
			name: "Stock under 5",
			metric: "inventory:stock",
			comparator: "<",
			threshold: 5,
			cooldown_seconds: 3600,
			channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }],
		});
		const t0 = T("2026-06-09T12:00:00Z");
		const at = async (minutes: number, stock: number) => {
			await put("al_cool", "inventory", { sku: "X", taken_at: new Date(t0 + minutes * MIN - 30_000).toISOString(), stock });
			return evaluateAlerts(env, "al_cool", t0 + minutes * MIN, "schedule");
		};
		await at(0, 2); // #1 fires: notified
		await at(10, 10); // #1 resolves: notified (its firing was)
		await at(20, 2); // #2 fires within the hour after #1's notification: held back
		await at(30, 10); // #2 resolves silently (its firing was never sent)
		await at(40, 2); // #3 fires: held back
		const held = await incidents("al_cool", rule.id);
		expect(held.map((i) => [i.state, i.notified_at])).toEqual([
			["resolved", t0],
			["resolved", null],
			["firing", null],
		]);
		// 61 minutes after #1's notification, #3 is still firing: it is notified now.
		await evaluateAlerts(env, "al_cool", t0 + 61 * MIN, "schedule");
		expect((await incidents("al_cool", rule.id))[2]?.notified_at).toBe(t0 + 61 * MIN);
		await settled("al_cool", 3);
		const got = await received(path);
		expect(got.map((g) => [JSON.parse(g.body).type, JSON.parse(g.body).alert.id])).toEqual([
			["alert.firing", held[0]?.id],
			["alert.resolved", held[0]?.id],
			["alert.firing", held[2]?.id],
		]);
	});

	it("disabling a rule resolves its open incidents and sends their resolved notification", async () => {
		await addSite("al_disable");
		const path = hookPath("disable");
		const rule = await createRule("al_disable", { name: "No orders", metric: "orders", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });
		await evaluateAlerts(env, "al_disable", T("2026-06-09T06:00:00Z"), "schedule");
		await settled("al_disable", 1);
		const updated = await call<{ enabled: boolean; firing: number }>("PUT", `/api/v1/alerts/rules/${rule.id}?site=al_disable`, { enabled: false });
		expect(updated).toMatchObject({ enabled: false, firing: 0 });
		expect((await incidents("al_disable", rule.id)).map((i) => [i.state, i.resolution])).toEqual([["resolved", "rule_disabled"]]);
		await settled("al_disable", 2);
		expect((await received(path)).map((g) => JSON.parse(g.body).alert.resolution)).toEqual([null, "rule_disabled"]);
		// Disabled: evaluation skips it.
		const report = await evaluateAlerts(env, "al_disable", T("2026-06-09T07:00:00Z"), "schedule");
		expect(report.rules.map((r) => r.id)).not.toContain(rule.id);
	});
});

describe("delivery", () => {
	it("webhook (HMAC-signed), Slack (incoming-webhook format) and email (send_email binding) for one incident", async () => {
		await addSite("al_deliver");
		const hook = hookPath("hook");
		const slack = hookPath("slack");
		const rule = await createRule("al_deliver", {
			name: "No orders",
			metric: "orders",
			comparator: "<",
			threshold: 1,
			severity: "critical",
			channels: [
				{ type: "webhook", url: `${RECEIVER}${hook}`, secret: SECRET },
				{ type: "slack", url: `${RECEIVER}${slack}` },
				{ type: "email", to: "ops@example.com" },
			],
		});
		const report = await evaluateAlerts(env, "al_deliver", T("2026-06-09T06:00:00Z"), "schedule");
		expect(report.notifications).toBe(3);
		const done = await settled("al_deliver", 3);
		expect(done.map((d) => [d.channel_type, d.status, d.attempts])).toEqual(
			expect.arrayContaining([
				["webhook", "delivered", 1],
				["slack", "delivered", 1],
				["email", "delivered", 1],
			]),
		);
		const alertId = report.opened[0] as string;

		// Webhook: X-B2G-Signature = sha256=HMAC(secret, "<X-B2G-Timestamp>.<raw body>"), the delivery id for idempotency.
		const [w] = await received(hook);
		expect(w?.headers["content-type"]).toBe("application/json");
		const ts = w?.headers["x-b2g-timestamp"] ?? "";
		expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(120);
		expect(w?.headers["x-b2g-signature"]).toBe(`sha256=${await hmacHex(SECRET, `${ts}.${w?.body}`)}`);
		expect(w?.headers["x-b2g-signature"]).not.toBe(`sha256=${await hmacHex("another secret!!", `${ts}.${w?.body}`)}`);
		const channels = (await call<{ channels: { id: string; type: string }[] }>("GET", `/api/v1/alerts/rules/${rule.id}?site=al_deliver`)).channels;
		expect(w?.headers["x-b2g-delivery"]).toBe(`${alertId}:firing:${channels.find((c) => c.type === "webhook")?.id}`);
		expect(w?.headers["x-b2g-event"]).toBe("alert.firing");
		expect(w?.headers["x-b2g-site"]).toBe("al_deliver");
		const event = JSON.parse(w?.body ?? "{}") as AlertEvent;
		expect(event).toMatchObject({ id: `${alertId}:firing`, type: "alert.firing", site: "al_deliver", alert: { id: alertId, rule_id: rule.id, severity: "critical", value: 0, limit: 1, comparator: "<" } });

		// Slack: `text` plus header, section and context blocks.
		const [s] = await received(slack);
		const body = JSON.parse(s?.body ?? "{}") as { text: string; blocks: { type: string; text?: { type: string; text: string } }[] };
		expect(body.text).toContain("No orders [critical] on site al_deliver");
		expect(body.blocks.map((b) => b.type)).toEqual(["header", "section", "context"]);
		expect(body.blocks[0]?.text).toEqual({ type: "plain_text", text: "Firing: No orders", emoji: true });
		expect(body.blocks[1]?.text?.type).toBe("mrkdwn");

		// Email: the local send_email binding parsed the MIME message and returned a Message-ID.
		const email = done.find((d) => d.channel_type === "email");
		expect(email?.provider_id).toMatch(/^<[^@<>]+@brain2gain\.example>$/); // the domain of ALERT_EMAIL_FROM
	});

	it("retries a failing webhook with backoff until it succeeds, with the same delivery id", async () => {
		await addSite("al_retry");
		const path = hookPath("retry");
		await failNext(path, 2, 503);
		await createRule("al_retry", { name: "No orders", metric: "orders", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });
		await evaluateAlerts(env, "al_retry", T("2026-06-09T06:00:00Z"), "schedule");
		const [d] = await settled("al_retry", 1);
		expect(d).toMatchObject({ status: "delivered", attempts: 3, last_status: 200, last_error: null });
		const got = await received(path);
		expect(got.map((g) => g.status)).toEqual([503, 503, 200]);
		expect(new Set(got.map((g) => g.headers["x-b2g-delivery"]))).toEqual(new Set([d?.id]));
		// A redelivered message for a delivered row sends nothing.
		expect(await attemptDelivery(env, d?.id ?? "", Date.now())).toBeNull();
		expect(await received(path)).toHaveLength(3);
	});

	it("ends in a dead-letter record after ALERT_DELIVERY_MAX_ATTEMPTS failures, listed by GET /api/v1/alerts/deliveries?status=dead", async () => {
		await addSite("al_dead");
		const path = hookPath("dead");
		await failNext(path, 1000, 500);
		await createRule("al_dead", { name: "No orders", metric: "orders", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });
		await evaluateAlerts(env, "al_dead", T("2026-06-09T06:00:00Z"), "schedule");
		const max = Number(env.ALERT_DELIVERY_MAX_ATTEMPTS);
		expect(max).toBe(10);
		const [d] = await settled("al_dead", 1);
		expect(d).toMatchObject({ status: "dead", attempts: max, last_status: 500, last_error: "HTTP 500: failing on purpose (500)" });
		expect(await received(path)).toHaveLength(max);
		const listed = await call<{ deliveries: { id: string; status: string; attempts: number; dead_at: number | null; channel: Record<string, unknown> }[] }>("GET", "/api/v1/alerts/deliveries?site=al_dead&status=dead");
		expect(listed.deliveries).toHaveLength(1);
		expect(listed.deliveries[0]).toMatchObject({ id: d?.id, status: "dead", attempts: max });
		expect(listed.deliveries[0]?.dead_at).toEqual(expect.any(Number));
		expect(listed.deliveries[0]?.channel).toEqual({ id: expect.stringMatching(/^ch_/), type: "webhook", url: `${RECEIVER}${path}`, secret_hint: "…cdef" });
		// Dead stays dead: a redelivered message sends nothing.
		expect(await attemptDelivery(env, d?.id ?? "", Date.now())).toBeNull();
		expect(await received(path)).toHaveLength(max);
	});

	it("re-queues a pending delivery whose queue message was lost (cron), so none is silently dropped", async () => {
		await addSite("al_lost");
		const path = hookPath("lost");
		await createRule("al_lost", { name: "No orders", metric: "orders", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: `${RECEIVER}${path}`, secret: SECRET }] });
		await evaluateAlerts(env, "al_lost", T("2026-06-09T06:00:00Z"), "schedule");
		const [d] = await settled("al_lost", 1);
		// A second delivery row as if its message had vanished 20 minutes ago.
		const now = Date.now();
		await env.DB.prepare(
			`INSERT INTO alert_deliveries (id, site, alert_id, event, channel_type, channel, payload, status, attempts, created_at, updated_at)
			SELECT id || '-lost', site, alert_id, event, channel_type, channel, payload, 'pending', 0, ?2, ?2 FROM alert_deliveries WHERE id = ?1`,
		)
			.bind(d?.id, now - 20 * MIN)
			.run();
		expect(await resumeStalledDeliveries(env, now)).toBe(1);
		const both = await settled("al_lost", 2);
		expect(both.map((x) => x.status)).toEqual(["delivered", "delivered"]);
		expect((await received(path)).map((g) => g.headers["x-b2g-delivery"])).toEqual([d?.id, `${d?.id}-lost`]);
		// Nothing stalled is left.
		expect(await resumeStalledDeliveries(env, now)).toBe(0);
	});

	it("formats: one-line message, Slack escaping, a MIME message with an encoded subject and base64 body", () => {
		const event: Omit<AlertEvent, "message"> = {
			id: "a1:firing",
			type: "alert.firing",
			site: "demo",
			alert: {
				id: "a1", rule_id: "revenue_drop", rule_name: "Revenue drop", severity: "critical", metric: "revenue", metric_name: "Revenue", unit: "currency", currency: "EUR",
				key: "", label: null, state: "firing", resolution: null, comparator: "<", threshold_kind: "relative", threshold: 0.8, window: "yesterday", baseline_days: 7,
				value: 70, baseline: 100, limit: 80, period: "2026-06-08", opened_by: "schedule", started_at: 0, resolved_at: null,
			},
		};
		const message = alertMessage(event);
		expect(message).toBe("Revenue drop [critical] on site demo: Revenue is 70.00 EUR, < 80.00 EUR (80% of the 7-day average 100.00 EUR), 2026-06-08 (the last complete day)");
		expect(slackMessage({ ...event, message: "a < b & c" }).text).toBe(":red_circle: a &lt; b &amp; c");
		const mime = emailMime({ from: "alerts@b2g.example", to: "ops@example.com", subject: "Umsatzrückgang", text: "Grüße\n", id: "a1:firing:ch_1", date: new Date(0) });
		expect(mime).toContain("From: Brain2Gain Alerts <alerts@b2g.example>\r\n");
		expect(mime).toContain(`Subject: =?UTF-8?B?${btoa(String.fromCharCode(...new TextEncoder().encode("Umsatzrückgang")))}?=\r\n`);
		expect(mime).toContain("Message-ID: <a1.firing.ch_1@b2g.example>\r\n");
		expect(mime).toContain("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n");
		const body = mime.split("\r\n\r\n")[1]?.replace(/\r\n/g, "") ?? "";
		expect(new TextDecoder().decode(Uint8Array.from(atob(body), (c) => c.charCodeAt(0)))).toBe("Grüße\n");
	});
});

describe("rules API", () => {
	beforeAll(async () => {
		await addSite("al_api");
	});

	it("answers 400 naming each invalid field", async () => {
		const bad = async (body: unknown, fields: string[], method = "POST", path = "/api/v1/alerts/rules?site=al_api") => {
			const e = await call<{ error: string; fields: { field: string }[] }>(method, path, body, 400);
			expect(e.error).toBe("invalid_request");
			expect(e.fields.map((f) => f.field).sort()).toEqual([...fields].sort());
		};
		await bad({ name: "x", metric: "revenue_growth_mom", comparator: "<", threshold: 1 }, ["metric"]);
		await bad({ name: "x", metric: "revenue", comparator: "≠", threshold: "1", severity: "fatal", extra: 1 }, ["comparator", "threshold", "severity", "extra"]);
		await bad({ name: "x", metric: "conversion_rate", comparator: "<", threshold: 0.9, threshold_kind: "relative", window: "today" }, ["window"]);
		await bad({ name: "x", metric: "revenue", comparator: "<", threshold: -1, threshold_kind: "relative" }, ["threshold"]);
		await bad(
			{
				name: "x",
				metric: "revenue",
				comparator: "<",
				threshold: 1,
				channels: [
					{ type: "webhook", url: "http://hooks.example.com/x", secret: SECRET },
					{ type: "webhook", url: "https://hooks.example.com/x" },
					{ type: "slack" },
					{ type: "email", to: "not-an-address" },
					{ type: "sms", to: "+1" },
				],
			},
			["channels[0].url", "channels[3].to", "channels[4].type"],
		);
		// Cross-field checks come after the shapes are valid.
		await bad({ name: "x", metric: "revenue", comparator: "<", threshold: 1, channels: [{ type: "webhook", url: "https://hooks.example.com/x" }, { type: "slack" }] }, ["channels[0].secret", "channels[1].url"]);
		await bad({ enabled: false, threshold: 0.5, window: "today" }, ["threshold", "window"], "PUT", "/api/v1/alerts/rules/revenue_drop?site=al_api");
		await bad({ channels: [{ id: "ch_00000000", type: "email", to: "a@example.com" }] }, ["channels[0].id"], "PUT", "/api/v1/alerts/rules/revenue_drop?site=al_api");
	});

	it("built-in rules cannot be deleted; unknown rules are 404", async () => {
		const e = await call<{ error: string }>("DELETE", "/api/v1/alerts/rules/revenue_drop?site=al_api", undefined, 409);
		expect(e.error).toBe("builtin_rule");
		await call("GET", "/api/v1/alerts/rules/r_000000000000?site=al_api", undefined, 404);
		await call("PUT", "/api/v1/alerts/rules/r_000000000000?site=al_api", { enabled: false }, 404);
		await call("DELETE", "/api/v1/alerts/rules/r_000000000000?site=al_api", undefined, 404);
		await call("GET", "/api/v1/alerts/rules/Not-An-Id?site=al_api", undefined, 404);
	});

	it("keeps secrets write-only: hints in answers, kept across a PUT that names the channel", async () => {
		const created = await call<{ id: string; channels: Record<string, unknown>[] }>(
			"POST",
			"/api/v1/alerts/rules?site=al_api",
			{
				name: "Secret keeper",
				metric: "orders",
				comparator: "<",
				threshold: 1,
				channels: [
					{ type: "webhook", url: "https://hooks.example.com/b2g", secret: SECRET },
					{ type: "slack", url: "https://hooks.slack.com/services/T000/B000/XXXXabcd" },
				],
			},
			201,
		);
		const [hook, slack] = created.channels as [{ id: string }, { id: string }];
		expect(created.channels).toEqual([
			{ id: hook.id, type: "webhook", url: "https://hooks.example.com/b2g", secret_hint: "…cdef" },
			{ id: slack.id, type: "slack", url_hint: "https://hooks.slack.com/…abcd" },
		]);
		const text = await (await api("GET", "/api/v1/alerts/rules?site=al_api")).text();
		expect(text).not.toContain(SECRET);
		expect(text).not.toContain("XXXXabcd");
		// Name the channels by id without secrets, add an email channel: the secrets stay.
		const updated = await call<{ channels: Record<string, unknown>[]; name: string }>("PUT", `/api/v1/alerts/rules/${created.id}?site=al_api`, {
			name: "Renamed",
			channels: [{ id: hook.id, type: "webhook", url: "https://hooks.example.com/b2g-v2" }, { id: slack.id, type: "slack" }, { type: "email", to: "Ops@Example.com" }],
		});
		expect(updated.name).toBe("Renamed");
		expect(updated.channels).toMatchObject([{ id: hook.id, url: "https://hooks.example.com/b2g-v2", secret_hint: "…cdef" }, { id: slack.id, url_hint: "https://hooks.slack.com/…abcd" }, { type: "email", to: "ops@example.com" }]);
		const stored = await env.DB.prepare("SELECT channels FROM alert_rules WHERE site = 'al_api' AND id = ?").bind(created.id).first<{ channels: string }>();
		expect(JSON.parse(stored?.channels ?? "[]")).toMatchObject([{ secret: SECRET }, { url: "https://hooks.slack.com/services/T000/B000/XXXXabcd" }, { to: "ops@example.com" }]);
		// Built-in rules take channels and the cooldown, and can be switched off.
		const builtin = await call<{ enabled: boolean; cooldown_seconds: number; channels: unknown[] }>("PUT", "/api/v1/alerts/rules/inventory_low?site=al_api", { enabled: false, cooldown_seconds: 60, channels: [{ type: "email", to: "stock@example.com" }] });
		expect(builtin).toMatchObject({ enabled: false, cooldown_seconds: 60, channels: [{ type: "email", to: "stock@example.com" }] });
		const del = await call<{ deleted: boolean }>("DELETE", `/api/v1/alerts/rules/${created.id}?site=al_api`);
		expect(del.deleted).toBe(true);
		await call("GET", `/api/v1/alerts/rules/${created.id}?site=al_api`, undefined, 404);
	});

	it("POST /api/v1/alerts/evaluate evaluates now and reports each rule", async () => {
		const report = await call<EvaluationReport>("POST", "/api/v1/alerts/evaluate?site=al_api");
		expect(report).toMatchObject({ site: "al_api", trigger: "manual" });
		expect(report.rules.find((r) => r.id === "churn_risk")?.status).toBe("waiting_for_model");
		const listed = await call<{ rules: { id: string; status: string; last_evaluated_at: number | null }[] }>("GET", "/api/v1/alerts/rules?site=al_api");
		expect(listed.rules.find((r) => r.id === "revenue_drop")).toMatchObject({ status: "ok", last_evaluated_at: report.evaluated_at });
	});
});

describe("API reference", () => {
	it("documents the webhook body as the AlertEvent schema", async () => {
		const doc = await call<{ components: { schemas: Record<string, { properties: Record<string, unknown> }> } }>("GET", "/api/v1/openapi.json");
		expect(Object.keys(doc.components.schemas.AlertEvent?.properties ?? {})).toEqual(["id", "type", "site", "alert", "message"]);
	});
});

describe("cron", () => {
	it("evaluates every site's rules on schedule", async () => {
		await addSite("al_cron");
		const rule = await createRule("al_cron", { name: "No orders", metric: "orders", comparator: "<", threshold: 1 });
		const report = await runMaintenance(env, T("2026-06-20T06:00:00Z"));
		expect(report.alerts.failed).toBe(0);
		expect(report.alerts.sites).toBeGreaterThanOrEqual(10);
		expect(await incidents("al_cron", rule.id)).toMatchObject([{ state: "firing", opened_by: "schedule", notified_at: null }]);
	});
});
