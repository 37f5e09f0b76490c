import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  createBenchRun,
  getBenchRun,
  listBenchTrials,
  type BenchPhase,
  type BenchRun,
  type PlannedTrial,
} from "../server/domain/bench-runs.ts";
import { benchVariants, type BenchVariant } from "../server/domain/bench-variants.ts";
import type { Db } from "../server/db/client.ts";
import { aboveMeanCost, seededRandom } from "../server/domain/bench-stats.ts";
import { invalid } from "../server/domain/errors.ts";
import type { PostLimits } from "../server/domain/limits.ts";
import { cli } from "../server/domain/callers.ts";
import { copyTeam } from "../server/domain/team-archive.ts";
import { createTeam, findTeam, setAgentInstructions } from "../server/domain/teams.ts";
import type { BenchHardSet } from "../server/db/schema/index.ts";
import type { PriceTable } from "./prices.ts";
import { writePlannedTrials, writeRunFile } from "./run-folder.ts";
import type { Suite } from "./suites.ts";
import { promptTemplate, teamInstructionsFor } from "./variants.ts";

export type RunPlan = {
  suite: Suite;
  /** The team whose engineers see the run (teamForNewBenchRun); null keeps it to the command line. */
  teamId: string | null;
  driver: string;
  model: string | undefined;
  variants: BenchVariant[];
  repeats: number;
  phase: BenchPhase;
  fromRunId: string | undefined;
  timeoutMs: number;
  concurrency: number;
  maxCostUsd: number | undefined;
  prices: PriceTable;
  outDir: string | undefined;
  runId: string | undefined;
  /** Seeds the trial order; a random one when not given (the report prints it). */
  seed?: number | undefined;
  /** A calibration run whose baseline costs fix the hard tasks; without it, the tasks marked hard. */
  hardFromRunId?: string | undefined;
  /** The server's post limits (BOTBOARD_MAX_POST_CHARS, BOTBOARD_MAX_TAGS): the warm phase's board copies are held to them. */
  postLimits: PostLimits;
};

export function parseVariants(text: string): BenchVariant[] {
  const variants = text
    .split(",")
    .map((variant) => variant.trim())
    .filter(Boolean);
  const unknown = variants.filter((variant) => !(benchVariants as readonly string[]).includes(variant));
  if (unknown.length > 0) throw invalid(`Unknown variant ${unknown.join(", ")}; variants are ${benchVariants.join(", ")}.`);
  if (variants.length === 0) throw invalid("Name at least one variant.");
  return [...new Set(variants)] as BenchVariant[];
}

export function newRunId(driver: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${driver}-${randomBytes(2).toString("hex")}`;
}

export const defaultResultsDir = () => resolve("bench", "results");

/** A short, unique team slug for a run's board (slugs are at most 40 characters). */
const teamSlug = (runId: string, suffix: string) =>
  `bench-${runId.slice(-4)}${randomBytes(2).toString("hex")}-${suffix}`.toLowerCase().slice(0, 40);

export async function benchTeam(db: Db, run: string, variant: BenchVariant, suffix: string) {
  const team = await createTeam(db, { name: `Bench ${run} ${suffix}`, slug: teamSlug(run, suffix) });
  await setAgentInstructions(db, cli, team.id, teamInstructionsFor(variant));
  return team;
}

/**
 * The board each (variant, repeat) group starts from in the warm phase: a copy of the one the same
 * group (or, failing that, the variant's first repeat) left in the earlier run.
 */
async function warmTeams(db: Db, runId: string, fromRunId: string, plan: RunPlan) {
  const { variants, repeats } = plan;
  const from = await getBenchRun(db, cli, fromRunId);
  // The new run shows the earlier one's id: both must be seen by the same team.
  if (from.teamId !== plan.teamId) throw invalid(`Run ${fromRunId} belongs to another team: a warm run starts from a run of its own team.`);
  if (from.phase === "isolated") throw invalid(`Run ${fromRunId} used the isolated phase: it left no shared board to start from.`);
  const fromTrials = await listBenchTrials(db, fromRunId);
  const teams = new Map<string, string>();
  for (const variant of variants.filter((variant) => variant !== "baseline")) {
    for (let repeat = 1; repeat <= repeats; repeat++) {
      const source =
        fromTrials.find((trial) => trial.variant === variant && trial.repeat === repeat && trial.teamId) ??
        fromTrials.find((trial) => trial.variant === variant && trial.teamId);
      if (!source) throw invalid(`Run ${fromRunId} has no ${variant} board to start from.`);
      const slug = teamSlug(runId, `${variant}-r${repeat}`);
      await copyTeam(db, source.teamId!, { name: `Bench ${runId} ${variant} r${repeat} (from ${fromRunId})`, slug }, plan.postLimits);
      const team = await findTeam(db, slug);
      await setAgentInstructions(db, cli, team.id, teamInstructionsFor(variant));
      teams.set(`${variant}/${repeat}`, team.id);
    }
  }
  return teams;
}

export type OrderedTrial = { task: number; variant: string; repeat: number };

/** Fisher-Yates with the given generator: the same seed gives the same order. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}

type Block = { task: number; repeat: number };

function everyBlock(taskCount: number, repeats: number): Block[] {
  return Array.from({ length: repeats }, (_, repeat) =>
    Array.from({ length: taskCount }, (_, task) => ({ task, repeat: repeat + 1 })),
  ).flat();
}

/** Each repeat's tasks in order, the repeats merged at random: drawing a repeat in proportion to its tasks left makes every merge equally likely. */
function interleavedRepeats(taskCount: number, repeats: number, random: () => number): Block[] {
  const done = Array.from({ length: repeats }, () => 0);
  const blocks: Block[] = [];
  for (let left = taskCount * repeats; left > 0; left--) {
    let pick = Math.floor(random() * left);
    const repeat = done.findIndex((count) => {
      pick -= taskCount - count;
      return pick < 0;
    });
    blocks.push({ task: done[repeat]!, repeat: repeat + 1 });
    done[repeat]!++;
  }
  return blocks;
}

/**
 * The order trials are queued in: blocks of one task and one repeat holding every variant, in a
 * random variant order, so time of day, rate limits and prompt caching do not line up with a
 * variant, and a run stopped after any number of trials (a budget stop, Ctrl-C) leaves every
 * variant within one trial of the others and with its pairs. The blocks are shuffled too; on
 * shared boards a repeat's tasks keep the suite's order (later tasks build on earlier ones) and
 * only the repeats are interleaved at random.
 */
export function trialOrder(
  taskCount: number,
  variants: readonly string[],
  repeats: number,
  seed: number,
  keepTaskOrder: boolean,
): OrderedTrial[] {
  const random = seededRandom(seed);
  const blocks = keepTaskOrder ? interleavedRepeats(taskCount, repeats, random) : shuffled(everyBlock(taskCount, repeats), random);
  return blocks.flatMap((block) => shuffled(variants, random).map((variant) => ({ ...block, variant })));
}

/**
 * The hard tasks, fixed before any trial runs: from a calibration run, the study's rule (tasks whose
 * mean baseline cost is above the mean, for the same driver and model); otherwise the tasks the
 * suite marks hard. Choosing them from this run's own baseline would bias the hard rows.
 */
async function hardSet(db: Db, plan: RunPlan): Promise<BenchHardSet> {
  if (!plan.hardFromRunId) {
    return {
      source: "metadata",
      fromRunId: null,
      tasks: plan.suite.tasks.filter((task) => task.difficulty === "hard").map((task) => task.slug),
    };
  }
  const from = await getBenchRun(db, cli, plan.hardFromRunId);
  if (from.teamId !== plan.teamId) throw invalid(`Run ${from.id} belongs to another team: calibrate with a run of the same team.`);
  if (from.driver !== plan.driver || (from.model ?? null) !== (plan.model ?? null))
    throw invalid(
      `Run ${from.id} used ${from.driver}${from.model ? `/${from.model}` : ""}: the hard tasks are set per model, from a calibration run of the same driver and model.`,
    );
  const costs = new Map<string, number[]>();
  for (const trial of await listBenchTrials(db, from.id)) {
    if (trial.variant !== "baseline" || trial.status !== "finished" || trial.costUsd === null) continue;
    costs.set(trial.taskSlug, [...(costs.get(trial.taskSlug) ?? []), trial.costUsd]);
  }
  if (costs.size === 0) throw invalid(`Run ${from.id} has no finished baseline trials to calibrate the hard tasks with.`);
  const inSuite = new Set(plan.suite.tasks.map((task) => task.slug));
  return { source: "calibration", fromRunId: from.id, tasks: aboveMeanCost(costs).filter((task) => inSuite.has(task)) };
}

export const randomSeed = () => randomBytes(4).readUInt32BE();

/**
 * Plans a run: every (task, variant, repeat), queued in a seeded random order of balanced blocks.
 * Phases that share a board run each (variant, repeat) group's tasks one after another on that
 * group's team.
 */
export async function planRun(db: Db, plan: RunPlan): Promise<{ run: BenchRun; outDir: string }> {
  if (plan.phase === "warm" && !plan.fromRunId) throw invalid("The warm phase starts from an earlier run's board: give --from <run-id>.");
  if (plan.phase !== "warm" && plan.fromRunId) throw invalid("--from only applies to --phase warm.");
  const runId = plan.runId ?? newRunId(plan.driver);
  const outDir = resolve(plan.outDir ?? join(defaultResultsDir(), runId));
  const shared = plan.phase !== "isolated";
  const seed = plan.seed ?? randomSeed();
  const hard = await hardSet(db, plan);
  const teams = plan.phase === "warm" ? await warmTeams(db, runId, plan.fromRunId!, plan) : new Map<string, string>();
  if (plan.phase === "accumulate") {
    for (let repeat = 1; repeat <= plan.repeats; repeat++)
      for (const variant of plan.variants.filter((variant) => variant !== "baseline"))
        teams.set(`${variant}/${repeat}`, (await benchTeam(db, runId, variant, `${variant}-r${repeat}`)).id);
  }
  const trials: PlannedTrial[] = trialOrder(plan.suite.tasks.length, plan.variants, plan.repeats, seed, shared).map(
    ({ task: index, variant, repeat }) => {
      const task = plan.suite.tasks[index]!;
      const groupKey = shared && variant !== "baseline" ? `${variant}/${repeat}` : null;
      return {
        taskSlug: task.slug,
        difficulty: task.difficulty,
        variant,
        repeat,
        groupKey,
        teamId: groupKey ? teams.get(groupKey)! : null,
      };
    },
  );
  const run = await createBenchRun(db, {
    id: runId,
    teamId: plan.teamId,
    suite: plan.suite.name,
    driver: plan.driver,
    model: plan.model ?? null,
    phase: plan.phase,
    variants: plan.variants,
    repeats: plan.repeats,
    fromRunId: plan.fromRunId ?? null,
    settings: {
      suitePath: plan.suite.path,
      outDir,
      timeoutMs: plan.timeoutMs,
      concurrency: plan.concurrency,
      maxCostUsd: plan.maxCostUsd ?? null,
      prompts: Object.fromEntries(plan.variants.map((variant) => [variant, promptTemplate(variant)])),
      prices: plan.prices,
      seed,
      hardSet: hard,
    },
    trials,
  });
  mkdirSync(outDir, { recursive: true });
  writeRunFile(outDir, run);
  writePlannedTrials(outDir, await listBenchTrials(db, run.id));
  return { run, outDir };
}
