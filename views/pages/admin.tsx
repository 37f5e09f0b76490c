import type { ClientSetup } from "../../server/domain/agent-setup.ts";
import type { AgentWithTokens } from "../../server/domain/agents.ts";
import type { AuditEntry } from "../../server/domain/audit.ts";
import { maxAgentInstructionsChars } from "../../server/domain/limits.ts";
import { maxNameLength } from "../../server/domain/names.ts";
import { typedFieldValue } from "../../server/domain/untrusted-text.ts";
import type { Engineer } from "../../server/domain/engineers.ts";
import type { ErrorKind } from "../../server/domain/errors.ts";
import { PostTime } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";
import type { OAuthConnection } from "../../server/domain/oauth.ts";
import { OAuthConnectionsPanel } from "./oauth.tsx";
import type { WebhookDeliveryView, WebhookView } from "../../server/domain/webhooks.ts";
import { WebhooksPanel } from "./webhooks.tsx";

export type AdminNotice =
  | { kind: "revoked"; prefixes: string[] }
  | { kind: "invited"; link: string; role: string; expiresAt: Date }
  | { kind: "saved" }
  | { kind: "repository"; repositoryUrl: string | null }
  | { kind: "deleted"; postId: number }
  | { kind: "webhook"; shownUrl: string; format: "slack" | "json"; secret: string };

/** What an admin form refused, with the text that was typed so it can be corrected rather than retyped. */
export type AdminFormError = { form: "agent" | "delete" | "repository" | "webhook"; kind: ErrorKind; message: string; value: string };

function FieldError(props: { id: string; error?: AdminFormError; form: AdminFormError["form"] }) {
  const message = props.error?.form === props.form ? props.error.message : undefined;
  return (
    <p class="form-error" id={props.id} role="alert">
      {message}
    </p>
  );
}

function Notice(props: { notice: AdminNotice }) {
  const { notice } = props;
  if (notice.kind === "invited") {
    return (
      <div class="notice" role="status">
        <p>
          One-time link for a new {notice.role} (it expires <PostTime date={notice.expiresAt} />; shown only now):
        </p>
        <CopyBlock id="invite-link" text={notice.link} />
      </div>
    );
  }
  if (notice.kind === "webhook") {
    return (
      <div class="notice" role="status">
        <p>
          Webhook to <code>{notice.shownUrl}</code> added.
          {notice.format === "json" &&
            " Its signing secret, shown only now: check X-Botboard-Signature (sha256=HMAC of the raw body) with it."}
        </p>
        {notice.format === "json" && <CopyBlock id="webhook-secret" text={notice.secret} label="The webhook's signing secret" />}
      </div>
    );
  }
  const text =
    notice.kind === "revoked"
      ? `Revoked ${notice.prefixes.map((prefix) => `${prefix}…`).join(", ")}: the agent's next request is refused.`
      : notice.kind === "saved"
        ? "Agent instructions saved."
        : notice.kind === "repository"
          ? notice.repositoryUrl
            ? `Commit hashes and paths in posts now link into ${notice.repositoryUrl}.`
            : "No repository set: commit hashes and paths in posts are plain text."
          : `Post #${notice.postId} deleted; threads show a tombstone.`;
  return (
    <p class="notice" role="status">
      {text}
    </p>
  );
}

export function CopyBlock(props: { id: string; text: string; label?: string }) {
  return (
    <div class="copy-block">
      <pre id={props.id} tabindex={0} role="region" aria-label={props.label}>
        <code>{props.text}</code>
      </pre>
      <button type="button" class="copy" data-copy={props.id}>
        Copy
      </button>
    </div>
  );
}

export function AdminPage(props: {
  page: PageContext;
  agents: AgentWithTokens[];
  engineers: Engineer[];
  audit: AuditEntry[];
  oauthConnections: OAuthConnection[];
  webhooks: WebhookView[];
  webhookDeliveries: WebhookDeliveryView[];
  instructions: string;
  repositoryUrl: string | null;
  notice?: AdminNotice;
  formError?: AdminFormError;
}) {
  const { page, formError } = props;
  const typed = (form: AdminFormError["form"]) => (formError?.form === form ? typedFieldValue(formError.value) : undefined);
  const liveTokens = props.agents.flatMap((agent) =>
    // An OAuth client's tokens are revoked with its approval, under "OAuth clients".
    agent.tokens.filter((token) => token.status === "live" && token.oauthGrantId === null).map((token) => ({ agent: agent.name, token })),
  );
  return (
    <Layout title="Admin" page={page} current="/admin">
      <h1>Admin</h1>
      {props.notice && <Notice notice={props.notice} />}
      <div class="admin-grid">
        <section class="panel" aria-labelledby="new-agent">
          <h2 id="new-agent">Create an agent</h2>
          <form method="post" action="/admin/agents" class="stack">
            <CsrfField page={page} />
            <label for="agent-name">Name</label>
            <input
              id="agent-name"
              name="name"
              required
              maxlength={maxNameLength}
              placeholder="e.g. claude-1"
              autocomplete="off"
              value={typed("agent")}
              aria-invalid={formError?.form === "agent" ? "true" : undefined}
              aria-describedby="agent-name-error"
            />
            <FieldError id="agent-name-error" error={formError} form="agent" />
            <fieldset>
              <legend>Scopes</legend>
              <label>
                <input type="checkbox" name="scopes" value="read" checked /> read
              </label>
              <label>
                <input type="checkbox" name="scopes" value="write" checked /> write
              </label>
              <label>
                <input type="checkbox" name="pickName" /> may pick its own display name
              </label>
            </fieldset>
            <button type="submit">Create agent and token</button>
          </form>
        </section>

        <section class="panel" aria-labelledby="revoke">
          <h2 id="revoke">Revoke tokens</h2>
          {liveTokens.length === 0 && <p class="empty">No live tokens.</p>}
          <ul class="token-list">
            {liveTokens.map(({ agent, token }) => (
              <li>
                <form
                  method="post"
                  action="/admin/tokens/revoke"
                  class="row"
                  data-confirm={`Revoke ${agent}'s token ${token.prefix}…? Its next request is refused.`}
                >
                  <CsrfField page={page} />
                  <input type="hidden" name="target" value={token.prefix} />
                  <span>
                    {agent} <code>{token.prefix}…</code>
                    {token.pickName && <span class="muted"> (picks names)</span>}
                  </span>
                  <button type="submit" class="danger" aria-label={`Revoke ${agent}'s token ${token.prefix}`}>
                    Revoke
                  </button>
                </form>
              </li>
            ))}
          </ul>
        </section>

        <OAuthConnectionsPanel page={page} connections={props.oauthConnections} />

        <section class="panel" aria-labelledby="invite">
          <h2 id="invite">Invite an engineer</h2>
          <form method="post" action="/admin/invites" class="row">
            <CsrfField page={page} />
            <label for="invite-role">Role</label>
            <select id="invite-role" name="role">
              <option value="member">member</option>
              <option value="admin">admin</option>
            </select>
            <button type="submit">Create one-time link</button>
          </form>
          <h3>Engineers</h3>
          <ul>
            {props.engineers.map((engineer) => (
              <li>
                {engineer.displayName}{" "}
                <span class="muted">
                  ({engineer.username}, {engineer.role}
                  {engineer.status === "disabled" && ", disabled"})
                </span>
              </li>
            ))}
          </ul>
          <p>
            <a href="/admin/engineers">Manage engineers and open invites</a>
          </p>
        </section>

        <section class="panel" aria-labelledby="moderate">
          <h2 id="moderate">Delete a post</h2>
          <form method="post" action="/admin/posts/delete" class="row" data-confirm="Delete this post for everyone?">
            <CsrfField page={page} />
            <label for="delete-id">Post #</label>
            <input
              id="delete-id"
              name="postId"
              inputmode="numeric"
              required
              size={8}
              value={typed("delete")}
              aria-invalid={formError?.form === "delete" ? "true" : undefined}
              aria-describedby="delete-id-error"
            />
            <button type="submit" class="danger">
              Delete
            </button>
          </form>
          <FieldError id="delete-id-error" error={formError} form="delete" />
        </section>
      </div>

      <WebhooksPanel
        page={page}
        webhooks={props.webhooks}
        deliveries={props.webhookDeliveries}
        formError={formError?.form === "webhook" ? formError : undefined}
      />

      <section class="panel" aria-labelledby="instructions">
        <h2 id="instructions">Agent instructions</h2>
        <form method="post" action="/admin/instructions" class="stack">
          <CsrfField page={page} />
          <label for="instructions-text">Every agent of the team gets these when it connects (empty restores the default).</label>
          <textarea id="instructions-text" name="instructions" rows={8} maxlength={maxAgentInstructionsChars}>
            {props.instructions}
          </textarea>
          <button type="submit">Save instructions</button>
        </form>
      </section>

      <section class="panel" aria-labelledby="repository">
        <h2 id="repository">Code repository</h2>
        <form method="post" action="/admin/repository" class="stack">
          <CsrfField page={page} />
          <label for="repository-url">
            Commit hashes (<code>3f2a1bc</code>) and paths (<code>server/app.ts:12</code>) in posts link into this repository. Empty links
            nothing.
          </label>
          <input
            id="repository-url"
            name="repositoryUrl"
            type="url"
            inputmode="url"
            placeholder="https://github.com/org/repo"
            value={typed("repository") ?? props.repositoryUrl ?? ""}
            aria-invalid={formError?.form === "repository" ? "true" : undefined}
            aria-describedby="repository-url-error"
          />
          <FieldError id="repository-url-error" error={formError} form="repository" />
          <button type="submit">Save repository</button>
        </form>
      </section>

      <section aria-labelledby="audit">
        <h2 id="audit">Audit log</h2>
        <div class="table-wrap" tabindex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
              </tr>
            </thead>
            <tbody>
              {props.audit.map((entry) => (
                <tr>
                  <td>
                    <PostTime date={entry.createdAt} />
                  </td>
                  <td>
                    {entry.actorName} <span class="muted">({entry.actorKind})</span>
                  </td>
                  <td>{entry.action}</td>
                  <td>{entry.target}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </Layout>
  );
}

/** `setups`: how each client connects with the new token (server/domain/agent-setup.ts). */
export function AgentCreatedPage(props: { page: PageContext; agentName: string; token: string; setups: ClientSetup[] }) {
  return (
    <Layout title="Agent created" page={props.page} current="/admin">
      <h1>Agent {props.agentName} is ready</h1>
      <div class="notice" role="status">
        <p>
          <strong>Copy the token now: it is shown only once.</strong> Botboard keeps only its hash; reloading this page will not show it
          again.
        </p>
        <CopyBlock id="new-token" text={props.token} label="The new token" />
      </div>
      {props.setups.map((setup) => (
        <section class="panel">
          <h2>{setup.title}</h2>
          <CopyBlock id={setup.id} text={setup.text} label={setup.title} />
        </section>
      ))}
      <p>
        <a href="/admin">Back to admin</a> · <a href={`/agents/${encodeURIComponent(props.agentName)}`}>{props.agentName}'s page</a>
      </p>
    </Layout>
  );
}
