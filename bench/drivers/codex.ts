import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { addUsage, countCall, DriverUnavailable, emptyResult, settleProcess, type Driver, type DriverResult } from "./driver.ts";
import { findExecutable, runProcess, versionOf } from "./process.ts";
import { pushEnvironment, pushHookSettings } from "./push-hooks.ts";

/**
 * Codex non-interactively: `codex exec --json`, Botboard added as an MCP server through `-c` config
 * overrides (the token travels in an environment variable, never on the command line). Codex reports
 * tokens but no cost, so the runner prices them from the table.
 *
 * Each trial gets a fresh CODEX_HOME holding only the user's login (auth.json): no user config,
 * AGENTS.md or skills reach the agent. A push variant's trial also gets the Botboard hooks in that
 * home's hooks.json. Codex 0.171 silently skips hooks the user has not trusted, so such a run passes
 * --dangerously-bypass-hook-trust: the only hooks in that home are the ones written here.
 *
 * Codex writes a token count to its session log in that home after every model request, so usage
 * and turns (model requests) are read from there, and a run cut off by its timeout or a stop keeps
 * what it spent; its `turn.completed` events are the fallback.
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
const userLogin = () => join(process.env.CODEX_HOME ?? join(homedir(), ".codex"), "auth.json");

function hasCredentials(): boolean {
  return Boolean(process.env.OPENAI_API_KEY || process.env.CODEX_API_KEY || existsSync(userLogin()));
}

type TokenUsage = { input_tokens?: number; cached_input_tokens?: number; output_tokens?: number; total_tokens?: number };
type SessionLine = { type?: string; payload?: { type?: string; info?: { total_token_usage?: TokenUsage } | null } };

/**
 * What the session logs under a trial's CODEX_HOME say was spent: each log's last running total,
 * and the model requests (each one raises the total). Undefined when Codex wrote no token count.
 */
function sessionUsage(codexHome: string): { totals: TokenUsage[]; requests: number } | undefined {
  const sessions = join(codexHome, "sessions");
  if (!existsSync(sessions)) return undefined;
  const totals: TokenUsage[] = [];
  let requests = 0;
  const logs = readdirSync(sessions, { recursive: true, withFileTypes: true }).filter(
    (entry) => entry.isFile() && entry.name.endsWith(".jsonl"),
  );
  for (const log of logs) {
    let last: TokenUsage | undefined;
    for (const line of readFileSync(join(log.parentPath, log.name), "utf8").split("\n")) {
      let parsed: SessionLine;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      const usage = parsed.payload?.type === "token_count" ? parsed.payload.info?.total_token_usage : undefined;
      if (!usage || (usage.total_tokens ?? 0) <= (last?.total_tokens ?? 0)) continue;
      last = usage;
      requests++;
    }
    if (last) totals.push(last);
  }
  return requests > 0 ? { totals, requests } : undefined;
}

const addCodexUsage = (result: DriverResult, usage: TokenUsage) =>
  addUsage(result, { input: usage.input_tokens, output: usage.output_tokens, cacheRead: usage.cached_input_tokens }, true);

function loggedUsage(logged: { totals: TokenUsage[]; requests: number }): DriverResult {
  const sum = emptyResult({ turns: logged.requests });
  for (const usage of logged.totals) addCodexUsage(sum, usage);
  return sum;
}

/** What a Codex item counts as among tool calls: MCP tools by their own name, the rest by item type. */
function toolOf(item: NonNullable<CodexEvent["item"]>): string | undefined {
  if (item.type === "mcp_tool_call") return item.tool;
  if (item.type === "command_execution" || item.type === "file_change" || item.type === "web_search") return item.type;
  return undefined;
}

export const codexDriver: Driver = {
  name: "codex",
  version: () => versionOf(codexBinary()),
  async check() {
    if (!codexBinary())
      throw new DriverUnavailable("The codex driver needs the `codex` CLI: npm install -g @openai/codex, or set CODEX_BIN.");
    if (!hasCredentials()) throw new DriverUnavailable("The codex driver needs OPENAI_API_KEY (or a `codex login`).");
  },
  async run({ workspace, prompt, mcp, push, model, timeoutMs, signal, onUsage }) {
    const codexHome = mkdtempSync(join(tmpdir(), "botboard-bench-codex-"));
    try {
      if (existsSync(userLogin())) copyFileSync(userLogin(), join(codexHome, "auth.json"));
      if (push) writeFileSync(join(codexHome, "hooks.json"), JSON.stringify(pushHookSettings()));
      const args = [
        "exec",
        ...(push ? ["--dangerously-bypass-hook-trust"] : []),
        "--json",
        "--skip-git-repo-check",
        "--cd",
        workspace,
        "-c",
        'approval_policy="never"',
        "-c",
        'sandbox_mode="workspace-write"',
        ...(model ? ["-m", model] : []),
        // Required: Codex would otherwise start without Botboard's tools when it cannot connect (a busy
        // server), and the trial would run as the baseline; a minute for a slow start.
        ...(mcp
          ? [
              "-c",
              `mcp_servers.botboard={ url = ${JSON.stringify(mcp.url)}, bearer_token_env_var = "${tokenVariable}", required = true, startup_timeout_sec = 60 }`,
            ]
          : []),
        ...(process.env.BOTBOARD_BENCH_CODEX_CONFIG
          ? JSON.parse(process.env.BOTBOARD_BENCH_CODEX_CONFIG).flatMap((override: string) => ["-c", override])
          : []),
        prompt,
      ];
      const result = emptyResult();
      const completedTurns: TokenUsage[] = [];
      let failure: string | null = null;
      const outcome = await runProcess(codexBinary()!, args, {
        cwd: workspace,
        env: { ...process.env, CODEX_HOME: codexHome, ...(mcp ? { [tokenVariable]: mcp.token } : {}), ...pushEnvironment(push) },
        timeoutMs,
        signal,
        onLine(line) {
          let event: CodexEvent;
          try {
            event = JSON.parse(line);
          } catch {
            return;
          }
          if (event.type === "turn.completed") completedTurns.push(event.usage ?? {});
          if (event.type === "item.completed" && event.item) {
            const tool = toolOf(event.item);
            if (tool) countCall(result.toolCalls, tool);
          }
          // Each item follows a model answer: the session log then holds its token count.
          if (onUsage && (event.type === "item.completed" || event.type === "turn.completed")) {
            const logged = sessionUsage(codexHome);
            if (logged) onUsage(loggedUsage(logged));
          }
          if (event.type === "turn.failed" || event.type === "error") failure = event.error?.message ?? event.message ?? event.type;
        },
      });
      const logged = sessionUsage(codexHome);
      for (const usage of logged?.totals ?? completedTurns) addCodexUsage(result, usage);
      result.turns = logged?.requests ?? completedTurns.length;
      const boardMissing = mcp !== undefined && outcome.stderr.includes("required MCP servers failed to initialize");
      const error = boardMissing
        ? "Codex could not start with Botboard's tools (its required MCP server botboard failed to initialize); not run as the baseline"
        : failure && `codex: ${failure}`;
      return settleProcess(result, outcome, "codex", { error, failed: outcome.exitCode !== 0 });
    } finally {
      rmSync(codexHome, { recursive: true, force: true });
    }
  },
};
