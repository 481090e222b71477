/**
 * Property-based tests of POST /e: batches of 1–5 events, each valid or with one mutated field (wrong
 * type, too long, nested 5,000 deep, 1e300, control characters, formulas, unknown fields, timestamps
 * outside the 7-days-back / 1-day-ahead window), mutated batch fields, and raw bodies (invalid UTF-8,
 * wrong media types, over 1 MB). Properties: never a 5xx; a refused batch is JSON naming each bad event's
 * field (`events[3].ts`) and none of its events is ever stored; an accepted batch answers accepted = its
 * events, and each is stored in D1 as sent.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, it } from "vitest";
import { BROWSER_UA, waitFor } from "./helpers";
import { anyValue, answer, configureProperties, expectNamed, namedFields, Raw, textArb, toJson } from "./property-lib";

configureProperties("property-ingest", 60, 10_000);

const DAY = 86_400_000;
const COMMERCE = ["purchase", "refund", "product_view", "add_to_cart", "remove_from_cart", "begin_checkout", "checkout_step", "search"];
let ip = 0;

function post(body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
	// A fresh client address per request, so per-IP ingest limits never decide the answer here.
	ip = (ip + 1) % 250;
	return exports.default.fetch("https://b2g.test/e", {
		method: "POST",
		headers: { "Content-Type": "application/json", "User-Agent": BROWSER_UA, "CF-Connecting-IP": `198.51.100.${ip + 1}`, ...headers },
		body,
	});
}

let seq = 0;
const scalar = fc.oneof(textArb(1024), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const propKey = fc.stringMatching(/^[a-z_]{1,20}$/).filter((k) => !["__proto__", "constructor"].includes(k));

/** A valid event: a page view or custom event with flat scalar props, or a purchase with its documented props. */
const validEvent = fc.oneof(
	fc.record({
		name: fc.oneof(fc.constant("page_view"), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:-]{0,20}$/).filter((n) => !COMMERCE.includes(n))),
		ts: fc.integer({ min: -6 * DAY, max: DAY / 2 }),
		path: fc.stringMatching(/^[a-z0-9/-]{0,30}$/),
		props: fc.dictionary(propKey, scalar, { maxKeys: 8 }),
		customer_id: fc.option(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { nil: undefined }),
		referrer: fc.option(fc.constantFrom("", "https://www.google.com/", null), { nil: undefined }),
	}),
	fc.record({
		name: fc.constant("purchase"),
		ts: fc.integer({ min: -6 * DAY, max: DAY / 2 }),
		path: fc.constant("thanks"),
		props: fc.record({
			order_id: fc.stringMatching(/^[A-Za-z0-9-]{1,30}$/),
			value: fc.integer({ min: 0, max: 100_000_000 }).map((c) => c / 100),
			currency: fc.constantFrom("EUR", "USD", "GBP"),
			items: fc.array(fc.record({ sku: fc.stringMatching(/^[A-Z0-9-]{1,20}$/), qty: fc.integer({ min: 1, max: 100_000 }), price: fc.integer({ min: 0, max: 10_000_000 }).map((c) => c / 100) }), { minLength: 1, maxLength: 4 }),
		}),
		customer_id: fc.constant(undefined),
		referrer: fc.constant(undefined),
	}),
).map((e) => {
	const out: Record<string, unknown> = { id: `pe-${++seq}-${crypto.randomUUID().slice(0, 8)}`, name: e.name, ts: Date.now() + e.ts, url: `https://shop.example/${e.path}`, props: e.props };
	if (e.customer_id !== undefined) out.customer_id = e.customer_id;
	if (e.referrer !== undefined) out.referrer = e.referrer;
	return out;
});

type EventMutation = { kind: "none" } | { kind: "set"; field: string; value: unknown } | { kind: "drop"; field: string } | { kind: "extra"; name: string } | { kind: "ts"; offset: number } | { kind: "prop"; value: unknown };

const eventMutation: fc.Arbitrary<EventMutation> = fc.oneof(
	{ weight: 8, arbitrary: fc.constant<EventMutation>({ kind: "none" }) },
	{ weight: 5, arbitrary: fc.record({ kind: fc.constant("set" as const), field: fc.constantFrom("id", "name", "ts", "url", "referrer", "props", "customer_id"), value: anyValue }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), field: fc.constantFrom("id", "name", "ts", "url") }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("extra" as const), name: fc.constantFrom("site", "visitor", "value", "x".repeat(100), "constructor") }) },
	// Outside the window by at least a minute either way, so the clock moving during the request cannot decide it.
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("ts" as const), offset: fc.oneof(fc.integer({ min: 7 * DAY + 60_000, max: 400 * DAY }).map((d) => -d), fc.integer({ min: DAY + 60_000, max: 400 * DAY })) }) },
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant("prop" as const), value: anyValue }) },
);

/** Whether the documented wire format refuses an event with this mutation (undefined: not decided here). */
function refuses(event: Record<string, unknown>, m: EventMutation): { refused: boolean | undefined; field: string } {
	switch (m.kind) {
		case "none":
			return { refused: false, field: "" };
		case "drop":
			return { refused: true, field: m.field };
		case "extra":
			return { refused: true, field: m.name };
		case "ts":
			return { refused: true, field: "ts" };
		case "prop": {
			// A value in a page view's flat props: a scalar (string ≤ 1,024, finite number, boolean, null) passes.
			const v = m.value instanceof Raw ? JSON.parse(m.value.json) : m.value;
			if (event.name === "purchase") return { refused: undefined, field: "props" };
			const ok = v === null || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && v.length <= 1024);
			const lone = typeof v === "string" && /[\ud800-\udfff]/.test(v);
			return { refused: lone ? undefined : !ok, field: "props" };
		}
		case "set": {
			const v = m.value instanceof Raw ? JSON.parse(m.value.json) : m.value;
			const str = typeof v === "string";
			switch (m.field) {
				case "id":
					return { refused: !(str && v.length >= 1 && v.length <= 64 && /^[A-Za-z0-9._:-]+$/.test(v)), field: "id" };
				case "name":
					return { refused: str && /^[A-Za-z][A-Za-z0-9_.:-]*$/.test(v) && v.length <= 64 ? undefined : true, field: "name" };
				case "ts":
					return { refused: typeof v === "number" && Number.isInteger(v) && Math.abs(v - Date.now()) < DAY / 2 ? undefined : true, field: "ts" };
				case "url":
					return { refused: str && /^https?:\/\//.test(v) ? undefined : true, field: "url" };
				case "referrer":
					return { refused: v === null || (str && v.length <= 2048) ? (str && /[\ud800-\udfff]/.test(v) ? undefined : false) : true, field: "referrer" };
				case "customer_id":
					return { refused: str && v.length >= 1 && v.length <= 128 ? (/[\ud800-\udfff]/.test(v) ? undefined : false) : true, field: "customer_id" };
				default:
					// props replaced whole: an object of scalars may pass, anything else is refused.
					return { refused: typeof v === "object" && v !== null && !Array.isArray(v) ? undefined : true, field: "props" };
			}
		}
	}
}

function mutate(event: Record<string, unknown>, m: EventMutation): Record<string, unknown> {
	switch (m.kind) {
		case "none":
			return event;
		case "set":
			return { ...event, [m.field]: m.value };
		case "drop": {
			const { [m.field]: _gone, ...rest } = event;
			return rest;
		}
		case "extra":
			return Object.defineProperty({ ...event }, m.name, { value: 1, enumerable: true, configurable: true, writable: true });
		case "ts":
			return { ...event, ts: Date.now() + m.offset };
		case "prop":
			return { ...event, props: { ...(event.props as object), odd: m.value } };
	}
}

/** Ids of accepted events with what they were sent as, and ids of refused batches: checked against D1 at the end. */
const accepted = new Map<string, Record<string, unknown>>();
const refusedIds = new Set<string>();

describe("POST /e: property-based", () => {
	it("batches: a refusal names every bad event's field and stores nothing; an acceptance counts every event", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.tuple(validEvent, eventMutation), { minLength: 1, maxLength: 5 }), async (pairs) => {
				const events = pairs.map(([e, m]) => mutate(e, m));
				const verdicts = pairs.map(([e, m]) => refuses(e, m));
				const body = toJson({ site: "demo", events });
				const a = await answer(await post(body), `POST /e ${body.slice(0, 300)}`);
				const bad = verdicts.map((v, i) => ({ ...v, i })).filter((v) => v.refused !== false);
				if (a.status === 202) {
					const sure = bad.filter((v) => v.refused === true);
					if (sure.length) throw new Error(`accepted a batch the wire format refuses (events[${sure[0]?.i}].${sure[0]?.field}): ${body.slice(0, 300)}`);
					if (a.body.accepted !== events.length || a.body.bots !== 0) throw new Error(`accepted ${JSON.stringify(a.body)} for ${events.length} fresh events`);
					// Events whose verdict was open are not compared (their stored form is not modelled).
					for (const [i, e] of events.entries()) if (verdicts[i]?.refused === false) accepted.set(String(e.id), e);
					return;
				}
				if (a.status !== 400) throw new Error(`unexpected ${a.status}: ${a.text.slice(0, 300)}`);
				if (!bad.length) throw new Error(`refused a valid batch: ${a.text.slice(0, 300)} ← ${body.slice(0, 300)}`);
				for (const v of bad) if (v.refused === true && !(v.field === "props" && events[v.i]?.name === "purchase")) {
					// A number JSON cannot carry is refused while parsing, naming only the first such value.
					if (!/number out of range|not Unicode/.test(a.text)) expectNamed(a, `events[${v.i}].${v.field}`, `refused ${v.field}`);
				}
				for (const named of namedFields(a.body)) {
					if (!bad.some((v) => named.startsWith(`events[${v.i}]`))) throw new Error(`blamed ${named}, a valid event's: ${a.text.slice(0, 300)}`);
				}
				for (const e of events) if (typeof e.id === "string") refusedIds.add(e.id);
			}),
		);
	});

	it("batch fields: the site, the bot flag and the event list are checked and named", async () => {
		const batchMutation = fc.oneof(
			fc.record({ field: fc.constant("site"), value: anyValue }),
			fc.record({ field: fc.constant("b"), value: anyValue.filter((v) => v !== 1) }),
			fc.record({ field: fc.constant("events"), value: fc.oneof(anyValue.filter((v) => !Array.isArray(v)), fc.constant([])) }),
			fc.record({ field: fc.constantFrom("extra", "Site"), value: anyValue }),
		);
		await fc.assert(
			fc.asyncProperty(validEvent, batchMutation, async (event, m) => {
				const body = toJson({ site: "demo", events: [event], [m.field]: m.value });
				const a = await answer(await post(body), `${m.field}=${String(m.value).slice(0, 40)}`);
				const v = m.value instanceof Raw ? JSON.parse(m.value.json) : m.value;
				if (m.field === "site" && typeof v === "string" && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(v)) {
					// A well-formed id: the demo site, an existing one, or 404 naming site.
					if (a.status === 404) expectNamed(a, "site", "unknown site");
					else if (a.status >= 400 && a.status !== 403) throw new Error(`site ${v}: ${a.status} ${a.text.slice(0, 200)}`);
				} else if (m.field === "b" && v === undefined) {
					return;
				} else {
					if (a.status < 400) throw new Error(`accepted ${m.field}=${String(m.value).slice(0, 60)}`);
					expectNamed(a, m.field, `batch field ${m.field}`);
				}
				if (a.status >= 400 && typeof event.id === "string") refusedIds.add(event.id);
				else accepted.set(String(event.id), event);
			}),
			{ numRuns: 40 },
		);
	});

	it("raw bodies: invalid UTF-8, not JSON, other media types, over 1 MB or 1,000 events: 4xx naming body, Content-Type or events", async () => {
		const raw = fc.oneof(
			fc.record({ kind: fc.constant("bytes" as const), event: validEvent, bytes: fc.constantFrom([0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]), at: fc.nat() }),
			fc.record({ kind: fc.constant("text" as const), text: fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.constantFrom("{", "[]", "null", '{"site":"demo"}{}', `${"[".repeat(50_000)}`)) }),
			fc.record({ kind: fc.constant("type" as const), type: fc.constantFrom("text/csv", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "image/png") }),
			fc.record({ kind: fc.constant("size" as const), events: fc.constantFrom(1001, 5000) }),
			fc.constant({ kind: "huge" as const }),
		);
		await fc.assert(
			fc.asyncProperty(raw, async (r) => {
				let res: Response;
				let field: string | null;
				if (r.kind === "bytes") {
					const text = new TextEncoder().encode(JSON.stringify({ site: "demo", events: [r.event] }));
					const at = 1 + (r.at % (text.length - 1));
					res = await post(new Uint8Array([...text.slice(0, at), ...r.bytes, ...text.slice(at)]));
					field = "body";
					refusedIds.add(String(r.event.id));
				} else if (r.kind === "text") {
					let json = true;
					try {
						JSON.parse(r.text);
					} catch {
						json = false;
					}
					res = await post(r.text);
					field = json ? null : "body";
				} else if (r.kind === "type") {
					res = await post(JSON.stringify({ site: "demo", events: [] }), { "Content-Type": r.type });
					field = "Content-Type";
				} else if (r.kind === "size") {
					res = await post(JSON.stringify({ site: "demo", events: Array.from({ length: r.events }, () => ({ id: "x" })) }));
					field = "events";
				} else {
					res = await post(`{"site":"demo","events":[${'"x",'.repeat(260_000)}"x"]}`);
					field = "body";
				}
				const a = await answer(res, r.kind);
				if (a.status < 400) throw new Error(`accepted a ${r.kind} body`);
				if (field) expectNamed(a, field, r.kind);
			}),
			{ numRuns: 40 },
		);
	});

	it("every event answered 202 is stored in D1 as sent; no event of a refused batch is stored", async () => {
		const ids = [...accepted.keys()];
		if (!ids.length) throw new Error("no batch was accepted: the generators are off");
		const stored = new Map<string, Record<string, unknown>>();
		await waitFor(
			async () => {
				for (let i = 0; i < ids.length; i += 90) {
					const chunk = ids.slice(i, i + 90).filter((id) => !stored.has(id));
					if (!chunk.length) continue;
					const rows = await env.DB.prepare(`SELECT id, name, ts, url, customer_id, referrer, props FROM events WHERE site = 'demo' AND id IN (${chunk.map(() => "?").join(",")})`)
						.bind(...chunk)
						.all<Record<string, unknown>>();
					for (const row of rows.results) stored.set(String(row.id), row);
				}
				return stored.size === ids.length;
			},
			30_000,
			200,
		);
		for (const [id, sent] of accepted) {
			const row = stored.get(id) as Record<string, unknown>;
			const got = { name: row.name, ts: row.ts, url: row.url, customer_id: row.customer_id, referrer: row.referrer, props: JSON.parse(String(row.props)) };
			const want = { name: sent.name, ts: sent.ts, url: sent.url, customer_id: sent.customer_id ?? null, referrer: sent.referrer || null, props: sent.props ?? {} };
			if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`event ${id} stored as ${JSON.stringify(got)}, sent as ${JSON.stringify(want)}`);
		}
		const leaked = [...refusedIds].filter((id) => !accepted.has(id));
		for (let i = 0; i < leaked.length; i += 90) {
			const chunk = leaked.slice(i, i + 90);
			const n = await env.DB.prepare(`SELECT COUNT(*) AS n FROM events WHERE site = 'demo' AND id IN (${chunk.map(() => "?").join(",")})`).bind(...chunk).first<{ n: number }>();
			if (n?.n) throw new Error(`${n.n} event(s) of refused batches were stored`);
		}
		console.log(`property-ingest: ${accepted.size} accepted events stored as sent; ${leaked.length} refused ids absent`);
	});
});
