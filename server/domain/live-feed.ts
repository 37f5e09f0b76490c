import type { Db } from "../db/client.ts";
import { deliveryHorizon, teamPostsAfter, type DeliveredPost, type DeliveryPosition } from "./delivery.ts";
import type { EventHub, PostEvent, SessionsEndedEvent } from "./events.ts";
import { logger } from "../logger.ts";
import { liveStreamsOpen } from "../metrics.ts";

export type LiveFeedListener = {
  /** New posts of the team in delivery order, each once; moderated ones included. */
  onPosts(posts: DeliveredPost[]): void;
  /** A post changed (edited or removed). */
  onUpdated(event: PostEvent): void;
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
/** How long to wait before looking again for a post announced while an older write was still open. */
const retryDelaysMs = [20, 50, 100, 250, 500, 1000];
/**
 * How long an announced post is looked for. One still missing by then was announced before this
 * follower began (so it lies behind its start), or waits behind a write open longer than this; the
 * next announcement delivers that one.
 */
const announcedForMs = 60_000;

/**
 * The live side of delivery order, one per process: per team, NOTIFY only says "look again"; the
 * posts themselves come from the database in delivery order, past the newest place every reader can
 * be given (server/domain/delivery.ts). A post whose commit overtook an older, still open write waits for it,
 * so a live reader never gets a post before one that can still appear ahead of it. One query per
 * process and team serves every open stream of that team.
 */
export function createLiveFeed(db: Db, hub: EventHub): LiveFeed {
  const teams = new Map<string, TeamFollower>();

  async function follow(teamId: string): Promise<TeamFollower> {
    const existing = teams.get(teamId);
    if (existing) return existing;
    const follower: TeamFollower = new TeamFollower(db, teamId, () => {
      if (teams.get(teamId) === follower) teams.delete(teamId);
    });
    teams.set(teamId, follower);
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
  private readonly listeners = new Set<LiveFeedListener>();
  /** Posts announced but not yet delivered: their writer committed before an older write did. */
  private readonly announced = new Map<number, number>();
  private stopListening: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
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
          this.announced.set(event.postId, Date.now());
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

  /** Runs one delivery pass at a time; an announcement during a pass asks for another. */
  private deliver(): void {
    if (this.running) {
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
      const page = await teamPostsAfter(this.db, this.teamId, this.position, pageSize);
      if (page.length === 0) return;
      this.position = page.at(-1)!.position;
      for (const { post } of page) this.announced.delete(post.id);
      this.each((listener) => listener.onPosts(page));
      this.retries = 0;
      if (page.length < pageSize) return;
    }
  }

  /** An announced post not delivered yet waits behind an open write: look again shortly. */
  private scheduleRetry(): void {
    clearTimeout(this.retry);
    for (const [postId, since] of this.announced) if (Date.now() - since > announcedForMs) this.announced.delete(postId);
    if (this.announced.size === 0 || this.listeners.size === 0) return;
    const delay = retryDelaysMs[Math.min(this.retries++, retryDelaysMs.length - 1)]!;
    this.retry = setTimeout(() => this.deliver(), delay);
    this.retry.unref();
  }
}
