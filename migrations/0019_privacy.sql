-- Personal data at rest (workers/privacy/pii.ts): email and name become AES-GCM ciphertexts; email_hash is the
-- keyed look-up hash of the normalised email; kid names the key a row was written with. Rows written before
-- this migration keep plaintext and a NULL kid: SQL cannot encrypt, so the app reads them as plaintext and
-- POST /api/v1/privacy/pii/rotate encrypts them (README "Personal data").
ALTER TABLE `customer_pii` ADD `email_hash` text;--> statement-breakpoint
ALTER TABLE `customer_pii` ADD `kid` text;--> statement-breakpoint
CREATE INDEX `customer_pii_email_hash` ON `customer_pii` (`site`,`email_hash`) WHERE email_hash IS NOT NULL;--> statement-breakpoint
CREATE INDEX `customer_pii_kid` ON `customer_pii` (`kid`);--> statement-breakpoint
-- GDPR erasures (workers/privacy/erase.ts): one row per erased customer, keyed by a keyed hash of the id (never
-- the id). `archive_keys` lists the R2 raw objects to rewrite, recorded before the events are deleted, so a
-- retry after a crash still knows them.
CREATE TABLE `erasures` (
	`site` text NOT NULL,
	`subject` text NOT NULL,
	`pseudonym` text NOT NULL,
	`status` text NOT NULL,
	`archive_keys` text NOT NULL,
	`events_erased` integer DEFAULT 0 NOT NULL,
	`objects_rewritten` integer DEFAULT 0 NOT NULL,
	`objects_deleted` integer DEFAULT 0 NOT NULL,
	`requested_at` integer NOT NULL,
	`completed_at` integer,
	PRIMARY KEY(`site`, `subject`)
);--> statement-breakpoint
-- Events erased per site and UTC day of the event: the ledger counted them, D1 and R2 no longer hold them, so
-- the reconciliation compares accepted + imported with stored + erased and archived + erased.
CREATE TABLE `erased_events` (
	`site` text NOT NULL,
	`day` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`site`, `day`)
);--> statement-breakpoint
-- Bulk-import files are deleted from R2 once their job is over (IMPORT_FILE_RETENTION_DAYS later).
ALTER TABLE `import_jobs` ADD `file_deleted_at` integer;
