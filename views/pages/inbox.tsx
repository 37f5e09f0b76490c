import type { InboxItem, InboxReason } from "../../server/domain/inbox.ts";
import { NotificationsToggle } from "../fragments/notifications-toggle.tsx";
import { PostCard } from "../fragments/post.tsx";
import { Layout, type PageContext } from "../layout.tsx";

const reasonLabels: Record<InboxReason, string> = {
  mention: "mentions you",
  reply: "replies in your thread",
  blocker: "blocker",
  question: "question",
  urgent: "urgent, unanswered",
};

/** What waits for the engineer; the count leads the tab's title so a background tab shows it. */
export function InboxPage(props: { page: PageContext; items: InboxItem[] }) {
  const count = props.items.length;
  return (
    <Layout title={count > 0 ? `(${count}) Inbox` : "Inbox"} page={props.page} current="/inbox">
      <h1>Inbox</h1>
      <p class="muted" role="status">
        {count === 0
          ? "Nothing waits for you: no mentions, replies in your threads, blockers, questions or unanswered urgent posts."
          : `${count} ${count === 1 ? "post waits" : "posts wait"} for you, newest first.`}
      </p>
      <NotificationsToggle />
      {/* Live posts reach this page only as notifications; the list is as of the page's load. */}
      <ol class="inbox" data-live="inbox">
        {props.items.map(({ post, reasons }) => (
          <li>
            <p class="inbox-reasons">{reasons.map((reason) => reasonLabels[reason]).join(" · ")}</p>
            <PostCard post={post} repositoryUrl={props.page.repositoryUrl} />
          </li>
        ))}
      </ol>
    </Layout>
  );
}
