CREATE TABLE `aibridge_dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dead_letters_received_idx` ON `aibridge_dead_letters` (`received_at`);