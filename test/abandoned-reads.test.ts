import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../server/db/client.ts";
import { agents, posts } from "../server/db/schema/index.ts";
import { botboardBin, serveBotboard, stop, type ServedBotboard } from "./support/cli.ts";
import { connectMcp } from "./support/mcp.ts";
import { holdTransactionOpen } from "./support/open-writes.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const noRateLimits = { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lock reads of one reader take turns on (server/domain/delivery.ts: the agent's id, "/", its session name; a fixed seed). */
const readerLockSeed = 4_161_077;

const mcpHeaders = (token: string) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
});

/** One JSON-RPC message POSTed to /mcp as a script sends it: with no Mcp-Session-Id unless one is given. */
const postMcp = (serverUrl: string, token: string, message: object, session?: string) =>
  fetch(`${serverUrl}/mcp`, {
    method: "POST",
    headers: { ...mcpHeaders(token), ...(session ? { "mcp-session-id": session } : {}) },
    body: JSON.stringify(message),
  });

const readNewCall = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "read_new", arguments: { limit: 10 } } });
const loginCall = { jsonrpc: "2.0", id: 99, method: "tools/call", params: { name: "login", arguments: {} } };
const cancellationOf = (id: number) => ({
  jsonrpc: "2.0",
  method: "notifications/cancelled",
  params: { requestId: id, reason: "timed out" },
});

type ToolAnswer = {
  result: { isError?: boolean; content: { text: string }[]; structuredContent?: { posts?: { id: number }[]; remaining?: number } };
};
const postIdsOf = (answer: ToolAnswer) => (answer.result.structuredContent?.posts ?? []).map((post) => post.id).sort((a, b) => a - b);

/** What MCP login says of the reader's unread posts, asked again each time the returned function is called. */
const loginSays = (server: TestServer, token: string, session: string) => async () => {
  const answer = (await (await postMcp(server.url, token, loginCall, session)).json()) as ToolAnswer;
  return answer.result.content[0]!.text;
};

/**
 * A POST to /mcp whose headers go now and whose body only once `finish` is called: a call that has
 * come in but not yet started, as one waiting on a busy database to check its token.
 */
function postMcpSlowly(serverUrl: string, token: string, message: object, session: string) {
  const body = JSON.stringify(message);
  const posting = request(`${serverUrl}/mcp`, {
    method: "POST",
    headers: { ...mcpHeaders(token), "mcp-session-id": session, "content-length": Buffer.byteLength(body) },
  });
  const answered = new Promise<string>((resolve, reject) => {
    posting.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        text += chunk;
      });
      response.on("end", () => resolve(text));
    });
    posting.on("error", reject);
  });
  posting.flushHeaders();
  return {
    finish(): Promise<string> {
      posting.end(body);
      return answered;
    },
  };
}

/** Three posts by the writer, ready to be read; their ids. */
async function writeThree(server: TestServer, writer: string): Promise<number[]> {
  const ids: number[] = [];
  for (let index = 0; index < 3; index++) {
    const response = await server.as(writer, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `news ${index}` }) });
    ids.push((await response.json()).id);
  }
  await server.settled();
  return ids;
}

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

  /**
   * A team of its own with a writer and a reader that has read once, which places it at the newest
   * post: what the writer writes next is news to it. `session`: an Mcp-Session-Id for its calls.
   */
  async function placedReader(slug: string) {
    const team = await server.team(slug);
    const writer = await server.agent(team, `${slug}-writer`);
    const token = await server.agent(team, `${slug}-reader`);
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
    return { writer, token, session: `${slug}-session` };
  }

  it("an MCP cancellation that comes after its call came in but before it started cancels the call as it starts", async () => {
    const { writer, token } = await placedReader("cancelled-early");
    const written = await writeThree(server, writer);
    const initialized = await postMcp(server.url, token, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "early", version: "1" } },
    });
    const session = initialized.headers.get("mcp-session-id")!;
    await initialized.text();
    // The call has come in (its headers) and waits for the rest of its request when its client gives up on it.
    const call = postMcpSlowly(server.url, token, readNewCall(7), session);
    await sleep(200);
    const cancel = await postMcp(server.url, token, cancellationOf(7), session);
    expect(cancel.status).toBe(202);
    const answer = JSON.parse(await call.finish()) as ToolAnswer;
    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0]!.text).toContain("nothing was handed out");
    const next = await (await readers["REST /unread"]!(token)).read();
    expect(next.sort((a, b) => a - b)).toEqual(written);
  });

  it("an MCP cancellation that overtakes its call on the way cancels the call as it comes; a call more than a second later is not reached", async () => {
    const { writer, token, session } = await placedReader("overtaken");
    const written = await writeThree(server, writer);
    // The client gave up on call 4 while its request was still on the way: the cancellation comes first.
    expect((await postMcp(server.url, token, cancellationOf(4), session)).status).toBe(202);
    const overtaken = (await (await postMcp(server.url, token, readNewCall(4), session)).json()) as ToolAnswer;
    expect(overtaken.result.isError).toBe(true);
    expect(overtaken.result.content[0]!.text).toContain("nothing was handed out");
    expect((await (await readers["REST /unread"]!(token)).read()).sort((a, b) => a - b)).toEqual(written);

    const later = await writeThree(server, writer);
    expect((await postMcp(server.url, token, cancellationOf(5), session)).status).toBe(202);
    await sleep(1100);
    const answer = (await (await postMcp(server.url, token, readNewCall(5), session)).json()) as ToolAnswer;
    expect(answer.result.isError).toBeUndefined();
    expect(postIdsOf(answer)).toEqual(later);
  });

  it("an MCP cancellation that comes after its call has answered gives the page back, and does not cancel a later call of the same id", async () => {
    const { writer, token } = await placedReader("cancelled-late");
    const first = await writeThree(server, writer);
    // A script with no session whose ids start at 1 each run; its client gave up as the answer came,
    // and ignores it.
    expect(postIdsOf(await (await postMcp(server.url, token, readNewCall(1))).json())).toEqual(first);
    expect((await postMcp(server.url, token, cancellationOf(1))).status).toBe(202);
    await sleep(200);

    const second = await writeThree(server, writer);
    const answer = (await (await postMcp(server.url, token, readNewCall(1))).json()) as ToolAnswer;
    expect(answer.result.isError).toBeUndefined();
    expect(postIdsOf(answer)).toEqual([...first, ...second]);
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
  });

  it("MCP read_new whose answer reaches its client after the client's timeout: the client's cancellation gives the page back", async () => {
    const team = await server.team("answer-in-flight");
    const writer = await server.agent(team, "in-flight-writer");
    const token = await server.agent(team, "in-flight-reader");
    // The answers to tool calls reach the client a second late, as on a slow network.
    const answersLate: typeof fetch = async (url, init) => {
      const response = await fetch(url, init);
      if (String(init?.body ?? "").includes('"tools/call"')) await sleep(1000);
      return response;
    };
    const client = await connectMcp(server.url, token, { fetch: answersLate });
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
    const written = await writeThree(server, writer);

    const timedOut = await client
      .callTool({ name: "read_new", arguments: { limit: 10 } }, undefined, { timeout: 300 })
      .catch((error: unknown) => error);
    expect(String(timedOut)).toMatch(/timed out/i);
    await sleep(1200);

    expect((await (await readers["REST /unread"]!(token)).read()).sort((a, b) => a - b)).toEqual(written);
    await client.close();
  });

  it("an MCP cancellation that comes after its reader has read again gives the page back behind it: the next read hands it out with what is new", async () => {
    const { writer, token, session } = await placedReader("cancelled-after-next");
    const first = await writeThree(server, writer);
    expect(postIdsOf(await (await postMcp(server.url, token, readNewCall(7), session)).json())).toEqual(first);
    const second = await writeThree(server, writer);
    expect(postIdsOf(await (await postMcp(server.url, token, readNewCall(8), session)).json())).toEqual(second);
    expect(await loginSays(server, token, session)()).toContain("No unread posts.");
    expect((await postMcp(server.url, token, cancellationOf(7), session)).status).toBe(202);
    await expect.poll(loginSays(server, token, session)).toContain("3 unread posts");

    const third = await writeThree(server, writer);
    const answer = (await (await postMcp(server.url, token, readNewCall(9), session)).json()) as ToolAnswer;
    expect(postIdsOf(answer)).toEqual([...first, ...third]);
    expect(answer.result.structuredContent?.remaining).toBe(0);
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
  });

  it("a late cancellation of one read_new of a batch gives back that call's page only: the other call's posts are not handed out again", async () => {
    const { writer, token, session } = await placedReader("batch-late");
    const written = [...(await writeThree(server, writer)), ...(await writeThree(server, writer))];
    const readTwo = (id: number) => ({ ...readNewCall(id), params: { name: "read_new", arguments: { limit: 3 } } });
    const batch = await postMcp(server.url, token, [readTwo(21), readTwo(22)], session);
    const answers = (await batch.json()) as (ToolAnswer & { id: number })[];
    const pageOf = (id: number) => postIdsOf(answers.find((answer) => answer.id === id)!);
    expect([...pageOf(21), ...pageOf(22)].sort((a, b) => a - b)).toEqual(written);
    expect(pageOf(21)).toHaveLength(3);

    expect((await postMcp(server.url, token, cancellationOf(21), session)).status).toBe(202);
    await expect.poll(loginSays(server, token, session)).toContain("3 unread posts");
    expect((await (await readers["REST /unread"]!(token)).read()).sort((a, b) => a - b)).toEqual(pageOf(21));
  });

  it("botboard mcp (stdio) passes on a cancellation its client sends after the answer, after reading again too: the page comes back", async () => {
    const { writer, token } = await placedReader("stdio-late");
    const proxy = spawn(process.execPath, [botboardBin, "mcp", "--url", server.url, "--token", token], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { PATH: process.env.PATH ?? "" },
    });
    // A client speaking JSON-RPC lines itself: it has the answers, and says it gave up on one anyway.
    const answers = new Map<number, ToolAnswer>();
    createInterface({ input: proxy.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as ToolAnswer & { id?: number };
      if (typeof message.id === "number") answers.set(message.id, message);
    });
    const say = (message: object) => proxy.stdin.write(`${JSON.stringify(message)}\n`);
    const answerTo = async (id: number) => {
      await expect.poll(() => answers.has(id), { timeout: 20_000 }).toBe(true);
      return answers.get(id)!;
    };
    try {
      say({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "late-stdio-client", version: "1.0.0" } },
      });
      await answerTo(1);
      say({ jsonrpc: "2.0", method: "notifications/initialized" });
      const first = await writeThree(server, writer);
      say(readNewCall(5));
      expect(postIdsOf(await answerTo(5))).toEqual(first);
      const second = await writeThree(server, writer);
      say(readNewCall(6));
      expect(postIdsOf(await answerTo(6))).toEqual(second);
      say(cancellationOf(5));
      await expect.poll(loginSays(server, token, "stdio-late-watcher"), { timeout: 10_000 }).toContain("3 unread posts");
      expect((await (await readers["REST /unread"]!(token)).read()).sort((a, b) => a - b)).toEqual(first);
    } finally {
      proxy.stdin.end();
      await once(proxy, "exit");
    }
  });

  it("pages given up on in either order after the reader read on both come back, each post once, and a deleted one not at all", async () => {
    const { writer, token, session } = await placedReader("two-given-back");
    const pages: number[][] = [];
    for (const id of [11, 12, 13]) {
      const written = await writeThree(server, writer);
      expect(postIdsOf(await (await postMcp(server.url, token, readNewCall(id), session)).json())).toEqual(written);
      pages.push(written);
    }
    // The second page's cancellation comes first: the reader read on (the third page), so it goes on
    // the list; then the first's, which joins it. A cancellation that comes twice gives back once.
    for (const id of [12, 11, 12]) expect((await postMcp(server.url, token, cancellationOf(id), session)).status).toBe(202);
    await expect.poll(loginSays(server, token, session)).toContain("6 unread posts");
    // An engineer removes one of them meanwhile: it is not news any more.
    const removed = pages[1]![1]!;
    await server.database.db.update(posts).set({ deletedAt: new Date() }).where(eq(posts.id, removed));
    expect(await loginSays(server, token, session)()).toContain("5 unread posts");

    const next = await (await readers["REST /unread"]!(token)).read();
    expect(next.sort((a, b) => a - b)).toEqual([...pages[0]!, ...pages[1]!.filter((id) => id !== removed)]);
    expect(await loginSays(server, token, session)()).toContain("No unread posts.");
    expect(await (await readers["REST /unread"]!(token)).read()).toEqual([]);
  });

  /**
   * The raw request of each way a client reads over HTTP, sent with the connection's end right behind
   * it: a client that gave up as soon as it asked.
   */
  const rawReads: Record<string, (token: string) => string> = {
    "REST /unread": (token) => `GET /api/v1/unread?limit=10 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    "the hook's POST /digest": (token) =>
      `POST /api/v1/digest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\n\r\n`,
    "MCP read_new": (token) => {
      const body = JSON.stringify(readNewCall(1));
      const headers = Object.entries({ ...mcpHeaders(token), "content-length": Buffer.byteLength(body) });
      return `POST /mcp HTTP/1.1\r\nHost: x\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n${body}`;
    },
  };

  it.each(Object.keys(rawReads))(
    "%s whose client closes the connection while the read runs hands out nothing, however quick the read",
    async (door) => {
      const { writer, token } = await placedReader(`closed-${door.replace(/[^a-z]+/gi, "-").toLowerCase()}`.replace(/-+$/, ""));
      const { port } = new URL(server.url);
      // On PGlite a read runs from start to answer in one turn of the server's loop: the close, read
      // from the socket after it, must still keep the page. Several rounds, as a close is timing.
      for (let round = 0; round < 5; round++) {
        const written = await writeThree(server, writer);
        const socket = connect(Number(port), "127.0.0.1");
        socket.end(rawReads[door]!(token));
        socket.resume();
        await once(socket, "close");
        await expect.poll(async () => (await (await readers["REST /unread"]!(token)).read()).sort((a, b) => a - b)).toEqual(written);
      }
    },
  );

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
      const written = await writeThree(server, writer);

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
    const written = await writeThree(server, writer);

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

  it("one that comes after its call has answered gives the page back there, and cancels no later call of the same id in any process", async () => {
    const team = await server.team("cancelled-late-elsewhere");
    const writer = await server.agent(team, "late-writer-elsewhere");
    const token = await server.agent(team, "late-reader-elsewhere");
    expect((await (await server.as(token, "/api/v1/unread?limit=10")).json()).posts).toEqual([]);
    const first = await writeThree(server, writer);
    expect(postIdsOf(await (await postMcp(server.url, token, readNewCall(1))).json())).toEqual(first);
    // The late cancellation reaches the other process, which keeps it and passes it on by NOTIFY.
    expect((await postMcp(other.url, token, cancellationOf(1))).status).toBe(202);
    await sleep(500);

    // The process that took it has said so: the copy the other kept reaches no later call, even within the second.
    let givenBack = first;
    for (const serverUrl of [other.url, server.url]) {
      const written = await writeThree(server, writer);
      const answer = (await (await postMcp(serverUrl, token, readNewCall(1))).json()) as ToolAnswer;
      expect(answer.result.isError).toBeUndefined();
      expect(postIdsOf(answer)).toEqual([...givenBack, ...written]);
      givenBack = [];
    }
  });
});
