// Module hooks that write the address of every module a process loads to the file named by
// BOTBOARD_RECORD_MODULES, one per line: a test's way to see what a command loads. Registered with
// `node --import ./test/support/record-modules.mjs`.
import { appendFileSync } from "node:fs";

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(process.env.BOTBOARD_RECORD_MODULES, `${resolved.url}\n`);
  return resolved;
}
