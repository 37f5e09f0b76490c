import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const chromium = chromiumForThisFile();

type Shown = { title: string; body: string | undefined };

/** Records every Notification the page constructs (and still constructs it), and counts the live posts that arrive. */
function recordNotifications() {
  const shown: { title: string; body: string | undefined }[] = [];
  const recorder = window as unknown as { shownNotifications: typeof shown; livePosts: number };
  recorder.shownNotifications = shown;
  recorder.livePosts = 0;
  // The page announces each live post on its body; captured at the window, since it does not bubble.
  window.addEventListener("botboard:post", () => recorder.livePosts++, true);
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title: string, options?: NotificationOptions) {
      shown.push({ title, body: options?.body });
      super(title, options);
    }
  }
  window.Notification = Recorded;
}

const livePostsOn = (page: Page) => page.evaluate(() => (window as unknown as { livePosts: number }).livePosts);
const shownOn = (page: Page) => page.evaluate(() => (window as unknown as { shownNotifications: Shown[] }).shownNotifications);

describe.each(databaseKinds)("browser notifications in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let ada: OpenPage;
  let builder: string;

  const agentPost = async (body: Record<string, unknown>) => {
    const response = await server.as(builder, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number };
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("notify");
    builder = await server.agent(team, "builder");
    ada = await openPage(browser, { cookie: await server.engineer(team, "ada"), url: server.url });
    await ada.context.grantPermissions(["notifications"], { origin: server.url });
    await ada.context.addInitScript(recordNotifications);
  });
  afterAll(async () => {
    await ada?.context.close();
    await server?.close();
  });

  it("after opting in, a live mention, a reply in her thread and an urgent post each show a notification, as text", async () => {
    const { page } = ada;
    await page.goto(`${server.url}/`);
    await page.getByLabel("Message (markdown)").fill("Starting the release");
    await page.getByRole("button", { name: "Post" }).click();
    await page.locator(".post", { hasText: "Starting the release" }).waitFor();
    const adaPost = await page.locator(".post", { hasText: "Starting the release" }).getAttribute("data-post-id");

    const toggle = page.getByRole("button", { name: "Turn on notifications" });
    await toggle.click();
    await page.getByRole("button", { name: "Turn off notifications" }).waitFor();
    await page.locator("body[data-live-ready]").waitFor();

    await agentPost({ content: "routine progress, for nobody" });
    await agentPost({ content: "@ada <img src=x onerror=alert(1)> is the **fix** ok?" });
    await agentPost({ content: "tagged along", parentId: Number(adaPost) });
    const kim = await server.engineer(team, "kim");
    const urgent = await postForm(
      server,
      "/posts",
      { content: "Stop merging: main is broken", urgent: "on", _csrf: await csrfTokenOf(server, kim) },
      { cookie: kim },
    );
    expect(urgent.status).toBe(303);

    await expect.poll(async () => (await shownOn(page)).length).toBe(3);
    expect(await shownOn(page)).toEqual([
      { title: "builder mentions you", body: "@ada <img src=x onerror=alert(1)> is the **fix** ok?" },
      { title: "builder replied in your thread", body: "tagged along" },
      { title: "kim posted urgently", body: "Stop merging: main is broken" },
    ]);
    expect(ada.watch.dialogs).toEqual([]);
    expect(ada.watch.problems).toEqual([]);
    await screenshotBothSchemes(page, `${kind}-feed-notifications-on`);
  });

  it("the inbox page offers the same switch, remembers it, and notifies; turned off, it shows nothing", async () => {
    const { page } = ada;
    await page.goto(`${server.url}/inbox`);
    await page.getByRole("button", { name: "Turn off notifications" }).waitFor();
    await page.locator("body[data-live-ready]").waitFor();
    await agentPost({ content: "@ada one more thing" });
    await expect.poll(async () => (await shownOn(page)).map((shown) => shown.body)).toEqual(["@ada one more thing"]);

    await page.getByRole("button", { name: "Turn off notifications" }).click();
    await page.getByRole("button", { name: "Turn on notifications" }).waitFor();
    const before = await livePostsOn(page);
    await agentPost({ content: "@ada while notifications are off" });
    await expect.poll(() => livePostsOn(page)).toBe(before + 1);
    await page.getByRole("button", { name: "Turn on notifications" }).click();
    await agentPost({ content: "@ada switched on again" });
    await expect.poll(() => livePostsOn(page)).toBe(before + 2);
    expect((await shownOn(page)).map((shown) => shown.body)).toEqual(["@ada one more thing", "@ada switched on again"]);
    expect(ada.watch.problems).toEqual([]);
  });
});
