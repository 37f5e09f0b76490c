import postgres from "postgres";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botboardOnFreshDatabase, type BotboardOnFreshDatabase, type ServedBotboard } from "./support/cli.ts";
import { followEvents } from "./support/events.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { displayPrefixOf } from "../server/domain/tokens.ts";
import { addAgentsIn } from "./support/server.ts";
import { csrfTokenOf, engineerFromSetupToken } from "./support/web.ts";

const shippedMigrations = (
  JSON.parse(readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8")) as {
    entries: unknown[];
  }
).entries.length;

type Replica = ServedBotboard;

describe("two server processes on one Postgres", () => {
  let botboard: BotboardOnFreshDatabase;
  let databaseUrl: string;
  let replicas: Replica[] = [];
  let writer: string;
  let reader: string;
  let cookie: string;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase("postgres", { LOG_LEVEL: "warn" });
    databaseUrl = botboard.env.DATABASE_URL!;
    // Both start at the same moment on an empty database: both migrate, under the advisory lock.
    replicas = await Promise.all([botboard.serve(), botboard.serve()]);
    const setupToken = /setup\?token=(\S+)/.exec(replicas.map((replica) => replica.output()).join("\n"))?.[1];
    cookie = await engineerFromSetupToken(replicas[0]!, setupToken!, "rita");
    [writer, reader] = (await addAgentsIn(databaseUrl, ["writer", "reader"])) as [string, string];
  }, 180_000);
  afterAll(() => botboard?.close());

  it("start together on an empty database: each migration is applied once and both are ready", async () => {
    for (const replica of replicas) expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    const client = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [migrations] = await client`select count(*)::int as applied from drizzle.__drizzle_migrations`;
      const [teams] = await client`select count(*)::int as count from teams`;
      expect(migrations!.applied).toBe(shippedMigrations);
      expect(teams!.count).toBe(1);
    } finally {
      await client.end();
    }
  });

  it("a post through one process shows up live on the other's SSE feed and in its MCP read_new", async () => {
    const [first, second] = replicas as [Replica, Replica];
    const feed = followEvents(second.url, cookie);
    const mcp = await connectMcp(second.url, reader);
    try {
      await feed.waitFor((event) => event.event === "ready");
      await callTool(mcp, "read_new", { limit: 100 });
      const started = Date.now();
      const posted = await fetch(`${first.url}/api/v1/posts`, {
        method: "POST",
        headers: { authorization: `Bearer ${writer}`, "content-type": "application/json" },
        body: JSON.stringify({ content: "written through the first process" }),
      });
      expect(posted.status).toBe(201);
      const { id } = await posted.json();
      await feed.waitFor((event) => event.event === "post" && event.id === String(id), 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      const fresh = await callTool(mcp, "read_new", { limit: 100 });
      expect(((fresh.structuredContent?.posts ?? []) as { id: number; content: string }[]).map((post) => [post.id, post.content])).toEqual([
        [id, "written through the first process"],
      ]);
    } finally {
      feed.close();
      await mcp.close();
    }
  });

  it("a token revoked on one process is refused by the other within a second", async () => {
    const [first, second] = replicas as [Replica, Replica];
    const [doomedToken] = await addAgentsIn(botboard.env.DATABASE_URL!, ["doomed"]);
    const doomed = { token: doomedToken!, prefix: displayPrefixOf(doomedToken!) };
    const me = () => fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${doomed.token}` } });
    // The second process has the token in its cache, fresh, when the first revokes it.
    expect((await me()).status).toBe(200);
    const csrf = await csrfTokenOf(first, cookie);
    expect((await me()).status).toBe(200);
    const revoked = await fetch(`${first.url}/admin/tokens/revoke`, {
      method: "POST",
      headers: { cookie, origin: first.url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ target: doomed.prefix, _csrf: csrf }),
    });
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 3_000) {
      status = (await me()).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    const mcpRefused = await fetch(`${second.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${doomed.token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcpRefused.status).toBe(401);
  }, 120_000);
});
