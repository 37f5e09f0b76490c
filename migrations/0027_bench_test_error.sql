-- Hidden tests that time out or count no test are the solution's failure, not an error of the agent's
-- run: kept apart from bench_trials.error, so the trial's whole figures still pair with the baseline.
ALTER TABLE "bench_trials" ADD COLUMN "test_error" text;