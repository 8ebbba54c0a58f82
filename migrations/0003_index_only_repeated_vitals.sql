DROP INDEX `site_samples_vid_idx`;--> statement-breakpoint
CREATE INDEX `site_samples_vid_idx` ON `site_samples` (`vid`) WHERE metric IN ('CLS', 'INP');