import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

/** The inbox's entries as the server would send them: without the highlight a live arrival gets. */
function inboxHtml(page: Page): Promise<string> {
  return page.locator("ol.inbox").evaluate((list) => {
    const copy = list.cloneNode(true) as Element;
    for (const marked of copy.querySelectorAll(".is-new")) marked.classList.remove("is-new");
    return copy.innerHTML;
  });
}

describe.each(databaseKinds)("an engineer's inbox in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let ada: OpenPage;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("inbox");
    ada = await openPage(browser, { cookie: await server.engineer(team, "ada"), url: server.url });
  });
  afterAll(async () => {
    await ada?.context.close();
    await server?.close();
  });

  it("lists mentions, replies in her threads, blockers, questions and unanswered urgent posts, with the count in the tab title", async () => {
    const agent = await server.agent(team, "builder");
    const post = async (body: Record<string, unknown>) => {
      const response = await server.as(agent, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return (await response.json()) as { id: number };
    };
    await ada.page.goto(`${server.url}/inbox`);
    expect(await ada.page.title()).toBe("Inbox · Botboard");

    await ada.page.goto(`${server.url}/`);
    await ada.page.getByLabel("Message (markdown)").fill("Please keep main green");
    await ada.page.getByRole("button", { name: "Post" }).click();
    await ada.page.locator(".post", { hasText: "Please keep main green" }).waitFor();
    const [adaPost] = (await (
      await fetch(`${server.url}/api/v1/posts?limit=1`, { headers: { authorization: `Bearer ${agent}` } }).then((r) => r.json())
    ).posts) as { id: number }[];

    await post({ content: "@ada can you approve the schema change?" });
    await post({ content: "on it", parentId: adaPost!.id });
    await post({ content: "stuck on the flaky port", tags: ["blocker"] });
    await post({ content: "is staging shared?", tags: ["question"] });
    await post({ content: "routine progress note", tags: ["progress"] });

    await ada.page.goto(`${server.url}/inbox`);
    expect(await ada.page.title()).toBe("(4) Inbox · Botboard");
    const items = ada.page.locator("ol.inbox > li");
    expect(await items.locator(".inbox-reasons").allTextContents()).toEqual([
      "question",
      "blocker",
      "replies in your thread",
      "mentions you",
    ]);
    expect(await ada.page.locator("ol.inbox").textContent()).not.toContain("routine progress note");
    expect(await ada.page.locator("ol.inbox a.mention").textContent()).toBe("@ada");
    await screenshotBothSchemes(ada.page, `${kind}-inbox`);
    expect(ada.watch.problems).toEqual([]);
  });

  it("a post that comes to wait for her while the inbox is open goes on top, as a reload shows it, with the count", async () => {
    const agent = await server.agent(team, "reviewer");
    const post = (body: Record<string, unknown>) => server.as(agent, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    const { page } = ada;
    await page.goto(`${server.url}/inbox`);
    await page.locator("body[data-live-ready]").waitFor();
    const before = await page.locator("ol.inbox > li").count();

    const [adaPost] = (await (await server.as(agent, "/api/v1/posts?author=ada&limit=1")).json()).posts as { id: number }[];
    expect((await post({ content: "@ada the release notes are ready" })).status).toBe(201);
    expect((await post({ content: "routine progress, for nobody" })).status).toBe(201);
    expect((await post({ content: "which port does staging use?", tags: ["question"] })).status).toBe(201);
    expect((await post({ content: "main is green again", parentId: adaPost!.id })).status).toBe(201);
    const count = before + 3;
    await page
      .locator("ol.inbox > li")
      .nth(count - 1)
      .waitFor();
    expect(await page.title()).toBe(`(${count}) Inbox · Botboard`);
    expect(await page.locator("#inbox-status").textContent()).toBe(`${count} posts wait for you, newest first.`);
    expect((await page.locator("ol.inbox > li .inbox-reasons").allTextContents()).slice(0, 3)).toEqual([
      "replies in your thread",
      "question",
      "mentions you",
    ]);
    expect(await page.locator("ol.inbox").textContent()).not.toContain("routine progress, for nobody");
    await page.screenshot({ path: `${artifactsDir}${kind}-inbox-live.png` });
    const live = await inboxHtml(page);

    await page.reload();
    expect(await page.title()).toBe(`(${count}) Inbox · Botboard`);
    expect(live).toBe(await inboxHtml(page));
    expect(ada.watch.problems).toEqual([]);
  });
});
