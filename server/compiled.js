// The CLI compiled to dist/ by `npm run build` (tsc -p tsconfig.build.json), so `botboard` starts
// without compiling TypeScript. A build counts only while no source file is newer than it: an edit
// is never served stale, only run from source (through tsx) until the next build.
//
//   node server/compiled.js             builds dist/
//   node server/compiled.js --if-stale  builds only when a source file changed since the last build
//   node server/compiled.js --optional  without TypeScript (a production install), says so and leaves
//                                       `botboard` running from source (npm install runs both flags)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const stamp = join(root, "dist", "built");
/** What tsconfig.build.json compiles: bench/tasks are the benchmark's data, bench/results its output. */
const sourceFolders = ["server", "mcp", "views", "bench"];
const notSource = new Set([join(root, "bench", "tasks"), join(root, "bench", "results")]);
const configFiles = ["tsconfig.json", "tsconfig.build.json"];

/** The compiled entry's URL (dist/server/commands.js) when the build is current, else undefined. */
export function compiledCommands() {
  const builtAt = modifiedAt(stamp);
  if (builtAt === undefined) return undefined;
  const newest = Math.max(
    ...configFiles.map((name) => modifiedAt(join(root, name)) ?? 0),
    ...sourceFolders.map((name) => newestSource(join(root, name))),
  );
  return newest <= builtAt ? new URL("../dist/server/commands.js", import.meta.url).href : undefined;
}

function modifiedAt(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest .ts/.tsx file's time under a folder; 0 when it has none (an installed package has no source). */
function newestSource(folder) {
  let newest = 0;
  if (!existsSync(folder)) return newest;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && !notSource.has(path)) newest = Math.max(newest, newestSource(path));
    else if (entry.isFile() && /\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles the source to dist/; returns tsc's exit code. The stamp is written only after a clean build. */
export function build({ optional = false } = {}) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch (error) {
    if (!optional) throw error;
    console.error("botboard: TypeScript is not installed (a production install?); botboard runs from source through tsx.");
    return 0;
  }
  // Files changed while tsc runs must count as newer than the build, so the stamp carries the start time.
  const started = new Date();
  const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  if (result.status !== 0) return result.status ?? 1;
  mkdirSync(join(root, "dist"), { recursive: true });
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flags = process.argv.slice(2);
  if (!(flags.includes("--if-stale") && compiledCommands())) process.exitCode = build({ optional: flags.includes("--optional") });
}
