DROP INDEX "posts_team_feed_idx";--> statement-breakpoint
DROP INDEX "posts_team_author_idx";--> statement-breakpoint
DROP INDEX "journal_agent_idx";--> statement-breakpoint
DROP INDEX "journal_team_idx";--> statement-breakpoint
DROP INDEX "audit_team_idx";--> statement-breakpoint
CREATE INDEX "posts_team_feed_idx" ON "posts" USING btree ("team_id","created_at","id");--> statement-breakpoint
CREATE INDEX "posts_team_author_idx" ON "posts" USING btree ("team_id","author_name","created_at","id");--> statement-breakpoint
CREATE INDEX "journal_agent_idx" ON "journal_entries" USING btree ("agent_id","created_at");--> statement-breakpoint
CREATE INDEX "journal_team_idx" ON "journal_entries" USING btree ("team_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_team_idx" ON "audit_log" USING btree ("team_id","created_at");