CREATE TABLE `reports` (
	`site` text NOT NULL,
	`kind` text NOT NULL,
	`subject` text NOT NULL,
	`period` text NOT NULL,
	`key` text NOT NULL,
	`title` text NOT NULL,
	`generated_at` integer NOT NULL,
	`bytes` integer NOT NULL,
	`html_bytes` integer NOT NULL,
	PRIMARY KEY(`site`, `kind`, `subject`, `period`)
);
--> statement-breakpoint
CREATE INDEX `reports_site_generated` ON `reports` (`site`,`generated_at`);