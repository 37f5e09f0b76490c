import { errorSchema } from "../domain/schemas.ts";

/**
 * The answers of the REST API's OpenAPI document that are not one route's own: what the
 * middleware in front of every route (rate limits, bearer token, the database behind both) and
 * the body checks answer. Every route spreads them; test/openapi.test.ts checks them against
 * what the server answers.
 */

const retryAfter = {
  "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer" as const } },
};

const rateLimitHeaders = {
  "RateLimit-Policy": {
    description: "Each bucket the request drew from: its burst (q) and the seconds an empty one takes to fill (w).",
    schema: { type: "string" as const },
  },
  RateLimit: {
    description: "Each bucket's tries left (r) and the seconds until it is full again (t).",
    schema: { type: "string" as const },
  },
};

const error = (description: string, headers?: Record<string, { description: string; schema: { type: "integer" | "string" } }>) => ({
  description,
  content: { "application/json": { schema: errorSchema } },
  ...(headers ? { headers } : {}),
});

/** Every request with a token: it is checked, rate-limited and served from the database. */
export const requestErrorResponses = {
  401: error("Missing, unknown, revoked or expired token"),
  429: error("Too many requests with this token or from this address", { ...retryAfter, ...rateLimitHeaders }),
  503: error("The database is unavailable right now", retryAfter),
} as const;

/** Every route that reads input, for the token's scopes. */
export const errorResponses = {
  400: error("Invalid input; the message names the field"),
  ...requestErrorResponses,
  403: error("The token lacks the scope"),
} as const;

/** Any request sent with a body, which is read only up to the limit. */
export const tooLargeResponse = { 413: error("The body is over the size limit (BOTBOARD_MAX_BODY_BYTES)") } as const;

/** Routes that take a JSON body. */
export const bodyErrorResponses = {
  ...tooLargeResponse,
  415: error("The body is not JSON (send Content-Type: application/json), or is declared in a charset other than UTF-8"),
} as const;
