import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, type PageWatch } from "./support/browser.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

type McpPost = { id: number; author: string; kind: "agent" | "human"; content: string };

const chromium = chromiumForThisFile();

/** Issue 5 in Chromium, beyond web-feed-browser: MCP both ways, live reply counts, the pill's count, colours, keyboard, phones. */
describe.each(databaseKinds)("feed details in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let alice: Client;
  let bob: Client;

  const createPost = async (client: Client, args: Record<string, unknown>) => {
    const result = await callTool(client, "create_post", args);
    expect(result.isError).toBeFalsy();
    return (result.structuredContent as { post: McpPost }).post;
  };
  const openLive = async (path: string) => {
    await page.goto(`${server.url}${path}`);
    await page.waitForSelector("body[data-live-ready]");
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    [alice, bob] = await Promise.all([
      connectMcp(server.url, await server.agent(team, "alice")),
      connectMcp(server.url, await server.agent(team, "bob")),
    ]);
    ({ context, page, watch } = await openPage(browser, { cookie: await server.engineer(team, "ann"), url: server.url }));
  });
  afterAll(async () => {
    await Promise.all([alice, bob].map((client) => client?.close()));
    await context?.close();
    await server?.close();
  });

  it("a post an agent makes over MCP appears on the open feed within 2 seconds", async () => {
    await openLive("/");
    const started = Date.now();
    const created = await createPost(alice, { content: "Over MCP: the **build** is green.", tags: ["ci"] });
    const card = page.locator(`#feed > #post-${created.id}`);
    await card.waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await card.locator(".post-body strong").textContent()).toBe("build");
    expect(await card.locator(".tags a").textContent()).toBe("#ci");
  });

  it("a filtered feed stays live with the posts its filter shows, and only those", async () => {
    await openLive("/?author=bob");
    const fromAlice = await createPost(alice, { content: "Alice, not in this view." });
    const fromBob = await createPost(bob, { content: "Bob, in this view." });
    await page.locator(`#feed > #post-${fromBob.id}`).waitFor({ timeout: 2000 });
    expect(await page.locator(`#post-${fromAlice.id}`).count()).toBe(0);
  });

  it("an engineer's reply from the thread page reaches get_thread over MCP, in order, marked human", async () => {
    const root = await createPost(alice, { content: "Shall I bump the lockfile?" });
    const first = await createPost(bob, { content: "Wait for the release.", parent_post_id: root.id });
    await openLive(`/posts/${root.id}`);
    await page.getByLabel(/Your reply/).fill("Bump it after the release, please.");
    await page.getByRole("button", { name: "Reply" }).click();
    await page.locator("#replies .post.by-human").waitFor();
    const thread = await callTool(alice, "get_thread", { post_id: root.id });
    const replies = (thread.structuredContent as { replies: McpPost[] }).replies;
    expect(replies.map((reply) => reply.id)[0]).toBe(first.id);
    expect(replies[1]).toMatchObject({ kind: "human", author: "ann", content: "Bump it after the release, please." });
    expect(thread.text).toContain("Bump it after the release, please.");
  });

  it("an agent's reply updates the thread's reply count on the open feed", async () => {
    const root = await createPost(alice, { content: "Anyone seen the locale bug?" });
    await openLive("/");
    const count = page.locator(`#post-${root.id} .reply-count`);
    expect(await count.textContent()).toBe("Reply");
    await createPost(bob, { content: "Yes, on CI only.", parent_post_id: root.id });
    await page.waitForFunction((id) => document.querySelector(`#post-${id} .reply-count`)?.textContent === "1 reply", root.id, {
      timeout: 2000,
    });
    await createPost(alice, { content: "Same here.", parent_post_id: root.id });
    await page.waitForFunction((id) => document.querySelector(`#post-${id} .reply-count`)?.textContent === "2 replies", root.id, {
      timeout: 2000,
    });
  });

  it("the pill counts several new posts while the reader is scrolled down, and shows them newest first", async () => {
    for (let index = 0; index < 16; index++)
      await createPost(bob, { content: `Filler ${index}\n\nmore text so the feed is long enough to scroll` });
    await openLive("/");
    await page.mouse.wheel(0, 1500);
    await page.waitForFunction(() => window.scrollY > 300);
    const older = await createPost(alice, { content: "First while away." });
    const newer = await createPost(alice, { content: "Second while away." });
    const pill = page.locator("#new-posts");
    await page.waitForFunction(() => document.getElementById("new-posts")?.textContent === "2 new posts", undefined, { timeout: 2000 });
    expect(await page.locator(`#post-${older.id}, #post-${newer.id}`).count()).toBe(0);
    await pill.click();
    const ids = await page.locator("#feed > .post").evaluateAll((nodes) => nodes.slice(0, 2).map((node) => node.id));
    expect(ids).toEqual([`post-${newer.id}`, `post-${older.id}`]);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(`post-${newer.id}`);
  });

  it("light and dark follow the system setting", async () => {
    await page.goto(`${server.url}/`);
    const colours = async (colorScheme: "light" | "dark") => {
      await page.emulateMedia({ colorScheme });
      return page.evaluate(() => {
        const body = getComputedStyle(document.body);
        const card = getComputedStyle(document.querySelector(".post")!);
        return { background: body.backgroundColor, text: body.color, card: card.backgroundColor };
      });
    };
    expect(await colours("light")).toEqual({ background: "rgb(246, 247, 249)", text: "rgb(28, 36, 48)", card: "rgb(255, 255, 255)" });
    expect(await colours("dark")).toEqual({ background: "rgb(18, 22, 28)", text: "rgb(230, 234, 240)", card: "rgb(27, 33, 41)" });
    await page.emulateMedia({ colorScheme: "light" });
  });

  it("the keyboard walks the feed in reading order: skip link, navigation, compose, filters, then posts", async () => {
    await page.goto(`${server.url}/`);
    const stops: string[] = [];
    for (let index = 0; index < 25; index++) {
      await page.keyboard.press("Tab");
      stops.push(
        await page.evaluate(() => {
          const active = document.activeElement as HTMLElement;
          return active.id || `${active.className.split(" ")[0]}:${(active.textContent ?? "").trim()}`;
        }),
      );
    }
    expect(stops).toEqual([
      "skip-link:Skip to content",
      "brand:Botboard",
      ":Feed",
      ":Inbox",
      ":Now",
      ":Search",
      ":Agents",
      ":Journal",
      ":Bench",
      ":Admin",
      "link-button:Sign out",
      ":Post to the team",
      "compose-content",
      "compose-tags",
      "compose-urgent",
      ":Post",
      ":Filters",
      "filter-author",
      "filter-tag",
      "filter-thread",
      ":Filter",
      ":Threads",
      ":Everything",
      "notifications-toggle",
      expect.stringMatching(/^post-\d+-author$/),
    ]);
    const labelled = await page.evaluate(() =>
      [...document.querySelectorAll("main input:not([type=hidden]), main select, main textarea")].every(
        (field) => field.id !== "" && document.querySelector(`label[for="${field.id}"]`) !== null,
      ),
    );
    expect(labelled).toBe(true);
  });

  it("on a phone no page scrolls sideways", async () => {
    const root = (await createPost(alice, { content: "A thread for the phone: `a-very-long-identifier-without-any-spaces-in-it-at-all`" }))
      .id;
    await page.setViewportSize({ width: 360, height: 740 });
    for (const path of ["/", `/posts/${root}`, "/search?q=phone", "/agents", "/agents/alice", "/admin", "/journal"]) {
      await page.goto(`${server.url}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(360);
    }
    await page.goto(`${server.url}/admin`);
    await page.screenshot({ path: `${artifactsDir}${kind}-admin-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  it("an agent's name of 64 characters without a space wraps on a phone: no page that shows it scrolls sideways", async () => {
    const name = "worker_for_the_botboard_repository_main_branch_number_0000000001";
    expect(name).toHaveLength(64);
    const token = await server.agent(team, name);
    const write = async (path: string, method: string, body: Record<string, unknown>) =>
      (await server.as(token, path, { method, body: JSON.stringify(body) })).json() as Promise<{ id: number }>;
    const root = await write("/api/v1/posts", "POST", { content: "A long name on a small screen." });
    await write("/api/v1/posts", "POST", { content: "And its reply.", parentId: root.id });
    await write("/api/v1/status", "PUT", { text: "working" });
    await page.setViewportSize({ width: 360, height: 740 });
    const agentPath = encodeURIComponent(name);
    for (const path of [
      "/",
      "/?mode=everything",
      `/posts/${root.id}`,
      "/search?q=long",
      "/now",
      "/agents",
      `/agents/${agentPath}`,
      "/admin",
    ]) {
      await page.goto(`${server.url}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(360);
    }
    await page.screenshot({ path: `${artifactsDir}${kind}-long-agent-name-admin-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  // The select is as wide as its longest name unless something caps it (app.css: input, select, textarea
  // { max-width: 100% }); without that cap this page is 579 px wide at 390.
  it("the agent filter lists a 64-character name without widening a 390 px phone's page, opened or filtered by it", async () => {
    const name = "deploy_watcher_for_the_botboard_repository_release_branch_000002";
    expect(name).toHaveLength(64);
    const token = await server.agent(team, name);
    expect((await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "Watching." }) })).status).toBe(201);
    await page.setViewportSize({ width: 390, height: 844 });
    const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);
    const agentFilter = page.getByLabel("Agent");
    // Folded on a phone until opened.
    await page.goto(`${server.url}/`);
    await page.getByText("Filters", { exact: true }).click();
    expect(await agentFilter.isVisible()).toBe(true);
    expect(await pageWidth()).toBeLessThanOrEqual(390);
    // Filtered by that agent: open from the start, the long name chosen.
    await page.goto(`${server.url}/?author=${encodeURIComponent(name)}`);
    expect(await agentFilter.inputValue()).toBe(name);
    expect(await pageWidth()).toBeLessThanOrEqual(390);
    const box = (await agentFilter.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${artifactsDir}${kind}-agent-filter-long-name-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  it("the agent filter keeps the author the feed is filtered by: an engineer a mention links to, an agent in capitals", async () => {
    const agentFilter = page.getByLabel("Agent");
    const mention = await createPost(alice, { content: "@ann the staging deploy needs your eyes" });
    await page.goto(`${server.url}/`);
    await page.locator(`#post-${mention.id} a.mention`).click();
    await page.waitForURL(/\?author=ann$/);
    expect(await agentFilter.inputValue()).toBe("ann");
    await page.getByLabel("Tag", { exact: true }).fill("web");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/\?author=ann&tag=web/);
    expect(await agentFilter.inputValue()).toBe("ann");

    await page.goto(`${server.url}/?author=ALICE`);
    expect(await agentFilter.inputValue()).toBe("alice");
    expect(await agentFilter.locator("option").allTextContents()).not.toContain("ALICE");
    await page.getByLabel("Tag", { exact: true }).fill("ci");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/\?author=alice&tag=ci/);
    await page.screenshot({ path: `${artifactsDir}${kind}-author-filter-kept.png` });
  });

  it("no page raised a script error or a Content-Security-Policy violation", () => {
    expect(watch.problems).toEqual([]);
  });
});
