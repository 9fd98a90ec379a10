PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_aibridge_usage_rollups` (
	`span` text NOT NULL,
	`bucket` integer NOT NULL,
	`initiator_id` text NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client` text NOT NULL,
	`instance` text DEFAULT '' NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`usage_requests` integer DEFAULT 0 NOT NULL,
	`usages` integer DEFAULT 0 NOT NULL,
	`priced_usages` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cache_read_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_5m_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_1h_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	`estimated_requests` integer DEFAULT 0 NOT NULL,
	`estimated_usages` integer DEFAULT 0 NOT NULL,
	`cost_micros` integer DEFAULT 0 NOT NULL,
	`last_seen` integer,
	PRIMARY KEY(`span`, `bucket`, `initiator_id`, `provider`, `model`, `client`, `instance`)
);
--> statement-breakpoint
INSERT INTO `__new_aibridge_usage_rollups`("span", "bucket", "initiator_id", "provider", "model", "client", "instance", "requests", "usage_requests", "usages", "priced_usages", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "reasoning_tokens", "estimated_requests", "estimated_usages", "cost_micros", "last_seen") SELECT "span", "bucket", "initiator_id", "provider", "model", "client", "instance", "requests", "usage_requests", "usages", "priced_usages", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "reasoning_tokens", "estimated_requests", "estimated_usages", "cost_micros", "last_seen" FROM `aibridge_usage_rollups`;--> statement-breakpoint
DROP TABLE `aibridge_usage_rollups`;--> statement-breakpoint
ALTER TABLE `__new_aibridge_usage_rollups` RENAME TO `aibridge_usage_rollups`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `usage_rollups_user_idx` ON `aibridge_usage_rollups` (`initiator_id`,`span`,`bucket`);