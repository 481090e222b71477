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
	/** HMAC key for signed order webhooks; kept readable because verifying an HMAC needs it. */
	webhookSecret: text("webhook_secret"),
	/** Real-time shard objects the site's events spread over (by visitor); 1 = one LiveSite object. */
	liveShards: integer("live_shards").notNull().default(1),
	/** Raw events and archive objects older than this many whole UTC days are purged by cron (null: kept forever). */
	retentionDays: integer("retention_days"),
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
		// A customer's timeline (GET /api/v1/customers/{id}) without scanning the site's events; `device` (0024) for the
		// customers overview's device per customer without a table row per event.
		index("events_site_customer_ts").on(t.site, t.customerId, t.ts, t.device).where(sql`customer_id IS NOT NULL`),
	],
);

export type EventRow = typeof events.$inferInsert;

// ───────────── Commerce records (pushed by the store's backend or bulk-imported) ─────────────
// Keyed by the store's natural ids, never by foreign keys: an order may arrive before its customer
// or product and is linked by id when they come. Money is integer minor units of `currency`.

/** Analytics-side customer record: no email or name (those live in customer_pii). */
export const customers = sqliteTable(
	"customers",
	{
		site: text("site").notNull(),
		customerId: text("customer_id").notNull(),
		createdAt: integer("created_at").notNull(),
		channel: text("channel"),
		country: text("country"),
		isSubscriber: integer("is_subscriber", { mode: "boolean" }).notNull().default(false),
		subscriptionStatus: text("subscription_status"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.customerId] }), index("customers_site_created").on(t.site, t.createdAt)],
);

/** Personal data, kept apart so it can be encrypted and erased without touching analytics rows. */
export const customerPii = sqliteTable(
	"customer_pii",
	{
		site: text("site").notNull(),
		customerId: text("customer_id").notNull(),
		email: text("email"),
		name: text("name"),
		updatedAt: integer("updated_at").notNull(),
		/** Keyed hash of the normalised email (migration 0019, hand-written; workers/privacy/pii.ts). */
		emailHash: text("email_hash"),
		/** The key the row is encrypted with; null: plaintext from before 0019. */
		kid: text("kid"),
	},
	(t) => [primaryKey({ columns: [t.site, t.customerId] })],
);

export const products = sqliteTable(
	"products",
	{
		site: text("site").notNull(),
		sku: text("sku").notNull(),
		name: text("name").notNull(),
		category: text("category"),
		brand: text("brand"),
		description: text("description"),
		priceMinor: integer("price_minor").notNull(),
		unitCostMinor: integer("unit_cost_minor"),
		supplierId: text("supplier_id"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.sku] })],
);

export const orders = sqliteTable(
	"orders",
	{
		site: text("site").notNull(),
		orderId: text("order_id").notNull(),
		customerId: text("customer_id").notNull(),
		placedAt: integer("placed_at").notNull(),
		paidAt: integer("paid_at"),
		shippedAt: integer("shipped_at"),
		deliveredAt: integer("delivered_at"),
		channel: text("channel"),
		coupon: text("coupon"),
		subtotalMinor: integer("subtotal_minor"),
		discountMinor: integer("discount_minor").notNull().default(0),
		shippingMinor: integer("shipping_minor").notNull().default(0),
		taxMinor: integer("tax_minor").notNull().default(0),
		totalMinor: integer("total_minor").notNull(),
		currency: text("currency").notNull(),
		status: text("status").notNull().default("placed"),
		isSubscription: integer("is_subscription", { mode: "boolean" }).notNull().default(false),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		primaryKey({ columns: [t.site, t.orderId] }),
		index("orders_site_placed").on(t.site, t.placedAt),
		index("orders_site_customer").on(t.site, t.customerId, t.placedAt),
		// The customers overview (0024, workers/customers/overview-query.ts): covering, non-cancelled orders only.
		index("orders_live_placed").on(t.site, t.placedAt, t.customerId, t.totalMinor, t.taxMinor, t.status).where(sql`status <> 'cancelled'`),
		index("orders_live_first").on(t.site, t.customerId, t.placedAt, t.orderId, t.channel, t.totalMinor, t.taxMinor, t.status).where(sql`status <> 'cancelled'`),
	],
);

export const orderItems = sqliteTable(
	"order_items",
	{
		site: text("site").notNull(),
		orderId: text("order_id").notNull(),
		sku: text("sku").notNull(),
		qty: integer("qty").notNull(),
		unitPriceMinor: integer("unit_price_minor").notNull(),
		unitCostMinor: integer("unit_cost_minor"),
	},
	(t) => [primaryKey({ columns: [t.site, t.orderId, t.sku] }), index("order_items_site_sku").on(t.site, t.sku)],
);

export const refunds = sqliteTable(
	"refunds",
	{
		site: text("site").notNull(),
		refundId: text("refund_id").notNull(),
		orderId: text("order_id").notNull(),
		createdAt: integer("created_at").notNull(),
		amountMinor: integer("amount_minor").notNull(),
		currency: text("currency").notNull(),
		reason: text("reason"),
		sku: text("sku"),
		qty: integer("qty"),
		isReturn: integer("is_return", { mode: "boolean" }).notNull().default(false),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.refundId] }), index("refunds_site_created").on(t.site, t.createdAt), index("refunds_site_order").on(t.site, t.orderId)],
);

/** Stock of a SKU at a point in time; the latest snapshot is the current stock. */
export const inventorySnapshots = sqliteTable(
	"inventory_snapshots",
	{
		site: text("site").notNull(),
		sku: text("sku").notNull(),
		takenAt: integer("taken_at").notNull(),
		stock: integer("stock").notNull(),
		reorderPoint: integer("reorder_point"),
		leadTimeDays: integer("lead_time_days"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.sku, t.takenAt] })],
);

export const suppliers = sqliteTable(
	"suppliers",
	{
		site: text("site").notNull(),
		supplierId: text("supplier_id").notNull(),
		name: text("name").notNull(),
		country: text("country"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.supplierId] })],
);

/** A purchase order from a supplier: promised vs actual delivery, for on-time % and lead-time variance. */
export const supplierDeliveries = sqliteTable(
	"supplier_deliveries",
	{
		site: text("site").notNull(),
		deliveryId: text("delivery_id").notNull(),
		supplierId: text("supplier_id").notNull(),
		sku: text("sku"),
		qty: integer("qty"),
		orderedAt: integer("ordered_at").notNull(),
		promisedAt: integer("promised_at").notNull(),
		deliveredAt: integer("delivered_at"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.deliveryId] }), index("supplier_deliveries_supplier").on(t.site, t.supplierId)],
);

export const tickets = sqliteTable(
	"tickets",
	{
		site: text("site").notNull(),
		ticketId: text("ticket_id").notNull(),
		customerId: text("customer_id"),
		orderId: text("order_id"),
		channel: text("channel"),
		category: text("category"),
		openedAt: integer("opened_at").notNull(),
		firstResponseAt: integer("first_response_at"),
		resolvedAt: integer("resolved_at"),
		status: text("status").notNull().default("open"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.ticketId] }), index("tickets_site_opened").on(t.site, t.openedAt)],
);

/** NPS (0–10) and CSAT (1–5) responses. */
export const surveys = sqliteTable(
	"surveys",
	{
		site: text("site").notNull(),
		responseId: text("response_id").notNull(),
		customerId: text("customer_id"),
		kind: text("kind", { enum: ["nps", "csat"] }).notNull(),
		score: integer("score").notNull(),
		respondedAt: integer("responded_at").notNull(),
		orderId: text("order_id"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.responseId] }), index("surveys_site_kind_time").on(t.site, t.kind, t.respondedAt)],
);

/** Marketing spend per acquisition channel per day (site-local date). */
export const marketingSpend = sqliteTable(
	"marketing_spend",
	{
		site: text("site").notNull(),
		day: text("day").notNull(),
		channel: text("channel").notNull(),
		amountMinor: integer("amount_minor").notNull(),
		currency: text("currency").notNull(),
		impressions: integer("impressions"),
		clicks: integer("clicks"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.day, t.channel] })],
);

/** Email/SMS messages and what the recipient did with them. */
export const messages = sqliteTable(
	"messages",
	{
		site: text("site").notNull(),
		messageId: text("message_id").notNull(),
		customerId: text("customer_id"),
		kind: text("kind", { enum: ["email", "sms"] }).notNull(),
		campaign: text("campaign"),
		sentAt: integer("sent_at").notNull(),
		openedAt: integer("opened_at"),
		clickedAt: integer("clicked_at"),
		bouncedAt: integer("bounced_at"),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.messageId] }), index("messages_site_sent").on(t.site, t.sentAt)],
);

/**
 * Integrator API keys. The secret is shown once; only its SHA-256 is stored (keys are 256-bit random,
 * so a fast hash is enough). `site` null = account-wide (the only kind that may create sites).
 */
export const apiKeys = sqliteTable("api_keys", {
	id: text("id").primaryKey(),
	site: text("site"),
	name: text("name").notNull(),
	secretHash: text("secret_hash").notNull().unique(),
	scopes: text("scopes").notNull(),
	createdAt: integer("created_at").notNull(),
	lastUsedAt: integer("last_used_at"),
	revokedAt: integer("revoked_at"),
});

/** Signatures of accepted webhook deliveries, to refuse replays inside the 5-minute window (pruned by cron). */
export const webhookDeliveries = sqliteTable(
	"webhook_deliveries",
	{
		site: text("site").notNull(),
		signature: text("signature").notNull(),
		receivedAt: integer("received_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.signature] }), index("webhook_deliveries_received").on(t.receivedAt)],
);

/** A bulk import: the uploaded file sits in R2 and is processed in resumable slices by the import queue. */
export const importJobs = sqliteTable(
	"import_jobs",
	{
		id: text("id").primaryKey(),
		site: text("site").notNull(),
		entity: text("entity").notNull(),
		format: text("format", { enum: ["csv", "ndjson"] }).notNull(),
		status: text("status", { enum: ["uploading", "queued", "running", "done", "failed"] }).notNull(),
		objectKey: text("object_key").notNull(),
		bytesTotal: integer("bytes_total").notNull().default(0),
		/** Byte offset processed so far: also the compare-and-set guard that makes slice redelivery harmless. */
		bytesDone: integer("bytes_done").notNull().default(0),
		/** File line number at bytes_done, and (CSV) the header read by the first slice, so any slice can resume. */
		nextLine: integer("next_line").notNull().default(1),
		header: text("header"),
		rowsOk: integer("rows_ok").notNull().default(0),
		rowsRejected: integer("rows_rejected").notNull().default(0),
		rowsChanged: integer("rows_changed").notNull().default(0),
		error: text("error"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		finishedAt: integer("finished_at"),
		/** When the job's file was deleted from R2 (migration 0019, hand-written; workers/privacy/import-files.ts). */
		fileDeletedAt: integer("file_deleted_at"),
	},
	(t) => [index("import_jobs_site_created").on(t.site, t.createdAt)],
);

/** Rejected rows of an import (the first 1,000 per job are kept; all are counted). */
export const importRejects = sqliteTable(
	"import_rejects",
	{
		job: text("job").notNull(),
		line: integer("line").notNull(),
		reason: text("reason").notNull(),
	},
	(t) => [primaryKey({ columns: [t.job, t.line] })],
);

/**
 * Per-minute live aggregates flushed by each LiveSite shard object (by receive time), so the real-time
 * history survives the objects and feeds per-minute anomaly detection. A site's minute is the sum over
 * its shards: shards partition visitors, so their distinct-visitor estimates add up.
 */
export const liveMinutes = sqliteTable(
	"live_minutes",
	{
		site: text("site").notNull(),
		shard: integer("shard").notNull(),
		/** Start of the minute, UTC epoch ms. */
		minute: integer("minute").notNull(),
		events: integer("events").notNull(),
		pageViews: integer("page_views").notNull(),
		/** Distinct visitors in the minute (HyperLogLog estimate). */
		visitors: integer("visitors").notNull(),
		orders: integer("orders").notNull(),
		/** Purchase value in the site currency, minor units. */
		revenueMinor: integer("revenue_minor").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.minute, t.shard] })],
);

/**
 * Rows a reader had to skip or flag instead of failing (a rollup meeting props SQLite refuses, later the
 * data-quality rules): one row per (site, kind, ref), the latest detail kept. Recorded, shown, never fixed silently.
 */
export const dataIssues = sqliteTable(
	"data_issues",
	{
		site: text("site").notNull(),
		/** What was wrong, e.g. `malformed_props`. */
		kind: text("kind").notNull(),
		/** The record it concerns, e.g. `events/<id>`. */
		ref: text("ref").notNull(),
		detail: text("detail").notNull(),
		detectedAt: integer("detected_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.site, t.kind, t.ref] }), index("data_issues_site_detected").on(t.site, t.detectedAt)],
);
