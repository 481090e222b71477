// The GraphQL explorer: a query editor, a run button, the result, and a schema browser built from an
// introspection query. No CDN and no inline script (the CSP allows scripts from this origin only).
// Requests go to POST /api/v1/graphql with the dashboard session cookie, or with the key typed in
// (kept in this tab's sessionStorage only).

const $ = (id) => document.getElementById(id);
const ENDPOINT = "/api/v1/graphql";
const EXAMPLE = `# Ctrl+Enter runs the query. Every field is one REST GET (see the schema on the left).
query Example($site: String) {
  kpis(site: $site, ids: "revenue,orders,aov", grain: week, compare: previous) {
    from
    to
    kpis {
      id
      total { value compare delta_pct }
      series { period value }
    }
  }
}`;

const keyInput = $("key");
keyInput.value = sessionStorage.getItem("b2g-graphql-key") ?? "";
keyInput.addEventListener("change", () => sessionStorage.setItem("b2g-graphql-key", keyInput.value.trim()));
$("query").value = localStorage.getItem("b2g-graphql-query") ?? EXAMPLE;
$("variables").value = localStorage.getItem("b2g-graphql-variables") ?? `{"site": "${new URLSearchParams(location.search).get("site") ?? "demo"}"}`;

function setStatus(text, isError = false) {
	$("status").textContent = text;
	$("status").className = isError ? "error" : "";
}

async function post(query, variables) {
	const headers = { "Content-Type": "application/json" };
	const key = keyInput.value.trim();
	if (key) headers.Authorization = `Bearer ${key}`;
	const res = await fetch(ENDPOINT, { method: "POST", headers, credentials: "same-origin", body: JSON.stringify({ query, variables }) });
	return { status: res.status, body: await res.json() };
}

async function run() {
	const query = $("query").value;
	let variables;
	try {
		variables = $("variables").value.trim() ? JSON.parse($("variables").value) : undefined;
	} catch (err) {
		setStatus(`variables are not JSON: ${err.message}`, true);
		return;
	}
	localStorage.setItem("b2g-graphql-query", query);
	localStorage.setItem("b2g-graphql-variables", $("variables").value);
	setStatus("running…");
	const started = performance.now();
	try {
		const { status, body } = await post(query, variables);
		$("result").textContent = JSON.stringify(body, null, 2);
		setStatus(`HTTP ${status} in ${Math.round(performance.now() - started)} ms`, status >= 400);
		if (status === 401) setStatus("HTTP 401: log in to the dashboard or paste an API key", true);
	} catch (err) {
		setStatus(`request failed: ${err.message}`, true);
	}
}

// ─── schema browser ──────────────────────────────────────────────────────────────────────────────

const TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";
const INTROSPECTION = `{ __schema { queryType { name } types { kind name description fields { name description args { name description type { ${TYPE_REF} } } type { ${TYPE_REF} } } enumValues { name } } } }`;
let types = new Map();

function typeName(t) {
	if (t.kind === "NON_NULL") return `${typeName(t.ofType)}!`;
	if (t.kind === "LIST") return `[${typeName(t.ofType)}]`;
	return t.name;
}
function namedOf(t) {
	return t.ofType ? namedOf(t.ofType) : t.name;
}

function el(tag, props = {}, ...children) {
	const node = document.createElement(tag);
	Object.assign(node, props);
	for (const c of children) node.append(c);
	return node;
}

function typeLink(t) {
	const link = el("span", { className: "type", textContent: typeName(t), title: "show this type" });
	link.addEventListener("click", () => showType(namedOf(t)));
	return link;
}

function showType(name) {
	const t = types.get(name);
	const box = $("schema");
	box.replaceChildren();
	const back = el("button", { type: "button", className: "secondary", textContent: "← Query" });
	back.addEventListener("click", renderQuery);
	box.append(back, el("h3", { textContent: `${t.kind.toLowerCase()} ${t.name}` }));
	if (t.description) box.append(el("div", { className: "doc", textContent: t.description }));
	for (const f of t.fields ?? []) box.append(el("div", { className: "field" }, `${f.name}: `, typeLink(f.type)), ...(f.description ? [el("div", { className: "doc", textContent: f.description })] : []));
	if (t.enumValues) box.append(el("div", { className: "field", textContent: t.enumValues.map((v) => v.name).join(" | ") }));
}

function renderQuery() {
	const root = types.get("Query");
	const box = $("schema");
	box.replaceChildren();
	for (const f of root.fields) {
		const details = el("details");
		details.append(el("summary", { textContent: f.name, title: "open: arguments and type; double-click: insert" }));
		details.append(el("div", { className: "doc", textContent: f.description ?? "" }));
		for (const a of f.args) details.append(el("div", { className: "field" }, `${a.name}: `, typeLink(a.type)));
		details.append(el("div", { className: "field" }, "→ ", typeLink(f.type)));
		details.querySelector("summary").addEventListener("dblclick", () => insertField(f));
		box.append(details);
	}
}

/** Every field of a type, recursively (what the REST answer holds). */
function selectionOf(name, indent) {
	const t = types.get(name);
	if (!t || t.kind !== "OBJECT") return "";
	const pad = "  ".repeat(indent);
	const lines = t.fields.map((f) => {
		const inner = selectionOf(namedOf(f.type), indent + 1);
		return inner ? `${pad}${f.name} ${inner}` : `${pad}${f.name}`;
	});
	return `{\n${lines.join("\n")}\n${"  ".repeat(indent - 1)}}`;
}

function insertField(f) {
	const args = f.args.filter((a) => a.name === "site" || a.type.kind === "NON_NULL").map((a) => (a.name === "site" ? "site: $site" : `${a.name}: ""`));
	$("query").value = `query ($site: String) {\n  ${f.name}${args.length ? `(${args.join(", ")})` : ""} ${selectionOf(namedOf(f.type), 2)}\n}`;
}

async function loadSchema() {
	try {
		const { status, body } = await post(INTROSPECTION);
		if (status !== 200) throw new Error(body.message ?? body.errors?.[0]?.message ?? `HTTP ${status}`);
		types = new Map(body.data.__schema.types.map((t) => [t.name, t]));
		renderQuery();
	} catch (err) {
		$("schema").textContent = `Could not load the schema (${err.message}). Log in to the dashboard or paste an API key, then press Run.`;
	}
}

$("run").addEventListener("click", () => {
	run();
	if (types.size === 0) loadSchema();
});
$("prettify").addEventListener("click", () => {
	const match = /\b(\w+)\s*(\(|\{)/.exec($("query").value.replace(/^#.*$/gm, "").replace(/^\s*query[^{]*\{/, ""));
	const f = match && types.get("Query")?.fields.find((x) => x.name === match[1]);
	if (f) insertField(f);
	else setStatus("put the cursor's query field first (e.g. kpis) or double-click a field in the schema", true);
});
document.addEventListener("keydown", (e) => {
	if ((e.ctrlKey || e.metaKey) && e.key === "Enter") run();
});
loadSchema();
