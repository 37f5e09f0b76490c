import { setTimeout as delay } from "node:timers/promises";
import { and, asc, desc, eq, isNull, notInArray, sql, type SQL } from "drizzle-orm";
import { requireScope, type AgentCaller, type Caller } from "./callers.ts";
import { isThisProcessAlone, rowsOf, type Db } from "../db/client.ts";
import { posts, readCursors, teams } from "../db/schema/index.ts";
import { AppError, invalid } from "./errors.ts";
import { logger } from "../logger.ts";
import { postColumns, toPost, type Post } from "./posts.ts";
import { feedConditionsFor, type FeedFilters } from "./feed.ts";
import { countFitting } from "./limits.ts";
import {
  addressColumns,
  addressedAmong,
  addressedFirst,
  addressedTo,
  reasonsOf,
  writtenByOthers,
  type AddressedPost,
} from "./addressing.ts";

/**
 * Delivery order: what a reader has not been given yet, so that each post reaches it once.
 *
 * A post's place is (tx_id, id): the id of the transaction that wrote it, then its own id. Readers
 * only go as far as the oldest transaction still writing (the delivery line below): every post below
 * that line is committed and visible, and any post still to come lands above it. So a reader that moves its
 * position to the last post it was given can never be past a post it has not seen, whatever order the
 * writers commit in (docs/decisions/015-delivery-order.md).
 *
 * The queries of a read whose SQL does not change with what is asked run prepared (`.prepare(name)`):
 * Postgres parses and plans each once per connection. Parsing the delivery line alone (it reads a
 * view) took longer than running a whole read.
 */

export type DeliveryPosition = { txId: string; postId: number };

export type DeliveredPost = { post: Post; position: DeliveryPosition };

/** Counts of unread posts stop here: a reader months behind costs no more than one a week behind. */
export const unreadCountCap = 1000;

/** A count that stops at the cap: `capped` means "at least `count`". */
export type CappedCount = { count: number; capped: boolean };

/** Orders two places in delivery order: negative when `a` comes first. */
export function comparePositions(a: DeliveryPosition, b: DeliveryPosition): number {
  const byTransaction = BigInt(a.txId) - BigInt(b.txId);
  return byTransaction !== 0n ? (byTransaction < 0n ? -1 : 1) : a.postId - b.postId;
}

/** "12", or "1,000+" when the count stopped at the cap. */
export function formatCount(count: CappedCount): string {
  return `${count.count.toLocaleString("en-US")}${count.capped ? "+" : ""}`;
}

const start: DeliveryPosition = { txId: "0", postId: 0 };

/**
 * The line below which every post is committed and visible: the oldest transaction still running, or
 * the next one to start. Transactions that pg_stat_activity shows in another database of the cluster
 * cannot have written posts here and are passed over (a backend never changes database), so a test
 * suite creating databases or another application's long write does not hold delivery back. Every
 * role sees every session's database and transaction id there (only what a session runs is hidden
 * without pg_read_all_stats), so this holds for an ordinary role too (test/delivery-line.test.ts).
 */
const deliveryLineAmongSessions = sql`(
  select coalesce(
    (select min(running) from pg_snapshot_xip(snapshot) as running
      where not exists (
        select 1 from pg_stat_activity elsewhere
        where elsewhere.datname <> current_database()
          and elsewhere.backend_xid::text = (running::text::bigint % 4294967296)::text)),
    pg_snapshot_xmax(snapshot))
  from pg_current_snapshot() as snapshot)`;

/**
 * The same line on PGlite, the database this process alone opens: its one session runs one
 * transaction at a time, so none other is ever running and the line is the next one to start. The
 * look at pg_stat_activity cost more than the rest of a caught-up read there, when PGlite planned
 * every statement anew (docs/decisions/052-pglite-delivery-line.md, and 055 since).
 */
const deliveryLineAlone = sql`(select pg_snapshot_xmax(pg_current_snapshot()))`;

function deliveryLineOf(db: Db): SQL {
  return isThisProcessAlone(db) ? deliveryLineAlone : deliveryLineAmongSessions;
}

/** Posts below the delivery line: what any reader can be given now. */
function deliverableOn(db: Db): SQL {
  return sql`${posts.txId} < ${deliveryLineOf(db)}`;
}

function after(position: DeliveryPosition): SQL {
  return sql`(${posts.txId}, ${posts.id}) > (${position.txId}::xid8, ${position.postId}::bigint)`;
}

function atOrBefore(position: DeliveryPosition): SQL {
  return sql`(${posts.txId}, ${posts.id}) <= (${position.txId}::xid8, ${position.postId}::bigint)`;
}

function before(position: DeliveryPosition): SQL {
  return sql`(${posts.txId}, ${posts.id}) < (${position.txId}::xid8, ${position.postId}::bigint)`;
}

const positionColumns = { txId: sql<string>`${posts.txId}::text`, postId: posts.id };
const deliveredColumns = { ...postColumns, positionTxId: sql<string>`${posts.txId}::text` };

function toDelivered(row: Awaited<ReturnType<typeof selectDelivered>>[number]): DeliveredPost {
  return { post: toPost(row), position: { txId: row.positionTxId, postId: Number(row.id) } };
}

function selectDelivered(db: Db, where: SQL | undefined, order: "oldest" | "newest", limit: number) {
  const direction = order === "oldest" ? asc : desc;
  return db.select(deliveredColumns).from(posts).where(where).orderBy(direction(posts.txId), direction(posts.id)).limit(limit);
}

/**
 * The place of one of the team's posts, which is how a live reader says where it stopped (its last
 * event id); 0 is the start of the order. Undefined for a post the team does not have.
 */
export async function positionOfPost(db: Db, teamId: string, postId: number): Promise<DeliveryPosition | undefined> {
  if (postId === 0) return start;
  const [row] = await db
    .select(positionColumns)
    .from(posts)
    .where(and(eq(posts.teamId, teamId), eq(posts.id, postId)))
    .prepare("position_of_post")
    .execute();
  return row ? { txId: row.txId, postId: Number(row.postId) } : undefined;
}

/**
 * How many times a read of the unread looks again while committed posts wait beyond the delivery
 * line. The write holding the line back is most often one that had just ended in another database:
 * the line passes over those by what pg_stat_activity shows, and Postgres reads that a moment after
 * the statement's snapshot, so one that ended in between counts as a write that may be ours. A fresh
 * snapshot no longer has it. A write still open in this database holds the line for as long as it
 * runs: then the posts come with a later read, as before.
 */
const looksAgainWhileWaiting = 2;

/**
 * A read, and again (`looksAgainWhileWaiting`) while it says committed posts wait beyond its line;
 * each time after 1 ms and a fresh look at pg_stat_activity (Postgres keeps one per transaction).
 */
async function lookingAgainWhileWaiting<Read extends { waiting: boolean }>(db: Db, read: () => Promise<Read>): Promise<Read> {
  let result = await read();
  for (let look = 0; result.waiting && look < looksAgainWhileWaiting; look++) {
    await delay(1);
    await db.execute(sql`select pg_stat_clear_snapshot()`);
    result = await read();
  }
  return result;
}

/** The delivery line now: every transaction of this database below it had ended (xid8 as text). */
export async function currentDeliveryLine(db: Db): Promise<string> {
  const [row] = await db
    .select({ line: sql<string>`${deliveryLineOf(db)}::text` })
    .from(sql`(select 1) as one`)
    .prepare("delivery_line")
    .execute();
  return row!.line;
}

/** Where a page's live stream starts (`liveStart`). */
export type LiveStart = {
  /** The newest place every reader can be given: live posts come after it. */
  horizon: DeliveryPosition;
  /** The delivery line: every transaction below it had ended, so a change the page may lack is by one at or above it. */
  line: string;
  /** Committed posts of the team lie beyond the line (their writer committed before an older write ended). */
  waiting: boolean;
};

/**
 * Where the live stream of a page read from now on starts (read it before the page), and where a
 * live feed or a reader's first read starts: the newest place every reader can be given.
 */
export async function liveStart(db: Db, teamId: string): Promise<LiveStart> {
  const [row] = await db
    .select({
      line: sql<string>`line.value::text`,
      txId: sql<string | null>`horizon.tx_id::text`,
      postId: sql<number | null>`horizon.id`,
      waiting: sql<boolean>`exists (select 1 from ${posts} where ${posts.teamId} = ${teamId} and ${posts.txId} >= line.value)`,
    })
    .from(
      sql`(select ${deliveryLineOf(db)} as value) as line left join lateral (
        select ${posts.txId}, ${posts.id} from ${posts}
        where ${posts.teamId} = ${teamId} and ${posts.txId} < line.value
        order by ${posts.txId} desc, ${posts.id} desc limit 1) as horizon on true`,
    )
    .prepare("live_start")
    .execute();
  const horizon = row?.txId ? { txId: row.txId, postId: Number(row.postId) } : start;
  return { horizon, line: row!.line, waiting: row!.waiting };
}

/**
 * The team's posts after a position that can be delivered now, oldest first, moderated ones included
 * (a live feed follows every change): one query per process and team, whatever the number of readers.
 * `waiting` says that committed posts lie beyond the delivery line (their writer committed before an
 * older write did): they are delivered once that write ends, and the caller should look again.
 */
export async function teamPostsAfter(
  db: Db,
  teamId: string,
  position: DeliveryPosition,
  limit: number,
): Promise<{ posts: DeliveredPost[]; waiting: boolean }> {
  const rows = await db
    .select({ ...deliveredColumns, deliverable: sql<boolean>`${deliverableOn(db)}` })
    .from(posts)
    .where(and(eq(posts.teamId, teamId), after(position)))
    .orderBy(asc(posts.txId), asc(posts.id))
    .limit(limit)
    .prepare("team_posts_after")
    .execute();
  // In delivery order every post below the line comes before every post at or above it.
  const ready = rows.filter((row) => row.deliverable);
  return { posts: ready.map(toDelivered), waiting: ready.length < rows.length };
}

/**
 * Of these teams, the ones with a committed post past the given position: one query for every team a
 * process follows, so a live feed notices posts whose announcement never came.
 */
export async function teamsWithPostsAfter(db: Db, positions: Map<string, DeliveryPosition>): Promise<string[]> {
  if (positions.size === 0) return [];
  const followed = JSON.stringify([...positions].map(([teamId, { txId, postId }]) => ({ team_id: teamId, tx_id: txId, post_id: postId })));
  const rows = await db.execute<{ team_id: string }>(sql`
    select followed.team_id::text as team_id
    from json_to_recordset(${followed}::json) as followed(team_id uuid, tx_id text, post_id bigint)
    where exists (select 1 from ${posts}
      where ${posts.teamId} = followed.team_id and (${posts.txId}, ${posts.id}) > (followed.tx_id::xid8, followed.post_id))`);
  return rowsOf<{ team_id: string }>(rows).map((row) => row.team_id);
}

/**
 * What a feed with these filters shows after a position and up to `upTo`, oldest first: a live reader
 * catching up to where its live feed took over (`subscribe`'s `from`). Every post up to there was
 * below a delivery line already, so no line is drawn again: one drawn now could be held back (by a
 * write that ended while it was drawn) short of posts the live feed will not send again.
 */
export async function feedPostsAfter(
  db: Db,
  caller: Caller,
  position: DeliveryPosition,
  upTo: DeliveryPosition,
  limit: number,
  filters: FeedFilters = {},
): Promise<DeliveredPost[]> {
  requireScope(caller, "read");
  const rows = await selectDelivered(db, and(...feedConditionsFor(caller, filters), after(position), atOrBefore(upTo)), "oldest", limit);
  return rows.map(toDelivered);
}

/**
 * The reader key of a caller: agents by identity; pick-name holders and sessions of an agent (a token
 * with a session name, which signs with a name other than the agent's) by identity and signed name.
 */
function readerOf(caller: AgentCaller) {
  const ownName = caller.pickName || caller.displayName !== caller.agentName;
  return { agentId: caller.agentId, readerName: ownName ? caller.displayName : "" };
}

/** Posts that are news to this reader, whether or not they can be delivered yet: live, by someone else. */
function othersPostsFor(caller: AgentCaller): SQL[] {
  return [eq(posts.teamId, caller.teamId), isNull(posts.deletedAt), writtenByOthers(caller)];
}

/** Posts that are news to this reader: live, by someone else, deliverable now. */
function newsFor(db: Db, caller: AgentCaller): SQL[] {
  return [...othersPostsFor(caller), deliverableOn(db)];
}

/**
 * Where a reader is: its position, the place before which posts addressed to it still wait because
 * its first read had no room for them (none when null; see `firstRead`), and the posts before its
 * position that it was given back (`giveBack`), ascending ids.
 */
type ReadPlace = { position: DeliveryPosition; addressedBefore: DeliveryPosition | null; givenBack: readonly number[] };

/** The most posts a reader's given-back list holds (an archive's too): the newest are kept. */
export const maxGivenBack = 1_000;

async function readPlaceOf(db: Db, caller: AgentCaller): Promise<ReadPlace | undefined> {
  const reader = readerOf(caller);
  const [row] = await db
    .select({
      txId: sql<string>`${readCursors.lastTxId}::text`,
      postId: readCursors.lastPostId,
      addressedBeforeTxId: sql<
        string | null
      >`(select ${posts.txId}::text from ${posts} where ${posts.id} = ${readCursors.addressedBeforePostId})`,
      addressedBeforePostId: readCursors.addressedBeforePostId,
      givenBack: readCursors.givenBackPostIds,
    })
    .from(readCursors)
    .where(and(eq(readCursors.agentId, reader.agentId), eq(readCursors.readerName, reader.readerName)))
    .prepare("read_place")
    .execute();
  if (!row) return undefined;
  const { addressedBeforeTxId, addressedBeforePostId } = row;
  return {
    position: { txId: row.txId, postId: Number(row.postId) },
    addressedBefore:
      addressedBeforeTxId !== null && addressedBeforePostId !== null
        ? { txId: addressedBeforeTxId, postId: Number(addressedBeforePostId) }
        : null,
    givenBack: row.givenBack,
  };
}

/** Moves the reader's place; returns the id of the transaction that moves it. */
async function saveReadPlace(db: Db, caller: AgentCaller, { position, addressedBefore, givenBack }: ReadPlace): Promise<string> {
  const reader = readerOf(caller);
  const [saved] = await db
    .insert(readCursors)
    .values({
      ...reader,
      teamId: caller.teamId,
      lastTxId: sql`${position.txId}::xid8`,
      lastPostId: position.postId,
      addressedBeforePostId: addressedBefore?.postId ?? null,
      givenBackPostIds: [...givenBack],
    })
    .onConflictDoUpdate({
      target: [readCursors.agentId, readCursors.readerName],
      set: {
        lastTxId: sql`excluded.last_tx_id`,
        lastPostId: sql`excluded.last_post_id`,
        addressedBeforePostId: sql`excluded.addressed_before_post_id`,
        givenBackPostIds: sql`excluded.given_back_post_ids`,
        updatedAt: sql`now()`,
      },
    })
    .returning({ transactionId: sql<string>`pg_current_xact_id()::text` })
    .prepare("save_read_position")
    .execute();
  return saved!.transactionId;
}

/** How long a read whose COMMIT went unanswered waits to learn whether it committed. */
const commitOutcomeWaitMs = 2_000;

/**
 * Whether a transaction committed, asked after its connection was lost during COMMIT (what
 * pg_xact_status is for). One still committing is waited for; a database that cannot be asked
 * within `commitOutcomeWaitMs` counts as no, and the read fails as it would have.
 */
async function hasCommitted(db: Db, transactionId: string): Promise<boolean> {
  const deadline = Date.now() + commitOutcomeWaitMs;
  for (;;) {
    // The database may still be away or reconnecting: ask again.
    const [row] = await db
      .select({ status: sql<string | null>`pg_xact_status(${transactionId}::xid8)` })
      .from(sql`(select 1) as one`)
      .catch(() => []);
    if (row?.status === "committed" || row?.status === "aborted") return row.status === "committed";
    if (Date.now() > deadline) return false;
    await delay(100);
  }
}

async function countCapped(db: Db, where: SQL | undefined, cap = unreadCountCap): Promise<CappedCount> {
  const limited = db
    .select({ one: sql`1` })
    .from(posts)
    .where(where)
    .limit(cap + 1)
    .as("limited");
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(limited).prepare("count_unread").execute();
  const count = Number(row?.count ?? 0);
  return { count: Math.min(count, cap), capped: count > cap };
}

/**
 * The unread posts `where` selects and, of them, those addressed to the reader, in one statement that
 * looks at the first `cap` + 1 in delivery order only: a reader months behind costs no more than one
 * a week behind. Past the cap both are "at least": what is addressed among the first of them.
 */
async function countUnread(
  db: Db,
  caller: AgentCaller,
  where: SQL | undefined,
  cap = unreadCountCap,
): Promise<{ unread: CappedCount; addressed: CappedCount }> {
  const firstUnread = db
    .select({ addressed: sql<boolean>`${addressedTo(caller)}`.as("addressed") })
    .from(posts)
    .where(where)
    .orderBy(asc(posts.txId), asc(posts.id))
    .limit(cap + 1)
    .as("first_unread");
  const [row] = await db
    .select({ count: sql<number>`count(*)::int`, addressed: sql<number>`(count(*) filter (where ${firstUnread.addressed}))::int` })
    .from(firstUnread)
    .prepare("count_unread_addressed")
    .execute();
  const count = Number(row?.count ?? 0);
  const capped = count > cap;
  return {
    unread: { count: Math.min(count, cap), capped },
    addressed: { count: Math.min(Number(row?.addressed ?? 0), cap), capped },
  };
}

export type UnreadPage = {
  /** Addressed to the reader first (mentions, replies, urgent), then the rest, each in delivery order. */
  posts: AddressedPost[];
  /** Unread posts after this page. */
  remaining: CappedCount;
  /** Of those, the ones addressed to the reader. */
  addressedRemaining: CappedCount;
  /** Only on a reader's first read, which starts at the newest posts: how many older ones it skipped. */
  skippedOlder?: CappedCount;
};

type UnreadDelivery = { post: AddressedPost; position: DeliveryPosition };

/** How much of the unread a read hands out: the first `fit` posts of a window in delivery order. */
type Portion = { window: number; fit: (window: UnreadDelivery[]) => number };

const none: CappedCount = { count: 0, capped: false };

/**
 * Posts by others that this reader has not been given yet, oldest first, then its position moves
 * past them. A reader's first read gives the newest page instead, and says how many older posts it
 * skipped. Reads of one reader take turns, so two concurrent polls never hand out the same post.
 */
export async function readUnread(
  db: Db,
  caller: Caller,
  limit: number,
  options: {
    /** Aborted when the client gives up on the read (see `deliverUnread`). */
    abandoned?: AbortSignal | undefined;
    /** The most characters of posts the page holds, at least one post; the rest wait for the next read. */
    maxChars?: number;
  } = {},
): Promise<UnreadPage> {
  const { maxChars } = options;
  const fit = maxChars === undefined ? (window: UnreadDelivery[]) => window.length : fittingIn(maxChars, (post) => post.content.length);
  return deliverUnread(db, caller, { window: limit, fit }, options);
}

/** A page's portion: as many posts of the window as fit in `maxChars`, in order, at least one. */
function fittingIn(maxChars: number, sizeOf: (post: AddressedPost) => number): Portion["fit"] {
  return (window) => countFitting(window, maxChars, ({ post }) => sizeOf(post));
}

export type DigestOptions = {
  maxChars: number;
  /** The size a post takes in the digest, as the door renders it. */
  sizeOf: (post: AddressedPost) => number;
  /** Hand out nothing unless something unread is addressed to the reader (a hook after each tool call). */
  onlyIfAddressed: boolean;
  /** Aborted when the client gives up on the read (see `deliverUnread`). */
  abandoned?: AbortSignal;
};

/** The most posts one digest looks at; what fits in its characters is handed out. */
const digestWindow = 100;

/**
 * What a hook puts in an agent's context: unread posts, from the same read position as read_new (a
 * post the digest gives is never given again by read_new, and the other way round), as many as fit
 * in `maxChars` in delivery order, at least one. Nothing is handed out, and the position stays, when
 * `onlyIfAddressed` finds nothing addressed to the reader.
 */
export async function readDigest(db: Db, caller: Caller, options: DigestOptions): Promise<UnreadPage> {
  return deliverUnread(db, caller, { window: digestWindow, fit: fittingIn(options.maxChars, options.sizeOf) }, options);
}

/**
 * The error of a read whose client gave up on it (closed the connection) before it was answered:
 * its transaction rolls back, so the reader's position stays where it was. Nobody reads the message.
 */
export const abandonedRead = () =>
  new AppError("unavailable", "The client gave up on this read before it was answered: nothing was handed out.");

/**
 * Hands out a page and moves the reader past it, in one transaction. A read whose client gives up
 * on it (`abandoned`: a timeout, a closed connection) while it waits its turn or reads hands out
 * nothing: posts the reader was never sent would otherwise never come again. One given up on just
 * as it commits, or after it answered while the door keeps its signal live, gives its page back
 * (`giveBack`).
 */
async function deliverUnread(
  db: Db,
  caller: Caller,
  portion: Portion,
  { onlyIfAddressed = false, abandoned }: { onlyIfAddressed?: boolean; abandoned?: AbortSignal | undefined },
): Promise<UnreadPage> {
  requireScope(caller, "read");
  if (caller.kind !== "agent") throw invalid("Only agents have a read position.");
  let handedOut: HandedOut | undefined;
  let page: UnreadPage;
  try {
    page = await db.transaction(async (tx) => {
      await takeReaderTurn(tx, caller);
      const place = await readPlaceOf(tx, caller);
      if (onlyIfAddressed && (await unreadCounts(tx, caller, place)).addressed.count === 0) {
        return { posts: [], remaining: none, addressedRemaining: none };
      }
      if (!place) {
        const first = await firstRead(tx, caller, portion);
        if (abandoned?.aborted) throw abandonedRead();
        handedOut = first;
        return handedOut.page;
      }
      // What was given back comes first, oldest first; then what waits from before the first read,
      // newest first; then what is new.
      const room = (taken: number) => portion.window - taken;
      const givenBack =
        place.givenBack.length > 0 ? await selectUnread(tx, caller, givenBackOf(caller, place.givenBack), "oldest", portion.window) : [];
      const waiting =
        place.addressedBefore && room(givenBack.length) > 0
          ? await selectUnread(tx, caller, addressedWaiting(tx, caller, place.addressedBefore), "newest", room(givenBack.length))
          : [];
      const freshFrom = givenBack.length + waiting.length;
      const fresh = room(freshFrom) > 0 ? await unreadAfter(tx, caller, place.position, room(freshFrom)) : [];
      const page = portionOf(portion, [...givenBack, ...waiting, ...fresh]);
      const waitingShown = page.slice(givenBack.length, freshFrom);
      const last = page.slice(freshFrom).at(-1)?.position ?? place.position;
      const { addressedBefore, stillWaiting } = await addressedLeftWaiting(
        tx,
        caller,
        waitingShown.at(-1)?.position ?? place.addressedBefore,
      );
      const stillGivenBack = givenBackLeft(place.givenBack, givenBack, page, portion.window);
      const moved = { position: last, addressedBefore, givenBack: stillGivenBack };
      const movedIn =
        page.length > 0 || addressedBefore?.postId !== place.addressedBefore?.postId || !sameIds(stillGivenBack, place.givenBack)
          ? await saveReadPlace(tx, caller, moved)
          : undefined;
      const rest = and(...newsFor(tx, caller), after(last));
      const { unread, addressed } = await countUnread(tx, caller, rest);
      const givenBackUnread = await countGivenBack(tx, caller, stillGivenBack);
      const unreadPage = {
        posts: addressedFirst(inDeliveryOrder(page).map(({ post }) => post)),
        remaining: sumOf(sumOf(unread, stillWaiting), givenBackUnread.unread),
        addressedRemaining: sumOf(sumOf(addressed, stillWaiting), givenBackUnread.addressed),
      };
      if (abandoned?.aborted) throw abandonedRead();
      if (movedIn) handedOut = { page: unreadPage, places: page.map(({ position }) => position), movedIn, from: place, to: moved };
      return unreadPage;
    });
  } catch (error) {
    // The answer to COMMIT is lost with its connection, even after the commit. If it committed, the
    // reader's position is past these posts: this read is the one to hand them out.
    if (!handedOut || !(await hasCommitted(db, handedOut.movedIn))) throw error;
    page = handedOut.page;
  }
  if (handedOut && abandoned?.aborted) {
    await giveBack(db, caller, handedOut);
    throw abandonedRead();
  }
  if (handedOut && abandoned) giveBackWhenAbandoned(db, caller, handedOut, abandoned);
  return page;
}

/**
 * A client may give up on a read after it was answered: an MCP client whose timeout fires as the
 * answer comes sends `notifications/cancelled` and ignores the answer (the spec asks it to). The door
 * keeps the signal of such a read live for a while after answering; if it aborts, the page goes back.
 */
function giveBackWhenAbandoned(db: Db, caller: AgentCaller, handedOut: HandedOut, abandoned: AbortSignal): void {
  const goBack = () => {
    giveBack(db, caller, handedOut).catch((error: unknown) =>
      logger.warn({ error: String(error) }, "could not give back a page whose client gave up on it after it was answered"),
    );
  };
  abandoned.addEventListener("abort", goBack, { once: true });
}

/**
 * A page a read hands out, the places of its posts, the transaction that moves the reader's position
 * past it, and the places it moves between.
 */
type HandedOut = { page: UnreadPage; places: DeliveryPosition[]; movedIn: string; from: ReadPlace | undefined; to: ReadPlace };

/** Reads of one reader take turns: two concurrent polls never hand out the same post. */
async function takeReaderTurn(db: Db, caller: AgentCaller): Promise<void> {
  const reader = readerOf(caller);
  await db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${reader.agentId}/${reader.readerName}`}, ${readerLockSeed}))`);
}

/**
 * Gives a read's page back to its reader, unread: when its client gave up on it just as it
 * committed, or after. The reader moves back to where the read found it; if a later read has moved
 * it since (the client gave up and read again before its cancellation came), it keeps its place and
 * the page's posts join its given-back list, which its next reads hand out first.
 */
async function giveBack(db: Db, caller: AgentCaller, { places, from, to }: Pick<HandedOut, "places" | "from" | "to">): Promise<void> {
  await db.transaction(async (tx) => {
    await takeReaderTurn(tx, caller);
    const now = await readPlaceOf(tx, caller);
    // No place: this page was given back already (its reader's first read), and nothing read since.
    if (!now) return;
    if (samePlace(now, to)) {
      if (from) await saveReadPlace(tx, caller, from);
      else {
        const reader = readerOf(caller);
        await tx.delete(readCursors).where(and(eq(readCursors.agentId, reader.agentId), eq(readCursors.readerName, reader.readerName)));
      }
      return;
    }
    // Posts past the reader's position are unread still; only those behind it need the list.
    const behind = places.filter((position) => comparePositions(position, now.position) <= 0).map((position) => position.postId);
    const givenBack = withGivenBack(now.givenBack, behind);
    if (!sameIds(givenBack, now.givenBack)) await saveReadPlace(tx, caller, { ...now, givenBack });
  });
}

/** A given-back list with these posts added: ascending, each once, the newest `maxGivenBack`. */
function withGivenBack(list: readonly number[], postIds: readonly number[]): number[] {
  const merged = [...new Set([...list, ...postIds])].sort((a, b) => a - b);
  if (merged.length > maxGivenBack)
    logger.warn({ dropped: merged.length - maxGivenBack }, "a reader's given-back list is full: its oldest posts are not handed out again");
  return merged.slice(-maxGivenBack);
}

/** The reader's given-back posts that are still news to it (not deleted since). */
function givenBackOf(caller: AgentCaller, list: readonly number[]): SQL {
  // One array parameter, so that the statement's text is the same whatever the list's length.
  return and(...othersPostsFor(caller), sql`${posts.id} = any(${`{${list.join(",")}}`}::bigint[])`)!;
}

/**
 * What is left of the given-back list after a page: the list less what the page showed. When the
 * read found fewer of them than it looked for, it found every one still news, and the rest (deleted
 * since) leave the list too.
 */
function givenBackLeft(list: readonly number[], found: UnreadDelivery[], page: UnreadDelivery[], looked: number): number[] {
  const shown = new Set(page.map(({ post }) => post.id));
  const kept = found.length < looked ? found.map(({ post }) => post.id) : list;
  return kept.filter((postId) => !shown.has(postId)).sort((a, b) => a - b);
}

/** How many of the given-back posts are unread, and addressed to the reader: no statement for an empty list. */
async function countGivenBack(
  db: Db,
  caller: AgentCaller,
  list: readonly number[],
): Promise<{ unread: CappedCount; addressed: CappedCount }> {
  return list.length === 0 ? { unread: none, addressed: none } : countUnread(db, caller, givenBackOf(caller, list));
}

function samePlace(a: ReadPlace, b: ReadPlace): boolean {
  return (
    comparePositions(a.position, b.position) === 0 &&
    (a.addressedBefore === null
      ? b.addressedBefore === null
      : b.addressedBefore !== null && comparePositions(a.addressedBefore, b.addressedBefore) === 0) &&
    sameIds(a.givenBack, b.givenBack)
  );
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((postId, index) => postId === b[index]);
}

function portionOf(portion: Portion, window: UnreadDelivery[]): UnreadDelivery[] {
  return window.slice(0, portion.fit(window));
}

/** Delivered posts with why each is addressed to the reader. */
async function selectUnread(db: Db, caller: AgentCaller, where: SQL | undefined, order: "oldest" | "newest", limit: number) {
  const direction = order === "oldest" ? asc : desc;
  const rows = await db
    .select({ ...deliveredColumns, ...addressColumns(caller) })
    .from(posts)
    .where(where)
    .orderBy(direction(posts.txId), direction(posts.id))
    .limit(limit)
    .prepare("unread_page")
    .execute();
  return rows.map(toUnreadDelivery);
}

function toUnreadDelivery(row: Awaited<ReturnType<typeof selectDelivered>>[number] & Parameters<typeof reasonsOf>[0]): UnreadDelivery {
  return { post: { ...toPost(row), forYou: reasonsOf(row) }, position: { txId: row.positionTxId, postId: Number(row.id) } };
}

/**
 * The first `limit` unread posts after a position that can be delivered now, oldest first; while
 * committed posts wait beyond the delivery line, it looks again (`looksAgainWhileWaiting`).
 */
async function unreadAfter(db: Db, caller: AgentCaller, position: DeliveryPosition, limit: number): Promise<UnreadDelivery[]> {
  const { ready } = await lookingAgainWhileWaiting(db, async () => {
    const rows = await db
      .select({ ...deliveredColumns, ...addressColumns(caller), deliverable: sql<boolean>`${deliverableOn(db)}` })
      .from(posts)
      .where(and(...othersPostsFor(caller), after(position)))
      .orderBy(asc(posts.txId), asc(posts.id))
      .limit(limit)
      .prepare("unread_after")
      .execute();
    // In delivery order every post below the line comes before every post at or above it.
    const ready = rows.filter((row) => row.deliverable);
    return { ready, waiting: ready.length < rows.length };
  });
  return ready.map(toUnreadDelivery);
}

/** Any fixed number: it keeps readers' locks apart from other advisory locks of the database. */
const readerLockSeed = 4_161_077;

/**
 * A new reader starts at the newest posts, not at the beginning of time, and is placed there. What
 * was addressed to it before (a mention, a reply, an urgent post) is not left behind with the older
 * posts: those come first in the page, newest first, found by index however old, and what the page
 * has no room for waits for the reader's next reads (`addressedBefore`), which hand it out before
 * what is new. Only the posts addressed to no one in particular stay behind, counted.
 */
async function firstRead(db: Db, caller: AgentCaller, portion: Portion): Promise<HandedOut> {
  const { horizon } = await lookingAgainWhileWaiting(db, () => liveStart(db, caller.teamId));
  const news = and(...newsFor(db, caller), atOrBefore(horizon))!;
  const addressed = await selectUnread(db, caller, sql`${posts.id} in (${addressedAmong(caller, news)})`, "newest", portion.window);
  const addressedIds = new Set(addressed.map(({ post }) => post.id));
  const newest = await selectUnread(db, caller, news, "newest", portion.window);
  const shown = portionOf(portion, [...addressed, ...newest.filter(({ post }) => !addressedIds.has(post.id))].slice(0, portion.window));
  // The addressed posts shown are the newest of them: those older than the oldest shown wait.
  const oldestAddressedShown = shown.filter(({ post }) => addressedIds.has(post.id)).at(-1)?.position ?? null;
  const { addressedBefore, stillWaiting } = await addressedLeftWaiting(db, caller, oldestAddressedShown);
  const leftOut = and(
    news,
    notInArray(posts.id, shownIds(shown)),
    addressedBefore ? sql`not ${addressedWaiting(db, caller, addressedBefore)}` : undefined,
  );
  const skippedOlder = shown.length > 0 ? await countCapped(db, leftOut) : none;
  const moved = { position: horizon, addressedBefore, givenBack: [] };
  const movedIn = await saveReadPlace(db, caller, moved);
  const page = {
    posts: addressedFirst(inDeliveryOrder(shown).map(({ post }) => post)),
    remaining: stillWaiting,
    addressedRemaining: stillWaiting,
    skippedOlder,
  };
  return { page, places: shown.map(({ position }) => position), movedIn, from: undefined, to: moved };
}

/** The posts addressed to the reader before `place` (as `addressedAmong` finds them): those a first read had no room for. */
function addressedWaiting(db: Db, caller: AgentCaller, place: DeliveryPosition): SQL {
  return sql`${posts.id} in (${addressedAmong(caller, and(...newsFor(db, caller), before(place))!)})`;
}

/** Whether posts addressed to the reader still wait before `place`: the place to keep (null when none do), and how many. */
async function addressedLeftWaiting(
  db: Db,
  caller: AgentCaller,
  place: DeliveryPosition | null,
): Promise<{ addressedBefore: DeliveryPosition | null; stillWaiting: CappedCount }> {
  if (!place) return { addressedBefore: null, stillWaiting: none };
  const stillWaiting = await countCapped(db, addressedWaiting(db, caller, place));
  return { addressedBefore: stillWaiting.count > 0 ? place : null, stillWaiting };
}

function shownIds(shown: UnreadDelivery[]): number[] {
  return shown.map(({ post }) => post.id);
}

function inDeliveryOrder(page: UnreadDelivery[]): UnreadDelivery[] {
  return [...page].sort((a, b) => comparePositions(a.position, b.position));
}

/** Two counts of different posts as one, capped as each is. */
function sumOf(a: CappedCount, b: CappedCount): CappedCount {
  const count = a.count + b.count;
  return { count: Math.min(count, unreadCountCap), capped: a.capped || b.capped || count > unreadCountCap };
}

/** What login tells an agent: how many posts await it, how many are addressed to it, whether it has read before. */
export async function unreadSummary(
  db: Db,
  caller: AgentCaller,
): Promise<{ unread: CappedCount; addressed: CappedCount; firstRead: boolean }> {
  requireScope(caller, "read");
  const place = await readPlaceOf(db, caller);
  return { ...(await unreadCounts(db, caller, place)), firstRead: place === undefined };
}

/** What awaits a reader at its place, and what of it is addressed to it. */
async function unreadCounts(db: Db, caller: AgentCaller, place: ReadPlace | undefined) {
  const news = newsFor(db, caller);
  if (place) {
    const { unread, addressed } = await countUnread(db, caller, and(...news, after(place.position)));
    const { stillWaiting } = await addressedLeftWaiting(db, caller, place.addressedBefore);
    const givenBack = await countGivenBack(db, caller, place.givenBack);
    return {
      unread: sumOf(sumOf(unread, stillWaiting), givenBack.unread),
      addressed: sumOf(sumOf(addressed, stillWaiting), givenBack.addressed),
    };
  }
  // A first read gives what was addressed to the reader however old (firstRead), so all of it counts.
  const unread = await countCapped(db, and(...news));
  const addressed = await countCapped(db, sql`${posts.id} in (${addressedAmong(caller, and(...news)!)})`);
  return { unread, addressed };
}

/**
 * Transaction ids belong to one Postgres cluster. A database restored into another cluster (pg_dump
 * and restore) keeps posts whose ids lie ahead of the new cluster's, and nothing after them would be
 * delivered: such posts and every read position then move to the start of the order, keeping post id
 * order among them. Returns how many posts moved; 0 on every ordinary start (one indexed look per team).
 */
export async function realignDeliveryOrder(db: Db): Promise<number> {
  const ahead = await db
    .select({ teamId: teams.id })
    .from(teams)
    .where(sql`(select max(${posts.txId}) from ${posts} where ${posts.teamId} = ${teams.id}) >= pg_snapshot_xmax(pg_current_snapshot())`)
    .limit(1);
  if (ahead.length === 0) return 0;
  const moved = await db.transaction(async (tx) => {
    const rows = await tx.update(posts).set({ txId: sql`'0'::xid8` }).returning({ id: posts.id });
    await tx.update(readCursors).set({ lastTxId: sql`'0'::xid8` });
    return rows.length;
  });
  // Every row was rewritten: without fresh statistics the planner misjudges the delivery queries
  // until autovacuum gets round to the tables.
  await db.execute(sql`analyze posts, read_cursors`);
  return moved;
}
