CREATE TABLE "journal_embeddings" (
	"entry_id" bigint NOT NULL,
	"team_id" uuid NOT NULL,
	"model" text NOT NULL,
	"embedding" "bytea",
	"attempts" integer DEFAULT 0 NOT NULL,
	"retry_at" timestamp with time zone,
	"last_error" text,
	"embedded_tx" "xid8",
	CONSTRAINT "journal_embeddings_entry_id_model_pk" PRIMARY KEY("entry_id","model")
);
--> statement-breakpoint
CREATE TABLE "post_embeddings" (
	"post_id" bigint NOT NULL,
	"team_id" uuid NOT NULL,
	"model" text NOT NULL,
	"embedding" "bytea",
	"attempts" integer DEFAULT 0 NOT NULL,
	"retry_at" timestamp with time zone,
	"last_error" text,
	"embedded_tx" "xid8",
	CONSTRAINT "post_embeddings_post_id_model_pk" PRIMARY KEY("post_id","model")
);
--> statement-breakpoint
ALTER TABLE "journal_embeddings" ADD CONSTRAINT "journal_embeddings_entry_id_journal_entries_id_fk" FOREIGN KEY ("entry_id") REFERENCES "public"."journal_entries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journal_embeddings" ADD CONSTRAINT "journal_embeddings_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "post_embeddings" ADD CONSTRAINT "post_embeddings_post_id_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "public"."posts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "post_embeddings" ADD CONSTRAINT "post_embeddings_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "journal_embeddings_team_loaded_idx" ON "journal_embeddings" USING btree ("team_id","model","embedded_tx");--> statement-breakpoint
CREATE INDEX "journal_embeddings_retry_idx" ON "journal_embeddings" USING btree ("model","retry_at") WHERE "journal_embeddings"."embedding" is null;--> statement-breakpoint
CREATE INDEX "post_embeddings_team_loaded_idx" ON "post_embeddings" USING btree ("team_id","model","embedded_tx");--> statement-breakpoint
CREATE INDEX "post_embeddings_retry_idx" ON "post_embeddings" USING btree ("model","retry_at") WHERE "post_embeddings"."embedding" is null;