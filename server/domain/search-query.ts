/**
 * The search query language, read once here for REST, MCP and the web: words (any may end in
 * `*` for a prefix), "quoted phrases", -excluded words, `or` between two words, and operators.
 */
import { createHash } from "node:crypto";
import { dateRange, readDate } from "./dates.ts";
import { invalid } from "./errors.ts";
import { minSearchPrefixChars } from "./limits.ts";
import { isTag, normalizeTag, tagRule } from "./post-content.ts";
import { postIdSchema } from "./schemas.ts";

/** A word or phrase to find: matched in the text (stemmed), and as a code term (search-terms.ts). */
export type SearchWord = { text: string; phrase: boolean; prefix: boolean };
/** Words of which a post must have one (several when joined by `or`), or none when excluded. */
export type SearchClause = { anyOf: SearchWord[]; excluded: boolean };
export type SearchFilters = {
  authors: string[];
  tags: string[];
  threadId?: number;
  /** Posts written before this instant. */
  before?: Date;
  /** Posts written at or after this instant. */
  after?: Date;
  reply?: boolean;
  hasCode?: boolean;
};
export type ParsedSearch = { clauses: SearchClause[]; filters: SearchFilters };

/** Every operator, as the error for an unknown one lists them. */
export const searchOperators = [
  "from:NAME",
  "tag:TAG (or #TAG)",
  "in:thread:ID",
  "before:YYYY-MM-DD",
  "after:YYYY-MM-DD",
  "is:reply",
  "is:root",
  "has:code",
] as const;

const operatorPattern = /^([a-z]+):(.*)$/i;
const operatorNames = new Set(searchOperators.map((operator) => operator.slice(0, operator.indexOf(":"))));
/** Characters that split a query word into tokens; what is left is a word, a path or an identifier. */
const tokenPattern = /[\p{L}\p{N}_$][\p{L}\p{N}_$./:-]*/gu;

function unknownOperator(name: string): never {
  throw invalid(
    `q (the search query): '${name}:' is not an operator. Known operators: ${searchOperators.join(", ")}. ` +
      `To search for a word with a colon, put it in "quotes".`,
  );
}

function dateOf(operator: string, value: string): Date {
  const date = readDate(value);
  if (!date)
    throw invalid(
      `q (the search query): ${operator}: takes a date like 2026-11-30, from ${dateRange.earliest} to ${dateRange.latest}, not '${value}'.`,
    );
  return date;
}

function applyOperator(filters: SearchFilters, name: string, value: string): void {
  // Unknown comes first: `error:` is a mistyped operator or a word to quote, not a missing value.
  if (!operatorNames.has(name)) unknownOperator(name);
  if (!value)
    throw invalid(
      `q (the search query): ${name}: needs a value, as in ${searchOperators.find((op) => op.startsWith(`${name}:`)) ?? name}.`,
    );
  switch (name) {
    case "from":
      filters.authors.push(value);
      return;
    case "tag":
      addTag(filters, value);
      return;
    case "in": {
      // The id rule of every door, so any thread /posts?thread= takes is found here too.
      const threadId = postIdSchema.safeParse(/^thread:(.*)$/i.exec(value)?.[1]);
      if (!threadId.success) throw invalid(`q (the search query): in: takes thread:ID, as in in:thread:123, not '${value}'.`);
      filters.threadId = threadId.data;
      return;
    }
    case "before":
      filters.before = dateOf(name, value);
      return;
    case "after":
      // after:2026-11-30 counts from the start of that day, as mail search reads it.
      filters.after = dateOf(name, value);
      return;
    case "is": {
      const kind = value.toLowerCase();
      if (kind !== "reply" && kind !== "root") throw invalid(`q (the search query): is: takes reply or root, not '${value}'.`);
      filters.reply = kind === "reply";
      return;
    }
    case "has":
      if (value.toLowerCase() !== "code") throw invalid(`q (the search query): has: takes code, not '${value}'.`);
      filters.hasCode = true;
      return;
  }
}

/** A tag as posts take it: in any case, with a leading '#' or not (`tag:#ci`, `#ci`). */
function addTag(filters: SearchFilters, tag: string): void {
  const normalized = normalizeTag(tag);
  if (!isTag(normalized)) throw invalid(`q (the search query): '${tag}' is not a tag: ${tagRule}.`);
  filters.tags.push(normalized);
}

/**
 * The operator a piece is, if any: `name:value`, its name read in any case (FROM:alice). An unknown
 * name is taken for one, and refused, only in lower case: `TypeError:` pasted from a log is a word.
 * A value that starts with `/` is a URL's (http://host).
 */
function operatorOf(text: string): { name: string; value: string } | undefined {
  const match = operatorPattern.exec(text);
  if (!match || match[2]!.startsWith("/")) return undefined;
  const name = match[1]!.toLowerCase();
  return operatorNames.has(name) || name === match[1] ? { name, value: match[2]! } : undefined;
}

/** The pieces of a query: "phrases" whole, everything else split at white space. */
function piecesOf(query: string): { text: string; quoted: boolean; excluded: boolean }[] {
  const pieces: { text: string; quoted: boolean; excluded: boolean }[] = [];
  const piecePattern = /(-?)"([^"]*)"?|(\S+)/g;
  for (const match of query.matchAll(piecePattern)) {
    if (match[3] !== undefined) {
      const excluded = match[3].startsWith("-") && match[3].length > 1;
      pieces.push({ text: excluded ? match[3].slice(1) : match[3], quoted: false, excluded });
    } else if (match[2]!.trim()) {
      pieces.push({ text: match[2]!.trim(), quoted: true, excluded: match[1] === "-" });
    }
  }
  return pieces;
}

/** Reads a query (already validated as text) into words and filters, or says what is wrong with it. */
export function parseSearchQuery(query: string): ParsedSearch {
  const filters: SearchFilters = { authors: [], tags: [] };
  const clauses: SearchClause[] = [];
  let joinNext = false;
  for (const piece of piecesOf(query)) {
    if (piece.quoted) {
      addClause([{ text: piece.text, phrase: true, prefix: false }], piece.excluded);
      continue;
    }
    if (!piece.excluded && piece.text.toLowerCase() === "or") {
      joinNext = clauses.length > 0;
      continue;
    }
    const operator = operatorOf(piece.text);
    if (operator) {
      if (piece.excluded) throw invalid(`q (the search query): -${operator.name}: is not supported; operators only narrow a search.`);
      applyOperator(filters, operator.name, operator.value);
      continue;
    }
    if (piece.text.startsWith("#") && !piece.excluded) {
      addTag(filters, piece.text);
      continue;
    }
    const prefix = piece.text.endsWith("*");
    const tokens = piece.text.match(tokenPattern) ?? [];
    tokens.forEach((token, index) => {
      const word = { text: token.replace(/[./:-]+$/, ""), phrase: false, prefix: prefix && index === tokens.length - 1 };
      if (word.prefix) requirePrefixLength(word.text, piece.text);
      if (word.text) addClause([word], piece.excluded);
    });
  }
  if (clauses.length === 0 && !hasFilter(filters)) throw invalid("q (the search query) has no words to find and no operators.");
  return { clauses, filters };

  function addClause(words: SearchWord[], excluded: boolean): void {
    const previous = clauses.at(-1);
    if (joinNext && previous && !previous.excluded && !excluded) previous.anyOf.push(...words);
    else clauses.push({ anyOf: words, excluded });
    joinNext = false;
  }
}

/** A prefix of one letter would find nearly every post: refused, saying what a prefix needs. */
function requirePrefixLength(prefix: string, written: string): void {
  if ([...prefix].length >= minSearchPrefixChars) return;
  throw invalid(
    `q (the search query): '${written}' is too short a prefix: a word ending in * needs at least ${minSearchPrefixChars} letters or digits before the *, as in se*.`,
  );
}

function hasFilter(filters: SearchFilters): boolean {
  return (
    filters.authors.length > 0 ||
    filters.tags.length > 0 ||
    filters.threadId !== undefined ||
    filters.before !== undefined ||
    filters.after !== undefined ||
    filters.reply !== undefined ||
    filters.hasCode !== undefined
  );
}

/** The words a result's text is highlighted with: every word that is not excluded. */
export function highlightedWords(parsed: ParsedSearch): SearchWord[] {
  return parsed.clauses.filter((clause) => !clause.excluded).flatMap((clause) => clause.anyOf);
}

/**
 * What a search's page cursor is bound to: its words and operators as read, so that spacing and
 * the order of operators do not make another search of it.
 */
export function searchFingerprint(parsed: ParsedSearch): string {
  const filters = Object.fromEntries(Object.entries(parsed.filters).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256")
    .update(JSON.stringify({ clauses: parsed.clauses, filters }))
    .digest("base64url")
    .slice(0, 16);
}

/**
 * What to try when a search finds nothing, in cases whose empty answer reads as a fault. Its common
 * words (`the`, `"to be"`: `commonWords`, which the database says) find nothing alone. And `#blocker`
 * is the tag a post was given when written, while a `#blocker` in a post's text is no tag: it says
 * how to find the word instead. Undefined when neither applies.
 */
export function noMatchHint(search: ParsedSearch, commonWords: readonly string[] = []): string | undefined {
  const hints = [commonWordsHint(commonWords), tagsHint(search.filters.tags)].filter((hint) => hint !== undefined);
  return hints.length > 0 ? hints.join(" ") : undefined;
}

function commonWordsHint(words: readonly string[]): string | undefined {
  if (words.length === 0) return undefined;
  const listed = words.map((word) => (word.includes(" ") ? `"${word}"` : `'${word}'`)).join(", ");
  const one = words.length === 1 && !words[0]!.includes(" ");
  return `${listed} ${one ? "is a common word" : "are common words"} that search leaves out (a phrase keeps them only beside another word): add a word that says what you look for.`;
}

function tagsHint(tags: readonly string[]): string | undefined {
  if (tags.length === 0) return undefined;
  const listed = tags.map((tag) => `#${tag}`).join(", ");
  return `${listed} finds posts given ${tags.length === 1 ? "that tag" : "those tags"} when written, not the text "${listed}" in a post: to find the ${tags.length === 1 ? "word" : "words"}, search ${tags.join(" ")}.`;
}

/** The query as a field named `query`: an MCP tool's argument, the compatible API's search body. */
const queryField = { field: "query: ", subject: "query", object: "the query" };

/**
 * How a door other than REST names the query in a search's refusal, which names REST's parameter
 * `q`: the page's search box ("'owner:' is not an operator…", "The search has no words to find…"),
 * an MCP tool's `query` argument, or the `query` field of the compatible API's journal search.
 */
const queryNames = {
  page: { field: "", subject: "The search", object: "the search" },
  tool: queryField,
  compat: queryField,
};

export function searchRefusalFor(door: keyof typeof queryNames, message: string): string {
  const name = queryNames[door];
  return message
    .replace(/^q \(the search query\): /, name.field)
    .replace(/^q \(the search query\) /, `${name.subject} `)
    .replace(" the q (the search query) ", ` ${name.object} `);
}
