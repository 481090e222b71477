#!/usr/bin/env node
/**
 * A demo store written straight into a D1-shaped SQLite file (every migration applied, then the generator's
 * records inserted with node:sqlite), for bench/models/heap.mjs when loading through the import API is too
 * slow: on a shared 2-core machine the 1,000,000-order store took over 30 minutes through `wrangler dev` and
 * had loaded 148,000 orders. Records map to columns by name (money strings → `<field>_minor` integer cents,
 * booleans → 0/1, NOT NULL columns without a value → 0 or ''); that is what the import's entity specs do
 * for the columns the predictive steps read, but the import API (bench/models/run.mjs) stays the reference
 * load: this file is for memory measurement only.
 *
 *   npx node bench/models/direct-store.mjs --out /tmp/store --customers 100000 --orders 1000000 [--as-of 2026-12-02]
 *   npx node bench/models/heap.mjs --state /tmp/store --as-of 2026-12-02 --prepare rfm,clv --steps churn,recommend,actions,inventory
 *
 * `--out` gets the layout of a --persist-to dir (v3/d1/miniflare-D1DatabaseObject/<name>.sqlite), so d1File() finds it.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateStore } from "../../scripts/demo-store.mjs";
import { loadSqlite } from "../nightly/baseline.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { values } = parseArgs({ options: { out: { type: "string" }, customers: { type: "string", default: "20000" }, orders: { type: "string" }, months: { type: "string", default: "24" }, "as-of": { type: "string" }, site: { type: "string", default: "demo" } } });
if (!values.out) {
	console.error("usage: node bench/models/direct-store.mjs --out <dir> [--customers N] [--orders N] [--months N] [--as-of YYYY-MM-DD] [--site demo]");
	process.exit(2);
}
const DAY = 86_400_000;
// The bench's run uses yesterday as the as-of day and generates up to today's midnight.
const asOfDay = values["as-of"] ?? new Date(Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - DAY).toISOString().slice(0, 10);
const asOfMs = Date.parse(`${asOfDay}T00:00:00Z`) + DAY;
const SITE = values.site;

const DatabaseSync = await loadSqlite();
const dir = path.join(values.out, "v3/d1/miniflare-D1DatabaseObject");
rmSync(values.out, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const db = new DatabaseSync(path.join(dir, "direct.sqlite"));
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
for (const f of readdirSync(path.join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort()) {
	for (const sql of readFileSync(path.join(ROOT, "migrations", f), "utf8").split("--> statement-breakpoint")) if (sql.trim()) db.exec(sql);
}
db.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Demo', '[]', 'UTC', 'EUR', 0)").run(SITE);

const t0 = Date.now();
const store = generateStore({ customers: Number(values.customers), months: Number(values.months), eventDays: 0, asOf: asOfMs, ...(values.orders ? { orders: Number(values.orders) } : {}) });
console.error(`generated ${store.customers.length} customers, ${store.orders.length} orders in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

/** Inserts records into table, mapping fields to columns by name (see the file note). */
function insert(table, records, extra = () => ({})) {
	const cols = db.prepare(`PRAGMA table_info(${table})`).all();
	const st = db.prepare(`INSERT OR IGNORE INTO ${table} (${cols.map((c) => c.name).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`);
	db.exec("BEGIN");
	for (const r of records) {
		const x = { site: SITE, ...r, ...extra(r) };
		st.run(
			...cols.map((c) => {
				let v = x[c.name];
				if (v === undefined && c.name.endsWith("_minor") && x[c.name.slice(0, -6)] !== undefined) v = Math.round(Number(x[c.name.slice(0, -6)]) * 100);
				if (typeof v === "boolean") v = v ? 1 : 0;
				if (v !== null && v !== undefined && typeof v === "object") v = JSON.stringify(v);
				if (v !== undefined && v !== null) return v;
				// The column's DEFAULT (SQL text: a number, a quoted string, true/false), else 0 / '' when NOT NULL.
				const d = c.dflt_value;
				if (d !== null) return /^'.*'$/.test(d) ? d.slice(1, -1) : d === "false" ? 0 : d === "true" ? 1 : Number.isFinite(Number(d)) ? Number(d) : null;
				return c.notnull ? (/INT|REAL/i.test(c.type) ? 0 : "") : null;
			}),
		);
	}
	db.exec("COMMIT");
}
insert("suppliers", store.suppliers);
insert("products", store.products);
insert("customers", store.customers);
insert("orders", store.orders, (o) => ({ items: undefined }));
insert("order_items", store.orders.flatMap((o) => o.items.map((i) => ({ ...i, order_id: o.order_id }))));
insert("refunds", store.refunds);
insert("tickets", store.tickets);
insert("messages", store.messages);
insert("inventory_snapshots", store.inventory);
insert("supplier_deliveries", store.deliveries);
for (const t of ["customers", "orders", "order_items", "products"]) console.error(`${t}: ${db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get().n}`);
db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
db.close();
console.log(JSON.stringify({ out: values.out, asOf: asOfDay, customers: store.customers.length, orders: store.orders.length, lines: store.orders.reduce((n, o) => n + o.items.length, 0) }));
