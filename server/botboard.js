#!/usr/bin/env node
// The `botboard` command: registers TypeScript support, then runs the CLI from source.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("./cli.ts");
await runCli(process.argv);
