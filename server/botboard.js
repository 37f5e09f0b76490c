#!/usr/bin/env node
// The `botboard` command: runs the CLI compiled to dist/ when that build is current (see compiled.js),
// otherwise registers TypeScript support and runs it from source.
import module from "node:module";
import { fileURLToPath } from "node:url";
import { compiledCommands } from "./compiled.js";

// Node 22.1+ keeps compiled bytecode between runs; Node 20 has no such cache.
module.enableCompileCache?.();
if (process.argv[2] === "hook") {
  // A hook runs before every prompt of an agent: it loads nothing but itself (see cli/hook.js).
  const { runHook } = await import("./cli/hook.js");
  await runHook(process.argv.slice(3));
} else {
  const compiled = compiledCommands();
  if (!compiled) await runFromSource();
  const { runBotboard } = await import(compiled ?? "./commands.ts");
  await runBotboard(process.argv);
}

/** tsx is a development dependency: a checkout has it, an installed package runs dist/ and never needs it. */
async function runFromSource() {
  try {
    // The project's tsconfig (JSX for the views), whichever folder botboard is started from.
    (await import("tsx/esm/api")).register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND") throw error;
    console.error(
      "botboard: dist/ is missing or older than the source, and tsx (a development dependency) is not installed: run `npm run build`.",
    );
    process.exit(1);
  }
}
