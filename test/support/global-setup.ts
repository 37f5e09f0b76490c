import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../../server/db/client.ts";
import { pgliteTemplateVariable } from "./server.ts";

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

/** Vitest's global set-up: runs once before the test files, in the main process; workers inherit its environment. */
export default async function setUp(): Promise<() => void> {
  buildCompiledCli();
  const template = await makePgliteTemplate();
  process.env[pgliteTemplateVariable] = template;
  return () => rmSync(template, { recursive: true, force: true });
}
