import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

describe.each(databaseKinds)("the journal pages over plain HTTP on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let ann: string;
  let alice: Client;
  let bob: Client;
  let eve: Client;
  let aliceEntry: number;
  let eveEntry: number;

  const page = async (path: string, cookie = ann) => {
    const response = await fetch(`${server.url}${path}`, { headers: { cookie }, redirect: "manual" });
    return { status: response.status, location: response.headers.get("location"), html: await response.text() };
  };
  const write = async (client: Client, sections: Record<string, string>) => {
    const result = await callTool(client, "process_thoughts", sections);
    expect(result.isError).toBeFalsy();
    return (result.structuredContent as { entry: { id: number } }).entry.id;
  };
  /** The entries a listing or search page shows, by their links. */
  const entryIdsOn = (html: string) => [...new Set([...html.matchAll(/href="\/journal\/(\d+)"/g)].map((match) => Number(match[1])))];

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    const beta = await server.team("beta");
    ann = await server.engineer(alpha, "ann", "member");
    [alice, bob, eve] = await Promise.all([
      connectMcp(server.url, await server.agent(alpha, "alice")),
      connectMcp(server.url, await server.agent(alpha, "bob")),
      connectMcp(server.url, await server.agent(beta, "eve")),
    ]);
    aliceEntry = await write(alice, {
      project_notes: "The migration runner **retries** on lock timeouts.",
      technical_insights: "Advisory locks keep two servers from migrating at once.",
    });
    await write(bob, { feelings: "Frustrated: the locale tests keep failing on CI." });
    eveEntry = await write(eve, { project_notes: "Beta's secret migration plan." });
  });
  afterAll(async () => {
    await Promise.all([alice, bob, eve].map((client) => client?.close()));
    await server?.close();
  });

  it("signed out, the journal pages redirect to sign-in", async () => {
    const listing = await page("/journal?q=migration", "");
    expect(listing.status).toBe(303);
    expect(listing.location).toBe("/login?next=%2Fjournal%3Fq%3Dmigration");
    const entry = await page(`/journal/${aliceEntry}`, "");
    expect(entry.status).toBe(303);
    expect(entry.location).toBe(`/login?next=%2Fjournal%2F${aliceEntry}`);
  });

  it("a member lists the team's entries newest first, under a notice that they are private notes", async () => {
    const { status, html } = await page("/journal");
    expect(status).toBe(200);
    expect(html).toContain("These are agents&#39; private notes.");
    expect(html).toMatch(/<a href="\/journal" aria-current="page">Journal<\/a>/);
    const ids = entryIdsOn(html);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(aliceEntry);
    expect(html).toContain("Frustrated: the locale tests");
    expect(html).toContain("<strong>retries</strong>");
    expect(html).not.toContain("Beta's secret");
  });

  it("filters by agent and by kind of section", async () => {
    const onlyAlice = await page("/journal?agent=alice");
    expect(entryIdsOn(onlyAlice.html)).toEqual([aliceEntry]);
    expect(onlyAlice.html).toMatch(/<option value="alice" selected="">alice<\/option>/);
    const userNotes = await page("/journal?type=user");
    expect(userNotes.html).toContain("Frustrated");
    expect(entryIdsOn(userNotes.html)).not.toContain(aliceEntry);
    const projectNotes = await page("/journal?type=project&agent=bob");
    expect(entryIdsOn(projectNotes.html)).toEqual([]);
    expect(projectNotes.html).toContain("No journal entries yet.");
    expect((await page("/journal?type=secret")).status).toBe(400);
  });

  it("search finds entries across sections with the words highlighted, and never another team's", async () => {
    const { status, html } = await page("/journal?q=migrating");
    expect(status).toBe(200);
    expect(entryIdsOn(html)).toEqual([aliceEntry]);
    expect(html).toContain("<mark>migrating</mark>");
    expect(html).toContain("matched in Technical insights");
    expect(html).not.toContain("Beta's secret");
    const elsewhere = await page("/journal?q=secret");
    expect(elsewhere.html).toContain("No entries match.");
    const filtered = await page("/journal?q=migration&agent=bob");
    expect(entryIdsOn(filtered.html)).toEqual([]);
  });

  it("a search with more matches than a page says it shows the best of them, not how many match", async () => {
    for (let index = 0; index < 21; index++) await write(alice, { project_notes: `Quokka sighting number ${index}.` });
    const { html } = await page("/journal?q=quokka");
    expect(entryIdsOn(html)).toHaveLength(20);
    expect(html).toContain("The 20 best of more matching entries, best match first (add words to narrow it)");
    expect((await page("/journal?q=quokka+number+7")).html).toContain("1 matching entry, best match first");
  });

  it("a match deep in a long entry's section is shown with its section's name, on the page and over MCP", async () => {
    const filler = "Background detail about the rollout that nobody needs. ".repeat(90);
    const id = await write(alice, { feelings: "Fine.", technical_insights: `${filler}The okapi stripes fail.` });
    const { html } = await page("/journal?q=okapi");
    expect(entryIdsOn(html)).toEqual([id]);
    expect(html).toContain("matched in Technical insights");
    expect(html).toMatch(/<p class="snippet"><span class="muted">Technical insights:<\/span> Background detail/);
    const result = await callTool(alice, "search_journal", { query: "okapi" });
    expect(result.text).toMatch(new RegExp(`journal #${id} · alice · \\S+ · matched in technical_insights\\n`));
    expect(result.structuredContent).toMatchObject({ results: [{ matchedSections: ["technical_insights"] }] });
  });

  it("an entry found by date alone claims no section it matched in", async () => {
    const result = await callTool(bob, "search_journal", { query: "after:2000-01-01", limit: 1 });
    expect(result.isError).toBeFalsy();
    expect(result.text).toMatch(/journal #\d+ · bob · \S+\n/);
    expect(result.text).not.toContain("matched in");
  });

  it("a query too long to search is a 400 with the reason", async () => {
    const { status, html } = await page(`/journal?q=${"word ".repeat(150)}`);
    expect(status).toBe(400);
    expect(html).toContain("over 500 characters");
  });

  it("hostile query strings get an answer below 500", async () => {
    for (const query of [
      "q=%00",
      "agent=%00",
      "q=a&agent=%00",
      "page=-1",
      "page=1e400",
      "q=%22%22%22",
      "q=!!!%20-%20|",
      "type=both",
      "q[]=x",
    ]) {
      const { status } = await page(`/journal?${query}`);
      expect(status, query).toBeLessThan(500);
    }
    expect((await page("/journal/%00")).status).toBe(400);
  });

  it("an entry page shows every section; another team's entry, or none, is a 404", async () => {
    const { status, html } = await page(`/journal/${aliceEntry}`);
    expect(status).toBe(200);
    expect(html).toContain("Project notes");
    expect(html).toContain("Technical insights");
    expect(html).toContain("Advisory locks keep two servers");
    expect(html).toContain("These are agents&#39; private notes.");
    const foreign = await page(`/journal/${eveEntry}`);
    expect(foreign.status).toBe(404);
    expect(foreign.html).not.toContain("Beta's secret");
    expect((await page("/journal/999999999")).status).toBe(404);
    expect((await page("/journal/not-a-number")).status).toBe(400);
  });

  it("an agent's HTML in its journal stays inert text, and hidden characters are shown", async () => {
    const id = await write(alice, {
      feelings: "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) the invoice \u202Etxt.exe arrived",
    });
    for (const path of [`/journal/${id}`, "/journal", "/journal?q=invoice"]) {
      const { html } = await page(path);
      expect(html).not.toMatch(/<script>alert/);
      expect(html).not.toMatch(/<img/);
      expect(html).not.toMatch(/href="javascript:/i);
      expect(html).not.toContain("\u202E");
      expect(html).toContain('<span class="hidden-char" title="Hidden character U+202E">U+202E</span>');
    }
    expect((await page(`/journal/${id}`)).html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("more entries than a page holds page by older and newer links", async () => {
    for (let index = 0; index < 21; index++) await write(bob, { project_notes: `Paging note ${index}` });
    const first = await page("/journal?agent=bob");
    expect(entryIdsOn(first.html)).toHaveLength(20);
    expect(first.html).toContain("22 entries, newest first");
    expect(first.html).toContain('href="/journal?agent=bob&amp;page=2"');
    const second = await page("/journal?agent=bob&page=2");
    expect(second.html).toContain("Frustrated");
    expect(entryIdsOn(second.html)).toHaveLength(2);
    expect(second.html).toContain('href="/journal?agent=bob"');
    expect(second.html).not.toContain("Older entries");
  });
});
