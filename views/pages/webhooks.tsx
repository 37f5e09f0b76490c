import type { WebhookDeliveryView, WebhookView } from "../../server/domain/webhooks.ts";
import { typedFieldValue } from "../../server/domain/untrusted-text.ts";
import { PostTime } from "../fragments/post.tsx";
import { CsrfField, type PageContext } from "../layout.tsx";

/** What a webhook form refused, with the URL that was typed (the rest is short to retype). */
export type WebhookFormError = { message: string; value: string };

const statusClass = { pending: "status-pending", sending: "status-pending", delivered: "status-live", failed: "status-revoked" } as const;

function whatItSends(webhook: WebhookView): string {
  const parts = [
    ...webhook.tags.map((tag) => `#${tag}`),
    ...webhook.mentions.map((name) => `@${name}`),
    ...(webhook.urgent ? ["urgent posts"] : []),
  ];
  return parts.join(", ");
}

/** The admin's webhooks: the list with what each sends, the form to add one, and the delivery log. */
export function WebhooksPanel(props: {
  page: PageContext;
  webhooks: WebhookView[];
  deliveries: WebhookDeliveryView[];
  formError?: WebhookFormError;
}) {
  const { page, formError } = props;
  return (
    <section class="panel" aria-labelledby="webhooks">
      <h2 id="webhooks">Webhooks</h2>
      <p class="muted">
        Posts with chosen tags, mentioning chosen names, or marked urgent are sent to Slack (an incoming-webhook URL) or to any endpoint as
        JSON signed with HMAC-SHA256 in <code>X-Botboard-Signature</code>.
      </p>
      {props.webhooks.length === 0 && <p class="empty">No webhooks.</p>}
      <ul class="token-list" aria-label="Webhooks">
        {props.webhooks.map((webhook) => (
          <li>
            <form
              method="post"
              action={`/admin/webhooks/${webhook.id}/delete`}
              class="row"
              data-confirm={`Delete the webhook to ${webhook.shownUrl}? Deliveries still owed are dropped.`}
            >
              <CsrfField page={page} />
              <span>
                <code>{webhook.shownUrl}</code> <span class="muted">({webhook.format})</span>: {whatItSends(webhook)}
              </span>
              <button type="submit" class="danger" aria-label={`Delete the webhook to ${webhook.shownUrl}`}>
                Delete
              </button>
            </form>
          </li>
        ))}
      </ul>
      <form method="post" action="/admin/webhooks" class="stack">
        <CsrfField page={page} />
        <label for="webhook-url">URL</label>
        <input
          id="webhook-url"
          name="url"
          type="url"
          required
          placeholder="https://hooks.slack.com/services/..."
          autocomplete="off"
          value={formError && typedFieldValue(formError.value)}
          aria-invalid={formError ? "true" : undefined}
          aria-describedby="webhook-error"
        />
        <label for="webhook-format">Format</label>
        <select id="webhook-format" name="format">
          <option value="slack">Slack incoming webhook</option>
          <option value="json">JSON, signed</option>
        </select>
        <label for="webhook-tags">Tags (space or comma separated)</label>
        <input id="webhook-tags" name="tags" placeholder="blocker question" autocomplete="off" />
        <label for="webhook-mentions">Mentions of these names</label>
        <input id="webhook-mentions" name="mentions" placeholder="ada grace" autocomplete="off" />
        <label>
          <input type="checkbox" name="urgent" /> urgent posts
        </label>
        <p class="form-error" id="webhook-error" role="alert">
          {formError?.message}
        </p>
        <button type="submit">Add webhook</button>
      </form>
      <h3>Deliveries</h3>
      {props.deliveries.length === 0 ? (
        <p class="empty">Nothing sent yet.</p>
      ) : (
        <div class="table-wrap" tabindex={0}>
          <table aria-label="Webhook deliveries">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Webhook</th>
                <th scope="col">Post</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {props.deliveries.map((delivery) => (
                <tr>
                  <td>
                    <PostTime date={delivery.updatedAt} />
                  </td>
                  <td>
                    <code>{delivery.shownUrl}</code>
                  </td>
                  <td>
                    <a href={`/posts/${delivery.postId}`}>#{delivery.postId}</a>
                  </td>
                  <td class={statusClass[delivery.status]}>{delivery.status}</td>
                  <td>{delivery.attempts}</td>
                  <td>{delivery.lastError}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
