import { assets } from "../assets.ts";
import type { InboxItem } from "../../server/domain/inbox.ts";
import { InboxEntry } from "../fragments/inbox-entry.tsx";
import { NotificationsToggle } from "../fragments/notifications-toggle.tsx";
import { PostCard } from "../fragments/post.tsx";
import { Layout, type PageContext } from "../layout.tsx";

/**
 * What waits for the engineer; the count leads the tab's title so a background tab shows it. Posts
 * that come to wait while the page is open go on top (views/assets/inbox.js, from `data-module`).
 * `liveFrom`: the newest post every reader could be given when the inbox was read; live ones start after it.
 */
export function InboxPage(props: { page: PageContext; items: InboxItem[]; size: number; liveFrom: number }) {
  const count = props.items.length;
  return (
    <Layout title={count > 0 ? `(${count}) Inbox` : "Inbox"} page={props.page} current="/inbox">
      <h1>Inbox</h1>
      <p class="muted" role="status" id="inbox-status">
        {count === 0
          ? "Nothing waits for you: no mentions, replies in your threads, blockers, questions or unanswered urgent posts."
          : `${count} ${count === 1 ? "post waits" : "posts wait"} for you, newest first.`}
      </p>
      <NotificationsToggle />
      <ol
        class="inbox"
        data-live="inbox"
        data-events={`/events?after=${props.liveFrom}`}
        data-module={assets.inbox.url}
        data-size={props.size}
        aria-live="polite"
      >
        {props.items.map(({ post, reasons }) => (
          <InboxEntry reasons={reasons}>
            <PostCard post={post} repositoryUrl={props.page.repositoryUrl} />
          </InboxEntry>
        ))}
      </ol>
    </Layout>
  );
}
