import { eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invites, posts, sessions } from "../server/db/schema/index.ts";
import { agentActivity, listAgents } from "../server/domain/agents.ts";
import { agentInstructionsOf, defaultAgentInstructions, getTeam, type Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

describe.each(databaseKinds)("web pages over plain HTTP on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let beta: Team;
  let ann: string;
  let alice: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    beta = await server.team("beta");
    ann = await server.engineer(alpha, "ann");
    alice = await server.agent(alpha, "alice");
  });
  afterAll(() => server?.close());

  it("a page without a session redirects to the sign-in page", async () => {
    const response = await fetch(`${server.url}/search?q=x`, { redirect: "manual" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/login?next=%2Fsearch%3Fq%3Dx");
  });

  it("a session in the second half of its life is extended and the cookie follows", async () => {
    const cookie = await server.engineer(alpha, "sam");
    await server.database.db.update(sessions).set({ expiresAt: sql`now() + interval '2 days'` });
    const response = await fetch(`${server.url}/agents`, { headers: { cookie } });
    expect(response.status).toBe(200);
    const renewed = response.headers.get("set-cookie") ?? "";
    expect(renewed).toContain(cookie);
    const expires = new Date(/Expires=([^;]+)/i.exec(renewed)?.[1] ?? 0).getTime();
    expect(expires - Date.now()).toBeGreaterThan(29 * 24 * 3600 * 1000);
    const again = await fetch(`${server.url}/agents`, { headers: { cookie } });
    expect(again.headers.get("set-cookie")).toBeNull();
  });

  it("signing out ends the session", async () => {
    const cookie = await server.engineer(alpha, "otto");
    const token = await csrfTokenOf(server, cookie);
    const response = await postForm(server, "/logout", { _csrf: token }, { cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toMatch(/botboard_session=;/);
    expect((await fetch(`${server.url}/`, { headers: { cookie }, redirect: "manual" })).status).toBe(303);
  });

  it("pages carry a strict CSP and the other security headers", async () => {
    const response = await fetch(`${server.url}/`, { headers: { cookie: ann } });
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("what a signed-in engineer sees, and the sign-in forms, are kept out of caches (Back after signing out shows nothing); assets are not", async () => {
    const token = await csrfTokenOf(server, ann);
    const htmx = { cookie: ann, "hx-request": "true" };
    const answers = await Promise.all([
      fetch(`${server.url}/`, { headers: { cookie: ann } }),
      fetch(`${server.url}/inbox`, { headers: { cookie: ann } }),
      fetch(`${server.url}/admin`, { headers: { cookie: ann } }),
      fetch(`${server.url}/journal`, { headers: { cookie: ann } }),
      fetch(`${server.url}/now?board=1`, { headers: htmx }),
      fetch(`${server.url}/posts/999999`, { headers: { cookie: ann } }),
      postForm(server, "/posts", { content: "kept out of caches", _csrf: token }, htmx),
      fetch(`${server.url}/login`),
      fetch(`${server.url}/setup?token=nothing`),
    ]);
    expect(
      answers.map((response) => [response.url.replace(server.url, ""), response.status, response.headers.get("cache-control")]),
    ).toEqual([
      ["/", 200, "no-store"],
      ["/inbox", 200, "no-store"],
      ["/admin", 200, "no-store"],
      ["/journal", 200, "no-store"],
      ["/now?board=1", 200, "no-store"],
      ["/posts/999999", 404, "no-store"],
      ["/posts", 201, "no-store"],
      ["/login", 200, "no-store"],
      ["/setup?token=nothing", 400, "no-store"],
    ]);
    const css = /<link rel="stylesheet" href="([^"]+)"/.exec(await answers[0]!.text())![1]!;
    expect((await fetch(`${server.url}${css}`)).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("serves htmx and the page assets from our own origin with a long cache", async () => {
    const page = await (await fetch(`${server.url}/`, { headers: { cookie: ann } })).text();
    const scripts = [...page.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]!);
    expect(scripts).toContain("/assets/htmx-2.0.11.min.js");
    for (const src of scripts) {
      const asset = await fetch(`${server.url}${src}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
      expect(asset.headers.get("content-type")).toContain("javascript");
      expect(asset.headers.get("content-encoding")).toBe("gzip");
    }
  });

  it("a signed-in POST without the CSRF token is refused and writes nothing", async () => {
    const response = await postForm(server, "/posts", { content: "forged post" }, { cookie: ann });
    expect(response.status).toBe(403);
    const wrongToken = await postForm(server, "/posts", { content: "forged post", _csrf: "x".repeat(43) }, { cookie: ann });
    expect(wrongToken.status).toBe(403);
    const feed = await (await server.as(alice, "/api/v1/posts")).json();
    expect(feed.posts.map((post: { content: string }) => post.content)).not.toContain("forged post");
  });

  it("a POST from another origin is refused even with the right token", async () => {
    const token = await csrfTokenOf(server, ann);
    const response = await postForm(
      server,
      "/posts",
      { content: "cross-site", _csrf: token },
      { cookie: ann, origin: "https://evil.example" },
    );
    expect(response.status).toBe(403);
  });

  it("with the token an engineer's post reaches agents, marked human", async () => {
    const token = await csrfTokenOf(server, ann);
    const response = await postForm(
      server,
      "/posts",
      { content: "Please rebase on main.", tags: "ci, process", _csrf: token },
      { cookie: ann },
    );
    expect(response.status).toBe(303);
    const feed = await (await server.as(alice, "/api/v1/posts")).json();
    expect(feed.posts[0]).toMatchObject({
      content: "Please rebase on main.",
      author: { kind: "human", name: "ann" },
      tags: ["ci", "process"],
    });
  });

  it("the post counts /agents and an agent's page show leave out posts a moderator removed", async () => {
    const token = await server.agent(alpha, "counted");
    const ids: number[] = [];
    for (const content of ["kept", "removed"]) {
      const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
      ids.push((await response.json()).id);
    }
    await server.database.db.update(posts).set({ deletedAt: new Date() }).where(eq(posts.id, ids[1]!));
    const [agent] = (await listAgents(server.database.db, alpha.id)).filter((each) => each.name === "counted");
    expect(agent!.postCount).toBe(1);
    const days = await agentActivity(server.database.db, alpha.id, agent!.id, 2);
    expect(days.reduce((sum, day) => sum + day.posts, 0)).toBe(1);
  });

  it("another team's post id is a 404, in pages as in the thread view", async () => {
    const eve = await server.agent(beta, "eve");
    const secret = await (await server.as(eve, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "beta only" }) })).json();
    const response = await fetch(`${server.url}/posts/${secret.id}`, { headers: { cookie: ann } });
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain("beta only");
  });

  it("an agent's raw HTML and javascript: links come out as inert text", async () => {
    const payload = "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) [ok](https://example.com)";
    const created = await (await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: payload }) })).json();
    const page = await (await fetch(`${server.url}/posts/${created.id}`, { headers: { cookie: ann } })).text();
    expect(page).not.toMatch(/<script>alert/);
    expect(page).not.toMatch(/<img/);
    expect(page).not.toMatch(/href="javascript:/i);
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain('href="https://example.com"');
  });

  it("an admin edits the agents' instructions; the change is audited and empty restores the default", async () => {
    const token = await csrfTokenOf(server, ann);
    const saved = await postForm(
      server,
      "/admin/instructions",
      { instructions: "Always run <tests> first.", _csrf: token },
      { cookie: ann },
    );
    expect(saved.status).toBe(303);
    const page = await (await fetch(`${server.url}${saved.headers.get("location")}`, { headers: { cookie: ann } })).text();
    expect(page).toContain("Agent instructions saved.");
    expect(page).toContain("Always run &lt;tests&gt; first.");
    expect(page).toContain("team.instructions_changed");
    const team = await getTeam(server.database.db, alpha.id);
    expect(agentInstructionsOf(team)).toBe("Always run <tests> first.");
    await postForm(server, "/admin/instructions", { instructions: "  ", _csrf: token }, { cookie: ann });
    expect(agentInstructionsOf(await getTeam(server.database.db, alpha.id))).toBe(defaultAgentInstructions);
  });

  it("a member cannot reach admin pages or actions", async () => {
    const member = await server.engineer(alpha, "max", "member");
    expect((await fetch(`${server.url}/admin`, { headers: { cookie: member } })).status).toBe(403);
    const token = await csrfTokenOf(server, member);
    const response = await postForm(server, "/admin/agents", { name: "sneaky", scopes: "write", _csrf: token }, { cookie: member });
    expect(response.status).toBe(403);
    expect((await fetch(`${server.url}/agents/sneaky`, { headers: { cookie: ann } })).status).toBe(404);
  });

  /** Reads a server-sent event stream until `done` says the text so far is enough (or 5 s pass). */
  async function readEvents(
    headers: Record<string, string>,
    done: (text: string) => boolean,
    whileOpen?: () => Promise<void>,
    path = "/events",
  ) {
    const controller = new AbortController();
    const response = await fetch(`${server.url}${path}`, {
      headers: { cookie: ann, accept: "text/event-stream", ...headers },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const timer = setTimeout(() => controller.abort(), 5000);
    let text = "";
    try {
      while (!done(text)) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += chunk.value;
        if (text.includes("event: ready") && whileOpen) {
          const action = whileOpen;
          whileOpen = undefined;
          await action();
        }
      }
    } catch (error) {
      if ((error as Error).name !== "AbortError") throw error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return text;
  }

  it("the live stream carries the team's new posts and never another team's", async () => {
    const eve = await server.agent(beta, "eve-live");
    const text = await readEvents(
      {},
      (seen) => seen.includes("alpha live post"),
      async () => {
        await server.as(eve, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "beta live post" }) });
        await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "alpha live post" }) });
      },
    );
    const block = text.split("\n\n").find((event) => event.includes("alpha live post")) ?? "";
    expect(block).toContain("event: post");
    expect(block).toMatch(/^id: \d+$/m);
    expect(text).not.toContain("beta live post");
  });

  // PGlite is one process's database; sharing between processes is what Postgres is for.
  it.runIf(kind === "postgres")("a post written through a second server process reaches this one's live stream", async () => {
    const second = await server.replica();
    try {
      const text = await readEvents(
        {},
        (seen) => seen.includes("via the other process"),
        async () => {
          const response = await fetch(`${second.url}/api/v1/posts`, {
            method: "POST",
            headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
            body: JSON.stringify({ content: "via the other process" }),
          });
          expect(response.status).toBe(201);
        },
      );
      expect(text).toContain("via the other process");
    } finally {
      await second.close();
    }
  });

  it("a reconnect with Last-Event-ID first gets the posts it missed", async () => {
    const post = async (content: string) =>
      (await (await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) })).json()).id as number;
    const seen = await post("seen before the drop");
    const missedOne = await post("missed one");
    const missedTwo = await post("missed two");
    const text = await readEvents({ "last-event-id": String(seen) }, (so) => so.includes("missed two"));
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    expect(ids).toEqual([missedOne, missedTwo]);
  });

  it("a filtered feed's stream carries only the posts its filters show, live and when catching up", async () => {
    const bea = await server.agent(alpha, "bea-live");
    const post = async (token: string, content: string, tags: string[] = []) =>
      (await (await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content, tags }) })).json()).id as number;
    const idsIn = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));

    const expected: number[] = [];
    const live = await readEvents(
      {},
      (seen) => seen.includes("bea tagged"),
      async () => {
        await post(alice, "alice tagged", ["deploy"]);
        expected.push(await post(bea, "bea untagged"));
        await post(alice, "alice untagged");
        expected.push(await post(bea, "bea tagged", ["deploy"]));
      },
      "/events?author=bea-live",
    );
    expect(idsIn(live)).toEqual(expected);
    expect(live).not.toContain("alice");

    const anchor = await post(alice, "before the drop");
    await post(bea, "missed, untagged");
    const missedTagged = await post(alice, "missed, tagged", ["Deploy"]);
    const caughtUp = await readEvents(
      { "last-event-id": String(anchor) },
      (seen) => seen.includes("missed, tagged"),
      undefined,
      "/events?tag=deploy",
    );
    expect(idsIn(caughtUp)).toEqual([missedTagged]);

    expect((await fetch(`${server.url}/events?thread=abc`, { headers: { cookie: ann } })).status).toBe(400);
  });

  it("a hand-edited address is refused in a sentence about its field, not the API's 'field: field must'", async () => {
    const page = await fetch(`${server.url}/?mode=sideways`, { headers: { cookie: ann } });
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain("mode must be threads or everything");
    expect(html).not.toContain("mode: mode");
  });

  it("the feed page weighs under 100 KB of HTML, CSS and JavaScript", async () => {
    const html = await (await fetch(`${server.url}/`, { headers: { cookie: ann } })).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toHaveLength(3);
    let bytes = Buffer.byteLength(html);
    for (const asset of assets) bytes += (await (await fetch(`${server.url}${asset}`)).arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(100 * 1024);
  });

  it("an admin's invite link opens the account set-up form once", async () => {
    const token = await csrfTokenOf(server, ann);
    const form = await postForm(server, "/admin/invites", { role: "member", _csrf: token }, { cookie: ann });
    expect(form.status).toBe(303);
    const view = `${server.url}${form.headers.get("location")}`;
    const response = await fetch(view, { headers: { cookie: ann } });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const link = /(https?:\/\/[^<\s"]+\/setup\?token=[A-Za-z0-9_-]+)/.exec(await response.text())?.[1];
    expect(link).toBeDefined();
    expect(link!.startsWith(server.url)).toBe(true);
    const setup = await fetch(link!);
    expect(setup.status).toBe(200);
    expect(await setup.text()).toContain("Create your account");
    expect((await fetch(`${server.url}/setup?token=made-up`)).status).toBe(400);
    // Reloading the page that showed the link shows it no more and makes no other invite.
    const liveInvites = () => server.database.db.select().from(invites).where(isNull(invites.usedAt));
    const before = (await liveInvites()).length;
    const reload = await fetch(view, { headers: { cookie: ann } });
    expect(reload.status).toBe(404);
    expect(await reload.text()).not.toContain(link!.split("token=")[1]);
    expect(await liveInvites()).toHaveLength(before);
  });

  it("sign-in is throttled per account with one message whether or not the account exists", async () => {
    const attempt = (username: string) => postForm(server, "/login", { username, password: "wrong password!" });
    /** Wrong passwords until refused; the account bucket holds 10 tries (the set-up login took one of ann's). */
    const untilRefused = async (username: string) => {
      const statuses: number[] = [];
      let last: Response;
      do {
        last = await attempt(username);
        statuses.push(last.status);
      } while (last.status !== 429 && statuses.length < 12);
      return { statuses, message: await last.text(), retryAfter: last.headers.get("retry-after") };
    };
    const real = await untilRefused("ann");
    const ghost = await untilRefused("nobody-here");
    // A try comes back every 30 s: on a loaded machine the set-up's login may have been refunded, or
    // a slow run of wrong passwords earn one more, so the count of 401s may be one more than the bucket.
    const refusedAfterWrongPasswords = (statuses: number[], tries: number) => {
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.slice(0, -1).every((status) => status === 401)).toBe(true);
      expect(statuses.length - 1).toBeGreaterThanOrEqual(tries);
      expect(statuses.length - 1).toBeLessThanOrEqual(tries + 1);
    };
    refusedAfterWrongPasswords(real.statuses, 9);
    refusedAfterWrongPasswords(ghost.statuses, 10);
    expect(real.message).toContain("Too many sign-in attempts");
    expect(ghost.message).toContain("Too many sign-in attempts");
    expect(ghost.retryAfter).toMatch(/^\d+$/);
    const rightPassword = await postForm(server, "/login", { username: "ann", password: "correct horse battery" });
    expect(rightPassword.status).toBe(429);
  });
});

describe.each(databaseKinds)("session cookies behind https on %s", (kind) => {
  let server: TestServer;
  afterAll(() => server?.close());

  it("the session cookie is HttpOnly, SameSite=Lax and Secure when the public URL is https", async () => {
    server = await startTestServer(kind, { BOTBOARD_PUBLIC_URL: "https://botboard.example" });
    const team = await server.team("tls");
    await server.engineer(team, "tess");
    const response = await postForm(server, "/login", { username: "tess", password: "correct horse battery" });
    expect(response.status).toBe(303);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/botboard_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Secure/i);
  });
});
