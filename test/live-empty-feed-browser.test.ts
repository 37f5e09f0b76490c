import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { users } from "../server/db/schema/index.ts";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPageForThisTest } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const chromium = chromiumForThisFile();

/** The feed section's content as the server would send it: without the highlight a live arrival gets. */
function feedHtml(page: Page): Promise<string> {
  return page.locator("#feed").evaluate((feed) => {
    const copy = feed.cloneNode(true) as Element;
    for (const marked of copy.querySelectorAll(".is-new")) marked.classList.remove("is-new");
    return copy.innerHTML;
  });
}

/** Live removals that take a feed's last cards, or a last-visit line's neighbours, leave the page as a reload draws it. */
describe.each(databaseKinds)("a feed emptied live in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  /** The admin of the newest fresh team who removes its posts: session cookie and the CSRF token that goes with it. */
  let moderator: { cookie: string; csrf: string };

  /** A team of its own, so its feed can be emptied: an agent posting, and an engineer of `role` watching in a page. */
  const freshTeam = async (slug: string, role: "admin" | "member" = "member") => {
    const team = await server.team(slug);
    const agent = await server.agent(team, `${slug}-agent`);
    const username = `${slug}-reader`;
    const cookie = await server.engineer(team, username, role);
    const watcher = await openPageForThisTest(browser, { cookie, url: server.url });
    const moderatorCookie = await server.engineer(team, `${slug}-moderator`, "admin");
    // A session's CSRF token never changes, so one read of a page serves all its removals.
    moderator = { cookie: moderatorCookie, csrf: await csrfTokenOf(server, moderatorCookie) };
    const post = async (body: Record<string, unknown>) => {
      const response = await server.as(agent, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { id: number }).id;
    };
    return { team, cookie, username, page: watcher.page, watch: watcher.watch, post };
  };
  const openLive = async (page: Page, path: string) => {
    await page.goto(`${server.url}${path}`);
    await page.locator("body[data-live-ready]").waitFor();
  };
  const remove = async (id: number) => {
    expect((await postForm(server, `/posts/${id}/delete`, { _csrf: moderator.csrf }, { cookie: moderator.cookie })).status).toBe(303);
  };
  const emptyState = (page: Page) => page.locator("#feed > .empty");

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const role of ["member", "admin"] as const) {
    it(`the feed of ${role === "admin" ? "an admin" : "a member"} whose last post a moderator removes shows the empty state a reload shows, and a new live post replaces it`, async () => {
      const reader = await freshTeam(`empty-${role}`, role);
      const only = await reader.post({ content: "The only post" });
      await openLive(reader.page, "/");
      // What a reload shows, in a second page of the same engineer.
      const reloaded = await openPageForThisTest(browser, { cookie: reader.cookie, url: server.url });

      await remove(only);
      await emptyState(reader.page).waitFor({ state: "visible", timeout: 5000 });
      await reader.page.screenshot({ path: `${artifactsDir}${kind}-live-emptied-feed-${role}.png` });
      const emptied = await feedHtml(reader.page);
      await openLive(reloaded.page, "/");
      expect(emptied).toContain(role === "admin" ? "Connect an agent" : "See which agents are connected");
      expect(emptied).toBe(await feedHtml(reloaded.page));

      const next = await reader.post({ content: "A new post after all" });
      await reader.page.locator(`#feed > #post-${next}`).waitFor({ timeout: 5000 });
      expect(await emptyState(reader.page).isHidden()).toBe(true);
      const refilled = await feedHtml(reader.page);
      await reloaded.page.goto("about:blank");
      await openLive(reloaded.page, "/");
      expect(refilled).toBe(await feedHtml(reloaded.page));
      expect(reader.watch.problems).toEqual([]);
    });
  }

  it("a filtered feed whose last match a moderator removes shows that filter's empty state, as a reload does", async () => {
    const reader = await freshTeam("filtered");
    const kept = await reader.post({ content: "Untagged, other thread" });
    const tagged = await reader.post({ content: "Deploying now", tags: ["deploy"] });
    const root = await reader.post({ content: "Which runner?" });
    const reply = await reader.post({ content: "The big one", parentId: root });
    // Each filter's page loses its last match in turn: the collapsed author page its two threads (the
    // tagged post is gone already), the thread's own page the reply left under its removed first post.
    const cases: [string, number[], string][] = [
      ["/?tag=deploy&mode=everything", [tagged], "No posts match these filters."],
      ["/?author=filtered-agent&mode=threads", [root, kept], "No posts match these filters."],
      [`/?thread=${root}`, [reply], `No thread #${root} in your team`],
    ];
    for (const [path, removals, says] of cases) {
      await openLive(reader.page, path);
      for (const id of removals) await remove(id);
      await emptyState(reader.page).waitFor({ state: "visible", timeout: 5000 });
      const live = await feedHtml(reader.page);
      await reader.page.goto("about:blank");
      await openLive(reader.page, path);
      expect(live, path).toContain(says);
      expect(live, path).toBe(await feedHtml(reader.page));
    }
  });

  it("a feed whose page of posts a moderator removes, with older posts behind its link, shows those older posts as a reload does", async () => {
    const reader = await freshTeam("older-behind");
    const older = [await reader.post({ content: "Older one" }), await reader.post({ content: "Older two" })];
    const page = [];
    for (let index = 0; index < 20; index++) page.push(await reader.post({ content: `Page post ${index}` }));
    await openLive(reader.page, "/");
    await reader.page.locator("#older").waitFor();
    await reader.page.locator("#compose-content").fill("A draft in progress");

    for (const id of page) await remove(id);
    await reader.page.locator(`#feed > #post-${older[1]}`).waitFor({ timeout: 10_000 });
    await reader.page.locator("body[data-live-ready]").waitFor();
    const live = await feedHtml(reader.page);
    const reloaded = await openPageForThisTest(browser, { cookie: reader.cookie, url: server.url });
    await openLive(reloaded.page, "/");
    expect(live).toBe(await feedHtml(reloaded.page));
    expect(await reader.page.locator("#compose-content").inputValue()).toBe("A draft in progress");
    expect(reader.watch.problems).toEqual([]);
  });

  describe("what is new since the last visit", () => {
    /** Opens the feed twice, with `newer` posted between the visits: the line sits under them. */
    const secondVisit = async (reader: Awaited<ReturnType<typeof freshTeam>>, older: string[], newer: string[]) => {
      const olderIds = [];
      for (const content of older) olderIds.push(await reader.post({ content }));
      await openLive(reader.page, "/?mode=everything");
      await reader.page.goto("about:blank");
      const newerIds = [];
      for (const content of newer) newerIds.push(await reader.post({ content }));
      await server.settled();
      const mark = await seenMark(reader.username);
      await openLive(reader.page, "/");
      await reader.page.locator("#last-visit").waitFor();
      return { olderIds, newerIds, mark };
    };
    const lineText = (page: Page) => page.locator("#last-visit").textContent();
    const seenMark = async (username: string) => {
      const [row] = await server.database.db.select({ seen: users.feedSeenPostId }).from(users).where(eq(users.username, username));
      return row?.seen ?? null;
    };
    /** The same visit drawn again: opening the feed moved the mark, so it goes back to where this visit found it. */
    const redrawnVisit = async (reader: { page: Page; username: string; team: Team }, mark: number | null) => {
      await reader.page.goto("about:blank");
      await server.database.db.update(users).set({ feedSeenPostId: mark }).where(eq(users.username, reader.username));
      await openLive(reader.page, "/");
      return feedHtml(reader.page);
    };

    it("a thread keeps its mark when a moderator removes its newest reply only while a reply left is new, as the visit redrawn does", async () => {
      const reader = await freshTeam("thread-marks");
      const settled = await reader.post({ content: "Deploy plan?" });
      const settledSeen = await reader.post({ content: "Friday", parentId: settled });
      const busy = await reader.post({ content: "Flaky test?" });
      await reader.post({ content: "Seen it", parentId: busy });
      await openLive(reader.page, "/?mode=threads");
      await reader.page.goto("about:blank");
      const settledNew = await reader.post({ content: "Or Monday", parentId: settled });
      const busyNew = [
        await reader.post({ content: "Fixed", parentId: busy }),
        await reader.post({ content: "Not quite", parentId: busy }),
      ];
      await server.settled();
      const mark = await seenMark(reader.username);
      await openLive(reader.page, "/");
      const marked = (thread: number) => reader.page.locator(`#thread-summary-${thread} .new-replies`);
      expect([await marked(settled).count(), await marked(busy).count()]).toEqual([1, 1]);

      await remove(settledNew);
      await remove(busyNew[1]!);
      await reader.page.locator(`#latest-reply-${settledSeen}-author`).waitFor({ timeout: 5000 });
      await reader.page.locator(`#latest-reply-${busyNew[0]}-author`).waitFor({ timeout: 5000 });
      const live = await feedHtml(reader.page);
      expect(live).toBe(await redrawnVisit(reader, mark));
      expect([await marked(settled).count(), await marked(busy).count()]).toEqual([0, 1]);
      expect(reader.watch.problems).toEqual([]);
    });

    it("a thread a reply reaches live is marked as the visit redrawn marks it: on a visit after another, and on a first visit or a filtered page not", async () => {
      const reader = await freshTeam("live-reply-marks");
      const quiet = await reader.post({ content: "Which runner?" });
      await reader.post({ content: "The big one", parentId: quiet });
      const bare = await reader.post({ content: "Anyone on call?" });
      const other = await openPageForThisTest(browser, { cookie: reader.cookie, url: server.url });
      const marked = (thread: number) => reader.page.locator(`#thread-summary-${thread} .new-replies`);
      const replyLive = async (thread: number, content: string) => {
        const reply = await reader.post({ content, parentId: thread });
        await reader.page.locator(`#latest-reply-${reply}-author`).waitFor({ timeout: 5000 });
      };

      // A first visit has no mark to compare with: a reload marks nothing.
      await openLive(reader.page, "/?mode=threads");
      await replyLive(quiet, "Or the small one");
      expect(await feedHtml(reader.page)).toBe(await redrawnVisit({ ...reader, page: other.page }, null));
      expect(await marked(quiet).count()).toBe(0);
      // Left before more replies come: a page showing them live would report them seen as it goes.
      await other.page.goto("about:blank");

      // A visit after another: both replies came after it, so a reload marks both threads.
      await reader.page.goto("about:blank");
      await server.settled();
      const mark = await seenMark(reader.username);
      await openLive(reader.page, "/");
      expect(await marked(quiet).count()).toBe(0);
      await replyLive(quiet, "Big after all");
      await replyLive(bare, "I am");
      expect(await feedHtml(reader.page)).toBe(await redrawnVisit({ ...reader, page: other.page }, mark));
      expect([await marked(quiet).count(), await marked(bare).count()]).toEqual([1, 1]);

      // A filtered page draws no marks, live or reloaded.
      await openLive(reader.page, "/?author=live-reply-marks-agent");
      await replyLive(quiet, "Filtered in");
      const filtered = await feedHtml(reader.page);
      await openLive(other.page, "/?author=live-reply-marks-agent");
      expect(filtered).toBe(await feedHtml(other.page));
      expect(await marked(quiet).count()).toBe(0);
      expect(reader.watch.problems).toEqual([]);
    });

    it("goes when a moderator removes every post above it, as the visit redrawn has none", async () => {
      const reader = await freshTeam("line-above");
      const { newerIds, mark } = await secondVisit(reader, ["Seen one", "Seen two"], ["New one", "New two"]);
      for (const id of newerIds) await remove(id);
      await reader.page.locator("#last-visit").waitFor({ state: "detached", timeout: 5000 });
      await reader.page.screenshot({ path: `${artifactsDir}${kind}-live-last-visit-above-removed.png` });
      const live = await feedHtml(reader.page);
      expect(live).toBe(await redrawnVisit(reader, mark));
    });

    it("counts the posts above it as the visit redrawn does when a moderator removes one and a post arrives live", async () => {
      const reader = await freshTeam("line-count");
      const { newerIds, mark } = await secondVisit(reader, ["Seen one", "Seen two"], ["New one", "New two", "New three"]);
      expect(await lineText(reader.page)).toBe("↑ 3 new since your last visit");
      await remove(newerIds[1]!);
      await reader.page.locator(`#post-${newerIds[1]}`).waitFor({ state: "detached", timeout: 5000 });
      expect(await lineText(reader.page)).toBe("↑ 2 new since your last visit");
      const afterRemoval = await feedHtml(reader.page);
      expect(afterRemoval).toBe(await redrawnVisit(reader, mark));

      // The page redrawn is the same visit, live: a post arrives on top of it.
      const arrived = await reader.post({ content: "New four, live" });
      await reader.page.locator(`#feed > #post-${arrived}`).waitFor({ timeout: 5000 });
      expect(await lineText(reader.page)).toBe("↑ 3 new since your last visit");
      const afterArrival = await feedHtml(reader.page);
      // Redrawn in a page of its own: leaving this one would report the live post as seen, moving the mark.
      const other = await openPageForThisTest(browser, { cookie: reader.cookie, url: server.url });
      expect(afterArrival).toBe(await redrawnVisit({ ...reader, page: other.page }, mark));
      expect(reader.watch.problems).toEqual([]);
    });

    it("goes when a moderator removes every post under it, as the visit redrawn has none", async () => {
      const reader = await freshTeam("line-below");
      const { olderIds, mark } = await secondVisit(reader, ["Seen long ago"], ["New one", "New two"]);
      for (const id of olderIds) await remove(id);
      await reader.page.locator("#last-visit").waitFor({ state: "detached", timeout: 5000 });
      const live = await feedHtml(reader.page);
      expect(live).toBe(await redrawnVisit(reader, mark));
    });
  });
});
