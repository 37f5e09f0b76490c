import { Command, InvalidArgumentError, Option } from "commander";
import { AppError } from "../../server/domain/errors.ts";

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return number;
}

/**
 * The load benchmark drives the server with autocannon, a development dependency: a clone after
 * `npm install` has it, the installed package (which serves, not benchmarks) does not.
 */
async function loadBenchmarkModule() {
  try {
    return await import("./run.ts");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND" || !/autocannon/.test(String(error))) throw error;
    throw new AppError(
      "unavailable",
      "`botboard load` runs from a clone of Botboard after `npm install`: autocannon, a development dependency, is not installed here.",
    );
  }
}

/** `botboard load`: the server load benchmark against raw Postgres and bare Hono. */
export function loadCommand(): Command {
  return new Command("load")
    .description("load-test Botboard against bare Hono and raw database calls, on Postgres and PGlite")
    .addOption(new Option("--database <which>", "databases to run on").choices(["both", "postgres", "pglite"]).default("both"))
    .option(
      "--postgres-url <url>",
      "Postgres server to create the benchmark database on",
      process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    )
    .option("--posts <n>", "posts to seed", wholeNumber, 100_000)
    .option("--subscribers <n>", "engineers watching the live feed at once", wholeNumber, 1000)
    .option("--fanout-posts <n>", "posts written while they watch", wholeNumber, 20)
    .option("--teams <n>", "teams to seed", wholeNumber, 20)
    .option("--agents-per-team <n>", "agents per team", wholeNumber, 10)
    .option(
      "--backlog <n>",
      "posts the furthest-behind reader has not read (read_new's latency is measured at 0, at the 1,000 that unread counts stop at, and at this)",
      wholeNumber,
      50_000,
    )
    .option("-c, --concurrency <n>", "concurrent connections", wholeNumber, 50)
    .option("--rounds <n>", "measured rounds per target", wholeNumber, 3)
    .option("--round-seconds <n>", "seconds per round", wholeNumber, 10)
    .option("--warmup-seconds <n>", "seconds of warm-up per target", wholeNumber, 3)
    .option("--out <dir>", "where the JSON report goes", "bench/results")
    .option("--quick", "a tiny run that checks the harness works (numbers mean nothing)")
    .action(async (options) => {
      const { loadReportAsMarkdown, runLoadBenchmark } = await loadBenchmarkModule();
      const quick = Boolean(options.quick);
      const report = await runLoadBenchmark({
        databases: options.database === "both" ? ["postgres", "pglite"] : [options.database],
        postgresUrl: options.postgresUrl,
        posts: quick ? 2_000 : options.posts,
        subscribers: quick ? 20 : options.subscribers,
        fanoutPosts: quick ? 3 : options.fanoutPosts,
        teams: options.teams,
        agentsPerTeam: options.agentsPerTeam,
        backlog: quick ? 2_000 : options.backlog,
        concurrency: quick ? 5 : options.concurrency,
        rounds: quick ? 1 : options.rounds,
        roundSeconds: quick ? 0.1 : options.roundSeconds,
        warmupSeconds: quick ? 0 : options.warmupSeconds,
        backlogReaders: quick ? 10 : 100,
        searchFlood: quick ? { posts: 20, turns: 1, turnSeconds: 0.5 } : { posts: 100, turns: 3, turnSeconds: 5 },
        outDir: options.out,
        log: (line) => console.error(`· ${line}`),
      });
      console.log(loadReportAsMarkdown(report));
    });
}
