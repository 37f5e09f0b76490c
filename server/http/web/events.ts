import type { Context } from "hono";
import { raw } from "hono/html";
import { z } from "zod";
import type { HumanCaller } from "../../domain/callers.ts";
import type { Db } from "../../db/client.ts";
import { comparePositions, feedPostsAfter, positionOfPost, type DeliveredPost } from "../../domain/delivery.ts";
import { AppError } from "../../domain/errors.ts";
import type { SessionsEndedEvent } from "../../domain/events.ts";
import type { LiveFeed, PostChange } from "../../domain/live-feed.ts";
import { getPost, withTokens, type Post } from "../../domain/posts.ts";
import { postsChangedSince } from "../../domain/post-changes.ts";
import { isFiltered, isInFeed, threadHeads, type FeedFilters, type ThreadHead } from "../../domain/feed.ts";
import { getTeam } from "../../domain/teams.ts";
import { eventFrame, eventStreamResponse, type EventMessage, type EventStream } from "../event-stream.ts";
import { isSessionOpen } from "../../domain/users.ts";
import { revealInvisibleCharacters } from "../../domain/untrusted-text.ts";
import { engineersWaitedFor, notifyingReasons, replyEndsWaits, type InboxReason } from "../../domain/inbox.ts";
import { InboxEntry } from "../../../views/fragments/inbox-entry.tsx";
import {
  hasNewReplies,
  isSummedUp,
  PostCard,
  RenamedAuthor,
  ReplyCount,
  ThreadCard,
  ThreadSummary,
} from "../../../views/fragments/post.tsx";
import { asFeedFilters, feedFiltersSchema, parseWith, type WebEnv } from "./session.ts";

const keepAliveMs = 25_000;
/** An xid8 as text. */
const changesLineSchema = z.string().regex(/^\d{1,19}$/);
/** A post id, or 0: the mark of a visit to an empty feed. */
const seenMarkSchema = z
  .string()
  .regex(/^\d{1,15}$/)
  .transform(Number);
const catchUpPage = 100;
const catchUpMost = 1000;

/**
 * GET /events: the team's new and changed posts as server-sent events, each rendered for the page,
 * in delivery order and each once (server/domain/delivery.ts). The event id is the post id; a
 * reconnecting browser sends the last one as Last-Event-ID, and a page passes the newest post it was
 * rendered after as ?after=, so the stream first sends the posts changed since
 * (server/domain/post-changes.ts) and those that came since (by that post's place in delivery order),
 * then follows the live feed. It lasts as long as its session: when the session ends (signed out, or
 * the engineer disabled or deleted, on any process) it says "signed-out" and ends; the page goes to /login.
 */
export function liveEvents(db: Db, live: LiveFeed) {
  return async function streamTeamEvents(c: Context<WebEnv>) {
    const caller = c.get("caller");
    const sessionId = c.get("sessionId");
    // A filtered feed page (?author=, ?tag=, ?thread=) gets only the new posts it would show.
    const filters = asFeedFilters(parseWith(feedFiltersSchema, c.req.query()));
    const lastSeenText = c.req.header("last-event-id") || c.req.query("after");
    const lastSeen = lastSeenText ? Number(lastSeenText) : Number.NaN;
    // A post of another team, or none, resumes nothing: the stream starts from now.
    const resumeFrom = Number.isSafeInteger(lastSeen) && lastSeen >= 0 ? await positionOfPost(db, caller.teamId, lastSeen) : undefined;
    // The page's delivery line when it was read (?changes=): changes before it are on the page already.
    const pageLine = changesLineSchema.safeParse(c.req.query("changes")).data;
    // The last visit the feed page was drawn for (?seen=): a reply's or a removal's thread summary is marked new as the page marks it.
    const lastSeenPostId = seenMarkSchema.safeParse(c.req.query("seen")).data;
    return eventStreamResponse(c, async (stream) => {
      const queue: (DeliveredPost[] | PostChange)[] = [];
      let wake: (() => void) | undefined;
      let closed = false;
      let sessionEnded = false;
      let reloadAsked = false;
      const enqueue = (item: DeliveredPost[] | PostChange) => {
        queue.push(item);
        wake?.();
      };
      const endSession = () => {
        sessionEnded = true;
        wake?.();
      };
      const subscription = await live.subscribe(caller.teamId, {
        onPosts: enqueue,
        onUpdated: enqueue,
        onReload() {
          reloadAsked = true;
          wake?.();
        },
        onSessionsEnded(event: SessionsEndedEvent) {
          if (event.userId === caller.userId && (event.sessionId === null || event.sessionId === sessionId)) endSession();
        },
        onResume() {
          // An ending announced while the database was away was lost: ask the database instead.
          isSessionOpen(db, sessionId).then(
            (open) => open || endSession(),
            () => {},
          );
        },
        onClose() {
          closed = true;
          wake?.();
        },
      });
      stream.onAbort(() => {
        subscription.unsubscribe();
        wake?.();
      });
      try {
        // The session was checked before the stream followed the announcements: one ended in between was missed.
        if (!(await isSessionOpen(db, sessionId))) endSession();
        await stream.writeEvent({ event: "ready", data: "{}", retry: 1000 });
        let position = subscription.from;
        if (resumeFrom) {
          // Changes first: the page's place moves with posts only, so a stream that ends while replaying
          // posts must not have left older changes unsent.
          const changed = await postsChangedSince(db, caller, { position: resumeFrom, line: pageLine }, catchUpMost + 1);
          if (changed.length > catchUpMost) {
            await stream.writeEvent({ event: "reload", data: "{}" });
            return;
          }
          await sendChanged(stream, db, caller, changed, lastSeenPostId);
          // Up to where the live feed took over, the posts are in the database; it sends what lies beyond.
          position = resumeFrom;
          let sent = 0;
          for (;;) {
            const page = await feedPostsAfter(db, caller, position, subscription.from, catchUpPage, filters);
            for (const delivered of page) {
              await sendPost(stream, db, caller, delivered, lastSeenPostId);
              position = delivered.position;
            }
            sent += page.length;
            if (page.length < catchUpPage || stream.aborted) break;
            if (sent >= catchUpMost) {
              // Away too long to replay post by post: the page reloads and shows the newest.
              await stream.writeEvent({ event: "reload", data: "{}" });
              return;
            }
          }
        }
        while (!stream.aborted && !closed) {
          if (sessionEnded) {
            await stream.writeEvent({ event: "signed-out", data: "{}" });
            break;
          }
          if (reloadAsked) {
            await stream.writeEvent({ event: "reload", data: "{}" });
            break;
          }
          const item = queue.shift();
          if (Array.isArray(item)) {
            for (const delivered of item) {
              if (comparePositions(delivered.position, position) <= 0) continue;
              position = delivered.position;
              if (!delivered.post.deleted) await sendLivePost(stream, db, caller, delivered, filters, lastSeenPostId);
            }
            continue;
          }
          if (item) {
            await sendUpdate(stream, db, caller, item, lastSeenPostId);
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
      } finally {
        subscription.unsubscribe();
      }
    });
  };
}

/**
 * Every open feed of a team receives the same event, so it is loaded and rendered once per
 * process, not once per reader: a thousand watchers cost one query, not a thousand.
 */
const messageCache = new Map<string, Promise<unknown>>();
const messageCacheMs = 2_000;

function cachedMessage<T>(key: string, build: () => Promise<T | undefined>): Promise<T | undefined> {
  let message = messageCache.get(key) as Promise<T | undefined> | undefined;
  if (!message) {
    message = build();
    messageCache.set(key, message);
    setTimeout(() => messageCache.delete(key), messageCacheMs).unref();
    message.catch(() => messageCache.delete(key));
  }
  return message;
}

/** A post from the live feed: rendered once per process, checked once per filter combination. */
async function sendLivePost(
  stream: EventStream,
  db: Db,
  caller: HumanCaller,
  delivered: DeliveredPost,
  filters: FeedFilters,
  lastSeenPostId: number | undefined,
): Promise<void> {
  const filterKey = isFiltered(filters) ? `:${JSON.stringify(filters)}` : "";
  const rendered = await cachedMessage(`${caller.teamId}:post:${delivered.post.id}${filterKey}`, async () => {
    if (filterKey && !(await isInFeed(db, caller, delivered.post.id, filters))) return undefined;
    return renderPost(db, caller, delivered);
  });
  if (!rendered) return;
  const newReplies = marksThreadNew(rendered, lastSeenPostId);
  if (reasonsFor(caller, rendered).length > 0) return stream.writeEvent(await postMessageFor(caller, rendered, newReplies));
  // Most watchers are not addressed: they share one encoded event per role and mark, not a copy each per post.
  const frameKey = `${caller.role}:${newReplies}`;
  const frame = rendered.framesForOthers[frameKey] ?? eventFrame(await postMessageFor(caller, rendered, newReplies));
  rendered.framesForOthers[frameKey] = frame;
  await stream.write(frame);
}

async function sendPost(
  stream: EventStream,
  db: Db,
  caller: HumanCaller,
  delivered: DeliveredPost,
  lastSeenPostId: number | undefined,
): Promise<void> {
  const rendered = await renderPost(db, caller, delivered);
  await stream.writeEvent(await postMessageFor(caller, rendered, marksThreadNew(rendered, lastSeenPostId)));
}

/** Whether a reply makes its thread new since the page's last visit: it is the thread's latest reply now. */
function marksThreadNew(rendered: RenderedPost, lastSeenPostId: number | undefined): boolean {
  return rendered.newSummaryHtml !== undefined && hasNewReplies(rendered.post, lastSeenPostId);
}

/**
 * A changed post, as the card that replaces the page's (and for a reply, its thread as it is now): the
 * post the change came with, or as it is now. Read once per process and team; rendered once for the
 * pages that mark its thread new since their last visit and once for the others.
 */
async function sendUpdate(
  stream: EventStream,
  db: Db,
  caller: HumanCaller,
  change: PostChange,
  lastSeenPostId: number | undefined,
): Promise<void> {
  const key = `${caller.teamId}:post.updated:${change.postId}:${change.changedTxId ?? "now"}`;
  const changed = await cachedMessage(key, async () => {
    let post = change.post;
    try {
      post ??= await getPost(db, caller, change.postId);
    } catch (error) {
      if (error instanceof AppError && error.kind === "not_found") return undefined;
      throw error;
    }
    const [repositoryUrl, heads] = await Promise.all([
      repositoryUrlOf(db, caller.teamId),
      threadHeads(db, caller, post.parentId === null ? [] : [post.threadId]),
    ]);
    return { post, repositoryUrl, head: headOf(post, heads) };
  });
  if (!changed) return;
  const { post, repositoryUrl, head } = changed;
  const newReplies = hasNewReplies(head?.latest, lastSeenPostId);
  const message = await cachedMessage(`${key}:${newReplies}`, () => updatedMessage(post, repositoryUrl, head, newReplies));
  if (message) await stream.writeEvent(message);
}

/** The thread a changed reply belongs to, as the feeds still show it (none for a first post). */
function headOf(post: Post, heads: Map<number, ThreadHead>): ThreadHead | undefined {
  return post.parentId === null ? undefined : heads.get(post.threadId);
}

/** The team's repository, looked up once per process for the changes a replay hands every stream at once. */
async function repositoryUrlOf(db: Db, teamId: string): Promise<string | null> {
  return (await cachedMessage(`${teamId}:repository`, async () => (await getTeam(db, teamId)).repositoryUrl)) ?? null;
}

/** Posts changed while the page was away, each as the card that replaces the page's (their threads read once). */
async function sendChanged(
  stream: EventStream,
  db: Db,
  caller: HumanCaller,
  changed: Post[],
  lastSeenPostId: number | undefined,
): Promise<void> {
  if (changed.length === 0) return;
  const threadIds = changed.filter((post) => post.parentId !== null).map((post) => post.threadId);
  const [{ repositoryUrl }, heads] = await Promise.all([getTeam(db, caller.teamId), threadHeads(db, caller, threadIds)]);
  for (const post of changed) {
    if (stream.aborted) return;
    const head = headOf(post, heads);
    await stream.writeEvent(await updatedMessage(post, repositoryUrl, head, hasNewReplies(head?.latest, lastSeenPostId)));
  }
}

/**
 * A changed post's event. A post that stays (its author renamed) sends the parts of a page that show
 * the name, each with the id of the element it replaces (`RenamedAuthor`), so a card keeps what only
 * its page has. A removed one sends the card as the team's pages show it, linked into the team's
 * repository as it is set now; for a reply whose thread the feeds still show (`head`), the thread as
 * it is now (a removed reply no longer counts): its first post's link and, for the collapsed feed, its
 * summary, marked `newReplies` for the page, or once no reply is left, the first post's card, which has none.
 */
async function updatedMessage(
  post: Post,
  repositoryUrl: string | null,
  head: ThreadHead | undefined,
  newReplies: boolean,
): Promise<EventMessage> {
  if (!post.deleted) {
    return { event: "post-updated", data: JSON.stringify({ id: post.id, partsHtml: String(await RenamedAuthor({ post })) }) };
  }
  const data = {
    id: post.id,
    threadId: post.threadId,
    html: String(await PostCard({ post, repositoryUrl })),
    ...(head ? { replyCountHtml: String(await ReplyCount({ post: head.root })) } : {}),
    ...(head && isSummedUp(head.root)
      ? { summaryHtml: String(await ThreadSummary({ post: head.root, latest: head.latest, newReplies })) }
      : {}),
    ...(head && !isSummedUp(head.root) ? { rootHtml: String(await PostCard({ post: head.root, repositoryUrl })) } : {}),
  };
  return { event: "post-updated", data: JSON.stringify(data) };
}

/** A new post as every watcher of the team gets it, and the engineers it waits for. */
type RenderedPost = {
  post: Post;
  data: {
    id: number;
    threadId: number;
    parentId: number | null;
    /** A reply's thread's link under its first post, with the new count. */
    replyCountHtml?: string;
    /** The card as the feed and the inbox show it. */
    html: string;
    /** A reply's card as its thread shows it (with the token that wrote it), when that differs. */
    threadHtml?: string;
    /** A reply's thread summed up as the collapsed feed shows it under the first post, to a page it does not mark new. */
    summaryHtml?: string;
    /** The post can end waits in inboxes besides starting its own: inbox pages read theirs again. */
    inboxesChanged?: true;
  };
  /**
   * A reply's card as its thread page shows it to each role, when that differs from the thread's:
   * an admin's has the Delete form, whose form token each page fills in.
   */
  threadPageHtml: Partial<Record<HumanCaller["role"], string>>;
  /**
   * The summary marked "new since your last visit", for the pages whose last visit came before the
   * reply: rendered when the first such page asks, so a catch-up, read per page, renders it only for those.
   */
  newSummaryHtml?: () => Promise<string>;
  /** Why the post waits for each engineer it waits for, by user id (server/domain/inbox.ts). */
  waitingFor: Map<string, InboxReason[]>;
  /** The event for every watcher it does not wait for, by role and thread mark, encoded by the first. */
  framesForOthers: Record<string, Uint8Array>;
};

async function renderPost(db: Db, caller: HumanCaller, { post }: DeliveredPost): Promise<RenderedPost> {
  const reply = post.parentId !== null;
  const [[inThread], root, waitingFor, { repositoryUrl }] = await Promise.all([
    reply ? withTokens(db, caller, [post]) : [post],
    reply ? getPost(db, caller, post.threadId).catch(() => undefined) : undefined,
    engineersWaitedFor(db, caller.teamId, post.id),
    getTeam(db, caller.teamId),
  ]);
  const html = String(await PostCard({ post, repositoryUrl }));
  const latest = { id: post.id, authorName: post.author.name, createdAt: post.createdAt };
  const summed = root && !root.deleted ? root : undefined;
  const data = {
    id: post.id,
    threadId: post.threadId,
    parentId: post.parentId,
    ...(root ? { replyCountHtml: String(await ReplyCount({ post: root })) } : {}),
    html,
    ...(inThread && inThread !== post ? { threadHtml: String(await PostCard({ post: inThread, repositoryUrl })) } : {}),
    ...(summed ? { summaryHtml: String(await ThreadSummary({ post: summed, latest, newReplies: false })) } : {}),
    ...(root && replyEndsWaits(root) ? { inboxesChanged: true as const } : {}),
  };
  const threadPageHtml: RenderedPost["threadPageHtml"] = {};
  if (reply) {
    for (const role of ["admin", "member"] as const) {
      const card = String(await ThreadCard({ post: inThread ?? post, repositoryUrl, role, csrfToken: "" }));
      if (card !== (data.threadHtml ?? html)) threadPageHtml[role] = card;
    }
  }
  let newSummary: Promise<string> | undefined;
  const newSummaryHtml = summed
    ? () => (newSummary ??= Promise.resolve(ThreadSummary({ post: summed, latest, newReplies: true })).then(String))
    : undefined;
  return { post, data, threadPageHtml, newSummaryHtml, waitingFor, framesForOthers: {} };
}

const noticeBodyChars = 200;

/**
 * A post as its notification's one line: hidden characters spelled out (`[U+202E]`) as everywhere,
 * since the system draws the text and an override would turn it around; cut on code points, since a
 * cut through a surrogate pair leaves a broken character.
 */
function noticeBody(content: string): string {
  const characters = [...revealInvisibleCharacters(content).replace(/\s+/g, " ").trim()];
  return characters.length > noticeBodyChars ? `${characters.slice(0, noticeBodyChars).join("")}…` : characters.join("");
}

/**
 * The post for one engineer: with why it waits for them, its entry in their inbox, the plain text of
 * the notification their browser may show when it calls for them at once (never HTML: the page sets
 * it as text), and its thread's summary marked `newReplies` for their page.
 */
async function postMessageFor(caller: HumanCaller, rendered: RenderedPost, newReplies: boolean): Promise<EventMessage> {
  const { post } = rendered;
  const summaryHtml = newReplies ? await rendered.newSummaryHtml?.() : rendered.data.summaryHtml;
  const data = { ...rendered.data, summaryHtml, threadPageHtml: rendered.threadPageHtml[caller.role] };
  const reasons = reasonsFor(caller, rendered);
  const inboxHtml = reasons.length > 0 ? String(await InboxEntry({ reasons, children: raw(data.html) })) : undefined;
  const forYou = reasons.filter((reason) => notifyingReasons.includes(reason));
  const why = forYou.includes("mention") ? "mentions you" : forYou.includes("reply") ? "replied in your thread" : "posted urgently";
  const notice = forYou.length > 0 ? { title: `${post.author.name} ${why}`, body: noticeBody(post.content) } : undefined;
  return { event: "post", id: String(post.id), data: JSON.stringify({ ...data, forYou, notice, inboxHtml }) };
}

function reasonsFor(caller: HumanCaller, { waitingFor }: RenderedPost): InboxReason[] {
  return waitingFor.get(caller.userId) ?? [];
}
