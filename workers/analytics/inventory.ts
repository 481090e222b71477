/**
 * Reorder points, pure (no bindings): daily demand mean and spread, supplier lead time mean and spread,
 * safety stock at a service level, reorder point, days of cover and the stockout risk over a lead time.
 *
 * Model: demand per day is i.i.d. with mean μ_d and sd σ_d, lead time L (days) is independent with mean μ_L
 * and sd σ_L, so demand over the lead time has mean μ_d·μ_L and variance μ_L·σ_d² + μ_d²·σ_L², taken as normal.
 * Safety stock = z · that sd, with z the standard normal quantile of the cycle service level (the chance of
 * no stockout in a replenishment cycle). Units are the SKU's units and days throughout.
 */

const DAY_MS = 86_400_000;

/**
 * Standard normal quantile Φ⁻¹(p), p in (0, 1): Peter Acklam's rational approximation (relative error
 * < 1.15e-9 over the whole range, central region |p − ½| ≤ 0.475 and two tails). Φ⁻¹(0.95) = 1.6448536.
 */
export function inverseNormal(p: number): number {
	if (!(p > 0 && p < 1)) throw new RangeError("p must be in (0, 1)");
	const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
	const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
	const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
	const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
	const low = 0.02425;
	if (p < low) {
		const q = Math.sqrt(-2 * Math.log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - low) {
		const q = Math.sqrt(-2 * Math.log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	const q = p - 0.5;
	const r = q * q;
	return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Standard normal CDF Φ(x) by Marsaglia's series Φ(x) = ½ + φ(x)·(x + x³/3 + x⁵/(3·5) + …) (absolute error
 * ~1e-15 for |x| ≤ 8; beyond, 0 or 1, which is closer than 1e-15). Enough for risks, not for tiny tail ratios.
 */
export function normalCdf(x: number): number {
	if (Number.isNaN(x)) return Number.NaN;
	if (x < -8) return 0;
	if (x > 8) return 1;
	let term = x;
	let sum = x;
	const x2 = x * x;
	for (let i = 3; sum + term !== sum; i += 2) {
		term = (term * x2) / i;
		sum += term;
	}
	return 0.5 + sum * Math.exp(-0.5 * x2 - 0.91893853320467274178); // ln √(2π)
}

export interface MeanSd {
	/** Observations used. */
	n: number;
	mean: number;
	/** Sample standard deviation (n − 1 denominator); 0 with a single observation. */
	sd: number;
}

function meanSd(values: readonly number[]): MeanSd {
	const n = values.length;
	if (n === 0) throw new RangeError("no observations");
	let mean = 0;
	for (const v of values) {
		if (!Number.isFinite(v)) throw new RangeError(`observation ${v} is not a finite number`);
		mean += v;
	}
	mean /= n;
	let ss = 0;
	for (const v of values) ss += (v - mean) ** 2;
	return { n, mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/**
 * Daily demand mean μ_d and sd σ_d (units/day) from a daily series. Days without sales must be in the series
 * as 0: leaving them out overstates the mean and understates the spread.
 */
export function demandStats(dailyUnits: readonly number[]): MeanSd {
	for (const v of dailyUnits) if (v < 0) throw new RangeError("daily demand cannot be negative");
	return meanSd(dailyUnits);
}

/** Lead time mean μ_L and sd σ_L (days) from supplier deliveries, ordered_at → delivered_at in UTC ms. */
export function leadTimeStats(deliveries: readonly { orderedAt: number; deliveredAt: number }[]): MeanSd {
	return meanSd(
		deliveries.map((d) => {
			const days = (d.deliveredAt - d.orderedAt) / DAY_MS;
			if (!(days >= 0)) throw new RangeError("a delivery arrives before it was ordered");
			return days;
		}),
	);
}

export interface ReorderInput {
	/** Daily demand mean and sd, units/day. */
	demandMean: number;
	demandSd: number;
	/** Lead time mean and sd, days. */
	leadTimeMean: number;
	leadTimeSd: number;
	/** Cycle service level, 0–1 exclusive (default 0.95). */
	serviceLevel?: number;
}

export interface ReorderPoint {
	serviceLevel: number;
	/** Standard normal quantile of the service level. */
	z: number;
	/** Expected demand over the lead time, μ_d·μ_L (units). */
	leadTimeDemand: number;
	/** Sd of demand over the lead time, √(μ_L σ_d² + μ_d² σ_L²) (units). */
	leadTimeDemandSd: number;
	/** z × leadTimeDemandSd (units). */
	safetyStock: number;
	/** leadTimeDemand + safetyStock (units): reorder when stock on hand plus on order falls to it. */
	reorderPoint: number;
}

/** Reorder point = μ_d μ_L + z·√(μ_L σ_d² + μ_d² σ_L²) at a service level (default 95%), in units. */
export function reorderPoint(input: ReorderInput): ReorderPoint {
	const { demandMean: md, demandSd: sd, leadTimeMean: ml, leadTimeSd: sl } = input;
	for (const [name, v] of Object.entries({ demandMean: md, demandSd: sd, leadTimeMean: ml, leadTimeSd: sl })) if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`${name} must be a finite number ≥ 0`);
	const serviceLevel = input.serviceLevel ?? 0.95;
	const z = inverseNormal(serviceLevel);
	const leadTimeDemand = md * ml;
	const leadTimeDemandSd = Math.sqrt(ml * sd * sd + md * md * sl * sl);
	const safetyStock = z * leadTimeDemandSd;
	return { serviceLevel, z, leadTimeDemand, leadTimeDemandSd, safetyStock, reorderPoint: leadTimeDemand + safetyStock };
}

/** Days the stock lasts at the mean daily demand: stock ÷ μ_d (days); Infinity when nothing sells. */
export function daysOfCover(stock: number, demandMean: number): number {
	if (demandMean < 0) throw new RangeError("demandMean must be ≥ 0");
	return demandMean === 0 ? Number.POSITIVE_INFINITY : Math.max(0, stock) / demandMean;
}

/**
 * Chance (0–1) that demand over one lead time exceeds `stock`, under the same normal approximation:
 * 1 − Φ((stock − μ_d μ_L) / √(μ_L σ_d² + μ_d² σ_L²)). With no spread it is 1 when stock < μ_d μ_L, else 0.
 */
export function stockoutRisk(stock: number, input: Omit<ReorderInput, "serviceLevel">): number {
	const mean = input.demandMean * input.leadTimeMean;
	const sd = Math.sqrt(input.leadTimeMean * input.demandSd ** 2 + input.demandMean ** 2 * input.leadTimeSd ** 2);
	if (sd === 0) return stock < mean ? 1 : 0;
	return 1 - normalCdf((stock - mean) / sd);
}
