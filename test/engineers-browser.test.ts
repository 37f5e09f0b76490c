import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("managing engineers in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let team: Team;
  let admin: OpenPage;
  let member: OpenPage;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(kind), chromium()]);
    team = await server.team("alpha");
    admin = await openPage(browser, { cookie: await server.engineer(team, "ann", "admin"), url: server.url });
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
});
