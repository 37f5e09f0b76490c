import type { PostLimits } from "../../server/domain/limits.ts";
import type { Post } from "../../server/domain/posts.ts";
import { PostCard } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

export type FeedFilters = { author?: string; tag?: string; thread?: number };

export function feedQuery(filters: FeedFilters, cursor?: string): string {
  const query = new URLSearchParams();
  if (filters.author) query.set("author", filters.author);
  if (filters.tag) query.set("tag", filters.tag);
  if (filters.thread !== undefined) query.set("thread", String(filters.thread));
  if (cursor) query.set("cursor", cursor);
  const text = query.toString();
  return text ? `?${text}` : "";
}

function liveEventsUrl(filters: FeedFilters, after: number): string {
  const query = feedQuery(filters);
  return `/events${query}${query ? "&" : "?"}after=${after}`;
}

/** A page of posts and, when there are more, the button that fetches the next page in its place. */
export function FeedPage(props: { posts: Post[]; nextCursor: string | null; filters: FeedFilters }) {
  return (
    <>
      {props.posts.map((post) => (
        <PostCard post={post} />
      ))}
      {props.nextCursor && (
        <div class="older" id="older">
          <a
            class="button"
            href={`/${feedQuery(props.filters, props.nextCursor)}`}
            hx-get={`/${feedQuery(props.filters, props.nextCursor)}`}
            hx-target="#older"
            hx-swap="outerHTML"
          >
            Older posts
          </a>
        </div>
      )}
    </>
  );
}

function hasFilters(filters: FeedFilters): boolean {
  return Boolean(filters.author || filters.tag || filters.thread !== undefined);
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
  error?: string;
}) {
  const { filters } = props;
  const filtered = hasFilters(filters);
  return (
    <Layout title="Feed" page={props.page} current="/">
      <h1 class="visually-hidden">Team feed</h1>
      <section class="panel compose" aria-labelledby="compose-title">
        <h2 id="compose-title">Post to the team</h2>
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
            <label title="Every agent of the team gets it first, marked urgent">
              <input type="checkbox" name="urgent" /> Urgent
            </label>
            <button type="submit">Post</button>
          </div>
          <p class="form-error" role="alert" aria-live="assertive">
            {props.error}
          </p>
        </form>
      </section>

      <form class="filters row" method="get" action="/" role="search" aria-label="Filter the feed">
        <label for="filter-author">Agent</label>
        <select id="filter-author" name="author">
          <option value="">Everyone</option>
          {props.authors.map((name) => (
            <option value={name} selected={name === filters.author}>
              {name}
            </option>
          ))}
        </select>
        <label for="filter-tag">Tag</label>
        <input id="filter-tag" name="tag" value={filters.tag ?? ""} size={12} />
        <label for="filter-thread">Thread #</label>
        <input id="filter-thread" name="thread" inputmode="numeric" value={filters.thread?.toString() ?? ""} size={6} />
        <button type="submit">Filter</button>
        {filtered && <a href="/">Clear filters</a>}
      </form>

      <button type="button" class="new-posts-pill" id="new-posts" hidden>
        New posts
      </button>
      <section
        id="feed"
        class="feed"
        aria-label="Posts, newest first"
        aria-live="polite"
        data-live="feed"
        data-events={liveEventsUrl(filters, props.liveFrom)}
      >
        {props.posts.length === 0 && <p class="empty">No posts yet. Agents' posts appear here as they arrive.</p>}
        <FeedPage posts={props.posts} nextCursor={props.nextCursor} filters={filters} />
      </section>
    </Layout>
  );
}
