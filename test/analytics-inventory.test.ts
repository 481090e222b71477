/**
 * Reorder points (workers/analytics/inventory.ts): the normal quantile and CDF against published values
 * (scipy.stats.norm.ppf / .cdf, equal to standard tables), and one SKU's reorder point, days of cover and
 * stockout risk worked out by hand in the comments.
 */
import { describe, expect, it } from "vitest";
import { daysOfCover, demandStats, inverseNormal, leadTimeStats, normalCdf, reorderPoint, stockoutRisk } from "../workers/analytics/inventory";

const D = 86_400_000;

describe("normal distribution", () => {
	it("inverse normal (Acklam) at the usual service levels and in both tails", () => {
		// norm.ppf: 0.95 → 1.6448536269514722, 0.90 → 1.2815515655446004, 0.99 → 2.3263478740408408, 0.025 → −1.959963984540054, 0.001 → −3.090232306167813.
		expect(inverseNormal(0.95)).toBeCloseTo(1.6448536269514722, 8);
		expect(inverseNormal(0.9)).toBeCloseTo(1.2815515655446004, 8);
		expect(inverseNormal(0.99)).toBeCloseTo(2.3263478740408408, 8);
		expect(inverseNormal(0.025)).toBeCloseTo(-1.959963984540054, 8);
		expect(inverseNormal(0.001)).toBeCloseTo(-3.090232306167813, 8);
		expect(inverseNormal(0.5)).toBe(0);
		expect(() => inverseNormal(1)).toThrow(RangeError);
	});

	it("normal CDF (Marsaglia's series) and its round trip with the quantile", () => {
		// norm.cdf: 0 → 0.5, −1 → 0.15865525393145707, 1.96 → 0.9750021048517795, −3 → 0.0013498980316301035.
		expect(normalCdf(0)).toBe(0.5);
		expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 14);
		expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 14);
		expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301035, 14);
		for (const p of [0.01, 0.2, 0.5, 0.8, 0.975, 0.999]) expect(normalCdf(inverseNormal(p))).toBeCloseTo(p, 8);
	});
});

describe("reorder point", () => {
	// Demand over 5 days: 10, 12, 8, 14, 6 → μ_d = 10; deviations 0, 2, −2, 4, −4 → Σ² = 40, σ_d² = 40/4 = 10, σ_d = 3.1623.
	// Deliveries took 5, 7 and 6 days → μ_L = 6; deviations −1, 1, 0 → σ_L² = 2/2 = 1.
	// Lead-time demand 10 × 6 = 60; its sd √(μ_L σ_d² + μ_d² σ_L²) = √(6·10 + 100·1) = √160 = 12.649110640673518.
	// 95%: z = 1.6448536269514722 → safety stock 20.805935515022295, reorder point 80.8059355150223.
	// 99%: z = 2.3263478740408408 → safety stock 29.426231647438215, reorder point 89.42623164743821.
	const demand = demandStats([10, 12, 8, 14, 6]);
	const lead = leadTimeStats([
		{ orderedAt: 0, deliveredAt: 5 * D },
		{ orderedAt: 10 * D, deliveredAt: 17 * D },
		{ orderedAt: 20 * D, deliveredAt: 26 * D },
	]);
	const input = { demandMean: demand.mean, demandSd: demand.sd, leadTimeMean: lead.mean, leadTimeSd: lead.sd };

	it("demand and lead-time statistics", () => {
		expect(demand).toEqual({ n: 5, mean: 10, sd: Math.sqrt(10) });
		expect(lead).toEqual({ n: 3, mean: 6, sd: 1 });
		expect(demandStats([4])).toEqual({ n: 1, mean: 4, sd: 0 });
		expect(() => demandStats([])).toThrow(RangeError);
		expect(() => leadTimeStats([{ orderedAt: 5, deliveredAt: 1 }])).toThrow(RangeError);
	});

	it("safety stock and reorder point at 95% (default) and 99%", () => {
		const r = reorderPoint(input);
		expect(r.serviceLevel).toBe(0.95);
		expect(r.leadTimeDemand).toBe(60);
		expect(r.leadTimeDemandSd).toBeCloseTo(12.649110640673518, 12);
		expect(r.safetyStock).toBeCloseTo(20.805935515022295, 6);
		expect(r.reorderPoint).toBeCloseTo(80.8059355150223, 6);
		const r99 = reorderPoint({ ...input, serviceLevel: 0.99 });
		expect(r99.safetyStock).toBeCloseTo(29.426231647438215, 6);
		expect(r99.reorderPoint).toBeCloseTo(89.42623164743821, 6);
		// Constant lead time: only demand varies → √(6·10) = 7.746.
		expect(reorderPoint({ ...input, leadTimeSd: 0 }).leadTimeDemandSd).toBeCloseTo(Math.sqrt(60), 12);
		expect(() => reorderPoint({ ...input, demandSd: -1 })).toThrow(RangeError);
	});

	it("days of cover and stockout risk over the lead time", () => {
		expect(daysOfCover(50, 10)).toBe(5);
		expect(daysOfCover(50, 0)).toBe(Number.POSITIVE_INFINITY);
		// Stock at the 95% reorder point → 5% risk; at the mean lead-time demand → 50%; one sd above (72.649) → 1 − Φ(1) = 0.158655.
		expect(stockoutRisk(80.8059355150223, input)).toBeCloseTo(0.05, 8);
		expect(stockoutRisk(60, input)).toBeCloseTo(0.5, 14);
		expect(stockoutRisk(60 + Math.sqrt(160), input)).toBeCloseTo(0.15865525393145707, 12);
		expect(stockoutRisk(59, { demandMean: 10, demandSd: 0, leadTimeMean: 6, leadTimeSd: 0 })).toBe(1);
		expect(stockoutRisk(60, { demandMean: 10, demandSd: 0, leadTimeMean: 6, leadTimeSd: 0 })).toBe(0);
	});
});
