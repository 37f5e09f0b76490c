import { databaseErrorAsAppError } from "../db/errors.ts";
import { logger } from "../logger.ts";
import { AppError } from "./errors.ts";

/**
 * Every door's first step with a caught error. Each door then maps the result once: an AppError to
 * its status and message (HTTP JSON, HTML, an MCP isError result, the CLI's exit), anything else to
 * the one message below, after logging it.
 */

/**
 * A service's AppError as it is; a database failure that is not a bug (unreachable, unstorable
 * text) as the AppError it amounts to; undefined for anything else, which is a bug.
 */
export function appErrorOf(caught: unknown): AppError | undefined {
  return caught instanceof AppError ? caught : databaseErrorAsAppError(caught);
}

/** Logs a failure no rule explains and returns all a caller is told about it: nothing internal. */
export function reportUnknownFailure(caught: unknown, context: Record<string, unknown> = {}): string {
  logger.error({ ...context, error: String((caught as Error)?.stack ?? caught) }, "unhandled error");
  return "Something went wrong on the server.";
}
