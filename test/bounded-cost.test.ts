import { Worker } from "node:worker_threads";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callTool, connectMcp } from "./support/mcp.ts";
import { rowsOf } from "../bench/load/seed.ts";
import { realignDeliveryOrder } from "../server/domain/delivery.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type DatabaseKind, type TestServer } from "./support/server.ts";

/**
 * What one caller's searches may cost everyone else: a search over long posts stays cheap, a
 * token's searches beyond its share wait and are refused, a read that runs too long is stopped,
 * and a flood of searches leaves another agent's feed as fast as it was.
 */

const longPostChars = 16_000;

/** Made-up words (few repeat, as in logs and code), with "deadlock" now and then: a 16 KB post. */
function longPost(seed: number, marker = ""): string {
  const syllables = ["ka", "lo", "mi", "ner", "tu", "vas", "rel", "po", "sin", "dra", "que", "fo", "ab", "zel", "tor", "im"];
  let state = seed * 7919 + 1;
  const words: string[] = [];
  for (let length = 0; length < longPostChars - marker.length - 1; ) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    let word = "";
    for (let rest = state, count = 2 + (state % 3); count > 0; count--, rest = Math.floor(rest / 16)) word += syllables[rest % 16];
    if (state % 50 === 0) word = "deadlock";
    words.push(word);
    length += word.length + 1;
  }
  return `${words.join(" ")} ${marker}`.slice(-longPostChars);
}

async function postAll(server: TestServer, token: string, contents: string[]): Promise<void> {
  for (const content of contents) {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
    expect(response.status).toBe(201);
  }
}

function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

/** An agent reading its feed ten times a second, as a busy client polls. */
const feedReadIntervalMs = 100;

/** Reads a page of the feed every `feedReadIntervalMs` until `until` says stop; the time each read took. */
async function feedLatencies(server: TestServer, token: string, until: () => boolean): Promise<number[]> {
  const samples: number[] = [];
  while (!until()) {
    const started = performance.now();
    const response = await server.as(token, "/api/v1/posts?limit=20");
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    const took = performance.now() - started;
    samples.push(took);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, feedReadIntervalMs - took)));
  }
  return samples;
}

/**
 * One token searching from 40 connections at once, each waiting as long as a 429's Retry-After
 * asks, in a thread of its own so its work on the answers does not slow the measuring thread.
 * Resolves to the count of answers by status once `stop` is called.
 */
function floodWithSearches(url: string, token: string): { stop: () => Promise<Record<string, number>> } {
  const worker = new Worker(
    `
    const { workerData, parentPort } = require("node:worker_threads");
    let stopped = false;
    const statuses = {};
    parentPort.on("message", () => { stopped = true; });
    async function searcher() {
      while (!stopped) {
        const response = await fetch(workerData.url, { headers: { authorization: "Bearer " + workerData.token } });
        await response.arrayBuffer();
        statuses[response.status] = (statuses[response.status] || 0) + 1;
        if (response.status === 429) {
          await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get("retry-after") || 1)));
        }
      }
    }
    Promise.all(Array.from({ length: 40 }, searcher)).then(() => parentPort.postMessage(statuses), (error) => parentPort.postMessage({ error: String(error) }));
    `,
    { eval: true, workerData: { url, token } },
  );
  const finished = new Promise<Record<string, number>>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    async stop() {
      worker.postMessage("stop");
      const statuses = await finished;
      await worker.terminate();
      return statuses;
    },
  };
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

  it("a flood of searches from one token leaves another agent's feed p99 within 2x of its quiet value", async () => {
    // A fresh server with the default limits; the agents would be on machines of their own, so
    // only the per-token limits apply to them here.
    const flooded_ = await startTestServer("postgres", { BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
    try {
      const board = await flooded_.team("flood");
      await postAll(
        flooded_,
        await flooded_.agent(board, "writer"),
        Array.from({ length: 100 }, (_, index) => longPost(100 + index)),
      );
      const searcher = await flooded_.agent(board, "searcher");
      const readers = [await flooded_.agent(board, "reader-1"), await flooded_.agent(board, "reader-2")];
      const readFeeds = async (ms: number) => {
        const until = elapsed(ms);
        return (await Promise.all(readers.map((reader) => feedLatencies(flooded_, reader, until)))).flat();
      };
      // Quiet and flooded in turns, so a change in the machine's other load falls on both alike.
      const quiet: number[] = [];
      const flooded: number[] = [];
      const statuses: Record<string, number> = {};
      for (let round = 0; round < 3; round++) {
        quiet.push(...(await readFeeds(5_000)));
        const flood = floodWithSearches(`${flooded_.url}/api/v1/search?q=deadlock&limit=20`, searcher);
        flooded.push(...(await readFeeds(5_000)));
        for (const [status, count] of Object.entries(await flood.stop())) statuses[status] = (statuses[status] ?? 0) + count;
      }
      const measured = {
        quietP99: percentile(quiet, 0.99),
        floodedP99: percentile(flooded, 0.99),
        samples: [quiet.length, flooded.length],
        statuses,
      };
      console.info(`feed under a search flood: ${JSON.stringify(measured)}`);
      expect(statuses["200"]).toBeGreaterThan(0);
      expect(measured.floodedP99).toBeLessThanOrEqual(2 * measured.quietP99);
    } finally {
      await flooded_.close();
    }
  }, 180_000);
});

/** A condition that turns true `ms` milliseconds from now. */
function elapsed(ms: number): () => boolean {
  const end = Date.now() + ms;
  return () => Date.now() >= end;
}
