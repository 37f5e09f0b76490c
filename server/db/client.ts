import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { AppError } from "../domain/errors.ts";
import { projectPath } from "../project-root.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { failureChain, isUnreachable } from "./errors.ts";
import * as schema from "./schema/index.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

type PreparedExecutor = (text: string, params: unknown[]) => Promise<unknown[]>;
const preparedExecutors = new WeakMap<Db, PreparedExecutor>();
/**
 * The read timeout of each Postgres database opened here (PGlite has none), and the pool its timed
 * reads run on: connections that carry the timeout from their start, so a read is one statement.
 * Behind a transaction pooler, or a pooler that refuses or drops the setting, there is no such pool.
 */
const readTimeouts = new WeakMap<Db, { timeoutMs: number; timedReader?: () => Promise<Db | undefined> }>();

/**
 * Runs hand-written SQL with $1.. parameters as a prepared statement, parsed and planned once per
 * connection: for a statement on every request that drizzle's query builder cannot express, since
 * its `execute` always sends SQL unprepared. Only on a database opened here (not in a transaction).
 */
export function executePrepared<Row>(db: Db, text: string, params: unknown[]): Promise<Row[]> {
  const execute = preparedExecutors.get(db);
  if (!execute) throw new Error("executePrepared needs a database opened by openDatabase.");
  return execute(text, params) as Promise<Row[]>;
}

/** Databases that no other process can open while this one has them: a PGlite folder, which is locked. */
const openedByThisProcessAlone = new WeakSet<Db>();

/** Whether no other process can read or write this database while this one runs (PGlite, not Postgres). */
export function isThisProcessAlone(db: Db): boolean {
  return openedByThisProcessAlone.has(db);
}

/** Marks a database as this process's alone, and each transaction begun on it, which is another object. */
function markThisProcessAlone(db: Db): void {
  openedByThisProcessAlone.add(db);
  const begin = db.transaction.bind(db);
  db.transaction = (run, config) =>
    begin((transaction) => {
      markThisProcessAlone(transaction);
      return run(transaction);
    }, config);
}

type PayloadListener = (payload: string) => void;

/** The listeners of each channel, on each database this process has alone. */
const listenersWithinProcess = new WeakMap<Db, Map<string, Set<PayloadListener>>>();

/**
 * Hands the payload to this process's listeners of the channel, as a NOTIFY would, on a database no
 * other process can open (PGlite), where no one else can be listening; there a NOTIFY would be a
 * transaction of its own for the one engine to run. False elsewhere: only a NOTIFY reaches every process.
 */
export function notifyWithinProcess(db: Db, channel: string, payload: string): boolean {
  const channels = listenersWithinProcess.get(db);
  if (!channels) return false;
  for (const onPayload of [...(channels.get(channel) ?? [])]) onPayload(payload);
  return true;
}

/** Listens on the channel for both a NOTIFY and `notifyWithinProcess`. */
async function listenAlone(
  client: PGlite,
  channels: Map<string, Set<PayloadListener>>,
  channel: string,
  onPayload: PayloadListener,
): Promise<() => Promise<void>> {
  const stop = await client.listen(channel, onPayload);
  const listeners = channels.get(channel) ?? new Set();
  channels.set(channel, listeners);
  listeners.add(onPayload);
  return async () => {
    listeners.delete(onPayload);
    await stop();
  };
}

/** The rows of `db.execute`: postgres.js returns them as the result, PGlite in its `rows`. */
export function rowsOf<Row>(result: unknown): Row[] {
  return Array.isArray(result) ? (result as Row[]) : ((result as { rows?: Row[] }).rows ?? []);
}

export type Database = {
  db: Db;
  kind: "postgres" | "pglite";
  /**
   * Subscribes to a NOTIFY channel; resolves once listening, to a function that stops it. The
   * subscription outlives database outages: it listens again once the database is back, then calls
   * `onResume`, since notifications sent while it was away are lost.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResume?: () => void): Promise<() => Promise<void>>;
  /** Applies pending migrations and resolves to their file names; safe when several processes start at once. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
};

const shippedMigrations = projectPath("migrations");
/** Any fixed 64-bit number: every Botboard process takes the same lock before migrating. */
const migrationLockId = 7_305_220_311n;

export type DatabaseOptions = {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  /**
   * Longest a read under `withReadTimeout` may run on Postgres, in milliseconds; 0 or unset for no
   * limit. PGlite runs one statement at a time in the server's own thread and cannot stop one.
   */
  readTimeoutMs?: number;
  /** Called with every statement the app sends (tests count them to catch N+1 queries). */
  onQuery?: (statement: string) => void;
  /** The migrations `migrate` applies: those shipped with this version unless told (tests build older schemas). */
  migrationsFolder?: string;
  /**
   * The same database without a pooler, when `databaseUrl` goes through one in transaction mode:
   * LISTEN and the migrations' advisory lock need a session of their own, and the pooled
   * connections are then sent no prepared statements (a transaction pooler cannot carry them).
   */
  directDatabaseUrl?: string;
};

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const migrationsFolder = options.migrationsFolder ?? shippedMigrations;
  if (!options.databaseUrl) return openPglite(options.dataDir, migrationsFolder, options.onQuery);
  return openPostgres(
    options.databaseUrl,
    options.poolSize ?? 10,
    migrationsFolder,
    options.onQuery,
    options.directDatabaseUrl,
    options.readTimeoutMs ?? 0,
  );
}

/**
 * Runs a read that could be costly (a search, a deep page of the feed) with the database's read
 * timeout: on Postgres a statement that runs longer is cancelled and gives its connection back. The
 * read runs on the timed pool, whose connections have `statement_timeout` set from their start;
 * behind a transaction pooler, in a transaction of its own that sets it (three statements more).
 * A cancelled read throws `tooSlow` (which tells the caller how to narrow what it asked). Without a
 * timeout (PGlite, or none configured) the read runs as it is.
 */
export async function withReadTimeout<T>(db: Db, tooSlow: (timeoutMs: number) => string, read: (db: Db) => Promise<T>): Promise<T> {
  const timeout = readTimeouts.get(db);
  if (!timeout) return read(db);
  const { timeoutMs, timedReader } = timeout;
  try {
    const reader = await timedReader?.();
    if (reader) return await read(reader);
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`);
      return read(tx as unknown as Db);
    });
  } catch (error) {
    if (failureChain(error).some((failure) => failure.code === queryCanceled)) {
      throw new AppError("unavailable", tooSlow(timeoutMs));
    }
    throw error;
  }
}

/** SQLSTATE of a statement cancelled by statement_timeout. */
const queryCanceled = "57014";

/**
 * Seconds between attempts to reconnect after a connection failed: quickly at first, then every
 * second at most (postgres.js defaults to a cap of 20 s), so LISTEN is back within about a second
 * of the database and live feeds do not stay silent long after an outage.
 */
const reconnectBackoffSeconds = (attempt: number) => Math.min(0.05 * 2 ** attempt, 1);

function queryLogger(onQuery: DatabaseOptions["onQuery"]) {
  return onQuery && { logQuery: (statement: string) => onQuery(statement) };
}

/** Seconds a connection of the timed pool may sit idle before it is closed: it serves bursts of searches. */
const timedPoolIdleSeconds = 60;
/** SQLSTATE of a startup parameter refused, as PgBouncer in session mode refuses `statement_timeout`. */
const protocolViolation = "08P01";

/**
 * The timed pool: connections that get `statement_timeout` as a startup parameter. It is used once
 * its first connection shows the setting in force; a pooler that refuses the parameter or drops it
 * leaves timed reads in a transaction of their own. A database that cannot be reached is asked again
 * at the next timed read.
 */
function timedPool(url: string, options: postgres.Options<never>, timeoutMs: number, onQuery: DatabaseOptions["onQuery"]) {
  const client = postgresPool(url, { ...options, idle_timeout: timedPoolIdleSeconds, connection: { statement_timeout: timeoutMs } });
  let proven: Promise<Db | undefined> | undefined;
  async function prove(): Promise<Db | undefined> {
    try {
      const [row] = await client<{ setting: string }[]>`select setting from pg_settings where name = 'statement_timeout'`;
      if (Number(row?.setting) === timeoutMs) return drizzleOver(client, onQuery);
    } catch (error) {
      if (!failureChain(error).some((failure) => failure.code === protocolViolation)) {
        proven = undefined;
        throw error;
      }
    }
    await client.end({ timeout: 5 });
    return undefined;
  }
  return {
    reader: () => (proven ??= prove()),
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * A postgres.js pool whose new connections fetch the database's array types only until one has.
 * postgres.js fetches them as each connection opens, in a query nobody awaits: a connection ended
 * during it (a failover, pg_terminate_backend) rejects it unhandled, which ends the process. The
 * types go into the pool's shared options, so the connections that replace closed ones skip it.
 */
function postgresPool(url: string, options: postgres.Options<never>): postgres.Sql {
  const pool: postgres.Sql = postgres(url, {
    ...options,
    onclose: () => {
      const parsed = pool.options as typeof pool.options & { fetch_types: boolean; shared: { typeArrayMap: object } };
      if (Object.keys(parsed.shared.typeArrayMap).length > 0) parsed.fetch_types = false;
    },
  });
  return pool;
}

function openPostgres(
  url: string,
  poolSize: number,
  migrationsFolder: string,
  onQuery: DatabaseOptions["onQuery"],
  directUrl: string | undefined,
  readTimeoutMs: number,
): Database {
  const connection = { onnotice: () => {}, connect_timeout: 5, backoff: reconnectBackoffSeconds };
  // Behind a transaction pooler, `prepare: false` here overrides every statement's own `prepare: true`.
  const client = postgresPool(url, { ...connection, max: poolSize, prepare: directUrl === undefined });
  // Sessions for LISTEN and the migrations: the pool itself, unless it goes through a pooler.
  const sessions = directUrl ? postgresPool(directUrl, { ...connection, max: 2 }) : client;
  const db = drizzleOver(client, onQuery);
  const timed =
    readTimeoutMs > 0 && directUrl === undefined ? timedPool(url, { ...connection, max: poolSize }, readTimeoutMs, onQuery) : undefined;
  if (readTimeoutMs > 0) readTimeouts.set(db, { timeoutMs: readTimeoutMs, timedReader: timed?.reader });
  return {
    db,
    kind: "postgres",
    async listen(channel, onPayload, onResume) {
      // postgres.js keeps a dedicated LISTEN connection, reconnects it and runs LISTEN again after a
      // failure, calling this each time. While Postgres refuses connections, a connection with
      // several channels queues LISTEN again at each refused attempt, and all of them answer once it
      // is back: only a LISTEN on another backend than before is a resumption. The subscription's
      // state is its connection's, whose pid and cancel key change with each backend. A notification
      // can come on the new backend before postgres.js calls back for its LISTEN: the resumption is
      // told first, so listeners never take a notification after the gap for one before it.
      let subscription: Awaited<ReturnType<typeof sessions.listen>> | undefined;
      let listeningOn: string | undefined;
      const backendOf = (state: { pid: number; secret: number }) => `${state.pid}:${state.secret}`;
      const resumeOnNewBackend = () => {
        // The first LISTEN, still being awaited: nothing was missed.
        if (!subscription) return;
        const backend = backendOf(subscription.state);
        if (backend === listeningOn) return;
        listeningOn = backend;
        onResume?.();
      };
      subscription = await sessions.listen(
        channel,
        (payload) => {
          resumeOnNewBackend();
          onPayload(payload);
        },
        resumeOnNewBackend,
      );
      listeningOn = backendOf(subscription.state);
      return () => subscription.unlisten();
    },
    async migrate() {
      // The advisory lock belongs to a session of its own, which ending releases; the migrations run
      // on the pool's connections (taking the lock on one of them, a pool of one waited for itself).
      const lockSession = postgres(directUrl ?? url, { ...connection, max: 1 });
      try {
        await lockSession`select pg_advisory_lock(${migrationLockId.toString()}::bigint)`;
        // Asked under the lock: what another process applied meanwhile is not this one's to report.
        const pending = await pendingMigrations(db, migrationsFolder);
        await migratePostgres(drizzlePostgres(sessions), { migrationsFolder });
        return pending;
      } finally {
        await lockSession.end({ timeout: 5 });
      }
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), sessions !== client && sessions.end({ timeout: 5 }), timed?.close()]);
    },
  };
}

/** drizzle over a postgres.js pool, with `executePrepared` on it. */
function drizzleOver(client: postgres.Sql, onQuery: DatabaseOptions["onQuery"]): Db {
  const db = drizzlePostgres(stopTransactionsOnConnectionLoss(client), { schema, logger: queryLogger(onQuery) }) as unknown as Db;
  preparedExecutors.set(db, (text, params) => {
    onQuery?.(text);
    return client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
  });
  return db;
}

/**
 * postgres.js (3.4.9) writes to a connection that closed under a transaction (the ROLLBACK after the
 * statement that failed with it, or the COMMIT), and that write throws from a timer: the process ends
 * (porsager/postgres#1208). Postgres closes a session in a transaction whenever an administrator or a
 * failover ends it. So a transaction whose connection is lost stops where it is: its callback never
 * settles, postgres.js writes nothing more to that connection, and the transaction fails with the
 * connection's error, which every door answers 503.
 */
function stopTransactionsOnConnectionLoss(client: postgres.Sql): postgres.Sql {
  const begin = (run: (transaction: postgres.TransactionSql) => unknown) => {
    let lost = false;
    const transaction = client.begin(async (transactionSql) => {
      try {
        const result = await run(transactionSql);
        if (!lost) return result;
      } catch (error) {
        if (!(await connectionLost(error))) throw error;
      }
      return new Promise<never>(() => {});
    });
    // While its callback runs, the transaction fails only when its connection closes.
    const ended = transaction.then(
      () => {},
      () => {
        lost = true;
      },
    );
    // A statement fails with its connection a moment before the transaction does: wait for that, briefly.
    const connectionLost = async (error: unknown) => {
      if (!lost && failureChain(error).some(isUnreachable)) await Promise.race([ended, delay(1000, undefined, { ref: false })]);
      return lost;
    };
    return transaction;
  };
  return new Proxy(client, {
    get: (target, property, receiver) => (property === "begin" ? begin : Reflect.get(target, property, receiver)),
  });
}

async function openPglite(dataDir: string, migrationsFolder: string, onQuery: DatabaseOptions["onQuery"]): Promise<Database> {
  const releaseLock = lockDataDir(dataDir);
  // Loaded only when used: the WebAssembly build costs a server on Postgres about 36 MB it never needs.
  const [{ PGlite }, { btree_gin }, { drizzle: drizzlePglite }, { migrate: migratePglite }, { withNamedStatements }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("@electric-sql/pglite/contrib/btree_gin"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
    import("./pglite-statements.ts"),
  ]);
  let client: PGlite;
  try {
    client = await PGlite.create(join(dataDir, "pgdata"), {
      extensions: { btree_gin },
      // Shared buffers are resident in the WebAssembly heap from the start (Postgres' default 128 MB
      // would be all of it): 16 MB holds a team's hot pages, and the rest stays in the operating
      // system's file cache. Measured in docs/decisions/037-pglite-memory.md.
      postgresqlconf: "shared_buffers=16MB",
    });
  } catch (error) {
    releaseLock();
    throw error;
  }
  const statementsOnce = withNamedStatements(client);
  const db = drizzlePglite(statementsOnce, { schema, logger: queryLogger(onQuery) }) as unknown as Db;
  markThisProcessAlone(db);
  const channels = new Map<string, Set<PayloadListener>>();
  listenersWithinProcess.set(db, channels);
  preparedExecutors.set(db, async (text, params) => {
    onQuery?.(text);
    return (await statementsOnce.query(text, params)).rows;
  });
  return {
    db,
    kind: "pglite",
    listen: (channel, onPayload) => listenAlone(client, channels, channel, onPayload),
    migrate: async () => {
      const pending = await pendingMigrations(db, migrationsFolder);
      await migratePglite(drizzlePglite(client), { migrationsFolder });
      return pending;
    },
    async close() {
      await client.close();
      releaseLock();
    },
  };
}

type MigrationJournal = { entries: { tag: string; when: number }[] };

/**
 * The migrations (shipped with this version, unless another folder is given) that `migrate` would
 * apply, oldest first, by their file names. Drizzle's rule: those made after the newest one recorded in drizzle.__drizzle_migrations.
 */
export async function pendingMigrations(db: Db, migrationsFolder = shippedMigrations): Promise<string[]> {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as MigrationJournal;
  // select ... from a one-row subquery: drizzle's select answers rows alike on both drivers.
  const [table] = await db
    .select({ exists: sql<boolean>`to_regclass('drizzle.__drizzle_migrations') is not null` })
    .from(sql`(select 1) as one`);
  let newestApplied = Number.NEGATIVE_INFINITY;
  if (table?.exists) {
    const [row] = await db.select({ newest: sql<string | null>`max(created_at)::text` }).from(sql`drizzle.__drizzle_migrations`);
    if (row?.newest) newestApplied = Number(row.newest);
  }
  return journal.entries.filter((entry) => entry.when > newestApplied).map((entry) => `${entry.tag}.sql`);
}

/** True when the database answers and every migration shipped with this version is applied. */
export async function isDatabaseReady(db: Db): Promise<boolean> {
  const expected = JSON.parse(readFileSync(join(shippedMigrations, "meta", "_journal.json"), "utf8")) as {
    entries: unknown[];
  };
  const [row] = await db.select({ applied: sql<number>`count(*)::int` }).from(sql`drizzle.__drizzle_migrations`);
  return (row?.applied ?? 0) >= expected.entries.length;
}
