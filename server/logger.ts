import type { MiddlewareHandler } from "hono";
import { pino, type Logger } from "pino";

/**
 * One JSON line per event. Request lines carry the request id (also sent back as X-Request-Id) but
 * never headers or bodies, so tokens and cookies stay out of logs. Until a server configures it, it
 * writes to standard error: a command's standard output is its answer (`--json`), which a warning
 * must not break.
 */
export let logger: Logger = pino({ level: process.env.LOG_LEVEL ?? "info", base: undefined }, pino.destination(2));

/** A server's log: on standard output, at the configured level. */
export function configureLogger(level: string): void {
  logger = pino({ level, base: undefined });
}

export function logRequests(): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async function logRequest(c, next) {
    const started = performance.now();
    await next();
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const line = { requestId: c.var.requestId, method: c.req.method, path: c.req.path, status: c.res.status, durationMs };
    if (c.res.status >= 500) logger.error(line, "request failed");
    else logger.info(line, "request");
  };
}
