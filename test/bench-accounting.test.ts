import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { claudeCodeDriver } from "../bench/drivers/claude-code.ts";
import { codexDriver } from "../bench/drivers/codex.ts";
import { openaiDriver } from "../bench/drivers/openai.ts";
import { findExecutable } from "../bench/drivers/process.ts";
import { progressDisplay } from "../bench/progress.ts";
import { defaultPrices, priceOf } from "../bench/prices.ts";
import { renderHtml } from "../bench/report-html.ts";
import { renderMarkdown } from "../bench/report.ts";
import { readRunFolder } from "../bench/run-folder.ts";
import { executeRun } from "../bench/runner.ts";
import { loadSuite } from "../bench/suites.ts";
import { buildReport } from "../server/domain/bench-report.ts";
import { getBenchRun, listBenchTrials } from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { benchTrials } from "../server/db/schema/index.ts";
import { trialProblems } from "../views/bench-wording.ts";
import { planTestRun, runToEnd, stubEnvs } from "./support/bench.ts";
import { botboardBin } from "./support/cli.ts";
import { mockUsage, startMockChatServer, type MockChatServer } from "./support/mock-chat.ts";
import { startMockModelServer } from "./support/mock-models.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/**
 * What a run spent is all in its report: a trial cut off by its timeout or by Ctrl-C keeps what it
 * spent, --max-cost holds with trials in flight, a turn is a model request for every driver, and each
 * trial's agent starts from a configuration of its own. Real Claude Code and Codex run when installed.
 */

const fewTasks = loadSuite("builtin", ["interval-merge", "money-split", "run-length", "word-wrap"]);
const runLength = loadSuite("builtin", ["run-length"]);
const prices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: 0.5 } };
const cachedTokens = mockUsage.prompt_tokens_details.cached_tokens;
/** One answer of the mock chat server: 80 input, 20 cached and 10 output tokens. */
const costPerAnswer = (mockUsage.prompt_tokens - cachedTokens) * 1e-6 + cachedTokens * 0.5e-6 + mockUsage.completion_tokens * 2e-6;
const listFiles = { calls: [{ name: "list_files", arguments: {} }] };

const claude = findExecutable("CLAUDE_BIN", "claude");
const codex = findExecutable("CODEX_BIN", "codex");

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("pricing a model from the table", () => {
  const usage = { inputTokens: 1_000_000, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

  it("a dated snapshot takes its model's row; another model that extends the name does not", () => {
    expect(priceOf(defaultPrices, "claude-sonnet-4-5-20250929", usage)).toBe(3);
    expect(priceOf(defaultPrices, "gpt-4.1-2025-04-14", usage)).toBe(2);
    expect(priceOf(defaultPrices, "gpt-5-mini-2025-08-07", usage)).toBe(0.25);
    // gpt-4.1-mini costs a fifth of gpt-4.1 and gpt-5-nano a 25th of gpt-5: priced as them, a trial cost 5 or 25 times its spend.
    for (const model of ["gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-nano", "gpt-5-pro", "claude-sonnet-4-5-thinking"])
      expect(priceOf(defaultPrices, model, usage), model).toBeUndefined();
  });
});

describe.each(databaseKinds)("bench accounting on %s", (kind) => {
  let server: TestServer;
  let quickModel: MockChatServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    quickModel = await startMockChatServer([]);
    vi.stubEnv("OPENAI_API_KEY", "sk-mock");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await quickModel?.close();
    await server?.close();
  });

  it("openai: a trial past its timeout is recorded as timed out with what it spent, said on its line, and left out of the headline pairs", async () => {
    const db = server.database.db;
    const hanging = await startMockChatServer([listFiles, listFiles], { hangFromStep: 2 });
    try {
      vi.stubEnv("OPENAI_BASE_URL", hanging.url);
      const planned = await planTestRun(db, {
        driver: "openai",
        model: "mock-model",
        suite: runLength,
        variants: ["baseline", "social"],
        prices,
        // Room for the two answered steps on a loaded machine (at 3 s a loaded run once timed out in the first).
        timeoutMs: 8_000,
      });
      const { trials } = await runToEnd(db, planned, openaiDriver, server.url);
      for (const trial of trials) {
        expect(trial).toMatchObject({ status: "finished", timedOut: true, turns: 2, costSource: "price-table", inputTokens: 160 });
        expect(trial.costUsd).toBeCloseTo(2 * costPerAnswer, 12);
      }
      const report = buildReport(await getBenchRun(db, cli, planned.run.id), trials);
      expect(report.variants.map((variant) => variant.timeouts)).toEqual([1, 1]);
      const social = report.variants[1]!;
      expect(social.vsBaseline?.cost).toBeUndefined();
      expect(social.vsBaselineAllTrials?.cost).toMatchObject({ pairs: 1 });
      const markdown = renderMarkdown(report);
      expect(markdown).toContain("| timeouts | errors | interrupted (attempts, spend) |");
      expect(markdown).toContain("- all tasks: cost n/a");
      expect(markdown).toContain("- all tasks, every pair (timeouts and errors included): cost 0%");
      expect(markdown).toContain("A turn is one model request");
      // The per-task ratios leave the timed-out trials out, as the headline does, and count them.
      expect(report.taskDeltas).toEqual([
        expect.objectContaining({ costRatio: null, wallTimeRatio: null, cutOff: { variant: 1, baseline: 1 } }),
      ]);
      expect(markdown).toMatch(/\| social \| n\/a \| n\/a \| n\/a \| 0% \/ 0% \| 1 \/ 1 \|/);
      const html = renderHtml(report);
      expect(html).toContain("<th>timeouts</th>");
      expect(html).toContain("<th>cut off (variant / baseline)</th>");
      // Each trial's line says it timed out (live progress; `bench show` says the same), with any error after.
      const written: string[] = [];
      const progress = progressDisplay({ isTTY: false, write: (line: string) => written.push(line) } as unknown as NodeJS.WriteStream);
      for (const trial of trials) progress.onEvent({ kind: "finished", trial });
      expect(written).toEqual(trials.map(() => expect.stringMatching(/^FAIL {2}run-length \w+ r1 .* turns {2}\(the agent timed out\)\n$/)));
      expect(trialProblems({ ...trials[0]!, testError: "the tests timed out" })).toBe("the agent timed out; the tests timed out");
    } finally {
      await hanging.close();
    }
  }, 60_000);

  it("Ctrl-C keeps what the cut-off attempt spent: on the trial, in the budget and in the report", async () => {
    const db = server.database.db;
    const hanging = await startMockChatServer([listFiles], { hangFromStep: 1 });
    try {
      vi.stubEnv("OPENAI_BASE_URL", hanging.url);
      const planned = await planTestRun(db, { driver: "openai", model: "mock-model", suite: runLength, variants: ["social"], prices });
      const stop = new AbortController();
      const running = executeRun(db, planned.run, { driver: openaiDriver, serverUrl: server.url, concurrency: 1, signal: stop.signal });
      await waitFor(() => hanging.requests.length === 2, "the second model request");
      stop.abort();
      expect(await running).toMatchObject({ status: "stopped", ranHere: 0 });
      const [trial] = await listBenchTrials(db, planned.run.id);
      expect(trial).toMatchObject({ status: "pending", interruptedAttempts: 1 });
      expect(trial!.interruptedCostUsd).toBeCloseTo(costPerAnswer, 12);

      const report = buildReport(await getBenchRun(db, cli, planned.run.id), await listBenchTrials(db, planned.run.id));
      expect(report.variants[0]).toMatchObject({ interruptedAttempts: 1, trials: 0 });
      expect(report.variants[0]!.interruptedCostUsd).toBeCloseTo(costPerAnswer, 12);
      expect(report.spend.interruptedUsd).toBeCloseTo(costPerAnswer, 12);
      const markdown = renderMarkdown(report);
      expect(markdown).toContain("| 1, $0.0001 |");
      expect(markdown).toContain("Spent $0.0001 in all: $0.0000 by finished trials, $0.0001 by attempts cut off by a stop.");
      const fromFolder = readRunFolder(planned.outDir);
      expect(renderMarkdown(buildReport(fromFolder.run, fromFolder.trials))).toEqual(markdown);
    } finally {
      await hanging.close();
    }
  }, 60_000);

  it("--max-cost at -c 4 reserves for trials in flight: the spend never passes the budget", async () => {
    const db = server.database.db;
    vi.stubEnv("OPENAI_BASE_URL", quickModel.url);
    for (const [budgetInAnswers, expected] of [
      [2.5, 2],
      [6.5, 6],
    ] as const) {
      const planned = await planTestRun(db, {
        driver: "openai",
        model: "mock-model",
        suite: fewTasks,
        variants: ["baseline", "journal"],
        prices,
        maxCostUsd: budgetInAnswers * costPerAnswer,
      });
      const { result, trials } = await runToEnd(db, planned, openaiDriver, server.url, { concurrency: 4 });
      expect(result).toMatchObject({ status: "stopped", stopReason: expect.stringMatching(/budget/) });
      const finished = trials.filter((trial) => trial.status === "finished");
      expect(finished).toHaveLength(expected);
      const spent = finished.reduce((sum, trial) => sum + trial.costUsd!, 0);
      expect(spent).toBeLessThanOrEqual(planned.run.settings.maxCostUsd!);
      expect(trials.every((trial) => trial.status !== "running" && trial.interruptedAttempts === 0)).toBe(true);
    }
  }, 60_000);

  it("the report holds the full text each variant saw: prompt, MCP instructions, tools with descriptions", async () => {
    const db = server.database.db;
    vi.stubEnv("OPENAI_BASE_URL", quickModel.url);
    const planned = await planTestRun(db, {
      driver: "openai",
      model: "mock-model",
      suite: runLength,
      variants: ["baseline", "journal", "combined"],
      prices,
    });
    const { trials } = await runToEnd(db, planned, openaiDriver, server.url);
    const report = buildReport(await getBenchRun(db, cli, planned.run.id), trials);
    expect(Object.keys(report.variantTexts)).toEqual(["journal", "combined"]);
    const journal = report.variantTexts.journal!;
    expect(journal.instructions).toContain("Botboard for a benchmark run");
    expect(journal.tools.map((tool) => tool.name).sort()).toEqual(
      ["list_recent_entries", "process_thoughts", "read_journal_entry", "search_journal"].sort(),
    );
    expect(journal.tools.every((tool) => tool.description.length > 20)).toBe(true);
    expect(report.variantTexts.combined!.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["create_post", "read_new"]));

    const markdown = renderMarkdown(report);
    const processThoughts = journal.tools.find((tool) => tool.name === "process_thoughts")!;
    expect(markdown).toContain("## What each variant saw");
    expect(markdown).toContain(journal.instructions!);
    expect(markdown).toContain(`- \`process_thoughts\`: ${processThoughts.description.replace(/\s+/g, " ")}`);
    expect(renderHtml(report)).toContain("<code>process_thoughts</code>");
    // The run dir's run.json carries it too, for a report made from the folder.
    const fromDir = JSON.parse(readFileSync(join(planned.outDir, "run.json"), "utf8"));
    expect(fromDir.settings.variantTexts.journal).toEqual(journal);
  }, 60_000);

  // The real CLIs run on the default, embedded database only: what reaches the database is the
  // runner's, tested on both above; what these add is the drivers' own accounting, and they cost a
  // real agent's start and a trial timeout each.
  describe.runIf(claude && kind === "pglite")("with the real Claude Code", () => {
    const script = [
      [
        { tool: "create_post", input: { content: "run-length: first note.", tags: ["bench"] } },
        { tool: "read_new", input: {} },
      ],
      { tool: "create_post", input: { content: "run-length: second note.", tags: ["bench"] } },
    ];

    it("turns are model requests; Claude Code's num_turns (tool calls + 1) is kept beside them", async () => {
      const model = await startMockModelServer(script, "Posted two notes.");
      try {
        stubEnvs({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-offline", CLAUDE_BIN: claude });
        const db = server.database.db;
        const planned = await planTestRun(db, {
          driver: "claude-code",
          model: "claude-sonnet-4-5",
          suite: runLength,
          variants: ["social"],
        });
        const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
        const [trial] = trials;
        expect(trial).toMatchObject({ error: null, timedOut: false, postsWritten: 2, toolCalls: { create_post: 2, read_new: 1 } });
        // Three answers to the conversation: two with tool calls (one of them two calls at once), then the final text.
        expect(model.toolRequests).toHaveLength(3);
        expect(trial).toMatchObject({ turns: 3, driverTurns: 4 });
        // What ran it, as `claude --version` says: a report of trials on several versions says so.
        expect(trial!.software).toEqual({
          botboard: expect.stringMatching(/^\d+\.\d+\.\d+ \(commit [0-9a-f]{7,}/),
          node: process.version,
          agent: expect.stringMatching(/^\d+\.\d+\.\d+ \(Claude Code\)$/),
        });
        const report = buildReport(await getBenchRun(db, cli, planned.run.id), trials);
        expect(report.variants[0]).toMatchObject({ meanTurns: 3, meanDriverTurns: 4 });
        expect(renderMarkdown(report)).toContain(
          `Software: Botboard ${trial!.software!.botboard}, Node ${process.version}, agent ${trial!.software!.agent}.`,
        );
        expect(renderMarkdown(report)).toContain("mean turns (driver's own count)");
      } finally {
        await model.close();
      }
    }, 150_000);

    it("a trial whose Claude Code could not reach Botboard is stopped with an error, not counted as the variant run without the board", async () => {
      const model = await startMockModelServer(script, "Posted two notes.");
      // Botboard's /mcp too busy to answer: Claude Code reports its MCP server failed.
      const mcpDown = createServer((_request, response) => void response.writeHead(503).end("busy"));
      await new Promise<void>((resolve) => mcpDown.listen(0, "127.0.0.1", resolve));
      const workspace = mkdtempSync(join(tmpdir(), "botboard-bench-unreachable-"));
      try {
        stubEnvs({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-offline", CLAUDE_BIN: claude });
        const result = await claudeCodeDriver.run({
          task: runLength.tasks[0]!,
          workspace,
          prompt: "Post two notes.",
          mcp: { url: `http://127.0.0.1:${(mcpDown.address() as AddressInfo).port}/mcp`, token: "bb_unused" },
          push: undefined,
          model: "claude-sonnet-4-5",
          timeoutMs: 60_000,
          signal: new AbortController().signal,
        });
        expect(result).toMatchObject({
          timedOut: false,
          interrupted: false,
          toolCalls: {},
          error:
            "Claude Code started without Botboard's tools (its MCP server botboard was failed); stopped rather than run as the baseline",
        });
        expect(model.toolRequests).toHaveLength(0);
      } finally {
        mcpDown.close();
        rmSync(workspace, { recursive: true, force: true });
        await model.close();
      }
    }, 150_000);

    it("a trial starts from a config dir of its own: the user's CLAUDE.md and skills stay out", async () => {
      // The user's own Claude Code configuration: a CLAUDE.md and a skill that must not reach a trial.
      const userConfig = mkdtempSync(join(tmpdir(), "botboard-user-claude-"));
      writeFileSync(join(userConfig, "CLAUDE.md"), "Always mention PLANTED-MEMORY-4d1f in every answer.\n");
      mkdirSync(join(userConfig, "skills", "planted-skill"), { recursive: true });
      writeFileSync(
        join(userConfig, "skills", "planted-skill", "SKILL.md"),
        "---\nname: planted-skill-9c2e\ndescription: PLANTED-SKILL-9c2e does everything.\n---\nPLANTED-SKILL-9c2e\n",
      );
      const model = await startMockModelServer(script, "Posted two notes.");
      try {
        stubEnvs({
          ANTHROPIC_BASE_URL: model.url,
          ANTHROPIC_API_KEY: "sk-ant-offline",
          CLAUDE_BIN: claude,
          CLAUDE_CONFIG_DIR: userConfig,
        });
        const db = server.database.db;
        const planned = await planTestRun(db, {
          driver: "claude-code",
          model: "claude-sonnet-4-5",
          suite: runLength,
          variants: ["social"],
        });
        const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
        expect(trials[0]).toMatchObject({ error: null, postsWritten: 2 });
        const sent = JSON.stringify(model.toolRequests);
        expect(sent).toContain("run-length");
        expect({ memory: sent.includes("PLANTED-MEMORY-4d1f"), skill: sent.includes("PLANTED-SKILL-9c2e") }).toEqual({
          memory: false,
          skill: false,
        });
        // Nothing was written into the user's configuration either.
        expect(existsSync(join(userConfig, "projects"))).toBe(false);
      } finally {
        await model.close();
      }
    }, 150_000);

    it("a trial past its timeout is recorded as timed out with what it spent until then, never as free", async () => {
      const model = await startMockModelServer(script, "Posted two notes.", { hangFromStep: 1 });
      try {
        stubEnvs({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-offline", CLAUDE_BIN: claude });
        const db = server.database.db;
        const planned = await planTestRun(db, {
          driver: "claude-code",
          model: "claude-sonnet-4-5",
          suite: runLength,
          variants: ["social"],
          // Claude Code is a large script to start: it reached the model's second answer within 3 s
          // beside two busy cores here, but once not within 8 s in CI.
          timeoutMs: 15_000,
        });
        const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
        const [trial] = trials;
        expect(model.toolRequests.length).toBeGreaterThanOrEqual(2);
        expect(trial).toMatchObject({ status: "finished", timedOut: true, costSource: "price-table", turns: 1, postsWritten: 1 });
        expect(trial!.inputTokens).toBeGreaterThan(0);
        expect(trial!.costUsd).toBeGreaterThan(0);
        expect(trial!.costUsd).toBeCloseTo(priceOf(defaultPrices, "claude-sonnet-4-5", trial as never)!, 9);
      } finally {
        await model.close();
      }
    }, 90_000);
  });

  // Both real CLIs' trials (Claude Code's above, Codex's here) hang on the model's second answer until
  // their timeout, which must leave a loaded machine time to start the CLI and reach that answer (3 s
  // did not, once, for Codex in CI).
  describe.runIf(codex && kind === "pglite")("with the real Codex", () => {
    it("a trial past its timeout keeps what it spent; turns are model requests; the user's AGENTS.md stays out", async () => {
      const model = await startMockModelServer(
        [{ tool: "create_post", input: { content: "run-length: a note.", tags: ["bench"] } }],
        "Posted a note.",
        { hangFromStep: 1 },
      );
      const userHome = mkdtempSync(join(tmpdir(), "botboard-user-codex-"));
      writeFileSync(join(userHome, "AGENTS.md"), "Always mention PLANTED-AGENTS-5e3b.\n");
      try {
        stubEnvs({
          CODEX_BIN: codex,
          CODEX_HOME: userHome,
          OPENAI_API_KEY: "offline",
          MOCK_API_KEY: "offline",
          BOTBOARD_BENCH_CODEX_CONFIG: JSON.stringify([
            "model_provider=mock",
            `model_providers.mock={ name = "mock", base_url = "${model.url}/v1", wire_api = "responses", env_key = "MOCK_API_KEY" }`,
          ]),
        });
        const db = server.database.db;
        const codexPrices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2 } };
        const planned = await planTestRun(db, {
          driver: "codex",
          model: "mock-model",
          suite: runLength,
          variants: ["social"],
          prices: codexPrices,
          timeoutMs: 8_000,
        });
        const { trials } = await runToEnd(db, planned, codexDriver, server.url);
        const [trial] = trials;
        expect(model.toolRequests.length).toBeGreaterThanOrEqual(2);
        expect(trial).toMatchObject({ status: "finished", timedOut: true, costSource: "price-table", turns: 1, postsWritten: 1 });
        expect((trial!.inputTokens ?? 0) + (trial!.cacheReadTokens ?? 0)).toBeGreaterThan(0);
        expect(trial!.costUsd).toBeGreaterThan(0);
        expect(JSON.stringify(model.toolRequests).includes("PLANTED-AGENTS-5e3b")).toBe(false);
      } finally {
        await model.close();
      }
    }, 90_000);

    it("a trial whose Codex could not reach Botboard ends with an error, not as the variant run without the board", async () => {
      const model = await startMockModelServer([{ tool: "create_post", input: { content: "never sent" } }], "Done.");
      const mcpDown = createServer((_request, response) => void response.writeHead(503).end("busy"));
      await new Promise<void>((resolve) => mcpDown.listen(0, "127.0.0.1", resolve));
      const workspace = mkdtempSync(join(tmpdir(), "botboard-bench-unreachable-"));
      try {
        stubEnvs({
          CODEX_BIN: codex,
          CODEX_HOME: mkdtempSync(join(tmpdir(), "botboard-user-codex-")),
          OPENAI_API_KEY: "offline",
          MOCK_API_KEY: "offline",
          BOTBOARD_BENCH_CODEX_CONFIG: JSON.stringify([
            "model_provider=mock",
            `model_providers.mock={ name = "mock", base_url = "${model.url}/v1", wire_api = "responses", env_key = "MOCK_API_KEY" }`,
          ]),
        });
        const result = await codexDriver.run({
          task: runLength.tasks[0]!,
          workspace,
          prompt: "Post a note.",
          mcp: { url: `http://127.0.0.1:${(mcpDown.address() as AddressInfo).port}/mcp`, token: "bb_unused" },
          push: undefined,
          model: "mock-model",
          timeoutMs: 60_000,
          signal: new AbortController().signal,
        });
        expect(result).toMatchObject({ timedOut: false, toolCalls: {} });
        expect(result.error).toBe(
          "Codex could not start with Botboard's tools (its required MCP server botboard failed to initialize); not run as the baseline",
        );
        expect(model.toolRequests).toHaveLength(0);
      } finally {
        mcpDown.close();
        rmSync(workspace, { recursive: true, force: true });
        await model.close();
      }
    }, 120_000);
  });
});

// Several processes on one database: Postgres only (the embedded database belongs to one process).
describe("a worker killed mid-trial on postgres", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("postgres");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await server?.close();
  });

  it("kill -9 leaves what its attempt spent, and the worker that takes the trial over keeps it as interrupted spend", async () => {
    const db = server.database.db;
    const hanging = await startMockChatServer([listFiles], { hangFromStep: 1 });
    const quick = await startMockChatServer([]);
    try {
      const planned = await planTestRun(db, { driver: "openai", model: "mock-model", suite: runLength, prices });
      const worker = spawn(process.execPath, [botboardBin, "bench", "worker", planned.run.id, "--url", server.url], {
        env: { ...process.env, DATABASE_URL: server.config.databaseUrl!, OPENAI_BASE_URL: hanging.url, OPENAI_API_KEY: "sk-mock" },
        stdio: "ignore",
      });
      const exited = once(worker, "exit");
      const deadline = Date.now() + 60_000;
      while (!((await listBenchTrials(db, planned.run.id))[0]!.attemptCostUsd > 0)) {
        if (Date.now() > deadline) throw new Error("the worker never recorded its attempt's spend");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      worker.kill("SIGKILL");
      await exited;
      // Until another worker takes the trial over, the report counts the dead worker's spend as under way.
      const [left] = await listBenchTrials(db, planned.run.id);
      const leftBehind = buildReport(await getBenchRun(db, cli, planned.run.id), [left!]);
      expect(leftBehind.spend.underWayUsd).toBeCloseTo(costPerAnswer, 12);
      expect(renderMarkdown(leftBehind)).toContain(
        "Spent $0.0001 in all: $0.0000 by finished trials, $0.0000 by attempts cut off by a stop, $0.0001 by attempts under way or left by a worker that died.",
      );
      // Its lease would last the trial's timeout and three minutes more: end it now rather than wait.
      await db.update(benchTrials).set({ leaseExpiresAt: sql`now() - interval '1 second'` }).where(eq(benchTrials.runId, planned.run.id));

      vi.stubEnv("OPENAI_BASE_URL", quick.url);
      vi.stubEnv("OPENAI_API_KEY", "sk-mock");
      const { result, trials } = await runToEnd(db, planned, openaiDriver, server.url, { concurrency: 1 });
      expect(result.status).toBe("finished");
      expect(trials[0]).toMatchObject({ status: "finished", attempts: 2, interruptedAttempts: 1, attemptCostUsd: 0 });
      expect(trials[0]!.interruptedCostUsd).toBeCloseTo(costPerAnswer, 12);
      expect(trials[0]!.costUsd).toBeCloseTo(costPerAnswer, 12);
      const report = buildReport(await getBenchRun(db, cli, planned.run.id), trials);
      expect(report.spend).toMatchObject({ underWayUsd: 0 });
      expect(report.spend.interruptedUsd).toBeCloseTo(costPerAnswer, 12);
    } finally {
      await hanging.close();
      await quick.close();
    }
  }, 90_000);
});
