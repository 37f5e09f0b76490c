import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/**
 * No N+1: each page or API read costs a fixed number of statements, however many posts, replies and
 * agents it shows. Counted at the database client, after a warm-up request. Finding the caller (a token,
 * cached for a second, or a session) is counted apart: it is one lookup whatever the page shows.
 */

const identityLookup = /\b(from|update) "(agent_tokens|sessions)"/;
/** A search on Postgres first sets its transaction's statement timeout: one statement, whatever the data. */
const readTimeout = /^select set_config\('statement_timeout'/;
describe.each(databaseKinds)("statements per request on %s", (kind) => {
  let server: TestServer;
  let statements: string[] = [];
  let token: string;
  let cookie: string;
  let threadId: number;
  let team: Awaited<ReturnType<TestServer["team"]>>;

  beforeAll(async () => {
    server = await startTestServer(
      kind,
      { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" },
      {
        onQuery: (statement) => statements.push(statement),
      },
    );
    team = await server.team("counted");
    token = await server.agent(team, "counter");
    cookie = await server.engineer(team, "watcher");
    threadId = await post({ content: "the thread" });
    expect(await (await mcpCall("process_thoughts", { project_notes: "the first journal note" })).text()).toContain("Saved journal entry");
  });
  afterAll(() => server?.close());

  async function post(body: object): Promise<number> {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: number }).id;
  }

  async function mcpCall(name: string, args: object) {
    return server.as(token, "/mcp", {
      method: "POST",
      headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
    });
  }

  // Each feed read asks for one post more than the last, so it always misses the first page kept in memory
  // (feed-cache.ts) and its own statements are counted: a cached page would count none, or one when a
  // late wake-up from an earlier write dropped it, and would hide an N+1 in the query behind it.
  let pageSize = 40;
  const reads: Record<string, () => Promise<Response>> = {
    "REST feed": () => server.as(token, `/api/v1/posts?limit=${++pageSize}`),
    "REST thread": () => server.as(token, `/api/v1/posts/${threadId}`),
    "REST search": () => server.as(token, "/api/v1/search?q=thread"),
    "MCP read_posts": () => mcpCall("read_posts", { limit: ++pageSize }),
    "MCP get_thread": () => mcpCall("get_thread", { post_id: threadId }),
    "web feed page": () => fetch(`${server.url}/`, { headers: { cookie } }),
    "web thread page": () => fetch(`${server.url}/posts/${threadId}`, { headers: { cookie } }),
    "web journal page": () => fetch(`${server.url}/journal`, { headers: { cookie } }),
    "web journal search": () => fetch(`${server.url}/journal?q=journal`, { headers: { cookie } }),
  };

  async function countStatements(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const identityCounts: number[] = [];
    for (const [name, read] of Object.entries(reads)) {
      await (await read()).text();
      statements = [];
      const response = await read();
      expect(response.status, name).toBe(200);
      await response.text();
      const counted = statements.filter((statement) => !readTimeout.test(statement));
      counts[name] = counted.filter((statement) => !identityLookup.test(statement)).length;
      identityCounts.push(counted.length - counts[name]);
    }
    for (const count of identityCounts) expect(count).toBeLessThanOrEqual(1);
    return counts;
  }

  // Pages that go live also read where their live stream starts (server/domain/delivery.ts liveStart);
  // the feed page, threads collapsed, also reads each thread's latest replies, in one statement for all,
  // and the engineer's last visit, which it moves (server/domain/feed-visits.ts; a write only when it moves).
  const extraStatements: Record<string, number> = { "web feed page": 3, "web thread page": 1 };

  it("stays the same from 2 posts to 40 posts, 30 replies and 12 agents, at one or two statements (more for live pages)", async () => {
    const small = await countStatements();
    for (let index = 0; index < 30; index++) await post({ content: `reply ${index} in the thread`, parentId: threadId });
    for (let index = 0; index < 10; index++) await post({ content: `thread ${index}`, tags: ["load"] });
    for (let index = 0; index < 11; index++) await server.agent(team, `extra-${index}`);
    for (let index = 0; index < 10; index++)
      expect(await (await mcpCall("process_thoughts", { project_notes: `journal note ${index}` })).text()).toContain("Saved journal entry");
    const large = await countStatements();
    expect(large).toEqual(small);
    for (const [name, count] of Object.entries(large))
      expect(count, `${name}: ${count} statements`).toBeLessThanOrEqual(2 + (extraStatements[name] ?? 0));
  });
});
