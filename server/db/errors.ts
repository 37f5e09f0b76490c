import { AppError } from "../domain/errors.ts";

/**
 * What a database failure means to the doors: the driver's errors (postgres.js, PGlite, drizzle's
 * wrapping) sorted into "unreachable now", "text it cannot store" and bugs. Apart from the client so
 * that mapping an error loads no driver.
 */

/**
 * Network and server-state failures that mean "the database is not reachable now", not a bad query:
 * sockets and DNS (a stopped `db` container's name no longer resolves), SQLSTATE class 08 (connection
 * exception, matched by its prefix), 57P01-57P05 (the server ended the session: shutdown, crash,
 * starting up, database dropped under a replica, idle timeout) and 53300 (too many connections).
 */
const unavailableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
  "57P04",
  "57P05",
  "53300",
]);

/**
 * SQLSTATEs that mean the database is unreachable only when they refuse a new session (severity
 * FATAL): 55000 "database is not currently accepting connections" (allow_connections false), 3D000
 * "database does not exist", 28000 and 28P01 (a role that does not exist or may not log in, a wrong
 * password). As an ERROR in a session they are bugs, such as 55000 for currval before nextval.
 * Postgres sends the severity unlocalised, so this does not hang on lc_messages.
 */
const refusedSessionCodes = new Set(["55000", "3D000", "28000", "28P01"]);

type Failure = { code?: unknown; severity?: unknown; message?: unknown; detail?: unknown; cause?: unknown };

export function isUnreachable(failure: Failure): boolean {
  if (typeof failure.code !== "string") return false;
  if (unavailableCodes.has(failure.code) || failure.code.startsWith("08")) return true;
  return refusedSessionCodes.has(failure.code) && failure.severity === "FATAL";
}

/** The error and its causes (drivers and drizzle wrap each other), at most five deep. */
export function failureChain(error: unknown): Failure[] {
  const chain: Failure[] = [];
  for (let current = error as Failure | undefined, depth = 0; current && depth < 5; depth++) {
    chain.push(current);
    current = current.cause as Failure | undefined;
  }
  return chain;
}

/**
 * Why the database cannot be used, in the driver's words (`database "x" does not exist`, `connect
 * ECONNREFUSED 127.0.0.1:5432`), when a failure means it is unreachable; undefined for any other.
 */
export function unreachableReason(error: unknown): string | undefined {
  const failure = failureChain(error).find(isUnreachable);
  return failure && String(failure.message ?? failure.code);
}

/**
 * Text Postgres cannot store: a NUL or bytes that are not UTF-8 (22021), a JSON "\u0000" (22P05),
 * or a JSON string with a lone surrogate (22P02 from the json parser). Services refuse lone
 * surrogates first; this keeps any text that slips past them a 400 rather than a 500.
 */
function isUnstorableText(failure: Failure): boolean {
  if (failure.code === "22021" || failure.code === "22P05") return true;
  return failure.code === "22P02" && /\bjson\b|unicode|surrogate/i.test(`${failure.message} ${failure.detail}`);
}

/**
 * Database failures that are not bugs, as the AppError each door already knows how to answer:
 * an unreachable database (503, retry), or text Postgres cannot store, such as a NUL character (400).
 */
export function databaseErrorAsAppError(error: unknown): AppError | undefined {
  const chain = failureChain(error);
  if (chain.some(isUnreachable)) {
    return new AppError("unavailable", "The database is unavailable right now; try again shortly.", 2);
  }
  if (chain.some(isUnstorableText)) {
    return new AppError("invalid", "The text contains a character that cannot be stored (such as a NUL byte or a lone surrogate).");
  }
  return undefined;
}
