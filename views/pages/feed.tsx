import { assets } from "../assets.ts";
import type { LatestReply } from "../../server/domain/feed.ts";
import { NotificationsToggle } from "../fragments/notifications-toggle.tsx";
import { nameKey } from "../../server/domain/names.ts";
import type { PostLimits } from "../../server/domain/limits.ts";
import type { Post } from "../../server/domain/posts.ts";
import { revealInvisibleCharacters } from "../../server/domain/untrusted-text.ts";
import { hasNewReplies, PostCard } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

export type FeedFilters = { author?: string; tag?: string; thread?: number };

/** "threads": each thread's first post with a summary of its replies; "everything": every post as it came. */
export type FeedMode = "threads" | "everything";

/** The collapsed view's summaries by thread, or undefined in the flat view. */
export type ThreadSummaries = Map<number, LatestReply> | undefined;

export function feedQuery(filters: FeedFilters, cursor?: string): string {
  const query = new URLSearchParams();
  if (filters.author) query.set("author", filters.author);
  if (filters.tag) query.set("tag", filters.tag);
  if (filters.thread !== undefined) query.set("thread", String(filters.thread));
  if (cursor) query.set("cursor", cursor);
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** `seen`: the last visit the page was drawn for, so a removal's thread summary is marked new as this page marks it. */
function liveEventsUrl(filters: FeedFilters, after: number, line: string, seen: number | null): string {
  const query = feedQuery(filters);
  return `/events${query}${query ? "&" : "?"}after=${after}&changes=${line}${seen === null ? "" : `&seen=${seen}`}`;
}

/** The newest page of the whole feed, opened: `lastSeenPostId` is where the engineer's last visit ended (null: never visited). */
export type FeedVisit = { lastSeenPostId: number | null };

/**
 * Where the "new since your last visit" line goes: after the posts newer than the last visit (the
 * feed is newest first), or undefined when there is none to draw (a first visit, nothing new, or
 * nothing older on the page and no older page).
 */
function lastVisitLineAt(posts: Post[], visit: FeedVisit | undefined, hasOlder: boolean): number | undefined {
  const seen = visit?.lastSeenPostId;
  if (seen === null || seen === undefined) return undefined;
  const newCount = posts.findIndex((post) => post.id <= seen);
  if (newCount === 0) return undefined;
  if (newCount === -1) return hasOlder ? posts.length : undefined;
  return newCount;
}

/** The count has an element of its own, and no word that agrees with it: app.js counts again as live posts come and go. */
function LastVisitLine(props: { newCount: number; allNew: boolean }) {
  const count = <span>{props.newCount}</span>;
  return (
    <p class="last-visit" id="last-visit">
      <span>
        {props.allNew ? (
          <>↑ All {count} here are new since your last visit; older pages may have more</>
        ) : (
          <>↑ {count} new since your last visit</>
        )}
      </span>
    </p>
  );
}

/** A page of posts and, when there are more, the button that fetches the next page in its place. */
export function FeedPage(props: {
  posts: Post[];
  nextCursor: string | null;
  filters: FeedFilters;
  threads: ThreadSummaries;
  repositoryUrl: string | null;
  visit?: FeedVisit;
}) {
  const { threads } = props;
  const lineAt = lastVisitLineAt(props.posts, props.visit, props.nextCursor !== null);
  const seen = props.visit?.lastSeenPostId ?? null;
  const collapsedCard = (post: Post) => {
    const latest = threads?.get(post.id);
    return { latest, newReplies: hasNewReplies(latest, seen) };
  };
  return (
    <>
      {props.posts.map((post, index) => (
        <>
          {index === lineAt && <LastVisitLine newCount={index} allNew={false} />}
          <PostCard post={post} repositoryUrl={props.repositoryUrl} collapsed={threads ? collapsedCard(post) : undefined} />
        </>
      ))}
      {lineAt === props.posts.length && <LastVisitLine newCount={lineAt} allNew={true} />}
      {props.nextCursor && (
        <div class="older" id="older">
          <a class="button" href={`/${feedQuery(props.filters, props.nextCursor)}`} rel="next">
            Older posts
          </a>
        </div>
      )}
    </>
  );
}

export function hasFeedFilters(filters: FeedFilters): boolean {
  return Boolean(filters.author || filters.tag || filters.thread !== undefined);
}

/**
 * What an empty feed says: how to get posts into a fresh one, or that the filters matched nothing.
 * A feed with posts carries it hidden, for app.js to show once live removals take the last card.
 */
function EmptyFeed(props: { filters: FeedFilters; isAdmin: boolean; hidden: boolean }) {
  const { filters, hidden } = props;
  if (filters.thread !== undefined) {
    return (
      <p class="empty" hidden={hidden}>
        No thread #{filters.thread} in your team: it may have been mistyped or deleted. <a href="/">Show the whole feed</a>
      </p>
    );
  }
  if (hasFeedFilters(filters)) {
    return (
      <p class="empty" hidden={hidden}>
        No posts match these filters. <a href="/">Clear filters</a>
      </p>
    );
  }
  return (
    <p class="empty" hidden={hidden}>
      No posts yet. Agents' posts appear here as they arrive.{" "}
      {props.isAdmin ? (
        <a href="/admin">Connect an agent: create it and copy its set-up</a>
      ) : (
        <a href="/agents">See which agents are connected</a>
      )}
    </p>
  );
}

/** The two ways to read the feed; the choice is remembered for this browser. */
function ModeSwitch(props: { mode: FeedMode; filters: FeedFilters }) {
  const link = (mode: FeedMode, label: string) => {
    const query = new URLSearchParams(feedQuery(props.filters).slice(1));
    query.set("mode", mode);
    return (
      <a href={`/?${query}`} aria-current={props.mode === mode ? "true" : undefined}>
        {label}
      </a>
    );
  };
  return (
    <nav class="feed-mode" aria-label="Feed view">
      {link("threads", "Threads")} {link("everything", "Everything")}
    </nav>
  );
}

/**
 * The author filter's choices: the team's agents, the one filtered by chosen as the server matches
 * names (nameKey: `ALICE` is alice), and an author who is no agent (an engineer a mention links to)
 * as a choice of its own, so that filtering again keeps it.
 */
function AuthorOptions(props: { authors: string[]; chosen: string | undefined }) {
  const { authors, chosen } = props;
  const listed = chosen === undefined ? undefined : authors.find((name) => nameKey(name) === nameKey(chosen));
  return (
    <>
      <option value="">Everyone</option>
      {chosen !== undefined && listed === undefined && (
        <option value={chosen} selected>
          {revealInvisibleCharacters(chosen)}
        </option>
      )}
      {authors.map((name) => (
        <option value={name} selected={name === listed}>
          {name}
        </option>
      ))}
    </>
  );
}

export function Feed(props: {
  page: PageContext;
  posts: Post[];
  nextCursor: string | null;
  filters: FeedFilters;
  authors: string[];
  /** The configured limits (BOTBOARD_MAX_POST_CHARS), so the form allows what the server accepts. */
  limits: PostLimits;
  /** The newest post every reader could be given when the page was read: live posts start after it. */
  liveFrom: number;
  /** The delivery line then: posts changed later are sent again when the stream opens. */
  liveLine: string;
  mode: FeedMode;
  threads: ThreadSummaries;
  /** A page of older posts (?cursor=): no live posts on top, a link back to the newest. */
  older: boolean;
  /** Set on the newest page of the whole feed: it draws the last-visit line and reports what it showed when left. */
  visit?: FeedVisit;
  error?: string;
}) {
  const { filters } = props;
  const filtered = hasFeedFilters(filters);
  return (
    <Layout title="Feed" page={props.page} current="/">
      <h1 class="visually-hidden">Team feed</h1>
      <section class="panel compose" aria-labelledby="compose-title">
        <details class="fold" open data-fold-on-phone>
          <summary>
            <h2 id="compose-title">Post to the team</h2>
          </summary>
          <form method="post" action="/posts" hx-post="/posts" hx-swap="none" data-insert="feed" class="stack">
            <CsrfField page={props.page} />
            <label for="compose-content">Message (markdown)</label>
            <textarea
              id="compose-content"
              name="content"
              rows={3}
              required
              maxlength={props.limits.maxPostChars}
              placeholder="Instructions or news for the agents…"
            ></textarea>
            <div class="row">
              <label for="compose-tags">Tags</label>
              <input id="compose-tags" name="tags" placeholder="e.g. ci, decision" autocomplete="off" />
              <label for="compose-urgent" title="Every agent of the team gets it first, marked urgent">
                <input type="checkbox" id="compose-urgent" name="urgent" /> Urgent
              </label>
              <button type="submit">Post</button>
            </div>
            <p class="form-error" role="alert" aria-live="assertive">
              {props.error}
            </p>
          </form>
        </details>
      </section>

      <details class="fold filters-fold" open data-fold-on-phone={filtered ? undefined : ""}>
        <summary>Filters{filtered ? " (on)" : ""}</summary>
        <form class="filters row" method="get" action="/" role="search" aria-label="Filter the feed">
          <label for="filter-author">Agent</label>
          <select id="filter-author" name="author">
            <AuthorOptions authors={props.authors} chosen={filters.author} />
          </select>
          <label for="filter-tag">Tag</label>
          <input id="filter-tag" name="tag" value={filters.tag ?? ""} size={12} />
          <label for="filter-thread">Thread #</label>
          <input id="filter-thread" name="thread" inputmode="numeric" value={filters.thread?.toString() ?? ""} size={6} />
          <button type="submit">Filter</button>
          {filtered && <a href="/">Clear filters</a>}
        </form>
      </details>

      <ModeSwitch mode={props.mode} filters={filters} />
      <NotificationsToggle />
      <button type="button" class="new-posts-pill" id="new-posts" hidden>
        New posts
      </button>
      <section
        id="feed"
        data-folds={assets.fold.url}
        aria-label="Posts, newest first"
        aria-live="polite"
        data-live={props.older ? undefined : "feed"}
        data-mode={props.threads ? "threads" : "everything"}
        data-events={props.older ? undefined : liveEventsUrl(filters, props.liveFrom, props.liveLine, props.visit?.lastSeenPostId ?? null)}
        data-seen-url={props.visit ? "/feed/seen" : undefined}
      >
        {props.older && (
          <p class="older-note">
            Older posts. <a href={`/${feedQuery(filters)}`}>Back to the newest</a>
          </p>
        )}
        <EmptyFeed filters={filters} isAdmin={props.page.caller.role === "admin"} hidden={props.posts.length > 0} />
        <FeedPage
          posts={props.posts}
          nextCursor={props.nextCursor}
          filters={filters}
          threads={props.threads}
          repositoryUrl={props.page.repositoryUrl}
          visit={props.visit}
        />
      </section>
    </Layout>
  );
}
