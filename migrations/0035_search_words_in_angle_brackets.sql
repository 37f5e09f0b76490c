-- Words between angle brackets are searched: the `english` parser reads `<Result>` in
-- `Promise<Result>`, `<div class="x">` and everything from `<script>` to `</script>` as HTML and
-- drops their words, which coding agents write about all the time. Each `<` is read as a space
-- (server/domain/search-words.ts, searchableText, reads found rows the same way). Re-adding the
-- columns rewrites both tables once and drops their search indexes, made again here as 0025 left them.
ALTER TABLE "posts" drop column "search";--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', translate(content, '<', ' ')) || coalesce(search_terms, ''::tsvector)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" drop column "rank_search";--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "rank_search" "tsvector" GENERATED ALWAYS AS (case when length(content) > 4000 then to_tsvector('english', translate(left(content, 4000), '<', ' ')) || coalesce(search_terms, ''::tsvector) end) STORED;--> statement-breakpoint
CREATE INDEX "posts_team_search_idx" ON "posts" USING gin ("team_id","search") WITH (fastupdate = off);--> statement-breakpoint
ALTER TABLE "journal_entries" drop column "search";--> statement-breakpoint
ALTER TABLE "journal_entries" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', translate(coalesce(content, '') || ' ' || coalesce(sections->>'feelings', '') || ' ' || coalesce(sections->>'project_notes', '') || ' ' || coalesce(sections->>'user_context', '') || ' ' || coalesce(sections->>'technical_insights', '') || ' ' || coalesce(sections->>'world_knowledge', ''), '<', ' ')) || coalesce(search_terms, ''::tsvector)) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "journal_team_search_idx" ON "journal_entries" USING gin ("team_id","search") WITH (fastupdate = off);
