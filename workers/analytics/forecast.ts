/**
 * Forecasting of KPI series, pure (no bindings): seasonal ARIMA by exact maximum likelihood, exponential
 * smoothing (ETS), and the choice between them by rolling-origin backtest against a seasonal-naive
 * baseline. The nightly job feeds a series in (one number per day, week or month, oldest first) and
 * stores the forecast, its 80%/95% intervals, the chosen model, its parameters and its backtest error.
 *
 * SARIMA(p,d,q)(P,D,Q,s) follows statsmodels' SARIMAX sign conventions: φ(B)Φ(Bˢ)(∇ᵈ∇ₛᴰyₜ − μ) = θ(B)Θ(Bˢ)εₜ
 * with φ(B) = 1 − φ₁B − …, θ(B) = 1 + θ₁B + … (statsmodels' `ma.L1` is our `ma[0]`; its trend='c' intercept
 * is μ·φ(1)Φ(1), since we parametrise by the mean μ of the differenced series). The likelihood
 * is that of the differenced series under the stationary ARMA(p+sP, q+sQ), computed exactly by a Kalman
 * filter whose initial state covariance is the stationary one (from the ARMA autocovariances); σ² and μ
 * are concentrated out (GLS), the rest maximised by Nelder-Mead on tanh/PACF-transformed parameters so
 * AR parts stay stationary and MA parts invertible. This equals statsmodels' exact-diffuse likelihood of
 * the undifferenced model.
 *
 * Trend: the architecture document asks for `trend='ct'`. With d = 1 and D = 1 a constant and a linear
 * trend in y are annihilated by the differencing (not identified), and statsmodels' 'ct' — which enters
 * the differenced equation — would mean quadratic and cubic trends in y, which extrapolate wildly. So a
 * constant μ in the differenced series is fitted only when d + D ≤ 1 (there it is the mean or the drift);
 * with d + D ≥ 2 the trend lives in the differencing. `constant: true` overrides.
 *
 * ETS uses additive errors throughout (Hyndman & Athanasopoulos, fpp3 ch. 8): the likelihood is then the
 * sum of squared one-step errors, so ML = SSE. Intervals are analytic for additive seasonality (fpp3
 * §8.7, class 1) and simulated with a seeded PRNG for multiplicative seasonality, which has no closed form.
 *
 * Intervals treat the fitted parameters as known, as statsmodels and R's forecast do.
 */
import { nelderMead } from "./special";

/** Standard normal quantiles for the two-sided 80% and 95% intervals. */
const Z80 = 1.2815515655446004;
const Z95 = 1.959963984540054;

// ---------------------------------------------------------------------------------------------------
// SARIMA
// ---------------------------------------------------------------------------------------------------

export interface SarimaOrder {
	p: number;
	d: number;
	q: number;
	P: number;
	D: number;
	Q: number;
	/** Season length in periods (12 for monthly data, 7 for daily); 1 when there is no seasonal part. */
	s: number;
}

export interface SarimaParams {
	/** φ₁…φ_p (AR polynomial 1 − φ₁B − …). */
	ar: number[];
	/** θ₁…θ_q (MA polynomial 1 + θ₁B + …). */
	ma: number[];
	/** Φ₁…Φ_P at lags s, 2s, … */
	sar: number[];
	/** Θ₁…Θ_Q at lags s, 2s, … */
	sma: number[];
	/** Mean of the differenced series, in y's units per period (0 without a constant). */
	mean: number;
	/** Innovation variance, in y's units squared. */
	sigma2: number;
}

export interface SarimaFitOptions {
	/** Fit μ, the mean of the differenced series (default: only when d + D ≤ 1; see the module doc). */
	constant?: boolean;
	/** Nelder-Mead iteration cap per run (default 400 × number of parameters). */
	maxIterations?: number;
}

export interface SarimaFit {
	order: SarimaOrder;
	constant: boolean;
	params: SarimaParams;
	/** Standard errors from the observed information (numerical Hessian of the profile likelihood); NaN when it is not positive definite. */
	standardErrors: { ar: number[]; ma: number[]; sar: number[]; sma: number[]; mean: number };
	sigma2: number;
	/** Exact Gaussian log-likelihood of the differenced series at the estimates. */
	logLikelihood: number;
	aic: number;
	aicc: number;
	bic: number;
	/** Observations in the differenced series (n − d − s·D). */
	nObs: number;
	/** Number of estimated parameters, σ² included. */
	nParams: number;
	converged: boolean;
	iterations: number;
}

/** Point forecasts with standard errors and Gaussian (or simulated) 80%/95% intervals, one entry per step. */
export interface ForecastBand {
	/** Point forecasts for steps 1…h, in y's units. */
	mean: number[];
	/** Forecast standard errors for steps 1…h, in y's units. */
	se: number[];
	lower80: number[];
	upper80: number[];
	lower95: number[];
	upper95: number[];
}

export interface IntervalForecast extends ForecastBand {
	/**
	 * The running totals: entry k − 1 forecasts y_{N+1} + … + y_{N+k} (a month's remaining days, say). The
	 * steps' errors are correlated (each shock moves every later step), so the total's variance is
	 * 1ᵀ Σ 1 over the joint error covariance Σ of steps 1…k — not the sum of the steps' variances, and its
	 * interval is not the sum of their intervals.
	 */
	cumulative: ForecastBand;
}

/** Series length a SARIMA model needs: 3 full seasons for s ≥ 12 (monthly: 36), 8 for shorter seasons (daily with weekly season: 56), and ≥ 4 differenced points per parameter. */
export function minimumSarimaHistory(order: SarimaOrder, constant = defaultConstant(order)): number {
	validateOrder(order);
	const k = order.p + order.q + order.P + order.Q + (constant ? 1 : 0) + 1;
	const differencing = order.d + order.s * order.D;
	const perParameter = differencing + 4 * k;
	if (!isSeasonal(order)) return Math.max(20, perParameter);
	return Math.max(order.s * (order.s >= 12 ? 3 : 8), perParameter);
}

function isSeasonal(order: SarimaOrder): boolean {
	return order.P + order.D + order.Q > 0;
}

function defaultConstant(order: SarimaOrder): boolean {
	return order.d + order.D <= 1;
}

function validateOrder(order: SarimaOrder): void {
	const { p, d, q, P, D, Q, s } = order;
	for (const [name, v, max] of [
		["p", p, 3],
		["d", d, 2],
		["q", q, 3],
		["P", P, 2],
		["D", D, 1],
		["Q", Q, 2],
	] as const) {
		if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`SARIMA order: ${name} must be an integer in 0…${max}, got ${v}`);
	}
	if (!Number.isInteger(s) || s < 1 || s > 366) throw new RangeError(`SARIMA order: s must be an integer in 1…366, got ${s}`);
	if (s === 1 && P + D + Q > 0) throw new RangeError("SARIMA order: a seasonal part (P, D, Q) needs a season length s ≥ 2");
}

/** Coefficients of the product of two polynomials given by their coefficient lists (constant term first). */
function polyMul(a: readonly number[], b: readonly number[]): number[] {
	const out = new Array<number>(a.length + b.length - 1).fill(0);
	for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) out[i + j]! += a[i]! * b[j]!;
	return out;
}

/** The differencing polynomial (1 − B)ᵈ(1 − Bˢ)ᴰ, constant term first. */
function differencingPolynomial(order: SarimaOrder): number[] {
	let poly = [1];
	for (let i = 0; i < order.d; i++) poly = polyMul(poly, [1, -1]);
	const seasonal = new Array<number>(order.s + 1).fill(0);
	seasonal[0] = 1;
	seasonal[order.s] = -1;
	for (let i = 0; i < order.D; i++) poly = polyMul(poly, seasonal);
	return poly;
}

/** ∇ᵈ∇ₛᴰ y: the series the ARMA part models (n − d − s·D values). */
export function differenceSeries(y: readonly number[], order: SarimaOrder): number[] {
	const poly = differencingPolynomial(order);
	const k = poly.length - 1;
	const out: number[] = [];
	for (let t = k; t < y.length; t++) {
		let v = 0;
		for (let j = 0; j <= k; j++) v += poly[j]! * y[t - j]!;
		out.push(v);
	}
	return out;
}

/** Full ARMA lag coefficients: w_t = Σ c_k w_{t−k} + ε_t + Σ θ_k ε_{t−k}, from the multiplicative parameters. */
function expandArma(params: Pick<SarimaParams, "ar" | "ma" | "sar" | "sma">, s: number): { c: number[]; theta: number[] } {
	const seasonalPoly = (coefs: readonly number[], sign: number) => {
		const poly = new Array<number>(coefs.length * s + 1).fill(0);
		poly[0] = 1;
		coefs.forEach((v, i) => (poly[(i + 1) * s] = sign * v));
		return poly;
	};
	const arPoly = polyMul([1, ...params.ar.map((v) => -v)], seasonalPoly(params.sar, -1));
	const maPoly = polyMul([1, ...params.ma], seasonalPoly(params.sma, 1));
	return { c: arPoly.slice(1).map((v) => -v), theta: maPoly.slice(1) };
}

/**
 * Whether 1 − Σ a_k B^k has all roots outside the unit circle, by the Durbin-Levinson step-down (the
 * partial autocorrelations it implies must all lie strictly inside (−1, 1)).
 */
function isStationaryAr(coefs: readonly number[]): boolean {
	let a = [...coefs];
	while (a.length > 0 && a[a.length - 1] === 0) a.pop();
	for (let k = a.length; k >= 1; k--) {
		const r = a[k - 1]!;
		if (!(Math.abs(r) < 1)) return false;
		const next: number[] = [];
		for (let j = 0; j < k - 1; j++) next.push((a[j]! + r * a[k - 2 - j]!) / (1 - r * r));
		a = next;
	}
	return true;
}

/** AR coefficients from partial autocorrelations in (−1, 1) (Durbin-Levinson; Monahan 1984). */
function pacfToAr(r: readonly number[]): number[] {
	let a: number[] = [];
	for (let k = 0; k < r.length; k++) {
		const rk = r[k]!;
		a = [...a.map((v, j) => v - rk * a[k - 1 - j]!), rk];
	}
	return a;
}

/** Partial autocorrelations of a stationary AR polynomial (inverse of pacfToAr). */
function arToPacf(a: readonly number[]): number[] {
	let cur = [...a];
	const r = new Array<number>(a.length).fill(0);
	for (let k = cur.length; k >= 1; k--) {
		const rk = cur[k - 1]!;
		r[k - 1] = rk;
		const next: number[] = [];
		for (let j = 0; j < k - 1; j++) next.push((cur[j]! + rk * cur[k - 2 - j]!) / (1 - rk * rk));
		cur = next;
	}
	return r;
}

// The unconstrained search space: tanh keeps each partial autocorrelation inside (−1, 1); the clamp keeps
// a runaway simplex away from the exact unit root, where the stationary covariance is infinite.
const PACF_LIMIT = 1 - 1e-9;
const constrainAr = (x: readonly number[]) => pacfToAr(x.map((v) => Math.max(-PACF_LIMIT, Math.min(PACF_LIMIT, Math.tanh(v)))));
// An MA polynomial 1 + Σθ_k B^k is invertible exactly when −θ is a stationary AR vector.
const constrainMa = (x: readonly number[]) => constrainAr(x).map((v) => -v);
const unconstrainAr = (a: readonly number[]) => arToPacf(a).map((r) => Math.atanh(Math.max(-0.99, Math.min(0.99, r))));
const unconstrainMa = (m: readonly number[]) => unconstrainAr(m.map((v) => -v));

/** Solves A x = b in place by Gaussian elimination with partial pivoting (A is n×n, row-major); null when singular. */
function solveLinear(A: Float64Array, b: Float64Array, n: number): Float64Array | null {
	for (let col = 0; col < n; col++) {
		let pivot = col;
		for (let row = col + 1; row < n; row++) if (Math.abs(A[row * n + col]!) > Math.abs(A[pivot * n + col]!)) pivot = row;
		if (!(Math.abs(A[pivot * n + col]!) > 1e-300)) return null;
		if (pivot !== col) {
			for (let j = 0; j < n; j++) [A[col * n + j], A[pivot * n + j]] = [A[pivot * n + j]!, A[col * n + j]!];
			[b[col], b[pivot]] = [b[pivot]!, b[col]!];
		}
		const diag = A[col * n + col]!;
		for (let row = col + 1; row < n; row++) {
			const f = A[row * n + col]! / diag;
			if (f === 0) continue;
			for (let j = col; j < n; j++) A[row * n + j]! -= f * A[col * n + j]!;
			b[row]! -= f * b[col]!;
		}
	}
	const x = new Float64Array(n);
	for (let row = n - 1; row >= 0; row--) {
		let v = b[row]!;
		for (let j = row + 1; j < n; j++) v -= A[row * n + j]! * x[j]!;
		x[row] = v / A[row * n + row]!;
	}
	return x;
}

/** ψ-weights ψ₀…ψ_m of the ARMA (w = ψ(B)ε), σ² = 1. */
function psiWeights(c: readonly number[], theta: readonly number[], m: number): Float64Array {
	const psi = new Float64Array(m + 1);
	psi[0] = 1;
	for (let j = 1; j <= m; j++) {
		let v = theta[j - 1] ?? 0;
		for (let i = 1; i <= Math.min(j, c.length); i++) v += c[i - 1]! * psi[j - i]!;
		psi[j] = v;
	}
	return psi;
}

/**
 * Autocovariances γ(0)…γ(m) of a stationary ARMA with σ² = 1 (Brockwell & Davis §3.3, third method): a
 * (p+1)×(p+1) linear system for γ(0)…γ(p), then the difference equation. Null when the system is singular.
 */
function armaAutocovariances(c: readonly number[], theta: readonly number[], m: number): Float64Array | null {
	const p = c.length;
	const q = theta.length;
	const psi = psiWeights(c, theta, Math.max(q, m));
	const th = (j: number) => (j === 0 ? 1 : (theta[j - 1] ?? 0));
	// Right-hand side: Σ_{j=k}^{q} θ_j ψ_{j−k} = E[(θ(B)ε)_t · w_{t−k}].
	const rhs = (k: number) => {
		let v = 0;
		for (let j = k; j <= q; j++) v += th(j) * psi[j - k]!;
		return v;
	};
	const A = new Float64Array((p + 1) * (p + 1));
	const b = new Float64Array(p + 1);
	for (let k = 0; k <= p; k++) {
		A[k * (p + 1) + k]! += 1;
		for (let j = 1; j <= p; j++) A[k * (p + 1) + Math.abs(k - j)]! -= c[j - 1]!;
		b[k] = rhs(k);
	}
	const head = solveLinear(A, b, p + 1);
	if (!head) return null;
	const gamma = new Float64Array(Math.max(m, p) + 1);
	gamma.set(head.subarray(0, Math.min(p, gamma.length - 1) + 1));
	for (let k = p + 1; k < gamma.length; k++) {
		let v = rhs(k);
		for (let j = 1; j <= p; j++) v += c[j - 1]! * gamma[k - j]!;
		gamma[k] = v;
	}
	return gamma;
}

/** The ARMA in Harvey's state-space form: α_t = T α_{t−1} + R ε_t, w_t − μ = α_{1,t}; T is a companion matrix. */
interface ArmaStateSpace {
	/** State dimension max(p, q + 1). */
	r: number;
	/** First column of T (the AR coefficients, zero-padded to r). */
	tc: Float64Array;
	/** R = (1, θ₁, …, θ_{r−1}). */
	R: Float64Array;
	/** Stationary covariance of α (σ² = 1), r×r row-major: the solution of P = T P Tᵀ + R Rᵀ. */
	P0: Float64Array;
}

function armaStateSpace(c: readonly number[], theta: readonly number[]): ArmaStateSpace | null {
	const r = Math.max(c.length, theta.length + 1);
	const tc = new Float64Array(r);
	tc.set(c);
	const R = new Float64Array(r);
	R[0] = 1;
	R.set(theta, 1);
	const gamma = armaAutocovariances(c, theta, r);
	if (!gamma) return null;
	const psi = psiWeights(c, theta, r);
	// α_{i,t} = Σ_{j=0}^{r−1−i} (tc_{i+j} w_{t−1−j} + R_{i+j} ε_{t−j}) (0-based i); Cov(α) follows from the
	// covariances of (w_{t−1…t−r}, ε_{t…t−r+1}). Only the non-zero coefficients are visited, which keeps
	// this near O(r²) for the sparse multiplicative seasonal polynomials.
	type Term = { row: number; lag: number; coef: number; isShock: boolean };
	const terms: Term[] = [];
	for (let i = 0; i < r; i++) {
		for (let j = 0; i + j < r; j++) {
			if (tc[i + j] !== 0) terms.push({ row: i, lag: j, coef: tc[i + j]!, isShock: false });
			if (R[i + j] !== 0) terms.push({ row: i, lag: j, coef: R[i + j]!, isShock: true });
		}
	}
	// Cov(w_{t−1−j}, ε_{t−l}) = ψ_{l−1−j} when l ≥ j + 1, else 0.
	const cov = (a: Term, b: Term): number => {
		if (!a.isShock && !b.isShock) return gamma[Math.abs(a.lag - b.lag)]!;
		if (a.isShock && b.isShock) return a.lag === b.lag ? 1 : 0;
		const w = a.isShock ? b : a;
		const e = a.isShock ? a : b;
		return e.lag >= w.lag + 1 ? psi[e.lag - 1 - w.lag]! : 0;
	};
	const P0 = new Float64Array(r * r);
	for (const a of terms) for (const b of terms) if (b.row >= a.row) P0[a.row * r + b.row]! += a.coef * b.coef * cov(a, b);
	for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) P0[i * r + j] = P0[j * r + i]!;
	for (let i = 0; i < r; i++) if (!(P0[i * r + i]! >= 0) || !Number.isFinite(P0[i * r + i]!)) return null;
	return { r, tc, R, P0 };
}

interface FilterResult {
	/** Σ log F_t (F in units of σ²). */
	sumLogF: number;
	/** Σ v_w²/F, Σ v_w v_x/F, Σ v_x²/F: innovations of the data and of the constant regressor. */
	sww: number;
	swx: number;
	sxx: number;
	/** Predicted state a_{N+1|N} for the data and for the regressor, and its covariance P_{N+1|N} (σ² = 1). */
	aw: Float64Array;
	ax: Float64Array;
	P: Float64Array;
}

/**
 * The Kalman filter over the differenced series w (σ² = 1), run on the data and, alongside, on a column
 * of ones so the constant can be estimated by GLS afterwards (the gains do not depend on the data).
 */
function kalmanFilter(ss: ArmaStateSpace, w: readonly number[]): FilterResult {
	const { r, tc, R } = ss;
	const P = Float64Array.from(ss.P0);
	const K = new Float64Array(r);
	let aw = new Float64Array(r);
	let ax = new Float64Array(r);
	let nextW = new Float64Array(r);
	let nextX = new Float64Array(r);
	let sumLogF = 0;
	let sww = 0;
	let swx = 0;
	let sxx = 0;
	let steady = false;
	let F = 1;
	for (let t = 0; t < w.length; t++) {
		if (!steady) {
			F = P[0]!;
			for (let i = 0; i < r; i++) K[i] = P[i * r]! / F;
		}
		const vw = w[t]! - aw[0]!;
		const vx = 1 - ax[0]!;
		sumLogF += Math.log(F);
		sww += (vw * vw) / F;
		swx += (vw * vx) / F;
		sxx += (vx * vx) / F;
		// a_{t+1} = T (a_t + K v_t), with T's companion structure: (T a)_i = tc_i a_0 + a_{i+1}.
		const uw0 = aw[0]! + K[0]! * vw;
		const ux0 = ax[0]! + K[0]! * vx;
		for (let i = 0; i < r; i++) {
			const nw = i + 1 < r ? aw[i + 1]! + K[i + 1]! * vw : 0;
			const nx = i + 1 < r ? ax[i + 1]! + K[i + 1]! * vx : 0;
			nextW[i] = tc[i]! * uw0 + nw;
			nextX[i] = tc[i]! * ux0 + nx;
		}
		[aw, nextW] = [nextW, aw];
		[ax, nextX] = [nextX, ax];
		if (steady) continue;
		// P_{t+1} = T (P − P e₁ e₁ᵀ P / F) Tᵀ + R Rᵀ. The update zeroes the first row and column (w_t is the
		// first state, observed exactly), and T shifts rows and columns up by one, adding the AR coefficients
		// only in that zeroed column: so P_{t+1}[i][j] = P[i+1][j+1] − K_{i+1} K_{j+1} F + R_i R_j, one O(r²) pass.
		let change = 0;
		for (let i = 0; i < r; i++) {
			for (let j = i; j < r; j++) {
				const shifted = i + 1 < r && j + 1 < r ? P[(i + 1) * r + j + 1]! - K[i + 1]! * K[j + 1]! * F : 0;
				const v = shifted + R[i]! * R[j]!;
				change = Math.max(change, Math.abs(v - P[i * r + j]!));
				P[i * r + j] = v;
			}
		}
		for (let i = 1; i < r; i++) for (let j = 0; j < i; j++) P[i * r + j] = P[j * r + i]!;
		// Once P has converged (to the Riccati fixed point) the gains are constant; statsmodels does the same.
		if (change < 1e-14) {
			steady = true;
			F = P[0]!;
			for (let i = 0; i < r; i++) K[i] = P[i * r]! / F;
		}
	}
	return { sumLogF, sww, swx, sxx, aw, ax, P };
}

/** Exact profile log-likelihood (σ² and, with a constant, μ concentrated out) of w; −Infinity outside the stationary region. */
function profileLogLikelihood(
	params: Pick<SarimaParams, "ar" | "ma" | "sar" | "sma">,
	w: readonly number[],
	s: number,
	constant: boolean,
): { logLikelihood: number; sigma2: number; mean: number } {
	const bad = { logLikelihood: -Infinity, sigma2: NaN, mean: NaN };
	if (!isStationaryAr(params.ar) || !isStationaryAr(params.sar)) return bad;
	const { c, theta } = expandArma(params, s);
	const ss = armaStateSpace(c, theta);
	if (!ss) return bad;
	const f = kalmanFilter(ss, w);
	const mean = constant && f.sxx > 0 ? f.swx / f.sxx : 0;
	const ssr = constant ? f.sww - mean * f.swx : f.sww;
	const n = w.length;
	const sigma2 = ssr / n;
	const logLikelihood = -0.5 * (n * (Math.log(2 * Math.PI) + 1 + Math.log(sigma2)) + f.sumLogF);
	return Number.isFinite(logLikelihood) ? { logLikelihood, sigma2, mean } : bad;
}

/**
 * Exact Gaussian log-likelihood of y under SARIMA(order) at the given parameters (σ² and μ as given, not
 * estimated): the likelihood of the differenced series ∇ᵈ∇ₛᴰy, via the Kalman filter. −Infinity when an
 * AR part is not stationary.
 */
export function sarimaLogLikelihood(params: SarimaParams, y: readonly number[], order: SarimaOrder): number {
	validateOrder(order);
	checkParamCounts(params, order);
	if (!isStationaryAr(params.ar) || !isStationaryAr(params.sar) || !(params.sigma2 > 0)) return -Infinity;
	const w = differenceSeries(y, order);
	const { c, theta } = expandArma(params, order.s);
	const ss = armaStateSpace(c, theta);
	if (!ss) return -Infinity;
	const f = kalmanFilter(ss, w);
	const ssr = f.sww - 2 * params.mean * f.swx + params.mean * params.mean * f.sxx;
	return -0.5 * (w.length * Math.log(2 * Math.PI * params.sigma2) + f.sumLogF + ssr / params.sigma2);
}

function checkParamCounts(params: Pick<SarimaParams, "ar" | "ma" | "sar" | "sma">, order: SarimaOrder): void {
	const counts: [string, number, number][] = [
		["ar", params.ar.length, order.p],
		["ma", params.ma.length, order.q],
		["sar", params.sar.length, order.P],
		["sma", params.sma.length, order.Q],
	];
	for (const [name, got, want] of counts) if (got !== want) throw new RangeError(`SARIMA params: ${name} has ${got} coefficients, the order needs ${want}`);
}

function checkSeries(y: readonly number[], what: string): void {
	for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i])) throw new RangeError(`${what}: value ${i} is not a finite number (${y[i]})`);
}

type ArmaCoefs = Pick<SarimaParams, "ar" | "ma" | "sar" | "sma">;

function splitVector(x: readonly number[], order: SarimaOrder): ArmaCoefs {
	let i = 0;
	const take = (k: number) => x.slice(i, (i += k));
	return { ar: take(order.p), ma: take(order.q), sar: take(order.P), sma: take(order.Q) };
}

/**
 * Fits SARIMA(order) to y (oldest first) by exact maximum likelihood. Throws RangeError when y is shorter
 * than minimumSarimaHistory(order) or holds a non-finite value.
 */
export function fitSarima(y: readonly number[], order: SarimaOrder, opts: SarimaFitOptions = {}): SarimaFit {
	validateOrder(order);
	checkSeries(y, "fitSarima");
	const constant = opts.constant ?? defaultConstant(order);
	const needed = minimumSarimaHistory(order, constant);
	if (y.length < needed) throw new RangeError(`${sarimaLabel(order)} needs at least ${needed} observations, got ${y.length}`);
	const w = differenceSeries(y, order);
	const { p, q, P, Q, s } = order;
	const k = p + q + P + Q;
	const toCoefs = (x: readonly number[]): ArmaCoefs => {
		const u = splitVector(x, order);
		return { ar: constrainAr(u.ar), ma: constrainMa(u.ma), sar: constrainAr(u.sar), sma: constrainMa(u.sma) };
	};
	const objective = (x: number[]) => -profileLogLikelihood(toCoefs(x), w, s, constant).logLikelihood;
	// Two starts: small positive values (at exactly zero the AR and MA terms of an ARMA(1,1) cancel, a flat ridge) and
	// an airline-like point with negative MA terms, where differenced business series usually sit. The likelihood of
	// near-cancelling models has separate hills, and one start can settle on the lower one.
	const encode = (c: ArmaCoefs) => [...unconstrainAr(c.ar), ...unconstrainMa(c.ma), ...unconstrainAr(c.sar), ...unconstrainMa(c.sma)];
	const starts = [encode({ ar: fill(p, 0.1), ma: fill(q, 0.1), sar: fill(P, 0.1), sma: fill(Q, 0.1) }), encode({ ar: fill(p, 0), ma: fill(q, -0.4), sar: fill(P, 0), sma: fill(Q, -0.4) })];
	let x0 = starts[0]!;
	let converged = true;
	let iterations = 0;
	if (k > 0) {
		const maxIterations = opts.maxIterations ?? 400 * k;
		let best = { x: x0, fx: Infinity };
		for (const start of starts) {
			const res = nelderMead(objective, start, { step: 0.5, xTolerance: 1e-6, fTolerance: 1e-9, maxIterations });
			iterations += res.iterations;
			if (res.fx < best.fx) best = res;
		}
		// A restart from the optimum with a fresh, small simplex guards against Nelder-Mead's premature collapse.
		const polished = nelderMead(objective, best.x, { step: 0.1, xTolerance: 1e-6, fTolerance: 1e-9, maxIterations });
		iterations += polished.iterations;
		converged = polished.converged;
		x0 = polished.fx <= best.fx ? polished.x : best.x;
	}
	const coefs = toCoefs(x0);
	const best = profileLogLikelihood(coefs, w, s, constant);
	const nParams = k + (constant ? 1 : 0) + 1;
	const n = w.length;
	const se = sarimaStandardErrors(coefs, w, order, constant, best.mean, best.sigma2);
	return {
		order: { ...order },
		constant,
		params: { ...coefs, mean: best.mean, sigma2: best.sigma2 },
		standardErrors: se,
		sigma2: best.sigma2,
		logLikelihood: best.logLikelihood,
		aic: -2 * best.logLikelihood + 2 * nParams,
		aicc: n - nParams - 1 > 0 ? -2 * best.logLikelihood + (2 * nParams * n) / (n - nParams - 1) : Infinity,
		bic: -2 * best.logLikelihood + nParams * Math.log(n),
		nObs: n,
		nParams,
		converged,
		iterations,
	};
}

function fill(k: number, v: number): number[] {
	return new Array<number>(k).fill(v);
}

/**
 * Standard errors of the ARMA coefficients from the numerical Hessian of the profile log-likelihood (the
 * profile's curvature equals the full information's for the remaining parameters); μ's from its GLS
 * variance σ² / Σ v_x²/F.
 */
function sarimaStandardErrors(coefs: ArmaCoefs, w: readonly number[], order: SarimaOrder, constant: boolean, mean: number, sigma2: number): SarimaFit["standardErrors"] {
	const x = [...coefs.ar, ...coefs.ma, ...coefs.sar, ...coefs.sma];
	const k = x.length;
	const f = (v: number[]) => -profileLogLikelihood(splitVector(v, order), w, order.s, constant).logLikelihood;
	const h = 1e-4;
	const f0 = f(x);
	const H = new Float64Array(k * k);
	const at = (d: Record<number, number>) => f(x.map((v, i) => v + (d[i] ?? 0)));
	for (let i = 0; i < k; i++) {
		H[i * k + i] = (at({ [i]: h }) - 2 * f0 + at({ [i]: -h })) / (h * h);
		for (let j = 0; j < i; j++) {
			const v = (at({ [i]: h, [j]: h }) - at({ [i]: h, [j]: -h }) - at({ [i]: -h, [j]: h }) + at({ [i]: -h, [j]: -h })) / (4 * h * h);
			H[i * k + j] = v;
			H[j * k + i] = v;
		}
	}
	const variances = new Array<number>(k).fill(NaN);
	if (k > 0 && H.every(Number.isFinite)) {
		for (let i = 0; i < k; i++) {
			const e = new Float64Array(k);
			e[i] = 1;
			const col = solveLinear(Float64Array.from(H), e, k);
			if (col && col[i]! > 0) variances[i] = col[i]!;
		}
	}
	const seList = variances.map(Math.sqrt);
	const split = splitVector(seList, order);
	let meanSe = NaN;
	if (constant) {
		const { c, theta } = expandArma(coefs, order.s);
		const ss = armaStateSpace(c, theta);
		if (ss) {
			const fr = kalmanFilter(ss, w);
			meanSe = Math.sqrt(sigma2 / fr.sxx);
		}
	} else if (mean === 0) meanSe = 0;
	return { ...split, mean: meanSe };
}

/** "SARIMA(1,1,1)(1,1,1)[12]" */
export function sarimaLabel(order: SarimaOrder): string {
	const base = `(${order.p},${order.d},${order.q})`;
	return isSeasonal(order) ? `SARIMA${base}(${order.P},${order.D},${order.Q})[${order.s}]` : `ARIMA${base}`;
}

/**
 * Forecasts h steps past the end of y (the series the fit was made on) with 80%/95% intervals. The
 * variance is exact for the finite sample: the joint covariance of the differenced forecasts from the
 * Kalman filter, Cov(e_i, e_j) = σ² (T^{j−i} P_{N+i})₁₁, carried through the undifferencing.
 */
export function forecastSarima(fit: Pick<SarimaFit, "order" | "params">, y: readonly number[], h: number): IntervalForecast {
	if (!Number.isInteger(h) || h < 1) throw new RangeError(`forecastSarima: h must be a positive integer, got ${h}`);
	checkSeries(y, "forecastSarima");
	const { order, params } = fit;
	const w = differenceSeries(y, order);
	const { c, theta } = expandArma(params, order.s);
	const ss = armaStateSpace(c, theta);
	if (!ss) throw new RangeError("forecastSarima: the fitted AR part is not stationary");
	const { r, tc, R } = ss;
	const f = kalmanFilter(ss, w);
	// The state of w − μ: the data's state minus μ times the constant regressor's.
	let a = f.aw.map((v, i) => v - params.mean * f.ax[i]!);
	const wMean: number[] = [];
	const Ps: Float64Array[] = [];
	let P = Float64Array.from(f.P);
	for (let j = 0; j < h; j++) {
		wMean.push(params.mean + a[0]!);
		Ps.push(P);
		const next = new Float64Array(r);
		for (let i = 0; i < r; i++) next[i] = tc[i]! * a[0]! + (i + 1 < r ? a[i + 1]! : 0);
		a = next;
		// P_{next} = T P Tᵀ + R Rᵀ (no update: nothing is observed past the end).
		const TP = new Float64Array(r * r);
		for (let i = 0; i < r; i++) for (let k = 0; k < r; k++) TP[i * r + k] = tc[i]! * P[k]! + (i + 1 < r ? P[(i + 1) * r + k]! : 0);
		const Pn = new Float64Array(r * r);
		for (let i = 0; i < r; i++) for (let k = 0; k < r; k++) Pn[i * r + k] = TP[i * r]! * tc[k]! + (k + 1 < r ? TP[i * r + k + 1]! : 0) + R[i]! * R[k]!;
		P = Pn;
	}
	// u_k = e₁ᵀ T^k, so Cov(e_i, e_j) = u_{j−i} · P_{N+i} e₁ for j ≥ i.
	const u: Float64Array[] = [];
	let row = new Float64Array(r);
	row[0] = 1;
	for (let k = 0; k < h; k++) {
		u.push(row);
		// T has tc in its first column and ones above the diagonal: (uᵀT)₀ = Σ u_i tc_i, (uᵀT)_j = u_{j−1}.
		const next = new Float64Array(r);
		for (let i = 0; i < r; i++) next[0]! += row[i]! * tc[i]!;
		for (let j = 1; j < r; j++) next[j] = row[j - 1]!;
		row = next;
	}
	const C = new Float64Array(h * h);
	for (let i = 0; i < h; i++) {
		for (let j = i; j < h; j++) {
			let v = 0;
			for (let m = 0; m < r; m++) v += u[j - i]![m]! * Ps[i]![m * r]!;
			C[i * h + j] = v * params.sigma2;
			C[j * h + i] = v * params.sigma2;
		}
	}
	// Undifference: y_t = w_t + Σ a_k y_{t−k} with 1 − Σ a_k B^k = (1 − B)ᵈ(1 − Bˢ)ᴰ; the errors obey the same
	// recursion, so e^y = L e^w with L_{ij} = ξ_{i−j}, ξ the ψ-weights of 1/∇ᵈ∇ₛᴰ.
	const diffPoly = differencingPolynomial(order);
	const aCoef = diffPoly.slice(1).map((v) => -v);
	const hist = [...y];
	const mean: number[] = [];
	for (let j = 0; j < h; j++) {
		let v = wMean[j]!;
		for (let k = 1; k <= aCoef.length; k++) v += aCoef[k - 1]! * hist[hist.length - k]!;
		hist.push(v);
		mean.push(v);
	}
	const xi = psiWeights(aCoef, [], h);
	const se: number[] = [];
	for (let j = 0; j < h; j++) {
		let v = 0;
		for (let i = 0; i <= j; i++) for (let k = 0; k <= j; k++) v += xi[j - i]! * xi[j - k]! * C[i * h + k]!;
		se.push(Math.sqrt(Math.max(0, v)));
	}
	// The total of steps 1…k: 1ᵀ L C Lᵀ 1 over the first k steps. (1ᵀL)_i = Σ_{j=i}^{k−1} ξ_{j−i} = Ξ_{k−1−i}
	// with Ξ the running sums of ξ, so Var = Σ_{i,l<k} Ξ_{k−1−i} Ξ_{k−1−l} C_{il}.
	const Xi = new Float64Array(h);
	for (let j = 0, acc = 0; j < h; j++) Xi[j] = acc += xi[j]!;
	const cumSe: number[] = [];
	for (let k = 1; k <= h; k++) {
		let v = 0;
		for (let i = 0; i < k; i++) {
			const wi = Xi[k - 1 - i]!;
			for (let l = 0; l < k; l++) v += wi * Xi[k - 1 - l]! * C[i * h + l]!;
		}
		cumSe.push(Math.sqrt(Math.max(0, v)));
	}
	return { ...intervals(mean, se), cumulative: intervals(runningSum(mean), cumSe) };
}

/** Running sums: out[k] = v[0] + … + v[k]. */
function runningSum(v: readonly number[]): number[] {
	let acc = 0;
	return v.map((x) => (acc += x));
}

function intervals(mean: number[], se: number[]): ForecastBand {
	return {
		mean,
		se,
		lower80: mean.map((m, i) => m - Z80 * se[i]!),
		upper80: mean.map((m, i) => m + Z80 * se[i]!),
		lower95: mean.map((m, i) => m - Z95 * se[i]!),
		upper95: mean.map((m, i) => m + Z95 * se[i]!),
	};
}

// ---------------------------------------------------------------------------------------------------
// Exponential smoothing (ETS with additive errors)
// ---------------------------------------------------------------------------------------------------

export interface EtsSpec {
	/** Season length m (12 monthly, 7 daily); ignored when seasonal is 'none'. */
	season?: number;
	trend: "none" | "add";
	/** Damp the trend by φ ∈ [0.8, 0.98] per period (needs trend 'add'). */
	damped?: boolean;
	seasonal: "none" | "add" | "mul";
}

export interface EtsParams {
	/** Level smoothing α ∈ (0, 1). */
	alpha: number;
	/** Trend smoothing β ∈ (0, α) in fpp3's form b_t = φb_{t−1} + β e_t (0 without trend). */
	beta: number;
	/** Seasonal smoothing γ ∈ (0, 1 − α) (0 without season). */
	gamma: number;
	/** Damping φ (1 when not damped). */
	phi: number;
}

export interface EtsState {
	level: number;
	/** Trend per period (0 without trend). */
	trend: number;
	/** The last m seasonal terms s_{t−m+1}…s_t, oldest first (empty without season); additive in y's units, multiplicative as factors. */
	seasonal: number[];
}

export interface EtsFit {
	spec: EtsSpec;
	params: EtsParams;
	/** States before the first observation (ℓ₀, b₀, s_{1−m}…s₀). */
	initial: EtsState;
	/** States after the last observation, where forecasts start. */
	final: EtsState;
	/** Residual variance SSE/(n − k), the interval variance (R's forecast::ets does the same), in y's units squared. */
	sigma2: number;
	sse: number;
	/** Gaussian log-likelihood at σ² = SSE/n. */
	logLikelihood: number;
	aic: number;
	aicc: number;
	/** Smoothing parameters plus initial states (σ² not included). */
	nParams: number;
	nObs: number;
	converged: boolean;
}

export interface EtsForecastOptions {
	/** Simulated paths for multiplicative-season intervals (default 5,000). */
	simulations?: number;
	/** PRNG seed for those paths (default 1), so a nightly run is reproducible. */
	seed?: number;
}

function etsSeason(spec: EtsSpec): number {
	if (spec.seasonal === "none") return 1;
	const m = spec.season;
	if (!Number.isInteger(m) || m === undefined || m < 2 || m > 366) throw new RangeError(`ETS: a seasonal model needs an integer season ≥ 2, got ${m}`);
	return m;
}

function etsSmoothingCount(spec: EtsSpec): number {
	return 1 + (spec.trend === "add" ? 1 : 0) + (spec.seasonal !== "none" ? 1 : 0) + (spec.damped ? 1 : 0);
}

function etsInitialCount(spec: EtsSpec): number {
	return 1 + (spec.trend === "add" ? 1 : 0) + (spec.seasonal !== "none" ? etsSeason(spec) - 1 : 0);
}

/** Series length an ETS model needs: 2 full seasons when seasonal (and ≥ 4 more points than parameters), else max(10, parameters + 4). */
export function minimumEtsHistory(spec: EtsSpec): number {
	validateEtsSpec(spec);
	const k = etsSmoothingCount(spec) + etsInitialCount(spec);
	return spec.seasonal === "none" ? Math.max(10, k + 4) : Math.max(2 * etsSeason(spec), k + 4);
}

function validateEtsSpec(spec: EtsSpec): void {
	if (spec.damped && spec.trend !== "add") throw new RangeError("ETS: a damped model needs trend 'add'");
	etsSeason(spec);
}

/** "ETS(A,Ad,M)" in Hyndman's notation (error, trend, season). */
export function etsLabel(spec: EtsSpec): string {
	const trend = spec.trend === "add" ? (spec.damped ? "Ad" : "A") : "N";
	const season = spec.seasonal === "add" ? "A" : spec.seasonal === "mul" ? "M" : "N";
	return `ETS(A,${trend},${season})${spec.seasonal === "none" ? "" : `[${spec.season}]`}`;
}

/**
 * Runs the ETS recursions over y from the given initial states (fpp3 Table 8.7, additive errors): one-step
 * fitted values, errors and the final states. Pure bookkeeping; fitting chooses params and initial states.
 */
export function etsRecursions(y: readonly number[], spec: EtsSpec, params: EtsParams, initial: EtsState): { fitted: number[]; residuals: number[]; final: EtsState } {
	const fitted: number[] = [];
	const residuals: number[] = [];
	const final = runEts(y, spec, params, initial, fitted, residuals);
	return { fitted, residuals, final };
}

/** The recursions; pushes into fitted/residuals when given, returns the final state and leaves SSE in the return's `sse`. */
function runEts(y: readonly number[], spec: EtsSpec, params: EtsParams, initial: EtsState, fitted?: number[], residuals?: number[]): EtsState & { sse: number } {
	const { alpha, beta, gamma, phi } = params;
	const hasTrend = spec.trend === "add";
	const seasonal = spec.seasonal;
	const m = seasonal === "none" ? 0 : initial.seasonal.length;
	const buf = Float64Array.from(initial.seasonal);
	let level = initial.level;
	let trend = hasTrend ? initial.trend : 0;
	let sse = 0;
	for (let t = 0; t < y.length; t++) {
		const base = level + phi * trend;
		const si = m > 0 ? t % m : 0;
		const s = m > 0 ? buf[si]! : seasonal === "mul" ? 1 : 0;
		const yhat = seasonal === "mul" ? base * s : base + s;
		const e = y[t]! - yhat;
		sse += e * e;
		fitted?.push(yhat);
		residuals?.push(e);
		if (seasonal === "mul") {
			// fpp3 Table 8.7, ETS(A,·,M): the level and trend corrections are de-seasonalised, the seasonal one de-levelled.
			level = base + (alpha * e) / s;
			if (hasTrend) trend = phi * trend + (beta * e) / s;
			buf[si] = s + (gamma * e) / base;
		} else {
			level = base + alpha * e;
			if (hasTrend) trend = phi * trend + beta * e;
			if (m > 0) buf[si] = s + gamma * e;
		}
	}
	const n = y.length;
	const seasonalOut: number[] = [];
	for (let j = 0; j < m; j++) seasonalOut.push(buf[(n + j) % m]!);
	return { level, trend, seasonal: seasonalOut, sse };
}

/** Parameters from the unconstrained vector: the usual region 0 < β < α < 1, 0 < γ < 1 − α, 0.8 ≤ φ ≤ 0.98 (Hyndman et al. 2008 §5.2). */
function etsParamsFrom(x: readonly number[], spec: EtsSpec): EtsParams {
	const logistic = (v: number) => 1 / (1 + Math.exp(-v));
	let i = 0;
	const alpha = 1e-4 + (1 - 2e-4) * logistic(x[i++]!);
	const beta = spec.trend === "add" ? alpha * logistic(x[i++]!) : 0;
	const gamma = spec.seasonal !== "none" ? (1 - alpha) * logistic(x[i++]!) : 0;
	const phi = spec.damped ? 0.8 + 0.18 * logistic(x[i++]!) : 1;
	return { alpha, beta, gamma, phi };
}

/**
 * Starting points for the search: the SSE surface of seasonal models has separate valleys (e.g. α near 1
 * with a frozen season, or a moderate α with a fast-moving season), so the search starts from a small grid.
 */
function etsStartVectors(spec: EtsSpec): number[][] {
	const logit = (p: number) => Math.log(p / (1 - p));
	const alphas = [0.1, 0.3, 0.6, 0.9];
	const betaShares = spec.trend === "add" ? [0.05, 0.3] : [NaN];
	const gammaShares = spec.seasonal !== "none" ? [0.1, 0.5, 0.9] : [NaN];
	const out: number[][] = [];
	for (const a of alphas) {
		for (const b of betaShares) {
			for (const g of gammaShares) {
				const x = [logit((a - 1e-4) / (1 - 2e-4))];
				if (spec.trend === "add") x.push(logit(b));
				if (spec.seasonal !== "none") x.push(logit(g));
				if (spec.damped) x.push(logit((0.95 - 0.8) / 0.18));
				out.push(x);
			}
		}
	}
	return out;
}

/**
 * Initial states that minimise SSE for an additive model at given smoothing parameters. The model is
 * linear, so each error is linear in the initial state: e = e(0) + E x₀, with E's columns the errors of
 * a zero series from unit initial states. The season's initial terms sum to zero (s₀ = −Σ the rest),
 * which removes their confounding with the level. Exact least squares — no search over m + 2 states.
 */
function additiveInitialStates(y: readonly number[], spec: EtsSpec, params: EtsParams): EtsState | null {
	const m = spec.seasonal === "none" ? 0 : etsSeason(spec);
	const hasTrend = spec.trend === "add";
	const basis: EtsState[] = [{ level: 1, trend: 0, seasonal: fill(m, 0) }];
	if (hasTrend) basis.push({ level: 0, trend: 1, seasonal: fill(m, 0) });
	for (let j = 0; j < m - 1; j++) {
		const seasonal = fill(m, 0);
		seasonal[j] = 1;
		seasonal[m - 1] = -1;
		basis.push({ level: 0, trend: 0, seasonal });
	}
	const k = basis.length;
	const zeros = fill(y.length, 0);
	const e0: number[] = [];
	runEts(y, spec, params, { level: 0, trend: 0, seasonal: fill(m, 0) }, undefined, e0);
	const cols = basis.map((b) => {
		const e: number[] = [];
		runEts(zeros, spec, params, b, undefined, e);
		return e;
	});
	// Normal equations (EᵀE) x = −Eᵀe(0), with a tiny ridge against exact collinearity.
	const A = new Float64Array(k * k);
	const b = new Float64Array(k);
	for (let i = 0; i < k; i++) {
		const ci = cols[i]!;
		for (let j = 0; j <= i; j++) {
			const cj = cols[j]!;
			let v = 0;
			for (let t = 0; t < ci.length; t++) v += ci[t]! * cj[t]!;
			A[i * k + j] = v;
			A[j * k + i] = v;
		}
		let v = 0;
		for (let t = 0; t < ci.length; t++) v -= ci[t]! * e0[t]!;
		b[i] = v;
	}
	for (let i = 0; i < k; i++) A[i * k + i]! += 1e-10 * (A[i * k + i]! + 1);
	const x = solveLinear(A, b, k);
	if (!x) return null;
	const state: EtsState = { level: 0, trend: 0, seasonal: fill(m, 0) };
	basis.forEach((bs, i) => {
		state.level += bs.level * x[i]!;
		state.trend += bs.trend * x[i]!;
		for (let j = 0; j < m; j++) state.seasonal[j]! += bs.seasonal[j]! * x[i]!;
	});
	return state;
}

/**
 * Heuristic initial states for multiplicative seasonality (after Hyndman et al. 2008 §2.6.1): seasonal
 * factors from the ratios to a centred moving average over the first two seasons, normalised to mean 1;
 * level and trend from a straight line through the first two seasons once de-seasonalised.
 */
function multiplicativeInitialStates(y: readonly number[], spec: EtsSpec): EtsState {
	const m = etsSeason(spec);
	const half = Math.floor(m / 2);
	const ratios: number[][] = Array.from({ length: m }, () => []);
	for (let t = half; t < 2 * m - half; t++) {
		let ma: number;
		if (m % 2 === 0) {
			// 2×m moving average: the end points get half weight so the window is centred on t.
			if (t - half < 0 || t + half >= y.length) continue;
			let sum = 0.5 * (y[t - half]! + y[t + half]!);
			for (let j = t - half + 1; j < t + half; j++) sum += y[j]!;
			ma = sum / m;
		} else {
			let sum = 0;
			for (let j = t - half; j <= t + half; j++) sum += y[j]!;
			ma = sum / m;
		}
		ratios[t % m]!.push(y[t]! / ma);
	}
	let factors = ratios.map((r) => (r.length > 0 ? r.reduce((a, b) => a + b, 0) / r.length : 1));
	const avg = factors.reduce((a, b) => a + b, 0) / m;
	factors = factors.map((v) => v / avg);
	// Time t (0-based) uses s_{t+1−m}, which is initial.seasonal[t mod m].
	const adjusted = y.slice(0, 2 * m).map((v, t) => v / factors[t % m]!);
	const { intercept, slope } = lineFit(adjusted);
	const hasTrend = spec.trend === "add";
	// The line is fitted at t = 0…; ℓ₀ sits one period before the first observation.
	const level = hasTrend ? intercept - slope : adjusted.slice(0, m).reduce((a, b) => a + b, 0) / m;
	return { level, trend: hasTrend ? slope : 0, seasonal: factors };
}

function lineFit(v: readonly number[]): { intercept: number; slope: number } {
	const n = v.length;
	const tMean = (n - 1) / 2;
	const vMean = v.reduce((a, b) => a + b, 0) / n;
	let sxy = 0;
	let sxx = 0;
	v.forEach((val, t) => {
		sxy += (t - tMean) * (val - vMean);
		sxx += (t - tMean) ** 2;
	});
	const slope = sxx > 0 ? sxy / sxx : 0;
	return { intercept: vMean - slope * tMean, slope };
}

/**
 * Fits an ETS model with additive errors to y by maximum likelihood (= least squares). Additive models
 * get their initial states by exact least squares at every step of the search; multiplicative seasonality
 * starts from heuristic states whose level and trend are then searched along with the smoothing parameters.
 * Throws RangeError for too short a history, and for multiplicative seasonality on non-positive values.
 */
export function fitEts(y: readonly number[], spec: EtsSpec): EtsFit {
	validateEtsSpec(spec);
	checkSeries(y, "fitEts");
	const needed = minimumEtsHistory(spec);
	if (y.length < needed) throw new RangeError(`${etsLabel(spec)} needs at least ${needed} observations, got ${y.length}`);
	if (spec.seasonal === "mul" && y.some((v) => !(v > 0))) throw new RangeError(`${etsLabel(spec)}: multiplicative seasonality needs every value > 0`);
	const nSmooth = etsSmoothingCount(spec);
	let stateFor: (x: number[], params: EtsParams) => EtsState | null;
	let starts = etsStartVectors(spec);
	if (spec.seasonal === "mul") {
		const heuristic = multiplicativeInitialStates(y, spec);
		// Level and trend offsets are searched in units of the series' scale so one simplex step fits all series.
		const scale = y.reduce((a, b) => a + Math.abs(b), 0) / y.length || 1;
		const m = etsSeason(spec);
		stateFor = (x) => ({
			level: heuristic.level + scale * (x[nSmooth] ?? 0),
			trend: spec.trend === "add" ? heuristic.trend + (scale / m) * (x[nSmooth + 1] ?? 0) : 0,
			seasonal: heuristic.seasonal,
		});
		starts = starts.map((x) => [...x, 0, ...(spec.trend === "add" ? [0] : [])]);
	} else {
		stateFor = (_x, params) => additiveInitialStates(y, spec, params);
	}
	// −log-likelihood up to a constant, (n/2)·log SSE: the stopping tolerances then read in likelihood units
	// whatever the series' scale.
	const objective = (x: number[]) => {
		const params = etsParamsFrom(x, spec);
		const init = stateFor(x, params);
		return init ? 0.5 * y.length * Math.log(runEts(y, spec, params, init).sse) : Infinity;
	};
	// Search from the three best grid points, then restart the winner with a small simplex.
	const ranked = starts.map((x) => ({ x, f: objective(x) })).sort((a, b) => a.f - b.f);
	const dim = starts[0]!.length;
	let best = { x: ranked[0]!.x, fx: Infinity, converged: false };
	for (const { x } of ranked.slice(0, 3)) {
		const res = nelderMead(objective, x, { step: 1, xTolerance: 1e-5, fTolerance: 1e-8, maxIterations: 500 * dim });
		if (res.fx < best.fx) best = res;
	}
	const polished = nelderMead(objective, best.x, { step: 0.2, xTolerance: 1e-6, fTolerance: 1e-9, maxIterations: 500 * dim });
	const x0 = polished.fx <= best.fx ? polished.x : best.x;
	const converged = polished.converged;
	const params = etsParamsFrom(x0, spec);
	const initial = stateFor(x0, params);
	if (!initial) throw new RangeError(`${etsLabel(spec)}: the initial states could not be estimated`);
	const final = runEts(y, spec, params, initial);
	const n = y.length;
	const nParams = nSmooth + etsInitialCount(spec);
	const sse = final.sse;
	const logLikelihood = -0.5 * n * (Math.log((2 * Math.PI * sse) / n) + 1);
	const kAic = nParams + 1;
	return {
		spec: { ...spec },
		params,
		initial,
		final: { level: final.level, trend: final.trend, seasonal: final.seasonal },
		sigma2: sse / (n > nParams ? n - nParams : n),
		sse,
		logLikelihood,
		aic: -2 * logLikelihood + 2 * kAic,
		aicc: n - kAic - 1 > 0 ? -2 * logLikelihood + (2 * kAic * n) / (n - kAic - 1) : Infinity,
		nParams,
		nObs: n,
		converged,
	};
}

/** Point forecasts from a state with no further errors: (ℓ + φ_h b) combined with the season's term. */
function etsPointForecast(spec: EtsSpec, params: EtsParams, state: EtsState, h: number): number[] {
	const out: number[] = [];
	const m = state.seasonal.length;
	let phiSum = 0;
	for (let j = 1; j <= h; j++) {
		phiSum += params.phi ** j;
		const base = state.level + (spec.trend === "add" ? phiSum * state.trend : 0);
		if (spec.seasonal === "none") out.push(base);
		else {
			const s = state.seasonal[(j - 1) % m]!;
			out.push(spec.seasonal === "mul" ? base * s : base + s);
		}
	}
	return out;
}

/**
 * Forecasts h steps past the fitted series. Additive and no season: analytic variance σ²(1 + Σ_{j<h} c_j²),
 * c_j = α + β φ_j + γ·[m divides j], φ_j = φ + … + φ^j (fpp3 §8.7; Hyndman et al. 2008 Table 6.1).
 * Multiplicative season: the point forecast from the recursions, se and intervals from seeded simulated paths.
 */
export function forecastEts(fit: Pick<EtsFit, "spec" | "params" | "final" | "sigma2">, h: number, opts: EtsForecastOptions = {}): IntervalForecast {
	if (!Number.isInteger(h) || h < 1) throw new RangeError(`forecastEts: h must be a positive integer, got ${h}`);
	const { spec, params, final, sigma2 } = fit;
	const mean = etsPointForecast(spec, params, final, h);
	if (spec.seasonal !== "mul") {
		const m = final.seasonal.length;
		const se: number[] = [];
		const cumSe: number[] = [];
		let acc = 1;
		let phiSum = 0;
		// The step-j error is e_j + Σ_{i<j} c_{j−i} e_i, so in the total of steps 1…k the shock e_i weighs
		// 1 + c_1 + … + c_{k−i}: Var = σ² Σ_{l=0}^{k−1} (1 + C_l)², C_l = c_1 + … + c_l (C_0 = 0).
		let cSum = 0;
		let cumAcc = 0;
		for (let j = 1; j <= h; j++) {
			se.push(Math.sqrt(sigma2 * acc));
			cumAcc += (1 + cSum) ** 2;
			cumSe.push(Math.sqrt(sigma2 * cumAcc));
			phiSum += params.phi ** j;
			const cj = params.alpha + (spec.trend === "add" ? params.beta * phiSum : 0) + (m > 0 && j % m === 0 ? params.gamma : 0);
			acc += cj * cj;
			cSum += cj;
		}
		return { ...intervals(mean, se), cumulative: intervals(runningSum(mean), cumSe) };
	}
	const nSim = opts.simulations ?? 5000;
	const normal = seededNormal(opts.seed ?? 1);
	const sd = Math.sqrt(sigma2);
	const paths: Float64Array[] = Array.from({ length: h }, () => new Float64Array(nSim));
	for (let k = 0; k < nSim; k++) {
		// Simulating is the recursion with drawn errors: y = ŷ + e, and the states absorb e.
		let level = final.level;
		let trend = final.trend;
		const buf = [...final.seasonal];
		for (let j = 0; j < h; j++) {
			const base = level + params.phi * trend;
			const s = buf[j % buf.length]!;
			const e = sd * normal();
			paths[j]![k] = base * s + e;
			level = base + (params.alpha * e) / s;
			trend = params.phi * trend + (params.beta * e) / s;
			buf[j % buf.length] = s + (params.gamma * e) / base;
		}
	}
	// Each path's running totals, taken before the per-step columns are sorted: the total's spread comes from
	// whole paths, so the correlation between steps is kept.
	const totals: Float64Array[] = [];
	for (let j = 0; j < h; j++) {
		const col = new Float64Array(nSim);
		const prev = totals[j - 1];
		for (let k = 0; k < nSim; k++) col[k] = (prev ? prev[k]! : 0) + paths[j]![k]!;
		totals.push(col);
	}
	return { ...simulatedBand(mean, paths), cumulative: simulatedBand(runningSum(mean), totals) };
}

/** se and 80%/95% intervals from simulated draws per step (the columns are sorted in place); the point forecasts as given. */
function simulatedBand(mean: number[], columns: Float64Array[]): ForecastBand {
	const q = (sorted: Float64Array, p: number) => {
		const pos = p * (sorted.length - 1);
		const lo = Math.floor(pos);
		return sorted[lo]! + (pos - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
	};
	const out: ForecastBand = { mean, se: [], lower80: [], upper80: [], lower95: [], upper95: [] };
	for (const column of columns) {
		const col = column.sort();
		const n = col.length;
		let s1 = 0;
		let s2 = 0;
		for (const v of col) s1 += v;
		const mu = s1 / n;
		for (const v of col) s2 += (v - mu) ** 2;
		out.se.push(Math.sqrt(s2 / (n - 1)));
		out.lower80.push(q(col, 0.1));
		out.upper80.push(q(col, 0.9));
		out.lower95.push(q(col, 0.025));
		out.upper95.push(q(col, 0.975));
	}
	return out;
}

/** Standard normal draws from a seeded mulberry32 (Box-Muller), for reproducible simulated intervals. */
export function seededNormal(seed: number): () => number {
	let s = seed >>> 0;
	const uniform = () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

// ---------------------------------------------------------------------------------------------------
// Model choice
// ---------------------------------------------------------------------------------------------------

export type ForecastModel =
	| { kind: "sarima"; order: SarimaOrder; constant?: boolean }
	| { kind: "ets"; spec: EtsSpec }
	/** Seasonal naive: the value one season ago (season 1 = naive, the last value). */
	| { kind: "snaive"; season: number };

export interface ModelForecast extends IntervalForecast {
	model: ForecastModel;
	label: string;
	/** The fitted parameters, for storing beside the forecast. */
	parameters: Record<string, number | number[] | string | boolean>;
}

/** Series length the model needs; fitting or backtesting on less throws RangeError. */
export function minimumHistory(model: ForecastModel): number {
	switch (model.kind) {
		case "sarima":
			return minimumSarimaHistory(model.order, model.constant ?? defaultConstant(model.order));
		case "ets":
			return minimumEtsHistory(model.spec);
		case "snaive":
			// One season to repeat and one more point so the residual variance (and MASE's scale) exists.
			return snaiveSeason(model) + 1;
	}
}

function snaiveSeason(model: { season: number }): number {
	if (!Number.isInteger(model.season) || model.season < 1) throw new RangeError(`Seasonal naive: season must be a positive integer, got ${model.season}`);
	return model.season;
}

/** "SARIMA(1,1,1)(1,1,1)[12]", "ETS(A,Ad,M)[12]", "Seasonal naive[7]". */
export function modelLabel(model: ForecastModel): string {
	switch (model.kind) {
		case "sarima":
			return sarimaLabel(model.order) + (model.constant ? " with constant" : "");
		case "ets":
			return etsLabel(model.spec);
		case "snaive":
			return model.season === 1 ? "Naive" : `Seasonal naive[${model.season}]`;
	}
}

/** Fits the model to y and forecasts h steps with 80%/95% intervals; RangeError when y is too short. */
export function fitAndForecast(y: readonly number[], model: ForecastModel, h: number): ModelForecast {
	const needed = minimumHistory(model);
	if (y.length < needed) throw new RangeError(`${modelLabel(model)} needs at least ${needed} observations, got ${y.length}`);
	const label = modelLabel(model);
	switch (model.kind) {
		case "sarima": {
			const fit = fitSarima(y, model.order, model.constant === undefined ? {} : { constant: model.constant });
			const { ar, ma, sar, sma, mean, sigma2 } = fit.params;
			return { ...forecastSarima(fit, y, h), model, label, parameters: { ar, ma, sar, sma, mean, sigma2, aic: fit.aic, converged: fit.converged } };
		}
		case "ets": {
			const fit = fitEts(y, model.spec);
			return { ...forecastEts(fit, h), model, label, parameters: { ...fit.params, sigma2: fit.sigma2, aic: fit.aic, converged: fit.converged } };
		}
		case "snaive": {
			checkSeries(y, "Seasonal naive");
			const m = snaiveSeason(model);
			const n = y.length;
			let ss = 0;
			for (let t = m; t < n; t++) ss += (y[t]! - y[t - m]!) ** 2;
			const sigma2 = ss / (n - m);
			const mean: number[] = [];
			const se: number[] = [];
			const cumSe: number[] = [];
			// Each further season adds another independent seasonal step: se_h = σ √(⌊(h−1)/m⌋ + 1) (fpp3 §5.5).
			// In the total of steps 1…k the shock of step i recurs at i + m, i + 2m, … ≤ k, ⌊(k−i)/m⌋ + 1 times:
			// Var = σ² Σ_{l=0}^{k−1} (⌊l/m⌋ + 1)².
			let cumAcc = 0;
			for (let j = 1; j <= h; j++) {
				mean.push(y[n - m + ((j - 1) % m)]!);
				se.push(Math.sqrt(sigma2 * (Math.floor((j - 1) / m) + 1)));
				cumAcc += (Math.floor((j - 1) / m) + 1) ** 2;
				cumSe.push(Math.sqrt(sigma2 * cumAcc));
			}
			return { ...intervals(mean, se), cumulative: intervals(runningSum(mean), cumSe), model, label, parameters: { season: m, sigma2 } };
		}
	}
}

export interface BacktestOptions {
	/** Number of forecast origins (default 6). */
	origins?: number;
	/** Steps forecast from each origin (default: the season length, or 6). */
	horizon?: number;
	/** Periods between consecutive origins (default 1). */
	step?: number;
	/** Lag of the seasonal-naive in-sample error that scales MASE (default 1 when none is given). */
	season?: number;
}

export interface BacktestResult {
	label: string;
	/** Mean absolute percentage error, % (points where the actual is 0 are skipped). */
	mape: number;
	/** Symmetric MAPE 200·|e|/(|y| + |ŷ|), % (0 when both are 0). */
	smape: number;
	/** Mean absolute scaled error: |e| over the training window's in-sample seasonal-naive MAE. */
	mase: number;
	/** Share of actuals inside the 80% and 95% intervals. */
	coverage80: number;
	coverage95: number;
	/** Training lengths at which forecasts were made (oldest first). */
	origins: number[];
	horizon: number;
	/** Forecast points scored (origins × horizon). */
	points: number;
}

/**
 * Rolling-origin evaluation: the model is refitted on y[0, t) for each origin t and scored on y[t, t + h).
 * The last origin is n − h; earlier ones step back by `step`. Errors are pooled over origins and steps
 * (Hyndman & Athanasopoulos, fpp3 §5.10). Throws RangeError when the first origin's window is shorter
 * than minimumHistory(model).
 */
export function backtest(y: readonly number[], model: ForecastModel, opts: BacktestOptions = {}): BacktestResult {
	checkSeries(y, "backtest");
	const { origins, horizon, season } = backtestPlan(y, model, opts);
	const label = modelLabel(model);
	const needed = minimumHistory(model);
	if (origins[0]! < needed) {
		throw new RangeError(
			`${label} needs at least ${needed} observations to train on; a backtest of ${origins.length} origin(s) × ${horizon} step(s) on ${y.length} points leaves ${origins[0]} (needs ${needed + y.length - origins[0]!} in all)`,
		);
	}
	let apeSum = 0;
	let apeCount = 0;
	let smapeSum = 0;
	let maseSum = 0;
	let in80 = 0;
	let in95 = 0;
	let points = 0;
	for (const t of origins) {
		const train = y.slice(0, t);
		const f = fitAndForecast(train, model, horizon);
		const scale = naiveScale(train, season);
		for (let j = 0; j < horizon; j++) {
			const actual = y[t + j]!;
			const e = actual - f.mean[j]!;
			if (actual !== 0) {
				apeSum += Math.abs(e / actual);
				apeCount++;
			}
			const denom = Math.abs(actual) + Math.abs(f.mean[j]!);
			smapeSum += denom > 0 ? (2 * Math.abs(e)) / denom : 0;
			maseSum += Math.abs(e) / scale;
			if (actual >= f.lower80[j]! && actual <= f.upper80[j]!) in80++;
			if (actual >= f.lower95[j]! && actual <= f.upper95[j]!) in95++;
			points++;
		}
	}
	return {
		label,
		mape: apeCount > 0 ? (100 * apeSum) / apeCount : NaN,
		smape: (100 * smapeSum) / points,
		mase: maseSum / points,
		coverage80: in80 / points,
		coverage95: in95 / points,
		origins,
		horizon,
		points,
	};
}

function backtestPlan(y: readonly number[], model: ForecastModel, opts: BacktestOptions): { origins: number[]; horizon: number; season: number } {
	const modelSeason = model.kind === "sarima" ? model.order.s : model.kind === "ets" ? (model.spec.season ?? 1) : model.season;
	const season = opts.season ?? 1;
	const horizon = opts.horizon ?? (modelSeason > 1 ? modelSeason : 6);
	const count = opts.origins ?? 6;
	const step = opts.step ?? 1;
	for (const [name, v] of [
		["horizon", horizon],
		["origins", count],
		["step", step],
		["season", season],
	] as const) {
		if (!Number.isInteger(v) || v < 1) throw new RangeError(`backtest: ${name} must be a positive integer, got ${v}`);
	}
	const last = y.length - horizon;
	const origins: number[] = [];
	for (let i = count - 1; i >= 0; i--) origins.push(last - i * step);
	if (origins[0]! < 1) throw new RangeError(`backtest: ${y.length} points cannot hold ${count} origin(s) × ${horizon} step(s)`);
	return { origins, horizon, season };
}

/** In-sample MAE of the seasonal naive on the training window (lag 1 when the window is too short for the season). */
function naiveScale(train: readonly number[], season: number): number {
	const lag = train.length > season ? season : 1;
	let sum = 0;
	for (let t = lag; t < train.length; t++) sum += Math.abs(train[t]! - train[t - lag]!);
	const mae = sum / (train.length - lag);
	// A perfectly flat history would divide by zero; fall back to the mean level so MASE stays finite.
	return mae > 0 ? mae : Math.max(1e-12, train.reduce((a, b) => a + Math.abs(b), 0) / train.length);
}

export interface ModelChoice {
	/** The candidate with the lowest error on the chosen metric. */
	best: ForecastModel;
	bestLabel: string;
	metric: "mase" | "smape" | "mape";
	/** One entry per candidate, in the order given: its backtest, or why it was refused. */
	candidates: Array<{ model: ForecastModel; label: string; result: BacktestResult | null; refused: string | null }>;
	/** The seasonal-naive baseline under the same backtest. */
	baseline: BacktestResult;
	/** Whether the best candidate's error is below the baseline's. */
	beatsBaseline: boolean;
}

/**
 * Backtests every candidate and the seasonal-naive baseline on the same origins and picks the lowest
 * error (MASE by default: scale-free, and defined when the series has zeros). A candidate whose history
 * is too short is reported as refused; RangeError when every candidate is.
 */
export function chooseModel(y: readonly number[], candidates: readonly ForecastModel[], opts: BacktestOptions & { metric?: "mase" | "smape" | "mape" } = {}): ModelChoice {
	if (candidates.length === 0) throw new RangeError("chooseModel: no candidate models");
	const seasons = candidates.map((c) => (c.kind === "sarima" ? c.order.s : c.kind === "ets" ? (c.spec.seasonal === "none" ? 1 : (c.spec.season ?? 1)) : c.season));
	const season = opts.season ?? Math.max(...seasons);
	const horizon = opts.horizon ?? (season > 1 ? season : 6);
	const metric = opts.metric ?? "mase";
	const btOpts: BacktestOptions = { ...opts, season, horizon };
	const results = candidates.map((model) => {
		const label = modelLabel(model);
		try {
			return { model, label, result: backtest(y, model, btOpts), refused: null };
		} catch (e) {
			if (e instanceof RangeError) return { model, label, result: null, refused: e.message };
			throw e;
		}
	});
	const scored = results.filter((r) => r.result && Number.isFinite(r.result[metric]));
	if (scored.length === 0) throw new RangeError(`chooseModel: every candidate refused this series — ${results.map((r) => r.refused ?? `${r.label}: no finite ${metric}`).join("; ")}`);
	const winner = scored.reduce((a, b) => (b.result![metric] < a.result![metric] ? b : a));
	const baseline = backtest(y, { kind: "snaive", season: y.length > season + horizon ? season : 1 }, btOpts);
	return {
		best: winner.model,
		bestLabel: winner.label,
		metric,
		candidates: results,
		baseline,
		beatsBaseline: winner.result![metric] < baseline[metric],
	};
}
