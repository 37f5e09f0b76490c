import type { Db } from "../db/client.ts";
import {
  comparePositions,
  currentDeliveryLine,
  liveStart,
  teamPostsAfter,
  teamsWithPostsAfter,
  type DeliveredPost,
  type DeliveryPosition,
} from "./delivery.ts";
import type { EventHub, SessionsEndedEvent } from "./events.ts";
import { teamPostsChangedBy, teamPostsChangedSince, type DeliveredChange } from "./post-changes.ts";
import type { Post } from "./posts.ts";
import { logger } from "../logger.ts";
import { liveStreamsOpen } from "../metrics.ts";

/** A change to a post the team's readers were given (server/domain/post-changes.ts). */
export type PostChange = {
  postId: number;
  /** The transaction that made the change; unknown when announced by a process of an older version. */
  changedTxId?: string;
  /** The post as changed, when the feed read it from the database (a replay); otherwise the reader loads it. */
  post?: Post;
};

export type LiveFeedListener = {
  /** New posts of the team in delivery order, each once; moderated ones included. */
  onPosts(posts: DeliveredPost[]): void;
  /** A post changed (removed, or its author deleted): each change once, never before posts a pass read before the change. */
  onUpdated(change: PostChange): void;
  /** More changes at once than are worth sending one by one: the page reloads instead. */
  onReload(): void;
  /** Engineers' sessions of the team ended: a stream opened in one of them ends too. */
  onSessionsEnded(event: SessionsEndedEvent): void;
  /** Listening again after the database was away: announcements of that gap were lost. */
  onResume(): void;
  /** The process shuts down: long-lived streams end. */
  onClose(): void;
};

export type LiveFeed = {
  /**
   * Follows a team's new posts from now on. Resolves once following, with the position from which
   * posts will arrive: a reader that catches up to it from the database misses nothing.
   */
  subscribe(teamId: string, listener: LiveFeedListener): Promise<{ from: DeliveryPosition; unsubscribe(): void }>;
};

const pageSize = 200;
/**
 * Past this many changes read at once (missed while not listening, or made by one transaction),
 * readers reload rather than get each, as a reconnecting page does (server/http/web/events.ts).
 */
export const changesSentMost = 1000;
/** How long to wait before looking again for committed posts held back by an older, still open write. */
const retryDelaysMs = [20, 50, 100, 250, 500, 1000];
/**
 * How often a process looks for posts whose wake-up never came (their writer died between commit and
 * announcement, or the wake-up failed): the longest such a post waits. One query for all followed teams.
 */
export const defaultSafetyPollMs = 2_000;

/**
 * The live side of delivery order, one per process: per team, a wake-up only says "look again"; the
 * posts themselves come from the database in delivery order, past the newest place every reader can
 * be given (server/domain/delivery.ts). A post whose commit overtook an older, still open write waits for it,
 * so a live reader never gets a post before one that can still appear ahead of it. One query per
 * process and team serves every open stream of that team. Wake-ups are sent after commit
 * (server/domain/post-announcements.ts), so one can be lost: a poll every `safetyPollMs` finds those posts.
 * Changes to posts are announced as they commit; those lost while LISTEN was down are read again by
 * their transaction once it listens again (docs/decisions/048-listen-resume-replays-changes.md).
 */
export function createLiveFeed(db: Db, hub: EventHub, safetyPollMs = defaultSafetyPollMs): LiveFeed {
  const teams = new Map<string, TeamFollower>();
  let poll: NodeJS.Timeout | undefined;

  async function pollFollowedTeams(): Promise<void> {
    const positions = new Map([...teams].filter(([, follower]) => follower.ready).map(([teamId, follower]) => [teamId, follower.position]));
    for (const teamId of await teamsWithPostsAfter(db, positions)) teams.get(teamId)?.deliver();
  }

  function keepPolling(): void {
    if (poll || teams.size === 0) return;
    poll = setTimeout(() => {
      pollFollowedTeams()
        .catch((error: unknown) => logger.warn({ error: String(error) }, "live feed poll failed; trying again"))
        .finally(() => {
          poll = undefined;
          keepPolling();
        });
    }, safetyPollMs);
    poll.unref();
  }

  async function follow(teamId: string): Promise<TeamFollower> {
    const existing = teams.get(teamId);
    if (existing) return existing;
    const follower: TeamFollower = new TeamFollower(db, teamId, () => {
      if (teams.get(teamId) === follower) teams.delete(teamId);
    });
    teams.set(teamId, follower);
    keepPolling();
    try {
      await follower.start(hub);
    } catch (error) {
      teams.delete(teamId);
      throw error;
    }
    return follower;
  }

  return {
    async subscribe(teamId, listener) {
      const follower = await follow(teamId);
      await follower.started;
      const stopFollowing = follower.add(listener);
      liveStreamsOpen.inc();
      let following = true;
      const unsubscribe = () => {
        // A stream may end twice (aborted by its client, then its loop ends): it is counted out once.
        if (!following) return;
        following = false;
        liveStreamsOpen.dec();
        stopFollowing();
      };
      return { from: follower.position, unsubscribe };
    },
  };
}

class TeamFollower {
  position: DeliveryPosition = { txId: "0", postId: 0 };
  started: Promise<void> = Promise.resolve();
  /** The position is known: passes may run. */
  ready = false;
  private readonly listeners = new Set<LiveFeedListener>();
  private stopListening: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** The last pass found committed posts it could not deliver yet (an older write was still open). */
  private waiting = false;
  private retry: NodeJS.Timeout | undefined;
  private retries = 0;
  /**
   * Every change by a transaction below this line (xid8) that listeners need was handed to them,
   * live or by a replay; one above it may have been lost with the LISTEN connection.
   */
  private changesLine = "0";
  /** Changes at or above the line already handed out, by post: a replay or a late announcement does not hand one out again. */
  private readonly changesHandedOut = new Map<number, string>();
  /** Where the changes missed while not listening start: set on resuming, cleared once replayed. */
  private replayFrom: string | undefined;
  private resumptions = 0;
  /** Changes announced during a pass: handed out after the posts it read, which they may change. */
  private changesDuringPass: PostChange[] = [];
  /** Transactions announced as having changed posts, whose posts are still to be read. */
  private readonly changingTransactions = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly teamId: string,
    private readonly forget: () => void,
  ) {}

  start(hub: EventHub): Promise<void> {
    this.started = (async () => {
      // Read before listening: a change committed after it may come before LISTEN does, or be lost if
      // LISTEN drops at once; a replay from here finds it. One before it is in what readers load.
      this.changesLine = await currentDeliveryLine(this.db);
      this.stopListening = await hub.subscribe(this.teamId, {
        onEvent: (event) => {
          if (event.type === "sessions.ended") return this.each((listener) => listener.onSessionsEnded(event));
          this.advanceChangesLine(event.line);
          if (event.type === "post.updated") return this.handOut({ postId: event.postId, changedTxId: event.changedTxId });
          if (event.type === "posts.changed") this.changingTransactions.add(event.changedTxId);
          this.deliver();
        },
        // Announcements sent while the database was away are lost; the database still has the posts
        // and, by their changing transaction, the changes.
        onResume: () => {
          this.resumptions++;
          this.replayFrom ??= this.changesLine;
          this.each((listener) => listener.onResume());
          this.deliver();
        },
        onClose: () => {
          this.each((listener) => listener.onClose());
          this.stop();
        },
      });
      this.position = (await liveStart(this.db, this.teamId)).horizon;
      this.ready = true;
      // A wake-up that came while the position was being read may be for a post still held back.
      if (this.again) {
        this.again = false;
        this.deliver();
      }
    })();
    return this.started;
  }

  add(listener: LiveFeedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private stop(): void {
    clearTimeout(this.retry);
    this.stopListening?.();
    this.forget();
  }

  private each(call: (listener: LiveFeedListener) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        call(listener);
      } catch (error) {
        logger.error({ error: String(error) }, "live feed listener failed");
      }
    }
  }

  /** A change, once: after the pass under way, which may be handing out the post as it was before. */
  private handOut(change: PostChange): void {
    if (change.changedTxId !== undefined) {
      if (this.changesHandedOut.get(change.postId) === change.changedTxId) return;
      this.changesHandedOut.set(change.postId, change.changedTxId);
    }
    if (this.running) this.changesDuringPass.push(change);
    else this.each((listener) => listener.onUpdated(change));
  }

  private advanceChangesLine(line: string | undefined): void {
    if (line === undefined || BigInt(line) <= BigInt(this.changesLine)) return;
    this.changesLine = line;
    // A replay still to come reads from below the line: what it finds again must still be known.
    if (this.replayFrom !== undefined) return;
    for (const [postId, changedTxId] of this.changesHandedOut) {
      if (BigInt(changedTxId) < BigInt(line)) this.changesHandedOut.delete(postId);
    }
  }

  /** Runs one delivery pass at a time; a wake-up during a pass asks for another. */
  deliver(): void {
    if (this.running || !this.ready) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((error: unknown) => logger.warn({ error: String(error), teamId: this.teamId }, "live feed could not read new posts; retrying"))
      .finally(() => {
        this.running = undefined;
        const changes = this.changesDuringPass;
        this.changesDuringPass = [];
        for (const change of changes) this.each((listener) => listener.onUpdated(change));
        if (this.again) {
          this.again = false;
          this.deliver();
        } else this.scheduleRetry();
      });
  }

  private async pass(): Promise<void> {
    await this.deliverNewPosts();
    if (this.replayFrom !== undefined) await this.replayChanges(this.replayFrom);
    for (const changedTxId of [...this.changingTransactions]) {
      this.handOutRead(await teamPostsChangedBy(this.db, this.teamId, changedTxId, changesSentMost + 1));
      this.changingTransactions.delete(changedTxId);
    }
  }

  private async deliverNewPosts(): Promise<void> {
    for (;;) {
      const { posts: page, waiting } = await teamPostsAfter(this.db, this.teamId, this.position, pageSize);
      this.waiting = waiting;
      if (page.length === 0) return;
      this.position = page.at(-1)!.position;
      this.each((listener) => listener.onPosts(page));
      this.retries = 0;
      if (page.length < pageSize || waiting) return;
    }
  }

  /**
   * Hands out the changes made since `from` that no listener was given, after the new posts: a change
   * to a post not delivered yet is not handed out, as that post will be delivered as changed.
   */
  private async replayChanges(from: string): Promise<void> {
    const resumption = this.resumptions;
    // Read first: every transaction below it had ended, so the query after it sees what they changed.
    const line = await currentDeliveryLine(this.db);
    const changes = await teamPostsChangedSince(this.db, this.teamId, from, changesSentMost + 1);
    // Resumed again meanwhile: that gap may have lost changes this query did not see.
    if (this.resumptions === resumption) this.replayFrom = undefined;
    this.handOutRead(changes);
    this.advanceChangesLine(line);
  }

  /** Changes read from the database, each once; too many for one by one, and the readers reload. */
  private handOutRead(changes: DeliveredChange[]): void {
    if (changes.length > changesSentMost) {
      logger.info({ teamId: this.teamId, changes: changes.length }, "too many changed posts to send one by one; live pages reload");
      this.each((listener) => listener.onReload());
      return;
    }
    for (const { post, position, changedTxId } of changes) {
      if (this.changesHandedOut.get(post.id) === changedTxId) continue;
      this.changesHandedOut.set(post.id, changedTxId);
      if (comparePositions(position, this.position) > 0) continue;
      this.each((listener) => listener.onUpdated({ postId: post.id, changedTxId, post }));
    }
  }

  /** Committed posts wait behind an open write, or changes are still to be read: look again shortly, then less often. */
  private scheduleRetry(): void {
    clearTimeout(this.retry);
    const unread = this.waiting || this.replayFrom !== undefined || this.changingTransactions.size > 0;
    if (!unread || this.listeners.size === 0) return;
    const delay = retryDelaysMs[Math.min(this.retries++, retryDelaysMs.length - 1)]!;
    this.retry = setTimeout(() => this.deliver(), delay);
    this.retry.unref();
  }
}
