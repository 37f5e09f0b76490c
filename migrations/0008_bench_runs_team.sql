ALTER TABLE "bench_runs" ADD COLUMN "team_id" uuid;--> statement-breakpoint
ALTER TABLE "bench_runs" ADD CONSTRAINT "bench_runs_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bench_runs_team_idx" ON "bench_runs" USING btree ("team_id","created_at");