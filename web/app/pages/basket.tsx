/**
 * Market basket (GET /api/v1/basket/rules and /basket/bundles, from the latest nightly run over the
 * orders of the 365 days before it): association rules X ⇒ Y at product or category level with support,
 * confidence and lift filters (all in the URL), cross-sell for one product (its rules), bundle
 * suggestions with their combined unit margin, and the month-of-year seasonality index per category.
 */
import { useMemo } from "preact/hooks";
import { apiUrl, type BasketBundles, type BasketRule, type BasketRules, type Bundle, type Loadable, type ProductCatalogue, type Seasonality } from "../api";
import { AsOf, frac, HeatLegend, HeatTable, isNoResults, Items, lift, NightlyEmpty, Src, states, useAnalyticsJson } from "../analytics-ui";
import { Chart, type ChartSeries } from "../chart";
import { count, decimal, formatValue, words } from "../format";
import { LOCALE } from "../locale";
import { useApp } from "../state";
import { DataTable, Panel, Stat, type Column } from "../ui";

type Level = "product" | "category";
const FRACTION = /^(0(\.\d+)?|1(\.0+)?)$/;
const NUMBER = /^\d+(\.\d+)?$/;
const STYLES = ["line", "dash", "dot"] as const;

/** A percent typed by the reader as the API's fraction ("1.5" → "0.015"); null when empty or invalid. */
function toFraction(text: string): string | null {
	const v = Number(text.replace(",", "."));
	if (!text.trim() || !Number.isFinite(v) || v < 0) return null;
	const s = (Math.min(100, v) / 100).toFixed(6).replace(/\.?0+$/, "");
	return FRACTION.test(s) ? s : null;
}
function toLift(text: string): string | null {
	const v = Number(text.replace(",", "."));
	if (!text.trim() || !Number.isFinite(v) || v < 0) return null;
	const s = v.toFixed(3).replace(/\.?0+$/, "");
	return NUMBER.test(s) ? s : null;
}
/** Input value (percent) of a fraction URL parameter. */
const pctOf = (f: string | undefined) => (f && FRACTION.test(f) ? String(Math.round(Number(f) * 100 * 10000) / 10000) : "");

export default function Basket() {
	const { view, params } = useApp();
	const level: Level = params.level === "category" ? "category" : "product";
	const filters = {
		min_support: params.min_support && FRACTION.test(params.min_support) ? params.min_support : undefined,
		min_confidence: params.min_confidence && FRACTION.test(params.min_confidence) ? params.min_confidence : undefined,
		min_lift: params.min_lift && NUMBER.test(params.min_lift) ? params.min_lift : undefined,
	};
	const rulesSrc = apiUrl("/basket/rules", { site: view.site, level, ...filters, limit: "200" });
	const rules = useAnalyticsJson<BasketRules>(rulesSrc);
	const none = isNoResults(rules.error);
	const bundlesSrc = apiUrl("/basket/bundles", { site: view.site });
	const bundles = useAnalyticsJson<BasketBundles>(none ? null : bundlesSrc);

	return (
		<div class="page" data-page="basket">
			<h1 class="page-title">
				Market basket <span class="muted">what is bought together, over the 365 days to the last nightly run</span>
			</h1>
			{none ? (
				<div class="grid two">
					<NightlyEmpty id="basket" title="Market basket" />
				</div>
			) : (
				<div class="grid two">
					<Rules res={rules} src={rulesSrc} level={level} filters={filters} />
					<CrossSell bundles={bundles.data} waiting={bundles.loading} />
					<Bundles res={bundles} src={bundlesSrc} />
					<SeasonalityPanel res={bundles} src={bundlesSrc} />
				</div>
			)}
		</div>
	);
}

function ruleColumns(level: Level, src: string, data: BasketRules | null, currency: string): Column<BasketRule>[] {
	const at = (r: BasketRule) => data?.rules.indexOf(r) ?? -1;
	return [
		{ key: "if", label: "Bought", wrap: true, value: (r) => r.antecedent.join(" + "), format: (r) => <Items items={r.antecedent} level={level} /> },
		{ key: "then", label: "Also bought", wrap: true, value: (r) => r.consequent.join(" + "), format: (r) => <Items items={r.consequent} level={level} /> },
		{ key: "count", label: "Baskets", numeric: true, value: (r) => r.count, format: (r) => count(r.count) },
		{ key: "support", label: "Support", numeric: true, value: (r) => r.support, format: (r) => frac(r.support, currency) },
		{
			key: "confidence",
			label: "Confidence",
			numeric: true,
			value: (r) => r.confidence,
			format: (r) => (
				<Src src={src} path={`rules.${at(r)}.confidence`} value={r.confidence}>
					{frac(r.confidence, currency)}
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
		{ key: "conviction", label: "Conviction", numeric: true, value: (r) => r.conviction, format: (r) => (r.conviction === null ? "∞" : decimal(r.conviction, 2)) },
	];
}

// ─── rules ───────────────────────────────────────────────────────────────────────────────────────

function Rules({ res, src, level, filters }: { res: Loadable<BasketRules>; src: string; level: Level; filters: { min_support?: string; min_confidence?: string; min_lift?: string } }) {
	const { site, setParams } = useApp();
	const d = res.data;
	const key = `${filters.min_support}|${filters.min_confidence}|${filters.min_lift}`;
	return (
		<Panel
			id="rules"
			title="Association rules"
			wide
			{...states(res, d && d.rules.length === 0 ? (d.baskets === 0 ? "No orders in the window." : "No rule passes these filters: lower them.") : false)}
			actions={<AsOf day={d?.as_of} />}
			note="Support: share of baskets (orders) holding both sides; confidence: share of the baskets with the left side that also hold the right; lift: confidence ÷ the right side's own share (above 1: bought together more than by chance); conviction ∞: the rule never failed."
		>
			<form
				class="toolbar"
				aria-label="Rule filters"
				key={key}
				onSubmit={(e) => {
					e.preventDefault();
					const f = new FormData(e.currentTarget);
					const text = (n: string) => String(f.get(n) ?? "");
					setParams({ min_support: toFraction(text("min_support")), min_confidence: toFraction(text("min_confidence")), min_lift: toLift(text("min_lift")) });
				}}
			>
				<label>
					Level
					<select name="level" value={level} onChange={(e) => setParams({ level: e.currentTarget.value === "product" ? null : e.currentTarget.value })}>
						<option value="product">Products (SKU)</option>
						<option value="category">Categories</option>
					</select>
				</label>
				<label>
					Min support (%)
					<input type="number" name="min_support" min="0" max="100" step="any" inputMode="decimal" defaultValue={pctOf(filters.min_support)} placeholder="0.1" />
				</label>
				<label>
					Min confidence (%)
					<input type="number" name="min_confidence" min="0" max="100" step="any" inputMode="decimal" defaultValue={pctOf(filters.min_confidence)} placeholder="5" />
				</label>
				<label>
					Min lift
					<input type="number" name="min_lift" min="0" step="any" inputMode="decimal" defaultValue={filters.min_lift ?? ""} placeholder="0" />
				</label>
				<button type="submit">Apply</button>
			</form>
			{d && d.rules.length > 0 && (
				<>
					<div class="kpis">
						<Stat label="Baskets (orders)" value={d.baskets} text={count(d.baskets)} src={src} path="baskets" />
						<Stat label="Rules passing the filters" value={d.total} text={count(d.total)} src={src} path="total" note={d.total > d.rules.length ? `the ${count(d.rules.length)} with the highest lift shown` : undefined} />
					</div>
					<DataTable id="rules" caption={`Association rules at ${level} level, by lift`} filename={`basket_rules_${d.site}_${d.as_of}_${level}.csv`} rows={d.rules} columns={ruleColumns(level, src, d, site.currency)} limit={25} />
				</>
			)}
		</Panel>
	);
}

// ─── cross-sell ──────────────────────────────────────────────────────────────────────────────────

function CrossSell({ bundles, waiting }: { bundles: BasketBundles | null; waiting: boolean }) {
	const { view, site, params, setParams } = useApp();
	const catalogue = useAnalyticsJson<ProductCatalogue>(apiUrl("/products/performance", { site: view.site, from: view.from, to: view.to, sort: "sku" }));
	const sku = params.sku ?? bundles?.bundles[0]?.items[0] ?? null;
	const src = sku ? apiUrl("/basket/rules", { site: view.site, level: "product", product: sku, limit: "50" }) : null;
	const res = useAnalyticsJson<BasketRules>(src);
	const d = res.data;
	const name = catalogue.data?.products.find((p) => p.sku === sku)?.name;
	const st = states(res, d && d.rules.length === 0 ? `No rule starts from ${sku}: it is not bought with other products often enough.` : false);
	return (
		<Panel
			id="cross-sell"
			title={sku ? `Cross-sell: ${name ?? sku}` : "Cross-sell"}
			wide
			loading={st.loading || (!params.sku && waiting)}
			error={st.error}
			empty={!sku && bundles ? "Pick a product to see what is bought with it." : st.empty}
			note="Rules with the product on the left: what customers who bought it also bought, by lift."
		>
			<form
				class="toolbar"
				role="search"
				key={sku ?? ""}
				onSubmit={(e) => {
					e.preventDefault();
					const v = String(new FormData(e.currentTarget).get("sku") ?? "").trim();
					setParams({ sku: v || null });
				}}
			>
				<label>
					Product (SKU)
					<input type="search" name="sku" list="basket-skus" defaultValue={sku ?? ""} autoComplete="off" maxLength={128} />
				</label>
				<datalist id="basket-skus">
					{catalogue.data?.products.map((p) => (
						<option value={p.sku} key={p.sku}>
							{p.name}
						</option>
					))}
				</datalist>
				<button type="submit">Show</button>
			</form>
			{d && d.rules.length > 0 && <DataTable id="cross-sell" caption={`Products bought with ${sku}`} filename={`basket_cross_sell_${view.site}_${d.as_of}_${sku}.csv`} rows={d.rules} columns={ruleColumns("product", src ?? "", d, site.currency)} limit={15} />}
		</Panel>
	);
}

// ─── bundles ─────────────────────────────────────────────────────────────────────────────────────

function Bundles({ res, src }: { res: Loadable<BasketBundles>; src: string }) {
	const { site } = useApp();
	const d = res.data;
	const cur = d?.currency ?? site.currency;
	const columns: Column<Bundle>[] = [
		{ key: "items", label: "Bundle", wrap: true, value: (b) => b.items.join(" + "), format: (b) => <Items items={b.items} level="product" /> },
		{ key: "count", label: "Baskets", numeric: true, value: (b) => b.count, format: (b) => count(b.count) },
		{ key: "support", label: "Support", numeric: true, value: (b) => b.support, format: (b) => frac(b.support, cur) },
		{
			key: "lift",
			label: "Lift",
			numeric: true,
			value: (b) => b.lift,
			format: (b) => (
				<Src src={src} path={`bundles.${d?.bundles.indexOf(b)}.lift`} value={b.lift}>
					{lift(b.lift)}
				</Src>
			),
		},
		{
			key: "rule",
			label: "Best rule",
			wrap: true,
			value: (b) => (b.bestRule ? `${b.bestRule.antecedent.join(" + ")} => ${b.bestRule.consequent.join(" + ")}` : null),
			format: (b) => (b.bestRule ? `${b.bestRule.antecedent.join(" + ")} ⇒ ${b.bestRule.consequent.join(" + ")} (${frac(b.bestRule.confidence, cur)})` : "–"),
		},
		{ key: "margin", label: "Combined unit margin", numeric: true, value: (b) => b.margin, format: (b) => formatValue(b.margin, "currency", cur) },
	];
	return (
		<Panel
			id="bundles"
			title="Bundle suggestions"
			wide
			{...states(res, d && d.bundles.length === 0 ? "No set of products is bought together more often than chance." : false)}
			note="Two or three products bought together more than if each were bought independently (lift above 1), with the sum of their unit margins (price − unit cost; – when a cost is unknown)."
		>
			{d && d.bundles.length > 0 && <DataTable id="bundles" caption="Bundle suggestions, by lift" filename={`basket_bundles_${d.site}_${d.as_of}.csv`} rows={d.bundles} columns={columns} limit={15} />}
		</Panel>
	);
}

// ─── seasonality ─────────────────────────────────────────────────────────────────────────────────

function monthNames(): string[] {
	try {
		const f = new Intl.DateTimeFormat(LOCALE, { month: "short", timeZone: "UTC" });
		return Array.from({ length: 12 }, (_, m) => f.format(Date.UTC(2001, m, 1)));
	} catch {
		return ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
	}
}

function SeasonalityPanel({ res, src }: { res: Loadable<BasketBundles>; src: string }) {
	const d = res.data;
	const months = useMemo(monthNames, []);
	const rows = d?.seasonality ?? [];
	const known = rows.filter((s): s is Seasonality & { index: number[] } => s.index !== null);
	const chart = useMemo(
		() =>
			known.slice(0, 6).map(
				(s, n): ChartSeries => ({ label: words(s.category), values: s.index, style: STYLES[n % STYLES.length], color: n }),
			),
		[d],
	);
	const unknown = rows.filter((s) => s.index === null);
	return (
		<Panel
			id="seasonality"
			title="Seasonality by category"
			wide
			{...states(res, d && known.length === 0 ? "Seasonality needs at least 12 whole months of sales in a category." : false)}
			note={`Month-of-year index: the month's mean revenue ÷ the mean month (1.0 = typical), over the last whole years of each category's sales.${unknown.length ? ` Under 12 months of history: ${unknown.map((s) => words(s.category)).join(", ")}.` : ""}${known.length > 6 ? " The chart shows the first six categories; the table has all." : ""}`}
		>
			{d && known.length > 0 && (
				<>
					<Chart id="seasonality" title="Seasonality index by month of the year" labels={months} series={chart} unit="score" currency={d.currency} filename={`basket_seasonality_chart_${d.site}_${d.as_of}.csv`} height={200} />
					<HeatTable
						id="seasonality"
						caption="Seasonality index by category and month of the year"
						filename={`basket_seasonality_${d.site}_${d.as_of}.csv`}
						rows={rows.map((s, i) => ({ s, i }))}
						lead={[
							{ key: "category", label: "Category", value: (x) => x.s.category, format: (x) => words(x.s.category) },
							{ key: "window", label: "Window", value: (x) => (x.s.from ? `${x.s.from}/${x.s.to}` : null), format: (x) => (x.s.from ? `${x.s.from} – ${x.s.to}` : "under 12 months") },
						]}
						columns={months.map((m, i) => ({ key: String(i), label: m }))}
						cell={(x, m) => {
							const v = x.s.index?.[m];
							if (v === undefined || v === null) return null;
							return {
								shade: Math.max(-1, Math.min(1, v - 1)),
								text: decimal(v, 2),
								raw: v,
								title: `${words(x.s.category)}, ${months[m]}: ${decimal(v, 2)} × the mean month`,
								attrs: { "data-src": src, "data-path": `seasonality.${x.i}.index.${m}`, "data-value": String(v) },
							};
						}}
					/>
					<HeatLegend from="" to="" diverging={{ low: "below a typical month", high: "above" }} />
				</>
			)}
		</Panel>
	);
}
