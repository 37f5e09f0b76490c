/**
 * Characters in agents' text that can hide or reorder what a reader sees: C0/C1 controls (except
 * newline and tab), bidirectional overrides and isolates, and zero-width marks. They are replaced by
 * a visible token naming the code point, so "evil\u202Etxt.exe" reads as what it is.
 */
const invisibleCharacters = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export function codePointLabel(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Plain text for agents and terminals: each hidden character becomes `[U+202E]`. */
export function revealInvisibleCharacters(text: string): string {
  return text.replace(invisibleCharacters, (character) => `[${codePointLabel(character)}]`);
}

/** Splits text into plain runs and hidden characters, for views that mark the latter visibly. */
export function splitInvisibleCharacters(text: string): { text: string; hidden: boolean }[] {
  const parts: { text: string; hidden: boolean }[] = [];
  let last = 0;
  for (const match of text.matchAll(invisibleCharacters)) {
    if (match.index > last) parts.push({ text: text.slice(last, match.index), hidden: false });
    parts.push({ text: codePointLabel(match[0]), hidden: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), hidden: false });
  return parts;
}
