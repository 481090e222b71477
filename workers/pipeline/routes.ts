/**
 * Pipeline operations API: reconciliation of a day (accepted vs stored vs archived) and the
 * dead-letter park (list, replay).
 */
import { Hono } from "hono";
import { requireKey, type AuthVars } from "../auth/middleware";
import { ApiError, DAY } from "../lib/http";
import { eventMessageSchema } from "./message";

export const pipeline = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/** Sums `customMetadata.count` of every object under a prefix. */
async function countArchived(bucket: R2Bucket, prefix: string): Promise<{ events: number; objects: number }> {
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

pipeline.get("/health/pipeline", requireKey("read"), async (c) => {
	const site = c.var.site;
	const date = c.req.query("date") ?? new Date().toISOString().slice(0, 10);
	const start = Date.parse(`${date}T00:00:00Z`);
	if (!DAY.test(date) || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date) throw new ApiError(400, "invalid_request", "date must be a calendar day as YYYY-MM-DD", [{ field: "date", message: "must be a real day as YYYY-MM-DD" }]);
	const live = c.env.LIVE.get(c.env.LIVE.idFromName(site.id));
	const [ledger, storedRow, archived, deadLetters] = await Promise.all([
		live.ledger(date),
		c.env.DB.prepare("SELECT COUNT(*) AS stored, COALESCE(SUM(archived_at IS NULL), 0) AS unarchived FROM events WHERE site = ? AND ts >= ? AND ts < ?")
			.bind(site.id, start, start + 86_400_000)
			.first<{ stored: number; unarchived: number }>(),
		countArchived(c.env.ARCHIVE, `raw/site=${site.id}/dt=${date}/`),
		countArchived(c.env.ARCHIVE, `dead-letter/site=${site.id}/`),
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
		imported: ledger.imported,
		rejected: ledger.rejected,
		bots: ledger.bot,
		dead_letters: deadLetters.objects,
		reconciled: ledger.accepted + ledger.imported === stored && stored === archived.events,
		notes: "accepted (via /e) + imported (bulk import) = stored (D1) = archived (R2), distinct event ids by event time (UTC day); rejected and bots by receive time.",
	});
});

pipeline.get("/pipeline/dead-letters", requireKey("read"), async (c) => {
	const siteId = c.var.site.id;
	const limit = Math.min(Number(c.req.query("limit") ?? 100) || 100, 1000);
	const page = await c.env.ARCHIVE.list({ prefix: `dead-letter/site=${siteId}/`, limit });
	const items = await Promise.all(
		page.objects.map(async (o) => {
			const obj = await c.env.ARCHIVE.get(o.key);
			return { key: o.key, uploaded: o.uploaded.toISOString(), record: obj ? ((await obj.json()) as unknown) : null };
		}),
	);
	return c.json({ site: siteId, count: items.length, truncated: page.truncated, items });
});

pipeline.post("/pipeline/dead-letters/replay", requireKey("admin"), async (c) => {
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
	return c.json({ site: siteId, replayed, skipped });
});
