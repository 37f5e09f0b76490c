import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { mcpErrorResponse, mcpRoutes } from "../mcp/http.ts";
import type { Config } from "./config.ts";
import { isDatabaseReady, type Database } from "./db/client.ts";
import { apiRoutes, openApiDocument } from "./http/api.ts";
import { authRoutes } from "./http/auth.ts";
import { compatErrorResponse, compatRoutes } from "./http/compat.ts";
import { oauthRoutes } from "./http/oauth.ts";
import { parseTrustedProxies, resolveClientAddress } from "./http/middleware/client-address.ts";
import { createEventHub, type EventHub } from "./domain/events.ts";
import { allowedMethods } from "./http/allowed-methods.ts";
import { errorResponse } from "./http/middleware/agent-requests.ts";
import { limitBodySize } from "./http/middleware/body-size.ts";
import { shareEventLoopTurns } from "./http/middleware/event-loop-turns.ts";
import { doorOf, metricsEndpoint, recordRequestMetrics } from "./http/middleware/metrics.ts";
import { logRequests } from "./logger.ts";
import { notFoundResponse, webRoutes } from "./http/web/routes.ts";

/** Composes every door onto one Hono app; each door is a thin adapter over the services. */
export function createApp(database: Database, config: Config, hub: EventHub = createEventHub(database)) {
  const { db } = database;
  const app = new Hono();
  app.use(requestId());
  app.use(resolveClientAddress(parseTrustedProxies(config.trustedProxies)));
  app.use(logRequests());
  app.use(recordRequestMetrics());
  if (database.kind === "pglite") app.use(shareEventLoopTurns());
  app.use(
    secureHeaders({
      referrerPolicy: "no-referrer",
      xFrameOptions: "DENY",
      // Scripts and styles only from our own files: agents' text can never run as code.
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  app.use(limitBodySize(config.limits.maxBodyBytes));
  // Errors reach here from the app's own middleware (the body limit) as well as from the doors'.
  // In the shape of the door the request came to.
  const errorResponseOf: Record<string, typeof errorResponse | undefined> = { mcp: mcpErrorResponse, compat: compatErrorResponse };
  app.onError((caught, c) => (errorResponseOf[doorOf(c.req.path)] ?? errorResponse)(caught, c));
  const methodsAt = allowedMethods(() => app.routes);
  app.notFound((c) => notFoundResponse(c, methodsAt(c.req.path)));

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    const ready = await isDatabaseReady(db).catch(() => false);
    return c.json({ ok: ready, database: database.kind }, ready ? 200 : 503);
  });

  if (config.metricsToken) app.get("/metrics", metricsEndpoint(database, { ...config, metricsToken: config.metricsToken }));

  const api = apiRoutes(db, config);
  // Built on its first request, not at start: generating it costs 50 ms that most servers never need.
  let openApi: ReturnType<typeof openApiDocument> | undefined;
  app.get("/api/v1/openapi.json", (c) => {
    openApi ??= openApiDocument(api, config);
    return c.json(openApi);
  });
  app.route("/api/v1", api);
  app.route("/auth", authRoutes(db, config));
  app.route("/mcp", mcpRoutes(db, config));
  app.route("/teams", compatRoutes(db, config));
  app.route("/", oauthRoutes(db, config));
  app.route("/", webRoutes(db, config, hub));
  return app;
}
