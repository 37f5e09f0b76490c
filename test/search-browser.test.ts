import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("the search page in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let rootId: number;
  let replyId: number;
  let alice: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    const team = await server.team("alpha");
    alice = await server.agent(team, "alice");
    const bob = await server.agent(team, "bob");
    const write = async (token: string, body: object) =>
      (await (await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number };
    rootId = (
      await write(alice, {
        content: "Sessions expire early: `server/auth/session.ts` compares seconds with milliseconds.",
        tags: ["finding", "auth"],
      })
    ).id;
    replyId = (await write(bob, { content: "The refresh path in session.ts has the same bug. <b>not bold</b>", parentId: rootId })).id;
    await write(bob, { content: "Unrelated: the CSS for dark mode is done.", tags: ["ui"] });
    ({ context, page, watch } = await openPage(browser, { cookie: await server.engineer(team, "ann"), url: server.url }));
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
  });

  it("finds a file by its name, highlights it, and links each result to its place in the thread", async () => {
    await page.goto(`${server.url}/search`);
    await page.getByLabel("Words").fill("session.ts");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/search\?q=session\.ts/);
    expect(await page.getByRole("status").textContent()).toBe("2 matching posts");
    const results = page.locator(".results > li");
    expect(await results.count()).toBe(2);
    expect(await results.locator("mark").allTextContents()).toEqual(["session.ts", "session.ts"]);
    // Agents' text stays text.
    expect(await page.locator(".results b").count()).toBe(0);
    expect(await results.filter({ hasText: "refresh path" }).textContent()).toContain("<b>not bold</b>");
    const links = await results.locator("a.permalink").evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute("href")));
    expect(links.sort()).toEqual([`/posts/${rootId}#post-${replyId}`, `/posts/${rootId}#post-${rootId}`].sort());
    await screenshotBothSchemes(page, `${kind}-search-results`);
    await results.filter({ hasText: "refresh path" }).locator("a.permalink").click();
    await page.waitForURL(`${server.url}/posts/${rootId}#post-${replyId}`);
    expect(await page.locator(`#post-${replyId}`).textContent()).toContain("The refresh path");
    expect(watch.problems).toEqual([]);
  });

  it("operators narrow the results, and an unknown one says which are known, in the page's words, not the API's", async () => {
    await page.goto(`${server.url}/search?q=${encodeURIComponent("session from:bob is:reply")}`);
    expect(await page.locator(".results > li .author").allTextContents()).toEqual(["bob"]);
    await page.goto(`${server.url}/search?q=${encodeURIComponent("#auth")}`);
    expect(await page.locator(".results > li .author").allTextContents()).toEqual(["alice"]);
    const response = await page.goto(`${server.url}/search?q=${encodeURIComponent("session owner:bob")}`);
    expect(response?.status()).toBe(400);
    const alert = await page.getByRole("alert").textContent();
    expect(alert).toMatch(/^'owner:' is not an operator/);
    expect(alert).toContain("from:NAME");
    await screenshotBothSchemes(page, `${kind}-search-unknown-operator`);
    // The page's box is "Words": no message names the REST parameter `q`, in posts' or journals' search.
    for (const [path, said] of [
      ["/search?q=-", "The search has no words to find and no operators."],
      ["/search?q=before%3A2026-02-30", "before: takes a date like 2026-11-30"],
      ["/journal?q=from%3Abob", "journal search takes words"],
    ] as const) {
      expect((await page.goto(`${server.url}${path}`))?.status(), path).toBe(400);
      const refusal = (await page.getByRole("alert").textContent()) ?? "";
      expect(refusal, path).toContain(said);
      expect(refusal, path).not.toContain("q (the search query)");
    }
  });

  it("a result with a 4,000-character word wraps inside its card, on a desktop and a 375 px phone, in posts' and journals' search", async () => {
    const longWord = "Zq7".repeat(1400);
    await (
      await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `widewordpost ${longWord} end` }) })
    ).json();
    const journaling = await connectMcp(server.url, alice);
    try {
      expect((await callTool(journaling, "process_thoughts", { technical_insights: `widewordnote ${longWord} end` })).isError).toBeFalsy();
    } finally {
      await journaling.close();
    }
    const pages = [
      ["search", `/search?q=widewordpost`],
      ["journal-search", `/journal?q=widewordnote`],
    ] as const;
    for (const width of [1000, 375]) {
      await page.setViewportSize({ width, height: 800 });
      for (const [name, path] of pages) {
        await page.goto(`${server.url}${path}`);
        const card = page.locator(".results > li").first();
        await expect(card.locator(".snippet").textContent()).resolves.toContain("Zq7Zq7Zq7");
        const box = (await card.boundingBox())!;
        const [scrollWidth, clientWidth, pageWidth] = await card.evaluate((element) => [
          element.scrollWidth,
          element.clientWidth,
          document.documentElement.scrollWidth,
        ]);
        expect(box.x + box.width, `${name} at ${width} px`).toBeLessThanOrEqual(width);
        expect(scrollWidth, `${name} at ${width} px`).toBeLessThanOrEqual(clientWidth);
        expect(pageWidth, `${name} at ${width} px`).toBeLessThanOrEqual(width);
        await page.screenshot({ path: `${artifactsDir}${kind}-${name}-long-word-${width}.png` });
      }
    }
    await page.setViewportSize({ width: 1000, height: 800 });
    expect(watch.problems).toEqual([]);
  });
});
