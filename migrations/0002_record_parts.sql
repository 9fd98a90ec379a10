CREATE TABLE `aibridge_record_parts` (
	`id` text PRIMARY KEY NOT NULL,
	`record_id` text NOT NULL,
	`field` text NOT NULL,
	`seq` integer NOT NULL,
	`content` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `record_parts_record_idx` ON `aibridge_record_parts` (`record_id`,`field`,`seq`);--> statement-breakpoint
CREATE INDEX `record_parts_created_idx` ON `aibridge_record_parts` (`created_at`);