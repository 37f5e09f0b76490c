import { raw } from "hono/html";
import type { HumanCaller } from "../../server/domain/callers.ts";
import type { LatestReply } from "../../server/domain/feed.ts";
import type { Post } from "../../server/domain/posts.ts";
import { CsrfField, type PageContext } from "../layout.tsx";
import { renderMarkdown, renderSystemNote } from "../markdown.ts";
import { exactTime, machineTime, relativeTime } from "../time.ts";

/** An agent's page; for a pick-name session (signed `agent/name`: agent names have no '/') and a person, their posts. */
export function authorHref(post: Pick<Post, "author">): string {
  const agentPage = post.author.kind === "agent" && !post.author.name.includes("/");
  return agentPage ? `/agents/${encodeURIComponent(post.author.name)}` : `/?author=${encodeURIComponent(post.author.name)}`;
}

const badgeText = { agent: "Agent", human: "Human", system: "System" } as const;

/** Agent, Human or System: who wrote a post, told apart by badge, colour and shape. */
export function AuthorBadge(props: { post: Pick<Post, "author"> }) {
  return <span class={`badge badge-${props.post.author.kind}`}>{badgeText[props.post.author.kind]}</span>;
}

/** The author's name: agents and people link to their posts; Botboard's own notes (system posts) have no page. */
export function AuthorName(props: { post: Pick<Post, "author">; id?: string }) {
  const { post } = props;
  return post.author.kind === "system" ? (
    <span class="author" id={props.id}>
      {post.author.name}
    </span>
  ) : (
    <a class="author" id={props.id} href={authorHref(post)}>
      {post.author.name}
    </a>
  );
}

export function PostTime(props: { date: Date }) {
  return (
    <time datetime={machineTime(props.date)} title={exactTime(props.date)}>
      {relativeTime(props.date)}
    </time>
  );
}

/** Who wrote a thread's latest reply, in the collapsed feed's summary: by id, so a change of their name finds it. */
function LatestReplyAuthor(props: { reply: Pick<LatestReply, "id" | "authorName"> }) {
  return <span id={`latest-reply-${props.reply.id}-author`}>{props.reply.authorName}</span>;
}

/**
 * What a post that stays on the page changes when its author is renamed (a deleted engineer's posts,
 * the one such change): the name on its card and where a summary names it as its thread's latest
 * reply, each with the id of the element it replaces (views/assets/app.js). The card keeps what only
 * its page has: a thread's summary, the Delete form.
 */
export function RenamedAuthor(props: { post: Post }) {
  const { post } = props;
  return (
    <>
      <AuthorName post={post} id={`post-${post.id}-author`} />
      <LatestReplyAuthor reply={{ id: post.id, authorName: post.author.name }} />
    </>
  );
}

/** The link to a thread's page under its first post, with how many replies it has; live replies bring it anew. */
export function ReplyCount(props: { post: Pick<Post, "id" | "replyCount"> }) {
  const count = props.post.replyCount;
  return (
    <a class="reply-count" href={`/posts/${props.post.id}`}>
      {count === 0 ? "Reply" : count === 1 ? "1 reply" : `${count} replies`}
    </a>
  );
}

/** The collapsed feed sums a thread up under its first post once it has replies; until then, the plain Reply link. */
export function isSummedUp(post: Pick<Post, "parentId" | "replyCount">): boolean {
  return post.parentId === null && post.replyCount > 0;
}

/**
 * The collapsed feed marks a thread "new since your last visit" when its latest reply came after the
 * engineer's last visit (`lastSeenPostId`; none to compare with on a first visit or another page).
 */
export function hasNewReplies(latest: Pick<LatestReply, "id"> | undefined, lastSeenPostId: number | null | undefined): boolean {
  return lastSeenPostId !== null && lastSeenPostId !== undefined && latest !== undefined && latest.id > lastSeenPostId;
}

/**
 * The collapsed feed's line under a thread's first post: how many replies, the newest by whom, and a
 * button that opens them in place (the link goes to the thread page without scripts), then the place
 * they open in. A live reply brings its thread's, so the page shows what a reload would.
 */
export function ThreadSummary(props: { post: Post; latest?: LatestReply; newReplies: boolean }) {
  const { post, latest } = props;
  return (
    <>
      <div class="thread-summary" id={`thread-summary-${post.id}`}>
        {/* One flex item, so the gap falls before the button and not before the comma. */}
        <span>
          <ReplyCount post={post} />
          {latest && (
            <span class="muted latest-reply">
              , latest <PostTime date={latest.createdAt} /> by <LatestReplyAuthor reply={latest} />
            </span>
          )}
        </span>
        {props.newReplies && <strong class="new-replies">new since your last visit</strong>}
        <button
          type="button"
          class="link-button expand-replies"
          aria-expanded="false"
          aria-controls={`replies-of-${post.id}`}
          hx-get={`/posts/${post.id}/replies`}
          hx-trigger="click once"
          hx-target={`#replies-of-${post.id}`}
          hx-swap="innerHTML"
        >
          Show replies
        </button>
      </div>
      <div class="thread-replies" id={`replies-of-${post.id}`}></div>
    </>
  );
}

/**
 * One post: who wrote it (agent or human, told apart by badge, colour and shape), its number, when,
 * and its text. `collapsed`: the feed shows only threads' first posts, with a summary of the replies.
 */
export function PostCard(props: {
  post: Post;
  /** The team's repository, for links from commit hashes and paths (views/text-links.ts). */
  repositoryUrl: string | null;
  /** Shows the Delete form, carrying this form token. */
  moderate?: Pick<PageContext, "csrfToken">;
  /** `newReplies`: the thread has replies newer than the engineer's last visit (its first post may be older). */
  collapsed?: { latest?: LatestReply; newReplies?: boolean };
}) {
  const { post } = props;
  const summed = props.collapsed !== undefined && isSummedUp(post);
  if (post.deleted) {
    return (
      <article class="post tombstone" id={`post-${post.id}`} data-post-id={post.id} data-thread-id={post.threadId}>
        <p>This post was removed by a moderator.</p>
      </article>
    );
  }
  return (
    <article
      class={`post by-${post.author.kind}`}
      id={`post-${post.id}`}
      data-post-id={post.id}
      data-thread-id={post.threadId}
      aria-labelledby={`post-${post.id}-author`}
    >
      <header class="post-head">
        <AuthorBadge post={post} />
        {post.urgent && <span class="badge badge-urgent">Urgent</span>}
        <AuthorName post={post} id={`post-${post.id}-author`} />
        <a class="permalink" href={`/posts/${post.threadId}#post-${post.id}`}>
          <b>#{post.id}</b> <PostTime date={post.createdAt} />
        </a>
        {post.token && (
          <span class="muted token" title="The token that wrote this post">
            token <code>{post.token.prefix}…</code>
            {post.token.pickName && " (pick-name)"}
          </span>
        )}
        {post.parentId !== null && (
          <a class="muted in-reply" href={`/posts/${post.threadId}#post-${post.id}`}>
            reply in thread #{post.threadId}
          </a>
        )}
      </header>
      <div class="post-body">
        {raw(
          post.author.kind === "system"
            ? renderSystemNote(post.content)
            : renderMarkdown(post.content, { mentions: post.mentions, repositoryUrl: props.repositoryUrl }),
        )}
      </div>
      <footer class="post-foot">
        {post.tags.length > 0 && (
          <ul class="tags" aria-label="Tags">
            {post.tags.map((tag) => (
              <li>
                <a href={`/?tag=${encodeURIComponent(tag)}`}>#{tag}</a>
              </li>
            ))}
          </ul>
        )}
        {post.parentId === null && !summed && <ReplyCount post={post} />}
        {props.moderate && (
          <form method="post" action={`/posts/${post.id}/delete`} class="delete-form" data-confirm="Delete this post for everyone?">
            <CsrfField page={props.moderate} />
            <button type="submit" class="link-button danger">
              Delete
            </button>
          </form>
        )}
      </footer>
      {summed && <ThreadSummary post={post} latest={props.collapsed?.latest} newReplies={props.collapsed?.newReplies === true} />}
    </article>
  );
}

/**
 * A post as the thread page shows it: an admin gets its Delete form. A live reply is rendered once
 * for every admin watching, with an empty `csrfToken`: each page fills in its own (views/assets/app.js).
 */
export function ThreadCard(props: { post: Post; repositoryUrl: string | null; role: HumanCaller["role"]; csrfToken: string }) {
  const { post, repositoryUrl, csrfToken } = props;
  return <PostCard post={post} repositoryUrl={repositoryUrl} moderate={props.role === "admin" ? { csrfToken } : undefined} />;
}

/** A thread's replies as the collapsed feed opens them under the first post. */
export function ThreadReplies(props: { replies: Post[]; repositoryUrl: string | null }) {
  return (
    <>
      {props.replies.map((reply) => (
        <PostCard post={reply} repositoryUrl={props.repositoryUrl} />
      ))}
    </>
  );
}
