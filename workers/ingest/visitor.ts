/**
 * Cookieless visitor ids: hash(daily salt, site, IP, UA). The salt is random per UTC day, kept in D1
 * only until the day after (cron deletes it), so yesterday's hashes cannot be recomputed from an IP.
 * Raw IPs are never stored anywhere.
 */
import { utcDay } from "../lib/http";

const saltCache = new Map<string, string>();

/** The salt of a UTC day, created on first use; cached per isolate. */
export async function dailySalt(db: D1Database, day: string): Promise<string> {
	const cached = saltCache.get(day);
	if (cached) return cached;
	const fresh = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
	// Two isolates may race on a new day: INSERT OR IGNORE keeps the first, and both read it back.
	const [, read] = await db.batch([
		db.prepare("INSERT INTO salts (day, salt) VALUES (?, ?) ON CONFLICT (day) DO NOTHING").bind(day, fresh),
		db.prepare("SELECT salt FROM salts WHERE day = ?").bind(day),
	]);
	const salt = (read?.results[0] as { salt?: unknown } | undefined)?.salt;
	if (typeof salt !== "string") throw new Error(`salt for ${day} missing after insert`);
	if (saltCache.size > 4) saltCache.clear();
	saltCache.set(day, salt);
	return salt;
}

/** 128-bit hex visitor hash. Events of one browser on one day share it; the next day it changes. */
export async function visitorHash(salt: string, site: string, ip: string, ua: string): Promise<string> {
	const data = new TextEncoder().encode(`${salt}\n${site}\n${ip}\n${ua}`);
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
	return [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Deletes salts older than yesterday (UTC). Returns how many were removed. */
export async function pruneSalts(db: D1Database, now: number): Promise<number> {
	const keepFrom = utcDay(now - 86_400_000);
	const res = await db.prepare("DELETE FROM salts WHERE day < ?").bind(keepFrom).run();
	return res.meta.changes ?? 0;
}
