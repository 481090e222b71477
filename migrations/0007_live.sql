CREATE TABLE `live_minutes` (
	`site` text NOT NULL,
	`shard` integer NOT NULL,
	`minute` integer NOT NULL,
	`events` integer NOT NULL,
	`page_views` integer NOT NULL,
	`visitors` integer NOT NULL,
	`orders` integer NOT NULL,
	`revenue_minor` integer NOT NULL,
	PRIMARY KEY(`site`, `minute`, `shard`)
);
--> statement-breakpoint
ALTER TABLE `sites` ADD `live_shards` integer DEFAULT 1 NOT NULL;