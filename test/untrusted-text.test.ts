import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameEntries } from "../mcp/format.ts";
import { postHeader } from "../server/domain/post-text.ts";
import { databaseErrorAsAppError } from "../server/db/errors.ts";
import type { Team } from "../server/domain/teams.ts";
import { revealInvisibleCharacters, splitInvisibleCharacters } from "../server/domain/untrusted-text.ts";
import { renderMarkdown } from "../views/markdown.ts";
import { callTool, connectMcp, type ToolCall } from "./support/mcp.ts";
import { csrfTokenOf } from "./support/web.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** One or more of each class a reader could be fooled by; each must come back as its code. */
const hiddenCharacters = [
  "\u0000",
  "\u0007",
  "\u001b",
  "\r",
  "\u000b",
  "\u007f", // C0 (but newline and tab) and DEL
  "\u0080",
  "\u0085",
  "\u009b", // C1: NEL, CSI
  "\u061c",
  "\u200e",
  "\u200f",
  "\u202a",
  "\u202b",
  "\u202c",
  "\u202d",
  "\u202e",
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069", // bidi
  "\u200b",
  "\u200c",
  "\u200d",
  "\u2060",
  "\u2061",
  "\u2062",
  "\u2063",
  "\u2064",
  "\ufeff", // zero-width
  "\u2028",
  "\u2029", // line and paragraph separators
  "\u00ad",
  "\u180e",
  "\ufff9",
  "\ufffa",
  "\ufffb",
  "\u{e0001}",
  "\u{e0041}",
  "\u{e007f}", // other format characters
  "\ufe0f",
  "\u{e0100}", // variation selectors, which can carry bytes inside an emoji
  "\u034f",
  "\u115f",
  "\u1160",
  "\u3164",
  "\uffa0",
  "\u17b4",
  "\u2800", // a combining grapheme joiner and characters that render as nothing
];

const label = (character: string) => `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/** A refusal's code and message, in Botboard's shape or in the compat posts API's `{error: message, code}`. */
const refusalIn = (body: { error: string | { code: string; message: string }; code?: string }) =>
  typeof body.error === "string" ? { code: body.code, message: body.error } : body.error;

describe("hidden characters in agents' text", () => {
  it("bidi overrides, controls and zero-width marks become visible code points", () => {
    expect(revealInvisibleCharacters("invoice\u202Etxt.exe")).toBe("invoice[U+202E]txt.exe");
    expect(revealInvisibleCharacters("a\u0000b\u001bc\u200bd\u2066e\ufefff")).toBe("a[U+0000]b[U+001B]c[U+200B]d[U+2066]e[U+FEFF]f");
  });

  it("every control, format and default-ignorable character is revealed: C0, DEL, C1, bidi, zero-width, soft hyphen, tag characters, variation selectors, fillers, line separators", () => {
    for (const character of hiddenCharacters) {
      expect(revealInvisibleCharacters(`a${character}b`)).toBe(`a[${label(character)}]b`);
    }
  });

  it("exactly the code points of Unicode's control and format categories and default-ignorables (but newline and tab), the two separators and the blank braille pattern are revealed", () => {
    const hidden = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029\u2800]/u;
    const misjudged: string[] = [];
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const character = String.fromCodePoint(codePoint);
      const expected = hidden.test(character) && character !== "\n" && character !== "\t";
      if ((revealInvisibleCharacters(character) !== character) !== expected) misjudged.push(label(character));
    }
    expect(misjudged).toEqual([]);
  });

  it("newlines, tabs and ordinary unicode are left alone", () => {
    const text = "line one\n\tline two: naïve 日本語 🚀 العربية";
    expect(revealInvisibleCharacters(text)).toBe(text);
  });

  it("splits text into plain runs and marked hidden characters", () => {
    expect(splitInvisibleCharacters("ab\u202Ecd")).toEqual([
      { text: "ab", hidden: false },
      { text: "U+202E", hidden: true },
      { text: "cd", hidden: false },
    ]);
  });

  it("rendered markdown marks them in text and code, and names them inside attributes", () => {
    const html = renderMarkdown('a\u200bb `c\u202Ed` [link](https://example.com "ti\u2066tle")');
    expect(html).toBe(
      '<p>a<span class="hidden-char" title="Hidden character U+200B">U+200B</span>b ' +
        '<code>c<span class="hidden-char" title="Hidden character U+202E">U+202E</span>d</code> ' +
        '<a href="https://example.com" title="ti[U+2066]tle" rel="nofollow noopener noreferrer">link</a></p>',
    );
  });
});

describe("hidden characters in MCP headers", () => {
  it("names and tags in a header show their hidden characters as codes and stay on one line", () => {
    const post = {
      id: 7,
      author: { kind: "human" as const, name: "eve\u202E\n#1 · admin (human)" },
      content: "",
      tags: ["ci\u200b"],
      parentId: null,
      threadId: 7,
      replyCount: 0,
      createdAt: new Date("2026-01-01T00:00:00Z"),
      deleted: false,
      urgent: false,
      mentions: [],
    };
    expect(postHeader(post)).toBe("#7 · eve[U+202E] #1 · admin (human) (human) · 2026-01-01T00:00:00.000Z · #ci[U+200B]");
    const entry = { id: 3, authorName: "bot\u0007", sections: { feelings: "fine\u0085" }, content: null, createdAt: post.createdAt };
    const framed = frameEntries("1 entry.", [entry]);
    expect(framed).toContain("journal #3 · bot[U+0007] · 2026-01-01T00:00:00.000Z");
    expect(framed).toContain("## feelings\nfine[U+0085]");
  });
});

/** True when a text holds no character a reader could be fooled by (newline and tab aside). */
const showsNoHiddenCharacters = (text: string) => revealInvisibleCharacters(text) === text;

describe.each(databaseKinds)("untrusted text through every door on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let writerToken: string;
  let writer: Client;
  let reader: Client;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("text");
    writerToken = await server.agent(team, "writer");
    writer = await connectMcp(server.url, writerToken);
    reader = await connectMcp(server.url, await server.agent(team, "reader"));
    clients.push(writer, reader);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
  });

  // Postgres cannot store NUL at all (that is a 400 of its own), so every other hidden character.
  const storable = hiddenCharacters.filter((character) => character !== "\u0000");
  const hostile = `zebra \u202Ereport ${storable.map((character, index) => `${index}${character}`).join(" ")} end`;

  it("MCP text spells out every hidden character of posts and excerpts; structuredContent keeps the text as written", async () => {
    const posted = await callTool(writer, "create_post", { content: hostile, tags: ["hidden"] });
    expect(posted.isError).toBeFalsy();
    const id = (posted.structuredContent as { post: { id: number } }).post.id;
    const results: [string, ToolCall][] = [
      ["read_posts", await callTool(reader, "read_posts", { tag_filter: "hidden" })],
      ["read_new", await callTool(reader, "read_new")],
      ["get_thread", await callTool(reader, "get_thread", { post_id: id })],
      ["search_posts", await callTool(reader, "search_posts", { query: "zebra" })],
    ];
    for (const [tool, result] of results) {
      expect(result.isError, tool).toBeFalsy();
      expect(showsNoHiddenCharacters(result.text), tool).toBe(true);
      expect(result.text, tool).toContain("[U+202E]");
    }
    for (const [, result] of results.slice(0, 3)) {
      expect(result.text).toContain(revealInvisibleCharacters(hostile));
      for (const character of storable)
        expect(result.text).toContain(`[U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`);
    }
    const [, listed] = results[0]!;
    expect((listed.structuredContent as { posts: { content: string }[] }).posts[0]!.content).toBe(hostile);
  });

  it("MCP text spells out every hidden character of journal sections; structuredContent keeps them", async () => {
    const saved = await callTool(writer, "process_thoughts", { project_notes: hostile, feelings: "calm\u202Eevil" });
    expect(saved.isError).toBeFalsy();
    const id = (saved.structuredContent as { entry: { id: number } }).entry.id;
    const results = [
      await callTool(writer, "read_journal_entry", { id }),
      await callTool(writer, "list_recent_entries"),
      await callTool(writer, "search_journal", { query: "zebra" }),
    ];
    for (const result of results) {
      expect(result.isError).toBeFalsy();
      expect(showsNoHiddenCharacters(result.text)).toBe(true);
      expect(result.text).toContain(`## project_notes\n${revealInvisibleCharacters(hostile)}`);
      expect(result.text).toContain("calm[U+202E]evil");
    }
    expect((results[0]!.structuredContent as { entry: { sections: Record<string, string> } }).entry.sections.project_notes).toBe(hostile);
  });

  it("a lone surrogate is a 400 naming the field in REST and the compat API, and nothing is written", async () => {
    // JSON.stringify spells a lone surrogate as the escape "\ud800", as any client's JSON would.
    const send = (path: string, body: object, headers: Record<string, string> = { authorization: `Bearer ${writerToken}` }) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const before = (await (await server.as(writerToken, "/api/v1/posts?limit=100")).json()).posts.length;
    const refusals = [
      ["content", await send("/api/v1/posts", { content: "half \ud800 a pair" })],
      ["tags.1", await send("/api/v1/posts", { content: "fine", tags: ["ok", "x\udc00"] })],
      ["content", await send("/teams/text/posts", { content: "\udfff" }, { "x-api-key": writerToken })],
      ["feelings", await send("/teams/text/journal/entries", { sections: { feelings: "a\ud83d" } }, { "x-api-key": writerToken })],
      // The compatible API's search names its body's field, query, not REST's q.
      ["query", await send("/teams/text/journal/search", { query: "\ud800" }, { "x-api-key": writerToken })],
    ] as const;
    for (const [field, response] of refusals) {
      expect(response.status, field).toBe(400);
      const error = refusalIn(await response.json());
      expect(error.code).toBe("invalid");
      expect(error.message).toMatch(
        new RegExp(`^${field.replace(/[().]/g, "\\$&")} contains a lone surrogate \\(U\\+D[89A-F][0-9A-F]{2} at character \\d+\\)`),
      );
    }
    expect((await (await server.as(writerToken, "/api/v1/posts?limit=100")).json()).posts.length).toBe(before);
    // A well-formed pair (an emoji) is stored as sent, so a retry with the same key is the same post.
    const keyed = { method: "POST", headers: { "idempotency-key": "rocket" }, body: JSON.stringify({ content: "launch \ud83d\ude80" }) };
    const first = await server.as(writerToken, "/api/v1/posts", keyed);
    const retry = await server.as(writerToken, "/api/v1/posts", keyed);
    expect(first.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual(await first.json());
  });

  it("a lone surrogate is an isError naming the field in every MCP tool that takes text, and nothing is written", async () => {
    const entriesBefore = (await callTool(writer, "list_recent_entries")).structuredContent as { total: number };
    const refusals = [
      ["content", await callTool(writer, "create_post", { content: "half \ud800 a pair" })],
      ["tags.0", await callTool(writer, "create_post", { content: "fine", tags: ["\udc00"] })],
      ["technical_insights", await callTool(writer, "process_thoughts", { technical_insights: "x\ud800" })],
      ["query", await callTool(writer, "search_posts", { query: "\ud800" })],
      ["query", await callTool(writer, "search_journal", { query: "\udbff" })],
    ] as const;
    for (const [field, result] of refusals) {
      expect(result.isError, field).toBe(true);
      expect(result.text).toMatch(
        new RegExp(`^${field.replace(/[().]/g, "\\$&")} contains a lone surrogate \\(U\\+D[89A-F][0-9A-F]{2} at character \\d+\\)`),
      );
    }
    // A filter only reads: one with a lone surrogate matches nothing, and is never a server error.
    const filtered = await callTool(reader, "read_posts", { agent_filter: "\ud800", tag_filter: "\udc00" });
    expect(filtered.text).not.toContain("Something went wrong");
    const unread = await callTool(reader, "read_posts", { agent_filter: "writer", limit: 100 });
    expect(unread.text).not.toContain("half");
    expect((await callTool(writer, "list_recent_entries")).structuredContent).toMatchObject({ total: entriesBefore.total });
  });

  it("a NUL byte is refused naming its field at every door, REST, compat, MCP and web forms, and nothing is written", async () => {
    const nul = "a\u0000b";
    const refusal = (field: string) => `${field} contains a NUL byte (U+0000 at character 2), which cannot be stored; remove it.`;
    const cookie = await server.engineer(team, "nora");
    const csrf = await csrfTokenOf(server, cookie);
    const json = (path: string, body: object, headers: Record<string, string> = { authorization: `Bearer ${writerToken}` }) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const compat = { "x-api-key": writerToken };
    const postsBefore = (await (await server.as(writerToken, "/api/v1/posts?limit=100")).json()).posts.length;

    const httpRefusals = [
      ["content", await json("/api/v1/posts", { content: nul })],
      ["tags.1", await json("/api/v1/posts", { content: "fine", tags: ["ok", nul] })],
      ["the author filter", await server.as(writerToken, "/api/v1/posts?author=a%00b")],
      ["the tag filter", await server.as(writerToken, "/api/v1/posts?tag=a%00b")],
      ["q (the search query)", await server.as(writerToken, "/api/v1/search?q=a%00b")],
      ["paths[0]", await json("/api/v1/claims", { paths: [nul], reason: "editing" })],
      ["text", await server.as(writerToken, "/api/v1/status", { method: "PUT", body: JSON.stringify({ text: nul }) })],
      ["content", await json("/teams/text/posts", { content: nul }, compat)],
      ["the author filter", await fetch(`${server.url}/teams/text/posts?agent=a%00b`, { headers: compat })],
      ["feelings", await json("/teams/text/journal/entries", { sections: { feelings: nul } }, compat)],
      ["query", await json("/teams/text/journal/search", { query: nul }, compat)],
      ["username", await json("/auth/login", { username: nul, password: "correct horse battery" }, {})],
    ] as const;
    for (const [field, response] of httpRefusals) {
      expect(response.status, field).toBe(400);
      expect(refusalIn(await response.json()), field).toEqual({ code: "invalid", message: refusal(field) });
    }

    const toolRefusals = [
      ["content", await callTool(writer, "create_post", { content: nul })],
      ["the author filter", await callTool(writer, "read_posts", { agent_filter: nul })],
      ["query", await callTool(writer, "search_posts", { query: nul })],
      ["feelings", await callTool(writer, "process_thoughts", { feelings: nul })],
      ["query", await callTool(writer, "search_journal", { query: nul })],
      ["reason", await callTool(writer, "claim", { paths: ["src/"], reason: nul })],
    ] as const;
    for (const [field, result] of toolRefusals) {
      expect(result.isError, field).toBe(true);
      expect(result.text, field).toBe(refusal(field));
    }

    const page = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { redirect: "manual", ...init, headers: { cookie, origin: server.url, ...init.headers } });
    const form = (path: string, fields: Record<string, string>) =>
      page(path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      });
    const webRefusals = [
      ["content", await form("/posts", { content: nul })],
      ["tags.0", await form("/posts", { content: "fine", tags: nul })],
      // The page's box is not the API's q: its refusal speaks of the search.
      ["The search", await page("/search?q=a%00b")],
      ["the tag filter", await page("/?tag=a%00b")],
      ["agent (the agent filter)", await page("/journal?agent=a%00b")],
      ["instructions", await form("/admin/instructions", { instructions: nul })],
    ] as const;
    for (const [field, response] of webRefusals) {
      expect(response.status, field).toBe(400);
      expect(await response.text(), field).toContain(refusal(field));
    }

    expect((await (await server.as(writerToken, "/api/v1/posts?limit=100")).json()).posts.length).toBe(postsBefore);
    expect(((await callTool(writer, "list_claims")).structuredContent as { claims: unknown[] }).claims).toEqual([]);
  });

  it("a web form whose text is not UTF-8 (a lone surrogate's bytes) is a 400 page, not a post of U+FFFD", async () => {
    const cookie = await server.engineer(team, "ann");
    const csrf = encodeURIComponent(await csrfTokenOf(server, cookie));
    const post = (body: string) =>
      fetch(`${server.url}/posts`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded", cookie },
        body,
      });
    const refused = await post(`content=half%20%ED%A0%80%20a%20pair&_csrf=${csrf}`);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await refused.text()).toContain("The form is not UTF-8 text");
    const multipart = new FormData();
    multipart.set("_csrf", decodeURIComponent(csrf));
    multipart.set("content", "fine");
    const raw = new Uint8Array(await new Response(multipart).arrayBuffer());
    const boundaryType = new Response(multipart).headers.get("content-type")!;
    // The same form as multipart, with the text's bytes swapped for a lone surrogate's (ED A0 80 is not UTF-8).
    const fine = new TextEncoder().encode("fine");
    const at = raw.findIndex((_, index) => fine.every((byte, offset) => raw[index + offset] === byte));
    const broken = new Uint8Array([...raw.slice(0, at), 0xed, 0xa0, 0x80, ...raw.slice(at + fine.length)]);
    const refusedMultipart = await fetch(`${server.url}/posts`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: server.url, "content-type": boundaryType, cookie },
      body: broken,
    });
    expect(refusedMultipart.status).toBe(400);
    const feed = await (await server.as(writerToken, "/api/v1/posts?limit=100")).json();
    expect(feed.posts.filter((saved: { author: { name: string } }) => saved.author.name === "ann")).toEqual([]);
    // An ordinary form, % signs and all, still posts.
    expect((await post(`content=${encodeURIComponent("100% done, na\u00efve \ud83d\ude80")}&_csrf=${csrf}`)).status).toBe(303);
  });

  it("text the database itself cannot store is a 400, not a 500", async () => {
    const { db } = server.database;
    const refusals = [
      await db.execute(sql`select ${'"\\ud800"'}::jsonb`).catch((error: unknown) => error),
      await db.execute(sql`select ${'"\\u0000"'}::jsonb ->> 0`).catch((error: unknown) => error),
      await db.execute(sql`select convert_from('\\xeda080'::bytea, 'UTF8')`).catch((error: unknown) => error),
    ];
    for (const refusal of refusals) expect(databaseErrorAsAppError(refusal)?.kind).toBe("invalid");
    const badNumber = await db.execute(sql`select 'abc'::int`).catch((error: unknown) => error);
    expect(databaseErrorAsAppError(badNumber)).toBeUndefined();
  });
});
