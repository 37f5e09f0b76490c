import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase, rowsOf, type Database, type Db } from "../server/db/client.ts";
import { preparedWhileFew } from "../server/db/prepared.ts";
import { addAgentToken, authenticateAgentToken } from "../server/domain/agents.ts";
import { cli, type AgentCaller } from "../server/domain/callers.ts";
import { currentDeliveryLine, liveStart, readUnread, teamPostsAfter, unreadSummary } from "../server/domain/delivery.ts";
import { createEventHub, type HubEvent } from "../server/domain/events.ts";
import { announceNewPosts } from "../server/domain/post-announcements.ts";
import { createPost } from "../server/domain/posts.ts";
import { searchPartsOf, searchPosts } from "../server/domain/search.ts";
import { parseSearchQuery } from "../server/domain/search-query.ts";
import { createTeam } from "../server/domain/teams.ts";
import { freshDatabase } from "./support/server.ts";

/** A stand-in for a query drizzle built, recording how it was built and run. */
function builtQuery(text: string, runs: string[]) {
  runs.push(`built ${text}`);
  return {
    execute: async () => runs.push(`unprepared ${text}`),
    prepare: () => ({ execute: async () => runs.push(`prepared ${text}`) }),
  };
}

describe("queries prepared while their shapes are few", () => {
  it("prepares the first shapes once, runs new ones unprepared past the bound, and keeps running those it knows", async () => {
    const execute = preparedWhileFew<number>("shapes", 2);
    const runs: string[] = [];
    const db = {} as Db;
    for (const text of ["a", "b", "a", "c", "b", "d"]) await execute(db, text, () => builtQuery(text, runs), {});
    expect(runs).toEqual([
      "built a",
      "prepared a",
      "built b",
      "prepared b",
      "prepared a",
      "built c",
      "unprepared c",
      "prepared b",
      "built d",
      "unprepared d",
    ]);
  });
});

// One connection, so the statements it prepared are the ones pg_prepared_statements shows.
describe("search on Postgres", () => {
  let database: Database;
  let drop: () => Promise<void>;
  let caller: AgentCaller;
  let statements: string[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    drop = fresh.drop;
    database = await openDatabase({
      databaseUrl: fresh.env.DATABASE_URL,
      dataDir: "",
      poolSize: 1,
      onQuery: (statement) => statements.push(statement),
    });
    const team = await createTeam(database.db, { name: "Prepared", slug: "prepared" });
    caller = await authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name: "alice" })).token);
    for (const content of ["The cache in server/auth/session.ts is stale", "Flaky cache test on main", "Release notes"]) {
      await createPost(database.db, caller, { content });
    }
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("plans a search's shape once per connection: other words of the same shape reuse its statement", async () => {
    const preparedSearches = async () =>
      rowsOf<{ count: number }>(
        await database.db.execute(sql`select count(*)::int as count from pg_prepared_statements where statement like '%ts_rank%'`),
      )[0]!.count;
    const found = async (query: string) =>
      (await searchPosts(database.db, caller, { query, limit: 10 })).results.map((hit) => hit.post.content);
    expect(await found("flaky")).toEqual(["Flaky cache test on main"]);
    expect(await preparedSearches()).toBe(1);
    expect(await found("release")).toEqual(["Release notes"]);
    expect(await preparedSearches()).toBe(1);
    // A path is looked for as a code term too, and two words are two clauses: other shapes, other statements.
    expect(await found("session.ts")).toEqual(["The cache in server/auth/session.ts is stale"]);
    expect(await found("cache stale")).toEqual(["The cache in server/auth/session.ts is stale"]);
    expect(await preparedSearches()).toBe(3);
  });

  // The shape is what lets a statement be prepared (at most 32 of them): two searches of one shape
  // must send one SQL text, or the bound on statements would not hold; two of different shapes may not.
  it("searches of one shape send one SQL text, and searches of different shapes different ones", async () => {
    const queries = [
      "flaky",
      "release",
      "session.ts",
      "auth/session.ts",
      "sess*",
      "rel*",
      '"stale cache"',
      '"release"',
      "cache stale",
      "notes release",
      "cache -stale",
      "cache -main",
      "-stale cache",
      "from:alice cache",
      "from:bob release",
      "from:alice from:bob cache",
      "tag:blocker cache",
      "#ci #blocker cache",
      "in:thread:1 cache",
      "before:2026-11-30 cache",
      "after:2026-11-01 release",
      "before:2026-11-30 after:2026-11-01 cache",
      "is:reply cache",
      "is:root cache",
      "has:code cache",
      "from:alice",
      "tag:blocker",
      "the cache",
      '"out of memory"',
      '"the cache" release',
      'cache -"the cache"',
      '"the cache" or release',
      "ca*",
      "cache in*",
    ];
    const textOfShape = new Map<string, string>();
    const shapeOfText = new Map<string, string>();
    for (const query of queries) {
      statements = [];
      await searchPosts(database.db, caller, { query, limit: 10 });
      const text = statements.find((statement) => statement.includes('from "posts"'))!;
      const { shape } = searchPartsOf(parseSearchQuery(query));
      expect(textOfShape.get(shape) ?? text, `${query} (shape ${shape})`).toBe(text);
      expect(shapeOfText.get(text) ?? shape, `${query}: its text had another shape`).toBe(shape);
      textOfShape.set(shape, text);
      shapeOfText.set(text, shape);
    }
    expect(textOfShape.size).toBeGreaterThan(15);
  });

  it("runs a known shape with each search's own values: words, names, tags, threads and times", async () => {
    const bob = await authenticateAgentToken(
      database.db,
      (await addAgentToken(database.db, cli, { teamId: caller.teamId, name: "bob" })).token,
    );
    const early = (await createPost(database.db, bob, { content: "Deploy cache warmed", tags: ["ops"] })).post;
    const later = (await createPost(database.db, caller, { content: "Deploy cache cold", tags: ["dev"], parentId: early.id })).post;
    const found = async (query: string) =>
      (await searchPosts(database.db, caller, { query, limit: 10 })).results.map((hit) => hit.post.content);
    for (const [query, expected] of [
      ["from:bob deploy", ["Deploy cache warmed"]],
      ["from:alice deploy", ["Deploy cache cold"]],
      ["tag:ops deploy", ["Deploy cache warmed"]],
      ["tag:dev deploy", ["Deploy cache cold"]],
      [`in:thread:${early.id} warmed`, ["Deploy cache warmed"]],
      [`in:thread:${early.id} cold`, ["Deploy cache cold"]],
      [`after:${later.createdAt.toISOString().slice(0, 10)} -warmed deploy`, ["Deploy cache cold"]],
      [`before:2000-01-01 -warmed deploy`, []],
    ] as const) {
      expect(await found(query), query).toEqual(expected);
    }
  });

  it("reads a phrase's common words with each search's own phrase, past the runs after which Postgres may plan it once for all", async () => {
    const found = async (query: string) =>
      (await searchPosts(database.db, caller, { query, limit: 10 })).results.map((hit) => hit.post.content);
    // Both read `test <2> main` in english; only one is in a post, word for word.
    for (let run = 0; run < 4; run++) {
      expect(await found('"test on main"')).toEqual(["Flaky cache test on main"]);
      expect(await found('"test in main"')).toEqual([]);
      expect(await found('-"test in main" flaky')).toEqual(["Flaky cache test on main"]);
      expect(await found('-"test on main" flaky')).toEqual([]);
    }
  });
});

// The reads of read_new run prepared: on one connection, every later read reuses the statements the
// first ones left, whatever the reader, its position and the posts it is given.
describe("read_new on Postgres", () => {
  let database: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    drop = fresh.drop;
    database = await openDatabase({ databaseUrl: fresh.env.DATABASE_URL, dataDir: "", poolSize: 1 });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("prepares its statements once per connection and then only runs them", async () => {
    const team = await createTeam(database.db, { name: "Readers", slug: "readers" });
    const agent = async (name: string) =>
      authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token);
    const [alice, bob, carol] = [await agent("alice"), await agent("bob"), await agent("carol")];
    const preparedDeliveryStatements = async () =>
      rowsOf<{ statement: string }>(
        await database.db.execute(
          sql`select statement from pg_prepared_statements where statement like '%read_cursors%' or statement like '%pg_snapshot_xip%'`,
        ),
      ).map((row) => row.statement);
    await createPost(database.db, bob, { content: "before anyone read, for @alice" });
    await readUnread(database.db, alice, 5);
    await createPost(database.db, bob, { content: "a first note for @alice" });
    await readUnread(database.db, alice, 5);
    const afterTwoReads = await preparedDeliveryStatements();
    // The read position, the page, saving the position, the counts; the first read's own queries.
    expect(afterTwoReads.some((statement) => statement.includes("count(*) filter"))).toBe(true);
    expect(afterTwoReads.length).toBeGreaterThanOrEqual(5);
    for (let index = 0; index < 3; index++) {
      await createPost(database.db, carol, { content: `note ${index} for @bob` });
      await createPost(database.db, bob, { content: `answer ${index}` });
      await readUnread(database.db, alice, 1 + index);
      await readUnread(database.db, bob, 2);
    }
    expect((await preparedDeliveryStatements()).sort()).toEqual(afterTwoReads.sort());
  });
});

// A wake-up on Postgres is a NOTIFY of its own after the posts commit; it gathers the teams written
// within a few milliseconds (docs/decisions/057-wake-ups-gather.md).
describe("wake-ups on Postgres", () => {
  let database: Database;
  let drop: () => Promise<void>;
  const statements: string[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    drop = fresh.drop;
    database = await openDatabase({ databaseUrl: fresh.env.DATABASE_URL, dataDir: "", onQuery: (statement) => statements.push(statement) });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("posts of three teams committed together wake every team's listeners with one NOTIFY; a later post sends its own", async () => {
    const teams = await Promise.all(["north", "south", "west"].map((slug) => createTeam(database.db, { name: slug, slug })));
    const hub = createEventHub(database);
    const events: string[] = [];
    const unsubscribes = await Promise.all(
      teams.map((team) => hub.subscribe(team.id, { onEvent: (event) => events.push(`${event.type} ${event.teamId === team.id}`) })),
    );
    try {
      statements.length = 0;
      // What createPost calls after its commit: here three commits in the same moment, then one more.
      for (const team of teams) announceNewPosts(database.db, team.id);
      await vi.waitFor(() => expect(events).toHaveLength(3));
      announceNewPosts(database.db, teams[0]!.id);
      await vi.waitFor(() => expect(events).toHaveLength(4));
    } finally {
      for (const unsubscribe of unsubscribes) unsubscribe();
      await hub.close();
    }
    expect(events).toEqual(Array.from({ length: 4 }, () => "posts.created true"));
    expect(statements.filter((statement) => statement.includes("pg_notify"))).toHaveLength(2);
  });
});

// PGlite plans every statement anew, and its one session runs one transaction at a time: reads there
// find the delivery line from the snapshot alone, without planning a look at other sessions
// (docs/decisions/052-pglite-delivery-line.md). What they are given is delivery.test.ts's to check.
describe("delivery on PGlite", () => {
  let database: Database;
  let drop: () => Promise<void>;
  const statements: string[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabase("pglite");
    drop = fresh.drop;
    database = await openDatabase({ dataDir: fresh.env.BOTBOARD_DATA_DIR!, onQuery: (statement) => statements.push(statement) });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("reads, counts and follows the feed without planning a look at other sessions", async () => {
    const team = await createTeam(database.db, { name: "Alone", slug: "alone" });
    const agent = async (name: string) =>
      authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token);
    const [alice, bob] = [await agent("alice"), await agent("bob")];
    await createPost(database.db, bob, { content: "before anyone read" });
    statements.length = 0;
    const first = await readUnread(database.db, alice, 5);
    await createPost(database.db, bob, { content: "a note for @alice" });
    const summary = await unreadSummary(database.db, alice);
    const second = await readUnread(database.db, alice, 5);
    const line = await currentDeliveryLine(database.db);
    const start = await liveStart(database.db, team.id);
    const live = await teamPostsAfter(database.db, team.id, start.horizon, 10);
    expect(first.posts.map((post) => post.content)).toEqual(["before anyone read"]);
    expect(summary.unread.count).toBe(1);
    expect(second.posts.map((post) => post.content)).toEqual(["a note for @alice"]);
    expect(BigInt(line)).toBeGreaterThan(0n);
    expect(live.posts).toEqual([]);
    const deliveryReads = statements.filter((statement) => statement.includes("pg_current_snapshot"));
    expect(deliveryReads.length).toBeGreaterThanOrEqual(6);
    expect(deliveryReads.filter((statement) => statement.includes("pg_stat_activity"))).toEqual([]);
  });

  it("wakes this process's listeners of a new post without a NOTIFY, once for the posts of one turn", async () => {
    const team = await createTeam(database.db, { name: "Woken", slug: "woken" });
    const writer = await authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name: "w" })).token);
    const hub = createEventHub(database);
    const events: HubEvent[] = [];
    const unsubscribe = await hub.subscribe(team.id, { onEvent: (event) => events.push(event) });
    try {
      statements.length = 0;
      await Promise.all([1, 2, 3].map((index) => createPost(database.db, writer, { content: `note ${index}` })));
      await vi.waitFor(() => expect(events.length).toBeGreaterThan(0));
      await createPost(database.db, writer, { content: "note 4" });
      await vi.waitFor(() => expect(events.length).toBeGreaterThan(1));
    } finally {
      unsubscribe();
      await hub.close();
    }
    // Three posts written together, one wake-up; the fourth, later, its own.
    expect(events).toEqual([
      { type: "posts.created", teamId: team.id },
      { type: "posts.created", teamId: team.id },
    ]);
    expect(statements.filter((statement) => statement.includes("pg_notify"))).toEqual([]);
  });
});
