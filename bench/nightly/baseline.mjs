/**
 * The naive RFM the nightly `rfm` step is compared with: one query per customer, run in Node with the
 * built-in node:sqlite (Node >= 22.13 without a flag; older 22.x need --experimental-sqlite) directly on the
 * local D1 SQLite file of a `--persist-to` dir, opened read-only. That is favourable to the baseline: no D1
 * round trip, no serialisation between isolates, one prepared statement reused, the index
 * orders_site_customer (site, customer_id, placed_at) covering each query. Definitions are the step's
 * (workers/analytics/steps.ts, rfm.ts): orders in [cutoff − 365 d, cutoff), not cancelled, revenue =
 * total − tax − that order's refunds created before the cutoff; recency in whole days; scores
 * 1 + ⌊5 · (customers strictly worse) / n⌋ (sort + binary search). Segments are not assigned (their table
 * lives in TypeScript); that is a few comparisons per customer.
 *
 * The `+` in `+r.created_at` keeps the refunds lookup on refunds_site_order (site, order_id): without it
 * the SQLite in Node 22.23 (3.51) plans the correlated subquery on refunds_site_created (site, created_at)
 * and scans every refund before the cutoff for each order — minutes instead of seconds, which would make
 * the baseline look worse than an integrator would write it.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

const DAY_MS = 86_400_000;

/** The D1 database file under a --persist-to dir (miniflare: v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite). */
export function d1File(persistTo) {
	const dir = path.join(persistTo, "v3/d1/miniflare-D1DatabaseObject");
	const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite") : [];
	if (files.length !== 1) throw new Error(`expected one D1 database file in ${dir}, found ${files.length ? files.join(", ") : "none"}`);
	return path.join(dir, files[0]);
}

/** node:sqlite's DatabaseSync, without its ExperimentalWarning; throws with a hint when this Node lacks it. */
export async function loadSqlite() {
	const emitWarning = process.emitWarning;
	process.emitWarning = (warning, ...rest) => (/SQLite/i.test(String(warning)) ? undefined : emitWarning.call(process, warning, ...rest));
	try {
		return (await import("node:sqlite")).DatabaseSync;
	} catch (err) {
		throw new Error(`node:sqlite is not available in Node ${process.version} (${err.message}): use Node >= 22.13, or run with --experimental-sqlite`);
	} finally {
		process.emitWarning = emitWarning;
	}
}

/** 1 + ⌊5 · worse / n⌋ per value, `worse` = how many values are strictly worse (sorted copy + binary search). */
function quintiles(values, higherIsBetter) {
	const n = values.length;
	const sorted = Float64Array.from(values).sort();
	const out = new Uint8Array(n);
	for (let i = 0; i < n; i++) {
		const v = values[i];
		let lo = 0;
		let hi = n;
		// higher is better: worse = how many < v; lower is better: worse = how many > v = n − (how many ≤ v).
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (higherIsBetter ? sorted[mid] < v : sorted[mid] <= v) lo = mid + 1;
			else hi = mid;
		}
		out[i] = 1 + Math.floor((5 * (higherIsBetter ? lo : n - lo)) / n);
	}
	return out;
}

export const PER_CUSTOMER_SQL = `SELECT MAX(o.placed_at) AS last_at, COUNT(*) AS orders,
	SUM(o.total_minor - o.tax_minor - COALESCE((SELECT SUM(r.amount_minor) FROM refunds r WHERE r.site = o.site AND r.order_id = o.order_id AND +r.created_at < ?4), 0)) AS monetary
FROM orders o
WHERE o.site = ?1 AND o.customer_id = ?2 AND o.placed_at >= ?3 AND o.placed_at < ?4 AND o.status <> 'cancelled'`;

/**
 * Runs the naive RFM once on an open DatabaseSync: lists the site's customers, one query each, scores.
 * Returns the scored customers (sorted by id) and the time of each phase (ms).
 */
export function naiveRfm(db, { site, cutoff, windowDays = 365 }) {
	const t0 = performance.now();
	const from = cutoff - windowDays * DAY_MS;
	const customers = db.prepare("SELECT customer_id FROM customers WHERE site = ? ORDER BY customer_id").all(site).map((r) => r.customer_id);
	const t1 = performance.now();
	const q = db.prepare(PER_CUSTOMER_SQL);
	const ids = [];
	const recency = [];
	const frequency = [];
	const monetary = [];
	for (const c of customers) {
		const row = q.get(site, c, from, cutoff);
		if (!row || !row.orders) continue;
		ids.push(c);
		recency.push(Math.floor((cutoff - row.last_at) / DAY_MS));
		frequency.push(row.orders);
		monetary.push(row.monetary);
	}
	const t2 = performance.now();
	const r = quintiles(recency, false);
	const f = quintiles(frequency, true);
	const m = quintiles(monetary, true);
	const scores = ids.map((customer, i) => ({ customer, recencyDays: recency[i], frequency: frequency[i], monetaryMinor: monetary[i], r: r[i], f: f[i], m: m[i] }));
	const t3 = performance.now();
	return { scores, listed: customers.length, queries: customers.length, ms: { total: t3 - t0, list: t1 - t0, queries: t2 - t1, score: t3 - t2 } };
}

/**
 * Compares `sampleSize` of the baseline's customers (evenly spaced in id order) with the run's rfm_scores
 * rows, and the number of customers scored. Returns { ok, checked, scored, stored, mismatches[] }.
 */
export function crossCheck(db, { site, asOf, scores, sampleSize = 100 }) {
	const stored = db.prepare("SELECT COUNT(*) AS n FROM rfm_scores WHERE site = ? AND as_of = ?").get(site, asOf).n;
	const step = Math.max(1, Math.floor(scores.length / sampleSize));
	const sample = [];
	for (let i = 0; i < scores.length && sample.length < sampleSize; i += step) sample.push(scores[i]);
	const q = db.prepare("SELECT recency_days, frequency, monetary_minor, r, f, m FROM rfm_scores WHERE site = ? AND as_of = ? AND customer_id = ?");
	const mismatches = [];
	for (const s of sample) {
		const row = q.get(site, asOf, s.customer);
		const want = { recency_days: s.recencyDays, frequency: s.frequency, monetary_minor: s.monetaryMinor, r: s.r, f: s.f, m: s.m };
		const diff = row ? Object.keys(want).filter((k) => Number(row[k]) !== Number(want[k])) : ["missing"];
		if (diff.length) mismatches.push({ customer: s.customer, fields: diff, baseline: want, ours: row ? { ...row } : null });
	}
	return { ok: !mismatches.length && stored === scores.length, checked: sample.length, scored: scores.length, stored, mismatches };
}
