CREATE TABLE `analytics_results` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`kind` text NOT NULL,
	`json` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `kind`)
);
--> statement-breakpoint
CREATE TABLE `analytics_run_steps` (
	`run_id` text NOT NULL,
	`step` text NOT NULL,
	`position` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`duration_ms` integer,
	`rows_read` integer,
	`rows_written` integer,
	`error` text,
	PRIMARY KEY(`run_id`, `step`)
);
--> statement-breakpoint
CREATE TABLE `analytics_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `analytics_runs_site_created` ON `analytics_runs` (`site`,`created_at`);--> statement-breakpoint
CREATE INDEX `analytics_runs_site_as_of` ON `analytics_runs` (`site`,`as_of`);--> statement-breakpoint
CREATE TABLE `basket_rules` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`level` text NOT NULL,
	`antecedent` text NOT NULL,
	`consequent` text NOT NULL,
	`count` integer NOT NULL,
	`support` real NOT NULL,
	`confidence` real NOT NULL,
	`lift` real NOT NULL,
	`conviction` real,
	PRIMARY KEY(`site`, `as_of`, `level`, `antecedent`, `consequent`)
);
--> statement-breakpoint
CREATE INDEX `basket_rules_lift` ON `basket_rules` (`site`,`as_of`,`level`,`lift`);--> statement-breakpoint
CREATE TABLE `clv_scores` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`customer_id` text NOT NULL,
	`x` integer NOT NULL,
	`tx` real NOT NULL,
	`age` real NOT NULL,
	`p_alive` real NOT NULL,
	`expected_30` real NOT NULL,
	`expected_90` real NOT NULL,
	`expected_365` real NOT NULL,
	`expected_spend_minor` real NOT NULL,
	`clv_minor` real NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `customer_id`)
);
--> statement-breakpoint
CREATE INDEX `clv_scores_value` ON `clv_scores` (`site`,`as_of`,`clv_minor`);--> statement-breakpoint
CREATE TABLE `rfm_scores` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`customer_id` text NOT NULL,
	`recency_days` integer NOT NULL,
	`frequency` integer NOT NULL,
	`monetary_minor` integer NOT NULL,
	`r` integer NOT NULL,
	`f` integer NOT NULL,
	`m` integer NOT NULL,
	`segment` text NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `customer_id`)
);
--> statement-breakpoint
CREATE INDEX `rfm_scores_segment` ON `rfm_scores` (`site`,`as_of`,`segment`);--> statement-breakpoint
CREATE INDEX `rfm_scores_customer` ON `rfm_scores` (`site`,`customer_id`,`as_of`);--> statement-breakpoint
-- KPI breakdown by RFM segment (`by=segment`): the sales measures of kpi_sales_daily per local day and the
-- segment the customer had in the latest nightly run (`Unscored`: no order in its RFM window). Written whole
-- by the nightly run's segment_rollup step, so it covers days up to that run's as-of day.
CREATE TABLE `kpi_segment_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `segment` text NOT NULL,
	`orders` integer NOT NULL DEFAULT 0, `revenue` integer NOT NULL DEFAULT 0, `gross_total` integer NOT NULL DEFAULT 0,
	`discount` integer NOT NULL DEFAULT 0, `shipping` integer NOT NULL DEFAULT 0, `tax` integer NOT NULL DEFAULT 0,
	`line_revenue` integer NOT NULL DEFAULT 0, `costed_revenue` integer NOT NULL DEFAULT 0, `cogs` integer NOT NULL DEFAULT 0, `units` integer NOT NULL DEFAULT 0,
	`multi_sku_orders` integer NOT NULL DEFAULT 0, `first_orders` integer NOT NULL DEFAULT 0,
	`subscription_orders` integer NOT NULL DEFAULT 0, `subscription_revenue` integer NOT NULL DEFAULT 0,
	`shipped_orders` integer NOT NULL DEFAULT 0, `fulfil_ms` integer NOT NULL DEFAULT 0,
	`refunds` integer NOT NULL DEFAULT 0, `refund_amount` integer NOT NULL DEFAULT 0, `returns` integer NOT NULL DEFAULT 0, `shipping_errors` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`, `segment`)
) WITHOUT ROWID;
