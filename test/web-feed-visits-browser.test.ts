import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { users } from "../server/db/schema/index.ts";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, type PageWatch } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();
const password = "correct horse battery";
/** Screenshots for a person to look at; not kept in the repository. */
const screenshotsDir = "/tmp/botboard-feed2-screens";

describe.each(databaseKinds)("the last visit and code links in the feed on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let laptop: { context: BrowserContext; page: Page; watch: PageWatch };
  let team: Team;
  let alice: string;
  let cookie: string;
  /** A thread from the first visit, which later visits see get replies. */
  let olderThread: number;

  const post = async (content: string, parentId?: number) => {
    const response = await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content, parentId }) });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: number }).id;
  };
  /** Post ids of the feed's cards above and below the last-visit line, in page order. */
  const aroundTheLine = (page: Page) =>
    page.evaluate(() => {
      const feed = document.getElementById("feed")!;
      const line = document.getElementById("last-visit");
      const above: number[] = [];
      const below: number[] = [];
      let passed = false;
      for (const child of feed.children) {
        if (child === line) passed = true;
        else if (child.matches("article.post")) (passed ? below : above).push(Number((child as HTMLElement).dataset.postId));
      }
      return { line: line?.textContent ?? null, above, below };
    });
  const seenMark = async () => {
    const [row] = await server.database.db.select({ seen: users.feedSeenPostId }).from(users).where(eq(users.username, "ann"));
    return row?.seen;
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    alice = await server.agent(team, "alice");
    cookie = await server.engineer(team, "ann");
    laptop = await openPage(browser, { cookie, url: server.url });
  });
  afterAll(async () => {
    await laptop?.context.close();
    await server?.close();
  });

  it("the line sits under exactly the posts that came since the last visit, seen from another device", async () => {
    const before = [await post("Starting on the parser."), await post("Parser done.")];
    olderThread = before[0]!;
    await laptop.page.goto(`${server.url}/`);
    await laptop.page.locator(`#post-${before[1]}`).waitFor();
    expect(await laptop.page.locator("#last-visit").count()).toBe(0);
    await laptop.page.goto(`${server.url}/agents`);

    const since = [await post("Lexer next."), await post("Lexer half done."), await post("Lexer done.")];
    // A reply to an older thread: its card stays below the line, marked as having new replies.
    await post("The parser needs one more fix.", before[0]);
    await server.settled();
    // Another device: a phone that signs in with the password, not the laptop's cookie.
    const phone = await openPage(browser);
    try {
      await phone.page.setViewportSize({ width: 390, height: 844 });
      await phone.page.goto(`${server.url}/login`);
      await phone.page.getByLabel("Username").fill("ann");
      await phone.page.getByLabel("Password").fill(password);
      await phone.page.getByRole("button", { name: "Sign in" }).click();
      await phone.page.waitForURL(`${server.url}/`);
      expect(await aroundTheLine(phone.page)).toEqual({
        line: "↑ 3 new since your last visit",
        above: [...since].reverse(),
        below: [...before].reverse(),
      });
      expect(await phone.page.locator(`#thread-summary-${before[0]} .new-replies`).textContent()).toBe("new since your last visit");
      expect(await phone.page.locator(".new-replies").count()).toBe(1);
      // That visit saw them: the next one has nothing new.
      await phone.page.reload();
      expect(await phone.page.locator("#last-visit").count()).toBe(0);
      expect(phone.watch.problems).toEqual([]);
    } finally {
      await phone.context.close();
    }
  });

  it("posts that arrived live while the feed was open are not new on the next visit; the line follows the flat view too", async () => {
    const { page } = laptop;
    await page.goto(`${server.url}/?mode=everything`);
    await page.locator("body[data-live-ready]").waitFor();
    const thread = await post("Benchmarks are slow on arm64.");
    const reply = await post("Because of the emulator.", thread);
    await page.locator(`#post-${reply}`).waitFor();
    await page.goto(`${server.url}/agents`);
    // The page reported what it showed as it was left (a keepalive request).
    await expect.poll(seenMark, { timeout: 10_000 }).toBe(reply);

    const later = await post("Switched the runner to native arm64.");
    await server.settled();
    await page.goto(`${server.url}/`);
    const around = await aroundTheLine(page);
    expect(around.line).toBe("↑ 1 new since your last visit");
    expect(around.above).toEqual([later]);
    expect(around.below[0]).toBe(reply);
    await page.goto(`${server.url}/?mode=threads`);
  });

  it("a filtered page neither draws the line nor moves it; a forged position is refused", async () => {
    const { page } = laptop;
    await page.goto(`${server.url}/agents`);
    const mark = await seenMark();
    await post("Filtered and older pages do not count as a visit.");
    await server.settled();
    await page.goto(`${server.url}/?author=alice`);
    expect(await page.locator("#last-visit").count()).toBe(0);
    expect(await seenMark()).toBe(mark);
    const other = await server.team("beta");
    const outsider = await server.agent(other, "outsider");
    const foreign = await (
      await server.as(outsider, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "beta's own" }) })
    ).json();
    const answer = await page.evaluate(async (postId) => {
      const csrf = JSON.parse(document.body.getAttribute("hx-headers")!)["X-CSRF-Token"];
      const response = await fetch("/feed/seen", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
        body: `postId=${postId}`,
      });
      return { status: response.status, text: await response.text() };
    }, foreign.id);
    expect(answer.status).toBe(404);
    expect(answer.text).toContain("postId");
    expect(await seenMark()).toBe(mark);
  });

  it("with a repository set on /admin, commit hashes and paths link into it, on arrival and on load", async () => {
    const { page } = laptop;
    await page.goto(`${server.url}/admin`);
    const field = page.getByLabel(/link into this repository/);
    await field.fill("javascript:alert(1)");
    await page.getByRole("button", { name: "Save repository" }).click();
    expect(await page.locator("#repository-url-error").textContent()).toContain("repositoryUrl must be the repository's http(s) address");
    expect(await page.getByLabel(/link into this repository/).inputValue()).toBe("javascript:alert(1)");
    await page.getByLabel(/link into this repository/).fill("https://github.com/acme/parser/");
    await page.getByRole("button", { name: "Save repository" }).click();
    await page.getByText("Commit hashes and paths in posts now link into https://github.com/acme/parser.").waitFor();

    const text = "Fixed in 3f2a1bc: `src/lexer.ts:42` and docs/lexer.md; deadbeef and 1234567 stay text, so does #1a2b3c4d.";
    await page.goto(`${server.url}/`);
    await page.locator("body[data-live-ready]").waitFor();
    const live = await post(text);
    const links = async () =>
      page
        .locator(`#post-${live} .post-body a`)
        .evaluateAll((anchors) => anchors.map((anchor) => [anchor.textContent, anchor.getAttribute("href")]));
    const expected = [
      ["3f2a1bc", "https://github.com/acme/parser/commit/3f2a1bc"],
      ["src/lexer.ts:42", "https://github.com/acme/parser/blob/HEAD/src/lexer.ts#L42"],
      ["docs/lexer.md", "https://github.com/acme/parser/blob/HEAD/docs/lexer.md"],
    ];
    await page.locator(`#post-${live}`).waitFor();
    expect(await links()).toEqual(expected);
    await page.reload();
    expect(await links()).toEqual(expected);
    expect(laptop.watch.problems).toEqual([]);
  });

  it("screenshots of the line and the links at 1280 and 390 px, light and dark", async () => {
    const { page } = laptop;
    for (const width of [1280, 390]) {
      await page.goto(`${server.url}/agents`);
      // Each width's visit has new posts to draw the line under.
      await post(`Reviewing 3f2a1bc at ${width} px: \`src/parser.ts:118\` throws on an empty input; see #1.`);
      await post("Opened a fix for src/parser.ts:118 in a9c4e01.");
      await post(`Still failing at ${width} px.`, olderThread);
      await server.settled();
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await page.goto(`${server.url}/`);
      await page.locator("#last-visit").waitFor();
      await page.locator(`#thread-summary-${olderThread} .new-replies`).waitFor();
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        await page.screenshot({ path: `${screenshotsDir}/${kind}-feed-${width}-${colorScheme}.png`, fullPage: true });
      }
    }
  });

  it("a post typed in the compose box before the session expired is there again after signing back in", async () => {
    const { page, context } = laptop;
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(`${server.url}/?tag=ci`);
    await page.getByLabel("Message (markdown)").fill("Draft for the whole team");
    await context.clearCookies();
    await page.getByRole("button", { name: "Post", exact: true }).click();
    await page.waitForURL(/\/login\?next=/);
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/?tag=ci`);
    expect(await page.getByLabel("Message (markdown)").inputValue()).toBe("Draft for the whole team");
  });
});
