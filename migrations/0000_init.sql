CREATE TABLE `events` (
	`site` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`ts` integer NOT NULL,
	`received_at` integer NOT NULL,
	`visitor` text NOT NULL,
	`customer_id` text,
	`url` text NOT NULL,
	`host` text NOT NULL,
	`path` text NOT NULL,
	`referrer` text,
	`ref_source` text,
	`channel` text NOT NULL,
	`utm_source` text,
	`utm_medium` text,
	`utm_campaign` text,
	`utm_term` text,
	`utm_content` text,
	`country` text,
	`region` text,
	`city` text,
	`device` text NOT NULL,
	`browser` text,
	`os` text,
	`order_id` text,
	`sku` text,
	`value_minor` integer,
	`currency` text,
	`props` text DEFAULT '{}' NOT NULL,
	`archive_key` text,
	`archived_at` integer,
	PRIMARY KEY(`site`, `id`)
);
--> statement-breakpoint
CREATE INDEX `events_site_ts` ON `events` (`site`,`ts`);--> statement-breakpoint
CREATE INDEX `events_site_visitor_ts` ON `events` (`site`,`visitor`,`ts`);--> statement-breakpoint
CREATE INDEX `events_archive_key` ON `events` (`archive_key`);--> statement-breakpoint
CREATE INDEX `events_unarchived` ON `events` (`site`,`received_at`) WHERE archived_at IS NULL;--> statement-breakpoint
CREATE TABLE `salts` (
	`day` text PRIMARY KEY NOT NULL,
	`salt` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`origins` text DEFAULT '[]' NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`currency` text DEFAULT 'EUR' NOT NULL,
	`created_at` integer NOT NULL
);
