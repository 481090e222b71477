/**
 * The forecast of a total over several periods (workers/analytics/forecast.ts `cumulative`) and the
 * month-end projection built on it (GET /api/v1/forecast/projection, workers/analytics/forecast-kpi.ts).
 *
 * The steps' forecast errors are correlated — a shock today moves every later day — so the variance of a
 * sum of h forecasts is 1ᵀ Σ 1 over their joint covariance, not Σ of the steps' variances. Checked against
 * closed forms derived below (random walk, AR(1), simple exponential smoothing, seasonal naive) and
 * against Monte-Carlo simulation of the model itself (a daily SARIMA with weekly seasonal differencing,
 * and ETS with damped trend and additive or multiplicative season); then the endpoint against the KPI API.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { generateStore } from "../scripts/demo-store.mjs";
import { loadStore } from "../scripts/seed.mjs";
import { fitAndForecast, forecastEts, forecastSarima, type EtsParams, type EtsSpec, type SarimaOrder, type SarimaParams } from "../workers/analytics/forecast";
import { ADMIN_KEY, apiWithCookie, getJson, userSession } from "./helpers";

/** mulberry32 + Box-Muller: the test's own seeded normal draws (independent of the module's). */
function normals(seed: number): () => number {
	let s = seed >>> 0;
	const u = () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const last = (v: number[]) => v[v.length - 1] as number;
const sumOf = (v: number[]) => v.reduce((a, b) => a + b, 0);
const variance = (v: number[]) => {
	const m = sumOf(v) / v.length;
	return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
};
const NONE = { ar: [], ma: [], sar: [], sma: [] };

describe("variance of a forecast total: closed forms", () => {
	it("random walk, ARIMA(0,1,0): Var(Σ_{j=1..h} e_j) = σ² Σ_{k=1..h} k² = σ² h(h+1)(2h+1)/6", () => {
		// Derivation: y_{N+j} = y_N + ε_{N+1} + … + ε_{N+j} and ŷ_{N+j} = y_N, so the step-j error is
		// Σ_{i≤j} ε_{N+i}. In the total of steps 1…h the shock ε_{N+i} appears in steps i…h, (h − i + 1)
		// times; the shocks are independent, so Var = σ² Σ_{i=1}^{h} (h − i + 1)² = σ² Σ_{k=1}^{h} k².
		const sigma2 = 2.5;
		const h = 10;
		const fc = forecastSarima({ order: { p: 0, d: 1, q: 0, P: 0, D: 0, Q: 0, s: 1 }, params: { ...NONE, mean: 0, sigma2 } }, [3, 5, 4, 8, 7], h);
		expect(fc.cumulative.mean).toEqual([7, 14, 21, 28, 35, 42, 49, 56, 63, 70]);
		for (let k = 1; k <= h; k++) expect(fc.cumulative.se[k - 1]! ** 2).toBeCloseTo((sigma2 * k * (k + 1) * (2 * k + 1)) / 6, 9);
		expect(last(fc.cumulative.se) ** 2).toBeCloseTo(sigma2 * 385, 9);
		// …far above the sum of the steps' variances σ² Σ k = 55σ², which treats the steps as independent.
		expect(sumOf(fc.se.map((s) => s * s))).toBeCloseTo(sigma2 * 55, 9);
		// The same through ETS(A,N,N) with α = 1 (simple exponential smoothing at α = 1 is the random walk).
		const ets = forecastEts({ spec: { trend: "none", seasonal: "none" }, params: { alpha: 1, beta: 0, gamma: 0, phi: 1 }, final: { level: 7, trend: 0, seasonal: [] }, sigma2 }, h);
		expect(last(ets.cumulative.se) ** 2).toBeCloseTo(sigma2 * 385, 9);
		// The interval of the total is mean ± z·se of the total, which is narrower than the sum of the steps' intervals.
		expect(last(fc.cumulative.upper95) - 70).toBeCloseTo(1.959963984540054 * Math.sqrt(sigma2 * 385), 9);
		expect(last(fc.cumulative.upper95) - 70).toBeLessThan(sumOf(fc.upper95.map((u, i) => u - fc.mean[i]!)));
	});

	it("AR(1): Var(total of h) = σ² Σ_{m=1..h} ((1 − φ^m)/(1 − φ))²", () => {
		// Derivation: w_{N+j} − ŵ_{N+j} = Σ_{i=1}^{j} φ^{j−i} ε_{N+i} (w_N is observed, so nothing else is
		// unknown). In the total of steps 1…h, ε_{N+i} weighs Σ_{j=i}^{h} φ^{j−i} = (1 − φ^{h−i+1})/(1 − φ).
		const phi = 0.6;
		const sigma2 = 2;
		const h = 8;
		const fc = forecastSarima({ order: { p: 1, d: 0, q: 0, P: 0, D: 0, Q: 0, s: 1 }, params: { ...NONE, ar: [phi], mean: 0, sigma2 } }, [0.4, -1.2, 0.7, 2.0, 1.5], h);
		for (let k = 1; k <= h; k++) {
			let v = 0;
			for (let m = 1; m <= k; m++) v += ((1 - phi ** m) / (1 - phi)) ** 2;
			expect(fc.cumulative.se[k - 1]! ** 2).toBeCloseTo(sigma2 * v, 9);
		}
		// Point forecasts φ^j·1.5, summed.
		expect(last(fc.cumulative.mean)).toBeCloseTo(sumOf(Array.from({ length: h }, (_, j) => 1.5 * phi ** (j + 1))), 12);
	});

	it("simple exponential smoothing ETS(A,N,N), α = 0.5: Var = σ² Σ_{l=0..k−1} (1 + αl)²", () => {
		// The step-j error is e_j + α Σ_{i<j} e_i (Hyndman et al. 2008, class 1, c_j = α); in the total of
		// steps 1…k, e_i weighs 1 + α(k − i).
		const sigma2 = 4;
		const fc = forecastEts({ spec: { trend: "none", seasonal: "none" }, params: { alpha: 0.5, beta: 0, gamma: 0, phi: 1 }, final: { level: 10, trend: 0, seasonal: [] }, sigma2 }, 4);
		// k = 4: 1 + 1.5² + 2² + 2.5² = 1 + 2.25 + 4 + 6.25 = 13.5.
		expect(last(fc.cumulative.se) ** 2).toBeCloseTo(sigma2 * 13.5, 10);
		expect(fc.cumulative.se[0]).toBeCloseTo(fc.se[0]!, 12);
	});

	it("seasonal naive, m = 3: the shock of step i recurs ⌊(k − i)/m⌋ + 1 times, Var(total of 7) = σ²(3·1 + 3·4 + 9) = 24σ²", () => {
		const y = [5, 9, 2, 6, 8, 3, 7, 10, 1];
		const f = fitAndForecast(y, { kind: "snaive", season: 3 }, 7);
		// σ² = mean of the squared seasonal differences: (1,−1,1,1,2,−2) → 12/6 = 2.
		expect(f.parameters.sigma2).toBeCloseTo(2, 12);
		expect(last(f.cumulative.se) ** 2).toBeCloseTo(48, 10);
		expect(last(f.cumulative.mean)).toBe(7 + 10 + 1 + 7 + 10 + 1 + 7);
	});
});

describe("variance of a forecast total: Monte-Carlo from the model", () => {
	it("daily SARIMA(1,0,1)(1,1,1,7): the spread of the actual 14-day total around its forecast matches 1ᵀ L C Lᵀ 1, and the intervals cover", () => {
		const order: SarimaOrder = { p: 1, d: 0, q: 1, P: 1, D: 1, Q: 1, s: 7 };
		const params: SarimaParams = { ar: [0.5], ma: [0.3], sar: [0.3], sma: [-0.5], mean: 0, sigma2: 1 };
		// Full polynomials of the differenced ARMA: (1 − 0.5B)(1 − 0.3B⁷) w = (1 + 0.3B)(1 − 0.5B⁷) ε.
		const arPoly = new Array<number>(9).fill(0);
		arPoly[0] = 1;
		arPoly[1] = -0.5;
		arPoly[7] = -0.3;
		arPoly[8] = 0.15;
		const maPoly = new Array<number>(9).fill(0);
		maPoly[0] = 1;
		maPoly[1] = 0.3;
		maPoly[7] = -0.5;
		maPoly[8] = -0.15;
		const N = 70;
		const h = 14;
		const reps = 2000;
		const draw = normals(7);
		const errors: number[] = [];
		let in80 = 0;
		let in95 = 0;
		let reported = 0;
		let naive = 0;
		for (let r = 0; r < reps; r++) {
			// w stationary (300 burn-in steps), y_t = w_t + y_{t−7} from a level of 100.
			const e: number[] = [];
			const w: number[] = [];
			const burn = 300;
			for (let t = 0; t < N + h + burn; t++) {
				const et = draw();
				e.push(et);
				let v = et;
				for (let k = 1; k < 9; k++) if (t >= k) v += -arPoly[k]! * w[t - k]! + maPoly[k]! * e[t - k]!;
				w.push(v);
			}
			const y: number[] = [];
			for (let t = 0; t < N + h; t++) y.push(w[burn + t]! + (t >= 7 ? y[t - 7]! : 100));
			const fc = forecastSarima({ order, params }, y.slice(0, N), h);
			const actual = sumOf(y.slice(N));
			errors.push(actual - last(fc.cumulative.mean));
			if (actual >= last(fc.cumulative.lower80) && actual <= last(fc.cumulative.upper80)) in80++;
			if (actual >= last(fc.cumulative.lower95) && actual <= last(fc.cumulative.upper95)) in95++;
			reported = last(fc.cumulative.se) ** 2;
			naive = sumOf(fc.se.map((s) => s * s));
		}
		// The exact filter's error variance does not depend on the data, so every replicate reports the same
		// value; the sample variance of 2,000 Gaussian errors has relative sd √(2/2000) ≈ 3.2%: allow 4 sd.
		const mc = variance(errors);
		expect(Math.abs(mc / reported - 1)).toBeLessThan(4 * Math.sqrt(2 / reps));
		// Treating the days as independent would be far off here (the seasonal differencing carries shocks forward).
		expect(reported / naive).toBeGreaterThan(1.5);
		const band = (p: number) => 3 * Math.sqrt((p * (1 - p)) / reps);
		expect(Math.abs(in80 / reps - 0.8)).toBeLessThan(band(0.8));
		expect(Math.abs(in95 / reps - 0.95)).toBeLessThan(band(0.95));
	});

	/** Simulates `paths` continuations of an ETS model with additive errors from its final state; returns each path's total over h steps. */
	function simulateTotals(spec: EtsSpec, params: EtsParams, level0: number, trend0: number, season0: number[], sigma: number, h: number, paths: number, seed: number): number[] {
		const draw = normals(seed);
		const totals: number[] = [];
		for (let k = 0; k < paths; k++) {
			let level = level0;
			let trend = trend0;
			const s = [...season0];
			let total = 0;
			for (let j = 0; j < h; j++) {
				const base = level + params.phi * trend;
				const si = s[j % s.length]!;
				const e = sigma * draw();
				const mul = spec.seasonal === "mul";
				total += (mul ? base * si : base + si) + e;
				level = base + (mul ? params.alpha * e / si : params.alpha * e);
				trend = params.phi * trend + (mul ? params.beta * e / si : params.beta * e);
				s[j % s.length] = si + (mul ? params.gamma * e / base : params.gamma * e);
			}
			totals.push(total);
		}
		return totals;
	}

	it("ETS(A,Ad,A)[7]: the analytic variance of the 14-day total equals 20,000 simulated paths' (within 4 sd of the estimate)", () => {
		const spec: EtsSpec = { season: 7, trend: "add", damped: true, seasonal: "add" };
		const params: EtsParams = { alpha: 0.3, beta: 0.05, gamma: 0.2, phi: 0.9 };
		const season = [5, -3, 2, 0, -4, 6, -6];
		const fc = forecastEts({ spec, params, final: { level: 100, trend: 1.5, seasonal: season }, sigma2: 9 }, 14);
		const totals = simulateTotals(spec, params, 100, 1.5, season, 3, 14, 20_000, 3);
		expect(Math.abs(variance(totals) / last(fc.cumulative.se) ** 2 - 1)).toBeLessThan(4 * Math.sqrt(2 / 20_000));
		expect(Math.abs(sumOf(totals) / totals.length - last(fc.cumulative.mean))).toBeLessThan((4 * last(fc.cumulative.se)) / Math.sqrt(20_000));
	});

	it("ETS(A,A,M)[4]: the simulated total's spread (whole paths) agrees with an independent simulation", () => {
		const spec: EtsSpec = { season: 4, trend: "add", seasonal: "mul" };
		const params: EtsParams = { alpha: 0.4, beta: 0.1, gamma: 0.2, phi: 1 };
		const season = [1.2, 0.8, 1.1, 0.9];
		const fc = forecastEts({ spec, params, final: { level: 50, trend: 0.5, seasonal: season }, sigma2: 4 }, 8, { simulations: 20_000, seed: 11 });
		const totals = simulateTotals(spec, params, 50, 0.5, season, 2, 8, 20_000, 99);
		// Two independent estimates of one variance, each with relative sd √(2/20000) = 1%.
		expect(Math.abs(variance(totals) / last(fc.cumulative.se) ** 2 - 1)).toBeLessThan(4 * Math.sqrt(4 / 20_000));
		expect(fc.cumulative.se[0]).toBeCloseTo(fc.se[0]!, 9);
		expect(last(fc.cumulative.mean)).toBeCloseTo(sumOf(fc.mean), 9);
	});
});

describe("GET /api/v1/forecast/projection", () => {
	const SITE = "proj";
	let today: string;
	beforeAll(async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES (?, 'Projection', '[]', 'UTC', 'EUR', 0)").bind(SITE).run();
		const now = new Date();
		today = now.toISOString().slice(0, 10);
		const store = generateStore({ seed: 3, customers: 200, orders: 1500, months: 4, eventDays: 0, asOf: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) });
		const fetch = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
		await loadStore(store, { fetch, url: "https://b2g.test", key: ADMIN_KEY, site: SITE, concurrency: 2, pollMs: 50 });
	}, 240_000);

	type Total = { mean: number; se: number; lower80: number; upper80: number; lower95: number; upper95: number };
	type P = { period: string; from: string; to: string; today: string; days_done: number; days_left: number; actual_to_date: number; forecast_rest: Total; projection: Total; model: { label: string } };

	it("month-to-date actual (the KPI API's revenue of the complete days) + the daily forecast's total of the days left, with the total's interval", async () => {
		const { status, body } = await getJson<P>(`/api/v1/forecast/projection?site=${SITE}&metric=revenue&period=month`);
		expect(status, JSON.stringify(body)).toBe(200);
		const monthStart = `${today.slice(0, 8)}01`;
		const daysInMonth = new Date(Date.UTC(Number(today.slice(0, 4)), Number(today.slice(5, 7)), 0)).getUTCDate();
		expect(body).toMatchObject({ period: today.slice(0, 7), from: monthStart, today });
		expect(body.days_done).toBe(Number(today.slice(8, 10)) - 1);
		expect(body.days_done + body.days_left).toBe(daysInMonth);
		if (body.days_done > 0) {
			const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
			const kpi = await getJson<{ kpis: { total: { value: number } }[] }>(`/api/v1/kpis?site=${SITE}&ids=revenue&from=${monthStart}&to=${yesterday}&grain=month`);
			expect(body.actual_to_date).toBe(kpi.body.kpis[0]?.total.value);
		} else expect(body.actual_to_date).toBe(0);
		// The rest is GET /forecast's daily forecast over exactly the days left: its total, same model.
		const f = await getJson<{ model: { label: string }; forecast: { mean: number; upper95: number }[]; total: Total & { periods: number } }>(`/api/v1/forecast?site=${SITE}&metric=revenue&grain=day&horizon=${body.days_left}`);
		expect(f.status).toBe(200);
		expect(f.body.model.label).toBe(body.model.label);
		expect(f.body.total.periods).toBe(body.days_left);
		expect(body.forecast_rest.mean).toBeCloseTo(sumOf(f.body.forecast.map((x) => x.mean)), 6);
		expect(body.forecast_rest).toEqual({ mean: f.body.total.mean, se: f.body.total.se, lower80: f.body.total.lower80, upper80: f.body.total.upper80, lower95: f.body.total.lower95, upper95: f.body.total.upper95 });
		// The sum's interval is narrower than the days' intervals added up (sd of a sum ≤ sum of sds) and symmetric.
		expect(body.forecast_rest.upper95 - body.forecast_rest.mean).toBeLessThanOrEqual(sumOf(f.body.forecast.map((x) => x.upper95 - x.mean)) + 1e-9);
		expect(body.forecast_rest.upper95 - body.forecast_rest.mean).toBeCloseTo(1.959963984540054 * body.forecast_rest.se, 6);
		// Projection = actual + rest: the known part shifts the interval without widening it.
		for (const k of ["mean", "lower80", "upper80", "lower95", "upper95"] as const) expect(body.projection[k]).toBeCloseTo(body.actual_to_date + body.forecast_rest[k], 6);
		expect(body.projection.lower95).toBeLessThan(body.projection.lower80);
		expect(body.projection.upper80).toBeLessThan(body.projection.upper95);
	});

	it("a quarter: the days of the quarter so far and left add up to the quarter", async () => {
		const { status, body } = await getJson<P>(`/api/v1/forecast/projection?site=${SITE}&period=quarter`);
		expect(status).toBe(200);
		expect(body.period).toMatch(/^\d{4}-Q[1-4]$/);
		expect(body.days_done + body.days_left).toBe(Math.round((Date.parse(`${body.to}T00:00:00Z`) - Date.parse(`${body.from}T00:00:00Z`)) / 86_400_000) + 1);
	});

	it("refuses a short history with 400 insufficient_history naming the minimum, and a KPI that does not add up over days naming metric", async () => {
		await env.DB.prepare("INSERT INTO sites (id, name, origins, timezone, currency, created_at) VALUES ('projshort', 'Short', '[]', 'UTC', 'EUR', 0)").run();
		const short = await getJson<{ error: string; message: string; fields: { field: string; message: string }[] }>("/api/v1/forecast/projection?site=projshort");
		expect(short.status).toBe(400);
		expect(short.body.error).toBe("insufficient_history");
		expect(short.body.message).toMatch(/needs at least 16 complete days of revenue .* the site has 0/);
		const aov = await getJson<{ fields: { field: string }[] }>(`/api/v1/forecast/projection?site=${SITE}&metric=aov`);
		expect(aov.status).toBe(400);
		expect(aov.body.fields[0]?.field).toBe("metric");
		expect((await getJson<{ fields: { field: string }[] }>(`/api/v1/forecast/projection?site=${SITE}&period=year`)).body.fields[0]?.field).toBe("period");
		// Revenue is not strategic: the operations role gets the projection.
		const ops = await userSession("operations");
		expect((await apiWithCookie("GET", `/api/v1/forecast/projection?site=${SITE}`, ops.cookie)).status).toBe(200);
	});
});
