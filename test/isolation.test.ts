import { randomBytes } from "node:crypto";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../server/app.ts";
import { rowsOf } from "../server/db/client.ts";
import { agents, oauthGrants, webhooks } from "../server/db/schema/index.ts";
import { createBenchRun } from "../server/domain/bench-runs.ts";
import { createTeam, type Team } from "../server/domain/teams.ts";
import { cli } from "../server/domain/callers.ts";
import { inviteRefLength } from "../server/domain/engineers.ts";
import { displayPrefixOf, hashSecret } from "../server/domain/tokens.ts";
import { createInvite } from "../server/domain/users.ts";
import { routeCases, sendAs, signOutRoutes, toolCases, type Observation, type Role, type World } from "./support/isolation-cases.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf } from "./support/web.ts";

/** One team's credentials, to ask what that team sees. */
type Side = { team: Team; readerToken: string; builderToken: string; engineerCookie: string; rootPostId: number };

describe.each(databaseKinds)("team isolation on %s", (kind) => {
  let server: TestServer;
  let world: World;
  let sideA: Side;
  let sideB: Side;
  const secret = `qz${randomBytes(6).toString("hex")}`;

  beforeAll(async () => {
    server = await startTestServer(kind);
    ({ world, sideA, sideB } = await buildWorld(server, secret));
  }, 180_000);
  afterAll(() => server?.close());

  it("no route and no MCP tool lets team B read, change or count anything of team A", async () => {
    const failures: string[] = [];
    const check = (observation: Observation) => {
      const { allowed } = observation;
      if (observation.status >= 500) failures.push(`${observation.label}: ${observation.status}`);
      if (observation.body.includes(secret))
        failures.push(`${observation.label}: returned team A's data:\n${excerpt(observation.body, secret)}`);
      if (allowed && !allowed.includes(observation.status)) {
        failures.push(
          `${observation.label}: status ${observation.status}, expected ${allowed.join(" or ")}: ${observation.body.slice(0, 200)}`,
        );
      }
    };
    const walkRoute = async (route: string) => {
      const routeCase = routeCases[route]!;
      if (!("requests" in routeCase)) throw new Error(`${route} must be a request case`);
      for (const spec of routeCase.requests(world)) {
        expect(JSON.stringify(spec), "a case must not send A's secret itself").not.toContain(secret);
        for (const role of ["agent", "engineer"] satisfies Role[]) check(await sendAs(world, role, spec));
      }
    };

    // Every route of the app has a case, and every case is a route of the app.
    const appRoutes = [
      ...new Set(
        createApp(server.database, server.config)
          .routes.filter((route) => route.method !== "ALL")
          .map((route) => `${route.method} ${route.path}`),
      ),
    ];
    expect(
      appRoutes.filter((route) => !(route in routeCases)),
      "routes without an isolation case",
    ).toEqual([]);
    expect(
      Object.keys(routeCases).filter((route) => !appRoutes.includes(route)),
      "cases for routes that no longer exist",
    ).toEqual([]);

    const countsOfABefore = await countsSeenBy(server, sideA);
    const snapshotBefore = await snapshotOfTeam(server, world.a.team.id);

    const liveChecks: (() => Promise<Observation[]>)[] = [];
    for (const route of appRoutes.filter((route) => !signOutRoutes.includes(route))) {
      const routeCase = routeCases[route]!;
      if ("requests" in routeCase) await walkRoute(route);
      else {
        const { now, afterTeamAWrites } = await routeCase.run(world);
        for (const observation of now) check(observation);
        liveChecks.push(afterTeamAWrites);
      }
    }

    const personal = await connectMcp(server.url, world.b.agentToken);
    const pickName = await connectMcp(server.url, world.b.pickNameToken);
    try {
      const tools = (await personal.listTools()).tools.map((listed) => listed.name);
      expect(
        tools.filter((name) => !(name in toolCases)),
        "MCP tools without an isolation case",
      ).toEqual([]);
      expect(
        Object.keys(toolCases).filter((name) => !tools.includes(name)),
        "cases for tools that no longer exist",
      ).toEqual([]);
      for (const name of tools) {
        for (const client of [personal, pickName]) {
          for (const observation of await toolCases[name]!(world, client)) check(observation);
        }
      }
    } finally {
      await Promise.all([personal.close(), pickName.close()]);
    }

    // Nothing of A changed, and nothing B wrote is counted in what A sees.
    expect(await snapshotOfTeam(server, world.a.team.id)).toEqual(snapshotBefore);
    expect(await countsSeenBy(server, sideA)).toEqual(countsOfABefore);

    // The other way round: what A writes now is not counted in what B sees, nor streamed to B.
    const countsOfBBefore = await countsSeenBy(server, sideB);
    await teamAWritesMore(server, sideA, secret);
    expect(await countsSeenBy(server, sideB)).toEqual(countsOfBBefore);
    for (const liveCheck of liveChecks) {
      for (const observation of await liveCheck()) check(observation);
    }

    for (const route of signOutRoutes) await walkRoute(route);
    expect((await fetch(`${server.url}/`, { headers: { cookie: sideA.engineerCookie }, redirect: "manual" })).status).toBe(200);

    expect(failures).toEqual([]);
  }, 180_000);
});

function excerpt(body: string, secret: string): string {
  const at = body.indexOf(secret);
  return body.slice(Math.max(0, at - 150), at + 150);
}

// biome-ignore lint/suspicious/noExplicitAny: the cases read whatever JSON each route answers.
async function json(response: Response): Promise<any> {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Team A with private data everywhere (posts, replies, a human post, journals, instructions, an MCP session); team B with a little of its own. */
async function buildWorld(server: TestServer, secret: string): Promise<{ world: World; sideA: Side; sideB: Side }> {
  const { db } = server.database;
  const alpha = await createTeam(db, { name: `Alpha ${secret}`, slug: "alpha" });
  const beta = await createTeam(db, { name: "Beta", slug: "beta" });

  const builderA = await server.agent(alpha, "builder");
  const ownA = await server.agent(alpha, "alpha-only");
  const scoutA = await server.agent(alpha, `${secret}-scout`);
  const readerA = await server.agent(alpha, "reader");
  const pickNameA = await server.agent(alpha, "swarm", { pickName: true });
  const annA = await server.engineer(alpha, "ann-alpha");
  const inviteA = await createInvite(server.database.db, cli, { teamId: alpha.id, role: "admin" });
  await server.engineer(alpha, `${secret}-admin`, "member");

  const post = async (token: string, body: object) =>
    json(await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) }));
  const root = await post(builderA, { content: `${secret} alphaword sharedword: the root of A`, tags: [secret, "alphatag", "shared"] });
  const reply = await post(scoutA, { content: `${secret} a reply in A sharedword`, parentId: root.id });
  await post(ownA, { content: `${secret} alphaword by alpha-only`, tags: ["alphatag"] });
  const annCsrf = await csrfTokenOf(server, annA);
  const humanCard = await (
    await fetch(`${server.url}/posts`, {
      method: "POST",
      headers: { cookie: annA, origin: server.url, "hx-request": "true", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ content: `${secret} ann says alphaword sharedword`, tags: "alphatag", _csrf: annCsrf }),
    })
  ).text();
  const humanPostId = Number(/data-post-id="(\d+)"/.exec(humanCard)?.[1]);
  const instructions = await fetch(`${server.url}/admin/instructions`, {
    method: "POST",
    headers: { cookie: annA, origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ instructions: `A's private rules ${secret}`, _csrf: annCsrf }),
  });
  expect(instructions.status).toBe(200);
  // A new token's one-time view, held for ann's session and never opened: B must not open or spend it.
  const tokenForm = await fetch(`${server.url}/admin/agents`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: annA, origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ name: "alpha-viewed", scopes: "read", _csrf: annCsrf }),
  });
  expect(tokenForm.status).toBe(303);
  const tokenViewId = tokenForm.headers.get("location")!.split("/").at(-1)!;
  const journal = await json(
    await fetch(`${server.url}/teams/alpha/journal/entries`, {
      method: "POST",
      headers: { "x-api-key": builderA, "content-type": "application/json" },
      body: JSON.stringify({ sections: { project_notes: `${secret} alphaword sharedword in A's journal` } }),
    }),
  );
  const pickNameClient = new Client({ name: "team-a", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${pickNameA}` } },
  });
  await pickNameClient.connect(transport);
  expect((await callTool(pickNameClient, "login", { agent_name: `${secret}-picked` })).isError).toBeFalsy();
  const mcpSessionId = transport.sessionId!;
  await pickNameClient.close();
  // An OAuth client A's admin approved: B must neither see nor revoke it.
  const [builderAgentA] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.teamId, alpha.id), eq(agents.name, "builder")));
  const [oauthConnection] = await db
    .insert(oauthGrants)
    .values({
      teamId: alpha.id,
      agentId: builderAgentA!.id,
      clientId: "https://client.example/botboard.json",
      clientName: `${secret} desktop`,
      redirectUri: "https://client.example/callback",
      scopes: ["read"],
      resource: `${server.url}/mcp`,
    })
    .returning();
  const claimA = await json(
    await server.as(builderA, "/api/v1/claims", {
      method: "POST",
      body: JSON.stringify({ paths: ["shared/**", `${secret}/**`], reason: `${secret} A's claim` }),
    }),
  );
  expect(
    (await server.as(builderA, "/api/v1/status", { method: "PUT", body: JSON.stringify({ text: `${secret} A's status` }) })).status,
  ).toBe(200);
  const [webhookA] = await db
    .insert(webhooks)
    .values({
      teamId: alpha.id,
      url: `https://hooks.example/${secret}`,
      format: "json",
      secret: `whsec_${secret}`,
      tags: ["shared"],
      createdBy: "ann-alpha",
    })
    .returning({ id: webhooks.id });
  const benchRun = await createBenchRun(db, {
    id: "alpha-bench",
    teamId: alpha.id,
    suite: "builtin",
    driver: "oracle",
    model: `${secret}-model`,
    phase: "isolated",
    variants: ["baseline"],
    repeats: 1,
    fromRunId: null,
    settings: {
      suitePath: "",
      outDir: "",
      timeoutMs: 60_000,
      concurrency: 1,
      maxCostUsd: null,
      prompts: { baseline: `A's prompt ${secret}` },
      prices: {},
    },
    trials: [{ taskSlug: "run-length", difficulty: "easy", variant: "baseline", repeat: 1, groupKey: null, teamId: null }],
  });

  const builderB = await server.agent(beta, "builder");
  const readerB = await server.agent(beta, "reader");
  const pickNameB = await server.agent(beta, "swarm", { pickName: true });
  const bobB = await server.engineer(beta, "bob-beta");
  const rootB = await post(builderB, { content: "B's root sharedword", tags: ["shared"] });
  await json(
    await fetch(`${server.url}/teams/beta/journal/entries`, {
      method: "POST",
      headers: { "x-api-key": builderB, "content-type": "application/json" },
      body: JSON.stringify({ content: "B's note sharedword" }),
    }),
  );

  const world: World = {
    server,
    secret,
    a: {
      team: alpha,
      rootPostId: root.id,
      replyPostId: reply.id,
      humanPostId,
      journalEntryId: Number(journal.id),
      sharedAgentName: "builder",
      ownAgentName: "alpha-only",
      knownUsername: "ann-alpha",
      inviteRef: hashSecret(inviteA.secret).slice(0, inviteRefLength),
      tokenPrefix: displayPrefixOf(builderA),
      tokenViewId,
      mcpSessionId,
      benchRunId: benchRun.id,
      oauthConnectionId: oauthConnection!.id,
      claimId: claimA.claim.id,
      webhookId: webhookA!.id,
    },
    b: {
      team: beta,
      agentToken: builderB,
      pickNameToken: pickNameB,
      engineerCookie: bobB,
      csrfToken: await csrfTokenOf(server, bobB),
      rootPostId: rootB.id,
    },
  };
  return {
    world,
    sideA: { team: alpha, readerToken: readerA, builderToken: builderA, engineerCookie: annA, rootPostId: root.id },
    sideB: { team: beta, readerToken: readerB, builderToken: builderB, engineerCookie: bobB, rootPostId: rootB.id },
  };
}

/** Team A writes things B's counts would pick up if they crossed teams: shared words, tags and agent names. */
async function teamAWritesMore(server: TestServer, side: Side, secret: string): Promise<void> {
  const post = (body: object) => server.as(side.builderToken, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
  expect((await post({ content: `${secret} later sharedword`, tags: ["shared"] })).status).toBe(201);
  expect((await post({ content: `${secret} later reply sharedword`, parentId: side.rootPostId })).status).toBe(201);
  const journal = await fetch(`${server.url}/teams/${side.team.slug}/journal/entries`, {
    method: "POST",
    headers: { "x-api-key": side.builderToken, "content-type": "application/json" },
    body: JSON.stringify({ content: `${secret} later note sharedword` }),
  });
  expect(journal.status).toBe(201);
}

const numbersIn = (html: string, pattern: RegExp) => [...html.matchAll(pattern)].map((match) => Number(match[1]));

/**
 * Every count a team is shown, through the doors it is shown by (none of these move a read cursor):
 * unread, search totals, feed totals, reply counts, journal totals, agents' post counts and activity.
 */
async function countsSeenBy(server: TestServer, side: Side) {
  const reader = await connectMcp(server.url, side.readerToken);
  const builder = await connectMcp(server.url, side.builderToken);
  const page = async (path: string) => {
    const response = await fetch(`${server.url}${path}`, { headers: { cookie: side.engineerCookie } });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.text();
  };
  const compat = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/teams/${side.team.slug}${path}`, {
      ...init,
      headers: { "x-api-key": side.builderToken, "content-type": "application/json" },
    }).then(json);
  try {
    const agentPage = await page("/agents/builder");
    return {
      unread: (await callTool(reader, "login")).structuredContent?.unread,
      restSearch: (await json(await server.as(side.readerToken, "/api/v1/search?q=sharedword&limit=100"))).results.length,
      mcpSearch: (
        ((await callTool(reader, "search_posts", { query: "sharedword", limit: 50 })).structuredContent?.results ?? []) as unknown[]
      ).length,
      feedTotal: (await compat("/posts?limit=1")).totalCount,
      taggedTotal: (await compat("/posts?limit=1&tag=shared")).totalCount,
      builderTotal: (await compat("/posts?limit=1&agent=builder")).totalCount,
      replyCount: (await json(await server.as(side.readerToken, `/api/v1/posts/${side.rootPostId}`))).post.replyCount,
      journalTotal: (await compat("/journal/entries?limit=1")).total_count,
      journalSearch: (await compat("/journal/search", { method: "POST", body: JSON.stringify({ query: "sharedword", limit: 50 }) }))
        .total_count,
      mcpJournalTotal: (await callTool(builder, "list_recent_entries", { limit: 1 })).structuredContent?.total,
      mcpJournalSearch: (
        ((await callTool(builder, "search_journal", { query: "sharedword", limit: 50 })).structuredContent?.results ?? []) as unknown[]
      ).length,
      agentsPage: numbersIn(await page("/agents"), /<td>(\d+)<\/td>/g),
      builderActivity: numbersIn(agentPage, /: (\d+) posts"/g),
      builderPostCount: numbersIn(agentPage, /<dd>(\d+)<\/dd>/g),
      webSearch: (await page("/search?q=sharedword")).split('class="permalink"').length - 1,
      webFeed: (await page("/?tag=shared")).split("data-post-id=").length - 1,
    };
  } finally {
    await Promise.all([reader.close(), builder.close()]);
  }
}

/** Every row that belongs to a team, as JSON, in a stable order. */
async function snapshotOfTeam(server: TestServer, teamId: string): Promise<Record<string, unknown>> {
  const ofTeam: Record<string, string> = {
    teams: "id = $team",
    users: "team_id = $team",
    sessions: "user_id in (select id from users where team_id = $team)",
    invites: "team_id = $team",
    agents: "team_id = $team",
    agent_tokens: "team_id = $team",
    read_cursors: "team_id = $team",
    mcp_sessions: "team_id = $team",
    one_time_views: "session_id in (select s.id from sessions s join users u on u.id = s.user_id where u.team_id = $team)",
    posts: "team_id = $team",
    journal_entries: "team_id = $team",
    // A wrong password for A's engineer is recorded in A's log: A learns of the try; B changed nothing of A.
    audit_log: "team_id = $team and action <> 'user.sign_in_failed'",
    bench_runs: "team_id = $team",
    oauth_grants: "team_id = $team",
    claims: "team_id = $team",
    webhooks: "team_id = $team",
    webhook_deliveries: "team_id = $team",
  };
  const snapshot: Record<string, unknown> = {};
  for (const [table, condition] of Object.entries(ofTeam)) {
    const where = sql.raw(condition.replace("$team", `'${teamId}'`));
    const result = await server.database.db.execute<{ rows: unknown }>(
      sql`select coalesce(json_agg(row_to_json(t)::text order by row_to_json(t)::text), '[]') as rows from ${sql.raw(table)} t where ${where}`,
    );
    snapshot[table] = rowsOf<{ rows: unknown }>(result)[0]?.rows;
  }
  return snapshot;
}
