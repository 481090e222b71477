/**
 * The Report object (issue 13): what `buildReport` (build.ts) produces, what `renderHtml`/`renderCsv`
 * (render.ts) render and what the archive keeps as JSON. No runtime code and no Worker types, so the
 * dashboard and the delivery code can import it as types.
 *
 * Numbers are the engines' answers as their APIs give them: a KPI's value in its catalogue unit (money in
 * major units of `currency`, rates in percent), so a report's number can be checked against
 * `GET /api/v1/kpis` for the same range. Days are the site's local days (`period.tz`).
 */

export const REPORT_KINDS = ["executive", "product", "daily", "financial"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export type PeriodGrain = "day" | "week" | "month" | "quarter";

export interface ReportPeriod {
	/** 2026-12-02, 2026-W48, 2026-11 or 2026-Q4. */
	label: string;
	grain: PeriodGrain;
	/** First and last local day, inclusive (YYYY-MM-DD). */
	from: string;
	to: string;
	/** The site's IANA time zone. */
	tz: string;
	/** [start, end) in UTC epoch ms. */
	start: number;
	end: number;
}

/** One number of a section. `unit` is the catalogue's: currency (major units), percent, count, hours, score… */
export interface ReportMetric {
	/** The KPI id when the number is a KPI (`GET /api/v1/kpis?ids=`), else a descriptive id. */
	id: string;
	label: string;
	unit: string;
	value: number | null;
	/** The comparison value (previous period, same weekday last week, 28-day average…; the section says which). */
	compare?: number | null;
	/** 100 × (value − compare) ÷ |compare|; null when either is null or compare is 0. */
	delta_pct?: number | null;
	/** A second comparison (the daily report: the 28-day average). */
	compare2?: number | null;
	delta2_pct?: number | null;
	target?: number | null;
	/** % of target. */
	progress?: number | null;
	/** Why the value is null (a zero denominator, no data), when it is. */
	note?: string;
}

/** A finding of a rule (rules.ts): an achievement or an action item, with the rule that made it. */
export interface ReportFinding {
	kind: "achievement" | "action";
	rule: string;
	text: string;
	/** A relative API link (e.g. the CSV export of the customers to act on). */
	link?: string;
	count?: number;
}

export interface ChartPoint {
	label: string;
	value: number | null;
	lower80?: number;
	upper80?: number;
	lower95?: number;
	upper95?: number;
}

export interface ReportChart {
	title: string;
	unit: string;
	kind: "bars" | "band";
	points: ChartPoint[];
}

export interface ReportSection {
	id: string;
	title: string;
	/** Sentences built from the numbers below (never free text without a number behind it). */
	text: string[];
	metrics: ReportMetric[];
	findings?: ReportFinding[];
	chart?: ReportChart;
	/** Names of the report's tables that belong to this section. */
	tables: string[];
}

export interface ReportColumn {
	key: string;
	label: string;
	/** text, count, currency, percent, score, days, hours, probability… */
	unit: string;
}

export interface ReportTable {
	name: string;
	title: string;
	columns: ReportColumn[];
	rows: Record<string, string | number | null>[];
}

export interface Report {
	kind: ReportKind;
	site: string;
	/** The SKU of a product report; null for the others. */
	subject: string | null;
	period: ReportPeriod;
	title: string;
	/** UTC epoch ms. */
	generated_at: number;
	currency: string;
	sections: ReportSection[];
	tables: ReportTable[];
	/** Sections left out, each with a one-line reason (no data yet, no model, data we do not have). */
	omitted: { section: string; reason: string }[];
}

export interface ReportRequest {
	site: string;
	kind: ReportKind;
	period: string;
	sku?: string;
}
