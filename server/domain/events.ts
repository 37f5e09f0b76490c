import type { Database } from "../db/client.ts";
import { logger } from "../logger.ts";

/** The NOTIFY channel of live events (server/domain/post-announcements.ts, server/domain/users.ts). */
export const eventsChannel = "botboard_events";

/**
 * `line`: every transaction below this id (xid8, as text) had ended when the event was sent. Postgres
 * hands out notifications in commit order, so a listener that gets the event on one connection got
 * theirs before it; a new connection is reported first (`onResume`). Events from a process of an
 * older version have none (docs/decisions/048-listen-resume-replays-changes.md).
 */
type SentAfter = { line?: string };

/**
 * The team has new committed posts: a wake-up sent after commit, which names no post. A listener reads
 * what lies past its own position. One payload names several teams; the hub hands each its own event.
 */
export type PostsCreatedEvent = { type: "posts.created"; teamId: string } & SentAfter;

/**
 * A post changed (removed by moderation), announced in the changing transaction, whose id it carries
 * as `changedTxId` (the post's changed_tx_id, server/domain/post-changes.ts).
 */
export type PostUpdatedEvent = {
  type: "post.updated";
  teamId: string;
  postId: number;
  rootId: number | null;
  changedTxId?: string;
} & SentAfter;

/**
 * Posts of the team changed in one transaction (a deleted engineer's, signed anew), announced in it
 * with its id, their changed_tx_id: a listener reads them by it, however many.
 */
export type PostsChangedEvent = { type: "posts.changed"; teamId: string; changedTxId: string } & SentAfter;

/**
 * An engineer's sessions ended (sign-out: the one session; disabled or deleted: all of them), sent
 * by server/domain/users.ts on the same channel so every process closes the live feeds they hold.
 */
export type SessionsEndedEvent = { type: "sessions.ended"; teamId: string; userId: string; sessionId: string | null };

export type HubEvent = PostsCreatedEvent | PostUpdatedEvent | PostsChangedEvent | SessionsEndedEvent;

export type Subscriber = {
  /** Each event of the team. */
  onEvent(event: HubEvent): void;
  /** The hub shuts down: long-lived streams end, so the server can drain. */
  onClose?(): void;
  /**
   * Listening again after the database was away: events of that gap were lost, catch up from the
   * database. Called before any event the new connection brings.
   */
  onResume?(): void;
};

export type EventHub = {
  /** Calls the subscriber for the team's events until the returned function is called. */
  subscribe(teamId: string, subscriber: Subscriber): Promise<() => void>;
  close(): Promise<void>;
};

/**
 * One LISTEN per process, started on the first subscriber, fanning out to every subscriber of the
 * event's team. Events come from the database, so posts written by any process reach every reader.
 */
export function createEventHub(database: Pick<Database, "listen">): EventHub {
  const subscribers = new Map<string, Set<Subscriber>>();
  let listening: Promise<() => Promise<void>> | undefined;

  function notify(targets: Iterable<Subscriber>, call: (subscriber: Subscriber) => void): void {
    for (const subscriber of [...targets]) {
      try {
        call(subscriber);
      } catch (error) {
        logger.error({ error: String(error) }, "event subscriber failed");
      }
    }
  }
  const everyone = () => [...subscribers.values()].flatMap((team) => [...team]);

  function dispatch(payload: string): void {
    for (const event of parseHubEvents(payload)) {
      notify(subscribers.get(event.teamId) ?? [], (subscriber) => subscriber.onEvent(event));
    }
  }

  function resume(): void {
    logger.info({ subscribers: everyone().length }, "listening for live events again; live feeds catch up");
    notify(everyone(), (subscriber) => subscriber.onResume?.());
  }

  return {
    async subscribe(teamId, subscriber) {
      listening ??= database.listen(eventsChannel, dispatch, resume).catch((error: unknown) => {
        listening = undefined;
        throw error;
      });
      await listening;
      const team = subscribers.get(teamId) ?? new Set();
      subscribers.set(teamId, team);
      team.add(subscriber);
      return () => {
        team.delete(subscriber);
        if (team.size === 0) subscribers.delete(teamId);
      };
    },
    async close() {
      notify(everyone(), (subscriber) => subscriber.onClose?.());
      subscribers.clear();
      const stop = await listening?.catch(() => undefined);
      listening = undefined;
      await stop?.();
    },
  };
}

/** A transaction id (xid8) as text, or undefined. */
function transactionIdOf(value: unknown): string | undefined {
  return typeof value === "string" && /^\d{1,20}$/.test(value) ? value : undefined;
}

function parseHubEvents(payload: string): HubEvent[] {
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    const line = transactionIdOf(value.line);
    const sentAfter: SentAfter = line ? { line } : {};
    if (value.type === "posts.created") {
      const teamIds = Array.isArray(value.teamIds) ? value.teamIds : [];
      return teamIds
        .filter((teamId): teamId is string => typeof teamId === "string")
        .map((teamId) => ({ type: "posts.created", teamId, ...sentAfter }));
    }
    if (value.type === "posts.changed") {
      const changedTxId = transactionIdOf(value.changedTxId);
      if (typeof value.teamId !== "string" || !changedTxId) return [];
      return [{ type: value.type, teamId: value.teamId, changedTxId, ...sentAfter }];
    }
    if (value.type === "sessions.ended") {
      const { teamId, userId, sessionId } = value;
      if (typeof teamId !== "string" || typeof userId !== "string") return [];
      return [{ type: value.type, teamId, userId, sessionId: typeof sessionId === "string" ? sessionId : null }];
    }
    if (value.type !== "post.updated" || typeof value.teamId !== "string") return [];
    const postId = Number(value.postId);
    if (!Number.isSafeInteger(postId)) return [];
    const rootId = value.rootId === null || value.rootId === undefined ? null : Number(value.rootId);
    const changedTxId = transactionIdOf(value.changedTxId);
    return [{ type: value.type, teamId: value.teamId, postId, rootId, ...(changedTxId ? { changedTxId } : {}), ...sentAfter }];
  } catch {
    return [];
  }
}
