// Baseline Worker for bench/import (see wrangler.toml). Body: a JSON array of customer records
// { customer_id, created_at (ISO), country, channel, is_subscriber }. Answers { rows, changes, ms }.
const SQL =
	"INSERT INTO customers (site, customer_id, created_at, channel, country, is_subscriber, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
const BATCH = 100;

const values = (site, r, now) => [site, r.customer_id, Date.parse(r.created_at), r.channel ?? null, r.country ?? null, r.is_subscriber ? 1 : 0, now];

export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		if (request.method !== "POST") return new Response("POST /insert-loop | /insert-batch | /reset\n", { status: 404 });
		const site = url.searchParams.get("site") ?? "demo";
		if (url.pathname === "/reset") {
			const r = await env.DB.prepare("DELETE FROM customers WHERE site = ?").bind(site).run();
			return Response.json({ deleted: r.meta.changes });
		}
		if (url.pathname !== "/insert-loop" && url.pathname !== "/insert-batch") return new Response("not found\n", { status: 404 });
		const rows = await request.json();
		const now = Date.now(); // workerd's clock advances across I/O, so `ms` below is the time spent in D1 calls
		let changes = 0;
		if (url.pathname === "/insert-loop") {
			// The naive way: one awaited statement per row.
			for (const r of rows) changes += (await env.DB.prepare(SQL).bind(...values(site, r, now)).run()).meta.changes;
		} else {
			const stmt = env.DB.prepare(SQL);
			for (let i = 0; i < rows.length; i += BATCH) {
				const results = await env.DB.batch(rows.slice(i, i + BATCH).map((r) => stmt.bind(...values(site, r, now))));
				for (const res of results) changes += res.meta.changes;
			}
		}
		return Response.json({ rows: rows.length, changes, ms: Date.now() - now });
	},
};
