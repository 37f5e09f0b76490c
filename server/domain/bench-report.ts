import type { BenchHardSet, BenchVariantText, TrialSoftware } from "../db/schema/index.ts";
import type { BenchRun, BenchTrial } from "./bench-runs.ts";
import {
  aboveMeanCost,
  bootstrapResamples,
  mean,
  median,
  minimumTasksForInterval,
  powerChanges,
  repeatsNeeded,
  summariseRatios,
  wilsonInterval,
  type Interval,
  type PowerEstimate,
  type RatioSummary,
  type Spread,
  type TaskPair,
} from "./bench-stats.ts";

/**
 * A run's report as data: the markdown, the HTML page, `--format json` and the /bench pages all
 * render this one object, computed from the stored trials.
 */

/**
 * `pairs` counts the variant's trials that have a baseline trial of the same task and repeat, and
 * `cutOff` the pairs a headline row leaves out because a side timed out or failed with an error (0
 * on the row of every pair); a metric is undefined when no pair has a baseline figure above 0 (a
 * figure not recorded counts as 0) to divide by.
 */
export type VariantComparison = { pairs: number; cutOff: number; cost?: RatioSummary; turns?: RatioSummary; wallTime?: RatioSummary };

export type VariantSummary = {
  variant: string;
  trials: number;
  passed: number;
  passRate: Interval;
  totalCostUsd: number;
  /** Means and median over the finished trials; null before any has finished (a run stopped early, or one under way). */
  meanCostUsd: number | null;
  medianCostUsd: number | null;
  meanTurns: number | null;
  meanWallSeconds: number | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  postsWritten: number;
  journalWritten: number;
  reads: number;
  toolCalls: Record<string, number>;
  /** Trials whose agent ran out of time; their spend until then is in the costs. */
  timeouts: number;
  errors: number;
  /** Attempts cut off by a stop and run again later, and what they spent (not in the trials' costs). */
  interruptedAttempts: number;
  interruptedCostUsd: number;
  /** The driver's own turn figure, where it reports one (Claude Code's num_turns); turns are model requests. */
  meanDriverTurns: number | null;
  /** Paired with the baseline on trials that completed on both sides (the agent neither timed out nor failed with an error): the headline. */
  vsBaseline?: VariantComparison;
  /** On the hard tasks fixed before the run (`hardSet`); none when the set is empty. */
  vsBaselineHard?: VariantComparison;
  /** The same comparison on every pair, timeouts and errors included, shown beside the headline. */
  vsBaselineAllTrials?: VariantComparison;
  /** On the tasks above this run's own mean baseline cost: biased toward savings, exploratory only; none when no task is. */
  vsBaselineExploratory?: VariantComparison;
};

/** One task's variant against its baseline: ratios over completed trials, pass rates over all finished ones. */
export type TaskDelta = {
  task: string;
  variant: string;
  costRatio: number | null;
  wallTimeRatio: number | null;
  variantPassed: number;
  baselinePassed: number;
  /** Standard deviation over the task's repeats of the log of the paired cost ratio; null below two pairs. */
  costLogRatioSd: number | null;
  /** Trials left out of the ratios because they timed out or failed with an error. */
  cutOff: { variant: number; baseline: number };
};

/** The statistics' design, stated in the report so a reader can judge and reproduce it. */
export type StatisticsNotes = {
  /** The trial order's seed; null for runs planned before the order was randomized. */
  seed: number | null;
  /** Below this many tasks a row has no interval. */
  minimumTasks: number;
  /** Resamples of each row's cluster bootstrap (each row's own seed and tail are in its `bootstrap`). */
  resamples: number;
  /** Intervals the report shows against the baseline (variants x metrics x task rows). */
  intervals: number;
  /** Primary comparisons (cost on all tasks, one per variant, none before a baseline trial has finished): their family-wise level is 1 - 0.05 / comparisons. */
  comparisons: number;
  /** Per variant with two repeats or more: the spread of the log cost ratio and the repeats a 10%/15%/25% saving would need. */
  power: { variant: string; spread: Spread; estimates: PowerEstimate[] }[];
};

export type BenchReport = {
  run: Pick<BenchRun, "id" | "suite" | "driver" | "model" | "phase" | "variants" | "repeats" | "fromRunId" | "status" | "stopReason"> & {
    createdAt: string;
  };
  trials: { total: number; finished: number };
  /** Everything the run spent: its finished trials, and attempts cut off by a stop (run again later). */
  spend: {
    trialsUsd: number;
    interruptedUsd: number;
    /**
     * What attempts not yet finished have spent: one running now, or one whose worker died (`kill -9`)
     * until another takes its trial over and counts it as interrupted. A run dir does not record it.
     */
    underWayUsd: number;
  };
  /** The hard rows' tasks, fixed before the run (`hardSet.source` says how). */
  hardTasks: string[];
  hardSet: BenchHardSet;
  /** Above this run's own mean baseline cost: the exploratory rows. */
  exploratoryHardTasks: string[];
  statistics: StatisticsNotes;
  variants: VariantSummary[];
  taskDeltas: TaskDelta[];
  prompts: Record<string, string>;
  /** What Botboard's MCP server showed each variant's agents (instructions, tools and their descriptions). */
  variantTexts: Record<string, BenchVariantText>;
  /** What ran the finished trials, each combination with how many trials it ran (null: not recorded). */
  software: (TrialSoftware & { trials: number })[];
  /**
   * Per finished trial, in queue order: the charts' distributions, and every figure the numbers above
   * are computed from (the pairing key, whether the trial completed, cost, turns, time, tokens, writes
   * and reads), so the JSON alone re-derives the report; a run worked by several machines has no
   * complete run dir.
   */
  points: TrialPoint[];
};

export type TrialPoint = Pick<
  BenchTrial,
  | "variant"
  | "repeat"
  | "timedOut"
  | "error"
  | "inputTokens"
  | "outputTokens"
  | "cacheReadTokens"
  | "cacheWriteTokens"
  | "costSource"
  | "driverTurns"
  | "software"
> & {
  trialId: number;
  task: string;
  passed: boolean;
  costUsd: number;
  turns: number;
  wallSeconds: number;
  postsWritten: number;
  journalWritten: number;
  reads: number;
};

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
/** A statistic of no values is not 0: a variant with no finished trial did not run for free in no time. */
const ofSome = (values: number[], statistic: (values: number[]) => number) => (values.length === 0 ? null : statistic(values));

/** A trial whose figures are whole: the agent ended by itself, in time and without an error. */
const completed = (trial: BenchTrial) => !trial.timedOut && !trial.error;

/** `completedOnly`: the headline rows' pairs, where both trials completed (a cut-off trial's figures are a lower bound). */
type ComparisonOptions = { seed: number; comparisons: number; completedOnly: boolean };

function comparison(trials: BenchTrial[], baselineByKey: Map<string, BenchTrial>, options: ComparisonOptions): VariantComparison {
  const everyPair = trials.flatMap((trial) => {
    const baseline = baselineByKey.get(`${trial.taskSlug}/${trial.repeat}`);
    return baseline ? [{ trial, baseline }] : [];
  });
  const paired = options.completedOnly ? everyPair.filter(({ trial, baseline }) => completed(trial) && completed(baseline)) : everyPair;
  const pairsOf = (metric: (trial: BenchTrial) => number): TaskPair[] =>
    paired.map(({ trial, baseline }) => ({ task: trial.taskSlug, variant: metric(trial), baseline: metric(baseline) }));
  const { seed, comparisons } = options;
  return {
    pairs: paired.length,
    // So that a row with no pair left says why: pairs cut off are not pairs missing.
    cutOff: everyPair.length - paired.length,
    cost: summariseRatios(
      pairsOf((trial) => trial.costUsd ?? 0),
      seed,
      { comparisons },
    ),
    turns: summariseRatios(
      pairsOf((trial) => trial.turns ?? 0),
      seed + 1,
    ),
    wallTime: summariseRatios(
      pairsOf((trial) => trial.wallMs ?? 0),
      seed + 2,
    ),
  };
}

/** The accounting columns of a variant: timeouts, errors, interrupted spend and the driver's own turns. */
function accountingOf(trials: BenchTrial[], allTrials: BenchTrial[], variant: string) {
  const ofVariant = allTrials.filter((trial) => trial.variant === variant);
  const driverTurns = trials.flatMap((trial) => (trial.driverTurns === null ? [] : [trial.driverTurns]));
  return {
    timeouts: trials.filter((trial) => trial.timedOut).length,
    errors: trials.filter((trial) => trial.error).length,
    interruptedAttempts: sum(ofVariant.map((trial) => trial.interruptedAttempts ?? 0)),
    interruptedCostUsd: sum(ofVariant.map((trial) => trial.interruptedCostUsd ?? 0)),
    meanDriverTurns: driverTurns.length === 0 ? null : mean(driverTurns),
  };
}

/**
 * The hard tasks fixed at planning; runs planned before that fall back to the tasks marked hard.
 * Its keys in one order, as the variant texts': jsonb and a run dir's reader order them each their own way.
 */
function plannedHardSet(run: BenchRun, trials: BenchTrial[]): BenchHardSet {
  const planned = run.settings.hardSet;
  if (planned) return { source: planned.source, fromRunId: planned.fromRunId, tasks: planned.tasks };
  return {
    source: "metadata",
    fromRunId: null,
    tasks: [...new Set(trials.filter((trial) => trial.difficulty === "hard").map((trial) => trial.taskSlug))].sort(),
  };
}

/** The study's rule applied to this run's own baseline: the exploratory hard rows. */
function sameRunHardTasks(baseline: BenchTrial[]): string[] {
  const costs = new Map<string, number[]>();
  for (const trial of baseline) costs.set(trial.taskSlug, [...(costs.get(trial.taskSlug) ?? []), trial.costUsd ?? 0]);
  return aboveMeanCost(costs);
}

const intervalCount = (variants: VariantSummary[]) =>
  variants
    .flatMap((variant) => [variant.vsBaseline, variant.vsBaselineHard, variant.vsBaselineExploratory, variant.vsBaselineAllTrials])
    .flatMap((comparisonOf) => [comparisonOf?.cost, comparisonOf?.turns, comparisonOf?.wallTime])
    .filter((summary) => summary?.median).length;

function statisticsNotes(run: BenchRun, variants: VariantSummary[], comparisons: number): StatisticsNotes {
  return {
    seed: run.settings.seed ?? null,
    minimumTasks: minimumTasksForInterval,
    resamples: bootstrapResamples,
    intervals: intervalCount(variants),
    comparisons,
    power: variants.flatMap((variant) => {
      const spread = variant.vsBaseline?.cost?.spread;
      // One repeat cannot tell repeat-to-repeat noise from differences between tasks.
      return spread && spread.withinTask !== null
        ? [{ variant: variant.variant, spread, estimates: powerChanges.map((change) => repeatsNeeded(spread, change)) }]
        : [];
    }),
  };
}

/** SD of the log paired cost ratio over a task's repeats: how much one task's result moves from repeat to repeat. */
function costLogRatioSd(mine: BenchTrial[], baselineByKey: Map<string, BenchTrial>): number | null {
  const logs = mine.flatMap((trial) => {
    const baseline = baselineByKey.get(`${trial.taskSlug}/${trial.repeat}`);
    const ratio = baseline && (baseline.costUsd ?? 0) > 0 ? (trial.costUsd ?? 0) / baseline.costUsd! : 0;
    return ratio > 0 ? [Math.log(ratio)] : [];
  });
  if (logs.length < 2) return null;
  const centre = mean(logs);
  return Math.sqrt(logs.reduce((total, value) => total + (value - centre) ** 2, 0) / (logs.length - 1));
}

export function buildReport(run: BenchRun, unorderedTrials: BenchTrial[]): BenchReport {
  // Queue order, whatever order the trials came in (the database's, or a run dir's finishing order).
  const allTrials = [...unorderedTrials].sort((a, b) => a.seq - b.seq);
  const finished = allTrials.filter((trial) => trial.status === "finished");
  const baseline = finished.filter((trial) => trial.variant === "baseline");
  const baselineByKey = new Map(baseline.map((trial) => [`${trial.taskSlug}/${trial.repeat}`, trial]));
  const completedBaselineByKey = new Map(baseline.filter(completed).map((trial) => [`${trial.taskSlug}/${trial.repeat}`, trial]));

  const hardSet = plannedHardSet(run, allTrials);
  const hardTasks = new Set(hardSet.tasks);
  const exploratoryHardTasks = sameRunHardTasks(baseline);
  const exploratory = new Set(exploratoryHardTasks);
  // With no baseline trial finished nothing is compared, so there is no family to correct for.
  const comparisons = baseline.length > 0 ? run.variants.filter((variant) => variant !== "baseline").length : 0;

  const variants = run.variants.map((variant, index): VariantSummary => {
    const trials = finished.filter((trial) => trial.variant === variant);
    const passed = trials.filter((trial) => trial.passed).length;
    const costs = trials.map((trial) => trial.costUsd ?? 0);
    const toolCalls: Record<string, number> = {};
    for (const trial of trials)
      for (const [name, count] of Object.entries(trial.toolCalls ?? {})) toolCalls[name] = (toolCalls[name] ?? 0) + count;
    const summary: VariantSummary = {
      variant,
      trials: trials.length,
      passed,
      passRate: wilsonInterval(passed, trials.length),
      totalCostUsd: sum(costs),
      meanCostUsd: ofSome(costs, mean),
      medianCostUsd: ofSome(costs, median),
      meanTurns: ofSome(
        trials.map((trial) => trial.turns ?? 0),
        mean,
      ),
      meanWallSeconds: ofSome(
        trials.map((trial) => (trial.wallMs ?? 0) / 1000),
        mean,
      ),
      inputTokens: sum(trials.map((trial) => trial.inputTokens ?? 0)),
      outputTokens: sum(trials.map((trial) => trial.outputTokens ?? 0)),
      cacheReadTokens: sum(trials.map((trial) => trial.cacheReadTokens ?? 0)),
      cacheWriteTokens: sum(trials.map((trial) => trial.cacheWriteTokens ?? 0)),
      postsWritten: sum(trials.map((trial) => trial.postsWritten ?? 0)),
      journalWritten: sum(trials.map((trial) => trial.journalWritten ?? 0)),
      reads: sum(trials.map((trial) => trial.reads ?? 0)),
      toolCalls,
      ...accountingOf(trials, allTrials, variant),
    };
    if (variant !== "baseline" && baseline.length > 0) {
      const seed = 100 * (index + 1);
      // Cost on all tasks is the primary comparison, the one given at the family-wise level too.
      summary.vsBaseline = comparison(trials, baselineByKey, { seed, comparisons, completedOnly: true });
      if (hardTasks.size > 0)
        summary.vsBaselineHard = comparison(
          trials.filter((trial) => hardTasks.has(trial.taskSlug)),
          baselineByKey,
          { seed: seed + 50, comparisons: 1, completedOnly: true },
        );
      if (exploratory.size > 0)
        summary.vsBaselineExploratory = comparison(
          trials.filter((trial) => exploratory.has(trial.taskSlug)),
          baselineByKey,
          { seed: seed + 70, comparisons: 1, completedOnly: true },
        );
      // Every pair, timeouts and errors included, beside the headline.
      summary.vsBaselineAllTrials = comparison(trials, baselineByKey, { seed: seed + 90, comparisons: 1, completedOnly: false });
    }
    return summary;
  });

  const taskDeltas: TaskDelta[] = [];
  const tasks = [...new Set(finished.map((trial) => trial.taskSlug))].sort();
  for (const variant of run.variants.filter((variant) => variant !== "baseline")) {
    for (const task of tasks) {
      const mine = finished.filter((trial) => trial.variant === variant && trial.taskSlug === task);
      const theirs = baseline.filter((trial) => trial.taskSlug === task);
      if (mine.length === 0 || theirs.length === 0) continue;
      // Ratios on completed trials only, as the headline: a cut-off trial's spend is a lower bound.
      const mineCompleted = mine.filter(completed);
      const theirsCompleted = theirs.filter(completed);
      const ratio = (metric: (trial: BenchTrial) => number) => {
        if (mineCompleted.length === 0 || theirsCompleted.length === 0) return null;
        const base = mean(theirsCompleted.map(metric));
        return base > 0 ? mean(mineCompleted.map(metric)) / base : null;
      };
      taskDeltas.push({
        task,
        variant,
        costRatio: ratio((trial) => trial.costUsd ?? 0),
        wallTimeRatio: ratio((trial) => trial.wallMs ?? 0),
        variantPassed: mine.filter((trial) => trial.passed).length / mine.length,
        baselinePassed: theirs.filter((trial) => trial.passed).length / theirs.length,
        costLogRatioSd: costLogRatioSd(mineCompleted, completedBaselineByKey),
        cutOff: { variant: mine.length - mineCompleted.length, baseline: theirs.length - theirsCompleted.length },
      });
    }
  }

  return {
    run: {
      id: run.id,
      suite: run.suite,
      driver: run.driver,
      model: run.model,
      phase: run.phase,
      variants: run.variants,
      repeats: run.repeats,
      fromRunId: run.fromRunId,
      status: run.status,
      stopReason: run.stopReason,
      createdAt: new Date(run.createdAt).toISOString(),
    },
    trials: { total: allTrials.length, finished: finished.length },
    spend: {
      trialsUsd: sum(finished.map((trial) => trial.costUsd ?? 0)),
      interruptedUsd: sum(allTrials.map((trial) => trial.interruptedCostUsd ?? 0)),
      underWayUsd: sum(allTrials.filter((trial) => trial.status !== "finished").map((trial) => trial.attemptCostUsd)),
    },
    hardTasks: [...hardTasks].sort(),
    hardSet,
    exploratoryHardTasks,
    statistics: statisticsNotes(run, variants, comparisons),
    variants,
    taskDeltas,
    // In the run's variant order (a jsonb object does not keep its keys' order).
    prompts: Object.fromEntries(
      run.variants.filter((variant) => variant in run.settings.prompts).map((variant) => [variant, run.settings.prompts[variant]!]),
    ),
    variantTexts: Object.fromEntries(
      run.variants.flatMap((variant) => {
        const text = run.settings.variantTexts?.[variant];
        if (!text) return [];
        const tools = text.tools.map(({ name, description }) => ({ name, description }));
        return [[variant, { instructions: text.instructions, tools, ...(text.push === undefined ? {} : { push: text.push }) }]];
      }),
    ),
    software: softwareOf(finished),
    points: finished.map((trial) => ({
      trialId: trial.id,
      // In one key order: jsonb keeps its own, and the report from the run dir must read the same.
      software: trial.software && { botboard: trial.software.botboard, node: trial.software.node, agent: trial.software.agent },
      variant: trial.variant,
      task: trial.taskSlug,
      repeat: trial.repeat,
      passed: Boolean(trial.passed),
      timedOut: trial.timedOut,
      error: trial.error,
      costUsd: trial.costUsd ?? 0,
      costSource: trial.costSource,
      inputTokens: trial.inputTokens,
      outputTokens: trial.outputTokens,
      cacheReadTokens: trial.cacheReadTokens,
      cacheWriteTokens: trial.cacheWriteTokens,
      turns: trial.turns ?? 0,
      driverTurns: trial.driverTurns,
      wallSeconds: (trial.wallMs ?? 0) / 1000,
      postsWritten: trial.postsWritten ?? 0,
      journalWritten: trial.journalWritten ?? 0,
      reads: trial.reads ?? 0,
    })),
  };
}

/** The combinations of software the trials ran on, most trials first; trials that recorded none are left out. */
function softwareOf(trials: BenchTrial[]): (TrialSoftware & { trials: number })[] {
  const counted = new Map<string, TrialSoftware & { trials: number }>();
  for (const { software } of trials) {
    if (!software) continue;
    const key = JSON.stringify([software.botboard, software.node, software.agent]);
    const entry = counted.get(key) ?? { botboard: software.botboard, node: software.node, agent: software.agent, trials: 0 };
    entry.trials += 1;
    counted.set(key, entry);
  }
  return [...counted.values()].sort((a, b) => b.trials - a.trials);
}
