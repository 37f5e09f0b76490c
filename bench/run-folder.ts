import { appendFileSync, closeSync, existsSync, openSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { BenchHardSet, BenchRunSettings, BenchVariantText } from "../server/db/schema/index.ts";
import type { BenchRun, BenchTrial, BenchTrialOutcome } from "../server/domain/bench-runs.ts";
import { invalid } from "../server/domain/errors.ts";
import { checked, parseJson, readJsonFile, readText } from "./json-files.ts";
import { priceTableSchema } from "./prices.ts";

/**
 * A run dir holds the run (run.json, rewritten when its status changes), its planned queue
 * (plan.jsonl) and each trial as it finishes or goes back to the queue after a stop (trials.jsonl,
 * the last line of a trial wins): everything the report needs, so the report from the folder is the
 * report from the database. Read back, every file is checked against the types the runner wrote.
 */

/**
 * Written beside it and renamed over it: a worker killed while writing, or two workers of one run
 * writing at once, leave the whole of one run.json, never part of one.
 */
export function writeRunFile(outDir: string, run: BenchRun): void {
  const file = join(outDir, "run.json");
  const written = `${file}.${process.pid}.tmp`;
  writeFileSync(written, `${JSON.stringify(run, null, 2)}\n`);
  renameSync(written, file);
}

export function writePlannedTrials(outDir: string, trials: BenchTrial[]): void {
  writeFileSync(join(outDir, "plan.jsonl"), trials.map((trial) => `${JSON.stringify(trial)}\n`).join(""));
}

/** Whether a file ends in a newline, from its last byte (trials.jsonl grows with every trial). */
function endsWithNewline(file: string): boolean {
  const size = statSync(file).size;
  if (size === 0) return true;
  const descriptor = openSync(file, "r");
  try {
    const last = Buffer.alloc(1);
    readSync(descriptor, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Appends a trial to trials.jsonl on a line of its own: after a line that a killed run left
 * unended, a resumed run starts a new line rather than gluing its trial to the cut-off one.
 */
export function appendTrialLine(outDir: string, trial: BenchTrial): void {
  const file = join(outDir, "trials.jsonl");
  const newLine = existsSync(file) && !endsWithNewline(file) ? "\n" : "";
  appendFileSync(file, `${newLine}${JSON.stringify(trial)}\n`);
}

const count = z.number().int().nonnegative();
const usd = z.number().nonnegative();
const timestamp = z.iso.datetime({ offset: true }).transform((text) => new Date(text));

const hardSetSchema = z.strictObject({
  source: z.enum(["metadata", "calibration"]),
  fromRunId: z.string().nullable(),
  tasks: z.array(z.string()),
}) satisfies z.ZodType<BenchHardSet>;

const variantTextSchema = z.strictObject({
  instructions: z.string().nullable(),
  tools: z.array(z.strictObject({ name: z.string(), description: z.string() })),
  push: z.string().optional(),
}) satisfies z.ZodType<BenchVariantText>;

const settingsSchema = z.strictObject({
  suitePath: z.string(),
  outDir: z.string(),
  timeoutMs: z.number().int().positive(),
  concurrency: z.number().int().positive(),
  maxCostUsd: z.number().positive().nullable(),
  prompts: z.record(z.string(), z.string()),
  prices: priceTableSchema,
  variantTexts: z.record(z.string(), variantTextSchema).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  hardSet: hardSetSchema.optional(),
}) satisfies z.ZodType<BenchRunSettings>;

const runSchema = z.strictObject({
  id: z.string().min(1),
  teamId: z.string().nullable(),
  suite: z.string(),
  driver: z.string(),
  model: z.string().nullable(),
  phase: z.enum(["isolated", "accumulate", "warm"]),
  variants: z
    .array(z.string())
    .min(1)
    .refine((variants) => new Set(variants).size === variants.length, "a variant is listed twice"),
  repeats: z.number().int().positive(),
  fromRunId: z.string().nullable(),
  status: z.enum(["running", "stopped", "finished"]),
  stopReason: z.string().nullable(),
  settings: settingsSchema,
  createdAt: timestamp,
  finishedAt: timestamp.nullable(),
}) satisfies z.ZodType<BenchRun>;

/** What a finished trial records (finishBenchTrial): null only where an outcome allows it. */
const outcomeSchema = z.strictObject({
  passed: z.boolean(),
  timedOut: z.boolean(),
  error: z.string().nullable(),
  testError: z.string().nullable(),
  inputTokens: count,
  outputTokens: count,
  cacheReadTokens: count,
  cacheWriteTokens: count,
  costUsd: usd,
  costSource: z.enum(["driver", "price-table", "none"]),
  turns: count,
  driverTurns: count.nullable(),
  wallMs: count,
  toolCalls: z.record(z.string(), count),
  postsWritten: count,
  journalWritten: count,
  reads: count,
  testOutput: z.string(),
}) satisfies z.ZodType<BenchTrialOutcome>;

type OutcomeShape = typeof outcomeSchema.shape;
const outcomeFields = Object.keys(outcomeSchema.shape) as (keyof OutcomeShape)[];

/** A trial in the queue has no outcome yet: every outcome field may be null. */
const queuedOutcome = Object.fromEntries(outcomeFields.map((field) => [field, outcomeSchema.shape[field].nullable()])) as {
  [Field in keyof OutcomeShape]: z.ZodNullable<OutcomeShape[Field]>;
};

const trialSchema = z
  .strictObject({
    id: z.number().int().positive(),
    runId: z.string(),
    seq: count,
    taskSlug: z.string().min(1),
    difficulty: z.string(),
    variant: z.string(),
    repeat: z.number().int().positive(),
    groupKey: z.string().nullable(),
    teamId: z.string().nullable(),
    status: z.enum(["pending", "running", "finished"]),
    leaseOwner: z.string().nullable(),
    leaseExpiresAt: timestamp.nullable(),
    attempts: count,
    ...queuedOutcome,
    attemptCostUsd: usd,
    interruptedCostUsd: usd,
    interruptedAttempts: count,
    // Absent from the trials of run dirs written before it was recorded.
    software: z.strictObject({ botboard: z.string(), node: z.string(), agent: z.string().nullable() }).nullable().default(null),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
  })
  .superRefine((trial, context) => {
    if (trial.status !== "finished") return;
    for (const field of outcomeFields) {
      if (trial[field] === null && !outcomeSchema.shape[field].safeParse(null).success)
        context.addIssue({ code: "custom", path: [field], message: "a finished trial records it (null only before the trial finishes)" });
    }
  }) satisfies z.ZodType<BenchTrial>;

type TrialLine = { trial: BenchTrial; where: string };

/**
 * The trials of a JSON lines file, each checked and belonging to the run. A last line with no end
 * is one the run was stopped while writing: refused, not dropped, since its trial would be missing.
 */
function trialLines(file: string, run: BenchRun): TrialLine[] {
  if (!existsSync(file)) return [];
  const lines = readText(file).split("\n");
  return lines.flatMap((line, index) => {
    if (line.trim() === "") return [];
    const where = `${file} line ${index + 1}`;
    const parsed = parseJson(line);
    if ("error" in parsed) {
      if (index === lines.length - 1)
        throw invalid(
          `${where} is cut off (no end of line, not whole JSON): the run was stopped while writing it. Its database still has the trial (botboard bench report ${run.id}); delete the line to report without it.`,
        );
      throw invalid(`${where} is not JSON: ${parsed.error}`);
    }
    const trial = checked(trialSchema, parsed.value, where);
    if (trial.runId !== run.id) throw invalid(`${where}: runId: "${trial.runId}" is not the run in run.json ("${run.id}").`);
    if (!run.variants.includes(trial.variant))
      throw invalid(`${where}: variant: "${trial.variant}" is not one of run.json's variants (${run.variants.join(", ")}).`);
    return [{ trial, where }];
  });
}

const identity = (trial: BenchTrial) => `${trial.taskSlug}, ${trial.variant}, repeat ${trial.repeat}`;

/**
 * A later line of a trial must be the same trial (same task, variant and repeat), and a finished
 * trial never runs again: anything else is two runs' lines mixed, or a repeated trial, which the
 * report would pair twice.
 */
function checkLaterLine(earlier: TrialLine, later: TrialLine): void {
  const { trial } = later;
  if (identity(earlier.trial) !== identity(trial))
    throw invalid(`${later.where}: trial ${trial.id} is ${identity(trial)}, but ${earlier.where} says ${identity(earlier.trial)}.`);
  if (earlier.trial.status === "finished")
    throw invalid(`${later.where}: trial ${trial.id} finished already (${earlier.where}); a finished trial never runs again.`);
}

/** The run and its trials as the database lists them: every planned trial, the finished ones as they finished, in queue order. */
export function readRunFolder(dir: string): { run: BenchRun; trials: BenchTrial[] } {
  const run = readJsonFile(join(dir, "run.json"), runSchema);
  const byId = new Map<number, TrialLine>();
  for (const line of [...trialLines(join(dir, "plan.jsonl"), run), ...trialLines(join(dir, "trials.jsonl"), run)]) {
    const earlier = byId.get(line.trial.id);
    if (earlier) checkLaterLine(earlier, line);
    byId.set(line.trial.id, line);
  }
  const byIdentity = new Map<string, TrialLine>();
  for (const line of byId.values()) {
    const twin = byIdentity.get(identity(line.trial));
    if (twin)
      throw invalid(
        `${line.where}: trial ${line.trial.id} is ${identity(line.trial)}, as trial ${twin.trial.id} is (${twin.where}): a run has one trial of each.`,
      );
    byIdentity.set(identity(line.trial), line);
  }
  return { run, trials: [...byId.values()].map(({ trial }) => trial).sort((a, b) => a.seq - b.seq) };
}

export const isRunFolder = (target: string) => existsSync(join(target, "run.json"));
