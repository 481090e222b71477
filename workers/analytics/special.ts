/**
 * Numeric helpers for the customer-value models (clv.ts), pure and dependency-free: log-gamma, the
 * Gauss hypergeometric function 2F1 and a Nelder-Mead minimiser. Written here because no npm package
 * offers 2F1, and the optimisers that run inside workerd either use `new Function` or diverge on the
 * BG/NBD likelihood (shared/LIBRARIES.md).
 */

// Lanczos approximation with g = 7 and nine coefficients (Godfrey's published set): relative error
// about 1e-15 for Γ on the right half-plane, so ln Γ is good to ~1e-13 absolute near its zeros at 1 and 2.
const LANCZOS_G = 7;
const LANCZOS = [
	0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
	9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln |Γ(x)| for real x (Lanczos, ~1e-13 absolute for moderate x); Infinity at 0 and the negative integers. */
export function logGamma(x: number): number {
	if (Number.isNaN(x)) return NaN;
	if (x === Infinity) return Infinity;
	if (x <= 0 && Number.isInteger(x)) return Infinity;
	if (x < 0.5) {
		// Reflection Γ(x)Γ(1−x) = π / sin(πx) keeps the series on the half-plane where it is accurate.
		return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
	}
	const y = x - 1;
	let sum = LANCZOS[0] as number;
	for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (y + i);
	const t = y + LANCZOS_G + 0.5;
	return HALF_LOG_2PI + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * Gauss hypergeometric 2F1(a, b; c; z) by its power series, for real z < 1 (throws RangeError otherwise,
 * or when c is 0 or a negative integer); negative z goes through Pfaff's transformation first, which
 * also covers z ≤ −1. Summing stops once the remaining tail, bounded as a geometric series, cannot move
 * the sum by 1e-16 relative, which matches scipy's hyp2f1 to ~1e-13 relative (5e-14 at z = 0.999, where
 * it takes ~3·10⁴ terms).
 */
export function hyp2f1(a: number, b: number, c: number, z: number, maxTerms = 1_000_000): number {
	if (!(z < 1)) throw new RangeError(`hyp2f1: needs z < 1 (the series diverges or 2F1 is complex beyond), got z = ${z}`);
	if (c <= 0 && Number.isInteger(c)) throw new RangeError(`hyp2f1: c must not be 0 or a negative integer, got c = ${c}`);
	// For z < 0 the series alternates and cancels (2F1(3, 5.5; 2.25; −0.95) lost 6 digits); Pfaff's
	// transformation 2F1(a,b;c;z) = (1−z)^−a 2F1(a, c−b; c; z/(z−1)) moves it to 0 < w < 1.
	if (z < 0) return Math.pow(1 - z, -a) * hyp2f1Series(a, c - b, c, z / (z - 1), maxTerms);
	return hyp2f1Series(a, b, c, z, maxTerms);
}

function hyp2f1Series(a: number, b: number, c: number, z: number, maxTerms: number): number {
	// Beyond n ≈ |a| + |b| + |c| the term ratio tends monotonically to z, so the tail after a term t is at
	// most t·ρ/(1 − ρ) with ρ the larger of |z| and the current ratio. Before that a small term proves nothing.
	const settled = Math.abs(a) + Math.abs(b) + Math.abs(c);
	let term = 1;
	let sum = 1;
	for (let n = 0; n < maxTerms; n++) {
		const ratio = (((a + n) * (b + n)) / ((c + n) * (n + 1))) * z;
		term *= ratio;
		sum += term;
		// A zero term means a or b is a non-positive integer: the series is a polynomial and has ended.
		if (term === 0) return sum;
		const rho = Math.max(Math.abs(ratio), Math.abs(z));
		if (n >= settled && rho < 1 && (Math.abs(term) * rho) / (1 - rho) <= 1e-16 * Math.abs(sum)) return sum;
	}
	throw new RangeError(`hyp2f1: the series did not converge in ${maxTerms} terms (a = ${a}, b = ${b}, c = ${c}, z = ${z})`);
}

export interface NelderMeadOptions {
	/** Initial simplex edge per coordinate (one number for all); default 0.5 (suits log-parameters). */
	step?: number | readonly number[];
	/** Stop when every vertex is within this of the best, per coordinate… (default 1e-8) */
	xTolerance?: number;
	/** …and every vertex's value is within this of the best value (default 1e-10). */
	fTolerance?: number;
	/** Iteration cap (default 200 × dimension). */
	maxIterations?: number;
}

export interface NelderMeadResult {
	x: number[];
	fx: number;
	iterations: number;
	converged: boolean;
}

/**
 * Minimises f over ℝⁿ from x0 with the Nelder-Mead simplex (reflection 1, expansion 2, contraction ½,
 * shrink ½; scipy's stopping rule). Deterministic. Non-finite values of f count as +Infinity, so f may
 * return NaN outside its domain.
 */
export function nelderMead(f: (x: number[]) => number, x0: readonly number[], opts: NelderMeadOptions = {}): NelderMeadResult {
	const n = x0.length;
	const xTol = opts.xTolerance ?? 1e-8;
	const fTol = opts.fTolerance ?? 1e-10;
	const maxIterations = opts.maxIterations ?? 200 * n;
	const value = (x: number[]) => {
		const v = f(x);
		return Number.isFinite(v) ? v : Infinity;
	};
	const stepOf = (i: number) => (typeof opts.step === "number" ? opts.step : (opts.step?.[i] ?? 0.5));
	const simplex: number[][] = [[...x0]];
	for (let i = 0; i < n; i++) simplex.push(x0.map((v, j) => (j === i ? v + stepOf(i) : v)));
	let values = simplex.map(value);
	// Moves from the centroid c of all but the worst vertex: c + t·(c − worst).
	const along = (c: number[], worst: number[], t: number) => c.map((v, j) => v + t * (v - (worst[j] as number)));
	let iterations = 0;
	for (; ; iterations++) {
		const order = values.map((_, i) => i).sort((i, j) => (values[i] as number) - (values[j] as number) || i - j);
		const pts = order.map((i) => simplex[i] as number[]);
		const vals = order.map((i) => values[i] as number);
		simplex.splice(0, n + 1, ...pts);
		values = vals;
		const best = simplex[0] as number[];
		const spreadX = Math.max(...simplex.slice(1).map((p) => Math.max(...p.map((v, j) => Math.abs(v - (best[j] as number))))));
		const spreadF = Math.max(...values.slice(1).map((v) => Math.abs(v - (values[0] as number))));
		if (spreadX <= xTol && spreadF <= fTol) return { x: [...best], fx: values[0] as number, iterations, converged: true };
		if (iterations >= maxIterations) return { x: [...best], fx: values[0] as number, iterations, converged: false };
		const worst = simplex[n] as number[];
		const fWorst = values[n] as number;
		const centroid = best.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + (p[j] as number), 0) / n);
		const reflected = along(centroid, worst, 1);
		const fr = value(reflected);
		let replacement: number[] | null = null;
		let fReplacement = Infinity;
		if (fr < (values[0] as number)) {
			const expanded = along(centroid, worst, 2);
			const fe = value(expanded);
			[replacement, fReplacement] = fe < fr ? [expanded, fe] : [reflected, fr];
		} else if (fr < (values[n - 1] as number)) {
			[replacement, fReplacement] = [reflected, fr];
		} else {
			// Contract towards the better of the reflected point and the worst vertex.
			const outside = fr < fWorst;
			const contracted = along(centroid, worst, outside ? 0.5 : -0.5);
			const fc = value(contracted);
			if (fc < (outside ? fr : fWorst)) [replacement, fReplacement] = [contracted, fc];
		}
		if (replacement) {
			simplex[n] = replacement;
			values[n] = fReplacement;
		} else {
			for (let i = 1; i <= n; i++) {
				simplex[i] = (simplex[i] as number[]).map((v, j) => (best[j] as number) + 0.5 * (v - (best[j] as number)));
				values[i] = value(simplex[i] as number[]);
			}
		}
	}
}
