ALTER TABLE `aibridge_interceptions` ADD `rollup_instance` text;--> statement-breakpoint
ALTER TABLE `aibridge_usage_rollups` ADD `instance` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `aibridge_usage_rollups` ADD `usage_requests` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `usage_rollups_user_idx` ON `aibridge_usage_rollups` (`initiator_id`,`span`,`bucket`);