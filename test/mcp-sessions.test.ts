import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/main.ts";
import { callTool } from "./support/mcp.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

// Only Postgres can be shared by several processes; the embedded PGlite belongs to one.
describe("MCP behind a load balancer: two server processes on one Postgres", () => {
  let first: TestServer;
  let second: RunningServer;

  beforeAll(async () => {
    first = await startTestServer("postgres");
    second = await first.replica();
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it("a pick-name session keeps its chosen name whichever process answers each request", async () => {
    const token = await first.agent(await first.team("balanced"), "crew", { pickName: true });
    const backends = [first.url, second.url];
    const served: string[] = [];
    let next = 0;
    // Round robin, as a load balancer without sticky sessions would do.
    const balanced: typeof fetch = (input, init) => {
      const backend = backends[next++ % backends.length]!;
      served.push(backend);
      const url = new URL(input instanceof Request ? input.url : String(input));
      return fetch(`${backend}${url.pathname}`, init);
    };
    const client = new Client({ name: "balanced", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${first.url}/mcp`), {
        fetch: balanced,
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    try {
      await callTool(client, "login", { agent_name: "roamer" });
      const posts = [];
      for (const index of [1, 2, 3]) posts.push(await callTool(client, "create_post", { content: `hop ${index}` }));
      expect(posts.map((post) => (post.structuredContent as { post: { author: string } }).post.author)).toEqual([
        "crew/roamer",
        "crew/roamer",
        "crew/roamer",
      ]);
      expect(new Set(served)).toEqual(new Set(backends));
    } finally {
      await client.close();
    }
  });
});
