/**
 * API keys: `b2g_<id>_<secret>`, 256-bit random secret, shown once. Only SHA-256(key) is stored;
 * a fast hash is enough because the key is random, not a password. Scopes: ingest, read, admin
 * (admin implies the others). A key bound to a site acts only on it; an account-wide key (site
 * null) acts on any site it names and is the only kind that may create sites.
 */
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { apiKeys } from "../db/schema";

export const SCOPES = ["ingest", "read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
	id: string;
	site: string | null;
	name: string;
	scopes: Scope[];
}

const KEY_FORMAT = /^b2g_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const CACHE_MS = 30_000;
const TOUCH_EVERY_MS = 60_000;
const cache = new Map<string, { key: ApiKey | null; until: number }>();
const touched = new Map<string, number>();
const scopesSchema = z.array(z.enum(SCOPES));

function hex(bytes: Uint8Array): string {
	return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function hashKey(secret: string): Promise<string> {
	return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret))));
}

/** Creates a key; returns the full secret (never stored) and its record. */
export async function createKey(db: D1Database, input: { site: string | null; name: string; scopes: Scope[] }, now = Date.now()): Promise<{ secret: string; key: ApiKey }> {
	const id = hex(crypto.getRandomValues(new Uint8Array(6)));
	const secretPart = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
	const secret = `b2g_${id}_${secretPart}`;
	const scopes = [...new Set(input.scopes)];
	await drizzle(db).insert(apiKeys).values({ id, site: input.site, name: input.name, secretHash: await hashKey(secret), scopes: JSON.stringify(scopes), createdAt: now });
	return { secret, key: { id, site: input.site, name: input.name, scopes } };
}

/** The live (not revoked) key for a presented secret, or null. Cached briefly per isolate. */
export async function findKey(db: D1Database, secret: string, now = Date.now()): Promise<ApiKey | null> {
	if (!KEY_FORMAT.test(secret)) return null;
	const hash = await hashKey(secret);
	const hit = cache.get(hash);
	if (hit && hit.until > now) return hit.key;
	const row = await drizzle(db).select().from(apiKeys).where(and(eq(apiKeys.secretHash, hash), isNull(apiKeys.revokedAt))).get();
	const key: ApiKey | null = row ? { id: row.id, site: row.site, name: row.name, scopes: scopesSchema.parse(JSON.parse(row.scopes)) } : null;
	if (cache.size > 1000) cache.clear();
	cache.set(hash, { key, until: now + CACHE_MS });
	return key;
}

/** Records use at most once a minute per key per isolate (last_used_at is informational). */
export async function touchKey(db: D1Database, id: string, now = Date.now()): Promise<void> {
	if ((touched.get(id) ?? 0) + TOUCH_EVERY_MS > now) return;
	touched.set(id, now);
	await db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(now, id).run();
}

export function hasScope(key: ApiKey, scope: Scope): boolean {
	return key.scopes.includes("admin") || key.scopes.includes(scope);
}

/** Revokes a key; revocation reaches every isolate within the 30 s cache. */
export async function revokeKey(db: D1Database, id: string, site: string | null, now = Date.now()): Promise<boolean> {
	const where = site === null ? eq(apiKeys.id, id) : and(eq(apiKeys.id, id), eq(apiKeys.site, site));
	const res = await drizzle(db).update(apiKeys).set({ revokedAt: now }).where(and(where, isNull(apiKeys.revokedAt))).run();
	cache.clear();
	return (res.meta.changes ?? 0) > 0;
}
