import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { sql } from "drizzle-orm";
import { rowsOf } from "../server/db/client.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddingBatchSize } from "../server/domain/embedding-queue.ts";
import type { Team } from "../server/domain/teams.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { refusedMarker, startMockEmbeddings, type MockEmbeddings } from "./support/mock-embeddings.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";
import { databaseKinds, freshDatabase, startTestServer, type TestServer } from "./support/server.ts";

type Hit = { post: { id: number; content: string }; rank: number };

/** Polls until `check` passes (the background worker embeds within a second or two once the endpoint answers). */
async function eventually(check: () => Promise<void>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const automobile = "The automobile engine overheats on long drives";
const both = "Our car engine test: the car keeps stalling";
const unrelated = [
  "Fixed the flaky login test by waiting for the cookie",
  "Renamed parseConfigFile to readSettings in server/config.ts",
  "The deploy script now retries twice with jittered backoff",
];

describe.each(databaseKinds)("semantic search on %s", (kind) => {
  let embeddings: MockEmbeddings;
  let server: TestServer;
  let plain: TestServer;
  let team: Team;
  let alice: string;
  let bob: string;

  const post = async (token: string, content: string, target = server) => {
    const response = await target.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number };
  };
  const search = async (query: string, target = server, token = alice) => {
    const response = await target.as(token, `/api/v1/search?q=${encodeURIComponent(query)}&limit=10`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { results: Hit[] }).results.map((hit) => hit.post.content);
  };
  const count = async (query: ReturnType<typeof sql>, target = server) => {
    const result = await target.database.db.execute<{ count: string }>(query);
    return Number(rowsOf<{ count: string }>(result)[0]!.count);
  };
  const embeddedPostIds = async () => {
    const rows = await server.database.db.execute<{ id: string }>(
      sql`select post_id as id from post_embeddings where embedding is not null`,
    );
    return rowsOf<{ id: string }>(rows).map((row) => Number(row.id));
  };
  const embeddedPosts = () => count(sql`select count(*) as count from post_embeddings where embedding is not null`);

  beforeAll(async () => {
    embeddings = await startMockEmbeddings();
    server = await startTestServer(kind, {
      BOTBOARD_EMBEDDINGS_URL: embeddings.url,
      BOTBOARD_EMBEDDINGS_MODEL: "mock-words",
      BOTBOARD_EMBEDDINGS_KEY: "sk-test-key",
    });
    team = await server.team("semantic");
    alice = await server.agent(team, "alice");
    bob = await server.agent(team, "bob");
    plain = await startTestServer(kind);
    const plainTeam = await plain.team("plain");
    const plainAlice = await plain.agent(plainTeam, "alice");
    for (const content of [automobile, ...unrelated]) {
      await post(alice, content);
      await post(plainAlice, content, plain);
    }
    await eventually(async () => expect(await embeddedPosts()).toBe(1 + unrelated.length));
    (plain as TestServer & { alice?: string }).alice = plainAlice;
  });
  afterAll(async () => {
    await plain?.close();
    await server?.close();
    await embeddings?.close();
  });

  it("posts are embedded in the background, in batches, with the model and key configured", async () => {
    const before = embeddings.requests.length;
    await Promise.all(Array.from({ length: 40 }, (_, index) => post(bob, `Batch note number ${index} about the release checklist`)));
    await eventually(async () => expect(await embeddedPosts()).toBe(44));
    const batches = embeddings.requests.slice(before);
    const embeddedTexts = batches.flatMap((request) => request.input);
    for (let index = 0; index < 40; index++) expect(embeddedTexts).toContain(`Batch note number ${index} about the release checklist`);
    expect(batches.some((request) => request.input.length > 1)).toBe(true);
    expect(Math.max(...batches.map((request) => request.input.length))).toBeLessThanOrEqual(embeddingBatchSize);
    expect(batches.every((request) => request.model === "mock-words" && request.authorization === "Bearer sk-test-key")).toBe(true);
  });

  it("a query with no word in common finds a post near in meaning, only when semantic search is on", async () => {
    expect(await search("car")).toEqual([automobile]);
    expect(await search("vehicle")).toEqual([automobile]);
    const plainAlice = (plain as TestServer & { alice?: string }).alice!;
    expect(await search("car", plain, plainAlice)).toEqual([]);
    // Words still find what they found: the full-text half of the fusion.
    expect(await search("jittered backoff")).toEqual([unrelated[2]]);
    // Nothing near in meaning and no word in common: nothing, not the nearest of unrelated posts.
    expect(await search("zebra")).toEqual([]);
  });

  it("without the variable nothing is embedded and no embeddings row is written", async () => {
    expect(await count(sql`select count(*) as count from post_embeddings`, plain)).toBe(0);
    expect(await count(sql`select count(*) as count from journal_embeddings`, plain)).toBe(0);
  });

  it("a post that matches both by its words and its meaning ranks first", async () => {
    const { id } = await post(alice, both);
    await eventually(async () => expect(await embeddedPostIds()).toContain(id));
    expect(await search("car")).toEqual([both, automobile]);
    expect(await search("vehicle")).toEqual([both, automobile]);
    // Pages follow the fused order.
    const first = (await (await server.as(alice, "/api/v1/search?q=car&limit=1")).json()) as { results: Hit[]; nextCursor: string };
    expect(first.results.map((hit) => hit.post.content)).toEqual([both]);
    const second = (await (
      await server.as(alice, `/api/v1/search?q=car&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)
    ).json()) as {
      results: Hit[];
      nextCursor: string | null;
    };
    expect(second.results.map((hit) => hit.post.content)).toEqual([automobile]);
    expect(second.nextCursor).toBeNull();
  });

  it("operators and -word filter the posts found by meaning too", async () => {
    expect(await search("car from:bob")).toEqual([]);
    expect(await search("vehicle -overheats")).toEqual([both]);
    expect(await search("vehicle -overheats -stalling")).toEqual([]);
    expect(await search("vehicle from:alice")).toEqual([both, automobile]);
  });

  it("MCP search_posts and the web search page are hybrid too", async () => {
    const client: Client = await connectMcp(server.url, bob);
    try {
      const { tools } = await client.listTools();
      expect(tools.find((tool) => tool.name === "search_posts")?.description).toContain("near in meaning");
      const result = await callTool(client, "search_posts", { query: "sedan" });
      expect(result.isError).toBeFalsy();
      expect(result.text).toContain(automobile);
    } finally {
      await client.close();
    }
    const cookie = await server.engineer(team, "erin");
    const page = await fetch(`${server.url}/search?q=sedan`, { headers: { cookie } });
    expect(page.status).toBe(200);
    // No word of it matches, so nothing is marked: the post is there by its meaning.
    expect(await page.text()).toContain(`<p class="snippet">${automobile}</p>`);
  });

  it("posting does not wait for an endpoint that is down, the backlog is embedded once it is back, and search uses it again at once", async () => {
    await embeddings.down();
    const written = "Postgres fell over at noon";
    const [response] = await Promise.all([post(alice, written)]);
    expect(response.id).toBeGreaterThan(0);
    // Search still answers, with the words alone.
    expect(await search("datastore")).toEqual([]);
    expect(await search("postgres")).toEqual([written]);
    // The worker claimed the post, could not reach the endpoint and gave it back without counting the attempt.
    await eventually(async () =>
      expect(
        await count(
          sql`select count(*) as count from post_embeddings where post_id = ${response.id} and embedding is null and attempts = 0`,
        ),
      ).toBe(1),
    );
    await embeddings.up();
    await eventually(async () =>
      expect(await count(sql`select count(*) as count from post_embeddings where post_id = ${response.id} and embedding is not null`)).toBe(
        1,
      ),
    );
    // The worker reached the endpoint: searches no longer skip it, though it failed them moments ago.
    expect(await search("datastore")).toEqual([written]);
  });

  it("a text the endpoint refuses is left out after its attempt, and the rest of its batch is embedded", async () => {
    const refused = await post(alice, `${refusedMarker} this one is refused`);
    const accepted = await post(alice, "An offline sedan in the parking lot");
    await eventually(async () => expect(await search("downtime")).toEqual(["An offline sedan in the parking lot"]));
    const failed = await count(
      sql`select count(*) as count from post_embeddings where post_id = ${refused.id} and embedding is null and attempts = 1 and last_error like '%400%' and retry_at > now()`,
    );
    expect(failed).toBe(1);
    expect(accepted.id).toBeGreaterThan(refused.id);
  });

  it("journal search is hybrid, through MCP and the compatible REST API, and stays private", async () => {
    const aliceMcp = await connectMcp(server.url, alice);
    const bobMcp = await connectMcp(server.url, bob);
    try {
      const saved = await callTool(aliceMcp, "process_thoughts", { technical_insights: "The datastore ran out of connections under load" });
      expect(saved.isError).toBeFalsy();
      await eventually(async () => {
        const found = await callTool(aliceMcp, "search_journal", { query: "database" });
        expect(found.text).toContain("The datastore ran out of connections under load");
      });
      const other = await callTool(bobMcp, "search_journal", { query: "database" });
      expect(other.isError).toBeFalsy();
      expect(other.text).not.toContain("datastore");
      const compatSearch = (page: object) =>
        fetch(`${server.url}/teams/${team.slug}/journal/search`, {
          method: "POST",
          headers: { "x-api-key": alice, "content-type": "application/json" },
          body: JSON.stringify({ query: "postgres", limit: 5, ...page }),
        });
      const compat = await compatSearch({});
      expect(compat.status).toBe(200);
      const body = (await compat.json()) as {
        results: { technical_insights?: string; sections?: Record<string, string> }[];
        total_count: number;
      };
      expect(JSON.stringify(body.results)).toContain("The datastore ran out of connections under load");
      // Found by meaning or by words, every entry of the fused ranking counts.
      expect(body.total_count).toBe(body.results.length);
      // The fused ranking pages by offset too.
      expect(await (await compatSearch({ offset: body.results.length })).json()).toEqual({
        results: [],
        total_count: body.results.length,
        total_count_capped: false,
      });
    } finally {
      await aliceMcp.close();
      await bobMcp.close();
    }
  });

  it("the compatible journal search counts the entries found by words and those near in meaning, each once", async () => {
    const carol = await server.agent(team, "carol");
    const write = (content: string) =>
      fetch(`${server.url}/teams/${team.slug}/journal/entries`, {
        method: "POST",
        headers: { "x-api-key": carol, "content-type": "application/json" },
        body: JSON.stringify({ content }),
      });
    for (const content of ["The car stalled at the gate", "The sedan stalled at the gate", "An automobile stalled", "Lunch was fine"])
      expect((await write(content)).status).toBe(201);
    const search = async (page: object) =>
      (
        await fetch(`${server.url}/teams/${team.slug}/journal/search`, {
          method: "POST",
          headers: { "x-api-key": carol, "content-type": "application/json" },
          body: JSON.stringify({ query: "car", ...page }),
        })
      ).json();
    // Found by its word and near in meaning, the car is counted once; lunch is neither.
    const counted = { total_count: 3, total_count_capped: false };
    await eventually(async () => expect(await search({ limit: 1 })).toMatchObject(counted));
    expect((await search({ limit: 1, offset: 1 })).results).toHaveLength(1);
    expect(await search({ limit: 1, offset: 1 })).toMatchObject(counted);
    expect(await search({ limit: 5, offset: 3 })).toEqual({ results: [], ...counted });
  });

  it("posts written before semantic search was turned on are embedded once it is", async () => {
    const database = await freshDatabase(kind);
    const before = await startTestServer(kind, database.env);
    let after: TestServer | undefined;
    try {
      const earlyTeam = await before.team("early");
      const token = await before.agent(earlyTeam, "early-bird");
      await post(token, automobile, before);
      await before.close();
      after = await startTestServer(kind, { ...database.env, BOTBOARD_EMBEDDINGS_URL: embeddings.url });
      const target = after;
      await eventually(async () => expect(await search("sedan", target, token)).toEqual([automobile]));
    } finally {
      await after?.close();
      await database.drop();
    }
  });

  it("deleting a post deletes its vector", async () => {
    const doomed = await post(alice, "A vehicle recall notice to delete");
    await eventually(async () =>
      expect(await count(sql`select count(*) as count from post_embeddings where post_id = ${doomed.id} and embedding is not null`)).toBe(
        1,
      ),
    );
    const admin = await server.engineer(team, "ada", "admin");
    const deleted = await postForm(server, `/posts/${doomed.id}/delete`, { _csrf: await csrfTokenOf(server, admin) }, { cookie: admin });
    expect(deleted.status).toBeLessThan(400);
    expect(await count(sql`select count(*) as count from post_embeddings where post_id = ${doomed.id}`)).toBe(0);
    expect(await search("car")).not.toContain("A vehicle recall notice to delete");
  });
});
