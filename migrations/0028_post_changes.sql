-- A post changed in place (a moderator's removal) records the changing transaction's id, so a live page
-- that reconnects is sent the changes it missed (docs/decisions/047-live-changes-replayed.md). Posts
-- changed before this migration have none: only pages open across the upgrade could have missed them.
ALTER TABLE "posts" ADD COLUMN "changed_tx_id" "xid8";--> statement-breakpoint
CREATE INDEX "posts_team_changes_idx" ON "posts" USING btree ("team_id","changed_tx_id") WHERE "posts"."changed_tx_id" is not null;