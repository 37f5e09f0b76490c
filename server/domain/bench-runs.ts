import { and, asc, desc, eq, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Db } from "../db/client.ts";
import {
  benchRuns,
  benchTrials,
  teams,
  type BenchRunSettings,
  type BenchVariantText,
  type ToolCallCounts,
  type TrialSoftware,
} from "../db/schema/index.ts";
import { recordAudit } from "./audit.ts";
import { cli, type HumanCaller } from "./callers.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import { findTeam } from "./teams.ts";
import { requireNoNulByte } from "./untrusted-text.ts";

/**
 * Benchmark runs and their trial queue. The runner, `botboard bench` and the /bench pages all go
 * through here. See docs/decisions/014-bench-trial-queue.md for how trials are claimed.
 */

export type BenchRun = typeof benchRuns.$inferSelect;
export type BenchTrial = typeof benchTrials.$inferSelect;
export type BenchPhase = BenchRun["phase"];

export type PlannedTrial = {
  taskSlug: string;
  difficulty: string;
  variant: string;
  repeat: number;
  groupKey: string | null;
  teamId: string | null;
};

export type NewBenchRun = {
  id: string;
  /** The team whose engineers see the run; null keeps it to the operator's command line. */
  teamId: string | null;
  suite: string;
  driver: string;
  model: string | null;
  phase: BenchPhase;
  variants: string[];
  repeats: number;
  fromRunId: string | null;
  settings: BenchRunSettings;
  trials: PlannedTrial[];
};

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/** Stores a run and queues its trials in plan order, in one transaction. */
export async function createBenchRun(db: Db, input: NewBenchRun): Promise<BenchRun> {
  if (!runIdPattern.test(input.id)) throw invalid("A run id is 1-80 characters of letters, digits, '.', '_' or '-'.");
  if (input.trials.length === 0) throw invalid("The run has no trials: the suite is empty.");
  return db.transaction(async (tx) => {
    const { trials, ...run } = input;
    const [created] = await tx.insert(benchRuns).values(run).onConflictDoNothing().returning();
    if (!created) throw conflict(`A run '${input.id}' already exists; resume it with --resume ${input.id}.`);
    if (created.teamId) await recordAudit(tx, created.teamId, cli, "bench.run_added", created.id);
    for (let start = 0; start < trials.length; start += 500) {
      await tx
        .insert(benchTrials)
        .values(trials.slice(start, start + 500).map((trial, index) => ({ ...trial, runId: input.id, seq: start + index })));
    }
    return created;
  });
}

/**
 * Who looks at runs: an engineer sees the runs of their own team only; the command line (the
 * server's operator) sees every run, whichever team it belongs to.
 */
export type BenchViewer = HumanCaller | typeof cli;

function visibleTo(viewer: BenchViewer): SQL | undefined {
  return viewer.kind === "cli" ? undefined : eq(benchRuns.teamId, viewer.teamId);
}

/** A run its viewer may see; another team's run is "not found", exactly like one that does not exist. */
export async function getBenchRun(db: Db, viewer: BenchViewer, runId: string): Promise<BenchRun> {
  requireNoNulByte("the run id", runId);
  const [run] = await db
    .select()
    .from(benchRuns)
    .where(and(eq(benchRuns.id, runId), visibleTo(viewer)));
  if (!run) throw notFound(`No benchmark run '${runId}'.`);
  return run;
}

/**
 * The team a new run belongs to: the team named (slug or id); `false` (--no-team) for none, so only
 * the command line shows it; unnamed, the only team that is not one of the benchmark's own boards, so
 * a one-team server needs no flag and a server of several teams never guesses.
 */
export async function teamForNewBenchRun(db: Db, named: string | false | undefined): Promise<{ id: string; slug: string } | null> {
  if (named === false) return null;
  if (named !== undefined) return findTeam(db, named);
  const candidates = await db
    .select({ id: teams.id, slug: teams.slug })
    .from(teams)
    .where(sql`not exists (select 1 from ${benchTrials} where ${benchTrials.teamId} = ${teams.id})`)
    .orderBy(teams.createdAt);
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw invalid(
      "There is no team to show the run to: create one with `botboard team add <name>`, or keep the run to the command line with --no-team.",
    );
  }
  throw invalid(
    `There are ${candidates.length} teams: say whose engineers see the run with --team (${candidates.map((team) => team.slug).join(", ")}), or keep it to the command line with --no-team.`,
  );
}

/**
 * Hands a run to a team (or, with null, keeps it to the command line): for runs made before runs had
 * a team. The team that loses the run and the one that gets it each find it in their audit log.
 */
export async function setBenchRunTeam(db: Db, runId: string, teamId: string | null): Promise<void> {
  await db.transaction(async (tx) => {
    const [run] = await tx.select({ teamId: benchRuns.teamId }).from(benchRuns).where(eq(benchRuns.id, runId)).for("update");
    if (!run) throw notFound(`No benchmark run '${runId}'.`);
    if (run.teamId === teamId) return;
    await tx.update(benchRuns).set({ teamId }).where(eq(benchRuns.id, runId));
    if (run.teamId) await recordAudit(tx, run.teamId, cli, "bench.run_removed", runId);
    if (teamId) await recordAudit(tx, teamId, cli, "bench.run_added", runId);
  });
}

export type BenchRunSummary = BenchRun & { teamSlug: string | null; trials: number; finished: number; passed: number; costUsd: number };

/** The runs a viewer may see, newest first, with their trials counted. */
export async function listBenchRuns(db: Db, viewer: BenchViewer, limit = 100): Promise<BenchRunSummary[]> {
  const rows = await db
    .select({
      run: benchRuns,
      teamSlug: teams.slug,
      trials: sql<number>`count(${benchTrials.id})::int`,
      finished: sql<number>`count(*) filter (where ${benchTrials.status} = 'finished')::int`,
      passed: sql<number>`count(*) filter (where ${benchTrials.passed})::int`,
      // Everything spent, as the report's total: finished trials, interrupted attempts and the attempts under way.
      costUsd: sql<number>`(coalesce(sum(${benchTrials.costUsd}), 0) + coalesce(sum(${benchTrials.interruptedCostUsd}), 0)
        + coalesce(sum(${benchTrials.attemptCostUsd}), 0))::float8`,
    })
    .from(benchRuns)
    .leftJoin(teams, eq(teams.id, benchRuns.teamId))
    .leftJoin(benchTrials, eq(benchTrials.runId, benchRuns.id))
    .where(visibleTo(viewer))
    .groupBy(benchRuns.id, teams.slug)
    .orderBy(desc(benchRuns.createdAt))
    .limit(limit);
  return rows.map(({ run, ...counts }) => ({ ...run, ...counts }));
}

export function listBenchTrials(db: Db, runId: string): Promise<BenchTrial[]> {
  return db.select().from(benchTrials).where(eq(benchTrials.runId, runId)).orderBy(asc(benchTrials.seq));
}

/**
 * The one rule for which trial (`t`) a worker may take: pending, or running under a lease that
 * expired (its worker died); and a trial that shares a board waits until every earlier trial of its
 * group has finished.
 */
const claimable = sql`(t.status = 'pending' or (t.status = 'running' and t.lease_expires_at < now()))
  and (t.group_key is null or not exists (
    select 1 from bench_trials earlier
    where earlier.run_id = t.run_id and earlier.group_key = t.group_key
      and earlier.seq < t.seq and earlier.status <> 'finished'))`;

/**
 * What --max-cost allows next. A trial in flight holds a reservation of the most a finished trial has
 * cost; until one has finished nothing is known, so only one trial runs. A new trial starts when what
 * is spent (finished trials and interrupted attempts) plus a reservation for it and for each trial in
 * flight stays within the budget; otherwise the run waits for trials in flight, or stops when none is.
 * The total can pass the budget only by what trials cost beyond the reservation (a first trial dearer
 * than the budget, or a trial dearer than every one before it).
 */
export function budgetDecision(budget: {
  maxCostUsd: number;
  spentUsd: number;
  running: number;
  reservePerTrialUsd: number | null;
}): "claim" | "wait" | "stop" {
  const { maxCostUsd, spentUsd, running, reservePerTrialUsd } = budget;
  if (reservePerTrialUsd === null) return running > 0 ? "wait" : spentUsd < maxCostUsd ? "claim" : "stop";
  if (spentUsd + (running + 1) * reservePerTrialUsd <= maxCostUsd) return "claim";
  return running > 0 ? "wait" : "stop";
}

/** A claim: the trial taken, or none; `budget` says when --max-cost held it back. */
export type BenchClaim = { trial: BenchTrial; budget?: undefined } | { trial?: undefined; budget?: "wait" | "stop" };

/**
 * Claims the next claimable trial; SKIP LOCKED lets several workers claim at once without taking the
 * same one. With --max-cost, claims of a run take turns (the run's row is locked) so that the budget
 * check and the claim are one step for every worker of every process.
 */
export async function claimBenchTrial(db: Db, runId: string, owner: string, leaseMs: number): Promise<BenchClaim> {
  return db.transaction(async (tx) => {
    const [run] = await tx.select({ settings: benchRuns.settings }).from(benchRuns).where(eq(benchRuns.id, runId)).for("update");
    const maxCostUsd = run?.settings.maxCostUsd ?? null;
    if (maxCostUsd !== null) {
      const [spend] = await tx
        .select({
          // What dead workers' attempts spent counts too; live attempts are covered by their reservation.
          spentUsd: sql<number>`(coalesce(sum(${benchTrials.costUsd}), 0) + coalesce(sum(${benchTrials.interruptedCostUsd}), 0)
            + coalesce(sum(${benchTrials.attemptCostUsd}) filter (where ${benchTrials.leaseExpiresAt} < now()), 0))::float8`,
          running: sql<number>`(count(*) filter (where ${benchTrials.status} = 'running' and ${benchTrials.leaseExpiresAt} >= now()))::int`,
          reservePerTrialUsd: sql<number | null>`(max(${benchTrials.costUsd}) filter (where ${benchTrials.status} = 'finished'))::float8`,
        })
        .from(benchTrials)
        .where(eq(benchTrials.runId, runId));
      const decision = budgetDecision({ maxCostUsd, ...spend! });
      if (decision !== "claim") return { budget: decision };
    }
    const candidates = await tx.execute(sql`
      select t.id from bench_trials t
      where t.run_id = ${runId} and ${claimable}
      order by t.seq
      limit 1
      for update skip locked`);
    const id = rowsOf<{ id: number | string }>(candidates)[0]?.id;
    if (id === undefined) return {};
    const [claimed] = await tx
      .update(benchTrials)
      .set({
        status: "running",
        leaseOwner: owner,
        leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval`,
        attempts: sql`${benchTrials.attempts} + 1`,
        // The clock, not now(): the transaction may have begun before the trial it waited on finished.
        startedAt: sql`clock_timestamp()`,
        // A trial taken over from a dead worker: what its attempt had spent is interrupted spend.
        interruptedCostUsd: sql`${benchTrials.interruptedCostUsd} + ${benchTrials.attemptCostUsd}`,
        interruptedAttempts: sql`${benchTrials.interruptedAttempts} + (case when ${benchTrials.status} = 'running' then 1 else 0 end)`,
        attemptCostUsd: 0,
      })
      .where(eq(benchTrials.id, Number(id)))
      .returning();
    return claimed ? { trial: claimed } : {};
  });
}

/** Whether a worker other than `owner` could claim a trial of the run right now. */
export async function anyClaimableBenchTrial(db: Db, runId: string, owner: string): Promise<boolean> {
  const rows = await db.execute(sql`
    select 1 from bench_trials t
    where t.run_id = ${runId} and t.lease_owner is distinct from ${owner} and ${claimable}
    limit 1`);
  return rowsOf(rows).length > 0;
}

/** Keeps a long trial's lease alive; false when the lease was lost (another worker took it over). */
export async function renewBenchLease(db: Db, trialId: number, owner: string, leaseMs: number): Promise<boolean> {
  const renewed = await db
    .update(benchTrials)
    .set({ leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval` })
    .where(and(eq(benchTrials.id, trialId), eq(benchTrials.leaseOwner, owner), eq(benchTrials.status, "running")))
    .returning({ id: benchTrials.id });
  return renewed.length > 0;
}

/** Keeps what a running attempt has spent so far, while its worker still holds the trial. */
export async function recordBenchAttemptSpend(db: Db, trialId: number, owner: string, spentUsd: number): Promise<void> {
  await db
    .update(benchTrials)
    .set({ attemptCostUsd: spentUsd })
    .where(and(eq(benchTrials.id, trialId), eq(benchTrials.leaseOwner, owner), eq(benchTrials.status, "running")));
}

/**
 * Puts an unfinished trial back in the queue (a clean stop), so a resume runs it from the start; what
 * the cut-off attempt spent stays on the trial as interrupted spend.
 */
export async function releaseBenchTrial(db: Db, trialId: number, owner: string, spentUsd: number): Promise<BenchTrial | undefined> {
  const [released] = await db
    .update(benchTrials)
    .set({
      status: "pending",
      leaseOwner: null,
      leaseExpiresAt: null,
      startedAt: null,
      interruptedCostUsd: sql`${benchTrials.interruptedCostUsd} + ${spentUsd}`,
      interruptedAttempts: sql`${benchTrials.interruptedAttempts} + 1`,
      attemptCostUsd: 0,
    })
    .where(and(eq(benchTrials.id, trialId), eq(benchTrials.leaseOwner, owner), eq(benchTrials.status, "running")))
    .returning();
  return released;
}

export type BenchTrialOutcome = {
  passed: boolean;
  timedOut: boolean;
  error: string | null;
  testError: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  costSource: "driver" | "price-table" | "none";
  turns: number;
  driverTurns: number | null;
  wallMs: number;
  toolCalls: ToolCallCounts;
  postsWritten: number;
  journalWritten: number;
  reads: number;
  testOutput: string;
};

/**
 * Records a trial's outcome once. Only the lease holder may finish it, and a finished trial is never
 * claimed again; false means another worker owns it now and this outcome was dropped.
 */
export async function finishBenchTrial(
  db: Db,
  trialId: number,
  owner: string,
  outcome: BenchTrialOutcome,
  software: TrialSoftware,
): Promise<BenchTrial | undefined> {
  const [finished] = await db
    .update(benchTrials)
    .set({ ...outcome, software, status: "finished", leaseOwner: null, leaseExpiresAt: null, finishedAt: sql`now()`, attemptCostUsd: 0 })
    .where(and(eq(benchTrials.id, trialId), eq(benchTrials.leaseOwner, owner), eq(benchTrials.status, "running")))
    .returning();
  return finished;
}

/** Keeps what a variant's agents were shown (the first trial to read it wins), for the report. */
export async function recordBenchVariantText(db: Db, runId: string, variant: string, text: BenchVariantText): Promise<void> {
  await db
    .update(benchRuns)
    .set({
      settings: sql`jsonb_set(${benchRuns.settings}, '{variantTexts}', jsonb_build_object(${variant}::text, ${JSON.stringify(text)}::jsonb) || coalesce(${benchRuns.settings}->'variantTexts', '{}'::jsonb))`,
    })
    .where(eq(benchRuns.id, runId));
}

/** Gives an isolated-phase trial the team it was just given. */
export async function setBenchTrialTeam(db: Db, trialId: number, teamId: string): Promise<void> {
  await db.update(benchTrials).set({ teamId }).where(eq(benchTrials.id, trialId));
}

export async function benchRunProgress(db: Db, runId: string) {
  const [row] = await db
    .select({
      total: sql<number>`count(*)::int`,
      finished: sql<number>`count(*) filter (where ${benchTrials.status} = 'finished')::int`,
      running: sql<number>`count(*) filter (where ${benchTrials.status} = 'running')::int`,
      failed: sql<number>`count(*) filter (where ${benchTrials.status} = 'finished' and not ${benchTrials.passed})::int`,
      /** Everything spent: finished trials, interrupted attempts and the attempts running now. */
      costUsd: sql<number>`(coalesce(sum(${benchTrials.costUsd}), 0) + coalesce(sum(${benchTrials.interruptedCostUsd}), 0)
        + coalesce(sum(${benchTrials.attemptCostUsd}), 0))::float8`,
    })
    .from(benchTrials)
    .where(eq(benchTrials.runId, runId));
  return row ?? { total: 0, finished: 0, running: 0, failed: 0, costUsd: 0 };
}

export async function setBenchRunStatus(
  db: Db,
  runId: string,
  status: BenchRun["status"],
  stopReason: string | null = null,
): Promise<void> {
  await db
    .update(benchRuns)
    .set({ status, stopReason, finishedAt: status === "running" ? null : sql`now()` })
    .where(eq(benchRuns.id, runId));
}
