/**
 * The server's CPU per request, before and after a change, side by side: two `botboard serve`
 * processes on two Postgres databases seeded alike, one run from another checkout (say the commit
 * before the change, unpacked with `git archive`, its node_modules linked), one from this tree, each
 * take N sequential requests of a path in alternating rounds, so both see the same machine load. A
 * server's CPU is read from /proc (user + system time of its process), so the figure is the server's
 * alone: sockets, HTTP, authentication, rate-limit leases, the work and JSON; Postgres's own CPU is in
 * its processes. Rate limits on, high enough never to refuse.
 *
 *   npx tsx bench/load/server-cpu.ts <before-checkout> [paths] [requests-per-round] [rounds] [posts] [postgres-url]
 *
 * `paths`: a comma list of feed (`GET /api/v1/posts?limit=20`), post (`POST /api/v1/posts`),
 * mcp-read (MCP `read_posts`, 20) and mcp-post (MCP `create_post`); default feed.
 */
import { readFileSync } from "node:fs";
import { openDatabase } from "../../server/db/client.ts";
import { freshDatabase, type FreshDatabase } from "../../server/db/fresh-database.ts";
import { projectRoot } from "../../server/project-root.ts";
import { neverRefusingLimits, startCheckoutServer } from "./processes.ts";
import { seedLoadData } from "./seed.ts";

const [beforeCheckout, ...rest] = process.argv.slice(2);
const usage = "usage: server-cpu.ts <before-checkout> [feed,post,mcp-read,mcp-post] [requests-per-round] [rounds] [posts] [postgres-url]";
if (!beforeCheckout) throw new Error(usage);
const pathNames = (rest[0] ?? "feed").split(",");
const requests = Number(rest[1] ?? 2_000);
const rounds = Number(rest[2] ?? 5);
const postCount = Number(rest[3] ?? 10_000);
const postgresUrl = rest[4] ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** Clock ticks a second of /proc's CPU times (USER_HZ; 100 on Linux). */
const ticksPerSecond = 100;

type Side = { name: string; url: string; token: string; pid: number; stop(): Promise<void> };

async function startSide(name: string, checkout: string): Promise<Side> {
  const database: FreshDatabase = await freshDatabase("postgres", { postgresUrl, namePrefix: `botboard_servercpu_${name}` });
  const opened = await openDatabase({ databaseUrl: database.env.DATABASE_URL!, dataDir: "", poolSize: 2 });
  let token: string;
  try {
    await opened.migrate();
    token = (await seedLoadData(opened.db, { teams: 1, agentsPerTeam: 10, posts: postCount })).tokens[0]!;
  } finally {
    await opened.close();
  }
  const server = await startCheckoutServer(checkout, {
    ...database.env,
    ...neverRefusingLimits,
  });
  return {
    name,
    url: server.url,
    token,
    pid: server.process.pid!,
    async stop() {
      await server.stop();
      await database.drop();
    },
  };
}

/** Seconds of CPU (user + system) the process has used so far. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

const mcpCall = (index: number, name: string, args: object) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
  body: JSON.stringify({ jsonrpc: "2.0", id: index, method: "tools/call", params: { name, arguments: args } }),
});

/** Each path's request: where it goes and what it sends. */
const paths: Record<string, (index: number) => [string, RequestInit]> = {
  feed: () => ["/api/v1/posts?limit=20", {}],
  post: (index) => [
    "/api/v1/posts",
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: `cpu post ${index}`, tags: ["load"] }),
    },
  ],
  "mcp-read": (index) => ["/mcp", mcpCall(index, "read_posts", { limit: 20 })],
  "mcp-post": (index) => ["/mcp", mcpCall(index, "create_post", { content: `cpu post over MCP ${index}`, tags: ["load"] })],
};
for (const name of pathNames) if (!paths[name]) throw new Error(`unknown path ${name}; ${usage}`);

async function send(side: Side, pathName: string, index: number): Promise<void> {
  const [path, init] = paths[pathName]!(index);
  const response = await fetch(`${side.url}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${side.token}` } });
  const body = await response.text();
  if (response.status >= 300 || body.includes('"isError":true')) throw new Error(`${side.name} answered ${response.status}: ${body}`);
}

/** Milliseconds of the server's CPU per request of one path over one round. */
async function round(side: Side, pathName: string): Promise<number> {
  for (let index = 0; index < 100; index++) await send(side, pathName, index);
  const before = cpuSecondsOf(side.pid);
  for (let index = 0; index < requests; index++) await send(side, pathName, index);
  return ((cpuSecondsOf(side.pid) - before) * 1000) / requests;
}

const sides = [await startSide("before", beforeCheckout), await startSide("after", projectRoot)];
const perRequest = new Map(pathNames.map((pathName) => [pathName, new Map<Side, number[]>(sides.map((side) => [side, []]))]));
try {
  for (let index = 0; index < rounds; index++) {
    for (const pathName of pathNames) {
      for (const side of index % 2 === 0 ? sides : [...sides].reverse())
        perRequest
          .get(pathName)!
          .get(side)!
          .push(await round(side, pathName));
    }
  }
} finally {
  for (const side of sides) await side.stop();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`${requests} sequential requests a round, ${rounds} rounds, ${postCount} posts, rate limits on`);
for (const [pathName, bySide] of perRequest) {
  for (const [side, values] of bySide) {
    console.log(
      `${pathName}, ${side.name}: server CPU ms per request ${values.map((value) => value.toFixed(3)).join(", ")} (median ${median(values).toFixed(3)})`,
    );
  }
  const [before, after] = sides.map((side) => median(bySide.get(side)!));
  console.log(`${pathName}, after / before: ${(after! / before!).toFixed(2)}`);
}
