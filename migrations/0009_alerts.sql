CREATE TABLE `alert_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text NOT NULL,
	`alert_id` text NOT NULL,
	`event` text NOT NULL,
	`channel_type` text NOT NULL,
	`channel` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`last_error` text,
	`last_status` integer,
	`provider_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`delivered_at` integer,
	`dead_at` integer
);
--> statement-breakpoint
CREATE INDEX `alert_deliveries_site_status` ON `alert_deliveries` (`site`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_status_updated` ON `alert_deliveries` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_alert` ON `alert_deliveries` (`alert_id`);--> statement-breakpoint
CREATE TABLE `alert_rules` (
	`site` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`builtin` integer DEFAULT false NOT NULL,
	`metric` text NOT NULL,
	`comparator` text NOT NULL,
	`threshold_kind` text NOT NULL,
	`threshold` real NOT NULL,
	`eval_window` text NOT NULL,
	`baseline_days` integer NOT NULL,
	`severity` text NOT NULL,
	`channels` text DEFAULT '[]' NOT NULL,
	`cooldown_seconds` integer NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_status` text,
	`last_detail` text,
	`last_evaluated_at` integer,
	PRIMARY KEY(`site`, `id`)
);
--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text NOT NULL,
	`rule_id` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`label` text,
	`rule_name` text NOT NULL,
	`metric` text NOT NULL,
	`severity` text NOT NULL,
	`state` text NOT NULL,
	`resolution` text,
	`opened_by` text NOT NULL,
	`opened_value` real,
	`value` real,
	`baseline` real,
	`limit_value` real,
	`period` text NOT NULL,
	`started_at` integer NOT NULL,
	`resolved_at` integer,
	`last_evaluated_at` integer NOT NULL,
	`notified_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_open` ON `alerts` (`site`,`rule_id`,`dedupe_key`) WHERE state = 'firing';--> statement-breakpoint
CREATE INDEX `alerts_rule_key` ON `alerts` (`site`,`rule_id`,`dedupe_key`,`notified_at`);--> statement-breakpoint
CREATE INDEX `alerts_site_started` ON `alerts` (`site`,`started_at`);