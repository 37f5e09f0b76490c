import { codePointLabel } from "./untrusted-text.ts";

/**
 * Search excerpts mark their matches with two control characters, which excerptsOf first takes out
 * of the text itself; each door turns them into its own marks.
 */

export const matchStart = "\u0002";
export const matchEnd = "\u0003";

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** A snippet as safe HTML: the content escaped, matches in <mark>. */
export function snippetAsHtml(snippet: string): string {
  return snippet
    .replace(/[&<>"']/g, (character) => escapes[character]!)
    .replaceAll(matchStart, "<mark>")
    .replaceAll(matchEnd, "</mark>");
}

/**
 * The text's own « and » spelled `[U+00AB]` and `[U+00BB]`, as hidden characters are spelled out, so
 * that in plain text every « and » is a match mark.
 */
function revealTextMarks(text: string): string {
  return text.replace(/[«»]/g, (character) => `[${codePointLabel(character)}]`);
}

/** A snippet as plain text with matches between « and » (for MCP and terminals). */
export function snippetAsText(snippet: string): string {
  return revealTextMarks(snippet).replaceAll(matchStart, "«").replaceAll(matchEnd, "»");
}

/** Where a search's words are in a text: UTF-16 offsets, end exclusive. */
export type MatchRange = { start: number; end: number };
/** A word to highlight (see search-query.ts): plain words match their stem, code and phrases as written (findMatches). */
export type HighlightWord = { text: string; phrase: boolean; prefix: boolean };

/**
 * How far into a text matches are looked for. Highlighting costs the same for a 16 KB post as for
 * a short one; a match further in still finds the post, and its excerpt shows the beginning.
 */
export const matchScanChars = 4000;
const maxMatches = 50;
const excerptRadius = 90;
const maxExcerpts = 3;
/** What a word is made of: letters, digits and the marks that accent them. */
const wordCharacter = /[\p{L}\p{N}\p{M}]/u;
/** What a code token is made of besides its separators (search-terms.ts): `getUser` is not whole inside `getUserName`. */
const codeCharacter = /[\p{L}\p{N}\p{M}_$]/u;
const codeLike = /[_$./:-]|\p{Ll}\p{Lu}/u;

/**
 * A plain word's stem, roughly as the `english` stemmer cuts it: `failing` and `fails` both start with
 * `fail`. Good enough to place a highlight; which posts match is the database's call.
 */
function stemOf(word: string): string {
  if (word.length > 3 && word.endsWith("e")) return stemOf(word.slice(0, -1));
  return word.length <= 4 ? word : word.slice(0, Math.max(4, word.length - 3));
}

/** A match may start where a word or a camelCase part starts: `config` in `parseConfigFile`. */
function startsPart(text: string, index: number): boolean {
  if (index === 0) return true;
  const before = text[index - 1]!;
  if (!wordCharacter.test(before)) return true;
  return /\p{Ll}/u.test(before) && /\p{Lu}/u.test(text[index]!);
}

/**
 * The end of the word part that `index` is in: stops at white space, punctuation or a camelCase hump.
 * A mark (an accent written as its own character) belongs to the letter before it.
 */
function partEnd(text: string, index: number): number {
  let end = index + 1;
  if (!wordCharacter.test(text[index]!)) return end;
  while (end < text.length && wordCharacter.test(text[end]!) && !(/\p{Ll}/u.test(text[end - 1]!) && /\p{Lu}/u.test(text[end]!))) end++;
  return end;
}

/** Whether a code word found at `start` to `end` is a whole token, as the database finds it: not `session.ts` in `session.tsx`. */
function isWholeToken(text: string, start: number, end: number): boolean {
  return (start === 0 || !codeCharacter.test(text[start - 1]!)) && (end === text.length || !codeCharacter.test(text[end]!));
}

/** `text` as a pattern that finds it anywhere, in any case (or, sticky, only where lastIndex is). */
function anyCase(text: string, flags = "giu"): RegExp {
  return new RegExp(text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&"), flags);
}

/**
 * Where a phrase ends when its following words come one after another from `from`, each after white
 * space and run on to the end of its word part; undefined when they do not follow.
 */
function followingWordsEnd(text: string, from: number, followingWords: RegExp[]): number | undefined {
  const space = /\s+/y;
  let end = from;
  for (const pattern of followingWords) {
    space.lastIndex = end;
    if (!space.test(text)) return undefined;
    pattern.lastIndex = space.lastIndex;
    const match = pattern.exec(text);
    if (!match) return undefined;
    end = partEnd(text, match.index + match[0].length - 1);
  }
  return end;
}

/**
 * Where the words are in the first `matchScanChars` of `text`, in order, not overlapping. A match
 * covers whole words: a plain word's stem, each word of a phrase, or a prefix runs on to the end of the
 * word part it ends in (`sessions`, never `sess`), and a code word is marked only where it stands whole.
 */
export function findMatches(text: string, words: HighlightWord[]): MatchRange[] {
  const scanned = text.slice(0, matchScanChars);
  const found: MatchRange[] = [];
  for (const word of words) {
    const code = !word.phrase && !word.prefix && codeLike.test(word.text);
    // A phrase is found word by word, each as written and run on to its word's end like a single word.
    const [needle, ...following] = word.phrase
      ? word.text.split(/\s+/).filter(Boolean)
      : [word.prefix || code ? word.text : stemOf(word.text.toLowerCase())];
    if (!needle) continue;
    // Found in the text itself, not in a lower-cased copy: lower-casing `İ` makes two characters and would shift every offset after it.
    const pattern = anyCase(needle);
    const followingWords = following.map((followingWord) => anyCase(followingWord, "iuy"));
    for (let match = pattern.exec(scanned); match && found.length < maxMatches * 4; match = pattern.exec(scanned)) {
      pattern.lastIndex = match.index + 1;
      const start = match.index;
      const end = start + match[0].length;
      if (code) {
        if (isWholeToken(scanned, start, end)) found.push({ start, end });
      } else if (startsPart(scanned, start)) {
        const phraseEnd = followingWordsEnd(scanned, partEnd(scanned, end - 1), followingWords);
        if (phraseEnd !== undefined) found.push({ start, end: phraseEnd });
      }
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: MatchRange[] = [];
  for (const range of found) {
    const last = merged.at(-1);
    if (last && range.start < last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
    if (merged.length === maxMatches) break;
  }
  return merged;
}

/** The text with any marker characters made spaces, so an author cannot fake a highlight; offsets stay. */
function withoutMarkers(text: string): string {
  return text.replaceAll(matchStart, " ").replaceAll(matchEnd, " ");
}

/** How matches are marked: what goes around each, and how the text between and inside is shown. */
type Marks = { open: string; close: string; shown: (text: string) => string };
const markers: Marks = { open: matchStart, close: matchEnd, shown: (text) => text };
const textMarks: Marks = { open: "«", close: "»", shown: revealTextMarks };

/** The text from `from` to `to` with the given matches marked. */
function markMatches(text: string, matches: MatchRange[], from: number, to: number, marks: Marks): string {
  let marked = "";
  let at = from;
  for (const { start, end } of matches) {
    if (end <= from || start >= to) continue;
    const markedStart = Math.max(at, start);
    marked += marks.shown(text.slice(at, markedStart)) + marks.open + marks.shown(text.slice(markedStart, Math.min(end, to))) + marks.close;
    at = Math.min(end, to);
  }
  // Matches that touch read as one: `parseConfig` in `parseConfigFile`, not `parse` and `Config` apart.
  return (marked + marks.shown(text.slice(at, to))).replaceAll(marks.close + marks.open, "");
}

/** A whole text as plain text with its matches between « and », as snippetAsText shows a snippet. */
export function textWithMatches(text: string, matches: MatchRange[]): string {
  return markMatches(text, matches, 0, text.length, textMarks);
}

/**
 * A few excerpts around the first matches, joined by " … ", matches marked. With no match in the
 * scanned text (the words were in a tag, the author's name or further in) it is the text's beginning.
 */
export function excerptsOf(text: string, matches: MatchRange[]): string {
  const clean = withoutMarkers(text);
  if (matches.length === 0) return clean.length > excerptRadius * 2 ? `${clean.slice(0, excerptRadius * 2)} …` : clean;
  const windows: MatchRange[] = [];
  for (const match of matches) {
    const start = Math.max(0, match.start - excerptRadius);
    const end = Math.min(clean.length, match.end + excerptRadius);
    const last = windows.at(-1);
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else if (windows.length < maxExcerpts) windows.push({ start, end });
    else break;
  }
  const parts = windows.map((window) => markMatches(clean, matches, window.start, window.end, markers).trim());
  const lead = windows[0]!.start > 0 ? "… " : "";
  const tail = windows.at(-1)!.end < clean.length ? " …" : "";
  return lead + parts.join(" … ") + tail;
}
