ALTER TABLE "teams" ADD COLUMN "repository_url" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "feed_seen_post_id" bigint;