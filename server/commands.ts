import { benchCommand } from "../bench/cli.ts";
import { loadCommand } from "../bench/load/cli.ts";
import { stdioCommand } from "../mcp/stdio.ts";
import { runCli, type CliDoors } from "./cli/program.ts";

/** What the CLI door is given: the server to serve and the other doors' commands. */
export const botboardDoors: CliDoors = {
  // The server, and all it loads, only for `botboard serve`.
  startServer: async (config, options) => (await import("./main.ts")).startServer(config, options),
  commands: (runOperation) => [stdioCommand(), loadCommand(), benchCommand(runOperation)],
};

/** The `botboard` command, composed: the CLI door with the server and the other doors' commands. */
export function runBotboard(argv: string[]): Promise<void> {
  return runCli(argv, botboardDoors);
}
