import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  benchVariants,
  createBenchRun,
  getBenchRun,
  listBenchTrials,
  type BenchPhase,
  type BenchRun,
  type BenchVariant,
  type PlannedTrial,
} from "../server/domain/bench-runs.ts";
import type { Db } from "../server/db/client.ts";
import { invalid } from "../server/domain/errors.ts";
import { cli } from "../server/domain/callers.ts";
import { copyTeam } from "../server/domain/team-archive.ts";
import { createTeam, findTeam, setAgentInstructions } from "../server/domain/teams.ts";
import type { PriceTable } from "./prices.ts";
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
      await copyTeam(db, source.teamId!, { name: `Bench ${runId} ${variant} r${repeat} (from ${fromRunId})`, slug });
      const team = await findTeam(db, slug);
      await setAgentInstructions(db, cli, team.id, teamInstructionsFor(variant));
      teams.set(`${variant}/${repeat}`, team.id);
    }
  }
  return teams;
}

/**
 * Plans a run: every (task, variant, repeat), in a fixed order. Phases that share a board run each
 * (variant, repeat) group's tasks one after another on that group's team.
 */
export async function planRun(db: Db, plan: RunPlan): Promise<{ run: BenchRun; outDir: string }> {
  if (plan.phase === "warm" && !plan.fromRunId) throw invalid("The warm phase starts from an earlier run's board: give --from <run-id>.");
  if (plan.phase !== "warm" && plan.fromRunId) throw invalid("--from only applies to --phase warm.");
  const runId = plan.runId ?? newRunId(plan.driver);
  const outDir = resolve(plan.outDir ?? join(defaultResultsDir(), runId));
  const shared = plan.phase !== "isolated";
  const teams = plan.phase === "warm" ? await warmTeams(db, runId, plan.fromRunId!, plan) : new Map<string, string>();
  const trials: PlannedTrial[] = [];
  for (let repeat = 1; repeat <= plan.repeats; repeat++) {
    for (const variant of plan.variants) {
      const groupKey = shared && variant !== "baseline" ? `${variant}/${repeat}` : null;
      if (plan.phase === "accumulate" && groupKey) teams.set(groupKey, (await benchTeam(db, runId, variant, `${variant}-r${repeat}`)).id);
      for (const task of plan.suite.tasks) {
        trials.push({
          taskSlug: task.slug,
          difficulty: task.difficulty,
          variant,
          repeat,
          groupKey,
          teamId: groupKey ? teams.get(groupKey)! : null,
        });
      }
    }
  }
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
    },
    trials,
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "run.json"), `${JSON.stringify(run, null, 2)}\n`);
  return { run, outDir };
}
