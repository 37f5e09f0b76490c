import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { claudeCodeDriver } from "../bench/drivers/claude-code.ts";
import { codexDriver } from "../bench/drivers/codex.ts";
import { findExecutable } from "../bench/drivers/process.ts";
import { defaultPrices, priceOf } from "../bench/prices.ts";
import { loadSuite } from "../bench/suites.ts";
import { startMockModelServer, type MockModelServer } from "./support/mock-models.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { planTestRun, runToEnd, stubEnvs } from "./support/bench.ts";

/**
 * The claude-code and codex drivers run the real CLIs against the scripted model server, so they
 * parse what the tools really print. The CLIs are large and not project dependencies: set CLAUDE_BIN /
 * CODEX_BIN or install @anthropic-ai/claude-code and @openai/codex; without them these tests skip.
 */

const claude = findExecutable("CLAUDE_BIN", "claude");
const codex = findExecutable("CODEX_BIN", "codex");
const task = loadSuite("builtin", ["run-length"]);
const script = [{ tool: "create_post", input: { content: "run-length: looked at the starter, nothing done yet.", tags: ["bench"] } }];

describe.each(databaseKinds)("real agent CLIs as bench drivers on %s", (kind) => {
  let server: TestServer;
  let model: MockModelServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    model = await startMockModelServer(script, "Posted a note.");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await model?.close();
    await server?.close();
  });

  it.skipIf(!claude)(
    "claude-code: posts through MCP; cost, turns and usage come from its result event",
    async () => {
      stubEnvs({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-offline", CLAUDE_BIN: claude });
      await claudeCodeDriver.check(undefined);
      const db = server.database.db;
      const planned = await planTestRun(db, { driver: "claude-code", model: "claude-sonnet-4-5", suite: task, variants: ["social"] });
      const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
      const [trial] = trials;
      expect(trial).toMatchObject({
        passed: false,
        error: null,
        timedOut: false,
        costSource: "driver",
        postsWritten: 1,
        toolCalls: { create_post: 1 },
      });
      expect(trial!.turns).toBeGreaterThanOrEqual(2);
      expect(trial!.inputTokens).toBeGreaterThan(0);
      // Claude Code prices the mock's usage itself; at list price that is what the table says too.
      expect(trial!.costUsd).toBeCloseTo(priceOf(defaultPrices, "claude-sonnet-4-5", trial as never)!, 6);
    },
    150_000,
  );

  it.skipIf(!claude)(
    "claude-code: a run past its timeout is recorded as timed out",
    async () => {
      const db = server.database.db;
      const planned = await planTestRun(db, {
        driver: "claude-code",
        model: "claude-sonnet-4-5",
        suite: task,
        variants: ["baseline"],
        timeoutMs: 200,
      });
      const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
      expect(trials[0]).toMatchObject({ status: "finished", passed: false, timedOut: true });
    },
    60_000,
  );

  it.skipIf(!codex)(
    "codex: posts through MCP; tokens from its turn events are priced from the table",
    async () => {
      stubEnvs({
        CODEX_BIN: codex,
        OPENAI_API_KEY: "offline",
        MOCK_API_KEY: "offline",
        BOTBOARD_BENCH_CODEX_CONFIG: JSON.stringify([
          "model_provider=mock",
          `model_providers.mock={ name = "mock", base_url = "${model.url}/v1", wire_api = "responses", env_key = "MOCK_API_KEY" }`,
        ]),
      });
      await codexDriver.check(undefined);
      const db = server.database.db;
      const prices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2 } };
      const planned = await planTestRun(db, { driver: "codex", model: "mock-model", suite: task, variants: ["social"], prices });
      const { trials } = await runToEnd(db, planned, codexDriver, server.url);
      const [trial] = trials;
      expect(trial).toMatchObject({
        passed: false,
        error: null,
        costSource: "price-table",
        postsWritten: 1,
        toolCalls: { create_post: 1 },
      });
      const { inputTokens, cacheReadTokens, outputTokens } = trial as {
        inputTokens: number;
        cacheReadTokens: number;
        outputTokens: number;
      };
      expect(inputTokens + cacheReadTokens).toBeGreaterThan(0);
      expect(trial!.costUsd).toBeCloseTo(inputTokens * 1e-6 + cacheReadTokens * 1e-6 + outputTokens * 2e-6, 12);
    },
    150_000,
  );
});
