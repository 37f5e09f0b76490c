import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openDatabase } from "../../server/db/client.ts";
import { freshDatabase, type FreshDatabase } from "../../server/db/fresh-database.ts";

const run = promisify(execFile);

/** Set by the global set-up: a folder and a name for what this run makes, which its teardown removes. */
export const runFolderVariable = "BOTBOARD_TEST_RUN_FOLDER";
export const runIdVariable = "BOTBOARD_TEST_RUN_ID";

/** The prefix of every Postgres database a test of this run makes (the teardown drops those still there). */
export function testDatabasePrefix(runId = process.env[runIdVariable]): string {
  return runId ? `botboard_test_${runId}` : "botboard_test";
}

/**
 * Copies of a migrated database, made one ahead: while a test file runs on one, the next is made
 * (1,100 files copied for PGlite, CREATE DATABASE ... TEMPLATE on Postgres: about 0.4 s each that
 * every file waited for). Dropping one does not wait either. What is left when a worker stops (the
 * last spare, a deletion cut short) is in the run's folder or carries the run's name: the global
 * set-up's teardown removes it.
 */
const spares = new Map<string, Promise<FreshDatabase>>();

export function copyOfTemplate(kind: "pglite" | "postgres", template: string, postgresUrl: string): Promise<FreshDatabase> {
  const key = `${kind} ${template}`;
  const ready = spares.get(key) ?? makeCopy(kind, template, postgresUrl);
  const next = makeCopy(kind, template, postgresUrl);
  // Whoever takes it sees its failure; until then it is not an unhandled rejection.
  next.catch(() => undefined);
  spares.set(key, next);
  return ready;
}

async function makeCopy(kind: "pglite" | "postgres", template: string, postgresUrl: string): Promise<FreshDatabase> {
  if (kind === "pglite") {
    const dataDir = mkdtempSync(join(process.env[runFolderVariable] ?? tmpdir(), "botboard-test-"));
    // cp(1) rather than fs.cpSync: it neither blocks this process's event loop nor spends its CPU.
    await run("cp", ["-R", `${template}/.`, dataDir]);
    return {
      env: { BOTBOARD_DATA_DIR: dataDir },
      open: () => openDatabase({ dataDir }),
      drop: async () => inBackground(run("rm", ["-rf", dataDir])),
    };
  }
  const database = await freshDatabase("postgres", { postgresUrl, namePrefix: testDatabasePrefix(), template });
  return { ...database, drop: async () => inBackground(database.drop()) };
}

/** A clean-up no test waits for; one that fails leaves its leftovers to the teardown. */
function inBackground(cleanUp: Promise<unknown>): void {
  cleanUp.catch(() => undefined);
}
