import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import type { HumanCaller } from "../callers.ts";
import type { Db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { EventHub, PostEvent } from "../events.ts";
import { getPost, listPostsAfter, type Post } from "../posts.ts";
import { PostCard } from "../../views/fragments/post.tsx";
import type { WebEnv } from "./web-session.ts";

const keepAliveMs = 25_000;
const catchUpLimit = 100;

/**
 * GET /events: the team's new and changed posts as server-sent events, each rendered for the page.
 * The event id is the post id; a reconnecting browser sends Last-Event-ID and first gets what it missed.
 */
export function liveEvents(db: Db, hub: EventHub) {
  return async function streamTeamEvents(c: Context<WebEnv>) {
    const caller = c.get("caller");
    const lastSeen = Number(c.req.header("last-event-id"));
    return streamSSE(c, async (stream) => {
      const queue: PostEvent[] = [];
      let wake: (() => void) | undefined;
      let hubClosed = false;
      const unsubscribe = await hub.subscribe(
        caller.teamId,
        (event) => {
          queue.push(event);
          wake?.();
        },
        () => {
          hubClosed = true;
          wake?.();
        },
      );
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      await stream.writeSSE({ event: "ready", data: "{}", retry: 1000 });
      if (Number.isSafeInteger(lastSeen) && lastSeen > 0) {
        for (const post of await listPostsAfter(db, caller, lastSeen, catchUpLimit)) await sendPost(stream, db, caller, post);
      }
      while (!stream.aborted && !hubClosed) {
        const event = queue.shift();
        if (event) {
          await sendEvent(stream, db, caller, event);
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

async function sendEvent(stream: SSEStreamingApi, db: Db, caller: HumanCaller, event: PostEvent): Promise<void> {
  const message = await cachedMessage(`${caller.teamId}:${event.type}:${event.postId}`, async () => {
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
  if (message) await stream.writeSSE(message);
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
