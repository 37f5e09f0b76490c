import type { Db } from "../db/client.ts";
import { deliveryHorizon, teamPostsAfter, teamsWithPostsAfter, type DeliveredPost, type DeliveryPosition } from "./delivery.ts";
import type { EventHub, PostUpdatedEvent, SessionsEndedEvent } from "./events.ts";
import { logger } from "../logger.ts";
import { liveStreamsOpen } from "../metrics.ts";

export type LiveFeedListener = {
  /** New posts of the team in delivery order, each once; moderated ones included. */
  onPosts(posts: DeliveredPost[]): void;
  /** A post changed (edited or removed). */
  onUpdated(event: PostUpdatedEvent): void;
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

  constructor(
    private readonly db: Db,
    private readonly teamId: string,
    private readonly forget: () => void,
  ) {}

  start(hub: EventHub): Promise<void> {
    this.started = (async () => {
      this.stopListening = await hub.subscribe(this.teamId, {
        onEvent: (event) => {
          if (event.type === "sessions.ended") return this.each((listener) => listener.onSessionsEnded(event));
          if (event.type === "post.updated") return this.each((listener) => listener.onUpdated(event));
          this.deliver();
        },
        // Announcements sent while the database was away are lost; the database still has the posts.
        onResume: () => {
          this.each((listener) => listener.onResume());
          this.deliver();
        },
        onClose: () => {
          this.each((listener) => listener.onClose());
          this.stop();
        },
      });
      this.position = await deliveryHorizon(this.db, this.teamId);
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
        if (this.again) {
          this.again = false;
          this.deliver();
        } else this.scheduleRetry();
      });
  }

  private async pass(): Promise<void> {
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

  /** Committed posts wait behind an open write: look again shortly, then less often while it stays open. */
  private scheduleRetry(): void {
    clearTimeout(this.retry);
    if (!this.waiting || this.listeners.size === 0) return;
    const delay = retryDelaysMs[Math.min(this.retries++, retryDelaysMs.length - 1)]!;
    this.retry = setTimeout(() => this.deliver(), delay);
    this.retry.unref();
  }
}
