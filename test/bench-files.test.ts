import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultPrices } from "../bench/prices.ts";
import { appendTrialLine, readRunFolder, writePlannedTrials, writeRunFile } from "../bench/run-folder.ts";
import { builtinSuitePath, loadSuite } from "../bench/suites.ts";
import { ConfigError } from "../server/config-error.ts";
import type { BenchRun, BenchTrial } from "../server/domain/bench-runs.ts";
import { botboardOnFreshDatabase, runBotboard } from "./support/cli.ts";

/**
 * The files the benchmark reads back (a run dir for `bench report`, a price table for `--prices`):
 * each is checked against what the runner writes, and a bad one is refused in one line that names
 * the file, the line and the field, never read as something it is not.
 */

const folders = mkdtempSync(join(tmpdir(), "botboard-bench-files-"));
afterAll(() => rmSync(folders, { recursive: true, force: true }));

const run: BenchRun = {
  id: "hand-made",
  teamId: null,
  suite: "builtin",
  driver: "openai",
  model: "gpt-5",
  phase: "isolated",
  variants: ["baseline", "social"],
  repeats: 1,
  fromRunId: null,
  status: "finished",
  stopReason: null,
  settings: {
    suitePath: "bench/tasks",
    outDir: "bench/results/hand-made",
    timeoutMs: 60_000,
    concurrency: 1,
    maxCostUsd: null,
    prompts: { baseline: "Do the task.", social: "Do the task; the feed is there." },
    prices: defaultPrices,
    seed: 1,
    hardSet: { source: "metadata", fromRunId: null, tasks: [] },
  },
  createdAt: new Date("2026-12-01T00:00:00.000Z"),
  finishedAt: new Date("2026-12-01T01:00:00.000Z"),
};

function planned(id: number, variant: string): BenchTrial {
  return {
    id,
    runId: run.id,
    seq: id,
    taskSlug: "word-wrap",
    difficulty: "easy",
    variant,
    repeat: 1,
    groupKey: null,
    teamId: null,
    status: "pending",
    leaseOwner: null,
    leaseExpiresAt: null,
    attempts: 0,
    passed: null,
    timedOut: null,
    error: null,
    testError: null,
    inputTokens: null,
    outputTokens: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    costUsd: null,
    costSource: null,
    turns: null,
    driverTurns: null,
    wallMs: null,
    toolCalls: null,
    postsWritten: null,
    journalWritten: null,
    reads: null,
    testOutput: null,
    software: null,
    attemptCostUsd: 0,
    interruptedCostUsd: 0,
    interruptedAttempts: 0,
    startedAt: null,
    finishedAt: null,
  };
}

function finished(trial: BenchTrial, passed: boolean, costUsd: number): BenchTrial {
  return {
    ...trial,
    status: "finished",
    attempts: 1,
    passed,
    timedOut: false,
    inputTokens: 1000,
    outputTokens: 100,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd,
    costSource: "price-table",
    turns: 4,
    wallMs: 30_000,
    toolCalls: {},
    postsWritten: 0,
    journalWritten: 0,
    reads: 0,
    testOutput: "5 tests passed, 0 failed (unittest)",
    startedAt: new Date("2026-12-01T00:10:00.000Z"),
    finishedAt: new Date("2026-12-01T00:20:00.000Z"),
  };
}

let folderCount = 0;

/** A finished run dir as the runner writes it: trials.jsonl line 1 is the social trial, line 2 the baseline's. */
function runFolder(): string {
  const dir = join(folders, `run-${++folderCount}`);
  mkdirSync(dir);
  writeRunFile(dir, run);
  const plan = [planned(1, "baseline"), planned(2, "social")];
  writePlannedTrials(dir, plan);
  appendTrialLine(dir, finished(plan[1]!, false, 0.5));
  appendTrialLine(dir, finished(plan[0]!, true, 1));
  return dir;
}

/** Changes one line (from 1) of a JSON lines file, or the JSON of a whole file when `line` is 0. */
function edit(file: string, line: number, change: (value: Record<string, unknown>) => void): void {
  if (line === 0) {
    const value = JSON.parse(readFileSync(file, "utf8"));
    change(value);
    writeFileSync(file, JSON.stringify(value));
    return;
  }
  const lines = readFileSync(file, "utf8").split("\n");
  const value = JSON.parse(lines[line - 1]!);
  change(value);
  lines[line - 1] = JSON.stringify(value);
  writeFileSync(file, lines.join("\n"));
}

function refusal(dir: string): string {
  try {
    readRunFolder(dir);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${dir} was read`);
}

describe("a run dir read back", () => {
  it("is the run and its trials as the runner wrote them, in queue order, its times as dates", () => {
    const dir = runFolder();
    // A last line without an end of line is whole when it is whole JSON (a file edited by hand).
    writeFileSync(join(dir, "trials.jsonl"), readFileSync(join(dir, "trials.jsonl"), "utf8").trimEnd());
    const { run: read, trials } = readRunFolder(dir);
    expect(read).toEqual(run);
    expect(trials.map((trial) => [trial.id, trial.status, trial.passed])).toEqual([
      [1, "finished", true],
      [2, "finished", false],
    ]);
    expect(trials[0]!.finishedAt).toEqual(new Date("2026-12-01T00:20:00.000Z"));
  });

  it("refuses a trial whose field is not what the runner writes, naming the file, the line and the field", () => {
    const cases: [(trial: Record<string, unknown>) => void, string][] = [
      // A string "false" is truthy: read as it stood, it counted as a pass.
      [(trial) => (trial.passed = "false"), "passed: Invalid input: expected boolean, received string"],
      [(trial) => (trial.costUsd = -1), "costUsd: Too small: expected number to be >=0"],
      [(trial) => (trial.costUsd = null), "costUsd: a finished trial records it (null only before the trial finishes)"],
      [(trial) => (trial.turns = 2.5), "turns: Invalid input: expected int, received number"],
      [(trial) => (trial.status = "done"), 'status: Invalid option: expected one of "pending"|"running"|"finished"'],
      [
        (trial) => {
          trial.costUSD = trial.costUsd;
          delete trial.costUsd;
        },
        'costUsd: Invalid input: expected number, received undefined; costUSD: Unrecognized key: "costUSD"',
      ],
    ];
    for (const [change, problem] of cases) {
      const dir = runFolder();
      edit(join(dir, "trials.jsonl"), 2, change);
      expect(refusal(dir)).toBe(`${dir}/trials.jsonl line 2: ${problem}`);
    }
  });

  it("refuses a run.json that is not a run, naming the field", () => {
    const dir = runFolder();
    edit(join(dir, "run.json"), 0, (value) => {
      (value as { settings: BenchRun["settings"] }).settings.prices["gpt-5"]!.cacheReadPerMTok = "0.125" as unknown as number;
    });
    expect(refusal(dir)).toBe(`${dir}/run.json: settings.prices.gpt-5.cacheReadPerMTok: Invalid input: expected number, received string`);
    const twice = runFolder();
    edit(join(twice, "run.json"), 0, (value) => {
      value.variants = ["baseline", "social", "social"];
    });
    expect(refusal(twice)).toBe(`${twice}/run.json: variants: a variant is listed twice`);
    writeFileSync(join(twice, "run.json"), "{");
    expect(refusal(twice)).toMatch(new RegExp(`^${twice}/run\\.json is not JSON: [^\\n]+$`));
  });

  it("refuses a line that is not JSON, and a last line cut off by a stopped run, rather than drop it", () => {
    const junk = runFolder();
    writeFileSync(join(junk, "trials.jsonl"), `garbage\n${readFileSync(join(junk, "trials.jsonl"), "utf8")}`);
    expect(refusal(junk)).toMatch(new RegExp(`^${junk}/trials\\.jsonl line 1 is not JSON: [^\\n]+$`));

    const cut = runFolder();
    const text = readFileSync(join(cut, "trials.jsonl"), "utf8");
    writeFileSync(join(cut, "trials.jsonl"), text.slice(0, -100));
    expect(refusal(cut)).toBe(
      `${cut}/trials.jsonl line 2 is cut off (no end of line, not whole JSON): the run was stopped while writing it. Its database still has the trial (botboard bench report hand-made); delete the line to report without it.`,
    );
  });

  it("refuses another run's lines, a variant the run has not, a repeated trial and a finished trial run again", () => {
    const trials = (dir: string) => join(dir, "trials.jsonl");
    const cases: [(dir: string) => void, (dir: string) => string][] = [
      [
        (dir) => edit(trials(dir), 2, (trial) => (trial.runId = "other-run")),
        (dir) => `${trials(dir)} line 2: runId: "other-run" is not the run in run.json ("hand-made").`,
      ],
      [
        (dir) => edit(trials(dir), 1, (trial) => (trial.variant = "journal")),
        (dir) => `${trials(dir)} line 1: variant: "journal" is not one of run.json's variants (baseline, social).`,
      ],
      [
        (dir) => edit(trials(dir), 2, (trial) => (trial.taskSlug = "run-length")),
        (dir) =>
          `${trials(dir)} line 2: trial 1 is run-length, baseline, repeat 1, but ${dir}/plan.jsonl line 1 says word-wrap, baseline, repeat 1.`,
      ],
      [
        (dir) => appendTrialLine(dir, finished({ ...planned(3, "baseline"), seq: 3 }, false, 2)),
        (dir) =>
          `${trials(dir)} line 3: trial 3 is word-wrap, baseline, repeat 1, as trial 1 is (${trials(dir)} line 2): a run has one trial of each.`,
      ],
      [
        (dir) => appendTrialLine(dir, { ...planned(2, "social"), interruptedAttempts: 1, interruptedCostUsd: 0.2 }),
        (dir) => `${trials(dir)} line 3: trial 2 finished already (${trials(dir)} line 1); a finished trial never runs again.`,
      ],
    ];
    for (const [change, problem] of cases) {
      const dir = runFolder();
      change(dir);
      expect(refusal(dir)).toBe(problem(dir));
    }
  });

  it("a resumed run writes its next trial on a line of its own after one a killed run cut off", () => {
    const dir = runFolder();
    const file = join(dir, "trials.jsonl");
    writeFileSync(file, readFileSync(file, "utf8").slice(0, -100));
    const next = finished({ ...planned(3, "baseline"), taskSlug: "run-length", seq: 3 }, true, 1);
    appendTrialLine(dir, next);
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[2]!)).toEqual(JSON.parse(JSON.stringify(next)));
    // The cut-off line is now inside the file: refused by its number until deleted, its neighbours whole.
    expect(refusal(dir)).toMatch(new RegExp(`^${file} line 2 is not JSON: `));
  });
});

describe("botboard bench refuses a bad file in one line", () => {
  const env = { BOTBOARD_DATA_DIR: join(folders, "data"), LOG_LEVEL: "warn" };

  it("bench report on a run dir with a bad trial: the file, line and field, exit 1, no stack trace", async () => {
    const dir = runFolder();
    edit(join(dir, "trials.jsonl"), 2, (trial) => (trial.passed = "false"));
    const result = await runBotboard(["bench", "report", dir], env);
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `botboard: ${dir}/trials.jsonl line 2: passed: Invalid input: expected boolean, received string\n`,
    });
  });

  it("bench report to a file that cannot be written: one line naming it, exit 1", async () => {
    const dir = runFolder();
    const output = join(folders, "no-such-folder", "report.md");
    const result = await runBotboard(["bench", "report", dir, "-o", output], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^botboard: Cannot write the report to ${output}: ENOENT[^\\n]+\\n$`));
  });

  it("bench run with a bad --prices file: refused before a database is opened or a trial planned", async () => {
    const prices = join(folders, "prices.json");
    // A misspelt field would drop out and price cache reads as input.
    writeFileSync(prices, JSON.stringify({ "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10, cacheReadPerMtok: 0.125 } }));
    const misspelt = await runBotboard(["bench", "run", "--driver", "oracle", "--prices", prices, "--no-team"], env);
    expect(misspelt).toMatchObject({
      code: 1,
      stderr: `botboard: ${prices}: gpt-5.cacheReadPerMtok: Unrecognized key: "cacheReadPerMtok"\n`,
    });
    writeFileSync(prices, "{ not json");
    const notJson = await runBotboard(["bench", "run", "--driver", "oracle", "--prices", prices, "--no-team"], env);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(new RegExp(`^botboard: ${prices} is not JSON: [^\\n]+\\n$`));
    expect(existsSync(env.BOTBOARD_DATA_DIR)).toBe(false);
  });
});

/** A one-task suite of the builtin layout, in a folder of its own. */
function oneTaskSuite(): string {
  const suite = join(folders, `suite-${++folderCount}`);
  cpSync(join(builtinSuitePath, "run-length"), join(suite, "run-length"), { recursive: true });
  return suite;
}

function breakTask(suite: string): string {
  const file = join(suite, "run-length", "task.json");
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), difficulty: "hardest" }));
  return file;
}

describe("a suite's task files", () => {
  it("a bad task.json is refused in one line naming the file and the field, as a problem of the environment", () => {
    const suite = oneTaskSuite();
    const file = breakTask(suite);
    let refused: unknown;
    try {
      loadSuite(suite);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      `${file} is not a valid task: difficulty: Invalid option: expected one of "easy"|"medium"|"hard"`,
    );
  });

  it("a resumed run reloads its suite: one that went bad since is refused in one line, not with a stack trace", async () => {
    const botboard = await botboardOnFreshDatabase("pglite", { LOG_LEVEL: "warn" });
    try {
      const suite = oneTaskSuite();
      const args = ["--driver", "oracle", "--suite", suite, "--variants", "baseline", "--repeats", "1", "--no-team"];
      const planned = await runBotboard(["bench", "run", ...args, "--run-id", "resumed", "--out", join(suite, "out")], botboard.env);
      expect(planned.code).toBe(0);
      const file = breakTask(suite);
      // Trials priced by two tables would not add up.
      const repriced = await runBotboard(["bench", "run", "--resume", "resumed", "--prices", join(suite, "prices.json")], botboard.env);
      expect(repriced).toMatchObject({
        code: 1,
        stderr: "botboard: A resumed run keeps its price table: --prices applies to a new run (the run dir's run.json shows the table).\n",
      });
      const resumed = await runBotboard(["bench", "run", "--resume", "resumed"], botboard.env);
      expect(resumed).toMatchObject({
        code: 78,
        stderr: `botboard: ${file} is not a valid task: difficulty: Invalid option: expected one of "easy"|"medium"|"hard"\n`,
      });
    } finally {
      await botboard.close();
    }
  }, 120_000);
});
