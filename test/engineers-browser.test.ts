import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm, postFromWebForm } from "./support/web.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("managing engineers in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let admin: OpenPage;
  let adminCookie: string;
  let member: OpenPage;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    adminCookie = await server.engineer(team, "ann", "admin");
    admin = await openPage(browser, { cookie: adminCookie, url: server.url });
    member = await openPage(browser, { cookie: await server.engineer(team, "mo", "member"), url: server.url });
  });
  afterAll(async () => {
    await admin?.context.close();
    await member?.context.close();
    await server?.close();
  });

  it("an admin disables an engineer after confirming; the engineer's open feed goes to the sign-in page at once", async () => {
    await member.page.goto(`${server.url}/`);
    await member.page.locator("body[data-live-ready]").waitFor();

    await admin.page.goto(`${server.url}/admin/engineers`);
    const status = admin.page.locator('tr[data-username="mo"] .engineer-status');
    expect(await status.textContent()).toBe("active");
    await screenshotBothSchemes(admin.page, `${kind}-engineers`);

    // Dismissing the confirmation changes nothing.
    await admin.page.getByRole("button", { name: "Disable mo" }).click();
    expect(admin.watch.dialogs.at(-1)).toContain("Disable mo? Their sessions end now.");
    expect(await status.textContent()).toBe("active");

    admin.watch.acceptDialogs = true;
    await admin.page.getByRole("button", { name: "Disable mo" }).click();
    await admin.page.waitForURL(/\/admin\/engineers$/);
    expect(await status.textContent()).toBe("disabled");
    await member.page.waitForURL(/\/login/, { timeout: 2000 });

    await admin.page.getByRole("button", { name: "Enable mo" }).click();
    await admin.page.waitForURL(/\/admin\/engineers$/);
    expect(await status.textContent()).toBe("active");
    await member.page.getByLabel("Username").fill("mo");
    await member.page.getByLabel("Password").fill("correct horse battery");
    await member.page.getByRole("button", { name: "Sign in" }).click();
    await member.page.locator("body[data-live-ready]").waitFor();
    expect(admin.watch.problems).toEqual([]);
    expect(member.watch.problems).toEqual([]);
  });

  it("deleting an engineer signs their posts anew on open pages as a reload shows them: card, thread summary, and the admin's Delete form kept", async () => {
    const dee = await server.engineer(team, "dee", "member");
    const writer = await server.agent(team, "writer");
    const { id: plan } = (await (
      await server.as(writer, "/api/v1/posts", { method: "POST", body: '{"content":"deploy plan"}' })
    ).json()) as {
      id: number;
    };
    const deePost = (fields: Record<string, string>) => postFromWebForm(server, team.id, dee, fields);
    const finding = await deePost({ content: "dee's finding" });
    await deePost({ content: "looks good", parentId: String(plan) });

    const watcher = await openPage(browser, { cookie: await server.engineer(team, "wil", "member"), url: server.url });
    try {
      await watcher.page.goto(`${server.url}/?mode=threads`);
      await admin.page.goto(`${server.url}/posts/${finding}`);
      for (const { page } of [watcher, admin]) await page.locator("body[data-live-ready]").waitFor();
      const latestReply = watcher.page.locator(`#thread-summary-${plan} .latest-reply`);
      expect(await latestReply.textContent()).toMatch(/ by dee$/);

      const deleted = await postForm(
        server,
        "/admin/engineers/dee/delete",
        { _csrf: await csrfTokenOf(server, adminCookie) },
        { cookie: adminCookie },
      );
      expect(deleted.status).toBe(303);
      const renamed = "dee (deleted engineer)";
      for (const { page } of [watcher, admin])
        await page.locator(`#post-${finding}-author`, { hasText: renamed }).waitFor({ timeout: 5_000 });
      await watcher.page.locator(`#thread-summary-${plan} .latest-reply`, { hasText: `by ${renamed}` }).waitFor({ timeout: 5_000 });
      const deleteForm = admin.page.locator(`#post-${finding} form.delete-form [name=_csrf]`);
      expect(await deleteForm.inputValue()).toBe(await admin.page.locator("body [name=_csrf]").first().inputValue());

      // What the page shows now is what a reload shows.
      const shown = async () => ({
        author: await watcher.page.locator(`#post-${finding}-author`).evaluate((element) => element.outerHTML),
        latest: await latestReply.textContent(),
      });
      const live = await shown();
      await watcher.page.reload();
      expect(await shown()).toEqual(live);
      expect(watcher.watch.problems).toEqual([]);
      expect(admin.watch.problems).toEqual([]);
    } finally {
      await watcher.context.close();
    }
  });
});
