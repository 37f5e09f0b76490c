import { assets } from "../assets.ts";
import type { InboxItem } from "../../server/domain/inbox.ts";
import { InboxEntry } from "../fragments/inbox-entry.tsx";
import { NotificationsToggle } from "../fragments/notifications-toggle.tsx";
import { PostCard } from "../fragments/post.tsx";
import { documentTitle, Layout, type PageContext } from "../layout.tsx";

const nothingWaits = "Nothing waits for you: no mentions, replies in your threads, blockers, questions or unanswered urgent posts.";

/**
 * The words for waiting posts, by the count's plural category (Intl.PluralRules), `{count}` standing
 * for the count. The page hands them to its live script (views/assets/inbox.js), which words the count
 * of posts that come to wait with them: the words are written here only.
 */
const waitingTitle = "({count}) Inbox";
const countWording = {
  one: "{count} post waits for you, newest first.",
  other: "{count} posts wait for you, newest first.",
  title: documentTitle(waitingTitle),
};

const plurals = new Intl.PluralRules("en");

function withCount(words: string, count: number): string {
  return words.replace("{count}", String(count));
}

/**
 * What waits for the engineer; the count leads the tab's title so a background tab shows it. Posts
 * that come to wait while the page is open go on top (views/assets/inbox.js, from `data-module`).
 * `liveFrom`: the newest post every reader could be given when the inbox was read; live ones start after it.
 * `liveLine`: the delivery line then; posts changed later are sent again when the stream opens.
 */
export function InboxPage(props: { page: PageContext; items: InboxItem[]; size: number; liveFrom: number; liveLine: string }) {
  const count = props.items.length;
  const waiting = plurals.select(count) === "one" ? countWording.one : countWording.other;
  return (
    <Layout title={count > 0 ? withCount(waitingTitle, count) : "Inbox"} page={props.page} current="/inbox">
      <h1>Inbox</h1>
      <p class="muted" role="status" id="inbox-status" data-wording={JSON.stringify(countWording)}>
        {count === 0 ? nothingWaits : withCount(waiting, count)}
      </p>
      <NotificationsToggle />
      <ol
        class="inbox"
        data-folds={assets.fold.url}
        data-live="inbox"
        data-events={`/events?after=${props.liveFrom}&changes=${props.liveLine}`}
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
