CREATE TABLE "one_time_views" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"sealed" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "one_time_views" ADD CONSTRAINT "one_time_views_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "one_time_views_session_idx" ON "one_time_views" USING btree ("session_id");