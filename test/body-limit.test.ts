import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalSectionNames } from "../server/domain/journal-sections.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

/**
 * Writes raw HTTP/1.1 on one connection and returns everything the server sent until it closed.
 * `reset`: the server closed while the client was still writing (EPIPE or ECONNRESET).
 */
function exchange(
  url: string,
  writes: Array<string | Buffer>,
  gapMs = 50,
): Promise<{ text: string; closedByServer: boolean; reset: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    let closedByServer = true;
    let reset = false;
    socket.on("data", (chunk) => (text += chunk.toString("latin1")));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE" || error.code === "ECONNRESET") reset = true;
      else reject(error);
    });
    socket.on("close", () => resolve({ text, closedByServer, reset }));
    (async () => {
      for (const chunk of writes) {
        if (reset) break;
        await new Promise<void>((done) => socket.write(chunk, () => done()));
        await new Promise((done) => setTimeout(done, gapMs));
      }
      // Long enough for the answers; a server that keeps the connection leaves the closing to us.
      await new Promise((done) => setTimeout(done, 1_000));
      if (!socket.destroyed) {
        closedByServer = false;
        socket.end();
      }
    })().catch(reject);
  });
}

const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe.each(databaseKinds)("a body over the size limit on %s", (kind) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(kind, {
      BOTBOARD_RATE_LIMIT_TOKEN: "off",
      BOTBOARD_RATE_LIMIT_ADDRESS: "off",
      BOTBOARD_MAX_BODY_BYTES: String(64 * 1024),
    });
    token = await server.agent(await server.team("limits"), "sender");
  });
  afterAll(() => server?.close());

  const postHead = (length: number, extra = "") =>
    `POST /api/v1/posts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\n${extra}content-length: ${length}\r\n\r\n`;

  it("is answered 413, and the next request on the same connection is answered too", async () => {
    const body = Buffer.from(JSON.stringify({ content: "x".repeat(1_000_000) }));
    const { text, closedByServer } = await exchange(server.url, [postHead(body.length), body, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"]);
    expect(statusLines(text)).toEqual(["HTTP/1.1 413", "HTTP/1.1 200"]);
    expect(text).toContain(`over ${server.config.limits.maxBodyBytes} bytes`);
    expect(closedByServer).toBe(false);
  });

  it("never costs a keep-alive client an answer, whatever the size, and writes nothing", async () => {
    const sizes = [70_000, 300_000, 1_000_000, 5_000_000];
    for (let round = 0; round < 3; round++) {
      for (const size of sizes) {
        const refused = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "x".repeat(size) }) });
        expect(refused.status).toBe(413);
        expect((await refused.json()).error.code).toBe("too_large");
        const feed = await server.as(token, "/api/v1/posts");
        expect((await feed.json()).posts).toEqual([]);
      }
    }
  });

  it("on Botboard.biz's API is refused in its shapes: the message itself in error for posts, error's code and message for the journal", async () => {
    const body = JSON.stringify({ content: "x".repeat(100_000) });
    const message = `The request body is over ${server.config.limits.maxBodyBytes} bytes.`;
    const posted = await fetch(`${server.url}/teams/limits/posts`, { method: "POST", headers: { "x-api-key": token }, body });
    expect(posted.status).toBe(413);
    expect(await posted.json()).toEqual({ error: message, code: "too_large" });
    const journaled = await fetch(`${server.url}/teams/limits/journal/entries`, { method: "POST", headers: { "x-api-key": token }, body });
    expect(journaled.status).toBe(413);
    expect(await journaled.json()).toEqual({ error: { code: "too_large", message } });
  });

  it("on /mcp is refused as the MCP transport refuses: a JSON-RPC error with no id, its code in data", async () => {
    const call = {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "create_post", arguments: { content: "x".repeat(100_000) } },
    };
    const refused = await server.as(token, "/mcp", {
      method: "POST",
      headers: { accept: "application/json, text/event-stream" },
      body: JSON.stringify(call),
    });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32000, message: `The request body is over ${server.config.limits.maxBodyBytes} bytes.`, data: { code: "too_large" } },
    });
    const withoutToken = await fetch(`${server.url}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(withoutToken.status).toBe(401);
    expect(await withoutToken.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000, data: { code: "unauthorized" } } });
    expect((await (await server.as(token, "/api/v1/posts")).json()).posts).toEqual([]);
  });

  it("past what it will read, or sent without a length, is answered 413 and the connection closed", async () => {
    const huge = Buffer.alloc(20 * 1024 * 1024, "x");
    const tooLong = await exchange(server.url, [postHead(huge.length), huge]);
    // Closed with the rest of the body unread, the connection may be reset before the client has
    // read the 413; the client then sees the reset, never another answer.
    if (!tooLong.reset || tooLong.text !== "") {
      expect(statusLines(tooLong.text)).toEqual(["HTTP/1.1 413"]);
      expect(tooLong.text).toMatch(/^connection: close$/im);
    }
    expect(tooLong.closedByServer).toBe(true);
    expect((await (await server.as(token, "/api/v1/posts")).json()).posts).toEqual([]);

    const chunk = "x".repeat(100_000);
    const chunked = await exchange(server.url, [
      `POST /api/v1/posts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    ]);
    expect(statusLines(chunked.text)).toEqual(["HTTP/1.1 413"]);
    expect(chunked.closedByServer).toBe(true);
  });

  it("a body within the limit is read whole, sent with a length or chunked, on REST and MCP", async () => {
    const content = `within the limit ${"é".repeat(2_000)}`;
    const post = Buffer.from(JSON.stringify({ content }));
    const call = Buffer.from(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "create_post", arguments: { content: `${content} over MCP` } },
      }),
    );
    const head = (path: string, framing: string) =>
      `POST ${path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n${framing}\r\n`;
    const inTwoChunks = (body: Buffer) => {
      const half = Math.floor(body.length / 2);
      return [body.subarray(0, half), body.subarray(half)].map((part) =>
        Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")]),
      );
    };
    // Four connections at once: each exchange waits a second for its answer.
    const doors = [
      ["/api/v1/posts", post],
      ["/mcp", call],
    ] as const;
    const exchanges = await Promise.all(
      doors.map(([path, body]) =>
        Promise.all([
          exchange(server.url, [head(path, `content-length: ${body.length}\r\n`), body]),
          exchange(server.url, [head(path, "transfer-encoding: chunked\r\n"), ...inTwoChunks(body), "0\r\n\r\n"]),
        ]),
      ),
    );
    for (const [index, [withLength, chunked]] of exchanges.entries()) {
      const path = doors[index]![0];
      expect(statusLines(withLength.text), path).toEqual([path === "/mcp" ? "HTTP/1.1 200" : "HTTP/1.1 201"]);
      expect(statusLines(chunked.text), path).toEqual(statusLines(withLength.text));
      expect(chunked.text).not.toContain('"isError":true');
    }
    const { posts } = (await (await server.as(token, "/api/v1/posts")).json()) as { posts: { content: string }[] };
    expect(posts.map((stored) => stored.content).sort()).toEqual([content, content, `${content} over MCP`, `${content} over MCP`]);
  });
});

describe.each(databaseKinds)("the default body limit on %s", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  it("takes the largest texts Botboard accepts in their costliest encoding: a web form of 日 and a journal entry of escaped controls", async () => {
    const team = await server.team("largest");
    const { maxPostChars } = server.config.limits;
    const cookie = await server.engineer(team, "writer");
    const content = "日".repeat(maxPostChars);
    const form = await postForm(server, "/posts", { _csrf: await csrfTokenOf(server, cookie), content }, { cookie });
    expect(form.status).toBe(303);

    const thinker = await server.agent(team, "thinker");
    const client = await connectMcp(server.url, thinker);
    try {
      // Each control character travels in JSON as six bytes (\u0001).
      const sections = Object.fromEntries(journalSectionNames.map((name) => [name, "\u0001".repeat(maxPostChars)]));
      const entry = await callTool(client, "process_thoughts", sections);
      expect(entry.isError, entry.text).toBeFalsy();
    } finally {
      await client.close();
    }
    const { posts } = (await (await server.as(thinker, "/api/v1/posts")).json()) as { posts: { content: string }[] };
    expect(posts.map((post) => post.content)).toEqual([content]);
  });
});
