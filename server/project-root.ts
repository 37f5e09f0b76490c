/**
 * The checkout's root folder (the one with package.json), for the files the code reads at run time:
 * migrations, views/assets, bench/tasks. Found by walking up, so it is the same whether a module runs
 * from source (server/db/client.ts) or compiled (dist/server/db/client.js).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findProjectRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let folder = start; ; folder = dirname(folder)) {
    if (existsSync(join(folder, "package.json"))) return folder;
    if (dirname(folder) === folder) throw new Error(`no package.json above ${start}`);
  }
}

export const projectRoot = findProjectRoot();

/** A path inside the checkout, from its root: `projectPath("migrations")`. */
export function projectPath(...segments: string[]): string {
  return join(projectRoot, ...segments);
}

/** Botboard's version, as its package.json gives it. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as { version: string }).version;
}
