import type { BenchReport, VariantSummary } from "../server/domain/bench-report.ts";
import {
  completedPairsNote,
  cutOffNote,
  describeExploratory,
  describeHardSet,
  describeIntervals,
  describeMultipleComparisons,
  describeOrder,
  describePassRate,
  describeRatio,
  driverTurnsNote,
  percent,
  powerHeader,
  powerNote,
  powerRow,
  turnDefinition,
  repeatsText,
  usd,
} from "../views/bench-wording.ts";

/** A run's report as markdown, for the terminal and files. */
export function renderMarkdown(report: BenchReport): string {
  const { run } = report;
  const lines = [
    `# Benchmark run ${run.id}`,
    "",
    `Suite **${run.suite}**, driver **${run.driver}**${run.model ? `, model **${run.model}**` : ""}, phase **${run.phase}**${run.fromRunId ? ` (from ${run.fromRunId})` : ""}, ${repeatsText(run.repeats)}. Status: ${run.status}${run.stopReason ? ` (${run.stopReason})` : ""}. ${report.trials.finished} of ${report.trials.total} trials finished.`,
    "",
    spendLine(report),
    "",
    "## Per variant",
    "",
    ...variantTable(report),
    "",
    turnNote(report),
    "",
    "## Against the baseline (median of paired ratios by task and repeat, cluster-bootstrap 95% CI over tasks)",
    "",
    completedPairsNote,
    "",
  ];
  const compared = report.variants.filter((variant) => variant.vsBaseline);
  if (compared.length === 0) lines.push("No comparison: the run has no baseline trials, or no other variant.");
  for (const variant of compared) {
    lines.push(`### ${variant.variant}`, "");
    for (const [label, comparisonOf] of [
      ["all tasks", variant.vsBaseline],
      ["hard tasks (fixed in advance)", variant.vsBaselineHard],
      ["hard tasks, exploratory (chosen on this run: biased toward savings)", variant.vsBaselineExploratory],
    ] as const) {
      lines.push(
        `- ${label}: cost ${describeRatio(comparisonOf?.cost)}; turns ${describeRatio(comparisonOf?.turns)}; time ${describeRatio(comparisonOf?.wallTime)}`,
      );
    }
    lines.push(allTrialsLine(variant));
    const written = variant.postsWritten + variant.journalWritten;
    lines.push(
      `- wrote ${written}, read ${variant.reads}${variant.reads > 0 ? ` (${(written / variant.reads).toFixed(1)}× more writes than reads)` : ""}`,
      "",
    );
  }
  lines.push(...designSection(report));
  if (report.taskDeltas.length > 0) {
    lines.push(
      "## Per task (variant / baseline, means over repeats)",
      "",
      "| task | variant | cost ratio | cost ratio SD over repeats (log) | time ratio | passed (variant / baseline) |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const delta of report.taskDeltas) {
      lines.push(
        `| ${delta.task} | ${delta.variant} | ${delta.costRatio?.toFixed(2) ?? "n/a"} | ${delta.costLogRatioSd?.toFixed(2) ?? "n/a"} | ${delta.wallTimeRatio?.toFixed(2) ?? "n/a"} | ${percent(delta.variantPassed)} / ${percent(delta.baselinePassed)} |`,
      );
    }
    lines.push("");
  }
  lines.push(...variantTextSection(report));
  return lines.join("\n");
}

/** Per variant: results, spend, and what was not whole (timeouts, errors, attempts cut off by a stop). */
function variantTable(report: BenchReport): string[] {
  const driverTurns = report.variants.some((v) => v.meanDriverTurns !== null);
  const header = [
    "variant",
    "passed",
    "total cost",
    "mean cost",
    "mean turns",
    ...(driverTurns ? ["mean turns (driver's own count)"] : []),
    "mean time",
    "tokens in/out/cache read/cache write",
    "posts + journal written",
    "reads",
    "timeouts",
    "errors",
    "interrupted (attempts, spend)",
  ];
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...report.variants.map((v) => {
      const cells = [
        v.variant,
        describePassRate(v),
        usd(v.totalCostUsd),
        usd(v.meanCostUsd),
        v.meanTurns.toFixed(1),
        ...(driverTurns ? [v.meanDriverTurns?.toFixed(1) ?? "n/a"] : []),
        `${v.meanWallSeconds.toFixed(1)} s`,
        `${v.inputTokens}/${v.outputTokens}/${v.cacheReadTokens}/${v.cacheWriteTokens}`,
        `${v.postsWritten} + ${v.journalWritten}`,
        `${v.reads}`,
        `${v.timeouts}`,
        `${v.errors}`,
        `${v.interruptedAttempts}, ${usd(v.interruptedCostUsd)}`,
      ];
      return `| ${cells.join(" | ")} |`;
    }),
  ];
}

function turnNote(report: BenchReport): string {
  const driverTurns = report.variants.some((v) => v.meanDriverTurns !== null);
  return `${turnDefinition}${driverTurns ? ` ${driverTurnsNote}` : ""} ${cutOffNote}`;
}

function spendLine(report: BenchReport): string {
  const { trialsUsd, interruptedUsd } = report.spend;
  return `Spent ${usd(trialsUsd + interruptedUsd)} in all: ${usd(trialsUsd)} by finished trials, ${usd(interruptedUsd)} by attempts cut off by a stop.`;
}

function allTrialsLine(variant: VariantSummary): string {
  const all = variant.vsBaselineAllTrials;
  return `- all tasks, every pair (timeouts and errors included): cost ${describeRatio(all?.cost)}; turns ${describeRatio(all?.turns)}; time ${describeRatio(all?.wallTime)}`;
}

/** The full text each variant's agents saw from the benchmark and from Botboard. */
function variantTextSection(report: BenchReport): string[] {
  const lines = ["## What each variant saw", ""];
  for (const [variant, prompt] of Object.entries(report.prompts)) {
    lines.push(`### ${variant}`, "", "Prompt:", "", "```text", prompt, "```", "");
    const text = report.variantTexts[variant];
    if (!text) {
      lines.push(variant === "baseline" ? "No Botboard MCP server." : "No trial of this variant has reached Botboard yet.", "");
      continue;
    }
    lines.push("Botboard MCP server instructions:", "", "```text", text.instructions ?? "(none)", "```", "", "Tools:", "");
    for (const tool of text.tools) lines.push(`- \`${tool.name}\`: ${tool.description.replace(/\s+/g, " ")}`);
    lines.push("");
  }
  return lines;
}

/** How the run was designed and how to read its intervals: order, hard set, intervals, power, multiple comparisons. */
function designSection(report: BenchReport): string[] {
  const lines = [
    "## Design and statistics",
    "",
    `- ${describeOrder(report)}`,
    `- ${describeHardSet(report)}`,
    `- ${describeExploratory(report)}`,
    `- ${describeIntervals(report)}`,
    `- ${describeMultipleComparisons(report)}`,
    "",
  ];
  if (report.statistics.power.length > 0) {
    const header = powerHeader(report);
    lines.push(
      powerNote,
      "",
      `| ${header.join(" | ")} |`,
      `| ${header.map(() => "---").join(" | ")} |`,
      ...report.statistics.power.map((row) => `| ${powerRow(row).join(" | ")} |`),
      "",
    );
  }
  return lines;
}
