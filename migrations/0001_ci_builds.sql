CREATE TABLE `builds` (
	`id` text PRIMARY KEY NOT NULL,
	`pipeline_id` text NOT NULL,
	`provider` text NOT NULL,
	`external_id` text NOT NULL,
	`project` text NOT NULL,
	`pipeline` text NOT NULL,
	`branch` text NOT NULL,
	`tag` text,
	`pull_request` integer,
	`number` integer,
	`attempt` integer NOT NULL,
	`status` text NOT NULL,
	`commit_sha` text,
	`commit_subject` text,
	`commit_author` text,
	`actor` text,
	`url` text,
	`trigger` text,
	`queued_at` integer,
	`started_at` integer,
	`finished_at` integer,
	`duration_ms` integer,
	`event_time` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`pipeline_id`) REFERENCES `pipelines`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `builds_pipeline_created_idx` ON `builds` (`pipeline_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `builds_updated_idx` ON `builds` (`updated_at`,`id`);--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`provider` text NOT NULL,
	`event` text,
	`delivery_id` text,
	`received_at` integer NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`size` integer NOT NULL,
	`build_id` text
);
--> statement-breakpoint
CREATE INDEX `deliveries_received_idx` ON `deliveries` (`received_at`);--> statement-breakpoint
CREATE INDEX `deliveries_provider_idx` ON `deliveries` (`provider`,`received_at`);--> statement-breakpoint
CREATE TABLE `delivery_keys` (
	`provider` text NOT NULL,
	`delivery_id` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `delivery_id`)
);
--> statement-breakpoint
CREATE INDEX `delivery_keys_received_idx` ON `delivery_keys` (`received_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`build_id` text NOT NULL,
	`job_id` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`url` text,
	PRIMARY KEY(`build_id`, `job_id`),
	FOREIGN KEY (`build_id`) REFERENCES `builds`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `pipelines` (
	`id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`project` text NOT NULL,
	`pipeline` text NOT NULL,
	`branch` text NOT NULL,
	`latest_build_id` text,
	`last_result` text,
	`last_success_at` integer,
	`last_failure_at` integer,
	`broken_since` integer,
	`broken_by` text,
	`broken_build_id` text,
	`fixed_by` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `pipelines_project_idx` ON `pipelines` (`project`,`branch`);--> statement-breakpoint
CREATE TABLE `raw_bodies` (
	`delivery_row_id` integer PRIMARY KEY NOT NULL,
	`headers` text NOT NULL,
	`body` blob NOT NULL,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`delivery_row_id`) REFERENCES `deliveries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `raw_bodies_received_idx` ON `raw_bodies` (`received_at`);