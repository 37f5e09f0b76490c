import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { teams } from "./teams.ts";

/**
 * The tasks a run's hard rows compare, fixed before the run: those the suite marks hard
 * (`metadata`), or those above the mean baseline cost in a separate calibration run.
 */
export type BenchHardSet = { source: "metadata" | "calibration"; fromRunId: string | null; tasks: string[] };

/** What a run was asked to do, kept so `--resume` and the report need nothing but the run id. */
export type BenchRunSettings = {
  suitePath: string;
  /** Where the run's JSONL and reports are written. */
  outDir: string;
  timeoutMs: number;
  concurrency: number;
  maxCostUsd: number | null;
  /** The prompt each variant's agents were given, shown as is in the report. */
  prompts: Record<string, string>;
  prices: Record<string, { inputPerMTok: number; outputPerMTok: number; cacheReadPerMTok?: number; cacheWritePerMTok?: number }>;
  /** What each variant's agents were shown by Botboard, captured from the MCP endpoint by the first trial. */
  variantTexts?: Record<string, BenchVariantText>;
  /** Seeds the trial order (absent for runs planned before the order was randomized). */
  seed?: number;
  /** Absent for runs planned before it was fixed in advance: the report falls back to the tasks marked hard. */
  hardSet?: BenchHardSet;
};

/** The MCP server's instructions and tools (with descriptions) as an agent of one variant received them. */
export type BenchVariantText = {
  instructions: string | null;
  tools: { name: string; description: string }[];
  /** For a push variant: what the client's hooks add to the agent's context, and when. */
  push?: string;
};

/**
 * One benchmark run: a suite, a driver, the variants compared and how the board was prepared.
 * `teamId` is the team whose engineers see it; null (runs from before runs had a team, or started
 * with --no-team) means only the operator's command line shows it.
 */
export const benchRuns = pgTable(
  "bench_runs",
  {
    id: text("id").primaryKey(),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    suite: text("suite").notNull(),
    driver: text("driver").notNull(),
    model: text("model"),
    phase: text("phase", { enum: ["isolated", "accumulate", "warm"] }).notNull(),
    variants: text("variants").array().notNull(),
    repeats: integer("repeats").notNull(),
    fromRunId: text("from_run_id"),
    status: text("status", { enum: ["running", "stopped", "finished"] })
      .notNull()
      .default("running"),
    stopReason: text("stop_reason"),
    settings: jsonb("settings").$type<BenchRunSettings>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (table) => [index("bench_runs_team_idx").on(table.teamId, table.createdAt)],
);

export type ToolCallCounts = Record<string, number>;

/** What ran a trial, as its worker found it: results of different versions are not one sample. */
export type TrialSoftware = {
  /** Botboard's version, and its git commit when it runs from a checkout. */
  botboard: string;
  node: string;
  /** The agent CLI's own `--version` (Claude Code, Codex); null for a driver with no CLI. */
  agent: string | null;
};

/**
 * One trial: a task, a variant and a repeat. It is queued (pending), claimed by one worker under a
 * lease (running), and once finished never runs again. Trials of one group run in `seq` order.
 */
export const benchTrials = pgTable(
  "bench_trials",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    runId: text("run_id")
      .notNull()
      .references(() => benchRuns.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    taskSlug: text("task_slug").notNull(),
    difficulty: text("difficulty").notNull(),
    variant: text("variant").notNull(),
    repeat: integer("repeat").notNull(),
    /** Trials sharing a board (accumulate and warm phases) run one at a time, in seq order. */
    groupKey: text("group_key"),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    status: text("status", { enum: ["pending", "running", "finished"] })
      .notNull()
      .default("pending"),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    attempts: integer("attempts").notNull().default(0),
    passed: boolean("passed"),
    timedOut: boolean("timed_out"),
    /** What went wrong in the agent's run (an endpoint's refusal, a crash, no price for its model): its figures are not whole. */
    error: text("error"),
    /**
     * What went wrong in the hidden tests beyond failing ones: they timed out, or counted no test. The
     * solution failed, the agent's run did not: the trial is a failure whose figures are whole.
     */
    testError: text("test_error"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    cacheReadTokens: integer("cache_read_tokens"),
    cacheWriteTokens: integer("cache_write_tokens"),
    costUsd: doublePrecision("cost_usd"),
    costSource: text("cost_source", { enum: ["driver", "price-table", "none"] }),
    /** Model requests (the benchmark's one definition of a turn, the same for every driver). */
    turns: integer("turns"),
    /** The driver's own turn figure where it counts something else (Claude Code's num_turns); null otherwise. */
    driverTurns: integer("driver_turns"),
    wallMs: integer("wall_ms"),
    toolCalls: jsonb("tool_calls").$type<ToolCallCounts>(),
    postsWritten: integer("posts_written"),
    journalWritten: integer("journal_written"),
    reads: integer("reads"),
    testOutput: text("test_output"),
    /** Null for trials finished before it was recorded. */
    software: jsonb("software").$type<TrialSoftware>(),
    /**
     * What the attempt in progress has spent so far, written as it grows: a worker that dies (kill -9)
     * leaves it behind, and the worker that takes the trial over moves it to the interrupted spend.
     */
    attemptCostUsd: doublePrecision("attempt_cost_usd").notNull().default(0),
    /** What attempts cut off by a stop (Ctrl-C, SIGTERM) or a dead worker spent before the trial ran again. */
    interruptedCostUsd: doublePrecision("interrupted_cost_usd").notNull().default(0),
    interruptedAttempts: integer("interrupted_attempts").notNull().default(0),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (table) => [
    uniqueIndex("bench_trials_identity_key").on(table.runId, table.taskSlug, table.variant, table.repeat),
    index("bench_trials_queue_idx").on(table.runId, table.status, table.seq),
  ],
);
