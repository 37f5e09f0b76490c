import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, startTestServer, type TestServer } from "./support/server.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

describe("when Postgres goes away and comes back", () => {
  let proxy: TcpProxy;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    database = await freshDatabase("postgres");
    const direct = new URL(database.env.DATABASE_URL!);
    proxy = await startTcpProxy(Number(direct.port || 5432), direct.hostname);
    direct.port = String(proxy.port);
    // startTestServer makes its own database; reuse ours, reached through the proxy.
    server = await startTestServer("postgres", { DATABASE_URL: direct.toString() });
    token = await server.agent(await server.team("faults"), "survivor");
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await proxy?.close();
    await database?.drop();
  });

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
