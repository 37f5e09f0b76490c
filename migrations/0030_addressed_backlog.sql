-- Posts addressed to a reader that its first read had no room for wait here for its next reads
-- (docs/decisions/058-addressed-backlog.md); a cursor saved before this migration has none waiting.
ALTER TABLE "read_cursors" ADD COLUMN "addressed_before_post_id" bigint;
