/**
 * Dashboard users and one-time login links made on the command line, in the exact format the Worker
 * checks (workers/auth/users.ts): user ids are 12 hex chars, login tokens 32 random bytes as base64url
 * (43 chars) stored as the SHA-256 hex of the token, valid 15 minutes, single use.
 */
import { createHash, randomBytes } from "node:crypto";

export const ROLES = ["admin", "executive", "analyst", "operations"];
export const LOGIN_TOKEN_TTL_MS = 15 * 60_000;
/** Lenient on purpose: the local admin is admin@localhost (the API's check is stricter). */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** A new user id (12 hex). */
export function newUserId() {
	return randomBytes(6).toString("hex");
}

/** A new login token: `{ token, hash }` (only the hash is stored). */
export function newLoginToken() {
	const token = randomBytes(32).toString("base64url");
	return { token, hash: createHash("sha256").update(token).digest("hex") };
}

/** Lowercased and trimmed, or throws naming the problem. */
export function normalizeEmail(email) {
	const e = String(email ?? "").trim().toLowerCase();
	if (!EMAIL.test(e) || e.length > 254) throw new Error(`email '${email}' is not an email address`);
	return e;
}

/**
 * SQL that creates a user (for `wrangler d1 execute --command`, which takes no bound parameters;
 * every value is validated or quoted here). Fails on a duplicate live email (unique index).
 * @param {{ id: string, email: string, role: string, now?: number }} user
 */
export function insertUserSql({ id, email, role, now = Date.now() }) {
	if (!/^[0-9a-f]{12}$/.test(id)) throw new Error("malformed user id");
	if (!ROLES.includes(role)) throw new Error(`role must be one of ${ROLES.join(", ")} (not: ${role})`);
	return `INSERT INTO users (id, email, role, created_at) VALUES (${quote(id)}, ${quote(normalizeEmail(email))}, ${quote(role)}, ${Number(now)})`;
}

/**
 * SQL that stores a login token for a user id. `onlyIfUser` makes it conditional on that user
 * existing and being live (the INSERT … SELECT inserts nothing otherwise).
 * @param {{ hash: string, userId: string, now?: number }} token
 */
export function insertLoginTokenSql({ hash, userId, now = Date.now() }) {
	if (!/^[0-9a-f]{64}$/.test(hash) || !/^[0-9a-f]{12}$/.test(userId)) throw new Error("malformed token hash or user id");
	return `INSERT INTO login_tokens (token_hash, user_id, created_at, expires_at) SELECT ${quote(hash)}, id, ${Number(now)}, ${Number(now) + LOGIN_TOKEN_TTL_MS} FROM users WHERE id = ${quote(userId)} AND deleted_at IS NULL AND disabled_at IS NULL`;
}

/** The login URL for a token. */
export function loginUrl(origin, token) {
	return `${origin.replace(/\/+$/, "")}/login?token=${encodeURIComponent(token)}`;
}
