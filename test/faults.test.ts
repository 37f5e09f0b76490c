import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase, type Database } from "../server/db/client.ts";
import { databaseErrorAsAppError } from "../server/db/errors.ts";
import type { FreshDatabase } from "../server/db/fresh-database.ts";
import { forgetCachedTokens } from "../server/domain/agents.ts";
import { createEventHub, eventsChannel, type EventHub } from "../server/domain/events.ts";
import { logger } from "../server/logger.ts";
import {
  addAgentsIn,
  adminPostgresUrl,
  freshDatabase,
  startProxiedTestServer,
  startTestServer,
  type ProxiedTestServer,
  type TestServer,
} from "./support/server.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";
import { botboardOnFreshDatabase, serveBotboard, stop, type BotboardOnFreshDatabase, type ServedBotboard } from "./support/cli.ts";

describe("when Postgres goes away and comes back", () => {
  let proxied: ProxiedTestServer;
  let proxy: TcpProxy;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    proxied = await startProxiedTestServer();
    ({ server, proxy } = proxied);
    token = await server.agent(await server.team("faults"), "survivor");
  });
  afterAll(() => proxied?.close());

  const post = (content: string) => server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });

  it("requests fail fast with 503 while it is down, and succeed again by themselves once it is back", async () => {
    expect((await post("before the outage")).status).toBe(201);
    await proxy.cut();

    const started = Date.now();
    const during = await post("during the outage");
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("2");
    expect((await during.json()).error.code).toBe("unavailable");
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    await proxy.restore();
    let recovered: Response | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      recovered = await post("after the outage");
      if (recovered.status === 201) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(recovered!.status).toBe(201);
    const feed = await (await server.as(token, "/api/v1/posts")).json();
    expect(feed.posts.map((p: { content: string }) => p.content)).toEqual(["after the outage", "before the outage"]);
  }, 60_000);
});

describe("when Postgres is up but refuses connections to the database", () => {
  let server: TestServer;
  let admin: postgres.Sql;
  let name: string;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer("postgres");
    name = new URL(server.config.databaseUrl!).pathname.slice(1);
    admin = postgres(adminPostgresUrl, { max: 1, onnotice: () => {} });
    token = await server.agent(await server.team("refused"), "refused");
  });
  afterAll(async () => {
    // Restored so that the database can be dropped.
    await admin?.unsafe(`alter database ${name} allow_connections true`);
    await admin?.end();
    await server?.close();
  });

  const post = (content: string) => server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });

  it("allow_connections false is answered 503 with Retry-After, and the server recovers once it is true again", async () => {
    expect((await post("before")).status).toBe(201);
    await admin.unsafe(`alter database ${name} allow_connections false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    forgetCachedTokens(); // so that authentication needs the database too

    for (const request of [() => post("refused"), () => server.as(token, "/api/v1/search?q=refused")]) {
      const during = await request();
      expect(during.status).toBe(503);
      expect(during.headers.get("retry-after")).toBe("2");
      expect((await during.json()).error.code).toBe("unavailable");
    }

    await admin.unsafe(`alter database ${name} allow_connections true`);
    let recovered: Response | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      recovered = await post("after");
      if (recovered.status === 201) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(recovered!.status).toBe(201);
  }, 60_000);

  it("the same SQLSTATE from a query in a working session (currval before nextval) is a bug, not an outage", async () => {
    const failure = await server.database.db
      .transaction(async (tx) => {
        // Rolled back with the failed transaction, so the pooled session keeps no such sequence.
        await tx.execute(sql`create temporary sequence never_drawn`);
        await tx.execute(sql`select currval('never_drawn')`);
      })
      .catch((error: unknown) => error);
    expect(JSON.stringify(failure, ["code", "cause"])).toContain("55000");
    expect(databaseErrorAsAppError(failure)).toBeUndefined();
  });
});

it("a database host whose name does not resolve (a stopped container) is unavailable, not a bug", async () => {
  const unresolvable = postgres("postgres://postgres@db.invalid:5432/botboard", { max: 1, connect_timeout: 5 });
  const failure = await unresolvable`select 1`.catch((error: unknown) => error);
  await unresolvable.end();
  expect(databaseErrorAsAppError(failure)).toMatchObject({ kind: "unavailable", retryAfterSeconds: 2 });
});

/** A fresh Postgres database, and a TCP proxy in front of it: its URL direct and through the proxy. */
async function databaseBehindProxy(): Promise<{ database: FreshDatabase; name: string; proxy: TcpProxy; direct: URL; proxied: URL }> {
  const database = await freshDatabase("postgres");
  const direct = new URL(database.env.DATABASE_URL!);
  const proxy = await startTcpProxy(Number(direct.port || 5432), direct.hostname);
  const proxied = new URL(direct);
  proxied.port = String(proxy.port);
  return { database, name: direct.pathname.slice(1), proxy, direct, proxied };
}

describe("live events when Postgres refuses connections for a while", () => {
  let database: FreshDatabase;
  let proxy: TcpProxy;
  let admin: postgres.Sql;
  /** Notifies on the database itself: a NOTIFY reaches only listeners of its own database. */
  let notifier: postgres.Sql;
  let opened: Database;
  let hub: EventHub;
  let name: string;

  beforeAll(async () => {
    // The proxy only counts the server's attempts to connect: the outage is Postgres's own refusal.
    let direct: URL;
    let proxied: URL;
    ({ database, name, proxy, direct, proxied } = await databaseBehindProxy());
    opened = await openDatabase({ databaseUrl: proxied.toString(), dataDir: "" });
    hub = createEventHub(opened);
    admin = postgres(adminPostgresUrl, { max: 1, onnotice: () => {} });
    notifier = postgres(direct.toString(), { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.unsafe(`alter database ${name} allow_connections true`);
    await admin?.end();
    await notifier?.end();
    await hub?.close();
    await opened?.close();
    await proxy?.close();
    await database?.drop();
  });

  it("one reconnect is one resumption and one log line, however many attempts were refused before it", async () => {
    let events = 0;
    let resumptions = 0;
    let otherResumptions = 0;
    await hub.subscribe("team", { onEvent: () => events++, onResume: () => resumptions++ });
    // A server listens on several channels over the one LISTEN connection (token revocations, webhooks).
    await opened.listen(
      "botboard_test_other",
      () => {},
      () => otherResumptions++,
    );
    const info = vi.spyOn(logger, "info");
    const resumeLines = () =>
      info.mock.calls.filter(([, message]) => message === "listening for live events again; live feeds catch up").length;
    const notify = () => notifier`select pg_notify(${eventsChannel}, ${JSON.stringify({ type: "posts.created", teamIds: ["team"] })})`;
    /** Waits until a notification sent now gets through: every LISTEN sent before it has been answered. */
    const heard = async () => {
      const before = events;
      await vi.waitFor(
        async () => {
          await notify();
          expect(events).toBeGreaterThan(before);
        },
        { timeout: 15_000, interval: 100 },
      );
    };
    const outage = async () => {
      await admin.unsafe(`alter database ${name} allow_connections false`);
      const attempts = proxy.connections();
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
      // Refused attempts to reconnect had postgres.js queue LISTEN again and again, all answered at the reconnect.
      await vi.waitFor(() => expect(proxy.connections() - attempts).toBeGreaterThanOrEqual(10), { timeout: 15_000, interval: 50 });
      await admin.unsafe(`alter database ${name} allow_connections true`);
      await heard();
      await heard();
    };
    try {
      await outage();
      expect({ resumptions, otherResumptions, lines: resumeLines() }).toEqual({ resumptions: 1, otherResumptions: 1, lines: 1 });
      // A second outage is a second resumption: the first one's backend is not the one listening now.
      await outage();
      expect({ resumptions, otherResumptions, lines: resumeLines() }).toEqual({ resumptions: 2, otherResumptions: 2, lines: 2 });
    } finally {
      info.mockRestore();
    }
  }, 60_000);
});

describe("when Postgres ends a session in the middle of a request's transaction", () => {
  let botboard: BotboardOnFreshDatabase;
  let served: ServedBotboard;
  let admin: postgres.Sql;
  let name: string;
  let token: string;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase("postgres", { LOG_LEVEL: "warn", BOTBOARD_DB_POOL_SIZE: "2" });
    served = await botboard.serve();
    name = new URL(botboard.env.DATABASE_URL!).pathname.slice(1);
    admin = postgres(botboard.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    [token] = (await addAgentsIn(botboard.env.DATABASE_URL!, ["reader"])) as [string];
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await botboard?.close();
  });

  const unread = () => fetch(`${served.url}/api/v1/unread`, { headers: { authorization: `Bearer ${token}` } });

  it("the request is answered 503 and the process serves on (an administrator's pg_terminate_backend, a failover)", async () => {
    // Reads at once prepare their statements on both connections, as on a server that has served a while
    // (a statement's first run on a connection takes another path through the driver when it fails).
    expect(await Promise.all(Array.from({ length: 4 }, async () => (await unread()).status))).toEqual([200, 200, 200, 200]);
    // The read's transaction waits on the read positions' table, held here, until its session is ended.
    const answer = admin.begin(async (held) => {
      await held`lock table read_cursors in access exclusive mode`;
      const waiting = unread();
      await vi.waitFor(
        async () => {
          const [row] =
            await held`select count(*)::int as count from pg_stat_activity where datname = ${name} and wait_event_type = 'Lock'`;
          expect(row!.count).toBe(1);
        },
        { timeout: 10_000, interval: 50 },
      );
      await held`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
      return waiting;
    });
    expect((await answer).status).toBe(503);
    // The next reads reconnect by themselves; the process that answered is still the one serving.
    await vi.waitFor(async () => expect((await unread()).status).toBe(200), { timeout: 5_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(served.process.exitCode).toBeNull();
  }, 60_000);
});

describe("when Postgres ends a session while the server is opening it", () => {
  let database: FreshDatabase;
  let proxy: TcpProxy;
  let served: ServedBotboard;
  let admin: postgres.Sql;
  let name: string;
  let token: string;

  beforeAll(async () => {
    let direct: URL;
    let proxied: URL;
    ({ database, name, proxy, direct, proxied } = await databaseBehindProxy());
    served = await serveBotboard({ DATABASE_URL: proxied.toString(), PORT: "0", LOG_LEVEL: "warn" });
    admin = postgres(direct.toString(), { max: 1, onnotice: () => {} });
    [token] = (await addAgentsIn(direct.toString(), ["reader"])) as [string];
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    if (served) await stop(served.process);
    await proxy?.close();
    await database?.drop();
  });

  const unread = () => fetch(`${served.url}/api/v1/unread`, { headers: { authorization: `Bearer ${token}` } });
  const endSessions = () =>
    admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;

  it("the process serves on: what the driver asks as a connection opens is asked once, when the server starts", async () => {
    expect((await unread()).status).toBe(200);
    // postgres.js asks for the database's array types as a connection opens, in a query nobody awaits.
    const asked = proxy.holdNext("typcategory");
    await endSessions();
    const answer = unread();
    if ((await Promise.race([asked.then(() => "asked"), answer.then(() => "answered")])) === "asked") await endSessions();
    expect([200, 503]).toContain((await answer).status);
    await vi.waitFor(async () => expect((await unread()).status).toBe(200), { timeout: 10_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(served.process.exitCode).toBeNull();
  }, 60_000);
});
