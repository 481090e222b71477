/**
 * Report subscriptions (issue 13, items 4 and 6): the API (CRUD, validation naming the field, who may
 * manage them), the cron's exactly-once claim (two fires at the same `now`, a late fire, catch-up after
 * downtime) and delivery through the alert delivery queue to a real local HTTP receiver
 * (test/alert-receiver.mjs): signed webhook, Slack, email, retries, dead letters, and the send history
 * (`GET …/{id}/sends`). Scheduling uses explicit `now` values in November 2026; expected periods are
 * worked out by hand in the comments (Europe/Berlin is UTC+1 in November).
 */
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { emailMime } from "../workers/alerts/notify";
import { attemptReportSend, scheduleReports, type ScheduleReport } from "../workers/reports/deliver";
import { api, apiWithCookie, userSession, waitFor } from "./helpers";

declare module "vitest" {
	interface ProvidedContext {
		alertReceiver: string;
	}
}

const RECEIVER = inject("alertReceiver");
const T = (iso: string) => Date.parse(iso);
const SECRET = "whsec_report_0123456789";

type Sub = {
	id: string;
	kind: string;
	sku: string | null;
	channel: string;
	recipients: string[];
	url: string | null;
	url_hint: string | null;
	secret_hint: string | null;
	cadence: string;
	send_time: string;
	timezone: string;
	weekday: number;
	day_of_month: number;
	enabled: boolean;
	next_send_at: number | null;
	next_period: string | null;
	last_send: Send | null;
	created_by: string;
};
type Send = { subscription_id: string; period: string; status: string; attempts: number; last_error: string | null; last_status: number | null; delivered_to: string[]; report_key: string | null; due_at: number; sent_at: number | null };
type Received = { method: string; path: string; headers: Record<string, string>; body: string; status: number };

async function addSite(id: string, timezone = "Europe/Berlin") {
	await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, ?, '[]', ?, 'EUR', 0)").bind(id, id, timezone).run();
}

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
	const res = await api(method, path, body);
	const text = await res.text();
	expect(res.status, text).toBe(status);
	return JSON.parse(text) as T;
}

/** The 400 answer's field names. */
async function badFields(site: string, body: unknown, method = "POST", id?: string): Promise<string[]> {
	const res = await api(method, `/api/v1/reports/subscriptions${id ? `/${id}` : ""}?site=${site}`, body);
	const out = (await res.json()) as { error: string; fields?: { field: string }[] };
	expect(res.status, JSON.stringify(out)).toBe(400);
	expect(out.error).toBe("invalid_request");
	return (out.fields ?? []).map((f) => f.field);
}

const subscribe = (site: string, body: Record<string, unknown>) => call<Sub>("POST", `/api/v1/reports/subscriptions?site=${site}`, body, 201);
const sends = async (site: string, id: string) => (await call<{ sends: Send[] }>("GET", `/api/v1/reports/subscriptions/${id}/sends?site=${site}`)).sends;

/** Makes a subscription's past send times due (they are not, before its creation: no backlog on subscribing). */
async function activeSinceEpoch(id: string) {
	await env.DB.prepare("UPDATE report_subscriptions SET active_since = 0 WHERE id = ?").bind(id).run();
}

const mine = (r: ScheduleReport, id: string) => r.claimed.filter((c) => c.startsWith(`${id}:`));

/** Waits until none of the subscription's sends is pending or failed. */
async function settled(site: string, id: string, n: number): Promise<Send[]> {
	return waitFor(async () => {
		const s = await sends(site, id);
		return s.length === n && s.every((x) => x.status !== "pending" && x.status !== "failed") ? s : undefined;
	}, 60_000);
}

async function received(path: string): Promise<Received[]> {
	return (await (await fetch(`${RECEIVER}/_control/requests?path=${encodeURIComponent(path)}`)).json()) as Received[];
}

async function failNext(path: string, count: number, status: number) {
	const res = await fetch(`${RECEIVER}/_control/fail`, { method: "POST", body: JSON.stringify({ path, count, status }) });
	expect(res.status).toBe(200);
	await res.arrayBuffer();
}

const hookPath = (name: string) => `/report-${name}/${crypto.randomUUID()}`;

async function hmacHex(secret: string, text: string): Promise<string> {
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("subscriptions API", () => {
	it("creates with the architecture document's defaults, reads, changes and deletes; secrets are write-only", async () => {
		await addSite("rs_crud");
		const hook = `${RECEIVER}${hookPath("crud")}`;
		const created = await subscribe("rs_crud", { kind: "daily", channel: "webhook", url: hook, secret: SECRET, enabled: false });
		expect(created).toMatchObject({
			kind: "daily",
			sku: null,
			channel: "webhook",
			recipients: [],
			url: hook,
			url_hint: null,
			secret_hint: "…6789",
			cadence: "daily", // a daily report is sent daily
			send_time: "08:00",
			timezone: "Europe/Berlin", // the site's
			weekday: 1,
			day_of_month: 1,
			enabled: false,
			next_send_at: null,
			last_send: null,
			created_by: "key:0000000000aa",
		});
		expect(created.id).toMatch(/^rs_[0-9a-f]{12}$/);
		expect(JSON.stringify(created)).not.toContain(SECRET);

		const listed = await call<{ subscriptions: Sub[] }>("GET", "/api/v1/reports/subscriptions?site=rs_crud");
		expect(listed.subscriptions.map((s) => s.id)).toEqual([created.id]);
		expect(await call<Sub>("GET", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`)).toEqual(created);

		// Enabled at 07:30 local: the next send is a Berlin 07:30 (06:30Z in winter), covering the Berlin day before.
		const changed = await call<Sub>("PUT", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`, { send_time: "07:30", enabled: true });
		expect(changed).toMatchObject({ send_time: "07:30", enabled: true, secret_hint: "…6789", url: hook });
		const next = new Date(changed.next_send_at ?? 0);
		expect(next.getUTCHours() * 60 + next.getUTCMinutes()).toBe(6 * 60 + 30);
		expect(changed.next_send_at).toBeGreaterThan(Date.now());
		expect(changed.next_period).toBe(new Date((changed.next_send_at ?? 0) - 86_400_000).toISOString().slice(0, 10));

		// Switching to Slack needs the Slack URL; the webhook secret does not carry over.
		expect(await badFields("rs_crud", { channel: "slack" }, "PUT", created.id)).toEqual(["url"]);
		const slack = await call<Sub>("PUT", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`, { channel: "slack", url: `${RECEIVER}/slack/T000/B000/abcd1234` });
		expect(slack).toMatchObject({ channel: "slack", url: null, url_hint: `${RECEIVER}/…1234`, secret_hint: null });
		const row = await env.DB.prepare("SELECT target, secret FROM report_subscriptions WHERE id = ?").bind(created.id).first();
		expect(row).toEqual({ target: `${RECEIVER}/slack/T000/B000/abcd1234`, secret: null });

		expect(await call("DELETE", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`)).toEqual({ id: created.id, deleted: true });
		await call("GET", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`, undefined, 404);
		await call("DELETE", `/api/v1/reports/subscriptions/${created.id}?site=rs_crud`, undefined, 404);
		await call("GET", `/api/v1/reports/subscriptions/${created.id}/sends?site=rs_crud`, undefined, 404);
		await call("GET", "/api/v1/reports/subscriptions/not-an-id?site=rs_crud", undefined, 404);
	});

	it("answers 400 naming the field for each invalid input", async () => {
		await addSite("rs_valid");
		const email = { kind: "daily", channel: "email", recipients: ["ceo@example.com"] };
		expect(await badFields("rs_valid", { channel: "email", recipients: ["a@example.com"] })).toEqual(["kind"]);
		expect(await badFields("rs_valid", { ...email, kind: "weekly" })).toEqual(["kind"]);
		expect(await badFields("rs_valid", { ...email, channel: "fax" })).toEqual(["channel"]);
		expect(await badFields("rs_valid", { ...email, recipients: ["ceo@example.com", "not-an-email"] })).toEqual(["recipients[1]"]);
		expect(await badFields("rs_valid", { ...email, recipients: [] })).toEqual(["recipients"]);
		expect(await badFields("rs_valid", { ...email, timezone: "Mars/Olympus_Mons" })).toEqual(["timezone"]);
		expect(await badFields("rs_valid", { ...email, send_time: "8:00" })).toEqual(["send_time"]);
		expect(await badFields("rs_valid", { ...email, send_time: "24:00" })).toEqual(["send_time"]);
		expect(await badFields("rs_valid", { ...email, weekday: 8 })).toEqual(["weekday"]);
		expect(await badFields("rs_valid", { ...email, day_of_month: 0 })).toEqual(["day_of_month"]);
		expect(await badFields("rs_valid", { ...email, colour: "blue" })).toEqual(["colour"]);
		// Kind and cadence: daily → daily; executive → weekly | monthly; financial → monthly.
		expect(await badFields("rs_valid", { ...email, cadence: "weekly" })).toEqual(["cadence"]);
		expect(await badFields("rs_valid", { ...email, kind: "executive", cadence: "daily" })).toEqual(["cadence"]);
		expect(await badFields("rs_valid", { ...email, kind: "financial", cadence: "weekly" })).toEqual(["cadence"]);
		// A product report needs a SKU of the catalogue; the others take none.
		expect(await badFields("rs_valid", { ...email, kind: "product" })).toEqual(["sku"]);
		expect(await badFields("rs_valid", { ...email, kind: "product", sku: "NO-SUCH-SKU" })).toEqual(["sku"]);
		expect(await badFields("rs_valid", { ...email, sku: "BAR-1" })).toEqual(["sku"]);
		// Channels: https URLs (http only to this machine), a webhook secret, no email fields on a URL channel.
		expect(await badFields("rs_valid", { kind: "daily", channel: "slack", url: "http://hooks.example.com/x" })).toEqual(["url"]);
		expect(await badFields("rs_valid", { kind: "daily", channel: "slack" })).toEqual(["url"]);
		expect(await badFields("rs_valid", { kind: "daily", channel: "webhook", url: "https://example.com/h" })).toEqual(["secret"]);
		expect(await badFields("rs_valid", { kind: "daily", channel: "webhook", url: "https://example.com/h", secret: "short" })).toEqual(["secret"]);
		expect(await badFields("rs_valid", { ...email, url: "https://example.com/h" })).toEqual(["url"]);
		expect(await badFields("rs_valid", { kind: "daily", channel: "slack", url: "https://hooks.slack.com/services/T/B/x", recipients: ["a@example.com"] })).toEqual(["recipients"]);
		expect((await call<{ subscriptions: Sub[] }>("GET", "/api/v1/reports/subscriptions?site=rs_valid")).subscriptions).toEqual([]);

		// A valid product subscription: weekly by default, Monday, in the zone given (canonical name).
		await call("PUT", "/api/v1/products?site=rs_valid", { sku: "BAR-1", name: "Protein bar", price: 2.5 });
		const product = await subscribe("rs_valid", { ...email, kind: "product", sku: "BAR-1", timezone: "US/Pacific", enabled: false });
		expect(product).toMatchObject({ kind: "product", sku: "BAR-1", cadence: "weekly", weekday: 1, timezone: "America/Los_Angeles", recipients: ["ceo@example.com"] });
		// Changing the kind away from product drops the SKU and takes that kind's default cadence.
		expect(await call<Sub>("PUT", `/api/v1/reports/subscriptions/${product.id}?site=rs_valid`, { kind: "financial" })).toMatchObject({ kind: "financial", sku: null, cadence: "monthly" });
	});

	it("is for the admin and executive roles (and admin keys): analysts, operations and read keys get 403", async () => {
		await addSite("rs_roles");
		const body = { kind: "executive", channel: "email", recipients: ["board@example.com"], enabled: false };
		const executive = await userSession("executive");
		const res = await apiWithCookie("POST", "/api/v1/reports/subscriptions?site=rs_roles", executive.cookie, body);
		expect(res.status, await res.clone().text()).toBe(201);
		expect(await res.json()).toMatchObject({ kind: "executive", cadence: "weekly", created_by: `user:${executive.user.id}` });
		for (const role of ["analyst", "operations"] as const) {
			const { cookie } = await userSession(role);
			const list = await apiWithCookie("GET", "/api/v1/reports/subscriptions?site=rs_roles", cookie);
			expect(list.status).toBe(403);
			expect(((await list.json()) as { fields: { field: string }[] }).fields).toEqual([{ field: "role", message: "needs admin or executive" }]);
			const post = await apiWithCookie("POST", "/api/v1/reports/subscriptions?site=rs_roles", cookie, body);
			expect(post.status).toBe(403);
			await post.arrayBuffer();
		}
	});
});

describe("scheduling: each period exactly once", () => {
	it("two cron fires at the same moment claim a period once, a late fire claims nothing, and after a 3-day downtime only the latest period is sent", async () => {
		await addSite("rs_once");
		const path = hookPath("once");
		const sub = await subscribe("rs_once", { kind: "daily", channel: "webhook", url: `${RECEIVER}${path}`, secret: SECRET });
		await activeSinceEpoch(sub.id);

		// 2026-11-10 08:05 Berlin (07:05Z): the 08:00 send (07:00Z) is due, covering 2026-11-09.
		const now = T("2026-11-10T07:05:00Z");
		const [a, b] = await Promise.all([scheduleReports(env, now), scheduleReports(env, now)]);
		expect([...mine(a, sub.id), ...mine(b, sub.id)]).toEqual([`${sub.id}:2026-11-09`]);
		// The same fire again, and one 25 minutes late: the period is taken.
		expect(mine(await scheduleReports(env, now), sub.id)).toEqual([]);
		expect(mine(await scheduleReports(env, now + 25 * 60_000), sub.id)).toEqual([]);
		const [first] = await settled("rs_once", sub.id, 1);
		expect(first).toMatchObject({ period: "2026-11-09", status: "sent", attempts: 1, last_error: null, last_status: 200, due_at: T("2026-11-10T07:00:00Z") });

		// The receiver got one POST: the signed report of 2026-11-09.
		const got = await received(path);
		expect(got).toHaveLength(1);
		const [w] = got;
		const ts = w?.headers["x-b2g-timestamp"] ?? "";
		expect(w?.headers["x-b2g-signature"]).toBe(`sha256=${await hmacHex(SECRET, `${ts}.${w?.body}`)}`);
		expect(w?.headers["x-b2g-delivery"]).toBe(`${sub.id}:2026-11-09`);
		expect(w?.headers["x-b2g-event"]).toBe("report.ready");
		expect(w?.headers["x-b2g-site"]).toBe("rs_once");
		const event = JSON.parse(w?.body ?? "{}") as { type: string; period: string; report_key: string; link: string; report: { kind: string; site: string; period: { label: string; from: string; to: string; tz: string } } };
		expect(event).toMatchObject({ type: "report.ready", period: "2026-11-09", report: { kind: "daily", site: "rs_once", period: { label: "2026-11-09", from: "2026-11-09", to: "2026-11-09", tz: "Europe/Berlin" } } });
		// Archived under its stable key before it was sent.
		expect(event.report_key).toBe(first?.report_key);
		expect(await env.ARCHIVE.head(event.report_key)).not.toBeNull();
		expect(event.link).toBe(`http://localhost:8787/api/v1/reports/archive?site=rs_once&key=${encodeURIComponent(event.report_key)}&format=html`);

		// Down from 11-10 07:30Z until 11-13 12:00Z: the sends of 11-11, 11-12 and 11-13 were missed; only 11-13's (covering 11-12) goes out.
		const after = await scheduleReports(env, T("2026-11-13T12:00:00Z"));
		expect(mine(after, sub.id)).toEqual([`${sub.id}:2026-11-12`]);
		const both = await settled("rs_once", sub.id, 2);
		expect(both.map((s) => [s.period, s.status])).toEqual([
			["2026-11-12", "sent"],
			["2026-11-09", "sent"],
		]);
		expect((await received(path)).map((r) => r.headers["x-b2g-delivery"])).toEqual([`${sub.id}:2026-11-09`, `${sub.id}:2026-11-12`]);
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_once`);
	});

	it("a send time that passed before the subscription existed is not sent; the next one is", async () => {
		await addSite("rs_fresh", "UTC");
		const path = hookPath("fresh");
		const sub = await subscribe("rs_fresh", { kind: "daily", channel: "webhook", url: `${RECEIVER}${path}`, secret: SECRET, timezone: "UTC" });
		expect(mine(await scheduleReports(env, Date.now()), sub.id)).toEqual([]);
		// At its next send instant it claims the period before it (the UTC day before).
		const next = sub.next_send_at ?? 0;
		expect(mine(await scheduleReports(env, next), sub.id)).toEqual([`${sub.id}:${new Date(next - 86_400_000).toISOString().slice(0, 10)}`]);
		await settled("rs_fresh", sub.id, 1);
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_fresh`);
	});
});

describe("delivery", () => {
	it("retries a failing webhook with backoff until it succeeds, with the same delivery id", async () => {
		await addSite("rs_retry");
		const path = hookPath("retry");
		await failNext(path, 2, 503);
		const sub = await subscribe("rs_retry", { kind: "daily", channel: "webhook", url: `${RECEIVER}${path}`, secret: SECRET });
		await activeSinceEpoch(sub.id);
		expect(mine(await scheduleReports(env, T("2026-11-20T07:00:00Z")), sub.id)).toEqual([`${sub.id}:2026-11-19`]);
		const [s] = await settled("rs_retry", sub.id, 1);
		expect(s).toMatchObject({ period: "2026-11-19", status: "sent", attempts: 3, last_status: 200, last_error: null });
		const got = await received(path);
		expect(got.map((g) => g.status)).toEqual([503, 503, 200]);
		expect(new Set(got.map((g) => g.headers["x-b2g-delivery"]))).toEqual(new Set([`${sub.id}:2026-11-19`]));
		// A redelivered message for a sent period sends nothing.
		expect(await attemptReportSend(env, sub.id, "2026-11-19", Date.now())).toBeNull();
		expect(await received(path)).toHaveLength(3);
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_retry`);
	});

	it("a failed attempt shows in /sends as failed with its error; after the last attempt it is dead", async () => {
		await addSite("rs_dead");
		const path = hookPath("dead");
		await failNext(path, 1000, 500);
		const sub = await subscribe("rs_dead", { kind: "daily", channel: "webhook", url: `${RECEIVER}${path}`, secret: SECRET });
		// One attempt by hand (a claimed row, no queue message): failed, retry due at once (RETRY_BASE_SECONDS is 0 in tests).
		await env.DB.prepare("INSERT INTO report_sends (subscription_id, period, site, due_at, status, claimed_at, updated_at) VALUES (?1, '2026-11-01', 'rs_dead', 0, 'pending', ?2, ?2)")
			.bind(sub.id, Date.now())
			.run();
		expect(await attemptReportSend(env, sub.id, "2026-11-01", Date.now())).toBe(0);
		expect(await sends("rs_dead", sub.id)).toEqual([
			expect.objectContaining({ period: "2026-11-01", status: "failed", attempts: 1, last_status: 500, last_error: "HTTP 500: failing on purpose (500)", sent_at: null }),
		]);
		expect((await call<Sub>("GET", `/api/v1/reports/subscriptions/${sub.id}?site=rs_dead`)).last_send).toMatchObject({ period: "2026-11-01", status: "failed" });

		// Through the cron and the queue: every attempt fails, the send ends dead with the last error.
		await activeSinceEpoch(sub.id);
		expect(mine(await scheduleReports(env, T("2026-11-20T07:00:00Z")), sub.id)).toEqual([`${sub.id}:2026-11-19`]);
		const max = Number(env.ALERT_DELIVERY_MAX_ATTEMPTS);
		const dead = await waitFor(async () => (await sends("rs_dead", sub.id)).find((s) => s.period === "2026-11-19" && s.status === "dead"), 60_000);
		expect(dead).toMatchObject({ attempts: max, last_status: 500, last_error: "HTTP 500: failing on purpose (500)", sent_at: null });
		expect((await call<{ sends: Send[] }>("GET", `/api/v1/reports/subscriptions/${sub.id}/sends?site=rs_dead&status=dead`)).sends.map((s) => s.period)).toEqual(["2026-11-19"]);
		// Dead stays dead.
		expect(await attemptReportSend(env, sub.id, "2026-11-19", Date.now())).toBeNull();
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_dead`);
	});

	it("Slack: a summary and a link to the archived report, which opens as HTML", async () => {
		await addSite("rs_slack");
		const path = hookPath("slack");
		const sub = await subscribe("rs_slack", { kind: "daily", channel: "slack", url: `${RECEIVER}${path}` });
		await activeSinceEpoch(sub.id);
		await scheduleReports(env, T("2026-11-20T07:00:00Z"));
		const [s] = await settled("rs_slack", sub.id, 1);
		expect(s).toMatchObject({ status: "sent", period: "2026-11-19" });
		const [m] = await received(path);
		const msg = JSON.parse(m?.body ?? "{}") as { text: string; blocks: { type: string; text?: { text: string } }[] };
		expect(msg.text).toContain("2026-11-19");
		expect(msg.blocks[0]?.type).toBe("header");
		const link = msg.blocks.map((b) => b.text?.text ?? "").find((t) => t.includes("Open the full report")) ?? "";
		const url = /<([^|>]+)\|/.exec(link)?.[1] ?? "";
		expect(url).toBe(`http://localhost:8787/api/v1/reports/archive?site=rs_slack&key=${encodeURIComponent(s?.report_key ?? "")}&format=html`);
		const page = await api("GET", url.replace("http://localhost:8787", ""));
		expect(page.status).toBe(200);
		expect(page.headers.get("Content-Type")).toContain("text/html");
		expect(await page.text()).toContain("2026-11-19");
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_slack`);
	});

	it("email: every recipient once through the send_email binding", async () => {
		await addSite("rs_email");
		const sub = await subscribe("rs_email", { kind: "daily", channel: "email", recipients: ["ceo@example.com", "cfo@example.com"] });
		await activeSinceEpoch(sub.id);
		await scheduleReports(env, T("2026-11-20T07:00:00Z"));
		const [s] = await settled("rs_email", sub.id, 1);
		expect(s).toMatchObject({ status: "sent", attempts: 1, delivered_to: ["ceo@example.com", "cfo@example.com"] });
		await call("DELETE", `/api/v1/reports/subscriptions/${sub.id}?site=rs_email`);
	});

	it("a disabled subscription's claimed period is cancelled, not sent", async () => {
		await addSite("rs_off");
		const path = hookPath("off");
		const sub = await subscribe("rs_off", { kind: "daily", channel: "webhook", url: `${RECEIVER}${path}`, secret: SECRET, enabled: false });
		await env.DB.prepare("INSERT INTO report_sends (subscription_id, period, site, due_at, status, claimed_at, updated_at) VALUES (?1, '2026-11-01', 'rs_off', 0, 'pending', ?2, ?2)")
			.bind(sub.id, Date.now())
			.run();
		expect(await attemptReportSend(env, sub.id, "2026-11-01", Date.now())).toBeNull();
		expect(await sends("rs_off", sub.id)).toEqual([expect.objectContaining({ status: "cancelled", last_error: "the subscription was disabled before this period was sent" })]);
		expect(await received(path)).toEqual([]);
	});
});

describe("the report email's MIME", () => {
	it("is multipart/mixed: the text and HTML as alternatives, then one CSV attachment per table, each base64", () => {
		const raw = emailMime({
			from: "reports@brain2gain.example",
			to: "ceo@example.com",
			subject: "Daily report · 2026-11-19",
			text: "Revenue: 100.00 EUR\n",
			html: "<h1>Daily report – 2026-11-19</h1>",
			attachments: [{ filename: "daily-2026-11-19-kpis.csv", contentType: "text/csv; charset=utf-8", content: "kpi,value\nrevenue,100\n" }],
			fromName: "Brain2Gain Reports",
			id: "rs_0123456789ab:2026-11-19:r0",
			date: new Date(T("2026-11-20T07:00:00Z")),
		});
		const [head = "", ...rest] = raw.split("\r\n\r\n");
		expect(head).toContain("From: Brain2Gain Reports <reports@brain2gain.example>");
		expect(head).toContain("Date: Fri, 20 Nov 2026 07:00:00 +0000");
		const mixed = /Content-Type: multipart\/mixed; boundary="([^"]+)"/.exec(head)?.[1] ?? "";
		expect(mixed).toMatch(/^=_b2g_mixed_/);
		const body = rest.join("\r\n\r\n");
		const parts = body.split(`--${mixed}`);
		// Preamble (empty), the alternative, the attachment, and the closing "--".
		expect(parts).toHaveLength(4);
		expect(parts[3]?.startsWith("--")).toBe(true);
		const alt = /boundary="([^"]+)"/.exec(parts[1] ?? "")?.[1] ?? "";
		const altParts = (parts[1] ?? "").split(`--${alt}`).slice(1, 3);
		const decode = (p: string) => new TextDecoder().decode(Uint8Array.from(atob((p.split("\r\n\r\n")[1] ?? "").replace(/\r\n/g, "")), (c) => c.charCodeAt(0)));
		expect(altParts[0]).toContain("Content-Type: text/plain; charset=utf-8");
		expect(decode(altParts[0] ?? "")).toBe("Revenue: 100.00 EUR\n");
		expect(altParts[1]).toContain("Content-Type: text/html; charset=utf-8");
		expect(decode(altParts[1] ?? "")).toBe("<h1>Daily report – 2026-11-19</h1>");
		expect(parts[2]).toContain('Content-Disposition: attachment; filename="daily-2026-11-19-kpis.csv"');
		expect(decode(parts[2] ?? "")).toBe("kpi,value\nrevenue,100\n");
	});
});
