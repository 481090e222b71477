/**
 * The dashboard's only way to the Worker: same-origin `fetch` with the session cookie, JSON in and out.
 * The shapes below are the parts of /api/v1/openapi.json the dashboard reads (kept by hand: the
 * dashboard imports no Worker code).
 */
import { useEffect, useState } from "preact/hooks";

export type Role = "admin" | "executive" | "analyst" | "operations";
export type Grain = "day" | "week" | "month" | "quarter";
export type Compare = "previous" | "yoy";

export interface Me {
	kind: "user" | "key";
	id: string;
	email?: string;
	name?: string;
	role?: Role;
	scopes: string[];
	can_see_pii: boolean;
}

export interface Site {
	id: string;
	name: string;
	timezone: string;
	currency: string;
}

export interface CatalogKpi {
	id: string;
	name: string;
	area: string;
	description: string;
	formula: string;
	unit: string;
	good: "up" | "down";
	breakdowns: string[];
	roles: Role[];
}

/** KPI answers: the Worker's own types (type-only import, erased from the bundle). */
export type { Point as KpiPoint, SeriesPoint as KpiSeriesPoint, KpiResult, KpiResponse } from "../../workers/metrics/types";

export interface Alert {
	id: string;
	rule_id: string;
	rule_name: string;
	metric: string;
	severity: "info" | "warning" | "critical";
	key: string;
	label: string | null;
	state: "firing" | "resolved";
	value: number | null;
	baseline: number | null;
	limit: number | null;
	period: string;
	started_at: number;
}

/** A funnel report's step and summary: the Worker's own types (type-only import, erased from the bundle). */
export type { StepSummary as FunnelStep, FunnelSummary } from "../../workers/funnels/match";
import type { FunnelSummary } from "../../workers/funnels/match";
export interface FunnelReport extends FunnelSummary {
	funnel: { id: string; name: string };
	from: string;
	to: string;
	by?: "channel" | "device" | null;
	/** With `by`: per channel or device of the step-1 event. */
	groups?: (FunnelSummary & { key: string })[];
}

// ─── customers (workers/customers/routes.ts) ─────────────────────────────────────────────────────

export interface Segment {
	key: string;
	customers: number;
	share_pct: number | null;
	orders: number;
	revenue: number;
}
export interface CustomersOverview {
	site: string;
	currency: string;
	timezone: string;
	from: string;
	to: string;
	totals: { customers: number; orders: number; revenue: number; new_customers: number; returning_customers: number; new_pct: number | null };
	by_country: Segment[];
	by_channel: Segment[];
	by_device: Segment[];
	purchase_frequency: Segment[];
}
export type CustomerSort = "revenue" | "orders" | "last_order";
export interface CustomerListItem {
	id: string;
	country: string | null;
	channel: string | null;
	created_at: number | null;
	first_order: number | null;
	last_order: number | null;
	orders: number;
	revenue: number;
	/** Only for roles that may see PII (absent otherwise). */
	email?: string | null;
	name?: string | null;
}
export interface CustomerList {
	site: string;
	currency: string;
	sort: CustomerSort;
	customers: CustomerListItem[];
	next_cursor: string | null;
}
export interface ProfileOrder {
	order_id: string;
	placed_at: number;
	paid_at: number | null;
	shipped_at: number | null;
	delivered_at: number | null;
	status: string;
	channel: string | null;
	coupon: string | null;
	currency: string;
	subtotal: number | null;
	discount: number;
	shipping: number;
	tax: number;
	total: number;
	is_subscription: boolean;
	items: { sku: string; name: string | null; qty: number; unit_price: number; line_total: number }[];
	refunds: { refund_id: string; created_at: number; amount: number; currency: string; reason: string | null; sku: string | null; qty: number | null; is_return: boolean }[];
}
export interface CustomerProfile {
	site: string;
	currency: string;
	customer: { id: string; created_at: number | null; country: string | null; channel: string | null; is_subscriber: boolean | null; subscription_status: string | null; email?: string | null; name?: string | null };
	lifetime: { orders: number; cancelled_orders: number; revenue: number; refunded: number; aov: number | null; first_order: number | null; last_order: number | null };
	orders: ProfileOrder[];
	events: { id: string; name: string; ts: number; path: string; channel: string; device: string }[];
	tickets: { ticket_id: string; order_id: string | null; channel: string | null; category: string | null; status: string; opened_at: number; first_response_at: number | null; resolved_at: number | null }[];
	surveys: { response_id: string; kind: string; score: number; responded_at: number; order_id: string | null }[];
	/** The nightly analytics' view of the customer (optional: Workers before it leave it out). */
	analytics?: CustomerAnalytics;
}
export interface Journeys {
	from: string;
	to: string;
	sessions: number;
	sessions_with_page_view: number;
	converting_sessions: number;
	entry_pages: { path: string; sessions: number; share_pct: number | null }[];
	conversion_paths: { path: string; pages: string[]; sessions: number; share_pct: number | null }[];
}

// ─── products (workers/products/routes.ts) ───────────────────────────────────────────────────────

export interface ProductMetrics {
	revenue: number | null;
	units: number | null;
	gross_margin_pct: number | null;
	product_page_conversion_pct: number | null;
	return_rate_pct: number | null;
}
export interface ProductStock {
	stock: number | null;
	reorder_point: number | null;
	stock_taken_at: number | null;
	days_of_cover: number | null;
	stockout_days: number;
}
export interface ProductRow extends ProductMetrics, ProductStock {
	sku: string;
	name: string;
	category: string | null;
	price: number | null;
	unit_cost: number | null;
}
export type ProductSort = "revenue" | "units" | "gross_margin_pct" | "product_page_conversion_pct" | "return_rate_pct" | "stock" | "days_of_cover" | "sku";
export interface ProductCatalogue {
	site: string;
	currency: string;
	from: string;
	to: string;
	cover_days: number;
	products: ProductRow[];
}
export interface ProductPerformance {
	site: string;
	currency: string;
	from: string;
	to: string;
	grain: Grain;
	product: { sku: string; name: string; category: string | null; brand: string | null; price: number | null; unit_cost: number | null; unit_margin: number | null; unit_margin_pct: number | null };
	totals: ProductMetrics;
	series: (ProductMetrics & { period: string; from: string; to: string })[];
	inventory: ProductStock & { snapshots: { taken_at: number; stock: number; reorder_point: number | null }[]; stockouts: { from: number; to: number }[] };
	/** The latest nightly run's demand forecast and suggested reorder point; null before a run. */
	plan: {
		as_of: string;
		demand_per_day: number;
		demand_sd: number;
		lead_time_days: number | null;
		lead_time_sd: number | null;
		lead_source: string;
		service_level: number;
		safety_stock: number | null;
		reorder_point: number | null;
		days_of_cover: number | null;
		stockout_risk: number | null;
		forecast_30d: { mean: number; lower95: number; upper95: number; method: string };
	} | null;
}

/** The live snapshot: the Worker's own type (type-only import, erased from the bundle). */
export type { LiveSnapshot, WindowStats as LiveWindow } from "../../workers/realtime/snapshot";

/** An answer other than 2xx, with the API's `{error, message}` when it sent one. */
export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
	) {
		super(message);
	}
}

/** Listeners told when any call answers 401 (the session ended): the shell shows the sign-in page. */
const unauthorized = new Set<() => void>();
export const onUnauthorized = (fn: () => void) => {
	unauthorized.add(fn);
	return () => unauthorized.delete(fn);
};

export function apiUrl(path: string, query: Record<string, string | undefined | null> = {}): string {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
	const s = q.toString();
	return `/api/v1${path}${s ? `?${s}` : ""}`;
}

/**
 * The API's error answer (`{error, message, fields?}`) as an HttpError; with `withFields`, the fields it
 * names are appended to the message ("… (period: must be …)"), for forms that show it to the reader.
 */
export async function httpErrorOf(res: Response, withFields = false): Promise<HttpError> {
	let code = String(res.status);
	let message = res.statusText || `HTTP ${res.status}`;
	try {
		const body = (await res.json()) as { error?: string; message?: string; fields?: { field: string; message: string }[] };
		code = body.error ?? code;
		message = body.message ?? message;
		const fields = withFields ? (body.fields ?? []).map((f) => `${f.field}: ${f.message}`).join("; ") : "";
		if (fields) message = `${message} (${fields})`;
	} catch {
		// not JSON: keep the status text
	}
	if (res.status === 401) for (const fn of unauthorized) fn();
	return new HttpError(res.status, code, message);
}

/** GET a JSON API path; throws HttpError on a non-2xx answer. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
	const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
	if (!res.ok) throw await httpErrorOf(res);
	return (await res.json()) as T;
}

/** GET an API path as text (e.g. a report's HTML); throws HttpError naming the fields the API names. */
export async function getText(url: string, accept: string): Promise<string> {
	const res = await fetch(url, { headers: { Accept: accept }, credentials: "same-origin" });
	if (!res.ok) throw await httpErrorOf(res, true);
	return res.text();
}

/** A JSON write (POST, PUT, DELETE); throws HttpError with the API's message and the fields it names. */
export async function sendJson<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", url: string, body?: unknown): Promise<T> {
	const res = await fetch(url, {
		method,
		headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
		body: body === undefined ? undefined : JSON.stringify(body),
		credentials: "same-origin",
	});
	if (!res.ok) throw await httpErrorOf(res, true);
	return (await res.json()) as T;
}

export const postJson = <T>(url: string, body?: unknown): Promise<T> => sendJson<T>("POST", url, body);

export interface Loadable<T> {
	data: T | null;
	error: HttpError | Error | null;
	loading: boolean;
}

/** Loads `url` (null: nothing to load) and reloads whenever it changes; aborts the previous request. */
export function useJson<T>(url: string | null): Loadable<T> {
	const [state, setState] = useState<Loadable<T>>({ data: null, error: null, loading: url !== null });
	useEffect(() => {
		if (url === null) {
			setState({ data: null, error: null, loading: false });
			return;
		}
		const ctl = new AbortController();
		setState((s) => ({ data: s.data, error: null, loading: true }));
		getJson<T>(url, ctl.signal).then(
			(data) => setState({ data, error: null, loading: false }),
			(error: unknown) => {
				if (ctl.signal.aborted) return;
				setState({ data: null, error: error instanceof Error ? error : new Error(String(error)), loading: false });
			},
		);
		return () => ctl.abort();
	}, [url]);
	return state;
}

// ─── nightly customer analytics (workers/analytics/routes.ts, profile.ts) ───────────────────────
// Results of the latest complete nightly run; before any run the endpoints answer 404 `no_results`.

export interface AnalyticsRun {
	id: string;
	site: string;
	as_of: string;
	trigger: "cron" | "manual" | "start";
	status: "queued" | "running" | "complete" | "errored";
	created_at: number;
	started_at: number | null;
	finished_at: number | null;
	error: string | null;
	steps: { step: string; status: "running" | "complete" | "errored"; attempts: number; duration_ms: number | null; error: string | null }[];
}

export interface RfmSegment {
	segment: string;
	customers: number;
	/** Fraction 0–1 of the scored customers. */
	customer_share: number | null;
	/** Major units of the site currency. */
	revenue: number;
	/** Fraction of the window's net revenue; null when that total is ≤ 0. */
	revenue_share: number | null;
	average_order_value: number | null;
	mean_recency_days: number | null;
	ranges: { r: number[]; f: number[]; m: number[] } | null;
	action: string;
}
export interface Segments {
	site: string;
	as_of: string;
	currency: string;
	window_days: number;
	customers: number;
	segments: RfmSegment[];
}
export interface SegmentMovement {
	site: string;
	from: string | null;
	to: string;
	labels: string[];
	/** counts[from][to]. */
	counts: number[][];
	available: string[];
}
export type SegmentSort = "monetary" | "recency" | "frequency" | "customer";
export interface SegmentCustomer {
	customer_id: string;
	recency_days: number;
	frequency: number;
	monetary: number;
	r: number;
	f: number;
	m: number;
}
export interface SegmentCustomers {
	site: string;
	as_of: string;
	segment: string;
	total: number;
	customers: SegmentCustomer[];
	next_cursor: string | null;
}

/** Cohort documents (workers/analytics/cohorts.ts): money in integer minor units, pct a fraction 0–1. */
export interface CohortPeriod {
	k: number;
	customers: number;
	pct: number;
	revenueMinor: number;
	cumulativeRevenuePerCustomerMinor: number;
	partial: boolean;
}
export interface Cohort {
	cohort: string;
	start: string;
	size: number;
	periods: CohortPeriod[];
}
export interface ChannelCohort {
	channel: string;
	customers: number;
	periods: { k: number; cohorts: number; customers: number; retained: number; pct: number; cumulativeRevenuePerCustomerMinor: number }[];
	cohorts: Cohort[];
}
export interface ProductAdoption {
	categories: string[];
	rows: { category: string; customers: number; adopted: { category: string; customers: number; share: number | null }[] }[];
}
export type CohortGrain = "month" | "week";
export interface CohortAnswer<T> {
	site: string;
	as_of: string;
	kind: string;
	grain: CohortGrain | null;
	currency: string;
	result: T;
}
export type RetentionAnswer = CohortAnswer<{ grain: CohortGrain; cohorts: Cohort[] }>;
export type ChannelAnswer = CohortAnswer<{ grain: CohortGrain; channels: ChannelCohort[] }>;
export type AdoptionAnswer = CohortAnswer<ProductAdoption>;

export interface BasketRule {
	antecedent: string[];
	consequent: string[];
	count: number;
	support: number;
	confidence: number;
	lift: number;
	/** null when confidence is 1 (infinite). */
	conviction: number | null;
}
export interface BasketRules {
	site: string;
	as_of: string;
	level: "product" | "category";
	baskets: number;
	total: number;
	rules: BasketRule[];
}
export interface Bundle {
	items: string[];
	count: number;
	support: number;
	lift: number;
	bestRule: (BasketRule & { leverage?: number }) | null;
	/** Combined unit margin, major units; null when a unit cost is unknown. */
	margin: number | null;
}
export interface Seasonality {
	category: string;
	/** Jan…Dec, 1.0 = a typical month; null with under 12 months of history. */
	index: number[] | null;
	from: string | null;
	to: string | null;
	months: number;
}
export interface BasketBundles {
	site: string;
	as_of: string;
	currency: string;
	baskets: number;
	bundles: Bundle[];
	seasonality: Seasonality[];
}

export interface ClvModel {
	site: string;
	as_of: string;
	currency: string;
	model:
		| { status: "insufficient_data"; reason: string }
		| {
				status: "ok";
				customers: number;
				repeat_customers: number;
				bg_nbd: { r: number; alpha: number; a: number; b: number; logLikelihood?: number };
				gamma_gamma: { p: number; q: number; gamma: number; logLikelihood?: number } | null;
				margin: number | null;
				margin_source: string;
				horizon_months: number;
				monthly_discount_rate: number;
				holdout: { calibration_end: string; holdout_days: number; customers: number; totalPredicted: number; totalActual: number; buckets: { x: number; label: string; customers: number; meanPredicted: number | null; meanActual: number | null }[] } | null;
		  };
}
export type ClvSort = "clv" | "p_alive" | "expected_90";
export interface ClvCustomer {
	customer_id: string;
	p_alive: number;
	expected_30: number;
	expected_90: number;
	expected_365: number;
	expected_spend: number;
	clv: number;
	recency_days: number | null;
	segment: string | null;
}
export interface ClvCustomers {
	site: string;
	as_of: string;
	currency: string;
	customers: ClvCustomer[];
	distribution: { from: number; to: number | null; customers: number }[];
	p_alive_by_recency: { from_days: number; to_days: number | null; customers: number; mean_p_alive: number | null }[];
	total_clv: number;
}

/** `analytics` of GET /customers/{id} (absent from older Workers). */
export interface CustomerAnalytics {
	as_of: string | null;
	rfm: { recency_days: number; frequency: number; monetary: number; r: number; f: number; m: number; segment: string; action: string } | null;
	segment_history: { as_of: string; segment: string; r: number; f: number; m: number }[];
	clv: { p_alive: number; expected_30: number; expected_90: number; expected_365: number; expected_spend: number | null; clv: number | null } | null;
	/** The latest run's next best action for the customer (absent from older Workers). */
	next_action?: { action: string; reason: string } | null;
}

// ─── predictions (GET /models, /churn, /recommendations, /actions) ───────────────────────────────

export interface CalibrationBin {
	lower: number;
	upper: number;
	count: number;
	meanPredicted: number | null;
	observedRate: number | null;
}

/** One version of a model in the registry (metrics and baseline vary by model: see ChurnMetrics, RecMetrics). */
export interface ModelVersion {
	name: string;
	version: number;
	as_of: string;
	trained_at: number;
	params: unknown;
	training_window: unknown;
	metrics: unknown;
	baseline: unknown;
	promoted: boolean;
	decision: string;
}
export interface Models {
	site: string;
	models: ModelVersion[];
}
export interface ChurnMetrics {
	roc_auc: number | null;
	pr_auc: number | null;
	lift_at_10pct: number | null;
	customers?: number;
	churned?: number;
	calibration?: CalibrationBin[];
}
export interface ChurnBaseline {
	name?: string;
	roc_auc: number | null;
	pr_auc: number | null;
	lift_at_10pct: number | null;
}
export interface RecMetrics {
	models?: Record<string, { hitRate: number | null; ndcg: number | null }>;
	chosen?: string;
	hit_rate_at_10: number | null;
	ndcg_at_10: number | null;
}
export interface RecBaseline {
	name?: string;
	hit_rate_at_10: number | null;
	ndcg_at_10: number | null;
}

export interface ChurnReason {
	feature: string;
	value: number | null;
	contribution: number;
}
export interface ChurnCustomer {
	customer_id: string;
	probability: number;
	reasons: ChurnReason[];
	segment: string | null;
	value_at_stake: number | null;
	model_version: number;
}
export interface ChurnAnswer {
	site: string;
	as_of: string;
	currency: string;
	total: number;
	distribution: { from: number; to: number; customers: number }[];
	customers: ChurnCustomer[];
	next_cursor: string | null;
}
export interface Recommendations {
	site: string;
	as_of: string;
	kind: "customer" | "product";
	subject: string;
	model_version: number;
	items: { sku: string; score: number; why: string }[];
}
export type NextAction = "win_back" | "vip_care" | "replenishment" | "cross_sell" | "nurture" | "none";
export interface Actions {
	site: string;
	as_of: string;
	counts: { action: string; customers: number }[];
	customers: { customer_id: string; action: string; reason: string; priority: number | null; details: unknown }[];
}
