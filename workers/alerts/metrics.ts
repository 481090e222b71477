/**
 * What alert rules can watch: a registry from metric name to a reader that returns the current value
 * and its baseline for a rule's window. Every non-growth KPI of the catalogue is registered under its id
 * (values from the KPI engine, so an alert and the dashboard agree); `inventory:stock` reads the latest
 * stock level per SKU against its reorder point; `model:predicted_churn_rate` is registered but
 * reports `waiting_for_model` until a churn model writes predictions. Other features add readers with
 * `registerMetric` (e.g. `live:*` metrics from the real-time object).
 */
import { currencyDigits } from "../lib/money";
import type { Site } from "../lib/sites";
import { addDays, dayStart, localDay } from "../metrics/calendar";
import { KPIS, MEASURES, type Kpi, type MeasureId, type Values } from "../metrics/catalog";
import { runKpiQuery } from "../metrics/query";
import type { WINDOWS } from "../db/alerts";

export type AlertWindow = (typeof WINDOWS)[number];

/** The parts of a rule a reader needs. */
export interface MetricQuery {
	metric: string;
	window: AlertWindow;
	/** Days of history the baseline averages. */
	baselineDays: number;
	/** A relative threshold needs a baseline: readers may leave out keys without one. */
	thresholdKind: "absolute" | "relative";
}

/** One observed value. `key` is the incident's dedupe key: '' for a site-wide metric, e.g. a SKU for a per-item one. */
export interface MetricReading {
	key: string;
	/** For people: a product name, or null for a site-wide value. */
	label: string | null;
	/** null when undefined for the window (a rate over zero sessions): the rule's state is left as it is. */
	value: number | null;
	/** What a relative threshold multiplies (a KPI's average over the baseline days, a SKU's reorder point); null when unknown. */
	baseline: number | null;
	/** What the value covers, e.g. `2026-11-25` or `2026-11-26 until 14:30`. */
	period: string;
}

export type MetricResult =
	| { status: "ok"; readings: MetricReading[] }
	/** Nothing to compare yet (too early in the day, no history); open incidents stay as they are. */
	| { status: "no_data" | "waiting_for_model"; reason: string };

export interface MetricReader {
	name: string;
	/** The catalogue's unit (`currency`, `percent`, `count`…). */
	unit: string;
	/** Windows it can answer; the first is the default. */
	windows: readonly AlertWindow[];
	/** How the baseline is formed, for the rule listing. */
	baseline: string;
	/** Whether the baseline averages the rule's `baseline_days`. */
	usesBaselineDays: boolean;
	/** The KPI whose role rules apply to rules and alerts on it (strategic KPIs are not for operations). */
	kpi?: Kpi;
	/** Set when the metric cannot be evaluated at all yet; `read` is then not called. */
	unavailable?: { status: "waiting_for_model"; reason: string };
	read(env: Env, site: Site, rule: MetricQuery, now: number): Promise<MetricResult>;
}

export const METRICS = new Map<string, MetricReader>();

/** Adds (or replaces) a metric alert rules can name. */
export function registerMetric(id: string, reader: MetricReader): void {
	METRICS.set(id, reader);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** `yesterday`: the last complete local day, against the mean of the daily values of the `baselineDays` before it. */
async function kpiYesterday(env: Env, site: Site, kpi: Kpi, rule: MetricQuery, now: number): Promise<MetricResult> {
	const day = addDays(localDay(now, site.timezone), -1);
	const result = await runKpiQuery(env.DB, site, { ids: [kpi.id], from: addDays(day, -rule.baselineDays), to: day, grain: "day" });
	const series = result.kpis[0]?.series ?? [];
	const last = series[series.length - 1];
	// Days where the KPI is undefined (a rate over zero sessions) are left out of the baseline, not counted as 0.
	const history = series.slice(0, -1).flatMap((p) => (p.value === null ? [] : [p.value]));
	return { status: "ok", readings: [{ key: "", label: null, value: last?.value ?? null, baseline: mean(history), period: day }] };
}

/**
 * Measures the `today` window can compute from raw orders, with the rollup's definitions
 * (workers/metrics/rollup.ts): non-cancelled orders by `placed_at`, revenue = total − tax.
 */
const INTRADAY: ReadonlySet<MeasureId> = new Set<MeasureId>(["orders", "revenue"]);
/** Before this much of the local day has passed, `today` has too little to compare. */
export const MIN_ELAPSED_MS = 60 * 60_000;

const hhmm = (ms: number, timeZone: string) => new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));

/** Every measure zero, then the intraday ones filled in: the catalogue's `compute` reads only its own measures. */
function intradayValues(orders: number, revenue: number): Required<Values> {
	const v: Record<string, number | number[]> = {};
	for (const [id, m] of Object.entries(MEASURES)) v[id] = m.kind === "list" ? [] : 0;
	v.orders = orders;
	v.revenue = revenue;
	return v as Required<Values>;
}

/**
 * `today`: today from local midnight until `now`, against the same elapsed time of each of the
 * `baselineDays` before (mean), so a half-finished day is never compared with whole days.
 */
async function kpiToday(env: Env, site: Site, kpi: Kpi, rule: MetricQuery, now: number): Promise<MetricResult> {
	const today = localDay(now, site.timezone);
	const elapsed = now - dayStart(today, site.timezone);
	if (elapsed < MIN_ELAPSED_MS) return { status: "no_data", reason: `less than ${MIN_ELAPSED_MS / 60_000} minutes of ${today} have passed` };
	const days = Array.from({ length: rule.baselineDays + 1 }, (_, i) => addDays(today, -i));
	const windows = days.map((d) => {
		const start = dayStart(d, site.timezone);
		return [d, start, Math.min(start + elapsed, dayStart(addDays(d, 1), site.timezone))] as const;
	});
	const rows = await env.DB.prepare(
		`SELECT json_extract(w.value, '$[0]') AS day, COUNT(o.order_id) AS orders, COALESCE(SUM(o.total_minor - o.tax_minor), 0) AS revenue
		FROM json_each(?2) w
		LEFT JOIN orders o ON o.site = ?1 AND o.placed_at >= json_extract(w.value, '$[1]') AND o.placed_at < json_extract(w.value, '$[2]') AND o.status <> 'cancelled'
		GROUP BY w.key`,
	)
		.bind(site.id, JSON.stringify(windows))
		.all<{ day: string; orders: number; revenue: number }>();
	const minorPerMajor = 10 ** currencyDigits(site.currency);
	const byDay = new Map(rows.results.map((r) => [r.day, kpi.compute(intradayValues(r.orders, r.revenue), { days: 1, minorPerMajor })]));
	const history = days.slice(1).flatMap((d) => {
		const v = byDay.get(d);
		return v === null || v === undefined ? [] : [v];
	});
	return { status: "ok", readings: [{ key: "", label: null, value: byDay.get(today) ?? null, baseline: mean(history), period: `${today} until ${hhmm(now, site.timezone)}` }] };
}

function kpiReader(kpi: Kpi): MetricReader {
	const intraday = kpi.measures.every((m) => INTRADAY.has(m));
	return {
		name: kpi.name,
		unit: kpi.unit,
		windows: intraday ? ["yesterday", "today"] : ["yesterday"],
		baseline: "the mean of the daily values over the baseline days before the window (the same hours of each day for `today`)",
		usesBaselineDays: true,
		kpi,
		read: (env, site, rule, now) => (rule.window === "today" ? kpiToday(env, site, kpi, rule, now) : kpiYesterday(env, site, kpi, rule, now)),
	};
}

for (const kpi of KPIS) if (!kpi.growth) registerMetric(kpi.id, kpiReader(kpi));

registerMetric("inventory:stock", {
	name: "Stock level",
	unit: "count",
	windows: ["now"],
	baseline: "the SKU's reorder point: its latest inventory snapshot's, else the one the nightly run computed",
	usesBaselineDays: false,
	async read(env, site, rule, now) {
		// The latest snapshot of each SKU taken by `now`. Against a reorder point (a relative threshold), a SKU whose
		// latest snapshot has none is not watched, so an incident opened for it resolves.
		const rows = await env.DB.prepare(
			// The store's reorder point, else the one the latest nightly run computed (inventory_plan, rounded up).
			`SELECT sku, stock, reorder_point, taken_at, name FROM (
				SELECT s.sku, s.stock, s.taken_at, p.name,
					COALESCE(s.reorder_point, (SELECT CAST(ip.reorder_point AS INTEGER) + (ip.reorder_point > CAST(ip.reorder_point AS INTEGER)) FROM inventory_plan ip
						WHERE ip.site = s.site AND ip.sku = s.sku AND ip.as_of = (SELECT MAX(r.as_of) FROM analytics_runs r WHERE r.site = s.site AND r.status = 'complete'))) AS reorder_point
				FROM inventory_snapshots s LEFT JOIN products p ON p.site = s.site AND p.sku = s.sku
				WHERE s.site = ?1 AND s.taken_at = (SELECT MAX(t.taken_at) FROM inventory_snapshots t WHERE t.site = s.site AND t.sku = s.sku AND t.taken_at <= ?2)
			) WHERE ?3 = 'absolute' OR reorder_point IS NOT NULL
			ORDER BY sku`,
		)
			.bind(site.id, now, rule.thresholdKind)
			.all<{ sku: string; stock: number; reorder_point: number | null; taken_at: number; name: string | null }>();
		return {
			status: "ok",
			readings: rows.results.map((r) => ({ key: r.sku, label: r.name ?? r.sku, value: r.stock, baseline: r.reorder_point, period: `snapshot of ${new Date(r.taken_at).toISOString()}` })),
		};
	},
});

const NO_CHURN_MODEL = "no churn model has scored this site's customers yet (the nightly analytics trains one once there are enough customers; the churn_rate KPI is observed lapses, not a prediction)";
/** Segments whose customers are worth a warning when they are likely to leave. */
const WATCHED_SEGMENTS = ["Champions", "Loyal_Customers", "Cannot_Lose", "At_Risk"];
registerMetric("model:predicted_churn_rate", {
	name: "Predicted churn rate",
	unit: "probability",
	windows: ["now"],
	baseline: "none",
	usesBaselineDays: false,
	// One reading per valuable RFM segment: the mean churn probability of its customers in the latest nightly
	// run (the promoted churn model's). Per segment, not per customer: a handful of actionable incidents
	// ("Cannot_Lose customers: 0.84") instead of one per customer.
	async read(env, site) {
		const run = await env.DB.prepare(
			"SELECT MAX(as_of) AS d FROM analytics_runs r WHERE r.site = ? AND r.status = 'complete' AND EXISTS (SELECT 1 FROM churn_scores c WHERE c.site = r.site AND c.as_of = r.as_of)",
		)
			.bind(site.id)
			.first<{ d: string | null }>();
		if (!run?.d) return { status: "waiting_for_model", reason: NO_CHURN_MODEL };
		const rows = await env.DB.prepare(
			`SELECT s.segment, AVG(c.probability) AS p, COUNT(*) AS n FROM churn_scores c JOIN rfm_scores s ON s.site = c.site AND s.as_of = c.as_of AND s.customer_id = c.customer_id
			WHERE c.site = ?1 AND c.as_of = ?2 AND s.segment IN (SELECT value FROM json_each(?3)) GROUP BY s.segment ORDER BY s.segment`,
		)
			.bind(site.id, run.d, JSON.stringify(WATCHED_SEGMENTS))
			.all<{ segment: string; p: number; n: number }>();
		return {
			status: "ok",
			readings: rows.results.map((r) => ({ key: r.segment, label: `${r.segment.replace("_", " ")} customers (${r.n})`, value: r.p, baseline: null, period: `nightly run of ${run.d}` })),
		};
	},
});
