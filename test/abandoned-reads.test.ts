import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../server/db/client.ts";
import { agents } from "../server/db/schema/index.ts";
import { botboardBin, serveBotboard, stop, type ServedBotboard } from "./support/cli.ts";
import { connectMcp } from "./support/mcp.ts";
import { holdTransactionOpen } from "./support/open-writes.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const noRateLimits = { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lock reads of one reader take turns on (server/domain/delivery.ts: the agent's id, "/", its session name; a fixed seed). */
const readerLockSeed = 4_161_077;

/** One read of the reader's unread posts through a door; the ids it was given (none known for the digest). */
type Read = (signal?: AbortSignal) => Promise<number[]>;

/**
 * Keeps an agent's reads waiting (as a busy database would) until the returned function is called: a
 * transaction holding the lock they take turns on. On PGlite, whose one session runs one transaction
 * at a time, the transaction alone holds them back.
 */
async function holdReadsOf(server: TestServer, name: string): Promise<() => Promise<void>> {
  const { db } = server.database;
  const [agent] = await db.select({ id: agents.id }).from(agents).where(eq(agents.name, name));
  return holdTransactionOpen<Db>(
    (body) => db.transaction(body),
    (tx) => tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${agent!.id}/`}, ${readerLockSeed}))`),
  );
}

describe.each(databaseKinds)("a read its client abandons on %s", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind, noRateLimits);
  }, 120_000);
  afterAll(() => server?.close());

  async function writeThree(writer: string): Promise<number[]> {
    const ids: number[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await server.as(writer, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `news ${index}` }) });
      ids.push((await response.json()).id);
    }
    await server.settled();
    return ids;
  }

  const readers: Record<string, (token: string) => Promise<{ read: Read; close(): Promise<void> }>> = {
    "REST /unread": async (token) => ({
      async read(signal) {
        const response = await server.as(token, "/api/v1/unread?limit=10", { signal });
        return ((await response.json()).posts as { id: number }[]).map((post) => post.id);
      },
      close: async () => {},
    }),
    "the hook's POST /digest": async (token) => ({
      async read(signal) {
        const response = await server.as(token, "/api/v1/digest", { method: "POST", signal });
        // The digest is text; what it handed out shows in what /unread no longer has.
        await response.text();
        return [];
      },
      close: async () => {},
    }),
    "MCP read_new": async (token) => {
      const client = await connectMcp(server.url, token);
      return {
        async read(signal) {
          const result = await client.callTool({ name: "read_new", arguments: { limit: 10 } }, undefined, { signal });
          return ((result.structuredContent as { posts: { id: number }[] }).posts ?? []).map((post) => post.id);
        },
        close: () => client.close(),
      };
    },
    "botboard mcp (stdio) read_new": async (token) => {
      const client = new Client({ name: "abandoning-stdio-client", version: "1.0.0" });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [botboardBin, "mcp", "--url", server.url, "--token", token],
          env: { PATH: process.env.PATH ?? "" },
        }),
      );
      return {
        async read(signal) {
          const result = await client.callTool({ name: "read_new", arguments: { limit: 10 } }, undefined, { signal });
          return ((result.structuredContent as { posts: { id: number }[] }).posts ?? []).map((post) => post.id);
        },
        close: () => client.close(),
      };
    },
  };

  it("an MCP cancellation that comes before its call (stuck on a busy database) cancels the call as it starts", async () => {
    const team = await server.team("cancelled-early");
    const writer = await server.agent(team, "early-writer");
    const token = await server.agent(team, "early-reader");
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
    const written = await writeThree(writer);
    const post = (body: object, session?: string) =>
      fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(session ? { "mcp-session-id": session } : {}),
        },
        body: JSON.stringify(body),
      });
    const initialized = await post({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "early", version: "1" } },
    });
    const session = initialized.headers.get("mcp-session-id")!;
    await initialized.text();
    const cancel = await post(
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7, reason: "timed out" } },
      session,
    );
    expect(cancel.status).toBe(202);
    const call = await post(
      { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "read_new", arguments: { limit: 10 } } },
      session,
    );
    const answer = (await call.json()) as { result: { isError?: boolean; content: { text: string }[] } };
    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0]!.text).toContain("nothing was handed out");
    const next = await (await readers["REST /unread"]!(token)).read();
    expect(next.sort((a, b) => a - b)).toEqual(written);
  });

  it.each(Object.keys(readers))(
    "%s that the client gives up on while it waits hands out nothing: the next read gets those posts",
    async (door) => {
      const slug = `abandoned-${door.replace(/[^a-z]+/gi, "-").toLowerCase()}`.replace(/-+$/, "");
      const team = await server.team(slug);
      const writer = await server.agent(team, `${slug}-writer`);
      const readerName = `${slug}-reader`;
      const token = await server.agent(team, readerName);
      const reader = await readers[door]!(token);
      // The first read places the reader at the newest post: what follows is news to it.
      expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
      const written = await writeThree(writer);

      const release = await holdReadsOf(server, readerName);
      const controller = new AbortController();
      const abandoned = reader.read(controller.signal).catch((error: unknown) => error);
      // The read is on the server, waiting its turn, when its client gives up on it (a client's timeout).
      await sleep(300);
      controller.abort();
      expect(await abandoned).toBeInstanceOf(Error);
      await sleep(200);
      await release();

      // The abandoned read ran to its end on the server after all; the next read waits for it.
      const next = await (await readers["REST /unread"]!(token)).read();
      expect(next.sort((a, b) => a - b)).toEqual(written);
      await reader.close();
    },
  );
});

describe("an MCP cancellation that reaches another server process than its call's", () => {
  let server: TestServer;
  let other: ServedBotboard;

  beforeAll(async () => {
    server = await startTestServer("postgres", noRateLimits);
    other = await serveBotboard({ DATABASE_URL: server.config.databaseUrl!, PORT: "0", ...noRateLimits });
  }, 120_000);
  afterAll(async () => {
    if (other) await stop(other.process);
    await server?.close();
  });

  it("is passed on to the process running the call, whose read_new then hands out nothing", async () => {
    const team = await server.team("cancelled-elsewhere");
    const writer = await server.agent(team, "cancel-writer");
    const token = await server.agent(team, "cancel-reader");
    const unread = async () =>
      ((await (await server.as(token, "/api/v1/unread?limit=10")).json()).posts as { id: number }[]).map((post) => post.id);
    expect(await unread()).toEqual([]);
    // The call goes to this test's server; its cancellation, on a connection of its own, to the other
    // process, as `serve --workers` or a load balancer may send it.
    const cancellationsToTheOther: typeof fetch = (url, init) =>
      fetch(String(init?.body ?? "").includes("notifications/cancelled") ? `${other.url}/mcp` : url, init);
    const client = await connectMcp(server.url, token, { fetch: cancellationsToTheOther });
    const written: number[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await server.as(writer, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `news ${index}` }) });
      written.push((await response.json()).id);
    }
    await server.settled();

    const release = await holdReadsOf(server, "cancel-reader");
    const controller = new AbortController();
    const abandoned = client
      .callTool({ name: "read_new", arguments: { limit: 10 } }, undefined, { signal: controller.signal })
      .catch((error: unknown) => error);
    await sleep(300);
    controller.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    // The cancellation has gone through the other process and Postgres before the read may go on.
    await sleep(500);
    await release();

    expect((await unread()).sort((a, b) => a - b)).toEqual(written);
    await client.close();
  });
});
