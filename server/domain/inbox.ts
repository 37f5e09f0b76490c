import { and, desc, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { Caller } from "./callers.ts";
import { withReadTimeout, type Db } from "../db/client.ts";
import { posts, users } from "../db/schema/index.ts";
import { invalid } from "./errors.ts";
import { postColumns, toPost, type Post } from "./posts.ts";

/**
 * An engineer's inbox: what in the team's feed waits for them. Posts that mention them, replies in
 * threads they posted in, posts tagged blocker or question, and urgent posts nobody has answered;
 * newest first, their own posts left out. The inbox page reads it whole (engineerInbox), the live
 * feed post by post for every engineer at once (engineersWaitedFor): one rule, written once here.
 */

export const inboxTags = ["blocker", "question"] as const;

export type InboxReason = "mention" | "reply" | "blocker" | "question" | "urgent";

export type InboxItem = { post: Post; reasons: InboxReason[] };

export const inboxSize = 50;

/** The reasons that call for an engineer at once (a browser notification); tagged posts wait in the inbox. */
export const notifyingReasons: readonly InboxReason[] = ["mention", "reply", "urgent"];

/** Why a post waits for the engineer whose id `engineer` is (a value or a column), one boolean column per reason. */
function reasonColumns(engineer: SQL) {
  return {
    mentionsMe: sql<boolean>`${engineer} = any(${posts.mentionedUserIds})`,
    // Spelled "posts"."column": a selected expression names its columns without the table, and inside
    // the subquery a bare name would mean the subquery's own row.
    repliesToMe: sql<boolean>`("posts"."root_id" is not null and exists (select 1 from posts mine
      where mine.team_id = "posts"."team_id" and (mine.id = "posts"."root_id" or mine.root_id = "posts"."root_id")
        and mine.id < "posts"."id" and mine.user_id = ${engineer}))`,
    urgentUnanswered: sql<boolean>`("posts"."urgent" and "posts"."parent_id" is null and not exists (select 1 from posts answer
      where answer.root_id = "posts"."id" and answer.deleted_at is null))`,
  };
}

/** The posts that wait for that engineer: live, someone else's, and with a reason. */
function waitsFor(engineer: SQL, columns: ReturnType<typeof reasonColumns>): SQL {
  const tagged = sql`${posts.tags} && array[${sql.join(
    inboxTags.map((tag) => sql`${tag}`),
    sql`, `,
  )}]::text[]`;
  return and(
    isNull(posts.deletedAt),
    sql`${posts.userId} is distinct from ${engineer}`,
    sql`(${columns.mentionsMe} or ${columns.repliesToMe} or ${columns.urgentUnanswered} or ${tagged})`,
  )!;
}

type ReasonRow = { mentionsMe: boolean; repliesToMe: boolean; urgentUnanswered: boolean; tags: string[] };

function reasonsOf(row: ReasonRow): InboxReason[] {
  const reasons: InboxReason[] = [];
  if (row.mentionsMe) reasons.push("mention");
  if (row.repliesToMe) reasons.push("reply");
  for (const tag of inboxTags) if (row.tags.includes(tag)) reasons.push(tag);
  if (row.urgentUnanswered) reasons.push("urgent");
  return reasons;
}

export async function engineerInbox(db: Db, caller: Caller): Promise<InboxItem[]> {
  if (caller.kind !== "human") throw invalid("Only an engineer has an inbox.");
  const engineer = sql`${caller.userId}::uuid`;
  const columns = reasonColumns(engineer);
  const rows = await withReadTimeout(db, inboxTooSlow, (reader) =>
    reader
      .select({ ...postColumns, ...columns })
      .from(posts)
      .where(and(eq(posts.teamId, caller.teamId), waitsFor(engineer, columns)))
      .orderBy(desc(posts.createdAt), desc(posts.id))
      .limit(inboxSize),
  );
  return rows.map((row) => ({ post: toPost(row), reasons: reasonsOf(row) }));
}

/**
 * Whether a reply in this thread can end a wait besides starting its own: an urgent first post waits
 * only until answered (urgentUnanswered above). Live inbox pages read the inbox again after one.
 */
export function replyEndsWaits(threadRoot: Pick<Post, "urgent">): boolean {
  return threadRoot.urgent;
}

function inboxTooSlow(timeoutMs: number): string {
  return `Reading the inbox took over ${timeoutMs / 1000} s and was stopped.`;
}

/**
 * The engineers of the team a new post waits for, each with why: one query per post, whoever is
 * watching, so the live feed tells each engineer's pages (the inbox takes it in, notifications ring).
 */
export async function engineersWaitedFor(db: Db, teamId: string, postId: number): Promise<Map<string, InboxReason[]>> {
  const engineer = sql`${users.id}`;
  const columns = reasonColumns(engineer);
  const rows = await db
    .select({ userId: users.id, tags: posts.tags, ...columns })
    .from(posts)
    .innerJoin(users, eq(users.teamId, posts.teamId))
    .where(and(eq(posts.id, postId), eq(posts.teamId, teamId), waitsFor(engineer, columns)));
  return new Map(rows.map((row) => [row.userId, reasonsOf(row)]));
}
