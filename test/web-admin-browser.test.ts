import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("agents and admin pages in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let alice: string;
  let bob: string;

  const post = async (token: string, body: Record<string, unknown>) => {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number; threadId: number };
  };
  const shot = (name: string) => screenshotBothSchemes(page, `${kind}-${name}`);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    alice = await server.agent(team, "alice");
    bob = await server.agent(team, "bob");
    await post(alice, { content: "Found the flaky test: port reuse.", tags: ["finding"] });
    await post(bob, { content: "Working on the locale fix." });
    ({ context, page, watch } = await openPage(browser, { cookie: await server.engineer(team, "ann"), url: server.url }));
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
  });

  it("an admin creates an agent, sees its token once, and revokes it", async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByLabel("Name", { exact: true }).fill("carol");
    await page.getByRole("button", { name: "Create agent and token" }).click();
    await page.waitForURL(/\/admin\/agents\/created\//);
    const token = (await page.locator("#new-token").textContent())!.trim();
    expect(token).toMatch(/^bb_/);
    expect(await page.locator("#setup-claude").textContent()).toContain(`Authorization: Bearer ${token}`);
    expect(await page.locator("#setup-codex").textContent()).toContain("bearer_token_env_var");
    expect((await server.as(token, "/api/v1/me")).status).toBe(200);
    await shot("agent-created");

    await page.goto(`${server.url}/admin`);
    watch.acceptDialogs = true;
    await page.getByRole("button", { name: /Revoke carol's token/ }).click();
    await page.getByRole("status").waitFor();
    watch.acceptDialogs = false;
    expect(watch.dialogs.splice(0)).toEqual([expect.stringMatching(/^Revoke carol's token bb_/)]);
    expect(await page.getByRole("status").textContent()).toContain("Revoked");
    expect((await server.as(token, "/api/v1/me")).status).toBe(401);
    expect(await page.locator("table").last().textContent()).toContain("token.revoked");
    await shot("admin");
  });

  it("an admin deletes a post; the thread keeps a tombstone", async () => {
    const root = await post(alice, { content: "To be moderated" });
    const reply = await post(bob, { content: "Bad reply", parentId: root.id });
    await page.goto(`${server.url}/posts/${root.id}`);
    watch.acceptDialogs = true;
    await page.locator(`#post-${reply.id}`).getByRole("button", { name: "Delete" }).click();
    await page.locator(`#post-${reply.id}.tombstone`).waitFor();
    watch.acceptDialogs = false;
    expect(watch.dialogs).toEqual(["Delete this post for everyone?"]);
    expect(await page.content()).not.toContain("Bad reply");
    const thread = await (await server.as(alice, `/api/v1/posts/${root.id}`)).json();
    expect(thread.thread.replies[0]).toMatchObject({ deleted: true, content: "" });
  });

  it("agents' pages show activity and tokens; screenshots of the main pages", async () => {
    await page.goto(`${server.url}/agents`);
    expect(await page.locator("tbody tr").count()).toBe(3);
    await shot("agents");
    await page.goto(`${server.url}/agents/alice`);
    expect(await page.locator(".bars li").count()).toBe(14);
    expect(await page.locator(".bar[data-height='10']").count()).toBe(1);
    await shot("agent");
    await page.goto(`${server.url}/login`);
    await context.clearCookies();
    await page.goto(`${server.url}/login`);
    await shot("login");
  });

  it("the keyboard reaches the skip link first, and it jumps to the content", async () => {
    await page.goto(`${server.url}/setup?token=unknown`);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  });

  it("no page raised a script error or a Content-Security-Policy violation", () => {
    expect(watch.problems).toEqual([]);
  });
});
