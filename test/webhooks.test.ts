import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inArray } from "drizzle-orm";
import { webhookDeliveries } from "../server/db/schema/index.ts";
import type { Team } from "../server/domain/teams.ts";
import { addAgentToken, authenticateAgentToken } from "../server/domain/agents.ts";
import { cli } from "../server/domain/callers.ts";
import { createPost } from "../server/domain/posts.ts";
import { createTeam } from "../server/domain/teams.ts";
import { webhooks } from "../server/db/schema/index.ts";
import { databaseKinds, freshDatabase, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

type JsonDelivery = {
  event: string;
  deliveryId: number;
  team: string;
  reasons: string[];
  post: { id: number; content: string; url: string };
};

describe.each(databaseKinds)("outgoing webhooks on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let ada: string;
  let agent: string;
  let receiver: WebhookReceiver;

  const addWebhook = async (fields: Record<string, string>) =>
    postForm(server, "/admin/webhooks", { ...fields, _csrf: await csrfTokenOf(server, ada) }, { cookie: ada });

  /** Adds a webhook through the admin form and returns the secret the one-time page shows. */
  async function addWebhookWithSecret(fields: Record<string, string>): Promise<string> {
    const created = await addWebhook(fields);
    expect(created.status).toBe(303);
    const page = await (await fetch(`${server.url}${created.headers.get("location")}`, { headers: { cookie: ada } })).text();
    const secret = /id="webhook-secret"[^>]*><code>(whsec_[\w-]+)<\/code>/.exec(page)?.[1];
    if (!secret) throw new Error("the created page showed no secret");
    return secret;
  }

  const post = async (token: string, body: Record<string, unknown>) => {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number };
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_WEBHOOK_RETRY_SECONDS: "0.2", BOTBOARD_WEBHOOK_TIMEOUT_MS: "2000" });
    team = await server.team("hooks");
    ada = await server.engineer(team, "ada");
    agent = await server.agent(team, "builder");
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("sends a signed JSON body for a chosen tag, and again after the receiver answers 500", async () => {
    const secret = await addWebhookWithSecret({ url: receiver.url, format: "json", tags: "blocker, #Deploy" });
    receiver.answers.push(500);
    await post(agent, { content: "routine note", tags: ["progress"] });
    const blocker = await post(agent, { content: "CI is red on main", tags: ["blocker"] });
    const [first, retry] = await receiver.waitFor(2);
    expect(first!.body).toBe(retry!.body);
    for (const request of [first!, retry!]) {
      const expected = `sha256=${createHmac("sha256", secret).update(request.body).digest("hex")}`;
      expect(request.headers["x-botboard-signature"]).toBe(expected);
    }
    const body = JSON.parse(retry!.body) as JsonDelivery;
    expect(body).toMatchObject({ event: "post.created", team: "hooks", reasons: ["#blocker"] });
    expect(body.post).toMatchObject({ id: blocker.id, content: "CI is red on main" });
    expect(body.post.url).toMatch(new RegExp(`/posts/${blocker.id}#post-${blocker.id}$`));

    // The receiver has the request before the sender has written down its answer.
    const adminPage = async () => (await fetch(`${server.url}/admin`, { headers: { cookie: ada } })).text();
    await expect.poll(adminPage).toMatch(/<td class="status-live">delivered<\/td><td>2<\/td>/);
    expect(await adminPage()).not.toContain(secret);
    receiver.received.length = 0;
  });

  it("escapes agent text in Slack messages, so a post cannot ping @channel or craft a link", async () => {
    const slack = await startWebhookReceiver();
    try {
      expect((await addWebhook({ url: slack.url, format: "slack", mentions: "@Ada", urgent: "on" })).status).toBe(303);
      await post(agent, { content: "@ada <!channel> see <https://evil.example|your bank> & more" });
      const [request] = await slack.waitFor(1);
      const { text } = JSON.parse(request!.body) as { text: string };
      expect(text).toContain("&lt;!channel&gt; see &lt;https://evil.example|your bank&gt; &amp; more");
      expect(text).not.toContain("<!channel>");
      expect(text).toMatch(/^\*builder \(agent\)\* in hooks · @ada · <http:\/\/[^|]+\/posts\/\d+#post-\d+\|post #\d+>\n/);
      expect(request!.headers["x-botboard-signature"]).toBeUndefined();
    } finally {
      await slack.close();
    }
  });

  it("cuts a long post for Slack on whole characters, never through an emoji's surrogate pair", async () => {
    const slack = await startWebhookReceiver();
    try {
      expect((await addWebhook({ url: slack.url, format: "slack", tags: "long" })).status).toBe(303);
      // The emoji's two UTF-16 units are the 3,000th and 3,001st: a cut at 3,000 would keep only its first.
      await post(agent, { content: `${"a".repeat(2999)}🎉 and more`, tags: ["long"] });
      const [request] = await slack.waitFor(1);
      expect(request!.body).not.toMatch(/\\ud83c/i);
      const { text } = JSON.parse(request!.body) as { text: string };
      expect(text.endsWith(`\n${"a".repeat(2999)}…`)).toBe(true);
    } finally {
      await slack.close();
    }
  });

  it("refuses a bad webhook with a 4xx that names the field", async () => {
    const refusals: [Record<string, string>, number, RegExp][] = [
      [{ url: "ftp://files.example/x", format: "json", tags: "blocker" }, 400, /url must start with https:\/\/ or http:\/\//],
      [{ url: "not a url", format: "json", tags: "blocker" }, 400, /url is not a URL/],
      [{ url: "https://user:pw@hooks.example/x", format: "json", tags: "blocker" }, 400, /url may not carry a user name/],
      [{ url: "https://hooks.example/x", format: "xml", tags: "blocker" }, 400, /format must be slack or json/],
      [{ url: "https://hooks.example/x", format: "json", tags: "no spaces!" }, 400, /tags: .* is not a tag/],
      [{ url: "https://hooks.example/x", format: "json" }, 422, /at least one tag/],
    ];
    for (const [fields, status, message] of refusals) {
      const refused = await addWebhook(fields);
      expect(refused.status, JSON.stringify(fields)).toBe(status);
      expect(await refused.text()).toMatch(message);
    }
    const member = await server.engineer(team, "kim", "member");
    const forbidden = await postForm(
      server,
      "/admin/webhooks",
      { url: "https://hooks.example/x", format: "json", tags: "x", _csrf: await csrfTokenOf(server, member) },
      { cookie: member },
    );
    expect(forbidden.status).toBe(403);
  });

  it("an admin deletes a webhook of her team; another team's admin cannot", async () => {
    expect((await addWebhook({ url: "https://hooks.example/services/T0/B0/secretpart", format: "slack", tags: "deploy" })).status).toBe(
      303,
    );
    const admin = await (await fetch(`${server.url}/admin`, { headers: { cookie: ada } })).text();
    expect(admin).toContain("https://hooks.example/service…");
    expect(admin).not.toContain("secretpart");
    const id = /action="\/admin\/webhooks\/([0-9a-f-]{36})\/delete"[^>]*data-confirm="Delete the webhook to https:\/\/hooks.example/.exec(
      admin,
    )?.[1];
    expect(id).toBeDefined();

    const other = await server.engineer(await server.team("other-hooks"), "olga");
    const refused = await postForm(server, `/admin/webhooks/${id}/delete`, { _csrf: await csrfTokenOf(server, other) }, { cookie: other });
    expect(refused.status).toBe(404);

    const deleted = await postForm(server, `/admin/webhooks/${id}/delete`, { _csrf: await csrfTokenOf(server, ada) }, { cookie: ada });
    expect(deleted.status).toBe(303);
    expect(await (await fetch(`${server.url}/admin`, { headers: { cookie: ada } })).text()).not.toContain(`/admin/webhooks/${id}/delete`);
  });

  it.runIf(kind === "postgres")("two server processes on one Postgres deliver each post exactly once", async () => {
    const shared = await startWebhookReceiver();
    const replica = await server.replica({ BOTBOARD_WEBHOOK_RETRY_SECONDS: "0.2" });
    try {
      expect((await addWebhook({ url: shared.url, format: "json", tags: "release" })).status).toBe(303);
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) ids.push((await post(agent, { content: `release step ${i}`, tags: ["release"] })).id);
      const received = await shared.waitFor(ids.length);
      // Every row is settled, so nothing more will be sent: what arrived is all that ever will.
      for (;;) {
        const open = await server.database.db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(inArray(webhookDeliveries.status, ["pending", "sending"]));
        if (open.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const sentIds = received.map((request) => (JSON.parse(request.body) as JsonDelivery).post.id);
      expect([...sentIds].sort((a, b) => a - b)).toEqual(ids);
    } finally {
      await replica.close();
      await shared.close();
    }
  });

  it("a post owes its deliveries from the moment it commits: written with no server running, sent when one starts; rolled back, owed none", async () => {
    const database = await freshDatabase(kind);
    const offline = await startWebhookReceiver();
    try {
      const opened = await database.open();
      try {
        const { db } = opened;
        const team = await createTeam(db, { name: "Offline", slug: "offline" });
        const { token } = await addAgentToken(db, cli, { teamId: team.id, name: "night-shift" });
        const caller = await authenticateAgentToken(db, token);
        await db
          .insert(webhooks)
          .values({ teamId: team.id, url: offline.url, format: "json", secret: "s", tags: ["blocker"], createdBy: "test" });
        await createPost(db, caller, { content: "written while no server ran", tags: ["blocker"] });
        await db
          .transaction(async (tx) => {
            await createPost(tx as never, caller, { content: "never committed", tags: ["blocker"] });
            // Inside its transaction the post already owes a delivery; the rollback takes both away.
            expect(await tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries)).toHaveLength(2);
            throw new Error("roll back");
          })
          .catch((error: Error) => expect(error.message).toBe("roll back"));
        expect(offline.received).toHaveLength(0);
      } finally {
        await opened.close();
      }
      const later = await startTestServer(kind, database.env);
      try {
        const [request] = await offline.waitFor(1);
        expect((JSON.parse(request!.body) as JsonDelivery).post.content).toBe("written while no server ran");
        const statuses = () => later.database.db.select({ status: webhookDeliveries.status }).from(webhookDeliveries);
        await expect.poll(statuses).toEqual([{ status: "delivered" }]);
      } finally {
        await later.close();
      }
    } finally {
      await offline.close();
      await database.drop();
    }
  });
});
