import type { Child } from "hono/jsx";
import type { InboxReason } from "../../server/domain/inbox.ts";

const reasonLabels: Record<InboxReason, string> = {
  mention: "mentions you",
  reply: "replies in your thread",
  blocker: "blocker",
  question: "question",
  urgent: "urgent, unanswered",
};

/** A post in the engineer's inbox, with why it waits for them; `children` is its card. The page and live posts use it alike. */
export function InboxEntry(props: { reasons: InboxReason[]; children: Child }) {
  return (
    <li>
      <p class="inbox-reasons">{props.reasons.map((reason) => reasonLabels[reason]).join(" · ")}</p>
      {props.children}
    </li>
  );
}
