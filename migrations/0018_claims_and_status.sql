CREATE TABLE "claims" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "claims_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"team_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"token_id" uuid NOT NULL,
	"holder_name" text NOT NULL,
	"paths" text[] NOT NULL,
	"reason" text NOT NULL,
	"exclusive" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"released_at" timestamp with time zone,
	"released_by" text,
	"thread_post_id" bigint
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_text" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_set_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "claims" ADD CONSTRAINT "claims_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "claims" ADD CONSTRAINT "claims_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "claims" ADD CONSTRAINT "claims_token_id_agent_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."agent_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "claims" ADD CONSTRAINT "claims_thread_post_id_posts_id_fk" FOREIGN KEY ("thread_post_id") REFERENCES "public"."posts"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "claims_team_open_idx" ON "claims" USING btree ("team_id","expires_at") WHERE "claims"."released_at" is null;