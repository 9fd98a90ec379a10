ALTER TABLE `aibridge_interceptions` ADD `instance` text;--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `upstream_instance` text;--> statement-breakpoint
ALTER TABLE `aibridge_interceptions` ADD `fallback` integer DEFAULT false NOT NULL;