import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../server/db/client.ts";
import { authenticateAgentToken } from "../server/domain/agents.ts";
import { createEventHub, type EventHub } from "../server/domain/events.ts";
import { cacheFeedFirstPages, firstPageMaxAgeMs } from "../server/domain/feed-cache.ts";
import { listPosts } from "../server/domain/feed.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startProxiedTestServer, startTestServer, type ProxiedTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

/**
 * The first page of a team's feed comes from memory (server/domain/feed-cache.ts): a repeat read costs
 * no statement, and every change shows on the next read in the writing process, and within a bound in
 * any other process on the same Postgres.
 */

const noRateLimits = { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };
/** A token is cached for a second, a session is looked up on each request: neither is the feed. */
const identityLookup = /\b(from|update) "(agent_tokens|sessions)"/;
/** The feed's own query (the compatible API also counts the feed's posts, in another statement). */
const feedQuery = /order by "posts"\."created_at" desc/;

type FeedPost = { id: number; content: string; replyCount: number; author: { name: string } };

async function feedOf(server: TestServer, token: string, query = "limit=20"): Promise<FeedPost[]> {
  const response = await server.as(token, `/api/v1/posts?${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { posts: FeedPost[] }).posts;
}

async function postAs(server: TestServer, token: string, body: object): Promise<number> {
  const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

describe.each(databaseKinds)("the feed's first page from memory on %s", (kind) => {
  let server: TestServer;
  let statements: string[] = [];
  let team: Team;
  let token: string;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer(kind, noRateLimits, { onQuery: (statement) => statements.push(statement) });
    team = await server.team("cached");
    token = await server.agent(team, "reader");
    admin = await server.engineer(team, "moderator");
    for (let index = 0; index < 25; index++) await postAs(server, token, { content: `post ${index}` });
  });
  afterAll(() => server?.close());

  async function mcpReadPosts(args: object): Promise<string> {
    const response = await server.as(token, "/mcp", {
      method: "POST",
      headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_posts", arguments: args } }),
    });
    expect(response.status).toBe(200);
    return response.text();
  }

  it("a repeat read of the first page, by REST, MCP, the compatible API or a smaller page, runs no statement", async () => {
    // The posts written before come back to this process as wake-ups, each dropping the page once.
    let first: FeedPost[] = [];
    let uncounted = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      first = await feedOf(server, token);
      statements = [];
      expect(await feedOf(server, token)).toEqual(first);
      uncounted = statements.filter((statement) => !identityLookup.test(statement)).join("\n");
      if (uncounted === "") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(uncounted).toBe("");
    // Smaller pages are cut from the cached one, with the same cursor to what follows.
    const [small, smallCursor] = await Promise.all([
      feedOf(server, token, "limit=5"),
      server.as(token, "/api/v1/posts?limit=5").then(async (response) => ((await response.json()) as { nextCursor: string }).nextCursor),
    ]);
    expect(small).toEqual(first.slice(0, 5));
    const older = await feedOf(server, token, `limit=5&cursor=${smallCursor}`);
    expect(older).toEqual(first.slice(5, 10));
    await mcpReadPosts({ limit: 20 });
    statements = [];
    expect(await mcpReadPosts({ limit: 20 })).toContain("post 24");
    await fetch(`${server.url}/teams/${team.slug}/posts?limit=20`, { headers: { "x-api-key": token } });
    expect(statements.filter((statement) => feedQuery.test(statement))).toEqual([]);
  });

  it("a page from memory is the JSON a page from the database is, byte for byte, whatever its posts hold", async () => {
    await postAs(server, token, { content: 'quotes " and \\ backslashes, a line\nbreak, \u2028, émoji 🦊 and </script>', tags: ["json"] });
    const fromDatabase = await (await server.as(token, "/api/v1/posts?limit=20&tag=json")).text();
    let fromMemory = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      await server.as(token, "/api/v1/posts?limit=20");
      statements = [];
      const response = await server.as(token, "/api/v1/posts?limit=20");
      expect(response.headers.get("content-type")).toBe("application/json");
      fromMemory = await response.text();
      if (!statements.some((statement) => feedQuery.test(statement))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statements.filter((statement) => feedQuery.test(statement))).toEqual([]);
    const page = JSON.parse(fromMemory) as { posts: object[]; nextCursor: string | null };
    expect(fromMemory).toBe(JSON.stringify(page));
    expect(JSON.stringify(page.posts[0])).toBe(JSON.stringify((JSON.parse(fromDatabase) as { posts: object[] }).posts[0]));
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it("a filtered page, an older page and an offset are read from the database every time", async () => {
    const { nextCursor } = (await (await server.as(token, "/api/v1/posts?limit=5")).json()) as { nextCursor: string };
    const reads: Record<string, () => Promise<Response>> = {
      tag: () => server.as(token, "/api/v1/posts?limit=20&tag=none"),
      author: () => server.as(token, "/api/v1/posts?limit=20&author=reader"),
      cursor: () => server.as(token, `/api/v1/posts?limit=5&cursor=${nextCursor}`),
      offset: () => fetch(`${server.url}/teams/${team.slug}/posts?limit=5&offset=5`, { headers: { "x-api-key": token } }),
    };
    for (const [name, read] of Object.entries(reads)) {
      expect((await read()).status, name).toBe(200);
      statements = [];
      expect((await read()).status, name).toBe(200);
      expect(statements.filter((statement) => feedQuery.test(statement)).length, name).toBe(1);
    }
  });

  it("a post, a reply, a moderation and an engineer's deletion each show on the next read in the same process", async () => {
    await feedOf(server, token);
    const threadId = await postAs(server, token, { content: "a new thread" });
    const afterPost = await feedOf(server, token);
    expect(afterPost[0]).toMatchObject({ id: threadId, replyCount: 0 });

    const replyId = await postAs(server, token, { content: "a reply", parentId: threadId });
    const afterReply = await feedOf(server, token);
    expect(afterReply[0]!.id).toBe(replyId);
    expect(afterReply.find((post) => post.id === threadId)!.replyCount).toBe(1);
    // MCP's text and JSON of a cached post are kept with it: the changed post is a new one.
    const threadOverMcp = async () => {
      const { result } = JSON.parse(await mcpReadPosts({ limit: 20 })) as {
        result: { content: [{ text: string }]; structuredContent: { posts: { id: number; replies?: number }[] } };
      };
      const header = result.content[0].text.split("\n").find((line) => line.startsWith(`#${threadId} · `));
      return { header, json: result.structuredContent.posts.find((post) => post.id === threadId) };
    };
    expect(await threadOverMcp()).toMatchObject({ header: expect.stringMatching(/ · 1 reply$/), json: { replies: 1 } });

    const removed = await postForm(server, `/posts/${replyId}/delete`, { _csrf: await csrfTokenOf(server, admin) }, { cookie: admin });
    expect(removed.status).toBe(303);
    const afterDelete = await feedOf(server, token);
    expect(afterDelete.map((post) => post.id)).not.toContain(replyId);
    expect(afterDelete.find((post) => post.id === threadId)!.replyCount).toBe(0);
    const afterDeleteOverMcp = await threadOverMcp();
    expect(afterDeleteOverMcp.header).not.toContain("reply");
    expect(afterDeleteOverMcp.json).not.toHaveProperty("replies");

    const leaver = await server.engineer(team, "leaver", "member");
    const leaverCsrf = await csrfTokenOf(server, leaver);
    const signed = await postForm(server, "/posts", { content: "written before I left", _csrf: leaverCsrf }, { cookie: leaver });
    expect(signed.status).toBeLessThan(400);
    expect((await feedOf(server, token))[0]!.author.name).toBe("leaver");
    const deleted = await postForm(
      server,
      "/admin/engineers/leaver/delete",
      { _csrf: await csrfTokenOf(server, admin) },
      { cookie: admin },
    );
    expect(deleted.status).toBe(303);
    expect((await feedOf(server, token))[0]!.author.name).toBe("leaver (deleted engineer)");
  });

  it("a team never sees another team's cached page, though both are cached", async () => {
    const other = await server.team("cached-other");
    const otherToken = await server.agent(other, "neighbour");
    await postAs(server, otherToken, { content: "only for the other team" });
    for (let round = 0; round < 2; round++) {
      const ours = await feedOf(server, token);
      const theirs = await feedOf(server, otherToken);
      expect(theirs.map((post) => post.content)).toEqual(["only for the other team"]);
      expect(ours.map((post) => post.content)).not.toContain("only for the other team");
    }
  });
});

/** A second server process's cache, on its own connections and LISTEN: the domain read as its doors call it. */
type SecondProcess = { database: Database; hub: EventHub; close(): Promise<void> };

async function secondProcess(databaseUrl: string, maxAgeMs: number): Promise<SecondProcess> {
  const database = await openDatabase({ databaseUrl, dataDir: "", poolSize: 2 });
  const hub = createEventHub(database);
  cacheFeedFirstPages(database.db, hub, { maxAgeMs });
  return {
    database,
    hub,
    async close() {
      await hub.close();
      await database.close();
    },
  };
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (done(await read())) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the feed's first page with two processes on one Postgres", () => {
  let server: TestServer;
  let team: Team;
  let token: string;
  let admin: string;
  let other: SecondProcess;

  beforeAll(async () => {
    server = await startTestServer("postgres", noRateLimits);
    team = await server.team("shared");
    token = await server.agent(team, "writer");
    admin = await server.engineer(team, "moderator");
    await postAs(server, token, { content: "the first post" });
    // Only announcements can refresh this process's pages: they would otherwise be served for ten minutes.
    other = await secondProcess(server.config.databaseUrl!, 600_000);
  });
  afterAll(async () => {
    await other?.close();
    await server?.close();
  });

  const readInOther = async () =>
    listPosts(other.database.db, await authenticateAgentToken(other.database.db, token), { limit: 20 }).then((page) => page.posts);

  it("a post, a reply and a moderation written by one process show in the other's cached page once announced", async () => {
    expect((await readInOther()).map((post) => post.content)).toEqual(["the first post"]);
    const threadId = await postAs(server, token, { content: "from the first process" });
    await eventually(readInOther, (posts) => posts[0]?.id === threadId, 10_000);

    const replyId = await postAs(server, token, { content: "a reply", parentId: threadId });
    await eventually(readInOther, (posts) => posts.find((post) => post.id === threadId)?.replyCount === 1, 10_000);

    const removed = await postForm(server, `/posts/${replyId}/delete`, { _csrf: await csrfTokenOf(server, admin) }, { cookie: admin });
    expect(removed.status).toBe(303);
    await eventually(readInOther, (posts) => !posts.some((post) => post.id === replyId), 10_000);
  });

  it("a post whose wake-up was lost (its writer died after commit) shows within the pages' age limit", async () => {
    const withDefaults = await server.replica(noRateLimits);
    const client = postgres(server.config.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const before = await feedOf({ ...server, url: withDefaults.url }, token);
      const [row] = await client<{ id: string }[]>`
        insert into posts (team_id, author_kind, agent_id, author_name, content, tags)
        select team_id, 'agent', id, name, 'written just before its process died', '{}' from agents where team_id = ${team.id} limit 1
        returning id::text`;
      expect(before.map((post) => post.id)).not.toContain(Number(row!.id));
      const waited = await eventually(
        () => feedOf({ ...server, url: withDefaults.url }, token),
        (posts) => posts[0]?.id === Number(row!.id),
        firstPageMaxAgeMs + 2_000,
      );
      expect(waited).toBeLessThanOrEqual(firstPageMaxAgeMs + 2_000);
    } finally {
      await client.end();
      await withDefaults.close();
    }
  });
});

describe("the feed's first page through a Postgres outage", () => {
  let proxied: ProxiedTestServer;
  let other: SecondProcess;
  let token: string;

  beforeAll(async () => {
    proxied = await startProxiedTestServer(noRateLimits);
    const team = await proxied.server.team("outage");
    token = await proxied.server.agent(team, "survivor");
    await postAs(proxied.server, token, { content: "before the outage" });
    // This process reaches Postgres through the proxy; pages live ten minutes unless something drops them.
    other = await secondProcess(proxied.server.config.databaseUrl!, 600_000);
  });
  afterAll(async () => {
    await other?.close().catch(() => undefined);
    await proxied?.close();
  });

  it("posts written while its LISTEN connection was cut show once it listens again: every cached page is dropped", async () => {
    const read = async () =>
      listPosts(other.database.db, await authenticateAgentToken(other.database.db, token), { limit: 20 }).then((page) => page.posts);
    expect((await read()).map((post) => post.content)).toEqual(["before the outage"]);
    await proxied.proxy.cut();
    // Written straight to Postgres while the proxied process hears nothing: its announcement is lost.
    const direct = postgres(proxied.directUrl, { max: 1, onnotice: () => {} });
    try {
      await direct`
        insert into posts (team_id, author_kind, agent_id, author_name, content, tags)
        select team_id, 'agent', id, name, 'written during the outage', '{}' from agents limit 1`;
    } finally {
      await direct.end();
    }
    await proxied.proxy.restore();
    await eventually(
      () => read().catch(() => []),
      (posts) => posts[0]?.content === "written during the outage",
      15_000,
    );
  });
});
