/** LiveSite: ledger, dedupe, per-minute window maths, restart survival, alarm pruning, and the API. */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LiveSite } from "../workers/realtime/live-site";
import { getJson, pageView, postEvents } from "./helpers";

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0); // a minute boundary

function stubFor(name: string) {
	return env.LIVE.get(env.LIVE.idFromName(name));
}

describe("LiveSite", () => {
	it("counts events and distinct visitors per minute and ignores resent ids (hand-computed)", async () => {
		const live = stubFor("window-maths");
		// minute 0: a, b, a (3 events, 2 visitors); minute 1: c (1, 1); minute 7: a, d (2, 2)
		await live.record([{ id: "e1", visitor: "a", day: "2026-11-26" }, { id: "e2", visitor: "b", day: "2026-11-26" }, { id: "e3", visitor: "a", day: "2026-11-26" }], T0 + 5_000);
		await live.record([{ id: "e4", visitor: "c", day: "2026-11-26" }], T0 + MIN + 59_999);
		const dup = await live.record([{ id: "e1", visitor: "a", day: "2026-11-26" }, { id: "e5", visitor: "a", day: "2026-11-26" }, { id: "e6", visitor: "d", day: "2026-11-25" }], T0 + 7 * MIN);
		expect(dup).toEqual({ fresh: 2, duplicates: 1 });

		const snap = await live.snapshot(T0 + 7 * MIN + 30_000);
		expect(snap.minutes).toHaveLength(60);
		expect(snap.minutes.at(-1)).toEqual({ minute: T0 + 7 * MIN, events: 2, visitors: 2 });
		const byMinute = new Map(snap.minutes.map((p) => [p.minute, p]));
		expect(byMinute.get(T0)).toEqual({ minute: T0, events: 3, visitors: 2 });
		expect(byMinute.get(T0 + MIN)).toEqual({ minute: T0 + MIN, events: 1, visitors: 1 });
		expect(snap.events60m).toBe(6);
		expect(snap.visitors60m).toBe(4); // a, b, c, d
		expect(snap.visitorsNow).toBe(2); // minutes 3..7: a, d

		expect(await live.ledger("2026-11-26")).toEqual({ accepted: 5, rejected: 0, bot: 0, imported: 0 });
		expect(await live.ledger("2026-11-25")).toEqual({ accepted: 1, rejected: 0, bot: 0, imported: 0 });
		// An hour later the window is empty.
		const later = await live.snapshot(T0 + 68 * MIN);
		expect(later.events60m).toBe(0);
	});

	it("survives eviction: counts and dedupe memory come back from SQLite", async () => {
		const live = stubFor("restart");
		await live.record([{ id: "r1", visitor: "a", day: "2026-11-26" }], T0);
		await live.count("bot", "2026-11-26", 3);
		await evictDurableObject(live);
		const again = stubFor("restart");
		expect(await again.record([{ id: "r1", visitor: "a", day: "2026-11-26" }], T0 + 1000)).toEqual({ fresh: 0, duplicates: 1 });
		expect(await again.ledger("2026-11-26")).toEqual({ accepted: 1, rejected: 0, bot: 3, imported: 0 });
		expect((await again.snapshot(T0 + 2000)).events60m).toBe(1);
	});

	it("alarm prunes minutes older than an hour and keeps recent ones", async () => {
		const live = stubFor("prune");
		const now = Date.now();
		await live.record([{ id: "old", visitor: "a", day: "2026-11-26" }], now - 2 * 60 * MIN);
		await live.record([{ id: "new", visitor: "b", day: "2026-11-26" }], now);
		expect(await runDurableObjectAlarm(live)).toBe(true);
		const minutes = await runInDurableObject(live, (_obj: LiveSite, state) => state.storage.sql.exec<{ minute: number }>("SELECT minute FROM minute_events").toArray());
		expect(minutes).toHaveLength(1);
		// Dedupe memory is kept for 8 days, so the old id is still known.
		expect(await live.record([{ id: "old", visitor: "a", day: "2026-11-26" }], now)).toEqual({ fresh: 0, duplicates: 1 });
	});
});

describe("GET /api/v1/realtime", () => {
	it("shows events and visitors the moment they are accepted", async () => {
		const before = await getJson<{ events60m: number; visitorsNow: number }>("/api/v1/realtime?site=demo");
		expect(before.status).toBe(200);
		await postEvents({ site: "demo", events: [pageView(), pageView()] });
		await postEvents({ site: "demo", events: [pageView({ visitor_id: "server-visitor-1" })] });
		const after = await getJson<{ events60m: number; visitorsNow: number; minutes: unknown[] }>("/api/v1/realtime?site=demo");
		expect(after.body.events60m - before.body.events60m).toBe(3);
		expect(after.body.visitorsNow - before.body.visitorsNow).toBe(2); // one hashed browser + one server-side visitor
		expect(after.body.minutes).toHaveLength(60);
	});

	it("answers 400 without a site and 404 for an unknown one", async () => {
		const missing = await getJson<{ fields: { field: string }[] }>("/api/v1/realtime");
		expect(missing.status).toBe(400);
		expect(missing.body.fields[0]?.field).toBe("site");
		expect((await getJson("/api/v1/realtime?site=nope")).status).toBe(404);
	});
});

describe("GET /api/v1/health/pipeline", () => {
	it.each([
		["", "site"],
		["?site=demo&date=2026-02-30", "date"],
		["?site=demo&date=26-11-2026", "date"],
		["?site=Demo!", "site"],
	])("answers 400 naming the field for %s", async (query, field) => {
		const res = await getJson<{ fields: { field: string }[] }>(`/api/v1/health/pipeline${query}`);
		expect(res.status).toBe(400);
		expect(res.body.fields.map((f) => f.field)).toContain(field);
	});

	it("answers 404 for an unknown site and zeros for a quiet day", async () => {
		expect((await getJson("/api/v1/health/pipeline?site=nope")).status).toBe(404);
		const quiet = await getJson("/api/v1/health/pipeline?site=demo&date=2020-01-01");
		expect(quiet.body).toMatchObject({ accepted: 0, stored: 0, archived: 0, rejected: 0, bots: 0, reconciled: true });
	});
});
