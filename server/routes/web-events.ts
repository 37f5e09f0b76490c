import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import type { HumanCaller } from "../callers.ts";
import type { Db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { EventHub, PostEvent } from "../events.ts";
import { getPost, isFiltered, isInFeed, listPosts, listPostsAfter, type FeedFilters, type Post } from "../posts.ts";
import { PostCard } from "../../views/fragments/post.tsx";
import { asFeedFilters, feedFiltersSchema, parseWith, type WebEnv } from "./web-session.ts";

const keepAliveMs = 25_000;
const catchUpLimit = 100;

/**
 * GET /events: the team's new and changed posts as server-sent events, each rendered for the page.
 * The event id is the post id; a reconnecting browser sends Last-Event-ID and first gets what it missed.
 * When the database was away and the process listens again, every open stream catches up the same way
 * from the last post it sent, so a feed that stayed open through an outage misses nothing either.
 */
export function liveEvents(db: Db, hub: EventHub) {
  return async function streamTeamEvents(c: Context<WebEnv>) {
    const caller = c.get("caller");
    // A filtered feed page (?author=, ?tag=, ?thread=) gets only the new posts it would show.
    const filters = asFeedFilters(parseWith(feedFiltersSchema, c.req.query()));
    // ?after= is how the page's script asks when it had to open a new EventSource (which sends no Last-Event-ID).
    const lastSeen = Number(c.req.header("last-event-id") ?? c.req.query("after"));
    return streamSSE(c, async (stream) => {
      const queue: (PostEvent | "catch-up")[] = [];
      const delivered = new DeliveredPosts();
      let wake: (() => void) | undefined;
      let hubClosed = false;
      const enqueue = (item: PostEvent | "catch-up") => {
        queue.push(item);
        wake?.();
      };
      const unsubscribe = await hub.subscribe(caller.teamId, {
        onEvent: enqueue,
        onResume: () => enqueue("catch-up"),
        onClose() {
          hubClosed = true;
          wake?.();
        },
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      await stream.writeSSE({ event: "ready", data: "{}", retry: 1000 });
      if (Number.isSafeInteger(lastSeen) && lastSeen > 0) {
        delivered.anchor = lastSeen;
        enqueue("catch-up");
      } else {
        delivered.anchor = (await listPosts(db, caller, { limit: 1 })).posts[0]?.id;
      }
      while (!stream.aborted && !hubClosed) {
        const item = queue.shift();
        if (item === "catch-up") {
          if (delivered.anchor === undefined) continue;
          for (const post of await listPostsAfter(db, caller, delivered.anchor, catchUpLimit, filters)) {
            if (delivered.has(post.id)) continue;
            await sendPost(stream, db, caller, post);
            delivered.add(post.id);
          }
          continue;
        }
        if (item) {
          if (item.type === "post.created" && delivered.has(item.postId)) continue;
          if (await sendEvent(stream, db, caller, item, filters)) delivered.add(item.postId);
          continue;
        }
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), keepAliveMs);
          wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        wake = undefined;
        if (timedOut && !stream.aborted) await stream.write(": keep-alive\n\n");
      }
      unsubscribe();
    });
  };
}

/**
 * The posts a stream has sent, so a catch-up and a live event never send one twice, and the newest
 * one sent (the anchor a catch-up starts after). Bounded: a stream open for days keeps the last few hundred.
 */
class DeliveredPosts {
  anchor: number | undefined;
  private readonly recent = new Set<number>();

  has(postId: number): boolean {
    return this.recent.has(postId);
  }

  add(postId: number): void {
    this.recent.add(postId);
    if (this.recent.size > 500) this.recent.delete(this.recent.values().next().value!);
    this.anchor = Math.max(this.anchor ?? 0, postId);
  }
}

type SseMessage = { event: string; id?: string; data: string };

/**
 * Every open feed of a team receives the same event, so it is loaded and rendered once per
 * process, not once per reader: a thousand watchers cost one query, not a thousand.
 */
const messageCache = new Map<string, Promise<SseMessage | undefined>>();
const messageCacheMs = 2_000;

function cachedMessage(key: string, build: () => Promise<SseMessage | undefined>): Promise<SseMessage | undefined> {
  let message = messageCache.get(key);
  if (!message) {
    message = build();
    messageCache.set(key, message);
    setTimeout(() => messageCache.delete(key), messageCacheMs).unref();
    message.catch(() => messageCache.delete(key));
  }
  return message;
}

/** Sends one event; true when it was a new post that went out. */
async function sendEvent(stream: SSEStreamingApi, db: Db, caller: HumanCaller, event: PostEvent, filters: FeedFilters): Promise<boolean> {
  const filtered = event.type === "post.created" && isFiltered(filters);
  const cacheKey = `${caller.teamId}:${event.type}:${event.postId}${filtered ? `:${JSON.stringify(filters)}` : ""}`;
  const message = await cachedMessage(cacheKey, async () => {
    if (filtered && !(await isInFeed(db, caller, event.postId, filters))) return undefined;
    let post: Post;
    try {
      post = await getPost(db, caller, event.postId);
    } catch (error) {
      if (error instanceof AppError && error.kind === "not_found") return undefined;
      throw error;
    }
    if (event.type === "post.updated") {
      return { event: "post-updated", data: JSON.stringify({ id: post.id, html: await render(post) }) };
    }
    return postMessage(db, caller, post);
  });
  if (!message) return false;
  await stream.writeSSE(message);
  return message.event === "post";
}

async function sendPost(stream: SSEStreamingApi, db: Db, caller: HumanCaller, post: Post): Promise<void> {
  await stream.writeSSE(await postMessage(db, caller, post));
}

async function postMessage(db: Db, caller: HumanCaller, post: Post): Promise<SseMessage> {
  const root = post.parentId === null ? undefined : await getPost(db, caller, post.threadId).catch(() => undefined);
  const data = {
    id: post.id,
    threadId: post.threadId,
    parentId: post.parentId,
    threadReplyCount: root?.replyCount ?? null,
    html: await render(post),
  };
  return { event: "post", id: String(post.id), data: JSON.stringify(data) };
}

async function render(post: Post): Promise<string> {
  return String(await PostCard({ post }));
}
