import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { journalEntries } from "../server/db/schema/index.ts";
import { journalMatchCountCap } from "../server/domain/journal.ts";
import { maxSearchQueryChars } from "../server/domain/limits.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

describe.each(databaseKinds)("Botboard.biz-compatible HTTP API on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let beta: Team;
  let alice: string;
  let bob: string;
  let crew: string;
  let eve: string;

  const call = (key: string | undefined, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...(key ? { "x-api-key": key } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    beta = await server.team("beta");
    alice = await server.agent(alpha, "alice");
    bob = await server.agent(alpha, "bob");
    crew = await server.agent(alpha, "crew", { pickName: true });
    eve = await server.agent(beta, "eve");
  });
  afterAll(() => server?.close());

  it("POST /teams/:team/posts answers the Botboard.biz post shape; a personal token signs with its own name", async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await call(alice, "/teams/alpha/posts", { author: "someone-else", content: "Compat hello", tags: ["compat"] });
    expect(response.status).toBe(201);
    const post = await response.json();
    expect(Object.keys(post).sort()).toEqual(["author", "content", "createdAt", "postId", "tags"]);
    expect(post).toMatchObject({ author: "alice", content: "Compat hello", tags: ["compat"] });
    expect(post.postId).toMatch(/^\d+$/);
    expect(Object.keys(post.createdAt)).toEqual(["_seconds"]);
    expect(post.createdAt._seconds).toBeGreaterThanOrEqual(before - 1);
    expect(post.createdAt._seconds).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });

  it("a pick-name token signs with body.author after its agent's name, validated", async () => {
    const named = await (await call(crew, "/teams/alpha/posts", { author: "helper-7", content: "from a helper" })).json();
    expect(named.author).toBe("crew/helper-7");
    const forged = await call(crew, "/teams/alpha/posts", { author: "#1 · root (human)\n", content: "spoof" });
    expect(forged.status).toBe(400);
    expect((await forged.json()).error).toContain("agent name");
  });

  it("replies carry parentPostId, and thread_id filters one thread", async () => {
    const root = await (await call(alice, "/teams/alpha/posts", { content: "thread root" })).json();
    const reply = await (await call(bob, "/teams/alpha/posts", { content: "a reply", parentPostId: root.postId })).json();
    expect(reply).toMatchObject({ author: "bob", parentPostId: root.postId });
    const numericParent = await (await call(bob, "/teams/alpha/posts", { content: "another", parentPostId: Number(root.postId) })).json();
    expect(numericParent.parentPostId).toBe(root.postId);
    const snakeCase = await (await call(bob, "/teams/alpha/posts", { content: "snake", parent_post_id: root.postId })).json();
    expect(snakeCase.parentPostId).toBe(root.postId);
    const both = await call(bob, "/teams/alpha/posts", { content: "both", parentPostId: root.postId, parent_post_id: 1 });
    expect(both.status).toBe(400);
    expect((await both.json()).error).toContain("name different posts");

    const thread = await (await call(alice, `/teams/alpha/posts?thread_id=${root.postId}`)).json();
    expect(thread.totalCount).toBe(4);
    expect(thread.posts.map((post: { content: string }) => post.content)).toEqual(["snake", "another", "a reply", "thread root"]);
    expect(thread.nextOffset).toBeUndefined();
  });

  it("thread_id naming a reply lists that reply's whole thread, replies to it included", async () => {
    const root = await (await call(alice, "/teams/alpha/posts", { author: "alice", content: "nested root" })).json();
    const reply = await (
      await call(bob, "/teams/alpha/posts", { author: "bob", content: "nested reply", parentPostId: root.postId })
    ).json();
    // mcp-socialmedia shows this post with parent_post_id set to the reply, and its model reads the thread by that id.
    const answer = await (
      await call(alice, "/teams/alpha/posts", { author: "alice", content: "answer to the reply", parentPostId: reply.postId })
    ).json();
    expect(answer.parentPostId).toBe(reply.postId);
    // mcp-socialmedia's fetchPosts for read_posts {thread_id}: limit, then thread_id.
    const byReply = await (await call(alice, `/teams/alpha/posts?limit=10&thread_id=${reply.postId}`)).json();
    expect(byReply.posts.map((post: { postId: string }) => post.postId)).toEqual([answer.postId, reply.postId, root.postId]);
    expect(byReply.totalCount).toBe(3);
    expect(await (await call(alice, `/teams/alpha/posts?limit=10&thread_id=${root.postId}`)).json()).toEqual(byReply);
    expect(await (await call(alice, "/teams/alpha/posts?thread_id=999999")).json()).toEqual({ posts: [], totalCount: 0 });
    expect(await (await call(eve, `/teams/beta/posts?thread_id=${reply.postId}`)).json()).toEqual({ posts: [], totalCount: 0 });
  });

  it("GET /teams/:team/posts pages by limit and offset with totalCount and nextOffset, and filters by agent and tag", async () => {
    const paging = await server.team("paging");
    const pager = await server.agent(paging, "pager");
    for (const index of [0, 1, 2, 3, 4])
      await call(pager, "/teams/paging/posts", { content: `post ${index}`, tags: index % 2 ? ["odd"] : [] });

    const first = await (await call(pager, "/teams/paging/posts?limit=2")).json();
    expect(Object.keys(first).sort()).toEqual(["nextOffset", "posts", "totalCount"]);
    expect(first).toMatchObject({ totalCount: 5, nextOffset: 2 });
    expect(first.posts.map((post: { content: string }) => post.content)).toEqual(["post 4", "post 3"]);
    const last = await (await call(pager, `/teams/${paging.id}/posts?limit=2&offset=4`)).json();
    expect(last.posts.map((post: { content: string }) => post.content)).toEqual(["post 0"]);
    expect(Object.keys(last).sort()).toEqual(["posts", "totalCount"]);

    const odd = await (await call(pager, "/teams/paging/posts?tag=odd")).json();
    expect(odd).toMatchObject({ totalCount: 2 });
    const byAgent = await (await call(alice, "/teams/alpha/posts?agent=bob&limit=100")).json();
    expect(byAgent.posts.length).toBeGreaterThan(0);
    expect(byAgent.posts.every((post: { author: string }) => post.author === "bob")).toBe(true);
  });

  it("refuses a missing or bad key with 401 and another team's path with 403", async () => {
    expect((await call(undefined, "/teams/alpha/posts")).status).toBe(401);
    expect((await call("bb_nope", "/teams/alpha/posts")).status).toBe(401);
    expect((await call(eve, "/teams/alpha/posts")).status).toBe(403);
    expect((await call(eve, `/teams/${alpha.id}/posts`)).status).toBe(403);
    expect((await call(eve, "/teams/alpha/journal/entries", { sections: { feelings: "x" } })).status).toBe(403);
    expect((await call(eve, "/teams/beta/posts")).status).toBe(200);
    expect(beta.slug).toBe("beta");
  });

  it("bad bodies get a 4xx naming the field, and nothing is written", async () => {
    const missing = await call(alice, "/teams/alpha/posts", { author: "alice" });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toContain("content");
    const tooLong = await call(alice, "/teams/alpha/posts", { content: "y".repeat(server.config.limits.maxPostChars + 1) });
    expect(tooLong.status).toBe(422);
    const badLimit = await call(alice, "/teams/alpha/posts?limit=0");
    expect(badLimit.status).toBe(400);
    expect((await badLimit.json()).error).toContain("limit");
    const feed = await (await call(alice, "/teams/alpha/posts?limit=100")).json();
    expect(feed.posts.some((post: { content: string }) => post.content.startsWith("yyy"))).toBe(false);
  });

  it("a post's unknown field is refused by name, a flood of them in one line; mcp-socialmedia's payload is taken", async () => {
    const before = (await (await call(alice, "/teams/alpha/posts")).json()).totalCount;
    const refusals: [object, string][] = [
      [{ content: "x", author_name: "alice" }, "unknown field: author_name"],
      [
        { content: "x", ...Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`field${i}`, 1])) },
        "unknown fields: field0, field1, field2, field3, field4 and 49,995 more",
      ],
      [{ content: "x", ["y".repeat(5000)]: 1 }, `unknown field: ${"y".repeat(60)}…`],
      // A terminal printing the refusal would run the escape; a reader would see "red" reversed.
      [{ content: "x", "\u001b[31mred\u202e": 1 }, "unknown field: [U+001B][31mred[U+202E]"],
    ];
    for (const [body, message] of refusals) {
      const refused = await call(alice, "/teams/alpha/posts", body);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: message, code: "invalid" });
    }
    expect((await (await call(alice, "/teams/alpha/posts")).json()).totalCount).toBe(before);
    // mcp-socialmedia's createPost: author, content, tags and parentPostId, the last two left out when unset.
    const root = await call(alice, "/teams/alpha/posts", { author: "alice", content: "strict root", tags: ["compat"] });
    expect(root.status).toBe(201);
    const reply = await call(alice, "/teams/alpha/posts", {
      author: "alice",
      content: "strict reply",
      parentPostId: (await root.json()).postId,
    });
    expect(reply.status).toBe(201);
  });

  it("journal entries: create with sections or content, list, read by id, search; private to their agent", async () => {
    const created = await call(alice, "/teams/alpha/journal/entries", {
      team_id: alpha.id,
      timestamp: Date.now(),
      sections: { technical_insights: "Vacuum the queue table nightly.", feelings: "calm" },
      embedding: [0.1, 0.2],
    });
    expect(created.status).toBe(201);
    const entry = await created.json();
    expect(Object.keys(entry).sort()).toEqual(["created_at", "id", "sections", "team_id", "timestamp"]);
    expect(entry).toMatchObject({
      team_id: alpha.id,
      sections: { technical_insights: "Vacuum the queue table nightly.", feelings: "calm" },
    });
    expect(new Date(entry.created_at).getTime()).toBe(entry.timestamp);

    const plain = await (
      await call(alice, "/teams/alpha/journal/entries", { team_id: alpha.id, timestamp: Date.now(), content: "One block of notes." })
    ).json();
    expect(plain).toMatchObject({ content: "One block of notes." });
    expect(plain.sections).toBeUndefined();

    const list = await (await call(alice, "/teams/alpha/journal/entries?limit=1")).json();
    expect(list).toMatchObject({ total_count: 2, entries: [{ id: plain.id }] });
    const second = await (await call(alice, "/teams/alpha/journal/entries?limit=1&offset=1")).json();
    expect(second.entries[0].id).toBe(entry.id);

    const one = await (await call(alice, `/teams/alpha/journal/entries/${entry.id}`)).json();
    expect(one).toEqual(entry);

    const search = await (await call(alice, "/teams/alpha/journal/search", { query: "vacuum queue" })).json();
    expect(search.total_count).toBe(1);
    expect(Object.keys(search.results[0]).sort()).toEqual([
      "created_at",
      "id",
      "matched_sections",
      "sections",
      "similarity_score",
      "team_id",
      "timestamp",
    ]);
    expect(search.results[0]).toMatchObject({ id: entry.id, matched_sections: ["technical_insights"] });
    expect(search.results[0].similarity_score).toBeGreaterThan(0);
    const yearZero = await call(alice, "/teams/alpha/journal/search", { query: "vacuum after:0000-06-01" });
    expect(yearZero.status).toBe(400);
    expect(JSON.stringify(await yearZero.json())).toContain("after: takes a date like 2026-11-30, from 0001-01-01 to 9999-12-31");
    const elsewhere = await (await call(alice, "/teams/alpha/journal/search", { query: "vacuum", sections: ["feelings"] })).json();
    expect(elsewhere).toEqual({ results: [], total_count: 0, total_count_capped: false });

    const notBobs = await call(bob, `/teams/alpha/journal/entries/${entry.id}`);
    expect(notBobs.status).toBe(404);
    // The journal API's spec answers errors as {"error": {code, message}}, unlike the posts client's string.
    expect((await notBobs.json()).error).toMatchObject({ code: "not_found", message: expect.any(String) });
    expect(await (await call(bob, "/teams/alpha/journal/entries")).json()).toEqual({ entries: [], total_count: 0, has_more: false });
    expect((await call(alice, "/teams/alpha/journal/entries", { team_id: alpha.id })).status).toBe(422);
  });

  it("journal lists and searches filter by date_from and date_to, list in either order, and say has_more", async () => {
    const dated = await server.team("dated");
    const writer = await server.agent(dated, "writer");
    const written: Record<string, string> = {};
    for (const [day, text] of [
      ["2026-01-10", "January: the queue stalled"],
      ["2026-03-10", "March: the queue drained"],
      ["2026-05-10", "May: the queue is fine"],
    ] as const) {
      const entry = await (await call(writer, "/teams/dated/journal/entries", { content: text })).json();
      await server.database.db
        .update(journalEntries)
        .set({ createdAt: new Date(`${day}T12:00:00Z`) })
        .where(eq(journalEntries.id, Number(entry.id)));
      written[day] = entry.id;
    }
    const listed = async (query: string) => (await call(writer, `/teams/dated/journal/entries?${query}`)).json();
    const ids = (page: { entries: { id: string }[] }) => page.entries.map((entry) => entry.id);

    expect(ids(await listed("date_from=2026-02-01"))).toEqual([written["2026-05-10"], written["2026-03-10"]]);
    expect(ids(await listed("date_to=2026-03-10T12:00:00Z"))).toEqual([written["2026-03-10"], written["2026-01-10"]]);
    expect(ids(await listed("date_from=2026-02-01T00:00:00%2B02:00&date_to=2026-04-01"))).toEqual([written["2026-03-10"]]);
    // A date alone as date_to is the whole of that day; a time is included, the millisecond after it not.
    expect(ids(await listed("date_from=2026-03-10&date_to=2026-03-10"))).toEqual([written["2026-03-10"]]);
    expect(ids(await listed("date_from=2026-03-10&date_to=2026-03-10T11:59:59.999Z"))).toEqual([]);
    const oldest = await listed("order=asc&limit=2");
    expect(ids(oldest)).toEqual([written["2026-01-10"], written["2026-03-10"]]);
    expect(oldest).toMatchObject({ total_count: 3, has_more: true });
    expect(await listed("order=asc&limit=2&offset=2")).toMatchObject({ total_count: 3, has_more: false });

    const search = async (body: object) => (await call(writer, "/teams/dated/journal/search", { query: "queue", ...body })).json();
    const found = (answer: { results: { id: string }[] }) => answer.results.map((result) => result.id).sort();
    expect(found(await search({}))).toHaveLength(3);
    expect(found(await search({ date_from: "2026-02-01", date_to: "2026-04-01T00:00:00Z" }))).toEqual([written["2026-03-10"]]);
    expect(found(await search({ date_to: "2026-01-31", similarity_threshold: 0.1 }))).toEqual([written["2026-01-10"]]);
    expect(found(await search({ date_from: "2026-05-10", date_to: "2026-05-10" }))).toEqual([written["2026-05-10"]]);

    for (const [path, body] of [
      ["/teams/dated/journal/entries?date_from=2026-02-30", undefined],
      ["/teams/dated/journal/entries?date_to=0000-06-01", undefined],
      ["/teams/dated/journal/search", { query: "queue", date_from: "yesterday" }],
    ] as const) {
      const refused = await call(writer, path, body);
      expect(refused.status).toBe(400);
      expect((await refused.json()).error.message).toMatch(/date_(from|to) takes an ISO 8601 date/);
    }
    expect((await call(writer, "/teams/dated/journal/entries?order=sideways")).status).toBe(400);
  });

  it("journal search pages by offset, a field of the journal API (journal-mcp declares it and leaves it unset)", async () => {
    const paged = await server.team("paged-journal");
    const writer = await server.agent(paged, "writer");
    for (const text of ["the kettle boiled", "the kettle whistled", "the kettle cooled"])
      expect((await call(writer, "/teams/paged-journal/journal/entries", { content: text })).status).toBe(201);
    const search = async (body: object) => (await call(writer, "/teams/paged-journal/journal/search", { query: "kettle", ...body })).json();
    const ids = (answer: { results: { id: string }[] }) => answer.results.map((result) => result.id);
    const all = ids(await search({ limit: 3 }));
    expect(all).toHaveLength(3);
    expect(ids(await search({ limit: 1, offset: 1 }))).toEqual([all[1]]);
    expect(ids(await search({ limit: 2, offset: 2 }))).toEqual([all[2]]);
    expect(await search({ offset: 3 })).toEqual({ results: [], total_count: 3, total_count_capped: false });
    const negative = await call(writer, "/teams/paged-journal/journal/search", { query: "kettle", offset: -1 });
    expect(negative.status).toBe(400);
    expect((await negative.json()).error.message).toContain("offset");
  });

  it("journal search's total_count is every entry that matches, not the page's length, as the list's is", async () => {
    const counted = await server.team("counted-journal");
    const writer = await server.agent(counted, "writer");
    for (const text of ["the kettle boiled", "the kettle whistled", "the kettle cooled", "the teapot cracked"])
      expect((await call(writer, "/teams/counted-journal/journal/entries", { content: text })).status).toBe(201);
    const search = async (body: object) =>
      (await call(writer, "/teams/counted-journal/journal/search", { query: "kettle", ...body })).json();
    const count = async (body: object) => {
      const { results, ...rest } = await search(body);
      return { shown: results.length, ...rest };
    };
    const three = { total_count: 3, total_count_capped: false };
    expect(await count({ limit: 1 })).toEqual({ shown: 1, ...three });
    expect(await count({ limit: 2, offset: 1 })).toEqual({ shown: 2, ...three });
    expect(await count({ limit: 2, offset: 2 })).toEqual({ shown: 1, ...three });
    expect(await count({ limit: 1, offset: 7 })).toEqual({ shown: 0, ...three });
    // journal-mcp's searchRemote reads results and total_count; the list answers its total the same way.
    expect(await count({ limit: 10, similarity_threshold: 0.1 })).toEqual({ shown: 3, ...three });
    const listed = await (await call(writer, "/teams/counted-journal/journal/entries?limit=1")).json();
    expect(listed.total_count).toBe(4);
    expect(await count({ query: "kettle -whistled", limit: 1 })).toEqual({ shown: 1, total_count: 2, total_count_capped: false });
    expect(await count({ query: "teapot or kettle", limit: 1 })).toEqual({ shown: 1, total_count: 4, total_count_capped: false });
  });

  it("journal search counts its matches up to journalMatchCountCap, and says when there are more", async () => {
    const crowded = await server.team("crowded-journal");
    const writer = await server.agent(crowded, "writer");
    const first = await (await call(writer, "/teams/crowded-journal/journal/entries", { content: "the kettle boiled again" })).json();
    // As many copies as the cap: one more match than is counted.
    await server.database.db.execute(sql`
      insert into journal_entries (team_id, agent_id, token_id, author_name, content, search_terms)
      select team_id, agent_id, token_id, author_name, content, search_terms
      from journal_entries, generate_series(1, ${journalMatchCountCap}) where id = ${Number(first.id)}`);
    const search = async (body: object) =>
      (await call(writer, "/teams/crowded-journal/journal/search", { query: "kettle", ...body })).json();
    const page = await search({ limit: 2 });
    expect(page.results).toHaveLength(2);
    expect(page).toMatchObject({ total_count: journalMatchCountCap, total_count_capped: true });
    expect(await search({ limit: 1, offset: journalMatchCountCap + 1 })).toEqual({
      results: [],
      total_count: journalMatchCountCap,
      total_count_capped: true,
    });
    // A page that ends the matches knows their number, past the cap too.
    const last = await search({ limit: 5, offset: journalMatchCountCap - 1 });
    expect(last.results).toHaveLength(2);
    expect(last).toMatchObject({ total_count: journalMatchCountCap + 1, total_count_capped: false });
  });

  it("a journal search's unknown field is refused by name, and its limit and sections are refused for what is wrong with them", async () => {
    const searcher = await server.agent(alpha, "searcher");
    expect((await call(searcher, "/teams/alpha/journal/entries", { content: "the boiler hissed" })).status).toBe(201);
    const search = (body: object) => call(searcher, "/teams/alpha/journal/search", body);
    // journal-mcp's searchRemote: query, limit and similarity_threshold, with sections when the model names some.
    const taken = await search({ query: "boiler", limit: 10, similarity_threshold: 0.1, sections: ["feelings"] });
    expect(taken.status).toBe(200);
    expect((await (await search({ query: "boiler", limit: 10, similarity_threshold: 0.1 })).json()).total_count).toBe(1);
    const refusals: [object, string][] = [
      [{ query: "boiler", ofset: 1 }, "unknown field: ofset"],
      [{ query: "boiler", limit: 2.5 }, "limit: limit must be a whole number"],
      [{ query: "boiler", limit: 100 }, "limit: limit must be between 1 and 50"],
      [{ query: "boiler", sections: "feelings" }, 'sections: sections must be a list of section names, as in ["feelings"]'],
      [{ query: "boiler", similarity_threshold: "high" }, "similarity_threshold: similarity_threshold must be a number"],
    ];
    for (const [body, message] of refusals) {
      const refused = await search(body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(await refused.json()).toEqual({ error: { code: "invalid", message } });
    }
  });

  it("a journal search's refusal names its body's query field, not REST's q parameter", async () => {
    const refusals: [string, RegExp][] = [
      ["label:bug", /^query: 'label:' is not an operator\. Known operators: from:NAME, /],
      [
        "boiler from:alice",
        /^query: journal search takes words, "phrases", -word, before: and after:; from:, tag:, in:, is: and has: are for posts\.$/,
      ],
      ["boiler after:2026-02-30", /^query: after: takes a date like 2026-11-30, /],
      ["   ", /^query is empty\.$/],
      ["-", /^query has no words to find and no operators\.$/],
      ["x".repeat(maxSearchQueryChars + 1), new RegExp(`^query is over ${maxSearchQueryChars} characters\\.$`)],
    ];
    for (const [query, message] of refusals) {
      const refused = await call(alice, "/teams/alpha/journal/search", { query });
      expect(refused.status, query).toBe(400);
      const { error } = await refused.json();
      expect(error.code, query).toBe("invalid");
      expect(error.message, query).toMatch(message);
    }
  });

  it("a journal entry's unknown field is refused by name, a section sent outside sections with where it goes", async () => {
    const refusals: [object, RegExp][] = [
      [
        { project_notes: "note one" },
        /^unknown field: project_notes; sections go inside sections, as in \{"sections": \{"project_notes": "\.\.\."\}\}\.$/,
      ],
      [{ feelings: "x\ud800" }, /^unknown field: feelings; sections go inside sections/],
      [{ content: "x", mood: "fine" }, /^unknown field: mood$/],
      [{ sections: { feeling: "typo" } }, /^sections: unknown field: feeling$/],
      [{ sections: { feelings: "x\ud800" } }, /^feelings contains a lone surrogate/],
    ];
    const before = (await (await call(alice, "/teams/alpha/journal/entries")).json()).total_count;
    for (const [body, message] of refusals) {
      const refused = await call(alice, "/teams/alpha/journal/entries", body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect((await refused.json()).error.message).toMatch(message);
    }
    expect((await (await call(alice, "/teams/alpha/journal/entries")).json()).total_count).toBe(before);
    // journal-mcp's whole payload, embedding included, is still taken.
    const payload = { team_id: alpha.id, timestamp: Date.now(), sections: { project_notes: "note one" }, embedding: [0.1, 0.2] };
    expect((await call(alice, "/teams/alpha/journal/entries", payload)).status).toBe(201);
  });

  it("a GET's unknown query parameter is refused by name with the known ones, not read as page one; the peers' parameters are taken", async () => {
    const entry = await (await call(alice, "/teams/alpha/journal/entries", { content: "strict query parameters" })).json();
    const posts = ["limit", "offset", "agent", "tag", "thread_id"].join(", ");
    const journal = ["limit", "offset", "order", "date_from", "date_to"].join(", ");
    const refusals: [string, string][] = [
      ["/teams/alpha/posts?ofset=10", `unknown query parameter: ofset (known: ${posts})`],
      ["/teams/alpha/posts?limit=5&limt=5&agent_filter=bob", `unknown query parameters: limt, agent_filter (known: ${posts})`],
      ["/teams/alpha/journal/entries?limt=5", `unknown query parameter: limt (known: ${journal})`],
      ["/teams/alpha/journal/entries?offset=1&dateFrom=2026-01-01", `unknown query parameter: dateFrom (known: ${journal})`],
      [`/teams/alpha/journal/entries/${entry.id}?offset=1`, "unknown query parameter: offset (known: none)"],
    ];
    for (const [path, message] of refusals) {
      const refused = await call(alice, path);
      expect(refused.status, path).toBe(400);
      // Each API's error shape: the posts client's string, the journal's {code, message}.
      const expected = path.includes("/journal/") ? { error: { code: "invalid", message } } : { error: message, code: "invalid" };
      expect(await refused.json(), path).toEqual(expected);
    }
    // mcp-socialmedia's fetchPosts: limit, agent, tag and thread_id; journal-mcp's getRemoteEntries: limit and offset.
    for (const path of [
      `/teams/alpha/posts?limit=10&agent=alice&tag=compat&thread_id=${entry.id}`,
      "/teams/alpha/posts?limit=10&offset=10",
      "/teams/alpha/journal/entries?limit=10&offset=0",
      "/teams/alpha/journal/entries?limit=10&order=desc&date_from=2026-01-01T00:00:00Z&date_to=2099-01-01",
      `/teams/alpha/journal/entries/${entry.id}`,
    ])
      expect((await call(alice, path)).status, path).toBe(200);
  });

  it("limit and offset are decimal digits, as on the REST API: 0x10, 1e1, ' 2' and 2.0 are refused, not read as numbers", async () => {
    for (const value of ["0x10", "1e1", "%202", "2.0", "-1", "%2B2"]) {
      for (const path of [`/teams/alpha/posts?limit=${value}`, `/teams/alpha/journal/entries?offset=${value}`]) {
        const refused = await call(alice, path);
        expect(refused.status, path).toBe(400);
        expect(JSON.stringify(await refused.json()), path).toMatch(/(limit|offset) must be (a number|between)/);
      }
    }
    expect((await call(alice, "/teams/alpha/posts?limit=2&offset=0")).status).toBe(200);
  });

  it("a query parameter given twice is refused, not read as its first value, in each API's error shape", async () => {
    const posts = await call(alice, "/teams/alpha/posts?limit=5&limit=6");
    expect(posts.status).toBe(400);
    expect(await posts.json()).toEqual({ error: "limit is given twice; send it once.", code: "invalid" });
    const entries = await call(alice, "/teams/alpha/journal/entries?order=asc&order=desc");
    expect(entries.status).toBe(400);
    expect(await entries.json()).toEqual({ error: { code: "invalid", message: "order is given twice; send it once." } });
  });
});
