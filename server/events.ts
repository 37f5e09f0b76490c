import type { Database } from "./db/client.ts";
import { logger } from "./logger.ts";

/** The NOTIFY channel the posts trigger writes to (migrations/0001_post_events.sql). */
export const eventsChannel = "botboard_events";

export type PostEvent = { type: "post.created" | "post.updated"; teamId: string; postId: number; rootId: number | null };

export type EventHub = {
  /**
   * Calls `onEvent` for each event of the team until the returned function is called; `onClose`
   * when the hub shuts down, so long-lived streams can end and let the server drain.
   */
  subscribe(teamId: string, onEvent: (event: PostEvent) => void, onClose?: () => void): Promise<() => void>;
  close(): Promise<void>;
};

/**
 * One LISTEN per process, started on the first subscriber, fanning out to every subscriber of the
 * event's team. Events come from the database, so posts written by any process reach every reader.
 */
export function createEventHub(database: Pick<Database, "listen">): EventHub {
  const subscribers = new Map<string, Set<(event: PostEvent) => void>>();
  const closers = new Set<() => void>();
  let listening: Promise<() => Promise<void>> | undefined;

  function dispatch(payload: string): void {
    const event = parsePostEvent(payload);
    if (!event) return;
    for (const onEvent of subscribers.get(event.teamId) ?? []) {
      try {
        onEvent(event);
      } catch (error) {
        logger.error({ error: String(error) }, "event subscriber failed");
      }
    }
  }

  return {
    async subscribe(teamId, onEvent, onClose) {
      listening ??= database.listen(eventsChannel, dispatch).catch((error: unknown) => {
        listening = undefined;
        throw error;
      });
      await listening;
      const team = subscribers.get(teamId) ?? new Set();
      subscribers.set(teamId, team);
      team.add(onEvent);
      if (onClose) closers.add(onClose);
      return () => {
        team.delete(onEvent);
        if (onClose) closers.delete(onClose);
        if (team.size === 0) subscribers.delete(teamId);
      };
    },
    async close() {
      for (const onClose of [...closers]) onClose();
      closers.clear();
      subscribers.clear();
      const stop = await listening?.catch(() => undefined);
      listening = undefined;
      await stop?.();
    },
  };
}

function parsePostEvent(payload: string): PostEvent | undefined {
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    if ((value.type !== "post.created" && value.type !== "post.updated") || typeof value.teamId !== "string") return undefined;
    const postId = Number(value.postId);
    if (!Number.isSafeInteger(postId)) return undefined;
    const rootId = value.rootId === null || value.rootId === undefined ? null : Number(value.rootId);
    return { type: value.type, teamId: value.teamId, postId, rootId };
  } catch {
    return undefined;
  }
}
