/**
 * Rolling z-score anomaly detection (the architecture document: |z| > 2.5 over a 7-period window).
 * Pure: a series in, a score per point out.
 *
 * Each point is compared with a baseline of the `window` points before it; with `season` > 1 the
 * baseline is the same position in the previous `window` seasons instead (daily series: the same
 * weekday of the previous 7 weeks; hourly: the same hour of the previous 7 days), so a quiet Sunday is
 * not an anomaly next to busy weekdays. z = (value − baseline mean) ÷ baseline sample standard deviation.
 */

export interface AnomalyOptions {
	/** Baseline points (default 7). */
	window?: number;
	/** |z| above this is an anomaly (default 2.5). */
	threshold?: number;
	/** Period of the seasonality in points (1 = none, 7 = weekday of a daily series, 24 = hour of an hourly one). */
	season?: number;
	/** Fewest baseline points (non-null) needed to score (default: the window, at least 3). */
	minBaseline?: number;
}

export interface Score {
	value: number | null;
	/** Baseline mean and sample standard deviation; null when the baseline is too short. */
	mean: number | null;
	std: number | null;
	/** null when it cannot be scored: no value, a short baseline, or a flat baseline the value equals. */
	z: number | null;
	anomaly: boolean;
	direction: "up" | "down" | null;
}

export function zScores(values: (number | null)[], options: AnomalyOptions = {}): Score[] {
	const window = options.window ?? 7;
	const threshold = options.threshold ?? 2.5;
	const season = Math.max(1, options.season ?? 1);
	const minBaseline = options.minBaseline ?? Math.max(3, window);
	return values.map((value, i) => {
		const base: number[] = [];
		for (let k = 1; k <= window; k++) {
			const v = values[i - k * season];
			if (v !== null && v !== undefined) base.push(v);
		}
		if (value === null || base.length < minBaseline) return { value, mean: null, std: null, z: null, anomaly: false, direction: null };
		const mean = base.reduce((a, b) => a + b, 0) / base.length;
		const std = Math.sqrt(base.reduce((a, b) => a + (b - mean) ** 2, 0) / (base.length - 1));
		const direction = value > mean ? "up" : value < mean ? "down" : null;
		// A flat baseline: any change is an anomaly, but has no finite z.
		if (std === 0) return { value, mean, std, z: value === mean ? 0 : null, anomaly: value !== mean, direction };
		const z = (value - mean) / std;
		return { value, mean, std, z, anomaly: Math.abs(z) > threshold, direction };
	});
}
