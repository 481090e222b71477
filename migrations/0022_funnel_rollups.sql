-- Daily funnel rollups (workers/funnels/rollup.ts).
--
-- A funnel report counts each person once, with their deepest attempt over the range (earliest on a
-- tie), so plain per-day sums would count a person who starts on two days twice. The rollup keeps, per
-- funnel definition (`fkey`: a hash of the step events, the window and the site's time zone) and local
-- day of the step-1 event, each person's best attempt that started that day (computed with the whole
-- window, from events after the day), plus two pointers that make "is this the person's best row in
-- [from, to]?" a filter on the row alone:
--   prev_ge_day: the latest earlier day on which the person reached at least this depth;
--   next_gt_day: the earliest later day on which the person reached a greater depth.
-- A row is the person's winner in [from, to] iff from <= day <= to, prev_ge_day < from (or none) and
-- next_gt_day > to (or none): exactly one row per person, so the report is one range scan.
-- g1..g9: milliseconds from step k to step k+1 of that attempt (null past its depth), for exact medians.
CREATE TABLE `funnel_people` (
	`site` text NOT NULL, `fkey` text NOT NULL, `day` text NOT NULL, `person` text NOT NULL,
	`depth` integer NOT NULL,
	`g1` integer, `g2` integer, `g3` integer, `g4` integer, `g5` integer, `g6` integer, `g7` integer, `g8` integer, `g9` integer,
	`channel` text NOT NULL, `device` text NOT NULL,
	`prev_ge_day` text, `next_gt_day` text,
	PRIMARY KEY (`site`, `fkey`, `day`, `person`)
) WITHOUT ROWID;
--> statement-breakpoint
-- The pointer maintenance looks up one person's rows.
CREATE INDEX `funnel_people_person` ON `funnel_people` (`site`, `fkey`, `person`, `day`, `depth`);
--> statement-breakpoint
-- Days rolled for a definition (a day with no starter has a row here and none in funnel_people).
CREATE TABLE `funnel_rolled` (
	`site` text NOT NULL, `fkey` text NOT NULL, `day` text NOT NULL, `rolled_at` integer NOT NULL,
	PRIMARY KEY (`site`, `fkey`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Event hours that changed since the funnel rollups last read them. The KPI re-roller copies every web
-- hour it clears into this table in the same transaction (workers/metrics/rollup.ts), so no event write
-- pays a second trigger. `v` counts re-marks: the funnel roller deletes an hour only if `v` is still the
-- value it read, so a mark made while it was rolling is never lost.
CREATE TABLE `funnel_dirty` (
	`site` text NOT NULL, `hour` integer NOT NULL, `v` integer NOT NULL DEFAULT 1,
	PRIMARY KEY (`site`, `hour`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Scratch list of persons whose pointers a roll must recompute (written and emptied in one batch).
CREATE TABLE `funnel_touched` (
	`site` text NOT NULL, `fkey` text NOT NULL, `person` text NOT NULL,
	PRIMARY KEY (`site`, `fkey`, `person`)
) WITHOUT ROWID;
