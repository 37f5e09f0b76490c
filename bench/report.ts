import type { BenchReport } from "../server/domain/bench-report.ts";
import {
  describeExploratory,
  describeHardSet,
  describeIntervals,
  describeMultipleComparisons,
  describeOrder,
  describePassRate,
  describeRatio,
  percent,
  powerHeader,
  powerNote,
  powerRow,
  usd,
} from "../views/bench-wording.ts";

/** A run's report as markdown, for the terminal and files. */
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
    ...report.variants.map(
      (v) =>
        `| ${v.variant} | ${describePassRate(v)} | ${usd(v.totalCostUsd)} | ${usd(v.meanCostUsd)} | ${v.meanTurns.toFixed(1)} | ${v.meanWallSeconds.toFixed(1)} s | ${v.inputTokens}/${v.outputTokens}/${v.cacheReadTokens}/${v.cacheWriteTokens} | ${v.postsWritten} + ${v.journalWritten} | ${v.reads} | ${v.errors} |`,
    ),
    "",
    "## Against the baseline (median of paired ratios by task and repeat, cluster-bootstrap 95% CI over tasks)",
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
  lines.push("## Prompts", "");
  for (const [variant, prompt] of Object.entries(report.prompts)) lines.push(`### ${variant}`, "", "```text", prompt, "```", "");
  return lines.join("\n");
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
