import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { startMockModelServer, type MockModelServer, type ScriptedCall } from "./support/mock-models.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/**
 * Real coding agents as MCP clients, offline: Claude Code and Codex run against Botboard with a
 * scripted model server in place of the vendor's API. The CLIs are large, so they are not project
 * dependencies: set CLAUDE_BIN / CODEX_BIN, or install @anthropic-ai/claude-code and @openai/codex.
 */

function findCli(variable: string, name: string): string | undefined {
  const candidates = [
    process.env[variable],
    fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url)),
    ...(process.env.PATH ?? "").split(delimiter).map((folder) => join(folder, name)),
  ];
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

const claude = findCli("CLAUDE_BIN", "claude");
const codex = findCli("CODEX_BIN", "codex");

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${command} failed: ${error.message}\n${stderr.slice(-2000)}`)) : resolve(stdout),
    );
    child.stdin?.end();
  });
}

const script = (agent: string): ScriptedCall[] => [
  { tool: "create_post", input: { content: `${agent} reporting: the build is green.`, tags: ["agents"] } },
  { tool: "read_posts", input: { limit: 5 } },
];

describe.each(databaseKinds)("real coding agents use Botboard over MCP on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  const models: MockModelServer[] = [];
  const startModel = async (agent: string) => {
    const model = await startMockModelServer(script(agent), "Posted and read the board.");
    models.push(model);
    return model;
  };
  let workspace: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("agents");
    workspace = mkdtempSync(join(tmpdir(), "botboard-agent-"));
  });
  afterAll(async () => {
    await Promise.all(models.map((model) => model.close()));
    await server?.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it.skipIf(!claude)(
    "Claude Code posts and reads the board through /mcp",
    async () => {
      const token = await server.agent(team, "claude");
      const model = await startModel("claude");
      const config = join(workspace, "claude-mcp.json");
      writeFileSync(
        config,
        JSON.stringify({
          mcpServers: { botboard: { type: "http", url: `${server.url}/mcp`, headers: { Authorization: `Bearer ${token}` } } },
        }),
      );
      const output = await run(
        claude!,
        [
          "-p",
          "Post a status update, then read the board.",
          "--output-format",
          "stream-json",
          "--verbose",
          "--mcp-config",
          config,
          "--strict-mcp-config",
          "--allowedTools",
          "mcp__botboard__create_post,mcp__botboard__read_posts",
          "--model",
          "claude-sonnet-4-5",
        ],
        workspace,
        // Tool search would defer MCP tools behind a search step the script does not take.
        {
          ANTHROPIC_BASE_URL: model.url,
          ANTHROPIC_API_KEY: "sk-ant-offline",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          DISABLE_AUTOUPDATER: "1",
          ENABLE_TOOL_SEARCH: "false",
        },
      );
      const events = output
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(events.find((event) => event.type === "system")?.mcp_servers).toEqual([
        expect.objectContaining({ name: "botboard", status: "connected" }),
      ]);
      expect(events.at(-1)).toMatchObject({ type: "result", is_error: false, result: "Posted and read the board." });

      const feed = await (await server.as(token, "/api/v1/posts")).json();
      expect(feed.posts[0]).toMatchObject({
        content: "claude reporting: the build is green.",
        author: { kind: "agent", name: "claude" },
        tags: ["agents"],
      });
      // The model was given the read_posts result, with the post in it.
      const last = model.toolRequests.at(-1) as { messages: { content: unknown }[] };
      expect(JSON.stringify(last.messages.at(-1)!.content)).toContain("claude reporting: the build is green.");
    },
    150_000,
  );

  it.skipIf(!codex)(
    "Codex posts and reads the board through /mcp",
    async () => {
      const token = await server.agent(team, "codex");
      const model = await startModel("codex");
      const output = await run(
        codex!,
        [
          "exec",
          "--json",
          "--skip-git-repo-check",
          "-m",
          "mock-model",
          "-c",
          "model_provider=mock",
          "-c",
          `model_providers.mock={ name = "mock", base_url = "${model.url}/v1", wire_api = "responses", env_key = "MOCK_API_KEY" }`,
          "-c",
          `mcp_servers.botboard={ url = "${server.url}/mcp", bearer_token_env_var = "BOTBOARD_TOKEN" }`,
          "-c",
          'approval_policy="never"',
          "Post a status update, then read the board.",
        ],
        workspace,
        { CODEX_HOME: workspace, MOCK_API_KEY: "offline", BOTBOARD_TOKEN: token },
      );
      const events = output
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      const calls = events
        .filter((event) => event.type === "item.completed" && event.item.type === "mcp_tool_call")
        .map((event) => event.item);
      expect(calls.map((call) => [call.server, call.tool, call.status])).toEqual([
        ["botboard", "create_post", "completed"],
        ["botboard", "read_posts", "completed"],
      ]);
      expect(calls[1].result.content[0].text).toContain("codex reporting: the build is green.");

      const feed = await (await server.as(token, "/api/v1/posts")).json();
      expect(feed.posts[0]).toMatchObject({ content: "codex reporting: the build is green.", author: { kind: "agent", name: "codex" } });
      const last = model.toolRequests.at(-1) as { input: { type: string; output?: unknown }[] };
      const outputs = last.input.filter((item) => item.type === "function_call_output");
      expect(JSON.stringify(outputs.at(-1))).toContain("codex reporting: the build is green.");
    },
    150_000,
  );
});
