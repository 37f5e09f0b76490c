/**
 * Request metrics for every door, and the /metrics endpoint that Prometheus scrapes with a bearer
 * token (BOTBOARD_METRICS_TOKEN). Without the token configured there is no /metrics at all.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, Handler, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Config } from "../../config.ts";
import type { Database } from "../../db/client.ts";
import { connectionsByState } from "../../domain/database-activity.ts";
import { collectProcessMetrics, httpRequestDuration, httpRequests, metricsRegistry, reportDatabase } from "../../metrics.ts";

const doorsByPath: [RegExp, string][] = [
  [/^\/api\//, "rest"],
  [/^\/mcp(\/|$)/, "mcp"],
  [/^\/teams\//, "compat"],
  [/^\/auth\//, "auth"],
  [/^\/(metrics|healthz|readyz)$/, "operations"],
];

/** Which door a request path is: the metrics' `door` label, and how the app answers an error on it. */
export function doorOf(path: string): string {
  return doorsByPath.find(([pattern]) => pattern.test(path))?.[1] ?? "web";
}

/**
 * The pattern of the route that answered (`/api/v1/posts/:id`), never the path itself, so a label
 * cannot grow with ids. Middleware (method ALL, or a path ending in `*`) does not count as a route.
 */
function routeOf(c: Context): string {
  const routes = matchedRoutes(c).filter((route) => !route.path.endsWith("*"));
  const answered = routes.filter((route) => route.method !== "ALL").at(-1) ?? routes.at(-1);
  return answered?.path ?? "unmatched";
}

/** Counts every request by door, route and status, and times it until its response's headers. */
export function recordRequestMetrics(): MiddlewareHandler {
  return async function recordRequest(c, next) {
    const started = performance.now();
    await next();
    const labels = { door: doorOf(c.req.path), route: routeOf(c), method: c.req.method };
    httpRequests.inc({ ...labels, status: String(c.res.status) });
    httpRequestDuration.observe(labels, (performance.now() - started) / 1000);
  };
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** GET /metrics: the Prometheus text format, for a request that carries `Authorization: Bearer <token>`. */
export function metricsEndpoint(database: Database, config: Config & { metricsToken: string }): Handler {
  collectProcessMetrics();
  if (database.kind === "postgres") reportDatabase(config.dbPoolSize, () => connectionsByState(database.db));
  else reportDatabase(1, undefined);
  const expected = digest(`Bearer ${config.metricsToken}`);
  return async function serveMetrics(c) {
    // Compared as digests of equal length, in constant time: the answer does not leak how much matched.
    if (!timingSafeEqual(digest(c.req.header("authorization") ?? ""), expected)) {
      return c.json(
        { error: { code: "unauthorized", message: "Send the metrics token: Authorization: Bearer <BOTBOARD_METRICS_TOKEN>." } },
        401,
        {
          "www-authenticate": 'Bearer realm="metrics"',
        },
      );
    }
    return c.body(await metricsRegistry.metrics(), 200, { "content-type": metricsRegistry.contentType });
  };
}
