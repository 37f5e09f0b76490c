import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { oracleDriver } from "../bench/drivers/calibration.ts";
import { openaiDriver } from "../bench/drivers/openai.ts";
import { executeRun } from "../bench/runner.ts";
import { loadSuite } from "../bench/suites.ts";
import { buildReport } from "../server/domain/bench-report.ts";
import {
  claimBenchTrial,
  getBenchRun,
  listBenchRuns,
  listBenchTrials,
  recordBenchAttemptSpend,
  type BenchTrial,
} from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { startMockChatServer, type ChatStep, type MockChatServer } from "./support/mock-chat.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { planTestRun } from "./support/bench.ts";

/** The trial queue: stops and resumes lose and repeat nothing; workers never share a trial; budgets hold. */

const fewTasks = loadSuite("builtin", ["interval-merge", "money-split", "run-length", "word-wrap"]);
const prices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: 0.5 } };
/** One answer of the mock: 80 input, 20 cached and 10 output tokens. */
const costPerAnswer = 80e-6 + 20 * 0.5e-6 + 10 * 2e-6;

function jsonlTrials(outDir: string): BenchTrial[] {
  return readFileSync(join(outDir, "trials.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe.each(databaseKinds)("the bench trial queue on %s", (kind) => {
  let server: TestServer;
  let slowModel: MockChatServer;
  let quickModel: MockChatServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    slowModel = await startMockChatServer([], { delayMs: 30_000 });
    quickModel = await startMockChatServer([]);
    vi.stubEnv("OPENAI_API_KEY", "sk-mock");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await slowModel?.close();
    await quickModel?.close();
    await server?.close();
  });

  it("a stopped run resumes without rerunning or losing a trial", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "oracle", suite: fewTasks, variants: ["baseline", "social"] });
    const stop = new AbortController();
    let finishedCount = 0;
    const first = await executeRun(db, planned.run, {
      driver: oracleDriver,
      serverUrl: server.url,
      concurrency: 1,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.kind === "finished" && ++finishedCount === 3) stop.abort();
      },
    });
    expect(first).toMatchObject({ status: "stopped", stopReason: "interrupted", ranHere: 3 });
    const before = await listBenchTrials(db, planned.run.id);
    expect(before.map((trial) => trial.status)).toEqual([
      "finished",
      "finished",
      "finished",
      "pending",
      "pending",
      "pending",
      "pending",
      "pending",
    ]);

    const second = await executeRun(db, await getBenchRun(db, cli, planned.run.id), {
      driver: oracleDriver,
      serverUrl: server.url,
      concurrency: 2,
      signal: new AbortController().signal,
    });
    expect(second).toMatchObject({ status: "finished", ranHere: 5 });
    const after = await listBenchTrials(db, planned.run.id);
    expect(after.every((trial) => trial.status === "finished" && trial.passed && trial.attempts === 1)).toBe(true);
    expect(after.slice(0, 3).map((trial) => trial.finishedAt)).toEqual(before.slice(0, 3).map((trial) => trial.finishedAt));
    const lines = jsonlTrials(planned.outDir);
    expect(lines.map((trial) => trial.id).sort()).toEqual(after.map((trial) => trial.id).sort());
    expect((await getBenchRun(db, cli, planned.run.id)).status).toBe("finished");
  }, 60_000);

  it("Ctrl-C during a trial ends the agent and puts the trial back in the queue", async () => {
    const db = server.database.db;
    vi.stubEnv("OPENAI_BASE_URL", slowModel.url);
    const planned = await planTestRun(db, { driver: "openai", model: "mock-model", suite: loadSuite("builtin", ["run-length"]), prices });
    const stop = new AbortController();
    const running = executeRun(db, planned.run, {
      driver: openaiDriver,
      serverUrl: server.url,
      concurrency: 1,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.kind === "started") setTimeout(() => stop.abort(), 300);
      },
    });
    const started = Date.now();
    expect(await running).toMatchObject({ status: "stopped", ranHere: 0 });
    expect(Date.now() - started).toBeLessThan(15_000);
    const [trial] = await listBenchTrials(db, planned.run.id);
    expect(trial).toMatchObject({ status: "pending", attempts: 1, leaseOwner: null, passed: null });
  }, 30_000);

  it("a trial whose worker died is taken over once its lease expires", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "oracle", suite: loadSuite("builtin", ["word-wrap", "run-length"]) });
    const { trial: abandoned } = await claimBenchTrial(db, planned.run.id, "worker-that-died", 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await executeRun(db, planned.run, {
      driver: oracleDriver,
      serverUrl: server.url,
      concurrency: 1,
      signal: new AbortController().signal,
      leaseMs: 60_000,
    });
    expect(result.status).toBe("finished");
    const trials = await listBenchTrials(db, planned.run.id);
    expect(trials.find((trial) => trial.id === abandoned!.id)).toMatchObject({ status: "finished", passed: true, attempts: 2 });
  }, 30_000);

  it("the run list counts what a running attempt has spent, as the report does", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "oracle", suite: loadSuite("builtin", ["run-length"]) });
    const { trial } = await claimBenchTrial(db, planned.run.id, "worker-under-way", 60_000);
    await recordBenchAttemptSpend(db, trial!.id, "worker-under-way", 0.25);
    const report = buildReport(await getBenchRun(db, cli, planned.run.id), await listBenchTrials(db, planned.run.id));
    expect(report.spend.underWayUsd).toBe(0.25);
    const listed = (await listBenchRuns(db, cli)).find((run) => run.id === planned.run.id);
    expect(listed?.costUsd).toBe(0.25);
  });

  it("two workers share one queue without running a trial twice", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "oracle", suite: fewTasks, variants: ["baseline", "journal"] });
    const options = { driver: oracleDriver, serverUrl: server.url, concurrency: 2, signal: new AbortController().signal };
    const [one, two] = await Promise.all([executeRun(db, planned.run, options), executeRun(db, planned.run, options)]);
    expect(one.ranHere + two.ranHere).toBe(8);
    const trials = await listBenchTrials(db, planned.run.id);
    expect(trials.every((trial) => trial.status === "finished" && trial.attempts === 1)).toBe(true);
    expect(new Set(jsonlTrials(planned.outDir).map((trial) => trial.id)).size).toBe(8);
    expect(jsonlTrials(planned.outDir)).toHaveLength(8);
  }, 60_000);

  it("the accumulate phase runs each board's tasks in order, one at a time, on one team", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "oracle", suite: fewTasks, variants: ["combined"], repeats: 2, phase: "accumulate" });
    await executeRun(db, planned.run, {
      driver: oracleDriver,
      serverUrl: server.url,
      concurrency: 3,
      signal: new AbortController().signal,
    });
    const trials = await listBenchTrials(db, planned.run.id);
    for (const repeat of [1, 2]) {
      const group = trials.filter((trial) => trial.repeat === repeat);
      expect(new Set(group.map((trial) => trial.teamId)).size).toBe(1);
      for (let index = 1; index < group.length; index++) {
        expect(group[index]!.startedAt!.getTime()).toBeGreaterThanOrEqual(group[index - 1]!.finishedAt!.getTime());
      }
    }
  }, 60_000);

  it("in the accumulate phase each task is its own agent on the group's board: the next task reads the earlier one's posts and journal, and so does a warm run", async () => {
    const db = server.database.db;
    // Every task's agent does the same: log in, read what is new and its journal, then post and write a note.
    const script: ChatStep[] = [
      {
        calls: [
          { name: "botboard__login", arguments: {} },
          { name: "botboard__read_new", arguments: {} },
          { name: "botboard__list_recent_entries", arguments: {} },
        ],
      },
      {
        calls: [
          { name: "botboard__create_post", arguments: { content: "A note for whoever comes next." } },
          { name: "botboard__process_thoughts", arguments: { project_notes: "Remember the edge case with empty input." } },
        ],
      },
      { text: "Done." },
    ];
    const model = await startMockChatServer(script);
    vi.stubEnv("OPENAI_BASE_URL", model.url);
    try {
      const suite = loadSuite("builtin", ["run-length", "word-wrap"]);
      const planned = await planTestRun(db, {
        driver: "openai",
        model: "mock-model",
        suite,
        variants: ["combined"],
        phase: "accumulate",
        prices,
      });
      await executeRun(db, planned.run, {
        driver: openaiDriver,
        serverUrl: server.url,
        concurrency: 2,
        signal: new AbortController().signal,
      });
      const trials = await listBenchTrials(db, planned.run.id);
      expect(trials.map((trial) => [trial.taskSlug, trial.postsWritten, trial.journalWritten])).toEqual([
        ["run-length", 1, 1],
        ["word-wrap", 1, 1],
      ]);

      // What each task's agent was told by login, read_new and list_recent_entries, in task order.
      const toolAnswers = model.requests
        .filter((request) => request.messages.filter((message) => message.role === "assistant").length === 1)
        .map((request) => request.messages.filter((message) => message.role === "tool").map((message) => String(message.content)));
      expect(toolAnswers).toHaveLength(2);
      const [firstLogin, firstNews, firstJournal] = toolAnswers[0]!;
      const [secondLogin, secondNews, secondJournal] = toolAnswers[1]!;
      const sessionOf = (index: number) => `agent-combined-r1/${trials[index]!.taskSlug}.t${trials[index]!.id}`;
      expect(firstLogin).toContain(`You are ${sessionOf(0)} (agent)`);
      expect(firstLogin).toContain("No unread posts.");
      expect(firstNews).toContain("no posts by others yet");
      expect(firstJournal).toContain("0 entries of 0");

      expect(secondLogin).toContain(`You are ${sessionOf(1)} (agent)`);
      expect(secondLogin).toContain("1 post by your team so far");
      expect(secondNews).toContain(sessionOf(0));
      expect(secondNews).toContain("A note for whoever comes next.");
      expect(secondJournal).toContain("1 entry of 1");
      expect(secondJournal).toContain("Remember the edge case with empty input.");

      // The warm phase goes on from a copy of that board: its agent finds both tasks' posts and notes.
      model.requests.length = 0;
      const warm = await planTestRun(db, {
        driver: "openai",
        model: "mock-model",
        suite: loadSuite("builtin", ["run-length"]),
        variants: ["combined"],
        phase: "warm",
        fromRunId: planned.run.id,
        prices,
      });
      await executeRun(db, warm.run, { driver: openaiDriver, serverUrl: server.url, concurrency: 1, signal: new AbortController().signal });
      const [warmLogin, warmNews, warmJournal] = model.requests
        .find((request) => request.messages.filter((message) => message.role === "assistant").length === 1)!
        .messages.filter((message) => message.role === "tool")
        .map((message) => String(message.content));
      expect(warmLogin).toContain("2 posts by your team so far");
      expect(warmNews).toContain(sessionOf(0));
      expect(warmNews).toContain(sessionOf(1));
      expect(warmJournal).toContain("2 entries of 2");
    } finally {
      await model.close();
    }
  }, 60_000);

  it("--max-cost stops before the budget would be passed", async () => {
    const db = server.database.db;
    vi.stubEnv("OPENAI_BASE_URL", quickModel.url);
    const planned = await planTestRun(db, {
      driver: "openai",
      model: "mock-model",
      suite: fewTasks,
      prices,
      maxCostUsd: 2.5 * costPerAnswer,
    });
    const result = await executeRun(db, planned.run, {
      driver: openaiDriver,
      serverUrl: server.url,
      concurrency: 1,
      signal: new AbortController().signal,
    });
    expect(result.status).toBe("stopped");
    expect(result.stopReason).toMatch(/budget/);
    const finished = (await listBenchTrials(db, planned.run.id)).filter((trial) => trial.status === "finished");
    expect(finished).toHaveLength(2);
    const spent = finished.reduce((sum, trial) => sum + trial.costUsd!, 0);
    expect(spent).toBeCloseTo(2 * costPerAnswer, 12);
    expect(spent).toBeLessThanOrEqual(planned.run.settings.maxCostUsd!);
  }, 60_000);
});
