import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAgentToken, authenticateAgentToken } from "../server/domain/agents.ts";
import { cli } from "../server/domain/callers.ts";
import { oneTimeViews } from "../server/db/schema/index.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { runBotboard, serveBotboard, stop } from "./support/cli.ts";
import { createTeam } from "../server/domain/teams.ts";
import { databaseKinds, freshDatabase, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const me = (url: string, token: string) => fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });

/** Asks every process until each refuses the token; returns how long each took, in ms, from `since`. */
async function refusalDelays(urls: string[], token: string, since: number): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => {
      while (performance.now() - since < 5000) {
        if ((await me(url, token)).status === 401) return performance.now() - since;
        await sleep(20);
      }
      return Infinity;
    }),
  );
}

describe("the token cache of a process with two databases open", () => {
  it("a token resolved on one database is refused by the other, which never issued it", async () => {
    // As after `botboard import` without --with-secrets, or in a test process: the same token string, two databases.
    const [issuing, other] = await Promise.all([freshDatabase("pglite"), freshDatabase("postgres")]);
    const [issuingDb, otherDb] = await Promise.all([issuing.open(), other.open()]);
    try {
      const team = await createTeam(issuingDb.db, { name: "Cache", slug: "cache" });
      const { token } = await addAgentToken(issuingDb.db, cli, { teamId: team.id, name: "cached" });
      expect((await authenticateAgentToken(issuingDb.db, token)).agentName).toBe("cached");
      await expect(authenticateAgentToken(otherDb.db, token)).rejects.toThrow("Invalid token.");
    } finally {
      await Promise.all([issuingDb.close(), otherDb.close()]);
      await Promise.all([issuing.drop(), other.drop()]);
    }
  });
});

// Only Postgres can be shared by several processes; the embedded PGlite belongs to one.
describe("tokens across two server processes on one Postgres", () => {
  let first: TestServer;
  let second: Awaited<ReturnType<typeof serveBotboard>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    first = await startTestServer("postgres", { BOTBOARD_RATE_LIMIT_TOKEN: "off" });
    env = { DATABASE_URL: first.config.databaseUrl!, BOTBOARD_RATE_LIMIT_TOKEN: "off" };
    second = await serveBotboard({ ...env, PORT: "0", LOG_LEVEL: "debug" });
  }, 60_000);
  afterAll(async () => {
    if (second) await stop(second.process);
    await first?.close();
  });

  it("a token revoked from a third process is refused within 1 s by both servers, though both had it cached", async () => {
    const team = await first.team("revoking");
    const token = await first.agent(team, "doomed");
    const urls = [first.url, second.url];
    for (const url of urls) expect((await me(url, token)).status).toBe(200);
    // Both processes keep using the token while it is revoked, so each holds it in its cache.
    let revoking = true;
    const keepWarm = Promise.all(
      urls.map(async (url) => {
        while (revoking) {
          await (await me(url, token)).body?.cancel();
          await sleep(100);
        }
      }),
    );
    const revoked = await runBotboard(["agent", "revoke", token.slice(0, 11), "--team", "revoking"], env);
    const revokedAt = performance.now();
    revoking = false;
    await keepWarm;
    expect(revoked.code).toBe(0);
    const delays = await refusalDelays(urls, token, revokedAt);
    for (const delay of delays) expect(delay).toBeLessThan(1000);
  });

  it("an expired token is refused within 1 s of its expiry by both servers", async () => {
    const team = await first.team("expiring");
    const { token } = await addAgentToken(first.database.db, cli, {
      teamId: team.id,
      name: "mayfly",
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    // A token is made to last a minute at least; this one is set to end in a second and a half, before any server has seen it.
    const expiresAt = new Date(Date.now() + 1500);
    await first.database.db.execute(
      sql`update agent_tokens set expires_at = ${expiresAt.toISOString()}::timestamptz where agent_id = (select id from agents where name = 'mayfly')`,
    );
    const urls = [first.url, second.url];
    for (const url of urls) expect((await me(url, token)).status).toBe(200);
    await sleep(expiresAt.getTime() - Date.now());
    const delays = await refusalDelays(urls, token, performance.now());
    for (const delay of delays) expect(delay).toBeLessThan(1000);
  });

  it("no door writes a token into the logs or echoes one in an error", async () => {
    const team = await first.team("quiet");
    const token = await first.agent(team, "quiet-agent");
    const madeUp = `bb_${"q".repeat(52)}`;
    const bodies: string[] = [];
    const keep = async (response: Response) => bodies.push(`${response.status} ${await response.text()}`);
    const json = { "content-type": "application/json" };
    await keep(
      await fetch(`${second.url}/api/v1/posts`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${token}` },
        body: '{"content":"logged?"}',
      }),
    );
    await keep(
      await fetch(`${second.url}/api/v1/posts`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${token}` },
        body: "{not json",
      }),
    );
    await keep(await me(second.url, madeUp));
    await keep(await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Token ${token}` } }));
    await keep(await fetch(`${second.url}/teams/quiet/posts`, { headers: { "x-api-key": token } }));
    await keep(await fetch(`${second.url}/teams/another-team/posts`, { headers: { "x-api-key": token } }));
    await keep(await fetch(`${second.url}/teams/quiet/posts`, { headers: { "x-api-key": madeUp } }));
    await keep(await fetch(`${second.url}/mcp`, { method: "POST", headers: { ...json, authorization: `Bearer ${madeUp}` }, body: "{}" }));
    const client = await connectMcp(second.url, token);
    try {
      expect((await callTool(client, "create_post", { content: "over MCP" })).isError).toBeFalsy();
      const refused = await callTool(client, "create_post", { content: "" });
      bodies.push(refused.text);
    } finally {
      await client.close();
    }
    // Log lines are written in order: once a last request's line is out, every earlier one is too.
    const last = await fetch(`${second.url}/healthz`);
    await second.waitForOutput(`"requestId":"${last.headers.get("x-request-id")}"`);

    expect(bodies.map((body) => body.slice(0, 3))).toEqual(expect.arrayContaining(["201", "400", "401", "403"]));
    for (const secret of [token.slice(3), madeUp.slice(3)]) {
      for (const body of bodies) expect(body).not.toContain(secret);
      expect(second.output()).not.toContain(secret);
    }
    expect(second.output()).toContain('"path":"/mcp"');
  });
});

describe.each(databaseKinds)("tokens on %s", (kind) => {
  let server: TestServer;
  let team: Awaited<ReturnType<TestServer["team"]>>;
  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off" });
    team = await server.team("scoped");
  }, 120_000);
  afterAll(() => server?.close());

  it("a token shows once, on the page the creating form redirects to; a reload, another session and later pages show only its prefix", async () => {
    const cookie = await server.engineer(team, "ada");
    const otherSession = await server.engineer(team, "bea");
    const csrf = await csrfTokenOf(server, cookie);
    const created = await postForm(server, "/admin/agents", { _csrf: csrf, name: "shown-once", scopes: "read" }, { cookie });
    expect(created.status).toBe(303);
    expect(await created.text()).not.toMatch(/bb_[a-z2-7]{52}/);
    const view = created.headers.get("location")!;
    expect(view).toMatch(/^\/admin\/agents\/created\/[a-z2-7]{52}$/);
    const held = await server.database.db.select().from(oneTimeViews);
    expect(held).toHaveLength(1);

    const stranger = await fetch(`${server.url}${view}`, { headers: { cookie: otherSession } });
    expect(stranger.status).toBe(404);
    const shown = await fetch(`${server.url}${view}`, { headers: { cookie } });
    expect(shown.status).toBe(200);
    expect(shown.headers.get("cache-control")).toBe("no-store");
    const token = /bb_[a-z2-7]{52}/.exec(await shown.text())?.[0];
    expect(token).toBeDefined();
    // Held sealed: the row never had the token in clear, and it is gone once shown.
    expect(JSON.stringify(held)).not.toContain(token!.slice(3));
    expect(await server.database.db.select().from(oneTimeViews)).toEqual([]);
    const reload = await fetch(`${server.url}${view}`, { headers: { cookie } });
    expect(reload.status).toBe(404);
    const reloaded = await reload.text();
    expect(reloaded).toContain("shown once");
    expect(reloaded).not.toContain(token!.slice(3));
    for (const path of ["/admin", "/agents", "/agents/shown-once", "/"]) {
      const page = await (await fetch(`${server.url}${path}`, { headers: { cookie } })).text();
      expect(page).not.toContain(token!.slice(3));
      if (path === "/admin" || path === "/agents/shown-once") expect(page).toContain(token!.slice(0, 11));
    }
    const me = await (await server.as(token!, "/api/v1/me")).text();
    expect(me).not.toContain(token!.slice(3));
  });

  it("a read-only token reads through REST, the compat API and MCP, but writes through none", async () => {
    const reader = await server.agent(team, "reader", { scopes: ["read"] });
    const writer = await server.agent(team, "writer");

    expect((await server.as(reader, "/api/v1/posts")).status).toBe(200);
    const rest = await server.as(reader, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "via REST" }) });
    expect(rest.status).toBe(403);
    expect((await rest.json()).error.message).toBe("This token lacks the 'write' scope.");

    const compat = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}/teams/scoped${path}`, { ...init, headers: { "x-api-key": reader, "content-type": "application/json" } });
    expect((await compat("/posts")).status).toBe(200);
    const compatPost = await compat("/posts", { method: "POST", body: JSON.stringify({ author: "reader", content: "via compat" }) });
    expect(compatPost.status).toBe(403);
    const compatJournal = await compat("/journal/entries", { method: "POST", body: JSON.stringify({ content: "private note" }) });
    expect(compatJournal.status).toBe(403);

    const client = await connectMcp(server.url, reader);
    try {
      expect((await callTool(client, "read_posts")).isError).toBeFalsy();
      const post = await callTool(client, "create_post", { content: "via MCP" });
      expect(post.isError).toBe(true);
      expect(post.text).toContain("lacks the 'write' scope");
      const thought = await callTool(client, "process_thoughts", { feelings: "via MCP" });
      expect(thought.isError).toBe(true);
    } finally {
      await client.close();
    }

    const feed = await (await server.as(writer, "/api/v1/posts")).json();
    expect(feed.posts).toEqual([]);
    const journal = await (await fetch(`${server.url}/teams/scoped/journal/entries`, { headers: { "x-api-key": reader } })).json();
    expect(journal.total_count).toBe(0);
  });
});

describe("secret comparisons", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  // Every TypeScript file of the server and the MCP door, at any depth.
  const sources = ["server", "mcp"].flatMap((folder) =>
    readdirSync(join(root, folder), { recursive: true, encoding: "utf8" })
      .filter((name) => /\.tsx?$/.test(name))
      .map((name) => ({ path: `${folder}/${name}`, text: readFileSync(join(root, folder, name), "utf8") })),
  );
  const source = (path: string) => sources.find((file) => file.path === path)!.text;

  it("no secret is compared with === or !==: they are looked up by hash or compared with timingSafeEqual", () => {
    const secretOperand = /(?:token|secret|password|csrf|hash|expected|sent)\w*$/i;
    const offenders = sources.flatMap(({ path, text }) =>
      [...text.matchAll(/([\w.]+)\s*[!=]==\s*([\w.]+)/g)]
        .filter(([, left, right]) => ![left, right].some((operand) => operand === "undefined" || operand === "null"))
        .filter(([, left, right]) => [left!, right!].some((operand) => secretOperand.test(operand) && !operand.endsWith(".length")))
        .map(([comparison]) => `${path}: ${comparison}`),
    );
    expect(offenders).toEqual([]);
  });

  it("agent tokens, sessions and invites are found by the SHA-256 of what was sent; CSRF tokens and passwords by timingSafeEqual", () => {
    expect(source("server/domain/agents.ts")).toMatch(/const hash = hashSecret\(token\)[\s\S]*where\(eq\(agentTokens\.hash, hash\)\)/);
    expect(source("server/domain/users.ts")).toMatch(/const id = hashSecret\(token\)/);
    expect(source("server/domain/users.ts")).toMatch(/eq\(invites\.id, hashSecret\(input\.secret\)\)/);
    expect(source("server/http/web/session.ts")).toMatch(/timingSafeEqual\(sentBytes, expectedBytes\)/);
    expect(source("server/domain/passwords.ts")).toMatch(/timingSafeEqual\(actual, expected\)/);
  });
});
