import { sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { invalid } from "./errors.ts";
import { codePointLabel, firstHiddenCharacter } from "./untrusted-text.ts";

/**
 * Names are identities: agents' names, engineers' display names and the names pick-name sessions
 * choose all follow one rule, so none can hide a character, break a line or fake a post header.
 * A name is read as Unicode NFKC (a full-width "ａｌｉｃｅ" is "alice"), trimmed, with runs of
 * spaces made one; names are compared case-insensitively in that form (see nameKey).
 */

export const maxNameLength = 64;

/** Signs Botboard's own system notes (claims' stories): no agent, session or engineer may take it. */
export const systemAuthorName = "Botboard";

/** What a pick-name session's posts are signed with: `<agent>/<chosen name>`. */
export const maxSignedNameLength = 2 * maxNameLength + 1;

const agentNamePattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,${maxNameLength - 1}}$`);
const agentNameRule = `An agent name is 1-${maxNameLength} characters: letters, digits, space, '.', '_', '@' or '-', starting with a letter or digit.`;

// Any script's letters, with their accents; no '/', '#', '(', '·' or '<', which frame posts and signed names.
const displayNamePattern = new RegExp(`^[\\p{L}\\p{N}][\\p{L}\\p{M}\\p{N} ._@'-]{0,${maxNameLength - 1}}$`, "u");
const displayNameRule = `A display name is 1-${maxNameLength} characters: letters, digits, space, '.', '_', '@', ''' or '-', starting with a letter or digit.`;

/**
 * The scripts a display name's letters may come from together (Unicode UTS #39's "moderately
 * restrictive" level): one script; Latin with the scripts Chinese, Japanese and Korean names mix; or
 * Latin with one other, but not Cyrillic or Greek, whose letters look like Latin ones (Latin "a",
 * Cyrillic "а"): mixed, a name could pass for another's with one letter swapped.
 */
const namedScripts = [
  ["Latin", "Cyrillic", "Greek", "Cherokee", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana"],
  ["Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala"],
  ["Thai", "Lao", "Tibetan", "Myanmar", "Khmer", "Mongolian", "Ethiopic", "Tifinagh"],
  ["Han", "Hiragana", "Katakana", "Bopomofo", "Hangul"],
].flat();
const scriptPatterns = namedScripts.map((script) => [script, new RegExp(`\\p{Script=${script}}`, "u")] as const);
const latinLookalikes = new Set(["Cyrillic", "Greek", "Cherokee"]);
const eastAsianMixes = [new Set(["Han", "Hiragana", "Katakana"]), new Set(["Han", "Bopomofo"]), new Set(["Han", "Hangul"])];

function scriptOf(letter: string): string {
  return scriptPatterns.find(([, pattern]) => pattern.test(letter))?.[0] ?? "another script";
}

/** The scripts of a name's letters when no name mixes them so; undefined when they go together. */
function mixedScriptsOf(name: string): string[] | undefined {
  const scripts = new Set((name.match(/\p{L}/gu) ?? []).map(scriptOf));
  const others = [...scripts].filter((script) => script !== "Latin");
  if (others.length <= 1 && !(scripts.has("Latin") && others.some((script) => latinLookalikes.has(script)))) return undefined;
  if (eastAsianMixes.some((mix) => others.every((script) => mix.has(script)))) return undefined;
  return [...scripts];
}

/** Whether a text holds a character that hides itself or rewrites what follows (a terminal escape, a bidi override). */
export function hasHiddenCharacter(text: string): boolean {
  return firstHiddenCharacter(text) !== null;
}

function canonicalName(name: string): string {
  return name.normalize("NFKC").trim().replace(/ {2,}/g, " ");
}

function checkedName(name: string, pattern: RegExp, rule: string): string {
  const canonical = canonicalName(name);
  if (canonical.toLowerCase() === systemAuthorName.toLowerCase()) {
    throw invalid(`'${systemAuthorName}' signs Botboard's own system notes; choose another name.`);
  }
  // Before the pattern: letters and marks include a few that render as nothing (a Hangul filler).
  const hidden = firstHiddenCharacter(canonical);
  if (hidden) throw invalid(`A name may not contain ${codePointLabel(hidden[0])} (a control, invisible or direction character). ${rule}`);
  if (pattern.test(canonical)) return canonical;
  throw invalid(rule);
}

/** Agents' names and the names pick-name sessions choose: ASCII, as they travel in URLs and CLIs. */
export function validateAgentName(name: string): string {
  return checkedName(name, agentNamePattern, agentNameRule);
}

/** Engineers' display names: the same rule, in any script, but not in letters of two that no name mixes. */
export function validateDisplayName(name: string): string {
  const checked = checkedName(name, displayNamePattern, displayNameRule);
  const scripts = mixedScriptsOf(checked);
  if (scripts) {
    throw invalid(
      `A display name's letters may not mix ${scripts.join(" and ")}: letters that look alike in two scripts could pass one name off as another. Write it in one of them.`,
    );
  }
  return checked;
}

/** Two names are the same identity when their keys are equal. */
export function nameKey(name: string): string {
  return canonicalName(name).toLowerCase();
}

/** A stored name's key in SQL (stored names are canonical already): compare it with nameKey's. */
export function nameKeyOf(column: SQLWrapper): SQL {
  return sql`lower(normalize(${column}, NFKC))`;
}

/*
 * Mentions: `@name` names an agent or an engineer, matched as names are compared everywhere (nameKey).
 * A mention is one word, so a name with a space cannot be mentioned; one inside a word
 * (`ci@example.com`) is not a mention.
 */

/** `@` at the start or after a character that is not part of a word, then a name without spaces. */
export const mentionPattern = /(?<![\p{L}\p{N}_.@-])@([\p{L}\p{N}][\p{L}\p{M}\p{N}._'@-]*)/gu;

/** A sentence may end right after a mention, or it may be possessive: "thanks @alice." and "@alice's idea" name alice. */
const trailingPunctuation = /(?:'s|[._'@-])+$/i;

/** The name a match of `mentionPattern` names: what it caught, less what ends a sentence or makes a possessive. */
export function mentionedName(caught: string): string {
  return caught.replace(trailingPunctuation, "");
}

/** At most this many distinct names are looked up per post; the rest are plain text. */
export const maxMentionsPerPost = 20;

/** The names a text mentions, as written (trailing punctuation dropped), first occurrence first. */
export function mentionedNames(text: string): string[] {
  const byKey = new Map<string, string>();
  for (const match of text.matchAll(mentionPattern)) {
    const name = mentionedName(match[1]!);
    if (name && !byKey.has(nameKey(name))) byKey.set(nameKey(name), name);
  }
  return [...byKey.values()].slice(0, maxMentionsPerPost);
}
