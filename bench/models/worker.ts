/**
 * Driver Worker of bench/models (not part of the product). It imports the product's model code as is
 * (workers/analytics/*) and times its phases inside workerd, on the store a `wrangler dev` of the real
 * Worker loaded and ran the nightly Workflow on (same D1 binding and --persist-to):
 *
 *   GET /model/churn|recommend|forecast|inventory?site=&as_of=   load (D1) → train → score, as the nightly steps do
 *   GET /rf?algo=histogram|naive&train=5000&test=2500&features=8&informative=2&trees=100&depth=10&seed=&reps=1
 *        the product's histogram forest or the naive exact-split forest (naive-forest.ts) on the same synthetic
 *        data (same seed → same rows): training ms, holdout prediction ms and accuracy
 *
 * Timing: performance.now() around synchronous calls. workerd freezes the clock between I/O only in
 * production (a Spectre mitigation); under local workerd it advances during computation (checked by the
 * bench: a 300 ms busy loop reads 324 ms). The answers carry no secrets and write nothing.
 */
import { currencyDigits } from "../../workers/lib/money";
import { churnFeatures, churnLabels } from "../../workers/analytics/features";
import { CANDIDATES, forecastSeries, kpiHistory, type ForecastGrain } from "../../workers/analytics/forecast-kpi";
import { fitEts, fitSarima, forecastEts, forecastSarima, minimumHistory, modelLabel } from "../../workers/analytics/forecast";
import { explainPrediction, predictProba, rocAuc, trainForest } from "../../workers/analytics/forest";
import { daysOfCover, demandStats, leadTimeStats, reorderPoint, stockoutRisk } from "../../workers/analytics/inventory";
import { CHURN_HORIZON_DAYS, DEMAND_DAYS, FOREST_OPTIONS, RECOMMEND_K, SERVICE_LEVEL } from "../../workers/analytics/predict-steps";
import { chooseHybridWeight, contentNeighbours, evaluateTimeSplit, hybrid, indexNeighbours, itemCosine, matrixBasket, popularItems, recommendForCustomer, type Neighbours, type Product } from "../../workers/analytics/recommend";
import { readPurchaseMatrix } from "../../workers/analytics/steps";
import { naivePredict, prng, trainNaiveForest } from "./naive-forest";

const DAY = 86_400_000;

interface Phase {
	model: string;
	phase: string;
	ms: number;
	rows: number;
	note?: string;
}

/** Runs fn, returns its result and the milliseconds it took. */
function timed<T>(fn: () => T): [T, number] {
	const t0 = performance.now();
	const r = fn();
	return [r, performance.now() - t0];
}
async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
	const t0 = performance.now();
	const r = await fn();
	return [r, performance.now() - t0];
}

interface Site {
	id: string;
	timezone: string;
	currency: string;
}

async function siteOf(env: Env, id: string): Promise<Site> {
	const s = await env.DB.prepare("SELECT id, timezone, currency FROM sites WHERE id = ?").bind(id).first<Site>();
	if (!s) throw new Error(`no site ${id}`);
	return s;
}

/** Churn as churnStep: features at cutoff − 180 d with labels of the next 90 d train; today's customers are scored with reasons. */
async function churn(env: Env, site: Site, cutoff: number): Promise<Phase[]> {
	const minor = 10 ** currencyDigits(site.currency);
	const H = CHURN_HORIZON_DAYS * DAY;
	const trainAt = cutoff - 2 * H;
	const validAt = cutoff - H;
	const [data, loadMs] = await timedAsync(async () => {
		const train = await churnFeatures(env.DB, site.id, trainAt, minor);
		const valid = await churnFeatures(env.DB, site.id, validAt, minor);
		const yTrain = await churnLabels(env.DB, site.id, train.customers, trainAt, trainAt + H);
		const yValid = await churnLabels(env.DB, site.id, valid.customers, validAt, cutoff);
		const current = await churnFeatures(env.DB, site.id, cutoff, minor);
		return { train, valid, yTrain, yValid, current };
	});
	const { train, valid, yTrain, yValid, current } = data;
	const [forest, trainMs] = timed(() => trainForest(train.rows, yTrain, FOREST_OPTIONS));
	const [holdout, holdoutMs] = timed(() => valid.rows.map((r) => predictProba(forest, r)));
	const [, scoreMs] = timed(() => current.rows.map((r) => [predictProba(forest, r), explainPrediction(forest, r)]));
	const auc = rocAuc(holdout, yValid);
	return [
		{ model: "churn forest", phase: "load", ms: loadMs, rows: train.rows.length + valid.rows.length + current.rows.length, note: "features × 3 windows + labels (D1)" },
		{ model: "churn forest", phase: "train", ms: trainMs, rows: train.rows.length, note: `${FOREST_OPTIONS.trees} trees, depth ${FOREST_OPTIONS.maxDepth}, 8 features` },
		{ model: "churn forest", phase: "score holdout", ms: holdoutMs, rows: valid.rows.length, note: `probability; ROC AUC ${auc.toFixed(3)}` },
		{ model: "churn forest", phase: "score", ms: scoreMs, rows: current.rows.length, note: "probability + per-feature reasons" },
	];
}

/** Recommendations as recommendStep: time-split evaluation, the three models built on every purchase, top-10 for every customer and product. */
async function recommend(env: Env, site: Site, cutoff: number, asOf: string): Promise<Phase[]> {
	const testFrom = cutoff - 90 * DAY;
	const [data, loadMs] = await timedAsync(async () => {
		// The step's own read (customer × SKU pairs in typed arrays), so the memory measured is the step's.
		const { matrix, read } = await readPurchaseMatrix(env.DB, site.id, cutoff, [testFrom - 90 * DAY, testFrom]);
		const products = (await env.DB.prepare("SELECT sku, name, description, category, brand FROM products WHERE site = ? ORDER BY sku").bind(site.id).all<Product>()).results;
		let population = (await env.DB.prepare("SELECT customer_id FROM rfm_scores WHERE site = ? AND as_of = ?").bind(site.id, asOf).raw<[string]>()).map(([c]) => c);
		if (!population.length) population = matrix.customers;
		return { matrix, read, products, population };
	});
	const { matrix, read, products, population } = data;
	const [weight, chooseMs] = timed(() => chooseHybridWeight(matrix, products, testFrom - 90 * DAY, undefined, { k: RECOMMEND_K }).weight);
	const [evaluation, evalMs] = timed(() => evaluateTimeSplit(matrix, products, testFrom, { k: RECOMMEND_K, hybridWeight: weight }));
	const popular = popularItems(matrix);
	const [cf, cfMs] = timed(() => itemCosine(matrix, { k: 50 }));
	const [content, contentMs] = timed(() => contentNeighbours(products, 50));
	const [mixed, hybridMs] = timed(() => hybrid(cf, content, weight, 50));
	const rowOf = new Map(matrix.customers.map((c, i) => [c, i]));
	/** Top-10 of every customer of the population and every product, as the step precomputes them. */
	const score = (served: Neighbours): number => {
		const index = indexNeighbours(served);
		let n = 0;
		for (const customer of population) {
			const c = rowOf.get(customer);
			n += recommendForCustomer(c === undefined ? [] : matrixBasket(matrix, c), index, { k: RECOMMEND_K, fallback: popular }).length;
		}
		for (const p of products) n += (served.get(p.sku) ?? popular.filter((q) => q.sku !== p.sku)).slice(0, RECOMMEND_K).length;
		return n;
	};
	const [, cfScoreMs] = timed(() => score(cf));
	const [, contentScoreMs] = timed(() => score(content));
	const [, hybridScoreMs] = timed(() => score(mixed));
	const lists = population.length + products.length;
	const m = evaluation.models;
	return [
		{ model: "recommenders", phase: "load", ms: loadMs, rows: read, note: `purchase rows → ${matrix.item.length} customer × SKU pairs; ${products.length} products, ${population.length} customers` },
		{ model: "recommenders", phase: "evaluate", ms: chooseMs + evalMs, rows: read, note: `hybrid weight ${weight} (11-point grid) + time split; NDCG@10 cf ${m.cf.ndcg.toFixed(3)}, content ${m.content.ndcg.toFixed(3)}, hybrid ${m.hybrid.ndcg.toFixed(3)}, popularity ${m.popularity.ndcg.toFixed(3)}` },
		{ model: "item-item CF", phase: "train", ms: cfMs, rows: read, note: `cosine, top 50 per item (${cf.size} items)` },
		{ model: "item-item CF", phase: "score", ms: cfScoreMs, rows: lists, note: "top-10 per customer and product" },
		{ model: "TF-IDF content", phase: "train", ms: contentMs, rows: products.length, note: "TF-IDF + cosine, top 50 per product" },
		{ model: "TF-IDF content", phase: "score", ms: contentScoreMs, rows: lists, note: "top-10 per customer and product" },
		{ model: "hybrid", phase: "train", ms: hybridMs, rows: cf.size, note: `weighted merge of the two, w = ${weight}` },
		{ model: "hybrid", phase: "score", ms: hybridScoreMs, rows: lists, note: "top-10 per customer and product" },
	];
}

/** Forecasts as forecastStep: revenue by month (6 ahead) and by day (30 ahead); each candidate fitted alone, then the whole backtest choice. */
async function forecast(env: Env, site: Site, cutoff: number): Promise<Phase[]> {
	const out: Phase[] = [];
	for (const [grain, horizon] of [["month", 6], ["day", 30]] as [ForecastGrain, number][]) {
		const [{ unit, history }, loadMs] = await timedAsync(() => kpiHistory(env.DB, site, "revenue", grain, cutoff));
		const y = history.map((h) => h.value);
		out.push({ model: `revenue by ${grain}`, phase: "load", ms: loadMs, rows: y.length, note: "KPI series (D1 rollups)" });
		for (const model of CANDIDATES[grain]) {
			const label = modelLabel(model);
			const need = minimumHistory(model);
			if (y.length < need) {
				out.push({ model: label, phase: "train", ms: Number.NaN, rows: y.length, note: `refused: needs ${need} ${grain}s, the store has ${y.length}` });
				continue;
			}
			if (model.kind === "sarima") {
				const [fit, fitMs] = timed(() => fitSarima(y, model.order, model.constant === undefined ? {} : { constant: model.constant }));
				const [, fcMs] = timed(() => forecastSarima(fit, y, horizon));
				out.push({ model: label, phase: "train", ms: fitMs, rows: y.length, note: `exact ML (Kalman filter), converged ${fit.converged}` });
				out.push({ model: label, phase: "score", ms: fcMs, rows: horizon, note: `${horizon} ${grain}s with 80/95 % intervals` });
			} else if (model.kind === "ets") {
				const [fit, fitMs] = timed(() => fitEts(y, model.spec));
				const [, fcMs] = timed(() => forecastEts(fit, horizon));
				out.push({ model: label, phase: "train", ms: fitMs, rows: y.length, note: `converged ${fit.converged}` });
				out.push({ model: label, phase: "score", ms: fcMs, rows: horizon, note: `${horizon} ${grain}s with 80/95 % intervals` });
			}
		}
		try {
			const [r, allMs] = timed(() => forecastSeries("revenue", grain, unit, history, horizon));
			out.push({ model: `revenue by ${grain}`, phase: "backtest + fit + forecast", ms: allMs, rows: y.length, note: `as the nightly step: chose ${r.model.label}, MASE ${r.backtest?.mase.toFixed(3)} vs seasonal naive ${r.baseline.mase.toFixed(3)}` });
		} catch (err) {
			if (!(err instanceof RangeError)) throw err;
			out.push({ model: `revenue by ${grain}`, phase: "backtest + fit + forecast", ms: Number.NaN, rows: y.length, note: `refused: ${err.message}` });
		}
	}
	return out;
}

/** Inventory as inventoryStep: demand and lead-time statistics per SKU ("train"), reorder point, cover and stockout risk ("score"). */
async function inventory(env: Env, site: Site, cutoff: number): Promise<Phase[]> {
	const from = cutoff - DEMAND_DAYS * DAY;
	const [results, loadMs] = await timedAsync(() =>
		env.DB.batch([
			env.DB.prepare(
				`SELECT i.sku, CAST((o.placed_at - ?2) / 86400000 AS INTEGER) AS d, SUM(i.qty) AS qty
				FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
				WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled' GROUP BY i.sku, d`,
			).bind(site.id, from, cutoff),
			env.DB.prepare("SELECT sku, supplier_id FROM products WHERE site = ?").bind(site.id),
			env.DB.prepare("SELECT supplier_id, sku, ordered_at, delivered_at FROM supplier_deliveries WHERE site = ? AND delivered_at IS NOT NULL AND delivered_at >= ordered_at AND ordered_at < ? AND ordered_at >= ?").bind(site.id, cutoff, cutoff - 365 * DAY),
			env.DB.prepare(
				`SELECT s.sku, s.stock FROM inventory_snapshots s
				WHERE s.site = ?1 AND s.taken_at = (SELECT MAX(t.taken_at) FROM inventory_snapshots t WHERE t.site = s.site AND t.sku = s.sku AND t.taken_at < ?2)`,
			).bind(site.id, cutoff),
		]),
	);
	const [units, products, deliveries, stock] = results;
	type Dl = { supplier_id: string; sku: string | null; ordered_at: number; delivered_at: number };
	const daily = new Map<string, number[]>();
	for (const u of (units?.results ?? []) as { sku: string; d: number; qty: number }[]) {
		let s = daily.get(u.sku);
		if (!s) daily.set(u.sku, (s = new Array<number>(DEMAND_DAYS).fill(0)));
		if (u.d >= 0 && u.d < DEMAND_DAYS) s[u.d] = u.qty;
	}
	const supplierOf = new Map(((products?.results ?? []) as { sku: string; supplier_id: string | null }[]).map((p) => [p.sku, p.supplier_id]));
	const dls = (deliveries?.results ?? []) as Dl[];
	const stockOf = new Map(((stock?.results ?? []) as { sku: string; stock: number }[]).map((s) => [s.sku, s.stock]));
	const skus = [...new Set([...supplierOf.keys(), ...daily.keys()])].sort();
	const [stats, trainMs] = timed(() =>
		skus.map((sku) => {
			const supplier = supplierOf.get(sku);
			const own = dls.filter((d) => d.sku === sku);
			const list = own.length >= 3 ? own : dls.filter((d) => d.supplier_id === supplier);
			const lead = list.length ? leadTimeStats(list.map((d) => ({ orderedAt: d.ordered_at, deliveredAt: d.delivered_at }))) : null;
			return { sku, demand: demandStats(daily.get(sku) ?? new Array<number>(DEMAND_DAYS).fill(0)), lead };
		}),
	);
	const [plans, scoreMs] = timed(() =>
		stats.map(({ sku, demand, lead }) => {
			if (!lead) return null;
			const input = { demandMean: demand.mean, demandSd: demand.sd, leadTimeMean: lead.mean, leadTimeSd: lead.sd };
			const onHand = stockOf.get(sku) ?? null;
			return { rp: reorderPoint({ ...input, serviceLevel: SERVICE_LEVEL }), cover: onHand === null ? null : daysOfCover(onHand, demand.mean), risk: onHand === null ? null : stockoutRisk(onHand, input) };
		}),
	);
	return [
		{ model: "reorder points", phase: "load", ms: loadMs, rows: (units?.results.length ?? 0) + dls.length + (stock?.results.length ?? 0), note: "daily units, deliveries, stock (D1)" },
		{ model: "reorder points", phase: "train", ms: trainMs, rows: skus.length, note: `demand and lead-time mean/sd per SKU (${dls.length} deliveries)` },
		{ model: "reorder points", phase: "score", ms: scoreMs, rows: plans.filter(Boolean).length, note: `reorder point at ${SERVICE_LEVEL * 100} %, days of cover, stockout risk` },
	];
}

/** Standard normal draws from a seeded uniform source (Box–Muller). */
function normals(random: () => number): () => number {
	let spare: number | null = null;
	return () => {
		if (spare !== null) {
			const s = spare;
			spare = null;
			return s;
		}
		const u = 1 - random();
		const v = random();
		const r = Math.sqrt(-2 * Math.log(u));
		spare = r * Math.sin(2 * Math.PI * v);
		return r * Math.cos(2 * Math.PI * v);
	};
}

/**
 * Synthetic linearly separable data: x ~ N(0, I_features), label = 1 when w·x > 0, where the first
 * `informative` features have weights 1, −1/1.5, 1/2, −1/2.5, … and the rest 0 (noise the forest must learn to
 * ignore). Separable by a hyperplane that is not axis-aligned, so a forest approximates it with steps and its
 * accuracy stays below 100 %; more informative features → a more oblique boundary → lower accuracy.
 */
function separable(n: number, features: number, informative: number, seed: number): { X: number[][]; y: number[] } {
	const draw = normals(prng(seed));
	const w = Array.from({ length: features }, (_, f) => (f >= informative ? 0 : (f % 2 === 0 ? 1 : -1) / (1 + f / 2)));
	const X: number[][] = [];
	const y: number[] = [];
	for (let i = 0; i < n; i++) {
		const x = Array.from({ length: features }, draw);
		X.push(x);
		y.push(x.reduce((s, v, f) => s + v * (w[f] as number), 0) > 0 ? 1 : 0);
	}
	return { X, y };
}

const accuracy = (p: number[], y: number[]) => p.reduce((n, q, i) => n + ((q >= 0.5 ? 1 : 0) === y[i] ? 1 : 0), 0) / y.length;

function rf(q: URLSearchParams): unknown {
	const num = (name: string, d: number, min: number, max: number) => {
		const v = q.get(name) === null ? d : Number(q.get(name));
		if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}]`);
		return v;
	};
	const nTrain = num("train", 5000, 10, 1_000_000);
	const nTest = num("test", 2500, 10, 1_000_000);
	const features = num("features", 8, 1, 100);
	const trees = num("trees", 100, 1, 10_000);
	const depth = num("depth", 10, 0, 64);
	const seed = num("seed", 12, 0, 2 ** 31);
	const informative = num("informative", 2, 1, features);
	const reps = num("reps", 1, 1, 100);
	const algo = q.get("algo") ?? "histogram";
	if (algo !== "histogram" && algo !== "naive") throw new RangeError("algo must be histogram or naive");
	const all = separable(nTrain + nTest, features, informative, seed);
	const X = all.X.slice(0, nTrain);
	const y = all.y.slice(0, nTrain);
	const Xt = all.X.slice(nTrain);
	const yt = all.y.slice(nTrain);
	// The product takes rows as typed arrays (what churnFeatures returns); converting is not part of training.
	const Xf = X.map((r) => Float64Array.from(r));
	const out = { trainMs: [] as number[], predictMs: [] as number[], accuracy: Number.NaN, nodes: 0 };
	for (let r = 0; r < reps && algo === "histogram"; r++) {
		const [forest, ms] = timed(() => trainForest(Xf, y, { trees, maxDepth: depth, seed: seed + r }));
		const [p, pms] = timed(() => Xt.map((x) => predictProba(forest, x)));
		out.trainMs.push(ms);
		out.predictMs.push(pms);
		if (r === 0) {
			out.accuracy = accuracy(p, yt);
			out.nodes = forest.feature.length;
		}
	}
	for (let r = 0; r < reps && algo === "naive"; r++) {
		const [forest, ms] = timed(() => trainNaiveForest(X, y, { trees, maxDepth: depth, seed: seed + r }));
		const [p, pms] = timed(() => Xt.map((x) => naivePredict(forest, x)));
		out.trainMs.push(ms);
		out.predictMs.push(pms);
		if (r === 0) {
			out.accuracy = accuracy(p, yt);
			const count = (n: { left: unknown; right: unknown } | null): number => (n ? 1 + count(n.left as never) + count(n.right as never) : 0);
			out.nodes = forest.reduce((s, t) => s + count(t), 0);
		}
	}
	return { algo, train: nTrain, test: nTest, features, informative, trees, depth, seed, positives: y.reduce((a, b) => a + b, 0), testPositives: yt.reduce((a, b) => a + b, 0), ...out };
}

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const url = new URL(request.url);
		try {
			if (url.pathname === "/rf") return Response.json(rf(url.searchParams));
			const m = /^\/model\/(churn|recommend|forecast|inventory)$/.exec(url.pathname);
			if (m) {
				const asOf = url.searchParams.get("as_of") ?? "";
				if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf)) return Response.json({ error: "as_of must be YYYY-MM-DD", field: "as_of" }, { status: 400 });
				const site = await siteOf(env, url.searchParams.get("site") ?? "demo");
				// The site is UTC in the bench, so the cutoff is the end of the as-of day in UTC.
				const cutoff = Date.parse(`${asOf}T00:00:00Z`) + DAY;
				const phases = m[1] === "churn" ? await churn(env, site, cutoff) : m[1] === "recommend" ? await recommend(env, site, cutoff, asOf) : m[1] === "forecast" ? await forecast(env, site, cutoff) : await inventory(env, site, cutoff);
				return Response.json({ phases });
			}
			return new Response("bench/models driver: /rf, /model/{churn,recommend,forecast,inventory}", { status: 404 });
		} catch (err) {
			const e = err as Error;
			return Response.json({ error: e.message, stack: e.stack }, { status: err instanceof RangeError ? 400 : 500 });
		}
	},
};
