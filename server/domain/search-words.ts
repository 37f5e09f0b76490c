/**
 * A search's words as SQL (search-query.ts reads them): the tsquery the GIN index finds and ranks
 * rows by, and the checks of phrases that hold common words, read word for word in a found row's
 * text. Posts and journal entries are searched with both.
 */
import { sql, type Column, type Placeholder, type SQL } from "drizzle-orm";
import type { ParsedSearch, SearchClause, SearchWord } from "./search-query.ts";
import { matchScanChars } from "./search-snippets.ts";
import { isCodeToken, quotedLexeme } from "./search-terms.ts";

/**
 * A piece of a search's SQL, and its shape: what of that SQL the query's words and operators
 * decide, their values left out. Searches of one shape send the same statement (see search.ts).
 */
export type Shaped = { sql: SQL; shape: string };

/**
 * How a value goes into a search's SQL: as a parameter in place (`inline`), or as a named
 * placeholder whose value is given when the statement runs, so that one shape's SQL is rendered
 * once and then only run.
 */
export type Bind = (value: unknown) => SQL | Placeholder;
export const inline: Bind = (value) => sql`${value}`;

/**
 * A text as search reads it: each `<` a space. The `english` parser takes `<Result>` in
 * `Promise<Result>`, `<div class="x">` and all from `<script>` to `</script>` for HTML and drops their
 * words; the stored vectors are made the same way (migration 0035).
 */
export function searchableText(text: SQL | Column): SQL {
  return sql`translate(${text}, '<', ' ')`;
}

/** What a search reads of a row: the indexed vector, and the text that vector was made from. */
export type Searched = { vector: SQL | Column; text: SQL | Column };

/**
 * A word as a tsquery: the `english` reading of it (stemmed; a phrase keeps its order) or the code
 * term it is (search-terms.ts: `session.ts`, `parseconfigfile`, a part like `config`, a tag). A stop
 * word has no `english` reading and is dropped rather than looked for among code terms; a prefix is
 * still one (`in*` finds "index"), read as a term's start when `english` drops it.
 */
function wordQuery(word: SearchWord, bind: Bind): Shaped {
  const english = word.phrase
    ? sql`phraseto_tsquery('english', ${bind(word.text)})`
    : word.prefix
      ? sql`to_tsquery('english', ${bind(`${quotedLexeme(word.text)}:*`)})`
      : sql`plainto_tsquery('english', ${bind(word.text)})`;
  const reading = word.phrase ? "phrase" : word.prefix ? "prefix" : "word";
  if (isWordForWord(word)) return { sql: english, shape: reading };
  const code = sql`${bind(`${quotedLexeme(word.text.toLowerCase())}${word.prefix ? ":*" : ""}`)}::tsquery`;
  // A code token is looked for as a term even when the english parser drops it.
  if (isCodeToken(word.text) || word.prefix) return { sql: sql`(${english} || ${code})`, shape: `${reading}+code` };
  return { sql: sql`(case when numnode(${english}) = 0 then ${english} else ${english} || ${code} end)`, shape: `${reading}|code` };
}

/**
 * A phrase of several words: `english` reads it without its common words ("out of memory" is
 * `memori`), so a row it finds is read again, word for word (phraseMatch).
 */
function isWordForWord(word: SearchWord): boolean {
  return word.phrase && (word.text.match(/\S+/g) ?? []).length > 1;
}

function hasWordForWord(clause: SearchClause): boolean {
  return clause.anyOf.some(isWordForWord);
}

/**
 * The longest text read word for word: as much as highlighting scans, so a long post costs what a
 * short one does. A longer one is matched by the phrase's `english` reading alone, as every post was
 * before phrases were read word for word (`left` bounds the read: SQL may evaluate either side of an `or`).
 */
const phraseReadChars = matchScanChars;

/**
 * Whether a row holds a phrase of several words as written: the index finds its `english` reading,
 * then, if `english` left a common word out, `botboard_phrase` (migration 0032: the same stems, no
 * word left out) reads the row's text for the whole phrase, unless it is longer than phraseReadChars.
 * Only found rows are read, and only for such phrases; one without common words costs nothing more.
 */
function phraseMatch(word: SearchWord, searched: Searched, bind: Bind): SQL {
  const text = bind(word.text);
  const english = sql`phraseto_tsquery('english', ${text})`;
  const whole = sql`phraseto_tsquery('botboard_phrase', ${text})`;
  // Worked out once per search (a subquery), null when the english reading is the whole phrase.
  const wholeUnlessSame = sql`(select nullif(${whole}, ${english}))`;
  const bound = sql.raw(String(phraseReadChars));
  const readWordForWord = sql`(length(${searched.text}) > ${bound} or to_tsvector('botboard_phrase', ${searchableText(sql`left(${searched.text}, ${bound})`)}) @@ ${wholeUnlessSame})`;
  return sql`(${searched.vector} @@ (select ${english}) and (${wholeUnlessSame} is null or ${readWordForWord}))`;
}

function clauseTsquery(clause: SearchClause, bind: Bind): Shaped {
  const words = clause.anyOf.map((word) => wordQuery(word, bind));
  return {
    sql: sql`(${sql.join(
      words.map((word) => word.sql),
      sql` || `,
    )})`,
    shape: `${clause.excluded ? "-" : ""}(${words.map((word) => word.shape).join(" ")})`,
  };
}

/** Whether a row holds one of a clause's words (so is excluded by an excluded clause): its phrases as written. */
export function clauseMatch(clause: SearchClause, searched: Searched, bind: Bind = inline): SQL {
  const phrases = clause.anyOf.filter(isWordForWord).map((word) => phraseMatch(word, searched, bind));
  const others = clause.anyOf.filter((word) => !isWordForWord(word));
  const words =
    others.length > 0 ? [sql`${searched.vector} @@ (select ${clauseTsquery({ anyOf: others, excluded: false }, bind).sql})`] : [];
  return sql`(${sql.join([...phrases, ...words], sql` or `)})`;
}

/** The condition an excluded clause puts on a row. */
export function exclusionOf(clause: SearchClause, searched: Searched, bind: Bind = inline): SQL {
  return sql`not ${clauseMatch(clause, searched, bind)}`;
}

/**
 * A search's words as SQL: `textQuery`, the tsquery the index finds rows with and ranks them by
 * (undefined with no words to find), and `conditions` the found rows must also meet: each clause
 * with a phrase of several words, read word for word. An excluded clause with one is only a
 * condition: the `english` reading of `-"the cache"` would exclude every post with "cache".
 */
export function searchWordsOf(
  parsed: ParsedSearch,
  searched: Searched,
  bind: Bind = inline,
): { textQuery: SQL | undefined; conditions: SQL[]; shape: string } {
  const indexed = parsed.clauses.filter((clause) => !(clause.excluded && hasWordForWord(clause)));
  const queries = indexed.map((clause) => {
    const query = clauseTsquery(clause, bind);
    return clause.excluded ? sql`(!! ${query.sql})` : query.sql;
  });
  const conditions = parsed.clauses
    .filter(hasWordForWord)
    .map((clause) => (clause.excluded ? exclusionOf(clause, searched, bind) : clauseMatch(clause, searched, bind)));
  return {
    // A subquery: the tsquery is worked out once per search even in a prepared statement's generic
    // plan, which would otherwise rebuild it for every row it matches and ranks.
    textQuery: queries.length > 0 ? sql`(select (${sql.join(queries, sql` && `)}))` : undefined,
    conditions,
    // The shapes of every clause's words, excluded or not, decide the conditions too.
    shape: parsed.clauses.length > 0 ? parsed.clauses.map((clause) => clauseTsquery(clause, inline).shape).join(" ") : "no words",
  };
}
