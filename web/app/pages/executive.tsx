/**
 * Executive dashboard: revenue against target and its growth; customers; orders, AOV, conversion and
 * gross margin; acquisition cost and payback; a trend per KPI with the comparison period overlaid; the
 * alerts firing now. KPIs the reader's role may not see are neither requested nor shown.
 */
import { apiUrl, useJson, type Alert, type KpiResponse, type KpiResult } from "../api";
import { dateTime, formatValue } from "../format";
import { compareLabel, KpiTrend } from "../kpi-view";
import { kpiQuery, useApp } from "../state";
import { DataTable, KpiCard, Panel } from "../ui";

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
									{revenue.total.target === undefined && (
										<p class="muted small">
											No target for this exact range. Targets (PUT /api/v1/targets) show for a whole month, quarter or year, and per period in the chart.
										</p>
									)}
								</div>
								<KpiTrend kpi={revenue} res={res} view={view} height={220} />
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
								</div>
							)}
						</Panel>
					);
				})}
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
