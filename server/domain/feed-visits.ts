import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { posts, users } from "../db/schema/index.ts";
import type { HumanCaller } from "./callers.ts";
import { notFound } from "./errors.ts";

/**
 * An engineer's place in the feed across devices: the newest post they had been shown when they
 * last opened the feed or left it (users.feed_seen_post_id). The feed draws its "new since your last
 * visit" line under the posts newer than that. It moves when the newest page of the whole feed is
 * opened and when that page is left (with the posts it showed live), never on a live post and never
 * back. docs/decisions/030-last-visit-and-code-links.md says why.
 */

/**
 * Opens the feed: returns the newest post the engineer had been shown before (null on their first
 * visit) and moves the mark to `newestShown`, the newest post this page shows.
 */
export async function openFeedVisit(db: Db, caller: HumanCaller, newestShown: number): Promise<number | null> {
  return db.transaction(async (tx) => {
    const [user] = await tx
      .select({ seen: users.feedSeenPostId })
      .from(users)
      .where(and(eq(users.id, caller.userId), eq(users.teamId, caller.teamId)))
      .for("update");
    if (!user) throw notFound("No such engineer.");
    // Even an empty feed is a visit: what arrives next is new.
    if (user.seen === null || newestShown > user.seen)
      await tx.update(users).set({ feedSeenPostId: newestShown }).where(eq(users.id, caller.userId));
    return user.seen;
  });
}

/** The engineer left a feed page that had shown posts up to `postId` (its own team's): the mark moves there, never back. */
export async function recordFeedSeen(db: Db, caller: HumanCaller, postId: number): Promise<void> {
  const [post] = await db
    .select({ id: posts.id })
    .from(posts)
    .where(and(eq(posts.id, postId), eq(posts.teamId, caller.teamId)));
  if (!post) throw notFound(`postId ${postId} is not a post of your team.`);
  await db
    .update(users)
    .set({ feedSeenPostId: sql`greatest(coalesce(${users.feedSeenPostId}, 0), ${postId})` })
    .where(and(eq(users.id, caller.userId), eq(users.teamId, caller.teamId)));
}
