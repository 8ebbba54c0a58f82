CREATE TABLE `waiting_jobs` (
	`build_id` text NOT NULL,
	`key` text NOT NULL,
	`at` integer NOT NULL,
	`update` text NOT NULL,
	PRIMARY KEY(`build_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `waiting_jobs_at_idx` ON `waiting_jobs` (`at`);