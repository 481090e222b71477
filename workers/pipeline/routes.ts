/**
 * Pipeline operations API: reconciliation of a day (accepted vs stored vs archived) and the
 * dead-letter park (list, replay).
 */
import { siteLedger } from "../realtime/shards";
import { createRoute, z } from "@hono/zod-openapi";
import { requireKey, type AuthVars } from "../auth/middleware";
import { DAY } from "../lib/http";
import { apiErrors, intParam, json, openApiApp, secured, siteParam, siteQuery } from "../lib/openapi";
import { eventMessageSchema } from "./message";
import { siteOutbox } from "./outbox";
import { erasedEvents } from "../privacy/erase";

/** Sums `customMetadata.count` of every object under a prefix (also the data-quality reconciliation's count). */
export async function countArchived(bucket: R2Bucket, prefix: string): Promise<{ events: number; objects: number }> {
	let events = 0;
	let objects = 0;
	let cursor: string | undefined;
	do {
		const page = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
		for (const o of page.objects) {
			objects++;
			events += Number(o.customMetadata?.count ?? 0);
		}
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return { events, objects };
}

/** A real calendar day as YYYY-MM-DD (no 2026-02-30). */
const isDay = (d: string) => DAY.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;

const healthRoute = createRoute({
	method: "get",
	path: "/health/pipeline",
	operationId: "pipelineHealth",
	tags: ["Pipeline"],
	summary: "Reconciliation of a day",
	description: "Accepted (via /e) + imported (bulk import) = stored (D1) = archived (R2), as distinct event ids by event time (UTC day); rejected and bots by receive time.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, date: z.string().refine(isDay, "must be a real day as YYYY-MM-DD").optional().describe("UTC day, YYYY-MM-DD (default today)") }) },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				date: z.string(),
				accepted: z.number().int(),
				stored: z.number().int(),
				archived: z.number().int(),
				archive_objects: z.number().int(),
				pending_archive: z.number().int().describe("stored in D1, not yet in R2"),
				erased: z.number().int().describe("events of the day removed by GDPR erasures (DELETE /api/v1/customers/{id}): counted by the ledger, gone from D1 and R2"),
				imported: z.number().int(),
				rejected: z.number().int(),
				bots: z.number().int(),
				dead_letters: z.number().int().describe("parked messages of the site (any day)"),
				outbox: z.number().int().describe("accepted events of the site (any day) not yet confirmed stored in D1; LiveSite re-sends them"),
				outbox_oldest_accepted_at: z.number().int().nullable().describe("receive time (UTC epoch ms) of the oldest of them"),
				outbox_resent: z.number().int().describe("events the outbox has re-sent to the queue so far (any day; a lost message or a late confirmation)"),
				reconciled: z.boolean(),
				notes: z.string(),
			}),
			"the day's counts",
		),
		...apiErrors(404),
	},
});

const deadLettersRoute = createRoute({
	method: "get",
	path: "/pipeline/dead-letters",
	operationId: "listDeadLetters",
	tags: ["Pipeline"],
	summary: "Parked dead letters",
	description: "Queue messages that exhausted their retries, parked in R2.",
	security: secured("read"),
	middleware: [requireKey("read")],
	request: { query: z.object({ site: siteParam, limit: intParam(1, 1000).optional().describe("at most this many (default 100)") }) },
	responses: {
		200: json(
			z.object({
				site: z.string(),
				count: z.number().int(),
				truncated: z.boolean(),
				items: z.array(z.object({ key: z.string(), uploaded: z.string().describe("ISO 8601"), record: z.unknown().describe("the parked message") })),
			}),
			"the parked messages",
		),
		...apiErrors(404),
	},
});

const replayRoute = createRoute({
	method: "post",
	path: "/pipeline/dead-letters/replay",
	operationId: "replayDeadLetters",
	tags: ["Pipeline"],
	summary: "Replay dead letters",
	description: "Re-enqueues every parked event message of the site (idempotent: the store deduplicates) and removes it from the park.",
	security: secured("admin"),
	middleware: [requireKey("admin")],
	request: { query: siteQuery },
	responses: {
		200: json(z.object({ site: z.string(), replayed: z.number().int(), skipped: z.array(z.object({ key: z.string(), reason: z.string() })) }), "what was replayed"),
		...apiErrors(404),
	},
});

export const pipeline = openApiApp<AuthVars>()
	.openapi(healthRoute, async (c) => {
		const site = c.var.site;
		const date = c.req.valid("query").date ?? new Date().toISOString().slice(0, 10);
		const start = Date.parse(`${date}T00:00:00Z`);
		const [ledger, storedRow, archived, deadLetters, erased, outbox] = await Promise.all([
			siteLedger(c.env, site.id, site.liveShards, date),
			c.env.DB.prepare("SELECT COUNT(*) AS stored, COALESCE(SUM(archived_at IS NULL), 0) AS unarchived FROM events WHERE site = ? AND ts >= ? AND ts < ?")
				.bind(site.id, start, start + 86_400_000)
				.first<{ stored: number; unarchived: number }>(),
			countArchived(c.env.ARCHIVE, `raw/site=${site.id}/dt=${date}/`),
			countArchived(c.env.ARCHIVE, `dead-letter/site=${site.id}/`),
			erasedEvents(c.env.DB, site.id, date),
			siteOutbox(c.env, site.id, site.liveShards),
		]);
		const stored = storedRow?.stored ?? 0;
		return c.json({
			site: site.id,
			date,
			accepted: ledger.accepted,
			stored,
			archived: archived.events,
			archive_objects: archived.objects,
			pending_archive: storedRow?.unarchived ?? 0,
			erased,
			imported: ledger.imported,
			rejected: ledger.rejected,
			bots: ledger.bot,
			dead_letters: deadLetters.objects,
			outbox: outbox.depth,
			outbox_oldest_accepted_at: outbox.oldestAcceptedAt,
			outbox_resent: outbox.resent,
			reconciled: ledger.accepted + ledger.imported === stored + erased && stored === archived.events,
			notes: "accepted (via /e) + imported (bulk import) = stored (D1) + erased = archived (R2) + erased, distinct event ids by event time (UTC day); rejected and bots by receive time.",
		}, 200);
	})
	.openapi(deadLettersRoute, async (c) => {
		const siteId = c.var.site.id;
		const limit = c.req.valid("query").limit ?? 100;
		const page = await c.env.ARCHIVE.list({ prefix: `dead-letter/site=${siteId}/`, limit });
		const items = await Promise.all(
			page.objects.map(async (o) => {
				const obj = await c.env.ARCHIVE.get(o.key);
				return { key: o.key, uploaded: o.uploaded.toISOString(), record: obj ? ((await obj.json()) as unknown) : null };
			}),
		);
		return c.json({ site: siteId, count: items.length, truncated: page.truncated, items }, 200);
	})
	.openapi(replayRoute, async (c) => {
		const siteId = c.var.site.id;
		let replayed = 0;
		const skipped: { key: string; reason: string }[] = [];
		let cursor: string | undefined;
		do {
			const page = await c.env.ARCHIVE.list({ prefix: `dead-letter/site=${siteId}/`, cursor });
			for (const o of page.objects) {
				const obj = await c.env.ARCHIVE.get(o.key);
				if (!obj) continue;
				const record: unknown = await obj.json();
				const body = typeof record === "object" && record !== null && "body" in record ? record.body : undefined;
				const msg = eventMessageSchema.safeParse(body);
				if (!msg.success) {
					skipped.push({ key: o.key, reason: "not an event message" });
					continue;
				}
				// Re-enqueue first, delete second: a crash in between replays twice, which the store dedupes.
				await c.env.EVENTS_QUEUE.send(msg.data, { contentType: "json" });
				await c.env.ARCHIVE.delete(o.key);
				replayed++;
			}
			cursor = page.truncated ? page.cursor : undefined;
		} while (cursor);
		return c.json({ site: siteId, replayed, skipped }, 200);
	});
