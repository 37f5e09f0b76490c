import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/main.ts";
import { listAudit } from "../server/domain/audit.ts";
import type { Team } from "../server/domain/teams.ts";
import { botboardOnFreshDatabase, runBotboard, type BotboardOnFreshDatabase, type ServedBotboard } from "./support/cli.ts";
import { followEvents } from "./support/events.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, engineerFromSetupToken, postForm } from "./support/web.ts";

const password = "correct horse battery";

describe.each(databaseKinds)("engineers' lifecycle on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let ada: string;
  let adaCsrf: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    ada = await server.engineer(alpha, "ada", "admin");
    adaCsrf = await csrfTokenOf(server, ada);
  });
  afterAll(() => server?.close());

  /** A form on /admin/engineers, sent by ada from the page. */
  const asAda = (path: string, fields: Record<string, string> = {}) =>
    postForm(server, path, { ...fields, _csrf: adaCsrf }, { cookie: ada });

  /** Ada invites a member from /admin; the link is on the page the form redirects to. Returns its token. */
  const inviteMember = async () => {
    const invited = await asAda("/admin/invites", { role: "member" });
    expect(invited.status).toBe(303);
    const view = await fetch(`${server.url}${invited.headers.get("location")}`, { headers: { cookie: ada } });
    return /setup\?token=([a-z2-7]+)/.exec(await view.text())![1]!;
  };

  const signIn = (username: string, secret = password) =>
    fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify({ username, password: secret }),
    });

  const statusOf = async (cookie: string, path = "/") =>
    (await fetch(`${server.url}${path}`, { headers: { cookie }, redirect: "manual" })).status;

  const engineersPage = async () => {
    const response = await fetch(`${server.url}/admin/engineers`, { headers: { cookie: ada } });
    expect(response.status).toBe(200);
    return response.text();
  };

  /** The row of an engineer on /admin/engineers: their role (the selected option) and status. */
  const rowOf = async (username: string) => {
    const page = await engineersPage();
    const row = new RegExp(`<tr data-username="${username}">([\\s\\S]*?)</tr>`).exec(page)?.[1];
    if (!row) return undefined;
    return {
      role: /<option value="(\w+)" selected/.exec(row)?.[1],
      status: /class="engineer-status">(\w+)</.exec(row)?.[1],
    };
  };

  it("disabling an engineer closes their open live feed within a second; their next request and sign-in are refused until enabled", async () => {
    const mo = await server.engineer(alpha, "mo", "member");
    const feed = followEvents(server.url, mo, { reconnect: false });
    try {
      await feed.waitFor((event) => event.event === "ready");
      const started = Date.now();
      expect((await asAda("/admin/engineers/mo/disable")).status).toBe(303);
      await feed.waitFor((event) => event.event === "signed-out", 1000);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      feed.close();
    }
    expect(await statusOf(mo)).toBe(303);
    expect(await rowOf("mo")).toEqual({ role: "member", status: "disabled" });

    const refused = await signIn("mo");
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toMatch(/disabled/);
    const form = await postForm(server, "/login", { username: "mo", password });
    expect(form.status).toBe(403);
    expect(await form.text()).toContain("This account is disabled");
    // A wrong password says only that, as for anyone: the account's state is for whoever knows the password.
    expect((await signIn("mo", "a wrong password")).status).toBe(401);

    expect((await asAda("/admin/engineers/mo/enable")).status).toBe(303);
    expect((await signIn("mo")).status).toBe(200);
    expect(await rowOf("mo")).toEqual({ role: "member", status: "active" });
  });

  it("signing out closes the live feed of that session, not the engineer's other sessions", async () => {
    const first = await server.engineer(alpha, "sue", "member");
    const second = (await signIn("sue")).headers.get("set-cookie")!.split(";")[0]!;
    const ending = followEvents(server.url, first, { reconnect: false });
    const staying = followEvents(server.url, second, { reconnect: false });
    try {
      await Promise.all([ending.waitFor((event) => event.event === "ready"), staying.waitFor((event) => event.event === "ready")]);
      const started = Date.now();
      const csrf = await csrfTokenOf(server, first);
      expect((await postForm(server, "/logout", { _csrf: csrf }, { cookie: first })).status).toBe(303);
      await ending.waitFor((event) => event.event === "signed-out", 1000);
      expect(Date.now() - started).toBeLessThan(1000);
      const posted = await postForm(
        server,
        "/posts",
        { content: "still live for the other session", _csrf: await csrfTokenOf(server, second) },
        { cookie: second },
      );
      expect(posted.status).toBe(303);
      await staying.waitFor((event) => event.event === "post" && event.data.includes("still live for the other session"));
      expect(staying.events.some((event) => event.event === "signed-out")).toBe(false);
    } finally {
      ending.close();
      staying.close();
    }
  });

  it("an admin changes a role: a member made admin may administer at once, and loses it when made member again", async () => {
    const kim = await server.engineer(alpha, "kim", "member");
    expect(await statusOf(kim, "/admin/engineers")).toBe(403);
    expect(
      (await postForm(server, "/admin/engineers/ada/role", { role: "member", _csrf: await csrfTokenOf(server, kim) }, { cookie: kim }))
        .status,
    ).toBe(403);

    expect((await asAda("/admin/engineers/kim/role", { role: "admin" })).status).toBe(303);
    expect(await statusOf(kim, "/admin/engineers")).toBe(200);
    expect(await rowOf("kim")).toEqual({ role: "admin", status: "active" });
    expect((await asAda("/admin/engineers/KIM/role", { role: "member" })).status).toBe(303);
    expect(await statusOf(kim, "/admin/engineers")).toBe(403);
    expect((await asAda("/admin/engineers/kim/role", { role: "owner" })).status).toBe(400);
    expect((await asAda("/admin/engineers/nobody/role", { role: "admin" })).status).toBe(404);
  });

  it("the last admin of a team cannot be demoted, disabled or deleted, even by two admins acting at once", async () => {
    const gamma = await server.team("gamma");
    const gus = await server.engineer(gamma, "gus", "admin");
    const gusCsrf = await csrfTokenOf(server, gus);
    for (const [path, fields] of [
      ["/admin/engineers/gus/role", { role: "member" }],
      ["/admin/engineers/gus/disable", {}],
      ["/admin/engineers/gus/delete", {}],
    ] as const) {
      const refused = await postForm(server, path, { ...fields, _csrf: gusCsrf }, { cookie: gus });
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("gus is the last admin of the team");
    }
    expect(await statusOf(gus, "/admin/engineers")).toBe(200);

    // Two admins, each demoting the other at the same moment: one of them stays admin (the other's
    // try is refused as the last admin's demotion, or as no longer coming from an admin).
    const gil = await server.engineer(gamma, "gil", "admin");
    const gilCsrf = await csrfTokenOf(server, gil);
    const answers = await Promise.all([
      postForm(server, "/admin/engineers/gil/role", { role: "member", _csrf: gusCsrf }, { cookie: gus }),
      postForm(server, "/admin/engineers/gus/role", { role: "member", _csrf: gilCsrf }, { cookie: gil }),
    ]);
    const [won, lost] = answers.map((answer) => answer.status).sort();
    expect(won).toBe(303);
    expect([403, 409]).toContain(lost);
    const stillAdmin = await Promise.all([statusOf(gus, "/admin"), statusOf(gil, "/admin")]);
    expect(stillAdmin.sort()).toEqual([200, 403]);
  });

  it("deleting an engineer ends their sessions; their posts keep their text, signed as a deleted engineer, and the name is free again", async () => {
    const dee = await server.engineer(alpha, "dee", "member");
    const posted = await postForm(
      server,
      "/posts",
      { content: "dee's finding stays", _csrf: await csrfTokenOf(server, dee) },
      { cookie: dee },
    );
    expect(posted.status).toBe(303);
    const reader = await server.agent(alpha, "reader");
    const find = async () => {
      const { posts } = await (await server.as(reader, "/api/v1/posts?limit=100")).json();
      return (posts as { id: number; author: { kind: string; name: string }; content: string }[]).find(
        (post) => post.content === "dee's finding stays",
      );
    };
    expect((await find())?.author).toEqual({ kind: "human", name: "dee" });

    const feed = followEvents(server.url, dee, { reconnect: false });
    try {
      await feed.waitFor((event) => event.event === "ready");
      expect((await asAda("/admin/engineers/dee/delete")).status).toBe(303);
      await feed.waitFor((event) => event.event === "signed-out", 1000);
    } finally {
      feed.close();
    }
    expect(await statusOf(dee)).toBe(303);
    expect((await signIn("dee")).status).toBe(401);
    expect(await rowOf("dee")).toBeUndefined();
    const kept = await find();
    expect(kept?.author).toEqual({ kind: "human", name: "dee (deleted engineer)" });
    const thread = await (await fetch(`${server.url}/posts/${kept!.id}`, { headers: { cookie: ada } })).text();
    expect(thread).toContain("dee (deleted engineer)");
    expect(thread).toContain("<p>dee's finding stays</p>");

    // Someone new may take the name; the old post is still not theirs.
    await server.engineer(alpha, "dee", "member");
    expect((await find())?.author.name).toBe("dee (deleted engineer)");
  });

  it("open invites are listed by ref and can be cancelled: the cancelled link stops working", async () => {
    const token = await inviteMember();
    const refs = () =>
      engineersPage().then((page) => [...page.matchAll(/action="\/admin\/invites\/([0-9a-f]+)\/cancel"/g)].map((match) => match[1]!));
    const before = await refs();
    expect(before.length).toBeGreaterThan(0);
    // The page names invites by ref only, never by their secret.
    expect(await engineersPage()).not.toContain(token);

    for (const ref of before) expect((await asAda(`/admin/invites/${ref}/cancel`)).status).toBe(303);
    expect(await refs()).toEqual([]);
    expect((await fetch(`${server.url}/setup?token=${token}`)).status).toBe(400);
    const setup = await fetch(`${server.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify({ token, username: "late-comer", password }),
    });
    expect(setup.status).toBe(400);
    expect((await asAda(`/admin/invites/${before[0]}/cancel`)).status).toBe(404);
    expect((await asAda("/admin/invites/not-a-ref/cancel")).status).toBe(400);
  });

  it("every change, invite use and sign-in (failed ones too) is audited, without any password, token or invite secret", async () => {
    const token = await inviteMember();
    const newcomer = await engineerFromSetupToken(server, token, "newcomer");
    expect((await signIn("newcomer", "not the password at all")).status).toBe(401);
    expect((await signIn("newcomer")).status).toBe(200);

    const audit = await listAudit(server.database.db, alpha.id, 1000);
    const actions = new Set(audit.map((entry) => `${entry.action} ${entry.target}`));
    for (const expected of [
      "user.disabled mo",
      "user.enabled mo",
      "user.sign_in_refused mo",
      "user.sign_in_failed mo",
      "user.role_changed kim",
      "user.deleted dee",
      "invite.used newcomer",
      "user.signed_in newcomer",
      "user.sign_in_failed newcomer",
    ]) {
      expect(actions).toContain(expected);
    }
    expect(audit.some((entry) => entry.action === "invite.cancelled")).toBe(true);
    const failed = audit.find((entry) => entry.action === "user.sign_in_failed" && entry.target === "newcomer")!;
    expect(failed.actorKind).toBe("visitor");
    const roleChanges = audit.filter((entry) => entry.action === "user.role_changed").map((entry) => entry.details);
    expect(roleChanges).toContainEqual({ from: "member", to: "admin" });

    const everything = JSON.stringify(audit);
    for (const secret of [password, "not the password at all", token, ada.split("=")[1]!, newcomer.split("=")[1]!]) {
      expect(everything).not.toContain(secret);
    }
    const page = await (await fetch(`${server.url}/admin`, { headers: { cookie: ada } })).text();
    expect(page).toContain("user.sign_in_failed");
  });

  it.runIf(kind === "postgres")(
    "an engineer disabled through one server process loses the live feed open on another within a second",
    async () => {
      const replica: RunningServer = await server.replica();
      try {
        const ned = await server.engineer(alpha, "ned", "member");
        const feed = followEvents(replica.url, ned, { reconnect: false });
        try {
          await feed.waitFor((event) => event.event === "ready");
          const started = Date.now();
          expect((await asAda("/admin/engineers/ned/disable")).status).toBe(303);
          await feed.waitFor((event) => event.event === "signed-out", 1000);
          expect(Date.now() - started).toBeLessThan(1000);
        } finally {
          feed.close();
        }
        expect((await fetch(`${replica.url}/`, { headers: { cookie: ned }, redirect: "manual" })).status).toBe(303);
      } finally {
        await replica.close();
      }
    },
  );
});

describe.each(databaseKinds)("botboard user and invite commands on %s", (kind) => {
  let botboard: BotboardOnFreshDatabase;
  let served: ServedBotboard;
  let env: Record<string, string>;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase(kind);
    env = botboard.env;
    served = await botboard.serve();
  }, 60_000);
  afterAll(() => botboard?.close());

  const run = async (args: string[]) => {
    const result = await runBotboard(args, env);
    return { ...result, output: result.stdout + result.stderr };
  };
  const tokenOf = (output: string) => /setup\?token=([a-z2-7]+)/.exec(output)![1]!;

  it("list engineers, change a role (never the last admin's), disable with the live feed closed, enable, delete, and list and cancel invites", async () => {
    await engineerFromSetupToken(served, tokenOf(served.output()), "ada");
    const invited = await run(["user", "add", "--role", "member"]);
    expect(invited.code).toBe(0);
    const mo = await engineerFromSetupToken(served, tokenOf(invited.stdout), "mo");

    const listed = JSON.parse((await run(["user", "list", "--json"])).stdout) as { username: string; role: string; status: string }[];
    expect(listed.map(({ username, role, status }) => `${username} ${role} ${status}`)).toEqual(["ada admin active", "mo member active"]);
    expect((await run(["user", "list"])).stdout).toMatch(/^mo\tmo\tmember\tactive\tlast sign-in \d{4}-/m);

    const lastAdmin = await run(["user", "role", "ada", "member"]);
    expect(lastAdmin.code).toBe(1);
    expect(lastAdmin.stderr).toContain("ada is the last admin of the team");
    expect((await run(["user", "role", "mo", "admin"])).stdout).toContain("mo is now admin.");
    expect((await fetch(`${served.url}/admin/engineers`, { headers: { cookie: mo } })).status).toBe(200);

    const feed = followEvents(served.url, mo, { reconnect: false });
    try {
      await feed.waitFor((event) => event.event === "ready");
      const disabled = await run(["user", "disable", "mo"]);
      expect(disabled.output).toContain("Disabled mo; their sessions have ended.");
      // The command is a process of its own: on Postgres its NOTIFY reaches the server, on the
      // embedded database the server ran it over the admin socket.
      await feed.waitFor((event) => event.event === "signed-out", 1000);
    } finally {
      feed.close();
    }
    expect((await fetch(`${served.url}/`, { headers: { cookie: mo }, redirect: "manual" })).status).toBe(303);
    expect((await run(["user", "list"])).stdout).toMatch(/^mo\tmo\tadmin\tdisabled/m);
    expect((await run(["user", "enable", "mo"])).stdout).toContain("Enabled mo.");
    expect((await run(["user", "disable", "nobody"])).stderr).toContain("No engineer 'nobody' in this team.");

    const link = tokenOf((await run(["user", "add", "--role", "member"])).stdout);
    const invites = JSON.parse((await run(["invite", "list", "--json"])).stdout) as { ref: string; role: string }[];
    expect(invites).toHaveLength(1);
    expect(invites[0]!.role).toBe("member");
    expect(JSON.stringify(invites)).not.toContain(link);
    expect((await run(["invite", "cancel", invites[0]!.ref])).stdout).toContain(`Cancelled invite ${invites[0]!.ref}`);
    expect((await run(["invite", "list"])).stdout).toContain("No open invites.");
    expect((await fetch(`${served.url}/setup?token=${link}`)).status).toBe(400);

    expect((await run(["user", "delete", "mo"])).stdout).toContain("Deleted mo");
    expect((await run(["engineer", "list"])).stdout).not.toMatch(/^mo\t/m);
  }, 180_000);
});
