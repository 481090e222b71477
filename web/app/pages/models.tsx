/**
 * The model registry (GET /api/v1/models): every trained version of each model of the site, its holdout
 * metrics beside its baseline's on the same holdout, whether it was promoted (served) and why; for the
 * churn model the reliability of its probabilities (mean predicted against observed churn per bin, with
 * the diagonal of perfect calibration) and its feature importances; for the recommender each candidate's
 * hit rate and NDCG at 10 beside the popularity baseline. Admins and analysts.
 */
import type { ComponentChildren } from "preact";
import { apiUrl, type CalibrationBin, type ChurnBaseline, type ChurnMetrics, type Loadable, type Models, type ModelVersion, type RecBaseline, type RecMetrics } from "../api";
import { AsOf, frac, isNoResults, NightlyEmpty, Src, states, useAnalyticsJson } from "../analytics-ui";
import { count, decimal, words } from "../format";
import { featureName } from "../predict";
import { useApp } from "../state";
import { DataTable, Panel, ShareBar, type Column } from "../ui";

const TITLES: Record<string, string> = { churn: "Churn", recommendations: "Recommendations" };
const modelTitle = (name: string) => TITLES[name] ?? words(name.replace(/[:.]/g, " "));
const num = (x: unknown, digits = 3) => (typeof x === "number" && Number.isFinite(x) ? decimal(x, digits) : "–");
const obj = (x: unknown): Record<string, unknown> => (x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : {});

export default function ModelsPage() {
	const { view } = useApp();
	const src = apiUrl("/models", { site: view.site });
	const res = useAnalyticsJson<Models>(src);
	const models = res.data?.models ?? [];
	const names = [...new Set(models.map((m) => m.name))].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
	const none = isNoResults(res.error) || (res.data !== null && models.length === 0);
	return (
		<div class="page" data-page="models">
			<h1 class="page-title">
				Models <span class="muted">every trained version, its holdout metrics beside its baseline's, and whether it is served</span>
			</h1>
			{none ? (
				<div class="grid two">
					<NightlyEmpty id="models" title="Models" />
				</div>
			) : res.loading || res.error ? (
				<div class="grid two">
					<Panel id="models" title="Models" wide {...states(res)} />
				</div>
			) : (
				names.map((name) => <ModelSection key={name} name={name} res={res} src={src} />)
			)}
		</div>
	);
}

const order = (name: string) => (name === "churn" ? 0 : name === "recommendations" ? 1 : 2);

function ModelSection({ name, res, src }: { name: string; res: Loadable<Models>; src: string }) {
	const all = res.data?.models ?? [];
	const versions = all.filter((m) => m.name === name).sort((a, b) => b.version - a.version);
	const latest = versions[0];
	if (!latest) return null;
	const served = versions.find((v) => v.promoted) ?? null;
	const at = (m: ModelVersion) => all.indexOf(m);
	return (
		<section class="model" data-model={name} aria-labelledby={`model-${name}-title`}>
			<h2 class="section-title" id={`model-${name}-title`}>
				{modelTitle(name)} <span class="muted">version {latest.version}</span>
			</h2>
			<div class="grid two">
				<Panel id={`model-${name}`} title="Latest version" wide actions={<AsOf day={latest.as_of} />}>
					<p class={latest.promoted ? "msg" : "msg warn"} data-promoted={String(latest.promoted)} data-model-decision={name}>
						{latest.promoted ? (
							<>
								<b>Promoted:</b> version {latest.version} beats its baseline and is served.{" "}
							</>
						) : (
							<>
								<b>Not promoted:</b> version {latest.version} does not beat its baseline; {served ? `the last promoted version, ${served.version} (run of ${served.as_of}), is still served.` : "no version of this model has been promoted yet."}{" "}
							</>
						)}
						<span class="muted">{latest.decision}</span>
					</p>
					{name === "churn" ? <ChurnVersions versions={versions} src={src} at={at} /> : name === "recommendations" ? <RecVersions versions={versions} src={src} at={at} /> : <GenericVersions versions={versions} src={src} at={at} />}
				</Panel>
				{name === "churn" && <Calibration m={latest} src={src} index={at(latest)} />}
				{name === "churn" && <Importances m={latest} />}
				{name === "recommendations" && <Recommenders m={latest} src={src} index={at(latest)} />}
			</div>
		</section>
	);
}

type VersionsProps = { versions: ModelVersion[]; src: string; at: (m: ModelVersion) => number };

const status = (m: ModelVersion) => (m.promoted ? "promoted" : "not promoted");
const common: Column<ModelVersion>[] = [
	{ key: "version", label: "Version", numeric: true, value: (m) => m.version },
	{ key: "as_of", label: "Run of", value: (m) => m.as_of },
];
const tail: Column<ModelVersion>[] = [
	{ key: "promoted", label: "Status", value: (m) => m.promoted, format: (m) => <span class={m.promoted ? "badge" : "badge warn"}>{status(m)}</span> },
	{ key: "decision", label: "Decision", wrap: true, value: (m) => m.decision },
];

/** A metric of a version, and its baseline's, as "model vs baseline" cells with their sources. */
function pair(key: string, label: string, src: string, at: (m: ModelVersion) => number, digits = 3): Column<ModelVersion>[] {
	return [
		{
			key,
			label,
			numeric: true,
			value: (m) => (obj(m.metrics)[key] as number | null | undefined) ?? null,
			format: (m) => {
				const v = obj(m.metrics)[key];
				return typeof v === "number" ? (
					<Src src={src} path={`models.${at(m)}.metrics.${key}`} value={v}>
						{num(v, digits)}
					</Src>
				) : (
					"–"
				);
			},
		},
		{
			key: `baseline_${key}`,
			label: `Baseline ${label}`,
			numeric: true,
			value: (m) => (obj(m.baseline)[key] as number | null | undefined) ?? null,
			format: (m) => {
				const v = obj(m.baseline)[key];
				return typeof v === "number" ? (
					<Src src={src} path={`models.${at(m)}.baseline.${key}`} value={v}>
						{num(v, digits)}
					</Src>
				) : (
					"–"
				);
			},
		},
	];
}

function ChurnVersions({ versions, src, at }: VersionsProps) {
	const { view } = useApp();
	const b = versions[0]?.baseline as ChurnBaseline | null;
	return (
		<>
			<p class="muted small">
				Holdout: customers scored at a past day, checked against whether they ordered in the 90 days after. Baseline: {b?.name ? words(b.name) : "recency"} (the longer since the last order, the likelier to churn). ROC AUC and PR AUC: 1 is perfect, ROC AUC 0.5 is chance; lift at 10 %: how many times more churners among the top tenth by score than overall.
			</p>
			<DataTable
				id="churn-versions"
				caption="Churn model versions: holdout metrics beside the baseline's"
				filename={`models_churn_${view.site}.csv`}
				rows={versions}
				limit={10}
				columns={[
					...common,
					...pair("roc_auc", "ROC AUC", src, at),
					...pair("pr_auc", "PR AUC", src, at),
					...pair("lift_at_10pct", "lift at 10 %", src, at, 2),
					{ key: "customers", label: "Holdout customers", numeric: true, value: (m) => (m.metrics as ChurnMetrics | null)?.customers ?? null, format: (m) => { const n = (m.metrics as ChurnMetrics | null)?.customers; return typeof n === "number" ? count(n) : "–"; } },
					...tail,
				]}
			/>
		</>
	);
}

function RecVersions({ versions, src, at }: VersionsProps) {
	const { view } = useApp();
	return (
		<>
			<p class="muted small">Holdout: each customer's last order hidden; hit rate at 10: share of customers with a hidden product among the 10 recommended; NDCG at 10: the same, rewarding a hit near the top. Baseline: the most popular products.</p>
			<DataTable
				id="recommendations-versions"
				caption="Recommender versions: holdout metrics beside the popularity baseline's"
				filename={`models_recommendations_${view.site}.csv`}
				rows={versions}
				limit={10}
				columns={[
					...common,
					{ key: "chosen", label: "Chosen", value: (m) => (m.metrics as RecMetrics | null)?.chosen ?? null, format: (m) => words((m.metrics as RecMetrics | null)?.chosen ?? "–") },
					...pair("hit_rate_at_10", "hit rate at 10", src, at),
					...pair("ndcg_at_10", "NDCG at 10", src, at),
					...tail,
				]}
			/>
		</>
	);
}

/** Any other model (forecasts…): its numeric metrics beside the baseline's same metrics. */
function GenericVersions({ versions, src, at }: VersionsProps) {
	const { view } = useApp();
	const keys = [...new Set(versions.flatMap((m) => Object.entries(obj(m.metrics)).filter(([, v]) => typeof v === "number").map(([k]) => k)))].slice(0, 6);
	const name = versions[0]?.name ?? "model";
	const b = obj(versions[0]?.baseline);
	return (
		<>
			{typeof b.name === "string" && <p class="muted small">Baseline: {words(b.name)}.</p>}
			<DataTable id={`${name}-versions`} caption={`${modelTitle(name)} versions: holdout metrics beside the baseline's`} filename={`models_${name.replace(/[^a-z0-9_-]/gi, "_")}_${view.site}.csv`} rows={versions} limit={10} columns={[...common, ...keys.flatMap((k) => pair(k, words(k), src, at)), ...tail]} />
		</>
	);
}

// ─── churn: calibration and importances ──────────────────────────────────────────────────────────

function Calibration({ m, src, index }: { m: ModelVersion; src: string; index: number }) {
	const { view } = useApp();
	const bins = ((m.metrics as ChurnMetrics | null)?.calibration ?? []).filter((b) => b.count > 0);
	const S = 300;
	const P = 34;
	const x = (v: number) => P + v * (S - P - 10);
	const y = (v: number) => S - P - v * (S - P - 10);
	const pts = bins.filter((b) => b.meanPredicted !== null && b.observedRate !== null) as (CalibrationBin & { meanPredicted: number; observedRate: number })[];
	const all = (m.metrics as ChurnMetrics | null)?.calibration ?? [];
	const ticks = [0, 0.25, 0.5, 0.75, 1];
	return (
		<Panel
			id="calibration"
			title="Calibration"
			empty={pts.length === 0 ? "No calibration bins for this version." : false}
			note="Per bin of predicted probability: the mean prediction (across) against the share who did churn (up). On the dashed diagonal, predictions mean what they say; above it the model underestimates the risk, below it overestimates it."
		>
			<svg class="calibration" viewBox={`0 0 ${S} ${S}`} role="img" aria-label={`Reliability of version ${m.version}: observed churn rate against mean predicted probability per bin`}>
				{ticks.map((t) => (
					<g key={t}>
						<line class="grid-line" x1={x(0)} x2={x(1)} y1={y(t)} y2={y(t)} />
						<text x={P - 4} y={y(t) + 4} text-anchor="end">
							{frac(t).replace(/\.0(?=\D)/, "")}
						</text>
						<text x={x(t)} y={S - P + 14} text-anchor="middle">
							{frac(t).replace(/\.0(?=\D)/, "")}
						</text>
					</g>
				))}
				<line class="axis" x1={x(0)} x2={x(1)} y1={y(0)} y2={y(0)} />
				<line class="axis" x1={x(0)} x2={x(0)} y1={y(0)} y2={y(1)} />
				<path class="diag" d={`M${x(0)},${y(0)} L${x(1)},${y(1)}`} />
				<path class="obs" d={pts.map((b, i) => `${i ? "L" : "M"}${x(b.meanPredicted)},${y(b.observedRate)}`).join(" ")} />
				{pts.map((b) => (
					<circle key={b.lower} cx={x(b.meanPredicted)} cy={y(b.observedRate)} r={Math.min(7, 2.5 + Math.sqrt(b.count) / 3)}>
						<title>{`${frac(b.lower)}–${frac(b.upper)}: predicted ${frac(b.meanPredicted)}, observed ${frac(b.observedRate)} (${count(b.count)} customers)`}</title>
					</circle>
				))}
				<text x={x(0.5)} y={S - 4} text-anchor="middle">
					mean predicted
				</text>
				<text x={10} y={y(0.5)} text-anchor="middle" transform={`rotate(-90 10 ${y(0.5)})`}>
					observed
				</text>
			</svg>
			<DataTable
				id="calibration"
				caption="Calibration bins of the churn model"
				filename={`churn_calibration_${view.site}_v${m.version}.csv`}
				rows={bins}
				limit={10}
				columns={[
					{ key: "bin", label: "Predicted", value: (b) => `${b.lower}-${b.upper}`, format: (b) => `${frac(b.lower)} – ${frac(b.upper)}` },
					{ key: "count", label: "Customers", numeric: true, value: (b) => b.count, format: (b) => count(b.count) },
					{ key: "mean", label: "Mean predicted", numeric: true, value: (b) => b.meanPredicted, format: (b) => frac(b.meanPredicted) },
					{
						key: "observed",
						label: "Observed churn",
						numeric: true,
						value: (b) => b.observedRate,
						format: (b) => (
							<Src src={src} path={`models.${index}.metrics.calibration.${all.indexOf(b)}.observedRate`} value={b.observedRate}>
								{frac(b.observedRate)}
							</Src>
						),
					},
				]}
			/>
		</Panel>
	);
}

function Importances({ m }: { m: ModelVersion }) {
	const { view } = useApp();
	const imp = obj(obj(m.params).importances);
	const rows = Object.entries(imp)
		.filter((e): e is [string, number] => typeof e[1] === "number")
		.map(([feature, share]) => ({ feature, share }))
		.sort((a, b) => b.share - a.share);
	const max = Math.max(0.0001, ...rows.map((r) => r.share));
	return (
		<Panel id="importances" title="What the churn model looks at" empty={rows.length ? false : "No feature importances recorded for this version."} note="Feature importances of the random forest (share of the impurity decrease, summing to 100 %).">
			<DataTable
				id="importances"
				caption="Feature importances of the churn model"
				filename={`churn_importances_${view.site}_v${m.version}.csv`}
				rows={rows}
				columns={[
					{ key: "feature", label: "Feature", value: (r) => r.feature, format: (r) => featureName(r.feature) },
					{ key: "share", label: "Importance", numeric: true, value: (r) => r.share, format: (r) => <ShareBar pct={(100 * r.share) / max} text={frac(r.share)} /> },
				]}
			/>
		</Panel>
	);
}

// ─── recommender candidates ──────────────────────────────────────────────────────────────────────

function Recommenders({ m, src, index }: { m: ModelVersion; src: string; index: number }) {
	const { view } = useApp();
	const met = m.metrics as RecMetrics | null;
	const base = m.baseline as RecBaseline | null;
	const candidates = Object.entries(met?.models ?? {}).map(([name, v]) => ({ name, hitRate: v.hitRate, ndcg: v.ndcg }));
	const pop = candidates.find((c) => c.name === "popularity");
	const popHit = pop?.hitRate ?? base?.hit_rate_at_10 ?? null;
	const popNdcg = pop?.ndcg ?? base?.ndcg_at_10 ?? null;
	const better = (v: number | null, b: number | null): ComponentChildren => (v === null || b === null ? "–" : v > b ? "better" : v === b ? "same" : "worse");
	return (
		<Panel
			id="recommenders"
			title="Recommenders compared"
			wide
			empty={candidates.length ? false : "No per-recommender metrics recorded for this version."}
			note={`Version ${m.version}: each candidate on the same holdout; the chosen one (${words(met?.chosen ?? "–")}) is served when it beats popularity.`}
		>
			<DataTable
				id="recommenders"
				caption="Hit rate and NDCG at 10 of each recommender beside popularity"
				filename={`recommenders_${view.site}_v${m.version}.csv`}
				rows={candidates}
				columns={[
					{ key: "name", label: "Recommender", value: (c) => c.name, format: (c) => <>{words(c.name)}{c.name === met?.chosen && <span class="badge">chosen</span>}{c.name === "popularity" && <span class="badge">baseline</span>}</> },
					{
						key: "hit",
						label: "Hit rate at 10",
						numeric: true,
						value: (c) => c.hitRate,
						format: (c) => (
							<Src src={src} path={`models.${index}.metrics.models.${c.name}.hitRate`} value={c.hitRate}>
								{num(c.hitRate)}
							</Src>
						),
					},
					{ key: "hit_vs", label: "vs popularity", value: (c) => (c.name === "popularity" ? "" : String(better(c.hitRate, popHit))), format: (c) => (c.name === "popularity" ? "" : better(c.hitRate, popHit)) },
					{
						key: "ndcg",
						label: "NDCG at 10",
						numeric: true,
						value: (c) => c.ndcg,
						format: (c) => (
							<Src src={src} path={`models.${index}.metrics.models.${c.name}.ndcg`} value={c.ndcg}>
								{num(c.ndcg)}
							</Src>
						),
					},
					{ key: "ndcg_vs", label: "vs popularity", value: (c) => (c.name === "popularity" ? "" : String(better(c.ndcg, popNdcg))), format: (c) => (c.name === "popularity" ? "" : better(c.ndcg, popNdcg)) },
				]}
			/>
		</Panel>
	);
}
