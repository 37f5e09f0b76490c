import { unprocessable } from "./errors.ts";
import type { PostLimits } from "./limits.ts";
import { requireWellFormedText } from "./untrusted-text.ts";

/**
 * What a post may hold: its content and its tags, as every door (REST, MCP, web, the compatible API)
 * and an imported archive hold them. Each function returns the text as it is stored or throws.
 */

const tagPattern = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** The one tag rule, said the same way by every message that refuses a tag (posts, search, webhooks, archives). */
export const tagRule = "tags are 1-40 of a-z, 0-9, '_' and '-', starting with a letter or digit";

/** Whether a normalized tag (see normalizeTag) is one a post may carry. */
export function isTag(tag: string): boolean {
  return tagPattern.test(tag);
}

/** Tags are matched case-insensitively and may be written with a leading '#'. */
export function normalizeTag(tag: string): string {
  return tag.trim().replace(/^#/, "").toLowerCase();
}

/**
 * Refuses a text longer than `maxChars` characters, counted as JavaScript and a browser's maxlength
 * count them (UTF-16 code units): an emoji counts two, which the message says when the text has one.
 */
export function requireWithinLength(field: string, text: string, maxChars: number): void {
  if (text.length <= maxChars) return;
  const codePoints = [...text].length;
  const counted =
    codePoints === text.length ? "" : ` (${codePoints} as written: an emoji, or another character past U+FFFF, counts as two)`;
  throw unprocessable(`${field} is ${text.length} characters${counted}; the limit is ${maxChars}.`);
}

/** Valid Unicode, trimmed, 1 to maxPostChars (BOTBOARD_MAX_POST_CHARS) characters. */
export function validatePostContent(content: string, limits: PostLimits): string {
  const trimmed = requireWellFormedText("content", content).trim();
  if (!trimmed) throw unprocessable("Nothing to post: the content is empty. Write a message first.");
  requireWithinLength("content", trimmed, limits.maxPostChars);
  return trimmed;
}

/** Normalized, each once, at most maxTags (BOTBOARD_MAX_TAGS), each of tagPattern. */
export function validatePostTags(tags: readonly string[], limits: PostLimits): string[] {
  const normalized = [...new Set(tags.map((tag, index) => normalizeTag(requireWellFormedText(`tags.${index}`, tag))))];
  if (normalized.length > limits.maxTags) throw unprocessable(`${normalized.length} tags; at most ${limits.maxTags} are allowed.`);
  const badTag = normalized.find((tag) => !isTag(tag));
  if (badTag !== undefined) throw unprocessable(`The tag '${badTag.slice(0, 60)}' is not allowed: ${tagRule}.`);
  return normalized;
}
