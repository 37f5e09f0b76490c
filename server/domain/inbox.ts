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
