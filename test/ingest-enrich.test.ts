/** What the server adds to an accepted event, bot handling, and cookieless visitor identity. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, MOBILE_UA, pageView, postEvents, purchase, waitFor } from "./helpers";

async function row(id: unknown): Promise<Record<string, unknown>> {
	return waitFor(() => env.DB.prepare("SELECT * FROM events WHERE site = 'demo' AND id = ?").bind(String(id)).first<Record<string, unknown>>().then((r) => r ?? undefined));
}

const today = () => new Date().toISOString().slice(0, 10);

describe("enrichment", () => {
	it("adds receive time, visitor hash, device, source, UTM and commerce columns, and never stores the IP", async () => {
		const e = purchase({ url: "https://shop.example/checkout/done?utm_source=newsletter&utm_medium=email&utm_campaign=black-friday", referrer: "", customer_id: "cust-7" });
		const before = Date.now();
		expect((await postEvents({ site: "demo", events: [e] }, { "User-Agent": MOBILE_UA, "CF-Connecting-IP": "198.51.100.23" })).status).toBe(202);
		const r = await row(e.id);
		expect(r).toMatchObject({
			name: "purchase", host: "shop.example", path: "/checkout/done", channel: "email", ref_source: "newsletter",
			utm_source: "newsletter", utm_medium: "email", utm_campaign: "black-friday", device: "mobile", browser: "Safari", os: "iOS",
			customer_id: "cust-7", value_minor: 5990, currency: "EUR", order_id: (e.props as { order_id: string }).order_id,
		});
		expect(r.received_at as number).toBeGreaterThanOrEqual(before);
		expect(r.visitor).toMatch(/^[0-9a-f]{32}$/);
		expect(JSON.stringify(r)).not.toContain("198.51.100.23");
		expect(JSON.parse(String(r.props))).toEqual(e.props);
	});

	it("gives one browser one visitor id per day, and another IP or UA another", async () => {
		const a = pageView();
		const b = pageView();
		const c = pageView();
		await postEvents({ site: "demo", events: [a] }, { "CF-Connecting-IP": "192.0.2.1" });
		await postEvents({ site: "demo", events: [b] }, { "CF-Connecting-IP": "192.0.2.1" });
		await postEvents({ site: "demo", events: [c] }, { "CF-Connecting-IP": "192.0.2.2" });
		const [ra, rb, rc] = [await row(a.id), await row(b.id), await row(c.id)];
		expect(ra.visitor).toBe(rb.visitor);
		expect(rc.visitor).not.toBe(ra.visitor);
	});

	it("uses a server-side sender's visitor_id instead of the hash", async () => {
		const e = pageView({ visitor_id: "backend-visitor-0001" });
		// A backend's UA is a bot UA: only an ingest key makes its events trusted (test/limits.test.ts).
		await postEvents({ site: "demo", events: [e] }, { "User-Agent": "node-fetch/3.0 (+backend)", Authorization: `Bearer ${ADMIN_KEY}` });
		expect((await row(e.id)).visitor).toBe("backend-visitor-0001");
	});

	it("converts values to minor units of the event currency, defaulting to the site currency", async () => {
		const jpy = purchase({ props: { order_id: "o-jp", value: 1500, currency: "JPY", items: [{ sku: "BAR", qty: 3, price: 500 }] } });
		const view = pageView({ name: "product_view", props: { sku: "CREA-300", price: 19.9 } });
		const cart = pageView({ name: "add_to_cart", props: { sku: "BAR-12", qty: 3, price: 2.5, currency: "EUR" } });
		await postEvents({ site: "demo", events: [jpy, view, cart] });
		expect(await row(cart.id)).toMatchObject({ value_minor: 750, currency: "EUR" });
		expect(await row(jpy.id)).toMatchObject({ value_minor: 1500, currency: "JPY" });
		expect(await row(view.id)).toMatchObject({ value_minor: 1990, currency: "EUR", sku: "CREA-300" });
	});
});

describe("bots", () => {
	it("counts crawler traffic separately and stores none of it", async () => {
		const live = env.LIVE.get(env.LIVE.idFromName("demo"));
		const before = await live.ledger(today());
		const e = pageView();
		const res = await postEvents({ site: "demo", events: [e, pageView()] }, { "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" });
		expect(res.status).toBe(202);
		expect(await res.json()).toEqual({ accepted: 0, bots: 2 });
		const after = await live.ledger(today());
		expect(after.bot - before.bot).toBe(2);
		expect(after.accepted).toBe(before.accepted);
		await new Promise((r) => setTimeout(r, 300));
		expect(await env.DB.prepare("SELECT id FROM events WHERE id = ?").bind(String(e.id)).first()).toBeNull();
	});

	it("treats the tracker's webdriver flag and headless Chrome as bots", async () => {
		expect(await (await postEvents({ site: "demo", events: [pageView()], b: 1 })).json()).toMatchObject({ accepted: 0, bots: 1 });
		// The flag wins even over a visitor_id and an ingest key (which exempts server-side senders from the UA check).
		expect(await (await postEvents({ site: "demo", events: [pageView({ visitor_id: "v-automation-1" })], b: 1 }, { Authorization: `Bearer ${ADMIN_KEY}` })).json()).toMatchObject({ accepted: 0, bots: 1 });
		const headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
		expect(await (await postEvents({ site: "demo", events: [pageView()] }, { "User-Agent": headless })).json()).toMatchObject({ accepted: 0, bots: 1 });
	});

	it("reports resent events as duplicates", async () => {
		const events = [pageView(), pageView()];
		expect(await (await postEvents({ site: "demo", events })).json()).toEqual({ accepted: 2, duplicates: 0, bots: 0 });
		// Once stored: before that, a resend is accepted again and re-queued (the outbox, issue 14 finding 3).
		await Promise.all(events.map((e) => row(e.id)));
		await waitFor(async () => (await env.LIVE.get(env.LIVE.idFromName("demo")).outboxStatus()).depth === 0);
		expect(await (await postEvents({ site: "demo", events: [...events, pageView()] })).json()).toEqual({ accepted: 1, duplicates: 2, bots: 0 });
	});
});
