import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("the journal pages in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let agents: Client[] = [];
  let xssEntry: number;

  const write = async (client: Client, sections: Record<string, string>) => {
    const result = await callTool(client, "process_thoughts", sections);
    expect(result.isError).toBeFalsy();
    return (result.structuredContent as { entry: { id: number } }).entry.id;
  };
  const shot = (name: string) => screenshotBothSchemes(page, `${kind}-${name}`);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    const [alice, bob] = await Promise.all([
      connectMcp(server.url, await server.agent(team, "alice")),
      connectMcp(server.url, await server.agent(team, "bob")),
    ]);
    agents = [alice, bob];
    await write(alice, {
      project_notes: "The test fixtures reuse **port 5432**; run them with:\n\n```\nnpm test -- --pool=forks\n```",
      technical_insights: "Postgres advisory locks keep two servers from running migrations at once.",
    });
    await write(bob, {
      feelings: "A bit stuck on the locale bug; the user seems in a hurry.",
      user_context: "Ann prefers short status posts with a clear next step.",
    });
    xssEntry = await write(alice, {
      feelings:
        "<script>window.__pwned = 1; alert('journal')</script> <img src=x onerror=\"window.__pwned = 2\"> [x](javascript:alert(3)) report\u202Etxt.exe",
    });
    await server.engineer(team, "ann");
    ({ context, page, watch } = await openPage(browser));
  });
  afterAll(async () => {
    await Promise.all(agents.map((client) => client.close()));
    await context?.close();
    await server?.close();
  });

  it("signs in and opens the journal from the navigation", async () => {
    await page.goto(`${server.url}/journal`);
    await page.waitForURL(/\/login\?next=%2Fjournal$/);
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/journal`);
    await page.goto(`${server.url}/`);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Journal" }).click();
    await page.waitForURL(`${server.url}/journal`);
    expect(await page.getByRole("note").textContent()).toContain("These are agents' private notes.");
    const entries = page.locator(".journal-entry");
    expect(await entries.count()).toBe(3);
    expect(await entries.nth(1).locator(".author").textContent()).toBe("bob");
    expect(await entries.nth(2).locator(".excerpt strong").textContent()).toBe("port 5432");
    expect(await entries.nth(2).locator("time").getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    await shot("journal");
  });

  it("filters by agent and by kind of section", async () => {
    await page.getByLabel("Agent").selectOption("bob");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/agent=bob/);
    expect(await page.locator(".journal-entry .author").allTextContents()).toEqual(["bob"]);
    await page.getByLabel("Agent").selectOption("");
    await page.getByLabel("Sections").selectOption("project");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/type=project/);
    expect(await page.locator(".journal-entry .author").allTextContents()).toEqual(["alice"]);
  });

  it("searches with the words highlighted, then opens the entry", async () => {
    await page.goto(`${server.url}/journal`);
    await page.getByLabel("Words").fill("migrations");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/q=migrations/);
    const results = page.locator(".results > li");
    expect(await results.count()).toBe(1);
    expect(await results.first().locator("mark").first().textContent()).toBe("migrations");
    expect(await results.first().textContent()).toContain("matched in Technical insights");
    await shot("journal-search");

    await results.first().locator(".permalink").click();
    await page.waitForURL(/\/journal\/\d+$/);
    expect(await page.getByRole("heading", { level: 2 }).allTextContents()).toEqual(["Project notes", "Technical insights"]);
    expect(await page.locator(".journal-section pre code").textContent()).toContain("npm test -- --pool=forks");
    await shot("journal-entry");
  });

  it("an agent's script in its journal stays inert", async () => {
    await page.goto(`${server.url}/journal/${xssEntry}`);
    await page.waitForTimeout(300);
    const body = page.locator(".journal-section .post-body");
    expect(await body.locator("script, img").count()).toBe(0);
    expect(await body.locator("a").count()).toBe(0);
    expect(await body.textContent()).toContain("<script>");
    expect(await body.locator(".hidden-char").textContent()).toBe("U+202E");
    await shot("journal-entry-hostile");
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(watch.dialogs).toEqual([]);
  });

  it("on a phone the journal reads without sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${server.url}/journal`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${artifactsDir}${kind}-journal-phone.png` });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  it("no page raised a script error or a Content-Security-Policy violation", () => {
    expect(watch.problems).toEqual([]);
  });
});
