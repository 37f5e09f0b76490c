import { setImmediate as nextTurnOfEventLoop, setTimeout as delay } from "node:timers/promises";
import { sql, type SQL } from "drizzle-orm";
import { executePrepared, isThisProcessAlone, notifyWithinProcess, type Db } from "../db/client.ts";
import { logger } from "../logger.ts";
import { eventsChannel, type PostUpdatedEvent } from "./events.ts";
import { feedChanged } from "./feed-cache.ts";

/**
 * How a process tells every process that posts were written (docs/decisions/033-wake-ups-after-commit.md).
 *
 * A NOTIFY inside the writing transaction makes Postgres serialise that commit, fsync included, with
 * every other notifying commit of the cluster: 16 concurrent writers posted at a fifteenth of the speed.
 * So new posts are announced after they commit, as a wake-up naming only their team: listeners read
 * what is new from the database by their own position (server/domain/live-feed.ts), and a slow poll
 * there finds anything whose wake-up was lost (a writer that died between commit and announcement).
 * A process has at most one wake-up on its way at a time, which on Postgres waits a few milliseconds
 * for more teams to join it; teams that write meanwhile go in the next.
 */

/** Team ids are 36 characters: 100 of them keep a payload well under NOTIFY's 8,000 bytes. */
const teamsPerWakeUp = 100;

/**
 * How long a wake-up on Postgres waits for more posts to join it (docs/decisions/057-wake-ups-gather.md):
 * a NOTIFY is a statement of its own, and one a post was a tenth of a post's CPU.
 */
const wakeUpGatherMs = 5;

/** `sending`: the wake-ups on their way, settled when none waits. */
type Announcer = { waiting: Set<string>; sending: Promise<void> | undefined };
const announcers = new WeakMap<Db, Announcer>();

/**
 * Wakes every process's live feed of the team and drops its cached first pages (this process's at once):
 * call after the transaction that wrote the team's posts committed, with the database the server opened
 * (not a transaction). Returns at once; a wake-up that cannot be sent is logged, and the listeners'
 * poll delivers those posts a little later (cached pages expire within 2 s).
 */
export function announceNewPosts(db: Db, teamId: string): void {
  feedChanged(db, teamId);
  let announcer = announcers.get(db);
  if (!announcer) {
    announcer = { waiting: new Set(), sending: undefined };
    announcers.set(db, announcer);
  }
  announcer.waiting.add(teamId);
  announcer.sending ??= sendWakeUps(db, announcer);
}

async function sendWakeUps(db: Db, announcer: Announcer): Promise<void> {
  try {
    while (announcer.waiting.size > 0) await sendWakeUp(db, announcer);
  } finally {
    announcer.sending = undefined;
  }
}

/**
 * Settles when the wake-ups announced on `db` have been sent: a command that wrote posts waits for it
 * before it closes the database, or its NOTIFY would find the connection ended and the live feeds
 * would hear of those posts only from their poll.
 */
export async function wakeUpsSent(db: Db): Promise<void> {
  await announcers.get(db)?.sending;
}

/**
 * Announces a changed post (removed by moderation) inside the transaction that changes it, so the
 * change and its announcement commit together: changes are rare, and unlike new posts a live feed
 * could not find a missed one by its position.
 */
export async function announcePostUpdated(tx: Db, event: Pick<PostUpdatedEvent, "teamId" | "postId" | "rootId">): Promise<void> {
  const payload: PostUpdatedEvent = { type: "post.updated", ...event };
  await notifyWithLine(tx, sql`${JSON.stringify(payload)}::jsonb || jsonb_build_object('changedTxId', pg_current_xact_id()::text)`);
}

/**
 * Announces that posts of the team changed in place (their author's name) inside the transaction
 * that changes them, which set their changed_tx_id: rare, so its serialised commit costs nothing that
 * matters. Live feeds read the posts by that id and send each open page its cards; cached first
 * pages (feed-cache.ts) are dropped. The caller also calls `feedChanged` after commit, for this
 * process's next read.
 */
export async function announcePostsChanged(tx: Db, teamId: string): Promise<void> {
  await notifyWithLine(
    tx,
    sql`jsonb_build_object('type', 'posts.changed', 'teamId', ${teamId}::text, 'changedTxId', pg_current_xact_id()::text)`,
  );
}

/**
 * The wake-up every process listens for: these teams' posts changed. A process alone on its database
 * (PGlite) wakes its own listeners in the next turn of the event loop, with the teams written until
 * then; a NOTIFY there cost the one engine 0.7 ms a post (docs/decisions/054-pglite-wake-ups-in-process.md).
 * On Postgres the NOTIFY goes after a few milliseconds, with the teams written until then.
 */
async function sendWakeUp(db: Db, announcer: Announcer): Promise<void> {
  if (isThisProcessAlone(db)) await nextTurnOfEventLoop();
  else await delay(wakeUpGatherMs);
  const teamIds = [...announcer.waiting].slice(0, teamsPerWakeUp);
  for (const teamId of teamIds) announcer.waiting.delete(teamId);
  const wakeUp = JSON.stringify({ type: "posts.created", teamIds });
  try {
    if (notifyWithinProcess(db, eventsChannel, wakeUp)) return;
    await executePrepared(db, wakeUpStatement, [eventsChannel, wakeUp]);
  } catch (error) {
    logger.warn({ error: String(error), teams: teamIds.length }, "could not wake live feeds; their poll will find the new posts");
  }
}

/**
 * The line every transaction below had ended by (events.ts), which every event carries: the oldest
 * transaction still running, which lets a listener know which announcements it has had.
 */
const lineNow = "jsonb_build_object('line', pg_snapshot_xmin(pg_current_snapshot())::text)";

/**
 * A wake-up as one text, prepared once per connection: built by drizzle, each NOTIFY cost twice the
 * CPU. The payload goes as text: a parameter typed jsonb would be JSON-encoded again by the driver.
 */
const wakeUpStatement = `select pg_notify($1, ($2::text::jsonb || ${lineNow})::text)`;

/** Sends a JSON event with the line (inside a transaction, which `executePrepared` does not run in). */
async function notifyWithLine(db: Db, event: SQL): Promise<void> {
  await db.execute(sql`select pg_notify(${eventsChannel}, (${event} || ${sql.raw(lineNow)})::text)`);
}
