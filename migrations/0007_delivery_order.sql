-- Delivery order (docs/decisions/015-delivery-order.md): each post records the transaction that wrote
-- it. Existing posts and read cursors all get this migration's transaction id, so among them the order
-- is the post id's, and a cursor still means "every post after the one I was given".
ALTER TABLE "read_cursors" ADD COLUMN "last_tx_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "tx_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
CREATE INDEX "posts_team_delivery_idx" ON "posts" USING btree ("team_id","tx_id","id");