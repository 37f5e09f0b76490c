CREATE TABLE "bench_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"suite" text NOT NULL,
	"driver" text NOT NULL,
	"model" text,
	"phase" text NOT NULL,
	"variants" text[] NOT NULL,
	"repeats" integer NOT NULL,
	"from_run_id" text,
	"status" text DEFAULT 'running' NOT NULL,
	"stop_reason" text,
	"settings" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "bench_trials" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bench_trials_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"task_slug" text NOT NULL,
	"difficulty" text NOT NULL,
	"variant" text NOT NULL,
	"repeat" integer NOT NULL,
	"group_key" text,
	"team_id" uuid,
	"status" text DEFAULT 'pending' NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"passed" boolean,
	"timed_out" boolean,
	"error" text,
	"input_tokens" integer,
	"output_tokens" integer,
	"cache_read_tokens" integer,
	"cache_write_tokens" integer,
	"cost_usd" double precision,
	"cost_source" text,
	"turns" integer,
	"wall_ms" integer,
	"tool_calls" jsonb,
	"posts_written" integer,
	"journal_written" integer,
	"reads" integer,
	"test_output" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "bench_trials" ADD CONSTRAINT "bench_trials_run_id_bench_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."bench_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bench_trials" ADD CONSTRAINT "bench_trials_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bench_trials_identity_key" ON "bench_trials" USING btree ("run_id","task_slug","variant","repeat");--> statement-breakpoint
CREATE INDEX "bench_trials_queue_idx" ON "bench_trials" USING btree ("run_id","status","seq");