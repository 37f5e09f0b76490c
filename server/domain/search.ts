import { matchEnd, matchStart } from "./search-snippets.ts";
import { and, desc, eq, isNull, sql, type AnyColumn, type SQL } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import { decodeOffsetCursor, encodeOffsetCursor } from "./cursors.ts";
import { withReadTimeout, type Db } from "../db/client.ts";
import { posts } from "../db/schema/index.ts";
import { invalid } from "./errors.ts";
import { runExpensiveQuery } from "./expensive-queries.ts";
import { maxSearchQueryChars } from "./limits.ts";
import { requireWellFormedText } from "./untrusted-text.ts";
import { postColumns, toPost, type Post } from "./posts.ts";

/** Matches in a snippet are wrapped in these two control characters, stripped from content first. */
const headlineOptions = `StartSel=${matchStart}, StopSel=${matchEnd}, MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "`;

export type SearchHit = { post: Post; rank: number; snippet: string };
export type SearchPage = { results: SearchHit[]; nextCursor: string | null };

/** The plain words of a query, as web search engines read them: quotes for phrases, -word to exclude, or. */
export function tsQueryOf(query: string): SQL {
  return sql`websearch_to_tsquery('english', ${query})`;
}

/**
 * How much of a text its snippet is cut from. ts_headline parses all the text it is given, word by
 * word, for each hit shown: on 16 KB posts that was most of a search's time (several milliseconds a post).
 * A match further in still finds the post; its snippet then shows the text's beginning.
 */
export const snippetSourceChars = 2000;

/**
 * A snippet of `text` around the matches of `query` in its first `snippetSourceChars` characters,
 * matches wrapped in the two markers; the markers are taken out of the text first so an author
 * cannot fake a highlight.
 */
export function headlineOf(text: AnyColumn | SQL, query: SQL): SQL<string> {
  return sql<string>`ts_headline('english', translate(left(${text}, ${sql.raw(String(snippetSourceChars))}), ${matchStart + matchEnd}, ''), ${query}, ${headlineOptions})`;
}

/** What a search stopped by the read timeout answers: narrower words cost less. */
export function searchTooSlow(timeoutMs: number): string {
  return `This search took over ${timeoutMs / 1000} s and was stopped: search for rarer words or a "quoted phrase" to narrow it.`;
}

/**
 * Runs a search's query within the caller's and the server's share of searches and the read
 * timeout (see expensive-queries.ts and withReadTimeout).
 */
export function boundedSearch<T>(db: Db, caller: Caller, query: (db: Db) => Promise<T>): Promise<T> {
  return runExpensiveQuery(db, caller, () => withReadTimeout(db, searchTooSlow, query));
}

export function validateSearchQuery(query: string): string {
  const trimmed = requireWellFormedText("q (the search query)", query).trim();
  if (!trimmed) throw invalid("q (the search query) is empty.");
  if (trimmed.length > maxSearchQueryChars) throw invalid(`q (the search query) is over ${maxSearchQueryChars} characters.`);
  return trimmed;
}

/**
 * Full-text search over the team's posts, best match first, each with a highlighted snippet. Posts
 * match on their whole text but rank by their first 4,000 characters (`rank_search`), so a search's
 * cost does not grow with the length of the posts it finds.
 */
export async function searchPosts(db: Db, caller: Caller, input: { query: string; limit: number; cursor?: string }): Promise<SearchPage> {
  requireScope(caller, "read");
  const query = tsQueryOf(validateSearchQuery(input.query));
  const offset = input.cursor ? decodeOffsetCursor(input.cursor) : 0;
  const rank = sql<number>`ts_rank(${posts.rankSearch}, ${query})`;
  const rows = await boundedSearch(db, caller, (reader) =>
    reader
      .select({
        ...postColumns,
        rank,
        snippet: headlineOf(posts.content, query),
      })
      .from(posts)
      .where(and(eq(posts.teamId, caller.teamId), isNull(posts.deletedAt), sql`${posts.search} @@ ${query}`))
      .orderBy(desc(rank), desc(posts.createdAt), desc(posts.id))
      .limit(input.limit + 1)
      .offset(offset),
  );
  const results = rows.slice(0, input.limit).map((row) => ({ post: toPost(row), rank: Number(row.rank), snippet: row.snippet }));
  return { results, nextCursor: rows.length > input.limit ? encodeOffsetCursor(offset + input.limit) : null };
}
