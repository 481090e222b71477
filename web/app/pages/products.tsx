/**
 * Products: the catalogue over the range (GET /api/v1/products/performance: revenue, units, gross
 * margin, conversion from a product view, return rate, stock, reorder point, days of cover, stockout
 * days), each row a link to the product page; product KPIs of the range; stock health and revenue by
 * category, summed from the same rows.
 */
import { useMemo } from "preact/hooks";
import { apiUrl, useJson, type KpiResponse, type ProductCatalogue, type ProductRow, type ProductSort } from "../api";
import { Chart } from "../chart";
import { count, decimal, formatValue, minorPerMajor, money, words } from "../format";
import { compareLabel } from "../kpi-view";
import { clipRange, kpiQuery, pageUrl, useApp } from "../state";
import { DataTable, KpiCard, Panel, SortSelect, type Column } from "../ui";

/** The products API takes at most 731 days. */
const MAX_DAYS = 731;
const KPIS = ["product_revenue", "units_sold", "gross_margin", "product_return_rate", "stockout_rate", "inventory_turnover"];
/** Days of cover under which a SKU is flagged. */
const LOW_COVER_DAYS = 14;

const SORTS: { id: ProductSort; label: string }[] = [
	{ id: "revenue", label: "Revenue" },
	{ id: "units", label: "Units" },
	{ id: "gross_margin_pct", label: "Gross margin" },
	{ id: "product_page_conversion_pct", label: "Conversion" },
	{ id: "return_rate_pct", label: "Return rate" },
	{ id: "stock", label: "Stock" },
	{ id: "days_of_cover", label: "Days of cover" },
	{ id: "sku", label: "SKU" },
];

export default function Products() {
	const { view, catalog, site, params, setParams } = useApp();
	const range = clipRange(view, MAX_DAYS);
	const sort: ProductSort = SORTS.some((s) => s.id === params.sort) ? (params.sort as ProductSort) : "revenue";
	const category = params.category ?? "";
	const src = apiUrl("/products/performance", { site: view.site, from: range.from, to: range.to, sort });
	const res = useJson<ProductCatalogue>(src);
	const ids = KPIS.filter((id) => catalog.has(id));
	const kpis = useJson<KpiResponse>(ids.length ? apiUrl("/kpis", kpiQuery(view, ids)) : null);
	const d = res.data;
	const categories = useMemo(() => [...new Set((d?.products ?? []).map((p) => p.category).filter((c): c is string => !!c))].sort(), [d]);
	const rows = useMemo(() => (d ? (category ? d.products.filter((p) => p.category === category) : d.products) : []), [d, category]);
	const cur = d?.currency ?? site.currency;
	const note = range.clipped ? `The catalogue covers the range's last ${MAX_DAYS} days (${range.from} – ${range.to}).` : undefined;

	return (
		<div class="page" data-page="products">
			<h1 class="page-title">
				Products <span class="muted">{`${view.from} – ${view.to}`}</span>
			</h1>
			<div class="grid two">
				{ids.length > 0 && (
					<Panel id="product-kpis" title="Products in the range" wide loading={kpis.loading} error={kpis.error}>
						{kpis.data && (
							<div class="kpis">
								{kpis.data.kpis.map((k) => (
									<KpiCard key={k.id} kpi={k} currency={kpis.data?.currency ?? cur} compareLabel={compareLabel(view)} hint={catalog.get(k.id)?.description} />
								))}
							</div>
						)}
					</Panel>
				)}
				<StockHealth rows={rows} loading={res.loading} error={res.error} category={category} coverDays={d?.cover_days ?? 30} href={(sku) => pageUrl(`/products/${encodeURIComponent(sku)}`, view)} />
				<ByCategory data={d} loading={res.loading} error={res.error} />
				<Panel id="catalogue" title="Catalogue" wide loading={res.loading} error={res.error} note={note ?? `Days of cover: stock ÷ average daily units over the last ${d?.cover_days ?? 30} days of the range. Conversion: sessions viewing the product that bought it.`}>
					<form class="toolbar" aria-label="Catalogue filter" onSubmit={(e) => e.preventDefault()}>
						<label>
							Category
							<select name="category" value={category} onChange={(e) => setParams({ category: e.currentTarget.value || null })}>
								<option value="">All categories</option>
								{(category && !categories.includes(category) ? [...categories, category] : categories).map((c) => (
									<option value={c} key={c}>
										{words(c)}
									</option>
								))}
							</select>
						</label>
						<SortSelect sorts={SORTS} value={sort} onChange={(next) => setParams({ sort: next })} />
					</form>
					{d &&
						(rows.length ? (
							<DataTable id="catalogue" caption={`Products by ${SORTS.find((s) => s.id === sort)?.label.toLowerCase()}`} filename={`products_${d.site}_${d.from}_${d.to}${category ? `_${category}` : ""}.csv`} rows={rows} columns={catalogueColumns(cur, (sku) => pageUrl(`/products/${encodeURIComponent(sku)}`, view))} limit={25} />
						) : (
							<p class="msg">{category ? `No product in ${words(category)}.` : "The catalogue is empty."}</p>
						))}
				</Panel>
			</div>
		</div>
	);
}

const pct = (v: number | null, cur: string) => formatValue(v, "percent", cur);

function catalogueColumns(cur: string, href: (sku: string) => string): Column<ProductRow>[] {
	return [
		{
			key: "sku",
			label: "SKU",
			value: (p) => p.sku,
			format: (p) => (
				<a href={href(p.sku)} data-product={p.sku}>
					{p.sku}
				</a>
			),
		},
		{ key: "name", label: "Name", wrap: true, value: (p) => p.name },
		{ key: "category", label: "Category", value: (p) => p.category, format: (p) => (p.category ? words(p.category) : "–") },
		{ key: "price", label: "Price", numeric: true, value: (p) => p.price, format: (p) => formatValue(p.price, "currency", cur) },
		{ key: "revenue", label: "Revenue", numeric: true, value: (p) => p.revenue, format: (p) => formatValue(p.revenue, "currency", cur) },
		{ key: "units", label: "Units", numeric: true, value: (p) => p.units, format: (p) => formatValue(p.units, "count", cur) },
		{ key: "margin", label: "Gross margin", numeric: true, value: (p) => p.gross_margin_pct, format: (p) => pct(p.gross_margin_pct, cur) },
		{ key: "conversion", label: "Conversion", numeric: true, value: (p) => p.product_page_conversion_pct, format: (p) => pct(p.product_page_conversion_pct, cur) },
		{ key: "returns", label: "Return rate", numeric: true, value: (p) => p.return_rate_pct, format: (p) => pct(p.return_rate_pct, cur) },
		{
			key: "stock",
			label: "Stock",
			numeric: true,
			value: (p) => p.stock,
			format: (p) => (
				<>
					{formatValue(p.stock, "count", cur)}
					{p.stock !== null && p.stock <= 0 ? <span class="badge bad">out</span> : p.stock !== null && p.reorder_point !== null && p.stock < p.reorder_point ? <span class="badge warn">low</span> : null}
				</>
			),
		},
		{ key: "reorder", label: "Reorder point", numeric: true, value: (p) => p.reorder_point, format: (p) => formatValue(p.reorder_point, "count", cur) },
		{ key: "cover", label: "Days of cover", numeric: true, value: (p) => p.days_of_cover, format: (p) => (p.days_of_cover === null ? "–" : `${decimal(p.days_of_cover, 1)} d`) },
		{ key: "stockout", label: "Stockout days", numeric: true, value: (p) => p.stockout_days, format: (p) => decimal(p.stockout_days, p.stockout_days % 1 ? 2 : 0) },
	];
}

/** Counts over the catalogue rows (the same rows as the table, after the category filter). */
function stockCounts(rows: ProductRow[]) {
	return {
		out_of_stock: rows.filter((p) => p.stock !== null && p.stock <= 0).length,
		below_reorder_point: rows.filter((p) => p.stock !== null && p.reorder_point !== null && p.stock < p.reorder_point).length,
		low_cover: rows.filter((p) => p.days_of_cover !== null && p.days_of_cover < LOW_COVER_DAYS).length,
		had_stockouts: rows.filter((p) => p.stockout_days > 0).length,
	};
}

function StockHealth({ rows, loading, error, category, coverDays, href }: { rows: ProductRow[]; loading: boolean; error: Error | null; category: string; coverDays: number; href: (sku: string) => string }) {
	const c = useMemo(() => stockCounts(rows), [rows]);
	// Below the reorder point (or out of stock), fewest days of cover first.
	const reorder = useMemo(
		() =>
			rows
				.filter((p) => p.stock !== null && (p.stock <= 0 || (p.reorder_point !== null && p.stock < p.reorder_point)))
				.sort((a, b) => (a.days_of_cover ?? Number.POSITIVE_INFINITY) - (b.days_of_cover ?? Number.POSITIVE_INFINITY) || (a.stock ?? 0) - (b.stock ?? 0) || a.sku.localeCompare(b.sku)),
		[rows],
	);
	const stat = (id: keyof typeof c, label: string, hint: string) => (
		<div class="kpi">
			<span class="kpi-name" title={hint}>
				{label}
			</span>
			<b class="kpi-value" data-stock-count={id} data-value={String(c[id])}>
				{count(c[id])}
			</b>
		</div>
	);
	return (
		<Panel id="stock-health" title={`Stock${category ? ` · ${words(category)}` : ""}`} loading={loading} error={error} note={`Counted over the ${count(rows.length)} SKUs of the catalogue table, from their latest snapshot at the end of the range.`}>
			{!loading && !error && (
				<div class="kpis">
					{stat("out_of_stock", "Out of stock", "Latest snapshot with no stock")}
					{stat("below_reorder_point", "Below reorder point", "Stock under the SKU's reorder point")}
					{stat("low_cover", `Under ${LOW_COVER_DAYS} days of cover`, `At the average daily units of the last ${coverDays} days`)}
					{stat("had_stockouts", "Had a stockout in the range", "At least part of a day at zero stock")}
				</div>
			)}
			{!loading && !error && reorder.length > 0 && (
				<>
					<h3>To reorder</h3>
					<DataTable
						id="reorder"
						caption="SKUs below their reorder point, fewest days of cover first"
						filename="products_to_reorder.csv"
						rows={reorder}
						limit={8}
						columns={[
							{
								key: "sku",
								label: "SKU",
								value: (p) => p.sku,
								format: (p) => (
									<a href={href(p.sku)} data-product={p.sku}>
										{p.sku}
									</a>
								),
							},
							{ key: "stock", label: "Stock", numeric: true, value: (p) => p.stock, format: (p) => count(p.stock ?? 0) },
							{ key: "reorder", label: "Reorder point", numeric: true, value: (p) => p.reorder_point, format: (p) => (p.reorder_point === null ? "–" : count(p.reorder_point)) },
							{ key: "cover", label: "Days of cover", numeric: true, value: (p) => p.days_of_cover, format: (p) => (p.days_of_cover === null ? "–" : `${decimal(p.days_of_cover, 1)} d`) },
						]}
					/>
				</>
			)}
		</Panel>
	);
}

function ByCategory({ data, loading, error }: { data: ProductCatalogue | null; loading: boolean; error: Error | null }) {
	const cats = useMemo(() => {
		if (!data) return null;
		const by = new Map<string, { category: string; revenue: number; units: number; skus: number }>();
		for (const p of data.products) {
			const key = p.category ?? "uncategorised";
			const c = by.get(key) ?? { category: key, revenue: 0, units: 0, skus: 0 };
			c.revenue += p.revenue ?? 0;
			c.units += p.units ?? 0;
			c.skus++;
			by.set(key, c);
		}
		const scale = minorPerMajor(data.currency);
		return [...by.values()].map((c) => ({ ...c, revenue: Math.round(c.revenue * scale) / scale })).sort((a, b) => b.revenue - a.revenue || a.category.localeCompare(b.category));
	}, [data]);
	const chart = useMemo(() => (cats ? { labels: cats.map((c) => words(c.category)), series: [{ label: "Revenue", values: cats.map((c) => c.revenue), style: "bar" as const }] } : null), [cats]);
	// Revenue is null for every row when the role may not see it: then there is nothing to chart.
	if (data && data.products.every((p) => p.revenue === null)) return null;
	const sold = cats?.some((c) => c.revenue > 0);
	return (
		<Panel id="by-category" title="Revenue by category" loading={loading} error={error} empty={data && !sold ? "No product sales in the range." : false} note="Sum of the catalogue rows' line revenue (quantity × unit price).">
			{data && chart && cats && sold && (
				<>
					<Chart id="by-category" title="Revenue by category" labels={chart.labels} series={chart.series} unit="currency" currency={data.currency} filename={`revenue_by_category_${data.site}_${data.from}_${data.to}.csv`} height={170} />
					<DataTable
						id="by-category"
						caption="Revenue, units and SKUs by category"
						filename={`categories_${data.site}_${data.from}_${data.to}.csv`}
						rows={cats}
						columns={[
							{ key: "category", label: "Category", value: (c) => c.category, format: (c) => words(c.category) },
							{ key: "revenue", label: "Revenue", numeric: true, value: (c) => c.revenue, format: (c) => money(c.revenue, data.currency) },
							{ key: "units", label: "Units", numeric: true, value: (c) => c.units, format: (c) => count(c.units) },
							{ key: "skus", label: "SKUs", numeric: true, value: (c) => c.skus, format: (c) => count(c.skus) },
						]}
					/>
				</>
			)}
		</Panel>
	);
}
