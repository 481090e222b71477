/**
 * A random forest classifier for binary labels (e.g. churned = 1), pure and written for speed: each feature
 * is cut once into ≤ `bins` quantile bins, rows become one Uint8Array of bin numbers per feature, and a
 * split is found from a per-node histogram (count and positives per bin) instead of sorting values. Trees
 * are grown on bootstrap samples with `maxFeatures` candidate features per split (√features by default),
 * Gini impurity, a depth limit and a minimum leaf size, all randomness from a seeded PRNG (same inputs and
 * seed → the same forest, on every machine). All trees live in a few flat typed arrays, so a model
 * serialises to JSON (base64 of those arrays) for R2 and reloads with bit-identical predictions.
 *
 * Semantics follow sklearn's RandomForestClassifier(n_estimators, max_depth, min_samples_leaf, max_features,
 * bootstrap=True): probability = mean of the trees' leaf positive rates (bootstrap duplicates weigh), and
 * feature importances = mean decrease in impurity. Differences: splits are at bin edges, not between every
 * pair of adjacent values (with ≤ `bins` distinct values it is the same), and only two classes.
 *
 * Missing values: NaN falls in the lowest bin and goes left at every split, in training and in prediction.
 */
export { calibrationBins, liftAt, prAuc, rocAuc, type CalibrationBin } from "./metrics";

export interface ForestOptions {
	/** Number of trees (default 100). */
	trees?: number;
	/** Maximum depth; the root is depth 0 (default 10). */
	maxDepth?: number;
	/** Minimum bootstrap samples in each leaf (default 1). */
	minLeaf?: number;
	/** Candidate features per split: a count, "sqrt" (default, ⌊√features⌋ as sklearn) or "all". */
	maxFeatures?: number | "sqrt" | "all";
	/** Histogram bins per feature, 2–256 (default 64). */
	bins?: number;
	/** PRNG seed, an integer (default 1). */
	seed?: number;
}

/** The trained forest: the options used and every tree's nodes in flat arrays, indexed by node. */
export interface Forest {
	nFeatures: number;
	options: { trees: number; maxDepth: number; minLeaf: number; maxFeatures: number; bins: number; seed: number };
	/** Root node of each tree. */
	roots: Int32Array;
	/** Split feature of each node; −1 marks a leaf. */
	feature: Int32Array;
	/** Split threshold: x[feature] <= threshold (or NaN) goes left. */
	threshold: Float64Array;
	/** Left child; the right child is left + 1. */
	left: Int32Array;
	/** Share of positives among the node's bootstrap samples (the leaf's prediction; interior nodes serve attribution). */
	value: Float64Array;
	/** Bootstrap samples that reached the node (for impurity-based importances). */
	samples: Int32Array;
}

/** mulberry32: a tiny 32-bit PRNG, plenty for sampling and far faster than crypto; returns [0, 1). */
function prng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * Bin edges of one feature from its training values: with ≤ `bins` distinct values, midpoints between adjacent
 * values (exact splits); otherwise midpoints at `bins` − 1 evenly spaced quantiles, deduplicated. Strictly increasing.
 */
function binEdges(values: Float64Array, bins: number): Float64Array {
	const sorted = values.filter((v) => !Number.isNaN(v)).sort();
	const distinct: number[] = [];
	for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i] as number);
	const edges: number[] = [];
	if (distinct.length <= bins) {
		for (let i = 1; i < distinct.length; i++) edges.push(midpoint(distinct[i - 1] as number, distinct[i] as number));
	} else {
		// Quantile cut k/bins as a rank into the distinct values' sorted multiset, then the gap just above it.
		for (let k = 1; k < bins; k++) {
			const v = sorted[Math.floor((k * sorted.length) / bins)] as number;
			const at = upperBound(distinct, v);
			if (at >= distinct.length) continue;
			const e = midpoint(distinct[at - 1] as number, distinct[at] as number);
			if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
		}
	}
	return Float64Array.from(edges);
}

/** Midpoint of a < b that is strictly below b even when they are adjacent doubles. */
function midpoint(a: number, b: number): number {
	const m = a / 2 + b / 2;
	return m < b ? m : a;
}

/** First index whose value is > v in an ascending array. */
function upperBound(a: ArrayLike<number>, v: number): number {
	let lo = 0;
	let hi = a.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if ((a[mid] as number) <= v) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** Bin of x: the first edge with x <= edge (the number of edges when none); NaN → 0, consistent with "NaN goes left". */
function binOf(edges: Float64Array, x: number): number {
	if (Number.isNaN(x)) return 0;
	let lo = 0;
	let hi = edges.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (x <= (edges[mid] as number)) hi = mid;
		else lo = mid + 1;
	}
	return lo;
}

/** Growable node storage shared by all trees. */
class Nodes {
	length = 0;
	feature = new Int32Array(1024);
	threshold = new Float64Array(1024);
	left = new Int32Array(1024);
	value = new Float64Array(1024);
	samples = new Int32Array(1024);

	add(): number {
		if (this.length === this.feature.length) {
			const size = this.length * 2;
			const int = (a: Int32Array) => {
				const b = new Int32Array(size);
				b.set(a);
				return b;
			};
			const float = (a: Float64Array) => {
				const b = new Float64Array(size);
				b.set(a);
				return b;
			};
			this.feature = int(this.feature);
			this.threshold = float(this.threshold);
			this.left = int(this.left);
			this.value = float(this.value);
			this.samples = int(this.samples);
		}
		this.feature[this.length] = -1;
		return this.length++;
	}
}

function resolveMaxFeatures(m: ForestOptions["maxFeatures"], nFeatures: number): number {
	if (m === undefined || m === "sqrt") return Math.max(1, Math.floor(Math.sqrt(nFeatures)));
	if (m === "all") return nFeatures;
	if (!Number.isInteger(m) || m < 1) throw new RangeError("maxFeatures must be a positive integer, 'sqrt' or 'all'");
	return Math.min(m, nFeatures);
}

function positiveInteger(name: string, v: number, min = 1): number {
	if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}`);
	return v;
}

/**
 * Trains a forest on rows X (n × features) and labels y (0/1). Cost ≈ trees × depth × n × maxFeatures bin
 * look-ups plus one histogram scan per candidate feature and node; 100 trees of depth 10 on 5,000 × 8 rows
 * take a few hundred ms.
 */
export function trainForest(X: readonly ArrayLike<number>[], y: ArrayLike<number>, opts: ForestOptions = {}): Forest {
	const n = X.length;
	if (n === 0) throw new RangeError("no training rows");
	if (y.length !== n) throw new RangeError(`X has ${n} rows but y has ${y.length} labels`);
	const nFeatures = (X[0] as ArrayLike<number>).length;
	if (nFeatures === 0) throw new RangeError("rows have no features");
	const options = {
		trees: positiveInteger("trees", opts.trees ?? 100),
		maxDepth: positiveInteger("maxDepth", opts.maxDepth ?? 10, 0),
		minLeaf: positiveInteger("minLeaf", opts.minLeaf ?? 1),
		maxFeatures: resolveMaxFeatures(opts.maxFeatures, nFeatures),
		bins: positiveInteger("bins", opts.bins ?? 64, 2),
		seed: Math.trunc(opts.seed ?? 1),
	};
	if (options.bins > 256) throw new RangeError("bins must be ≤ 256 (bins are stored as bytes)");
	const labels = new Uint8Array(n);
	for (let i = 0; i < n; i++) {
		const v = y[i];
		if (v !== 0 && v !== 1) throw new RangeError(`label ${i} is ${v}; labels must be 0 or 1`);
		labels[i] = v;
		if ((X[i] as ArrayLike<number>).length !== nFeatures) throw new RangeError(`row ${i} has ${(X[i] as ArrayLike<number>).length} features, not ${nFeatures}`);
	}

	// Bin every feature once; trees only ever read these bytes.
	const edges: Float64Array[] = [];
	const binned: Uint8Array[] = [];
	const column = new Float64Array(n);
	for (let f = 0; f < nFeatures; f++) {
		for (let i = 0; i < n; i++) column[i] = (X[i] as ArrayLike<number>)[f] as number;
		const e = binEdges(column, options.bins);
		const b = new Uint8Array(n);
		for (let i = 0; i < n; i++) b[i] = binOf(e, column[i] as number);
		edges.push(e);
		binned.push(b);
	}

	const nodes = new Nodes();
	const roots = new Int32Array(options.trees);
	const random = prng(options.seed);
	const idx = new Int32Array(n);
	const count = new Int32Array(options.bins);
	const pos = new Int32Array(options.bins);
	const order = Int32Array.from({ length: nFeatures }, (_, f) => f);
	// Depth-first work stack of (node, start of its rows in idx, end, depth).
	const stack: number[] = [];

	for (let t = 0; t < options.trees; t++) {
		for (let i = 0; i < n; i++) idx[i] = Math.floor(random() * n);
		const root = nodes.add();
		roots[t] = root;
		stack.push(root, 0, n, 0);
		while (stack.length) {
			const depth = stack.pop() as number;
			const end = stack.pop() as number;
			const start = stack.pop() as number;
			const node = stack.pop() as number;
			const size = end - start;
			let positives = 0;
			for (let i = start; i < end; i++) positives += labels[idx[i] as number] as number;
			nodes.value[node] = positives / size;
			nodes.samples[node] = size;
			if (depth >= options.maxDepth || positives === 0 || positives === size || size < 2 * options.minLeaf) continue;

			// Weighted child impurity ∝ pL(nL−pL)/nL + pR(nR−pR)/nR (Gini for two classes, times n/2); minimise it.
			let bestScore = Infinity;
			let bestFeature = -1;
			let bestBin = -1;
			let bestNext = -1;
			let visited = 0;
			// sklearn's rule: keep drawing features (without replacement) until maxFeatures non-constant ones were tried.
			for (let k = 0; k < nFeatures && visited < options.maxFeatures; k++) {
				const pick = k + Math.floor(random() * (nFeatures - k));
				const f = order[pick] as number;
				order[pick] = order[k] as number;
				order[k] = f;
				const nb = (edges[f] as Float64Array).length + 1;
				if (nb < 2) continue;
				const col = binned[f] as Uint8Array;
				count.fill(0, 0, nb);
				pos.fill(0, 0, nb);
				for (let i = start; i < end; i++) {
					const r = idx[i] as number;
					const b = col[r] as number;
					count[b] = (count[b] as number) + 1;
					pos[b] = (pos[b] as number) + (labels[r] as number);
				}
				let nL = 0;
				let pL = 0;
				let last = -1; // last non-empty bin seen: a split goes after it
				let nonEmpty = 0;
				for (let b = 0; b < nb; b++) {
					const c = count[b] as number;
					if (c === 0) continue;
					nonEmpty++;
					if (last >= 0 && nL >= options.minLeaf && size - nL >= options.minLeaf) {
						const nR = size - nL;
						const pR = positives - pL;
						const score = (pL * (nL - pL)) / nL + (pR * (nR - pR)) / nR;
						if (score < bestScore) {
							bestScore = score;
							bestFeature = f;
							bestBin = last;
							bestNext = b;
						}
					}
					nL += c;
					pL += pos[b] as number;
					last = b;
				}
				if (nonEmpty > 1) visited++;
			}
			if (bestFeature < 0) continue;

			// Any edge between the two non-empty bins separates the training rows alike; take the middle one.
			const edgeIndex = (bestBin + bestNext - 1) >> 1;
			const col = binned[bestFeature] as Uint8Array;
			const limit = edgeIndex; // rows with bin <= edgeIndex go left
			let i = start;
			let j = end - 1;
			while (i <= j) {
				const r = idx[i] as number;
				if ((col[r] as number) <= limit) i++;
				else {
					idx[i] = idx[j] as number;
					idx[j] = r;
					j--;
				}
			}
			const l = nodes.add();
			nodes.add();
			nodes.feature[node] = bestFeature;
			nodes.threshold[node] = (edges[bestFeature] as Float64Array)[edgeIndex] as number;
			nodes.left[node] = l;
			stack.push(l + 1, i, end, depth + 1);
			stack.push(l, start, i, depth + 1);
		}
	}
	const m = nodes.length;
	return {
		nFeatures,
		options,
		roots,
		feature: nodes.feature.slice(0, m),
		threshold: nodes.threshold.slice(0, m),
		left: nodes.left.slice(0, m),
		value: nodes.value.slice(0, m),
		samples: nodes.samples.slice(0, m),
	};
}

/** The leaf a row reaches in the tree rooted at `node`. */
function leafOf(model: Forest, node: number, x: ArrayLike<number>): number {
	const { feature, threshold, left } = model;
	let f = feature[node] as number;
	while (f >= 0) {
		const l = left[node] as number;
		node = (x[f] as number) > (threshold[node] as number) ? l + 1 : l;
		f = feature[node] as number;
	}
	return node;
}

function checkRow(model: Forest, x: ArrayLike<number>): void {
	if (x.length !== model.nFeatures) throw new RangeError(`row has ${x.length} features; the model expects ${model.nFeatures}`);
}

/** Probability of the positive class (0–1) for one row: the mean of the trees' leaf values. */
export function predictProba(model: Forest, x: ArrayLike<number>): number {
	checkRow(model, x);
	let sum = 0;
	for (let t = 0; t < model.roots.length; t++) sum += model.value[leafOf(model, model.roots[t] as number, x)] as number;
	return sum / model.roots.length;
}

/**
 * Mean decrease in impurity per feature, normalised to sum 1 (sklearn's feature_importances_): in each tree,
 * every split adds samples·gini(node) − samples·gini(children) to its feature; each tree's totals are
 * normalised, averaged over the trees that split at all, and normalised again. Biased towards features
 * with many distinct values, like sklearn's; all zeros when no tree split.
 */
export function featureImportances(model: Forest): number[] {
	const { feature, left, value, samples, roots } = model;
	const total = new Float64Array(model.nFeatures);
	const tree = new Float64Array(model.nFeatures);
	const gini = (node: number) => {
		const p = value[node] as number;
		return (samples[node] as number) * 2 * p * (1 - p);
	};
	let trees = 0;
	for (let t = 0; t < roots.length; t++) {
		const from = roots[t] as number;
		const to = t + 1 < roots.length ? (roots[t + 1] as number) : feature.length;
		tree.fill(0);
		let sum = 0;
		for (let node = from; node < to; node++) {
			const f = feature[node] as number;
			if (f < 0) continue;
			const l = left[node] as number;
			const gain = gini(node) - gini(l) - gini(l + 1);
			tree[f] = (tree[f] as number) + gain;
			sum += gain;
		}
		if (sum <= 0) continue;
		trees++;
		for (let f = 0; f < tree.length; f++) total[f] = (total[f] as number) + (tree[f] as number) / sum;
	}
	const s = total.reduce((a, b) => a + b, 0);
	return Array.from(total, (v) => (s > 0 ? v / s : 0));
}

/** The forest's base rate (0–1): the mean root value, what explainPrediction's contributions start from. */
export function forestBias(model: Forest): number {
	let sum = 0;
	for (let t = 0; t < model.roots.length; t++) sum += model.value[model.roots[t] as number] as number;
	return sum / model.roots.length;
}

/**
 * Per-feature contributions to one row's probability (Saabas' method, as the `treeinterpreter` package): along
 * each tree's path, the change in node value (share of positives) at a split is credited to the split's
 * feature; averaged over trees. forestBias + Σ contributions = predictProba exactly. Positive pushes the
 * probability up. It is cheap (one pass down each tree) but, unlike SHAP, it favours features split near the
 * leaves and is not consistent; read it as "why this row", not as global importance.
 */
export function explainPrediction(model: Forest, x: ArrayLike<number>): number[] {
	checkRow(model, x);
	const { feature, threshold, left, value, roots } = model;
	const out = new Float64Array(model.nFeatures);
	for (let t = 0; t < roots.length; t++) {
		let node = roots[t] as number;
		let f = feature[node] as number;
		while (f >= 0) {
			const l = left[node] as number;
			const next = (x[f] as number) > (threshold[node] as number) ? l + 1 : l;
			out[f] = (out[f] as number) + (value[next] as number) - (value[node] as number);
			node = next;
			f = feature[node] as number;
		}
	}
	return Array.from(out, (v) => v / roots.length);
}

export interface Reason {
	/** Feature index, and its name when names were given. */
	feature: number;
	name: string | null;
	/** Change in probability credited to the feature (−1–1). */
	contribution: number;
	direction: "raises" | "lowers";
}

/** The `k` features with the largest absolute contribution to a row's probability, largest first (ties by index). */
export function topReasons(model: Forest, x: ArrayLike<number>, k = 3, names?: readonly string[]): Reason[] {
	return explainPrediction(model, x)
		.map((contribution, feature) => ({ feature, name: names?.[feature] ?? null, contribution, direction: contribution >= 0 ? ("raises" as const) : ("lowers" as const) }))
		.filter((r) => r.contribution !== 0)
		.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.feature - b.feature)
		.slice(0, k);
}

/** The stored form: typed arrays as base64 of their little-endian bytes (Workers are little-endian). */
export interface SerializedForest {
	format: "b2g-forest";
	version: 1;
	nFeatures: number;
	options: Forest["options"];
	roots: string;
	feature: string;
	threshold: string;
	left: string;
	value: string;
	samples: string;
}

function toBase64(a: Int32Array | Float64Array): string {
	const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
	let s = "";
	// Chunked: String.fromCharCode over millions of arguments overflows the stack.
	for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	return btoa(s);
}

function fromBase64(s: unknown, bytesPer: number, name: string): ArrayBuffer {
	if (typeof s !== "string") throw new TypeError(`forest artefact: ${name} is not a string`);
	const bin = atob(s);
	if (bin.length % bytesPer !== 0) throw new TypeError(`forest artefact: ${name} has a partial element`);
	const bytes = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
	return bytes.buffer;
}

/** A JSON-ready form of the model (about 32 bytes per node before base64). */
export function serializeForest(model: Forest): SerializedForest {
	return {
		format: "b2g-forest",
		version: 1,
		nFeatures: model.nFeatures,
		options: { ...model.options },
		roots: toBase64(model.roots),
		feature: toBase64(model.feature),
		threshold: toBase64(model.threshold),
		left: toBase64(model.left),
		value: toBase64(model.value),
		samples: toBase64(model.samples),
	};
}

/**
 * A model from serializeForest's output (e.g. parsed JSON from R2), checked: shape, lengths, features in range
 * and children after their parent (so prediction always terminates). Throws TypeError on anything else.
 */
export function deserializeForest(data: unknown): Forest {
	if (typeof data !== "object" || data === null) throw new TypeError("forest artefact: not an object");
	const d = data as Record<string, unknown>;
	if (d.format !== "b2g-forest" || d.version !== 1) throw new TypeError("forest artefact: unknown format or version");
	const nFeatures = d.nFeatures;
	if (typeof nFeatures !== "number" || !Number.isInteger(nFeatures) || nFeatures < 1) throw new TypeError("forest artefact: bad nFeatures");
	const o = d.options;
	if (typeof o !== "object" || o === null) throw new TypeError("forest artefact: no options");
	const opt = o as Record<string, unknown>;
	const num = (k: string) => {
		const v = opt[k];
		if (typeof v !== "number" || !Number.isFinite(v)) throw new TypeError(`forest artefact: option ${k} is not a number`);
		return v;
	};
	const options = { trees: num("trees"), maxDepth: num("maxDepth"), minLeaf: num("minLeaf"), maxFeatures: num("maxFeatures"), bins: num("bins"), seed: num("seed") };
	const roots = new Int32Array(fromBase64(d.roots, 4, "roots"));
	const feature = new Int32Array(fromBase64(d.feature, 4, "feature"));
	const threshold = new Float64Array(fromBase64(d.threshold, 8, "threshold"));
	const left = new Int32Array(fromBase64(d.left, 4, "left"));
	const value = new Float64Array(fromBase64(d.value, 8, "value"));
	const samples = new Int32Array(fromBase64(d.samples, 4, "samples"));
	const m = feature.length;
	if (roots.length === 0 || threshold.length !== m || left.length !== m || value.length !== m || samples.length !== m) throw new TypeError("forest artefact: array lengths disagree");
	for (let t = 0; t < roots.length; t++) {
		const r = roots[t] as number;
		if (r < 0 || r >= m || (t > 0 && r <= (roots[t - 1] as number))) throw new TypeError("forest artefact: bad root");
	}
	for (let i = 0; i < m; i++) {
		const f = feature[i] as number;
		if (f >= nFeatures || f < -1) throw new TypeError(`forest artefact: node ${i} splits on feature ${f}`);
		if (f >= 0 && ((left[i] as number) <= i || (left[i] as number) + 1 >= m)) throw new TypeError(`forest artefact: node ${i} has bad children`);
	}
	return { nFeatures, options, roots, feature, threshold, left, value, samples };
}
