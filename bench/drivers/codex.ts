import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { addUsage, countCall, DriverUnavailable, emptyResult, settleProcess, type Driver } from "./driver.ts";
import { findExecutable, runProcess } from "./process.ts";

/**
 * Codex non-interactively: `codex exec --json`, Botboard added as an MCP server through `-c` config
 * overrides (the token travels in an environment variable, never on the command line). Codex reports
 * tokens per turn but no cost, so the runner prices them from the table.
 */

type CodexEvent = {
  type: string;
  usage?: { input_tokens?: number; cached_input_tokens?: number; output_tokens?: number };
  item?: { type: string; server?: string; tool?: string; command?: string };
  error?: { message?: string };
  message?: string;
};

const codexBinary = () => findExecutable("CODEX_BIN", "codex");
const tokenVariable = "BOTBOARD_BENCH_TOKEN";

function hasCredentials(): boolean {
  return Boolean(
    process.env.OPENAI_API_KEY ||
      process.env.CODEX_API_KEY ||
      existsSync(join(process.env.CODEX_HOME ?? join(homedir(), ".codex"), "auth.json")),
  );
}

/** What a Codex item counts as among tool calls: MCP tools by their own name, the rest by item type. */
function toolOf(item: NonNullable<CodexEvent["item"]>): string | undefined {
  if (item.type === "mcp_tool_call") return item.tool;
  if (item.type === "command_execution" || item.type === "file_change" || item.type === "web_search") return item.type;
  return undefined;
}

export const codexDriver: Driver = {
  name: "codex",
  async check() {
    if (!codexBinary())
      throw new DriverUnavailable("The codex driver needs the `codex` CLI: npm install -g @openai/codex, or set CODEX_BIN.");
    if (!hasCredentials()) throw new DriverUnavailable("The codex driver needs OPENAI_API_KEY (or a `codex login`).");
  },
  async run({ workspace, prompt, mcp, model, timeoutMs, signal }) {
    const args = [
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--cd",
      workspace,
      "-c",
      'approval_policy="never"',
      "-c",
      'sandbox_mode="workspace-write"',
      ...(model ? ["-m", model] : []),
      ...(mcp ? ["-c", `mcp_servers.botboard={ url = ${JSON.stringify(mcp.url)}, bearer_token_env_var = "${tokenVariable}" }`] : []),
      ...(process.env.BOTBOARD_BENCH_CODEX_CONFIG
        ? JSON.parse(process.env.BOTBOARD_BENCH_CODEX_CONFIG).flatMap((override: string) => ["-c", override])
        : []),
      prompt,
    ];
    const result = emptyResult();
    let failure: string | null = null;
    const outcome = await runProcess(codexBinary()!, args, {
      cwd: workspace,
      env: { ...process.env, ...(mcp ? { [tokenVariable]: mcp.token } : {}) },
      timeoutMs,
      signal,
      onLine(line) {
        let event: CodexEvent;
        try {
          event = JSON.parse(line);
        } catch {
          return;
        }
        if (event.type === "turn.completed") {
          const usage = event.usage ?? {};
          addUsage(result, { input: usage.input_tokens, output: usage.output_tokens, cacheRead: usage.cached_input_tokens }, true);
        }
        if (event.type === "item.completed" && event.item) {
          const tool = toolOf(event.item);
          if (tool) countCall(result.toolCalls, tool);
          // Codex does not count model calls; each action and each message is one step of the agent.
          if (tool || event.item.type === "agent_message") result.turns++;
        }
        if (event.type === "turn.failed" || event.type === "error") failure = event.error?.message ?? event.message ?? event.type;
      },
    });
    return settleProcess(result, outcome, "codex", { error: failure && `codex: ${failure}`, failed: outcome.exitCode !== 0 });
  },
};
