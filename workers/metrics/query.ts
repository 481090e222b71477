/**
 * Answers KPI queries from the daily rollups: one grouped SQL query per rollup table and range, then
 * every KPI's formula (catalog.ts) applied to the summed measures of each period. Rollups are brought
 * up to date for the requested days first (rollup.ts), so a query never reads a stale day.
 */
import { currencyDigits } from "../lib/money";
import { addDays, addMonths, bucketLabel, bucketSql, bucketStart, daysBetween, type Grain } from "./calendar";
import { KPI_BY_ID, MEASURES, TABLES, type Dim, type Kpi, type MeasureId, type PeriodContext, type TableId, type Values } from "./catalog";
import { reroll } from "./rollup";

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

/** Brings the rollups of [from, to] up to date, then answers the query. */
export async function runKpiQuery(db: D1Database, site: QuerySite, q: KpiQuery): Promise<KpiResponse> {
	const kpis = q.ids.map((id) => KPI_BY_ID.get(id) as Kpi);
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

	const measures = [...new Set(kpis.flatMap((k) => k.measures))];
	const fetchRange = (r: [string, string] | null, by: Dim | undefined) => (r ? fetchGrid(db, site.id, measures, r[0], r[1], q.grain, by) : Promise.resolve(undefined));
	const fetchViews = async (by: Dim | undefined): Promise<Grids> => {
		const [main, prev, gprev, year] = await Promise.all([fetchRange([extFrom, q.to], by), fetchRange(cmp, by), fetchRange(prevRange, by), fetchRange(yearRange, by)]);
		return { main, prev, gprev, year };
	};
	// The whole site always comes from its own rollup rows (so a total is the same with or without `by`:
	// a visitor seen through two channels is one visitor); the breakdown from the per-value rows.
	const [whole, split] = await Promise.all([fetchViews(undefined), q.by ? fetchViews(q.by) : Promise.resolve(undefined)]);
	const buckets = bucketsOf(q.from, q.to, q.grain);
	const cmpBuckets = cmp ? bucketsOf(cmp[0], cmp[1], q.grain) : [];
	const prevBuckets = prevRange ? bucketsOf(prevRange[0], prevRange[1], q.grain) : [];
	const yearBuckets = yearRange ? bucketsOf(yearRange[0], yearRange[1], q.grain) : [];
	const beforeFirst = growthPeriod ? bucketsOf(extFrom, addDays(bucketStart(q.from, q.grain), -1), q.grain)[0] : undefined;

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
	const value = (kpi: Kpi, sums: Sums, bs: Bucket[]) => kpi.compute(valuesFor(kpi, sums), ctx(bs));
	const growth = (kpi: Kpi, cur: number | null, base: number | null) => (cur === null || base === null || base === 0 ? null : (100 * (cur - base)) / Math.abs(base));

	const evaluate = (kpi: Kpi, { main, prev, gprev, year }: Grids, key: string): { total: Point; series: SeriesPoint[] } => {
		const at = (grid: Grid | undefined, bs: (Bucket | undefined)[]) => {
			const list = bs.filter((b): b is Bucket => b !== undefined);
			return list.length ? value(kpi, sumsOf(grid, list, key), list) : null;
		};
		if (kpi.growth) {
			// Growth KPIs are comparisons already: no `compare` of their own.
			const lag = kpi.growth.lag;
			const series = buckets.map((b, i) => ({
				period: b.period, from: b.from, to: b.to,
				value: round(lag === "period" ? growth(kpi, at(main, [b]), at(main, [i === 0 ? beforeFirst : buckets[i - 1]])) : growth(kpi, at(main, [b]), at(year, [yearBuckets[i]])), kpi.unit),
			}));
			const base = lag === "period" ? at(gprev, prevBuckets) : at(year, yearBuckets);
			return { total: { value: round(growth(kpi, at(main, buckets), base), kpi.unit) }, series };
		}
		const series = buckets.map((b, i) => {
			const v = round(at(main, [b]), kpi.unit);
			const c = cmp ? round(at(prev, [cmpBuckets[i]]), kpi.unit) : undefined;
			return { period: b.period, from: b.from, to: b.to, ...withCompare(v, c, kpi.unit) };
		});
		const total = round(at(main, buckets), kpi.unit);
		return { total: withCompare(total, cmp ? round(at(prev, cmpBuckets), kpi.unit) : undefined, kpi.unit), series };
	};

	return {
		site: site.id,
		currency: site.currency,
		timezone: site.timezone,
		from: q.from,
		to: q.to,
		grain: q.grain,
		compare: q.compare ?? null,
		compare_from: cmp?.[0] ?? null,
		compare_to: cmp?.[1] ?? null,
		by: q.by ?? null,
		kpis: kpis.map((kpi) => {
			const own = evaluate(kpi, whole, "");
			return {
				id: kpi.id,
				name: kpi.name,
				unit: kpi.unit,
				good: kpi.good,
				...own,
				...(split ? { groups: keys.map((key) => ({ key, ...evaluate(kpi, split, key) })) } : {}),
			};
		}),
	};
}
