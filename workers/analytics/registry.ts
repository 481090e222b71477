/**
 * The model registry: every trained model version in D1 (`models`: parameters, training window, holdout
 * metrics beside its baseline's, whether it was promoted and why), its artefact as JSON in R2. A model
 * that does worse than its baseline is stored, not promoted; predictions come from the latest promoted
 * version and name it. Versions count up per (site, model); retraining the same as-of day (a retried
 * step, a rerun) replaces that day's version instead of adding one.
 */
export interface ModelRecord {
	name: string;
	version: number;
	asOf: string;
	trainedAt: number;
	params: unknown;
	trainingWindow: unknown;
	metrics: unknown;
	baseline: unknown;
	promoted: boolean;
	decision: string;
	artefactKey: string | null;
}

export function artefactKey(site: string, name: string, version: number): string {
	return `models/site=${site}/name=${name}/v=${version}.json`;
}

/** Stores a trained model (and its artefact in R2) and returns its version. */
export async function registerModel(
	env: Env,
	site: string,
	asOf: string,
	model: { name: string; params: unknown; trainingWindow: unknown; metrics: unknown; baseline: unknown; promoted: boolean; decision: string; artefact?: unknown },
): Promise<number> {
	const same = await env.DB.prepare("SELECT version FROM models WHERE site = ? AND name = ? AND as_of = ?").bind(site, model.name, asOf).first<{ version: number }>();
	const next = await env.DB.prepare("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM models WHERE site = ? AND name = ?").bind(site, model.name).first<{ v: number }>();
	const version = same?.version ?? next?.v ?? 1;
	const key = model.artefact === undefined ? null : artefactKey(site, model.name, version);
	if (key) await env.ARCHIVE.put(key, JSON.stringify(model.artefact), { httpMetadata: { contentType: "application/json" } });
	await env.DB.prepare(
		`INSERT INTO models (site, name, version, as_of, trained_at, params, training_window, metrics, baseline, promoted, decision, artefact_key)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
		ON CONFLICT (site, name, version) DO UPDATE SET trained_at = excluded.trained_at, params = excluded.params, training_window = excluded.training_window,
			metrics = excluded.metrics, baseline = excluded.baseline, promoted = excluded.promoted, decision = excluded.decision, artefact_key = excluded.artefact_key`,
	)
		.bind(site, model.name, version, asOf, Date.now(), JSON.stringify(model.params), JSON.stringify(model.trainingWindow), JSON.stringify(model.metrics), JSON.stringify(model.baseline), model.promoted ? 1 : 0, model.decision, key)
		.run();
	return version;
}

type Row = { name: string; version: number; as_of: string; trained_at: number; params: string; training_window: string; metrics: string; baseline: string; promoted: number; decision: string; artefact_key: string | null };
const toRecord = (r: Row): ModelRecord => ({
	name: r.name,
	version: r.version,
	asOf: r.as_of,
	trainedAt: r.trained_at,
	params: JSON.parse(r.params) as unknown,
	trainingWindow: JSON.parse(r.training_window) as unknown,
	metrics: JSON.parse(r.metrics) as unknown,
	baseline: JSON.parse(r.baseline) as unknown,
	promoted: r.promoted === 1,
	decision: r.decision,
	artefactKey: r.artefact_key,
});

/** Versions of one model (or of every model), newest first. */
export async function listModels(db: D1Database, site: string, name?: string): Promise<ModelRecord[]> {
	const rows = await db
		.prepare(`SELECT name, version, as_of, trained_at, params, training_window, metrics, baseline, promoted, decision, artefact_key FROM models WHERE site = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name, version DESC`)
		.bind(site, name ?? null)
		.all<Row>();
	return rows.results.map(toRecord);
}

/** The latest promoted version of a model as of a day (inclusive), or null. */
export async function promotedModel(db: D1Database, site: string, name: string, asOf: string): Promise<ModelRecord | null> {
	const row = await db
		.prepare("SELECT name, version, as_of, trained_at, params, training_window, metrics, baseline, promoted, decision, artefact_key FROM models WHERE site = ? AND name = ? AND promoted = 1 AND as_of <= ? ORDER BY as_of DESC, version DESC LIMIT 1")
		.bind(site, name, asOf)
		.first<Row>();
	return row ? toRecord(row) : null;
}

/** A model's artefact from R2 (parsed JSON), or null when it has none. */
export async function loadArtefact(bucket: R2Bucket, record: ModelRecord): Promise<unknown> {
	if (!record.artefactKey) return null;
	const obj = await bucket.get(record.artefactKey);
	return obj ? ((await obj.json()) as unknown) : null;
}
