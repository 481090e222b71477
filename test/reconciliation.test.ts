/**
 * Reconciliation under stress: 10,000 events through the front door, with resent duplicate batches
 * and a D1 outage that forces retries (and dead letters, replayed). At the end D1 and R2 each hold
 * every accepted event exactly once: accepted = stored = archived.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { api, getJson, listKeys, pageView, postEvents, purchase, readArchive, waitFor } from "./helpers";

interface Health {
	accepted: number;
	stored: number;
	archived: number;
	pending_archive: number;
	dead_letters: number;
	reconciled: boolean;
	bots: number;
}

it("10,000 events with duplicates and forced retries reconcile exactly", async () => {
	const day = new Date().toISOString().slice(0, 10);
	const startOfDay = Date.parse(`${day}T00:00:00Z`);
	const now = Date.now();
	// Spread over today so far (and never before midnight UTC, so every event belongs to `day`).
	const ts = (i: number) => startOfDay + Math.floor(((now - startOfDay - 1000) * i) / 10_000);
	const events = Array.from({ length: 10_000 }, (_, i) => (i % 10 === 0 ? purchase({ ts: ts(i) }) : pageView({ ts: ts(i) })));
	const batches = Array.from({ length: 20 }, (_, b) => events.slice(b * 500, b * 500 + 500));

	for (const [b, batch] of batches.entries()) {
		if (b === 8) await env.DB.exec("ALTER TABLE events RENAME TO events_offline"); // D1 outage for batches 8–11
		if (b === 12) await env.DB.exec("ALTER TABLE events_offline RENAME TO events");
		const res = await postEvents({ site: "demo", events: batch });
		expect(res.status).toBe(202);
		if (b % 5 === 0) expect((await postEvents({ site: "demo", events: batch })).status).toBe(202); // a resent batch
	}
	// A bot's traffic is counted, not stored.
	await postEvents({ site: "demo", events: [pageView()] }, { "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" });

	const settle = async () =>
		waitFor(
			async () => {
				const { body } = await getJson<Health>(`/api/v1/health/pipeline?site=demo&date=${day}`);
				return body.stored + body.dead_letters >= body.accepted && body.pending_archive === 0 ? body : undefined;
			},
			60_000,
			200,
		);
	const before = await settle();
	expect(before.accepted).toBe(10_000);
	if (before.dead_letters > 0) {
		const replay = await api("POST", "/api/v1/pipeline/dead-letters/replay?site=demo");
		expect(replay.status).toBe(200);
	}
	const health = await waitFor(
		async () => {
			const { body } = await getJson<Health>(`/api/v1/health/pipeline?site=demo&date=${day}`);
			return body.reconciled && body.dead_letters === 0 ? body : undefined;
		},
		60_000,
		200,
	);
	expect(health).toMatchObject({ accepted: 10_000, stored: 10_000, archived: 10_000, pending_archive: 0, bots: 1 });

	// Check by id, not just by count: D1 holds each id once, R2 objects hold each id once.
	const d1 = await env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM events WHERE site = 'demo'").first<{ n: number; d: number }>();
	expect(d1).toEqual({ n: 10_000, d: 10_000 });
	const keys = await listKeys(env.ARCHIVE, `raw/site=demo/dt=${day}/`);
	const archivedIds = (await Promise.all(keys.map((k) => readArchive(env.ARCHIVE, k)))).flat().map((r) => String(r.id));
	expect(archivedIds).toHaveLength(10_000);
	expect(new Set(archivedIds)).toEqual(new Set(events.map((e) => String(e.id))));
}, 180_000);
