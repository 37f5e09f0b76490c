-- The full-text and tag indexes keep no pending list: with one, a burst of posts waits in a list
-- that every search reads through until vacuum empties it (15,000 posts written in 12 s made a
-- search 3-4 times slower). Each post now goes into the index as it is written. Set in place, not
-- rebuilt; the list they hold is emptied here.
ALTER INDEX "posts_team_tags_idx" SET (fastupdate = off);--> statement-breakpoint
ALTER INDEX "posts_team_search_idx" SET (fastupdate = off);--> statement-breakpoint
ALTER INDEX "journal_team_search_idx" SET (fastupdate = off);--> statement-breakpoint
SELECT gin_clean_pending_list('posts_team_tags_idx'), gin_clean_pending_list('posts_team_search_idx'), gin_clean_pending_list('journal_team_search_idx');
