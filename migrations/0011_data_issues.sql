CREATE TABLE `data_issues` (
	`site` text NOT NULL,
	`kind` text NOT NULL,
	`ref` text NOT NULL,
	`detail` text NOT NULL,
	`detected_at` integer NOT NULL,
	PRIMARY KEY(`site`, `kind`, `ref`)
);
--> statement-breakpoint
CREATE INDEX `data_issues_site_detected` ON `data_issues` (`site`,`detected_at`);