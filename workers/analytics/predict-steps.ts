/**
 * The nightly workflow's predictive steps (issue 12): churn, recommendations, next best actions. Each
 * trains on data before the run's cutoff, measures itself on a later holdout it did not train on,
 * registers the version in the model registry (promoted only when it beats its baseline) and replaces
 * the (site, as_of) predictions, naming the version that made them.
 */
import { jsonChunks } from "../lib/json-rows";
import { currencyDigits } from "../lib/money";
import { nextBestActions, medianIntervalDays, type ActionInput } from "./actions";
import { CHURN_FEATURES, churnFeatures, churnLabels } from "./features";
import { forecastSeries, kpiHistory, type ForecastGrain } from "./forecast-kpi";
import { daysOfCover, demandStats, leadTimeStats, reorderPoint, stockoutRisk } from "./inventory";
import { calibrationBins, deserializeForest, explainPrediction, featureImportances, liftAt, prAuc, predictProba, rocAuc, serializeForest, trainForest, type Forest } from "./forest";
import { loadArtefact, promotedModel, registerModel } from "./registry";
import { chooseHybridWeight, contentNeighbours, evaluateTimeSplit, hybrid, indexNeighbours, itemCosine, matrixBasket, popularItems, recommendForCustomer, type Neighbours, type Product } from "./recommend";
import { eachCustomerOrderTimesIn, readPurchaseMatrix, replaceStatements, resultStatement, type RunContext, type StepResult } from "./steps";

const DAY = 86_400_000;
/** Churn label: no order within this many days after the cutoff. */
export const CHURN_HORIZON_DAYS = 90;
/** The architecture document's forest. */
export const FOREST_OPTIONS = { trees: 100, maxDepth: 10, seed: 20261203 } as const;
/** Fewer labelled customers (or fewer than this many of either class) and no model is trained. */
const MIN_TRAIN = 200;
const MIN_CLASS = 20;

/** Holdout metrics of scores against labels (1 = churned). */
function evaluate(scores: readonly number[], labels: Uint8Array) {
	return {
		roc_auc: rocAuc(scores, labels),
		pr_auc: prAuc(scores, labels),
		lift_at_10pct: liftAt(scores, labels, 0.1),
		customers: labels.length,
		churned: labels.reduce((n, y) => n + y, 0),
	};
}

/**
 * Churn: features at cutoff − 180 d labelled by the next 90 days train the forest; features at cutoff − 90 d
 * labelled by the 90 days to the cutoff are its holdout (time-based split), where it is compared with the
 * recency-only baseline (days since the last order as the score). Promoted → retrained on the holdout window
 * (the newest labels) with the same settings, and every customer of today's population is scored with the
 * top reasons. Not promoted → today's customers are scored by the last promoted version, if any.
 */
export async function churnStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const minor = 10 ** currencyDigits(ctx.currency);
	const H = CHURN_HORIZON_DAYS * DAY;
	const trainAt = ctx.cutoff - 2 * H;
	const validAt = ctx.cutoff - H;
	const train = await churnFeatures(env.DB, ctx.site, trainAt, minor);
	const valid = await churnFeatures(env.DB, ctx.site, validAt, minor);
	const yTrain = await churnLabels(env.DB, ctx.site, train.customers, trainAt, trainAt + H);
	const yValid = await churnLabels(env.DB, ctx.site, valid.customers, validAt, ctx.cutoff);
	// Today's features are read once the training windows are released (below): at 100,000 customers the three
	// windows together did not fit the 128 MB isolate (issue 12).
	let read = train.read + valid.read;
	const classes = (y: Uint8Array) => Math.min(y.reduce((n, v) => n + v, 0), y.length - y.reduce((n, v) => n + v, 0));
	const window = { train: { features_at: new Date(trainAt).toISOString(), label_days: CHURN_HORIZON_DAYS, customers: train.customers.length }, holdout: { features_at: new Date(validAt).toISOString(), label_days: CHURN_HORIZON_DAYS, customers: valid.customers.length } };
	if (train.rows.length < MIN_TRAIN || classes(yTrain) < MIN_CLASS || valid.rows.length < MIN_TRAIN || classes(yValid) < MIN_CLASS) {
		read += (await churnFeatures(env.DB, ctx.site, ctx.cutoff, minor)).read;
		await env.DB.batch([
			...replaceStatements(env.DB, "churn_scores", ["customer_id", "probability", "reasons", "model_version"], ctx.site, ctx.asOf, []),
			resultStatement(env.DB, ctx, "churn:model", { status: "insufficient_data", reason: `needs ${MIN_TRAIN} customers and ${MIN_CLASS} of each outcome in both windows`, window }),
		]);
		return { rowsRead: read, rowsWritten: 1 };
	}
	const trained = trainForest(train.rows, yTrain, FOREST_OPTIONS);
	train.rows = [];
	train.customers = [];
	const holdoutScores = valid.rows.map((r) => predictProba(trained, r));
	const metrics = { ...evaluate(holdoutScores, yValid), calibration: calibrationBins(holdoutScores, yValid, 10) };
	const baseline = { name: "recency only (days since the last order)", ...evaluate(valid.rows.map((r) => r[0] as number), yValid) };
	const promoted = metrics.roc_auc > baseline.roc_auc;
	const serving = promoted ? trainForest(valid.rows, yValid, FOREST_OPTIONS) : null;
	valid.rows = [];
	valid.customers = [];
	const importances = Object.fromEntries(featureImportances(serving ?? trained).map((v, i) => [CHURN_FEATURES[i], v]));
	const version = await registerModel(env, ctx.site, ctx.asOf, {
		name: "churn",
		params: { ...FOREST_OPTIONS, features: CHURN_FEATURES, horizon_days: CHURN_HORIZON_DAYS, importances },
		trainingWindow: window,
		metrics,
		baseline,
		promoted,
		decision: promoted
			? `promoted: holdout ROC AUC ${metrics.roc_auc.toFixed(3)} > recency baseline ${baseline.roc_auc.toFixed(3)}`
			: `not promoted: holdout ROC AUC ${metrics.roc_auc.toFixed(3)} does not beat the recency baseline's ${baseline.roc_auc.toFixed(3)}`,
		artefact: serializeForest(serving ?? trained),
	});
	// Today's scores: this version if promoted, else the last promoted one (named by its version).
	let model: Forest | null = serving;
	let servedVersion = version;
	if (!model) {
		const previous = await promotedModel(env.DB, ctx.site, "churn", ctx.asOf);
		const artefact = previous ? await loadArtefact(env.ARCHIVE, previous) : null;
		model = artefact ? deserializeForest(artefact) : null;
		servedVersion = previous?.version ?? version;
	}
	const current = await churnFeatures(env.DB, ctx.site, ctx.cutoff, minor);
	read += current.read;
	const rows = model
		? current.rows.map((r, i) => {
				const m = model as Forest;
				const contributions = explainPrediction(m, r);
				const reasons = contributions
					.map((c, f) => ({ feature: CHURN_FEATURES[f] as string, value: r[f] ?? null, contribution: c }))
					.filter((c) => c.contribution > 0)
					.sort((a, b) => b.contribution - a.contribution)
					.slice(0, 3);
				return [current.customers[i], predictProba(m, r), JSON.stringify(reasons), servedVersion];
			})
		: [];
	await env.DB.batch([
		...replaceStatements(env.DB, "churn_scores", ["customer_id", "probability", "reasons", "model_version"], ctx.site, ctx.asOf, rows),
		resultStatement(env.DB, ctx, "churn:model", { status: "ok", version, promoted, served_version: model ? servedVersion : null, metrics, baseline, importances, window }),
	]);
	return { rowsRead: read, rowsWritten: rows.length + 1, summary: { roc_auc: metrics.roc_auc, baseline_roc_auc: baseline.roc_auc, promoted: promoted ? 1 : 0 } };
}

/** Customers of the RFM population read, decided and written per page: the whole population at once did not fit 128 MB at 100,000 customers (issue 12). */
export const ACTIONS_PAGE = 5_000;

/**
 * Next best action for every customer of the RFM population, from their segment, churn probability, CLV,
 * order rhythm and top recommendation (rules in actions.ts). The one population-wide input, the median CLV,
 * is taken in SQL first; then customers are read in pages ordered by id (scores and the first
 * recommendation joined in SQL, order times of the page's id range only), decided and written under a
 * staging as_of (`<as_of>#<run id>`, which no reader asks for: readers take days from analytics_runs) that
 * one final batch swaps in for the day's rows, so a reader never sees a mix. A retry first drops the staged
 * rows an earlier attempt of the day left.
 */
export async function actionsStep(env: Env, ctx: RunContext, opts: { page?: number } = {}): Promise<StepResult> {
	const db = env.DB;
	const page = opts.page ?? ACTIONS_PAGE;
	const minor = 10 ** currencyDigits(ctx.currency);
	const staged = `${ctx.asOf}#${ctx.runId}`;
	// Every staged key of the day sorts in [as_of + '#', as_of + '$'): '$' follows '#' in every collation SQLite uses here (binary).
	await db.prepare("DELETE FROM next_actions WHERE site = ?1 AND as_of >= ?2 || '#' AND as_of < ?2 || '$'").bind(ctx.site, ctx.asOf).run();
	// Element len >> 1 of the population's sorted CLVs, as before; dividing by `minor` keeps the order, so it is taken on clv_minor.
	const mid = await db
		.prepare(
			`SELECT c.clv_minor FROM rfm_scores r JOIN clv_scores c ON c.site = r.site AND c.as_of = r.as_of AND c.customer_id = r.customer_id WHERE r.site = ?1 AND r.as_of = ?2
			ORDER BY c.clv_minor LIMIT 1 OFFSET (SELECT COUNT(*) FROM rfm_scores r JOIN clv_scores c ON c.site = r.site AND c.as_of = r.as_of AND c.customer_id = r.customer_id WHERE r.site = ?1 AND r.as_of = ?2) / 2`,
		)
		.bind(ctx.site, ctx.asOf)
		.first<{ clv_minor: number }>();
	const median = mid ? mid.clv_minor / minor : null;
	type Row = [customer: string, segment: string, recency: number, monetary: number, churn: number | null, clv: number | null, spend: number | null, rec: string | null];
	// null: the first page, which starts at the lowest id ('' included, as the order read always did).
	let after: string | null = null;
	let read = 0;
	let written = 0;
	for (;;) {
		const rows: Row[] = await db
			.prepare(
				`SELECT r.customer_id, r.segment, r.recency_days, r.monetary_minor, ch.probability, c.clv_minor, c.expected_spend_minor, rec.items -> '$[0]'
				FROM rfm_scores r
				LEFT JOIN churn_scores ch ON ch.site = r.site AND ch.as_of = r.as_of AND ch.customer_id = r.customer_id
				LEFT JOIN clv_scores c ON c.site = r.site AND c.as_of = r.as_of AND c.customer_id = r.customer_id
				LEFT JOIN recommendations rec ON rec.site = r.site AND rec.as_of = r.as_of AND rec.kind = 'customer' AND rec.subject = r.customer_id
				WHERE r.site = ?1 AND r.as_of = ?2 AND r.customer_id ${after === null ? ">=" : ">"} ?3 ORDER BY r.customer_id LIMIT ?4`,
			)
			.bind(ctx.site, ctx.asOf, after ?? "", page)
			.raw<Row>();
		read += rows.length;
		const last: string | null = rows.length < page ? null : (rows.at(-1) as Row)[0];
		// The orders of every customer id in (after, last] — the last page unbounded — so every order before the cutoff is read once, as before.
		const timing = new Map<string, { orders: number; interval: number | null }>();
		read += await eachCustomerOrderTimesIn(db, ctx.site, ctx.cutoff, after, last, (customer, t) => timing.set(customer, { orders: t.length, interval: medianIntervalDays(t) }));
		const inputs: ActionInput[] = rows.map(([customer, segment, recency, monetary, churn, clv, spend, rec]) => {
			const t = timing.get(customer);
			const first = rec === null ? null : (JSON.parse(rec) as { sku: string; score: number; why: string });
			return {
				customer,
				segment,
				churn,
				clv: clv === null ? null : clv / minor,
				expectedSpend: spend === null ? null : spend / minor,
				orders: t?.orders ?? 0,
				daysSinceLastOrder: recency,
				reorderIntervalDays: t?.interval ?? null,
				monetary: monetary / minor,
				recommendation: first ? { sku: first.sku, score: first.score, because: first.why.startsWith("bought with ") ? first.why.slice(12) : null } : null,
			};
		});
		const out = nextBestActions(inputs, median).map((a) => [a.customer, a.action, a.reason, Math.round(a.priority * 100) / 100, JSON.stringify(a.details)]);
		const statements = jsonChunks(out).map((chunk) =>
			db.prepare("INSERT INTO next_actions (site, as_of, customer_id, action, reason, priority, details) SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?3)").bind(ctx.site, staged, chunk),
		);
		if (statements.length) await db.batch(statements);
		written += out.length;
		if (last === null) break;
		after = last;
	}
	await db.batch([
		db.prepare("DELETE FROM next_actions WHERE site = ?1 AND as_of = ?2").bind(ctx.site, ctx.asOf),
		db.prepare("UPDATE next_actions SET as_of = ?2 WHERE site = ?1 AND as_of = ?3").bind(ctx.site, ctx.asOf, staged),
	]);
	return { rowsRead: read, rowsWritten: written };
}

/** Recommendations kept per customer and per product. */
export const RECOMMEND_K = 10;
/** The offline evaluation's test window, and the earlier window the hybrid weight is chosen on. */
const RECOMMEND_TEST_DAYS = 90;

/**
 * Recommendations: item-item CF (cosine over the customer × product purchase matrix), content (TF-IDF of
 * name, description, category, brand) and their weighted hybrid, evaluated on a time split (trained on
 * purchases before cutoff − 90 d, scored on what customers bought after) against popularity. The model
 * with the best NDCG@10 is promoted when it beats popularity; then every customer of the RFM population and
 * every product gets a precomputed top 10 from it (built on all purchases before the cutoff). Otherwise
 * the lists are the popular products, and say so.
 */
export async function recommendStep(env: Env, ctx: RunContext, opts: { writePage?: number } = {}): Promise<StepResult> {
	const testFrom = ctx.cutoff - RECOMMEND_TEST_DAYS * DAY;
	const weightSplit = testFrom - RECOMMEND_TEST_DAYS * DAY;
	const { matrix, read } = await readPurchaseMatrix(env.DB, ctx.site, ctx.cutoff, [weightSplit, testFrom]);
	const products = (await env.DB.prepare("SELECT sku, name, description, category, brand FROM products WHERE site = ? ORDER BY sku").bind(ctx.site).all<Product>()).results;
	const population = (await env.DB.prepare("SELECT customer_id FROM rfm_scores WHERE site = ? AND as_of = ?").bind(ctx.site, ctx.asOf).raw<[string]>()).map(([c]) => c);
	// Purchases in the test window (from testFrom) and before the weight-choice split, as the evaluation needs.
	if (matrix.rows < 100 || matrix.rows - (matrix.rowsBefore[1] as number) === 0 || matrix.rowsBefore[0] === 0) {
		await env.DB.batch([
			...replaceStatements(env.DB, "recommendations", ["kind", "subject", "items", "model_version"], ctx.site, ctx.asOf, []),
			resultStatement(env.DB, ctx, "recommend:model", { status: "insufficient_data", reason: "needs 100 purchases and purchases in both evaluation windows" }),
		]);
		return { rowsRead: read, rowsWritten: 1 };
	}
	const { weight } = chooseHybridWeight(matrix, products, weightSplit, undefined, { k: RECOMMEND_K });
	const evaluation = evaluateTimeSplit(matrix, products, testFrom, { k: RECOMMEND_K, hybridWeight: weight });
	const candidates = (["cf", "content", "hybrid"] as const).map((name) => ({ name, ...evaluation.models[name] }));
	const best = [...candidates].sort((a, b) => b.ndcg - a.ndcg || b.hitRate - a.hitRate)[0] as (typeof candidates)[number];
	const baseline = evaluation.models.popularity;
	const promoted = best.ndcg > baseline.ndcg;
	const version = await registerModel(env, ctx.site, ctx.asOf, {
		name: "recommendations",
		params: { chosen: promoted ? best.name : "popularity", hybrid_weight: weight, k: RECOMMEND_K, weighting: "binary", repurchase: false },
		trainingWindow: { evaluation_split: new Date(testFrom).toISOString(), weight_chosen_on_split: new Date(weightSplit).toISOString(), served_on: `every purchase before ${ctx.asOf}` },
		metrics: { models: evaluation.models, customers: evaluation.customers, skipped: evaluation.skipped, chosen: best.name, hit_rate_at_10: best.hitRate, ndcg_at_10: best.ndcg },
		baseline: { name: "popularity", hit_rate_at_10: baseline.hitRate, ndcg_at_10: baseline.ndcg },
		promoted,
		decision: promoted
			? `promoted ${best.name}: NDCG@10 ${best.ndcg.toFixed(3)} > popularity ${baseline.ndcg.toFixed(3)}`
			: `not promoted: the best model (${best.name}, NDCG@10 ${best.ndcg.toFixed(3)}) does not beat popularity (${baseline.ndcg.toFixed(3)}); popular products are served`,
	});
	// Serve from every purchase before the cutoff.
	const popular = popularItems(matrix);
	const cf = itemCosine(matrix, { k: 50 });
	const content = contentNeighbours(products, 50);
	const served: Neighbours | null = !promoted ? null : best.name === "cf" ? cf : best.name === "content" ? content : hybrid(cf, content, weight, 50);
	const index = served ? indexNeighbours(served) : null;
	const rowOf = new Map(matrix.customers.map((c, i) => [c, i]));
	const why = (because: string | null) => (because ? `bought with ${because}` : "popular");
	const customerRow = (customer: string): unknown[] => {
		const c = rowOf.get(customer);
		const mine = c === undefined ? [] : matrixBasket(matrix, c);
		const owned = new Set(mine);
		const recs = index
			? recommendForCustomer(mine, index, { k: RECOMMEND_K, fallback: popular })
			: popular.filter((p) => !owned.has(p.sku)).slice(0, RECOMMEND_K).map((p) => ({ sku: p.sku, score: p.score, because: null }));
		return [customer, JSON.stringify(recs.map((r) => ({ sku: r.sku, score: Math.round(r.score * 1e6) / 1e6, why: why(r.because) }))), version];
	};
	const productRow = (p: Product): unknown[] => {
		const list = (served?.get(p.sku) ?? popular.filter((q) => q.sku !== p.sku)).slice(0, RECOMMEND_K);
		return [p.sku, JSON.stringify(list.map((r) => ({ sku: r.sku, score: Math.round(r.score * 1e6) / 1e6, why: served ? `similar to ${p.sku}` : "popular" }))), version];
	};
	const written = await writeRecommendations(env.DB, ctx, opts.writePage ?? RECOMMEND_WRITE_PAGE, population, products, customerRow, productRow, resultStatement(env.DB, ctx, "recommend:model", { status: "ok", version, promoted, chosen: promoted ? best.name : "popularity", evaluation }));
	return { rowsRead: read, rowsWritten: written + 1, summary: { ndcg_at_10: best.ndcg, popularity_ndcg_at_10: baseline.ndcg, promoted: promoted ? 1 : 0 } };
}

/** Customers' lists built and written per batch: one batch of all 100,000 lists' JSON was ~60 MB of the isolate's 128 MB. */
export const RECOMMEND_WRITE_PAGE = 5_000;

/**
 * Replaces the (site, as_of) recommendations page by page without a reader ever seeing a mix: every page is
 * written under a staging kind (`customer#<run id>`, `product#<run id>`) that no reader asks for, and one final
 * batch deletes the day's live rows, renames the staged ones and records the result (one transaction). A
 * retry first drops whatever staged rows an earlier attempt of this day left, so the day ends with exactly
 * one set, the last attempt's.
 */
async function writeRecommendations(
	db: D1Database,
	ctx: RunContext,
	page: number,
	population: readonly string[],
	products: readonly Product[],
	customerRow: (customer: string) => unknown[],
	productRow: (p: Product) => unknown[],
	result: D1PreparedStatement,
): Promise<number> {
	const stage = (kind: string) => `${kind}#${ctx.runId}`;
	const insert = (kind: string, rows: unknown[][]) =>
		jsonChunks(rows).map((chunk) =>
			db.prepare("INSERT INTO recommendations (site, as_of, kind, subject, items, model_version) SELECT ?1, ?2, ?3, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?4)").bind(ctx.site, ctx.asOf, stage(kind), chunk),
		);
	await db.prepare("DELETE FROM recommendations WHERE site = ?1 AND as_of = ?2 AND kind NOT IN ('customer', 'product')").bind(ctx.site, ctx.asOf).run();
	for (let i = 0; i < population.length; i += page) {
		const statements = insert("customer", population.slice(i, i + page).map(customerRow));
		if (statements.length) await db.batch(statements);
	}
	await db.batch([
		...insert("product", products.map(productRow)),
		db.prepare("DELETE FROM recommendations WHERE site = ?1 AND as_of = ?2 AND kind IN ('customer', 'product')").bind(ctx.site, ctx.asOf),
		db.prepare("UPDATE recommendations SET kind = substr(kind, 1, instr(kind, '#') - 1) WHERE site = ?1 AND as_of = ?2 AND kind IN (?3, ?4)").bind(ctx.site, ctx.asOf, stage("customer"), stage("product")),
		result,
	]);
	return population.length + products.length;
}

/** Demand is measured over this many days before the cutoff; the service level of the reorder points. */
export const DEMAND_DAYS = 90;
export const SERVICE_LEVEL = 0.95;
/** Fewer deliveries of a SKU than this and its supplier's deliveries (all SKUs) give the lead time. */
const MIN_DELIVERIES = 3;

/**
 * Inventory plan per SKU: daily demand mean and sd over the 90 days before the cutoff (days without sales
 * count as 0), lead time mean and sd from supplier deliveries (the SKU's own, else its supplier's, else the
 * store's lead_time_days with no spread), the reorder point at a 95 % service level, days of cover and the
 * risk of a stockout before a delivery ordered now arrives. The demand forecast is stationary: the next 30
 * days at the measured mean, with a 95 % interval from the daily spread (√30 σ).
 */
export async function inventoryStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const from = ctx.cutoff - DEMAND_DAYS * DAY;
	const [units, products, deliveries, stock] = await env.DB.batch([
		env.DB.prepare(
			`SELECT i.sku, CAST((o.placed_at - ?2) / 86400000 AS INTEGER) AS d, SUM(i.qty) AS qty
			FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id
			WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled' GROUP BY i.sku, d`,
		).bind(ctx.site, from, ctx.cutoff),
		env.DB.prepare("SELECT sku, supplier_id FROM products WHERE site = ?").bind(ctx.site),
		env.DB.prepare("SELECT supplier_id, sku, ordered_at, delivered_at FROM supplier_deliveries WHERE site = ? AND delivered_at IS NOT NULL AND delivered_at >= ordered_at AND ordered_at < ? AND ordered_at >= ?").bind(ctx.site, ctx.cutoff, ctx.cutoff - 365 * DAY),
		env.DB.prepare(
			`SELECT s.sku, s.stock, s.lead_time_days FROM inventory_snapshots s
			WHERE s.site = ?1 AND s.taken_at = (SELECT MAX(t.taken_at) FROM inventory_snapshots t WHERE t.site = s.site AND t.sku = s.sku AND t.taken_at < ?2)`,
		).bind(ctx.site, ctx.cutoff),
	]);
	type U = { sku: string; d: number; qty: number };
	type Dl = { supplier_id: string; sku: string | null; ordered_at: number; delivered_at: number };
	const daily = new Map<string, number[]>();
	for (const u of (units?.results ?? []) as U[]) {
		let series = daily.get(u.sku);
		if (!series) daily.set(u.sku, (series = new Array<number>(DEMAND_DAYS).fill(0)));
		if (u.d >= 0 && u.d < DEMAND_DAYS) series[u.d] = u.qty;
	}
	const supplierOf = new Map(((products?.results ?? []) as { sku: string; supplier_id: string | null }[]).map((p) => [p.sku, p.supplier_id]));
	const bySku = new Map<string, Dl[]>();
	const bySupplier = new Map<string, Dl[]>();
	for (const d of (deliveries?.results ?? []) as Dl[]) {
		if (d.sku) bySku.set(d.sku, [...(bySku.get(d.sku) ?? []), d]);
		bySupplier.set(d.supplier_id, [...(bySupplier.get(d.supplier_id) ?? []), d]);
	}
	const stockOf = new Map(((stock?.results ?? []) as { sku: string; stock: number; lead_time_days: number | null }[]).map((s) => [s.sku, s]));
	const skus = [...new Set([...supplierOf.keys(), ...daily.keys()])].sort();
	const rows = skus.map((sku) => {
		const demand = demandStats(daily.get(sku) ?? new Array<number>(DEMAND_DAYS).fill(0));
		const own = bySku.get(sku) ?? [];
		const supplier = supplierOf.get(sku);
		const fromSupplier = supplier ? (bySupplier.get(supplier) ?? []) : [];
		const snapshot = stockOf.get(sku);
		const toLead = (list: Dl[]) => leadTimeStats(list.map((d) => ({ orderedAt: d.ordered_at, deliveredAt: d.delivered_at })));
		const lead =
			own.length >= MIN_DELIVERIES ? { ...toLead(own), source: `${own.length} deliveries of this SKU` }
			: fromSupplier.length >= MIN_DELIVERIES ? { ...toLead(fromSupplier), source: `${fromSupplier.length} deliveries of supplier ${supplier}` }
			: snapshot?.lead_time_days != null ? { n: 0, mean: snapshot.lead_time_days, sd: 0, source: "the store's lead_time_days (no delivery history)" }
			: null;
		const input = lead ? { demandMean: demand.mean, demandSd: demand.sd, leadTimeMean: lead.mean, leadTimeSd: lead.sd } : null;
		const rp = input ? reorderPoint({ ...input, serviceLevel: SERVICE_LEVEL }) : null;
		const onHand = snapshot?.stock ?? null;
		const cover = onHand === null ? null : daysOfCover(onHand, demand.mean);
		const h = 30;
		const forecast = { horizon_days: h, mean: demand.mean * h, sd: demand.sd * Math.sqrt(h), lower95: Math.max(0, demand.mean * h - 1.96 * demand.sd * Math.sqrt(h)), upper95: demand.mean * h + 1.96 * demand.sd * Math.sqrt(h), method: "stationary: the 90-day daily mean and spread" };
		return [
			sku, demand.mean, demand.sd, lead?.mean ?? null, lead?.sd ?? null, lead?.source ?? "no delivery history and no lead_time_days", SERVICE_LEVEL, rp?.safetyStock ?? null, rp?.reorderPoint ?? null, onHand,
			cover === null || !Number.isFinite(cover) ? null : cover, input && onHand !== null ? stockoutRisk(onHand, input) : null, JSON.stringify(forecast),
		];
	});
	await env.DB.batch(
		replaceStatements(env.DB, "inventory_plan", ["sku", "demand_mean", "demand_sd", "lead_mean", "lead_sd", "lead_source", "service_level", "safety_stock", "reorder_point", "stock", "days_of_cover", "stockout_risk", "forecast"], ctx.site, ctx.asOf, rows),
	);
	return { rowsRead: (units?.results.length ?? 0) + (deliveries?.results.length ?? 0) + (stock?.results.length ?? 0), rowsWritten: rows.length };
}

/** Nightly forecasts (registered like every model): revenue by month (6 ahead) and by day (30 ahead). */
const NIGHTLY_FORECASTS: { metric: string; grain: ForecastGrain; horizon: number }[] = [
	{ metric: "revenue", grain: "month", horizon: 6 },
	{ metric: "revenue", grain: "day", horizon: 30 },
];

/**
 * Forecasts of the series the dashboard shows (GET /api/v1/forecast computes any other on demand): the
 * model chosen by rolling-origin backtest is registered, promoted when it beats seasonal naive, and the
 * forecast with its 80/95 % bands is kept as a result of the run.
 */
export async function forecastStep(env: Env, ctx: RunContext): Promise<StepResult> {
	const site = { id: ctx.site, timezone: ctx.timezone, currency: ctx.currency };
	const statements: D1PreparedStatement[] = [];
	let read = 0;
	for (const f of NIGHTLY_FORECASTS) {
		const { unit, history } = await kpiHistory(env.DB, site, f.metric, f.grain, ctx.cutoff);
		read += history.length;
		const kind = `forecast:${f.metric}:${f.grain}`;
		let result: ReturnType<typeof forecastSeries>;
		try {
			result = forecastSeries(f.metric, f.grain, unit, history, f.horizon);
		} catch (err) {
			if (!(err instanceof RangeError)) throw err;
			statements.push(resultStatement(env.DB, ctx, kind, { status: "insufficient_history", reason: err.message }));
			continue;
		}
		const version = await registerModel(env, ctx.site, ctx.asOf, {
			name: kind,
			params: result.model,
			trainingWindow: { from: result.history[0]?.from ?? null, to: result.history.at(-1)?.from ?? null, periods: result.history.length },
			metrics: { ...result.backtest, candidates: result.candidates },
			baseline: result.baseline,
			promoted: result.beats_baseline,
			decision: result.beats_baseline
				? `promoted ${result.model.label}: backtest MASE ${result.backtest?.mase.toFixed(3)} < seasonal naive ${result.baseline.mase.toFixed(3)}`
				: `not promoted: ${result.model.label} (MASE ${result.backtest?.mase.toFixed(3)}) does not beat seasonal naive (${result.baseline.mase.toFixed(3)})`,
		});
		statements.push(resultStatement(env.DB, ctx, kind, { status: "ok", version, ...result }));
	}
	await env.DB.batch(statements);
	return { rowsRead: read, rowsWritten: statements.length };
}
