import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const chromium = chromiumForThisFile();

/** The inbox's entries as the server would send them: without the highlight a live arrival gets. */
function inboxHtml(page: Page): Promise<string> {
  return page.locator("ol.inbox").evaluate((list) => {
    const copy = list.cloneNode(true) as Element;
    for (const marked of copy.querySelectorAll(".is-new")) marked.classList.remove("is-new");
    return copy.innerHTML;
  });
}

/** What the inbox page shows: its tab title, status line and entries. */
async function inboxShown(page: Page) {
  return { title: await page.title(), status: await page.locator("#inbox-status").textContent(), entries: await inboxHtml(page) };
}

/** The inbox as the page shows it live, then as a reload shows it. */
async function liveThenReloaded(page: Page) {
  const live = await inboxShown(page);
  await page.reload();
  return { live, reloaded: await inboxShown(page) };
}

describe.each(databaseKinds)("an engineer's inbox in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let ada: OpenPage;
  let adaCookie: string;

  /** Ada, an admin, removes a post as her Delete button does. */
  const moderate = async (postId: number) => {
    const csrf = await csrfTokenOf(server, adaCookie);
    expect((await postForm(server, `/posts/${postId}/delete`, { _csrf: csrf }, { cookie: adaCookie })).status).toBe(303);
  };
  const openInbox = async (page: Page) => {
    await page.goto(`${server.url}/inbox`);
    await page.locator("body[data-live-ready]").waitFor();
  };
  /** Only an engineer marks a post urgent: one posts it from the feed's form. */
  const postUrgent = async (cookie: string, content: string, tags = "") => {
    const fields = { content, tags, urgent: "on", _csrf: await csrfTokenOf(server, cookie) };
    const response = await postForm(server, "/posts", fields, { cookie, "hx-request": "true" });
    expect(response.status).toBe(201);
    return Number(/id="post-(\d+)"/.exec(await response.text())![1]);
  };
  const entryOf = (page: Page, postId: number) => page.locator("ol.inbox > li", { has: page.locator(`#post-${postId}`) });

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("inbox");
    adaCookie = await server.engineer(team, "ada");
    ada = await openPage(browser, { cookie: adaCookie, url: server.url });
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

  it("a post removed by a moderator leaves the open inbox, as a reload shows, rather than staying as a tombstone", async () => {
    const agent = await server.agent(team, "asker");
    const { page } = ada;
    await openInbox(page);
    const asked = await server.as(agent, "/api/v1/posts", {
      method: "POST",
      body: JSON.stringify({ content: "spam spam spam", tags: ["question"] }),
    });
    const { id } = (await asked.json()) as { id: number };
    await entryOf(page, id).waitFor();
    await moderate(id);
    await expect.poll(() => page.locator(`ol.inbox #post-${id}`).count()).toBe(0);
    const { live, reloaded } = await liveThenReloaded(page);
    expect(live.entries).not.toContain("tombstone");
    expect(live).toEqual(reloaded);
    expect(ada.watch.problems).toEqual([]);
  });

  it("an urgent post leaves the open inbox once answered and comes back when the answer is removed, as a reload shows", async () => {
    const [reporter, responder] = await Promise.all([server.engineer(team, "cy", "member"), server.agent(team, "responder")]);
    const post = async (agent: string, body: Record<string, unknown>) => {
      const response = await server.as(agent, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { id: number }).id;
    };
    const { page } = ada;
    await openInbox(page);
    const outage = await postUrgent(reporter, "production is down");
    const rollback = await postUrgent(reporter, "is the rollback safe?", "question");
    await entryOf(page, outage).waitFor();
    await entryOf(page, rollback).waitFor();
    expect(await entryOf(page, rollback).locator(".inbox-reasons").textContent()).toBe("question · urgent, unanswered");

    const answer = await post(responder, { content: "on it, restarting the pool", parentId: outage });
    await post(responder, { content: "yes, tested on staging", parentId: rollback });
    await expect.poll(() => page.locator(`ol.inbox #post-${outage}`).count()).toBe(0);
    // Still a question: only its urgent wait ended.
    await expect.poll(() => entryOf(page, rollback).locator(".inbox-reasons").textContent()).toBe("question");
    await page.screenshot({ path: `${artifactsDir}${kind}-inbox-answered-live.png` });
    const answered = await liveThenReloaded(page);
    expect(answered.live).toEqual(answered.reloaded);

    await page.locator("body[data-live-ready]").waitFor();
    await moderate(answer);
    await entryOf(page, outage).waitFor();
    const unanswered = await liveThenReloaded(page);
    expect(unanswered.live.entries).toContain("urgent, unanswered");
    expect(unanswered.live).toEqual(unanswered.reloaded);
    expect(ada.watch.problems).toEqual([]);
  });

  it("the count's wording follows live from one waiting post to none, as a reload words it", async () => {
    const quiet = await server.team("quiet-inbox");
    const [reporter, responder] = await Promise.all([server.engineer(quiet, "di", "member"), server.agent(quiet, "responder")]);
    const bo = await openPage(browser, { cookie: await server.engineer(quiet, "bo", "member"), url: server.url });
    try {
      await openInbox(bo.page);
      expect(await inboxShown(bo.page)).toMatchObject({ title: "Inbox · Botboard", entries: "" });
      const id = await postUrgent(reporter, "disk full");
      await entryOf(bo.page, id).waitFor();
      const one = await liveThenReloaded(bo.page);
      expect(one.live).toMatchObject({ title: "(1) Inbox · Botboard", status: "1 post waits for you, newest first." });
      expect(one.live).toEqual(one.reloaded);

      await bo.page.locator("body[data-live-ready]").waitFor();
      const reply = await server.as(responder, "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content: "freed 20 GB", parentId: id }),
      });
      expect(reply.status).toBe(201);
      await expect.poll(() => bo.page.locator("ol.inbox > li").count()).toBe(0);
      const none = await liveThenReloaded(bo.page);
      expect(none.live.status).toMatch(/^Nothing waits for you/);
      expect(none.live).toEqual(none.reloaded);
      await bo.page.screenshot({ path: `${artifactsDir}${kind}-inbox-emptied-live.png` });
      expect(bo.watch.problems).toEqual([]);
    } finally {
      await bo.context.close();
    }
  });
});
