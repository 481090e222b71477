CREATE TABLE `report_sends` (
	`subscription_id` text NOT NULL,
	`period` text NOT NULL,
	`site` text NOT NULL,
	`due_at` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`last_error` text,
	`last_status` integer,
	`delivered_to` text DEFAULT '[]' NOT NULL,
	`report_key` text,
	`claimed_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`sent_at` integer,
	PRIMARY KEY(`subscription_id`, `period`)
);
--> statement-breakpoint
CREATE INDEX `report_sends_status_updated` ON `report_sends` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `report_sends_site_claimed` ON `report_sends` (`site`,`claimed_at`);--> statement-breakpoint
CREATE TABLE `report_subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text NOT NULL,
	`kind` text NOT NULL,
	`sku` text,
	`recipients` text DEFAULT '[]' NOT NULL,
	`channel` text NOT NULL,
	`target` text,
	`secret` text,
	`cadence` text NOT NULL,
	`send_time` text NOT NULL,
	`timezone` text NOT NULL,
	`weekday` integer DEFAULT 1 NOT NULL,
	`day_of_month` integer DEFAULT 1 NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`active_since` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `report_subscriptions_site` ON `report_subscriptions` (`site`,`created_at`);