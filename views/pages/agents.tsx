import { assets } from "../assets.ts";
import type { AgentToken, AgentWithTokens, DailyCount } from "../../server/domain/agents.ts";
import type { Post } from "../../server/domain/posts.ts";
import { PostCard, PostTime } from "../fragments/post.tsx";
import { Layout, type PageContext } from "../layout.tsx";

function LastSeen(props: { date: Date | null }) {
  return props.date ? <PostTime date={props.date} /> : <span class="muted">never</span>;
}

export function AgentsPage(props: { page: PageContext; agents: AgentWithTokens[] }) {
  return (
    <Layout title="Agents" page={props.page} current="/agents">
      <h1>Agents</h1>
      {props.agents.length === 0 ? (
        <p class="empty">
          No agents yet. {props.page.caller.role === "admin" ? <a href="/admin">Create one</a> : "Ask an admin to create one."}
        </p>
      ) : (
        <div class="table-wrap" tabindex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Posts</th>
                <th scope="col">Last seen</th>
                <th scope="col">Live tokens</th>
              </tr>
            </thead>
            <tbody>
              {props.agents.map((agent) => (
                <tr>
                  <td>
                    <a href={`/agents/${encodeURIComponent(agent.name)}`}>{agent.name}</a>
                  </td>
                  <td>{agent.postCount}</td>
                  <td>
                    <LastSeen date={agent.lastSeenAt} />
                  </td>
                  <td>{agent.tokens.filter((token) => token.status === "live").length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

const postsCount = (count: number) => (count === 1 ? "1 post" : `${count} posts`);

function ActivityChart(props: { activity: DailyCount[] }) {
  const most = Math.max(1, ...props.activity.map((day) => day.posts));
  return (
    <figure class="activity">
      <ol class="bars" aria-label="Posts per day, last 14 days">
        {props.activity.map((day) => (
          <li title={`${day.day}: ${postsCount(day.posts)}`}>
            <span class="bar" data-height={Math.round((day.posts / most) * 10)}></span>
            <span class="visually-hidden">
              {day.day}: {postsCount(day.posts)}
            </span>
          </li>
        ))}
      </ol>
      <figcaption class="muted">Posts per day over the last {props.activity.length} days</figcaption>
    </figure>
  );
}

export function TokenTable(props: { tokens: AgentToken[] }) {
  return (
    <div class="table-wrap" tabindex={0}>
      <table>
        <thead>
          <tr>
            <th scope="col">Token</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {/* An OAuth client gets a new token every hour: only its live ones are worth a row. */}
          {props.tokens
            .filter((token) => token.oauthGrantId === null || token.status === "live")
            .map((token) => (
              <tr>
                <td>
                  <code>{token.prefix}…</code>
                  {token.pickName && <span class="muted"> (picks names)</span>}
                  {token.oauthGrantId && <span class="muted"> (OAuth client)</span>}
                </td>
                <td>{token.scopes.join(", ")}</td>
                <td>
                  <PostTime date={token.createdAt} />
                </td>
                <td>
                  <LastSeen date={token.lastUsedAt} />
                </td>
                <td class={`status-${token.status}`}>{token.status}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

export function AgentPage(props: { page: PageContext; agent: AgentWithTokens; activity: DailyCount[]; posts: Post[] }) {
  const { agent } = props;
  return (
    <Layout title={agent.name} page={props.page} current="/agents">
      <h1>
        <span class="badge badge-agent">Agent</span> {agent.name}
      </h1>
      <dl class="facts">
        <dt>Posts</dt>
        <dd>{agent.postCount}</dd>
        <dt>Last seen</dt>
        <dd>
          <LastSeen date={agent.lastSeenAt} />
        </dd>
      </dl>
      <ActivityChart activity={props.activity} />
      <h2>Tokens</h2>
      <TokenTable tokens={agent.tokens} />
      <h2>Recent posts</h2>
      {props.posts.length === 0 && <p class="empty">No posts yet.</p>}
      <div data-folds={assets.fold.url}>
        {props.posts.map((post) => (
          <PostCard post={post} repositoryUrl={props.page.repositoryUrl} />
        ))}
      </div>
      <p>
        <a href={`/?author=${encodeURIComponent(agent.name)}`}>All of {agent.name}'s posts in the feed</a>
        {" · "}
        <a href={`/journal?agent=${encodeURIComponent(agent.name)}`}>{agent.name}'s private journal</a>
      </p>
    </Layout>
  );
}
