-- What ran each benchmark trial (Botboard, Node and the agent CLI versions), so that a report says
-- whether its trials are one sample; null for trials finished before it was recorded.
ALTER TABLE "bench_trials" ADD COLUMN "software" jsonb;