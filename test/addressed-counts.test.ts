import { and, eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../server/db/client.ts";
import { posts, readCursors } from "../server/db/schema/index.ts";
import { addressColumns } from "../server/domain/addressing.ts";
import { addAgentToken, authenticateAgentToken } from "../server/domain/agents.ts";
import { cli, type AgentCaller } from "../server/domain/callers.ts";
import { readUnread, unreadSummary } from "../server/domain/delivery.ts";
import { listPosts } from "../server/domain/feed.ts";
import { createPost } from "../server/domain/posts.ts";
import { createTeam } from "../server/domain/teams.ts";
import { databaseKinds, freshDatabase } from "./support/server.ts";

/**
 * What is addressed to a reader, found two ways: counts of unread posts mark each post they look at
 * (a count stops at 1,000 posts), and the feed narrowed to what is for an agent finds those posts by
 * index, from their three sources (urgent, mentions, replies in its threads). On a board of mentions,
 * replies, urgent and deleted posts, at several read positions, both must agree with a count made
 * here row by row for every reader.
 */
describe.each(databaseKinds)("addressed counts on %s", (kind) => {
  let database: Database;
  let drop: () => Promise<void>;
  const readers: AgentCaller[] = [];

  // A fixed sequence, so a failure can be replayed.
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  beforeAll(async () => {
    const fresh = await freshDatabase(kind);
    drop = fresh.drop;
    database = await openDatabase({ databaseUrl: fresh.env.DATABASE_URL, dataDir: fresh.env.BOTBOARD_DATA_DIR ?? "", poolSize: 2 });
    const team = await createTeam(database.db, { name: "Addressed", slug: "addressed" });
    for (const name of ["alice", "bob", "carol", "dave"]) {
      readers.push(await authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token));
    }
    const written: number[] = [];
    for (let index = 0; index < 240; index++) {
      const author = pick(readers);
      const mention = random() < 0.25 ? ` @${pick(readers).agentName}` : "";
      const parentId = written.length > 0 && random() < 0.45 ? pick(written) : undefined;
      const { post } = await createPost(database.db, author, { content: `note ${index}${mention}`, parentId });
      written.push(post.id);
    }
    // Engineers mark posts urgent and moderators delete some: set here directly, as both only change these columns.
    await database.db.execute(sql`update posts set urgent = true where id % 17 = 3`);
    await database.db.execute(sql`update posts set deleted_at = now() where id % 23 = 5`);
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  /** Counted row by row, as the posts a reader is given are marked. */
  async function addressedRowByRow(reader: AgentCaller): Promise<number> {
    const [cursor] = await database.db
      .select({ txId: sql<string>`${readCursors.lastTxId}::text`, postId: readCursors.lastPostId })
      .from(readCursors)
      .where(and(eq(readCursors.agentId, reader.agentId), eq(readCursors.readerName, "")));
    const after = cursor ? sql`(${posts.txId}, ${posts.id}) > (${cursor.txId}::xid8, ${cursor.postId}::bigint)` : sql`true`;
    const { mentionsReader, repliesToReader } = addressColumns(reader);
    const addressedByRow = sql`(${posts.urgent} or ${mentionsReader} or ${repliesToReader})`;
    const byOthers = sql`(${posts.agentId} is distinct from ${reader.agentId} or ${posts.authorName} <> ${reader.displayName})`;
    const [row] = await database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(posts)
      .where(and(eq(posts.teamId, reader.teamId), isNull(posts.deletedAt), byOthers, after, addressedByRow));
    return Number(row?.count ?? 0);
  }

  it("agree with the row-by-row count for every reader, before a first read and as each reads on", async () => {
    const seen: number[] = [];
    for (const reader of readers) {
      const before = await unreadSummary(database.db, reader);
      expect(before.firstRead).toBe(true);
      expect(before.addressed.count).toBe(await addressedRowByRow(reader));
      seen.push(before.addressed.count);
    }
    // Every reader has something addressed to it, so a count that missed a reason would differ.
    expect(Math.min(...seen)).toBeGreaterThan(10);

    // A first read places a reader at the newest post; its position is moved back to read through the board.
    for (const reader of readers) {
      await readUnread(database.db, reader, 1);
      await database.db
        .update(readCursors)
        .set({ lastTxId: sql`'0'::xid8`, lastPostId: 0, addressedBeforePostId: null })
        .where(eq(readCursors.agentId, reader.agentId));
      for (const step of [7, 31, 60, 1]) {
        const page = await readUnread(database.db, reader, step);
        const expected = await addressedRowByRow(reader);
        expect(page.addressedRemaining).toEqual({ count: expected, capped: false });
        expect((await unreadSummary(database.db, reader)).addressed.count).toBe(expected);
      }
    }
  });

  it("the feed narrowed to what is for the reader holds the posts by others marked row by row, newest first, page after page", async () => {
    for (const reader of readers) {
      const { mentionsReader, repliesToReader } = addressColumns(reader);
      const expected = (
        await database.db
          .select({ id: posts.id })
          .from(posts)
          .where(
            and(
              eq(posts.teamId, reader.teamId),
              isNull(posts.deletedAt),
              sql`(${posts.agentId} is distinct from ${reader.agentId} or ${posts.authorName} <> ${reader.displayName})`,
              sql`(${posts.urgent} or ${mentionsReader} or ${repliesToReader})`,
            ),
          )
          .orderBy(sql`${posts.createdAt} desc, ${posts.id} desc`)
      ).map((row) => row.id);
      expect(expected.length).toBeGreaterThan(10);
      const found: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await listPosts(database.db, reader, { limit: 7, forMe: true, cursor });
        found.push(...page.posts.map((post) => post.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(found).toEqual(expected);
    }
  });

  it("past 1,000 unread posts both counts say 'at least', counting what is addressed among the first 1,000", async () => {
    const team = await createTeam(database.db, { name: "Deep", slug: "deep" });
    const agent = async (name: string) =>
      authenticateAgentToken(database.db, (await addAgentToken(database.db, cli, { teamId: team.id, name })).token);
    const [erin, frank] = [await agent("erin"), await agent("frank")];
    await database.db.execute(sql`
      insert into posts (team_id, author_kind, agent_id, author_name, content, mentioned_agent_ids)
      select ${team.id}, 'agent', ${frank.agentId}, 'frank', 'deep note ' || g,
        case when g % 100 = 0 then array[${erin.agentId}::uuid] else '{}'::uuid[] end
      from generate_series(1, 1500) g`);
    await readUnread(database.db, erin, 1);
    await database.db
      .update(readCursors)
      .set({ lastTxId: sql`'0'::xid8`, lastPostId: 0, addressedBeforePostId: null })
      .where(eq(readCursors.agentId, erin.agentId));
    // Ten of the first thousand mention erin (posts 100, 200, ... 1,000), fifteen of all.
    expect(await unreadSummary(database.db, erin)).toEqual({
      unread: { count: 1000, capped: true },
      addressed: { count: 10, capped: true },
      firstRead: false,
    });
    const page = await readUnread(database.db, erin, 600);
    expect(page.remaining).toEqual({ count: 900, capped: false });
    expect(page.addressedRemaining).toEqual({ count: 9, capped: false });
  });

  it("agree on each reason alone: urgent, a mention, a reply in a thread the reader wrote in", async () => {
    const [alice, bob] = readers as [AgentCaller, AgentCaller];
    for (const reader of [alice, bob]) await readUnread(database.db, reader, 1000);
    const { post: root } = await createPost(database.db, alice, { content: "alice's thread" });
    await createPost(database.db, bob, { content: "bob answers", parentId: root.id });
    await createPost(database.db, bob, { content: `@${alice.agentName} look` });
    const { post: urgent } = await createPost(database.db, bob, { content: "soon urgent" });
    await database.db.update(posts).set({ urgent: true }).where(eq(posts.id, urgent.id));
    await createPost(database.db, bob, { content: "for no one" });
    expect((await unreadSummary(database.db, alice)).addressed).toEqual({ count: 3, capped: false });
    expect(await addressedRowByRow(alice)).toBe(3);
    // Bob's own posts are not news to him; alice's root is not a reply to bob's earlier post.
    expect((await unreadSummary(database.db, bob)).addressed).toEqual({ count: 0, capped: false });
    expect(await addressedRowByRow(bob)).toBe(0);
  });
});
