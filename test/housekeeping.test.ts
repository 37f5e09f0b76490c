import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpSessions, oneTimeViews, rateLimitBuckets, sessions, users } from "../server/db/schema/index.ts";
import { sweepStaleRows } from "../server/domain/housekeeping.ts";
import { holdForOneView, takeOneTimeView } from "../server/domain/one-time-views.ts";
import { hashSecret } from "../server/domain/tokens.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

function sessionIdOf(client: Client): string {
  return (client.transport as StreamableHTTPClientTransport).sessionId!;
}

describe.each(databaseKinds)("sweeping stale rows (%s)", (kind) => {
  let server: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
  });

  async function pickNameClient(token: string, name: string): Promise<Client> {
    const client = await connectMcp(server.url, token);
    clients.push(client);
    await callTool(client, "login", { agent_name: name });
    return client;
  }

  const lastUsedOf = async (client: Client) =>
    (
      await server.database.db
        .select()
        .from(mcpSessions)
        .where(eq(mcpSessions.id, sessionIdOf(client)))
    )[0]?.lastUsedAt;

  it("drops expired engineer sessions, unopened one-time views, month-idle MCP sessions and full rate-limit buckets, and nothing in use", async () => {
    const { db } = server.database;
    const team = await server.team("sweep");
    const token = await server.agent(team, "crew", { pickName: true });
    const keptCookie = await server.engineer(team, "stays");
    await server.engineer(team, "left");
    // Signed in again through the door, which draws on the sign-in's rate-limit buckets: they are in use.
    const signIn = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "left", password: "correct horse battery" }),
    });
    expect(signIn.status).toBe(200);
    await db
      .update(sessions)
      .set({ expiresAt: sql`now() - interval '1 hour'` })
      .where(eq(sessions.userId, sql`(select ${users.id} from ${users} where ${users.username} = 'left')`));

    const keeper = await pickNameClient(token, "keeper");
    const idler = await pickNameClient(token, "idler");
    await db
      .update(mcpSessions)
      .set({ lastUsedAt: sql`now() - interval '2 days'` })
      .where(eq(mcpSessions.id, sessionIdOf(keeper)));
    await db
      .update(mcpSessions)
      .set({ lastUsedAt: sql`now() - interval '31 days'` })
      .where(eq(mcpSessions.id, sessionIdOf(idler)));
    await callTool(keeper, "read_posts", {});
    expect(Date.now() - (await lastUsedOf(keeper))!.getTime()).toBeLessThan(60_000);

    const keptSessionToken = keptCookie.split("=")[1]!;
    const staleView = await holdForOneView(db, keptSessionToken, { held: "stale" });
    const freshView = await holdForOneView(db, keptSessionToken, { held: "fresh" });
    await db
      .update(oneTimeViews)
      .set({ expiresAt: sql`now() - interval '1 minute'` })
      .where(eq(oneTimeViews.id, hashSecret(staleView)));

    await db.insert(rateLimitBuckets).values({ key: "token:long-gone", tokens: 3, updatedAt: sql`now() - interval '1 day'` });
    const bucketsInUse = (await db.select().from(rateLimitBuckets)).filter((bucket) => bucket.key !== "token:long-gone");
    expect(bucketsInUse.length).toBeGreaterThan(0);

    await sweepStaleRows(db, server.config);

    const userSessions = await db.select({ username: users.username }).from(sessions).innerJoin(users, eq(users.id, sessions.userId));
    expect(userSessions.map((row) => row.username)).toEqual(["stays"]);
    expect(await lastUsedOf(idler)).toBeUndefined();
    expect(await lastUsedOf(keeper)).toBeDefined();
    expect(await db.select().from(oneTimeViews)).toHaveLength(1);
    expect(await takeOneTimeView(db, keptSessionToken, staleView)).toBeUndefined();
    expect(await takeOneTimeView(db, keptSessionToken, freshView)).toEqual({ held: "fresh" });
    const bucketKeys = (await db.select().from(rateLimitBuckets)).map((bucket) => bucket.key);
    expect(bucketKeys).not.toContain("token:long-gone");
    expect(bucketKeys).toEqual(expect.arrayContaining(bucketsInUse.map((bucket) => bucket.key)));

    // What survived still works: the engineer's page, and the agent's chosen name.
    const page = await fetch(`${server.url}/`, { headers: { cookie: keptCookie }, redirect: "manual" });
    expect(page.status).toBe(200);
    const posted = await callTool(keeper, "create_post", { content: "still here" });
    expect((posted.structuredContent as { post: { author: string } }).post.author).toBe("crew/keeper");
  });
});
