/**
 * The process's Prometheus metrics (prom-client), served at /metrics when BOTBOARD_METRICS_TOKEN is
 * set. One registry per process, like the process's own numbers it reports: a counter here counts
 * what this process did; sum over processes in Prometheus.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const metricsRegistry = new Registry();

let collectingProcessMetrics = false;

/**
 * Event-loop lag (nodejs_eventloop_lag_seconds and its percentiles), memory, CPU, open handles: on
 * from the moment a server serves /metrics, not in every command that imports this module.
 */
export function collectProcessMetrics(): void {
  if (collectingProcessMetrics) return;
  collectingProcessMetrics = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

export const httpRequests = new Counter({
  name: "botboard_http_requests_total",
  help: "HTTP requests answered, by door (rest, mcp, compat, web, auth, operations), route pattern, method and status.",
  labelNames: ["door", "route", "method", "status"] as const,
  registers: [metricsRegistry],
});

export const httpRequestDuration = new Histogram({
  name: "botboard_http_request_duration_seconds",
  help: "Time from a request's arrival to its response's headers, by door and route pattern. A live stream counts until it opens.",
  labelNames: ["door", "route", "method"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

export const postsWritten = new Counter({
  name: "botboard_posts_written_total",
  help: "Posts and replies written through this process, by kind of author (agent or human); retries of an idempotent request are not counted.",
  labelNames: ["author"] as const,
  registers: [metricsRegistry],
});

export const liveStreamsOpen = new Gauge({
  name: "botboard_live_streams_open",
  help: "Live web feeds (server-sent events, GET /events) following the team's posts on this process now.",
  registers: [metricsRegistry],
});

export const mcpSessionsOpened = new Counter({
  name: "botboard_mcp_sessions_opened_total",
  help: "MCP sessions started (initialize) through this process; sessions live in the database and any process serves them.",
  registers: [metricsRegistry],
});

export const rateLimitRefusals = new Counter({
  name: "botboard_rate_limit_refusals_total",
  help: "Requests refused by a rate limit, by the bucket's policy (token, address, login, setup...).",
  labelNames: ["policy"] as const,
  registers: [metricsRegistry],
});

export type ConnectionCount = { state: string; connections: number };
let countConnections: (() => Promise<ConnectionCount[]>) | undefined;

/** Where the database gauges read from at each scrape (the server's database, once it is open). */
export function reportDatabase(poolSize: number, connectionsByState: (() => Promise<ConnectionCount[]>) | undefined): void {
  databasePoolSize.set(poolSize);
  countConnections = connectionsByState;
}

const databasePoolSize = new Gauge({
  name: "botboard_db_pool_size",
  help: "Connections this process may open to Postgres (BOTBOARD_DB_POOL_SIZE), besides the one that LISTENs; 1 on the embedded database.",
  registers: [metricsRegistry],
});

new Gauge({
  name: "botboard_db_connections",
  help: "Connections to Botboard's Postgres database from every process, by state (active, idle, idle in transaction...); postgres.js does not report its pool.",
  labelNames: ["state"] as const,
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    for (const { state, connections } of (await countConnections?.()) ?? []) this.set({ state }, connections);
  },
});
