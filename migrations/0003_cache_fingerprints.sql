CREATE TABLE `aibridge_cache_fingerprints` (
	`interception_id` text PRIMARY KEY NOT NULL,
	`session_id` text,
	`initiator_id` text NOT NULL,
	`client` text NOT NULL,
	`model` text NOT NULL,
	`api` text NOT NULL,
	`started_at` integer NOT NULL,
	`layout` text NOT NULL,
	`breakpoints` text NOT NULL,
	`anchors` text NOT NULL,
	`chain` text NOT NULL,
	`segments` integer NOT NULL,
	`default_ttl_seconds` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cache_fingerprints_session_idx` ON `aibridge_cache_fingerprints` (`session_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `cache_fingerprints_started_idx` ON `aibridge_cache_fingerprints` (`started_at`);