/**
 * `quality:data_health`, the metric of the built-in "Data health" alert rule (alerts/rules.ts): one
 * reading per check, each firing when above 0.
 *  - `reconciliation`: failed checks (events, orders vs rollup) of the site's latest final daily
 *    reconciliation (reconcile.ts; the cron computes it once the day is over);
 *  - `new_issues`: data-quality issues detected in the 24 hours before `now` and still open. "New" on
 *    purpose: old, known issues are listed by GET /api/v1/health/data, not re-alerted for ever.
 */
import { registerMetric } from "../alerts/metrics";
import { latestFinalReport } from "./reconcile";

/** How far back an open issue counts as new. */
export const NEW_ISSUE_WINDOW_MS = 24 * 3_600_000;

registerMetric("quality:data_health", {
	name: "Data health: failed reconciliation checks / new data-quality issues",
	unit: "count",
	windows: ["now"],
	baseline: "none",
	usesBaselineDays: false,
	async read(env, site, _rule, now) {
		const [report, issues] = await Promise.all([
			latestFinalReport(env.DB, site.id, now),
			env.DB.prepare("SELECT COUNT(*) AS n FROM data_issues WHERE site = ?1 AND resolved_at IS NULL AND detected_at > ?2 AND detected_at <= ?3")
				.bind(site.id, now - NEW_ISSUE_WINDOW_MS, now)
				.first<{ n: number }>(),
		]);
		const readings = [];
		if (report) {
			const failed = (report.events.reconciled ? 0 : 1) + (report.orders.reconciled ? 0 : 1);
			readings.push({ key: "reconciliation", label: `reconciliation of ${report.date}`, value: failed, baseline: null, period: report.date });
		}
		readings.push({ key: "new_issues", label: "new data-quality issues", value: issues?.n ?? 0, baseline: null, period: `24 h until ${new Date(now).toISOString().slice(0, 16)}Z` });
		return { status: "ok", readings };
	},
});
