/**
 * The metric catalogue: every KPI defined once — what it means, its formula, unit, which direction is
 * good, which breakdowns it supports and which rollup measures it is computed from. The query API,
 * the dashboard, reports and alerts all read KPIs through this file, so a number means the same
 * everywhere. Pure: no bindings (tests feed measures and check values).
 *
 * Conventions: money is integer minor units in the site currency inside the engine and is reported in
 * major units; rates are reported in percent (0–100); days are the site's local days.
 */

export const DIMS = ["channel", "country", "device", "category", "product", "segment"] as const;
export type Dim = (typeof DIMS)[number];
export const AREAS = ["financial", "conversion", "customer", "operational"] as const;
export type Area = (typeof AREAS)[number];
export type Unit = "currency" | "percent" | "count" | "hours" | "days" | "days²" | "months" | "score";

/**
 * Rollup tables the measures come from, the breakdowns each supports, and its grouping-set columns
 * (rollup rows hold '' in every such column for the whole site, and one column set per breakdown row;
 * `marketing_spend` is the raw daily table, one row per channel).
 */
export const TABLES = {
	// `segment` (the customer's RFM segment in the latest nightly run) is read from kpi_segment_daily, which
	// holds the same columns per day × segment, written by the nightly run up to its as-of day (query.ts dimSql).
	sales: { table: "kpi_sales_daily", dims: ["channel", "country", "segment"], sets: ["channel", "country"] },
	products: { table: "kpi_products_daily", dims: ["product", "category"], sets: ["sku"] },
	web: { table: "kpi_web_daily", dims: ["channel", "device", "country"], sets: ["channel", "device", "country"] },
	product_views: { table: "kpi_product_views_daily", dims: ["product", "category"], sets: ["sku"] },
	spend: { table: "marketing_spend", dims: ["channel"], sets: [] },
	support: { table: "kpi_support_daily", dims: [], sets: [] },
	inventory: { table: "kpi_inventory_daily", dims: [], sets: [] },
	supply: { table: "kpi_supply_daily", dims: [], sets: [] },
	customers: { table: "kpi_customers_daily", dims: [], sets: [] },
} as const satisfies Record<string, { table: string; dims: readonly Dim[]; sets: readonly string[] }>;
export type TableId = keyof typeof TABLES;

/**
 * A measure: an aggregate over one rollup table. `sum` adds over days and breakdown keys; `list`
 * concatenates JSON arrays (exact medians); `first` takes the value on the first day of the range
 * (a level, such as customers active at the start).
 */
export interface Measure {
	table: TableId;
	column: string;
	kind: "sum" | "list" | "first";
}

const sum = (table: TableId, column: string): Measure => ({ table, column, kind: "sum" });
export const MEASURES = {
	orders: sum("sales", "orders"),
	revenue: sum("sales", "revenue"),
	discount: sum("sales", "discount"),
	shipping: sum("sales", "shipping"),
	tax: sum("sales", "tax"),
	line_revenue: sum("sales", "line_revenue"),
	costed_revenue: sum("sales", "costed_revenue"),
	cogs: sum("sales", "cogs"),
	units: sum("sales", "units"),
	multi_sku_orders: sum("sales", "multi_sku_orders"),
	first_orders: sum("sales", "first_orders"),
	subscription_revenue: sum("sales", "subscription_revenue"),
	shipped_orders: sum("sales", "shipped_orders"),
	fulfil_ms: sum("sales", "fulfil_ms"),
	refunds: sum("sales", "refunds"),
	refund_amount: sum("sales", "refund_amount"),
	returns: sum("sales", "returns"),
	shipping_errors: sum("sales", "shipping_errors"),
	product_orders: sum("products", "orders"),
	product_units: sum("products", "units"),
	product_revenue: sum("products", "line_revenue"),
	product_costed_revenue: sum("products", "costed_revenue"),
	product_cogs: sum("products", "cogs"),
	product_returned_units: sum("products", "returned_units"),
	visitors: sum("web", "visitors"),
	sessions: sum("web", "sessions"),
	page_views: sum("web", "page_views"),
	bounces: sum("web", "bounces"),
	duration_ms: sum("web", "duration_ms"),
	view_sessions: sum("web", "view_sessions"),
	view_purchase_sessions: sum("web", "view_purchase_sessions"),
	cart_sessions: sum("web", "cart_sessions"),
	cart_purchase_sessions: sum("web", "cart_purchase_sessions"),
	checkout_sessions: sum("web", "checkout_sessions"),
	checkout_purchase_sessions: sum("web", "checkout_purchase_sessions"),
	purchase_sessions: sum("web", "purchase_sessions"),
	product_view_sessions: sum("product_views", "view_sessions"),
	product_purchase_sessions: sum("product_views", "purchase_sessions"),
	spend: sum("spend", "amount_minor"),
	tickets_opened: sum("support", "tickets_opened"),
	tickets_resolved: sum("support", "tickets_resolved"),
	resolution_ms: { table: "support", column: "resolution_ms", kind: "list" },
	nps_responses: sum("support", "nps_responses"),
	promoters: sum("support", "promoters"),
	detractors: sum("support", "detractors"),
	csat_responses: sum("support", "csat_responses"),
	csat_satisfied: sum("support", "csat_satisfied"),
	sku_days: sum("inventory", "skus"),
	stockout_days: sum("inventory", "stockouts"),
	inventory_value_days: sum("inventory", "inventory_value"),
	inventory_days: { table: "inventory", column: "1", kind: "sum" },
	deliveries: sum("supply", "delivered"),
	on_time: sum("supply", "on_time"),
	lead_days_sum: sum("supply", "lead_days_sum"),
	lead_days_sq: sum("supply", "lead_days_sq"),
	active_customers: { table: "customers", column: "active", kind: "first" },
	lapsed_customers: sum("customers", "lapsed"),
} as const satisfies Record<string, Measure>;
export type MeasureId = keyof typeof MEASURES;

/** Measure values of one period: numbers, or the sorted list of a `list` measure. */
export type Values = { [K in MeasureId]?: (typeof MEASURES)[K]["kind"] extends "list" ? number[] : number };

export interface PeriodContext {
	/** Days in the period (for monthly normalisation). */
	days: number;
	/** Minor units per major unit of the site currency (100 for EUR). */
	minorPerMajor: number;
}

export interface Kpi {
	id: string;
	name: string;
	area: Area;
	description: string;
	formula: string;
	unit: Unit;
	good: "up" | "down";
	measures: MeasureId[];
	/** Growth KPIs: compares `of` with the previous period of the grain, or the same period a year before. */
	growth?: { of: string; lag: "period" | "year" };
	/** Roles that may see it (all when absent). */
	roles?: readonly ("admin" | "executive" | "analyst" | "operations")[];
	compute(v: Required<Values>, p: PeriodContext): number | null;
	/** When `compute` is null for want of an input (no data rather than a true zero): why, for the answer's `reason`. */
	why?(v: Required<Values>): string | null;
}

const DAYS_PER_MONTH = 365.2425 / 12;
const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);
const pct = (a: number, b: number): number | null => (b === 0 ? null : (100 * a) / b);
const money = (minor: number, p: PeriodContext) => minor / p.minorPerMajor;
const moneyRatio = (minor: number, count: number, p: PeriodContext) => (count === 0 ? null : minor / count / p.minorPerMajor);
const months = (p: PeriodContext) => p.days / DAYS_PER_MONTH;
const grossMarginPct = (v: Required<Values>) => pct(v.costed_revenue - v.cogs, v.costed_revenue);
/** Monthly churn: lapses per customer active at the start, scaled to a 30.44-day month. */
const monthlyChurn = (v: Required<Values>, p: PeriodContext) => (v.active_customers === 0 ? null : v.lapsed_customers / v.active_customers / months(p));
const STRATEGIC = ["admin", "executive", "analyst"] as const;
const NO_SPEND = "no marketing spend recorded for the period (PUT /api/v1/spend)";
/** A web ratio without sessions has no input, not a 0 % or 100 % rate: the tracker recorded nothing then. */
const NO_WEB = "no web sessions recorded in the period (no tracker events, imported events or imported web history: PUT /api/v1/web_daily)";
/** Why a session-based ratio is null: no web data at all, or none of the sessions reached the denominator's step. */
const webWhy = (step: string) => (v: Required<Values>) => (v.sessions === 0 ? NO_WEB : `no sessions ${step} in the period`);

function median(sorted: number[]): number | null {
	if (!sorted.length) return null;
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const K = (k: Kpi) => k;

export const KPIS: readonly Kpi[] = [
	// ── financial ──
	K({
		id: "revenue", name: "Revenue", area: "financial", unit: "currency", good: "up", measures: ["revenue"],
		description: "Sales of orders placed in the period, excluding cancelled orders and tax; refunds are not subtracted (see net revenue).",
		formula: "Σ (order total − tax) over non-cancelled orders, by the order's local day",
		compute: (v, p) => money(v.revenue, p),
	}),
	K({
		id: "net_revenue", name: "Net revenue", area: "financial", unit: "currency", good: "up", measures: ["revenue", "refund_amount"],
		description: "Revenue minus refunds issued in the period (refunds on their own day, so a day can be negative). An order with status refunded or returned and no refund record counts as a full refund of its total on the day it was placed (orders carry no status date); once a refund record exists for it, the records count instead.",
		formula: "revenue − Σ refund amounts (refunds of cancelled orders excluded)",
		compute: (v, p) => money(v.revenue - v.refund_amount, p),
	}),
	K({
		id: "revenue_growth_mom", name: "Revenue growth (period over period)", area: "financial", unit: "percent", good: "up", measures: ["revenue"],
		growth: { of: "revenue", lag: "period" },
		description: "Change of revenue against the previous period of the same grain (month over month at monthly grain).",
		formula: "(revenue − revenue of previous period) ÷ revenue of previous period × 100",
		compute: (v, p) => money(v.revenue, p),
	}),
	K({
		id: "revenue_growth_yoy", name: "Revenue growth (year over year)", area: "financial", unit: "percent", good: "up", measures: ["revenue"],
		growth: { of: "revenue", lag: "year" },
		description: "Change of revenue against the same period one year earlier.",
		formula: "(revenue − revenue a year earlier) ÷ revenue a year earlier × 100",
		compute: (v, p) => money(v.revenue, p),
	}),
	K({
		id: "orders", name: "Orders", area: "financial", unit: "count", good: "up", measures: ["orders"],
		description: "Orders placed in the period, excluding cancelled ones.", formula: "count of non-cancelled orders",
		compute: (v) => v.orders,
	}),
	K({
		id: "aov", name: "Average order value", area: "financial", unit: "currency", good: "up", measures: ["revenue", "orders"],
		description: "Revenue per order.", formula: "revenue ÷ orders",
		compute: (v, p) => moneyRatio(v.revenue, v.orders, p),
	}),
	K({
		id: "gross_margin", name: "Gross margin", area: "financial", unit: "percent", good: "up", measures: ["costed_revenue", "cogs"],
		description: "Share of line revenue left after the cost of goods, over order lines whose unit cost is known (the line's cost, else the product's).",
		formula: "(Σ qty × unit price − Σ qty × unit cost) ÷ Σ qty × unit price × 100, lines with a known cost",
		compute: (v) => grossMarginPct(v),
	}),
	K({
		id: "gross_profit", name: "Gross profit", area: "financial", unit: "currency", good: "up", measures: ["costed_revenue", "cogs"],
		description: "Line revenue minus cost of goods, over lines whose unit cost is known.", formula: "Σ qty × (unit price − unit cost)",
		compute: (v, p) => money(v.costed_revenue - v.cogs, p),
	}),
	K({
		id: "product_revenue", name: "Product revenue", area: "financial", unit: "currency", good: "up", measures: ["product_revenue"],
		description: "Line revenue (quantity × unit price, before order discounts) by product or category.", formula: "Σ qty × unit price over non-cancelled orders",
		compute: (v, p) => money(v.product_revenue, p),
	}),
	K({
		id: "product_gross_margin", name: "Gross margin by product", area: "financial", unit: "percent", good: "up", measures: ["product_costed_revenue", "product_cogs"],
		description: "Gross margin computed per product or category (break down by product or category).",
		formula: "(Σ line revenue − Σ line cost) ÷ Σ line revenue × 100, lines with a known cost",
		compute: (v) => pct(v.product_costed_revenue - v.product_cogs, v.product_costed_revenue),
	}),
	K({
		id: "units_sold", name: "Units sold", area: "financial", unit: "count", good: "up", measures: ["product_units"],
		description: "Items sold in non-cancelled orders.", formula: "Σ qty",
		compute: (v) => v.product_units,
	}),
	K({
		id: "mrr", name: "Monthly recurring revenue", area: "financial", unit: "currency", good: "up", measures: ["subscription_revenue"], roles: STRATEGIC,
		description: "Subscription order revenue per month over the period (subscription orders are the recurring renewals).",
		formula: "Σ revenue of subscription orders ÷ months in period (days ÷ 30.44)",
		compute: (v, p) => money(v.subscription_revenue, p) / months(p),
	}),
	K({
		id: "arr", name: "Annual recurring revenue", area: "financial", unit: "currency", good: "up", measures: ["subscription_revenue"], roles: STRATEGIC,
		description: "MRR × 12.", formula: "MRR × 12",
		compute: (v, p) => (money(v.subscription_revenue, p) / months(p)) * 12,
	}),
	K({
		id: "new_customers", name: "New customers", area: "financial", unit: "count", good: "up", measures: ["first_orders"],
		description: "Customers whose first (non-cancelled) order was placed in the period.", formula: "count of first orders",
		compute: (v) => v.first_orders,
	}),
	K({
		id: "marketing_spend", name: "Marketing spend", area: "financial", unit: "currency", good: "down", measures: ["spend"], roles: STRATEGIC,
		description: "Marketing spend reported per channel and day.", formula: "Σ spend",
		compute: (v, p) => money(v.spend, p),
	}),
	K({
		id: "refunds", name: "Refunds", area: "financial", unit: "currency", good: "down", measures: ["refund_amount"],
		description: "Money refunded in the period, by the refund's local day (refunds of cancelled orders excluded). An order with status refunded or returned and no refund record counts as a full refund of its total on the day it was placed (orders carry no status date); once a refund record exists for it, the records count instead.", formula: "Σ refund amount",
		compute: (v, p) => money(v.refund_amount, p),
	}),
	K({
		id: "cogs", name: "Cost of goods sold", area: "financial", unit: "currency", good: "down", measures: ["cogs"],
		description: "Unit cost × quantity of the order lines with a known cost (the line's, else the product's), non-cancelled orders.", formula: "Σ qty × unit cost",
		compute: (v, p) => money(v.cogs, p),
	}),
	K({
		id: "cac", name: "Customer acquisition cost", area: "financial", unit: "currency", good: "down", measures: ["spend", "first_orders"], roles: STRATEGIC,
		description: "Marketing spend per new customer; by channel, the channel's spend per first order placed through it.",
		formula: "marketing spend ÷ new customers (null, with a reason, when no spend is recorded)",
		// No spend recorded is missing data, not free customers: null, never 0.
		compute: (v, p) => (v.spend === 0 ? null : moneyRatio(v.spend, v.first_orders, p)),
		why: (v) => (v.spend === 0 ? NO_SPEND : v.first_orders === 0 ? "no new customers in the period" : null),
	}),
	K({
		id: "roas", name: "Return on ad spend", area: "financial", unit: "score", good: "up", measures: ["revenue", "spend"], roles: STRATEGIC,
		description: "Revenue per unit of marketing spend (by channel: the channel's orders and spend).", formula: "revenue ÷ marketing spend",
		compute: (v) => ratio(v.revenue, v.spend),
	}),
	K({
		id: "cac_payback_months", name: "CAC payback period", area: "financial", unit: "months", good: "down", roles: STRATEGIC,
		measures: ["spend", "first_orders", "costed_revenue", "cogs", "active_customers"],
		description: "Months of a customer's gross profit needed to earn back their acquisition cost.",
		formula: "CAC ÷ (gross profit ÷ (customers active at start + new customers) ÷ months in period) (null, with a reason, when no spend is recorded)",
		why: (v) => (v.spend === 0 ? NO_SPEND : v.first_orders === 0 ? "no new customers in the period" : "no gross profit per customer in the period"),
		compute: (v, p) => {
			const customers = v.active_customers + v.first_orders;
			if (v.spend === 0 || v.first_orders === 0 || customers === 0) return null;
			const monthlyProfitPerCustomer = (v.costed_revenue - v.cogs) / customers / months(p);
			return monthlyProfitPerCustomer <= 0 ? null : v.spend / v.first_orders / monthlyProfitPerCustomer;
		},
	}),
	K({
		id: "clv", name: "Customer lifetime value", area: "financial", unit: "currency", good: "up", roles: STRATEGIC,
		measures: ["revenue", "costed_revenue", "cogs", "active_customers", "first_orders", "lapsed_customers"],
		description:
			"The architecture document's formula, for any range: average monthly revenue per customer × expected lifetime in months (1 ÷ monthly churn) × gross margin. " +
			"The probabilistic CLV per customer (BG/NBD purchases × Gamma-Gamma spend, 12 months, discounted) is a nightly model: GET /api/v1/clv/model and /api/v1/clv/customers.",
		formula: "(revenue ÷ (active at start + new) ÷ months) × (1 ÷ monthly churn rate) × gross margin",
		compute: (v, p) => {
			const customers = v.active_customers + v.first_orders;
			const churn = monthlyChurn(v, p);
			const margin = grossMarginPct(v);
			if (customers === 0 || !churn || margin === null) return null;
			return (money(v.revenue, p) / customers / months(p)) * (1 / churn) * (margin / 100);
		},
	}),
	K({
		id: "revenue_per_visitor", name: "Revenue per visitor", area: "financial", unit: "currency", good: "up", measures: ["revenue", "visitors"],
		description: "Revenue divided by web visitors (a visitor counts once per day).", formula: "revenue ÷ visitors",
		compute: (v, p) => moneyRatio(v.revenue, v.visitors, p),
		why: (v) => (v.visitors === 0 ? NO_WEB : null),
	}),
	// ── conversion ──
	K({
		id: "sessions", name: "Sessions", area: "conversion", unit: "count", good: "up", measures: ["sessions"],
		description: "Visits: a visitor's events until 30 minutes idle, by the local day they start.", formula: "count of sessions",
		compute: (v) => v.sessions,
	}),
	K({
		id: "visitors", name: "Visitors", area: "conversion", unit: "count", good: "up", measures: ["visitors"],
		description:
			"Distinct visitors per local day, summed over the period's days (the cookieless visitor id changes daily). A visitor counts on each day on which one of their sessions starts: " +
			"a session that runs past midnight counts for the day it started, not again for the next.",
		formula: "Σ over days of distinct visitors with a session starting that day",
		compute: (v) => v.visitors,
	}),
	K({
		id: "conversion_rate", name: "Conversion rate", area: "conversion", unit: "percent", good: "up", measures: ["purchase_sessions", "sessions"],
		description: "Share of web sessions with a purchase.", formula: "sessions with a purchase ÷ sessions × 100",
		compute: (v) => pct(v.purchase_sessions, v.sessions),
		why: (v) => (v.sessions === 0 ? NO_WEB : null),
	}),
	K({
		id: "cart_abandonment", name: "Cart abandonment rate", area: "conversion", unit: "percent", good: "down", measures: ["cart_sessions", "cart_purchase_sessions", "sessions"],
		description: "Share of sessions that added to cart without purchasing.", formula: "(cart sessions − cart sessions with a purchase) ÷ cart sessions × 100",
		compute: (v) => pct(v.cart_sessions - v.cart_purchase_sessions, v.cart_sessions),
		why: webWhy("with an add to cart"),
	}),
	K({
		id: "checkout_completion", name: "Checkout completion rate", area: "conversion", unit: "percent", good: "up", measures: ["checkout_sessions", "checkout_purchase_sessions", "sessions"],
		description: "Share of sessions that began checkout and purchased.", formula: "checkout sessions with a purchase ÷ checkout sessions × 100",
		compute: (v) => pct(v.checkout_purchase_sessions, v.checkout_sessions),
		why: webWhy("that began checkout"),
	}),
	K({
		id: "product_page_conversion", name: "Product page conversion", area: "conversion", unit: "percent", good: "up", measures: ["product_view_sessions", "product_purchase_sessions"],
		description: "Share of sessions viewing a product that bought that product (by product or category: per product viewed).",
		formula: "sessions that viewed and bought the product ÷ sessions that viewed it × 100",
		compute: (v) => pct(v.product_purchase_sessions, v.product_view_sessions),
		// Not webWhy: its `sessions` measure lives in kpi_web_daily, which has no SKU, and would take away this KPI's
		// product and category breakdowns (GET /products/performance answered 500 on it).
		why: (v) => (v.product_view_sessions === 0 ? "no sessions with a product view in the period (or no web data)" : null),
	}),
	K({
		id: "funnel_view_to_cart", name: "Funnel: product view → cart", area: "conversion", unit: "percent", good: "up", measures: ["view_sessions", "cart_sessions", "sessions"],
		description: "Sessions adding to cart per session viewing a product (steps within a session; ordered funnels with windows are in the funnels API).",
		formula: "cart sessions ÷ product-view sessions × 100",
		compute: (v) => pct(v.cart_sessions, v.view_sessions),
		why: webWhy("with a product view"),
	}),
	K({
		id: "funnel_cart_to_checkout", name: "Funnel: cart → checkout", area: "conversion", unit: "percent", good: "up", measures: ["cart_sessions", "checkout_sessions", "sessions"],
		description: "Sessions beginning checkout per session adding to cart.", formula: "checkout sessions ÷ cart sessions × 100",
		compute: (v) => pct(v.checkout_sessions, v.cart_sessions),
		why: webWhy("with an add to cart"),
	}),
	K({
		id: "funnel_checkout_to_purchase", name: "Funnel: checkout → purchase", area: "conversion", unit: "percent", good: "up", measures: ["checkout_sessions", "purchase_sessions", "sessions"],
		description: "Sessions purchasing per session beginning checkout.", formula: "purchase sessions ÷ checkout sessions × 100",
		compute: (v) => pct(v.purchase_sessions, v.checkout_sessions),
		why: webWhy("that began checkout"),
	}),
	K({
		id: "cross_sell_rate", name: "Upsell / cross-sell rate", area: "conversion", unit: "percent", good: "up", measures: ["multi_sku_orders", "orders"],
		description: "Share of orders with two or more different products.", formula: "orders with ≥ 2 SKUs ÷ orders × 100",
		compute: (v) => pct(v.multi_sku_orders, v.orders),
	}),
	K({
		id: "return_customer_rate", name: "Return customer rate", area: "conversion", unit: "percent", good: "up", measures: ["first_orders", "orders"],
		description: "Share of orders placed by customers who had ordered before.", formula: "(orders − first orders) ÷ orders × 100",
		compute: (v) => pct(v.orders - v.first_orders, v.orders),
	}),
	// ── customer ──
	K({
		id: "nps", name: "Net Promoter Score", area: "customer", unit: "score", good: "up", measures: ["nps_responses", "promoters", "detractors"],
		description: "Promoters (9–10) minus detractors (0–6), in points of the responses.", formula: "(promoters − detractors) ÷ NPS responses × 100",
		compute: (v) => pct(v.promoters - v.detractors, v.nps_responses),
	}),
	K({
		id: "csat", name: "Customer satisfaction (CSAT)", area: "customer", unit: "percent", good: "up", measures: ["csat_responses", "csat_satisfied"],
		description: "Share of CSAT responses scoring 4 or 5 of 5.", formula: "responses ≥ 4 ÷ CSAT responses × 100",
		compute: (v) => pct(v.csat_satisfied, v.csat_responses),
	}),
	K({
		id: "churn_rate", name: "Churn rate", area: "customer", unit: "percent", good: "down", measures: ["lapsed_customers", "active_customers"],
		description: "Customers lapsing in the period (reaching 90 days without an order) per customer active at its start (an order in the previous 90 days).",
		formula: "customers lapsing in period ÷ customers active at period start × 100",
		compute: (v) => pct(v.lapsed_customers, v.active_customers),
	}),
	K({
		id: "retention_rate", name: "Retention rate", area: "customer", unit: "percent", good: "up", measures: ["lapsed_customers", "active_customers"],
		description: "100 − churn rate.", formula: "(1 − lapsing ÷ active at start) × 100",
		compute: (v) => (v.active_customers === 0 ? null : 100 - (100 * v.lapsed_customers) / v.active_customers),
	}),
	K({
		id: "active_customers", name: "Active customers", area: "customer", unit: "count", good: "up", measures: ["active_customers"],
		description: "Customers with an order in the 90 days before the period starts.", formula: "customers active at period start",
		compute: (v) => v.active_customers,
	}),
	K({
		id: "engagement_score", name: "Engagement score", area: "customer", unit: "score", good: "up", measures: ["sessions", "page_views", "duration_ms", "bounces"],
		description: "0–100: one third each for pages per session (5 or more scores full), average session duration (5 minutes or more scores full) and non-bounce share.",
		formula: "100 × (min(1, pages/session ÷ 5) + min(1, avg duration ÷ 300 s) + (1 − bounces ÷ sessions)) ÷ 3",
		compute: (v) =>
			v.sessions === 0 ? null : (100 * (Math.min(1, v.page_views / v.sessions / 5) + Math.min(1, v.duration_ms / v.sessions / 300_000) + (1 - v.bounces / v.sessions))) / 3,
	}),
	K({
		id: "ticket_resolution_rate", name: "Support ticket resolution rate", area: "customer", unit: "percent", good: "up", measures: ["tickets_opened", "tickets_resolved"],
		description: "Share of tickets opened in the period that are resolved.", formula: "resolved ÷ opened × 100",
		compute: (v) => pct(v.tickets_resolved, v.tickets_opened),
	}),
	K({
		id: "tickets_opened", name: "Support tickets opened", area: "customer", unit: "count", good: "down", measures: ["tickets_opened"],
		description: "Support tickets opened in the period.", formula: "count of tickets by opening day",
		compute: (v) => v.tickets_opened,
	}),
	K({
		id: "tickets_unresolved", name: "Unresolved support tickets", area: "customer", unit: "count", good: "down", measures: ["tickets_opened", "tickets_resolved"],
		description: "Tickets opened in the period that are not resolved yet (as known now).", formula: "opened − resolved",
		compute: (v) => v.tickets_opened - v.tickets_resolved,
	}),
	K({
		id: "ticket_resolution_hours", name: "Median ticket resolution time", area: "customer", unit: "hours", good: "down", measures: ["resolution_ms"],
		description: "Median hours from opening to resolution, tickets opened in the period and resolved.", formula: "median(resolved − opened) in hours",
		compute: (v) => {
			const m = median(v.resolution_ms);
			return m === null ? null : m / 3_600_000;
		},
	}),
	// ── operational ──
	K({
		id: "inventory_turnover", name: "Inventory turnover", area: "operational", unit: "score", good: "up", measures: ["cogs", "inventory_value_days", "inventory_days"],
		description: "Cost of goods sold in the period per average inventory value (stock × unit cost, averaged over the days with snapshots).",
		formula: "COGS ÷ (Σ daily inventory value ÷ days with snapshots)",
		compute: (v) => (v.inventory_days === 0 ? null : ratio(v.cogs, v.inventory_value_days / v.inventory_days)),
	}),
	K({
		id: "stockout_rate", name: "Stockout rate", area: "operational", unit: "percent", good: "down", measures: ["stockout_days", "sku_days"],
		description: "Share of SKU-days whose last snapshot of the day had no stock.", formula: "SKU-days with stock ≤ 0 ÷ SKU-days × 100",
		compute: (v) => pct(v.stockout_days, v.sku_days),
	}),
	K({
		id: "fulfilment_hours", name: "Order fulfilment time", area: "operational", unit: "hours", good: "down", measures: ["fulfil_ms", "shipped_orders"],
		description: "Average hours from an order being placed to being shipped, orders placed in the period and shipped.", formula: "Σ (shipped − placed) ÷ shipped orders, in hours",
		compute: (v) => (v.shipped_orders === 0 ? null : v.fulfil_ms / v.shipped_orders / 3_600_000),
	}),
	K({
		id: "shipping_accuracy", name: "Shipping accuracy", area: "operational", unit: "percent", good: "up", measures: ["shipping_errors", "shipped_orders"],
		description: "Share of shipped orders without a shipping error (refunds for wrong, missing, damaged or lost goods).",
		formula: "(1 − shipping-error refunds ÷ shipped orders) × 100",
		compute: (v) => (v.shipped_orders === 0 ? null : 100 - (100 * v.shipping_errors) / v.shipped_orders),
	}),
	K({
		id: "return_rate", name: "Return rate", area: "operational", unit: "percent", good: "down", measures: ["returns", "orders"],
		description: "Returns (refunds marked as returns, and orders with status returned but no refund record, on their placed day) in the period per order placed in it.", formula: "returns ÷ orders × 100",
		compute: (v) => pct(v.returns, v.orders),
	}),
	K({
		id: "product_return_rate", name: "Return rate by product", area: "operational", unit: "percent", good: "down", measures: ["product_returned_units", "product_units"],
		description: "Units returned per unit sold, by product or category (an order with status returned and no refund record returns all its lines).", formula: "returned units ÷ units sold × 100",
		compute: (v) => pct(v.product_returned_units, v.product_units),
	}),
	K({
		id: "supplier_on_time", name: "Supplier on-time delivery", area: "operational", unit: "percent", good: "up", measures: ["on_time", "deliveries"],
		description: "Share of supplier deliveries (by promised day) delivered by the promised time.", formula: "on-time deliveries ÷ deliveries × 100",
		compute: (v) => pct(v.on_time, v.deliveries),
	}),
	K({
		id: "supplier_lead_time_variance", name: "Supplier lead-time variance", area: "operational", unit: "days²", good: "down", measures: ["deliveries", "lead_days_sum", "lead_days_sq"],
		description: "Sample variance of lead time (ordered → delivered, in days) of deliveries promised in the period.",
		formula: "(Σ x² − (Σ x)² ÷ n) ÷ (n − 1), x = lead time in days",
		compute: (v) => (v.deliveries < 2 ? null : Math.max(0, (v.lead_days_sq - (v.lead_days_sum * v.lead_days_sum) / v.deliveries) / (v.deliveries - 1))),
	}),
];

export const KPI_BY_ID = new Map(KPIS.map((k) => [k.id, k]));

/** Whether a caller may see a KPI: keys see every KPI their scope allows; users those of their role. */
export function visibleTo(kpi: Kpi, principal: { kind: "key" } | { kind: "user"; role: "admin" | "executive" | "analyst" | "operations" }): boolean {
	return principal.kind === "key" || !kpi.roles || kpi.roles.includes(principal.role);
}

/** Breakdowns a KPI supports: those every table of its measures supports. */
export function kpiDims(kpi: Kpi): Dim[] {
	const tables = [...new Set(kpi.measures.map((m) => MEASURES[m].table))];
	return DIMS.filter((d) => tables.every((t) => (TABLES[t].dims as readonly Dim[]).includes(d)));
}
