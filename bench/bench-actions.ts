import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getBenchRun, listBenchTrials, teamForNewBenchRun, type BenchRun } from "../server/domain/bench-runs.ts";
import { cli } from "../server/domain/callers.ts";
import { invalid } from "../server/domain/errors.ts";
import { loadConfig } from "../server/config.ts";
import { ConfigError } from "../server/config-error.ts";
import { DriverUnavailable, type Driver } from "./drivers/driver.ts";
import { driverNamed } from "./drivers/index.ts";
import { parseVariants, planRun } from "./plan.ts";
import { requireHooksFor } from "./variants.ts";
import { loadPrices } from "./prices.ts";
import { progressDisplay } from "./progress.ts";
import { renderMarkdown } from "./report.ts";
import { usd } from "../views/bench-wording.ts";
import { buildReport, type BenchReport } from "../server/domain/bench-report.ts";
import { executeRun } from "./runner.ts";
import { openBenchSession } from "./session.ts";
import { loadSuite } from "./suites.ts";

/**
 * What `botboard bench` does once a command is chosen: loaded by bench/cli.ts only then, so that
 * the rest of the command line starts without the benchmark's drivers, runner and database layer.
 */

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

function requiredDriver(name: string | undefined): string {
  if (!name) throw new ConfigError("Say which agent runs the trials: --driver oracle|null|claude-code|codex|openai.");
  return name;
}

export type RunOptions = {
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
export async function runBenchmark(options: RunOptions, worker: boolean): Promise<void> {
  if (options.resume && options.team !== undefined)
    throw invalid("A resumed run keeps its team; hand it to another with `botboard bench assign`.");
  if (options.resume && (options.seed !== undefined || options.hardFrom !== undefined))
    throw invalid("A resumed run keeps its trial order and hard tasks: --seed and --hard-from apply to a new run.");
  // Trials priced by two tables would not add up: the run keeps the one it was planned with.
  if (options.resume && options.prices !== undefined)
    throw invalid("A resumed run keeps its price table: --prices applies to a new run (the run dir's run.json shows the table).");
  const config = loadConfig();
  // A missing CLI or key, or a bad price table, is reported before the database is opened or any trial planned.
  const plannedDriver = options.resume ? undefined : await checkedDriver(requiredDriver(options.driver), options.model);
  const prices = loadPrices(options.prices);
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
      const suite = loadSuite(
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
        prices,
        outDir: options.out,
        runId: options.runId,
        seed: options.seed,
        hardFromRunId: options.hardFrom,
        postLimits: config.limits,
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
