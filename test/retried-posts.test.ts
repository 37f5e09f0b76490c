import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { callTool, connectMcp, type ToolCall } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** A post retried after a timeout (the first call landed) shows once, through MCP and the Botboard.biz API. */
describe.each(databaseKinds)("retried posts appear once on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let alice: string;
  let bob: string;
  let crew: string;
  let aliceMcp: Client;
  let bobMcp: Client;

  const postIdOf = (call: ToolCall) => (call.structuredContent as { post: { id: number } }).post.id;
  /** How many posts of the team's feed have this content, as the feed shows them. */
  const postsReading = async (content: string) => {
    const feed = await (await server.as(alice, "/api/v1/posts?limit=100")).json();
    return feed.posts.filter((post: { content: string }) => post.content === content).length;
  };
  const compatPost = (token: string, body: object, idempotencyKey?: string) =>
    fetch(`${server.url}/teams/alpha/posts`, {
      method: "POST",
      headers: {
        "x-api-key": token,
        "content-type": "application/json",
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    alice = await server.agent(alpha, "alice");
    bob = await server.agent(alpha, "bob");
    crew = await server.agent(alpha, "crew", { pickName: true });
    aliceMcp = await connectMcp(server.url, alice);
    bobMcp = await connectMcp(server.url, bob);
  });
  afterAll(async () => {
    await Promise.all([aliceMcp, bobMcp].map((client) => client?.close()));
    await server?.close();
  });

  it("create_post retried with its idempotency_key answers the post already made; the feed holds it once", async () => {
    const args = { content: "Fixed the flaky login test.", tags: ["ci"], idempotency_key: "fix-login-1" };
    const first = await callTool(aliceMcp, "create_post", args);
    expect(first.isError).toBeFalsy();
    expect(first.structuredContent).not.toHaveProperty("replayed");
    const retry = await callTool(aliceMcp, "create_post", args);
    expect(retry.isError).toBeFalsy();
    expect(postIdOf(retry)).toBe(postIdOf(first));
    expect(retry.structuredContent).toMatchObject({ replayed: true });
    expect(retry.text).toContain(`Already posted as #${postIdOf(first)}`);
    expect(retry.text).toContain("nothing new was posted");
    expect(await postsReading(args.content)).toBe(1);

    const reply = { content: "Confirmed on main.", parent_post_id: postIdOf(first), idempotency_key: "confirm-1" };
    const replied = await callTool(aliceMcp, "create_post", reply);
    const repliedAgain = await callTool(aliceMcp, "create_post", reply);
    expect(postIdOf(repliedAgain)).toBe(postIdOf(replied));
    expect(repliedAgain.text).toContain(`in thread #${postIdOf(first)}`);
    const thread = await callTool(aliceMcp, "get_thread", { post_id: postIdOf(first) });
    expect((thread.structuredContent as { replies: unknown[] }).replies).toHaveLength(1);

    // The key is the token's own: another agent using it posts its own post.
    const bobs = await callTool(bobMcp, "create_post", args);
    expect(bobs.isError).toBeFalsy();
    expect(postIdOf(bobs)).not.toBe(postIdOf(first));
    expect(bobs.structuredContent).toMatchObject({ post: { author: "bob" } });
    expect(bobs.structuredContent).not.toHaveProperty("replayed");
  });

  it("create_post with a used idempotency_key and other content is an isError result naming the post", async () => {
    const first = await callTool(aliceMcp, "create_post", { content: "Deploying build 7.", idempotency_key: "deploy-7" });
    const other = await callTool(aliceMcp, "create_post", { content: "Deploying build 7 now.", idempotency_key: "deploy-7" });
    expect(other.isError).toBe(true);
    expect(other.text).toBe(
      `This idempotency key was already used for another post (#${postIdOf(first)}); give each new post a fresh key.`,
    );
    expect(await postsReading("Deploying build 7 now.")).toBe(0);
  });

  it("ten concurrent create_post calls with one idempotency_key make one post", async () => {
    const args = { content: "Release 3.2 is out.", tags: ["release"], idempotency_key: "release-3.2" };
    const calls = await Promise.all(Array.from({ length: 10 }, () => callTool(aliceMcp, "create_post", args)));
    expect(calls.filter((call) => call.isError)).toEqual([]);
    expect(new Set(calls.map(postIdOf)).size).toBe(1);
    expect(calls.filter((call) => !(call.structuredContent as { replayed?: true }).replayed)).toHaveLength(1);
    expect(await postsReading(args.content)).toBe(1);
  });

  it("an idempotency_key over 200 characters, empty, or holding a NUL is an isError result and posts nothing", async () => {
    const cases: [string, RegExp][] = [
      ["k".repeat(201), /^The idempotency key is 201 characters; it must be 1-200\.$/],
      ["", /^The idempotency key is 0 characters; it must be 1-200\.$/],
      ["a\u0000b", /^the idempotency key contains a NUL byte/],
    ];
    for (const [key, message] of cases) {
      const refused = await callTool(aliceMcp, "create_post", { content: "Refused for its key.", idempotency_key: key });
      expect(refused.isError, JSON.stringify(key)).toBe(true);
      expect(refused.text).toMatch(message);
    }
    expect((await callTool(aliceMcp, "create_post", { content: "k".repeat(10), idempotency_key: "k".repeat(200) })).isError).toBeFalsy();
    expect(await postsReading("Refused for its key.")).toBe(0);
  });

  it("on a shared pick-name token, a key another chosen name used is a conflict, not that name's post", async () => {
    const [first, second] = await Promise.all([connectMcp(server.url, crew), connectMcp(server.url, crew)]);
    try {
      await callTool(first, "login", { agent_name: "helper-1" });
      await callTool(second, "login", { agent_name: "helper-2" });
      const args = { content: "Starting on the parser.", idempotency_key: "start" };
      const helper = await callTool(first, "create_post", args);
      expect(postIdOf(await callTool(first, "create_post", args))).toBe(postIdOf(helper));
      const other = await callTool(second, "create_post", args);
      expect(other.isError).toBe(true);
      expect(other.text).toContain(`already used for another post (#${postIdOf(helper)})`);
      const fresh = await callTool(second, "create_post", { ...args, idempotency_key: "start-2" });
      expect(fresh.structuredContent).toMatchObject({ post: { author: "crew/helper-2" } });
      expect(await postsReading(args.content)).toBe(2);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("the Botboard.biz API takes an Idempotency-Key: a retry answers the same post, other content is a 409, and no key posts as before", async () => {
    const body = { author: "alice", content: "Compat: cache warmed.", tags: ["cache"] };
    const first = await compatPost(alice, body, "warm-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const created = await first.json();
    const retry = await compatPost(alice, body, "warm-1");
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual(created);
    expect(await postsReading(body.content)).toBe(1);

    const conflict = await compatPost(alice, { ...body, content: "Compat: cache cold." }, "warm-1");
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({
      error: `This idempotency key was already used for another post (#${created.postId}); give each new post a fresh key.`,
      code: "conflict",
    });

    const tooLong = await compatPost(alice, { content: "Compat: refused key." }, "k".repeat(201));
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toEqual({ error: "The idempotency key is 201 characters; it must be 1-200.", code: "invalid" });
    expect(await postsReading("Compat: refused key.")).toBe(0);

    const concurrent = await Promise.all(Array.from({ length: 10 }, () => compatPost(bob, { content: "Compat: one of ten." }, "ten")));
    expect(concurrent.map((response) => response.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(await Promise.all(concurrent.map(async (response) => (await response.json()).postId))).size).toBe(1);
    expect(await postsReading("Compat: one of ten.")).toBe(1);

    for (let time = 0; time < 2; time++) expect((await compatPost(alice, { content: "Compat: no key." })).status).toBe(201);
    expect(await postsReading("Compat: no key.")).toBe(2);
  });
});
