CREATE TABLE `webhook_deliveries` (
	`site` text NOT NULL,
	`signature` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`site`, `signature`)
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_received` ON `webhook_deliveries` (`received_at`);--> statement-breakpoint
ALTER TABLE `sites` ADD `webhook_secret` text;