-- Connectors (issue 16): per-site webhook secrets of Shopify, WooCommerce and Stripe; the version guard that
-- keeps an older update from overwriting a newer one; Shopify's inventory items and per-location levels.
-- Hand-written (read and written with bound SQL in workers/connectors/, not through drizzle).

-- One secret per (site, platform). Shopify and Stripe issue theirs (pasted in); WooCommerce takes ours.
CREATE TABLE `connector_secrets` (
	`site` text NOT NULL,
	`platform` text NOT NULL CHECK (`platform` IN ('shopify', 'woocommerce', 'stripe')),
	`secret` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`site`, `platform`)
);
--> statement-breakpoint
-- The platform's own version (updated_at, ms) of each object a connector wrote, e.g. 'shopify:order:450789469'.
-- An upsert that would lower it sets `stale`, which the CHECK refuses: the whole D1 batch (the delivery's
-- writes) rolls back, inside the same transaction, so two deliveries racing cannot interleave.
CREATE TABLE `connector_versions` (
	`site` text NOT NULL,
	`object` text NOT NULL,
	`version` integer NOT NULL,
	`stale` integer DEFAULT 0 NOT NULL CHECK (`stale` = 0),
	PRIMARY KEY(`site`, `object`)
);
--> statement-breakpoint
-- Shopify's inventory_levels/update names an inventory item, not a SKU: products/* teach the mapping.
CREATE TABLE `connector_inventory_items` (
	`site` text NOT NULL,
	`platform` text NOT NULL,
	`item_id` text NOT NULL,
	`sku` text NOT NULL,
	PRIMARY KEY(`site`, `platform`, `item_id`)
);
--> statement-breakpoint
-- Stock per location; a SKU's inventory snapshot is the sum over its locations.
CREATE TABLE `connector_inventory_levels` (
	`site` text NOT NULL,
	`platform` text NOT NULL,
	`item_id` text NOT NULL,
	`location_id` text NOT NULL,
	`available` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `platform`, `item_id`, `location_id`)
);
