import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** JSON bodies are UTF-8: bytes that are not, or a body declared in another charset, are refused by every door, never stored as U+FFFD. */

const encoder = new TextEncoder();
/** `before`, the bytes 0xFF 0xFE (never UTF-8), then `after`. */
const notUtf8 = (before: string, after: string) => new Uint8Array([...encoder.encode(before), 0xff, 0xfe, ...encoder.encode(after)]);

describe.each(databaseKinds)("JSON bodies that are not UTF-8 on %s", (kind) => {
  let server: TestServer;
  let alice: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const alpha = await server.team("alpha");
    alice = await server.agent(alpha, "alice");
  });
  afterAll(() => server?.close());

  const send = (path: string, body: BodyInit, contentType = "application/json", headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "x-api-key": alice, "content-type": contentType, ...headers },
      body,
    });
  const newestPost = async () => (await (await server.as(alice, "/api/v1/posts?limit=1")).json()).posts[0]?.id;
  const journalTotal = async () =>
    (await (await fetch(`${server.url}/teams/alpha/journal/entries`, { headers: { "x-api-key": alice } })).json()).total_count;
  const mcpCall = (text: string) =>
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "create_post", arguments: { content: text } } });

  const doors: [string, string, (before: string, after: string) => BodyInit, Record<string, string>?][] = [
    ["REST", "/api/v1/posts", (before, after) => notUtf8(`{"content":"${before}`, `${after}"}`)],
    ["the compatible posts API", "/teams/alpha/posts", (before, after) => notUtf8(`{"content":"${before}`, `${after}"}`)],
    ["the compatible journal", "/teams/alpha/journal/entries", (before, after) => notUtf8(`{"content":"${before}`, `${after}"}`)],
    [
      "MCP over HTTP",
      "/mcp",
      (before, after) => {
        const [head, tail] = mcpCall(`${before}|${after}`).split("|") as [string, string];
        return notUtf8(head, tail);
      },
      { accept: "application/json, text/event-stream" },
    ],
  ];

  it.each(doors)("%s refuses bytes that are not UTF-8 with a 400, and stores nothing", async (_door, path, body, headers) => {
    const [postBefore, entriesBefore] = [await newestPost(), await journalTotal()];
    const response = await send(path, body("bad utf8 ", ""), "application/json", headers);
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/The body is not valid UTF-8/);
    expect([await newestPost(), await journalTotal()]).toEqual([postBefore, entriesBefore]);
  });

  it.each(doors)("%s refuses a body declared in a charset other than UTF-8 with a 415", async (_door, path, _body, headers) => {
    const response = await send(path, JSON.stringify({ content: "caf\u00e9" }), "application/json; charset=iso-8859-1", headers);
    expect(response.status).toBe(415);
    expect(JSON.stringify(await response.json())).toMatch(/charset=iso-8859-1; send JSON as UTF-8/);
  });

  it("a body declared as UTF-8, in any spelling, is stored as sent", async () => {
    for (const charset of ["utf-8", "UTF-8", "utf8", '"utf-8"']) {
      const response = await send(
        "/api/v1/posts",
        JSON.stringify({ content: `caf\u00e9 ${charset}` }),
        `application/json; charset=${charset}`,
      );
      expect(response.status).toBe(201);
      expect((await response.json()).content).toBe(`caf\u00e9 ${charset}`);
    }
  });

  it("sign-in and OAuth client registration refuse bytes that are not UTF-8 too", async () => {
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: notUtf8('{"username":"ann","password":"', '"}'),
    });
    expect(login.status).toBe(400);
    expect((await login.json()).error.message).toMatch(/not valid UTF-8/);
    const registration = await fetch(`${server.url}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: notUtf8('{"client_name":"', '","redirect_uris":["http://127.0.0.1:9/cb"]}'),
    });
    expect(registration.status).toBe(400);
    expect(await registration.json()).toMatchObject({
      error: "invalid_request",
      error_description: expect.stringMatching(/not valid UTF-8/),
    });
  });
});
