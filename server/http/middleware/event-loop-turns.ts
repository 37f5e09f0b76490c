/**
 * Requests share the event loop's turns on PGlite, where the database runs in the server's own thread.
 *
 * There a request's statements never wait on a socket, so every request read in one turn of the
 * event loop ran to its end before the loop looked at its sockets again. Fifty agents reading
 * `/unread` at once made turns of about 200 ms, and Node took one new connection per turn
 * (measured): the twentieth agent to connect to that busy server waited 4-5 s for its first answer
 * although each request took 4 ms. So a request starts in the current turn only while the requests
 * started in it have run for less than `turnBudgetMs`; later ones wait for the next turn, in the
 * order they came (docs/decisions/053-pglite-event-loop-turns.md).
 */
import type { MiddlewareHandler } from "hono";
import { setImmediate as nextTurnOfEventLoop } from "node:timers/promises";

/** How long the requests started in one turn may run before the rest wait for the next. */
export const turnBudgetMs = 10;

export function shareEventLoopTurns(): MiddlewareHandler {
  let turnStartedAt: number | undefined;
  return async function shareEventLoopTurns(_c, next) {
    for (;;) {
      const now = performance.now();
      if (turnStartedAt === undefined) {
        turnStartedAt = now;
        // Runs when the loop comes round to its next turn: requests from then on count anew.
        setImmediate(() => {
          turnStartedAt = undefined;
        });
        break;
      }
      if (now - turnStartedAt < turnBudgetMs) break;
      await nextTurnOfEventLoop();
    }
    await next();
  };
}
