CREATE TABLE `funnels` (
	`site` text NOT NULL,
	`id` text NOT NULL,
	`position` integer NOT NULL,
	`name` text NOT NULL,
	`steps` text NOT NULL,
	`window_seconds` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `id`)
);
