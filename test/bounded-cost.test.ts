import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callTool, connectMcp } from "./support/mcp.ts";
import { floodWithRequests } from "../bench/load/search-flood.ts";
import { longPost } from "../bench/load/seed.ts";
import { rowsOf } from "../server/db/client.ts";
import { realignDeliveryOrder } from "../server/domain/delivery.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type DatabaseKind, type TestServer } from "./support/server.ts";
import { countEventLoopTurns } from "./support/turns.ts";

/**
 * What one caller's searches may cost everyone else: a search over long posts stays cheap, a
 * token's searches beyond its share wait and are refused, a read that runs too long is stopped,
 * and a flood of searches runs no more at once than its share. How fast another agent's feed stays
 * under such a flood is a timing, measured by the load benchmark (`botboard load`, bench/load/search-flood.ts).
 */

async function postAll(server: TestServer, token: string, contents: string[]): Promise<void> {
  for (const content of contents) {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
    expect(response.status).toBe(201);
  }
}

describe.each(databaseKinds)("search over long posts on %s", (kind: DatabaseKind) => {
  let server: TestServer;
  let writer: string;
  let searcher: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const team = await server.team("long");
    writer = await server.agent(team, "writer");
    searcher = await server.agent(team, "searcher");
  });
  afterAll(() => server?.close());

  it("a word deep in a long post still finds it; posts that say it early rank first, with it marked", async () => {
    await postAll(server, writer, [longPost(1, "zanzibar"), `zanzibar early on, then ${longPost(2)}`]);
    const response = await server.as(searcher, "/api/v1/search?q=zanzibar");
    const body = (await response.json()) as { results: { post: { content: string }; snippet: string }[] };
    expect(body.results).toHaveLength(2);
    expect(body.results[0]!.post.content.startsWith("zanzibar early on")).toBe(true);
    expect(body.results[0]!.snippet).toContain("<mark>zanzibar</mark>");
    expect(body.results[1]!.post.content.endsWith("zanzibar")).toBe(true);
  });

  it("after delivery order is realigned (every post rewritten), the tables are analyzed at once", async () => {
    const { db } = server.database;
    const lastAnalyzed = async () => {
      const [row] = rowsOf<{ at: string | Date | null }>(
        await db.execute(sql`select last_analyze as at from pg_stat_user_tables where relname = 'posts'`),
      );
      return row?.at ? new Date(row.at).getTime() : 0;
    };
    const before = await lastAnalyzed();
    // As after pg_dump into a cluster whose transaction counter is far behind the old one's.
    await db.execute(sql`update posts set tx_id = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8`);
    expect(await realignDeliveryOrder(db)).toBeGreaterThan(0);
    expect(await lastAnalyzed()).toBeGreaterThan(before);
  });
});

/**
 * PGlite answers in the server's own thread without waiting on a socket: searches that arrived
 * together ran back to back in one turn of the event loop (40 of them, about 600 ms), and another
 * agent's feed read waited for all of them. Each search now starts in a turn of its own. Counted in
 * turns, not milliseconds: how fast the feed stays is the load benchmark's to measure.
 */
describe.each(databaseKinds)("a flood of searches on %s", (kind: DatabaseKind) => {
  let server: TestServer;
  let turns: ReturnType<typeof countEventLoopTurns>;
  const searchStartedInTurn: number[] = [];

  beforeAll(async () => {
    turns = countEventLoopTurns();
    server = await startTestServer(
      kind,
      {},
      {
        onQuery: (statement) => {
          if (statement.includes("ts_rank(")) searchStartedInTurn.push(turns.current());
        },
      },
    );
  });
  afterAll(async () => {
    turns?.stop();
    await server?.close();
  });

  it("starts each search in a turn of the event loop of its own, and another agent's feed answers between them", async () => {
    const board = await server.team("turns");
    await postAll(
      server,
      await server.agent(board, "writer"),
      Array.from({ length: 20 }, (_, index) => longPost(200 + index)),
    );
    const [flooder, reader] = [await server.agent(board, "flooder"), await server.agent(board, "reader")];
    const flood = floodWithRequests(`${server.url}/api/v1/search?q=deadlock&limit=20`, flooder, 40);
    const feed: number[] = [];
    let searches: Record<string, number>;
    try {
      for (const end = Date.now() + 2_000; Date.now() < end; ) {
        feed.push((await server.as(reader, "/api/v1/posts?limit=20")).status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      searches = await flood.stop();
    }
    expect(searches["200"]).toBeGreaterThan(5);
    const perTurn = new Map<number, number>();
    for (const started of searchStartedInTurn) perTurn.set(started, (perTurn.get(started) ?? 0) + 1);
    expect(Math.max(...perTurn.values()), "searches started in one turn of the event loop").toBe(1);
    expect(new Set(feed)).toEqual(new Set([200]));
  }, 60_000);
});

/**
 * Postgres alone: the embedded database runs each statement in the server's own thread, one at a
 * time, and cannot stop one (it has no statement timeout); there a search's cost is bounded by
 * keeping each search cheap and by the per-token rate limit, not by these.
 */
describe("bounded cost on postgres", () => {
  let server: TestServer;
  let team: Team;
  let writer: string;
  let lockHolder: postgres.Sql;

  beforeAll(async () => {
    server = await startTestServer("postgres", {
      BOTBOARD_READ_TIMEOUT_MS: "4000",
      BOTBOARD_SEARCHES_PER_TOKEN: "1",
      BOTBOARD_SEARCHES_PER_SERVER: "2",
    });
    team = await server.team("cost");
    writer = await server.agent(team, "writer");
    await postAll(server, writer, ["deadlock in the pool again"]);
    lockHolder = postgres(server.config.databaseUrl!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await lockHolder?.end();
    await server?.close();
  });

  /**
   * Runs `during` while another session holds an exclusive lock on posts: every read of posts
   * waits, as it would behind a costly statement. `reading(count)` waits until that many wait.
   */
  async function whilePostsLocked<T>(during: (reading: (count: number) => Promise<void>) => Promise<T>): Promise<T> {
    return lockHolder.begin(async (transaction) => {
      await transaction`lock table posts in access exclusive mode`;
      return during(async (count) => {
        for (;;) {
          const [row] = await transaction`select count(*)::int as waiting from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`;
          if (row!.waiting >= count) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
    }) as Promise<T>;
  }

  it("a search or a filtered page of the feed that runs over the read timeout answers 503 saying how to narrow it", async () => {
    const reader = await server.agent(team, "timed-out");
    const mcp = await connectMcp(server.url, await server.agent(team, "timed-out-mcp"));
    const [search, feed, tool] = await whilePostsLocked(() =>
      Promise.all([
        server.as(reader, "/api/v1/search?q=deadlock"),
        server.as(reader, "/api/v1/posts?tag=ops"),
        callTool(mcp, "search_posts", { query: "deadlock" }),
      ]),
    );
    expect(search.status).toBe(503);
    expect(((await search.json()) as { error: { message: string } }).error.message).toMatch(/search took over 4 s.*rarer words/);
    expect(feed.status).toBe(503);
    expect(((await feed.json()) as { error: { message: string } }).error.message).toMatch(/feed took over 4 s.*cursor/);
    expect(tool.isError).toBe(true);
    expect(tool.text).toMatch(/search took over 4 s.*rarer words/);
    await mcp.close();
    expect((await server.as(reader, "/api/v1/search?q=deadlock")).status).toBe(200);
  });

  it("a token's searches beyond its share, and any beyond the server's, wait a moment and then get 429 with Retry-After", async () => {
    const [first, second, third] = [
      await server.agent(team, "first"),
      await server.agent(team, "second"),
      await server.agent(team, "third"),
    ];
    const [running, sameToken, otherToken, overServer] = await whilePostsLocked(async (reading) => {
      const held = server.as(first, "/api/v1/search?q=deadlock");
      await reading(1);
      const refusedForToken = await server.as(first, "/api/v1/search?q=pool");
      const alongside = server.as(second, "/api/v1/search?q=deadlock");
      await reading(2);
      const refusedForServer = await server.as(third, "/api/v1/search?q=deadlock");
      return [held, refusedForToken, alongside, refusedForServer] as const;
    });
    expect(sameToken.status).toBe(429);
    expect(sameToken.headers.get("retry-after")).toBe("1");
    expect(((await sameToken.json()) as { error: { message: string } }).error.message).toMatch(/at most 1 at a time/);
    expect(overServer.status).toBe(429);
    expect(((await overServer.json()) as { error: { message: string } }).error.message).toMatch(/server is running as many searches/);
    expect((await running).status).toBe(200);
    expect((await otherToken).status).toBe(200);
  });

  it("a flood of 40 searches at once from one token runs one search at a time, and another agent's feed answers throughout", async () => {
    const board = await server.team("flood");
    await postAll(
      server,
      await server.agent(board, "writer"),
      Array.from({ length: 50 }, (_, index) => longPost(100 + index)),
    );
    // Twenty copies of each, written raw: enough matching posts that one search statement lasts long
    // enough for the sampler below to see it running. Each copy takes its original's search terms:
    // deriving them afterwards rewrote every row and its full-text index entry (about ten seconds).
    const db = server.database.db;
    await db.execute(sql`
      insert into posts (team_id, author_kind, agent_id, author_name, content, tags, search_terms, created_at)
      select team_id, author_kind, agent_id, author_name, content, tags, search_terms, now()
      from posts, generate_series(1, 20) where team_id = ${board.id}`);
    const [flooder, reader] = [await server.agent(board, "flooder"), await server.agent(board, "reader")];
    // From a connection of its own, every 10 ms: the search statements the server has running.
    const watcher = postgres(server.config.databaseUrl!, { max: 1, onnotice: () => {} });
    const running: number[] = [];
    const feed: number[] = [];
    const flood = floodWithRequests(`${server.url}/api/v1/search?q=deadlock&limit=20`, flooder, 40);
    let searches: Record<string, number>;
    try {
      for (const end = Date.now() + 3_000; Date.now() < end; ) {
        const [row] = await watcher`select count(*)::int as searches from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
            and query like '%ts_rank(%'`;
        running.push(row!.searches);
        if (running.length % 10 === 0) feed.push((await server.as(reader, "/api/v1/posts?limit=20")).status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      searches = await flood.stop();
      await watcher.end();
    }
    expect(searches["200"]).toBeGreaterThan(0);
    // BOTBOARD_SEARCHES_PER_TOKEN is 1 here, within BOTBOARD_SEARCHES_PER_SERVER's 2: one search
    // statement at a time, and the sampler saw it. Without the caps the 40 run several at once.
    expect(Math.max(...running), `search statements running at once, sampled: ${running.join(",")}`).toBe(1);
    expect(new Set(feed)).toEqual(new Set([200]));
  }, 60_000);
});
