import type { Config } from "../server/config.ts";
import { openDatabase, type Db } from "../server/db/client.ts";
import { startServer } from "../server/main.ts";

/**
 * What a benchmark process needs: the database (trials, teams, tokens) and a Botboard server for the
 * agents' MCP calls. By default that server runs in this process on a free port over the configured
 * database; with --url the agents use a server that is already running (it must share the database,
 * which means Postgres: an embedded database belongs to one process).
 */
export type BenchSession = { db: Db; serverUrl: string; close(): Promise<void> };

export async function openBenchSession(config: Config, url: string | undefined): Promise<BenchSession> {
  if (url) {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 4 });
    await database.migrate();
    return { db: database.db, serverUrl: url.replace(/\/+$/, ""), close: () => database.close() };
  }
  const server = await startServer({
    ...config,
    port: 0,
    host: "127.0.0.1",
    logLevel: config.logLevel === "info" ? "warn" : config.logLevel,
  });
  return { db: server.database.db, serverUrl: server.url, close: () => server.close() };
}
