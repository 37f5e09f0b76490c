import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oracleDriver } from "../bench/drivers/calibration.ts";
import { trialOrder } from "../bench/plan.ts";
import { renderMarkdown } from "../bench/report.ts";
import { readRunFolder } from "../bench/run-folder.ts";
import { loadSuite } from "../bench/suites.ts";
import { buildReport, type BenchReport, type TrialPoint } from "../server/domain/bench-report.ts";
import { renderHtml } from "../bench/report-html.ts";
import {
  aboveMeanCost,
  expandedTail,
  logRatioSpread,
  median,
  normalQuantile,
  repeatsNeeded,
  seededRandom,
  summariseRatios,
  tQuantile,
  wilsonInterval,
  type TaskPair,
} from "../server/domain/bench-stats.ts";
import {
  claimBenchTrial,
  finishBenchTrial,
  getBenchRun,
  listBenchTrials,
  type BenchRun,
  type BenchTrial,
  type BenchTrialOutcome,
} from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import type { TrialSoftware } from "../server/db/schema/index.ts";
import { describeRatio, describeSoftware, percent } from "../views/bench-wording.ts";
import { planTestRun, runToEnd } from "./support/bench.ts";
import { botboardOnFreshDatabase, modulesLoadedBy, runBotboard, type BotboardOnFreshDatabase } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

describe("bench statistics", () => {
  it("Wilson intervals match the textbook values", () => {
    // 8 of 10: centre (0.8 + z²/20) / (1 + z²/10), half-width z·sqrt(0.016 + z²/400) / (1 + z²/10).
    const eight = wilsonInterval(8, 10);
    expect(eight.estimate).toBe(0.8);
    expect(eight.low).toBeCloseTo(0.4902, 4);
    expect(eight.high).toBeCloseTo(0.9433, 4);
    // 0 of 10: the upper bound is z² / (n + z²).
    expect(wilsonInterval(0, 10)).toEqual({ estimate: 0, low: 0, high: expect.closeTo(0.2775, 4) });
    expect(wilsonInterval(0, 0).low).toBe(0);
    // All passed or none: the bound is exactly 1 or 0, and reads 100% or 0%, never 100.000%.
    for (const trials of [3, 7, 10, 13, 30, 50]) {
      expect(wilsonInterval(trials, trials).high, `${trials}`).toBe(1);
      expect(wilsonInterval(0, trials).low, `${trials}`).toBe(0);
      expect(percent(wilsonInterval(trials, trials).high)).toBe("100%");
    }
  });

  it("the seeded generator is mulberry32 and repeats itself", () => {
    const random = seededRandom(1);
    expect(random()).toBe(0.6270739405881613);
    expect(random()).toBe(0.002735721180215478);
    expect(seededRandom(7)()).toBe(seededRandom(7)());
  });

  it("normal and Student's t quantiles match the tables to the last printed digit", () => {
    // Two-sided 95% and the family-wise levels of two and five comparisons, from 1 to 30 degrees of freedom.
    for (const [p, freedom, value] of [
      [0.975, 1, 12.7062],
      [0.975, 2, 4.3027],
      [0.975, 3, 3.1824],
      [0.975, 4, 2.7764],
      [0.975, 5, 2.5706],
      [0.975, 10, 2.2281],
      [0.975, 30, 2.0423],
      [0.9875, 4, 3.4954],
      [0.995, 4, 4.6041],
      [0.995, 11, 3.1058],
    ] as const)
      expect(tQuantile(p, freedom), `t(${p}, ${freedom})`).toBeCloseTo(value, 3);
    // Five tasks: Phi(-sqrt(5/4) * t(0.975, 4)) = Phi(-3.1041).
    expect(expandedTail(0.95, 5)).toBeCloseTo(9.54e-4, 5);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621, 5);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.959964, 5);
  });

  it("one task never yields an interval, let alone a zero-width significant one", () => {
    const one = summariseRatios([{ task: "only", variant: 0.01, baseline: 1 }])!;
    expect(one).toMatchObject({ pairs: 1, tasks: 1, estimate: 0.01, includesNoChange: true });
    expect(one.median).toBeUndefined();
    expect(describeRatio({ pairs: 1, cutOff: 0, cost: one }, "cost")).toBe("-99% (too few tasks for an interval: 1 task, 1 pair)");
    expect(summariseRatios([{ task: "only", variant: 1, baseline: 0 }])).toBeUndefined();
  });

  it("a pass rate short of all never reads 100%, one above none never 0%", () => {
    expect([1, 0, 0.5, 0.994, 199 / 200, 9_999 / 10_000, 1 / 300].map(percent)).toEqual([
      "100%",
      "0%",
      "50%",
      "99%",
      "99.5%",
      "99.99%",
      "0.3%",
    ]);
  });

  it("a change under 1% is shown to a tenth, never reading -0%, +0% or -1%; none reads 0%", () => {
    const near = (variant: number) =>
      describeRatio({ pairs: 1, cutOff: 0, cost: summariseRatios([{ task: "only", variant, baseline: 1 }]) }, "cost");
    expect(near(0.997)).toBe("-0.3% (too few tasks for an interval: 1 task, 1 pair)");
    expect(near(1.004)).toMatch(/^\+0\.4% /);
    expect(near(0.994)).toMatch(/^-0\.6% /);
    expect(near(1.006)).toMatch(/^\+0\.6% /);
    expect(near(0.99)).toMatch(/^-1% /);
    expect(near(1)).toMatch(/^0% /);
    expect(near(0.9998)).toMatch(/^0% /);
    expect(near(0.8)).toMatch(/^-20% /);
    const narrow = { pairs: 12, tasks: 6, estimate: 0.997, median: { estimate: 0.997, low: 0.9952, high: 1.002 }, includesNoChange: true };
    expect(describeRatio({ pairs: 12, cutOff: 0, turns: narrow }, "turns")).toBe(
      "-0.3% (95% CI -0.5% to +0.2%, 6 tasks, 12 pairs) — CI includes no change",
    );
    // A bound just short of no change keeps its sign: "-21% to 0%" would read as touching no change, which the interval does not.
    const justShort = { ...narrow, estimate: 0.9, median: { estimate: 0.9, low: 0.79, high: 0.9996 }, includesNoChange: false };
    expect(describeRatio({ pairs: 12, cutOff: 0, cost: justShort }, "cost")).toBe("-10% (95% CI -21% to -0.04%, 6 tasks, 12 pairs)");
    expect(describeRatio({ pairs: 12, cutOff: 0, cost: { ...justShort, median: { ...justShort.median, high: 1 } } }, "cost")).toMatch(
      / to 0%, /,
    );
  });

  it("the cluster bootstrap is reproducible, does not depend on the pairs' order, and keeps a task's pairs together", () => {
    const pairs: TaskPair[] = [];
    for (let task = 0; task < 8; task++)
      for (let repeat = 0; repeat < 3; repeat++)
        pairs.push({ task: `t${task}`, baseline: 1 + repeat, variant: (1 + repeat) * (0.6 + task / 10) });
    const first = summariseRatios(pairs, 3)!;
    expect(summariseRatios(pairs, 3)).toEqual(first);
    expect(summariseRatios([...pairs].reverse(), 3)).toEqual(first);
    expect(first).toMatchObject({ pairs: 24, tasks: 8, includesNoChange: true });
    expect(first.median!.low).toBeLessThan(first.estimate);
    expect(first.median!.high).toBeGreaterThan(first.estimate);
    // Every repeat agrees within a task: only the tasks vary, and the interval spans them.
    expect(first.spread).toMatchObject({ withinTask: expect.closeTo(0, 12), tasks: 8, meanRepeats: 3 });
    expect(first.median!.low).toBeGreaterThanOrEqual(0.6);
    expect(first.median!.high).toBeLessThanOrEqual(1.3);
  });

  it("splits the log ratios' variance between tasks and within a task", () => {
    const spread = logRatioSpread([
      [1, 1],
      [Math.exp(0.2), Math.exp(0.2)],
      [Math.exp(0.1), Math.exp(0.3)],
    ])!;
    expect(spread.withinTask).toBeCloseTo(0.02 / 3, 12);
    // Task means 0, 0.2, 0.2: variance 0.01333, less the within-task share 0.00667 / 2.
    expect(spread.betweenTasks).toBeCloseTo(0.04 / 3 - 0.01 / 3, 12);
  });

  it("the power note says how many repeats a saving needs, or that only more tasks help", () => {
    // (z.975 + z.8)^2 / ln(1/0.9)^2 = 707.0 per unit variance; 10 tasks: R >= 0.09 / (10 / 707.0).
    expect(repeatsNeeded({ betweenTasks: 0, withinTask: 0.09, tasks: 10, meanRepeats: 3 }, 0.1)).toEqual({
      change: 0.1,
      repeats: 7,
      tasks: null,
    });
    expect(repeatsNeeded({ betweenTasks: 0, withinTask: 0.09, tasks: 10, meanRepeats: 3 }, 0.25).repeats).toBe(1);
    expect(repeatsNeeded({ betweenTasks: 0.05, withinTask: 0.09, tasks: 10, meanRepeats: 3 }, 0.1)).toEqual({
      change: 0.1,
      repeats: null,
      tasks: Math.ceil((0.05 + 0.03) * 707.0),
    });
    // 707.06 exactly: one unit of variance needs 708 tasks (the old probit's 705.6 said 706).
    expect(repeatsNeeded({ betweenTasks: 1, withinTask: 0, tasks: 1, meanRepeats: 1 }, 0.1).tasks).toBe(708);
  });

  it("the study's hard rule takes the tasks above the mean of the mean baseline costs", () => {
    expect(
      aboveMeanCost(
        new Map([
          ["cheap", [1, 1]],
          ["middle", [2, 4]],
          ["dear", [9]],
        ]),
      ),
    ).toEqual(["dear"]);
  });
});

/**
 * Synthetic runs with no effect on average but an effect per task (each task its own true ratio,
 * centred on 1), the study's design: 12 tasks, 3 repeats. Resampling pairs as if independent
 * (plain percentile) claimed a change in 10.0% of these runs. A calibration run (fresh baseline
 * noise) fixes the hard set in advance; the exploratory set is chosen on the run itself.
 */
describe("bench statistics under no effect", () => {
  const random = seededRandom(2026);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const runs = 1000;
  const tasks = 12;
  const repeats = 3;
  // Per row and run: whether the interval claims a change either way, and whether it claims a saving.
  const rows = { all: [] as boolean[], fixedHard: [] as boolean[], sameRunHard: [] as boolean[] };
  const savings = { all: [] as boolean[], fixedHard: [] as boolean[], sameRunHard: [] as boolean[] };
  const estimates = { all: [] as number[], fixedHard: [] as number[], sameRunHard: [] as number[] };
  beforeAll(() => {
    for (let simulation = 0; simulation < runs; simulation++) {
      const pairs: TaskPair[] = [];
      const calibration = new Map<string, number[]>();
      const sameRun = new Map<string, number[]>();
      for (let index = 0; index < tasks; index++) {
        const task = `task-${String(index).padStart(2, "0")}`;
        const cost = Math.exp(0.25 * normal());
        const effect = 0.3 * normal();
        calibration.set(
          task,
          Array.from({ length: repeats }, () => cost * Math.exp(0.35 * normal())),
        );
        for (let repeat = 0; repeat < repeats; repeat++) {
          const baseline = cost * Math.exp(0.35 * normal());
          pairs.push({ task, baseline, variant: cost * Math.exp(effect + 0.35 * normal()) });
          sameRun.set(task, [...(sameRun.get(task) ?? []), baseline]);
        }
      }
      const fixed = new Set(aboveMeanCost(calibration));
      const chosenHere = new Set(aboveMeanCost(sameRun));
      for (const [row, selected] of [
        ["all", pairs],
        ["fixedHard", pairs.filter((pair) => fixed.has(pair.task))],
        ["sameRunHard", pairs.filter((pair) => chosenHere.has(pair.task))],
      ] as const) {
        const summary = summariseRatios(selected, simulation + 1, { iterations: 1000 });
        if (!summary) continue;
        estimates[row].push(summary.estimate);
        if (!summary.median) continue;
        rows[row].push(!summary.includesNoChange);
        savings[row].push(summary.median.high < 1);
      }
    }
  }, 300_000);
  const rate = (claims: boolean[]) => claims.filter(Boolean).length / claims.length;

  it("every row fixed in advance claims a change in about 5% of runs", () => {
    expect(rows.all).toHaveLength(runs);
    expect(rows.fixedHard.length).toBeGreaterThan(runs * 0.7);
    for (const claims of [rows.all, rows.fixedHard]) {
      expect(rate(claims)).toBeGreaterThanOrEqual(0.02);
      expect(rate(claims)).toBeLessThanOrEqual(0.09);
    }
    expect(median(estimates.all)).toBeCloseTo(1, 1);
    expect(median(estimates.fixedHard)).toBeCloseTo(1, 1);
  });

  it("hard tasks chosen on the run itself show a saving that is not there: why those rows are exploratory", () => {
    expect(median(estimates.sameRunHard)).toBeLessThan(0.92);
    expect(rate(rows.sameRunHard)).toBeGreaterThan(rate(rows.fixedHard));
    // Nearly every change they claim is a saving; fixed in advance, about the 2.5% of one tail.
    expect(rate(savings.sameRunHard)).toBeGreaterThan(0.06);
    expect(rate(savings.fixedHard)).toBeLessThan(0.04);
  });
});

describe("trial order", () => {
  const variants = ["baseline", "journal", "social", "combined"];
  const key = (trial: { task: number; variant: string; repeat: number }) => `${trial.task}/${trial.variant}/${trial.repeat}`;

  it("is random by seed, the same for one seed, and holds every trial once", () => {
    const first = trialOrder(13, variants, 3, 7, false);
    expect(trialOrder(13, variants, 3, 7, false)).toEqual(first);
    expect(trialOrder(13, variants, 3, 8, false).map(key)).not.toEqual(first.map(key));
    expect(new Set(first.map(key)).size).toBe(13 * 4 * 3);
    // Not the old blocked order (repeat, then variant, then task): variants alternate from the start.
    expect(new Set(first.slice(0, 4).map((trial) => trial.variant)).size).toBe(4);
    expect(first.slice(0, 8).map((trial) => trial.variant)).not.toEqual(
      trialOrder(13, variants, 3, 9, false)
        .slice(0, 8)
        .map((trial) => trial.variant),
    );
  });

  it("stopped after any number of trials, leaves the variants within one trial of each other", () => {
    for (const shared of [false, true]) {
      for (const seed of [1, 2, 3]) {
        const order = trialOrder(13, variants, 3, seed, shared);
        const counts = new Map(variants.map((variant) => [variant, 0]));
        for (const trial of order) {
          counts.set(trial.variant, counts.get(trial.variant)! + 1);
          expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it("on shared boards keeps each repeat's tasks in the suite's order and interleaves the repeats", () => {
    const order = trialOrder(13, variants, 3, 5, true);
    for (let repeat = 1; repeat <= 3; repeat++)
      for (const variant of variants)
        expect(order.filter((trial) => trial.repeat === repeat && trial.variant === variant).map((trial) => trial.task)).toEqual([
          0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ]);
    expect(order.slice(0, 13 * 4).some((trial) => trial.repeat !== 1)).toBe(true);
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
    testError: null,
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
    software: null,
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

  it("says what ran the trials, and that trials on different versions are not one sample", () => {
    const on = (agent: string): Partial<BenchTrial> => ({ software: { botboard: "0.1.0 (commit abc1234)", node: "v20.20.0", agent } });
    const older = "2.1.100 (Claude Code)";
    const newer = "2.1.197 (Claude Code)";
    const mixed = buildReport(run, [
      trial(1, "easy-one", "baseline", 1, true, on(newer)),
      trial(2, "easy-one", "social", 1, true, on(newer)),
      trial(3, "hard-one", "baseline", 1, true, on(older)),
      trial(4, "hard-one", "social", 1, true),
    ]);
    expect(mixed.software).toEqual([
      { botboard: "0.1.0 (commit abc1234)", node: "v20.20.0", agent: newer, trials: 2 },
      { botboard: "0.1.0 (commit abc1234)", node: "v20.20.0", agent: older, trials: 1 },
    ]);
    expect(describeSoftware(mixed)).toBe(
      `Software: the trials ran on 2 combinations, so they are not one sample: Botboard 0.1.0 (commit abc1234), Node v20.20.0, agent ${newer} (2 trials); Botboard 0.1.0 (commit abc1234), Node v20.20.0, agent ${older} (1 trial). Not recorded for 1 trial (finished before it was recorded).`,
    );
    expect(describeSoftware(report)).toBe("Software: not recorded (the trials finished before it was recorded).");
    expect(describeSoftware(buildReport(run, [{ ...trials[0]!, status: "pending" }]))).toBe("Software: no trial has finished yet.");
  });

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
    // Two tasks are too few for an interval: no zero-width "significant" change.
    expect(social.vsBaseline!.cost).toMatchObject({ pairs: 2, tasks: 2, estimate: 0.5, includesNoChange: true });
    expect(social.vsBaseline!.cost!.median).toBeUndefined();
    expect(social.vsBaselineHard!.cost).toMatchObject({ pairs: 1, estimate: 0.5 });
    expect(report.hardTasks).toEqual(["hard-one"]);
    expect(report.hardSet.source).toBe("metadata");
    // One repeat: no power row, since repeat noise and task differences cannot be told apart.
    expect(report.statistics.power).toEqual([]);
    expect(report.variants[0]).toMatchObject({ variant: "baseline", passed: 1, trials: 2, passRate: { estimate: 0.5 } });
  });

  it("markdown states the changes, their intervals and the prompts", () => {
    const markdown = renderMarkdown(report);
    // Costs 0.5, 1 and 1: a mean of $0.83 and a median of $1.
    expect(markdown).toContain("| variant | passed (Wilson 95% CI) | total cost | mean cost | median cost | mean turns |");
    expect(markdown).toContain("| social | 3/3 = 100% (95% CI 44%–100%) | $2.50 | $0.8333 | $1.00 | 8.3 |");
    expect(markdown).toContain("- all tasks: cost -50% (too few tasks for an interval: 2 tasks, 2 pairs)");
    expect(markdown).toContain("- social wrote 4, read 2 (2.0× as many writes as reads)");
    expect(markdown).toContain("Do it; feed <b>optional</b>.");
  });

  it("fewer writes than reads read as more reads, in the markdown and the HTML alike", () => {
    const readMore = buildReport(run, [...trials.slice(0, 3), trial(4, "hard-one", "social", 1, true, { postsWritten: 0, reads: 5 })]);
    // 3 writes to 6 reads: "0.5× more writes than reads" said the opposite of the counts.
    const said = "social wrote 3, read 6 (2.0× as many reads as writes)";
    expect(renderMarkdown(readMore)).toContain(`- ${said}`);
    expect(renderHtml(readMore)).toContain(`<li>${said}</li>`);
    expect(renderMarkdown(readMore)).not.toMatch(/more writes than reads/);
  });

  it("a variant with no finished trial has no mean or median: n/a, not a free trial in no time", () => {
    const queued = trial(3, "easy-one", "social", 0, false, { status: "pending", costUsd: null, turns: null, wallMs: null });
    const early = buildReport(run, [...trials.slice(0, 2), queued]);
    expect(early.variants[1]).toMatchObject({ trials: 0, totalCostUsd: 0, meanCostUsd: null, medianCostUsd: null, meanTurns: null });
    const row = "| social | n/a | $0.0000 | n/a | n/a | n/a | n/a |";
    expect(renderMarkdown(early)).toContain(row);
    expect(renderHtml(early)).toContain("<td>social</td><td>n/a</td><td>$0.0000</td><td>n/a</td><td>n/a</td><td>n/a</td><td>n/a</td>");
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
    expect(JSON.parse(JSON.stringify(report)).variants[1].vsBaseline.cost.estimate).toBe(0.5);
  });

  it("a trial whose tests timed out is a failure that pairs; one whose agent failed with an error does not", () => {
    const social = buildReport(run, [
      ...trials.slice(0, 2),
      trial(3, "easy-one", "social", 0.5, false, { testError: "the tests timed out" }),
      trial(4, "hard-one", "social", 1, false, { error: "the model endpoint answered 500" }),
    ]).variants[1]!;
    expect(social).toMatchObject({ trials: 2, passed: 0, errors: 1 });
    expect(social.vsBaseline!.cost).toMatchObject({ pairs: 1, estimate: 0.5 });
    expect(social.vsBaselineAllTrials!.cost).toMatchObject({ pairs: 2 });
  });

  it("says why a comparison has no figure: no pairs at all, pairs all cut off, no tasks in the row, or a baseline that spent nothing", () => {
    const timedOut = buildReport(run, [
      ...trials.slice(0, 2),
      trial(3, "easy-one", "social", 0.5, false, { timedOut: true }),
      trial(4, "hard-one", "social", 1, false, { timedOut: true }),
    ]).variants[1]!;
    expect(describeRatio(timedOut.vsBaseline!, "cost")).toBe("n/a (all 2 pairs cut off: a side timed out or failed with an error)");
    expect(describeRatio(timedOut.vsBaselineHard!, "turns")).toBe("n/a (the one pair cut off: a side timed out or failed with an error)");
    expect(timedOut.vsBaselineAllTrials).toMatchObject({ pairs: 2, cutOff: 0 });
    const baselineFailed = buildReport(run, [
      trial(1, "easy-one", "baseline", 1, false, { error: "the model endpoint answered 500" }),
      trial(2, "hard-one", "baseline", 2, false, { error: "the model endpoint answered 500" }),
      ...trials.slice(2, 4),
    ]).variants[1]!;
    expect(describeRatio(baselineFailed.vsBaseline!, "cost")).toBe("n/a (all 2 pairs cut off: a side timed out or failed with an error)");
    // One easy task: no task is marked hard, and none is above the mean baseline cost of the one task.
    const easyOnly = renderMarkdown(buildReport(run, [trials[0]!, trials[2]!]));
    expect(easyOnly).toContain(
      "- hard tasks (fixed in advance): cost n/a (no hard tasks in this run); turns n/a (no hard tasks in this run); time n/a (no hard tasks in this run)",
    );
    expect(easyOnly).toContain(
      "- hard tasks, exploratory (chosen on this run: biased toward savings): cost n/a (no task above this run's mean baseline cost);",
    );
    const freeBaseline = buildReport(run, [{ ...trials[0]!, costUsd: 0 }, trials[1]!, trial(3, "easy-one", "social", 0.5, true)])
      .variants[1]!;
    expect(describeRatio(freeBaseline.vsBaseline!, "cost")).toBe("n/a (no baseline figure above 0 in the one pair)");
    expect(describeRatio(freeBaseline.vsBaseline!, "turns")).toMatch(/^[+-]?\d+%|^0%/);
    expect(renderMarkdown(buildReport(run, trials.slice(0, 2)))).toContain(
      "- all tasks: cost n/a (no pairs: no task and repeat has a trial on both sides)",
    );
  });

  it("a run with no baseline compares nothing: no primary comparisons, no family-wise level", () => {
    const noBaseline = { ...run, variants: ["journal", "social"] };
    const compared = buildReport(noBaseline, [trial(1, "easy-one", "journal", 1, true), trial(2, "easy-one", "social", 1, true)]);
    expect(compared.statistics).toMatchObject({ comparisons: 0, intervals: 0 });
    const markdown = renderMarkdown(compared);
    expect(markdown).toContain("No comparison: the run has no baseline trials, or no other variant.");
    expect(markdown).not.toMatch(/family-wise|Bonferroni/);
  });

  it("markdown leaves a blank line before every heading, a baseline-only run's too", () => {
    const baselineOnly = buildReport({ ...run, variants: ["baseline"] }, trials.slice(0, 2));
    expect(renderMarkdown(baselineOnly)).toContain("No comparison");
    for (const shown of [report, baselineOnly]) {
      const lines = renderMarkdown(shown).split("\n");
      const crowded = lines.filter((line, index) => index > 0 && line.startsWith("#") && lines[index - 1] !== "");
      expect(crowded).toEqual([]);
    }
  });
});

describe("bench report statistics", () => {
  const tasks = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
  const seededRun = {
    ...run,
    variants: ["baseline", "journal", "social"],
    repeats: 2,
    settings: {
      ...run.settings,
      seed: 42,
      hardSet: { source: "calibration" as const, fromRunId: "calibration-run", tasks: ["alpha", "bravo", "charlie"] },
    },
  } satisfies BenchRun;
  const random = seededRandom(9);
  const trials: BenchTrial[] = [];
  for (const [index, task] of tasks.entries())
    for (const repeat of [1, 2])
      for (const variant of seededRun.variants)
        trials.push(
          trial(trials.length + 1, task, variant, (1 + index) * (0.5 + random()), random() < 0.8, { repeat, seq: trials.length + 1 }),
        );
  const report = buildReport(seededRun, trials);

  it("is the same whatever order the trials come in", () => {
    const shuffledTrials = [...trials].reverse();
    expect(buildReport(seededRun, shuffledTrials)).toEqual(report);
    expect(report.variants[1]!.vsBaseline!.cost!.median).toBeDefined();
  });

  it("its JSON alone re-derives a comparison: each trial's pairing key, completion and figures, and each interval's seed", () => {
    const cutOff = trials.map((each) => (each.id === 4 ? { ...each, timedOut: true } : each.id === 9 ? { ...each, error: "500" } : each));
    const exported: BenchReport = JSON.parse(JSON.stringify(buildReport(seededRun, cutOff)));
    const completedPoints = exported.points.filter((point) => !point.timedOut && !point.error);
    const baselineOf = (point: TrialPoint) =>
      completedPoints.find((other) => other.variant === "baseline" && other.task === point.task && other.repeat === point.repeat);
    const journal = exported.variants[1]!.vsBaseline!;
    for (const [metric, figure] of [
      ["cost", (point: TrialPoint) => point.costUsd],
      ["turns", (point: TrialPoint) => point.turns],
      ["wallTime", (point: TrialPoint) => point.wallSeconds],
    ] as const) {
      const pairs = completedPoints
        .filter((point) => point.variant === "journal" && baselineOf(point))
        .map((point) => ({ task: point.task, variant: figure(point), baseline: figure(baselineOf(point)!) }));
      const shown = journal[metric]!;
      const again = summariseRatios(pairs, shown.bootstrap!.seed, { comparisons: metric === "cost" ? exported.statistics.comparisons : 1 });
      expect(JSON.parse(JSON.stringify(again)), metric).toEqual(shown);
      expect(shown.bootstrap).toEqual({ seed: expect.any(Number), resamples: exported.statistics.resamples, tail: expandedTail(0.95, 6) });
    }
  });

  it("states the order's seed, the hard set fixed in advance, exploratory rows, power and multiple comparisons", () => {
    expect(report.hardTasks).toEqual(["alpha", "bravo", "charlie"]);
    expect(report.statistics).toMatchObject({ seed: 42, comparisons: 2, minimumTasks: 5 });
    expect(report.statistics.intervals).toBeGreaterThan(0);
    expect(report.statistics.power.map((row) => row.variant)).toEqual(["journal", "social"]);
    expect(report.taskDeltas[0]!.costLogRatioSd).toBeGreaterThan(0);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain("seed 42; `--seed 42` plans the same order");
    expect(markdown).toContain("from calibration run calibration-run: mean baseline cost above the mean): alpha, bravo, charlie.");
    expect(markdown).toContain("- hard tasks, exploratory (chosen on this run: biased toward savings): cost");
    expect(markdown).toContain("regression to the mean");
    expect(markdown).toContain("cluster bootstrap over tasks");
    expect(markdown).toContain("| variant | SD between tasks | SD within a task | 10% saving | 15% saving | 25% saving |");
    expect(markdown).toContain("at the family-wise 97.5% level");
    expect(markdown).toMatch(/this report shows \d+ intervals; with no real change anywhere, about 1 in 20/);
    const html = renderHtml(report);
    expect(html).toContain("Design and statistics");
    expect(html).toContain("hard tasks, exploratory (chosen on this run: biased toward savings)");
  });
});

describe.each(databaseKinds)("bench run dirs and calibration runs on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("--hard-from fixes the hard tasks from a calibration run of the same driver and model", async () => {
    const db = server.database.db;
    const suite = loadSuite("builtin", ["run-length", "word-wrap", "money-split", "interval-merge"]);
    const calibration = await planTestRun(db, { driver: "openai", model: "m", suite });
    const costs: Record<string, number> = { "run-length": 1, "word-wrap": 5, "money-split": 2, "interval-merge": 4 };
    for (
      let { trial } = await claimBenchTrial(db, calibration.run.id, "test", 60_000);
      trial;
      { trial } = await claimBenchTrial(db, calibration.run.id, "test", 60_000)
    ) {
      await finishBenchTrial(db, trial.id, "test", { ...outcome, costUsd: costs[trial.taskSlug]! }, software);
    }
    const planned = await planTestRun(db, {
      driver: "openai",
      model: "m",
      suite,
      variants: ["baseline", "social"],
      hardFromRunId: calibration.run.id,
    });
    expect(planned.run.settings.hardSet).toEqual({
      source: "calibration",
      fromRunId: calibration.run.id,
      tasks: ["interval-merge", "word-wrap"],
    });
    await expect(planTestRun(db, { driver: "openai", model: "other", suite, hardFromRunId: calibration.run.id })).rejects.toThrow(
      /the hard tasks are set per model/,
    );
    const byMetadata = await planTestRun(db, { driver: "oracle", suite: loadSuite("builtin", ["run-length", "line-diff"]) });
    expect(byMetadata.run.settings.hardSet).toEqual({ source: "metadata", fromRunId: null, tasks: ["line-diff"] });
  });

  it("a finished run's report from its run dir is the report from the database", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, {
      driver: "oracle",
      suite: loadSuite("builtin", ["run-length", "word-wrap"]),
      variants: ["baseline", "journal"],
      repeats: 2,
      seed: 11,
    });
    await runToEnd(db, planned, oracleDriver, server.url, { concurrency: 2 });
    const fromDatabase = buildReport(await getBenchRun(db, cli, planned.run.id), await listBenchTrials(db, planned.run.id));
    const folder = readRunFolder(planned.outDir);
    const fromFolder = buildReport(folder.run, folder.trials);
    expect(fromFolder.run.status).toBe("finished");
    expect(renderMarkdown(fromFolder)).toBe(renderMarkdown(fromDatabase));
    expect(JSON.stringify(fromFolder)).toBe(JSON.stringify(fromDatabase));
  });
});

describe.each(databaseKinds)("botboard bench report on %s", (kind) => {
  let botboard: BotboardOnFreshDatabase;
  let dir: string;
  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase(kind, { LOG_LEVEL: "warn" });
    dir = mkdtempSync(join(tmpdir(), "botboard-bench-report-"));
  });
  afterAll(async () => {
    await botboard?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the same report from the run id and from the run dir, with the run's real status and seed", async () => {
    const out = join(dir, "run");
    const args = ["--driver", "oracle", "--tasks", "run-length,word-wrap", "--variants", "baseline,journal", "--repeats", "2"];
    const run = await runBotboard(
      ["bench", "run", ...args, "-c", "2", "--seed", "11", "--no-team", "--run-id", "same-report", "--out", out],
      botboard.env,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    // Its server shows no one a first admin's link, so it made none: no team has an invite left open.
    const teams = JSON.parse((await runBotboard(["team", "list", "--json"], botboard.env)).stdout) as { slug: string }[];
    expect(teams.length).toBeGreaterThan(0);
    for (const { slug } of teams) {
      expect((await runBotboard(["invite", "list", "--team", slug], botboard.env)).stdout, slug).toBe("No open invites.\n");
    }
    for (const format of ["md", "json"]) {
      const fromDatabase = await runBotboard(["bench", "report", "same-report", "--format", format], botboard.env);
      const fromDir = await runBotboard(["bench", "report", out, "--format", format], botboard.env);
      expect(fromDir.stdout).toBe(fromDatabase.stdout);
    }
    const { stdout: markdown, loaded } = await modulesLoadedBy(["bench", "report", out], botboard.env);
    // A report reads trials and renders them: running trials (drivers, a server, MCP) is not loaded.
    expect(loaded).toContainEqual(expect.stringMatching(/\/bench\/report\.(ts|js)$/));
    expect(loaded.filter((url) => /\/bench\/(runner|bench-actions|drivers\/)|\/server\/app\.|@modelcontextprotocol/.test(url))).toEqual([]);
    expect(markdown).toContain("Status: finished. 8 of 8 trials finished.");
    expect(markdown).toContain("(seed 11; `--seed 11` plans the same order)");
    const badSeed = await runBotboard(["bench", "run", ...args, "--seed", "-1", "--no-team"], botboard.env);
    expect(badSeed.code).not.toBe(0);
    expect(badSeed.stderr).toContain("--seed");
  }, 180_000);
});

const outcome: BenchTrialOutcome = {
  passed: true,
  timedOut: false,
  error: null,
  testError: null,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
  costSource: "driver",
  turns: 1,
  driverTurns: null,
  wallMs: 1,
  toolCalls: {},
  postsWritten: 0,
  journalWritten: 0,
  reads: 0,
  testOutput: "",
};

const software: TrialSoftware = { botboard: "0.1.0", node: "v20.0.0", agent: null };
