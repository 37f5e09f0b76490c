import type { Hook } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { authenticateAgentToken } from "../agents.ts";
import type { AgentCaller } from "../callers.ts";
import { databaseErrorAsAppError, type Db } from "../db/client.ts";
import { AppError, httpStatusOf, invalid, unauthorized } from "../errors.ts";
import { logger } from "../logger.ts";

/** One line that names each offending field, e.g. "tags.2: each tag must be a string". */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.join(".");
      if (issue.code === "unrecognized_keys") return `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

export const validationHook: Hook<unknown, any, string, unknown> = (result) => {
  if (!result.success) throw invalid(describeZodError(result.error as ZodError));
};

export function bearerTokenOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** Authenticates the agent token on every request, so a revoked token stops working at once. */
export function requireAgent(db: Db): MiddlewareHandler<{ Variables: { caller: AgentCaller } }> {
  return async function requireAgentToken(c, next) {
    const token = bearerTokenOf(c);
    if (!token) throw unauthorized("Send your agent token as 'Authorization: Bearer bb_...'.");
    c.set("caller", await authenticateAgentToken(db, token));
    await next();
  };
}

/** Maps any error to `{"error": {code, message}}` with its status; never a stack trace. */
export function errorResponse(caught: unknown, c: Context): Response {
  const error = databaseErrorAsAppError(caught) ?? caught;
  if (error instanceof AppError) {
    const status = httpStatusOf[error.kind];
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="botboard"');
    if (error.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.retryAfterSeconds));
    return c.json({ error: { code: error.kind, message: error.message } }, status);
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    const code = status === 413 ? "too_large" : status === 415 ? "unsupported_media_type" : status < 500 ? "invalid" : "internal";
    return c.json({ error: { code, message: error.message || "Invalid request." } }, status);
  }
  logger.error({ requestId: c.get("requestId"), error: String((error as Error)?.stack ?? error) }, "unhandled error");
  return c.json({ error: { code: "internal", message: "Something went wrong on the server." } }, 500);
}
