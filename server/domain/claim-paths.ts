import picomatch from "picomatch";
import { compileClaimGlob, unsupportedGlobSyntax } from "./claim-globs.ts";
import { invalid } from "./errors.ts";
import { anyInvisibleCharacter, codePointLabel, requireWellFormedText } from "./untrusted-text.ts";

/**
 * Claimed paths: repository-relative globs, normalised, and whether two of them can name the same
 * file. picomatch says what is a glob; claim-globs.ts matches one in linear time, as picomatch would;
 * overlap of two globs is "yes" unless it is proven impossible (docs/decisions/024-claims.md gives
 * the rule and its limits).
 */

export const claimPathLimits = { maxPaths: 50, maxPathChars: 300, maxCheckedPaths: 10_000 } as const;

type CompiledPattern = { isGlob: boolean; matches: (path: string) => boolean };
const compiled = new Map<string, CompiledPattern>();

/**
 * A pattern worked out once: the same claims are checked again and again. A glob stored before
 * claim-globs.ts (one it does not read) names only itself, as a plain path does.
 */
function compile(pattern: string): CompiledPattern {
  const entry = compiled.get(pattern);
  if (!entry) {
    if (compiled.size > 10_000) compiled.clear();
    const isGlob = picomatch.scan(pattern).isGlob;
    const matcher = isGlob && unsupportedGlobSyntax(pattern) === undefined ? compileClaimGlob(pattern) : undefined;
    const created: CompiledPattern = { isGlob, matches: matcher ?? ((path) => path === pattern) };
    compiled.set(pattern, created);
    return created;
  }
  return entry;
}

export function isGlob(pattern: string): boolean {
  return compile(pattern).isGlob;
}

/** Does the glob (or literal path) name this literal, repository-relative path? */
export function pathMatches(pattern: string, path: string): boolean {
  return compile(pattern).matches(path);
}

// Paths so unlike each other that a pattern matching all of them claims the whole repository.
const everythingProbes = ["a", "z/y.x", ".hidden/deep/er/file.q", "UPPER/Case.TXT"];

/**
 * What a claimed path may hold: letters, marks and digits of any script, and the ASCII punctuation of
 * file names and globs (`/ . - _ * ? [ ] { } , ! @ ( ) + | ^ #`...). No whitespace, quotes,
 * backticks, `<`, `>`, backslash or other symbols: paths are printed in claims' header lines, where a
 * space or a `·` could fake a header field and a sentence could pass for Botboard's words.
 */
const pathCharacters = String.raw`\p{L}\p{M}\p{N}!#$%&()*+,\-./:;=?@[\]^_{|}~`;
// Hidden characters first: a few letters render as nothing (a Hangul filler).
const nonPathCharacter = new RegExp(`${anyInvisibleCharacter.source}|[^${pathCharacters}]`, "u");
const nonPathCharacters = new RegExp(nonPathCharacter.source, "gu");
const pathCharacterRule =
  "a claimed path is one word: letters, digits and the punctuation of file names and globs (/ . - _ * ? [ ] { } , ! @ ( ) + | # and the like), without spaces, quotes, backticks or other symbols";

function requirePathCharacters(path: string, field: string): void {
  const found = nonPathCharacter.exec(path);
  if (!found) return;
  const character = found[0];
  const what = /\s/u.test(character)
    ? `whitespace (${codePointLabel(character)})`
    : anyInvisibleCharacter.test(character) || /\p{C}/u.test(character)
      ? codePointLabel(character)
      : `'${character}' (${codePointLabel(character)})`;
  throw invalid(`${field} holds ${what} at character ${[...path.slice(0, found.index)].length + 1}: ${pathCharacterRule}.`);
}

const unicodeEscapes = (character: string) =>
  character
    .split("")
    .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .join("");

/**
 * A claimed path as header lines and messages print it: as it is when it keeps to the path rule, or
 * else (a claim stored before the rule) as a JSON string in which every other character is a `\u`
 * escape, so it shows no space, `·` or quote: it can neither fake a header field nor carry a sentence.
 */
export function shownClaimPath(path: string): string {
  return nonPathCharacter.test(path) ? `"${path.replace(nonPathCharacters, unicodeEscapes)}"` : path;
}

/** Paths as a header line lists them. */
export const shownClaimPaths = (paths: readonly string[]) => paths.map(shownClaimPath).join(", ");

/**
 * Paths as an agent asks for them now, or as a server stored them: a team archive's claims may
 * predate the character rule, and refusing them would refuse the team's history (they are shown
 * escaped, so they are safe to keep).
 */
export type PathSource = "asked" | "stored";

/**
 * A path as the user wrote it, made canonical: forward slashes only, no `./` or empty segments, a
 * trailing `/` meaning "everything under it". `field` names the argument in every refusal.
 */
export function normalizeClaimPath(raw: string, field: string, source: PathSource = "asked"): string {
  const path = requireWellFormedText(field, raw).trim();
  if (path === "") throw invalid(`${field} is empty.`);
  if (path.length > claimPathLimits.maxPathChars) throw invalid(`${field} is over ${claimPathLimits.maxPathChars} characters.`);
  if (path.includes("\\")) throw invalid(`${field} holds a backslash: write paths with forward slashes, relative to the repository root.`);
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || path.startsWith("~")) {
    throw invalid(`${field} must be relative to the repository root, not absolute: '${path.slice(0, 80)}'.`);
  }
  if (path.startsWith("!")) throw invalid(`${field} may not be a negated pattern ('!...'): claim what you will edit.`);
  if (source === "asked") requirePathCharacters(path, field);
  const segments = path.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) throw invalid(`${field} may not contain '..': paths stay inside the repository.`);
  if (segments.length === 0) throw invalid(`${field} names the repository root: claim the paths you will edit.`);
  const normalized = segments.join("/") + (path.endsWith("/") ? "/**" : "");
  const unsupported = isGlob(normalized) ? unsupportedGlobSyntax(normalized) : undefined;
  if (unsupported) throw invalid(`${field} '${normalized.slice(0, 80)}' uses ${unsupported}: claims take *, **, ?, [abc] and {a,b}.`);
  if (isGlob(normalized) && everythingProbes.every((probe) => pathMatches(normalized, probe))) {
    throw invalid(`${field} '${normalized}' matches every file in the repository: claim the folders or files you will edit.`);
  }
  return normalized;
}

/** A non-empty list of paths, normalised, duplicates dropped; `field` names the argument. */
export function normalizeClaimPaths(raw: readonly string[], field = "paths", source: PathSource = "asked"): string[] {
  if (raw.length === 0) throw invalid(`${field} is empty: name at least one path or glob.`);
  if (raw.length > claimPathLimits.maxPaths)
    throw invalid(`${field} holds ${raw.length} entries; at most ${claimPathLimits.maxPaths} are allowed.`);
  return [...new Set(raw.map((path, index) => normalizeClaimPath(path, `${field}[${index}]`, source)))];
}

// Characters with a meaning in picomatch patterns; text between them is literal.
const specialCharacters = /[*?[\]{}()!+@|]/;

function literalPrefix(pattern: string): string {
  const at = pattern.search(specialCharacters);
  return at === -1 ? pattern : pattern.slice(0, at);
}

function literalSuffix(pattern: string): string {
  const reversed = [...pattern].reverse().join("");
  return [...literalPrefix(reversed)].reverse().join("");
}

/** Without `**`, braces, classes or extglobs, every segment of a pattern matches exactly one path segment. */
function fixedSegmentCount(pattern: string): number | undefined {
  return /\*\*|[{}[\]()]/.test(pattern) ? undefined : pattern.split("/").length;
}

/**
 * Can some file be named by both patterns? Exact when either is a literal path (picomatch tests it
 * against the other). For two globs: "no" only when a proof says so (their literal beginnings or
 * endings disagree, or both have a fixed, different number of segments), "yes" otherwise. So two
 * claims that might collide are treated as colliding; two that cannot never are.
 */
export function pathsOverlap(a: string, b: string): boolean {
  const aIsGlob = isGlob(a);
  const bIsGlob = isGlob(b);
  if (!aIsGlob) return pathMatches(b, a);
  if (!bIsGlob) return pathMatches(a, b);
  const [prefixA, prefixB] = [literalPrefix(a), literalPrefix(b)];
  if (!prefixA.startsWith(prefixB) && !prefixB.startsWith(prefixA)) return false;
  const [suffixA, suffixB] = [literalSuffix(a), literalSuffix(b)];
  if (!suffixA.endsWith(suffixB) && !suffixB.endsWith(suffixA)) return false;
  const [segmentsA, segmentsB] = [fixedSegmentCount(a), fixedSegmentCount(b)];
  if (segmentsA !== undefined && segmentsB !== undefined && segmentsA !== segmentsB) return false;
  return true;
}

export function anyPathsOverlap(first: readonly string[], second: readonly string[]): boolean {
  return first.some((a) => second.some((b) => pathsOverlap(a, b)));
}
