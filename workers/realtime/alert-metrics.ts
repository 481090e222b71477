/**
 * Live metrics alert rules can watch (`live:events`, `live:page_views`, `live:visitors`, `live:orders`,
 * `live:revenue`), read from the per-minute history LiveSite objects flush to D1 (`live_minutes`,
 * summed over shards). Window `now`: the per-minute average of the last 5 complete minutes; baseline:
 * the per-minute average of the 60 minutes before them. So "live:events < 50 % of baseline" is a
 * traffic drop against the last hour. LiveSite's alarm evaluates rules on these metrics every minute;
 * the cron evaluates them with every other rule.
 */
import { registerMetric } from "../alerts/metrics";
import { currencyDigits } from "../lib/money";

const MINUTE = 60_000;
const RECENT = 5;
const BASELINE = 60;

const LIVE_METRICS = {
	"live:events": { column: "events", name: "Events per minute", unit: "count" },
	"live:page_views": { column: "page_views", name: "Page views per minute", unit: "count" },
	"live:visitors": { column: "visitors", name: "Visitors per minute", unit: "count" },
	"live:orders": { column: "orders", name: "Purchases per minute", unit: "count" },
	"live:revenue": { column: "revenue_minor", name: "Revenue per minute", unit: "currency" },
} as const;

/** Per-minute averages of `column` over the last 5 complete minutes and the 60 before them (null: no live history). */
export async function liveAverages(db: D1Database, site: string, column: (typeof LIVE_METRICS)[keyof typeof LIVE_METRICS]["column"], now: number): Promise<{ recent: number; baseline: number; from: number; to: number } | null> {
	const to = now - (now % MINUTE); // the current, incomplete minute is excluded
	const from = to - RECENT * MINUTE;
	const baseFrom = from - BASELINE * MINUTE;
	const row = await db
		.prepare(
			`SELECT COALESCE(SUM(CASE WHEN minute >= ?3 THEN ${column} END), 0) AS recent, COALESCE(SUM(CASE WHEN minute < ?3 THEN ${column} END), 0) AS base,
			   (SELECT MIN(minute) FROM live_minutes WHERE site = ?1) AS first
			 FROM live_minutes WHERE site = ?1 AND minute >= ?2 AND minute < ?4`,
		)
		.bind(site, baseFrom, from, to)
		.first<{ recent: number; base: number; first: number | null }>();
	// Minutes before the site's first live minute are unknown, not zero: a site without live history has no reading.
	if (!row || row.first === null || row.first >= from) return null;
	const baseMinutes = (from - Math.max(baseFrom, row.first)) / MINUTE;
	return { recent: row.recent / RECENT, baseline: row.base / baseMinutes, from, to };
}

for (const [id, m] of Object.entries(LIVE_METRICS)) {
	registerMetric(id, {
		name: m.name,
		unit: m.unit,
		windows: ["now"],
		baseline: "per-minute average of the 60 minutes before the last 5",
		usesBaselineDays: false,
		async read(env, site, _rule, now) {
			const avg = await liveAverages(env.DB, site.id, m.column, now);
			if (!avg) return { status: "no_data", reason: "no live history yet (LiveSite flushes a minute after events arrive)" };
			const scale = m.unit === "currency" ? 10 ** currencyDigits(site.currency) : 1;
			const period = `${new Date(avg.from).toISOString().slice(11, 16)}–${new Date(avg.to).toISOString().slice(11, 16)} UTC`;
			return { status: "ok", readings: [{ key: "", label: null, value: avg.recent / scale, baseline: avg.baseline / scale, period }] };
		},
	});
}
