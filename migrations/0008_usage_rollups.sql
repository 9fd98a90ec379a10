CREATE TABLE `aibridge_usage_rollups` (
	`span` text NOT NULL,
	`bucket` integer NOT NULL,
	`initiator_id` text NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
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
	PRIMARY KEY(`span`, `bucket`, `initiator_id`, `provider`, `model`, `client`)
);
--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `rolled_up` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `aibridge_model_thoughts` ADD `content_ref` text;--> statement-breakpoint
ALTER TABLE `aibridge_record_parts` ADD `content_ref` text;--> statement-breakpoint
ALTER TABLE `aibridge_token_usages` ADD `rolled_up` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `aibridge_tool_usages` ADD `content_ref` text;