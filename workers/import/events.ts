/**
 * History backfill: `/e` wire-format events, one per line, any past timestamp. No browser is
 * involved, so there is no request UA/IP: the visitor is the sender's `visitor_id`, else `c:<customer_id>`.
 * A line may carry what the tool it comes from recorded about the visit: `user_agent` (device, browser
 * and OS are derived from it exactly as /e derives them from the request's) and `country` (ISO 3166-1
 * alpha-2). Without them the event's device is "other" and its country unknown.
 */
import { z } from "zod";
import type { WriteContext } from "../commerce/entities";
import { MAX_AGE_MS, parseEvent } from "../ingest/schema";
import { eventColumns } from "../ingest/columns";
import { parseUserAgent, type Client } from "../ingest/classify";
import type { StoredEvent } from "../pipeline/message";

const MAX_UA = 512;
const NO_CLIENT: Client = { device: "other", browser: null, os: null };
/** Backfills repeat a handful of User-Agents: parse each once per isolate (bounded, so a hostile file cannot grow it). */
const clients = new Map<string, Client>();
function clientOf(ua: string): Client {
	let c = clients.get(ua);
	if (!c) {
		c = parseUserAgent(ua);
		if (clients.size >= 1000) clients.clear();
		clients.set(ua, c);
	}
	return c;
}

export function importEventRecord(line: unknown, ctx: WriteContext): { ok: true; event: StoredEvent } | { ok: false; error: z.ZodError } {
	// A line may name its site (as a /e batch does): accepted when it is the import's site, refused otherwise.
	let raw = line;
	let client: Client = NO_CLIENT;
	let country: string | null = null;
	if (typeof line === "object" && line !== null && !Array.isArray(line)) {
		const { site, user_agent, country: cc, ...rest } = line as Record<string, unknown>;
		if ("site" in line && site !== ctx.site) {
			return { ok: false, error: new z.ZodError([{ code: "custom", path: ["site"], message: `this import is for site '${ctx.site}'; the line names ${JSON.stringify(site)}`, input: site }]) };
		}
		if (user_agent !== undefined) {
			if (typeof user_agent !== "string" || user_agent.length > MAX_UA) return { ok: false, error: new z.ZodError([{ code: "custom", path: ["user_agent"], message: `a User-Agent string of at most ${MAX_UA} characters`, input: undefined }]) };
			client = clientOf(user_agent);
		}
		if (cc !== undefined && cc !== null) {
			if (typeof cc !== "string" || !/^[A-Z]{2}$/.test(cc)) return { ok: false, error: new z.ZodError([{ code: "custom", path: ["country"], message: "an ISO 3166-1 alpha-2 code in capitals, e.g. ES", input: undefined }]) };
			country = cc;
		}
		raw = rest;
	}
	// parseEvent's checks are relative to `now`: "older than 7 days" (refused at /e, the point of a backfill
	// here) and "more than a day ahead". An event older than the window is validated against its own time,
	// which passes the age check and cannot make it "ahead" of the real clock; anything else against the real
	// clock. One schema pass per row: validating old events twice (real clock, then their own) cost a backfill
	// a third of its validation time (bench/import).
	const ts = typeof raw === "object" && raw !== null && "ts" in raw && typeof raw.ts === "number" && Number.isFinite(raw.ts) ? raw.ts : undefined;
	const parsed = parseEvent(raw, ts !== undefined && ts < ctx.now - MAX_AGE_MS ? ts : ctx.now);
	if (!parsed.ok) return { ok: false, error: new z.ZodError(parsed.issues.map((i) => ({ code: "custom", path: i.path as (string | number)[], message: i.message, input: undefined }))) };
	const base = parsed.event;
	const visitor = base.visitor_id ?? (base.customer_id ? `c:${base.customer_id}` : undefined);
	if (!visitor) return { ok: false, error: new z.ZodError([{ code: "custom", path: ["visitor_id"], message: "imported events need visitor_id or customer_id", input: undefined }]) };
	return { ok: true, event: { ...eventColumns(base, ctx.site, ctx.currency, ctx.now), visitor, country, region: null, city: null, ...client } };
}
