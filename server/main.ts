import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { forgetCachedTokens, tokenRevocationChannel } from "./domain/agents.ts";
import { createApp } from "./app.ts";
import { realignDeliveryOrder } from "./domain/delivery.ts";
import { createEventHub } from "./domain/events.ts";
import { cacheFeedFirstPages } from "./domain/feed-cache.ts";
import { wakeUpsSent } from "./domain/post-announcements.ts";
import { sweepNowAndThen } from "./domain/housekeeping.ts";
import { startWebhookWorker } from "./domain/webhook-delivery.ts";
import { limitExpensiveQueries } from "./domain/expensive-queries.ts";
import { embedInBackground } from "./domain/embedding-queue.ts";
import { useSemanticSearch } from "./domain/semantic-search.ts";
import { deriveMissingSearchTerms } from "./domain/search-backfill.ts";
import { configureLogger, logger } from "./logger.ts";
import { ensureFirstTeam, firstRunSetupLink } from "./domain/bootstrap.ts";
import { type Config, listeningOn } from "./config.ts";
import { listenOn } from "./listen-address.ts";
import { openDatabase, type Database, type DatabaseOptions } from "./db/client.ts";
import { serveAdminSocket } from "./cli/admin-socket.ts";
import { cancelledCallsChannel, hearCancellations } from "../mcp/cancelled-calls.ts";

const shutdownGraceMs = 10_000;

export type RunningServer = {
  url: string;
  /** The address people and agents use: BOTBOARD_PUBLIC_URL, or localhost on the port listened on. */
  publicUrl: string;
  database: Database;
  setupLink: string | undefined;
  close(): Promise<void>;
};

export type StartOptions = Pick<DatabaseOptions, "onQuery"> & {
  /**
   * On a database with no engineer yet, make a one-time link for the first admin (`setupLink`). Only
   * for a server that shows it: each link is a live invite until it expires.
   */
  offerSetupLink?: boolean;
};

/** Opens the database, applies migrations, and serves the app; resolves once it is listening. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  configureLogger(config.logLevel);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    directDatabaseUrl: config.directDatabaseUrl,
    dataDir: config.dataDir,
    poolSize: config.dbPoolSize,
    readTimeoutMs: config.readTimeoutMs,
    onQuery: options.onQuery,
  });
  limitExpensiveQueries(database.db, config.searchConcurrency);
  try {
    await database.migrate();
    const derived = await deriveMissingSearchTerms(database.db);
    if (derived > 0) logger.info({ rows: derived }, "derived the search terms of posts and journal entries written without them");
    const realigned = await realignDeliveryOrder(database.db);
    if (realigned > 0) logger.warn({ posts: realigned }, "posts came from another Postgres cluster; delivery order realigned");
    // Revocations announced while the listener was away are missed: forget every cached token then too.
    const stopListening = await database.listen(tokenRevocationChannel, forgetCachedTokens, forgetCachedTokens);
    const stopHearingCancellations = await database.listen(cancelledCallsChannel, hearCancellations(database.db));
    const hub = createEventHub(database);
    cacheFeedFirstPages(database.db, hub);
    const server = await listen(config);
    const address = server.address() as AddressInfo;
    // With PORT=0 the system chose the port: what this process prints and sends names it. The app keeps
    // PORT=0's rule, links naming the address each request used (reachableUrlOf).
    const served = listeningOn(config, address.port);
    server.on("request", getRequestListener(createApp(database, config, hub).fetch, { hostname: config.host }));
    const closeConnectionsWithoutRequests = trackConnectionsWithoutRequests(server);
    await ensureFirstTeam(database.db);
    const setupLink = options.offerSetupLink ? await firstRunSetupLink(database.db, served.publicUrl) : undefined;
    const adminSocket = database.kind === "pglite" ? await serveAdminSocket(database, served) : undefined;
    const sweeper = sweepNowAndThen(database.db, served);
    const webhookWorker = await startWebhookWorker(database, served.webhooks);
    const embedder = served.embeddings ? embedInBackground(database.db, useSemanticSearch(database.db, served.embeddings)) : undefined;
    return {
      url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
      publicUrl: served.publicUrl,
      database,
      setupLink,
      async close() {
        adminSocket?.close();
        clearInterval(sweeper);
        await webhookWorker.stop();
        await embedder?.stop();
        await stopListening();
        await stopHearingCancellations();
        // Stop accepting, end the live feeds (they never go idle), let requests in flight finish,
        // and only cut what is still open after the grace period.
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.close();
        server.closeIdleConnections();
        closeConnectionsWithoutRequests();
        const grace = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
        await drained;
        clearTimeout(grace);
        await wakeUpsSent(database.db);
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * How long an idle keep-alive connection stays open: longer than the reverse proxies' and load
 * balancers' own idle timeouts (Caddy keeps upstream connections 2 minutes, most balancers 1), so
 * they close first. With Node's default of 5 s, a proxy, or a client whose timers a busy moment
 * delayed, could send a request just as the server closed the connection, and get a reset (a 502
 * through a proxy). Clients that read the Keep-Alive hint (timeout=150) close a little before it.
 */
const idleConnectionMs = 150_000;

function listen(config: Config): Promise<Server> {
  const server = createServer();
  server.keepAliveTimeout = idleConnectionMs;
  return listenOn(server, config);
}

/**
 * For the shutdown: closes the connections on which no request has arrived yet. Node's
 * closeIdleConnections leaves them open (a client's spare connection, opened ahead of a request it
 * may never send), and the drain would wait the whole grace period for them.
 */
function trackConnectionsWithoutRequests(server: Server): () => void {
  const withoutRequests = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    withoutRequests.add(socket);
    socket.once("close", () => withoutRequests.delete(socket));
  });
  server.on("request", (request: IncomingMessage) => withoutRequests.delete(request.socket));
  return () => {
    for (const socket of withoutRequests) if (socket.bytesRead === 0) socket.destroy();
  };
}
