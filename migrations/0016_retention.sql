-- Per-site retention of raw events (issue 14 item 12): NULL keeps them forever; N purges raw events and
-- R2 archive objects older than N whole UTC days (workers/jobs/retention.ts). KPI rollups are kept.
ALTER TABLE `sites` ADD `retention_days` integer;