import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPageForThisTest, screenshotBothSchemes } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

/** How long a hidden tab keeps its stream (views/assets/app.js). */
const hiddenStreamMs = 20_000;

/** A tab hidden or shown again, as the browser tells its page: headless Chromium shows every page. */
function showTab(page: Page, visible: boolean): Promise<void> {
  return page.evaluate((visible) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (visible ? "visible" : "hidden") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => !visible });
    document.dispatchEvent(new Event("visibilitychange"));
  }, visible);
}

/** Records the notifications the page shows and counts the live posts it is given. */
function recordNotifications() {
  const recorder = window as unknown as { shownNotifications: string[]; livePosts: number };
  recorder.shownNotifications = [];
  recorder.livePosts = 0;
  window.addEventListener("botboard:post", () => recorder.livePosts++, true);
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title: string, options?: NotificationOptions) {
      recorder.shownNotifications.push(options?.body ?? "");
      super(title, options);
    }
  };
  localStorage.setItem("botboard.notifications", "on");
}

const shownOn = (page: Page) => page.evaluate(() => (window as unknown as { shownNotifications: string[] }).shownNotifications);
const livePostsOn = (page: Page) => page.evaluate(() => (window as unknown as { livePosts: number }).livePosts);

describe.each(databaseKinds)("hidden tabs in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let builder: string;
  let cookie: string;

  const post = async (body: Record<string, unknown>) => {
    const response = await server.as(builder, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number };
  };
  /** A page of a new tab of the engineer's browser, on a clock the test can move. */
  const openTabs = async () => {
    const { context } = await openPageForThisTest(browser, { cookie, url: server.url });
    await context.clock.install();
    const open = async (path: string) => {
      const page = await context.newPage();
      await page.goto(`${server.url}${path}`);
      await page.locator("body[data-live-ready]").waitFor();
      return page;
    };
    return { context, open };
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("tabs");
    builder = await server.agent(team, "builder");
    cookie = await server.engineer(team, "ada");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("six hidden tabs let their streams go, so a seventh loads and sends a reply over HTTP/1.1's 6 connections", async () => {
    const root = await post({ content: "Release checklist" });
    const { context, open } = await openTabs();
    const hidden: Page[] = [];
    for (const path of ["/", "/?mode=everything", "/?author=builder", "/inbox", `/posts/${root.id}`, "/now"]) hidden.push(await open(path));
    for (const page of hidden) await showTab(page, false);
    await context.clock.fastForward(hiddenStreamMs);
    // A laptop waking: the hidden tabs stay closed until shown.
    for (const page of hidden) await page.evaluate(() => window.dispatchEvent(new Event("online")));

    const seventh = await context.newPage();
    await seventh.goto(`${server.url}/posts/${root.id}`, { timeout: 10_000 });
    await seventh.locator("body[data-live-ready]").waitFor({ timeout: 10_000 });
    await seventh.getByLabel("Your reply (markdown); agents see it in the thread").fill("Checked the migrations");
    await seventh.getByRole("button", { name: "Reply" }).click();
    await seventh.locator("#replies .post", { hasText: "Checked the migrations" }).waitFor({ timeout: 10_000 });
    await screenshotBothSchemes(seventh, `${kind}-seventh-tab`);
  });

  it("a tab shown again shows what was written while it was hidden, each once; a quick switch keeps its stream", async () => {
    const root = await post({ content: "Deploy thread" });
    const { context, open } = await openTabs();
    const feed = await open("/?mode=everything");
    // The feed is given a post before it hides (it catches up after that one); the thread none (it
    // catches up after the post it was rendered with).
    const before = await post({ content: "Written before hiding" });
    await feed.locator(`#post-${before.id}`).waitFor();
    const thread = await open(`/posts/${root.id}`);

    await showTab(feed, false);
    await context.clock.fastForward(hiddenStreamMs / 2);
    await showTab(feed, true);
    expect(await feed.locator("body[data-live-ready]").count()).toBe(1);

    await showTab(feed, false);
    await showTab(thread, false);
    await context.clock.fastForward(hiddenStreamMs);
    const whileHidden = await post({ content: "Written while hidden" });
    const reply = await post({ content: "Replied while hidden", parentId: root.id });
    await server.settled();
    await feed.waitForTimeout(1000);
    expect(await feed.locator(`#post-${whileHidden.id}`).count()).toBe(0);
    expect(await thread.locator(`#post-${reply.id}`).count()).toBe(0);

    await showTab(feed, true);
    await showTab(thread, true);
    await feed.locator(`#post-${reply.id}`).waitFor();
    await thread.locator(`#post-${reply.id}`).waitFor();
    await feed.locator("body[data-live-ready]").waitFor();
    await thread.locator("body[data-live-ready]").waitFor();
    for (const id of [before.id, whileHidden.id, reply.id]) expect(await feed.locator(`#post-${id}`).count()).toBe(1);
    expect(await thread.locator(`#post-${reply.id}`).count()).toBe(1);
    const newest = await feed.locator("#feed > .post").evaluateAll((cards) => cards.slice(0, 4).map((card) => card.id));
    expect(newest).toEqual([reply.id, whileHidden.id, before.id, root.id].map((id) => `post-${id}`));
  });

  it("with notifications on, the tab that shows them keeps its stream while hidden, and passes it on when it closes", async () => {
    const { context, open } = await openTabs();
    await context.grantPermissions(["notifications"], { origin: server.url });
    await context.addInitScript(recordNotifications);
    const inbox = await open("/inbox");
    // The first tab to load notifications.js holds the lock.
    await expect.poll(() => inbox.evaluate(async () => (await navigator.locks.query()).held?.length)).toBe(1);
    const feed = await open("/");
    await showTab(inbox, false);
    await showTab(feed, false);
    await context.clock.fastForward(hiddenStreamMs);

    const mention = await post({ content: "@ada the release is tagged" });
    await expect.poll(() => shownOn(inbox)).toEqual(["@ada the release is tagged"]);
    await inbox.locator(`#post-${mention.id}`).waitFor();
    await server.settled();
    await feed.waitForTimeout(1000);
    expect(await livePostsOn(feed)).toBe(0);

    // The feed takes the lock: it opens its stream, catches up, and notifies while hidden.
    await inbox.close();
    await feed.locator(`#post-${mention.id}`).waitFor();
    await post({ content: "@ada and the notes are out" });
    await expect.poll(() => shownOn(feed)).toContain("@ada and the notes are out");
  });
});
