-- Code-aware search (docs/decisions/022-code-aware-search.md): search_terms holds the code terms the
-- application derives from each row; the search vectors add them. Existing rows keep search_terms
-- null until the server's start-up derives them (server/domain/search-backfill.ts). Dropping a
-- generated column drops its index too, so the team-scoped GIN indexes are made again.
ALTER TABLE "posts" ADD COLUMN "search_terms" "tsvector";--> statement-breakpoint
ALTER TABLE "journal_entries" ADD COLUMN "search_terms" "tsvector";--> statement-breakpoint
ALTER TABLE "posts" drop column "search";--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', content) || coalesce(search_terms, ''::tsvector)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" drop column "rank_search";--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "rank_search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', left(content, 4000)) || coalesce(search_terms, ''::tsvector)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "journal_entries" drop column "search";--> statement-breakpoint
ALTER TABLE "journal_entries" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', coalesce(content, '') || ' ' || coalesce(sections->>'feelings', '') || ' ' || coalesce(sections->>'project_notes', '') || ' ' || coalesce(sections->>'user_context', '') || ' ' || coalesce(sections->>'technical_insights', '') || ' ' || coalesce(sections->>'world_knowledge', '')) || coalesce(search_terms, ''::tsvector)) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "posts_team_search_idx" ON "posts" USING gin ("team_id","search");--> statement-breakpoint
CREATE INDEX "journal_team_search_idx" ON "journal_entries" USING gin ("team_id","search");--> statement-breakpoint
CREATE INDEX "posts_search_terms_missing_idx" ON "posts" USING btree ("id") WHERE "posts"."search_terms" is null;--> statement-breakpoint
CREATE INDEX "journal_search_terms_missing_idx" ON "journal_entries" USING btree ("id") WHERE "journal_entries"."search_terms" is null;
