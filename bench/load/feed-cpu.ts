/**
 * The server's CPU per feed request, before and after a change to the feed path, side by side: two
 * `botboard serve` processes on two Postgres databases seeded alike, one run from another checkout
 * (say the commit before the change, unpacked with `git archive`, its node_modules linked), one from
 * this tree, each take N sequential `GET /api/v1/posts?limit=20` in alternating rounds, so both see the
 * same machine load. A server's CPU is read from /proc (user + system time of its process), so the
 * figure is the server's alone: sockets, HTTP, authentication, rate-limit leases, the feed and JSON;
 * Postgres's own CPU is in its processes. Rate limits on, high enough never to refuse.
 *
 *   npx tsx bench/load/feed-cpu.ts <before-checkout> [requests-per-round] [rounds] [posts] [postgres-url]
 */
import { readFileSync } from "node:fs";
import { openDatabase } from "../../server/db/client.ts";
import { freshDatabase, type FreshDatabase } from "../../server/db/fresh-database.ts";
import { projectRoot } from "../../server/project-root.ts";
import { neverRefusingLimits, startCheckoutServer } from "./processes.ts";
import { seedLoadData } from "./seed.ts";

const [beforeCheckout, ...rest] = process.argv.slice(2);
if (!beforeCheckout) throw new Error("usage: feed-cpu.ts <before-checkout> [requests-per-round] [rounds] [posts] [postgres-url]");
const requests = Number(rest[0] ?? 2_000);
const rounds = Number(rest[1] ?? 5);
const postCount = Number(rest[2] ?? 10_000);
const postgresUrl = rest[3] ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** Clock ticks a second of /proc's CPU times (USER_HZ; 100 on Linux). */
const ticksPerSecond = 100;

type Side = { name: string; url: string; token: string; pid: number; stop(): Promise<void> };

async function startSide(name: string, checkout: string): Promise<Side> {
  const database: FreshDatabase = await freshDatabase("postgres", { postgresUrl, namePrefix: `botboard_feedcpu_${name}` });
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

async function feedRequest(side: Side): Promise<void> {
  const response = await fetch(`${side.url}/api/v1/posts?limit=20`, { headers: { authorization: `Bearer ${side.token}` } });
  if (response.status !== 200) throw new Error(`${side.name} answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
}

/** Milliseconds of the server's CPU per request over one round. */
async function round(side: Side): Promise<number> {
  for (let index = 0; index < 100; index++) await feedRequest(side);
  const before = cpuSecondsOf(side.pid);
  for (let index = 0; index < requests; index++) await feedRequest(side);
  return ((cpuSecondsOf(side.pid) - before) * 1000) / requests;
}

const sides = [await startSide("before", beforeCheckout), await startSide("after", projectRoot)];
const perRequest = new Map<Side, number[]>(sides.map((side) => [side, []]));
try {
  for (let index = 0; index < rounds; index++) {
    for (const side of index % 2 === 0 ? sides : [...sides].reverse()) perRequest.get(side)!.push(await round(side));
  }
} finally {
  for (const side of sides) await side.stop();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`${requests} sequential requests a round, ${rounds} rounds, ${postCount} posts, rate limits on`);
for (const [side, values] of perRequest) {
  console.log(
    `${side.name}: server CPU ms per request ${values.map((value) => value.toFixed(3)).join(", ")} (median ${median(values).toFixed(3)})`,
  );
}
const [before, after] = sides.map((side) => median(perRequest.get(side)!));
console.log(`after / before: ${(after! / before!).toFixed(2)}`);
