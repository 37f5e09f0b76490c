import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const compiler = fileURLToPath(new URL("../../server/compiled.js", import.meta.url));

/**
 * Vitest global set-up: compiles the CLI to dist/ when the source changed since the last build, so the
 * tests that spawn `botboard` start it from JavaScript. A failed build only makes them slower: the
 * command then runs from source, and tsc's errors are printed here (and fail `npm run typecheck`).
 */
export default function buildCompiledCli(): void {
  const result = spawnSync(process.execPath, [compiler, "--if-stale"], { stdio: "inherit" });
  if (result.status !== 0) console.warn("The build of dist/ failed: `botboard` runs from source in these tests (slower).");
}
