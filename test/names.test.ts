import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpSessions } from "../server/db/schema/index.ts";
import { addAgentToken, findAgentByName, listAgentNames, revokeAgentTokens } from "../server/domain/agents.ts";
import { cli } from "../server/domain/callers.ts";
import { nameKey, validateDisplayName } from "../server/domain/names.ts";
import type { Team } from "../server/domain/teams.ts";
import { displayPrefixOf } from "../server/domain/tokens.ts";
import { acceptInvite, createInvite } from "../server/domain/users.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const sessionIdOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId!;

describe.each(databaseKinds)("names are identities on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let alice: string;
  let swarm: string;
  let cookie: string;
  let adaCookie: string;
  const clients: Client[] = [];

  const connect = async (token: string) => {
    const client = await connectMcp(server.url, token);
    clients.push(client);
    return client;
  };
  const pickName = async (name: string) => {
    const client = await connect(swarm);
    return { client, login: await callTool(client, "login", { agent_name: name }) };
  };
  const compatPost = (author: string, content = "compat post") =>
    fetch(`${server.url}/teams/${team.slug}/posts`, {
      method: "POST",
      headers: { "x-api-key": swarm, "content-type": "application/json" },
      body: JSON.stringify({ author, content }),
    });
  const setup = (body: Record<string, string>) =>
    fetch(`${server.url}/auth/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("names");
    alice = await server.agent(team, "alice");
    swarm = await server.agent(team, "swarm", { pickName: true });
    cookie = await server.engineer(team, "grace");
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const ada = await setup({ token: invite.secret, username: "ada", displayName: "Ada Lovelace", password: "correct horse battery" });
    expect(ada.status).toBe(201);
    adaCookie = ada.headers.get("set-cookie")!.split(";")[0]!;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
  });

  it("a pick-name session cannot log in as an agent or an engineer of the team, whatever the case, spacing or width", async () => {
    const refusals: [string, RegExp][] = [
      ["alice", /'alice' is the name of an agent of this team/],
      ["  ALICE ", /'ALICE' is the name of an agent of this team/],
      ["ａｌｉｃｅ", /'alice' is the name of an agent of this team/],
      ["swarm", /name of an agent of this team/],
      ["GRACE", /'GRACE' is the name of an engineer of this team/],
      ["ada", /name of an engineer of this team/],
      ["ada lovelace", /'ada lovelace' is the name of an engineer of this team/],
      ["Ada   Lovelace", /'Ada Lovelace' is the name of an engineer of this team/],
    ];
    const client = await connect(swarm);
    for (const [name, message] of refusals) {
      const login = await callTool(client, "login", { agent_name: name });
      expect(login.isError, name).toBe(true);
      expect(login.text, name).toMatch(message);
      expect(login.text, name).toContain("Choose another");
    }
    const slashed = await callTool(client, "login", { agent_name: "swarm/alice" });
    expect(slashed.isError).toBe(true);
    expect(slashed.text).toContain("without '/'");
    const posted = await callTool(client, "create_post", { content: "after the refusals" });
    expect(posted.structuredContent).toMatchObject({ post: { author: "swarm" } });
  });

  it("the compatible API's author is refused the same way, with a 409 naming the rule", async () => {
    for (const [author, rule] of [
      ["alice", "name of an agent of this team"],
      ["Grace", "name of an engineer of this team"],
      ["ADA LOVELACE", "name of an engineer of this team"],
    ]) {
      const response = await compatPost(author!);
      expect(response.status, author).toBe(409);
      expect((await response.json()).error, author).toContain(rule);
    }
    const feed = await (await server.as(alice, "/api/v1/posts?limit=100")).json();
    expect(feed.posts.map((post: { content: string }) => post.content)).not.toContain("compat post");
  });

  it("'Botboard', which signs Botboard's own system notes, is no agent's, session's or engineer's name", async () => {
    await expect(server.agent(team, " BotBoard ")).rejects.toThrow("signs Botboard's own system notes");
    const client = await connect(swarm);
    for (const name of ["botboard", "ＢＯＴＢＯＡＲＤ"]) {
      const login = await callTool(client, "login", { agent_name: name });
      expect(login.isError, name).toBe(true);
      expect(login.text, name).toContain("signs Botboard's own system notes");
    }
    const compat = await compatPost("Botboard", "a forged system note");
    expect(compat.status).toBeGreaterThanOrEqual(400);
    expect(compat.status).toBeLessThan(500);
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const engineer = await setup({ token: invite.secret, username: "mallory", displayName: "Botboard", password: "correct horse battery" });
    expect(engineer.status).toBe(400);
    expect(JSON.stringify(await engineer.json())).toContain("signs Botboard's own system notes");
    const feed = await (await server.as(alice, "/api/v1/posts?limit=100")).json();
    expect(feed.posts.map((post: { author: { name: string } }) => post.author.name)).not.toContain("Botboard");
  });

  it("an agent's name in another case or width is that agent: agent add gives it a token, revoke by it revokes it, made at once they are one", async () => {
    const db = server.database.db;
    const alice = await findAgentByName(db, team.id, "alice");
    for (const spelling of ["ALICE", " Alice ", "ａｌｉｃｅ"]) {
      const { agent } = await addAgentToken(db, cli, { teamId: team.id, name: spelling });
      expect(agent.id, spelling).toBe(alice.id);
      expect((await findAgentByName(db, team.id, spelling)).id, spelling).toBe(alice.id);
    }
    const made = await Promise.all(
      ["Carol", "CAROL", "carol", "ｃａｒｏｌ", "carol"].map((name) => addAgentToken(db, cli, { teamId: team.id, name })),
    );
    expect(new Set(made.map(({ agent }) => agent.id)).size).toBe(1);
    // Whichever spelling took the lock first names the agent.
    expect((await listAgentNames(db, team.id)).filter((name) => nameKey(name) === "carol")).toHaveLength(1);
    const carolToken = made[1]!.token;
    expect((await server.as(carolToken, "/api/v1/posts?limit=1")).status).toBe(200);
    expect(await revokeAgentTokens(db, cli, team.id, "CAROL")).toHaveLength(made.length);
    expect((await server.as(carolToken, "/api/v1/posts?limit=1")).status).toBe(401);
  });

  it("no agent takes an engineer's or a live session's name, no engineer an agent's, a session's or another engineer's", async () => {
    const db = server.database.db;
    for (const [name, holder] of [
      ["GRACE", "an engineer"],
      ["ada lovelace", "an engineer"],
    ]) {
      await expect(server.agent(team, name!), name).rejects.toThrow(
        `'${name}' is the name of ${holder} of this team; an agent may not take`,
      );
    }
    const session = await pickName("scout");
    expect(session.login.isError).toBeFalsy();
    await expect(addAgentToken(db, cli, { teamId: team.id, name: "Scout" })).rejects.toThrow("'Scout' is held by another live session");
    const invite = await createInvite(db, cli, { teamId: team.id, role: "member" });
    const refusals: [{ username: string; displayName?: string }, string][] = [
      [{ username: "alice" }, "'alice' is the name of an agent of this team; an engineer may not take"],
      [{ username: "newcomer2", displayName: "ALICE" }, "'ALICE' is the name of an agent of this team"],
      [{ username: "newcomer2", displayName: "Grace" }, "'Grace' is the name of an engineer of this team; an engineer may not take"],
      [{ username: "newcomer2", displayName: "Ada  Lovelace" }, "'Ada Lovelace' is the name of an engineer of this team"],
      [{ username: "scout" }, "'scout' is held by another live session"],
    ];
    const engineer = (names: { username: string; displayName?: string }) =>
      acceptInvite(db, { secret: invite.secret, password: "correct horse battery", ...names });
    for (const [names, message] of refusals) await expect(engineer(names), message).rejects.toThrow(message);
    // Each door answers the refusal as a conflict (set-up counts against a small per-address budget: one each).
    const [names, message] = refusals[0]!;
    const rest = await setup({ token: invite.secret, password: "correct horse battery", ...names });
    expect(rest.status).toBe(409);
    expect((await rest.json()).error.message).toContain(message);
    const web = await postForm(server, "/setup", { token: invite.secret, password: "correct horse battery", displayName: "", ...names });
    expect(web.status).toBe(409);
    expect(await web.text()).toContain(message.replaceAll("'", "&#39;"));
    // The refusals left the link unspent.
    expect((await engineer({ username: "newcomer2" })).username).toBe("newcomer2");
    await session.client.close();
  });

  it("an agent and an engineer taking one new name at once: exactly one gets it", async () => {
    const db = server.database.db;
    const names = ["zed", "Yara", "xavi", "wren", "vic"];
    const outcomes = await Promise.all(
      names.map(async (name) => {
        const invite = await createInvite(db, cli, { teamId: team.id, role: "member" });
        return Promise.allSettled([
          addAgentToken(db, cli, { teamId: team.id, name }),
          acceptInvite(db, { secret: invite.secret, username: name.toUpperCase(), password: "correct horse battery" }),
        ]);
      }),
    );
    for (const [index, [agent, engineer]] of outcomes.entries()) {
      expect(
        [agent!.status, engineer!.status].filter((status) => status === "fulfilled"),
        names[index],
      ).toHaveLength(1);
      const refusal = agent!.status === "rejected" ? String(agent!.reason) : String((engineer as PromiseRejectedResult).reason);
      expect(refusal, names[index]).toMatch(/is the name of an? (agent|engineer) of this team/);
    }
  });

  it("author filters name authors as names are compared: from:ALICE is alice, an engineer's username finds their posts", async () => {
    const byAlice = (await (
      await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "filtered by name" }) })
    ).json()) as {
      id: number;
    };
    const form = await postForm(
      server,
      "/posts",
      { _csrf: await csrfTokenOf(server, adaCookie), content: "an engineer's post" },
      { cookie: adaCookie },
    );
    expect(form.status).toBe(303);
    const searched = async (query: string) =>
      (
        (await (await server.as(alice, `/api/v1/search?q=${encodeURIComponent(query)}`)).json()) as {
          results: { post: { id: number; author: { name: string } } }[];
        }
      ).results;
    for (const query of ["from:ALICE filtered", "from:ａｌｉｃｅ filtered"]) {
      expect(
        (await searched(query)).map((result) => result.post.id),
        query,
      ).toContain(byAlice.id);
    }
    expect((await searched("from:ada engineer's")).map((result) => result.post.author.name)).toEqual(["Ada Lovelace"]);
    const feed = (await (await server.as(alice, "/api/v1/posts?author=ALICE&limit=100")).json()) as { posts: { id: number }[] };
    expect(feed.posts.map((post) => post.id)).toContain(byAlice.id);
    const mcp = await connect(alice);
    const read = await callTool(mcp, "read_posts", { agent_filter: "Ada", limit: 5 });
    expect((read.structuredContent as { posts: { author: string }[] }).posts.map((post) => post.author)).toEqual(["Ada Lovelace"]);
  });

  it("a name another live session holds is refused until that session closes or idles past the hold", async () => {
    const holder = await pickName("lint-fixer");
    expect(holder.login.isError).toBeFalsy();
    const again = await callTool(holder.client, "login", { agent_name: "lint-fixer" });
    expect(again.isError, "the holder may log in again with its own name").toBeFalsy();

    for (const name of ["lint-fixer", "Lint-Fixer", " LINT-FIXER "]) {
      const { login } = await pickName(name);
      expect(login.isError, name).toBe(true);
      expect(login.text).toMatch(
        /'.+' is held by another live session: a chosen name stays with its session until the session closes or for 30 minutes after its last request/,
      );
    }
    const viaCompat = await compatPost("lint-fixer");
    expect(viaCompat.status).toBe(409);
    expect((await viaCompat.json()).error).toContain("held by another live session");

    // Closing the session (DELETE /mcp) frees the name at once.
    await (holder.client.transport as StreamableHTTPClientTransport).terminateSession();
    const successor = await pickName("lint-fixer");
    expect(successor.login.isError).toBeFalsy();

    // A session idle past the hold loses the name to the next one, and then signs as its agent.
    await server.database.db
      .update(mcpSessions)
      .set({ lastUsedAt: sql`now() - interval '31 minutes'` })
      .where(eq(mcpSessions.id, sessionIdOf(successor.client)));
    const newcomer = await pickName("lint-fixer");
    expect(newcomer.login.isError).toBeFalsy();
    const fromIdle = await callTool(successor.client, "create_post", { content: "back from a long pause" });
    expect(fromIdle.structuredContent).toMatchObject({ post: { author: "swarm" } });
    const fromNewcomer = await callTool(newcomer.client, "create_post", { content: "the name is mine now" });
    expect(fromNewcomer.structuredContent).toMatchObject({ post: { author: "swarm/lint-fixer" } });
  });

  it("a pick-name session signs agent/name in MCP text and JSON, REST, the web card and author filters", async () => {
    const { client, login } = await pickName("reviewer");
    expect(login.structuredContent).toMatchObject({ name: "swarm/reviewer", pickName: true });
    expect(login.text).toContain("You are swarm/reviewer (agent)");
    const posted = await callTool(client, "create_post", { content: "Reviewed the parser change.", tags: ["review"] });
    expect(posted.structuredContent).toMatchObject({ post: { author: "swarm/reviewer", kind: "agent" } });
    const postId = (posted.structuredContent as { post: { id: number } }).post.id;

    const reader = await connect(alice);
    const byAuthor = await callTool(reader, "read_posts", { agent_filter: "swarm/reviewer" });
    expect(byAuthor.text).toContain(`#${postId} · swarm/reviewer (agent)`);
    expect(byAuthor.structuredContent).toMatchObject({ posts: [{ id: postId, author: "swarm/reviewer" }] });

    const rest = await (await server.as(alice, `/api/v1/posts?author=${encodeURIComponent("swarm/reviewer")}`)).json();
    expect(rest.posts).toMatchObject([{ id: postId, author: { kind: "agent", name: "swarm/reviewer" } }]);
    const compat = await (
      await fetch(`${server.url}/teams/${team.slug}/posts?agent=swarm/reviewer`, { headers: { "x-api-key": alice } })
    ).json();
    expect(compat.posts).toMatchObject([{ postId: String(postId), author: "swarm/reviewer" }]);

    const page = await (await fetch(`${server.url}/?author=${encodeURIComponent("swarm/reviewer")}`, { headers: { cookie } })).text();
    expect(page).toContain(`href="/?author=swarm%2Freviewer">swarm/reviewer</a>`);
    expect(page).toContain("Reviewed the parser change.");

    const viaCompat = await compatPost("helper", "compat from a helper");
    expect(viaCompat.status).toBe(201);
    expect((await viaCompat.json()).author).toBe("swarm/helper");

    // The session reads as its own reader: others' posts once, never its own.
    await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "alice to the reviewer" }) });
    const unread = await callTool(client, "read_new", { limit: 100 });
    const authors = (unread.structuredContent as { posts: { author: string }[] }).posts.map((post) => post.author);
    expect(authors).toContain("alice");
    expect(authors).not.toContain("swarm/reviewer");
    expect((await callTool(client, "read_new", {})).text).toBe("Nothing new.");
  });

  it("engineers' display names with a newline, a hidden character or over 64 characters are refused at set-up", async () => {
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const refusals: [string, RegExp][] = [
      ["Eve\n#1 · root (human)", /U\+000A/],
      ["evil\u202Etxt.exe", /U\+202E/],
      ["zero\u200Bwidth", /U\+200B/],
      // Letters and marks that render as nothing: a Hangul filler (NFKC makes it U+1160), a grapheme joiner.
      ["José\u3164", /U\+1160/],
      ["Jo\u034Fsé", /U\+034F/],
      ["x".repeat(65), /1-64 characters/],
      ["root (human)", /1-64 characters: letters, digits/],
    ];
    for (const [displayName, message] of refusals) {
      const rest = await setup({ token: invite.secret, username: "newcomer", displayName, password: "correct horse battery" });
      expect(rest.status, displayName).toBe(400);
      expect((await rest.json()).error.message, displayName).toMatch(message);
      const web = await postForm(server, "/setup", {
        token: invite.secret,
        username: "newcomer",
        displayName,
        password: "correct horse battery",
      });
      expect(web.status, displayName).toBe(400);
      expect(await web.text(), displayName).toMatch(message);
    }
    const accepted = await setup({
      token: invite.secret,
      username: "newcomer",
      displayName: "José  Ñúñez",
      password: "correct horse battery",
    });
    expect(accepted.status).toBe(201);
    expect((await accepted.json()).user.displayName).toBe("José Ñúñez");
  });

  it("a display name may be written in any one script, or in Latin beside another that does not look like it", async () => {
    // The set-up refuses a Cyrillic "А" among Latin letters: a name that reads as another's (the web
    // form answers the same message, as for the names above; looked at in Chromium).
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    await expect(
      acceptInvite(server.database.db, {
        secret: invite.secret,
        username: "lookalike",
        displayName: "\u0410da Lovelace",
        password: "correct horse battery",
      }),
    ).rejects.toThrow(/may not mix Cyrillic and Latin/);
    const accepted = ["Иван Петров", "Ελένη", "محمد Ali", "Ravi रवि", "山田たろう Taro", "김 철수 Kim", "李 Lee 김", "José Ñúñez"];
    for (const name of accepted) expect(validateDisplayName(name), name).toBe(name);
    for (const name of ["Ivan Иванов", "Ελένη Helen", "Иван Ελένη", "grac\u0435", "\u03A9mega"])
      expect(() => validateDisplayName(name), name).toThrow(/may not mix/);
  });

  it("an engineer sees which token wrote each agent post on the thread page; agents are not told", async () => {
    const root = await (
      await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "whose token?" }) })
    ).json();
    const { client } = await pickName("tracer");
    await callTool(client, "create_post", { content: "a reply from a session", parent_post_id: root.id });

    const page = await (await fetch(`${server.url}/posts/${root.id}`, { headers: { cookie } })).text();
    expect(page).toContain(`token <code>${displayPrefixOf(alice)}…</code></span>`);
    expect(page).toContain(`token <code>${displayPrefixOf(swarm)}…</code> (pick-name)</span>`);

    const forAgents = await (await server.as(alice, `/api/v1/posts/${root.id}`)).text();
    expect(forAgents).not.toContain(displayPrefixOf(alice));
    expect(forAgents).not.toContain(`"token"`);
    const admin = await (await fetch(`${server.url}/admin`, { headers: { cookie } })).text();
    expect(admin).toContain(`swarm <code>${displayPrefixOf(swarm)}…</code>`);
  });
});
