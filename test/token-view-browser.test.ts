import { and, eq, isNull } from "drizzle-orm";
import type { Browser, BrowserContext, Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agents, agentTokens } from "../server/db/schema/index.ts";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, type PageWatch } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("a new agent token's page in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("prg");
    ({ context, page, watch } = await openPage(browser, { cookie: await server.engineer(team, "ann"), url: server.url }));
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
  });

  const liveTokensOf = async (name: string) =>
    server.database.db
      .select({ prefix: agentTokens.prefix })
      .from(agentTokens)
      .innerJoin(agents, eq(agents.id, agentTokens.agentId))
      .where(and(eq(agents.teamId, team.id), eq(agents.name, name), isNull(agentTokens.revokedAt)));

  it("reload and Back after creating a token make no other token and never show it again", async () => {
    // Every page the browser received. Chromium forgets a body once its page is left, so each step
    // waits for the bodies read so far before it navigates again.
    const pages: Promise<string>[] = [];
    const onResponse = (response: Response) => {
      if (response.request().resourceType() === "document" && response.status() !== 303) pages.push(response.text());
    };
    const bodiesRead = () => Promise.all(pages);
    page.on("response", onResponse);

    await page.goto(`${server.url}/admin`);
    await bodiesRead();
    await page.getByLabel("Name", { exact: true }).fill("dora");
    await page.getByRole("button", { name: "Create agent and token" }).click();
    await page.waitForURL(/\/admin\/agents\/created\/[a-z2-7]+$/);
    const token = (await page.locator("#new-token").textContent())!.trim();
    expect(token).toMatch(/^bb_[a-z2-7]{52}$/);
    const shownAt = page.url();

    await bodiesRead();
    await page.reload();
    expect(page.url()).toBe(shownAt);
    expect(await page.locator("main").textContent()).toContain("This token was shown once");
    expect(await page.locator("#new-token").count()).toBe(0);

    await bodiesRead();
    await page.goBack();
    await page.waitForURL(`${server.url}/admin`);
    await bodiesRead();
    await page.goForward();
    await page.waitForURL(shownAt);
    expect(await page.content()).not.toContain(token);

    expect(await liveTokensOf("dora")).toHaveLength(1);
    page.off("response", onResponse);
    const bodies = await bodiesRead();
    expect(bodies.filter((body) => body.includes(token))).toHaveLength(1);
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    expect((await server.as(token, "/api/v1/me")).status).toBe(200);
  });

  it("revoking a token asks first; dismissing keeps it", async () => {
    await page.goto(`${server.url}/admin`);
    const [live] = await liveTokensOf("dora");
    const revoke = page.getByRole("button", { name: /Revoke dora's token/ });
    await revoke.click();
    expect(watch.dialogs).toEqual([`Revoke dora's token ${live!.prefix}…? Its next request is refused.`]);
    expect(await liveTokensOf("dora")).toHaveLength(1);

    watch.acceptDialogs = true;
    await revoke.click();
    await page.getByRole("status").waitFor();
    watch.acceptDialogs = false;
    expect(await page.getByRole("status").textContent()).toContain("Revoked");
    expect(await liveTokensOf("dora")).toHaveLength(0);
  });

  it("no page raised a script error or a Content-Security-Policy violation", () => {
    expect(watch.problems).toEqual([]);
  });
});
