/**
 * Post create before and after a change to the write path, side by side: two Botboard processes on
 * two fresh Postgres databases, one run from another checkout of Botboard (say the commit before the
 * change, unpacked with `git archive`, its node_modules linked), one from this tree, take the same
 * autocannon load on POST /api/v1/posts in alternating rounds, so both see the same machine load.
 * Prints each round and the medians. Rate limits off on both. With `pglite` in place of the Postgres
 * URL, each side serves a PGlite folder of its own instead.
 *
 *   npx tsx bench/load/post-commit-cost.ts <before-checkout> [round-seconds] [rounds] [connections] [postgres-url | pglite]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { addAgentToken } from "../../server/domain/agents.ts";
import { openDatabase, type Db } from "../../server/db/client.ts";
import { cli } from "../../server/domain/callers.ts";
import { createTeam, listTeams } from "../../server/domain/teams.ts";
import { projectRoot } from "../../server/project-root.ts";
import { measureHttp, type LoadOptions } from "./measure.ts";
import { startCheckoutServer, type ServerProcess } from "./processes.ts";

const [beforeCheckout, ...rest] = process.argv.slice(2);
if (!beforeCheckout)
  throw new Error("usage: post-commit-cost.ts <before-checkout> [round-seconds] [rounds] [connections] [postgres-url | pglite]");
const roundSeconds = Number(rest[0] ?? 5);
const rounds = Number(rest[1] ?? 5);
const connections = Number(rest[2] ?? 50);
const onPglite = rest[3] === "pglite";
const postgresUrl = onPglite ? "" : (rest[3] ?? "postgres://postgres@127.0.0.1:5432/postgres");
const databaseKind = onPglite ? "pglite" : "postgres";
const agentsPerBoard = 10;
const rateLimitsOff = { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };

type Side = { name: string; url: string; tokens: string[]; stop(): Promise<void> };

/** Makes the board's team and its writers' tokens. */
async function addWriters(db: Db): Promise<string[]> {
  const team = (await listTeams(db))[0] ?? (await createTeam(db, { name: "My team", slug: "team" }));
  const tokens: string[] = [];
  for (let i = 0; i < agentsPerBoard; i++) tokens.push((await addAgentToken(db, cli, { teamId: team.id, name: `writer-${i}` })).token);
  return tokens;
}

/** `botboard serve` of one checkout on a database of its own; its first start migrates and makes the team. */
async function startSide(name: string, checkout: string): Promise<Side> {
  if (onPglite) return startPgliteSide(name, checkout);
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  const database = `botboard_commitcost_${name}_${process.pid}`;
  await admin.unsafe(`create database ${database}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;
  const server = await startCheckoutServer(checkout, { DATABASE_URL: url.toString(), ...rateLimitsOff });
  const opened = await openDatabase({ databaseUrl: url.toString(), dataDir: "", poolSize: 1 });
  const tokens = await addWriters(opened.db).finally(() => opened.close());
  return sideOf(name, server, tokens, async () => {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  });
}

/** The same on a PGlite folder, which only one process may open: the writers are added before the server starts. */
async function startPgliteSide(name: string, checkout: string): Promise<Side> {
  const dataDir = mkdtempSync(join(tmpdir(), `botboard-commitcost-${name}-`));
  const opened = await openDatabase({ databaseUrl: "", dataDir });
  const tokens = await opened
    .migrate()
    .then(() => addWriters(opened.db))
    .finally(() => opened.close());
  const server = await startCheckoutServer(checkout, { BOTBOARD_DATA_DIR: dataDir, ...rateLimitsOff });
  return sideOf(name, server, tokens, async () => rmSync(dataDir, { recursive: true, force: true }));
}

/** A side whose stop ends its server, then drops what held its board. */
function sideOf(name: string, server: ServerProcess, tokens: string[], dropBoard: () => Promise<void>): Side {
  return {
    name,
    url: server.url,
    tokens,
    async stop() {
      await server.stop();
      await dropBoard();
    },
  };
}

const round: LoadOptions = { concurrency: connections, warmupSeconds: 0, roundSeconds, rounds: 1 };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const postTarget = (side: Side) => ({
  name: `POST /api/v1/posts (${side.name})`,
  url: `${side.url}/api/v1/posts`,
  method: "POST" as const,
  request: (i: number) => ({
    headers: { authorization: `Bearer ${side.tokens[i % side.tokens.length]}`, "content-type": "application/json" },
    body: JSON.stringify({ content: `load post ${i} from ${side.name}` }),
  }),
});

const sides = [await startSide("before", beforeCheckout), await startSide("after", projectRoot)];
try {
  for (const side of sides) await measureHttp(postTarget(side), databaseKind, { ...round, roundSeconds: 2 });
  const results = new Map<string, number[]>(sides.map((side) => [side.name, []]));
  const errors = new Map<string, number>(sides.map((side) => [side.name, 0]));
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always follows the other's writes.
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
      const measured = await measureHttp(postTarget(side), databaseKind, round);
      results.get(side.name)!.push(measured.requestsPerSecond);
      errors.set(side.name, errors.get(side.name)! + measured.errors);
      console.log(`round ${i + 1}: ${side.name} ${measured.requestsPerSecond} posts/s, p99 ${measured.p99Ms.toFixed(1)} ms`);
    }
  }
  const [before, after] = [median(results.get("before")!), median(results.get("after")!)];
  console.log(`median: before ${before}/s (${results.get("before")!.join(", ")}), errors ${errors.get("before")}`);
  console.log(`median: after ${after}/s (${results.get("after")!.join(", ")}), errors ${errors.get("after")}`);
  console.log(`after / before: ${(after / before).toFixed(2)}`);
} finally {
  for (const side of sides) await side.stop();
}
