/**
 * Executive dashboard: revenue against target and its growth; customers; orders, AOV, conversion and
 * gross margin; acquisition cost and payback; a trend per KPI with the comparison period overlaid; the
 * alerts firing now; from the nightly analytics, customer lifetime value (strategic roles) and the
 * retention of the last six monthly cohorts; the revenue forecast (GET /forecast: the band on the revenue
 * trend and the next period's card) and the predicted churn rate (GET /churn's summary). KPIs the reader's role may not see are neither requested nor shown.
 */
import { apiUrl, useJson, type Alert, type ClvCustomers, type KpiResponse, type KpiResult, type RetentionAnswer } from "../api";
import { AsOf, frac, HeatTable, isNoResults, RunNightly, states, useAnalyticsJson } from "../analytics-ui";
import { count, dateTime, formatValue, money } from "../format";
import { compareLabel, KpiTrend, type TrendForecast } from "../kpi-view";
import { ChurnRateCard, FORECAST_HORIZON, ForecastCaption, RevenueForecastCard, type ForecastAnswer, type ForecastGrain } from "../predict";
import { kpiQuery, pageUrl, useApp } from "../state";
import { DataTable, KpiCard, Panel, Stat } from "../ui";

const GROUPS: { id: string; title: string; kpis: string[] }[] = [
	{ id: "customers", title: "Customers", kpis: ["active_customers", "new_customers", "return_customer_rate"] },
	{ id: "operations", title: "Orders and margin", kpis: ["orders", "aov", "conversion_rate", "gross_margin"] },
	{ id: "acquisition", title: "Acquisition", kpis: ["cac", "cac_payback_months"] },
];

export default function Executive() {
	const { view, catalog, site } = useApp();
	const growth = view.compare === "yoy" ? "revenue_growth_yoy" : "revenue_growth_mom";
	const wanted = ["revenue", growth, ...GROUPS.flatMap((g) => g.kpis)].filter((id) => catalog.has(id));
	const kpis = useJson<KpiResponse>(wanted.length ? apiUrl("/kpis", kpiQuery(view, wanted)) : null);
	const alerts = useJson<{ alerts: Alert[] }>(apiUrl("/alerts", { site: view.site, state: "firing" }));
	const res = kpis.data;
	const byId = new Map<string, KpiResult>((res?.kpis ?? []).map((k) => [k.id, k]));
	const label = compareLabel(view);
	const revenue = byId.get("revenue");
	const growthKpi = byId.get(growth);
	const hint = (id: string) => catalog.get(id)?.description;
	// The revenue forecast at the view's grain (months for a quarterly view); not requested for a role that may not see revenue.
	const fGrain: ForecastGrain = view.grain === "day" || view.grain === "week" ? view.grain : "month";
	const forecastSrc = catalog.has("revenue") ? apiUrl("/forecast", { site: view.site, metric: "revenue", grain: fGrain, horizon: String(FORECAST_HORIZON[fGrain]) }) : null;
	// Asked for once the KPIs have answered: fitting the models takes the Worker a second or two of CPU, which
	// would otherwise delay the KPIs (the page's largest paint) queued behind it in the same isolate.
	const kpisSettled = !wanted.length || kpis.data !== null || kpis.error !== null;
	const forecastLoad = useJson<ForecastAnswer>(kpisSettled ? forecastSrc : null);
	const forecast = kpisSettled ? forecastLoad : { data: null, error: null, loading: true };
	const f = forecast.data;
	const trendForecast: TrendForecast | null = f && f.grain === view.grain && f.history.length ? { after: f.history[f.history.length - 1]!.period, points: f.forecast } : null;
	const bandShown = !!trendForecast && !!revenue?.series.some((p) => p.period === trendForecast.after);

	return (
		<div class="page" data-page="executive">
			<h1 class="page-title">
				Executive overview <span class="muted">{rangeText(view.from, view.to, res)}</span>
			</h1>
			<div class="grid">
				{catalog.has("revenue") && (
					<Panel id="revenue" title="Revenue" wide loading={kpis.loading} error={kpis.error}>
						{revenue && res && (
							<>
								<div class="kpis lead">
									<KpiCard kpi={revenue} currency={res.currency} compareLabel={label} hint={hint("revenue")} />
									{growthKpi && <KpiCard kpi={growthKpi} currency={res.currency} compareLabel={label} hint={hint(growth)} />}
									{forecastSrc && <RevenueForecastCard res={forecast} src={forecastSrc} />}
									{revenue.total.target === undefined && (
										<p class="muted small">
											No target for this exact range. Targets (PUT /api/v1/targets) show for a whole month, quarter or year, and per period in the chart.
										</p>
									)}
								</div>
								<KpiTrend kpi={revenue} res={res} view={view} height={220} forecast={trendForecast} />
								{forecastSrc && <ForecastCaption res={forecast} src={forecastSrc} chartGrain={view.grain} shown={bandShown} />}
							</>
						)}
					</Panel>
				)}
				{GROUPS.map((g) => {
					const visible = g.kpis.filter((id) => catalog.has(id));
					if (!visible.length) return null;
					return (
						<Panel id={g.id} key={g.id} title={g.title} loading={kpis.loading} error={kpis.error}>
							{res && (
								<div class="kpis">
									{visible.map((id) => {
										const k = byId.get(id);
										return k ? <KpiCard key={id} kpi={k} currency={res.currency} compareLabel={label} hint={hint(id)} /> : null;
									})}
									{g.id === "customers" && <ChurnRateCard />}
								</div>
							)}
						</Panel>
					);
				})}
				<LifetimeValue />
				<RetentionMini />
				<Panel
					id="alerts"
					title={`Active alerts${alerts.data?.alerts.length ? ` (${alerts.data.alerts.length})` : ""}`}
					wide={(alerts.data?.alerts.length ?? 0) > 0}
					loading={alerts.loading}
					error={alerts.error}
					empty={alerts.data && alerts.data.alerts.length === 0 ? "No alert is firing. Rules: revenue drop, conversion drop, low inventory (GET /api/v1/alerts/rules)." : false}
				>
					{alerts.data && (
						<DataTable
							id="alerts"
							caption="Alerts firing now"
							filename={`alerts_${view.site}_firing.csv`}
							rows={bySeverity(alerts.data.alerts)}
							limit={8}
							columns={[
								{ key: "severity", label: "Severity", value: (a) => a.severity, format: (a) => <span class={`sev sev-${a.severity}`}>{a.severity}</span> },
								{ key: "rule", label: "Rule", value: (a) => a.rule_name },
								{ key: "key", label: "Item", value: (a) => a.label ?? a.key },
								{ key: "value", label: "Value", numeric: true, value: (a) => a.value, format: (a) => formatValue(a.value, unitOf(a, catalog), site.currency) },
								{ key: "limit", label: "Limit", numeric: true, value: (a) => a.limit, format: (a) => formatValue(a.limit, unitOf(a, catalog), site.currency) },
								{ key: "since", label: "Since", value: (a) => new Date(a.started_at).toISOString(), format: (a) => dateTime(a.started_at, site.timezone) },
							]}
						/>
					)}
				</Panel>
			</div>
			{res && (
				<>
					<h2 class="section-title">Trends {res.compare && <span class="muted">vs {label}{res.compare_from ? ` (${res.compare_from} – ${res.compare_to})` : ""}</span>}</h2>
					<div class="grid">
						{GROUPS.flatMap((g) => g.kpis)
							.concat(growthKpi ? [growth] : [])
							.map((id) => byId.get(id))
							.filter((k): k is KpiResult => !!k)
							.map((k) => (
								<Panel id={`trend-${k.id}`} key={k.id} title={k.name} loading={kpis.loading}>
									<KpiTrend kpi={k} res={res} view={view} height={160} />
								</Panel>
							))}
					</div>
				</>
			)}
		</div>
	);
}

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;
/** Most severe first, then newest first. */
function bySeverity(alerts: Alert[]): Alert[] {
	return [...alerts].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.started_at - a.started_at);
}

function unitOf(a: Alert, catalog: Map<string, { unit: string }>): string {
	return catalog.get(a.metric)?.unit ?? (a.metric === "inventory:stock" ? "count" : "");
}

export function rangeText(from: string, to: string, res: KpiResponse | null): string {
	return `${from} – ${to}${res ? ` · ${res.timezone}` : ""}`;
}

/** Total and mean expected customer value of the next 12 months (GET /clv/customers); not for the operations role. */
function LifetimeValue() {
	const { view, site, role } = useApp();
	const strategic = role !== "operations";
	const src = apiUrl("/clv/customers", { site: view.site, limit: "1" });
	const res = useAnalyticsJson<ClvCustomers>(strategic ? src : null);
	if (!strategic) return null;
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const scored = d ? d.distribution.reduce((n, b) => n + b.customers, 0) : 0;
	const none = isNoResults(res.error);
	return (
		<Panel
			id="clv"
			title="Customer lifetime value"
			{...states(res, d && scored === 0 ? "No customer to score yet (the model needs ten customers and a repeat purchase)." : false)}
			actions={<AsOf day={d?.as_of} />}
			note={
				none ? (
					role === "admin" ? <RunNightly /> : "The analytics run nightly after 03:00."
				) : d ? (
					<>
						Expected value of the next 12 months per customer, discounted, at gross margin. <a href={pageUrl("/customers", view)}>Customers and segments</a>
					</>
				) : undefined
			}
		>
			{d && scored > 0 && (
				<div class="kpis">
					<Stat label="Total expected value" value={d.total_clv} text={money(d.total_clv, cur)} src={src} path="total_clv" />
					<div class="kpi">
						<span class="kpi-name" title={`Total ÷ ${count(scored)} customers scored`}>
							Mean per customer
						</span>
						<b class="kpi-value" data-derived="clv_mean" data-value={String(d.total_clv / scored)}>
							{money(d.total_clv / scored, cur)}
						</b>
						<span class="muted small">{count(scored)} customers</span>
					</div>
				</div>
			)}
		</Panel>
	);
}

/** The last six monthly cohorts over their first six months (GET /cohorts/retention?grain=month). */
function RetentionMini() {
	const { view, site, role } = useApp();
	const src = apiUrl("/cohorts/retention", { site: view.site, grain: "month" });
	const res = useAnalyticsJson<RetentionAnswer>(src);
	const d = res.data;
	const all = d?.result.cohorts ?? [];
	const rows = all.slice(-6).map((c) => ({ c, i: all.indexOf(c) }));
	const top = Math.max(0.01, ...rows.flatMap((r) => r.c.periods.filter((p) => p.k > 0 && p.k < 6).map((p) => p.pct)));
	const none = isNoResults(res.error);
	return (
		<Panel
			id="retention-mini"
			title="Retention by monthly cohort"
			{...states(res, d && all.length === 0 ? "No purchase yet." : false)}
			note={
				none ? (
					role === "admin" ? <RunNightly /> : "The analytics run nightly after 03:00."
				) : d ? (
					<>
						Share of each month's new customers buying in later months; * month in progress.{" "}
						{role !== "operations" && <a href={pageUrl("/cohorts", view)}>All cohorts</a>}
					</>
				) : undefined
			}
		>
			{d && rows.length > 0 && (
				<HeatTable
					id="retention-mini"
					caption="Retention of the last six monthly cohorts over their first six months"
					filename={`cohort_retention_last6_${d.site}_${d.as_of}.csv`}
					rows={rows}
					lead={[
						{ key: "cohort", label: "Cohort", value: (r) => r.c.cohort },
						{ key: "size", label: "Customers", numeric: true, value: (r) => r.c.size, format: (r) => count(r.c.size) },
					]}
					columns={Array.from({ length: 6 }, (_, k) => ({ key: String(k), label: `M${k}` }))}
					cell={(r, k) => {
						const p = r.c.periods[k];
						if (!p) return null;
						return {
							shade: k === 0 ? 1 : p.pct / top,
							text: frac(p.pct, site.currency),
							raw: p.pct,
							partial: p.partial,
							title: `${r.c.cohort}, month ${k}: ${count(p.customers)} of ${count(r.c.size)} customers bought${p.partial ? " (month in progress)" : ""}`,
							attrs: { "data-src": src, "data-path": `result.cohorts.${r.i}.periods.${k}.pct`, "data-value": String(p.pct) },
						};
					}}
				/>
			)}
		</Panel>
	);
}
