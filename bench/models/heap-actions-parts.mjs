#!/usr/bin/env node
/**
 * Where the in-memory actions step's memory went (issue 12): the step before paging, rebuilt part by part on a
 * prepared bench store, with the V8 heap + ArrayBuffers retained after each part measured after a full GC.
 * Every part is kept alive to the end, as the step kept them (one batch of four result sets, then the order
 * timing map, the inputs, the actions, their rows and the rows' JSON): the cumulative figure is its live set.
 * Row objects come from node:sqlite here, not workerd's D1 client, so the sizes are indicative of workerd's.
 *
 *   npx node bench/models/heap.mjs --state <dir> --as-of <day> --prepare rfm,clv,churn,recommend --steps inventory --keep-db /tmp/prepared.sqlite
 *   npx node --expose-gc bench/models/heap-actions-parts.mjs --db /tmp/prepared.sqlite --as-of <day> [--site demo] [--json out.json] [--compare]
 *
 * --compare: also checks that the day's stored next_actions (written by the paged step, e.g. `--steps actions`
 * with --keep-db above) are exactly the rows rebuilt here by the in-memory path.
 *
 * Node >= 22.18 (node:sqlite, TypeScript type stripping for actions.ts and json-rows.ts).
 */
import { writeFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { medianIntervalDays, nextBestActions } from "../../workers/analytics/actions.ts";
import { jsonChunks } from "../../workers/lib/json-rows.ts";

const { values } = parseArgs({ options: { db: { type: "string" }, "as-of": { type: "string" }, site: { type: "string", default: "demo" }, json: { type: "string" }, compare: { type: "boolean", default: false } } });
if (!values.db || !values["as-of"] || typeof globalThis.gc !== "function") {
	console.error("usage: node --expose-gc bench/models/heap-actions-parts.mjs --db <prepared D1 copy> --as-of YYYY-MM-DD [--site demo] [--json file]");
	process.exit(2);
}
const db = new DatabaseSync(values.db, { readOnly: true });
const site = values.site;
const asOf = values["as-of"];
const cutoff = Date.parse(`${asOf}T00:00:00Z`) + 86_400_000;
const minor = 100;
const bytes = () => {
	globalThis.gc();
	const m = process.memoryUsage();
	return m.heapUsed + m.arrayBuffers;
};
const parts = [];
const keep = [];
let last = bytes();
const base = last;
const part = (name, value) => {
	const count = Array.isArray(value) ? value.length : value.size;
	keep.push(value);
	const now = bytes();
	parts.push({ part: name, rows: count, retainedMb: (now - last) / 1048576, cumulativeMb: (now - base) / 1048576 });
	console.error(`  ${name.padEnd(58)} ${String(count).padStart(8)} rows  +${((now - last) / 1048576).toFixed(1).padStart(6)} MB  = ${((now - base) / 1048576).toFixed(1)} MB`);
	last = now;
	return value;
};
const q = (sql, ...args) => db.prepare(sql).all(...args);

const rfm = part("rfm_scores result set (objects)", q("SELECT customer_id, segment, recency_days, frequency, monetary_minor FROM rfm_scores WHERE site = ? AND as_of = ?", site, asOf));
const churn = part("churn_scores result set", q("SELECT customer_id, probability FROM churn_scores WHERE site = ? AND as_of = ?", site, asOf));
const clv = part("clv_scores result set", q("SELECT customer_id, clv_minor, expected_spend_minor FROM clv_scores WHERE site = ? AND as_of = ?", site, asOf));
const recs = part("recommendations result set (every 10-item JSON list)", q("SELECT subject, items FROM recommendations WHERE site = ? AND as_of = ? AND kind = 'customer'", site, asOf));
const churnOf = part("churn map", new Map(churn.map((r) => [r.customer_id, r.probability])));
const clvOf = part("clv map", new Map(clv.map((r) => [r.customer_id, r])));
const recOf = part(
	"first-recommendation map (parsed)",
	new Map(
		recs.map((r) => {
			const first = JSON.parse(r.items)[0];
			return [r.subject, first ? { sku: first.sku, score: first.score, because: first.why.startsWith("bought with ") ? first.why.slice(12) : null } : null];
		}),
	),
);
// eachCustomerOrderTimes' pages are 50,000 rows; only the per-customer summary stays.
const timing = new Map();
{
	let current = null;
	let times = [];
	const st = db.prepare("SELECT customer_id, placed_at FROM orders WHERE site = ? AND placed_at >= 0 AND placed_at < ? AND status <> 'cancelled' ORDER BY customer_id, placed_at, order_id");
	st.setReturnArrays(true);
	for (const [customer, at] of st.iterate(site, cutoff)) {
		if (customer !== current) {
			if (current !== null) timing.set(current, { orders: times.length, interval: medianIntervalDays(times) });
			current = customer;
			times = [];
		}
		times.push(at);
	}
	if (current !== null) timing.set(current, { orders: times.length, interval: medianIntervalDays(times) });
}
part("order timing map (count + median interval per customer)", timing);
const inputs = part(
	"ActionInput per customer",
	rfm.map((r) => {
		const v = clvOf.get(r.customer_id);
		const t = timing.get(r.customer_id);
		return { customer: r.customer_id, segment: r.segment, churn: churnOf.get(r.customer_id) ?? null, clv: v ? v.clv_minor / minor : null, expectedSpend: v ? v.expected_spend_minor / minor : null, orders: t?.orders ?? 0, daysSinceLastOrder: r.recency_days, reorderIntervalDays: t?.interval ?? null, monetary: r.monetary_minor / minor, recommendation: recOf.get(r.customer_id) ?? null };
	}),
);
const clvs = inputs.map((i) => i.clv).filter((v) => v !== null).sort((a, b) => a - b);
const actions = part("NextAction per customer (with details)", nextBestActions(inputs, clvs.length ? clvs[clvs.length >> 1] : null));
const rows = part("insert rows (details as JSON)", actions.map((a) => [a.customer, a.action, a.reason, Math.round(a.priority * 100) / 100, JSON.stringify(a.details)]));
const chunks = part("JSON chunks bound to the INSERTs", jsonChunks(rows));
let compared = null;
if (values.compare) {
	const stored = db.prepare("SELECT customer_id, action, reason, priority, details FROM next_actions WHERE site = ? AND as_of = ? ORDER BY customer_id");
	stored.setReturnArrays(true);
	const byId = new Map(rows.map((r) => [r[0], JSON.stringify(r)]));
	let same = 0;
	let differ = 0;
	for (const r of stored.iterate(site, asOf)) {
		if (byId.get(r[0]) === JSON.stringify(r)) same++;
		else differ++;
		byId.delete(r[0]);
	}
	compared = { same, differ, missing: byId.size };
	console.error(`  stored next_actions vs the in-memory path: ${same} identical, ${differ} different, ${byId.size} missing`);
}
const totalMb = (bytes() - base) / 1048576;
if (values.json) writeFileSync(values.json, JSON.stringify({ db: values.db, site, asOf, parts, totalMb, compared }, null, 1));
console.log(JSON.stringify({ totalMb, chunks: chunks.length, compared }));
