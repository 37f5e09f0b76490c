#!/usr/bin/env node
// The `botboard` command: registers TypeScript support, then runs the CLI from source.
import { register } from "tsx/esm/api";

register();
const { runBotboard } = await import("./commands.ts");
await runBotboard(process.argv);
