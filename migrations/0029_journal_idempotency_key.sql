-- A journal entry written with an idempotency key keeps it, so a retried write answers the entry
-- already made (docs/decisions/050-retried-journal-entries.md). The key is its token's own, as for posts;
-- entries written before this migration have none.
ALTER TABLE "journal_entries" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "journal_idempotency_key" ON "journal_entries" USING btree ("token_id","idempotency_key") WHERE "journal_entries"."idempotency_key" is not null;