import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { claudeCodeDriver } from "../bench/drivers/claude-code.ts";
import { codexDriver } from "../bench/drivers/codex.ts";
import { openaiDriver } from "../bench/drivers/openai.ts";
import { findExecutable } from "../bench/drivers/process.ts";
import { loadSuite } from "../bench/suites.ts";
import { buildReport } from "../server/domain/bench-report.ts";
import { getBenchRun } from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { startMockModelServer, type MockModelServer } from "./support/mock-models.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { planTestRun, runToEnd, stubEnvs } from "./support/bench.ts";

/**
 * The push variants give the agent the feed through its client's hooks as well as its tools. With
 * the real Claude Code and Codex against the scripted model: in an accumulate run (one agent, a session per
 * task, one board), the second task's session starts with the first one's post in its context,
 * though its model called no tool to read it.
 */

const claude = findExecutable("CLAUDE_BIN", "claude");
const codex = findExecutable("CODEX_BIN", "codex");
const suite = loadSuite("builtin", ["run-length", "semver-sort"]);
const note = "finding: the starter's tests import from src/index.ts, not from the task file";
const script = [{ tool: "create_post", input: { content: note, tags: ["bench"] } }];

type AnthropicRequest = { messages: { content: string | { type: string }[] }[] };
type ResponsesRequest = { input: string | { type?: string }[] };
/** A conversation's first request: no tool result in it yet. */
const opensConversation = (request: AnthropicRequest) =>
  !request.messages.some((message) => Array.isArray(message.content) && message.content.some((part) => part.type === "tool_result"));
const opensResponsesConversation = (request: ResponsesRequest) =>
  !Array.isArray(request.input) || !request.input.some((item) => item.type === "function_call_output");

describe.each(databaseKinds)("the push variants of the benchmark on %s", (kind) => {
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
    "claude-code, social-push: the second session's first model request carries the digest of the first session's post",
    async () => {
      stubEnvs({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-ant-offline", CLAUDE_BIN: claude });
      const db = server.database.db;
      const planned = await planTestRun(db, {
        driver: "claude-code",
        model: "claude-sonnet-4-5",
        suite,
        variants: ["social-push"],
        phase: "accumulate",
        concurrency: 1,
      });
      const { trials } = await runToEnd(db, planned, claudeCodeDriver, server.url);
      expect(trials.map((trial) => [trial.status, trial.error, trial.postsWritten])).toEqual([
        ["finished", null, 1],
        ["finished", null, 1],
      ]);
      const openings = (model.toolRequests as AnthropicRequest[]).filter(opensConversation).map((request) => JSON.stringify(request));
      expect(openings).toHaveLength(2);
      expect(openings[0]).not.toContain(note);
      expect(openings[1]).toContain(note);
      // The digest's closing line, and no tool read it: the model made no read call.
      expect(openings[1]).toContain("Nothing more unread; read_new gives what arrives next.");
      expect(trials.every((trial) => !("read_new" in (trial.toolCalls as Record<string, number>)))).toBe(true);

      const report = buildReport(await getBenchRun(db, cli, planned.run.id), trials);
      expect(report.variantTexts["social-push"]?.push).toMatch(/^Also pushed through the client's hooks/);
    },
    240_000,
  );

  it.skipIf(!codex)(
    "codex, combined-push: the second session's first model request carries the digest of the first session's post",
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
      model.toolRequests.length = 0;
      const db = server.database.db;
      const prices = { "mock-model": { inputPerMTok: 1, outputPerMTok: 2 } };
      const planned = await planTestRun(db, {
        driver: "codex",
        model: "mock-model",
        suite,
        variants: ["combined-push"],
        phase: "accumulate",
        concurrency: 1,
        prices,
      });
      const { trials } = await runToEnd(db, planned, codexDriver, server.url);
      expect(trials.map((trial) => [trial.status, trial.error, trial.postsWritten])).toEqual([
        ["finished", null, 1],
        ["finished", null, 1],
      ]);
      const openings = (model.toolRequests as ResponsesRequest[])
        .filter(opensResponsesConversation)
        .map((request) => JSON.stringify(request));
      expect(openings).toHaveLength(2);
      expect(openings[0]).not.toContain(note);
      expect(openings[1]).toContain(note);
      expect(openings[1]).toContain("Nothing more unread; read_new gives what arrives next.");
    },
    240_000,
  );

  it("a driver whose agent runs no hooks refuses the push variants before any trial", async () => {
    const db = server.database.db;
    const planned = await planTestRun(db, { driver: "openai", suite, variants: ["social", "combined-push"] });
    await expect(runToEnd(db, planned, openaiDriver, server.url)).rejects.toThrow(
      "The combined-push variant cannot run: the openai driver calls the model's API itself and runs no client hooks; use claude-code or codex.",
    );
  });
});
