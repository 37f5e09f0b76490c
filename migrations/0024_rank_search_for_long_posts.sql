-- rank_search is kept only for posts over 4,000 characters; search ranks a shorter post by its
-- `search` vector, which is the same (server/domain/search.ts). Each row held both vectors, which
-- doubled its size, and a search reads one row per match. Adding the column rewrites the table once.
ALTER TABLE "posts" drop column "rank_search";--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "rank_search" "tsvector" GENERATED ALWAYS AS (case when length(content) > 4000 then to_tsvector('english', left(content, 4000)) || coalesce(search_terms, ''::tsvector) end) STORED;
