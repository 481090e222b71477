/**
 * Property-based tests of the commerce upserts (PUT/POST /api/v1/{entity}): bodies of one record or an
 * array, each record valid or with one mutated field (wrong type, too long, nested 5,000 deep, 1e300,
 * 400 digits, negative amounts, lone surrogates, control characters, formulas, unknown fields, dates out
 * of range). Properties: never a 5xx; a refusal names every bad field (`[i].field`) and no other record's,
 * and writes nothing (row counts of every commerce table unchanged); an acceptance stores every record
 * as the documented rules say (test/property-lib.ts is the independent model).
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, it } from "vitest";
import { ADMIN_KEY } from "./helpers";
import { answer, applyMutation, commerceCounts, configureProperties, expectNamed, expectStored, judgeRecord, MODELS, mutationArb, namedFields, toJson, validRecord, type EntityModel, type Mutation } from "./property-lib";

configureProperties("property-commerce", 30, 2_500);

function put(entity: string, body: string | Uint8Array, headers: Record<string, string> = {}, method = "PUT"): Promise<Response> {
	return exports.default.fetch(`https://b2g.test/api/v1/${entity}?site=demo`, {
		method,
		headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json", ...headers },
		body,
	});
}

/** 1–4 records of an entity, each valid or mutated once, sent as one record or as an array. */
const requestArb = (model: EntityModel) =>
	fc.record({
		records: fc.array(fc.tuple(validRecord(model), mutationArb(model)), { minLength: 1, maxLength: 4 }),
		asArray: fc.boolean(),
		method: fc.constantFrom("PUT", "POST"),
	});

/** The body's records after their mutations, with each one's verdict and its path prefix in error fields. */
function plan(model: EntityModel, records: [Record<string, unknown>, Mutation][], asArray: boolean) {
	const single = !asArray && records.length === 1;
	return records.map(([record, mutation], i) => {
		const sent = applyMutation(record, mutation);
		return { sent, verdict: judgeRecord(model, sent), prefix: single ? "" : `[${i}]` };
	});
}

describe("commerce upserts: property-based", () => {
	for (const model of MODELS) {
		it(`${model.entity}: no 5xx, a refusal names the bad fields and writes nothing, an acceptance stores what the rules say`, async () => {
			await fc.assert(
				fc.asyncProperty(requestArb(model), async ({ records, asArray, method }) => {
					const planned = plan(model, records, asArray);
					const single = planned.length === 1 && !asArray;
					const body = toJson(single ? planned[0]?.sent : planned.map((p) => p.sent));
					const before = await commerceCounts();
					const a = await answer(await put(model.entity, body, {}, method), `${method} /${model.entity} ${body.slice(0, 300)}`);
					const bad = planned.filter((p) => p.verdict.notObject || p.verdict.refused.length);
					const open = planned.filter((p) => p.verdict.unknown.length);
					if (a.status === 200) {
						if (bad.length) throw new Error(`accepted a body the rules refuse (${bad.map((p) => `${p.prefix} ${p.verdict.refused.join(",") || "not an object"}`).join("; ")}): ${body.slice(0, 300)}`);
						// The last record of each key is what the table holds.
						const seen = new Set<string>();
						for (const p of [...planned].reverse()) {
							if (p.verdict.unknown.length) continue;
							const key = JSON.stringify(model.key.map((k) => p.verdict.stored[k]));
							if (seen.has(key)) continue;
							seen.add(key);
							await expectStored(model, p.verdict.stored, `${model.entity} ${p.prefix} read back`);
						}
						return;
					}
					if (a.status !== 400) throw new Error(`unexpected ${a.status}: ${a.text.slice(0, 300)}`);
					if (!bad.length && !open.length) throw new Error(`refused a valid body: ${a.text.slice(0, 300)} ← ${body.slice(0, 300)}`);
					const path = (prefix: string, field: string) => `${prefix}${prefix ? "." : ""}${field}`;
					const refused = bad.flatMap((p) => (p.verdict.notObject ? [p.prefix || "body"] : p.verdict.refused.map((field) => path(p.prefix, field))));
					// One bad field in the request: it is the one named. (With several, the record schemas' errors come
					// first and the amount checks against each currency only once the schemas pass, so some may wait.)
					if (refused.length === 1 && !open.length) expectNamed(a, refused[0] as string, "the refused field");
					else if (!open.length && !refused.some((field) => namedFields(a.body).some((n) => n === field || n.startsWith(`${field}.`) || n.startsWith(`${field}[`)))) {
						throw new Error(`named none of the refused fields ${JSON.stringify(refused)}: ${a.text.slice(0, 300)}`);
					}
					// Nothing the rules accept is blamed: each named field is a refused or undecided one (or inside one).
					const blamable = [...refused, ...open.flatMap((p) => p.verdict.unknown.map((field) => path(p.prefix, field)))];
					for (const named of namedFields(a.body)) {
						if (!blamable.some((b) => named === b || named.startsWith(`${b}.`) || named.startsWith(`${b}[`))) {
							throw new Error(`blamed ${named}, which the rules accept (refused: ${JSON.stringify(blamable)}): ${a.text.slice(0, 300)} ← ${body.slice(0, 300)}`);
						}
					}
					const after = await commerceCounts();
					if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`a refused request wrote rows: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
				}),
			);
		});
	}

	it("raw bodies: bad bytes, bad JSON, wrong media types and oversize bodies are 4xx naming body or Content-Type, and write nothing", async () => {
		const model = MODELS.find((m) => m.entity === "orders") as EntityModel;
		const rawArb = fc.oneof(
			// Invalid UTF-8 spliced into a valid body (a lone continuation byte, an overlong NUL, a UTF-16 surrogate, a truncated sequence).
			fc.record({
				kind: fc.constant("bytes" as const),
				record: validRecord(model),
				bytes: fc.constantFrom([0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]),
				at: fc.nat(),
			}),
			fc.record({ kind: fc.constant("text" as const), text: fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.constantFrom("", "{", "[", "[1,", "nul", '{"a":1}{"a":2}', "\u0000", `${"[".repeat(100_000)}`)) }),
			fc.record({ kind: fc.constant("type" as const), type: fc.constantFrom("text/plain", "text/csv", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx", "json") }),
			fc.constant({ kind: "huge" as const }),
		);
		await fc.assert(
			fc.asyncProperty(rawArb, async (raw) => {
				const before = await commerceCounts();
				let res: Response;
				let field: string;
				if (raw.kind === "bytes") {
					const text = new TextEncoder().encode(JSON.stringify(raw.record));
					const at = 1 + (raw.at % (text.length - 1));
					const body = new Uint8Array([...text.slice(0, at), ...raw.bytes, ...text.slice(at)]);
					res = await put("orders", body);
					field = "body";
				} else if (raw.kind === "text") {
					let valid = true;
					try {
						JSON.parse(raw.text);
					} catch {
						valid = false;
					}
					res = await put("orders", raw.text);
					field = valid ? "" : "body";
				} else if (raw.kind === "type") {
					res = await put("orders", "{}", raw.type ? { "Content-Type": raw.type } : { "Content-Type": "" });
					field = "Content-Type";
				} else {
					res = await put("orders", `[${'"x",'.repeat(1_300_000)}"x"]`);
					field = "body";
				}
				const a = await answer(res, `${raw.kind}`);
				if (a.status < 400) throw new Error(`accepted: ${a.text.slice(0, 200)}`);
				if (field) expectNamed(a, field, raw.kind);
				const after = await commerceCounts();
				if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error("a refused request wrote rows");
			}),
			{ numRuns: 40 },
		);
	});
});
