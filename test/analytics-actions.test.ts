/** Next best action rules (workers/analytics/actions.ts) on hand-made customers: each rule fires, and the order between them. */
import { describe, expect, it } from "vitest";
import { medianIntervalDays, nextBestActions, type ActionInput } from "../workers/analytics/actions";

const D = 86_400_000;
const base: ActionInput = { customer: "x", segment: null, churn: null, clv: null, expectedSpend: null, orders: 1, daysSinceLastOrder: 10, reorderIntervalDays: null, monetary: 50, recommendation: null };
const act = (over: Partial<ActionInput>, median: number | null = 100) => nextBestActions([{ ...base, ...over }], median)[0];

describe("next best action", () => {
	it("median reorder interval: gaps 10, 30, 20 days → 20; two gaps average; one order → null", () => {
		expect(medianIntervalDays([0, 10 * D, 40 * D, 60 * D])).toBe(20);
		expect(medianIntervalDays([0, 10 * D, 40 * D])).toBe(20);
		expect(medianIntervalDays([5])).toBeNull();
	});

	it("win_back: high churn risk on a valuable customer, priority = probability × CLV", () => {
		const a = act({ segment: "At_Risk", churn: 0.75, clv: 200, daysSinceLastOrder: 95 });
		expect(a).toMatchObject({ action: "win_back", priority: 150 });
		expect(a?.reason).toBe("churn risk 75% on a customer worth keeping (At_Risk); last order 95 days ago");
		// The same risk on a low-value Hibernating customer below the CLV median is not worth a win-back.
		expect(act({ segment: "Hibernating", churn: 0.75, clv: 20 })?.action).toBe("none");
		// …unless their CLV is above the median.
		expect(act({ segment: "Hibernating", churn: 0.75, clv: 150 })?.action).toBe("win_back");
	});

	it("replenishment: 3+ orders and due by their own rhythm (0.8–1.5 × the median interval)", () => {
		expect(act({ orders: 4, reorderIntervalDays: 30, daysSinceLastOrder: 28, expectedSpend: 45 })).toMatchObject({ action: "replenishment", priority: 45, reason: "usually reorders every 30 days; last order 28 days ago" });
		expect(act({ orders: 4, reorderIntervalDays: 30, daysSinceLastOrder: 23 })?.action).toBe("none"); // 23 < 24: not yet
		expect(act({ orders: 4, reorderIntervalDays: 30, daysSinceLastOrder: 46 })?.action).toBe("none"); // 46 > 45: overdue, churn's business
		expect(act({ orders: 2, reorderIntervalDays: 30, daysSinceLastOrder: 30 })?.action).toBe("none"); // two orders are no rhythm
	});

	it("vip_care for Champions at low risk; cross_sell for recent buyers with a recommendation; nurture for new ones", () => {
		expect(act({ segment: "Champions", churn: 0.1, clv: 900 })).toMatchObject({ action: "vip_care", priority: 900 });
		expect(act({ segment: "Champions", churn: 0.4 })?.action).toBe("none"); // neither safe nor at risk enough
		expect(act({ daysSinceLastOrder: 20, recommendation: { sku: "SHAKER", score: 0.8, because: "WHEY" } })).toMatchObject({ action: "cross_sell", priority: 0.8, reason: "recommend SHAKER (bought with WHEY)" });
		expect(act({ daysSinceLastOrder: 61, recommendation: { sku: "SHAKER", score: 0.8, because: null } })?.action).toBe("none");
		expect(act({ segment: "New_Customers", monetary: 31 })).toMatchObject({ action: "nurture", priority: 31 });
	});

	it("rule order: a due replenishment beats VIP care; win-back beats everything", () => {
		expect(act({ segment: "Champions", churn: 0.1, orders: 5, reorderIntervalDays: 30, daysSinceLastOrder: 30 })?.action).toBe("replenishment");
		expect(act({ segment: "Champions", churn: 0.9, clv: 500, orders: 5, reorderIntervalDays: 30, daysSinceLastOrder: 30 })?.action).toBe("win_back");
	});
});
