/**
 * Dashboard users and passwordless login. An admin (API or `npm run user`) mints a one-time login
 * link; opening it consumes the token and starts a session held in the `b2g_session` cookie.
 *  - Login tokens: 256-bit random, only SHA-256 stored, valid 15 minutes, single use (consumed by a
 *    conditional UPDATE, so two racing clicks cannot both log in).
 *  - Sessions: 256-bit random id, only SHA-256 stored, valid 7 days, revocable (logout, disable,
 *    delete). Sessions are not cached per isolate: a logout or a disabled user takes effect at once.
 */
import { and, desc, eq, gt, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { loginTokens, users, userSessions } from "../db/access";
import { ApiError } from "../lib/http";
import { hashKey } from "./keys";
import type { Role } from "./roles";

export const LOGIN_TOKEN_TTL_MS = 15 * 60_000;
export const SESSION_TTL_MS = 7 * 86_400_000;
export const SESSION_COOKIE = "b2g_session";
/** base64url of 32 random bytes: the shape of both login tokens and session ids. */
const SECRET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface User {
	id: string;
	email: string;
	role: Role;
	createdAt: number;
	lastLoginAt: number | null;
	disabledAt: number | null;
}

/** 32 random bytes as base64url (43 chars). */
export function randomSecret(): string {
	return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
}

function newUserId(): string {
	return [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function toUser(row: typeof users.$inferSelect): User {
	return { id: row.id, email: row.email, role: row.role, createdAt: row.createdAt, lastLoginAt: row.lastLoginAt, disabledAt: row.disabledAt };
}

/** Creates a user; 409 naming `email` when a live user already has that address. */
export async function createUser(db: D1Database, input: { email: string; role: Role }, now = Date.now()): Promise<User> {
	const row = { id: newUserId(), email: input.email.toLowerCase(), role: input.role, createdAt: now };
	try {
		await drizzle(db).insert(users).values(row);
	} catch (err) {
		if (err instanceof Error && /UNIQUE constraint failed: users\.email/.test(`${err.message} ${String(err.cause ?? "")}`)) {
			throw new ApiError(409, "conflict", `a user with email '${row.email}' already exists`, [{ field: "email", message: "already in use" }]);
		}
		throw err;
	}
	return { ...row, lastLoginAt: null, disabledAt: null };
}

/** A user that is not deleted (disabled ones included), or null. */
export async function findUser(db: D1Database, id: string): Promise<User | null> {
	const row = await drizzle(db).select().from(users).where(and(eq(users.id, id), isNull(users.deletedAt))).get();
	return row ? toUser(row) : null;
}

/** Users not deleted, newest first. */
export async function listUsers(db: D1Database): Promise<User[]> {
	const rows = await drizzle(db).select().from(users).where(isNull(users.deletedAt)).orderBy(desc(users.createdAt), desc(users.id)).all();
	return rows.map(toUser);
}

function revokeSessionsOf(d: ReturnType<typeof drizzle>, userId: string, now: number) {
	return d.update(userSessions).set({ revokedAt: now }).where(and(eq(userSessions.userId, userId), isNull(userSessions.revokedAt)));
}

function dropUnusedTokensOf(d: ReturnType<typeof drizzle>, userId: string) {
	return d.delete(loginTokens).where(and(eq(loginTokens.userId, userId), isNull(loginTokens.usedAt)));
}

/**
 * Changes role and/or disabled state. Disabling ends the user's sessions at once (its pending links
 * then answer "account disabled"); enabling drops links minted before, so none of them revives.
 */
export async function updateUser(db: D1Database, id: string, change: { role?: Role; disabled?: boolean }, now = Date.now()): Promise<User | null> {
	const current = await findUser(db, id);
	if (!current) return null;
	const set: Partial<typeof users.$inferInsert> = {};
	if (change.role !== undefined) set.role = change.role;
	// Disabling an already disabled user keeps the original time; enabling an enabled one changes nothing.
	if (change.disabled === true && current.disabledAt === null) set.disabledAt = now;
	if (change.disabled === false && current.disabledAt !== null) set.disabledAt = null;
	const d = drizzle(db);
	if (Object.keys(set).length) {
		const update = d.update(users).set(set).where(and(eq(users.id, id), isNull(users.deletedAt)));
		if (set.disabledAt === now) await d.batch([update, revokeSessionsOf(d, id, now)]);
		else if (set.disabledAt === null) await d.batch([update, dropUnusedTokensOf(d, id)]);
		else await update;
	}
	return findUser(db, id);
}

/** Soft-deletes a user (the audit log keeps its id) and ends its sessions and unused links. */
export async function deleteUser(db: D1Database, id: string, now = Date.now()): Promise<boolean> {
	const d = drizzle(db);
	const [res] = await d.batch([d.update(users).set({ deletedAt: now }).where(and(eq(users.id, id), isNull(users.deletedAt))), revokeSessionsOf(d, id, now), dropUnusedTokensOf(d, id)]);
	return (res.meta.changes ?? 0) > 0;
}

/** Mints a one-time login token for a user; returns the token (never stored) and its expiry. */
export async function createLoginToken(db: D1Database, userId: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
	const token = randomSecret();
	const expiresAt = now + LOGIN_TOKEN_TTL_MS;
	await drizzle(db).insert(loginTokens).values({ tokenHash: await hashKey(token), userId, createdAt: now, expiresAt });
	return { token, expiresAt };
}

/** The login URL for a token on the origin that serves the dashboard. */
export function loginUrl(origin: string, token: string): string {
	return `${origin}/login?token=${encodeURIComponent(token)}`;
}

export type LoginFailure = "invalid_token" | "token_expired" | "token_used" | "user_disabled";

export class LoginError extends Error {
	constructor(
		readonly reason: LoginFailure,
		readonly status: 400 | 403 | 410,
		message: string,
	) {
		super(message);
	}
}

/**
 * Consumes a login token and opens a session: returns the session id (for the cookie, never stored)
 * and the user. Throws LoginError for an unknown, expired or used token, or a disabled/deleted user.
 */
export async function consumeLoginToken(db: D1Database, token: string, now = Date.now()): Promise<{ sessionId: string; expiresAt: number; user: User }> {
	if (!SECRET_FORMAT.test(token)) throw new LoginError("invalid_token", 400, "This login link is not valid. Check that the whole link was copied, or ask an admin for a new one.");
	const hash = await hashKey(token);
	const d = drizzle(db);
	// Single use: only one UPDATE can flip used_at from NULL, however many clicks race.
	const claimed = await d
		.update(loginTokens)
		.set({ usedAt: now })
		.where(and(eq(loginTokens.tokenHash, hash), isNull(loginTokens.usedAt), gt(loginTokens.expiresAt, now)))
		.returning({ userId: loginTokens.userId })
		.get();
	if (!claimed) {
		const row = await d.select().from(loginTokens).where(eq(loginTokens.tokenHash, hash)).get();
		if (!row) throw new LoginError("invalid_token", 400, "This login link is not valid. Check that the whole link was copied, or ask an admin for a new one.");
		if (row.usedAt !== null) throw new LoginError("token_used", 410, "This login link was already used. Each link works once: ask an admin for a new one.");
		throw new LoginError("token_expired", 410, "This login link has expired (links are valid for 15 minutes). Ask an admin for a new one.");
	}
	const user = await findUser(db, claimed.userId);
	if (!user || user.disabledAt !== null) throw new LoginError("user_disabled", 403, "This account is disabled. Ask an admin to enable it.");
	const sessionId = randomSecret();
	const expiresAt = now + SESSION_TTL_MS;
	await d.batch([
		d.insert(userSessions).values({ idHash: await hashKey(sessionId), userId: user.id, createdAt: now, expiresAt }),
		d.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id)),
	]);
	return { sessionId, expiresAt, user: { ...user, lastLoginAt: now } };
}

/** The live user behind a session id (not expired, not revoked, user neither disabled nor deleted), or null. */
export async function findSessionUser(db: D1Database, sessionId: string, now = Date.now()): Promise<User | null> {
	if (!SECRET_FORMAT.test(sessionId)) return null;
	const row = await drizzle(db)
		.select({ user: users })
		.from(userSessions)
		.innerJoin(users, eq(users.id, userSessions.userId))
		.where(and(eq(userSessions.idHash, await hashKey(sessionId)), isNull(userSessions.revokedAt), gt(userSessions.expiresAt, now), isNull(users.disabledAt), isNull(users.deletedAt)))
		.get();
	return row ? toUser(row.user) : null;
}

/** Revokes one session by its id (logout). */
export async function revokeSession(db: D1Database, sessionId: string, now = Date.now()): Promise<boolean> {
	if (!SECRET_FORMAT.test(sessionId)) return false;
	const res = await drizzle(db)
		.update(userSessions)
		.set({ revokedAt: now })
		.where(and(eq(userSessions.idHash, await hashKey(sessionId)), isNull(userSessions.revokedAt)))
		.run();
	return (res.meta.changes ?? 0) > 0;
}

/** Deletes used or expired login tokens and sessions that ended more than a day ago (cron). */
export async function pruneLogins(db: D1Database, now: number): Promise<number> {
	const cutoff = now - 86_400_000;
	const res = await db.batch([
		db.prepare("DELETE FROM login_tokens WHERE expires_at < ?").bind(cutoff),
		db.prepare("DELETE FROM user_sessions WHERE expires_at < ? OR revoked_at < ?").bind(cutoff, cutoff),
	]);
	return res.reduce((n, r) => n + (r.meta.changes ?? 0), 0);
}
