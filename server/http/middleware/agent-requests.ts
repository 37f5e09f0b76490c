import type { Hook } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { authenticateAgentToken } from "../../domain/agents.ts";
import type { AgentCaller } from "../../domain/callers.ts";
import type { Db } from "../../db/client.ts";
import { type AppError, httpStatusOf, invalid, unauthorized } from "../../domain/errors.ts";
import { appErrorOf, reportUnknownFailure } from "../../domain/failures.ts";
import { revealInvisibleCharacters } from "../../domain/untrusted-text.ts";
import { rateLimitedError, takeRequestAllowance, type Allowance, type RequestLimits } from "../../domain/rate-limits.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Where the request's rate-limit buckets stand, for its RateLimit headers. */
    rateLimitAllowance: Allowance;
  }
}

/** How many unknown keys a message names, and how much of each: a body of 50,000 made-up keys gets a line, not its keys back. */
const namedUnknownKeys = 5;
const namedKeyChars = 60;

/**
 * A key as a message names it: its start, for a made-up key of thousands of characters, with what
 * would hide or reorder text shown as codes (a terminal printing the message would run an escape).
 */
export function shownKey(key: string): string {
  return revealInvisibleCharacters(key.length > namedKeyChars ? `${key.slice(0, namedKeyChars)}…` : key);
}

/** "unknown field: x (known: a, b)": `what` names what an unknown key is (a field, a query parameter, an argument). */
export function unknownKeysMessage(keys: string[], what: string, known?: readonly string[]): string {
  const named = keys.slice(0, namedUnknownKeys).map(shownKey);
  const more = keys.length - named.length;
  const knownKeys = known ? ` (known: ${known.length > 0 ? known.join(", ") : "none"})` : "";
  return `unknown ${what}${keys.length > 1 ? "s" : ""}: ${named.join(", ")}${more > 0 ? ` and ${more.toLocaleString("en")} more` : ""}${knownKeys}`;
}

/**
 * One line that names each offending field, e.g. "tags.2: each tag must be a string". `keys` names
 * what an unknown key is: a body's field, or a query's parameter (a misspelt `?befor=` would
 * otherwise quietly answer the first page); `known`, when given, lists the top-level keys taken.
 * For people (`forPeople`, the web pages) a message that names its field already is not prefixed
 * with it again ("mode must be threads or everything").
 */
export function describeZodError(
  error: ZodError,
  { keys = "field", known, forPeople = false }: { keys?: string; known?: readonly string[]; forPeople?: boolean } = {},
): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.join(".");
      const message = issue.code === "unrecognized_keys" ? unknownKeysMessage(issue.keys, keys, path ? undefined : known) : issue.message;
      if (!path || (forPeople && message.startsWith(`${path} `))) return message;
      return `${path}: ${message}`;
    })
    .join("; ");
}

/**
 * A query parameter or form field is given once. Read as a list, a repeated `limit` or `q` would be
 * refused as "not a number" or "required", which sends the caller looking in the wrong place; read
 * as one value, a repeated form field would keep its last value and drop the others without a word.
 * `repeatable` names the fields that may hold several values (a form's checkbox group).
 */
export function refuseRepeatedValues(valuesByName: Record<string, unknown>, repeatable: readonly string[] = []): void {
  for (const [name, values] of Object.entries(valuesByName)) {
    if (Array.isArray(values) && values.length > 1 && !repeatable.includes(name)) {
      throw invalid(`${shownKey(name)} is given ${values.length === 2 ? "twice" : `${values.length} times`}; send it once.`);
    }
  }
}

export const refuseRepeatedQueryParameters: MiddlewareHandler = async function refuseRepeatedQueryParameters(c, next) {
  refuseRepeatedValues(c.req.queries());
  await next();
};

// biome-ignore lint/suspicious/noExplicitAny: OpenAPIHono's defaultHook takes a hook for any route's environment.
export const validationHook: Hook<unknown, any, string, unknown> = (result) => {
  if (!result.success)
    throw invalid(describeZodError(result.error as ZodError, { keys: result.target === "query" ? "query parameter" : "field" }));
};

export function bearerTokenOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/**
 * RateLimit-Policy and RateLimit headers (IETF draft httpapi-ratelimit-headers) for the buckets a
 * request drew from: q is the burst, w the seconds an empty bucket takes to fill, r the tries left
 * and t the seconds until the bucket is full again.
 */
export function setRateLimitHeaders(c: Context, allowance: Allowance): void {
  if (allowance.buckets.length === 0) return;
  // A finished response takes them on its own headers, as hono's secureHeaders does: `c.header`
  // would copy it into a new Response, streaming its body (a sixth of a served feed read's CPU).
  const setHeader = c.finalized ? (name: string, value: string) => c.res.headers.set(name, value) : c.header;
  const policies = allowance.buckets.map(
    (bucket) => `"${bucket.policy}";q=${bucket.rule.capacity};w=${Math.ceil(bucket.rule.capacity / bucket.rule.perSecond)}`,
  );
  setHeader("RateLimit-Policy", policies.join(", "));
  setHeader("RateLimit", allowance.buckets.map((bucket) => `"${bucket.policy}";r=${bucket.remaining};t=${bucket.resetSeconds}`).join(", "));
}

/** Names the bucket that refused, so the caller knows whether waiting or spreading load helps. */
export function rateLimitMessage(allowance: Allowance): string {
  const refused = allowance.buckets.filter((bucket) => !bucket.allowed).map((bucket) => bucket.policy);
  return refused.includes("token") ? "Too many requests with this token." : "Too many requests from this address.";
}

/**
 * Agents' requests draw from their address's and their token's bucket before anything else runs;
 * every answer carries the RateLimit headers, a refusal is a 429 with Retry-After.
 */
export function limitAgentRequests(
  db: Db,
  limits: RequestLimits,
  tokenOf: (c: Context) => string | undefined,
  onRefused?: (c: Context, refusal: AppError) => Promise<Response | undefined>,
): MiddlewareHandler {
  return async function limitAgentRequest(c, next) {
    const allowance = await takeRequestAllowance(db, limits, { address: c.get("clientAddress"), token: tokenOf(c) });
    if (!allowance.allowed) {
      setRateLimitHeaders(c, allowance);
      const refusal = rateLimitedError(allowance, rateLimitMessage(allowance));
      const answer = await onRefused?.(c, refusal);
      if (answer) return answer;
      throw refusal;
    }
    c.set("rateLimitAllowance", allowance);
    await next();
    // After the handler, so the headers also reach responses it built itself (MCP's transport), and
    // tell the buckets as they stand after any further tries it drew (the calls of an MCP batch).
    setRateLimitHeaders(c, c.get("rateLimitAllowance"));
  };
}

/**
 * Authenticates the agent token on every request, so a revoked token stops working at once.
 * `resourceOf` names the door's URL for OAuth access tokens, which work only where they were issued for.
 */
export function requireAgent(db: Db, resourceOf?: (c: Context) => string): MiddlewareHandler<{ Variables: { caller: AgentCaller } }> {
  return async function requireAgentToken(c, next) {
    const token = bearerTokenOf(c);
    if (!token) throw unauthorized("Send your agent token as 'Authorization: Bearer bb_...'.");
    c.set("caller", await authenticateAgentToken(db, token, resourceOf?.(c)));
    await next();
  };
}

/** A refusal as every door reports it: its status (with its headers set on `c`), code and message; never a stack trace. */
export function describeError(caught: unknown, c: Context): { status: ContentfulStatusCode; code: string; message: string } {
  const error = appErrorOf(caught);
  if (error) {
    const status = httpStatusOf[error.kind];
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="botboard"');
    if (error.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.retryAfterSeconds));
    return { status, code: error.kind, message: error.message };
  }
  if (caught instanceof HTTPException) {
    const status = caught.status as ContentfulStatusCode;
    const code = status === 413 ? "too_large" : status === 415 ? "unsupported_media_type" : status < 500 ? "invalid" : "internal";
    // Only JSON routes check the media type: say what to send, not just that it was wrong.
    const message =
      status === 415 ? "The body is not JSON: send it with Content-Type: application/json." : caught.message || "Invalid request.";
    return { status, code, message };
  }
  return { status: 500, code: "internal", message: reportUnknownFailure(caught, { requestId: c.get("requestId") }) };
}

/** Maps any error to `{"error": {code, message}}` with its status. */
export function errorResponse(caught: unknown, c: Context): Response {
  const { status, code, message } = describeError(caught, c);
  return c.json({ error: { code, message } }, status);
}
