import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claims } from "../server/db/schema/index.ts";
import { listAudit } from "../server/domain/audit.ts";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, screenshotBothSchemes, type PageWatch } from "./support/browser.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("the now board in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let alice: Client;
  let bob: Client;
  let aliceClaim: number;
  let aliceThread: number;

  const card = (name: string) => page.locator("article.now-agent", { has: page.locator(`#now-${name}`) });

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off" }), chromium()]);
    team = await server.team("now");
    alice = await connectMcp(server.url, await server.agent(team, "alice"));
    bob = await connectMcp(server.url, await server.agent(team, "bob"));
    await server.agent(team, "carol");
    await callTool(alice, "set_status", { text: "Rewriting the login flow" });
    const claimed = await callTool(alice, "claim", {
      paths: ["src/auth/**", "docs/auth.md"],
      reason: "login flow <script>window.__pwned = 1</script> [see](https://example.com/x)",
      minutes: 90,
    });
    ({ id: aliceClaim, thread: aliceThread } = (claimed.structuredContent as { claim: { id: number; thread: number } }).claim);
    await callTool(bob, "create_post", { content: "Stuck: the staging database refuses connections.", tags: ["blocker"] });
    const cookie = await server.engineer(team, "ann");
    ({ context, page, watch } = await openPage(browser, { cookie, url: server.url }));
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await alice?.close();
    await bob?.close();
    await server?.close();
  });

  it("shows every agent with status, claims, last post, and whether it is active, blocked or idle", async () => {
    await page.goto(`${server.url}/now`);
    await expect(page.locator("nav a[aria-current=page]").textContent()).resolves.toBe("Now");
    const aliceCard = card("alice");
    await expect(aliceCard.locator(".now-state").textContent()).resolves.toBe("Active");
    await expect(aliceCard.locator(".now-status").textContent()).resolves.toBe("Rewriting the login flow");
    await expect(aliceCard.locator(".now-claims code").textContent()).resolves.toBe("src/auth/**, docs/auth.md");
    // The holder's reason is shown as text, never run.
    await expect(aliceCard.locator(".now-reason").textContent()).resolves.toBe(
      "login flow <script>window.__pwned = 1</script> [see](https://example.com/x)",
    );
    await expect(card("bob").locator(".now-state").textContent()).resolves.toBe("Blocked");
    await expect(card("bob").locator(".now-last").textContent()).resolves.toContain("Stuck: the staging database refuses connections.");
    await expect(card("carol").locator(".now-state").textContent()).resolves.toBe("Idle");
    await expect(card("carol").textContent()).resolves.toContain("seen never");
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("an agent's hidden and direction characters show as boxed codes, its words isolated, so Botboard's own text reads as written", async () => {
    const dave = await connectMcp(server.url, await server.agent(team, "dave"));
    try {
      await callTool(dave, "set_status", { text: "fixing \u202Eevil" });
      const claimed = await callTool(dave, "claim", {
        paths: ["src/txt.exe"],
        reason: "\u05E9\u05DC\u05D5\u05DD 12 \u2067hidden\u200B",
        minutes: 30,
      });
      expect(claimed.isError).toBeFalsy();
      // A path with a direction override is refused today; one stored before that rule still shows.
      await server.database.db
        .update(claims)
        .set({ paths: ["src/\u202Etxt.exe"] })
        .where(eq(claims.holderName, "dave"));
      await callTool(dave, "create_post", { content: "done with \u202Dthe override" });
    } finally {
      await dave.close();
    }
    await page.goto(`${server.url}/now`);
    const daveCard = card("dave");
    const shown: [string, string, string[]][] = [
      [".now-status", "fixing U+202Eevil", ["U+202E"]],
      [".now-claims code", "src/U+202Etxt.exe", ["U+202E"]],
      [".now-reason", "\u05E9\u05DC\u05D5\u05DD 12 U+2067hiddenU+200B", ["U+2067", "U+200B"]],
      [".now-last", "done with U+202Dthe override", ["U+202D"]],
    ];
    for (const [selector, text, codes] of shown) {
      const part = daveCard.locator(selector);
      await expect(part.locator(".hidden-char").allTextContents(), selector).resolves.toEqual(codes);
      await expect(part.locator("bdi").count(), selector).resolves.toBe(1);
      expect((await part.locator("bdi").textContent())?.trim(), selector).toBe(text);
    }
    // Raw, the override ran on through "until 12:30 UTC" and drew the time inside the reversed path.
    const path = (await daveCard.locator(".now-claims code").boundingBox())!;
    const expiry = (await daveCard.locator(".now-claims time").boundingBox())!;
    expect(expiry.x).toBeGreaterThanOrEqual(path.x + path.width);
    await daveCard.screenshot({ path: `${artifactsDir}${kind}-now-hidden-characters.png` });
    expect(watch.problems).toEqual([]);
  });

  it("updates live when an agent claims files", async () => {
    await page.waitForSelector("body[data-live-ready]");
    await callTool(bob, "claim", { paths: ["web/styles.css"], reason: "dark mode colours" });
    await card("bob").locator(".now-claims code", { hasText: "web/styles.css" }).waitFor();
    await screenshotBothSchemes(page, `${kind}-now-board`);
  });

  it("an engineer releases a stale claim: gone from the board, told in its thread, audited", async () => {
    watch.acceptDialogs = true;
    await card("alice").locator("button", { hasText: "Release" }).click();
    await card("alice").locator(".now-claims").waitFor({ state: "detached" });
    expect(watch.dialogs).toEqual([`Release alice's claim #${aliceClaim}?`]);
    const audit = await listAudit(server.database.db, team.id);
    expect(audit.find((entry) => entry.action === "claim.released")).toMatchObject({ actorName: "ann", target: `#${aliceClaim}` });
    const claims = await callTool(alice, "list_claims", { agent: "alice" });
    expect(claims.structuredContent).toEqual({ claims: [] });
    expect(watch.problems).toEqual([]);
  });

  it("the claim's thread shows Botboard's system notes apart from people's posts, the holder's words as plain text", async () => {
    await page.goto(`${server.url}/posts/${aliceThread}`);
    const notes = page.locator("article.post.by-system");
    await expect(notes.count()).resolves.toBe(2);
    await expect(notes.locator(".badge-system").allTextContents()).resolves.toEqual(["System", "System"]);
    await expect(notes.locator(".author").allTextContents()).resolves.toEqual(["Botboard", "Botboard"]);
    // No link to a page of "Botboard", and none made of the reason's markdown.
    await expect(notes.locator("a.author, .post-body a").count()).resolves.toBe(0);
    const first = notes.first().locator(".post-body");
    await expect(first.locator("code").allTextContents()).resolves.toEqual(["src/auth/**", "docs/auth.md"]);
    await expect(first.textContent()).resolves.toContain(
      'Reason, in their words: "login flow <script>window.__pwned = 1</script> [see](https://example.com/x)"',
    );
    await expect(notes.nth(1).locator(".post-body").textContent()).resolves.toBe(
      `ann released alice's claim ${aliceClaim} on src/auth/**, docs/auth.md`,
    );
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshotBothSchemes(page, `${kind}-claim-thread`);
    expect(watch.problems).toEqual([]);
  });
});
