/**
 * Customers: who bought in the range (country, acquisition channel, device; GET /customers/overview),
 * how they behave (new against returning, purchase frequency, engagement), how they came and bought
 * (entry pages and conversion paths, GET /journeys; drop-off points of the funnel by channel or device),
 * NPS and CSAT over time (KPIs), the customer list with a link to each profile (GET /customers), and
 * the nightly analytics: RFM segments and lifetime value (customer-analytics.tsx).
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiUrl, getJson, useJson, type CustomerList, type Loadable, type CustomerListItem, type CustomerSort, type CustomersOverview, type FunnelReport, type FunnelSummary, type Journeys, type KpiResponse, type KpiResult, type Segment } from "../api";
import { Chart } from "../chart";
import { CustomerAnalytics } from "../customer-analytics";
import { PredictiveSection } from "../predict";
import { count, country, dateOnly, formatValue, money, percent, words } from "../format";
import { compareLabel, KpiTrend } from "../kpi-view";
import { clipRange, kpiQuery, pageUrl, useApp } from "../state";
import { useTheme, SERIES_COLORS } from "../theme";
import { DataTable, KpiCard, Panel, ShareBar, SortSelect, Stat, type Column } from "../ui";

/** The overview, journeys and funnel reports take at most 366 days. */
const MAX_DAYS = 366;
const KPIS = ["active_customers", "new_customers", "return_customer_rate", "engagement_score", "nps", "csat"];

export default function Customers() {
	const { view, catalog } = useApp();
	const range = clipRange(view, MAX_DAYS);
	const ids = KPIS.filter((id) => catalog.has(id));
	const kpis = useJson<KpiResponse>(ids.length ? apiUrl("/kpis", kpiQuery(view, ids)) : null);
	const overviewUrl = apiUrl("/customers/overview", { site: view.site, from: range.from, to: range.to });
	const overview = useJson<CustomersOverview>(overviewUrl);
	const clippedNote = range.clipped ? `Covers the range's last ${MAX_DAYS} days (${range.from} – ${range.to}).` : undefined;
	const o = { res: overview, src: overviewUrl, note: clippedNote };

	return (
		<div class="page" data-page="customers">
			<h1 class="page-title">
				Customers <span class="muted">{`${view.from} – ${view.to}`}</span>
			</h1>
			<div class="grid two">
				<Summary kpis={kpis} o={o} />
				<NewReturning kpis={kpis} o={o} />
				<Frequency o={o} />
				<SegmentPanel id="by-country" title="By country" o={o} pick={(x) => x.by_country} keyLabel="Country" show={country} />
				<SegmentPanel id="by-channel" title="By acquisition channel" o={o} pick={(x) => x.by_channel} keyLabel="Channel" show={words} note="The customer record's channel, else their first order's." />
				<SegmentPanel id="by-device" title="By device" o={o} pick={(x) => x.by_device} keyLabel="Device" show={words} note="The device of most of the customer's signed-in web events in the range; unknown without any." />
				<Engagement kpis={kpis} />
				<Satisfaction kpis={kpis} />
				<JourneysPanel range={range} note={clippedNote} />
				<DropOffs range={range} note={clippedNote} />
				<CustomerListPanel />
			</div>
			<CustomerAnalytics />
			<PredictiveSection />
		</div>
	);
}

type Loaded<T> = Loadable<T>;
interface OverviewProps {
	res: Loaded<CustomersOverview>;
	src: string;
	note: string | undefined;
}

function kpiOf(res: KpiResponse | null, id: string): KpiResult | undefined {
	return res?.kpis.find((k) => k.id === id);
}

// ─── summary ─────────────────────────────────────────────────────────────────────────────────────

function Summary({ kpis, o }: { kpis: Loaded<KpiResponse>; o: OverviewProps }) {
	const { view, catalog, site } = useApp();
	const t = o.res.data?.totals;
	const cur = o.res.data?.currency ?? site.currency;
	const res = kpis.data;
	const label = compareLabel(view);
	return (
		<Panel id="customer-summary" title="Customers in the range" wide loading={o.res.loading || kpis.loading} error={o.res.error ?? kpis.error} note={o.note}>
			{t && (
				<div class="kpis">
					<Stat label="Customers who ordered" value={t.customers} text={count(t.customers)} src={o.src} path="totals.customers" hint="Customers with a non-cancelled order placed in the range" />
					{["active_customers", "new_customers", "return_customer_rate"].map((id) => {
						const k = kpiOf(res, id);
						return k && res ? <KpiCard key={id} kpi={k} currency={res.currency} compareLabel={label} hint={catalog.get(id)?.description} /> : null;
					})}
					<Stat label="Their orders" value={t.orders} text={count(t.orders)} src={o.src} path="totals.orders" />
					<Stat label="Their revenue" value={t.revenue} text={money(t.revenue, cur)} src={o.src} path="totals.revenue" hint="Total − tax of their non-cancelled orders in the range (the revenue KPI)" />
				</div>
			)}
		</Panel>
	);
}

// ─── behaviour ───────────────────────────────────────────────────────────────────────────────────

function NewReturning({ kpis, o }: { kpis: Loaded<KpiResponse>; o: OverviewProps }) {
	const { view } = useApp();
	const theme = useTheme();
	const t = o.res.data?.totals;
	const trend = kpiOf(kpis.data, "new_customers");
	const rate = kpiOf(kpis.data, "return_customer_rate");
	const [cNew, cRet] = SERIES_COLORS[theme];
	const newPct = t?.new_pct ?? null;
	return (
		<Panel id="new-returning" title="New and returning" loading={o.res.loading} error={o.res.error} empty={t && t.customers === 0 ? "Nobody ordered in the range." : false}>
			{t && t.customers > 0 && (
				<>
					<div class="kpis">
						<Stat label="New customers" value={t.new_customers} text={count(t.new_customers)} src={o.src} path="totals.new_customers" note={newPct === null ? undefined : `${percent(newPct)} of customers`} hint="First-ever non-cancelled order in the range" />
						<Stat label="Returning customers" value={t.returning_customers} text={count(t.returning_customers)} src={o.src} path="totals.returning_customers" hint="Had ordered before the range" />
						{rate && kpis.data && <KpiCard kpi={rate} currency={kpis.data.currency} compareLabel={compareLabel(view)} hint="Share of orders placed by customers who had ordered before" />}
					</div>
					<div class="split-bar" role="img" aria-label={`New ${percent(newPct ?? 0)}, returning ${percent(100 - (newPct ?? 0))}`}>
						<span style={{ width: `${newPct ?? 0}%`, background: cNew }} />
						<span style={{ width: `${100 - (newPct ?? 0)}%`, background: cRet }} />
					</div>
					<ul class="legend-inline">
						<li>
							<i style={{ background: cNew }} />
							New {percent(newPct ?? 0)}
						</li>
						<li>
							<i style={{ background: cRet }} />
							Returning {percent(100 - (newPct ?? 0))}
						</li>
					</ul>
					{trend && kpis.data && <KpiTrend kpi={trend} res={kpis.data} view={view} height={150} />}
				</>
			)}
		</Panel>
	);
}

function Frequency({ o }: { o: OverviewProps }) {
	const { site } = useApp();
	const d = o.res.data;
	const chart = useMemo(() => (d ? { labels: d.purchase_frequency.map((s) => s.key), series: [{ label: "Customers", values: d.purchase_frequency.map((s) => s.customers), style: "bar" as const }] } : null), [d]);
	return (
		<Panel id="frequency" title="Purchase frequency" loading={o.res.loading} error={o.res.error} empty={d && d.totals.customers === 0 ? "Nobody ordered in the range." : false} note="Customers by their non-cancelled orders in the range.">
			{d && chart && d.totals.customers > 0 && (
				<>
					<Chart id="frequency" title="Customers by orders in the range" labels={chart.labels} detail={(i) => `${chart.labels[i] ?? ""} order${chart.labels[i] === "1" ? "" : "s"}`} series={chart.series} unit="count" currency={d.currency} filename={`purchase_frequency_${d.site}_${d.from}_${d.to}.csv`} height={160} />
					<SegmentTable id="frequency" rows={d.purchase_frequency} keyLabel="Orders in range" show={(k) => k} currency={d.currency ?? site.currency} caption="Customers by orders in the range" filename={`purchase_frequency_table_${d.site}_${d.from}_${d.to}.csv`} />
				</>
			)}
		</Panel>
	);
}

function Engagement({ kpis }: { kpis: Loaded<KpiResponse> }) {
	const { view, catalog } = useApp();
	if (!catalog.has("engagement_score")) return null;
	const k = kpiOf(kpis.data, "engagement_score");
	return (
		<Panel id="engagement" title="Engagement" loading={kpis.loading} error={kpis.error} note={catalog.get("engagement_score")?.formula}>
			{k && kpis.data && (
				<>
					<div class="kpis">
						<KpiCard kpi={k} currency={kpis.data.currency} compareLabel={compareLabel(view)} hint={catalog.get(k.id)?.description} />
					</div>
					<KpiTrend kpi={k} res={kpis.data} view={view} height={150} />
				</>
			)}
		</Panel>
	);
}

function Satisfaction({ kpis }: { kpis: Loaded<KpiResponse> }) {
	const { view, catalog } = useApp();
	const ids = ["nps", "csat"].filter((id) => catalog.has(id));
	if (!ids.length) return null;
	const res = kpis.data;
	const shown = ids.map((id) => kpiOf(res, id)).filter((k): k is KpiResult => !!k);
	return (
		<Panel id="satisfaction" title="NPS and CSAT" loading={kpis.loading} error={kpis.error}>
			{res && (
				<>
					<div class="kpis">
						{shown.map((k) => (
							<KpiCard key={k.id} kpi={k} currency={res.currency} compareLabel={compareLabel(view)} hint={catalog.get(k.id)?.description} />
						))}
					</div>
					{shown.map((k) => (
						<KpiTrend key={k.id} kpi={k} res={res} view={view} height={130} />
					))}
				</>
			)}
		</Panel>
	);
}

// ─── demographics ────────────────────────────────────────────────────────────────────────────────

function SegmentTable({ id, rows, keyLabel, show, currency, caption, filename, limit }: { id: string; rows: Segment[]; keyLabel: string; show: (k: string) => string; currency: string; caption: string; filename: string; limit?: number }) {
	const columns: Column<Segment>[] = [
		{ key: "key", label: keyLabel, value: (s) => s.key, format: (s) => show(s.key) },
		{ key: "customers", label: "Customers", numeric: true, value: (s) => s.customers, format: (s) => count(s.customers) },
		{ key: "share", label: "Share", numeric: true, value: (s) => s.share_pct, format: (s) => <ShareBar pct={s.share_pct} text={formatValue(s.share_pct, "percent", currency)} /> },
		{ key: "orders", label: "Orders", numeric: true, value: (s) => s.orders, format: (s) => count(s.orders) },
		{ key: "revenue", label: "Revenue", numeric: true, value: (s) => s.revenue, format: (s) => money(s.revenue, currency) },
	];
	return <DataTable id={id} caption={caption} filename={filename} rows={rows} columns={columns} limit={limit} />;
}

function SegmentPanel({ id, title, o, pick, keyLabel, show, note }: { id: string; title: string; o: OverviewProps; pick: (x: CustomersOverview) => Segment[]; keyLabel: string; show: (k: string) => string; note?: string }) {
	const d = o.res.data;
	const rows = d ? pick(d) : [];
	return (
		<Panel id={id} title={title} loading={o.res.loading} error={o.res.error} empty={d && rows.length === 0 ? "Nobody ordered in the range." : false} note={note}>
			{d && rows.length > 0 && <SegmentTable id={id} rows={rows} keyLabel={keyLabel} show={show} currency={d.currency} caption={`Customers ${title.toLowerCase()}`} filename={`customers_${id}_${d.site}_${d.from}_${d.to}.csv`} limit={10} />}
		</Panel>
	);
}

// ─── journeys and drop-offs ──────────────────────────────────────────────────────────────────────

function JourneysPanel({ range, note }: { range: { from: string; to: string }; note: string | undefined }) {
	const { view, site } = useApp();
	const src = apiUrl("/journeys", { site: view.site, from: range.from, to: range.to, limit: "10" });
	const res = useJson<Journeys>(src);
	const j = res.data;
	return (
		<Panel id="journeys" title="Journeys" wide loading={res.loading} error={res.error} empty={j && j.sessions === 0 ? "No web sessions in the range." : false} note={note ?? "Sessions end after 30 minutes idle; paths are the pages viewed before the purchase, repeats collapsed."}>
			{j && j.sessions > 0 && (
				<>
					<div class="kpis">
						<Stat label="Sessions" value={j.sessions} text={count(j.sessions)} src={src} path="sessions" />
						<Stat label="With a page view" value={j.sessions_with_page_view} text={count(j.sessions_with_page_view)} src={src} path="sessions_with_page_view" />
						<Stat label="Converting sessions" value={j.converting_sessions} text={count(j.converting_sessions)} src={src} path="converting_sessions" note={j.sessions ? `${percent((100 * j.converting_sessions) / j.sessions)} of sessions` : undefined} />
					</div>
					<div class="split">
						<div>
							<h3>Top entry pages</h3>
							{j.entry_pages.length ? (
								<DataTable
									id="entry-pages"
									caption="Top entry pages"
									filename={`entry_pages_${view.site}_${j.from}_${j.to}.csv`}
									rows={j.entry_pages}
									columns={[
										{ key: "path", label: "Entry page", wrap: true, value: (e) => e.path },
										{ key: "sessions", label: "Sessions", numeric: true, value: (e) => e.sessions, format: (e) => count(e.sessions) },
										{ key: "share", label: "Share", numeric: true, value: (e) => e.share_pct, format: (e) => <ShareBar pct={e.share_pct} text={formatValue(e.share_pct, "percent", site.currency)} /> },
									]}
								/>
							) : (
								<p class="msg">No page views in the range.</p>
							)}
						</div>
						<div>
							<h3>Top conversion paths</h3>
							{j.conversion_paths.length ? (
								<DataTable
									id="conversion-paths"
									caption="Top conversion paths"
									filename={`conversion_paths_${view.site}_${j.from}_${j.to}.csv`}
									rows={j.conversion_paths}
									columns={[
										{ key: "path", label: "Pages before the purchase", wrap: true, value: (p) => p.path },
										{ key: "sessions", label: "Sessions", numeric: true, value: (p) => p.sessions, format: (p) => count(p.sessions) },
										{ key: "share", label: "Share", numeric: true, value: (p) => p.share_pct, format: (p) => formatValue(p.share_pct, "percent", site.currency) },
									]}
								/>
							) : (
								<p class="msg">No purchase in a web session in the range.</p>
							)}
						</div>
					</div>
				</>
			)}
		</Panel>
	);
}

type DropRow = FunnelSummary & { key: string };

function DropOffs({ range, note }: { range: { from: string; to: string }; note: string | undefined }) {
	const { view, site, params, setParams } = useApp();
	const by = params.dropoff_by === "device" ? "device" : "channel";
	const set = useJson<{ funnels: { id: string; name: string }[] }>(apiUrl("/funnels", { site: view.site }));
	const funnel = set.data?.funnels[0];
	const res = useJson<FunnelReport>(funnel ? apiUrl(`/funnels/${encodeURIComponent(funnel.id)}/report`, { site: view.site, from: range.from, to: range.to, by }) : null);
	const r = res.data;
	const rows: DropRow[] = r ? [{ key: "all", users: r.users, conversion_pct: r.conversion_pct, steps: r.steps }, ...[...(r.groups ?? [])].sort((a, b) => b.users - a.users)] : [];
	const steps = r?.steps.slice(1) ?? [];
	const worst = (row: DropRow) => row.steps.slice(1).reduce<FunnelSummary["steps"][number] | null>((w, s) => (s.drop_off_pct !== null && (w === null || (w.drop_off_pct ?? -1) < s.drop_off_pct) ? s : w), null);
	const fmt = (v: number | null) => formatValue(v, "percent", site.currency);
	return (
		<Panel
			id="drop-offs"
			title={funnel ? `Drop-off points: ${funnel.name}` : "Drop-off points"}
			wide
			loading={set.loading || res.loading}
			error={set.error ?? res.error}
			empty={r && r.users === 0 ? "Nobody started this funnel in the range." : false}
			actions={
				<label class="inline-select">
					<span class="muted small">By </span>
					<select name="dropoff_by" value={by} onChange={(e) => setParams({ dropoff_by: e.currentTarget.value === "channel" ? null : e.currentTarget.value })}>
						<option value="channel">channel</option>
						<option value="device">device</option>
					</select>
				</label>
			}
			note={note ?? "Share of the people at the previous step who did not reach this one; the largest per row is in bold. Grouped by the first step's channel or device."}
		>
			{r && r.users > 0 && (
				<DataTable
					id="drop-offs"
					caption={`Drop-off per step of the ${r.funnel.name} funnel by ${by}`}
					filename={`drop_offs_${r.funnel.id}_${by}_${r.from}_${r.to}.csv`}
					rows={rows}
					columns={[
						{ key: "key", label: by === "channel" ? "Channel" : "Device", value: (g) => g.key, format: (g) => (g.key === "all" ? <b>All</b> : words(g.key)) },
						{ key: "users", label: `Started (${r.steps[0]?.label ?? "step 1"})`, numeric: true, value: (g) => g.users, format: (g) => count(g.users) },
						...steps.map((s, i) => ({
							key: `drop-${s.event}`,
							label: `Lost before ${s.label}`,
							numeric: true,
							value: (g: DropRow) => g.steps[i + 1]?.drop_off_pct ?? null,
							format: (g: DropRow) => {
								const step = g.steps[i + 1];
								const text = fmt(step?.drop_off_pct ?? null);
								return step && worst(g) === step ? <b>{text}</b> : text;
							},
						})),
						{ key: "conversion", label: "Converted", numeric: true, value: (g) => g.conversion_pct, format: (g) => fmt(g.conversion_pct) },
						{ key: "worst", label: "Biggest drop-off", value: (g) => (worst(g) ? `before ${worst(g)?.label}` : null), format: (g) => (worst(g) ? `before ${worst(g)?.label}` : "–") },
					]}
				/>
			)}
		</Panel>
	);
}

// ─── the list ────────────────────────────────────────────────────────────────────────────────────

const SORTS: { id: CustomerSort; label: string }[] = [
	{ id: "revenue", label: "Lifetime revenue" },
	{ id: "orders", label: "Orders" },
	{ id: "last_order", label: "Last order" },
];
const PAGE_SIZE = 25;

function CustomerListPanel() {
	const { view, site, params, setParams, me } = useApp();
	const sort: CustomerSort = SORTS.some((s) => s.id === params.sort) ? (params.sort as CustomerSort) : "revenue";
	const q = params.q ?? "";
	const src = apiUrl("/customers", { site: view.site, q, sort, limit: String(PAGE_SIZE) });
	const first = useJson<CustomerList>(src);
	// Later pages (Load more) for this search: appended, kept until the search or sort changes.
	const [more, setMore] = useState<{ src: string; rows: CustomerListItem[]; next: string | null; loading: boolean; error: Error | null } | null>(null);
	useEffect(() => setMore(null), [src]);
	const extra = more && more.src === src ? more : null;
	const rows = first.data ? [...first.data.customers, ...(extra?.rows ?? [])] : [];
	const next = extra ? extra.next : (first.data?.next_cursor ?? null);
	const loadMore = async () => {
		if (!next) return;
		setMore({ src, rows: extra?.rows ?? [], next, loading: true, error: null });
		try {
			const page = await getJson<CustomerList>(apiUrl("/customers", { site: view.site, q, sort, limit: String(PAGE_SIZE), cursor: next }));
			setMore({ src, rows: [...(extra?.rows ?? []), ...page.customers], next: page.next_cursor, loading: false, error: null });
		} catch (error) {
			setMore({ src, rows: extra?.rows ?? [], next, loading: false, error: error instanceof Error ? error : new Error(String(error)) });
		}
	};
	const cur = first.data?.currency ?? site.currency;
	// PII columns only when the API sent the fields (admins); the labels follow the role.
	const pii = rows.some((r) => "email" in r || "name" in r);
	const canSeePii = me.can_see_pii;
	const columns: Column<CustomerListItem>[] = [
		{
			key: "id",
			label: "Customer",
			value: (c) => c.id,
			format: (c) => (
				<a href={pageUrl(`/customers/${encodeURIComponent(c.id)}`, view)} data-customer={c.id}>
					{c.id}
				</a>
			),
		},
		...(pii
			? [
					{ key: "name", label: "Name", value: (c: CustomerListItem) => c.name ?? null },
					{ key: "email", label: "Email", value: (c: CustomerListItem) => c.email ?? null },
				]
			: []),
		{ key: "country", label: "Country", value: (c) => c.country, format: (c) => country(c.country) },
		{ key: "channel", label: "Acquisition", value: (c) => c.channel, format: (c) => (c.channel ? words(c.channel) : "–") },
		{ key: "orders", label: "Orders", numeric: true, value: (c) => c.orders, format: (c) => count(c.orders) },
		{ key: "revenue", label: "Lifetime revenue", numeric: true, value: (c) => c.revenue, format: (c) => money(c.revenue, cur) },
		{ key: "first", label: "First order", value: (c) => (c.first_order === null ? null : new Date(c.first_order).toISOString()), format: (c) => (c.first_order === null ? "–" : dateOnly(c.first_order, site.timezone)) },
		{ key: "last", label: "Last order", value: (c) => (c.last_order === null ? null : new Date(c.last_order).toISOString()), format: (c) => (c.last_order === null ? "–" : dateOnly(c.last_order, site.timezone)) },
	];
	return (
		<Panel
			id="customer-list"
			title="All customers"
			wide
			loading={first.loading}
			error={first.error}
			note={canSeePii ? "Names and emails are shown to admins only." : "Names and emails are not shown for your role."}
		>
			<form
				class="toolbar"
				role="search"
				onSubmit={(e) => {
					e.preventDefault();
					const value = new FormData(e.currentTarget).get("q");
					setParams({ q: typeof value === "string" ? value.trim() : null });
				}}
			>
				<label>
					{canSeePii ? "Customer id or email" : "Customer id"}
					<input type="search" name="q" defaultValue={q} key={q} maxLength={128} autoComplete="off" />
				</label>
				<SortSelect sorts={SORTS} value={sort} onChange={(next) => setParams({ sort: next })} />
				<button type="submit">Search</button>
			</form>
			{first.data && rows.length === 0 ? (
				<p class="msg">{q ? `No customer matches “${q}”.` : "The site has no customers yet."}</p>
			) : (
				first.data && (
					<>
						<DataTable id="customers" caption={`Customers by ${SORTS.find((s) => s.id === sort)?.label.toLowerCase()}`} filename={`customers_${view.site}_${sort}${q ? `_${q.replace(/[^\w.-]+/g, "-")}` : ""}.csv`} rows={rows} columns={columns} />
						<p class="table-actions" aria-live="polite">
							<span class="muted small" data-customer-count={rows.length}>
								{count(rows.length)} customer{rows.length === 1 ? "" : "s"} shown{next ? "" : ", all of them"}
							</span>
							{next && (
								<button type="button" class="link-button" onClick={loadMore} disabled={extra?.loading} data-load-more>
									{extra?.loading ? "Loading…" : `Load ${PAGE_SIZE} more`}
								</button>
							)}
							{extra?.error && (
								<span class="msg err" role="alert">
									Could not load more: {extra.error.message}
								</span>
							)}
						</p>
					</>
				)
			)}
		</Panel>
	);
}
