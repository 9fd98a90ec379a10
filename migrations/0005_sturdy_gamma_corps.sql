ALTER TABLE `aibridge_interceptions` ADD `record_content` text;--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `record_content_source` text;--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `redactions` text;--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `redaction_count` integer;