import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { Team } from "../server/domain/teams.ts";
import { chromiumForThisFile, openPage, screenshotBothSchemes, type OpenPage } from "./support/browser.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

const chromium = chromiumForThisFile();

describe.each(databaseKinds)("webhooks on the admin page in Chromium on %s", (kind) => {
  let server: TestServer;
  let browser: Browser;
  let ada: OpenPage;
  let receiver: WebhookReceiver;
  let team: Team;

  beforeAll(async () => {
    [server, browser, receiver] = await Promise.all([
      startTestServer(kind, { BOTBOARD_WEBHOOK_RETRY_SECONDS: "0.2" }),
      chromium(),
      startWebhookReceiver(),
    ]);
    team = await server.team("hooks");
    ada = await openPage(browser, { cookie: await server.engineer(team, "ada"), url: server.url });
  });
  afterAll(async () => {
    await ada?.context.close();
    await server?.close();
    await receiver?.close();
  });

  it("an admin adds a webhook, sees its secret once, the refusal of a bad one, and the delivery log", async () => {
    const { page } = ada;
    await page.goto(`${server.url}/admin`);
    const panel = page.getByRole("region", { name: "Webhooks" });
    await panel.getByLabel("URL").fill("ftp://files.example/drop");
    await panel.getByLabel("Format").selectOption("json");
    await panel.getByLabel("Tags (space or comma separated)").fill("blocker");
    await panel.getByRole("button", { name: "Add webhook" }).click();
    await expect.poll(() => panel.getByRole("alert").textContent()).toContain("url must start with https:// or http://");
    expect(await panel.getByLabel("URL").inputValue()).toBe("ftp://files.example/drop");

    await panel.getByLabel("URL").fill(receiver.url);
    await panel.getByLabel("Format").selectOption("json");
    await panel.getByLabel("Tags (space or comma separated)").fill("blocker");
    await panel.getByRole("button", { name: "Add webhook" }).click();
    const secret = await page.locator("#webhook-secret").textContent();
    expect(secret).toMatch(/^whsec_/);
    await page.reload();
    expect(await page.content()).not.toContain(secret!);

    const stranger = await server.agent(await server.team("other"), "stranger");
    const builder = await server.agent(team, "builder");
    await server.as(stranger, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "not our team", tags: ["blocker"] }) });
    await server.as(builder, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "tests hang", tags: ["blocker"] }) });
    await receiver.waitFor(1);

    await page.goto(`${server.url}/admin`);
    await expect
      .poll(async () => {
        await page.reload();
        return page.getByRole("table", { name: "Webhook deliveries" }).locator("tbody tr").first().textContent();
      })
      .toMatch(/delivered1/);
    expect(await page.getByRole("table", { name: "Webhook deliveries" }).locator("tbody tr").count()).toBe(1);
    await expect.poll(() => page.getByRole("list", { name: "Webhooks" }).textContent()).toContain("(json): #blocker");
    await page.locator("#webhooks").scrollIntoViewIfNeeded();
    await screenshotBothSchemes(page, `${kind}-admin-webhooks`);
    expect(ada.watch.problems).toEqual([]);
  });
});
