/**
 * D1 schema (drizzle) of dashboard access: users, one-time login tokens, sessions and the audit log.
 * Secrets (login tokens, session ids) are stored only as SHA-256 hex. Time is UTC epoch ms.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ROLES } from "../auth/roles";

/**
 * A dashboard user. Email is stored lowercased and unique among users not deleted, so a deleted
 * user's address can be invited again (as a new id; the audit log keeps pointing at the old one).
 */
export const users = sqliteTable(
	"users",
	{
		id: text("id").primaryKey(),
		email: text("email").notNull(),
		role: text("role", { enum: ROLES }).notNull(),
		createdAt: integer("created_at").notNull(),
		lastLoginAt: integer("last_login_at"),
		disabledAt: integer("disabled_at"),
		deletedAt: integer("deleted_at"),
	},
	(t) => [uniqueIndex("users_email_live").on(t.email).where(sql`deleted_at IS NULL`)],
);

/** One-time login links: 256-bit random token, single use, short expiry. */
export const loginTokens = sqliteTable(
	"login_tokens",
	{
		tokenHash: text("token_hash").primaryKey(),
		userId: text("user_id").notNull(),
		createdAt: integer("created_at").notNull(),
		expiresAt: integer("expires_at").notNull(),
		usedAt: integer("used_at"),
	},
	(t) => [index("login_tokens_user").on(t.userId), index("login_tokens_expires").on(t.expiresAt)],
);

/** Dashboard sessions (cookie `b2g_session`); `user_sessions` because `sessions` is the web-analytics view. */
export const userSessions = sqliteTable(
	"user_sessions",
	{
		idHash: text("id_hash").primaryKey(),
		userId: text("user_id").notNull(),
		createdAt: integer("created_at").notNull(),
		expiresAt: integer("expires_at").notNull(),
		revokedAt: integer("revoked_at"),
	},
	(t) => [index("user_sessions_user").on(t.userId), index("user_sessions_expires").on(t.expiresAt)],
);

/** One row per authenticated /api/v1 request (and per dashboard login). Pruned after 400 days by cron. */
export const auditLog = sqliteTable(
	"audit_log",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		at: integer("at").notNull(),
		actorKind: text("actor_kind", { enum: ["key", "user"] }).notNull(),
		actorId: text("actor_id").notNull(),
		/** The user's email or the key's name, as it was at the time. */
		actorLabel: text("actor_label"),
		role: text("role", { enum: ROLES }),
		/** JSON array of the scopes the principal held (a user's are its role's). */
		scopes: text("scopes").notNull(),
		method: text("method").notNull(),
		path: text("path").notNull(),
		query: text("query"),
		site: text("site"),
		status: integer("status").notNull(),
		durationMs: integer("duration_ms").notNull(),
		ip: text("ip").notNull(),
		country: text("country"),
		userAgent: text("user_agent"),
	},
	(t) => [index("audit_log_at").on(t.at, t.id), index("audit_log_actor_at").on(t.actorId, t.at)],
);
