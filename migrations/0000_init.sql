CREATE TABLE `aibridge_api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text,
	`key_prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `aibridge_api_keys_key_hash_unique` ON `aibridge_api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_user_idx` ON `aibridge_api_keys` (`user_id`);--> statement-breakpoint
CREATE TABLE `aibridge_interceptions` (
	`id` text PRIMARY KEY NOT NULL,
	`initiator_id` text NOT NULL,
	`api_key_id` text,
	`provider` text NOT NULL,
	`provider_name` text NOT NULL,
	`model` text NOT NULL,
	`client` text NOT NULL,
	`user_agent` text,
	`client_session_id` text,
	`correlating_tool_call_id` text,
	`credential_kind` text NOT NULL,
	`credential_hint` text,
	`streaming` integer NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`status` text NOT NULL,
	`stop_reason` text,
	`error_type` text,
	`error_message` text,
	`metadata` text
);
--> statement-breakpoint
CREATE INDEX `interceptions_initiator_started_idx` ON `aibridge_interceptions` (`initiator_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `interceptions_started_idx` ON `aibridge_interceptions` (`started_at`);--> statement-breakpoint
CREATE INDEX `interceptions_session_idx` ON `aibridge_interceptions` (`client_session_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `aibridge_model_thoughts` (
	`id` text PRIMARY KEY NOT NULL,
	`interception_id` text NOT NULL,
	`content` text NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `model_thoughts_interception_idx` ON `aibridge_model_thoughts` (`interception_id`);--> statement-breakpoint
CREATE INDEX `model_thoughts_created_idx` ON `aibridge_model_thoughts` (`created_at`);--> statement-breakpoint
CREATE TABLE `aibridge_token_usages` (
	`id` text PRIMARY KEY NOT NULL,
	`interception_id` text NOT NULL,
	`provider_response_id` text,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cache_read_input_tokens` integer NOT NULL,
	`cache_write_input_tokens` integer NOT NULL,
	`extra_token_types` text,
	`raw_usage` text,
	`cost_micros` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `token_usages_interception_idx` ON `aibridge_token_usages` (`interception_id`);--> statement-breakpoint
CREATE INDEX `token_usages_created_idx` ON `aibridge_token_usages` (`created_at`);--> statement-breakpoint
CREATE TABLE `aibridge_tool_usages` (
	`id` text PRIMARY KEY NOT NULL,
	`interception_id` text NOT NULL,
	`provider_response_id` text,
	`provider_tool_call_id` text,
	`tool` text NOT NULL,
	`server_url` text,
	`input` text NOT NULL,
	`injected` integer NOT NULL,
	`invocation_error` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tool_usages_interception_idx` ON `aibridge_tool_usages` (`interception_id`);--> statement-breakpoint
CREATE INDEX `tool_usages_created_idx` ON `aibridge_tool_usages` (`created_at`);--> statement-breakpoint
CREATE TABLE `aibridge_user_prompts` (
	`id` text PRIMARY KEY NOT NULL,
	`interception_id` text NOT NULL,
	`provider_response_id` text,
	`prompt` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `user_prompts_interception_idx` ON `aibridge_user_prompts` (`interception_id`);--> statement-breakpoint
CREATE INDEX `user_prompts_created_idx` ON `aibridge_user_prompts` (`created_at`);--> statement-breakpoint
CREATE TABLE `aibridge_users` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
