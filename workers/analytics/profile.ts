/**
 * A customer's nightly analytics for the profile (GET /api/v1/customers/{id}): their RFM scores and
 * segment in the latest complete run, their segment on every kept day (segment history), and the CLV
 * model's view of them. CLV money is left out (null) for principals that may not see strategic data.
 */
import { z } from "@hono/zod-openapi";
import { currencyDigits } from "../lib/money";
import { OTHER_SEGMENT, SEGMENTS } from "./rfm";

export const CustomerAnalyticsSchema = z
	.object({
		as_of: z.string().nullable().describe("the latest complete nightly run's day; null before the first run"),
		rfm: z
			.object({
				recency_days: z.number().int(),
				frequency: z.number().int(),
				monetary: z.number(),
				r: z.number().int(),
				f: z.number().int(),
				m: z.number().int(),
				segment: z.string(),
				action: z.string(),
			})
			.nullable()
			.describe("null when the customer had no order in the RFM window (365 days to as_of)"),
		segment_history: z.array(z.object({ as_of: z.string(), segment: z.string(), r: z.number().int(), f: z.number().int(), m: z.number().int() })).describe("oldest first, on the days whose scores are kept"),
		clv: z
			.object({
				p_alive: z.number(),
				expected_30: z.number(),
				expected_90: z.number(),
				expected_365: z.number(),
				expected_spend: z.number().nullable().describe("null for the operations role"),
				clv: z.number().nullable().describe("12 months, 1 % a month discount, gross margin; null for the operations role"),
			})
			.nullable(),
		next_action: z
			.object({ action: z.string(), reason: z.string() })
			.nullable()
			.describe("the next best action of the latest run (GET /api/v1/actions), with its reason; null when the customer was not in its population"),
	})
	.openapi("CustomerAnalytics");
export type CustomerAnalytics = z.infer<typeof CustomerAnalyticsSchema>;

const ACTIONS = new Map<string, string>([...SEGMENTS.map((s) => [s.name, s.action] as const), [OTHER_SEGMENT.name, OTHER_SEGMENT.action]]);

export async function customerAnalytics(db: D1Database, site: { id: string; currency: string }, customerId: string, strategic: boolean): Promise<CustomerAnalytics> {
	const run = await db.prepare("SELECT MAX(as_of) AS as_of FROM analytics_runs WHERE site = ? AND status = 'complete'").bind(site.id).first<{ as_of: string | null }>();
	const asOf = run?.as_of ?? null;
	if (!asOf) return { as_of: null, rfm: null, segment_history: [], clv: null, next_action: null };
	const [history, clv, action] = await db.batch([
		db.prepare("SELECT as_of, recency_days, frequency, monetary_minor, r, f, m, segment FROM rfm_scores WHERE site = ? AND customer_id = ? AND as_of <= ? ORDER BY as_of").bind(site.id, customerId, asOf),
		db.prepare("SELECT p_alive, expected_30, expected_90, expected_365, expected_spend_minor, clv_minor FROM clv_scores WHERE site = ? AND customer_id = ? AND as_of = ?").bind(site.id, customerId, asOf),
		db.prepare("SELECT action, reason FROM next_actions WHERE site = ? AND customer_id = ? AND as_of = ?").bind(site.id, customerId, asOf),
	]);
	type H = { as_of: string; recency_days: number; frequency: number; monetary_minor: number; r: number; f: number; m: number; segment: string };
	type V = { p_alive: number; expected_30: number; expected_90: number; expected_365: number; expected_spend_minor: number; clv_minor: number };
	const rows = (history?.results ?? []) as H[];
	const latest = rows.find((h) => h.as_of === asOf);
	const value = (clv?.results as V[] | undefined)?.[0];
	const major = (minor: number) => Math.round(minor) / 10 ** currencyDigits(site.currency);
	return {
		as_of: asOf,
		rfm: latest
			? { recency_days: latest.recency_days, frequency: latest.frequency, monetary: major(latest.monetary_minor), r: latest.r, f: latest.f, m: latest.m, segment: latest.segment, action: ACTIONS.get(latest.segment) ?? "" }
			: null,
		segment_history: rows.map((h) => ({ as_of: h.as_of, segment: h.segment, r: h.r, f: h.f, m: h.m })),
		clv: value
			? {
					p_alive: value.p_alive,
					expected_30: value.expected_30,
					expected_90: value.expected_90,
					expected_365: value.expected_365,
					expected_spend: strategic ? major(value.expected_spend_minor) : null,
					clv: strategic ? major(value.clv_minor) : null,
				}
			: null,
		next_action: ((action?.results ?? []) as { action: string; reason: string }[])[0] ?? null,
	};
}
