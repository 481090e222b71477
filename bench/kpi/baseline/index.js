/**
 * Baseline for bench/kpi: GET /kpis?site=&from=&to= answers the dashboard's 10 default KPIs by month
 * (UTC) computed from raw rows at query time, with the same definitions as workers/metrics (revenue =
 * total − tax of non-cancelled orders; refunds by their day, cancelled orders' refunds excluded;
 * sessions split at 30 minutes idle; a visitor counted once per day).
 */
const SESSIONS = `
	ev AS (SELECT visitor, id, ts, name, channel, device, COALESCE(country, 'unknown') AS country FROM events WHERE site = ?1 AND ts >= ?2 AND ts < ?3),
	marked AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY visitor ORDER BY ts, id) <= 1800000 THEN 0 ELSE 1 END AS is_start FROM ev),
	numbered AS (SELECT *, SUM(is_start) OVER (PARTITION BY visitor ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS sno FROM marked),
	sess AS (SELECT visitor, sno, MIN(ts) AS started, MAX(name = 'purchase') AS bought,
		MAX(CASE WHEN is_start THEN channel END) AS channel, MAX(CASE WHEN is_start THEN device END) AS device, MAX(CASE WHEN is_start THEN country END) AS country
		FROM numbered GROUP BY visitor, sno)`;

const month = (col) => `strftime('%Y-%m', ${col} / 1000, 'unixepoch')`;

async function kpis(db, site, from, to) {
	const lo = Date.parse(`${from}T00:00:00Z`);
	const hi = Date.parse(`${to}T00:00:00Z`) + 86_400_000;
	const [orders, lines, refunds, spend, web] = await db.batch([
		db.prepare(`SELECT ${month("o.placed_at")} AS m, COUNT(*) AS orders, SUM(o.total_minor - o.tax_minor) AS revenue,
			SUM(NOT EXISTS (SELECT 1 FROM orders p WHERE p.site = o.site AND p.customer_id = o.customer_id AND p.status <> 'cancelled'
				AND (p.placed_at < o.placed_at OR (p.placed_at = o.placed_at AND p.order_id < o.order_id)))) AS first_orders
			FROM orders o WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled' GROUP BY m`).bind(site, lo, hi),
		db.prepare(`SELECT m, SUM(CASE WHEN cost IS NULL THEN 0 ELSE qty * price END) AS costed, SUM(qty * COALESCE(cost, 0)) AS cogs FROM (
			SELECT ${month("o.placed_at")} AS m, i.qty, i.unit_price_minor AS price, COALESCE(i.unit_cost_minor, p.unit_cost_minor) AS cost
			FROM orders o CROSS JOIN order_items i ON i.site = o.site AND i.order_id = o.order_id LEFT JOIN products p ON p.site = i.site AND p.sku = i.sku
			WHERE o.site = ?1 AND o.placed_at >= ?2 AND o.placed_at < ?3 AND o.status <> 'cancelled') GROUP BY m`).bind(site, lo, hi),
		db.prepare(`SELECT ${month("r.created_at")} AS m, SUM(r.amount_minor) AS refunds FROM refunds r LEFT JOIN orders o ON o.site = r.site AND o.order_id = r.order_id
			WHERE r.site = ?1 AND r.created_at >= ?2 AND r.created_at < ?3 AND (o.status IS NULL OR o.status <> 'cancelled') GROUP BY m`).bind(site, lo, hi),
		db.prepare(`SELECT substr(day, 1, 7) AS m, SUM(amount_minor) AS spend FROM marketing_spend WHERE site = ?1 AND day >= ?2 AND day <= ?3 GROUP BY m`).bind(site, from, to),
		db.prepare(`WITH ${SESSIONS},
			daily AS (SELECT date(started / 1000, 'unixepoch') AS d, COUNT(DISTINCT visitor) AS visitors, COUNT(*) AS sessions, SUM(bought) AS bought
				FROM sess WHERE started >= ?2 AND started < ?3 GROUP BY d)
			SELECT substr(d, 1, 7) AS m, SUM(visitors) AS visitors, SUM(sessions) AS sessions, SUM(bought) AS bought FROM daily GROUP BY m`).bind(site, lo, hi),
	]);
	const months = new Map();
	const add = (rows) => {
		for (const r of rows.results) months.set(r.m, { ...(months.get(r.m) ?? {}), ...r });
	};
	[orders, lines, refunds, spend, web].forEach(add);
	const sum = (k) => [...months.values()].reduce((s, r) => s + (r[k] ?? 0), 0);
	const t = Object.fromEntries(["orders", "revenue", "first_orders", "costed", "cogs", "refunds", "spend", "visitors", "sessions", "bought"].map((k) => [k, sum(k)]));
	const div = (a, b) => (b ? a / b : null);
	return {
		months: months.size,
		totals: {
			revenue: t.revenue / 100,
			net_revenue: (t.revenue - t.refunds) / 100,
			orders: t.orders,
			aov: div(t.revenue, t.orders) === null ? null : t.revenue / t.orders / 100,
			conversion_rate: div(100 * t.bought, t.sessions),
			gross_margin: div(100 * (t.costed - t.cogs), t.costed),
			new_customers: t.first_orders,
			cac: t.first_orders ? t.spend / t.first_orders / 100 : null,
			return_customer_rate: div(100 * (t.orders - t.first_orders), t.orders),
			revenue_per_visitor: t.visitors ? t.revenue / t.visitors / 100 : null,
		},
	};
}

export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		if (url.pathname !== "/kpis") return new Response("not found", { status: 404 });
		const site = url.searchParams.get("site") ?? "demo";
		const from = url.searchParams.get("from");
		const to = url.searchParams.get("to");
		if (!from || !to) return Response.json({ error: "from and to are required" }, { status: 400 });
		return Response.json(await kpis(env.DB, site, from, to));
	},
};
