import type { BenchReport, StatisticsNotes, VariantComparison, VariantSummary } from "../server/domain/bench-report.ts";
import type { BenchTrial } from "../server/domain/bench-runs.ts";

/** How a benchmark's results read, in the CLI's markdown, the HTML report and the /bench pages alike. */

type ComparedMetric = Exclude<keyof VariantComparison, "pairs" | "cutOff">;

/** A share in whole percents; one short of all or above nothing never reads 100% or 0% (199/200 reads 99.5%). */
export function percent(value: number): string {
  for (const digits of [0, 1, 2, 3]) {
    const shown = (value * 100).toFixed(digits);
    if ((Number(shown) < 100 || value >= 1) && (Number(shown) > 0 || value <= 0)) return `${shown}%`;
  }
  return `${(value * 100).toFixed(3)}%`;
}
export const repeatsText = (repeats: number) => (repeats === 1 ? "1 repeat" : `${repeats} repeats`);
export const usd = (value: number) => `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;

/**
 * A ratio as a signed change in whole percents, or to a tenth under 1% so the sign and size mean
 * something (0.997 reads -0.3%, not -0%; 0.994 reads -0.6%, not -1%); "0%" when even a tenth rounds
 * away. An interval's bound goes on to a thousandth (`digits` 3), since a bound read as 0% says the
 * interval touches no change when it does not.
 */
function change(ratio: number, digits = 1): string {
  const points = (ratio - 1) * 100;
  for (let shownDigits = Math.abs(points) < 1 ? 1 : 0; shownDigits <= digits; shownDigits++) {
    const shown = points.toFixed(shownDigits);
    if (Number(shown) !== 0) return `${points > 0 ? "+" : ""}${shown}%`;
  }
  return "0%";
}
const bound = (ratio: number) => change(ratio, 3);
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * A metric's ratio to the baseline as a change: 0.8 [0.7, 0.95] reads "-20% (95% CI -30% to -5%,
 * 12 tasks, 36 pairs)"; or why there is none.
 */
export function describeRatio(comparison: VariantComparison, metric: ComparedMetric): string {
  if (comparison.pairs === 0)
    return comparison.cutOff === 0
      ? "n/a (no pairs: no task and repeat has a trial on both sides)"
      : `n/a (${comparison.cutOff === 1 ? "the one pair" : `all ${comparison.cutOff} pairs`} cut off: a side timed out or failed with an error)`;
  const summary = comparison[metric];
  if (!summary)
    return `n/a (no baseline figure above 0 in ${comparison.pairs === 1 ? "the one pair" : `any of the ${comparison.pairs} pairs`})`;
  const sizes = `${count(summary.tasks, "task")}, ${count(summary.pairs, "pair")}`;
  const { median: m } = summary;
  if (!m) return `${change(summary.estimate)} (too few tasks for an interval: ${sizes})`;
  const familywise = summary.familywise
    ? `; at the family-wise ${(summary.familywise.level * 100).toFixed(1)}% level ${bound(summary.familywise.median.low)} to ${bound(summary.familywise.median.high)}`
    : "";
  return `${change(m.estimate)} (95% CI ${bound(m.low)} to ${bound(m.high)}, ${sizes}${familywise})${summary.includesNoChange ? " — CI includes no change" : ""}`;
}

export function describePassRate(variant: VariantSummary): string {
  const { passRate } = variant;
  return variant.trials === 0
    ? "n/a"
    : `${variant.passed}/${variant.trials} = ${percent(passRate.estimate)} (95% CI ${percent(passRate.low)}–${percent(passRate.high)})`;
}

/** The one definition of a turn, stated in every report. */
export const turnDefinition = "A turn is one model request (an answer from the model), counted the same way for every driver.";

export const driverTurnsNote =
  "The driver's own count, where it has one that counts something else (Claude Code's num_turns: tool calls + 1), is beside it.";

export const cutOffNote =
  "A timed-out trial's cost, tokens and turns are what it spent until it was stopped. Attempts cut off by a stop were run again: their spend is not in the trials' costs, but it is in the run's total and counts against --max-cost.";

export const completedPairsNote =
  "The headline rows pair trials that both completed (the agent neither timed out nor failed with an error; failing tests, or tests that timed out or counted nothing, are results): a cut-off trial's figures are a lower bound, not a result. The row on every pair stands beside them.";

/*
 * The design and statistics notes: the same sentences in the markdown, the HTML report and /bench.
 */

export function describeOrder(report: BenchReport): string {
  const { seed } = report.statistics;
  if (seed === null) return "Trials ran in a fixed order (the run was planned before trial orders were randomized).";
  const shared = report.run.phase !== "isolated";
  return `Trials were queued in a seeded random order (seed ${seed}; \`--seed ${seed}\` plans the same order): blocks of one task and one repeat, each holding every variant in a random order, so time of day, rate limits and caching do not line up with a variant and a run stopped at any point leaves the variants within one trial of each other. ${shared ? "On shared boards each repeat keeps the suite's task order and the repeats are interleaved at random." : "The blocks are shuffled."}`;
}

export function describeHardSet(report: BenchReport): string {
  const { hardSet } = report;
  const tasks = hardSet.tasks.join(", ") || "none";
  return hardSet.source === "calibration"
    ? `Hard tasks (fixed in advance, from calibration run ${hardSet.fromRunId}: mean baseline cost above the mean): ${tasks}.`
    : `Hard tasks (fixed in advance, marked hard in the suite; \`--hard-from <run>\` takes them from a calibration run instead): ${tasks}.`;
}

export function describeExploratory(report: BenchReport): string {
  return `Exploratory rows: tasks whose mean baseline cost in this run is above the mean (${report.exploratoryHardTasks.join(", ") || "none"}). They are chosen by the same baseline costs that divide the ratios, so they favour tasks whose baseline happened to run expensive and show savings that are not there (regression to the mean): read them as a lead for a calibrated run, not as a result.`;
}

export function describeIntervals(report: BenchReport): string {
  return `Intervals: median of the paired ratios (same task and repeat), 95% cluster bootstrap over tasks (a task's pairs are resampled together, so the interval counts how much tasks differ, not only repeats), ${report.statistics.resamples} resamples from a fixed seed, widened for few tasks (expanded percentile). Below ${report.statistics.minimumTasks} tasks a row gets no interval.`;
}

export function describeMultipleComparisons(report: BenchReport): string {
  const { intervals, comparisons } = report.statistics;
  const familywise =
    comparisons > 1
      ? ` Cost on all tasks is the primary comparison, one per variant: with ${comparisons} of them each is also given at the family-wise level 1 - 0.05/${comparisons} (Bonferroni), which keeps the chance of any false saving among them at 5%.`
      : "";
  return `Multiple comparisons: this report shows ${intervals} intervals; with no real change anywhere, about 1 in 20 of them would still exclude no change by chance.${familywise}`;
}

const sd = (variance: number | null) => (variance === null ? "n/a" : Math.sqrt(variance).toFixed(2));

export function powerHeader(report: BenchReport): string[] {
  const changes = report.statistics.power[0]?.estimates.map((estimate) => `${percent(estimate.change)} saving`) ?? [];
  return ["variant", "SD between tasks", "SD within a task", ...changes];
}

/** One row of the power table: the log cost ratio's spread, and the repeats each saving needs. */
export function powerRow(row: StatisticsNotes["power"][number]): string[] {
  return [
    row.variant,
    sd(row.spread.betweenTasks),
    sd(row.spread.withinTask),
    ...row.estimates.map((estimate) =>
      estimate.repeats !== null ? count(estimate.repeats, "repeat") : `more repeats cannot: ${estimate.tasks} tasks needed`,
    ),
  ];
}

export const powerNote =
  "Power: repeats of every task needed to detect each saving in cost with 80% power at the 5% level, from the observed spread of the log cost ratio (a normal approximation). Variation between tasks is not averaged away by repeats: when it alone is too large, only more tasks help. A run of one repeat has no power row: it cannot tell repeat-to-repeat noise from differences between tasks.";

/** A comparison row's label and its three metrics as words. */
export type ComparisonRow = { label: string } & Record<ComparedMetric, string>;

/**
 * A variant's rows against the baseline, in the order every report shows them: the headline on all
 * tasks and on the hard set, the exploratory hard rows, and the row on every pair, timeouts and
 * errors included. A row with no comparison says why: no baseline trial has finished, or the row has
 * no tasks.
 */
export function comparisonRows(variant: VariantSummary): ComparisonRow[] {
  const row = (label: string, comparison: VariantComparison | undefined, none: string): ComparisonRow => {
    const describe = (metric: ComparedMetric) => (comparison ? describeRatio(comparison, metric) : `n/a (${none})`);
    return { label, cost: describe("cost"), turns: describe("turns"), wallTime: describe("wallTime") };
  };
  const noBaseline = "no baseline trial has finished";
  // The report compares a variant once a baseline trial has finished: a row missing then has no tasks.
  const orNoTasks = (none: string) => (variant.vsBaseline ? none : noBaseline);
  return [
    row("all tasks", variant.vsBaseline, noBaseline),
    row("hard tasks (fixed in advance)", variant.vsBaselineHard, orNoTasks("no hard tasks in this run")),
    row(
      "hard tasks, exploratory (chosen on this run: biased toward savings)",
      variant.vsBaselineExploratory,
      orNoTasks("no task above this run's mean baseline cost"),
    ),
    row("all tasks, every pair (timeouts and errors included)", variant.vsBaselineAllTrials, noBaseline),
  ];
}

/** A table as header cells and row cells, rendered as markdown, HTML or JSX by each report. */
export type TextTable = { header: string[]; rows: string[][] };

/** Per variant: results, spend, and what was not whole (timeouts, errors, attempts cut off by a stop). */
export function variantTable(report: BenchReport): TextTable {
  const driverTurns = hasDriverTurns(report);
  return {
    header: [
      "variant",
      "passed (Wilson 95% CI)",
      "total cost",
      "mean cost",
      "median cost",
      "mean turns",
      ...(driverTurns ? ["mean turns (driver's own count)"] : []),
      "mean time",
      "tokens in/out/cache read/cache write",
      "posts + journal written",
      "reads",
      "timeouts",
      "errors",
      "interrupted (attempts, spend)",
    ],
    rows: report.variants.map((v) => [
      v.variant,
      describePassRate(v),
      usd(v.totalCostUsd),
      v.meanCostUsd === null ? "n/a" : usd(v.meanCostUsd),
      v.medianCostUsd === null ? "n/a" : usd(v.medianCostUsd),
      v.meanTurns?.toFixed(1) ?? "n/a",
      ...(driverTurns ? [v.meanDriverTurns?.toFixed(1) ?? "n/a"] : []),
      v.meanWallSeconds === null ? "n/a" : `${v.meanWallSeconds.toFixed(1)} s`,
      `${v.inputTokens}/${v.outputTokens}/${v.cacheReadTokens}/${v.cacheWriteTokens}`,
      `${v.postsWritten} + ${v.journalWritten}`,
      `${v.reads}`,
      `${v.timeouts}`,
      `${v.errors}`,
      `${v.interruptedAttempts}, ${usd(v.interruptedCostUsd)}`,
    ]),
  };
}

/**
 * What a variant's agents wrote (posts and journal entries) against what they read (calls of reading
 * tools), the ratio put the way it leans: 30 writes to 37 reads is 1.2× as many reads, never "0.8× more writes".
 */
export function describeWritesAndReads(variant: VariantSummary): string {
  const written = variant.postsWritten + variant.journalWritten;
  const { reads } = variant;
  const lean =
    written === 0 || reads === 0
      ? ""
      : written >= reads
        ? ` (${(written / reads).toFixed(1)}× as many writes as reads)`
        : ` (${(reads / written).toFixed(1)}× as many reads as writes)`;
  return `${variant.variant} wrote ${written}, read ${reads}${lean}`;
}

export const hasDriverTurns = (report: BenchReport) => report.variants.some((v) => v.meanDriverTurns !== null);

/** What a turn is and how cut-off trials count, said under every variant table. */
export function turnNote(report: BenchReport): string {
  return `${turnDefinition}${hasDriverTurns(report) ? ` ${driverTurnsNote}` : ""} ${cutOffNote}`;
}

/** Per task: the variant's means over the baseline's, ratios on completed trials, with the trials left out. */
export function taskTable(report: BenchReport): TextTable {
  return {
    header: [
      "task",
      "variant",
      "cost ratio",
      "cost ratio SD over repeats (log)",
      "time ratio",
      "passed (variant / baseline)",
      "cut off (variant / baseline)",
    ],
    rows: report.taskDeltas.map((delta) => [
      delta.task,
      delta.variant,
      delta.costRatio?.toFixed(2) ?? "n/a",
      delta.costLogRatioSd?.toFixed(2) ?? "n/a",
      delta.wallTimeRatio?.toFixed(2) ?? "n/a",
      `${percent(delta.variantPassed)} / ${percent(delta.baselinePassed)}`,
      `${delta.cutOff.variant} / ${delta.cutOff.baseline}`,
    ]),
  };
}

export const taskTableNote =
  "Means over repeats, the variant's over the baseline's. The ratios leave out trials that timed out or failed with an error (counted in the last column); pass rates count them as failures.";

/** What ran the trials: one line when they all ran on the same versions, each combination's count otherwise. */
export function describeSoftware(report: BenchReport): string {
  if (report.trials.finished === 0) return "Software: no trial has finished yet.";
  const combinations = report.software.map(
    (software) => `Botboard ${software.botboard}, Node ${software.node}, agent ${software.agent ?? "(no CLI)"}`,
  );
  if (combinations.length === 0) return "Software: not recorded (the trials finished before it was recorded).";
  const unrecorded = report.trials.finished - report.software.reduce((total, software) => total + software.trials, 0);
  const gap = unrecorded > 0 ? ` Not recorded for ${count(unrecorded, "trial")} (finished before it was recorded).` : "";
  if (combinations.length === 1) return `Software: ${combinations[0]}.${gap}`;
  const listed = report.software.map((software, index) => `${combinations[index]} (${count(software.trials, "trial")})`);
  return `Software: the trials ran on ${combinations.length} combinations, so they are not one sample: ${listed.join("; ")}.${gap}`;
}

export function describeSpend(report: BenchReport): string {
  const { trialsUsd, interruptedUsd, underWayUsd } = report.spend;
  const underWay = underWayUsd > 0 ? `, ${usd(underWayUsd)} by attempts under way or left by a worker that died` : "";
  return `Spent ${usd(trialsUsd + interruptedUsd + underWayUsd)} in all: ${usd(trialsUsd)} by finished trials, ${usd(interruptedUsd)} by attempts cut off by a stop${underWay}.`;
}

/**
 * What was not whole about a finished trial, said after its line (live progress, `bench show`): the
 * agent timed out, its error, the tests' error; "" when nothing. A timeout sets no error: unsaid, a
 * cut-off trial reads as a plain failure.
 */
export function trialProblems(trial: Pick<BenchTrial, "timedOut" | "error" | "testError">): string {
  return [trial.timedOut ? "the agent timed out" : null, trial.error, trial.testError].filter(Boolean).join("; ");
}

/** Said in place of the MCP text a variant saw when there is none to show. */
export const missingVariantText = (variant: string) =>
  variant === "baseline" ? "No Botboard MCP server." : "No trial of this variant has reached Botboard yet.";
