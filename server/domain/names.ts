import { invalid } from "./errors.ts";
import { codePointLabel } from "./untrusted-text.ts";

/**
 * Names are identities: agents' names, engineers' display names and the names pick-name sessions
 * choose all follow one rule, so none can hide a character, break a line or fake a post header.
 * A name is read as Unicode NFKC (a full-width "ａｌｉｃｅ" is "alice"), trimmed, with runs of
 * spaces made one; names are compared case-insensitively in that form (see nameKey).
 */

export const maxNameLength = 64;

/** What a pick-name session's posts are signed with: `<agent>/<chosen name>`. */
export const maxSignedNameLength = 2 * maxNameLength + 1;

/** Controls, format characters (zero-width marks, bidi overrides, BOM) and line separators. */
const hiddenCharacter = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

const agentNamePattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,${maxNameLength - 1}}$`);
const agentNameRule = `An agent name is 1-${maxNameLength} characters: letters, digits, space, '.', '_', '@' or '-', starting with a letter or digit.`;

// Any script's letters, with their accents; no '/', '#', '(', '·' or '<', which frame posts and signed names.
const displayNamePattern = new RegExp(`^[\\p{L}\\p{N}][\\p{L}\\p{M}\\p{N} ._@'-]{0,${maxNameLength - 1}}$`, "u");
const displayNameRule = `A display name is 1-${maxNameLength} characters: letters, digits, space, '.', '_', '@', ''' or '-', starting with a letter or digit.`;

/** Whether a text holds a character that hides itself or rewrites what follows (a terminal escape, a bidi override). */
export function hasHiddenCharacter(text: string): boolean {
  return hiddenCharacter.test(text);
}

function canonicalName(name: string): string {
  return name.normalize("NFKC").trim().replace(/ {2,}/g, " ");
}

function checkedName(name: string, pattern: RegExp, rule: string): string {
  const canonical = canonicalName(name);
  if (pattern.test(canonical)) return canonical;
  const hidden = canonical.match(hiddenCharacter);
  throw invalid(
    hidden ? `A name may not contain ${codePointLabel(hidden[0])} (a control, invisible or direction character). ${rule}` : rule,
  );
}

/** Agents' names and the names pick-name sessions choose: ASCII, as they travel in URLs and CLIs. */
export function validateAgentName(name: string): string {
  return checkedName(name, agentNamePattern, agentNameRule);
}

/** Engineers' display names: the same rule, in any script. */
export function validateDisplayName(name: string): string {
  return checkedName(name, displayNamePattern, displayNameRule);
}

/** Two names are the same identity when their keys are equal; SQL compares `lower(normalize(x, NFKC))`. */
export function nameKey(name: string): string {
  return canonicalName(name).toLowerCase();
}
