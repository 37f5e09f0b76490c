import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { cli } from "../server/domain/callers.ts";
import type { Team } from "../server/domain/teams.ts";
import { createInvite } from "../server/domain/users.ts";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const password = "a long enough password";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("the web feed in Chromium on %s", (kind) => {
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
    ({ context, page, watch } = await openPage(browser));
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
  });

  it("the one-time setup link creates the account and signs the engineer in", async () => {
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "admin" });
    await page.goto(`${server.url}/setup?token=${invite.secret}`);
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Display name (optional)").fill("Ann Lee");
    await page.getByLabel("Password (at least 10 characters)").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${server.url}/`);
    expect(await page.locator(".signed-in span").textContent()).toBe("Ann Lee");

    const reused = await page.goto(`${server.url}/setup?token=${invite.secret}`);
    expect(reused?.status()).toBe(400);
    expect(await page.getByRole("alert").textContent()).toContain("invalid, used or expired");
  });

  it("signs out and back in with the password", async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login$/);
    await page.goto(`${server.url}/agents`);
    await page.waitForURL(/\/login\?next=%2Fagents$/);
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    expect(await page.getByRole("alert").textContent()).toBe("Wrong username or password.");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/agents`);
  });

  it("the feed shows posts newest first, agents and humans told apart, markdown rendered", async () => {
    await post(alice, { content: "Found the **flaky** test:\n\n- port reuse\n- `5432` hard-coded", tags: ["finding", "ci"] });
    await post(bob, { content: "Working on the locale fix.", tags: ["locale"] });
    await page.goto(`${server.url}/`);
    const posts = page.locator("#feed > .post");
    expect(await posts.count()).toBe(2);
    expect(await posts.nth(0).locator(".author").textContent()).toBe("bob");
    expect(await posts.nth(1).locator(".post-body strong").textContent()).toBe("flaky");
    expect(await posts.nth(1).locator(".post-body li").count()).toBe(2);
    expect(await posts.nth(1).locator(".badge").textContent()).toBe("Agent");
    expect(await posts.nth(1).locator("time").getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });

  it("an engineer posts from the compose box and agents read it as human", async () => {
    await page.getByLabel("Message (markdown)").fill("Agents: please rebase on main before pushing.");
    await page.getByRole("textbox", { name: "Tags" }).fill("process");
    const answer = page.waitForResponse((response) => response.url().endsWith("/posts") && response.request().method() === "POST");
    await page.getByRole("button", { name: "Post", exact: true }).click();
    expect((await answer).request().headers()["hx-request"]).toBe("true");
    const mine = page.locator("#feed > .post.by-human").first();
    await mine.waitFor();
    expect(await mine.locator(".post-body").textContent()).toContain("please rebase");
    expect(await page.getByLabel("Message (markdown)").inputValue()).toBe("");
    const feed = await (await server.as(alice, "/api/v1/posts")).json();
    expect(feed.posts[0]).toMatchObject({ author: { kind: "human", name: "Ann Lee" }, tags: ["process"] });
    expect(await page.locator(`#post-${feed.posts[0].id}`).count()).toBe(1);
  });

  it("a refused post shows why, next to the form", async () => {
    await page.getByLabel("Message (markdown)").fill("   ");
    await page.getByRole("button", { name: "Post", exact: true }).click();
    const error = page.locator(".compose .form-error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toBe("Nothing to post: the content is empty. Write a message first.");
  });

  it("an agent's new post appears live within 2 seconds, without reload", async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector("body[data-live-ready]");
    const started = Date.now();
    const created = await post(alice, { content: "Live: migrations are done." });
    await page.locator(`#feed > #post-${created.id}`).waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await page.locator("#feed > .post").first().getAttribute("id")).toBe(`post-${created.id}`);
  });

  it("a reader scrolled down gets a 'new posts' pill instead of a jump", async () => {
    for (let index = 0; index < 16; index++) await post(bob, { content: `Filler ${index}\n\nsome more text so the feed is long` });
    await page.goto(`${server.url}/`);
    await page.waitForSelector("body[data-live-ready]");
    await page.mouse.wheel(0, 1500);
    await page.waitForFunction(() => window.scrollY > 300);
    const scrolled = await page.evaluate(() => window.scrollY);
    const created = await post(alice, { content: "Arrived while you were reading." });
    const pill = page.locator("#new-posts");
    await pill.waitFor({ state: "visible", timeout: 2000 });
    expect(await pill.textContent()).toBe("1 new post");
    expect(await page.locator(`#post-${created.id}`).count()).toBe(0);
    expect(Math.abs((await page.evaluate(() => window.scrollY)) - scrolled)).toBeLessThan(5);
    await pill.click();
    await page.locator(`#feed > #post-${created.id}`).waitFor();
    expect(await pill.isHidden()).toBe(true);
  });

  it("the older button pages by cursor", async () => {
    const total = (await (await server.as(alice, "/api/v1/posts?limit=100")).json()).posts.length;
    expect(total).toBeGreaterThan(20);
    await page.goto(`${server.url}/?mode=everything`);
    const idsOnPage = () => page.locator("#feed > .post").evaluateAll((nodes) => nodes.map((node) => node.id));
    const newest = await idsOnPage();
    expect(newest.length).toBe(20);
    await page.getByRole("link", { name: "Older posts" }).click();
    await page.waitForURL(/cursor=/);
    const ids = [...newest, ...(await idsOnPage())];
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(total);
  });

  it("a reply from the thread page is visible to agents, and agents' replies arrive live", async () => {
    const root = await post(alice, { content: "Should we pin Node 20?", tags: ["question"] });
    await page.goto(`${server.url}/posts/${root.id}`);
    await page.waitForSelector("body[data-live-ready]");
    await page.getByLabel(/Your reply/).fill("Yes, CI runs 20.");
    await page.getByRole("button", { name: "Reply" }).click();
    await page.locator("#replies .post.by-human").waitFor();
    const thread = await (await server.as(alice, `/api/v1/posts/${root.id}`)).json();
    expect(thread.thread.replies).toHaveLength(1);
    expect(thread.thread.replies[0]).toMatchObject({ content: "Yes, CI runs 20.", author: { kind: "human", name: "Ann Lee" } });

    const agentReply = await post(bob, { content: "Agreed, pinning.", parentId: root.id });
    await page.locator(`#replies > #post-${agentReply.id}`).waitFor({ timeout: 2000 });
    await shot("thread");

    // Urgent from the thread page too: every agent gets the reply first.
    await page.getByLabel(/Your reply/).fill("Hold the pin: 20.19 breaks the build.");
    await page.getByLabel("Urgent").check();
    await page.getByRole("button", { name: "Reply" }).click();
    await expect.poll(() => page.locator("#replies .post.by-human").count()).toBe(2);
    const replies = (await (await server.as(bob, `/api/v1/posts/${root.id}`)).json()).thread.replies;
    expect(replies.at(-1)).toMatchObject({ content: "Hold the pin: 20.19 breaks the build.", urgent: true });
    expect(await page.getByLabel("Urgent").isChecked()).toBe(false);
  });

  it("search finds posts and highlights the words", async () => {
    await page.goto(`${server.url}/search`);
    await page.getByLabel("Words").fill("migration");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/q=migration/);
    const results = page.locator(".results > li");
    expect(await results.count()).toBe(1);
    expect(await results.first().locator("mark").textContent()).toBe("migrations");
    await shot("search");
  });

  it("filters by tag link, by agent and by thread", async () => {
    await page.goto(`${server.url}/`);
    await page.locator("#feed .tags a", { hasText: "#question" }).first().click();
    await page.waitForURL(/\?tag=question/);
    expect(await page.locator("#feed > .post").count()).toBe(1);

    await page.goto(`${server.url}/`);
    await page.getByLabel("Agent").selectOption("alice");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/author=alice/);
    const authors = await page.locator("#feed > .post .author").allTextContents();
    expect(authors.length).toBeGreaterThan(2);
    expect(new Set(authors)).toEqual(new Set(["alice"]));

    const root = (await (await server.as(alice, "/api/v1/posts?tag=question")).json()).posts[0];
    await page.goto(`${server.url}/?thread=${root.id}`);
    // The question, the engineer's two replies and the agent's.
    expect(await page.locator("#feed > .post").count()).toBe(4);
  });

  it("an agent's XSS payloads stay inert text", async () => {
    const payloads = [
      "<script>window.__pwned = 'script'; alert('script')</script>",
      "<img src=x onerror=\"window.__pwned='img'; alert('img')\">",
      "[click me](javascript:alert('link'))",
      "[tricky](JaVaScRiPt&#58;alert('entity'))",
      "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
      "<a href=\"javascript:alert('raw')\">raw link</a>",
      "![img](javascript:alert('image'))",
      "<svg onload=alert('svg')>",
    ];
    const created = await post(alice, { content: payloads.join("\n\n"), tags: ["xss"] });
    await page.goto(`${server.url}/posts/${created.id}`);
    await page.waitForTimeout(300);
    const body = page.locator(`#post-${created.id} .post-body`);
    expect(await body.locator("script, img, svg, iframe").count()).toBe(0);
    const hrefs = await body.locator("a").evaluateAll((links) => links.map((link) => link.getAttribute("href")));
    expect(hrefs.every((href) => href !== null && /^(https?:|mailto:)/.test(href))).toBe(true);
    for (const link of await body.locator("a").all()) await link.click({ modifiers: ["Control"] }).catch(() => undefined);
    expect(await body.textContent()).toContain("<script>");
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(watch.dialogs).toEqual([]);
  });

  it("a POST from the page without the CSRF token is refused", async () => {
    const status = await page.evaluate(async () => {
      const response = await fetch("/posts", { method: "POST", body: new URLSearchParams({ content: "no token" }) });
      return response.status;
    });
    expect(status).toBe(403);
    const feed = await (await server.as(alice, "/api/v1/posts")).json();
    expect(feed.posts.map((p: { content: string }) => p.content)).not.toContain("no token");
  });

  it("another team's post id is a 404", async () => {
    const other = await server.agent(await server.team("beta"), "eve");
    const secret = await post(other, { content: "beta's secret" });
    const response = await page.goto(`${server.url}/posts/${secret.id}`);
    expect(response?.status()).toBe(404);
    expect(await page.content()).not.toContain("beta's secret");
  });

  it("a long post folds in the feed, on load and live, behind a button that shows it whole; its thread page shows it whole", async () => {
    const report = Array.from({ length: 60 }, (_, index) => `- step ${index + 1} of a long report`).join("\n");
    const long = await post(alice, { content: report, tags: ["report"] });
    const short = await post(bob, { content: "A short note under it." });
    await page.goto(`${server.url}/`);
    const body = page.locator(`#post-${long.id} .post-body`);
    const height = () => body.evaluate((element) => element.getBoundingClientRect().height);
    const toggle = page.locator(`#post-${long.id} .fold-toggle`);
    expect(await body.getAttribute("data-fold")).toBe("folded");
    const folded = await height();
    expect(folded).toBeLessThan(320);
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    expect(await page.locator(`#post-${short.id} .fold-toggle`).count()).toBe(0);
    expect(await page.locator(`#post-${short.id} .post-body`).getAttribute("data-fold")).toBeNull();

    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    expect(await toggle.textContent()).toBe("Fold it again");
    expect(await height()).toBeGreaterThan(3 * folded);
    expect(await page.locator(`#post-${long.id} .post-body li`).last().isVisible()).toBe(true);
    await toggle.click();
    expect(await height()).toBe(folded);

    await page.evaluate(() => scrollTo(0, 0));
    const live = await post(bob, { content: report });
    await page.locator(`#post-${live.id} .fold-toggle`).waitFor();
    expect(await page.locator(`#post-${live.id} .post-body`).getAttribute("data-fold")).toBe("folded");
    await shot("feed-long-post-folded");

    await page.goto(`${server.url}/posts/${long.id}`);
    expect(await page.locator(`#post-${long.id} .post-body li`).count()).toBe(60);
    expect(await page.locator(".fold-toggle").count()).toBe(0);
    expect(await page.locator(`#post-${long.id} .post-body`).getAttribute("data-fold")).toBeNull();
  });

  it("screenshots of the feed, wide and on a phone", async () => {
    await page.goto(`${server.url}/`);
    await shot("feed");
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: `${artifactsDir}${kind}-feed-phone.png` });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  it("no page raised a script error or a Content-Security-Policy violation", () => {
    expect(watch.problems).toEqual([]);
  });
});
