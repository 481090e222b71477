-- R2 archive compaction (workers/pipeline/compact.ts): one row per (site, UTC day of the events) that holds
-- raw archive objects. `dirty_at` is set whenever an object is written for the day (archive.ts) and cleared
-- by the compaction once the day is one object; `lease_until` keeps two compactions of a day apart (the
-- compactor deletes objects no event row points to, which must not race another compactor's fresh object).
CREATE TABLE `archive_days` (
	`site` text NOT NULL,
	`day` text NOT NULL,
	`dirty_at` integer,
	`lease_until` integer,
	`compacted_at` integer,
	`objects_merged` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`site`, `day`)
);--> statement-breakpoint
CREATE INDEX `archive_days_dirty` ON `archive_days` (`dirty_at`) WHERE dirty_at IS NOT NULL;--> statement-breakpoint
-- Days archived before this migration are candidates once (a day already in one object is a no-op).
INSERT INTO `archive_days` (site, day, dirty_at) SELECT DISTINCT site, strftime('%Y-%m-%d', ts / 1000, 'unixepoch'), 0 FROM events WHERE archive_key IS NOT NULL;
