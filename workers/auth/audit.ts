/**
 * The audit log: who did what, with which result, when and from where, for every /api/v1 request by an
 * authenticated principal (refused ones included) and every dashboard login. Rows are written after
 * the response (ctx.waitUntil); a failed write is logged and never fails the request.
 */
import { and, desc, eq, gte, lt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditLog } from "../db/access";
import { redactAuditTarget } from "../privacy/pii";
import type { Principal } from "./roles";
import { principalScopes } from "./roles";

/** Rows older than this are deleted by cron. */
export const AUDIT_RETENTION_MS = 400 * 86_400_000;
const UA_MAX = 256;
const QUERY_MAX = 1024;
const PATH_MAX = 512;
/** At most this many rows are pruned per cron run, so one run never becomes one huge write. */
const PRUNE_BATCH = 10_000;

export interface AuditEntry {
	principal: Principal;
	/** The user's email or the key's name. */
	label: string | null;
	method: string;
	path: string;
	/** The raw query string without `?`, or null. */
	query: string | null;
	site: string | null;
	status: number;
	at: number;
	durationMs: number;
	ip: string;
	country: string | null;
	userAgent: string | null;
}

/** Where a request comes from: CF-Connecting-IP (or `unknown`), `request.cf.country`, the user agent truncated. */
export function requestOrigin(req: Request): { ip: string; country: string | null; userAgent: string | null } {
	const country = req.cf?.country;
	const ua = req.headers.get("User-Agent");
	return {
		ip: req.headers.get("CF-Connecting-IP")?.slice(0, 64) || "unknown",
		country: typeof country === "string" && country ? country : null,
		userAgent: ua ? ua.slice(0, UA_MAX) : null,
	};
}

/** Writes one audit row; resolves even when the write fails (the failure is logged). */
export async function writeAudit(db: D1Database, entry: AuditEntry): Promise<void> {
	try {
		const p = entry.principal;
		// Customer ids and searched emails are personal data: the row names them by a keyed hash (privacy/pii.ts).
		const target = await redactAuditTarget(entry.site, entry.path, entry.query);
		await drizzle(db)
			.insert(auditLog)
			.values({
				at: entry.at,
				actorKind: p.kind,
				actorId: p.id,
				actorLabel: entry.label,
				role: p.kind === "user" ? p.role : null,
				scopes: JSON.stringify(principalScopes(p)),
				method: entry.method,
				path: target.path.slice(0, PATH_MAX),
				query: target.query ? target.query.slice(0, QUERY_MAX) : null,
				site: entry.site,
				status: entry.status,
				durationMs: Math.max(0, Math.round(entry.durationMs)),
				ip: entry.ip,
				country: entry.country,
				userAgent: entry.userAgent,
			});
	} catch (err) {
		console.error("audit write failed", err instanceof Error ? err.message : err);
	}
}

export interface AuditQuery {
	/** Inclusive, epoch ms. */
	from?: number;
	/** Exclusive, epoch ms. */
	to?: number;
	/** A user id, key id or user email. */
	actor?: string;
	/** Only rows of this site (site-bound admin keys). */
	site?: string;
	limit: number;
	cursor?: { at: number; id: number };
}

export type AuditRow = typeof auditLog.$inferSelect;

/** Newest first; `next` is the cursor of the page after this one, or null. */
export async function queryAudit(db: D1Database, q: AuditQuery): Promise<{ rows: AuditRow[]; next: { at: number; id: number } | null }> {
	const where: SQL[] = [];
	if (q.from !== undefined) where.push(gte(auditLog.at, q.from));
	if (q.to !== undefined) where.push(lt(auditLog.at, q.to));
	if (q.actor !== undefined) where.push(or(eq(auditLog.actorId, q.actor), eq(auditLog.actorLabel, q.actor)) as SQL);
	if (q.site !== undefined) where.push(eq(auditLog.site, q.site));
	if (q.cursor) where.push(or(lt(auditLog.at, q.cursor.at), and(eq(auditLog.at, q.cursor.at), lt(auditLog.id, q.cursor.id))) as SQL);
	const rows = await drizzle(db)
		.select()
		.from(auditLog)
		.where(where.length ? and(...where) : undefined)
		.orderBy(desc(auditLog.at), desc(auditLog.id))
		.limit(q.limit + 1)
		.all();
	const page = rows.slice(0, q.limit);
	const last = page.at(-1);
	return { rows: page, next: rows.length > q.limit && last ? { at: last.at, id: last.id } : null };
}

/** Deletes rows older than the retention (at most PRUNE_BATCH per call); returns how many. */
export async function pruneAudit(db: D1Database, now: number): Promise<number> {
	const res = await db
		.prepare("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)")
		.bind(now - AUDIT_RETENTION_MS, PRUNE_BATCH)
		.run();
	return res.meta.changes ?? 0;
}
