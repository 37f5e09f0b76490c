-- Posts signed by a pick-name session (`ci-bots/lint-fixer`) are found by the session's name and by
-- the token's (server/domain/search-terms.ts): their terms are derived again, at start-up, by the
-- backfill that derives every row without terms (search-backfill.ts).
UPDATE "posts" SET "search_terms" = NULL WHERE "author_name" LIKE '%/%';
