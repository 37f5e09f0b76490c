import type { BenchRun, BenchTrial } from "../server/bench-runs.ts";
import { mean, median, summariseRatios, topQuartileCut, wilsonInterval, type Interval, type Pair, type RatioSummary } from "./stats.ts";

/**
 * A run's report as data: the markdown, the HTML page, `--format json` and the /bench pages all
 * render this one object, computed from the stored trials.
 */
export type VariantComparison = { cost?: RatioSummary; turns?: RatioSummary; wallTime?: RatioSummary };

export type VariantSummary = {
  variant: string;
  trials: number;
  passed: number;
  passRate: Interval;
  totalCostUsd: number;
  meanCostUsd: number;
  medianCostUsd: number;
  meanTurns: number;
  meanWallSeconds: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  postsWritten: number;
  journalWritten: number;
  reads: number;
  toolCalls: Record<string, number>;
  errors: number;
  vsBaseline?: VariantComparison;
  vsBaselineHard?: VariantComparison;
};

export type TaskDelta = { task: string; variant: string; costRatio: number | null; wallTimeRatio: number | null; variantPassed: number; baselinePassed: number };

export type BenchReport = {
  run: Pick<BenchRun, "id" | "suite" | "driver" | "model" | "phase" | "variants" | "repeats" | "fromRunId" | "status" | "stopReason"> & { createdAt: string };
  trials: { total: number; finished: number };
  hardTasks: string[];
  variants: VariantSummary[];
  taskDeltas: TaskDelta[];
  prompts: Record<string, string>;
  /** Per finished trial, for distributions: variant, cost and wall time. */
  points: { variant: string; task: string; costUsd: number; wallSeconds: number; passed: boolean }[];
};

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const safe = (values: number[], statistic: (values: number[]) => number) => (values.length === 0 ? 0 : statistic(values));

function comparison(trials: BenchTrial[], baselineByKey: Map<string, BenchTrial>, seed: number): VariantComparison {
  const pairsOf = (metric: (trial: BenchTrial) => number): Pair[] =>
    trials.flatMap((trial) => {
      const baseline = baselineByKey.get(`${trial.taskSlug}/${trial.repeat}`);
      return baseline ? [{ variant: metric(trial), baseline: metric(baseline) }] : [];
    });
  return {
    cost: summariseRatios(pairsOf((trial) => trial.costUsd ?? 0), seed),
    turns: summariseRatios(pairsOf((trial) => trial.turns ?? 0), seed + 1),
    wallTime: summariseRatios(pairsOf((trial) => trial.wallMs ?? 0), seed + 2),
  };
}

export function buildReport(run: BenchRun, allTrials: BenchTrial[]): BenchReport {
  const finished = allTrials.filter((trial) => trial.status === "finished");
  const baseline = finished.filter((trial) => trial.variant === "baseline");
  const baselineByKey = new Map(baseline.map((trial) => [`${trial.taskSlug}/${trial.repeat}`, trial]));

  // Hard: marked hard, or whose mean baseline cost is in the top quartile of tasks.
  const baselineCostByTask = new Map<string, number[]>();
  for (const trial of baseline) baselineCostByTask.set(trial.taskSlug, [...(baselineCostByTask.get(trial.taskSlug) ?? []), trial.costUsd ?? 0]);
  const taskCosts = [...baselineCostByTask.entries()].map(([task, costs]) => [task, mean(costs)] as const);
  const cut = topQuartileCut(taskCosts.map(([, cost]) => cost));
  const hardTasks = new Set(finished.filter((trial) => trial.difficulty === "hard").map((trial) => trial.taskSlug));
  for (const [task, cost] of taskCosts) if (cut !== undefined && cost > 0 && cost >= cut) hardTasks.add(task);

  const variants = run.variants.map((variant, index): VariantSummary => {
    const trials = finished.filter((trial) => trial.variant === variant);
    const passed = trials.filter((trial) => trial.passed).length;
    const costs = trials.map((trial) => trial.costUsd ?? 0);
    const toolCalls: Record<string, number> = {};
    for (const trial of trials) for (const [name, count] of Object.entries(trial.toolCalls ?? {})) toolCalls[name] = (toolCalls[name] ?? 0) + count;
    const summary: VariantSummary = {
      variant,
      trials: trials.length,
      passed,
      passRate: wilsonInterval(passed, trials.length),
      totalCostUsd: sum(costs),
      meanCostUsd: safe(costs, mean),
      medianCostUsd: safe(costs, median),
      meanTurns: safe(trials.map((trial) => trial.turns ?? 0), mean),
      meanWallSeconds: safe(trials.map((trial) => (trial.wallMs ?? 0) / 1000), mean),
      inputTokens: sum(trials.map((trial) => trial.inputTokens ?? 0)),
      outputTokens: sum(trials.map((trial) => trial.outputTokens ?? 0)),
      cacheReadTokens: sum(trials.map((trial) => trial.cacheReadTokens ?? 0)),
      cacheWriteTokens: sum(trials.map((trial) => trial.cacheWriteTokens ?? 0)),
      postsWritten: sum(trials.map((trial) => trial.postsWritten ?? 0)),
      journalWritten: sum(trials.map((trial) => trial.journalWritten ?? 0)),
      reads: sum(trials.map((trial) => trial.reads ?? 0)),
      toolCalls,
      errors: trials.filter((trial) => trial.error).length,
    };
    if (variant !== "baseline" && baseline.length > 0) {
      summary.vsBaseline = comparison(trials, baselineByKey, 100 * (index + 1));
      summary.vsBaselineHard = comparison(trials.filter((trial) => hardTasks.has(trial.taskSlug)), baselineByKey, 100 * (index + 1) + 50);
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
      const ratio = (metric: (trial: BenchTrial) => number) => {
        const base = mean(theirs.map(metric));
        return base > 0 ? mean(mine.map(metric)) / base : null;
      };
      taskDeltas.push({
        task,
        variant,
        costRatio: ratio((trial) => trial.costUsd ?? 0),
        wallTimeRatio: ratio((trial) => trial.wallMs ?? 0),
        variantPassed: mine.filter((trial) => trial.passed).length / mine.length,
        baselinePassed: theirs.filter((trial) => trial.passed).length / theirs.length,
      });
    }
  }

  return {
    run: {
      id: run.id, suite: run.suite, driver: run.driver, model: run.model, phase: run.phase, variants: run.variants,
      repeats: run.repeats, fromRunId: run.fromRunId, status: run.status, stopReason: run.stopReason,
      createdAt: new Date(run.createdAt).toISOString(),
    },
    trials: { total: allTrials.length, finished: finished.length },
    hardTasks: [...hardTasks].sort(),
    variants,
    taskDeltas,
    // In the run's variant order (a jsonb object does not keep its keys' order).
    prompts: Object.fromEntries(run.variants.filter((variant) => variant in run.settings.prompts).map((variant) => [variant, run.settings.prompts[variant]!])),
    points: finished.map((trial) => ({ variant: trial.variant, task: trial.taskSlug, costUsd: trial.costUsd ?? 0, wallSeconds: (trial.wallMs ?? 0) / 1000, passed: Boolean(trial.passed) })),
  };
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
export const usd = (value: number) => `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;

/** A ratio as a change: 0.8 [0.7, 0.95] reads "-20% (95% CI -30% to -5%)". */
export function describeRatio(summary: RatioSummary | undefined): string {
  if (!summary) return "n/a (no pairs with a non-zero baseline)";
  const change = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(0)}%`;
  const { median: m } = summary;
  return `${change(m.estimate)} (95% CI ${change(m.low)} to ${change(m.high)}, ${summary.pairs} pairs)${summary.includesNoChange ? " — CI includes no change" : ""}`;
}

export function describePassRate(variant: VariantSummary): string {
  const { passRate } = variant;
  return variant.trials === 0 ? "n/a" : `${variant.passed}/${variant.trials} = ${percent(passRate.estimate)} (95% CI ${percent(passRate.low)}–${percent(passRate.high)})`;
}

export function renderMarkdown(report: BenchReport): string {
  const { run } = report;
  const lines = [
    `# Benchmark run ${run.id}`,
    "",
    `Suite **${run.suite}**, driver **${run.driver}**${run.model ? `, model **${run.model}**` : ""}, phase **${run.phase}**${run.fromRunId ? ` (from ${run.fromRunId})` : ""}, ${run.repeats} repeat(s). Status: ${run.status}${run.stopReason ? ` (${run.stopReason})` : ""}. ${report.trials.finished} of ${report.trials.total} trials finished.`,
    "",
    "## Per variant",
    "",
    "| variant | passed | total cost | mean cost | mean turns | mean time | tokens in/out/cache read/cache write | posts + journal written | reads | errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.variants.map((v) =>
      `| ${v.variant} | ${describePassRate(v)} | ${usd(v.totalCostUsd)} | ${usd(v.meanCostUsd)} | ${v.meanTurns.toFixed(1)} | ${v.meanWallSeconds.toFixed(1)} s | ${v.inputTokens}/${v.outputTokens}/${v.cacheReadTokens}/${v.cacheWriteTokens} | ${v.postsWritten} + ${v.journalWritten} | ${v.reads} | ${v.errors} |`,
    ),
    "",
    "## Against the baseline (median of paired ratios by task and repeat, bootstrap 95% CI)",
    "",
  ];
  const compared = report.variants.filter((variant) => variant.vsBaseline);
  if (compared.length === 0) lines.push("No comparison: the run has no baseline trials, or no other variant.");
  for (const variant of compared) {
    lines.push(`### ${variant.variant}`, "");
    for (const [label, comparisonOf] of [["all tasks", variant.vsBaseline], ["hard tasks", variant.vsBaselineHard]] as const) {
      lines.push(`- ${label}: cost ${describeRatio(comparisonOf?.cost)}; turns ${describeRatio(comparisonOf?.turns)}; time ${describeRatio(comparisonOf?.wallTime)}`);
    }
    const written = variant.postsWritten + variant.journalWritten;
    lines.push(`- wrote ${written}, read ${variant.reads}${variant.reads > 0 ? ` (${(written / variant.reads).toFixed(1)}× more writes than reads)` : ""}`, "");
  }
  lines.push(`Hard tasks: ${report.hardTasks.join(", ") || "none"} (marked hard, or baseline cost in the top quartile).`, "");
  if (report.taskDeltas.length > 0) {
    lines.push("## Per task (variant / baseline, means over repeats)", "", "| task | variant | cost ratio | time ratio | passed (variant / baseline) |", "| --- | --- | --- | --- | --- |");
    for (const delta of report.taskDeltas) {
      lines.push(`| ${delta.task} | ${delta.variant} | ${delta.costRatio?.toFixed(2) ?? "n/a"} | ${delta.wallTimeRatio?.toFixed(2) ?? "n/a"} | ${percent(delta.variantPassed)} / ${percent(delta.baselinePassed)} |`);
    }
    lines.push("");
  }
  lines.push("## Prompts", "");
  for (const [variant, prompt] of Object.entries(report.prompts)) lines.push(`### ${variant}`, "", "```text", prompt, "```", "");
  return lines.join("\n");
}
