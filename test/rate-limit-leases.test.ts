import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leaseSizeOf } from "../server/domain/rate-limits.ts";
import { serveBotboard, stop, type ServedBotboard } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/**
 * Decision 028: a process takes a slice (a lease) of a shared bucket in one statement and spends it
 * locally; decision 042: a process alone with its database (PGlite) keeps its buckets in memory.
 * These rules refill so slowly (one try in 1,000 s) that every count below is exact.
 */
const leasedRule = "80,0.001";
const bucketWrites = /insert into rate_limit_buckets/;

const me = async (url: string, token: string) => {
  const response = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return response;
};

describe.each(databaseKinds)("rate-limit leases on %s", (kind) => {
  let server: TestServer;
  let statements: string[] = [];
  beforeAll(async () => {
    server = await startTestServer(
      kind,
      { BOTBOARD_RATE_LIMIT_TOKEN: leasedRule, BOTBOARD_RATE_LIMIT_ADDRESS: "off" },
      { onQuery: (statement) => statements.push(statement) },
    );
  }, 120_000);
  afterAll(() => server?.close());

  it("a process spends an 80-try bucket with a statement per ten tries, or none on PGlite, counting down one a request", async () => {
    const token = await server.agent(await server.team("sequential"), "steady");
    statements = [];
    const remaining: number[] = [];
    for (let i = 0; i < 30; i++) {
      const response = await me(server.url, token);
      expect(response.status).toBe(200);
      remaining.push(Number(/r=(\d+)/.exec(response.headers.get("ratelimit") ?? "")?.[1]));
    }
    // Ten tries a lease where processes share the bucket; PGlite's one process keeps its buckets in memory.
    expect(statements.filter((statement) => bucketWrites.test(statement))).toHaveLength(kind === "pglite" ? 0 : 3);
    // The headers count down one a request, as without leases: the shared bucket plus the unspent lease.
    expect(remaining).toEqual(Array.from({ length: 30 }, (_, index) => 79 - index));
  });

  it("a hundred requests at once against 80 tries: exactly 80 allowed, the rest refused with Retry-After", async () => {
    const token = await server.agent(await server.team("concurrent"), "bursty");
    statements = [];
    const responses = await Promise.all(Array.from({ length: 100 }, () => me(server.url, token)));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(80);
    const refused = responses.filter((response) => response.status === 429);
    expect(refused).toHaveLength(20);
    for (const response of refused) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    // At most eight leases of ten, and one statement for each refusal (the bucket is read back to say when to retry).
    expect(statements.filter((statement) => bucketWrites.test(statement)).length).toBeLessThanOrEqual(8 + 20);
  });
});

describe.each(databaseKinds)("a lease held through a pause on %s", (kind) => {
  let server: TestServer;
  // Ten tries, refilled in 2 s: leases of one try on Postgres, a bucket in memory on PGlite.
  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "10,5", BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
  }, 60_000);
  afterAll(() => server?.close());

  it("is not spent on top of the bucket the pause refilled: a burst after it gets the burst's ten tries", async () => {
    const token = await server.agent(await server.team("paused"), "pausing");
    expect((await me(server.url, token)).status).toBe(200);
    // As long as the bucket takes to fill again: whatever the process holds, the burst is the bucket's.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const startedAt = performance.now();
    const responses = await Promise.all(Array.from({ length: 40 }, () => me(server.url, token)));
    const refilledDuringBurst = Math.ceil(((performance.now() - startedAt) / 1000) * 5);
    const allowed = responses.filter((response) => response.status === 200).length;
    // Ten, and what refills while the burst runs (5 a second, however long a busy machine makes it);
    // nine tries held over the pause would make nine more than that.
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(allowed).toBeLessThanOrEqual(10 + refilledDuringBurst + 1);
  });
});

describe("rate-limit leases of two server processes on one Postgres", () => {
  let first: TestServer;
  let second: ServedBotboard;
  const limits = { BOTBOARD_RATE_LIMIT_TOKEN: "40,0.001", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };

  beforeAll(async () => {
    first = await startTestServer("postgres", limits);
    second = await serveBotboard({ ...limits, PORT: "0", LOG_LEVEL: "warn", DATABASE_URL: first.config.databaseUrl! });
  }, 60_000);
  afterAll(async () => {
    if (second) await stop(second.process);
    await first?.close();
  });

  it("alternating requests spend leases of five from one bucket of 40: 40 allowed in all, 20 by each", async () => {
    const token = await first.agent(await first.team("alternating"), "alternating");
    const backends = [first.url, second.url];
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await me(backends[i % 2]!, token)).status);
    const allowedBy = backends.map((_, b) => statuses.filter((status, i) => i % 2 === b && status === 200).length);
    expect(allowedBy).toEqual([20, 20]);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
  });

  it("fifty requests at once on each process: the bucket's 40 tries and not one more, none lost in a lease", async () => {
    const token = await first.agent(await first.team("flooding"), "flooding");
    const responses = await Promise.all([first.url, second.url].flatMap((url) => Array.from({ length: 50 }, () => me(url, token))));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(40);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(60);
  });
});

describe("lease sizes", () => {
  it("an eighth of the burst, at most 16 tries, and one try for buckets of fewer than 16", () => {
    expect(leaseSizeOf({ capacity: 120, perSecond: 20 })).toBe(15);
    expect(leaseSizeOf({ capacity: 300, perSecond: 50 })).toBe(16);
    expect(leaseSizeOf({ capacity: 1_000_000, perSecond: 1_000_000 })).toBe(16);
    expect(leaseSizeOf({ capacity: 10, perSecond: 0.01 })).toBe(1);
    expect(leaseSizeOf({ capacity: 3, perSecond: 0.2 })).toBe(1);
  });
});
