import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { users } from "../server/db/schema/index.ts";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const chromium = chromiumForThisFile();

/** An element's HTML as the server would send it: without the highlight a live arrival gets. */
function cardHtml(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((element) => {
    const copy = element.cloneNode(true) as Element;
    for (const marked of [copy, ...copy.querySelectorAll(".is-new")]) marked.classList.remove("is-new");
    return copy.outerHTML;
  });
}

/** Live posts and replies are the cards a reload shows, on every page that receives them. */
describe.each(databaseKinds)("live cards in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let alice: string;
  let ann: OpenPage;
  /** An admin: thread pages show her a Delete form under each post. */
  let ops: OpenPage;
  /** An admin's session, to remove posts as a moderator does. */
  let moderator: string;

  const post = async (body: Record<string, unknown>) => {
    const response = await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number; threadId: number };
  };
  const openLive = async (path: string) => {
    await ann.page.goto(`${server.url}${path}`);
    await ann.page.locator("body[data-live-ready]").waitFor();
  };
  const seenMark = async () => {
    const [row] = await server.database.db.select({ seen: users.feedSeenPostId }).from(users).where(eq(users.username, "ann"));
    return row?.seen;
  };
  /** Leaves the page and opens it again; a feed page reports on leaving what it showed live, up to `seenUpTo`. */
  const reload = async (seenUpTo?: number) => {
    const url = ann.page.url();
    await ann.page.goto("about:blank");
    if (seenUpTo !== undefined) await expect.poll(seenMark).toBe(seenUpTo);
    await ann.page.goto(url);
  };
  const remove = async (id: number) => {
    const csrf = await csrfTokenOf(server, moderator);
    expect((await postForm(server, `/posts/${id}/delete`, { _csrf: csrf }, { cookie: moderator })).status).toBe(303);
  };
  /** The ids of the feed's cards, in order. */
  const feedCards = () => ann.page.locator("#feed > .post").evaluateAll((cards) => cards.map((card) => card.id));
  /** The selector's HTML as it arrived live, then after a reload. */
  const liveThenReloaded = async (selector: string, arrived: string, seenUpTo?: number) => {
    await ann.page.locator(arrived).waitFor();
    const live = await cardHtml(ann.page, selector);
    await reload(seenUpTo);
    return { live, reloaded: await cardHtml(ann.page, selector) };
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("cards");
    alice = await server.agent(team, "alice");
    ann = await openPage(browser, { cookie: await server.engineer(team, "ann", "member"), url: server.url });
    ops = await openPage(browser, { cookie: await server.engineer(team, "ops", "admin"), url: server.url });
    moderator = await server.engineer(team, "moderator", "admin");
  });
  afterAll(async () => {
    await ann?.context.close();
    await ops?.context.close();
    await server?.close();
  });

  it("a live reply on the thread page shows its token, as after a reload", async () => {
    const root = await post({ content: "Release checklist" });
    await openLive(`/posts/${root.id}`);
    const reply = await post({ content: "Changelog written", parentId: root.id });
    await ann.page.locator(`#replies #post-${reply.id}`).waitFor();
    await ann.page.screenshot({ path: `${artifactsDir}${kind}-live-reply-thread.png` });
    const { live, reloaded } = await liveThenReloaded(`#post-${reply.id}`, `#replies #post-${reply.id}`);
    expect(live).toContain("token <code>bb_");
    expect(live).toBe(reloaded);
  });

  it("a first live reply in the collapsed feed gives its thread the summary and a working Show replies, as after a reload", async () => {
    const root = await post({ content: "Flaky port in CI" });
    await openLive("/?mode=threads");
    const reply = await post({ content: "Pinned the port", parentId: root.id });
    const card = ann.page.locator(`#post-${root.id}`);
    await card.locator(".reply-count", { hasText: "1 reply" }).waitFor();
    const live = await cardHtml(ann.page, `#post-${root.id}`);
    await card.getByRole("button", { name: "Show replies" }).click();
    await ann.page.locator(`#replies-of-${root.id} #post-${reply.id}`).waitFor();
    await ann.page.screenshot({ path: `${artifactsDir}${kind}-live-reply-collapsed.png` });
    await reload(reply.id);
    expect(live).toContain("Show replies");
    expect(live).toBe(await cardHtml(ann.page, `#post-${root.id}`));
  });

  it("a live reply under opened replies in the collapsed feed is the card a reload opens", async () => {
    const root = await post({ content: "Migrations are slow" });
    await post({ content: "Added an index", parentId: root.id });
    await openLive("/?mode=threads");
    await ann.page.locator(`#post-${root.id}`).getByRole("button", { name: "Show replies" }).click();
    await ann.page.locator(`#replies-of-${root.id} .post`).waitFor();
    const reply = await post({ content: "Down to a second", parentId: root.id });
    await ann.page.locator(`#replies-of-${root.id} #post-${reply.id}`).waitFor();
    const live = await cardHtml(ann.page, `#post-${reply.id}`);
    await reload(reply.id);
    await ann.page.locator(`#post-${root.id}`).getByRole("button", { name: "Show replies" }).click();
    await ann.page.locator(`#replies-of-${root.id} #post-${reply.id}`).waitFor();
    expect(live).toBe(await cardHtml(ann.page, `#post-${reply.id}`));
  });

  it("a live reply in the flat feed is the card a reload shows there: the feed leaves tokens to the thread page", async () => {
    const root = await post({ content: "Docs need a section on tokens" });
    await openLive("/?mode=everything");
    const reply = await post({ content: "Drafted it", parentId: root.id });
    const { live, reloaded } = await liveThenReloaded(`#post-${reply.id}`, `#feed > #post-${reply.id}`, reply.id);
    expect(live).not.toContain("token <code>");
    expect(live).toBe(reloaded);
  });

  /** The admin's form token, as her page carries it. */
  const opsFormToken = () => ops.page.locator('.signed-in input[name="_csrf"]').getAttribute("value");

  it("a live reply on an admin's thread page has the Delete form a reload shows, with her own form token", async () => {
    const root = await post({ content: "Rotate the deploy key" });
    await ops.page.goto(`${server.url}/posts/${root.id}`);
    await ops.page.locator("body[data-live-ready]").waitFor();
    const reply = await post({ content: "Rotated; old key revoked", parentId: root.id });
    await ops.page.locator(`#replies #post-${reply.id}`).waitFor();
    const live = await cardHtml(ops.page, `#post-${reply.id}`);
    await ops.page.reload();
    expect(live).toContain('class="delete-form"');
    expect(live).toContain(`value="${await opsFormToken()}"`);
    expect(live).toBe(await cardHtml(ops.page, `#post-${reply.id}`));
    expect(ops.watch.problems).toEqual([]);
  });

  it("a reply an admin sends from the thread page is the card a reload shows, Delete form included", async () => {
    const root = await post({ content: "Who reviews the migration?" });
    await ops.page.goto(`${server.url}/posts/${root.id}`);
    await ops.page.locator("body[data-live-ready]").waitFor();
    await ops.page.getByLabel("Your reply (markdown); agents see it in the thread").fill("I will, after lunch");
    await ops.page.getByRole("button", { name: "Reply" }).click();
    const sent = ops.page.locator("#replies .post", { hasText: "I will, after lunch" });
    await sent.waitFor();
    const id = await sent.getAttribute("id");
    const live = await cardHtml(ops.page, `#${id}`);
    await ops.page.reload();
    expect(live).toContain('class="delete-form"');
    expect(live).toBe(await cardHtml(ops.page, `#${id}`));
    expect(ops.watch.problems).toEqual([]);
  });

  it("a live reply under opened replies in an admin's collapsed feed has no Delete form, as a reload opens it: only thread pages have one", async () => {
    const root = await post({ content: "Cache keys collide" });
    await post({ content: "Added the tenant to the key", parentId: root.id });
    const showReplies = async () => {
      await ops.page.locator(`#post-${root.id}`).getByRole("button", { name: "Show replies" }).click();
      await ops.page.locator(`#replies-of-${root.id} .post`).first().waitFor();
    };
    await ops.page.goto(`${server.url}/?mode=threads`);
    await ops.page.locator("body[data-live-ready]").waitFor();
    await showReplies();
    const reply = await post({ content: "No collisions since", parentId: root.id });
    await ops.page.locator(`#replies-of-${root.id} #post-${reply.id}`).waitFor();
    const live = await cardHtml(ops.page, `#post-${reply.id}`);
    await ops.page.reload();
    await showReplies();
    expect(live).not.toContain("delete-form");
    expect(live).toBe(await cardHtml(ops.page, `#post-${reply.id}`));
  });

  it("a post a moderator removes leaves the open feed, as a reload leaves it out", async () => {
    const kept = await post({ content: "Build is green again" });
    const removed = await post({ content: "the deploy token is in /tmp/token" });
    await openLive("/?mode=everything");
    await remove(removed.id);
    await ann.page.locator(`#post-${removed.id}`).waitFor({ state: "detached", timeout: 5000 });
    await ann.page.screenshot({ path: `${artifactsDir}${kind}-live-removal-feed.png` });
    const live = await feedCards();
    await reload();
    expect(live).toContain(`post-${kept.id}`);
    expect(live).toEqual(await feedCards());
  });

  it("a reply a moderator removes leaves the flat feed, and its thread's reply link counts one fewer, as after a reload", async () => {
    const root = await post({ content: "Node 22 everywhere?" });
    await post({ content: "Servers are on 22", parentId: root.id });
    const removed = await post({ content: "CI is on 22 too", parentId: root.id });
    await openLive("/?mode=everything");
    await remove(removed.id);
    await ann.page.locator(`#post-${removed.id}`).waitFor({ state: "detached", timeout: 5000 });
    await ann.page.locator(`#post-${root.id} .reply-count`, { hasText: "1 reply" }).waitFor({ timeout: 5000 });
    const live = { cards: await feedCards(), root: await cardHtml(ann.page, `#post-${root.id}`) };
    await reload();
    expect(live).toEqual({ cards: await feedCards(), root: await cardHtml(ann.page, `#post-${root.id}`) });
  });

  it("in the collapsed feed a removed reply leaves its thread's summary as a reload shows it, and the last one the plain Reply link", async () => {
    const rob = await server.agent(team, "rob");
    const root = await post({ content: "Disk is filling up on the runner" });
    const older = await server.as(rob, "/api/v1/posts", {
      method: "POST",
      body: JSON.stringify({ content: "Cleared /tmp", parentId: root.id }),
    });
    const newer = await post({ content: "Rotated the logs", parentId: root.id });
    const olderId = ((await older.json()) as { id: number }).id;
    // A second visit: the replies are not new since the last one, on this page or after a reload.
    await openLive("/?mode=threads");
    await openLive("/?mode=threads");
    const card = ann.page.locator(`#post-${root.id}`);
    expect(await card.locator(".latest-reply").textContent()).toBe(", latest just now by alice");

    await remove(newer.id);
    await card.locator(".latest-reply", { hasText: "by rob" }).waitFor({ timeout: 5000 });
    const oneLeft = await cardHtml(ann.page, `#post-${root.id}`);
    await reload();
    expect(oneLeft).toContain("1 reply");
    expect(oneLeft).toBe(await cardHtml(ann.page, `#post-${root.id}`));

    await ann.page.locator("body[data-live-ready]").waitFor();
    await remove(olderId);
    await card.locator(".thread-summary").waitFor({ state: "detached", timeout: 5000 });
    await ann.page.screenshot({ path: `${artifactsDir}${kind}-live-removal-collapsed.png` });
    const noneLeft = await cardHtml(ann.page, `#post-${root.id}`);
    await reload();
    expect(noneLeft).not.toContain("Show replies");
    expect(noneLeft).toBe(await cardHtml(ann.page, `#post-${root.id}`));
  });

  it("a new post a moderator removes while it waits behind the pill leaves the pill's count, and the pill once none waits", async () => {
    for (let index = 0; index < 12; index++) await post({ content: `Filler ${index}\n\nsome more text so the feed is long` });
    await openLive("/?mode=everything");
    const scrollDown = async () => {
      await ann.page.mouse.wheel(0, 1500);
      await ann.page.waitForFunction(() => window.scrollY > 300);
    };
    const pill = ann.page.locator("#new-posts");
    await scrollDown();
    const first = await post({ content: "Waiting one" });
    const second = await post({ content: "Waiting two" });
    await pill.filter({ hasText: "2 new posts" }).waitFor({ timeout: 5000 });
    await remove(second.id);
    await pill.filter({ hasText: "1 new post" }).waitFor({ timeout: 5000 });
    await pill.click();
    await ann.page.locator(`#feed > #post-${first.id}`).waitFor();
    expect(await ann.page.locator(`#post-${second.id}`).count()).toBe(0);

    await scrollDown();
    const third = await post({ content: "Waiting three" });
    await pill.filter({ hasText: "1 new post" }).waitFor({ timeout: 5000 });
    await remove(third.id);
    await pill.waitFor({ state: "hidden", timeout: 5000 });
    await ann.page.mouse.wheel(0, -5000);
    await ann.page.waitForFunction(() => window.scrollY === 0);
    const live = await feedCards();
    await reload();
    const reloaded = await feedCards();
    expect(live).not.toContain(`post-${third.id}`);
    // The live page keeps every card it showed; a reload shows the newest page of them.
    expect(live.slice(0, reloaded.length)).toEqual(reloaded);
  });

  it("a reply a moderator removes leaves its tombstone on the open thread page and the first post's count one fewer, as after a reload", async () => {
    const root = await post({ content: "Which region for the replica?" });
    const kept = await post({ content: "eu-west-1", parentId: root.id });
    const removed = await post({ content: "the replica password is hunter2", parentId: root.id });
    await openLive(`/posts/${root.id}`);
    await remove(removed.id);
    await ann.page.locator(`#post-${removed.id}.tombstone`).waitFor({ timeout: 5000 });
    await ann.page.locator(`#post-${root.id} .reply-count`, { hasText: "1 reply" }).waitFor({ timeout: 5000 });
    const thread = () => Promise.all([root, kept, removed].map((shown) => cardHtml(ann.page, `#post-${shown.id}`)));
    const live = await thread();
    await reload();
    expect(live).toEqual(await thread());
  });

  it("a thread page whose stream broke while a moderator removed a reply shows, once back, what a reload shows", async () => {
    const root = await post({ content: "Staging credentials" });
    const reply = await post({ content: "the password is hunter2", parentId: root.id });
    const moderator = await server.engineer(team, "mod", "admin");
    // The page reaches the server through a proxy, so the test can break its stream.
    const proxy = await startTcpProxy(Number(new URL(server.url).port));
    try {
      await ann.page.goto(`http://127.0.0.1:${proxy.port}/posts/${root.id}`);
      await ann.page.locator("body[data-live-ready]").waitFor();
      await proxy.cut();
      await ann.page.locator('#live-status[data-state="reconnecting"]').waitFor();
      const csrf = await csrfTokenOf(server, moderator);
      expect((await postForm(server, `/posts/${reply.id}/delete`, { _csrf: csrf }, { cookie: moderator })).status).toBe(303);
      await proxy.restore();
      await ann.page.locator(`#post-${reply.id}.tombstone`).waitFor();
      await ann.page.locator('#live-status[data-state="live"]').waitFor();
      const live = await cardHtml(ann.page, `#post-${reply.id}`);
      await ann.page.reload();
      expect(live).toContain("removed by a moderator");
      expect(live).toBe(await cardHtml(ann.page, `#post-${reply.id}`));
      // The broken stream's own network errors are expected; nothing else.
      expect(ann.watch.problems.filter((problem) => !problem.includes("net::ERR_"))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("a feed whose stream died silently while the laptop slept gets, once back online, what was posted meanwhile, once", async () => {
    const before = await post({ content: "Before the lid closed" });
    const proxy = await startTcpProxy(Number(new URL(server.url).port));
    try {
      await ann.page.goto(`http://127.0.0.1:${proxy.port}/?mode=everything`);
      await ann.page.locator("body[data-live-ready]").waitFor();
      // Asleep: no network, and the stream's connection dies without either end hearing of it.
      await ann.context.setOffline(true);
      proxy.stall("GET /events");
      const asleep = await post({ content: "Written while the laptop slept" });
      await ann.context.setOffline(false);
      await ann.page.locator(`#feed > #post-${asleep.id}`).waitFor({ timeout: 5000 });
      await ann.page.locator('#live-status[data-state="live"]').waitFor();
      const awake = await post({ content: "Written after it woke" });
      await ann.page.locator(`#feed > #post-${awake.id}`).waitFor({ timeout: 5000 });
      expect((await feedCards()).slice(0, 3)).toEqual([`post-${awake.id}`, `post-${asleep.id}`, `post-${before.id}`]);
      expect(new Set(await feedCards()).size).toBe((await feedCards()).length);
      expect(ann.watch.problems.filter((problem) => !problem.includes("net::ERR_"))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
