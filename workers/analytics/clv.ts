/**
 * Customer lifetime value, pure (no bindings): the BG/NBD purchase model (Fader, Hardie & Lee 2005,
 * "Counting your customers the easy way"), the Gamma-Gamma spend model (Fader & Hardie 2013), the
 * lifetimes-style RFM summary they are fitted on, discounted CLV and the calibration/holdout check.
 * The nightly job feeds orders in and stores the numbers; the API reads them.
 *
 * Time unit: every time here (tx, T, t, horizons) is in one unit the caller chooses — the BG/NBD
 * parameter α comes out in that unit too, so parameters fitted in days only apply to inputs in days.
 * Production uses days; the CDNOW known-answer tests use weeks. `rfmSummary` converts UTC ms to the
 * unit; `customerLifetimeValue` takes `unitsPerMonth` to step through months.
 *
 * Money: values are in integer minor units on the way in; means and expectations are floats in minor
 * units (not rounded), as they are estimates rather than amounts.
 */
import { hyp2f1, logGamma, nelderMead } from "./special";

/** One customer's purchase history in the model's terms; all times in the caller's unit. */
export interface RepeatHistory {
	/** Repeat purchases: distinct purchase periods after the first (0 = bought once). */
	x: number;
	/** Time of the last purchase, measured from the first (0 when x = 0). */
	tx: number;
	/** Age: time from the first purchase to the end of the calibration period (≥ tx). */
	T: number;
}

export interface BgNbdParams {
	/** Shape of the gamma distribution of purchase rates. */
	r: number;
	/** Scale of the purchase-rate gamma, in the caller's time unit. */
	alpha: number;
	/** Beta distribution of the drop-out probability after each purchase. */
	a: number;
	b: number;
}

export interface FitOptions {
	/** Nelder-Mead iteration cap per run (default 2,000). */
	maxIterations?: number;
	/** Stopping tolerance on the mean log-likelihood per customer (default 1e-12). */
	tolerance?: number;
}

export interface BgNbdFit extends BgNbdParams {
	/** Total log-likelihood at the optimum (natural log, summed over customers). */
	logLikelihood: number;
	iterations: number;
	converged: boolean;
}

function checkHistory(c: RepeatHistory): void {
	if (!Number.isInteger(c.x) || c.x < 0) throw new RangeError(`x must be a non-negative integer, got ${c.x}`);
	// T = 0 (first purchase on the last calibration day) is allowed: such a customer adds 0 to the likelihood.
	if (!(c.tx >= 0) || !(c.tx <= c.T) || !Number.isFinite(c.T)) throw new RangeError(`need 0 ≤ tx ≤ T < ∞, got tx = ${c.tx}, T = ${c.T}`);
	if (c.x === 0 && c.tx !== 0) throw new RangeError(`tx must be 0 when x = 0, got ${c.tx}`);
}

/** Identical histories collapsed with a count, so the likelihood is evaluated once per distinct (x, tx, T). */
function weighted(customers: readonly RepeatHistory[]): { x: number; tx: number; T: number; n: number }[] {
	const byKey = new Map<string, { x: number; tx: number; T: number; n: number }>();
	for (const c of customers) {
		checkHistory(c);
		const key = `${c.x}|${c.tx}|${c.T}`;
		const seen = byKey.get(key);
		if (seen) seen.n++;
		else byKey.set(key, { x: c.x, tx: c.tx, T: c.T, n: 1 });
	}
	return [...byKey.values()];
}

/**
 * BG/NBD log-likelihood of the histories (natural log, summed). Each customer contributes
 * ln Γ(r+x) − ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x)
 *   + ln[(α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+tx)^−(r+x)].
 */
export function bgNbdLogLikelihood(params: BgNbdParams, customers: readonly RepeatHistory[]): number {
	return weightedBgNbdLogLikelihood(params, weighted(customers));
}

function weightedBgNbdLogLikelihood({ r, alpha, a, b }: BgNbdParams, rows: readonly { x: number; tx: number; T: number; n: number }[]): number {
	const lgR = logGamma(r);
	const lgAB = logGamma(a + b);
	const lgB = logGamma(b);
	const lnAlpha = Math.log(alpha);
	const lnA = Math.log(a);
	let total = 0;
	for (const { x, tx, T, n } of rows) {
		// Each log-gamma difference stays a separate term: folding them into one small number first led
		// the optimiser to a false optimum (shared/LIBRARIES.md).
		const gammas = logGamma(r + x) - lgR + r * lnAlpha + lgAB + logGamma(b + x) - lgB - logGamma(a + b + x);
		const alive = -(r + x) * Math.log(alpha + T);
		let ll = gammas + alive;
		if (x > 0) {
			const dropped = lnA - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx);
			// ln(e^u + e^v) without overflow.
			const hi = Math.max(alive, dropped);
			ll = gammas + hi + Math.log(Math.exp(alive - hi) + Math.exp(dropped - hi));
		}
		total += n * ll;
	}
	return total;
}

/**
 * Maximum-likelihood BG/NBD parameters for the histories (times in the caller's unit; α comes out in
 * it), by Nelder-Mead on the log-parameters from r = α = a = b = 1, restarted from its own optimum
 * until a restart no longer improves it (at most 5 runs).
 */
export function fitBgNbd(customers: readonly RepeatHistory[], opts: FitOptions = {}): BgNbdFit {
	if (customers.length === 0) throw new RangeError("fitBgNbd needs at least one customer");
	const rows = weighted(customers);
	const count = customers.length;
	const unpack = (v: readonly number[]): BgNbdParams => ({ r: Math.exp(v[0] as number), alpha: Math.exp(v[1] as number), a: Math.exp(v[2] as number), b: Math.exp(v[3] as number) });
	// The mean, not the sum, keeps the tolerance meaningful whatever the number of customers.
	const objective = (v: number[]) => -weightedBgNbdLogLikelihood(unpack(v), rows) / count;
	const best = minimiseWithRestarts(objective, [0, 0, 0, 0], opts);
	const params = unpack(best.x);
	return { ...params, logLikelihood: weightedBgNbdLogLikelihood(params, rows), iterations: best.iterations, converged: best.converged };
}

function minimiseWithRestarts(objective: (v: number[]) => number, x0: number[], opts: FitOptions) {
	const settings = { maxIterations: opts.maxIterations ?? 2000, fTolerance: opts.tolerance ?? 1e-12, xTolerance: 1e-9, step: 0.5 };
	let run = nelderMead(objective, x0, settings);
	let iterations = run.iterations;
	// A simplex can collapse before the optimum; a fresh one around the answer is the standard remedy.
	for (let restart = 0; restart < 4; restart++) {
		const again = nelderMead(objective, run.x, { ...settings, step: 0.05 });
		iterations += again.iterations;
		const improved = run.fx - again.fx > settings.fTolerance;
		if (again.fx <= run.fx) run = again;
		if (!improved) break;
	}
	return { ...run, iterations };
}

/** P(alive): the probability that a customer with this history (caller's unit) has not dropped out by T. */
export function bgNbdPAlive({ r, alpha, a, b }: BgNbdParams, x: number, tx: number, T: number): number {
	if (x === 0) return 1;
	// 1 / (1 + a/(b+x−1) · ((α+T)/(α+tx))^(r+x)), in logs so a long history cannot overflow.
	const log = Math.log(a) - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx));
	return 1 / (1 + Math.exp(log));
}

/**
 * ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; t/(α+T+t)) from the BG/NBD expectation, by Euler's
 * transformation 2F1(A,B;C;z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z): it equals
 * (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), whose terms do not grow with x and whose series
 * converges faster near z = 1.
 */
function survivalSeries({ r, alpha, a, b }: BgNbdParams, t: number, x: number, T: number): number {
	const z = t / (alpha + T + t);
	return Math.pow(1 - z, a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z);
}

/**
 * Expected purchases in the next t time units (caller's unit) of a customer with history (x, tx, T):
 * (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive)
 * (undefined at exactly a = 1, which a fit does not land on).
 */
export function bgNbdExpectedPurchases(params: BgNbdParams, t: number, x: number, tx: number, T: number): number {
	if (t === 0) return 0;
	const { a, b } = params;
	return ((a + b + x - 1) / (a - 1)) * (1 - survivalSeries(params, t, x, T)) * bgNbdPAlive(params, x, tx, T);
}

/** E[X(t)]: expected purchases of a newly acquired customer in its first t time units (caller's unit). */
export function bgNbdUnconditionalExpected(params: BgNbdParams, t: number): number {
	if (t === 0) return 0;
	const { a, b } = params;
	// (a+b−1)/(a−1) · [1 − (α/(α+t))^r 2F1(r, b; a+b−1; t/(α+t))]: the conditional formula's bracket at x = 0, T = 0.
	return ((a + b - 1) / (a - 1)) * (1 - survivalSeries(params, t, 0, 0));
}

export interface SpendHistory {
	/** Repeat purchases (rows with x = 0 carry no spend information and are skipped by the fit). */
	x: number;
	/** Mean value of the repeat purchases, minor units (> 0 when x > 0). */
	mValue: number;
}

export interface GammaGammaParams {
	p: number;
	q: number;
	/** Scale, in the money unit of mValue. */
	gamma: number;
}

export interface GammaGammaFit extends GammaGammaParams {
	/** Total log-likelihood of the repeat buyers' mean spends at the optimum. */
	logLikelihood: number;
	iterations: number;
	converged: boolean;
}

function repeatBuyers(customers: readonly SpendHistory[]): SpendHistory[] {
	const rows = customers.filter((c) => c.x > 0);
	for (const c of rows) {
		if (!Number.isInteger(c.x)) throw new RangeError(`x must be an integer, got ${c.x}`);
		if (!(c.mValue > 0)) throw new RangeError(`mValue must be positive for a repeat buyer, got ${c.mValue}`);
	}
	return rows;
}

/**
 * Gamma-Gamma log-likelihood of the repeat buyers' mean spends (x = 0 rows skipped); per customer
 * ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ + m x).
 */
export function gammaGammaLogLikelihood(params: GammaGammaParams, customers: readonly SpendHistory[]): number {
	return repeatLogLikelihood(params, repeatBuyers(customers));
}

function repeatLogLikelihood({ p, q, gamma }: GammaGammaParams, rows: readonly SpendHistory[]): number {
	const lgQ = logGamma(q);
	const qLnGamma = q * Math.log(gamma);
	let total = 0;
	for (const { x, mValue } of rows) {
		const px = p * x;
		total += logGamma(px + q) - logGamma(px) - lgQ + qLnGamma + (px - 1) * Math.log(mValue) + px * Math.log(x) - (px + q) * Math.log(gamma + mValue * x);
	}
	return total;
}

/** Maximum-likelihood Gamma-Gamma parameters from the repeat buyers (x > 0; other rows skipped), by Nelder-Mead on log-parameters. */
export function fitGammaGamma(customers: readonly SpendHistory[], opts: FitOptions = {}): GammaGammaFit {
	const rows = repeatBuyers(customers);
	if (rows.length === 0) throw new RangeError("fitGammaGamma needs at least one repeat buyer (x > 0)");
	const unpack = (v: readonly number[]): GammaGammaParams => ({ p: Math.exp(v[0] as number), q: Math.exp(v[1] as number), gamma: Math.exp(v[2] as number) });
	const best = minimiseWithRestarts((v) => -repeatLogLikelihood(unpack(v), rows) / rows.length, [0, 0, 0], opts);
	const params = unpack(best.x);
	return { ...params, logLikelihood: repeatLogLikelihood(params, rows), iterations: best.iterations, converged: best.converged };
}

/**
 * Expected mean spend per future purchase (minor units) given x repeat purchases of mean mValue:
 * p(γ + x·m)/(px + q − 1), a weighted average of the population mean pγ/(q−1) and m; the population
 * mean when x = 0. Needs q > 1.
 */
export function gammaGammaExpectedSpend({ p, q, gamma }: GammaGammaParams, x: number, mValue: number): number {
	if (x === 0) return (p * gamma) / (q - 1);
	return (p * (gamma + x * mValue)) / (p * x + q - 1);
}

export interface ClvOptions {
	/** Horizon in months (default 12). */
	months?: number;
	/** Discount rate per month, e.g. 0.01 (default 0.01, ≈ 12.7% a year). */
	monthlyDiscountRate?: number;
	/**
	 * The model's time units in one month: 30 for days (as lifetimes), 4.345 for weeks, 1 for months.
	 * Required, because the BG/NBD parameters carry the unit they were fitted in.
	 */
	unitsPerMonth: number;
	/** Profit margin applied to the expected spend (default 1: CLV as revenue). */
	margin?: number;
}

export interface CustomerValue {
	/** Discounted expected margin over the horizon, minor units (float). */
	valueMinor: number;
	/** Undiscounted expected purchases over the horizon. */
	expectedPurchases: number;
	/** Gamma-Gamma expected mean spend per purchase, minor units (float). */
	expectedSpendMinor: number;
}

/**
 * Discounted CLV of one customer (lifetimes' method): Σ over months i = 1…months of
 * [E(purchases by month i) − E(purchases by month i−1)] × expected spend × margin / (1 + d)^i, with the
 * BG/NBD conditional expectation (times in the model's unit, `unitsPerMonth` per month) and the
 * Gamma-Gamma expected spend; minor units.
 */
export function customerLifetimeValue(
	purchases: BgNbdParams,
	spend: GammaGammaParams,
	customer: RepeatHistory & { mValue: number },
	opts: ClvOptions,
): CustomerValue {
	return discountedValue(purchases, gammaGammaExpectedSpend(spend, customer.x, customer.mValue), customer, opts);
}

/**
 * The same sum with the expected spend per purchase already known (e.g. stored by the nightly run), so a
 * reader can re-price CLV for another horizon or discount rate without the Gamma-Gamma inputs; minor units.
 */
export function discountedValue(purchases: BgNbdParams, expectedSpendMinor: number, customer: RepeatHistory, opts: ClvOptions): CustomerValue {
	const months = opts.months ?? 12;
	const rate = opts.monthlyDiscountRate ?? 0.01;
	const margin = opts.margin ?? 1;
	if (!(opts.unitsPerMonth > 0)) throw new RangeError(`unitsPerMonth must be positive, got ${opts.unitsPerMonth}`);
	let valueMinor = 0;
	let before = 0;
	for (let i = 1; i <= months; i++) {
		const byNow = bgNbdExpectedPurchases(purchases, i * opts.unitsPerMonth, customer.x, customer.tx, customer.T);
		valueMinor += ((byNow - before) * expectedSpendMinor * margin) / Math.pow(1 + rate, i);
		before = byNow;
	}
	return { valueMinor, expectedPurchases: before, expectedSpendMinor };
}

export interface Transaction {
	customer: string;
	/** UTC epoch ms. */
	at: number;
	/** Order value, integer minor units. */
	valueMinor: number;
}

export interface SummaryOptions {
	/** End of the calibration period, UTC epoch ms, exclusive. */
	calibrationEnd: number;
	/** Length of the output time unit in ms (86,400,000 for days, 604,800,000 for weeks). */
	unitMs: number;
	/** Transactions before this (UTC epoch ms) are ignored, so customers start at their first purchase from here. */
	observationStart?: number;
	/** Purchases in the same UTC period of this length collapse into one (default one day, 86,400,000 ms). */
	periodMs?: number;
}

export interface RfmRow extends RepeatHistory {
	customer: string;
	/** Mean value of the repeat purchase periods, minor units (float); 0 when x = 0. */
	mValue: number;
}

const DAY_MS = 86_400_000;

/** Per customer (sorted by id), the distinct purchase periods in [start, end) with their summed values, in time order. */
function purchasePeriods(transactions: readonly Transaction[], start: number, end: number, periodMs: number): Map<string, Map<number, number>> {
	const byCustomer = new Map<string, Map<number, number>>();
	for (const t of transactions) {
		if (!Number.isFinite(t.at)) throw new RangeError(`transaction time must be finite epoch ms, got ${t.at}`);
		if (t.at < start || t.at >= end) continue;
		const period = Math.floor(t.at / periodMs);
		let periods = byCustomer.get(t.customer);
		if (!periods) byCustomer.set(t.customer, (periods = new Map()));
		periods.set(period, (periods.get(period) ?? 0) + t.valueMinor);
	}
	return byCustomer;
}

function compareText(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The lifetimes-style summary of transactions before `calibrationEnd`, per customer sorted by id:
 * purchases in the same UTC period (default: day) collapse into one with their values summed;
 * x = distinct periods − 1; tx = first to last period; T = first period to the last period before
 * calibrationEnd (the end's own period is not counted: with days, a calibration ending at midnight of
 * 1 Oct makes 30 Sep the last day); mValue = mean of the repeat periods' values (the first excluded).
 * tx and T are whole periods expressed in `unitMs` units (days ÷ 7 for weeks, as lifetimes'
 * freq_multiplier), which reproduces Hardie's CDNOW summary exactly.
 */
export function rfmSummary(transactions: readonly Transaction[], opts: SummaryOptions): RfmRow[] {
	const periodMs = opts.periodMs ?? DAY_MS;
	if (!(opts.unitMs > 0) || !(periodMs > 0)) throw new RangeError("unitMs and periodMs must be positive");
	const lastPeriod = Math.floor((opts.calibrationEnd - 1) / periodMs);
	const byCustomer = purchasePeriods(transactions, opts.observationStart ?? -Infinity, opts.calibrationEnd, periodMs);
	const toUnits = (periods: number) => (periods * periodMs) / opts.unitMs;
	const rows: RfmRow[] = [];
	for (const [customer, periods] of byCustomer) {
		const keys = [...periods.keys()].sort((p, q) => p - q);
		const first = keys[0] as number;
		const last = keys[keys.length - 1] as number;
		const x = keys.length - 1;
		let repeatValue = 0;
		for (const k of keys.slice(1)) repeatValue += periods.get(k) as number;
		rows.push({ customer, x, tx: toUnits(last - first), T: toUnits(lastPeriod - first), mValue: x > 0 ? repeatValue / x : 0 });
	}
	return rows.sort((p, q) => compareText(p.customer, q.customer));
}

export interface HoldoutOptions extends SummaryOptions, FitOptions {
	/** End of the holdout period, UTC epoch ms, exclusive; the holdout is [calibrationEnd, holdoutEnd). */
	holdoutEnd: number;
	/** Parameters to check instead of fitting them on the calibration summary (same unit as unitMs). */
	params?: BgNbdParams;
}

export interface HoldoutBucket {
	/** Calibration repeat purchases: 0…6, or 7 for "7 or more". */
	x: number;
	label: string;
	customers: number;
	/** Mean BG/NBD expected purchases in the holdout; null for an empty bucket. */
	meanPredicted: number | null;
	/** Mean purchase periods actually seen in the holdout; null for an empty bucket. */
	meanActual: number | null;
}

export interface HoldoutCheck {
	/** The parameters the predictions used (fitted, or as given). */
	params: BgNbdParams;
	/** The calibration fit; null when params were given. */
	fit: BgNbdFit | null;
	/** Holdout length in the output unit (whole periods). */
	holdoutLength: number;
	customers: number;
	/** Sums over all customers, for an overall comparison. */
	totalPredicted: number;
	totalActual: number;
	buckets: HoldoutBucket[];
}

/**
 * Calibration/holdout check of BG/NBD (as lifetimes' plot_calibration_purchases_vs_holdout_purchases):
 * fit on the summary of transactions before calibrationEnd (or take opts.params), predict each calibration customer's
 * purchases in the holdout length, and compare with the purchase periods they actually made in
 * [calibrationEnd, holdoutEnd), averaged by calibration repeat purchases 0…6 and 7+. Customers first
 * seen in the holdout are not part of it.
 */
export function holdoutCheck(transactions: readonly Transaction[], opts: HoldoutOptions): HoldoutCheck {
	const periodMs = opts.periodMs ?? DAY_MS;
	if (!(opts.holdoutEnd > opts.calibrationEnd)) throw new RangeError("holdoutEnd must be after calibrationEnd");
	const calibration = rfmSummary(transactions, opts);
	const fit = opts.params ? null : fitBgNbd(calibration, opts);
	const params: BgNbdParams = opts.params ?? (fit as BgNbdFit);
	const holdoutPeriods = purchasePeriods(transactions, opts.calibrationEnd, opts.holdoutEnd, periodMs);
	const holdoutLength = ((Math.floor((opts.holdoutEnd - 1) / periodMs) - Math.floor((opts.calibrationEnd - 1) / periodMs)) * periodMs) / opts.unitMs;
	const sums = Array.from({ length: 8 }, () => ({ customers: 0, predicted: 0, actual: 0 }));
	let totalPredicted = 0;
	let totalActual = 0;
	for (const c of calibration) {
		const predicted = bgNbdExpectedPurchases(params, holdoutLength, c.x, c.tx, c.T);
		const actual = holdoutPeriods.get(c.customer)?.size ?? 0;
		const s = sums[Math.min(c.x, 7)] as { customers: number; predicted: number; actual: number };
		s.customers++;
		s.predicted += predicted;
		s.actual += actual;
		totalPredicted += predicted;
		totalActual += actual;
	}
	const buckets = sums.map((s, x) => ({
		x,
		label: x === 7 ? "7+" : String(x),
		customers: s.customers,
		meanPredicted: s.customers ? s.predicted / s.customers : null,
		meanActual: s.customers ? s.actual / s.customers : null,
	}));
	return { params: { r: params.r, alpha: params.alpha, a: params.a, b: params.b }, fit, holdoutLength, customers: calibration.length, totalPredicted, totalActual, buckets };
}
