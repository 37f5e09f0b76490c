import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import {
  anyClaimableBenchTrial,
  benchRunProgress,
  claimBenchTrial,
  finishBenchTrial,
  getBenchRun,
  recordBenchAttemptSpend,
  releaseBenchTrial,
  renewBenchLease,
  setBenchRunStatus,
  type BenchRun,
  type BenchTrial,
} from "../server/domain/bench-runs.ts";
import type { Db } from "../server/db/client.ts";
import { cli } from "../server/domain/callers.ts";
import type { Driver } from "./drivers/driver.ts";
import { appendTrialLine, writeRunFile } from "./run-folder.ts";
import { loadSuite, type BenchTask } from "./suites.ts";
import { runTrial } from "./trial.ts";
import { requireHooksFor } from "./variants.ts";
import { softwareOf } from "./software.ts";

export type RunEvent =
  | { kind: "started"; trial: BenchTrial }
  | { kind: "finished"; trial: BenchTrial }
  | { kind: "progress"; total: number; finished: number; running: number; failed: number; costUsd: number };

export type ExecuteOptions = {
  driver: Driver;
  /** The Botboard server agents reach over MCP. */
  serverUrl: string;
  concurrency: number;
  /** Aborting it stops the run cleanly: running agents end, their trials go back to the queue. */
  signal: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** How long a claim holds before another worker may take the trial over; renewed while it runs. */
  leaseMs?: number;
};

export type ExecuteResult = { status: BenchRun["status"]; stopReason: string | null; ranHere: number };

const idlePollMs = 250;

/** A worker's name in the queue: which machine and process holds a trial. */
export const workerName = () => `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;

/**
 * Works through a run's queue with `concurrency` trials at a time. Several processes may do this
 * on one run (they share the queue in the database); each finished trial is also appended to the
 * run dir's trials.jsonl. Stops before --max-cost would be passed (budgetDecision: trials in flight
 * hold a reservation), or when the signal aborts.
 */
export async function executeRun(db: Db, run: BenchRun, options: ExecuteOptions): Promise<ExecuteResult> {
  requireHooksFor(options.driver, run.variants);
  const suite = loadSuite(run.settings.suitePath);
  const tasks = new Map<string, BenchTask>(suite.tasks.map((task) => [task.slug, task]));
  const owner = workerName();
  const software = await softwareOf(options.driver);
  const leaseMs = options.leaseMs ?? run.settings.timeoutMs + 180_000;
  const outDir = run.settings.outDir;
  mkdirSync(outDir, { recursive: true });
  await setBenchRunStatus(db, run.id, "running");
  writeRunFile(outDir, await getBenchRun(db, cli, run.id));

  let stopReason: string | null = null;
  let ranHere = 0;
  let runningHere = 0;
  const variantTextsKept = new Set(Object.keys(run.settings.variantTexts ?? {}));
  const report = async () => {
    const progress = await benchRunProgress(db, run.id);
    options.onEvent?.({ kind: "progress", ...progress });
    return progress;
  };

  const worker = async () => {
    while (!options.signal.aborted && stopReason === null) {
      const claim = await claimBenchTrial(db, run.id, owner, leaseMs);
      if (claim.budget === "stop") {
        stopReason = `budget: the next trial would pass --max-cost $${run.settings.maxCostUsd}`;
        break;
      }
      const trial = claim.trial;
      if (!trial) {
        const progress = await benchRunProgress(db, run.id);
        if (progress.finished === progress.total) break;
        // Trials wait on an earlier one of their group, on the budget's reservations, or run in other
        // workers: wait for them, unless none of ours runs and the rest belong to live workers elsewhere.
        if (
          !claim.budget &&
          runningHere === 0 &&
          progress.finished + progress.running === progress.total &&
          !(await anyClaimableBenchTrial(db, run.id, owner))
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, idlePollMs));
        continue;
      }
      const task = tasks.get(trial.taskSlug);
      runningHere++;
      options.onEvent?.({ kind: "started", trial });
      const renew = setInterval(() => void renewBenchLease(db, trial.id, owner, leaseMs), Math.min(60_000, leaseMs / 3));
      // Written in order, one at a time, so a later figure is never overwritten by an earlier one.
      let spendWritten = Promise.resolve();
      const onSpend = (costUsd: number) => {
        spendWritten = spendWritten.then(() => recordBenchAttemptSpend(db, trial.id, owner, costUsd)).catch(() => {});
      };
      try {
        const end = task
          ? await runTrial(
              { db, run, driver: options.driver, serverUrl: options.serverUrl, signal: options.signal, variantTextsKept, onSpend },
              task,
              trial,
            )
          : { kind: "finished" as const, outcome: missingTaskOutcome(trial) };
        await spendWritten;
        if (end.kind === "interrupted") {
          // Back in the queue with what the cut-off attempt spent: the run dir's report counts it as the database's does.
          const released = await releaseBenchTrial(db, trial.id, owner, end.costUsd);
          if (released) appendTrialLine(outDir, released);
          continue;
        }
        const finished = await finishBenchTrial(db, trial.id, owner, end.outcome, software);
        if (finished) {
          ranHere++;
          appendTrialLine(outDir, finished);
          options.onEvent?.({ kind: "finished", trial: finished });
        }
      } finally {
        clearInterval(renew);
        runningHere--;
      }
      await report();
    }
  };

  await report();
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  const progress = await report();
  if (options.signal.aborted) stopReason ??= "interrupted";
  const status = progress.finished === progress.total ? "finished" : "stopped";
  await setBenchRunStatus(db, run.id, status, status === "finished" ? null : (stopReason ?? "other workers still hold trials"));
  // The run dir's copy of the run says how it ended, as the database does.
  writeRunFile(outDir, await getBenchRun(db, cli, run.id));
  return { status, stopReason, ranHere };
}

function missingTaskOutcome(trial: BenchTrial) {
  return {
    passed: false,
    timedOut: false,
    error: `the suite no longer has task ${trial.taskSlug}`,
    testError: null,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0,
    costSource: "none" as const,
    turns: 0,
    driverTurns: null,
    wallMs: 0,
    toolCalls: {},
    postsWritten: 0,
    journalWritten: 0,
    reads: 0,
    testOutput: "",
  };
}
