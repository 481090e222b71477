-- Imported web history (the `web_daily` entity, workers/commerce/entities.ts): a store's sessions per day from
-- before it ran our tracker (e.g. a Plausible or GA4 export), in kpi_web_daily's grouping-set encoding: all
-- three dimensions '' for the whole site, or exactly one of channel / device / country set for a breakdown row.
-- The web rollup (workers/metrics/rollup.ts) copies a day's rows into kpi_web_daily only when the day has no
-- session from raw events: raw events always win for a day, so a history overlapping tracked days changes nothing.
CREATE TABLE `web_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `channel` text NOT NULL, `device` text NOT NULL, `country` text NOT NULL,
	`visitors` integer NOT NULL, `sessions` integer NOT NULL, `events` integer NOT NULL, `page_views` integer NOT NULL,
	`bounces` integer NOT NULL, `duration_ms` integer NOT NULL,
	`view_sessions` integer NOT NULL, `view_purchase_sessions` integer NOT NULL,
	`cart_sessions` integer NOT NULL, `cart_purchase_sessions` integer NOT NULL,
	`checkout_sessions` integer NOT NULL, `checkout_purchase_sessions` integer NOT NULL,
	`purchase_sessions` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY (`site`, `day`, `channel`, `device`, `country`)
) WITHOUT ROWID;
--> statement-breakpoint
-- A local day D always overlaps UTC hour D 00:00 (zones east of UTC, up to +24 h) or D 12:00 (zones from −12 h
-- to +12 h), so marking both web hours makes the sweep re-roll D in any time zone (a neighbour day re-rolled too
-- is harmless). julianday(D) − 2440587.5 is D's UTC midnight in days since the epoch.
CREATE TRIGGER `web_daily_dirty_ins` AFTER INSERT ON `web_daily` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES
		(NEW.site, 'web', CAST(round((julianday(NEW.day) - 2440587.5) * 24) AS INTEGER)),
		(NEW.site, 'web', CAST(round((julianday(NEW.day) - 2440587.5) * 24) AS INTEGER) + 12) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `web_daily_dirty_upd` AFTER UPDATE ON `web_daily` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES
		(NEW.site, 'web', CAST(round((julianday(NEW.day) - 2440587.5) * 24) AS INTEGER)),
		(NEW.site, 'web', CAST(round((julianday(NEW.day) - 2440587.5) * 24) AS INTEGER) + 12) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `web_daily_dirty_del` AFTER DELETE ON `web_daily` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES
		(OLD.site, 'web', CAST(round((julianday(OLD.day) - 2440587.5) * 24) AS INTEGER)),
		(OLD.site, 'web', CAST(round((julianday(OLD.day) - 2440587.5) * 24) AS INTEGER) + 12) ON CONFLICT DO NOTHING;
END;
