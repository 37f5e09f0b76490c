import { and, desc, eq, gte, inArray, isNotNull, isNull, lt, or, sql, type Placeholder, type SQL } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import { decodeOffsetCursor, encodeOffsetCursor } from "./cursors.ts";
import { rowsOf, withReadTimeout, type Db } from "../db/client.ts";
import { preparedWhileFew } from "../db/prepared.ts";
import { posts } from "../db/schema/index.ts";
import { invalid } from "./errors.ts";
import { signedNamesOf } from "./mentions.ts";
import { runExpensiveQuery } from "./expensive-queries.ts";
import { maxSearchQueryChars } from "./limits.ts";
import { requireWellFormedText } from "./untrusted-text.ts";
import { postColumns, toPost, type Post, type PostRow } from "./posts.ts";
import { highlightedWords, noMatchHint, parseSearchQuery, searchFingerprint, type ParsedSearch } from "./search-query.ts";
import { exclusionOf, inline, searchWordsOf, type Bind, type Searched } from "./search-words.ts";
import { excerptsOf, findMatches, type MatchRange } from "./search-snippets.ts";
import { isCodeToken } from "./search-terms.ts";
import { fuseRankings, meaningOf, nearestInMeaning, queryVector, semanticCandidates, semanticSearchOf } from "./semantic-search.ts";

/** A found post: its rank, where the words are in its content, and excerpts with the matches marked. */
export type SearchHit = { post: Post; rank: number; matches: MatchRange[]; snippet: string };
/** `hint`: for a search that found nothing, what to try instead (`noMatchHint`). */
export type SearchPage = { results: SearchHit[]; nextCursor: string | null; hint?: string };

/**
 * Values bound as named placeholders (search-words.ts's Bind), given when the statement runs: one
 * shape's SQL is rendered once and then only run.
 */
function placeholders(): { bind: (value: unknown) => Placeholder; values: Record<string, unknown> } {
  const values: Record<string, unknown> = {};
  let count = 0;
  return {
    values,
    bind(value) {
      const name = `p${count++}`;
      values[name] = value;
      return sql.placeholder(name);
    },
  };
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

function filtersOf(parsed: ParsedSearch, bind: Bind): { conditions: SQL[]; shape: string } {
  const { filters } = parsed;
  const conditions: SQL[] = [];
  if (filters.authors.length > 0) conditions.push(or(...filters.authors.map((name) => eq(posts.authorName, bind(name))))!);
  if (filters.tags.length > 0)
    conditions.push(
      sql`${posts.tags} @> array[${sql.join(
        filters.tags.map((tag) => bind(tag)),
        sql`, `,
      )}]::text[]`,
    );
  if (filters.threadId !== undefined) conditions.push(or(eq(posts.id, bind(filters.threadId)), eq(posts.rootId, bind(filters.threadId)))!);
  // Sent as text, as the column's encoder sends a time: a placeholder skips that encoder, and drizzle
  // has postgres.js pass time values through unserialised.
  if (filters.before) conditions.push(lt(posts.createdAt, bind(filters.before.toISOString())));
  if (filters.after) conditions.push(gte(posts.createdAt, bind(filters.after.toISOString())));
  if (filters.reply !== undefined) conditions.push(filters.reply ? isNotNull(posts.parentId) : isNull(posts.parentId));
  if (filters.hasCode) conditions.push(sql`strpos(${posts.content}, '\`') > 0`);
  const shape = [
    `from:${filters.authors.length}`,
    `tag:${filters.tags.length}`,
    filters.threadId !== undefined && "in:thread",
    filters.before && "before",
    filters.after && "after",
    filters.reply !== undefined && `is:${filters.reply ? "reply" : "post"}`,
    filters.hasCode && "has:code",
  ];
  return { conditions, shape: shape.filter(Boolean).join(" ") };
}

/** What a post search reads: the post's vector, and its text for phrases read word for word (search-words.ts). */
const searchedPosts: Searched = { vector: posts.search, text: posts.content };

/** A search's words as one tsquery (none with operators alone), the conditions of its phrases and operators, and their shape. */
export function searchPartsOf(parsed: ParsedSearch, bind: Bind = inline): { textQuery: SQL | undefined; conditions: SQL[]; shape: string } {
  const words = searchWordsOf(parsed, searchedPosts, bind);
  const filters = filtersOf(parsed, bind);
  return {
    textQuery: words.textQuery,
    conditions: [...words.conditions, ...filters.conditions],
    shape: `${words.shape}; ${filters.shape}`,
  };
}

/** Where the words are in each result, and its excerpts: worked out here, on a bounded prefix (search-snippets.ts). */
function highlight(text: string, parsed: ParsedSearch): { matches: MatchRange[]; snippet: string } {
  const matches = findMatches(text, highlightedWords(parsed));
  return { matches, snippet: excerptsOf(text, matches) };
}

/**
 * Planning a search took more than half as long as running it (1.3 and 2.1 ms on a board of 100,000
 * posts): the common shapes (one or two words, a word and `from:`) are planned once per connection
 * (docs/decisions/039-prepared-search-shapes.md).
 */
const searchStatements = preparedWhileFew<(PostRow & { rank: number })[]>("search_posts", 32);

/**
 * Search over the team's posts (search-query.ts reads the query), best match first, then newest.
 * Posts match on their whole text and code terms; a long post ranks by its first 4,000 characters
 * and the terms (`rank_search`), so a search's cost does not grow with the length of the posts it
 * finds, and a shorter one by its `search` vector, which is the same.
 * With semantic search on, the words' ranking is fused with the posts nearest in meaning
 * (semantic-search.ts); the operators and `-word` filter both.
 */
export async function searchPosts(db: Db, caller: Caller, input: { query: string; limit: number; cursor?: string }): Promise<SearchPage> {
  requireScope(caller, "read");
  const asked = parseSearchQuery(validateSearchQuery(input.query));
  const fingerprint = searchFingerprint(asked);
  const offset = input.cursor ? decodeOffsetCursor(input.cursor, fingerprint) : 0;
  // from:ALICE is alice, from:username an engineer's display name, as posts are signed.
  const authors = await signedNamesOf(db, caller.teamId, asked.filters.authors);
  const parsed = { ...asked, filters: { ...asked.filters, authors } };
  const semantic = semanticSearchOf(db);
  const meaning = semantic && parsed.clauses.length > 0 ? await queryVector(semantic, meaningOf(parsed)) : undefined;
  const depth = offset + input.limit + 1;
  // The words' search: built with placeholders, so that its shape's statement is rendered once.
  const { bind, values } = placeholders();
  const { textQuery, conditions, shape } = searchPartsOf(parsed, bind);
  const teamId = bind(caller.teamId);
  const limit = bind(meaning ? depth : input.limit + 1);
  const skipped = bind(meaning ? 0 : offset);
  const buildSearch = (reader: Db) => {
    // With operators alone every post ranks the same: newest first.
    const rank = textQuery ? sql<number>`ts_rank(coalesce(${posts.rankSearch}, ${posts.search}), ${textQuery})` : sql<number>`0::real`;
    return reader
      .select({ ...postColumns, rank })
      .from(posts)
      .where(
        and(eq(posts.teamId, teamId), isNull(posts.deletedAt), ...conditions, ...(textQuery ? [sql`${posts.search} @@ ${textQuery}`] : [])),
      )
      .orderBy(...(textQuery ? [desc(rank)] : []), desc(posts.createdAt), desc(posts.id))
      .limit(limit)
      .offset(skipped);
  };
  const { rows, nearest } = await boundedSearch(db, caller, async (reader) => {
    const rows = await searchStatements(reader, shape, buildSearch, values);
    if (!semantic || !meaning) return { rows, nearest: [] };
    const ids = await nearestInMeaning(reader, semantic, "posts", caller.teamId, meaning, semanticCandidates(depth));
    if (ids.length === 0) return { rows, nearest: [] };
    const excluded = parsed.clauses.filter((clause) => clause.excluded).map((clause) => exclusionOf(clause, searchedPosts));
    const found = await reader
      .select({ ...postColumns, rank: sql<number>`0::real` })
      .from(posts)
      .where(and(inArray(posts.id, ids), eq(posts.teamId, teamId), isNull(posts.deletedAt), ...conditions, ...excluded))
      .execute(values);
    const byId = new Map(found.map((row) => [row.id, row]));
    return { rows, nearest: ids.flatMap((id) => byId.get(id) ?? []) };
  });
  if (!meaning) {
    const results = rows.slice(0, input.limit).map((row) => {
      const post = toPost(row);
      return { post, rank: Number(row.rank), ...highlight(post.content, parsed) };
    });
    return withHint(
      db,
      { results, nextCursor: rows.length > input.limit ? encodeOffsetCursor(offset + input.limit, fingerprint) : null },
      asked,
    );
  }
  const rowOf = new Map([...nearest, ...rows].map((row) => [row.id, row]));
  const fused = fuseRankings([rows.map((row) => row.id), nearest.map((row) => row.id)]);
  const results = fused.slice(offset, offset + input.limit).map(({ id, score }) => {
    const post = toPost(rowOf.get(id)!);
    return { post, rank: score, ...highlight(post.content, parsed) };
  });
  return withHint(
    db,
    { results, nextCursor: fused.length > offset + input.limit ? encodeOffsetCursor(offset + input.limit, fingerprint) : null },
    asked,
  );
}

/** For a search that found nothing, what to try instead; asking which of its words are common costs a statement only then. */
async function withHint(db: Db, page: SearchPage, search: ParsedSearch): Promise<SearchPage> {
  if (page.results.length > 0) return page;
  const hint = noMatchHint(search, await commonWordsOf(db, searchedWords(search)));
  return hint === undefined ? page : { ...page, hint };
}

/** The words (and phrases) a search looks for, as written: not the excluded ones. */
function searchedWords(search: ParsedSearch): string[] {
  return search.clauses.filter((clause) => !clause.excluded).flatMap((clause) => clause.anyOf.map((word) => word.text));
}

/**
 * Which of these the `english` reading leaves out whole (`the`, `"to be"`): common words that no
 * post is found by, unless they are code terms (search-words.ts looks for `node:fs` as a term).
 */
async function commonWordsOf(db: Db, words: readonly string[]): Promise<string[]> {
  const looked = words.filter((word) => !isCodeToken(word));
  if (looked.length === 0) return [];
  const rows = await db.execute(
    sql`select word from unnest(${sql.param(looked)}::text[]) as word where numnode(plainto_tsquery('english', word)) = 0`,
  );
  return rowsOf<{ word: string }>(rows).map((row) => row.word);
}
