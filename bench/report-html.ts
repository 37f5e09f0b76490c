import type { BenchReport } from "../server/domain/bench-report.ts";
import { deltaChart, escapeHtml, stripChart } from "../views/bench-charts.ts";
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

/** The report as one self-contained HTML file (inline CSS and SVG, no scripts). */
export function renderHtml(report: BenchReport): string {
  const { run } = report;
  const row = (cells: string[]) => `<tr>${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`;
  const comparisonTable = report.variants
    .filter((variant) => variant.vsBaseline)
    .flatMap((v) => comparisonRows(v).map(({ label, cost, turns, wallTime }) => row([v.variant, label, cost, turns, wallTime])));

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>${escapeHtml(`Benchmark ${run.id}`)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem;color:#111827;background:#fff}table{border-collapse:collapse;margin:1rem 0;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #d1d5db;padding:4px 8px;text-align:left;vertical-align:top}pre{white-space:pre-wrap;background:#f3f4f6;padding:8px}svg.chart{max-width:100%;height:auto}@media (prefers-color-scheme: dark){body{color:#e6eaf0;background:#12161c}td,th{border-color:#2e3744}pre{background:#232a34}}</style>
</head><body><main>
<h1>${escapeHtml(`Benchmark run ${run.id}`)}</h1>
<p>${escapeHtml(`Suite ${run.suite}, driver ${run.driver}${run.model ? `, model ${run.model}` : ""}, phase ${run.phase}${run.fromRunId ? ` (from ${run.fromRunId})` : ""}, ${repeatsText(run.repeats)}. Status ${run.status}${run.stopReason ? ` (${run.stopReason})` : ""}; ${report.trials.finished} of ${report.trials.total} trials finished.`)}</p>
<p>${escapeHtml(describeSpend(report))}</p>
<p>${escapeHtml(describeSoftware(report))}</p>
<h2>Per variant</h2>
${htmlTable(variantTable(report))}
<p>${escapeHtml(turnNote(report))}</p>
<h2>Against the baseline</h2>
<p>${escapeHtml(completedPairsNote)}</p>
<table><thead><tr><th>variant</th><th>tasks</th><th>cost</th><th>turns</th><th>time</th></tr></thead><tbody>${comparisonTable.join("") || row(["no baseline to compare with", "", "", "", ""])}</tbody></table>
<ul>${report.variants
    .filter((variant) => variant.vsBaseline)
    .map((variant) => `<li>${escapeHtml(describeWritesAndReads(variant))}</li>`)
    .join("")}</ul>
${designSection(report)}
<h2>Charts</h2>
${stripChart(report, "costUsd", "Cost per trial")}
${stripChart(report, "wallSeconds", "Wall time per trial")}
${deltaChart(report)}
${report.taskDeltas.length > 0 ? `<h2>Per task</h2><p>${escapeHtml(taskTableNote)}</p>${htmlTable(taskTable(report))}` : ""}
${variantTextSection(report)}
</main></body></html>
`;
}

function htmlTable(table: TextTable): string {
  const cells = (tag: "td" | "th", values: string[]) =>
    `<tr>${values.map((value) => `<${tag}>${escapeHtml(value)}</${tag}>`).join("")}</tr>`;
  return `<table><thead>${cells("th", table.header)}</thead><tbody>${table.rows.map((row) => cells("td", row)).join("")}</tbody></table>`;
}

/** The full text each variant's agents saw: the prompt, Botboard's MCP instructions and tools. */
function variantTextSection(report: BenchReport): string {
  const sections = Object.entries(report.prompts).map(([variant, prompt]) => {
    const text = report.variantTexts[variant];
    const mcp = text
      ? `<p>Botboard MCP server instructions:</p><pre>${escapeHtml(text.instructions ?? "(none)")}</pre><p>Tools:</p><ul>${text.tools
          .map((tool) => `<li><code>${escapeHtml(tool.name)}</code>: ${escapeHtml(tool.description)}</li>`)
          .join("")}</ul>${text.push ? `<p>Push: ${escapeHtml(text.push)}</p>` : ""}`
      : `<p>${escapeHtml(missingVariantText(variant))}</p>`;
    return `<h3>${escapeHtml(variant)}</h3><p>Prompt:</p><pre>${escapeHtml(prompt)}</pre>${mcp}`;
  });
  return `<h2>What each variant saw</h2>\n${sections.join("\n")}`;
}

/** How the run was designed and how to read its intervals, as in the markdown report. */
function designSection(report: BenchReport): string {
  const notes = [
    describeOrder(report),
    describeHardSet(report),
    describeExploratory(report),
    describeIntervals(report),
    describeMultipleComparisons(report),
  ];
  const power =
    report.statistics.power.length > 0
      ? `<p>${escapeHtml(powerNote)}</p>${htmlTable({ header: powerHeader(report), rows: report.statistics.power.map(powerRow) })}`
      : "";
  return `<h2>Design and statistics</h2><ul>${notes.map((note) => `<li>${escapeHtml(note)}</li>`).join("")}</ul>${power}`;
}
