-- Daily journey rollups (workers/customers/journey-rollup.ts) and covering indexes for the customers overview.
--
-- Journeys count sessions by the local day they start on, and everything a journeys report shows is a property
-- of one session (its entry page, its conversion path), so per-day counts sum exactly over any range of days:
-- a range's top lists are the top of the summed per-day rows. A session's events are read up to 6 h after the
-- end of the local day it starts on (as the KPI web rollup), so a day's rows never depend on later days.
-- `timezone`: the site's zone the day was cut in; a day rolled in another zone is not used.
CREATE TABLE `journey_days` (
	`site` text NOT NULL, `day` text NOT NULL, `timezone` text NOT NULL,
	`sessions` integer NOT NULL, `with_page` integer NOT NULL, `converting` integer NOT NULL,
	`rolled_at` integer NOT NULL,
	PRIMARY KEY (`site`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Sessions per entry page (the path of the session's first page_view) and local start day.
CREATE TABLE `journey_entries` (
	`site` text NOT NULL, `day` text NOT NULL, `path` text NOT NULL, `sessions` integer NOT NULL,
	PRIMARY KEY (`site`, `day`, `path`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Converting sessions per conversion path (`pages`: the JSON list of its last ≤ 3 page paths) and local start day.
CREATE TABLE `journey_paths` (
	`site` text NOT NULL, `day` text NOT NULL, `pages` text NOT NULL, `sessions` integer NOT NULL,
	PRIMARY KEY (`site`, `day`, `pages`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Event hours changed since the journey rollups last read them: the KPI re-roller copies every web hour it clears
-- (workers/metrics/rollup.ts), the GDPR erasure the hours of the events it deletes. `v` counts re-marks: the roller
-- deletes an hour only if `v` is still the value it read.
CREATE TABLE `journey_dirty` (
	`site` text NOT NULL, `hour` integer NOT NULL, `v` integer NOT NULL DEFAULT 1,
	PRIMARY KEY (`site`, `hour`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Customers overview (workers/customers/overview-query.ts): the range's non-cancelled orders read from the index
-- alone (no table row per order), and each customer's first-ever non-cancelled order (placed_at, channel) by one
-- index-only seek. Partial on status <> 'cancelled', the filter both queries carry (`status` is a column too: SQLite
-- still evaluates the term, and reads the table row for it unless the index holds it).
CREATE INDEX `orders_live_placed` ON `orders` (`site`, `placed_at`, `customer_id`, `total_minor`, `tax_minor`, `status`) WHERE status <> 'cancelled';
--> statement-breakpoint
-- Long ranges read every non-cancelled order of the site once, in customer order, from this index (no sort of the range
-- by customer): hence total and tax too.
CREATE INDEX `orders_live_first` ON `orders` (`site`, `customer_id`, `placed_at`, `order_id`, `channel`, `total_minor`, `tax_minor`, `status`) WHERE status <> 'cancelled';
--> statement-breakpoint
-- The device of each customer's identified events of the range without a table row per event: the customer timeline
-- index (0010) gets `device`. It serves every query it served before (same leading columns, same partial filter).
DROP INDEX `events_site_customer_ts`;
--> statement-breakpoint
CREATE INDEX `events_site_customer_ts` ON `events` (`site`, `customer_id`, `ts`, `device`) WHERE customer_id IS NOT NULL;
--> statement-breakpoint
-- Identified events per (local day, customer, device): the customers overview's device of each customer (most events in
-- the range, then the latest) from these partial counts and maxima, which sum exactly over days. Rolled with the journey
-- days (same days, same changed hours; customers/journey-rollup.ts), read per customer through the covering index.
CREATE TABLE `customer_device_days` (
	`site` text NOT NULL, `day` text NOT NULL, `customer_id` text NOT NULL, `device` text NOT NULL,
	`events` integer NOT NULL, `last_ts` integer NOT NULL,
	PRIMARY KEY (`site`, `day`, `customer_id`, `device`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `customer_device_days_customer` ON `customer_device_days` (`site`, `customer_id`, `day`, `device`, `events`, `last_ts`);
