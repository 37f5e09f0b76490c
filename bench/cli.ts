import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { benchVariants } from "../server/domain/bench-variants.ts";
import { invalid } from "../server/domain/errors.ts";
import { trialProblems, usd } from "../views/bench-wording.ts";
import type { OperationRunner } from "../server/cli/program.ts";
import type { RunOptions } from "./bench-actions.ts";

/** Loaded when a bench command runs, not when the command line starts (bench-actions.ts). */
const actions = () => import("./bench-actions.ts");

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return number;
}

/** A whole number from 1 to `max`: a billion trials at a time would be a billion workers. */
function wholeNumberUpTo(max: number): (value: string) => number {
  return (value) => {
    const number = wholeNumber(value);
    if (number > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    return number;
  };
}

function seedNumber(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number > 0xffffffff) throw new InvalidArgumentError("must be a whole number from 0 to 4294967295");
  return number;
}

function money(value: string): number {
  const number = Number(value.replace(/^\$/, ""));
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError("must be a positive amount of USD");
  return number;
}

/** The longest trial timeout: a day is past any coding task, and inside what a timer holds (about 24.8 days). */
const maxDurationMs = 24 * 3_600_000;

/** "20m", "90s", "1h" or a number of seconds, in milliseconds: at least 1 ms, at most a day. */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("must be a duration such as 90s, 20m or 1h");
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  const milliseconds = Math.round(Number(match[1]) * unit);
  if (milliseconds < 1 || milliseconds > maxDurationMs) throw new InvalidArgumentError("must be a duration from 1ms to 24h");
  return milliseconds;
}

/** `botboard bench`: the collaboration benchmark. */
/** A report file that cannot be written is the user's to fix: one line naming it, not a stack trace. */
function writeReport(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (error) {
    throw invalid(`Cannot write the report to ${file}: ${(error as Error).message}`);
  }
}

export function benchCommand(runOperation: OperationRunner): Command {
  const bench = new Command("bench").description("measure what the feed and journal are worth: coding agents with and without Botboard");

  const runOptions = (command: Command) =>
    command
      .option("--url <url>", "agents reach this running Botboard server (it must share DATABASE_URL) instead of one started here")
      .option("-c, --concurrency <n>", "trials at a time (at most 64)", wholeNumberUpTo(64));

  runOptions(
    bench
      .command("run")
      .description("plan a run and work through its trials (or --resume one)")
      .option("--suite <builtin|path>", "builtin, or a folder of tasks (task.json) or Exercism-layout exercises", "builtin")
      .option("--driver <name>", "oracle, null, claude-code, codex or openai")
      .option(
        "--variants <list>",
        `comma list of ${benchVariants.join(", ")} (the -push ones: the feed through the client's hooks too)`,
        "baseline,journal,social,combined",
      )
      .option("--repeats <n>", "runs of every (task, variant), at most 1,000", wholeNumberUpTo(1_000), 3)
      .addOption(
        new Option(
          "--phase <phase>",
          "isolated: a new board per trial; accumulate: one board per variant and repeat, tasks in order; warm: start on a copy of --from's boards",
        )
          .choices(["isolated", "accumulate", "warm"])
          .default("isolated"),
      )
      .option("--from <run-id>", "the earlier run whose boards the warm phase starts from")
      .addOption(new Option("--timeout <duration>", "per trial: 90s, 20m, 1h").argParser(duration).default(duration("20m"), "20m"))
      .option("--model <model>", "the model the driver asks for")
      .option("--max-cost <usd>", "stop before the spend would pass this", money)
      .option("--prices <file>", "JSON price table (USD per million tokens per model) for drivers that report no cost")
      .option("--tasks <slugs>", "only these tasks of the suite")
      .option("--out <dir>", "the run dir (default bench/results/<run-id>)")
      .option("--run-id <id>", "name the run instead of a generated id")
      .option("--seed <n>", "seed of the random trial order (default: a random one, printed in the report)", seedNumber)
      .option(
        "--hard-from <run-id>",
        "fix the hard tasks from this calibration run's baseline (mean cost above the mean, same driver and model) instead of the tasks marked hard",
      )
      .option("--team <team>", "the team whose engineers see the run on /bench (default: the only team that is not a benchmark board)")
      .option("--no-team", "show the run on the command line only")
      .option("--resume <run-id>", "continue a stopped run: unfinished trials only; finished ones never run again"),
  ).action(async (options: RunOptions) => (await actions()).runBenchmark(options, false));

  runOptions(
    bench
      .command("worker <run-id>")
      .description("work on a run's queue alongside other workers (on this or other machines sharing DATABASE_URL)"),
  ).action(async (runId: string, options: RunOptions) => (await actions()).runBenchmark({ ...options, resume: runId }, true));

  bench
    .command("report <run-id-or-dir>")
    .description("print a run's report from the database, or from a run dir")
    .addOption(new Option("--format <format>", "output format").choices(["md", "html", "json"]).default("md"))
    .option("-o, --output <file>", "write to a file instead of standard output")
    .action(async (target: string, options: { format: "md" | "html" | "json"; output?: string }) => {
      const [{ renderHtml }, { loadReport, renderMarkdown }] = await Promise.all([import("./report-html.ts"), import("./report.ts")]);
      const report = await loadReport(target, runOperation);
      const text =
        options.format === "json"
          ? `${JSON.stringify(report, null, 2)}\n`
          : options.format === "html"
            ? renderHtml(report)
            : renderMarkdown(report);
      if (options.output) writeReport(options.output, text);
      else process.stdout.write(text);
    });

  bench
    .command("list")
    .description("list every team's benchmark runs, newest first")
    .action(async () => {
      const runs = await runOperation("bench.list", undefined);
      console.log(
        runs
          .map(
            (run) =>
              `${run.id}\t${run.status}\t${run.driver}${run.model ? `/${run.model}` : ""}\t${run.phase}\t${run.finished}/${run.trials} trials, ${run.passed} passed\t${usd(run.costUsd)}\t${teamLabel(run.teamSlug)}`,
          )
          .join("\n") || "No benchmark runs yet: botboard bench run --driver oracle",
      );
    });

  bench
    .command("show <run-id>")
    .description("a run's settings and its trials")
    .action(async (runId: string) => {
      const { run, teamSlug, trials } = await runOperation("bench.show", { runId });
      console.log(
        `${run.id} (${teamLabel(teamSlug)}): ${run.status}${run.stopReason ? ` (${run.stopReason})` : ""}; suite ${run.suite}, driver ${run.driver}${run.model ? `, model ${run.model}` : ""}, phase ${run.phase}${run.fromRunId ? ` from ${run.fromRunId}` : ""}; variants ${run.variants.join(",")} × ${run.repeats}; out ${run.settings.outDir}`,
      );
      for (const trial of trials) {
        const outcome =
          trial.status === "finished"
            ? `${trial.passed ? "pass" : "FAIL"} ${usd(trial.costUsd ?? 0)} ${trial.turns ?? 0} turns ${((trial.wallMs ?? 0) / 1000).toFixed(1)} s`
            : trial.status;
        const problems = trialProblems(trial);
        console.log(`  ${trial.taskSlug}\t${trial.variant}\tr${trial.repeat}\t${outcome}${problems ? `\t${problems}` : ""}`);
      }
    });

  bench
    .command("assign <run-id>")
    .description("hand a run to a team (its engineers see it on /bench), or with --no-team keep it to the command line")
    .option("--team <team>", "team slug or id")
    .option("--no-team", "no team: the command line only")
    .action(async (runId: string, options: { team?: string | false }) => {
      if (options.team === undefined) throw invalid("Say which team sees the run with --team <slug>, or --no-team for none.");
      const assigned = await runOperation("bench.assign", { runId, team: options.team });
      console.log(`Run ${assigned.runId} now belongs to ${teamLabel(assigned.team)}.`);
    });

  return bench;
}

const teamLabel = (slug: string | null) => (slug ? `team ${slug}` : "no team: the command line only");
