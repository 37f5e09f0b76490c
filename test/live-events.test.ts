import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { posts } from "../server/db/schema/index.ts";
import { cli } from "../server/domain/callers.ts";
import { authenticateAgentToken } from "../server/domain/agents.ts";
import { createPost, deletePost } from "../server/domain/posts.ts";
import { createInvite, validateSession } from "../server/domain/users.ts";
import { followEvents, type EventFollower, type SentEvent } from "./support/events.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm, postFromWebForm } from "./support/web.ts";

type PostEvent = {
  id: number;
  html: string;
  /** A renamed author's parts of the page, each with the id of the element it replaces. */
  partsHtml?: string;
  threadHtml?: string;
  threadPageHtml?: string;
  /** A reply's thread summed up for the collapsed feed. */
  summaryHtml?: string;
  forYou: string[];
  notice?: { title: string; body: string };
  inboxHtml?: string;
};

describe.each(databaseKinds)("the live feed's post events on %s", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  const postEventOf = async (feed: EventFollower, id: number): Promise<PostEvent> => {
    const events = await feed.waitFor((event) => event.event === "post" && event.id === String(id));
    return JSON.parse(events.find((event) => event.event === "post" && event.id === String(id))!.data) as PostEvent;
  };

  it("a post mentioning one watcher tells that watcher with a notice; the team's other watchers get the same card without one", async () => {
    const team = await server.team("watchers");
    const [ada, bob, cy] = await Promise.all(["ada", "bob", "cy"].map((name) => server.engineer(team, name)));
    const author = await server.agent(team, "writer");
    const feeds = [ada, bob, cy].map((cookie) => followEvents(server.url, cookie!, { reconnect: false }));
    try {
      await Promise.all(feeds.map((feed) => feed.waitFor((event) => event.event === "ready")));
      const created = await server.as(author, "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content: "@ada the flaky test is back" }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: number };
      const [toAda, toBob, toCy] = (await Promise.all(feeds.map((feed) => postEventOf(feed, id)))) as [PostEvent, PostEvent, PostEvent];
      expect(toAda.forYou).toEqual(["mention"]);
      expect(toAda.notice).toEqual({ title: "writer mentions you", body: "@ada the flaky test is back" });
      expect(toAda.inboxHtml).toBe(`<li><p class="inbox-reasons">mentions you</p>${toAda.html}</li>`);
      for (const other of [toBob, toCy]) {
        expect(other).toEqual({ ...toAda, forYou: [], notice: undefined, inboxHtml: undefined });
        expect(other).not.toHaveProperty("notice");
        expect(other).not.toHaveProperty("inboxHtml");
      }
    } finally {
      for (const feed of feeds) feed.close();
    }
  });

  it("a notice spells out hidden characters and is cut after 200 characters, not inside one", async () => {
    const team = await server.team("spelled");
    const feed = followEvents(server.url, await server.engineer(team, "uma"), { reconnect: false });
    try {
      await feed.waitFor((event) => event.event === "ready");
      // Spelled out, the text before the emoji is 199 characters: a cut after 200 UTF-16 units would split it.
      const content = `@uma \u202Eexe.txt\n${"x".repeat(178)}😀😀😀😀`;
      const created = await server.as(await server.agent(team, "writer"), "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content }),
      });
      expect(created.status).toBe(201);
      const { notice } = await postEventOf(feed, ((await created.json()) as { id: number }).id);
      expect(notice).toEqual({ title: "writer mentions you", body: `@uma [U+202E]exe.txt ${"x".repeat(178)}😀…` });
    } finally {
      feed.close();
    }
  });

  it("a question waits in every other engineer's inbox, by the inbox's rule, without a notification", async () => {
    const team = await server.team("questions");
    const [quinn, rosa] = await Promise.all(["quinn", "rosa"].map((name) => server.engineer(team, name)));
    const feeds = [quinn, rosa].map((cookie) => followEvents(server.url, cookie!, { reconnect: false }));
    try {
      await Promise.all(feeds.map((feed) => feed.waitFor((event) => event.event === "ready")));
      const csrf = await csrfTokenOf(server, quinn!);
      const asked = await postForm(server, "/posts", { content: "Who owns staging?", tags: "question", _csrf: csrf }, { cookie: quinn! });
      expect(asked.status).toBe(303);
      const [id] = (await server.database.db.select({ id: posts.id }).from(posts).where(eq(posts.teamId, team.id))).map((row) => row.id);
      const [toQuinn, toRosa] = (await Promise.all(feeds.map((feed) => postEventOf(feed, id!)))) as [PostEvent, PostEvent];
      expect(toRosa.forYou).toEqual([]);
      expect(toRosa).not.toHaveProperty("notice");
      expect(toRosa.inboxHtml).toBe(`<li><p class="inbox-reasons">question</p>${toRosa.html}</li>`);
      expect(toQuinn).not.toHaveProperty("inboxHtml");
    } finally {
      for (const feed of feeds) feed.close();
    }
  });

  it("an engineer whose display name has a space is mentioned by username", async () => {
    const team = await server.team("spaced");
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const setup = await fetch(`${server.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: invite.secret, username: "dana", displayName: "Dana Scully", password: "correct horse battery" }),
    });
    expect(setup.status).toBe(201);
    const feed = followEvents(server.url, setup.headers.get("set-cookie")!.split(";")[0]!, { reconnect: false });
    try {
      await feed.waitFor((event) => event.event === "ready");
      const created = await server.as(await server.agent(team, "writer"), "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content: "@DANA the report is ready" }),
      });
      const { id, mentions } = (await created.json()) as { id: number; mentions: string[] };
      expect(mentions).toEqual(["dana"]);
      expect((await postEventOf(feed, id)).forYou).toEqual(["mention"]);
    } finally {
      feed.close();
    }
  });

  it("a reply's event gives an admin's thread page its Delete form with an empty form token, for the page to fill in; members and the collapsed feed get none", async () => {
    const team = await server.team("moderated");
    const [admin, member] = await Promise.all([server.engineer(team, "ida", "admin"), server.engineer(team, "max", "member")]);
    const author = await server.agent(team, "writer");
    const feeds = [admin, member].map((cookie) => followEvents(server.url, cookie, { reconnect: false }));
    try {
      await Promise.all(feeds.map((feed) => feed.waitFor((event) => event.event === "ready")));
      const post = async (body: Record<string, unknown>) =>
        ((await (await server.as(author, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number }).id;
      const reply = await post({ content: "done", parentId: await post({ content: "renew the certificate" }) });
      const [toAdmin, toMember] = (await Promise.all(feeds.map((feed) => postEventOf(feed, reply)))) as [PostEvent, PostEvent];
      expect(toAdmin.threadPageHtml).toContain(`<form method="post" action="/posts/${reply}/delete"`);
      expect(toAdmin.threadPageHtml).toContain('<input type="hidden" name="_csrf" value=""/>');
      expect(toAdmin.threadPageHtml).not.toContain(await csrfTokenOf(server, admin));
      // The collapsed feed opens replies without Delete forms, for admins too.
      expect(toAdmin.threadHtml).not.toContain("delete-form");
      expect(toMember).not.toHaveProperty("threadPageHtml");
      expect(toMember).toEqual({ ...toAdmin, threadPageHtml: undefined });
    } finally {
      for (const feed of feeds) feed.close();
    }
  });

  it("a page that reconnects is sent the removals it missed while away, as the cards a reload shows", async () => {
    const team = await server.team("moderation-missed");
    const [admin, watcher] = await Promise.all([server.engineer(team, "mona", "admin"), server.engineer(team, "wes", "member")]);
    const author = await server.agent(team, "writer");
    const post = async (body: Record<string, unknown>) =>
      ((await (await server.as(author, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number }).id;
    const root = await post({ content: "deploy notes" });
    const reply = await post({ content: "the staging password is hunter2", parentId: root });
    const before = followEvents(server.url, watcher, { lastEventId: String(root), reconnect: false });
    await before.waitFor((event) => event.id === String(reply));
    before.close();

    const csrf = await csrfTokenOf(server, admin);
    for (const removed of [reply, root]) {
      expect((await postForm(server, `/posts/${removed}/delete`, { _csrf: csrf }, { cookie: admin })).status).toBe(303);
    }
    const later = await post({ content: "rotated it" });

    const back = followEvents(server.url, watcher, { lastEventId: String(reply), reconnect: false });
    try {
      await back.waitFor((event) => event.id === String(later));
      const updates = back.events.filter((event) => event.event === "post-updated").map((event) => JSON.parse(event.data) as PostEvent);
      expect(updates.map((update) => update.id)).toEqual([reply, root]);
      const thread = await (await fetch(`${server.url}/posts/${root}`, { headers: { cookie: watcher } })).text();
      for (const update of updates) {
        expect(update.html).toContain("removed by a moderator");
        expect(thread).toContain(update.html);
      }
    } finally {
      back.close();
    }
  });

  it("a removed reply's thread summary is marked new for each page as its last visit marks it, live and on reconnecting", async () => {
    const team = await server.team("moderation-marks");
    const [admin, watcher] = await Promise.all([server.engineer(team, "mia", "admin"), server.engineer(team, "will", "member")]);
    const author = await server.agent(team, "writer");
    const post = async (body: Record<string, unknown>) =>
      ((await (await server.as(author, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number }).id;
    const root = await post({ content: "release checklist" });
    const older = await post({ content: "tagged", parentId: root });
    const newest = await post({ content: "pushed the wrong tag", parentId: root });
    // After the removal the thread's latest reply is `older`: new to a page whose visit came before it only.
    const marked = (event: PostEvent) => event.summaryHtml?.includes('class="new-replies"');
    const removalFor = async (feed: EventFollower) => {
      const events = await feed.waitFor((event) => event.event === "post-updated");
      return JSON.parse(events.find((event) => event.event === "post-updated")!.data) as PostEvent;
    };

    const live = [`?seen=${root}`, `?seen=${older}`, ""].map((query) => followEvents(server.url, watcher, { reconnect: false, query }));
    let back: EventFollower[] = [];
    try {
      await Promise.all(live.map((feed) => feed.waitFor((event) => event.event === "ready")));
      const csrf = await csrfTokenOf(server, admin);
      expect((await postForm(server, `/posts/${newest}/delete`, { _csrf: csrf }, { cookie: admin })).status).toBe(303);
      const sent = await Promise.all(live.map(removalFor));
      expect(sent.map(marked)).toEqual([true, false, false]);
      expect(sent.map((event) => event.summaryHtml?.replace('<strong class="new-replies">new since your last visit</strong>', ""))).toEqual(
        Array(3).fill(sent[2]!.summaryHtml),
      );

      back = [`?seen=${root}`, `?seen=${older}`].map((query) =>
        followEvents(server.url, watcher, { lastEventId: String(newest), reconnect: false, query }),
      );
      expect((await Promise.all(back.map(removalFor))).map(marked)).toEqual([true, false]);
    } finally {
      for (const feed of [...live, ...back]) feed.close();
    }
  });

  it("a live reply's thread summary is marked new for each page as its last visit marks it", async () => {
    const team = await server.team("reply-marks");
    const watcher = await server.engineer(team, "rita", "member");
    const author = await server.agent(team, "replier");
    const post = async (body: Record<string, unknown>) =>
      ((await (await server.as(author, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number }).id;
    const root = await post({ content: "who owns the cron job?" });
    // The reply comes after a visit that ended at `root`; one ending later than it is made up.
    const live = [`?seen=${root}`, `?seen=${root + 1000}`, ""].map((query) =>
      followEvents(server.url, watcher, { reconnect: false, query }),
    );
    try {
      await Promise.all(live.map((feed) => feed.waitFor((event) => event.event === "ready")));
      const reply = await post({ content: "I do", parentId: root });
      const sent = await Promise.all(
        live.map(async (feed) => {
          const events = await feed.waitFor((event) => event.event === "post" && event.id === String(reply));
          return JSON.parse(events.find((event) => event.id === String(reply))!.data) as PostEvent;
        }),
      );
      expect(sent.map((event) => event.summaryHtml?.includes('class="new-replies"'))).toEqual([true, false, false]);
      expect(sent.map((event) => event.summaryHtml?.replace('<strong class="new-replies">new since your last visit</strong>', ""))).toEqual(
        Array(3).fill(sent[2]!.summaryHtml),
      );
    } finally {
      for (const feed of live) feed.close();
    }
  });

  it("a page away for more than 1,000 removals is told to reload instead, and the page it reloads is not told again", async () => {
    const team = await server.team("moderation-flood");
    const [admin, watcher] = await Promise.all([server.engineer(team, "mo", "admin"), server.engineer(team, "wyn", "member")]);
    const author = await server.agent(team, "writer");
    const { db } = server.database;
    const writer = await authenticateAgentToken(db, author);
    const ids: number[] = [];
    for (let n = 0; n < 1001; n++) ids.push((await createPost(db, writer!, { content: `spam ${n}` })).post.id);
    const { caller: moderator } = (await validateSession(db, admin.split("=")[1]!))!;
    for (const id of ids) await deletePost(db, moderator, id);
    // It reconnects as a browser does: a first request may meet a kept-alive connection the server has closed meanwhile.
    const back = followEvents(server.url, watcher, { lastEventId: String(ids[0]) });
    try {
      const events = await back.waitFor((event) => event.event === "reload");
      expect(events.filter((event) => event.event === "post-updated")).toEqual([]);
    } finally {
      back.close();
    }
    // The reloaded page was read after those removals: its stream does not send them again, nor reload it.
    const page = await (await fetch(`${server.url}/`, { headers: { cookie: watcher } })).text();
    const eventsUrl = /data-events="([^"]+)"/.exec(page)![1]!.replaceAll("&amp;", "&");
    expect(eventsUrl).toMatch(/[?&]changes=\d+/);
    const reloaded = await fetch(`${server.url}${eventsUrl}`, { headers: { cookie: watcher } });
    const reader = reloaded.body!.getReader();
    const decoder = new TextDecoder();
    let received = "";
    const next = async () => {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended after: ${received}`);
      received += decoder.decode(value, { stream: true });
    };
    while (!received.includes("event: ready")) await next();
    const { id: fresh } = (await (
      await server.as(author, "/api/v1/posts", { method: "POST", body: '{"content":"back to work"}' })
    ).json()) as { id: number };
    while (!received.includes(`id: ${fresh}`)) await next();
    await reader.cancel();
    expect(received).not.toContain("post-updated");
    expect(received).not.toContain("event: reload");
  });

  it("deleting an engineer sends open and reconnecting pages each of their posts signed anew, once, as a reload shows it", async () => {
    const team = await server.team("engineer-deleted");
    const [admin, watcher, dee] = await Promise.all([
      server.engineer(team, "mina", "admin"),
      server.engineer(team, "walt", "member"),
      server.engineer(team, "dee", "member"),
    ]);
    const author = await server.agent(team, "writer");
    const agentPost = async (body: Record<string, unknown>) =>
      ((await (await server.as(author, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) })).json()) as { id: number }).id;
    const deePost = (fields: Record<string, string>) => postFromWebForm(server, team.id, dee, fields);
    const plan = await agentPost({ content: "deploy plan" });
    const [finding, agreed] = [
      await deePost({ content: "dee's finding" }),
      await deePost({ content: "looks good", parentId: String(plan) }),
    ];
    const untouched = await agentPost({ content: "not dee's" });

    // It reconnects as a browser does (a first request may meet a kept-alive connection the server has
    // closed meanwhile), but must get the changes without reconnecting once open.
    const open = followEvents(server.url, watcher);
    try {
      await open.waitFor((event) => event.event === "ready");
      expect(
        (await postForm(server, "/admin/engineers/dee/delete", { _csrf: await csrfTokenOf(server, admin) }, { cookie: admin })).status,
      ).toBe(303);
      const later = await agentPost({ content: "after dee left" });
      // A delivery pass hands out the new posts it read before the changes it read, so the renamed
      // posts may come just after `later`; a post written once both came shows whether any came twice.
      const renamed = (events: SentEvent[]) => events.filter((event) => event.event === "post-updated").length >= 2;
      await open.waitUntil((events) => renamed(events) && events.some((event) => event.id === String(later)));
      const fence = await agentPost({ content: "after the renamed posts" });
      const events = await open.waitFor((event) => event.id === String(fence));
      expect(open.connections).toBe(1);
      const updates = events.filter((event) => event.event === "post-updated").map((event) => JSON.parse(event.data) as PostEvent);
      expect(updates.map((update) => update.id).sort()).toEqual([finding, agreed].sort());
      // Each names the author as a reload of the pages does, on the card and in the thread's summary.
      const pageOf = async (path: string) => (await fetch(`${server.url}${path}`, { headers: { cookie: watcher } })).text();
      const [thread, feed] = [await pageOf(`/posts/${plan}`), await pageOf("/?mode=threads")];
      const agreedUpdate = updates.find((update) => update.id === agreed)!.partsHtml;
      const cardAuthor = new RegExp(`<a class="author" id="post-${agreed}-author"[^>]*>[^<]*</a>`).exec(thread)![0];
      const summaryAuthor = new RegExp(`<span id="latest-reply-${agreed}-author">[^<]*</span>`).exec(feed)![0];
      expect(agreedUpdate).toBe(cardAuthor + summaryAuthor);
      for (const update of updates) expect(update.partsHtml).toContain(">dee (deleted engineer)</a>");

      // A page that was away since before the deletion gets them when it comes back.
      const back = followEvents(server.url, watcher, { lastEventId: String(untouched), reconnect: false });
      try {
        const replayed = await back.waitUntil((events) => renamed(events) && events.some((event) => event.id === String(fence)));
        const ids = replayed.filter((event) => event.event === "post-updated").map((event) => (JSON.parse(event.data) as PostEvent).id);
        expect(ids.sort()).toEqual([finding, agreed].sort());
      } finally {
        back.close();
      }
    } finally {
      open.close();
    }
  });

  it("deleting an engineer with more than 1,000 posts tells open pages to reload instead", async () => {
    const team = await server.team("engineer-prolific");
    const [admin, watcher] = await Promise.all([server.engineer(team, "moe", "admin"), server.engineer(team, "wendy", "member")]);
    const { db } = server.database;
    const prolific = await server.engineer(team, "pat", "member");
    const { caller: pat } = (await validateSession(db, prolific.split("=")[1]!))!;
    for (let n = 0; n < 1001; n++) await createPost(db, pat, { content: `note ${n}` });
    const open = followEvents(server.url, watcher);
    try {
      await open.waitFor((event) => event.event === "ready");
      expect(
        (await postForm(server, "/admin/engineers/pat/delete", { _csrf: await csrfTokenOf(server, admin) }, { cookie: admin })).status,
      ).toBe(303);
      const events = await open.waitFor((event) => event.event === "reload");
      expect(open.connections).toBe(1);
      expect(events.filter((event) => event.event === "post-updated")).toEqual([]);
    } finally {
      open.close();
    }
  });

  it.runIf(kind === "pglite")(
    "the embedded database keeps 16 MB of shared buffers in the server's memory, not Postgres' 128 MB",
    async () => {
      const rows = await server.database.db.execute<{ shared_buffers: string }>(sql`show shared_buffers`);
      expect((rows as unknown as { rows: { shared_buffers: string }[] }).rows).toEqual([{ shared_buffers: "16MB" }]);
    },
  );
});
