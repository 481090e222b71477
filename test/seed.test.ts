/** The demo seed: deterministic, inside the acceptance window, and valid against the real wire schema. */
import { describe, expect, it } from "vitest";
import { parseEvent } from "../workers/ingest/schema";
import { generateEvents, toBatches } from "../scripts/seed-events.mjs";
import { postEvents } from "./helpers";

const NOW = Date.UTC(2026, 10, 26, 18);

describe("demo event seed", () => {
	it("is deterministic for a seed and different for another", () => {
		const a = generateEvents(42, 50, 3, NOW);
		expect(generateEvents(42, 50, 3, NOW)).toEqual(a);
		expect(generateEvents(7, 50, 3, NOW).map((e: { id: string }) => e.id)).not.toEqual(a.map((e: { id: string }) => e.id));
	});

	it("produces only events the /e validator accepts, within the 7-day window, with unique ids", () => {
		const events = generateEvents(42, 120, 6, NOW);
		expect(events.length).toBeGreaterThan(500);
		const problems = events.map((e: unknown) => parseEvent(e, NOW)).filter((r: { ok: boolean }) => !r.ok);
		expect(problems).toEqual([]);
		expect(new Set(events.map((e: { id: string }) => e.id)).size).toBe(events.length);
		const names = new Set(events.map((e: { name: string }) => e.name));
		for (const n of ["page_view", "product_view", "add_to_cart", "begin_checkout", "purchase"]) expect(names).toContain(n);
	});

	it("is accepted whole by the running Worker", async () => {
		const events = generateEvents(3, 40, 2, Date.now());
		let accepted = 0;
		for (const batch of toBatches(events)) {
			const res = await postEvents({ site: "demo", events: batch.events }, { "User-Agent": batch.ua });
			expect(res.status, await res.clone().text()).toBe(202);
			accepted += ((await res.json()) as { accepted: number }).accepted;
		}
		expect(accepted).toBe(events.length);
	});
});
