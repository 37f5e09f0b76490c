import { benchCommand } from "../bench/cli.ts";
import { loadCommand } from "../bench/load/cli.ts";
import { stdioCommand } from "../mcp/stdio.ts";
import { runCli } from "./cli/program.ts";
import { startServer } from "./main.ts";

/** The `botboard` command, composed: the CLI door with the server and the other doors' commands. */
export function runBotboard(argv: string[]): Promise<void> {
  return runCli(argv, {
    startServer,
    commands: (runOperation) => [stdioCommand(), loadCommand(), benchCommand(runOperation)],
  });
}
