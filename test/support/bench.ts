import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import { listBenchTrials, type BenchTrial } from "../../server/domain/bench-runs.ts";
import type { Db } from "../../server/db/client.ts";
import { defaultPostLimits } from "../../server/domain/limits.ts";
import type { Driver } from "../../bench/drivers/driver.ts";
import { planRun, type RunPlan } from "../../bench/plan.ts";
import { defaultPrices } from "../../bench/prices.ts";
import { executeRun, type ExecuteResult } from "../../bench/runner.ts";
import { loadSuite } from "../../bench/suites.ts";

/** Plans a run into a temporary run dir; every field of the plan can be overridden. */
export async function planTestRun(db: Db, plan: Partial<RunPlan> & { driver: string }) {
  return planRun(db, {
    suite: loadSuite("builtin"),
    model: undefined,
    variants: ["baseline"],
    repeats: 1,
    phase: "isolated",
    fromRunId: undefined,
    timeoutMs: 60_000,
    concurrency: 3,
    maxCostUsd: undefined,
    prices: defaultPrices,
    outDir: join(mkdtempSync(join(tmpdir(), "botboard-bench-out-")), "run"),
    runId: undefined,
    postLimits: defaultPostLimits,
    ...plan,
    teamId: plan.teamId ?? null,
  });
}

export async function runToEnd(
  db: Db,
  planned: Awaited<ReturnType<typeof planTestRun>>,
  driver: Driver,
  serverUrl: string,
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<{ result: ExecuteResult; trials: BenchTrial[] }> {
  const result = await executeRun(db, planned.run, {
    driver,
    serverUrl,
    concurrency: options.concurrency ?? planned.run.settings.concurrency,
    signal: options.signal ?? new AbortController().signal,
  });
  return { result, trials: await listBenchTrials(db, planned.run.id) };
}

/** Sets the drivers' variables (model URLs, keys, CLI paths) until the file's afterAll calls vi.unstubAllEnvs(). */
export function stubEnvs(variables: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
}
