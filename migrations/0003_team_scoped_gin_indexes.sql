-- Lets the GIN indexes lead with team_id (a trusted extension: a database owner may create it).
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
DROP INDEX "posts_tags_idx";--> statement-breakpoint
DROP INDEX "posts_search_idx";--> statement-breakpoint
DROP INDEX "journal_search_idx";--> statement-breakpoint
CREATE INDEX "posts_team_tags_idx" ON "posts" USING gin ("team_id","tags");--> statement-breakpoint
CREATE INDEX "posts_team_search_idx" ON "posts" USING gin ("team_id","search");--> statement-breakpoint
CREATE INDEX "journal_team_search_idx" ON "journal_entries" USING gin ("team_id","search");