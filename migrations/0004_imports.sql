CREATE TABLE `import_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text NOT NULL,
	`entity` text NOT NULL,
	`format` text NOT NULL,
	`status` text NOT NULL,
	`object_key` text NOT NULL,
	`bytes_total` integer DEFAULT 0 NOT NULL,
	`bytes_done` integer DEFAULT 0 NOT NULL,
	`next_line` integer DEFAULT 1 NOT NULL,
	`header` text,
	`rows_ok` integer DEFAULT 0 NOT NULL,
	`rows_rejected` integer DEFAULT 0 NOT NULL,
	`rows_changed` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `import_jobs_site_created` ON `import_jobs` (`site`,`created_at`);--> statement-breakpoint
CREATE TABLE `import_rejects` (
	`job` text NOT NULL,
	`line` integer NOT NULL,
	`reason` text NOT NULL,
	PRIMARY KEY(`job`, `line`)
);
