/** Cron maintenance: the archive sweeper and daily salt rotation. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import worker from "../workers/index";
import { dailySalt, visitorHash } from "../workers/ingest/visitor";
import { runMaintenance, SWEEP_AFTER_MS } from "../workers/jobs/scheduled";
import { storeEvents } from "../workers/pipeline/archive";
import { listKeys, readArchive, storedEvent } from "./helpers";

function ev(ts: number, received: number) {
	return storedEvent({ ts, received_at: received });
}

it("archives events that reached D1 but never R2, once they are older than the sweep delay", async () => {
	const now = Date.UTC(2026, 10, 26, 12);
	const stale = ev(Date.UTC(2026, 10, 24, 9, 15), now - SWEEP_AFTER_MS - 1);
	const fresh = ev(Date.UTC(2026, 10, 24, 9, 20), now - 1000);
	await storeEvents(env.DB, [stale, fresh]);
	const report = await runMaintenance(env, now);
	expect(report).toMatchObject({ swept: 1, objects: 1 });
	const keys = await listKeys(env.ARCHIVE, "raw/site=demo/dt=2026-11-24/hour=09/");
	expect(keys).toHaveLength(1);
	expect((await readArchive(env.ARCHIVE, keys[0] as string)).map((r) => r.id)).toEqual([stale.id]);
	// Running again finds nothing stale.
	expect((await runMaintenance(env, now)).swept).toBe(0);
});

it("rotates the visitor salt daily and forgets salts older than yesterday", async () => {
	const s1 = await dailySalt(env.DB, "2026-11-20");
	const s2 = await dailySalt(env.DB, "2026-11-21");
	expect(s1).toMatch(/^[0-9a-f]{64}$/);
	expect(s2).not.toBe(s1);
	expect(await dailySalt(env.DB, "2026-11-20")).toBe(s1);
	// Same browser, different day → a different, unlinkable visitor id.
	expect(await visitorHash(s1, "demo", "203.0.113.7", "UA")).not.toBe(await visitorHash(s2, "demo", "203.0.113.7", "UA"));
	expect(await visitorHash(s1, "demo", "203.0.113.7", "UA")).toBe(await visitorHash(s1, "demo", "203.0.113.7", "UA"));

	const ctx = createExecutionContext();
	await worker.scheduled(createScheduledController({ scheduledTime: Date.UTC(2026, 10, 22, 0, 10), cron: "*/10 * * * *" }), env);
	await waitOnExecutionContext(ctx);
	const left = await env.DB.prepare("SELECT day FROM salts ORDER BY day").all<{ day: string }>();
	expect(left.results.map((r) => r.day)).toEqual(["2026-11-21"]);
});

it("prunes webhook delivery records once they are past the replay window", async () => {
	const now = Date.UTC(2026, 10, 26, 12);
	await env.DB.batch([
		env.DB.prepare("INSERT INTO webhook_deliveries (site, signature, received_at) VALUES ('demo', 'sha256=old', ?)").bind(now - 11 * 60_000),
		env.DB.prepare("INSERT INTO webhook_deliveries (site, signature, received_at) VALUES ('demo', 'sha256=new', ?)").bind(now - 60_000),
	]);
	expect((await runMaintenance(env, now)).webhookDeliveriesPruned).toBe(1);
	const left = await env.DB.prepare("SELECT signature FROM webhook_deliveries").all<{ signature: string }>();
	expect(left.results).toEqual([{ signature: "sha256=new" }]);
});
