/**
 * POST /e — the tracker's endpoint and the public server-side event API.
 * Hot path: read ≤ 1 MB, validate everything, enrich, enqueue (the durability point), record in the
 * site's LiveSite ledger, answer 202. D1 and R2 writes happen in the queue consumer.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { readText } from "../lib/body";
import { ApiError, fieldPath, utcDay, type FieldIssue } from "../lib/http";
import { error, errors, json, openApiApp } from "../lib/openapi";
import { findSite, type Site } from "../lib/sites";
import { chunkForSend, type EventMessage, type StoredEvent } from "../pipeline/message";
import { isBotUserAgent, parseUserAgent } from "./classify";
import { eventColumns } from "./columns";
import { toIssues } from "../lib/validation";
import { batchSchema, COMMERCE_EVENTS, eventBase, MAX_BODY_BYTES, MAX_EVENTS, parseEvent, type WireEvent } from "./schema";
import { dailySalt, visitorHash } from "./visitor";
import { liveConfig, partitionByShard, primaryStub, shardStub } from "../realtime/shards";
import { liveEvent } from "../realtime/snapshot";

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
				accepted: z.number().int().describe("events new to the site, now queued"),
				duplicates: z.number().int().optional().describe("ids already accepted before (harmless resends)"),
				bots: z.number().int().describe("dropped as bot traffic"),
			}),
			"accepted (enqueued)",
		),
		...errors(400, 413, 415),
		403: error("`origin_not_allowed`: the browser's Origin is not among the site's origins"),
		404: error("`unknown_site`"),
	},
});

export const ingest = openApiApp();
ingest.openAPIRegistry.register("EventBatch", EventBatch);

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
		const live = primaryStub(c.env, site.id);

		const parsed: WireEvent[] = [];
		const issues: FieldIssue[] = [];
		rawEvents.forEach((raw, i) => {
			const r = parseEvent(raw, now);
			if (r.ok) parsed.push(r.event);
			else for (const issue of r.issues) issues.push({ field: fieldPath(["events", i, ...issue.path]), message: issue.message });
		});
		if (issues.length) {
			// All or nothing: a batch with one bad event writes nothing, so a fixed resend cannot duplicate.
			await live.count("rejected", utcDay(now), rawEvents.length);
			throw new ApiError(400, "invalid_events", `${issues.length} problem(s) in the batch; nothing was stored`, issues.slice(0, 100));
		}

		const ua = c.req.header("User-Agent") ?? "";
		const uaIsBot = isBotUserAgent(ua);
		// Server-side senders identify visitors themselves; their UA is their backend's, not a browser's.
		// The tracker's automation flag marks the whole batch as bot traffic either way.
		const human = webdriver === 1 ? [] : parsed.filter((e) => e.visitor_id !== undefined || !uaIsBot);
		const bots = parsed.length - human.length;
		if (bots) await live.count("bot", utcDay(now), bots);
		if (!human.length) return c.json({ accepted: 0, bots }, 202, cors);

		const stored = await enrich(c.env.DB, site, human, c.req.raw, ua, now);
		const messages: MessageSendRequest<EventMessage>[] = stored.map((event) => ({ body: { v: 1, event }, contentType: "json" }));
		for (const chunk of chunkForSend(messages)) await c.env.EVENTS_QUEUE.sendBatch(chunk);
		// Each shard records its visitors' events (one call for a single-object site).
		const cfg = liveConfig(site);
		const results = await Promise.all(
			[...partitionByShard(stored, (e) => e.visitor, cfg.shards)].map(([k, events]) => shardStub(c.env, site.id, k).record(cfg, events.map(liveEvent), now, k)),
		);
		const fresh = results.reduce((n, r) => n + r.fresh, 0);
		const duplicates = results.reduce((n, r) => n + r.duplicates, 0);
		// `accepted` counts ids new to the site (as the reconciliation ledger does); `duplicates` were already accepted before.
		return c.json({ accepted: fresh, duplicates, bots }, 202, cors);
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
