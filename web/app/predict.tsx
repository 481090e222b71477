/**
 * Predictive analytics in the dashboard (from the latest nightly run): churn risk (GET /churn: the
 * distribution in tenths, the customers at risk with their top reasons and, for the strategic roles, the
 * value at stake), next best actions (GET /actions: customers per action, a CSV per action), a customer's
 * churn risk and recommendations on the profile, "recommended with" on the product page, and the
 * model registry's word on whether the churn model beat its baseline (GET /models).
 */
import { useEffect, useState } from "preact/hooks";
import { apiUrl, getJson, HttpError, type Actions, type ChurnAnswer, type ChurnBaseline, type ChurnCustomer, type ChurnMetrics, type Loadable, type Models, type ModelVersion, type Recommendations } from "./api";
import { AsOf, frac, isNoResults, NightlyEmpty, NOT_YET, segmentName, Src, states, useAnalyticsJson } from "./analytics-ui";
import { count, decimal, money, words } from "./format";
import { pageUrl, useApp } from "./state";
import { DataTable, Panel, ShareBar, type Column } from "./ui";

/** The churn model's features, in words. */
export const FEATURE_WORDS: Record<string, string> = {
	days_since_last_order: "days since the last order",
	total_orders: "number of orders",
	avg_order_value: "average order value",
	product_diversity: "variety of products bought",
	support_tickets: "support tickets",
	email_engagement: "email engagement",
	session_frequency: "visits to the site",
	cart_abandonment_rate: "abandoned carts",
};
export const featureName = (f: string) => FEATURE_WORDS[f] ?? words(f);

/** What each next best action means. */
export const ACTION_TEXT: Record<string, { label: string; text: string }> = {
	win_back: { label: "Win back", text: "High churn risk with money at stake: a personal offer before they are gone." },
	vip_care: { label: "VIP care", text: "Best customers: reward them and keep them close." },
	replenishment: { label: "Replenishment", text: "Due to reorder by their usual interval: a reminder." },
	cross_sell: { label: "Cross-sell", text: "A recommended product they have not bought yet." },
	nurture: { label: "Nurture", text: "New customers: onboarding and a second-order offer." },
	none: { label: "No action", text: "No action pays off now." },
};
const actionLabel = (a: string) => ACTION_TEXT[a]?.label ?? words(a);

/** The newest version of `name` in the registry (newest first per model) and the last promoted one. */
export function modelVersions(models: ModelVersion[] | undefined, name: string): { latest: ModelVersion | null; served: ModelVersion | null; all: ModelVersion[] } {
	const all = (models ?? []).filter((m) => m.name === name).sort((a, b) => b.version - a.version);
	return { latest: all[0] ?? null, served: all.find((m) => m.promoted) ?? null, all };
}

const auc = (x: number | null | undefined) => (x === null || x === undefined ? "–" : decimal(x, 3));

/** When the newest churn model did not beat its baseline: says so, from the registry. */
export function ChurnModelNote({ models }: { models: Loadable<Models> }) {
	const { latest, served } = modelVersions(models.data?.models, "churn");
	if (!latest || latest.promoted) return null;
	const m = latest.metrics as ChurnMetrics | null;
	const b = latest.baseline as ChurnBaseline | null;
	return (
		<p class="msg warn" role="note" data-churn-not-promoted>
			The churn model of the run of {latest.as_of} (version {latest.version}) does not beat its {b?.name ? words(b.name) : "recency"} baseline (ROC AUC {auc(m?.roc_auc)} against {auc(b?.roc_auc)}); {served ? `scores come from the last promoted version, ${served.version} (run of ${served.as_of}).` : "no version has been promoted yet."} {latest.decision}
		</p>
	);
}

// ─── customers page ──────────────────────────────────────────────────────────────────────────────

/** The customers page's "Predictive" section: churn distribution, customers at risk, next best actions. */
export function PredictiveSection() {
	const { view } = useApp();
	const distSrc = apiUrl("/churn", { site: view.site, limit: "1" });
	const dist = useAnalyticsJson<ChurnAnswer>(distSrc);
	const models = useAnalyticsJson<Models>(apiUrl("/models", { site: view.site }));
	if (isNoResults(dist.error)) {
		return (
			<>
				<h2 class="section-title" id="predictive-section">
					Predictive
				</h2>
				<div class="grid two">
					<NightlyEmpty id="churn" title="Churn risk and next best actions" />
				</div>
			</>
		);
	}
	return (
		<>
			<h2 class="section-title" id="predictive-section">
				Predictive <span class="muted">churn risk in the next 90 days and the next best action per customer</span>
			</h2>
			<ChurnModelNote models={models} />
			<div class="grid two">
				<ChurnDistribution res={dist} src={distSrc} />
				<NextActions />
				<AtRisk />
			</div>
		</>
	);
}

function ChurnDistribution({ res, src }: { res: Loadable<ChurnAnswer>; src: string }) {
	const d = res.data;
	const max = d ? Math.max(1, ...d.distribution.map((b) => b.customers)) : 1;
	const all = d ? d.distribution.reduce((a, b) => a + b.customers, 0) : 0;
	const range = (b: { from: number; to: number }) => `${frac(b.from)} – ${frac(b.to)}`;
	return (
		<Panel
			id="churn-distribution"
			title="Churn risk distribution"
			{...states(res, d && all === 0 ? "No customer with an order in the last 365 days: nobody to score." : false)}
			actions={<AsOf day={d?.as_of} />}
			note={d ? `Customers with an order in the 365 days to ${d.as_of}, by their probability of placing none in the next 90 days.` : undefined}
		>
			{d && all > 0 && (
				<DataTable
					id="churn-distribution"
					caption="Customers by churn probability, in tenths"
					filename={`churn_distribution_${d.site}_${d.as_of}.csv`}
					rows={d.distribution}
					columns={[
						{ key: "range", label: "Churn probability", value: (b) => `${b.from}-${b.to}`, format: range },
						{
							key: "customers",
							label: "Customers",
							numeric: true,
							value: (b) => b.customers,
							format: (b) => (
								<ShareBar
									pct={(100 * b.customers) / max}
									text={
										<Src src={src} path={`distribution.${d.distribution.indexOf(b)}.customers`} value={b.customers}>
											{count(b.customers)}
										</Src>
									}
								/>
							),
						},
					]}
				/>
			)}
		</Panel>
	);
}

const RISK_LEVELS = ["0.3", "0.5", "0.7", "0.9"] as const;
const PAGE = 25;

/** Reasons in words: "days since the last order (142), support tickets (3)". */
export function reasonText(c: ChurnCustomer, n = 3): string {
	return c.reasons
		.slice(0, n)
		.map((r) => `${featureName(r.feature)}${r.value === null ? "" : ` (${decimal(r.value, Number.isInteger(r.value) ? 0 : 2)})`}`)
		.join(", ");
}

function AtRisk() {
	const { view, site, role, params, setParams } = useApp();
	const minProb = (RISK_LEVELS as readonly string[]).includes(params.churn_min ?? "") ? (params.churn_min as string) : "0.5";
	const query = (extra: Record<string, string> = {}) => apiUrl("/churn", { site: view.site, min_prob: minProb, limit: String(PAGE), ...extra });
	const src = query();
	const first = useAnalyticsJson<ChurnAnswer>(src);
	const [more, setMore] = useState<{ src: string; rows: ChurnCustomer[]; next: string | null; loading: boolean; error: Error | null } | null>(null);
	useEffect(() => setMore(null), [src]);
	const extra = more && more.src === src ? more : null;
	const d = first.data;
	const rows = d ? [...d.customers, ...(extra?.rows ?? [])] : [];
	const next = extra ? extra.next : (d?.next_cursor ?? null);
	const cur = d?.currency ?? site.currency;
	const loadMore = async () => {
		if (!next) return;
		setMore({ src, rows: extra?.rows ?? [], next, loading: true, error: null });
		try {
			const page = await getJson<ChurnAnswer>(query({ cursor: next }));
			setMore({ src, rows: [...(extra?.rows ?? []), ...page.customers], next: page.next_cursor, loading: false, error: null });
		} catch (error) {
			setMore({ src, rows: extra?.rows ?? [], next, loading: false, error: error instanceof Error ? error : new Error(String(error)) });
		}
	};
	const firstCount = d?.customers.length ?? 0;
	const columns: Column<ChurnCustomer>[] = [
		{
			key: "customer",
			label: "Customer",
			value: (c) => c.customer_id,
			format: (c) => (
				<a href={pageUrl(`/customers/${encodeURIComponent(c.customer_id)}`, view)} data-customer={c.customer_id}>
					{c.customer_id}
				</a>
			),
		},
		{
			key: "probability",
			label: "Churn probability",
			numeric: true,
			value: (c) => c.probability,
			format: (c) => {
				const i = rows.indexOf(c);
				return i < firstCount ? (
					<Src src={src} path={`customers.${i}.probability`} value={c.probability}>
						{frac(c.probability, cur)}
					</Src>
				) : (
					frac(c.probability, cur)
				);
			},
		},
		{ key: "reasons", label: "Top reasons", wrap: true, value: (c) => c.reasons.slice(0, 3).map((r) => r.feature).join(" "), format: (c) => reasonText(c) || "–" },
		{ key: "segment", label: "Segment", value: (c) => c.segment, format: (c) => (c.segment ? segmentName(c.segment) : "–") },
		...(role === "operations"
			? []
			: [{ key: "stake", label: "Value at stake", numeric: true, value: (c: ChurnCustomer) => c.value_at_stake, format: (c: ChurnCustomer) => (c.value_at_stake === null ? "–" : money(c.value_at_stake, cur)) }]),
	];
	const st = states(first, d && d.total === 0 ? `No customer with a churn probability of ${frac(Number(minProb), cur)} or more.` : false);
	return (
		<Panel
			id="churn-customers"
			title="Customers at risk"
			wide
			{...st}
			actions={
				<label class="inline-select">
					<span class="muted small">Churn probability at least </span>
					<select name="churn_min" value={minProb} onChange={(e) => setParams({ churn_min: e.currentTarget.value === "0.5" ? null : e.currentTarget.value })}>
						{RISK_LEVELS.map((p) => (
							<option value={p} key={p}>
								{frac(Number(p), cur)}
							</option>
						))}
					</select>
				</label>
			}
			note={
				d
					? `Highest risk first. Reasons: the features that pushed the customer's probability up most.${role === "operations" ? "" : " Value at stake: the customer's expected value of the next 12 months (CLV)."} Model version ${d.customers[0]?.model_version ?? "–"}.`
					: undefined
			}
		>
			{d && d.total > 0 && (
				<>
					<DataTable id="churn-customers" caption={`Customers with a churn probability of ${frac(Number(minProb), cur)} or more`} filename={`churn_${view.site}_${d.as_of}_min_${minProb}_first_${rows.length}.csv`} rows={rows} columns={columns} />
					<p class="table-actions" aria-live="polite">
						<span class="muted small" data-churn-count={rows.length}>
							{count(rows.length)} of{" "}
							<Src src={src} path="total" value={d.total}>
								{count(d.total)}
							</Src>{" "}
							shown
						</span>
						{next && (
							<button type="button" class="link-button" onClick={loadMore} disabled={extra?.loading} data-load-more>
								{extra?.loading ? "Loading…" : `Load ${PAGE} more`}
							</button>
						)}
						<a class="small" href={apiUrl("/churn", { site: view.site, min_prob: minProb, format: "csv" })} download data-native data-churn-csv>
							CSV of all {count(d.total)}
						</a>
						{extra?.error && (
							<span class="msg err" role="alert">
								Could not load more: {extra.error.message}
							</span>
						)}
					</p>
				</>
			)}
		</Panel>
	);
}

function NextActions() {
	const { view } = useApp();
	const src = apiUrl("/actions", { site: view.site });
	const res = useAnalyticsJson<Actions>(src);
	const d = res.data;
	const total = d ? d.counts.reduce((a, c) => a + c.customers, 0) : 0;
	return (
		<Panel
			id="next-actions"
			title="Next best actions"
			{...states(res, d && total === 0 ? "No customer to act on in the last nightly run." : false)}
			actions={<AsOf day={d?.as_of} />}
			note="One action per customer, from their segment, churn risk, usual reorder interval and recommendations. Each list is a CSV for a campaign, highest priority first."
		>
			{d && total > 0 && (
				<DataTable
					id="next-actions"
					caption="Customers per next best action"
					filename={`next_actions_${view.site}_${d.as_of}.csv`}
					rows={d.counts}
					columns={[
						{ key: "action", label: "Action", value: (c) => c.action, format: (c) => <span title={ACTION_TEXT[c.action]?.text}>{actionLabel(c.action)}</span> },
						{ key: "what", label: "What it means", wrap: true, value: (c) => ACTION_TEXT[c.action]?.text ?? "", format: (c) => ACTION_TEXT[c.action]?.text ?? "–" },
						{
							key: "customers",
							label: "Customers",
							numeric: true,
							value: (c) => c.customers,
							format: (c) => (
								<Src src={src} path={`counts.${d.counts.indexOf(c)}.customers`} value={c.customers}>
									{count(c.customers)}
								</Src>
							),
						},
						{
							key: "export",
							label: "Export",
							value: (c) => apiUrl("/actions", { site: view.site, type: c.action, format: "csv" }),
							format: (c) => (
								<a href={apiUrl("/actions", { site: view.site, type: c.action, format: "csv" })} download data-native data-action-csv={c.action} aria-label={`CSV of the ${actionLabel(c.action)} customers`}>
									CSV
								</a>
							),
						},
					]}
				/>
			)}
		</Panel>
	);
}

// ─── customer profile ────────────────────────────────────────────────────────────────────────────

type Found = { state: "loading" } | { state: "none"; why: "no_results" | "not_scored" } | { state: "found"; c: ChurnCustomer; src: string; index: number; asOf: string; currency: string } | { state: "error"; error: Error };

/** One customer's churn score (GET /churn?customer=): found, not scored by the last run, or no run yet. */
function useChurnOf(site: string, id: string): Found {
	const [s, setS] = useState<Found>({ state: "loading" });
	useEffect(() => {
		const ctl = new AbortController();
		setS({ state: "loading" });
		const src = apiUrl("/churn", { site, customer: id });
		getJson<ChurnAnswer>(src, ctl.signal)
			.then((page) => {
				const c = page.customers[0];
				setS(c ? { state: "found", c, src, index: 0, asOf: page.as_of, currency: page.currency } : { state: "none", why: "not_scored" });
			})
			.catch((error: unknown) => {
				if (ctl.signal.aborted) return;
				if (isNoResults(error as Error)) setS({ state: "none", why: "no_results" });
				else setS({ state: "error", error: error instanceof Error ? error : new Error(String(error)) });
			});
		return () => ctl.abort();
	}, [site, id]);
	return s;
}

/** The profile's churn risk, its reasons, and what to recommend next. */
export function ProfilePredictions({ id, next }: { id: string; next: { action: string; reason: string } | null }) {
	const { view, site, role } = useApp();
	const churn = useChurnOf(view.site, id);
	const recSrc = apiUrl("/recommendations", { site: view.site, customer: id, k: "10" });
	const recs = useAnalyticsJson<Recommendations>(recSrc);
	const cur = churn.state === "found" ? churn.currency : site.currency;
	return (
		<>
			<Panel
				id="customer-churn"
				title="Churn risk"
				loading={churn.state === "loading"}
				error={churn.state === "error" ? churn.error : null}
				empty={
					churn.state === "none"
						? churn.why === "no_results"
							? `${NOT_YET} The nightly run starts after 03:00 site time.`
							: "Not scored: no order in the 365 days to the last nightly run."
						: false
				}
				actions={churn.state === "found" ? <AsOf day={churn.asOf} /> : undefined}
				note={churn.state === "found" ? `Probability of no order in the next 90 days (model version ${churn.c.model_version}).` : undefined}
			>
				{churn.state === "found" && (
					<>
						<div class="kpis">
							<div class="kpi">
								<span class="kpi-name">Churn probability</span>
								<b class="kpi-value" data-src={churn.src} data-path={`customers.${churn.index}.probability`} data-value={String(churn.c.probability)}>
									{frac(churn.c.probability, cur)}
								</b>
							</div>
							{role !== "operations" && churn.c.value_at_stake !== null && (
								<div class="kpi">
									<span class="kpi-name">Value at stake</span>
									<b class="kpi-value" data-src={churn.src} data-path={`customers.${churn.index}.value_at_stake`} data-value={String(churn.c.value_at_stake)}>
										{money(churn.c.value_at_stake, cur)}
									</b>
								</div>
							)}
						</div>
						{churn.c.reasons.length > 0 && (
							<DataTable
								id="churn-reasons"
								caption="What pushed the churn probability up"
								filename={`customer_${id}_churn_reasons.csv`}
								rows={churn.c.reasons}
								columns={[
									{ key: "feature", label: "Reason", value: (r) => r.feature, format: (r) => featureName(r.feature) },
									{ key: "value", label: "Value", numeric: true, value: (r) => r.value, format: (r) => (r.value === null ? "–" : decimal(r.value, Number.isInteger(r.value) ? 0 : 2)) },
									{ key: "contribution", label: "Contribution", numeric: true, value: (r) => r.contribution, format: (r) => `+${frac(r.contribution, cur)}` },
								]}
							/>
						)}
					</>
				)}
			</Panel>
			<RecommendationsPanel id="customer-recommendations" title="Recommended next" res={recs} src={recSrc} subject={id} kind="customer" />
			<Panel id="customer-next-action" title="Next best action" empty={next ? false : "No action from the last nightly run (not in its population, or no run yet)."}>
				{next && (
					<p data-next-action={next.action}>
						<strong>{next.action.replace("_", " ")}</strong>: {next.reason}
					</p>
				)}
			</Panel>
		</>
	);
}

// ─── recommendations (profile and product page) ──────────────────────────────────────────────────

export function RecommendationsPanel({ id, title, res, src, subject, kind }: { id: string; title: string; res: Loadable<Recommendations>; src: string; subject: string; kind: "customer" | "product" }) {
	const { view } = useApp();
	const d = res.data;
	const missing = res.error instanceof HttpError && res.error.status === 404 && res.error.code === "not_found";
	const st = states(res, d && d.items.length === 0 ? "Nothing to recommend." : false);
	return (
		<Panel
			id={id}
			title={title}
			wide={kind === "product"}
			loading={st.loading}
			error={missing ? null : st.error}
			empty={missing ? (kind === "customer" ? "No recommendations for this customer in the last nightly run." : "No recommendations with this product in the last nightly run.") : isNoResults(res.error) ? `${NOT_YET} The nightly run starts after 03:00 site time.` : st.empty}
			actions={<AsOf day={d?.as_of} />}
			note={d ? `${kind === "customer" ? "Products this customer is likely to buy next" : "Products to show with this one"}, best first (recommender version ${d.model_version}).` : undefined}
		>
			{d && d.items.length > 0 && (
				<DataTable
					id={id}
					caption={kind === "customer" ? `Recommended for ${subject}` : `Recommended with ${subject}`}
					filename={`${kind}_${subject}_recommendations_${d.as_of}.csv`}
					rows={d.items}
					columns={[
						{
							key: "sku",
							label: "Product",
							value: (r) => r.sku,
							format: (r) => (
								<a href={pageUrl(`/products/${encodeURIComponent(r.sku)}`, view)} data-product={r.sku}>
									{r.sku}
								</a>
							),
						},
						{
							key: "score",
							label: "Score",
							numeric: true,
							value: (r) => r.score,
							format: (r) => (
								<Src src={src} path={`items.${d.items.indexOf(r)}.score`} value={r.score}>
									{decimal(r.score, 3)}
								</Src>
							),
						},
						{ key: "why", label: "Why", wrap: true, value: (r) => r.why },
					]}
				/>
			)}
		</Panel>
	);
}

/** The product page's "Recommended with". */
export function RecommendedWith({ sku }: { sku: string }) {
	const { view } = useApp();
	const src = apiUrl("/recommendations", { site: view.site, product: sku, k: "10" });
	const res = useAnalyticsJson<Recommendations>(src);
	return <RecommendationsPanel id="recommended-with" title="Recommended with" res={res} src={src} subject={sku} kind="product" />;
}

// ─── forecasts on the Executive and Operations pages (GET /forecast, /forecast/projection, /churn summary) ─

export interface ForecastPoint {
	period: string;
	from: string;
	mean: number;
	lower80: number;
	upper80: number;
	lower95: number;
	upper95: number;
}
export interface ForecastAnswer {
	site: string;
	currency: string;
	metric: string;
	grain: "day" | "week" | "month";
	unit: string;
	history: { period: string; from: string; value: number }[];
	model: { label: string; parameters: Record<string, unknown> };
	backtest: { mase: number | null; smape: number | null; mape: number | null; coverage80: number; coverage95: number } | null;
	baseline: { label: string; mase: number; smape: number };
	beats_baseline: boolean;
	forecast: ForecastPoint[];
}
type TotalBand = { mean: number; se: number; lower80: number; upper80: number; lower95: number; upper95: number };
export interface ProjectionAnswer {
	site: string;
	currency: string;
	metric: string;
	period: string;
	from: string;
	to: string;
	today: string;
	days_done: number;
	days_left: number;
	actual_to_date: number;
	forecast_rest: TotalBand;
	projection: TotalBand;
	model: { label: string };
	backtest: { mase: number | null } | null;
	baseline: { label: string; mase: number };
	beats_baseline: boolean;
}
export type ChurnWithSummary = ChurnAnswer & { summary: { customers: number; mean_probability: number | null; model_version: number | null } };

/** Forecast horizons the dashboard asks for: two weeks of days, two months of weeks, half a year of months. */
export const FORECAST_HORIZON = { day: 14, week: 8, month: 6 } as const;
export type ForecastGrain = keyof typeof FORECAST_HORIZON;

/** The API's one-line reason when it refuses to forecast (too short a history); null for other failures. */
export const refusal = (e: Error | null | undefined): string | null => (e instanceof HttpError && e.code === "insufficient_history" ? e.message : null);

/** Under the revenue chart: which model drew the band and how it did in its backtest, or why there is no band. */
export function ForecastCaption({ res, src, chartGrain, shown }: { res: Loadable<ForecastAnswer>; src: string; chartGrain: string; shown: boolean }) {
	const { site } = useApp();
	const why = refusal(res.error);
	if (why) {
		return (
			<p class="note" data-forecast-refused>
				No forecast: {why}
			</p>
		);
	}
	if (chartGrain !== "day" && chartGrain !== "week" && chartGrain !== "month") return <p class="note">Forecasts are by day, week or month: choose one of those grains to see the forecast band.</p>;
	const f = res.data;
	if (!f) return null;
	const bt = f.backtest;
	return (
		<p class="note" data-forecast-caption>
			{shown ? (
				<>
					Forecast with its 80% (darker) and 95% prediction intervals, shaded:{" "}
				</>
			) : (
				<>The forecast starts after {f.history.at(-1)?.period}, past this range: </>
			)}
			<b>{f.model.label}</b>, chosen by rolling-origin backtest — MASE{" "}
			<Src src={src} path="backtest.mase" value={bt?.mase ?? null}>
				{bt?.mase === null || bt?.mase === undefined ? "–" : decimal(bt.mase, 2)}
			</Src>{" "}
			against the {f.baseline.label.toLowerCase()} baseline's{" "}
			<Src src={src} path="baseline.mase" value={f.baseline.mase}>
				{decimal(f.baseline.mase, 2)}
			</Src>
			{f.beats_baseline ? "." : " — it does not beat the baseline, so read the band with care."} {bt && <>80% intervals held {frac(bt.coverage80, site.currency)} of the backtest's actuals.</>}
		</p>
	);
}

/** The architecture document's `revenue.forecast`: the forecast of the first period not yet complete, with its intervals. */
export function RevenueForecastCard({ res, src }: { res: Loadable<ForecastAnswer>; src: string }) {
	const { site } = useApp();
	if (res.error instanceof HttpError && res.error.status === 403) return null;
	const why = refusal(res.error);
	const f = res.data;
	const p = f?.forecast[0];
	const cur = f?.currency ?? site.currency;
	const m = (v: number) => money(v, cur);
	const hint = "The chosen model's forecast of the whole period (the one in progress, when it has begun), from the complete periods before it, with 80% and 95% prediction intervals.";
	return (
		<div class="kpi" data-kpi-card="revenue_forecast" data-forecast-src={src}>
			<span class="kpi-name" title={hint}>
				Revenue forecast{p ? `, ${p.period}` : ""}
			</span>
			{why ? (
				<span class="muted small" data-forecast-refused>
					Not available: {why}
				</span>
			) : res.error ? (
				<span class="muted small">Could not load the forecast: {res.error.message}</span>
			) : !p ? (
				<b class="kpi-value">…</b>
			) : (
				<>
					<b class="kpi-value" data-src={src} data-path="forecast.0.mean" data-value={String(p.mean)}>
						{m(p.mean)}
					</b>
					<span class="muted small">
						80%:{" "}
						<Src src={src} path="forecast.0.lower80" value={p.lower80}>
							{m(p.lower80)}
						</Src>{" "}
						–{" "}
						<Src src={src} path="forecast.0.upper80" value={p.upper80}>
							{m(p.upper80)}
						</Src>
						{" · "}95%:{" "}
						<Src src={src} path="forecast.0.lower95" value={p.lower95}>
							{m(p.lower95)}
						</Src>{" "}
						–{" "}
						<Src src={src} path="forecast.0.upper95" value={p.upper95}>
							{m(p.upper95)}
						</Src>
					</span>
					<span class="muted small">{f.model.label}</span>
				</>
			)}
		</div>
	);
}

/**
 * The architecture document's `customers.churn`: the predicted churn rate, defined as the mean churn
 * probability over every customer the latest nightly run scored (an order in the last 365 days) — the
 * expected share of them placing no order in the next 90 days; the churn alert reads the same mean.
 */
export function ChurnRateCard() {
	const { view, site, role } = useApp();
	const src = apiUrl("/churn", { site: view.site, limit: "1" });
	const res = useAnalyticsJson<ChurnWithSummary>(src);
	if (res.error instanceof HttpError && res.error.status === 403) return null;
	const s = res.data?.summary;
	const hint =
		"Mean churn probability over the customers with an order in the last 365 days, from the latest nightly churn model: the expected share of them who place no order in the next 90 days.";
	return (
		<div class="kpi" data-kpi-card="customers_churn">
			<span class="kpi-name" title={hint}>
				Predicted churn rate (90 days)
			</span>
			{isNoResults(res.error) ? (
				<span class="muted small">{role === "admin" ? "After the first nightly run (Customers page: Run now)." : "After the first nightly run."}</span>
			) : res.error ? (
				<span class="muted small">Could not load: {res.error.message}</span>
			) : !s ? (
				<b class="kpi-value">…</b>
			) : (
				<>
					<b class="kpi-value" data-src={src} data-path="summary.mean_probability" data-value={s.mean_probability === null ? "" : String(s.mean_probability)}>
						{frac(s.mean_probability, site.currency)}
					</b>
					<span class="muted small">
						mean over{" "}
						<Src src={src} path="summary.customers" value={s.customers}>
							{count(s.customers)}
						</Src>{" "}
						customers scored · <AsOf day={res.data?.as_of} />
					</span>
				</>
			)}
		</div>
	);
}
