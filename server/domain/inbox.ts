import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Caller } from "./callers.ts";
import { withReadTimeout, type Db } from "../db/client.ts";
import { posts } from "../db/schema/index.ts";
import { invalid } from "./errors.ts";
import { postColumns, toPost, type Post } from "./posts.ts";

/**
 * An engineer's inbox: what in the team's feed waits for them. Posts that mention them, replies in
 * threads they posted in, posts tagged blocker or question, and urgent posts nobody has answered;
 * newest first, their own posts left out.
 */

export const inboxTags = ["blocker", "question"] as const;

export type InboxReason = "mention" | "reply" | "blocker" | "question" | "urgent";

export type InboxItem = { post: Post; reasons: InboxReason[] };

export const inboxSize = 50;

export async function engineerInbox(db: Db, caller: Caller): Promise<InboxItem[]> {
  if (caller.kind !== "human") throw invalid("Only an engineer has an inbox.");
  const columns = {
    mentionsMe: sql<boolean>`${caller.userId}::uuid = any(${posts.mentionedUserIds})`,
    // Spelled "posts"."column": a selected expression names its columns without the table, and inside
    // the subquery a bare name would mean the subquery's own row.
    repliesToMe: sql<boolean>`("posts"."root_id" is not null and exists (select 1 from posts mine
      where mine.team_id = "posts"."team_id" and (mine.id = "posts"."root_id" or mine.root_id = "posts"."root_id")
        and mine.id < "posts"."id" and mine.user_id = ${caller.userId}))`,
    urgentUnanswered: sql<boolean>`("posts"."urgent" and "posts"."parent_id" is null and not exists (select 1 from posts answer
      where answer.root_id = "posts"."id" and answer.deleted_at is null))`,
  };
  const tagged = sql`${posts.tags} && array[${sql.join(
    inboxTags.map((tag) => sql`${tag}`),
    sql`, `,
  )}]::text[]`;
  const waiting = sql`(${columns.mentionsMe} or ${columns.repliesToMe} or ${columns.urgentUnanswered} or ${tagged})`;
  const rows = await withReadTimeout(db, inboxTooSlow, (reader) =>
    reader
      .select({ ...postColumns, ...columns })
      .from(posts)
      .where(and(eq(posts.teamId, caller.teamId), isNull(posts.deletedAt), sql`${posts.userId} is distinct from ${caller.userId}`, waiting))
      .orderBy(desc(posts.createdAt), desc(posts.id))
      .limit(inboxSize),
  );
  return rows.map((row) => {
    const post = toPost(row);
    const reasons: InboxReason[] = [];
    if (row.mentionsMe) reasons.push("mention");
    if (row.repliesToMe) reasons.push("reply");
    for (const tag of inboxTags) if (post.tags.includes(tag)) reasons.push(tag);
    if (row.urgentUnanswered) reasons.push("urgent");
    return { post, reasons };
  });
}

function inboxTooSlow(timeoutMs: number): string {
  return `Reading the inbox took over ${timeoutMs / 1000} s and was stopped.`;
}

/** Who among the team's engineers a new post is addressed to: its author, whom it mentions, who posted earlier in its thread. */
export type EngineerAddressing = { authorUserId: string | null; mentionedUserIds: string[]; threadUserIds: string[]; urgent: boolean };

/** One query per post, whoever is watching: the live feed works out each engineer's reasons from it (reasonsForEngineer). */
export async function engineersAddressedBy(db: Db, teamId: string, postId: number): Promise<EngineerAddressing | undefined> {
  const [row] = await db
    .select({
      authorUserId: posts.userId,
      mentionedUserIds: posts.mentionedUserIds,
      urgent: posts.urgent,
      threadUserIds: sql<string[]>`coalesce((select array_agg(distinct mine.user_id)::text[] from posts mine
        where "posts"."root_id" is not null and mine.team_id = "posts"."team_id" and mine.user_id is not null
          and (mine.id = "posts"."root_id" or mine.root_id = "posts"."root_id") and mine.id < "posts"."id"), '{}'::text[])`,
    })
    .from(posts)
    .where(and(eq(posts.id, postId), eq(posts.teamId, teamId)));
  return row;
}

/** Why a new post calls for this engineer now: mentions them, replies in their thread, or is urgent; never their own post. */
export function reasonsForEngineer(addressing: EngineerAddressing, userId: string): InboxReason[] {
  if (addressing.authorUserId === userId) return [];
  const reasons: InboxReason[] = [];
  if (addressing.mentionedUserIds.includes(userId)) reasons.push("mention");
  if (addressing.threadUserIds.includes(userId)) reasons.push("reply");
  if (addressing.urgent) reasons.push("urgent");
  return reasons;
}
