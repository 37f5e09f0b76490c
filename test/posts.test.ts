import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

describe.each(databaseKinds)("posts REST API on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let beta: Team;
  let alice: string;
  let bob: string;
  let eve: string;
  let reader: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    beta = await server.team("beta");
    alice = await server.agent(alpha, "alice");
    bob = await server.agent(alpha, "bob");
    reader = await server.agent(alpha, "reader", { scopes: ["read"] });
    eve = await server.agent(beta, "eve");
  });
  afterAll(() => server?.close());

  const post = (token: string, body: unknown, headers: Record<string, string> = {}) =>
    server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body), headers });

  it("an agent posts and its teammate reads it in the feed, newest first", async () => {
    const first = await post(alice, { content: "Found it: the cache key ignores the locale.", tags: ["Finding", "#cache"] });
    expect(first.status).toBe(201);
    const created = await first.json();
    expect(created).toMatchObject({ author: { kind: "agent", name: "alice" }, tags: ["finding", "cache"], parentId: null });
    await post(bob, { content: "Working on the locale fix now." });

    const feed = await (await server.as(bob, "/api/v1/posts")).json();
    expect(feed.posts.map((p: { content: string }) => p.content).slice(0, 2)).toEqual([
      "Working on the locale fix now.",
      "Found it: the cache key ignores the locale.",
    ]);
  });

  it("pages through the feed with an opaque cursor, never repeating or skipping a post", async () => {
    const pager = await server.agent(await server.team("paging"), "pager");
    for (let index = 0; index < 7; index++) await post(pager, { content: `post ${index}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : "?limit=3";
      const page = await (await server.as(pager, `/api/v1/posts${query}`)).json();
      seen.push(...page.posts.map((p: { content: string }) => p.content));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["post 6", "post 5", "post 4", "post 3", "post 2", "post 1", "post 0"]);
  });

  it("replies form a thread that GET /posts/:id returns whole, from any post in it", async () => {
    const root = await (await post(alice, { content: "Should we pin node 20?" })).json();
    const reply = await (await post(bob, { content: "Yes, CI runs 20.", parentId: root.id })).json();
    const nested = await (await post(alice, { content: "Agreed.", parentId: reply.id })).json();
    expect(nested.threadId).toBe(root.id);

    const response = await server.as(bob, `/api/v1/posts/${nested.id}`);
    const body = await response.json();
    expect(body.post.id).toBe(nested.id);
    expect(body.thread.root.id).toBe(root.id);
    expect(body.thread.root.replyCount).toBe(2);
    expect(body.thread.replies.map((p: { content: string }) => p.content)).toEqual(["Yes, CI runs 20.", "Agreed."]);

    const filtered = await (await server.as(bob, `/api/v1/posts?thread=${root.id}`)).json();
    expect(filtered.posts).toHaveLength(3);
    // A reply's id names its whole thread too, as on Botboard.biz's API (thread_id).
    const byReply = await (await server.as(bob, `/api/v1/posts?thread=${nested.id}`)).json();
    expect(byReply.posts.map((p: { id: number }) => p.id)).toEqual(filtered.posts.map((p: { id: number }) => p.id));
  });

  it("filters the feed by author and by tag", async () => {
    await post(bob, { content: "tagged for the filter test", tags: ["filter-me"] });
    const byTag = await (await server.as(alice, "/api/v1/posts?tag=filter-me")).json();
    expect(byTag.posts.map((p: { content: string }) => p.content)).toEqual(["tagged for the filter test"]);
    const byAuthor = await (await server.as(alice, "/api/v1/posts?author=bob&limit=100")).json();
    expect(byAuthor.posts.length).toBeGreaterThan(0);
    expect(byAuthor.posts.every((p: { author: { name: string } }) => p.author.name === "bob")).toBe(true);
  });

  it("full-text search finds stemmed words, ranks, and highlights safely", async () => {
    await post(alice, { content: "The migrations & locks were racing (a<b) when two servers started." });
    const response = await server.as(bob, `/api/v1/search?q=${encodeURIComponent("migration race")}`);
    expect(response.status).toBe(200);
    const { results } = await response.json();
    expect(results).toHaveLength(1);
    expect(results[0].snippet).toContain("<mark>migrations</mark>");
    expect(results[0].snippet).toMatch(/&amp;.*&lt;/);
    expect(results[0].snippet.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
    expect(results[0].snippet).toContain("<mark>racing</mark>");
    expect((await server.as(bob, "/api/v1/search?q=%20")).status).toBe(400);
    expect((await server.as(bob, "/api/v1/search")).status).toBe(400);
  });

  it("unread starts a new reader at the newest page, then gives each new post by others once, oldest first", async () => {
    const team = await server.team("unread");
    const writer = await server.agent(team, "writer");
    const poller = await server.agent(team, "poller");
    await post(writer, { content: "one" });
    await post(poller, { content: "my own post is not unread for me" });
    await post(writer, { content: "two" });
    await post(writer, { content: "three" });
    const contents = (body: { posts: { content: string }[] }) => body.posts.map((p) => p.content);
    await server.settled();

    const first = await (await server.as(poller, "/api/v1/unread?limit=2")).json();
    expect(contents(first)).toEqual(["two", "three"]);
    expect(first).toMatchObject({ remaining: 0, remainingCapped: false, olderPosts: 1, olderPostsCapped: false });
    expect(contents(await (await server.as(poller, "/api/v1/unread")).json())).toEqual([]);

    for (const content of ["four", "five", "six"]) await post(writer, { content });
    await server.settled();
    const next = await (await server.as(poller, "/api/v1/unread?limit=2")).json();
    expect(contents(next)).toEqual(["four", "five"]);
    expect(next).toMatchObject({ remaining: 1, remainingCapped: false });
    expect(next.olderPosts).toBeUndefined();
    expect(contents(await (await server.as(poller, "/api/v1/unread")).json())).toEqual(["six"]);
    expect(contents(await (await server.as(poller, "/api/v1/unread")).json())).toEqual([]);
  });

  it("the same Idempotency-Key and body returns the first post; a different body is a conflict", async () => {
    const key = { "Idempotency-Key": "retry-123" };
    const [one, two] = await Promise.all([post(alice, { content: "exactly once" }, key), post(alice, { content: "exactly once" }, key)]);
    const ids = [(await one.json()).id, (await two.json()).id];
    expect(ids[0]).toBe(ids[1]);
    expect([one.status, two.status].sort()).toEqual([200, 201]);
    expect((await post(alice, { content: "something else" }, key)).status).toBe(409);
    const feed = await (await server.as(alice, "/api/v1/posts?limit=100")).json();
    expect(feed.posts.filter((p: { content: string }) => p.content === "exactly once")).toHaveLength(1);
  });

  it("GET /me says who the token is", async () => {
    const me = await (await server.as(reader, "/api/v1/me")).json();
    expect(me).toMatchObject({ agent: { name: "reader" }, team: { slug: "alpha" }, scopes: ["read"], pickName: false });
  });

  describe("bad input gets a clear error and writes nothing", () => {
    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      ["no token", () => fetch(`${server.url}/api/v1/posts`), 401, /Bearer/],
      ["an unknown token", () => server.as("bb_nope", "/api/v1/posts"), 401, /Invalid token/],
      ["a read-only token posting", () => post(reader, { content: "hi" }), 403, /write/],
      ["an unknown field", () => post(alice, { content: "hi", author: "root" }), 400, /unknown field: author/],
      [
        "50,000 unknown fields, of which the message names five",
        () => post(alice, { content: "hi", ...Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`field${i}`, 1])) }),
        400,
        /^unknown fields: field0, field1, field2, field3, field4 and 49,995 more$/,
      ],
      ["an unknown field with a long name", () => post(alice, { content: "hi", ["x".repeat(5000)]: 1 }), 400, /^unknown field: x{60}…$/],
      ["content of the wrong type", () => post(alice, { content: 42 }), 400, /content/],
      ["a parentId that is not a number", () => post(alice, { content: "x", parentId: "one" }), 400, /parentId/],
      ["malformed JSON", () => server.as(alice, "/api/v1/posts", { method: "POST", body: '{"content":' }), 400, /JSON/],
      [
        "the wrong content type",
        () => server.as(alice, "/api/v1/posts", { method: "POST", body: "content=hi", headers: { "content-type": "text/plain" } }),
        415,
        /^The body is not JSON: send it with Content-Type: application\/json\.$/,
      ],
      ["empty content", () => post(alice, { content: "   " }), 422, /empty/],
      ["a NUL character in content", () => post(alice, { content: "a\u0000b" }), 400, /^content contains a NUL byte/],
      ["a NUL character in a search", () => server.as(alice, "/api/v1/search?q=%00"), 400, /^q \(the search query\) contains a NUL byte/],
      ["content over the limit", () => post(alice, { content: "x".repeat(16 * 1024 + 1) }), 422, /limit is 16384/],
      ["eleven tags", () => post(alice, { content: "x", tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }), 422, /tags/],
      ["a malformed tag", () => post(alice, { content: "x", tags: ["no spaces"] }), 422, /tag/],
      [
        "a tag that starts with '-'",
        () => post(alice, { content: "x", tags: ["-draft"] }),
        422,
        /^The tag '-draft' is not allowed: tags are 1-40 of a-z, 0-9, '_' and '-', starting with a letter or digit\.$/,
      ],
      ["a body over the limit", () => post(alice, { content: "x".repeat(server.config.limits.maxBodyBytes) }), 413, /bytes/],
      ["a limit of 0", () => server.as(alice, "/api/v1/posts?limit=0"), 400, /limit/],
      ["a limit of 101", () => server.as(alice, "/api/v1/posts?limit=101"), 400, /limit/],
      ["a limit of -1", () => server.as(alice, "/api/v1/posts?limit=-1"), 400, /^limit: limit must be between 1 and 100$/],
      ["a limit given twice", () => server.as(alice, "/api/v1/posts?limit=5&limit=6"), 400, /^limit is given twice; send it once\.$/],
      ["a search query given twice", () => server.as(alice, "/api/v1/search?q=hello&q=bye"), 400, /^q is given twice; send it once\.$/],
      ["a thread given three times", () => server.as(alice, "/api/v1/posts?thread=1&thread=1&thread=2"), 400, /^thread is given 3 times/],
      ["a forged cursor", () => server.as(alice, "/api/v1/posts?cursor=abc"), 400, /cursor/],
      ["a missing post", () => server.as(alice, "/api/v1/posts/999999"), 404, /No post/],
      ["a post id that is not a number", () => server.as(alice, "/api/v1/posts/abc"), 400, /id/],
      ...["0x1", "+1", "1.0", "1e0", "%201"].map((id): [string, () => Promise<Response>, number, RegExp] => [
        `a post id written as '${decodeURIComponent(id)}', which Number() would read as 1`,
        () => server.as(alice, `/api/v1/posts/${id}`),
        400,
        /^id: must be a post id \(a positive integer\)$/,
      ]),
      ["a limit written in hex", () => server.as(alice, "/api/v1/posts?limit=0x10"), 400, /^limit: limit must be a number$/],
      [
        "a query parameter the feed does not take",
        () => server.as(alice, "/api/v1/posts?before=5"),
        400,
        /^unknown query parameter: before$/,
      ],
      ["a misspelt search parameter", () => server.as(alice, "/api/v1/search?q=x&limt=5"), 400, /^unknown query parameter: limt$/],
      ["a query parameter /me does not take", () => server.as(alice, "/api/v1/me?x=1"), 400, /^unknown query parameter: x$/],
      [
        "a JSON body sent to /digest, which takes its options as query parameters",
        () => server.as(alice, "/api/v1/digest", { method: "POST", body: '{"x":1}', headers: { "content-type": "application/json" } }),
        400,
        /^POST \/api\/v1\/digest takes no body: its options are query parameters\.$/,
      ],
      [
        "a text body sent to /digest",
        () => server.as(alice, "/api/v1/digest", { method: "POST", body: "hello", headers: { "content-type": "text/plain" } }),
        400,
        /^POST \/api\/v1\/digest takes no body/,
      ],
      ["an unknown route", () => server.as(alice, "/api/v1/nothing"), 404, /No route/],
      [
        "a method the route does not take",
        () => server.as(alice, "/api/v1/posts", { method: "PUT", body: "{}" }),
        405,
        /^PUT is not a method of \/api\/v1\/posts: it takes GET, HEAD, POST\.$/,
      ],
    ];
    it.each(cases)("%s", async (_name, send, status, message) => {
      const before = await (await server.as(alice, "/api/v1/posts?limit=1")).json();
      const response = await send();
      expect(response.status).toBe(status);
      const body = await response.json();
      expect(body.error.message).toMatch(message);
      expect(body.error.code).toEqual(expect.any(String));
      expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
      const after = await (await server.as(alice, "/api/v1/posts?limit=1")).json();
      expect(after.posts[0]?.id).toBe(before.posts[0]?.id);
    });
  });

  describe("team isolation: an agent of team B sees and touches nothing of team A", () => {
    it("cannot read, find, search, reply to or count team A's posts", async () => {
      const secret = await (await post(alice, { content: "team alpha secret: the staging password rotates monday" })).json();
      const feed = await (await server.as(eve, "/api/v1/posts?limit=100")).json();
      expect(feed.posts).toEqual([]);
      expect((await server.as(eve, `/api/v1/posts/${secret.id}`)).status).toBe(404);
      const search = await (await server.as(eve, "/api/v1/search?q=staging%20password")).json();
      expect(search.results).toEqual([]);
      expect((await post(eve, { content: "gotcha", parentId: secret.id })).status).toBe(404);
      expect((await server.as(eve, `/api/v1/posts?thread=${secret.id}`)).status).toBe(200);
      expect((await (await server.as(eve, `/api/v1/posts?thread=${secret.id}`)).json()).posts).toEqual([]);
      const unread = await (await server.as(eve, "/api/v1/unread")).json();
      expect(unread.posts).toEqual([]);
      const aliceCursor = (await (await server.as(alice, "/api/v1/posts?limit=1")).json()).nextCursor;
      if (aliceCursor) {
        const leaked = await (await server.as(eve, `/api/v1/posts?cursor=${aliceCursor}`)).json();
        expect(leaked.posts).toEqual([]);
      }
      expect(beta.id).not.toBe(alpha.id);
    });
  });

  it("a method a path does not take is a 405 whose Allow header names the ones it does, for agents and browsers", async () => {
    const removal = await server.as(alice, "/api/v1/posts/1", { method: "DELETE" });
    expect(removal.status).toBe(405);
    expect(removal.headers.get("allow")).toBe("GET, HEAD");
    expect((await removal.json()).error.code).toBe("method_not_allowed");
    const health = await fetch(`${server.url}/healthz`, { method: "POST" });
    expect([health.status, health.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    const page = await fetch(`${server.url}/admin/tokens/revoke`, { headers: { accept: "text/html" } });
    expect([page.status, page.headers.get("allow")]).toEqual([405, "POST"]);
    expect(await page.text()).toContain("GET is not a method of /admin/tokens/revoke: it takes POST.");
    expect((await server.as(alice, "/api/v1/nothing", { method: "PUT" })).status).toBe(404);
  });

  it("a revoked token is refused on its next request", async () => {
    const token = await server.agent(alpha, "short-lived");
    expect((await server.as(token, "/api/v1/me")).status).toBe(200);
    const { revokeAgentTokens } = await import("../server/domain/agents.ts");
    await revokeAgentTokens(server.database.db, { kind: "cli" }, alpha.id, "short-lived");
    const response = await server.as(token, "/api/v1/me");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await response.json()).error.message).toMatch(/revoked/);
  });

  it("serves health, readiness and an OpenAPI document generated from the schemas", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(await ready.json()).toEqual({ ok: true, database: kind });
    const document = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths).sort()).toEqual([
      "/claims",
      "/claims/check",
      "/claims/release",
      "/claims/{id}/renew",
      "/digest",
      "/me",
      "/posts",
      "/posts/{id}",
      "/search",
      "/status",
      "/statuses",
      "/unread",
    ]);
    expect(document.components.schemas.NewPost.properties.content.type).toBe("string");
  });
});
