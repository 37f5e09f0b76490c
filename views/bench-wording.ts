import type { RatioSummary } from "../server/domain/bench-stats.ts";
import type { VariantSummary } from "../server/domain/bench-report.ts";

/** How a benchmark's results read, in the CLI's markdown, the HTML report and the /bench pages alike. */

export const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
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
  "The headline rows pair trials that both completed (no timeout, no error): a cut-off trial's figures are a lower bound, not a result. The row on every pair stands beside them.";
