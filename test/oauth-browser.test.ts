import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { and, eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentTokens, auditLog } from "../server/db/schema/index.ts";
import { forgetCachedTokens } from "../server/domain/agents.ts";
import type { Team } from "../server/domain/teams.ts";
import { hashSecret } from "../server/domain/tokens.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { callTool } from "./support/mcp.ts";
import { ScriptedOAuthProvider, startClientSite, type ClientSite } from "./support/oauth.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("an OAuth-only MCP client, approved by an engineer in Chromium, on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let site: ClientSite;
  let desktop: ScriptedOAuthProvider;
  const clients: Client[] = [];

  beforeAll(async () => {
    [server, browser, site] = await Promise.all([
      startTestServer(kind, { BOTBOARD_OAUTH_LOCAL_CLIENTS: "true" }),
      chromium(),
      startClientSite("Desk Client"),
    ]);
    team = await server.team("oat");
    await server.engineer(team, "ann");
    ({ context, page, watch } = await openPage(browser));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await context?.close();
    await server?.close();
    await site?.close();
  });

  const mcpUrl = () => new URL(`${server.url}/mcp`);

  /** Connects the way an MCP client does: on a 401 it runs OAuth, opens the browser, and tries again after the callback. */
  async function connectThroughConsent(provider: ScriptedOAuthProvider, approve: (page: Page) => Promise<void>): Promise<Client> {
    const first = new Client({ name: "oauth-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
    await expect(first.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl?.href).toMatch(`${server.url}/oauth/authorize?`);
    await page.goto(provider.authorizationUrl!.href);
    await approve(page);
    await page.waitForURL((url) => url.href.startsWith(site.redirectUri));
    const callback = new URL(page.url());
    expect(callback.searchParams.get("state")).toBe(provider.authorizationUrl!.searchParams.get("state"));
    expect(callback.searchParams.get("iss")).toBe(server.url);
    await transport.finishAuth(callback.searchParams.get("code")!);
    const client = new Client({ name: "oauth-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
    clients.push(client);
    return client;
  }

  it("a client named by its metadata document is approved as a new agent after sign-in, then posts and reads as that agent", async () => {
    desktop = new ScriptedOAuthProvider(site.redirectUri, "Desk Client", site.clientId);
    const bob = await server.agent(team, "bob");
    const client = await connectThroughConsent(desktop, async (page) => {
      await page.waitForURL(/\/login\?next=/);
      await page.getByLabel("Username").fill("ann");
      await page.getByLabel("Password").fill("correct horse battery");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/oauth\/authorize\?/);
      await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Connect Desk Client to Botboard?");
      const facts = await page.locator(".client-facts").textContent();
      expect(facts).toContain(site.clientId);
      expect(facts).toContain(site.redirectUri);
      await screenshotBothSchemes(page, `oauth-consent-${kind}`);
      await page.getByLabel("New agent's name").fill("desk");
      await page.getByRole("button", { name: "Approve" }).click();
    });
    expect(desktop.savedTokens?.access_token).toMatch(/^bb_/);
    expect(desktop.savedTokens?.refresh_token).toMatch(/^bbr_/);
    expect(site.documentFetches).toBeGreaterThanOrEqual(2);

    const login = await callTool(client, "login", {});
    expect(login.structuredContent).toMatchObject({ name: "desk", team: { slug: "oat" } });
    await callTool(client, "read_new", { limit: 100 });
    await server.as(bob, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "bob says hello to the desk" }) });
    await server.settled();
    const unread = await callTool(client, "read_new", { limit: 100 });
    expect(unread.text).toContain("bob says hello to the desk");
    const posted = await callTool(client, "create_post", { content: "posted through OAuth" });
    expect(posted.isError).toBeFalsy();
    const feed = (await (await server.as(bob, "/api/v1/posts?author=desk")).json()) as { posts: { content: string }[] };
    expect(feed.posts.map((post) => post.content)).toEqual(["posted through OAuth"]);

    const audit = await server.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.teamId, team.id), eq(auditLog.action, "oauth.approved")));
    expect(audit).toMatchObject([
      { actorName: "ann", target: "desk", details: { client: "Desk Client", clientId: site.clientId, scopes: ["read", "write"] } },
    ]);
    expect(watch.problems).toEqual([]);
  });

  it("an expired access token is refused, and the client refreshes it on its own", async () => {
    const expired = desktop.savedTokens!;
    await server.database.db
      .update(agentTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(agentTokens.hash, hashSecret(expired.access_token)));
    forgetCachedTokens();
    const refused = await server.as(expired.access_token, "/mcp", { method: "POST", body: "{}" });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("expired");

    const client = new Client({ name: "oauth-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: desktop }));
    clients.push(client);
    expect((await callTool(client, "login", {})).structuredContent).toMatchObject({ name: "desk" });
    expect(desktop.savedTokens!.access_token).not.toBe(expired.access_token);
    expect(desktop.savedTokens!.refresh_token).not.toBe(expired.refresh_token);

    // The agent's page lists the client's live token only, not the hourly ones that expired.
    await page.goto(`${server.url}/agents/desk`);
    const rows = page.locator("table").last().locator("tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("(OAuth client)");
    expect(await rows.first().textContent()).toContain("live");
  });

  it("a client that registers dynamically is approved for an existing agent with read only, and cannot post", async () => {
    const registered = new ScriptedOAuthProvider(site.redirectUri, "Code Editor");
    const client = await connectThroughConsent(registered, async (page) => {
      await page.waitForURL(/\/oauth\/authorize\?/);
      await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Connect Code Editor to Botboard?");
      await page.getByLabel("Agent identity").selectOption("bob");
      await page.getByRole("checkbox", { name: "write" }).uncheck();
      await page.getByRole("button", { name: "Approve" }).click();
    });
    expect(String((await registered.clientInformation())?.client_id)).toMatch(/^bbc_/);
    expect((await callTool(client, "login", {})).structuredContent).toMatchObject({ name: "bob" });
    const refused = await callTool(client, "create_post", { content: "should not land" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain("'write' scope");
  });

  it("a hostile registration's consent page shows, inside the panel, the host the browser is sent to as the browser reads it", async () => {
    const lookalike = "https://botb\u043Eard.example"; // a Cyrillic o
    const redirectUri = `${lookalike}/${"a".repeat(300)}/cb`;
    const name = `Botboard <img src=x onerror=alert(1)> ${"W".repeat(60)}`;
    const registered = await fetch(`${server.url}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri] }),
    });
    const { client_id } = (await registered.json()) as { client_id: string };
    const authorization = new URLSearchParams({
      client_id,
      redirect_uri: redirectUri,
      response_type: "code",
      code_challenge: "a".repeat(43),
      code_challenge_method: "S256",
    });
    const admin = await openPage(browser, { cookie: await server.engineer(team, "hal"), url: server.url });
    const page = admin.page;
    await page.goto(`${server.url}/oauth/authorize?${authorization}`);
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe(`Connect ${name} to Botboard?`);
    await expect(page.locator(".client-facts dd").first().textContent()).resolves.toBe(`${name} (the name it gives itself)`);
    const sentTo = page.locator(".client-facts dt:has-text('Sends you back to') + dd");
    await expect(sentTo.locator(".client-host").textContent()).resolves.toBe("xn--botbard-djg.example");
    await expect(page.locator(".client-facts").textContent()).resolves.not.toContain(lookalike);
    const overflow = await page.evaluate(() => {
      const panel = document.querySelector(".panel")!.getBoundingClientRect();
      const facts = [...document.querySelectorAll(".client-facts dd")].map((dd) => dd.getBoundingClientRect());
      return { page: document.documentElement.scrollWidth - window.innerWidth, facts: facts.filter((dd) => dd.right > panel.right).length };
    });
    expect(overflow).toEqual({ page: 0, facts: 0 });
    await screenshotBothSchemes(page, `oauth-consent-hostile-${kind}`);
    expect(admin.watch.problems).toEqual([]);
    await admin.context.close();
  });

  it("Deny sends access_denied back to the client and is audited", async () => {
    const provider = new ScriptedOAuthProvider(site.redirectUri, "Desk Client", site.clientId);
    await expect(
      new Client({ name: "t", version: "1" }).connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider })),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    await page.goto(provider.authorizationUrl!.href);
    await page.getByRole("button", { name: "Deny" }).click();
    await page.waitForURL((url) => url.href.startsWith(site.redirectUri));
    const callback = new URL(page.url());
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("code")).toBeNull();
    const denied = await server.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.teamId, team.id), eq(auditLog.action, "oauth.denied")));
    expect(denied).toHaveLength(1);
  });

  it("the admin revokes the connection on the admin page: the next call and the refresh token are refused", async () => {
    const tokens = desktop.savedTokens!;
    await page.goto(`${server.url}/admin`);
    const panel = page.locator("section", { has: page.getByRole("heading", { name: "OAuth clients" }) });
    expect(await panel.textContent()).toContain("Desk Client as desk");
    // bob's own token is listed with the other tokens; the token Code Editor holds as bob goes with its approval.
    const tokenPanel = page.locator("section", { has: page.getByRole("heading", { name: "Revoke tokens" }) });
    expect(await tokenPanel.getByRole("listitem").count()).toBe(1);
    expect(await tokenPanel.textContent()).toContain("bob");
    await screenshotBothSchemes(page, `oauth-admin-${kind}`);
    watch.acceptDialogs = true;
    await page.getByRole("button", { name: "Revoke Desk Client as desk" }).click();
    await page.waitForURL(`${server.url}/admin#oauth-connections`);
    expect(await panel.textContent()).not.toContain("Desk Client as desk");

    const refused = await server.as(tokens.access_token, "/mcp", { method: "POST", body: "{}" });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("revoked");
    const refresh = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: site.clientId }),
    });
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: "invalid_grant" });
    const revoked = await server.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.teamId, team.id), eq(auditLog.action, "oauth.revoked")));
    expect(revoked).toMatchObject([{ actorName: "ann", target: "desk" }]);
  });
});
