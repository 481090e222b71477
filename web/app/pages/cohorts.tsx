/**
 * Cohorts (GET /api/v1/cohorts/{retention,revenue,channel,product}, from the latest nightly run):
 * customers grouped by the month or ISO week of their first purchase — the share who bought again in
 * each later period (a heat-map triangle, the period in progress marked), cumulative revenue per
 * customer by periods since the first purchase (uPlot curves and a table), retention by acquisition
 * channel (cohort-size-weighted, complete periods only) and category adoption after the first purchase.
 * Grain (month | week) and whether only the cohorts starting in the view's range are shown live in the URL.
 */
import { useMemo } from "preact/hooks";
import { apiUrl, type AdoptionAnswer, type ChannelAnswer, type Cohort, type CohortGrain, type Loadable, type RetentionAnswer } from "../api";
import { AsOf, frac, HeatLegend, HeatTable, isNoResults, NightlyEmpty, states, Toggle, useAnalyticsJson, type HeatCell } from "../analytics-ui";
import { Chart, type ChartSeries } from "../chart";
import { count, minorPerMajor, money, words } from "../format";
import { useApp } from "../state";
import { Panel } from "../ui";

const GRAINS = [
	{ id: "month", label: "Monthly" },
	{ id: "week", label: "Weekly" },
] as const;
const SCOPES = [
	{ id: "all", label: "All cohorts" },
	{ id: "range", label: "First purchase in the range" },
] as const;
const STYLES = ["line", "dash", "dot"] as const;

export default function Cohorts() {
	const { view, params, setParams } = useApp();
	const grain: CohortGrain = params.cohort_grain === "week" ? "week" : "month";
	const scope = params.cohorts === "range" ? "range" : "all";
	const q = { site: view.site, grain, ...(scope === "range" ? { from: view.from, to: view.to } : {}) };
	const retentionSrc = apiUrl("/cohorts/retention", q);
	const retention = useAnalyticsJson<RetentionAnswer>(retentionSrc);
	const none = isNoResults(retention.error);
	const revenueSrc = apiUrl("/cohorts/revenue", q);
	const revenue = useAnalyticsJson<RetentionAnswer>(none ? null : revenueSrc);
	const channelSrc = apiUrl("/cohorts/channel", q);
	const channel = useAnalyticsJson<ChannelAnswer>(none ? null : channelSrc);
	const productSrc = apiUrl("/cohorts/product", { site: view.site });
	const product = useAnalyticsJson<AdoptionAnswer>(none ? null : productSrc);

	return (
		<div class="page" data-page="cohorts">
			<h1 class="page-title">
				Cohorts <span class="muted">by {grain === "month" ? "month" : "ISO week"} of the first purchase{scope === "range" ? ` · ${view.from} – ${view.to}` : ""}</span>
			</h1>
			{none ? (
				<div class="grid two">
					<NightlyEmpty id="cohorts" title="Cohorts" />
				</div>
			) : (
				<>
					<div class="toolbar page-toolbar">
						<Toggle name="cohort_grain" label="Cohorts by" options={GRAINS} value={grain} onChange={(g) => setParams({ cohort_grain: g === "month" ? null : g })} />
						<Toggle name="cohorts" label="Show" options={SCOPES} value={scope} onChange={(s) => setParams({ cohorts: s === "all" ? null : s })} />
						<AsOf day={retention.data?.as_of} />
					</div>
					<div class="grid two">
						<Retention res={retention} src={retentionSrc} grain={grain} />
						<Revenue res={revenue} src={revenueSrc} grain={grain} />
						<Channels res={channel} src={channelSrc} grain={grain} />
						<Adoption res={product} src={productSrc} />
					</div>
				</>
			)}
		</div>
	);
}

const periodLabel = (grain: CohortGrain, k: number) => `${grain === "month" ? "M" : "W"}${k}`;
const periodWords = (grain: CohortGrain, k: number) => `${grain} ${k}`;
const cohortEmpty = (cohorts: unknown[] | undefined) => (cohorts && cohorts.length === 0 ? "No customer made a first purchase in these periods." : false);

/** Size-weighted mean retention and cumulative revenue per customer by k over the cohorts that observed k in full. */
function weighted(cohorts: Cohort[]) {
	const byK: { size: number; buyers: number; revenue: number }[] = [];
	for (const c of cohorts) {
		let cumulative = 0;
		for (const p of c.periods) {
			cumulative += p.revenueMinor;
			if (p.partial) continue;
			const acc = (byK[p.k] ??= { size: 0, buyers: 0, revenue: 0 });
			acc.size += c.size;
			acc.buyers += p.customers;
			acc.revenue += cumulative;
		}
	}
	return Array.from(byK, (a) => (a ? { pct: a.buyers / a.size, revenuePerCustomerMinor: a.revenue / a.size, size: a.size } : null));
}

type Row = { kind: "cohort"; c: Cohort; i: number } | { kind: "all"; byK: ReturnType<typeof weighted>; size: number };

// ─── retention ───────────────────────────────────────────────────────────────────────────────────

function Retention({ res, src, grain }: { res: Loadable<RetentionAnswer>; src: string; grain: CohortGrain }) {
	const { site } = useApp();
	const d = res.data;
	const cohorts = d?.result.cohorts;
	const model = useMemo(() => {
		if (!cohorts?.length) return null;
		const periods = Math.max(...cohorts.map((c) => c.periods.length));
		// The shade's top: the best retention after the first period (period 0 is 100 % by definition).
		const top = Math.max(0.01, ...cohorts.flatMap((c) => c.periods.filter((p) => p.k > 0).map((p) => p.pct)));
		const rows: Row[] = [...cohorts.map((c, i): Row => ({ kind: "cohort", c, i })), { kind: "all", byK: weighted(cohorts), size: cohorts.reduce((n, c) => n + c.size, 0) }];
		return { periods, top, rows };
	}, [cohorts]);
	const cur = d?.currency ?? site.currency;
	const cell = (r: Row, k: number): HeatCell | null => {
		if (!model) return null;
		if (r.kind === "all") {
			const w = r.byK[k];
			return w ? { shade: k === 0 ? 1 : w.pct / model.top, text: frac(w.pct, cur), raw: w.pct, title: `All cohorts, ${periodWords(grain, k)}: ${frac(w.pct, cur)} (size-weighted, cohorts that saw it in full)` } : null;
		}
		const p = r.c.periods[k];
		if (!p) return null;
		return {
			shade: k === 0 ? 1 : p.pct / model.top,
			text: frac(p.pct, cur),
			raw: p.pct,
			partial: p.partial,
			title: `${r.c.cohort}, ${periodWords(grain, k)}: ${count(p.customers)} of ${count(r.c.size)} customers bought (${frac(p.pct, cur)})${p.partial ? "; the period is still in progress" : ""}`,
			attrs: { "data-src": src, "data-path": `result.cohorts.${r.i}.periods.${k}.pct`, "data-value": String(p.pct), "data-cohort": r.c.cohort, "data-k": String(k) },
		};
	};
	return (
		<Panel
			id="retention"
			title="Retention"
			wide
			{...states(res, cohortEmpty(cohorts))}
			note={`Share of each cohort (customers by the ${grain} of their first purchase) who bought in each later ${grain}; ${periodLabel(grain, 0)} is the first purchase's ${grain}. “All cohorts”: size-weighted over complete periods.`}
		>
			{d && model && (
				<>
					<HeatTable
						id="retention"
						caption={`Retention by ${grain} cohort and ${grain}s since the first purchase`}
						filename={`cohort_retention_${d.site}_${d.as_of}_${grain}.csv`}
						rows={model.rows}
						lead={[
							{ key: "cohort", label: "Cohort", value: (r) => (r.kind === "all" ? "all" : r.c.cohort), format: (r) => (r.kind === "all" ? <b>All cohorts</b> : <span title={`from ${r.c.start}`}>{r.c.cohort}</span>) },
							{
								key: "size",
								label: "Customers",
								numeric: true,
								value: (r) => (r.kind === "all" ? r.size : r.c.size),
								format: (r) =>
									r.kind === "all" ? (
										count(r.size)
									) : (
										<span data-src={src} data-path={`result.cohorts.${r.i}.size`} data-value={String(r.c.size)}>
											{count(r.c.size)}
										</span>
									),
							},
						]}
						columns={Array.from({ length: model.periods }, (_, k) => ({ key: String(k), label: periodLabel(grain, k) }))}
						cell={cell}
						limit={grain === "week" ? { rows: 27, cols: 27, lastRows: true } : { rows: 25, cols: 25, lastRows: true }}
					/>
					<HeatLegend from="0 %" to={`${frac(model.top, cur)} or more`} partial />
				</>
			)}
		</Panel>
	);
}

// ─── revenue ─────────────────────────────────────────────────────────────────────────────────────

function Revenue({ res, src, grain }: { res: Loadable<RetentionAnswer>; src: string; grain: CohortGrain }) {
	const { site } = useApp();
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const scale = minorPerMajor(cur);
	const cohorts = d?.result.cohorts;
	const model = useMemo(() => {
		if (!cohorts?.length) return null;
		const periods = Math.max(...cohorts.map((c) => c.periods.length));
		const labels = Array.from({ length: periods }, (_, k) => periodLabel(grain, k));
		// Six cohorts spread from the oldest to the newest with a complete period: curves of every length.
		const complete = cohorts.filter((c) => c.periods.some((p) => !p.partial));
		const picks = complete.length <= 6 ? complete : [...new Set(Array.from({ length: 6 }, (_, n) => complete[Math.round((n * (complete.length - 1)) / 5)] as Cohort))];
		const series: ChartSeries[] = [
			...picks.map((c, n): ChartSeries => ({
				label: c.cohort,
				// The period in progress is left out: its revenue is still growing.
				values: labels.map((_, k) => {
					const p = c.periods[k];
					return p && !p.partial ? p.cumulativeRevenuePerCustomerMinor / scale : null;
				}),
				style: STYLES[n % STYLES.length],
				color: n,
			})),
		];
		const top = Math.max(1, ...cohorts.flatMap((c) => c.periods.map((p) => p.cumulativeRevenuePerCustomerMinor)));
		return { labels, series, top, periods, rows: cohorts.map((c, i) => ({ c, i })) };
	}, [cohorts, grain, scale]);
	return (
		<Panel
			id="cohort-revenue"
			title="Cumulative revenue per customer"
			wide
			{...states(res, cohortEmpty(cohorts))}
			note={`Net revenue (after tax and refunds) of the cohort's orders up to each ${grain}, per cohort customer, in ${cur}. The chart shows six cohorts from the oldest to the newest (all are in the table); periods in progress are left out of it.`}
		>
			{d && model && (
				<>
					<Chart id="cohort-revenue" title={`Cumulative revenue per customer by ${grain}s since the first purchase`} labels={model.labels} series={model.series} unit="currency" currency={cur} filename={`cohort_revenue_chart_${d.site}_${d.as_of}_${grain}.csv`} height={220} />
					<HeatTable
						id="cohort-revenue"
						caption={`Cumulative revenue per customer (${cur}) by cohort and ${grain}s since the first purchase`}
						filename={`cohort_revenue_${d.site}_${d.as_of}_${grain}.csv`}
						rows={model.rows}
						lead={[
							{ key: "cohort", label: "Cohort", value: (r) => r.c.cohort },
							{ key: "size", label: "Customers", numeric: true, value: (r) => r.c.size, format: (r) => count(r.c.size) },
						]}
						columns={Array.from({ length: model.periods }, (_, k) => ({ key: String(k), label: periodLabel(grain, k), csv: `${periodLabel(grain, k)} (${cur})` }))}
						cell={(r, k) => {
							const p = r.c.periods[k];
							if (!p) return null;
							const v = p.cumulativeRevenuePerCustomerMinor;
							return {
								shade: Math.max(0, v) / model.top,
								text: money(v / scale, cur),
								raw: v / scale,
								partial: p.partial,
								title: `${r.c.cohort}, up to ${periodWords(grain, k)}: ${money(v / scale, cur)} per customer${p.partial ? " so far (the period is still in progress)" : ""}`,
								attrs: { "data-src": src, "data-path": `result.cohorts.${r.i}.periods.${k}.cumulativeRevenuePerCustomerMinor`, "data-value": String(v) },
							};
						}}
						limit={grain === "week" ? { rows: 26, cols: 27, lastRows: true } : { rows: 24, cols: 25, lastRows: true }}
					/>
					<HeatLegend from={money(0, cur)} to={money(model.top / scale, cur)} partial />
				</>
			)}
		</Panel>
	);
}

// ─── channels ────────────────────────────────────────────────────────────────────────────────────

function Channels({ res, src, grain }: { res: Loadable<ChannelAnswer>; src: string; grain: CohortGrain }) {
	const { site } = useApp();
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const channels = d?.result.channels;
	const model = useMemo(() => {
		if (!channels?.length) return null;
		const periods = Math.max(0, ...channels.flatMap((c) => c.periods.map((p) => p.k + 1)));
		const labels = Array.from({ length: periods }, (_, k) => periodLabel(grain, k));
		// k = 0 is 100 % for every channel: the chart starts at k = 1.
		const shown = channels.slice(0, 6);
		const series: ChartSeries[] = shown.map((c, n) => ({
			label: words(c.channel),
			values: labels.slice(1).map((_, k) => {
				const p = c.periods.find((x) => x.k === k + 1);
				return p ? p.pct * 100 : null;
			}),
			style: STYLES[n % STYLES.length],
			color: n,
		}));
		const top = Math.max(0.01, ...channels.flatMap((c) => c.periods.filter((p) => p.k > 0).map((p) => p.pct)));
		return { labels, series, periods, top, rows: channels.map((c, i) => ({ c, i })) };
	}, [channels, grain]);
	return (
		<Panel
			id="cohort-channels"
			title="Retention by acquisition channel"
			wide
			{...states(res, channels && channels.length === 0 ? "No customer made a first purchase in these periods." : false)}
			note={`The channel of each customer's first order. Per ${grain} since the first purchase: buyers ÷ customers over the cohorts that observed that ${grain} in full (size-weighted).`}
		>
			{d && model && (
				<>
					{model.periods > 1 && <Chart id="cohort-channels" title={`Retention by channel and ${grain}s since the first purchase`} labels={model.labels.slice(1)} series={model.series} unit="percent" currency={cur} filename={`cohort_channels_chart_${d.site}_${d.as_of}_${grain}.csv`} height={200} />}
					<HeatTable
						id="cohort-channels"
						caption={`Weighted retention by acquisition channel and ${grain}s since the first purchase`}
						filename={`cohort_channels_${d.site}_${d.as_of}_${grain}.csv`}
						rows={model.rows}
						lead={[
							{ key: "channel", label: "Channel", value: (r) => r.c.channel, format: (r) => words(r.c.channel) },
							{ key: "customers", label: "Customers", numeric: true, value: (r) => r.c.customers, format: (r) => count(r.c.customers) },
						]}
						columns={Array.from({ length: model.periods }, (_, k) => ({ key: String(k), label: periodLabel(grain, k) }))}
						cell={(r, k) => {
							const j = r.c.periods.findIndex((p) => p.k === k);
							const p = r.c.periods[j];
							if (!p) return null;
							return {
								shade: k === 0 ? 1 : p.pct / model.top,
								text: frac(p.pct, cur),
								raw: p.pct,
								title: `${words(r.c.channel)}, ${periodWords(grain, k)}: ${count(p.retained)} of ${count(p.customers)} customers in ${count(p.cohorts)} cohorts (${frac(p.pct, cur)})`,
								attrs: { "data-src": src, "data-path": `result.channels.${r.i}.periods.${j}.pct`, "data-value": String(p.pct) },
							};
						}}
						limit={{ cols: grain === "week" ? 27 : 25 }}
					/>
					<HeatLegend from="0 %" to={`${frac(model.top, cur)} or more`} />
				</>
			)}
		</Panel>
	);
}

// ─── product adoption ────────────────────────────────────────────────────────────────────────────

function Adoption({ res, src }: { res: Loadable<AdoptionAnswer>; src: string }) {
	const { site } = useApp();
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const a = d?.result;
	const top = useMemo(() => Math.max(0.01, ...(a?.rows.flatMap((r) => r.adopted.map((x) => x.share ?? 0)) ?? [])), [a]);
	return (
		<Panel
			id="adoption"
			title="Product adoption"
			wide
			{...states(res, a && a.rows.length === 0 ? "No categorised purchase yet." : false)}
			note="Rows: a category of the customer's first purchase; columns: the share of those customers who bought that other category in a later order. A first purchase with several categories counts in each of their rows."
		>
			{d && a && a.rows.length > 0 && (
				<>
					<HeatTable
						id="adoption"
						caption="Share of customers adopting another category after their first purchase"
						filename={`cohort_product_adoption_${d.site}_${d.as_of}.csv`}
						rows={a.rows.map((r, i) => ({ r, i }))}
						lead={[
							{ key: "first", label: "First purchase → later", value: (x) => x.r.category, format: (x) => words(x.r.category) },
							{ key: "customers", label: "Customers", numeric: true, value: (x) => x.r.customers, format: (x) => count(x.r.customers) },
						]}
						columns={a.categories.map((c) => ({ key: c, label: words(c) }))}
						blank="–"
						cell={(x, j) => {
							const cat = a.categories[j];
							const n = x.r.adopted.findIndex((y) => y.category === cat);
							const y = x.r.adopted[n];
							if (!y || y.share === null) return null;
							return {
								shade: y.share / top,
								text: frac(y.share, cur),
								raw: y.share,
								title: `${count(y.customers)} of ${count(x.r.customers)} customers whose first purchase included ${words(x.r.category)} later bought ${words(y.category)} (${frac(y.share, cur)})`,
								attrs: { "data-src": src, "data-path": `result.rows.${x.i}.adopted.${n}.share`, "data-value": String(y.share) },
							};
						}}
					/>
					<HeatLegend from="0 %" to={`${frac(top, cur)} or more`} />
				</>
			)}
		</Panel>
	);
}
