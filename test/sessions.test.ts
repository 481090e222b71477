/** The `sessions` view: a new session after more than 30 minutes idle, per visitor, in time order. */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { storeEvents } from "../workers/pipeline/archive";
import { storedEvent } from "./helpers";

function ev(visitor: string, ts: number, name = "page_view") {
	return storedEvent({ site: "sess", visitor, ts, received_at: ts, name });
}

it("splits sessions at gaps over 30 minutes, regardless of arrival order", async () => {
	const M = 60_000;
	const t = Date.UTC(2026, 10, 20, 10);
	// Visitor a: 0, 10, 40 (gap 30 → same), 71 (gap 31 → new), 80. Visitor b: 0, 200 (new).
	// Inserted out of order, as late events arrive.
	await storeEvents(env.DB, [ev("a", t + 80 * M), ev("a", t), ev("b", t + 200 * M), ev("a", t + 40 * M, "add_to_cart"), ev("a", t + 10 * M), ev("a", t + 71 * M), ev("b", t)]);
	const rows = await env.DB.prepare("SELECT visitor, started_at, ended_at, events, page_views FROM sessions WHERE site = 'sess' ORDER BY visitor, started_at").all();
	expect(rows.results).toEqual([
		{ visitor: "a", started_at: t, ended_at: t + 40 * M, events: 3, page_views: 2 },
		{ visitor: "a", started_at: t + 71 * M, ended_at: t + 80 * M, events: 2, page_views: 2 },
		{ visitor: "b", started_at: t, ended_at: t, events: 1, page_views: 1 },
		{ visitor: "b", started_at: t + 200 * M, ended_at: t + 200 * M, events: 1, page_views: 1 },
	]);
});
