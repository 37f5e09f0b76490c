import { ConfigError } from "./config-error.ts";

/**
 * How the commands that talk to a running server over HTTP (claims, status, guard, mcp) find it, and
 * the one way they say they cannot: a bad address, a refused connection and a server that does not
 * answer all end as a ServerUnreachable, which the command line prints as one line.
 */

/**
 * The server could not be reached. From where the command stands its address is wrong, so it is a
 * configuration error (exit 78), like a missing token.
 */
export class ServerUnreachable extends ConfigError {
  constructor(url: string, reason: string) {
    super(`cannot reach the Botboard server at ${url}: ${reason}; is it running? set BOTBOARD_URL`);
  }
}

/** The server's address: the one given, else BOTBOARD_URL, else the default; only http(s) addresses. */
export function serverUrlOf(given: string | undefined): string {
  const url = (given ?? process.env.BOTBOARD_URL ?? "http://localhost:3000").replace(/\/+$/, "");
  if (!URL.canParse(url) || !["http:", "https:"].includes(new URL(url).protocol)) {
    throw new ServerUnreachable(url, "not an http:// or https:// address");
  }
  return url;
}

/** fetch for requests to the server at `url`: a request that gets no answer throws ServerUnreachable saying why. */
export function serverFetch(url: string): typeof fetch {
  return async function fetchFromServer(input, init) {
    try {
      return await fetch(input, init);
    } catch (error) {
      // Stopped by its caller (a closing MCP client), not by the server.
      if (error instanceof Error && error.name === "AbortError") throw error;
      throw new ServerUnreachable(url, reasonOf(error));
    }
  };
}

/** fetch says only "fetch failed"; the reason is its cause (refused, no such host, a port fetch blocks). */
function reasonOf(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer in time";
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  // Refused on both of localhost's addresses, the cause is an AggregateError: no message, but a code.
  const { message, code } = cause as { message?: string; code?: string };
  return message || code || String(cause);
}
