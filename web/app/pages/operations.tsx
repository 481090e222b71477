/**
 * Operational dashboard: the live panel (WebSocket), the conversion funnel with its drop-offs, top
 * products, channel performance, customer support, and the financials (daily revenue, a month-end
 * projection from the daily forecast — a run rate only when the forecast refuses — margin, cash flow). Panels whose KPIs the reader's role may not see are left out.
 */
import { useMemo } from "preact/hooks";
import { apiUrl, useJson, type FunnelReport, type KpiResponse, type KpiResult } from "../api";
import { Chart, type ChartSeries } from "../chart";
import { count, formatValue, moneyMinor, timeOfDay } from "../format";
import { compareLabel, KpiTrend, periodDetail } from "../kpi-view";
import { useLive } from "../live";
import { LOCALE } from "../locale";
import { addDays, daysBetween, kpiQuery, today, useApp, type View } from "../state";
import { DataTable, Delta, KpiCard, Panel } from "../ui";
import { Src } from "../analytics-ui";
import { refusal, type ProjectionAnswer } from "../predict";

export default function Operations() {
	return (
		<div class="page" data-page="operations">
			<h1 class="page-title">Operations</h1>
			<div class="grid two">
				<LivePanel />
				<Financials />
				<FunnelPanel />
				<SupportPanel />
				<TopProducts />
				<Channels />
			</div>
		</div>
	);
}

// ─── live ────────────────────────────────────────────────────────────────────────────────────────

function LivePanel() {
	const { site } = useApp();
	const { snapshot: s, status, updatedAt } = useLive(site.id);
	const minutes = s?.minutes;
	const chart = useMemo(() => {
		if (!minutes) return null;
		const series: ChartSeries[] = [
			{ label: "Page views", values: minutes.map((m) => m.pageViews) },
			{ label: "Orders", values: minutes.map((m) => m.orders), color: 1 },
		];
		return { labels: minutes.map((m) => timeOfDay(m.minute, site.timezone)), series };
	}, [minutes, site.timezone]);
	const statusText = status === "live" ? `Live · updated ${updatedAt ? new Date(updatedAt).toLocaleTimeString(LOCALE) : ""}` : status === "connecting" ? "Connecting…" : "Reconnecting…";
	return (
		<Panel
			id="live"
			title="Right now"
			wide
			loading={!s}
			actions={
				<span class={`live-status ${status}`} role="status" data-live-status={status}>
					<span class="dot" aria-hidden="true" /> {statusText}
				</span>
			}
		>
			{s && (
				<>
					<div class="kpis">
						<LiveStat id="active_users" label="Active visitors (5 min)" value={s.visitorsNow} text={count(s.visitorsNow)} />
						<LiveStat id="sales_today" label={`Revenue today (${s.day})`} value={s.salesToday.revenue} text={moneyMinor(s.salesToday.revenue, s.currency)} note={`${count(s.salesToday.orders)} orders from every channel`} />
						<LiveStat id="revenue_today" label="Tracked purchases today" value={s.windows.today.revenue} text={moneyMinor(s.windows.today.revenue, s.currency)} note="checkouts seen by the tracker, to the second" />
						<LiveStat id="orders_today" label="Tracked orders today" value={s.windows.today.orders} text={count(s.windows.today.orders)} />
						<LiveStat id="pending_fulfilment" label="Orders pending fulfilment" value={s.fulfilment.pending} text={count(s.fulfilment.pending)} note={s.fulfilment.oldestPlacedAt ? `oldest placed ${timeOfDay(s.fulfilment.oldestPlacedAt, s.timezone)}` : undefined} />
						<LiveStat id="inventory_alerts" label="Inventory alerts" value={s.lowStock.count} text={count(s.lowStock.count)} note="SKUs below reorder point" />
					</div>
					{chart && (
						<Chart id="live-minutes" title="Page views and orders per minute, last hour" labels={chart.labels} series={chart.series} unit="count" currency={s.currency} filename={`live_${s.site}_minutes.csv`} height={150} />
					)}
					<div class="split">
						<div>
							<h3>Low stock</h3>
							{s.lowStock.items.length ? (
								<DataTable
									id="low-stock"
									caption="SKUs below their reorder point"
									filename={`low_stock_${s.site}.csv`}
									rows={s.lowStock.items}
									limit={8}
									columns={[
										{ key: "sku", label: "SKU", value: (r) => r.sku },
										{ key: "stock", label: "Stock", numeric: true, value: (r) => r.stock, format: (r) => count(r.stock) },
										{ key: "reorder", label: "Reorder point", numeric: true, value: (r) => r.reorderPoint, format: (r) => count(r.reorderPoint) },
									]}
								/>
							) : (
								<p class="msg">Every SKU is above its reorder point.</p>
							)}
						</div>
						<div>
							<h3>Top products, last 60 minutes</h3>
							{s.topProducts.m60.length ? (
								<DataTable
									id="live-products"
									caption="Products by units bought in the last 60 minutes"
									filename={`live_products_${s.site}.csv`}
									rows={s.topProducts.m60}
									columns={[
										{ key: "sku", label: "SKU", value: (r) => r.sku },
										{ key: "units", label: "Units bought", numeric: true, value: (r) => r.units, format: (r) => count(r.units) },
										{ key: "carts", label: "Carts", numeric: true, value: (r) => r.carts, format: (r) => count(r.carts) },
										{ key: "views", label: "Views", numeric: true, value: (r) => r.views, format: (r) => count(r.views) },
									]}
								/>
							) : (
								<p class="msg">No product activity in the last hour.</p>
							)}
						</div>
					</div>
				</>
			)}
		</Panel>
	);
}

function LiveStat({ id, label, value, text, note }: { id: string; label: string; value: number; text: string; note?: string | undefined }) {
	return (
		<div class="kpi">
			<span class="kpi-name">{label}</span>
			<b class="kpi-value" data-live={id} data-value={String(value)} aria-live="polite">
				{text}
			</b>
			{note && <span class="muted small">{note}</span>}
		</div>
	);
}

// ─── financials ──────────────────────────────────────────────────────────────────────────────────

const FIN_KPIS = ["revenue", "net_revenue", "gross_profit", "gross_margin", "marketing_spend", "cogs", "refunds"];

function Financials() {
	const { view, catalog, site } = useApp();
	const ids = FIN_KPIS.filter((id) => catalog.has(id));
	const res = useJson<KpiResponse>(ids.length ? apiUrl("/kpis", kpiQuery(view, ids)) : null);
	// Month-end projection: month-to-date actual + the daily forecast of the days left, with the interval of
	// their sum (GET /forecast/projection). Only when the forecast refuses (too short a history) does the
	// card fall back to the run rate: the complete days' daily average over the whole month.
	const projectionSrc = catalog.has("revenue") ? apiUrl("/forecast/projection", { site: site.id, metric: "revenue", period: "month" }) : null;
	const projection = useJson<ProjectionAnswer>(projectionSrc);
	const refused = refusal(projection.error);
	const t = today(site.timezone);
	const monthStart = `${t.slice(0, 8)}01`;
	const yesterday = addDays(t, -1);
	const mtdQuery = refused && catalog.has("revenue") && yesterday >= monthStart ? apiUrl("/kpis", { site: site.id, ids: "revenue", from: monthStart, to: yesterday, grain: "month" }) : null;
	const mtd = useJson<KpiResponse>(mtdQuery);
	const k = new Map<string, KpiResult>((res.data?.kpis ?? []).map((x) => [x.id, x]));
	const revenue = k.get("revenue");
	const cash = useMemo(() => {
		const r = res.data;
		const rev = r?.kpis.find((x) => x.id === "revenue");
		const cogsK = r?.kpis.find((x) => x.id === "cogs");
		const refundsK = r?.kpis.find((x) => x.id === "refunds");
		const spend = r?.kpis.find((x) => x.id === "marketing_spend");
		if (!r || !rev || !cogsK || !refundsK) return null;
		return rev.series.map((p, i) => {
			const refunds = refundsK.series[i]?.value ?? null;
			const cogs = cogsK.series[i]?.value ?? null;
			const marketing = spend ? (spend.series[i]?.value ?? null) : undefined;
			const outflow = (cogs ?? 0) + (refunds ?? 0) + (marketing ?? 0);
			return { period: p, revenue: p.value, cogs, refunds, marketing, net: p.value === null ? null : p.value - outflow };
		});
	}, [res.data]);
	const cashChart = useMemo(() => {
		if (!cash) return null;
		const series: ChartSeries[] = [
			{ label: "Revenue in", values: cash.map((c) => c.revenue) },
			{ label: "COGS out", values: cash.map((c) => c.cogs), color: 1 },
			{ label: "Refunds out", values: cash.map((c) => c.refunds), color: 3 },
		];
		if (cash[0]?.marketing !== undefined) series.push({ label: "Marketing out", values: cash.map((c) => c.marketing ?? null), color: 4 });
		return { labels: cash.map((c) => c.period.period), series };
	}, [cash]);
	if (!ids.length) return null;

	const mtdRevenue = mtd.data?.kpis[0]?.total.value ?? null;
	const daysDone = daysBetween(monthStart, yesterday) + 1;
	const daysInMonth = new Date(Date.UTC(Number(t.slice(0, 4)), Number(t.slice(5, 7)), 0)).getUTCDate();
	const runRate = mtdRevenue === null ? null : (mtdRevenue / daysDone) * daysInMonth;
	const label = compareLabel(view);
	const cur = res.data?.currency ?? site.currency;

	return (
		<Panel id="financials" title="Financials" wide loading={res.loading} error={res.error}>
			{res.data && (
				<>
					<div class="kpis">
						{revenue && <KpiCard kpi={revenue} currency={cur} compareLabel={label} />}
						{projectionSrc && projection.data && <MonthEndProjection p={projection.data} src={projectionSrc} />}
						{projectionSrc && projection.loading && (
							<div class="kpi">
								<span class="kpi-name">Month-end projection ({monthStart.slice(0, 7)})</span>
								<b class="kpi-value">…</b>
							</div>
						)}
						{projectionSrc && projection.error && !refused && (
							<div class="kpi">
								<span class="kpi-name">Month-end projection ({monthStart.slice(0, 7)})</span>
								<span class="muted small">Could not load the projection: {projection.error.message}</span>
							</div>
						)}
						{refused && (
							<div class="kpi" data-kpi-card="month_end_projection" data-projection="run-rate">
								<span class="kpi-name" title="Revenue of the month's complete days ÷ those days × days in the month">
									Month-end projection ({monthStart.slice(0, 7)}), run rate
								</span>
								{mtdQuery ? (
									<>
										<b class="kpi-value" data-kpi="month_end_projection" data-value={runRate === null ? "" : String(runRate)}>
											{mtd.loading ? "…" : formatValue(runRate, "currency", cur)}
										</b>
										<span class="muted small" data-kpi="revenue_mtd" data-value={mtdRevenue === null ? "" : String(mtdRevenue)}>
											run rate of {formatValue(mtdRevenue, "currency", cur)} in {daysDone} day{daysDone === 1 ? "" : "s"}
										</span>
									</>
								) : (
									<span class="muted small">No complete day of this month yet.</span>
								)}
								<span class="muted small" data-forecast-refused>
									A run rate, not a forecast: the forecast refused — {refused}
								</span>
							</div>
						)}
						{["gross_margin", "gross_profit", "net_revenue", "marketing_spend"].map((id) => {
							const x = k.get(id);
							return x ? <KpiCard key={id} kpi={x} currency={cur} compareLabel={label} /> : null;
						})}
					</div>
					{revenue && <KpiTrend kpi={revenue} res={res.data} view={view} height={180} />}
					{cash && cashChart && (
						<>
							<h3>Cash flow by {res.data.grain}</h3>
							<Chart id="cash-flow" title="Cash flow" labels={cashChart.labels} detail={(i) => (cash[i] ? periodDetail(cash[i].period) : "")} series={cashChart.series} unit="currency" currency={cur} filename={`cash_flow_${view.from}_${view.to}_${view.grain}.csv`} height={180} />
							<details class="chart-data">
								<summary>Cash flow table</summary>
							<DataTable
								id="cash-flow"
								caption="Cash flow: revenue in, cost of goods, refunds and marketing out"
								filename={`cash_flow_table_${view.from}_${view.to}_${view.grain}.csv`}
								rows={cash}
								columns={[
									{ key: "period", label: "Period", value: (c) => c.period.period },
									{ key: "revenue", label: "Revenue in", numeric: true, value: (c) => c.revenue, format: (c) => formatValue(c.revenue, "currency", cur) },
									{ key: "cogs", label: "COGS", numeric: true, value: (c) => round2(c.cogs), format: (c) => formatValue(c.cogs, "currency", cur) },
									{ key: "refunds", label: "Refunds", numeric: true, value: (c) => round2(c.refunds), format: (c) => formatValue(c.refunds, "currency", cur) },
									...(cash[0]?.marketing !== undefined
										? [{ key: "marketing", label: "Marketing", numeric: true, value: (c: (typeof cash)[number]) => c.marketing ?? null, format: (c: (typeof cash)[number]) => formatValue(c.marketing ?? null, "currency", cur) }]
										: []),
									{ key: "net", label: "Net", numeric: true, value: (c) => round2(c.net), format: (c) => formatValue(c.net, "currency", cur) },
								]}
							/>
							</details>
							<p class="note">COGS covers order lines with a known unit cost; refunds are by the refund's day.</p>
						</>
					)}
				</>
			)}
		</Panel>
	);
}

/** The month-end projection from the daily forecast: actual so far + the forecast total of the days left, with the total's 80%/95% interval. */
function MonthEndProjection({ p, src }: { p: ProjectionAnswer; src: string }) {
	const m = (v: number) => formatValue(v, "currency", p.currency);
	const hint =
		"Revenue of the month's complete days plus the daily forecast summed over the days left (today included). The interval is that of the sum: the days' forecast errors are correlated, so it is not the days' intervals added up.";
	return (
		<div class="kpi" data-kpi-card="month_end_projection" data-projection="forecast">
			<span class="kpi-name" title={hint}>
				Month-end projection ({p.period})
			</span>
			<b class="kpi-value" data-src={src} data-path="projection.mean" data-value={String(p.projection.mean)}>
				{m(p.projection.mean)}
			</b>
			<span class="muted small">
				80%:{" "}
				<Src src={src} path="projection.lower80" value={p.projection.lower80}>
					{m(p.projection.lower80)}
				</Src>{" "}
				–{" "}
				<Src src={src} path="projection.upper80" value={p.projection.upper80}>
					{m(p.projection.upper80)}
				</Src>
				{" · "}95%:{" "}
				<Src src={src} path="projection.lower95" value={p.projection.lower95}>
					{m(p.projection.lower95)}
				</Src>{" "}
				–{" "}
				<Src src={src} path="projection.upper95" value={p.projection.upper95}>
					{m(p.projection.upper95)}
				</Src>
			</span>
			<span class="muted small">
				<Src src={src} path="actual_to_date" value={p.actual_to_date}>
					{m(p.actual_to_date)}
				</Src>{" "}
				in{" "}
				<Src src={src} path="days_done" value={p.days_done}>
					{p.days_done}
				</Src>{" "}
				complete day{p.days_done === 1 ? "" : "s"} +{" "}
				<Src src={src} path="forecast_rest.mean" value={p.forecast_rest.mean}>
					{m(p.forecast_rest.mean)}
				</Src>{" "}
				forecast for the{" "}
				<Src src={src} path="days_left" value={p.days_left}>
					{p.days_left}
				</Src>{" "}
				left · {p.model.label}
				{p.beats_baseline ? "" : " (does not beat seasonal naive in its backtest)"}
			</span>
		</div>
	);
}

const round2 = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v * 100) / 100);

// ─── funnel ──────────────────────────────────────────────────────────────────────────────────────

/** The funnel report takes at most 366 days: the view's last 366 when it is longer. */
function funnelRange(view: View): { from: string; to: string; clipped: boolean } {
	const from = daysBetween(view.from, view.to) > 365 ? addDays(view.to, -365) : view.from;
	return { from, to: view.to, clipped: from !== view.from };
}

function FunnelPanel() {
	const { view } = useApp();
	const set = useJson<{ funnels: { id: string; name: string }[] }>(apiUrl("/funnels", { site: view.site }));
	const funnel = set.data?.funnels[0];
	const range = funnelRange(view);
	const report = useJson<FunnelReport>(funnel ? apiUrl(`/funnels/${encodeURIComponent(funnel.id)}/report`, { site: view.site, from: range.from, to: range.to }) : null);
	const r = report.data;
	const max = r?.steps[0]?.users ?? 0;
	return (
		<Panel
			id="funnel"
			title={funnel ? `Conversion funnel: ${funnel.name}` : "Conversion funnel"}
			loading={set.loading || report.loading}
			error={set.error ?? report.error}
			empty={r && r.users === 0 ? "Nobody started this funnel in the range." : false}
			note={range.clipped ? `The funnel covers the range's last 366 days (${range.from} – ${range.to}).` : undefined}
		>
			{r && (
				<>
					<p class="funnel-total">
						<b data-kpi="funnel_conversion" data-value={r.conversion_pct === null ? "" : String(r.conversion_pct)}>
							{formatValue(r.conversion_pct, "percent", "EUR")}
						</b>{" "}
						of {count(r.users)} people who started reached the last step
					</p>
					<ol class="funnel" aria-label="People per step">
						{r.steps.map((s, i) => (
							<li key={s.event}>
								<span class="funnel-label">
									{i + 1}. {s.label}
								</span>
								<span class="funnel-bar" style={{ width: `${max ? Math.max(2, (100 * s.users) / max) : 0}%` }} aria-hidden="true" />
								<span class="funnel-num" data-funnel-step={s.event} data-value={String(s.users)}>
									{count(s.users)}
									{s.drop_off_pct !== null && <span class="muted"> · −{formatValue(s.drop_off_pct, "percent", "EUR")} drop-off</span>}
								</span>
							</li>
						))}
					</ol>
					<DataTable
						id="funnel"
						caption="Funnel steps"
						filename={`funnel_${r.funnel.id}_${r.from}_${r.to}.csv`}
						rows={r.steps}
						columns={[
							{ key: "step", label: "Step", value: (s) => s.label },
							{ key: "users", label: "People", numeric: true, value: (s) => s.users, format: (s) => count(s.users) },
							{ key: "conv", label: "From previous", numeric: true, value: (s) => s.conversion_pct, format: (s) => formatValue(s.conversion_pct, "percent", "EUR") },
							{ key: "drop", label: "Drop-off", numeric: true, value: (s) => s.drop_off, format: (s) => count(s.drop_off) },
							{ key: "median", label: "Median time", numeric: true, value: (s) => s.median_seconds_from_previous, format: (s) => duration(s.median_seconds_from_previous) },
						]}
					/>
				</>
			)}
		</Panel>
	);
}

function duration(seconds: number | null): string {
	if (seconds === null) return "–";
	if (seconds < 90) return `${Math.round(seconds)} s`;
	if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
	return `${(seconds / 3600).toFixed(1)} h`;
}

// ─── top products and channels (KPI breakdowns) ──────────────────────────────────────────────────

interface GroupRow {
	key: string;
	values: Map<string, KpiResult["total"]>;
}

/** Breakdown rows: one per group key, with each KPI's total for it. */
function groupRows(res: KpiResponse | null): GroupRow[] {
	const rows = new Map<string, GroupRow>();
	for (const k of res?.kpis ?? []) {
		for (const g of k.groups ?? []) {
			const row = rows.get(g.key) ?? { key: g.key, values: new Map() };
			row.values.set(k.id, g.total);
			rows.set(g.key, row);
		}
	}
	return [...rows.values()];
}

/** Breakdown KPIs this role sees that support `by`; the series are not shown, so the coarsest grain keeps the answer small. */
function useBreakdown(by: string, wanted: string[]) {
	const { view, catalog } = useApp();
	const ids = wanted.filter((id) => catalog.get(id)?.breakdowns.includes(by));
	const res = useJson<KpiResponse>(ids.length ? apiUrl("/kpis", kpiQuery({ ...view, grain: "quarter" }, ids, { by })) : null);
	const rows = useMemo(() => groupRows(res.data), [res.data]);
	return { ids, res, rows };
}

function metricColumn(id: string, label: string, res: KpiResponse | null, currency: string) {
	const unit = res?.kpis.find((k) => k.id === id)?.unit ?? "count";
	return {
		key: id,
		label,
		numeric: true,
		value: (r: GroupRow) => r.values.get(id)?.value ?? null,
		format: (r: GroupRow) => formatValue(r.values.get(id)?.value ?? null, unit, currency),
	};
}

const PRODUCT_KPIS: [string, string][] = [
	["product_revenue", "Revenue"],
	["units_sold", "Units"],
	["product_gross_margin", "Margin"],
	["product_return_rate", "Return rate"],
];

function TopProducts() {
	const { site, view } = useApp();
	const { ids, res, rows } = useBreakdown("product", PRODUCT_KPIS.map(([id]) => id));
	if (!ids.length) return null;
	const rank = ids.includes("product_revenue") ? "product_revenue" : (ids[0] as string);
	const top = rows.filter((r) => (r.values.get(rank)?.value ?? 0) > 0).sort((a, b) => (b.values.get(rank)?.value ?? 0) - (a.values.get(rank)?.value ?? 0)).slice(0, 10);
	const cur = res.data?.currency ?? site.currency;
	const rankKpi = res.data?.kpis.find((k) => k.id === rank);
	return (
		<Panel id="top-products" title="Top products" wide loading={res.loading} error={res.error} empty={res.data && !top.length ? "No product sales in the range." : false}>
			{res.data && top.length > 0 && (
				<DataTable
					id="top-products"
					caption={`Top 10 products by ${rankKpi?.name.toLowerCase() ?? rank}`}
					filename={`top_products_${view.from}_${view.to}.csv`}
					rows={top}
					columns={[
						{ key: "sku", label: "SKU", value: (r) => r.key },
						...PRODUCT_KPIS.filter(([id]) => ids.includes(id)).map(([id, label]) => metricColumn(id, label, res.data, cur)),
						...(view.compare && rankKpi
							? [
									{
										key: "change",
										label: `vs ${compareLabel(view)}`,
										numeric: true,
										value: (r: GroupRow) => r.values.get(rank)?.delta_pct ?? null,
										format: (r: GroupRow) => {
											const p = r.values.get(rank);
											return p ? <Delta point={p} good="up" unit={rankKpi.unit} label={compareLabel(view)} currency={cur} /> : "–";
										},
									},
								]
							: []),
					]}
				/>
			)}
		</Panel>
	);
}

const CHANNEL_KPIS: [string, string][] = [
	["sessions", "Sessions"],
	["revenue", "Revenue"],
	["orders", "Orders"],
	["conversion_rate", "Conversion"],
	["new_customers", "New customers"],
	["marketing_spend", "Spend"],
	["cac", "CAC"],
	["roas", "ROAS"],
];

function Channels() {
	const { site, view } = useApp();
	const { ids, res, rows } = useBreakdown("channel", CHANNEL_KPIS.map(([id]) => id));
	if (!ids.length) return null;
	const sorted = [...rows].sort((a, b) => (b.values.get("revenue")?.value ?? 0) - (a.values.get("revenue")?.value ?? 0));
	const cur = res.data?.currency ?? site.currency;
	return (
		<Panel id="channels" title="Channel performance" wide loading={res.loading} error={res.error} empty={res.data && !sorted.length ? "No channel data in the range." : false}>
			{res.data && sorted.length > 0 && (
				<DataTable
					id="channels"
					caption="Channels by revenue"
					filename={`channels_${view.from}_${view.to}.csv`}
					rows={sorted}
					columns={[{ key: "channel", label: "Channel", value: (r) => r.key }, ...CHANNEL_KPIS.filter(([id]) => ids.includes(id)).map(([id, label]) => metricColumn(id, label, res.data, cur))]}
				/>
			)}
		</Panel>
	);
}

// ─── support ─────────────────────────────────────────────────────────────────────────────────────

const SUPPORT_KPIS = ["tickets_unresolved", "tickets_opened", "ticket_resolution_rate", "ticket_resolution_hours", "csat", "nps"];

function SupportPanel() {
	const { view, catalog } = useApp();
	const ids = SUPPORT_KPIS.filter((id) => catalog.has(id));
	const res = useJson<KpiResponse>(ids.length ? apiUrl("/kpis", kpiQuery(view, ids)) : null);
	if (!ids.length) return null;
	const csat = res.data?.kpis.find((k) => k.id === "csat");
	return (
		<Panel id="support" title="Customer support" loading={res.loading} error={res.error}>
			{res.data && (
				<>
					<div class="kpis">
						{res.data.kpis.map((k) => (
							<KpiCard key={k.id} kpi={k} currency={res.data?.currency ?? "EUR"} compareLabel={compareLabel(view)} hint={catalog.get(k.id)?.description} />
						))}
					</div>
					{csat && <KpiTrend kpi={csat} res={res.data} view={view} height={150} />}
				</>
			)}
		</Panel>
	);
}
