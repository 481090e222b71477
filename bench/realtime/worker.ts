/**
 * Driver Worker of bench/realtime (not part of the product). `POST /drive?site=&shards=&events=&batch=&concurrency=&visitors=&mixed=`
 * sends `events` synthetic events in record() calls of `batch` events, `concurrency` calls in flight,
 * partitioned over `shards` LiveSite objects exactly as POST /e does, and answers the wall time
 * measured here. Each call is awaited, so the time includes every object's SQLite writes.
 */
import { LiveSite } from "../../workers/realtime/live-site";
import { partitionByShard, shardStub } from "../../workers/realtime/shards";
import type { LiveEvent, LiveSiteConfig } from "../../workers/realtime/snapshot";

export { LiveSite };

const NAMES = ["page_view", "page_view", "page_view", "product_view", "product_view", "add_to_cart", "begin_checkout", "purchase"];

/**
 * Event `i` of the run. A browser's batch is one visitor's (`mixed` false: every event of batch `b`
 * belongs to visitor b mod visitors, so a batch stays one record() call whatever the shard count);
 * a server-side sender's batch mixes visitors (`mixed` true: they spread over the shards).
 */
function syntheticEvent(run: string, i: number, visitors: number, batch: number, mixed: boolean): LiveEvent {
	const name = NAMES[i % NAMES.length] ?? "page_view";
	const visitor = `bench-${run}-${mixed ? (i * 7919) % visitors : ((Math.floor(i / batch) * 7919) % visitors)}`;
	const sku = `SKU-${i % 40}`;
	return {
		id: `${run}-${i}`,
		visitor,
		ts: Date.now(),
		name,
		path: `/p/${i % 200}`,
		sku: name === "product_view" || name === "add_to_cart" ? sku : null,
		valueMinor: name === "purchase" ? 4990 : null,
		currency: name === "purchase" ? "EUR" : null,
		items: name === "purchase" ? [{ sku, qty: 1 }] : [],
		person: visitor,
	};
}

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/__bench_probe") return new Response("ok");
		if (url.pathname !== "/drive" || request.method !== "POST") return new Response("POST /drive", { status: 404 });
		const q = (k: string, d: number) => Number(url.searchParams.get(k) ?? d);
		const site = url.searchParams.get("site") ?? "bench";
		const shards = q("shards", 1);
		const total = q("events", 10_000);
		const batch = q("batch", 20);
		const concurrency = q("concurrency", 8);
		const visitors = q("visitors", 2_000);
		const mixed = url.searchParams.get("mixed") === "1";
		const run = url.searchParams.get("run") ?? crypto.randomUUID().slice(0, 8);
		const cfg: LiveSiteConfig = { id: site, timezone: "UTC", currency: "EUR", shards };
		// Build every call up front so the timed part is the record() calls only.
		const calls: { shard: number; events: LiveEvent[] }[] = [];
		for (let start = 0; start < total; start += batch) {
			const events = Array.from({ length: Math.min(batch, total - start) }, (_, k) => syntheticEvent(run, start + k, visitors, batch, mixed));
			for (const [shard, part] of partitionByShard(events, (e) => e.visitor, shards)) calls.push({ shard, events: part });
		}
		let next = 0;
		let fresh = 0;
		const t0 = performance.now();
		await Promise.all(
			Array.from({ length: concurrency }, async () => {
				while (next < calls.length) {
					const call = calls[next++];
					if (!call) break;
					const r = await shardStub(env, site, call.shard).record(cfg, call.events, Date.now(), call.shard);
					fresh += r.fresh;
				}
			}),
		);
		const ms = performance.now() - t0;
		return Response.json({ shards, mixed, events: total, fresh, calls: calls.length, ms, eventsPerSecond: (fresh / ms) * 1000 });
	},
} satisfies ExportedHandler<Env>;
