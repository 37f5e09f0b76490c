/**
 * The request body limit, answered so the client can read the refusal.
 *
 * A client sends its whole body before it reads the answer. Answering 413 on the declared length
 * alone and leaving the rest unread broke the connection two ways: closing it made the client's
 * writes fail (EPIPE) before it read the 413, and keeping it open let the server's clean-up close it
 * under the client's next request. So a refused body is read and dropped up to a bound, like a web
 * server's lingering close, and the connection is closed whenever it could not be read to its end.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { AppError } from "../../domain/errors.ts";

/** What a refused body may still cost to read: more than this, or slower, and the connection closes. */
const discardBytes = 16 * 1024 * 1024;
const discardMs = 2_000;

export function limitBodySize(maxBytes: number): MiddlewareHandler {
  const refuse = async (c: Context): Promise<never> => {
    if (!(await readToEnd(c.req.raw.body, discardBytes, discardMs))) c.header("Connection", "close");
    throw new AppError("too_large", `The request body is over ${maxBytes} bytes.`);
  };
  const limitStreamedBody = bodyLimit({ maxSize: maxBytes, onError: refuse });
  return async function limitBodySize(c, next) {
    // Looking at `c.req.raw.body` makes @hono/node-server build a web Request and a stream over the
    // socket, which then carry the body; without them it reads the body straight from Node (about a
    // tenth of a feed request's CPU). So the stream is only looked at when no declared length decides.
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const declaredLength = c.req.header("content-length");
    if (declaredLength !== undefined && c.req.header("transfer-encoding") === undefined) {
      return Number.parseInt(declaredLength, 10) > maxBytes ? refuse(c) : next();
    }
    return limitStreamedBody(c, next);
  };
}

/** Reads and drops a body; true when it ended within the bounds (the connection can be reused). */
async function readToEnd(body: ReadableStream<Uint8Array> | null, maxBytes: number, maxMs: number): Promise<boolean> {
  // A body the limit already read from (sent without a length) cannot be read again.
  if (!body || body.locked) return false;
  const reader = body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => undefined);
  }, maxMs);
  try {
    for (let read = 0; read <= maxBytes; ) {
      const chunk = await reader.read();
      if (chunk.done) return !timedOut;
      read += chunk.value.byteLength;
    }
    await reader.cancel();
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
