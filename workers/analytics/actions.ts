/**
 * Next best action per customer, pure: one action with the reason in words, from the customer's RFM
 * segment, churn probability, expected value, typical reorder interval and recommendations. Rules in
 * order, the first that applies wins (documented in README):
 *   1. win_back — churn probability ≥ 0.6 and a customer worth keeping (a valuable segment, or CLV above
 *      the median): priority = probability × CLV (value at stake).
 *   2. replenishment — at least 3 orders, and the days since the last order are within 0.8–1.5 × their
 *      median reorder interval: priority = expected spend per order.
 *   3. vip_care — Champions or Loyal_Customers with churn probability < 0.3: priority = CLV.
 *   4. cross_sell — ordered in the last 60 days and has a recommendation: priority = its score.
 *   5. nurture — New_Customers, Promising or Potential_Loyalists: priority = monetary value.
 *   6. none — nothing above applies (e.g. hibernating customers with a low value: spend nothing).
 */
export type Action = "win_back" | "replenishment" | "vip_care" | "cross_sell" | "nurture" | "none";

export interface ActionInput {
	customer: string;
	segment: string | null;
	/** Churn probability 0–1, null without a churn model. */
	churn: number | null;
	/** 12-month CLV, major units, null without a CLV model. */
	clv: number | null;
	/** Expected spend per order, major units. */
	expectedSpend: number | null;
	orders: number;
	daysSinceLastOrder: number;
	/** Median days between consecutive orders; null with fewer than 2 orders. */
	reorderIntervalDays: number | null;
	monetary: number;
	/** Top recommendation, if any. */
	recommendation: { sku: string; score: number; because: string | null } | null;
}

export interface NextAction {
	customer: string;
	action: Action;
	reason: string;
	priority: number;
	details: Record<string, number | string | null>;
}

const VALUABLE = new Set(["Champions", "Loyal_Customers", "Cannot_Lose", "At_Risk", "Need_Attention", "Potential_Loyalists"]);
const NURTURE = new Set(["New_Customers", "Promising", "Potential_Loyalists"]);
const pct = (p: number) => `${Math.round(p * 100)}%`;

/** Median of positive gaps between sorted order times (UTC ms), in days; null with fewer than 2 orders. */
export function medianIntervalDays(times: readonly number[]): number | null {
	if (times.length < 2) return null;
	const gaps: number[] = [];
	for (let i = 1; i < times.length; i++) gaps.push(((times[i] as number) - (times[i - 1] as number)) / 86_400_000);
	gaps.sort((a, b) => a - b);
	const mid = gaps.length >> 1;
	return gaps.length % 2 ? (gaps[mid] as number) : ((gaps[mid - 1] as number) + (gaps[mid] as number)) / 2;
}

/** The next best action of every customer; `clvMedian` decides "worth keeping" outside the valuable segments. */
export function nextBestActions(inputs: readonly ActionInput[], clvMedian: number | null): NextAction[] {
	return inputs.map((c) => {
		const details = { segment: c.segment, churn: c.churn, clv: c.clv, days_since_last_order: Math.round(c.daysSinceLastOrder), reorder_interval_days: c.reorderIntervalDays === null ? null : Math.round(c.reorderIntervalDays) };
		const worth = (c.segment !== null && VALUABLE.has(c.segment)) || (c.clv !== null && clvMedian !== null && c.clv > clvMedian);
		if (c.churn !== null && c.churn >= 0.6 && worth) {
			const stake = c.clv ?? c.monetary;
			// The reason names no money: it is shown to every role, and value at stake is strategic (priority and details.clv carry it).
			return { customer: c.customer, action: "win_back", priority: c.churn * stake, details, reason: `churn risk ${pct(c.churn)} on a customer worth keeping (${c.segment ?? "high expected value"}); last order ${Math.round(c.daysSinceLastOrder)} days ago` };
		}
		if (c.orders >= 3 && c.reorderIntervalDays !== null && c.daysSinceLastOrder >= 0.8 * c.reorderIntervalDays && c.daysSinceLastOrder <= 1.5 * c.reorderIntervalDays) {
			return {
				customer: c.customer,
				action: "replenishment",
				priority: c.expectedSpend ?? c.monetary / c.orders,
				details,
				reason: `usually reorders every ${Math.round(c.reorderIntervalDays)} days; last order ${Math.round(c.daysSinceLastOrder)} days ago`,
			};
		}
		if ((c.segment === "Champions" || c.segment === "Loyal_Customers") && (c.churn === null || c.churn < 0.3)) {
			return { customer: c.customer, action: "vip_care", priority: c.clv ?? c.monetary, details, reason: `${c.segment.replace("_", " ")} with ${c.churn === null ? "no churn estimate" : `churn risk ${pct(c.churn)}`}: reward and keep close` };
		}
		if (c.daysSinceLastOrder <= 60 && c.recommendation) {
			const r = c.recommendation;
			return { customer: c.customer, action: "cross_sell", priority: r.score, details: { ...details, sku: r.sku }, reason: `recommend ${r.sku}${r.because ? ` (bought with ${r.because})` : ""}` };
		}
		if (c.segment !== null && NURTURE.has(c.segment)) {
			return { customer: c.customer, action: "nurture", priority: c.monetary, details, reason: `${c.segment.replace("_", " ")}: onboarding and a second-order offer` };
		}
		return { customer: c.customer, action: "none", priority: 0, details, reason: "no action pays off now" };
	});
}
