ALTER TABLE `aibridge_token_usages` ADD `estimated` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `aibridge_token_usages` ADD `estimate_method` text;