import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseErrorAsAppError } from "../server/db/client.ts";
import { forgetCachedTokens } from "../server/domain/agents.ts";
import { adminPostgresUrl, startProxiedTestServer, startTestServer, type ProxiedTestServer, type TestServer } from "./support/server.ts";
import type { TcpProxy } from "./support/tcp-proxy.ts";

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
