import { and, asc, eq, sql } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { posts } from "../db/schema/index.ts";
import type { DeliveryPosition } from "./delivery.ts";
import { postColumns, toPost, type Post, type PostRow } from "./posts.ts";

/**
 * Posts changed in place (a moderator's removal, a deleted engineer's posts signed anew) are announced
 * to live feeds once, as they commit: a page whose stream was down then missed the change. So each
 * change records its transaction's id (posts.changed_tx_id), on the delivery order's clock
 * (docs/decisions/047-live-changes-replayed.md).
 * A post is delivered only once every older transaction has ended, so a page given a post was given,
 * by then, every change made by an older transaction: what it missed was made by a newer one.
 */

/** Where a page's missed changes start: its place in delivery order and, when it says, the line it was read at. */
export type ChangesFrom = { position: DeliveryPosition; line?: string };

/**
 * The team's posts changed by transactions at or after the one that wrote the post at `position`, or
 * after `line` (a page read when every older transaction had ended, server/domain/delivery.ts
 * `liveStart`) if it lies further on: as they are now, in the order of their last change, at most `limit`.
 */
export async function postsChangedSince(db: Db, caller: Caller, from: ChangesFrom, limit: number): Promise<Post[]> {
  requireScope(caller, "read");
  const since = from.line !== undefined && BigInt(from.line) > BigInt(from.position.txId) ? from.line : from.position.txId;
  const rows = await db
    .select(postColumns)
    .from(posts)
    .where(changedSince(caller.teamId, since))
    .orderBy(asc(posts.changedTxId))
    .limit(limit)
    .prepare("posts_changed_since")
    .execute();
  return rows.map(toPost);
}

/** A change as a process's live feed hands it out: the post as it is now, its place in delivery order, the transaction that last changed it. */
export type DeliveredChange = { post: Post; position: DeliveryPosition; changedTxId: string };

/**
 * The team's posts changed by transactions at or after `since`, in the order of their last change, at
 * most `limit`: what a process's live feed may have missed while it was not listening (server/domain/live-feed.ts).
 */
export async function teamPostsChangedSince(db: Db, teamId: string, since: string, limit: number): Promise<DeliveredChange[]> {
  const rows = await db
    .select(deliveredChangeColumns)
    .from(posts)
    .where(changedSince(teamId, since))
    .orderBy(asc(posts.changedTxId))
    .limit(limit)
    .prepare("team_posts_changed_since")
    .execute();
  return rows.map(toDeliveredChange);
}

/** The team's posts that this transaction changed last, at most `limit` (one announcement may stand for thousands). */
export async function teamPostsChangedBy(db: Db, teamId: string, changedTxId: string, limit: number): Promise<DeliveredChange[]> {
  const rows = await db
    .select(deliveredChangeColumns)
    .from(posts)
    .where(and(eq(posts.teamId, teamId), sql`${posts.changedTxId} = ${changedTxId}::xid8`))
    .orderBy(asc(posts.id))
    .limit(limit)
    .prepare("team_posts_changed_by")
    .execute();
  return rows.map(toDeliveredChange);
}

const deliveredChangeColumns = {
  ...postColumns,
  positionTxId: sql<string>`${posts.txId}::text`,
  changedTxId: sql<string>`${posts.changedTxId}::text`,
};

function toDeliveredChange(row: PostRow & { positionTxId: string; changedTxId: string }): DeliveredChange {
  return { post: toPost(row), position: { txId: row.positionTxId, postId: Number(row.id) }, changedTxId: row.changedTxId };
}

function changedSince(teamId: string, since: string) {
  return and(eq(posts.teamId, teamId), sql`${posts.changedTxId} >= ${since}::xid8`);
}
