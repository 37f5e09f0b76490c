import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openaiDriver } from "../bench/drivers/openai.ts";
import { DriverUnavailable } from "../bench/drivers/driver.ts";
import { buildReport } from "../server/domain/bench-report.ts";
import { loadSuite } from "../bench/suites.ts";
import { getBenchRun, listBenchTrials } from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { startMockChatServer, type ChatStep, type MockChatServer } from "./support/mock-chat.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { planTestRun, runToEnd } from "./support/bench.ts";

/**
 * The built-in agent loop against a scripted Chat Completions server: it really writes the files,
 * runs a command, and posts to Botboard through a real MCP client; the totals are the script's.
 */

const runLength = loadSuite("builtin", ["run-length"]);
const solution = readFileSync(runLength.tasks[0]!.solution[0]!.source, "utf8");
const prices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: 0.5 } };

const script: ChatStep[] = [
  {
    calls: [
      { name: "list_files", arguments: {} },
      { name: "botboard__read_new", arguments: {} },
    ],
  },
  { calls: [{ name: "write_file", arguments: { path: "run_length.py", content: solution } }] },
  { calls: [{ name: "run_command", arguments: { command: "python3 -c 'from run_length import encode; print(encode(\"aaab\"))'" } }] },
  {
    calls: [
      { name: "botboard__create_post", arguments: { content: "run-length: counts over 9 need a regex, not one digit.", tags: ["bench"] } },
    ],
  },
  { text: "Implemented the codec." },
];

describe.each(databaseKinds)("the openai driver on %s", (kind) => {
  let server: TestServer;
  let model: MockChatServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    model = await startMockChatServer(script);
    vi.stubEnv("OPENAI_BASE_URL", model.url);
    vi.stubEnv("OPENAI_API_KEY", "sk-mock");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await model?.close();
    await server?.close();
  });

  it("needs a key and a model before any trial starts", async () => {
    vi.stubEnv("OPENAI_API_KEY", undefined);
    await expect(openaiDriver.check("mock-model")).rejects.toThrow(DriverUnavailable);
    vi.stubEnv("OPENAI_API_KEY", "sk-mock");
    await expect(openaiDriver.check(undefined)).rejects.toThrow(/--model/);
    await expect(openaiDriver.check("mock-model")).resolves.toBeUndefined();
  });

  it("solves a task with workspace tools, posts through MCP, and reports the scripted usage exactly", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "openai", model: "mock-model", suite: runLength, variants: ["social"], prices });
    const { result, trials } = await runToEnd(db, planned, openaiDriver, server.url);
    expect(result.status).toBe("finished");
    const [trial] = trials;
    expect(trial).toMatchObject({
      passed: true,
      error: null,
      turns: 5,
      inputTokens: 5 * 80,
      cacheReadTokens: 5 * 20,
      outputTokens: 5 * 10,
      costSource: "price-table",
      postsWritten: 1,
      reads: 1,
      toolCalls: { list_files: 1, read_new: 1, write_file: 1, run_command: 1, create_post: 1 },
    });
    expect(trial!.costUsd).toBeCloseTo(400 * 1e-6 + 100 * 0.5e-6 + 50 * 2e-6, 12);

    // The post is real, signed by the trial's agent on the trial's own board.
    const token = await server.agent({ id: trial!.teamId! } as never, "reader");
    const feed = await (await server.as(token, "/api/v1/posts")).json();
    expect(feed.posts.map((post: { content: string; author: { name: string } }) => [post.content, post.author.name])).toEqual([
      ["run-length: counts over 9 need a regex, not one digit.", "agent-run-length"],
    ]);

    // The model saw only the social tools, and the command's real output.
    const offered = model.requests.at(-1)!.tools!.map((tool) => tool.function.name);
    expect(offered).toEqual(expect.arrayContaining(["write_file", "run_command", "botboard__create_post", "botboard__read_new"]));
    expect(offered.some((name) => name.includes("journal") || name === "botboard__process_thoughts")).toBe(false);
    expect(JSON.stringify(model.requests.at(-2)!.messages.at(-1))).toContain("3a1b");

    const report = buildReport(await getBenchRun(db, cli, planned.run.id), await listBenchTrials(db, planned.run.id));
    expect(report.variants[0]).toMatchObject({
      inputTokens: 400,
      cacheReadTokens: 100,
      outputTokens: 50,
      postsWritten: 1,
      reads: 1,
      passed: 1,
    });
    expect(report.variants[0]!.totalCostUsd).toBeCloseTo(0.00055, 12);
    model.requests.length = 0;
  }, 60_000);
});
