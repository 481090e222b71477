/**
 * The customers page's nightly analytics: RFM segments (sizes, revenue share, what to do, movement
 * between two runs, each segment's customers) from GET /segments…, and customer lifetime value (the
 * CLV distribution, the top customers by expected value, P(alive) by days since the last order and the
 * model's holdout check) from GET /clv/… — the latter only for the strategic roles (the API refuses the
 * operations role, so the section is left out rather than shown failing).
 */
import { Fragment } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiUrl, getJson, type Loadable, type ClvCustomer, type ClvCustomers, type ClvModel, type ClvSort, type RfmSegment, type SegmentCustomer, type SegmentCustomers, type SegmentMovement, type Segments, type SegmentSort } from "./api";
import { AsOf, frac, HeatLegend, HeatTable, isNoResults, NightlyEmpty, segmentName, Src, states, useAnalyticsJson } from "./analytics-ui";
import { Chart } from "./chart";
import { count, decimal, formatValue, money } from "./format";
import { pageUrl, useApp } from "./state";
import { SERIES_COLORS, useTheme } from "./theme";
import { DataTable, Panel, SortSelect, Stat, type Column } from "./ui";

/** Both sections, or one "no run yet" panel when the site has no complete nightly run. */
export function CustomerAnalytics() {
	const { view, role } = useApp();
	const src = apiUrl("/segments", { site: view.site });
	const res = useAnalyticsJson<Segments>(src);
	if (isNoResults(res.error)) {
		return (
			<>
				<h2 class="section-title" id="segments-section">
					Segments and lifetime value
				</h2>
				<div class="grid two">
					<NightlyEmpty id="segments" title="RFM segments" />
				</div>
			</>
		);
	}
	return (
		<>
			<h2 class="section-title" id="segments-section">
				Segments <span class="muted">recency, frequency and monetary value over the {res.data ? count(res.data.window_days) : "365"} days to the last nightly run</span>
			</h2>
			<div class="grid two">
				<SegmentSizes res={res} src={src} />
				<SegmentCustomersPanel segments={res.data?.segments ?? null} />
				<Movement />
			</div>
			{role !== "operations" && (
				<>
					<h2 class="section-title" id="clv-section">
						Lifetime value <span class="muted">expected value of the next 12 months (BG/NBD and Gamma-Gamma)</span>
					</h2>
					<Lifetime />
				</>
			)}
		</>
	);
}

const ranges = (s: RfmSegment) => (s.ranges ? `R ${span(s.ranges.r)} · F ${span(s.ranges.f)} · M ${span(s.ranges.m)}` : "outside the ten boxes");
const span = ([lo, hi]: number[]) => (lo === hi ? String(lo) : `${lo}–${hi}`);

// ─── segment sizes ───────────────────────────────────────────────────────────────────────────────

function SegmentSizes({ res, src }: { res: Loadable<Segments>; src: string }) {
	const { site, setParams } = useApp();
	const theme = useTheme();
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const [cCustomers, cRevenue] = SERIES_COLORS[theme];
	const pick = (name: string) => {
		setParams({ segment: name });
		requestAnimationFrame(() => document.getElementById("segment-customers-title")?.scrollIntoView({ block: "start" }));
	};
	const max = d ? Math.max(0.0001, ...d.segments.flatMap((s) => [s.customer_share ?? 0, s.revenue_share ?? 0])) : 1;
	const columns: Column<RfmSegment>[] = [
		{
			key: "segment",
			label: "Segment",
			value: (s) => s.segment,
			format: (s) =>
				s.customers > 0 ? (
					<button type="button" class="link-button" onClick={() => pick(s.segment)} data-segment={s.segment}>
						{segmentName(s.segment)}
					</button>
				) : (
					segmentName(s.segment)
				),
		},
		{
			key: "customers",
			label: "Customers",
			numeric: true,
			value: (s) => s.customers,
			format: (s) => (
				<Src src={src} path={`segments.${d?.segments.indexOf(s)}.customers`} value={s.customers}>
					{count(s.customers)}
				</Src>
			),
		},
		{ key: "customer_share", label: "Share of customers", numeric: true, value: (s) => s.customer_share, format: (s) => frac(s.customer_share, cur) },
		{ key: "revenue", label: "Revenue", numeric: true, value: (s) => s.revenue, format: (s) => money(s.revenue, cur) },
		{ key: "revenue_share", label: "Share of revenue", numeric: true, value: (s) => s.revenue_share, format: (s) => frac(s.revenue_share, cur) },
		{ key: "aov", label: "Average order value", numeric: true, value: (s) => s.average_order_value, format: (s) => formatValue(s.average_order_value, "currency", cur) },
		{ key: "recency", label: "Mean days since last order", numeric: true, value: (s) => s.mean_recency_days, format: (s) => (s.mean_recency_days === null ? "–" : decimal(s.mean_recency_days, 0)) },
		{ key: "scores", label: "Scores", value: (s) => ranges(s) },
		{ key: "action", label: "What to do", wrap: true, value: (s) => s.action },
	];
	return (
		<Panel
			id="segments"
			title="Segment sizes and revenue"
			wide
			{...states(res, d && d.customers === 0 ? "Nobody ordered in the window: no customer to score." : false)}
			actions={<AsOf day={d?.as_of} />}
			note={
				d ? (
					<>
						<Src src={src} path="customers" value={d.customers}>
							{count(d.customers)}
						</Src>{" "}
						customers scored 1–5 by quintiles of recency, frequency and monetary value (net of tax and refunds); a customer gets the first segment whose score box holds them. Pick a segment for its customers.
					</>
				) : undefined
			}
		>
			{d && d.customers > 0 && (
				<>
					<ul class="legend-inline">
						<li>
							<i style={{ background: cCustomers }} />
							Share of customers
						</li>
						<li>
							<i class="hatch" style={{ backgroundColor: cRevenue }} />
							Share of revenue
						</li>
					</ul>
					<ul class="seg-bars" aria-label="Share of customers and of revenue per segment">
						{d.segments.map((s) => (
							<li key={s.segment}>
								<span>{segmentName(s.segment)}</span>
								<span class="bars">
									<span class="bar">
										<i style={{ width: `${(100 * (s.customer_share ?? 0)) / max}%`, backgroundColor: cCustomers }} />
										<span>{frac(s.customer_share, cur)} of customers</span>
									</span>
									<span class="bar rev">
										<i style={{ width: `${(100 * Math.max(0, s.revenue_share ?? 0)) / max}%`, backgroundColor: cRevenue }} />
										<span>{frac(s.revenue_share, cur)} of revenue</span>
									</span>
								</span>
							</li>
						))}
					</ul>
					<DataTable id="segments" caption="RFM segments: customers, revenue and what to do" filename={`segments_${d.site}_${d.as_of}.csv`} rows={d.segments} columns={columns} />
					{/* On a phone the table's "What to do" column is hidden (it would make every row a tower); the same text as a list. */}
					<dl class="seg-actions">
						{d.segments.map((s) => (
							<Fragment key={s.segment}>
								<dt>{segmentName(s.segment)}</dt>
								<dd>{s.action}</dd>
							</Fragment>
						))}
					</dl>
				</>
			)}
		</Panel>
	);
}

// ─── a segment's customers ───────────────────────────────────────────────────────────────────────

const SEG_SORTS: { id: SegmentSort; label: string }[] = [
	{ id: "monetary", label: "Revenue in the window" },
	{ id: "recency", label: "Most recent" },
	{ id: "frequency", label: "Orders" },
	{ id: "customer", label: "Customer id" },
];
const PAGE_SIZE = 25;

function SegmentCustomersPanel({ segments }: { segments: RfmSegment[] | null }) {
	const { view, site, params, setParams } = useApp();
	const chosen = segments?.find((s) => s.segment === params.segment) ?? segments?.find((s) => s.customers > 0) ?? null;
	const name = chosen?.segment ?? null;
	const sort: SegmentSort = SEG_SORTS.some((s) => s.id === params.seg_sort) ? (params.seg_sort as SegmentSort) : "monetary";
	const query = (extra: Record<string, string> = {}) => apiUrl(`/segments/${encodeURIComponent(name ?? "")}/customers`, { site: view.site, sort, limit: String(PAGE_SIZE), ...extra });
	const src = name ? query() : null;
	const first = useAnalyticsJson<SegmentCustomers>(src);
	const [more, setMore] = useState<{ src: string; rows: SegmentCustomer[]; next: string | null; loading: boolean; error: Error | null } | null>(null);
	useEffect(() => setMore(null), [src]);
	const extra = more && more.src === src ? more : null;
	const rows = first.data ? [...first.data.customers, ...(extra?.rows ?? [])] : [];
	const next = extra ? extra.next : (first.data?.next_cursor ?? null);
	const loadMore = async () => {
		if (!next || !src) return;
		setMore({ src, rows: extra?.rows ?? [], next, loading: true, error: null });
		try {
			const page = await getJson<SegmentCustomers>(query({ cursor: next }));
			setMore({ src, rows: [...(extra?.rows ?? []), ...page.customers], next: page.next_cursor, loading: false, error: null });
		} catch (error) {
			setMore({ src, rows: extra?.rows ?? [], next, loading: false, error: error instanceof Error ? error : new Error(String(error)) });
		}
	};
	const columns: Column<SegmentCustomer>[] = [
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
		{ key: "recency", label: "Days since last order", numeric: true, value: (c) => c.recency_days, format: (c) => count(c.recency_days) },
		{ key: "frequency", label: "Orders", numeric: true, value: (c) => c.frequency, format: (c) => count(c.frequency) },
		{ key: "monetary", label: "Revenue", numeric: true, value: (c) => c.monetary, format: (c) => money(c.monetary, site.currency) },
		{ key: "r", label: "R", numeric: true, value: (c) => c.r },
		{ key: "f", label: "F", numeric: true, value: (c) => c.f },
		{ key: "m", label: "M", numeric: true, value: (c) => c.m },
	];
	const st = states(first);
	return (
		<Panel
			id="segment-customers"
			title={name ? `Customers: ${segmentName(name)}` : "Customers of a segment"}
			wide
			loading={st.loading || segments === null}
			error={st.error}
			empty={segments && !name ? "No segment has customers." : st.empty}
			actions={
				segments && (
					<form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Segment">
						<label>
							Segment
							<select name="segment" value={name ?? ""} onChange={(e) => setParams({ segment: e.currentTarget.value })}>
								{segments.map((s) => (
									<option value={s.segment} key={s.segment} disabled={s.customers === 0}>
										{segmentName(s.segment)} ({count(s.customers)})
									</option>
								))}
							</select>
						</label>
						<SortSelect sorts={SEG_SORTS} value={sort} onChange={(v) => setParams({ seg_sort: v })} />
					</form>
				)
			}
		>
			{chosen && (
				<p class="action" data-segment-action={chosen.segment}>
					<b>What to do</b>
					{chosen.action}
				</p>
			)}
			{first.data && name && (
				<>
					<DataTable id="segment-customers" caption={`Customers of ${segmentName(name)}`} filename={`segment_${name}_${view.site}_${first.data.as_of}_${sort}_first_${rows.length}.csv`} rows={rows} columns={columns} />
					<p class="table-actions" aria-live="polite">
						<span class="muted small" data-segment-count={rows.length}>
							{count(rows.length)} of{" "}
							<Src src={src ?? ""} path="total" value={first.data.total}>
								{count(first.data.total)}
							</Src>{" "}
							shown
						</span>
						{next && (
							<button type="button" class="link-button" onClick={loadMore} disabled={extra?.loading} data-load-more>
								{extra?.loading ? "Loading…" : `Load ${PAGE_SIZE} more`}
							</button>
						)}
						<a class="small" href={apiUrl(`/segments/${encodeURIComponent(name)}/customers`, { site: view.site, sort, format: "csv" })} download data-native data-segment-csv>
							CSV of all {count(first.data.total)}
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

// ─── movement ────────────────────────────────────────────────────────────────────────────────────

function Movement() {
	const { view, params, setParams, site } = useApp();
	const src = apiUrl("/segments/movement", { site: view.site, from: params.movement_from });
	const res = useAnalyticsJson<SegmentMovement>(src);
	const d = res.data;
	const rows = useMemo(() => (d ? d.labels.map((label, i) => ({ label, i, total: (d.counts[i] ?? []).reduce((a, b) => a + b, 0) })) : []), [d]);
	const earlier = d ? d.available.filter((day) => day < d.to) : [];
	const fromText = d?.from ?? "before";
	return (
		<Panel
			id="segment-movement"
			title="Segment movement"
			wide
			{...states(res)}
			actions={
				d &&
				earlier.length > 0 && (
					<label class="inline-select">
						<span class="muted small">Compared with </span>
						<select name="movement_from" value={d.from ?? ""} onChange={(e) => setParams({ movement_from: e.currentTarget.value })}>
							{d.from === null && <option value="">none</option>}
							{earlier.map((day) => (
								<option value={day} key={day}>
									{day}
								</option>
							))}
						</select>
					</label>
				)
			}
			note={
				d
					? d.from === null
						? `No segment scores are kept from at least 28 days before ${d.to}, so every customer counts as not scored before. Kept days: the last 8 runs and each month's last day.`
						: `Rows: the segment on ${d.from}; columns: the segment on ${d.to}; shade: share of the row. “Not scored”: no order in that day's 365-day window.`
					: undefined
			}
		>
			{d && (
				<>
					<HeatTable
						id="segment-movement"
						caption={`Customers by segment on ${fromText} (rows) and on ${d.to} (columns)`}
						filename={`segment_movement_${view.site}_${d.from ?? "none"}_${d.to}.csv`}
						rows={rows}
						lead={[
							{ key: "from", label: `${fromText} → ${d.to}`, value: (r) => r.label, format: (r) => segmentName(r.label) },
							{ key: "total", label: "Customers", numeric: true, value: (r) => r.total, format: (r) => count(r.total) },
						]}
						columns={d.labels.map((l) => ({ key: l, label: segmentName(l) }))}
						cell={(r, j) => {
							const n = d.counts[r.i]?.[j] ?? 0;
							const to = d.labels[j] ?? "";
							return {
								shade: r.total ? n / r.total : 0,
								text: count(n),
								raw: n,
								title: `${count(n)} customer${n === 1 ? "" : "s"}: ${segmentName(r.label)} on ${fromText}, ${segmentName(to)} on ${d.to}${r.total ? ` (${frac(n / r.total, site.currency)} of the row)` : ""}`,
								attrs: { "data-src": src, "data-path": `counts.${r.i}.${j}`, "data-value": String(n) },
							};
						}}
					/>
					<HeatLegend from="0 %" to="100 % of the row" />
				</>
			)}
		</Panel>
	);
}

// ─── lifetime value ──────────────────────────────────────────────────────────────────────────────

const CLV_SORTS: { id: ClvSort; label: string }[] = [
	{ id: "clv", label: "Lifetime value" },
	{ id: "p_alive", label: "P(alive)" },
	{ id: "expected_90", label: "Expected orders, 90 days" },
];

function Lifetime() {
	const { view, site, params, setParams } = useApp();
	const sort: ClvSort = CLV_SORTS.some((s) => s.id === params.clv_sort) ? (params.clv_sort as ClvSort) : "clv";
	const src = apiUrl("/clv/customers", { site: view.site, sort, limit: "100" });
	const res = useAnalyticsJson<ClvCustomers>(src);
	const modelSrc = apiUrl("/clv/model", { site: view.site });
	const model = useAnalyticsJson<ClvModel>(modelSrc);
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const m = model.data?.model;
	const insufficient = m?.status === "insufficient_data" ? `The model needs more history: ${m.reason}.` : false;
	const scored = d ? d.distribution.reduce((n, b) => n + b.customers, 0) : 0;
	const empty = insufficient || (d && scored === 0 ? "No customer to score yet." : false);

	const dist = useMemo(() => {
		if (!d?.distribution.length) return null;
		// Equal-count bins: their bars would all be as tall; the CLV where each starts shows the spread.
		const detail = (b: ClvCustomers["distribution"][number]) => `${count(b.customers)} customers from ${money(b.from, cur)}${b.to === null ? "" : ` to ${money(b.to, cur)}`}`;
		return { labels: d.distribution.map((_, i) => `${i + 1}`), detail: d.distribution.map(detail), series: [{ label: "CLV at the bin's start", values: d.distribution.map((b) => b.from), style: "bar" as const }] };
	}, [d, cur]);
	const alive = useMemo(() => {
		if (!d) return null;
		const labels = d.p_alive_by_recency.map((b) => (b.to_days === null ? `${b.from_days}+ d` : `${b.from_days}–${b.to_days - 1} d`));
		return { labels, series: [{ label: "Mean P(alive)", values: d.p_alive_by_recency.map((b) => (b.mean_p_alive === null ? null : b.mean_p_alive * 100)) }] };
	}, [d]);
	const holdout = useMemo(() => {
		const h = m?.status === "ok" ? m.holdout : null;
		if (!h) return null;
		return {
			h,
			labels: h.buckets.map((b) => b.label),
			series: [
				{ label: "Predicted", values: h.buckets.map((b) => b.meanPredicted) },
				{ label: "Actual", values: h.buckets.map((b) => b.meanActual), style: "dash" as const, color: 1 },
			],
		};
	}, [m]);

	const top: Column<ClvCustomer>[] = [
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
		{ key: "segment", label: "Segment", value: (c) => c.segment, format: (c) => (c.segment ? segmentName(c.segment) : "–") },
		{
			key: "clv",
			label: "Lifetime value (12 mo)",
			numeric: true,
			value: (c) => c.clv,
			format: (c) => (
				<Src src={src} path={`customers.${d?.customers.indexOf(c)}.clv`} value={c.clv}>
					{money(c.clv, cur)}
				</Src>
			),
		},
		{ key: "p_alive", label: "P(alive)", numeric: true, value: (c) => c.p_alive, format: (c) => frac(c.p_alive, cur) },
		{ key: "e30", label: "Expected orders 30 d", numeric: true, value: (c) => c.expected_30, format: (c) => decimal(c.expected_30, 2) },
		{ key: "e90", label: "Expected orders 90 d", numeric: true, value: (c) => c.expected_90, format: (c) => decimal(c.expected_90, 2) },
		{ key: "e365", label: "Expected orders 365 d", numeric: true, value: (c) => c.expected_365, format: (c) => decimal(c.expected_365, 2) },
		{ key: "spend", label: "Expected spend per order", numeric: true, value: (c) => c.expected_spend, format: (c) => money(c.expected_spend, cur) },
		{ key: "recency", label: "Days since last order", numeric: true, value: (c) => c.recency_days, format: (c) => (c.recency_days === null ? "–" : count(c.recency_days)) },
	];
	const st = states(res, empty);
	const modelNote =
		m?.status === "ok"
			? `${m.horizon_months} months, ${frac(m.monthly_discount_rate, cur)} a month discount, ${m.margin === null ? "revenue (no unit costs known)" : `${frac(m.margin, cur)} gross margin`}; fitted on ${count(m.customers)} customers (${count(m.repeat_customers)} repeat buyers).`
			: undefined;
	return (
		<div class="grid two">
			<Panel id="clv-summary" title="Customer lifetime value" {...st} actions={<AsOf day={d?.as_of} />} note={modelNote}>
				{d && (
					<div class="kpis">
						<Stat label="Total expected value" value={d.total_clv} text={money(d.total_clv, cur)} src={src} path="total_clv" hint="Sum of every scored customer's CLV over the next 12 months" />
						<div class="kpi">
							<span class="kpi-name">Customers scored</span>
							<b class="kpi-value" data-derived="clv_customers" data-value={String(scored)}>
								{count(scored)}
							</b>
						</div>
						<div class="kpi">
							<span class="kpi-name" title="Total ÷ customers scored">
								Mean per customer
							</span>
							<b class="kpi-value" data-derived="clv_mean" data-value={scored ? String(d.total_clv / scored) : ""}>
								{scored ? money(d.total_clv / scored, cur) : "–"}
							</b>
						</div>
					</div>
				)}
			</Panel>
			<Panel id="clv-distribution" title="Distribution of lifetime value" {...st} note="The customers sorted by CLV in ten equal groups (deciles; groups with the same edge merged): the bars show the CLV where each group starts.">
				{d && dist && (
					<>
						<Chart id="clv-distribution" title="CLV where each tenth of the customers starts" labels={dist.labels} detail={(i) => dist.detail[i] ?? ""} series={dist.series} unit="currency" currency={cur} filename={`clv_distribution_chart_${d.site}_${d.as_of}.csv`} height={170} />
						<DataTable
							id="clv-distribution"
							caption="Customers per CLV decile"
							filename={`clv_distribution_${d.site}_${d.as_of}.csv`}
							rows={d.distribution}
							columns={[
								{ key: "from", label: "CLV from", numeric: true, value: (b) => b.from, format: (b) => money(b.from, cur) },
								{ key: "to", label: "to (excl.)", numeric: true, value: (b) => b.to, format: (b) => (b.to === null ? "and more" : money(b.to, cur)) },
								{ key: "customers", label: "Customers", numeric: true, value: (b) => b.customers, format: (b) => count(b.customers) },
							]}
						/>
					</>
				)}
			</Panel>
			<Panel
				id="clv-top"
				title="Top customers by expected value"
				wide
				{...st}
				actions={<SortSelect sorts={CLV_SORTS} value={sort} onChange={(v) => setParams({ clv_sort: v })} />}
				note="P(alive): the probability the customer still buys; expected orders and spend from the models; CLV = expected orders × expected spend × margin, discounted."
			>
				{d && d.customers.length > 0 && <DataTable id="clv-top" caption={`Customers by ${CLV_SORTS.find((s) => s.id === sort)?.label}`} filename={`clv_customers_${d.site}_${d.as_of}_${sort}.csv`} rows={d.customers} columns={top} limit={15} />}
			</Panel>
			<Panel id="p-alive" title="P(alive) by days since the last order" {...st}>
				{d && alive && (
					<>
						<Chart id="p-alive" title="Mean P(alive) by days since the last order" labels={alive.labels} series={alive.series} unit="percent" currency={cur} filename={`p_alive_chart_${d.site}_${d.as_of}.csv`} height={170} />
						<DataTable
							id="p-alive"
							caption="Mean P(alive) by days since the last order"
							filename={`p_alive_by_recency_${d.site}_${d.as_of}.csv`}
							rows={d.p_alive_by_recency}
							columns={[
								{ key: "from", label: "Days since last order from", numeric: true, value: (b) => b.from_days },
								{ key: "to", label: "to (excl.)", numeric: true, value: (b) => b.to_days, format: (b) => (b.to_days === null ? "–" : String(b.to_days)) },
								{ key: "customers", label: "Customers", numeric: true, value: (b) => b.customers, format: (b) => count(b.customers) },
								{ key: "p", label: "Mean P(alive)", numeric: true, value: (b) => b.mean_p_alive, format: (b) => frac(b.mean_p_alive, cur) },
							]}
						/>
					</>
				)}
			</Panel>
			<Panel id="clv-model" title="Model check: predicted against actual" {...states(model, insufficient || (model.data && !holdout ? "No holdout check: the history is shorter than the 90-day holdout." : false))}>
				{holdout && (
					<>
						<Chart id="clv-holdout" title="Mean orders in the holdout by orders before it" labels={holdout.labels} detail={(i) => `${holdout.labels[i]} repeat orders before ${holdout.h.calibration_end}`} series={holdout.series} unit="score" currency={cur} filename={`clv_holdout_${view.site}.csv`} height={170} />
						<p class="note">
							A model fitted on the orders up to {holdout.h.calibration_end} predicted {decimal(holdout.h.totalPredicted, 1)} orders in the next {holdout.h.holdout_days} days; {decimal(holdout.h.totalActual, 1)} happened.
						</p>
					</>
				)}
			</Panel>
		</div>
	);
}
