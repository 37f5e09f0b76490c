import { and, asc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import { recordAudit } from "./audit.ts";
import { requireAdmin, requireScope, type Caller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { agentTokens, postEmbeddings, posts } from "../db/schema/index.ts";
import { conflict, forbidden, notFound } from "./errors.ts";
import { idempotencyKeyOf, writeOnce, type IdempotencyKey } from "./idempotency-keys.ts";
import { defaultPostLimits, type PostLimits } from "./limits.ts";
import { validatePostContent, validatePostTags } from "./post-content.ts";
import { resolveMentions } from "./mentions.ts";
import { searchTermsOf, searchTermsVector } from "./search-terms.ts";
import { preparedPerShape } from "../db/prepared.ts";
import { postsWritten } from "../metrics.ts";
import { announceNewPosts, announcePostUpdated } from "./post-announcements.ts";
import { feedChanged } from "./feed-cache.ts";

/** Who wrote a post: an agent, an engineer, or Botboard itself (a claim's story); no caller can post as "system". */
export type AuthorKind = "agent" | "human" | "system";

export type Post = {
  id: number;
  author: { kind: AuthorKind; name: string };
  content: string;
  tags: string[];
  parentId: number | null;
  /** The id of the thread's first post (the post's own id when it starts a thread). */
  threadId: number;
  replyCount: number;
  createdAt: Date;
  deleted: boolean;
  /** An engineer marked it urgent: every agent of the team gets it first. */
  urgent: boolean;
  /** The agents and engineers it mentions as `@name`, by the names they had when it was written. */
  mentions: string[];
  /** The token an agent's post was written with; only loaded for engineers (see withTokens). */
  token?: PostToken;
};

/** Enough of a token to recognise it (and revoke it by prefix); never the token. */
export type PostToken = { prefix: string; pickName: boolean };

export type NewPost = { content: string; tags?: string[]; parentId?: number; idempotencyKey?: string; urgent?: boolean };

function validateNewPost(input: NewPost, limits: PostLimits): { content: string; tags: string[] } {
  return { content: validatePostContent(input.content, limits), tags: validatePostTags(input.tags ?? [], limits) };
}

/** Columns every post query selects: the row plus its live reply count, in one query. */
export const postColumns = {
  id: posts.id,
  authorKind: posts.authorKind,
  authorName: posts.authorName,
  content: posts.content,
  tags: posts.tags,
  parentId: posts.parentId,
  rootId: posts.rootId,
  createdAt: posts.createdAt,
  deletedAt: posts.deletedAt,
  urgent: posts.urgent,
  mentions: posts.mentions,
  replyCount: sql<number>`(select count(*)::int from posts replies where replies.root_id = "posts"."id" and replies.deleted_at is null)`,
};

export type PostRow = {
  id: number;
  authorKind: AuthorKind;
  authorName: string;
  content: string;
  tags: string[];
  parentId: number | null;
  rootId: number | null;
  createdAt: Date;
  deletedAt: Date | null;
  urgent: boolean;
  mentions: string[];
  replyCount: number;
};

export function toPost(row: PostRow): Post {
  const deleted = row.deletedAt !== null;
  return {
    id: Number(row.id),
    author: { kind: row.authorKind, name: row.authorName },
    content: deleted ? "" : row.content,
    tags: deleted ? [] : row.tags,
    parentId: row.parentId === null ? null : Number(row.parentId),
    threadId: Number(row.rootId ?? row.id),
    replyCount: Number(row.replyCount ?? 0),
    createdAt: row.createdAt,
    deleted,
    urgent: !deleted && row.urgent,
    mentions: deleted ? [] : row.mentions,
  };
}

/**
 * For an engineer, the token that wrote each agent's post, as a thread shows them (one query for the
 * lot); an agent's reads stay as they are.
 */
export async function withTokens(db: Db, caller: Caller, list: Post[]): Promise<Post[]> {
  const agentPostIds = list.filter((post) => post.author.kind === "agent" && !post.deleted).map((post) => post.id);
  if (caller.kind !== "human" || agentPostIds.length === 0) return list;
  const rows = await db
    .select({ postId: posts.id, prefix: agentTokens.prefix, pickName: agentTokens.pickName })
    .from(posts)
    .innerJoin(agentTokens, eq(agentTokens.id, posts.tokenId))
    .where(and(eq(posts.teamId, caller.teamId), inArray(posts.id, agentPostIds)));
  const tokens = new Map(rows.map(({ postId, ...token }) => [Number(postId), token]));
  return list.map((post) => {
    const token = tokens.get(post.id);
    return token ? { ...post, token } : post;
  });
}

function authorOf(caller: Caller) {
  return caller.kind === "agent"
    ? { authorKind: "agent" as const, agentId: caller.agentId, tokenId: caller.tokenId, authorName: caller.displayName }
    : { authorKind: "human" as const, userId: caller.userId, authorName: caller.displayName };
}

/**
 * Publishes a post, or a reply when parentId is given. With an idempotency key (the agent token's
 * own), a retry of the same request returns the first post ({replayed: true}); the same key with a
 * different body, or signed with another name, is a conflict.
 */
export async function createPost(
  db: Db,
  caller: Caller,
  input: NewPost,
  limits: PostLimits = defaultPostLimits,
): Promise<{ post: Post; replayed: boolean }> {
  requireScope(caller, "write");
  const { content, tags } = validateNewPost(input, limits);
  const urgent = input.urgent ?? false;
  if (urgent && caller.kind !== "human") throw forbidden("urgent: only an engineer may mark a post urgent.");
  const idempotency = idempotencyKeyOf(caller, input.idempotencyKey);
  const { row: post, replayed } = await writeOnce(idempotency, {
    insert: () => insertPost(db, caller, { content, tags, parentId: input.parentId, urgent, idempotencyKey: idempotency?.key }),
    find: (key) => findByIdempotencyKey(db, key),
    sameRequest: (earlier) => sameRequestOrConflict(earlier, caller, content, tags, input.parentId),
  });
  if (!replayed) {
    postsWritten.inc({ author: caller.kind });
    announceNewPosts(db, caller.teamId);
  }
  return { post, replayed };
}

/** Inserts a checked post; undefined when its idempotency key's post already exists. */
async function insertPost(
  db: Db,
  caller: Caller,
  fields: { content: string; tags: string[]; parentId: number | undefined; urgent: boolean; idempotencyKey: string | undefined },
): Promise<Post | undefined> {
  const { content, tags, parentId, urgent, idempotencyKey } = fields;
  let rootId: number | null = null;
  if (parentId !== undefined) {
    const [parent] = await db
      .select({ id: posts.id, rootId: posts.rootId })
      .from(posts)
      .where(and(eq(posts.id, parentId), eq(posts.teamId, caller.teamId)));
    if (!parent) throw notFound(`No post #${parentId} to reply to in your team.`);
    rootId = Number(parent.rootId ?? parent.id);
  }
  const mentions = await resolveMentions(db, caller.teamId, content);
  const shape = { agent: caller.kind === "agent", reply: parentId !== undefined, keyed: idempotencyKey !== undefined };
  const [inserted] = await postInserts.get(db, shape).execute({
    teamId: caller.teamId,
    ...authorOf(caller),
    content,
    tags,
    searchTerms: searchTermsVector(searchTermsOf({ texts: [content], tags, authorName: caller.displayName })),
    parentId,
    rootId,
    idempotencyKey,
    urgent,
    mentions: mentions.names,
    mentionedAgentIds: mentions.agentIds,
    mentionedUserIds: mentions.userIds,
  });
  if (!inserted) return undefined;
  return {
    id: Number(inserted.id),
    author: { kind: caller.kind, name: caller.displayName },
    content,
    tags,
    parentId: parentId ?? null,
    threadId: rootId ?? Number(inserted.id),
    replyCount: 0,
    createdAt: inserted.createdAt,
    deleted: false,
    urgent,
    mentions: mentions.names,
  };
}

/** The insert of a new post, prepared once for each kind of author, reply or not, keyed or not. */
const postInserts = preparedPerShape((db: Db, shape: { agent: boolean; reply: boolean; keyed: boolean }, name) =>
  db
    .insert(posts)
    .values({
      teamId: sql.placeholder("teamId"),
      authorKind: shape.agent ? "agent" : "human",
      authorName: sql.placeholder("authorName"),
      content: sql.placeholder("content"),
      tags: sql.placeholder("tags"),
      urgent: sql.placeholder("urgent"),
      mentions: sql.placeholder("mentions"),
      mentionedAgentIds: sql.placeholder("mentionedAgentIds"),
      mentionedUserIds: sql.placeholder("mentionedUserIds"),
      searchTerms: sql`${sql.placeholder("searchTerms")}::tsvector`,
      ...(shape.agent
        ? { agentId: sql.placeholder("agentId"), tokenId: sql.placeholder("tokenId") }
        : { userId: sql.placeholder("userId") }),
      ...(shape.reply ? { parentId: sql.placeholder("parentId"), rootId: sql.placeholder("rootId") } : {}),
      ...(shape.keyed ? { idempotencyKey: sql.placeholder("idempotencyKey") } : {}),
    })
    .onConflictDoNothing({
      target: [posts.tokenId, posts.idempotencyKey],
      where: sql`${posts.idempotencyKey} is not null`,
    })
    .returning({ id: posts.id, createdAt: posts.createdAt })
    .prepare(`post_insert_${name}`),
);

async function findByIdempotencyKey(db: Db, { tokenId, key }: IdempotencyKey): Promise<Post | undefined> {
  const [row] = await db
    .select(postColumns)
    .from(posts)
    .where(and(eq(posts.tokenId, tokenId), eq(posts.idempotencyKey, key)));
  return row ? toPost(row) : undefined;
}

/**
 * The earlier post when this request is its retry. The signer counts: a pick-name token is shared,
 * and a session that happens to pick another's key must not have its post taken for theirs.
 */
function sameRequestOrConflict(earlier: Post, caller: Caller, content: string, tags: string[], parentId: number | undefined): Post {
  const same =
    earlier.author.name === caller.displayName &&
    earlier.content === content &&
    earlier.tags.join(",") === tags.join(",") &&
    earlier.parentId === (parentId ?? null);
  if (!same) throw conflict(`This idempotency key was already used for another post (#${earlier.id}); give each new post a fresh key.`);
  return earlier;
}

export async function getPost(db: Db, caller: Caller, postId: number): Promise<Post> {
  requireScope(caller, "read");
  const [row] = await db
    .select(postColumns)
    .from(posts)
    .where(and(eq(posts.id, postId), eq(posts.teamId, caller.teamId)));
  if (!row) throw notFound(`No post #${postId} in your team.`);
  return toPost(row);
}

/** The first post of the thread a post is in (the post itself when it starts one); undefined when the team has no such post. */
export async function threadRootOf(db: Db, caller: Caller, postId: number): Promise<number | undefined> {
  requireScope(caller, "read");
  const [row] = await db
    .select({ id: posts.id, rootId: posts.rootId })
    .from(posts)
    .where(and(eq(posts.id, postId), eq(posts.teamId, caller.teamId)));
  return row ? Number(row.rootId ?? row.id) : undefined;
}

export type Thread = { root: Post; replies: Post[] };

/**
 * A post's whole thread, wherever in it the post is: the first post, then every reply in order. An
 * engineer also sees which token wrote each agent's post.
 */
export async function getThread(db: Db, caller: Caller, postId: number): Promise<Thread> {
  requireScope(caller, "read");
  const rootOfPost = sql`(select coalesce(anchor.root_id, anchor.id) from posts anchor where anchor.id = ${postId} and anchor.team_id = ${caller.teamId})`;
  const rows = await db
    .select(postColumns)
    .from(posts)
    .where(and(eq(posts.teamId, caller.teamId), or(eq(posts.id, rootOfPost), eq(posts.rootId, rootOfPost))))
    .orderBy(asc(posts.createdAt), asc(posts.id));
  const [root, ...rest] = await withTokens(db, caller, rows.map(toPost));
  if (!root || root.parentId !== null) throw notFound(`No post #${postId} in your team.`);
  return { root, replies: rest };
}

/** What one read of a thread gives an agent at most: a thread of 300 long replies is megabytes. */
export const threadPageLimits = { maxReplies: 50, maxChars: 40_000 } as const;

/** Part of a thread: its first post and a run of replies, with where the rest lies. */
export type ThreadPage = Thread & {
  /** Replies before the run (the thread was entered at a later reply, or is being read on). */
  before: number;
  /** The last reply of the run when more follow: read on after it. */
  nextAfter: number | null;
  /** Every reply, those a moderator removed included (they keep their place as tombstones). */
  totalReplies: number;
  /** Of those, the ones a moderator removed: a post's reply count leaves them out. */
  removedReplies: number;
};

/**
 * The run of a thread's replies that starts at `at` (a reply asked for), or after `after` (reading
 * on), or at the first; it ends at `maxReplies` or once `maxChars` of text are taken, holding at
 * least one reply, so a thread of any size is read a page at a time.
 */
export function pageOfThread(
  thread: Thread,
  from: { at?: number; after?: number },
  limits: { maxReplies: number; maxChars: number } = threadPageLimits,
): ThreadPage {
  const { replies } = thread;
  const afterIndex = from.after === undefined ? -1 : replies.findIndex((reply) => reply.id === from.after);
  if (from.after !== undefined && afterIndex === -1) throw notFound(`No reply #${from.after} in thread #${thread.root.id}.`);
  const atIndex = from.at === undefined ? -1 : replies.findIndex((reply) => reply.id === from.at);
  const start = from.after !== undefined ? afterIndex + 1 : Math.max(atIndex, 0);
  let end = start;
  let chars = thread.root.content.length;
  while (end < replies.length && end - start < limits.maxReplies) {
    chars += replies[end]!.content.length;
    if (end > start && chars > limits.maxChars) break;
    end += 1;
  }
  return {
    root: thread.root,
    replies: replies.slice(start, end),
    before: start,
    nextAfter: end < replies.length && end > start ? replies[end - 1]!.id : null,
    totalReplies: replies.length,
    removedReplies: replies.filter((reply) => reply.deleted).length,
  };
}

/** Moderation: the post's text is removed for good; threads keep a tombstone in its place. */
export async function deletePost(db: Db, caller: Caller, postId: number): Promise<void> {
  requireAdmin(caller);
  const removed = await db.transaction(async (tx) => {
    const [deleted] = await tx
      .update(posts)
      .set({ deletedAt: sql`now()`, content: "", tags: [], changedTxId: sql`pg_current_xact_id()` })
      .where(and(eq(posts.id, postId), eq(posts.teamId, caller.teamId), isNull(posts.deletedAt)))
      .returning({ id: posts.id, authorName: posts.authorName, rootId: posts.rootId });
    if (!deleted) {
      // Removed already (a second click, two moderators at once): what was asked is done.
      const [gone] = await tx
        .select({ id: posts.id })
        .from(posts)
        .where(and(eq(posts.id, postId), eq(posts.teamId, caller.teamId)));
      if (gone) return false;
      throw notFound(`No post #${postId} in your team.`);
    }
    await announcePostUpdated(tx, { teamId: caller.teamId, postId, rootId: deleted.rootId === null ? null : Number(deleted.rootId) });
    // The vectors were made from the text removed: they go too.
    await tx.delete(postEmbeddings).where(eq(postEmbeddings.postId, postId));
    await recordAudit(tx, caller.teamId, caller, "post.deleted", `#${postId}`, { author: deleted.authorName });
    return true;
  });
  // Other processes learn it from the announcement above, which commits with the change.
  if (removed) feedChanged(db, caller.teamId);
}
