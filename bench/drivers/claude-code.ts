import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import {
  addUsage,
  countCall,
  DriverUnavailable,
  emptyResult,
  settleProcess,
  type Driver,
  type DriverResult,
  type ReportedUsage,
} from "./driver.ts";
import { findExecutable, runProcess, versionOf } from "./process.ts";
import { pushEnvironment, pushHookSettings } from "./push-hooks.ts";

/**
 * Claude Code in print mode: `claude -p` with stream-json output, Botboard as its only MCP server,
 * tools pre-approved so it never waits for a prompt. Each trial gets a fresh config dir holding only the
 * user's credentials, so no user settings, CLAUDE.md, skills or plugins reach the agent; a push
 * variant's trial also gets the Botboard hooks in that dir's settings.json.
 *
 * Usage is counted per model request from the stream (one assistant message id per request), so a run
 * cut off by its timeout or a stop keeps what it spent; when the run ends with its result event, that
 * event's cost and usage (which also cover requests the stream does not show) are taken instead.
 * A turn is a model request; Claude Code's own num_turns is kept as the driver's figure.
 */

const builtinTools = ["Bash", "Read", "Write", "Edit", "MultiEdit", "Glob", "Grep", "LS", "TodoWrite"];

type ContentBlock = { type: string; name?: string };
type StreamEvent = {
  type: string;
  subtype?: string;
  mcp_servers?: { name?: string; status?: string }[];
  is_error?: boolean;
  message?: {
    id?: string;
    model?: string;
    content?: ContentBlock[];
    usage?: { input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
  };
  total_cost_usd?: number;
  num_turns?: number;
  usage?: { input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
  result?: string;
};

/**
 * Why a trial that should have Botboard's tools started without them, from Claude Code's first event;
 * undefined when Botboard is connected. Such a trial would run as the baseline and count as the variant.
 */
function missingBoardProblem(init: StreamEvent): string | undefined {
  const status = init.mcp_servers?.find((server) => server.name === "botboard")?.status ?? "not listed";
  if (status === "connected") return undefined;
  return `Claude Code started without Botboard's tools (its MCP server botboard was ${status}); stopped rather than run as the baseline`;
}

const claudeBinary = () => findExecutable("CLAUDE_BIN", "claude");
const userCredentials = () => join(process.env.CLAUDE_CONFIG_DIR ?? join(homedir(), ".claude"), ".credentials.json");

function hasCredentials(): boolean {
  return Boolean(
    process.env.ANTHROPIC_API_KEY ||
      process.env.CLAUDE_CODE_OAUTH_TOKEN ||
      process.env.ANTHROPIC_AUTH_TOKEN ||
      existsSync(userCredentials()),
  );
}

/** A config dir of its own for one trial: the user's login, and nothing else of theirs. */
function isolatedConfigDir(root: string): string {
  const configDir = join(root, "config");
  mkdirSync(configDir);
  if (existsSync(userCredentials())) copyFileSync(userCredentials(), join(configDir, ".credentials.json"));
  return configDir;
}

/** The usage of the model requests the stream has shown, in the benchmark's terms. */
function streamedUsage(requests: Map<string, ReportedUsage>): DriverResult {
  const sum = emptyResult({ turns: requests.size });
  for (const usage of requests.values()) addUsage(sum, usage, false);
  return sum;
}

const usageOf = (usage: NonNullable<StreamEvent["usage"]>): ReportedUsage => ({
  input: usage.input_tokens,
  output: usage.output_tokens,
  cacheRead: usage.cache_read_input_tokens,
  cacheWrite: usage.cache_creation_input_tokens,
});

export const claudeCodeDriver: Driver = {
  name: "claude-code",
  version: () => versionOf(claudeBinary()),
  async check() {
    if (!claudeBinary())
      throw new DriverUnavailable(
        "The claude-code driver needs the `claude` CLI: npm install -g @anthropic-ai/claude-code, or set CLAUDE_BIN.",
      );
    if (!hasCredentials()) throw new DriverUnavailable("The claude-code driver needs ANTHROPIC_API_KEY (or a `claude` login).");
  },
  async run({ workspace, prompt, mcp, push, model, timeoutMs, signal, onUsage }) {
    const trialDir = mkdtempSync(join(tmpdir(), "botboard-bench-claude-"));
    try {
      const configDir = isolatedConfigDir(trialDir);
      if (push) writeFileSync(join(configDir, "settings.json"), JSON.stringify(pushHookSettings()));
      const mcpConfig = join(trialDir, "mcp.json");
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
      // One entry per model request; its events repeat the message's usage, so the last one counts.
      const requests = new Map<string, ReportedUsage>();
      const boardMissing = new AbortController();
      let startProblem: string | undefined;
      const outcome = await runProcess(claudeBinary()!, args, {
        cwd: workspace,
        // Tool search would hide MCP tools behind a search step: offer them as they are.
        env: {
          ...process.env,
          CLAUDE_CONFIG_DIR: configDir,
          ENABLE_TOOL_SEARCH: "false",
          DISABLE_AUTOUPDATER: "1",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          // Print mode would otherwise start while Botboard is still connecting (a busy server), and
          // the model's first requests would go without its tools. Wait for it, up to a minute.
          MCP_CONNECTION_NONBLOCKING: "false",
          MCP_TIMEOUT: "60000",
          ...pushEnvironment(push),
        },
        timeoutMs,
        signal: signal ? AbortSignal.any([signal, boardMissing.signal]) : boardMissing.signal,
        onLine(line) {
          let event: StreamEvent;
          try {
            event = JSON.parse(line);
          } catch {
            return;
          }
          if (mcp && event.type === "system" && event.subtype === "init") {
            startProblem = missingBoardProblem(event);
            if (startProblem) boardMissing.abort();
          }
          if (event.type === "assistant") {
            const message = event.message;
            if (message?.id && message.usage) {
              requests.set(message.id, usageOf(message.usage));
              onUsage?.(streamedUsage(requests));
            }
            if (message?.model) result.reportedModel = message.model;
            for (const block of event.message?.content ?? [])
              if (block.type === "tool_use" && block.name) countCall(result.toolCalls, block.name);
          }
          if (event.type === "result") final = event;
        },
      });
      result.turns = requests.size;
      if (final) {
        result.costUsd = final.total_cost_usd ?? null;
        result.driverTurns = final.num_turns ?? null;
        addUsage(result, usageOf(final.usage ?? {}), false);
      } else for (const usage of requests.values()) addUsage(result, usage, false);
      const error =
        startProblem ??
        (final?.is_error ? `claude ended with ${final.subtype ?? "an error"}: ${String(final.result ?? "").slice(0, 300)}` : null);
      // Without a result event the run failed, whatever the exit code says.
      const settled = settleProcess(result, outcome, "claude", { error, failed: !final });
      // Stopped here, not by the run: a finished trial with its error, not one to run again.
      if (startProblem && !signal?.aborted) settled.interrupted = false;
      return settled;
    } finally {
      rmSync(trialDir, { recursive: true, force: true });
    }
  },
};
