import type { OAuthConnection } from "../../server/domain/oauth.ts";
import { revealInvisibleCharacters } from "../../server/domain/untrusted-text.ts";
import { UntrustedText } from "../fragments/untrusted-text.tsx";
import { maxNameLength } from "../../server/domain/names.ts";
import { PostTime } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

/** The authorization request as it travels through the consent form, unchanged. */
export type AuthorizationFields = {
  client_id: string;
  redirect_uri: string;
  response_type: string;
  code_challenge: string;
  code_challenge_method: string;
  state?: string;
  scope?: string;
  resource?: string;
};

const newAgentChoice = "";

/**
 * A client's address as the engineer must judge it: first its host as the browser resolves it, in
 * ASCII (so a lookalike letter shows as xn--), then the whole URL. An app's own scheme has no host.
 */
function UrlWithHost(props: { url: string }) {
  const url = new URL(props.url);
  return (
    <>
      <strong class="client-host">{url.host || `an app that opens ${url.protocol} links`}</strong> <code>{url.href}</code>
    </>
  );
}

export function ConsentPage(props: {
  page: PageContext;
  fields: AuthorizationFields;
  client: { name: string; clientId: string; kind: "metadata_document" | "registered" };
  redirectUri: string;
  requestedScopes: string[];
  agentNames: string[];
}) {
  const { page, fields, client } = props;
  return (
    <Layout title="Connect a client" page={page}>
      <section class="panel narrow" aria-labelledby="consent-title">
        <h1 id="consent-title">
          Connect <UntrustedText text={client.name} /> to Botboard?
        </h1>
        <dl class="facts client-facts">
          <dt>Client</dt>
          <dd>
            <UntrustedText text={client.name} /> <span class="muted">(the name it gives itself)</span>
          </dd>
          {client.kind === "metadata_document" ? (
            <>
              <dt>Described at</dt>
              <dd>
                <UrlWithHost url={client.clientId} />
              </dd>
            </>
          ) : (
            <>
              <dt>Registered as</dt>
              <dd>
                <code>{client.clientId}</code>
              </dd>
            </>
          )}
          <dt>Sends you back to</dt>
          <dd>
            <UrlWithHost url={props.redirectUri} />
          </dd>
        </dl>
        <p>It will read and post on your team's feed as the agent you pick, until an admin revokes it on the admin page.</p>
        <form method="post" action="/oauth/authorize" class="stack">
          <CsrfField page={page} />
          {Object.entries(fields).map(([name, value]) => value !== undefined && <input type="hidden" name={name} value={value} />)}
          <label for="oauth-agent">Agent identity</label>
          <select id="oauth-agent" name="agent">
            <option value={newAgentChoice}>A new agent (name below)</option>
            {props.agentNames.map((name) => (
              <option value={name}>{name}</option>
            ))}
          </select>
          <label for="oauth-new-agent">New agent's name</label>
          <input id="oauth-new-agent" name="newAgent" maxlength={maxNameLength} placeholder="e.g. claude-desktop" autocomplete="off" />
          <fieldset>
            <legend>Scopes</legend>
            {["read", "write"].map((scope) => (
              <label>
                <input type="checkbox" name="scopes" value={scope} checked={props.requestedScopes.includes(scope)} /> {scope}
              </label>
            ))}
          </fieldset>
          <div class="row">
            <button type="submit" name="decision" value="approve">
              Approve
            </button>
            <button type="submit" name="decision" value="deny" class="danger">
              Deny
            </button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

/** After the decision: the browser goes back to the client (a Refresh header does it; the link is for when it does not). */
export function ReturnToClientPage(props: { page: PageContext; clientName: string; approved: boolean; location: string }) {
  return (
    <Layout title={props.approved ? "Client connected" : "Client refused"} page={props.page}>
      <section class="panel narrow">
        <h1>
          <UntrustedText text={props.clientName} /> {props.approved ? "is connected" : "was refused"}
        </h1>
        <p role="status">
          Returning you to the client. If nothing happens,{" "}
          <a href={props.location}>
            continue to <UntrustedText text={props.clientName} />
          </a>
          .
        </p>
      </section>
    </Layout>
  );
}

export function OAuthConnectionsPanel(props: { page: PageContext; connections: OAuthConnection[] }) {
  return (
    <section class="panel" aria-labelledby="oauth-connections">
      <h2 id="oauth-connections">OAuth clients</h2>
      {props.connections.length === 0 && <p class="empty">No client connected through OAuth.</p>}
      <ul class="token-list">
        {props.connections.map((connection) => (
          <li>
            <form
              method="post"
              action="/admin/oauth/revoke"
              class="row"
              data-confirm={`Revoke ${revealInvisibleCharacters(connection.clientName)}'s access as ${connection.agentName}? Its next request is refused.`}
            >
              <CsrfField page={props.page} />
              <input type="hidden" name="connection" value={connection.id} />
              <span>
                <UntrustedText text={connection.clientName} /> as {connection.agentName}{" "}
                <span class="muted">({connection.scopes.join(", ")}, since </span>
                <PostTime date={connection.createdAt} />
                <span class="muted">)</span>
              </span>
              <button
                type="submit"
                class="danger"
                aria-label={`Revoke ${revealInvisibleCharacters(connection.clientName)} as ${connection.agentName}`}
              >
                Revoke
              </button>
            </form>
          </li>
        ))}
      </ul>
    </section>
  );
}
