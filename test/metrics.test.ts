import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followEvents } from "./support/events.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const metricsToken = "scrape-me-please-0123456789";

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of a Prometheus text exposition. */
function samplesOf(text: string): Sample[] {
  return text.split("\n").flatMap((line) => {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!]));
    return [{ name: match[1]!, labels, value: Number(match[3]) }];
  });
}

/** The sum of a metric's samples whose labels include `labels` (0 when there is none yet). */
function sampleSum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

describe.each(databaseKinds)("/metrics (%s)", (kind) => {
  let server: TestServer;
  let plain: TestServer;
  /** A statement of `server` that fails while set, as it would while the database is away. */
  let failing: RegExp | undefined;
  beforeAll(async () => {
    [server, plain] = await Promise.all([
      startTestServer(
        kind,
        {
          BOTBOARD_METRICS_TOKEN: metricsToken,
          BOTBOARD_RATE_LIMIT_TOKEN: "10,0.01",
          BOTBOARD_RATE_LIMIT_ADDRESS: "off",
        },
        {
          onQuery(statement) {
            if (failing?.test(statement)) throw new Error("the database went away");
          },
        },
      ),
      startTestServer(kind),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.close(), plain?.close()]);
  });

  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return samplesOf(await response.text());
  };

  it("is not served without BOTBOARD_METRICS_TOKEN, and refuses a scrape without the token", async () => {
    expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    for (const authorization of [undefined, "Bearer wrong-token-of-some-length", metricsToken]) {
      const response = await fetch(`${server.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await response.text()).not.toMatch(/botboard_/);
    }
  });

  it("counts requests by door, route and status, posts written, MCP sessions and rate-limit refusals", async () => {
    const team = await server.team("metrics");
    const [writer, mcpAgent, flooder] = await Promise.all(["writer", "mcp-agent", "flooder"].map((name) => server.agent(team, name)));
    const before = await scrape();

    for (const content of ["First.", "Second."]) {
      const response = await server.as(writer!, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
      expect(response.status).toBe(201);
    }
    expect((await server.as(writer!, "/api/v1/posts/999999")).status).toBe(404);
    const client = await connectMcp(server.url, mcpAgent!);
    expect((await callTool(client, "create_post", { content: "From MCP." })).isError).toBeFalsy();
    await client.close();
    const floodStatuses: number[] = [];
    for (let request = 0; request < 14; request++) floodStatuses.push((await server.as(flooder!, "/api/v1/posts")).status);
    const refused = floodStatuses.filter((status) => status === 429).length;
    expect(refused).toBeGreaterThan(0);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => sampleSum(after, name, labels) - sampleSum(before, name, labels);
    const postsRoute = { door: "rest", route: "/api/v1/posts", method: "POST" };
    expect(moved("botboard_http_requests_total", { ...postsRoute, status: "201" })).toBe(2);
    expect(moved("botboard_http_request_duration_seconds_count", postsRoute)).toBe(2);
    expect(moved("botboard_http_requests_total", { door: "rest", route: "/api/v1/posts/:id", status: "404" })).toBe(1);
    expect(moved("botboard_http_requests_total", { door: "mcp", method: "POST", status: "200" })).toBeGreaterThanOrEqual(2);
    expect(moved("botboard_http_requests_total", { door: "rest", status: "429" })).toBe(refused);
    expect(moved("botboard_posts_written_total", { author: "agent" })).toBe(3);
    expect(moved("botboard_mcp_sessions_opened_total")).toBe(1);
    expect(moved("botboard_rate_limit_refusals_total", { policy: "token" })).toBe(refused);
  });

  it("reports live streams open, the database pool and event-loop lag", async () => {
    const team = await server.team("watchers");
    const cookie = await server.engineer(team, "watcher");
    // The gauge is the process's: another server of this worker may count a stream of its own.
    const liveStreams = async () => sampleSum(await scrape(), "botboard_live_streams_open");
    const before = await liveStreams();
    const stream = followEvents(server.url, cookie, { reconnect: false });
    try {
      await stream.waitFor((event) => event.event === "ready");
      expect(await liveStreams()).toBe(before + 1);
    } finally {
      stream.close();
    }
    await expect.poll(liveStreams).toBe(before);

    // A stream whose database read fails ends, and stops following the team.
    failing = /^select "sessions"\."id" from "sessions" inner join "users"/;
    const broken = followEvents(server.url, cookie, { reconnect: false });
    try {
      await expect.poll(() => broken.ended).toBe(true);
    } finally {
      failing = undefined;
      broken.close();
    }
    await expect.poll(liveStreams).toBe(before);

    const samples = await scrape();
    expect(samples.some((sample) => sample.name === "nodejs_eventloop_lag_seconds")).toBe(true);
    if (kind === "postgres") {
      expect(sampleSum(samples, "botboard_db_pool_size")).toBe(server.config.dbPoolSize);
      // Postgres sees this server's pool and its LISTEN connection, at least one of them idle.
      expect(sampleSum(samples, "botboard_db_connections")).toBeGreaterThanOrEqual(2);
      expect(sampleSum(samples, "botboard_db_connections", { state: "idle" })).toBeGreaterThanOrEqual(1);
    } else {
      expect(sampleSum(samples, "botboard_db_pool_size")).toBe(1);
    }
  });
});
