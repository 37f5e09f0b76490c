import { CancelledNotificationSchema, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Context, MiddlewareHandler } from "hono";
import { bearerTokenOf } from "../server/http/middleware/agent-requests.ts";

/**
 * The tool calls this process is running, so that a client's `notifications/cancelled` reaches the
 * one it names. A client that gives up on a call (its timeout) keeps the HTTP request open, posts
 * the cancellation beside it and ignores the answer that comes later. A `read_new` that answers no
 * one must hand out nothing, or its posts never reach the agent: it watches the signal its request
 * gets here, aborted by that notification or by the connection closing.
 *
 * A call is named by the token, the Mcp-Session-Id and its JSON-RPC id (ids are unique within one
 * client's session only). The cancellation is taken before the token is checked against the
 * database, which may be what the call is waiting for; only the same token can name a call. One
 * that reaches another server process than its call's finds nothing here, and the call runs to its
 * end, as before.
 */
export type RunningCalls = {
  /** The signal of one POST's calls, registered until `done`. */
  start(c: Context, calls: JSONRPCRequest[]): RunningRequest;
  /** Middleware: aborts the calls that a POST's `notifications/cancelled` name, then goes on. */
  cancelNamedCalls: MiddlewareHandler;
};

export type RunningRequest = { abandoned: AbortSignal; done(): void };

/** Kept in this process's memory only while the call runs, as the request that carries the token is. */
const keyOf = (c: Context, id: string | number) => JSON.stringify([bearerTokenOf(c) ?? "", c.req.header("mcp-session-id") ?? null, id]);

/** The messages of a POST that may name a cancelled call; none for any other (most are not: one look at the bytes). */
async function cancellationsIn(c: Context): Promise<unknown[]> {
  if (c.req.method !== "POST") return [];
  // The bytes, not text: a later check refuses a body that is not UTF-8, and it reads what is kept here.
  const text = new TextDecoder().decode(await c.req.arrayBuffer());
  if (!text.includes("notifications/cancelled")) return [];
  try {
    const body: unknown = JSON.parse(text);
    return Array.isArray(body) ? body : [body];
  } catch {
    return [];
  }
}

export function runningCalls(): RunningCalls {
  const running = new Map<string, AbortController>();
  return {
    start(c, calls) {
      const connection = c.req.raw.signal;
      if (calls.length === 0) return { abandoned: connection, done: () => {} };
      const cancelled = new AbortController();
      const keys = calls.map((call) => keyOf(c, call.id));
      for (const key of keys) running.set(key, cancelled);
      // A listener taken off when the call ends, not AbortSignal.any, whose combined signals Node 20 keeps longer.
      const closed = () => cancelled.abort();
      if (connection.aborted) closed();
      else connection.addEventListener("abort", closed, { once: true });
      return {
        abandoned: cancelled.signal,
        done() {
          connection.removeEventListener("abort", closed);
          for (const key of keys) if (running.get(key) === cancelled) running.delete(key);
        },
      };
    },
    async cancelNamedCalls(c, next) {
      for (const message of await cancellationsIn(c)) {
        const notification = CancelledNotificationSchema.safeParse(message);
        const requestId = notification.success ? notification.data.params.requestId : undefined;
        if (requestId !== undefined) running.get(keyOf(c, requestId))?.abort();
      }
      await next();
    },
  };
}
