import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { listAgentNames } from "../../domain/agents.ts";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { appErrorOf, reportUnknownFailure } from "../../domain/failures.ts";
import { AppError, httpStatusOf } from "../../domain/errors.ts";
import { liveStart } from "../../domain/delivery.ts";
import type { EventHub } from "../../domain/events.ts";
import { createLiveFeed } from "../../domain/live-feed.ts";
import { openFeedVisit, recordFeedSeen } from "../../domain/feed-visits.ts";
import { createPost, deletePost, getThread } from "../../domain/posts.ts";
import { latestReplies, listPosts } from "../../domain/feed.ts";
import { postIdSchema } from "../../domain/schemas.ts";
import { searchPosts } from "../../domain/search.ts";
import { searchRefusalFor } from "../../domain/search-query.ts";
import { engineerInbox, inboxSize } from "../../domain/inbox.ts";
import { assetsByUrl, favicon, type Asset } from "../../../views/assets.ts";
import { PostCard, ThreadCard, ThreadReplies } from "../../../views/fragments/post.tsx";
import { ErrorPage } from "../../../views/layout.tsx";
import { Feed, hasFeedFilters, type FeedMode } from "../../../views/pages/feed.tsx";
import { SearchPage } from "../../../views/pages/search.tsx";
import { InboxPage } from "../../../views/pages/inbox.tsx";
import { ThreadPage } from "../../../views/pages/thread.tsx";
import { adminRoutes } from "./admin.ts";
import { benchRoutes } from "./bench.ts";
import { liveEvents } from "./events.ts";
import { journalRoutes } from "./journal.ts";
import { nowRoutes } from "./now.ts";
import { asFeedFilters, emptyAsMissing, feedFiltersSchema, isHtmx, pageOf, parseWith, requireEngineer, type WebEnv } from "./session.ts";
import { sameOriginPosts } from "../middleware/same-origin.ts";
import { signInRoutes } from "./sign-in.ts";
import { readForm } from "../middleware/form-body.ts";

const feedPageSize = 20;

const feedModes = ["threads", "everything"] as const;
const feedModeCookie = "feed_mode";

const feedQuerySchema = feedFiltersSchema.extend({
  cursor: z.preprocess(emptyAsMissing, z.string().max(100).optional()),
  mode: z.preprocess(emptyAsMissing, z.enum(feedModes, { error: "mode must be threads or everything" }).optional()),
});

/** The feed view this browser chose last; threads collapsed unless it chose everything. */
function feedModeOf(c: Context): FeedMode {
  return getCookie(c, feedModeCookie) === "everything" ? "everything" : "threads";
}

function rememberFeedMode(c: Context, mode: FeedMode): void {
  setCookie(c, feedModeCookie, mode, { path: "/", httpOnly: true, sameSite: "Lax", maxAge: 365 * 24 * 3600 });
}

const feedSeenSchema = z.object({ postId: postIdSchema });

const newPostFormSchema = z.object({
  content: z.string({ error: "content is required" }),
  tags: z.string().max(1000).optional(),
  parentId: z.preprocess(emptyAsMissing, postIdSchema.optional()),
  urgent: z.literal("on", { error: "urgent is a checkbox" }).optional(),
});

/** Errors as HTML: a short message for htmx to show beside the form, or a whole page. */
function htmlError(caught: unknown, c: Context<WebEnv>): Response | Promise<Response> {
  if (caught instanceof HTTPException) return caught.getResponse();
  const error = appErrorOf(caught);
  const status = error ? httpStatusOf[error.kind] : 500;
  const message = error ? error.message : reportUnknownFailure(caught, { requestId: c.get("requestId") });
  if (error?.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.retryAfterSeconds));
  if (isHtmx(c)) return c.text(message, status);
  const caller = c.get("caller");
  return c.html(ErrorPage({ status, message, page: caller ? pageOf(c) : undefined }), status);
}

/** Doors whose clients read JSON, whatever their Accept header says. */
const jsonDoors = /^\/(api|auth|mcp|teams)(\/|$)/;

/**
 * An unknown URL: a page with a way back for a browser, the usual JSON error for every other client.
 * A path that routes answer with other methods (`allowed`) is a 405 that names them.
 */
export function notFoundResponse(c: Context, allowed: readonly string[] = []): Response | Promise<Response> {
  const path = c.req.path.slice(0, 200);
  const browser = c.req.method === "GET" && !jsonDoors.test(c.req.path) && (c.req.header("accept") ?? "").includes("text/html");
  if (allowed.length > 0) {
    c.header("Allow", allowed.join(", "));
    const message = `${c.req.method} is not a method of ${path}: it takes ${allowed.join(", ")}.`;
    return browser ? c.html(ErrorPage({ status: 405, message }), 405) : c.json({ error: { code: "method_not_allowed", message } }, 405);
  }
  if (browser)
    return c.html(ErrorPage({ status: 404, message: `Nothing lives at ${path}. The link may be old, or the address mistyped.` }), 404);
  return c.json({ error: { code: "not_found", message: `No route ${c.req.method} ${c.req.path}.` } }, 404);
}

/** Versioned asset URLs may be cached for a year; a fixed one (/favicon.ico) for a day. */
function serveAsset(c: Context, asset: Asset, cacheControl = "public, max-age=31536000, immutable"): Response {
  c.header("Cache-Control", cacheControl);
  c.header("Vary", "Accept-Encoding");
  const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
  if (gzip) c.header("Content-Encoding", "gzip");
  return c.body((gzip ? asset.gzipped : asset.body) as Uint8Array<ArrayBuffer>, 200, { "Content-Type": asset.contentType });
}

/** The engineers' pages: the feed, threads, search, live events, agents, journals and admin. */
export function webRoutes(db: Db, config: Config, hub: EventHub) {
  const web = new Hono<WebEnv>();
  web.onError(htmlError);
  // Listed paths, not "*": this app is mounted at "/", and other doors (REST, MCP) have their own rules.
  for (const path of ["/login", "/setup", "/logout", "/posts", "/posts/*", "/feed/*", "/admin/*"]) web.use(path, sameOriginPosts(config));
  const engineer = requireEngineer(db, config);

  web.get("/assets/:file", (c) => {
    const asset = assetsByUrl.get(c.req.path);
    if (!asset) return c.text("Not found", 404);
    return serveAsset(c, asset);
  });
  // Browsers ask for this path whatever the page links to.
  web.get("/favicon.ico", (c) => serveAsset(c, favicon, "public, max-age=86400"));

  web.route("/", signInRoutes(db, config, engineer));

  web.get("/", engineer, async (c) => {
    const caller = c.get("caller");
    const { cursor, mode: chosenMode, ...filters } = parseWith(feedQuerySchema, c.req.query());
    const mode = chosenMode ?? feedModeOf(c);
    if (chosenMode) rememberFeedMode(c, chosenMode);
    // A thread's own feed (?thread=) lists its replies whatever the mode.
    const collapsed = mode === "threads" && filters.thread === undefined;
    const query = { limit: feedPageSize, cursor, topLevel: collapsed, ...asFeedFilters(filters) };
    // The newest deliverable post before the page is read: live posts start after it (the page drops repeats).
    const { horizon, line: liveLine } = await liveStart(db, caller.teamId);
    const liveFrom = horizon.postId;
    const page = await listPosts(db, caller, query);
    const threads = collapsed
      ? await latestReplies(
          db,
          caller,
          page.posts.map((post) => post.id),
        )
      : undefined;
    const authors = await listAgentNames(db, caller.teamId);
    // Only the newest page of the whole feed is a visit: older and filtered pages show part of what is new.
    const visit = !cursor && !hasFeedFilters(filters);
    const newestShown = Math.max(liveFrom, ...page.posts.map((post) => post.id));
    const lastVisit = visit ? await openFeedVisit(db, caller, newestShown) : null;
    return c.html(
      Feed({
        page: pageOf(c),
        ...page,
        filters,
        authors,
        liveFrom,
        liveLine,
        limits: config.limits,
        mode,
        threads,
        older: Boolean(cursor),
        visit: visit ? { lastSeenPostId: lastVisit } : undefined,
      }),
    );
  });

  /** A thread's replies, opened in place under its first post in the collapsed feed. */
  web.get("/posts/:id/replies", engineer, async (c) => {
    const id = parseWith(postIdSchema, c.req.param("id"));
    const { replies } = await getThread(db, c.get("caller"), id);
    return c.html(ThreadReplies({ replies, repositoryUrl: c.get("repositoryUrl") }));
  });

  web.post("/posts", engineer, async (c) => {
    const form = parseWith(newPostFormSchema, await readForm(c));
    const tags = (form.tags ?? "").split(/[\s,]+/).filter(Boolean);
    const caller = c.get("caller");
    const { post } = await createPost(
      db,
      caller,
      { content: form.content, tags, parentId: form.parentId, urgent: form.urgent === "on" },
      config.limits,
    );
    if (isHtmx(c)) {
      // A first post goes on top of the feed, a reply under its thread: each as that page shows it.
      const repositoryUrl = c.get("repositoryUrl");
      const card =
        post.parentId === null
          ? PostCard({ post, repositoryUrl })
          : ThreadCard({ post, repositoryUrl, role: caller.role, csrfToken: c.get("csrfToken") });
      return c.html(card, 201);
    }
    return c.redirect(post.parentId === null ? "/" : `/posts/${post.threadId}#post-${post.id}`, 303);
  });

  web.get("/posts/:id", engineer, async (c) => {
    const id = parseWith(postIdSchema, c.req.param("id"));
    const caller = c.get("caller");
    const { horizon, line: liveLine } = await liveStart(db, caller.teamId);
    const thread = await getThread(db, caller, id);
    return c.html(ThreadPage({ page: pageOf(c), thread, liveFrom: horizon.postId, liveLine, limits: config.limits }));
  });

  web.post("/posts/:id/delete", engineer, async (c) => {
    const id = parseWith(postIdSchema, c.req.param("id"));
    const caller = c.get("caller");
    await deletePost(db, caller, id);
    const { root } = await getThread(db, caller, id);
    return c.redirect(`/posts/${root.id}`, 303);
  });

  /** A feed page being left: the newest post it showed (live ones included) counts as seen on the next visit. */
  web.post("/feed/seen", engineer, async (c) => {
    const { postId } = parseWith(feedSeenSchema, await readForm(c));
    await recordFeedSeen(db, c.get("caller"), postId);
    return c.body(null, 204);
  });

  web.get("/inbox", engineer, async (c) => {
    const caller = c.get("caller");
    // As on the feed: live posts start after the newest one deliverable before the inbox is read (the page drops repeats).
    const { horizon, line: liveLine } = await liveStart(db, caller.teamId);
    const items = await engineerInbox(db, caller);
    return c.html(InboxPage({ page: pageOf(c), items, size: inboxSize, liveFrom: horizon.postId, liveLine }));
  });

  web.get("/search", engineer, async (c) => {
    const query = (c.req.query("q") ?? "").slice(0, 1000);
    const cursor = c.req.query("cursor") || undefined;
    if (!query.trim()) return c.html(SearchPage({ page: pageOf(c), query, results: [], nextCursor: null }));
    try {
      const found = await searchPosts(db, c.get("caller"), { query, limit: 20, cursor });
      return c.html(SearchPage({ page: pageOf(c), query, ...found }));
    } catch (error) {
      if (!(error instanceof AppError && error.kind === "invalid")) throw error;
      return c.html(
        SearchPage({ page: pageOf(c), query, results: [], nextCursor: null, error: searchRefusalFor("page", error.message) }),
        400,
      );
    }
  });

  web.get("/events", engineer, liveEvents(db, createLiveFeed(db, hub)));
  web.route("/", adminRoutes(db, config, engineer));
  web.route("/", benchRoutes(db, engineer));
  web.route("/", journalRoutes(db, engineer));
  web.route("/", nowRoutes(db, config, engineer));
  return web;
}
