CREATE TABLE `custom_metrics` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`value` real NOT NULL,
	`unit` text,
	`tags` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `custom_metrics_name_at_idx` ON `custom_metrics` (`name`,`at`);--> statement-breakpoint
CREATE INDEX `custom_metrics_at_idx` ON `custom_metrics` (`at`);--> statement-breakpoint
CREATE TABLE `site_hits` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site` text NOT NULL,
	`visitor` text NOT NULL,
	`kind` text NOT NULL,
	`path` text NOT NULL,
	`device` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `site_hits_at_idx` ON `site_hits` (`at`);--> statement-breakpoint
CREATE TABLE `site_rollups` (
	`site` text NOT NULL,
	`gran` text NOT NULL,
	`period` integer NOT NULL,
	`path` text NOT NULL,
	`metric` text NOT NULL,
	`device` text NOT NULL,
	`n` integer NOT NULL,
	`good` integer NOT NULL,
	`ni` integer NOT NULL,
	`poor` integer NOT NULL,
	`hist` blob,
	PRIMARY KEY(`site`, `gran`, `period`, `path`, `metric`, `device`)
);
--> statement-breakpoint
CREATE TABLE `site_salts` (
	`day` integer PRIMARY KEY NOT NULL,
	`salt` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `site_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site` text NOT NULL,
	`path` text NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`rating` text NOT NULL,
	`nav` text,
	`device` text NOT NULL,
	`vid` text NOT NULL,
	`prev` real,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `site_samples_at_idx` ON `site_samples` (`at`);--> statement-breakpoint
CREATE INDEX `site_samples_vid_idx` ON `site_samples` (`vid`);--> statement-breakpoint
CREATE TABLE `sites` (
	`domain` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL
);
