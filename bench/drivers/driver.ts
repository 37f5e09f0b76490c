import type { BenchTask } from "../suites.ts";
import type { ProcessOutcome } from "./process.ts";

/** Where an agent finds Botboard for one trial: the MCP endpoint (tool set in its query) and a fresh token. */
export type McpAccess = { url: string; token: string };

/** For a push variant: what the agent's `botboard hook` reads as BOTBOARD_URL and BOTBOARD_TOKEN. */
export type PushAccess = { serverUrl: string; token: string };

export type DriverRun = {
  task: BenchTask;
  workspace: string;
  prompt: string;
  mcp: McpAccess | undefined;
  /** Set for a push variant: the driver configures the client's hooks with it. */
  push: PushAccess | undefined;
  model: string | undefined;
  timeoutMs: number;
  /** Aborted when the run stops (Ctrl-C); the driver ends its agent and returns. */
  signal: AbortSignal;
  /** Called with the usage so far each time a model request adds to it, so a dead worker's spend is kept. */
  onUsage?: (usage: DriverResult) => void;
};

export type DriverResult = {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The agent's own cost figure when it reports one; otherwise the runner prices the tokens. */
  costUsd: number | null;
  /** Model requests answered: the benchmark's one definition of a turn, counted the same way by every driver. */
  turns: number;
  /** The agent's own turn figure where it counts something else (Claude Code's num_turns). */
  driverTurns: number | null;
  /** The model the agent says answered, for pricing when the run named none. */
  reportedModel: string | null;
  /** Tool calls by name; Botboard's tools under their own names, without any client prefix. */
  toolCalls: Record<string, number>;
  timedOut: boolean;
  /** The run was stopped (Ctrl-C) while the agent worked: the usage is what it spent until then. */
  interrupted: boolean;
  error: string | null;
};

/** A driver turns (workspace, prompt, MCP access) into usage; the runner does everything else. */
export type Driver = {
  name: string;
  /** Throws DriverUnavailable with what to install or set, before any trial starts. */
  check(model: string | undefined): Promise<void>;
  /** Why this driver cannot run the push variants (its agent runs no hooks); absent when it can. */
  noPushReason?: string;
  run(run: DriverRun): Promise<DriverResult>;
  /** The agent CLI's version, which each trial records; absent for a driver with no CLI. */
  version?(): Promise<string | null>;
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
    driverTurns: null,
    reportedModel: null,
    toolCalls: {},
    timedOut: false,
    interrupted: false,
    error: null,
    ...overrides,
  };
}

/** Token counts as an agent reports them, in its own terms. */
export type ReportedUsage = { input?: number; output?: number; cacheRead?: number; cacheWrite?: number };

/**
 * Adds one usage report to a result in the benchmark's terms, where input tokens never include cache
 * reads. Anthropic reports them apart; OpenAI and Codex count cache reads inside their input tokens.
 */
export function addUsage(result: DriverResult, usage: ReportedUsage, inputIncludesCacheReads: boolean): void {
  const cacheRead = usage.cacheRead ?? 0;
  result.inputTokens += (usage.input ?? 0) - (inputIncludesCacheReads ? cacheRead : 0);
  result.cacheReadTokens += cacheRead;
  result.cacheWriteTokens += usage.cacheWrite ?? 0;
  result.outputTokens += usage.output ?? 0;
}

/**
 * Ends a result from the agent's process: a stop or a timeout is flagged (the usage counted so far is
 * kept either way), and the error is what the agent reported, else a failed exit with the end of its stderr.
 */
export function settleProcess(
  result: DriverResult,
  outcome: ProcessOutcome,
  agent: string,
  reported: { error: string | null; failed: boolean },
): DriverResult {
  result.interrupted = outcome.aborted;
  result.timedOut = outcome.timedOut;
  if (reported.error) result.error = reported.error;
  else if (reported.failed && !outcome.timedOut && !outcome.aborted)
    result.error = `${agent} exited with ${outcome.exitCode}: ${outcome.stderr.slice(-500)}`;
  return result;
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
