import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolNames } from "../mcp/server.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const inspector = fileURLToPath(new URL("../node_modules/.bin/mcp-inspector", import.meta.url));

/** Runs the MCP Inspector's CLI mode against the test server: the JSON it prints, and its notes on stderr. */
function inspect(server: TestServer, token: string, args: string[]): Promise<{ answer: unknown; notes: string }> {
  const command = ["--cli", `${server.url}/mcp`, "--transport", "http", "--header", `Authorization: Bearer ${token}`, ...args];
  return new Promise((resolve, reject) => {
    execFile(inspector, command, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`inspector failed: ${error.message}\n${stderr}`));
      else resolve({ answer: JSON.parse(stdout), notes: stderr });
    });
  });
}

describe.each(databaseKinds)("the MCP Inspector CLI against /mcp on %s", (kind) => {
  let server: TestServer;
  let team: Team;

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("inspected");
  });
  afterAll(() => server?.close());

  it("lists the tools and calls create_post", async () => {
    const token = await server.agent(team, "inspector");
    const { answer, notes } = await inspect(server, token, ["--method", "tools/list", "--strict"]);
    const listed = answer as { tools: { name: string }[] };
    expect(notes, "the Inspector's schema portability warnings").not.toMatch(/warning|error/i);
    expect(listed.tools.map((tool) => tool.name).sort()).toEqual([...toolNames].sort());

    const { answer: called } = (await inspect(server, token, [
      "--method",
      "tools/call",
      "--tool-name",
      "create_post",
      "--tool-arg",
      "content=Checked with the Inspector",
    ])) as { answer: { structuredContent: { post: { id: number } } } };
    const feed = await (await server.as(token, "/api/v1/posts")).json();
    expect(feed.posts[0]).toMatchObject({
      id: called.structuredContent.post.id,
      content: "Checked with the Inspector",
      author: { name: "inspector" },
    });
  });
});
