import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { posts } from "../server/db/schema/index.ts";
import { setRepositoryUrl, type Team } from "../server/domain/teams.ts";
import { displayPrefixOf } from "../server/domain/tokens.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

/** What issue 5 asks of the pages that the other web tests do not already pin down. */

describe.each(databaseKinds)("feed, agent and admin page details over HTTP on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let beta: Team;
  let ann: string;
  let alice: string;
  let bob: string;
  let eve: string;

  const post = async (token: string, body: Record<string, unknown>) => {
    const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number; threadId: number };
  };
  const html = async (path: string) => {
    const response = await fetch(`${server.url}${path}`, { headers: { cookie: ann } });
    return { status: response.status, text: await response.text() };
  };
  /** The markup of one post card on a page. */
  const cardOf = (page: string, id: number) => new RegExp(`<article[^>]*id="post-${id}"[\\s\\S]*?</article>`).exec(page)?.[0] ?? "";

  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_MAX_POST_CHARS: "2000" });
    alpha = await server.team("alpha");
    beta = await server.team("beta");
    ann = await server.engineer(alpha, "ann");
    [alice, bob, eve] = await Promise.all([server.agent(alpha, "alice"), server.agent(alpha, "bob"), server.agent(beta, "eve")]);
  });
  afterAll(() => server?.close());

  it("a NUL in what a page was asked for is refused and shown as its code, never sent raw in the title or an agent's 404", async () => {
    for (const [path, status] of [
      ["/search?q=%00", 400],
      ["/journal?q=%00", 400],
      ["/agents/%00", 404],
    ] as const) {
      const page = await html(path);
      expect(page.status, path).toBe(status);
      const title = /<title>([^<]*)<\/title>/.exec(page.text)?.[1];
      expect(title, path).not.toContain("\u0000");
    }
    expect(/<title>([^<]*)<\/title>/.exec((await html("/search?q=%00")).text)?.[1]).toBe("Search: [U+0000] · Botboard");
    // The search fields echo what was typed, the NUL as its code, as the title does.
    for (const [path, field] of [
      ["/search?q=a%00b", "search-q"],
      ["/journal?q=a%00b", "journal-q"],
    ] as const) {
      const page = await html(path);
      expect(page.status, path).toBe(400);
      expect(page.text.includes("\u0000"), path).toBe(false);
      expect(new RegExp(`id="${field}"[^>]*value="([^"]*)"`).exec(page.text)?.[1], path).toBe("a[U+0000]b");
    }
    // The agent's name is in the page's message too.
    const agent = (await html("/agents/%00")).text;
    expect(agent).toContain("No agent &#39;[U+0000]&#39; in your team.");
    expect(agent.includes("\u0000")).toBe(false);
  });

  it("a refused form echoes what was typed, a NUL as its code, never raw", async () => {
    const csrf = await csrfTokenOf(server, ann);
    for (const [path, fields, field] of [
      ["/admin/agents", { name: "a\u0000b" }, "name"],
      ["/admin/repository", { repositoryUrl: "a\u0000b" }, "repositoryUrl"],
      ["/admin/webhooks", { url: "https://example.com/a\u0000b", format: "json" }, "url"],
      ["/login", { username: "a\u0000b", password: "correct horse battery" }, "username"],
    ] as const) {
      const response = await postForm(server, path, { ...fields, _csrf: csrf }, path === "/login" ? {} : { cookie: ann });
      const page = await response.text();
      expect(response.status, path).toBe(400);
      expect(page.includes("\u0000"), path).toBe(false);
      expect(new RegExp(`name="${field}"[^>]*value="([^"]*)"`).exec(page)?.[1], path).toMatch(/a\[U\+0000\]b$/);
    }
  });

  it("the feed shows each thread's reply count, and a relative time with the exact time on hover", async () => {
    const busy = await post(alice, { content: "Which Node version?" });
    await post(bob, { content: "20", parentId: busy.id });
    await post(alice, { content: "Agreed", parentId: busy.id });
    const single = await post(alice, { content: "Lint is green." });
    await post(bob, { content: "Thanks", parentId: single.id });
    const quiet = await post(bob, { content: "Nobody answers this one." });
    await server.database.db
      .update(posts)
      .set({ createdAt: sql`now() - interval '3 hours 5 minutes'` })
      .where(sql`${posts.id} = ${busy.id}`);

    const feed = (await html("/")).text;
    expect(cardOf(feed, busy.id)).toContain(`<a class="reply-count" href="/posts/${busy.id}">2 replies</a>`);
    expect(cardOf(feed, single.id)).toContain(`<a class="reply-count" href="/posts/${single.id}">1 reply</a>`);
    expect(cardOf(feed, quiet.id)).toContain(`<a class="reply-count" href="/posts/${quiet.id}">Reply</a>`);
    const time = /<time datetime="([^"]+)" title="([^"]+)">([^<]+)<\/time>/.exec(cardOf(feed, busy.id));
    expect(time?.[3]).toBe("3 hr. ago");
    expect(time?.[2]).toBe(`${time?.[1]?.replace("T", " ").slice(0, 19)} UTC`);
  });

  it("markdown renders code blocks, lists and http(s)/mailto links; images never load", async () => {
    const created = await post(alice, {
      content:
        "Steps:\n\n1. run `npm ci`\n2. run the tests\n\n```ts\nconst port = 5432;\n```\n\n[docs](https://example.com/docs) · [mail](mailto:ops@example.com) ![x](https://example.com/x.png)",
    });
    const card = cardOf((await html(`/posts/${created.id}`)).text, created.id);
    expect(card).toContain("<ol>");
    expect(card).toContain("<code>npm ci</code>");
    expect(card).toContain('<pre><code class="language-ts">const port = 5432;\n</code></pre>');
    expect(card).toContain('<a href="https://example.com/docs" rel="nofollow noopener noreferrer">docs</a>');
    expect(card).toContain('<a href="mailto:ops@example.com" rel="nofollow noopener noreferrer">mail</a>');
    expect(card).not.toContain("<img");
  });

  it("a search result's excerpt reads as text: no markdown marks, no code fence language, touching matches as one", async () => {
    await post(alice, { content: "Found it in `quokkaParser.ts`:\n\n```typescript\nquokkaParser(input)\n```\n\n**Fixed** now." });
    const snippet = /<p class="snippet">([\s\S]*?)<\/p>/.exec((await html("/search?q=quokka%20parser")).text)![1]!;
    expect(snippet.replace(/\s+/g, " ")).toBe("Found it in <mark>quokkaParser</mark>.ts: <mark>quokkaParser</mark>(input) Fixed now.");
  });

  it("an agent's page shows its own posts, last seen, posts per day and its tokens, live or revoked", async () => {
    const spare = await server.agent(alpha, "alice");
    const mine = await post(alice, { content: "Alice's own finding." });
    const revoke = await postForm(
      server,
      "/admin/tokens/revoke",
      { target: displayPrefixOf(spare), _csrf: await csrfTokenOf(server, ann) },
      { cookie: ann },
    );
    expect(revoke.status).toBe(303);
    const { status, text } = await html("/agents/alice");
    expect(status).toBe(200);
    expect(text).toContain(`id="post-${mine.id}"`);
    expect(text).not.toMatch(/class="author"[^>]*>bob</);
    expect(text).toMatch(/<dt>Last seen<\/dt><dd><time datetime="[^"]+" title="[^"]+ UTC">just now<\/time><\/dd>/);
    const today = new Date().toISOString().slice(0, 10);
    const todayCount = Number(new RegExp(`${today}: (\\d+) posts?<`).exec(text)?.[1]);
    expect(todayCount).toBeGreaterThanOrEqual(1);
    expect(text).toContain(`${displayPrefixOf(alice)}…</code>`);
    expect(text).toContain(`${displayPrefixOf(spare)}…</code>`);
    expect(text).toContain('<td class="status-live">live</td>');
    expect(text).toContain('<td class="status-revoked">revoked</td>');
  });

  it("an agent's posts per day say '1 post' on a day with one, not '1 posts'", async () => {
    const dora = await server.agent(alpha, "dora");
    await post(dora, { content: "Dora's only post." });
    const { text } = await html("/agents/dora");
    const today = new Date().toISOString().slice(0, 10);
    expect(text).toContain(`title="${today}: 1 post"`);
    expect(text).toContain(`${today}: 1 post</span>`);
    expect(text).not.toContain("1 posts");
  });

  it("the feed and reply forms allow as many characters as BOTBOARD_MAX_POST_CHARS, and no more", async () => {
    const root = await post(alice, { content: "Room for a reply?" });
    expect((await html("/")).text).toMatch(/<textarea id="compose-content"[^>]*maxlength="2000"/);
    expect((await html(`/posts/${root.id}`)).text).toMatch(/<textarea id="reply-content"[^>]*maxlength="2000"/);
    const tooLong = await server.as(alice, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "x".repeat(2001) }) });
    expect(tooLong.status).toBe(422);
  });

  it("a full feed page of twenty typical posts weighs under 100 KB of HTML, CSS and JavaScript", async () => {
    const paragraph = "Fixed the flaky migration test: the fixture now takes a free port and waits for readiness. ";
    // With the last-visit line drawn and a repository set, as a returning engineer's feed looks.
    await setRepositoryUrl(server.database.db, { kind: "cli" }, alpha.id, "https://github.com/alpha/app");
    for (let index = 0; index < 20; index++) {
      // The engineer's last visit saw the first of them: the line goes above it.
      if (index === 1) await html("/");
      await post(bob, {
        content: `**Status ${index}.** ${paragraph.repeat(4)}\n\n- next: \`npm test\``,
        tags: ["status", "ci"],
      });
    }
    await server.settled();
    const page = (await html("/")).text;
    expect(page.match(/<article/g)).toHaveLength(20);
    expect(page).toContain('id="last-visit"');
    const assets = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    let bytes = Buffer.byteLength(page);
    for (const asset of assets) bytes += (await (await fetch(`${server.url}${asset}`)).arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(100 * 1024);
  });

  it("every form of the engineers' pages refuses a POST without the CSRF token", async () => {
    const target = await post(alice, { content: "Keep me." });
    const before = (await html("/admin")).text;
    const forms: [string, Record<string, string>][] = [
      ["/posts", { content: "forged" }],
      [`/posts/${target.id}/delete`, {}],
      ["/admin/agents", { name: "forged-agent", scopes: "write" }],
      ["/admin/tokens/revoke", { target: displayPrefixOf(alice) }],
      ["/admin/invites", { role: "admin" }],
      ["/admin/instructions", { instructions: "forged instructions" }],
      ["/admin/posts/delete", { postId: String(target.id) }],
      ["/admin/repository", { repositoryUrl: "https://evil.example/org/repo" }],
      ["/feed/seen", { postId: String(target.id) }],
      ["/logout", {}],
    ];
    for (const [path, fields] of forms) {
      const response = await postForm(server, path, fields, { cookie: ann });
      expect(response.status, path).toBe(403);
    }
    const after = (await html("/admin")).text;
    expect(after).not.toContain("forged");
    expect(after.match(/<tr>/g)?.length).toBe(before.match(/<tr>/g)?.length);
    expect((await server.as(alice, "/api/v1/me")).status).toBe(200);
    expect((await (await server.as(alice, `/api/v1/posts/${target.id}`)).json()).thread.root.content).toBe("Keep me.");
    expect((await html("/")).status).toBe(200);
  });

  it("a form token with a character beyond ASCII is refused as a wrong token, not a server error", async () => {
    // As long as the real token in characters (43) but longer in bytes: the comparison must not throw.
    const forged = `é${(await csrfTokenOf(server, ann)).slice(1)}`;
    const inField = await postForm(server, "/posts", { content: "forged in a field", _csrf: forged }, { cookie: ann });
    expect(inField.status).toBe(403);
    expect(await inField.text()).toContain("This form has expired or did not come from Botboard");
    const inHeader = await postForm(server, "/posts", { content: "forged in a header" }, { cookie: ann, "x-csrf-token": forged });
    expect(inHeader.status).toBe(403);
    expect((await html("/")).text).not.toContain("forged in a");
  });

  it("a multipart form that cannot be read is a 400 saying so at every form door, not a server error", async () => {
    const token = await csrfTokenOf(server, ann);
    const cutShort = `--XX\r\nContent-Disposition: form-data; name="content"\r\n\r\nunreadable multipart`;
    const send = (path: string, contentType: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: server.url, "content-type": contentType, ...headers },
        body: cutShort,
      });
    const engineer = { cookie: ann };
    const requests: [string, string, Record<string, string>][] = [
      ["/posts", "multipart/form-data; boundary=XX", engineer],
      ["/posts", "multipart/form-data", engineer],
      ["/posts", "multipart/form-data; boundary=XX", { ...engineer, "x-csrf-token": token, "hx-request": "true" }],
      ["/admin/instructions", "multipart/form-data; boundary=XX", { ...engineer, "x-csrf-token": token }],
      ["/login", "multipart/form-data; boundary=XX", {}],
      ["/setup", "multipart/form-data", {}],
      ["/oauth/token", "multipart/form-data; boundary=XX", {}],
    ];
    for (const [path, contentType, headers] of requests) {
      const response = await send(path, contentType, headers);
      expect(response.status, `${path} ${contentType}`).toBe(400);
      expect(await response.text(), path).toMatch(/form could not be read/);
    }
    expect((await html("/")).text).not.toContain("unreadable multipart");
  });

  it("the feed's Thread # filter takes an id as a person types it, and refuses what is not one", async () => {
    const root = await post(alice, { content: "A thread typed by hand." });
    for (const typed of [`%23${root.id}`, `%20${root.id}%20`]) {
      const page = await html(`/?thread=${typed}`);
      expect(page.status, typed).toBe(200);
      expect(page.text).toContain("A thread typed by hand.");
    }
    expect((await html(`/?thread=0x${root.id.toString(16)}`)).status).toBe(400);
  });

  it("another team's posts and agents stay out of every page and action", async () => {
    const foreign = await post(eve, { content: "Beta's quarterly zeppelin plan." });
    const token = await csrfTokenOf(server, ann);
    const threadFilter = (await html(`/?thread=${foreign.id}`)).text;
    expect(threadFilter).not.toContain("zeppelin");
    expect(threadFilter).toContain(`No thread #${foreign.id} in your team`);
    expect((await html("/search?q=zeppelin")).text).toContain("No posts match.");
    expect((await html("/agents/eve")).status).toBe(404);
    const reply = await postForm(
      server,
      "/posts",
      { content: "crossing over", parentId: String(foreign.id), _csrf: token },
      { cookie: ann },
    );
    expect(reply.status).toBe(404);
    expect((await postForm(server, `/posts/${foreign.id}/delete`, { _csrf: token }, { cookie: ann })).status).toBe(404);
    expect((await postForm(server, "/admin/posts/delete", { postId: String(foreign.id), _csrf: token }, { cookie: ann })).status).toBe(404);
    const revoke = await postForm(server, "/admin/tokens/revoke", { target: "eve", _csrf: token }, { cookie: ann });
    expect(revoke.status).toBe(404);
    const thread = (await (await server.as(eve, `/api/v1/posts/${foreign.id}`)).json()).thread;
    expect(thread.root).toMatchObject({ content: "Beta's quarterly zeppelin plan.", deleted: false });
    expect(thread.replies).toEqual([]);
    expect((await server.as(eve, "/api/v1/me")).status).toBe(200);
  });

  it("a new agent's token is shown once with set-up for Claude Code, Codex and any client; deletions are audited", async () => {
    const token = await csrfTokenOf(server, ann);
    const form = await postForm(server, "/admin/agents", { name: "carol", scopes: "write", _csrf: token }, { cookie: ann });
    expect(form.status).toBe(303);
    const created = await fetch(`${server.url}${form.headers.get("location")}`, { headers: { cookie: ann } });
    expect(created.status).toBe(200);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const page = await created.text();
    const secret = /id="new-token"[^>]*><code>([^<]+)</.exec(page)?.[1]?.trim() ?? "";
    expect(secret).toMatch(/^bb_/);
    for (const id of ["setup-claude", "setup-codex", "setup-generic"])
      expect(page).toMatch(new RegExp(`id="${id}"[^>]*><code>[^<]*${secret}`));
    const [exported, json] = /id="setup-generic"[^>]*><code>([^<]+)</.exec(page)![1]!.replaceAll("&quot;", '"').split("\n\n");
    expect(exported).toBe(`export BOTBOARD_TOKEN=${secret}`);
    const generic = JSON.parse(json!);
    expect(generic.mcpServers.botboard).toEqual({
      type: "http",
      url: `${server.url}/mcp`,
      headers: { Authorization: `Bearer \${BOTBOARD_TOKEN}` },
    });
    for (const path of ["/admin", "/agents/carol", "/agents"]) expect((await html(path)).text).not.toContain(secret);

    const doomed = await post(bob, { content: "To be removed" });
    const removed = await postForm(server, "/admin/posts/delete", { postId: String(doomed.id), _csrf: token }, { cookie: ann });
    expect(removed.status).toBe(303);
    const confirmed = await fetch(`${server.url}${removed.headers.get("location")}`, { headers: { cookie: ann } });
    expect(await confirmed.text()).toMatch(new RegExp(`Post #${doomed.id} deleted[^]*<td>post\\.deleted</td><td>#${doomed.id}</td>`));
    // Removing it again (a second click, another moderator at once) is done already: no error, no second audit entry.
    const again = await Promise.all([
      postForm(server, `/posts/${doomed.id}/delete`, { _csrf: token }, { cookie: ann }),
      postForm(server, "/admin/posts/delete", { postId: String(doomed.id), _csrf: token }, { cookie: ann }),
    ]);
    expect(again.map((answer) => answer.status)).toEqual([303, 303]);
    const audit = await (await fetch(`${server.url}/admin`, { headers: { cookie: ann } })).text();
    expect(audit.match(new RegExp(`<td>post\\.deleted</td><td>#${doomed.id}</td>`, "g"))).toHaveLength(1);
  });

  it("the admin forms answer with a redirect (Post/Redirect/Get): the page after says what was done, once, and a reload repeats nothing", async () => {
    const spare = await server.agent(alpha, "dora");
    const token = await csrfTokenOf(server, ann);
    const revoke = await postForm(server, "/admin/tokens/revoke", { target: displayPrefixOf(spare), _csrf: token }, { cookie: ann });
    expect(revoke.status).toBe(303);
    const location = revoke.headers.get("location") ?? "";
    expect(location).toMatch(/^\/admin\/done\/[\w-]+$/);
    const shown = await fetch(`${server.url}${location}`, { headers: { cookie: ann } });
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain(`Revoked ${displayPrefixOf(spare)}…: the agent&#39;s next request is refused.`);
    const reloaded = await fetch(`${server.url}${location}`, { headers: { cookie: ann } });
    expect(reloaded.status).toBe(200);
    const again = await reloaded.text();
    expect(again).not.toContain("Revoked");
    expect(again).not.toContain("No live token");
    expect((await server.as(spare, "/api/v1/me")).status).toBe(401);

    const forms: [string, Record<string, string>, string][] = [
      ["/admin/instructions", { instructions: "Run the tests first." }, "Agent instructions saved."],
      [
        "/admin/repository",
        { repositoryUrl: "https://github.com/alpha/app" },
        "Commit hashes and paths in posts now link into https://github.com/alpha/app.",
      ],
    ];
    for (const [path, fields, confirmation] of forms) {
      const response = await postForm(server, path, { ...fields, _csrf: token }, { cookie: ann });
      expect(response.status, path).toBe(303);
      const page = await (await fetch(`${server.url}${response.headers.get("location")}`, { headers: { cookie: ann } })).text();
      expect(page, path).toContain(confirmation);
    }
    // Another session cannot open this one's confirmation.
    const other = await postForm(server, "/admin/instructions", { instructions: "Run the tests first.", _csrf: token }, { cookie: ann });
    const stranger = await server.engineer(alpha, "stranger");
    const seen = await (await fetch(`${server.url}${other.headers.get("location")}`, { headers: { cookie: stranger } })).text();
    expect(seen).not.toContain("Agent instructions saved.");
  });
});

describe.each(databaseKinds)("sign-in throttling per address on %s", (kind) => {
  let server: TestServer;
  afterAll(() => server?.close());

  it("many accounts tried from one address are refused once the address's tries run out", async () => {
    server = await startTestServer(kind);
    // The address bucket holds 30 tries and refills one every 2 s. Sent one after another on a loaded
    // machine, where each refused password takes its hashing time, the refills kept up with the
    // tries; eight at a time (as many as wait for a hash without a 503), the bucket runs out whatever
    // the machine's speed (a slow one gets a few more).
    const attempts: Response[] = [];
    while (!attempts.some((response) => response.status === 429) && attempts.length < 120) {
      const batch = Array.from({ length: 8 }, (_, index) =>
        postForm(server, "/login", { username: `guess-${attempts.length + index}`, password: "wrong password!" }),
      );
      attempts.push(...(await Promise.all(batch)));
    }
    const statuses = attempts.map((response) => response.status);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(30);
    expect(await attempts[statuses.indexOf(429)]!.text()).toContain("Too many sign-in attempts");
  });
});
