import { mkdirSync, writeFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import type postgres from "postgres";
import { join } from "node:path";
import type { Database } from "../../server/db/client.ts";
import { freshDatabase } from "../../server/db/fresh-database.ts";
import { cli } from "../../server/domain/callers.ts";
import { sessionCookieName } from "../../server/domain/users.ts";
import { acceptInvite, createInvite, createSession } from "../../server/domain/users.ts";
import { measureFanout, type FanoutResult } from "./fanout.ts";
import { measureCalls, measureHttp, type LoadOptions, type Measurement } from "./measure.ts";
import { neverRefusingLimits, startBareHono, startBotboard, startBotboardWithDefaultLimits } from "./processes.ts";
import {
  feedQuiet,
  feedUnderSearchFlood,
  floodConnections,
  floodQuery,
  measureSearchFlood,
  seedFloodBoard,
  type FloodBoard,
  type SearchFloodResult,
} from "./search-flood.ts";
import { seedLoadData, type SeededData } from "./seed.ts";
import { seedBacklogReaders, type BacklogReaders } from "./unread-backlog.ts";

export type LoadRunOptions = LoadOptions & {
  databases: ("postgres" | "pglite")[];
  /** A Postgres server URL; the benchmark creates and drops its own database on it. */
  postgresUrl: string;
  posts: number;
  /** Engineers watching the live feed at once, and posts written while they watch. */
  subscribers: number;
  fanoutPosts: number;
  teams: number;
  agentsPerTeam: number;
  /** The deepest backlog, in posts, of the readers whose read_new latency is measured. */
  backlog: number;
  /** Readers per backlog: each read moves one 20 posts, so enough of them stay near their backlog. */
  backlogReaders: number;
  /** The search flood: posts of 16 KB on its board, quiet and flooded turns, seconds a turn. */
  searchFlood: { posts: number; turns: number; turnSeconds: number };
  outDir: string;
  log: (line: string) => void;
};

export type LoadReport = {
  startedAt: string;
  machine: { cpus: number; node: string };
  options: Omit<LoadRunOptions, "log">;
  measurements: Measurement[];
  fanout: (FanoutResult & { database: string })[];
  /** The flooding token's answers, per database. */
  searchFlood: SearchFloodResult[];
  /** Every target of issue 7 (and issue 15's search flood), each with what was measured and whether it was met. */
  checks: TargetCheck[];
};

export type TargetCheck = { name: string; database: string; measured: string; target: string; met: boolean };

/** A signed-in engineer of the team, as the cookie a browser would send to /events. */
async function engineerSessionCookie(database: Database, teamId: string): Promise<string> {
  const invite = await createInvite(database.db, cli, { teamId, role: "member" });
  const user = await acceptInvite(database.db, {
    secret: invite.secret,
    username: `watcher-${database.kind}`,
    password: "load benchmark watcher",
  });
  const session = await createSession(database.db, user.id);
  return `${sessionCookieName}=${session.token}`;
}

const rawInsert = `insert into posts (team_id, author_kind, agent_id, author_name, content, tags)
  values ($1, 'agent', $2, 'raw', $3, array['load'])
  returning id, created_at`;
const rawSelect = `select id, author_kind, author_name, content, tags, parent_id, root_id, created_at, deleted_at,
    (select count(*)::int from posts replies where replies.root_id = posts.id and replies.deleted_at is null)
  from posts where team_id = $1 and deleted_at is null
  order by created_at desc, id desc limit 21`;

/**
 * The driver itself, under drizzle: postgres.js with its default of prepared statements (the pool
 * of 10 connections a server has), or PGlite as the server runs it, each text a named statement
 * (server/db/pglite-statements.ts; before `fd4096a`, PGlite's own query).
 */
function rawQueryOf(database: Database): (text: string, params: string[]) => Promise<unknown[]> {
  const client = (database.db as unknown as { $client: unknown }).$client;
  if (database.kind === "postgres") {
    const sql = client as postgres.Sql;
    return (text, params) => sql.unsafe(text, params, { prepare: true });
  }
  const pglite = client as { query(text: string, params: unknown[]): Promise<{ rows: unknown[] }> };
  return async (text, params) => (await pglite.query(text, params)).rows;
}

/**
 * The physical floor (issue 21): the least a posts table can be, with the same driver and
 * concurrency: id, team, author, content, time, a full-text GIN index and the index "latest 20 of a
 * team" reads. Seeded with a copy of the board's posts, so its select reads pages of the same size.
 */
const floorTable = [
  `create table floor_posts (id bigserial primary key, team_id uuid not null, author text not null, content text not null,
    created_at timestamptz not null default now())`,
  "insert into floor_posts (team_id, author, content, created_at) select team_id, author_name, content, created_at from posts order by id",
  // Built after the copy, as the board's own are: ten million rows copied under a GIN index took about ten minutes.
  "create index floor_posts_search on floor_posts using gin (to_tsvector('english', content))",
  "create index floor_posts_latest on floor_posts (team_id, created_at desc, id desc)",
  "analyze floor_posts",
];
const floorInsert = "insert into floor_posts (team_id, author, content) values ($1, 'floor', $2) returning id, created_at";
const floorSelect = `select id, team_id, author, content, created_at from floor_posts where team_id = $1
  order by created_at desc, id desc limit 21`;

/**
 * The raw floor: the same INSERT and "latest 20 of a team" SELECT the API runs, with no HTTP and no
 * app; then the physical floor, the same two on the minimal table.
 */
async function measureRawDatabase(database: Database, seeded: SeededData, kind: string, options: LoadRunOptions) {
  const query = rawQueryOf(database);
  const teamOf = (index: number) => seeded.teamIds[index % seeded.teamIds.length]!;
  const agentOf = (index: number) => seeded.agentIds[index % seeded.agentIds.length]!;
  const insert = await measureCalls("raw insert", kind, options, (index) =>
    query(rawInsert, [teamOf(index), agentOf(index), `raw insert ${index}`]),
  );
  const select = await measureCalls("raw select latest 20", kind, options, async (index) => {
    if ((await query(rawSelect, [teamOf(index)])).length === 0) throw new Error("empty feed");
  });
  for (const statement of floorTable) await database.db.execute(sql.raw(statement));
  const physicalInsert = await measureCalls(floorInsertTarget, kind, options, (index) =>
    query(floorInsert, [teamOf(index), `floor insert ${index}`]),
  );
  const physicalSelect = await measureCalls(floorSelectTarget, kind, options, async (index) => {
    if ((await query(floorSelect, [teamOf(index)])).length === 0) throw new Error("empty floor feed");
  });
  return [insert, select, physicalInsert, physicalSelect];
}

const floorInsertTarget = "physical floor insert";
const floorSelectTarget = "physical floor select latest 20";

async function measureBotboard(url: string, seeded: SeededData, kind: string, options: LoadRunOptions) {
  const tokenOf = (index: number) => seeded.tokens[index % seeded.tokens.length]!;
  const auth = (index: number) => ({ authorization: `Bearer ${tokenOf(index)}` });
  const json = (index: number) => ({ ...auth(index), "content-type": "application/json" });
  return [
    await measureHttp(
      {
        name: "POST /api/v1/posts",
        url: `${url}/api/v1/posts`,
        method: "POST",
        request: (index) => ({ headers: json(index), body: JSON.stringify({ content: `load post ${index}`, tags: ["load"] }) }),
      },
      kind,
      options,
    ),
    await measureHttp(
      { name: "GET /api/v1/posts?limit=20", url: `${url}/api/v1/posts?limit=20`, request: (i) => ({ headers: auth(i) }) },
      kind,
      options,
    ),
    await measureHttp(
      {
        name: "GET /api/v1/search?q=flaky cache",
        url: `${url}/api/v1/search?q=flaky%20cache&limit=20`,
        request: (i) => ({ headers: auth(i) }),
      },
      kind,
      options,
    ),
    // Latency targets are for one client waiting on its answer; at fixed concurrency 50 latency is
    // mostly queueing (Little's law: 50 / throughput), whatever the query costs.
    await measureHttp({ name: feedOneClient, url: `${url}/api/v1/posts?limit=20`, request: (i) => ({ headers: auth(i) }) }, kind, {
      ...options,
      concurrency: 1,
    }),
    await measureHttp(
      { name: searchOneClient, url: `${url}/api/v1/search?q=flaky%20cache&limit=20`, request: (i) => ({ headers: auth(i) }) },
      kind,
      { ...options, concurrency: 1 },
    ),
    // Issue 17: a code-aware query (a file name, 1 post in 30) on its own and from 50 clients.
    await measureHttp(
      { name: codeSearchOneClient, url: `${url}/api/v1/search?q=session.ts&limit=20`, request: (i) => ({ headers: auth(i) }) },
      kind,
      { ...options, concurrency: 1 },
    ),
    await measureHttp(
      { name: codeSearchConcurrent, url: `${url}/api/v1/search?q=session.ts&limit=20`, request: (i) => ({ headers: auth(i) }) },
      kind,
      options,
    ),
    await measureHttp(
      { name: "GET /api/v1/unread", url: `${url}/api/v1/unread?limit=20`, request: (i) => ({ headers: auth(i) }) },
      kind,
      options,
    ),
    await measureHttp(
      {
        name: "MCP create_post",
        url: `${url}/mcp`,
        method: "POST",
        request: (index) => mcpToolCall(index, "create_post", { content: `load post over MCP ${index}`, tags: ["load"] }),
      },
      kind,
      options,
    ),
    await measureHttp(
      {
        name: "MCP read_posts",
        url: `${url}/mcp`,
        method: "POST",
        request: (index) => mcpToolCall(index, "read_posts", { limit: 20 }),
      },
      kind,
      options,
    ),
  ];

  /** A real MCP tools/call request, as a client sends it over Streamable HTTP. */
  function mcpToolCall(index: number, name: string, args: Record<string, unknown>) {
    return {
      headers: { ...json(index), accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: index, method: "tools/call", params: { name, arguments: args } }),
    };
  }
}

/** MCP read_new for one client at a time, for readers caught up and further and further behind. */
async function measureUnreadBacklog(url: string, backlog: BacklogReaders, kind: string, options: LoadRunOptions) {
  const measurements: Measurement[] = [];
  for (const [behind, tokens] of backlog.tokens) {
    measurements.push(
      await measureHttp(
        {
          name: readNewBehind(behind),
          url: `${url}/mcp`,
          method: "POST",
          request: (index) => ({
            headers: {
              authorization: `Bearer ${tokens[index % tokens.length]}`,
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
              "mcp-protocol-version": "2025-06-18",
            },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: index,
              method: "tools/call",
              params: { name: "read_new", arguments: { limit: 20 } },
            }),
          }),
        },
        kind,
        { ...options, concurrency: 1 },
      ),
    );
  }
  return measurements;
}

const readNewBehind = (behind: number) => `MCP read_new, one client, ${behind.toLocaleString("en-US")} posts behind`;

const feedWithRateLimits = "GET /api/v1/posts?limit=20, rate limits on";
const feedOneClient = "GET /api/v1/posts?limit=20, one client";
const searchOneClient = "GET /api/v1/search?q=flaky cache, one client";
const codeSearchOneClient = "GET /api/v1/search?q=session.ts, one client";
const codeSearchConcurrent = "GET /api/v1/search?q=session.ts, concurrent clients";

const ratioTargets = [
  { name: "post create / raw insert", numerator: "POST /api/v1/posts", denominator: "raw insert", target: 0.5 },
  { name: "feed read / raw select", numerator: "GET /api/v1/posts?limit=20", denominator: "raw select latest 20", target: 0.4 },
  // Issue 21: against the least a posts table can be, rather than the driver on Botboard's own table.
  { name: "post create / physical floor insert", numerator: "POST /api/v1/posts", denominator: floorInsertTarget, target: 0.3 },
  { name: "feed read / physical floor select", numerator: "GET /api/v1/posts?limit=20", denominator: floorSelectTarget, target: 0.3 },
  // Issue 21 raised these from 0.6, and asks the default settings (rate limits on) to cost at most 10%.
  { name: "MCP create_post / REST post", numerator: "MCP create_post", denominator: "POST /api/v1/posts", target: 0.9 },
  { name: "MCP read_posts / REST feed", numerator: "MCP read_posts", denominator: "GET /api/v1/posts?limit=20", target: 0.8 },
  { name: "feed, rate limits on / off", numerator: feedWithRateLimits, denominator: "GET /api/v1/posts?limit=20", target: 0.9 },
];

export async function runLoadBenchmark(options: LoadRunOptions): Promise<LoadReport> {
  const measurements: Measurement[] = [];
  const fanout: LoadReport["fanout"] = [];
  const searchFlood: SearchFloodResult[] = [];
  const startedAt = new Date().toISOString();
  options.log("Bare Hono baseline");
  const bare = await startBareHono();
  try {
    measurements.push(
      await measureHttp({ name: "bare Hono GET /", url: `${bare.url}/`, request: () => ({ headers: {} }) }, "none", options),
    );
  } finally {
    await bare.stop();
  }
  for (const kind of options.databases) {
    const database = await freshDatabase(kind, { postgresUrl: options.postgresUrl, namePrefix: "botboard_load" });
    try {
      options.log(
        `${kind}: seeding ${options.posts} posts over ${options.teams} teams and ${options.teams * options.agentsPerTeam} agents`,
      );
      const inProcess = await database.open();
      let seeded: SeededData;
      let backlog: BacklogReaders;
      let watcherCookie: string;
      let floodBoard: FloodBoard;
      try {
        await inProcess.migrate();
        seeded = await seedLoadData(inProcess.db, options);
        options.log(`${kind}: a board of ${options.backlog + 5_000} posts with readers up to ${options.backlog} behind`);
        backlog = await seedBacklogReaders(inProcess.db, { deepest: options.backlog, readersEach: options.backlogReaders });
        watcherCookie = await engineerSessionCookie(inProcess, seeded.teamIds[0]!);
        options.log(`${kind}: a board of ${options.searchFlood.posts} posts of 16 KB for the search flood`);
        floodBoard = await seedFloodBoard(inProcess.db, options.searchFlood.posts);
        options.log(`${kind}: raw database baselines`);
        measurements.push(...(await measureRawDatabase(inProcess, seeded, kind, options)));
      } finally {
        await inProcess.close();
      }
      options.log(`${kind}: Botboard over HTTP`);
      const server = await startBotboard(database.env);
      try {
        measurements.push(...(await measureBotboard(server.url, seeded, kind, options)));
        measurements.push(...(await measureUnreadBacklog(server.url, backlog, kind, options)));
      } finally {
        await server.stop();
      }
      // What the shared rate-limit buckets cost: the feed again, on a server charging every request
      // to its token's and its address's bucket, with the default bursts refilled too fast to refuse.
      const limited = await startBotboard({ ...database.env, ...neverRefusingLimits });
      try {
        options.log(`${kind}: the feed with rate limits on`);
        measurements.push(
          await measureHttp(
            {
              name: feedWithRateLimits,
              url: `${limited.url}/api/v1/posts?limit=20`,
              request: (i) => ({ headers: { authorization: `Bearer ${seeded.tokens[i % seeded.tokens.length]}` } }),
            },
            kind,
            options,
          ),
        );
      } finally {
        await limited.stop();
      }
      // Issue 15: the default search caps and per-token limits keep a flood of searches from one
      // token off other agents' feed.
      const defaults = await startBotboardWithDefaultLimits(database.env);
      try {
        const { turns, turnSeconds } = options.searchFlood;
        options.log(`${kind}: two readers' feed, ${turns} turns of ${turnSeconds} s quiet and ${turnSeconds} s under a search flood`);
        const flood = await measureSearchFlood(defaults.url, floodBoard, kind, { turns, turnSeconds });
        measurements.push(...flood.measurements);
        searchFlood.push(flood.result);
      } finally {
        await defaults.stop();
      }
      // A fresh process, so its memory reflects the watchers rather than the load rounds before.
      const watched = await startBotboard(database.env);
      try {
        options.log(`${kind}: live feed fan-out to ${options.subscribers} watchers`);
        const result = await measureFanout({
          url: watched.url,
          serverPid: watched.process.pid!,
          cookie: watcherCookie,
          subscribers: options.subscribers,
          posts: options.fanoutPosts,
          writePost: async (index) => {
            const response = await fetch(`${watched.url}/api/v1/posts`, {
              method: "POST",
              headers: { authorization: `Bearer ${seeded.tokens[0]}`, "content-type": "application/json" },
              body: JSON.stringify({ content: `fan-out post ${index}` }),
            });
            if (response.status !== 201) throw new Error(`fan-out post answered ${response.status}`);
            return response.json() as Promise<{ id: number; createdAt: string }>;
          },
        });
        fanout.push({ database: kind, ...result });
      } finally {
        await watched.stop();
      }
    } finally {
      await database.drop();
    }
  }
  const checks = options.databases.flatMap((kind) => targetChecks(kind, measurements, fanout));
  const { log: _log, ...recorded } = options;
  const report: LoadReport = {
    startedAt,
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    options: recorded,
    measurements,
    fanout,
    searchFlood,
    checks,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, `load-${startedAt.slice(0, 19).replaceAll(":", "-")}.json`), JSON.stringify(report, null, 2));
  return report;
}

const latencyTargets = [
  { target: searchOneClient, p99Ms: 50 },
  { target: feedOneClient, p99Ms: 20 },
  { target: codeSearchOneClient, p99Ms: 50 },
  // Issue 17 sets this for 50 clients on 100,000 posts; the run's --concurrency and --posts say what was measured.
  { target: codeSearchConcurrent, p99Ms: 150 },
];

/**
 * read_new's cost must not grow with the backlog: the deepest reader's p99 within this of one whose
 * backlog just fills the unread count's cap (a caught-up reader counts nothing, so it is cheaper still).
 */
const backlogP99Ratio = 1.5;

/** Issue 21 lowered the memory target from 300 MB to 250 MB, on PGlite too. */
const fanoutTargets = { p99Ms: 500, serverRssMb: 250 };

/** Issue 15: two agents' feed p99 while one token floods searches, within this of its quiet value. */
const searchFloodP99Ratio = 2;

/** What a check whose measurements got no answers reports: no figure, and not met. */
const noAnswers = "no answers";

function targetChecks(kind: string, measurements: Measurement[], fanout: LoadReport["fanout"]): TargetCheck[] {
  const measured = (target: string) => measurements.find((m) => m.database === kind && m.target === target)!;
  const answered = (...among: Measurement[]) => among.every((measurement) => measurement.completed > 0);
  const checks: TargetCheck[] = ratioTargets.map((ratio) => {
    const [numerator, denominator] = [measured(ratio.numerator), measured(ratio.denominator)];
    const value = numerator.requestsPerSecond / denominator.requestsPerSecond;
    const target = `≥ ${ratio.target}`;
    if (!answered(numerator, denominator)) return { name: ratio.name, database: kind, measured: noAnswers, target, met: false };
    return { name: ratio.name, database: kind, measured: value.toFixed(2), target, met: value >= ratio.target };
  });
  for (const latency of latencyTargets) {
    const measurement = measured(latency.target);
    const seen = answered(measurement);
    checks.push({
      name: `${latency.target}: p99`,
      database: kind,
      measured: seen ? `${measurement.p99Ms.toFixed(1)} ms` : noAnswers,
      target: `< ${latency.p99Ms} ms`,
      met: seen && measurement.p99Ms < latency.p99Ms,
    });
  }
  const backlogRuns = measurements.filter((m) => m.database === kind && m.target.startsWith("MCP read_new, one client"));
  const [atCap, deepest] = [backlogRuns[1], backlogRuns[2]];
  if (atCap && deepest) {
    const ratio = deepest.p99Ms / atCap.p99Ms;
    const seen = answered(atCap, deepest);
    checks.push({
      name: `read_new p99, ${deepest.target.replace(/.*one client, /, "")} / ${atCap.target.replace(/.*one client, /, "")}`,
      database: kind,
      measured: seen ? ratio.toFixed(2) : noAnswers,
      target: `≤ ${backlogP99Ratio}`,
      met: seen && ratio <= backlogP99Ratio,
    });
  }
  const [quiet, flooded] = [measured(feedQuiet), measured(feedUnderSearchFlood)];
  if (quiet && flooded) {
    const ratio = flooded.p99Ms / quiet.p99Ms;
    const seen = answered(quiet, flooded);
    checks.push({
      name: "feed p99 under a search flood / quiet",
      database: kind,
      measured: seen ? `${ratio.toFixed(2)} (${flooded.p99Ms.toFixed(0)} / ${quiet.p99Ms.toFixed(0)} ms)` : noAnswers,
      target: `≤ ${searchFloodP99Ratio}`,
      met: seen && flooded.errors === 0 && ratio <= searchFloodP99Ratio,
    });
  }
  for (const live of fanout.filter((f) => f.database === kind)) {
    checks.push(
      {
        name: `live feed to ${live.subscribers} watchers: p99`,
        database: kind,
        measured: `${live.p99Ms} ms`,
        target: `< ${fanoutTargets.p99Ms} ms`,
        met: live.missing === 0 && live.p99Ms < fanoutTargets.p99Ms,
      },
      {
        name: `live feed to ${live.subscribers} watchers: server RSS`,
        database: kind,
        measured: `${live.serverRssMb} MB`,
        target: `< ${fanoutTargets.serverRssMb} MB`,
        met: live.serverRssMb < fanoutTargets.serverRssMb,
      },
    );
  }
  return checks;
}

export function loadReportAsMarkdown(report: LoadReport): string {
  const lines = [
    `| target | database | req/s (median of ${report.options.rounds}) | p50 ms | p99 ms | errors |`,
    "| --- | --- | ---: | ---: | ---: | ---: |",
    ...report.measurements.map(
      (m) => `| ${m.target} | ${m.database} | ${m.requestsPerSecond} | ${m.p50Ms.toFixed(1)} | ${m.p99Ms.toFixed(1)} | ${m.errors} |`,
    ),
    "",
    "| target | database | measured | target | met |",
    "| --- | --- | ---: | ---: | --- |",
    ...report.checks.map((c) => `| ${c.name} | ${c.database} | ${c.measured} | ${c.target} | ${c.met ? "yes" : "no"} |`),
    "",
    "| live feed | database | watchers | posts | delivered | missing | p50 ms | p99 ms | max ms | server RSS MB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...report.fanout.map(
      (f) =>
        `| commit to every watcher | ${f.database} | ${f.subscribers} | ${f.posts} | ${f.deliveries} | ${f.missing} | ${f.p50Ms} | ${f.p99Ms} | ${f.maxMs} | ${f.serverRssMb} |`,
    ),
    "",
    "Botboard ran with its rate limits off (BOTBOARD_RATE_LIMIT_TOKEN and BOTBOARD_RATE_LIMIT_ADDRESS), so these numbers measure the server, not its 429s; the line marked 'rate limits on' is the feed with every request charged to its buckets.",
    ...report.searchFlood.map(
      (flood) =>
        `Search flood on ${flood.database} (default search caps and per-token limits, per-address limit off): two readers polled the feed ten times a second each, ${flood.turns} turns of ${flood.turnSeconds} s quiet then ${flood.turnSeconds} s while one token searched "${floodQuery}" over ${flood.posts} posts of 16 KB from ${floodConnections} connections honouring Retry-After; its answers: ${Object.entries(
          flood.searches,
        )
          .map(([status, count]) => `${count} × ${status}`)
          .join(", ")}.`,
    ),
  ];
  return lines.join("\n");
}
