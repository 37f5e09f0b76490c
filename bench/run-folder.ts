import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchRun, BenchTrial } from "../server/domain/bench-runs.ts";

/**
 * A run dir holds the run (run.json, rewritten when its status changes), its planned queue
 * (plan.jsonl) and each trial as it finishes or goes back to the queue after a stop (trials.jsonl,
 * the last line of a trial wins): everything the report needs, so the report from the folder is the
 * report from the database.
 */

export function writeRunFile(outDir: string, run: BenchRun): void {
  writeFileSync(join(outDir, "run.json"), `${JSON.stringify(run, null, 2)}\n`);
}

export function writePlannedTrials(outDir: string, trials: BenchTrial[]): void {
  writeFileSync(join(outDir, "plan.jsonl"), trials.map((trial) => `${JSON.stringify(trial)}\n`).join(""));
}

const jsonLines = (file: string): BenchTrial[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as BenchTrial)
    : [];

export const isRunFolder = (target: string) => existsSync(join(target, "run.json"));

/** The run and its trials as the database lists them: every planned trial, the finished ones as they finished, in queue order. */
export function readRunFolder(dir: string): { run: BenchRun; trials: BenchTrial[] } {
  const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as BenchRun;
  const byId = new Map<number, BenchTrial>();
  for (const trial of [...jsonLines(join(dir, "plan.jsonl")), ...jsonLines(join(dir, "trials.jsonl"))]) byId.set(trial.id, trial);
  return { run, trials: [...byId.values()].sort((a, b) => a.seq - b.seq) };
}
