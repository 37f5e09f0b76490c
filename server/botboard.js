#!/usr/bin/env node
// The `botboard` command: runs the CLI compiled to dist/ when that build is current (see compiled.js),
// otherwise registers TypeScript support and runs it from source.
import module from "node:module";
import { compiledCommands } from "./compiled.js";

// Node 22.1+ keeps compiled bytecode between runs; Node 20 has no such cache.
module.enableCompileCache?.();
const compiled = compiledCommands();
if (!compiled) (await import("tsx/esm/api")).register();
const { runBotboard } = await import(compiled ?? "./commands.ts");
await runBotboard(process.argv);
