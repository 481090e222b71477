CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`site` text,
	`name` text NOT NULL,
	`secret_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_secret_hash_unique` ON `api_keys` (`secret_hash`);--> statement-breakpoint
CREATE TABLE `customer_pii` (
	`site` text NOT NULL,
	`customer_id` text NOT NULL,
	`email` text,
	`name` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `customer_id`)
);
--> statement-breakpoint
CREATE TABLE `customers` (
	`site` text NOT NULL,
	`customer_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`channel` text,
	`country` text,
	`is_subscriber` integer DEFAULT false NOT NULL,
	`subscription_status` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `customer_id`)
);
--> statement-breakpoint
CREATE INDEX `customers_site_created` ON `customers` (`site`,`created_at`);--> statement-breakpoint
CREATE TABLE `inventory_snapshots` (
	`site` text NOT NULL,
	`sku` text NOT NULL,
	`taken_at` integer NOT NULL,
	`stock` integer NOT NULL,
	`reorder_point` integer,
	`lead_time_days` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `sku`, `taken_at`)
);
--> statement-breakpoint
CREATE TABLE `marketing_spend` (
	`site` text NOT NULL,
	`day` text NOT NULL,
	`channel` text NOT NULL,
	`amount_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`impressions` integer,
	`clicks` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `day`, `channel`)
);
--> statement-breakpoint
CREATE TABLE `messages` (
	`site` text NOT NULL,
	`message_id` text NOT NULL,
	`customer_id` text,
	`kind` text NOT NULL,
	`campaign` text,
	`sent_at` integer NOT NULL,
	`opened_at` integer,
	`clicked_at` integer,
	`bounced_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `messages_site_sent` ON `messages` (`site`,`sent_at`);--> statement-breakpoint
CREATE TABLE `order_items` (
	`site` text NOT NULL,
	`order_id` text NOT NULL,
	`sku` text NOT NULL,
	`qty` integer NOT NULL,
	`unit_price_minor` integer NOT NULL,
	`unit_cost_minor` integer,
	PRIMARY KEY(`site`, `order_id`, `sku`)
);
--> statement-breakpoint
CREATE INDEX `order_items_site_sku` ON `order_items` (`site`,`sku`);--> statement-breakpoint
CREATE TABLE `orders` (
	`site` text NOT NULL,
	`order_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`placed_at` integer NOT NULL,
	`paid_at` integer,
	`shipped_at` integer,
	`delivered_at` integer,
	`channel` text,
	`coupon` text,
	`subtotal_minor` integer,
	`discount_minor` integer DEFAULT 0 NOT NULL,
	`shipping_minor` integer DEFAULT 0 NOT NULL,
	`tax_minor` integer DEFAULT 0 NOT NULL,
	`total_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`status` text DEFAULT 'placed' NOT NULL,
	`is_subscription` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `order_id`)
);
--> statement-breakpoint
CREATE INDEX `orders_site_placed` ON `orders` (`site`,`placed_at`);--> statement-breakpoint
CREATE INDEX `orders_site_customer` ON `orders` (`site`,`customer_id`,`placed_at`);--> statement-breakpoint
CREATE TABLE `products` (
	`site` text NOT NULL,
	`sku` text NOT NULL,
	`name` text NOT NULL,
	`category` text,
	`brand` text,
	`description` text,
	`price_minor` integer NOT NULL,
	`unit_cost_minor` integer,
	`supplier_id` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `sku`)
);
--> statement-breakpoint
CREATE TABLE `refunds` (
	`site` text NOT NULL,
	`refund_id` text NOT NULL,
	`order_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`amount_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`reason` text,
	`sku` text,
	`qty` integer,
	`is_return` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `refund_id`)
);
--> statement-breakpoint
CREATE INDEX `refunds_site_created` ON `refunds` (`site`,`created_at`);--> statement-breakpoint
CREATE INDEX `refunds_site_order` ON `refunds` (`site`,`order_id`);--> statement-breakpoint
CREATE TABLE `supplier_deliveries` (
	`site` text NOT NULL,
	`delivery_id` text NOT NULL,
	`supplier_id` text NOT NULL,
	`sku` text,
	`qty` integer,
	`ordered_at` integer NOT NULL,
	`promised_at` integer NOT NULL,
	`delivered_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `delivery_id`)
);
--> statement-breakpoint
CREATE INDEX `supplier_deliveries_supplier` ON `supplier_deliveries` (`site`,`supplier_id`);--> statement-breakpoint
CREATE TABLE `suppliers` (
	`site` text NOT NULL,
	`supplier_id` text NOT NULL,
	`name` text NOT NULL,
	`country` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `supplier_id`)
);
--> statement-breakpoint
CREATE TABLE `surveys` (
	`site` text NOT NULL,
	`response_id` text NOT NULL,
	`customer_id` text,
	`kind` text NOT NULL,
	`score` integer NOT NULL,
	`responded_at` integer NOT NULL,
	`order_id` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `response_id`)
);
--> statement-breakpoint
CREATE INDEX `surveys_site_kind_time` ON `surveys` (`site`,`kind`,`responded_at`);--> statement-breakpoint
CREATE TABLE `tickets` (
	`site` text NOT NULL,
	`ticket_id` text NOT NULL,
	`customer_id` text,
	`order_id` text,
	`channel` text,
	`category` text,
	`opened_at` integer NOT NULL,
	`first_response_at` integer,
	`resolved_at` integer,
	`status` text DEFAULT 'open' NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`site`, `ticket_id`)
);
--> statement-breakpoint
CREATE INDEX `tickets_site_opened` ON `tickets` (`site`,`opened_at`);