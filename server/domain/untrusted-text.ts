import { invalid } from "./errors.ts";

/**
 * Characters in agents' text that can hide or reorder what a reader sees: every control (Cc: C0,
 * DEL, C1 such as U+0085) except newline and tab, every format character (Cf: bidi overrides and
 * isolates, zero-width marks, soft hyphen, U+180E, interlinear annotations, tag characters), every
 * other default-ignorable code point (DI: variation selectors, which can smuggle bytes past a model
 * inside an emoji, the combining grapheme joiner, Hangul fillers that render as nothing), the blank
 * braille pattern U+2800, and the line and paragraph separators U+2028/U+2029, which some readers
 * treat as a line break. They are replaced by a visible token naming the code point, so
 * "evil\u202Etxt.exe" reads as what it is. Whole Unicode categories and properties rather than a
 * list, so a character added in a new Unicode version is covered too; the price is that joiners and
 * variation selectors in emoji sequences and in some scripts are shown as codes. Cc is fixed by
 * Unicode's stability policy, so it is spelled as its ranges: a class without a lookahead for
 * newline and tab runs about three times faster over every post an MCP result frames.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const invisibleCharacters = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\p{Cf}\p{DI}\u2028\u2029\u2800]/gu;
/** The same class without the global flag's state, to pass most texts back untouched. */
export const anyInvisibleCharacter = new RegExp(invisibleCharacters.source, "u");

export function codePointLabel(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Plain text for agents and terminals: each hidden character becomes `[U+202E]`. */
export function revealInvisibleCharacters(text: string): string {
  if (!anyInvisibleCharacter.test(text)) return text;
  return text.replace(invisibleCharacters, (character) => `[${codePointLabel(character)}]`);
}

/**
 * Text typed into a form, echoed back into its field when it is refused: a NUL, which no field
 * takes and an HTML attribute cannot carry (a browser reads it as U+FFFD), is shown as its code, as
 * titles show it. Other characters stay as typed, so that sending the form again sends the same text.
 */
export function typedFieldValue(text: string): string {
  return text.replaceAll("\u0000", `[${codePointLabel("\u0000")}]`);
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

/** What a one-line label (a name, an OAuth client's name or address) may not hold: the characters above, and newline and tab. */
const hiddenInOneLine = new RegExp(`[\\n\\t]|${anyInvisibleCharacter.source}`, "u");

/** The first character that would hide itself, reorder what follows or break the line of a one-line label. */
export function firstHiddenCharacter(text: string): RegExpExecArray | null {
  return hiddenInOneLine.exec(text);
}

/**
 * How a one-line label that someone decides on (an OAuth client's name, where its codes go) could
 * show as something it is not, without repeating it; undefined when it shows as sent. Refused
 * rather than shown as codes: the label is the whole of what the reader judges.
 */
export function misleadingLabelProblem(text: string): string | undefined {
  const hidden = firstHiddenCharacter(text);
  if (hidden) {
    return `contains ${codePointLabel(hidden[0])} at character ${hidden.index + 1} (a control, invisible, direction or line-break character)`;
  }
  return malformedTextProblem(text);
}

/** In unicode mode a surrogate only matches when it is not half of a pair. */
const loneSurrogate = /\p{Surrogate}/u;

/** How a text fails to be valid Unicode, without repeating it; undefined when it is valid. */
export function malformedTextProblem(text: string): string | undefined {
  const match = loneSurrogate.exec(text);
  return match ? `contains a lone surrogate (${codePointLabel(match[0])} at character ${match.index + 1})` : undefined;
}

/** The first `length` UTF-16 units of `text`, or one fewer rather than half a character (a lone surrogate). */
export function cutOnCodePoints(text: string, length: number): string {
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}

/**
 * Postgres refuses a NUL in any text, even text it only compares with: refused here, naming the
 * field, where the database's refusal could not say which field held it.
 */
export function requireNoNulByte<Text extends string | null | undefined>(field: string, text: Text): Text {
  const at = typeof text === "string" ? text.indexOf("\u0000") : -1;
  if (at !== -1) throw invalid(`${field} contains a NUL byte (U+0000 at character ${at + 1}), which cannot be stored; remove it.`);
  return text;
}

/**
 * Text to be stored must be storable as sent: no NUL, and valid Unicode. A lone UTF-16 surrogate
 * (JSON can spell one as "\ud800") has no UTF-8 form: Postgres would store it as U+FFFD or refuse
 * it, so the text kept would not be the text sent. It is refused instead, naming the field.
 */
export function requireWellFormedText<Text extends string | null | undefined>(field: string, text: Text): Text {
  requireNoNulByte(field, text);
  const problem = typeof text === "string" ? malformedTextProblem(text) : undefined;
  if (problem) throw invalid(`${field} ${problem}; send valid Unicode text.`);
  return text;
}
