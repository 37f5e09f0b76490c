import type { SQL } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database, type Db } from "../server/db/client.ts";
import { addAgentToken, authenticateAgentToken } from "../server/domain/agents.ts";
import { cli, type AgentCaller } from "../server/domain/callers.ts";
import { feedPostsAfter, positionOfPost, readUnread } from "../server/domain/delivery.ts";
import { createPost } from "../server/domain/posts.ts";
import { createTeam } from "../server/domain/teams.ts";
import { holdWriteOpen } from "./support/open-writes.ts";
import { adminPostgresUrl, freshDatabase } from "./support/server.ts";

/**
 * A write can end while a read draws its delivery line: Postgres reads pg_stat_activity a moment
 * after the statement's snapshot, so a write that ended in another database in between counts as
 * one that may be ours, and holds back posts that had committed before the read began (5 of 2,000
 * reads right after a post, with databases created and dropped and the cores busy). The read looks
 * again, with a fresh snapshot, rather than give the reader nothing. Here the write that holds the
 * line is in Botboard's own database, and ends just as the read is about to look again.
 */
describe("a read whose delivery line was held by a write that has just ended", () => {
  let database: Database;
  let drop: () => Promise<void>;
  let holder: postgres.Sql;
  let writer: AgentCaller;
  let reader: AgentCaller;

  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    drop = fresh.drop;
    database = await openDatabase({
      databaseUrl: fresh.env.DATABASE_URL,
      dataDir: "",
      poolSize: 2,
    });
    holder = postgres(fresh.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    const team = await createTeam(database.db, { name: "Line", slug: "line" });
    const agent = async (name: string) =>
      authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token);
    writer = await agent("writer");
    reader = await agent("reader");
  });
  afterAll(async () => {
    await holder?.end();
    await database?.close();
    await drop?.();
  });

  const holdLine = () => holdWriteOpen(holder);

  /** The database, except that a read's fresh look at pg_stat_activity first waits for `before`. */
  function lookingAgainAfter(before: () => Promise<void>): Db {
    const isFreshLook = (query: SQL) => JSON.stringify(query.queryChunks).includes("pg_stat_clear_snapshot");
    const withHook = (tx: Db): Db =>
      new Proxy(tx, {
        get(target, key) {
          if (key !== "execute") return Reflect.get(target, key, target);
          return async (query: SQL) => {
            if (isFreshLook(query)) await before();
            return target.execute(query);
          };
        },
      });
    return new Proxy(database.db, {
      get(target, key) {
        if (key !== "transaction") return Reflect.get(target, key, target);
        return (run: (tx: Db) => Promise<unknown>) => target.transaction((tx) => run(withHook(tx as Db)));
      },
    });
  }

  async function readEndingHold(endHold: () => Promise<void>) {
    let looksAgain = 0;
    const db = lookingAgainAfter(async () => {
      looksAgain += 1;
      await endHold();
    });
    const page = await readUnread(db, reader, 10);
    return { ids: page.posts.map((post) => post.id), looksAgain };
  }

  it("a reader's first read looks again and gets the newest posts", async () => {
    const { post: before } = await createPost(database.db, writer, { content: "before the open write" });
    const endHold = await holdLine();
    const { post: committed } = await createPost(database.db, writer, { content: "committed while an older write is open" });
    expect(await readEndingHold(endHold)).toEqual({ ids: [before.id, committed.id], looksAgain: 1 });
  });

  it("a reader with a position looks again and gets what committed after it", async () => {
    const endHold = await holdLine();
    const { post: committed } = await createPost(database.db, writer, { content: "committed while an older write is open" });
    expect(await readEndingHold(endHold)).toEqual({ ids: [committed.id], looksAgain: 1 });
    expect((await readUnread(database.db, reader, 10)).posts).toEqual([]);
  });

  it("a write that stays open holds the posts back after two more looks; they come with a later read", async () => {
    const endHold = await holdLine();
    const { post: committed } = await createPost(database.db, writer, { content: "committed while an older write stays open" });
    const heldBack = await readEndingHold(async () => {});
    expect(heldBack).toEqual({ ids: [], looksAgain: 2 });
    await endHold();
    expect((await readUnread(database.db, reader, 10)).posts.map((post) => post.id)).toEqual([committed.id]);
  });

  it("a read with nothing waiting beyond the line looks once", async () => {
    const { post } = await createPost(database.db, writer, { content: "nothing holds this one" });
    expect(await readEndingHold(async () => {})).toEqual({ ids: [post.id], looksAgain: 0 });
    expect(await readEndingHold(async () => {})).toEqual({ ids: [], looksAgain: 0 });
  });

  // A web page reconnecting reads what it missed up to where its live feed took over: every post up
  // to there had been below a line, so it is read whatever the line is now. (Here a write open in
  // this database holds the line, which stands in for one that ended while the line was drawn.)
  it("a live page catching up reads up to where its live feed took over, whatever holds the line now", async () => {
    const { post: before } = await createPost(database.db, writer, { content: "before the page's last post" });
    const from = (await positionOfPost(database.db, writer.teamId, before.id))!;
    const endHold = await holdLine();
    try {
      const { post: first } = await createPost(database.db, writer, { content: "first of the catch-up" });
      const { post: second } = await createPost(database.db, writer, { content: "second of the catch-up" });
      const upTo = (await positionOfPost(database.db, writer.teamId, second.id))!;
      await createPost(database.db, writer, { content: "after where the live feed took over" });
      const caughtUp = await feedPostsAfter(database.db, reader, from, upTo, 10);
      expect(caughtUp.map(({ post }) => post.id)).toEqual([first.id, second.id]);
    } finally {
      await endHold();
    }
  });
});

/**
 * Botboard as deployments run it (docs/deploy.md): an ordinary role that owns its database, without
 * pg_read_all_stats. Postgres shows every role every session's database and transaction id (only what
 * a session runs is hidden), so the delivery line passes over another role's write in another
 * database, as it does for a superuser.
 */
describe("an ordinary role that owns its database", () => {
  const role = `botboard_plain_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let admin: postgres.Sql;
  let database: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    admin = postgres(adminPostgresUrl, { max: 2, onnotice: () => {} });
    await admin.unsafe(`create role ${role} login`);
    const fresh = await freshDatabase("postgres", { empty: true });
    drop = fresh.drop;
    const url = new URL(fresh.env.DATABASE_URL!);
    await admin.unsafe(`alter database ${url.pathname.slice(1)} owner to ${role}`);
    url.username = role;
    database = await openDatabase({ databaseUrl: url.toString(), dataDir: "", poolSize: 2 });
    await database.migrate();
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
    await admin?.unsafe(`drop role if exists ${role}`);
    await admin?.end();
  });

  it("migrates its database, and another role's write open in another database does not hold its posts back", async () => {
    const [privileges] = await admin`select rolsuper, pg_has_role(${role}, 'pg_read_all_stats', 'member') as reads_all_stats
      from pg_roles where rolname = ${role}`;
    expect(privileges).toEqual({ rolsuper: false, reads_all_stats: false });
    const team = await createTeam(database.db, { name: "Plain", slug: "plain" });
    const agent = async (name: string) =>
      authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token);
    const writer = await agent("writer");
    const reader = await agent("reader");
    await readUnread(database.db, reader, 10);

    const endElsewhere = await holdWriteOpen(admin);
    try {
      const { post } = await createPost(database.db, writer, { content: "written while another role's write is open elsewhere" });
      expect((await readUnread(database.db, reader, 10)).posts.map(({ id }) => id)).toEqual([post.id]);
    } finally {
      await endElsewhere();
    }
  });
});
