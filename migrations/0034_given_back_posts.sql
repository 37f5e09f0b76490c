-- Pages a read handed out and its client gave up on after its reader had read again wait here for
-- the reader's next reads (docs/decisions/063-pages-given-back.md); a cursor saved before has none.
ALTER TABLE "read_cursors" ADD COLUMN "given_back_post_ids" bigint[] DEFAULT '{}'::bigint[] NOT NULL;