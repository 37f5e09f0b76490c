import autocannon from "autocannon";

export type Measurement = {
  target: string;
  database: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests answered with 2xx over the measured rounds; none means the figures above measured nothing. */
  completed: number;
  errors: number;
  rounds: number[];
  /** The first failure's message, so a broken target is visible rather than silently slow. */
  firstError?: string;
};

export type LoadOptions = { concurrency: number; warmupSeconds: number; roundSeconds: number; rounds: number };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

type Round = { requestsPerSecond: number; p50Ms: number; p99Ms: number; completed: number; errors: number; firstError?: string };

/**
 * How much longer than asked a round may run when it completes no request at all, as a quick round
 * of 0.1 s can on a busy machine while the first requests warm up (once, 3.1 s in five rounds did not
 * answer one).
 */
const longestRoundStretch = 64;

/** A round that completed no request has no rate or latency to report: it runs again, twice as long each time. */
async function roundWithRequests(round: (seconds: number) => Promise<Round>, seconds: number): Promise<Round> {
  let result = await round(seconds);
  for (let stretch = 2; result.completed === 0 && stretch <= longestRoundStretch; stretch *= 2) result = await round(seconds * stretch);
  return result;
}

/** Warm-up, then `rounds` rounds; the reported figures are the medians of the rounds. */
async function measureRounds(target: string, database: string, options: LoadOptions, round: (seconds: number) => Promise<Round>) {
  if (options.warmupSeconds > 0) await round(options.warmupSeconds);
  const results: Round[] = [];
  for (let index = 0; index < options.rounds; index++) results.push(await roundWithRequests(round, options.roundSeconds));
  return {
    target,
    database,
    requestsPerSecond: Math.round(median(results.map((result) => result.requestsPerSecond))),
    p50Ms: median(results.map((result) => result.p50Ms)),
    p99Ms: median(results.map((result) => result.p99Ms)),
    completed: results.reduce((sum, result) => sum + result.completed, 0),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    rounds: results.map((result) => Math.round(result.requestsPerSecond)),
    firstError: results.find((result) => result.firstError)?.firstError,
  } satisfies Measurement;
}

export type HttpTarget = {
  name: string;
  url: string;
  method?: "GET" | "POST";
  /** Builds each request: headers and body, so requests can rotate tokens and vary content. */
  request: (index: number) => { headers: Record<string, string>; body?: string };
};

/** HTTP load with autocannon at fixed concurrency; non-2xx answers count as errors. */
export function measureHttp(target: HttpTarget, database: string, options: LoadOptions): Promise<Measurement> {
  let counter = 0;
  return measureRounds(target.name, database, options, async (seconds) => {
    const result = await autocannon({
      url: target.url,
      connections: options.concurrency,
      duration: seconds,
      // autocannon checks for the end of a round once per sample: a quick round of 0.1 s would last a second.
      sampleInt: Math.min(1000, seconds * 1000),
      method: target.method ?? "GET",
      requests: [
        {
          setupRequest: (request) => {
            const built = target.request(counter++);
            return { ...request, headers: { ...request.headers, ...built.headers }, body: built.body };
          },
        },
      ],
    });
    return {
      // Answers over elapsed time: autocannon's per-second average reads 0 for a round under 1 s of samples.
      requestsPerSecond: result["2xx"] / result.duration,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      completed: result["2xx"],
      errors: result.errors + result.non2xx + result.timeouts,
    };
  });
}

/** The same fixed-concurrency loop for work with no HTTP in it (raw database calls). */
export function measureCalls(name: string, database: string, options: LoadOptions, call: (index: number) => Promise<unknown>) {
  let counter = 0;
  return measureRounds(name, database, options, async (seconds) => {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const end = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < end) {
          const begin = performance.now();
          try {
            await call(counter++);
            latencies.push(performance.now() - begin);
          } catch (error) {
            errors++;
            firstError ??= String((error as Error).message ?? error);
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      requestsPerSecond: latencies.length / elapsed,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      completed: latencies.length,
      errors,
      firstError,
    };
  });
}
