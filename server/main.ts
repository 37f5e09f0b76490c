import { existsSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { getRequestListener, serve } from "@hono/node-server";
import { Hono } from "hono";
import { forgetCachedTokens, tokenRevocationChannel } from "./agents.ts";
import { createApp } from "./app.ts";
import { realignDeliveryOrder } from "./delivery.ts";
import { createEventHub } from "./events.ts";
import { sweepNowAndThen } from "./housekeeping.ts";
import { configureLogger, logger } from "./logger.ts";
import { firstRunSetupLink } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { openDatabase, type Database, type DatabaseOptions } from "./db/client.ts";
import { errorResponse } from "./routes/http.ts";
import { isOperationName, operations } from "./operations.ts";

const shutdownGraceMs = 10_000;

export type RunningServer = {
  url: string;
  database: Database;
  setupLink: string | undefined;
  close(): Promise<void>;
};

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, "botboard.sock");
}

/** Opens the database, applies migrations, and serves the app; resolves once it is listening. */
export async function startServer(config: Config, observe: Pick<DatabaseOptions, "onQuery"> = {}): Promise<RunningServer> {
  configureLogger(config.logLevel);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.dbPoolSize,
    onQuery: observe.onQuery,
  });
  try {
    await database.migrate();
    const realigned = await realignDeliveryOrder(database.db);
    if (realigned > 0) logger.warn({ posts: realigned }, "posts came from another Postgres cluster; delivery order realigned");
    // Revocations announced while the listener was away are missed: forget every cached token then too.
    const stopListening = await database.listen(tokenRevocationChannel, forgetCachedTokens, forgetCachedTokens);
    const setupLink = await firstRunSetupLink(database.db, config.publicUrl);
    const hub = createEventHub(database);
    const app = createApp(database, config, hub);
    const server = await listen(app, config);
    const address = server.address() as AddressInfo;
    const adminSocket = database.kind === "pglite" ? await serveAdminSocket(database, config) : undefined;
    const sweeper = sweepNowAndThen(database.db, config);
    return {
      url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
      database,
      setupLink,
      async close() {
        adminSocket?.close();
        clearInterval(sweeper);
        await stopListening();
        // Stop accepting, end the live feeds (they never go idle), let requests in flight finish,
        // and only cut what is still open after the grace period.
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.close();
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
        await drained;
        clearTimeout(grace);
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

function listen(app: Hono, config: Config): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(server as Server));
    server.once("error", reject);
  });
}

/**
 * The embedded database belongs to one process, so while the server runs, `botboard agent add` and
 * friends ask it over a Unix socket in the data folder (only the folder's owner can reach it).
 */
async function serveAdminSocket(database: Database, config: Config): Promise<Server> {
  const path = adminSocketPath(config.dataDir);
  if (existsSync(path)) rmSync(path);
  const admin = new Hono();
  admin.onError(errorResponse);
  admin.post("/operations/:name", async (c) => {
    const name = c.req.param("name");
    if (!isOperationName(name)) return c.json({ error: { code: "not_found", message: `No operation ${name}.` } }, 404);
    const input = await c.req.json();
    const run = operations[name] as (context: unknown, input: unknown) => Promise<unknown>;
    return c.json({ result: await run({ db: database.db, publicUrl: config.publicUrl }, input) });
  });
  const server = createHttpServer(getRequestListener(admin.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path, readableAll: false, writableAll: false }, resolve);
  });
  return server;
}
