import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { openDatabase, type Database } from "./client.ts";

/**
 * A database of its own for a test file or a benchmark run: a new PGlite folder in the temp dir, or
 * a new database on a Postgres server, dropped (with force) by drop(). `env` is what a server
 * process needs to use it (BOTBOARD_DATA_DIR or DATABASE_URL); open() connects in this process.
 * On Postgres, `template` names a database to copy (one already migrated, say) instead of an empty one.
 */
export type FreshDatabase = { env: Record<string, string>; open(): Promise<Database>; drop(): Promise<void> };

export async function freshDatabase(
  kind: "postgres" | "pglite",
  options: { postgresUrl: string; namePrefix: string; template?: string },
): Promise<FreshDatabase> {
  if (kind === "pglite") {
    const dataDir = mkdtempSync(join(tmpdir(), `${options.namePrefix.replaceAll("_", "-")}-`));
    return {
      env: { BOTBOARD_DATA_DIR: dataDir },
      open: () => openDatabase({ dataDir }),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  if (options.template !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.template)) {
    throw new Error(`Not a plain database name: ${options.template}`);
  }
  const admin = postgres(options.postgresUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  // Several processes create databases at once (test files run in parallel): the pid keeps names apart.
  const name = `${options.namePrefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  try {
    await admin.unsafe(`create database ${name}${options.template ? ` template ${options.template}` : ""}`);
  } catch (error) {
    await admin.end();
    throw new Error(`Cannot create a database on the Postgres at ${options.postgresUrl}: ${(error as Error).message}`);
  }
  const url = new URL(options.postgresUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    open: () => openDatabase({ dataDir: "", databaseUrl: url.toString(), poolSize: 10 }),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
