/**
 * The table behind test/isolation.test.ts: for every route of the app and every MCP tool, what an
 * agent and an engineer of team B try against team A's data. The test fails when the app gains a
 * route or a tool that has no row here, so isolation is decided for each new door when it is added.
 *
 * Every string that team A keeps private contains `world.secret`; B never sends it. So any response
 * to B that contains it is a leak, whatever the route.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { encodeCursor, encodeOffsetCursor } from "../../server/domain/cursors.ts";
import { parseSearchQuery, searchFingerprint } from "../../server/domain/search-query.ts";
import type { Team } from "../../server/domain/teams.ts";
import { callTool } from "./mcp.ts";
import type { TestServer } from "./server.ts";

/** Team A's data as B could name it (ids, slugs, shared names), never its private text. */
export type World = {
  server: TestServer;
  /** In every private string of team A: contents, tags, journal text, names B cannot know. */
  secret: string;
  a: {
    team: Team;
    rootPostId: number;
    replyPostId: number;
    humanPostId: number;
    journalEntryId: number;
    /** A's agent names B may guess: one shared with B, one of A only. */
    sharedAgentName: string;
    ownAgentName: string;
    /** A's engineer whose name B tries at sign-in. */
    knownUsername: string;
    /** The ref of A's open invite, as A's admins see it in their list. */
    inviteRef: string;
    tokenPrefix: string;
    /** The one-time view of a token A's engineer created and has not opened yet. */
    tokenViewId: string;
    mcpSessionId: string;
    /** A benchmark run of team A (its id is no secret; its model and prompt are). */
    benchRunId: string;
    /** An OAuth client approved in team A (its id is no secret; its name is). */
    oauthConnectionId: string;
    /** A live claim of A's on shared/** (its reason and a path carry the secret). */
    claimId: number;
    /** A webhook of A's (its address and signing secret carry the secret). */
    webhookId: string;
  };
  b: {
    team: Team;
    agentToken: string;
    pickNameToken: string;
    engineerCookie: string;
    csrfToken: string;
    rootPostId: number;
  };
};

export type Role = "agent" | "engineer";

/** One HTTP request, sent once with B's agent token and once with B's engineer session. */
export type RequestSpec = {
  method: string;
  path: string;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** Statuses allowed per role; without it any status below 500 passes (the leak check still runs). */
  expect?: Partial<Record<Role, number[]>>;
};

/** What B got back; `allowed` are the statuses the case expects (tool results: 200, or 400 for isError). */
export type Observation = { label: string; status: number; body: string; allowed?: number[] };

export type RouteCase =
  | { requests: (world: World) => RequestSpec[] }
  | {
      /** For what one request cannot show (live streams): returns what B saw so far and, after team A wrote more, what B saw then. */
      run: (world: World) => Promise<{ now: Observation[]; afterTeamAWrites: () => Promise<Observation[]> }>;
    };

const _refused = [401, 403, 404];
const signInFirst = [303, 401, 403];
const ok = [200];

/** The statuses of a request that one role may make and the other may not. */
const agentOnly = (agent: number[]) => ({ agent, engineer: [401] });
/** /mcp also refuses the browser's Origin before it looks for a token. */
const mcpAgentOnly = (agent: number[]) => ({ agent, engineer: [401, 403] });
const engineerOnly = (engineer: number[]) => ({ agent: signInFirst, engineer });

export const routeCases: Record<string, RouteCase> = {
  "GET /healthz": { requests: () => [{ method: "GET", path: "/healthz" }] },
  "GET /favicon.ico": { requests: () => [{ method: "GET", path: "/favicon.ico" }] },
  "GET /readyz": { requests: () => [{ method: "GET", path: "/readyz" }] },
  "GET /api/v1/openapi.json": { requests: () => [{ method: "GET", path: "/api/v1/openapi.json" }] },

  "POST /api/v1/posts": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/api/v1/posts",
        json: { content: "B replies into A's thread sharedword", parentId: a.rootPostId },
        expect: agentOnly([404]),
      },
      {
        method: "POST",
        path: "/api/v1/posts",
        json: { content: "B replies to A's reply", parentId: a.replyPostId },
        expect: agentOnly([404]),
      },
      { method: "POST", path: "/api/v1/posts", json: { content: "B's own post sharedword", tags: ["shared"] }, expect: agentOnly([201]) },
    ],
  },
  "GET /api/v1/posts": {
    requests: ({ a }) => [
      { method: "GET", path: `/api/v1/posts?limit=100`, expect: agentOnly(ok) },
      { method: "GET", path: `/api/v1/posts?thread=${a.rootPostId}`, expect: agentOnly(ok) },
      { method: "GET", path: `/api/v1/posts?cursor=${encodeCursor(a.humanPostId + 1)}`, expect: agentOnly(ok) },
      { method: "GET", path: `/api/v1/posts?author=${a.ownAgentName}&tag=alphatag`, expect: agentOnly(ok) },
      { method: "GET", path: `/api/v1/posts?author=${a.sharedAgentName}`, expect: agentOnly(ok) },
    ],
  },
  "GET /api/v1/posts/:id": {
    requests: ({ a }) =>
      [a.rootPostId, a.replyPostId, a.humanPostId].map((id) => ({ method: "GET", path: `/api/v1/posts/${id}`, expect: agentOnly([404]) })),
  },
  "GET /api/v1/search": {
    requests: () => [
      { method: "GET", path: "/api/v1/search?q=alphaword", expect: agentOnly(ok) },
      { method: "GET", path: "/api/v1/search?q=sharedword&limit=100", expect: agentOnly(ok) },
      {
        method: "GET",
        path: `/api/v1/search?q=sharedword&cursor=${encodeOffsetCursor(0, searchFingerprint(parseSearchQuery("sharedword")))}`,
        expect: agentOnly(ok),
      },
    ],
  },
  "GET /api/v1/unread": { requests: () => [{ method: "GET", path: "/api/v1/unread?limit=100", expect: agentOnly(ok) }] },
  "POST /api/v1/digest": { requests: () => [{ method: "POST", path: "/api/v1/digest", expect: agentOnly(ok) }] },
  "GET /api/v1/me": { requests: () => [{ method: "GET", path: "/api/v1/me", expect: agentOnly(ok) }] },
  // A's claim on shared/** does not exist for B: B's claim there is granted, A's claim is never named.
  "POST /api/v1/claims": {
    requests: () => [
      { method: "POST", path: "/api/v1/claims", json: { paths: ["shared/b.ts"], reason: "B's work" }, expect: agentOnly([201]) },
    ],
  },
  "GET /api/v1/claims": {
    requests: () => [
      { method: "GET", path: "/api/v1/claims", expect: agentOnly(ok) },
      { method: "GET", path: "/api/v1/claims?path=shared/a.ts&agent=builder", expect: agentOnly(ok) },
    ],
  },
  "POST /api/v1/claims/release": {
    requests: ({ a }) => [
      { method: "POST", path: "/api/v1/claims/release", json: { claimId: a.claimId }, expect: agentOnly([404]) },
      { method: "POST", path: "/api/v1/claims/release", json: { paths: ["shared/**"] }, expect: agentOnly(ok) },
    ],
  },
  "POST /api/v1/claims/:id/renew": {
    requests: ({ a }) => [{ method: "POST", path: `/api/v1/claims/${a.claimId}/renew`, json: { minutes: 5 }, expect: agentOnly([404]) }],
  },
  "POST /api/v1/claims/check": {
    requests: () => [{ method: "POST", path: "/api/v1/claims/check", json: { paths: ["shared/a.ts"] }, expect: agentOnly(ok) }],
  },
  "PUT /api/v1/status": {
    requests: () => [{ method: "PUT", path: "/api/v1/status", json: { text: "B's status" }, expect: agentOnly(ok) }],
  },
  "GET /api/v1/statuses": { requests: () => [{ method: "GET", path: "/api/v1/statuses", expect: agentOnly(ok) }] },

  "POST /auth/setup": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/auth/setup",
        json: { token: "not-an-invite", username: a.knownUsername, password: "correct horse battery" },
        expect: { agent: [400], engineer: [400] },
      },
    ],
  },
  "POST /auth/login": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/auth/login",
        json: { username: a.knownUsername, password: "a wrong password" },
        expect: { agent: [401], engineer: [401] },
      },
    ],
  },
  // Signing out ends B's session, so the test runs this and POST /logout last (signOutRoutes).
  "POST /auth/logout": { requests: () => [{ method: "POST", path: "/auth/logout", expect: { agent: ok, engineer: ok } }] },

  "POST /mcp": {
    requests: ({ a }): RequestSpec[] => [
      {
        method: "POST",
        path: "/mcp",
        headers: { accept: "application/json, text/event-stream" },
        json: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_thread", arguments: { post_id: a.rootPostId } } },
        expect: mcpAgentOnly(ok),
      },
      {
        method: "POST",
        path: "/mcp",
        headers: { accept: "application/json, text/event-stream", "mcp-session-id": a.mcpSessionId },
        json: { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "read_posts", arguments: { limit: 100 } } },
        expect: mcpAgentOnly([200, 404]),
      },
    ],
  },
  "GET /mcp": { requests: () => [{ method: "GET", path: "/mcp", expect: mcpAgentOnly([405]) }] },
  "DELETE /mcp": {
    requests: ({ a }) => [{ method: "DELETE", path: "/mcp", headers: { "mcp-session-id": a.mcpSessionId }, expect: mcpAgentOnly(ok) }],
  },

  "GET /teams/:team/posts": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "GET",
        path: `/teams/${team}/posts?limit=100`,
        expect: { agent: [403], engineer: [401] },
      })),
      { method: "GET", path: `/teams/${b.team.slug}/posts?thread_id=${a.rootPostId}`, expect: agentOnly(ok) },
      { method: "GET", path: `/teams/${b.team.slug}/posts?tag=alphatag&agent=${a.ownAgentName}`, expect: agentOnly(ok) },
      { method: "GET", path: `/teams/${b.team.id}/posts?offset=0&limit=100`, expect: agentOnly(ok) },
    ],
  },
  "POST /teams/:team/posts": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "POST",
        path: `/teams/${team}/posts`,
        json: { author: a.sharedAgentName, content: "B writes into A's feed sharedword" },
        expect: { agent: [403], engineer: [401] },
      })),
      {
        method: "POST",
        path: `/teams/${b.team.slug}/posts`,
        json: { content: "B replies to A", parentPostId: String(a.rootPostId) },
        expect: agentOnly([404]),
      },
    ],
  },
  "POST /teams/:team/journal/entries": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "POST",
        path: `/teams/${team}/journal/entries`,
        json: { team_id: a.team.id, content: "B writes into A's journal sharedword" },
        expect: { agent: [403], engineer: [401] },
      })),
      {
        method: "POST",
        path: `/teams/${b.team.slug}/journal/entries`,
        json: { team_id: a.team.id, content: "B's own note sharedword" },
        expect: agentOnly([201]),
      },
    ],
  },
  "GET /teams/:team/journal/entries": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "GET",
        path: `/teams/${team}/journal/entries`,
        expect: { agent: [403], engineer: [401] },
      })),
      { method: "GET", path: `/teams/${b.team.slug}/journal/entries?limit=100`, expect: agentOnly(ok) },
    ],
  },
  "GET /teams/:team/journal/entries/:id": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "GET",
        path: `/teams/${team}/journal/entries/${a.journalEntryId}`,
        expect: { agent: [403], engineer: [401] },
      })),
      { method: "GET", path: `/teams/${b.team.slug}/journal/entries/${a.journalEntryId}`, expect: agentOnly([404]) },
    ],
  },
  "POST /teams/:team/journal/search": {
    requests: ({ a, b }) => [
      ...[a.team.slug, a.team.id].map((team) => ({
        method: "POST",
        path: `/teams/${team}/journal/search`,
        json: { query: "alphaword" },
        expect: { agent: [403], engineer: [401] },
      })),
      {
        method: "POST",
        path: `/teams/${b.team.slug}/journal/search`,
        json: { query: "alphaword sharedword", limit: 50 },
        expect: agentOnly(ok),
      },
    ],
  },

  "GET /assets/:file": { requests: () => [{ method: "GET", path: "/assets/htmx-2.0.11.min.js", expect: { agent: ok, engineer: ok } }] },
  "GET /login": { requests: () => [{ method: "GET", path: "/login?next=/", expect: { agent: ok, engineer: ok } }] },
  "POST /login": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/login",
        form: { username: a.knownUsername, password: "a wrong password" },
        expect: { agent: [401, 403], engineer: [401] },
      },
    ],
  },
  "GET /setup": { requests: () => [{ method: "GET", path: "/setup?token=not-an-invite", expect: { agent: [400], engineer: [400] } }] },
  "POST /setup": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/setup",
        form: { token: "not-an-invite", username: a.knownUsername, password: "correct horse battery" },
        expect: { agent: [400, 403], engineer: [400] },
      },
    ],
  },
  "POST /logout": { requests: () => [{ method: "POST", path: "/logout", form: {}, expect: engineerOnly([303]) }] },

  "GET /": {
    requests: ({ a }) => [
      { method: "GET", path: "/", expect: engineerOnly(ok) },
      { method: "GET", path: `/?thread=${a.rootPostId}&tag=alphatag&author=${a.ownAgentName}`, expect: engineerOnly(ok) },
      { method: "GET", path: `/?cursor=${encodeCursor(a.humanPostId)}`, headers: { "hx-request": "true" }, expect: engineerOnly(ok) },
    ],
  },
  "POST /posts": {
    requests: ({ a }): RequestSpec[] => [
      {
        method: "POST",
        path: "/posts",
        form: { content: "B's engineer replies to A", parentId: String(a.rootPostId) },
        expect: engineerOnly([404]),
      },
      {
        method: "POST",
        path: "/posts",
        form: { content: "B's engineer replies to A", parentId: String(a.replyPostId) },
        headers: { "hx-request": "true" },
        expect: engineerOnly([404]),
      },
      {
        method: "POST",
        path: "/posts",
        form: { content: "B's engineer posts sharedword", tags: "shared" },
        headers: { "hx-request": "true" },
        expect: engineerOnly([201]),
      },
    ],
  },
  "GET /posts/:id": {
    requests: ({ a }) =>
      [a.rootPostId, a.replyPostId, a.humanPostId].map((id) => ({ method: "GET", path: `/posts/${id}`, expect: engineerOnly([404]) })),
  },
  "GET /posts/:id/replies": {
    requests: ({ a }) =>
      [a.rootPostId, a.humanPostId].map((id) => ({ method: "GET", path: `/posts/${id}/replies`, expect: engineerOnly([404]) })),
  },
  "POST /posts/:id/delete": {
    requests: ({ a }) =>
      [a.rootPostId, a.humanPostId].map((id) => ({ method: "POST", path: `/posts/${id}/delete`, form: {}, expect: engineerOnly([404]) })),
  },
  "POST /feed/seen": {
    requests: ({ a }) =>
      [a.rootPostId, a.humanPostId].map((id) => ({
        method: "POST",
        path: "/feed/seen",
        form: { postId: String(id) },
        expect: engineerOnly([404]),
      })),
  },
  "GET /inbox": { requests: () => [{ method: "GET", path: "/inbox", expect: engineerOnly(ok) }] },
  "GET /search": {
    requests: () => [
      { method: "GET", path: "/search?q=alphaword", expect: engineerOnly(ok) },
      { method: "GET", path: "/search?q=sharedword", expect: engineerOnly(ok) },
    ],
  },
  "GET /events": { run: liveEventsCase },
  "GET /agents": { requests: () => [{ method: "GET", path: "/agents", expect: engineerOnly(ok) }] },
  "GET /agents/:name": {
    requests: ({ a }) => [
      { method: "GET", path: `/agents/${a.ownAgentName}`, expect: engineerOnly([404]) },
      { method: "GET", path: `/agents/${a.sharedAgentName}`, expect: engineerOnly(ok) },
    ],
  },
  "GET /now": { requests: () => [{ method: "GET", path: "/now", expect: engineerOnly(ok) }] },
  "POST /now/claims/:id/release": {
    requests: ({ a }) => [{ method: "POST", path: `/now/claims/${a.claimId}/release`, form: {}, expect: engineerOnly([404]) }],
  },
  "GET /journal": {
    requests: ({ a }) => [
      { method: "GET", path: "/journal", expect: engineerOnly(ok) },
      { method: "GET", path: "/journal?q=alphaword", expect: engineerOnly(ok) },
      { method: "GET", path: "/journal?q=sharedword&type=project", expect: engineerOnly(ok) },
      { method: "GET", path: `/journal?agent=${a.ownAgentName}`, expect: engineerOnly(ok) },
      { method: "GET", path: `/journal?agent=${a.sharedAgentName}`, expect: engineerOnly(ok) },
    ],
  },
  "GET /journal/:id": {
    requests: ({ a }) => [{ method: "GET", path: `/journal/${a.journalEntryId}`, expect: engineerOnly([404]) }],
  },
  // A's benchmark run (its model and prompt carry A's marker) is neither listed to B nor found by its id.
  "GET /bench": { requests: () => [{ method: "GET", path: "/bench", expect: engineerOnly(ok) }] },
  "GET /bench/:runId": {
    requests: ({ a }) => [
      { method: "GET", path: `/bench/${a.benchRunId}`, expect: engineerOnly([404]) },
      { method: "GET", path: "/bench/no-such-run", expect: engineerOnly([404]) },
    ],
  },
  "GET /admin": { requests: () => [{ method: "GET", path: "/admin", expect: engineerOnly(ok) }] },
  "POST /admin/agents": {
    requests: ({ a }) => [
      { method: "POST", path: "/admin/agents", form: { name: a.sharedAgentName, scopes: "read" }, expect: engineerOnly([303]) },
    ],
  },
  // A view is held for the session that made it: B's engineer cannot open one of A's, nor a made-up one.
  "GET /admin/agents/created/:view": {
    requests: ({ a }) => [
      { method: "GET", path: `/admin/agents/created/${a.tokenViewId}`, expect: engineerOnly([404]) },
      { method: "GET", path: "/admin/agents/created/no-such-view", expect: engineerOnly([404]) },
    ],
  },
  "POST /admin/tokens/revoke": {
    requests: ({ a }) => [
      { method: "POST", path: "/admin/tokens/revoke", form: { target: a.ownAgentName }, expect: engineerOnly([404]) },
      { method: "POST", path: "/admin/tokens/revoke", form: { target: a.tokenPrefix }, expect: engineerOnly([404]) },
    ],
  },
  "GET /.well-known/oauth-protected-resource": { requests: () => [{ method: "GET", path: "/.well-known/oauth-protected-resource" }] },
  "GET /.well-known/oauth-protected-resource/mcp": {
    requests: () => [{ method: "GET", path: "/.well-known/oauth-protected-resource/mcp" }],
  },
  "GET /.well-known/oauth-authorization-server": { requests: () => [{ method: "GET", path: "/.well-known/oauth-authorization-server" }] },
  "GET /oauth/authorize": {
    requests: () => [
      { method: "GET", path: "/oauth/authorize?client_id=bbc_nosuchclient&response_type=code", expect: engineerOnly([400]) },
    ],
  },
  "POST /oauth/authorize": {
    requests: ({ a }) => [
      {
        method: "POST",
        path: "/oauth/authorize",
        form: { client_id: "bbc_nosuchclient", response_type: "code", decision: "approve", agent: a.sharedAgentName },
        expect: engineerOnly([400]),
      },
    ],
  },
  "POST /oauth/token": {
    requests: () => [
      {
        method: "POST",
        path: "/oauth/token",
        form: { grant_type: "refresh_token", refresh_token: "bbr_not-a-token", client_id: "https://client.example/botboard.json" },
        expect: { agent: [400], engineer: [400] },
      },
    ],
  },
  "POST /oauth/register": {
    requests: () => [
      {
        method: "POST",
        path: "/oauth/register",
        json: { redirect_uris: ["https://b.example/cb"] },
        expect: { agent: [201], engineer: [201] },
      },
    ],
  },
  "POST /admin/oauth/revoke": {
    requests: ({ a }) => [
      { method: "POST", path: "/admin/oauth/revoke", form: { connection: a.oauthConnectionId }, expect: engineerOnly([404]) },
    ],
  },
  "POST /admin/invites": {
    requests: () => [{ method: "POST", path: "/admin/invites", form: { role: "admin" }, expect: engineerOnly([303]) }],
  },
  "GET /admin/invites/created/:view": {
    requests: ({ a }) => [
      { method: "GET", path: `/admin/invites/created/${a.tokenViewId}`, expect: engineerOnly([404]) },
      { method: "GET", path: "/admin/invites/created/no-such-view", expect: engineerOnly([404]) },
    ],
  },
  "POST /admin/webhooks": {
    requests: () => [
      {
        method: "POST",
        path: "/admin/webhooks",
        form: { url: "https://b.example/hook", format: "json", tags: "shared" },
        expect: engineerOnly([303]),
      },
    ],
  },
  "GET /admin/webhooks/created/:view": {
    requests: ({ a }) => [
      { method: "GET", path: `/admin/webhooks/created/${a.tokenViewId}`, expect: engineerOnly([404]) },
      { method: "GET", path: "/admin/webhooks/created/no-such-view", expect: engineerOnly([404]) },
    ],
  },
  "POST /admin/webhooks/:id/delete": {
    requests: ({ a }) => [{ method: "POST", path: `/admin/webhooks/${a.webhookId}/delete`, expect: engineerOnly([404]) }],
  },
  "POST /admin/instructions": {
    requests: () => [
      { method: "POST", path: "/admin/instructions", form: { instructions: "B's rules only." }, expect: engineerOnly([303]) },
    ],
  },
  "POST /admin/repository": {
    requests: () => [
      { method: "POST", path: "/admin/repository", form: { repositoryUrl: "https://github.com/b/only" }, expect: engineerOnly([303]) },
    ],
  },
  // A's held view opens nothing for B: B's own admin page, with no confirmation.
  "GET /admin/done/:view": {
    requests: ({ a }) => [
      { method: "GET", path: `/admin/done/${a.tokenViewId}`, expect: engineerOnly(ok) },
      { method: "GET", path: "/admin/done/no-such-view", expect: engineerOnly(ok) },
    ],
  },
  "GET /admin/engineers": { requests: () => [{ method: "GET", path: "/admin/engineers", expect: engineerOnly(ok) }] },
  "POST /admin/engineers/:username/role": {
    requests: ({ a }) => [
      { method: "POST", path: `/admin/engineers/${a.knownUsername}/role`, form: { role: "member" }, expect: engineerOnly([404]) },
    ],
  },
  "POST /admin/engineers/:username/disable": {
    requests: ({ a }) => [{ method: "POST", path: `/admin/engineers/${a.knownUsername}/disable`, expect: engineerOnly([404]) }],
  },
  "POST /admin/engineers/:username/enable": {
    requests: ({ a }) => [{ method: "POST", path: `/admin/engineers/${a.knownUsername}/enable`, expect: engineerOnly([404]) }],
  },
  "POST /admin/engineers/:username/delete": {
    requests: ({ a }) => [{ method: "POST", path: `/admin/engineers/${a.knownUsername}/delete`, expect: engineerOnly([404]) }],
  },
  "POST /admin/invites/:ref/cancel": {
    requests: ({ a }) => [{ method: "POST", path: `/admin/invites/${a.inviteRef}/cancel`, expect: engineerOnly([404]) }],
  },
  "POST /admin/posts/delete": {
    requests: ({ a }) =>
      [a.rootPostId, a.replyPostId].map((id) => ({
        method: "POST",
        path: "/admin/posts/delete",
        form: { postId: String(id) },
        expect: engineerOnly([404]),
      })),
  },
};

/** Sign-out cases, run after everything else because they end B's session. */
export const signOutRoutes = ["POST /logout", "POST /auth/logout"];

/** Sends one request as a role of team B. */
export async function sendAs(world: World, role: Role, spec: RequestSpec): Promise<Observation> {
  const { b, server } = world;
  const headers = new Headers(spec.headers);
  let body: string | URLSearchParams | undefined;
  if (spec.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(spec.json);
  }
  if (role === "agent") {
    headers.set("authorization", `Bearer ${b.agentToken}`);
    headers.set("x-api-key", b.agentToken);
    if (spec.form) body = new URLSearchParams(spec.form);
  } else {
    headers.set("cookie", b.engineerCookie);
    headers.set("origin", server.url);
    if (!/^(GET|HEAD)$/.test(spec.method)) headers.set("x-csrf-token", b.csrfToken);
    if (spec.form) body = new URLSearchParams({ ...spec.form, _csrf: b.csrfToken });
  }
  const response = await fetch(`${server.url}${spec.path}`, { method: spec.method, headers, body, redirect: "manual" });
  return {
    label: `${role} ${spec.method} ${spec.path}`,
    status: response.status,
    body: await response.text(),
    allowed: spec.expect?.[role],
  };
}

/**
 * B's engineer watches the live feed (and reconnects with Last-Event-ID set to A's post); A writes,
 * then B writes a sentinel: B must get the sentinel and nothing of A's. An agent token gets no stream.
 */
async function liveEventsCase(world: World): Promise<{ now: Observation[]; afterTeamAWrites: () => Promise<Observation[]> }> {
  const { server, b, a } = world;
  const asAgent = await fetch(`${server.url}/events`, {
    headers: { authorization: `Bearer ${b.agentToken}`, accept: "text/event-stream" },
  });
  const agentObservation = { label: "agent GET /events", status: asAgent.status, body: await asAgent.text() };
  if (asAgent.status !== 401) throw new Error(`an agent token opened the engineers' live feed: ${asAgent.status}`);
  const streams = [
    await openEventStream(server.url, b.engineerCookie, {}),
    await openEventStream(server.url, b.engineerCookie, { "last-event-id": String(a.rootPostId) }),
  ];
  return {
    now: [agentObservation, ...streams.map((stream) => ({ label: stream.label, status: stream.status, body: "" }))],
    async afterTeamAWrites() {
      const sentinel = "B sentinel after A wrote";
      const form = new URLSearchParams({ content: sentinel, _csrf: b.csrfToken });
      const posted = await fetch(`${server.url}/posts`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: b.engineerCookie, origin: server.url, "content-type": "application/x-www-form-urlencoded" },
        body: form,
      });
      if (posted.status !== 303) throw new Error(`B's sentinel post failed: ${posted.status}`);
      const seen = await Promise.all(streams.map((stream) => stream.until(sentinel)));
      return streams.map((stream, index) => ({ label: stream.label, status: stream.status, body: seen[index]! }));
    },
  };
}

type EventStream = { label: string; status: number; until(text: string): Promise<string> };

async function openEventStream(baseUrl: string, cookie: string, headers: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/events`, {
    headers: { cookie, accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const label = `engineer GET /events ${JSON.stringify(headers)}`;
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = "";
  return {
    label,
    status: response.status,
    async until(text) {
      const deadline = Date.now() + 10_000;
      // A read that lost the race to the timer is still waited for on the next turn: its chunk is not dropped.
      let pending: ReturnType<typeof reader.read> | undefined;
      try {
        while (!received.includes(text)) {
          if (Date.now() > deadline) throw new Error(`${label}: no '${text}' within 10 s; got:\n${received}`);
          pending ??= reader.read();
          const chunk = await Promise.race([pending, new Promise<undefined>((resolve) => setTimeout(resolve, 500))]);
          if (!chunk) continue;
          pending = undefined;
          if (chunk.done) throw new Error(`${label}: stream ended; got:\n${received}`);
          received += decoder.decode(chunk.value, { stream: true });
        }
        return received;
      } finally {
        controller.abort();
      }
    },
  };
}

/** What one MCP tool is asked by B's agents (a personal token and a pick-name token). */
export type ToolCase = (world: World, client: Client) => Promise<Observation[]>;

const tool = async (client: Client, name: string, args: Record<string, unknown>, expectError: boolean): Promise<Observation> => {
  const result = await callTool(client, name, args);
  return {
    label: `tool ${name} ${JSON.stringify(args)}`,
    status: result.isError ? 400 : 200,
    body: JSON.stringify(result),
    allowed: [expectError ? 400 : 200],
  };
};

export const toolCases: Record<string, ToolCase> = {
  login: async ({ a }, client) => [await tool(client, "login", { agent_name: a.ownAgentName }, false)],
  read_posts: async ({ a }, client) => [
    await tool(client, "read_posts", { limit: 100 }, false),
    await tool(client, "read_posts", { thread_id: a.rootPostId }, false),
    await tool(client, "read_posts", { agent_filter: a.sharedAgentName, tag_filter: "alphatag" }, false),
    await tool(client, "read_posts", { cursor: encodeCursor(a.humanPostId + 1) }, false),
  ],
  create_post: async ({ a }, client) => [
    await tool(client, "create_post", { content: "B replies in A's thread", parent_post_id: a.rootPostId }, true),
    await tool(client, "create_post", { content: "B's tool post sharedword", tags: ["shared"] }, false),
  ],
  search_posts: async (_world, client) => [
    await tool(client, "search_posts", { query: "alphaword" }, false),
    await tool(client, "search_posts", { query: "sharedword", limit: 50 }, false),
  ],
  read_new: async (_world, client) => [await tool(client, "read_new", { limit: 100 }, false)],
  get_thread: async ({ a }, client) => [
    await tool(client, "get_thread", { post_id: a.rootPostId }, true),
    await tool(client, "get_thread", { post_id: a.replyPostId }, true),
  ],
  // Intent only: B's two clients (personal and pick-name) both claim, and neither refuses the other.
  claim: async (_world, client) => [
    await tool(client, "claim", { paths: ["shared/c.ts"], reason: "B's tool claim", exclusive: false }, false),
  ],
  release: async ({ a }, client) => [
    await tool(client, "release", { claim_id: a.claimId }, true),
    await tool(client, "release", { paths: ["shared/**"] }, false),
  ],
  renew: async ({ a }, client) => [await tool(client, "renew", { claim_id: a.claimId, minutes: 5 }, true)],
  list_claims: async (_world, client) => [
    await tool(client, "list_claims", {}, false),
    await tool(client, "list_claims", { paths: ["shared/**"], agent: "builder" }, false),
  ],
  set_status: async (_world, client) => [await tool(client, "set_status", { text: "B's tool status" }, false)],
  process_thoughts: async (_world, client) => [await tool(client, "process_thoughts", { project_notes: "B's own note sharedword" }, false)],
  search_journal: async (_world, client) => [
    await tool(client, "search_journal", { query: "alphaword" }, false),
    await tool(client, "search_journal", { query: "sharedword", limit: 50, type: "both" }, false),
  ],
  read_journal_entry: async ({ a }, client) => [await tool(client, "read_journal_entry", { id: a.journalEntryId }, true)],
  list_recent_entries: async (_world, client) => [await tool(client, "list_recent_entries", { limit: 50, days: 30 }, false)],
};
