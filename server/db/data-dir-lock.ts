import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config-error.ts";
import { AppError } from "../domain/errors.ts";

export class DataDirInUseError extends AppError {
  constructor(message: string) {
    super("unavailable", message);
  }
}

/**
 * PGlite is one process's database: a second process on the same folder would corrupt it.
 * A pid file refuses that with a clear message, and a stale one (its process gone) is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  makeDataDir(dataDir);
  keepToOwner(join(dataDir, "pgdata"));
  const lockFile = join(dataDir, "botboard.pid");
  try {
    const holder = Number(readFileSync(lockFile, "utf8"));
    if (holder && holder !== process.pid && isProcessAlive(holder)) {
      throw new DataDirInUseError(
        `The embedded database in ${dataDir} is in use by process ${holder}. ` +
          "Stop it, or use another BOTBOARD_DATA_DIR, or share a Postgres server (DATABASE_URL) between processes.",
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  try {
    writeFileSync(lockFile, String(process.pid));
  } catch (error) {
    throw new ConfigError(`BOTBOARD_DATA_DIR ${dataDir} is not writable (${(error as NodeJS.ErrnoException).code})`);
  }
  return () => rmSync(lockFile, { force: true });
}

/**
 * Creates the data folder and the folders above it that are missing, one level at a time: Node's
 * recursive mkdir loops for ever under /proc (ENOENT on the folder, EEXIST on its parent), and its
 * errors would name neither the variable nor what is wrong.
 */
function makeDataDir(dataDir: string): void {
  const missing: string[] = [];
  let nearest = resolve(dataDir);
  while (!existsSync(nearest)) {
    missing.unshift(nearest);
    nearest = dirname(nearest);
  }
  if (!statSync(nearest).isDirectory()) {
    const where = missing.length === 0 ? "" : ` (${nearest} is a file)`;
    throw new ConfigError(`BOTBOARD_DATA_DIR ${dataDir} is not a folder${where}`);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: folder === missing.at(-1) ? privateFolderMode : undefined });
    } catch (error) {
      // Another command made it meanwhile.
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && statSync(folder).isDirectory()) continue;
      throw new ConfigError(`BOTBOARD_DATA_DIR ${dataDir} cannot be created (${(error as NodeJS.ErrnoException).code} on ${folder})`);
    }
  }
}

/** Only its owner may enter: the database's files, which PGlite writes readable and writable by all. */
const privateFolderMode = 0o700;

/**
 * The embedded database's folder, kept to its owner as Postgres keeps its own (it refuses to start
 * otherwise): its files hold webhook secrets and every post, and PGlite makes them with the umask's
 * permissions (0666 under the usual 022). A folder made before this rule is closed on the next start.
 */
function keepToOwner(folder: string): void {
  if (existsSync(folder)) chmodSync(folder, privateFolderMode);
  else mkdirSync(folder, { mode: privateFolderMode });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
