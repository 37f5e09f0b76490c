import { Worker } from "node:worker_threads";
import { sql } from "drizzle-orm";
import type { Db } from "../../server/db/client.ts";
import { addAgentToken } from "../../server/domain/agents.ts";
import { cli } from "../../server/domain/callers.ts";
import { createTeam } from "../../server/domain/teams.ts";
import type { Measurement } from "./measure.ts";
import { longPost } from "./seed.ts";

/**
 * What a flood of searches from one token costs other agents (issue 15): two agents read their
 * feed ten times a second each, in quiet turns and in turns while one token searches from 40
 * connections, on a server with the default search caps and per-token rate limits.
 */

export type FloodBoard = { searcher: string; readers: string[]; posts: number };

/** A team of its own whose board holds `posts` posts of 16 KB, with a searcher and two readers. */
export async function seedFloodBoard(db: Db, posts: number): Promise<FloodBoard> {
  const team = await createTeam(db, { name: "Search flood", slug: "search-flood" });
  await addAgentToken(db, cli, { teamId: team.id, name: "flood-writer" });
  for (let index = 0; index < posts; index++) {
    await db.execute(sql`
      insert into posts (team_id, author_kind, agent_id, author_name, content, tags, created_at)
      values (${team.id}, 'agent', (select id from agents where team_id = ${team.id} and name = 'flood-writer'), 'flood-writer',
        ${longPost(100 + index)}, array['flood'], now() - make_interval(secs => ${posts - index}))`);
  }
  await db.execute(sql`analyze posts`);
  const token = async (name: string) => (await addAgentToken(db, cli, { teamId: team.id, name })).token;
  return { searcher: await token("flood-searcher"), readers: [await token("flood-reader-1"), await token("flood-reader-2")], posts };
}

/** The flood's query: "deadlock" is in every long post, so each search ranks and quotes all of them. */
export const floodQuery = "deadlock";

/** Connections the flooding token searches from at once. */
export const floodConnections = 40;

/**
 * One token asking for `url` (a search, say) from `connections` connections at once, each waiting as
 * long as a 429's Retry-After asks, in a thread of its own so its work on the answers does not slow
 * the measuring thread. `stop()` cuts the waits short, lets the requests in flight finish, and
 * resolves to the count of answers by status ("error" for a request that failed without one).
 */
export function floodWithRequests(
  url: string,
  token: string,
  connections = floodConnections,
): { stop: () => Promise<Record<string, number>> } {
  const worker = new Worker(
    `
    const { workerData, parentPort } = require("node:worker_threads");
    let stopped = false;
    let wake;
    const stopping = new Promise((resolve) => (wake = resolve));
    const statuses = {};
    const count = (status) => (statuses[status] = (statuses[status] || 0) + 1);
    const pause = (ms) => Promise.race([new Promise((resolve) => setTimeout(resolve, ms)), stopping]);
    parentPort.on("message", () => { stopped = true; wake(); });
    async function asker() {
      while (!stopped) {
        try {
          const response = await fetch(workerData.url, { headers: { authorization: "Bearer " + workerData.token } });
          await response.arrayBuffer();
          count(response.status);
          if (response.status === 429) await pause(1000 * Number(response.headers.get("retry-after") || 1));
        } catch {
          count("error");
          await pause(100);
        }
      }
    }
    Promise.all(Array.from({ length: workerData.connections }, asker)).then(() => parentPort.postMessage(statuses));
    `,
    { eval: true, workerData: { url, token, connections } },
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

/** An agent reading its feed ten times a second, as a busy client polls. */
const feedReadIntervalMs = 100;

type Reads = { latencies: number[]; errors: number; firstError?: string };

/** Reads a page of the feed every `feedReadIntervalMs` for `ms` milliseconds. */
async function readFeed(url: string, token: string, ms: number, into: Reads): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const started = performance.now();
    try {
      const response = await fetch(`${url}/api/v1/posts?limit=20`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      if (response.status === 200) into.latencies.push(performance.now() - started);
      else {
        into.errors++;
        into.firstError ??= `the feed answered ${response.status}`;
      }
    } catch (error) {
      into.errors++;
      into.firstError ??= String((error as Error).message ?? error);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, feedReadIntervalMs - (performance.now() - started))));
  }
}

export const feedQuiet = "GET /api/v1/posts?limit=20, two readers, quiet";
export const feedUnderSearchFlood = "GET /api/v1/posts?limit=20, two readers, search flood";

export type SearchFloodResult = {
  database: string;
  posts: number;
  turns: number;
  turnSeconds: number;
  /** The flooding token's answers by status, all turns together: 200s and the 429s of its caps. */
  searches: Record<string, number>;
};

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The reads of all turns of one kind as a measurement: p50 and p99 over every read, reads a second per turn. */
function asMeasurement(target: string, database: string, reads: Reads, perTurn: number[]): Measurement {
  const sorted = [...reads.latencies].sort((a, b) => a - b);
  return {
    target,
    database,
    requestsPerSecond: Math.round(median(perTurn)),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    completed: sorted.length,
    errors: reads.errors,
    rounds: perTurn.map(Math.round),
    firstError: reads.firstError,
  };
}

/**
 * Quiet and flooded turns one after the other, `turns` of each, so a change in the machine's other
 * load falls on both alike; p99 over all reads of a kind. Feed reads that fail and searches that
 * answer neither 200 nor 429 count as errors of the flooded measurement.
 */
export async function measureSearchFlood(
  url: string,
  board: FloodBoard,
  database: string,
  options: { turns: number; turnSeconds: number },
): Promise<{ measurements: Measurement[]; result: SearchFloodResult }> {
  const quiet: Reads = { latencies: [], errors: 0 };
  const flooded: Reads = { latencies: [], errors: 0 };
  const quietPerTurn: number[] = [];
  const floodedPerTurn: number[] = [];
  const searches: Record<string, number> = {};
  const turn = async (reads: Reads, perTurn: number[]) => {
    const before = reads.latencies.length + reads.errors;
    const started = performance.now();
    await Promise.all(board.readers.map((reader) => readFeed(url, reader, options.turnSeconds * 1000, reads)));
    perTurn.push((reads.latencies.length + reads.errors - before) / ((performance.now() - started) / 1000));
  };
  const searchUrl = `${url}/api/v1/search?q=${encodeURIComponent(floodQuery)}&limit=20`;
  for (let index = 0; index < options.turns; index++) {
    await turn(quiet, quietPerTurn);
    const flood = floodWithRequests(searchUrl, board.searcher);
    await turn(flooded, floodedPerTurn);
    for (const [status, count] of Object.entries(await flood.stop())) searches[status] = (searches[status] ?? 0) + count;
  }
  for (const [status, count] of Object.entries(searches)) {
    if (status === "200" || status === "429") continue;
    flooded.errors += count;
    flooded.firstError ??= `a flooding search answered ${status}`;
  }
  if (!searches["200"]) {
    flooded.errors++;
    flooded.firstError ??= "no flooding search answered 200";
  }
  return {
    measurements: [
      asMeasurement(feedQuiet, database, quiet, quietPerTurn),
      asMeasurement(feedUnderSearchFlood, database, flooded, floodedPerTurn),
    ],
    result: { database, posts: board.posts, turns: options.turns, turnSeconds: options.turnSeconds, searches },
  };
}
