import { sql } from "drizzle-orm";
import { rowsOf } from "../server/db/client.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { deriveMissingSearchTerms } from "../server/domain/search-backfill.ts";
import { maxSearchTerms } from "../server/domain/search-terms.ts";
import { matchScanChars } from "../server/domain/search-snippets.ts";
import type { Team } from "../server/domain/teams.ts";
import { searchCorpus, searchExpectations } from "./fixtures/search-corpus.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

type Hit = { post: { id: number; content: string; author: { name: string } }; snippet: string; matches: { start: number; end: number }[] };

describe.each(databaseKinds)("search on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  const tokens: Record<string, string> = {};
  /** Corpus key → post id, and back. */
  const idOf = new Map<string, number>();
  const keyOf = new Map<number, string>();

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("search");
    for (const name of ["alice", "bob", "carol", "dave"]) tokens[name] = await server.agent(team, name);
    for (const entry of searchCorpus) {
      const parentId = entry.replyTo ? idOf.get(entry.replyTo) : undefined;
      const response = await server.as(tokens[entry.author]!, "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content: entry.content, tags: entry.tags, parentId }),
      });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: number };
      idOf.set(entry.key, id);
      keyOf.set(id, entry.key);
      await server.database.db.execute(sql`update posts set created_at = ${entry.at}::timestamptz where id = ${id}`);
    }
  });
  afterAll(() => server?.close());

  const search = async (query: string, limit = 5) => {
    const response = await server.as(tokens.alice!, `/api/v1/search?q=${encodeURIComponent(query)}&limit=${limit}`);
    return {
      status: response.status,
      body: (await response.json()) as { results: Hit[]; error?: { message: string }; nextCursor: string | null },
    };
  };
  const keysFor = async (query: string, limit = 5) => {
    const { status, body } = await search(query, limit);
    expect(status, `${query}: ${JSON.stringify(body)}`).toBe(200);
    return body.results.map((hit) => keyOf.get(hit.post.id) ?? `other #${hit.post.id}`);
  };

  it.each(searchExpectations)("'$query' finds its posts in the first five", async ({ query, top5, absent }) => {
    const found = await keysFor(query);
    for (const key of top5) expect(found, query).toContain(key);
    for (const key of absent ?? []) expect(found, query).not.toContain(key);
  });

  it("an exact identifier ranks above posts that only share its words", async () => {
    const found = await keysFor("session.ts");
    expect(found[0]).toMatch(/^session-/);
    const parse = await keysFor("parseConfigFile", 10);
    expect(parse).toEqual(["parse-config"]);
  });

  it("posts that rank the same come newest first", async () => {
    expect(await keysFor("tag:blocker")).toEqual(["blocker-deploy", "blocker-migrations", "parse-config"]);
  });

  it("operators narrow by author, tag, thread, time, replies and code, alone or with words", async () => {
    expect(await keysFor("from:carol #ci")).toEqual(["flaky-test"]);
    expect(await keysFor("#blocker from:alice")).toEqual(["blocker-migrations"]);
    expect(await keysFor(`in:thread:${idOf.get("session-expiry")}`)).toEqual(["session-reply", "session-expiry"]);
    expect(await keysFor(`session in:thread:${idOf.get("session-expiry")} is:reply`)).toEqual(["session-reply"]);
    expect(await keysFor("session is:root")).toEqual(["session-expiry"]);
    expect(await keysFor("after:2026-12-01", 10)).toEqual(["plain-words", "dotted"]);
    expect(await keysFor("before:2026-11-24", 10)).toEqual(["auth-token", "failed-build"]);
    expect(await keysFor("auth after:2026-11-24 before:2026-11-25", 10)).toEqual(["session-expiry"]);
    expect(await keysFor("has:code from:dave", 10)).toEqual(["rate-limit", "db-pool", "module-not-found"]);
  });

  it("a pick-name session's posts are found by the name it chose and by its token's", async () => {
    const crew = await server.team("search-pick-names");
    const bots = await server.agent(crew, "ci-bots", { pickName: true });
    const posted = await fetch(`${server.url}/teams/search-pick-names/posts`, {
      method: "POST",
      headers: { "x-api-key": bots, "content-type": "application/json" },
      body: JSON.stringify({ author: "lint-fixer", content: "Autofixed the import order." }),
    });
    expect(posted.status).toBe(201);
    const reader = await server.agent(crew, "reader");
    for (const query of ["lint-fixer", "ci-bots", "ci-bots/lint-fixer"]) {
      const { results } = (await (await server.as(reader, `/api/v1/search?q=${encodeURIComponent(query)}`)).json()) as { results: Hit[] };
      expect(
        results.map((hit) => hit.post.author.name),
        query,
      ).toEqual(["ci-bots/lint-fixer"]);
    }
  });

  it("tag: takes a tag as posts and /posts?tag= do, with a leading '#' and in any case", async () => {
    expect(await keysFor("from:carol tag:#ci")).toEqual(["flaky-test"]);
    expect(await keysFor("from:carol tag:#CI")).toEqual(["flaky-test"]);
  });

  it("a tag search that finds nothing says a tag is not the text '#word', and what to search instead; one that finds posts says nothing", async () => {
    // A team of its own, so the corpus the other searches expect stays as it is.
    const hintTeam = await server.team("search-hint");
    const token = await server.agent(hintTeam, "hinted");
    const searchAs = async (query: string) =>
      (await (await server.as(token, `/api/v1/search?q=${encodeURIComponent(query)}`)).json()) as {
        results: Hit[];
        nextCursor: string | null;
        hint?: string;
      };
    const content = "Holding the deploy, #frozen until the fix lands.";
    expect((await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content, tags: ["deploy"] }) })).status).toBe(
      201,
    );
    const hint = '#frozen finds posts given that tag when written, not the text "#frozen" in a post: to find the word, search frozen.';
    expect(await searchAs("#frozen")).toEqual({ results: [], nextCursor: null, hint });
    expect((await searchAs("tag:frozen from:hinted")).hint).toBe(hint);
    expect((await searchAs("frozen")).results).toHaveLength(1);
    expect((await searchAs("#deploy")).hint).toBeUndefined();
    expect((await searchAs("zzzunfindable")).hint).toBeUndefined();
    const cookie = await server.engineer(hintTeam, "tess");
    const web = await fetch(`${server.url}/search?q=${encodeURIComponent("#frozen")}`, { headers: { cookie } });
    expect(await web.text()).toContain("No posts match. #frozen finds posts given that tag when written, not the text &quot;#frozen&quot;");

    // Common words alone find nothing, though "the deploy" is in the post: the answer says why.
    expect((await searchAs("the")).hint).toBe(
      "'the' is a common word that search leaves out (a phrase keeps them only beside another word): add a word that says what you look for.",
    );
    expect((await searchAs('"until the" -deploy')).hint).toContain('"until the" are common words');
    expect((await searchAs('the "to be" #frozen')).hint).toMatch(/^'the', "to be" are common words .* #frozen finds posts given that tag/);
    expect((await searchAs("the deploy")).hint).toBeUndefined();
    const client = await connectMcp(server.url, token);
    const tool = await callTool(client, "search_posts", { query: "the" });
    await client.close();
    expect(tool.structuredContent).toMatchObject({ hint: expect.stringContaining("'the' is a common word") });
  });

  it("in:thread: takes any id the rest of the API takes, up to the largest safe integer, and no further", async () => {
    const largest = await search(`in:thread:${Number.MAX_SAFE_INTEGER}`);
    expect([largest.status, largest.body.results]).toEqual([200, []]);
    const tooLarge = await search(`in:thread:${Number.MAX_SAFE_INTEGER + 1}`);
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error?.message).toContain("in: takes thread:ID");
  });

  it("an unknown operator is a 400 that lists the known ones; a bad value names the operator", async () => {
    const unknown = await search("session owner:alice");
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toContain("'owner:' is not an operator");
    for (const known of ["from:", "tag:", "in:thread:", "before:", "after:", "is:reply", "has:code"])
      expect(unknown.body.error?.message).toContain(known);
    // Unknown with no value is still unknown; a known one with no value says it needs one.
    const bare = await search("error: deploy");
    expect(bare.status).toBe(400);
    expect(bare.body.error?.message).toContain("'error:' is not an operator. Known operators: from:NAME");
    const noValue = await search("from: deploy");
    expect(noValue.status).toBe(400);
    expect(noValue.body.error?.message).toContain("from: needs a value, as in from:NAME");
    const badDate = await search("before:yesterday");
    expect(badDate.status).toBe(400);
    expect(badDate.body.error?.message).toContain("before: takes a date");
    const badThread = await search("in:thread:abc");
    expect(badThread.status).toBe(400);
    expect(badThread.body.error?.message).toContain("in: takes thread:ID");
    expect((await search("-from:alice")).status).toBe(400);
    // A word with a colon is searched for when quoted.
    expect(await keysFor('"node:internal"')).toContain("module-not-found");
  });

  it("a cursor pages only the search it came from: with other words or operators it is a 400, on the API and the web page", async () => {
    const first = await search("tag:blocker", 1);
    const cursor = encodeURIComponent(first.body.nextCursor!);
    const pageOf = (query: string) => server.as(tokens.alice!, `/api/v1/search?q=${encodeURIComponent(query)}&limit=1&cursor=${cursor}`);
    // The same search, spaced and cased differently, pages on.
    const next = await pageOf("  TAG:blocker ");
    expect(next.status).toBe(200);
    expect(((await next.json()) as { results: Hit[] }).results.map((hit) => keyOf.get(hit.post.id))).toEqual(["blocker-migrations"]);
    for (const query of ["session", "tag:blocker from:alice", "tag:ci"]) {
      const refused = await pageOf(query);
      expect(refused.status, query).toBe(400);
      expect(((await refused.json()) as { error: { message: string } }).error.message, query).toBe(
        "cursor is from another search: send it with the q (the search query) it came with, or leave it out to start from the first page.",
      );
    }
    const cookie = await server.engineer(team, "sam");
    const web = await fetch(`${server.url}/search?q=session&cursor=${cursor}`, { headers: { cookie } });
    expect(web.status).toBe(400);
    expect(await web.text()).toContain("cursor is from another search");
  });

  it("operator names and the values of is:, has: and in: are read in any case; an unknown capitalised name: stays a word", async () => {
    expect(await keysFor("FROM:carol #ci")).toEqual(["flaky-test"]);
    expect(await keysFor("Tag:blocker From:Alice")).toEqual(["blocker-migrations"]);
    expect(await keysFor(`session IN:Thread:${idOf.get("session-expiry")} Is:Reply`)).toEqual(["session-reply"]);
    expect(await keysFor("session IS:ROOT")).toEqual(["session-expiry"]);
    expect(await keysFor("HAS:CODE from:dave", 10)).toEqual(["rate-limit", "db-pool", "module-not-found"]);
    expect(await keysFor("After:2026-12-01", 10)).toEqual(["plain-words", "dotted"]);
    const excluded = await search("-FROM:alice");
    expect(excluded.status).toBe(400);
    expect(excluded.body.error?.message).toContain("-from: is not supported");
    expect(await keysFor("Error: Cannot find module")).toContain("module-not-found");
  });

  it("a date the calendar or the database does not have is a 400 naming the operator and the range, not a 500 or a roll-over", async () => {
    for (const [query, operator, value] of [
      ["before:0000-01-01 flaky", "before", "0000-01-01"],
      ["after:0000-06-01", "after", "0000-06-01"],
      ["flaky after:0001-01-01T00:00+01:00", "after", "0001-01-01T00:00+01:00"],
      ["before:2026-02-30", "before", "2026-02-30"],
      ["after:2025-02-29", "after", "2025-02-29"],
      ["before:2026-13-45", "before", "2026-13-45"],
    ]) {
      const { status, body } = await search(query!);
      expect({ query, status }).toEqual({ query, status: 400 });
      expect(body.error?.message).toContain(`${operator}: takes a date like 2026-11-30, from 0001-01-01 to 9999-12-31, not '${value}'`);
    }
    // The ends of the range, and a real leap day, are dates.
    expect(await keysFor("before:0001-01-01")).toEqual([]);
    expect(await keysFor("after:9999-12-31")).toEqual([]);
    expect(await keysFor("flaky before:2024-02-29")).toEqual([]);
  });

  it("JSON results carry where each word is in the content, and excerpts with the matches marked", async () => {
    const { body } = await search("parse config");
    const hit = body.results[0]!;
    expect(keyOf.get(hit.post.id)).toBe("parse-config");
    const marked = hit.matches.map(({ start, end }) => hit.post.content.slice(start, end));
    expect(marked).toEqual(["parse", "Config", "config"]);
    expect(hit.snippet).toContain("<mark>parseConfig</mark>File");
  });

  it("a highlight covers whole words: a phrase's inflected word, a code word only where it stands whole, accents, any case", async () => {
    const content = "İstanbul: two wombats nest in wombat.tsx, not in wombat.ts; numbat\u0301s nest in getNumbatNest, not getNumbat.";
    const posted = await (await server.as(tokens.dave!, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) })).json();
    const marked = async (query: string) => {
      const hit = (await search(query)).body.results.find((found) => found.post.id === posted.id);
      expect(hit, query).toBeDefined();
      return { words: hit!.matches.map(({ start, end }) => content.slice(start, end)), snippet: hit!.snippet };
    };
    const phrase = await marked('"wombat"');
    expect(phrase.words).toEqual(["wombats", "wombat", "wombat"]);
    expect(phrase.snippet).toContain("two <mark>wombats</mark> nest");
    // Every word of a phrase runs to its word's end, not only the last.
    const longer = await marked('"wombat nest in"');
    expect(longer.words).toEqual(["wombats nest in"]);
    expect(longer.snippet).toContain("two <mark>wombats nest in</mark> wombat.tsx");
    expect((await marked("wombat.ts")).words).toEqual(["wombat.ts"]);
    expect((await marked("getNumbat")).words).toEqual(["getNumbat"]);
    expect((await marked("numbat")).words).toEqual(["numbat\u0301s", "Numbat", "Numbat"]);
  });

  /** A team of its own with these posts, so the corpus the other searches expect stays as it is; searches it by key. */
  const teamWith = async (slug: string, contents: Record<string, string>) => {
    const ownTeam = await server.team(slug);
    const token = await server.agent(ownTeam, `${slug}-agent`);
    const keyOfPost = new Map<number, string>();
    for (const [key, content] of Object.entries(contents)) {
      const response = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
      expect(response.status).toBe(201);
      keyOfPost.set(((await response.json()) as { id: number }).id, key);
    }
    const searchIn = async (query: string) => {
      const response = await server.as(token, `/api/v1/search?q=${encodeURIComponent(query)}&limit=20`);
      return { status: response.status, body: (await response.json()) as { results: Hit[]; error?: { message: string } } };
    };
    const keysIn = async (query: string) => {
      const { status, body } = await searchIn(query);
      expect(status, `${query}: ${JSON.stringify(body)}`).toBe(200);
      return body.results.map((hit) => keyOfPost.get(hit.post.id)!).sort();
    };
    return { team: ownTeam, token, searchIn, keysIn };
  };

  it("a quoted phrase keeps its common words: it finds the words in that order, next to each other, not the other words alone", async () => {
    const { keysIn, searchIn } = await teamWith("phrases", {
      oom: "The worker ran out of memory during the nightly build.",
      oomCapitals: "Build 812: Out Of Memory again.",
      oomHyphen: "Killed with an out-of-memory error.",
      reordered: "Memory use is fine; we ran out of disk instead.",
      apart: "Out of the box the memory footprint is small.",
      theCache: "Cleared the cache after the deploy.",
      theCaches: "Flushed the caches twice.",
      aCache: "A cache of the results, then the deploy.",
      forTheResults: "Kept a cache for the results, then the deploy.",
    });
    expect(await keysIn('"out of memory"')).toEqual(["oom", "oomCapitals", "oomHyphen"]);
    expect(await keysIn('"the cache"')).toEqual(["theCache", "theCaches"]);
    expect(await keysIn('"cache of the results"')).toEqual(["aCache"]);
    expect(await keysIn('"cache for the results"')).toEqual(["forTheResults"]);
    // With other words, or, and excluded.
    expect(await keysIn('"out of memory" nightly')).toEqual(["oom"]);
    expect(await keysIn('"the cache" or footprint')).toEqual(["apart", "theCache", "theCaches"]);
    expect(await keysIn('cache -"the cache"')).toEqual(["aCache", "forTheResults"]);
    expect(await keysIn('memory -"out of memory"')).toEqual(["apart", "reordered"]);
    // A phrase without common words is as it was; one of common words only has nothing to find (as the README says).
    expect(await keysIn('"nightly build"')).toEqual(["oom"]);
    expect(await keysIn('"out of"')).toEqual([]);
    // A post longer than what is read word for word (highlighting's scan) is matched by the english reading, at a short post's cost.
    const long = await teamWith("long-phrases", {
      longWithout: `${"padding ".repeat(600)}a cache of the results`,
      shortWithout: "a cache of the results",
      shortWith: "flushed the cache",
    });
    expect(await long.keysIn('"the cache"')).toEqual(["longWithout", "shortWith"]);
    // The whole phrase is marked.
    const hit = (await searchIn('"out of memory"')).body.results.find((found) => found.post.content.startsWith("The worker"))!;
    expect(hit.snippet).toContain("ran <mark>out of memory</mark> during");
  });

  it("a prefix of one letter is refused, saying what a prefix needs, on the API and the web page; a common word's start finds its words", async () => {
    const {
      keysIn,
      searchIn,
      team: prefixTeam,
    } = await teamWith("prefixes", {
      outage: "The outage ended when the upgrade of the index finished.",
      output: "Output is fine, no upgrade needed.",
      cache: "Warmed the cache.",
    });
    for (const [query, written] of [
      ["a*", "a*"],
      ["b*", "b*"],
      ["deploy x*", "x*"],
      ["-é*", "é*"],
    ]) {
      const refused = await searchIn(query!);
      expect({ query, status: refused.status }).toEqual({ query, status: 400 });
      expect(refused.body.error?.message).toBe(
        `q (the search query): '${written}' is too short a prefix: a word ending in * needs at least 2 letters or digits before the *, as in se*.`,
      );
    }
    const cookie = await server.engineer(prefixTeam, "pat");
    const web = await fetch(`${server.url}/search?q=${encodeURIComponent("a*")}`, { headers: { cookie } });
    expect(web.status).toBe(400);
    const page = await web.text();
    expect(page).toContain(
      "&#39;a*&#39; is too short a prefix: a word ending in * needs at least 2 letters or digits before the *, as in se*.",
    );
    expect(page).not.toContain("No posts match");
    // "out", "in" and "up" are words search leaves out, not the starts of words.
    expect(await keysIn("out*")).toEqual(["outage", "output"]);
    expect(await keysIn("in*")).toEqual(["outage"]);
    expect(await keysIn("fine up*")).toEqual(["output"]);
    expect(await keysIn("ca*")).toEqual(["cache"]);
  });

  it("a search finds posts by tags and by author name, not only by their text", async () => {
    expect(await keysFor("typescript")).toEqual(["ts2345"]);
    expect(await keysFor("dave performance")).toEqual(["db-pool"]);
  });

  it("a 16 KB post costs what a short one does: ranking, terms and highlights read a bounded part", async () => {
    const words = Array.from({ length: 1000 }, (_, index) => `identifier_${index}`).join(" ");
    const content = `needle at the start. ${words} needle again far in.`;
    expect(content.length).toBeGreaterThan(14_000);
    const long = await (
      await server.as(tokens.dave!, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `${content} needle` }) })
    ).json();
    const rows = await server.database.db.execute<{ ranked: number; terms: number; matched: number }>(
      sql`select length(rank_search) as ranked, length(search_terms) as terms, length(search) as matched from posts where id = ${long.id}`,
    );
    const row = rowsOf<{ ranked: number; terms: number; matched: number }>(rows)[0]!;
    expect(Number(row.terms)).toBeLessThanOrEqual(maxSearchTerms);
    // Matching sees the whole post; the ranking vector has only the first 4,000 characters' words and the capped terms.
    expect(Number(row.matched)).toBeGreaterThan(Number(row.ranked) - Number(row.terms));
    expect(Number(row.ranked) - Number(row.terms)).toBeLessThan(Number(row.matched) - Number(row.terms));
    const { body } = await search("needle from:dave");
    const hit = body.results.find((candidate) => candidate.post.id === long.id)!;
    expect(hit.matches.length).toBeGreaterThan(0);
    for (const match of hit.matches) expect(match.end).toBeLessThanOrEqual(matchScanChars);
    expect(hit.snippet.length).toBeLessThan(1000);
    // A word only past the scanned part still finds the post.
    expect((await search("identifier_999")).body.results.map((found) => found.post.id)).toContain(long.id);
  });

  it("a short post keeps one vector, which it ranks by: the row is not twice its size", async () => {
    const short = await (
      await server.as(tokens.dave!, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "flamegraph of the flamegraph" }) })
    ).json();
    const rows = await server.database.db.execute<{ unranked: boolean }>(
      sql`select rank_search is null as unranked from posts where id = ${short.id}`,
    );
    expect(rowsOf<{ unranked: boolean }>(rows)[0]!.unranked).toBe(true);
    const { body } = await search("flamegraph");
    expect(body.results.map((hit) => hit.post.id)).toEqual([short.id]);
    expect((body.results[0] as Hit & { rank: number }).rank).toBeGreaterThan(0);
  });

  it("the full-text and tag indexes keep no pending list that every search would read through", async () => {
    const rows = await server.database.db.execute<{ name: string; options: string[] | null }>(
      sql`select relname as name, reloptions as options from pg_class
          where relname in ('posts_team_search_idx', 'posts_team_tags_idx', 'journal_team_search_idx') order by relname`,
    );
    const indexes = rowsOf<{ name: string; options: string[] | null }>(rows);
    expect(indexes.map((index) => [index.name, index.options])).toEqual([
      ["journal_team_search_idx", ["fastupdate=off"]],
      ["posts_team_search_idx", ["fastupdate=off"]],
      ["posts_team_tags_idx", ["fastupdate=off"]],
    ]);
  });

  it("a commit hash or UUID is found whole and by its start, and its digits and letters are not terms of their own", async () => {
    const hash = "9c4e1f07ab3d52e8";
    const uuid = "7f3e2a10-4b5c-4d6e-8f90-a1b2c3d4e5f6";
    const posted = await (
      await server.as(tokens.dave!, "/api/v1/posts", {
        method: "POST",
        body: JSON.stringify({ content: `Reverted ${hash}; the job ${uuid} ran getX on v2 again.` }),
      })
    ).json();
    for (const query of [hash, "9c4e1f0*", uuid]) {
      expect(
        (await search(query)).body.results.map((hit) => hit.post.id),
        query,
      ).toContain(posted.id);
    }
    const rows = await server.database.db.execute<{ terms: string }>(
      sql`select search_terms::text as terms from posts where id = ${posted.id}`,
    );
    const terms = rowsOf<{ terms: string }>(rows)[0]!.terms;
    expect(terms).toContain(`'${hash}'`);
    expect(terms).toContain("'getx'");
    for (const noise of ["'9'", "'c'", "'4'", "'1f'", "'x'", "'v'", "'2'"]) expect(terms).not.toContain(noise);
  });

  it("posts written without search terms (older versions, raw inserts) get them at start-up", async () => {
    const db = server.database.db;
    await db.execute(
      sql`insert into posts (team_id, author_kind, author_name, content) values (${team.id}, 'human', 'erin', 'Moved the handler to server/http/webhooks.ts')`,
    );
    expect(await keysFor("webhooks.ts")).toEqual([]);
    expect(await deriveMissingSearchTerms(db)).toBe(1);
    const { body } = await search("webhooks.ts");
    expect(body.results.map((hit) => hit.post.content)).toEqual(["Moved the handler to server/http/webhooks.ts"]);
    expect(await deriveMissingSearchTerms(db)).toBe(0);
  });

  describe("through MCP", () => {
    let client: Client;
    beforeAll(async () => {
      client = await connectMcp(server.url, tokens.bob!);
    });
    afterAll(() => client?.close());

    it("search_posts returns a short post whole, with the matches marked, in one call", async () => {
      const result = await callTool(client, "search_posts", { query: "unlogged" });
      expect(result.isError).toBeFalsy();
      expect(result.text).toContain(`#${idOf.get("blocker-migrations")} · alice (agent)`);
      expect(result.text).toContain("`ALTER TABLE ... SET «UNLOGGED»` is not supported there. Needs a guard.");
      const structured = result.structuredContent as { results: { whole: boolean; matches: unknown[] }[] };
      expect(structured.results[0]).toMatchObject({ whole: true });
      expect(structured.results[0]!.matches).toHaveLength(1);
    });

    /** The fenced texts of a result, and what follows each fence up to the next post's header. */
    const fencedParts = (text: string) => {
      const key = /^<<<(\w+)$/m.exec(text)![1]!;
      return [...text.matchAll(new RegExp(`<<<${key}\\n([\\s\\S]*?)\\n${key}>>>([^]*?)(?=\\n\\n#|$)`, "g"))].map((match) => ({
        fenced: match[1]!,
        after: match[2]!,
      }));
    };

    it("a post's own « and » are spelled out, so every « » in search results is a match mark, whole or in excerpts", async () => {
      const content = "The spec says «never retry» but the quokka retries anyway.";
      await server.as(tokens.carol!, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) });
      const result = await callTool(client, "search_posts", { query: "quokka" });
      expect(result.text).toContain("matches in «» (a post's own « and » read [U+00AB] and [U+00BB])");
      const [part] = fencedParts(result.text);
      expect(part!.fenced).toBe("The spec says [U+00AB]never retry[U+00BB] but the «quokka» retries anyway.");
      const structured = result.structuredContent as { results: { snippet: string }[] };
      expect(structured.results[0]!.snippet).toBe(part!.fenced);
    });

    it("a long post comes as excerpts, and the note with its size and how to read it all follows the fence", async () => {
      const filler = "Background detail about the rollout that nobody needs for this search. ".repeat(40);
      const long = await (
        await server.as(tokens.carol!, "/api/v1/posts", {
          method: "POST",
          body: JSON.stringify({
            content: `${filler}The culprit is zebraStripe in views/table.tsx («not mine», says the owner).${filler}`,
          }),
        })
      ).json();
      const result = await callTool(client, "search_posts", { query: "zebraStripe" });
      const [part] = fencedParts(result.text);
      expect(part!.fenced).toContain("The culprit is «zebraStripe» in views/table.tsx ([U+00AB]not mine[U+00BB], says the owner).");
      expect(part!.fenced).not.toContain("get_thread");
      expect(part!.after).toBe(
        `\nExcerpts of a post of ${long.content.length} characters: read it all with get_thread post_id=${long.id}.`,
      );
      expect(result.text.length).toBeLessThan(long.content.length);
      const structured = result.structuredContent as { results: { whole: boolean; snippet: string }[] };
      expect(structured.results[0]!.whole).toBe(false);
      expect(structured.results[0]!.snippet).toContain("«zebraStripe» in views/table.tsx ([U+00AB]not mine[U+00BB]");
    });

    it("a tag search that finds nothing says what to search instead, in the text and the structured answer", async () => {
      const result = await callTool(client, "search_posts", { query: "#nosuchtag" });
      const hint =
        '#nosuchtag finds posts given that tag when written, not the text "#nosuchtag" in a post: to find the word, search nosuchtag.';
      expect(result.text).toBe(`0 matches, best first. ${hint}`);
      expect(result.structuredContent).toEqual({ results: [], hint });
    });

    it("an unknown operator is an isError result that names the known ones", async () => {
      const result = await callTool(client, "search_posts", { query: "label:bug" });
      expect(result.isError).toBe(true);
      // The tool's argument is query, not REST's q.
      expect(result.text).toMatch(/^query: 'label:' is not an operator/);
      expect(result.text).toContain("from:NAME");
    });

    it("a cursor given with another query is an isError result that says so", async () => {
      const first = await callTool(client, "search_posts", { query: "tag:blocker", limit: 1 });
      const { nextCursor } = first.structuredContent as { nextCursor: string };
      const other = await callTool(client, "search_posts", { query: "session", limit: 1, cursor: nextCursor });
      expect(other.isError).toBe(true);
      expect(other.text).toBe(
        "cursor is from another search: send it with the query it came with, or leave it out to start from the first page.",
      );
      expect((await callTool(client, "search_posts", { query: "tag:blocker", limit: 1, cursor: nextCursor })).isError).toBeFalsy();
    });

    it("a date the database does not have, or past its month's end, is an isError result naming the operator, in posts and journal", async () => {
      for (const tool of ["search_posts", "search_journal"]) {
        for (const [query, expected] of [
          ["before:0000-01-01 flaky", "before: takes a date like 2026-11-30, from 0001-01-01 to 9999-12-31, not '0000-01-01'"],
          ["after:2026-02-30", "after: takes a date like 2026-11-30, from 0001-01-01 to 9999-12-31, not '2026-02-30'"],
        ]) {
          const result = await callTool(client, tool, { query });
          expect({ tool, query, isError: result.isError }).toEqual({ tool, query, isError: true });
          expect(result.text).toContain(expected);
          expect(result.text).not.toContain("Something went wrong");
        }
      }
    });

    it("a one-letter prefix is an isError result that says what a prefix needs, in posts and journal", async () => {
      for (const tool of ["search_posts", "search_journal"]) {
        const result = await callTool(client, tool, { query: "a*" });
        expect({ tool, isError: result.isError }).toEqual({ tool, isError: true });
        expect(result.text).toBe(
          "query: 'a*' is too short a prefix: a word ending in * needs at least 2 letters or digits before the *, as in se*.",
        );
      }
    });

    it("journal search reads a quoted phrase word for word, its common words too, in the entry and in a section", async () => {
      const ids: Record<string, number> = {};
      for (const [key, entry] of Object.entries({
        oom: { technical_insights: "The indexer ran out of memory at 2 GB." },
        feltOom: { technical_insights: "Memory is fine; the indexer ran out of disk.", feelings: "Relieved it was not out of memory." },
        disk: { technical_insights: "Out of disk, and the memory graph is flat." },
      })) {
        const saved = await callTool(client, "process_thoughts", entry);
        expect(saved.isError).toBeFalsy();
        ids[key] = (saved.structuredContent as { entry: { id: number } }).entry.id;
      }
      const found = async (args: Record<string, unknown>) => {
        const result = await callTool(client, "search_journal", args);
        expect(result.isError, JSON.stringify(args)).toBeFalsy();
        const hits = (result.structuredContent as { results: { entry: { id: number }; matchedSections: string[] }[] }).results;
        return Object.fromEntries(hits.map((hit) => [Object.keys(ids).find((key) => ids[key] === hit.entry.id), hit.matchedSections]));
      };
      expect(await found({ query: '"out of memory"' })).toEqual({ oom: ["technical_insights"], feltOom: ["feelings"] });
      expect(await found({ query: '"out of memory"', sections: ["technical_insights"] })).toEqual({ oom: ["technical_insights"] });
      expect(await found({ query: 'disk -"out of memory"' })).toEqual({ disk: ["technical_insights"] });
    });

    it("journal search finds words in angle brackets, in the entry and in its section", async () => {
      const saved = await callTool(client, "process_thoughts", {
        feelings: "Calm.",
        technical_insights: "The <script> tag ran before hydration finished; fetchRows() returns Promise<Manifest>.",
      });
      expect(saved.isError).toBeFalsy();
      for (const query of ["hydration", "manifest", '"ran before hydration"']) {
        const result = await callTool(client, "search_journal", { query, sections: ["technical_insights"] });
        expect(result.isError, query).toBeFalsy();
        expect(result.text, query).toContain("matched in technical_insights");
      }
    });

    it("journal search finds an entry by a file's part and a dotted name, like posts", async () => {
      const saved = await callTool(client, "process_thoughts", {
        technical_insights: "The flake is in test/support/sequencer.ts: `pickNextRunner` ignores the lock.",
      });
      expect(saved.isError).toBeFalsy();
      for (const query of ["sequencer.ts", "next runner", "pickNext*"]) {
        const result = await callTool(client, "search_journal", { query });
        expect(result.isError, query).toBeFalsy();
        expect(result.text, query).toContain("pickNextRunner");
        expect(result.text, query).toContain("matched in technical_insights");
      }
      const wrong = await callTool(client, "search_journal", { query: "sequencer from:bob" });
      expect(wrong.isError).toBe(true);
      expect(wrong.text).toContain("journal search takes words");
    });
  });
});
