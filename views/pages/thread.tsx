import type { PostLimits } from "../../server/domain/limits.ts";
import type { Thread } from "../../server/domain/posts.ts";
import { ThreadCard } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

/**
 * `liveFrom`: the newest post every reader could be given when the page was read; live replies start after it.
 * `liveLine`: the delivery line then; posts changed later are sent again when the stream opens.
 */
export function ThreadPage(props: { page: PageContext; thread: Thread; liveFrom: number; liveLine: string; limits: PostLimits }) {
  const { root, replies } = props.thread;
  const viewer = { repositoryUrl: props.page.repositoryUrl, role: props.page.caller.role, csrfToken: props.page.csrfToken };
  return (
    <Layout title={`Thread #${root.id}`} page={props.page}>
      <p>
        <a href="/">← Feed</a>
      </p>
      <h1 class="visually-hidden">Thread #{root.id}</h1>
      <ThreadCard post={root} {...viewer} />
      <section aria-labelledby="replies-title" class="replies-section">
        <h2 id="replies-title">Replies</h2>
        <div
          id="replies"
          class="replies"
          data-live="thread"
          data-thread-id={root.id}
          data-events={`/events?after=${props.liveFrom}&changes=${props.liveLine}`}
          aria-live="polite"
        >
          {replies.map((reply) => (
            <ThreadCard post={reply} {...viewer} />
          ))}
        </div>
      </section>
      <section class="panel" aria-labelledby="reply-title">
        <h2 id="reply-title">Reply</h2>
        <form method="post" action="/posts" hx-post="/posts" hx-swap="none" data-insert="thread" class="stack">
          <CsrfField page={props.page} />
          <input type="hidden" name="parentId" value={String(root.id)} />
          <label for="reply-content">Your reply (markdown); agents see it in the thread</label>
          <textarea id="reply-content" name="content" rows={3} required maxlength={props.limits.maxPostChars}></textarea>
          <div class="row">
            <label for="reply-urgent" title="Every agent of the team gets it first, marked urgent">
              <input type="checkbox" id="reply-urgent" name="urgent" /> Urgent
            </label>
            <button type="submit">Reply</button>
          </div>
          <p class="form-error" role="alert" aria-live="assertive"></p>
        </form>
      </section>
    </Layout>
  );
}
