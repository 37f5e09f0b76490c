import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase } from "../server/db/client.ts";
import { realignDeliveryOrder } from "../server/domain/delivery.ts";
import type { Team } from "../server/domain/teams.ts";
import { botboardOnFreshDatabase, type BotboardOnFreshDatabase, type ServedBotboard } from "./support/cli.ts";
import { followEvents, type EventFollower } from "./support/events.ts";
import { holdWriteOpen } from "./support/open-writes.ts";
import { engineerFromSetupToken } from "./support/web.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import {
  addAgentsIn,
  adminPostgresUrl,
  allPostsDeliverable,
  databaseKinds,
  startProxiedTestServer,
  startTestServer,
  type ProxiedTestServer,
  type TestServer,
} from "./support/server.ts";

const noRateLimits = { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };

type Poster = (token: string, content: string) => Promise<number>;
type Poller = () => Promise<{ ids: number[]; done: boolean }>;

function restPoster(baseUrl: () => string): Poster {
  return async (token, content) => {
    const response = await fetch(`${baseUrl()}/api/v1/posts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    if (response.status !== 201) throw new Error(`post: ${response.status} ${await response.text()}`);
    return (await response.json()).id;
  };
}

function restPoller(baseUrl: string, token: string, limit: number): Poller {
  return async () => {
    const response = await fetch(`${baseUrl}/api/v1/unread?limit=${limit}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`unread: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { posts: { id: number }[]; remaining: number };
    return { ids: body.posts.map((post) => post.id), done: body.posts.length === 0 && body.remaining === 0 };
  };
}

async function mcpPoller(baseUrl: string, token: string, limit: number): Promise<{ poll: Poller; close(): Promise<void> }> {
  const client = await connectMcp(baseUrl, token);
  return {
    async poll() {
      const result = await callTool(client, "read_new", { limit });
      if (result.isError) throw new Error(`read_new: ${result.text}`);
      const body = result.structuredContent as { posts: { id: number }[]; remaining: number };
      return { ids: body.posts.map((post) => post.id), done: body.posts.length === 0 && body.remaining === 0 };
    },
    close: () => client.close(),
  };
}

/**
 * Writers post concurrently while every poller of one reader polls; once the writers are done and
 * their posts can be delivered, each poller drains. Returns every post id the pollers were given.
 */
async function writeWhilePolling(options: {
  writers: string[];
  postsEach: number;
  post: Poster;
  pollers: Poller[];
  settled: () => Promise<void>;
}): Promise<{ written: number[]; delivered: number[] }> {
  const delivered: number[] = [];
  let writing = true;
  const polling = options.pollers.map(async (poll) => {
    while (writing) delivered.push(...(await poll()).ids);
  });
  const written = (
    await Promise.all(
      options.writers.map(async (token, writer) => {
        const ids: number[] = [];
        for (let index = 0; index < options.postsEach; index++) ids.push(await options.post(token, `writer ${writer} post ${index}`));
        return ids;
      }),
    )
  ).flat();
  writing = false;
  await Promise.all(polling);
  await options.settled();
  await Promise.all(
    options.pollers.map(async (poll) => {
      for (;;) {
        const page = await poll();
        delivered.push(...page.ids);
        if (page.done) return;
      }
    }),
  );
  return { written, delivered };
}

const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
const postIdsOf = (feed: EventFollower) => feed.events.filter((event) => event.event === "post").map((event) => Number(event.id));

/**
 * Writers post concurrently (each through `post`) while live feeds watch; once each feed has as many
 * posts as were written, and a moment later, returns what was written and what each feed got.
 */
async function writeWhileWatching(options: { writers: string[]; postsEach: number; post: Poster; feeds: EventFollower[] }) {
  for (const feed of options.feeds) await feed.waitFor((event) => event.event === "ready");
  const written = (
    await Promise.all(
      options.writers.map(async (token, writer) => {
        const ids: number[] = [];
        for (let index = 0; index < options.postsEach; index++)
          ids.push(await options.post(token, `watched writer ${writer} post ${index}`));
        return ids;
      }),
    )
  ).flat();
  for (const feed of options.feeds) await feed.waitUntil(() => postIdsOf(feed).length >= written.length, 60_000);
  // A post delivered twice would arrive after the rest: give it the time to.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const feed of options.feeds) feed.close();
  return { written, seen: options.feeds.map(postIdsOf) };
}

describe.each(databaseKinds)("delivery order on %s", (kind) => {
  let server: TestServer;
  // The embedded database serves one process and commits one write at a time; fewer posts keep it quick.
  const postsEach = kind === "postgres" ? 150 : 40;
  const writerCount = 16;

  beforeAll(async () => {
    server = await startTestServer(kind, noRateLimits);
  }, 120_000);
  afterAll(() => server?.close());

  async function writers(team: Team, prefix: string): Promise<string[]> {
    return Promise.all(Array.from({ length: writerCount }, (_, index) => server.agent(team, `${prefix}-${index}`)));
  }

  it(`${writerCount} writers, three REST pollers of one reader and two MCP pollers of another: each post by others reaches each reader once`, async () => {
    const team = await server.team("exactly-once");
    const tokens = await writers(team, "writer");
    const restReader = await server.agent(team, "rest-reader");
    const mcpReader = await server.agent(team, "mcp-reader");
    const rest = [17, 50, 100].map((limit) => restPoller(server.url, restReader, limit));
    const mcp = await Promise.all([20, 100].map((limit) => mcpPoller(server.url, mcpReader, limit)));
    // Both readers join before the writers start: their first reads place them at the start.
    for (const poll of [rest[0]!, mcp[0]!.poll]) expect((await poll()).ids).toEqual([]);
    // The readers' own posts are not news to them.
    const post = restPoster(() => server.url);
    const own = { rest: await post(restReader, "rest-reader's own"), mcp: await post(mcpReader, "mcp-reader's own") };

    const run = await writeWhilePolling({
      writers: tokens,
      postsEach,
      post,
      pollers: [...rest, ...mcp.map((m) => m.poll)],
      settled: server.settled,
    });
    await Promise.all(mcp.map((m) => m.close()));

    expect(run.written).toHaveLength(writerCount * postsEach);
    // Each reader gets every post but its own: the other reader's one included.
    expect(sorted(run.delivered)).toEqual(sorted([...run.written, ...run.written, own.rest, own.mcp]));
  }, 240_000);

  it("eight concurrent read_new calls of one agent hand out 40 posts once between them", async () => {
    const team = await server.team("concurrent-reads");
    const [writer] = await writers(team, "w");
    const reader = await server.agent(team, "reader");
    const clients = await Promise.all(Array.from({ length: 8 }, () => mcpPoller(server.url, reader, 5)));
    await clients[0]!.poll();
    const post = restPoster(() => server.url);
    const written: number[] = [];
    for (let index = 0; index < 40; index++) written.push(await post(writer!, `post ${index}`));
    await server.settled();
    const delivered: number[] = [];
    for (let round = 0; round < 3; round++) {
      const pages = await Promise.all(clients.map((client) => client.poll()));
      delivered.push(...pages.flatMap((page) => page.ids));
    }
    await Promise.all(clients.map((client) => client.close()));
    expect(sorted(delivered)).toEqual(sorted(written));
  });

  it(`a live feed that drops and resumes with Last-Event-ID gets every post once while ${writerCount} agents write`, async () => {
    const team = await server.team("live-once");
    const tokens = await writers(team, "live");
    const cookie = await server.engineer(team, "watcher");
    const first = followEvents(server.url, cookie, { reconnect: false });
    await first.waitFor((event) => event.event === "ready");
    const post = restPoster(() => server.url);
    let second: EventFollower | undefined;
    // All of it stays under the 1,000 posts a resume replays before it tells the page to reload
    // instead: since posts commit without waiting for NOTIFY, writers can run that far ahead.
    const postsEachWriter = Math.min(postsEach, 60);
    const total = writerCount * postsEachWriter;
    // A third of the way through, the browser loses the stream and comes back from its last event.
    const dropMidway = (async () => {
      await first.waitUntil(() => postIdsOf(first).length >= total / 3, 120_000);
      first.close();
      const lastId = postIdsOf(first).at(-1)!;
      second = followEvents(server.url, cookie, { lastEventId: String(lastId), reconnect: false });
    })();
    const written = (
      await Promise.all(
        tokens.map(async (token, writer) => {
          const ids: number[] = [];
          for (let index = 0; index < postsEachWriter; index++) ids.push(await post(token, `live writer ${writer} post ${index}`));
          return ids;
        }),
      )
    ).flat();
    await dropMidway;
    const seen = () => [...postIdsOf(first), ...postIdsOf(second!)];
    await second!.waitUntil(() => seen().length >= total, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    second!.close();
    expect(sorted(seen())).toEqual(sorted(written));
  }, 240_000);

  it(`four live feeds of two engineers while ${writerCount} agents write: every feed gets every post exactly once`, async () => {
    const team = await server.team("many-watchers");
    const tokens = await writers(team, "watched");
    const cookies = [await server.engineer(team, "watcher-a"), await server.engineer(team, "watcher-b")];
    const feeds = [0, 1, 2, 3].map((index) => followEvents(server.url, cookies[index % 2]!, { reconnect: false }));
    const { written, seen } = await writeWhileWatching({
      writers: tokens,
      postsEach: kind === "postgres" ? 50 : 15,
      post: restPoster(() => server.url),
      feeds,
    });
    for (const ids of seen) expect(sorted(ids)).toEqual(sorted(written));
  }, 240_000);

  it("two teams writing at once share wake-ups: each team's live feed gets exactly its own team's posts", async () => {
    const [red, blue] = [await server.team("wake-red"), await server.team("wake-blue")];
    const teams = [red, blue];
    const tokens = await Promise.all(teams.map((team) => writers(team, `${team.slug}-writer`)));
    const feeds = await Promise.all(
      teams.map(async (team) => followEvents(server.url, await server.engineer(team, `${team.slug}-watcher`), { reconnect: false })),
    );
    for (const feed of feeds) await feed.waitFor((event) => event.event === "ready");
    const post = restPoster(() => server.url);
    const postsEach = kind === "postgres" ? 20 : 8;
    const written = await Promise.all(
      tokens.map(async (teamTokens) =>
        (
          await Promise.all(
            teamTokens.slice(0, 8).map(async (token, writer) => {
              const ids: number[] = [];
              for (let index = 0; index < postsEach; index++) ids.push(await post(token, `team writer ${writer} post ${index}`));
              return ids;
            }),
          )
        ).flat(),
      ),
    );
    for (const [index, feed] of feeds.entries()) {
      await feed.waitUntil(() => postIdsOf(feed).length >= written[index]!.length, 60_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const feed of feeds) feed.close();
    for (const [index, feed] of feeds.entries()) expect(sorted(postIdsOf(feed))).toEqual(sorted(written[index]!));
  }, 240_000);

  it("a reader added to a board of 10,000 posts first gets the newest page, told how many are older, then only what is new", async () => {
    const team = await server.team("big-board");
    const [writer] = await writers(team, "old");
    const hooked = await server.agent(team, "hooked");
    const { db } = server.database;
    await db.execute(sql`
      insert into posts (team_id, author_kind, author_name, agent_id, content)
      select ${team.id}, 'agent', 'old-0', (select id from agents where team_id = ${team.id} and name = 'old-0'), 'history ' || n
      from generate_series(1, 10000) as n`);
    await server.settled();
    const newcomer = await mcpPoller(server.url, await server.agent(team, "newcomer"), 20);
    const client = await connectMcp(server.url, await server.agent(team, "greeted"));
    try {
      const login = await callTool(client, "login");
      expect(login.structuredContent).toMatchObject({ unread: 1000, unreadCapped: true, firstRead: true });
      expect(login.text).toContain("1,000+ posts by your team so far: call read_new for the newest.");

      const first = await callTool(client, "read_new", { limit: 20 });
      const body = first.structuredContent as {
        posts: { content: string }[];
        olderPosts: number;
        olderPostsCapped: boolean;
        remaining: number;
      };
      expect(body.posts.map((post) => post.content)).toEqual(Array.from({ length: 20 }, (_, index) => `history ${9981 + index}`));
      expect(body).toMatchObject({ olderPosts: 1000, olderPostsCapped: true, remaining: 0 });
      expect(first.text).toContain("Your first read: the 20 newest posts by others, oldest first. 1,000+ older posts are not shown");
      expect((await callTool(client, "read_new")).text).toBe("Nothing new.");

      const fresh = await restPoster(() => server.url)(writer!, "news after joining");
      await server.settled();
      expect((await callTool(client, "login")).structuredContent).toMatchObject({ unread: 1, unreadCapped: false, firstRead: false });
      expect((await callTool(client, "read_new")).structuredContent).toMatchObject({ posts: [{ id: fresh }], remaining: 0 });
      expect((await newcomer.poll()).ids).toHaveLength(20);
      // A hook that only speaks when something is addressed to its agent, at its first read, finds a
      // mention 10,000 posts after the oldest it has not read.
      const mention = await restPoster(() => server.url)(writer!, "@hooked the migration is yours");
      await server.settled();
      const digest = await fetch(`${server.url}/api/v1/digest?onlyIfAddressed=true`, {
        method: "POST",
        headers: { authorization: `Bearer ${hooked}` },
      });
      const said = (await digest.json()) as { text: string; addressed: number };
      expect(said.addressed).toBe(1);
      expect(said.text).toContain(`#${mention} · old-0 (agent)`);
    } finally {
      await client.close();
      await newcomer.close();
    }
  }, 120_000);

  it("what was addressed to a reader before its first read comes first in that read, however many posts followed", async () => {
    const team = await server.team("addressed-before");
    const writer = await server.agent(team, "asker");
    const latecomerToken = await server.agent(team, "latecomer");
    const post = restPoster(() => server.url);
    const mention = await post(writer, "@latecomer please take the migration task");
    for (let index = 0; index < 30; index++) await post(writer, `filler ${index}`);
    await server.settled();
    const client = await connectMcp(server.url, latecomerToken);
    try {
      const login = await callTool(client, "login");
      expect(login.structuredContent).toMatchObject({ unread: 31, addressed: 1, firstRead: true });
      const first = await callTool(client, "read_new", { limit: 5 });
      const body = first.structuredContent as { posts: { id: number; forYou?: string[] }[]; olderPosts: number };
      expect(body.posts.map((shown) => shown.id)[0]).toBe(mention);
      expect(body.posts[0]!.forYou).toEqual(["mention"]);
      expect(body.posts).toHaveLength(5);
      expect(body.olderPosts).toBe(31 - 5);
      expect(first.text).toContain("Your first read: 5 posts by others: 1 addressed to you first (marked FOR YOU, however old)");
      expect((await callTool(client, "read_new")).text).toBe("Nothing new.");
    } finally {
      await client.close();
    }
  });

  it("what was addressed to a reader before its first read and has no room in it comes with its next reads, each once", async () => {
    const team = await server.team("addressed-waiting");
    const writer = await server.agent(team, "asker");
    const latecomerToken = await server.agent(team, "latecomer");
    const post = restPoster(() => server.url);
    const mentions: number[] = [];
    for (let index = 0; index < 6; index++) {
      mentions.push(await post(writer, `@latecomer question ${index}`));
      for (let filler = 0; filler < 3; filler++) await post(writer, `filler ${index}.${filler}`);
    }
    await server.settled();
    const client = await connectMcp(server.url, latecomerToken);
    type Read = { posts: { id: number; forYou?: string[] }[]; remaining: number; olderPosts?: number };
    const read = async (limit: number) => {
      const result = await callTool(client, "read_new", { limit });
      return { text: result.text, body: result.structuredContent as Read };
    };
    try {
      expect((await callTool(client, "login")).text).toContain(
        "24 posts by your team so far: call read_new for the newest. 6 of them addressed to you",
      );
      const first = await read(2);
      expect(first.body.posts.map((shown) => shown.id)).toEqual(mentions.slice(4));
      expect(first.body.remaining).toBe(4);
      expect(first.body.olderPosts).toBe(24 - 2 - 4);
      expect(first.text).toContain("4 more addressed to you, older, did not fit: call read_new again for them.");
      expect((await callTool(client, "login")).structuredContent).toMatchObject({ unread: 4, addressed: 4, firstRead: false });

      const arrived = await post(writer, "news after the first read");
      await server.settled();
      const second = await read(3);
      expect(second.body.posts.map((shown) => shown.id)).toEqual(mentions.slice(1, 4));
      expect(second.body.posts.every((shown) => shown.forYou?.includes("mention"))).toBe(true);
      expect(second.body.remaining).toBe(2);
      const third = await read(5);
      expect(third.body.posts.map((shown) => shown.id)).toEqual([mentions[0], arrived]);
      expect(third.body.remaining).toBe(0);
      expect((await callTool(client, "read_new")).text).toBe("Nothing new.");
      expect((await callTool(client, "login")).structuredContent).toMatchObject({ unread: 0, addressed: 0 });
    } finally {
      await client.close();
    }
  });

  it("posts restored from another Postgres cluster, whose transaction ids lie ahead, are realigned and delivery goes on", async () => {
    const team = await server.team("restored");
    const [writer] = await writers(team, "r");
    const reader = await server.agent(team, "reader");
    const post = restPoster(() => server.url);
    const poll = restPoller(server.url, reader, 100);
    const before = [await post(writer!, "restored 1"), await post(writer!, "restored 2")];
    await server.settled();
    await poll();
    const unread = await post(writer!, "restored, not yet read");
    await server.settled();
    const { db } = server.database;
    // As after pg_dump into a cluster whose transaction counter is far behind the old one's.
    await db.execute(sql`update posts set tx_id = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8`);
    await db.execute(
      sql`update read_cursors set last_tx_id = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8`,
    );
    const afterRestore = await post(writer!, "written after the restore");
    expect((await poll()).ids).toEqual([]);

    expect(await realignDeliveryOrder(db)).toBeGreaterThanOrEqual(before.length + 2);
    expect(await realignDeliveryOrder(db)).toBe(0);
    await server.settled();
    expect((await poll()).ids).toEqual([unread, afterRestore]);
    const next = await post(writer!, "and after the realignment");
    await server.settled();
    expect((await poll()).ids).toEqual([next]);
  });

  it.runIf(kind === "postgres")(
    "a write held open in another database does not hold delivery back; one in this database delays it, never loses it",
    async () => {
      const team = await server.team("open-writes");
      const [writer] = await writers(team, "o");
      const poll = restPoller(server.url, await server.agent(team, "reader"), 100);
      const post = restPoster(() => server.url);
      await server.settled();
      await poll();
      const elsewhere = postgres(adminPostgresUrl, { max: 1, onnotice: () => {} });
      const here = postgres(server.config.databaseUrl!, { max: 1, onnotice: () => {} });
      try {
        // Another application's long batch job on the same Postgres: posts here are not held back.
        const endElsewhere = await holdWriteOpen(elsewhere);
        const first = await post(writer!, "written while another database has a write open");
        expect((await poll()).ids).toEqual([first]);
        await endElsewhere();

        // A write open in Botboard's own database could have written a post: later posts wait for it.
        const endHere = await holdWriteOpen(here);
        const second = await post(writer!, "written while this database has an older write open");
        expect((await poll()).ids).toEqual([]);
        await endHere();
        expect((await poll()).ids).toEqual([second]);
      } finally {
        await Promise.all([elsewhere.end(), here.end()]);
      }
    },
  );
});

describe("delivery order with two server processes on one Postgres", () => {
  let botboard: BotboardOnFreshDatabase;
  let replicas: ServedBotboard[] = [];
  let cookie: string;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase("postgres", { ...noRateLimits, LOG_LEVEL: "warn" });
    replicas = await Promise.all([botboard.serve(), botboard.serve()]);
    // Whichever process made the team printed the first-run link.
    const first = replicas.find((replica) => /setup\?token=/.test(replica.output()))!;
    cookie = await engineerFromSetupToken(first, /setup\?token=(\S+)/.exec(first.output())![1]!, "rita");
  }, 180_000);
  afterAll(() => botboard?.close());

  it("16 writers split over both processes, pollers of one reader on both: each post arrives once", async () => {
    const databaseUrl = botboard.env.DATABASE_URL!;
    const tokens = await addAgentsIn(
      databaseUrl,
      Array.from({ length: 16 }, (_, index) => `writer-${index}`),
    );
    const [reader] = (await addAgentsIn(databaseUrl, ["reader"])) as [string];
    const [one, two] = [replicas[0]!, replicas[1]!];
    const pollers = [restPoller(one.url, reader, 30), restPoller(two.url, reader, 70), (await mcpPoller(two.url, reader, 50)).poll];
    expect((await pollers[0]!()).ids).toEqual([]);
    let turn = 0;
    const run = await writeWhilePolling({
      writers: tokens,
      postsEach: 100,
      post: restPoster(() => (turn++ % 2 === 0 ? one.url : two.url)),
      pollers,
      settled: async () => {
        const opened = await openDatabase({ databaseUrl, dataDir: "", poolSize: 1 });
        try {
          await allPostsDeliverable(opened.db);
        } finally {
          await opened.close();
        }
      },
    });
    expect(run.written).toHaveLength(1600);
    expect(sorted(run.delivered)).toEqual(sorted(run.written));
  }, 240_000);

  it("16 writers split over both processes while six live feeds watch, three on each: every feed gets every post exactly once", async () => {
    const tokens = await addAgentsIn(
      botboard.env.DATABASE_URL!,
      Array.from({ length: 16 }, (_, index) => `watched-writer-${index}`),
    );
    const [one, two] = [replicas[0]!, replicas[1]!];
    const feeds = [one, two, one, two, one, two].map((replica) => followEvents(replica.url, cookie, { reconnect: false }));
    let turn = 0;
    const { written, seen } = await writeWhileWatching({
      writers: tokens,
      postsEach: 60,
      post: restPoster(() => (turn++ % 2 === 0 ? one.url : two.url)),
      feeds,
    });
    expect(written).toHaveLength(960);
    for (const ids of seen) expect(sorted(ids)).toEqual(sorted(written));
  }, 240_000);

  it("a post whose writer died between commit and wake-up still reaches the live feeds of both processes", async () => {
    const feeds = replicas.map((replica) => followEvents(replica.url, cookie, { reconnect: false }));
    const client = postgres(botboard.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      for (const feed of feeds) await feed.waitFor((event) => event.event === "ready");
      // Committed as a server writes a post, with no wake-up after it: what a process that died then leaves.
      const [row] = await client<{ id: string }[]>`
        insert into posts (team_id, author_kind, agent_id, author_name, content, tags)
        select team_id, 'agent', id, name, 'written just before its process died', '{}' from agents order by name limit 1
        returning id::text`;
      for (const feed of feeds) await feed.waitFor((event) => event.event === "post" && event.id === row!.id, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const feed of feeds) expect(postIdsOf(feed)).toEqual([Number(row!.id)]);
    } finally {
      for (const feed of feeds) feed.close();
      await client.end();
    }
  });
});

describe("delivery when Postgres's answer to a read's COMMIT is lost with its connection", () => {
  let proxied: ProxiedTestServer;

  beforeAll(async () => {
    proxied = await startProxiedTestServer(noRateLimits);
  }, 120_000);
  afterAll(() => proxied?.close());

  it("the read whose commit moved the reader's position still hands out its posts: none is lost", async () => {
    const { server, proxy } = proxied;
    const team = await server.team("lost-answer");
    const [writer, reader] = [await server.agent(team, "writer"), await server.agent(team, "reader")];
    const unread = async () => {
      const response = await server.as(reader, "/api/v1/unread");
      return response.status === 200 ? ((await response.json()).posts as { id: number }[]).map((post) => post.id) : undefined;
    };
    expect(await unread()).toEqual([]);
    const written: number[] = [];
    for (const content of ["first", "second", "third"]) {
      const response = await server.as(writer, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
      written.push((await response.json()).id);
    }
    await server.settled();
    // The reader's lock marks the read's session; its COMMIT reaches Postgres, the answer does not come back.
    const answerLost = proxy.loseCommitAnswerAfter("pg_advisory_xact_lock");
    const delivered = (await unread()) ?? [];
    await answerLost;
    const after = await vi.waitFor(async () => (await unread()) ?? Promise.reject(new Error("not answered yet")), {
      timeout: 10_000,
      interval: 200,
    });
    expect(sorted([...delivered, ...after])).toEqual(written);
  }, 60_000);
});
