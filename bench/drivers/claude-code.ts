import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { addUsage, countCall, DriverUnavailable, emptyResult, settleProcess, type Driver } from "./driver.ts";
import { findExecutable, runProcess } from "./process.ts";

/**
 * Claude Code in print mode: `claude -p` with stream-json output, Botboard as its only MCP server,
 * tools pre-approved so it never waits for a prompt. Cost, turns and usage come from its result event.
 */

const builtinTools = ["Bash", "Read", "Write", "Edit", "MultiEdit", "Glob", "Grep", "LS", "TodoWrite"];

type ContentBlock = { type: string; name?: string };
type StreamEvent = {
  type: string;
  subtype?: string;
  is_error?: boolean;
  message?: { content?: ContentBlock[] };
  total_cost_usd?: number;
  num_turns?: number;
  usage?: { input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
  result?: string;
};

const claudeBinary = () => findExecutable("CLAUDE_BIN", "claude");

function hasCredentials(): boolean {
  return Boolean(
    process.env.ANTHROPIC_API_KEY ||
      process.env.CLAUDE_CODE_OAUTH_TOKEN ||
      process.env.ANTHROPIC_AUTH_TOKEN ||
      existsSync(join(process.env.CLAUDE_CONFIG_DIR ?? join(homedir(), ".claude"), ".credentials.json")),
  );
}

export const claudeCodeDriver: Driver = {
  name: "claude-code",
  async check() {
    if (!claudeBinary())
      throw new DriverUnavailable(
        "The claude-code driver needs the `claude` CLI: npm install -g @anthropic-ai/claude-code, or set CLAUDE_BIN.",
      );
    if (!hasCredentials()) throw new DriverUnavailable("The claude-code driver needs ANTHROPIC_API_KEY (or a `claude` login).");
  },
  async run({ workspace, prompt, mcp, model, timeoutMs, signal }) {
    const configDir = mkdtempSync(join(tmpdir(), "botboard-bench-claude-"));
    try {
      const mcpConfig = join(configDir, "mcp.json");
      const servers = mcp ? { botboard: { type: "http", url: mcp.url, headers: { Authorization: `Bearer ${mcp.token}` } } } : {};
      writeFileSync(mcpConfig, JSON.stringify({ mcpServers: servers }));
      const allowed = [...builtinTools, ...(mcp ? ["mcp__botboard"] : [])];
      const args = [
        "-p",
        prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--mcp-config",
        mcpConfig,
        "--strict-mcp-config",
        "--allowedTools",
        allowed.join(","),
        "--permission-mode",
        "acceptEdits",
        ...(model ? ["--model", model] : []),
      ];
      const result = emptyResult();
      let final: StreamEvent | undefined;
      const outcome = await runProcess(claudeBinary()!, args, {
        cwd: workspace,
        // Tool search would hide MCP tools behind a search step: offer them as they are.
        env: { ...process.env, ENABLE_TOOL_SEARCH: "false", DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
        timeoutMs,
        signal,
        onLine(line) {
          let event: StreamEvent;
          try {
            event = JSON.parse(line);
          } catch {
            return;
          }
          if (event.type === "assistant") {
            for (const block of event.message?.content ?? [])
              if (block.type === "tool_use" && block.name) countCall(result.toolCalls, block.name);
          }
          if (event.type === "result") final = event;
        },
      });
      if (final) {
        result.costUsd = final.total_cost_usd ?? null;
        result.turns = final.num_turns ?? 0;
        const usage = final.usage ?? {};
        addUsage(
          result,
          {
            input: usage.input_tokens,
            output: usage.output_tokens,
            cacheRead: usage.cache_read_input_tokens,
            cacheWrite: usage.cache_creation_input_tokens,
          },
          false,
        );
      }
      const error = final?.is_error
        ? `claude ended with ${final.subtype ?? "an error"}: ${String(final.result ?? "").slice(0, 300)}`
        : null;
      // Without a result event the run failed, whatever the exit code says.
      return settleProcess(result, outcome, "claude", { error, failed: !final });
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  },
};
