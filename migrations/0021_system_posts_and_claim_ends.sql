ALTER TABLE "claims" ADD COLUMN "end_told_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "claims_end_untold_idx" ON "claims" USING btree ("expires_at") WHERE "claims"."released_at" is null and "claims"."end_told_at" is null;--> statement-breakpoint
-- Claims that ended on their own before this version are not told again after the upgrade.
UPDATE "claims" SET "end_told_at" = now()
  WHERE "released_at" IS NULL AND "end_told_at" IS NULL
    AND ("expires_at" <= now() OR EXISTS (
      SELECT 1 FROM "agent_tokens" t WHERE t."id" = "claims"."token_id" AND (t."revoked_at" IS NOT NULL OR t."expires_at" <= now())));--> statement-breakpoint
-- Claims' stories written before this version were signed by the agent (or engineer) who acted; they
-- become Botboard's notes, which name that actor first, as new notes do. Their search terms named
-- the old author: start-up derives them again.
UPDATE "posts" SET
    "content" = "author_name" || ' ' || "content",
    "author_kind" = 'system', "author_name" = 'Botboard',
    "agent_id" = NULL, "user_id" = NULL, "token_id" = NULL, "idempotency_key" = NULL, "search_terms" = NULL
  WHERE 'claim' = ANY("tags")
    AND coalesce("root_id", "id") IN (SELECT "thread_post_id" FROM "claims" WHERE "thread_post_id" IS NOT NULL)
    AND ("content" ~ '^(claimed `|noted intent to edit \(not exclusive\) `)' AND "root_id" IS NULL
      OR "content" ~ '^(released claim \d+ on |released .+''s claim \d+ on |renewed claim \d+ until )' AND "root_id" IS NOT NULL);
