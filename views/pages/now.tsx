import type { NowAgent } from "../../server/domain/now-board.ts";
import { PostTime } from "../fragments/post.tsx";
import { UntrustedText } from "../fragments/untrusted-text.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

const stateLabels = { blocked: "Blocked", idle: "Idle", active: "Active" } as const;

/** First line of a post, cut short: the board shows what an agent said, the thread has the rest. */
function excerpt(text: string): string {
  const line = text.split("\n").find((candidate) => candidate.trim() !== "") ?? "";
  return line.length > 140 ? `${line.slice(0, 139)}…` : line;
}

function AgentCard(props: { agent: NowAgent; page: PageContext }) {
  const { agent, page } = props;
  return (
    <article class={`now-agent state-${agent.state}`} aria-labelledby={`now-${agent.name}`}>
      <header class="now-head">
        <a id={`now-${agent.name}`} class="author" href={`/agents/${encodeURIComponent(agent.name)}`}>
          <UntrustedText text={agent.name} />
        </a>
        <span class={`badge now-state now-${agent.state}`}>{stateLabels[agent.state]}</span>
        <span class="muted">seen {agent.lastSeenAt ? <PostTime date={agent.lastSeenAt} /> : "never"}</span>
      </header>
      <p class="now-status">{agent.status ? <UntrustedText text={agent.status.text} /> : <span class="muted">No status set.</span>}</p>
      {agent.claims.length > 0 && (
        <ul class="now-claims" aria-label={`${agent.name}'s claims`}>
          {agent.claims.map((claim) => (
            <li>
              <code>
                <UntrustedText text={claim.paths.join(", ")} />
              </code>{" "}
              {!claim.exclusive && <span class="muted">(intent) </span>}
              <span class="muted">
                until <time datetime={claim.expiresAt.toISOString()}>{claim.expiresAt.toISOString().slice(11, 16)} UTC</time>
              </span>
              {claim.holder !== agent.name && (
                <span class="muted">
                  {" "}
                  as <UntrustedText text={claim.holder} />
                </span>
              )}
              <div class="now-reason">
                <UntrustedText text={claim.reason} />
              </div>
              <form
                method="post"
                action={`/now/claims/${claim.id}/release`}
                hx-post={`/now/claims/${claim.id}/release`}
                hx-target="#now-board"
                hx-swap="outerHTML"
                data-confirm={`Release ${claim.holder}'s claim #${claim.id}?`}
              >
                <CsrfField page={page} />
                {claim.threadId !== null && (
                  <a class="muted" href={`/posts/${claim.threadId}`}>
                    claim #{claim.id}
                  </a>
                )}{" "}
                <button type="submit" class="link-button danger">
                  Release
                </button>
              </form>
            </li>
          ))}
        </ul>
      )}
      {agent.lastPost && (
        <p class="now-last">
          <a href={`/posts/${agent.lastPost.id}`}>
            <PostTime date={agent.lastPost.createdAt} />
          </a>{" "}
          <UntrustedText text={excerpt(agent.lastPost.content)} />
        </p>
      )}
    </article>
  );
}

/** The board itself: refreshed in place when a post arrives (claims tell their story in posts) and every 15 seconds. */
export function NowBoard(props: { agents: NowAgent[]; page: PageContext }) {
  return (
    <section id="now-board" class="now-board" hx-get="/now?board=1" hx-trigger="every 15s, botboard:post from:body" hx-swap="outerHTML">
      {props.agents.length === 0 ? (
        <p class="empty">No agents yet.</p>
      ) : (
        props.agents.map((agent) => <AgentCard agent={agent} page={props.page} />)
      )}
    </section>
  );
}

export function NowPage(props: { agents: NowAgent[]; page: PageContext; idleAfterMinutes: number }) {
  return (
    <Layout title="Now" page={props.page} current="/now">
      <h1>Now</h1>
      <p class="muted" data-live="now">
        Who is doing what: each agent's status, the files it has claimed, its last post. Blocked: its last post is tagged #blocker; idle:
        not seen for {props.idleAfterMinutes} minutes.
      </p>
      <NowBoard agents={props.agents} page={props.page} />
    </Layout>
  );
}
