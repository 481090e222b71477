-- Daily KPI rollups (workers/metrics/rollup.ts) and the bookkeeping that keeps them current.
--
-- Every write to a raw table marks the UTC hours it touches as dirty for one rollup source, through
-- the triggers below (ON CONFLICT DO NOTHING, not INSERT OR IGNORE: inside a trigger fired by an
-- upsert's UPDATE, SQLite applies the outer statement's ABORT to OR IGNORE), whichever path wrote it (upsert API, webhook, bulk import, queue consumer).
-- The re-roller maps dirty hours to the site's local days and recomputes those days from raw rows:
-- a late or corrected record re-rolls exactly the days it affects, and a repeat changes nothing.
CREATE TABLE `rollup_dirty` (`site` text NOT NULL, `source` text NOT NULL, `hour` integer NOT NULL, PRIMARY KEY (`site`, `source`, `hour`)) WITHOUT ROWID;
--> statement-breakpoint
-- Orders by the order's placed day, refunds by the refund's day; channel of the order, country of the customer.
CREATE TABLE `kpi_sales_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `channel` text NOT NULL, `country` text NOT NULL,
	`orders` integer NOT NULL DEFAULT 0, `revenue` integer NOT NULL DEFAULT 0, `gross_total` integer NOT NULL DEFAULT 0,
	`discount` integer NOT NULL DEFAULT 0, `shipping` integer NOT NULL DEFAULT 0, `tax` integer NOT NULL DEFAULT 0,
	`line_revenue` integer NOT NULL DEFAULT 0, `costed_revenue` integer NOT NULL DEFAULT 0, `cogs` integer NOT NULL DEFAULT 0, `units` integer NOT NULL DEFAULT 0,
	`multi_sku_orders` integer NOT NULL DEFAULT 0, `first_orders` integer NOT NULL DEFAULT 0,
	`subscription_orders` integer NOT NULL DEFAULT 0, `subscription_revenue` integer NOT NULL DEFAULT 0,
	`shipped_orders` integer NOT NULL DEFAULT 0, `fulfil_ms` integer NOT NULL DEFAULT 0,
	`refunds` integer NOT NULL DEFAULT 0, `refund_amount` integer NOT NULL DEFAULT 0, `returns` integer NOT NULL DEFAULT 0, `shipping_errors` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`, `channel`, `country`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `kpi_products_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `sku` text NOT NULL,
	`orders` integer NOT NULL DEFAULT 0, `units` integer NOT NULL DEFAULT 0, `line_revenue` integer NOT NULL DEFAULT 0, `costed_revenue` integer NOT NULL DEFAULT 0, `cogs` integer NOT NULL DEFAULT 0,
	`returned_units` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`, `sku`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Sessions by the local day they start; channel, device and country of their first event.
CREATE TABLE `kpi_web_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `channel` text NOT NULL, `device` text NOT NULL, `country` text NOT NULL,
	`visitors` integer NOT NULL DEFAULT 0, `sessions` integer NOT NULL DEFAULT 0, `events` integer NOT NULL DEFAULT 0, `page_views` integer NOT NULL DEFAULT 0,
	`bounces` integer NOT NULL DEFAULT 0, `duration_ms` integer NOT NULL DEFAULT 0,
	`view_sessions` integer NOT NULL DEFAULT 0, `view_purchase_sessions` integer NOT NULL DEFAULT 0,
	`cart_sessions` integer NOT NULL DEFAULT 0, `cart_purchase_sessions` integer NOT NULL DEFAULT 0,
	`checkout_sessions` integer NOT NULL DEFAULT 0, `checkout_purchase_sessions` integer NOT NULL DEFAULT 0,
	`purchase_sessions` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`, `channel`, `device`, `country`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `kpi_product_views_daily` (
	`site` text NOT NULL, `day` text NOT NULL, `sku` text NOT NULL,
	`view_sessions` integer NOT NULL DEFAULT 0, `purchase_sessions` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`, `sku`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Tickets by the day they were opened (resolution as known now), surveys by the day of the response.
CREATE TABLE `kpi_support_daily` (
	`site` text NOT NULL, `day` text NOT NULL,
	`tickets_opened` integer NOT NULL DEFAULT 0, `tickets_resolved` integer NOT NULL DEFAULT 0,
	`first_responses` integer NOT NULL DEFAULT 0, `first_response_ms` integer NOT NULL DEFAULT 0,
	`resolution_ms` text NOT NULL DEFAULT '[]',
	`nps_responses` integer NOT NULL DEFAULT 0, `promoters` integer NOT NULL DEFAULT 0, `detractors` integer NOT NULL DEFAULT 0,
	`csat_responses` integer NOT NULL DEFAULT 0, `csat_satisfied` integer NOT NULL DEFAULT 0, `csat_sum` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
-- The last snapshot of each SKU taken that day.
CREATE TABLE `kpi_inventory_daily` (
	`site` text NOT NULL, `day` text NOT NULL,
	`skus` integer NOT NULL DEFAULT 0, `stockouts` integer NOT NULL DEFAULT 0, `below_reorder` integer NOT NULL DEFAULT 0, `inventory_value` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Supplier deliveries by the day they were promised for.
CREATE TABLE `kpi_supply_daily` (
	`site` text NOT NULL, `day` text NOT NULL,
	`due` integer NOT NULL DEFAULT 0, `delivered` integer NOT NULL DEFAULT 0, `on_time` integer NOT NULL DEFAULT 0,
	`lead_days_sum` real NOT NULL DEFAULT 0, `lead_days_sq` real NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Customer base per day: customers active at the day's start (an order in the previous 90 days) and
-- customers lapsing that day (90 days after their last order with none since). Recomputed per site.
CREATE TABLE `kpi_customers_daily` (
	`site` text NOT NULL, `day` text NOT NULL,
	`active` integer NOT NULL DEFAULT 0, `lapsed` integer NOT NULL DEFAULT 0,
	PRIMARY KEY (`site`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `kpi_targets` (
	`site` text NOT NULL, `kpi` text NOT NULL, `period` text NOT NULL, `value` real NOT NULL, `updated_at` integer NOT NULL,
	PRIMARY KEY (`site`, `kpi`, `period`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `inventory_site_taken` ON `inventory_snapshots` (`site`, `taken_at`);
--> statement-breakpoint
CREATE INDEX `deliveries_site_promised` ON `supplier_deliveries` (`site`, `promised_at`);
--> statement-breakpoint
-- ── sales: orders (their placed hour; for a changed customer or status also their later orders and their refunds) ──
CREATE TRIGGER `orders_dirty_ins` AFTER INSERT ON `orders` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'sales', NEW.placed_at / 3600000) ON CONFLICT DO NOTHING;
	-- A customer's first order decides new vs returning for their later ones.
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = NEW.site AND customer_id = NEW.customer_id AND placed_at > NEW.placed_at ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', created_at / 3600000 FROM refunds WHERE site = NEW.site AND order_id = NEW.order_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `orders_dirty_upd` AFTER UPDATE ON `orders` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'sales', OLD.placed_at / 3600000), (NEW.site, 'sales', NEW.placed_at / 3600000) ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders
		WHERE site = NEW.site AND customer_id IN (OLD.customer_id, NEW.customer_id) AND placed_at > min(OLD.placed_at, NEW.placed_at)
		AND (OLD.customer_id IS NOT NEW.customer_id OR OLD.placed_at IS NOT NEW.placed_at OR OLD.status IS NOT NEW.status) ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', created_at / 3600000 FROM refunds WHERE site = NEW.site AND order_id = NEW.order_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `orders_dirty_del` AFTER DELETE ON `orders` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'sales', OLD.placed_at / 3600000) ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = OLD.site AND customer_id = OLD.customer_id AND placed_at > OLD.placed_at ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `order_items_dirty_ins` AFTER INSERT ON `order_items` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = NEW.site AND order_id = NEW.order_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `order_items_dirty_upd` AFTER UPDATE ON `order_items` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = NEW.site AND order_id IN (OLD.order_id, NEW.order_id) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `order_items_dirty_del` AFTER DELETE ON `order_items` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = OLD.site AND order_id = OLD.order_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `refunds_dirty_ins` AFTER INSERT ON `refunds` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'sales', NEW.created_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `refunds_dirty_upd` AFTER UPDATE ON `refunds` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'sales', OLD.created_at / 3600000), (NEW.site, 'sales', NEW.created_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `refunds_dirty_del` AFTER DELETE ON `refunds` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'sales', OLD.created_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- A customer's country is a sales dimension: a new or moved customer re-rolls their orders and refunds.
CREATE TRIGGER `customers_dirty_ins` AFTER INSERT ON `customers` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = NEW.site AND customer_id = NEW.customer_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `customers_dirty_upd` AFTER UPDATE OF `country` ON `customers` WHEN OLD.country IS NOT NEW.country BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'sales', placed_at / 3600000 FROM orders WHERE site = NEW.site AND customer_id = NEW.customer_id ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT r.site, 'sales', r.created_at / 3600000 FROM refunds r JOIN orders o ON o.site = r.site AND o.order_id = r.order_id WHERE o.site = NEW.site AND o.customer_id = NEW.customer_id ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- A product's cost fills in for order lines sent without one (COGS), and values the inventory.
CREATE TRIGGER `products_dirty_ins` AFTER INSERT ON `products` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT o.site, 'sales', o.placed_at / 3600000 FROM order_items i JOIN orders o ON o.site = i.site AND o.order_id = i.order_id WHERE i.site = NEW.site AND i.sku = NEW.sku AND i.unit_cost_minor IS NULL ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'inventory', taken_at / 3600000 FROM inventory_snapshots WHERE site = NEW.site AND sku = NEW.sku ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `products_dirty_upd` AFTER UPDATE OF `unit_cost_minor` ON `products` WHEN OLD.unit_cost_minor IS NOT NEW.unit_cost_minor BEGIN
	INSERT INTO rollup_dirty (site, source, hour) SELECT o.site, 'sales', o.placed_at / 3600000 FROM order_items i JOIN orders o ON o.site = i.site AND o.order_id = i.order_id WHERE i.site = NEW.site AND i.sku = NEW.sku AND i.unit_cost_minor IS NULL ON CONFLICT DO NOTHING;
	INSERT INTO rollup_dirty (site, source, hour) SELECT site, 'inventory', taken_at / 3600000 FROM inventory_snapshots WHERE site = NEW.site AND sku = NEW.sku ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- ── web: events are insert-only ──
CREATE TRIGGER `events_dirty_ins` AFTER INSERT ON `events` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'web', NEW.ts / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- ── support: tickets by opened hour, surveys by response hour ──
CREATE TRIGGER `tickets_dirty_ins` AFTER INSERT ON `tickets` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'support', NEW.opened_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `tickets_dirty_upd` AFTER UPDATE ON `tickets` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'support', OLD.opened_at / 3600000), (NEW.site, 'support', NEW.opened_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `surveys_dirty_ins` AFTER INSERT ON `surveys` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'support', NEW.responded_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `surveys_dirty_upd` AFTER UPDATE ON `surveys` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'support', OLD.responded_at / 3600000), (NEW.site, 'support', NEW.responded_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- ── inventory and supply ──
CREATE TRIGGER `inventory_dirty_ins` AFTER INSERT ON `inventory_snapshots` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'inventory', NEW.taken_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `inventory_dirty_upd` AFTER UPDATE ON `inventory_snapshots` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'inventory', OLD.taken_at / 3600000), (NEW.site, 'inventory', NEW.taken_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `deliveries_dirty_ins` AFTER INSERT ON `supplier_deliveries` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (NEW.site, 'supply', NEW.promised_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
CREATE TRIGGER `deliveries_dirty_upd` AFTER UPDATE ON `supplier_deliveries` BEGIN
	INSERT INTO rollup_dirty (site, source, hour) VALUES (OLD.site, 'supply', OLD.promised_at / 3600000), (NEW.site, 'supply', NEW.promised_at / 3600000) ON CONFLICT DO NOTHING;
END;
--> statement-breakpoint
-- Data stored before this migration: every hour that holds rows is dirty, so the first re-roll builds its days.
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'sales', placed_at / 3600000 FROM orders WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'sales', created_at / 3600000 FROM refunds WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'web', ts / 3600000 FROM events WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'support', opened_at / 3600000 FROM tickets WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'support', responded_at / 3600000 FROM surveys WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'inventory', taken_at / 3600000 FROM inventory_snapshots WHERE true ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO rollup_dirty (site, source, hour) SELECT DISTINCT site, 'supply', promised_at / 3600000 FROM supplier_deliveries WHERE true ON CONFLICT DO NOTHING;
