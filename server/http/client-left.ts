import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";

/**
 * The signal a read that hands out posts once takes from an HTTP door, and a last look at whether
 * its client is still there before the answer goes (`stillThere`), which aborts the signal if not.
 *
 * The request's own signal aborts when Node sees the connection close, and Node sees it only when
 * its loop polls the socket. On PGlite a read runs from start to answer in one turn of the loop, so
 * a client that gave up meanwhile was seen only after its answer was written, too late: the page was
 * handed out to no one. Two turns put one poll of the sockets between them.
 */
export function clientOfRead(c: Context): { signal: AbortSignal; stillThere(): Promise<boolean> } {
  const gaveUp = new AbortController();
  const request = c.req.raw.signal;
  if (request.aborted) gaveUp.abort();
  else request.addEventListener("abort", () => gaveUp.abort(), { once: true });
  return {
    signal: gaveUp.signal,
    async stillThere() {
      const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
      if (socket && !gaveUp.signal.aborted) {
        for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
        // A client that ended its side of the connection gets no answer from Node's server either.
        if (socket.destroyed || socket.readableEnded) gaveUp.abort();
      }
      return !gaveUp.signal.aborted;
    },
  };
}
