CREATE TABLE `churn_scores` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`customer_id` text NOT NULL,
	`probability` real NOT NULL,
	`reasons` text NOT NULL,
	`model_version` integer NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `customer_id`)
);
--> statement-breakpoint
CREATE INDEX `churn_scores_probability` ON `churn_scores` (`site`,`as_of`,`probability`);--> statement-breakpoint
CREATE TABLE `inventory_plan` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`sku` text NOT NULL,
	`demand_mean` real NOT NULL,
	`demand_sd` real NOT NULL,
	`lead_mean` real,
	`lead_sd` real,
	`lead_source` text NOT NULL,
	`service_level` real NOT NULL,
	`safety_stock` real,
	`reorder_point` real,
	`stock` integer,
	`days_of_cover` real,
	`stockout_risk` real,
	`forecast` text NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `sku`)
);
--> statement-breakpoint
CREATE TABLE `models` (
	`site` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`as_of` text NOT NULL,
	`trained_at` integer NOT NULL,
	`params` text NOT NULL,
	`training_window` text NOT NULL,
	`metrics` text NOT NULL,
	`baseline` text NOT NULL,
	`promoted` integer NOT NULL,
	`decision` text NOT NULL,
	`artefact_key` text,
	PRIMARY KEY(`site`, `name`, `version`)
);
--> statement-breakpoint
CREATE INDEX `models_site_name_as_of` ON `models` (`site`,`name`,`as_of`);--> statement-breakpoint
CREATE TABLE `next_actions` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`customer_id` text NOT NULL,
	`action` text NOT NULL,
	`reason` text NOT NULL,
	`priority` real NOT NULL,
	`details` text NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `customer_id`)
);
--> statement-breakpoint
CREATE INDEX `next_actions_action` ON `next_actions` (`site`,`as_of`,`action`,`priority`);--> statement-breakpoint
CREATE TABLE `recommendations` (
	`site` text NOT NULL,
	`as_of` text NOT NULL,
	`kind` text NOT NULL,
	`subject` text NOT NULL,
	`items` text NOT NULL,
	`model_version` integer NOT NULL,
	PRIMARY KEY(`site`, `as_of`, `kind`, `subject`)
);
