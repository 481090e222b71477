-- Data quality (issue 14, item 14). `data_issues` (0011) gains what the commerce rules need: how bad an
-- issue is and when a later write fixed it. Issues are never deleted: a resolved one keeps its detail,
-- and a record that breaks the rule again reopens the same row (new detected_at, resolved_at NULL).
ALTER TABLE `data_issues` ADD `severity` text DEFAULT 'warning' NOT NULL;
--> statement-breakpoint
ALTER TABLE `data_issues` ADD `resolved_at` integer;
--> statement-breakpoint
CREATE INDEX `data_issues_site_open` ON `data_issues` (`site`, `resolved_at`, `kind`);
--> statement-breakpoint
-- One stored reconciliation per (site, day): the nightly cron writes it, GET /api/v1/health/data reads it
-- (and computes a missing or stale day on demand). `report` is the JSON the endpoint returns for the day.
CREATE TABLE `data_reconciliations` (
	`site` text NOT NULL,
	`day` text NOT NULL,
	`computed_at` integer NOT NULL,
	`reconciled` integer NOT NULL,
	`report` text NOT NULL,
	PRIMARY KEY(`site`, `day`)
);
