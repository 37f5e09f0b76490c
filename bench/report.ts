import type { OperationRunner } from "../server/cli/program.ts";
import { buildReport, type BenchReport } from "../server/domain/bench-report.ts";
import { isRunFolder, readRunFolder } from "./run-folder.ts";
import {
  comparisonRows,
  completedPairsNote,
  describeExploratory,
  describeHardSet,
  describeIntervals,
  describeMultipleComparisons,
  describeOrder,
  describeSoftware,
  describeSpend,
  describeWritesAndReads,
  missingVariantText,
  powerHeader,
  powerNote,
  powerRow,
  type TextTable,
  taskTable,
  taskTableNote,
  turnNote,
  variantTable,
  repeatsText,
} from "../views/bench-wording.ts";

/** A run's report as markdown, for the terminal and files. */
export function renderMarkdown(report: BenchReport): string {
  const { run } = report;
  const lines = [
    `# Benchmark run ${run.id}`,
    "",
    `Suite **${run.suite}**, driver **${run.driver}**${run.model ? `, model **${run.model}**` : ""}, phase **${run.phase}**${run.fromRunId ? ` (from ${run.fromRunId})` : ""}, ${repeatsText(run.repeats)}. Status: ${run.status}${run.stopReason ? ` (${run.stopReason})` : ""}. ${report.trials.finished} of ${report.trials.total} trials finished.`,
    "",
    describeSpend(report),
    "",
    describeSoftware(report),
    "",
    "## Per variant",
    "",
    ...markdownTable(variantTable(report)),
    "",
    turnNote(report),
    "",
    "## Against the baseline (median of paired ratios by task and repeat, cluster-bootstrap 95% CI over tasks)",
    "",
    completedPairsNote,
    "",
  ];
  const compared = report.variants.filter((variant) => variant.vsBaseline);
  if (compared.length === 0) lines.push("No comparison: the run has no baseline trials, or no other variant.", "");
  for (const variant of compared) {
    lines.push(`### ${variant.variant}`, "");
    for (const { label, cost, turns, wallTime } of comparisonRows(variant))
      lines.push(`- ${label}: cost ${cost}; turns ${turns}; time ${wallTime}`);
    lines.push(`- ${describeWritesAndReads(variant)}`, "");
  }
  lines.push(...designSection(report));
  if (report.taskDeltas.length > 0) {
    lines.push("## Per task", "", taskTableNote, "", ...markdownTable(taskTable(report)), "");
  }
  lines.push(...variantTextSection(report));
  return lines.join("\n");
}

/** A table as markdown rows. */
function markdownTable(table: TextTable): string[] {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(table.header), line(table.header.map(() => "---")), ...table.rows.map(line)];
}

/** The full text each variant's agents saw from the benchmark and from Botboard. */
function variantTextSection(report: BenchReport): string[] {
  const lines = ["## What each variant saw", ""];
  for (const [variant, prompt] of Object.entries(report.prompts)) {
    lines.push(`### ${variant}`, "", "Prompt:", "", "```text", prompt, "```", "");
    const text = report.variantTexts[variant];
    if (!text) {
      lines.push(missingVariantText(variant), "");
      continue;
    }
    lines.push("Botboard MCP server instructions:", "", "```text", text.instructions ?? "(none)", "```", "", "Tools:", "");
    for (const tool of text.tools) lines.push(`- \`${tool.name}\`: ${tool.description.replace(/\s+/g, " ")}`);
    lines.push("");
    if (text.push) lines.push(`Push: ${text.push}`, "");
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

/**
 * A report from a run id (read from the database) or a run dir: the same trials in the same order, so
 * the same report. Kept apart from running a benchmark, so that `bench report` loads no driver, no
 * server and no MCP client.
 */
export async function loadReport(target: string, runOperation: OperationRunner): Promise<BenchReport> {
  const { run, trials } = isRunFolder(target) ? readRunFolder(target) : await runOperation("bench.show", { runId: target });
  return buildReport(run, trials);
}
