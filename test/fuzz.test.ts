import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolNames } from "../mcp/server.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** Hostile JSON: huge and odd strings, unicode, nulls, deep nesting, wrong types. */
const hostileString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\u202e evil",
    "<script>alert(1)</script>",
    "x".repeat(70_000),
    "'; drop table posts; --",
    "%00",
    "-1",
    "1e400",
  ),
);
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostileString, fc.constantFrom("content", "tags", "parentId", "__proto__")), tie("value"), { maxKeys: 5 }),
  ),
})).value;
const hostileBody = fc.oneof(
  hostileValue,
  fc.record({ content: hostileValue, tags: hostileValue, parentId: hostileValue }, { requiredKeys: [] }),
);

describe.each(databaseKinds)("hostile input on %s", (kind) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    // Hundreds of requests a second from one token: the rate limits (tested on their own) stay off.
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
    token = await server.agent(await server.team("fuzz"), "fuzzer");
  });
  afterAll(() => server?.close());

  const postCount = async () => (await (await server.as(token, "/api/v1/posts?limit=100")).json()).posts.length;

  it("POST /api/v1/posts never answers 5xx, and writes only when it answers 201", async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody, async (body) => {
        const before = await postCount();
        const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
        expect(response.status).toBeLessThan(500);
        const payload = await response.json();
        expect(response.status === 201 ? payload.id : payload.error.message).toBeTruthy();
        if (response.status !== 201) expect(await postCount()).toBe(before);
      }),
      { numRuns: 60 },
    );
  });

  it("query strings on every GET never answer 5xx", async () => {
    const paths = ["/api/v1/posts", "/api/v1/search", "/api/v1/unread", "/api/v1/posts/1", "/api/v1/me"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.dictionary(fc.constantFrom("limit", "cursor", "author", "tag", "thread", "q", "x"), hostileString, { maxKeys: 4 }),
        async (path, query) => {
          const search = new URLSearchParams(query as Record<string, string>).toString();
          const response = await server.as(token, `${path}?${search}`);
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("MCP tool calls with random arguments give a result or isError, never a server error", async () => {
    let id = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...toolNames), hostileBody, async (name, args) => {
        const response = await server.as(token, "/mcp", {
          method: "POST",
          headers: { accept: "application/json, text/event-stream" },
          body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name, arguments: args } }),
        });
        expect(response.status).toBeLessThan(500);
        const message = await response.json();
        expect(message.result ?? message.error).toBeDefined();
        if (message.result?.isError) expect(message.result.content[0].text).not.toMatch(/Something went wrong/);
      }),
      { numRuns: 80 },
    );
  });

  it("malformed JSON-RPC gets the spec's errors", async () => {
    const send = (body: string) =>
      server.as(token, "/mcp", { method: "POST", headers: { accept: "application/json, text/event-stream" }, body });
    expect((await (await send("{not json")).json()).error.code).toBe(-32700);
    const unknownTool = await (
      await send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "rm_rf" } }))
    ).json();
    expect(unknownTool.error.code).toBe(-32602);
  });
});
