import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

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
});
