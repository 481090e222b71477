/**
 * One product (GET /api/v1/products/{sku}/performance) over the view's range and grain: price, unit cost
 * and margin; revenue, units, gross margin, conversion from a product view and return rate in total and
 * per period; stock snapshots against the reorder point, days of cover and stockout intervals; and what
 * is bought together with it (product-level association rules with this SKU on the left, nightly run).
 */
import { useRoute } from "preact-iso";
import { useMemo } from "preact/hooks";
import { apiUrl, HttpError, useJson, type BasketRules, type Loadable, type ProductPerformance } from "../api";
import { RecommendedWith } from "../predict";
import { frac, isNoResults, Items, lift, NOT_YET, Src, states, useAnalyticsJson } from "../analytics-ui";
import { Chart, type ChartSeries } from "../chart";
import { count, dateTime, decimal, formatValue, localDay, minorPerMajor, words } from "../format";
import { periodDetail } from "../kpi-view";
import { clipRange, pageUrl, useApp } from "../state";
import { DataTable, Panel, Stat } from "../ui";

/** The products API takes at most 731 days. */
const MAX_DAYS = 731;

export default function Product() {
	const { params } = useRoute();
	const sku = params.sku ?? "";
	const { view } = useApp();
	const range = clipRange(view, MAX_DAYS);
	const src = apiUrl(`/products/${encodeURIComponent(sku)}/performance`, { site: view.site, from: range.from, to: range.to, grain: view.grain });
	const res = useJson<ProductPerformance>(src);
	const d = res.data;
	const back = (
		<a class="back" href={pageUrl("/products", view)}>
			← All products
		</a>
	);
	if (res.error instanceof HttpError && res.error.status === 404) {
		return (
			<div class="page" data-page="product">
				{back}
				<h1 class="page-title">Product {sku}</h1>
				<Panel id="product" title="Not found" empty={`This site has no product “${sku}” (no catalogue row, sale or stock snapshot).`} />
			</div>
		);
	}
	const note = range.clipped ? `Covers the range's last ${MAX_DAYS} days (${range.from} – ${range.to}).` : undefined;
	return (
		<div class="page" data-page="product" data-sku={sku}>
			{back}
			<h1 class="page-title">
				{d?.product.name ?? sku} <span class="muted">{`${sku} · ${view.from} – ${view.to}`}</span>
			</h1>
			<div class="grid two">
				<PriceMargin res={res} src={src} />
				<Sales res={res} src={src} note={note} />
				<OverTime res={res} />
				<Inventory res={res} src={src} />
				<DemandPlan res={res} src={src} />
				<BoughtTogether sku={sku} />
				<RecommendedWith sku={sku} />
			</div>
		</div>
	);
}

type Res = Loadable<ProductPerformance>;

function PriceMargin({ res, src }: { res: Res; src: string }) {
	const d = res.data;
	const cur = d?.currency ?? "EUR";
	const p = d?.product;
	const asp = d && d.totals.revenue !== null && d.totals.units ? Math.round((d.totals.revenue / d.totals.units) * minorPerMajor(cur)) / minorPerMajor(cur) : null;
	return (
		<Panel id="price-margin" title="Price and margin" loading={res.loading} error={res.error} note="Price and unit cost are the catalogue's today; gross margin and average selling price are the range's sales.">
			{d && p && (
				<>
					<dl class="facts">
						<dt>Category</dt>
						<dd>{p.category ? words(p.category) : "–"}</dd>
						<dt>Brand</dt>
						<dd>{p.brand ?? "–"}</dd>
					</dl>
					<div class="kpis">
						<Stat label="Price" value={p.price} text={formatValue(p.price, "currency", cur)} src={src} path="product.price" />
						<Stat label="Unit cost" value={p.unit_cost} text={formatValue(p.unit_cost, "currency", cur)} src={src} path="product.unit_cost" />
						<Stat label="Unit margin" value={p.unit_margin} text={formatValue(p.unit_margin, "currency", cur)} src={src} path="product.unit_margin" note={p.unit_margin_pct === null ? undefined : `${formatValue(p.unit_margin_pct, "percent", cur)} of the price`} />
						<Stat label="Gross margin (sales)" value={d.totals.gross_margin_pct} text={formatValue(d.totals.gross_margin_pct, "percent", cur)} src={src} path="totals.gross_margin_pct" hint="(line revenue − line cost) ÷ line revenue, lines with a known cost" />
						<div class="kpi">
							<span class="kpi-name" title="Revenue ÷ units of the range">
								Average selling price
							</span>
							<b class="kpi-value" data-derived="asp" data-value={asp === null ? "" : String(asp)}>
								{formatValue(asp, "currency", cur)}
							</b>
						</div>
					</div>
				</>
			)}
		</Panel>
	);
}

function Sales({ res, src, note }: { res: Res; src: string; note: string | undefined }) {
	const d = res.data;
	const cur = d?.currency ?? "EUR";
	const t = d?.totals;
	return (
		<Panel id="sales" title="Sales in the range" loading={res.loading} error={res.error} note={note ?? "Conversion: sessions viewing the product that bought it. Return rate: units returned per unit sold."}>
			{t && (
				<div class="kpis">
					{t.revenue !== null && <Stat label="Revenue" value={t.revenue} text={formatValue(t.revenue, "currency", cur)} src={src} path="totals.revenue" hint="Quantity × unit price, before order discounts" />}
					<Stat label="Units sold" value={t.units} text={formatValue(t.units, "count", cur)} src={src} path="totals.units" />
					<Stat label="Product page conversion" value={t.product_page_conversion_pct} text={formatValue(t.product_page_conversion_pct, "percent", cur)} src={src} path="totals.product_page_conversion_pct" />
					<Stat label="Return rate" value={t.return_rate_pct} text={formatValue(t.return_rate_pct, "percent", cur)} src={src} path="totals.return_rate_pct" />
				</div>
			)}
		</Panel>
	);
}

function OverTime({ res }: { res: Res }) {
	const d = res.data;
	const charts = useMemo(() => {
		if (!d) return null;
		const labels = d.series.map((p) => p.period);
		const scale = minorPerMajor(d.currency);
		const asp = d.series.map((p) => (p.revenue !== null && p.units ? Math.round((p.revenue / p.units) * scale) / scale : null));
		const price: ChartSeries[] = [{ label: "Average selling price", values: asp }];
		if (d.product.price !== null) price.push({ label: "List price (today)", values: labels.map(() => d.product.price), style: "dot", color: 2 });
		return {
			labels,
			revenue: d.totals.revenue === null ? null : [{ label: "Revenue", values: d.series.map((p) => p.revenue), style: "bar" as const }],
			units: [{ label: "Units sold", values: d.series.map((p) => p.units) }],
			rates: [
				{ label: "Gross margin", values: d.series.map((p) => p.gross_margin_pct) },
				{ label: "Conversion", values: d.series.map((p) => p.product_page_conversion_pct), color: 1 },
				{ label: "Return rate", values: d.series.map((p) => p.return_rate_pct), color: 3 },
			] as ChartSeries[],
			price,
		};
	}, [d]);
	const sold = d?.series.some((p) => (p.units ?? 0) > 0);
	return (
		<Panel id="over-time" title={`Performance by ${d?.grain ?? "period"}`} wide loading={res.loading} error={res.error} empty={d && !sold ? "No sales of this product in the range." : false}>
			{d && charts && sold && (
				<>
					<div class="split">
						{charts.revenue && (
							<div>
								<h3>Revenue</h3>
								<Chart id="product-revenue" title="Revenue" labels={charts.labels} detail={(i) => (d.series[i] ? periodDetail(d.series[i]) : "")} series={charts.revenue} unit="currency" currency={d.currency} filename={`product_${d.product.sku}_revenue_${d.from}_${d.to}_${d.grain}.csv`} height={160} />
							</div>
						)}
						<div>
							<h3>Units sold</h3>
							<Chart id="product-units" title="Units sold" labels={charts.labels} detail={(i) => (d.series[i] ? periodDetail(d.series[i]) : "")} series={charts.units} unit="count" currency={d.currency} filename={`product_${d.product.sku}_units_${d.from}_${d.to}_${d.grain}.csv`} height={160} />
						</div>
						<div>
							<h3>Margin, conversion and returns</h3>
							<Chart id="product-rates" title="Gross margin, conversion and return rate" labels={charts.labels} detail={(i) => (d.series[i] ? periodDetail(d.series[i]) : "")} series={charts.rates} unit="percent" currency={d.currency} filename={`product_${d.product.sku}_rates_${d.from}_${d.to}_${d.grain}.csv`} height={160} />
						</div>
						<div>
							<h3>Price</h3>
							<Chart id="product-price" title="Average selling price and list price" labels={charts.labels} detail={(i) => (d.series[i] ? periodDetail(d.series[i]) : "")} series={charts.price} unit="currency" currency={d.currency} filename={`product_${d.product.sku}_price_${d.from}_${d.to}_${d.grain}.csv`} height={160} />
						</div>
					</div>
					<p class="note">Periods without sales have no margin, price or return rate; conversion needs web sessions viewing the product (tracked events).</p>
				</>
			)}
		</Panel>
	);
}

function Inventory({ res, src }: { res: Res; src: string }) {
	const { site } = useApp();
	const d = res.data;
	const inv = d?.inventory;
	const chart = useMemo(() => {
		if (!inv || !inv.snapshots.length) return null;
		const series: ChartSeries[] = [{ label: "Stock", values: inv.snapshots.map((s) => s.stock) }];
		if (inv.snapshots.some((s) => s.reorder_point !== null)) series.push({ label: "Reorder point", values: inv.snapshots.map((s) => s.reorder_point), style: "dot", color: 1 });
		return { labels: inv.snapshots.map((s) => localDay(s.taken_at, site.timezone)), series };
	}, [inv, site.timezone]);
	const known = inv && (inv.stock !== null || inv.snapshots.length > 0);
	return (
		<Panel id="inventory" title="Inventory and stockouts" wide loading={res.loading} error={res.error} empty={d && !known ? "No stock snapshot for this product." : false} note={d ? `Days of cover: stock ÷ average daily units over the range's last 30 days. A snapshot's level holds until the next one.` : undefined}>
			{d && inv && known && (
				<>
					<div class="kpis">
						<Stat label="Stock" value={inv.stock} text={formatValue(inv.stock, "count", d.currency)} src={src} path="inventory.stock" note={inv.stock_taken_at === null ? undefined : `at ${dateTime(inv.stock_taken_at, site.timezone)}`} />
						<Stat label="Reorder point" value={inv.reorder_point} text={formatValue(inv.reorder_point, "count", d.currency)} src={src} path="inventory.reorder_point" />
						<Stat label="Days of cover" value={inv.days_of_cover} text={inv.days_of_cover === null ? "–" : `${decimal(inv.days_of_cover, 1)} d`} src={src} path="inventory.days_of_cover" note={inv.days_of_cover === null ? "no recent sales" : undefined} />
						<Stat label="Stockout days" value={inv.stockout_days} text={decimal(inv.stockout_days, inv.stockout_days % 1 ? 2 : 0)} src={src} path="inventory.stockout_days" note={`${count(inv.stockouts.length)} stockout${inv.stockouts.length === 1 ? "" : "s"} in the range`} />
					</div>
					{chart && (
						<Chart
							id="stock"
							title="Stock snapshots and reorder point"
							labels={chart.labels}
							detail={(i) => (inv.snapshots[i] ? dateTime(inv.snapshots[i].taken_at, site.timezone) : "")}
							series={chart.series}
							unit="count"
							currency={d.currency}
							filename={`product_${d.product.sku}_stock_${d.from}_${d.to}.csv`}
							height={170}
						/>
					)}
					<h3>Stockouts</h3>
					{inv.stockouts.length ? (
						<DataTable
							id="stockouts"
							caption="Out-of-stock intervals in the range"
							filename={`product_${d.product.sku}_stockouts_${d.from}_${d.to}.csv`}
							rows={inv.stockouts}
							columns={[
								{ key: "from", label: "Out of stock from", value: (s) => new Date(s.from).toISOString(), format: (s) => dateTime(s.from, site.timezone) },
								{
									key: "to",
									label: "Until",
									value: (s) => new Date(s.to).toISOString(),
									// The last interval of a SKU still at zero ends with the range, not with a delivery.
									format: (s) => (s === inv.stockouts.at(-1) && inv.stock !== null && inv.stock <= 0 ? `still out at the end of the range (${dateTime(s.to, site.timezone)})` : dateTime(s.to, site.timezone)),
								},
								{ key: "hours", label: "Duration (hours)", numeric: true, value: (s) => Math.round(((s.to - s.from) / 3_600_000) * 100) / 100, format: (s) => decimal((s.to - s.from) / 3_600_000, 1) },
							]}
						/>
					) : (
						<p class="msg">No stockout in the range.</p>
					)}
				</>
			)}
		</Panel>
	);
}

/** Product-level rules with this SKU on the left (GET /basket/rules?product=), from the latest nightly run. */
function BoughtTogether({ sku }: { sku: string }) {
	const { view, site } = useApp();
	const src = apiUrl("/basket/rules", { site: view.site, level: "product", product: sku, limit: "20" });
	const res = useAnalyticsJson<BasketRules>(src);
	const d = res.data;
	const at = (r: BasketRules["rules"][number]) => d?.rules.indexOf(r) ?? -1;
	const st = states(res, d && d.rules.length === 0 ? `Not bought with other products often enough for a rule (over ${count(d.baskets)} orders in the 365 days to ${d.as_of}).` : false);
	return (
		<Panel
			id="bought-together"
			title="Bought together"
			wide
			loading={st.loading}
			error={st.error}
			empty={isNoResults(res.error) ? `${NOT_YET} The nightly run starts after 03:00 site time.` : st.empty}
			note={d && d.rules.length > 0 ? `Customers who bought this also bought… over the orders of the 365 days to ${d.as_of}. Confidence: share of its orders holding the other side; lift above 1: more than by chance.` : undefined}
		>
			{d && d.rules.length > 0 && (
				<DataTable
					id="bought-together"
					caption={`Products bought together with ${sku}`}
					filename={`product_${sku}_bought_together_${d.as_of}.csv`}
					rows={d.rules}
					limit={10}
					columns={[
						{ key: "with", label: "With", wrap: true, value: (r) => r.antecedent.filter((x) => x !== sku).join(" + "), format: (r) => (r.antecedent.length > 1 ? <Items items={r.antecedent.filter((x) => x !== sku)} level="product" /> : "–") },
						{ key: "then", label: "Also bought", wrap: true, value: (r) => r.consequent.join(" + "), format: (r) => <Items items={r.consequent} level="product" /> },
						{
							key: "confidence",
							label: "Confidence",
							numeric: true,
							value: (r) => r.confidence,
							format: (r) => (
								<Src src={src} path={`rules.${at(r)}.confidence`} value={r.confidence}>
									{frac(r.confidence, site.currency)}
								</Src>
							),
						},
						{
							key: "lift",
							label: "Lift",
							numeric: true,
							value: (r) => r.lift,
							format: (r) => (
								<Src src={src} path={`rules.${at(r)}.lift`} value={r.lift}>
									{lift(r.lift)}
								</Src>
							),
						},
						{ key: "support", label: "Support", numeric: true, value: (r) => r.support, format: (r) => frac(r.support, site.currency) },
						{ key: "count", label: "Orders", numeric: true, value: (r) => r.count, format: (r) => count(r.count) },
					]}
				/>
			)}
		</Panel>
	);
}

/** The nightly run's demand forecast and suggested reorder point for this SKU (analytics/predict-steps.ts inventoryStep). */
function DemandPlan({ res, src }: { res: Res; src: string }) {
	const d = res.data;
	const plan = d?.plan;
	return (
		<Panel
			id="demand-plan"
			title="Demand forecast and reorder plan"
			loading={res.loading}
			error={res.error}
			empty={d && !plan ? `${NOT_YET} The nightly run starts after 03:00 site time.` : false}
			note={
				plan
					? `From the nightly run of ${plan.as_of}: daily demand over the last 90 days; lead time from ${plan.lead_source}; reorder point = lead-time demand + safety stock at a ${Math.round(plan.service_level * 100)} % service level. Forecast: ${plan.forecast_30d.method}.`
					: undefined
			}
		>
			{d && plan && (
				<div class="kpis">
					<Stat label="Demand, next 30 days" value={plan.forecast_30d.mean} text={`${decimal(plan.forecast_30d.mean, 1)} units`} src={src} path="plan.forecast_30d.mean" note={`95 %: ${decimal(plan.forecast_30d.lower95, 1)}–${decimal(plan.forecast_30d.upper95, 1)}`} />
					<Stat label="Suggested reorder point" value={plan.reorder_point} text={plan.reorder_point === null ? "–" : `${decimal(plan.reorder_point, 1)} units`} src={src} path="plan.reorder_point" note={plan.reorder_point === null ? "no lead time known" : `safety stock ${decimal(plan.safety_stock ?? 0, 1)}`} />
					<Stat label="Lead time" value={plan.lead_time_days} text={plan.lead_time_days === null ? "–" : `${decimal(plan.lead_time_days, 1)} d`} src={src} path="plan.lead_time_days" note={plan.lead_time_sd === null ? undefined : `± ${decimal(plan.lead_time_sd, 1)} d`} />
					<Stat label="Stockout risk" value={plan.stockout_risk} text={plan.stockout_risk === null ? "–" : `${decimal(plan.stockout_risk * 100, 1)} %`} src={src} path="plan.stockout_risk" note="before a delivery ordered now arrives" />
				</div>
			)}
		</Panel>
	);
}

