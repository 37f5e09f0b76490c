/**
 * The server's own CPU per request, in process: no sockets, no load generator. A Botboard app on a
 * fresh Postgres database (Postgres runs in its own processes, so this process's CPU is the server's
 * alone) answers requests one at a time through `app.request`; process.cpuUsage() before and after a
 * round, divided by its requests, is what a request costs. Given other checkouts of Botboard (say
 * the commit before a change, unpacked with `git archive`, its node_modules linked), each builds its
 * own app on the same database in this process, and rounds alternate between paths and checkouts,
 * so all of them see the same machine load. Rate limits off, as in `botboard load`; the feed's
 * first-page cache on where the checkout has one, as `botboard serve` runs it.
 *
 *   npx tsx bench/load/door-cpu.ts [requests-per-round] [rounds] [only] [other-checkout...]
 *
 * `only`: the paths whose name contains it (`all` for every path; one path suits `node --cpu-prof`).
 * Postgres is DATABASE_URL's server (default the local one). Prints one JSON line per checkout:
 * each path's CPU ms per request (user and system, median of the rounds, and every round; user
 * alone, whose kernel share a loaded machine inflates least), statements per request, and the
 * bytes of an answer.
 */
import { resolve } from "node:path";
import postgres from "postgres";
import type { Config } from "../../server/config.ts";
import type { Database, DatabaseOptions } from "../../server/db/client.ts";
import type { EventHub } from "../../server/domain/events.ts";
import { projectRoot } from "../../server/project-root.ts";
import { seedLoadData } from "./seed.ts";

const requestsPerRound = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 5);
const only = process.argv[4] === undefined || process.argv[4] === "all" ? undefined : process.argv[4];
const checkouts = [projectRoot, ...process.argv.slice(5).map((checkout) => resolve(checkout))];
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const seededPosts = 2_000;

/** What this script asks of an app: Hono's in-process request. */
type App = { request(path: string, init: RequestInit, env: object): Response | Promise<Response> };
type Checkout = { name: string; paths: Record<string, (index: number) => Promise<Response>>; statements(): number; close(): Promise<void> };

const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
const databaseName = `botboard_doorcpu_${process.pid}`;
await admin.unsafe(`create database ${databaseName}`);
const databaseUrl = new URL(postgresUrl);
databaseUrl.pathname = `/${databaseName}`;
const environment = {
  DATABASE_URL: databaseUrl.toString(),
  LOG_LEVEL: "silent",
  BOTBOARD_RATE_LIMIT_TOKEN: "off",
  BOTBOARD_RATE_LIMIT_ADDRESS: "off",
};

/** One checkout's app on the shared database, and the four requests it answers. */
async function openCheckout(root: string, token: string): Promise<Checkout> {
  // Each checkout's own modules, loaded by path (a static import could only name this tree's).
  const { createApp } = (await import(`${root}/server/app.ts`)) as { createApp(database: Database, config: Config, hub: EventHub): App };
  const { createEventHub } = (await import(`${root}/server/domain/events.ts`)) as { createEventHub(database: Database): EventHub };
  // The feed's first-page cache, where the checkout has one, turned on as server/main.ts does.
  const feedCache = (await import(`${root}/server/domain/feed-cache.ts`).catch(() => undefined)) as
    | { cacheFeedFirstPages(db: Database["db"], hub: EventHub): void }
    | undefined;
  const { loadConfig } = (await import(`${root}/server/config.ts`)) as { loadConfig(environment: Record<string, string>): Config };
  const { openDatabase } = (await import(`${root}/server/db/client.ts`)) as { openDatabase(options: DatabaseOptions): Promise<Database> };
  const { configureLogger } = (await import(`${root}/server/logger.ts`)) as { configureLogger(level: Config["logLevel"]): void };
  const config = loadConfig(environment);
  configureLogger(config.logLevel);
  let statements = 0;
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: "",
    poolSize: config.dbPoolSize,
    onQuery: () => statements++,
  });
  const hub = createEventHub(database);
  feedCache?.cacheFeedFirstPages(database.db, hub);
  const app = createApp(database, config, hub);
  const authorization = `Bearer ${token}`;
  // What @hono/node-server hands the app for a request that came over a socket (its peer's address).
  const socketEnv = { incoming: { socket: { remoteAddress: "127.0.0.1", remotePort: 50_000, remoteFamily: "IPv4" } } };
  // A body's length in the header, as a client's request carries it on the wire (fetch, curl, the MCP
  // SDK all send one): without it the body-size check reads the body through a stream of its own.
  const request = async (path: string, init: RequestInit) => {
    const headers =
      typeof init.body === "string" ? { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) } : init.headers;
    return app.request(path, { ...init, headers }, socketEnv);
  };
  const json = { authorization, "content-type": "application/json", host: "localhost" };
  const mcpHeaders = { ...json, accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
  const mcpCall = (index: number, name: string, args: Record<string, unknown>) => ({
    method: "POST",
    headers: mcpHeaders,
    body: JSON.stringify({ jsonrpc: "2.0", id: index, method: "tools/call", params: { name, arguments: args } }),
  });
  const paths: Checkout["paths"] = {
    "REST POST /api/v1/posts": (index) =>
      request("/api/v1/posts", { method: "POST", headers: json, body: JSON.stringify({ content: `load post ${index}`, tags: ["load"] }) }),
    "REST GET /api/v1/posts?limit=20": () =>
      request("/api/v1/posts?limit=20", { method: "GET", headers: { authorization, host: "localhost" } }),
    "MCP create_post": (index) =>
      request("/mcp", mcpCall(index, "create_post", { content: `load post over MCP ${index}`, tags: ["load"] })),
    "MCP read_posts limit 20": (index) => request("/mcp", mcpCall(index, "read_posts", { limit: 20 })),
  };
  for (const name of Object.keys(paths)) if (only && !name.includes(only)) delete paths[name];
  return {
    name: root === projectRoot ? "this tree" : root,
    paths,
    statements: () => statements,
    close: async () => {
      await hub.close();
      await database.close();
    },
  };
}

/** Runs `count` requests one after the other: CPU ms and statements per request, and the bytes of the last answer. */
async function round(checkout: Checkout, request: (index: number) => Promise<Response>, count: number) {
  let bytes = 0;
  const statementsBefore = checkout.statements();
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const response = await request(i);
    const body = await response.text();
    if (!response.ok) throw new Error(`${response.status}: ${body.slice(0, 300)}`);
    bytes = body.length;
  }
  const used = process.cpuUsage(before);
  return {
    ms: (used.user + used.system) / 1000 / count,
    userMs: used.user / 1000 / count,
    bytes,
    statements: (checkout.statements() - statementsBefore) / count,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const opened: Checkout[] = [];
try {
  const { openDatabase } = await import("../../server/db/client.ts");
  const seeding = await openDatabase({ databaseUrl: databaseUrl.toString(), dataDir: "" });
  let token: string;
  try {
    await seeding.migrate();
    token = (await seedLoadData(seeding.db, { teams: 2, agentsPerTeam: 10, posts: seededPosts })).tokens[0]!;
  } finally {
    await seeding.close();
  }
  for (const root of checkouts) opened.push(await openCheckout(root, token));
  for (const checkout of opened) {
    for (const request of Object.values(checkout.paths)) await round(checkout, request, Math.min(200, requestsPerRound));
  }
  const results = opened.map(() => ({
    perRound: {} as Record<string, number[]>,
    userPerRound: {} as Record<string, number[]>,
    bytes: {} as Record<string, number>,
    statements: {} as Record<string, number>,
  }));
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(opened[0]!.paths)) {
      // Checkouts take turns first, so neither always runs right after the other.
      const order = r % 2 === 0 ? opened.map((_, index) => index) : opened.map((_, index) => opened.length - 1 - index);
      for (const index of order) {
        const measured = await round(opened[index]!, opened[index]!.paths[name]!, requestsPerRound);
        const result = results[index]!;
        result.perRound[name] = [...(result.perRound[name] ?? []), Number(measured.ms.toFixed(3))];
        result.userPerRound[name] = [...(result.userPerRound[name] ?? []), Number(measured.userMs.toFixed(3))];
        result.bytes[name] = measured.bytes;
        result.statements[name] = measured.statements;
      }
    }
  }
  opened.forEach((checkout, index) => {
    const { perRound, userPerRound, bytes, statements } = results[index]!;
    const medians = Object.fromEntries(Object.entries(perRound).map(([name, values]) => [name, median(values)]));
    const userMedians = Object.fromEntries(Object.entries(userPerRound).map(([name, values]) => [name, median(values)]));
    console.log(
      JSON.stringify({
        checkout: checkout.name,
        requestsPerRound,
        rounds,
        medians,
        userMedians,
        perRound,
        statementsPerRequest: statements,
        bytes,
      }),
    );
  });
} finally {
  for (const checkout of opened) await checkout.close();
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin.end();
}
