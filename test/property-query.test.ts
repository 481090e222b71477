/**
 * Property-based tests of every query parameter of every GET operation in the OpenAPI document
 * (GET /api/v1/openapi.json, read at run time, so a new route or parameter is covered without editing
 * this file), and of every path parameter. Each run takes a request that works and replaces one
 * parameter with an arbitrary or hostile value (wrong type, 400 digits, dates out of range, control
 * characters, formulas, enum values in the wrong case, repeated parameters). Properties: never a 5xx; a
 * 4xx is JSON `{ error, message, fields }` and, when it is about the input (400/404), names the
 * parameter that was changed.
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN_KEY } from "./helpers";
import { answer, configureProperties, HOSTILE, namedFields } from "./property-lib";

configureProperties("property-query", 12, 800);

interface Parameter {
	name: string;
	in: "query" | "path" | "header";
	required?: boolean;
	schema?: { type?: string; enum?: string[]; pattern?: string; minimum?: number; maximum?: number; maxLength?: number };
}
interface Operation {
	path: string;
	parameters: Parameter[];
}

const doc = (await (await exports.default.fetch("https://b2g.test/api/v1/openapi.json")).json()) as { paths: Record<string, Record<string, { parameters?: Parameter[] }>> };
const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, ops]) => (ops.get ? [{ path, parameters: ops.get.parameters ?? [] }] : []));

/** Values that make a request work, for the parameters a request needs (the rest are left out). */
const BASELINE_PATH: Record<string, string> = {
	job: "00000000-0000-4000-8000-000000000000", id: "revenue_drop", sku: "WHEY-1KG", name: "Champions", kind: "retention",
};
const BASELINE_PATH_BY_ROUTE: Record<string, Record<string, string>> = {
	"/api/v1/funnels/{id}/report": { id: "checkout" },
	"/api/v1/customers/{id}": { id: "c-1" },
	"/api/v1/jobs/{id}": { id: "run-1" },
	"/api/v1/models/{name}": { name: "churn" },
	"/api/v1/reports/subscriptions/{id}": { id: "rs_000000000000" },
	"/api/v1/reports/subscriptions/{id}/sends": { id: "rs_000000000000" },
};
const BASELINE_QUERY: Record<string, Record<string, string>> = {
	"/api/v1/forecast": { metric: "revenue" },
	"/api/v1/reports/archive": { key: "reports/none.json" },
	"/api/v1/reports/executive": { period: "2026-11" },
	"/api/v1/reports/product": { period: "2026-11", sku: "WHEY-1KG" },
	"/api/v1/reports/daily": { period: "2026-11-30" },
	"/api/v1/reports/financial": { period: "2026-11" },
	"/api/v1/graphql": { query: "{ __typename }" },
	"/api/v1/recommendations": { customer: "c-1" },
};

/** Parameters an error may name instead of the one changed: those checked together with it. */
const PARTNERS: Record<string, string[]> = { from: ["to", "date"], to: ["from", "date"], date: ["from", "to"], table: ["format"], format: ["table"], cursor: ["sort", "q"], period: ["sku"], sku: ["period"] };

const stringsOf = HOSTILE.filter((v): v is string => typeof v === "string");
const numbersOf = HOSTILE.filter((v): v is number => typeof v === "number").map(String);

/** An arbitrary value for one parameter, shaped by its schema some of the time. */
function valueArb(p: Parameter): fc.Arbitrary<string> {
	const s = p.schema ?? {};
	const shaped: fc.Arbitrary<string>[] = [
		fc.constantFrom(...stringsOf),
		fc.constantFrom(...numbersOf, "0", "-0", "00", "1.5", "1e3", "99999999999999999999", "9".repeat(400), "-1", " 1", "1 ", "+1", "0x1f"),
		fc.constantFrom("1970-01-01", "0000-00-00", "0001-01-01", "2026-02-29", "2024-02-29", "2099-12-31", "2100-01-01", "9999-12-31", "2026-11-20T10:00:00Z", "2026-W53", "2026-W00", "2026-Q5", "2026-13", "2026-00", "1776312000000"),
		fc.string({ maxLength: 30 }),
		fc.string({ unit: "binary", maxLength: 30 }),
	];
	if (s.enum?.length) shaped.push(fc.constantFrom(...s.enum.flatMap((e) => [e.toUpperCase(), ` ${e}`, `${e},${e}`, `${e}x`])));
	if (s.minimum !== undefined || s.maximum !== undefined) shaped.push(fc.constantFrom(String((s.minimum ?? 0) - 1), String((s.maximum ?? 0) + 1), String(s.minimum ?? 0), String(s.maximum ?? 0), `${s.maximum ?? 0}.5`));
	if (s.maxLength) shaped.push(fc.constant("x".repeat(s.maxLength + 1)));
	return fc.oneof(...shaped);
}

function urlOf(op: Operation, path: Record<string, string>, query: [string, string][]): string {
	const p = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent((path[name] ?? "").toWellFormed()));
	const qs = new URLSearchParams(query.map(([k, v]) => [k, v.toWellFormed()])).toString();
	return `https://b2g.test${p}${qs ? `?${qs}` : ""}`;
}

function baseline(op: Operation): { path: Record<string, string>; query: Record<string, string> } {
	const path: Record<string, string> = {};
	for (const p of op.parameters) if (p.in === "path") path[p.name] = BASELINE_PATH_BY_ROUTE[op.path]?.[p.name] ?? BASELINE_PATH[p.name] ?? "x";
	const query: Record<string, string> = { ...(BASELINE_QUERY[op.path] ?? {}) };
	if (op.parameters.some((p) => p.in === "query" && p.name === "site")) query.site = "demo";
	return { path, query };
}

const get = (url: string) => exports.default.fetch(url, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });

describe("GET parameters: property-based", () => {
	it("the document lists the GET operations and their parameters", () => {
		expect(operations.length).toBeGreaterThan(40);
		expect(operations.flatMap((o) => o.parameters).length).toBeGreaterThan(100);
	});

	it("every baseline request works (so each property below changes one thing only)", async () => {
		for (const op of operations) {
			if (op.path === "/login") continue;
			const { path, query } = baseline(op);
			const a = await answer(await get(urlOf(op, path, Object.entries(query))), `baseline ${op.path}`);
			// A made-up id (an import job, a customer, a subscription…) is a 404; the live socket wants an upgrade; a
			// model with no history (the forecast on an empty site) says so. Never a refusal of the request's shape.
			expect([200, 400, 404, 426], `${op.path}: ${a.status} ${a.text.slice(0, 200)}`).toContain(a.status);
			expect(a.body.error, `${op.path}: ${a.text.slice(0, 200)}`).not.toBe("invalid_request");
		}
	});

	for (const op of operations) {
		const params = op.parameters.filter((p) => p.in === "query" || p.in === "path");
		if (!params.length) continue;
		it(`GET ${op.path}: one parameter changed → no 5xx; a 400/404 names it`, async () => {
			const base = baseline(op);
			// The login link is a browser page: its refusals are HTML for people; only "never a 5xx" applies.
			if (op.path === "/login") {
				await fc.assert(
					fc.asyncProperty(valueArb(op.parameters[0] as Parameter), async (token) => {
						const res = await exports.default.fetch(urlOf(op, {}, [["token", token]]), { redirect: "manual" });
						await res.arrayBuffer();
						if (res.status >= 500) throw new Error(`GET /login?token=${token}: ${res.status}`);
					}),
				);
				return;
			}
			// GraphQL answers in its own error format (GraphQL over HTTP: `errors[].message`, the argument in
			// `extensions`); only "never a 5xx, errors are JSON with a message" applies.
			if (op.path.endsWith("/graphql")) {
				await fc.assert(
					fc.asyncProperty(fc.oneof(...params.map((p) => fc.record({ name: fc.constant(p.name), value: valueArb(p) }))), async ({ name, value }) => {
						const res = await get(urlOf(op, {}, [[name, value], ...Object.entries(base.query).filter(([k]) => k !== name)]));
						const text = await res.text();
						if (res.status >= 500) throw new Error(`GET graphql ${name}=${value}: ${res.status} ${text.slice(0, 200)}`);
						if (res.status >= 400) {
							const body = JSON.parse(text) as { errors?: { message?: unknown }[]; error?: unknown; message?: unknown };
							if (!(typeof body.message === "string" || body.errors?.every((e) => typeof e.message === "string" && e.message))) throw new Error(`graphql ${res.status} without a message: ${text.slice(0, 200)}`);
						}
					}),
				);
				return;
			}
			// What the unchanged request answers: a 404 it already gives (no nightly run yet, an id that names
			// nothing) is about the data, not about the parameter changed.
			const before = await answer(await get(urlOf(op, base.path, Object.entries(base.query))), `baseline ${op.path}`);
			const change = fc.oneof(
				...params.map((p) => fc.record({ param: fc.constant(p), value: valueArb(p), twice: fc.boolean() })),
			);
			await fc.assert(
				fc.asyncProperty(change, async ({ param, value, twice }) => {
					const path = { ...base.path };
					const query = { ...base.query };
					const pairs: [string, string][] = [];
					if (param.in === "path") path[param.name] = value;
					else {
						delete query[param.name];
						// The parameter once, or twice (a repeated parameter must not slip past its validation).
						pairs.push([param.name, value]);
						if (twice) pairs.push([param.name, value]);
					}
					pairs.push(...Object.entries(query));
					if (param.in === "path" && !value.toWellFormed().length) return; // an empty segment is another route
					const url = urlOf(op, path, pairs);
					const a = await answer(await get(url), `GET ${url.slice(16, 300)}`);
					// The same refusal as the unchanged request (no nightly run yet, too little history) is about the data.
					if (a.status >= 400 && a.status === before.status && a.body.error === before.body.error && !["unknown_site", "invalid_request"].includes(String(a.body.error))) return;
					if (a.status === 400 || a.status === 404) {
						const named = namedFields(a.body);
						const ok = [param.name, ...(PARTNERS[param.name] ?? [])];
						// A path parameter that is fine may point at nothing: then the error names the resource's id.
						if (a.status === 404 && param.in === "query" && param.name !== "site") {
							const pathNames = op.parameters.filter((p) => p.in === "path").map((p) => p.name);
							ok.push(...pathNames);
						}
						if (a.status === 404 && param.in === "path") ok.push(...op.parameters.filter((p) => p.in === "path").map((p) => p.name));
						// /sites/{id}/…: the path's id is the site.
						if (op.path.startsWith("/api/v1/sites/{id}") && param.name === "id") ok.push("site");
						if (!named.some((n) => ok.some((o) => n === o || n.startsWith(`${o}.`) || n.startsWith(`${o}[`)))) {
							throw new Error(`${a.status} for ${param.name}=${JSON.stringify(value)} names ${JSON.stringify(named)}: ${a.text.slice(0, 200)}`);
						}
					}
				}),
			);
		});
	}
});
