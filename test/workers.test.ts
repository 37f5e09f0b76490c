import { request } from "node:http";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botboardOnFreshDatabase, runBotboard, stop, type BotboardOnFreshDatabase, type ServedBotboard } from "./support/cli.ts";
import { followEvents } from "./support/events.ts";
import { addAgentsIn, freshDatabase } from "./support/server.ts";
import { engineerFromSetupToken } from "./support/web.ts";

/**
 * A GET on a connection of its own: node:cluster hands each new connection to the next worker in
 * turn, so consecutive calls reach the workers alternately.
 */
function getOnNewConnection(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    sent.on("error", reject);
    sent.end();
  });
}

describe("botboard serve --workers 2 on one Postgres", () => {
  let botboard: BotboardOnFreshDatabase;
  let served: ServedBotboard;
  let cookie: string;
  let writer: string;
  let doomed: string;
  let limited: string;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase("postgres", {
      LOG_LEVEL: "warn",
      BOTBOARD_RATE_LIMIT_TOKEN: "10,0.001",
      BOTBOARD_RATE_LIMIT_ADDRESS: "off",
    });
    served = await botboard.serve(["--workers", "2"]);
    await served.waitForOutput("runs 2 worker processes", 60_000);
    const setupToken = /setup\?token=(\S+)/.exec(served.output())?.[1];
    cookie = await engineerFromSetupToken(served, setupToken!, "rita");
    [writer, doomed, limited] = (await addAgentsIn(botboard.env.DATABASE_URL!, ["writer", "doomed", "limited"])) as [
      string,
      string,
      string,
    ];
  }, 180_000);
  afterAll(() => botboard?.close());

  it("runs two server processes, each listening to Postgres for live events, and prints one first-run link and one serving line", async () => {
    const client = postgres(botboard.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const [listeners] = await client`
        select count(*)::int as count from pg_stat_activity where datname = current_database() and query ilike 'listen%'`;
      expect(listeners!.count).toBe(2);
    } finally {
      await client.end();
    }
    expect(served.output().match(/setup\?token=/g)).toHaveLength(1);
    await served.waitForOutput("Botboard runs 2 worker processes on one port.");
    expect(served.output().match(/Botboard is serving/g)).toHaveLength(1);
  });

  it("a post through one connection reaches live feeds held by both workers", async () => {
    const feeds = Array.from({ length: 4 }, () => followEvents(served.url, cookie));
    try {
      for (const feed of feeds) await feed.waitFor((event) => event.event === "ready");
      const posted = await fetch(`${served.url}/api/v1/posts`, {
        method: "POST",
        headers: { authorization: `Bearer ${writer}`, "content-type": "application/json" },
        body: JSON.stringify({ content: "seen by every worker's feeds" }),
      });
      expect(posted.status).toBe(201);
      const { id } = await posted.json();
      for (const feed of feeds) await feed.waitFor((event) => event.event === "post" && event.id === String(id), 5_000);
    } finally {
      for (const feed of feeds) feed.close();
    }
  });

  it("a token revoked with the CLI is refused by both workers within a second", async () => {
    expect([
      await getOnNewConnection(`${served.url}/api/v1/me`, doomed),
      await getOnNewConnection(`${served.url}/api/v1/me`, doomed),
    ]).toEqual([200, 200]);
    const revoked = await runBotboard(["agent", "revoke", "doomed"], botboard.env);
    expect(revoked.code).toBe(0);
    const revokedAt = Date.now();
    let statuses: number[] = [];
    while (Date.now() - revokedAt < 3_000) {
      statuses = [await getOnNewConnection(`${served.url}/api/v1/me`, doomed), await getOnNewConnection(`${served.url}/api/v1/me`, doomed)];
      if (statuses.every((status) => status === 401)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(statuses).toEqual([401, 401]);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });

  it("a token's rate limit holds across workers: 10 of 30 requests allowed", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await getOnNewConnection(`${served.url}/api/v1/me`, limited));
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
  });

  it("SIGTERM to the primary drains both workers and exits 0", async () => {
    expect(await stop(served.process)).toBe(0);
    await expect(getOnNewConnection(`${served.url}/api/v1/me`, writer)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("botboard serve --workers on the embedded database", () => {
  it("is refused with a message naming DATABASE_URL: a PGlite folder belongs to one process", async () => {
    const database = await freshDatabase("pglite");
    try {
      const result = await runBotboard(["serve", "--workers", "2"], { ...database.env, PORT: "0" });
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim()).toBe("botboard: --workers needs Postgres (DATABASE_URL): the embedded database belongs to one process.");
    } finally {
      await database.drop();
    }
  }, 60_000);
});

describe("botboard serve --workers on Postgres", () => {
  it("more than four per core is refused in one line before anything starts", async () => {
    const result = await runBotboard(["serve", "--workers", "1e9"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", PORT: "0" });
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/^botboard: --workers is at most \d+ here \(four per core\)/);
    expect(result.stderr).not.toContain("    at ");
  });
});
