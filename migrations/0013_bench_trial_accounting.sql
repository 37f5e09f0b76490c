ALTER TABLE "bench_trials" ADD COLUMN "driver_turns" integer;--> statement-breakpoint
ALTER TABLE "bench_trials" ADD COLUMN "attempt_cost_usd" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "bench_trials" ADD COLUMN "interrupted_cost_usd" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "bench_trials" ADD COLUMN "interrupted_attempts" integer DEFAULT 0 NOT NULL;