/**
 * Answers KPI queries from the daily rollups: one grouped SQL query per rollup table and range, then
 * every KPI's formula (catalog.ts) applied to the summed measures of each period. Rollups are brought
 * up to date for the requested days first (rollup.ts), so a query never reads a stale day.
 */
import { currencyDigits } from "../lib/money";
import { addDays, addMonths, bucketLabel, bucketSql, bucketStart, dayBounds, daysBetween, localDay, type Grain } from "./calendar";
import { KPI_BY_ID, MEASURES, TABLES, type Dim, type Kpi, type MeasureId, type PeriodContext, type TableId, type Values } from "./catalog";
import { CUT_SELECTS, reroll, type Source } from "./rollup";

export type { Compare, KpiResponse, KpiResult, Point, SeriesPoint } from "./types";
import type { Compare, KpiResponse, KpiResult, Point, SeriesPoint } from "./types";


export interface KpiQuery {
	ids: string[];
	/** Local days, inclusive. */
	from: string;
	to: string;
	grain: Grain;
	compare?: Compare;
	by?: Dim;
	/** The instant that decides which periods are over (UTC ms); default: now. */
	now?: number;
}

export interface QuerySite {
	id: string;
	timezone: string;
	currency: string;
}





type Sums = Record<string, number | number[]>;
/** bucket start → (key → measure values); key "" is the whole site. */
type Grid = Map<string, Map<string, Sums>>;
/** The grids of one view (whole site or a breakdown): the range, the comparison range, the previous range (growth) and a year before (growth). */
interface Grids {
	main: Grid | undefined;
	prev: Grid | undefined;
	gprev: Grid | undefined;
	year: Grid | undefined;
	/** The bucket before today's, cut at today's elapsed time (period-over-period growth of a partial bucket). */
	pred: Grid | undefined;
}

/** Groups of a breakdown: the table to read, the SQL key, the join it needs, and which grouping-set rows to read. */
function dimSql(table: TableId, by: Dim | undefined): { from: string; key: string; join: string; where: string } {
	// Segments are not a column of the daily rollups (a customer's segment changes nightly and relabels their
	// past orders): the nightly run writes the sales measures per day × segment to their own table.
	if (by === "segment") return { from: "kpi_segment_daily", key: "t.segment", join: "", where: "" };
	const from = TABLES[table].table;
	const column = by === "product" || by === "category" ? "sku" : by;
	const sets = TABLES[table].sets as readonly string[];
	const where = sets.map((c) => (c === column ? ` AND t.${c} <> ''` : ` AND t.${c} = ''`)).join("");
	if (!by) return { from, key: "''", join: "", where };
	if (by === "category") return { from, key: "COALESCE(p.category, 'uncategorized')", join: `LEFT JOIN products p ON p.site = t.site AND p.sku = t.sku`, where };
	if (by === "product") return { from, key: "t.sku", join: "", where };
	return { from, key: `t.${by}`, join: "", where };
}

function aggregate(m: (typeof MEASURES)[MeasureId]): string {
	if (m.kind === "list") return `json_group_array(json(t.${m.column}))`;
	if (m.kind === "first") return `t.${m.column}`;
	return m.column === "1" ? "COUNT(*)" : `SUM(t.${m.column})`;
}

/** One grouped query per table over [from, to]: per bucket (and breakdown key) the sums of the measures needed. */
async function fetchGrid(db: D1Database, site: string, measures: MeasureId[], from: string, to: string, grain: Grain, by: Dim | undefined): Promise<Grid> {
	const byTable = new Map<TableId, MeasureId[]>();
	for (const id of measures) {
		const t = MEASURES[id].table;
		byTable.set(t, [...(byTable.get(t) ?? []), id]);
	}
	const grid: Grid = new Map();
	const statements = [...byTable].map(([table, ids]) => {
		const { from: source, key, join, where } = dimSql(table, by);
		const hasFirst = ids.some((id) => MEASURES[id].kind === "first");
		// `first` measures read the bare column of the row with MIN(day) (SQLite's documented bare-column rule).
		const cols = ids.map((id) => `${aggregate(MEASURES[id])} AS ${id}`).join(", ");
		const sql = `SELECT ${bucketSql(grain, "t.day")} AS b, ${key} AS k, ${hasFirst ? "MIN(t.day) AS first_day, " : ""}${cols}
			FROM ${source} t ${join} WHERE t.site = ? AND t.day BETWEEN ? AND ?${where} GROUP BY b, k`;
		return { ids, stmt: db.prepare(sql).bind(site, from, to) };
	});
	const results = statements.length ? await db.batch<Record<string, unknown>>(statements.map((s) => s.stmt)) : [];
	results.forEach((r, i) => {
		const ids = statements[i]?.ids ?? [];
		for (const row of r.results) {
			const b = String(row.b);
			const k = String(row.k ?? "");
			let keys = grid.get(b);
			if (!keys) grid.set(b, (keys = new Map()));
			let sums = keys.get(k);
			if (!sums) keys.set(k, (sums = {}));
			for (const id of ids) {
				const v = row[id];
				sums[id] = MEASURES[id].kind === "list" ? (JSON.parse(String(v ?? "[]")) as number[][]).flat() : Number(v ?? 0);
			}
		}
	});
	return grid;
}

interface Bucket {
	start: string;
	from: string;
	to: string;
	period: string;
}

function nextBucket(start: string, grain: Grain): string {
	if (grain === "day") return addDays(start, 1);
	if (grain === "week") return addDays(start, 7);
	return addMonths(start, grain === "month" ? 1 : 3);
}

/** Buckets covering [from, to], the first and last clipped to the range. */
export function bucketsOf(from: string, to: string, grain: Grain): Bucket[] {
	const out: Bucket[] = [];
	for (let s = bucketStart(from, grain); s <= to; s = nextBucket(s, grain)) {
		const end = addDays(nextBucket(s, grain), -1);
		out.push({ start: s, from: s < from ? from : s, to: end > to ? to : end, period: bucketLabel(s, grain) });
	}
	return out;
}

/** Adds measure values (lists concatenate; a `first` level keeps the earlier period's value). */
function combine(into: Sums, add: Sums): void {
	for (const [id, v] of Object.entries(add)) {
		const m = MEASURES[id as MeasureId];
		const cur = into[id];
		if (m.kind === "list") into[id] = [...((cur as number[] | undefined) ?? []), ...(v as number[])];
		else if (m.kind === "first") into[id] = cur === undefined ? v : cur;
		else into[id] = ((cur as number | undefined) ?? 0) + (v as number);
	}
}

function valuesFor(kpi: Kpi, sums: Sums | undefined): Required<Values> {
	const v: Record<string, number | number[]> = {};
	for (const id of kpi.measures) v[id] = sums?.[id] ?? (MEASURES[id].kind === "list" ? [] : 0);
	for (const id of kpi.measures) if (MEASURES[id].kind === "list") (v[id] as number[]).sort((a, b) => a - b);
	return v as Required<Values>;
}

const DECIMALS: Record<string, number> = { currency: 2, percent: 4, count: 0, hours: 2, days: 2, "days²": 3, months: 2, score: 4 };
function round(x: number | null, unit: string): number | null {
	if (x === null || !Number.isFinite(x)) return null;
	const f = 10 ** (DECIMALS[unit] ?? 4);
	const r = Math.round(x * f) / f;
	return Object.is(r, -0) ? 0 : r;
}

function withCompare(value: number | null, compare: number | null | undefined, unit: string): Point {
	if (compare === undefined) return { value };
	const delta = value === null || compare === null ? null : round(value - compare, unit);
	const deltaPct = value === null || compare === null || compare === 0 ? null : round((100 * (value - compare)) / Math.abs(compare), "percent");
	return { value, compare, delta, delta_pct: deltaPct };
}

/** The comparison range: the previous range of equal length (whole buckets shift by whole buckets), or a year earlier. */
export function compareRange(from: string, to: string, grain: Grain, compare: Compare): [string, string] {
	if (compare === "yoy") return [addMonths(from, -12), addMonths(to, -12)];
	const aligned = grain !== "day" && grain !== "week" && bucketStart(from, grain) === from && addDays(to, 1) === bucketStart(addDays(to, 1), grain);
	if (aligned) {
		const n = bucketsOf(from, to, grain).length * (grain === "month" ? 1 : 3);
		return [addMonths(from, -n), addDays(from, -1)];
	}
	const days = daysBetween(from, to) + 1;
	return [addDays(from, -days), addDays(from, -1)];
}

/** How a day of [from, to] maps to its day in the comparison range: back by the range's length, by whole months, or a year. */
export function compareShift(from: string, to: string, grain: Grain, compare: Compare): (day: string) => string {
	if (compare === "yoy") return (d) => addMonths(d, -12);
	const aligned = grain !== "day" && grain !== "week" && bucketStart(from, grain) === from && addDays(to, 1) === bucketStart(addDays(to, 1), grain);
	if (aligned) {
		const n = bucketsOf(from, to, grain).length * (grain === "month" ? 1 : 3);
		return (d) => addMonths(d, -n);
	}
	const days = daysBetween(from, to) + 1;
	return (d) => addDays(d, -days);
}

/** The previous bucket's day for a day (growth over the previous period). */
function grainShift(grain: Grain): (day: string) => string {
	if (grain === "day") return (d) => addDays(d, -1);
	if (grain === "week") return (d) => addDays(d, -7);
	return (d) => addMonths(d, grain === "month" ? -1 : -3);
}

/** Where a comparison stops when the range is not over: the day matching today and the same elapsed time of it, [start, end) UTC ms. */
interface Cut {
	day: string;
	start: number;
	end: number;
}

/** The source whose rollup SELECTs compute a table's measures for a cut window (null: not computable for part of a day). */
const CUT_SOURCE: Record<TableId, Source | null> = { sales: "sales", products: "sales", web: "web", product_views: "web", support: "support", inventory: "inventory", supply: "supply", customers: null, spend: null };
/** Grouping-set columns of each rollup table (query.ts dimSql reads the same). */
const SET_COLUMNS: Partial<Record<string, readonly string[]>> = Object.fromEntries(Object.values(TABLES).map((t) => [t.table, t.sets]));
/** Why a comparison cannot be cut to the same elapsed time. */
export const NO_CUT_REASON: Partial<Record<TableId, string>> = {
	spend: "marketing spend is reported per whole day, so a day in progress has no like-for-like comparison",
};
const SEGMENT_NO_CUT = "segments are rolled up per whole day by the nightly run, so a day in progress has no like-for-like comparison by segment";

/**
 * Measure sums of a comparison day cut at the same elapsed time as today (`cut`), per breakdown key, from raw rows
 * through the rollup's own SELECTs (rollup.ts CUT_SELECTS), so a partial day is compared with the same hours of
 * another day under identical definitions. Customer levels and lapses are per whole day: the day's rollup row.
 */
async function cutSums(db: D1Database, site: string, measures: MeasureId[], cut: Cut, by: Dim | undefined): Promise<Map<string, Sums>> {
	const tables = new Set(measures.map((m) => MEASURES[m].table));
	const sources = [...new Set([...tables].map((t) => CUT_SOURCE[t]).filter((x): x is Source => x !== null))];
	const wanted = new Set<string>([...tables].map((t) => TABLES[t].table));
	const selects = sources.flatMap((src) => CUT_SELECTS[src]).filter((sel) => wanted.has(sel.table));
	// raw(): rows as arrays in SELECT order, matched to the INSERT's column list (expression names may repeat).
	const [results, customers, categories] = await Promise.all([
		Promise.all(selects.map((sel) => db.prepare(sel.sql).bind(site, cut.day, cut.start, cut.end).raw<unknown[]>())),
		tables.has("customers") ? db.prepare("SELECT active, lapsed FROM kpi_customers_daily WHERE site = ? AND day = ?").bind(site, cut.day).first<{ active: number; lapsed: number }>() : null,
		by === "category" ? db.prepare("SELECT sku, COALESCE(category, 'uncategorized') AS category FROM products WHERE site = ?").bind(site).all<{ sku: string; category: string }>() : null,
	]);
	const category = new Map((categories?.results ?? []).map((r) => [r.sku, r.category]));
	// Rows of a rollup table by their grouping-set values; the sales SELECTs (orders, refunds) add up per key.
	const rows = new Map<string, Map<string, Record<string, number | string>>>();
	selects.forEach((sel, i) => {
		const cols = sel.columns;
		const sets = SET_COLUMNS[sel.table] ?? [];
		let byKey = rows.get(sel.table);
		if (!byKey) rows.set(sel.table, (byKey = new Map()));
		for (const values of results[i] ?? []) {
			const row: Record<string, number | string> = {};
			cols.forEach((c, j) => (row[c] = values[j] as number | string));
			const k = sets.map((c) => String(row[c] ?? "")).join("|");
			const cur = byKey.get(k);
			if (!cur) byKey.set(k, row);
			else for (const c of cols) if (typeof row[c] === "number") cur[c] = ((cur[c] as number | undefined) ?? 0) + (row[c] as number);
		}
	});
	const out = new Map<string, Sums>();
	const add = (key: string, id: MeasureId, v: number | number[]) => {
		let sums = out.get(key);
		if (!sums) out.set(key, (sums = {}));
		combine(sums, { [id]: v });
	};
	for (const id of measures) {
		const m = MEASURES[id];
		if (m.table === "customers") {
			if (customers && !by) add("", id, m.column === "active" ? customers.active : customers.lapsed);
			continue;
		}
		if (CUT_SOURCE[m.table] === null) continue;
		const sets = TABLES[m.table].sets as readonly string[];
		const column = by === "product" || by === "category" ? "sku" : by;
		for (const row of rows.get(TABLES[m.table].table)?.values() ?? []) {
			// The whole site is the row with every set column ''; a breakdown reads the rows of its one column.
			const own = sets.filter((c) => row[c] !== "");
			let key: string;
			if (own.length === 0) key = "";
			else if (own.length === 1 && column !== undefined && own[0] === column) key = by === "category" ? (category.get(String(row.sku)) ?? "uncategorized") : String(row[column]);
			else continue;
			if (key === "" && by) continue;
			if (key !== "" && !by) continue;
			const v = m.column === "1" ? 1 : row[m.column];
			add(key, id, m.kind === "list" ? (JSON.parse(String(v ?? "[]")) as number[]) : Number(v ?? 0));
		}
	}
	return out;
}

/** Brings the rollups of [from, to] up to date, then answers the query. */
export async function runKpiQuery(db: D1Database, site: QuerySite, q: KpiQuery): Promise<KpiResponse> {
	const kpis = q.ids.map((id) => KPI_BY_ID.get(id) as Kpi);
	const tz = site.timezone;
	const minorPerMajor = 10 ** currencyDigits(site.currency);
	const cmp = q.compare ? compareRange(q.from, q.to, q.grain, q.compare) : null;
	const growthPeriod = kpis.some((k) => k.growth?.lag === "period");
	const growthYear = kpis.some((k) => k.growth?.lag === "year");
	// Growth KPIs: one extra bucket before the range gives the first bucket its previous period; the
	// total compares with the previous range of equal length, or the same range a year earlier.
	const extFrom = growthPeriod ? bucketStart(addDays(bucketStart(q.from, q.grain), -1), q.grain) : q.from;
	const prevRange = growthPeriod ? compareRange(q.from, q.to, q.grain, "previous") : null;
	const yearRange = growthYear ? compareRange(q.from, q.to, q.grain, "yoy") : null;
	const earliest = [extFrom, cmp?.[0], prevRange?.[0], yearRange?.[0]].filter((d): d is string => d !== undefined).sort()[0] as string;
	await reroll(db, site, { from: earliest, to: q.to, maxHours: 50_000 });

	// Partial periods: a range whose last day is not over at `now` is compared like-for-like — each comparison
	// range (and the previous bucket of a growth KPI) stops at the day matching today, cut at the same elapsed time.
	const now = q.now ?? Date.now();
	const today = localDay(now, tz);
	const [todayStart] = dayBounds(today, tz);
	const partialRange = today <= q.to;
	const elapsedOf = (from: string, to: string): number => {
		const start = dayBounds(from, tz)[0];
		const end = dayBounds(to, tz)[1];
		return now >= end ? 1 : now <= start ? 0 : (now - start) / (end - start);
	};
	const cutAt = (shift: (d: string) => string): Cut => {
		const day = shift(today);
		const [start, end] = dayBounds(day, tz);
		// A comparison day shorter than today (DST) ends at its own end, as the alert rules' `today` window does.
		return { day, start, end: Math.min(start + (now - todayStart), end) };
	};

	const measures = [...new Set(kpis.flatMap((k) => k.measures))];
	const fetchRange = (r: [string, string] | null, by: Dim | undefined) => (r ? fetchGrid(db, site.id, measures, r[0], r[1], q.grain, by) : Promise.resolve(undefined));
	/** A comparison range's grid, cut at `cut` when the queried range is not over (days after the cut day left out). */
	const fetchCut = async (r: [string, string] | null, cut: Cut | null, by: Dim | undefined): Promise<Grid | undefined> => {
		if (!r) return undefined;
		if (!cut || cut.day > r[1]) return fetchRange(r, by);
		const grid: Grid = cut.day > r[0] ? await fetchGrid(db, site.id, measures, r[0], addDays(cut.day, -1), q.grain, by) : new Map();
		if (cut.day < r[0]) return grid;
		const bucket = bucketStart(cut.day, q.grain);
		let keys = grid.get(bucket);
		if (!keys) grid.set(bucket, (keys = new Map()));
		for (const [k, add] of await cutSums(db, site.id, measures, cut, by)) {
			let sums = keys.get(k);
			if (!sums) keys.set(k, (sums = {}));
			combine(sums, add);
		}
		return grid;
	};
	const cmpCut = cmp && partialRange && q.compare ? cutAt(compareShift(q.from, q.to, q.grain, q.compare)) : null;
	const prevCut = prevRange && partialRange ? cutAt(compareShift(q.from, q.to, q.grain, "previous")) : null;
	const yearCut = yearRange && partialRange ? cutAt(compareShift(q.from, q.to, q.grain, "yoy")) : null;
	const predCut = growthPeriod && partialRange ? cutAt(grainShift(q.grain)) : null;

	const buckets = bucketsOf(q.from, q.to, q.grain);
	const elapsed = buckets.map((b) => elapsedOf(b.from, b.to));
	// The bucket holding today; its previous bucket is cut for period-over-period growth.
	const todayIndex = buckets.findIndex((b) => b.from <= today && today <= b.to);
	const cmpBuckets = cmp ? bucketsOf(cmp[0], cmp[1], q.grain) : [];
	const prevBuckets = prevRange ? bucketsOf(prevRange[0], prevRange[1], q.grain) : [];
	const yearBuckets = yearRange ? bucketsOf(yearRange[0], yearRange[1], q.grain) : [];
	const beforeFirst = growthPeriod ? bucketsOf(extFrom, addDays(bucketStart(q.from, q.grain), -1), q.grain)[0] : undefined;
	const predBucket = todayIndex < 0 ? undefined : todayIndex === 0 ? beforeFirst : buckets[todayIndex - 1];

	const fetchViews = async (by: Dim | undefined): Promise<Grids> => {
		const [main, prev, gprev, year, pred] = await Promise.all([
			fetchRange([extFrom, q.to], by),
			fetchCut(cmp, cmpCut, by),
			fetchCut(prevRange, prevCut, by),
			fetchCut(yearRange, yearCut, by),
			predBucket && predCut ? fetchCut([predBucket.from, predBucket.to], predCut, by) : Promise.resolve(undefined),
		]);
		return { main, prev, gprev, year, pred };
	};
	// The whole site always comes from its own rollup rows (so a total is the same with or without `by`:
	// a visitor seen through two channels is one visitor); the breakdown from the per-value rows.
	const [whole, split] = await Promise.all([fetchViews(undefined), q.by ? fetchViews(q.by) : Promise.resolve(undefined)]);

	const keys = split ? [...new Set([...(split.main?.values() ?? []), ...(split.prev?.values() ?? [])].flatMap((m) => [...m.keys()]))].sort() : [];
	/** Measure sums of some buckets of a grid for one key ('' is the whole site). */
	const sumsOf = (grid: Grid | undefined, bs: Bucket[], key: string): Sums => {
		const out: Sums = {};
		for (const b of bs) {
			const s = grid?.get(b.start)?.get(key);
			if (s) combine(out, s);
		}
		return out;
	};
	const ctx = (bs: Bucket[]): PeriodContext => ({ days: bs.reduce((n, b) => n + daysBetween(b.from, b.to) + 1, 0), minorPerMajor });
	const growth = (cur: number | null, base: number | null) => (cur === null || base === null || base === 0 ? null : (100 * (cur - base)) / Math.abs(base));
	const rangeElapsed = elapsedOf(q.from, q.to);
	const partialFields = (e: number): Partial<Point> => (e < 1 ? { partial: true, elapsed: Math.round(e * 10_000) / 10_000 } : {});
	const NOT_STARTED = "the period has not started yet";

	const evaluate = (kpi: Kpi, views: Grids, key: string, segmentView: boolean): { total: Point; series: SeriesPoint[] } => {
		const { main, prev, gprev, year, pred } = views;
		const at = (grid: Grid | undefined, bs: (Bucket | undefined)[]): { v: number | null; why: string | undefined } => {
			const list = bs.filter((b): b is Bucket => b !== undefined);
			if (!list.length) return { v: null, why: undefined };
			const values = valuesFor(kpi, sumsOf(grid, list, key));
			const v = kpi.compute(values, ctx(list));
			return { v, why: v === null ? (kpi.why?.(values) ?? undefined) : undefined };
		};
		// A cut comparison is unavailable when a measure cannot be cut to part of a day.
		const noCut = segmentView ? SEGMENT_NO_CUT : kpi.measures.map((m) => NO_CUT_REASON[MEASURES[m].table]).find((r) => r !== undefined);
		const point = (e: number, cur: { v: number | null; why: string | undefined }, base: { v: number | null; why: string | undefined } | undefined, cut: boolean): Point => {
			const value = round(cur.v, kpi.unit);
			const reasons: string[] = cur.why ? [cur.why] : [];
			let p: Point;
			if (base === undefined) p = { value };
			else if (e === 0) {
				p = { value, compare: null, delta: null, delta_pct: null };
				reasons.push(NOT_STARTED);
			} else if (cut && noCut) {
				p = { value, compare: null, delta: null, delta_pct: null };
				reasons.push(noCut);
			} else {
				p = withCompare(value, round(base.v, kpi.unit), kpi.unit);
				if (base.v === null && base.why) reasons.push(`comparison: ${base.why}`);
			}
			return { ...p, ...partialFields(e), ...(reasons.length ? { reason: reasons.join("; ") } : {}) };
		};
		if (kpi.growth) {
			// Growth KPIs are comparisons already: no `compare` of their own. A partial bucket grows against the
			// same elapsed time of its base (the previous bucket, or a year back), never against a whole one.
			const lag = kpi.growth.lag;
			const growthPoint = (e: number, cur: { v: number | null }, base: { v: number | null }): Point => {
				if (e === 0) return { value: null, ...partialFields(e), reason: NOT_STARTED };
				const v = round(growth(cur.v, base.v), kpi.unit);
				const why = v !== null ? undefined : base.v === 0 || base.v === null ? "no revenue in the base period to grow from" : undefined;
				return { value: v, ...partialFields(e), ...(why ? { reason: why } : {}) };
			};
			const series = buckets.map((b, i) => {
				const base = lag === "period" ? (i === todayIndex && pred ? at(pred, [predBucket]) : at(main, [i === 0 ? beforeFirst : buckets[i - 1]])) : at(year, [yearBuckets[i]]);
				return { period: b.period, from: b.from, to: b.to, ...growthPoint(elapsed[i] ?? 1, at(main, [b]), base) };
			});
			const base = lag === "period" ? at(gprev, prevBuckets) : at(year, yearBuckets);
			return { total: growthPoint(rangeElapsed, at(main, buckets), base), series };
		}
		const series = buckets.map((b, i) => ({ period: b.period, from: b.from, to: b.to, ...point(elapsed[i] ?? 1, at(main, [b]), cmp ? at(prev, [cmpBuckets[i]]) : undefined, (elapsed[i] ?? 1) < 1) }));
		return { total: point(rangeElapsed, at(main, buckets), cmp ? at(prev, cmpBuckets) : undefined, partialRange), series };
	};

	return {
		site: site.id,
		currency: site.currency,
		timezone: site.timezone,
		from: q.from,
		to: q.to,
		grain: q.grain,
		as_of: now,
		...partialFields(rangeElapsed),
		compare: q.compare ?? null,
		compare_from: cmp?.[0] ?? null,
		compare_to: cmp?.[1] ?? null,
		compare_until: cmpCut && cmp && cmpCut.day >= cmp[0] && cmpCut.day <= cmp[1] ? cmpCut.end : null,
		by: q.by ?? null,
		kpis: kpis.map((kpi) => {
			const own = evaluate(kpi, whole, "", false);
			return {
				id: kpi.id,
				name: kpi.name,
				unit: kpi.unit,
				good: kpi.good,
				...own,
				...(split ? { groups: keys.map((key) => ({ key, ...evaluate(kpi, split, key, q.by === "segment") })) } : {}),
			};
		}),
	};
}
