/**
 * What the rate limits cost: two Botboard processes on the same kind of database, one with the
 * limits on (high enough never to refuse, so every request spends from its token's and its
 * address's bucket) and one with them off, take the same autocannon load in alternating rounds, so
 * both see the same machine load. Prints the median requests a second of each and their ratio, for
 * the feed and for post create.
 *
 *   npx tsx bench/load/rate-limit-cost.ts [round-seconds] [rounds] [connections] [postgres-url]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { addAgentToken } from "../../server/domain/agents.ts";
import { openDatabase } from "../../server/db/client.ts";
import { cli } from "../../server/domain/callers.ts";
import { createPost } from "../../server/domain/posts.ts";
import { createTeam } from "../../server/domain/teams.ts";
import { measureHttp, type HttpTarget, type LoadOptions } from "./measure.ts";
import { neverRefusingLimits, startBotboard } from "./processes.ts";

const roundSeconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 4);
const connections = Number(process.argv[4] ?? 50);
const postgresUrl = process.argv[5] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const agentsPerBoard = 10;

type Board = { env: Record<string, string>; tokens: string[]; drop(): Promise<void> };

/** A fresh database with one team, ten agents and 200 posts, so the feed reads a full page. */
async function preparedBoard(kind: "pglite" | "postgres"): Promise<Board> {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  if (kind === "pglite") {
    const dataDir = mkdtempSync(join(tmpdir(), "botboard-ratecost-"));
    env = { BOTBOARD_DATA_DIR: dataDir };
    drop = async () => rmSync(dataDir, { recursive: true, force: true });
  } else {
    const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
    const name = `botboard_ratecost_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(postgresUrl);
    url.pathname = `/${name}`;
    env = { DATABASE_URL: url.toString() };
    drop = async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  }
  const database = await openDatabase({ dataDir: env.BOTBOARD_DATA_DIR ?? "", databaseUrl: env.DATABASE_URL });
  try {
    await database.migrate();
    const team = await createTeam(database.db, { name: "Cost", slug: "cost" });
    const tokens: string[] = [];
    for (let i = 0; i < agentsPerBoard; i++) {
      tokens.push((await addAgentToken(database.db, cli, { teamId: team.id, name: `measurer-${i}` })).token);
    }
    const { authenticateAgentToken } = await import("../../server/domain/agents.ts");
    const writer = await authenticateAgentToken(database.db, tokens[0]!);
    for (let i = 0; i < 200; i++) await createPost(database.db, writer, { content: `seed post ${i}` });
    return { env, tokens, drop };
  } finally {
    await database.close();
  }
}

const targets: { name: string; target: (url: string, tokens: string[]) => HttpTarget }[] = [
  {
    name: "GET /api/v1/posts?limit=20",
    target: (url, tokens) => ({
      name: "feed",
      url: `${url}/api/v1/posts?limit=20`,
      request: (i) => ({ headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } }),
    }),
  },
  {
    name: "POST /api/v1/posts",
    target: (url, tokens) => ({
      name: "post",
      url: `${url}/api/v1/posts`,
      method: "POST",
      request: (i) => ({
        headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, "content-type": "application/json" },
        body: JSON.stringify({ content: `load post ${i}` }),
      }),
    }),
  },
];

/** CPU seconds a process has used (user + system), from /proc: Linux only, in 1/100 s ticks. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round: LoadOptions = { concurrency: connections, warmupSeconds: 0, roundSeconds, rounds: 1 };

console.log(
  "| database | path | limits off (req/s) | limits on (req/s) | on / off | server CPU ms a request (off, on) | errors (off, on) |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | --- |");
for (const kind of ["postgres", "pglite"] as const) {
  const [onBoard, offBoard] = [await preparedBoard(kind), await preparedBoard(kind)];
  const limited = await startBotboard({ ...onBoard.env, ...neverRefusingLimits });
  const unlimited = await startBotboard(offBoard.env);
  try {
    for (const { name, target } of targets) {
      const [onTarget, offTarget] = [target(limited.url, onBoard.tokens), target(unlimited.url, offBoard.tokens)];
      await measureHttp(onTarget, kind, { ...round, roundSeconds: 2 });
      await measureHttp(offTarget, kind, { ...round, roundSeconds: 2 });
      const on: number[] = [];
      const off: number[] = [];
      const cpu = { on: [] as number[], off: [] as number[] };
      let errors = [0, 0];
      for (let i = 0; i < rounds; i++) {
        // Alternate which goes first, so neither always follows the other's writes.
        const order = i % 2 === 0 ? ["on", "off"] : ["off", "on"];
        for (const which of order) {
          const pid = (which === "on" ? limited : unlimited).process.pid!;
          const cpuBefore = cpuSecondsOf(pid);
          const measured = await measureHttp(which === "on" ? onTarget : offTarget, kind, round);
          const served = measured.requestsPerSecond * roundSeconds;
          cpu[which as "on" | "off"].push(((cpuSecondsOf(pid) - cpuBefore) * 1000) / Math.max(1, served));
          (which === "on" ? on : off).push(measured.requestsPerSecond);
          errors = which === "on" ? [errors[0]!, errors[1]! + measured.errors] : [errors[0]! + measured.errors, errors[1]!];
        }
      }
      const [medianOn, medianOff] = [median(on), median(off)];
      console.log(
        `| ${kind} | ${name} | ${medianOff} (${off.join(", ")}) | ${medianOn} (${on.join(", ")}) | ${(medianOn / medianOff).toFixed(2)} | ${median(cpu.off).toFixed(2)}, ${median(cpu.on).toFixed(2)} | ${errors.join(", ")} |`,
      );
    }
  } finally {
    await limited.stop();
    await unlimited.stop();
    await onBoard.drop();
    await offBoard.drop();
  }
}
