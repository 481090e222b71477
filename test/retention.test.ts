/**
 * Retention (issue 14 item 12): `retention_days` on sites through POST /api/v1/sites, and the cron's
 * bounded purge (workers/jobs/retention.ts) of raw events in D1 and archive objects in R2 older than N
 * whole UTC days, keeping the KPI rollups. Real D1 and R2; expected counts worked out by hand below.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runMaintenance } from "../workers/jobs/scheduled";
import { purgeExpired, retentionCutoff } from "../workers/jobs/retention";
import { refreshRollups, sweepRollups } from "../workers/metrics/rollup";
import { archiveEvents, storeEvents } from "../workers/pipeline/archive";
import { api, getJson, listKeys, storedEvent } from "./helpers";

const DAY = 86_400_000;
/** "Now" for the purge: 2026-11-20 12:00 UTC. With 30 days the cutoff is 2026-10-21 00:00 UTC. */
const NOW = Date.UTC(2026, 10, 20, 12);
const at = (day: number, h: number, m = 0) => Date.UTC(2026, 9, day, h, m); // October 2026

async function createSite(id: string, retention_days?: number | null): Promise<Response> {
	return api("POST", "/api/v1/sites", { id, name: `Retention ${id}`, timezone: "UTC", currency: "EUR", ...(retention_days === undefined ? {} : { retention_days }) });
}

/** Stores and archives events (one archive object per (site, UTC day, hour) of the batch). */
async function load(events: ReturnType<typeof storedEvent>[]): Promise<void> {
	await storeEvents(env.DB, events);
	await archiveEvents(env.DB, env.ARCHIVE, events.map((e) => ({ site: e.site, id: e.id })), NOW - DAY);
}

async function eventIds(site: string): Promise<string[]> {
	const rows = await env.DB.prepare("SELECT id FROM events WHERE site = ? ORDER BY ts, id").bind(site).all<{ id: string }>();
	return rows.results.map((r) => r.id);
}

async function kpis(site: string) {
	const { status, body } = await getJson<{ kpis: { id: string; total: { value: number | null }; series: { start?: string; bucket?: string; value: number | null }[] }[] }>(
		`/api/v1/kpis?site=${site}&ids=sessions,visitors&from=2026-10-18&to=2026-10-25&grain=day`,
	);
	expect(status).toBe(200);
	return Object.fromEntries(body.kpis.map((k) => [k.id, { total: k.total.value, days: k.series.map((p) => p.value ?? 0) }]));
}

describe("retention_days on the site admin API", () => {
	it("is null (keep forever) unless set, validated (≥ 8 whole days) with the field named, and listed", async () => {
		expect((await createSite("ret-api")).status).toBe(201);
		const tooShort = await createSite("ret-api", 3);
		expect(tooShort.status).toBe(400);
		expect(JSON.stringify(await tooShort.json())).toContain("retention_days");
		const fractional = await createSite("ret-api", 30.5);
		expect(fractional.status).toBe(400);
		const set = await createSite("ret-api", 90);
		expect(set.status).toBe(200);
		expect(await set.json()).toMatchObject({ id: "ret-api", retention_days: 90 });
		const { body } = await getJson<{ sites: { id: string; retention_days: number | null }[] }>("/api/v1/sites");
		expect(body.sites.find((s) => s.id === "ret-api")?.retention_days).toBe(90);
		expect(body.sites.find((s) => s.id === "demo")?.retention_days).toBeNull();
		// An update is a full replacement, as for every other field: leaving it out goes back to keep-forever.
		expect((await createSite("ret-api")).status).toBe(200);
		const row = await env.DB.prepare("SELECT retention_days FROM sites WHERE id = 'ret-api'").first<{ retention_days: number | null }>();
		expect(row?.retention_days).toBeNull();
	});
});

describe("the retention purge", () => {
	it("cuts off at UTC midnight N days before today's", () => {
		expect(new Date(retentionCutoff(NOW, 30)).toISOString()).toBe("2026-10-21T00:00:00.000Z");
		expect(new Date(retentionCutoff(Date.UTC(2026, 10, 20, 0, 0), 30)).toISOString()).toBe("2026-10-21T00:00:00.000Z");
		expect(new Date(retentionCutoff(Date.UTC(2026, 10, 19, 23, 59, 59, 999), 30)).toISOString()).toBe("2026-10-20T00:00:00.000Z");
	});

	it("deletes exactly the expired events and archive objects, keeps the KPI numbers of purged days, and is idempotent", async () => {
		expect((await createSite("ret", 30)).status).toBe(201);
		expect((await createSite("ret-keep")).status).toBe(201); // no policy: never touched
		const ev = (site: string, visitor: string, ts: number) => storedEvent({ site, visitor, ts, received_at: ts + 500 });
		// Expired (before 2026-10-21 00:00): Oct 18 v1 10:00 + 10:05 (one session), v2 15:00; Oct 20 v1 20:00.
		const old = [ev("ret", "v1", at(18, 10)), ev("ret", "v1", at(18, 10, 5)), ev("ret", "v2", at(18, 15)), ev("ret", "v1", at(20, 20))];
		// Kept: Oct 21 v1 00:10 + 00:20 (one session, 4 h after the previous one), Oct 25 v3 12:00.
		const kept = [ev("ret", "v1", at(21, 0, 10)), ev("ret", "v1", at(21, 0, 20)), ev("ret", "v3", at(25, 12))];
		const other = [ev("ret-keep", "v9", at(1, 9)), ev("ret-keep", "v9", at(18, 10))];
		await load([...old, ...kept, ...other]);
		await refreshRollups(env, "ret");

		// By hand: sessions per day Oct 18…25 = 2,0,1,1,0,0,0,1 (total 5); visitors the same (one visitor per session here).
		const before = await kpis("ret");
		expect(before.sessions).toEqual({ total: 5, days: [2, 0, 1, 1, 0, 0, 0, 1] });
		expect(before.visitors).toEqual({ total: 5, days: [2, 0, 1, 1, 0, 0, 0, 1] });
		// Objects by (day, hour): Oct 18 h10, Oct 18 h15, Oct 20 h20 expire; Oct 21 h00, Oct 25 h12 stay.
		expect(await listKeys(env.ARCHIVE, "raw/site=ret/")).toHaveLength(5);
		const keptKeys = [...(await listKeys(env.ARCHIVE, "raw/site=ret/dt=2026-10-21/")), ...(await listKeys(env.ARCHIVE, "raw/site=ret/dt=2026-10-25/"))];
		expect(keptKeys).toHaveLength(2);
		const otherKeys = await listKeys(env.ARCHIVE, "raw/site=ret-keep/");
		expect(otherKeys).toHaveLength(2);

		const report = await purgeExpired(env, NOW);
		expect(report).toMatchObject({ events: 4, objects: 3, deferred: [], more: false });
		expect(report.sites).toBeGreaterThanOrEqual(1);
		expect(await eventIds("ret")).toEqual(kept.map((e) => e.id));
		expect((await listKeys(env.ARCHIVE, "raw/site=ret/")).sort()).toEqual(keptKeys.sort());
		expect((await eventIds("ret-keep")).sort()).toEqual(other.map((e) => e.id).sort());
		expect(await listKeys(env.ARCHIVE, "raw/site=ret-keep/")).toEqual(otherKeys);

		// The rollups were not touched: nothing marked dirty, same numbers, also after a rollup sweep.
		const dirty = await env.DB.prepare("SELECT COUNT(*) AS n FROM rollup_dirty WHERE site = 'ret'").first<{ n: number }>();
		expect(dirty?.n).toBe(0);
		expect(await kpis("ret")).toEqual(before);
		await sweepRollups(env);
		expect(await kpis("ret")).toEqual(before);

		// Idempotent: a repeat finds nothing.
		expect(await purgeExpired(env, NOW)).toMatchObject({ events: 0, objects: 0, more: false });
		expect(await eventIds("ret")).toEqual(kept.map((e) => e.id));
		expect(await listKeys(env.ARCHIVE, "raw/site=ret/")).toHaveLength(2);

		// Five days later the cutoff is 2026-10-26 00:00: the rest expires too; the KPIs still stand.
		expect(await purgeExpired(env, NOW + 5 * DAY)).toMatchObject({ events: 3, objects: 2 });
		expect(await eventIds("ret")).toEqual([]);
		expect(await kpis("ret")).toEqual(before);
	});

	it("is bounded per fire: limits on rows and objects, and the next fires finish the backlog", async () => {
		expect((await createSite("ret-big", 30)).status).toBe(201);
		// 25 expired events over 3 hours (3 objects) and 1 kept event.
		const events = Array.from({ length: 25 }, (_, i) => storedEvent({ site: "ret-big", visitor: `v${i}`, ts: at(10, 9 + (i % 3), i), received_at: at(10, 12) }));
		const keep = storedEvent({ site: "ret-big", visitor: "vk", ts: at(22, 9), received_at: at(22, 9) });
		await load([...events, keep]);
		await refreshRollups(env, "ret-big"); // rolled up, so nothing holds the purge back
		expect(await listKeys(env.ARCHIVE, "raw/site=ret-big/")).toHaveLength(4);

		// Other policy sites of this file have nothing left to purge, so all of a fire's budget goes here.
		const limits = { events: 10, objects: 2, eventsPerStatement: 4 };
		const fires = [];
		for (let i = 0; i < 5; i++) fires.push(await purgeExpired(env, NOW, limits));
		expect(fires.map((f) => [f.events, f.objects, f.more])).toEqual([
			[10, 2, true],
			[10, 1, true],
			[5, 0, false],
			[0, 0, false],
			[0, 0, false],
		]);
		expect(await eventIds("ret-big")).toEqual([keep.id]);
		expect(await listKeys(env.ARCHIVE, "raw/site=ret-big/")).toEqual(await listKeys(env.ARCHIVE, "raw/site=ret-big/dt=2026-10-22/"));
	});

	it("waits with a site's event purge while an old hour's rollup is still owed, then purges after the sweep", async () => {
		expect((await createSite("ret-dirty", 30)).status).toBe(201);
		const e1 = storedEvent({ site: "ret-dirty", visitor: "v1", ts: at(15, 8), received_at: at(15, 8) });
		const e2 = storedEvent({ site: "ret-dirty", visitor: "v2", ts: at(15, 9), received_at: at(15, 9) });
		// Stored like a backfill import: the insert trigger marks both hours dirty; no rollup has run.
		await load([e1, e2]);
		const report = await purgeExpired(env, NOW);
		expect(report.deferred).toEqual(["ret-dirty"]);
		expect(report.objects).toBe(2); // the archive does not feed rollups: its purge goes ahead
		expect((await eventIds("ret-dirty")).sort()).toEqual([e1.id, e2.id].sort());

		// The cron's order: rollup sweep, then purge. The rollup counted both sessions before the rows went.
		const maintenance = await runMaintenance(env, NOW);
		expect(maintenance.retention).toMatchObject({ events: 2, deferred: [] });
		expect(await eventIds("ret-dirty")).toEqual([]);
		const { body } = await getJson<{ kpis: { id: string; total: { value: number } }[] }>(`/api/v1/kpis?site=ret-dirty&ids=sessions&from=2026-10-15&to=2026-10-15&grain=day`);
		expect(body.kpis[0]?.total.value).toBe(2);
	});
});
