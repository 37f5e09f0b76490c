import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type CallToolRequest, CallToolResultSchema, type McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolNames } from "../mcp/server.ts";
import { revokeAgentTokens } from "../server/domain/agents.ts";
import { cli } from "../server/domain/callers.ts";
import type { Team } from "../server/domain/teams.ts";
import { botboardBin } from "./support/cli.ts";
import { callTool } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** Spawns `botboard mcp` as a coding agent would, talking MCP over its stdin and stdout. */
async function spawnStdio(
  environment: Record<string, string>,
  args: string[] = [],
): Promise<{ client: Client; stderr: () => string; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [botboardBin, "mcp", ...args],
    env: { PATH: process.env.PATH ?? "", ...environment },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "stdio-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr, pid: transport.pid! };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(databaseKinds)("botboard mcp (stdio) on %s", (kind) => {
  let server: TestServer;
  let team: Team;

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("stdio");
  });
  afterAll(() => server?.close());

  it("exposes the same tools as /mcp and posts through the server", async () => {
    const token = await server.agent(team, "spawned");
    const { client, stderr } = await spawnStdio({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: token });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([...toolNames].sort());
      expect(tools.find((tool) => tool.name === "create_post")!.annotations?.readOnlyHint).toBe(false);
      expect(client.getInstructions()).toContain("Botboard");

      const posted = await callTool(client, "create_post", { content: "Hello from a spawned agent.", tags: ["stdio"] });
      expect(posted.isError).toBeFalsy();
      const feed = await (await server.as(token, "/api/v1/posts?tag=stdio")).json();
      expect(feed.posts[0]).toMatchObject({ content: "Hello from a spawned agent.", author: { name: "spawned", kind: "agent" } });

      const bad = await callTool(client, "read_posts", { limit: 0 });
      expect(bad.isError).toBe(true);
      expect(bad.text).toMatch(/limit/);
      expect(stderr()).toBe("");
    } finally {
      await client.close();
    }
  });

  it("answers a line that is not JSON, or not one JSON-RPC message, with an error of no id, as /mcp answers such a body, and goes on", async () => {
    const token = await server.agent(team, "unreadable-lines");
    const proxy = spawn(process.execPath, [botboardBin, "mcp", "--url", server.url, "--token", token], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { PATH: process.env.PATH ?? "" },
    });
    const answers: { id: unknown; error?: { code: number; message: string } }[] = [];
    createInterface({ input: proxy.stdout }).on("line", (line) => answers.push(JSON.parse(line)));
    try {
      const initialize = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1.0.0" } };
      proxy.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: initialize })}\n`);
      await expect.poll(() => answers.length, { timeout: 20_000 }).toBe(1);
      for (const line of [
        '{"jsonrpc":"2.0","id":2,"method":"ping"',
        '[{"jsonrpc":"2.0","id":3,"method":"ping"}]',
        '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
      ]) {
        proxy.stdin.write(`${line}\n`);
      }
      proxy.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ping" })}\n`);
      await expect.poll(() => answers.length, { timeout: 20_000 }).toBe(5);
      expect(answers.slice(1).map((answer) => [answer.id, answer.error?.code])).toEqual([
        [null, -32700],
        [null, -32600],
        [null, -32600],
        [5, undefined],
      ]);
      expect(answers[2]!.error!.message).toMatch(/^Invalid Request: a line holds one JSON-RPC message/);
    } finally {
      proxy.stdin.end();
      await once(proxy, "exit");
    }
  });

  it("answers a malformed request and an unknown tool with the one-line invalid-params error /mcp gives", async () => {
    const token = await server.agent(team, "malformed");
    const { client, stderr } = await spawnStdio({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: token });
    try {
      const send = (params: unknown) =>
        client.request({ method: "tools/call", params: params as CallToolRequest["params"] }, CallToolResultSchema).then(
          () => "answered",
          (error: McpError) => ({ code: error.code, message: error.message }),
        );
      const invalid = (message: string) => ({ code: -32602, message: `MCP error -32602: ${message}` });
      expect(await send({ name: "read_posts", arguments: null })).toEqual(
        invalid("params.arguments must be an object of the tool's arguments, or left out; it was null."),
      );
      expect(await send({ name: "read_posts", arguments: [1] })).toEqual(
        invalid("params.arguments must be an object of the tool's arguments, or left out; it was an array."),
      );
      expect(await send({ arguments: {} })).toEqual(invalid("params.name must be the tool's name, a string; it was missing."));
      expect(await send({ name: "drop_tables", arguments: {} })).toEqual(invalid("Unknown tool: drop_tables"));
      expect(await send({ name: "read_posts" })).toBe("answered");
      const listed = await client
        .request({ method: "tools/list", params: { cursor: 5 } } as never, CallToolResultSchema)
        .catch((error: McpError) => ({ code: error.code, message: error.message }));
      expect(listed).toEqual(invalid("params.cursor must be a string; it was a number."));
      expect(stderr()).toBe("");
    } finally {
      await client.close();
    }
  });

  it("takes --url and --token flags, keeps a pick-name session, and reports a revoked token as a tool error", async () => {
    const token = await server.agent(team, "flagged", { pickName: true });
    const { client } = await spawnStdio({}, ["--url", `${server.url}/mcp`, "--token", token]);
    try {
      expect((await callTool(client, "login", { agent_name: "piped" })).structuredContent).toMatchObject({ name: "flagged/piped" });
      const posted = await callTool(client, "create_post", { content: "signed by the chosen name" });
      expect(posted.structuredContent).toMatchObject({ post: { author: "flagged/piped" } });

      await revokeAgentTokens(server.database.db, cli, team.id, "flagged");
      const refused = await callTool(client, "read_posts");
      expect(refused.isError).toBe(true);
      expect(refused.text).toBe("Botboard refused the call (HTTP 401): This token has been revoked.");
    } finally {
      await client.close();
    }
  });

  it("ends its session when it exits, so a restarted agent gets its chosen name back at once", async () => {
    const token = await server.agent(team, "restarting", { pickName: true });
    const exits: Record<string, (proxy: { client: Client; pid: number }) => Promise<void>> = {
      "stdin closes": ({ client }) => client.close(),
      SIGTERM: async ({ client, pid }) => {
        process.kill(pid, "SIGTERM");
        await expect.poll(() => isRunning(pid), { timeout: 10_000 }).toBe(false);
        await client.close();
      },
    };
    for (const [how, exit] of Object.entries(exits)) {
      const first = await spawnStdio({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: token });
      expect((await callTool(first.client, "login", { agent_name: "phoenix" })).isError, how).toBeFalsy();
      await exit(first);
      expect(first.stderr(), how).toBe("");
      const again = await spawnStdio({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: token });
      try {
        const login = await callTool(again.client, "login", { agent_name: "phoenix" });
        expect({ how, text: login.isError ? login.text : "", name: login.structuredContent?.name }).toEqual({
          how,
          text: "",
          name: "restarting/phoenix",
        });
      } finally {
        await again.client.close();
      }
    }
  });

  it("refuses to start without a token or with a bad one, saying why on stderr and nothing on stdout", async () => {
    const run = (environment: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [botboardBin, "mcp"],
          { env: { PATH: process.env.PATH ?? "", ...environment } },
          (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
        );
      });
    const missing = await run({ BOTBOARD_URL: server.url });
    expect(missing).toMatchObject({ code: 78, stdout: "" });
    expect(missing.stderr).toContain("BOTBOARD_TOKEN");
    const wrong = await run({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: "bb_wrong" });
    expect(wrong).toMatchObject({ code: 78, stdout: "" });
    expect(wrong.stderr).toContain("Invalid token");
  });
});
