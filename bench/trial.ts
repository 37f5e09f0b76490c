import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sql } from "drizzle-orm";
import { addAgentToken } from "../server/domain/agents.ts";
import {
  recordBenchVariantText,
  setBenchTrialTeam,
  type BenchRun,
  type BenchTrial,
  type BenchTrialOutcome,
} from "../server/domain/bench-runs.ts";
import type { BenchVariant } from "../server/domain/bench-variants.ts";
import type { Db } from "../server/db/client.ts";
import { journalEntries, posts } from "../server/db/schema/index.ts";
import { cli } from "../server/domain/callers.ts";
import { emptyResult, type Driver, type DriverResult } from "./drivers/driver.ts";
import { runHiddenTests } from "./hidden-tests.ts";
import { benchTeam } from "./plan.ts";
import { priceOf } from "./prices.ts";
import type { BenchTask, TaskFile } from "./suites.ts";
import { readToolNames } from "../mcp/server.ts";
import { readVariantText } from "./variant-text.ts";
import { promptFor, pushDescription, variantPush, variantTools } from "./variants.ts";

const testOutputLimit = 4000;

function copyFiles(files: TaskFile[], workspace: string): void {
  for (const file of files) {
    const target = join(workspace, file.target);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file.source, target);
  }
}

export type TrialContext = {
  db: Db;
  run: BenchRun;
  driver: Driver;
  serverUrl: string;
  signal: AbortSignal;
  /** Variants whose MCP text the run has kept already (recordBenchVariantText). */
  variantTextsKept: Set<string>;
  /** What the agent has spent so far, each time it grows. */
  onSpend?: (costUsd: number) => void;
};

/**
 * What a trial left: its outcome, or `interrupted` when the run was stopped while the agent worked,
 * with what the agent spent until then.
 */
export type TrialEnd = { kind: "finished"; outcome: BenchTrialOutcome } | { kind: "interrupted"; costUsd: number };

type Cost = { costUsd: number; costSource: BenchTrialOutcome["costSource"] };

/** The agent's own figure, else its tokens at the table's price (by the run's model, or the one the agent named). */
function costOf(run: BenchRun, result: DriverResult): Cost {
  if (result.costUsd !== null) return { costUsd: result.costUsd, costSource: "driver" };
  const tablePrice = priceOf(run.settings.prices, run.model ?? result.reportedModel ?? undefined, result);
  return tablePrice !== undefined ? { costUsd: tablePrice, costSource: "price-table" } : { costUsd: 0, costSource: "none" };
}

/** The board this trial's agent writes to: the group's, or for the isolated phase a new one. */
async function teamFor(context: TrialContext, trial: BenchTrial): Promise<string> {
  if (trial.teamId) return trial.teamId;
  const team = await benchTeam(context.db, context.run.id, trial.variant as BenchVariant, `t${trial.id}`);
  await setBenchTrialTeam(context.db, trial.id, team.id);
  return team.id;
}

async function writtenBy(db: Db, tokenId: string) {
  const [row] = await db
    .select({
      posts: sql<number>`(select count(*) from ${posts} where ${posts.tokenId} = ${tokenId})::int`,
      journal: sql<number>`(select count(*) from ${journalEntries} where ${journalEntries.tokenId} = ${tokenId})::int`,
    })
    .from(sql`(select 1) as one`);
  return { posts: row?.posts ?? 0, journal: row?.journal ?? 0 };
}

/**
 * One trial: a fresh workspace with the starter files; for a variant with tools, a fresh token on
 * the trial's board; the driver; then the task's own tests, run on the agent's solution files outside
 * its workspace (runHiddenTests). The agent's word is never taken for the result.
 */
export async function runTrial(context: TrialContext, task: BenchTask, trial: BenchTrial): Promise<TrialEnd> {
  const { db, run, driver } = context;
  const variant = trial.variant as BenchVariant;
  const workspace = mkdtempSync(join(tmpdir(), `botboard-bench-${task.slug}-`));
  try {
    copyFiles(task.starter, workspace);
    const tools = variantTools[variant];
    let tokenId: string | undefined;
    let mcp: { url: string; token: string } | undefined;
    let push: { serverUrl: string; token: string } | undefined;
    if (tools) {
      const teamId = await teamFor(context, trial);
      // A group (accumulate, warm) is one agent, whose journal carries over; each trial is a session of
      // it named after its task and trial (a warm run's trial is a new session on the copied board), so
      // the feed gives it every earlier post as news from a teammate (README: Phases).
      const created = trial.groupKey
        ? await addAgentToken(db, cli, {
            teamId,
            name: `agent-${variant}-r${trial.repeat}`,
            sessionName: `${task.slug.slice(0, 48)}.t${trial.id}`,
          })
        : await addAgentToken(db, cli, { teamId, name: `agent-${task.slug}`.slice(0, 64) });
      tokenId = created.tokenRecord.id;
      mcp = { url: `${context.serverUrl}/mcp?tools=${tools}`, token: created.token };
      if (variantPush[variant]) push = { serverUrl: context.serverUrl, token: created.token };
      if (!context.variantTextsKept.has(variant)) {
        context.variantTextsKept.add(variant);
        const text = await readVariantText(mcp);
        await recordBenchVariantText(db, run.id, variant, variantPush[variant] ? { ...text, push: pushDescription } : text);
      }
    }
    // The agent's time, its connection to the MCP server included: setting up a board and a token (which the baseline does not need) is not counted.
    const started = Date.now();
    let result: DriverResult;
    try {
      result = await driver.run({
        task,
        workspace,
        prompt: promptFor(variant, task.prompt),
        mcp,
        push,
        model: run.model ?? undefined,
        timeoutMs: run.settings.timeoutMs,
        signal: context.signal,
        onUsage: context.onSpend && ((usage) => context.onSpend!(costOf(run, usage).costUsd)),
      });
    } catch (error) {
      if (context.signal.aborted) return { kind: "interrupted", costUsd: 0 };
      result = emptyResult({ error: `driver failed: ${(error as Error).message}` });
    }
    if (result.interrupted || context.signal.aborted) return { kind: "interrupted", costUsd: costOf(run, result).costUsd };
    const wallMs = Date.now() - started;

    const tested = await runHiddenTests(task, workspace, context.signal);
    if (tested.aborted) return { kind: "interrupted", costUsd: costOf(run, result).costUsd };
    const testOutput = tested.output;

    const written = tokenId ? await writtenBy(db, tokenId) : { posts: 0, journal: 0 };
    const { costUsd, costSource } = costOf(run, result);
    const anyTokens = result.inputTokens + result.outputTokens + result.cacheReadTokens + result.cacheWriteTokens > 0;
    const reads = Object.entries(result.toolCalls)
      .filter(([name]) => readToolNames.has(name))
      .reduce((sum, [, count]) => sum + count, 0);
    const noPriceNote =
      anyTokens && costSource === "none" ? `no price for model ${run.model ?? result.reportedModel ?? "(none)"}; cost counted as 0` : null;
    return {
      kind: "finished",
      outcome: {
        passed: tested.passed,
        timedOut: result.timedOut,
        error: [result.error, noPriceNote].filter(Boolean).join("; ") || null,
        testError: tested.error,
        inputTokens: result.inputTokens,
        outputTokens: result.outputTokens,
        cacheReadTokens: result.cacheReadTokens,
        cacheWriteTokens: result.cacheWriteTokens,
        costUsd,
        costSource,
        turns: result.turns,
        driverTurns: result.driverTurns,
        wallMs,
        toolCalls: result.toolCalls,
        postsWritten: written.posts,
        journalWritten: written.journal,
        reads,
        testOutput: testOutput.length > testOutputLimit ? `…${testOutput.slice(-testOutputLimit)}` : testOutput,
      },
    };
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}
