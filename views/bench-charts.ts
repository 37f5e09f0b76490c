import type { BenchReport } from "../server/domain/bench-report.ts";
import { usd } from "./bench-wording.ts";

/** A benchmark report's charts, as inline SVG: for the /bench pages and the standalone HTML report. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const palette = ["#4b5563", "#2563eb", "#d97706", "#059669"];

/** Each trial as a dot on a horizontal axis per variant: the distribution of cost or time. */
export function stripChart(report: BenchReport, metric: "costUsd" | "wallSeconds", title: string): string {
  const width = 640;
  const rowHeight = 34;
  const left = 110;
  const values = report.points.map((point) => point[metric]);
  const max = Math.max(...values, 0) || 1;
  const rows = report.run.variants.map((variant, index) => {
    const y = 30 + index * rowHeight;
    const dots = report.points
      .filter((point) => point.variant === variant)
      .map((point) => {
        const x = left + ((width - left - 20) * point[metric]) / max;
        return `<circle cx="${x.toFixed(1)}" cy="${y}" r="4" fill="${palette[index % palette.length]}" fill-opacity="0.6"${point.passed ? "" : ' stroke="#dc2626"'}><title>${escapeHtml(`${point.task}: ${metric === "costUsd" ? usd(point.costUsd) : `${point.wallSeconds.toFixed(1)} s`}`)}</title></circle>`;
      })
      .join("");
    return `<text x="8" y="${y + 4}" font-size="12">${escapeHtml(variant)}</text><line x1="${left}" x2="${width - 20}" y1="${y}" y2="${y}" stroke="currentColor" stroke-opacity="0.25"/>${dots}`;
  });
  const height = 40 + report.run.variants.length * rowHeight;
  const scale = metric === "costUsd" ? usd(max) : `${max.toFixed(1)} s`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" fill="currentColor" class="chart" role="img" aria-label="${escapeHtml(title)}"><text x="8" y="14" font-size="13" font-weight="bold">${escapeHtml(title)}</text>${rows.join("")}<text x="${left}" y="${height - 4}" font-size="11">0</text><text x="${width - 20}" y="${height - 4}" font-size="11" text-anchor="end">${escapeHtml(scale)}</text></svg>`;
}

/** Per task and variant, the cost ratio to the baseline as a bar left (cheaper) or right (dearer) of 1. */
export function deltaChart(report: BenchReport): string {
  const deltas = report.taskDeltas.filter((delta) => delta.costRatio !== null);
  if (deltas.length === 0) return "";
  const width = 640;
  const barHeight = 14;
  const left = 220;
  const centre = left + (width - left - 20) / 2;
  const half = (width - left - 20) / 2;
  const bars = deltas.map((delta, index) => {
    const y = 24 + index * (barHeight + 4);
    const logRatio = Math.max(-2, Math.min(2, Math.log2(delta.costRatio!)));
    const length = (half * Math.abs(logRatio)) / 2;
    const x = logRatio < 0 ? centre - length : centre;
    const colour = palette[(report.run.variants.indexOf(delta.variant) + palette.length) % palette.length];
    return `<text x="8" y="${y + 11}" font-size="11">${escapeHtml(`${delta.task} · ${delta.variant}`)}</text><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(1, length).toFixed(1)}" height="${barHeight}" fill="${colour}"><title>${escapeHtml(`${delta.task} ${delta.variant}: cost × ${delta.costRatio!.toFixed(2)}`)}</title></rect>`;
  });
  const height = 40 + deltas.length * (barHeight + 4);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" fill="currentColor" class="chart" role="img" aria-label="Cost against the baseline per task"><text x="8" y="14" font-size="13" font-weight="bold">Cost against the baseline per task (log scale, ¼× to 4×)</text><line x1="${centre}" x2="${centre}" y1="20" y2="${height - 14}" stroke="currentColor"/>${bars.join("")}<text x="${centre}" y="${height - 2}" font-size="11" text-anchor="middle">1× (baseline)</text></svg>`;
}
