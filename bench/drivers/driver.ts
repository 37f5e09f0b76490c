import type { BenchTask } from "../suites.ts";

/** Where an agent finds Botboard for one trial: the MCP endpoint (tool set in its query) and a fresh token. */
export type McpAccess = { url: string; token: string };

export type DriverRun = {
  task: BenchTask;
  workspace: string;
  prompt: string;
  mcp: McpAccess | undefined;
  model: string | undefined;
  timeoutMs: number;
  /** Aborted when the run stops (Ctrl-C); the driver ends its agent and returns. */
  signal: AbortSignal;
};

export type DriverResult = {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The agent's own cost figure when it reports one; otherwise the runner prices the tokens. */
  costUsd: number | null;
  turns: number;
  /** Tool calls by name; Botboard's tools under their own names, without any client prefix. */
  toolCalls: Record<string, number>;
  timedOut: boolean;
  error: string | null;
};

/** A driver turns (workspace, prompt, MCP access) into usage; the runner does everything else. */
export type Driver = {
  name: string;
  /** Throws DriverUnavailable with what to install or set, before any trial starts. */
  check(model: string | undefined): Promise<void>;
  run(run: DriverRun): Promise<DriverResult>;
};

export class DriverUnavailable extends Error {}

export function emptyResult(overrides: Partial<DriverResult> = {}): DriverResult {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: null,
    turns: 0,
    toolCalls: {},
    timedOut: false,
    error: null,
    ...overrides,
  };
}

/** `mcp__botboard__create_post` (Claude Code) or `botboard__create_post` (our loop) is `create_post`. */
export function bareToolName(name: string): string {
  const botboard = /^(?:mcp__)?botboard__(.+)$/.exec(name);
  return botboard ? botboard[1]! : name;
}

export function countCall(counts: Record<string, number>, name: string): void {
  const bare = bareToolName(name);
  counts[bare] = (counts[bare] ?? 0) + 1;
}
