/**
 * Achievements and action items: explicit rules over numbers the report already holds. Pure (no
 * bindings): build.ts gathers the inputs from the engines, tests feed hand-made inputs.
 *
 * | rule                | kind        | fires when                                                                  | input (engine)                                   |
 * |---------------------|-------------|-----------------------------------------------------------------------------|--------------------------------------------------|
 * | revenue_up          | achievement | revenue ≥ 10 % above the previous period                                    | KPI revenue, compare=previous                    |
 * | revenue_down        | action      | revenue ≥ 10 % below the previous period                                    | KPI revenue, compare=previous                    |
 * | aov_up              | achievement | average order value ≥ 5 % above the previous period                         | KPI aov, compare=previous                        |
 * | aov_down            | action      | average order value ≥ 5 % below the previous period                         | KPI aov, compare=previous                        |
 * | new_customers_up    | achievement | new customers ≥ 10 % above the previous period (and at least 10 of them)    | KPI new_customers, compare=previous              |
 * | conversion_down     | action      | conversion rate ≥ 10 % (relative) below the previous period                 | KPI conversion_rate, compare=previous            |
 * | refund_rate_up      | action      | refunds ÷ revenue up ≥ 2 percentage points vs the previous period           | KPIs refunds and revenue, compare=previous       |
 * | target_met          | achievement | a KPI's progress ≥ 100 % of its target for the period                       | KPI targets (PUT /api/v1/targets)                |
 * | target_behind       | action      | a KPI's progress < 90 % of its target for a period that has ended           | KPI targets                                      |
 * | at_risk_grew        | action      | the At_Risk segment has ≥ 10 % more customers than in the previous period's run (and ≥ 5) | nightly RFM segments (/segments)  |
 * | churn_risk          | action      | ≥ 10 % of the scored customers have a churn probability ≥ 0.7               | nightly churn model (/churn)                     |
 * | low_stock           | action      | any SKU's latest stock is below its reorder point                           | products API (store's or computed reorder point) |
 *
 * A rule whose input is missing (no previous value, no run, a zero base) stays quiet: it never guesses.
 * The same table is in docs/reports/README.md.
 */

export interface KpiChange {
	value: number | null;
	compare: number | null;
}

export interface RuleInput {
	site: string;
	currency: string;
	/** What "previous" means in sentences: "the previous month", "2026-10". */
	previousLabel: string;
	kpis: Partial<Record<"revenue" | "aov" | "new_customers" | "conversion_rate" | "refunds", KpiChange>>;
	/** KPIs with a target for the period. */
	targets?: { id: string; name: string; unit: string; value: number | null; target: number; progress: number | null }[];
	/** Whether the period is over (a target can only be missed once it is). */
	periodEnded?: boolean;
	/** At_Risk customers in the run at the period's end and in the run at the previous period's end. */
	atRisk?: { current: number; previous: number; asOf: string; previousAsOf: string } | null;
	/** Scored customers and those at churn probability ≥ CHURN_PROBABILITY. */
	churn?: { scored: number; atRisk: number; asOf: string } | null;
	lowStock?: { sku: string; name: string; stock: number; reorderPoint: number }[] | null;
}

export interface Finding {
	kind: "achievement" | "action";
	rule: string;
	text: string;
	link?: string;
	count?: number;
}

export const THRESHOLDS = {
	revenuePct: 10,
	aovPct: 5,
	newCustomersPct: 10,
	newCustomersMin: 10,
	conversionPct: 10,
	refundRatePoints: 2,
	targetBehindPct: 90,
	atRiskPct: 10,
	atRiskMin: 5,
	churnProbability: 0.7,
	churnSharePct: 10,
} as const;

/** 100 × (value − compare) ÷ |compare|, or null. */
export function changePct(c: KpiChange | undefined): number | null {
	if (!c || c.value === null || c.compare === null || c.compare === 0) return null;
	// Rounded to 1e-9 so a threshold is met exactly (1.8 vs 2 is −10 %, not −9.999999999999998 %).
	return Math.round(((100 * (c.value - c.compare)) / Math.abs(c.compare)) * 1e9) / 1e9;
}

const pct1 = (x: number) => `${Math.abs(x).toFixed(1)}%`;

function money(amount: number, currency: string): string {
	return `${amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
}

function unitText(v: number, unit: string, currency: string): string {
	if (unit === "currency") return money(v, currency);
	if (unit === "percent") return `${v.toFixed(2)}%`;
	return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** Every finding of the rules above, achievements first, in the table's order. */
export function evaluateRules(input: RuleInput): Finding[] {
	const out: Finding[] = [];
	const { kpis, currency } = input;
	const prev = input.previousLabel;
	const t = THRESHOLDS;

	const revenue = changePct(kpis.revenue);
	if (revenue !== null && revenue >= t.revenuePct) out.push({ kind: "achievement", rule: "revenue_up", text: `Revenue up ${pct1(revenue)} vs ${prev} (${money(kpis.revenue?.value ?? 0, currency)}).` });
	if (revenue !== null && revenue <= -t.revenuePct) out.push({ kind: "action", rule: "revenue_down", text: `Revenue down ${pct1(revenue)} vs ${prev} (${money(kpis.revenue?.value ?? 0, currency)}): check the channel and category movers below.` });

	const aov = changePct(kpis.aov);
	if (aov !== null && aov >= t.aovPct) out.push({ kind: "achievement", rule: "aov_up", text: `AOV up ${pct1(aov)} vs ${prev} (${money(kpis.aov?.value ?? 0, currency)}).` });
	if (aov !== null && aov <= -t.aovPct) out.push({ kind: "action", rule: "aov_down", text: `AOV down ${pct1(aov)} vs ${prev} (${money(kpis.aov?.value ?? 0, currency)}): review discounts and bundles.` });

	const nc = changePct(kpis.new_customers);
	if (nc !== null && nc >= t.newCustomersPct && (kpis.new_customers?.value ?? 0) >= t.newCustomersMin) {
		out.push({ kind: "achievement", rule: "new_customers_up", text: `New customers up ${pct1(nc)} vs ${prev} (${kpis.new_customers?.value}).` });
	}

	for (const g of input.targets ?? []) {
		if (g.progress === null || g.value === null) continue;
		if (g.progress >= 100) out.push({ kind: "achievement", rule: "target_met", text: `${g.name} reached ${g.progress.toFixed(1)}% of its target (${unitText(g.value, g.unit, currency)} of ${unitText(g.target, g.unit, currency)}).` });
		else if (input.periodEnded && g.progress < t.targetBehindPct) out.push({ kind: "action", rule: "target_behind", text: `${g.name} ended at ${g.progress.toFixed(1)}% of its target (${unitText(g.value, g.unit, currency)} of ${unitText(g.target, g.unit, currency)}).` });
	}

	const conv = changePct(kpis.conversion_rate);
	if (conv !== null && conv <= -t.conversionPct) out.push({ kind: "action", rule: "conversion_down", text: `Conversion rate down ${pct1(conv)} vs ${prev} (${(kpis.conversion_rate?.value ?? 0).toFixed(2)}%): check the checkout funnel.` });

	const r = kpis.revenue;
	const f = kpis.refunds;
	if (r && f && r.value && r.compare && f.value !== null && f.compare !== null) {
		const now = (100 * f.value) / r.value;
		const before = (100 * f.compare) / r.compare;
		if (Math.round((now - before) * 1e9) / 1e9 >= t.refundRatePoints) out.push({ kind: "action", rule: "refund_rate_up", text: `Refunds are ${now.toFixed(1)}% of revenue, up from ${before.toFixed(1)}% in ${prev}: look at the return reasons.` });
	}

	const a = input.atRisk;
	if (a && a.previous > 0) {
		const growth = (100 * (a.current - a.previous)) / a.previous;
		if (growth >= t.atRiskPct && a.current >= t.atRiskMin) {
			out.push({
				kind: "action",
				rule: "at_risk_grew",
				text: `At_Risk segment grew ${pct1(growth)} (${a.previous} → ${a.current} customers, runs of ${a.previousAsOf} and ${a.asOf}): start the win-back campaign.`,
				link: `/api/v1/segments/At_Risk/customers?site=${encodeURIComponent(input.site)}&as_of=${a.asOf}&format=csv`,
				count: a.current,
			});
		}
	}

	const c = input.churn;
	if (c && c.scored > 0 && (100 * c.atRisk) / c.scored >= t.churnSharePct) {
		out.push({
			kind: "action",
			rule: "churn_risk",
			text: `${c.atRisk} of ${c.scored} scored customers (${pct1((100 * c.atRisk) / c.scored)}) have a churn probability of ${t.churnProbability} or more (run of ${c.asOf}): reach out before they lapse.`,
			link: `/api/v1/churn?site=${encodeURIComponent(input.site)}&as_of=${c.asOf}&min_prob=${t.churnProbability}&format=csv`,
			count: c.atRisk,
		});
	}

	const low = input.lowStock ?? [];
	if (low.length) {
		const named = low.slice(0, 5).map((p) => `${p.name} (${p.stock} < ${p.reorderPoint})`).join(", ");
		out.push({ kind: "action", rule: "low_stock", text: `${low.length} product${low.length === 1 ? " is" : "s are"} below the reorder point: ${named}${low.length > 5 ? ", …" : ""}. Reorder.`, count: low.length });
	}
	return [...out.filter((x) => x.kind === "achievement"), ...out.filter((x) => x.kind === "action")];
}
