/**
 * What the rate limits cost a request: two Botboard processes on the same kind of database, one with
 * the limits on (high enough never to refuse) and one with them off, answer the same sequential
 * requests in alternation, so both see the same machine load. Prints the median milliseconds each.
 *
 *   npx tsx bench/load/rate-limit-cost.ts [requests] [postgres-url]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { addAgentToken } from "../../server/domain/agents.ts";
import { openDatabase } from "../../server/db/client.ts";
import { cli } from "../../server/domain/callers.ts";
import { createTeam } from "../../server/domain/teams.ts";
import { startBotboard, type ServerProcess } from "./processes.ts";

const requests = Number(process.argv[2] ?? 2000);
const postgresUrl = process.argv[3] ?? "postgres://postgres@127.0.0.1:5432/postgres";

type Setup = { env: Record<string, string>; token: string; drop(): Promise<void> };

async function preparedDatabase(kind: "pglite" | "postgres"): Promise<Setup> {
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
    const { token } = await addAgentToken(database.db, cli, { teamId: team.id, name: "measurer" });
    return { env, token, drop };
  } finally {
    await database.close();
  }
}

async function timedRequest(server: ServerProcess, token: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`answered ${response.status}`);
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

for (const kind of ["pglite", "postgres"] as const) {
  const [withLimits, withoutLimits] = [await preparedDatabase(kind), await preparedDatabase(kind)];
  const limited = await startBotboard({
    ...withLimits.env,
    BOTBOARD_RATE_LIMIT_TOKEN: "1000000,1000000",
    BOTBOARD_RATE_LIMIT_ADDRESS: "1000000,1000000",
  });
  const unlimited = await startBotboard(withoutLimits.env);
  try {
    const times = { on: [] as number[], off: [] as number[] };
    for (let i = 0; i < 200; i++) {
      await timedRequest(limited, withLimits.token);
      await timedRequest(unlimited, withoutLimits.token);
    }
    for (let i = 0; i < requests; i++) {
      times.on.push(await timedRequest(limited, withLimits.token));
      times.off.push(await timedRequest(unlimited, withoutLimits.token));
    }
    const [on, off] = [median(times.on), median(times.off)];
    console.log(
      `${kind}: GET /api/v1/me, median of ${requests}: ${off.toFixed(3)} ms without limits, ${on.toFixed(3)} ms with limits (+${(on - off).toFixed(3)} ms)`,
    );
  } finally {
    await limited.stop();
    await unlimited.stop();
    await withLimits.drop();
    await withoutLimits.drop();
  }
}
