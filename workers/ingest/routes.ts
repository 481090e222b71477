/**
 * POST /e — the tracker's endpoint and the public server-side event API.
 * Hot path: read ≤ 1 MB, validate everything, enrich, then one call per shard to the site's LiveSite
 * objects (a single-object site: one call) that takes the abuse limits and records the batch (ledger,
 * live counters and the outbox: the durability point) in one transaction, answer 202. The object
 * queues the events itself after the commit, off the response path, coalescing concurrent requests
 * into one send. D1 and R2 writes happen in the queue consumer, which confirms stored events to the
 * outbox; the outbox re-sends whatever is not confirmed (workers/pipeline/outbox.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { readText } from "../lib/body";
import { ApiError, fieldPath, utcDay, type FieldIssue } from "../lib/http";
import { error, errors, json, openApiApp } from "../lib/openapi";
import { findSite, type Site } from "../lib/sites";
import type { StoredEvent } from "../pipeline/message";
import { liveRestart } from "../pipeline/faults";
import { isBotUserAgent, parseUserAgent } from "./classify";
import { ingestAccess, ingestLimits, limitedError } from "./limits";
import { eventColumns } from "./columns";
import { toIssues } from "../lib/validation";
import { batchSchema, COMMERCE_EVENTS, eventBase, MAX_BODY_BYTES, MAX_EVENTS, parseEvent, type WireEvent } from "./schema";
import { dailySalt, visitorHash } from "./visitor";
import { liveConfig, partitionByShard, shardStub } from "../realtime/shards";

const CORS_BASE = { "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400", Vary: "Origin" };

// The wire format, for the document only: the handler reads the body itself (size cap, strict UTF-8,
// text/plain for sendBeacon) and validates it with the same schemas, event by event.
const EventBatch = batchSchema.extend({ events: z.array(eventBase).min(1).max(MAX_EVENTS) });

const collect = createRoute({
	method: "post",
	path: "/e",
	operationId: "collectEvents",
	tags: ["Events"],
	summary: "Send events",
	description:
		"The tracker's endpoint and the public server-side event API. No credentials: browsers are limited to the site's `origins` (403 otherwise). " +
		"Server-side senders add `Authorization: Bearer <API key with the ingest scope, for this site or account-wide>`: their events skip the User-Agent bot check (without a key, `visitor_id` events are checked like any browser's) and have their own budget. " +
		"Limits, in events per minute by default: 1,000 per client address and site and 60,000 per site without a key, 120,000 per ingest key and site (429 with `Retry-After`, the limit named in `fields`; nothing is stored). " +
		`A batch holds 1–${MAX_EVENTS} events in at most ${MAX_BODY_BYTES} bytes of strict UTF-8 JSON (\`text/plain\` is accepted for sendBeacon). ` +
		"Events are at most 7 days old and 1 day ahead. A batch with any invalid event is rejected whole (400, every offending field named, e.g. `events[3].ts`) and nothing is stored. " +
		`Props by event name: ${COMMERCE_EVENTS.join(", ")} have their own shapes (purchase: order_id, value, currency, items[{sku, qty, price}]); others take a flat map of ≤ 50 scalars.`,
	security: [],
	request: {
		body: {
			required: true,
			description: "a batch of events for one site",
			content: { "application/json": { schema: { $ref: "#/components/schemas/EventBatch" } }, "text/plain": { schema: { $ref: "#/components/schemas/EventBatch" } } },
		},
	},
	responses: {
		202: json(
			z.object({
				accepted: z.number().int().describe("events accepted: new to the site, or accepted before but not yet stored (queued again)"),
				duplicates: z.number().int().optional().describe("ids already accepted and stored before (harmless resends)"),
				bots: z.number().int().describe("dropped as bot traffic"),
			}),
			"accepted (enqueued)",
		),
		...errors(400, 413, 415),
		403: error("`origin_not_allowed`: the browser's Origin is not among the site's origins; `forbidden`: the key lacks the ingest scope or belongs to another site"),
		401: error("`unauthorized`: an Authorization header that is not a live API key"),
		404: error("`unknown_site`"),
		429: error("`rate_limited`: over the limit named in `fields` (`ip`, `site` or `Authorization`), or too many failed authentications from this address; retry after `Retry-After` seconds"),
		503: error("`outbox_full`: too many accepted events wait for storage (a long outage); nothing of the batch's share was recorded — retry after `Retry-After` seconds"),
	},
});

export const ingest = openApiApp();
ingest.openAPIRegistry.register("EventBatch", EventBatch);

// Fault injection for bench/soak: 404 unless the FAULT_INJECTION var is "1" (never set in wrangler.toml).
ingest.post("/__dev/faults/live-restart", liveRestart);

// The site is in the body, so a preflight cannot be judged per site; the POST itself enforces origins.
ingest.options("/e", (c) => {
	const origin = c.req.header("Origin");
	return c.body(null, 204, origin ? { ...CORS_BASE, "Access-Control-Allow-Origin": origin } : CORS_BASE);
});

ingest.openapi(collect, async (c) => {
	const now = Date.now();
	const origin = c.req.header("Origin") ?? null;
	const cors: Record<string, string> = origin ? { "Access-Control-Allow-Origin": origin, Vary: "Origin" } : {};
	try {
		const body = await readBody(c.req.raw);
		const batch = batchSchema.safeParse(body);
		if (!batch.success) {
			const tooMany = batch.error.issues.find((i) => i.path[0] === "events" && i.code === "too_big");
			if (tooMany) throw new ApiError(413, "too_many_events", `a batch holds at most ${MAX_EVENTS} events`, [{ field: "events", message: tooMany.message }]);
			throw new ApiError(400, "invalid_batch", "the batch is malformed", toIssues(batch.error).map((i) => ({ field: fieldPath(i.path), message: i.message })));
		}
		const { site: siteId, events: rawEvents, b: webdriver } = batch.data;
		const site = await findSite(c.env.DB, siteId);
		if (!site) throw new ApiError(404, "unknown_site", `site '${siteId}' does not exist`, [{ field: "site", message: "unknown site" }]);
		if (origin && site.origins.length && !site.origins.includes(origin)) {
			throw new ApiError(403, "origin_not_allowed", `origin ${origin} may not send events for site '${siteId}'`, [{ field: "site", message: "origin not in the site's allowed origins" }]);
		}
		// Ingest key (trust; 401/403 before any event is looked at) and the buckets this batch takes from
		// (workers/ingest/limits.ts), taken below in the same LiveSite call that records it.
		const access = await ingestAccess(c.env, c.req.raw, site, rawEvents.length, now);
		const shards = Math.max(1, site.liveShards);
		const refuse = (limited: { refused: string; retryAfterMs: number }) => limitedError(limited.refused, limited.retryAfterMs, ingestLimits(c.env), shards);
		const limitStub = () => shardStub(c.env, site.id, access.limit?.shard ?? 0);

		const parsed: WireEvent[] = [];
		const issues: FieldIssue[] = [];
		rawEvents.forEach((raw, i) => {
			const r = parseEvent(raw, now);
			if (r.ok) parsed.push(r.event);
			else for (const issue of r.issues) issues.push({ field: fieldPath(["events", i, ...issue.path]), message: issue.message });
		});
		if (issues.length) {
			// All or nothing: a batch with one bad event writes nothing, so a fixed resend cannot duplicate.
			// It still costs its sender's budget (429 first, as for any batch over the limit).
			const limited = await limitStub().countLimited("rejected", utcDay(now), rawEvents.length, access.limit?.take ?? null);
			if (limited) throw refuse(limited);
			throw new ApiError(400, "invalid_events", `${issues.length} problem(s) in the batch; nothing was stored`, issues.slice(0, 100));
		}

		const ua = c.req.header("User-Agent") ?? "";
		// Server-side senders with an ingest key are trusted: their UA is their backend's, not a browser's.
		// Without a key, `visitor_id` proves nothing and the UA check applies to every event.
		// The tracker's automation flag marks the whole batch as bot traffic either way.
		const human = webdriver === 1 || (!access.trusted && isBotUserAgent(ua)) ? [] : parsed;
		const bots = parsed.length - human.length;
		if (!human.length) {
			const limited = await limitStub().countLimited("bot", utcDay(now), bots, access.limit?.take ?? null);
			if (limited) throw refuse(limited);
			return c.json({ accepted: 0, bots }, 202, cors);
		}

		const stored = await enrich(c.env.DB, site, human, c.req.raw, ua, now);
		// Each shard takes the limits (the one holding the sender's buckets), records its visitors' events and
		// keeps them in its outbox, durably, in one call; it queues them itself after that commit. From here
		// on the alarm re-sends what the consumer does not confirm, so a lost message or a failed send loses nothing.
		const cfg = liveConfig(site);
		const shares = [...partitionByShard(stored, (e) => e.visitor, cfg.shards)];
		const limit = access.limit;
		// The common case, a single-object site: one call. A sharded site whose batch does not land on the
		// shard holding the buckets takes them first, so that a refusal records nothing anywhere.
		const limitApart = limit !== null && !(shares.length === 1 && shares[0]?.[0] === limit.shard);
		if (limitApart) {
			const limited = await shardStub(c.env, site.id, limit.shard).takeLimits(limit.take);
			if (limited) throw refuse(limited);
		}
		const results = await Promise.all(
			shares.map(([k, events]) => shardStub(c.env, site.id, k).accept(cfg, events, now, k, { send: true, ...(limit && !limitApart ? { limit: limit.take } : {}) })),
		);
		let accepted = 0;
		let duplicates = 0;
		let full = false;
		for (const r of results) {
			if (r.limited) throw refuse(r.limited);
			full ||= r.full;
			if (r.full) continue;
			accepted += r.fresh + r.requeued;
			duplicates += r.duplicates.length;
		}
		if (full) {
			throw new ApiError(503, "outbox_full", "too many accepted events are waiting to be stored; retry later (events already accepted from this batch count as accepted on retry)", [{ field: "events", message: "not recorded" }], { "Retry-After": "60" });
		}
		// `accepted`: new ids plus ids accepted before but not yet stored (queued again); `duplicates`: accepted and stored before.
		return c.json({ accepted, duplicates, bots }, 202, cors);
	} catch (err) {
		throw err instanceof ApiError ? err.withHeaders(cors) : err;
	}
});

/** Reads a JSON (or text/plain, for sendBeacon) body of at most 1 MB as strict UTF-8. */
async function readBody(req: Request): Promise<unknown> {
	if (Number(req.headers.get("Content-Length") ?? "0") > MAX_BODY_BYTES) throw new ApiError(413, "body_too_large", `the body exceeds ${MAX_BODY_BYTES} bytes`, [{ field: "body", message: "too large" }]);
	const type = (req.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
	if (type && type !== "application/json" && type !== "text/plain") {
		throw new ApiError(415, "unsupported_media_type", "send application/json (or text/plain for sendBeacon)", [{ field: "Content-Type", message: `got ${type}` }]);
	}
	if (!req.body) throw new ApiError(400, "invalid_batch", "the body is empty", [{ field: "body", message: "required" }]);
	const text = await readText(req, MAX_BODY_BYTES);
	try {
		return JSON.parse(text);
	} catch (err) {
		throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ field: "body", message: err instanceof Error ? err.message : "invalid JSON" }]);
	}
}

/** Adds server-side facts: receive time, visitor, geo, device, source/UTM, commerce columns. */
async function enrich(db: D1Database, site: Site, events: WireEvent[], req: Request, ua: string, now: number): Promise<StoredEvent[]> {
	const cf = req.cf;
	const geo = {
		country: typeof cf?.country === "string" ? cf.country : null,
		region: typeof cf?.region === "string" ? cf.region : null,
		city: typeof cf?.city === "string" ? cf.city : null,
	};
	const client = parseUserAgent(ua);
	const needsHash = events.some((e) => e.visitor_id === undefined);
	const hashed = needsHash ? await visitorHash(await dailySalt(db, utcDay(now)), site.id, req.headers.get("CF-Connecting-IP") ?? "", ua) : "";
	return events.map((e) => ({ ...eventColumns(e, site.id, site.currency, now), visitor: e.visitor_id ?? hashed, ...geo, ...client }));
}
