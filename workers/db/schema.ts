/**
 * D1 schema (drizzle). `npm run db:generate` turns changes here into SQL under migrations/.
 * Money is integer minor units; time is UTC epoch ms.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A tracked store. `origins` is a JSON array of allowed browser origins (empty = any). */
export const sites = sqliteTable("sites", {
	id: text("id").primaryKey(),
	name: text("name").notNull(),
	origins: text("origins").notNull().default("[]"),
	timezone: text("timezone").notNull().default("UTC"),
	currency: text("currency").notNull().default("EUR"),
	createdAt: integer("created_at").notNull(),
});

/** Daily rotating salt for cookieless visitor hashes; rows older than yesterday are deleted by cron. */
export const salts = sqliteTable("salts", {
	day: text("day").primaryKey(),
	salt: text("salt").notNull(),
});

/**
 * Every accepted, non-bot event exactly once per (site, id).
 * archive_key/archived_at track the R2 copy: the consumer claims a key, writes the object, then stamps archived_at.
 */
export const events = sqliteTable(
	"events",
	{
		site: text("site").notNull(),
		id: text("id").notNull(),
		name: text("name").notNull(),
		ts: integer("ts").notNull(),
		receivedAt: integer("received_at").notNull(),
		visitor: text("visitor").notNull(),
		customerId: text("customer_id"),
		url: text("url").notNull(),
		host: text("host").notNull(),
		path: text("path").notNull(),
		referrer: text("referrer"),
		refSource: text("ref_source"),
		channel: text("channel").notNull(),
		utmSource: text("utm_source"),
		utmMedium: text("utm_medium"),
		utmCampaign: text("utm_campaign"),
		utmTerm: text("utm_term"),
		utmContent: text("utm_content"),
		country: text("country"),
		region: text("region"),
		city: text("city"),
		device: text("device").notNull(),
		browser: text("browser"),
		os: text("os"),
		orderId: text("order_id"),
		sku: text("sku"),
		valueMinor: integer("value_minor"),
		currency: text("currency"),
		props: text("props").notNull().default("{}"),
		archiveKey: text("archive_key"),
		archivedAt: integer("archived_at"),
	},
	(t) => [
		primaryKey({ columns: [t.site, t.id] }),
		index("events_site_ts").on(t.site, t.ts),
		index("events_site_visitor_ts").on(t.site, t.visitor, t.ts),
		index("events_archive_key").on(t.archiveKey),
		index("events_unarchived").on(t.site, t.receivedAt).where(sql`archived_at IS NULL`),
	],
);

export type EventRow = typeof events.$inferInsert;
