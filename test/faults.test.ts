import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProxiedTestServer, type ProxiedTestServer, type TestServer } from "./support/server.ts";
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
