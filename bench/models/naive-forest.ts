/**
 * The naive reference of bench/models (not part of the product): a straightforward exact-split random
 * forest as one would first write it — rows as number[][], one object per node, and at every node each
 * candidate feature's rows sorted by value (Array.prototype.sort) and scanned for the best Gini split
 * between adjacent distinct values; children get new index arrays (filter). Same semantics as
 * workers/analytics/forest.ts and sklearn's RandomForestClassifier: bootstrap samples, ⌊√features⌋
 * candidate features per split, a depth limit (root = depth 0), minimum leaf size 1, probability = mean of
 * the trees' leaf positive rates. Only the split search and the storage differ, which is what is compared
 * (and one detail: a node whose 2 candidate features are both constant is a leaf here, where the product draws
 * further features; with continuous data that does not happen).
 */

export interface NaiveNode {
	/** −1 for a leaf. */
	feature: number;
	threshold: number;
	left: NaiveNode | null;
	right: NaiveNode | null;
	/** Share of positives among the node's bootstrap rows. */
	value: number;
}

export interface NaiveOptions {
	trees: number;
	maxDepth: number;
	seed: number;
}

/** mulberry32, the same tiny PRNG the product uses, so both forests draw from equally good randomness. */
export function prng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export function trainNaiveForest(X: number[][], y: number[], opts: NaiveOptions): NaiveNode[] {
	const n = X.length;
	const nFeatures = (X[0] as number[]).length;
	const maxFeatures = Math.max(1, Math.floor(Math.sqrt(nFeatures)));
	const random = prng(opts.seed);

	const grow = (rows: number[], depth: number): NaiveNode => {
		let positives = 0;
		for (const r of rows) positives += y[r] as number;
		const size = rows.length;
		const node: NaiveNode = { feature: -1, threshold: 0, left: null, right: null, value: positives / size };
		if (depth >= opts.maxDepth || positives === 0 || positives === size || size < 2) return node;
		// Candidate features: a fresh shuffle, the first maxFeatures of it.
		const features = Array.from({ length: nFeatures }, (_, f) => f);
		for (let i = nFeatures - 1; i > 0; i--) {
			const j = Math.floor(random() * (i + 1));
			[features[i], features[j]] = [features[j] as number, features[i] as number];
		}
		let bestGini = Infinity;
		let bestFeature = -1;
		let bestThreshold = 0;
		for (const f of features.slice(0, maxFeatures)) {
			const sorted = rows.slice().sort((a, b) => (X[a] as number[])[f]! - (X[b] as number[])[f]!);
			let nL = 0;
			let pL = 0;
			for (let i = 0; i < size - 1; i++) {
				const r = sorted[i] as number;
				nL++;
				pL += y[r] as number;
				const v = (X[r] as number[])[f] as number;
				const next = (X[sorted[i + 1] as number] as number[])[f] as number;
				if (v === next) continue;
				const nR = size - nL;
				const pR = positives - pL;
				// Weighted Gini of the two children: Σ n_c (1 − p_c² − (1 − p_c)²).
				const gini = nL * (1 - (pL / nL) ** 2 - ((nL - pL) / nL) ** 2) + nR * (1 - (pR / nR) ** 2 - ((nR - pR) / nR) ** 2);
				if (gini < bestGini) {
					bestGini = gini;
					bestFeature = f;
					bestThreshold = (v + next) / 2;
				}
			}
		}
		if (bestFeature < 0) return node;
		node.feature = bestFeature;
		node.threshold = bestThreshold;
		node.left = grow(
			rows.filter((r) => (X[r] as number[])[bestFeature]! <= bestThreshold),
			depth + 1,
		);
		node.right = grow(
			rows.filter((r) => (X[r] as number[])[bestFeature]! > bestThreshold),
			depth + 1,
		);
		return node;
	};

	const forest: NaiveNode[] = [];
	for (let t = 0; t < opts.trees; t++) {
		const sample = Array.from({ length: n }, () => Math.floor(random() * n));
		forest.push(grow(sample, 0));
	}
	return forest;
}

export function naivePredict(forest: NaiveNode[], x: number[]): number {
	let sum = 0;
	for (const root of forest) {
		let node = root;
		while (node.feature >= 0) node = ((x[node.feature] as number) <= node.threshold ? node.left : node.right) as NaiveNode;
		sum += node.value;
	}
	return sum / forest.length;
}
