/**
 * Matching a claimed glob against a literal path in time proportional to their lengths. picomatch's
 * regular expressions backtrack: `*a*a*a*a*b` against a 300-character path ran for hours, one
 * claim could stop the whole server. This matcher reads the same globs (`*`, `**`, `?`, `[abc]`,
 * `{a,b}`) as picomatch with `dot: true` reads them (test/claim-globs.test.ts compares the two on
 * random globs and paths), one path segment at a time, with the classic wildcard algorithm inside a
 * segment and a table over segments for `**`.
 */

export const claimGlobLimits = { maxAlternatives: 32 } as const;

const star = { kind: "star" } as const;
const anyCharacter = { kind: "any" } as const;
type GlobPiece = typeof star | typeof anyCharacter | { kind: "literal"; text: string } | { kind: "class"; matches: RegExp };
/** A segment of a glob: `**` (any number of path segments), or the ways one path segment may be spelled. */
type Segment = "globstar" | GlobPiece[][];

const classPattern = /\[([^\]/]+)\]/g;

/** Why Botboard does not match this glob, in a phrase; undefined when it does. */
export function unsupportedGlobSyntax(pattern: string): string | undefined {
  if (/[@*?+!]\(/.test(pattern) || pattern.includes("|")) return "extglobs and | (use {a,b} for alternatives)";
  let depth = 0;
  for (const character of pattern) {
    if (character === "{" && ++depth > 1) return "braces inside braces";
    if (character === "}" && --depth < 0) return "a } without its {";
  }
  if (depth !== 0) return "a { without its }";
  if (/\{[^}]*\.\.[^}]*\}/.test(pattern)) return "ranges in braces such as {1..3}";
  if (/\{[^}]*\*\*[^}]*\}/.test(pattern) || /[^/]\*\*|\*\*[^/]/.test(pattern))
    return "** beside other text: ** is a whole segment, as in src/**/x";
  if (/\[(?![^\]/]+\])/.test(pattern) || pattern.includes("[:")) return "a [ without its ] in the same segment, or a [:class:]";
  try {
    if (alternativesOf(pattern).length * 2 ** (pattern.match(classPattern)?.length ?? 0) > claimGlobLimits.maxAlternatives) {
      return `braces and [classes] that spell more than ${claimGlobLimits.maxAlternatives} alternatives`;
    }
    compileClaimGlob(pattern);
  } catch {
    return "a [class] that is not one, such as [z-a]";
  }
  return undefined;
}

/** `src/{a,b}/*.{ts,js}` as the four globs it stands for; a brace pair without a comma is literal text, as picomatch reads it. */
function alternativesOf(pattern: string): string[] {
  const open = pattern.search(/\{[^{}]*,[^{}]*\}/);
  if (open === -1) return [pattern];
  const close = pattern.indexOf("}", open);
  const rest = alternativesOf(pattern.slice(close + 1));
  const expanded: string[] = [];
  for (const choice of pattern.slice(open + 1, close).split(",")) {
    for (const tail of rest) {
      expanded.push(pattern.slice(0, open) + choice + tail);
      if (expanded.length > claimGlobLimits.maxAlternatives) return expanded;
    }
  }
  return expanded;
}

/** A segment's characters as pieces; picomatch reads `[ab]` as one of a and b, or as the text `[ab]` itself. */
function spellingsOf(segment: string): GlobPiece[][] {
  let spellings: GlobPiece[][] = [[]];
  let at = 0;
  for (const found of segment.matchAll(classPattern)) {
    const before = literalPieces(segment.slice(at, found.index));
    const matches = new RegExp(`^[${found[1]}]$`);
    spellings = spellings.flatMap((pieces) => [
      [...pieces, ...before, { kind: "class", matches } as const],
      [...pieces, ...before, ...literalPieces(found[0])],
    ]);
    at = found.index + found[0].length;
  }
  const after = literalPieces(segment.slice(at));
  return spellings.map((pieces) => [...pieces, ...after]);
}

function literalPieces(text: string): GlobPiece[] {
  const pieces: GlobPiece[] = [];
  for (const character of text) {
    if (character === "*") {
      if (pieces.at(-1) !== star) pieces.push(star);
    } else if (character === "?") pieces.push(anyCharacter);
    else for (const unit of character) pieces.push({ kind: "literal", text: unit });
  }
  return pieces;
}

function pieceMatches(piece: GlobPiece, character: string): boolean {
  if (piece.kind === "any") return character !== "/";
  if (piece.kind === "class") return character !== "/" && piece.matches.test(character);
  return piece.kind === "literal" && piece.text === character;
}

/** One path segment against one spelling of a glob segment: the wildcard algorithm, which never goes back past the last `*`. */
function segmentMatches(pieces: GlobPiece[], text: string): boolean {
  let at = 0;
  let index = 0;
  let starAt = -1;
  let starIndex = 0;
  while (index < text.length) {
    const piece = pieces[at];
    if (piece && piece !== star && pieceMatches(piece, text[index]!)) {
      at++;
      index++;
    } else if (piece === star) {
      starAt = at++;
      starIndex = index;
    } else if (starAt !== -1) {
      at = starAt + 1;
      index = ++starIndex;
    } else return false;
  }
  while (pieces[at] === star) at++;
  return at === pieces.length;
}

/** `.` and `..` are never a glob's to match, as picomatch never matches them. */
const isDotSegment = (segment: string) => segment === "." || segment === "..";

/** Path segments against glob segments; `reachable[j]` says the glob so far can end where path segment j begins. */
function segmentsMatch(glob: Segment[], path: string[]): boolean {
  let reachable = path.map((_, index) => index === 0).concat(path.length === 0);
  for (const segment of glob) {
    const next = new Array<boolean>(path.length + 1).fill(false);
    for (let start = 0; start <= path.length; start++) {
      if (!reachable[start]) continue;
      if (segment === "globstar") {
        next[start] = true;
        for (let end = start; end < path.length && !isDotSegment(path[end]!); end++) next[end + 1] = true;
      } else if (start < path.length && !isDotSegment(path[start]!) && segment.some((pieces) => segmentMatches(pieces, path[start]!))) {
        next[start + 1] = true;
      }
    }
    reachable = next;
  }
  return reachable[path.length]!;
}

/**
 * A glob's literal beginning and ending (a `/` beside `**` dropped, since `src/**` matches `src`):
 * every path it matches has them, so most paths are refused without looking further.
 */
function literalEnds(glob: string): { prefix: string; suffix: string } {
  const wildcards = [...glob.matchAll(/\[[^\]/]+\]|[*?]/g)];
  if (wildcards.length === 0) return { prefix: glob, suffix: glob };
  const last = wildcards.at(-1)!;
  return {
    prefix: glob.slice(0, wildcards[0]!.index).replace(/\/$/, ""),
    suffix: glob.slice(last.index + last[0].length).replace(/^\//, ""),
  };
}

/** A matcher for a glob that unsupportedGlobSyntax accepts. */
export function compileClaimGlob(pattern: string): (path: string) => boolean {
  const alternatives = alternativesOf(pattern).map((alternative) => ({
    ...literalEnds(alternative),
    segments: alternative.split("/").map((segment): Segment => (segment === "**" ? "globstar" : spellingsOf(segment))),
  }));
  return (path) => {
    let segments: string[] | undefined;
    for (let index = 0; index < alternatives.length; index++) {
      const alternative = alternatives[index]!;
      if (!path.startsWith(alternative.prefix) || !path.endsWith(alternative.suffix)) continue;
      segments ??= path.split("/");
      if (segmentsMatch(alternative.segments, segments)) return true;
    }
    return false;
  };
}
