import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { ConfigError } from "../config-error.ts";

/**
 * How many processes `botboard serve` runs: on Postgres, the number asked for or one per core; on the
 * embedded database, one, since a PGlite folder belongs to a single process.
 */
export function workerCountOf(requested: number | undefined, databaseUrl: string | undefined): number {
  if (databaseUrl) {
    // Past a few per core, more processes only take turns on the cores while each holds its own connections.
    const most = 4 * availableParallelism();
    if (requested !== undefined && requested > most) {
      throw new ConfigError(`--workers is at most ${most} here (four per core); ${requested} would only hold more connections.`);
    }
    return requested ?? availableParallelism();
  }
  if (requested !== undefined && requested > 1) {
    throw new ConfigError("--workers needs Postgres (DATABASE_URL): the embedded database belongs to one process.");
  }
  return 1;
}

export const isWorker = (): boolean => cluster.isWorker;

/** The first worker (or the only process) migrates and prints the first-run link; the others start after it. */
export const isFirstWorker = (): boolean => !cluster.isWorker || cluster.worker?.id === 1;

/**
 * The primary of `botboard serve --workers N`: forks N workers that each run a whole server (pool,
 * LISTEN, token cache, rate-limit leases) on one port; node:cluster hands each new connection to the
 * next worker in turn. What a request needs from another worker lives in Postgres or comes by NOTIFY,
 * as between separate processes. A worker that dies after start-up is replaced; one that fails to
 * start stops them all. SIGTERM or SIGINT drains every worker, then the primary exits.
 */
export async function superviseWorkers(count: number): Promise<void> {
  let stopping = false;
  const exitCodes = new Map<Worker, number>();
  const forkListening = () =>
    new Promise<Worker>((resolve, reject) => {
      const worker = cluster.fork();
      worker.once("listening", () => resolve(worker));
      worker.once("exit", (code, signal) => {
        exitCodes.set(worker, code ?? 1);
        // A worker that exits with a code has printed why (a port in use, a database it cannot reach).
        if (code === null && !stopping) console.error(`botboard: a worker was stopped by ${signal} before it was serving`);
        reject(new Error(`a worker stopped before it was serving (${code === null ? signal : `exit code ${code}`})`));
      });
    });
  const stopAll = async (signal: NodeJS.Signals) => {
    stopping = true;
    const running = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
    await Promise.all(
      running.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once("exit", () => resolve());
            worker.process.kill(signal);
          }),
      ),
    );
  };
  process.once("SIGINT", () => void stopAll("SIGTERM").then(() => process.exit(0)));
  process.once("SIGTERM", () => void stopAll("SIGTERM").then(() => process.exit(0)));
  try {
    // The first alone, so one process applies migrations and makes the first-run invite.
    await forkListening();
    await Promise.all(Array.from({ length: count - 1 }, forkListening));
  } catch {
    // Stopped by a signal while workers were still starting: the signal's handler exits.
    if (stopping) return;
    await stopAll("SIGTERM");
    process.exit(Math.max(1, ...exitCodes.values()));
  }
  console.log(`Botboard runs ${count} worker processes on one port.`);
  cluster.on("exit", (_worker, code, signal) => {
    if (stopping) return;
    console.error(`A worker stopped (${signal ?? `exit code ${code}`}); starting another.`);
    forkListening().catch((error: unknown) => console.error(String((error as Error).message)));
  });
}
