/**
 * Binary classifier metrics, pure: ROC AUC, PR AUC (average precision), reliability bins and lift. Labels
 * are 1 (positive, e.g. churned) and 0; scores are any number where larger means "more likely positive".
 * Each returns NaN when it is undefined (no positives, or for AUC also no negatives), as JSON null later.
 */

/** Indices of `scores` sorted by score descending; equal scores keep input order (ties are handled by the callers as groups). */
function descendingOrder(scores: ArrayLike<number>): Int32Array {
	const order = Int32Array.from({ length: scores.length }, (_, i) => i);
	order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
	return order;
}

function checkLengths(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
	if (scores.length !== labels.length) throw new RangeError(`scores (${scores.length}) and labels (${labels.length}) differ in length`);
	for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
}

/**
 * Area under the ROC curve, exact: the Mann–Whitney U statistic, tied scores given their average rank (so a
 * tie between a positive and a negative counts ½), as sklearn's roc_auc_score. 0.5 = random, 1 = perfect.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
	checkLengths(scores, labels);
	const order = descendingOrder(scores);
	const n = order.length;
	let positives = 0;
	for (let i = 0; i < n; i++) positives += labels[i] ? 1 : 0;
	const negatives = n - positives;
	if (positives === 0 || negatives === 0) return Number.NaN;
	// Walk from the highest score; for each tie group, its positives beat every negative below it and tie with its own negatives.
	let negativesBelow = negatives;
	let wins = 0;
	for (let i = 0; i < n; ) {
		const s = scores[order[i] as number] as number;
		let p = 0;
		let q = 0;
		let j = i;
		for (; j < n && scores[order[j] as number] === s; j++) (labels[order[j] as number] ? p++ : q++);
		negativesBelow -= q;
		wins += p * negativesBelow + 0.5 * p * q;
		i = j;
	}
	return wins / (positives * negatives);
}

/**
 * Area under the precision–recall curve as average precision, AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score
 * thresholds from the highest down (a tie group enters at once), as sklearn's average_precision_score.
 */
export function prAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
	checkLengths(scores, labels);
	const order = descendingOrder(scores);
	const n = order.length;
	let positives = 0;
	for (let i = 0; i < n; i++) positives += labels[i] ? 1 : 0;
	if (positives === 0) return Number.NaN;
	let tp = 0;
	let seen = 0;
	let ap = 0;
	for (let i = 0; i < n; ) {
		const s = scores[order[i] as number] as number;
		let p = 0;
		let j = i;
		for (; j < n && scores[order[j] as number] === s; j++) p += labels[order[j] as number] ? 1 : 0;
		tp += p;
		seen = j;
		ap += (p / positives) * (tp / seen);
		i = j;
	}
	return ap;
}

export interface CalibrationBin {
	/** Bin bounds on the predicted probability: (lower, upper], the first bin also holds 0. */
	lower: number;
	upper: number;
	/** Predictions in the bin. */
	count: number;
	/** Mean predicted probability in the bin (null when empty). */
	meanPredicted: number | null;
	/** Share of positives in the bin (null when empty). */
	observedRate: number | null;
}

/**
 * Reliability diagram: `bins` equal-width bins over [0, 1] with each bin's count, mean prediction and observed
 * positive rate. Bin edges and the (lower, upper] rule are those of sklearn's calibration_curve (uniform), but
 * empty bins are kept (count 0) so every chart has the same x axis. Probabilities outside [0, 1] throw.
 */
export function calibrationBins(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
	checkLengths(probs, labels);
	if (!Number.isInteger(bins) || bins < 1) throw new RangeError("bins must be a positive integer");
	const step = 1 / bins;
	const count = new Float64Array(bins);
	const sumP = new Float64Array(bins);
	const sumY = new Float64Array(bins);
	for (let i = 0; i < probs.length; i++) {
		const p = probs[i] as number;
		if (!(p >= 0 && p <= 1)) throw new RangeError(`probability ${i} (${p}) is outside [0, 1]`);
		// Index of the first interior edge k·step with p <= edge (numpy searchsorted, side 'left').
		let b = Math.min(bins - 1, Math.max(0, Math.ceil(p / step) - 1));
		while (b > 0 && p <= b * step) b--;
		while (b < bins - 1 && p > (b + 1) * step) b++;
		count[b] = (count[b] as number) + 1;
		sumP[b] = (sumP[b] as number) + p;
		sumY[b] = (sumY[b] as number) + (labels[i] ? 1 : 0);
	}
	return Array.from({ length: bins }, (_, b) => {
		const c = count[b] as number;
		return {
			lower: b * step,
			upper: b === bins - 1 ? 1 : (b + 1) * step,
			count: c,
			meanPredicted: c ? (sumP[b] as number) / c : null,
			observedRate: c ? (sumY[b] as number) / c : null,
		};
	});
}

/**
 * Lift in the top `fraction` (0–1] of scores: positive rate among the ⌈fraction·n⌉ highest scores ÷ the overall
 * positive rate (1 = no better than random). A tie group straddling the cut contributes its positive rate
 * pro rata, i.e. the expected value under a random tie-break, so the result does not depend on input order.
 */
export function liftAt(scores: ArrayLike<number>, labels: ArrayLike<number>, fraction: number): number {
	checkLengths(scores, labels);
	if (!(fraction > 0 && fraction <= 1)) throw new RangeError("fraction must be in (0, 1]");
	const n = scores.length;
	let positives = 0;
	for (let i = 0; i < n; i++) positives += labels[i] ? 1 : 0;
	if (n === 0 || positives === 0) return Number.NaN;
	const top = Math.ceil(fraction * n - 1e-9);
	const order = descendingOrder(scores);
	let taken = 0;
	let hits = 0;
	for (let i = 0; i < n && taken < top; ) {
		const s = scores[order[i] as number] as number;
		let p = 0;
		let j = i;
		for (; j < n && scores[order[j] as number] === s; j++) p += labels[order[j] as number] ? 1 : 0;
		const size = j - i;
		const take = Math.min(size, top - taken);
		hits += (p * take) / size;
		taken += take;
		i = j;
	}
	return hits / top / (positives / n);
}
