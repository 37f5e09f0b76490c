import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../server/db/client.ts";
import type { RunningServer } from "../server/main.ts";
import { authenticateAgentToken, forgetCachedTokens } from "../server/domain/agents.ts";
import { createPost, deletePost } from "../server/domain/posts.ts";
import type { Team } from "../server/domain/teams.ts";
import { validateSession } from "../server/domain/users.ts";
import { launchChromium } from "./support/browser.ts";
import { followEvents, type EventFollower, type SentEvent } from "./support/events.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { adminPostgresUrl, startProxiedTestServer, startTestServer, type ProxiedTestServer, type TestServer } from "./support/server.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

const eventuallyMs = 15_000;

async function eventually<T>(attempt: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + eventuallyMs;
  for (;;) {
    const result = await attempt().catch(() => undefined);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${eventuallyMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const postIdsIn = (feed: EventFollower) => feed.events.filter((event) => event.event === "post").map((event) => Number(event.id));

describe("Postgres cut off from a running server (live feeds, MCP, other processes)", () => {
  let proxied: ProxiedTestServer;
  let proxy: TcpProxy;
  /** Reaches Postgres through the proxy, which the test cuts. */
  let server: TestServer;
  /** A second process on the same database that keeps reaching it directly. */
  let other: RunningServer;
  let team: Team;
  let token: string;
  let cookie: string;

  beforeAll(async () => {
    proxied = await startProxiedTestServer();
    ({ server, proxy } = proxied);
    other = await server.replica({ DATABASE_URL: proxied.directUrl, LOG_LEVEL: "silent" });
    team = await server.team("outage");
    token = await server.agent(team, "writer");
    cookie = await server.engineer(team, "watcher");
  }, 120_000);
  afterAll(async () => {
    await other?.close();
    await proxied?.close();
  });

  const postThrough = async (url: string, content: string): Promise<number> => {
    const response = await fetch(`${url}/api/v1/posts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    if (response.status !== 201) throw new Error(`post: ${response.status}`);
    return (await response.json()).id;
  };

  it("fails fast with 503 on every door, recovers by itself, and live feeds get every post written meanwhile", async () => {
    const staysOpen = followEvents(server.url, cookie);
    const reconnects = followEvents(server.url, cookie);
    await Promise.all([staysOpen, reconnects].map((feed) => feed.waitFor((event) => event.event === "ready")));
    const before = await postThrough(server.url, "before the outage");
    await Promise.all([staysOpen, reconnects].map((feed) => feed.waitFor((event) => event.id === String(before))));
    const mcp = await connectMcp(server.url, token);

    await proxy.cut();
    // The second feed's browser loses its connection during the outage and comes back later with Last-Event-ID.
    reconnects.close();
    forgetCachedTokens(); // as a second later, when the token cache has expired: auth needs the database

    const doors: [string, () => Promise<Response>][] = [
      [
        "REST post",
        () =>
          fetch(`${server.url}/api/v1/posts`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: '{"content":"lost"}',
          }),
      ],
      ["REST feed", () => fetch(`${server.url}/api/v1/posts`, { headers: { authorization: `Bearer ${token}` } })],
      ["web page", () => fetch(`${server.url}/`, { headers: { cookie } })],
      ["live feed", () => fetch(`${server.url}/events`, { headers: { cookie, accept: "text/event-stream" } })],
      [
        "MCP",
        () =>
          fetch(`${server.url}/mcp`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
            },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
          }),
      ],
      ["compat", () => fetch(`${server.url}/teams/outage/posts`, { headers: { "x-api-key": token } })],
    ];
    for (const [door, request] of doors) {
      const started = Date.now();
      const response = await request();
      expect([door, response.status]).toEqual([door, 503]);
      expect(response.headers.get("retry-after"), door).toBe("2");
      expect(Date.now() - started, door).toBeLessThan(6_000);
    }

    // Meanwhile the other process still reaches Postgres, and people keep posting through it.
    const during = [await postThrough(other.url, "during the outage 1"), await postThrough(other.url, "during the outage 2")];
    await proxy.restore();

    // Without a restart: the server answers again, and its LISTEN is back (a post through the other process arrives live).
    await eventually(async () => ((await fetch(`${server.url}/readyz`)).status === 200 ? true : undefined), "ready again");
    const fresh = await callTool(mcp, "read_posts", { limit: 10 });
    expect(fresh.isError).toBeFalsy();
    const after = await postThrough(other.url, "after the outage");
    await staysOpen.waitFor((event) => event.id === String(after), eventuallyMs);
    expect(postIdsIn(staysOpen)).toEqual([before, ...during, after]);

    const back = followEvents(server.url, cookie, { lastEventId: String(before) });
    await back.waitFor((event) => event.id === String(after), eventuallyMs);
    expect(postIdsIn(back)).toEqual([...during, after]);

    for (const feed of [staysOpen, back]) feed.close();
    await mcp.close();
  }, 90_000);

  it("a browser whose live feed is refused during the outage comes back by itself and shows what it missed", async () => {
    // The browser reaches the server through a second proxy, so the test can break its stream.
    const httpProxy = await startTcpProxy(Number(new URL(server.url).port));
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      const [name, value] = cookie.split("=") as [string, string];
      await context.addCookies([{ name, value, domain: "127.0.0.1", path: "/" }]);
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${httpProxy.port}/`);
      await page.waitForSelector("body[data-live-ready]");
      const seen = await postThrough(server.url, "seen live in the browser");
      await page.waitForSelector(`#post-${seen}`);

      await proxy.cut();
      // EventSource reconnects by itself, gets a 503 (no database) and would stay closed: the page must try again.
      const refused = page.waitForResponse((response) => response.url().includes("/events") && response.status() === 503, {
        timeout: 10_000,
      });
      await httpProxy.cut();
      await httpProxy.restore();
      await refused;
      const missed = await postThrough(other.url, "written while the browser was cut off");
      await proxy.restore();
      await page.waitForSelector(`#post-${missed}`, { timeout: eventuallyMs });
      await page.waitForSelector("body[data-live-ready]");
    } finally {
      await browser.close();
      await httpProxy.close();
    }
  }, 90_000);

  it("a client that hangs up mid-request leaves no half post, and live feeds of both processes get exactly what committed", async () => {
    const feeds = [followEvents(server.url, cookie, { reconnect: false }), followEvents(other.url, cookie, { reconnect: false })];
    const client = postgres(proxied.directUrl, { max: 1, onnotice: () => {} });
    try {
      for (const feed of feeds) await feed.waitFor((event) => event.event === "ready");
      const attempts = 40;
      for (let index = 0; index < attempts; index++) {
        const controller = new AbortController();
        const request = fetch(`${server.url}/api/v1/posts`, {
          method: "POST",
          signal: controller.signal,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ content: `abandoned ${index}`, tags: ["abandoned"] }),
        }).catch(() => undefined);
        // Abort at a different moment each time: before the body is sent, during the insert, after it.
        setTimeout(() => controller.abort(), index % 10);
        await request;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const rows = await client<{ id: number; content: string; tags: string[]; team_id: string; root_id: number | null }[]>`
        select id::int, content, tags, team_id::text, root_id::int from posts where content like 'abandoned %' order by id`;
      for (const row of rows) expect(row).toMatchObject({ tags: ["abandoned"], team_id: team.id, root_id: null });
      expect(new Set(rows.map((row) => row.content)).size).toBe(rows.length);
      // Every committed post reached each live feed once, and nothing that did not commit did.
      const committed = rows.map((row) => row.id);
      for (const feed of feeds) {
        await feed.waitUntil(() => postIdsIn(feed).length >= committed.length, eventuallyMs);
        expect(postIdsIn(feed).sort()).toEqual([...committed].sort());
      }
      const feed = await (await server.as(token, "/api/v1/posts?tag=abandoned&limit=100")).json();
      expect(feed.posts.length).toBe(rows.length);
    } finally {
      for (const feed of feeds) feed.close();
      await client.end();
    }
  });

  it("twenty concurrent retries with one Idempotency-Key make one post", async () => {
    const send = () =>
      fetch(`${server.url}/api/v1/posts`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": "deploy-42" },
        body: JSON.stringify({ content: "deployed build 42", tags: ["deploy"] }),
      });
    const responses = await Promise.all(Array.from({ length: 20 }, send));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(19);
    const ids = new Set(await Promise.all(responses.map(async (response) => (await response.json()).id)));
    expect(ids.size).toBe(1);
    const feed = await (await server.as(token, "/api/v1/posts?tag=deploy")).json();
    expect(feed.posts).toHaveLength(1);
  });
});

describe("a server whose LISTEN connection Postgres ends (the embedded database has none)", () => {
  const heldConnections = 4;
  let server: TestServer;
  let admin: postgres.Sql;
  /** A connection of the test's own, opened before the server's LISTEN is kept out: changes made through it are announced to no one. */
  let held: Database;
  let name: string;

  beforeAll(async () => {
    server = await startTestServer("postgres");
    name = new URL(server.config.databaseUrl!).pathname.slice(1);
    admin = postgres(adminPostgresUrl, { max: 1, onnotice: () => {} });
    held = await openDatabase({ databaseUrl: server.config.databaseUrl, dataDir: "", poolSize: heldConnections });
    // All of them open now, at once: none can be opened while the database refuses connections.
    await Promise.all(Array.from({ length: heldConnections }, () => held.db.execute(sql`select pg_sleep(0.1)`)));
  });
  afterAll(async () => {
    await admin?.unsafe(`alter database ${name} allow_connections true`);
    await admin?.end();
    await held?.close();
    await server?.close();
  });

  /** Ends the server's LISTEN backend and keeps it from listening again until `meanwhile` has run. */
  const withoutListener = async (meanwhile: () => Promise<void>) => {
    await admin.unsafe(`alter database ${name} allow_connections false`);
    try {
      const ended = await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and query ilike 'listen %'`;
      expect(ended).toHaveLength(1);
      await meanwhile();
    } finally {
      await admin.unsafe(`alter database ${name} allow_connections true`);
    }
  };

  const eventsFor = (events: SentEvent[], kind: string, id: number) =>
    events.filter((event) => event.event === kind && (event.id ?? (JSON.parse(event.data) as { id: number }).id.toString()) === String(id));

  it("an open stream gets, once the server listens again, the removals made while it did not, each once and after its post", async () => {
    const team = await server.team("listener-gap");
    const [moderatorCookie, watcher] = await Promise.all([server.engineer(team, "mona", "admin"), server.engineer(team, "wes", "member")]);
    const token = await server.agent(team, "writer");
    const { db } = held;
    const writer = (await authenticateAgentToken(db, token))!;
    const { caller: moderator } = (await validateSession(db, moderatorCookie.split("=")[1]!))!;
    const post = async (content: string) => (await createPost(db, writer, { content })).post.id;

    // A first request may meet a kept-alive connection the server has closed meanwhile, and is made again;
    // from the first answer on, the stream must not need another.
    const stream = followEvents(server.url, watcher);
    try {
      await stream.waitFor((event) => event.event === "ready");
      const [kept, removedLive, removedInGap] = [await post("kept"), await post("removed live"), await post("removed while not listening")];
      await stream.waitFor((event) => event.id === String(removedInGap));
      await deletePost(db, moderator, removedLive);
      await stream.waitFor((event) => event.event === "post-updated");

      let written = 0;
      let writtenThenRemoved = 0;
      await withoutListener(async () => {
        await deletePost(db, moderator, removedInGap);
        written = await post("written while not listening");
        writtenThenRemoved = await post("written and removed while not listening");
        await deletePost(db, moderator, writtenThenRemoved);
      });

      const removal = await stream.waitFor((event) => eventsFor([event], "post-updated", removedInGap).length > 0, 15_000);
      expect(JSON.parse(removal.at(-1)!.data).html).toContain("removed by a moderator");
      await stream.waitFor((event) => event.id === String(written));
      // A post after all that arrives live: everything the resumption hands out came before it.
      const last = await post("after the gap");
      const events = await stream.waitFor((event) => event.id === String(last));

      expect(stream.connections).toBe(1);
      for (const id of [removedLive, removedInGap]) expect(eventsFor(events, "post-updated", id)).toHaveLength(1);
      for (const id of [kept, removedLive, removedInGap, written, last]) expect(eventsFor(events, "post", id)).toHaveLength(1);
      // Removed before the server could deliver it: never shown, or shown and then removed, never after its removal.
      const shown = events.findIndex((event) => eventsFor([event], "post", writtenThenRemoved).length > 0);
      const removed = events.findIndex((event) => eventsFor([event], "post-updated", writtenThenRemoved).length > 0);
      if (shown >= 0) expect(removed).toBeGreaterThan(shown);
      expect(eventsFor(events, "post-updated", kept)).toEqual([]);
    } finally {
      stream.close();
    }
  }, 60_000);

  it("an open stream is told to reload when more than 1,000 changes were made while the server did not listen", async () => {
    const team = await server.team("listener-flood");
    const [moderatorCookie, watcher] = await Promise.all([server.engineer(team, "mo", "admin"), server.engineer(team, "wyn", "member")]);
    const { db } = held;
    const writer = (await authenticateAgentToken(db, await server.agent(team, "writer")))!;
    const { caller: moderator } = (await validateSession(db, moderatorCookie.split("=")[1]!))!;
    const inTurns = (count: number, each: (index: number) => Promise<void>) =>
      Promise.all(
        Array.from({ length: heldConnections }, async (_, turn) => {
          for (let index = turn; index < count; index += heldConnections) await each(index);
        }),
      );
    const ids: number[] = [];
    await inTurns(1001, async (n) => {
      ids.push((await createPost(db, writer, { content: `spam ${n}` })).post.id);
    });

    const stream = followEvents(server.url, watcher);
    try {
      await stream.waitFor((event) => event.event === "ready");
      await withoutListener(async () => {
        await inTurns(ids.length, (index) => deletePost(db, moderator, ids[index]!));
      });
      const events = await stream.waitFor((event) => event.event === "reload", 15_000);
      expect(stream.connections).toBe(1);
      expect(events.filter((event) => event.event === "post-updated")).toEqual([]);
    } finally {
      stream.close();
    }
  }, 90_000);
});
