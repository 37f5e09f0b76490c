import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { benchVariants, getBenchRun, listBenchTrials, teamForNewBenchRun, type BenchRun } from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { invalid } from "../server/domain/errors.ts";
import { ConfigError, loadConfig } from "../server/config.ts";
import { DriverUnavailable, type Driver } from "./drivers/driver.ts";
import { driverNamed } from "./drivers/index.ts";
import { parseVariants, planRun } from "./plan.ts";
import { requireHooksFor } from "./variants.ts";
import { loadPrices } from "./prices.ts";
import { progressDisplay } from "./progress.ts";
import { renderMarkdown } from "./report.ts";
import { usd } from "../views/bench-wording.ts";
import { buildReport, type BenchReport } from "../server/domain/bench-report.ts";
import { renderHtml } from "./report-html.ts";
import { isRunFolder, readRunFolder } from "./run-folder.ts";
import { executeRun } from "./runner.ts";
import { openBenchSession } from "./session.ts";
import { loadSuite, SuiteError } from "./suites.ts";
import type { OperationRunner } from "../server/cli/program.ts";

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return number;
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

/** "20m", "90s", "1h" or a number of seconds, in milliseconds. */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("must be a duration such as 90s, 20m or 1h");
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * unit);
}

async function checkedDriver(name: string, model: string | undefined): Promise<Driver> {
  try {
    const driver = driverNamed(name);
    await driver.check(model);
    return driver;
  } catch (error) {
    if (error instanceof DriverUnavailable) throw new ConfigError(error.message);
    throw error;
  }
}

function suiteOrExplain(nameOrPath: string, only: string[] | undefined) {
  try {
    return loadSuite(nameOrPath, only);
  } catch (error) {
    if (error instanceof SuiteError) throw new ConfigError(error.message);
    throw error;
  }
}

function requiredDriver(name: string | undefined): string {
  if (!name) throw new ConfigError("Say which agent runs the trials: --driver oracle|null|claude-code|codex|openai.");
  return name;
}

type RunOptions = {
  suite: string;
  driver?: string;
  variants: string;
  repeats: number;
  phase: "isolated" | "accumulate" | "warm";
  from?: string;
  concurrency?: number;
  timeout: number;
  model?: string;
  maxCost?: number;
  prices?: string;
  out?: string;
  tasks?: string;
  url?: string;
  resume?: string;
  runId?: string;
  /** A team's slug or id; false for --no-team (the run shows on the command line only). */
  team?: string | false;
  seed?: number;
  hardFrom?: string;
};

/** Plans (or resumes) a run and works through it in this process, with live progress and a clean Ctrl-C. */
async function runBenchmark(options: RunOptions, worker: boolean): Promise<void> {
  if (options.resume && options.team !== undefined)
    throw invalid("A resumed run keeps its team; hand it to another with `botboard bench assign`.");
  if (options.resume && (options.seed !== undefined || options.hardFrom !== undefined))
    throw invalid("A resumed run keeps its trial order and hard tasks: --seed and --hard-from apply to a new run.");
  const config = loadConfig();
  // A missing CLI or key is reported before the database is opened or any trial planned.
  const plannedDriver = options.resume ? undefined : await checkedDriver(requiredDriver(options.driver), options.model);
  const session = await openBenchSession(config, options.url);
  const stop = new AbortController();
  const interrupt = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write("\nStopping: ending running agents and returning their trials to the queue (Ctrl-C again to quit at once).\n");
    stop.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    let run: BenchRun;
    let driver: Driver;
    if (options.resume) {
      run = await getBenchRun(session.db, cli, options.resume);
      driver = await checkedDriver(run.driver, run.model ?? undefined);
      if (options.concurrency !== undefined) run.settings.concurrency = options.concurrency;
    } else {
      driver = plannedDriver!;
      const suite = suiteOrExplain(
        options.suite,
        options.tasks
          ?.split(",")
          .map((slug) => slug.trim())
          .filter(Boolean),
      );
      const variants = parseVariants(options.variants);
      try {
        requireHooksFor(driver, variants);
      } catch (error) {
        if (error instanceof DriverUnavailable) throw new ConfigError(error.message);
        throw error;
      }
      const team = await teamForNewBenchRun(session.db, options.team);
      ({ run } = await planRun(session.db, {
        suite,
        teamId: team?.id ?? null,
        driver: driver.name,
        model: options.model,
        variants,
        repeats: options.repeats,
        phase: options.phase,
        fromRunId: options.from,
        timeoutMs: options.timeout,
        concurrency: options.concurrency ?? 1,
        maxCostUsd: options.maxCost,
        prices: loadPrices(options.prices),
        outDir: options.out,
        runId: options.runId,
        seed: options.seed,
        hardFromRunId: options.hardFrom,
      }));
      console.log(`Run ${run.id} ${team ? `for team ${team.slug}` : "for the command line only"}: results in ${run.settings.outDir}`);
    }
    const display = progressDisplay();
    const result = await executeRun(session.db, run, {
      driver,
      serverUrl: session.serverUrl,
      concurrency: run.settings.concurrency,
      signal: stop.signal,
      onEvent: display.onEvent,
    });
    display.stop();
    const report = buildReport(await getBenchRun(session.db, cli, run.id), await listBenchTrials(session.db, run.id));
    writeFileSync(join(run.settings.outDir, "report.md"), renderMarkdown(report));
    writeFileSync(join(run.settings.outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(summaryLine(report, result.ranHere));
    if (result.status !== "finished") {
      console.log(`Stopped (${result.stopReason ?? "other workers hold trials"}). Continue with: botboard bench run --resume ${run.id}`);
      if (!worker) process.exitCode = stop.signal.aborted ? 130 : 2;
    }
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    await session.close();
  }
}

function summaryLine(report: BenchReport, ranHere: number): string {
  const parts = report.variants.map((v) => `${v.variant} ${v.passed}/${v.trials} passed, ${usd(v.totalCostUsd)}`);
  return `${report.run.id}: ${report.trials.finished}/${report.trials.total} trials finished (${ranHere} here). ${parts.join("; ")}.`;
}

/** A report from a run id (read from the database) or a run dir: the same trials in the same order, so the same report. */
async function loadReport(target: string, runOperation: OperationRunner): Promise<BenchReport> {
  const { run, trials } = isRunFolder(target) ? readRunFolder(target) : await runOperation("bench.show", { runId: target });
  return buildReport(run, trials);
}

/** `botboard bench`: the collaboration benchmark. */
export function benchCommand(runOperation: OperationRunner): Command {
  const bench = new Command("bench").description("measure what the feed and journal are worth: coding agents with and without Botboard");

  const runOptions = (command: Command) =>
    command
      .option("--url <url>", "agents reach this running Botboard server (it must share DATABASE_URL) instead of one started here")
      .option("-c, --concurrency <n>", "trials at a time", wholeNumber);

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
      .option("--repeats <n>", "runs of every (task, variant)", wholeNumber, 3)
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
  ).action(async (options: RunOptions) => runBenchmark(options, false));

  runOptions(
    bench
      .command("worker <run-id>")
      .description("work on a run's queue alongside other workers (on this or other machines sharing DATABASE_URL)"),
  ).action(async (runId: string, options: RunOptions) => runBenchmark({ ...options, resume: runId }, true));

  bench
    .command("report <run-id-or-dir>")
    .description("print a run's report from the database, or from a run dir")
    .addOption(new Option("--format <format>", "output format").choices(["md", "html", "json"]).default("md"))
    .option("-o, --output <file>", "write to a file instead of standard output")
    .action(async (target: string, options: { format: "md" | "html" | "json"; output?: string }) => {
      const report = await loadReport(target, runOperation);
      const text =
        options.format === "json"
          ? `${JSON.stringify(report, null, 2)}\n`
          : options.format === "html"
            ? renderHtml(report)
            : renderMarkdown(report);
      if (options.output) writeFileSync(options.output, text);
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
        console.log(`  ${trial.taskSlug}\t${trial.variant}\tr${trial.repeat}\t${outcome}${trial.error ? `\t${trial.error}` : ""}`);
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
