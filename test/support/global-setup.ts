import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { openDatabase } from "../../server/db/client.ts";
import { freshDatabase, type FreshDatabase } from "../../server/db/fresh-database.ts";
import { adminPostgresUrl, pgliteTemplateVariable, postgresTemplateVariable } from "./server.ts";
import { runFolderVariable, runIdVariable, testDatabasePrefix } from "./spare-databases.ts";

const compiler = fileURLToPath(new URL("../../server/compiled.js", import.meta.url));

/**
 * Compiles the CLI to dist/ when the source changed since the last build, so the tests that spawn
 * `botboard` start it from JavaScript. A failed build only makes them slower: the command then runs
 * from source, and tsc's errors are printed here (and fail `npm run typecheck`).
 */
function buildCompiledCli(): void {
  const result = spawnSync(process.execPath, [compiler, "--if-stale"], { stdio: "inherit" });
  if (result.status !== 0) console.warn("The build of dist/ failed: `botboard` runs from source in these tests (slower).");
}

/**
 * An embedded database with every migration applied, made once through the same code a server runs
 * at start; each test's fresh PGlite database is a copy (initialising a cluster costs seconds).
 */
async function makePgliteTemplate(): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), "botboard-template-"));
  const database = await openDatabase({ dataDir: folder });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  return folder;
}

/**
 * The same on Postgres: a migrated database that each test's fresh one names as its template. No one
 * may stay connected to it (Postgres refuses to copy a database in use), so it is closed at once.
 * Fails the run when Postgres is not there: the suite must not skip it.
 */
async function makePostgresTemplate(): Promise<FreshDatabase & { name: string }> {
  const template = await freshDatabase("postgres", { postgresUrl: adminPostgresUrl, namePrefix: "botboard_template" });
  const database = await template.open();
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  return { ...template, name: new URL(template.env.DATABASE_URL!).pathname.slice(1) };
}

/**
 * Drops the Postgres databases of this run that are still there: a worker's last spare, or one whose
 * drop (which tests do not wait for) was cut short when the worker stopped.
 */
async function dropLeftoverDatabases(runId: string): Promise<void> {
  const admin = postgres(adminPostgresUrl, { max: 1, onnotice: () => {} });
  try {
    const leftovers = await admin<{ name: string }[]>`
      select datname as name from pg_database where starts_with(datname, ${`${testDatabasePrefix(runId)}_`})`;
    for (const { name } of leftovers) await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

/** Vitest's global set-up: runs once before the test files, in the main process; workers inherit its environment. */
export default async function setUp(): Promise<() => Promise<void>> {
  buildCompiledCli();
  const [pgliteTemplate, postgresTemplate] = await Promise.all([makePgliteTemplate(), makePostgresTemplate()]);
  process.env[pgliteTemplateVariable] = pgliteTemplate;
  process.env[postgresTemplateVariable] = postgresTemplate.name;
  const runFolder = mkdtempSync(join(tmpdir(), "botboard-test-run-"));
  const runId = randomBytes(4).toString("hex");
  process.env[runFolderVariable] = runFolder;
  process.env[runIdVariable] = runId;
  return async () => {
    rmSync(runFolder, { recursive: true, force: true });
    rmSync(pgliteTemplate, { recursive: true, force: true });
    await dropLeftoverDatabases(runId);
    await postgresTemplate.drop();
  };
}
