/**
 * `GET /api/docs`: a self-contained HTML reference rendered from the OpenAPI document — no scripts,
 * no CDN, so it works offline. Operations are grouped by tag; each shows method and path, what it
 * does, the credentials it needs, its parameters, request body and responses as field tables, and
 * every named schema once at the end (with its JSON Schema).
 */
import type { OpenApiDocument } from "./document";

type Json = Record<string, unknown>;
const METHODS = ["get", "put", "post", "patch", "delete"] as const;

export interface Operation {
	method: string;
	path: string;
	op: Json;
}

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function esc(s: string): string {
	return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Escaped text with `code` spans, the only markup the descriptions use. */
function text(s: string): string {
	return esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");
}

/** Anchor of an operation: its operationId, else method and path. */
export function operationAnchor(o: Operation): string {
	return str(o.op.operationId) || `${o.method}-${o.path}`.replace(/[^A-Za-z0-9_-]+/g, "-");
}

/** Every operation of the document, in path order. */
export function operations(doc: OpenApiDocument): Operation[] {
	const out: Operation[] = [];
	for (const [path, item] of Object.entries(doc.paths ?? {})) {
		if (!isObj(item)) continue;
		for (const method of METHODS) {
			const op = item[method];
			if (isObj(op)) out.push({ method, path, op });
		}
	}
	return out;
}

const refName = (ref: string) => ref.replace("#/components/schemas/", "");
const schemaLink = (ref: string) => `<a href="#schema-${esc(refName(ref))}"><code>${esc(refName(ref))}</code></a>`;

/** A one-line type: `string (email, ≤ 254)`, `array of Order (1–500)`, `"nps" | "csat"`. */
function typeOf(schema: unknown): string {
	if (!isObj(schema)) return "any";
	if (typeof schema.$ref === "string") return schemaLink(schema.$ref);
	const alts = list(schema.anyOf ?? schema.oneOf);
	if (alts.length) return alts.map(typeOf).join(" | ");
	if (schema.const !== undefined) return `<code>${esc(JSON.stringify(schema.const))}</code>`;
	if (Array.isArray(schema.enum)) return schema.enum.map((e) => `<code>${esc(JSON.stringify(e))}</code>`).join(" | ");
	const types = Array.isArray(schema.type) ? schema.type.map(String) : schema.type === undefined ? [] : [String(schema.type)];
	const base = types.filter((t) => t !== "null");
	let out: string;
	if (base[0] === "array") out = `array of ${typeOf(schema.items)}`;
	else if (base.length) out = base.join(" | ");
	else out = "any";
	return types.includes("null") ? `${out} | null` : out;
}

/** Constraints worth telling a caller: length, range, pattern, format, default. */
function rules(schema: unknown): string {
	if (!isObj(schema)) return "";
	const r: string[] = [];
	const range = (lo: unknown, hi: unknown, unit: string) => {
		if (typeof lo === "number" && typeof hi === "number") r.push(`${lo}–${hi}${unit}`);
		else if (typeof lo === "number") r.push(`≥ ${lo}${unit}`);
		else if (typeof hi === "number") r.push(`≤ ${hi}${unit}`);
	};
	range(schema.minLength, schema.maxLength, " chars");
	range(schema.minimum ?? schema.exclusiveMinimum, schema.maximum ?? schema.exclusiveMaximum, "");
	range(schema.minItems, schema.maxItems, " items");
	if (typeof schema.format === "string") r.push(`format ${esc(schema.format)}`);
	if (typeof schema.pattern === "string") r.push(`<code>${esc(schema.pattern)}</code>`);
	if (schema.default !== undefined) r.push(`default <code>${esc(JSON.stringify(schema.default))}</code>`);
	return r.join(", ");
}

/** Object fields as a table; other schemas as their one-line type. */
function schemaView(schema: unknown, depth = 0): string {
	if (!isObj(schema)) return "";
	const props = isObj(schema.properties) ? schema.properties : null;
	if (!props || depth > 2) {
		const r = rules(schema);
		const items = isObj(schema.items) && isObj(schema.items.properties) && depth <= 2 ? schemaView(schema.items, depth + 1) : "";
		return `<p class="type">${typeOf(schema)}${r ? ` <span class="rules">(${r})</span>` : ""}</p>${items}`;
	}
	const required = new Set(list(schema.required).map(String));
	const rows = Object.entries(props).map(([name, p]) => {
		const nested = isObj(p) && (isObj(p.properties) || (isObj(p.items) && isObj(p.items.properties))) ? schemaView(isObj(p.properties) ? p : p.items, depth + 1) : "";
		const description = isObj(p) ? str(p.description) : "";
		return `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ""}</td><td>${typeOf(p)}</td><td>${rules(p)}</td><td>${text(description)}${nested}</td></tr>`;
	});
	const closed = schema.additionalProperties === false ? '<p class="note">Unknown fields are rejected.</p>' : "";
	return `<table><thead><tr><th>field</th><th>type</th><th>rules</th><th>description</th></tr></thead><tbody>${rows.join("")}</tbody></table>${closed}`;
}

function contentView(content: unknown): string {
	if (!isObj(content)) return "";
	return Object.entries(content)
		.map(([type, media]) => `<div class="media"><span class="ctype">${esc(type)}</span>${isObj(media) ? schemaView(media.schema) : ""}</div>`)
		.join("");
}

/** Who may call: the schemes and scopes of the operation's security requirements. */
function authView(doc: OpenApiDocument, op: Json): string {
	const reqs = list(op.security);
	if (!reqs.length) return '<p class="auth public">Public: no credentials.</p>';
	const schemes = isObj(doc.components?.securitySchemes) ? doc.components.securitySchemes : {};
	const alternatives = reqs.filter(isObj).flatMap((req) =>
		Object.entries(req).map(([name, scopes]) => {
			const scheme = schemes[name];
			const label = isObj(scheme) ? (scheme.type === "http" ? "API key (Bearer)" : scheme.in === "cookie" ? `dashboard session (cookie <code>${esc(str(scheme.name))}</code>)` : `<code>${esc(str(scheme.name))}</code> header`) : esc(name);
			const needs = list(scopes).map(String);
			return needs.length ? `${label} with scope <code>${needs.map(esc).join(", ")}</code>` : label;
		}),
	);
	return `<p class="auth">Needs: ${alternatives.join(" <em>or</em> ")}.</p>`;
}

function parametersView(op: Json): string {
	const params = list(op.parameters).filter(isObj);
	if (!params.length) return "";
	const rows = params.map(
		(p) =>
			`<tr><td><code>${esc(str(p.name))}</code>${p.required === true ? ' <span class="req">required</span>' : ""}</td><td>${esc(str(p.in))}</td><td>${typeOf(p.schema)}</td><td>${rules(p.schema)}</td><td>${text(str(p.description) || (isObj(p.schema) ? str(p.schema.description) : ""))}</td></tr>`,
	);
	return `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>rules</th><th>description</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function operationView(doc: OpenApiDocument, o: Operation): string {
	const { op } = o;
	const body = isObj(op.requestBody) ? `<h4>Request body${op.requestBody.required === true ? "" : " (optional)"}</h4><p>${text(str(op.requestBody.description))}</p>${contentView(op.requestBody.content)}` : "";
	const responses = isObj(op.responses)
		? Object.entries(op.responses)
				.map(([status, r]) => `<li><span class="status s${esc(status[0] ?? "")}">${esc(status)}</span> ${isObj(r) ? text(str(r.description)) : ""}${isObj(r) && !/^[45]/.test(status) ? contentView(r.content) : ""}</li>`)
				.join("")
		: "";
	return `<section class="op" id="${esc(operationAnchor(o))}">
<h3><span class="method m-${esc(o.method)}">${esc(o.method.toUpperCase())}</span> <code>${esc(o.path)}</code></h3>
<p class="summary">${text(str(op.summary))}</p>${op.description ? `<p>${text(str(op.description))}</p>` : ""}
${authView(doc, op)}${parametersView(op)}${body}<h4>Responses</h4><ul class="responses">${responses}</ul>
<p class="errors">Errors use the <a href="#schema-Error"><code>Error</code></a> body.</p>
</section>`;
}

const STYLE = `body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2937;margin:0;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:17rem;flex:none;background:#f8fafc;border-right:1px solid #e5e7eb;padding:1rem;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#374151;text-decoration:none;padding:1px 0}nav a:hover{color:#2563eb}nav h2{font-size:13px;margin:1rem 0 .25rem;text-transform:uppercase;color:#6b7280}
main{max-width:64rem;padding:1rem 2rem 4rem;min-width:0}h1{font-size:1.6rem}h2{border-bottom:2px solid #e5e7eb;padding-bottom:.25rem;margin-top:2.5rem}
.op{border:1px solid #e5e7eb;border-radius:8px;padding:0 1rem 1rem;margin:1rem 0}.op h3{font-size:1.05rem;margin:.8rem 0 .2rem}
.method{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 6px;margin-right:.3rem}
.m-get{background:#2563eb}.m-post{background:#16a34a}.m-put{background:#d97706}.m-patch{background:#7c3aed}.m-delete{background:#dc2626}
.summary{font-weight:600;margin:.2rem 0}code{background:#f3f4f6;padding:0 .25rem;border-radius:3px;font-size:.92em}
table{border-collapse:collapse;width:100%;font-size:13px;margin:.4rem 0}th,td{border:1px solid #e5e7eb;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f9fafb}
td table{margin:.3rem 0 0}.req{color:#b91c1c;font-size:11px}.rules,.note,.errors{color:#6b7280;font-size:13px}.auth{background:#eff6ff;padding:.3rem .6rem;border-radius:4px}.auth.public{background:#f0fdf4}
.ctype{display:inline-block;font-size:12px;color:#6b7280;margin-top:.3rem}.responses{padding-left:1rem}.status{font-weight:700}.s2{color:#16a34a}.s3{color:#2563eb}.s4,.s5{color:#b91c1c}
pre{background:#f8fafc;border:1px solid #e5e7eb;padding:.5rem;overflow:auto;font-size:12px}h4{margin:.8rem 0 .2rem;font-size:.95rem}`;

/** The whole reference page. */
export function referencePage(doc: OpenApiDocument): string {
	const ops = operations(doc);
	const tags = [...(doc.tags ?? []).map((t) => ({ name: t.name, description: t.description ?? "" }))];
	for (const o of ops) for (const t of list(o.op.tags).map(String)) if (!tags.some((k) => k.name === t)) tags.push({ name: t, description: "" });
	const byTag = (tag: string) => ops.filter((o) => list(o.op.tags).map(String).includes(tag));
	const untagged = ops.filter((o) => !list(o.op.tags).length);
	const groups = [...tags.map((t) => ({ ...t, ops: byTag(t.name) })), { name: "Other", description: "", ops: untagged }].filter((g) => g.ops.length);
	const schemas = isObj(doc.components?.schemas) ? Object.entries(doc.components.schemas) : [];
	const schemes = isObj(doc.components?.securitySchemes) ? Object.entries(doc.components.securitySchemes) : [];
	const anchor = (name: string) => `tag-${name.replace(/[^A-Za-z0-9]+/g, "-")}`;

	const nav = groups
		.map((g) => `<h2><a href="#${anchor(g.name)}">${esc(g.name)}</a></h2>${g.ops.map((o) => `<a href="#${esc(operationAnchor(o))}">${esc(o.method.toUpperCase())} ${esc(o.path)}</a>`).join("")}`)
		.join("");
	const sections = groups.map((g) => `<h2 id="${anchor(g.name)}">${esc(g.name)}</h2>${g.description ? `<p>${text(g.description)}</p>` : ""}${g.ops.map((o) => operationView(doc, o)).join("\n")}`).join("\n");
	const auth = schemes.map(([name, s]) => `<li><strong>${esc(name)}</strong>: ${isObj(s) ? text(str(s.description)) : ""}</li>`).join("");
	const schemaSections = schemas
		.map(([name, s]) => `<section class="op" id="schema-${esc(name)}"><h3><code>${esc(name)}</code></h3>${isObj(s) && s.description ? `<p>${text(str(s.description))}</p>` : ""}${schemaView(s)}<details><summary>JSON Schema</summary><pre>${esc(JSON.stringify(s, null, 2))}</pre></details></section>`)
		.join("\n");

	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} · reference</title><style>${STYLE}</style></head>
<body><nav><strong>${esc(doc.info.title)}</strong><br><a href="/api/v1/openapi.json">openapi.json</a>${nav}<h2><a href="#schemas">Schemas</a></h2></nav>
<main><h1>${esc(doc.info.title)} <small>v${esc(doc.info.version)}</small></h1>
<p>${text(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a> (OpenAPI ${esc(doc.openapi)}), generated from the same zod schemas that validate each request. ${ops.length} operations.</p>
<h2 id="auth">Authentication</h2><ul>${auth}</ul>
${sections}
<h2 id="schemas">Schemas</h2>
${schemaSections}
</main></body></html>`;
}
