/**
 * The code-aware half of search (docs/decisions/022-code-aware-search.md). Postgres's `english`
 * configuration keeps `server/auth/session.ts` as one token and `parseConfigFile` as one word, so
 * neither is found by its parts. Here, in TypeScript, each post's paths, dotted names, identifiers
 * and error codes become search terms: the whole, every run of its path or dotted segments
 * (`auth/session`, `session.ts`) and the words inside it (`parse`, `config`, `file`); tags and the
 * author's name too. The terms are stored as a tsvector next to the `english` one: wholes weigh most,
 * so an exact identifier ranks first.
 */

/** A run of characters that may be a path, a dotted name, an identifier or an error code. */
const codeTokenPattern = /[./]*[\p{L}\p{N}_$][\p{L}\p{N}_$./:-]*/gu;
const segmentSeparators = /([./:]+)/;
const wordPattern = /\p{Lu}?\p{Ll}+|\p{Lu}+(?!\p{Ll})|\p{N}+|\p{L}+/gu;
const camelHump = /\p{Ll}\p{Lu}|\p{L}\p{N}|\p{N}\p{L}/u;

/** Segments of a path or dotted name beyond which no more runs are made: 8 segments give 36 runs. */
const maxSegments = 8;
/** Longer tokens (hashes, base64) are not looked into. */
const maxTokenChars = 200;
/** Terms a single post or entry contributes at most, so a 16 KB dump costs the index a bounded amount. */
export const maxSearchTerms = 1000;

/** A commit hash or UUID: looked for whole or by its start, never by the runs of digits and letters inside it. */
const hexIdentifier = /^(?=[\p{L}\p{N}-]*\d)(?=[\p{L}\p{N}-]*[a-f])[0-9a-f-]{7,}$/iu;

/** Whether a token is code rather than a word: it has a separator, a camelCase hump, or letters and digits. */
export function isCodeToken(token: string): boolean {
  return /[_$./:-]/.test(token) || camelHump.test(token);
}

/**
 * The words inside an identifier: `parseConfigFile` → parse, config, file; `ERR_NOT_FOUND` → err, not,
 * found. A single letter or digit (`getX`, `v2`) finds nothing anyone searches for, and every row
 * would carry it: it is left out.
 */
export function wordsOf(token: string): string[] {
  return (token.match(wordPattern) ?? []).filter((word) => word.length > 1).map((word) => word.toLowerCase());
}

/** Every run of consecutive segments of a path or dotted name, separators kept: `a/b.ts` → a/b.ts, a/b, b.ts, a, b, ts. */
function segmentRunsOf(token: string): string[] {
  const pieces = token.split(segmentSeparators);
  const segments = pieces.filter((_, index) => index % 2 === 0).slice(0, maxSegments);
  const runs: string[] = [];
  for (let first = 0; first < segments.length; first++) {
    let run = segments[first]!;
    if (run) runs.push(run);
    for (let last = first + 1; last < segments.length; last++) {
      run += pieces[last * 2 - 1]! + segments[last]!;
      runs.push(run);
    }
  }
  return runs;
}

/** Trailing sentence punctuation is not part of a path (`see session.ts.` ends at `ts`), nor a leading slash or dot. */
function trimToken(token: string): string {
  return token.replace(/[./:-]+$/, "").replace(/^[./]+/, "");
}

export type SearchTerms = { wholes: Set<string>; words: Set<string> };

function addToken(terms: SearchTerms, raw: string): void {
  // `/readyz` and `.env` are code although what is left after the trim is a plain word.
  const token = trimToken(raw);
  if (!token || token.length > maxTokenChars || !isCodeToken(raw.replace(/[./:-]+$/, ""))) return;
  const lower = token.toLowerCase();
  terms.wholes.add(lower);
  for (const run of segmentRunsOf(lower)) terms.wholes.add(run);
  if (hexIdentifier.test(token)) return;
  for (const word of wordsOf(token)) terms.words.add(word);
}

/** The code terms of some text, with its tags and author: wholes (weight A) and words (weight B). */
export function searchTermsOf(source: { texts: (string | null | undefined)[]; tags?: string[]; authorName: string }): SearchTerms {
  const terms: SearchTerms = { wholes: new Set(), words: new Set() };
  for (const tag of source.tags ?? []) {
    terms.wholes.add(`#${tag}`);
    terms.words.add(tag);
    for (const word of wordsOf(tag)) terms.words.add(word);
  }
  // A pick-name session's posts are signed `ci-bots/lint-fixer`: found by `lint-fixer` and `ci-bots` too.
  for (const run of segmentRunsOf(source.authorName.toLowerCase())) terms.wholes.add(run);
  for (const word of wordsOf(source.authorName)) terms.words.add(word);
  for (const text of source.texts) {
    for (const match of (text ?? "").matchAll(codeTokenPattern)) {
      if (terms.wholes.size + terms.words.size >= maxSearchTerms) return terms;
      addToken(terms, match[0]);
    }
  }
  return terms;
}

/** A lexeme quoted for tsvector and tsquery input: no parsing, no stemming; ' doubled, \ escaped. */
export function quotedLexeme(lexeme: string): string {
  return `'${lexeme.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/** The terms as tsvector input: wholes weigh A, words B (a word that is also a whole keeps A). */
export function searchTermsVector(terms: SearchTerms): string {
  const entries = [...terms.wholes].map((lexeme) => `${quotedLexeme(lexeme)}:1A`);
  for (const word of terms.words) if (!terms.wholes.has(word)) entries.push(`${quotedLexeme(word)}:1B`);
  return entries.join(" ");
}
