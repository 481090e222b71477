/**
 * Property-based tests of the signed order webhook (POST /hooks/orders): bodies of orders valid or
 * mutated once (the same generators as the upserts, test/property-lib.ts), every header mutated, and
 * replays in every spelling of the signature. Properties: never a 5xx; a refusal is JSON naming the bad
 * field or header and writes nothing (not even the delivery record, so the sender's fixed retry is
 * accepted); an acceptance stores the orders as the rules say; a delivery is accepted once, whatever the
 * spelling of its signature, and a replay changes nothing.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, it } from "vitest";
import { signWebhook } from "../workers/commerce/webhooks";
import { api } from "./helpers";
import { answer, applyMutation, commerceCounts, configureProperties, expectNamed, expectStored, hostile, judgeRecord, MODEL, mutationArb, namedFields, toJson, validRecord, type EntityModel } from "./property-lib";

configureProperties("property-webhooks", 40, 8_000);

const orders = MODEL.orders as EntityModel;
let secret = "";

beforeAll(async () => {
	const res = await api("POST", "/api/v1/webhooks/secret?site=demo");
	if (res.status !== 201) throw new Error(`no webhook secret: ${res.status}`);
	secret = ((await res.json()) as { secret: string }).secret;
});

const nowS = () => Math.floor(Date.now() / 1000);

function deliver(body: string | Uint8Array, headers: Record<string, string | undefined>): Promise<Response> {
	const h: Record<string, string> = { "Content-Type": "application/json" };
	for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v;
	return exports.default.fetch("https://b2g.test/hooks/orders", { method: "POST", headers: h, body });
}

async function signed(body: string, ts = nowS()): Promise<Record<string, string>> {
	return { "X-B2G-Site": "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": await signWebhook(secret, ts, body) };
}

const orderRow = (id: string) => env.DB.prepare("SELECT * FROM orders WHERE site = 'demo' AND order_id = ?").bind(id).first();

describe("POST /hooks/orders: property-based", () => {
	it("bodies: a refusal names the bad fields and writes nothing (no delivery record either); an acceptance stores the orders", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.tuple(validRecord(orders), mutationArb(orders)), { minLength: 1, maxLength: 3 }), fc.boolean(), async (records, asArray) => {
				const single = records.length === 1 && !asArray;
				const planned = records.map(([r, m], i) => {
					const sent = applyMutation(r, m);
					return { sent, verdict: judgeRecord(orders, sent), prefix: single ? "" : `[${i}]` };
				});
				const body = toJson(single ? planned[0]?.sent : planned.map((p) => p.sent));
				const before = await commerceCounts();
				const a = await answer(await deliver(body, await signed(body)), `webhook ${body.slice(0, 300)}`);
				const refused = planned.flatMap((p) => (p.verdict.notObject ? [p.prefix || "body"] : p.verdict.refused.map((f) => `${p.prefix}${p.prefix ? "." : ""}${f}`)));
				const open = planned.some((p) => p.verdict.unknown.length);
				if (a.status === 200) {
					if (refused.length) throw new Error(`accepted what the rules refuse (${refused.join(", ")}): ${body.slice(0, 300)}`);
					const seen = new Set<string>();
					for (const p of [...planned].reverse()) {
						if (p.verdict.unknown.length || seen.has(String(p.verdict.stored.order_id))) continue;
						seen.add(String(p.verdict.stored.order_id));
						await expectStored(orders, p.verdict.stored, `webhook ${p.prefix} read back`);
					}
					return;
				}
				if (a.status !== 400) throw new Error(`unexpected ${a.status}: ${a.text.slice(0, 300)}`);
				if (!refused.length && !open) throw new Error(`refused a valid delivery: ${a.text.slice(0, 300)} ← ${body.slice(0, 300)}`);
				// One bad field: it is named. Several: at least one is (a number JSON cannot carry, or a string that is
				// not Unicode, is refused while parsing, before the records are validated).
				if (refused.length === 1 && !open) expectNamed(a, refused[0] as string, "refused field");
				else if (!open && !refused.some((f) => namedFields(a.body).some((n) => n === f || n.startsWith(`${f}.`) || n.startsWith(`${f}[`)))) {
					throw new Error(`named none of ${JSON.stringify(refused)}: ${a.text.slice(0, 300)}`);
				}
				const blamable = [...refused, ...planned.flatMap((p) => p.verdict.unknown.map((f) => `${p.prefix}${p.prefix ? "." : ""}${f}`))];
				for (const named of namedFields(a.body)) {
					if (!blamable.some((b) => named === b || named.startsWith(`${b}.`) || named.startsWith(`${b}[`))) throw new Error(`blamed ${named}: ${a.text.slice(0, 300)}`);
				}
				const after = await commerceCounts();
				if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`a refused delivery wrote rows: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
			}),
		);
	});

	/** Text a client can put in a header (fetch trims it and refuses control characters). */
	const headerText = (max: number) => fc.string({ maxLength: max }).filter((v) => /^[\x20-\x7e]*$/.test(v) && v.trim() === v && v !== "demo");
	type HeaderMutation = { header: "X-B2G-Site" | "X-B2G-Timestamp" | "X-B2G-Signature"; value: string | undefined } | { header: "body"; flip: number };
	const headerMutation: fc.Arbitrary<HeaderMutation> = fc.oneof(
		fc.record({
			header: fc.constant("X-B2G-Site" as const),
			value: fc.oneof(fc.constantFrom(undefined, "", "DEMO", "nosuchsite", "locked", "x".repeat(65), "../demo", "démo"), headerText(20)),
		}),
		fc.record({
			header: fc.constant("X-B2G-Timestamp" as const),
			value: fc.oneof(
				fc.constantFrom(undefined, "", "-1", "0", "1e9", "1.5", " 1", "0x10", "9".repeat(400), "NaN", "17000000000000"),
				fc.integer({ min: 301, max: 10 ** 9 }).chain((d) => fc.constantFrom(String(nowS() - d), String(nowS() + d))),
			),
		}),
		fc.record({
			header: fc.constant("X-B2G-Signature" as const),
			value: fc.oneof(
				fc.constantFrom(undefined, "", "sha256=", "sha1=abc", `sha256=${"0".repeat(64)}`, `sha256=${"g".repeat(64)}`, `sha256=${"a".repeat(63)}`, `sha256=${"a".repeat(65)}`, "sha256=sha256=".padEnd(78, "a")),
				headerText(80),
			),
		}),
		fc.record({ header: fc.constant("body" as const), flip: fc.nat() }),
	);

	it("headers and tampering: 400/401 naming the header (or body), nothing written", async () => {
		await fc.assert(
			fc.asyncProperty(validRecord(orders), headerMutation, async (record, m) => {
				const body = JSON.stringify(record);
				const headers: Record<string, string | undefined> = await signed(body);
				let sent: string | Uint8Array = body;
				let field: string;
				if (m.header === "body") {
					// One byte of the signed body changed: the MAC no longer matches.
					const bytes = new TextEncoder().encode(body);
					const at = m.flip % bytes.length;
					bytes[at] = (bytes[at] ?? 0) ^ 0x01;
					sent = bytes;
					field = "X-B2G-Signature";
				} else {
					headers[m.header] = m.value;
					field = m.header;
				}
				const before = await commerceCounts();
				const a = await answer(await deliver(sent, headers), `${m.header} ${JSON.stringify(m)}`);
				if (a.status < 400) throw new Error(`accepted a delivery with ${JSON.stringify(m)}`);
				if (![400, 401].includes(a.status)) throw new Error(`unexpected ${a.status}: ${a.text.slice(0, 200)}`);
				// A flipped byte can break the UTF-8 (400 body) before the MAC is compared, or the MAC itself (401).
				if (m.header === "body" && a.status === 400) expectNamed(a, "body", "tampered body");
				else expectNamed(a, field, JSON.stringify(m));
				const after = await commerceCounts();
				if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`a refused delivery wrote rows: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
			}),
		);
	});

	it("a delivery is accepted once: a replay in any spelling of its signature is 409 naming X-B2G-Signature, and changes nothing", async () => {
		const spelling = fc.constantFrom(
			(s: string) => s,
			(s: string) => s.replace(/^sha256=/, ""),
			(s: string) => `sha256=${s.slice(7).toUpperCase()}`,
			(s: string) => s.slice(7).toUpperCase(),
			(s: string) => `sha256=${[...s.slice(7)].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join("")}`,
		);
		await fc.assert(
			fc.asyncProperty(validRecord(orders), spelling, spelling, hostile, async (record, first, replay, correction) => {
				const body = JSON.stringify(record);
				const ts = nowS();
				const sig = await signWebhook(secret, ts, body);
				const ok = await answer(await deliver(body, { "X-B2G-Site": "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": first(sig) }), "first delivery");
				if (ok.status !== 200) throw new Error(`a valid delivery was refused: ${ok.text.slice(0, 300)}`);
				// A later correction of the same order (its channel), then the captured delivery again.
				const corrected = JSON.stringify({ ...record, channel: typeof correction === "string" && correction.trim().length <= 64 && correction.trim() ? correction : "corrected" });
				await answer(await deliver(corrected, await signed(corrected)), "correction");
				const rowBefore = await orderRow(String(judgeRecord(orders, record).stored.order_id));
				const before = await commerceCounts();
				const again = await answer(await deliver(body, { "X-B2G-Site": "demo", "X-B2G-Timestamp": String(ts), "X-B2G-Signature": replay(sig) }), "replay");
				if (again.status !== 409) throw new Error(`a replay answered ${again.status}: ${again.text.slice(0, 200)}`);
				expectNamed(again, "X-B2G-Signature", "replay");
				const rowAfter = await orderRow(String(judgeRecord(orders, record).stored.order_id));
				if (JSON.stringify(rowAfter) !== JSON.stringify(rowBefore)) throw new Error(`a replay changed the order: ${JSON.stringify(rowBefore)} → ${JSON.stringify(rowAfter)}`);
				if (JSON.stringify(await commerceCounts()) !== JSON.stringify(before)) throw new Error("a replay wrote rows");
			}),
			{ numRuns: 25 },
		);
	});

	it("every signed endpoint in the document (/hooks/*): forged or unsigned deliveries are 4xx naming a header or the body, and write nothing", async () => {
		// Read from the OpenAPI document, so a new signed endpoint (a connector) is covered without editing this test.
		const doc = (await (await exports.default.fetch("https://b2g.test/api/v1/openapi.json")).json()) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
		const hooks = Object.entries(doc.paths).flatMap(([path, ops]) => (path.startsWith("/hooks/") && ops.post ? [{ path, headers: (ops.post.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name) }] : []));
		if (!hooks.some((h) => h.path === "/hooks/orders")) throw new Error("the document lists no /hooks/orders");
		const forged = fc.record({
			hook: fc.constantFrom(...hooks),
			body: fc.oneof(validRecord(orders).map((r) => JSON.stringify(r)), fc.string({ unit: "binary", maxLength: 80 }), fc.constantFrom("", "{}", "[]", "webhook_id=1")),
			values: fc.array(fc.oneof(fc.constant(undefined), headerText(90), fc.constantFrom("sha256=" + "0".repeat(64), `t=${nowS()},v1=${"0".repeat(64)}`, "A".repeat(43) + "=", "orders/create", "order.created")), { minLength: 6, maxLength: 6 }),
			site: fc.constantFrom("demo", "nosuchsite", "DEMO", ""),
		});
		await fc.assert(
			fc.asyncProperty(forged, async ({ hook, body, values, site }) => {
				const headers: Record<string, string | undefined> = { "X-B2G-Site": site };
				hook.headers.forEach((h, i) => {
					headers[h] = values[i];
				});
				const before = await commerceCounts();
				const res = await exports.default.fetch(`https://b2g.test${hook.path}?site=${site}`, {
					method: "POST",
					headers: Object.fromEntries(Object.entries({ "Content-Type": "application/json", ...headers }).filter((e): e is [string, string] => e[1] !== undefined)),
					body,
				});
				const a = await answer(res, `${hook.path} ${JSON.stringify(headers).slice(0, 200)}`);
				// Woo's creation ping (`webhook_id=…`, form-encoded) is answered 200 without a signature, and writes nothing.
				if (a.status < 400 && !(hook.path.includes("woocommerce") && body.startsWith("webhook_id="))) throw new Error(`${hook.path} accepted a forged delivery: ${a.text.slice(0, 200)}`);
				if (a.status === 401 && !namedFields(a.body).length) throw new Error(`${hook.path}: 401 naming nothing: ${a.text.slice(0, 200)}`);
				if (JSON.stringify(await commerceCounts()) !== JSON.stringify(before)) throw new Error(`${hook.path}: a forged delivery wrote rows`);
			}),
			{ numRuns: 40 },
		);
	});

	it("oversize and non-JSON bodies: 413 / 400 naming body, nothing written", async () => {
		await fc.assert(
			fc.asyncProperty(fc.oneof(fc.constant("huge"), fc.string({ unit: "binary", maxLength: 50 }), fc.constantFrom("", "{", "[]", "null", "[1,", `{"a":${"[".repeat(2000)}`)), async (kind) => {
				const body = kind === "huge" ? `[${'"x",'.repeat(260_000)}"x"]` : kind;
				let valid = true;
				try {
					JSON.parse(body);
				} catch {
					valid = false;
				}
				const before = await commerceCounts();
				const a = await answer(await deliver(body, await signed(body)), `body ${body.slice(0, 40)}`);
				if (a.status < 400) throw new Error(`accepted ${body.slice(0, 80)}`);
				if (kind === "huge") {
					if (a.status !== 413) throw new Error(`oversize answered ${a.status}`);
					expectNamed(a, "body", "oversize");
				} else if (!valid) expectNamed(a, "body", "not JSON");
				if (JSON.stringify(await commerceCounts()) !== JSON.stringify(before)) throw new Error("a refused delivery wrote rows");
			}),
			{ numRuns: 30 },
		);
	});
});
