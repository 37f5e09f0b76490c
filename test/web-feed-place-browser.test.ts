import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { artifactsDir, chromiumForThisFile, openPage, type PageWatch } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const axeSource = (createRequire(import.meta.url)("axe-core") as { source: string }).source;
const chromium = chromiumForThisFile();

type AxeViolation = { id: string; impact: string | null; nodes: { target: string[] }[] };

/** axe-core's serious and critical findings on the page as it is now, in the current colour scheme. */
async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated rather than added as a script tag: the page's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
}

describe.each(databaseKinds)("finding your place in the web feed on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let team: Team;
  let alice: string;
  let bob: string;
  let admin: string;
  let incident: { id: number };
  let replies: { id: number }[];
  let serverClosed = false;

  const post = async (token: string, body: Record<string, unknown>) => {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number; threadId: number };
  };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    alice = await server.agent(team, "alice");
    bob = await server.agent(team, "bob");
    await post(alice, { content: "Starting on the parser." });
    incident = await post(alice, { content: "Incident: CI is red on main." });
    replies = [];
    for (const content of ["Looking", "It is the locale test", "Fixed in the next commit"]) {
      replies.push(await post(content === "Looking" ? alice : bob, { content, parentId: incident.id }));
    }
    await post(bob, { content: `Back to the docs; see #${incident.id} for the CI story.` });
    admin = await server.engineer(team, "ann");
    ({ context, page, watch } = await openPage(browser, { cookie: admin, url: server.url }));
  });
  afterAll(async () => {
    await context?.close();
    if (!serverClosed) await server?.close();
  });

  it("threads are collapsed by default, open in place, and the flat view is remembered", async () => {
    await page.goto(`${server.url}/`);
    const cards = page.locator("#feed > .post");
    expect(await cards.count()).toBe(3);
    const thread = page.locator(`#post-${incident.id}`);
    const summary = await thread.locator(".thread-summary").textContent();
    expect(summary).toMatch(/^3 replies, latest (just now|\d+ sec\. ago) by bobShow replies$/);
    expect(await thread.locator(".permalink b").textContent()).toBe(`#${incident.id}`);

    await thread.getByRole("button", { name: "Show replies" }).click();
    await page.locator(`#replies-of-${incident.id} .post`).nth(2).waitFor();
    expect(await page.locator(`#replies-of-${incident.id} .post-body`).allTextContents()).toEqual([
      "Looking",
      "It is the locale test",
      "Fixed in the next commit",
    ]);
    await thread.getByRole("button", { name: "Hide replies" }).click();
    expect(await page.locator(`#replies-of-${incident.id}`).isHidden()).toBe(true);

    await page.getByRole("link", { name: "Everything" }).click();
    await page.waitForURL(/mode=everything/);
    expect(await cards.count()).toBe(6);
    await page.goto(`${server.url}/`);
    expect(await cards.count()).toBe(6);
    await page.getByRole("link", { name: "Threads" }).click();
    await page.waitForURL(/mode=threads/);
    expect(await cards.count()).toBe(3);
    expect(watch.problems).toEqual([]);
  });

  it("a live reply in the collapsed feed updates its thread's summary instead of flooding the top", async () => {
    await page.goto(`${server.url}/`);
    await page.locator("body[data-live-ready]").waitFor();
    expect(await page.locator("#live-status").textContent()).toContain("Live");
    await post(alice, { content: "Confirmed green", parentId: incident.id });
    await page.locator(`#post-${incident.id} .reply-count`).filter({ hasText: "4 replies" }).waitFor();
    expect(await page.locator(`#post-${incident.id} .latest-reply`).textContent()).toBe(", latest just now by alice");
    expect(await page.locator("#feed > .post").count()).toBe(3);
  });

  it("#123 in a post links to that post, and its permalink scrolls to it and marks it", async () => {
    await page.setViewportSize({ width: 1000, height: 400 });
    await page.goto(`${server.url}/?mode=everything`);
    const reference = page.locator(".post-body a.post-ref").first();
    expect(await reference.textContent()).toBe(`#${incident.id}`);
    const target = replies[2]!.id;
    await page.goto(`${server.url}/posts/${target}#post-${target}`);
    const card = page.locator(`#post-${target}`);
    expect(await card.evaluate((element) => element.matches(":target"))).toBe(true);
    expect(await card.evaluate((element) => getComputedStyle(element).outlineStyle)).toBe("solid");
    await expect.poll(() => card.isVisible()).toBe(true);
    const box = (await card.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeLessThan(400);
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  it("older posts are their own URL, so Back comes back to the same page", async () => {
    for (let index = 0; index < 22; index++) await post(alice, { content: `Progress note ${index}` });
    await page.goto(`${server.url}/?mode=everything`);
    await page.getByRole("link", { name: "Older posts" }).click();
    await page.waitForURL(/cursor=/);
    const olderUrl = page.url();
    const firstOlder = await page.locator("#feed > .post").first().getAttribute("id");
    expect(await page.getByText("Back to the newest").count()).toBe(1);
    await page.locator("#feed > .post .permalink").first().click();
    await page.waitForURL(/\/posts\//);
    await page.goBack();
    expect(page.url()).toBe(olderUrl);
    expect(await page.locator("#feed > .post").first().getAttribute("id")).toBe(firstOlder);
  });

  it("unknown URLs, a member at /admin and refused admin forms are pages with a way back and the input kept", async () => {
    const missing = await page.goto(`${server.url}/nope`);
    expect(missing?.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Not found");
    await page.getByRole("link", { name: "Back to the feed" }).click();
    await page.waitForURL(`${server.url}/`);

    const script = await fetch(`${server.url}/nope`);
    expect(script.status).toBe(404);
    expect((await script.json()).error.code).toBe("not_found");
    const icon = await fetch(`${server.url}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    expect(await icon.text()).toMatch(/^<svg /);

    await page.goto(`${server.url}/admin`);
    await page.getByLabel("Name", { exact: true }).fill("Bad Name!");
    await page.getByRole("button", { name: "Create agent and token" }).click();
    await page.locator("#agent-name-error").waitFor();
    expect(await page.locator("#agent-name-error").textContent()).toMatch(/name/i);
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Bad Name!");

    watch.acceptDialogs = true;
    await page.getByLabel("Post #").fill("999999");
    await page.locator("section[aria-labelledby=moderate]").getByRole("button", { name: "Delete" }).click();
    await page.locator("#delete-id-error").waitFor();
    watch.acceptDialogs = false;
    expect(await page.locator("#delete-id-error").textContent()).toContain("999999");
    expect(await page.getByLabel("Post #").inputValue()).toBe("999999");

    const member = await openPage(browser, { cookie: await server.engineer(team, "mo", "member"), url: server.url });
    const refused = await member.page.goto(`${server.url}/admin`);
    expect(refused?.status()).toBe(403);
    expect(await member.page.getByRole("heading", { level: 1 }).textContent()).toBe("Not allowed");
    expect(await member.page.getByRole("link", { name: "Back to the feed" }).count()).toBe(1);
    await member.context.close();
  });

  it("a new agent's page shows set-ups for Claude Code, Codex, Cursor, HTTP and stdio, and a CLAUDE.md snippet", async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByLabel("Name", { exact: true }).fill("cursor-1");
    await page.getByRole("button", { name: "Create agent and token" }).click();
    await page.waitForURL(/\/admin\/agents\/created\//);
    const token = (await page.locator("#new-token").textContent())!.trim();
    expect(await page.getByRole("heading", { name: /^Claude Code/ }).textContent()).toContain("local scope");
    expect(await page.locator("#setup-cursor").textContent()).toContain(`Bearer \${env:BOTBOARD_TOKEN}`);
    expect(await page.locator("#setup-generic").textContent()).toContain(`Bearer \${BOTBOARD_TOKEN}`);
    expect(await page.locator("#setup-generic").textContent()).toContain(`export BOTBOARD_TOKEN=${token}`);
    expect(JSON.parse((await page.locator("#setup-stdio").textContent())!).mcpServers.botboard.args).toEqual(["mcp"]);
    expect(await page.locator("#setup-instructions").textContent()).toContain("Team feed (Botboard)");
  });

  it("a reply typed before the session expired is there again after signing back in", async () => {
    await page.goto(`${server.url}/posts/${incident.id}`);
    await page.getByLabel(/Your reply/).fill("Draft that must not be lost");
    await context.clearCookies();
    await page.getByRole("button", { name: "Reply" }).click();
    await page.waitForURL(/\/login\?next=/);
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/posts/${incident.id}`);
    expect(await page.getByLabel(/Your reply/).inputValue()).toBe("Draft that must not be lost");
    await page.getByRole("button", { name: "Reply" }).click();
    await page.locator(".post-body", { hasText: "Draft that must not be lost" }).waitFor();
    await page.reload();
    expect(await page.getByLabel(/Your reply/).inputValue()).toBe("");
  });

  it("keyboard: j and k move between posts, r replies, Ctrl+Enter sends, / searches, ? lists the keys", async () => {
    await page.goto(`${server.url}/?mode=everything`);
    const focusedId = () => page.evaluate(() => document.activeElement?.id);
    const ids = await page.locator("#feed > .post").evaluateAll((nodes) => nodes.map((node) => node.id));
    await page.keyboard.press("j");
    expect(await focusedId()).toBe(ids[0]);
    await page.keyboard.press("j");
    expect(await focusedId()).toBe(ids[1]);
    await page.keyboard.press("k");
    expect(await focusedId()).toBe(ids[0]);

    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await help.waitFor();
    expect(await help.textContent()).toContain("Ctrl+Enter");
    await page.keyboard.press("Escape");
    await help.waitFor({ state: "hidden" });

    const threadId = await page.locator(`#${ids[0]}`).getAttribute("data-thread-id");
    await page.keyboard.press("r");
    await page.waitForURL(`${server.url}/posts/${threadId}#reply-content`);
    await expect.poll(focusedId).toBe("reply-content");
    await page.keyboard.type("Sent with the keyboard");
    await page.keyboard.press("Control+Enter");
    await page.locator("#replies .post-body", { hasText: "Sent with the keyboard" }).waitFor();

    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("/");
    await page.waitForURL(`${server.url}/search`);
    await expect.poll(focusedId).toBe("search-q");
  });

  it("on a 390 px phone the compose form and filters are folded and the first post shows at once", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/`);
    expect(await page.getByLabel("Message (markdown)").isVisible()).toBe(false);
    expect(await page.getByLabel("Tag", { exact: true }).isVisible()).toBe(false);
    const first = (await page.locator("#feed > .post").first().boundingBox())!;
    expect(first.y + 60).toBeLessThan(844);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.getByText("Post to the team").click();
    expect(await page.getByLabel("Message (markdown)").isVisible()).toBe(true);
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.goto(`${server.url}/`);
    expect(await page.getByLabel("Message (markdown)").isVisible()).toBe(true);
  });

  // The pages' markup and styles do not depend on the database: checked (forty axe runs) on one.
  it.runIf(kind === "pglite")(
    "every page has no serious or critical axe finding, light and dark, at 1280 and 390 px",
    async () => {
      const paths = [
        "/",
        "/?mode=everything",
        `/posts/${incident.id}`,
        "/search?q=locale",
        "/agents",
        "/agents/alice",
        "/journal",
        "/admin",
        "/bench",
        "/nope",
      ];
      const found: string[] = [];
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
        for (const path of paths) {
          await page.goto(`${server.url}${path}`);
          for (const colorScheme of ["light", "dark"] as const) {
            await page.emulateMedia({ colorScheme });
            for (const violation of await seriousViolations(page)) found.push(`${path} ${colorScheme} ${width}px: ${violation}`);
            const name = path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "") || "feed";
            await page.screenshot({ path: `${artifactsDir}${kind}-place-${name}-${width}-${colorScheme}.png`, fullPage: true });
          }
        }
      }
      await page.emulateMedia({ colorScheme: "light" });
      await page.setViewportSize({ width: 1000, height: 800 });
      expect(found).toEqual([]);
    },
    600_000,
  );

  it("says so when the live connection is down", async () => {
    await page.goto(`${server.url}/`);
    await page.locator("body[data-live-ready]").waitFor();
    expect(await page.locator("#live-status").getAttribute("data-state")).toBe("live");
    serverClosed = true;
    await server.close();
    await page.locator('#live-status[data-state="reconnecting"]').waitFor();
    expect(await page.locator("#live-status").textContent()).toContain("Reconnecting");
  });
});
