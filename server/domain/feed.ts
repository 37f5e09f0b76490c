import { and, desc, eq, inArray, isNull, or, sql, type Placeholder, type SQL } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import { withReadTimeout, type Db } from "../db/client.ts";
import { preparedPerShape } from "../db/prepared.ts";
import { posts } from "../db/schema/index.ts";
import { decodeCursor, encodeCursor } from "./cursors.ts";
import { normalizeTag } from "./post-content.ts";
import { postColumns, threadRootOf, toPost, type Post } from "./posts.ts";
import { addressedAmong, writtenByOthers } from "./addressing.ts";
import { signedNamesOf } from "./mentions.ts";
import { readFirstPage } from "./feed-cache.ts";
import { invalid } from "./errors.ts";
import { requireNoNulByte } from "./untrusted-text.ts";
import { countFitting } from "./limits.ts";

/** The team's feed: newest first, narrowed by author, tag or thread, paged by cursor or offset. */

export type PostFilters = {
  limit: number;
  cursor?: string;
  /** Skips this many posts; for clients of the compatible API. Ignored when a cursor is given. */
  offset?: number;
  author?: string;
  tag?: string;
  threadId?: number;
  /** Only posts addressed to the calling agent: mentions of it, replies in its threads, urgent posts. */
  forMe?: boolean;
  /** Only posts that start a thread (the engineers' collapsed view); replies are summed up on them. */
  topLevel?: boolean;
};

export type PostPage = { posts: Post[]; nextCursor: string | null };

/** What narrows a feed: one author's posts, one tag, one thread. */
export type FeedFilters = Pick<PostFilters, "author" | "tag" | "threadId" | "topLevel">;

/** The team's feed, newest first, paged by an opaque cursor over (created_at, id). */
export async function listPosts(
  db: Db,
  caller: Caller,
  asked: PostFilters,
  /** The most characters of posts the page holds, at least one post; the cursor goes on from the last shown. */
  maxChars?: number,
): Promise<PostPage> {
  requireScope(caller, "read");
  const filters = await filtersAsQueried(db, caller, asked);
  const cursorId = filters.cursor ? decodeCursor(filters.cursor) : undefined;
  const shape = { ...feedShapeOf(filters), cursor: cursorId !== undefined };
  const offset = cursorId === undefined ? (filters.offset ?? 0) : 0;
  const read = async (reader: Db, limit = filters.limit) =>
    (await feedQueries.get(reader, shape).execute({ ...feedValues(caller, filters), cursorId, limit: limit + 1, offset })).map(toPost);
  // A page of the whole feed walks its index for `limit` rows at most. A filter (a rare tag may be
  // looked for through the whole feed) or an offset can cost more: those run under the read timeout.
  const readBounded = (limit?: number) =>
    isFiltered(filters) || offset > 0 ? withReadTimeout(db, feedTooSlow, (reader) => read(reader, limit)) : read(db, limit);
  // The newest page of the whole feed (or of its threads) is the same for every reader of the team: cached.
  const found = filters.forMe
    ? (await withReadTimeout(db, feedTooSlow, (reader) => readAddressed(reader, caller, filters, cursorId, offset))).map(toPost)
    : isNarrowed(filters) || offset > 0 || cursorId !== undefined
      ? await readBounded()
      : await readFirstPage(db, caller.teamId, Boolean(filters.topLevel), filters.limit, readBounded);
  const full = found.slice(0, filters.limit);
  const shown = maxChars === undefined ? full.length : countFitting(full, maxChars, (post) => post.content.length);
  const page = full.slice(0, shown);
  const last = page.at(-1);
  return { posts: page, nextCursor: found.length > page.length && last ? encodeCursor(last.id) : null };
}

/**
 * The filters as the query takes them: a NUL refused naming its filter (the database would refuse
 * it without a name); an author filter names the author as posts are signed (`ALICE` is alice, an
 * engineer's username is their display name); a thread filter may name any post of the thread, a
 * reply too (a reply's parent can be a reply), and means the whole thread.
 */
async function filtersAsQueried<Filters extends FeedFilters>(db: Db, caller: Caller, filters: Filters): Promise<Filters> {
  requireNoNulByte("the tag filter", filters.tag);
  requireNoNulByte("the author filter", filters.author);
  const [author] = filters.author ? await signedNamesOf(db, caller.teamId, [filters.author]) : [filters.author];
  const threadId = filters.threadId === undefined ? undefined : ((await threadRootOf(db, caller, filters.threadId)) ?? filters.threadId);
  return { ...filters, author, threadId };
}

/** Whether an author, tag or thread narrows the feed (showing only thread starters does not leave out a thread). */
function isNarrowed(filters: FeedFilters): boolean {
  return Boolean(filters.author) || Boolean(filters.tag) || filters.threadId !== undefined;
}

/**
 * The feed narrowed to what is addressed to the caller, found from what is addressed (see
 * `addressedAmong`) rather than by reading the feed until enough is: an agent few posts are
 * addressed to read its team's whole feed. Not prepared, as the condition names the caller.
 */
function readAddressed(db: Db, caller: Caller, filters: PostFilters, cursorId: number | undefined, offset: number) {
  if (caller.kind !== "agent") throw invalid("for_me: only an agent has posts addressed to it.");
  // What an agent wrote itself is never addressed to it, though it may mention itself or reply in its own thread.
  const conditions = [...feedConditionsFor(caller, filters), writtenByOthers(caller)];
  if (cursorId !== undefined) conditions.push(olderThan(cursorId, caller.teamId));
  return db
    .select(postColumns)
    .from(posts)
    .where(inArray(posts.id, sql`(${addressedAmong(caller, and(...conditions)!)})`))
    .orderBy(desc(posts.createdAt), desc(posts.id))
    .limit(filters.limit + 1)
    .offset(offset);
}

/** How many posts the feed holds with these filters (for clients that page by offset). */
export async function countPosts(db: Db, caller: Caller, asked: FeedFilters): Promise<number> {
  requireScope(caller, "read");
  const filters = await filtersAsQueried(db, caller, asked);
  const [row] = await withReadTimeout(db, feedTooSlow, (reader) =>
    feedCounts.get(reader, feedShapeOf(filters)).execute(feedValues(caller, filters)),
  );
  return row?.count ?? 0;
}

/** What a read of the feed stopped by the read timeout answers. */
function feedTooSlow(timeoutMs: number): string {
  return `Reading the feed took over ${timeoutMs / 1000} s and was stopped: page with the cursor rather than a large offset, or narrow it by author or tag.`;
}

/** Which filters a feed query has: each combination is its own prepared query. */
type FeedShape = { author: boolean; tag: boolean; thread: boolean; topLevel: boolean };

/** Whether any filter narrows the feed (an unfiltered feed shows every post of the team). */
export function isFiltered(filters: FeedFilters): boolean {
  return Object.values(feedShapeOf(filters)).some(Boolean);
}

function feedShapeOf(filters: FeedFilters): FeedShape {
  return {
    author: Boolean(filters.author),
    tag: Boolean(filters.tag),
    thread: filters.threadId !== undefined,
    topLevel: Boolean(filters.topLevel),
  };
}

function feedValues(caller: Caller, filters: FeedFilters) {
  return {
    teamId: caller.teamId,
    author: filters.author || undefined,
    tag: filters.tag ? normalizeTag(filters.tag) : undefined,
    threadId: filters.threadId,
  };
}

type FeedParameter = keyof ReturnType<typeof feedValues>;

/** The feed's conditions, with each value from `parameter`: a placeholder when prepared, else the value. */
function feedConditions(shape: FeedShape, parameter: (name: FeedParameter) => SQL | Placeholder = sql.placeholder): SQL[] {
  const conditions = [eq(posts.teamId, parameter("teamId")), isNull(posts.deletedAt)];
  if (shape.author) conditions.push(eq(posts.authorName, parameter("author")));
  if (shape.tag) conditions.push(sql`${posts.tags} @> array[${parameter("tag")}]::text[]`);
  if (shape.topLevel) conditions.push(isNull(posts.parentId));
  if (shape.thread) {
    conditions.push(or(eq(posts.id, parameter("threadId")), eq(posts.rootId, parameter("threadId")))!);
  }
  return conditions;
}

/** The conditions of the caller's feed with these filters, for queries that are not prepared. */
export function feedConditionsFor(caller: Caller, filters: FeedFilters): SQL[] {
  const values = feedValues(caller, filters);
  return feedConditions(feedShapeOf(filters), (name) => sql`${values[name]}`);
}

const feedQueries = preparedPerShape((db: Db, shape: FeedShape & { cursor: boolean }, name) => {
  const conditions = feedConditions(shape);
  if (shape.cursor) conditions.push(olderThan(sql.placeholder("cursorId"), sql.placeholder("teamId")));
  return db
    .select(postColumns)
    .from(posts)
    .where(and(...conditions))
    .orderBy(desc(posts.createdAt), desc(posts.id))
    .limit(sql.placeholder("limit"))
    .offset(sql.placeholder("offset"))
    .prepare(`feed_${name}`);
});

const feedMembership = preparedPerShape((db: Db, shape: FeedShape, name) =>
  db
    .select({ id: posts.id })
    .from(posts)
    .where(and(...feedConditions(shape), eq(posts.id, sql.placeholder("postId"))))
    .prepare(`feed_has_${name}`),
);

const feedCounts = preparedPerShape((db: Db, shape: FeedShape, name) =>
  db
    .select({ count: sql<number>`count(*)::int` })
    .from(posts)
    .where(and(...feedConditions(shape)))
    .prepare(`feed_count_${name}`),
);

/** (created_at, id) strictly before the post a cursor names, compared in the database at full precision. */
function olderThan(postId: number | Placeholder, teamId: string | Placeholder): SQL {
  return sql`("posts"."created_at", "posts"."id") < (select anchor.created_at, anchor.id from posts anchor where anchor.id = ${postId} and anchor.team_id = ${teamId})`;
}

/** Whether the feed with these filters shows this post: what a filtered live feed sends. */
export async function isInFeed(db: Db, caller: Caller, postId: number, filters: FeedFilters): Promise<boolean> {
  requireScope(caller, "read");
  const rows = await feedMembership.get(db, feedShapeOf(filters)).execute({ ...feedValues(caller, filters), postId });
  return rows.length > 0;
}

/** The newest reply of a thread: who wrote it and when, for the collapsed feed's summary line. */
export type LatestReply = { id: number; authorName: string; createdAt: Date };

/** The newest visible reply of each of these threads (one query for a page of the feed). */
export async function latestReplies(db: Db, caller: Caller, rootIds: number[]): Promise<Map<number, LatestReply>> {
  requireScope(caller, "read");
  if (rootIds.length === 0) return new Map();
  const rows = await db
    .selectDistinctOn([posts.rootId], { rootId: posts.rootId, id: posts.id, authorName: posts.authorName, createdAt: posts.createdAt })
    .from(posts)
    .where(and(eq(posts.teamId, caller.teamId), inArray(posts.rootId, rootIds), isNull(posts.deletedAt)))
    .orderBy(posts.rootId, desc(posts.createdAt), desc(posts.id));
  return new Map(rows.map((row) => [row.rootId!, { id: row.id, authorName: row.authorName, createdAt: row.createdAt }]));
}

/** A thread's first post as it is now, and its newest visible reply: what the feeds show of the thread. */
export type ThreadHead = { root: Post; latest?: LatestReply };

/**
 * The heads of these threads whose first post is not removed (a removed one leaves the feeds), by
 * thread id: two queries whatever the number, for the replies a moderator removed.
 */
export async function threadHeads(db: Db, caller: Caller, rootIds: number[]): Promise<Map<number, ThreadHead>> {
  requireScope(caller, "read");
  const ids = [...new Set(rootIds)];
  if (ids.length === 0) return new Map();
  const [rows, latest] = await Promise.all([
    db
      .select(postColumns)
      .from(posts)
      .where(and(eq(posts.teamId, caller.teamId), inArray(posts.id, ids), isNull(posts.deletedAt))),
    latestReplies(db, caller, ids),
  ]);
  return new Map(rows.map(toPost).map((root) => [root.id, { root, latest: latest.get(root.id) }]));
}
