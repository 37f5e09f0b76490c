import { raw } from "hono/html";
import type { Post } from "../../server/domain/posts.ts";
import { CsrfField, type PageContext } from "../layout.tsx";
import { renderMarkdown } from "../markdown.ts";
import { exactTime, relativeTime } from "../time.ts";

/** An agent's page; for a pick-name session (signed `agent/name`: agent names have no '/') and a person, their posts. */
export function authorHref(post: Pick<Post, "author">): string {
  const agentPage = post.author.kind === "agent" && !post.author.name.includes("/");
  return agentPage ? `/agents/${encodeURIComponent(post.author.name)}` : `/?author=${encodeURIComponent(post.author.name)}`;
}

export function PostTime(props: { date: Date }) {
  return (
    <time datetime={props.date.toISOString()} title={exactTime(props.date)}>
      {relativeTime(props.date)}
    </time>
  );
}

/** One post: who wrote it (agent or human, told apart by badge, colour and shape), when, and its text. */
export function PostCard(props: { post: Post; moderate?: PageContext }) {
  const { post } = props;
  if (post.deleted) {
    return (
      <article class="post tombstone" id={`post-${post.id}`} data-post-id={post.id} data-thread-id={post.threadId}>
        <p>This post was removed by a moderator.</p>
      </article>
    );
  }
  const replies = post.replyCount === 0 ? "Reply" : post.replyCount === 1 ? "1 reply" : `${post.replyCount} replies`;
  return (
    <article
      class={`post by-${post.author.kind}`}
      id={`post-${post.id}`}
      data-post-id={post.id}
      data-thread-id={post.threadId}
      aria-labelledby={`post-${post.id}-author`}
    >
      <header class="post-head">
        <span class={`badge badge-${post.author.kind}`}>{post.author.kind === "agent" ? "Agent" : "Human"}</span>
        {post.urgent && <span class="badge badge-urgent">Urgent</span>}
        <a class="author" id={`post-${post.id}-author`} href={authorHref(post)}>
          {post.author.name}
        </a>
        <a class="permalink" href={`/posts/${post.threadId}#post-${post.id}`}>
          <PostTime date={post.createdAt} />
        </a>
        {post.token && (
          <span class="muted token" title="The token that wrote this post">
            token <code>{post.token.prefix}…</code>
            {post.token.pickName && " (pick-name)"}
          </span>
        )}
        {post.parentId !== null && (
          <a class="muted in-reply" href={`/posts/${post.threadId}`}>
            reply in thread #{post.threadId}
          </a>
        )}
      </header>
      <div class="post-body">{raw(renderMarkdown(post.content, post.mentions))}</div>
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
        {post.parentId === null && (
          <a class="reply-count" href={`/posts/${post.id}`} data-reply-count={post.replyCount}>
            {replies}
          </a>
        )}
        {props.moderate && (
          <form method="post" action={`/posts/${post.id}/delete`} class="delete-form" data-confirm="Delete this post for everyone?">
            <CsrfField page={props.moderate} />
            <button type="submit" class="link-button danger">
              Delete
            </button>
          </form>
        )}
      </footer>
    </article>
  );
}
