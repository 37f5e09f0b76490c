import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../bench/report.ts";
import { buildReport } from "../server/domain/bench-report.ts";
import { renderHtml } from "../bench/report-html.ts";
import {
  bootstrapInterval,
  median,
  pairedRatios,
  seededRandom,
  summariseRatios,
  topQuartileCut,
  wilsonInterval,
} from "../server/domain/bench-stats.ts";
import type { BenchRun, BenchTrial } from "../server/domain/bench-runs.ts";

describe("bench statistics", () => {
  it("Wilson intervals match the textbook values", () => {
    // 8 of 10: centre (0.8 + z²/20) / (1 + z²/10), half-width z·sqrt(0.016 + z²/400) / (1 + z²/10).
    const eight = wilsonInterval(8, 10);
    expect(eight.estimate).toBe(0.8);
    expect(eight.low).toBeCloseTo(0.4902, 4);
    expect(eight.high).toBeCloseTo(0.9433, 4);
    // 0 of 10: the upper bound is z² / (n + z²).
    expect(wilsonInterval(0, 10)).toEqual({ estimate: 0, low: 0, high: expect.closeTo(0.2775, 4) });
    expect(wilsonInterval(10, 10).high).toBeCloseTo(1, 12);
    expect(wilsonInterval(0, 0).low).toBe(0);
  });

  it("the seeded generator is mulberry32 and repeats itself", () => {
    const random = seededRandom(1);
    expect(random()).toBe(0.6270739405881613);
    expect(random()).toBe(0.002735721180215478);
    expect(seededRandom(7)()).toBe(seededRandom(7)());
  });

  it("pairs without a baseline cost have no ratio", () => {
    expect(
      pairedRatios([
        { variant: 2, baseline: 4 },
        { variant: 3, baseline: 3 },
        { variant: 1, baseline: 0 },
      ]),
    ).toEqual([0.5, 1]);
  });

  it("bootstrap intervals are reproducible and bracket the estimate", () => {
    const ratios = [0.6, 0.7, 0.8, 0.9, 1.1, 0.75, 0.65];
    const first = bootstrapInterval(ratios, median, { seed: 3 });
    expect(bootstrapInterval(ratios, median, { seed: 3 })).toEqual(first);
    expect(first.estimate).toBe(0.75);
    expect(first.low).toBeGreaterThanOrEqual(0.6);
    expect(first.low).toBeLessThanOrEqual(0.75);
    expect(first.high).toBeGreaterThanOrEqual(0.75);
    expect(first.high).toBeLessThanOrEqual(1.1);
    // A constant sample has a zero-width interval.
    expect(bootstrapInterval([0.5, 0.5, 0.5], median)).toEqual({ estimate: 0.5, low: 0.5, high: 0.5 });
  });

  it("says when the interval includes no change", () => {
    expect(
      summariseRatios([
        { variant: 1, baseline: 2 },
        { variant: 2, baseline: 4 },
      ]),
    ).toMatchObject({ pairs: 2, includesNoChange: false, median: { estimate: 0.5, low: 0.5, high: 0.5 } });
    expect(
      summariseRatios([
        { variant: 1, baseline: 2 },
        { variant: 4, baseline: 2 },
      ])!.includesNoChange,
    ).toBe(true);
    expect(summariseRatios([{ variant: 1, baseline: 0 }])).toBeUndefined();
  });

  it("the top-quartile cut interpolates between order statistics", () => {
    // Sorted 1, 2, 3, 4: position (n - 1) * 0.75 = 2.25, so 3 + 0.25 * (4 - 3).
    expect(topQuartileCut([4, 1, 3, 2])).toBe(3.25);
    expect(topQuartileCut([])).toBeUndefined();
  });
});

const run = {
  id: "report-run",
  teamId: null,
  suite: "builtin",
  driver: "openai",
  model: "m",
  phase: "isolated",
  variants: ["baseline", "social"],
  repeats: 1,
  fromRunId: null,
  status: "finished",
  stopReason: null,
  createdAt: new Date("2026-01-01T00:00:00Z"),
  finishedAt: null,
  settings: {
    suitePath: "",
    outDir: "",
    timeoutMs: 1,
    concurrency: 1,
    maxCostUsd: null,
    prompts: { baseline: "Do <the task>.", social: "Do it; feed <b>optional</b>." },
    prices: {},
  },
} satisfies BenchRun;

function trial(id: number, task: string, variant: string, costUsd: number, passed: boolean, extra: Partial<BenchTrial> = {}): BenchTrial {
  return {
    id,
    runId: run.id,
    seq: id,
    taskSlug: task,
    difficulty: task === "hard-one" ? "hard" : "easy",
    variant,
    repeat: 1,
    groupKey: null,
    teamId: null,
    status: "finished",
    leaseOwner: null,
    leaseExpiresAt: null,
    attempts: 1,
    passed,
    timedOut: false,
    error: null,
    inputTokens: 100,
    outputTokens: 10,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd,
    costSource: "price-table",
    turns: costUsd * 10,
    driverTurns: null,
    wallMs: costUsd * 1000,
    toolCalls: {},
    postsWritten: 0,
    journalWritten: 0,
    reads: 0,
    testOutput: "",
    attemptCostUsd: 0,
    interruptedCostUsd: 0,
    interruptedAttempts: 0,
    startedAt: null,
    finishedAt: null,
    ...extra,
  };
}

describe("bench report", () => {
  const trials = [
    trial(1, "easy-one", "baseline", 1, true),
    trial(2, "hard-one", "baseline", 2, false),
    trial(3, "easy-one", "social", 0.5, true, { postsWritten: 3, reads: 1, toolCalls: { create_post: 3, read_new: 1 } }),
    trial(4, "hard-one", "social", 1, true, { postsWritten: 1, reads: 1 }),
    trial(5, "<script>alert(1)</script>", "social", 1, true),
  ];
  const report = buildReport(run, trials);

  it("compares each variant with the baseline by task", () => {
    const social = report.variants.find((variant) => variant.variant === "social")!;
    expect(social).toMatchObject({
      trials: 3,
      passed: 3,
      totalCostUsd: 2.5,
      postsWritten: 4,
      reads: 2,
      toolCalls: { create_post: 3, read_new: 1 },
    });
    expect(social.vsBaseline!.cost).toMatchObject({ pairs: 2, includesNoChange: false, median: { estimate: 0.5, low: 0.5, high: 0.5 } });
    expect(social.vsBaselineHard!.cost).toMatchObject({ pairs: 1, median: { estimate: 0.5 } });
    expect(report.hardTasks).toEqual(["hard-one"]);
    expect(report.variants[0]).toMatchObject({ variant: "baseline", passed: 1, trials: 2, passRate: { estimate: 0.5 } });
  });

  it("markdown states the changes, their intervals and the prompts", () => {
    const markdown = renderMarkdown(report);
    expect(markdown).toContain("| social | 3/3 = 100% (95% CI 44%–100%) | $2.50 |");
    expect(markdown).toContain("- all tasks: cost -50% (95% CI -50% to -50%, 2 pairs)");
    expect(markdown).toContain("wrote 4, read 2 (2.0× more writes than reads)");
    expect(markdown).toContain("Do it; feed <b>optional</b>.");
  });

  it("HTML is self-contained, with charts, and escapes every name", () => {
    const html = renderHtml(report);
    expect(html).toContain("<svg");
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&#60;script&#62;");
    expect(html).toContain("feed &#60;b&#62;optional");
    expect(html).not.toMatch(/<script|src=|href="http/);
  });

  it("JSON round-trips the same numbers", () => {
    expect(JSON.parse(JSON.stringify(report)).variants[1].vsBaseline.cost.median.estimate).toBe(0.5);
  });
});
